//! The media charts of a run that moved media: bitrate, loss and jitter per interval, how long
//! media took to set up and arrive, and the generator's own frame-clock lateness. They follow
//! the other charts in [`plots`](super::plots) and sit in the HTML report's media section;
//! runs without media have none of them.

use super::{ChartError, Line, Plot, Stroke, XAxis, intervals, ms, percentile_lines, run_end};
use crate::metrics::aggregate::IntervalLatency;
use crate::metrics::media::MediaCounters;
use crate::report::summary::Summary;

/// The media timing metrics (summary names): shown in the media section, not with the
/// signaling latencies, when the run moved media.
pub const METRICS: [&str; 8] = [
    "publish",
    "ice_connected",
    "dtls_connected",
    "first_media",
    "first_keyframe",
    "media_latency",
    "media_pacing",
    "media_jitter",
];

/// The setup and delivery metrics of the bar chart, in the order media gets going: publish
/// answered, ICE, DTLS, first packet, first keyframe, then steady one-way latency.
pub const SETUP: &[&str] = &[
    "publish",
    "ice_connected",
    "dtls_connected",
    "first_media",
    "first_keyframe",
    "media_latency",
];

/// File stems of the media charts, in report order (the HTML report places these in its media
/// section; the tests check each is written).
pub const STEMS: [&str; 6] = [
    "media-bitrate",
    "media-loss",
    "media-jitter",
    "media-setup",
    "media-percentiles",
    "media-pacing",
];

/// Whether a chart belongs to the media section.
pub fn is_media_chart(file_stem: &str) -> bool {
    STEMS.contains(&file_stem)
}

/// Every media chart of `s`, in [`STEMS`] order.
pub fn plots(s: &Summary) -> Result<Vec<Plot>, ChartError> {
    Ok(vec![
        bitrate(s),
        loss(s),
        jitter(s),
        setup(s),
        media_percentiles(s)?,
        pacing(s),
    ])
}

/// A per-interval media figure as a step line: `value` of the interval's counters over the
/// interval's length (an interval without media moved nothing: zero).
fn per_second(s: &Summary, value: impl Fn(&MediaCounters) -> f64) -> Vec<(f64, f64)> {
    let mut pts = Vec::new();
    for (t0, t1, row) in intervals(s) {
        let dt = t1 - t0;
        let v = row.media.as_ref().map_or(0.0, &value);
        let rate = if dt > 0.0 { v / dt } else { 0.0 };
        pts.push((t0, rate));
        pts.push((t1, rate));
    }
    pts
}

fn kbits(bytes: u64) -> f64 {
    bytes as f64 * 8.0 / 1000.0
}

fn bitrate(s: &Summary) -> Plot {
    let mut lines = Vec::new();
    if !s.series.is_empty() {
        lines.push(Line {
            label: "sent (publishers)".into(),
            color: 0,
            stroke: Stroke::Solid,
            markers: false,
            points: per_second(s, |m| kbits(m.bytes_sent)),
        });
        lines.push(Line {
            label: "received (subscribers)".into(),
            color: 2,
            stroke: Stroke::Solid,
            markers: false,
            points: per_second(s, |m| kbits(m.bytes_received)),
        });
    }
    Plot {
        file_stem: "media-bitrate",
        title: "Media bitrate, sent vs received (RTP payload)".into(),
        x: XAxis::Seconds,
        y_label: "kbit/s",
        lines,
        empty_note: "no media intervals",
        x_end: run_end(s),
    }
}

fn loss(s: &Summary) -> Plot {
    let points: Vec<(f64, f64)> = s
        .series
        .iter()
        .map(|r| match &r.media {
            Some(m) if m.packets_received + m.packets_lost > 0 => (r.t, m.loss_ratio() * 100.0),
            _ => (r.t, f64::NAN),
        })
        .collect();
    let mut lines = Vec::new();
    if points.iter().any(|p| p.1.is_finite()) {
        lines.push(Line {
            label: "packets lost".into(),
            color: 3,
            stroke: Stroke::Solid,
            markers: true,
            points,
        });
    }
    Plot {
        file_stem: "media-loss",
        title: "Media packet loss per second (after NACK recovery)".into(),
        x: XAxis::Seconds,
        y_label: "loss (%)",
        lines,
        empty_note: "no packets received",
        x_end: run_end(s),
    }
}

/// `metric`'s per-interval figure `f` in ms at each interval's end; NaN where it had no samples.
fn interval_ms(s: &Summary, metric: &str, f: fn(&IntervalLatency) -> u64) -> Vec<(f64, f64)> {
    s.series
        .iter()
        .map(|r| match r.latency.get(metric) {
            Some(l) if l.count > 0 => (r.t, ms(f(l))),
            _ => (r.t, f64::NAN),
        })
        .collect()
}

/// One per-interval line to draw: legend label, palette index, stroke, and which figure.
type Wanted = (&'static str, usize, Stroke, fn(&IntervalLatency) -> u64);

/// Lines of `metric` per interval, one per [`Wanted`]; none when the metric never had a sample.
fn interval_lines(s: &Summary, metric: &str, wanted: &[Wanted]) -> Vec<Line> {
    if !s
        .series
        .iter()
        .any(|r| r.latency.get(metric).is_some_and(|l| l.count > 0))
    {
        return Vec::new();
    }
    wanted
        .iter()
        .map(|(label, color, stroke, f)| Line {
            label: (*label).into(),
            color: *color,
            stroke: *stroke,
            markers: true,
            points: interval_ms(s, metric, *f),
        })
        .collect()
}

fn jitter(s: &Summary) -> Plot {
    Plot {
        file_stem: "media-jitter",
        title: "Media jitter per second (p50 dashed, p99 solid)".into(),
        x: XAxis::Seconds,
        y_label: "interarrival jitter (ms)",
        lines: interval_lines(
            s,
            "media_jitter",
            &[
                ("jitter p99", 4, Stroke::Solid, |l| l.p99),
                ("jitter p50", 4, Stroke::Dashed, |l| l.p50),
            ],
        ),
        empty_note: "no jitter samples",
        x_end: run_end(s),
    }
}

fn setup(s: &Summary) -> Plot {
    let figure = |f: fn(&crate::report::summary::Percentiles) -> u64| {
        SETUP
            .iter()
            .enumerate()
            .map(|(i, m)| match s.latency.get(*m) {
                Some(p) if p.count > 0 => (i as f64, ms(f(p))),
                _ => (i as f64, f64::NAN),
            })
            .collect::<Vec<_>>()
    };
    let bars = [
        ("p50", 0, figure(|p| p.p50)),
        ("p90", 1, figure(|p| p.p90)),
        ("p99", 3, figure(|p| p.p99)),
    ];
    let any = bars.iter().any(|b| b.2.iter().any(|p| p.1.is_finite()));
    let lines = bars
        .into_iter()
        .filter(|_| any)
        .map(|(label, color, points)| Line {
            label: label.into(),
            color,
            stroke: Stroke::Solid,
            markers: false,
            points,
        })
        .collect();
    Plot {
        file_stem: "media-setup",
        title: "Media setup and delivery (p50, p90, p99)".into(),
        x: XAxis::Categories(SETUP),
        y_label: "time (ms)",
        lines,
        empty_note: "no media setup samples",
        x_end: 0.0,
    }
}

fn media_percentiles(s: &Summary) -> Result<Plot, ChartError> {
    Ok(Plot {
        file_stem: "media-percentiles",
        title: "Media timings by percentile".into(),
        x: XAxis::Percentile,
        y_label: "time (ms)",
        lines: percentile_lines(s, |m| METRICS.contains(&m))?,
        empty_note: "no media timing samples",
        x_end: 0.0,
    })
}

fn pacing(s: &Summary) -> Plot {
    Plot {
        file_stem: "media-pacing",
        title: "Media send pacing: frames behind their clock (generator health)".into(),
        x: XAxis::Seconds,
        y_label: "lateness (ms)",
        lines: interval_lines(
            s,
            "media_pacing",
            &[
                ("max", 3, Stroke::Solid, |l| l.max),
                ("p99", 1, Stroke::Solid, |l| l.p99),
            ],
        ),
        empty_note: "no frames sent",
        x_end: run_end(s),
    }
}
