//! The report's media section, present only when the run moved media: what was published and
//! received (tracks, packets, loss, freezes, keyframes, bitrate), the media timings, and the
//! media charts. A run without media renders no trace of it.

use std::fmt::Write as _;

use super::{WrittenChart, figure, latency_table};
use crate::report::charts::media::METRICS;
use crate::report::summary::Summary;

/// Writes the media section of `s` with `charts` (the media ones), or nothing without media.
pub(super) fn section(o: &mut String, s: &Summary, charts: &[WrittenChart]) {
    let Some(m) = &s.media else {
        return;
    };
    let c = &m.counters;
    o.push_str("<section id=\"media\">\n<h2>Media</h2>\n<table class=\"facts\">\n");
    let fact = |o: &mut String, bad: bool, label: &str, value: String| {
        let class = if bad { " class=\"bad\"" } else { "" };
        let _ = writeln!(o, "<tr{class}><th>{label}</th><td>{value}</td></tr>");
    };
    fact(
        o,
        false,
        "tracks published",
        format!("{} in {} publishes", c.tracks_published, c.publishes),
    );
    fact(
        o,
        false,
        "tracks received (subscriptions ended)",
        c.tracks_received.to_string(),
    );
    fact(
        o,
        c.missing > 0,
        "missing (never a byte within the grace)",
        c.missing.to_string(),
    );
    fact(
        o,
        false,
        "cut short (ended before the grace, without a byte)",
        c.cut_short.to_string(),
    );
    fact(
        o,
        c.subscribe_failures + c.connection_failures > 0,
        "failed subscriptions / peer connections",
        format!("{} / {}", c.subscribe_failures, c.connection_failures),
    );
    fact(o, false, "packets sent", c.packets_sent.to_string());
    fact(o, false, "packets received", c.packets_received.to_string());
    fact(
        o,
        false,
        "packets lost (after NACK recovery)",
        format!("{} ({:.3}%)", c.packets_lost, m.loss_ratio * 100.0),
    );
    fact(o, false, "freezes", c.freezes.to_string());
    fact(
        o,
        false,
        "frames sent (keyframes)",
        format!("{} ({})", c.frames_sent, c.keyframes_sent),
    );
    fact(
        o,
        false,
        "keyframe requests (PLI/FIR from the server)",
        c.keyframe_requests.to_string(),
    );
    fact(
        o,
        false,
        "mean bitrate sent / received",
        format!("{:.1} / {:.1} kbit/s", m.sent_kbps, m.received_kbps),
    );
    o.push_str("</table>\n<p class=\"muted\">Bitrates are RTP payload over the whole run; a subscriber receives each track it subscribes to, so received exceeds sent when rooms fan out.</p>\n");
    o.push_str("<h3>Media timings</h3>\n");
    // In the order media gets going, not alphabetical.
    latency_table(
        o,
        METRICS
            .iter()
            .filter_map(|name| s.latency.get(*name).map(|p| (*name, p))),
    );
    o.push_str(
        "<p class=\"muted\">media_latency is one-way, sender's stamp to arrival (one clock); \
         media_jitter is RFC 3550 interarrival jitter; media_pacing is how late the generator's \
         own frames left after their scheduled time, not a server figure.</p>\n",
    );
    for chart in charts {
        figure(o, chart);
    }
    o.push_str("</section>\n");
}
