//! `roomstorm serve`: the reference server as a standalone process.

use crate::cli::ServeArgs;
use crate::error::CommandError;
use crate::server::{self, AppSettings, ServerConfig};

/// Builds the config from flags (and `--config`), binds, prints where to connect, serves until Ctrl-C.
pub fn run(args: ServeArgs) -> Result<(), CommandError> {
    let keys = args.keys.resolve()?;
    let keys_for_children = keys.clone();
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
    if args.child {
        let token_key = std::env::var(server::front::TOKEN_KEY_ENV)
            .ok()
            .and_then(|hex| server::access_token::AccessKey::from_hex(&hex))
            .ok_or_else(|| {
                CommandError::InvalidInput(format!(
                    "--child is internal to `serve --processes` (no {} given)",
                    server::front::TOKEN_KEY_ENV
                ))
            })?;
        return runtime.block_on(async move {
            let listener = server::listen(args.listen)
                .and_then(tokio::net::TcpListener::from_std)
                .map_err(|e| {
                    CommandError::Incomplete(format!("cannot listen on {}: {e}", args.listen))
                })?;
            server::front::run_child(listener, config, token_key)
                .await
                .map_err(|e| CommandError::InvalidInput(e.to_string()))
        });
    }
    if let Some(n) = args.processes {
        return run_front(&args, n, config, keys_for_children, &runtime);
    }
    runtime.block_on(async move {
        let listener = server::listen(args.listen)
            .and_then(tokio::net::TcpListener::from_std)
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

/// `serve --processes N`: starts N server processes and serves as their front door.
fn run_front(
    args: &ServeArgs,
    n: usize,
    config: ServerConfig,
    keys: crate::credentials::KeyPair,
    runtime: &tokio::runtime::Runtime,
) -> Result<(), CommandError> {
    use server::front::{self, Children, Front};
    if n == 0 {
        return Err(CommandError::InvalidInput(
            "--processes must be at least 1".into(),
        ));
    }
    if args.public_url.is_some() || config.public_url.is_some() {
        return Err(CommandError::InvalidInput(
            "--public-url cannot be combined with --processes: members connect to each process's own loopback address".into(),
        ));
    }
    let listener = runtime
        .block_on(async { server::listen(args.listen).and_then(tokio::net::TcpListener::from_std) })
        .map_err(|e| CommandError::Incomplete(format!("cannot listen on {}: {e}", args.listen)))?;
    let addr = listener
        .local_addr()
        .map_err(|e| CommandError::Incomplete(e.to_string()))?;
    // Raised before the children start, so that they inherit it; the front's own sockets (token
    // exchanges, management calls) count against it too.
    let fd_limit = server::limits::open_file_limit();
    let token_key = server::access_token::AccessKey::random();
    let mut children = Children::spawn(
        n,
        &front::child_args(std::env::args_os().skip(1)),
        &keys,
        &token_key,
    )
    .map_err(|e| CommandError::Incomplete(format!("cannot start the server processes: {e}")))?;
    let app_ids: Vec<String> = config.apps.iter().map(|a| a.app_id.clone()).collect();
    let pids: Vec<String> = children.pids().iter().map(u32::to_string).collect();
    let front = std::sync::Arc::new(
        Front::new(&config, children.addrs(), children.pids(), token_key)
            .with_liveness(children.liveness()),
    );
    say(format_args!(
        "roomstorm reference server listening on http://{addr}\n  front of {n} server processes, pids: {}\n  signaling: one ws://127.0.0.1:<port>/signaling per process (named in each access token)   metrics: http://{addr}/metrics\n  apps: {}   access key: {}\n  open-file limit {fd_limit} per process ({n} server processes + this front)",
        pids.join(" "),
        app_ids.join(", "),
        keys.access_key
    ));
    tracing::info!(%addr, processes = n, pids = %pids.join(" "), "front started");
    runtime.block_on(front.serve(listener, front::stop_signal()));
    children.shutdown(std::time::Duration::from_secs(3));
    say(format_args!("roomstorm reference server stopped"));
    Ok(())
}

/// Prints a status line; a closed stdout (the reader went away) must not take the server down.
fn say(line: std::fmt::Arguments<'_>) {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}
