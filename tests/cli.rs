//! The real binary end to end: token commands, `serve` (start, join, Ctrl-C), `run --dry-run`
//! with media, exit codes, and no secret in any output even at trace level.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;

const SECRET: &str = "cli-secret-never-printed";

fn roomstorm() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_roomstorm"));
    cmd.env("ROOMSTORM_ACCESS_KEY", "cli-ak")
        .env("ROOMSTORM_SECRET_KEY", SECRET)
        .env_remove("ROOMSTORM_LOG");
    cmd
}

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

fn run(args: &[&str]) -> Out {
    let out = roomstorm().args(args).output().unwrap();
    let o = Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert!(
        !o.stdout.contains(SECRET) && !o.stderr.contains(SECRET),
        "secret leaked by {args:?}"
    );
    o
}

#[test]
fn token_mint_verify_decode_round_trip() {
    let minted = run(&[
        "token", "mint", "--app", "app1", "--room", "room-1", "--user", "alice", "--ttl", "10m",
    ]);
    assert_eq!(minted.code, 0, "{}", minted.stderr);
    let token = minted.stdout.trim();
    assert!(token.starts_with("cli-ak:"));
    let ok = run(&["token", "verify", token]);
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    assert!(
        ok.stdout.starts_with("valid\n") && ok.stdout.contains("room:       room-1"),
        "{}",
        ok.stdout
    );
    let dec = run(&["token", "decode", "--json", token]);
    let v: serde_json::Value = serde_json::from_str(&dec.stdout).unwrap();
    assert_eq!(v["roomAccess"]["userId"], "alice");
    assert_eq!(v["signature"], "valid");
    assert_eq!(v["expired"], false);
    // Decode without keys: fields shown, signature not judged.
    let out = Command::new(env!("CARGO_BIN_EXE_roomstorm"))
        .args(["token", "decode", token])
        .env_remove("ROOMSTORM_ACCESS_KEY")
        .env_remove("ROOMSTORM_SECRET_KEY")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("signature:  not checked"));
}

#[test]
fn verify_reports_expiry_time_bad_signatures_and_malformed_tokens() {
    let expired = run(&[
        "token",
        "mint",
        "--app",
        "app1",
        "--room",
        "room-1",
        "--user",
        "alice",
        "--expire-at",
        "1700000000",
    ]);
    let v = run(&["token", "verify", expired.stdout.trim()]);
    assert_eq!(v.code, 1);
    assert!(
        v.stderr.contains("10002") && v.stderr.contains("expired at 2023-11-14T22:13:20Z"),
        "{}",
        v.stderr
    );

    let other = roomstorm()
        .env("ROOMSTORM_SECRET_KEY", "another")
        .args([
            "token", "mint", "--app", "app1", "--room", "room-1", "--user", "alice",
        ])
        .output()
        .unwrap();
    let forged = String::from_utf8(other.stdout).unwrap();
    let v = run(&["token", "verify", forged.trim()]);
    assert_eq!(v.code, 1);
    assert!(
        v.stderr.contains("10001") && v.stderr.contains("signature"),
        "{}",
        v.stderr
    );
    let d = run(&["token", "decode", forged.trim()]);
    assert!(d.stdout.contains("signature:  INVALID"), "{}", d.stdout);

    let m = run(&["token", "verify", "garbage"]);
    assert_eq!(m.code, 2, "{}", m.stderr);
    assert!(m.stderr.contains("malformed"));
}

#[test]
fn bad_flags_and_missing_keys_exit_2() {
    assert_eq!(run(&["token", "mint", "--app"]).code, 2);
    assert_eq!(run(&["no-such-command"]).code, 2);
    let out = Command::new(env!("CARGO_BIN_EXE_roomstorm"))
        .args([
            "token", "mint", "--app", "a", "--room", "room", "--user", "user",
        ])
        .env_remove("ROOMSTORM_ACCESS_KEY")
        .env_remove("ROOMSTORM_SECRET_KEY")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no access key given"));
    let too_many = run(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--max-connections",
        "1000000",
    ]);
    assert_eq!(too_many.code, 2);
    assert!(
        too_many.stderr.contains("open-file limit"),
        "{}",
        too_many.stderr
    );
    let dir = std::env::temp_dir().join(format!("roomstorm-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join("server.yaml");
    std::fs::write(&cfg, "apps:\n  - appId: a\n    maxUsers: many\n").unwrap();
    let bad = run(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--config",
        cfg.to_str().unwrap(),
    ]);
    assert_eq!(bad.code, 2);
    assert!(bad.stderr.contains("server.yaml:3:"), "{}", bad.stderr);
}

#[test]
fn serve_joins_and_stops_on_ctrl_c_without_leaking_the_secret() {
    let mut child = roomstorm()
        .args([
            "--log",
            "roomstorm=trace",
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--max-users",
            "1",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    let addr: std::net::SocketAddr = first
        .trim()
        .rsplit("http://")
        .next()
        .unwrap()
        .parse()
        .expect(&first);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let keys = roomstorm::credentials::KeyPair::new("cli-ak", SECRET);
        let tok = |user: &str| roomstorm::token::mint(&keys, &access("room-cli", user));
        let mut a = Client::connect_with(addr, &tok("alice"), "room-cli", "alice").await;
        assert_eq!(a.auth(None, "").await["code"], 0);
        let mut b = Client::connect_with(addr, &tok("bobby"), "room-cli", "bobby").await;
        assert_eq!(b.auth(None, "").await["code"], 10011, "--max-users 1");
        let bad = roomstorm::token::mint(
            &roomstorm::credentials::KeyPair::new("cli-ak", "wrong"),
            &access("room-cli", "carol"),
        );
        let mut c = Client::connect_with(addr, &bad, "room-cli", "carol").await;
        assert_eq!(c.auth(None, "").await["code"], 10001);
    });
    // SAFETY: signalling our own child by its PID.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = wait_with_timeout(&mut child, Duration::from_secs(10)).and_then(|s| s.code());
    assert_eq!(status, Some(0));
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let all = format!("{first}{rest}{stderr}");
    assert!(all.contains("open-file limit"), "{all}");
    assert!(rest.contains("stopped"), "{rest}");
    assert!(
        stderr.contains("auth refused"),
        "trace logs were on: {stderr}"
    );
    assert!(!all.contains(SECRET), "secret in server output");
}

#[test]
fn dry_run_prints_the_media_load_at_peak() {
    let out = run(&["run", "--dry-run", "tests/fixtures/good/media.yaml"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let start = out.stdout.find("media:\n").expect(&out.stdout);
    let end = out.stdout.find("arrivals per second").expect(&out.stdout);
    // Per room: a host (audio 50 packets/s, 52 000 bit/s; video 60 packets/s, 523 920 bit/s)
    // watching 2 speakers; 2 speakers (audio at 40 ms: 25 packets/s, 58 000 bit/s) watching the
    // host and each other; 3 viewers watching the host.
    assert_eq!(
        &out.stdout[start..end],
        "media:
  group hosts: publishes audio opus 32kbps ptime 20ms + video vp8 500kbps 30fps keyframe 2s; subscribes to all tracks in the room
    sends 4 tracks from 2 participants (220 packets/s, 1.152 Mbit/s); receives 4 subscriptions (100 packets/s, 0.232 Mbit/s)
  group speakers: publishes audio opus 48kbps ptime 40ms; subscribes to the first 2 other publishers
    sends 4 tracks from 4 participants (100 packets/s, 0.232 Mbit/s); receives 12 subscriptions (540 packets/s, 2.536 Mbit/s)
  group viewers: publishes nothing; subscribes to groups hosts
    receives 12 subscriptions (660 packets/s, 3.456 Mbit/s)
  SFU load at peak (every room full, all members present and publishing: an upper bound):
    tracks published: 8; subscriptions (forwarded streams): 28
    ingress (publishers → SFU): 320 packets/s, 1.384 Mbit/s
    egress (SFU → subscribers): 1300 packets/s, 6.223 Mbit/s
    busiest room room-0: 4 tracks, 14 subscriptions; ingress 160 packets/s, 0.692 Mbit/s; egress 650 packets/s, 3.112 Mbit/s
"
    );
    // A scenario without media shows no media section.
    let plain = run(&["run", "--dry-run", "tests/fixtures/good/minimal.yaml"]);
    assert_eq!(plain.code, 0, "{}", plain.stderr);
    assert!(!plain.stdout.contains("media:"), "{}", plain.stdout);
}
