//! Pre-encoded media that a real decoder accepts: a 2 s VP8 clip and 2 s of Opus, compiled into
//! the binary, that a sender loops where a browser (or any decoder) receives the stream; and how
//! such a frame still carries the roomstorm [`FrameHeader`] without upsetting that decoder.
//!
//! # The samples
//!
//! `assets/media/` holds both files and their README (the exact ffmpeg commands, tool versions
//! and licence; `generate.sh` regenerates them byte for byte). They are made from ffmpeg's
//! synthetic sources (`testsrc2`, `sine`), so no third-party footage is involved.
//!
//! | sample | file | frames | keyframes | frame interval | rate |
//! |---|---|---|---|---|---|
//! | [`vp8()`] | `vp8-640x360-30fps.ivf` (IVF, 119,455 B) | 60 at 640x360 | 0 and 30 | 1/30 s | ~474 kbit/s |
//! | [`opus()`] | `opus-48k-20ms.ogg` (Ogg, 8,383 B) | 101 mono packets of 80 B | every packet | 20 ms | 32 kbit/s |
//!
//! They are parsed once, on first use, into [`Sample`]s: the IVF through the `rtc` crate's
//! [`IVFReader`](rtc::media::io::ivf_reader::IVFReader) (in `vp8.rs`); the Ogg by a small reader
//! (in `ogg.rs`), because `rtc`'s `OggReader` hands back whole page payloads without their
//! segment tables, and an Opus page holds up to a second of packets.
//!
//! # Stamping: a trailer where the decoder ignores it
//!
//! A synthetic frame opens with the header; a real one cannot (the decoder reads its first bytes),
//! and overwriting any byte of it changes what is decoded. So the 24 header bytes are **added**
//! at the end of the frame, where each codec's decoder ignores them:
//!
//! - **Opus**: the packet is re-framed as a code-3 packet with Opus padding (RFC 6716 §3.2.5)
//!   and the header is the last 24 bytes of that padding ([`opus_with_padding`]). The frames and
//!   the TOC's configuration are unchanged, so the audio is the same; "the decoder MUST accept
//!   any value for the padding bytes" (§3.2.5). The cost is 26 bytes per packet for a code-0
//!   packet (frame count byte, padding length byte, header), 24 for one already padded (25
//!   for a code-3 packet without padding): 10.4 kbit/s at 50 packets/s.
//! - **VP8**: the header follows the frame's last partition (RFC 6386 §9). The last DCT
//!   partition has no size field (it runs to the end of the frame), so the bytes do become part
//!   of it. But the boolean decoder decides each token from the bits just ahead of its position
//!   (it may load the trailer into its window, never use it), and the encoder flushed enough
//!   bits after the last token to decide it: what is decoded never depends on bytes after the
//!   encoder's output, and more bytes cannot trip libvpx's read-past-the-end check. RTP-wise
//!   the trailer closes the frame's last packet (the one with the marker bit).
//!
//! Checked with Debian 12's decoders (`assets/media/README.md`): libvpx 1.12 (`vpxdec`, ffmpeg's
//! `libvpx`) and ffmpeg's native VP8 decoder give the same MD5 for all 60 frames with and without
//! the trailer; libopus 1.3.1 (`opusdec`, ffmpeg's `libopus`) and ffmpeg's native Opus decoder
//! give the same PCM for the 101 packets with and without it.
//!
//! An RTP header extension was the alternative, and it was rejected: Janus negotiates its own
//! set of known extensions with each subscriber (and dropped even the audio extensions in the
//! shared media notes' test with webrtc-rs), so a roomstorm-specific URI would never reach a
//! browser through it; a one-byte extension (RFC 8285) carries at most 16 bytes, short of 24;
//! and the payload route works through any SFU that forwards payloads as they are.
//!
//! A receiver reads the trailer with [`FrameHeader::read_trailer`] on a VP8 packet with the
//! marker bit, or with [`opus_trailer`] (which also checks that it lies in Opus padding).
//!
//! # Layout
//!
//! This file holds what the rest of the crate uses a sample through ([`Sample`], [`SampleFrame`],
//! [`vp8()`], [`opus()`]); each format has its own file, all re-exported here so every item keeps
//! its `crate::media::sample::` path:
//!
//! - `vp8.rs`: the VP8 frame tag, the IVF file parser and the cutting of frames into RTP payloads;
//! - `opus.rs`: Opus packets (RFC 6716 §3.2): parsing, re-framing with padding, the trailer;
//! - `ogg.rs`: the Ogg page reader and the Ogg Opus file parser built on `opus.rs`.

mod ogg;
mod opus;
mod vp8;

use std::sync::OnceLock;
use std::time::Duration;

use bytes::Bytes;

pub use self::ogg::parse_ogg_opus;
pub use self::opus::{OpusPacket, opus_parse, opus_trailer, opus_with_padding};
pub use self::vp8::{Vp8Tag, parse_ivf, vp8_payloads, vp8_tag};
use super::frame::{FrameHeader, HEADER_LEN};

/// The VP8 sample as generated (`assets/media/README.md`).
static VP8_IVF: &[u8] = include_bytes!("../../../assets/media/vp8-640x360-30fps.ivf");

/// The Opus sample as generated (`assets/media/README.md`).
static OPUS_OGG: &[u8] = include_bytes!("../../../assets/media/opus-48k-20ms.ogg");

/// Why a sample file did not parse (only for a broken or foreign file: the embedded ones parse,
/// which the tests check).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("media sample: {0}")]
pub struct SampleError(String);

fn err<T>(msg: impl Into<String>) -> Result<T, SampleError> {
    Err(SampleError(msg.into()))
}

/// The codec of a [`Sample`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SampleCodec {
    /// VP8 frames (RFC 6386), one per video frame.
    Vp8,
    /// Opus packets (RFC 6716), one per RTP packet.
    Opus,
}

/// One encoded frame of a sample.
#[derive(Debug, Clone)]
pub struct SampleFrame {
    /// The frame as the encoder wrote it: a VP8 frame, or an Opus packet.
    pub data: Bytes,
    /// Whether decoding can start here: a VP8 keyframe (frame tag P bit clear); every Opus
    /// packet (a decoder can start at any packet).
    pub keyframe: bool,
    /// What precedes the header in the stamped frame: `data` for VP8, the packet re-framed with
    /// room for the header in its padding for Opus.
    stamp_prefix: Bytes,
}

impl SampleFrame {
    /// Length of the frame once stamped ([`SampleFrame::stamped_into`]).
    pub fn stamped_len(&self) -> usize {
        self.stamp_prefix.len() + HEADER_LEN
    }

    /// Writes into `out` (cleared first, capacity reused) the frame carrying `header` as a
    /// trailer where its decoder ignores it: after a VP8 frame's last partition, or in the Opus
    /// padding of a re-framed packet (see the module's documentation). The trailer is the last
    /// [`HEADER_LEN`] bytes, so [`FrameHeader::read_trailer`] finds it.
    pub fn stamped_into(&self, header: &FrameHeader, out: &mut Vec<u8>) {
        out.clear();
        out.reserve(self.stamped_len());
        out.extend_from_slice(&self.stamp_prefix);
        out.extend_from_slice(&header.to_bytes());
    }

    /// [`SampleFrame::stamped_into`] into a new buffer.
    pub fn stamped(&self, header: &FrameHeader) -> Vec<u8> {
        let mut out = Vec::new();
        self.stamped_into(header, &mut out);
        out
    }
}

/// A parsed sample: its frames in order, looped by [`Sample::frame`].
#[derive(Debug, Clone)]
pub struct Sample {
    codec: SampleCodec,
    frames: Vec<SampleFrame>,
    /// Indices of the keyframes, ascending; never empty (frame 0 is one).
    keyframes: Vec<usize>,
    frame_interval: Duration,
    /// Width and height for video.
    size: Option<(u16, u16)>,
}

impl Sample {
    /// VP8 or Opus.
    pub fn codec(&self) -> SampleCodec {
        self.codec
    }

    /// Frames in one pass of the sample (at least 1).
    pub fn len(&self) -> usize {
        self.frames.len()
    }

    /// Never true: a sample without frames does not parse.
    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    /// The frames of one pass, in order.
    pub fn frames(&self) -> &[SampleFrame] {
        &self.frames
    }

    /// Frame `k` of the looped sample: frame `k mod len`.
    pub fn frame(&self, k: u64) -> &SampleFrame {
        &self.frames[(k % self.frames.len() as u64) as usize]
    }

    /// Indices (within one pass) of the frames where decoding can start, ascending; frame 0 is
    /// always one, so the loop's restart is decodable.
    pub fn keyframes(&self) -> &[usize] {
        &self.keyframes
    }

    /// The first position `p ≥ k` of the looped sample whose frame is a keyframe, less than one
    /// pass ahead. A sender answering a keyframe request moves its position there and sends that
    /// frame next: the frames skipped are never needed, since the keyframe resets the decoder.
    /// For Opus (every packet a keyframe) it is `k`.
    pub fn next_keyframe_at_or_after(&self, k: u64) -> u64 {
        let len = self.frames.len() as u64;
        let at = (k % len) as usize;
        let i = self.keyframes.partition_point(|&kf| kf < at);
        match self.keyframes.get(i) {
            Some(&kf) => k + (kf - at) as u64,
            // Past the last keyframe: the loop's next pass starts with one.
            None => k + (len - at as u64) + self.keyframes[0] as u64,
        }
    }

    /// The time between frames the encoder used (1/30 s for the VP8 sample, 20 ms for Opus);
    /// a sender should pace at this interval, and step RTP timestamps by it.
    pub fn frame_interval(&self) -> Duration {
        self.frame_interval
    }

    /// Width and height of a video sample (from its IVF header; keyframes agree).
    pub fn size(&self) -> Option<(u16, u16)> {
        self.size
    }

    /// Encoded bytes in one pass (frames as written, without stamps).
    pub fn bytes(&self) -> u64 {
        self.frames.iter().map(|f| f.data.len() as u64).sum()
    }

    /// Average encoded bitrate over one pass at [`Sample::frame_interval`], bits per second.
    pub fn bitrate_bps(&self) -> u64 {
        let pass = self.frame_interval.as_secs_f64() * self.frames.len() as f64;
        (self.bytes() as f64 * 8.0 / pass).round() as u64
    }
}

/// The embedded VP8 sample, parsed on first use.
pub fn vp8() -> &'static Sample {
    static SAMPLE: OnceLock<Sample> = OnceLock::new();
    SAMPLE.get_or_init(|| parse_ivf(VP8_IVF).expect("the embedded VP8 sample parses"))
}

/// The embedded Opus sample, parsed on first use.
pub fn opus() -> &'static Sample {
    static SAMPLE: OnceLock<Sample> = OnceLock::new();
    SAMPLE.get_or_init(|| parse_ogg_opus(OPUS_OGG).expect("the embedded Opus sample parses"))
}

/// Indices of the keyframes among `frames`, ascending (shared by both parsers).
fn keyframe_indices(frames: &[SampleFrame]) -> Vec<usize> {
    (0..frames.len()).filter(|&i| frames[i].keyframe).collect()
}

#[cfg(test)]
mod tests {
    use sha2::{Digest, Sha256};

    use super::vp8::VP8_START_CODE;
    use super::*;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The files are the ones the README documents (its commands reproduce these digests).
    #[test]
    fn embedded_files_match_the_readme() {
        let readme = include_str!("../../../assets/media/README.md");
        for (name, bytes) in [
            ("vp8-640x360-30fps.ivf", VP8_IVF),
            ("opus-48k-20ms.ogg", OPUS_OGG),
        ] {
            let digest = hex(&Sha256::digest(bytes));
            assert!(
                readme.contains(&format!("{digest}  {name}")),
                "{name}: sha256 {digest} not in assets/media/README.md"
            );
            assert!(
                readme.contains(&format!("{name}` | {} B", fmt_thousands(bytes.len()))),
                "{name}: size {} not in the README's table",
                bytes.len()
            );
        }
    }

    fn fmt_thousands(n: usize) -> String {
        let s = n.to_string();
        let mut out = String::new();
        for (i, c) in s.chars().enumerate() {
            if i > 0 && (s.len() - i).is_multiple_of(3) {
                out.push(',');
            }
            out.push(c);
        }
        out
    }

    #[test]
    fn vp8_sample_is_as_generated() {
        let s = vp8();
        assert_eq!(s.codec(), SampleCodec::Vp8);
        assert_eq!(s.len(), 60);
        assert!(!s.is_empty());
        assert_eq!(s.keyframes(), &[0, 30]);
        assert_eq!(s.size(), Some((640, 360)));
        assert_eq!(s.frame_interval(), Duration::from_nanos(33_333_333));
        assert_eq!(s.bytes(), 119_455 - 32 - 60 * 12);
        let kbps = s.bitrate_bps() / 1000;
        assert!((440..=520).contains(&kbps), "{kbps} kbit/s");
        for (i, f) in s.frames().iter().enumerate() {
            let tag = vp8_tag(&f.data).unwrap_or_else(|| panic!("frame {i}"));
            assert_eq!(tag.keyframe, f.keyframe, "frame {i}");
            assert_eq!(f.keyframe, i % 30 == 0, "frame {i}");
            assert!(tag.show_frame, "frame {i} hidden");
            assert_eq!(tag.version, 0, "frame {i}");
            assert_eq!(f.data[0] & 1 == 0, f.keyframe, "P bit of frame {i}");
            if f.keyframe {
                assert_eq!(f.data[3..6], VP8_START_CODE, "frame {i}");
                assert_eq!(tag.size, Some((640, 360)));
            }
        }
    }

    #[test]
    fn opus_sample_is_as_generated() {
        let s = opus();
        assert_eq!(s.codec(), SampleCodec::Opus);
        assert_eq!(s.len(), 101);
        assert_eq!(s.size(), None);
        assert_eq!(s.frame_interval(), Duration::from_millis(20));
        assert_eq!(s.keyframes().len(), 101, "every packet starts decoding");
        assert_eq!(s.bitrate_bps(), 32_000);
        let mut codes = [0; 4];
        for (i, f) in s.frames().iter().enumerate() {
            assert_eq!(f.data.len(), 80, "hard CBR: packet {i}");
            let p = opus_parse(&f.data).unwrap_or_else(|| panic!("packet {i}"));
            assert_eq!((p.frame_count(), p.samples()), (1, 960), "packet {i}");
            assert!(!p.stereo(), "packet {i} is mono");
            // 20 ms configurations: SILK 1/5/9, hybrid 13/15, CELT 19/23/27/31.
            assert!(
                [1, 5, 9, 13, 15, 19, 23, 27, 31].contains(&p.config()),
                "packet {i}: config {}",
                p.config()
            );
            codes[usize::from(p.code())] += 1;
            if p.code() == 3 {
                assert!(
                    p.padding().iter().all(|&b| b == 0),
                    "encoder padding is zero"
                );
            }
        }
        // libopus pads the packets it cannot fill to the CBR size with code 3: both kinds occur.
        assert_eq!(codes[1] + codes[2], 0);
        assert!(codes[0] > 0 && codes[3] > 0, "{codes:?}");
    }

    #[test]
    fn frames_loop_and_keyframe_jumps() {
        let s = vp8();
        assert!(std::ptr::eq(s.frame(60), s.frame(0)));
        assert!(std::ptr::eq(s.frame(60 * 1000 + 7), s.frame(7)));
        let cases = [
            (0, 0),
            (1, 30),
            (29, 30),
            (30, 30),
            (31, 60),
            (59, 60),
            (60, 60),
            (61, 90),
            (6_000_045, 6_000_060),
        ];
        for (k, want) in cases {
            assert_eq!(s.next_keyframe_at_or_after(k), want, "k {k}");
            assert!(s.frame(want).keyframe);
        }
        let o = opus();
        for k in [0, 1, 100, 101, 12_345] {
            assert_eq!(o.next_keyframe_at_or_after(k), k);
        }
    }

    pub(super) const HEADER: FrameHeader = FrameHeader {
        publisher: 0x0102_0304,
        track: 7,
        sequence: 99,
        send_us: 0x0a0b_0c0d_0e0f,
        keyframe: true,
    };

    #[test]
    fn stamped_vp8_frames_keep_the_frame_and_end_with_the_header() {
        let mut out = Vec::new();
        for f in vp8().frames() {
            f.stamped_into(&HEADER, &mut out);
            assert_eq!(out.len(), f.stamped_len());
            assert_eq!(out[..f.data.len()], f.data[..]);
            assert_eq!(FrameHeader::read_trailer(&out), Some(HEADER));
            assert_eq!(vp8_tag(&out), vp8_tag(&f.data), "the tag reads the same");
        }
    }

    #[test]
    fn stamped_opus_packets_keep_toc_frames_and_carry_the_header_in_padding() {
        for (i, f) in opus().frames().iter().enumerate() {
            let out = f.stamped(&HEADER);
            let before = opus_parse(&f.data).expect("valid");
            let after = opus_parse(&out).unwrap_or_else(|| panic!("stamped packet {i}"));
            assert_eq!(after.code(), 3);
            assert_eq!(after.config(), before.config());
            assert_eq!(after.stereo(), before.stereo());
            assert_eq!(after.samples(), before.samples());
            assert!(after.frames().eq(before.frames()), "packet {i}: frames");
            assert_eq!(after.padding().len(), before.padding().len() + HEADER_LEN);
            assert_eq!(opus_trailer(&out), Some(HEADER));
            assert_eq!(FrameHeader::read_trailer(&out), Some(HEADER));
            // Overhead beyond the header: the frame count and padding length bytes a code-0
            // packet lacks, the padding length byte of a code-3 packet without padding.
            let extra = match (before.code(), f.data[1] & 0x40 != 0) {
                (3, true) => 0,
                (3, false) => 1,
                _ => 2,
            };
            assert_eq!(out.len(), f.data.len() + HEADER_LEN + extra, "packet {i}");
            assert_eq!(opus_trailer(&f.data), None, "unstamped");
        }
    }
}

#[cfg(test)]
mod plan_tests {
    use super::*;
    use crate::scenario::{SAMPLE_AUDIO_BPS, SAMPLE_FPS, SAMPLE_PTIME, SAMPLE_VIDEO_BPS};

    /// The stamped rate of a sample: what its track puts on the wire as RTP payload.
    fn stamped_bps(s: &Sample) -> f64 {
        let bytes: usize = s.frames().iter().map(SampleFrame::stamped_len).sum();
        bytes as f64 * 8.0 / (s.frame_interval().as_secs_f64() * s.len() as f64)
    }

    #[test]
    fn the_scenario_plans_sample_tracks_with_the_samples_own_rates() {
        let (video, audio) = (stamped_bps(vp8()), stamped_bps(opus()));
        eprintln!("stamped rates: video {video:.0} bps, audio {audio:.0} bps");
        assert!(
            (video / SAMPLE_VIDEO_BPS as f64 - 1.0).abs() < 0.005,
            "{video}"
        );
        assert!(
            (audio / SAMPLE_AUDIO_BPS as f64 - 1.0).abs() < 0.005,
            "{audio}"
        );
        assert_eq!(
            vp8().frame_interval().as_nanos(),
            1_000_000_000 / u128::from(SAMPLE_FPS)
        );
        assert_eq!(opus().frame_interval(), SAMPLE_PTIME);
    }
}
