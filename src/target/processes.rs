//! The embedded server spread over server processes, for runs whose members need more sockets
//! than one process may open: `serve --child` processes of this executable hold the rooms, and a
//! front door in this process (the same [`Front`] as `serve --processes`) answers the token
//! exchange, the management and fault API and `/metrics` for all of them.
//!
//! The children end with this process even when it is killed: each exits when its stdin closes.

use std::ffi::OsString;
use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crate::credentials::KeyPair;
use crate::scenario::EmbeddedServer;
use crate::server::access_token::AccessKey;
use crate::server::front::{self, Children, Front};
use crate::server::{AppSettings, ServerConfig, limits};

use super::{ServerCounters, TargetError};

/// Share of a server process's connection budget that placement plans to fill: rooms are placed
/// by a hash of their name, so processes do not hold exactly equal shares.
const FILL: f64 = 0.8;

/// Server processes needed for `members` sockets at once, each process allowed `fd_limit` files.
pub fn processes_for(members: usize, fd_limit: usize) -> usize {
    let per_process = (fd_limit.saturating_sub(2 * limits::FD_RESERVE) as f64 * FILL) as usize;
    members.div_ceil(per_process.max(1)).max(1)
}

/// Server processes with a front door running on a thread of this process.
pub struct ServerProcesses {
    /// Where the front listens.
    pub addr: SocketAddr,
    children: Option<Children>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl ServerProcesses {
    /// Starts `n` server processes configured like the scenario's embedded server, and the front.
    pub fn start(
        n: usize,
        options: &EmbeddedServer,
        app: &str,
        keys: &KeyPair,
    ) -> Result<Self, TargetError> {
        let err = |e: &dyn std::fmt::Display| TargetError::Embedded(e.to_string());
        let token_key = AccessKey::random();
        let mut children = Children::spawn(n, &child_args(options, app), keys, &token_key)
            .map_err(|e| err(&format!("cannot start the server processes: {e}")))?;
        let config = ServerConfig::single(keys.clone(), AppSettings::new(app));
        let front = Arc::new(
            Front::new(&config, children.addrs(), children.pids(), token_key)
                .with_liveness(children.liveness()),
        );
        let listener = crate::server::listen(std::net::SocketAddr::from(([127, 0, 0, 1], 0)))
            .map_err(|e| err(&e))?;
        let addr = listener.local_addr().map_err(|e| err(&e))?;
        let (shutdown, shutdown_rx) = tokio::sync::oneshot::channel::<()>();
        let (thread, ready_rx) =
            super::on_own_thread("embedded-front", move |ready_tx| async move {
                let listener = match tokio::net::TcpListener::from_std(listener) {
                    Ok(l) => l,
                    Err(e) => return drop(ready_tx.send(Err(e.to_string()))),
                };
                let _ = ready_tx.send(Ok(()));
                front
                    .serve(listener, async {
                        let _ = shutdown_rx.await;
                    })
                    .await;
            })
            .map_err(|e| err(&e))?;
        match ready_rx.recv() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                children.shutdown(Duration::from_secs(3));
                return Err(TargetError::Embedded(e));
            }
            Err(e) => {
                children.shutdown(Duration::from_secs(3));
                return Err(err(&e));
            }
        }
        Ok(Self {
            addr,
            children: Some(children),
            shutdown: Some(shutdown),
            thread: Some(thread),
        })
    }

    /// The PIDs of the server processes.
    pub fn pids(&self) -> Vec<u32> {
        self.children.as_ref().map_or_else(Vec::new, Children::pids)
    }

    /// What the processes counted, summed by the front's `/metrics`.
    pub fn counters(&self) -> Result<ServerCounters, String> {
        let text = fetch_metrics(self.addr)?;
        Ok(ServerCounters::from_metrics_text(&text))
    }

    /// Stops the front, then the processes (stdin closed, then killed by PID after a grace).
    pub fn stop(mut self) {
        self.shutdown_now();
    }

    fn shutdown_now(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        if let Some(mut c) = self.children.take() {
            c.shutdown(Duration::from_secs(3));
        }
    }
}

impl Drop for ServerProcesses {
    fn drop(&mut self) {
        self.shutdown_now();
    }
}

/// `serve --child` arguments that give each process the scenario's embedded-server settings, on
/// one thread (the cheapest per join when the generator shares the machine).
fn child_args(o: &EmbeddedServer, app: &str) -> Vec<OsString> {
    let us = |d: Duration| format!("{}us", d.as_micros());
    let mut args: Vec<String> = vec![
        "serve".into(),
        "--app".into(),
        app.into(),
        "--max-users".into(),
        o.max_users.to_string(),
        "--ping-interval".into(),
        us(o.ping_interval),
        "--reconnect-window".into(),
        us(o.reconnect_window),
        "--silent-timeout".into(),
        us(o.silent_timeout),
        "--empty-room-close".into(),
        us(o.empty_room_close),
        "--auth-delay".into(),
        us(o.auth_delay),
        "--threads".into(),
        "1".into(),
    ];
    if o.no_auto_kick_user {
        args.push("--no-auto-kick-user".into());
    }
    front::child_args(args.into_iter().map(OsString::from))
}

/// `GET /metrics` from the front, over a plain blocking socket (called once, at the end).
fn fetch_metrics(addr: SocketAddr) -> Result<String, String> {
    use std::io::{Read as _, Write as _};
    let timeout = Duration::from_secs(15);
    let mut s = std::net::TcpStream::connect_timeout(&addr, timeout)
        .map_err(|e| format!("server /metrics: {e}"))?;
    s.set_read_timeout(Some(timeout))
        .and_then(|()| s.set_write_timeout(Some(timeout)))
        .map_err(|e| format!("server /metrics: {e}"))?;
    write!(
        s,
        "GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .map_err(|e| format!("server /metrics: {e}"))?;
    let mut answer = String::new();
    s.read_to_string(&mut answer)
        .map_err(|e| format!("server /metrics: {e}"))?;
    let (head, body) = answer
        .split_once("\r\n\r\n")
        .ok_or("server /metrics: no HTTP header")?;
    if !head.starts_with("HTTP/1.1 200") {
        return Err(format!(
            "server /metrics answered {}",
            head.lines().next().unwrap_or("")
        ));
    }
    Ok(body.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn processes_cover_the_members_with_room_for_uneven_placement() {
        assert_eq!(processes_for(0, 20_000), 1);
        assert_eq!(processes_for(9_000, 20_000), 1);
        // 20,000 - 128 = 19,872 files, 80 % planned: 15,897 members per process.
        assert_eq!(processes_for(15_897, 20_000), 1);
        assert_eq!(processes_for(15_898, 20_000), 2);
        assert_eq!(processes_for(100_000, 20_000), 7);
        assert_eq!(
            processes_for(10, 0),
            10,
            "a broken limit never divides by zero"
        );
    }

    #[test]
    fn children_get_the_scenario_settings_as_flags() {
        let o = EmbeddedServer {
            max_users: 7,
            no_auto_kick_user: true,
            auth_delay: Duration::from_millis(250),
            ..EmbeddedServer::default()
        };
        let args: Vec<String> = child_args(&o, "appX")
            .into_iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        let after = |flag: &str| {
            let i = args.iter().position(|a| a == flag).expect(flag);
            args[i + 1].clone()
        };
        assert_eq!(args[0], "serve");
        assert_eq!(after("--app"), "appX");
        assert_eq!(after("--max-users"), "7");
        assert_eq!(after("--auth-delay"), "250000us");
        assert_eq!(after("--threads"), "1");
        assert!(args.iter().any(|a| a == "--no-auto-kick-user"));
        assert!(args.ends_with(&["--child".into(), "--listen".into(), "127.0.0.1:0".into()]));
        for a in &args[1..] {
            if let Some(d) = a.strip_suffix("us") {
                assert!(d.parse::<u64>().is_ok(), "{a} parses as a duration");
            }
        }
    }
}
