//! Reading a group's `media` block: the tracks it publishes (kind, codec, bitrate and the keys of
//! each kind) and what it subscribes to. Group names in `subscribe: {groups: […]}` are resolved
//! once every group is read ([`resolve`]); the rules that tie `media.publish` to the script's
//! `publish` steps live with the script (`script::check_media_steps`).

use std::time::Duration;

use super::media::{
    Codec, MediaKind, MediaSpec, PTIMES_MS, Payload, SAMPLE_AUDIO_BPS, SAMPLE_FPS,
    SAMPLE_KEYFRAME_INTERVAL, SAMPLE_PTIME, SAMPLE_VIDEO_BPS, Subscribe, TrackSpec,
};
use super::raw::{Mark, Value};
use super::reader::{Field, Reader};
use super::suggest;

/// Keys of `media`.
pub(crate) const KEYS: &[&str] = &["publish", "subscribe"];
/// Keys of one published track.
pub(crate) const TRACK_KEYS: &[&str] = &[
    "kind",
    "codec",
    "bitrate",
    "ptime",
    "fps",
    "keyframe_interval",
    "payload",
];
/// `payload` values, in [`Payload`] variant order.
pub(crate) const PAYLOADS: &[&str] = &["synthetic", "sample"];
/// `kind` values, in [`MediaKind`] variant order.
pub(crate) const KINDS: &[&str] = &["audio", "video"];
/// `codec` values, in [`Codec`] variant order.
pub(crate) const CODECS: &[&str] = &["opus", "vp8"];
/// `subscribe` words.
pub(crate) const SUBSCRIBE_WORDS: &[&str] = &["all", "none"];
/// Bitrate units and their multipliers.
pub(crate) const BITRATE_UNITS: &[(&str, u64)] =
    &[("bps", 1), ("kbps", 1_000), ("Mbps", 1_000_000)];
/// Audio bitrates, bits per second: Opus's own range.
pub(crate) const AUDIO_BITRATE: (u64, u64) = (6_000, 510_000);
/// Video bitrates, bits per second.
pub(crate) const VIDEO_BITRATE: (u64, u64) = (6_000, 10_000_000);
/// Video frame rates.
pub(crate) const FPS: (u64, u64) = (1, 60);
/// Video keyframe intervals.
pub(crate) const KEYFRAME_INTERVAL: (Duration, Duration) =
    (Duration::from_millis(100), Duration::from_secs(60));
/// Defaults: 20 ms audio frames, 30 fps video, a keyframe every 2 s.
pub(crate) const DEFAULT_PTIME: Duration = Duration::from_millis(20);
/// Default video frame rate.
pub(crate) const DEFAULT_FPS: u32 = 30;
/// Default keyframe interval.
pub(crate) const DEFAULT_KEYFRAME_INTERVAL: Duration = Duration::from_secs(2);

/// `media` as read, before group names are resolved; `None` parts had problems.
pub(crate) struct Draft<'a> {
    /// The tracks (`Some(vec![])` when `publish` is absent).
    pub publish: Option<Vec<TrackSpec>>,
    /// Where the `publish` key is written and its path, when it is: the script must publish.
    pub publish_key: Option<(Mark, String)>,
    /// What it subscribes to.
    pub subscribe: Option<SubscribeDraft<'a>>,
}

/// `subscribe` as read: group names wait for every group's name.
pub(crate) enum SubscribeDraft<'a> {
    /// Needs nothing else.
    Ready(Subscribe),
    /// `{groups: […]}`: each name with where it is written, and whether the list was otherwise
    /// fine (names are still resolved after a problem, to report every unknown one).
    Names(Vec<(String, Field<'a>)>, bool),
}

/// Reads `media:`; a null value is an empty mapping (subscribe to all, publish nothing).
pub(crate) fn read<'a>(r: &mut Reader, f: &Field<'a>) -> Option<Draft<'a>> {
    let m = r.map_or_empty(f, KEYS)?;
    let publish = match m.get("publish") {
        Some(p) => tracks(r, &p),
        None => Some(Vec::new()),
    };
    let publish_key = m
        .get("publish")
        .map(|p| (m.key_mark("publish"), p.path.clone()));
    let subscribe = match m.get("subscribe") {
        Some(s) => subscribe(r, &s),
        None => Some(SubscribeDraft::Ready(Subscribe::All)),
    };
    Some(Draft {
        publish,
        publish_key,
        subscribe,
    })
}

/// Resolves `subscribe: {groups: […]}` against the file's group names (`None` where a group's
/// own name had a problem: then nothing is resolved, and that problem is reported already).
pub(crate) fn resolve(r: &mut Reader, draft: Draft, names: &[Option<&str>]) -> Option<MediaSpec> {
    let subscribe = match draft.subscribe {
        Some(SubscribeDraft::Ready(s)) => Some(s),
        Some(SubscribeDraft::Names(listed, listed_ok)) => {
            let known: Option<Vec<&str>> = names.iter().copied().collect();
            known.and_then(|known| {
                let mut indices = Vec::with_capacity(listed.len());
                let mut ok = listed_ok;
                for (name, f) in &listed {
                    match known.iter().position(|n| n == name) {
                        Some(i) => indices.push(i),
                        None => {
                            let message =
                                format!("unknown group `{name}`; {}", suggest::hint(name, &known));
                            r.problem(f.mark(), &f.path, message);
                            ok = false;
                        }
                    }
                }
                indices.sort_unstable();
                ok.then_some(Subscribe::Groups(indices))
            })
        }
        None => None,
    };
    Some(MediaSpec {
        publish: draft.publish?,
        subscribe: subscribe?,
    })
}

/// `publish:` a list of at most one audio and one video track.
fn tracks(r: &mut Reader, f: &Field) -> Option<Vec<TrackSpec>> {
    let items = r.seq(
        f,
        "a list of tracks such as {kind: audio, codec: opus, bitrate: 32kbps}",
    )?;
    if items.is_empty() {
        r.problem(
            f.mark(),
            &f.path,
            "needs at least one track; remove `publish` for a group that only subscribes",
        );
        return None;
    }
    let mut out = Vec::with_capacity(items.len());
    let mut seen: Vec<(MediaKind, usize)> = Vec::new();
    let mut ok = true;
    for item in &items {
        let (spec, kind) = track(r, item);
        // Judged by the kind alone, so a track with another mistake still counts.
        if let Some((kind, kind_field)) = kind {
            if let Some((_, line)) = seen.iter().find(|(k, _)| *k == kind) {
                r.problem(
                    kind_field.mark(),
                    &kind_field.path,
                    format!(
                        "a second {} track (the first is on line {line}): a participant publishes at most one audio and one video track",
                        kind.name()
                    ),
                );
                ok = false;
            } else {
                seen.push((kind, kind_field.mark().line));
            }
        }
        match spec {
            Some(spec) => out.push(spec),
            None => ok = false,
        }
    }
    ok.then_some(out)
}

/// One track mapping (`None` when it has a problem), and its kind with where it is written (when
/// the kind itself is readable).
fn track<'a>(r: &mut Reader, f: &Field<'a>) -> (Option<TrackSpec>, Option<(MediaKind, Field<'a>)>) {
    let Some(m) = r.map(f, Some(TRACK_KEYS)) else {
        return (None, None);
    };
    let kind_field = m.required(r, "kind", "`audio` or `video`");
    let kind = kind_field.as_ref().and_then(|k| {
        r.word(k, KINDS)
            .map(|i| [MediaKind::Audio, MediaKind::Video][i])
    });
    // Keys of the other kind are refused whatever else is wrong; unknown kind: nothing to say.
    let mut foreign_key = false;
    if let Some(kind) = kind {
        let foreign: &[&str] = match kind {
            MediaKind::Audio => &["fps", "keyframe_interval"],
            MediaKind::Video => &["ptime"],
        };
        for key in foreign {
            if m.has(key) {
                foreign_key = true;
                let other = if kind == MediaKind::Audio {
                    "video"
                } else {
                    "audio"
                };
                r.problem(
                    m.key_mark(key),
                    &m.field.child(key),
                    format!(
                        "`{key}` applies to {other} tracks only, not to {}",
                        kind.name()
                    ),
                );
            }
        }
    }
    let codec = match m.get("codec") {
        Some(c) => r
            .word(&c, CODECS)
            .map(|i| [Codec::Opus, Codec::Vp8][i])
            .filter(|codec| match kind {
                Some(kind) if codec.kind() != kind => {
                    let fit = CODECS[kind as usize];
                    let what = match codec.kind() {
                        MediaKind::Audio => "an audio",
                        MediaKind::Video => "a video",
                    };
                    r.problem(
                        c.mark(),
                        &c.path,
                        format!(
                            "`{}` is {what} codec; {} tracks use `{fit}`",
                            codec.name(),
                            kind.name()
                        ),
                    );
                    false
                }
                _ => true,
            }),
        None => kind.map(|k| [Codec::Opus, Codec::Vp8][k as usize]),
    };
    let payload = match m.get("payload") {
        Some(p) => r
            .word(&p, PAYLOADS)
            .map(|i| [Payload::Synthetic, Payload::Sample][i]),
        None => Some(Payload::Synthetic),
    };
    match payload {
        Some(Payload::Sample) => return sample_track(r, &m, kind, codec, foreign_key, kind_field),
        // An unknown payload is reported; what it would need is not guessed.
        None => return (None, kind.zip(kind_field)),
        Some(Payload::Synthetic) => {}
    }
    let bitrate = m
        .required(r, "bitrate", "such as 32kbps or 1.5Mbps")
        .and_then(|b| {
            let bps = bitrate(r, &b)?;
            let (low, high, what) = match kind {
                Some(MediaKind::Audio) => (AUDIO_BITRATE.0, AUDIO_BITRATE.1, "an audio"),
                Some(MediaKind::Video) => (VIDEO_BITRATE.0, VIDEO_BITRATE.1, "a video"),
                None => (AUDIO_BITRATE.0, VIDEO_BITRATE.1, "a"),
            };
            if !(low..=high).contains(&bps) {
                r.problem(
                    b.mark(),
                    &b.path,
                    format!(
                        "{what} track's bitrate must be {} to {}, found {}",
                        super::media::format_bitrate(low),
                        super::media::format_bitrate(high),
                        super::media::format_bitrate(bps)
                    ),
                );
                return None;
            }
            Some(bps)
        });
    // A key of the other kind is reported above; an unknown kind still has its values checked.
    let ptime = match m.get("ptime").filter(|_| kind != Some(MediaKind::Video)) {
        Some(p) => r.duration(&p).and_then(|d| {
            let ok =
                d.as_nanos() % 1_000_000 == 0 && PTIMES_MS.contains(&(d.as_millis() as u64));
            if !ok {
                r.problem(
                    p.mark(),
                    &p.path,
                    format!(
                        "must be 10ms, 20ms, 40ms or 60ms (the Opus frame sizes WebRTC sends), found `{}`",
                        humantime::format_duration(d)
                    ),
                );
            }
            ok.then_some(d)
        }),
        None => Some(DEFAULT_PTIME),
    };
    let fps = match m.get("fps").filter(|_| kind != Some(MediaKind::Audio)) {
        Some(f) => r.uint(&f, FPS.0, FPS.1).map(|n| n as u32),
        None => Some(DEFAULT_FPS),
    };
    let keyframe = match m
        .get("keyframe_interval")
        .filter(|_| kind != Some(MediaKind::Audio))
    {
        Some(k) => r.duration(&k).and_then(|d| {
            let (low, high) = KEYFRAME_INTERVAL;
            let ok = (low..=high).contains(&d);
            if !ok {
                r.problem(
                    k.mark(),
                    &k.path,
                    format!(
                        "must be 100ms to 60s, found `{}`",
                        humantime::format_duration(d)
                    ),
                );
            }
            ok.then_some(d)
        }),
        None => Some(DEFAULT_KEYFRAME_INTERVAL),
    };
    let spec = (|| {
        let (kind, codec, bitrate_bps) = (kind?, codec?, bitrate?);
        let (ptime, fps, keyframe) = (ptime?, fps?, keyframe?);
        if foreign_key {
            return None;
        }
        let mut spec = match kind {
            MediaKind::Audio => TrackSpec::audio(bitrate_bps, ptime),
            MediaKind::Video => TrackSpec::video(bitrate_bps, fps, keyframe),
        };
        spec.codec = codec;
        Some(spec)
    })();
    (spec, kind.zip(kind_field))
}

/// A `payload: sample` track: the shipped sample sets the bitrate, frame rate and keyframes, so
/// only the values it has may be written (a different one would be a plan the run cannot keep).
fn sample_track<'a>(
    r: &mut Reader,
    m: &super::reader::Map<'a>,
    kind: Option<MediaKind>,
    codec: Option<Codec>,
    foreign_key: bool,
    kind_field: Option<Field<'a>>,
) -> (Option<TrackSpec>, Option<(MediaKind, Field<'a>)>) {
    let mut ok = !foreign_key;
    for key in ["bitrate", "keyframe_interval"] {
        if m.has(key) {
            ok = false;
            r.problem(
                m.key_mark(key),
                &m.field.child(key),
                format!(
                    "`{key}` is the sample's own with `payload: sample` (docs/media.md); remove it"
                ),
            );
        }
    }
    if let Some(f) = m.get("fps").filter(|_| kind == Some(MediaKind::Video)) {
        let fits = r.uint(&f, FPS.0, FPS.1) == Some(SAMPLE_FPS.into());
        if !fits {
            r.problem(
                f.mark(),
                &f.path,
                "the VP8 sample runs at 30 fps: write 30 or leave `fps` out",
            );
        }
        ok &= fits;
    }
    if let Some(f) = m.get("ptime").filter(|_| kind == Some(MediaKind::Audio)) {
        let fits = r.duration(&f) == Some(SAMPLE_PTIME);
        if !fits {
            r.problem(
                f.mark(),
                &f.path,
                "the Opus sample's frames are 20ms: write 20ms or leave `ptime` out",
            );
        }
        ok &= fits;
    }
    let spec = match (kind, codec) {
        (Some(kind), Some(codec)) if ok => {
            let mut spec = match kind {
                MediaKind::Audio => TrackSpec::audio(SAMPLE_AUDIO_BPS, SAMPLE_PTIME),
                MediaKind::Video => {
                    TrackSpec::video(SAMPLE_VIDEO_BPS, SAMPLE_FPS, SAMPLE_KEYFRAME_INTERVAL)
                }
            };
            spec.codec = codec;
            spec.payload = Payload::Sample;
            Some(spec)
        }
        _ => None,
    };
    (spec, kind.zip(kind_field))
}

/// A bitrate: a number and a unit, `32kbps`, `1.5Mbps`, `800000bps`.
fn bitrate(r: &mut Reader, f: &Field) -> Option<u64> {
    let text = f
        .node
        .scalar()
        .filter(|_| !f.node.is_null())
        .map(|s| s.text.trim());
    let Some(text) = text else {
        r.problem(
            f.mark(),
            &f.path,
            format!(
                "expected a bitrate such as 32kbps or 1.5Mbps, found {}",
                f.node.describe()
            ),
        );
        return None;
    };
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = (&text[..split], text[split..].trim());
    let value: Option<f64> = number.parse().ok().filter(|n: &f64| n.is_finite());
    let Some(value) = value else {
        r.problem(
            f.mark(),
            &f.path,
            format!("expected a bitrate such as 32kbps or 1.5Mbps, found `{text}`"),
        );
        return None;
    };
    if unit.is_empty() {
        r.problem(
            f.mark(),
            &f.path,
            format!("`{text}` needs a unit (bps, kbps or Mbps), e.g. `32kbps` or `1.5Mbps`"),
        );
        return None;
    }
    let Some((_, scale)) = BITRATE_UNITS.iter().find(|(u, _)| *u == unit) else {
        let units: Vec<&str> = BITRATE_UNITS.iter().map(|(u, _)| *u).collect();
        // Units are case-sensitive (`MBps` would be megabytes); a case slip gets its fix.
        let hint = match units.iter().find(|u| u.eq_ignore_ascii_case(unit)) {
            Some(u) => format!("did you mean `{u}`?"),
            None => suggest::hint(unit, &units),
        };
        r.problem(
            f.mark(),
            &f.path,
            format!("unknown bitrate unit `{unit}`; {hint}"),
        );
        return None;
    };
    Some((value * *scale as f64).round() as u64)
}

/// `subscribe:` `all`, `none`, `{count: N}` or `{groups: [name, …]}`.
fn subscribe<'a>(r: &mut Reader, f: &Field<'a>) -> Option<SubscribeDraft<'a>> {
    const EXPECTED: &str = "`all`, `none`, {count: N} or {groups: [name, …]}";
    match &f.node.value {
        Value::Scalar(s) if !f.node.is_null() => match s.text.as_str() {
            "all" => Some(SubscribeDraft::Ready(Subscribe::All)),
            "none" => Some(SubscribeDraft::Ready(Subscribe::None)),
            other => {
                let tail = match suggest::closest(other, SUBSCRIBE_WORDS) {
                    Some(near) => format!("did you mean `{near}`?"),
                    None => format!("expected {EXPECTED}"),
                };
                r.problem(
                    f.mark(),
                    &f.path,
                    format!("unknown value `{other}`; {tail}"),
                );
                None
            }
        },
        Value::Map(_) => {
            let m = r.map(f, Some(&["count", "groups"]))?;
            match m.exactly_one(r, &["count", "groups"])? {
                ("count", c) => r
                    .uint(&c, 1, u64::from(u32::MAX))
                    .map(|n| SubscribeDraft::Ready(Subscribe::Count(n as u32))),
                (_, g) => {
                    let items = r.seq(&g, "a list of group names")?;
                    if items.is_empty() {
                        r.problem(
                            g.mark(),
                            &g.path,
                            "needs at least one group name; use `subscribe: none` to receive nothing",
                        );
                        return None;
                    }
                    let mut names: Vec<(String, Field<'a>)> = Vec::with_capacity(items.len());
                    let mut ok = true;
                    for item in items {
                        let Some(name) = r.string(&item) else {
                            ok = false;
                            continue;
                        };
                        if names.iter().any(|(n, _)| *n == name) {
                            r.problem(
                                item.mark(),
                                &item.path,
                                format!("group `{name}` is listed twice"),
                            );
                            ok = false;
                            continue;
                        }
                        names.push((name, item));
                    }
                    Some(SubscribeDraft::Names(names, ok))
                }
            }
        }
        _ => {
            r.problem(
                f.mark(),
                &f.path,
                format!("expected {EXPECTED}, found {}", f.node.describe()),
            );
            None
        }
    }
}
