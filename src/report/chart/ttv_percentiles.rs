//! Time-to-verify percentile distribution per policy, the standard HdrHistogram percentile plot:
//! x is the percentile on a logarithmic `1 / (1 - q)` axis (0 %, 90 %, 99 %, 99.9 %, 99.99 %),
//! so the tail gets as much room as the body; y is seconds.
//!
//! Read from each policy's run-level hdrhistogram (microseconds, 3 significant digits), sampled
//! at [`STEPS`] evenly spaced points of `log10(1 / (1 - q))` from 0 to 4: a fixed number of
//! points whatever the run length, so output size and rendering stay bounded and deterministic.

use hdrhistogram::Histogram;
use plotters::prelude::*;

use super::common::{
    self, Area, DESC_SIZE, LABEL_SIZE, LegendItem, MARGIN, MAX_NAME, Swatch, X_LABEL_AREA,
    Y_LABEL_AREA,
};
use super::{ChartError, Format, Painter, render_with};
use crate::metrics::RunSummary;
use crate::report::palette;

pub(super) const TITLE: &str = "Time to verify by percentile";

const SIZE: (u32, u32) = (1000, 520);

/// `log10(1 / (1 - q))` of the right edge: q = 99.99 %.
const NINES: f64 = 4.0;
/// Points per curve.
const STEPS: usize = 200;

pub fn render(summary: &RunSummary, format: Format) -> Result<Vec<u8>, ChartError> {
    render_with(&Paint(summary), format)
}

/// `q` at position `x` of the axis: `x = log10(1 / (1 - q))`.
fn quantile_at(x: f64) -> f64 {
    1.0 - 10f64.powf(-x)
}

/// A tick's label: 0 -> "0%", 1 -> "90%", 2 -> "99%", 3 -> "99.9%", 4 -> "99.99%".
fn percentile_label(x: f64) -> String {
    match x.round() as i32 {
        n if n <= 0 => "0%".to_string(),
        1 => "90%".to_string(),
        2 => "99%".to_string(),
        n => format!("99.{}%", "9".repeat(n as usize - 2)),
    }
}

/// (x, seconds) along the curve of one histogram.
fn curve(h: &Histogram<u64>) -> Vec<(f64, f64)> {
    (0..=STEPS)
        .map(|i| {
            let x = NINES * i as f64 / STEPS as f64;
            let q = quantile_at(x).clamp(0.0, 1.0);
            (x, h.value_at_quantile(q) as f64 / 1e6)
        })
        .collect()
}

/// Seconds with two decimals.
fn secs(v: f64) -> String {
    format!("{v:.2} s")
}

struct Paint<'a>(&'a RunSummary);

impl Painter for Paint<'_> {
    fn size(&self) -> Result<(u32, u32), ChartError> {
        Ok(SIZE)
    }

    fn paint<DB: DrawingBackend>(&self, root: &Area<DB>) -> Result<(), ChartError> {
        let s = self.0;
        let mut curves = Vec::with_capacity(s.policies.len());
        let mut items = Vec::with_capacity(s.policies.len());
        for (i, p) in s.policies.iter().enumerate() {
            let h = p
                .result
                .ttv_histogram
                .decode()
                .map_err(|source| ChartError::Histogram {
                    policy: p.name.clone(),
                    source,
                })?;
            let name = common::short(&p.name, MAX_NAME);
            let color = common::rgb(palette::policy(i));
            if h.is_empty() {
                items.push(LegendItem::new(
                    format!("{name} (no deliveries)"),
                    color,
                    Swatch::Line,
                ));
                curves.push(Vec::new());
            } else {
                let label = format!(
                    "{name} · p50 {} · p99 {}",
                    secs(h.value_at_quantile(0.5) as f64 / 1e6),
                    secs(h.value_at_quantile(0.99) as f64 / 1e6)
                );
                items.push(LegendItem::new(label, color, Swatch::Line));
                curves.push(curve(&h));
            }
        }
        let area = common::header(root, TITLE, s)?;
        let area = common::legend(&area, &items)?;

        let top = curves
            .iter()
            .flatten()
            .map(|&(_, y)| y)
            .fold(0.0f64, f64::max);
        let top = if top > 0.0 { top * 1.08 } else { 1.0 };
        let ticks: Vec<f64> = (0..=NINES as usize).map(|n| n as f64).collect();
        let mut chart = ChartBuilder::on(&area)
            .margin(MARGIN)
            .margin_right(MARGIN * 3)
            .x_label_area_size(X_LABEL_AREA)
            .y_label_area_size(Y_LABEL_AREA)
            .build_cartesian_2d(
                common::FixedTicks {
                    range: 0.0..NINES,
                    ticks,
                },
                0.0..top,
            )?;
        chart
            .configure_mesh()
            .x_desc("percentile (log scale of 1 / (1 - q))")
            .y_desc("time to verify (s)")
            .x_label_formatter(&|v| percentile_label(*v))
            .y_label_formatter(&|v| common::tick(*v))
            .label_style(common::text(LABEL_SIZE))
            .axis_desc_style(common::text(DESC_SIZE))
            .max_light_lines(0)
            .bold_line_style(RGBColor(215, 215, 215))
            .draw()?;
        for (i, c) in curves.iter().enumerate() {
            if c.is_empty() {
                continue;
            }
            let color = common::rgb(palette::policy(i));
            chart.draw_series(LineSeries::new(c.iter().copied(), color.stroke_width(2)))?;
        }
        if curves.iter().all(Vec::is_empty) {
            let (w, h) = area.dim_in_pixel();
            common::note(
                &area,
                "no delivered verifications",
                (w as i32 / 2, h as i32 / 2),
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_labelled_in_nines() {
        let labels: Vec<String> = (0..=4).map(|x| percentile_label(x as f64)).collect();
        assert_eq!(labels, ["0%", "90%", "99%", "99.9%", "99.99%"]);
    }

    #[test]
    fn the_axis_maps_nines_to_quantiles() {
        assert_eq!(quantile_at(0.0), 0.0);
        assert!((quantile_at(2.0) - 0.99).abs() < 1e-12);
        assert!((quantile_at(4.0) - 0.9999).abs() < 1e-12);
    }

    #[test]
    fn a_curve_never_decreases() {
        let h = crate::report::chart::fixture::summary().policies[0]
            .result
            .ttv_histogram
            .decode()
            .unwrap();
        let c = curve(&h);
        assert_eq!(c.len(), STEPS + 1);
        assert!(c.windows(2).all(|w| w[0].1 <= w[1].1));
    }
}
