//! Cost per success against success rate, every point: the frontier joined in success order,
//! points coloured by the first parameter, infeasible ones hollow, the recommendation ringed.

use plotters::coord::CoordTranslate;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use super::{
    BAR_AREA, ParamAxis, axis_value, colour_bar, empty, nice_ticks, plot_box, polyline, radius,
    recommended_mark, subtitle, title,
};
use crate::experiment::sweep::{FieldKind, SweepPoint, SweepSummary};
use crate::report::chart::common::{
    self, Area, DESC_SIZE, FixedTicks, LABEL_SIZE, LegendItem, MARGIN, MAX_NAME, Swatch,
    X_LABEL_AREA,
};
use crate::report::chart::{ChartError, Format, Painter, render_with};
use crate::report::palette::{self, Rgb};

const WIDTH: u32 = 1000;
const PLOT: u32 = 540;
const SUCCESS: &str = "success_rate";
const COST: &str = "cost_per_success";
/// Names of the first parameter the legend lists; the colours repeat past the palette anyway.
const MAX_NAMES: usize = 12;

/// Points without a mean of both success rate and cost per success: not drawn.
pub(super) fn left_out(s: &SweepSummary) -> usize {
    s.points.iter().filter(|p| xy(p).is_none()).count()
}

fn xy(p: &SweepPoint) -> Option<(f64, f64)> {
    Some((p.mean(SUCCESS)?, p.mean(COST)?))
}

pub(super) fn render(s: &SweepSummary, format: Format) -> Result<Vec<u8>, ChartError> {
    render_with(&Paint(s), format)
}

/// How points are coloured by the first parameter.
enum Colouring {
    /// No parameter: one colour.
    None,
    /// Along the parameter scale, by where the value lies between the parameter's ends.
    Scale(ParamAxis),
    /// One categorical colour per name, by the name's place among the levels.
    Names(ParamAxis),
}

impl Colouring {
    fn of(s: &SweepSummary) -> Colouring {
        match s.parameters.first() {
            None => Colouring::None,
            Some(p) if matches!(p.kind, FieldKind::Name | FieldKind::Bool) => {
                Colouring::Names(ParamAxis::slots(s, 0))
            }
            Some(_) => Colouring::Scale(ParamAxis::of(s, 0)),
        }
    }

    fn colour(&self, p: &SweepPoint) -> Rgb {
        let v = p.values.first();
        match self {
            Colouring::None => palette::policy(0),
            Colouring::Scale(axis) => v
                .and_then(|v| axis.share(v))
                .map_or(palette::OTHER, palette::parameter_scale),
            Colouring::Names(axis) => v
                .and_then(|v| axis.pos(v))
                .map_or(palette::OTHER, |i| palette::policy(i as usize)),
        }
    }
}

struct Paint<'a>(&'a SweepSummary);

struct Geometry<'a> {
    colouring: Colouring,
    /// Points with both means: (success rate, cost per success, point).
    points: Vec<(f64, f64, &'a SweepPoint)>,
    x_range: std::ops::Range<f64>,
    x_ticks: (Vec<f64>, f64),
    y_range: std::ops::Range<f64>,
    y_ticks: (Vec<f64>, f64),
    y_label_area: u32,
    legend: Vec<LegendItem>,
    notes: Vec<String>,
}

impl<'a> Paint<'a> {
    fn geometry(&self) -> Result<Geometry<'a>, ChartError> {
        let s = self.0;
        let colouring = Colouring::of(s);
        let points: Vec<(f64, f64, &SweepPoint)> = s
            .points
            .iter()
            .filter_map(|p| xy(p).map(|(x, y)| (x, y, p)))
            .collect();
        // Thresholds often move success by hundredths of a point: the axes fit the points (a
        // fifth of their span each side), with a floor only so identical points get an axis.
        let (x0, x1) = common::padded(points.iter().map(|p| p.0), 0.00002, 0.0);
        let x1 = x1.min(1.0 + (x1 - x0) * 0.05);
        let mean_cost = if points.is_empty() {
            0.1
        } else {
            points.iter().map(|p| p.1).sum::<f64>() / points.len() as f64
        };
        let (y0, y1) = common::padded(
            points.iter().map(|p| p.1),
            (mean_cost * 0.01).max(1e-6),
            0.0,
        );
        let x_ticks = nice_ticks(x0, x1, 7);
        let y_ticks = nice_ticks(y0, y1, 6);
        let y_labels: Vec<String> = y_ticks
            .0
            .iter()
            .map(|&v| axis_value(COST, v, y_ticks.1))
            .collect();
        let y_label_area =
            (24 + common::widest(y_labels.iter().map(String::as_str), LABEL_SIZE)?).max(72);

        let mut legend = Vec::new();
        let mut notes = Vec::new();
        match &colouring {
            Colouring::None => {}
            Colouring::Scale(axis) => notes.push(format!(
                "Colour: {}{} (bar at the right).",
                common::short(&axis.path, MAX_NAME * 2),
                if axis.is_log() { ", log scale" } else { "" }
            )),
            Colouring::Names(axis) => {
                notes.push(format!(
                    "Colour: {}.",
                    common::short(&axis.path, MAX_NAME * 2)
                ));
                let labels = axis.candidate_ticks();
                let more = labels.len().saturating_sub(MAX_NAMES);
                for (i, l) in labels.into_iter().take(MAX_NAMES) {
                    legend.push(LegendItem::new(
                        l,
                        common::rgb(palette::policy(i as usize)),
                        Swatch::Point,
                    ));
                }
                if more > 0 {
                    legend.push(LegendItem::new(
                        format!("and {more} more (colours repeat)"),
                        common::rgb(palette::OTHER),
                        Swatch::Point,
                    ));
                }
            }
        }
        legend.push(LegendItem::new(
            "frontier, joined",
            common::rgb(palette::INK),
            Swatch::Line,
        ));
        legend.push(LegendItem::new(
            "infeasible (hollow)",
            common::rgb(palette::MUTED),
            Swatch::Ring,
        ));
        if s.recommended().is_some() {
            legend.push(LegendItem::new(
                "recommended",
                common::rgb(palette::INK),
                Swatch::Ring,
            ));
        }
        let missing = left_out(s);
        if missing > 0 {
            notes.push(format!(
                "Not drawn: {} without both means (no success, so no cost per success).",
                super::super::points(missing)
            ));
        }
        if s.objectives.len() > 2 {
            notes.push(
                "The frontier is over every objective: a member may look dominated on these two \
                 axes."
                    .to_owned(),
            );
        }
        Ok(Geometry {
            colouring,
            points,
            x_range: x0..x1,
            x_ticks,
            y_range: y0..y1,
            y_ticks,
            y_label_area,
            legend,
            notes,
        })
    }

    fn plot<DB: DrawingBackend>(&self, area: &Area<DB>, g: &Geometry) -> Result<(), ChartError> {
        let s = self.0;
        let mut chart = ChartBuilder::on(area)
            .margin(MARGIN)
            .margin_right(MARGIN + BAR_AREA)
            .x_label_area_size(X_LABEL_AREA)
            .y_label_area_size(g.y_label_area)
            .build_cartesian_2d(
                FixedTicks {
                    range: g.x_range.clone(),
                    ticks: g.x_ticks.0.clone(),
                },
                FixedTicks {
                    range: g.y_range.clone(),
                    ticks: g.y_ticks.0.clone(),
                },
            )?;
        let x_label = |v: &f64| axis_value(SUCCESS, *v, g.x_ticks.1);
        let y_label = |v: &f64| axis_value(COST, *v, g.y_ticks.1);
        chart
            .configure_mesh()
            .x_desc("success rate (mean)")
            .y_desc("cost per success (mean, cost units)")
            .x_label_formatter(&x_label)
            .y_label_formatter(&y_label)
            .label_style(common::text(LABEL_SIZE))
            .axis_desc_style(common::text(DESC_SIZE))
            .max_light_lines(0)
            .bold_line_style(RGBColor(228, 228, 228))
            .draw()?;
        let (cols, rows) = plot_box(&chart, area);
        let (bx, by) = area.get_base_pixel();
        // A copy of the coordinates, so positions can be read while the chart is drawn on.
        let coord = chart.as_coord_spec().clone();
        let px = move |x: f64, y: f64| {
            let (a, b) = coord.translate(&(x, y));
            (a - bx, b - by)
        };
        area.draw_text(
            "better: lower right",
            &common::anchored(common::muted(LABEL_SIZE), HPos::Right, VPos::Bottom),
            (cols.end - 8, rows.end - 8),
        )?;

        let mut frontier: Vec<&(f64, f64, &SweepPoint)> =
            g.points.iter().filter(|p| p.2.frontier).collect();
        frontier.sort_by(|a, b| {
            a.0.total_cmp(&b.0)
                .then(a.1.total_cmp(&b.1))
                .then(a.2.index.cmp(&b.2.index))
        });
        // Thinner when the members are many: the line then mostly shows where they lie.
        let width = if frontier.len() > 50 { 1 } else { 2 };
        polyline(
            area,
            frontier.iter().map(|p| px(p.0, p.1)),
            common::rgb(palette::INK).stroke_width(width),
        )?;

        let r = radius(g.points.len());
        let ink = common::rgb(palette::INK);
        // Hollow points under filled ones: a feasible point is never hidden by an infeasible one.
        for &(x, y, p) in g.points.iter().filter(|p| !p.2.feasible) {
            let c = common::rgb(g.colouring.colour(p));
            area.draw(&Circle::new(px(x, y), r, WHITE.filled()))?;
            area.draw(&Circle::new(px(x, y), r, c.stroke_width(2)))?;
        }
        for &(x, y, p) in g.points.iter().filter(|p| p.2.feasible) {
            let c = common::rgb(g.colouring.colour(p));
            area.draw(&Circle::new(px(x, y), r, c.filled()))?;
            area.draw(&Circle::new(px(x, y), r, ink.stroke_width(1)))?;
        }
        if let Some(rec) = s.recommended()
            && let Some((x, y)) = xy(rec)
        {
            let label = format!("recommended: {}", common::short(&rec.label, 56));
            recommended_mark(area, px(x, y), r, &cols, &label)?;
        }

        if let Colouring::Scale(axis) = &g.colouring {
            let (lo, hi) = axis.end_labels();
            colour_bar(
                area,
                cols.end + 28,
                rows.clone(),
                palette::parameter_scale,
                (&lo, &hi),
                ("low", "high"),
            )?;
        }
        if g.points.is_empty() {
            common::note(
                area,
                "no point has both a success rate and a cost per success",
                ((cols.start + cols.end) / 2, (rows.start + rows.end) / 2),
            )?;
        }
        Ok(())
    }
}

impl Painter for Paint<'_> {
    fn size(&self) -> Result<(u32, u32), ChartError> {
        let g = self.geometry()?;
        let extra = common::legend_height(WIDTH, &g.legend)? + common::notes_height(&g.notes);
        Ok((WIDTH, common::HEADER + extra + PLOT))
    }

    fn paint<DB: DrawingBackend>(&self, root: &Area<DB>) -> Result<(), ChartError> {
        let s = self.0;
        let area = common::header_with(
            root,
            &title(s, &super::SweepChartKind::Pareto),
            &subtitle(s),
        )?;
        if s.points.is_empty() {
            return empty(&area, "no points");
        }
        let g = self.geometry()?;
        let area = common::legend(&area, &g.legend)?;
        let area = common::notes(&area, &g.notes)?;
        self.plot(&area, &g)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::sweep::fixture;

    #[test]
    fn points_without_both_means_are_left_out_and_counted() {
        assert_eq!(left_out(&fixture::grid_2d()), 0);
        let s = fixture::lhs();
        assert_eq!(left_out(&s), 1);
        let svg = String::from_utf8(render(&s, Format::Svg).unwrap()).unwrap();
        assert!(
            svg.contains("Not drawn: 1 point without both means"),
            "{svg}"
        );
    }
}
