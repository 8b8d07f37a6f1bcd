//! `roomstorm serve --processes N` end to end: the real binary as a front process with server
//! processes behind it. Rooms land on one process each and spread over several; the management
//! API and /metrics on the front answer for all of them; the processes end with the front.

mod common;

use std::collections::{BTreeSet, HashMap};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::*;
use serde_json::{Value, json};

const ROOMS: usize = 12;

struct Served {
    child: Child,
    addr: SocketAddr,
    pids: Vec<i32>,
}

/// Starts `roomstorm serve --processes n` on port 0; reads its address and its processes' PIDs.
fn serve(n: usize) -> Served {
    let k = keys();
    let mut child = Command::new(env!("CARGO_BIN_EXE_roomstorm"))
        .env("ROOMSTORM_ACCESS_KEY", &k.access_key)
        .env("ROOMSTORM_SECRET_KEY", "test-secret-key-never-printed")
        .env_remove("ROOMSTORM_LOG")
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--processes",
            &n.to_string(),
            "--threads",
            "1",
            "--empty-room-close",
            "300ms",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    let addr: SocketAddr = first
        .trim()
        .rsplit("http://")
        .next()
        .unwrap()
        .parse()
        .expect(&first);
    let mut second = String::new();
    stdout.read_line(&mut second).unwrap();
    let pids: Vec<i32> = second
        .split("pids:")
        .nth(1)
        .expect(&second)
        .split_whitespace()
        .map(|p| p.parse().unwrap())
        .collect();
    assert_eq!(pids.len(), n, "{second}");
    std::thread::spawn(move || {
        let mut sink = String::new();
        while stdout.read_line(&mut sink).is_ok_and(|n| n > 0) {
            sink.clear();
        }
    });
    Served { child, addr, pids }
}

/// A process that has exited: gone, or a zombie nobody reaped yet.
fn is_gone(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with(['Z', 'X'])),
    }
}

fn assert_all_gone(pids: &[i32]) {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !pids.iter().all(|p| is_gone(*p)) {
        assert!(
            std::time::Instant::now() < deadline,
            "server processes still running: {:?}",
            pids.iter().filter(|p| !is_gone(**p)).collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Signs a management request with the test keys and sends it to `addr`.
async fn admin_at(
    addr: SocketAddr,
    method: &str,
    target: &str,
    body: Option<(&str, &[u8])>,
) -> HttpAnswer {
    common::admin_at(addr, method, target, body, &keys()).await
}

use common::{await_metric_at, metric_at};

async fn join_at(addr: SocketAddr, room: &str, user: &str) -> (Client, Value) {
    let mut c = Client::connect_with(addr, &room_token(room, user), room, user).await;
    let res = c.auth(None, &format!("data-{user}")).await;
    assert_eq!(res["code"], 0, "{user} join: {res}");
    (c, res)
}

fn room(i: usize) -> String {
    format!("room-{i:02}")
}

#[test]
fn rooms_spread_over_processes_and_the_front_answers_for_all() {
    let mut served = serve(3);
    let addr = served.addr;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let health = get(addr, "/healthz").await.json();
        let pids: Vec<i64> = health["processes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["pid"].as_i64().unwrap())
            .collect();
        assert_eq!(
            pids,
            served
                .pids
                .iter()
                .map(|p| i64::from(*p))
                .collect::<Vec<_>>()
        );

        // Two members per room, through the front.
        let mut members: HashMap<String, (Client, Client)> = HashMap::new();
        let mut url_of_room = HashMap::new();
        for i in 0..ROOMS {
            let r = room(i);
            let (mut a, _) = join_at(addr, &r, &format!("alice-{i}")).await;
            let (b, res) = join_at(addr, &r, &format!("bob-{i}")).await;
            assert_eq!(a.url, b.url, "both members of {r} on one process");
            assert_ne!(
                a.url.as_str(),
                format!("ws://{addr}/signaling"),
                "not on the front"
            );
            assert_eq!(
                player_ids(&res),
                [format!("alice-{i}")],
                "presence within {r}"
            );
            assert_eq!(
                a.expect("on-player-in").await["playerid"],
                format!("bob-{i}")
            );
            // A member coming back gets the same process again.
            let again = exchange(addr, &room_token(&r, "carol"), &r, "carol").await;
            assert_eq!(
                access_payload(&again)["signalingurl2"].as_str(),
                Some(a.url.as_str())
            );
            url_of_room.insert(r.clone(), a.url.clone());
            members.insert(r, (a, b));
        }
        let processes: BTreeSet<&String> = url_of_room.values().collect();
        assert!(
            processes.len() >= 2,
            "{ROOMS} rooms all on one process: {url_of_room:?}"
        );

        // /metrics sums over the processes exactly.
        let n = (2 * ROOMS) as f64;
        await_metric_at(addr, "roomstorm_server_members", n).await;
        assert_eq!(metric_at(addr, "roomstorm_server_sockets_open").await, n);
        assert_eq!(
            metric_at(addr, "roomstorm_server_rooms").await,
            ROOMS as f64
        );
        assert_eq!(
            metric_at(addr, "roomstorm_server_access_tokens_total").await,
            (3 * ROOMS) as f64
        );
        assert_eq!(metric_at(addr, "roomstorm_front_processes").await, 3.0);

        // Active rooms: all of them, sorted, paged as one server would.
        let all = admin_at(addr, "GET", &format!("/v3/apps/{APP}/rooms"), None).await;
        assert_eq!(all.status, 200, "{}", all.body);
        let want: Vec<String> = (0..ROOMS).map(room).collect();
        assert_eq!(
            all.json(),
            json!({"end": true, "offset": ROOMS, "rooms": want})
        );
        let page = admin_at(
            addr,
            "GET",
            &format!("/v3/apps/{APP}/rooms?offset=5&limit=4"),
            None,
        )
        .await
        .json();
        assert_eq!(
            page,
            json!({"end": false, "offset": 9, "rooms": want[5..9]})
        );
        let prefixed = admin_at(
            addr,
            "GET",
            &format!("/v3/apps/{APP}/rooms?prefix=room-1"),
            None,
        )
        .await
        .json();
        assert_eq!(prefixed["rooms"], json!(want[10..]));

        // Users of a room, from its owner.
        for i in [0, 7] {
            let users = admin_at(
                addr,
                "GET",
                &format!("/v3/apps/{APP}/rooms/{}/users", room(i)),
                None,
            )
            .await;
            assert_eq!(users.status, 200, "{}", users.body);
            assert_eq!(
                users.json(),
                json!({"users": [{"userId": format!("alice-{i}")}, {"userId": format!("bob-{i}")}]})
            );
        }
        let none = admin_at(
            addr,
            "GET",
            &format!("/v3/apps/{APP}/rooms/nowhere/users"),
            None,
        )
        .await;
        assert_eq!(none.status, 615, "{}", none.body);

        // Kick: 10006 to that member only, on whichever process owns the room.
        for i in [1, 4] {
            let kick = admin_at(
                addr,
                "DELETE",
                &format!("/v3/apps/{APP}/rooms/{}/users/bob-{i}", room(i)),
                None,
            )
            .await;
            assert_eq!(kick.status, 200, "{}", kick.body);
            let (a, b) = members.get_mut(&room(i)).unwrap();
            let d = b.expect("disconnect").await;
            assert_eq!(
                (d["code"].as_u64(), d["kickedid"].as_str()),
                (Some(10006), Some(format!("bob-{i}").as_str()))
            );
            assert_eq!(
                a.expect("on-player-out").await["playerid"],
                format!("bob-{i}")
            );
        }

        // Close: 10012 to every member of that room, nobody else.
        let close = admin_at(
            addr,
            "POST",
            &format!("/roomstorm/v1/apps/{APP}/rooms/{}/close", room(2)),
            None,
        )
        .await;
        assert_eq!(close.status, 200, "{}", close.body);
        assert_eq!(close.json()["disconnected"], 2);
        let (a, b) = members.get_mut(&room(2)).unwrap();
        for c in [a, b] {
            assert_eq!(c.expect("disconnect").await["code"], 10012);
        }
        members
            .get_mut(&room(3))
            .unwrap()
            .0
            .expect_silence(Duration::from_millis(200))
            .await;

        // Faults reach every process: a drop of everything resets every remaining socket.
        let remaining = 2 * ROOMS - 2 - 2;
        await_metric_at(addr, "roomstorm_server_sockets_open", remaining as f64).await;
        let state = admin_at(addr, "GET", "/roomstorm/v1/faults", None).await;
        assert_eq!(state.status, 200, "{}", state.body);
        assert_eq!(state.json()["listening"], true);
        let dropped = admin_at(
            addr,
            "POST",
            "/roomstorm/v1/faults/drop",
            Some(("application/json", br#"{"share":1,"seed":7}"#)),
        )
        .await;
        assert_eq!(dropped.status, 200, "{}", dropped.body);
        assert_eq!(
            dropped.json(),
            json!({"dropped": remaining, "of": remaining})
        );
        let bad = admin_at(
            addr,
            "POST",
            "/roomstorm/v1/faults/drop",
            Some(("application/json", br#"{"share":2}"#)),
        )
        .await;
        assert_eq!(bad.status, 400, "{}", bad.body);

        // Apps: created once, known to every process (a room of it joins on any of them).
        let created = admin_at(
            addr,
            "POST",
            "/v3/apps",
            Some(("application/json", br#"{"hub":"h","maxUsers":3}"#)),
        )
        .await;
        assert_eq!(created.status, 200, "{}", created.body);
        let app = created.json()["appId"].as_str().unwrap().to_owned();
        for i in 0..ROOMS {
            let users = admin_at(
                addr,
                "GET",
                &format!("/v3/apps/{app}/rooms/{}/users", room(i)),
                None,
            )
            .await;
            assert_eq!(
                users.status,
                615,
                "app known where {} lives: {}",
                room(i),
                users.body
            );
        }
        let deleted = admin_at(addr, "DELETE", &format!("/v3/apps/{app}"), None).await;
        assert_eq!(deleted.status, 200, "{}", deleted.body);
        let gone = admin_at(addr, "GET", &format!("/v3/apps/{app}/rooms"), None).await;
        assert_eq!(gone.status, 612, "{}", gone.body);

        let unsigned = get(addr, &format!("/v3/apps/{APP}/rooms")).await;
        assert_eq!(unsigned.status, 401);
    });

    // SAFETY: signalling our own child by its PID.
    unsafe { libc::kill(served.child.id() as i32, libc::SIGTERM) };
    let status = wait_with_timeout(&mut served.child, Duration::from_secs(10));
    assert!(status.is_some(), "the front did not stop on SIGTERM");
    assert_all_gone(&served.pids);
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut served.child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(
        !stderr.contains("test-secret-key-never-printed"),
        "{stderr}"
    );
}

#[test]
fn a_dead_process_shows_in_healthz_and_the_rest_end_when_the_front_is_killed_outright() {
    let mut served = serve(2);
    let addr = served.addr;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let up = get(addr, "/healthz").await;
        assert_eq!((up.status, up.json()["status"].as_str()), (200, Some("ok")));
        // SAFETY: signalling a server process of the front this test started, by its PID.
        unsafe { libc::kill(served.pids[1], libc::SIGKILL) };
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let h = get(addr, "/healthz").await;
            if h.status == 503 {
                let v = h.json();
                assert_eq!(v["status"], "degraded");
                assert_eq!(v["processes"][0]["running"], true);
                assert_eq!(v["processes"][1]["running"], false);
                break;
            }
            assert!(tokio::time::Instant::now() < deadline, "{}", h.body);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    // SAFETY: signalling our own child by its PID.
    unsafe { libc::kill(served.child.id() as i32, libc::SIGKILL) };
    let _ = wait_with_timeout(&mut served.child, Duration::from_secs(10));
    assert_all_gone(&served.pids);
}
