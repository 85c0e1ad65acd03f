//! Success rate over time: one line per policy, per time-series bucket (merged when the run has
//! more buckets than the chart has room for), fault windows shaded and labelled, the warmup
//! shaded lighter.
//!
//! A bucket's success rate is `delivered / verifications` of the verifications that *started*
//! in it (DESIGN.md section 5); a bucket where none started leaves a gap in the line rather than
//! a misleading zero.

use plotters::prelude::*;

use super::common::{
    self, Area, DESC_SIZE, LABEL_SIZE, MARGIN, Swatch, TimeAxis, X_LABEL_AREA, XMap, Y_LABEL_AREA,
};
use super::{ChartError, Format, Painter, render_with};
use crate::metrics::RunSummary;
use crate::report::palette;

pub(super) const TITLE: &str = "Success rate over time";

const SIZE: (u32, u32) = (1000, 520);

pub fn render(summary: &RunSummary, format: Format) -> Result<Vec<u8>, ChartError> {
    render_with(&Paint(summary), format)
}

/// One policy's line: `(time in axis units, success rate in %)` segments, split at gaps.
fn segments(summary: &RunSummary, policy: usize, axis: &TimeAxis) -> Vec<Vec<(f64, f64)>> {
    let run = &summary.policies[policy].result;
    let mut out: Vec<Vec<(f64, f64)>> = Vec::new();
    let mut current = Vec::new();
    for (start, end, rows) in common::groups(
        &run.timeseries,
        run.window.bucket,
        summary.scenario.duration,
    ) {
        let verifications: u64 = rows.iter().map(|r| r.verifications).sum();
        let delivered: u64 = rows.iter().map(|r| r.delivered).sum();
        if verifications == 0 {
            if !current.is_empty() {
                out.push(std::mem::take(&mut current));
            }
            continue;
        }
        let rate = 100.0 * delivered as f64 / verifications as f64;
        current.push((axis.x((start + end) / 2.0), rate));
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// The y axis: from a round number under the lowest point to 100 %, so that a dip from 99.9 %
/// to 97 % is visible and a collapse to 20 % still fits.
fn y_range(lowest: Option<f64>) -> std::ops::Range<f64> {
    let lo = lowest.unwrap_or(90.0).clamp(0.0, 100.0);
    let pad = ((100.0 - lo) * 0.1).max(0.5);
    let step = if lo - pad > 80.0 { 1.0 } else { 10.0 };
    let bottom = (((lo - pad) / step).floor() * step).clamp(0.0, 99.0);
    bottom..100.0 + (100.0 - bottom) * 0.02
}

struct Paint<'a>(&'a RunSummary);

impl Painter for Paint<'_> {
    fn size(&self) -> Result<(u32, u32), ChartError> {
        Ok(SIZE)
    }

    fn paint<DB: DrawingBackend>(&self, root: &Area<DB>) -> Result<(), ChartError> {
        let s = self.0;
        let area = common::header(root, TITLE, s)?;
        let area = common::legend(&area, &common::policy_items(s, Swatch::Line))?;
        let axis = TimeAxis::new(s.scenario.duration);
        let lines: Vec<_> = (0..s.policies.len())
            .map(|i| segments(s, i, &axis))
            .collect();
        let lowest = lines
            .iter()
            .flatten()
            .flatten()
            .map(|&(_, y)| y)
            .min_by(f64::total_cmp);
        let y = y_range(lowest);

        let bands = common::bands(s);
        let map = XMap::predict(&area, Y_LABEL_AREA, axis.range());
        let layout = common::layout_bands(&bands, &axis, &map)?;
        let top = layout.height() + 8;
        let mut chart = ChartBuilder::on(&area)
            .margin(MARGIN)
            .margin_top(top)
            .x_label_area_size(X_LABEL_AREA)
            .y_label_area_size(Y_LABEL_AREA)
            .build_cartesian_2d(axis.range(), y.clone())?;
        chart
            .configure_mesh()
            .x_desc(axis.desc())
            .y_desc("success rate (%)")
            .x_label_formatter(&|v| common::tick(*v))
            .y_label_formatter(&|v| common::tick(*v))
            .label_style(common::text(LABEL_SIZE))
            .axis_desc_style(common::text(DESC_SIZE))
            .max_light_lines(0)
            .bold_line_style(RGBColor(215, 215, 215))
            .draw()?;

        let plot_y = common::plot_rows(&chart, &area);
        let map = XMap::of(&chart, &area, axis.range());
        common::shade_bands(&area, &bands, &axis, &map, plot_y.clone())?;
        common::draw_band_labels(&area, &bands, &layout, top as i32)?;

        for (i, segments) in lines.iter().enumerate() {
            let color = common::rgb(palette::policy(i));
            for seg in segments {
                if seg.len() == 1 {
                    chart.draw_series(std::iter::once(Circle::new(seg[0], 3, color.filled())))?;
                } else {
                    chart
                        .draw_series(LineSeries::new(seg.iter().copied(), color.stroke_width(2)))?;
                }
            }
        }
        if lines.iter().all(Vec::is_empty) {
            let mid = ((map.left + map.right) / 2, (plot_y.start + plot_y.end) / 2);
            common::note(&area, "no verifications", mid)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_y_axis_zooms_on_high_rates_and_keeps_low_ones() {
        let r = y_range(Some(99.5));
        assert!(r.start >= 95.0 && r.start < 99.5, "{r:?}");
        let r = y_range(Some(20.0));
        assert!(r.start <= 12.0, "{r:?}");
        assert!(r.end > 100.0);
        assert_eq!(y_range(Some(0.0)).start, 0.0);
    }
}
