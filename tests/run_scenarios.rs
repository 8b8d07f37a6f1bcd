//! Every shipped scenario, run by the real binary against the embedded server, with exact counts
//! from both sides: roomstorm's outcomes and codes, and the server's own counters.

use std::process::Command;

use serde_json::Value;

struct Run {
    code: i32,
    stdout: String,
    summary: Value,
}

fn run_scenario(name: &str) -> Run {
    let out_dir = std::env::temp_dir().join(format!("roomstorm-e2e-{name}-{}", std::process::id()));
    let out = Command::new(env!("CARGO_BIN_EXE_roomstorm"))
        .args(["run", &format!("scenarios/{name}.yaml"), "--quiet", "--out"])
        .arg(&out_dir)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let path = stdout
        .lines()
        .find_map(|l| l.strip_prefix("results: "))
        .unwrap_or_else(|| {
            panic!(
                "no results line; stdout:\n{stdout}\nstderr:\n{}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
    let summary: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    std::fs::remove_dir_all(&out_dir).unwrap();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout,
        summary,
    }
}

fn n(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}"))
}

/// Checks what every passing run must show, and returns the summary.
fn passed(name: &str, lifecycles: u64) -> Value {
    let r = run_scenario(name);
    let s = r.summary;
    assert_eq!(r.code, 0, "{name} failed:\n{}", r.stdout);
    assert_eq!(s["verdict"], "pass");
    assert_eq!(s["end_reason"], "completed");
    assert_eq!(n(&s["conservation"]["scheduled"]), lifecycles);
    assert_eq!(n(&s["conservation"]["accounted"]), lifecycles);
    assert_eq!(n(&s["outcomes"]["unexpected"]), 0);
    assert_eq!(n(&s["presence"]["errors"]), 0);
    assert!(
        s["failures"].as_object().unwrap().is_empty(),
        "{}",
        s["failures"]
    );
    assert_eq!(n(&s["server"]["members"]), 0, "everyone left");
    assert!(r.stdout.contains("verdict: PASS"));
    s
}

fn outcome(s: &Value, key: &str) -> u64 {
    n(&s["outcomes"]["by_outcome"][key]["expected"])
}

#[test]
fn mass_join_5000_in_500_rooms() {
    let s = passed("mass-join", 5000);
    assert_eq!(outcome(&s, "completed"), 5000);
    assert_eq!(n(&s["codes"]["join"]["0"]), 5000);
    // Server side: 5,000 accepted auths, 5,000 leaves.
    assert_eq!(n(&s["server"]["auths"]["0"]), 5000);
    assert_eq!(n(&s["server"]["departures"]["leave"]), 5000);
    // In a room of 10, the k-th member to join is pushed to the k−1 already there: 45 pushes per
    // room are measured as peer_visible; the player list covers the rest.
    assert_eq!(n(&s["latency"]["peer_visible"]["count"]), 500 * 45);
    for metric in ["join", "time_to_connected", "connect", "leave", "lateness"] {
        assert_eq!(n(&s["latency"][metric]["count"]), 5000, "{metric}");
    }
    assert_eq!(n(&s["presence"]["stays"]), 5000);
    // Each participant walked DISCONNECTED → CONNECTING → CONNECTED → DISCONNECTED, once.
    let t = &s["transitions"];
    assert_eq!(t.as_object().unwrap().len(), 3, "{t}");
    assert_eq!(n(&t["DISCONNECTED->CONNECTING"]), 5000);
    assert_eq!(n(&t["CONNECTING->CONNECTED"]), 5000);
    assert_eq!(n(&t["CONNECTED->DISCONNECTED"]), 5000);
}

#[test]
fn full_rooms_refuse_exactly_two_per_room_with_10011() {
    let s = passed("full-room-10011", 500);
    assert_eq!(outcome(&s, "completed"), 400);
    assert_eq!(outcome(&s, "10011"), 100);
    assert_eq!(n(&s["codes"]["join"]["10011"]), 100);
    assert_eq!(n(&s["server"]["auths"]["0"]), 400);
    assert_eq!(n(&s["server"]["auths"]["10011"]), 100);
    // The refused ones went CONNECTING → DISCONNECTED (ERROR 10011).
    assert_eq!(n(&s["transitions"]["CONNECTING->DISCONNECTED"]), 100);
    assert_eq!(n(&s["transitions"]["CONNECTING->CONNECTED"]), 400);
    assert_eq!(n(&s["server"]["departures"]["leave"]), 400);
    let thresholds = s["thresholds"].as_array().unwrap();
    assert_eq!(thresholds.len(), 3);
    assert!(
        thresholds.iter().all(|t| t["passed"] == true),
        "{thresholds:?}"
    );
}

#[test]
fn expired_and_expiring_tokens_give_10002() {
    let s = passed("token-expiry-10002", 300);
    let groups = &s["outcomes"]["by_group"];
    assert_eq!(n(&groups["expired"]["10002"]["expected"]), 100);
    assert_eq!(n(&groups["late"]["10002"]["expected"]), 100);
    assert_eq!(n(&groups["in-time"]["completed"]["expected"]), 100);
    assert_eq!(n(&s["server"]["auths"]["10002"]), 200);
    assert_eq!(n(&s["server"]["auths"]["0"]), 100);
}

#[test]
fn forged_tokens_give_10001_and_leave_rooms_undisturbed() {
    let s = passed("bad-token-10001", 300);
    assert_eq!(outcome(&s, "10001"), 100);
    assert_eq!(outcome(&s, "completed"), 200);
    assert_eq!(n(&s["server"]["auths"]["10001"]), 100);
    assert_eq!(n(&s["server"]["auths"]["0"]), 200);
    // 4 good members per room: 6 pushes each room, and nobody ever sees a forger.
    assert_eq!(n(&s["latency"]["peer_visible"]["count"]), 50 * 6);
    assert_eq!(n(&s["presence"]["notices_unknown_user"]), 0);
}

#[test]
fn a_second_login_ends_the_first_with_10022() {
    let s = passed("duplicate-login-10022", 200);
    let groups = &s["outcomes"]["by_group"];
    assert_eq!(n(&groups["first"]["10022"]["expected"]), 100);
    assert_eq!(n(&groups["second"]["completed"]["expected"]), 100);
    assert_eq!(n(&s["codes"]["disconnect"]["10022"]), 100);
    assert_eq!(n(&s["server"]["disconnects"]["10022"]), 100);
    assert_eq!(n(&s["server"]["departures"]["evicted"]), 100);
    assert_eq!(n(&s["server"]["departures"]["leave"]), 100);
    assert_eq!(n(&s["server"]["auths"]["0"]), 200);
}

#[test]
fn closed_model_churn_runs_every_iteration() {
    let s = passed("churn-closed", 1000);
    assert_eq!(outcome(&s, "completed"), 1000);
    assert_eq!(n(&s["plan"]["participants"]), 200);
    assert_eq!(n(&s["server"]["auths"]["0"]), 1000);
    assert_eq!(n(&s["server"]["departures"]["leave"]), 1000);
    assert_eq!(n(&s["presence"]["stays"]), 1000);
    // Closed model: time_to_connected counts every iteration's first join.
    assert_eq!(n(&s["latency"]["time_to_connected"]["count"]), 1000);
}
