//! `roomstorm serve --processes N`: rooms spread over N server processes behind one front door.
//!
//! One process may open only so many files (often 20,000 as a hard limit), so 100,000 members
//! need several processes. The parent process is the front door on `--listen`: it answers the
//! token exchange, the management API, `/metrics` and `/healthz` for every room; the members'
//! WebSockets go straight to the child process that owns their room, named by `signalingurl2` in
//! the access token the front hands out.
//!
//! - **Children.** The front starts N copies of its own binary (`serve --child`, a hidden flag)
//!   with its own arguments minus `--listen`, `--processes`, `--public-url` and the key flags. Each
//!   listens on a free loopback port and reports it as the first line of its stdout. The key pair
//!   and the access-token key reach the children through environment variables, never argv. A
//!   child exits when its stdin closes, so the children end with the parent even when it is
//!   killed with SIGKILL; on Ctrl-C or SIGTERM the front closes their stdin, waits up to 3 s and
//!   kills whatever is left.
//! - **Placement.** Rendezvous hashing of (app, room) over the children's signaling URLs
//!   ([`Placement`]); the front signs access tokens with the key every child verifies with.
//! - **Management API.** The front checks the Mac signature, then signs its own requests to the
//!   children: room routes (users, kick, close) go to the room's owner; listing active rooms merges
//!   every child's rooms (sorted, then paged as one server would); app create/update/delete go to
//!   every child (create: the first child picks the id, the others get it as `appId`); faults go to
//!   every child (`drop`: each child drops its share of its own members, with a seed derived from
//!   the given one, and the counts are summed).
//! - **Metrics.** The children's samples are summed line by line (same name and labels), plus the
//!   front's own counters.

use std::collections::{BTreeSet, HashMap};
use std::convert::Infallible;
use std::ffi::OsString;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};

use super::access_token::{self, AccessClaims, AccessKey};
use super::admin::{self, Fields};
use super::http::{self, HttpResponse, error};
use super::placement::Placement;
use super::{ServerConfig, ServerError};
use crate::credentials::{ACCESS_KEY_ENV, KeyPair, SECRET_KEY_ENV, SecretKey};
use crate::mac::{self, SignedParts};

/// Environment variable that hands the access-token key (hex) to the children.
pub const TOKEN_KEY_ENV: &str = "ROOMSTORM_CHILD_TOKEN_KEY";
/// First word of the line a child prints when it listens.
const READY: &str = "roomstorm-child listening on http://";
/// Largest answer read from a child (`/metrics`, room lists).
const MAX_CHILD_ANSWER: usize = 64 << 20;
/// Limit for one request to a child.
const CHILD_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest page of `list active rooms` (as in [`admin`]).
const MAX_ROOMS_PAGE: usize = 1000;

/// Flags (with a value) the front does not pass on to its children.
const NOT_FOR_CHILDREN: [&str; 6] = [
    "--listen",
    "--processes",
    "--public-url",
    "--access-key",
    "--secret-key",
    "--credentials",
];

/// The children's arguments: the front's own (`std::env::args_os().skip(1)`) without the flags
/// the front keeps to itself, plus `--child --listen 127.0.0.1:0`.
pub fn child_args(parent: impl IntoIterator<Item = OsString>) -> Vec<OsString> {
    let mut out = Vec::new();
    let mut skip_value = false;
    for arg in parent {
        if std::mem::take(&mut skip_value) {
            continue;
        }
        let text = arg.to_string_lossy();
        if let Some(flag) = NOT_FOR_CHILDREN.iter().find(|f| text.starts_with(*f)) {
            if text.len() == flag.len() {
                skip_value = true;
                continue;
            }
            if text[flag.len()..].starts_with('=') {
                continue;
            }
        }
        out.push(arg);
    }
    out.extend(["--child", "--listen", "127.0.0.1:0"].map(OsString::from));
    out
}

/// One child process and where it listens.
struct ChildProc {
    child: Child,
    stdin: Option<ChildStdin>,
    addr: SocketAddr,
}

/// The child processes; killed (by PID) if dropped before [`Children::shutdown`].
pub struct Children {
    procs: Vec<ChildProc>,
    /// Per child: `false` once its stdout closed (it exited).
    alive: Vec<Arc<AtomicBool>>,
    /// Set by [`Children::shutdown`]: exits from then on are expected.
    stopping: Arc<AtomicBool>,
}

impl Children {
    /// Starts `n` children of this binary and waits until each reports its port.
    pub fn spawn(
        n: usize,
        args: &[OsString],
        keys: &KeyPair,
        token_key: &AccessKey,
    ) -> std::io::Result<Self> {
        use std::os::unix::ffi::OsStrExt as _;
        use std::os::unix::process::CommandExt as _;
        let exe = std::env::current_exe()?;
        let mut children = Self {
            procs: Vec::new(),
            alive: Vec::new(),
            stopping: Arc::new(AtomicBool::new(false)),
        };
        let mut stdouts = Vec::new();
        for _ in 0..n {
            let mut child = Command::new(&exe)
                .args(args)
                .env(ACCESS_KEY_ENV, &keys.access_key)
                .env(
                    SECRET_KEY_ENV,
                    std::ffi::OsStr::from_bytes(keys.secret_key.expose_bytes()),
                )
                .env(TOKEN_KEY_ENV, token_key.to_hex())
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                // Its own process group: a terminal's Ctrl-C reaches the parent only, which
                // stops the children (stdin closed) when its own clients are done with them.
                .process_group(0)
                .spawn()?;
            let stdout = child.stdout.take().expect("piped");
            let stdin = child.stdin.take();
            children.procs.push(ChildProc {
                child,
                stdin,
                addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            });
            stdouts.push(stdout);
        }
        for (proc, stdout) in children.procs.iter_mut().zip(stdouts) {
            let mut reader = BufReader::new(stdout);
            let mut line = String::new();
            reader.read_line(&mut line)?;
            let addr = line
                .trim()
                .strip_prefix(READY)
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|a| a.parse().ok())
                .ok_or_else(|| {
                    std::io::Error::other(format!(
                        "server process {} did not start (said {:?})",
                        proc.child.id(),
                        line.trim()
                    ))
                })?;
            proc.addr = addr;
            let alive = Arc::new(AtomicBool::new(true));
            children.alive.push(alive.clone());
            let (pid, stopping) = (proc.child.id(), children.stopping.clone());
            // Keep reading so that a child's later output never blocks it; end of file: it exited.
            std::thread::spawn(move || {
                let mut sink = String::new();
                while reader.read_line(&mut sink).is_ok_and(|n| n > 0) {
                    sink.clear();
                }
                alive.store(false, Relaxed);
                if !stopping.load(Relaxed) {
                    tracing::error!(pid, "a server process exited: its rooms are unavailable");
                }
            });
        }
        Ok(children)
    }

    /// PIDs, in placement order.
    pub fn pids(&self) -> Vec<u32> {
        self.procs.iter().map(|p| p.child.id()).collect()
    }

    /// Per child, in placement order: whether it is still running.
    pub fn liveness(&self) -> Vec<Arc<AtomicBool>> {
        self.alive.clone()
    }

    /// Listen addresses, in placement order.
    pub fn addrs(&self) -> Vec<SocketAddr> {
        self.procs.iter().map(|p| p.addr).collect()
    }

    /// Closes the children's stdin (they shut down gracefully), waits up to `grace`, then kills
    /// the rest by PID.
    pub fn shutdown(&mut self, grace: Duration) {
        self.stopping.store(true, Relaxed);
        for p in &mut self.procs {
            drop(p.stdin.take());
        }
        let deadline = Instant::now() + grace;
        for p in &mut self.procs {
            while Instant::now() < deadline {
                if p.child.try_wait().ok().flatten().is_some() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        self.kill();
    }

    fn kill(&mut self) {
        for p in &mut self.procs {
            if p.child.try_wait().ok().flatten().is_none() {
                let _ = p.child.kill();
            }
            let _ = p.child.wait();
        }
        self.procs.clear();
    }
}

impl Drop for Children {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Runs as a child: serves on `listener` with the shared access-token key, reports the port on
/// stdout, and stops on Ctrl-C, SIGTERM or when stdin closes (the front went away).
pub async fn run_child(
    listener: TcpListener,
    config: ServerConfig,
    token_key: AccessKey,
) -> Result<(), ServerError> {
    let server = super::Server::new(listener, config)?.with_access_key(token_key);
    let addr = server.local_addr()?;
    {
        use std::io::Write as _;
        let mut out = std::io::stdout().lock();
        writeln!(out, "{READY}{addr} pid {}", std::process::id())?;
        out.flush()?;
    }
    let (eof_tx, eof_rx) = tokio::sync::oneshot::channel::<()>();
    // A plain thread: a blocked read must not hold up the runtime's shutdown.
    std::thread::spawn(move || {
        let mut sink = [0u8; 256];
        let mut stdin = std::io::stdin().lock();
        while std::io::Read::read(&mut stdin, &mut sink).is_ok_and(|n| n > 0) {}
        let _ = eof_tx.send(());
    });
    tracing::info!(%addr, "server process started");
    server
        .run(async {
            tokio::select! {
                () = stop_signal() => {}
                _ = eof_rx => tracing::info!("the front process went away; stopping"),
            }
        })
        .await;
    Ok(())
}

/// Ctrl-C or SIGTERM.
pub async fn stop_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = async {
            match term.as_mut() {
                Some(t) => { t.recv().await; }
                None => std::future::pending::<()>().await,
            }
        } => {}
    }
}

/// The front door of a multi-process server.
pub struct Front {
    addrs: Vec<SocketAddr>,
    pids: Vec<u32>,
    alive: Vec<Arc<AtomicBool>>,
    placement: Placement,
    urls: Vec<String>,
    keys: HashMap<String, SecretKey>,
    signer: KeyPair,
    access_key: AccessKey,
    max_body: usize,
    header_timeout: Duration,
    tokens_issued: AtomicU64,
    requests: AtomicU64,
}

impl Front {
    /// A front for children listening on `addrs` (with `pids`), sharing `access_key`.
    pub fn new(
        config: &ServerConfig,
        addrs: Vec<SocketAddr>,
        pids: Vec<u32>,
        access_key: AccessKey,
    ) -> Self {
        let urls: Vec<String> = addrs
            .iter()
            .map(|a| format!("ws://{a}{}", http::SIGNALING_PATH))
            .collect();
        Self {
            placement: Placement::new(urls.clone()),
            alive: addrs
                .iter()
                .map(|_| Arc::new(AtomicBool::new(true)))
                .collect(),
            urls,
            addrs,
            pids,
            keys: config
                .keys
                .iter()
                .map(|k| (k.access_key.clone(), k.secret_key.clone()))
                .collect(),
            signer: config.keys[0].clone(),
            access_key,
            max_body: config.limits.max_body_bytes,
            header_timeout: config.timings.auth_timeout,
            tokens_issued: AtomicU64::new(0),
            requests: AtomicU64::new(0),
        }
    }

    /// Reports in `/healthz` whether each process still runs ([`Children::liveness`]).
    pub fn with_liveness(mut self, alive: Vec<Arc<AtomicBool>>) -> Self {
        assert_eq!(alive.len(), self.addrs.len(), "one flag per process");
        self.alive = alive;
        self
    }

    /// Serves on `listener` until `shutdown` resolves.
    pub async fn serve(
        self: Arc<Self>,
        listener: TcpListener,
        shutdown: impl std::future::Future<Output = ()>,
    ) {
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => {
                        let front = self.clone();
                        tokio::spawn(async move {
                            let timeout = front.header_timeout;
                            let service = hyper::service::service_fn(move |req| {
                                let front = front.clone();
                                async move { Ok::<_, Infallible>(http::finish(front.route(req).await)) }
                            });
                            let _ = hyper::server::conn::http1::Builder::new()
                                .timer(TokioTimer::new())
                                .header_read_timeout(timeout)
                                .serve_connection(TokioIo::new(stream), service)
                                .await;
                        });
                    }
                    Err(err) => {
                        tracing::warn!(%err, "accept failed");
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                }
            }
        }
    }

    async fn route(&self, req: Request<Incoming>) -> HttpResponse {
        self.requests.fetch_add(1, Relaxed);
        let path = req.uri().path().to_owned();
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        match (req.method(), segments.as_slice()) {
            (&Method::OPTIONS, _) => http::preflight(),
            (&Method::GET, ["v3", "apps", app, "rooms", room, "auth"]) => {
                self.auth_exchange(app, room, req.uri().query().unwrap_or(""))
            }
            (&Method::GET, ["v4", "sdk", "config"]) => {
                http::json(StatusCode::OK, &json!({"content": ""}))
            }
            (&Method::GET, ["metrics"]) => self.metrics().await,
            (&Method::GET, ["healthz"]) => {
                let processes: Vec<Value> = self
                    .pids
                    .iter()
                    .zip(&self.urls)
                    .zip(&self.alive)
                    .map(|((pid, url), alive)| {
                        json!({"pid": pid, "signaling": url, "running": alive.load(Relaxed)})
                    })
                    .collect();
                let all_up = self.alive.iter().all(|a| a.load(Relaxed));
                http::json(
                    if all_up {
                        StatusCode::OK
                    } else {
                        StatusCode::SERVICE_UNAVAILABLE
                    },
                    &json!({"status": if all_up { "ok" } else { "degraded" }, "processes": processes}),
                )
            }
            (_, ["v3", "apps", ..]) | (_, ["roomstorm", "v1", ..]) => self.management(req).await,
            _ if path == http::SIGNALING_PATH => error(
                404,
                "this is the front of several server processes: open the signalingurl2 of your access token",
            ),
            _ => error(404, "not found"),
        }
    }

    fn auth_exchange(&self, app: &str, room: &str, query: &str) -> HttpResponse {
        let claims = AccessClaims {
            signalingurl2: self.placement.signaling_url(app, room).to_owned(),
            app_id: app.to_owned(),
            room_name: room.to_owned(),
            user_id: http::raw_query_param(query, "user").unwrap_or_default(),
            room_token: http::raw_query_param(query, "token").unwrap_or_default(),
            iat: crate::token::unix_now(),
        };
        self.tokens_issued.fetch_add(1, Relaxed);
        let token = access_token::issue(&self.access_key, &claims);
        http::json(StatusCode::OK, &json!({ "accessToken": token }))
    }

    async fn metrics(&self) -> HttpResponse {
        let answers = self
            .broadcast(&Method::GET, "/metrics", None, Bytes::new())
            .await;
        let mut texts = Vec::new();
        for (i, answer) in answers.into_iter().enumerate() {
            match answer {
                Ok((StatusCode::OK, body)) => {
                    texts.push(String::from_utf8_lossy(&body).into_owned())
                }
                Ok((status, _)) => {
                    return error(502, &format!("process {i}: /metrics answered {status}"));
                }
                Err(why) => return error(502, &format!("process {i}: {why}")),
            }
        }
        let own = [(
            "roomstorm_server_access_tokens_total",
            self.tokens_issued.load(Relaxed) as f64,
        )];
        let mut text = merge_metrics(&texts, &own);
        text.push_str(&format!(
            "# HELP roomstorm_front_requests_total HTTP requests answered by the front process.\n# TYPE roomstorm_front_requests_total counter\nroomstorm_front_requests_total {}\n# HELP roomstorm_front_processes Server processes behind the front.\n# TYPE roomstorm_front_processes gauge\nroomstorm_front_processes {}\n",
            self.requests.load(Relaxed),
            self.addrs.len()
        ));
        let mut resp = Response::new(Full::new(Bytes::from(text)));
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4"),
        );
        resp
    }

    async fn management(&self, req: Request<Incoming>) -> HttpResponse {
        let (parts, body) = req.into_parts();
        let body = match Limited::new(body, self.max_body).collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(_) => return error(413, "request body too large"),
        };
        if let Some(refused) = admin::authenticate(&parts, &body, &self.keys) {
            return refused;
        }
        let ct = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok());
        let target = parts.uri.path_and_query().map_or("/", |p| p.as_str());
        let path = parts.uri.path().trim_start_matches('/');
        let segments: Vec<&str> = path.split('/').collect();
        let method = &parts.method;
        match (method, segments.as_slice()) {
            (&Method::GET, ["v3", "apps", app, "rooms"]) => {
                self.list_rooms(app, parts.uri.query().unwrap_or("")).await
            }
            (_, ["v3", "apps", app, "rooms", room, "users", ..])
            | (_, ["roomstorm", "v1", "apps", app, "rooms", room, ..]) => {
                let owner = self.placement.owner(app, room);
                relay(self.call(owner, method, target, ct, body).await)
            }
            (&Method::POST, ["v3", "apps"]) => self.create_app(target, ct, body).await,
            (&Method::POST | &Method::DELETE, ["v3", "apps", _]) => {
                first_answer(self.broadcast(method, target, ct, body).await)
            }
            (&Method::POST, ["roomstorm", "v1", "faults", "drop"]) => {
                self.drop_fault(target, ct, body).await
            }
            (&Method::POST, ["roomstorm", "v1", "faults", _]) => {
                first_answer(self.broadcast(method, target, ct, body).await)
            }
            (&Method::GET, ["roomstorm", "v1", "faults"]) => {
                let answers = self.broadcast(method, target, ct, body).await;
                if answers
                    .iter()
                    .any(|a| !matches!(a, Ok((StatusCode::OK, _))))
                {
                    return first_answer(answers);
                }
                let states: Vec<Value> = answers
                    .iter()
                    .filter_map(|a| a.as_ref().ok())
                    .map(|(_, b)| serde_json::from_slice(b).unwrap_or(Value::Null))
                    .collect();
                let mut state = states[0].clone();
                state["listening"] =
                    Value::Bool(states.iter().all(|s| s["listening"] != Value::Bool(false)));
                http::json(StatusCode::OK, &state)
            }
            _ => relay(self.call(0, method, target, ct, body).await),
        }
    }

    async fn create_app(&self, target: &str, ct: Option<&str>, body: Bytes) -> HttpResponse {
        let (status, answer) = match self.call(0, &Method::POST, target, ct, body).await {
            Ok((StatusCode::OK, answer)) => (StatusCode::OK, answer),
            other => return relay(other),
        };
        let Ok(app) = serde_json::from_slice::<Value>(&answer) else {
            return error(502, "process 0 created an app but its answer is not JSON");
        };
        let same = json!({
            "appId": app["appId"], "hub": app["hub"], "title": app["title"],
            "maxUsers": app["maxUsers"], "noAutoKickUser": app["noAutoKickUser"],
        });
        let body = Bytes::from(same.to_string());
        for i in 1..self.addrs.len() {
            match self
                .call(
                    i,
                    &Method::POST,
                    target,
                    Some("application/json"),
                    body.clone(),
                )
                .await
            {
                Ok((StatusCode::OK, _)) => {}
                Ok((s, b)) => {
                    return error(
                        502,
                        &format!(
                            "app {} created in process 0 but process {i} answered {s}: {}",
                            app["appId"],
                            String::from_utf8_lossy(&b)
                        ),
                    );
                }
                Err(why) => return error(502, &format!("process {i}: {why}")),
            }
        }
        relay(Ok((status, answer)))
    }

    /// Each child drops `share` of its own members with its own seed; the counts are summed.
    async fn drop_fault(&self, target: &str, ct: Option<&str>, body: Bytes) -> HttpResponse {
        let fields = Fields::parse(ct, &body);
        let (Ok(Some(share)), Ok(seed)) = (fields.number("share"), fields.whole("seed")) else {
            // Let the first process word the refusal exactly as a single server would.
            return relay(self.call(0, &Method::POST, target, ct, body).await);
        };
        if fields.malformed || !(0.0..=1.0).contains(&share) {
            return relay(self.call(0, &Method::POST, target, ct, body).await);
        }
        let seed = seed.unwrap_or(0);
        let calls = (0..self.addrs.len()).map(|i| {
            let body = json!({"share": share, "seed": child_seed(seed, i)}).to_string();
            self.call(
                i,
                &Method::POST,
                target,
                Some("application/json"),
                Bytes::from(body),
            )
        });
        let answers = futures_util::future::join_all(calls).await;
        let (mut dropped, mut of) = (0u64, 0u64);
        for (i, answer) in answers.into_iter().enumerate() {
            match answer {
                Ok((StatusCode::OK, b)) => {
                    let v: Value = serde_json::from_slice(&b).unwrap_or(Value::Null);
                    dropped += v["dropped"].as_u64().unwrap_or(0);
                    of += v["of"].as_u64().unwrap_or(0);
                }
                other => {
                    tracing::warn!(process = i, "drop fault failed in one process");
                    return relay(other);
                }
            }
        }
        http::json(StatusCode::OK, &json!({"dropped": dropped, "of": of}))
    }

    /// Every child's active rooms (all pages), merged, sorted and paged as one server would.
    async fn list_rooms(&self, app: &str, query: &str) -> HttpResponse {
        let request = super::admin::RoomsPage::parse(query);
        let prefix_q: String = form_urlencoded::byte_serialize(request.prefix.as_bytes()).collect();
        let per_child = (0..self.addrs.len()).map(|i| {
            let prefix_q = &prefix_q;
            async move {
                let mut rooms = Vec::new();
                let mut at = 0usize;
                loop {
                    let target = format!(
                        "/v3/apps/{app}/rooms?prefix={prefix_q}&offset={at}&limit={MAX_ROOMS_PAGE}"
                    );
                    let (status, body) = self
                        .call(i, &Method::GET, &target, None, Bytes::new())
                        .await?;
                    if status != StatusCode::OK {
                        return Ok(Err((status, body)));
                    }
                    let v: Value = serde_json::from_slice(&body).map_err(|e| e.to_string())?;
                    let page = v["rooms"].as_array().cloned().unwrap_or_default();
                    rooms.extend(page.iter().filter_map(|r| r.as_str().map(str::to_owned)));
                    let next = v["offset"].as_u64().unwrap_or(0) as usize;
                    if v["end"] != Value::Bool(false) || page.is_empty() || next <= at {
                        return Ok::<_, String>(Ok(rooms));
                    }
                    at = next;
                }
            }
        });
        let mut all = BTreeSet::new();
        for (i, answer) in futures_util::future::join_all(per_child)
            .await
            .into_iter()
            .enumerate()
        {
            match answer {
                Ok(Ok(rooms)) => all.extend(rooms),
                Ok(Err(refused)) => return relay(Ok(refused)),
                Err(why) => return error(502, &format!("process {i}: {why}")),
            }
        }
        request.answer(&all.into_iter().collect::<Vec<String>>())
    }

    async fn broadcast(
        &self,
        method: &Method,
        target: &str,
        ct: Option<&str>,
        body: Bytes,
    ) -> Vec<Result<(StatusCode, Bytes), String>> {
        let calls = (0..self.addrs.len()).map(|i| self.call(i, method, target, ct, body.clone()));
        futures_util::future::join_all(calls).await
    }

    /// One request to child `i`, Mac-signed with the front's key pair, on a fresh connection.
    async fn call(
        &self,
        i: usize,
        method: &Method,
        target: &str,
        ct: Option<&str>,
        body: Bytes,
    ) -> Result<(StatusCode, Bytes), String> {
        let addr = self.addrs[i];
        let host = addr.to_string();
        let authorization = mac::authorization(
            &self.signer,
            &SignedParts {
                method: method.as_str(),
                path_and_query: target,
                host: &host,
                content_type: ct,
                qiniu_headers: Vec::new(),
                body: &body,
            },
        );
        let exchange = async {
            let stream = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
            let (mut sender, conn) =
                hyper::client::conn::http1::handshake::<_, Full<Bytes>>(TokioIo::new(stream))
                    .await
                    .map_err(|e| e.to_string())?;
            tokio::spawn(conn);
            let mut req = Request::builder()
                .method(method.clone())
                .uri(target)
                .header(header::HOST, &host)
                .header(header::AUTHORIZATION, authorization);
            if let Some(ct) = ct {
                req = req.header(header::CONTENT_TYPE, ct);
            }
            let req = req.body(Full::new(body)).map_err(|e| e.to_string())?;
            let res = sender.send_request(req).await.map_err(|e| e.to_string())?;
            let status = res.status();
            let bytes = Limited::new(res.into_body(), MAX_CHILD_ANSWER)
                .collect()
                .await
                .map_err(|e| e.to_string())?
                .to_bytes();
            Ok((status, bytes))
        };
        tokio::time::timeout(CHILD_TIMEOUT, exchange)
            .await
            .map_err(|_| format!("no answer from {addr} within {CHILD_TIMEOUT:?}"))?
    }
}

/// The seed child `i` uses for a drop fault asked with `seed` (child 0 uses `seed` itself).
pub fn child_seed(seed: u64, i: usize) -> u64 {
    seed.wrapping_add((i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15))
}

/// A child's answer passed on (status and JSON body); 502 if it could not be reached.
fn relay(answer: Result<(StatusCode, Bytes), String>) -> HttpResponse {
    match answer {
        Ok((status, body)) => {
            let mut resp = Response::new(Full::new(body));
            *resp.status_mut() = status;
            resp.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            resp
        }
        Err(why) => error(502, &format!("a server process did not answer: {why}")),
    }
}

/// The first refusal or failure among the children's answers, else the first child's answer.
fn first_answer(answers: Vec<Result<(StatusCode, Bytes), String>>) -> HttpResponse {
    let bad = answers
        .iter()
        .position(|a| !matches!(a, Ok((StatusCode::OK, _))));
    let pick = bad.unwrap_or(0);
    answers
        .into_iter()
        .nth(pick)
        .map_or_else(|| error(502, "no server processes"), relay)
}

/// Sums Prometheus text expositions sample by sample (same name and labels); `# HELP`/`# TYPE`
/// lines are kept once, in first-seen order. `extra` adds to (or appends) unlabelled samples.
pub fn merge_metrics(texts: &[String], extra: &[(&str, f64)]) -> String {
    let mut order: Vec<String> = Vec::new();
    let mut sums: HashMap<String, f64> = HashMap::new();
    for text in texts {
        for line in text.lines() {
            if line.trim().is_empty() {
                continue;
            }
            if line.starts_with('#') {
                if !sums.contains_key(line) && !order.iter().any(|l| l == line) {
                    order.push(line.to_owned());
                }
                continue;
            }
            let Some((key, value)) = line.rsplit_once(' ') else {
                continue;
            };
            let v: f64 = value.parse().unwrap_or(0.0);
            match sums.get_mut(key) {
                Some(sum) => *sum += v,
                None => {
                    sums.insert(key.to_owned(), v);
                    order.push(format!("\u{0}{key}"));
                }
            }
        }
    }
    for (key, v) in extra {
        match sums.get_mut(*key) {
            Some(sum) => *sum += v,
            None => {
                sums.insert((*key).to_owned(), *v);
                order.push(format!("\u{0}{key}"));
            }
        }
    }
    let mut out = String::new();
    for entry in order {
        match entry.strip_prefix('\u{0}') {
            Some(key) => {
                let v = sums[key];
                if v.fract() == 0.0 && v.abs() < 1e15 {
                    out.push_str(&format!("{key} {}\n", v as i64));
                } else {
                    out.push_str(&format!("{key} {v}\n"));
                }
            }
            None => {
                out.push_str(&entry);
                out.push('\n');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn children_get_the_arguments_but_not_the_keys_or_the_address() {
        let parent: Vec<OsString> = [
            "--log",
            "info",
            "serve",
            "--listen",
            "0.0.0.0:7788",
            "--processes=3",
            "--secret-key",
            "s3cret",
            "--access-key=ak",
            "--credentials",
            "c.yaml",
            "--max-users",
            "5",
            "--public-url",
            "http://x",
            "--threads",
            "1",
        ]
        .map(OsString::from)
        .to_vec();
        let got: Vec<String> = child_args(parent)
            .into_iter()
            .map(|a| a.into_string().unwrap())
            .collect();
        assert_eq!(
            got,
            [
                "--log",
                "info",
                "serve",
                "--max-users",
                "5",
                "--threads",
                "1",
                "--child",
                "--listen",
                "127.0.0.1:0"
            ]
        );
    }

    #[test]
    fn metrics_are_summed_per_sample() {
        let a = "# HELP m Members.\n# TYPE m gauge\nm 2\nc{kind=\"x\"} 1\nf 0.5\n".to_owned();
        let b = "# HELP m Members.\n# TYPE m gauge\nm 3\nc{kind=\"x\"} 4\nf 0.25\n".to_owned();
        let merged = merge_metrics(&[a, b], &[("t", 7.0), ("m", 1.0)]);
        assert_eq!(
            merged,
            "# HELP m Members.\n# TYPE m gauge\nm 6\nc{kind=\"x\"} 5\nf 0.75\nt 7\n"
        );
    }

    #[test]
    fn child_seeds_differ_and_child_zero_keeps_the_seed() {
        assert_eq!(child_seed(42, 0), 42);
        assert_ne!(child_seed(42, 1), child_seed(42, 2));
    }
}
