//! The Ogg container (RFC 3533) and the Ogg Opus file (RFC 7845) the Opus sample ships in: a
//! small page reader of our own, because `rtc`'s `OggReader` hands back whole page payloads
//! without their segment tables, and an Opus page holds up to a second of packets.

use std::sync::OnceLock;
use std::time::Duration;

use bytes::Bytes;
use rtc::media::io::ogg_reader::parse_opus_head;

use super::opus::{opus_parse, opus_with_padding};
use super::{Sample, SampleCodec, SampleError, SampleFrame, err, keyframe_indices};
use crate::media::frame::HEADER_LEN;

/// Page header size before the segment table (RFC 3533 §6).
const OGG_PAGE_HEADER: usize = 27;

/// Header type flags (RFC 3533 §6).
const OGG_CONTINUED: u8 = 0x01;
const OGG_BOS: u8 = 0x02;
const OGG_EOS: u8 = 0x04;

/// The Ogg page checksum: CRC-32, polynomial 0x04c11db7, no reflection, initial value 0, over
/// the page with its checksum field zeroed (RFC 3533 §6).
fn ogg_crc(bytes: impl IntoIterator<Item = u8>) -> u32 {
    static TABLE: OnceLock<[u32; 256]> = OnceLock::new();
    let table = TABLE.get_or_init(|| {
        let mut t = [0u32; 256];
        for (i, e) in t.iter_mut().enumerate() {
            let mut r = (i as u32) << 24;
            for _ in 0..8 {
                r = if r & 0x8000_0000 != 0 {
                    (r << 1) ^ 0x04c1_1db7
                } else {
                    r << 1
                };
            }
            *e = r;
        }
        t
    });
    bytes.into_iter().fold(0u32, |crc, b| {
        (crc << 8) ^ table[usize::from((crc >> 24) as u8 ^ b)]
    })
}

/// The packets of a single-stream Ogg file, in order (RFC 3533): pages checked (capture
/// pattern, version, checksum, one serial number, page sequence, beginning and end of stream),
/// segments joined into packets, across pages where a packet continues.
fn ogg_packets(ogg: &[u8]) -> Result<Vec<Vec<u8>>, SampleError> {
    let mut packets = Vec::new();
    let mut pending: Option<Vec<u8>> = None;
    let mut serial = None;
    let mut at = 0;
    let mut page = 0u32;
    let mut ended = false;
    while at < ogg.len() {
        let Some(h) = ogg.get(at..at + OGG_PAGE_HEADER) else {
            return err(format!("Ogg page {page}: truncated header"));
        };
        if &h[0..4] != b"OggS" || h[4] != 0 {
            return err(format!("Ogg page {page}: no capture pattern or version 0"));
        }
        if ended {
            return err(format!("Ogg page {page} after the end of stream"));
        }
        let flags = h[5];
        let page_serial = u32::from_le_bytes([h[14], h[15], h[16], h[17]]);
        let sequence = u32::from_le_bytes([h[18], h[19], h[20], h[21]]);
        let checksum = u32::from_le_bytes([h[22], h[23], h[24], h[25]]);
        let segments = usize::from(h[26]);
        let Some(lacing) = ogg.get(at + OGG_PAGE_HEADER..at + OGG_PAGE_HEADER + segments) else {
            return err(format!("Ogg page {page}: truncated segment table"));
        };
        let body_at = at + OGG_PAGE_HEADER + segments;
        let body_len: usize = lacing.iter().map(|&l| usize::from(l)).sum();
        let Some(body) = ogg.get(body_at..body_at + body_len) else {
            return err(format!("Ogg page {page}: truncated body"));
        };
        let whole = &ogg[at..body_at + body_len];
        let computed = ogg_crc(
            whole
                .iter()
                .enumerate()
                .map(|(i, &b)| if (22..26).contains(&i) { 0 } else { b }),
        );
        if computed != checksum {
            return err(format!("Ogg page {page}: checksum mismatch"));
        }
        if *serial.get_or_insert(page_serial) != page_serial {
            return err(format!("Ogg page {page}: a second logical stream"));
        }
        if sequence != page {
            return err(format!("Ogg page {page}: sequence number {sequence}"));
        }
        if (flags & OGG_BOS != 0) != (page == 0) {
            return err(format!(
                "Ogg page {page}: beginning-of-stream flag misplaced"
            ));
        }
        if (flags & OGG_CONTINUED != 0) != pending.is_some() {
            return err(format!("Ogg page {page}: continuation flag disagrees"));
        }
        let mut off = 0;
        for &l in lacing {
            let l = usize::from(l);
            pending
                .get_or_insert_with(Vec::new)
                .extend_from_slice(&body[off..off + l]);
            off += l;
            if l < 255 {
                packets.push(pending.take().expect("just filled"));
            }
        }
        ended = flags & OGG_EOS != 0;
        at = body_at + body_len;
        page += 1;
    }
    if pending.is_some() {
        return err("Ogg stream ends inside a packet");
    }
    if !ended {
        return err("Ogg stream without an end-of-stream page");
    }
    Ok(packets)
}

/// Parses an Ogg Opus file (RFC 7845) into a [`Sample`]: the `OpusHead` packet (a single Opus
/// stream, channel mapping family 0) and `OpusTags` are checked and skipped, and every audio
/// packet must be valid (RFC 6716 §3.2) and of one duration, which is the frame interval.
pub fn parse_ogg_opus(ogg: &[u8]) -> Result<Sample, SampleError> {
    let packets = ogg_packets(ogg)?;
    let [head, tags, audio @ ..] = packets.as_slice() else {
        return err("Ogg Opus needs OpusHead, OpusTags and audio packets");
    };
    let head = parse_opus_head(head).map_err(|e| SampleError(format!("OpusHead: {e}")))?;
    if head.channel_map != 0 {
        return err(format!(
            "OpusHead: channel mapping family {} (RTP carries one stream)",
            head.channel_map
        ));
    }
    if !tags.starts_with(b"OpusTags") {
        return err("the second packet is not OpusTags");
    }
    if audio.is_empty() {
        return err("Ogg Opus without audio packets");
    }
    let mut samples = None;
    let mut frames = Vec::with_capacity(audio.len());
    for (n, packet) in audio.iter().enumerate() {
        let Some(parsed) = opus_parse(packet) else {
            return err(format!("Opus packet {n} is malformed"));
        };
        if *samples.get_or_insert(parsed.samples()) != parsed.samples() {
            return err(format!(
                "Opus packet {n} lasts {} samples",
                parsed.samples()
            ));
        }
        let mut prefix = opus_with_padding(packet, &[0; HEADER_LEN]).expect("parsed above");
        prefix.truncate(prefix.len() - HEADER_LEN);
        frames.push(SampleFrame {
            data: Bytes::copy_from_slice(packet),
            keyframe: true,
            stamp_prefix: Bytes::from(prefix),
        });
    }
    let samples = u64::from(samples.expect("at least one packet"));
    Ok(Sample {
        codec: SampleCodec::Opus,
        keyframes: keyframe_indices(&frames),
        frames,
        frame_interval: Duration::from_nanos(samples * 1_000_000_000 / 48_000),
        size: None,
    })
}

#[cfg(test)]
mod tests {
    use super::super::OPUS_OGG;
    use super::*;

    /// An Ogg page as RFC 3533 lays it out, with a correct checksum.
    fn page(flags: u8, sequence: u32, lacing: &[u8], body: &[u8]) -> Vec<u8> {
        let mut p = b"OggS\0".to_vec();
        p.push(flags);
        p.extend_from_slice(&0u64.to_le_bytes());
        p.extend_from_slice(&0x5253u32.to_le_bytes());
        p.extend_from_slice(&sequence.to_le_bytes());
        p.extend_from_slice(&[0; 4]);
        p.push(lacing.len() as u8);
        p.extend_from_slice(lacing);
        p.extend_from_slice(body);
        let crc = ogg_crc(p.iter().copied());
        p[22..26].copy_from_slice(&crc.to_le_bytes());
        p
    }

    const OPUS_HEAD: [u8; 19] = *b"OpusHead\x01\x01\x38\x01\x80\xbb\0\0\0\0\0";

    #[test]
    fn ogg_packets_span_pages_and_lacing_boundaries() {
        let tags = b"OpusTags\0\0\0\0\0\0\0\0";
        // A 510-byte packet (lacing 255, 255, 0) split over two pages, then a 5-byte packet.
        let big = [vec![23 << 3], vec![0x55; 509]].concat();
        let small = [23 << 3, 1, 2, 3, 4];
        let file = [
            page(OGG_BOS, 0, &[19], &OPUS_HEAD),
            page(0, 1, &[16], tags),
            page(0, 2, &[255], &big[..255]),
            page(
                OGG_CONTINUED | OGG_EOS,
                3,
                &[255, 0, 5],
                &[&big[255..], &small[..]].concat(),
            ),
        ]
        .concat();
        let packets = ogg_packets(&file).expect("valid");
        assert_eq!(packets.len(), 4);
        assert_eq!(packets[2], big);
        assert_eq!(packets[3], small);
        // Both are single 20 ms frames of at most 1,275 bytes: a valid sample.
        let s = parse_ogg_opus(&file).expect("valid sample");
        assert_eq!(s.len(), 2);
        assert_eq!(s.frame(0).data[..], big[..]);
    }

    #[test]
    fn ogg_errors() {
        let tags = b"OpusTags\0\0\0\0\0\0\0\0";
        let audio = [23 << 3, 1, 2];
        let ok = |flags_last: u8| {
            [
                page(OGG_BOS, 0, &[19], &OPUS_HEAD),
                page(0, 1, &[16], tags),
                page(flags_last, 2, &[3], &audio),
            ]
            .concat()
        };
        assert!(parse_ogg_opus(&ok(OGG_EOS)).is_ok());
        let mut crc = OPUS_OGG.to_vec();
        let last = crc.len() - 1;
        crc[last] ^= 1;
        let mut head = OPUS_HEAD;
        head[18] = 1; // channel mapping family 1
        let cases: [(&str, Vec<u8>, &str); 9] = [
            ("checksum", crc, "checksum mismatch"),
            (
                "truncated",
                OPUS_OGG[..OPUS_OGG.len() - 3].to_vec(),
                "truncated body",
            ),
            ("no end of stream", ok(0), "end-of-stream"),
            (
                "continuation flag",
                ok(OGG_EOS | OGG_CONTINUED),
                "continuation flag",
            ),
            (
                "open packet at the end",
                [page(OGG_BOS | OGG_EOS, 0, &[255], &[0; 255])].concat(),
                "inside a packet",
            ),
            (
                "missing OpusTags",
                [
                    page(OGG_BOS, 0, &[19], &OPUS_HEAD),
                    page(OGG_EOS, 1, &[3, 3], &[audio, audio].concat()),
                ]
                .concat(),
                "OpusTags",
            ),
            (
                "mapping family 1",
                [
                    page(OGG_BOS, 0, &[19], &head),
                    page(OGG_EOS, 1, &[16], tags),
                ]
                .concat(),
                "OpusHead",
            ),
            (
                "malformed audio",
                [
                    page(OGG_BOS, 0, &[19], &OPUS_HEAD),
                    page(0, 1, &[16], tags),
                    page(OGG_EOS, 2, &[2], &[23 << 3 | 1, 0]),
                ]
                .concat(),
                "packet 0 is malformed",
            ),
            (
                "durations differ",
                [
                    page(OGG_BOS, 0, &[19], &OPUS_HEAD),
                    page(0, 1, &[16], tags),
                    page(OGG_EOS, 2, &[3, 3], &[audio, [22 << 3, 1, 2]].concat()),
                ]
                .concat(),
                "packet 1 lasts 480 samples",
            ),
        ];
        for (name, bytes, want) in cases {
            let e = parse_ogg_opus(&bytes).expect_err(name);
            assert!(e.to_string().contains(want), "{name}: {e}");
        }
    }
}
