//! The reference server's signaling, driven by a raw client: joins, fan-out, leave, every code,
//! duplicate logins, re-auth inside and outside the window, ping/pong and silent users.

mod common;

use std::time::Duration;

use common::*;
use roomstorm::codes;
use roomstorm::server::AppSettings;
use roomstorm::token::{self, Permission, RoomAccess};

fn app(max_users: u32, no_auto_kick: bool) -> AppSettings {
    AppSettings {
        max_users,
        no_auto_kick_user: no_auto_kick,
        ..AppSettings::new(APP)
    }
}

#[tokio::test]
async fn http_exchange_gives_a_standard_base64_access_token_with_cors() {
    let server = TestServer::with_app(app(10, false)).await;
    let token = room_token("room-1", "alice");
    let ans = get(
        server.addr,
        &format!("/v3/apps/{APP}/rooms/room-1/auth?user=alice&token={token}"),
    )
    .await;
    assert_eq!(ans.status, 200);
    assert_eq!(ans.header("access-control-allow-origin"), Some("*"));
    assert!(ans.header("x-reqid").is_some());
    let payload = access_payload(ans.json()["accessToken"].as_str().unwrap());
    assert_eq!(
        payload["signalingurl2"],
        format!("ws://{}/signaling", server.addr)
    );
    // A bad token still gets an access token here: it is refused at the WebSocket auth.
    let bad = get(
        server.addr,
        &format!("/v3/apps/{APP}/rooms/room-1/auth?user=alice&token=garbage"),
    )
    .await;
    assert_eq!(bad.status, 200);
    let cfg = get(
        server.addr,
        "/v4/sdk/config?platform=Web&appid=app1&user_id=alice",
    )
    .await;
    assert_eq!(
        (cfg.status, cfg.json()),
        (200, serde_json::json!({"content": ""}))
    );
    assert_eq!(get(server.addr, "/nope").await.status, 404);
    server.stop().await;
}

#[tokio::test]
async fn every_member_sees_every_join_and_leave_in_order() {
    let server = TestServer::with_app(app(10, false)).await;
    let mut members = Vec::new();
    for i in 0..5 {
        let user = format!("user-{i}");
        let (c, res) = join(&server, "room-fan", &user).await;
        let expected: Vec<String> = (0..i).map(|j| format!("user-{j}")).collect();
        assert_eq!(player_ids(&res), expected, "players listed to {user}");
        assert!(res.get("error").is_none(), "code 0 carries no error field");
        assert!(res["reconntoken"].as_str().is_some_and(|t| !t.is_empty()));
        for (j, earlier) in members.iter_mut().enumerate() {
            let c: &mut Client = earlier;
            let ev = c.expect("on-player-in").await;
            assert_eq!(ev["playerid"], user.as_str(), "user-{j} sees {user}");
            assert_eq!(ev["playerdata"], format!("data-{user}"));
        }
        members.push(c);
    }
    assert_eq!(metric(&server, "roomstorm_server_members").await, 5.0);
    assert_eq!(
        metric(&server, "roomstorm_server_fanout_messages_total").await,
        10.0
    );
    // user-2 leaves: the four others see it, and nobody sees anything else.
    let mut leaver = members.remove(2);
    leaver.send("disconnect={}").await;
    assert_eq!(
        leaver.expect_close().await,
        Some(tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode::Normal)
    );
    for c in members.iter_mut() {
        assert_eq!(c.expect("on-player-out").await["playerid"], "user-2");
    }
    for c in members.iter_mut() {
        c.expect_silence(Duration::from_millis(150)).await;
    }
    assert_eq!(metric(&server, "roomstorm_server_members").await, 4.0);
    assert_eq!(
        metric(
            &server,
            "roomstorm_server_departures_total{reason=\"leave\"}"
        )
        .await,
        1.0
    );
    server.stop().await;
}

#[tokio::test]
async fn token_problems_answer_10001_and_10002_at_the_websocket_auth() {
    let server = TestServer::with_app(app(10, false)).await;
    let k = keys();
    let good = room_token("room-t", "alice");
    let parts = token::split(&good).unwrap();
    let other_key = roomstorm::credentials::KeyPair::new("test-ak", "wrong-secret");
    let cases: Vec<(&str, String, u32)> = vec![
        (
            "bad signature",
            token::mint(&other_key, &access("room-t", "alice")),
            codes::TOKEN_INVALID,
        ),
        (
            "unknown access key",
            format!("nobody:{}:{}", parts.signature, parts.payload),
            codes::TOKEN_INVALID,
        ),
        ("malformed", "not-a-token".into(), codes::TOKEN_INVALID),
        (
            "payload not json",
            token::mint_raw(&k, b"hello"),
            codes::TOKEN_INVALID,
        ),
        (
            "room name rule",
            token::mint(
                &k,
                &RoomAccess {
                    room_name: "r!".into(),
                    ..access("room-t", "alice")
                },
            ),
            codes::TOKEN_INVALID,
        ),
        (
            "user name rule",
            token::mint(
                &k,
                &RoomAccess {
                    user_id: "a".into(),
                    ..access("room-t", "alice")
                },
            ),
            codes::TOKEN_INVALID,
        ),
        (
            "unknown app",
            token::mint(
                &k,
                &RoomAccess {
                    app_id: "ghost".into(),
                    ..access("room-t", "alice")
                },
            ),
            codes::TOKEN_INVALID,
        ),
        (
            "expired",
            token::mint(
                &k,
                &RoomAccess {
                    expire_at: 1_000,
                    ..access("room-t", "alice")
                },
            ),
            codes::TOKEN_EXPIRED,
        ),
    ];
    for (what, tok, code) in cases {
        let (mut c, res) = try_join(&server, &tok, "room-t", "alice").await;
        assert_eq!(res["code"], code, "{what}: {res}");
        assert!(
            res["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{what}: {res}"
        );
        assert!(!res.to_string().contains("test-secret-key-never-printed"));
        c.expect_close().await;
    }
    // A forged access token (payload changed, signature kept) is refused too.
    let mut c = Client::connect_with(server.addr, &good, "room-t", "alice").await;
    let segs: Vec<&str> = c.access_token.split('.').collect();
    c.access_token = format!("{}.{}x.{}", segs[0], segs[1], segs[2]);
    assert_eq!(c.auth(None, "").await["code"], codes::TOKEN_INVALID);
    // The room was never joined.
    assert_eq!(
        metric(&server, "roomstorm_server_auths_total{code=\"10001\"}").await,
        8.0
    );
    assert_eq!(
        metric(&server, "roomstorm_server_auths_total{code=\"10002\"}").await,
        1.0
    );
    assert_eq!(
        metric(&server, "roomstorm_server_auths_total{code=\"0\"}").await,
        0.0
    );
    server.stop().await;
}

#[tokio::test]
async fn a_full_room_answers_10011_and_the_others_hear_nothing() {
    let server = TestServer::with_app(app(2, false)).await;
    let (mut a, _) = join(&server, "room-full", "alice").await;
    let (mut b, _) = join(&server, "room-full", "bobby").await;
    a.expect("on-player-in").await;
    let (mut c, res) = try_join(
        &server,
        &room_token("room-full", "carol"),
        "room-full",
        "carol",
    )
    .await;
    assert_eq!(res["code"], codes::ROOM_FULL);
    c.expect_close().await;
    a.expect_silence(Duration::from_millis(150)).await;
    b.expect_silence(Duration::from_millis(10)).await;
    // A leave frees the slot.
    b.send("disconnect={}").await;
    a.expect("on-player-out").await;
    let (_c, res) = join(&server, "room-full", "carol").await;
    assert_eq!(player_ids(&res), vec!["alice"]);
    server.stop().await;
}

#[tokio::test]
async fn duplicate_login_evicts_the_older_session_by_default() {
    let server = TestServer::with_app(app(10, false)).await;
    let (mut watcher, _) = join(&server, "room-dup", "watcher").await;
    let (mut old, _) = join(&server, "room-dup", "alice").await;
    watcher.expect("on-player-in").await;
    let (_new, res) = join(&server, "room-dup", "alice").await;
    assert_eq!(player_ids(&res), vec!["watcher"]);
    let d = old.expect("disconnect").await;
    assert_eq!(d["code"], codes::DUPLICATE_LOGIN);
    old.expect_close().await;
    assert_eq!(watcher.expect("on-player-out").await["playerid"], "alice");
    assert_eq!(watcher.expect("on-player-in").await["playerid"], "alice");
    assert_eq!(
        metric(
            &server,
            "roomstorm_server_disconnects_total{code=\"10022\"}"
        )
        .await,
        1.0
    );
    server.stop().await;
}

#[tokio::test]
async fn duplicate_login_refuses_the_newcomer_with_no_auto_kick() {
    let server = TestServer::with_app(app(10, true)).await;
    let (mut old, _) = join(&server, "room-dup2", "alice").await;
    let (mut new, res) = try_join(
        &server,
        &room_token("room-dup2", "alice"),
        "room-dup2",
        "alice",
    )
    .await;
    assert_eq!(res["code"], codes::DUPLICATE_LOGIN);
    new.expect_close().await;
    old.expect_silence(Duration::from_millis(150)).await;
    server.stop().await;
}

#[tokio::test]
async fn kicks_by_admin_client_answer_10006_and_non_admins_get_10051() {
    let server = TestServer::with_app(app(10, false)).await;
    let admin_token = token::mint(
        &keys(),
        &RoomAccess {
            permission: Permission::Admin,
            ..access("room-k", "admin")
        },
    );
    let mut admin = Client::connect_with(server.addr, &admin_token, "room-k", "admin").await;
    assert_eq!(admin.auth(None, "").await["code"], 0);
    let (mut victim, _) = join(&server, "room-k", "victim").await;
    let (mut user, _) = join(&server, "room-k", "plain").await;
    admin.expect("on-player-in").await;
    admin.expect("on-player-in").await;
    victim.expect("on-player-in").await;
    user.send(r#"control={"command":"kickplayer","playerid":"victim","rpcid":"11111111"}"#)
        .await;
    let res = user.expect("control-res").await;
    assert_eq!(
        (res["code"].as_u64(), res["rpcid"].as_str()),
        (Some(u64::from(codes::NO_PERMISSION)), Some("11111111"))
    );
    admin
        .send(r#"control={"command":"kickplayer","playerid":"victim","rpcid":"22222222"}"#)
        .await;
    let res = admin.expect("control-res").await;
    assert_eq!(res["code"], 0);
    assert_eq!(res["error"], "");
    assert_eq!(res["playerid"], "victim");
    let d = victim.expect("disconnect").await;
    assert_eq!(
        (d["code"].as_u64(), d["kickedid"].as_str()),
        (Some(10006), Some("victim"))
    );
    assert_eq!(admin.expect("on-player-out").await["playerid"], "victim");
    assert_eq!(user.expect("on-player-out").await["playerid"], "victim");
    server.stop().await;
}

#[tokio::test]
async fn reauth_inside_the_window_resumes_and_peers_see_reconnect_not_leave() {
    let server = TestServer::with_app(app(10, false)).await;
    let (mut peer, _) = join(&server, "room-re", "peer1").await;
    let (c, res) = join(&server, "room-re", "alice").await;
    peer.expect("on-player-in").await;
    let reconntoken = res["reconntoken"].as_str().unwrap().to_owned();
    let (url, access_token) = (c.url.clone(), c.access_token.clone());
    drop(c); // socket gone without `disconnect`
    assert_eq!(
        peer.expect("on-player-reconnect").await["playerid"],
        "alice"
    );
    // The SDK reconnects to the same URL with ?rpcid= and re-auths with the same access token.
    let mut again = Client::reconnect("alice", &url, &access_token).await;
    let res = again.auth(Some(&reconntoken), "data-alice").await;
    assert_eq!(res["code"], 0, "{res}");
    assert_eq!(player_ids(&res), vec!["peer1"]);
    assert_ne!(
        res["reconntoken"].as_str().unwrap(),
        reconntoken,
        "a fresh reconnect token each time"
    );
    assert_eq!(
        peer.expect("on-player-reconnect-in").await["playerid"],
        "alice"
    );
    peer.expect_silence(Duration::from_millis(150)).await;
    // The old reconnect token is spent.
    let mut stale = Client::reconnect("alice", &again.url, &again.access_token).await;
    assert_eq!(
        stale.auth(Some(&reconntoken), "").await["code"],
        codes::RECONNECT_TOKEN_EXPIRED
    );
    assert_eq!(metric(&server, "roomstorm_server_resumes_total").await, 1.0);
    server.stop().await;
}

#[tokio::test]
async fn reauth_after_another_login_took_over_answers_10022() {
    let server = TestServer::with_app(app(10, false)).await;
    let (mut peer, _) = join(&server, "room-dup", "peer1").await;
    let (c, res) = join(&server, "room-dup", "alice").await;
    peer.expect("on-player-in").await;
    let reconntoken = res["reconntoken"].as_str().unwrap().to_owned();
    let (url, access_token) = (c.url.clone(), c.access_token.clone());
    drop(c); // away, inside its reconnect window
    peer.expect("on-player-reconnect").await;
    // The same user logs in again elsewhere: the detached session is evicted (nothing to tell it).
    let (_newer, res) = join(&server, "room-dup", "alice").await;
    assert_eq!(res["code"], 0);
    assert_eq!(peer.expect("on-player-out").await["playerid"], "alice");
    assert_eq!(peer.expect("on-player-in").await["playerid"], "alice");
    // The old session comes back: another login holds the user now.
    let mut again = Client::reconnect("alice", &url, &access_token).await;
    let res = again.auth(Some(&reconntoken), "").await;
    assert_eq!(res["code"], codes::DUPLICATE_LOGIN, "{res}");
    assert_eq!(
        metric(
            &server,
            "roomstorm_server_departures_total{reason=\"evicted\"}"
        )
        .await,
        1.0
    );
    server.stop().await;
}

#[tokio::test]
async fn reauth_after_the_window_answers_10004_and_peers_saw_a_leave() {
    let server = TestServer::with_app(app(10, false)).await;
    let (mut peer, _) = join(&server, "room-late", "peer1").await;
    let (c, res) = join(&server, "room-late", "alice").await;
    peer.expect("on-player-in").await;
    let reconntoken = res["reconntoken"].as_str().unwrap().to_owned();
    let (url, access_token) = (c.url.clone(), c.access_token.clone());
    drop(c);
    peer.expect("on-player-reconnect").await;
    // The window (1.5 s in tests) passes.
    assert_eq!(peer.expect("on-player-out").await["playerid"], "alice");
    let mut again = Client::reconnect("alice", &url, &access_token).await;
    let res = again.auth(Some(&reconntoken), "").await;
    assert_eq!(res["code"], codes::RECONNECT_TOKEN_EXPIRED);
    assert_eq!(
        metric(
            &server,
            "roomstorm_server_departures_total{reason=\"window_expired\"}"
        )
        .await,
        1.0
    );
    server.stop().await;
}

#[tokio::test]
async fn closing_a_room_answers_10012_to_members_joins_and_reauths() {
    let server = TestServer::with_app(app(10, false)).await;
    let (mut a, _) = join(&server, "room-close", "alice").await;
    let (b, res_b) = join(&server, "room-close", "bobby").await;
    a.expect("on-player-in").await;
    let (url, access_token) = (b.url.clone(), b.access_token.clone());
    let reconntoken = res_b["reconntoken"].as_str().unwrap().to_owned();
    drop(b);
    a.expect("on-player-reconnect").await;
    let ans = admin(
        &server,
        "POST",
        &format!("/roomstorm/v1/apps/{APP}/rooms/room-close/close"),
        None,
        &keys(),
    )
    .await;
    assert_eq!(ans.status, 200, "{}", ans.body);
    assert_eq!(ans.json()["disconnected"], 2);
    assert_eq!(a.expect("disconnect").await["code"], codes::ROOM_CLOSED);
    // A re-auth of the member that was reconnecting meanwhile: 10012.
    let mut again = Client::reconnect("bobby", &url, &access_token).await;
    assert_eq!(
        again.auth(Some(&reconntoken), "").await["code"],
        codes::ROOM_CLOSED
    );
    // A fresh join while the room is closed: 10012.
    let (_c, res) = try_join(
        &server,
        &room_token("room-close", "carol"),
        "room-close",
        "carol",
    )
    .await;
    assert_eq!(res["code"], codes::ROOM_CLOSED);
    // Closing what is not there: 615.
    let ans = admin(
        &server,
        "POST",
        &format!("/roomstorm/v1/apps/{APP}/rooms/nowhere/close"),
        None,
        &keys(),
    )
    .await;
    assert_eq!(ans.status, 615);
    server.stop().await;
}

#[tokio::test]
async fn closed_room_reopens_after_its_hold() {
    let server = TestServer::with_app(app(10, false)).await;
    let (_a, _) = join(&server, "room-hold", "alice").await;
    let body = br#"{"holdSeconds":0}"#;
    let ans = admin(
        &server,
        "POST",
        &format!("/roomstorm/v1/apps/{APP}/rooms/room-hold/close"),
        Some(("application/json", body)),
        &keys(),
    )
    .await;
    assert_eq!(ans.json()["holdSeconds"], 0);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let (_b, res) = join(&server, "room-hold", "bobby").await;
    assert_eq!(player_ids(&res), Vec::<String>::new());
    server.stop().await;
}

#[tokio::test]
async fn server_pings_and_removes_silent_users_but_keeps_ponging_ones() {
    let mut cfg = fast_config(app(10, false));
    cfg.timings.silent_timeout = Duration::from_millis(500);
    let server = TestServer::start(cfg).await;
    let (mut talker, _) = join(&server, "room-ping", "talker").await;
    let mut silent = Client::connect_with(
        server.addr,
        &room_token("room-ping", "silent"),
        "room-ping",
        "silent",
    )
    .await;
    assert_eq!(silent.auth(None, "").await["code"], 0);
    talker.expect("on-player-in").await;
    // The talker answers every ping (Client::next does) on its own task, as a live SDK would.
    let talker_task = tokio::spawn(async move {
        assert_eq!(talker.expect("on-player-out").await["playerid"], "silent");
        talker.expect_silence(Duration::from_millis(700)).await;
        talker
    });
    // The silent client reads pings but never answers them.
    let mut pings = 0;
    let start = tokio::time::Instant::now();
    let close = loop {
        match tokio::time::timeout(WAIT, futures_util::StreamExt::next(&mut silent.ws))
            .await
            .unwrap()
        {
            Some(Ok(tokio_tungstenite::tungstenite::Message::Text(t))) => {
                assert_eq!(t.as_str(), "ping={}");
                pings += 1;
            }
            Some(Ok(tokio_tungstenite::tungstenite::Message::Close(f))) => break f.map(|f| f.code),
            other => panic!("unexpected {other:?}"),
        }
    };
    let silent_for = start.elapsed();
    assert!(
        pings >= 3,
        "pings every 100 ms before the 500 ms silent timeout, got {pings}"
    );
    assert!(
        silent_for >= Duration::from_millis(400),
        "removed after {silent_for:?}"
    );
    assert_eq!(
        close,
        Some(tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode::Policy)
    );
    let _talker = talker_task
        .await
        .expect("talker saw the silent one leave and stayed");
    assert_eq!(
        metric(
            &server,
            "roomstorm_server_departures_total{reason=\"silent\"}"
        )
        .await,
        1.0
    );
    assert_eq!(metric(&server, "roomstorm_server_members").await, 1.0);
    server.stop().await;
}

#[tokio::test]
async fn empty_rooms_close_after_the_delay_and_shutdown_closes_sockets_with_1001() {
    let server = TestServer::with_app(app(10, false)).await;
    let (mut a, _) = join(&server, "room-empty", "alice").await;
    a.send("disconnect={}").await;
    a.expect_close().await;
    assert_eq!(metric(&server, "roomstorm_server_rooms").await, 1.0);
    await_metric(&server, "roomstorm_server_rooms", 0.0).await;
    let (mut b, _) = join(&server, "room-empty", "bobby").await;
    server.stop().await;
    assert_eq!(
        b.expect_close().await,
        Some(tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode::Away)
    );
}
