//! Which participants and rooms each scripted fault hits, chosen up front from the seed so a
//! replay hits the same ones and the report can say exactly how many were meant to be hit.

use std::time::Duration;

use super::PlannedParticipant;
use super::rng::SeededRng;
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
    /// Share of all connections (drop_connections) in `0..=1`; the scope's share for the other
    /// kinds (1 for those that act on the whole server).
    pub share: f64,
    /// Seed the server uses to choose connections (drop_connections); drawn from the fault's own
    /// stream, so two faults never choose alike.
    pub seed: u64,
}

/// Stream ids of fault choices: far above any group index (the group streams), one per fault.
const FAULT_STREAM: u64 = 1 << 62;

/// Resolves every fault of `scenario` against its participants; ordered by time (stable).
///
/// Each fault draws from its own seeded stream, so adding, removing or reordering one fault
/// never changes whom another one hits, and a replay hits the same participants and rooms.
pub fn plan(
    scenario: &Scenario,
    participants: &[PlannedParticipant],
    rooms: u32,
) -> Vec<PlannedFault> {
    let mut out: Vec<PlannedFault> = Vec::with_capacity(scenario.faults.len());
    for (index, f) in scenario.faults.iter().enumerate() {
        let mut rng = SeededRng::new(scenario.seed, FAULT_STREAM | index as u64);
        let seed = rng.next_u64();
        let mut planned = PlannedFault {
            index,
            at: f.at,
            kind: f.kind,
            participants: Vec::new(),
            rooms: Vec::new(),
            share: f.scope.share,
            seed,
        };
        match f.kind {
            kind if kind.is_client_side() || kind == FaultKind::Kick => {
                let chosen_rooms = f.scope.rooms.map(|share| {
                    let mut in_scope = vec![false; rooms as usize];
                    for room in choose(0..rooms, share, &mut rng) {
                        in_scope[room as usize] = true;
                    }
                    in_scope
                });
                let eligible: Vec<u32> = participants
                    .iter()
                    .filter(|p| f.scope.group.is_none_or(|g| g == p.group))
                    .filter(|p| {
                        chosen_rooms
                            .as_ref()
                            .is_none_or(|r| r.get(p.room as usize).copied().unwrap_or(false))
                    })
                    .map(|p| p.id)
                    .collect();
                planned.participants = choose(eligible, f.scope.share, &mut rng);
            }
            FaultKind::CloseRooms => planned.rooms = choose(0..rooms, f.scope.share, &mut rng),
            _ => {}
        }
        out.push(planned);
    }
    out.sort_by_key(|f| f.at);
    out
}

/// How many of `n` a share hits: rounded, at least 1 when there is any, never more than `n`.
pub fn share_of(share: f64, n: usize) -> usize {
    if n == 0 {
        return 0;
    }
    ((share * n as f64).round() as usize).clamp(1, n)
}

/// [`share_of`] the items, chosen by a seeded shuffle, ascending.
fn choose(items: impl IntoIterator<Item = u32>, share: f64, rng: &mut SeededRng) -> Vec<u32> {
    let mut items: Vec<u32> = items.into_iter().collect();
    let k = share_of(share, items.len());
    rng.shuffle(&mut items);
    items.truncate(k);
    items.sort_unstable();
    items
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::compile;
    use crate::plan::tests::scenario;
    use crate::scenario::{Arrival, Fault, FaultScope, Group, GroupSize, Scenario};

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    fn fault(
        at: u64,
        kind: FaultKind,
        share: f64,
        group: Option<u16>,
        rooms: Option<f64>,
    ) -> Fault {
        Fault {
            at: secs(at),
            kind,
            scope: FaultScope {
                share,
                group,
                rooms,
            },
        }
    }

    /// 10 rooms; group `m` 4 per room, group `o` 1 per room.
    fn two_groups() -> Scenario {
        let mut s = scenario(10, 4, Arrival::Burst { at: Duration::ZERO });
        let other = Group {
            name: "o".into(),
            size: GroupSize::PerRoom(1),
            ..s.groups[0].clone()
        };
        s.groups.push(other);
        s
    }

    #[test]
    fn shares_round_and_never_hit_nobody() {
        assert_eq!(share_of(0.3, 10), 3);
        assert_eq!(share_of(0.25, 10), 3); // 2.5 rounds away from zero
        assert_eq!(share_of(0.01, 10), 1);
        assert_eq!(share_of(1.0, 10), 10);
        assert_eq!(share_of(0.5, 0), 0);
    }

    #[test]
    fn client_faults_hit_exactly_the_share_of_the_eligible() {
        let mut s = two_groups();
        s.faults = vec![
            fault(5, FaultKind::Reset { offline: secs(1) }, 0.3, None, None),
            fault(6, FaultKind::Kick, 0.5, Some(1), None),
            fault(
                7,
                FaultKind::Blackhole { duration: secs(2) },
                1.0,
                Some(0),
                Some(0.2),
            ),
        ];
        let plan = compile(&s);
        let all = &plan.faults[0].participants;
        assert_eq!(all.len(), 15); // 30% of 50
        assert!(all.windows(2).all(|w| w[0] < w[1]));
        let kicked = &plan.faults[1].participants;
        assert_eq!(kicked.len(), 5); // 50% of the 10 in group o
        for id in kicked {
            assert_eq!(plan.participants[*id as usize].group, 1);
        }
        let frozen = &plan.faults[2].participants;
        assert_eq!(frozen.len(), 8); // all of group m in 2 rooms
        let mut rooms: Vec<u32> = frozen
            .iter()
            .map(|id| plan.participants[*id as usize].room)
            .collect();
        rooms.sort_unstable();
        rooms.dedup();
        assert_eq!(rooms.len(), 2, "{rooms:?}");
        for id in frozen {
            assert_eq!(plan.participants[*id as usize].group, 0);
        }
    }

    #[test]
    fn room_and_server_faults_resolve_what_they_need() {
        let mut s = two_groups();
        s.faults = vec![
            fault(9, FaultKind::CloseRooms, 0.25, None, None),
            fault(1, FaultKind::DropConnections, 0.4, None, None),
            fault(1, FaultKind::Stall { duration: secs(3) }, 1.0, None, None),
        ];
        let plan = compile(&s);
        // Ordered by time, ties in file order.
        let order: Vec<usize> = plan.faults.iter().map(|f| f.index).collect();
        assert_eq!(order, [1, 2, 0]);
        let close = &plan.faults[2];
        assert_eq!(close.rooms.len(), 3); // 2.5 rooms round to 3
        assert!(close.rooms.windows(2).all(|w| w[0] < w[1]));
        assert!(close.participants.is_empty());
        let drop = &plan.faults[0];
        assert_eq!(drop.share, 0.4);
        assert!(drop.participants.is_empty() && drop.rooms.is_empty());
        assert_ne!(drop.seed, plan.faults[1].seed);
        assert!(plan.faults[1].participants.is_empty() && plan.faults[1].rooms.is_empty());
    }

    #[test]
    fn choices_replay_and_faults_choose_independently() {
        let mut s = two_groups();
        let reset = fault(5, FaultKind::Reset { offline: secs(1) }, 0.3, None, None);
        s.faults = vec![reset.clone(), reset.clone()];
        let a = compile(&s).faults;
        let b = compile(&s).faults;
        assert_eq!(a, b);
        assert_ne!(a[0].participants, a[1].participants);
        // A fault's choice does not depend on the faults after it.
        s.faults.truncate(1);
        assert_eq!(compile(&s).faults[0], a[0]);
        // Another seed, another choice.
        s.seed += 1;
        assert_ne!(compile(&s).faults[0].participants, a[0].participants);
    }
}
