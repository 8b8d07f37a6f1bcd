//! What happened around broken connections: how breaks were noticed, how reconnects ended, the
//! attempts they took, what peers saw, and what each scripted fault hit. Counted per worker
//! thread like every other figure and merged exactly.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Reconnect and fault figures of a run (or of one interval before merging).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RecoveryStats {
    /// Breaks that sent a member RECONNECTING, by how they were noticed (`ping_timeout`,
    /// `close_<code>`, `disconnect_10052`).
    pub losses: BTreeMap<String, u64>,
    /// Socket closes the SDK does not react to (1000 and unknown codes): the member stays
    /// CONNECTED until its ping timer fires, by close code.
    pub ignored_closes: BTreeMap<String, u64>,
    /// Reconnects that ended RECONNECTED.
    pub reconnected: u64,
    /// Reconnects that used up every attempt: DISCONNECTED ERROR 10007.
    pub gave_up: u64,
    /// Reconnects the server refused, by the re-auth code (DISCONNECTED ERROR with it).
    pub refused: BTreeMap<u32, u64>,
    /// Reconnects cut short by the script's leave, a stop or the deadline.
    pub abandoned: u64,
    /// Attempts each reconnect (any ending) made, as `attempts → reconnects`.
    pub attempts: BTreeMap<u32, u64>,
    /// Attempts that failed (refused, dropped, timed out, network down).
    pub attempts_failed: u64,
    /// The first attempt failure's message, to start looking.
    pub attempt_failure_example: Option<String>,
    /// `user-reconnecting` notices received about peers.
    pub peer_reconnecting: u64,
    /// `user-reconnected` notices received about peers.
    pub peer_reconnected: u64,
    /// Peers that appeared in the member list after a re-auth (the SDK's `user-joined` from
    /// its diff; their user data is dropped, as the SDK does).
    pub roster_joined: u64,
    /// Peers missing from the member list after a re-auth (the SDK's `user-left` from its diff).
    pub roster_left: u64,
    /// Views left stale: at the end of a stay, a peer still shown as reconnecting although it
    /// had come back (its `user-reconnected` never arrived, e.g. while this member was away
    /// itself: the SDK's diff does not repair reconnecting marks).
    pub stale_reconnecting: u64,
    /// The join promise's view of refused first joins: the Web SDK rejects `join()` with 21003
    /// for 10001/10002/10004/10011/10012/10022.
    pub join_rejected_21003: u64,
    /// The promise view of refused re-auths: an unhandled 21003 rejection in the Web SDK.
    pub unhandled_21003: u64,
    /// Last recovery event (a RECONNECTED, a `user-reconnected` or a diff event), µs since the
    /// run started; 0 when none. With the last fault's time it gives presence convergence.
    pub last_recovery_us: u64,
    /// Scripted faults by index: members they hit, and targets not in a room when they fired.
    pub faults: BTreeMap<u32, FaultHits>,
}

/// How many targets a fault reached.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct FaultHits {
    /// Targets that were members (in the room or reconnecting) and got the fault.
    pub applied: u64,
    /// Targets that were not in a room at that moment (not yet joined, or already gone).
    pub missed: u64,
    /// Requests to the server that failed (kick), with the fault not applied.
    pub failed: u64,
}

fn add<K: Ord + Clone>(into: &mut BTreeMap<K, u64>, from: &BTreeMap<K, u64>) {
    for (k, v) in from {
        *into.entry(k.clone()).or_default() += v;
    }
}

impl RecoveryStats {
    /// Adds `other` into `self` (counts add, the last event time is the later one).
    pub fn absorb(&mut self, other: &RecoveryStats) {
        add(&mut self.losses, &other.losses);
        add(&mut self.ignored_closes, &other.ignored_closes);
        self.reconnected += other.reconnected;
        self.gave_up += other.gave_up;
        add(&mut self.refused, &other.refused);
        self.abandoned += other.abandoned;
        add(&mut self.attempts, &other.attempts);
        self.attempts_failed += other.attempts_failed;
        if self.attempt_failure_example.is_none() {
            self.attempt_failure_example
                .clone_from(&other.attempt_failure_example);
        }
        self.peer_reconnecting += other.peer_reconnecting;
        self.peer_reconnected += other.peer_reconnected;
        self.roster_joined += other.roster_joined;
        self.roster_left += other.roster_left;
        self.stale_reconnecting += other.stale_reconnecting;
        self.join_rejected_21003 += other.join_rejected_21003;
        self.unhandled_21003 += other.unhandled_21003;
        self.last_recovery_us = self.last_recovery_us.max(other.last_recovery_us);
        for (k, v) in &other.faults {
            let e = self.faults.entry(*k).or_default();
            e.applied += v.applied;
            e.missed += v.missed;
            e.failed += v.failed;
        }
    }

    /// Reconnects that ended, however they ended.
    pub fn episodes(&self) -> u64 {
        self.reconnected + self.gave_up + self.refused.values().sum::<u64>() + self.abandoned
    }

    /// Whether anything reconnect-related happened (reports skip the section otherwise).
    pub fn is_empty(&self) -> bool {
        *self == RecoveryStats::default()
    }

    /// Marks a recovery event at `us`.
    pub fn recovered_at(&mut self, us: u64) {
        self.last_recovery_us = self.last_recovery_us.max(us);
    }

    /// The hits of fault `index`, for updating.
    pub fn fault(&mut self, index: usize) -> &mut FaultHits {
        self.faults.entry(index as u32).or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absorb_adds_counts_and_keeps_the_later_event_and_first_example() {
        let mut a = RecoveryStats::default();
        assert!(a.is_empty());
        *a.losses.entry("close_1006".into()).or_default() += 2;
        a.reconnected = 2;
        *a.attempts.entry(1).or_default() += 2;
        a.attempt_failure_example = Some("first".into());
        a.recovered_at(500);
        a.fault(0).applied = 2;
        let mut b = RecoveryStats::default();
        *b.losses.entry("close_1006".into()).or_default() += 1;
        *b.losses.entry("ping_timeout".into()).or_default() += 1;
        b.gave_up = 1;
        *b.refused.entry(10004).or_default() += 1;
        *b.attempts.entry(3).or_default() += 1;
        b.attempt_failure_example = Some("second".into());
        b.recovered_at(300);
        b.fault(0).missed = 1;
        b.fault(1).applied = 4;
        a.absorb(&b);
        assert_eq!(a.losses["close_1006"], 3);
        assert_eq!(a.losses["ping_timeout"], 1);
        assert_eq!(a.episodes(), 4);
        assert_eq!(a.attempts[&1], 2);
        assert_eq!(a.attempts[&3], 1);
        assert_eq!(a.attempt_failure_example.as_deref(), Some("first"));
        assert_eq!(a.last_recovery_us, 500);
        assert_eq!(
            a.faults[&0],
            FaultHits {
                applied: 2,
                missed: 1,
                failed: 0
            }
        );
        assert_eq!(a.faults[&1].applied, 4);
        assert!(!a.is_empty());
    }
}
