//! The per-thread recorder: participants on a worker thread record into it directly (no lock, no
//! message); the coordinator takes its contents once a second with [`take`].

use std::cell::RefCell;
use std::collections::BTreeMap;

use hdrhistogram::Histogram;

use super::{Metric, new_histogram};
use crate::participant::outcome::{FailureStage, Outcome};
use crate::participant::presence::Stay;
use crate::participant::state::ConnectionState;
use crate::scenario::OutcomeKey;

/// What one worker thread recorded since the last [`take`].
#[derive(Debug)]
pub struct Interval {
    /// One histogram per [`Metric`], by index.
    pub latency: Vec<Histogram<u64>>,
    /// Participant lifecycles started.
    pub started: u64,
    /// Join answers by code (0 = accepted).
    pub join_answers: BTreeMap<u32, u64>,
    /// Disconnects by the server while in the room, by code.
    pub server_disconnects: BTreeMap<u32, u64>,
    /// Outcomes by (group, key, expected).
    pub outcomes: BTreeMap<(u16, OutcomeKey, bool), u64>,
    /// Transport failures by stage.
    pub failures: BTreeMap<FailureStage, u64>,
    /// The first failure message seen per stage (what a person needs to start looking).
    pub failure_examples: BTreeMap<FailureStage, String>,
    /// Change in the number of participants in each state.
    pub state_delta: [i64; 5],
    /// State transitions made, by `[from][to]` state index.
    pub transitions: [[u64; 5]; 5],
    /// `user-joined`/`user-left` notices that arrived before the peer's own answer/leave.
    pub notices_before_reference: u64,
    /// Notices whose reference time never became known (their sample is missing).
    pub notices_unresolved: u64,
    /// Notices about users the plan did not put in the room.
    pub notices_unknown_user: u64,
    /// Finished stays, for the end-of-run presence check.
    pub stays: Vec<Stay>,
    /// Per-room figures, by room index (grown on demand; a worker only touches its own rooms).
    pub rooms: Vec<RoomStat>,
    /// Reconnects and faults.
    pub recovery: super::recovery::RecoveryStats,
    /// CPU time (user + system) of the busiest worker thread since the previous collection, µs
    /// (merging keeps the largest: a saturated worker is what limits the generator).
    pub worker_cpu_max_us: u64,
    /// Participants queued at the handshake gate when the interval was collected: a level set by
    /// the worker, not an event count. Merging one collection's workers adds them up; in a run's
    /// totals it is the largest seen ([`crate::metrics::aggregate::Aggregate`]).
    pub gate_queued: u64,
    /// Media sent and received.
    pub media: super::media::MediaCounters,
}

/// What one room went through: small enough to keep for every room of a large run.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
pub struct RoomStat {
    /// Joins accepted.
    pub joins: u32,
    /// Lifecycles that ended unexpectedly.
    pub unexpected: u32,
    /// Slowest join answer, µs.
    pub max_join_us: u64,
    /// Slowest `user-joined` notice, µs.
    pub max_peer_visible_us: u64,
    /// First unexpected outcome, µs since the run started (0: none).
    pub first_unexpected_us: u64,
}

impl RoomStat {
    /// Adds `o` (counts add, maxima are the larger, the first unexpected time the earlier).
    pub fn absorb(&mut self, o: &RoomStat) {
        self.joins += o.joins;
        self.unexpected += o.unexpected;
        self.max_join_us = self.max_join_us.max(o.max_join_us);
        self.max_peer_visible_us = self.max_peer_visible_us.max(o.max_peer_visible_us);
        self.first_unexpected_us = match (self.first_unexpected_us, o.first_unexpected_us) {
            (0, b) => b,
            (a, 0) => a,
            (a, b) => a.min(b),
        };
    }
}

impl Default for Interval {
    fn default() -> Self {
        Self {
            latency: Metric::ALL.iter().map(|_| new_histogram()).collect(),
            started: 0,
            join_answers: BTreeMap::new(),
            server_disconnects: BTreeMap::new(),
            outcomes: BTreeMap::new(),
            failures: BTreeMap::new(),
            failure_examples: BTreeMap::new(),
            state_delta: [0; 5],
            transitions: [[0; 5]; 5],
            notices_before_reference: 0,
            notices_unresolved: 0,
            notices_unknown_user: 0,
            stays: Vec::new(),
            rooms: Vec::new(),
            recovery: Default::default(),
            worker_cpu_max_us: 0,
            gate_queued: 0,
            media: Default::default(),
        }
    }
}

impl Interval {
    /// Records a latency sample in microseconds.
    pub fn latency(&mut self, metric: Metric, us: u64) {
        let h = &mut self.latency[metric.index()];
        // `record` grows the histogram; `saturating_record` would clamp to its current range.
        if h.record(us.max(1)).is_err() {
            h.saturating_record(us.max(1));
        }
    }

    /// Records a state change.
    pub fn transition(&mut self, from: ConnectionState, to: ConnectionState) {
        self.state_delta[from.index()] -= 1;
        self.state_delta[to.index()] += 1;
        self.transitions[from.index()][to.index()] += 1;
    }

    /// Counts a transport failure, keeping the first message per stage.
    pub fn failure(&mut self, stage: FailureStage, why: &str) {
        *self.failures.entry(stage).or_default() += 1;
        self.failure_examples
            .entry(stage)
            .or_insert_with(|| why.to_string());
    }

    /// This room's figures, for updating.
    pub fn room(&mut self, room: u32) -> &mut RoomStat {
        let i = room as usize;
        if self.rooms.len() <= i {
            self.rooms.resize(i + 1, RoomStat::default());
        }
        &mut self.rooms[i]
    }

    /// Records a lifecycle's outcome.
    pub fn outcome(&mut self, group: u16, outcome: Outcome) {
        *self
            .outcomes
            .entry((group, outcome.key, outcome.expected))
            .or_default() += 1;
    }

    /// Adds `other` into `self` (histograms are added exactly, not averaged).
    pub fn absorb(&mut self, mut other: Interval) {
        for (mine, theirs) in self.latency.iter_mut().zip(&other.latency) {
            mine.add(theirs)
                .expect("auto-resizing histograms accept any value");
        }
        self.started += other.started;
        add_maps(&mut self.join_answers, &other.join_answers);
        add_maps(&mut self.server_disconnects, &other.server_disconnects);
        add_maps(&mut self.outcomes, &other.outcomes);
        add_maps(&mut self.failures, &other.failures);
        for (stage, text) in std::mem::take(&mut other.failure_examples) {
            self.failure_examples.entry(stage).or_insert(text);
        }
        for (a, b) in self.state_delta.iter_mut().zip(other.state_delta) {
            *a += b;
        }
        for (row, other_row) in self.transitions.iter_mut().zip(other.transitions) {
            for (a, b) in row.iter_mut().zip(other_row) {
                *a += b;
            }
        }
        self.notices_before_reference += other.notices_before_reference;
        self.notices_unresolved += other.notices_unresolved;
        self.notices_unknown_user += other.notices_unknown_user;
        self.stays.append(&mut other.stays);
        if self.rooms.len() < other.rooms.len() {
            self.rooms.resize(other.rooms.len(), RoomStat::default());
        }
        for (mine, theirs) in self.rooms.iter_mut().zip(&other.rooms) {
            mine.absorb(theirs);
        }
        self.recovery.absorb(&other.recovery);
        self.worker_cpu_max_us = self.worker_cpu_max_us.max(other.worker_cpu_max_us);
        self.gate_queued += other.gate_queued;
        self.media.absorb(&other.media);
    }

    /// Lifecycles that have ended, whatever the outcome.
    pub fn ended(&self) -> u64 {
        self.outcomes.values().sum()
    }
}

fn add_maps<K: Ord + Copy>(into: &mut BTreeMap<K, u64>, from: &BTreeMap<K, u64>) {
    for (k, v) in from {
        *into.entry(*k).or_default() += v;
    }
}

thread_local! {
    static RECORDER: RefCell<Interval> = RefCell::new(Interval::default());
}

/// Records into this thread's recorder.
pub fn record<R>(f: impl FnOnce(&mut Interval) -> R) -> R {
    RECORDER.with(|r| f(&mut r.borrow_mut()))
}

/// Takes everything this thread recorded since the last call.
pub fn take() -> Interval {
    RECORDER.with(|r| std::mem::take(&mut *r.borrow_mut()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_are_thread_local_and_taken_once() {
        record(|r| {
            r.latency(Metric::Join, 1500);
            r.latency(Metric::Join, 25_000_000);
            r.started += 1;
            r.transition(ConnectionState::Disconnected, ConnectionState::Connecting);
        });
        let other = std::thread::spawn(|| {
            record(|r| r.started += 5);
            take()
        })
        .join()
        .unwrap();
        assert_eq!(other.started, 5);
        let mine = take();
        assert_eq!(mine.started, 1);
        assert_eq!(mine.latency[Metric::Join.index()].len(), 2);
        // Large values grow the histogram instead of being clamped (3 significant digits).
        let max = mine.latency[Metric::Join.index()].max();
        assert!((24_990_000..=25_010_000).contains(&max), "{max}");
        assert_eq!(mine.state_delta[1], 1);
        assert_eq!(take().started, 0, "a second take starts from empty");
        let mut merged = mine;
        merged.absorb(other);
        assert_eq!(merged.started, 6);
        assert_eq!(merged.latency[Metric::Join.index()].min(), 1500);
    }
}
