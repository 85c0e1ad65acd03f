//! Per-seed spread of a replicated run's headline metrics: one strip plot per metric (success
//! rate, time-to-verify p99, cost per success), one column per policy, one dot per seed, and the
//! policy's mean over seeds marked by a bar with its value.
//!
//! Dots are spread sideways so that equal values do not hide one another, deterministically:
//! seed `j` of a policy sits at the fractional part of `j` times the golden ratio, scaled to
//! the column's width (the same summary draws the same picture). The sideways position means
//! nothing.
//!
//! Each column is one policy's own spread over seeds. Overlapping columns do *not* mean two
//! policies are indistinguishable: the seeds' shared luck moves every policy alike, and the
//! paired differences of the forest plot cancel it (the notes above the plot say so). The
//! values are `RunSummary::replications`' per-seed metrics, the means their estimates.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::common::{self, Area, DESC_SIZE, LABEL_SIZE, LegendItem, MARGIN, MAX_NAME, Swatch};
use super::{ChartError, Format, Painter, render_with};
use crate::metrics::RunSummary;
use crate::metrics::compare::PolicyReplications;
use crate::report::palette;
use crate::report::replicated::{self, Style, Unit};

pub(super) const TITLE: &str = "Spread over seeds";

const WIDTH: u32 = 1000;
/// Height of one strip plot's data area.
const PLOT: u32 = 210;
/// Policy names under each strip.
const X_LABEL_AREA: u32 = 40;
/// Cost labels have four decimals.
const Y_LABEL_AREA: u32 = 92;
/// Half the width of a column's dots, in columns.
const JITTER: f64 = 0.22;
/// Half the width of the mean's bar, in columns.
const MEAN_BAR: f64 = 0.32;

/// The metrics shown, with the caption of their strip.
const METRICS: [(&str, &str); 3] = [
    ("success_rate", "success rate (%)"),
    ("ttv_p99", "time to verify, p99 (s)"),
    ("cost_per_success", "cost per success (cost units)"),
];

pub fn render(summary: &RunSummary, format: Format) -> Result<Vec<u8>, ChartError> {
    render_with(&Paint(summary), format)
}

/// Sideways offset of the `j`th seed's dot, in columns: in `[-JITTER, JITTER)`, the golden
/// ratio's low-discrepancy sequence, so neighbouring seeds land apart.
fn jitter(j: usize) -> f64 {
    const PHI: f64 = 0.618_033_988_749_895;
    ((j as f64 * PHI).fract() - 0.5) * 2.0 * JITTER
}

/// The number plotted for a value of `metric`: percentages for rates.
fn plotted(metric: &str, v: f64) -> f64 {
    match Unit::of(metric) {
        Unit::Rate => 100.0 * v,
        _ => v,
    }
}

/// The colour of a policy: its index in `summary.policies`, like every other chart, else its
/// index among the replications.
fn colour(s: &RunSummary, index: usize, r: &PolicyReplications) -> RGBColor {
    let i = s
        .policies
        .iter()
        .position(|p| p.name == r.policy)
        .unwrap_or(index);
    common::rgb(palette::policy(i))
}

/// The y range of one strip: the values and means, padded, never empty.
fn y_range(values: impl Iterator<Item = f64>) -> std::ops::Range<f64> {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    if !lo.is_finite() {
        return 0.0..1.0;
    }
    let pad = ((hi - lo) * 0.12)
        .max(hi.abs().max(lo.abs()) * 0.005)
        .max(1e-6);
    lo - pad..hi + pad
}

/// A y label of `metric`'s strip: four decimals for costs, up to two otherwise.
fn y_label(metric: &str, v: f64) -> String {
    match Unit::of(metric) {
        Unit::Cost => format!("{v:.4}"),
        _ => common::tick(v),
    }
}

struct Paint<'a>(&'a RunSummary);

fn legend() -> Vec<LegendItem> {
    vec![
        LegendItem::new(
            "one seed (spread sideways only so that no dot hides another)",
            common::rgb(palette::MUTED),
            Swatch::Point,
        ),
        LegendItem::new("mean over seeds", common::rgb(palette::INK), Swatch::Line),
    ]
}

fn notes() -> Vec<String> {
    vec![
        "Each column is one policy's own spread. The seeds' shared luck moves every policy alike, so overlapping".to_owned(),
        "columns do not mean \"no difference\": the paired differences (forest plot) cancel that luck.".to_owned(),
    ]
}

const PANEL: u32 = common::CAPTION + 4 + PLOT + X_LABEL_AREA + MARGIN;

impl Paint<'_> {
    fn strip<DB: DrawingBackend>(
        &self,
        area: &Area<DB>,
        (metric, caption): (&str, &str),
    ) -> Result<(), ChartError> {
        let s = self.0;
        let reps = &s.replications;
        let n = reps.len().max(1);
        common::caption(area, caption, (MARGIN + Y_LABEL_AREA) as i32)?;
        let means: Vec<Option<f64>> = reps
            .iter()
            .map(|r| r.estimate(metric).map(|e| plotted(metric, e.interval.mean)))
            .collect();
        let values: Vec<Vec<f64>> = reps
            .iter()
            .map(|r| {
                r.values(metric)
                    .into_iter()
                    .map(|v| plotted(metric, v))
                    .collect()
            })
            .collect();
        let range = y_range(
            values
                .iter()
                .flatten()
                .copied()
                .chain(means.iter().flatten().copied()),
        );
        let names: Vec<String> = reps
            .iter()
            .map(|r| common::short(&r.policy, MAX_NAME))
            .collect();
        let name_of = |v: &f64| {
            let i = v.round();
            if i >= 0.0 && (v - i).abs() < 1e-9 {
                names.get(i as usize).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        };
        let mut chart = ChartBuilder::on(area)
            .margin(MARGIN)
            .margin_top(common::CAPTION + 4)
            .margin_right(MARGIN * 6)
            .x_label_area_size(X_LABEL_AREA)
            .y_label_area_size(Y_LABEL_AREA)
            .build_cartesian_2d(
                common::FixedTicks {
                    range: -0.5..n as f64 - 0.5,
                    ticks: (0..n).map(|i| i as f64).collect(),
                },
                range.clone(),
            )?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_label_formatter(&name_of)
            .y_label_formatter(&|v| y_label(metric, *v))
            .label_style(common::text(LABEL_SIZE))
            .axis_desc_style(common::text(DESC_SIZE))
            .max_light_lines(0)
            .y_labels(5)
            .bold_line_style(RGBColor(228, 228, 228))
            .draw()?;
        let (bx, by) = area.get_base_pixel();
        for (i, r) in reps.iter().enumerate() {
            let x = i as f64;
            let color = colour(s, i, r);
            chart.draw_series(
                values[i]
                    .iter()
                    .enumerate()
                    .map(|(j, &v)| Circle::new((x + jitter(j), v), 5, color.mix(0.75).filled())),
            )?;
            if let Some(mean) = means[i] {
                chart.draw_series(std::iter::once(PathElement::new(
                    vec![(x - MEAN_BAR, mean), (x + MEAN_BAR, mean)],
                    common::rgb(palette::INK).stroke_width(3),
                )))?;
                let (px, py) = chart.backend_coord(&(x + MEAN_BAR, mean));
                let raw = r.estimate(metric).map_or(0.0, |e| e.interval.mean);
                area.draw_text(
                    &replicated::value(metric, raw, Style::Html),
                    &common::text(common::SMALL_SIZE).pos(Pos::new(HPos::Left, VPos::Center)),
                    (px - bx + 6, py - by),
                )?;
            }
            if values[i].is_empty() {
                let (px, py) = chart.backend_coord(&(x, (range.start + range.end) / 2.0));
                common::note(area, "undefined on every seed", (px - bx, py - by))?;
            }
        }
        Ok(())
    }
}

impl Painter for Paint<'_> {
    fn size(&self) -> Result<(u32, u32), ChartError> {
        let legend = common::legend_height(WIDTH, &legend())?;
        let body = if self.0.replications.is_empty() {
            PANEL
        } else {
            PANEL * METRICS.len() as u32
        };
        Ok((
            WIDTH,
            common::HEADER + legend + common::notes_height(&notes()) + body + 8,
        ))
    }

    fn paint<DB: DrawingBackend>(&self, root: &Area<DB>) -> Result<(), ChartError> {
        let s = self.0;
        let area = common::header_with(root, TITLE, &common::replicated_subtitle(s))?;
        let area = common::legend(&area, &legend())?;
        let area = common::notes(&area, &notes())?;
        if s.replications.is_empty() {
            let (w, h) = area.dim_in_pixel();
            return common::note(
                &area,
                "no replications: the spread needs two or more seeds",
                (w as i32 / 2, h as i32 / 2),
            );
        }
        let mut rest = area;
        for m in METRICS {
            let (this, below) = rest.split_vertically(PANEL);
            self.strip(&this, m)?;
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
    fn jitter_is_deterministic_bounded_and_spread() {
        let xs: Vec<f64> = (0..20).map(jitter).collect();
        assert!(xs.iter().all(|x| (-JITTER..JITTER).contains(x)), "{xs:?}");
        assert_eq!(xs, (0..20).map(jitter).collect::<Vec<_>>());
        // Neighbouring seeds never sit on top of each other.
        for w in xs.windows(2) {
            assert!((w[0] - w[1]).abs() > 0.05, "{w:?}");
        }
    }

    #[test]
    fn one_dot_per_seed_and_a_mean_per_policy_and_metric() {
        let s = fixture::replicated();
        let svg = svg(s);
        for (i, r) in s.replications.iter().enumerate() {
            let c = palette::policy(i);
            let fill = format!("fill=\"#{:02X}{:02X}{:02X}\"", c.0, c.1, c.2);
            let dots: usize = METRICS.iter().map(|(m, _)| r.values(m).len()).sum();
            assert_eq!(svg.matches(&fill).count(), dots, "{}", r.policy);
            assert!(svg.contains(&r.policy));
            for (m, _) in METRICS {
                let mean = r.estimate(m).unwrap().interval.mean;
                let label = replicated::value(m, mean, Style::Html);
                assert!(
                    svg.contains(&label),
                    "{} {m}: no mean label {label}",
                    r.policy
                );
            }
        }
        for (_, caption) in METRICS {
            assert!(svg.contains(caption), "no strip {caption}");
        }
        assert!(svg.contains("6 seeds"));
    }

    #[test]
    fn a_metric_undefined_on_every_seed_is_noted_not_drawn() {
        let mut s = fixture::replicated().clone();
        for r in &mut s.replications {
            for seed in &mut r.seeds {
                seed.metrics.remove("cost_per_success");
            }
            r.estimates.retain(|e| e.metric != "cost_per_success");
        }
        let svg = svg(&s);
        assert_eq!(svg.matches("undefined on every seed").count(), 3);
    }

    #[test]
    fn y_ranges_are_padded_and_never_empty() {
        let r = y_range([99.0, 99.0].into_iter());
        assert!(r.start < 99.0 && r.end > 99.0);
        let r = y_range(std::iter::empty());
        assert!(r.start < r.end);
        let r = y_range([0.0, 0.0].into_iter());
        assert!(r.start < r.end);
    }

    #[test]
    fn a_summary_without_replications_says_so() {
        let svg = svg(fixture::summary());
        assert!(svg.contains("no replications"), "{svg}");
    }
}
