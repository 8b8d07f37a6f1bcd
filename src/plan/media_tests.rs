//! Unit tests of [`super::media_load`]: exact figures for each kind of subscription.

use std::time::Duration;

use super::*;
use crate::plan::tests::scenario;
use crate::plan::{Shard, compile};
use crate::scenario::{Arrival, Group, GroupSize, Scenario, TrackSpec};

fn audio() -> TrackSpec {
    // 80-byte frames every 20 ms: 50 packets/s, (80 + 50) × 8 × 50 = 52 000 bit/s on the wire.
    TrackSpec::audio(32_000, Duration::from_millis(20))
}

fn video() -> TrackSpec {
    // 2083-byte frames at 30 fps in 2 packets: 60 packets/s, (2083 + 100) × 8 × 30 = 523 920 bit/s.
    TrackSpec::video(500_000, 30, Duration::from_secs(2))
}

fn media(publish: Vec<TrackSpec>, subscribe: Subscribe) -> Option<MediaSpec> {
    Some(MediaSpec { publish, subscribe })
}

/// `rooms` rooms with one group `pub` of `per_room` per room (burst at 0).
fn base(rooms: u32, per_room: u32, m: Option<MediaSpec>) -> Scenario {
    let mut s = scenario(rooms, per_room, Arrival::Burst { at: Duration::ZERO });
    s.groups[0].name = "pub".into();
    s.groups[0].media = m;
    s
}

fn add_group(s: &mut Scenario, name: &str, per_room: u32, at: u64, m: Option<MediaSpec>) {
    let g = Group {
        name: name.into(),
        size: GroupSize::PerRoom(per_room),
        arrival: Arrival::Burst {
            at: Duration::from_secs(at),
        },
        media: m,
        ..s.groups[0].clone()
    };
    s.groups.push(g);
}

fn load(s: &Scenario) -> MediaLoad {
    media_load(&compile(s))
}

#[test]
fn everyone_publishing_audio_and_video_to_all() {
    let s = base(2, 3, media(vec![audio(), video()], Subscribe::All));
    let l = load(&s);
    let want = SfuLoad {
        publishers: 6,
        tracks: 12,
        // Each of 6 publishers receives the 2 tracks of 2 others.
        subscriptions: 24,
        ingress_packets_per_second: 6.0 * 110.0,
        ingress_bits_per_second: 6.0 * 575_920.0,
        egress_packets_per_second: 12.0 * 110.0,
        egress_bits_per_second: 12.0 * 575_920.0,
    };
    assert_eq!(l.total, want);
    assert_eq!(l.total.forwarded_streams(), 24);
    assert_eq!(l.total.ingress_packets_per_second, 660.0);
    assert_eq!(l.total.ingress_mbps(), 3.45552);
    assert_eq!(l.total.egress_packets_per_second, 1320.0);
    assert_eq!(l.total.egress_mbps(), 6.91104);
    assert_eq!(l.groups, [want]);
    let room = SfuLoad {
        publishers: 3,
        tracks: 6,
        subscriptions: 12,
        ingress_packets_per_second: 330.0,
        ingress_bits_per_second: 3.0 * 575_920.0,
        egress_packets_per_second: 660.0,
        egress_bits_per_second: 6.0 * 575_920.0,
    };
    assert_eq!(l.rooms, [room, room]);
    assert_eq!(l.busiest_room(), Some((0, &room)));
}

#[test]
fn viewers_of_named_groups_receive_only_those_groups() {
    // 3 rooms: 1 host (audio + video, watches nobody), 4 viewers watching hosts, 2 guests with
    // audio watching guests only.
    let mut s = base(3, 1, media(vec![audio(), video()], Subscribe::None));
    s.groups[0].name = "host".into();
    add_group(
        &mut s,
        "viewer",
        4,
        1,
        media(vec![], Subscribe::Groups(vec![0])),
    );
    add_group(
        &mut s,
        "guest",
        2,
        2,
        media(vec![audio()], Subscribe::Groups(vec![2])),
    );
    let l = load(&s);
    assert_eq!(l.total.publishers, 3 + 6);
    assert_eq!(l.total.tracks, 3 * 2 + 6);
    // Viewers: 12 × 2 host tracks; guests: 6 × the other guest's audio.
    assert_eq!(l.total.subscriptions, 24 + 6);
    assert_eq!(l.total.ingress_packets_per_second, 3.0 * 110.0 + 6.0 * 50.0);
    assert_eq!(l.total.egress_packets_per_second, 12.0 * 110.0 + 6.0 * 50.0);
    assert_eq!(
        l.total.egress_bits_per_second,
        12.0 * 575_920.0 + 6.0 * 52_000.0
    );
    let [host, viewer, guest] = &l.groups[..] else {
        panic!("{:?}", l.groups)
    };
    assert_eq!(
        (host.publishers, host.tracks, host.subscriptions),
        (3, 6, 0)
    );
    assert_eq!(host.ingress_packets_per_second, 330.0);
    assert_eq!(host.egress_packets_per_second, 0.0);
    assert_eq!(
        (viewer.publishers, viewer.tracks, viewer.subscriptions),
        (0, 0, 24)
    );
    assert_eq!(viewer.ingress_bits_per_second, 0.0);
    assert_eq!(viewer.egress_packets_per_second, 1320.0);
    assert_eq!(
        (guest.publishers, guest.tracks, guest.subscriptions),
        (6, 6, 6)
    );
    assert_eq!(l.rooms[1].subscriptions, 10);
}

#[test]
fn count_takes_the_first_publishers_by_arrival_never_itself() {
    // 1 room: 2 early video publishers (at 0 s), 3 late audio publishers (at 10 s), both
    // subscribing to the first publisher other than themselves; 4 viewers taking 1 and 10.
    let mut s = base(1, 2, media(vec![video()], Subscribe::Count(1)));
    add_group(
        &mut s,
        "late",
        3,
        10,
        media(vec![audio()], Subscribe::Count(1)),
    );
    add_group(&mut s, "one", 4, 20, media(vec![], Subscribe::Count(1)));
    add_group(&mut s, "ten", 1, 20, media(vec![], Subscribe::Count(10)));
    let l = load(&s);
    let [early, late, one, ten] = &l.groups[..] else {
        panic!("{:?}", l.groups)
    };
    // The first early publisher gets the second's video, every other participant the first's.
    assert_eq!(early.subscriptions, 2);
    assert_eq!(early.egress_packets_per_second, 2.0 * 60.0);
    assert_eq!(late.subscriptions, 3);
    assert_eq!(late.egress_packets_per_second, 3.0 * 60.0);
    assert_eq!(one.subscriptions, 4);
    assert_eq!(one.egress_bits_per_second, 4.0 * 523_920.0);
    // 10 asked, 5 publish: all of them.
    assert_eq!(ten.subscriptions, 5);
    assert_eq!(ten.egress_packets_per_second, 2.0 * 60.0 + 3.0 * 50.0);
    assert_eq!(l.total.tracks, 5);
    assert_eq!(l.total.subscriptions, 2 + 3 + 4 + 5);
}

#[test]
fn count_among_equals_excludes_only_the_subscriber() {
    // 1 room of 5 audio publishers each taking 2: 10 subscriptions; taking 10: 5 × 4.
    let s = base(1, 5, media(vec![audio()], Subscribe::Count(2)));
    assert_eq!(load(&s).total.subscriptions, 10);
    let s = base(1, 5, media(vec![audio()], Subscribe::Count(10)));
    assert_eq!(load(&s).total.subscriptions, 20);
    assert_eq!(load(&s).total.egress_packets_per_second, 20.0 * 50.0);
}

#[test]
fn none_and_no_media_forward_nothing() {
    let s = base(2, 3, media(vec![audio(), video()], Subscribe::None));
    let l = load(&s);
    assert_eq!((l.total.tracks, l.total.subscriptions), (12, 0));
    assert_eq!(l.total.ingress_packets_per_second, 660.0);
    assert_eq!(l.total.egress_bits_per_second, 0.0);
    // A group without media neither publishes nor subscribes, whatever the others do.
    let mut s = base(2, 3, None);
    add_group(&mut s, "media", 1, 0, media(vec![audio()], Subscribe::All));
    let l = load(&s);
    assert_eq!((l.total.tracks, l.total.subscriptions), (2, 0));
    let l = load(&base(2, 3, None));
    assert_eq!(l.total, SfuLoad::default());
    assert_eq!(l.rooms, [SfuLoad::default(); 2]);
    assert_eq!(l.busiest_room(), None);
}

#[test]
fn totals_per_room_and_shards() {
    // 4 rooms of 3 (total 10 over 4 rooms: 3, 3, 2, 2) publishing audio to all.
    let mut s = base(4, 1, media(vec![audio()], Subscribe::All));
    s.groups[0].size = GroupSize::Total(10);
    let l = load(&s);
    let subs: Vec<u64> = l.rooms.iter().map(|r| r.subscriptions).collect();
    assert_eq!(subs, [6, 6, 2, 2]);
    assert_eq!(l.total.subscriptions, 16);
    assert_eq!(l.busiest_room().map(|(i, _)| i), Some(0));
    // Shard 1 of 2 runs rooms 1 and 3.
    let l = media_load(&compile(&s).into_shard(Shard { index: 1, of: 2 }));
    assert_eq!(l.total.subscriptions, 8);
    assert_eq!(l.total.tracks, 5);
    assert_eq!(l.rooms[0], SfuLoad::default());
}
