//! A route's failure rate per bucket over the records' time, its incident windows shaded and
//! numbered as the page's incident table numbers them, and its baseline dashed; under it, thin,
//! the two rates it is made of: fast errors (per judged attempt) and losses (per attempt past
//! the provider), so a window shows which one moved.
//!
//! The rate is `RouteFit::failure_series` (fast errors, losses and silent timeouts per judged
//! attempt; no point where a bucket had no attempt, so the line breaks there). Over
//! [`MAX_POINTS`] buckets, consecutive buckets are merged and each point is the plain mean of
//! their rates (the series carries no trial counts), which the notes say. The baseline is the
//! change-point detection's (the trial-weighted lower quartile of its segments' rates), which every
//! incident carries; a route without incidents has none, so the rate outside incidents the model
//! fitted (`1 - (1 - error rate) (1 - loss)`) is drawn instead and named so. Time is in minutes,
//! or in hours from a span of 10 hours.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use super::{MAX_POINTS, centre, subtitle};
use crate::fit::model::{FitModel, RouteFit};
use crate::report::chart::common::{
    self, Area, DESC_SIZE, FAULT_ALPHA, LABEL_SIZE, LegendItem, MARGIN, MAX_NAME, SMALL_SIZE,
    Swatch, X_LABEL_AREA, Y_LABEL_AREA,
};
use crate::report::chart::{ChartError, Format, Painter, render_with};
use crate::report::fit::percent;
use crate::report::palette;

/// The note of a route without attempts.
pub(crate) const NO_ATTEMPTS: &str = "no attempts on this route";

/// Most incident windows that get their number drawn.
const MAX_LABELS: usize = 40;

const WIDTH: u32 = 1000;
const PLOT: u32 = 380;

pub(super) fn render(
    model: &FitModel,
    route: &RouteFit,
    k: usize,
    format: Format,
) -> Result<Vec<u8>, ChartError> {
    render_with(&Paint { model, route, k }, format)
}

fn line_colour() -> RGBColor {
    common::rgb(palette::PROVIDERS[0])
}
fn baseline_colour() -> RGBColor {
    common::rgb(palette::INK)
}
fn incident_colour() -> RGBColor {
    common::rgb(palette::WORSE)
}
fn error_colour() -> RGBColor {
    common::rgb(palette::PROVIDERS[1])
}
fn loss_colour() -> RGBColor {
    common::rgb(palette::PROVIDERS[2])
}

/// Minutes, or hours from 10 hours.
struct Axis {
    div: f64,
    unit: &'static str,
    end: f64,
}

impl Axis {
    fn new(seconds: f64) -> Axis {
        let seconds = if seconds.is_finite() && seconds > 0.0 {
            seconds
        } else {
            60.0
        };
        let (div, unit) = if seconds < 10.0 * 3600.0 {
            (60.0, "min")
        } else {
            (3600.0, "h")
        };
        Axis {
            div,
            unit,
            end: seconds / div,
        }
    }

    fn x(&self, seconds: f64) -> f64 {
        seconds / self.div
    }
}

/// The dashed line: its value and label.
fn reference(r: &RouteFit) -> Option<(f64, String)> {
    if let Some(i) = r.incidents.first() {
        return Some((
            i.baseline,
            format!(
                "baseline {} (change-point lower quartile)",
                percent(i.baseline)
            ),
        ));
    }
    if r.totals.attempts == 0 {
        return None;
    }
    let (e, l) = (r.error_rate.value, r.loss.value);
    let outside = 1.0 - (1.0 - e) * (1.0 - l);
    Some((
        outside,
        format!(
            "fitted failure rate {} (no incident found)",
            percent(outside)
        ),
    ))
}

fn legend(r: &RouteFit) -> Vec<LegendItem> {
    if r.failure_series.iter().all(Option::is_none) {
        return Vec::new();
    }
    let mut out = vec![
        LegendItem::new("failure rate per bucket", line_colour(), Swatch::Line),
        LegendItem::new("of which fast errors", error_colour(), Swatch::Line),
        LegendItem::new(
            "losses (per attempt past the provider)",
            loss_colour(),
            Swatch::Line,
        ),
    ];
    if !r.incidents.is_empty() {
        out.push(LegendItem::new(
            format!("incident windows ({})", r.incidents.len()),
            incident_colour(),
            Swatch::Band,
        ));
    }
    if let Some((_, label)) = reference(r) {
        out.push(LegendItem::new(label, baseline_colour(), Swatch::Line));
    }
    out
}

/// Buckets merged per point.
fn per_point(n: usize) -> usize {
    n.div_ceil(MAX_POINTS).max(1)
}

fn notes(model: &FitModel, r: &RouteFit) -> Vec<String> {
    let n = r.failure_series.len();
    if r.failure_series.iter().all(Option::is_none) {
        return Vec::new();
    }
    let k = per_point(n);
    let bucket = common::tick(model.bucket);
    let mut out = vec![
        "Fast errors, losses and silent timeouts per judged attempt; a gap: no attempt.".to_owned(),
    ];
    if k > 1 {
        out.push(format!(
            "{n} buckets of {bucket} s: each point is the mean of {k} buckets' rates."
        ));
    } else {
        out.push(format!("{n} buckets of {bucket} s."));
    }
    out
}

/// Points of the line: `(seconds at the middle, mean rate)` per group of buckets, `None` for a
/// group without attempts.
fn points(series: &[Option<f64>], bucket: f64) -> Vec<(f64, Option<f64>)> {
    let k = per_point(series.len());
    series
        .chunks(k)
        .enumerate()
        .map(|(g, chunk)| {
            let rates: Vec<f64> = chunk.iter().flatten().copied().collect();
            let mid = (g * k) as f64 * bucket + chunk.len() as f64 * bucket / 2.0;
            let mean = (!rates.is_empty()).then(|| rates.iter().sum::<f64>() / rates.len() as f64);
            (mid, mean)
        })
        .collect()
}

struct Paint<'a> {
    model: &'a FitModel,
    route: &'a RouteFit,
    k: usize,
}

impl Painter for Paint<'_> {
    fn size(&self) -> Result<(u32, u32), ChartError> {
        let legend = common::legend_height(WIDTH, &legend(self.route))?;
        Ok((
            WIDTH,
            common::HEADER + legend + common::notes_height(&notes(self.model, self.route)) + PLOT,
        ))
    }

    fn paint<DB: DrawingBackend>(&self, root: &Area<DB>) -> Result<(), ChartError> {
        let (m, r) = (self.model, self.route);
        let title = format!(
            "Failure rate: {} {}/{}",
            common::short(&r.provider, MAX_NAME),
            r.country,
            r.number_type
        );
        let area = common::header_with(root, &title, &subtitle(r, self.k))?;
        let area = common::legend(&area, &legend(r))?;
        let area = common::notes(&area, &notes(m, r))?;
        let bucket = if m.bucket.is_finite() && m.bucket > 0.0 {
            m.bucket
        } else {
            1.0
        };
        let end = m
            .span
            .max(r.failure_series.len() as f64 * bucket)
            .max(r.incidents.iter().map(|i| i.end).fold(0.0, f64::max));
        let axis = Axis::new(end);
        let pts = points(&r.failure_series, bucket);
        let reference = reference(r);
        let highest = pts
            .iter()
            .filter_map(|p| p.1)
            .chain(r.incidents.iter().map(|i| i.failure_rate))
            .chain(reference.as_ref().map(|x| x.0))
            .filter(|v| v.is_finite())
            .fold(0.0, f64::max);
        let top = (highest * 100.0 * 1.15).clamp(5.0, 105.0);
        let mut chart = ChartBuilder::on(&area)
            .margin(MARGIN)
            .margin_right(MARGIN * 2)
            .x_label_area_size(X_LABEL_AREA)
            .y_label_area_size(Y_LABEL_AREA)
            .build_cartesian_2d(0.0..axis.end, 0.0..top)?;
        chart
            .configure_mesh()
            .x_desc(format!("time since the first bucket ({})", axis.unit))
            .y_desc("failure rate (%)")
            .x_label_formatter(&|v| common::tick(*v))
            .y_label_formatter(&|v| common::tick(*v))
            .label_style(common::text(LABEL_SIZE))
            .axis_desc_style(common::text(DESC_SIZE))
            .max_light_lines(0)
            .bold_line_style(RGBColor(215, 215, 215))
            .draw()?;
        let (bx, by) = area.get_base_pixel();
        let mut last_label = i32::MIN;
        let label_style = common::anchored(common::muted(SMALL_SIZE), HPos::Left, VPos::Top);
        for (n, i) in r.incidents.iter().enumerate() {
            let (x0, x1) = (axis.x(i.start), axis.x(i.end.max(i.start)));
            chart.draw_series(std::iter::once(Rectangle::new(
                [(x0, 0.0), (x1, top)],
                incident_colour().mix(FAULT_ALPHA * 1.5).filled(),
            )))?;
            let (px, py) = chart.backend_coord(&(x0, top));
            let label = format!("#{}", n + 1);
            let w = common::measure(&label, SMALL_SIZE)?.0;
            if n < MAX_LABELS && px - bx >= last_label {
                area.draw_text(&label, &label_style, (px - bx + 3, py - by + 3))?;
                last_label = px - bx + 3 + w + 4;
            }
        }
        if let Some((v, _)) = &reference {
            let y = (v * 100.0).min(top);
            chart.draw_series(DashedLineSeries::new(
                [(0.0, y), (axis.end, y)],
                10,
                6,
                baseline_colour().stroke_width(2),
            ))?;
        }
        // The two component rates, thin, broken where a bucket has no attempt of their kind.
        for (series, colour) in [
            (&r.error_series, error_colour()),
            (&r.loss_series, loss_colour()),
        ] {
            let mut segment: Vec<(f64, f64)> = Vec::new();
            for &(t, v) in &points(series, bucket) {
                match v {
                    Some(v) if v.is_finite() => segment.push((axis.x(t), (v * 100.0).min(top))),
                    _ => {
                        if segment.len() > 1 {
                            chart.draw_series(LineSeries::new(
                                segment.drain(..),
                                colour.stroke_width(1),
                            ))?;
                        }
                        segment.clear();
                    }
                }
            }
            if segment.len() > 1 {
                chart.draw_series(LineSeries::new(segment, colour.stroke_width(1)))?;
            }
        }
        // The line, broken where a point has no attempt; a lone point as a dot.
        let mut run: Vec<(f64, f64)> = Vec::new();
        let flush = |run: &mut Vec<(f64, f64)>,
                     chart: &mut ChartContext<'_, DB, _>|
         -> Result<(), ChartError> {
            match run.len() {
                0 => {}
                1 => {
                    chart.draw_series(std::iter::once(Circle::new(
                        run[0],
                        3,
                        line_colour().filled(),
                    )))?;
                }
                _ => {
                    chart.draw_series(LineSeries::new(
                        run.iter().copied(),
                        line_colour().stroke_width(2),
                    ))?;
                }
            }
            run.clear();
            Ok(())
        };
        for &(t, v) in &pts {
            match v {
                Some(v) if v.is_finite() => run.push((axis.x(t), (v * 100.0).min(top))),
                _ => flush(&mut run, &mut chart)?,
            }
        }
        flush(&mut run, &mut chart)?;
        if r.failure_series.iter().all(Option::is_none) {
            common::note(&area, NO_ATTEMPTS, centre(&chart, &area))?;
        }
        Ok(())
    }
}
