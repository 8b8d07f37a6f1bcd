//! The compiled plan: every room, every participant with its intended arrival time, and each
//! group's script, computed up front by a pure function of the [`Scenario`].
//!
//! Computing the whole schedule before the run means a `--dry-run` shows exactly what will
//! happen, a seed replays identically, and the run itself only reads the plan.

pub mod arrival;
pub mod faults;
pub mod media;
pub mod rng;

use std::sync::Arc;
use std::time::Duration;

use crate::scenario::{
    Arrival, Group, GroupSize, MediaSpec, NamePattern, Order, OutcomeKey, PatternValue,
    PatternVars, Scenario, Step, TokenSpec,
};
use rng::SeededRng;

/// What a run executes.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The scenario's seed (participants derive their own random streams from it).
    pub seed: u64,
    /// Room names, by room index.
    pub rooms: Vec<String>,
    /// One entry per group, by group index.
    pub groups: Vec<GroupPlan>,
    /// Every participant (a closed-model slot counts once here), ordered by arrival.
    pub participants: Vec<PlannedParticipant>,
    /// How participants reconnect.
    pub reconnect: crate::scenario::ReconnectSettings,
    /// Faults to inject, ordered by time.
    pub faults: Vec<faults::PlannedFault>,
    /// The shard this process runs (`None`: the whole plan). Participant ids and room indices
    /// stay those of the whole plan; only the participants of the shard's rooms run.
    pub shard: Option<Shard>,
}

/// One shard of a run: the rooms `r` with `r % of == index`, whole (members of a room stay
/// together, so presence and fan-out are measured with one clock).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
pub struct Shard {
    /// This shard, `0..of`.
    pub index: u32,
    /// Shards in the run.
    pub of: u32,
}

impl Shard {
    /// Whether room `room` belongs to this shard.
    pub fn holds_room(&self, room: u32) -> bool {
        room % self.of == self.index
    }
}

impl std::str::FromStr for Shard {
    type Err = String;

    /// `I/N`, e.g. `0/4`.
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("expected a shard as I/N with 0 <= I < N, e.g. 0/4; found `{s}`");
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let index: u32 = i.trim().parse().map_err(|_| bad())?;
        let of: u32 = n.trim().parse().map_err(|_| bad())?;
        if of == 0 || index >= of {
            return Err(bad());
        }
        Ok(Shard { index, of })
    }
}

/// The shared, read-only part of a group.
#[derive(Debug, Clone)]
pub struct GroupPlan {
    /// Group name.
    pub name: String,
    /// The steps every participant of the group runs.
    pub script: Arc<[Step]>,
    /// Token options.
    pub token: TokenSpec,
    /// `playerdata` at join.
    pub user_data: Arc<str>,
    /// User id pattern (re-rendered per iteration when it uses `{iteration}`).
    pub user: NamePattern,
    /// Script runs per participant: 1 for open models, `iterations` for the closed model.
    pub iterations: u32,
    /// Whether arrivals are an open model (latency from intended start times).
    pub open_model: bool,
    /// Exact outcome counts the scenario expects.
    pub expect_counts: Vec<(OutcomeKey, u64)>,
    /// Participants in the group (slots for the closed model).
    pub size: u32,
    /// What its participants publish at `publish` steps and subscribe to in the room; `None`:
    /// signaling only, no media session.
    pub media: Option<Arc<MediaSpec>>,
}

/// One participant of the plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedParticipant {
    /// Dense id, `0..participants.len()`, in arrival order.
    pub id: u32,
    /// Index into [`Plan::groups`].
    pub group: u16,
    /// Index into [`Plan::rooms`].
    pub room: u32,
    /// Index of this participant within its group.
    pub index: u32,
    /// Index of this participant among its group's members of the same room.
    pub n: u32,
    /// User id of the first iteration.
    pub user: Box<str>,
    /// Intended start, from the run's start.
    pub arrival: Duration,
}

impl Plan {
    /// Keeps shard `shard` of the plan: its rooms' participants run; client faults and kicks hit
    /// only the shard's own targets; server-wide faults (stall, restart, drop_connections,
    /// close_rooms, auth_latency) are fired by shard 0 alone, so the server sees each once.
    pub fn into_shard(mut self, shard: Shard) -> Plan {
        let room_of: Vec<u32> = self.participants.iter().map(|p| p.room).collect();
        self.faults.retain_mut(|f| {
            if f.kind.is_client_side() || f.kind == crate::scenario::FaultKind::Kick {
                f.participants
                    .retain(|&id| shard.holds_room(room_of[id as usize]));
                true
            } else {
                shard.index == 0
            }
        });
        self.shard = Some(shard);
        self
    }

    /// Whether `p` runs in this process (always, unless the plan is a shard).
    pub fn runs(&self, p: &PlannedParticipant) -> bool {
        self.shard.is_none_or(|s| s.holds_room(p.room))
    }

    /// The participants this process runs.
    pub fn active(&self) -> impl Iterator<Item = &PlannedParticipant> {
        self.participants.iter().filter(|p| self.runs(p))
    }

    /// Participant lifecycles the run schedules (closed-model iterations each count): the
    /// conservation total every outcome count must add up to.
    pub fn lifecycles(&self) -> u64 {
        self.active()
            .map(|p| u64::from(self.groups[p.group as usize].iterations))
            .sum()
    }

    /// The user id of `p` in `iteration` (0-based).
    pub fn user_id(&self, p: &PlannedParticipant, iteration: u32) -> String {
        let g = &self.groups[p.group as usize];
        if iteration == 0 || !g.user.uses("iteration") {
            return p.user.to_string();
        }
        g.user.render(&UserVars {
            group: &g.name,
            index: p.index,
            room: &self.rooms[p.room as usize],
            room_index: p.room,
            n: p.n,
            iteration,
        })
    }

    /// Arrivals per whole second of the run, from 0 to the last arrival.
    pub fn arrivals_per_second(&self) -> Vec<u32> {
        let last = self
            .active()
            .map(|p| p.arrival.as_secs() as usize)
            .max()
            .unwrap_or(0);
        let mut per = vec![0u32; last + 1];
        for p in self.active() {
            per[p.arrival.as_secs() as usize] += 1;
        }
        per
    }

    /// The most participants that can hold sockets at once, for the open-file budget: a sweep
    /// over each participant's arrival and the longest its script can take (every hold and wait
    /// at its upper bound, every join and leave at its timeout). Closed-model slots live for the
    /// whole run. An upper bound: the run never needs more.
    pub fn peak_participants(&self) -> usize {
        let mut edges: Vec<(Duration, i32)> = Vec::with_capacity(self.participants.len() * 2);
        for p in self.active() {
            let g = &self.groups[p.group as usize];
            let end = if g.open_model {
                p.arrival.saturating_add(longest_lifecycle(&g.script))
            } else {
                Duration::MAX
            };
            edges.push((p.arrival, 1));
            edges.push((end, -1));
        }
        // Ends sort before starts at the same instant: a participant that is gone frees its
        // sockets before the next one arrives.
        edges.sort_unstable();
        let (mut now, mut peak) = (0i64, 0i64);
        for (_, delta) in edges {
            now += i64::from(delta);
            peak = peak.max(now);
        }
        peak as usize
    }
}

/// A join (token exchange, socket, answer) that takes longer fails as a transport error.
pub const JOIN_TIMEOUT: Duration = Duration::from_secs(10);
/// A leave waits this long for the server's close before closing from our side.
pub const LEAVE_TIMEOUT: Duration = Duration::from_secs(2);

/// The longest one run of `script` can take.
pub fn longest_lifecycle(script: &[Step]) -> Duration {
    script
        .iter()
        .map(|step| match step {
            Step::Join { .. } => JOIN_TIMEOUT,
            Step::Hold { duration, .. } | Step::Wait { duration } => duration.upper_bound(),
            Step::Leave => LEAVE_TIMEOUT,
            // A negotiation with the server, bounded like the signaling request it resembles
            // (an upper bound: the media engine may move on sooner).
            Step::Publish { .. } => JOIN_TIMEOUT,
            Step::Unpublish => LEAVE_TIMEOUT,
        })
        .fold(Duration::ZERO, Duration::saturating_add)
}

/// Compiles a validated scenario into a plan. Pure: the same scenario gives the same plan.
pub fn compile(scenario: &Scenario) -> Plan {
    let rooms: Vec<String> = (0..scenario.rooms.count)
        .map(|i| scenario.rooms.name.render(&RoomVars(i)))
        .collect();
    let mut groups = Vec::with_capacity(scenario.groups.len());
    let mut participants = Vec::new();
    for (gi, group) in scenario.groups.iter().enumerate() {
        let mut rng = SeededRng::new(scenario.seed, gi as u64);
        let seats = seats(group, scenario.rooms.count, &mut rng);
        let size = seats.len() as u32;
        let times = arrival::offsets(&group.arrival, seats.len(), &mut rng);
        for (index, ((room, n), arrival)) in seats.into_iter().zip(times).enumerate() {
            let index = index as u32;
            let user = group.user.render(&UserVars {
                group: &group.name,
                index,
                room: &rooms[room as usize],
                room_index: room,
                n,
                iteration: 0,
            });
            participants.push(PlannedParticipant {
                id: 0,
                group: gi as u16,
                room,
                index,
                n,
                user: user.into_boxed_str(),
                arrival,
            });
        }
        groups.push(group_plan(group, size));
    }
    // Stable: equal arrival times keep group then seat order, so plans are deterministic.
    participants.sort_by_key(|p| p.arrival);
    for (id, p) in participants.iter_mut().enumerate() {
        p.id = id as u32;
    }
    let faults = faults::plan(scenario, &participants, rooms.len() as u32);
    Plan {
        seed: scenario.seed,
        rooms,
        groups,
        participants,
        reconnect: scenario.reconnect,
        faults,
        shard: None,
    }
}

fn group_plan(group: &Group, size: u32) -> GroupPlan {
    let (iterations, open_model) = match group.arrival {
        Arrival::Closed { iterations, .. } => (iterations, false),
        _ => (1, true),
    };
    GroupPlan {
        name: group.name.clone(),
        script: group.script.clone().into(),
        token: group.token,
        user_data: group.user_data.as_str().into(),
        user: group.user.clone(),
        iterations,
        open_model,
        expect_counts: group.expect_counts.clone(),
        size,
        media: group.media.clone().map(Arc::new),
    }
}

/// The (room, index-in-room) seats of a group, in arrival order.
fn seats(group: &Group, room_count: u32, rng: &mut SeededRng) -> Vec<(u32, u32)> {
    let mut seats: Vec<(u32, u32)> = match group.size {
        GroupSize::PerRoom(k) => (0..room_count)
            .flat_map(|r| (0..k).map(move |n| (r, n)))
            .collect(),
        GroupSize::Total(c) => (0..c).map(|j| (j % room_count, j / room_count)).collect(),
    };
    match group.order {
        Order::ByRoom => seats.sort_unstable(),
        Order::Interleaved => seats.sort_unstable_by_key(|&(r, n)| (n, r)),
        Order::Shuffled => rng.shuffle(&mut seats),
    }
    seats
}

struct RoomVars(u32);

impl PatternVars for RoomVars {
    fn lookup(&self, name: &str) -> Option<PatternValue<'_>> {
        (name == "index").then_some(PatternValue::Number(self.0.into()))
    }
}

struct UserVars<'a> {
    group: &'a str,
    index: u32,
    room: &'a str,
    room_index: u32,
    n: u32,
    iteration: u32,
}

impl PatternVars for UserVars<'_> {
    fn lookup(&self, name: &str) -> Option<PatternValue<'_>> {
        Some(match name {
            "group" => PatternValue::Text(self.group),
            "index" => PatternValue::Number(self.index.into()),
            "room" => PatternValue::Text(self.room),
            "room_index" => PatternValue::Number(self.room_index.into()),
            "n" => PatternValue::Number(self.n.into()),
            "iteration" => PatternValue::Number(self.iteration.into()),
            _ => return None,
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::scenario::{Dist, ROOM_VARS, Rooms, Target, TokenSpec, USER_VARS};

    /// A small scenario built in code: `rooms` rooms, one group of `per_room` per room.
    pub(crate) fn scenario(rooms: u32, per_room: u32, arrival: Arrival) -> Scenario {
        Scenario {
            name: "t".into(),
            description: String::new(),
            seed: 7,
            deadline: Duration::from_secs(60),
            leave_grace: Duration::from_secs(5),
            target: Target::Embedded(Default::default()),
            app: "app1".into(),
            credentials: None,
            reconnect: Default::default(),
            faults: Vec::new(),
            generator: Default::default(),
            rooms: Rooms {
                count: rooms,
                name: NamePattern::parse("room-{index:03}", ROOM_VARS).unwrap(),
            },
            groups: vec![Group {
                name: "m".into(),
                size: GroupSize::PerRoom(per_room),
                user: NamePattern::parse("{group}-{room_index}-{n}", USER_VARS).unwrap(),
                user_data: String::new(),
                arrival,
                order: Order::Shuffled,
                token: TokenSpec::default(),
                script: vec![
                    Step::Join { expect: vec![0] },
                    Step::Hold {
                        duration: Dist::Fixed(Duration::from_secs(1)),
                        expect: vec![],
                    },
                    Step::Leave,
                ],
                expect_counts: vec![],
                media: None,
            }],
            thresholds: vec![],
        }
    }

    #[test]
    fn compiles_rooms_users_and_sorted_arrivals() {
        let s = scenario(
            3,
            2,
            Arrival::Ramp {
                start: Duration::ZERO,
                over: Duration::from_secs(6),
            },
        );
        let plan = compile(&s);
        assert_eq!(plan.rooms, ["room-000", "room-001", "room-002"]);
        assert_eq!(plan.participants.len(), 6);
        assert_eq!(plan.lifecycles(), 6);
        assert!(
            plan.participants
                .windows(2)
                .all(|w| w[0].arrival <= w[1].arrival)
        );
        assert_eq!(
            plan.participants
                .iter()
                .map(|p| p.arrival.as_secs())
                .collect::<Vec<_>>(),
            [0, 1, 2, 3, 4, 5]
        );
        let mut users: Vec<&str> = plan.participants.iter().map(|p| &*p.user).collect();
        users.sort();
        assert_eq!(
            users,
            ["m-0-0", "m-0-1", "m-1-0", "m-1-1", "m-2-0", "m-2-1"]
        );
        for p in &plan.participants {
            assert_eq!(&*p.user, format!("m-{}-{}", p.room, p.n));
        }
        assert_eq!(plan.arrivals_per_second(), [1, 1, 1, 1, 1, 1]);
        assert_eq!(plan.groups[0].size, 6);
    }

    #[test]
    fn peak_participants_counts_overlapping_lifecycles_only() {
        // 6 arrivals 1 s apart, each living at most 10 s (join) + 1 s (hold) + 2 s (leave).
        let s = scenario(
            3,
            2,
            Arrival::Ramp {
                start: Duration::ZERO,
                over: Duration::from_secs(6),
            },
        );
        assert_eq!(compile(&s).peak_participants(), 6);
        // 40 arrivals 1 s apart: at most 13 alive at once (the 14th arrives as the 1st is gone).
        let s = scenario(
            20,
            2,
            Arrival::Ramp {
                start: Duration::ZERO,
                over: Duration::from_secs(40),
            },
        );
        assert_eq!(compile(&s).peak_participants(), 13);
        // Closed-model slots count for the whole run.
        let s = scenario(
            20,
            2,
            Arrival::Closed {
                start: Duration::ZERO,
                ramp: Duration::from_secs(40),
                iterations: 2,
            },
        );
        assert_eq!(compile(&s).peak_participants(), 40);
    }

    #[test]
    fn same_seed_same_plan_other_seed_other_order() {
        let s = scenario(
            50,
            4,
            Arrival::Ramp {
                start: Duration::ZERO,
                over: Duration::from_secs(10),
            },
        );
        let a = compile(&s);
        assert_eq!(a.participants, compile(&s).participants);
        let mut t = s.clone();
        t.seed = 8;
        let b = compile(&t);
        assert_ne!(a.participants, b.participants);
        assert_eq!(a.participants.len(), b.participants.len());
    }

    #[test]
    fn orders_and_totals_place_seats() {
        let mut s = scenario(2, 2, Arrival::Burst { at: Duration::ZERO });
        s.groups[0].order = Order::ByRoom;
        let rooms: Vec<u32> = compile(&s).participants.iter().map(|p| p.room).collect();
        assert_eq!(rooms, [0, 0, 1, 1]);
        s.groups[0].order = Order::Interleaved;
        let rooms: Vec<u32> = compile(&s).participants.iter().map(|p| p.room).collect();
        assert_eq!(rooms, [0, 1, 0, 1]);
        s.groups[0].size = GroupSize::Total(5);
        let seats: Vec<(u32, u32)> = compile(&s)
            .participants
            .iter()
            .map(|p| (p.room, p.n))
            .collect();
        assert_eq!(seats, [(0, 0), (1, 0), (0, 1), (1, 1), (0, 2)]);
    }

    #[test]
    fn closed_model_counts_iterations_and_renders_them() {
        let mut s = scenario(
            1,
            2,
            Arrival::Closed {
                start: Duration::ZERO,
                ramp: Duration::ZERO,
                iterations: 3,
            },
        );
        s.groups[0].user = NamePattern::parse("u{n}-i{iteration}", USER_VARS).unwrap();
        let plan = compile(&s);
        assert_eq!(plan.participants.len(), 2);
        assert_eq!(plan.lifecycles(), 6);
        assert!(!plan.groups[0].open_model);
        let p = plan.participants.iter().find(|p| p.n == 1).unwrap();
        assert_eq!(plan.user_id(p, 0), "u1-i0");
        assert_eq!(plan.user_id(p, 2), "u1-i2");
    }
}
