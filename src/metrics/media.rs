//! Media counters: what publishers sent and subscribers received, per worker thread like every
//! other figure, added up exactly when merged.
//!
//! Loss is counted from RTP sequence numbers after the stack's own NACK recovery (what a
//! subscriber's decoder would miss), freezes by the rule in [`crate::media::stats`].

use serde::{Deserialize, Serialize};

/// Media figures of one interval or of a whole run.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct MediaCounters {
    /// RTP packets the publishers sent.
    pub packets_sent: u64,
    /// RTP payload bytes the publishers sent.
    pub bytes_sent: u64,
    /// Frames the publishers sent.
    pub frames_sent: u64,
    /// Keyframes the publishers sent (on request and on schedule).
    pub keyframes_sent: u64,
    /// Keyframe requests (PLI/FIR) the publishers received from the server.
    pub keyframe_requests: u64,
    /// NACKs the publishers received (retransmission requests), from their connections' RTCP
    /// statistics when each connection closed.
    #[serde(default)]
    pub nacks_received: u64,
    /// NACKs the subscribers sent (the stack asks for what it misses), likewise.
    #[serde(default)]
    pub nacks_sent: u64,
    /// PLIs and FIRs the subscribers sent, likewise.
    #[serde(default)]
    pub plis_sent: u64,
    /// RTP packets the subscribers received.
    pub packets_received: u64,
    /// RTP payload bytes the subscribers received.
    pub bytes_received: u64,
    /// Packets missing from the received sequence numbers.
    pub packets_lost: u64,
    /// Received gaps between frames longer than the freeze rule allows.
    pub freezes: u64,
    /// Tracks published (a track counts once per publish).
    pub tracks_published: u64,
    /// Publishes accepted.
    pub publishes: u64,
    /// Subscriptions to a track that ended (at unsubscribe, leave or the run's end).
    pub tracks_received: u64,
    /// Subscribed tracks that never delivered a byte although they had
    /// [`crate::media::receiver::GRACE_US`] to: a media presence error.
    pub missing: u64,
    /// Subscribed tracks that ended without a byte sooner than that (the subscriber or the
    /// publisher left first): not an error, but counted so every subscription is accounted for.
    #[serde(default)]
    pub cut_short: u64,
    /// Subscribed tracks that had delivered media but were silent (longer than the freeze rule)
    /// when the subscriber left while their publisher still published: a stream that stopped,
    /// a media presence error.
    #[serde(default)]
    pub stalled: u64,
    /// Subscriptions that could not be set up (refused, or the connection failed).
    pub subscribe_failures: u64,
    /// Peer connections that failed after connecting or never connected.
    pub connection_failures: u64,
}

impl MediaCounters {
    /// Adds `other` into `self`.
    pub fn absorb(&mut self, other: &MediaCounters) {
        self.packets_sent += other.packets_sent;
        self.bytes_sent += other.bytes_sent;
        self.frames_sent += other.frames_sent;
        self.keyframes_sent += other.keyframes_sent;
        self.keyframe_requests += other.keyframe_requests;
        self.nacks_received += other.nacks_received;
        self.nacks_sent += other.nacks_sent;
        self.plis_sent += other.plis_sent;
        self.packets_received += other.packets_received;
        self.bytes_received += other.bytes_received;
        self.packets_lost += other.packets_lost;
        self.freezes += other.freezes;
        self.tracks_published += other.tracks_published;
        self.publishes += other.publishes;
        self.tracks_received += other.tracks_received;
        self.missing += other.missing;
        self.cut_short += other.cut_short;
        self.stalled += other.stalled;
        self.subscribe_failures += other.subscribe_failures;
        self.connection_failures += other.connection_failures;
    }

    /// `true` when nothing media-related happened (runs without media show no media section).
    pub fn is_empty(&self) -> bool {
        *self == MediaCounters::default()
    }

    /// Lost share of the packets subscribers should have received, 0..=1.
    pub fn loss_ratio(&self) -> f64 {
        let expected = self.packets_received + self.packets_lost;
        if expected == 0 {
            0.0
        } else {
            self.packets_lost as f64 / expected as f64
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absorb_adds_every_field_and_loss_is_a_share_of_the_expected() {
        let a = MediaCounters {
            packets_received: 95,
            packets_lost: 5,
            missing: 1,
            ..Default::default()
        };
        let mut t = MediaCounters::default();
        assert!(t.is_empty());
        t.absorb(&a);
        t.absorb(&a);
        assert_eq!(t.packets_received, 190);
        assert_eq!(t.missing, 2);
        assert!((t.loss_ratio() - 0.05).abs() < 1e-12);
        assert!(!t.is_empty());
    }
}
