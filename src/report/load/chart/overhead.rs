//! The router's own latency under load: p50, p99, p99.9 and max of the decision, the router's
//! overhead and the issue lag, as grouped bars on a logarithmic microsecond axis, each bar's
//! value written above it.
//!
//! A log axis because the four percentiles of one measure routinely span three decades (9 µs
//! at p50, 2 ms at max); the written values keep it readable where a log axis is hard to read.
//! Bars start at the axis floor, a whole decade under the smallest value. A measure without a
//! sample (no verification reached an adapter, a run stopped at once) says so instead of bars.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use super::{NO_LOAD, subtitle};
use crate::metrics::RunSummary;
use crate::metrics::load::{LoadSummary, Percentiles};
use crate::report::chart::common::{
    self, Area, DESC_SIZE, FixedTicks, LABEL_SIZE, LegendItem, MARGIN, Swatch, Y_LABEL_AREA,
};
use crate::report::chart::{ChartError, Format, Painter, render_with};
use crate::report::load::format::{self, COLUMNS};
use crate::report::palette;
use crate::report::replicated::Style;

pub(crate) const TITLE: &str = "Load test: router latency percentiles";

const WIDTH: u32 = 1000;
/// The plot, axes included.
const PLOT: u32 = 400;
/// A bar's width and the distance between neighbouring bars' centres, in groups.
const BAR: f64 = 0.19;
const STEP: f64 = 0.21;
/// Size of the values written over the bars.
const VALUE_SIZE: f64 = 14.0;

/// A measure: its name and where its percentiles are.
type Group = (&'static str, fn(&LoadSummary) -> &Percentiles);

/// The measures, in the order of their groups.
const GROUPS: [Group; 3] = [
    ("decision", |l| &l.decision),
    ("router overhead", |l| &l.overhead),
    ("issue lag", |l| &l.issue_lag),
];

pub fn render(summary: &RunSummary, format: Format) -> Result<Vec<u8>, ChartError> {
    render_with(&Paint(summary), format)
}

/// Percentile `j`'s colour: a sequential scale from p50 (dark) to max (bright).
fn colour(j: usize) -> RGBColor {
    common::rgb(palette::parameter_scale(
        j as f64 / (COLUMNS.len() - 1) as f64,
    ))
}

fn legend() -> Vec<LegendItem> {
    COLUMNS
        .iter()
        .enumerate()
        .map(|(j, (name, _))| LegendItem::new(*name, colour(j), Swatch::Fill))
        .collect()
}

fn notes() -> Vec<String> {
    vec![
        "Log scale. Decision: start of verify to its first adapter call. Router overhead: verify's \
         wall time minus"
            .to_owned(),
        "the time inside adapters. Issue lag: issue time minus intended time. Wall-clock \
         figures: they vary run to run."
            .to_owned(),
    ]
}

/// A decade's label: `1 µs`, `10 µs`, `100 µs`, `1 ms`, … `100 s`.
fn decade(d: f64) -> String {
    let d = d.round() as i32;
    let (unit, base) = match d {
        ..3 => ("µs", 0),
        3..6 => ("ms", 3),
        _ => ("s", 6),
    };
    format!("{} {unit}", 10u64.saturating_pow((d - base).max(0) as u32))
}

/// The y axis in decades of microseconds: from the decade at or under the smallest value to the
/// one at or over the largest, and a little headroom for the values written over the bars.
fn decades(values: impl Iterator<Item = f64>) -> (i32, i32) {
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .map(|v| v.max(1.0).log10())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    if !lo.is_finite() {
        return (0, 3);
    }
    let lo = lo.floor() as i32;
    let hi = (hi.ceil() as i32).max(lo + 1);
    (lo, hi)
}

struct Paint<'a>(&'a RunSummary);

impl Painter for Paint<'_> {
    fn size(&self) -> Result<(u32, u32), ChartError> {
        let legend = common::legend_height(WIDTH, &legend())?;
        Ok((
            WIDTH,
            common::HEADER + legend + common::notes_height(&notes()) + PLOT,
        ))
    }

    fn paint<DB: DrawingBackend>(&self, root: &Area<DB>) -> Result<(), ChartError> {
        let s = self.0;
        let area = common::header_with(root, TITLE, &subtitle(s))?;
        let area = common::legend(&area, &legend())?;
        let area = common::notes(&area, &notes())?;
        let groups: Vec<Option<&Percentiles>> = GROUPS
            .iter()
            .map(|(_, of)| s.load.as_ref().map(of).filter(|p| p.count > 0))
            .collect();
        let (lo, hi) = decades(
            groups
                .iter()
                .flatten()
                .flat_map(|p| COLUMNS.iter().map(|(_, v)| v(p))),
        );
        let (floor, top) = (f64::from(lo), f64::from(hi) + 0.35);
        let n = GROUPS.len();
        let name_of = |v: &f64| {
            let i = v.round();
            if i >= 0.0 && (v - i).abs() < 1e-9 {
                GROUPS
                    .get(i as usize)
                    .map_or_else(String::new, |g| g.0.to_owned())
            } else {
                String::new()
            }
        };
        let mut chart = ChartBuilder::on(&area)
            .margin(MARGIN)
            .x_label_area_size(40)
            .y_label_area_size(Y_LABEL_AREA + 8)
            .build_cartesian_2d(
                FixedTicks {
                    range: -0.5..n as f64 - 0.5,
                    ticks: (0..n).map(|i| i as f64).collect(),
                },
                FixedTicks {
                    range: floor..top,
                    ticks: (lo..=hi).map(f64::from).collect(),
                },
            )?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .y_desc("latency (log scale)")
            .x_label_formatter(&name_of)
            .y_label_formatter(&|v| decade(*v))
            .label_style(common::text(LABEL_SIZE))
            .axis_desc_style(common::text(DESC_SIZE))
            .max_light_lines(0)
            .bold_line_style(RGBColor(215, 215, 215))
            .draw()?;
        let (bx, by) = area.get_base_pixel();
        let value_style = common::anchored(common::text(VALUE_SIZE), HPos::Center, VPos::Bottom);
        for (g, p) in groups.iter().enumerate() {
            let centre = g as f64;
            let Some(p) = p else {
                let (px, py) = chart.backend_coord(&(centre, (floor + top) / 2.0));
                let why = if s.load.is_none() {
                    NO_LOAD
                } else {
                    "no samples"
                };
                common::note(&area, why, (px - bx, py - by))?;
                continue;
            };
            for (j, (_, value)) in COLUMNS.iter().enumerate() {
                let v = value(p);
                let x = centre + (j as f64 - (COLUMNS.len() - 1) as f64 / 2.0) * STEP;
                let y = v.max(1.0).log10().max(floor);
                chart.draw_series(std::iter::once(Rectangle::new(
                    [(x - BAR / 2.0, floor), (x + BAR / 2.0, y)],
                    colour(j).filled(),
                )))?;
                let (px, py) = chart.backend_coord(&(x, y));
                area.draw_text(
                    &format::latency(v, Style::Html),
                    &value_style,
                    (px - bx, py - by - 3),
                )?;
            }
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
    fn decades_are_labelled_in_their_unit() {
        let labels: Vec<String> = (0..=8).map(|d| decade(f64::from(d))).collect();
        assert_eq!(
            labels,
            [
                "1 µs", "10 µs", "100 µs", "1 ms", "10 ms", "100 ms", "1 s", "10 s", "100 s"
            ]
        );
    }

    #[test]
    fn the_axis_spans_whole_decades_around_the_values() {
        assert_eq!(decades([9.0, 2_480.0].into_iter()), (0, 4));
        assert_eq!(decades([212.0, 41_300.0].into_iter()), (2, 5));
        assert_eq!(decades([100.0, 100.0].into_iter()), (2, 3));
        assert_eq!(decades([0.0].into_iter()), (0, 1));
        assert_eq!(decades(std::iter::empty()), (0, 3));
    }

    #[test]
    fn every_bar_has_its_value_written() {
        let s = fixture::summary();
        let l = s.load.as_ref().unwrap();
        let svg = svg(s);
        for (name, of) in GROUPS {
            assert!(svg.contains(name), "no group {name}");
            for (_, v) in COLUMNS {
                let label = format::latency(v(of(l)), Style::Html);
                assert!(svg.contains(&format!("\n{label}\n")), "{name}: no {label}");
            }
        }
        for j in 0..COLUMNS.len() {
            let c = colour(j);
            let fill = format!("fill=\"#{:02X}{:02X}{:02X}\"", c.0, c.1, c.2);
            // One bar per group, and the legend's swatch.
            assert_eq!(svg.matches(&fill).count(), GROUPS.len() + 1, "{fill}");
        }
    }

    #[test]
    fn a_measure_without_samples_says_so() {
        let mut s = fixture::summary().clone();
        s.load.as_mut().unwrap().decision = Percentiles::default();
        let svg = svg(&s);
        assert_eq!(svg.matches("no samples").count(), 1);
        let svg = self::svg(fixture::empty());
        assert_eq!(svg.matches("no samples").count(), GROUPS.len());
    }
}
