//! The checked scenario: what validation produces and what the plan compiler consumes.
//!
//! Every value here is already valid (sizes resolved, patterns parsed, durations positive,
//! scripts well formed), so later stages never re-check and never fail on input.

use std::time::Duration;

use crate::credentials::KeyPair;
use crate::token::Permission;

/// A validated scenario.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Short name, used in report folder names (`[a-zA-Z0-9_.-]+`).
    pub name: String,
    /// Free text shown in reports.
    pub description: String,
    /// Seed of every random choice (arrival jitter, order, hold times): same seed, same run plan.
    pub seed: u64,
    /// Hard end of the run, measured from its start; participants still running are aborted.
    pub deadline: Duration,
    /// After the deadline or Ctrl-C, how long participants in a room get to leave cleanly.
    pub leave_grace: Duration,
    /// What is loaded.
    pub target: Target,
    /// The app id rooms live in.
    pub app: String,
    /// Keys that sign room tokens; `None` only for the embedded target, which then uses a fresh
    /// random pair per run. Resolved after `${ENV}` interpolation; never written to reports.
    pub credentials: Option<KeyPair>,
    /// The rooms of the run.
    pub rooms: Rooms,
    /// Participant groups, in file order.
    pub groups: Vec<Group>,
    /// Pass/fail conditions on the run's figures.
    pub thresholds: Vec<crate::threshold::ThresholdSpec>,
    /// How participants restore a broken connection (the Web SDK's behaviour unless tuned).
    pub reconnect: ReconnectSettings,
    /// Faults injected at scenario times, in file order.
    pub faults: Vec<Fault>,
    /// When the generator itself counts as the bottleneck ("generator-limited").
    pub generator: GeneratorLimits,
}

/// Limits on the generator's own health, checked per collection interval: beyond them the
/// run measured roomstorm rather than the server, and is marked generator-limited.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GeneratorLimits {
    /// Most an interval's p99 lateness (intended → actual start of participants) may be.
    pub max_lateness_p99: Duration,
    /// Most an interval's p99 event-loop lag (any worker) may be.
    pub max_loop_lag_p99: Duration,
    /// Most CPU the busiest worker thread may use in an interval, percent of one core.
    pub max_cpu_percent: f64,
    /// A generator-limited run exits 3 (could not complete) whatever its verdict.
    pub fail: bool,
}

impl GeneratorLimits {
    /// The documented defaults (docs/scenarios.md, "generator").
    pub const DEFAULT: GeneratorLimits = GeneratorLimits {
        max_lateness_p99: Duration::from_millis(50),
        max_loop_lag_p99: Duration::from_millis(50),
        max_cpu_percent: 95.0,
        fail: false,
    };
}

impl Default for GeneratorLimits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// How a participant restores a broken connection. The defaults are the Web SDK 4.3.1's
/// (`docs/protocol.md`, "Reconnect"), so a run behaves like real clients unless a scenario
/// tunes them to explore other policies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReconnectSettings {
    /// No ping for this long (after at least one) → RECONNECTING.
    pub ping_timeout: Duration,
    /// After the ping timer fires, the old socket is closed this much later.
    pub close_delay: Duration,
    /// Delay before reconnecting after close codes 1001/1005/1011/1013 or `disconnect` 10052.
    pub retry_delay: Duration,
    /// The SDK's `requestTimeout`: delay after 1006/1012/1014, and how long one attempt may take.
    pub request_timeout: Duration,
    /// Failed attempts before giving up with 10007 (a successful re-auth resets the count).
    pub attempts: u32,
}

impl ReconnectSettings {
    /// The Web SDK 4.3.1's values.
    pub const SDK: Self = Self {
        ping_timeout: Duration::from_secs(9),
        close_delay: Duration::from_secs(1),
        retry_delay: Duration::from_secs(1),
        request_timeout: Duration::from_secs(5),
        attempts: 3,
    };
}

impl Default for ReconnectSettings {
    fn default() -> Self {
        Self::SDK
    }
}

/// A fault injected at a scenario time.
#[derive(Debug, Clone, PartialEq)]
pub struct Fault {
    /// When, from the run's start.
    pub at: Duration,
    /// What breaks.
    pub kind: FaultKind,
    /// Whom it hits.
    pub scope: FaultScope,
}

/// What a fault breaks. Client faults act on the chosen participants' own sockets; server faults
/// go through the management API (kick) or the reference server's fault-injection extension.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FaultKind {
    /// Client: the socket is reset (RST) and the network stays down for `offline` (new
    /// connections fail until then).
    Reset {
        /// How long connection attempts keep failing.
        offline: Duration,
    },
    /// Client: nothing is read or written for `duration` while the socket stays open, and new
    /// connections fail meanwhile; only heartbeats can detect it.
    Blackhole {
        /// How long.
        duration: Duration,
    },
    /// Client: every frame received is delivered `by` late, for `duration`.
    DelayFrames {
        /// Added delay per frame.
        by: Duration,
        /// How long.
        duration: Duration,
    },
    /// Client media: the chosen participants drop this share of the media packets they receive
    /// (after the WebRTC stack has seen them, so nothing recovers them), for `duration`.
    MediaLoss {
        /// Share of received packets dropped, 0..=1.
        share: f64,
        /// How long.
        duration: Duration,
    },
    /// Client media: the chosen participants' sent frames leave `by` after their capture time
    /// (their stamp), for `duration`: what a slow uplink adds to every subscriber's latency.
    MediaDelay {
        /// Added delay per frame.
        by: Duration,
        /// How long.
        duration: Duration,
    },
    /// Server (standard management API): kick the chosen participants (10006).
    Kick,
    /// Server extension: reset this share of all open signaling connections.
    DropConnections,
    /// Server extension: stop answering and pinging for `duration`.
    Stall {
        /// How long.
        duration: Duration,
    },
    /// Server extension: add `by` to every auth answer for `duration`.
    AuthLatency {
        /// Added latency.
        by: Duration,
        /// How long.
        duration: Duration,
    },
    /// Server extension: close the chosen rooms (10012 to their members).
    CloseRooms,
    /// Server extension: the listener goes down for `outage` and every socket is reset; room
    /// state is kept, so members may resume within the reconnect window.
    Restart {
        /// How long connections are refused.
        outage: Duration,
    },
}

impl FaultKind {
    /// Scenario name of the kind.
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::Reset { .. } => "reset",
            FaultKind::Blackhole { .. } => "blackhole",
            FaultKind::DelayFrames { .. } => "delay_frames",
            FaultKind::MediaLoss { .. } => "media_loss",
            FaultKind::MediaDelay { .. } => "media_delay",
            FaultKind::Kick => "kick",
            FaultKind::DropConnections => "drop_connections",
            FaultKind::Stall { .. } => "stall",
            FaultKind::AuthLatency { .. } => "auth_latency",
            FaultKind::CloseRooms => "close_rooms",
            FaultKind::Restart { .. } => "restart",
        }
    }

    /// Acts on participants (each chosen participant gets it), not on the server.
    pub fn is_client_side(self) -> bool {
        matches!(
            self,
            FaultKind::Reset { .. }
                | FaultKind::Blackhole { .. }
                | FaultKind::DelayFrames { .. }
                | FaultKind::MediaLoss { .. }
                | FaultKind::MediaDelay { .. }
        )
    }

    /// Needs the reference server's fault-injection extension (not part of the Qiniu API).
    pub fn needs_fault_api(self) -> bool {
        matches!(
            self,
            FaultKind::DropConnections
                | FaultKind::Stall { .. }
                | FaultKind::AuthLatency { .. }
                | FaultKind::CloseRooms
                | FaultKind::Restart { .. }
        )
    }
}

/// Whom a fault hits.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultScope {
    /// Share in `0..=1` of the eligible participants (client faults, kick), of the eligible
    /// rooms (close_rooms), or of all open connections (drop_connections).
    pub share: f64,
    /// Only participants of this group (index into [`Scenario::groups`]); `None`: every group.
    pub group: Option<u16>,
    /// Only this share of the rooms, chosen by the seed; `None`: every room.
    pub rooms: Option<f64>,
}

/// The server under test.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    /// The reference server, started in-process on loopback for the run.
    Embedded(EmbeddedServer),
    /// A server that is already running.
    External {
        /// HTTP base URL of the room-token exchange, e.g. `http://127.0.0.1:7788`.
        url: String,
        /// Which signaling protocol it speaks.
        driver: DriverKind,
        /// It is a roomstorm reference server (`roomstorm serve`) with the fault-injection
        /// extension, so server faults beyond kick may be scripted against it.
        fault_api: bool,
    },
    /// A Janus server (VideoRoom plugin, WebSocket transport) that is already running.
    Janus(JanusTarget),
}

/// A Janus target: where it listens and what the run needs to speak to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JanusTarget {
    /// WebSocket URL, e.g. `ws://127.0.0.1:8188`.
    pub url: String,
    /// Janus's `token_auth_secret`, when it checks tokens: roomstorm signs each participant's
    /// token with it (and signs expired or forged ones for token scenarios).
    pub token_secret: Option<crate::credentials::SecretKey>,
    /// How often members send a keepalive (Janus ends sessions silent for its
    /// `session_timeout`, 60 s by default).
    pub keepalive: Duration,
    /// The rooms' limit on members with media up (`publishers` of Janus's `create`; the next
    /// publisher gets 432, which is 10011). `None`: as many as the largest room has members.
    pub publishers: Option<u32>,
}

impl JanusTarget {
    /// Keepalive default: well within Janus's default 60 s session timeout.
    pub const DEFAULT_KEEPALIVE: Duration = Duration::from_secs(25);
}

impl Target {
    /// The signaling protocol the target speaks.
    pub fn driver(&self) -> DriverKind {
        match self {
            Target::Embedded(_) => DriverKind::Qiniu,
            Target::External { driver, .. } => *driver,
            Target::Janus(_) => DriverKind::Janus,
        }
    }
}

/// Options of the embedded reference server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmbeddedServer {
    /// Room capacity (10011 beyond it).
    pub max_users: u32,
    /// `true`: a second login of the same user is refused (10022 to the newcomer);
    /// `false`: the older session is evicted (10022 to it).
    pub no_auto_kick_user: bool,
    /// Server ping interval.
    pub ping_interval: Duration,
    /// How long a dropped member may come back.
    pub reconnect_window: Duration,
    /// A member silent this long is removed.
    pub silent_timeout: Duration,
    /// An empty room is destroyed after this long.
    pub empty_room_close: Duration,
    /// Injected latency before every join answer (0: none), to see a slower server in reports.
    pub auth_delay: Duration,
}

impl Default for EmbeddedServer {
    fn default() -> Self {
        let t = crate::server::Timings::default();
        Self {
            max_users: 100,
            no_auto_kick_user: false,
            ping_interval: t.ping_interval,
            reconnect_window: t.reconnect_window,
            silent_timeout: t.silent_timeout,
            empty_room_close: t.empty_room_close,
            auth_delay: t.auth_delay,
        }
    }
}

/// Signaling protocols roomstorm speaks. To add one: a variant here, a module in `signaling/`,
/// and its name in the scenario schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DriverKind {
    /// The Qiniu-compatible protocol of the reference server (`docs/protocol.md`).
    Qiniu,
    /// Janus's VideoRoom plugin over its WebSocket API (`docs/janus.md`).
    Janus,
}

impl DriverKind {
    /// Scenario name of the driver.
    pub fn name(self) -> &'static str {
        match self {
            DriverKind::Qiniu => "qiniu",
            DriverKind::Janus => "janus",
        }
    }
}

/// The rooms of a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rooms {
    /// How many.
    pub count: u32,
    /// Room name pattern; placeholder `{index}` (0-based), e.g. `room-{index:04}`.
    pub name: NamePattern,
}

/// A set of participants that share a script, token options and arrival model.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    /// Unique within the scenario (`[a-zA-Z0-9_-]+`).
    pub name: String,
    /// How many participants and how they spread over rooms.
    pub size: GroupSize,
    /// User id pattern; placeholders `{group} {index} {room} {room_index} {n} {iteration}`.
    pub user: NamePattern,
    /// `playerdata` sent at join (what peers see in `user-joined`).
    pub user_data: String,
    /// When participants arrive.
    pub arrival: Arrival,
    /// In what order rooms receive the group's arrivals.
    pub order: Order,
    /// What kind of room token each participant gets.
    pub token: TokenSpec,
    /// What each participant does, in order. Well formed: joins and leaves alternate, starting
    /// outside the room and ending outside it; publish and unpublish alternate inside it.
    pub script: Vec<Step>,
    /// Exact outcome counts this group must produce (checked at the end), in file order.
    pub expect_counts: Vec<(OutcomeKey, u64)>,
    /// What its participants publish (at `publish` steps) and subscribe to while in the room;
    /// `None`: no media at all, the participants only signal.
    pub media: Option<super::media::MediaSpec>,
}

/// Group size, resolved at validation (weights become totals).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupSize {
    /// This many in every room.
    PerRoom(u32),
    /// This many in all, spread over the rooms round-robin (room `i % rooms`).
    Total(u32),
}

impl GroupSize {
    /// How many participants (slots, for the closed model) this size means with `rooms` rooms.
    pub fn participants(self, rooms: u32) -> u64 {
        match self {
            GroupSize::PerRoom(n) => u64::from(n) * u64::from(rooms),
            GroupSize::Total(n) => u64::from(n),
        }
    }
}

/// Arrival model of a group. Offsets are from the start of the run.
#[derive(Debug, Clone, PartialEq)]
pub enum Arrival {
    /// Everyone at `at`.
    Burst {
        /// When.
        at: Duration,
    },
    /// Evenly spread over `over`, starting at `start`.
    Ramp {
        /// First arrival.
        start: Duration,
        /// Length of the ramp.
        over: Duration,
    },
    /// Open model at a fixed rate until the group is exhausted.
    Constant {
        /// First arrival.
        start: Duration,
        /// Arrivals per second (> 0).
        rate: f64,
        /// Exponential inter-arrival times (a Poisson process) instead of a fixed interval.
        poisson: bool,
    },
    /// Open model through consecutive phases; validation guarantees they hold the whole group.
    Phases {
        /// Start of the first phase.
        start: Duration,
        /// The phases, in order.
        phases: Vec<Phase>,
    },
    /// Closed model: the group's participants are slots that run the script `iterations` times
    /// back to back; slot starts are spread evenly over `ramp`.
    Closed {
        /// First slot start.
        start: Duration,
        /// Slot starts spread over this long.
        ramp: Duration,
        /// Script runs per slot (each is one counted participant lifecycle).
        iterations: u32,
    },
}

/// One phase of an open-model arrival schedule: the rate goes linearly from `from` to `to`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Phase {
    /// Length.
    pub duration: Duration,
    /// Rate at the phase start (arrivals per second, ≥ 0).
    pub from_rate: f64,
    /// Rate at the phase end (arrivals per second, ≥ 0; equal to `from_rate` for a constant phase).
    pub to_rate: f64,
}

/// Room order of a group's arrivals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Order {
    /// A seeded shuffle of all the group's participants (default: realistic mixing).
    #[default]
    Shuffled,
    /// Room 0's participants first, then room 1's…
    ByRoom,
    /// One per room in turn: room 0, room 1, … room 0, room 1, …
    Interleaved,
}

/// Room token options of a group (negative cases included).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenSpec {
    /// Valid, expired or forged.
    pub kind: TokenKind,
    /// Expiry, counted from the start of the run (a token that expires during the run).
    pub expires_in: Duration,
    /// `user` or `admin`.
    pub permission: Permission,
}

impl Default for TokenSpec {
    fn default() -> Self {
        Self {
            kind: TokenKind::Valid,
            expires_in: Duration::from_secs(24 * 3600),
            permission: Permission::User,
        }
    }
}

/// What kind of room token a participant presents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// Signed with the scenario's key, expiring at `expires_in`.
    Valid,
    /// Signed correctly but expired an hour before the run started (10002).
    Expired,
    /// Signature does not match (10001).
    BadSignature,
}

/// One step of a participant's script.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Enter the room. `expect` lists the join answers that count as expected (0 = success);
    /// a participant whose join is refused ends there with that code.
    Join {
        /// Expected answer codes, never empty.
        expect: Vec<u32>,
    },
    /// Stay in the room. `expect` lists server disconnect codes that may end the stay and still
    /// count as expected (e.g. 10022 when a later group logs in as the same users).
    Hold {
        /// How long.
        duration: Dist,
        /// Expected disconnect codes (may be empty).
        expect: Vec<u32>,
    },
    /// Think time outside the room.
    Wait {
        /// How long.
        duration: Dist,
    },
    /// Leave the room (`disconnect={}` then close, as the Web SDK does). Leaving ends
    /// publishing: the participant's tracks go with it.
    Leave,
    /// Publish the group's `media.publish` tracks (inside the room, not while already
    /// publishing): from here the participant loads the SFU's ingress and its subscribers.
    /// `expect` lists the publish answers that count as expected (0 = accepted; 10011 when the
    /// room's publishers are full); a refused publisher leaves and ends with that code.
    Publish {
        /// Expected answer codes, never empty.
        expect: Vec<u32>,
    },
    /// Stop publishing the tracks of the last `publish` (inside the room), so a script can model
    /// a speaker who turns the camera off and later on again.
    Unpublish,
}

/// A duration drawn per participant from the run's seed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Dist {
    /// Always this.
    Fixed(Duration),
    /// Uniform in `[min, max]`.
    Uniform {
        /// Lower bound.
        min: Duration,
        /// Upper bound.
        max: Duration,
    },
    /// Exponential with this mean, capped at `max`.
    Exponential {
        /// Mean.
        mean: Duration,
        /// Cap.
        max: Duration,
    },
    /// Normal, clamped to `[min, max]`.
    Normal {
        /// Mean.
        mean: Duration,
        /// Standard deviation.
        stddev: Duration,
        /// Lower clamp.
        min: Duration,
        /// Upper clamp.
        max: Duration,
    },
}

impl Dist {
    /// The largest value this distribution can produce (for deadline estimates).
    pub fn upper_bound(&self) -> Duration {
        match *self {
            Dist::Fixed(d) => d,
            Dist::Uniform { max, .. }
            | Dist::Exponential { max, .. }
            | Dist::Normal { max, .. } => max,
        }
    }
}

/// What an outcome count in `expect_counts` refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OutcomeKey {
    /// The script ran to its end.
    Completed,
    /// Ended by this RTC code (join refused or disconnected by the server).
    Code(u32),
    /// KICKED_OUT by an admin (10006).
    Kicked,
    /// Stopped by the deadline or Ctrl-C.
    Aborted,
    /// A transport or protocol failure that carries no RTC code.
    TransportError,
}

/// A name with placeholders such as `room-{index:04}`: literal text and `{var}` or `{var:0N}`
/// (zero-padded to N digits). Parsed once, rendered per room or participant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamePattern {
    source: String,
    parts: Vec<PatternPart>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum PatternPart {
    Literal(String),
    Var { name: String, width: usize },
}

/// Values a pattern may refer to.
pub trait PatternVars {
    /// The text for `name`, or `None` when the pattern may not use it.
    fn lookup(&self, name: &str) -> Option<PatternValue<'_>>;
}

/// One placeholder's value.
#[derive(Debug, Clone, Copy)]
pub enum PatternValue<'a> {
    /// Numbers honour `:0N` padding.
    Number(u64),
    /// Text is inserted as is.
    Text(&'a str),
}

impl NamePattern {
    /// Parses `text`; `allowed` lists the placeholder names this pattern may use.
    pub fn parse(text: &str, allowed: &[&str]) -> Result<Self, String> {
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut rest = text;
        while let Some(open) = rest.find(['{', '}']) {
            if rest.as_bytes()[open] == b'}' {
                return Err(format!("unmatched `}}` in {text:?}"));
            }
            literal.push_str(&rest[..open]);
            let after = &rest[open + 1..];
            let close = after
                .find('}')
                .ok_or_else(|| format!("unclosed `{{` in {text:?}"))?;
            let inner = &after[..close];
            let (name, width) = match inner.split_once(':') {
                None => (inner, 0),
                Some((name, fmt)) => {
                    let digits = fmt.strip_prefix('0').filter(|d| !d.is_empty()).ok_or_else(|| {
                        format!("placeholder {{{inner}}}: format must be 0N (zero-padded width), e.g. {{{name}:04}}")
                    })?;
                    let width: usize = digits
                        .parse()
                        .ok()
                        .filter(|w| (1..=20).contains(w))
                        .ok_or_else(|| format!("placeholder {{{inner}}}: width must be 1..=20"))?;
                    (name, width)
                }
            };
            if !allowed.contains(&name) {
                return Err(format!(
                    "unknown placeholder {{{name}}}; expected one of {}",
                    allowed
                        .iter()
                        .map(|a| format!("{{{a}}}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            if !literal.is_empty() {
                parts.push(PatternPart::Literal(std::mem::take(&mut literal)));
            }
            parts.push(PatternPart::Var {
                name: name.to_string(),
                width,
            });
            rest = &after[close + 1..];
        }
        literal.push_str(rest);
        if !literal.is_empty() {
            parts.push(PatternPart::Literal(literal));
        }
        Ok(Self {
            source: text.to_string(),
            parts,
        })
    }

    /// The pattern as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Whether the pattern uses placeholder `name`.
    pub fn uses(&self, name: &str) -> bool {
        self.parts
            .iter()
            .any(|p| matches!(p, PatternPart::Var { name: n, .. } if n == name))
    }

    /// Renders with `vars`; a placeholder the vars do not know renders empty (validation has
    /// already restricted placeholders to known names).
    pub fn render(&self, vars: &impl PatternVars) -> String {
        use std::fmt::Write as _;
        let mut out = String::with_capacity(self.source.len() + 8);
        for part in &self.parts {
            match part {
                PatternPart::Literal(s) => out.push_str(s),
                PatternPart::Var { name, width } => match vars.lookup(name) {
                    Some(PatternValue::Number(n)) => {
                        let _ = write!(out, "{n:0width$}");
                    }
                    Some(PatternValue::Text(t)) => out.push_str(t),
                    None => {}
                },
            }
        }
        out
    }
}

/// Placeholders a room name pattern may use.
pub const ROOM_VARS: &[&str] = &["index"];
/// Placeholders a user id pattern may use.
pub const USER_VARS: &[&str] = &["group", "index", "room", "room_index", "n", "iteration"];

#[cfg(test)]
mod tests {
    use super::*;

    struct Vars;
    impl PatternVars for Vars {
        fn lookup(&self, name: &str) -> Option<PatternValue<'_>> {
            match name {
                "index" => Some(PatternValue::Number(7)),
                "room" => Some(PatternValue::Text("r-1")),
                _ => None,
            }
        }
    }

    #[test]
    fn patterns_render_padding_and_text() {
        let p = NamePattern::parse("room-{index:04}", ROOM_VARS).unwrap();
        assert_eq!(p.render(&Vars), "room-0007");
        let p = NamePattern::parse("{room}_u{index}", USER_VARS).unwrap();
        assert_eq!(p.render(&Vars), "r-1_u7");
        assert!(p.uses("room") && !p.uses("n"));
        let p = NamePattern::parse("plain", ROOM_VARS).unwrap();
        assert_eq!(p.render(&Vars), "plain");
    }

    #[test]
    fn pattern_errors_say_what_was_expected() {
        let cases = [
            (
                "room-{idx}",
                "unknown placeholder {idx}; expected one of {index}",
            ),
            ("room-{index", "unclosed `{`"),
            ("room-}", "unmatched `}`"),
            ("room-{index:4}", "format must be 0N"),
            ("room-{index:099}", "width must be 1..=20"),
        ];
        for (text, want) in cases {
            let err = NamePattern::parse(text, ROOM_VARS).unwrap_err();
            assert!(err.contains(want), "{text}: {err}");
        }
    }
}
