//! The media part of a run's results: the figures `summary.json` carries for media and their
//! terminal rendering. Runs without media have none of it.

use serde::{Deserialize, Serialize};

use crate::metrics::media::MediaCounters;

/// Media figures of a run.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct MediaSummary {
    /// The counters, added up over workers (and shards).
    #[serde(flatten)]
    pub counters: MediaCounters,
    /// Lost share of the packets subscribers should have received, 0..=1 (after the WebRTC
    /// stack's NACK recovery: what a decoder would miss).
    pub loss_ratio: f64,
    /// Mean rate the publishers sent while the run lasted, kbit/s of RTP payload.
    pub sent_kbps: f64,
    /// Mean rate the subscribers received, kbit/s of RTP payload.
    pub received_kbps: f64,
}

impl MediaSummary {
    /// The summary of `counters` over a run of `duration_s`; `None` when no media moved.
    pub fn of(counters: MediaCounters, duration_s: f64) -> Option<Self> {
        if counters.is_empty() {
            return None;
        }
        let kbps = |bytes: u64| {
            if duration_s > 0.0 {
                (bytes as f64 * 8.0 / 1000.0 / duration_s * 10.0).round() / 10.0
            } else {
                0.0
            }
        };
        Some(MediaSummary {
            counters,
            loss_ratio: counters.loss_ratio(),
            sent_kbps: kbps(counters.bytes_sent),
            received_kbps: kbps(counters.bytes_received),
        })
    }
}

/// The terminal lines of the media section.
pub fn render(m: &MediaSummary, out: &mut String) {
    use std::fmt::Write;
    let c = &m.counters;
    let _ = writeln!(out, "\nmedia");
    let _ = writeln!(
        out,
        "  published: {} publishes, {} tracks · sent {} packets, {} frames ({} keyframes, {} keyframe requests), {:.1} kbit/s",
        c.publishes,
        c.tracks_published,
        c.packets_sent,
        c.frames_sent,
        c.keyframes_sent,
        c.keyframe_requests,
        m.sent_kbps
    );
    let _ = writeln!(
        out,
        "  received: {} tracks ({} missing, {} cut short, {} stalled) · {} packets, {} lost ({:.3}%), {} freezes, {:.1} kbit/s",
        c.tracks_received,
        c.missing,
        c.cut_short,
        c.stalled,
        c.packets_received,
        c.packets_lost,
        m.loss_ratio * 100.0,
        c.freezes,
        m.received_kbps
    );
    let _ = writeln!(
        out,
        "  rtcp: {} NACKs and {} PLI/FIR sent by subscribers, {} NACKs received by publishers",
        c.nacks_sent, c.plis_sent, c.nacks_received
    );
    if c.subscribe_failures + c.connection_failures > 0 {
        let _ = writeln!(
            out,
            "  failures: {} subscriptions, {} peer connections",
            c.subscribe_failures, c.connection_failures
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_media_no_section_and_rates_are_per_second_of_the_run() {
        assert!(MediaSummary::of(MediaCounters::default(), 10.0).is_none());
        let c = MediaCounters {
            bytes_sent: 125_000,
            bytes_received: 62_500,
            packets_received: 99,
            packets_lost: 1,
            tracks_received: 4,
            ..Default::default()
        };
        let m = MediaSummary::of(c, 10.0).unwrap();
        assert_eq!(m.sent_kbps, 100.0);
        assert_eq!(m.received_kbps, 50.0);
        assert!((m.loss_ratio - 0.01).abs() < 1e-12);
        let mut text = String::new();
        render(&m, &mut text);
        assert!(
            text.contains(
                "received: 4 tracks (0 missing, 0 cut short, 0 stalled) · 99 packets, 1 lost (1.000%)"
            ),
            "{text}"
        );
    }
}
