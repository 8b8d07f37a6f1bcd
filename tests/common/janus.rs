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

/// Whether `janus` can be started (`--version` exits 1 in 1.1.2, so only the spawn counts).
fn installed() -> bool {
    Command::new("janus").arg("--version").output().is_ok()
}

impl TestJanus {
    /// Starts a Janus for test `name` with `options` (`-m 20`, `--token-auth`, …); `None` when
    /// Janus is not installed and `ROOMSTORM_REQUIRE_JANUS` is unset (CI sets it: no skipping).
    pub fn start(name: &str, options: &[&str]) -> Option<Self> {
        if !installed() {
            assert!(
                std::env::var_os("ROOMSTORM_REQUIRE_JANUS").is_none(),
                "ROOMSTORM_REQUIRE_JANUS is set but janus is not installed (scripts/janus install)"
            );
            eprintln!("janus is not installed: skipped (scripts/janus install)");
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
