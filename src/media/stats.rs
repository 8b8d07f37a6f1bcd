//! What a received track measures, from RTP headers alone: packets, bytes, loss from sequence
//! numbers (RFC 3550 Appendix A.1), interarrival jitter (RFC 3550 §6.4.1), freezes and time to
//! first keyframe; plus [`LossGate`], the client fault `media_loss`.
//!
//! A roomstorm subscriber does not decode media, so these are the RTP-level figures of media
//! notes §2 (the ones a non-decoding client can compute itself). [`TrackStats::on_packet`] is
//! O(1) and allocation-free: it runs once per received packet on the media path.

/// Sequence numbers per cycle (RFC 3550's `RTP_SEQ_MOD`).
const SEQ_MOD: u64 = 1 << 16;
/// A forward jump below this is in-order with loss (RFC 3550 A.1 `MAX_DROPOUT`).
const MAX_DROPOUT: u16 = 3000;
/// A packet at most this far behind, exclusive, is reordered or duplicate (A.1 `MAX_MISORDER`).
const MAX_MISORDER: u16 = 100;
/// Extended sequence numbers are stored with this offset so that a reordered packet from before
/// the first one received still has a non-negative extended number.
const EXT_OFFSET: u64 = SEQ_MOD;

/// The shortest frame gap that can count as a freeze, whatever the frame rate (150 ms).
pub const MIN_FREEZE_US: u64 = 150_000;

/// How one packet fits the sequence so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Placement {
    /// Not seen before: counts as received.
    New,
    /// Seen already (within the reorder window).
    Duplicate,
    /// Too far from the sequence to place (a jump, or later than the reorder window).
    Discarded,
}

/// Per received track: counters and quality figures a subscriber reports, updated per RTP packet.
///
/// - **Sequence and loss** (RFC 3550 A.1, without the probation step, since the SSRC comes from
///   signalling): 16-bit sequence numbers are extended with a cycle count. A packet less than
///   3000 ahead of the highest is in order (the skipped ones may arrive later); one less than
///   100 behind is reordered, or a duplicate if already seen (a 128-packet bitmap remembers
///   which); anything else is discarded, unless the next packet continues it, in which case the
///   sender is taken to have restarted its sequence and both packets count in a new epoch.
///   A reordered packet from before the first one received extends the range backwards.
///   `expected` is the sum over epochs of `highest − base + 1`; `lost = expected − received`.
/// - **Jitter** (RFC 3550 §6.4.1): `J += (|D| − J) / 16` over packets in arrival order, with `D`
///   the difference of transit times in RTP timestamp units. Duplicates and discarded packets
///   are left out.
/// - **Freezes**, the project's documented rule: a frame ends on a packet with the marker bit
///   (video, [`TrackStats::new`]) or on every packet (audio, [`TrackStats::new_audio`]). A gap
///   between the arrivals of two consecutive frame ends **longer than
///   `max(3 × expected frame interval, 150 ms)`** counts one freeze and adds the whole gap to
///   `freeze_total_us`.
///
/// `Default` is a video track with no expected frame interval (freeze threshold 150 ms).
#[derive(Debug, Clone, Default)]
pub struct TrackStats {
    frame_interval_us: u64,
    every_packet_is_frame: bool,
    // Sequence (valid once `first_packet_us` is set).
    base_ext: u64,
    max_ext: u64,
    expected_prior_epochs: u64,
    /// Bit k: extended sequence `max_ext − k` has been received.
    seen: u128,
    /// The sequence number that would confirm a restart (A.1 `bad_seq`), and the payload length
    /// of the packet that announced it.
    bad_seq: Option<u16>,
    pending_len: usize,
    received: u64,
    bytes: u64,
    duplicates: u64,
    discarded: u64,
    // Jitter, in RTP timestamp units of `clock_rate`.
    jitter: f64,
    clock_rate: u32,
    last_transit: Option<(u64, u32)>,
    // Frames and freezes.
    frames: u64,
    last_frame_end_us: Option<u64>,
    freezes: u64,
    freeze_total_us: u64,
    first_packet_us: Option<u64>,
    last_packet_us: Option<u64>,
    first_keyframe_us: Option<u64>,
    /// Totals at the last [`TrackStats::snapshot_delta`]: received, bytes, the highest loss
    /// reported, freezes.
    snap: (u64, u64, u64, u64),
}

/// What a track gained since the previous [`TrackStats::snapshot_delta`]: one point of a
/// per-second series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TrackDelta {
    /// Packets received (new ones; duplicates excluded).
    pub packets: u64,
    /// Payload bytes of those packets.
    pub bytes: u64,
    /// `expected − received` over the interval, floored at 0 (RFC 3550 A.3): 0 when reordered
    /// packets filled an earlier interval's gaps, so these may sum to more than the total.
    pub lost: u64,
    /// Freezes that ended in the interval.
    pub freezes: u64,
}

impl TrackStats {
    /// A video track: a frame ends on a packet with the marker bit. `frame_interval_us` is the
    /// expected interval between frames (33 333 at 30 fps), for the freeze rule.
    pub fn new(frame_interval_us: u64) -> TrackStats {
        TrackStats {
            frame_interval_us,
            ..TrackStats::default()
        }
    }

    /// An audio track: every packet is a frame (the marker bit, which Opus sets on talkspurts,
    /// is ignored). `frame_interval_us` is the packet time (20 000 for 20 ms Opus).
    pub fn new_audio(frame_interval_us: u64) -> TrackStats {
        TrackStats {
            every_packet_is_frame: true,
            ..TrackStats::new(frame_interval_us)
        }
    }

    /// Accounts one received RTP packet: its sequence number, RTP timestamp and the codec's
    /// clock rate (Hz), its arrival time (µs on the run's clock), payload length and marker bit.
    pub fn on_packet(
        &mut self,
        seq: u16,
        rtp_timestamp: u32,
        clock_rate: u32,
        arrival_us: u64,
        payload_len: usize,
        marker: bool,
    ) {
        let first = self.first_packet_us.is_none();
        self.first_packet_us.get_or_insert(arrival_us);
        self.last_packet_us = Some(arrival_us);
        let placement = if first {
            self.base_ext = EXT_OFFSET + u64::from(seq);
            self.max_ext = self.base_ext;
            self.seen = 1;
            Placement::New
        } else {
            self.place(seq, payload_len)
        };
        match placement {
            Placement::Duplicate => self.duplicates += 1,
            Placement::Discarded => self.discarded += 1,
            Placement::New => {
                self.received += 1;
                self.bytes += payload_len as u64;
                self.update_jitter(rtp_timestamp, clock_rate, arrival_us);
                if marker || self.every_packet_is_frame {
                    self.frame_end(arrival_us);
                }
            }
        }
    }

    /// RFC 3550 A.1 `update_seq`, with a bitmap for duplicates.
    fn place(&mut self, seq: u16, payload_len: usize) -> Placement {
        let udelta = seq.wrapping_sub(self.max_ext as u16);
        if udelta == 0 {
            self.bad_seq = None;
            Placement::Duplicate
        } else if udelta < MAX_DROPOUT {
            self.bad_seq = None;
            self.max_ext += u64::from(udelta);
            self.seen = self.seen.checked_shl(udelta.into()).unwrap_or(0) | 1;
            Placement::New
        } else if udelta > u16::MAX - MAX_MISORDER + 1 {
            self.bad_seq = None;
            let back = 0u16.wrapping_sub(udelta); // 1..MAX_MISORDER
            let bit = 1u128 << back;
            if self.seen & bit != 0 {
                return Placement::Duplicate;
            }
            self.seen |= bit;
            self.base_ext = self.base_ext.min(self.max_ext - u64::from(back));
            Placement::New
        } else if self.bad_seq == Some(seq) {
            // Two sequential packets far from the old sequence: the sender restarted it. Close
            // the epoch and start a new one holding both packets.
            self.expected_prior_epochs += self.max_ext - self.base_ext + 1;
            self.max_ext = EXT_OFFSET + u64::from(seq);
            self.base_ext = self.max_ext - 1;
            self.seen = 0b11;
            self.bad_seq = None;
            self.discarded -= 1;
            self.received += 1;
            self.bytes += self.pending_len as u64;
            self.last_transit = None;
            Placement::New
        } else {
            self.bad_seq = Some(seq.wrapping_add(1));
            self.pending_len = payload_len;
            Placement::Discarded
        }
    }

    fn update_jitter(&mut self, ts: u32, clock_rate: u32, arrival_us: u64) {
        if clock_rate == 0 {
            return;
        }
        if clock_rate != self.clock_rate {
            if self.clock_rate != 0 {
                self.jitter *= f64::from(clock_rate) / f64::from(self.clock_rate);
            }
            self.clock_rate = clock_rate;
            self.last_transit = None;
        }
        if let Some((prev_arrival, prev_ts)) = self.last_transit {
            let arrival_delta =
                (arrival_us as i64 - prev_arrival as i64) as f64 * f64::from(clock_rate) / 1e6;
            let ts_delta = f64::from(ts.wrapping_sub(prev_ts) as i32);
            let d = (arrival_delta - ts_delta).abs();
            self.jitter += (d - self.jitter) / 16.0;
        }
        self.last_transit = Some((arrival_us, ts));
    }

    fn frame_end(&mut self, arrival_us: u64) {
        self.frames += 1;
        if let Some(prev) = self.last_frame_end_us {
            let gap = arrival_us.saturating_sub(prev);
            if gap > self.freeze_threshold_us() {
                self.freezes += 1;
                self.freeze_total_us += gap;
            }
        }
        self.last_frame_end_us = Some(self.last_frame_end_us.unwrap_or(0).max(arrival_us));
    }

    /// Records a keyframe's arrival (the caller detects it, e.g. with
    /// [`crate::media::frame::vp8_is_keyframe`]); the first one gives time to first keyframe.
    pub fn on_keyframe(&mut self, arrival_us: u64) {
        self.first_keyframe_us.get_or_insert(arrival_us);
    }

    /// The gap between frames above which one freeze counts: `max(3 × frame interval, 150 ms)`.
    pub fn freeze_threshold_us(&self) -> u64 {
        self.frame_interval_us.saturating_mul(3).max(MIN_FREEZE_US)
    }

    /// Distinct packets received (duplicates and discarded packets excluded).
    pub fn packets(&self) -> u64 {
        self.received
    }

    /// Payload bytes of the packets counted by [`TrackStats::packets`].
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Packets that arrived again after being counted (retransmissions, network duplicates).
    pub fn duplicates(&self) -> u64 {
        self.duplicates
    }

    /// Packets too far from the sequence to place (a stray jump, or later than the 100-packet
    /// reorder window); counted neither as received nor as expected.
    pub fn discarded(&self) -> u64 {
        self.discarded
    }

    /// The highest extended sequence number (cycles × 65536 + sequence, cycles counted from the
    /// first packet of the current epoch) as in RTCP receiver reports; 0 before any packet.
    pub fn extended_max(&self) -> u64 {
        self.max_ext.saturating_sub(EXT_OFFSET)
    }

    /// Packets the sender sent in the range seen so far: `extended max − base + 1`, summed over
    /// sequence restarts; 0 before any packet.
    pub fn expected(&self) -> u64 {
        if self.received == 0 {
            return 0;
        }
        self.expected_prior_epochs + self.max_ext - self.base_ext + 1
    }

    /// Packets expected but not received; never negative.
    pub fn lost(&self) -> u64 {
        self.expected().saturating_sub(self.received)
    }

    /// [`TrackStats::lost`] over [`TrackStats::expected`]; 0 before any packet.
    pub fn loss_ratio(&self) -> f64 {
        match self.expected() {
            0 => 0.0,
            expected => self.lost() as f64 / expected as f64,
        }
    }

    /// RFC 3550 interarrival jitter in µs (0 before two packets with a clock rate).
    pub fn jitter_us(&self) -> f64 {
        self.jitter * 1e6 / f64::from(self.clock_rate.max(1))
    }

    /// Frames completed (marker packets for video, packets for audio), as `framesReceived`.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// Freezes counted by the documented rule (see [`TrackStats`]).
    pub fn freezes(&self) -> u64 {
        self.freezes
    }

    /// The summed length of all freeze gaps, µs.
    pub fn freeze_total_us(&self) -> u64 {
        self.freeze_total_us
    }

    /// Arrival of the track's first packet, any kind.
    pub fn first_packet_us(&self) -> Option<u64> {
        self.first_packet_us
    }

    /// Arrival of the track's latest packet, any kind (a silent track shows here).
    pub fn last_packet_us(&self) -> Option<u64> {
        self.last_packet_us
    }

    /// Arrival of the first keyframe reported by [`TrackStats::on_keyframe`].
    pub fn first_keyframe_us(&self) -> Option<u64> {
        self.first_keyframe_us
    }

    /// Packets, bytes, lost and freezes since the previous call (or since the start), for the
    /// per-second series; the next call starts from here. Lost packets are reported against the
    /// highest loss reported so far: a late packet that fills a gap takes nothing back, and the
    /// next genuine loss is reported only beyond that mark, so the deltas add up to the largest
    /// loss the track ever showed (never more, however often packets are reordered).
    pub fn snapshot_delta(&mut self) -> TrackDelta {
        let lost = self.lost();
        let (received, bytes, lost_mark, freezes) = self.snap;
        self.snap = (self.received, self.bytes, lost_mark.max(lost), self.freezes);
        TrackDelta {
            packets: self.received - received,
            bytes: self.bytes - bytes,
            lost: lost.saturating_sub(lost_mark),
            freezes: self.freezes - freezes,
        }
    }
}

/// Packets per block of [`LossGate`]: the span over which the drop count is exact.
const LOSS_BLOCK: u32 = 100;

/// The client fault `media_loss`: decides per packet whether to drop it, reproducibly from a
/// seed and a ratio.
///
/// Packets are taken in blocks of 100; each block drops exactly the count that brings the total
/// to `round(ratio × packets so far)`, at positions drawn without replacement by a splitmix64
/// generator. Drops stay random within a block, but every seed gives the configured share to
/// within one packet per 100, so a run's loss matches the scenario instead of a sample of it.
/// `Default` never drops.
#[derive(Debug, Clone, Default)]
pub struct LossGate {
    rng: u64,
    ratio: f64,
    blocks: u64,
    planned: u64,
    left_in_block: u32,
    drops_left: u32,
    dropped: u64,
}

impl LossGate {
    /// A gate dropping `ratio` of packets (clamped to [0, 1]; NaN means 0), seeded by `seed`.
    pub fn new(seed: u64, ratio: f64) -> LossGate {
        let ratio = if ratio >= 0.0 { ratio.min(1.0) } else { 0.0 }; // NaN fails `>=`
        let rng = seed;
        LossGate {
            rng,
            ratio,
            ..LossGate::default()
        }
    }

    fn next_u64(&mut self) -> u64 {
        self.rng = self.rng.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Whether to drop the next packet.
    pub fn should_drop(&mut self) -> bool {
        if self.left_in_block == 0 {
            self.blocks += 1;
            let target = (self.ratio * (self.blocks * u64::from(LOSS_BLOCK)) as f64).round() as u64;
            self.drops_left = (target.saturating_sub(self.planned) as u32).min(LOSS_BLOCK);
            self.planned += u64::from(self.drops_left);
            self.left_in_block = LOSS_BLOCK;
        }
        // Drop with probability drops_left / left_in_block: exact count per block.
        let pick = ((u128::from(self.next_u64()) * u128::from(self.left_in_block)) >> 64) as u32;
        let drop = pick < self.drops_left;
        self.left_in_block -= 1;
        if drop {
            self.drops_left -= 1;
            self.dropped += 1;
        }
        drop
    }

    /// Packets dropped so far, for reporting the fault's effect.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type S = TrackStats;

    fn video30() -> S {
        S::new(33_333)
    }

    fn audio20() -> S {
        S::new_audio(20_000)
    }

    /// Feeds `seqs` as one-packet frames 20 ms apart at 48 kHz, 100 bytes each.
    fn feed(s: &mut S, seqs: &[u16]) {
        for (i, &q) in seqs.iter().enumerate() {
            let at = 1_000_000 + i as u64 * 20_000;
            s.on_packet(q, u32::from(q) * 960, 48_000, at, 100, true);
        }
    }

    /// [packets, expected, lost, duplicates, discarded]
    fn counts(s: &S) -> [u64; 5] {
        [
            S::packets,
            S::expected,
            S::lost,
            S::duplicates,
            S::discarded,
        ]
        .map(|f| f(s))
    }

    fn delta(s: &S) -> [u64; 4] {
        [s.packets(), s.bytes(), s.lost(), s.freezes()]
    }

    #[test]
    fn sequence_accounting_table() {
        // (name, sequence numbers in arrival order, [packets, expected, lost, dups, discarded])
        let cases: [(&str, &[u16], [u64; 5]); 13] = [
            ("empty", &[], [0, 0, 0, 0, 0]),
            ("single", &[7], [1, 1, 0, 0, 0]),
            ("in order", &[10, 11, 12, 13, 14], [5, 5, 0, 0, 0]),
            ("gap of 3", &[10, 11, 15, 16], [4, 7, 3, 0, 0]),
            ("reordered", &[10, 12, 11, 14, 13], [5, 5, 0, 0, 0]),
            ("late fill", &[10, 11, 15, 12, 14, 13], [6, 6, 0, 0, 0]),
            ("dups", &[10, 10, 11, 12, 11, 12, 12], [3, 3, 0, 4, 0]),
            ("late dup", &[10, 12, 11, 11], [3, 3, 0, 1, 0]),
            ("before first", &[10, 11, 8, 9], [4, 4, 0, 0, 0]),
            ("before, wrap", &[1, 0, 65535, 2], [4, 4, 0, 0, 0]),
            ("wrap", &[65533, 65534, 0, 1, 65535, 2], [6, 6, 0, 0, 0]),
            ("stray", &[10, 11, 40_000, 12], [3, 3, 0, 0, 1]),
            ("restart", &[1, 2, 9000, 9001, 9003], [5, 6, 1, 0, 0]),
        ];
        for (name, seqs, want) in cases {
            let mut s = audio20();
            feed(&mut s, seqs);
            assert_eq!(counts(&s), want, "{name}");
            assert_eq!(s.bytes(), 100 * want[0], "{name}: bytes follow packets");
            let ratio = if want[1] == 0 {
                0.0
            } else {
                want[2] as f64 / want[1] as f64
            };
            assert_eq!(s.loss_ratio(), ratio, "{name}");
        }
    }

    #[test]
    fn in_order_stream_counts_exactly() {
        let mut s = video30();
        for i in 0..3000u32 {
            // 3 packets per frame, marker on the last.
            let (frame, p) = (i / 3, i % 3);
            let at = u64::from(frame) * 33_333;
            s.on_packet(i as u16, frame * 3000, 90_000, at, 1000, p == 2);
        }
        assert_eq!(counts(&s), [3000, 3000, 0, 0, 0]);
        assert_eq!(
            [s.bytes(), s.frames(), s.extended_max()],
            [3_000_000, 1000, 2999]
        );
        assert_eq!((s.loss_ratio(), s.freezes()), (0.0, 0));
        assert_eq!(s.first_packet_us(), Some(0));
        assert_eq!(s.last_packet_us(), Some(999 * 33_333));
    }

    #[test]
    fn wrap_around_over_many_cycles() {
        let mut s = audio20();
        let (start, n) = (65_000u32, 5 * 65_536 + 1_234u32);
        // Lose 65534, 65535 and 0 of the second wrap only.
        let lost = 2 * 65_536 - 2..2 * 65_536 + 1;
        for i in (0..n).filter(|i| !lost.contains(&(start + i))) {
            let (q, at) = ((start + i) as u16, u64::from(i) * 20_000);
            s.on_packet(q, i.wrapping_mul(960), 48_000, at, 10, true);
        }
        assert_eq!(s.extended_max(), u64::from(start + n - 1));
        let n = u64::from(n);
        assert_eq!(counts(&s), [n - 3, n, 3, 0, 0]);
    }

    #[test]
    fn late_beyond_reorder_window_is_discarded() {
        let mut s = audio20();
        let mut seqs: Vec<u16> = (0..=200).filter(|&q| q != 50).collect();
        seqs.extend([50, 201]); // 50 comes 150 behind the highest: outside the window
        feed(&mut s, &seqs);
        assert_eq!(counts(&s), [201, 202, 1, 0, 1]);
    }

    #[test]
    fn jitter_of_a_perfectly_paced_stream_is_zero() {
        // (clock rate, timestamp step, interval µs): whole µs, so every D is exactly 0.
        let cases = [
            (48_000, 960, 20_000),
            (90_000, 9000, 100_000),
            (8000, 160, 20_000),
        ];
        for (clock, step, interval) in cases {
            let mut s = S::new_audio(interval);
            let ts0 = u32::MAX - 10 * step; // crosses the RTP timestamp wrap
            for i in 0..500u32 {
                let (ts, at) = (ts0.wrapping_add(i * step), 1 + u64::from(i) * interval);
                s.on_packet(i as u16, ts, clock, at, 160, true);
            }
            assert!(s.jitter_us() < 1e-6, "clock {clock}: {}", s.jitter_us());
        }
    }

    #[test]
    fn jitter_of_alternating_offsets_follows_rfc_recursion() {
        // 20 ms Opus at 48 kHz, arrivals alternately 5 ms late and early: every |D| is 10 ms,
        // exactly 480 units, so after n differences J_n = 10 ms × (1 − (15/16)^n) (the closed
        // form of J += (|D| − J)/16 from 0). Only f64 rounding (~1e-12 µs) separates them.
        let mut s = audio20();
        for i in 0..400u32 {
            let at = 1_000_000 + u64::from(i) * 20_000 + 10_000 * u64::from(i % 2 == 0);
            s.on_packet(i as u16, i * 960, 48_000, at, 80, false);
            let want = 10_000.0 * (1.0 - (15.0f64 / 16.0).powi(i as i32));
            assert!(
                (s.jitter_us() - want).abs() < 1e-6,
                "{i}: {}",
                s.jitter_us()
            );
        }
        assert!((s.jitter_us() - 10_000.0).abs() < 1e-3, "converged");
        assert!((s.jitter - 480.0).abs() < 1e-4, "kept in RTP units");
    }

    #[test]
    fn jitter_ignores_duplicates() {
        let (mut a, mut b) = (audio20(), audio20());
        for i in 0..50u32 {
            let at = 1_000_000 + u64::from(i) * 20_000 + u64::from(i % 3) * 1_000;
            a.on_packet(i as u16, i * 960, 48_000, at, 80, true);
            b.on_packet(i as u16, i * 960, 48_000, at, 80, true);
            b.on_packet(i as u16, i * 960, 48_000, at + 7_000, 80, true);
        }
        assert_eq!((a.jitter_us(), b.duplicates()), (b.jitter_us(), 50));
    }

    /// (name, track, frame-end arrivals in ms, [freezes, freeze_total_us])
    type FreezeCase = (&'static str, fn() -> S, &'static [u64], [u64; 2]);

    fn one_fps() -> S {
        S::new(1_000_000)
    }

    #[test]
    fn freeze_rule_table() {
        let cases: [FreezeCase; 8] = [
            ("30 fps steady", video30, &[0, 33, 67, 100, 133], [0, 0]),
            ("30 fps 200 ms", video30, &[0, 33, 233, 267], [1, 200_000]),
            ("30 fps 90 ms", video30, &[0, 33, 123, 156], [0, 0]),
            ("30 fps 150 ms", video30, &[0, 150, 300], [0, 0]),
            ("30 fps 151 ms", video30, &[0, 151], [1, 151_000]),
            ("30 fps x2", video30, &[0, 151, 184, 1184], [2, 1_151_000]),
            ("audio 160 ms", audio20, &[0, 20, 180, 200], [1, 160_000]),
            ("1 fps 3 s", one_fps, &[0, 2000, 5000, 8001], [1, 3_001_000]),
        ];
        for (name, track, arrivals, want) in cases {
            let mut s = track();
            for (i, &ms) in arrivals.iter().enumerate() {
                s.on_packet(i as u16, 0, 90_000, ms * 1000, 500, true);
            }
            assert_eq!([s.freezes(), s.freeze_total_us()], want, "{name}");
            assert_eq!(s.frames(), arrivals.len() as u64, "{name}");
        }
    }

    #[test]
    fn freeze_threshold_is_max_of_three_intervals_and_150_ms() {
        let cases = [
            (0, 150_000),
            (20_000, 150_000),
            (50_000, 150_000),
            (66_667, 200_001),
        ];
        for (interval, want) in cases.into_iter().chain([(u64::MAX, u64::MAX)]) {
            assert_eq!(S::new(interval).freeze_threshold_us(), want, "{interval}");
        }
    }

    #[test]
    fn video_frames_end_only_on_marker() {
        // A stall inside a frame (before a non-marker packet) is measured between frame ends:
        // frame 2 ends at 33 ms, frame 3 at 240 ms: one freeze of 207 ms.
        let mut s = video30();
        let packets = [(0, true), (20, false), (33, true), (40, false), (240, true)];
        for (i, (ms, marker)) in packets.into_iter().enumerate() {
            s.on_packet(i as u16, 0, 90_000, ms * 1000, 100, marker);
        }
        assert_eq!(
            [s.frames(), s.freezes(), s.freeze_total_us()],
            [3, 1, 207_000]
        );
        // Audio ignores the marker: every packet is a frame.
        let mut a = audio20();
        for i in 0..10u16 {
            a.on_packet(i, 0, 48_000, u64::from(i) * 20_000, 50, i == 0);
        }
        assert_eq!(a.frames(), 10);
    }

    #[test]
    fn keyframe_and_arrival_times() {
        let mut s = video30();
        let times = |s: &S| {
            [
                s.first_packet_us(),
                s.last_packet_us(),
                s.first_keyframe_us(),
            ]
        };
        assert_eq!(times(&s), [None; 3]);
        assert_eq!([s.expected(), s.lost(), s.extended_max()], [0; 3]);
        assert_eq!((s.loss_ratio(), s.jitter_us()), (0.0, 0.0));
        s.on_packet(5, 0, 90_000, 1_000, 100, false);
        s.on_packet(6, 0, 90_000, 2_000, 100, true);
        s.on_keyframe(2_500);
        s.on_keyframe(9_000);
        s.on_packet(6, 0, 90_000, 3_000, 100, true); // a duplicate still arrived
        assert_eq!(times(&s), [Some(1_000), Some(3_000), Some(2_500)]);
    }

    #[test]
    fn snapshot_deltas_sum_to_totals() {
        let (mut s, mut sum, mut seq) = (video30(), [0u64; 4], 0u16);
        for second in 0..10u64 {
            for f in 0..30u64 {
                let late = 400_000 * u64::from(second == 4 && f == 10); // one freeze
                let at = second * 1_000_000 + f * 33_333 + late;
                let ts = (second * 30 + f) as u32 * 3000;
                for p in 0..3 {
                    // Lose two packets in seconds 1, 4 and 7 (never the marker).
                    if !(second % 3 == 1 && f == 5 && p < 2) {
                        s.on_packet(seq, ts, 90_000, at, 900 + p, p == 2);
                    }
                    seq = seq.wrapping_add(1);
                }
            }
            let d = s.snapshot_delta();
            for (total, part) in sum.iter_mut().zip([d.packets, d.bytes, d.lost, d.freezes]) {
                *total += part;
            }
        }
        assert_eq!(sum, delta(&s));
        assert_eq!((s.lost(), s.freezes()), (6, 1));
        assert_eq!(
            s.snapshot_delta(),
            TrackDelta::default(),
            "nothing new since"
        );
    }

    #[test]
    fn snapshot_lost_is_floored_when_late_packets_fill_old_gaps() {
        let mut s = audio20();
        let d = |packets, bytes, lost| TrackDelta {
            packets,
            bytes,
            lost,
            freezes: 0,
        };
        feed(&mut s, &[0, 1, 4]);
        assert_eq!(s.snapshot_delta(), d(3, 300, 2));
        feed(&mut s, &[2, 3]);
        assert_eq!(s.snapshot_delta(), d(2, 200, 0));
        assert_eq!(s.lost(), 0, "the total recovers; the deltas summed 2");
        // A later genuine loss of 1 is within the mark already reported: nothing more.
        feed(&mut s, &[5, 7]);
        assert_eq!(s.snapshot_delta(), d(2, 200, 0));
        // Beyond the mark, losses are reported again: the deltas sum to the highest loss seen.
        feed(&mut s, &[10]);
        assert_eq!(s.lost(), 3);
        assert_eq!(s.snapshot_delta(), d(1, 100, 1));
    }

    #[test]
    fn per_packet_deltas_count_one_reordering_once_not_per_packet() {
        let mut s = audio20();
        let mut lost = 0;
        // 0..100 with every tenth pair swapped: each swap opens a gap its late packet fills.
        let mut order: Vec<u16> = (0..100).collect();
        for i in (0..100).step_by(10) {
            order.swap(i, i + 1);
        }
        for seq in order {
            feed(&mut s, &[seq]);
            lost += s.snapshot_delta().lost;
        }
        assert_eq!(s.lost(), 0);
        assert!(lost <= 1, "reordering reported as {lost} lost");
    }

    #[test]
    fn loss_gate_hits_the_ratio_for_every_seed() {
        for seed in (0..200u64).chain([u64::MAX, 0xdead_beef]) {
            let mut gate = LossGate::new(seed, 0.05);
            let dropped = (0..10_000).filter(|_| gate.should_drop()).count();
            assert!((450..=550).contains(&dropped), "seed {seed}: {dropped}");
            assert_eq!(gate.dropped(), dropped as u64);
        }
    }

    #[test]
    fn loss_gate_ratio_table() {
        // (ratio, packets, exact drops: round(ratio × packets) at block boundaries)
        let cases: [(f64, usize, usize); 10] = [
            (0.0, 10_000, 0),
            (1.0, 10_000, 10_000),
            (0.05, 10_000, 500),
            (0.29, 10_000, 2_900),
            (0.123, 10_000, 1_230),
            (0.005, 10_000, 50),
            (0.5, 300, 150),
            (3.0, 500, 500),
            (-0.3, 1_000, 0),
            (f64::NAN, 1_000, 0),
        ];
        for (ratio, packets, want) in cases {
            let mut gate = LossGate::new(7, ratio);
            let dropped = (0..packets).filter(|_| gate.should_drop()).count();
            assert_eq!(dropped, want, "ratio {ratio}");
        }
    }

    #[test]
    fn loss_gate_is_deterministic_per_seed_and_random_within_blocks() {
        let run = |seed| {
            let mut gate = LossGate::new(seed, 0.05);
            (0..1000).map(|_| gate.should_drop()).collect::<Vec<_>>()
        };
        assert_eq!(run(42), run(42));
        assert_ne!(run(42), run(43));
        // Exactly 5 per 100-packet block, but not at the same positions in every block.
        let blocks = run(42);
        let at = |c: &[bool]| (0..100).filter(|&i| c[i]).collect::<Vec<_>>();
        let positions: Vec<Vec<usize>> = blocks.chunks(100).map(at).collect();
        assert!(positions.iter().all(|p| p.len() == 5));
        assert!(positions.windows(2).any(|w| w[0] != w[1]));
    }
}
