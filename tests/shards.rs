//! Shards: `run --shards N` on one machine, `run --shard I/N --start-at T` against one server
//! followed by `merge`, and `merge` refusing shards that do not make one run. Every assertion is
//! an exact count: merged figures equal the plan, the sum of the shards and the server's own.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;

mod common;

use common::http_get;
use common::scratch::ScratchDir;

const SECRET: &str = "shards-secret-9f1c";

fn roomstorm() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_roomstorm"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("ROOMSTORM_LOG")
        .env_remove("ROOMSTORM_ACCESS_KEY")
        .env_remove("ROOMSTORM_SECRET_KEY");
    c
}

fn n(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}"))
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Runs `cmd` to its end (within `limit`); returns its output.
fn finish(mut cmd: Command, limit: Duration) -> Output {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let status = common::wait_with_timeout(&mut child, limit)
        .unwrap_or_else(|| panic!("did not end within {limit:?}"));
    let mut stdout = Vec::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_end(&mut stdout)
        .unwrap();
    let mut stderr = Vec::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_end(&mut stderr)
        .unwrap();
    Output {
        status,
        stdout,
        stderr,
    }
}

/// The run folder named by the `results:` line.
fn results_dir(out: &Output) -> PathBuf {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let path = stdout
        .lines()
        .find_map(|l| l.strip_prefix("results: "))
        .unwrap_or_else(|| {
            panic!(
                "no results line\nstdout:\n{stdout}\nstderr:\n{}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
    Path::new(path).parent().unwrap().to_path_buf()
}

/// Samples in an encoded histogram of a summary.
fn samples(summary: &Value, metric: &str) -> u64 {
    roomstorm::report::hlog::decode(summary["histograms"][metric].as_str().unwrap())
        .unwrap()
        .len()
}

fn series_sum(summary: &Value, field: &str) -> u64 {
    summary["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| n(&r[field]))
        .sum()
}

/// The shard run folder `roomstorm run --shards` left under `<run>/shards/<i>/`.
fn shard_dir(run: &Path, i: u32) -> PathBuf {
    std::fs::read_dir(run.join("shards").join(i.to_string()))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.join("summary.json").is_file())
        .unwrap_or_else(|| panic!("shard {i} wrote no summary"))
}

const FORTY_ROOMS: &str = "version: 1
name: sharded
seed: 7
deadline: 60s
target: { embedded: { max_users: 10 } }
rooms: { count: 40 }
groups:
  - name: member
    per_room: 10
    arrival: { ramp: { over: 4s } }
    script: [join, { hold: 4s }, leave]
    expect: { completed: 400 }
";

#[test]
fn four_local_shards_merge_into_exact_counts_that_match_the_server() {
    let dir = ScratchDir::new("shards-local");
    let scenario = dir.write("scenario.yaml", FORTY_ROOMS);
    let out = dir.path().join("reports");
    let mut cmd = roomstorm();
    cmd.arg("run")
        .arg(&scenario)
        .args(["--shards", "4", "--workers", "1", "--quiet", "--out"])
        .arg(&out);
    let done = finish(cmd, Duration::from_secs(90));
    let run = results_dir(&done);
    assert_eq!(
        done.status.code(),
        Some(0),
        "stderr:\n{}",
        String::from_utf8_lossy(&done.stderr)
    );
    let s = read_json(&run.join("summary.json"));
    assert_eq!(s["verdict"], "pass");
    assert!(s.get("shard").is_none(), "a merged run is not a shard");
    assert_eq!(n(&s["plan"]["participants"]), 400);
    assert_eq!(n(&s["conservation"]["scheduled"]), 400);
    assert_eq!(n(&s["conservation"]["accounted"]), 400);
    assert_eq!(
        n(&s["outcomes"]["by_outcome"]["completed"]["expected"]),
        400
    );
    assert_eq!(n(&s["outcomes"]["unexpected"]), 0);
    assert_eq!(n(&s["presence"]["stays"]), 400);
    assert_eq!(n(&s["presence"]["errors"]), 0);
    assert_eq!(n(&s["codes"]["join"]["0"]), 400);
    for metric in ["join", "time_to_connected", "leave"] {
        assert_eq!(n(&s["latency"][metric]["count"]), 400, "{metric}");
        assert_eq!(samples(&s, metric), 400, "{metric}");
    }
    // The time series adds up to the same totals.
    assert_eq!(series_sum(&s, "started"), 400);
    assert_eq!(series_sum(&s, "joins"), 400);
    assert_eq!(series_sum(&s, "ended"), 400);
    let interval_joins: u64 = s["interval_histograms"]["join"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            roomstorm::report::hlog::decode(i["histogram"].as_str().unwrap())
                .unwrap()
                .len()
        })
        .sum();
    assert_eq!(interval_joins, 400);
    // The server (one embedded server for all shards, run by the parent) saw the same.
    assert_eq!(n(&s["server"]["auths"]["0"]), 400);
    assert_eq!(n(&s["server"]["departures"]["leave"]), 400);
    assert_eq!(n(&s["server"]["members"]), 0);
    assert_eq!(s["target"]["kind"], "embedded");

    // Merged = the sum of the shards; each shard held whole rooms: 10 of 40.
    let mut joins = 0;
    let mut peer_visible = 0;
    let mut rooms_with_joins = std::collections::BTreeSet::new();
    for i in 0..4 {
        let shard = read_json(&shard_dir(&run, i).join("summary.json"));
        assert_eq!(n(&shard["shard"]["index"]), u64::from(i));
        assert_eq!(n(&shard["shard"]["of"]), 4);
        assert_eq!(n(&shard["plan"]["participants"]), 100);
        assert_eq!(
            n(&shard["outcomes"]["by_outcome"]["completed"]["expected"]),
            100
        );
        joins += samples(&shard, "join");
        peer_visible += samples(&shard, "peer_visible");
        for r in shard["rooms"].as_array().unwrap() {
            if n(&r["joins"]) > 0 {
                assert_eq!(n(&r["joins"]), 10, "a room is whole in its shard");
                assert!(rooms_with_joins.insert(r["name"].as_str().unwrap().to_string()));
            }
        }
    }
    assert_eq!(joins, 400);
    assert_eq!(samples(&s, "peer_visible"), peer_visible);
    assert_eq!(
        rooms_with_joins.len(),
        40,
        "every room ran in exactly one shard"
    );

    for file in ["summary.json", "junit.xml", "report.html", "hlog/join.hlog"] {
        assert!(run.join(file).is_file(), "{file} missing");
    }
    // `roomstorm report` re-renders a merged run like any other.
    let mut again = roomstorm();
    again.arg("report").arg(&run);
    assert!(finish(again, Duration::from_secs(30)).status.success());
}

/// `roomstorm serve` on a free loopback port; returns the child and its base URL.
fn serve() -> (Child, String) {
    let mut server = roomstorm()
        .args(["serve", "--listen", "127.0.0.1:0", "--app", "shards"])
        .args(["--max-users", "10"])
        .env("ROOMSTORM_ACCESS_KEY", "shards-ak")
        .env("ROOMSTORM_SECRET_KEY", SECRET)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let url = common::serve_url(&mut server);
    (server, url)
}

const TWELVE_ROOMS: &str = "version: 1
name: sharded-remote
seed: 11
app: shards
deadline: 60s
target: { embedded: {} }
rooms: { count: 12 }
groups:
  - name: member
    per_room: 4
    arrival: { ramp: { over: 2s } }
    script: [join, { hold: 2s }, leave]
    expect: { completed: 48 }
";

#[test]
fn shards_run_apart_against_one_server_then_merge_into_one_run() {
    let dir = ScratchDir::new("shards-remote");
    let scenario = dir.write("scenario.yaml", TWELVE_ROOMS);
    let (mut server, url) = serve();
    let start_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis()
        + 2500;
    // Both shards at once, as two machines would run them; keys from the environment only.
    let spawn = |i: u32| {
        roomstorm()
            .arg("run")
            .arg(&scenario)
            .args(["--shard", &format!("{i}/2")])
            .args(["--start-at", &start_ms.to_string()])
            .args(["--target", &url, "--workers", "1", "--quiet", "--out"])
            .arg(dir.path().join(format!("shard{i}")))
            .env("ROOMSTORM_ACCESS_KEY", "shards-ak")
            .env("ROOMSTORM_SECRET_KEY", SECRET)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let children = [spawn(0), spawn(1)];
    let mut shard_dirs = Vec::new();
    for mut child in children {
        let out = common::wait_output(&mut child, Duration::from_secs(60)).unwrap();
        assert!(
            !String::from_utf8_lossy(&out.stdout).contains(SECRET)
                && !String::from_utf8_lossy(&out.stderr).contains(SECRET)
        );
        assert_eq!(out.status.code(), Some(0));
        shard_dirs.push(results_dir(&out));
    }
    let metrics = http_get(&url, "/metrics");
    // SAFETY: SIGINT to our own child, by its PID.
    unsafe { libc::kill(server.id() as i32, libc::SIGINT) };
    let _ = server.wait();
    assert!(
        metrics.contains("roomstorm_server_auths_total{code=\"0\"} 48"),
        "{metrics}"
    );
    let mut starts = Vec::new();
    for (i, d) in shard_dirs.iter().enumerate() {
        let s = read_json(&d.join("summary.json"));
        assert_eq!(n(&s["shard"]["index"]), i as u64);
        assert_eq!(n(&s["shard"]["start_at_unix_ms"]), start_ms as u64);
        assert_eq!(n(&s["plan"]["participants"]), 24);
        starts.push(n(&s["started_at_unix_ms"]));
    }
    // Both clocks started at the common instant (they waited for it), not at launch.
    assert!(starts.iter().all(|&t| t >= start_ms as u64));

    let out = dir.path().join("merged");
    let mut merge = roomstorm();
    merge.arg("merge").args(&shard_dirs).arg("--out").arg(&out);
    let merged = finish(merge, Duration::from_secs(30));
    assert_eq!(
        merged.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&merged.stderr)
    );
    let run = results_dir(&merged);
    let s = read_json(&run.join("summary.json"));
    assert_eq!(s["verdict"], "pass");
    assert_eq!(n(&s["plan"]["participants"]), 48);
    assert_eq!(n(&s["conservation"]["scheduled"]), 48);
    assert_eq!(n(&s["outcomes"]["by_outcome"]["completed"]["expected"]), 48);
    assert_eq!(n(&s["latency"]["join"]["count"]), 48);
    assert_eq!(samples(&s, "join"), 48);
    assert_eq!(n(&s["presence"]["stays"]), 48);
    assert_eq!(series_sum(&s, "joins"), 48);
    assert_eq!(n(&s["started_at_unix_ms"]), *starts.iter().min().unwrap());
    assert!(
        s["expectations"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["name"] == "group member: completed == 48" && e["passed"] == true),
        "the group's exact count is judged on the merged run"
    );
    assert!(run.join("report.html").is_file());

    // Refusals, exit 2: a shard missing, a shard twice, a shard of another run.
    let refuse = |dirs: &[PathBuf], why: &str| {
        let mut merge = roomstorm();
        merge
            .arg("merge")
            .args(dirs)
            .arg("--out")
            .arg(dir.path().join("refused"));
        let o = finish(merge, Duration::from_secs(30));
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{why}: {stderr}");
        assert!(stderr.contains(why), "{why}: {stderr}");
    };
    refuse(&shard_dirs[..1], "missing shard(s) 1/2");
    refuse(
        &[shard_dirs[0].clone(), shard_dirs[0].clone()],
        "shard 0/2 given twice",
    );
    let other = dir.path().join("other-seed");
    std::fs::create_dir_all(&other).unwrap();
    let mut s1 = read_json(&shard_dirs[1].join("summary.json"));
    s1["scenario"]["seed"] = Value::from(12);
    std::fs::write(other.join("summary.json"), s1.to_string()).unwrap();
    refuse(&[shard_dirs[0].clone(), other.clone()], "seed 12");
    let mut s1 = read_json(&shard_dirs[1].join("summary.json"));
    s1["shard"]["of"] = Value::from(3);
    std::fs::write(other.join("summary.json"), s1.to_string()).unwrap();
    refuse(&[shard_dirs[0].clone(), other], "split in 3");
    refuse(&[run], "not a shard result");
}

const LONG_HOLD: &str = "version: 1
name: sharded-interrupted
deadline: 2m
leave_grace: 5s
target: { embedded: { max_users: 10 } }
rooms: { count: 20 }
groups:
  - name: member
    per_room: 5
    arrival: { ramp: { over: 20s } }
    script: [join, { hold: 60s }, leave]
";

#[test]
fn ctrl_c_reaches_every_shard_and_what_they_wrote_is_still_merged() {
    let dir = ScratchDir::new("shards-interrupted");
    let scenario = dir.write("scenario.yaml", LONG_HOLD);
    let mut child = roomstorm()
        .arg("run")
        .arg(&scenario)
        .args(["--shards", "2", "--workers", "1", "--out"])
        .arg(dir.path().join("reports"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(7));
    // SAFETY: SIGINT to our own child (the parent of the shards), by its PID.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let out =
        common::wait_output(&mut child, Duration::from_secs(60)).expect("the interrupted run ends");
    let stderr_text = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(3), "{stderr_text}");
    // One combined progress line for both shards.
    assert!(stderr_text.contains("shards 2/2 running"), "{stderr_text}");
    let run = results_dir(&out);
    let s = read_json(&run.join("summary.json"));
    assert_eq!(s["verdict"], "interrupted");
    assert_eq!(s["end_reason"], "interrupted");
    for i in 0..2 {
        let shard = read_json(&shard_dir(&run, i).join("summary.json"));
        assert_eq!(shard["end_reason"], "interrupted", "shard {i}");
    }
    // Those that joined left cleanly within the grace, as the one server saw it.
    let joined = n(&s["codes"]["join"]["0"]);
    assert!(joined > 0 && joined < 100, "{joined}");
    assert_eq!(n(&s["server"]["auths"]["0"]), joined);
    assert_eq!(n(&s["server"]["departures"]["leave"]), joined);
    assert_eq!(n(&s["server"]["members"]), 0);
    assert_eq!(n(&s["latency"]["join"]["count"]), joined);
}

/// The size: 4 local shards, 12,000 participants. It needs the release binary (a debug
/// build on a loaded 2-core machine cannot start 400 joins a second), named by `ROOMSTORM_BIN`;
/// `scripts/test.sh` builds it and runs this test alone after the others.
#[test]
#[ignore = "needs ROOMSTORM_BIN=target/release/roomstorm (scripts/test.sh runs it)"]
fn four_local_shards_of_twelve_thousand() {
    let dir = ScratchDir::new("shards-12k");
    let scenario = dir.write(
        "scenario.yaml",
        "version: 1
name: sharded-12k
seed: 3
deadline: 120s
target: { embedded: { max_users: 10 } }
rooms: { count: 1200 }
groups:
  - name: member
    per_room: 10
    arrival: { ramp: { over: 30s } }
    script: [join, { hold: 20s }, leave]
    expect: { completed: 12000 }
",
    );
    let bin = std::env::var_os("ROOMSTORM_BIN")
        .expect("ROOMSTORM_BIN must name a release build of roomstorm (see the ignore reason)");
    let mut cmd = roomstorm();
    cmd.arg("run")
        .arg(&scenario)
        .args(["--shards", "4", "--quiet", "--out"])
        .arg(dir.path().join("reports"));
    let cmd = {
        // The same arguments and environment, run by the release binary.
        let mut c = Command::new(bin);
        c.current_dir(env!("CARGO_MANIFEST_DIR"))
            .args(cmd.get_args())
            .env_remove("ROOMSTORM_LOG")
            .env_remove("ROOMSTORM_ACCESS_KEY")
            .env_remove("ROOMSTORM_SECRET_KEY");
        c
    };
    let done = finish(cmd, Duration::from_secs(300));
    let run = results_dir(&done);
    let s = read_json(&run.join("summary.json"));
    let failed: Vec<&Value> = s["expectations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["passed"] == false)
        .collect();
    assert_eq!(
        done.status.code(),
        Some(0),
        "{failed:#?}\n{:#}",
        s["outcomes"]
    );
    assert_eq!(
        n(&s["outcomes"]["by_outcome"]["completed"]["expected"]),
        12_000
    );
    assert_eq!(samples(&s, "join"), 12_000);
    let shards: u64 = (0..4)
        .map(|i| samples(&read_json(&shard_dir(&run, i).join("summary.json")), "join"))
        .sum();
    assert_eq!(shards, 12_000);
    assert_eq!(n(&s["server"]["auths"]["0"]), 12_000);
    assert_eq!(n(&s["server"]["departures"]["leave"]), 12_000);
}

#[test]
fn dry_run_of_a_shard_shows_its_rooms_only() {
    let dir = ScratchDir::new("shards-dry");
    let scenario = dir.write("scenario.yaml", FORTY_ROOMS);
    let mut cmd = roomstorm();
    cmd.arg("run")
        .arg(&scenario)
        .args(["--dry-run", "--shard", "1/4"]);
    let out = finish(cmd, Duration::from_secs(30));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("shard 1/4: the rooms r with r % 4 == 1"),
        "{text}"
    );
    assert!(
        text.contains("participants: 100; lifecycles: 100"),
        "{text}"
    );
    // A shard cannot run alone against an embedded server of its own.
    let mut cmd = roomstorm();
    cmd.arg("run").arg(&scenario).args(["--shard", "1/4"]);
    let out = finish(cmd, Duration::from_secs(30));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--shard needs a target"));
}

const RESET_HALF: &str = "version: 1
name: sharded-reset
seed: 5
deadline: 60s
target: { embedded: { max_users: 10 } }
rooms: { count: 8 }
groups:
  - name: member
    per_room: 5
    arrival: { ramp: { over: 2s } }
    script: [join, { hold: 12s }, leave]
    expect: { completed: 40 }
faults:
  - at: 4s
    kind: reset
    share: 50%
    for: 1s
thresholds:
  - reconnects.reconnected == 20
  - reconnect.count == 20
";

#[test]
fn a_client_fault_hits_each_shard_s_own_targets_and_thresholds_are_judged_on_the_merged_run() {
    let dir = ScratchDir::new("shards-reset");
    let scenario = dir.write("scenario.yaml", RESET_HALF);
    let mut cmd = roomstorm();
    cmd.arg("run")
        .arg(&scenario)
        .args(["--shards", "2", "--workers", "1", "--quiet", "--out"])
        .arg(dir.path().join("reports"));
    let done = finish(cmd, Duration::from_secs(90));
    let run = results_dir(&done);
    let s = read_json(&run.join("summary.json"));
    assert_eq!(done.status.code(), Some(0), "{:#}", s["thresholds"]);
    assert_eq!(n(&s["recovery"]["reconnected"]), 20);
    assert_eq!(n(&s["faults"][0]["targets"]), 20);
    assert_eq!(n(&s["faults"][0]["hits"]["applied"]), 20);
    assert!(
        s["thresholds"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["passed"] == true)
    );
    // Each shard hit only its own members: the targets of the two shards add up to the plan's.
    let per_shard: Vec<u64> = (0..2)
        .map(|i| {
            let shard = read_json(&shard_dir(&run, i).join("summary.json"));
            n(&shard["faults"][0]["targets"])
        })
        .collect();
    assert_eq!(per_shard.iter().sum::<u64>(), 20, "{per_shard:?}");
}

#[test]
fn a_run_beyond_one_process_s_open_files_shards_itself_and_spreads_the_embedded_server() {
    use std::os::unix::process::CommandExt as _;
    let dir = ScratchDir::new("shards-auto");
    let scenario = dir.write("scenario.yaml", FORTY_ROOMS);
    let out = dir.path().join("reports");
    let mut cmd = roomstorm();
    cmd.arg("run")
        .arg(&scenario)
        .args(["--workers", "1", "--out"])
        .arg(&out);
    // 600 open files per process (inherited by every process the run starts): 400 members with
    // the embedded server need 928 in one process, so 2 shards of 200, and the server's 400
    // sockets do not fit one process's 377 planned either: 2 server processes.
    // SAFETY: setrlimit is async-signal-safe and only lowers this child's own limit.
    unsafe {
        cmd.pre_exec(|| {
            let lim = libc::rlimit {
                rlim_cur: 600,
                rlim_max: 600,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let done = finish(cmd, Duration::from_secs(90));
    let stderr = String::from_utf8_lossy(&done.stderr);
    assert_eq!(done.status.code(), Some(0), "stderr:\n{stderr}");
    assert!(
        stderr.contains(
            "up to 400 participants at once need more sockets than one process may open (600 files): running 2 shard processes (--shards 2)"
        ),
        "{stderr}"
    );
    let pids: Vec<u32> = stderr
        .lines()
        .find_map(|l| l.strip_prefix("the embedded server runs in 2 processes (pids "))
        .unwrap_or_else(|| panic!("no server processes named in:\n{stderr}"))
        .split(')')
        .next()
        .unwrap()
        .split_whitespace()
        .map(|p| p.parse().unwrap())
        .collect();
    assert_eq!(pids.len(), 2);
    let run = results_dir(&done);
    let s = read_json(&run.join("summary.json"));
    assert_eq!(s["verdict"], "pass");
    assert_eq!(n(&s["conservation"]["accounted"]), 400);
    assert_eq!(
        n(&s["outcomes"]["by_outcome"]["completed"]["expected"]),
        400
    );
    assert_eq!(samples(&s, "join"), 400);
    for i in 0..2 {
        let shard = read_json(&shard_dir(&run, i).join("summary.json"));
        assert_eq!(n(&shard["plan"]["participants"]), 200);
    }
    // The server processes' own counters, summed by the front: the same 400 from their side.
    assert_eq!(n(&s["server"]["auths"]["0"]), 400);
    assert_eq!(n(&s["server"]["departures"]["leave"]), 400);
    assert_eq!(n(&s["server"]["members"]), 0);
    assert_eq!(s["target"]["kind"], "embedded");
    // And they ended with the run.
    for pid in pids {
        assert!(
            !Path::new(&format!("/proc/{pid}")).exists()
                || std::fs::read_to_string(format!("/proc/{pid}/stat"))
                    .is_ok_and(|st| st.contains(") Z ")),
            "server process {pid} outlived the run"
        );
    }
}
