//! `roomstorm serve`: the reference server as a standalone process.

use crate::cli::ServeArgs;
use crate::error::CommandError;
use crate::server::{self, AppSettings, ServerConfig};

/// Builds the config from flags (and `--config`), binds, prints where to connect, serves until Ctrl-C.
pub fn run(args: ServeArgs) -> Result<(), CommandError> {
    let keys = args.keys.resolve()?;
    let apps = args
        .apps
        .iter()
        .map(|id| AppSettings {
            max_users: args.max_users,
            no_auto_kick_user: args.no_auto_kick_user,
            ..AppSettings::new(id.clone())
        })
        .collect();
    let mut config = ServerConfig {
        apps,
        ..ServerConfig::single(keys, AppSettings::new("unused"))
    };
    if let Some(path) = &args.config {
        server::config::apply_file(&mut config, path)
            .map_err(|e| CommandError::InvalidInput(e.to_string()))?;
    }
    let t = &mut config.timings;
    t.ping_interval = args.ping_interval.unwrap_or(t.ping_interval);
    t.reconnect_window = args.reconnect_window.unwrap_or(t.reconnect_window);
    t.silent_timeout = args.silent_timeout.unwrap_or(t.silent_timeout);
    t.empty_room_close = args.empty_room_close.unwrap_or(t.empty_room_close);
    t.auth_delay = args.auth_delay.unwrap_or(t.auth_delay);
    config.limits.max_connections = args.max_connections.or(config.limits.max_connections);
    config.limits.max_frame_bytes = args
        .max_frame_bytes
        .unwrap_or(config.limits.max_frame_bytes);
    if args.public_url.is_some() {
        config.public_url = args.public_url.clone();
    }
    if config.timings.ping_interval.is_zero() {
        return Err(CommandError::InvalidInput(
            "--ping-interval must be greater than zero".into(),
        ));
    }

    let runtime = match args.threads {
        Some(0) => {
            return Err(CommandError::InvalidInput(
                "--threads must be at least 1".into(),
            ));
        }
        Some(1) => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build(),
        Some(n) => tokio::runtime::Builder::new_multi_thread()
            .worker_threads(n)
            .enable_all()
            .build(),
        None => tokio::runtime::Runtime::new(),
    }
    .map_err(|e| CommandError::Incomplete(format!("cannot start the async runtime: {e}")))?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .map_err(|e| CommandError::Incomplete(format!("cannot listen on {}: {e}", args.listen)))?;
        let app_ids: Vec<String> = config.apps.iter().map(|a| a.app_id.clone()).collect();
        let access_key = config.keys[0].access_key.clone();
        let server = server::Server::new(listener, config).map_err(|e| CommandError::InvalidInput(e.to_string()))?;
        let addr = server.local_addr().map_err(|e| CommandError::Incomplete(e.to_string()))?;
        if !addr.ip().is_loopback() {
            tracing::warn!(%addr, "listening beyond loopback: anyone who can reach this address can join rooms");
        }
        say(format_args!(
            "roomstorm reference server listening on http://{addr}\n  signaling:  ws://{addr}/signaling   metrics: http://{addr}/metrics\n  apps: {}   access key: {access_key}\n  open-file limit {} per process: at most {} connections (beyond: 503)",
            app_ids.join(", "),
            server.fd_limit(),
            server.connection_cap()
        ));
        tracing::info!(%addr, fd_limit = server.fd_limit(), max_connections = server.connection_cap(), "server started");
        server
            .run(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await;
        say(format_args!("roomstorm reference server stopped"));
        Ok(())
    })
}

/// Prints a status line; a closed stdout (the reader went away) must not take the server down.
fn say(line: std::fmt::Arguments<'_>) {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}
