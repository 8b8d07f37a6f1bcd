//! Presence bookkeeping: when each member's join was answered and when it left, shared per room
//! through atomics (no lock), and each member's own view of who it saw.
//!
//! `peer_visible` is measured on one clock: the joiner stores the time its join was answered in
//! its room slot; a peer that gets `user-joined` for it subtracts that from its own receive time.
//! When the peer's notice is processed before the joiner's answer (they arrive on different
//! threads), the peer keeps the notice and resolves it later; a notice seen before the answer
//! counts as zero delay and is counted apart, so no sample is invented or lost silently.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

/// Per-room shared slots, one per distinct user id that the plan puts in the room.
#[derive(Debug)]
pub struct RoomBoard {
    slots: HashMap<Box<str>, u32>,
    answered_at: Box<[AtomicU64]>,
    left_at: Box<[AtomicU64]>,
    /// When each slot's session last came back RECONNECTED (the reference of `peer_reconnected`).
    resumed_at: Box<[AtomicU64]>,
}

/// Time stamps are microseconds since the run started, plus one, so that 0 means "unset".
fn stamp(us: u64) -> u64 {
    us + 1
}

impl RoomBoard {
    /// A board for these users (duplicates share a slot: they are the same user).
    pub fn new<'a>(users: impl IntoIterator<Item = &'a str>) -> Self {
        let mut slots = HashMap::new();
        for u in users {
            let next = slots.len() as u32;
            slots.entry(Box::from(u)).or_insert(next);
        }
        let n = slots.len();
        Self {
            slots,
            answered_at: (0..n).map(|_| AtomicU64::new(0)).collect(),
            left_at: (0..n).map(|_| AtomicU64::new(0)).collect(),
            resumed_at: (0..n).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    /// The slot of `user`, or `None` for a user the plan did not put in this room.
    pub fn slot(&self, user: &str) -> Option<u32> {
        self.slots.get(user).copied()
    }

    /// Records that `slot`'s join was answered at `us`; returns the stored stamp.
    pub fn answered(&self, slot: u32, us: u64) -> u64 {
        let s = stamp(us);
        self.left_at[slot as usize].store(0, Ordering::Release);
        self.answered_at[slot as usize].store(s, Ordering::Release);
        s
    }

    /// Records that `slot` (which stored `own` when answered) leaves at `us`. A later session of
    /// the same user (duplicate login) may own the slot by now: its answer time is kept, and the
    /// leave time still records when this older session ended (what its peers' `user-left` for
    /// the replaced session refers to).
    pub fn leaving(&self, slot: u32, own: u64, us: u64) {
        let _ = self.answered_at[slot as usize].compare_exchange(
            own,
            0,
            Ordering::AcqRel,
            Ordering::Acquire,
        );
        self.left_at[slot as usize].store(stamp(us), Ordering::Release);
    }

    /// When `slot`'s current session was answered (µs since start), if it is in the room.
    pub fn answered_at(&self, slot: u32) -> Option<u64> {
        match self.answered_at[slot as usize].load(Ordering::Acquire) {
            0 => None,
            s => Some(s - 1),
        }
    }

    /// Records that `slot`'s session came back RECONNECTED at `us`.
    pub fn resumed(&self, slot: u32, us: u64) {
        self.resumed_at[slot as usize].store(stamp(us), Ordering::Release);
    }

    /// When `slot`'s session last came back RECONNECTED (µs since start), if ever.
    pub fn resumed_at(&self, slot: u32) -> Option<u64> {
        match self.resumed_at[slot as usize].load(Ordering::Acquire) {
            0 => None,
            s => Some(s - 1),
        }
    }

    /// When `slot` last left (µs since start), if it has left since its last join.
    pub fn left_at(&self, slot: u32) -> Option<u64> {
        match self.left_at[slot as usize].load(Ordering::Acquire) {
            0 => None,
            s => Some(s - 1),
        }
    }
}

/// A `peer_visible` or `peer_gone` delay, or a notice to resolve later.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delay {
    /// Microseconds from the peer's answer (or leave) to our notice.
    Measured(u64),
    /// The notice came before the peer's own answer was processed: zero delay.
    BeforeReference,
    /// Not known yet: keep `(slot, seen_at)` and resolve later.
    Pending,
}

/// `user-joined` for `slot` received at `now`.
pub fn visible_delay(board: &RoomBoard, slot: u32, now: u64) -> Delay {
    match board.answered_at(slot) {
        Some(at) if at <= now => Delay::Measured(now - at),
        Some(_) => Delay::BeforeReference,
        None => Delay::Pending,
    }
}

/// `user-left` for `slot` received at `now`.
pub fn gone_delay(board: &RoomBoard, slot: u32, now: u64) -> Delay {
    match board.left_at(slot) {
        Some(at) if at <= now => Delay::Measured(now - at),
        Some(_) => Delay::BeforeReference,
        None => Delay::Pending,
    }
}

/// `user-reconnected` for `slot` received at `now`: measured from the peer's own RECONNECTED.
/// The two happen on different threads, so the notice may be processed first; it then counts as
/// zero delay (and apart), as for `user-joined`.
pub fn reconnected_delay(board: &RoomBoard, slot: u32, now: u64) -> Delay {
    match board.resumed_at(slot) {
        Some(at) if at <= now => Delay::Measured(now - at),
        _ => Delay::BeforeReference,
    }
}

/// One member's stay in a room, kept until the end of the run for the presence check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stay {
    /// Room index.
    pub room: u32,
    /// The member's slot on the room's board.
    pub slot: u32,
    /// Join answered (µs since start).
    pub from: u64,
    /// Left or dropped (µs since start).
    pub to: u64,
    /// Slots this member saw in the room during the stay (initial list and `user-joined`).
    pub seen: Vec<u32>,
}

/// Members must overlap by more than this before a missing `user-joined` counts as an error: the
/// two ends of a near-simultaneous leave and join are ordered by the server, not by our clock.
pub const OVERLAP_GRACE_US: u64 = 100_000;

/// Presence errors: pairs (a, b) of stays in the same room that overlapped by more than
/// [`OVERLAP_GRACE_US`] where `a` never saw `b`'s user. Stays of the same user are not pairs.
pub fn presence_errors(stays: &[Stay]) -> u64 {
    let mut by_room: HashMap<u32, Vec<&Stay>> = HashMap::new();
    for s in stays {
        by_room.entry(s.room).or_default().push(s);
    }
    let mut errors = 0;
    for members in by_room.values() {
        for a in members {
            for b in members {
                if a.slot == b.slot {
                    continue;
                }
                let overlap = a.to.min(b.to).saturating_sub(a.from.max(b.from));
                if overlap > OVERLAP_GRACE_US && !a.seen.contains(&b.slot) {
                    errors += 1;
                }
            }
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_and_notices_give_delays_in_either_order() {
        let board = RoomBoard::new(["a", "b", "a"]);
        assert_eq!(board.slot("a"), Some(0));
        assert_eq!(board.slot("b"), Some(1));
        assert_eq!(board.slot("zed"), None);
        // Peer notices a before a's answer was processed: pending, then resolved.
        assert_eq!(visible_delay(&board, 0, 50), Delay::Pending);
        let own = board.answered(0, 40);
        assert_eq!(visible_delay(&board, 0, 50), Delay::Measured(10));
        assert_eq!(visible_delay(&board, 0, 30), Delay::BeforeReference);
        // Time 0 is a real time, not "unset".
        let b_own = board.answered(1, 0);
        assert_eq!(board.answered_at(1), Some(0));
        assert_eq!(gone_delay(&board, 0, 99), Delay::Pending);
        board.leaving(0, own, 100);
        assert_eq!(board.answered_at(0), None);
        assert_eq!(gone_delay(&board, 0, 130), Delay::Measured(30));
        // A newer session of b owns the slot: the older one's leave keeps the newer answer and
        // records when the older session ended.
        board.answered(1, 200);
        board.leaving(1, b_own, 210);
        assert_eq!(board.answered_at(1), Some(200));
        assert_eq!(board.left_at(1), Some(210));
    }

    fn stay(slot: u32, from: u64, to: u64, seen: &[u32]) -> Stay {
        Stay {
            room: 0,
            slot,
            from,
            to,
            seen: seen.to_vec(),
        }
    }

    #[test]
    fn presence_errors_count_missed_overlapping_members_only() {
        let s = 1_000_000;
        let stays = [
            stay(0, 0, 10 * s, &[1]),               // saw b
            stay(1, s, 10 * s, &[]),                // never saw a: one error
            stay(2, 10 * s, 20 * s, &[3]),          // overlaps only d, and saw it
            stay(3, 9 * s + 950_000, 12 * s, &[2]), // overlaps a and b by 50 ms only; saw c
        ];
        assert_eq!(presence_errors(&stays), 1);
        let mut other_room = stays[1].clone();
        other_room.room = 1;
        assert_eq!(presence_errors(&[stays[0].clone(), other_room]), 0);
        // The same user twice (duplicate login) is not a pair.
        assert_eq!(
            presence_errors(&[stay(0, 0, s, &[]), stay(0, 0, s, &[])]),
            0
        );
    }
}
