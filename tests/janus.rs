//! The Janus scenarios end to end against a real Janus (Debian's package, one per test on a free
//! loopback port, started and stopped by `scripts/janus`), with exact outcome counts from the
//! run's summary, cross-checked with what Janus itself lists (`list`, `listparticipants`) while
//! the run goes on. `scripts/test.sh` installs Janus and sets `ROOMSTORM_REQUIRE_JANUS=1`, so CI
//! cannot skip these.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use roomstorm::target::janus::Control;
use serde_json::Value;

mod common;

use common::janus::{SECRET, TestJanus};

/// What Janus listed at one moment: seconds since the run was launched, the rooms, and the
/// members of all of them by display name (roomstorm puts the user id there).
#[derive(Clone)]
struct Sample {
    t: f64,
    rooms: usize,
    members: Vec<String>,
}

impl std::fmt::Debug for Sample {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:.2}s: {} rooms, {} members",
            self.t,
            self.rooms,
            self.members.len()
        )
    }
}

/// A finished run with Janus's view of it.
struct Watched {
    code: i32,
    summary: Value,
    output: String,
    samples: Vec<Sample>,
    /// The rooms Janus still had after the run ended.
    rooms_after: usize,
}

impl Watched {
    /// Samples taken between `from` and `to` seconds.
    fn between(&self, from: f64, to: f64) -> Vec<&Sample> {
        self.samples
            .iter()
            .filter(|s| s.t >= from && s.t <= to)
            .collect()
    }

    fn peak_members(&self) -> &Sample {
        self.samples
            .iter()
            .max_by_key(|s| s.members.len())
            .expect("at least one sample")
    }

    /// A group's outcome counts (`completed`, a code, …), expected or not, from the summary.
    fn outcomes(&self, group: &str) -> Value {
        let by = self.summary["outcomes"]["by_group"][group]
            .as_object()
            .unwrap_or_else(|| panic!("no group {group}: {}", self.output));
        let count = |v: &Value| v["expected"].as_u64().unwrap() + v["unexpected"].as_u64().unwrap();
        Value::Object(
            by.iter()
                .map(|(k, v)| (k.clone(), Value::from(count(v))))
                .collect(),
        )
    }
}

/// A Janus token for the test's own control session (when Janus checks tokens).
fn control_token(token_auth: bool) -> Option<String> {
    use roomstorm::signaling::janus::token;
    token_auth.then(|| {
        token::mint(
            &roomstorm::credentials::SecretKey::new(SECRET),
            roomstorm::token::unix_now() + 3600,
            &[token::VIDEOROOM],
        )
    })
}

/// `roomstorm run scenarios/<scenario> --target <janus> --out <its folder>/reports`, to be
/// completed with stdio and spawned.
fn roomstorm_run(janus: &TestJanus, scenario: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_roomstorm"));
    cmd.arg("run")
        .arg(Path::new("scenarios").join(scenario))
        .args(["--target", &janus.url, "--out"])
        .arg(janus.dir().join("reports"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("ROOMSTORM_LOG");
    cmd
}

/// Starts a Janus of its own for test `name` (`janus_options` for `scripts/janus start`), runs
/// `scenario` against it with more `roomstorm run` arguments (`args`), and lists Janus's rooms
/// and members every 250 ms meanwhile; `None` when Janus is not installed (and not required).
fn watched(name: &str, janus_options: &[&str], scenario: &str, args: &[&str]) -> Option<Watched> {
    let janus = TestJanus::start(name, janus_options)?;
    let token_auth = janus_options.contains(&"--token-auth");
    Some(run_watched(&janus, scenario, token_auth, args))
}

fn run_watched(janus: &TestJanus, scenario: &str, token_auth: bool, args: &[&str]) -> Watched {
    let log = |name: &str| std::fs::File::create(janus.dir().join(name)).unwrap();
    let launched = Instant::now();
    let mut child = roomstorm_run(janus, scenario)
        .args(args)
        .env("JANUS_TOKEN_SECRET", SECRET)
        .stdout(Stdio::from(log("run.out")))
        .stderr(Stdio::from(log("run.err")))
        .spawn()
        .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (samples, rooms_after, status) = rt.block_on(async {
        let control = Control::connect(&janus.url, control_token(token_auth))
            .await
            .expect("the test's control session opens");
        let mut samples = Vec::new();
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            assert!(
                launched.elapsed() < Duration::from_secs(120),
                "the run did not end within 120 s"
            );
            let rooms = control.rooms().await.expect("list");
            let mut members = Vec::new();
            for room in &rooms {
                // A room may be destroyed between `list` and `listparticipants` (426).
                if let Ok(list) = control.participants(*room).await {
                    members.extend(list.into_iter().map(|(_, display)| display));
                }
            }
            samples.push(Sample {
                t: launched.elapsed().as_secs_f64(),
                rooms: rooms.len(),
                members,
            });
            tokio::time::sleep(Duration::from_millis(250)).await;
        };
        let after = control.rooms().await.expect("list after the run").len();
        control.close().await.expect("the control session ends");
        (samples, after, status)
    });
    let read = |name: &str| std::fs::read_to_string(janus.dir().join(name)).unwrap();
    let output = format!("{}\n{}", read("run.out"), read("run.err"));
    let summary_path = output
        .lines()
        .find_map(|l| l.strip_prefix("results: "))
        .unwrap_or_else(|| panic!("no results line:\n{output}"));
    let summary: Value =
        serde_json::from_str(&std::fs::read_to_string(summary_path).unwrap()).unwrap();
    assert!(
        !output.contains(SECRET),
        "the token secret is never printed:\n{output}"
    );
    Watched {
        code: status.code().unwrap_or(-1),
        summary,
        output,
        samples,
        rooms_after,
    }
}

/// Distinct display names, in order.
fn names(s: &Sample) -> BTreeSet<&str> {
    s.members.iter().map(String::as_str).collect()
}

#[test]
fn mass_join_every_member_is_in_janus_s_rooms_at_once_and_the_rooms_go_afterwards() {
    let Some(run) = watched("janus-mass-join", &[], "janus-mass-join.yaml", &[]) else {
        return;
    };
    assert_eq!(run.code, 0, "{}", run.output);
    assert_eq!(
        run.outcomes("member"),
        serde_json::json!({"completed": 500})
    );
    assert_eq!(run.summary["presence"]["errors"], 0, "{}", run.output);
    // Janus's own view: all 500 at once (ramp 10 s, hold 20 s), in the run's 50 rooms, under
    // the users' names, each once.
    let peak = run.peak_members();
    assert_eq!(peak.members.len(), 500, "{peak:?}");
    assert_eq!(names(peak).len(), 500, "no member listed twice");
    assert!(names(peak).iter().all(|n| n.starts_with("m-")), "{peak:?}");
    assert_eq!(peak.rooms, 50);
    assert_eq!(run.rooms_after, 0, "the run destroys its rooms");
    assert!(
        run.output.contains("janus: created 50 rooms"),
        "{}",
        run.output
    );
}

/// The exact outcomes of `janus-room-destroyed.yaml`, by group.
fn assert_room_destroyed_outcomes(run: &Watched) {
    assert_eq!(run.outcomes("host"), serde_json::json!({"kicked": 50}));
    assert_eq!(
        run.outcomes("member"),
        serde_json::json!({"completed": 400, "21003": 100})
    );
    assert_eq!(
        run.outcomes("latecomer"),
        serde_json::json!({"completed": 40, "10012": 10})
    );
}

#[test]
fn kicked_hosts_end_10006_destroyed_rooms_end_their_members_21003_and_latecomers_find_them_closed()
{
    let Some(run) = watched("janus-destroyed", &[], "janus-room-destroyed.yaml", &[]) else {
        return;
    };
    assert_eq!(run.code, 0, "{}", run.output);
    assert_room_destroyed_outcomes(&run);
    // Janus's view: 550 in 50 rooms before the kick (8 s), the 500 members after it, and 40
    // rooms of 10 after the destroy (10 s).
    let before = run.between(6.0, 7.5);
    assert!(!before.is_empty());
    assert!(
        before
            .iter()
            .all(|s| s.rooms == 50 && s.members.len() == 550),
        "{before:?}"
    );
    let kicked = run.between(8.7, 9.5);
    assert!(!kicked.is_empty());
    assert!(
        kicked
            .iter()
            .all(|s| s.members.len() == 500 && s.members.iter().all(|m| !m.starts_with("host"))),
        "{kicked:?}"
    );
    let after = run.between(11.0, 14.0);
    assert!(!after.is_empty());
    assert!(
        after
            .iter()
            .all(|s| s.rooms == 40 && s.members.len() == 400),
        "{after:?}"
    );
    assert_eq!(run.rooms_after, 0);
}

#[test]
fn two_shards_against_one_janus_share_the_room_numbers_and_secret_and_merge_exactly() {
    let args = ["--shards", "2"];
    let Some(run) = watched("janus-shards", &[], "janus-room-destroyed.yaml", &args) else {
        return;
    };
    assert_eq!(run.code, 0, "{}", run.output);
    // Shard 0 fires `close_rooms` for rooms the other shard created: same numbers, same secret.
    assert_room_destroyed_outcomes(&run);
    assert_eq!(run.peak_members().members.len(), 550);
    assert_eq!(run.peak_members().rooms, 50);
    assert_eq!(run.rooms_after, 0, "each shard destroys its own rooms");
}

#[test]
fn members_reclaim_their_session_after_a_reset_and_janus_never_lists_them_gone() {
    let Some(run) = watched("janus-reclaim", &["-m", "20"], "janus-reconnect.yaml", &[]) else {
        return;
    };
    assert_eq!(run.code, 0, "{}", run.output);
    assert_eq!(
        run.outcomes("member"),
        serde_json::json!({"completed": 200})
    );
    assert_eq!(
        run.summary["recovery"]["reconnected"], 100,
        "{}",
        run.output
    );
    // Everyone is in from 5 s to 30 s; the reset at 10 s and the claims at about 15 s leave
    // Janus's rooms untouched: the session waited for its claim.
    let hold = run.between(6.0, 24.0);
    assert!(hold.len() >= 40, "{} samples", hold.len());
    assert!(hold.iter().all(|s| s.members.len() == 200), "{hold:?}");
    assert_eq!(run.rooms_after, 0);
}

#[test]
fn without_a_reclaim_window_the_reset_members_end_with_10007_and_leave_janus_s_rooms() {
    let Some(run) = watched("janus-no-reclaim", &[], "janus-reconnect.yaml", &[]) else {
        return;
    };
    assert_ne!(run.code, 0, "the scenario expects reclaims: {}", run.output);
    assert_eq!(
        run.outcomes("member"),
        serde_json::json!({"completed": 100, "10007": 100})
    );
    assert_eq!(run.summary["recovery"]["reconnected"], 0);
    // The sessions die with their sockets at 10 s: Janus lists the other 100 only.
    let before = run.between(6.0, 9.5);
    assert!(before.iter().all(|s| s.members.len() == 200), "{before:?}");
    let after = run.between(11.0, 24.0);
    assert!(!after.is_empty());
    assert!(after.iter().all(|s| s.members.len() == 100), "{after:?}");
}

#[test]
fn janus_tokens_forged_and_expired_are_refused_and_one_expiring_mid_stay_ends_it() {
    let Some(run) = watched(
        "janus-tokens",
        &["--token-auth"],
        "janus-token-expiry.yaml",
        &[],
    ) else {
        return;
    };
    assert_eq!(run.code, 0, "{}", run.output);
    for (group, want) in [
        ("forged", serde_json::json!({"10001": 20})),
        ("expired", serde_json::json!({"10002": 20})),
        ("late", serde_json::json!({"10002": 20})),
        ("in-time", serde_json::json!({"completed": 20})),
        ("expiring", serde_json::json!({"10002": 20})),
    ] {
        assert_eq!(run.outcomes(group), want, "{group}");
    }
    // Janus admitted only the 40 with good tokens; the expiring 20 are out once their keepalive
    // after 5 s is refused (by 10 s), the in-time 20 stay until 15–17 s.
    let peak = run.peak_members();
    assert_eq!(peak.members.len(), 40, "{peak:?}");
    let between = run.between(11.5, 14.0);
    assert!(!between.is_empty());
    assert!(between.iter().all(|s| s.members.len() == 20), "{between:?}");
    assert_eq!(run.rooms_after, 0);
}

#[test]
fn an_interrupted_run_against_janus_writes_its_report_and_still_destroys_its_rooms() {
    let Some(janus) = TestJanus::start("janus-interrupted", &[]) else {
        return;
    };
    let mut child = roomstorm_run(&janus, "janus-mass-join.yaml")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let control = rt.block_on(async {
        let control = Control::connect(&janus.url, None).await.unwrap();
        // Wait until the run has created its rooms and members are in them.
        let began = Instant::now();
        loop {
            let rooms = control.rooms().await.unwrap();
            let mut members = 0;
            for room in &rooms {
                members += control.participants(*room).await.map_or(0, |l| l.len());
            }
            if members >= 100 {
                break;
            }
            assert!(
                began.elapsed() < Duration::from_secs(30),
                "no members in 30 s"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        control
    });
    // SAFETY: SIGINT to our own child, by its PID.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let done = common::wait_output(&mut child, Duration::from_secs(30)).expect("ends after Ctrl-C");
    let stdout = String::from_utf8_lossy(&done.stdout);
    let stderr = String::from_utf8_lossy(&done.stderr);
    let summary_path = stdout
        .lines()
        .find_map(|l| l.strip_prefix("results: "))
        .unwrap_or_else(|| panic!("{stdout}\n{stderr}"));
    let summary: Value =
        serde_json::from_str(&std::fs::read_to_string(summary_path).unwrap()).unwrap();
    assert_eq!(summary["end_reason"], "interrupted");
    assert_eq!(summary["conservation"]["holds"], true, "{stdout}");
    assert_eq!(summary["conservation"]["scheduled"], 500);
    assert!(stderr.contains("janus: destroyed 50 rooms"), "{stderr}");
    let after = rt.block_on(async {
        let after = control.rooms().await.unwrap();
        control.close().await.unwrap();
        after
    });
    assert!(after.is_empty(), "rooms left on Janus: {after:?}");
}

#[test]
fn a_janus_that_checks_tokens_refuses_a_run_without_the_secret_before_any_load() {
    let Some(janus) = TestJanus::start("janus-no-secret", &["--token-auth"]) else {
        return;
    };
    let done = roomstorm_run(&janus, "janus-mass-join.yaml")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&done.stderr);
    assert_eq!(done.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("Janus refused create session: 403")
            && stderr.contains("set `token_secret` under the scenario's `target`"),
        "{stderr}"
    );
    assert!(
        !janus.dir().join("reports").exists(),
        "no run folder: nothing was loaded"
    );
}
