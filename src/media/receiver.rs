//! A subscribed track's receive loop: every RTP packet updates the track's statistics
//! ([`super::stats::TrackStats`]) and, where it starts a frame, gives one one-way latency sample
//! from the sender's stamp ([`super::frame`]) on the run's clock.
//!
//! The loop runs on the participant's worker thread and records into that thread's recorder;
//! counters go in small batches, never a message per packet. The participant keeps a handle on
//! the track's state ([`Received`]) so that when the subscription ends (unsubscribe, leave, the
//! run's end) it can tell whether media ever arrived: the media presence check.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};

use super::faults::MediaFaults;
use super::frame::{self, FrameHeader};
use super::sample;
use super::stats::{LossGate, TrackStats};
use crate::metrics::Metric;
use crate::metrics::recorder;
use crate::participant::RunContext;
use crate::scenario::MediaKind;

/// A subscribed track that ends without a byte this long (µs) after it was announced is
/// missing; one that ends sooner was cut short (its subscriber or publisher left first).
pub const GRACE_US: u64 = 2_000_000;

/// The track's jitter is sampled every this many packets.
const JITTER_EVERY: u32 = 32;

/// What one subscribed track has received so far.
pub struct Received {
    /// Audio or video.
    pub kind: MediaKind,
    /// When the track was announced to this subscriber (µs on the run's clock).
    pub announced_us: u64,
    /// Sequence, loss, jitter and freeze accounting.
    pub stats: TrackStats,
    /// The receive loop started (the connection delivered the track).
    pub started: bool,
    /// Packets since the last jitter sample.
    unflushed: u32,
    /// Counted in the run's totals already (at the end of the subscription).
    pub finished: bool,
}

/// The participant's handle on a received track (same thread as the receive loop).
pub type Shared = Rc<RefCell<Received>>;

/// A received track's state for a track of `kind` announced at `announced_us`, whose frames
/// come every `frame_interval_us`.
pub fn shared(kind: MediaKind, announced_us: u64, frame_interval_us: u64) -> Shared {
    Rc::new(RefCell::new(Received {
        kind,
        announced_us,
        stats: match kind {
            // Real Opus marks only a talkspurt's start: every audio packet is a frame.
            MediaKind::Audio => TrackStats::new_audio(frame_interval_us),
            MediaKind::Video => TrackStats::new(frame_interval_us),
        },
        started: false,
        unflushed: 0,
        finished: false,
    }))
}

/// Receives `track` into `state` until it ends or the future is dropped. A scripted
/// `media_loss` drops its share of packets here, after the WebRTC stack has seen them (so no
/// retransmission recovers them): they count as lost. `seed` makes the drops reproducible.
pub async fn receive(
    track: Arc<dyn TrackRemote>,
    state: Shared,
    run: Arc<RunContext>,
    faults: MediaFaults,
    seed: u64,
) {
    let video = state.borrow().kind == MediaKind::Video;
    let clock_rate = if video { 90_000 } else { 48_000 };
    state.borrow_mut().started = true;
    let mut gate: Option<(f64, LossGate)> = None;
    while let Some(event) = track.poll().await {
        let packet = match event {
            TrackRemoteEvent::OnRtpPacket(p) => p,
            TrackRemoteEvent::OnEnded | TrackRemoteEvent::OnError => break,
            _ => continue,
        };
        let now = run.now_us();
        if faults.offline(now) {
            continue;
        }
        let loss = faults.loss(now);
        if loss > 0.0 {
            if gate.as_ref().is_none_or(|(share, _)| *share != loss) {
                gate = Some((loss, LossGate::new(seed, loss)));
            }
            if gate.as_mut().is_some_and(|(_, g)| g.should_drop()) {
                continue;
            }
        }
        let mut s = state.borrow_mut();
        let first = s.stats.packets() == 0;
        let (freezes, frozen_us) = (s.stats.freezes(), s.stats.freeze_total_us());
        let payload = &packet.payload[..];
        s.stats.on_packet(
            packet.header.sequence_number,
            packet.header.timestamp,
            clock_rate,
            now,
            payload.len(),
            packet.header.marker,
        );
        let announced = s.announced_us;
        // A gap past the freeze rule just ended: how long the track was silent.
        let gap = (s.stats.freezes() > freezes).then(|| s.stats.freeze_total_us() - frozen_us);
        // The header is on the first packet of each synthetic frame (after VP8's descriptor and
        // tag), or the last of a sample's frame (a trailer a decoder ignores).
        let stamped = if video {
            // Behind the descriptor (which a server may extend) and the rest of our prefix.
            frame::vp8_descriptor_len(payload)
                .filter(|_| payload[0] & 0x10 != 0)
                .and_then(|d| payload.get(d + frame::VP8_PREFIX_LEN - 1..))
                .and_then(FrameHeader::read)
                // A sample frame (`payload: sample`) ends with it, in its last packet.
                .or_else(|| {
                    packet
                        .header
                        .marker
                        .then(|| FrameHeader::read_trailer(payload))
                        .flatten()
                })
        } else {
            // A sample's Opus packet carries it at the end of its Opus padding.
            FrameHeader::read(payload).or_else(|| sample::opus_trailer(payload))
        };
        let keyframe = video && frame::vp8_is_keyframe(payload);
        let first_keyframe = keyframe && s.stats.first_keyframe_us().is_none();
        if first_keyframe {
            s.stats.on_keyframe(now);
        }
        // Counters go to the recorder with every packet (a thread-local add), so per-second
        // series are exact; jitter is sampled.
        s.unflushed += 1;
        let jitter = (s.unflushed >= JITTER_EVERY).then(|| {
            s.unflushed = 0;
            s.stats.jitter_us()
        });
        let d = s.stats.snapshot_delta();
        drop(s);
        recorder::record(|r| {
            if first {
                r.latency(Metric::FirstMedia, now.saturating_sub(announced));
            }
            if first_keyframe {
                r.latency(Metric::FirstKeyframe, now.saturating_sub(announced));
            }
            if let Some(gap) = gap {
                r.latency(Metric::MediaGap, gap);
            }
            if let Some(h) = stamped {
                r.latency(Metric::MediaLatency, now.saturating_sub(h.send_us));
            }
            if let Some(jitter) = jitter {
                r.latency(Metric::MediaJitter, jitter as u64);
            }
            r.media.packets_received += d.packets;
            r.media.bytes_received += d.bytes;
            r.media.packets_lost += d.lost;
            r.media.freezes += d.freezes;
        });
    }
    tracing::debug!(
        video,
        packets = state.borrow().stats.packets(),
        "receive loop ended"
    );
    flush(&state);
}

/// Sends what `state` has not yet reported to the recorder.
fn flush(state: &Shared) {
    let mut s = state.borrow_mut();
    s.unflushed = 0;
    let d = s.stats.snapshot_delta();
    drop(s);
    recorder::record(|r| {
        r.media.packets_received += d.packets;
        r.media.bytes_received += d.bytes;
        r.media.packets_lost += d.lost;
        r.media.freezes += d.freezes;
    });
}

/// Ends a subscription's accounting once, at `now`: the rest of its counters, one received
/// track, and a missing (or cut short) one when not a byte arrived ([`GRACE_US`]). `feed_live`:
/// the publisher was still publishing (the subscriber left or the run ended), so a track whose
/// last packet is older than the freeze rule had stopped: a stalled stream, a media error.
pub fn finish(state: &Shared, now: u64, feed_live: bool) {
    if state.borrow().finished {
        return;
    }
    flush(state);
    let mut s = state.borrow_mut();
    s.finished = true;
    let empty = s.stats.bytes() == 0;
    let had_time = now.saturating_sub(s.announced_us) >= GRACE_US;
    let silent_for = s
        .stats
        .last_packet_us()
        .map_or(0, |last| now.saturating_sub(last));
    let stalled = feed_live && !empty && silent_for > s.stats.freeze_threshold_us();
    drop(s);
    recorder::record(|r| {
        r.media.tracks_received += 1;
        r.media.missing += u64::from(empty && had_time);
        r.media.cut_short += u64::from(empty && !had_time);
        r.media.stalled += u64::from(stalled);
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::recorder;

    /// A video track announced at 0 that received 10 frames, one packet each, 33 ms apart.
    fn received_until(last_us: u64) -> Shared {
        let state = shared(MediaKind::Video, 0, 33_333);
        let mut s = state.borrow_mut();
        for i in 0..10u16 {
            let at = last_us - u64::from(9 - i) * 33_333;
            s.stats
                .on_packet(i, u32::from(i) * 3000, 90_000, at, 1000, true);
        }
        drop(s);
        state
    }

    #[test]
    fn every_subscription_ends_in_one_count_and_silence_is_judged_by_who_left() {
        let _ = recorder::take();
        // Media until 5 s, the subscriber leaves at 5.1 s: within the freeze rule, fine.
        finish(&received_until(5_000_000), 5_100_000, true);
        // Silent since 3 s while the publisher still publishes at 5 s: stalled.
        finish(&received_until(3_000_000), 5_000_000, true);
        // The same silence when the publisher had gone: its media ended, nothing wrong.
        finish(&received_until(3_000_000), 5_000_000, false);
        // Nothing at all: missing after 2 s, cut short before.
        finish(
            &shared(MediaKind::Audio, 1_000_000, 20_000),
            3_500_000,
            true,
        );
        finish(
            &shared(MediaKind::Audio, 1_000_000, 20_000),
            2_500_000,
            true,
        );
        // Finishing twice counts once.
        let once = received_until(1_000_000);
        finish(&once, 1_000_000, true);
        finish(&once, 9_000_000, true);
        let m = recorder::take().media;
        assert_eq!(m.tracks_received, 6);
        assert_eq!((m.stalled, m.missing, m.cut_short), (1, 1, 1));
        assert_eq!(m.packets_received, 10 * 4);
    }
}
