//! The checked media model of a group: which synthetic tracks its participants publish and whose
//! tracks they subscribe to, with the per-track arithmetic (frames, packets, bits on the wire)
//! that the media engine sends by and the plan's SFU load figures are computed from.
//!
//! Everything here is already valid (validation in `media_read`), so the engine and the plan
//! never re-check: a track's bitrate is in range for its kind, `fps` and `ptime` agree, and
//! subscribed groups exist.

use std::time::Duration;

/// Largest RTP payload a packet carries, in bytes: a frame larger than this is split over several
/// packets. 1100 leaves room for RTP, SRTP and IP/UDP headers (and a TURN or VPN hop) under a
/// 1280-byte path MTU, as browsers' own packetizers do.
pub const MAX_PAYLOAD: u32 = 1100;
/// RTP fixed header, bytes per packet (no CSRC, no header extensions).
pub const RTP_HEADER: u32 = 12;
/// IPv4 (20) and UDP (8) headers, bytes per packet.
pub const IP_UDP_HEADER: u32 = 28;
/// SRTP authentication tag (AES-CM with HMAC-SHA1-80), bytes per packet.
pub const SRTP_TAG: u32 = 10;
/// Bytes every packet adds to its payload on the wire: RTP + IP/UDP + SRTP tag.
pub const PACKET_OVERHEAD: u32 = RTP_HEADER + IP_UDP_HEADER + SRTP_TAG;

/// What a track carries: it decides the codec, which keys apply (`fps` and `keyframe_interval`
/// for video, `ptime` for audio) and the bitrate range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MediaKind {
    /// Speech-like constant frames every `ptime`.
    Audio,
    /// Frames at `fps`, with a larger keyframe every `keyframe_interval`.
    Video,
}

impl MediaKind {
    /// Scenario name of the kind.
    pub fn name(self) -> &'static str {
        match self {
            MediaKind::Audio => "audio",
            MediaKind::Video => "video",
        }
    }
}

/// The codec a track is negotiated with. The payload is synthetic either way; the codec decides
/// the SDP and the server's forwarding path, so it must be one the server accepts for the kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Codec {
    /// Opus, audio only.
    Opus,
    /// VP8, video only.
    Vp8,
}

impl Codec {
    /// Scenario name of the codec.
    pub fn name(self) -> &'static str {
        match self {
            Codec::Opus => "opus",
            Codec::Vp8 => "vp8",
        }
    }

    /// The kind this codec encodes: a track's codec must match its kind.
    pub fn kind(self) -> MediaKind {
        match self {
            Codec::Opus => MediaKind::Audio,
            Codec::Vp8 => MediaKind::Video,
        }
    }
}

/// The shipped VP8 sample's rate on the wire's payload, trailer included (`src/media/sample.rs`
/// checks it against the sample): what a `payload: sample` video track plans with.
pub const SAMPLE_VIDEO_BPS: u64 = 480_572;
/// The shipped Opus sample's rate, re-framed with the trailer in its padding.
pub const SAMPLE_AUDIO_BPS: u64 = 42_356;
/// The VP8 sample's frame rate.
pub const SAMPLE_FPS: u32 = 30;
/// The Opus sample's frame duration.
pub const SAMPLE_PTIME: Duration = Duration::from_millis(20);
/// The VP8 sample's keyframe interval.
pub const SAMPLE_KEYFRAME_INTERVAL: Duration = Duration::from_secs(1);

/// What a track's frames are made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Payload {
    /// Filler of `bitrate / fps` bytes behind the roomstorm header (`src/media/frame.rs`):
    /// cheap, any size, but no decoder can play it.
    #[default]
    Synthetic,
    /// The embedded sample of the codec, looped (`src/media/sample.rs`): valid VP8 or Opus a
    /// browser decodes, the header as a trailer; its bitrate and keyframes are the sample's.
    Sample,
}

/// One published track: enough to pace synthetic frames and to size the load it puts on the SFU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackSpec {
    /// Audio or video.
    pub kind: MediaKind,
    /// Matches `kind` (validated).
    pub codec: Codec,
    /// Target payload bitrate, bits per second (audio 6 kbps..510 kbps, video 6 kbps..10 Mbps).
    pub bitrate_bps: u64,
    /// Frames per second: video's `fps` (1..60, default 30); audio: packets per second,
    /// 1000 / ptime in milliseconds, rounded down (16 for 60 ms).
    pub fps: u32,
    /// Time between frames: audio's `ptime` (10, 20, 40 or 60 ms, default 20 ms); video: 1 / fps.
    pub ptime: Duration,
    /// Video only (default 2 s, 100 ms..60 s): how often a keyframe is sent; `None` for audio.
    pub keyframe_interval: Option<Duration>,
    /// Synthetic filler or the codec's sample (`payload: sample`).
    pub payload: Payload,
}

impl TrackSpec {
    /// Audio with `ptime` (one of [`PTIMES_MS`], validated) at `bitrate_bps`, codec Opus.
    pub fn audio(bitrate_bps: u64, ptime: Duration) -> Self {
        let ms = ptime.as_millis().max(1) as u32;
        Self {
            kind: MediaKind::Audio,
            codec: Codec::Opus,
            bitrate_bps,
            fps: 1000 / ms,
            ptime,
            keyframe_interval: None,
            payload: Payload::Synthetic,
        }
    }

    /// Video at `fps` (≥ 1) and `bitrate_bps`, a keyframe every `keyframe_interval`, codec VP8.
    pub fn video(bitrate_bps: u64, fps: u32, keyframe_interval: Duration) -> Self {
        let fps = fps.max(1);
        Self {
            kind: MediaKind::Video,
            codec: Codec::Vp8,
            bitrate_bps,
            fps,
            ptime: Duration::from_nanos(1_000_000_000 / u64::from(fps)),
            keyframe_interval: Some(keyframe_interval),
            payload: Payload::Synthetic,
        }
    }

    /// Time between two frames: audio's ptime, video's 1 / fps.
    pub fn frame_interval(&self) -> Duration {
        self.ptime
    }

    /// Frames per second, exact (audio at 60 ms: 16.67, where `fps` holds 16).
    pub fn frames_per_second(&self) -> f64 {
        match self.kind {
            MediaKind::Video => f64::from(self.fps),
            MediaKind::Audio => 1.0 / self.ptime.as_secs_f64().max(1e-6),
        }
    }

    /// Payload bytes of one frame: bitrate / 8 × frame interval, rounded, at least 1 (keyframes
    /// are not modelled: the average frame carries the bitrate).
    pub fn frame_bytes(&self) -> u32 {
        let bytes = self.bitrate_bps as f64 / 8.0 / self.frames_per_second();
        (bytes.round() as u32).max(1)
    }

    /// RTP packets one frame needs: ceil(frame bytes / [`MAX_PAYLOAD`]), at least 1.
    pub fn packets_per_frame(&self) -> u32 {
        self.frame_bytes().div_ceil(MAX_PAYLOAD).max(1)
    }

    /// RTP packets per second the track sends (and each of its subscribers receives).
    pub fn packets_per_second(&self) -> f64 {
        f64::from(self.packets_per_frame()) * self.frames_per_second()
    }

    /// Bits per second on the wire: payload plus [`PACKET_OVERHEAD`] (12-byte RTP header, 28
    /// bytes IP/UDP, 10-byte SRTP tag) per packet. RTCP is not counted.
    pub fn wire_bits_per_second(&self) -> f64 {
        let per_frame = f64::from(self.frame_bytes())
            + f64::from(self.packets_per_frame()) * f64::from(PACKET_OVERHEAD);
        per_frame * 8.0 * self.frames_per_second()
    }

    /// A short description for dry runs: `audio opus 32kbps ptime 20ms`,
    /// `video vp8 500kbps 30fps keyframe 2s`.
    pub fn describe(&self) -> String {
        let rate = format_bitrate(self.bitrate_bps);
        match (self.kind, self.keyframe_interval) {
            (MediaKind::Video, Some(k)) => format!(
                "video {} {rate} {}fps keyframe {}",
                self.codec.name(),
                self.fps,
                humantime::format_duration(k)
            ),
            _ => format!(
                "{} {} {rate} ptime {}",
                self.kind.name(),
                self.codec.name(),
                humantime::format_duration(self.ptime)
            ),
        }
    }
}

/// Audio frame durations a track may use (milliseconds): the Opus frame sizes WebRTC sends.
pub const PTIMES_MS: [u64; 4] = [10, 20, 40, 60];

/// Whose tracks a participant subscribes to, among the other participants of its room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subscribe {
    /// Every track of every other participant in the room, whatever its group (the default).
    All,
    /// Nothing: a publisher that does not watch, or a participant present for signaling only.
    None,
    /// The tracks of the first N other publishers in the room (N ≥ 1): a client that shows a
    /// fixed number of tiles.
    Count(u32),
    /// The tracks of the room's other participants in these groups (indices into
    /// [`crate::scenario::Scenario::groups`], ascending, no duplicates): e.g. viewers that watch hosts only.
    Groups(Vec<usize>),
}

/// A group's media: what each of its participants publishes at a `publish` step and what it
/// subscribes to while in the room. A group without it neither publishes nor subscribes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaSpec {
    /// At most one audio and one video track (a participant publishes at most one of each); empty
    /// for a group that only subscribes.
    pub publish: Vec<TrackSpec>,
    /// Whose tracks it receives.
    pub subscribe: Subscribe,
}

/// `32kbps`, `1.5Mbps`, `800bps`: the largest unit that keeps the number short.
pub fn format_bitrate(bps: u64) -> String {
    let trim = |x: f64| {
        let s = format!("{x:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    };
    if bps >= 1_000_000 {
        format!("{}Mbps", trim(bps as f64 / 1e6))
    } else if bps >= 1_000 {
        format!("{}kbps", trim(bps as f64 / 1e3))
    } else {
        format!("{bps}bps")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn audio_frames_packets_and_wire_rate() {
        let a = TrackSpec::audio(32_000, ms(20));
        assert_eq!(a.fps, 50);
        assert_eq!(a.frame_interval(), ms(20));
        assert_eq!(a.frame_bytes(), 80);
        assert_eq!(a.packets_per_frame(), 1);
        assert_eq!(a.packets_per_second(), 50.0);
        // (80 + 50) bytes × 8 × 50 frames.
        assert_eq!(a.wire_bits_per_second(), 52_000.0);
        let long = TrackSpec::audio(48_000, ms(60));
        assert_eq!(long.fps, 16);
        assert_eq!(long.frame_bytes(), 360);
        assert!((long.packets_per_second() - 50.0 / 3.0).abs() < 1e-9);
    }

    #[test]
    fn video_frames_split_over_packets() {
        let v = TrackSpec::video(500_000, 30, Duration::from_secs(2));
        assert_eq!(v.ptime, Duration::from_nanos(33_333_333));
        assert_eq!(v.frame_bytes(), 2083);
        assert_eq!(v.packets_per_frame(), 2);
        assert_eq!(v.packets_per_second(), 60.0);
        // (2083 + 2 × 50) bytes × 8 × 30 frames.
        assert_eq!(v.wire_bits_per_second(), 523_920.0);
        let hd = TrackSpec::video(2_500_000, 30, Duration::from_secs(2));
        assert_eq!(hd.frame_bytes(), 10_417);
        assert_eq!(hd.packets_per_frame(), 10);
        let tiny = TrackSpec::video(6_000, 60, Duration::from_secs(2));
        assert_eq!(tiny.frame_bytes(), 13);
        assert_eq!(tiny.packets_per_frame(), 1);
        assert_eq!(MAX_PAYLOAD, 1100);
        assert_eq!(PACKET_OVERHEAD, 50);
    }

    #[test]
    fn descriptions_and_bitrates_read_back() {
        assert_eq!(
            TrackSpec::audio(32_000, ms(20)).describe(),
            "audio opus 32kbps ptime 20ms"
        );
        assert_eq!(
            TrackSpec::video(1_500_000, 25, ms(500)).describe(),
            "video vp8 1.5Mbps 25fps keyframe 500ms"
        );
        assert_eq!(format_bitrate(800), "800bps");
        assert_eq!(format_bitrate(10_000_000), "10Mbps");
        assert_eq!(format_bitrate(32_500), "32.5kbps");
        assert_eq!(Codec::Opus.kind(), MediaKind::Audio);
        assert_eq!(Codec::Vp8.kind(), MediaKind::Video);
    }
}
