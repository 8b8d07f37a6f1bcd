//! Media against a real Janus (VideoRoom), in a network namespace the test makes
//! (`scripts/janus netns`: Janus skips loopback interfaces for ICE): publishers' tracks reach
//! every subscriber, measured by roomstorm and cross-checked with Janus's own publisher list.

mod common;

use common::janus::media_run;
use serde_json::Value;

/// The run's merged histogram of `metric` (HdrHistogram V2, base64, as `summary.json` has it).
fn histogram(s: &Value, metric: &str) -> hdrhistogram::Histogram<u64> {
    use base64::Engine as _;
    use hdrhistogram::serialization::Deserializer;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(s["histograms"][metric].as_str().unwrap())
        .unwrap();
    Deserializer::new()
        .deserialize(&mut std::io::Cursor::new(bytes))
        .unwrap()
}

/// The run's summary, after checking that it exited 0 with a passing verdict.
fn passed(run: &common::janus::MediaRun) -> &Value {
    assert_eq!(run.code, 0, "{}", run.output);
    assert_eq!(run.summary["verdict"], "pass", "{}", run.output);
    &run.summary
}

fn count(s: &Value, metric: &str) -> u64 {
    s["latency"][metric]["count"].as_u64().unwrap_or(0)
}

#[test]
fn every_subscriber_receives_every_track_of_the_others_and_janus_lists_every_publisher() {
    // 4 rooms × (3 publishers sending audio + video and receiving the 2 others, 2 viewers
    // receiving all 3).
    let Some(run) = media_run("janus-media-room", "scenarios/janus-media-room.yaml", &[]) else {
        return;
    };
    let s = passed(&run);
    let m = &s["media"];
    assert_eq!(m["publishes"], 12, "{m}");
    assert_eq!(m["tracks_published"], 24, "{m}");
    assert_eq!(m["tracks_received"], 12 * 2 * 2 + 8 * 3 * 2, "{m}");
    assert_eq!(m["missing"], 0, "{m}");
    assert_eq!(m["stalled"], 0, "{m}");
    assert_eq!(m["subscribe_failures"], 0, "{m}");
    assert_eq!(m["connection_failures"], 0, "{m}");
    // A clean path: nothing lost, nothing frozen.
    assert_eq!(m["packets_lost"], 0, "{m}");
    assert_eq!(m["freezes"], 0, "{m}");
    assert!(m["bytes_received"].as_u64().unwrap() > 0, "{m}");
    // Janus asks for a keyframe when a subscriber starts, and the publisher answers.
    assert!(m["keyframe_requests"].as_u64().unwrap() >= 1, "{m}");
    // One sample per publish; per connection (12 publishers, 24 + 24 subscriptions); per
    // received track, and per received video track.
    assert_eq!(count(s, "publish"), 12);
    assert_eq!(count(s, "ice_connected"), 60);
    assert_eq!(count(s, "dtls_connected"), 60);
    assert_eq!(count(s, "first_media"), 96);
    assert_eq!(count(s, "first_keyframe"), 48);
    // Every frame received carries the sender's stamp: one latency sample per frame.
    let frames = count(s, "media_latency");
    assert!(frames > 0);
    // Janus's own view: all 12 publishers had media up at once, by their user ids.
    assert_eq!(run.peak_publishers(), 12, "{:?}", run.publishers);
    let (_, at_peak) = run.publishers.iter().find(|(_, p)| p.len() == 12).unwrap();
    for room in 0..4 {
        for n in 0..3 {
            let user = format!("p-{room}-{n}");
            assert!(at_peak.contains(&user), "{user} not among {at_peak:?}");
        }
    }
}

#[test]
fn a_publisher_beyond_the_room_s_limit_gets_10011_and_janus_never_lists_it() {
    let Some(run) = media_run(
        "janus-media-full",
        "scenarios/janus-media-full-10011.yaml",
        &[],
    ) else {
        return;
    };
    let s = passed(&run);
    assert_eq!(
        s["outcomes"]["by_group"]["speaker"]["completed"]["expected"],
        8
    );
    assert_eq!(
        s["outcomes"]["by_group"]["latecomer"]["10011"]["expected"],
        4
    );
    assert_eq!(s["outcomes"]["unexpected"], 0);
    let m = &s["media"];
    // Only the speakers' publishes were accepted; each speaker received the other's 2 tracks.
    assert_eq!(m["publishes"], 8, "{m}");
    assert_eq!(m["tracks_published"], 16, "{m}");
    assert_eq!(m["missing"], 0, "{m}");
    assert_eq!(
        count(s, "publish"),
        8 + 4,
        "every publish answer is timed, refusals too"
    );
    // Janus never had more than 2 publishers in a room: 8 over the 4 rooms, never a latecomer.
    assert_eq!(run.peak_publishers(), 8, "{:?}", run.publishers);
    assert!(
        run.publishers
            .iter()
            .all(|(_, p)| p.iter().all(|u| u.starts_with("s-"))),
        "{:?}",
        run.publishers
    );
}

/// The median over the collection intervals ending in `from..=to` s of `pick(row)`.
fn median_over(s: &Value, from: f64, to: f64, pick: impl Fn(&Value) -> Option<f64>) -> f64 {
    let mut v: Vec<f64> = s["series"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| (from..=to).contains(&r["t"].as_f64().unwrap()))
        .filter_map(pick)
        .collect();
    assert!(v.len() >= 3, "too few intervals in {from}..{to}: {v:?}");
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Loss over the intervals ending in `from..=to` s: lost / (received + lost).
fn loss_over(s: &Value, from: f64, to: f64) -> f64 {
    let (mut lost, mut received) = (0.0, 0.0);
    for r in s["series"].as_array().unwrap() {
        if (from..=to).contains(&r["t"].as_f64().unwrap()) {
            lost += r["media"]["packets_lost"].as_f64().unwrap_or(0.0);
            received += r["media"]["packets_received"].as_f64().unwrap_or(0.0);
        }
    }
    lost / (received + lost)
}

#[test]
fn an_injected_delay_and_loss_show_as_themselves_in_the_figures() {
    let Some(run) = media_run("media-faulted", "tests/fixtures/media/faulted.yaml", &[]) else {
        return;
    };
    let s = passed(&run);
    assert_eq!(s["media"]["tracks_received"], 8);
    // The faults fire at 4 s: the intervals ending at 2 to 4 s are the same run's clean
    // reference (same machine, same load), those ending at 6 to 11 s are faulted throughout.
    let p50 = |from, to| {
        median_over(s, from, to, |r| {
            r["latency"]["media_latency"]["p50"].as_f64()
        })
    };
    let added_ms = (p50(5.5, 11.5) - p50(1.5, 4.5)) / 1000.0;
    assert!(
        (added_ms - 30.0).abs() <= 1.0,
        "a 30 ms media_delay added {added_ms:.2} ms to media_latency p50"
    );
    assert_eq!(loss_over(s, 1.5, 3.5), 0.0, "no loss before the fault");
    let loss = loss_over(s, 5.5, 11.5);
    eprintln!(
        "media_delay 30 ms: media_latency p50 +{added_ms:.2} ms; media_loss 5 %: {:.2} % lost",
        loss * 100.0
    );
    assert!(
        (loss - 0.05).abs() <= 0.01,
        "a 5 % media_loss showed as {:.2} % loss",
        loss * 100.0
    );
    // Every fault reached every publisher.
    for f in s["faults"].as_array().unwrap() {
        assert_eq!(f["hits"]["applied"], 4, "{f}");
    }
}

#[test]
fn a_publisher_s_network_reset_is_one_gap_per_track_and_everything_comes_back() {
    let Some(run) = common::janus::media_run_with(
        "janus-media-reconnect",
        &["-m", "20"],
        "scenarios/janus-media-reconnect.yaml",
        &[],
    ) else {
        return;
    };
    let s = passed(&run);
    assert_eq!(s["recovery"]["reconnected"], 3);
    let m = &s["media"];
    assert_eq!(m["missing"], 0, "{m}");
    assert_eq!(m["tracks_received"], 36, "{m}");
    // 3 reset members: 2 subscribers × 2 tracks see their gap, and they see one on each of the
    // 4 tracks they receive: 8 per room, each the 2 s outage give or take a frame and the
    // loop's lag. (A loaded machine may add short freezes of its own, never one of seconds.)
    let gaps = histogram(s, "media_gap");
    let outages = gaps.count_between(1_000_000, 10_000_000);
    assert_eq!(outages, 24, "{}", run.output);
    assert_eq!(
        gaps.count_between(1_900_000, 2_300_000),
        24,
        "{}",
        run.output
    );
    assert!(m["freezes"].as_u64().unwrap() >= 24, "{m}");
    // Janus kept all 9 publishers through it: after the claims (about 11 s into the run) and
    // before anyone leaves (20 s), it lists every one of them.
    let after: Vec<usize> = run
        .publishers
        .iter()
        .filter(|(t, _)| (14.0..18.0).contains(t))
        .map(|(_, p)| p.len())
        .collect();
    assert!(
        !after.is_empty() && after.iter().all(|n| *n == 9),
        "{after:?}"
    );
}

#[test]
fn real_vp8_and_opus_samples_flow_through_janus_with_their_stamps() {
    let Some(run) = media_run("media-sample", "tests/fixtures/media/sample.yaml", &[]) else {
        return;
    };
    let s = passed(&run);
    let m = &s["media"];
    assert_eq!(m["tracks_received"], 4, "{m}");
    assert_eq!(m["missing"], 0, "{m}");
    assert_eq!(m["packets_lost"], 0, "{m}");
    // Each subscriber starts at a keyframe the publisher sent on Janus's request.
    assert_eq!(count(s, "first_keyframe"), 2);
    // Every received frame's trailer was found: one latency sample per frame, audio and
    // video, within a few frames of what was sent (the first ones go before the subscriptions).
    let frames_sent = m["frames_sent"].as_u64().unwrap();
    let samples = count(s, "media_latency");
    assert!(
        samples * 100 >= frames_sent * 95 && samples <= frames_sent,
        "{samples} latency samples for {frames_sent} frames sent"
    );
}
