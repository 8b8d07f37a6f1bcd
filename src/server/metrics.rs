//! Server counters and their Prometheus text rendering (`GET /metrics`).
//!
//! Plain atomics: one relaxed add per event, no lock, so recording costs nothing next to the
//! socket work it counts. Process figures (CPU, RSS, fds) come from the kernel at scrape time, so
//! a benchmark can read the server's own CPU per join from outside.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};

use crate::codes;

/// Why a member left its room, as counted in `roomstorm_server_departures_total{reason}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Departure {
    /// The client sent `disconnect={}`.
    Leave,
    /// Kicked (management API or admin `control`).
    Kicked,
    /// Replaced by a newer login of the same user.
    Evicted,
    /// Its room was closed.
    RoomClosed,
    /// Its socket dropped and it did not come back within the reconnect window.
    WindowExpired,
    /// Its socket stayed open but silent past the silent-user timeout.
    Silent,
}

impl Departure {
    /// Every reason.
    pub const ALL: [Departure; 6] = [
        Departure::Leave,
        Departure::Kicked,
        Departure::Evicted,
        Departure::RoomClosed,
        Departure::WindowExpired,
        Departure::Silent,
    ];

    /// The reason's label in metrics and reports.
    pub fn label(self) -> &'static str {
        match self {
            Departure::Leave => "leave",
            Departure::Kicked => "kicked",
            Departure::Evicted => "evicted",
            Departure::RoomClosed => "room_closed",
            Departure::WindowExpired => "window_expired",
            Departure::Silent => "silent",
        }
    }
}

/// Why the server rejected or dropped a frame or socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// Text frame that is not `<cmd>=<json object>`.
    Malformed,
    /// Binary frame.
    Binary,
    /// Frame or message over the size limit.
    Oversized,
    /// A request not allowed in the socket's state (e.g. before `auth`).
    OutOfOrder,
    /// A socket whose send queue overflowed.
    SlowReader,
    /// A socket that never sent `auth`.
    AuthTimeout,
}

impl Rejection {
    const ALL: [Rejection; 6] = [
        Rejection::Malformed,
        Rejection::Binary,
        Rejection::Oversized,
        Rejection::OutOfOrder,
        Rejection::SlowReader,
        Rejection::AuthTimeout,
    ];

    fn label(self) -> &'static str {
        match self {
            Rejection::Malformed => "malformed",
            Rejection::Binary => "binary",
            Rejection::Oversized => "oversized",
            Rejection::OutOfOrder => "out_of_order",
            Rejection::SlowReader => "slow_reader",
            Rejection::AuthTimeout => "auth_timeout",
        }
    }
}

/// All server counters.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Open TCP connections (HTTP and WebSocket).
    pub connections_open: AtomicI64,
    /// Connections refused at the connection cap.
    pub connections_refused: AtomicU64,
    /// Open signaling WebSockets.
    pub sockets_open: AtomicI64,
    /// Rooms that exist.
    pub rooms: AtomicI64,
    /// Members in rooms (connected or within their reconnect window).
    pub members: AtomicI64,
    /// Members whose socket is gone but whose reconnect window is open.
    pub members_detached: AtomicI64,
    /// `GET …/auth` exchanges answered.
    pub access_tokens_issued: AtomicU64,
    /// Frames sent to members because of another member's event.
    pub fanout_messages: AtomicU64,
    /// Successful re-auths with a reconnect token.
    pub resumes: AtomicU64,
    /// Signaling sockets reset by the dropped-connections fault.
    pub faults_dropped: AtomicU64,
    /// Stalls started through the fault API.
    pub faults_stalls: AtomicU64,
    /// Auth latency changes made through the fault API.
    pub faults_auth_latency: AtomicU64,
    /// Simulated crashes with restart.
    pub faults_restarts: AtomicU64,
    auths: [AtomicU64; 1 + codes::SERVER_CODES.len()],
    disconnects: [AtomicU64; codes::SERVER_CODES.len()],
    departures: [AtomicU64; Departure::ALL.len()],
    rejections: [AtomicU64; Rejection::ALL.len()],
}

fn code_slot(code: u32) -> usize {
    codes::SERVER_CODES
        .iter()
        .position(|c| *c == code)
        .map_or(0, |i| i + 1)
}

impl Metrics {
    /// Counts an `auth-res` by its code (0 = success).
    pub fn auth(&self, code: u32) {
        self.auths[code_slot(code)].fetch_add(1, Relaxed);
    }

    /// Counts a server-initiated `disconnect` frame by its code.
    pub fn disconnect(&self, code: u32) {
        if let Some(slot) = code_slot(code).checked_sub(1) {
            self.disconnects[slot].fetch_add(1, Relaxed);
        }
    }

    /// Counts a member leaving its room.
    pub fn departure(&self, why: Departure) {
        self.departures[why as usize].fetch_add(1, Relaxed);
    }

    /// Counts a rejected frame or dropped socket.
    pub fn rejection(&self, why: Rejection) {
        self.rejections[why as usize].fetch_add(1, Relaxed);
    }

    /// `auth-res` answers with this code so far (0 = success).
    pub fn auths_with(&self, code: u32) -> u64 {
        if code != 0 && code_slot(code) == 0 {
            return 0;
        }
        self.auths[code_slot(code)].load(Relaxed)
    }

    /// Server-initiated `disconnect` frames with this code so far.
    pub fn disconnects_with(&self, code: u32) -> u64 {
        code_slot(code)
            .checked_sub(1)
            .map_or(0, |slot| self.disconnects[slot].load(Relaxed))
    }

    /// Departures for this reason so far.
    pub fn departures_for(&self, why: Departure) -> u64 {
        self.departures[why as usize].load(Relaxed)
    }

    /// Rejections for this reason so far.
    pub fn rejections_for(&self, why: Rejection) -> u64 {
        self.rejections[why as usize].load(Relaxed)
    }

    /// Prometheus text exposition (version 0.0.4) of every counter plus process figures.
    pub fn render(&self, max_connections: usize) -> String {
        let mut out = String::with_capacity(4096);
        let mut gauge = |name: &str, help: &str, v: i64| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}");
        };
        gauge(
            "roomstorm_server_connections_open",
            "Open TCP connections.",
            self.connections_open.load(Relaxed),
        );
        gauge(
            "roomstorm_server_connections_max",
            "Connection cap.",
            max_connections as i64,
        );
        gauge(
            "roomstorm_server_sockets_open",
            "Open signaling WebSockets.",
            self.sockets_open.load(Relaxed),
        );
        gauge(
            "roomstorm_server_rooms",
            "Rooms that exist.",
            self.rooms.load(Relaxed),
        );
        gauge(
            "roomstorm_server_members",
            "Room members, connected or reconnecting.",
            self.members.load(Relaxed),
        );
        gauge(
            "roomstorm_server_members_reconnecting",
            "Members inside their reconnect window.",
            self.members_detached.load(Relaxed),
        );
        // A counter family: `label` empty for an unlabelled counter (one row with value "").
        let mut counter = |name: &str, help: &str, label: &str, rows: Vec<(String, u64)>| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            for (value, n) in rows {
                match label {
                    "" => writeln!(out, "{name} {n}"),
                    _ => writeln!(out, "{name}{{{label}=\"{value}\"}} {n}"),
                }
                .expect("writing to a String cannot fail");
            }
        };
        let one = |v: &AtomicU64| vec![(String::new(), v.load(Relaxed))];
        counter(
            "roomstorm_server_connections_refused_total",
            "Connections refused at the cap.",
            "",
            one(&self.connections_refused),
        );
        counter(
            "roomstorm_server_access_tokens_total",
            "Access tokens issued by the HTTP auth exchange.",
            "",
            one(&self.access_tokens_issued),
        );
        counter(
            "roomstorm_server_fanout_messages_total",
            "Presence frames sent to other members.",
            "",
            one(&self.fanout_messages),
        );
        counter(
            "roomstorm_server_resumes_total",
            "Successful re-auths with a reconnect token.",
            "",
            one(&self.resumes),
        );
        counter(
            "roomstorm_server_faults_dropped_total",
            "Signaling sockets reset by the dropped-connections fault.",
            "",
            one(&self.faults_dropped),
        );
        counter(
            "roomstorm_server_faults_stalls_total",
            "Stalls started by the fault API.",
            "",
            one(&self.faults_stalls),
        );
        counter(
            "roomstorm_server_faults_auth_latency_total",
            "Auth latency changes made by the fault API.",
            "",
            one(&self.faults_auth_latency),
        );
        counter(
            "roomstorm_server_faults_restarts_total",
            "Simulated crashes with restart.",
            "",
            one(&self.faults_restarts),
        );
        let auths = std::iter::once(0).chain(codes::SERVER_CODES);
        counter(
            "roomstorm_server_auths_total",
            "auth-res answers by code (0 = joined).",
            "code",
            auths
                .map(|c| (c.to_string(), self.auths[code_slot(c)].load(Relaxed)))
                .collect(),
        );
        let disconnects = codes::SERVER_CODES.iter().zip(&self.disconnects);
        counter(
            "roomstorm_server_disconnects_total",
            "Server-initiated disconnect frames by code.",
            "code",
            disconnects
                .map(|(c, n)| (c.to_string(), n.load(Relaxed)))
                .collect(),
        );
        counter(
            "roomstorm_server_departures_total",
            "Members that left their room, by reason.",
            "reason",
            Departure::ALL
                .iter()
                .map(|d| (d.label().to_owned(), self.departures_for(*d)))
                .collect(),
        );
        counter(
            "roomstorm_server_rejections_total",
            "Frames or sockets rejected, by reason.",
            "reason",
            Rejection::ALL
                .iter()
                .map(|r| (r.label().to_owned(), self.rejections_for(*r)))
                .collect(),
        );
        render_process(&mut out);
        out
    }
}

/// This process's CPU time (user + system) from `getrusage`, in microseconds.
pub fn process_cpu_micros() -> u64 {
    // SAFETY: getrusage only writes into the struct we pass.
    let usage = unsafe {
        let mut u: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut u);
        u
    };
    let micros = |t: libc::timeval| t.tv_sec as u64 * 1_000_000 + t.tv_usec as u64;
    micros(usage.ru_utime) + micros(usage.ru_stime)
}

/// Resident set size in bytes (from `/proc/self/statm`), 0 where unavailable.
pub fn process_rss_bytes() -> u64 {
    let pages = std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .nth(1)
                .and_then(|p| p.parse::<u64>().ok())
        })
        .unwrap_or(0);
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    pages * u64::try_from(page).unwrap_or(4096)
}

fn render_process(out: &mut String) {
    let cpu = process_cpu_micros() as f64 / 1e6;
    let _ = writeln!(
        out,
        "# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds."
    );
    let _ = writeln!(
        out,
        "# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total {cpu:.6}"
    );
    let _ = writeln!(
        out,
        "# HELP process_resident_memory_bytes Resident memory size in bytes."
    );
    let _ = writeln!(
        out,
        "# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes {}",
        process_rss_bytes()
    );
    if let Ok(dir) = std::fs::read_dir("/proc/self/fd") {
        let _ = writeln!(
            out,
            "# HELP process_open_fds Number of open file descriptors."
        );
        let _ = writeln!(
            out,
            "# TYPE process_open_fds gauge\nprocess_open_fds {}",
            dir.count()
        );
    }
    let _ = writeln!(
        out,
        "# HELP process_max_fds Maximum number of open file descriptors."
    );
    let _ = writeln!(
        out,
        "# TYPE process_max_fds gauge\nprocess_max_fds {}",
        super::limits::open_file_limit()
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_family_with_counts() {
        let m = Metrics::default();
        m.auth(0);
        m.auth(codes::ROOM_FULL);
        m.auth(codes::ROOM_FULL);
        m.disconnect(codes::KICKED);
        m.departure(Departure::Leave);
        m.rejection(Rejection::Binary);
        m.faults_restarts.fetch_add(1, Relaxed);
        let text = m.render(100);
        for line in [
            "roomstorm_server_auths_total{code=\"0\"} 1",
            "roomstorm_server_auths_total{code=\"10011\"} 2",
            "roomstorm_server_disconnects_total{code=\"10006\"} 1",
            "roomstorm_server_departures_total{reason=\"leave\"} 1",
            "roomstorm_server_rejections_total{reason=\"binary\"} 1",
            "roomstorm_server_connections_max 100",
            "roomstorm_server_faults_restarts_total 1",
            "roomstorm_server_faults_dropped_total 0",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line}\n{text}");
        }
        assert!(text.contains("process_cpu_seconds_total "));
        assert_eq!(m.auths_with(codes::ROOM_FULL), 2);
        assert_eq!(m.auths_with(12345), 0);
    }
}
