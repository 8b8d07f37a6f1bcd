//! What every participant of a run shares, read-only: the plan, the target, the keys, the run's
//! clock and the rooms' presence boards.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::presence::RoomBoard;
use crate::credentials::KeyPair;
use crate::plan::Plan;
use crate::scenario::{DriverKind, TokenKind, TokenSpec};
use crate::token::{self, RoomAccess};
use crate::transport::SourcePool;

/// The shared, immutable context of a run.
#[derive(Debug)]
pub struct RunContext {
    /// The compiled plan.
    pub plan: Arc<Plan>,
    /// HTTP base URL of the server under test.
    pub base_url: String,
    /// App id.
    pub app: String,
    /// Which protocol to speak.
    pub driver: DriverKind,
    /// Keys that sign room tokens.
    pub keys: KeyPair,
    /// The run's clock origin: every time stamp is measured from here, on this one clock.
    pub start: Instant,
    /// The same origin as Unix seconds (token expiry is absolute).
    pub start_unix: u64,
    /// The same origin as Unix milliseconds (report time axes, `.hlog` base time).
    pub start_unix_ms: u64,
    /// One presence board per room.
    pub boards: Vec<RoomBoard>,
    /// Local addresses client sockets use.
    pub sources: SourcePool,
    /// Token exchange + socket + join answer must finish within this.
    pub join_timeout: Duration,
    /// A leave waits this long for the server to close before closing itself.
    pub leave_timeout: Duration,
    /// When the latest scripted fault fired (µs since start, plus one; 0: none yet): the
    /// reference of `detect`.
    pub last_fault: AtomicU64,
    /// The target's management API, for kicks (`None` if its URL cannot be used for it).
    pub fault_api: Option<crate::fault_api::FaultApi>,
    /// Servers that expire silent sessions instead of pinging (Janus): members send a keepalive
    /// this often.
    pub keepalive: Option<Duration>,
    /// Rooms are numbered from here (`room_number`): unique to the run, so that runs sharing a
    /// server never join each other's rooms.
    pub room_base: u64,
    /// The Janus control session (rooms created for the run, kicks, destroys), when the target
    /// is Janus.
    pub janus: Option<crate::target::janus::Control>,
    /// Whether participants present signed tokens (a Janus that checks none gets none).
    pub signs_tokens: bool,
    /// Where media sockets bind: `ROOMSTORM_MEDIA_IP`, else 127.0.0.1 (`scripts/janus netns`
    /// sets 127.0.0.2, the address Janus can reach inside its namespace).
    pub media_ip: std::net::IpAddr,
    /// The group of each user, by user id, when a group subscribes by group (else empty).
    pub user_groups: std::collections::HashMap<Box<str>, u16>,
}

impl RunContext {
    /// A context whose clock starts now; boards are built from the plan's users per room.
    pub fn new(
        plan: Arc<Plan>,
        base_url: String,
        app: String,
        driver: DriverKind,
        keys: KeyPair,
        sources: SourcePool,
    ) -> Self {
        let mut users: Vec<Vec<String>> = vec![Vec::new(); plan.rooms.len()];
        // Boards for this process's rooms only: a shard never sees the others' members.
        for p in plan.active() {
            let g = &plan.groups[p.group as usize];
            for it in 0..g.iterations {
                users[p.room as usize].push(plan.user_id(p, it));
                if !g.user.uses("iteration") {
                    break;
                }
            }
        }
        let boards = users
            .iter()
            .map(|u| RoomBoard::new(u.iter().map(String::as_str)))
            .collect();
        let by_group = plan.groups.iter().any(|g| {
            g.media
                .as_ref()
                .is_some_and(|m| matches!(m.subscribe, crate::scenario::Subscribe::Groups(_)))
        });
        let user_groups = if by_group {
            let plan = &plan;
            plan.participants
                .iter()
                .flat_map(|p| {
                    let g = &plan.groups[p.group as usize];
                    let n = if g.user.uses("iteration") {
                        g.iterations
                    } else {
                        1
                    };
                    (0..n).map(move |it| (plan.user_id(p, it).into_boxed_str(), p.group))
                })
                .collect()
        } else {
            Default::default()
        };
        let media_ip = std::env::var("ROOMSTORM_MEDIA_IP")
            .ok()
            .and_then(|ip| ip.parse().ok())
            .unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST));
        Self {
            fault_api: crate::fault_api::FaultApi::new(&base_url, keys.clone()).ok(),
            plan,
            base_url: base_url.trim_end_matches('/').to_string(),
            app,
            driver,
            keys,
            start: Instant::now(),
            start_unix: token::unix_now(),
            start_unix_ms: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64),
            boards,
            sources,
            join_timeout: crate::plan::JOIN_TIMEOUT,
            leave_timeout: crate::plan::LEAVE_TIMEOUT,
            last_fault: AtomicU64::new(0),
            keepalive: None,
            room_base: 0,
            janus: None,
            signs_tokens: true,
            media_ip,
            user_groups,
        }
    }

    /// The group of user `user`, for `subscribe: {groups: [...]}`.
    pub fn group_of(&self, user: &str) -> Option<u16> {
        self.user_groups.get(user).copied()
    }

    /// The run's number for room `index` (plan order): `room_base + index + 1`, never 0.
    pub fn room_number(&self, index: u32) -> u64 {
        self.room_base + u64::from(index) + 1
    }

    /// Moves the clock's start to `at` (a common start for shards), when that is still ahead:
    /// everything else can then be set up before the first arrival instead of delaying it.
    pub fn starting_at(mut self, at: std::time::SystemTime) -> Self {
        let wait = at
            .duration_since(std::time::SystemTime::now())
            .unwrap_or_default();
        if wait.is_zero() {
            return self;
        }
        self.start += wait;
        let unix = std::time::SystemTime::now() + wait;
        let ms = unix
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        self.start_unix_ms = ms;
        self.start_unix = ms / 1000;
        self
    }

    /// A Janus token of `kind` expiring at `expire_at` (none when Janus checks no tokens).
    pub fn janus_token(&self, kind: TokenKind, expire_at: u64) -> String {
        use crate::signaling::janus::token;
        if !self.signs_tokens {
            return String::new();
        }
        match kind {
            TokenKind::BadSignature => {
                let forged = crate::credentials::SecretKey::new("not-the-secret");
                token::mint(&forged, expire_at, &[token::VIDEOROOM])
            }
            _ => token::mint(&self.keys.secret_key, expire_at, &[token::VIDEOROOM]),
        }
    }

    /// Notes that a scripted fault fires now.
    pub fn fault_fired(&self) {
        self.last_fault.store(self.now_us() + 1, Ordering::Release);
    }

    /// When the latest scripted fault fired (µs since start), if one has.
    pub fn last_fault_us(&self) -> Option<u64> {
        self.last_fault.load(Ordering::Acquire).checked_sub(1)
    }

    /// Microseconds since the run started.
    pub fn now_us(&self) -> u64 {
        self.start.elapsed().as_micros() as u64
    }

    /// The room token a participant with these options presents.
    pub fn room_token(&self, spec: &TokenSpec, room: &str, user: &str) -> String {
        let expire_at = match spec.kind {
            TokenKind::Expired => self.start_unix.saturating_sub(3600),
            TokenKind::Valid | TokenKind::BadSignature => {
                self.start_unix + spec.expires_in.as_secs()
            }
        };
        if self.driver == DriverKind::Janus {
            return self.janus_token(spec.kind, expire_at);
        }
        let access = RoomAccess {
            app_id: self.app.clone(),
            room_name: room.to_string(),
            user_id: user.to_string(),
            expire_at,
            permission: spec.permission,
        };
        match spec.kind {
            TokenKind::BadSignature => {
                // Same access key, another secret: the signature cannot match.
                let forged = KeyPair::new(self.keys.access_key.clone(), "not-the-secret");
                token::mint(&forged, &access)
            }
            _ => token::mint(&self.keys, &access),
        }
    }
}
