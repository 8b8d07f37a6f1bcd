//! Each fault kind end to end, by the real binary against the embedded server, with timers tuned
//! short (the scenario's `reconnect` settings and the server's ping interval) so each run takes
//! seconds: exact counts from roomstorm's side and the server's own counters.

mod common;

use std::process::Command;

use common::FAST_TIMERS as FAST;
use common::scratch::ScratchDir;
use serde_json::Value;

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
    summary: Option<Value>,
}

/// Runs `yaml` (with `extra` arguments) and reads its summary, if it wrote one.
fn run(name: &str, yaml: &str, extra: &[&str]) -> Run {
    let dir = ScratchDir::new(&format!("faults-{name}"));
    let file = dir.write("scenario.yaml", yaml);
    let out = Command::new(env!("CARGO_BIN_EXE_roomstorm"))
        .arg("run")
        .arg(&file)
        .args(["--quiet", "--out"])
        .arg(dir.path().join("reports"))
        .args(extra)
        .env_remove("ROOMSTORM_LOG")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let summary = stdout
        .lines()
        .find_map(|l| l.strip_prefix("results: "))
        .map(|p| serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap());
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        summary,
    }
}

/// Runs `yaml` and checks that it passed with every lifecycle accounted for.
fn passed(name: &str, yaml: &str, lifecycles: u64) -> Value {
    let r = run(name, yaml, &[]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let s = r.summary.expect("a summary");
    assert_eq!(n(&s["conservation"]["accounted"]), lifecycles);
    assert_eq!(n(&s["outcomes"]["unexpected"]), 0, "{}", r.stdout);
    assert_eq!(n(&s["presence"]["errors"]), 0);
    for f in s["faults"].as_array().unwrap() {
        assert_eq!(f["ok"], true, "{f}");
    }
    s
}

fn n(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}"))
}

fn count(v: &Value) -> u64 {
    v.as_u64().unwrap_or(0)
}

#[test]
fn a_blackhole_is_noticed_only_by_the_heartbeat_and_only_when_long_enough() {
    // `long`: 6 s without traffic, longer than the 3 s ping timeout: RECONNECTING when the
    // timer fires, attempts fail while the network is down, then RECONNECTED.
    // `short`: 1.5 s: pings queued meanwhile arrive late but in time; nothing is noticed.
    let yaml = format!(
        "version: 1
name: blackhole
deadline: 60s
{FAST}
rooms: {{ count: 5 }}
groups:
  - name: long
    per_room: 2
    arrival: {{ ramp: {{ over: 1s }} }}
    script: [join, {{ hold: 16s }}, leave]
    expect: {{ completed: 10 }}
  - name: short
    per_room: 2
    arrival: {{ ramp: {{ over: 1s }} }}
    script: [join, {{ hold: 16s }}, leave]
    expect: {{ completed: 10 }}
faults:
  - {{ at: 3s, kind: blackhole, group: long, share: 100%, for: 6s }}
  - {{ at: 3s, kind: blackhole, group: short, share: 100%, for: 1500ms }}
"
    );
    let s = passed("blackhole", &yaml, 20);
    let r = &s["recovery"];
    assert_eq!(n(&r["losses"]["ping_timeout"]), 10, "{r}");
    assert_eq!(r["losses"].as_object().unwrap().len(), 1, "{r}");
    assert_eq!(n(&r["reconnected"]), 10);
    assert!(
        n(&r["attempts_failed"]) >= 10,
        "attempts while offline fail: {r}"
    );
    // Detected 3 s after the last ping at the latest, and not before the ping timeout allows.
    let detect = &s["latency"]["detect"];
    assert_eq!(n(&detect["count"]), 10);
    assert!(n(&detect["max"]) <= 3_600_000, "{detect}");
    assert_eq!(n(&s["faults"][0]["hits"]["applied"]), 10);
    assert_eq!(n(&s["faults"][1]["hits"]["applied"]), 10);
    assert_eq!(n(&s["server"]["resumes"]), 10);
    assert_eq!(n(&s["server"]["departures"]["leave"]), 20);
}

#[test]
fn delayed_frames_arrive_late_but_in_order() {
    // `slow` members get every frame 400 ms late for 6 s; `late` members join meanwhile, so the
    // slow ones see those joins at least 400 ms after they were answered.
    let s = passed(
        "delay",
        "version: 1
name: delay
deadline: 60s
rooms: { count: 4 }
groups:
  - name: slow
    per_room: 2
    arrival: { ramp: { over: 500ms } }
    script: [join, { hold: 10s }, leave]
    expect: { completed: 8 }
  - name: late
    per_room: 1
    arrival: { ramp: { start: 3s, over: 1s } }
    script: [join, { hold: 2s }, leave]
    expect: { completed: 4 }
faults:
  - { at: 2s, kind: delay_frames, group: slow, share: 100%, for: 6s, by: 400ms }
",
        12,
    );
    assert_eq!(n(&s["faults"][0]["hits"]["applied"]), 8);
    // Each `late` joiner is seen by the 2 slow members (delayed) and the slow pair see each
    // other at the start (not delayed): 4 × 2 delayed + 4 × 1 undelayed = 12 notices.
    let pv = &s["latency"]["peer_visible"];
    assert_eq!(n(&pv["count"]), 12, "{pv}");
    assert!(n(&pv["max"]) >= 400_000, "{pv}");
    assert!(
        n(&pv["p50"]) >= 400_000,
        "two thirds of the notices were delayed: {pv}"
    );
    assert_eq!(
        count(&s["recovery"]["reconnected"]),
        0,
        "a delay is not a break"
    );
}

#[test]
fn dropped_connections_reconnect_and_the_server_counts_them() {
    let yaml = format!(
        "version: 1
name: drop
deadline: 60s
{FAST}
rooms: {{ count: 10 }}
groups:
  - name: member
    per_room: 4
    arrival: {{ ramp: {{ over: 1s }} }}
    script: [join, {{ hold: 8s }}, leave]
    expect: {{ completed: 40 }}
faults:
  - {{ at: 3s, kind: drop_connections, share: 50% }}
"
    );
    let s = passed("drop", &yaml, 40);
    assert_eq!(
        s["faults"][0]["result"], "dropped 20 of 40 connections",
        "{}",
        s["faults"]
    );
    let r = &s["recovery"];
    assert_eq!(n(&r["losses"]["close_1006"]), 20, "{r}");
    assert_eq!(n(&r["reconnected"]), 20);
    assert_eq!(n(&r["attempts"]["1"]), 20);
    assert_eq!(n(&s["server"]["faults"]["dropped"]), 20);
    assert_eq!(n(&s["server"]["resumes"]), 20);
    // Peers that stayed connected heard about each drop and each return.
    assert!(
        n(&r["peer_reconnecting"]) > 0 && n(&r["peer_reconnected"]) > 0,
        "{r}"
    );
}

#[test]
fn a_stalled_server_is_noticed_by_the_ping_timer_and_answers_the_reauth_after() {
    // The request timeout (the SDK's 5 s) outlasts the rest of the stall, so the first attempt
    // gets its answer. (With a shorter one the attempt times out, the server later resumes the
    // abandoned socket with the reconnect token, and the retry's token is spent: 10004.)
    let yaml = format!(
        "version: 1
name: stall
deadline: 60s
{}
rooms: {{ count: 5 }}
groups:
  - name: member
    per_room: 4
    arrival: {{ ramp: {{ over: 1s }} }}
    script: [join, {{ hold: 14s }}, leave]
    expect: {{ completed: 20 }}
faults:
  - {{ at: 3s, kind: stall, for: 5s }}
",
        FAST.replace("request_timeout: 2s", "request_timeout: 5s")
    );
    let s = passed("stall", &yaml, 20);
    let r = &s["recovery"];
    assert_eq!(n(&r["losses"]["ping_timeout"]), 20, "{r}");
    assert_eq!(n(&r["reconnected"]), 20, "{r}");
    assert_eq!(count(&r["gave_up"]), 0);
    assert_eq!(n(&s["server"]["faults"]["stalls"]), 1);
    assert_eq!(n(&r["attempts"]["1"]), 20, "{r}");
    assert_eq!(n(&s["server"]["resumes"]), 20);
    // The re-auth waits out the rest of the stall: reconnect takes at least until it ends.
    assert!(n(&s["latency"]["reconnect"]["min"]) >= 1_000_000);
}

#[test]
fn auth_latency_slows_every_join_while_it_lasts() {
    let s = passed(
        "auth-latency",
        "version: 1
name: auth-latency
deadline: 60s
rooms: { count: 5 }
groups:
  - name: member
    per_room: 4
    arrival: { ramp: { start: 500ms, over: 1s } }
    script: [join, { hold: 1s }, leave]
    expect: { completed: 20 }
faults:
  - { at: 0s, kind: auth_latency, by: 400ms, for: 5s }
",
        20,
    );
    assert_eq!(n(&s["server"]["faults"]["auth_latency"]), 1);
    let join = &s["latency"]["join"];
    assert_eq!(n(&join["count"]), 20);
    assert!(n(&join["min"]) >= 400_000, "{join}");
}

#[test]
fn a_target_without_the_fault_extension_is_refused_before_any_load() {
    // Something that answers HTTP but knows nothing of the extension: every request gets 404.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming().take(8) {
            let Ok(mut stream) = stream else { continue };
            use std::io::{Read as _, Write as _};
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let _ = stream.write_all(
                b"HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: 21\r\nConnection: close\r\n\r\n{\"error\":\"not found\"}",
            );
        }
    });
    let yaml = format!(
        "version: 1
name: no-extension
deadline: 30s
target: {{ url: \"{url}\", fault_api: true }}
credentials: {{ access_key: ak, secret_key: secret-never-printed }}
app: a
rooms: {{ count: 1 }}
groups:
  - name: member
    per_room: 2
    arrival: {{ burst: {{ at: 0s }} }}
    script: [join, {{ hold: 5s }}, leave]
faults:
  - {{ at: 2s, kind: stall, for: 1s }}
"
    );
    let r = run("no-extension", &yaml, &[]);
    assert_eq!(r.code, 3, "{}\n{}", r.stdout, r.stderr);
    assert!(r.summary.is_none(), "no load, no report");
    assert!(
        r.stderr.contains("`stall` fault")
            && r.stderr.contains("does not offer it")
            && r.stderr.contains("fault-injection extension"),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains("secret-never-printed"));
}

#[test]
fn the_deadline_ends_reconnects_in_progress_and_counts_every_one() {
    // The server is down for 20 s from t = 2 s; the deadline comes at 6 s, while every member is
    // RECONNECTING (its attempts would come at +5, +10 and +15 s): each gives the reconnect up,
    // and ends aborted.
    let r = run(
        "deadline-reconnecting",
        "version: 1
name: deadline-reconnecting
deadline: 6s
leave_grace: 1s
rooms: { count: 4 }
groups:
  - name: member
    per_room: 3
    arrival: { ramp: { over: 500ms } }
    script: [join, { hold: 30s }, leave]
faults:
  - { at: 2s, kind: restart, for: 20s }
",
        &[],
    );
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    let s = r.summary.expect("a summary");
    assert_eq!(s["end_reason"], "deadline");
    assert_eq!(n(&s["conservation"]["accounted"]), 12);
    assert_eq!(n(&s["outcomes"]["by_outcome"]["aborted"]["unexpected"]), 12);
    let rec = &s["recovery"];
    assert_eq!(n(&rec["losses"]["close_1006"]), 12, "{rec}");
    assert_eq!(n(&rec["abandoned"]), 12, "{rec}");
    assert_eq!(n(&s["transitions"]["RECONNECTING->DISCONNECTED"]), 12);
    assert_eq!(n(&s["latency"]["reconnecting"]["count"]), 12);
}

#[test]
fn the_roster_is_diffed_after_a_reconnect() {
    // Per room: `away` is blackholed from t = 3 s to 9 s and comes back about then; meanwhile
    // `leaver` leaves (t ≈ 4.5 s) and `newcomer` joins (t = 6 s). Neither notice reaches the away
    // member's frozen socket, so its re-auth's member list shows one left and one joined.
    let yaml = format!(
        "version: 1
name: roster-diff
deadline: 60s
{FAST}
rooms: {{ count: 4 }}
groups:
  - name: away
    per_room: 1
    arrival: {{ ramp: {{ over: 500ms }} }}
    script: [join, {{ hold: 16s }}, leave]
    expect: {{ completed: 4 }}
  - name: leaver
    per_room: 1
    arrival: {{ ramp: {{ over: 500ms }} }}
    script: [join, {{ hold: 4s }}, leave]
    expect: {{ completed: 4 }}
  - name: newcomer
    per_room: 1
    arrival: {{ ramp: {{ start: 6s, over: 500ms }} }}
    script: [join, {{ hold: 10s }}, leave]
    expect: {{ completed: 4 }}
faults:
  - {{ at: 3s, kind: blackhole, group: away, share: 100%, for: 6s }}
"
    );
    let s = passed("roster-diff", &yaml, 12);
    let r = &s["recovery"];
    assert_eq!(n(&r["reconnected"]), 4, "{r}");
    assert_eq!(n(&r["roster_left"]), 4, "{r}");
    assert_eq!(n(&r["roster_joined"]), 4, "{r}");
}
