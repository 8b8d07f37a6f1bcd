//! Charts of a run, drawn with plotters from its [`Summary`]: what each chart shows is a pure
//! [`Plot`] value built by [`plots`]; one renderer draws any plot as SVG (inlined by the HTML
//! report) or PNG (for chat and tickets), and [`write_charts`] puts both under `<run>/charts/`.
//!
//! PNG text needs a font without any system font library, so DejaVu Sans is compiled in
//! (`assets/fonts/`, see its license there) and registered with plotters on first use. SVG
//! text names `sans-serif` and is laid out by the viewer; the same font sizes its labels here.
//!
//! To add a chart: 1. write a `fn my_chart(&Summary) -> Plot` next to the others, 2. add it to
//! [`plots`], 3. give it a readable `file_stem` (the tests check every plot is written). Media
//! charts live in [`media`] (its `plots` and `STEMS`; the HTML report puts them in its media
//! section), and exist only when the run moved media.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use base64::Engine as _;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::Deserializer;
use plotters::prelude::*;
use plotters::style::FontStyle;

use super::summary::Summary;
use crate::codes;
use crate::metrics::aggregate::{IntervalLatency, SeriesRow};

mod bars;
mod draw;
pub mod media;

pub use draw::percentile_label;
use draw::{FAMILY, PALETTE};

/// Pixel size of every chart (the SVG scales in the page; the PNG is exactly this).
pub const SIZE: (u32, u32) = (1000, 460);

/// The embedded font (DejaVu Sans, from matplotlib's wheel; license in `assets/fonts/`).
static FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");

const TIMED_METRICS: [&str; 3] = ["join", "peer_visible", "reconnect"];

/// Why a chart could not be produced.
#[derive(Debug, thiserror::Error)]
pub enum ChartError {
    /// The embedded font did not load (a broken build, not bad input).
    #[error("the embedded chart font could not be registered")]
    Font,
    /// A histogram in the summary is not valid base64 HdrHistogram V2.
    #[error("histogram of {metric} cannot be decoded: {reason}")]
    Histogram {
        /// The metric.
        metric: String,
        /// What was wrong.
        reason: String,
    },
    /// plotters failed to draw.
    #[error("drawing chart {chart}: {reason}")]
    Draw {
        /// The chart's file stem.
        chart: String,
        /// plotters' message.
        reason: String,
    },
    /// Encoding the PNG failed.
    #[error("encoding {chart}.png: {reason}")]
    Png {
        /// The chart's file stem.
        chart: String,
        /// The encoder's message.
        reason: String,
    },
    /// Writing a chart file failed.
    #[error("writing {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// What the x axis measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XAxis {
    /// Seconds since the run started, linear.
    Seconds,
    /// Percentile, HdrHistogram style: x = 1/(1−q) on a log scale, labelled 0%, 90%, 99%, …
    Percentile,
    /// Named categories, one group of bars each: a line's point `(i, v)` is its bar in
    /// category `i` (so p50/p90/p99 of several metrics sit side by side).
    Categories(&'static [&'static str]),
}

/// How a line is drawn, so p50 and p99 of one metric share a colour but stay apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stroke {
    /// A measured value.
    Solid,
    /// A secondary measured value (p50 beside p99).
    Dashed,
    /// A planned value to compare against (intended arrivals).
    Reference,
}

/// One line of a plot.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    /// Legend text.
    pub label: String,
    /// Index into the palette.
    pub color: usize,
    /// How it is drawn.
    pub stroke: Stroke,
    /// Points in data units; a NaN `y` breaks the line (an interval without samples).
    pub points: Vec<(f64, f64)>,
    /// Whether each point gets a dot (sparse per-second samples, so a lone one still shows).
    pub markers: bool,
}

/// One chart, as data: what [`plots`] derives from a summary and the renderers draw.
#[derive(Debug, Clone, PartialEq)]
pub struct Plot {
    /// File name without extension, e.g. `latency-percentiles`.
    pub file_stem: &'static str,
    /// Title drawn above the chart.
    pub title: String,
    /// The x axis.
    pub x: XAxis,
    /// y axis label, with its unit.
    pub y_label: &'static str,
    /// The lines (possibly none).
    pub lines: Vec<Line>,
    /// Shown in the plot area when there is nothing to draw, so an empty chart says why.
    pub empty_note: &'static str,
    /// Least right end of a time axis, seconds: the run's length, so time charts line up.
    pub x_end: f64,
}

impl Plot {
    /// Whether any line has a finite point.
    pub fn has_data(&self) -> bool {
        self.lines
            .iter()
            .any(|l| l.points.iter().any(|p| p.1.is_finite()))
    }
}

/// A chart written to disk, with its SVG text for inlining.
#[derive(Debug, Clone)]
pub struct WrittenChart {
    /// File name without extension.
    pub file_stem: &'static str,
    /// The chart's title.
    pub title: String,
    /// The SVG document.
    pub svg: String,
    /// Where the SVG was written.
    pub svg_path: PathBuf,
    /// Where the PNG was written.
    pub png_path: PathBuf,
}

/// Every chart of a run, in report order.
/// The media charts ([`media::plots`]) follow, only when the run moved media.
pub fn plots(s: &Summary) -> Result<Vec<Plot>, ChartError> {
    let mut plots = vec![
        latency_percentiles(s)?,
        latency_over_time(s),
        participants_by_state(s),
        arrivals_and_joins(s),
        join_errors(s),
        generator_lateness(s),
    ];
    if s.media.is_some() {
        plots.extend(media::plots(s)?);
    }
    Ok(plots)
}

/// Renders every chart of `s` as SVG and PNG into `<run_dir>/charts/`.
pub fn write_charts(s: &Summary, run_dir: &Path) -> Result<Vec<WrittenChart>, ChartError> {
    let dir = run_dir.join("charts");
    std::fs::create_dir_all(&dir).map_err(|source| ChartError::Io {
        path: dir.clone(),
        source,
    })?;
    let write = |path: PathBuf, bytes: &[u8]| {
        std::fs::write(&path, bytes)
            .map(|_| path.clone())
            .map_err(|source| ChartError::Io { path, source })
    };
    let mut out = Vec::new();
    for plot in plots(s)? {
        let svg = render_svg(&plot)?;
        let png = render_png(&plot)?;
        let svg_path = write(dir.join(format!("{}.svg", plot.file_stem)), svg.as_bytes())?;
        let png_path = write(dir.join(format!("{}.png", plot.file_stem)), &png)?;
        out.push(WrittenChart {
            file_stem: plot.file_stem,
            title: plot.title,
            svg,
            svg_path,
            png_path,
        });
    }
    Ok(out)
}

/// Draws a plot as an SVG document.
pub fn render_svg(plot: &Plot) -> Result<String, ChartError> {
    ensure_font()?;
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, SIZE).into_drawing_area();
        draw::draw(plot, &root).map_err(|reason| draw_error(plot, reason))?;
        root.present()
            .map_err(|e| draw_error(plot, e.to_string()))?;
    }
    Ok(out)
}

/// Draws a plot as a PNG image of [`SIZE`].
pub fn render_png(plot: &Plot) -> Result<Vec<u8>, ChartError> {
    ensure_font()?;
    let (w, h) = SIZE;
    let mut rgb = vec![0u8; w as usize * h as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, SIZE).into_drawing_area();
        draw::draw(plot, &root).map_err(|reason| draw_error(plot, reason))?;
        root.present()
            .map_err(|e| draw_error(plot, e.to_string()))?;
    }
    let png_error = |e: png::EncodingError| ChartError::Png {
        chart: plot.file_stem.to_string(),
        reason: e.to_string(),
    };
    let mut bytes = Vec::new();
    let mut encoder = png::Encoder::new(&mut bytes, w, h);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().map_err(png_error)?;
    writer.write_image_data(&rgb).map_err(png_error)?;
    writer.finish().map_err(png_error)?;
    Ok(bytes)
}

fn draw_error(plot: &Plot, reason: String) -> ChartError {
    ChartError::Draw {
        chart: plot.file_stem.to_string(),
        reason,
    }
}

/// Registers the embedded font once per process (plotters keeps a global font table).
fn ensure_font() -> Result<(), ChartError> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED
        .get_or_init(|| plotters::style::register_font(FAMILY, FontStyle::Normal, FONT).is_ok());
    if ok { Ok(()) } else { Err(ChartError::Font) }
}

// ---- what each chart shows -------------------------------------------------------------------

/// Decodes one summary histogram (base64 of the V2 deflate encoding).
pub fn decode_histogram(metric: &str, encoded: &str) -> Result<Histogram<u64>, ChartError> {
    let err = |reason: String| ChartError::Histogram {
        metric: metric.to_string(),
        reason,
    };
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|e| err(e.to_string()))?;
    Deserializer::new()
        .deserialize(&mut bytes.as_slice())
        .map_err(|e| err(format!("{e:?}")))
}

/// Percentile curve of one histogram: (1/(1−q), ms) points, q = 1 dropped (infinite x); the
/// maximum is placed at x = count, the resolution one more sample would give.
pub fn percentile_points(h: &Histogram<u64>) -> Vec<(f64, f64)> {
    if h.is_empty() {
        return Vec::new();
    }
    let mut pts: Vec<(f64, f64)> = h
        .iter_quantiles(5)
        .map(|v| (v.quantile_iterated_to(), v.value_iterated_to()))
        .filter(|(q, _)| *q < 1.0)
        .map(|(q, v)| (1.0 / (1.0 - q), ms(h.highest_equivalent(v))))
        .collect();
    let last_x = pts.last().map_or(1.0, |p| p.0);
    pts.push(((h.len() as f64).max(last_x), ms(h.max())));
    pts
}

fn latency_percentiles(s: &Summary) -> Result<Plot, ChartError> {
    // A media run's own timings have their chart in the media section; kept here they would
    // double the legend and repeat its colours.
    let media = s.media.is_some();
    Ok(Plot {
        file_stem: "latency-percentiles",
        title: "Latency by percentile".into(),
        x: XAxis::Percentile,
        y_label: "latency (ms)",
        lines: percentile_lines(s, |m| !(media && media::METRICS.contains(&m)))?,
        empty_note: "no latency samples",
        x_end: 0.0,
    })
}

/// One percentile curve per histogram of the summary whose metric `keep` accepts.
fn percentile_lines(s: &Summary, keep: impl Fn(&str) -> bool) -> Result<Vec<Line>, ChartError> {
    let mut lines = Vec::new();
    let kept = s.histograms.iter().filter(|(metric, _)| keep(metric));
    for (i, (metric, encoded)) in kept.enumerate() {
        let h = decode_histogram(metric, encoded)?;
        let points = percentile_points(&h);
        if !points.is_empty() {
            lines.push(Line {
                label: format!("{metric} (n={})", h.len()),
                color: i,
                stroke: Stroke::Solid,
                markers: false,
                points,
            });
        }
    }
    Ok(lines)
}

/// Each series row with the time its interval started.
fn intervals(s: &Summary) -> impl Iterator<Item = (f64, f64, &SeriesRow)> {
    let mut prev = 0.0;
    s.series.iter().map(move |r| {
        let start = prev;
        prev = r.t;
        (start, r.t, r)
    })
}

/// A per-interval count as a step line in events per second.
fn rate_steps(s: &Summary, value: impl Fn(&SeriesRow) -> u64) -> Vec<(f64, f64)> {
    let mut pts = Vec::new();
    for (t0, t1, row) in intervals(s) {
        let dt = t1 - t0;
        let rate = if dt > 0.0 {
            value(row) as f64 / dt
        } else {
            0.0
        };
        pts.push((t0, rate));
        pts.push((t1, rate));
    }
    pts
}

fn latency_over_time(s: &Summary) -> Plot {
    let mut lines = Vec::new();
    for (i, metric) in TIMED_METRICS.iter().enumerate() {
        if !s.series.iter().any(|r| r.latency.contains_key(*metric)) {
            continue;
        }
        let pick = |f: fn(&IntervalLatency) -> u64| {
            s.series
                .iter()
                .map(|r| match r.latency.get(*metric) {
                    Some(l) if l.count > 0 => (r.t, ms(f(l))),
                    _ => (r.t, f64::NAN),
                })
                .collect::<Vec<_>>()
        };
        lines.push(Line {
            label: format!("{metric} p99"),
            color: i,
            stroke: Stroke::Solid,
            markers: true,
            points: pick(|l| l.p99),
        });
        lines.push(Line {
            label: format!("{metric} p50"),
            color: i,
            stroke: Stroke::Dashed,
            markers: true,
            points: pick(|l| l.p50),
        });
    }
    Plot {
        file_stem: "latency-over-time",
        title: "Latency per second (p50 dashed, p99 solid)".into(),
        x: XAxis::Seconds,
        y_label: "latency (ms)",
        lines,
        empty_note: "no join or peer_visible samples",
        x_end: run_end(s),
    }
}

fn participants_by_state(s: &Summary) -> Plot {
    let states: BTreeSet<&String> = s.series.iter().flat_map(|r| r.states.keys()).collect();
    let lines = states
        .into_iter()
        .enumerate()
        .filter(|(_, st)| {
            s.series
                .iter()
                .any(|r| r.states.get(*st).is_some_and(|n| *n != 0))
        })
        .map(|(i, st)| Line {
            label: st.clone(),
            color: i,
            stroke: Stroke::Solid,
            markers: false,
            points: std::iter::once((0.0, 0.0))
                .chain(
                    s.series
                        .iter()
                        .map(|r| (r.t, r.states.get(st).copied().unwrap_or(0) as f64)),
                )
                .collect(),
        })
        .collect();
    Plot {
        file_stem: "participants-by-state",
        title: "Participants by connection state".into(),
        x: XAxis::Seconds,
        y_label: "participants",
        lines,
        empty_note: "no participants started",
        x_end: run_end(s),
    }
}

fn arrivals_and_joins(s: &Summary) -> Plot {
    let mut lines = Vec::new();
    if !s.series.is_empty() {
        lines.push(Line {
            label: "started".into(),
            color: 0,
            stroke: Stroke::Solid,
            markers: false,
            points: rate_steps(s, |r| r.started),
        });
        lines.push(Line {
            label: "joins accepted".into(),
            color: 2,
            stroke: Stroke::Solid,
            markers: false,
            points: rate_steps(s, |r| r.joins),
        });
    }
    // Drawn last, so the plan stays visible where the run kept up with it.
    if !s.intended_arrivals.is_empty() {
        lines.push(Line {
            label: "intended arrivals".into(),
            color: 7,
            stroke: Stroke::Reference,
            markers: false,
            points: s
                .intended_arrivals
                .iter()
                .enumerate()
                .flat_map(|(i, n)| [(i as f64, *n as f64), (i as f64 + 1.0, *n as f64)])
                .collect(),
        });
    }
    Plot {
        file_stem: "arrivals-and-joins",
        title: "Arrivals and joins per second".into(),
        x: XAxis::Seconds,
        y_label: "per second",
        lines,
        empty_note: "no arrivals",
        x_end: run_end(s),
    }
}

fn join_errors(s: &Summary) -> Plot {
    let codes_seen: BTreeSet<u32> = s
        .series
        .iter()
        .flat_map(|r| r.join_errors.keys().copied())
        .collect();
    let lines = codes_seen
        .into_iter()
        .enumerate()
        .map(|(i, code)| Line {
            label: format!("{code} {}", codes::message(code)),
            color: (i + 3) % PALETTE.len(),
            stroke: Stroke::Solid,
            markers: false,
            points: rate_steps(s, |r| r.join_errors.get(&code).copied().unwrap_or(0)),
        })
        .collect();
    Plot {
        file_stem: "join-errors",
        title: "Join refusals by code".into(),
        x: XAxis::Seconds,
        y_label: "refusals per second",
        lines,
        empty_note: "no join refusals",
        x_end: run_end(s),
    }
}

fn generator_lateness(s: &Summary) -> Plot {
    let pick = |f: fn(&IntervalLatency) -> u64| {
        s.series
            .iter()
            .map(|r| match r.latency.get("lateness") {
                Some(l) if l.count > 0 => (r.t, ms(f(l))),
                _ => (r.t, f64::NAN),
            })
            .collect::<Vec<_>>()
    };
    let mut lines = Vec::new();
    if s.series.iter().any(|r| r.latency.contains_key("lateness")) {
        lines.push(Line {
            label: "max".into(),
            color: 3,
            stroke: Stroke::Solid,
            markers: true,
            points: pick(|l| l.max),
        });
        lines.push(Line {
            label: "p99".into(),
            color: 1,
            stroke: Stroke::Solid,
            markers: true,
            points: pick(|l| l.p99),
        });
    }
    Plot {
        file_stem: "generator-lateness",
        title: "Generator lateness (start behind plan)".into(),
        x: XAxis::Seconds,
        y_label: "lateness (ms)",
        lines,
        empty_note: "no arrivals measured",
        x_end: run_end(s),
    }
}

/// The run's length for time axes: its duration, or the last series row or planned second.
fn run_end(s: &Summary) -> f64 {
    let last_row = s.series.last().map_or(0.0, |r| r.t);
    let planned = s.intended_arrivals.len() as f64;
    [s.duration_s, last_row, planned]
        .into_iter()
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max)
}

fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_points_skip_q1_and_end_at_max() {
        let mut h = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap();
        for v in 1..=1000u64 {
            h.record(v * 10).unwrap();
        }
        let pts = percentile_points(&h);
        assert!(pts.iter().all(|p| p.0.is_finite() && p.0 >= 1.0));
        assert!(pts.windows(2).all(|w| w[0].0 <= w[1].0 && w[0].1 <= w[1].1));
        let last = pts.last().copied().unwrap();
        assert!(last.0 >= 1000.0 && last.1 == ms(h.max()), "{last:?}");
        assert!(percentile_points(&Histogram::<u64>::new(3).unwrap()).is_empty());
    }
}
