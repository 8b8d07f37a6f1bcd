//! A synthetic track's sender: frames on a fixed schedule, each stamped with the frame header, cut
//! into RTP packets; a keyframe on request (PLI/FIR) and every keyframe interval.
//!
//! The schedule is open-model: frame `k` is due at `start + k × interval`, whatever happened to
//! frame `k − 1`. How late each frame leaves is the generator's own media health
//! ([`Metric::MediaPacing`]): a tester that cannot keep its frame clock flags the run as
//! generator-limited instead of blaming the server for the gaps.
//!
//! The loop runs on the participant's worker thread (spawned into its actor's context) and
//! records into that thread's recorder: no lock and no message per packet.

use std::collections::VecDeque;
use std::sync::Arc;

use bytes::Bytes;
use rtc::media_stream::MediaStreamTrack;
use rtc::rtp;
use rtc::rtp_transceiver::rtp_sender::{RTCRtpCodingParameters, RTCRtpEncodingParameters};
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::media_stream::track_local::{TrackLocal, TrackLocalEvent};

use super::faults::MediaFaults;
use super::frame::{self, FrameHeader};
use super::keyframe::is_keyframe_request;
use super::peer::{OPUS_PT, VP8_PT, codec_parameters};
use super::sample;
use crate::metrics::Metric;
use crate::metrics::recorder;
use crate::participant::RunContext;
use crate::scenario::{Codec, MAX_PAYLOAD, Payload, TrackSpec};

/// One published track: what the sender writes into.
pub struct LocalTrack {
    /// The webrtc track (added to the publisher's connection).
    pub track: Arc<TrackLocalStaticRTP>,
    /// Its SSRC (packets must carry it).
    pub ssrc: u32,
    /// What it sends.
    pub spec: TrackSpec,
    /// Its index among the participant's tracks (stamped into every frame).
    pub index: u16,
}

/// A local track for `spec`, numbered `index` of participant `publisher`.
pub fn local_track(spec: &TrackSpec, publisher: u32, index: u16) -> LocalTrack {
    let (params, kind) = codec_parameters(spec.codec);
    // Distinct per publisher and track, and stable for a seed-free run: SSRCs only need to be
    // unique within a connection, and stable ones make captures readable.
    let ssrc = 0x5253_0000_u32
        .wrapping_add(publisher.wrapping_mul(16))
        .wrapping_add(u32::from(index) + 1);
    let stream = format!("rs-{publisher}");
    let track = MediaStreamTrack::new(
        stream.clone(),
        format!("{stream}-{index}"),
        format!("{stream}-{index}"),
        kind,
        vec![RTCRtpEncodingParameters {
            rtp_coding_parameters: RTCRtpCodingParameters {
                ssrc: Some(ssrc),
                ..Default::default()
            },
            codec: params.rtp_codec,
            ..Default::default()
        }],
    );
    LocalTrack {
        track: Arc::new(TrackLocalStaticRTP::new(track)),
        ssrc,
        spec: spec.clone(),
        index,
    }
}

/// One frame's packets, built at capture time, to leave at `at` (a `media_delay` holds them).
struct Pending {
    at: tokio::time::Instant,
    packets: Vec<rtp::Packet>,
}

/// Sends `local`'s frames until the connection closes or the future is dropped; start it once
/// the connection is up (a track writes nothing before it is bound). `faults` may delay frames
/// (`media_delay`): they are stamped when captured and leave later, in order, while the frame
/// clock goes on.
pub async fn send(local: LocalTrack, publisher: u32, run: Arc<RunContext>, faults: MediaFaults) {
    let spec = &local.spec;
    let interval = spec.frame_interval();
    let interval_us = interval.as_micros() as u64;
    let (pt, clock_rate, vp8) = match spec.codec {
        Codec::Opus => (OPUS_PT, 48_000_u64, false),
        Codec::Vp8 => (VP8_PT, 90_000_u64, true),
    };
    let ticks_per_frame = (clock_rate * interval_us / 1_000_000) as u32;
    let keyframe_every = spec
        .keyframe_interval
        .map(|k| (k.as_micros() as u64 / interval_us.max(1)).max(1));
    let packets = spec.packets_per_frame().max(1) as usize;
    let frame_bytes = (spec.frame_bytes() as usize).max(frame::HEADER_LEN);
    let per_packet = frame_bytes.div_ceil(packets);
    let mut seq: u16 = (local.ssrc >> 3) as u16;
    let mut timestamp: u32 = local.ssrc.rotate_left(7);
    let start = tokio::time::Instant::now();
    let start_us = run.now_us();
    let mut keyframe_due = vp8;
    // `payload: sample`: the codec's embedded sample, looped from `pos`; a keyframe request
    // moves `pos` to the sample's next keyframe, which is sent at once.
    let sample = match spec.payload {
        Payload::Synthetic => None,
        Payload::Sample => Some(match spec.codec {
            Codec::Opus => sample::opus(),
            Codec::Vp8 => sample::vp8(),
        }),
    };
    let mut pos: u64 = 0;
    let mut stamped = Vec::new();
    let mut chunk = Vec::with_capacity(per_packet);
    let mut delayed: VecDeque<Pending> = VecDeque::new();
    let mut k: u64 = 0;
    loop {
        let due = start + interval * (k as u32);
        let wake = delayed.front().map_or(due, |p| p.at.min(due));
        // Wait for the next frame (or delayed frame), answering keyframe requests meanwhile.
        tokio::select! {
            _ = tokio::time::sleep_until(wake) => {}
            event = local.track.poll() => {
                match event {
                    Some(TrackLocalEvent::OnRtcpPacket(rtcp)) => {
                        if rtcp.iter().any(|p| is_keyframe_request(p.as_ref())) {
                            keyframe_due |= vp8;
                            recorder::record(|r| r.media.keyframe_requests += 1);
                        }
                    }
                    Some(_) => {}
                    // Unbound: the connection is closed.
                    None => return,
                }
                continue;
            }
        }
        let clock = tokio::time::Instant::now();
        while delayed.front().is_some_and(|p| p.at <= clock) {
            let frame = delayed.pop_front().expect("checked");
            for packet in frame.packets {
                if local.track.write_rtp(packet).await.is_err() {
                    return;
                }
            }
        }
        if clock < due {
            continue;
        }
        let now = run.now_us();
        let intended = start_us + interval_us * k;
        let requested = vp8 && keyframe_due;
        let wanted = requested || (vp8 && keyframe_every.is_some_and(|n| k.is_multiple_of(n)));
        keyframe_due = false;
        // A sample's keyframes are its own (every second): only a request makes it jump.
        let frame = sample.map(|s| {
            if requested {
                pos = s.next_keyframe_at_or_after(pos);
            }
            pos += 1;
            s.frame(pos - 1)
        });
        let keyframe = match frame {
            Some(f) => vp8 && f.keyframe,
            None => wanted,
        };
        let header = FrameHeader {
            publisher,
            track: local.index,
            sequence: k as u32,
            send_us: now,
            keyframe,
        };
        let mut built = Vec::with_capacity(packets);
        let mut bytes = 0_u64;
        let mut rtp_packet = |payload: Vec<u8>, marker: bool| {
            bytes += payload.len() as u64;
            built.push(rtp::Packet {
                header: rtp::header::Header {
                    version: 2,
                    marker,
                    payload_type: pt,
                    sequence_number: seq,
                    timestamp,
                    ssrc: local.ssrc,
                    ..Default::default()
                },
                payload: Bytes::from(payload),
            });
            seq = seq.wrapping_add(1);
        };
        if let Some(f) = frame {
            // Valid VP8 or Opus with the header as a trailer (`sample.rs`); one Opus packet, or
            // the VP8 frame cut into balanced packets, the trailer whole in the marked last one.
            f.stamped_into(&header, &mut stamped);
            if vp8 {
                let payloads = sample::vp8_payloads(&stamped, MAX_PAYLOAD as usize);
                let n = payloads.len();
                for (p, payload) in payloads.enumerate() {
                    rtp_packet(payload, p + 1 == n);
                }
            } else {
                rtp_packet(std::mem::take(&mut stamped), true);
            }
        }
        for p in (0..packets).filter(|_| frame.is_none()) {
            let first = p == 0;
            let mut payload = Vec::with_capacity(per_packet + frame::VP8_PREFIX_LEN);
            if vp8 {
                payload.extend_from_slice(
                    &frame::vp8_prefix(keyframe, first)[..frame::header_offset(true, first)],
                );
            }
            let body = per_packet
                .saturating_sub(payload.len())
                .max(frame::HEADER_LEN);
            if first {
                frame::fill_payload(&header, body, &mut chunk);
            } else {
                frame::fill_filler(body, &mut chunk);
            }
            payload.extend_from_slice(&chunk);
            rtp_packet(payload, p + 1 == packets);
        }
        let packets = built.len();
        timestamp = timestamp.wrapping_add(ticks_per_frame);
        k += 1;
        recorder::record(|r| {
            r.latency(Metric::MediaPacing, now.saturating_sub(intended));
            r.media.packets_sent += packets as u64;
            r.media.bytes_sent += bytes;
            r.media.frames_sent += 1;
            r.media.keyframes_sent += u64::from(keyframe);
        });
        if faults.offline(now) {
            // The network is down: the frame was produced, nothing leaves.
            continue;
        }
        let delay = faults.delay_us(now);
        if delay > 0 || !delayed.is_empty() {
            // Behind earlier delayed frames: order is kept, as on a slow link. Counted from the
            // frame's scheduled instant, which the timer rounds the same way as this one, so
            // the added delay is `delay` itself, not `delay` plus a timer tick.
            let at = due + std::time::Duration::from_micros(delay);
            let at = delayed.back().map_or(at, |p| p.at.max(at));
            delayed.push_back(Pending { at, packets: built });
            continue;
        }
        for packet in built {
            if local.track.write_rtp(packet).await.is_err() {
                return;
            }
        }
    }
}
