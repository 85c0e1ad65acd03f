//! Verifications in flight over a load test's wall time, and the in-flight cap.
//!
//! The line is the count at the end of each interval (the most of the merged ones on a long
//! run). The cap (`--max-in-flight`) is drawn as a dashed line only when it is within twice the
//! peak: a cap far above the peak would squash the line to the floor and says nothing, so the
//! notes state it instead. The peak itself is the generator's count, which sees every increase,
//! so it may sit above the sampled line.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use super::series::merged;
use super::{NO_LOAD, NO_SAMPLES, subtitle, x_end};
use crate::metrics::RunSummary;
use crate::metrics::load::LoadSummary;
use crate::report::chart::common::{
    self, Area, DESC_SIZE, LABEL_SIZE, LegendItem, MARGIN, SMALL_SIZE, Swatch, TimeAxis,
    X_LABEL_AREA, Y_LABEL_AREA,
};
use crate::report::chart::{ChartError, Format, Painter, render_with};
use crate::report::palette;

pub(crate) const TITLE: &str = "Load test: verifications in flight";

const WIDTH: u32 = 1000;
/// The plot, axes included.
const PLOT: u32 = 380;

pub fn render(summary: &RunSummary, format: Format) -> Result<Vec<u8>, ChartError> {
    render_with(&Paint(summary), format)
}

/// Whether the cap is drawn: within twice the peak.
pub(crate) fn shows_cap(l: &LoadSummary) -> bool {
    l.max_in_flight > 0 && l.max_in_flight <= l.peak_in_flight.saturating_mul(2)
}

fn line_colour() -> RGBColor {
    common::rgb(palette::PROVIDERS[0])
}
fn cap_colour() -> RGBColor {
    common::rgb(palette::WORSE)
}

fn legend(load: Option<&LoadSummary>) -> Vec<LegendItem> {
    let mut out = vec![LegendItem::new(
        "in flight at the end of each interval",
        line_colour(),
        Swatch::Line,
    )];
    if let Some(l) = load.filter(|l| shows_cap(l)) {
        out.push(LegendItem::new(
            format!(
                "in-flight cap {} (--max-in-flight; arrivals beyond it are dropped)",
                l.max_in_flight
            ),
            cap_colour(),
            Swatch::Line,
        ));
    }
    out
}

fn notes(load: Option<&LoadSummary>) -> Vec<String> {
    let Some(l) = load else {
        return Vec::new();
    };
    let mut out = vec![format!(
        "Peak {}: the generator's own count, which sees every increase (the line sees ends of \
         intervals only).",
        l.peak_in_flight
    )];
    if !shows_cap(l) {
        out.push(format!(
            "The in-flight cap ({}) is over twice the peak: not drawn.",
            l.max_in_flight
        ));
    }
    out
}

struct Paint<'a>(&'a RunSummary);

impl Painter for Paint<'_> {
    fn size(&self) -> Result<(u32, u32), ChartError> {
        let load = self.0.load.as_ref();
        let legend = common::legend_height(WIDTH, &legend(load))?;
        Ok((
            WIDTH,
            common::HEADER + legend + common::notes_height(&notes(load)) + PLOT,
        ))
    }

    fn paint<DB: DrawingBackend>(&self, root: &Area<DB>) -> Result<(), ChartError> {
        let s = self.0;
        let load = s.load.as_ref();
        let area = common::header_with(root, TITLE, &subtitle(s))?;
        let area = common::legend(&area, &legend(load))?;
        let area = common::notes(&area, &notes(load))?;
        let points = load.map(|l| merged(&l.series)).unwrap_or_default();
        let axis = TimeAxis::new(x_end(s, &points));
        let cap = load.filter(|l| shows_cap(l)).map(|l| l.max_in_flight);
        let top = points
            .iter()
            .map(|p| p.in_flight)
            .chain(load.map(|l| l.peak_in_flight))
            .chain(cap)
            .max()
            .unwrap_or(0);
        let y_top = if top > 0 { top as f64 * 1.12 } else { 1.0 };
        let mut chart = ChartBuilder::on(&area)
            .margin(MARGIN)
            .margin_right(MARGIN * 2)
            .x_label_area_size(X_LABEL_AREA)
            .y_label_area_size(Y_LABEL_AREA)
            .build_cartesian_2d(axis.range(), 0.0..y_top)?;
        chart
            .configure_mesh()
            .x_desc(super::wall_time_desc(axis.unit()))
            .y_desc("verifications in flight")
            .x_label_formatter(&|v| common::tick(*v))
            .y_label_formatter(&super::count_label)
            .label_style(common::text(LABEL_SIZE))
            .axis_desc_style(common::text(DESC_SIZE))
            .max_light_lines(0)
            .bold_line_style(RGBColor(215, 215, 215))
            .draw()?;
        let (bx, by) = area.get_base_pixel();
        if let Some(cap) = cap {
            let y = cap as f64;
            chart.draw_series(DashedLineSeries::new(
                [(0.0, y), (axis.end, y)],
                10,
                6,
                cap_colour().stroke_width(2),
            ))?;
            let (px, py) = chart.backend_coord(&(axis.end, y));
            area.draw_text(
                &format!("cap {cap}"),
                &common::anchored(common::text(SMALL_SIZE), HPos::Right, VPos::Bottom),
                (px - bx - 4, py - by - 3),
            )?;
        }
        let xy: Vec<(f64, f64)> = points
            .iter()
            .map(|p| (axis.x(p.t1), p.in_flight as f64))
            .collect();
        if xy.len() == 1 {
            chart.draw_series(std::iter::once(Circle::new(
                xy[0],
                4,
                line_colour().filled(),
            )))?;
        } else {
            chart.draw_series(LineSeries::new(xy, line_colour().stroke_width(2)))?;
        }
        let note = match load {
            None => Some(NO_LOAD),
            Some(_) if points.is_empty() => Some(NO_SAMPLES),
            Some(_) => None,
        };
        if let Some(note) = note {
            let (x, y) = chart.plotting_area().get_pixel_range();
            common::note(
                &area,
                note,
                ((x.start + x.end) / 2 - bx, (y.start + y.end) / 2 - by),
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::load::fixture;

    fn svg(s: &RunSummary) -> String {
        String::from_utf8(render(s, Format::Svg).unwrap()).unwrap()
    }

    #[test]
    fn the_cap_is_drawn_only_within_twice_the_peak() {
        let s = fixture::summary();
        let svg_near = svg(s);
        assert!(svg_near.contains("cap 2000"), "{svg_near}");
        assert!(svg_near.contains("in-flight cap 2000"));
        assert!(svg_near.contains("Peak 2000"));
        let mut far = s.clone();
        let l = far.load.as_mut().unwrap();
        l.max_in_flight = 10_000;
        for x in &mut l.series {
            x.in_flight = x.in_flight.min(1_000);
        }
        l.peak_in_flight = 1_000;
        let svg_far = svg(&far);
        assert!(!svg_far.contains("cap 10000"), "{svg_far}");
        assert!(svg_far.contains("The in-flight cap (10000) is over twice the peak: not drawn."));
        // Exactly twice is still drawn.
        let l = far.load.as_mut().unwrap();
        l.max_in_flight = 2_000;
        assert!(svg(&far).contains("cap 2000"));
    }

    #[test]
    fn shows_cap_is_twice_the_peak_at_most() {
        let mut l = fixture::load();
        l.peak_in_flight = 100;
        for (cap, shown) in [(0, false), (50, true), (200, true), (201, false)] {
            l.max_in_flight = cap;
            assert_eq!(shows_cap(&l), shown, "cap {cap}");
        }
    }
}
