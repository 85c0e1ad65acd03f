//! What the charts share: fonts and sizes, the header, a legend that never overlaps the data,
//! the time axis, fault (and warmup) bands with their labels laid out in lanes, and merging of
//! time-series buckets into a bounded number of points.

use std::ops::Range;

use plotters::coord::Shift;
use plotters::coord::ranged1d::{KeyPointHint, NoDefaultFormatting, Ranged, ValueFormatter};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{ChartError, FONT, MAX_POINTS};
use crate::metrics::{BucketRow, RunSummary};
use crate::report::palette::{self, Rgb};

pub(crate) type Area<DB> = DrawingArea<DB, Shift>;

/// Font sizes (plotters units; SVG `font-size` is this / 1.24).
pub(crate) const TITLE_SIZE: f64 = 26.0;
pub(crate) const SUBTITLE_SIZE: f64 = 16.0;
pub(crate) const LABEL_SIZE: f64 = 16.0;
pub(crate) const DESC_SIZE: f64 = 17.0;
pub(crate) const SMALL_SIZE: f64 = 15.0;

/// Space around the plot and for axis labels, pixels.
pub(crate) const MARGIN: u32 = 16;
pub(crate) const X_LABEL_AREA: u32 = 48;
pub(crate) const Y_LABEL_AREA: u32 = 72;

/// Longest name shown in a chart; the HTML tables show names in full.
pub(crate) const MAX_NAME: usize = 32;

pub(crate) fn rgb(c: Rgb) -> RGBColor {
    c.into()
}

pub(crate) fn text(size: f64) -> TextStyle<'static> {
    (FONT, size).into_font().color(&rgb(palette::INK))
}

pub(crate) fn muted(size: f64) -> TextStyle<'static> {
    (FONT, size).into_font().color(&rgb(palette::MUTED))
}

pub(crate) fn anchored(style: TextStyle<'static>, h: HPos, v: VPos) -> TextStyle<'static> {
    style.pos(Pos::new(h, v))
}

/// `name`, cut to `max` characters with an ellipsis.
pub(crate) fn short(name: &str, max: usize) -> String {
    if name.chars().count() <= max {
        name.to_string()
    } else {
        let mut s: String = name.chars().take(max.saturating_sub(1)).collect();
        s.push('…');
        s
    }
}

/// An axis tick: integers without decimals, others with up to two.
pub(crate) fn tick(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 {
        format!("{:.0}", v.round() + 0.0)
    } else {
        let s = format!("{v:.2}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// Width and height of `s` in the chart font at `size`, pixels (the bundled font's metrics,
/// whatever the backend).
pub(crate) fn measure(s: &str, size: f64) -> Result<(i32, i32), ChartError> {
    let (w, h) = (FONT, size)
        .into_font()
        .box_size(s)
        .map_err(|e| ChartError::Draw(format!("measuring {s:?}: {e}")))?;
    Ok((w as i32, h as i32))
}

/// The widest of `texts` in `size`, pixels.
pub(crate) fn widest<'a>(
    texts: impl IntoIterator<Item = &'a str>,
    size: f64,
) -> Result<u32, ChartError> {
    let mut widest = 0;
    for t in texts {
        widest = widest.max(measure(t, size)?.0);
    }
    Ok(widest.max(0) as u32)
}

/// Height of [`header`].
pub(crate) const HEADER: u32 = 62;

/// The title (left aligned) and a muted subtitle naming the scenario and seed. Returns the area
/// below.
pub(crate) fn header<DB: DrawingBackend>(
    root: &Area<DB>,
    title: &str,
    summary: &RunSummary,
) -> Result<Area<DB>, ChartError> {
    let subtitle = format!(
        "scenario {} · seed {}",
        short(&summary.scenario.name, 48),
        summary.seed
    );
    header_with(root, title, &subtitle)
}

/// The title and a muted `subtitle` (what [`header`] draws, for charts of every seed rather
/// than one). Returns the area below.
pub(crate) fn header_with<DB: DrawingBackend>(
    root: &Area<DB>,
    title: &str,
    subtitle: &str,
) -> Result<Area<DB>, ChartError> {
    let (top, rest) = root.split_vertically(HEADER);
    top.draw_text(
        title,
        &anchored(text(TITLE_SIZE), HPos::Left, VPos::Top),
        (MARGIN as i32, 10),
    )?;
    top.draw_text(
        subtitle,
        &anchored(muted(SUBTITLE_SIZE), HPos::Left, VPos::Top),
        (MARGIN as i32, 40),
    )?;
    Ok(rest)
}

/// The subtitle of a chart over every seed of a replicated run: `scenario NAME · 6 seeds · 95%
/// intervals · baseline NAME` (the parts the summary carries).
pub(crate) fn replicated_subtitle(summary: &RunSummary) -> String {
    use crate::report::replicated::{self, Style};
    let mut parts = vec![
        format!("scenario {}", short(&summary.scenario.name, 48)),
        format!("{} seeds", replicated::seed_count(summary)),
    ];
    if let Some(c) = replicated::run_confidence(summary) {
        parts.push(format!(
            "{} intervals",
            replicated::confidence(c, Style::Terminal)
        ));
    }
    if let Some(b) = replicated::baseline(summary) {
        parts.push(format!("baseline {}", short(b, MAX_NAME)));
    }
    parts.join(" · ")
}

/// Height of one line of [`notes`].
const NOTE_LINE: u32 = 20;

/// The height [`notes`] takes for `lines`.
pub(crate) fn notes_height(lines: &[String]) -> u32 {
    if lines.is_empty() {
        0
    } else {
        lines.len() as u32 * NOTE_LINE + 6
    }
}

/// Muted lines of explanation above the plot (what a row's scale means, how to read it).
/// Returns the area below.
pub(crate) fn notes<DB: DrawingBackend>(
    area: &Area<DB>,
    lines: &[String],
) -> Result<Area<DB>, ChartError> {
    if lines.is_empty() {
        return Ok(area.clone());
    }
    let (top, rest) = area.split_vertically(notes_height(lines));
    let style = anchored(muted(SMALL_SIZE), HPos::Left, VPos::Top);
    for (i, line) in lines.iter().enumerate() {
        top.draw_text(
            line,
            &style,
            (MARGIN as i32 + 8, 2 + (i as u32 * NOTE_LINE) as i32),
        )?;
    }
    Ok(rest)
}

/// Height of a panel caption.
pub(crate) const CAPTION: u32 = 26;

/// A panel's caption ("policy NAME") at the left edge of its plot, `x`.
pub(crate) fn caption<DB: DrawingBackend>(
    area: &Area<DB>,
    s: &str,
    x: i32,
) -> Result<(), ChartError> {
    area.draw_text(
        s,
        &anchored(text(DESC_SIZE), HPos::Left, VPos::Center),
        (x, 13),
    )?;
    Ok(())
}

/// How a legend entry is drawn.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Swatch {
    Line,
    Fill,
    Point,
    /// A translucent band, as fault windows are drawn.
    Band,
    /// A hollow circle: a marker around a point, or a point drawn hollow.
    Ring,
}

pub(crate) struct LegendItem {
    pub label: String,
    pub color: RGBColor,
    pub swatch: Swatch,
}

impl LegendItem {
    pub fn new(label: impl Into<String>, color: RGBColor, swatch: Swatch) -> Self {
        LegendItem {
            label: label.into(),
            color,
            swatch,
        }
    }
}

const LEGEND_ROW: i32 = 24;

/// Where each legend item goes in a legend `width` pixels wide: `(x, row)` each, and the
/// legend's height.
fn legend_layout(width: u32, items: &[LegendItem]) -> Result<(Vec<(i32, i32)>, u32), ChartError> {
    if items.is_empty() {
        return Ok((Vec::new(), 0));
    }
    let left = MARGIN as i32 + 8;
    let right = width as i32 - MARGIN as i32;
    let mut placed = Vec::with_capacity(items.len());
    let (mut x, mut row) = (left, 0);
    for item in items {
        let w = 30 + measure(&item.label, LABEL_SIZE)?.0;
        if x > left && x + w > right {
            x = left;
            row += 1;
        }
        placed.push((x, row));
        x += w + 22;
    }
    Ok((placed, ((row + 1) * LEGEND_ROW + 8) as u32))
}

/// The height [`legend`] takes in an area `width` pixels wide.
pub(crate) fn legend_height(width: u32, items: &[LegendItem]) -> Result<u32, ChartError> {
    Ok(legend_layout(width, items)?.1)
}

/// A legend laid out in rows above the plot (never on top of the data). Returns the area below.
pub(crate) fn legend<DB: DrawingBackend>(
    area: &Area<DB>,
    items: &[LegendItem],
) -> Result<Area<DB>, ChartError> {
    if items.is_empty() {
        return Ok(area.clone());
    }
    let style = text(LABEL_SIZE);
    let (placed, height) = legend_layout(area.dim_in_pixel().0, items)?;
    let (top, rest) = area.split_vertically(height);
    for (item, &(x, row)) in items.iter().zip(&placed) {
        let cy = 4 + row * LEGEND_ROW + LEGEND_ROW / 2;
        match item.swatch {
            Swatch::Line => top.draw(&PathElement::new(
                vec![(x, cy), (x + 22, cy)],
                item.color.stroke_width(3),
            ))?,
            Swatch::Fill => top.draw(&Rectangle::new(
                [(x + 3, cy - 8), (x + 19, cy + 8)],
                item.color.filled(),
            ))?,
            Swatch::Point => top.draw(&Circle::new((x + 11, cy), 6, item.color.filled()))?,
            Swatch::Ring => top.draw(&Circle::new((x + 11, cy), 7, item.color.stroke_width(2)))?,
            Swatch::Band => {
                top.draw(&Rectangle::new(
                    [(x + 3, cy - 8), (x + 19, cy + 8)],
                    item.color.mix(FAULT_ALPHA).filled(),
                ))?;
                top.draw(&Rectangle::new(
                    [(x + 3, cy - 8), (x + 19, cy + 8)],
                    item.color.stroke_width(1),
                ))?;
            }
        }
        top.draw_text(
            &item.label,
            &anchored(style.clone(), HPos::Left, VPos::Center),
            (x + 28, cy),
        )?;
    }
    Ok(rest)
}

/// The legend entries of every policy, in summary order and palette colour.
pub(crate) fn policy_items(summary: &RunSummary, swatch: Swatch) -> Vec<LegendItem> {
    summary
        .policies
        .iter()
        .enumerate()
        .map(|(i, p)| LegendItem::new(short(&p.name, MAX_NAME), rgb(palette::policy(i)), swatch))
        .collect()
}

/// Seconds shown in the unit that suits the run's length.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TimeAxis {
    div: f64,
    unit: &'static str,
    /// The axis end (the scenario's duration), in the axis unit.
    pub end: f64,
}

impl TimeAxis {
    pub fn new(duration: f64) -> Self {
        let duration = if duration.is_finite() && duration > 0.0 {
            duration
        } else {
            1.0
        };
        let (div, unit) = if duration < 20.0 * 60.0 {
            (1.0, "s")
        } else if duration < 10.0 * 3600.0 {
            (60.0, "min")
        } else {
            (3600.0, "h")
        };
        TimeAxis {
            div,
            unit,
            end: duration / div,
        }
    }

    /// Seconds to the axis unit.
    pub fn x(&self, seconds: f64) -> f64 {
        seconds / self.div
    }

    pub fn range(&self) -> Range<f64> {
        0.0..self.end
    }

    pub fn desc(&self) -> String {
        format!("time since start ({})", self.unit)
    }

    /// The axis unit: `s`, `min` or `h`.
    pub fn unit(&self) -> &'static str {
        self.unit
    }
}

/// A stretch of time the charts mark: the warmup (not measured) and each injected fault.
pub(crate) struct Band {
    pub start: f64,
    pub end: f64,
    pub label: String,
    pub warmup: bool,
}

/// The warmup (if any) and the scenario's faults, in scenario order.
pub(crate) fn bands(summary: &RunSummary) -> Vec<Band> {
    let s = &summary.scenario;
    let mut out = Vec::with_capacity(s.faults.len() + 1);
    if s.warmup > 0.0 {
        out.push(Band {
            start: 0.0,
            end: s.warmup,
            label: "warmup (not measured)".to_string(),
            warmup: true,
        });
    }
    out.extend(s.faults.iter().map(|f| Band {
        start: f.start,
        end: f.end,
        label: short(&f.name, MAX_NAME),
        warmup: false,
    }));
    out
}

pub(crate) const FAULT_ALPHA: f64 = 0.14;
const WARMUP_ALPHA: f64 = 0.06;
const LANE: i32 = 20;
const MAX_LANES: usize = 4;

/// Where each band label goes in the strip above a plot: one lane per row of labels, so labels
/// of overlapping or nearby faults never overlap.
pub(crate) struct BandLayout {
    /// (band index, lane, label x, bracket x0, bracket x1), pixels relative to the plot's area.
    items: Vec<(usize, usize, i32, i32, i32)>,
    lanes: usize,
}

impl BandLayout {
    /// Height of the label strip, pixels.
    pub fn height(&self) -> u32 {
        (self.lanes as i32 * LANE + if self.lanes > 0 { 4 } else { 0 }) as u32
    }
}

/// The horizontal geometry of a plot: pixel columns of its data area and the x range they show.
#[derive(Clone, Copy, Debug)]
pub(crate) struct XMap {
    pub left: i32,
    pub right: i32,
    pub lo: f64,
    pub hi: f64,
}

impl XMap {
    /// The plot that `ChartBuilder` will make on `area` with [`MARGIN`] and a y label area of
    /// `y_label_area` pixels, in the area's own coordinates.
    pub fn predict<DB: DrawingBackend>(
        area: &Area<DB>,
        y_label_area: u32,
        range: Range<f64>,
    ) -> Self {
        let (w, _) = area.dim_in_pixel();
        XMap {
            left: (MARGIN + y_label_area) as i32,
            right: w as i32 - MARGIN as i32,
            lo: range.start,
            hi: range.end,
        }
    }

    /// The plot `chart` actually made on `area`, in the area's coordinates.
    pub fn of<DB: DrawingBackend, CT: plotters::coord::CoordTranslate>(
        chart: &ChartContext<'_, DB, CT>,
        area: &Area<DB>,
        range: Range<f64>,
    ) -> Self {
        let (x, _) = chart.plotting_area().get_pixel_range();
        let (bx, _) = area.get_base_pixel();
        XMap {
            left: x.start - bx,
            right: x.end - bx,
            lo: range.start,
            hi: range.end,
        }
    }

    pub fn px(&self, v: f64) -> i32 {
        let span = (self.hi - self.lo).max(f64::MIN_POSITIVE);
        let t = ((v - self.lo) / span).clamp(0.0, 1.0);
        self.left + (t * f64::from(self.right - self.left)).round() as i32
    }
}

pub(crate) fn layout_bands(
    bands: &[Band],
    axis: &TimeAxis,
    map: &XMap,
) -> Result<BandLayout, ChartError> {
    let mut lane_ends: Vec<i32> = Vec::new();
    let mut items = Vec::with_capacity(bands.len());
    for (i, b) in bands.iter().enumerate() {
        let x0 = map.px(axis.x(b.start));
        let x1 = map.px(axis.x(b.end)).max(x0 + 1);
        let w = measure(&b.label, SMALL_SIZE)?.0;
        let tx = (x0 + 3).min(map.right - w).max(map.left);
        let (from, to) = (x0.min(tx), x1.max(tx + w));
        let lane = match lane_ends.iter().position(|&end| end + 8 <= from) {
            Some(l) => l,
            None if lane_ends.len() < MAX_LANES => {
                lane_ends.push(i32::MIN);
                lane_ends.len() - 1
            }
            // Too many overlapping faults for separate lanes: reuse the freest.
            None => (0..lane_ends.len())
                .min_by_key(|&l| lane_ends[l])
                .unwrap_or(0),
        };
        lane_ends[lane] = lane_ends[lane].max(to);
        items.push((i, lane, tx, x0, x1));
    }
    Ok(BandLayout {
        items,
        lanes: lane_ends.len(),
    })
}

/// Draws the band labels and brackets into the strip of `layout.height()` pixels that ends
/// where the plot begins (`plot_top`, in `area` coordinates).
pub(crate) fn draw_band_labels<DB: DrawingBackend>(
    area: &Area<DB>,
    bands: &[Band],
    layout: &BandLayout,
    plot_top: i32,
) -> Result<(), ChartError> {
    let top = plot_top - layout.height() as i32;
    let style = anchored(muted(SMALL_SIZE), HPos::Left, VPos::Top);
    for &(i, lane, tx, x0, x1) in &layout.items {
        let y = top + lane as i32 * LANE;
        let color = rgb(palette::FAULT);
        // Under the label, the ticks ending inside this lane.
        let bracket_y = y + LANE - 5;
        area.draw(&PathElement::new(
            vec![
                (x0, bracket_y + 4),
                (x0, bracket_y),
                (x1, bracket_y),
                (x1, bracket_y + 4),
            ],
            color.stroke_width(1),
        ))?;
        area.draw_text(&bands[i].label, &style, (tx, y + 1))?;
    }
    Ok(())
}

/// Shades the bands behind the data over the plot's full height (`y` pixel range, `area`
/// coordinates). Call after the mesh and before the series.
pub(crate) fn shade_bands<DB: DrawingBackend>(
    area: &Area<DB>,
    bands: &[Band],
    axis: &TimeAxis,
    map: &XMap,
    y: Range<i32>,
) -> Result<(), ChartError> {
    for b in bands {
        let x0 = map.px(axis.x(b.start));
        let x1 = map.px(axis.x(b.end)).max(x0 + 1);
        let alpha = if b.warmup { WARMUP_ALPHA } else { FAULT_ALPHA };
        area.draw(&Rectangle::new(
            [(x0, y.start), (x1, y.end)],
            rgb(palette::FAULT).mix(alpha).filled(),
        ))?;
    }
    Ok(())
}

/// Marks the bands' edges on top of opaque data (stacked areas): dashed-looking vertical lines.
pub(crate) fn band_edges<DB: DrawingBackend>(
    area: &Area<DB>,
    bands: &[Band],
    axis: &TimeAxis,
    map: &XMap,
    y: Range<i32>,
) -> Result<(), ChartError> {
    for b in bands.iter().filter(|b| !b.warmup) {
        for t in [b.start, b.end] {
            let x = map.px(axis.x(t));
            let mut y0 = y.start;
            while y0 < y.end {
                let y1 = (y0 + 6).min(y.end);
                area.draw(&PathElement::new(
                    vec![(x, y0), (x, y1)],
                    rgb(palette::INK).stroke_width(2),
                ))?;
                y0 += 10;
            }
        }
    }
    Ok(())
}

/// Consecutive time-series buckets merged so that at most [`MAX_POINTS`] remain, limited to
/// the scenario's duration: `(start, end, rows)`, seconds. Sums over a group are exact, so rates
/// computed from them are too.
pub(crate) fn groups(
    rows: &[BucketRow],
    bucket: f64,
    duration: f64,
) -> Vec<(f64, f64, &[BucketRow])> {
    let n = rows.iter().take_while(|r| r.start < duration).count();
    let rows = &rows[..n];
    let k = n.div_ceil(MAX_POINTS).max(1);
    rows.chunks(k)
        .map(|c| {
            let start = c[0].start;
            let end = (c[c.len() - 1].start + bucket).min(duration);
            (start, end, c)
        })
        .collect()
}

/// A linear f64 axis whose ticks (and grid lines) are exactly `ticks`: the TTV chart's nines and
/// the route rows. (plotters' `with_key_points` on f64 ranges loses the label formatter.)
#[derive(Clone, Debug)]
pub(crate) struct FixedTicks {
    pub range: Range<f64>,
    pub ticks: Vec<f64>,
}

impl Ranged for FixedTicks {
    type FormatOption = NoDefaultFormatting;
    type ValueType = f64;

    fn map(&self, v: &f64, limit: (i32, i32)) -> i32 {
        let span = self.range.end - self.range.start;
        if span == 0.0 {
            return (limit.0 + limit.1) / 2;
        }
        let t = (v - self.range.start) / span;
        limit.0 + (f64::from(limit.1 - limit.0) * t).round() as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        // Bold points are the ticks; no light grid lines in between.
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.ticks.clone()
        }
    }

    fn range(&self) -> Range<f64> {
        self.range.clone()
    }
}

impl ValueFormatter<f64> for FixedTicks {
    fn format(v: &f64) -> String {
        tick(*v)
    }
}

/// The pixel rows of `chart`'s plot, in `area` coordinates.
pub(crate) fn plot_rows<DB: DrawingBackend, CT: plotters::coord::CoordTranslate>(
    chart: &ChartContext<'_, DB, CT>,
    area: &Area<DB>,
) -> Range<i32> {
    let (_, y) = chart.plotting_area().get_pixel_range();
    let (_, by) = area.get_base_pixel();
    y.start - by..y.end - by
}

/// A range around `values` with room for labels: padded by a share of their spread, never
/// empty, never below `floor`.
pub(crate) fn padded(
    values: impl Iterator<Item = f64> + Clone,
    min_pad: f64,
    floor: f64,
) -> (f64, f64) {
    let lo = values.clone().fold(f64::INFINITY, f64::min);
    let hi = values.fold(f64::NEG_INFINITY, f64::max);
    if !lo.is_finite() {
        return (floor.max(0.0), floor.max(0.0) + 1.0);
    }
    let pad = ((hi - lo) * 0.2).max(min_pad);
    ((lo - pad).max(floor), hi + pad)
}

/// A note in the plot's upper right corner (e.g. "no data"), `area` coordinates.
pub(crate) fn note<DB: DrawingBackend>(
    area: &Area<DB>,
    s: &str,
    at: (i32, i32),
) -> Result<(), ChartError> {
    area.draw_text(
        s,
        &anchored(muted(LABEL_SIZE), HPos::Center, VPos::Center),
        at,
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_drop_needless_decimals() {
        for (v, s) in [
            (0.0, "0"),
            (5.0, "5"),
            (2.5, "2.5"),
            (0.375, "0.38"),
            (-0.0, "0"),
        ] {
            assert_eq!(tick(v), s, "{v}");
        }
    }

    #[test]
    fn the_time_unit_follows_the_run_length() {
        assert_eq!(TimeAxis::new(600.0).desc(), "time since start (s)");
        assert_eq!(TimeAxis::new(3600.0).desc(), "time since start (min)");
        assert_eq!(TimeAxis::new(86400.0).x(7200.0), 2.0);
    }

    #[test]
    fn ranges_are_padded_and_never_empty() {
        let (lo, hi) = padded([99.0, 99.0].into_iter(), 0.5, 0.0);
        assert!(lo < 99.0 && hi > 99.0);
        let (lo, hi) = padded(std::iter::empty(), 0.5, 0.0);
        assert!(lo < hi);
        let (lo, _) = padded([0.01].into_iter(), 0.5, 0.0);
        assert_eq!(lo, 0.0);
    }

    #[test]
    fn long_names_are_shortened() {
        assert_eq!(short("abc", 5), "abc");
        assert_eq!(short("abcdefgh", 5), "abcd…");
    }
}
