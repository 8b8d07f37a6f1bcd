//! The load a scenario's media puts on the server (an SFU) at its peak: tracks published,
//! subscriptions (each one a stream the SFU forwards), packets and bits per second in (publishers
//! → SFU) and out (SFU → subscribers), for the whole run, per room and per group.
//!
//! The peak is every room full, with all its members present and publishing at once: an upper
//! bound, reached by scripts that publish for the whole stay and whose members overlap. Computed
//! from the plan's room membership (so a shard counts its own rooms only), with integer counts
//! per group multiplied by each group's per-track rates, so the figures are exact and
//! reproducible. RTCP, retransmissions, keyframe bursts and simulcast are not counted.

use super::Plan;
use crate::scenario::{MediaSpec, Subscribe};

/// Load figures of a part of the run (the whole, a room or a group), at the peak.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct SfuLoad {
    /// Participants publishing at least one track.
    pub publishers: u64,
    /// Tracks published.
    pub tracks: u64,
    /// Subscriber-track pairs: each is one stream the SFU forwards.
    pub subscriptions: u64,
    /// RTP packets per second publishers send to the SFU.
    pub ingress_packets_per_second: f64,
    /// Bits per second on the wire from publishers to the SFU (payload and packet headers).
    pub ingress_bits_per_second: f64,
    /// RTP packets per second the SFU sends to subscribers.
    pub egress_packets_per_second: f64,
    /// Bits per second on the wire from the SFU to subscribers.
    pub egress_bits_per_second: f64,
}

impl SfuLoad {
    /// Streams the SFU forwards: one per subscription (no simulcast layers, no mixing).
    pub fn forwarded_streams(&self) -> u64 {
        self.subscriptions
    }

    /// Ingress in Mbit/s (10⁶ bits), the unit operators size links in.
    pub fn ingress_mbps(&self) -> f64 {
        self.ingress_bits_per_second / 1e6
    }

    /// Egress in Mbit/s (10⁶ bits).
    pub fn egress_mbps(&self) -> f64 {
        self.egress_bits_per_second / 1e6
    }

    fn add(&mut self, other: &SfuLoad) {
        self.publishers += other.publishers;
        self.tracks += other.tracks;
        self.subscriptions += other.subscriptions;
        self.ingress_packets_per_second += other.ingress_packets_per_second;
        self.ingress_bits_per_second += other.ingress_bits_per_second;
        self.egress_packets_per_second += other.egress_packets_per_second;
        self.egress_bits_per_second += other.egress_bits_per_second;
    }
}

/// The SFU load of a plan at its peak: every room full, every member present and publishing (an
/// upper bound for scripts that publish for the whole stay).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MediaLoad {
    /// The whole run (the shard's rooms, for a sharded plan).
    pub total: SfuLoad,
    /// By room index (zero for rooms without media, or outside the shard).
    pub rooms: Vec<SfuLoad>,
    /// By group index: `publishers`, `tracks` and ingress are what the group's members publish;
    /// `subscriptions` and egress what they receive.
    pub groups: Vec<SfuLoad>,
}

impl MediaLoad {
    /// The room with the most egress (the first of equals), and its figures: the room that
    /// bounds one SFU node when rooms are spread over several.
    pub fn busiest_room(&self) -> Option<(usize, &SfuLoad)> {
        self.rooms
            .iter()
            .enumerate()
            .filter(|(_, l)| l.tracks > 0 || l.subscriptions > 0)
            .fold(None, |best: Option<(usize, &SfuLoad)>, (i, l)| match best {
                Some((_, b)) if b.egress_bits_per_second >= l.egress_bits_per_second => best,
                _ => Some((i, l)),
            })
    }
}

/// What one publisher of a group sends.
#[derive(Debug, Clone, Copy, Default)]
struct Rates {
    tracks: u64,
    packets_per_second: f64,
    bits_per_second: f64,
}

impl Rates {
    fn of(media: Option<&MediaSpec>) -> Self {
        let mut r = Rates::default();
        for t in media.map_or(&[][..], |m| &m.publish) {
            r.tracks += 1;
            r.packets_per_second += t.packets_per_second();
            r.bits_per_second += t.wire_bits_per_second();
        }
        r
    }
}

/// Figures from integer counts per publishing group: `published[g]` publishers of group `g`,
/// `received[g]` subscriber-publisher pairs whose publisher is in group `g`.
fn figures(rates: &[Rates], published: &[u64], received: &[u64]) -> SfuLoad {
    let mut l = SfuLoad::default();
    for (g, r) in rates.iter().enumerate() {
        let (p, s) = (published[g], received[g]);
        if r.tracks > 0 {
            l.publishers += p;
        }
        l.tracks += p * r.tracks;
        l.ingress_packets_per_second += p as f64 * r.packets_per_second;
        l.ingress_bits_per_second += p as f64 * r.bits_per_second;
        l.subscriptions += s * r.tracks;
        l.egress_packets_per_second += s as f64 * r.packets_per_second;
        l.egress_bits_per_second += s as f64 * r.bits_per_second;
    }
    l
}

/// Computes the SFU load of `plan` at its peak. Pure; linear in the participants (times the
/// number of groups).
pub fn media_load(plan: &Plan) -> MediaLoad {
    let groups = plan.groups.len();
    let media: Vec<Option<&MediaSpec>> = plan.groups.iter().map(|g| g.media.as_deref()).collect();
    let rates: Vec<Rates> = media.iter().map(|m| Rates::of(*m)).collect();
    let mut load = MediaLoad {
        rooms: vec![SfuLoad::default(); plan.rooms.len()],
        groups: vec![SfuLoad::default(); groups],
        ..Default::default()
    };
    if media.iter().all(Option::is_none) {
        return load;
    }
    // Members by room, in arrival (plan) order within each room.
    let mut members: Vec<(u32, u32, usize)> = plan
        .active()
        .map(|p| (p.room, p.id, usize::from(p.group)))
        .collect();
    members.sort_unstable();
    // published[g] per group overall; received[s][g]: pairs of subscriber group s, publisher group g.
    let mut published_by_group = vec![0u64; groups];
    let mut received_by_group = vec![vec![0u64; groups]; groups];
    for room in members.chunk_by(|a, b| a.0 == b.0) {
        let publishes = |g: usize| rates[g].tracks > 0;
        let mut in_room = vec![0u64; groups];
        for &(_, _, g) in room {
            if publishes(g) {
                in_room[g] += 1;
            }
        }
        // The room's publishers in arrival order, for `subscribe: {count: N}`.
        let publishers: Vec<(u32, usize)> = room
            .iter()
            .filter(|m| publishes(m.2))
            .map(|m| (m.1, m.2))
            .collect();
        // Publishers per group among the room's first `cut` publishers, computed once per cut.
        let mut cuts: Vec<(usize, Vec<u64>)> = Vec::new();
        let mut received = vec![0u64; groups];
        let mut others = vec![0u64; groups];
        for &(_, id, g) in room {
            let Some(spec) = media[g] else { continue };
            others.fill(0);
            // Whether the counts below include the subscriber itself (it never receives its own
            // tracks, so it is taken out again).
            let counted_self = match &spec.subscribe {
                Subscribe::None => continue,
                Subscribe::All => {
                    others.copy_from_slice(&in_room);
                    publishes(g)
                }
                Subscribe::Groups(gs) => {
                    for &s in gs {
                        others[s] = in_room[s];
                    }
                    publishes(g) && gs.contains(&g)
                }
                Subscribe::Count(n) => {
                    // The first N publishers other than itself: one more when it is among them.
                    let n = *n as usize;
                    let mine = publishers
                        .binary_search_by_key(&id, |p| p.0)
                        .is_ok_and(|at| at < n);
                    let cut = if mine { n.saturating_add(1) } else { n }.min(publishers.len());
                    if !cuts.iter().any(|(c, _)| *c == cut) {
                        let mut counts = vec![0u64; groups];
                        for p in &publishers[..cut] {
                            counts[p.1] += 1;
                        }
                        cuts.push((cut, counts));
                    }
                    if let Some((_, counts)) = cuts.iter().find(|(c, _)| *c == cut) {
                        others.copy_from_slice(counts);
                    }
                    mine
                }
            };
            if counted_self {
                others[g] -= 1;
            }
            for (k, n) in others.iter().enumerate() {
                received[k] += n;
                received_by_group[g][k] += n;
            }
        }
        let room_load = figures(&rates, &in_room, &received);
        for (g, n) in in_room.iter().enumerate() {
            published_by_group[g] += n;
        }
        load.total.add(&room_load);
        load.rooms[room[0].0 as usize] = room_load;
    }
    for g in 0..groups {
        let mut only = vec![0u64; groups];
        only[g] = published_by_group[g];
        let publishing = figures(&rates, &only, &vec![0; groups]);
        let receiving = figures(&rates, &vec![0; groups], &received_by_group[g]);
        load.groups[g] = SfuLoad {
            subscriptions: receiving.subscriptions,
            egress_packets_per_second: receiving.egress_packets_per_second,
            egress_bits_per_second: receiving.egress_bits_per_second,
            ..publishing
        };
    }
    load
}

#[cfg(test)]
#[path = "media_tests.rs"]
mod tests;
