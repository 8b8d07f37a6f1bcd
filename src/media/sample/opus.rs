//! Opus packets (RFC 6716 §3.2): splitting one into its frames and padding, re-framing it as a
//! code-3 packet whose padding ends with a trailer, and reading that trailer back. Kept apart
//! from the Ogg reader because a receiver uses these on every RTP packet, with no file involved.

use crate::media::frame::FrameHeader;

/// Largest Opus frame (RFC 6716 §3.2.1, \[R2\]).
const OPUS_MAX_FRAME: usize = 1275;

/// Most frames in one packet: 120 ms of 2.5 ms frames (RFC 6716 §3.2.5).
const OPUS_MAX_FRAMES: usize = 48;

/// An Opus packet split into its frames and padding per RFC 6716 §3.2, without copying.
#[derive(Debug, Clone)]
pub struct OpusPacket<'a> {
    packet: &'a [u8],
    /// (start, len) of each frame; the first `count` are used.
    frames: [(usize, usize); OPUS_MAX_FRAMES],
    count: usize,
    /// Where the Opus padding starts (the packet's length when there is none).
    padding_at: usize,
}

impl<'a> OpusPacket<'a> {
    /// The TOC byte.
    pub fn toc(&self) -> u8 {
        self.packet[0]
    }

    /// The TOC's configuration number, 0..=31 (mode, bandwidth, frame size).
    pub fn config(&self) -> u8 {
        self.packet[0] >> 3
    }

    /// The TOC's stereo bit.
    pub fn stereo(&self) -> bool {
        self.packet[0] & 0x04 != 0
    }

    /// The frame count code, 0..=3 (RFC 6716 §3.2).
    pub fn code(&self) -> u8 {
        self.packet[0] & 0x03
    }

    /// Number of frames in the packet (1..=48).
    pub fn frame_count(&self) -> usize {
        self.count
    }

    /// The compressed frames, in order.
    pub fn frames(&self) -> impl ExactSizeIterator<Item = &'a [u8]> + '_ {
        let packet = self.packet;
        self.frames[..self.count]
            .iter()
            .map(move |&(start, len)| &packet[start..start + len])
    }

    /// The Opus padding at the end of a code-3 packet (empty for other codes).
    pub fn padding(&self) -> &'a [u8] {
        &self.packet[self.padding_at..]
    }

    /// Samples per frame at 48 kHz, from the TOC's configuration (RFC 6716 §3.1).
    pub fn samples_per_frame(&self) -> u32 {
        opus_samples_per_frame(self.config())
    }

    /// Samples in the packet at 48 kHz: what an RTP timestamp advances by.
    pub fn samples(&self) -> u32 {
        self.samples_per_frame() * self.count as u32
    }
}

/// Samples per frame at 48 kHz for a TOC configuration (RFC 6716 §3.1, Table 2).
fn opus_samples_per_frame(config: u8) -> u32 {
    match config {
        // SILK-only: 10, 20, 40, 60 ms.
        0..=11 => [480, 960, 1920, 2880][usize::from(config % 4)],
        // Hybrid: 10, 20 ms.
        12..=15 => [480, 960][usize::from(config % 2)],
        // CELT-only: 2.5, 5, 10, 20 ms.
        _ => [120, 240, 480, 960][usize::from(config % 4)],
    }
}

/// Reads a frame length (RFC 6716 §3.2.1) at `at`: one byte below 252, else two
/// (`first + 4 × second`). Returns the length and the bytes it took.
fn opus_read_len(packet: &[u8], at: usize) -> Option<(usize, usize)> {
    let first = usize::from(*packet.get(at)?);
    if first < 252 {
        return Some((first, 1));
    }
    let second = usize::from(*packet.get(at + 1)?);
    Some((first + 4 * second, 2))
}

/// Appends a frame length as [`opus_read_len`] reads it.
fn opus_write_len(len: usize, out: &mut Vec<u8>) {
    debug_assert!(len <= OPUS_MAX_FRAME);
    if len < 252 {
        out.push(len as u8);
    } else {
        let first = 252 + (len & 3);
        out.push(first as u8);
        out.push(((len - first) / 4) as u8);
    }
}

/// Splits an Opus packet into frames and padding per RFC 6716 §3.2, enforcing its requirements
/// (\[R1\]–\[R7\]: a TOC byte, frames of at most 1,275 bytes, code 1's equal halves, code 3's
/// non-zero frame count and 120 ms limit, lengths and padding that fit). `None` for a malformed
/// packet, which a decoder would reject too.
pub fn opus_parse(packet: &[u8]) -> Option<OpusPacket<'_>> {
    let toc = *packet.first()?;
    let mut frames = [(0, 0); OPUS_MAX_FRAMES];
    let n = packet.len();
    let (count, padding_at) = match toc & 0x03 {
        0 => {
            frames[0] = (1, n - 1);
            (1, n)
        }
        1 => {
            if !(n - 1).is_multiple_of(2) {
                return None;
            }
            let half = (n - 1) / 2;
            frames[0] = (1, half);
            frames[1] = (1 + half, half);
            (2, n)
        }
        2 => {
            let (len, used) = opus_read_len(packet, 1)?;
            let start = 1 + used;
            let rest = n.checked_sub(start)?.checked_sub(len)?;
            frames[0] = (start, len);
            frames[1] = (start + len, rest);
            (2, n)
        }
        _ => {
            let count_byte = *packet.get(1)?;
            let vbr = count_byte & 0x80 != 0;
            let padded = count_byte & 0x40 != 0;
            let count = usize::from(count_byte & 0x3f);
            let per_frame = opus_samples_per_frame(toc >> 3) as usize;
            // M ≠ 0, and at most 120 ms (5,760 samples at 48 kHz).
            if count == 0 || count * per_frame > 5760 {
                return None;
            }
            let mut at = 2;
            let mut padding = 0usize;
            if padded {
                loop {
                    let b = *packet.get(at)?;
                    at += 1;
                    padding += if b == 255 { 254 } else { usize::from(b) };
                    if b != 255 {
                        break;
                    }
                }
            }
            let end = n.checked_sub(padding)?;
            if at > end {
                return None;
            }
            if vbr {
                let mut lens = [0usize; OPUS_MAX_FRAMES];
                for len in lens.iter_mut().take(count - 1) {
                    let (l, used) = opus_read_len(&packet[..end], at)?;
                    *len = l;
                    at += used;
                }
                let mut start = at;
                for (i, frame) in frames.iter_mut().enumerate().take(count - 1) {
                    *frame = (start, lens[i]);
                    start = start.checked_add(lens[i])?;
                }
                let last = end.checked_sub(start)?;
                frames[count - 1] = (start, last);
            } else {
                let data = end - at;
                if data % count != 0 {
                    return None;
                }
                let each = data / count;
                for (i, frame) in frames.iter_mut().enumerate().take(count) {
                    *frame = (at + i * each, each);
                }
            }
            (count, end)
        }
    };
    if frames[..count].iter().any(|&(_, len)| len > OPUS_MAX_FRAME) {
        return None;
    }
    Some(OpusPacket {
        packet,
        frames,
        count,
        padding_at,
    })
}

/// `packet` re-framed as a code-3 Opus packet (RFC 6716 §3.2.5) whose padding ends with
/// `trailer`: same TOC configuration and stereo bit, same frames byte for byte (so the same
/// audio), the packet's own padding (if any) kept, then `trailer`. Frames of unequal length are
/// written as VBR, equal ones as CBR. `None` when `packet` is not a valid Opus packet.
pub fn opus_with_padding(packet: &[u8], trailer: &[u8]) -> Option<Vec<u8>> {
    let p = opus_parse(packet)?;
    let old_padding = p.padding();
    let frames: Vec<&[u8]> = p.frames().collect();
    let vbr = frames.windows(2).any(|w| w[0].len() != w[1].len());
    let padding = old_padding.len() + trailer.len();
    let body: usize = frames.iter().map(|f| f.len()).sum();
    let mut out = Vec::with_capacity(2 + padding / 254 + 1 + 2 * frames.len() + body + padding);
    out.push(p.toc() | 0x03);
    out.push(u8::from(vbr) << 7 | 0x40 | frames.len() as u8);
    // Padding length: 255 stands for 254 bytes and another length byte; 0..=254 ends it.
    let mut left = padding;
    while left > 254 {
        out.push(255);
        left -= 254;
    }
    out.push(left as u8);
    if vbr {
        for f in &frames[..frames.len() - 1] {
            opus_write_len(f.len(), &mut out);
        }
    }
    for f in &frames {
        out.extend_from_slice(f);
    }
    out.extend_from_slice(old_padding);
    out.extend_from_slice(trailer);
    Some(out)
}

/// The roomstorm header a stamped Opus packet carries: the last
/// [`HEADER_LEN`](crate::media::frame::HEADER_LEN) bytes of its Opus padding. `None` when the
/// packet is malformed, has less padding, or the bytes are not a header (so a foreign packet is
/// never misread).
pub fn opus_trailer(packet: &[u8]) -> Option<FrameHeader> {
    FrameHeader::read_trailer(opus_parse(packet)?.padding())
}

#[cfg(test)]
mod tests {
    use super::super::tests::HEADER;
    use super::*;
    use crate::media::frame::HEADER_LEN;

    /// Hand-built packets: (name, bytes, frame lengths, padding length).
    fn opus_cases() -> Vec<(&'static str, Vec<u8>, Vec<usize>, usize)> {
        let toc = 23 << 3; // CELT WB 20 ms, mono
        let frame = |len: usize, fill: u8| vec![fill; len];
        vec![
            ("code 0", [vec![toc], frame(40, 1)].concat(), vec![40], 0),
            ("code 0 empty (DTX)", vec![toc], vec![0], 0),
            (
                "code 1",
                [vec![toc | 1], frame(30, 2), frame(30, 3)].concat(),
                vec![30, 30],
                0,
            ),
            (
                "code 2 short first",
                [vec![toc | 2, 10], frame(10, 4), frame(50, 5)].concat(),
                vec![10, 50],
                0,
            ),
            (
                "code 2 two-byte length",
                // 300 = 252 + 4 × 12.
                [vec![toc | 2, 252, 12], frame(300, 6), frame(7, 7)].concat(),
                vec![300, 7],
                0,
            ),
            (
                "code 3 CBR 3 frames",
                [vec![toc | 3, 3], frame(60, 8)].concat(),
                vec![20, 20, 20],
                0,
            ),
            (
                "code 3 CBR padded 255 (255 = 254 + 1)",
                [vec![toc | 3, 0x41, 255, 1], frame(9, 9), frame(255, 0)].concat(),
                vec![9],
                255,
            ),
            (
                "code 3 VBR 3 frames padded",
                [
                    vec![toc | 3, 0xc3, 4, 5, 253, 1],
                    frame(5, 1),
                    frame(257, 2),
                ]
                .concat()
                .into_iter()
                .chain(frame(11, 3))
                .chain(frame(4, 0))
                .collect(),
                vec![5, 257, 11],
                4,
            ),
        ]
    }

    #[test]
    fn opus_parse_table() {
        for (name, packet, lens, padding) in opus_cases() {
            let p = opus_parse(&packet).unwrap_or_else(|| panic!("{name}"));
            let got: Vec<usize> = p.frames().map(<[u8]>::len).collect();
            assert_eq!(got, lens, "{name}");
            assert_eq!(p.padding().len(), padding, "{name}");
            assert_eq!(p.samples(), 960 * lens.len() as u32, "{name}");
        }
        let toc = 23 << 3;
        let silk60 = 3 << 3; // SILK NB 60 ms
        let bad: [(&str, Vec<u8>); 12] = [
            ("empty", vec![]),
            (
                "code 0 frame over 1275",
                [vec![toc], vec![0; 1276]].concat(),
            ),
            ("code 1 odd payload", vec![toc | 1, 1, 2, 3]),
            ("code 2 no length", vec![toc | 2]),
            ("code 2 length past end", vec![toc | 2, 10, 1, 2]),
            ("code 2 two-byte length cut", vec![toc | 2, 252]),
            ("code 3 no count", vec![toc | 3]),
            ("code 3 M = 0", vec![toc | 3, 0x00, 1]),
            ("code 3 over 120 ms", vec![silk60 | 3, 3, 1, 1, 1]),
            ("code 3 CBR not a multiple", vec![toc | 3, 2, 1, 2, 3]),
            ("code 3 padding past end", vec![toc | 3, 0x41, 10, 1, 2]),
            ("code 3 VBR lengths past end", vec![toc | 3, 0x82, 9, 1, 2]),
        ];
        for (name, packet) in bad {
            assert!(opus_parse(&packet).is_none(), "{name}");
            assert!(opus_with_padding(&packet, b"x").is_none(), "{name}");
        }
        // 120 ms exactly is allowed: 2 × 60 ms.
        assert!(opus_parse(&[silk60 | 3, 2, 1, 1]).is_some());
    }

    #[test]
    fn opus_with_padding_round_trips_every_code_and_padding_length() {
        let trailers: Vec<Vec<u8>> = [0, 1, 24, 230, 253, 254, 255, 508, 509, 1000]
            .into_iter()
            .map(|n| (0..n).map(|i| (i * 7 + 1) as u8).collect())
            .collect();
        for (name, packet, lens, padding) in opus_cases() {
            let before = opus_parse(&packet).expect("valid");
            for t in &trailers {
                let out = opus_with_padding(&packet, t).expect("valid input");
                let after = opus_parse(&out).unwrap_or_else(|| panic!("{name} +{}", t.len()));
                assert_eq!(
                    (after.code(), after.config()),
                    (3, before.config()),
                    "{name}"
                );
                assert!(after.frames().eq(before.frames()), "{name} +{}", t.len());
                assert_eq!(after.padding().len(), padding + t.len(), "{name}");
                assert_eq!(&after.padding()[..padding], before.padding(), "{name}");
                assert_eq!(&after.padding()[padding..], &t[..], "{name}");
                // VBR exactly when the frames differ in length.
                let vbr = lens.windows(2).any(|w| w[0] != w[1]);
                assert_eq!(out[1] & 0x80 != 0, vbr, "{name}");
            }
        }
    }

    #[test]
    fn opus_trailer_needs_a_header_in_padding() {
        let packet = [23 << 3, 1, 2, 3];
        assert_eq!(opus_trailer(&packet), None);
        let short = opus_with_padding(&packet, &HEADER.to_bytes()[..HEADER_LEN - 1]).unwrap();
        assert_eq!(opus_trailer(&short), None);
        let stamped = opus_with_padding(&packet, &HEADER.to_bytes()).unwrap();
        assert_eq!(opus_trailer(&stamped), Some(HEADER));
        // A header in a frame's data (not padding) is not a stamp.
        let in_frame = [&[23u8 << 3][..], &HEADER.to_bytes()].concat();
        assert_eq!(FrameHeader::read_trailer(&in_frame), Some(HEADER));
        assert_eq!(opus_trailer(&in_frame), None);
    }
}
