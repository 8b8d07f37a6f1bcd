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
    let s = passed_leaving(name, lifecycles, 0);
    assert_eq!(n(&s["server"]["members"]), 0, "everyone left");
    s
}

/// [`passed`], for runs that end with `still_members` members inside their reconnect window on
/// the server (they gave up reconnecting; the server removes them when the window passes).
fn passed_leaving(name: &str, lifecycles: u64, still_members: u64) -> Value {
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
    assert_eq!(n(&s["server"]["members"]), still_members);
    assert_eq!(n(&s["server"]["detached"]), still_members);
    assert!(r.stdout.contains("verdict: PASS"));
    // Every scripted fault fired and did what it says.
    for f in s["faults"].as_array().unwrap() {
        assert_eq!(f["ok"], true, "{f}");
        assert_eq!(n(&f["hits"]["failed"]), 0, "{f}");
    }
    s
}

fn count(v: &Value) -> u64 {
    v.as_u64().unwrap_or(0)
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

#[test]
fn reconnect_storm_brings_every_reset_member_back() {
    let s = passed("reconnect-storm", 1000);
    assert_eq!(outcome(&s, "completed"), 1000);
    let r = &s["recovery"];
    assert_eq!(n(&r["losses"]["close_1006"]), 300, "{r}");
    assert_eq!(n(&r["reconnected"]), 300);
    assert_eq!(
        n(&r["attempts"]["1"]),
        300,
        "the network is back before the first attempt"
    );
    assert_eq!(count(&r["gave_up"]), 0);
    assert_eq!(n(&s["faults"][0]["hits"]["applied"]), 300);
    assert_eq!(n(&s["transitions"]["CONNECTED->RECONNECTING"]), 300);
    assert_eq!(n(&s["transitions"]["RECONNECTING->RECONNECTED"]), 300);
    assert_eq!(n(&s["transitions"]["RECONNECTED->DISCONNECTED"]), 300);
    assert_eq!(n(&s["latency"]["detect"]["count"]), 300);
    assert_eq!(n(&s["latency"]["reconnect"]["count"]), 300);
    // The SDK waits its 5 s request timeout after a 1006 before the (successful) attempt.
    assert!(
        n(&s["latency"]["reconnect"]["min"]) >= 5_000_000,
        "{}",
        s["latency"]["reconnect"]
    );
    assert!(s["recovery_converged_after_us"].as_u64().is_some());
    // Server side: 1,300 accepted auths (300 of them re-auths resuming a session), and every
    // member left normally at the end.
    assert_eq!(n(&s["server"]["auths"]["0"]), 1300);
    assert_eq!(n(&s["server"]["resumes"]), 300);
    assert_eq!(n(&s["server"]["departures"]["leave"]), 1000);
}

#[test]
fn server_restart_survives_5s_and_gives_up_after_20s() {
    // Everyone gives up in the second outage; the server still holds them in their window.
    let s = passed_leaving("server-restart", 200, 200);
    assert_eq!(outcome(&s, "10007"), 200);
    let r = &s["recovery"];
    assert_eq!(n(&r["losses"]["close_1006"]), 400, "two breaks each: {r}");
    assert_eq!(n(&r["reconnected"]), 200);
    assert_eq!(n(&r["gave_up"]), 200);
    // The first outage takes one attempt (or two when the first races the listener's return);
    // the second uses all three.
    let attempts = r["attempts"].as_object().unwrap();
    assert_eq!(
        count(&r["attempts"]["1"]) + count(&r["attempts"]["2"]),
        200,
        "{r}"
    );
    assert_eq!(n(&r["attempts"]["3"]), 200, "{r}");
    assert!(
        attempts
            .keys()
            .all(|k| ["1", "2", "3"].contains(&k.as_str())),
        "{r}"
    );
    assert_eq!(n(&s["transitions"]["RECONNECTED->RECONNECTING"]), 200);
    assert_eq!(n(&s["transitions"]["RECONNECTING->DISCONNECTED"]), 200);
    assert_eq!(n(&s["server"]["faults"]["restarts"]), 2);
    assert_eq!(
        n(&s["server"]["auths"]["0"]),
        400,
        "200 joins + 200 resumes"
    );
    assert_eq!(n(&s["server"]["resumes"]), 200);
}

#[test]
fn members_back_after_the_window_are_refused_10004() {
    let s = passed("reconnect-window-21003", 200);
    assert_eq!(outcome(&s, "completed"), 160);
    assert_eq!(outcome(&s, "10004"), 40);
    let r = &s["recovery"];
    assert_eq!(n(&r["refused"]["10004"]), 40, "{r}");
    assert_eq!(
        n(&r["unhandled_21003"]),
        40,
        "the SDK's promise view of the same refusals"
    );
    assert_eq!(
        n(&r["attempts"]["2"]),
        40,
        "first attempt while offline, second refused"
    );
    assert_eq!(n(&s["codes"]["reauth"]["10004"]), 40);
    // Server side: the window passed for exactly those 40, and it answered their re-auth 10004.
    assert_eq!(n(&s["server"]["departures"]["window_expired"]), 40);
    assert_eq!(n(&s["server"]["auths"]["10004"]), 40);
    assert_eq!(n(&s["server"]["departures"]["leave"]), 160);
}

#[test]
fn closing_rooms_ends_their_members_with_10012() {
    let s = passed("room-closed-10012", 500);
    assert_eq!(outcome(&s, "completed"), 400);
    assert_eq!(outcome(&s, "10012"), 100);
    assert_eq!(n(&s["codes"]["disconnect"]["10012"]), 100);
    assert_eq!(n(&s["server"]["disconnects"]["10012"]), 100);
    assert_eq!(n(&s["server"]["departures"]["room_closed"]), 100);
    assert_eq!(n(&s["server"]["departures"]["leave"]), 400);
}

#[test]
fn kicks_end_their_targets_kicked_out() {
    let s = passed("kick-10006", 500);
    assert_eq!(outcome(&s, "completed"), 450);
    assert_eq!(outcome(&s, "kicked"), 50);
    assert_eq!(n(&s["faults"][0]["hits"]["applied"]), 50);
    assert_eq!(n(&s["server"]["disconnects"]["10006"]), 50);
    assert_eq!(n(&s["server"]["departures"]["kicked"]), 50);
    assert_eq!(n(&s["server"]["departures"]["leave"]), 450);
    // Each kick reached the other 9 members of its room as user-left.
    assert!(n(&s["latency"]["peer_gone"]["count"]) >= 50 * 9);
}

#[test]
fn duplicate_logins_during_a_storm_end_every_old_session_with_10022() {
    let s = passed("duplicate-login-storm", 600);
    assert_eq!(
        n(&s["outcomes"]["by_group"]["first"]["10022"]["expected"]),
        200
    );
    assert_eq!(
        n(&s["outcomes"]["by_group"]["second"]["completed"]["expected"]),
        200
    );
    assert_eq!(
        n(&s["outcomes"]["by_group"]["bystander"]["completed"]["expected"]),
        200
    );
    // Connected old sessions are told at once; the away half learn it at re-auth.
    assert_eq!(n(&s["codes"]["disconnect"]["10022"]), 100);
    assert_eq!(n(&s["codes"]["reauth"]["10022"]), 100);
    assert_eq!(n(&s["server"]["departures"]["evicted"]), 200);
    assert_eq!(n(&s["server"]["auths"]["10022"]), 100);
    assert_eq!(n(&s["server"]["disconnects"]["10022"]), 100);
}
