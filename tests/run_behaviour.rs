//! `roomstorm run` beyond the happy path: Ctrl-C, the deadline, an external target with keys
//! from the environment (and never in any output), refusals before any load, `--dry-run`.

use std::io::Read as _;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

fn roomstorm() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_roomstorm"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("ROOMSTORM_LOG");
    c
}

mod common;

use common::http_get;
use common::scratch::ScratchDir;

/// A scratch folder with a scenario file in it.
struct Scratch(ScratchDir);

impl Scratch {
    fn new(name: &str, scenario: &str) -> Self {
        let dir = ScratchDir::new(name);
        dir.write("scenario.yaml", scenario);
        Self(dir)
    }
    fn scenario(&self) -> PathBuf {
        self.0.path().join("scenario.yaml")
    }
    fn out(&self) -> PathBuf {
        self.0.path().join("reports")
    }
}

struct Finished {
    code: i32,
    stdout: String,
    stderr: String,
    summary: Value,
    summary_text: String,
    /// The run folder.
    dir: PathBuf,
}

fn finish(mut child: Child, limit: Duration) -> Finished {
    let status = common::wait_with_timeout(&mut child, limit)
        .unwrap_or_else(|| panic!("run did not end within {limit:?}"));
    let mut stdout = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let path = stdout
        .lines()
        .find_map(|l| l.strip_prefix("results: "))
        .unwrap_or_else(|| panic!("no results line\nstdout:\n{stdout}\nstderr:\n{stderr}"));
    let summary_text = std::fs::read_to_string(path).unwrap();
    let dir = std::path::Path::new(path).parent().unwrap().to_path_buf();
    Finished {
        dir,
        code: status.code().unwrap_or(-1),
        stdout,
        stderr,
        summary: serde_json::from_str(&summary_text).unwrap(),
        summary_text,
    }
}

fn n(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}"))
}

fn spawn_run(scratch: &Scratch, extra: &[&str]) -> Child {
    spawn_run_with(scratch, extra, &[])
}

fn spawn_run_with(scratch: &Scratch, extra: &[&str], env: &[(&str, &str)]) -> Child {
    roomstorm()
        .arg("run")
        .arg(scratch.scenario())
        .arg("--out")
        .arg(scratch.out())
        .args(extra)
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

const LONG_HOLD: &str = "version: 1
name: interrupted
deadline: 2m
leave_grace: 5s
rooms: { count: 20 }
groups:
  - name: member
    per_room: 5
    arrival: { ramp: { over: 20s } }
    script: [join, { hold: 60s }, leave]
";

#[test]
fn ctrl_c_stops_arrivals_lets_members_leave_and_still_writes_the_summary() {
    let scratch = Scratch::new("ctrl-c", LONG_HOLD);
    let child = spawn_run(&scratch, &[]);
    std::thread::sleep(Duration::from_secs(4));
    // SAFETY: signalling our own child by its PID.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let f = finish(child, Duration::from_secs(30));
    assert_eq!(f.code, 3, "interrupted runs exit 3\n{}", f.stdout);
    let s = &f.summary;
    assert_eq!(s["verdict"], "interrupted");
    assert_eq!(s["end_reason"], "interrupted");
    assert!(f.stdout.contains("INTERRUPTED"), "{}", f.stdout);
    // Every report is written for an interrupted run too.
    let html = std::fs::read_to_string(f.dir.join("report.html")).unwrap();
    assert!(
        html.contains("INTERRUPTED"),
        "the page says the results are partial"
    );
    assert!(f.dir.join("junit.xml").exists() && f.dir.join("hlog/join.hlog").exists());
    assert!(
        f.stderr.contains("interrupted: arrivals stopped"),
        "{}",
        f.stderr
    );
    // Progress lines went to stderr (not a terminal here).
    assert!(f.stderr.contains("arrivals "), "{}", f.stderr);
    // Every one of the 100 has exactly one outcome: none completed its 60 s hold.
    assert_eq!(n(&s["conservation"]["scheduled"]), 100);
    assert_eq!(n(&s["conservation"]["accounted"]), 100);
    assert_eq!(
        n(&s["outcomes"]["by_outcome"]["aborted"]["unexpected"]),
        100
    );
    // About 20 arrived in 4 s of a 20 s ramp; each of those left cleanly, as the server saw.
    let joined = n(&s["codes"]["join"]["0"]);
    assert!((10..=40).contains(&joined), "{joined} joined");
    assert_eq!(n(&s["server"]["departures"]["leave"]), joined);
    assert_eq!(n(&s["server"]["members"]), 0);
    assert_eq!(n(&s["latency"]["leave"]["count"]), joined);
}

#[test]
fn the_deadline_aborts_what_is_still_running() {
    let scratch = Scratch::new(
        "deadline",
        "version: 1
name: deadline
deadline: 2s
leave_grace: 1s
rooms: { count: 5 }
groups:
  - name: member
    per_room: 2
    arrival: { burst: {} }
    script: [join, { hold: 30s }, leave]
",
    );
    let f = finish(spawn_run(&scratch, &["--quiet"]), Duration::from_secs(30));
    assert_eq!(f.code, 1, "{}", f.stdout);
    let s = &f.summary;
    assert_eq!(s["end_reason"], "deadline");
    assert_eq!(s["verdict"], "fail");
    assert_eq!(n(&s["outcomes"]["by_outcome"]["aborted"]["unexpected"]), 10);
    assert_eq!(n(&s["conservation"]["accounted"]), 10);
    assert_eq!(n(&s["server"]["departures"]["leave"]), 10);
    assert!(
        f.stdout.contains("[FAIL] no unexpected outcomes"),
        "{}",
        f.stdout
    );
}

const SECRET: &str = "e2e-secret-value-never-printed";

#[test]
fn an_external_target_with_keys_from_the_environment_never_prints_the_secret() {
    let (mut server, url) = serve("ext", "4");
    let scratch = Scratch::new(
        "external",
        "version: 1
name: external
deadline: 30s
target: { url: http://127.0.0.1:9 }   # replaced by --target
app: ext
credentials:
  access_key: ${E2E_AK}
  secret_key: ${E2E_SK}
rooms: { count: 3 }
groups:
  - name: member
    per_room: 5
    arrival: { ramp: { over: 1s } }
    script: [{ join: { expect: [0, 10011] } }, { hold: 2s }, leave]
    expect: { completed: 12, 10011: 3 }
",
    );
    let child = spawn_run_with(
        &scratch,
        &["--quiet", "--target", &url],
        &[("E2E_AK", "e2e-ak"), ("E2E_SK", SECRET)],
    );
    let f = finish(child, Duration::from_secs(60));
    // The server's own view, read from its /metrics before stopping it.
    let metrics = http_get(&url, "/metrics");
    // SAFETY: signalling our own child by its PID.
    unsafe { libc::kill(server.id() as i32, libc::SIGINT) };
    let _ = server.wait();
    assert_eq!(f.code, 0, "{}\n{}", f.stdout, f.stderr);
    let s = &f.summary;
    assert_eq!(s["target"]["kind"], "external");
    assert_eq!(s["target"]["url"], url.as_str());
    assert!(s["server"].is_null());
    assert_eq!(n(&s["outcomes"]["by_outcome"]["completed"]["expected"]), 12);
    assert_eq!(n(&s["outcomes"]["by_outcome"]["10011"]["expected"]), 3);
    assert!(
        metrics.contains("roomstorm_server_auths_total{code=\"0\"} 12"),
        "{metrics}"
    );
    assert!(
        metrics.contains("roomstorm_server_auths_total{code=\"10011\"} 3"),
        "{metrics}"
    );
    for text in [&f.stdout, &f.stderr, &f.summary_text] {
        assert!(!text.contains(SECRET), "the secret leaked");
    }
}

/// Starts `roomstorm serve` on a free loopback port; returns the child and its base URL.
fn serve(app: &str, max_users: &str) -> (Child, String) {
    let mut server = roomstorm()
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--app",
            app,
            "--max-users",
            max_users,
        ])
        .env("ROOMSTORM_ACCESS_KEY", "e2e-ak")
        .env("ROOMSTORM_SECRET_KEY", SECRET)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let url = common::serve_url(&mut server);
    (server, url)
}

#[test]
fn a_server_crash_mid_run_ends_every_member_with_10007_after_three_attempts_and_a_report() {
    let (mut server, url) = serve("crash", "10");
    let scratch = Scratch::new(
        "crash",
        "version: 1
name: crash
deadline: 60s
target: { url: http://127.0.0.1:9 }
app: crash
credentials: { access_key: e2e-ak, secret_key: \"${E2E_SK}\" }
rooms: { count: 4 }
groups:
  - name: member
    per_room: 5
    arrival: { ramp: { over: 1s } }
    script: [join, { hold: 30s }, leave]
",
    );
    let child = spawn_run_with(
        &scratch,
        &["--quiet", "--target", &url],
        &[("E2E_SK", SECRET)],
    );
    std::thread::sleep(Duration::from_secs(4));
    // The server dies without a word: SIGKILL to our own child, by its PID.
    server.kill().unwrap();
    server.wait().unwrap();
    let f = finish(child, Duration::from_secs(60));
    assert_eq!(f.code, 1, "{}", f.stdout);
    let s = &f.summary;
    assert_eq!(
        s["end_reason"], "completed",
        "every lifecycle ended on its own"
    );
    assert_eq!(
        n(&s["codes"]["join"]["0"]),
        20,
        "all joined before the crash"
    );
    // As the Web SDK: the dead socket (no close frame: 1006) sends every member RECONNECTING,
    // three refused attempts 5 s apart, then DISCONNECTED ERROR 10007.
    assert_eq!(n(&s["outcomes"]["by_outcome"]["10007"]["unexpected"]), 20);
    assert_eq!(n(&s["conservation"]["accounted"]), 20);
    assert_eq!(n(&s["transitions"]["CONNECTED->RECONNECTING"]), 20);
    assert_eq!(n(&s["transitions"]["RECONNECTING->DISCONNECTED"]), 20);
    let r = &s["recovery"];
    assert_eq!(n(&r["losses"]["close_1006"]), 20, "{r}");
    assert_eq!(n(&r["gave_up"]), 20);
    assert_eq!(n(&r["attempts"]["3"]), 20, "three attempts each: {r}");
    assert_eq!(n(&r["attempts_failed"]), 60);
    assert_eq!(n(&r["reconnected"]), 0);
    assert_eq!(n(&s["latency"]["reconnecting"]["count"]), 20);
    assert!(f.stdout.contains("20 gave up (10007)"), "{}", f.stdout);
}

#[test]
fn an_unreachable_target_is_refused_before_any_load() {
    // Bind a port, then free it: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let scratch = Scratch::new(
        "unreachable",
        "version: 1
name: unreachable
deadline: 10s
target: { url: http://127.0.0.1:9 }
credentials: { access_key: ak, secret_key: sk }
rooms: { count: 1 }
groups:
  - name: member
    per_room: 1
    arrival: { burst: {} }
    script: [join, { hold: 1s }, leave]
",
    );
    let out = roomstorm()
        .arg("run")
        .arg(scratch.scenario())
        .args(["--target", &format!("http://127.0.0.1:{port}"), "--out"])
        .arg(scratch.out())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains(&format!("target http://127.0.0.1:{port} is unreachable")),
        "{stderr}"
    );
    assert!(!scratch.out().exists());
}

#[test]
fn an_embedded_run_beyond_what_the_machine_can_hold_is_refused_with_the_numbers() {
    // SAFETY: getrlimit only writes into the struct we pass.
    let hard = unsafe {
        let mut lim: libc::rlimit = std::mem::zeroed();
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
        lim.rlim_max
    };
    let participants: u64 = 1_200_000;
    if hard as u128 > 2 * participants as u128 {
        eprintln!("open-file limit {hard} is too high for this check to refuse anything");
        return;
    }
    let scratch = Scratch::new(
        "too-many",
        "version: 1
name: too-many
deadline: 30m
rooms: { count: 100000 }
groups:
  - name: member
    per_room: 12
    arrival: { ramp: { over: 5m } }
    script: [join, { hold: 20m }, leave]
",
    );
    let out = roomstorm()
        .arg("run")
        .arg(scratch.scenario())
        .arg("--out")
        .arg(scratch.out())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    // 1.2 million at once: more memory than this machine has (about 28 GiB for both ends), or
    // where it has that, more than the 64 shard processes roomstorm starts by itself.
    assert!(
        stderr.contains("up to 1200000 participants at once need about 28125 MiB")
            || stderr.contains("up to 1200000 participants at once need 76 processes"),
        "{stderr}"
    );
    assert!(stderr.contains("--shard I/"), "the fix is named: {stderr}");
    assert!(!scratch.out().exists(), "nothing ran, nothing written");
}

#[test]
fn a_bad_scenario_is_refused_with_its_position_before_any_load() {
    let out = roomstorm()
        .args([
            "run",
            "tests/fixtures/bad/joins-twice.yaml",
            "--out",
            "/nonexistent/never",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let expected = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bad/joins-twice.expected"),
    )
    .unwrap();
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    for line in expected.lines() {
        assert!(stderr.contains(line), "missing {line:?} in {stderr}");
    }
}

#[test]
fn dry_run_prints_the_compiled_plan() {
    let out = roomstorm()
        .args(["run", "--dry-run", "scenarios/mass-join.yaml"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        stdout.contains("rooms: 500 (mass-000 … mass-499)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("participants: 5000; lifecycles: 5000; seed 1"),
        "{stdout}"
    );
    assert!(
        stdout.contains("group member: 5000 participants × 1 iteration(s)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("arrivals per second (peak 250)"),
        "{stdout}"
    );
    // 20 whole seconds of 250 arrivals each.
    assert_eq!(
        stdout.lines().filter(|l| l.contains(" 250 #")).count(),
        20,
        "{stdout}"
    );
    // The same seed gives the same plan, byte for byte.
    let again = roomstorm()
        .args(["run", "--dry-run", "scenarios/mass-join.yaml"])
        .output()
        .unwrap();
    assert_eq!(out.stdout, again.stdout);
}

#[test]
fn dry_run_lists_tuned_reconnect_settings_and_faults_in_time_order() {
    let out = roomstorm()
        .args(["run", "--dry-run", "tests/fixtures/good/faults-all.yaml"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains("reconnect: ping_timeout 5s, close_delay 0s, retry_delay 500ms, request_timeout 2s, attempts 5"),
        "{stdout}"
    );
    assert!(stdout.contains("faults: 10\n"), "{stdout}");
    for line in [
        "20.000s fault[0] reset: 15 participants, offline 3s",
        "fault[2] blackhole: 2 participants of group members in 5 of 10 rooms, for 12s",
        "fault[4] kick: 1 participant of group hosts",
        "fault[5] drop_connections: 20% of open connections",
        "fault[8] close_rooms: 2 rooms of 10",
        "70.000s fault[9] restart: whole server, outage 5s",
    ] {
        assert!(stdout.contains(line), "missing {line:?} in {stdout}");
    }
    // A scenario with neither shows neither.
    let plain = roomstorm()
        .args(["run", "--dry-run", "scenarios/mass-join.yaml"])
        .output()
        .unwrap();
    let plain = String::from_utf8_lossy(&plain.stdout);
    assert!(
        !plain.contains("reconnect:") && !plain.contains("faults:"),
        "{plain}"
    );
}
