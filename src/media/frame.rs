//! The synthetic frame header: how a roomstorm subscriber measures one-way media latency.
//!
//! Publishers and subscribers of a run share one process (or one host's monotonic clock), so a
//! frame that carries its send time on the run's clock gives `arrival − send` directly: media
//! latency through the server, with no clock synchronisation (media notes §2, "One-clock
//! latency"). Every synthetic frame therefore carries a fixed [`HEADER_LEN`]-byte header:
//!
//! | bytes | field | |
//! |---|---|---|
//! | 0..4 | magic | [`MAGIC`], `b"RSTM"` |
//! | 4 | version | [`VERSION`] |
//! | 5 | flags | bit 0: keyframe; other bits reserved (written 0, ignored on read) |
//! | 6..8 | track | the publisher's track index |
//! | 8..12 | publisher | the plan's participant id |
//! | 12..16 | sequence | frame number on that track |
//! | 16..24 | send_us | µs since the run's start, on the run's monotonic clock |
//!
//! All fields are big-endian. The header opens the payload of a frame's first packet
//! ([`FrameHeader::write_to`]), or, for codecs a real decoder receives, closes it as a trailer
//! ([`FrameHeader::write_trailer`]). For VP8 the packet starts with a payload descriptor and a
//! VP8 payload header ([`vp8_prefix`]) so that servers that inspect VP8 (Janus) see well-formed
//! frame starts and keyframes; the header follows at [`header_offset`].
//!
//! Everything here is pure: no I/O, no clock, no randomness, and no allocation beyond the
//! caller's reused `Vec`.

/// Identifies a roomstorm frame header, so that a receiver never mistakes foreign media for one.
pub const MAGIC: [u8; 4] = *b"RSTM";

/// The header layout version this build writes and accepts; bump it when the layout changes.
pub const VERSION: u8 = 1;

/// Size of the header (and of the trailer): what a payload must at least hold to carry one.
pub const HEADER_LEN: usize = 24;

/// Bit of the flags byte that marks a keyframe.
const FLAG_KEYFRAME: u8 = 0x01;

/// The per-frame facts the receiver needs to attribute a frame and time it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct FrameHeader {
    /// The publisher's participant id in the plan.
    pub publisher: u32,
    /// The publisher's track index (audio, video, screen …).
    pub track: u16,
    /// The frame number on that track, from 0; gaps show frames that never arrived.
    pub sequence: u32,
    /// Send time in µs since the run's start, on the run's monotonic clock.
    pub send_us: u64,
    /// Whether the frame is a keyframe (time to first keyframe, PLI answers).
    pub keyframe: bool,
}

impl FrameHeader {
    /// The header as bytes, for callers that assemble a payload themselves.
    pub fn to_bytes(&self) -> [u8; HEADER_LEN] {
        let mut b = [0u8; HEADER_LEN];
        b[0..4].copy_from_slice(&MAGIC);
        b[4] = VERSION;
        b[5] = if self.keyframe { FLAG_KEYFRAME } else { 0 };
        b[6..8].copy_from_slice(&self.track.to_be_bytes());
        b[8..12].copy_from_slice(&self.publisher.to_be_bytes());
        b[12..16].copy_from_slice(&self.sequence.to_be_bytes());
        b[16..24].copy_from_slice(&self.send_us.to_be_bytes());
        b
    }

    /// Writes the header at the start of `buf` (a frame's first packet payload); the rest of
    /// `buf` is left as it is.
    ///
    /// # Panics
    /// If `buf` is shorter than [`HEADER_LEN`].
    pub fn write_to(&self, buf: &mut [u8]) {
        assert!(
            buf.len() >= HEADER_LEN,
            "frame header needs {HEADER_LEN} bytes, buffer has {}",
            buf.len()
        );
        buf[..HEADER_LEN].copy_from_slice(&self.to_bytes());
    }

    /// Reads a header from the start of `buf`; `None` when `buf` is too short, does not start
    /// with [`MAGIC`], or carries another [`VERSION`]. Bytes after the header are ignored.
    pub fn read(buf: &[u8]) -> Option<FrameHeader> {
        let b: &[u8; HEADER_LEN] = buf.get(..HEADER_LEN)?.try_into().ok()?;
        if b[0..4] != MAGIC || b[4] != VERSION {
            return None;
        }
        Some(FrameHeader {
            keyframe: b[5] & FLAG_KEYFRAME != 0,
            track: u16::from_be_bytes([b[6], b[7]]),
            publisher: u32::from_be_bytes([b[8], b[9], b[10], b[11]]),
            sequence: u32::from_be_bytes([b[12], b[13], b[14], b[15]]),
            send_us: u64::from_be_bytes([b[16], b[17], b[18], b[19], b[20], b[21], b[22], b[23]]),
        })
    }

    /// Writes the header as a trailer in the last [`HEADER_LEN`] bytes of `buf`, for codecs
    /// whose payload start must stay valid for a real decoder.
    ///
    /// # Panics
    /// If `buf` is shorter than [`HEADER_LEN`].
    pub fn write_trailer(&self, buf: &mut [u8]) {
        assert!(
            buf.len() >= HEADER_LEN,
            "frame trailer needs {HEADER_LEN} bytes, buffer has {}",
            buf.len()
        );
        let start = buf.len() - HEADER_LEN;
        self.write_to(&mut buf[start..]);
    }

    /// Reads a trailer from the last [`HEADER_LEN`] bytes of `buf`, with the checks of
    /// [`FrameHeader::read`].
    pub fn read_trailer(buf: &[u8]) -> Option<FrameHeader> {
        let start = buf.len().checked_sub(HEADER_LEN)?;
        FrameHeader::read(&buf[start..])
    }
}

/// Filler byte at payload offset `i`: an arithmetic progression mod 256. Consecutive bytes
/// always differ by the same step, which `b"RSTM"` (steps 1, 1, −7) does not, so filler can never
/// contain the magic and be mistaken for a header.
fn filler_byte(i: usize) -> u8 {
    (i as u8).wrapping_mul(0x3b).wrapping_add(0xa5)
}

/// Builds a frame's first packet payload in `out` (cleared first, capacity reused): the header,
/// then deterministic filler up to exactly `len` bytes, or just the header when `len` is below
/// [`HEADER_LEN`]. Filler is cheap and reproducible: the byte at offset `i` is the same in every
/// packet, so a receiver may check it.
pub fn fill_payload(header: &FrameHeader, len: usize, out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(&header.to_bytes());
    out.extend((HEADER_LEN..len).map(filler_byte));
}

/// Builds the payload of a frame's later packets in `out` (cleared first, capacity reused):
/// exactly `len` filler bytes, the same bytes [`fill_payload`] puts at those offsets.
pub fn fill_filler(len: usize, out: &mut Vec<u8>) {
    out.clear();
    out.extend((0..len).map(filler_byte));
}

/// Length of [`vp8_prefix`]: the 1-byte VP8 payload descriptor plus the 10-byte VP8 keyframe
/// payload header (3-byte frame tag, 3-byte start code, 4 bytes of dimensions, RFC 7741 §4.3).
pub const VP8_PREFIX_LEN: usize = 11;

/// Width announced in synthetic VP8 keyframes (nobody decodes them; Janus only logs it).
pub const VP8_SYNTHETIC_WIDTH: u16 = 640;

/// Height announced in synthetic VP8 keyframes.
pub const VP8_SYNTHETIC_HEIGHT: u16 = 360;

/// The bytes every VP8 RTP payload of a synthetic stream starts with, so that a server that
/// inspects VP8 sees frame starts and keyframes where the stream has them. The whole array is
/// prepended to every packet; the synthetic data follows at [`header_offset`].
///
/// - First packet of a frame: descriptor `0x10` (S bit, partition 0), the VP8 frame tag
///   (RFC 6386 §9.1, 24 bits little-endian: P bit 0 for a keyframe / 1 for an interframe,
///   version 0, show_frame 1, first_part_size 0), then for a keyframe the start code `9d 01 2a`
///   and 14-bit width and height (little-endian, scale 0), for an interframe 7 zero bytes.
/// - Later packets: descriptor `0x00` (no S bit), then 10 zero bytes of opaque partition data.
///
/// The start code is not only for decoders: Janus's `janus_vp8_is_keyframe` (utils.c at
/// 94408ff) answers true only when it follows a P=0 tag in a payload of 16 bytes or more, and
/// gates simulcast switching and its periodic PLI timer on that answer. The frames are still not
/// decodable VP8: a roomstorm subscriber never decodes, and a browser would drop them.
pub fn vp8_prefix(keyframe: bool, first_packet: bool) -> [u8; VP8_PREFIX_LEN] {
    let mut p = [0u8; VP8_PREFIX_LEN];
    if !first_packet {
        return p;
    }
    p[0] = VP8_S_BIT;
    // Frame tag: bit 0 P (0 = keyframe), bits 1-3 version 0, bit 4 show_frame, size 0.
    p[1] = 0x10 | u8::from(!keyframe);
    if keyframe {
        p[4..7].copy_from_slice(&VP8_START_CODE);
        p[7..9].copy_from_slice(&(VP8_SYNTHETIC_WIDTH & 0x3fff).to_le_bytes());
        p[9..11].copy_from_slice(&(VP8_SYNTHETIC_HEIGHT & 0x3fff).to_le_bytes());
    }
    p
}

/// Where the synthetic data (the [`FrameHeader`] on a frame's first packet, filler on later
/// ones) starts in an RTP payload this sender builds: after the [`vp8_prefix`] for VP8, at 0
/// for other codecs. `first_packet` does not change it: every VP8 packet carries the whole
/// prefix, so senders and receivers agree without knowing the packet's place in its frame.
pub fn header_offset(codec_is_vp8: bool, first_packet: bool) -> usize {
    let _ = first_packet;
    if codec_is_vp8 { VP8_PREFIX_LEN } else { 0 }
}

const VP8_X_BIT: u8 = 0x80;
const VP8_S_BIT: u8 = 0x10;
const VP8_PID_MASK: u8 = 0x07;
const VP8_START_CODE: [u8; 3] = [0x9d, 0x01, 0x2a];

/// Length of the VP8 payload descriptor (RFC 7741 §4.2) at the start of `payload`: 1 byte, plus
/// with X set the extension byte and the PictureID (1 or 2 bytes, by its M bit), TL0PICIDX and
/// TID/Y/KEYIDX bytes its I, L, T/K bits announce. Lets a receiver find the VP8 payload behind a
/// descriptor another stack extended. `None` when `payload` ends inside the descriptor.
pub fn vp8_descriptor_len(payload: &[u8]) -> Option<usize> {
    let first = *payload.first()?;
    if first & VP8_X_BIT == 0 {
        return Some(1);
    }
    let ext = *payload.get(1)?;
    let mut len = 2;
    if ext & 0x80 != 0 {
        // I: PictureID, 15 bits when its M bit is set.
        let pid = *payload.get(len)?;
        len += if pid & 0x80 != 0 { 2 } else { 1 };
    }
    if ext & 0x40 != 0 {
        len += 1; // L: TL0PICIDX
    }
    if ext & 0x30 != 0 {
        len += 1; // T or K: TID/Y/KEYIDX
    }
    (payload.len() >= len).then_some(len)
}

/// Whether a VP8 RTP payload starts a keyframe: the descriptor's S bit is set with partition
/// index 0 (the start of a frame), and the P bit of the 3-byte frame tag that follows is clear
/// (RFC 7741 §4.3). Gives the subscriber its time to first keyframe without decoding. Unlike
/// Janus it does not require the start code. False for anything truncated.
pub fn vp8_is_keyframe(payload: &[u8]) -> bool {
    let Some(desc) = vp8_descriptor_len(payload) else {
        return false;
    };
    let first = payload[0];
    if first & VP8_S_BIT == 0 || first & VP8_PID_MASK != 0 {
        return false;
    }
    match payload.get(desc..desc + 3) {
        Some(tag) => tag[0] & 0x01 == 0,
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const fn h(publisher: u32, track: u16, sequence: u32, send_us: u64, kf: bool) -> FrameHeader {
        FrameHeader {
            publisher,
            track,
            sequence,
            send_us,
            keyframe: kf,
        }
    }

    const HEADERS: [FrameHeader; 5] = [
        h(0, 0, 0, 0, false),
        h(1, 1, 1, 1, true),
        h(42, 2, 30 * 3600, 3_600_000_000, false),
        h(u32::MAX, u16::MAX, u32::MAX, u64::MAX, true),
        h(
            0x0102_0304,
            0x0506,
            0x0708_090a,
            0x0b0c_0d0e_0f10_1112,
            false,
        ),
    ];

    #[test]
    fn layout_is_big_endian_in_documented_order() {
        let want: [u8; HEADER_LEN] = [
            b'R', b'S', b'T', b'M', 1, 0x01, 0x05, 0x06, 0x01, 0x02, 0x03, 0x04, 0x07, 0x08, 0x09,
            0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11, 0x12,
        ];
        let keyframe = FrameHeader {
            keyframe: true,
            ..HEADERS[4]
        };
        assert_eq!(keyframe.to_bytes(), want);
        assert_eq!(HEADERS[4].to_bytes()[5], 0, "flags without keyframe");
    }

    #[test]
    fn header_round_trips() {
        for hdr in HEADERS {
            let mut buf = [0u8; HEADER_LEN];
            hdr.write_to(&mut buf);
            assert_eq!(FrameHeader::read(&buf), Some(hdr), "{hdr:?}");
            assert_eq!(buf, hdr.to_bytes());
        }
    }

    #[test]
    fn writes_touch_only_their_header_len_bytes() {
        let mut buf = [0xeeu8; 40];
        HEADERS[4].write_to(&mut buf);
        assert!(buf[HEADER_LEN..].iter().all(|&b| b == 0xee));
        let mut buf = [0xeeu8; 40];
        HEADERS[4].write_trailer(&mut buf);
        assert!(buf[..40 - HEADER_LEN].iter().all(|&b| b == 0xee));
    }

    #[test]
    #[should_panic(expected = "frame header needs 24 bytes")]
    fn write_to_panics_on_short_buffer() {
        HEADERS[0].write_to(&mut [0u8; HEADER_LEN - 1]);
    }

    #[test]
    #[should_panic(expected = "frame trailer needs 24 bytes")]
    fn write_trailer_panics_on_short_buffer() {
        HEADERS[0].write_trailer(&mut [0u8; 3]);
    }

    #[test]
    fn read_rejects_short_foreign_and_other_versions() {
        let good = HEADERS[2].to_bytes();
        for len in 0..HEADER_LEN {
            assert_eq!(FrameHeader::read(&good[..len]), None, "len {len}");
            assert_eq!(
                FrameHeader::read_trailer(&good[..len]),
                None,
                "trailer len {len}"
            );
        }
        // (byte index, value): magic bytes, then version 0, 2 and 255.
        let cases = [
            (0, b'r'),
            (1, 0),
            (2, 0xff),
            (3, b'N'),
            (4, 0),
            (4, 2),
            (4, 0xff),
        ];
        for (at, byte) in cases {
            let mut bad = good;
            bad[at] = byte;
            assert_eq!(FrameHeader::read(&bad), None, "byte {at} = {byte:#x}");
        }
    }

    #[test]
    fn read_ignores_reserved_flags_and_trailing_bytes() {
        let mut buf = [0u8; 64];
        HEADERS[1].write_to(&mut buf);
        for (flags, keyframe) in [(0x00, false), (0x01, true), (0xfe, false), (0xff, true)] {
            buf[5] = flags;
            let want = FrameHeader {
                keyframe,
                ..HEADERS[1]
            };
            assert_eq!(FrameHeader::read(&buf), Some(want), "flags {flags:#x}");
        }
    }

    #[test]
    fn trailer_round_trips_at_the_end_of_any_length() {
        for len in [HEADER_LEN, HEADER_LEN + 1, 100, 1200] {
            for hdr in HEADERS {
                let mut buf = vec![0x55u8; len];
                hdr.write_trailer(&mut buf);
                assert_eq!(FrameHeader::read_trailer(&buf), Some(hdr), "len {len}");
                assert_eq!(buf[len - HEADER_LEN..], hdr.to_bytes());
            }
        }
        // A header at the start and a trailer at the end of one payload do not disturb each other.
        let mut buf = [0u8; 2 * HEADER_LEN];
        HEADERS[3].write_to(&mut buf);
        HEADERS[4].write_trailer(&mut buf);
        assert_eq!(FrameHeader::read(&buf), Some(HEADERS[3]));
        assert_eq!(FrameHeader::read_trailer(&buf), Some(HEADERS[4]));
        assert_eq!(FrameHeader::read_trailer(&[0u8; 100]), None);
    }

    #[test]
    fn fill_payload_has_exact_length_header_and_filler() {
        let mut out = vec![9u8; 7];
        let cases = [
            (0, HEADER_LEN),
            (1, HEADER_LEN),
            (23, HEADER_LEN),
            (24, 24),
            (25, 25),
        ];
        for (len, want_len) in cases.into_iter().chain([(1200, 1200)]) {
            fill_payload(&HEADERS[4], len, &mut out);
            assert_eq!(out.len(), want_len, "len {len}");
            assert_eq!(FrameHeader::read(&out), Some(HEADERS[4]));
            for (i, &b) in out.iter().enumerate().skip(HEADER_LEN) {
                assert_eq!(b, filler_byte(i), "offset {i}");
            }
        }
    }

    #[test]
    fn fill_is_deterministic_and_reuses_capacity() {
        let (mut a, mut b) = (Vec::new(), Vec::new());
        fill_payload(&HEADERS[2], 1000, &mut a);
        fill_payload(&HEADERS[2], 1000, &mut b);
        assert_eq!(a, b);
        let ptr = a.as_ptr();
        fill_payload(&HEADERS[3], 1000, &mut a);
        fill_filler(900, &mut a);
        assert_eq!(
            (a.as_ptr(), a.len()),
            (ptr, 900),
            "no reallocation for a payload that fits"
        );
    }

    #[test]
    fn filler_matches_payload_offsets_and_never_reads_as_a_header() {
        let (mut payload, mut filler) = (Vec::new(), Vec::new());
        fill_payload(&HEADERS[1], 4096, &mut payload);
        fill_filler(4096, &mut filler);
        assert_eq!(payload[HEADER_LEN..], filler[HEADER_LEN..]);
        assert!(
            filler.windows(4).all(|w| w != MAGIC),
            "filler contains the magic"
        );
        for len in [0, 1, 3, 4, 24, 25] {
            fill_filler(len, &mut filler);
            assert_eq!((filler.len(), FrameHeader::read(&filler)), (len, None));
        }
    }

    #[test]
    fn vp8_prefix_table() {
        const Z: [u8; VP8_PREFIX_LEN] = [0; VP8_PREFIX_LEN];
        let cases: [(bool, bool, [u8; VP8_PREFIX_LEN]); 4] = [
            (
                true,
                true,
                [0x10, 0x10, 0, 0, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0x68, 0x01],
            ),
            (false, true, [0x10, 0x11, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
            (true, false, Z),
            (false, false, Z),
        ];
        for (keyframe, first, want) in cases {
            assert_eq!(
                vp8_prefix(keyframe, first),
                want,
                "keyframe {keyframe} first {first}"
            );
        }
        assert_eq!(
            [640u16.to_le_bytes(), 360u16.to_le_bytes()],
            [[0x80, 2], [0x68, 1]]
        );
    }

    #[test]
    fn header_offset_table() {
        let cases = [
            (false, false, 0),
            (false, true, 0),
            (true, false, 11),
            (true, true, 11),
        ];
        for (vp8, first, want) in cases {
            assert_eq!(header_offset(vp8, first), want, "vp8 {vp8} first {first}");
        }
    }

    /// A packet as the sender builds it: the VP8 prefix, then the synthetic data.
    fn vp8_packet(hdr: &FrameHeader, first: bool, len: usize) -> Vec<u8> {
        let mut body = Vec::new();
        match first {
            true => fill_payload(hdr, len, &mut body),
            false => fill_filler(len, &mut body),
        }
        [&vp8_prefix(hdr.keyframe, first)[..], &body].concat()
    }

    #[test]
    fn vp8_packets_carry_header_and_keyframe_bit() {
        let off = header_offset(true, true);
        for hdr in HEADERS {
            let pkt = vp8_packet(&hdr, true, 100);
            assert_eq!(FrameHeader::read(&pkt[off..]), Some(hdr));
            assert_eq!(vp8_is_keyframe(&pkt), hdr.keyframe, "{hdr:?}");
            // What Janus needs to call it a keyframe: 16+ bytes, the start code after the tag.
            assert!(pkt.len() >= 16);
            assert_eq!(pkt[4..7] == VP8_START_CODE, hdr.keyframe);
            let later = vp8_packet(&hdr, false, 50);
            assert!(
                !vp8_is_keyframe(&later),
                "continuation packets never start a keyframe"
            );
            assert_eq!(
                (later.len(), later[0], later[off]),
                (off + 50, 0x00, filler_byte(0))
            );
        }
    }

    const KEY_TAG: [u8; 3] = [0x10, 0x00, 0x00];
    const INTER_TAG: [u8; 3] = [0x11, 0x00, 0x00];

    fn with_tag(desc: &[u8], tag: [u8; 3]) -> Vec<u8> {
        [desc, &tag, &[0x9d, 0x01, 0x2a, 0, 0, 0, 0]].concat()
    }

    /// Hand-built descriptors (RFC 7741 §4.2): (name, descriptor bytes, its length).
    const DESCRIPTORS: [(&str, &[u8], usize); 12] = [
        ("plain S", &[0x10], 1),
        ("X, no fields", &[0x90, 0x00], 2),
        ("X I 7-bit", &[0x90, 0x80, 0x05], 3),
        ("X I 15-bit", &[0x90, 0x80, 0x81, 0x23], 4),
        ("X L", &[0x90, 0x40, 0x07], 3),
        ("X T", &[0x90, 0x20, 0x40], 3),
        ("X K", &[0x90, 0x10, 0x05], 3),
        ("X T+K", &[0x90, 0x30, 0x65], 3),
        ("X I 7-bit L T", &[0x90, 0xe0, 0x7f, 0x01, 0x80], 5),
        ("X I 15-bit L T K", &[0x90, 0xf0, 0xff, 0xff, 0x01, 0xe0], 6),
        ("X I 15-bit K", &[0x90, 0x90, 0x80, 0x00, 0x1f], 5),
        ("N bit set, S", &[0x30], 1),
    ];

    #[test]
    fn vp8_descriptor_len_table() {
        for (name, desc, len) in DESCRIPTORS {
            assert_eq!(
                vp8_descriptor_len(&with_tag(desc, KEY_TAG)),
                Some(len),
                "{name}"
            );
            assert_eq!(
                vp8_descriptor_len(desc),
                Some(len),
                "{name}: descriptor alone"
            );
            assert_eq!(
                vp8_descriptor_len(&desc[..len - 1]),
                None,
                "{name}: truncated"
            );
        }
    }

    #[test]
    fn vp8_is_keyframe_reads_p_bit_behind_any_descriptor() {
        for (name, desc, _) in DESCRIPTORS {
            let full = with_tag(desc, KEY_TAG);
            assert!(vp8_is_keyframe(&full), "{name}: keyframe");
            assert!(
                !vp8_is_keyframe(&with_tag(desc, INTER_TAG)),
                "{name}: interframe"
            );
            // Without S the packet continues a frame; with PID 2 it starts another partition.
            for (set, clear) in [(0, VP8_S_BIT), (0x02, 0)] {
                let mut p = full.clone();
                p[0] = (p[0] | set) & !clear;
                assert!(!vp8_is_keyframe(&p), "{name}: first byte {:#x}", p[0]);
            }
            // Truncated anywhere before the end of the frame tag: false, no panic.
            for cut in 0..desc.len() + 3 {
                assert!(!vp8_is_keyframe(&full[..cut]), "{name}: cut at {cut}");
            }
            assert!(vp8_is_keyframe(&full[..desc.len() + 3]), "{name}: tag only");
        }
    }

    #[test]
    fn vp8_is_keyframe_edge_cases() {
        let cases: [(&str, &[u8], bool); 6] = [
            ("empty", &[], false),
            ("descriptor only", &[0x10], false),
            (
                "keyframe, size/version bits",
                &[0x10, 0xf4, 0xff, 0xff],
                true,
            ),
            ("interframe, size bits", &[0x10, 0xf5, 0xff, 0xff], false),
            ("no S, P clear", &[0x00, 0x10, 0x00, 0x00], false),
            ("X I, picture id missing", &[0x90, 0x80], false),
        ];
        for (name, payload, want) in cases {
            assert_eq!(vp8_is_keyframe(payload), want, "{name}");
        }
    }
}
