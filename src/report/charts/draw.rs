//! Drawing a [`Plot`] on any plotters backend: axes (linear seconds, or the log percentile
//! axis), lines split at gaps, a note when there is nothing to show, and the legend in its own
//! strip at the right so it never covers data.

use plotters::coord::Shift;
use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::prelude::*;

use super::{Line, Plot, Stroke, XAxis};

/// Width of the legend strip at the right of each chart, pixels: the legend never covers data.
const LEGEND_W: u32 = 240;

/// Font family every chart asks for; the embedded font is registered under this name.
pub(super) const FAMILY: &str = "sans-serif";

/// Series colours (Tableau 10): distinct, and readable on white.
pub(super) const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// Label of a percentile-axis tick: x = 10^k is the (1 − 10^−k) quantile.
pub fn percentile_label(x: f64) -> String {
    let k = x.log10().round().max(0.0) as i32;
    if k == 0 {
        return "0%".into();
    }
    let decimals = (k - 2).max(0) as usize;
    format!("{:.*}%", decimals, 100.0 - 100.0 / 10f64.powi(k))
}

fn finite_points(plot: &Plot) -> impl Iterator<Item = (f64, f64)> + '_ {
    plot.lines
        .iter()
        .flat_map(|l| l.points.iter().copied())
        .filter(|p| p.0.is_finite() && p.1.is_finite())
}

/// The line split at NaN breaks.
fn segments(points: &[(f64, f64)]) -> Vec<Vec<(f64, f64)>> {
    points
        .split(|p| !p.1.is_finite())
        .filter(|seg| !seg.is_empty())
        .map(<[(f64, f64)]>::to_vec)
        .collect()
}

pub(super) fn draw<DB: DrawingBackend>(
    plot: &Plot,
    root: &DrawingArea<DB, Shift>,
) -> Result<(), String> {
    let e = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    root.fill(&WHITE).map_err(e)?;
    let (w, _) = root.dim_in_pixel();
    let (chart_area, legend_area) = root.split_horizontally(w.saturating_sub(LEGEND_W));
    let y_max = finite_points(plot).map(|p| p.1).fold(0.0, f64::max);
    match plot.x {
        XAxis::Seconds => {
            let x_max = finite_points(plot)
                .map(|p| p.0)
                .fold(plot.x_end.max(1.0), f64::max);
            let axes = Axes {
                x_desc: "time since start (s)",
                x_format: &|x| axis_number(*x),
                x_labels: 12,
            };
            plot_in(plot, &chart_area, 0.0..x_max, 0.0..nice_top(y_max), axes).map_err(e)?;
        }
        XAxis::Percentile => {
            let x_max = finite_points(plot).map(|p| p.0).fold(100.0, f64::max);
            let decades = x_max.log10().ceil().max(2.0) as i32;
            let ticks: Vec<f64> = (0..=decades).map(|k| 10f64.powi(k)).collect();
            // Latencies span µs to s across metrics: a log y keeps the fast ones readable.
            let y_min = finite_points(plot)
                .map(|p| p.1)
                .filter(|y| *y > 0.0)
                .fold(f64::INFINITY, f64::min);
            let y_bottom = if y_min.is_finite() {
                10f64.powf(y_min.log10().floor())
            } else {
                0.1
            };
            let y_top = nice_top(y_max).max(y_bottom * 10.0);
            // Zero latencies (notices before the reference) sit on the axis floor, not at −∞.
            let mut plot = plot.clone();
            for line in &mut plot.lines {
                for p in &mut line.points {
                    p.1 = p.1.max(y_bottom);
                }
            }
            let plot = &plot;
            let axes = Axes {
                x_desc: "percentile (log scale)",
                x_format: &|x| percentile_label(*x),
                x_labels: ticks.len(),
            };
            plot_in(
                plot,
                &chart_area,
                (1.0..10f64.powi(decades))
                    .log_scale()
                    .with_key_points(ticks),
                (y_bottom..y_top).log_scale(),
                axes,
            )
            .map_err(e)?;
        }
        XAxis::Categories(names) => {
            super::bars::draw_bars(plot, names, &chart_area, nice_top(y_max)).map_err(e)?;
        }
    }
    draw_legend(plot, &legend_area).map_err(e)
}

/// How the x axis is described and labelled.
struct Axes<'f> {
    x_desc: &'static str,
    x_format: &'f dyn Fn(&f64) -> String,
    x_labels: usize,
}

/// Builds the axes over `x` × `y`, then draws the mesh, the lines and the empty-chart note.
fn plot_in<DB, X, Y>(
    plot: &Plot,
    area: &DrawingArea<DB, Shift>,
    x: X,
    y: Y,
    axes: Axes<'_>,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>>
where
    DB: DrawingBackend,
    X: AsRangedCoord<Value = f64>,
    Y: AsRangedCoord<Value = f64>,
    X::CoordDescType: ValueFormatter<f64>,
    Y::CoordDescType: ValueFormatter<f64>,
{
    let mut chart = ChartBuilder::on(area)
        .caption(&plot.title, (FAMILY, 22))
        .margin(12)
        .margin_right(28)
        .x_label_area_size(48)
        .y_label_area_size(72)
        .build_cartesian_2d(x, y)?;
    chart
        .configure_mesh()
        .x_desc(axes.x_desc)
        .y_desc(plot.y_label)
        .axis_desc_style((FAMILY, 16))
        .label_style((FAMILY, 14))
        .x_labels(axes.x_labels)
        .y_labels(8)
        .x_label_formatter(axes.x_format)
        .y_label_formatter(&|v| axis_number(*v))
        .bold_line_style(RGBColor(215, 215, 215))
        .light_line_style(RGBColor(242, 242, 242))
        .max_light_lines(4)
        .draw()?;
    for line in &plot.lines {
        let style = line_style(line);
        for seg in segments(&line.points) {
            if line.markers {
                chart.draw_series(seg.iter().map(|p| Circle::new(*p, 3, style.filled())))?;
            }
            match line.stroke {
                Stroke::Solid => {
                    chart.draw_series(LineSeries::new(seg, style))?;
                }
                Stroke::Dashed | Stroke::Reference => {
                    chart.draw_series(DashedLineSeries::new(seg, 8, 5, style))?;
                }
            }
        }
    }
    note_if_empty(plot, area)
}

pub(super) fn line_style(line: &Line) -> ShapeStyle {
    let color = PALETTE[line.color % PALETTE.len()];
    match line.stroke {
        Stroke::Solid => color.stroke_width(2),
        Stroke::Dashed => color.stroke_width(2),
        Stroke::Reference => BLACK.mix(0.6).stroke_width(2),
    }
}

pub(super) fn note_if_empty<DB: DrawingBackend>(
    plot: &Plot,
    area: &DrawingArea<DB, Shift>,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    if plot.has_data() {
        return Ok(());
    }
    let (w, h) = area.dim_in_pixel();
    let style = TextStyle::from((FAMILY, 20).into_font())
        .color(&RGBColor(110, 110, 110))
        .pos(plotters::style::text_anchor::Pos::new(
            plotters::style::text_anchor::HPos::Center,
            plotters::style::text_anchor::VPos::Center,
        ));
    area.draw_text(plot.empty_note, &style, (w as i32 / 2, h as i32 / 2))
}

/// The legend, drawn in its own strip: a short stroke in the line's style, then its label.
fn draw_legend<DB: DrawingBackend>(
    plot: &Plot,
    area: &DrawingArea<DB, Shift>,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let text = TextStyle::from((FAMILY, 14).into_font()).color(&BLACK);
    let mut y = 60;
    for line in &plot.lines {
        let style = line_style(line);
        let sample = vec![(6, y), (36, y)];
        if let XAxis::Categories(_) = plot.x {
            // Bars: a swatch of the bar's fill, not a stroke.
            area.draw(&Rectangle::new(
                [(12, y - 6), (30, y + 6)],
                style.color.filled(),
            ))?;
            area.draw_text(&line.label, &text, (44, y - 8))?;
            y += 24;
            continue;
        }
        match line.stroke {
            Stroke::Solid => area.draw(&PathElement::new(sample, style))?,
            Stroke::Dashed | Stroke::Reference => {
                area.draw(&PathElement::new(vec![(6, y), (16, y)], style))?;
                area.draw(&PathElement::new(vec![(24, y), (36, y)], style))?;
            }
        }
        area.draw_text(&line.label, &text, (44, y - 8))?;
        y += 24;
    }
    Ok(())
}

/// A round upper bound for the y axis, a little above the data.
pub(super) fn nice_top(max: f64) -> f64 {
    if !(max.is_finite() && max > 0.0) {
        return 1.0;
    }
    let padded = max * 1.08;
    let step = 10f64.powf(padded.log10().floor());
    for m in [1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0] {
        if m * step >= padded {
            return m * step;
        }
    }
    10.0 * step
}

/// Axis numbers without float noise: 0.25, 2, 1500.
pub(super) fn axis_number(v: f64) -> String {
    if v == 0.0 {
        "0".into()
    } else if v.abs() >= 100.0 || v.fract() == 0.0 {
        format!("{v:.0}")
    } else if v.abs() >= 1.0 {
        trim(format!("{v:.1}"))
    } else {
        trim(format!("{v:.3}"))
    }
}

fn trim(s: String) -> String {
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_axis_labels() {
        let labels: Vec<String> = [1.0, 10.0, 100.0, 1e3, 1e4, 1e5]
            .into_iter()
            .map(percentile_label)
            .collect();
        assert_eq!(labels, ["0%", "90%", "99%", "99.9%", "99.99%", "99.999%"]);
    }

    #[test]
    fn nan_breaks_lines_and_axes_round_up() {
        let pts = [(0.0, 1.0), (1.0, f64::NAN), (2.0, 3.0), (3.0, 4.0)];
        assert_eq!(
            segments(&pts),
            vec![vec![(0.0, 1.0)], vec![(2.0, 3.0), (3.0, 4.0)]]
        );
        assert_eq!(nice_top(0.0), 1.0);
        assert_eq!(nice_top(f64::NAN), 1.0);
        assert_eq!(nice_top(18.5), 20.0);
        assert_eq!(nice_top(100.0), 120.0);
        assert_eq!(axis_number(0.25), "0.25");
        assert_eq!(axis_number(2.0), "2");
        assert_eq!(axis_number(1500.0), "1500");
    }
}
