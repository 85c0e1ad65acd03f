//! One parameter: a metric's mean against it, the interval shaded, frontier points and the
//! recommendation marked, a constraint's limit drawn as a dashed line.

use std::ops::Range;

use plotters::coord::CoordTranslate;
use plotters::prelude::*;

use super::{
    ParamAxis, axis_value, distinct, empty, nice_ticks, plot_box, polyline, recommended_mark,
    subtitle, tick_label, title,
};
use crate::experiment::sweep::{ConstraintInfo, MetricInfo, SweepPoint, SweepSummary};
use crate::metrics::compare::Better;
use crate::report::chart::common::{
    self, Area, DESC_SIZE, FixedTicks, LABEL_SIZE, LegendItem, MARGIN, Swatch, X_LABEL_AREA,
};
use crate::report::chart::{ChartError, Format, Painter, render_with};
use crate::report::palette;
use crate::report::replicated::{self, Style};

const WIDTH: u32 = 1000;
/// Height of the plot with its x labels and margins.
const PLOT: u32 = 520;
/// Every point gets a marker up to this many; beyond, only the frontier and the recommendation.
const MARKED: usize = 200;

pub(super) fn render(
    s: &SweepSummary,
    metric: &MetricInfo,
    format: Format,
) -> Result<Vec<u8>, ChartError> {
    render_with(&Paint { s, metric }, format)
}

struct Paint<'a> {
    s: &'a SweepSummary,
    metric: &'a MetricInfo,
}

struct Geometry<'a> {
    x: ParamAxis,
    x_ticks: Vec<(f64, String)>,
    y_range: Range<f64>,
    y_ticks: Vec<f64>,
    y_step: f64,
    y_label_area: u32,
    /// Points with a value of the parameter, in x order (then point order).
    points: Vec<(f64, &'a SweepPoint)>,
    /// The constraints on this metric whose limit is inside the plotted range.
    limits: Vec<&'a ConstraintInfo>,
    legend: Vec<LegendItem>,
    notes: Vec<String>,
}

const MEAN: palette::Rgb = palette::POLICIES[0];
const FRONTIER: palette::Rgb = palette::POLICIES[1];

impl<'a> Paint<'a> {
    fn geometry(&self) -> Result<Option<Geometry<'a>>, ChartError> {
        let s = self.s;
        let key = &self.metric.key;
        if s.parameters.is_empty() {
            return Ok(None);
        }
        let x = ParamAxis::of(s, 0);
        let mut points: Vec<(f64, &SweepPoint)> = s
            .points
            .iter()
            .filter_map(|p| Some((x.pos(p.values.first()?)?, p)))
            .collect();
        points.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.index.cmp(&b.1.index)));

        let values: Vec<f64> = points
            .iter()
            .filter_map(|(_, p)| p.estimate(key))
            .flat_map(|i| [Some(i.mean), i.lo, i.hi])
            .flatten()
            .filter(|v| v.is_finite())
            .collect();
        let (lo, hi) = values
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
                (a.min(v), b.max(v))
            });
        let mut notes = Vec::new();
        let mut limits = Vec::new();
        let mut shown = values.clone();
        let reach = if lo <= hi {
            (hi - lo).max(hi.abs() * 0.01)
        } else {
            0.0
        };
        for c in s.constraints.iter().filter(|c| &c.key == key) {
            // A limit far from the data would squash it: named instead of drawn.
            if lo <= hi && c.value >= lo - reach && c.value <= hi + reach {
                limits.push(c);
                shown.push(c.value);
            } else {
                notes.push(format!(
                    "Constraint {}: its limit lies {} the values shown.",
                    c.text,
                    if c.value > hi { "above" } else { "below" }
                ));
            }
        }
        let magnitude = shown.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let (y0, y1) = common::padded(shown.iter().copied(), (magnitude * 1e-4).max(1e-9), 0.0);
        // A rate's axis stops just above 100 %.
        let y1 = if replicated::Unit::of(key) == replicated::Unit::Rate {
            y1.min(1.0 + (y1 - y0) * 0.03).max(hi.min(1.0))
        } else {
            y1
        };
        let (y_ticks, y_step) = nice_ticks(y0, y1, 6);
        let y_labels: Vec<String> = y_ticks
            .iter()
            .map(|&v| axis_value(key, v, y_step))
            .collect();
        let y_label_area =
            (24 + common::widest(y_labels.iter().map(String::as_str), LABEL_SIZE)?).max(72);

        let missing = points.iter().filter(|(_, p)| p.mean(key).is_none()).count();
        if missing > 0 {
            notes.push(format!(
                "{} without a value of {} not drawn.",
                super::super::points(missing),
                self.metric.metric
            ));
        }
        if !x.ordered() {
            notes.push(
                "Names have no order: each value's mean with its interval as a whisker.".to_owned(),
            );
        }
        let x_ticks = x.ticks(
            (MARGIN + y_label_area) as i32,
            (WIDTH - MARGIN * 2) as i32,
            false,
            LABEL_SIZE,
        )?;

        let mut legend = vec![LegendItem::new(
            "mean",
            common::rgb(MEAN),
            if x.ordered() {
                Swatch::Line
            } else {
                Swatch::Point
            },
        )];
        if points
            .iter()
            .any(|(_, p)| p.estimate(key).is_some_and(|i| i.lo.is_some()))
        {
            legend.push(LegendItem::new(
                format!(
                    "{} interval",
                    replicated::confidence(s.confidence, Style::Terminal)
                ),
                common::rgb(MEAN),
                if x.ordered() {
                    Swatch::Band
                } else {
                    Swatch::Line
                },
            ));
        }
        legend.push(LegendItem::new(
            "on the frontier",
            common::rgb(FRONTIER),
            Swatch::Point,
        ));
        if s.recommended().is_some() {
            legend.push(LegendItem::new(
                "recommended",
                common::rgb(palette::INK),
                Swatch::Ring,
            ));
        }
        for c in &limits {
            legend.push(LegendItem::new(
                format!("constraint {}", common::short(&c.text, 48)),
                common::rgb(palette::EJECTED),
                Swatch::Line,
            ));
        }
        Ok(Some(Geometry {
            x,
            x_ticks,
            y_range: y0..y1,
            y_ticks,
            y_step,
            y_label_area,
            points,
            limits,
            legend,
            notes,
        }))
    }

    fn plot<DB: DrawingBackend>(&self, area: &Area<DB>, g: &Geometry) -> Result<(), ChartError> {
        let key = &self.metric.key;
        let mut chart = ChartBuilder::on(area)
            .margin(MARGIN)
            .margin_right(MARGIN * 2)
            .x_label_area_size(X_LABEL_AREA)
            .y_label_area_size(g.y_label_area)
            .build_cartesian_2d(
                FixedTicks {
                    range: g.x.range(),
                    ticks: g.x_ticks.iter().map(|t| t.0).collect(),
                },
                FixedTicks {
                    range: g.y_range.clone(),
                    ticks: g.y_ticks.clone(),
                },
            )?;
        let x_label = |v: &f64| tick_label(&g.x_ticks, *v);
        let y_label = |v: &f64| axis_value(key, *v, g.y_step);
        chart
            .configure_mesh()
            .x_desc(g.x.desc())
            .y_desc(format!(
                "{} ({} is better)",
                common::short(&self.metric.metric, 60),
                match self.metric.better {
                    Better::Higher => "higher",
                    Better::Lower => "lower",
                }
            ))
            .x_label_formatter(&x_label)
            .y_label_formatter(&y_label)
            .label_style(common::text(LABEL_SIZE))
            .axis_desc_style(common::text(DESC_SIZE))
            .max_light_lines(0)
            .bold_line_style(RGBColor(228, 228, 228))
            .draw()?;
        let (cols, _) = plot_box(&chart, area);
        let (bx, by) = area.get_base_pixel();
        // A copy of the coordinates, so positions can be read while the chart is drawn on.
        let coord = chart.as_coord_spec().clone();
        let px = move |x: f64, y: f64| {
            let (a, b) = coord.translate(&(x, y));
            (a - bx, b - by)
        };
        let colour = common::rgb(MEAN);
        // Interval ends beyond the axis (a rate's upper end past 100 %) stop at its edge.
        let clip = |v: f64| v.clamp(g.y_range.start, g.y_range.end);

        // Runs of consecutive points that have what is drawn, so a gap breaks the line.
        let runs = |has: &dyn Fn(&SweepPoint) -> bool| -> Vec<Vec<(f64, &SweepPoint)>> {
            let mut out: Vec<Vec<(f64, &SweepPoint)>> = vec![Vec::new()];
            for &(x, p) in &g.points {
                if has(p) {
                    out.last_mut().expect("never empty").push((x, p));
                } else if !out.last().expect("never empty").is_empty() {
                    out.push(Vec::new());
                }
            }
            out.retain(|r| !r.is_empty());
            out
        };
        if g.x.ordered() {
            let with_interval = |p: &SweepPoint| {
                p.estimate(key)
                    .is_some_and(|i| i.lo.is_some() && i.hi.is_some())
            };
            for run in runs(&with_interval) {
                let band = distinct(
                    run.iter()
                        .filter_map(|(x, p)| Some(px(*x, clip(p.estimate(key)?.hi?))))
                        .chain(
                            run.iter()
                                .rev()
                                .filter_map(|(x, p)| Some(px(*x, clip(p.estimate(key)?.lo?)))),
                        ),
                );
                if run.len() == 1 {
                    // A lone interval: a whisker, a polygon would have no width.
                    polyline(area, band, colour.mix(0.5).stroke_width(6))?;
                } else {
                    area.draw(&Polygon::new(band, colour.mix(0.18).filled()))?;
                }
            }
            let with_mean = |p: &SweepPoint| p.mean(key).is_some();
            for run in runs(&with_mean) {
                let line = run.iter().filter_map(|(x, p)| Some(px(*x, p.mean(key)?)));
                polyline(area, line, colour.stroke_width(2))?;
            }
        } else {
            for &(x, p) in &g.points {
                let Some(i) = p.estimate(key) else { continue };
                if let (Some(lo), Some(hi)) = (i.lo, i.hi) {
                    let (a, b) = (px(x, clip(lo)), px(x, clip(hi)));
                    area.draw(&PathElement::new(vec![a, b], colour.stroke_width(2)))?;
                    for end in [a, b] {
                        area.draw(&PathElement::new(
                            vec![(end.0 - 6, end.1), (end.0 + 6, end.1)],
                            colour.stroke_width(2),
                        ))?;
                    }
                }
            }
        }

        for c in &g.limits {
            let y = px(0.0, c.value).1;
            let red = common::rgb(palette::EJECTED);
            let mut x = cols.start;
            while x < cols.end {
                let x1 = (x + 8).min(cols.end);
                area.draw(&PathElement::new(
                    vec![(x, y), (x1, y)],
                    red.stroke_width(2),
                ))?;
                x += 14;
            }
        }

        let marked = g.points.len() <= MARKED;
        let ink = common::rgb(palette::INK);
        for &(x, p) in &g.points {
            let Some(m) = p.mean(key) else { continue };
            let at = px(x, m);
            if p.frontier {
                area.draw(&Circle::new(at, 6, common::rgb(FRONTIER).filled()))?;
                area.draw(&Circle::new(at, 6, ink.stroke_width(1)))?;
            } else if marked || !g.x.ordered() {
                area.draw(&Circle::new(at, 4, colour.filled()))?;
            }
        }
        let rec = self.s.recommended();
        if let Some(p) = rec
            && let Some(&(x, _)) = g.points.iter().find(|(_, q)| q.index == p.index)
            && let Some(m) = p.mean(key)
        {
            recommended_mark(area, px(x, m), 6, &cols, "recommended")?;
        }
        if g.points.iter().all(|(_, p)| p.mean(key).is_none()) {
            let (_, rows) = plot_box(&chart, area);
            common::note(
                area,
                &format!("no point has a value of {}", self.metric.metric),
                ((cols.start + cols.end) / 2, (rows.start + rows.end) / 2),
            )?;
        }
        Ok(())
    }
}

impl Painter for Paint<'_> {
    fn size(&self) -> Result<(u32, u32), ChartError> {
        let extra = match self.geometry()? {
            Some(g) => common::legend_height(WIDTH, &g.legend)? + common::notes_height(&g.notes),
            None => 0,
        };
        Ok((WIDTH, common::HEADER + extra + PLOT))
    }

    fn paint<DB: DrawingBackend>(&self, root: &Area<DB>) -> Result<(), ChartError> {
        let kind = super::SweepChartKind::Line(self.metric.clone());
        let area = common::header_with(root, &title(self.s, &kind), &subtitle(self.s))?;
        let Some(g) = self.geometry()? else {
            return empty(&area, "no swept parameter");
        };
        let area = common::legend(&area, &g.legend)?;
        let area = common::notes(&area, &g.notes)?;
        self.plot(&area, &g)
    }
}
