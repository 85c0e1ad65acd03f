//! Traffic share per provider over time: stacked areas, one panel per policy. Failover shows as
//! colour moving from one provider to another at a fault's start, and back after it.
//!
//! A bucket's share of a provider is its `Attempt` events over all `Attempt` events in the
//! bucket (by event time); a bucket without attempts stays blank. Faults are marked by dashed
//! edges on top of the areas (a translucent shade would be invisible under opaque areas) and
//! labelled above each panel.

use plotters::prelude::*;

use super::common::{
    self, Area, DESC_SIZE, LABEL_SIZE, LegendItem, MARGIN, MAX_NAME, Swatch, TimeAxis,
    X_LABEL_AREA, XMap, Y_LABEL_AREA,
};
use super::{ChartError, Format, Painter, render_with};
use crate::metrics::{PolicySummary, RunSummary};
use crate::report::palette;

pub(super) const TITLE: &str = "Traffic share per provider";

const WIDTH: u32 = 1000;
/// Height of one panel's plot.
const PLOT: u32 = 150;

pub fn render(summary: &RunSummary, format: Format) -> Result<Vec<u8>, ChartError> {
    render_with(&Paint(summary), format)
}

/// For each of `policy`'s providers, its index in `scenario.providers` (its colour).
fn provider_colours(summary: &RunSummary, policy: &PolicySummary) -> Vec<usize> {
    policy
        .result
        .providers
        .iter()
        .enumerate()
        .map(|(i, name)| {
            summary
                .scenario
                .providers
                .iter()
                .position(|p| p == name)
                .unwrap_or(i)
        })
        .collect()
}

/// Contiguous stretches of buckets with attempts: for each, the time edges and, per bucket
/// group, each provider's share in %.
struct Stretch {
    /// (start, end) in axis units, per group.
    spans: Vec<(f64, f64)>,
    /// shares[group][provider], %.
    shares: Vec<Vec<f64>>,
}

fn stretches(summary: &RunSummary, policy: &PolicySummary, axis: &TimeAxis) -> Vec<Stretch> {
    let run = &policy.result;
    let mut out = Vec::new();
    let mut current = Stretch {
        spans: Vec::new(),
        shares: Vec::new(),
    };
    for (start, end, rows) in common::groups(
        &run.timeseries,
        run.window.bucket,
        summary.scenario.duration,
    ) {
        let mut per = vec![0u64; run.providers.len()];
        for r in rows {
            for (p, n) in per.iter_mut().zip(&r.provider_attempts) {
                *p += n;
            }
        }
        let total: u64 = per.iter().sum();
        if total == 0 {
            if !current.spans.is_empty() {
                out.push(std::mem::replace(
                    &mut current,
                    Stretch {
                        spans: Vec::new(),
                        shares: Vec::new(),
                    },
                ));
            }
            continue;
        }
        current.spans.push((axis.x(start), axis.x(end)));
        current.shares.push(
            per.iter()
                .map(|&n| 100.0 * n as f64 / total as f64)
                .collect(),
        );
    }
    if !current.spans.is_empty() {
        out.push(current);
    }
    out
}

/// The outline of provider `p`'s band in a stretch: upper edge left to right, lower edge back.
fn band_polygon(stretch: &Stretch, p: usize) -> Vec<(f64, f64)> {
    let mut upper = Vec::with_capacity(stretch.spans.len() * 2);
    let mut lower = Vec::with_capacity(stretch.spans.len() * 2);
    for (&(x0, x1), shares) in stretch.spans.iter().zip(&stretch.shares) {
        let below: f64 = shares[..p].iter().sum();
        let above = (below + shares[p]).min(100.0);
        upper.push((x0, above));
        upper.push((x1, above));
        lower.push((x0, below));
        lower.push((x1, below));
    }
    upper.extend(lower.into_iter().rev());
    upper
}

struct Paint<'a>(&'a RunSummary);

impl Paint<'_> {
    /// Every panel has the same height: the band labels are the same in each.
    fn panel_height(&self) -> Result<u32, ChartError> {
        let s = self.0;
        let axis = TimeAxis::new(s.scenario.duration);
        let map = XMap {
            left: (MARGIN + Y_LABEL_AREA) as i32,
            right: (WIDTH - MARGIN) as i32,
            lo: 0.0,
            hi: axis.end,
        };
        let layout = common::layout_bands(&common::bands(s), &axis, &map)?;
        Ok(common::CAPTION + layout.height() + 4 + PLOT + X_LABEL_AREA + 4)
    }

    fn panel<DB: DrawingBackend>(
        &self,
        area: &Area<DB>,
        index: usize,
        axis: &TimeAxis,
        bands: &[common::Band],
    ) -> Result<(), ChartError> {
        let s = self.0;
        let policy = &s.policies[index];
        common::caption(
            area,
            &format!("policy {}", common::short(&policy.name, MAX_NAME * 2)),
            (MARGIN + Y_LABEL_AREA) as i32,
        )?;

        let map = XMap::predict(area, Y_LABEL_AREA, axis.range());
        let layout = common::layout_bands(bands, axis, &map)?;
        let top = common::CAPTION + layout.height() + 4;
        let mut chart = ChartBuilder::on(area)
            .margin(MARGIN)
            .margin_top(top)
            .margin_bottom(4)
            .x_label_area_size(X_LABEL_AREA)
            .y_label_area_size(Y_LABEL_AREA)
            .build_cartesian_2d(axis.range(), 0.0..100.0)?;
        chart
            .configure_mesh()
            .x_desc(axis.desc())
            .y_desc("share of attempts (%)")
            .x_label_formatter(&|v| common::tick(*v))
            .y_label_formatter(&|v| common::tick(*v))
            .y_labels(6)
            .label_style(common::text(LABEL_SIZE))
            .axis_desc_style(common::text(DESC_SIZE))
            .max_light_lines(0)
            .bold_line_style(RGBColor(215, 215, 215))
            .draw()?;
        common::draw_band_labels(area, bands, &layout, top as i32)?;

        let colours = provider_colours(s, policy);
        let parts = stretches(s, policy, axis);
        for stretch in &parts {
            for (p, &colour) in colours.iter().enumerate() {
                let outline = band_polygon(stretch, p);
                chart.draw_series(std::iter::once(Polygon::new(
                    outline,
                    common::rgb(palette::provider(colour)).filled(),
                )))?;
            }
        }
        let map = XMap::of(&chart, area, axis.range());
        let rows = common::plot_rows(&chart, area);
        if parts.is_empty() {
            let mid = ((map.left + map.right) / 2, (rows.start + rows.end) / 2);
            common::note(area, "no attempts", mid)?;
        }
        common::band_edges(area, bands, axis, &map, rows)?;
        Ok(())
    }
}

impl Painter for Paint<'_> {
    fn size(&self) -> Result<(u32, u32), ChartError> {
        let s = self.0;
        let legend = common::legend_height(WIDTH, &legend_items(s))?;
        let panels = s.policies.len().max(1) as u32 * self.panel_height()?;
        Ok((WIDTH, common::HEADER + legend + panels + 8))
    }

    fn paint<DB: DrawingBackend>(&self, root: &Area<DB>) -> Result<(), ChartError> {
        let s = self.0;
        let area = common::header(root, TITLE, s)?;
        let area = common::legend(&area, &legend_items(s))?;
        let axis = TimeAxis::new(s.scenario.duration);
        let bands = common::bands(s);
        if s.policies.is_empty() {
            let (w, h) = area.dim_in_pixel();
            return common::note(&area, "no policies", (w as i32 / 2, h as i32 / 2));
        }
        let mut rest = area;
        for i in 0..s.policies.len() {
            let (panel, below) = rest.split_vertically(self.panel_height()?);
            self.panel(&panel, i, &axis, &bands)?;
            rest = below;
        }
        Ok(())
    }
}

fn legend_items(s: &RunSummary) -> Vec<LegendItem> {
    let mut items: Vec<LegendItem> = s
        .scenario
        .providers
        .iter()
        .enumerate()
        .map(|(i, p)| {
            LegendItem::new(
                common::short(p, MAX_NAME),
                common::rgb(palette::provider(i)),
                Swatch::Fill,
            )
        })
        .collect();
    if !s.scenario.faults.is_empty() {
        items.push(LegendItem::new(
            "fault window (dashed edges)",
            common::rgb(palette::FAULT),
            Swatch::Band,
        ));
    }
    items
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::chart::fixture;

    #[test]
    fn stacked_shares_fill_the_panel_where_there_is_traffic() {
        let s = fixture::summary();
        let axis = TimeAxis::new(s.scenario.duration);
        for p in &s.policies {
            for stretch in stretches(s, p, &axis) {
                for shares in &stretch.shares {
                    let total: f64 = shares.iter().sum();
                    assert!((total - 100.0).abs() < 1e-9, "{total}");
                }
            }
        }
    }
}
