//! Test support: the reference server on port 0 in-process, and a raw client that speaks the wire
//! protocol by hand (HTTP/1.1 over a TcpStream, tokio-tungstenite for the socket) so that the
//! server is checked against the protocol text, not against roomstorm's own client code.
#![allow(dead_code)]

pub mod janus;
pub mod scratch;

/// Reads the first line `roomstorm serve` prints (`… listening on http://ADDR`) from a child
/// started with piped stdout, and returns that base URL.
pub fn serve_url(server: &mut std::process::Child) -> String {
    let mut banner = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(server.stdout.take().unwrap()),
        &mut banner,
    )
    .unwrap();
    banner
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("no URL in {banner:?}"))
        .to_string()
}

/// Waits for a child we started, up to `limit`; kills it (by its handle) and returns `None` if it
/// runs longer.
pub fn wait_with_timeout(
    child: &mut std::process::Child,
    limit: Duration,
) -> Option<std::process::ExitStatus> {
    let start = std::time::Instant::now();
    while start.elapsed() < limit {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

/// A plain HTTP/1.1 GET on loopback (`base` is `http://host:port`), the whole answer with its
/// header: the tests need no client library for it.
pub fn http_get(base: &str, path: &str) -> String {
    use std::io::{Read as _, Write as _};
    let authority = base.trim_start_matches("http://");
    let mut s = std::net::TcpStream::connect(authority).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

/// Scenario keys for short timers: the server pings every second, a client gives up on a silent
/// server after 3 s and retries every 500 ms (five attempts of 2 s at most).
pub const FAST_TIMERS: &str = "
target:
  embedded:
    ping_interval: 1s
reconnect:
  ping_timeout: 3s
  close_delay: 500ms
  retry_delay: 500ms
  request_timeout: 2s
  attempts: 5
";

/// Runs `roomstorm run FILE --out OUT ARGS…` to its end; returns the exit code, the run folder
/// named by its `results:` line, and what it printed (stdout, then stderr).
pub fn run_scenario_file(
    file: &std::path::Path,
    out: &std::path::Path,
    args: &[&str],
) -> (i32, std::path::PathBuf, String) {
    let done = std::process::Command::new(env!("CARGO_BIN_EXE_roomstorm"))
        .arg("run")
        .arg(file)
        .arg("--out")
        .arg(out)
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("ROOMSTORM_LOG")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&done.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&done.stderr).into_owned();
    let summary = stdout
        .lines()
        .find_map(|l| l.strip_prefix("results: "))
        .unwrap_or_else(|| panic!("{stdout}\n{stderr}"));
    let run_dir = std::path::Path::new(summary)
        .parent()
        .unwrap()
        .to_path_buf();
    (
        done.status.code().unwrap_or(-1),
        run_dir,
        format!("{stdout}\n{stderr}"),
    )
}

/// Waits for a child we started (as [`wait_with_timeout`]), then takes what it wrote to its piped
/// stdout and stderr.
pub fn wait_output(
    child: &mut std::process::Child,
    limit: Duration,
) -> Option<std::process::Output> {
    let status = wait_with_timeout(child, limit)?;
    let read = |pipe: Option<&mut dyn std::io::Read>| {
        let mut buf = Vec::new();
        if let Some(p) = pipe {
            p.read_to_end(&mut buf).unwrap();
        }
        buf
    };
    let stdout = read(child.stdout.as_mut().map(|p| p as &mut dyn std::io::Read));
    let stderr = read(child.stderr.as_mut().map(|p| p as &mut dyn std::io::Read));
    Some(std::process::Output {
        status,
        stdout,
        stderr,
    })
}

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use futures_util::{SinkExt, StreamExt};
use roomstorm::credentials::KeyPair;
use roomstorm::server::metrics::Metrics;
use roomstorm::server::{AppSettings, Server, ServerConfig};
use roomstorm::token::{self, Permission, RoomAccess};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// How long a test waits for any one frame before failing.
pub const WAIT: Duration = Duration::from_secs(5);

pub const APP: &str = "app1";

pub fn keys() -> KeyPair {
    KeyPair::new("test-ak", "test-secret-key-never-printed")
}

/// Short timers so lifecycle tests run in about a second each. The silent-user timeout stays long
/// because test clients only answer pings while a test reads them; the test of that timeout sets
/// its own.
pub fn fast_config(app: AppSettings) -> ServerConfig {
    let mut cfg = ServerConfig::single(keys(), app);
    cfg.timings.ping_interval = Duration::from_millis(100);
    cfg.timings.reconnect_window = Duration::from_millis(1500);
    cfg.timings.silent_timeout = Duration::from_secs(10);
    cfg.timings.empty_room_close = Duration::from_millis(300);
    cfg.timings.auth_timeout = Duration::from_millis(500);
    cfg
}

pub struct TestServer {
    pub addr: SocketAddr,
    pub metrics: Arc<Metrics>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    pub task: tokio::task::JoinHandle<()>,
}

impl TestServer {
    pub async fn start(config: ServerConfig) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let server = Server::new(listener, config).unwrap();
        let addr = server.local_addr().unwrap();
        let metrics = server.metrics();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(server.run(async move {
            let _ = rx.await;
        }));
        Self {
            addr,
            metrics,
            stop: Some(tx),
            task,
        }
    }

    pub async fn with_app(app: AppSettings) -> Self {
        Self::start(fast_config(app)).await
    }

    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        let _ = tokio::time::timeout(WAIT, &mut self.task).await;
    }

    pub fn base(&self) -> String {
        format!("http://{}", self.addr)
    }
}

pub fn access(room: &str, user: &str) -> RoomAccess {
    RoomAccess {
        app_id: APP.into(),
        room_name: room.into(),
        user_id: user.into(),
        expire_at: token::unix_now() + 3600,
        permission: Permission::User,
    }
}

pub fn room_token(room: &str, user: &str) -> String {
    token::mint(&keys(), &access(room, user))
}

/// A raw HTTP/1.1 answer.
#[derive(Debug)]
pub struct HttpAnswer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl HttpAnswer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

/// Sends one request with `Connection: close` and reads the whole answer.
pub async fn http(
    addr: SocketAddr,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> HttpAnswer {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let mut req = format!("{method} {target} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    stream.write_all(req.as_bytes()).await.unwrap();
    stream.write_all(body).await.unwrap();
    let mut raw = Vec::new();
    tokio::time::timeout(WAIT, stream.read_to_end(&mut raw))
        .await
        .expect("http answer in time")
        .unwrap();
    parse_http(&raw)
}

pub fn parse_http(raw: &[u8]) -> HttpAnswer {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text.split_once("\r\n\r\n").expect("http head");
    let mut lines = head.lines();
    let status: u16 = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    HttpAnswer {
        status,
        headers,
        body: body.to_owned(),
    }
}

pub async fn get(addr: SocketAddr, target: &str) -> HttpAnswer {
    http(addr, "GET", target, &[], b"").await
}

/// Decodes an access token's payload exactly as the Web SDK does: `atob` (standard alphabet).
pub fn access_payload(access_token: &str) -> Value {
    let payload = access_token.split('.').nth(1).expect("three segments");
    assert!(
        !payload.contains(['-', '_']),
        "payload must be valid in the standard alphabet: {payload}"
    );
    let padded = format!("{payload}{}", "=".repeat((4 - payload.len() % 4) % 4));
    let json = base64::engine::general_purpose::STANDARD
        .decode(padded)
        .expect("atob accepts it");
    serde_json::from_slice(&json).unwrap()
}

/// The HTTP exchange: room token → access token (token put in the query raw, as the SDK does).
pub async fn exchange(addr: SocketAddr, room_token: &str, room: &str, user: &str) -> String {
    let ans = get(
        addr,
        &format!("/v3/apps/{APP}/rooms/{room}/auth?user={user}&token={room_token}"),
    )
    .await;
    assert_eq!(ans.status, 200, "{}", ans.body);
    ans.json()["accessToken"].as_str().unwrap().to_owned()
}

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A raw signaling socket.
pub struct Client {
    pub ws: Ws,
    pub user: String,
    pub access_token: String,
    pub url: String,
}

pub async fn open_ws(url: &str) -> Ws {
    let (ws, _) = tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(url))
        .await
        .expect("ws open in time")
        .unwrap();
    ws
}

impl Client {
    /// HTTP exchange then socket open, no auth yet.
    pub async fn connect_with(addr: SocketAddr, room_token: &str, room: &str, user: &str) -> Self {
        let access_token = exchange(addr, room_token, room, user).await;
        let url = access_payload(&access_token)["signalingurl2"]
            .as_str()
            .unwrap()
            .to_owned();
        let ws = open_ws(&url).await;
        Self {
            ws,
            user: user.into(),
            access_token,
            url,
        }
    }

    /// A new socket for the same join, as the SDK reconnects: same URL plus `?rpcid=`, same
    /// access token (no new HTTP exchange).
    pub async fn reconnect(user: &str, url: &str, access_token: &str) -> Self {
        let ws = open_ws(&format!("{url}?rpcid=0123456789abcdef")).await;
        Self {
            ws,
            user: user.into(),
            access_token: access_token.into(),
            url: url.into(),
        }
    }

    pub async fn send(&mut self, text: &str) {
        self.ws.send(Message::text(text)).await.unwrap();
    }

    /// Sends `auth` and returns the `auth-res` body.
    pub async fn auth(&mut self, reconntoken: Option<&str>, playerdata: &str) -> Value {
        let mut body = serde_json::json!({
            "token": self.access_token, "agent": "test", "sdkversion": "4.3.1",
            "playerdata": playerdata, "rpcid": "0a1b2c3d"
        });
        if let Some(t) = reconntoken {
            body["reconntoken"] = t.into();
        }
        self.send(&format!("auth={body}")).await;
        let res = self.expect("auth-res").await;
        assert_eq!(res["rpcid"], "0a1b2c3d");
        res
    }

    /// The next text frame, skipping pings (answered with pong, as the SDK does).
    pub async fn next(&mut self) -> Option<(String, Value)> {
        loop {
            let msg = match tokio::time::timeout(WAIT, self.ws.next())
                .await
                .expect("a frame in time")
            {
                Some(Ok(m)) => m,
                _ => return None,
            };
            match msg {
                Message::Text(t) => {
                    let (cmd, body) = t.split_once('=').expect("cmd=json");
                    if cmd == "ping" {
                        let _ = self.ws.send(Message::text("pong={}")).await;
                        continue;
                    }
                    return Some((
                        cmd.to_owned(),
                        serde_json::from_str(body).expect("json body"),
                    ));
                }
                Message::Close(_) => return None,
                _ => {}
            }
        }
    }

    pub async fn expect(&mut self, cmd: &str) -> Value {
        match self.next().await {
            Some((c, body)) if c == cmd => body,
            other => panic!("{}: expected {cmd}, got {other:?}", self.user),
        }
    }

    /// Reads until the server closes; returns the close code.
    pub async fn expect_close(&mut self) -> Option<CloseCode> {
        loop {
            match tokio::time::timeout(WAIT, self.ws.next())
                .await
                .expect("close in time")
            {
                Some(Ok(Message::Close(frame))) => return frame.map(|f| f.code),
                Some(Ok(Message::Text(t))) if t.starts_with("ping=") => {}
                Some(Ok(other)) => panic!("{}: expected close, got {other:?}", self.user),
                Some(Err(_)) | None => return None,
            }
        }
    }

    /// Asserts no non-ping frame arrives within `d`.
    pub async fn expect_silence(&mut self, d: Duration) {
        let deadline = tokio::time::Instant::now() + d;
        loop {
            match tokio::time::timeout_at(deadline, self.ws.next()).await {
                Err(_) => return,
                Ok(Some(Ok(Message::Text(t)))) if t.starts_with("ping=") => {
                    let _ = self.ws.send(Message::text("pong={}")).await;
                }
                Ok(other) => panic!("{}: expected silence, got {other:?}", self.user),
            }
        }
    }
}

/// Exchange, open, auth with a fresh valid token; panics unless the join succeeds.
pub async fn join(server: &TestServer, room: &str, user: &str) -> (Client, Value) {
    let mut c = Client::connect_with(server.addr, &room_token(room, user), room, user).await;
    let res = c.auth(None, &format!("data-{user}")).await;
    assert_eq!(res["code"], 0, "{user} join: {res}");
    (c, res)
}

/// Exchange, open, auth with the given token; returns the auth-res.
pub async fn try_join(server: &TestServer, token: &str, room: &str, user: &str) -> (Client, Value) {
    let mut c = Client::connect_with(server.addr, token, room, user).await;
    let res = c.auth(None, "").await;
    (c, res)
}

pub fn player_ids(res: &Value) -> Vec<String> {
    let mut ids: Vec<String> = res["players"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["playerid"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids
}

/// Signs a management request as the SDKs do (Mac auth, signed X-Qiniu-Date) and sends it.
pub async fn admin(
    server: &TestServer,
    method: &str,
    target: &str,
    body: Option<(&str, &[u8])>,
    keys: &KeyPair,
) -> HttpAnswer {
    admin_at(server.addr, method, target, body, keys).await
}

/// [`admin`] to any server address (a standalone `serve`, a multi-process front).
pub async fn admin_at(
    addr: SocketAddr,
    method: &str,
    target: &str,
    body: Option<(&str, &[u8])>,
    keys: &KeyPair,
) -> HttpAnswer {
    let host = addr.to_string();
    let date = roomstorm::mac::format_qiniu_date(token::unix_now());
    let (ct, bytes) = body.unwrap_or(("application/x-www-form-urlencoded", b""));
    let parts = roomstorm::mac::SignedParts {
        method,
        path_and_query: target,
        host: &host,
        content_type: Some(ct),
        qiniu_headers: vec![("X-Qiniu-Date", &date)],
        body: bytes,
    };
    let auth = roomstorm::mac::authorization(keys, &parts);
    http(
        addr,
        method,
        target,
        &[
            ("Authorization", &auth),
            ("Content-Type", ct),
            ("X-Qiniu-Date", &date),
        ],
        bytes,
    )
    .await
}

/// Polls a metric until it has the wanted value (timers fire on a loaded machine late, not never).
pub async fn await_metric(server: &TestServer, line_prefix: &str, want: f64) {
    await_metric_at(server.addr, line_prefix, want).await;
}

/// [`await_metric`] for a server at `addr` (e.g. one started as a child process).
pub async fn await_metric_at(addr: SocketAddr, line_prefix: &str, want: f64) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let got = metric_at(addr, line_prefix).await;
        if got == want {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{line_prefix} stayed {got}, wanted {want}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Scrapes one sample from /metrics.
pub async fn metric(server: &TestServer, line_prefix: &str) -> f64 {
    metric_at(server.addr, line_prefix).await
}

/// [`metric`] for a server at `addr`.
pub async fn metric_at(addr: SocketAddr, line_prefix: &str) -> f64 {
    let text = get(addr, "/metrics").await.body;
    text.lines()
        .find_map(|l| {
            l.strip_prefix(line_prefix)
                .and_then(|rest| rest.strip_prefix(' '))
                .map(|v| v.parse().unwrap())
        })
        .unwrap_or_else(|| panic!("no {line_prefix} in\n{text}"))
}
