//! Traffic share per provider over time: stacked areas, one panel per policy. Failover shows as
//! colour moving from one provider to another at a fault's start, and back after it.
//!
//! A bucket's share of a provider is its `Attempt` events over all `Attempt` events in the
//! bucket (by event time); a bucket without attempts stays blank. Faults are marked by dashed
//! edges on top of the areas (a translucent shade would be invisible under opaque areas) and
//! labelled above each panel.
//!
//! **Bounded for large tables.** With more than [`MAX_PROVIDERS`] providers (whose colours would
//! repeat anyway, and whose legend would outgrow the chart), the [`MAX_PROVIDERS`] - 1 providers
//! with the most attempts over every policy (ties in the scenario's order) keep their band and
//! colour, and the others share one light grey band, "N other providers". Every provider's share
//! of every bucket is in `timeseries.csv`.

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
/// Most providers stacked each in its own band.
pub const MAX_PROVIDERS: usize = 12;

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

/// The providers drawn in their own band, by index in `scenario.providers` in that order: all
/// of them up to [`MAX_PROVIDERS`], otherwise the `MAX_PROVIDERS - 1` with the most attempts
/// over every policy; `None` when all are.
fn shown_providers(summary: &RunSummary) -> Option<Vec<usize>> {
    let n = summary.scenario.providers.len();
    if n <= MAX_PROVIDERS {
        return None;
    }
    let mut attempts = vec![0u64; n];
    for policy in &summary.policies {
        let index = provider_colours(summary, policy);
        for row in &policy.result.timeseries {
            for (p, a) in row.provider_attempts.iter().enumerate() {
                if let Some(&i) = index.get(p).filter(|&&i| i < n) {
                    attempts[i] += a;
                }
            }
        }
    }
    let mut order: Vec<usize> = (0..n).collect();
    // Stable: equal counts keep the scenario's order.
    order.sort_by(|&a, &b| attempts[b].cmp(&attempts[a]));
    order.truncate(MAX_PROVIDERS - 1);
    order.sort_unstable();
    Some(order)
}

/// A panel's stacked bands: the band of each of the policy's providers, and each band's colour.
struct Stack {
    /// `band_of[p]`: the band of the policy's provider `p` (`PolicyRun::providers` order).
    band_of: Vec<usize>,
    colours: Vec<palette::Rgb>,
}

fn stack(summary: &RunSummary, policy: &PolicySummary, shown: Option<&[usize]>) -> Stack {
    let index = provider_colours(summary, policy);
    match shown {
        None => Stack {
            band_of: (0..index.len()).collect(),
            colours: index.into_iter().map(palette::provider).collect(),
        },
        Some(shown) => Stack {
            band_of: index
                .iter()
                .map(|i| shown.iter().position(|s| s == i).unwrap_or(shown.len()))
                .collect(),
            colours: shown
                .iter()
                .map(|&i| palette::provider(i))
                .chain([palette::OTHER])
                .collect(),
        },
    }
}

/// Contiguous stretches of buckets with attempts: for each, the time edges and, per bucket
/// group, each band's share in %.
struct Stretch {
    /// (start, end) in axis units, per group.
    spans: Vec<(f64, f64)>,
    /// shares[group][band], %.
    shares: Vec<Vec<f64>>,
}

fn stretches(
    summary: &RunSummary,
    policy: &PolicySummary,
    stack: &Stack,
    axis: &TimeAxis,
) -> Vec<Stretch> {
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
        let mut per = vec![0u64; stack.colours.len()];
        for r in rows {
            for (&band, n) in stack.band_of.iter().zip(&r.provider_attempts) {
                per[band] += n;
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

        let stack = stack(s, policy, shown_providers(s).as_deref());
        let parts = stretches(s, policy, &stack, axis);
        for stretch in &parts {
            for (band, &colour) in stack.colours.iter().enumerate() {
                let outline = band_polygon(stretch, band);
                chart.draw_series(std::iter::once(Polygon::new(
                    outline,
                    common::rgb(colour).filled(),
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
    let item = |i: usize| {
        LegendItem::new(
            common::short(&s.scenario.providers[i], MAX_NAME),
            common::rgb(palette::provider(i)),
            Swatch::Fill,
        )
    };
    let mut items: Vec<LegendItem> = match shown_providers(s) {
        None => (0..s.scenario.providers.len()).map(item).collect(),
        Some(shown) => {
            let others = s.scenario.providers.len() - shown.len();
            let mut items: Vec<LegendItem> = shown.into_iter().map(item).collect();
            items.push(LegendItem::new(
                format!("{others} other providers (timeseries.csv)"),
                common::rgb(palette::OTHER),
                Swatch::Fill,
            ));
            items
        }
    };
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
    fn a_thousand_providers_keep_the_chart_and_its_legend_bounded() {
        let s = fixture::large(1000, 1000);
        let few = fixture::large(1000, MAX_PROVIDERS);
        let png = |s: &RunSummary| {
            let png = render(s, Format::Png).unwrap();
            let reader = png::Decoder::new(png.as_slice()).read_info().unwrap();
            (reader.info().width, reader.info().height)
        };
        // The legend of 11 providers and "others" is no taller than that of 12 providers.
        assert!(png(&s).1 <= png(&few).1, "{:?} vs {:?}", png(&s), png(&few));
        let svg = String::from_utf8(render(&s, Format::Svg).unwrap()).unwrap();
        assert!(svg.contains("989 other providers (timeseries.csv)"));
        let grey = format!("fill=\"{}\"", palette::OTHER.hex().to_uppercase());
        assert!(svg.contains(&grey), "the others' band");
        assert!(svg.len() < 1 << 20, "{} bytes", svg.len());
        // Up to MAX_PROVIDERS, every provider has its band and legend entry.
        assert_eq!(shown_providers(&few), None);
        let few_svg = String::from_utf8(render(&few, Format::Svg).unwrap()).unwrap();
        assert!(!few_svg.contains("other providers"));
    }

    #[test]
    fn the_providers_shown_are_those_with_the_most_attempts() {
        let mut s = fixture::large(40, MAX_PROVIDERS + 3);
        // Provider 14 (the last) carries the most, provider 0 nothing.
        for p in &mut s.policies {
            for b in &mut p.result.timeseries {
                b.provider_attempts[MAX_PROVIDERS + 2] = 1_000_000;
                b.provider_attempts[0] = 0;
            }
        }
        let shown = shown_providers(&s).unwrap();
        assert_eq!(shown.len(), MAX_PROVIDERS - 1);
        assert!(shown.contains(&(MAX_PROVIDERS + 2)) && !shown.contains(&0));
        assert!(shown.windows(2).all(|w| w[0] < w[1]), "scenario order");
        // Each band's share stacks to 100 % with the others' band.
        let axis = TimeAxis::new(s.scenario.duration);
        let stack = stack(&s, &s.policies[0], Some(&shown));
        assert_eq!(stack.colours.len(), MAX_PROVIDERS);
        assert_eq!(
            stack.band_of[0],
            MAX_PROVIDERS - 1,
            "provider 0 is among the others"
        );
        for stretch in stretches(&s, &s.policies[0], &stack, &axis) {
            for shares in &stretch.shares {
                assert_eq!(shares.len(), MAX_PROVIDERS);
                assert!((shares.iter().sum::<f64>() - 100.0).abs() < 1e-9);
            }
        }
    }

    #[test]
    fn stacked_shares_fill_the_panel_where_there_is_traffic() {
        let s = fixture::summary();
        let axis = TimeAxis::new(s.scenario.duration);
        for p in &s.policies {
            let stack = stack(s, p, None);
            for stretch in stretches(s, p, &stack, &axis) {
                for shares in &stretch.shares {
                    let total: f64 = shares.iter().sum();
                    assert!((total - 100.0).abs() < 1e-9, "{total}");
                }
            }
        }
    }
}
