//! Arrival and completion rates of a load test over wall time, and the arrivals dropped.
//!
//! Upper panel: the rate the schedule intended (grey, wide, underneath), the rate the generator
//! issued and the rate verifications ended, per wall second, each interval's value at its end
//! (`LoadSample::t`). Where achieved falls under target the generator could not keep up; where
//! completed falls under achieved verifications pile up in flight. Lower panel: the arrivals
//! dropped in each interval as red bars over it (late by over `MAX_LAG`, or found the in-flight
//! cap), so a saturation shows even when the rates barely move. A dashed line marks the end of
//! the arrival phase when the run drained after it.

use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use super::series::{Point, merged};
use super::{NO_LOAD, NO_SAMPLES, subtitle, x_end};
use crate::metrics::RunSummary;
use crate::metrics::load::LoadSummary;
use crate::report::chart::common::{
    self, Area, DESC_SIZE, LABEL_SIZE, LegendItem, MARGIN, SMALL_SIZE, Swatch, TimeAxis,
    X_LABEL_AREA, Y_LABEL_AREA,
};
use crate::report::chart::{ChartError, Format, Painter, render_with};
use crate::report::load::format;
use crate::report::palette;

pub(crate) const TITLE: &str = "Load test: arrival and completion rates";

const WIDTH: u32 = 1000;
/// The rates panel, axes included.
const RATES: u32 = 330;
/// The dropped-arrivals panel, its caption and the time axis included.
const DROPS: u32 = 200;

pub fn render(summary: &RunSummary, format: Format) -> Result<Vec<u8>, ChartError> {
    render_with(&Paint(summary), format)
}

fn target_colour() -> RGBColor {
    common::rgb(palette::OTHER)
}
fn achieved_colour() -> RGBColor {
    common::rgb(palette::PROVIDERS[0])
}
fn completed_colour() -> RGBColor {
    common::rgb(palette::PROVIDERS[2])
}
fn dropped_colour() -> RGBColor {
    common::rgb(palette::WORSE)
}

fn legend() -> Vec<LegendItem> {
    vec![
        LegendItem::new("target (intended)", target_colour(), Swatch::Line),
        LegendItem::new("achieved (issued)", achieved_colour(), Swatch::Line),
        LegendItem::new("completed (ended)", completed_colour(), Swatch::Line),
        LegendItem::new("dropped arrivals", dropped_colour(), Swatch::Fill),
    ]
}

/// The caption: what the times are, and what the speed means.
fn notes(load: Option<&LoadSummary>) -> Vec<String> {
    let k = load.map_or_else(|| "K".to_owned(), |l| format::factor(l.speed));
    vec![
        format!(
            "Times are wall seconds since the first arrival was due; with --speed {k} the world \
             ran {k} x faster than the wall clock."
        ),
        "Rates per wall second, each interval's at its end; dropped: late by over 1 s, or at \
         the in-flight cap."
            .to_owned(),
    ]
}

struct Paint<'a>(&'a RunSummary);

impl Painter for Paint<'_> {
    fn size(&self) -> Result<(u32, u32), ChartError> {
        let legend = common::legend_height(WIDTH, &legend())?;
        let notes = common::notes_height(&notes(self.0.load.as_ref()));
        Ok((WIDTH, common::HEADER + legend + notes + RATES + DROPS))
    }

    fn paint<DB: DrawingBackend>(&self, root: &Area<DB>) -> Result<(), ChartError> {
        let s = self.0;
        let area = common::header_with(root, TITLE, &subtitle(s))?;
        let area = common::legend(&area, &legend())?;
        let area = common::notes(&area, &notes(s.load.as_ref()))?;
        let points = s
            .load
            .as_ref()
            .map(|l| merged(&l.series))
            .unwrap_or_default();
        let axis = TimeAxis::new(x_end(s, &points));
        let (upper, lower) = area.split_vertically(RATES);
        let empty = match &s.load {
            None => Some(NO_LOAD),
            Some(_) if points.is_empty() => Some(NO_SAMPLES),
            Some(_) => None,
        };
        rates(&upper, s.load.as_ref(), &points, &axis, empty)?;
        drops(&lower, s.load.as_ref(), &points, &axis, empty.is_none())?;
        Ok(())
    }
}

/// The end of the arrival phase, when a drain followed it: `(x in axis units)`.
fn drain_start(load: Option<&LoadSummary>, axis: &TimeAxis) -> Option<f64> {
    let l = load?;
    (l.drain > 0.0 && l.duration.is_finite() && l.duration > 0.0).then(|| axis.x(l.duration))
}

/// A vertical dashed line at `x` over `y`, in chart coordinates.
fn dashed_vertical<DB: DrawingBackend>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>,
    x: f64,
    y: std::ops::Range<f64>,
) -> Result<(), ChartError> {
    chart.draw_series(DashedLineSeries::new(
        [(x, y.start), (x, y.end)],
        6,
        5,
        common::rgb(palette::MUTED).stroke_width(1),
    ))?;
    Ok(())
}

/// The rates panel; `empty` is the note to draw instead of lines.
fn rates<DB: DrawingBackend>(
    area: &Area<DB>,
    load: Option<&LoadSummary>,
    points: &[Point],
    axis: &TimeAxis,
    empty: Option<&str>,
) -> Result<(), ChartError> {
    let top = points
        .iter()
        .flat_map(|p| [p.target_rate, p.achieved_rate, p.completed_rate])
        .fold(0.0f64, f64::max);
    let y_top = if top > 0.0 { top * 1.1 } else { 1.0 };
    let mut chart = ChartBuilder::on(area)
        .margin(MARGIN)
        .margin_bottom(4)
        .x_label_area_size(28)
        .y_label_area_size(Y_LABEL_AREA)
        .build_cartesian_2d(axis.range(), 0.0..y_top)?;
    chart
        .configure_mesh()
        .y_desc("per wall second")
        .x_label_formatter(&|v| common::tick(*v))
        .y_label_formatter(&|v| common::tick(*v))
        .label_style(common::text(LABEL_SIZE))
        .axis_desc_style(common::text(DESC_SIZE))
        .max_light_lines(0)
        .bold_line_style(RGBColor(215, 215, 215))
        .draw()?;
    if let Some(x) = drain_start(load, axis) {
        dashed_vertical(&mut chart, x, 0.0..y_top)?;
        let (px, py) = chart.backend_coord(&(x, y_top));
        let (bx, by) = area.get_base_pixel();
        area.draw_text(
            "drain",
            &common::anchored(common::muted(SMALL_SIZE), HPos::Left, VPos::Top),
            (px - bx + 4, py - by + 2),
        )?;
    }
    // What a line shows, its colour and width.
    type Line = (fn(&Point) -> f64, RGBColor, u32);
    let lines: [Line; 3] = [
        (|p| p.target_rate, target_colour(), 5),
        (|p| p.achieved_rate, achieved_colour(), 2),
        (|p| p.completed_rate, completed_colour(), 2),
    ];
    for (value, colour, width) in lines {
        let xy: Vec<(f64, f64)> = points.iter().map(|p| (axis.x(p.t1), value(p))).collect();
        if xy.len() == 1 {
            chart.draw_series(std::iter::once(Circle::new(xy[0], 4, colour.filled())))?;
        } else {
            chart.draw_series(LineSeries::new(xy, colour.stroke_width(width)))?;
        }
    }
    if let Some(note) = empty {
        let (x, y) = chart.plotting_area().get_pixel_range();
        let (bx, by) = area.get_base_pixel();
        common::note(
            area,
            note,
            ((x.start + x.end) / 2 - bx, (y.start + y.end) / 2 - by),
        )?;
    }
    Ok(())
}

/// The dropped-arrivals panel: a red bar over each interval that dropped any.
fn drops<DB: DrawingBackend>(
    area: &Area<DB>,
    load: Option<&LoadSummary>,
    points: &[Point],
    axis: &TimeAxis,
    has_samples: bool,
) -> Result<(), ChartError> {
    let most = points.iter().map(|p| p.dropped).max().unwrap_or(0);
    let y_top = if most > 0 { most as f64 * 1.15 } else { 1.0 };
    common::caption(
        area,
        "dropped arrivals per interval",
        (MARGIN + Y_LABEL_AREA) as i32,
    )?;
    let mut chart = ChartBuilder::on(area)
        .margin(MARGIN)
        .margin_top(common::CAPTION + 4)
        .x_label_area_size(X_LABEL_AREA)
        .y_label_area_size(Y_LABEL_AREA)
        .build_cartesian_2d(axis.range(), 0.0..y_top)?;
    chart
        .configure_mesh()
        .x_desc(super::wall_time_desc(axis.unit()))
        .y_desc("dropped")
        .x_label_formatter(&|v| common::tick(*v))
        .y_label_formatter(&super::count_label)
        .label_style(common::text(LABEL_SIZE))
        .axis_desc_style(common::text(DESC_SIZE))
        .max_light_lines(0)
        .y_labels(4)
        .bold_line_style(RGBColor(215, 215, 215))
        .draw()?;
    if let Some(x) = drain_start(load, axis) {
        dashed_vertical(&mut chart, x, 0.0..y_top)?;
    }
    chart.draw_series(points.iter().filter(|p| p.dropped > 0).map(|p| {
        Rectangle::new(
            [(axis.x(p.t0), 0.0), (axis.x(p.t1), p.dropped as f64)],
            dropped_colour().filled(),
        )
    }))?;
    if has_samples && most == 0 {
        let (x, y) = chart.plotting_area().get_pixel_range();
        let (bx, by) = area.get_base_pixel();
        common::note(
            area,
            "no arrival was dropped",
            ((x.start + x.end) / 2 - bx, (y.start + y.end) / 2 - by),
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::load::fixture;

    fn svg(s: &RunSummary) -> String {
        String::from_utf8(render(s, Format::Svg).unwrap()).unwrap()
    }

    fn hex(c: palette::Rgb) -> String {
        format!("#{:02X}{:02X}{:02X}", c.0, c.1, c.2)
    }

    #[test]
    fn drops_are_red_bars_one_per_interval_that_dropped() {
        let s = fixture::summary();
        let svg = svg(s);
        let dropping = s
            .load
            .as_ref()
            .unwrap()
            .series
            .iter()
            .filter(|x| x.dropped > 0)
            .count();
        assert!(dropping > 0);
        let red = format!("fill=\"{}\"", hex(palette::WORSE));
        // The bars and the legend's swatch.
        assert_eq!(svg.matches(&red).count(), dropping + 1, "{svg}");
        assert!(svg.contains("dropped arrivals per interval"));
        assert!(svg.contains("drain"));
    }

    #[test]
    fn the_caption_says_times_are_wall_seconds_and_what_the_speed_did() {
        let svg = svg(fixture::summary());
        assert!(svg.contains("Times are wall seconds"), "{svg}");
        assert!(
            svg.contains("with --speed 10 the world ran 10 x faster"),
            "{svg}"
        );
        assert!(svg.contains("wall time since the first arrival was due (s)"));
    }

    #[test]
    fn a_run_without_drops_says_so() {
        let mut s = fixture::summary().clone();
        for x in &mut s.load.as_mut().unwrap().series {
            x.dropped = 0;
        }
        let svg = svg(&s);
        assert!(svg.contains("no arrival was dropped"));
        assert!(!svg.contains(NO_SAMPLES));
    }
}
