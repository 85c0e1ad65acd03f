//! A metric over the first two parameters: a heatmap of a grid's slice, or the scattered points
//! of a Latin hypercube, coloured on the better scale with its colour bar.

use plotters::coord::CoordTranslate;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use super::{
    BAR_AREA, MetricScale, ParamAxis, empty, jitter, metric_bar, plot_box, radius,
    recommended_mark, subtitle, tick_label, title,
};
use crate::experiment::sweep::{MetricInfo, SweepPoint, SweepSummary, Value};
use crate::report::chart::common::{
    self, Area, DESC_SIZE, FixedTicks, LABEL_SIZE, MARGIN, SMALL_SIZE, X_LABEL_AREA,
};
use crate::report::chart::{ChartError, Format, Painter, render_with};
use crate::report::palette;
use crate::report::replicated::Style;

const WIDTH: u32 = 1000;
/// Height of the plot with its x labels and margins.
const PLOT: u32 = 560;

/// Why a parameter of a heatmap holds the value it does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FixedBy {
    /// The recommended point's value.
    Recommendation,
    /// The base policy's value, one of the levels (no point is recommended).
    Base,
    /// The first level: no recommendation, and the base policy's value is not a level.
    FirstLevel,
}

/// A parameter a heatmap holds fixed, beyond the two it draws.
#[derive(Clone, Debug, PartialEq)]
pub struct Fixed {
    /// Its index among the summary's parameters.
    pub parameter: usize,
    pub path: String,
    pub value: Value,
    pub by: FixedBy,
}

impl Fixed {
    /// `ejection.base fixed at 30s (the recommendation)`.
    pub fn describe(&self) -> String {
        let why = match self.by {
            FixedBy::Recommendation => "the recommendation",
            FixedBy::Base => "the base policy's value",
            FixedBy::FirstLevel => "its first value; the base policy's is not among them",
        };
        format!("{} fixed at {} ({why})", self.path, self.value)
    }
}

/// The parameters after the first two, each at the value a heatmap shows: the recommended
/// point's, else the base policy's if it is one of the levels, else the first level.
pub fn fixed_parameters(s: &SweepSummary) -> Vec<Fixed> {
    let rec = s.recommended();
    s.parameters
        .iter()
        .enumerate()
        .skip(2)
        .filter_map(|(i, p)| {
            let (value, by) = match (rec.and_then(|r| r.values.get(i)), &p.base) {
                (Some(v), _) => (v.clone(), FixedBy::Recommendation),
                (None, Some(b)) if p.levels.contains(b) => (b.clone(), FixedBy::Base),
                _ => (p.levels.first()?.clone(), FixedBy::FirstLevel),
            };
            Some(Fixed {
                parameter: i,
                path: p.path.clone(),
                value,
                by,
            })
        })
        .collect()
}

/// The points a heatmap shows: those at every fixed value.
fn slice<'a>(s: &'a SweepSummary, fixed: &[Fixed]) -> Vec<&'a SweepPoint> {
    s.points
        .iter()
        .filter(|p| {
            fixed
                .iter()
                .all(|f| p.values.get(f.parameter) == Some(&f.value))
        })
        .collect()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Layout {
    Heatmap,
    Scatter,
}

pub(super) fn render(
    s: &SweepSummary,
    metric: &MetricInfo,
    layout: Layout,
    format: Format,
) -> Result<Vec<u8>, ChartError> {
    render_with(&Paint::new(s, metric, layout), format)
}

struct Paint<'a> {
    s: &'a SweepSummary,
    metric: &'a MetricInfo,
    layout: Layout,
    fixed: Vec<Fixed>,
    points: Vec<&'a SweepPoint>,
}

/// What measuring decides: the axes, their ticks, the label area and whether cells are
/// labelled.
struct Geometry {
    x: ParamAxis,
    y: ParamAxis,
    x_ticks: Vec<(f64, String)>,
    y_ticks: Vec<(f64, String)>,
    y_label_area: u32,
    /// Every cell's label fits its cell.
    labelled: bool,
    notes: Vec<String>,
}

impl<'a> Paint<'a> {
    fn new(s: &'a SweepSummary, metric: &'a MetricInfo, layout: Layout) -> Self {
        let (fixed, points) = match layout {
            Layout::Heatmap => {
                let fixed = fixed_parameters(s);
                let points = slice(s, &fixed);
                (fixed, points)
            }
            Layout::Scatter => (Vec::new(), s.points.iter().collect()),
        };
        Paint {
            s,
            metric,
            layout,
            fixed,
            points,
        }
    }

    fn title(&self) -> String {
        title(
            self.s,
            &match self.layout {
                Layout::Heatmap => super::SweepChartKind::Heatmap(self.metric.clone()),
                Layout::Scatter => super::SweepChartKind::Scatter(self.metric.clone()),
            },
        )
    }

    fn label(&self, p: &SweepPoint) -> String {
        p.mean(&self.metric.key).map_or_else(
            || Style::Terminal.dash().to_owned(),
            |v| super::super::value(&self.metric.key, v, Style::Terminal),
        )
    }

    fn geometry(&self) -> Result<Option<Geometry>, ChartError> {
        let s = self.s;
        if s.parameters.len() < 2 {
            return Ok(None);
        }
        let (x, y) = match self.layout {
            Layout::Heatmap => (ParamAxis::slots(s, 0), ParamAxis::slots(s, 1)),
            Layout::Scatter => (ParamAxis::of(s, 0), ParamAxis::of(s, 1)),
        };
        let candidates = y.candidate_ticks();
        let y_label_area = (24
            + common::widest(candidates.iter().map(|(_, l)| l.as_str()), LABEL_SIZE)?)
        .clamp(60, 280);
        let notes = self.notes_for(&x, &y);
        let height = PLOT + common::notes_height(&notes) + common::HEADER;
        // The plot as ChartBuilder will lay it out below the header and notes.
        let cols = (MARGIN + y_label_area) as i32..(WIDTH - MARGIN - BAR_AREA) as i32;
        let plot_h = height - common::HEADER - common::notes_height(&notes);
        let (bottom, top) = ((plot_h - MARGIN - X_LABEL_AREA) as i32, MARGIN as i32);
        let x_ticks = x.ticks(cols.start, cols.end, false, LABEL_SIZE)?;
        let y_ticks = y.ticks(bottom, top, true, LABEL_SIZE)?;
        let labelled = self.layout == Layout::Heatmap && {
            let (nx, ny) = (x.slot_count().max(1) as i32, y.slot_count().max(1) as i32);
            let cell_w = (cols.end - cols.start) / nx;
            let cell_h = (bottom - top) / ny;
            let labels: Vec<String> = self.points.iter().map(|p| self.label(p)).collect();
            let w = common::widest(labels.iter().map(String::as_str), SMALL_SIZE)? as i32;
            let h = common::measure("0", SMALL_SIZE)?.1;
            w + 8 <= cell_w && h + 6 <= cell_h
        };
        let mut notes = notes;
        if self.layout == Layout::Heatmap && !labelled && !self.points.is_empty() {
            notes.push("Cells too small to label: sweep.csv has every point's value.".to_owned());
        }
        Ok(Some(Geometry {
            x,
            y,
            x_ticks,
            y_ticks,
            y_label_area,
            labelled,
            notes,
        }))
    }

    /// The lines above the plot (before the one about unlabelled cells).
    fn notes_for(&self, x: &ParamAxis, y: &ParamAxis) -> Vec<String> {
        let s = self.s;
        let seeds = super::super::seeds(s.seeds.len());
        let mut notes = Vec::new();
        match self.layout {
            Layout::Heatmap => {
                if !self.fixed.is_empty() {
                    let parts: Vec<String> = self.fixed.iter().map(Fixed::describe).collect();
                    notes.push(common::short(&parts.join("; "), 140));
                }
                notes.push(format!(
                    "Each cell: the mean over {seeds}, brighter is better; grey: no value. {}",
                    match s.recommended() {
                        Some(_) => "Outlined: the recommended point.",
                        None => "No point meets every constraint: none is recommended.",
                    }
                ));
            }
            Layout::Scatter => {
                notes.push(format!(
                    "Each dot: one point, coloured by its mean over {seeds}, brighter is better; \
                     hollow grey: no value."
                ));
                if s.parameters.len() > 2 {
                    let others: Vec<&str> =
                        s.parameters[2..].iter().map(|p| p.path.as_str()).collect();
                    notes.push(common::short(
                        &format!(
                            "The other parameters vary from point to point too: {}.",
                            others.join(", ")
                        ),
                        140,
                    ));
                }
                if x.is_slots() || y.is_slots() {
                    notes.push(
                        "Points sharing a listed value are spread a little around it.".to_owned(),
                    );
                }
            }
        }
        notes
    }

    fn plot<DB: DrawingBackend>(&self, area: &Area<DB>, g: &Geometry) -> Result<(), ChartError> {
        let key = &self.metric.key;
        let (xr, yr) = (g.x.range(), g.y.range());
        let mut chart = ChartBuilder::on(area)
            .margin(MARGIN)
            .margin_right(MARGIN + BAR_AREA)
            .x_label_area_size(X_LABEL_AREA)
            .y_label_area_size(g.y_label_area)
            .build_cartesian_2d(
                FixedTicks {
                    range: xr.clone(),
                    ticks: g.x_ticks.iter().map(|t| t.0).collect(),
                },
                FixedTicks {
                    range: yr.clone(),
                    ticks: g.y_ticks.iter().map(|t| t.0).collect(),
                },
            )?;
        let x_label = |v: &f64| tick_label(&g.x_ticks, *v);
        let y_label = |v: &f64| tick_label(&g.y_ticks, *v);
        let mut mesh = chart.configure_mesh();
        mesh.x_desc(g.x.desc())
            .y_desc(g.y.desc())
            .x_label_formatter(&x_label)
            .y_label_formatter(&y_label)
            .label_style(common::text(LABEL_SIZE))
            .axis_desc_style(common::text(DESC_SIZE))
            .max_light_lines(0)
            .bold_line_style(RGBColor(228, 228, 228));
        if self.layout == Layout::Heatmap {
            mesh.disable_mesh();
        }
        mesh.draw()?;
        let (cols, rows) = plot_box(&chart, area);
        let (bx, by) = area.get_base_pixel();
        // A copy of the coordinates, so positions can be read while the chart is drawn on.
        let coord = chart.as_coord_spec().clone();
        let px = move |x: f64, y: f64| {
            let (a, b) = coord.translate(&(x, y));
            (a - bx, b - by)
        };

        let scale = MetricScale::over(
            self.points.iter().filter_map(|p| p.mean(key)),
            self.metric.better,
        );
        let colour = |p: &SweepPoint| match (p.mean(key), &scale) {
            (Some(v), Some(sc)) => Some(sc.colour(v)),
            _ => None,
        };
        let rec = self.s.recommended().map(|r| r.index);
        let at = |p: &SweepPoint| -> Option<(f64, f64)> {
            let (x, y) = (g.x.pos(p.values.first()?)?, g.y.pos(p.values.get(1)?)?);
            Some(match self.layout {
                Layout::Heatmap => (x, y),
                Layout::Scatter => (
                    x + if g.x.is_slots() { jitter(p.index) } else { 0.0 },
                    y + if g.y.is_slots() {
                        jitter(p.index + 7919)
                    } else {
                        0.0
                    },
                ),
            })
        };

        match self.layout {
            Layout::Heatmap => {
                let cells = self.points.iter().filter_map(|p| {
                    let (x, y) = at(p)?;
                    let c = colour(p).unwrap_or(palette::OTHER);
                    Some(Rectangle::new(
                        [(x - 0.5, y - 0.5), (x + 0.5, y + 0.5)],
                        common::rgb(c).filled(),
                    ))
                });
                chart.draw_series(cells)?;
                if g.labelled {
                    for p in &self.points {
                        let Some((x, y)) = at(p) else { continue };
                        let bg = colour(p).unwrap_or(palette::OTHER);
                        let ink = common::rgb(palette::text_on(bg));
                        let style = common::text(SMALL_SIZE).color(&ink).pos(
                            plotters::style::text_anchor::Pos::new(HPos::Center, VPos::Center),
                        );
                        area.draw_text(&self.label(p), &style, px(x, y))?;
                    }
                }
                if let Some(p) = self.points.iter().find(|p| Some(p.index) == rec)
                    && let Some((x, y)) = at(p)
                {
                    let (x0, y0) = px(x - 0.5, y + 0.5);
                    let (x1, y1) = px(x + 0.5, y - 0.5);
                    let outline = |d: i32| {
                        vec![
                            (x0 + d, y0 + d),
                            (x1 - d, y0 + d),
                            (x1 - d, y1 - d),
                            (x0 + d, y1 - d),
                            (x0 + d, y0 + d),
                        ]
                    };
                    if x1 - x0 > 12 && y1 - y0 > 12 {
                        area.draw(&PathElement::new(
                            outline(1),
                            common::rgb(palette::INK).stroke_width(3),
                        ))?;
                        area.draw(&PathElement::new(outline(4), WHITE.stroke_width(1)))?;
                    } else {
                        // A cell of a few pixels: its outline would not show, a ring does.
                        recommended_mark(area, px(x, y), 4, &cols, "recommended")?;
                    }
                }
            }
            Layout::Scatter => {
                let r = radius(self.points.len());
                let ink = common::rgb(palette::INK);
                // Points without a value first, so coloured ones stay on top.
                for p in self.points.iter().filter(|p| colour(p).is_none()) {
                    let Some((x, y)) = at(p) else { continue };
                    area.draw(&Circle::new(
                        px(x, y),
                        r,
                        common::rgb(palette::MUTED).stroke_width(2),
                    ))?;
                }
                for p in &self.points {
                    let (Some((x, y)), Some(c)) = (at(p), colour(p)) else {
                        continue;
                    };
                    area.draw(&Circle::new(px(x, y), r, common::rgb(c).filled()))?;
                    area.draw(&Circle::new(px(x, y), r, ink.stroke_width(1)))?;
                }
                if let Some(p) = self.points.iter().find(|p| Some(p.index) == rec)
                    && let Some((x, y)) = at(p)
                {
                    recommended_mark(area, px(x, y), r, &cols, "recommended")?;
                }
            }
        }
        if let Some(sc) = &scale {
            metric_bar(area, cols.end + 28, rows, sc, key)?;
        }
        if self.points.is_empty() {
            common::note(
                area,
                "no point to show",
                (
                    (cols.start + cols.end) / 2,
                    area.dim_in_pixel().1 as i32 / 2,
                ),
            )?;
        }
        Ok(())
    }
}

impl Painter for Paint<'_> {
    fn size(&self) -> Result<(u32, u32), ChartError> {
        let notes = self
            .geometry()?
            .map_or(0, |g| common::notes_height(&g.notes));
        Ok((WIDTH, common::HEADER + notes + PLOT))
    }

    fn paint<DB: DrawingBackend>(&self, root: &Area<DB>) -> Result<(), ChartError> {
        let area = common::header_with(root, &self.title(), &subtitle(self.s))?;
        let Some(g) = self.geometry()? else {
            return empty(&area, "this chart needs two swept parameters");
        };
        let area = common::notes(&area, &g.notes)?;
        self.plot(&area, &g)
    }
}
