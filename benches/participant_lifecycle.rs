//! Generator cost benchmark: what one simulated participant costs roomstorm, beside the floor.
//!
//! Both sides run the same lifecycle against the same `roomstorm serve` in another process:
//! N participants in rooms of 10 arrive over a ramp, each does the HTTP token exchange on a fresh
//! connection, opens a WebSocket (4 KiB read buffer), authenticates, keeps its room roster from
//! the player list and presence pushes, answers pings, holds, sends `disconnect={}` and waits for
//! the server's close.
//!
//! - **roomstorm**: `roomstorm run` on a generated scenario (actix participants, recorders,
//!   presence boards, the summary), as a child process.
//! - **floor**: this binary re-executed as a bare tokio + tokio-tungstenite client with one task
//!   per participant and nothing recorded.
//!
//! For each it prints RSS per held participant (plateau RSS during the hold minus the RSS before
//! the first arrival, over N) and CPU per lifecycle (the child's user + system time over N), then
//! the ratios. Not a test: it exits 1 only if a lifecycle fails on either side.
//!
//! ```text
//! cargo bench --bench participant_lifecycle -- [--participants 5000] [--ramp 20] [--hold 30]
//!     [--workers 2] [--only roomstorm|floor] [--rounds 1]
//! ```
//!
//! With `--rounds N` the two sides alternate (floor first in odd rounds, roomstorm first in even
//! ones); each round's two runs are compared with each other and the median of the per-round
//! ratios is reported. This machine's kernel cost drifts by up to 2× over minutes, so only runs
//! next to each other compare well. Both sides make the same system calls (checked with
//! `strace -c`). The user/system split is printed, but the kernel's tick-based accounting moves
//! time between the two from run to run (seen: 441 vs 581 µs user for the same binary), so the
//! total is the figure to judge.
//!
//! ```text
//! ```

use std::collections::HashSet;
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use base64::Engine as _;
use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use http_body_util::{BodyExt, Empty};
use roomstorm::credentials::KeyPair;
use roomstorm::token::{self, Permission, RoomAccess};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

// The same allocator as the roomstorm binary, so allocator behaviour is not what is compared.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const USAGE: &str = "flags: --participants N --ramp SECONDS --hold SECONDS --workers N --only roomstorm|floor --ping-interval SECONDS";
const ROOM_SIZE: usize = 10;
/// Arrivals start this late so the first RSS samples show the process before any participant.
const LEAD_IN: Duration = Duration::from_secs(2);

#[derive(Clone)]
struct Args {
    participants: usize,
    ramp: u64,
    hold: u64,
    workers: usize,
    only: Option<String>,
    rounds: usize,
    /// The server's ping interval (roomstorm's dead-server timer is set to 3× it).
    ping_interval: u64,
}

fn parse_args(argv: &[String]) -> Args {
    let mut a = Args {
        participants: 5000,
        ramp: 20,
        hold: 30,
        workers: 2,
        only: None,
        rounds: 1,
        ping_interval: 3,
    };
    let mut it = argv.iter();
    while let Some(flag) = it.next() {
        let mut val = || {
            it.next()
                .unwrap_or_else(|| panic!("{flag} needs a value; {USAGE}"))
                .clone()
        };
        match flag.as_str() {
            "--participants" => a.participants = val().parse().expect(USAGE),
            "--ramp" => a.ramp = val().parse().expect(USAGE),
            "--hold" => a.hold = val().parse().expect(USAGE),
            "--workers" => a.workers = val().parse().expect(USAGE),
            "--only" => a.only = Some(val()),
            "--rounds" => a.rounds = val().parse().expect(USAGE),
            "--ping-interval" => a.ping_interval = val().parse().expect(USAGE),
            "--bench" => {}
            other => panic!("unknown flag {other}; {USAGE}"),
        }
    }
    assert!(
        a.participants >= ROOM_SIZE && a.workers > 0 && a.rounds > 0 && a.ping_interval > 0,
        "{USAGE}"
    );
    assert!(
        a.hold >= a.ramp + 3,
        "--hold must exceed --ramp by 3 s or more: RSS is measured while everyone is in a room, \
         from the last arrival to the first departure"
    );
    a
}

fn main() {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    if argv.first().map(String::as_str) == Some("--floor-child") {
        return floor_child(&argv[1..]);
    }
    let args = parse_args(&argv);
    let (mut server, addr) = start_server(args.ping_interval);
    println!(
        "participant lifecycle cost: {} participants in rooms of {ROOM_SIZE}, ramp {} s, hold {} s, {} workers; server: roomstorm serve --threads 1 --ping-interval {}s at {addr}",
        args.participants, args.ramp, args.hold, args.workers, args.ping_interval
    );
    let mut results: Vec<(&str, Measured)> = Vec::new();
    for round in 0..args.rounds {
        let order = if round % 2 == 0 {
            ["floor", "roomstorm"]
        } else {
            ["roomstorm", "floor"]
        };
        for side in order {
            if args.only.as_deref().is_some_and(|o| o != side) {
                continue;
            }
            let r = measure(side, &args, addr);
            println!(
                "round {}: {side:>9}: {:.2} KiB RSS per held participant ({:.1} MiB before arrivals, {:.1} MiB plateau), {:.1} µs CPU per lifecycle ({:.2} s user, {:.2} s system), {} failed",
                round + 1,
                r.rss_per_participant / 1024.0,
                r.rss_before as f64 / 1048576.0,
                r.rss_plateau as f64 / 1048576.0,
                r.cpu_per_lifecycle_us,
                r.user_s,
                r.system_s,
                r.failed
            );
            results.push((side, r));
        }
    }
    let _ = server.kill();
    let _ = server.wait();
    let failed: usize = results.iter().map(|(_, r)| r.failed).sum();
    // Compare within each round (the two runs sit next to each other in time, so the kernel's
    // drift hits both alike), then take the median of the per-round ratios.
    let n = args.participants as f64;
    let user = |r: &Measured| r.user_s * 1e6 / n;
    let system = |r: &Measured| r.system_s * 1e6 / n;
    let total = |r: &Measured| r.cpu_per_lifecycle_us;
    let rss = |r: &Measured| r.rss_per_participant;
    let pairs: Vec<(&Measured, &Measured)> = results
        .chunks(2)
        .filter_map(|c| match c {
            [(a, x), (_, y)] if *a == "floor" => Some((x, y)),
            [(_, y), (_, x)] => Some((x, y)),
            _ => None,
        })
        .collect();
    let median_ratio = |f: &dyn Fn(&Measured) -> f64| {
        let mut v: Vec<f64> = pairs.iter().map(|(fl, rs)| f(rs) / f(fl)).collect();
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied()
    };
    for (i, (fl, rs)) in pairs.iter().enumerate() {
        println!(
            "round {}: per lifecycle floor {:.0} µs ({:.0} user + {:.0} system), roomstorm {:.0} µs ({:.0} + {:.0}): {:.2}× total, {:.2}× user; RSS {:.2}×",
            i + 1,
            total(fl),
            user(fl),
            system(fl),
            total(rs),
            user(rs),
            system(rs),
            total(rs) / total(fl),
            user(rs) / user(fl),
            rss(rs) / rss(fl)
        );
    }
    if let (Some(r_total), Some(r_user), Some(r_system), Some(r_rss)) = (
        median_ratio(&total),
        median_ratio(&user),
        median_ratio(&system),
        median_ratio(&rss),
    ) {
        println!(
            "roomstorm / floor, median of {} round(s): RSS per participant {r_rss:.2}×, CPU per lifecycle {r_total:.2}× ({r_user:.2}× user, {r_system:.2}× system) (target ≤ 1.2×)",
            pairs.len()
        );
        println!(
            "{{\"participants\":{},\"rounds\":{},\"rss_ratio\":{r_rss:.3},\"cpu_ratio\":{r_total:.3},\"user_ratio\":{r_user:.3},\"system_ratio\":{r_system:.3}}}",
            args.participants,
            pairs.len()
        );
    }
    if failed > 0 {
        eprintln!("{failed} lifecycles failed: figures above are not comparable");
        std::process::exit(1);
    }
}

struct Measured {
    rss_before: u64,
    rss_plateau: u64,
    rss_per_participant: f64,
    cpu_per_lifecycle_us: f64,
    user_s: f64,
    system_s: f64,
    failed: usize,
}

fn measure(side: &str, args: &Args, addr: SocketAddr) -> Measured {
    let dir = std::env::temp_dir().join(format!("roomstorm-bench-{}-{side}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let mut cmd = if side == "roomstorm" {
        let scenario = dir.join("lifecycle.yaml");
        std::fs::write(&scenario, scenario_yaml(args)).expect("write scenario");
        let mut c = Command::new(env!("CARGO_BIN_EXE_roomstorm"));
        c.arg("run")
            .arg(&scenario)
            .args(["--target", &format!("http://{addr}"), "--quiet"])
            .args(["--workers", &args.workers.to_string()])
            .arg("--out")
            .arg(&dir)
            .env("ROOMSTORM_LOG", "roomstorm=warn");
        c
    } else {
        let mut c = Command::new(std::env::current_exe().expect("own path"));
        c.arg("--floor-child").args([
            addr.to_string(),
            args.participants.to_string(),
            args.ramp.to_string(),
            args.hold.to_string(),
            args.workers.to_string(),
        ]);
        c
    };
    cmd.env("BENCH_AK", "bench-ak")
        .env("BENCH_SK", "bench-secret")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    // Reaped below with wait4 (for its rusage), which `Child::wait` cannot return.
    #[allow(clippy::zombie_processes)]
    let child = cmd.spawn().expect("start child");
    let pid = child.id() as i32;
    let start = Instant::now();
    // Before arrivals: the lead-in. Plateau: from the last arrival (plus a second for its join)
    // to the first departure (the first arrival's hold ends), when everyone is in a room.
    let ramp = Duration::from_secs(args.ramp);
    let hold = Duration::from_secs(args.hold);
    let plateau_from = LEAD_IN + ramp + Duration::from_secs(1);
    let plateau_to = LEAD_IN + hold - Duration::from_millis(500);
    let (mut before, mut plateau) = (Vec::new(), Vec::new());
    let (status, usage) = loop {
        let t = start.elapsed();
        if let Some(rss) = rss_of(pid) {
            if t > Duration::from_millis(700) && t < LEAD_IN - Duration::from_millis(200) {
                before.push(rss);
            } else if t > plateau_from && t < plateau_to {
                plateau.push(rss);
            }
        }
        if let Some(done) = try_wait4(pid) {
            break done;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let out = {
        use std::io::Read as _;
        let mut s = String::new();
        let _ = child.stdout.expect("piped").read_to_string(&mut s);
        s
    };
    let _ = std::fs::remove_dir_all(&dir);
    let failed = if side == "roomstorm" {
        // The summary's completed count is the truth; the exit status says whether all passed.
        if status == 0 {
            0
        } else {
            count_failures(&out, args.participants)
        }
    } else {
        out.trim().parse().unwrap_or(args.participants)
    };
    let before_rss = median(&mut before);
    let plateau_rss = median(&mut plateau);
    let user_s = usage.0;
    let system_s = usage.1;
    Measured {
        rss_before: before_rss,
        rss_plateau: plateau_rss,
        rss_per_participant: plateau_rss.saturating_sub(before_rss) as f64
            / args.participants as f64,
        cpu_per_lifecycle_us: (user_s + system_s) * 1e6 / args.participants as f64,
        user_s,
        system_s,
        failed,
    }
}

fn count_failures(summary_text: &str, participants: usize) -> usize {
    let completed = summary_text
        .lines()
        .find_map(|l| {
            let l = l.trim_start();
            l.strip_prefix("completed")
                .and_then(|rest| rest.split_whitespace().next()?.parse::<usize>().ok())
        })
        .unwrap_or(0);
    eprintln!("{summary_text}");
    participants.saturating_sub(completed).max(1)
}

fn median(v: &mut [u64]) -> u64 {
    if v.is_empty() {
        return 0;
    }
    v.sort_unstable();
    v[v.len() / 2]
}

fn rss_of(pid: i32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    Some(kb * 1024)
}

/// Reaps `pid` if it exited: (exit status, (user s, system s)).
fn try_wait4(pid: i32) -> Option<(i32, (f64, f64))> {
    // SAFETY: wait4 writes only into the status and rusage we pass.
    unsafe {
        let mut status = 0;
        let mut usage: libc::rusage = std::mem::zeroed();
        let r = libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage);
        if r != pid {
            return None;
        }
        let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
        let code = if libc::WIFEXITED(status) {
            libc::WEXITSTATUS(status)
        } else {
            -1
        };
        Some((code, (secs(usage.ru_utime), secs(usage.ru_stime))))
    }
}

fn scenario_yaml(args: &Args) -> String {
    let rooms = args.participants / ROOM_SIZE;
    format!(
        "version: 1
name: lifecycle-bench
deadline: {deadline}s
target:
  url: http://unused.invalid
credentials:
  access_key: ${{BENCH_AK}}
  secret_key: ${{BENCH_SK}}
app: app1
rooms:
  count: {rooms}
  name: \"bench-{{index}}\"
groups:
  - name: member
    per_room: {ROOM_SIZE}
    user: \"u-{{room_index}}-{{n}}\"
    order: interleaved
    arrival:
      ramp: {{ start: {lead}s, over: {ramp}s }}
    script:
      - join
      - hold: {hold}s
      - leave
reconnect: {{ ping_timeout: {ping_timeout}s }}
",
        deadline = LEAD_IN.as_secs() + args.ramp + args.hold + 60,
        lead = LEAD_IN.as_secs(),
        ramp = args.ramp,
        hold = args.hold,
        ping_timeout = 3 * args.ping_interval,
    )
}

fn start_server(ping_interval: u64) -> (std::process::Child, SocketAddr) {
    let mut server = Command::new(env!("CARGO_BIN_EXE_roomstorm"))
        .args(["serve", "--listen", "127.0.0.1:0", "--threads", "1"])
        .args(["--ping-interval", &format!("{ping_interval}s")])
        .args(["--max-users", &ROOM_SIZE.to_string(), "--app", "app1"])
        .env("ROOMSTORM_ACCESS_KEY", "bench-ak")
        .env("ROOMSTORM_SECRET_KEY", "bench-secret")
        .env("ROOMSTORM_LOG", "roomstorm=warn")
        .stdout(Stdio::piped())
        .spawn()
        .expect("start roomstorm serve");
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(server.stdout.take().expect("piped")),
        &mut line,
    )
    .expect("server banner");
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no address in {line:?}"));
    (server, addr)
}

// ---- the floor: a bare tokio + tokio-tungstenite client doing the same lifecycle ----

fn floor_child(argv: &[String]) {
    let addr: SocketAddr = argv[0].parse().expect("addr");
    let n: usize = argv[1].parse().expect("n");
    let ramp = Duration::from_secs(argv[2].parse().expect("ramp"));
    let hold = Duration::from_secs(argv[3].parse().expect("hold"));
    let workers: usize = argv[4].parse().expect("workers");
    let keys = Arc::new(KeyPair::new(
        std::env::var("BENCH_AK").expect("BENCH_AK"),
        std::env::var("BENCH_SK").expect("BENCH_SK"),
    ));
    let failed = Arc::new(AtomicUsize::new(0));
    let start = Instant::now() + LEAD_IN;
    let rooms = n / ROOM_SIZE;
    // The same threading as roomstorm: one single-threaded runtime per worker, whole rooms per
    // worker, each participant spawned when it is due (a task per participant, nothing recorded).
    let threads: Vec<_> = (0..workers)
        .map(|w| {
            let (keys, failed) = (keys.clone(), failed.clone());
            std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime");
                let local = tokio::task::LocalSet::new();
                local.block_on(&rt, async move {
                    let mut tasks = Vec::new();
                    for i in (0..n).filter(|i| (i % rooms) % workers == w) {
                        // Interleaved order, as the scenario: room 0, 1, … then the next member.
                        let (room, member) = (i % rooms, i / rooms);
                        let at = start + ramp.mul_f64(i as f64 / n as f64);
                        tokio::time::sleep_until(at.into()).await;
                        let (keys, failed) = (keys.clone(), failed.clone());
                        tasks.push(tokio::task::spawn_local(async move {
                            if lifecycle(addr, &keys, room, member, hold).await.is_none() {
                                failed.fetch_add(1, Ordering::Relaxed);
                            }
                        }));
                    }
                    for t in tasks {
                        let _ = t.await;
                    }
                });
            })
        })
        .collect();
    for t in threads {
        t.join().expect("floor worker");
    }
    println!("{}", failed.load(Ordering::Relaxed));
}

/// One lifecycle: the join runs in its own boxed future, so the long hold keeps only the socket
/// and the roster (what a lean hand-written client would keep).
async fn lifecycle(
    addr: SocketAddr,
    keys: &KeyPair,
    room: usize,
    member: usize,
    hold: Duration,
) -> Option<()> {
    let (ws, roster) = Box::pin(join(addr, keys, room, member)).await?;
    stay(ws, roster, hold).await
}

type Ws = tokio_tungstenite::WebSocketStream<TcpStream>;

async fn join(
    addr: SocketAddr,
    keys: &KeyPair,
    room: usize,
    member: usize,
) -> Option<(Ws, HashSet<String>)> {
    let room = format!("bench-{room}");
    let user = format!("u-{}-{member}", room.trim_start_matches("bench-"));
    let access = RoomAccess {
        app_id: "app1".into(),
        room_name: room.clone(),
        user_id: user.clone(),
        expire_at: token::unix_now() + 3600,
        permission: Permission::User,
    };
    let room_token = token::mint(keys, &access);
    // HTTP exchange on a fresh connection.
    let stream = TcpStream::connect(addr).await.ok()?;
    stream.set_nodelay(true).ok()?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake::<_, Empty<Bytes>>(
        hyper_util::rt::TokioIo::new(stream),
    )
    .await
    .ok()?;
    let path = format!("/v3/apps/app1/rooms/{room}/auth?user={user}&token={room_token}");
    let req = hyper::Request::get(path)
        .header(hyper::header::HOST, addr.to_string())
        .body(Empty::new())
        .ok()?;
    let body = tokio::select! {
        r = async { sender.send_request(req).await.ok()?.into_body().collect().await.ok() } => r?.to_bytes(),
        _ = conn => return None,
    };
    let v: serde_json::Value = serde_json::from_slice(&body).ok()?;
    let at = v["accessToken"].as_str()?.to_string();
    let claims: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(at.split('.').nth(1)?.trim_end_matches('='))
            .ok()?,
    )
    .ok()?;
    let url = claims["signalingurl2"].as_str()?.to_string();
    // WebSocket with the same small buffers.
    let stream = TcpStream::connect(addr).await.ok()?;
    stream.set_nodelay(true).ok()?;
    let config = WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0);
    let (mut ws, _) = tokio_tungstenite::client_async_with_config(url, stream, Some(config))
        .await
        .ok()?;
    let auth = serde_json::json!({"token": at, "agent": "floor", "sdkversion": "4.3.1", "playerdata": "", "rpcid": "00000001"});
    ws.send(Message::text(format!("auth={auth}"))).await.ok()?;
    let mut roster: HashSet<String> = HashSet::new();
    loop {
        let msg = ws.next().await?.ok()?;
        let Some(body) = msg.to_text().ok().and_then(|t| t.strip_prefix("auth-res=")) else {
            continue;
        };
        let res: serde_json::Value = serde_json::from_str(body).ok()?;
        if res["code"].as_u64()? != 0 {
            return None;
        }
        for p in res["players"].as_array()? {
            if let Some(id) = p["playerid"].as_str().filter(|id| *id != user) {
                roster.insert(id.to_string());
            }
        }
        break;
    }
    Some((ws, roster))
}

async fn stay(mut ws: Ws, mut roster: HashSet<String>, hold: Duration) -> Option<()> {
    let until = tokio::time::sleep(hold);
    tokio::pin!(until);
    loop {
        tokio::select! {
            msg = ws.next() => {
                let Message::Text(t) = msg?.ok()? else { continue };
                let (cmd, body) = t.split_once('=')?;
                match cmd {
                    "ping" => ws.send(Message::text("pong={}")).await.ok()?,
                    "on-player-in" | "on-player-out" => {
                        let v: serde_json::Value = serde_json::from_str(body).ok()?;
                        let id = v["playerid"].as_str()?.to_string();
                        if cmd == "on-player-in" { roster.insert(id); } else { roster.remove(&id); }
                    }
                    _ => {}
                }
            }
            () = &mut until => break,
        }
    }
    ws.send(Message::text("disconnect={}")).await.ok()?;
    let _ = ws.send(Message::Close(None)).await;
    while let Some(Ok(_)) = ws.next().await {}
    std::hint::black_box(roster.len());
    Some(())
}
