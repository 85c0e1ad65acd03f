//! A sweep's charts: pure functions from a [`SweepSummary`] to SVG or PNG bytes, with the run
//! report's font, palette and conventions ([`crate::report::chart`]).
//!
//! # What is drawn, and why
//!
//! [`charts_for`] lists what a sweep's shape makes readable, each with a stable file stem and a
//! one-line caption:
//!
//! - **One parameter** ([`line()`], `line_<metric>`): per charted metric, the mean against the
//!   parameter with its interval shaded, the frontier points and the recommendation marked and a
//!   constraint's limit drawn. The x axis follows the parameter: logarithmic for a `log:` range,
//!   one slot per value for names, booleans and `off` (names and booleans have no order, so
//!   their points get whiskers instead of a line and a band).
//! - **Two or more parameters on a grid** ([`heatmap`], `heatmap_<metric>`): per charted metric,
//!   the grid over the first two parameters, one cell per pair of values coloured by the mean,
//!   labelled with it when the label fits, the recommended cell outlined. A heatmap is a slice:
//!   every other parameter is fixed at the recommendation's value, else the base policy's if it
//!   is one of the levels, else the first level, and the caption says which
//!   ([`fixed_parameters`]).
//! - **A Latin hypercube** ([`scatter`], `scatter_<metric>`): its points do not fill a grid, so
//!   they are scattered over the first two parameters, coloured by the mean on the heatmaps'
//!   scale; the other parameters vary from point to point, which the chart says.
//! - **Every sweep** ([`pareto`], `pareto`): cost per success against success rate, one dot per
//!   point coloured by the first parameter, the frontier joined in success order, infeasible
//!   points hollow, the recommendation ringed and labelled. The frontier is over every
//!   objective, so on these two axes a member may look dominated: another objective keeps it.
//!
//! Metric colours run along one sequential scale whose bright end is always the better one
//! ([`palette::better_scale`]), whatever the metric's direction, with a colour bar saying which
//! value each end is. Parameter colours take another scale ([`palette::parameter_scale`]) or,
//! for names, the categorical palette, so a parameter is never read as good or bad.
//!
//! # Bounds
//!
//! Images have a fixed size whatever the sweep. Axis labels are thinned greedily so none
//! overlaps the previous one; heatmap cells are labelled only when every label fits its cell;
//! markers shrink as points grow (up to 10,000); a categorical axis on a scatter spreads its
//! points by a deterministic jitter. A grid heatmap draws one rectangle per cell of its slice:
//! at most `MAX_POINTS` (10,000), about 0.9 MB of SVG.

mod grid;
mod line;
mod pareto;

use std::collections::BTreeSet;
use std::ops::Range;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use crate::experiment::sweep::{FieldKind, MetricInfo, SweepSummary, Value};
use crate::metrics::compare::Better;
use crate::metrics::metric_path::Unit;
use crate::report::chart::common::{self, Area, MAX_NAME, SMALL_SIZE};
use crate::report::chart::{ChartError, Format};
use crate::report::palette::{self, Rgb};
use crate::report::replicated::{self, Style};

pub use grid::{Fixed, FixedBy, fixed_parameters};

/// Longest file stem of a metric's chart, before the kind's prefix: a fault's metric carries
/// the fault's name.
const MAX_STEM: usize = 64;

/// What a chart shows.
#[derive(Clone, Debug, PartialEq)]
pub enum SweepChartKind {
    /// One parameter: the metric's mean against it ([`line()`]).
    Line(MetricInfo),
    /// A grid: the metric over the first two parameters ([`heatmap`]).
    Heatmap(MetricInfo),
    /// A Latin hypercube: the points over the first two parameters ([`scatter`]).
    Scatter(MetricInfo),
    /// Cost per success against success rate ([`pareto`]).
    Pareto,
}

/// One chart of a sweep.
#[derive(Clone, Debug, PartialEq)]
pub struct SweepChart {
    /// The file stem, stable for a sweep's shape and metrics: `line_ttv_p99`,
    /// `heatmap_success_rate`, `scatter_flaps`, `pareto`. Only `[A-Za-z0-9_-]`.
    pub stem: String,
    /// The heading the chart draws.
    pub title: String,
    /// One line saying what the chart shows (and, for a heatmap, what is fixed).
    pub caption: String,
    pub kind: SweepChartKind,
}

impl SweepChart {
    /// `<stem>.<extension>`.
    pub fn file_name(&self, format: Format) -> String {
        format!("{}.{}", self.stem, format.extension())
    }

    pub fn render(&self, s: &SweepSummary, format: Format) -> Result<Vec<u8>, ChartError> {
        match &self.kind {
            SweepChartKind::Line(m) => line(s, m, format),
            SweepChartKind::Heatmap(m) => heatmap(s, m, format),
            SweepChartKind::Scatter(m) => scatter(s, m, format),
            SweepChartKind::Pareto => pareto(s, format),
        }
    }
}

/// The charts of `s`, in the order the report shows them: one per charted metric (a line for
/// one parameter, a heatmap for a grid of two or more, a scatter for a Latin hypercube of two
/// or more), then the Pareto scatter.
pub fn charts_for(s: &SweepSummary) -> Vec<SweepChart> {
    let mut used = BTreeSet::new();
    let mut out = Vec::new();
    let lhs = matches!(
        s.design,
        crate::experiment::sweep::DesignInfo::LatinHypercube { .. }
    );
    for m in s.charted_metrics() {
        let (prefix, kind) = match s.parameters.len() {
            0 => continue,
            1 => ("line", SweepChartKind::Line(m.clone())),
            _ if lhs => ("scatter", SweepChartKind::Scatter(m.clone())),
            _ => ("heatmap", SweepChartKind::Heatmap(m.clone())),
        };
        let stem = unique(&mut used, format!("{prefix}_{}", stem_part(&m.key)));
        out.push(SweepChart {
            stem,
            title: title(s, &kind),
            caption: caption(s, &kind),
            kind,
        });
    }
    let kind = SweepChartKind::Pareto;
    out.push(SweepChart {
        stem: unique(&mut used, "pareto".to_owned()),
        title: title(s, &kind),
        caption: caption(s, &kind),
        kind,
    });
    out
}

/// `key` reduced to characters safe in a file name (a fault's name may be anything), cut to
/// [`MAX_STEM`] characters.
fn stem_part(key: &str) -> String {
    key.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .take(MAX_STEM)
        .collect()
}

/// `stem`, or `stem_2`, `stem_3`, ... when two metrics reduce to the same stem.
fn unique(used: &mut BTreeSet<String>, stem: String) -> String {
    let mut candidate = stem.clone();
    let mut n = 2;
    while used.contains(&candidate) {
        candidate = format!("{stem}_{n}");
        n += 1;
    }
    used.insert(candidate.clone());
    candidate
}

fn title(s: &SweepSummary, kind: &SweepChartKind) -> String {
    let param = |i: usize| {
        s.parameters
            .get(i)
            .map_or_else(String::new, |p| common::short(&p.path, MAX_NAME))
    };
    match kind {
        SweepChartKind::Line(m) => format!("{} against {}", metric_name(m), param(0)),
        SweepChartKind::Heatmap(m) => {
            format!("{} over {} × {}", metric_name(m), param(0), param(1))
        }
        SweepChartKind::Scatter(m) => format!(
            "{} over {} × {}, Latin hypercube",
            metric_name(m),
            param(0),
            param(1)
        ),
        SweepChartKind::Pareto => "Cost per success against success rate".to_owned(),
    }
}

fn caption(s: &SweepSummary, kind: &SweepChartKind) -> String {
    let n = s.seeds.len();
    let mean = format!("the mean over {}", super::seeds(n));
    let param = |i: usize| s.parameters.get(i).map_or("", |p| p.path.as_str());
    let marked = match s.recommended() {
        Some(_) => "the recommendation ringed",
        None => "no point recommended",
    };
    match kind {
        SweepChartKind::Line(m) => {
            let band = if n >= 2 {
                format!(
                    ", its {} interval shaded",
                    replicated::confidence(s.confidence, Style::Html)
                )
            } else {
                String::new()
            };
            format!(
                "{} against {}: {mean}{band}; frontier points marked, {marked}.",
                m.metric,
                param(0)
            )
        }
        SweepChartKind::Heatmap(m) => {
            let fixed = fixed_parameters(s);
            let rest = if fixed.is_empty() {
                String::new()
            } else {
                let parts: Vec<String> = fixed.iter().map(Fixed::describe).collect();
                format!("; {}", parts.join("; "))
            };
            let outlined = match s.recommended() {
                Some(_) => "the recommended cell outlined",
                None => "no point recommended",
            };
            format!(
                "{} over {} × {}: {mean} at each grid point, brighter is better; \
                 {outlined}{rest}.",
                m.metric,
                param(0),
                param(1)
            )
        }
        SweepChartKind::Scatter(m) => {
            let others = if s.parameters.len() > 2 {
                format!(
                    "; the other parameters ({}) vary from point to point",
                    s.parameters[2..]
                        .iter()
                        .map(|p| p.path.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            } else {
                String::new()
            };
            format!(
                "{} at each Latin hypercube point over {} × {}: {mean}, brighter is better; \
                 {marked}{others}.",
                m.metric,
                param(0),
                param(1)
            )
        }
        SweepChartKind::Pareto => {
            let left_out = pareto::left_out(s);
            let left_out = if left_out > 0 {
                format!("; {} without both means left out", super::points(left_out))
            } else {
                String::new()
            };
            let colour = match s.parameters.first() {
                Some(p) => format!(", coloured by {}", p.path),
                None => String::new(),
            };
            format!(
                "Cost per success against success rate, {mean} of every point{colour}; the \
                 frontier joined, infeasible points hollow, {marked}{left_out}."
            )
        }
    }
}

/// A metric as titles name it: its path, shortened.
fn metric_name(m: &MetricInfo) -> String {
    common::short(&m.metric, MAX_NAME * 2)
}

/// The line chart of `metric` against the only (or first) parameter.
pub fn line(s: &SweepSummary, metric: &MetricInfo, format: Format) -> Result<Vec<u8>, ChartError> {
    line::render(s, metric, format)
}

/// The heatmap of `metric` over the first two parameters of a grid, the others fixed
/// ([`fixed_parameters`]).
pub fn heatmap(
    s: &SweepSummary,
    metric: &MetricInfo,
    format: Format,
) -> Result<Vec<u8>, ChartError> {
    grid::render(s, metric, grid::Layout::Heatmap, format)
}

/// The points of a Latin hypercube over its first two parameters, coloured by `metric`.
pub fn scatter(
    s: &SweepSummary,
    metric: &MetricInfo,
    format: Format,
) -> Result<Vec<u8>, ChartError> {
    grid::render(s, metric, grid::Layout::Scatter, format)
}

/// Cost per success against success rate, every point.
pub fn pareto(s: &SweepSummary, format: Format) -> Result<Vec<u8>, ChartError> {
    pareto::render(s, format)
}

/// What every sweep chart's subtitle says: `scenario NAME · base POLICY · 6 points · 5 seeds ·
/// 95% intervals`.
fn subtitle(s: &SweepSummary) -> String {
    let mut parts = vec![
        format!("scenario {}", common::short(&s.scenario.name, 48)),
        format!("base {}", common::short(&s.base_policy, MAX_NAME)),
        super::points(s.points.len()),
        super::seeds(s.seeds.len()),
    ];
    if s.seeds.len() >= 2 {
        parts.push(format!(
            "{} intervals",
            replicated::confidence(s.confidence, Style::Terminal)
        ));
    }
    parts.join(" · ")
}

/// A value of `key` on an axis whose ticks are `step` apart: the unit's form with as many
/// decimals as the step needs (`99.95%`, `3.5s`, `0.0712`).
fn axis_value(key: &str, v: f64, step: f64) -> String {
    let unit = replicated::Unit::of(key);
    let factor = if unit == replicated::Unit::Rate {
        100.0
    } else {
        1.0
    };
    let d = if step > 0.0 && step.is_finite() {
        (-(step * factor).log10().floor()).clamp(0.0, 8.0) as usize
    } else {
        2
    };
    let x = v * factor + 0.0;
    match unit {
        replicated::Unit::Rate => format!("{x:.d$}%"),
        replicated::Unit::Seconds => format!("{x:.d$}s"),
        replicated::Unit::Cost => format!("{x:.*}", d.max(2)),
        _ => format!("{x:.d$}"),
    }
}

/// Evenly spaced round ticks (1, 2 or 5 times a power of ten) over `lo..hi`, at most about
/// `max` of them, and their spacing.
fn nice_ticks(lo: f64, hi: f64, max: usize) -> (Vec<f64>, f64) {
    let span = hi - lo;
    if !(span > 0.0 && span.is_finite()) {
        return (vec![lo], 0.0);
    }
    let raw = span / max.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let first = (lo / step).ceil() as i64;
    let last = (hi / step).floor() as i64;
    let ticks = (first..=last)
        .map(|k| k as f64 * step)
        // -0 prints as 0.
        .map(|v| v + 0.0)
        .collect();
    (ticks, step)
}

/// Keeps the ticks whose labels do not overlap the previous kept one, in order: `at` maps a
/// tick to its pixel along the axis, `extent` is a label's size along it.
fn thin(
    ticks: Vec<(f64, String)>,
    at: impl Fn(f64) -> i32,
    extent: impl Fn(&str) -> Result<i32, ChartError>,
) -> Result<Vec<(f64, String)>, ChartError> {
    let mut out: Vec<(f64, String)> = Vec::with_capacity(ticks.len());
    let mut end = i32::MIN;
    for (v, label) in ticks {
        let e = extent(&label)?;
        let p = at(v);
        let (a, b) = (p - e / 2, p + e / 2 + e % 2);
        if out.is_empty() || a >= end + 16 {
            end = b;
            out.push((v, label));
        }
    }
    Ok(out)
}

/// An axis over a swept parameter.
#[derive(Clone, Debug)]
pub(crate) struct ParamAxis {
    pub path: String,
    pub kind: FieldKind,
    layout: AxisLayout,
}

#[derive(Clone, Debug)]
enum AxisLayout {
    /// A value's position is the value (durations in seconds), log10 of it on a log axis.
    Numeric {
        log: bool,
        /// Lowest and highest position of any level or point.
        lo: f64,
        hi: f64,
        /// The grid's levels, whose positions make the ticks when there are three or more.
        levels: Vec<Value>,
    },
    /// A value's position is its index among the levels.
    Slots { levels: Vec<Value> },
}

impl ParamAxis {
    /// Parameter `i`'s axis: numeric when every level and point value is a number (log10 for a
    /// `log:` range), else one slot per level.
    pub fn of(s: &SweepSummary, i: usize) -> ParamAxis {
        let p = &s.parameters[i];
        let values = || {
            p.levels
                .iter()
                .chain(s.points.iter().filter_map(|pt| pt.values.get(i)))
        };
        let numeric: Option<Vec<f64>> = values().map(Value::as_f64).collect();
        match numeric {
            Some(xs) if !xs.is_empty() => {
                let log = p.log && xs.iter().all(|&x| x > 0.0);
                let pos = |x: f64| if log { x.log10() } else { x };
                let lo = xs.iter().map(|&x| pos(x)).fold(f64::INFINITY, f64::min);
                let hi = xs.iter().map(|&x| pos(x)).fold(f64::NEG_INFINITY, f64::max);
                ParamAxis {
                    path: p.path.clone(),
                    kind: p.kind,
                    layout: AxisLayout::Numeric {
                        log,
                        lo,
                        hi,
                        levels: p.levels.clone(),
                    },
                }
            }
            _ => Self::slots(s, i),
        }
    }

    /// Parameter `i`'s axis with one slot per level, whatever its values (a heatmap's).
    pub fn slots(s: &SweepSummary, i: usize) -> ParamAxis {
        let p = &s.parameters[i];
        let mut levels = p.levels.clone();
        // A point's value is one of the levels; any other still gets a slot, after them.
        for v in s.points.iter().filter_map(|pt| pt.values.get(i)) {
            if !levels.contains(v) {
                levels.push(v.clone());
            }
        }
        ParamAxis {
            path: p.path.clone(),
            kind: p.kind,
            layout: AxisLayout::Slots { levels },
        }
    }

    /// Whether the axis has one slot per value.
    pub fn is_slots(&self) -> bool {
        matches!(self.layout, AxisLayout::Slots { .. })
    }

    /// Whether the values have an order a line may follow: not names or booleans.
    pub fn ordered(&self) -> bool {
        !matches!(self.kind, FieldKind::Name | FieldKind::Bool)
    }

    pub fn is_log(&self) -> bool {
        matches!(self.layout, AxisLayout::Numeric { log: true, .. })
    }

    /// Number of slots (0 for a numeric axis).
    pub fn slot_count(&self) -> usize {
        match &self.layout {
            AxisLayout::Slots { levels } => levels.len(),
            AxisLayout::Numeric { .. } => 0,
        }
    }

    /// Where `v` lies on the axis.
    pub fn pos(&self, v: &Value) -> Option<f64> {
        match &self.layout {
            AxisLayout::Numeric { log, .. } => {
                let x = v.as_f64()?;
                Some(if *log { x.log10() } else { x })
            }
            AxisLayout::Slots { levels } => levels.iter().position(|l| l == v).map(|i| i as f64),
        }
    }

    /// Where `v` lies between the axis's ends, in [0, 1] (for a colour).
    pub fn share(&self, v: &Value) -> Option<f64> {
        let p = self.pos(v)?;
        let (lo, hi) = self.ends();
        Some(if hi > lo { (p - lo) / (hi - lo) } else { 0.5 })
    }

    /// The lowest and highest position.
    fn ends(&self) -> (f64, f64) {
        match &self.layout {
            AxisLayout::Numeric { lo, hi, .. } => (*lo, *hi),
            AxisLayout::Slots { levels } => (0.0, levels.len().saturating_sub(1) as f64),
        }
    }

    /// The axis's range: the ends with room for markers, one slot either side of a slot's
    /// centre.
    pub fn range(&self) -> Range<f64> {
        match &self.layout {
            AxisLayout::Numeric { lo, hi, .. } => {
                let span = hi - lo;
                let pad = if span > 0.0 {
                    span * 0.04
                } else {
                    (lo.abs() * 0.1).max(0.5)
                };
                lo - pad..hi + pad
            }
            AxisLayout::Slots { levels } => -0.5..levels.len().max(1) as f64 - 0.5,
        }
    }

    /// The labels at the ends, lowest first (a colour bar's).
    pub fn end_labels(&self) -> (String, String) {
        let (lo, hi) = self.ends();
        (self.label_at(lo), self.label_at(hi))
    }

    /// A position written as a value of the parameter.
    fn label_at(&self, p: f64) -> String {
        match &self.layout {
            AxisLayout::Slots { levels } => levels
                .get(p.round().max(0.0) as usize)
                .map_or_else(String::new, short_value),
            AxisLayout::Numeric { log, .. } => {
                let x = if *log { 10f64.powf(p) } else { p };
                self.number(x)
            }
        }
    }

    /// A number of this parameter as a flag would write it: durations with a unit, whole
    /// numbers without decimals, others to five significant digits.
    fn number(&self, x: f64) -> String {
        match self.kind {
            FieldKind::Duration | FieldKind::DurationOrOff => Unit::Duration.format(x),
            FieldKind::Integer => format!("{:.0}", x.round() + 0.0),
            _ => Unit::Number.format(x),
        }
    }

    /// Every candidate tick, `(position, label)`, before thinning: the levels when the grid
    /// has three or more (slots: every level), else round values over the range.
    pub fn candidate_ticks(&self) -> Vec<(f64, String)> {
        match &self.layout {
            AxisLayout::Slots { levels } => levels
                .iter()
                .enumerate()
                .map(|(i, v)| (i as f64, short_value(v)))
                .collect(),
            AxisLayout::Numeric { levels, .. } if levels.len() >= 3 => {
                let mut t: Vec<(f64, String)> = levels
                    .iter()
                    .filter_map(|v| Some((self.pos(v)?, short_value(v))))
                    .collect();
                t.sort_by(|a, b| a.0.total_cmp(&b.0));
                t
            }
            AxisLayout::Numeric { log, lo, hi, .. } => {
                if *log {
                    let decades = (lo.floor() as i32)..=(hi.ceil() as i32);
                    let mut t: Vec<(f64, String)> = decades
                        .flat_map(|k| [1.0, 2.0, 5.0].map(|m| m * 10f64.powi(k)))
                        .map(|x| (x.log10(), x))
                        .filter(|(p, _)| *p >= lo - 1e-9 && *p <= hi + 1e-9)
                        .map(|(p, x)| (p, self.number(x)))
                        .collect();
                    if t.len() >= 2 {
                        return t;
                    }
                    let (a, b) = (10f64.powf(*lo), 10f64.powf(*hi));
                    t = nice_ticks(a, b, 6)
                        .0
                        .into_iter()
                        .filter(|x| *x > 0.0)
                        .map(|x| (x.log10(), self.number(x)))
                        .collect();
                    t
                } else {
                    nice_ticks(*lo, *hi, 8)
                        .0
                        .into_iter()
                        .map(|x| (x, self.number(x)))
                        .collect()
                }
            }
        }
    }

    /// The ticks that fit between pixels `from` (where the range starts: the left of a
    /// horizontal axis, the bottom of a vertical one) and `to`, at `size`: horizontal labels are
    /// measured by width, vertical ones by height.
    pub fn ticks(
        &self,
        from: i32,
        to: i32,
        vertical: bool,
        size: f64,
    ) -> Result<Vec<(f64, String)>, ChartError> {
        let r = self.range();
        let span = (r.end - r.start).max(f64::MIN_POSITIVE);
        let at = |v: f64| from + ((v - r.start) / span * f64::from(to - from)) as i32;
        let extent = |label: &str| -> Result<i32, ChartError> {
            let (w, h) = common::measure(label, size)?;
            Ok(if vertical { h + 4 } else { w })
        };
        // Candidates run from the range's start; pixels run up a vertical axis, so negate them
        // to thin from the bottom.
        let ticks = self.candidate_ticks();
        if vertical {
            thin(ticks, |v| -at(v), extent)
        } else {
            thin(ticks, at, extent)
        }
    }

    /// The axis's description: its path, and `(log scale)` when it is one.
    pub fn desc(&self) -> String {
        let path = common::short(&self.path, MAX_NAME * 2);
        if self.is_log() {
            format!("{path} (log scale)")
        } else {
            path
        }
    }
}

/// A value as an axis or legend shows it: as written, but a number to five significant digits
/// (a range's `0.118888888889` is `0.11889`), cut to [`MAX_NAME`].
fn short_value(v: &Value) -> String {
    match v {
        Value::Number(x) => Unit::Number.format(*x),
        _ => common::short(&super::written(v), MAX_NAME),
    }
}

/// `points` without consecutive repeats: a polyline through the same pixel twice has a
/// zero-length segment, whose direction the bitmap backend's thick-line code cannot compute
/// (it draws a spike to the image's edge).
fn distinct(points: impl IntoIterator<Item = (i32, i32)>) -> Vec<(i32, i32)> {
    let mut out: Vec<(i32, i32)> = Vec::new();
    for p in points {
        if out.last() != Some(&p) {
            out.push(p);
        }
    }
    out
}

/// A polyline through `points` (pixels of `area`), skipping repeats ([`distinct`]).
fn polyline<DB: DrawingBackend>(
    area: &Area<DB>,
    points: impl IntoIterator<Item = (i32, i32)>,
    style: ShapeStyle,
) -> Result<(), ChartError> {
    let points = distinct(points);
    if points.len() >= 2 {
        area.draw(&PathElement::new(points, style))?;
    }
    Ok(())
}

/// The label of the tick at `v` among `ticks`, for plotters' label formatter.
fn tick_label(ticks: &[(f64, String)], v: f64) -> String {
    ticks
        .iter()
        .find(|(t, _)| (t - v).abs() <= 1e-9 * (1.0 + t.abs()))
        .map_or_else(String::new, |(_, l)| l.clone())
}

/// A metric's values mapped to the better scale: the bright end is the best value shown.
#[derive(Clone, Copy, Debug)]
pub(crate) struct MetricScale {
    pub lo: f64,
    pub hi: f64,
    pub better: Better,
}

impl MetricScale {
    /// The scale over `values`; `None` without any finite value.
    pub fn over(values: impl Iterator<Item = f64>, better: Better) -> Option<MetricScale> {
        let (lo, hi) = values
            .filter(|v| v.is_finite())
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
                (a.min(v), b.max(v))
            });
        (lo <= hi).then_some(MetricScale { lo, hi, better })
    }

    /// How good `v` is among the values, 0 (worst) to 1 (best).
    pub fn goodness(&self, v: f64) -> f64 {
        let t = if self.hi > self.lo {
            (v - self.lo) / (self.hi - self.lo)
        } else {
            0.5
        };
        match self.better {
            Better::Higher => t,
            Better::Lower => 1.0 - t,
        }
    }

    pub fn colour(&self, v: f64) -> Rgb {
        palette::better_scale(self.goodness(v))
    }

    /// The best and worst values shown.
    pub fn best_worst(&self) -> (f64, f64) {
        match self.better {
            Better::Higher => (self.hi, self.lo),
            Better::Lower => (self.lo, self.hi),
        }
    }
}

/// Width the colour bar and its labels take right of a plot.
pub(crate) const BAR_AREA: u32 = 150;
const BAR_WIDTH: i32 = 16;
const BAR_STEPS: i32 = 48;

/// A vertical colour bar right of the plot (`x` its left edge, `rows` the plot's pixel rows, in
/// `area` coordinates): `colour(t)` from t = 0 at the bottom to 1 at the top, `labels` (bottom,
/// top) at its ends and `words` (bottom, top) beyond them.
pub(crate) fn colour_bar<DB: DrawingBackend>(
    area: &Area<DB>,
    x: i32,
    rows: Range<i32>,
    colour: impl Fn(f64) -> Rgb,
    labels: (&str, &str),
    words: (&str, &str),
) -> Result<(), ChartError> {
    let (top, bottom) = (rows.start + 24, rows.end - 24);
    if bottom <= top {
        return Ok(());
    }
    let h = bottom - top;
    for k in 0..BAR_STEPS {
        let y1 = bottom - h * k / BAR_STEPS;
        let y0 = bottom - h * (k + 1) / BAR_STEPS;
        let t = (f64::from(k) + 0.5) / f64::from(BAR_STEPS);
        area.draw(&Rectangle::new(
            [(x, y0), (x + BAR_WIDTH, y1)],
            common::rgb(colour(t)).filled(),
        ))?;
    }
    area.draw(&PathElement::new(
        vec![
            (x, top),
            (x + BAR_WIDTH, top),
            (x + BAR_WIDTH, bottom),
            (x, bottom),
            (x, top),
        ],
        common::rgb(palette::INK).stroke_width(1),
    ))?;
    let label = common::anchored(common::text(SMALL_SIZE), HPos::Left, VPos::Center);
    area.draw_text(labels.1, &label, (x + BAR_WIDTH + 6, top))?;
    area.draw_text(labels.0, &label, (x + BAR_WIDTH + 6, bottom))?;
    let word = |v| common::anchored(common::muted(SMALL_SIZE), HPos::Left, v);
    area.draw_text(words.1, &word(VPos::Bottom), (x, top - 6))?;
    area.draw_text(words.0, &word(VPos::Top), (x, bottom + 6))?;
    Ok(())
}

/// The colour bar of a metric scale: best at the top.
pub(crate) fn metric_bar<DB: DrawingBackend>(
    area: &Area<DB>,
    x: i32,
    rows: Range<i32>,
    scale: &MetricScale,
    key: &str,
) -> Result<(), ChartError> {
    let (best, worst) = scale.best_worst();
    colour_bar(
        area,
        x,
        rows,
        palette::better_scale,
        (
            &replicated::value(key, worst, Style::Terminal),
            &replicated::value(key, best, Style::Terminal),
        ),
        ("worse", "better"),
    )
}

/// Marker radius for `n` points on one plot: large enough to see, small enough not to hide
/// each other.
fn radius(n: usize) -> i32 {
    match n {
        0..=60 => 7,
        61..=400 => 5,
        401..=2000 => 4,
        _ => 3,
    }
}

/// A deterministic offset in [-0.3, 0.3] for point `index` on a slot axis, so points sharing a
/// slot do not hide each other (golden-ratio sequence: evenly spread, no randomness).
fn jitter(index: usize) -> f64 {
    ((index as f64 * 0.618_033_988_749_895).fract() - 0.5) * 0.6
}

/// The plot's pixel columns and rows in `area` coordinates.
fn plot_box<DB: DrawingBackend, CT: plotters::coord::CoordTranslate>(
    chart: &ChartContext<'_, DB, CT>,
    area: &Area<DB>,
) -> (Range<i32>, Range<i32>) {
    let (x, y) = chart.plotting_area().get_pixel_range();
    let (bx, by) = area.get_base_pixel();
    (x.start - bx..x.end - bx, y.start - by..y.end - by)
}

/// The recommendation's ring and its label beside it, placed right of the ring unless it would
/// leave the plot (`cols`), then left (`centre` in `area` coordinates).
fn recommended_mark<DB: DrawingBackend>(
    area: &Area<DB>,
    centre: (i32, i32),
    r: i32,
    cols: &Range<i32>,
    label: &str,
) -> Result<(), ChartError> {
    let ink = common::rgb(palette::INK);
    area.draw(&Circle::new(centre, r + 6, ink.stroke_width(3)))?;
    area.draw(&Circle::new(centre, r + 8, WHITE.stroke_width(1)))?;
    let style = common::text(SMALL_SIZE);
    let (w, h) = common::measure(label, SMALL_SIZE)?;
    let right = centre.0 + r + 12;
    let left = if right + w <= cols.end {
        right
    } else {
        centre.0 - r - 12 - w
    };
    let bottom = centre.1 - r - 2;
    // A pale backing, so the label reads over crowded points.
    area.draw(&Rectangle::new(
        [(left - 3, bottom - h - 2), (left + w + 3, bottom + 2)],
        WHITE.mix(0.85).filled(),
    ))?;
    area.draw_text(
        label,
        &common::anchored(style, HPos::Left, VPos::Bottom),
        (left, bottom),
    )?;
    Ok(())
}

/// A note in the middle of `area` (nothing to draw).
fn empty<DB: DrawingBackend>(area: &Area<DB>, s: &str) -> Result<(), ChartError> {
    let (w, h) = area.dim_in_pixel();
    common::note(area, s, (w as i32 / 2, h as i32 / 2))
}

#[cfg(test)]
mod tests;
