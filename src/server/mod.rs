//! The embedded reference room server: Qiniu-compatible signaling, room tokens, management API.
//!
//! `roomstorm run` starts it when a scenario names no external target, tests start it on port 0,
//! and `roomstorm serve` runs it alone. Its behaviour is specified in `docs/protocol.md`.
//!
//! Layout: [`http`] (front door) → [`session`] (one WebSocket) → [`rooms`] (state and codes), with
//! [`frame`] (wire format), [`access_token`], [`admin`] (management API), [`outbox`] (bounded send
//! queues), [`metrics`], [`limits`] (fd limit, connection cap), [`placement`] (room → process), [`front`] (the front
//! door of `serve --processes N`: spreads rooms over child processes) and
//! [`faults`] (live fault-injection state: drops, stalls, auth latency, restarts).

pub mod access_token;
pub mod admin;
pub mod config;
pub mod faults;
pub mod frame;
pub mod front;
pub mod http;
pub mod limits;
pub mod metrics;
pub mod outbox;
pub mod placement;
pub mod rooms;
pub mod session;

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

pub use config::{AppSettings, Limits, ServerConfig, Timings};

use crate::credentials::SecretKey;
use access_token::AccessKey;
use faults::{Faults, Interrupt};
use limits::ConnectionGate;
use metrics::Metrics;
use placement::Placement;
use rooms::{Apps, RoomContext};

/// The listen backlog every listener of the reference server asks for (`run`'s embedded target,
/// `serve`, its `--processes` children and front door, a restart's new listener).
///
/// Why not what `bind` gives: `std::net::TcpListener::bind` and tokio's `bind` ask for 128, and a
/// join burst of more than 128 connections at once overflows that queue: the kernel drops the
/// extra SYNs and the clients retry after 1 s, 3 s, … (the retransmission timer), so the run
/// would measure the kernel, not the server. The kernel caps the value at
/// `net.core.somaxconn` (4096 by default since Linux 5.4): [`listen_backlog`] is what a listener
/// really gets, and what `run`'s preflight compares `--max-connecting` with.
pub const LISTEN_BACKLOG: u32 = 65_535;

/// The backlog the kernel grants a listener of the reference server: [`LISTEN_BACKLOG`] capped by
/// `somaxconn`.
pub fn listen_backlog(somaxconn: usize) -> usize {
    (LISTEN_BACKLOG as usize).min(somaxconn)
}

/// Binds `addr` (`SO_REUSEADDR`, non-blocking) and listens with [`LISTEN_BACKLOG`]; for
/// `tokio::net::TcpListener::from_std`.
pub fn listen(addr: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(LISTEN_BACKLOG as i32)?;
    socket.set_nonblocking(true)?;
    Ok(socket.into())
}

/// Shared by every connection of one server.
pub struct ServerState {
    /// Settings the server started with.
    pub config: ServerConfig,
    /// Apps and their rooms.
    pub apps: Apps,
    /// Access key → secret key, for room tokens and management requests.
    pub keys: HashMap<String, SecretKey>,
    /// Signs access tokens.
    pub access_key: AccessKey,
    /// Counters.
    pub metrics: Arc<Metrics>,
    /// Connection cap.
    pub gate: Arc<ConnectionGate>,
    /// Room → signaling URL.
    pub placement: Placement,
    /// Source of session ids.
    pub next_session: AtomicU64,
    /// Flips to `true` when the server shuts down; sessions close with 1001.
    pub shutdown: tokio::sync::watch::Receiver<bool>,
    /// Faults injected through the management API's extension.
    pub faults: Faults,
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// Nothing to verify tokens with.
    #[error("the server needs at least one access/secret key pair")]
    NoKeys,
    /// A configured limit cannot be honoured.
    #[error("{0}")]
    Limit(String),
    /// The listener's address could not be read.
    #[error("listener: {0}")]
    Io(#[from] std::io::Error),
}

/// A server bound to a listener, ready to run.
pub struct Server {
    listener: TcpListener,
    state: Arc<ServerState>,
    shutdown_tx: tokio::sync::watch::Sender<bool>,
    fd_limit: usize,
}

impl Server {
    /// Prepares a server on an already bound listener (tests bind port 0).
    pub fn new(listener: TcpListener, config: ServerConfig) -> Result<Self, ServerError> {
        if config.keys.is_empty() {
            return Err(ServerError::NoKeys);
        }
        let fd_limit = limits::open_file_limit();
        let cap = limits::connection_cap(config.limits.max_connections, fd_limit)
            .map_err(ServerError::Limit)?;
        let local = listener.local_addr()?;
        tune_listener(&listener);
        let base = config
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{local}"));
        let ws_base = base
            .replacen("https://", "wss://", 1)
            .replacen("http://", "ws://", 1);
        let placement = Placement::new(vec![format!(
            "{}{}",
            ws_base.trim_end_matches('/'),
            http::SIGNALING_PATH
        )]);
        let metrics = Arc::new(Metrics::default());
        let ctx = Arc::new(RoomContext {
            timings: config.timings.clone(),
            metrics: metrics.clone(),
        });
        let apps = Apps::new(&config.apps, ctx, crate::token::unix_now());
        let keys = config
            .keys
            .iter()
            .map(|k| (k.access_key.clone(), k.secret_key.clone()))
            .collect();
        let (shutdown_tx, shutdown_rx) = tokio::sync::watch::channel(false);
        let state = Arc::new(ServerState {
            gate: ConnectionGate::new(cap, metrics.clone()),
            config,
            apps,
            keys,
            access_key: AccessKey::random(),
            metrics,
            placement,
            next_session: AtomicU64::new(1),
            shutdown: shutdown_rx,
            faults: Faults::new(),
        });
        Ok(Self {
            listener,
            state,
            shutdown_tx,
            fd_limit,
        })
    }

    /// Signs and verifies access tokens with `key` instead of a random one: the child processes of
    /// `serve --processes` verify tokens the front process issued.
    pub fn with_access_key(mut self, key: AccessKey) -> Self {
        Arc::get_mut(&mut self.state)
            .expect("the state is not shared before run")
            .access_key = key;
        self
    }

    /// The address clients connect to.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The per-process open-file limit found at start.
    pub fn fd_limit(&self) -> usize {
        self.fd_limit
    }

    /// Connections admitted at once before new ones get 503.
    pub fn connection_cap(&self) -> usize {
        self.state.gate.cap()
    }

    /// The server's counters (live).
    pub fn metrics(&self) -> Arc<Metrics> {
        self.state.metrics.clone()
    }

    /// Serves until `shutdown` resolves, then closes every socket with 1001 and returns.
    ///
    /// A restart fault closes the listener here for its downtime and binds the same address again.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        let Server {
            listener,
            state,
            shutdown_tx,
            ..
        } = self;
        tokio::pin!(shutdown);
        let addr = listener.local_addr();
        let mut listener = Some(listener);
        let mut faults = state.faults.subscribe();
        let mut last_accept_warning = None::<std::time::Instant>;
        while let Some(open) = listener.as_ref() {
            tokio::select! {
                _ = &mut shutdown => break,
                fault = faults.next() => {
                    let Interrupt::Restart { down } = fault else { continue };
                    let Ok(addr) = &addr else {
                        tracing::error!("restart: the listener's address is unknown; not reopening");
                        continue;
                    };
                    drop(listener.take()); // closed: connects are refused until it is bound again
                    listener = reopen(*addr, down, &mut shutdown).await;
                    if listener.is_some() {
                        state.faults.set_listening(true);
                        tracing::info!(%addr, "listening again after a simulated restart");
                    }
                }
                accepted = open.accept() => match accepted {
                    Ok((stream, _peer)) => admit(stream, &state),
                    Err(err) => {
                        // EMFILE/ENFILE: back off instead of spinning; say so at most once a second.
                        if last_accept_warning.is_none_or(|t| t.elapsed() > Duration::from_secs(1)) {
                            tracing::warn!(%err, "accept failed");
                            last_accept_warning = Some(std::time::Instant::now());
                        }
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                }
            }
        }
        drop(listener);
        let _ = shutdown_tx.send(true);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
        while state.metrics.sockets_open.load(Relaxed) > 0 && tokio::time::Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// After a restart's downtime, binds `addr` again (`SO_REUSEADDR`), retrying while the address is
/// still taken; `None` if the server is shut down first.
async fn reopen(
    addr: SocketAddr,
    down: Duration,
    shutdown: impl Future<Output = ()>,
) -> Option<TcpListener> {
    let bind = async {
        tokio::time::sleep(down).await;
        let mut last_warning = None::<std::time::Instant>;
        loop {
            match bind_reusable(addr) {
                Ok(listener) => return listener,
                Err(err) => {
                    if last_warning.is_none_or(|t| t.elapsed() > Duration::from_secs(1)) {
                        tracing::warn!(%err, %addr, "cannot listen again yet; retrying");
                        last_warning = Some(std::time::Instant::now());
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    };
    tokio::select! {
        () = shutdown => None,
        listener = bind => Some(listener),
    }
}

fn bind_reusable(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let listener = TcpListener::from_std(listen(addr)?)?;
    tune_listener(&listener);
    Ok(listener)
}

/// Options every accepted socket inherits from the listener, set once instead of per connection:
/// `TCP_NODELAY` (signaling frames are small and must not wait for an ACK) and `TCP_DEFER_ACCEPT`
/// (wake the accept loop only once a connection has sent its request: every client here speaks
/// first, so that is one wakeup and one empty read fewer per connection).
fn tune_listener(listener: &TcpListener) {
    use crate::sockopt::set_int;
    for (name, option, value) in [
        ("TCP_NODELAY", libc::TCP_NODELAY, 1),
        ("TCP_DEFER_ACCEPT", libc::TCP_DEFER_ACCEPT, 5),
    ] {
        if let Err(err) = set_int(listener, libc::IPPROTO_TCP, option, value) {
            tracing::debug!(%err, "{name} not available on the listener");
        }
    }
}

fn admit(stream: TcpStream, state: &Arc<ServerState>) {
    if !state.faults.listening() {
        // Accepted in the moment before a restart closed the listener: a crashed server would
        // not have answered it either.
        let _ = crate::sockopt::zero_linger(&stream);
        return;
    }
    match state.gate.try_admit() {
        Some(permit) => {
            tokio::spawn(http::serve_connection(stream, state.clone(), permit));
        }
        None => {
            let cap = state.gate.cap();
            tokio::spawn(refuse(stream, cap));
        }
    }
}

async fn refuse(mut stream: TcpStream, cap: usize) {
    let body = format!("{{\"error\":\"connection limit reached: {cap} connections open\"}}");
    let resp = format!(
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nConnection: close\r\nRetry-After: 1\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    // Closing with unread request bytes would send RST and the client would see a reset instead
    // of the 503: read what has arrived, answer, half-close, then drain until the client closes.
    let mut sink = [0u8; 2048];
    let _ = tokio::time::timeout(Duration::from_millis(50), stream.read(&mut sink)).await;
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        stream.write_all(resp.as_bytes()).await?;
        stream.shutdown().await?;
        while stream.read(&mut sink).await? > 0 {}
        Ok::<_, std::io::Error>(())
    })
    .await;
}

/// Runs a server on `listener` until `shutdown` resolves: the library entry point.
pub async fn run(
    listener: TcpListener,
    config: ServerConfig,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServerError> {
    Server::new(listener, config)?.run(shutdown).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listeners_ask_for_the_documented_backlog_not_std_s_128() {
        let listener = listen(([127, 0, 0, 1], 0).into()).unwrap();
        let port = listener.local_addr().unwrap().port();
        // `ss` shows a listener's backlog as its Send-Q; without `ss` there is nothing to read.
        let Ok(out) = std::process::Command::new("ss")
            .args(["-ltnH", &format!("sport = :{port}")])
            .output()
        else {
            return eprintln!("no `ss` here: backlog not checked");
        };
        let text = String::from_utf8_lossy(&out.stdout);
        let send_q: usize = text
            .split_whitespace()
            .nth(2)
            .and_then(|q| q.parse().ok())
            .unwrap_or_else(|| panic!("ss printed {text:?}"));
        let somaxconn = crate::preflight::listen_limits().somaxconn;
        assert_eq!(send_q, listen_backlog(somaxconn), "{text}");
        assert!(send_q > 128 || somaxconn <= 128, "{text}");
    }

    #[tokio::test]
    async fn accepted_sockets_inherit_nodelay_from_the_listener() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let keys = crate::credentials::KeyPair::new("AK", "SK");
        let server = Server::new(
            listener,
            ServerConfig::single(keys, AppSettings::new("app1")),
        )
        .unwrap();
        let addr = server.local_addr().unwrap();
        let mut client = TcpStream::connect(addr).await.unwrap();
        client
            .write_all(b"GET /healthz HTTP/1.1\r\n\r\n")
            .await
            .unwrap();
        let (accepted, _) = server.listener.accept().await.unwrap();
        assert!(
            accepted.nodelay().unwrap(),
            "no per-socket setsockopt needed"
        );
    }
}
