//! The fault-injection extension of the reference server (`/roomstorm/v1/faults…`): dropped
//! connections, stalls, auth latency and restarts, as raw clients observe them, plus the typed
//! [`roomstorm::fault_api::FaultApi`] client and the routes' authentication and validation.
//!
//! Timing assertions are lower bounds only (a fault must not end early); upper bounds are hang
//! guards.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::*;
use futures_util::StreamExt;
use roomstorm::codes;
use roomstorm::credentials::KeyPair;
use roomstorm::fault_api::{DropAnswer, FaultApi, FaultApiError};
use roomstorm::server::AppSettings;
use roomstorm::server::faults::choose;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

const SECRET: &str = "test-secret-key-never-printed";

fn api(server: &TestServer) -> FaultApi {
    FaultApi::new(&server.base(), keys()).unwrap()
}

async fn post_json(server: &TestServer, route: &str, body: &str) -> HttpAnswer {
    admin(
        server,
        "POST",
        route,
        Some(("application/json", body.as_bytes())),
        &keys(),
    )
    .await
}

/// Reads until the connection is reset (RST: no close frame, the SDK sees 1006); panics on a
/// close frame or a plain end of stream.
async fn expect_reset(c: &mut Client) {
    loop {
        match tokio::time::timeout(WAIT, c.ws.next())
            .await
            .unwrap_or_else(|_| panic!("{}: no reset in time", c.user))
        {
            Some(Ok(Message::Close(f))) => {
                panic!("{}: close frame {f:?}, expected an abrupt reset", c.user)
            }
            Some(Ok(_)) => {}
            Some(Err(WsError::Io(e))) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                return;
            }
            other => panic!("{}: {other:?}, expected a TCP reset", c.user),
        }
    }
}

/// `n` events of kind `cmd`, as the set of their `playerid`s.
async fn players_in_events(c: &mut Client, cmd: &str, n: usize) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    for _ in 0..n {
        seen.insert(c.expect(cmd).await["playerid"].as_str().unwrap().to_owned());
    }
    seen
}

struct Joined {
    client: Client,
    reconntoken: String,
}

/// Joins `users` to `room` in order and drains the `on-player-in` events each one causes.
async fn join_all(server: &TestServer, room: &str, users: &[String]) -> Vec<Joined> {
    let mut joined: Vec<Joined> = Vec::new();
    for user in users {
        let (client, res) = join(server, room, user).await;
        for earlier in joined.iter_mut() {
            assert_eq!(
                earlier.client.expect("on-player-in").await["playerid"],
                user.as_str()
            );
        }
        joined.push(Joined {
            client,
            reconntoken: res["reconntoken"].as_str().unwrap().to_owned(),
        });
    }
    joined
}

/// Re-auths a member on a new socket with its reconnect token; returns the `auth-res`.
async fn resume(j: &mut Joined) -> serde_json::Value {
    let mut again = Client::reconnect(&j.client.user, &j.client.url, &j.client.access_token).await;
    let res = again.auth(Some(&j.reconntoken), "").await;
    if res["code"] == 0 {
        j.reconntoken = res["reconntoken"].as_str().unwrap().to_owned();
        j.client = again;
    }
    res
}

#[tokio::test]
async fn drop_resets_exactly_the_seeded_share_and_peers_see_reconnects() {
    let server = TestServer::with_app(AppSettings::new(APP)).await;
    let users: Vec<String> = (0..10).map(|i| format!("user-{i:02}")).collect();
    let mut members = join_all(&server, "room-drop", &users).await;
    // Members sorted by (app, room, user) are `users` in order.
    let expected: BTreeSet<String> = choose(10, 0.3, 7)
        .into_iter()
        .map(|i| users[i].clone())
        .collect();
    assert_eq!(expected.len(), 3);

    for round in 0..2 {
        let answer = if round == 0 {
            let ans = post_json(
                &server,
                "/roomstorm/v1/faults/drop",
                r#"{"share":0.3,"seed":7}"#,
            )
            .await;
            assert_eq!(ans.status, 200, "{}", ans.body);
            serde_json::from_value::<DropAnswer>(ans.json()).unwrap()
        } else {
            // The same seed over the same members chooses the same users.
            api(&server).drop_connections(0.3, 7).await.unwrap()
        };
        assert_eq!(answer, DropAnswer { dropped: 3, of: 10 });
        for m in members.iter_mut() {
            if expected.contains(&m.client.user) {
                expect_reset(&mut m.client).await;
            }
        }
        for m in members.iter_mut() {
            if !expected.contains(&m.client.user) {
                let seen = players_in_events(&mut m.client, "on-player-reconnect", 3).await;
                assert_eq!(seen, expected, "{} (round {round})", m.client.user);
            }
        }
        for m in members.iter_mut() {
            if !expected.contains(&m.client.user) {
                m.client.expect_silence(Duration::from_millis(100)).await;
            }
        }
        // The dropped ones resume within their window; the others see each come back.
        let mut resumed = 0;
        for i in 0..members.len() {
            if !expected.contains(&members[i].client.user) {
                continue;
            }
            let res = resume(&mut members[i]).await;
            assert_eq!(res["code"], 0, "{res}");
            assert_eq!(player_ids(&res).len(), 9);
            resumed += 1;
            // Those resumed before this one hear of it too.
            let user = members[i].client.user.clone();
            for (j, m) in members.iter_mut().enumerate() {
                let earlier_resumed = expected.contains(&m.client.user) && j < i;
                if j != i && (!expected.contains(&m.client.user) || earlier_resumed) {
                    assert_eq!(
                        m.client.expect("on-player-reconnect-in").await["playerid"],
                        user.as_str()
                    );
                }
            }
        }
        assert_eq!(resumed, 3);
    }
    assert_eq!(
        metric(&server, "roomstorm_server_faults_dropped_total").await,
        6.0
    );
    assert_eq!(metric(&server, "roomstorm_server_resumes_total").await, 6.0);
    // Share 0 drops nothing; detached members are not counted.
    let none = api(&server).drop_connections(0.0, 1).await.unwrap();
    assert_eq!(none, DropAnswer { dropped: 0, of: 10 });
    server.stop().await;
}

#[tokio::test]
async fn stall_freezes_pings_presence_and_auth_answers_until_it_ends() {
    let mut cfg = fast_config(AppSettings::new(APP));
    cfg.timings.ping_interval = Duration::from_millis(200);
    // Shorter than the stall: the stall must not count as silence.
    cfg.timings.silent_timeout = Duration::from_millis(700);
    let server = TestServer::start(cfg).await;
    let stall = Duration::from_millis(1000);
    let (mut alice, _) = join(&server, "room-stall", "alice").await;
    // Pings arrive (answered, as the SDK does).
    let mut pings = 0;
    while pings < 2 {
        match tokio::time::timeout(WAIT, alice.ws.next()).await.unwrap() {
            Some(Ok(Message::Text(t))) if t.starts_with("ping=") => {
                alice.send("pong={}").await;
                pings += 1;
            }
            other => panic!("expected pings, got {other:?}"),
        }
    }

    // Alice's frames with arrival times, read (and pings answered) on her own task so that
    // nothing waits unread while the test talks to the server. She stops once she has heard
    // bobby join and three pings after that: past the silent timeout, had the stall counted.
    let reader = tokio::spawn(async move {
        let mut frames: Vec<(Instant, String)> = Vec::new();
        let mut pings_after_bobby = None::<usize>;
        while pings_after_bobby != Some(3) {
            match tokio::time::timeout(WAIT, alice.ws.next()).await {
                Ok(Some(Ok(Message::Text(t)))) => {
                    if t.starts_with("ping=") {
                        alice.send("pong={}").await;
                        pings_after_bobby = pings_after_bobby.map(|n| n + 1);
                    } else if t.starts_with("on-player-in=") {
                        pings_after_bobby = Some(0);
                    }
                    frames.push((Instant::now(), t.to_string()));
                }
                other => panic!("alice: unexpected {other:?} (removed as silent?)"),
            }
        }
        (alice, frames)
    });

    let posted = Instant::now();
    let ans = post_json(&server, "/roomstorm/v1/faults/stall", r#"{"forMs":1000}"#).await;
    assert_eq!(ans.status, 200, "{}", ans.body);
    assert_eq!(ans.json(), serde_json::json!({"stalledForMs": 1000}));
    let answered = Instant::now();
    let stall_end = posted + stall; // the server's stall ends no earlier than this

    // A new member's `auth` is read but answered only after the stall.
    let mut bobby = Client::connect_with(
        server.addr,
        &room_token("room-stall", "bobby"),
        "room-stall",
        "bobby",
    )
    .await;
    let state = api(&server).probe().await.unwrap();
    assert!(state.stalled_for <= stall);
    let res = bobby.auth(None, "").await;
    assert_eq!(res["code"], 0, "{res}");
    assert!(
        Instant::now() >= stall_end,
        "auth answered during the stall"
    );

    let (mut alice, frames) = reader.await.unwrap();
    // A ping sent just before the stall may be read a little late; none may come well inside it.
    let grace = answered + Duration::from_millis(250);
    let during: Vec<_> = frames
        .iter()
        .filter(|(t, _)| *t > grace && *t < stall_end)
        .collect();
    assert!(during.is_empty(), "frames during the stall: {during:?}");
    // Presence queued during the stall is delivered after it.
    let (at, _) = frames
        .iter()
        .find(|(_, f)| f.starts_with("on-player-in="))
        .expect("alice hears bobby");
    assert!(*at >= stall_end);
    assert_eq!(
        metric(
            &server,
            "roomstorm_server_departures_total{reason=\"silent\"}"
        )
        .await,
        0.0
    );

    // A long stall ended early with forMs 0: pings come again.
    let fa = api(&server);
    assert_eq!(
        fa.stall(Duration::from_secs(60)).await.unwrap(),
        Duration::from_secs(60)
    );
    assert_eq!(fa.stall(Duration::ZERO).await.unwrap(), Duration::ZERO);
    assert_eq!(fa.probe().await.unwrap().stalled_for, Duration::ZERO);
    loop {
        match tokio::time::timeout(WAIT, alice.ws.next()).await.unwrap() {
            Some(Ok(Message::Text(t))) if t.starts_with("ping=") => break,
            Some(Ok(Message::Text(_))) => {}
            other => panic!("alice: {other:?}"),
        }
    }
    assert_eq!(
        metric(&server, "roomstorm_server_faults_stalls_total").await,
        2.0
    );
    server.stop().await;
}

#[tokio::test]
async fn auth_latency_adds_to_the_configured_delay_until_it_expires() {
    let mut cfg = fast_config(AppSettings::new(APP));
    cfg.timings.auth_delay = Duration::from_millis(100);
    let server = TestServer::start(cfg).await;
    let fa = api(&server);
    let (delay, left) = fa
        .auth_latency(
            Duration::from_millis(500),
            Some(Duration::from_millis(1500)),
        )
        .await
        .unwrap();
    assert_eq!(delay, Duration::from_millis(500));
    assert!(left.is_some_and(|l| l <= Duration::from_millis(1500)));
    let mut alice = Client::connect_with(
        server.addr,
        &room_token("room-lat", "alice"),
        "room-lat",
        "alice",
    )
    .await;
    let sent = Instant::now();
    assert_eq!(alice.auth(None, "").await["code"], 0);
    assert!(sent.elapsed() >= Duration::from_millis(600), "100 + 500 ms");

    // After forMs the extra latency is gone (the configured delay stays).
    tokio::time::timeout(WAIT, async {
        while !fa.probe().await.unwrap().auth_latency.is_zero() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("the latency expires");
    let state = fa.probe().await.unwrap();
    assert_eq!(state.auth_latency_for, Some(Duration::ZERO));
    let (_bobby, _) = join(&server, "room-lat", "bobby").await;

    // Without forMs it lasts until changed; delayMs 0 clears it.
    let (delay, left) = fa
        .auth_latency(Duration::from_millis(300), None)
        .await
        .unwrap();
    assert_eq!((delay, left), (Duration::from_millis(300), None));
    let state = fa.probe().await.unwrap();
    assert_eq!(
        (state.auth_latency, state.auth_latency_for),
        (Duration::from_millis(300), None)
    );
    let started = Instant::now();
    let (_carol, _) = join(&server, "room-lat", "carol").await;
    assert!(started.elapsed() >= Duration::from_millis(400));
    let (delay, _) = fa.auth_latency(Duration::ZERO, None).await.unwrap();
    assert_eq!(delay, Duration::ZERO);
    assert_eq!(fa.probe().await.unwrap().auth_latency, Duration::ZERO);
    assert_eq!(
        metric(&server, "roomstorm_server_faults_auth_latency_total").await,
        3.0
    );
    server.stop().await;
}

#[tokio::test]
async fn restart_answers_first_resets_everything_and_rooms_survive_the_downtime() {
    let mut cfg = fast_config(AppSettings::new(APP));
    cfg.timings.reconnect_window = Duration::from_millis(3000);
    // Long enough that hyper keeps the idle connection below open until the restart.
    cfg.timings.auth_timeout = Duration::from_secs(5);
    let server = TestServer::start(cfg).await;
    let users: Vec<String> = ["alice", "bobby", "carol"].map(String::from).to_vec();
    let mut members = join_all(&server, "room-restart", &users).await;
    // An idle keep-alive HTTP connection.
    let mut idle = TcpStream::connect(server.addr).await.unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(WAIT, idle.read(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).contains("\"ok\""));

    // `admin` reads the answer to its end: a reset before it would fail the read.
    let ans = post_json(&server, "/roomstorm/v1/faults/restart", r#"{"downMs":800}"#).await;
    assert_eq!(ans.status, 200, "{}", ans.body);
    assert_eq!(
        ans.json(),
        serde_json::json!({"restarting": true, "downMs": 800})
    );
    for m in members.iter_mut() {
        expect_reset(&mut m.client).await;
    }
    let idle_end = tokio::time::timeout(WAIT, idle.read(&mut buf))
        .await
        .expect("the idle connection ends");
    assert_eq!(
        idle_end.as_ref().map_err(|e| e.kind()).err(),
        Some(std::io::ErrorKind::ConnectionReset),
        "{idle_end:?}"
    );
    // The listener is closed for a while, then open again on the same address.
    tokio::time::timeout(WAIT, async {
        loop {
            match TcpStream::connect(server.addr).await {
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => return,
                _ => tokio::time::sleep(Duration::from_millis(10)).await,
            }
        }
    })
    .await
    .expect("connects are refused during the downtime");
    tokio::time::timeout(WAIT, async {
        while TcpStream::connect(server.addr).await.is_err() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the listener comes back");
    assert!(api(&server).probe().await.unwrap().listening);
    assert_eq!(
        metric(&server, "roomstorm_server_faults_restarts_total").await,
        1.0
    );
    assert_eq!(
        metric(&server, "roomstorm_server_members_reconnecting").await,
        3.0
    );

    // Bobby and alice resume with their reconnect tokens; carol does not come back.
    let res = resume(&mut members[1]).await;
    assert_eq!(res["code"], 0, "{res}");
    assert_eq!(player_ids(&res), vec!["alice", "carol"]);
    let res = resume(&mut members[0]).await;
    assert_eq!(res["code"], 0, "{res}");
    assert_eq!(
        members[1].client.expect("on-player-reconnect-in").await["playerid"],
        "alice"
    );
    // After the window carol is gone, and her token is spent.
    assert_eq!(
        members[1].client.expect("on-player-out").await["playerid"],
        "carol"
    );
    let res = resume(&mut members[2]).await;
    assert_eq!(res["code"], codes::RECONNECT_TOKEN_EXPIRED);
    server.stop().await;
}

#[tokio::test]
async fn fault_routes_need_a_signature_and_refuse_bad_bodies() {
    let server = TestServer::with_app(AppSettings::new(APP)).await;
    let mut bodies = Vec::new();
    for (method, route) in [
        ("GET", "/roomstorm/v1/faults"),
        ("POST", "/roomstorm/v1/faults/drop"),
        ("POST", "/roomstorm/v1/faults/stall"),
        ("POST", "/roomstorm/v1/faults/auth-latency"),
        ("POST", "/roomstorm/v1/faults/restart"),
    ] {
        let body = br#"{"share":1,"forMs":5000,"delayMs":5000,"downMs":5000}"#;
        let unsigned = http(
            server.addr,
            method,
            route,
            &[("Content-Type", "application/json")],
            body,
        )
        .await;
        assert_eq!(unsigned.status, 401, "{route}: {}", unsigned.body);
        let forged = admin(
            &server,
            method,
            route,
            Some(("application/json", body)),
            &KeyPair::new("test-ak", "forged"),
        )
        .await;
        assert_eq!(forged.status, 401, "{route}");
        bodies.push(unsigned.body);
        bodies.push(forged.body);
    }
    // Nothing happened.
    let state = api(&server).probe().await.unwrap();
    assert!(state.listening && state.stalled_for.is_zero() && state.auth_latency.is_zero());

    let bad: &[(&str, &str, &str)] = &[
        ("drop", r#"{"share":1.5}"#, "between 0 and 1"),
        ("drop", r#"{"share":-0.1}"#, "between 0 and 1"),
        ("drop", r#"{"share":"abc"}"#, "share must be a number"),
        ("drop", r#"{"seed":1}"#, "share is required"),
        ("drop", r#"{"share":0.5,"seed":-3}"#, "seed"),
        ("drop", "not json", "not a JSON object"),
        ("stall", "{}", "forMs is required"),
        ("stall", r#"{"forMs":-1}"#, "forMs"),
        ("stall", r#"{"forMs":1.5}"#, "forMs"),
        ("stall", r#"{"forMs":999999999999}"#, "at most"),
        ("auth-latency", r#"{"forMs":10}"#, "delayMs is required"),
        ("auth-latency", r#"{"delayMs":10,"forMs":"x"}"#, "forMs"),
        ("restart", "{}", "downMs is required"),
        ("restart", "[1]", "not a JSON object"),
    ];
    for (route, body, why) in bad {
        let ans = post_json(&server, &format!("/roomstorm/v1/faults/{route}"), body).await;
        assert_eq!(ans.status, 400, "{route} {body}: {}", ans.body);
        let msg = ans.json()["error"].as_str().unwrap().to_owned();
        assert!(msg.contains(why), "{route} {body}: {msg}");
        bodies.push(ans.body);
    }
    // Form bodies work as for the v3 routes.
    let form = admin(
        &server,
        "POST",
        "/roomstorm/v1/faults/drop",
        Some(("application/x-www-form-urlencoded", b"share=0.5&seed=3")),
        &keys(),
    )
    .await;
    assert_eq!(form.status, 200, "{}", form.body);
    assert_eq!(form.json(), serde_json::json!({"dropped": 0, "of": 0}));
    let form = admin(
        &server,
        "POST",
        "/roomstorm/v1/faults/drop",
        Some(("application/x-www-form-urlencoded", b"share=2")),
        &keys(),
    )
    .await;
    assert_eq!(form.status, 400);
    let nowhere = post_json(&server, "/roomstorm/v1/faults/nothing", "{}").await;
    assert_eq!(nowhere.status, 404);
    bodies.push(nowhere.body);
    for body in &bodies {
        assert!(!body.contains(SECRET), "{body}");
    }
    // Still listening: no refused request restarted the server.
    assert!(api(&server).probe().await.unwrap().listening);
    server.stop().await;
}

#[tokio::test]
async fn the_client_reports_status_and_message_and_never_the_secret() {
    let server = TestServer::with_app(AppSettings::new(APP)).await;
    let real = FaultApi::new(&server.base(), KeyPair::new("test-ak", SECRET)).unwrap();
    assert!(real.probe().await.is_ok());
    assert!(!format!("{real:?}").contains(SECRET));
    // Right access key, wrong secret.
    let forged = FaultApi::new(&server.base(), KeyPair::new("test-ak", "other")).unwrap();
    let err = forged.probe().await.unwrap_err();
    assert_eq!(err.status(), Some(401));
    let text = err.to_string();
    assert!(text.contains("bad signature"), "{text}");
    assert!(!text.contains("other") && !format!("{err:?}").contains("other"));
    let err = api(&server).drop_connections(2.0, 1).await.unwrap_err();
    assert!(
        matches!(&err, FaultApiError::Status { status: 400, message, .. } if message.contains("between 0 and 1")),
        "{err}"
    );
    // A server without the extension (here: a path prefix nothing is served under).
    let elsewhere = FaultApi::new(&format!("{}/elsewhere", server.base()), keys()).unwrap();
    let err = elsewhere.probe().await.unwrap_err();
    assert!(
        matches!(err, FaultApiError::Unsupported { status: 404, .. }),
        "{err}"
    );
    server.stop().await;
}

#[tokio::test]
async fn the_client_kicks_and_closes_rooms() {
    let server = TestServer::with_app(AppSettings::new(APP)).await;
    let users: Vec<String> = ["alice", "bobby", "carol"].map(String::from).to_vec();
    let mut m = join_all(&server, "room-kc", &users).await;
    let fa = api(&server);
    fa.kick(APP, "room-kc", "bobby").await.unwrap();
    let d = m[1].client.expect("disconnect").await;
    assert_eq!(d["code"], codes::KICKED);
    for i in [0, 2] {
        assert_eq!(
            m[i].client.expect("on-player-out").await["playerid"],
            "bobby"
        );
    }
    let again = fa.kick(APP, "room-kc", "bobby").await.unwrap_err();
    assert_eq!(again.status(), Some(612), "{again}");
    let closed = fa.close_room(APP, "room-kc").await.unwrap();
    assert_eq!(closed.disconnected, 2);
    assert_eq!(closed.hold, Duration::from_secs(1), "the 1.5 s window");
    for i in [0, 2] {
        assert_eq!(
            m[i].client.expect("disconnect").await["code"],
            codes::ROOM_CLOSED
        );
    }
    let gone = fa.close_room(APP, "nowhere").await.unwrap_err();
    assert_eq!(gone.status(), Some(615));
    server.stop().await;
}
