//! Unit tests of [`super::parse`]: the good path down to exact model values, many problems at
//! once, and no panic on mangled input.

use std::time::Duration;

use super::*;
use crate::scenario::media::*;
use crate::scenario::model::*;
use crate::token::Permission;

fn env(name: &str) -> Option<String> {
    match name {
        "TEST_AK" => Some("ak-1".into()),
        "TEST_SK" => Some("sk-2".into()),
        _ => None,
    }
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

const FULL: &str = include_str!("../../tests/fixtures/good/full.yaml");

#[test]
fn full_scenario_becomes_the_exact_model() {
    let s = parse(FULL, "full.yaml", &env).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.name, "full.example");
    assert_eq!(s.description, "every key, for the reference");
    assert_eq!(s.seed, 42);
    assert_eq!(s.deadline, secs(600));
    assert_eq!(s.leave_grace, secs(2));
    assert_eq!(
        s.target,
        Target::External {
            url: "http://127.0.0.1:7788".into(),
            driver: DriverKind::Qiniu,
            fault_api: true,
        }
    );
    assert_eq!(
        s.reconnect,
        ReconnectSettings {
            ping_timeout: secs(15),
            close_delay: Duration::from_millis(500),
            retry_delay: secs(2),
            request_timeout: secs(8),
            attempts: 10,
        }
    );
    assert_eq!(
        s.generator,
        crate::scenario::GeneratorLimits {
            max_lateness_p99: Duration::from_millis(20),
            max_loop_lag_p99: Duration::from_millis(40),
            max_cpu_percent: 90.0,
            fail: true,
        }
    );
    // File order is kept; the plan orders by time.
    assert_eq!(
        s.faults,
        vec![
            Fault {
                at: secs(60),
                kind: FaultKind::Stall { duration: secs(3) },
                scope: FaultScope {
                    share: 1.0,
                    group: None,
                    rooms: None
                },
            },
            Fault {
                at: secs(30),
                kind: FaultKind::Reset { offline: secs(2) },
                scope: FaultScope {
                    share: 0.25,
                    group: Some(1),
                    rooms: Some(0.5)
                },
            },
        ]
    );
    assert_eq!(s.app, "app1");
    assert_eq!(s.credentials, Some(KeyPair::new("ak-1", "s$-sk-2")));
    assert_eq!(s.rooms.count, 10);
    assert_eq!(s.rooms.name.source(), "room-{index:04}");
    let names: Vec<&str> = s.groups.iter().map(|g| g.name.as_str()).collect();
    assert_eq!(
        names,
        ["members", "bursty", "steady", "phased", "closed-loop"]
    );

    let m = &s.groups[0];
    assert_eq!(m.size, GroupSize::PerRoom(5));
    assert_eq!(m.user.source(), "m-{room}-{index}");
    assert_eq!(m.user_data, "hello");
    assert_eq!(m.order, Order::ByRoom);
    assert_eq!(
        m.arrival,
        Arrival::Ramp {
            start: secs(1),
            over: secs(20)
        }
    );
    assert_eq!(
        m.token,
        TokenSpec {
            kind: TokenKind::Valid,
            expires_in: secs(3600),
            permission: Permission::Admin
        }
    );
    assert_eq!(
        m.script,
        vec![
            Step::Join { expect: vec![0] },
            Step::Hold {
                duration: Dist::Normal {
                    mean: secs(30),
                    stddev: secs(5),
                    min: secs(10),
                    max: secs(50)
                },
                expect: vec![]
            },
            Step::Leave,
            Step::Wait {
                duration: Dist::Uniform {
                    min: secs(1),
                    max: secs(3)
                }
            },
            Step::Join {
                expect: vec![0, 10011]
            },
            Step::Hold {
                duration: Dist::Exponential {
                    mean: secs(20),
                    max: secs(120)
                },
                expect: vec![10022]
            },
            Step::Leave,
        ]
    );
    assert_eq!(
        m.expect_counts,
        vec![(OutcomeKey::Completed, 40), (OutcomeKey::Code(10011), 10)]
    );

    let b = &s.groups[1];
    assert_eq!(b.size, GroupSize::Total(7));
    assert_eq!(b.user.source(), "{group}-{index}");
    assert_eq!(b.user_data, "");
    assert_eq!(b.order, Order::Interleaved);
    assert_eq!(b.arrival, Arrival::Burst { at: secs(5) });
    assert_eq!(
        b.token,
        TokenSpec {
            kind: TokenKind::Expired,
            ..TokenSpec::default()
        }
    );
    assert_eq!(
        b.script,
        vec![
            Step::Join { expect: vec![0] },
            Step::Hold {
                duration: Dist::Fixed(secs(1)),
                expect: vec![]
            },
            Step::Leave
        ]
    );
    assert_eq!(b.expect_counts, vec![(OutcomeKey::Code(10002), 7)]);

    let c = &s.groups[2];
    assert_eq!(c.size, GroupSize::Total(20));
    assert_eq!(c.order, Order::Shuffled);
    assert_eq!(
        c.arrival,
        Arrival::Constant {
            start: Duration::ZERO,
            rate: 2.0,
            poisson: true
        }
    );
    assert_eq!(c.token, TokenSpec::default());
    assert!(c.expect_counts.is_empty());

    let p = &s.groups[3];
    assert_eq!(p.size, GroupSize::Total(10));
    assert_eq!(
        p.arrival,
        Arrival::Phases {
            start: secs(2),
            phases: vec![
                Phase {
                    duration: secs(10),
                    from_rate: 1.0,
                    to_rate: 1.0
                },
                Phase {
                    duration: secs(10),
                    from_rate: 0.5,
                    to_rate: 2.0
                },
            ]
        }
    );

    let l = &s.groups[4];
    assert_eq!(l.size, GroupSize::PerRoom(1));
    assert_eq!(
        l.arrival,
        Arrival::Closed {
            start: Duration::ZERO,
            ramp: secs(5),
            iterations: 3
        }
    );
    assert_eq!(l.token.kind, TokenKind::BadSignature);
    assert_eq!(
        l.script[1],
        Step::Hold {
            duration: Dist::Fixed(secs(2)),
            expect: vec![10006]
        }
    );
    assert_eq!(
        l.expect_counts,
        vec![
            (OutcomeKey::Kicked, 1),
            (OutcomeKey::Aborted, 2),
            (OutcomeKey::TransportError, 0)
        ]
    );
}

#[test]
fn every_fault_kind_becomes_the_exact_model() {
    let text = include_str!("../../tests/fixtures/good/faults-all.yaml");
    let s = parse(text, "faults-all.yaml", &env).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        s.reconnect,
        ReconnectSettings {
            ping_timeout: secs(5),
            close_delay: Duration::ZERO,
            retry_delay: Duration::from_millis(500),
            request_timeout: secs(2),
            attempts: 5,
        }
    );
    let ms = Duration::from_millis;
    let everyone = |share| FaultScope {
        share,
        group: None,
        rooms: None,
    };
    let f = |at, kind, scope| Fault {
        at: secs(at),
        kind,
        scope,
    };
    assert_eq!(
        s.faults,
        vec![
            f(20, FaultKind::Reset { offline: secs(3) }, everyone(0.3)),
            f(
                25,
                FaultKind::Reset {
                    offline: Duration::ZERO
                },
                everyone(0.1)
            ),
            f(
                30,
                FaultKind::Blackhole { duration: secs(12) },
                FaultScope {
                    share: 0.1,
                    group: Some(0),
                    rooms: Some(0.5)
                }
            ),
            f(
                35,
                FaultKind::DelayFrames {
                    by: ms(200),
                    duration: secs(10)
                },
                everyone(0.5)
            ),
            f(
                40,
                FaultKind::Kick,
                FaultScope {
                    share: 0.05,
                    group: Some(1),
                    rooms: None
                }
            ),
            f(45, FaultKind::DropConnections, everyone(0.2)),
            f(50, FaultKind::Stall { duration: secs(4) }, everyone(1.0)),
            f(
                55,
                FaultKind::AuthLatency {
                    by: ms(300),
                    duration: secs(20)
                },
                everyone(1.0)
            ),
            f(60, FaultKind::CloseRooms, everyone(0.2)),
            f(70, FaultKind::Restart { outage: secs(5) }, everyone(1.0)),
        ]
    );
}

#[test]
fn minimal_scenario_takes_every_default() {
    let text = include_str!("../../tests/fixtures/good/minimal.yaml");
    let s = parse(text, "minimal.yaml", &env).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.description, "");
    assert_eq!(s.seed, 1);
    assert_eq!(s.leave_grace, secs(5));
    assert_eq!(s.target, Target::Embedded(EmbeddedServer::default()));
    assert_eq!(s.app, "roomstorm");
    assert_eq!(s.credentials, None);
    assert_eq!(s.reconnect, ReconnectSettings::SDK);
    assert!(s.faults.is_empty());
    assert_eq!(s.rooms.name.source(), "room-{index}");
    assert_eq!(s.groups[0].arrival, Arrival::Burst { at: Duration::ZERO });
}

#[test]
fn many_problems_are_reported_at_once_in_position_order() {
    let text = "\
version: 1
name: many
deadline: 0s
rooms: { count: 0 }
groups:
  - name: g
    per_room: 2
    ordr: shuffled
    arrival: { ramp: { over: soon } }
    script: [join, hold: 5s]
";
    let err = parse(text, "many.yaml", &env).unwrap_err();
    let lines: Vec<String> = err.problems().iter().map(|p| p.to_string()).collect();
    assert_eq!(
        lines,
        [
            "many.yaml:3:11: deadline: must be greater than 0",
            "many.yaml:4:17: rooms.count: must be at least 1, found 0",
            "many.yaml:8:5: groups[0].ordr: unknown key `ordr`; did you mean `order`?",
            "many.yaml:9:30: groups[0].arrival.ramp.over: expected a duration such as 500ms, 20s or 1m30s, found `soon`",
            "many.yaml:10:20: groups[0].script[1]: script ends inside the room: add `leave`",
        ]
    );
    assert_eq!(err.to_string(), lines.join("\n"));
}

#[test]
fn weights_split_by_largest_remainder() {
    assert_eq!(largest_remainder(10, &[1, 1, 1]), [4, 3, 3]);
    assert_eq!(largest_remainder(1000, &[3, 1]), [750, 250]);
    assert_eq!(largest_remainder(5, &[1, 2, 2]), [1, 2, 2]);
    assert_eq!(largest_remainder(1, &[1, 1]), [1, 0]);
    assert_eq!(largest_remainder(7, &[]), Vec::<u64>::new());
}

#[test]
fn mangled_input_never_panics() {
    let minimal = include_str!("../../tests/fixtures/good/minimal.yaml");
    let mut inputs: Vec<String> = Vec::new();
    for text in [FULL, minimal] {
        let chars: Vec<char> = text.chars().collect();
        for cut in 0..chars.len() {
            inputs.push(chars[..cut].iter().collect());
            if cut % 4 != 0 {
                continue;
            }
            // Drop one character, and swap in characters YAML treats specially.
            let mut dropped = chars.clone();
            dropped.remove(cut);
            inputs.push(dropped.into_iter().collect());
            for c in ['{', ']', ':', '-', '"', '*', '\t', '0'] {
                let mut swapped = chars.clone();
                swapped[cut] = c;
                inputs.push(swapped.into_iter().collect());
            }
        }
    }
    inputs.extend(
        [
            "",
            "\0",
            "---\n---\n",
            "[",
            "{a: [",
            "*x",
            "!!binary x",
            "a: &a b\nc: *a\n",
            "- - - -",
            "version: 1e999999",
        ]
        .map(String::from),
    );
    for input in &inputs {
        let result = std::panic::catch_unwind(|| parse(input, "f.yaml", &env));
        assert!(result.is_ok(), "panicked on {input:?}");
    }
}

#[test]
fn a_janus_target_becomes_the_exact_model_and_its_secret_comes_from_the_environment() {
    let text = "\
version: 1
name: j
deadline: 1m
target: { url: 'ws://127.0.0.1:8188/', driver: janus, token_secret: '${TEST_SK}', keepalive: 10s }
rooms: { count: 2 }
groups:
  - name: g
    per_room: 2
    arrival: { burst: {} }
    token: { kind: expired }
    script: [join: { expect: [10002] }, hold: { for: 5s, expect: [21003] }, leave]
faults:
  - { at: 2s, kind: close_rooms, share: 50% }
  - { at: 3s, kind: kick, share: 10% }
  - { at: 4s, kind: reset, share: 10% }
";
    let s = parse(text, "j.yaml", &env).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        s.target,
        Target::Janus(JanusTarget {
            url: "ws://127.0.0.1:8188".into(),
            token_secret: Some(crate::credentials::SecretKey::new("sk-2")),
            keepalive: secs(10),
            publishers: None,
        })
    );
    assert_eq!(s.target.driver(), DriverKind::Janus);
    assert!(s.credentials.is_none(), "Janus needs no access key");
    let bare = text
        .replace(", token_secret: '${TEST_SK}', keepalive: 10s", "")
        .replace("    token: { kind: expired }\n", "")
        .replace("join: { expect: [10002] }", "join");
    let s = parse(&bare, "j.yaml", &env).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        s.target,
        Target::Janus(JanusTarget {
            url: "ws://127.0.0.1:8188".into(),
            token_secret: None,
            keepalive: JanusTarget::DEFAULT_KEEPALIVE,
            publishers: None,
        })
    );
}

#[test]
fn what_janus_cannot_produce_is_refused_where_it_is_written_naming_the_driver() {
    let text = "\
version: 1
name: j
deadline: 1m
target: { url: 'ws://127.0.0.1:8188', driver: janus, fault_api: true }
rooms: { count: 2 }
groups:
  - name: g
    per_room: 2
    arrival: { burst: {} }
    token: { kind: bad_signature }
    script: [join: { expect: [0, 10011] }, hold: { for: 5s, expect: [10022] }, leave]
    expect: { completed: 1, 10022: 1, 10001: 1 }
faults:
  - { at: 2s, kind: stall, for: 1s }
  - { at: 3s, kind: close_rooms, share: 50% }
";
    let err = parse(text, "j.yaml", &env).unwrap_err();
    let lines: Vec<String> = err.problems().iter().map(|p| p.to_string()).collect();
    let no_tokens = "this Janus target checks no tokens (no `target.token_secret`)";
    let no_10022 = "the `janus` driver cannot produce 10022: Janus has no equivalent of 10022: a second join with the same id is refused (436) and the member already in is never told; use the embedded server for duplicate-login scenarios";
    assert_eq!(
        lines,
        [
            "j.yaml:4:54: target.fault_api: `fault_api` is roomstorm's own extension; a Janus target takes server faults through Janus's API (`kick`, `close_rooms`) without it".to_string(),
            format!("j.yaml:10:20: groups[0].token.kind: {no_tokens}, so tokens of kind `bad_signature` would be accepted; set `token_secret` to Janus's `token_auth_secret`"),
            "j.yaml:11:34: groups[0].script[0].join.expect[1]: the `janus` driver cannot produce 10011: Janus limits only publishers with media (432), and this group publishes none, so its room never answers 10011; give the group `media.publish` and a `publish: {expect: [0, 10011]}` step, or use the embedded server for room-full scenarios".to_string(),
            format!("j.yaml:11:70: groups[0].script[1].hold.expect[0]: {no_10022}"),
            format!("j.yaml:12:29: groups[0].expect.10022: {no_10022}"),
            format!("j.yaml:12:39: groups[0].expect.10001: the `janus` driver cannot produce 10001: {no_tokens}, so every token is accepted; set `token_secret` to Janus's `token_auth_secret`"),
            "j.yaml:14:21: faults[0].kind: the `janus` driver cannot inject `stall`: Janus's API can only destroy rooms (`close_rooms`) and kick members (`kick`); client faults (reset, blackhole, delay_frames, media_loss, media_delay) work against any server".to_string(),
        ]
    );
    // Janus speaks WebSocket only, and the codes are still refused when the URL is wrong.
    let http = text.replace("ws://127.0.0.1:8188", "http://127.0.0.1:8188");
    let lines: Vec<String> = parse(&http, "j.yaml", &env)
        .unwrap_err()
        .problems()
        .iter()
        .map(|p| p.to_string())
        .collect();
    assert!(lines.contains(&"j.yaml:4:16: target.url: expected Janus's WebSocket URL such as ws://127.0.0.1:8188 (Janus listens on 127.0.0.1, not ::1), found `http://127.0.0.1:8188`".to_string()), "{lines:?}");
    assert!(
        lines.iter().any(|l| l.contains("cannot produce 10011")),
        "{lines:?}"
    );
    // Janus keys on a Qiniu target are refused too.
    let qiniu = "\
version: 1
name: q
deadline: 1m
target: { url: 'http://127.0.0.1:7788', keepalive: 5s }
credentials: { access_key: a, secret_key: b }
rooms: { count: 1 }
groups:
  - { name: g, per_room: 1, arrival: { burst: {} }, script: [join, leave] }
";
    let err = parse(qiniu, "q.yaml", &env).unwrap_err();
    assert_eq!(
        err.to_string(),
        "q.yaml:4:41: target.keepalive: `keepalive` applies to `driver: janus` only"
    );
}

#[test]
fn media_scenario_becomes_the_exact_model() {
    let text = include_str!("../../tests/fixtures/good/media.yaml");
    let s = parse(text, "media.yaml", &env).unwrap_or_else(|e| panic!("{e}"));
    let ms = Duration::from_millis;
    let audio = TrackSpec {
        kind: MediaKind::Audio,
        codec: Codec::Opus,
        bitrate_bps: 32_000,
        fps: 50,
        ptime: ms(20),
        keyframe_interval: None,
        payload: Payload::Synthetic,
    };
    let video = TrackSpec {
        kind: MediaKind::Video,
        codec: Codec::Vp8,
        bitrate_bps: 500_000,
        fps: 30,
        ptime: Duration::from_nanos(33_333_333),
        keyframe_interval: Some(secs(2)),
        payload: Payload::Synthetic,
    };
    let hosts = &s.groups[0];
    assert_eq!(
        hosts.media,
        Some(MediaSpec {
            publish: vec![audio, video],
            subscribe: Subscribe::All
        })
    );
    let hold = |s| Step::Hold {
        duration: Dist::Fixed(secs(s)),
        expect: vec![],
    };
    assert_eq!(
        hosts.script,
        [
            Step::Join { expect: vec![0] },
            Step::Publish { expect: vec![0] },
            hold(30),
            Step::Unpublish,
            hold(5),
            Step::Leave
        ]
    );
    let speakers = s.groups[1].media.as_ref().unwrap();
    assert_eq!(
        speakers.publish,
        [TrackSpec {
            kind: MediaKind::Audio,
            codec: Codec::Opus,
            bitrate_bps: 48_000,
            fps: 25,
            ptime: ms(40),
            keyframe_interval: None,
            payload: Payload::Synthetic,
        }]
    );
    assert_eq!(speakers.subscribe, Subscribe::Count(2));
    assert_eq!(
        s.groups[2].media,
        Some(MediaSpec {
            publish: vec![],
            subscribe: Subscribe::Groups(vec![0])
        })
    );
    let minimal = include_str!("../../tests/fixtures/good/minimal.yaml");
    let m = parse(minimal, "minimal.yaml", &env).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(m.groups[0].media, None);
}

/// A one-group scenario whose group has `media` (flow YAML) and `script`.
fn with_media(media: &str, script: &str) -> Result<Scenario, ScenarioErrors> {
    let text = format!(
        "version: 1\nname: m\ntarget: {{ url: ws://127.0.0.1:8188, driver: janus }}\ndeadline: 1m\nrooms: {{ count: 1 }}\ngroups:\n  - name: g\n    per_room: 2\n    arrival: {{ burst: {{}} }}\n    media: {media}\n    script: {script}\n"
    );
    parse(&text, "m.yaml", &env)
}

#[test]
fn bitrates_take_units_and_tracks_their_defaults() {
    let track = |t: &str| {
        let s = with_media(&format!("{{ publish: [{t}] }}"), "[join, publish, leave]")
            .unwrap_or_else(|e| panic!("{t}: {e}"));
        s.groups[0].media.clone().unwrap().publish[0].clone()
    };
    assert_eq!(
        track("{ kind: video, bitrate: 1.5Mbps }").bitrate_bps,
        1_500_000
    );
    assert_eq!(
        track("{ kind: video, bitrate: 10Mbps }").bitrate_bps,
        10_000_000
    );
    assert_eq!(
        track("{ kind: audio, bitrate: '32 kbps' }").bitrate_bps,
        32_000
    );
    assert_eq!(
        track("{ kind: audio, bitrate: 6000bps }").bitrate_bps,
        6_000
    );
    assert_eq!(
        track("{ kind: audio, bitrate: 510kbps }").bitrate_bps,
        510_000
    );
    let v = track("{ kind: video, bitrate: 1Mbps }");
    assert_eq!(
        (v.codec, v.fps, v.keyframe_interval),
        (Codec::Vp8, 30, Some(secs(2)))
    );
    let a = track("{ kind: audio, bitrate: 64kbps, ptime: 10ms }");
    assert_eq!(
        (a.codec, a.fps, a.ptime),
        (Codec::Opus, 100, Duration::from_millis(10))
    );
    let v = track("{ kind: video, bitrate: 300kbps, fps: 15, keyframe_interval: 500ms }");
    assert_eq!(
        (v.fps, v.keyframe_interval),
        (15, Some(Duration::from_millis(500)))
    );
    // An empty `media` subscribes to everyone and publishes nothing.
    let s = with_media("", "[join, leave]").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        s.groups[0].media,
        Some(MediaSpec {
            publish: vec![],
            subscribe: Subscribe::All
        })
    );
    let s = with_media("{ subscribe: none }", "[join, leave]").unwrap();
    assert_eq!(
        s.groups[0].media.as_ref().unwrap().subscribe,
        Subscribe::None
    );
}

#[test]
fn media_mistakes_are_reported_where_they_are_written() {
    let lines = |media: &str, script: &str| -> Vec<String> {
        match with_media(media, script) {
            Ok(_) => vec![],
            Err(e) => e.problems().iter().map(|p| p.to_string()).collect(),
        }
    };
    assert_eq!(
        lines(
            "{ publish: [{ kind: audio, bitrate: 5kbps }] }",
            "[join, publish, leave]"
        ),
        [
            "m.yaml:10:48: groups[0].media.publish[0].bitrate: an audio track's bitrate must be 6kbps to 510kbps, found 5kbps"
        ]
    );
    assert_eq!(
        lines(
            "{ publish: [{ kind: audio, bitrate: 32kbs }] }",
            "[join, publish, leave]"
        ),
        [
            "m.yaml:10:48: groups[0].media.publish[0].bitrate: unknown bitrate unit `kbs`; did you mean `kbps`?"
        ]
    );
    assert_eq!(
        lines("{ publish: [] }", "[join, publish, leave]"),
        [
            "m.yaml:10:23: groups[0].media.publish: needs at least one track; remove `publish` for a group that only subscribes"
        ]
    );
    assert_eq!(
        lines("{ subscribe: [all] }", "[join, leave]"),
        [
            "m.yaml:10:25: groups[0].media.subscribe: expected `all`, `none`, {count: N} or {groups: [name, …]}, found a list"
        ]
    );
    assert_eq!(
        lines("{ subscribe: { groups: [] } }", "[join, leave]"),
        [
            "m.yaml:10:35: groups[0].media.subscribe.groups: needs at least one group name; use `subscribe: none` to receive nothing"
        ]
    );
    // `media` that is not a mapping is one problem; the publish steps are not judged against it.
    assert_eq!(
        lines("audio", "[join, publish, leave]"),
        [
            "m.yaml:10:12: groups[0].media: expected a mapping with keys `publish` or `subscribe`, found `audio`"
        ]
    );
    // `publish` as a mapping step takes only `expect`; an unknown step suggests the media steps.
    assert_eq!(
        lines(
            "{ publish: [{ kind: audio, bitrate: 32kbps }] }",
            "[join, { publish: now }, leave]"
        ),
        [
            "m.yaml:11:31: groups[0].script[1].publish: expected a mapping with keys `expect`, found `now`"
        ]
    );
    assert_eq!(
        lines(
            "{ publish: [{ kind: audio, bitrate: 32kbps }] }",
            "[join, publsh, leave]"
        ),
        ["m.yaml:11:20: groups[0].script[1]: unknown step `publsh`; did you mean `publish`?"]
    );
}
