//! Grouped bars on a category axis ([`XAxis::Categories`](super::XAxis::Categories)): one group
//! per category, one bar per line in the line's colour, each bar labelled with its value so a
//! short bar beside a tall one still reads exactly.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::Plot;
use super::draw::{FAMILY, axis_number, line_style, note_if_empty};

/// Share of a category's width its bars take together (the rest is the gap between groups).
const GROUP_WIDTH: f64 = 0.72;

/// Draws `plot`'s lines as grouped bars over `names`, on a linear y axis from 0 to `y_top`.
/// A line's point `(i, v)` is its bar in category `i`; a NaN `v` (no samples) draws no bar.
pub(super) fn draw_bars<DB: DrawingBackend>(
    plot: &Plot,
    names: &'static [&'static str],
    area: &DrawingArea<DB, Shift>,
    y_top: f64,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let n = names.len().max(1);
    let mut chart = ChartBuilder::on(area)
        .caption(&plot.title, (FAMILY, 22))
        .margin(12)
        .margin_right(28)
        .x_label_area_size(48)
        .y_label_area_size(72)
        .build_cartesian_2d(0.0..n as f64, 0.0..y_top)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(0)
        .x_desc("metric")
        .y_desc(plot.y_label)
        .axis_desc_style((FAMILY, 16))
        .label_style((FAMILY, 14))
        .y_labels(8)
        .y_label_formatter(&|v| axis_number(*v))
        .bold_line_style(RGBColor(215, 215, 215))
        .light_line_style(RGBColor(242, 242, 242))
        .max_light_lines(4)
        .draw()?;
    // Category names under each group, where a linear axis would put its numbers.
    let name_style = TextStyle::from((FAMILY, 14).into_font())
        .color(&BLACK)
        .pos(Pos::new(HPos::Center, VPos::Top));
    let (base_x, base_y) = area.get_base_pixel();
    for (i, name) in names.iter().enumerate() {
        let (x, y) = chart.backend_coord(&(i as f64 + 0.5, 0.0));
        area.draw_text(name, &name_style, (x - base_x, y - base_y + 8))?;
    }
    let bars = plot.lines.len().max(1) as f64;
    let width = GROUP_WIDTH / bars;
    let value_style = TextStyle::from((FAMILY, 11).into_font())
        .color(&RGBColor(60, 60, 60))
        .pos(Pos::new(HPos::Center, VPos::Bottom));
    for (j, line) in plot.lines.iter().enumerate() {
        let fill = line_style(line).color.filled();
        for &(x, v) in &line.points {
            if !(x.is_finite() && v.is_finite()) {
                continue;
            }
            let left = x.floor() + (1.0 - GROUP_WIDTH) / 2.0 + j as f64 * width;
            chart.draw_series(std::iter::once(Rectangle::new(
                [(left + width * 0.08, 0.0), (left + width * 0.92, v)],
                fill,
            )))?;
            chart.draw_series(std::iter::once(
                EmptyElement::at((left + width / 2.0, v))
                    + Text::new(axis_number(v), (0, -3), value_style.clone()),
            ))?;
        }
    }
    note_if_empty(plot, area)
}
