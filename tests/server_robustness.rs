//! Bad input never crashes the server or disturbs other connections: malformed, binary and
//! oversized frames, requests out of order, sockets that never auth, and the connection cap.

mod common;

use std::time::Duration;

use common::*;
use futures_util::{SinkExt, StreamExt};
use roomstorm::codes;
use roomstorm::server::AppSettings;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

async fn joined_pair(server: &TestServer, room: &str) -> (Client, Client) {
    let (mut a, _) = join(server, room, "alice").await;
    let (b, _) = join(server, room, "bobby").await;
    a.expect("on-player-in").await;
    (a, b)
}

#[tokio::test]
async fn malformed_frames_close_only_their_own_socket() {
    let server = TestServer::with_app(AppSettings::new(APP)).await;
    let (mut peer, _) = join(&server, "room-bad", "peer1").await;
    let cases: [(&str, Message, CloseCode); 6] = [
        ("no separator", Message::text("ping"), CloseCode::Invalid),
        ("empty command", Message::text("={}"), CloseCode::Invalid),
        ("bad json", Message::text("pong={"), CloseCode::Invalid),
        (
            "not an object",
            Message::text("pong=[1]"),
            CloseCode::Invalid,
        ),
        (
            "binary",
            Message::binary(vec![0u8, 1, 2]),
            CloseCode::Unsupported,
        ),
        (
            "oversized",
            Message::text(format!("pong={{\"x\":\"{}\"}}", "a".repeat(70 * 1024))),
            CloseCode::Size,
        ),
    ];
    for (i, (what, msg, code)) in cases.into_iter().enumerate() {
        let user = format!("bad-user-{i}");
        let (mut c, _) = join(&server, "room-bad", &user).await;
        assert_eq!(peer.expect("on-player-in").await["playerid"], user.as_str());
        c.ws.send(msg).await.unwrap();
        assert_eq!(c.expect_close().await, Some(code), "{what}");
        // The member's socket broke: it goes into its reconnect window, like any drop.
        assert_eq!(
            peer.expect("on-player-reconnect").await["playerid"],
            user.as_str(),
            "{what}"
        );
    }
    // The peer is unaffected and the server still answers.
    peer.send(r#"mute-tracks={"tracks":[]}"#).await;
    peer.expect_silence(Duration::from_millis(100)).await;
    assert_eq!(get(server.addr, "/healthz").await.status, 200);
    assert_eq!(
        metric(
            &server,
            "roomstorm_server_rejections_total{reason=\"malformed\"}"
        )
        .await,
        4.0
    );
    assert_eq!(
        metric(
            &server,
            "roomstorm_server_rejections_total{reason=\"binary\"}"
        )
        .await,
        1.0
    );
    assert_eq!(
        metric(
            &server,
            "roomstorm_server_rejections_total{reason=\"oversized\"}"
        )
        .await,
        1.0
    );
    server.stop().await;
}

#[tokio::test]
async fn requests_get_error_answers_instead_of_hanging() {
    let server = TestServer::with_app(AppSettings::new(APP)).await;
    let (mut a, mut b) = joined_pair(&server, "room-req").await;
    // An unknown request is answered (the SDK waits for its rpcid for ever).
    a.send(r#"pub={"rpcid":"aaaaaaaa","tracks":[]}"#).await;
    let res = a.expect("pub-res").await;
    assert_eq!(
        (res["rpcid"].as_str(), res["code"].as_u64()),
        (Some("aaaaaaaa"), Some(u64::from(codes::BAD_REQUEST)))
    );
    // A second auth on a joined socket.
    a.send(&format!(
        r#"auth={{"token":"{}","rpcid":"bbbbbbbb"}}"#,
        a.access_token
    ))
    .await;
    assert_eq!(a.expect("auth-res").await["code"], codes::BAD_REQUEST);
    // Unknown notifications are ignored, as the SDK ignores unknown commands.
    a.send(r#"something-new={}"#).await;
    a.expect_silence(Duration::from_millis(100)).await;
    b.expect_silence(Duration::from_millis(10)).await;
    // Before auth: requests are refused, and a socket that never auths is closed.
    let mut c = Client::connect_with(
        server.addr,
        &room_token("room-req", "carol"),
        "room-req",
        "carol",
    )
    .await;
    c.send(r#"control={"command":"kickplayer","playerid":"alice","rpcid":"cccccccc"}"#)
        .await;
    assert_eq!(c.expect("control-res").await["code"], codes::BAD_REQUEST);
    assert_eq!(
        c.expect_close().await,
        Some(CloseCode::Policy),
        "no auth within 500 ms"
    );
    assert_eq!(
        metric(
            &server,
            "roomstorm_server_rejections_total{reason=\"auth_timeout\"}"
        )
        .await,
        1.0
    );
    server.stop().await;
}

#[tokio::test]
async fn garbage_http_and_half_handshakes_do_not_hurt() {
    let server = TestServer::with_app(AppSettings::new(APP)).await;
    let (mut a, _b) = joined_pair(&server, "room-http").await;
    for junk in [
        &b"\x00\x01\x02\r\n\r\n"[..],
        b"GET / HTTP/9.9\r\n\r\n",
        b"GET /signaling HTTP/1.1\r\nHost: x\r\n\r\n",
    ] {
        let mut s = tokio::net::TcpStream::connect(server.addr).await.unwrap();
        s.write_all(junk).await.unwrap();
        let mut buf = Vec::new();
        let _ = tokio::time::timeout(Duration::from_millis(100), s.read_to_end(&mut buf)).await;
    }
    let plain = get(server.addr, "/signaling").await;
    assert_eq!(plain.status, 426);
    a.send(r#"mute-tracks={"tracks":[]}"#).await;
    a.expect_silence(Duration::from_millis(100)).await;
    assert_eq!(get(server.addr, "/healthz").await.status, 200);
    server.stop().await;
}

#[tokio::test]
async fn connections_beyond_the_cap_get_a_clear_503() {
    let mut cfg = fast_config(AppSettings::new(APP));
    cfg.limits.max_connections = Some(3);
    let server = TestServer::start(cfg).await;
    let (_a, _b) = {
        let (a, _) = join(&server, "room-cap", "alice").await;
        let (b, _) = join(&server, "room-cap", "bobby").await;
        (a, b)
    };
    // Two sockets open; a third connection (half a request sent, so it is accepted) fits, a
    // fourth does not.
    let mut _third = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    _third
        .write_all(b"GET /healthz HTTP/1.1\r\n")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let ans = get(server.addr, "/healthz").await;
    assert_eq!(ans.status, 503);
    assert!(
        ans.body.contains("connection limit reached: 3"),
        "{}",
        ans.body
    );
    assert_eq!(metric_after_freeing(&server, _third).await, 1.0);
    server.stop().await;
}

async fn metric_after_freeing(server: &TestServer, conn: tokio::net::TcpStream) -> f64 {
    drop(conn);
    tokio::time::sleep(Duration::from_millis(100)).await;
    metric(server, "roomstorm_server_connections_refused_total").await
}

#[tokio::test]
async fn a_socket_that_leaves_twice_or_pongs_late_is_harmless() {
    let server = TestServer::with_app(AppSettings::new(APP)).await;
    let (mut a, mut b) = joined_pair(&server, "room-twice").await;
    b.send("disconnect={}").await;
    let _ = b.ws.send(Message::text("disconnect={}")).await;
    let _ = b.ws.send(Message::text("pong={}")).await;
    assert_eq!(a.expect("on-player-out").await["playerid"], "bobby");
    a.expect_silence(Duration::from_millis(150)).await;
    let _ = b.ws.next().await;
    assert_eq!(metric(&server, "roomstorm_server_members").await, 1.0);
    server.stop().await;
}

#[tokio::test]
async fn a_slow_reader_is_disconnected_not_buffered_and_can_come_back() {
    let mut cfg = fast_config(AppSettings::new(APP));
    cfg.limits.max_queued_frames = 8;
    cfg.limits.write_timeout = Duration::from_millis(300);
    let server = TestServer::start(cfg).await;
    // The slow member: a tiny receive window, and it never reads.
    let room = "room-slow";
    let access_token = exchange(server.addr, &room_token(room, "slowpoke"), room, "slowpoke").await;
    let url = access_payload(&access_token)["signalingurl2"]
        .as_str()
        .unwrap()
        .to_owned();
    let sock = tokio::net::TcpSocket::new_v4().unwrap();
    sock.set_recv_buffer_size(4096).unwrap();
    let tcp = sock.connect(server.addr).await.unwrap();
    let (mut slow, _) = tokio_tungstenite::client_async(url.as_str(), tcp)
        .await
        .unwrap();
    let auth = serde_json::json!({"token": access_token, "rpcid": "00000001"});
    slow.send(Message::text(format!("auth={auth}")))
        .await
        .unwrap();
    let res = slow.next().await.unwrap().unwrap();
    let res: serde_json::Value =
        serde_json::from_str(res.to_text().unwrap().strip_prefix("auth-res=").unwrap()).unwrap();
    let reconntoken = res["reconntoken"].as_str().unwrap().to_owned();
    // From here on it reads nothing.
    // A watcher that keeps reading (on its own task) until it sees the slow member drop.
    let (mut watcher, _) = join(&server, room, "watcher").await;
    let (seen_tx, mut seen_rx) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        while let Some((cmd, body)) = watcher.next().await {
            if cmd == "on-player-reconnect" && body["playerid"] == "slowpoke" {
                let _ = seen_tx.send(watcher);
                return;
            }
        }
    });
    // Churn with large playerdata: every join sends the slow member a ~60 KB on-player-in.
    let big = "x".repeat(60 * 1024);
    let mut churns = 0;
    let _watcher = loop {
        if let Ok(w) = seen_rx.try_recv() {
            break w;
        }
        assert!(churns < 400, "the slow reader was never cut off");
        let user = format!("churn-{churns}");
        let mut c = Client::connect_with(server.addr, &room_token(room, &user), room, &user).await;
        assert_eq!(c.auth(None, &big).await["code"], 0);
        c.send("disconnect={}").await;
        churns += 1;
    };
    // Only the slow member was cut off; it went into its reconnect window like any dropped socket.
    assert_eq!(
        metric(
            &server,
            "roomstorm_server_rejections_total{reason=\"slow_reader\"}"
        )
        .await,
        1.0
    );
    assert_eq!(
        metric(&server, "roomstorm_server_members_reconnecting").await,
        1.0
    );
    // And it comes back with its reconnect token, as the SDK would after the 1013 close.
    let mut back = Client::reconnect("slowpoke", &url, &access_token).await;
    assert_eq!(back.auth(Some(&reconntoken), "").await["code"], 0);
    assert_eq!(get(server.addr, "/healthz").await.status, 200);
    drop(slow);
    server.stop().await;
}

#[tokio::test]
async fn idle_http_connections_are_closed_after_the_header_timeout() {
    let server = TestServer::with_app(AppSettings::new(APP)).await;
    let mut s = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    s.write_all(format!("GET /healthz HTTP/1.1\r\nHost: {}\r\n\r\n", server.addr).as_bytes())
        .await
        .unwrap();
    let mut buf = vec![0u8; 4096];
    let n = s.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    // Keep-alive: nothing more is sent; the server closes after its 500 ms header timeout.
    let start = std::time::Instant::now();
    let n = tokio::time::timeout(WAIT, s.read(&mut buf))
        .await
        .expect("closed in time")
        .unwrap_or(0);
    assert_eq!(n, 0, "connection closed without another answer");
    assert!(
        start.elapsed() >= Duration::from_millis(400),
        "closed after {:?}",
        start.elapsed()
    );
    server.stop().await;
}
