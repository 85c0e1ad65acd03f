//! Forest plot of a replicated run's comparisons: one panel per compared policy, one row per
//! headline metric ([`replicated::headline_metrics`]), the mean paired difference from the
//! baseline as a point and its confidence interval as a horizontal bar, a vertical line at zero,
//! coloured by verdict (better green, worse red, no detectable difference grey) and the verdict
//! also written out, since red and green alone fail the commonest colour-vision deficiency.
//!
//! # Scale
//!
//! The metrics differ in units (percentage points, seconds, cost, counts), so each metric is
//! drawn on its own scale: a row's difference and interval are divided by the largest absolute
//! value among that metric's interval ends and means over every policy. The axis therefore runs
//! from -1 to 1 for every metric; within one metric the policies stay comparable, across
//! metrics only the position relative to zero and the verdict are. The real numbers (difference
//! and interval, in the metric's unit) are written at the end of each row, and the notes above
//! the plot say so. The division is a display transform; every number comes from
//! `RunSummary::comparisons`.

use std::collections::BTreeMap;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::common::{
    self, Area, DESC_SIZE, LABEL_SIZE, LegendItem, MARGIN, MAX_NAME, SMALL_SIZE, Swatch,
    X_LABEL_AREA, XMap,
};
use super::{ChartError, Format, Painter, render_with};
use crate::metrics::RunSummary;
use crate::metrics::compare::{Better, Comparison, Verdict};
use crate::report::palette;
use crate::report::replicated::{self, Style};

pub(super) const TITLE: &str = "Differences from the baseline over seeds";

const WIDTH: u32 = 1000;
const ROW: u32 = 26;
/// The x axis: every row's scale maps its largest magnitude to ±1.
const X_RANGE: std::ops::Range<f64> = -1.1..1.1;

pub fn render(summary: &RunSummary, format: Format) -> Result<Vec<u8>, ChartError> {
    render_with(&Paint(summary), format)
}

/// Per metric, the largest absolute value of its comparisons' means and interval ends (over
/// every policy): what that metric's rows are divided by. 0 when every value is 0.
fn scales(rows: &[&Comparison]) -> BTreeMap<String, f64> {
    let mut out: BTreeMap<String, f64> = BTreeMap::new();
    for c in rows {
        let m = [Some(c.mean_difference), c.lo, c.hi]
            .into_iter()
            .flatten()
            .filter(|v| v.is_finite())
            .map(f64::abs)
            .fold(0.0, f64::max);
        let e = out.entry(c.metric.clone()).or_insert(0.0);
        *e = e.max(m);
    }
    out
}

/// `v` on a scale whose largest magnitude is `scale`.
fn normalise(v: f64, scale: f64) -> f64 {
    if scale > 0.0 && v.is_finite() {
        (v / scale).clamp(-1.0, 1.0)
    } else {
        0.0
    }
}

/// The text at the end of a row: `+0.12 pp [+0.05, +0.19] · better`.
fn row_label(c: &Comparison) -> String {
    let (difference, interval) = replicated::difference(c, Style::Html);
    format!("{difference} {interval} · {}", c.verdict.as_str())
}

/// The comparisons grouped by policy, in [`replicated::headline_comparisons`] order.
fn panels(s: &RunSummary) -> Vec<(String, String, Vec<&Comparison>)> {
    let mut out: Vec<(String, String, Vec<&Comparison>)> = Vec::new();
    for c in replicated::headline_comparisons(s) {
        match out.last_mut() {
            Some((p, _, rows)) if *p == c.policy => rows.push(c),
            _ => out.push((c.policy.clone(), c.baseline.clone(), vec![c])),
        }
    }
    out
}

/// What the notes above the plot say: the scale, and which metrics improve upwards.
fn notes(rows: &[&Comparison]) -> Vec<String> {
    let mut higher: Vec<&str> = Vec::new();
    for c in rows.iter().filter(|c| c.better == Better::Higher) {
        if !higher.contains(&c.metric.as_str()) {
            higher.push(&c.metric);
        }
    }
    let direction = if higher.is_empty() {
        "Lower is better for every metric shown.".to_owned()
    } else {
        format!(
            "Higher is better for {}; lower for the others.",
            higher.join(", ")
        )
    };
    vec![
        "Each metric on its own scale: difference (policy - baseline) ÷ the largest |value| of that metric's rows;".to_owned(),
        format!("the real difference and interval are written at the right. {direction}"),
    ]
}

fn legend() -> Vec<LegendItem> {
    [
        (Verdict::Better, "better"),
        (Verdict::Worse, "worse"),
        (Verdict::NoDetectableDifference, "no detectable difference"),
    ]
    .into_iter()
    .map(|(v, label)| LegendItem::new(label, common::rgb(palette::verdict(v)), Swatch::Point))
    .collect()
}

/// The widest of `texts` in `size`, pixels.
fn widest<'a>(texts: impl Iterator<Item = &'a str>, size: f64) -> Result<u32, ChartError> {
    let mut widest = 0;
    for t in texts {
        widest = widest.max(common::measure(t, size)?.0);
    }
    Ok(widest as u32)
}

struct Paint<'a>(&'a RunSummary);

/// What every panel shares: the same left and right edges.
struct Geometry {
    labels: u32,
    right: u32,
    scales: BTreeMap<String, f64>,
    notes: Vec<String>,
}

impl Paint<'_> {
    fn geometry(&self) -> Result<Geometry, ChartError> {
        let rows = replicated::headline_comparisons(self.0);
        let names: Vec<String> = rows
            .iter()
            .map(|c| common::short(&c.metric, MAX_NAME))
            .collect();
        let labels = 20 + widest(names.iter().map(String::as_str), LABEL_SIZE)?.max(60);
        let texts: Vec<String> = rows.iter().map(|c| row_label(c)).collect();
        let right = 16 + widest(texts.iter().map(String::as_str), SMALL_SIZE)?.max(60);
        Ok(Geometry {
            labels,
            right,
            scales: scales(&rows),
            notes: notes(&rows),
        })
    }

    fn panel_height(rows: usize) -> u32 {
        common::CAPTION + 4 + ROW * rows.max(1) as u32 + X_LABEL_AREA + MARGIN
    }

    fn panel<DB: DrawingBackend>(
        &self,
        area: &Area<DB>,
        (policy, baseline, rows): &(String, String, Vec<&Comparison>),
        g: &Geometry,
    ) -> Result<(), ChartError> {
        let n = rows.len().max(1);
        common::caption(
            area,
            &format!(
                "policy {} against baseline {}",
                common::short(policy, MAX_NAME),
                common::short(baseline, MAX_NAME)
            ),
            (MARGIN + g.labels) as i32,
        )?;
        let labels: Vec<String> = rows
            .iter()
            .rev()
            .map(|c| common::short(&c.metric, MAX_NAME))
            .collect();
        let label_of = |v: &f64| {
            labels
                .get(v.floor().max(0.0) as usize)
                .cloned()
                .unwrap_or_default()
        };
        let mut chart = ChartBuilder::on(area)
            .margin(MARGIN)
            .margin_top(common::CAPTION + 4)
            .margin_right(MARGIN + g.right)
            .x_label_area_size(X_LABEL_AREA)
            .y_label_area_size(g.labels)
            .build_cartesian_2d(
                common::FixedTicks {
                    range: X_RANGE,
                    ticks: vec![-1.0, -0.5, 0.0, 0.5, 1.0],
                },
                common::FixedTicks {
                    range: 0.0..n as f64,
                    ticks: (0..n).map(|i| i as f64 + 0.5).collect(),
                },
            )?;
        chart
            .configure_mesh()
            .x_desc("difference from the baseline, on each metric's own scale")
            .x_label_formatter(&|v| common::tick(*v))
            .y_label_formatter(&label_of)
            .label_style(common::text(LABEL_SIZE))
            .axis_desc_style(common::text(DESC_SIZE))
            .max_light_lines(0)
            .bold_line_style(RGBColor(228, 228, 228))
            .draw()?;
        // Zero: no difference.
        chart.draw_series(std::iter::once(PathElement::new(
            vec![(0.0, 0.0), (0.0, n as f64)],
            common::rgb(palette::INK).stroke_width(2),
        )))?;
        let map = XMap::of(&chart, area, X_RANGE);
        let (_, by) = area.get_base_pixel();
        for (i, c) in rows.iter().enumerate() {
            let y = (n - 1 - i) as f64 + 0.5;
            let scale = g.scales.get(&c.metric).copied().unwrap_or(0.0);
            let color = common::rgb(palette::verdict(c.verdict));
            if let (Some(lo), Some(hi)) = (c.lo, c.hi) {
                let (lo, hi) = (normalise(lo, scale), normalise(hi, scale));
                chart.draw_series(std::iter::once(PathElement::new(
                    vec![(lo, y), (hi, y)],
                    color.stroke_width(3),
                )))?;
                for x in [lo, hi] {
                    chart.draw_series(std::iter::once(PathElement::new(
                        vec![(x, y - 0.2), (x, y + 0.2)],
                        color.stroke_width(2),
                    )))?;
                }
            }
            let x = normalise(c.mean_difference, scale);
            chart.draw_series(std::iter::once(Circle::new((x, y), 6, color.filled())))?;
            chart.draw_series(std::iter::once(Circle::new(
                (x, y),
                6,
                common::rgb(palette::INK).stroke_width(1),
            )))?;
            let (_, py) = chart.backend_coord(&(0.0, y));
            area.draw_text(
                &row_label(c),
                &common::text(SMALL_SIZE).pos(Pos::new(HPos::Left, VPos::Center)),
                (map.right + 12, py - by),
            )?;
        }
        Ok(())
    }
}

impl Painter for Paint<'_> {
    fn size(&self) -> Result<(u32, u32), ChartError> {
        let g = self.geometry()?;
        let legend = common::legend_height(WIDTH, &legend())?;
        let panels = panels(self.0);
        let height: u32 = if panels.is_empty() {
            Self::panel_height(0)
        } else {
            panels.iter().map(|p| Self::panel_height(p.2.len())).sum()
        };
        Ok((
            WIDTH,
            common::HEADER + legend + common::notes_height(&g.notes) + height + 8,
        ))
    }

    fn paint<DB: DrawingBackend>(&self, root: &Area<DB>) -> Result<(), ChartError> {
        let s = self.0;
        let g = self.geometry()?;
        let area = common::header_with(root, TITLE, &common::replicated_subtitle(s))?;
        let area = common::legend(&area, &legend())?;
        let area = common::notes(&area, &g.notes)?;
        let panels = panels(s);
        if panels.is_empty() {
            let (w, h) = area.dim_in_pixel();
            return common::note(
                &area,
                "no comparisons: they need two or more seeds",
                (w as i32 / 2, h as i32 / 2),
            );
        }
        let mut rest = area;
        for panel in &panels {
            let (this, below) = rest.split_vertically(Self::panel_height(panel.2.len()));
            self.panel(&this, panel, &g)?;
            rest = below;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::chart::fixture;

    fn svg(s: &RunSummary) -> String {
        String::from_utf8(render(s, Format::Svg).unwrap()).unwrap()
    }

    #[test]
    fn every_metric_is_scaled_by_its_largest_magnitude() {
        let s = fixture::replicated();
        let rows = replicated::headline_comparisons(s);
        let scales = scales(&rows);
        for c in &rows {
            let scale = scales[&c.metric];
            for v in [Some(c.mean_difference), c.lo, c.hi].into_iter().flatten() {
                let x = normalise(v, scale);
                assert!((-1.0..=1.0).contains(&x), "{} {v} -> {x}", c.metric);
            }
        }
        // Some row of each metric reaches the edge (unless the metric never differs).
        for (metric, scale) in &scales {
            if *scale > 0.0 {
                let reaches = rows.iter().filter(|c| &c.metric == metric).any(|c| {
                    [Some(c.mean_difference), c.lo, c.hi]
                        .into_iter()
                        .flatten()
                        .any(|v| (normalise(v, *scale).abs() - 1.0).abs() < 1e-12)
                });
                assert!(reaches, "{metric}");
            }
        }
        assert_eq!(normalise(3.0, 0.0), 0.0);
    }

    #[test]
    fn rows_show_every_headline_comparison_with_its_real_numbers_and_verdict() {
        let s = fixture::replicated();
        let svg = svg(s);
        for c in replicated::headline_comparisons(s) {
            assert!(svg.contains(&c.metric), "no row for {}", c.metric);
            let label = html_escaped(&row_label(c));
            assert!(svg.contains(&label), "no label {label}");
        }
        for label in ["better", "worse", "no detectable difference", "own scale"] {
            assert!(svg.contains(label), "lacks {label}");
        }
        // One panel per compared policy, against the baseline.
        assert!(svg.contains("policy sensible against baseline static"));
        assert!(svg.contains("policy cautious against baseline static"));
        assert!(svg.contains("6 seeds · 95% intervals · baseline static"));
        // Not headline: compared, not drawn.
        assert!(!svg.contains("ttv_p90") && !svg.contains("cost_total"));
    }

    fn html_escaped(s: &str) -> String {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    }

    #[test]
    fn points_and_bars_take_their_verdicts_colour() {
        let s = fixture::replicated();
        let svg = svg(s);
        let verdicts: Vec<Verdict> = replicated::headline_comparisons(s)
            .iter()
            .map(|c| c.verdict)
            .collect();
        for v in [
            Verdict::Better,
            Verdict::Worse,
            Verdict::NoDetectableDifference,
        ] {
            assert!(verdicts.contains(&v), "the fixture lacks a {v:?} row");
            let c = palette::verdict(v);
            let fill = format!("fill=\"#{:02X}{:02X}{:02X}\"", c.0, c.1, c.2);
            let rows = verdicts.iter().filter(|x| **x == v).count();
            // The legend swatch and one point per row.
            assert_eq!(svg.matches(&fill).count(), 1 + rows, "{v:?}");
        }
    }

    #[test]
    fn a_summary_without_comparisons_says_so() {
        let svg = svg(fixture::summary());
        assert!(svg.contains("no comparisons"), "{svg}");
    }
}
