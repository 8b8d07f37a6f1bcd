//! Server capacity benchmark: holds N joined members in rooms of 10 on `roomstorm serve` and
//! prints the server's RSS per member, the server's CPU per join (its own rusage, read through
//! `/metrics`: HTTP auth exchange + WebSocket auth + fan-out), the joins/s reached, and this load
//! generator's own CPU beside it (both share the machine's cores).
//!
//! ```text
//! cargo bench --bench server_join -- [--members 15000] [--room-size 10] [--in-flight 256]
//!     [--sources 4] [--hold 6] [--http fresh|reuse] [--server-threads N] [--target HOST:PORT]
//! ```
//!
//! `--http fresh` (default) opens a new TCP connection for every auth exchange, as a browser's
//! first `fetch` to a host does; `--http reuse` keeps one keep-alive connection per in-flight slot,
//! as a warm browser or a proxy in front of the server would. Heartbeats (a ping every 3 s to
//! every member already joined) run during the join phase; their cost is measured separately
//! while holding and reported both ways. Not a test: it asserts nothing about speed. It exits 1
//! only if a join fails, so a figure never hides lost members.

use std::collections::{BTreeMap, HashMap};
use std::net::{Ipv4Addr, SocketAddr};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use futures_util::{SinkExt, StreamExt};
use roomstorm::credentials::KeyPair;
use roomstorm::token::{self, Permission, RoomAccess};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

const USAGE: &str = "flags: --members N --room-size N --in-flight N --sources N --hold SECONDS --http fresh|reuse --server-threads N --target HOST:PORT";

struct Args {
    members: usize,
    room_size: usize,
    in_flight: usize,
    sources: u8,
    hold: Duration,
    reuse_http: bool,
    server_threads: Option<String>,
    target: Option<SocketAddr>,
}

fn parse_args() -> Args {
    let mut a = Args {
        members: 15_000,
        room_size: 10,
        in_flight: 256,
        sources: 4,
        hold: Duration::from_secs(6),
        reuse_http: false,
        server_threads: None,
        target: None,
    };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let mut it = argv.iter();
    while let Some(flag) = it.next() {
        let mut val = || {
            it.next()
                .unwrap_or_else(|| panic!("{flag} needs a value; {USAGE}"))
                .clone()
        };
        match flag.as_str() {
            "--members" => a.members = val().parse().expect("--members N"),
            "--room-size" => a.room_size = val().parse().expect("--room-size N"),
            "--in-flight" => a.in_flight = val().parse().expect("--in-flight N"),
            "--sources" => a.sources = val().parse().expect("--sources N (1-250)"),
            "--hold" => a.hold = Duration::from_secs(val().parse().expect("--hold SECONDS")),
            "--http" => a.reuse_http = val() == "reuse",
            "--server-threads" => a.server_threads = Some(val()),
            "--target" => {
                a.target = Some(
                    val()
                        .parse()
                        .expect("--target HOST:PORT (keys bench-ak/bench-secret)"),
                )
            }
            "--bench" => {}
            other => panic!("unknown flag {other}; {USAGE}"),
        }
    }
    assert!(
        (1..=250).contains(&a.sources) && a.in_flight > 0 && a.room_size > 0,
        "{USAGE}"
    );
    a
}

type Metrics = HashMap<String, f64>;
type WsClient = tokio_tungstenite::WebSocketStream<TcpStream>;

async fn scrape(addr: SocketAddr) -> Metrics {
    let mut conn = None;
    let body = http_get(&mut conn, addr, Ipv4Addr::LOCALHOST, "/metrics").await;
    body.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            l.rsplit_once(' ')
                .and_then(|(k, v)| Some((k.to_owned(), v.parse().ok()?)))
        })
        .collect()
}

async fn connect_from(src: Ipv4Addr, addr: SocketAddr) -> std::io::Result<TcpStream> {
    let sock = TcpSocket::new_v4()?;
    // Pick the port at connect time (per destination), not at bind time: without this the kernel
    // searches for a port free towards every destination, which gets slow with thousands in use.
    roomstorm::sockopt::bind_address_no_port(&sock)?;
    sock.bind(SocketAddr::from((src, 0)))?;
    let stream = sock.connect(addr).await?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// One keep-alive GET (no `Connection: close`, body read by Content-Length). With `conn` empty a
/// new connection is opened and left in `conn` for the caller to reuse or drop.
async fn http_get(
    conn: &mut Option<TcpStream>,
    addr: SocketAddr,
    src: Ipv4Addr,
    target: &str,
) -> String {
    if conn.is_none() {
        *conn = Some(connect_from(src, addr).await.expect("connect"));
    }
    let s = conn.as_mut().unwrap();
    let req = format!("GET {target} HTTP/1.1\r\nHost: {addr}\r\n\r\n");
    s.write_all(req.as_bytes()).await.expect("write");
    let mut raw = Vec::with_capacity(2048);
    let mut buf = [0u8; 8192];
    loop {
        let n = s.read(&mut buf).await.expect("read");
        assert!(n > 0, "server closed the connection mid-answer");
        raw.extend_from_slice(&buf[..n]);
        let Some(split) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&raw[..split]).to_ascii_lowercase();
        let len: usize = head
            .lines()
            .find_map(|l| {
                l.strip_prefix("content-length:")
                    .map(|v| v.trim().parse().unwrap())
            })
            .expect("content-length");
        if raw.len() >= split + 4 + len {
            return String::from_utf8_lossy(&raw[split + 4..split + 4 + len]).into_owned();
        }
    }
}

/// One member's join: HTTP exchange, WebSocket open, auth. Returns the socket and the code.
async fn join(
    http: &mut Option<TcpStream>,
    addr: SocketAddr,
    src: Ipv4Addr,
    keys: &KeyPair,
    room: &str,
    user: &str,
) -> (Option<WsClient>, u64) {
    let access = RoomAccess {
        app_id: "app1".into(),
        room_name: room.into(),
        user_id: user.into(),
        expire_at: token::unix_now() + 3600,
        permission: Permission::User,
    };
    let room_token = token::mint(keys, &access);
    let target = format!("/v3/apps/app1/rooms/{room}/auth?user={user}&token={room_token}");
    let body = http_get(http, addr, src, &target).await;
    let v: serde_json::Value = serde_json::from_str(&body).expect("auth answer");
    let at = v["accessToken"].as_str().expect("accessToken");
    let payload = at.split('.').nth(1).unwrap();
    let claims: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    let url = claims["signalingurl2"].as_str().unwrap();
    let stream = connect_from(src, addr).await.expect("ws connect");
    let config = WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0);
    let (mut ws, _) = tokio_tungstenite::client_async_with_config(url, stream, Some(config))
        .await
        .expect("ws handshake");
    let auth = serde_json::json!({"token": at, "agent": "bench", "sdkversion": "4.3.1", "playerdata": "", "rpcid": "00000001"});
    ws.send(Message::text(format!("auth={auth}")))
        .await
        .expect("send auth");
    while let Some(Ok(msg)) = ws.next().await {
        if let Some(body) = msg.to_text().ok().and_then(|t| t.strip_prefix("auth-res=")) {
            let res: serde_json::Value = serde_json::from_str(body).unwrap();
            return (Some(ws), res["code"].as_u64().unwrap_or(u64::MAX));
        }
    }
    (None, u64::MAX)
}

/// Keeps a member alive: answers pings, counts presence frames, leaves on `stop`.
async fn hold(
    mut ws: WsClient,
    frames: Arc<AtomicU64>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            msg = ws.next() => match msg {
                Some(Ok(Message::Text(t))) => {
                    if t.starts_with("ping=") {
                        if ws.send(Message::text("pong={}")).await.is_err() { return; }
                    } else {
                        frames.fetch_add(1, Ordering::Relaxed);
                    }
                }
                Some(Ok(_)) => {}
                _ => return,
            },
            _ = stop.changed() => {
                let _ = ws.send(Message::text("disconnect={}")).await;
                let _ = ws.close(None).await;
                return;
            }
        }
    }
}

/// What the join phase produced.
struct JoinPhase {
    codes: BTreeMap<u64, usize>,
    secs: f64,
    /// Sum over members of the time they were already joined while the phase went on.
    member_secs: f64,
}

async fn run_joins(
    args: &Args,
    addr: SocketAddr,
    keys: Arc<KeyPair>,
    frames: Arc<AtomicU64>,
    stop: tokio::sync::watch::Receiver<bool>,
) -> JoinPhase {
    let started = Instant::now();
    let next = Arc::new(AtomicUsize::new(0));
    let codes = Arc::new(Mutex::new(BTreeMap::<u64, usize>::new()));
    let joined_at = Arc::new(Mutex::new(Vec::<Instant>::with_capacity(args.members)));
    let mut workers = Vec::new();
    for slot in 0..args.in_flight {
        let (next, codes, joined_at, keys, frames, stop) = (
            next.clone(),
            codes.clone(),
            joined_at.clone(),
            keys.clone(),
            frames.clone(),
            stop.clone(),
        );
        let (members, room_size, sources, reuse) =
            (args.members, args.room_size, args.sources, args.reuse_http);
        workers.push(tokio::spawn(async move {
            let src = Ipv4Addr::new(127, 0, 0, 1 + (slot % usize::from(sources)) as u8);
            let mut http = None;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= members {
                    return;
                }
                let room = format!("room-{:05}", i / room_size);
                let (ws, code) =
                    join(&mut http, addr, src, &keys, &room, &format!("user-{i:06}")).await;
                if !reuse {
                    http = None; // the client closes its fresh connection, as a browser tab would
                }
                *codes.lock().unwrap().entry(code).or_default() += 1;
                if let (Some(ws), 0) = (ws, code) {
                    joined_at.lock().unwrap().push(Instant::now());
                    tokio::spawn(hold(ws, frames.clone(), stop.clone()));
                }
            }
        }));
    }
    for w in workers {
        w.await.unwrap();
    }
    let end = Instant::now();
    let member_secs = joined_at
        .lock()
        .unwrap()
        .iter()
        .map(|t| (end - *t).as_secs_f64())
        .sum();
    let codes = codes.lock().unwrap().clone();
    JoinPhase {
        codes,
        secs: (end - started).as_secs_f64(),
        member_secs,
    }
}

/// A fixed loopback workload timed right before the run, so figures from different machines (or
/// from one shared machine at different moments) can be compared: the CPU a plain blocking
/// server thread spends per connection that sends 100 bytes and gets 200 back.
fn loopback_reference() -> f64 {
    use std::io::{Read, Write};
    const CYCLES: usize = 2000;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let client = std::thread::spawn(move || {
        let mut buf = [0u8; 512];
        for _ in 0..CYCLES {
            let mut c = std::net::TcpStream::connect(addr).unwrap();
            c.write_all(&[b'x'; 100]).unwrap();
            let mut got = 0;
            while got < 200 {
                got += c.read(&mut buf).unwrap();
            }
        }
    });
    let thread_cpu = || {
        // SAFETY: getrusage only writes into the struct we pass.
        let u = unsafe {
            let mut u: libc::rusage = std::mem::zeroed();
            libc::getrusage(libc::RUSAGE_THREAD, &mut u);
            u
        };
        let us = |t: libc::timeval| t.tv_sec as f64 * 1e6 + t.tv_usec as f64;
        us(u.ru_utime) + us(u.ru_stime)
    };
    let start = thread_cpu();
    let mut buf = [0u8; 512];
    for _ in 0..CYCLES {
        let (mut s, _) = listener.accept().unwrap();
        let mut got = 0;
        while got < 100 {
            got += s.read(&mut buf).unwrap();
        }
        s.write_all(&[b'y'; 200]).unwrap();
    }
    let per_cycle = (thread_cpu() - start) / CYCLES as f64;
    client.join().unwrap();
    per_cycle
}

fn main() {
    let args = parse_args();
    let reference = loopback_reference();
    let fd_limit = roomstorm::server::limits::open_file_limit();
    if args.members + args.in_flight + 64 > fd_limit {
        eprintln!(
            "server_join: {} members need about {} sockets in this generator, but its open-file limit is {fd_limit}; use fewer members per run",
            args.members,
            args.members + args.in_flight + 64
        );
        std::process::exit(2);
    }
    let mut server = None;
    let addr = match args.target {
        Some(addr) => addr,
        None => {
            let (child, addr) = start_server(&args);
            server = Some(child);
            addr
        }
    };
    let server_pid = server.as_ref().map(std::process::Child::id);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let failed = rt.block_on(async {
        let keys = Arc::new(KeyPair::new("bench-ak", "bench-secret"));
        let frames = Arc::new(AtomicU64::new(0));
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let before = scrape(addr).await;
        let ticks0 = server_pid.and_then(user_system_ticks);
        let gen_cpu0 = roomstorm::server::metrics::process_cpu_micros();
        let phase = run_joins(&args, addr, keys, frames.clone(), stop_rx).await;
        let gen_cpu_join = roomstorm::server::metrics::process_cpu_micros() - gen_cpu0;
        let joined = scrape(addr).await;
        let ticks1 = server_pid.and_then(user_system_ticks);
        tokio::time::sleep(args.hold).await; // only heartbeats now
        let held = scrape(addr).await;
        let figures = Figures {
            ticks: ticks0.zip(ticks1),
            gen_cpu_join,
            frames: frames.load(Ordering::Relaxed),
            reference,
        };
        report(&args, &phase, &before, &joined, &held, &figures);
        let _ = stop_tx.send(true);
        tokio::time::sleep(Duration::from_secs(2)).await;
        args.members - phase.codes.get(&0).copied().unwrap_or(0)
    });
    if let Some(mut server) = server {
        // SAFETY: signalling the server this benchmark started, by its PID.
        unsafe { libc::kill(server.id() as i32, libc::SIGINT) };
        let _ = server.wait();
    }
    if failed > 0 {
        eprintln!("server_join: {failed} joins failed");
        std::process::exit(1);
    }
}

/// Figures gathered outside `/metrics`.
struct Figures {
    /// Server (utime, stime) ticks before and after the join phase.
    ticks: Option<((u64, u64), (u64, u64))>,
    /// This generator's CPU over the join phase, microseconds.
    gen_cpu_join: u64,
    /// Presence frames the members received.
    frames: u64,
    /// [`loopback_reference`], microseconds.
    reference: f64,
}

fn report(
    args: &Args,
    phase: &JoinPhase,
    before: &Metrics,
    joined: &Metrics,
    held: &Metrics,
    f: &Figures,
) {
    let (ticks, gen_cpu_join, frames) = (f.ticks, f.gen_cpu_join, f.frames);
    let n = args.members as f64;
    let cpu = |m: &Metrics| m["process_cpu_seconds_total"] * 1e6;
    let rss = |m: &Metrics| m["process_resident_memory_bytes"];
    let join_cpu = cpu(joined) - cpu(before);
    let hold_rate = (cpu(held) - cpu(joined))
        / held["roomstorm_server_members"].max(1.0)
        / args.hold.as_secs_f64();
    let heartbeat_during_joins = hold_rate * phase.member_secs;
    let per_join = join_cpu / n;
    let per_join_net = (join_cpu - heartbeat_during_joins) / n;
    let rss_per_member = (rss(held) - rss(before)) / n;
    let ok = phase.codes.get(&0).copied().unwrap_or(0);
    println!(
        "server_join: {} members in rooms of {}, {} joins in flight from {} source addresses, HTTP {}, server threads: {}",
        args.members,
        args.room_size,
        args.in_flight,
        args.sources,
        if args.reuse_http {
            "keep-alive reused"
        } else {
            "fresh connection per join"
        },
        args.server_threads.as_deref().unwrap_or("one per core")
    );
    println!(
        "  joined                       {ok} ok; outcomes by code {:?}; server counts {} members",
        phase.codes, held["roomstorm_server_members"]
    );
    println!(
        "  joins/s                      {:.0}   ({:.2} s for all joins)",
        n / phase.secs,
        phase.secs
    );
    println!(
        "  server CPU per join          {per_join:.1} us   (everything the server did during the join phase / joins)"
    );
    println!(
        "    without heartbeats         {per_join_net:.1} us   (less {:.1} us/member-s x {:.0} member-s of pings measured while holding)",
        hold_rate, phase.member_secs
    );
    if let Some(((u0, s0), (u1, s1))) = ticks {
        let (u, s) = ((u1 - u0) as f64, (s1 - s0) as f64);
        let total = (u + s).max(1.0);
        println!(
            "    split                      {:.0}% user, {:.0}% kernel   (/proc/<pid>/stat ticks)",
            100.0 * u / total,
            100.0 * s / total
        );
    }
    println!(
        "  generator CPU per join       {:.1} us   (this process, same cores)",
        gen_cpu_join as f64 / n
    );
    println!(
        "  server RSS                   {:.1} MiB before, {:.1} MiB holding",
        rss(before) / 1048576.0,
        rss(held) / 1048576.0
    );
    println!(
        "  server RSS per member        {:.2} KiB   (RSS growth / members)",
        rss_per_member / 1024.0
    );
    println!(
        "  server CPU while holding     {hold_rate:.2} us per member per second   (ping every 3 s + pong)"
    );
    println!("  presence frames received     {frames}");
    println!(
        "  loopback reference           {:.1} us   (server-side CPU of one plain connect/100 B/200 B/close; per join = {:.2} references)",
        f.reference,
        per_join_net / f.reference
    );
    println!(
        "{}",
        serde_json::json!({
            "bench": "server_join", "members": args.members, "room_size": args.room_size, "in_flight": args.in_flight,
            "http_reuse": args.reuse_http, "joined": ok, "joins_per_sec": n / phase.secs,
            "server_cpu_us_per_join": per_join, "server_cpu_us_per_join_without_heartbeats": per_join_net,
            "generator_cpu_us_per_join": gen_cpu_join as f64 / n, "server_rss_bytes_per_member": rss_per_member,
            "server_rss_bytes": rss(held), "server_hold_cpu_us_per_member_s": hold_rate,
            "loopback_reference_us": f.reference,
        })
    );
}

/// Starts `roomstorm serve` on a free loopback port and reads its address from its first line.
fn start_server(args: &Args) -> (std::process::Child, SocketAddr) {
    let mut server_args: Vec<String> = vec![
        "serve".into(),
        "--listen".into(),
        "127.0.0.1:0".into(),
        "--max-users".into(),
        args.room_size.to_string(),
    ];
    if let Some(t) = &args.server_threads {
        server_args.extend(["--threads".to_owned(), t.clone()]);
    }
    let mut server = Command::new(env!("CARGO_BIN_EXE_roomstorm"))
        .args(&server_args)
        .env("ROOMSTORM_ACCESS_KEY", "bench-ak")
        .env("ROOMSTORM_SECRET_KEY", "bench-secret")
        .env("ROOMSTORM_LOG", "roomstorm=warn")
        .stdout(Stdio::piped())
        .spawn()
        .expect("start roomstorm serve");
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(server.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    let addr: SocketAddr = line
        .trim()
        .rsplit("http://")
        .next()
        .unwrap()
        .parse()
        .expect(&line);
    (server, addr)
}

/// (utime, stime) clock ticks of a process, from `/proc/<pid>/stat`.
fn user_system_ticks(pid: u32) -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    Some((fields.get(11)?.parse().ok()?, fields.get(12)?.parse().ok()?))
}
