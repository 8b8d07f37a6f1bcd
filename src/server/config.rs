//! Reference server settings: apps, key pairs, timings and the limits that keep it alive.
//!
//! Built from flags (`roomstorm serve`), from a small YAML file, or directly by code that embeds
//! the server (tests, `roomstorm run`).

use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use crate::credentials::KeyPair;

/// One application: a namespace of rooms with its own capacity and duplicate-login policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppSettings {
    /// The id clients put in room tokens and URLs.
    pub app_id: String,
    /// Room capacity; a join beyond it is refused with 10011.
    pub max_users: u32,
    /// `false`: a second login evicts the first (10022 to the old one); `true`: refuses the newcomer.
    pub no_auto_kick_user: bool,
    /// The management API's `hub` field (kept and echoed).
    pub hub: String,
    /// The management API's `title` field (kept and echoed).
    pub title: String,
}

impl AppSettings {
    /// An app with default capacity (100) and auto-kick.
    pub fn new(app_id: impl Into<String>) -> Self {
        let app_id = app_id.into();
        Self {
            title: app_id.clone(),
            app_id,
            max_users: 100,
            no_auto_kick_user: false,
            hub: String::new(),
        }
    }
}

/// Timers of the room lifecycle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timings {
    /// How often the server pings each socket (the Web SDK reconnects 9 s after the last ping).
    pub ping_interval: Duration,
    /// How long a member whose socket dropped may come back with its reconnect token.
    pub reconnect_window: Duration,
    /// A member whose open socket sends nothing (no pong) for this long is removed.
    pub silent_timeout: Duration,
    /// An empty room is destroyed after this long.
    pub empty_room_close: Duration,
    /// A socket must send `auth` within this long after opening.
    pub auth_timeout: Duration,
    /// Injected latency: every `auth` waits this long before it is answered (0: none). For
    /// testing that a load test notices a slower server; never set in production use.
    pub auth_delay: Duration,
}

impl Default for Timings {
    fn default() -> Self {
        Self {
            ping_interval: Duration::from_secs(3),
            reconnect_window: Duration::from_secs(30),
            silent_timeout: Duration::from_secs(30),
            empty_room_close: Duration::from_secs(10),
            auth_timeout: Duration::from_secs(10),
            auth_delay: Duration::ZERO,
        }
    }
}

/// Bounds that protect the server from bad or slow clients and from the fd limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Largest WebSocket frame/message accepted (the SDK's `auth` with its SDP is ~11 KB).
    pub max_frame_bytes: usize,
    /// Frames queued for one socket before it counts as a slow reader and is disconnected.
    pub max_queued_frames: usize,
    /// Open connections (HTTP and WebSocket) beyond which new ones are refused with 503;
    /// `None`: derived from the open-file limit.
    pub max_connections: Option<usize>,
    /// WebSocket read buffer per socket (tungstenite's 128 KiB default would cost ~135 KiB each).
    pub read_buffer_bytes: usize,
    /// Largest management API request body.
    pub max_body_bytes: usize,
    /// A socket that cannot take a frame for this long counts as a slow reader and is closed.
    pub write_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_frame_bytes: 64 * 1024,
            max_queued_frames: 256,
            max_connections: None,
            read_buffer_bytes: 4096,
            max_body_bytes: 64 * 1024,
            write_timeout: Duration::from_secs(10),
        }
    }
}

/// Everything the server needs to start.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Key pairs that may sign room tokens and management requests.
    pub keys: Vec<KeyPair>,
    /// Apps that exist at start (more can be created through the management API).
    pub apps: Vec<AppSettings>,
    /// Lifecycle timers.
    pub timings: Timings,
    /// Protective limits.
    pub limits: Limits,
    /// Base URL clients reach this server at (`http://host:port`); `None`: the listener's address.
    pub public_url: Option<String>,
}

impl ServerConfig {
    /// One key pair and one app with defaults: what tests and the embedded target start from.
    pub fn single(keys: KeyPair, app: AppSettings) -> Self {
        Self {
            keys: vec![keys],
            apps: vec![app],
            timings: Timings::default(),
            limits: Limits::default(),
            public_url: None,
        }
    }
}

/// A problem in a server config file, with its position.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The I/O failure.
        source: std::io::Error,
    },
    /// YAML syntax or shape error.
    #[error("{path}:{line}:{column}: {message}")]
    Invalid {
        /// The file.
        path: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What was expected.
        message: String,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    #[serde(default)]
    apps: Vec<FileApp>,
    #[serde(default)]
    timings: FileTimings,
    #[serde(default)]
    limits: FileLimits,
    public_url: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct FileApp {
    app_id: String,
    max_users: Option<u32>,
    #[serde(default)]
    no_auto_kick_user: bool,
    #[serde(default)]
    hub: String,
    title: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct FileTimings {
    #[serde(default, with = "humantime_serde_opt")]
    ping_interval: Option<Duration>,
    #[serde(default, with = "humantime_serde_opt")]
    reconnect_window: Option<Duration>,
    #[serde(default, with = "humantime_serde_opt")]
    silent_timeout: Option<Duration>,
    #[serde(default, with = "humantime_serde_opt")]
    empty_room_close: Option<Duration>,
    #[serde(default, with = "humantime_serde_opt")]
    auth_timeout: Option<Duration>,
    #[serde(default, with = "humantime_serde_opt")]
    auth_delay: Option<Duration>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct FileLimits {
    max_frame_bytes: Option<usize>,
    max_queued_frames: Option<usize>,
    max_connections: Option<usize>,
    read_buffer_bytes: Option<usize>,
}

mod humantime_serde_opt {
    use serde::{Deserialize, Deserializer};
    use std::time::Duration;

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        let text = String::deserialize(d)?;
        humantime::parse_duration(&text).map(Some).map_err(|e| {
            serde::de::Error::custom(format!("expected a duration like 3s or 500ms: {e}"))
        })
    }
}

/// Reads a server config file (apps, timings, limits) and applies it over `base`.
///
/// Keys are not read from this file: they come from flags, environment or `--credentials`, so
/// that a config file can be committed without secrets.
pub fn apply_file(base: &mut ServerConfig, path: &Path) -> Result<(), ConfigError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: shown.clone(),
        source,
    })?;
    let file: FileConfig = serde_norway::from_str(&text).map_err(|e| {
        let (line, column) = e.location().map_or((1, 1), |l| (l.line(), l.column()));
        ConfigError::Invalid {
            path: shown.clone(),
            line,
            column,
            message: e.to_string(),
        }
    })?;
    if !file.apps.is_empty() {
        base.apps = file
            .apps
            .into_iter()
            .map(|a| AppSettings {
                title: a.title.unwrap_or_else(|| a.app_id.clone()),
                max_users: a.max_users.unwrap_or(100),
                no_auto_kick_user: a.no_auto_kick_user,
                hub: a.hub,
                app_id: a.app_id,
            })
            .collect();
    }
    let t = &mut base.timings;
    let ft = file.timings;
    t.ping_interval = ft.ping_interval.unwrap_or(t.ping_interval);
    t.reconnect_window = ft.reconnect_window.unwrap_or(t.reconnect_window);
    t.silent_timeout = ft.silent_timeout.unwrap_or(t.silent_timeout);
    t.empty_room_close = ft.empty_room_close.unwrap_or(t.empty_room_close);
    t.auth_timeout = ft.auth_timeout.unwrap_or(t.auth_timeout);
    t.auth_delay = ft.auth_delay.unwrap_or(t.auth_delay);
    let l = &mut base.limits;
    l.max_frame_bytes = file.limits.max_frame_bytes.unwrap_or(l.max_frame_bytes);
    l.max_queued_frames = file.limits.max_queued_frames.unwrap_or(l.max_queued_frames);
    l.max_connections = file.limits.max_connections.or(l.max_connections);
    l.read_buffer_bytes = file.limits.read_buffer_bytes.unwrap_or(l.read_buffer_bytes);
    if file.public_url.is_some() {
        base.public_url = file.public_url;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(text: &str) -> tempfile_path::TempPath {
        tempfile_path::TempPath::with(text)
    }

    mod tempfile_path {
        pub struct TempPath(pub std::path::PathBuf);
        impl TempPath {
            pub fn with(text: &str) -> Self {
                let p = std::env::temp_dir()
                    .join(format!("roomstorm-cfg-{}.yaml", crate::ids::random_hex(6)));
                std::fs::write(&p, text).unwrap();
                Self(p)
            }
        }
        impl Drop for TempPath {
            fn drop(&mut self) {
                let _ = std::fs::remove_file(&self.0);
            }
        }
    }

    #[test]
    fn file_overrides_apps_and_timings() {
        let f = write(
            "apps:\n  - appId: a1\n    maxUsers: 3\n    noAutoKickUser: true\ntimings:\n  ping_interval: 500ms\n",
        );
        let mut cfg = ServerConfig::single(KeyPair::new("AK", "SK"), AppSettings::new("x"));
        apply_file(&mut cfg, &f.0).unwrap();
        assert_eq!(cfg.apps.len(), 1);
        assert_eq!(cfg.apps[0].app_id, "a1");
        assert_eq!(cfg.apps[0].max_users, 3);
        assert!(cfg.apps[0].no_auto_kick_user);
        assert_eq!(cfg.timings.ping_interval, Duration::from_millis(500));
        assert_eq!(cfg.timings.reconnect_window, Duration::from_secs(30));
    }

    #[test]
    fn file_errors_have_a_position() {
        let f = write("apps:\n  - appId: a1\n    maxUser: 3\n");
        let mut cfg = ServerConfig::single(KeyPair::new("AK", "SK"), AppSettings::new("x"));
        let err = apply_file(&mut cfg, &f.0).unwrap_err().to_string();
        assert!(err.contains(":3:"), "{err}");
        assert!(err.contains("maxUser"), "{err}");
    }
}
