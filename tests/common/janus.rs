//! A real Janus per test: started by `scripts/janus` in a scratch folder on a free loopback port,
//! stopped by the PID the script recorded when the test ends (also when a check fails).

use std::path::Path;
use std::process::Command;

use super::scratch::ScratchDir;

/// The token secret of the Janus a test starts with `--token-auth`.
pub const SECRET: &str = "roomstorm-janus-test-secret";

/// A running Janus, stopped on drop.
pub struct TestJanus {
    dir: ScratchDir,
    /// `ws://127.0.0.1:PORT`.
    pub url: String,
    /// What `scripts/janus start` printed.
    pub said: String,
}

fn script(args: &[&str], dir: &Path) -> std::process::Output {
    Command::new("scripts/janus")
        .args(args)
        .arg("--dir")
        .arg(dir)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("JANUS_TOKEN_SECRET", SECRET)
        .output()
        .unwrap()
}

/// Whether a test can use Janus: `false` (skip) when it is not installed and
/// `ROOMSTORM_REQUIRE_JANUS` is unset; CI sets it, and then a missing Janus fails the test.
fn available() -> bool {
    if installed() {
        return true;
    }
    assert!(
        std::env::var_os("ROOMSTORM_REQUIRE_JANUS").is_none(),
        "ROOMSTORM_REQUIRE_JANUS is set but janus is not installed (scripts/janus install)"
    );
    eprintln!("janus is not installed: skipped (scripts/janus install)");
    false
}

/// Whether `janus` can be started (`--version` exits 1 in 1.1.2, so only the spawn counts).
fn installed() -> bool {
    Command::new("janus").arg("--version").output().is_ok()
}

impl TestJanus {
    /// Starts a Janus for test `name` with `options` (`-m 20`, `--token-auth`, …); `None` when
    /// Janus is not installed and `ROOMSTORM_REQUIRE_JANUS` is unset (CI sets it: no skipping).
    pub fn start(name: &str, options: &[&str]) -> Option<Self> {
        if !available() {
            return None;
        }
        let dir = ScratchDir::new(name);
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
            .to_string();
        let mut args = vec!["start", "--port", &port];
        args.extend_from_slice(options);
        let started = script(&args, dir.path());
        let said = String::from_utf8_lossy(&started.stdout).into_owned()
            + &String::from_utf8_lossy(&started.stderr);
        assert!(started.status.success(), "{said}");
        Some(Self {
            dir,
            url: format!("ws://127.0.0.1:{port}"),
            said,
        })
    }

    /// The scratch folder (config, log, pidfile), also usable for the run's reports.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Janus's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir().join("janus.log")).unwrap_or_default()
    }
}

impl Drop for TestJanus {
    fn drop(&mut self) {
        let _ = script(&["stop"], self.dir.path());
    }
}

/// A run of roomstorm with a Janus in a network namespace of their own (`scripts/janus netns`),
/// as media needs (Janus skips loopback interfaces), with Janus's own view sampled meanwhile.
pub struct MediaRun {
    /// roomstorm's exit code.
    pub code: i32,
    /// Its `summary.json`.
    pub summary: serde_json::Value,
    /// What it printed (stdout, then stderr).
    pub output: String,
    /// Every 250 ms: seconds since launch, and the display names Janus lists as publishers
    /// (`listparticipants`, `publisher: true`) over all rooms.
    pub publishers: Vec<(f64, Vec<String>)>,
}

impl MediaRun {
    /// The most publishers Janus listed at once.
    pub fn peak_publishers(&self) -> usize {
        self.publishers
            .iter()
            .map(|(_, p)| p.len())
            .max()
            .unwrap_or(0)
    }
}

/// Runs `roomstorm run <scenario> <args>` (a path from the repository's root) inside
/// `scripts/janus netns` for test `name`; `None` when Janus is not installed and not required. A thread of this test enters the
/// namespace (`setns` changes only the calling thread's) to list Janus's publishers.
pub fn media_run(name: &str, scenario: &str, args: &[&str]) -> Option<MediaRun> {
    media_run_with(name, &[], scenario, args)
}

/// [`media_run`] with options for Janus (`-m 20`: a reclaim window).
pub fn media_run_with(
    name: &str,
    janus_options: &[&str],
    scenario: &str,
    args: &[&str],
) -> Option<MediaRun> {
    if !available() {
        return None;
    }
    let dir = ScratchDir::new(name);
    let bin = std::env::var("ROOMSTORM_BIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_roomstorm").to_string());
    let file = |n: &str| std::fs::File::create(dir.path().join(n)).unwrap();
    let launched = std::time::Instant::now();
    let mut child = Command::new("scripts/janus")
        .arg("netns")
        .arg("--dir")
        .arg(dir.path().join("janus"))
        .args(["--port", "8188"])
        .args(janus_options)
        .args(["--", &bin, "run"])
        .arg(scenario)
        .args(["--target", "ws://127.0.0.1:8188", "--out"])
        .arg(dir.path().join("reports"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("ROOMSTORM_LOG")
        .stdout(std::process::Stdio::from(file("run.out")))
        .stderr(std::process::Stdio::from(file("run.err")))
        .spawn()
        .unwrap();
    let pidfile = dir.path().join("janus").join("janus.pid");
    let publishers = std::thread::scope(|s| {
        s.spawn(|| watch_publishers(&pidfile, &mut child, launched))
            .join()
            .unwrap()
    });
    let status = child.wait().unwrap();
    let read = |n: &str| std::fs::read_to_string(dir.path().join(n)).unwrap_or_default();
    let output = format!("{}\n{}", read("run.out"), read("run.err"));
    let summary = output
        .lines()
        .find_map(|l| l.strip_prefix("results: "))
        .and_then(|p| std::fs::read_to_string(p).ok())
        .map(|t| serde_json::from_str(&t).unwrap())
        .unwrap_or_else(|| panic!("no results line:\n{output}"));
    Some(MediaRun {
        code: status.code().unwrap_or(-1),
        summary,
        output,
        publishers,
    })
}

/// From inside Janus's namespace: its publishers every 250 ms until the run ends (at most 120 s).
fn watch_publishers(
    pidfile: &Path,
    child: &mut std::process::Child,
    launched: std::time::Instant,
) -> Vec<(f64, Vec<String>)> {
    use std::os::fd::AsRawFd;
    let limit = std::time::Duration::from_secs(120);
    // The namespace exists once Janus runs in it.
    let pid = loop {
        if let Some(pid) = std::fs::read_to_string(pidfile)
            .ok()
            .filter(|p| !p.trim().is_empty())
        {
            break pid.trim().to_owned();
        }
        if child.try_wait().unwrap().is_some() {
            return Vec::new();
        }
        assert!(launched.elapsed() < limit, "Janus did not start");
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let ns = std::fs::File::open(format!("/proc/{pid}/ns/net")).unwrap();
    // SAFETY: setns on this thread only, with a namespace file descriptor held open.
    let entered = unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) };
    assert_eq!(entered, 0, "setns: {}", std::io::Error::last_os_error());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        use roomstorm::target::janus::Control;
        let control = loop {
            if let Ok(c) = Control::connect("ws://127.0.0.1:8188", None).await {
                break c;
            }
            if child.try_wait().unwrap().is_some() {
                return Vec::new();
            }
            assert!(launched.elapsed() < limit, "Janus never answered");
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        };
        let mut samples = Vec::new();
        while child.try_wait().unwrap().is_none() {
            assert!(
                launched.elapsed() < limit,
                "the run did not end within 120 s"
            );
            let mut names = Vec::new();
            for room in control.rooms().await.unwrap_or_default() {
                // A room may go between `list` and `listparticipants`.
                names.extend(control.publishers(room).await.unwrap_or_default());
            }
            samples.push((launched.elapsed().as_secs_f64(), names));
            tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        }
        let _ = control.close().await;
        samples
    })
}
