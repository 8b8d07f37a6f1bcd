//! VP8 (RFC 6386) and its carriage: the frame tag every frame opens with, the IVF file the VP8
//! sample ships in, and the cutting of a (stamped) frame into RTP payloads (RFC 7741). Separate
//! from the Opus and Ogg code because nothing here is shared with them beyond [`Sample`].

use std::time::Duration;

use rtc::media::io::ivf_reader::IVFReader;

use super::{Sample, SampleCodec, SampleError, SampleFrame, err, keyframe_indices};
use crate::media::frame::HEADER_LEN;

/// The VP8 start code after a keyframe's frame tag (RFC 6386 §9.1).
pub(super) const VP8_START_CODE: [u8; 3] = [0x9d, 0x01, 0x2a];

/// The uncompressed data chunk at the start of every VP8 frame (RFC 6386 §9.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Vp8Tag {
    /// P bit clear: an intra frame.
    pub keyframe: bool,
    /// The version (profile), 0..=3 are defined.
    pub version: u8,
    /// Whether the frame is displayed (a WebRTC encoder never emits hidden frames).
    pub show_frame: bool,
    /// Size of the first partition, which follows the tag (and a keyframe's 7 more bytes).
    pub first_partition_len: u32,
    /// A keyframe's width and height (14 bits each; the scaling bits are dropped).
    pub size: Option<(u16, u16)>,
}

impl Vp8Tag {
    /// Bytes before the first partition: 10 for a keyframe, 3 otherwise.
    pub fn header_len(&self) -> usize {
        if self.keyframe { 10 } else { 3 }
    }
}

/// Reads the frame tag of a VP8 frame (the frame's data, not an RTP payload): `None` when the
/// frame is too short, a keyframe lacks the start code, or the first partition does not fit.
pub fn vp8_tag(frame: &[u8]) -> Option<Vp8Tag> {
    let b = frame.get(..3)?;
    let raw = u32::from(b[0]) | u32::from(b[1]) << 8 | u32::from(b[2]) << 16;
    let keyframe = raw & 1 == 0;
    let size = if keyframe {
        let k = frame.get(3..10)?;
        if k[..3] != VP8_START_CODE {
            return None;
        }
        let w = u16::from_le_bytes([k[3], k[4]]) & 0x3fff;
        let h = u16::from_le_bytes([k[5], k[6]]) & 0x3fff;
        Some((w, h))
    } else {
        None
    };
    let tag = Vp8Tag {
        keyframe,
        version: ((raw >> 1) & 0x7) as u8,
        show_frame: raw & 0x10 != 0,
        first_partition_len: raw >> 5,
        size,
    };
    (tag.header_len() + tag.first_partition_len as usize <= frame.len()).then_some(tag)
}

/// Parses an IVF file of VP8 frames (with the `rtc` crate's reader) into a [`Sample`]. Every
/// frame must have a valid tag and be shown, the first must be a keyframe, keyframes must match
/// the file's frame size, and timestamps must advance by a constant step.
pub fn parse_ivf(ivf: &[u8]) -> Result<Sample, SampleError> {
    const FILE_HEADER: usize = 32;
    const FRAME_HEADER: usize = 12;
    let (mut reader, header) =
        IVFReader::new(ivf).map_err(|e| SampleError(format!("IVF header: {e}")))?;
    if header.four_cc != *b"VP80" {
        return err(format!("IVF codec {:?}, not VP80", header.four_cc));
    }
    if usize::from(header.header_size) != FILE_HEADER {
        return err(format!("IVF header size {}", header.header_size));
    }
    // Bytes 16..20 (`timebase_denominator` in `rtc`) are the rate, 20..24 the scale: a
    // timestamp unit is scale / rate seconds.
    let (rate, scale) = (
        u64::from(header.timebase_denominator),
        u64::from(header.timebase_numerator),
    );
    if rate == 0 || scale == 0 {
        return err("IVF time base is zero");
    }
    let size = (header.width, header.height);
    let mut frames = Vec::new();
    let mut timestamps = Vec::new();
    let mut at = FILE_HEADER;
    while at < ivf.len() {
        let (data, fh) = reader
            .parse_next_frame()
            .map_err(|e| SampleError(format!("IVF frame {}: {e}", frames.len())))?;
        at += FRAME_HEADER + fh.frame_size as usize;
        let n = frames.len();
        let Some(tag) = vp8_tag(&data) else {
            return err(format!("VP8 frame {n}: bad frame tag"));
        };
        if !tag.show_frame {
            return err(format!("VP8 frame {n} is hidden (encode without alt-ref)"));
        }
        if tag.size.is_some_and(|s| s != size) {
            return err(format!(
                "VP8 keyframe {n}: {:?}, file says {size:?}",
                tag.size
            ));
        }
        if n == 0 && !tag.keyframe {
            return err("VP8 frame 0 is not a keyframe");
        }
        timestamps.push(fh.timestamp);
        let data = data.freeze();
        frames.push(SampleFrame {
            stamp_prefix: data.clone(),
            data,
            keyframe: tag.keyframe,
        });
    }
    if frames.is_empty() {
        return err("IVF without frames");
    }
    if header.num_frames != 0 && header.num_frames as usize != frames.len() {
        return err(format!(
            "IVF header counts {} frames, file has {}",
            header.num_frames,
            frames.len()
        ));
    }
    let step = timestamps
        .get(1)
        .map_or(1, |t| t.wrapping_sub(timestamps[0]));
    if step == 0
        || timestamps
            .windows(2)
            .any(|w| w[1].wrapping_sub(w[0]) != step)
    {
        return err("IVF timestamps do not advance by a constant step");
    }
    let frame_interval = Duration::from_nanos(step * scale * 1_000_000_000 / rate);
    Ok(Sample {
        codec: SampleCodec::Vp8,
        keyframes: keyframe_indices(&frames),
        frames,
        frame_interval,
        size: Some(size),
    })
}

/// Descriptor of a VP8 RTP payload that starts a frame (RFC 7741 §4.2): S bit, partition 0.
const VP8_DESC_START: u8 = 0x10;

/// Cuts a VP8 frame (stamped or not) into RTP payloads of at most `max_payload` bytes (RFC 7741):
/// a 1-byte payload descriptor (`0x10` on the first, with S set; `0x00` on the others, no
/// PictureID), then the next piece of the frame. Pieces are balanced (they differ by at most one
/// byte, the smallest last), so when `max_payload ≥ 2 × HEADER_LEN + 1` and the frame ends with
/// a trailer, the whole trailer is in the last payload, the one to send with the marker bit.
///
/// # Panics
/// If `max_payload < 2 × HEADER_LEN + 1`, or `frame` is empty.
pub fn vp8_payloads(frame: &[u8], max_payload: usize) -> impl ExactSizeIterator<Item = Vec<u8>> {
    assert!(
        max_payload > 2 * HEADER_LEN,
        "VP8 payloads of {max_payload} bytes cannot keep a trailer whole"
    );
    assert!(!frame.is_empty(), "an empty VP8 frame");
    let body = max_payload - 1;
    let n = frame.len().div_ceil(body);
    let (base, extra) = (frame.len() / n, frame.len() % n);
    // The first `extra` pieces carry one byte more.
    (0..n).map(move |i| {
        let start = i * base + i.min(extra);
        let len = base + usize::from(i < extra);
        let mut p = Vec::with_capacity(1 + len);
        p.push(if i == 0 { VP8_DESC_START } else { 0x00 });
        p.extend_from_slice(&frame[start..start + len]);
        p
    })
}

#[cfg(test)]
mod tests {
    use super::super::tests::HEADER;
    use super::super::{VP8_IVF, vp8};
    use super::*;
    use crate::media::frame::{FrameHeader, vp8_is_keyframe};

    #[test]
    fn vp8_payloads_cover_the_frame_and_keep_the_trailer_whole() {
        let mut stamped = Vec::new();
        for (i, f) in vp8().frames().iter().enumerate() {
            f.stamped_into(&HEADER, &mut stamped);
            for max in [49, 100, 1100, 1200, 64_000] {
                let payloads: Vec<Vec<u8>> = vp8_payloads(&stamped, max).collect();
                assert_eq!(payloads.len(), stamped.len().div_ceil(max - 1), "frame {i}");
                let body: Vec<u8> = payloads.iter().flat_map(|p| p[1..].to_vec()).collect();
                assert_eq!(body, stamped, "frame {i}, max {max}");
                let sizes: Vec<usize> = payloads.iter().map(Vec::len).collect();
                assert!(sizes.iter().all(|&s| s <= max), "{sizes:?}");
                assert!(sizes.windows(2).all(|w| w[0] >= w[1] && w[0] - w[1] <= 1));
                let (first, last) = (&payloads[0], payloads.last().expect("one"));
                assert_eq!(first[0], 0x10);
                assert!(payloads[1..].iter().all(|p| p[0] == 0x00));
                assert_eq!(FrameHeader::read_trailer(last), Some(HEADER));
                // What the existing receiver and Janus read: keyframe from the first payload.
                assert_eq!(vp8_is_keyframe(first), f.keyframe, "frame {i}");
                if f.keyframe {
                    assert!(first.len() >= 16 && first[4..7] == VP8_START_CODE);
                }
            }
        }
    }

    #[test]
    #[should_panic(expected = "cannot keep a trailer whole")]
    fn vp8_payloads_refuse_tiny_packets() {
        let _ = vp8_payloads(&[0; 100], 2 * HEADER_LEN);
    }

    #[test]
    fn vp8_tag_table() {
        let key = [0x10, 0x02, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0x68, 0x01];
        /// (name, frame, (keyframe, first partition length) or `None` when invalid).
        type Case = (&'static str, Vec<u8>, Option<(bool, u32)>);
        let cases: [Case; 7] = [
            (
                "keyframe, first partition 16",
                [&key[..], &[0; 16]].concat(),
                Some((true, 16)),
            ),
            (
                "keyframe, partition past end",
                [&key[..], &[0; 15]].concat(),
                None,
            ),
            (
                "keyframe without start code",
                vec![0x10, 0, 0, 1, 2, 3, 0, 0, 0, 0],
                None,
            ),
            ("keyframe cut in its header", key[..9].to_vec(), None),
            (
                "interframe, first partition 1",
                vec![0x31, 0, 0, 0xff],
                Some((false, 1)),
            ),
            (
                "interframe, empty partition",
                vec![0x11, 0, 0],
                Some((false, 0)),
            ),
            ("two bytes", vec![0x11, 0], None),
        ];
        for (name, frame, want) in cases {
            let got = vp8_tag(&frame).map(|t| (t.keyframe, t.first_partition_len));
            assert_eq!(got, want, "{name}");
        }
        let t = vp8_tag(&[&key[..], &[0; 16]].concat()).expect("valid");
        assert_eq!(
            (t.size, t.version, t.show_frame),
            (Some((640, 360)), 0, true)
        );
    }

    #[test]
    fn ivf_errors() {
        let good = VP8_IVF;
        let cut = |n: usize| good[..good.len() - n].to_vec();
        let mut fourcc = good.to_vec();
        fourcc[8..12].copy_from_slice(b"VP90");
        let mut sig = good.to_vec();
        sig[0] = b'X';
        let mut count = good.to_vec();
        count[24] = 59;
        let mut inter_first = good.to_vec();
        inter_first[32 + 12] |= 1;
        let cases: [(&str, Vec<u8>, &str); 7] = [
            ("truncated frame", cut(1), "IVF frame 59"),
            ("file header only", good[..32].to_vec(), "without frames"),
            ("short header", good[..20].to_vec(), "IVF header"),
            ("VP9", fourcc, "not VP80"),
            ("signature", sig, "IVF header"),
            ("frame count", count, "counts 59 frames"),
            ("first frame inter", inter_first, "frame 0"),
        ];
        for (name, bytes, want) in cases {
            let e = parse_ivf(&bytes).expect_err(name);
            assert!(e.to_string().contains(want), "{name}: {e}");
        }
    }
}
