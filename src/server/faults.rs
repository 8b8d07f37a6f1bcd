//! Live fault state: what the fault-injection extension of the management API has switched on.
//!
//! A load test checks that clients survive server trouble, so it scripts server-side faults at
//! scenario times over `/roomstorm/v1/faults…` ([`super::admin`]): dropped connections, a frozen
//! server (stall), slow joins (auth latency) and a crash with restart. This module holds that state
//! and the pure choice of which connections a drop hits.
//!
//! The state is read on hot paths, so it costs nothing until a fault happens: an `auth` pays two
//! relaxed atomic loads, and each socket holds one [`tokio::sync::watch`] receiver that wakes it
//! only when a stall or restart begins or ends (never per frame, no lock shared by sockets).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use super::ServerState;
use crate::plan::rng::SeededRng;

/// The longest stall, auth latency window or listener downtime a request may ask for (one day):
/// longer is certainly a mistake, and bounding it keeps instant arithmetic from overflowing.
pub const MAX_FAULT_DURATION: Duration = Duration::from_secs(24 * 3600);

/// Random stream of [`SeededRng`] used by [`choose`], so a client can replay the choice.
pub const DROP_STREAM: u64 = 0;

/// What sockets are told through the watch channel (small and `Copy`: read once per wake-up).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Signal {
    /// Sockets neither read nor write until then.
    stall_until: Option<Instant>,
    /// Bumped by every restart: a socket that sees it change resets itself.
    restarts: u64,
    /// How long the listener stays closed for the latest restart.
    down: Duration,
}

/// The server's live fault state, held in [`ServerState`].
#[derive(Debug)]
pub struct Faults {
    signal: watch::Sender<Signal>,
    /// Origin of the millisecond timestamps below.
    epoch: Instant,
    /// Extra latency before every `auth` answer, in ms (0: none).
    auth_delay_ms: AtomicU64,
    /// When the extra auth latency ends, in ms since `epoch` (`u64::MAX`: when changed).
    auth_until_ms: AtomicU64,
    /// `false` while a restart holds the listener closed.
    listening: AtomicBool,
}

impl Default for Faults {
    fn default() -> Self {
        Self::new()
    }
}

/// What a fault means for one socket, as [`FaultWatch::next`] reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interrupt {
    /// A stall is in force: stop reading and writing until [`FaultWatch::stall_over`].
    Stall,
    /// The server "crashed": reset the connection now; the listener stays closed for `down`.
    Restart {
        /// Listener downtime.
        down: Duration,
    },
}

/// A restart happened while waiting: the socket must be reset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Restarted;

/// One socket's view of the fault state (one watch receiver: a pointer and a version).
#[derive(Debug)]
pub struct FaultWatch {
    rx: watch::Receiver<Signal>,
    restarts_seen: u64,
}

/// Marks a response after which its connection starts a restart (set by the restart route, read
/// by the HTTP connection once the answer is written, so that the caller always gets it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestartAfterResponse(pub Duration);

/// The fault state as `GET /roomstorm/v1/faults` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FaultState {
    /// Time left in the current stall (zero: none).
    pub stalled_for: Duration,
    /// Extra auth latency in force (zero: none).
    pub auth_latency: Duration,
    /// Time left of the extra auth latency; `None` while it lasts until changed.
    pub auth_latency_for: Option<Duration>,
    /// `false` while a restart holds the listener closed.
    pub listening: bool,
}

impl Faults {
    /// No fault in force.
    pub fn new() -> Self {
        Self {
            signal: watch::Sender::new(Signal::default()),
            epoch: Instant::now(),
            auth_delay_ms: AtomicU64::new(0),
            auth_until_ms: AtomicU64::new(u64::MAX),
            listening: AtomicBool::new(true),
        }
    }

    /// A watch for one socket (or the accept loop); faults already in force count as seen except
    /// a stall, which [`FaultWatch::stall_over`] still waits out.
    pub fn subscribe(&self) -> FaultWatch {
        let rx = self.signal.subscribe();
        let restarts_seen = rx.borrow().restarts;
        FaultWatch { rx, restarts_seen }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX - 1)
    }

    /// Stalls every signaling socket for `for_` from now (zero ends a stall early); a new stall
    /// replaces the current one.
    pub fn stall(&self, for_: Duration) {
        let until = (!for_.is_zero()).then(|| Instant::now() + for_.min(MAX_FAULT_DURATION));
        self.signal.send_modify(|s| s.stall_until = until);
    }

    /// Time left in the current stall.
    pub fn stalled_for(&self) -> Duration {
        self.signal
            .borrow()
            .stall_until
            .map_or(Duration::ZERO, |u| {
                u.saturating_duration_since(Instant::now())
            })
    }

    /// Adds `delay` before every `auth` answer for `for_` (`None`: until changed; zero delay
    /// clears it).
    pub fn set_auth_latency(&self, delay: Duration, for_: Option<Duration>) {
        let until = match for_ {
            Some(d) if !delay.is_zero() => self
                .now_ms()
                .saturating_add(d.min(MAX_FAULT_DURATION).as_millis() as u64),
            _ => u64::MAX,
        };
        // The end first: a reader that sees the new delay also sees its end (or a later one).
        self.auth_until_ms.store(until, Relaxed);
        let ms = u64::try_from(delay.min(MAX_FAULT_DURATION).as_millis()).unwrap_or(u64::MAX);
        self.auth_delay_ms.store(ms, Relaxed);
    }

    /// Extra latency for an `auth` answered now (hot path: two relaxed loads when none).
    pub fn auth_latency(&self) -> Duration {
        let ms = self.auth_delay_ms.load(Relaxed);
        if ms == 0 {
            return Duration::ZERO;
        }
        let until = self.auth_until_ms.load(Relaxed);
        if until != u64::MAX && self.now_ms() >= until {
            return Duration::ZERO;
        }
        Duration::from_millis(ms)
    }

    /// Closes the listener for `down` and resets every open socket (see [`Interrupt::Restart`]).
    pub fn begin_restart(&self, down: Duration) {
        self.listening.store(false, Relaxed);
        self.signal.send_modify(|s| {
            s.restarts += 1;
            s.down = down.min(MAX_FAULT_DURATION);
        });
    }

    /// Records whether the listener is open (the accept loop sets it back after a restart).
    pub fn set_listening(&self, listening: bool) {
        self.listening.store(listening, Relaxed);
    }

    /// `false` while a restart holds the listener closed: connections accepted in the moment
    /// before it closes are reset too.
    pub fn listening(&self) -> bool {
        self.listening.load(Relaxed)
    }

    /// The state as the management API reports it.
    pub fn state(&self) -> FaultState {
        let auth_latency = self.auth_latency();
        let auth_latency_for = if auth_latency.is_zero() {
            Some(Duration::ZERO)
        } else {
            match self.auth_until_ms.load(Relaxed) {
                u64::MAX => None,
                until => Some(Duration::from_millis(until.saturating_sub(self.now_ms()))),
            }
        };
        FaultState {
            stalled_for: self.stalled_for(),
            auth_latency,
            auth_latency_for,
            listening: self.listening(),
        }
    }
}

impl FaultWatch {
    /// Waits for a fault that concerns a socket: a restart, or a stall that has begun.
    pub async fn next(&mut self) -> Interrupt {
        loop {
            if self.rx.changed().await.is_err() {
                // The server state is gone: no fault will ever come.
                std::future::pending::<()>().await;
            }
            let s = *self.rx.borrow_and_update();
            if s.restarts != self.restarts_seen {
                self.restarts_seen = s.restarts;
                return Interrupt::Restart { down: s.down };
            }
            if s.stall_until.is_some_and(|u| u > Instant::now()) {
                return Interrupt::Stall;
            }
        }
    }

    /// Waits for the next restart, ignoring stalls.
    pub async fn restarted(&mut self) -> Restarted {
        loop {
            if let Interrupt::Restart { .. } = self.next().await {
                return Restarted;
            }
        }
    }

    /// Returns once no stall is in force (at once when none is); a stall that is extended or
    /// ended early is followed. `Err` when a restart comes first.
    pub async fn stall_over(&mut self) -> Result<(), Restarted> {
        loop {
            let s = *self.rx.borrow_and_update();
            if s.restarts != self.restarts_seen {
                self.restarts_seen = s.restarts;
                return Err(Restarted);
            }
            let Some(until) = s.stall_until.filter(|u| *u > Instant::now()) else {
                return Ok(());
            };
            tokio::select! {
                () = tokio::time::sleep_until(until) => {}
                changed = self.rx.changed() => {
                    if changed.is_err() {
                        tokio::time::sleep_until(until).await;
                    }
                }
            }
        }
    }
}

/// Which of `n` items a drop of `share` with `seed` hits: exactly `round(share × n)` distinct
/// indices (ascending), the first ones of a Fisher–Yates shuffle of `0..n` by
/// `SeededRng::new(seed, DROP_STREAM)`. Same inputs, same choice: a replayed scenario drops the
/// same members. `share` is clamped to `0..=1` (callers refuse anything else first).
pub fn choose(n: usize, share: f64, seed: u64) -> Vec<usize> {
    let share = if share.is_nan() {
        0.0
    } else {
        share.clamp(0.0, 1.0)
    };
    let k = ((share * n as f64).round() as usize).min(n);
    let mut order: Vec<usize> = (0..n).collect();
    SeededRng::new(seed, DROP_STREAM).shuffle(&mut order);
    order.truncate(k);
    order.sort_unstable();
    order
}

/// Resets the sockets of `round(share × N)` of the N linked members of all apps, chosen by
/// [`choose`] over the members sorted by (app, room, user). Returns (dropped, N).
///
/// Each chosen socket gets a reset request through its outbox; its task then resets the
/// connection and the room treats the member as after a network drop (reconnect window,
/// `on-player-reconnect` to peers).
pub fn drop_connections(state: &ServerState, share: f64, seed: u64) -> (usize, usize) {
    let mut members = Vec::new();
    for app in state.apps.all() {
        for m in app.linked_members() {
            members.push((app.id.clone(), m));
        }
    }
    members.sort_by(|(a1, m1), (a2, m2)| (a1, &m1.room, &m1.user).cmp(&(a2, &m2.room, &m2.user)));
    let chosen = choose(members.len(), share, seed);
    for &i in &chosen {
        members[i].1.outbox.reset();
    }
    state
        .metrics
        .faults_dropped
        .fetch_add(chosen.len() as u64, Relaxed);
    (chosen.len(), members.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    const PINNED: [usize; 3] = [0, 1, 4];

    #[test]
    fn choice_has_the_exact_count_and_replays() {
        for (n, share, k) in [
            (10, 0.3, 3),
            (10, 0.0, 0),
            (10, 1.0, 10),
            (7, 0.5, 4),
            (3, 0.49, 1),
            (0, 0.5, 0),
        ] {
            let chosen = choose(n, share, 7);
            assert_eq!(chosen.len(), k, "{share} of {n}");
            let mut dedup = chosen.clone();
            dedup.dedup();
            assert_eq!(dedup, chosen, "distinct and ascending");
            assert!(chosen.iter().all(|&i| i < n));
            assert_eq!(choose(n, share, 7), chosen, "same seed, same choice");
        }
        let seeds: std::collections::BTreeSet<Vec<usize>> =
            (0..20).map(|seed| choose(10, 0.3, seed)).collect();
        assert!(seeds.len() > 5, "different seeds choose differently");
    }

    #[test]
    fn choice_is_pinned_for_replays_across_releases() {
        // A scenario replayed by a later release must drop the same members: these values are
        // part of the contract (docs/protocol.md), not an implementation detail.
        assert_eq!(choose(10, 0.3, 7), PINNED);
        let mut order: Vec<usize> = (0..10).collect();
        SeededRng::new(7, DROP_STREAM).shuffle(&mut order);
        let mut first: Vec<usize> = order[..3].to_vec();
        first.sort_unstable();
        assert_eq!(first, PINNED, "the documented recipe");
    }

    #[tokio::test]
    async fn auth_latency_expires_and_clears() {
        let f = Faults::new();
        assert_eq!(f.auth_latency(), Duration::ZERO);
        f.set_auth_latency(Duration::from_millis(500), None);
        assert_eq!(f.auth_latency(), Duration::from_millis(500));
        assert_eq!(f.state().auth_latency_for, None);
        f.set_auth_latency(Duration::from_millis(500), Some(Duration::ZERO));
        assert_eq!(f.auth_latency(), Duration::ZERO);
        f.set_auth_latency(Duration::from_millis(500), Some(Duration::from_secs(60)));
        assert!(
            f.state()
                .auth_latency_for
                .is_some_and(|d| d > Duration::ZERO)
        );
        f.set_auth_latency(Duration::ZERO, None);
        assert_eq!(f.state().auth_latency, Duration::ZERO);
        assert_eq!(f.state().auth_latency_for, Some(Duration::ZERO));
    }

    #[tokio::test]
    async fn watches_see_stalls_and_restarts() {
        let f = Faults::new();
        let mut w = f.subscribe();
        assert_eq!(w.stall_over().await, Ok(()));
        f.stall(Duration::from_secs(60));
        assert_eq!(w.next().await, Interrupt::Stall);
        assert!(f.stalled_for() > Duration::ZERO);
        let ended = async {
            tokio::task::yield_now().await;
            f.stall(Duration::ZERO);
        };
        let (over, ()) = tokio::join!(w.stall_over(), ended);
        assert_eq!(over, Ok(()));
        f.begin_restart(Duration::from_millis(5));
        assert!(!f.listening());
        assert_eq!(
            w.next().await,
            Interrupt::Restart {
                down: Duration::from_millis(5)
            }
        );
        let mut late = f.subscribe();
        f.stall(Duration::from_secs(60));
        f.begin_restart(Duration::ZERO);
        assert_eq!(late.stall_over().await, Err(Restarted));
    }
}
