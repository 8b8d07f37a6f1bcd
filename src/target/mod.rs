//! The server a run loads: the embedded reference server (started in-process on loopback for the
//! run, on its own thread) or an external one, resolved from the scenario and `--target`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::thread::JoinHandle;

use serde::Serialize;

use crate::codes;
use crate::credentials::KeyPair;
use crate::scenario::{DriverKind, EmbeddedServer, Scenario, Target};
use crate::server::metrics::{Departure, Metrics};
use crate::server::{self, AppSettings, ServerConfig, Timings, limits};

pub mod janus;
pub mod processes;

/// File descriptors one embedded-run participant needs: both ends of its WebSocket live in this
/// process, plus the short-lived token-exchange connection while it joins.
pub const FDS_PER_EMBEDDED_PARTICIPANT: usize = 2;

/// Why the target could not be prepared.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    /// The run cannot fit this process's open-file limit.
    #[error(
        "up to {participants} participants at once need about {needed} open files in one process with the embedded server (both ends of every socket), but the limit is {limit}; run with --shards N (participants in N processes, the embedded server in more when needed), or run `roomstorm serve --processes N` and pass --target http://127.0.0.1:PORT"
    )]
    TooManyFiles {
        /// Participants that can be connected at once.
        participants: usize,
        /// Files they need.
        needed: usize,
        /// The open-file limit.
        limit: usize,
    },
    /// External targets need keys to sign tokens.
    #[error("target {url} needs credentials (access_key and secret_key) to mint room tokens")]
    NoCredentials {
        /// The target URL.
        url: String,
    },
    /// The embedded server could not start.
    #[error("embedded server: {0}")]
    Embedded(String),
}

/// A resolved target.
pub struct PreparedTarget {
    /// HTTP base URL.
    pub base_url: String,
    /// Protocol.
    pub driver: DriverKind,
    /// Token keys.
    pub keys: KeyPair,
    /// The embedded server, when there is one.
    pub embedded: Option<EmbeddedHandle>,
    /// What a Janus target needs besides its URL.
    pub janus: Option<JanusSettings>,
}

/// What a run against Janus needs besides its URL.
#[derive(Debug, Clone, Copy)]
pub struct JanusSettings {
    /// Members' keepalive interval.
    pub keepalive: std::time::Duration,
    /// Janus checks tokens: participants present ones signed with the secret in `keys`.
    pub signs_tokens: bool,
}

impl std::fmt::Debug for PreparedTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PreparedTarget")
            .field("base_url", &self.base_url)
            .field("embedded", &self.embedded.is_some())
            .finish_non_exhaustive()
    }
}

/// Where the participants' ends of the sockets live, for the embedded server's file budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clients {
    /// In this process, beside the embedded server: both ends of every socket count here.
    InProcess,
    /// In other processes (shards): only the server's ends count, and the server is spread
    /// over [`processes::processes_for`] processes when one cannot hold them.
    Elsewhere,
}

/// Prepares the scenario's target; `override_url` (`--target`) replaces it with an external one.
pub fn prepare(
    scenario: &Scenario,
    peak_participants: usize,
    clients: Clients,
    override_url: Option<&str>,
) -> Result<PreparedTarget, TargetError> {
    let target = match (override_url, &scenario.target) {
        (Some(url), Target::Janus(j)) => Target::Janus(crate::scenario::JanusTarget {
            url: url.trim_end_matches('/').to_string(),
            ..j.clone()
        }),
        (Some(url), t) => Target::External {
            url: url.to_string(),
            driver: t.driver(),
            // Whether it has the fault API is probed before the run when the plan needs it.
            fault_api: true,
        },
        (None, t) => t.clone(),
    };
    match target {
        Target::Janus(j) => Ok(PreparedTarget {
            janus: Some(JanusSettings {
                keepalive: j.keepalive,
                signs_tokens: j.token_secret.is_some(),
            }),
            base_url: j.url,
            driver: DriverKind::Janus,
            // Janus tokens are signed with the secret alone; without one, none is sent.
            keys: match j.token_secret {
                Some(secret) => KeyPair {
                    access_key: "janus".into(),
                    secret_key: secret,
                },
                None => KeyPair::random(),
            },
            embedded: None,
        }),
        Target::External { url, driver, .. } => {
            let keys = scenario
                .credentials
                .clone()
                .ok_or_else(|| TargetError::NoCredentials { url: url.clone() })?;
            Ok(PreparedTarget {
                base_url: url.trim_end_matches('/').to_string(),
                driver,
                keys,
                embedded: None,
                janus: None,
            })
        }
        Target::Embedded(options) => {
            let limit = limits::open_file_limit();
            let keys = scenario.credentials.clone().unwrap_or_else(KeyPair::random);
            let handle = match clients {
                Clients::InProcess => {
                    let needed =
                        peak_participants * FDS_PER_EMBEDDED_PARTICIPANT + 2 * limits::FD_RESERVE;
                    if needed > limit {
                        return Err(TargetError::TooManyFiles {
                            participants: peak_participants,
                            needed,
                            limit,
                        });
                    }
                    EmbeddedHandle::start(&options, &scenario.app, &keys, limit)?
                }
                Clients::Elsewhere => match processes::processes_for(peak_participants, limit) {
                    1 => EmbeddedHandle::start(&options, &scenario.app, &keys, limit)?,
                    n => {
                        let p =
                            processes::ServerProcesses::start(n, &options, &scenario.app, &keys)?;
                        EmbeddedHandle {
                            addr: p.addr,
                            host: Host::Processes(p),
                        }
                    }
                },
            };
            Ok(PreparedTarget {
                base_url: format!("http://{}", handle.addr),
                driver: DriverKind::Qiniu,
                keys,
                embedded: Some(handle),
                janus: None,
            })
        }
    }
}

/// The embedded reference server, running until [`EmbeddedHandle::stop`]: on its own thread of
/// this process, or (when one process cannot hold its sockets) in server processes of its own.
pub struct EmbeddedHandle {
    /// Where it listens (the front door, when there are server processes).
    pub addr: std::net::SocketAddr,
    host: Host,
}

/// Where the embedded server runs.
enum Host {
    /// On a thread of this process.
    Thread {
        metrics: Arc<Metrics>,
        shutdown: Option<tokio::sync::oneshot::Sender<()>>,
        thread: Option<JoinHandle<()>>,
    },
    /// In server processes behind a front door on a thread of this process.
    Processes(processes::ServerProcesses),
}

impl EmbeddedHandle {
    fn start(
        options: &EmbeddedServer,
        app: &str,
        keys: &KeyPair,
        fd_limit: usize,
    ) -> Result<Self, TargetError> {
        let err = |e: &dyn std::fmt::Display| TargetError::Embedded(e.to_string());
        let listener = crate::server::listen(([127, 0, 0, 1], 0).into()).map_err(|e| err(&e))?;
        listener.set_nonblocking(true).map_err(|e| err(&e))?;
        let addr = listener.local_addr().map_err(|e| err(&e))?;
        let mut config = ServerConfig::single(
            keys.clone(),
            AppSettings {
                max_users: options.max_users,
                no_auto_kick_user: options.no_auto_kick_user,
                ..AppSettings::new(app)
            },
        );
        config.timings = Timings {
            ping_interval: options.ping_interval,
            reconnect_window: options.reconnect_window,
            silent_timeout: options.silent_timeout,
            empty_room_close: options.empty_room_close,
            auth_delay: options.auth_delay,
            ..Timings::default()
        };
        // Half the files are the server's: the other ends belong to the participants.
        config.limits.max_connections = Some(fd_limit.saturating_sub(2 * limits::FD_RESERVE) / 2);
        let (shutdown, shutdown_rx) = tokio::sync::oneshot::channel::<()>();
        let (thread, ready_rx) = on_own_thread("embedded-server", move |ready_tx| async move {
            let started = tokio::net::TcpListener::from_std(listener)
                .map_err(|e| e.to_string())
                .and_then(|l| server::Server::new(l, config).map_err(|e| e.to_string()));
            let server = match started {
                Ok(s) => s,
                Err(e) => return drop(ready_tx.send(Err(e))),
            };
            let _ = ready_tx.send(Ok(server.metrics()));
            server
                .run(async {
                    let _ = shutdown_rx.await;
                })
                .await;
        })
        .map_err(|e| err(&e))?;
        let metrics = ready_rx
            .recv()
            .map_err(|e| err(&e))?
            .map_err(TargetError::Embedded)?;
        Ok(Self {
            addr,
            host: Host::Thread {
                metrics,
                shutdown: Some(shutdown),
                thread: Some(thread),
            },
        })
    }

    /// Server processes it runs in (empty: it runs on a thread of this process).
    pub fn pids(&self) -> Vec<u32> {
        match &self.host {
            Host::Thread { .. } => Vec::new(),
            Host::Processes(p) => p.pids(),
        }
    }

    /// What the server counted so far; `None` (with a warning) when server processes could
    /// not be asked.
    pub fn counters(&self) -> Option<ServerCounters> {
        match &self.host {
            Host::Thread { metrics, .. } => Some(ServerCounters::read(metrics)),
            Host::Processes(p) => p
                .counters()
                .inspect_err(|e| tracing::warn!("the server's counters are missing: {e}"))
                .ok(),
        }
    }

    /// Stops the server and waits for its thread (and its processes).
    pub fn stop(mut self) {
        self.shutdown_now();
    }

    fn shutdown_now(&mut self) {
        match &mut self.host {
            Host::Thread {
                shutdown, thread, ..
            } => {
                if let Some(tx) = shutdown.take() {
                    let _ = tx.send(());
                }
                if let Some(t) = thread.take() {
                    let _ = t.join();
                }
            }
            // Its own Drop stops the front and the processes.
            Host::Processes(_) => {}
        }
    }
}

impl Drop for EmbeddedHandle {
    fn drop(&mut self) {
        self.shutdown_now();
    }
}

/// Whether a server started on its own thread: `Ok` with what it hands over, or why not.
pub(crate) type Started<T> = std::sync::mpsc::Receiver<Result<T, String>>;

/// Runs the future `body` makes on a thread of its own, named `name`, on a current-thread runtime:
/// one thread is the cheapest host on a small machine and leaves the other cores to the
/// participants. `body` reports through the sender whether it started (an `Err` also when the
/// runtime could not be built); the caller waits on the receiver.
pub(crate) fn on_own_thread<T, F, Fut>(
    name: &str,
    body: F,
) -> std::io::Result<(JoinHandle<()>, Started<T>)>
where
    T: Send + 'static,
    F: FnOnce(std::sync::mpsc::Sender<Result<T, String>>) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()>,
{
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let thread = std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt.block_on(body(ready_tx)),
                Err(e) => drop(ready_tx.send(Err(e.to_string()))),
            }
        })?;
    Ok((thread, ready_rx))
}

/// The server's own counters, reported beside roomstorm's so each side checks the other.
#[derive(
    Debug, Clone, Default, Serialize, serde::Deserialize, PartialEq, Eq, schemars::JsonSchema,
)]
pub struct ServerCounters {
    /// `auth-res` answers by code (0 = accepted).
    pub auths: BTreeMap<u32, u64>,
    /// Server-initiated `disconnect` frames by code.
    pub disconnects: BTreeMap<u32, u64>,
    /// Members that left their room, by reason.
    pub departures: BTreeMap<String, u64>,
    /// Members in rooms now.
    pub members: i64,
    /// Rooms open now.
    pub rooms: i64,
    /// Members inside their reconnect window now (dropped, not yet back or removed).
    #[serde(default)]
    pub detached: i64,
    /// Re-auths that resumed a member's session.
    #[serde(default)]
    pub resumes: u64,
    /// Fault injections the server carried out, by kind (`dropped` counts connections).
    #[serde(default)]
    pub faults: BTreeMap<String, u64>,
}

impl ServerCounters {
    /// The same counters from the server's Prometheus text (`/metrics`), as a multi-process
    /// server's front sums them.
    pub fn from_metrics_text(text: &str) -> Self {
        let mut c = Self::default();
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let Some((key, value)) = line.rsplit_once(' ') else {
                continue;
            };
            let Ok(v) = value.parse::<f64>() else {
                continue;
            };
            let (name, label) = match key.split_once('{') {
                Some((name, rest)) => (
                    name,
                    rest.trim_end_matches('}')
                        .split_once('=')
                        .map(|(_, v)| v.trim_matches('"')),
                ),
                None => (key, None),
            };
            let n = v as u64;
            let mut fault = |k: &str| {
                if n > 0 {
                    c.faults.insert(k.to_string(), n);
                }
            };
            match (name.strip_prefix("roomstorm_server_"), label) {
                (Some("auths_total"), Some(code)) if n > 0 => {
                    if let Ok(code) = code.parse() {
                        c.auths.insert(code, n);
                    }
                }
                (Some("disconnects_total"), Some(code)) if n > 0 => {
                    if let Ok(code) = code.parse() {
                        c.disconnects.insert(code, n);
                    }
                }
                (Some("departures_total"), Some(reason)) if n > 0 => {
                    c.departures.insert(reason.to_string(), n);
                }
                (Some("members"), None) => c.members = v as i64,
                (Some("rooms"), None) => c.rooms = v as i64,
                (Some("members_reconnecting"), None) => c.detached = v as i64,
                (Some("resumes_total"), None) => c.resumes = n,
                (Some("faults_dropped_total"), None) => fault("dropped"),
                (Some("faults_stalls_total"), None) => fault("stalls"),
                (Some("faults_auth_latency_total"), None) => fault("auth_latency"),
                (Some("faults_restarts_total"), None) => fault("restarts"),
                _ => {}
            }
        }
        c
    }

    fn read(m: &Metrics) -> Self {
        use std::sync::atomic::Ordering::Relaxed;
        let nonzero = |v: u64| v > 0;
        Self {
            auths: std::iter::once(0)
                .chain(codes::SERVER_CODES)
                .map(|c| (c, m.auths_with(c)))
                .filter(|(_, v)| nonzero(*v))
                .collect(),
            disconnects: codes::SERVER_CODES
                .iter()
                .map(|c| (*c, m.disconnects_with(*c)))
                .filter(|(_, v)| nonzero(*v))
                .collect(),
            departures: Departure::ALL
                .iter()
                .map(|d| (d.label().to_string(), m.departures_for(*d)))
                .filter(|(_, v)| nonzero(*v))
                .collect(),
            members: m.members.load(Relaxed),
            rooms: m.rooms.load(Relaxed),
            detached: m.members_detached.load(Relaxed),
            resumes: m.resumes.load(Relaxed),
            faults: [
                ("dropped", &m.faults_dropped),
                ("stalls", &m.faults_stalls),
                ("auth_latency", &m.faults_auth_latency),
                ("restarts", &m.faults_restarts),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.load(Relaxed)))
            .filter(|(_, v)| nonzero(*v))
            .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::Ordering::Relaxed;

    #[test]
    fn counters_read_from_metrics_text_equal_the_ones_read_in_process() {
        let m = Metrics::default();
        m.auth(0);
        m.auth(0);
        m.auth(10011);
        m.disconnect(10006);
        m.departure(Departure::Leave);
        m.departure(Departure::WindowExpired);
        m.members.store(41, Relaxed);
        m.rooms.store(5, Relaxed);
        m.members_detached.store(3, Relaxed);
        m.resumes.store(7, Relaxed);
        m.faults_restarts.store(1, Relaxed);
        m.faults_dropped.store(20, Relaxed);
        let in_process = ServerCounters::read(&m);
        assert_eq!(in_process.auths.get(&0), Some(&2));
        assert_eq!(
            ServerCounters::from_metrics_text(&m.render(100)),
            in_process
        );
        // Summed over processes by the front, as `merge_metrics` does.
        let two = crate::server::front::merge_metrics(&[m.render(100), m.render(100)], &[]);
        let summed = ServerCounters::from_metrics_text(&two);
        assert_eq!(summed.auths.get(&10011), Some(&2));
        assert_eq!(summed.members, 82);
        assert_eq!(summed.faults.get("dropped"), Some(&40));
    }
}
