//! Route state timeline: one panel per policy, one row per route, its state over time as
//! coloured spans (healthy green, probing amber, ejected red), and a purple strip under the row
//! while the route's (country, number type) group is in panic mode. Fault windows are shaded
//! behind the rows and labelled above each panel.
//!
//! Flapping must be visible even when an ejection lasts seconds in a day-long run: every span
//! that is not healthy is drawn at least [`MIN_SPAN_PX`] pixels wide, and each row's ejection
//! and flap counts are written at its right end.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::common::{
    self, Area, DESC_SIZE, LABEL_SIZE, LegendItem, MARGIN, MAX_NAME, SMALL_SIZE, Swatch, TimeAxis,
    X_LABEL_AREA, XMap,
};
use super::{ChartError, Format, Painter, render_with};
use crate::metrics::{PolicySummary, RouteStats, RunSummary, TimelineState};
use crate::report::palette;

pub(super) const TITLE: &str = "Route states over time";

const WIDTH: u32 = 1000;
const ROW: u32 = 28;
/// Narrowest drawn span of a non-healthy state or of panic, pixels.
const MIN_SPAN_PX: f64 = 2.0;

pub fn render(summary: &RunSummary, format: Format) -> Result<Vec<u8>, ChartError> {
    render_with(&Paint(summary), format)
}

/// The route's states as `(start, end, state)` in seconds over `[0, end)`; routes start healthy.
fn spans(route: &RouteStats, end: f64) -> Vec<(f64, f64, TimelineState)> {
    let mut out = Vec::with_capacity(route.timeline.len() + 1);
    let (mut at, mut state) = (0.0, TimelineState::Healthy);
    for t in &route.timeline {
        if t.at > at {
            out.push((at, t.at.min(end), state));
        }
        at = t.at.max(at);
        state = t.state;
        if at >= end {
            break;
        }
    }
    if at < end {
        out.push((at, end, state));
    }
    out.retain(|&(a, b, _)| b > a);
    out
}

/// The widest of `texts` in `size`, pixels.
fn widest(texts: impl Iterator<Item = String>, size: f64) -> Result<u32, ChartError> {
    let mut widest = 0;
    for t in texts {
        widest = widest.max(common::measure(&t, size)?.0);
    }
    Ok(widest as u32)
}

fn counts(r: &RouteStats) -> String {
    let plural = |n: u64, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    format!(
        "{}, {}",
        plural(r.ejections, "ejection", "ejections"),
        plural(r.flaps, "flap", "flaps")
    )
}

struct Paint<'a>(&'a RunSummary);

/// What every panel shares: the same left and right edges and the same band labels.
struct Geometry {
    /// Width of the row labels' area.
    labels: u32,
    /// Width right of the plot for the counts.
    counts: u32,
    bands: Vec<common::Band>,
    layout: common::BandLayout,
    legend: Vec<LegendItem>,
}

impl Paint<'_> {
    fn geometry(&self) -> Result<Geometry, ChartError> {
        let s = self.0;
        let routes = || s.policies.iter().flat_map(|p| &p.result.routes);
        let labels = 20
            + widest(
                routes().map(|r| common::short(&r.label, MAX_NAME)),
                LABEL_SIZE,
            )?
            .max(60);
        let counts = 16 + widest(routes().map(counts), SMALL_SIZE)?.max(60);
        let axis = TimeAxis::new(s.scenario.duration);
        let map = XMap {
            left: (MARGIN + labels) as i32,
            right: (WIDTH - MARGIN - counts) as i32,
            lo: 0.0,
            hi: axis.end,
        };
        let bands = common::bands(s);
        let layout = common::layout_bands(&bands, &axis, &map)?;
        let mut legend = vec![
            LegendItem::new("healthy", common::rgb(palette::HEALTHY), Swatch::Fill),
            LegendItem::new("probing", common::rgb(palette::PROBING), Swatch::Fill),
            LegendItem::new("ejected", common::rgb(palette::EJECTED), Swatch::Fill),
            LegendItem::new(
                "panic (route's country and number type; strip under the row)",
                common::rgb(palette::PANIC),
                Swatch::Fill,
            ),
        ];
        if !s.scenario.faults.is_empty() {
            legend.push(LegendItem::new(
                "fault window",
                common::rgb(palette::FAULT),
                Swatch::Band,
            ));
        }
        Ok(Geometry {
            labels,
            counts,
            bands,
            layout,
            legend,
        })
    }

    fn panel_height(g: &Geometry, routes: usize) -> u32 {
        common::CAPTION + g.layout.height() + 4 + ROW * routes.max(1) as u32 + X_LABEL_AREA + MARGIN
    }

    fn panel<DB: DrawingBackend>(
        &self,
        area: &Area<DB>,
        policy: &PolicySummary,
        axis: &TimeAxis,
        g: &Geometry,
    ) -> Result<(), ChartError> {
        let s = self.0;
        let routes = &policy.result.routes;
        let n = routes.len().max(1);
        common::caption(
            area,
            &format!("policy {}", common::short(&policy.name, MAX_NAME * 2)),
            (MARGIN + g.labels) as i32,
        )?;

        let top = common::CAPTION + g.layout.height() + 4;
        let centers: Vec<f64> = (0..n).map(|i| i as f64 + 0.5).collect();
        let labels: Vec<String> = routes
            .iter()
            .rev()
            .map(|r| common::short(&r.label, MAX_NAME))
            .collect();
        let label_of = |v: &f64| {
            labels
                .get(v.floor().max(0.0) as usize)
                .cloned()
                .unwrap_or_default()
        };
        let mut chart = ChartBuilder::on(area)
            .margin(MARGIN)
            .margin_top(top)
            .margin_right(MARGIN + g.counts)
            .x_label_area_size(X_LABEL_AREA)
            .y_label_area_size(g.labels)
            .build_cartesian_2d(
                axis.range(),
                common::FixedTicks {
                    range: 0.0..n as f64,
                    ticks: centers,
                },
            )?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .x_desc(axis.desc())
            .x_label_formatter(&|v| common::tick(*v))
            .y_label_formatter(&label_of)
            .label_style(common::text(LABEL_SIZE))
            .axis_desc_style(common::text(DESC_SIZE))
            .max_light_lines(0)
            .bold_line_style(RGBColor(220, 220, 220))
            .draw()?;
        let map = XMap::of(&chart, area, axis.range());
        let rows = common::plot_rows(&chart, area);
        common::shade_bands(area, &g.bands, axis, &map, rows.clone())?;
        common::draw_band_labels(area, &g.bands, &g.layout, top as i32)?;

        let px_per_unit =
            f64::from((map.right - map.left).max(1)) / axis.end.max(f64::MIN_POSITIVE);
        let min_w = MIN_SPAN_PX / px_per_unit;
        let widen = |a: f64, b: f64| (a, b.max(a + min_w).min(axis.end.max(a + min_w)));
        let end = s.scenario.duration;
        let (_, by) = area.get_base_pixel();
        for (i, r) in routes.iter().enumerate() {
            // Row i from the top.
            let c = (n - 1 - i) as f64 + 0.5;
            let state_band = (c - 0.12, c + 0.36);
            let panic_band = (c - 0.36, c - 0.16);
            let mut rects = Vec::new();
            // Healthy underneath the whole row, other states on top.
            rects.push(Rectangle::new(
                [(0.0, state_band.0), (axis.x(end), state_band.1)],
                common::rgb(palette::HEALTHY).filled(),
            ));
            for (a, b, state) in spans(r, end) {
                if state == TimelineState::Healthy {
                    continue;
                }
                let (a, b) = widen(axis.x(a), axis.x(b));
                rects.push(Rectangle::new(
                    [(a, state_band.0), (b, state_band.1)],
                    common::rgb(palette::state(state)).filled(),
                ));
            }
            for p in policy
                .result
                .panic
                .iter()
                .filter(|p| p.country == r.country && p.number_type == r.number_type)
            {
                if p.start >= end {
                    continue;
                }
                let (a, b) = widen(axis.x(p.start), axis.x(p.end.min(end)));
                rects.push(Rectangle::new(
                    [(a, panic_band.0), (b, panic_band.1)],
                    common::rgb(palette::PANIC).filled(),
                ));
            }
            chart.draw_series(rects)?;
            let (_, y) = chart.backend_coord(&(0.0, c));
            area.draw_text(
                &counts(r),
                &common::muted(SMALL_SIZE).pos(Pos::new(HPos::Left, VPos::Center)),
                (map.right + 10, y - by),
            )?;
        }
        if routes.is_empty() {
            let mid = ((map.left + map.right) / 2, (rows.start + rows.end) / 2);
            common::note(area, "no routes", mid)?;
        }
        Ok(())
    }
}

impl Painter for Paint<'_> {
    fn size(&self) -> Result<(u32, u32), ChartError> {
        let s = self.0;
        let g = self.geometry()?;
        let legend = common::legend_height(WIDTH, &g.legend)?;
        let panels: u32 = if s.policies.is_empty() {
            Self::panel_height(&g, 0)
        } else {
            s.policies
                .iter()
                .map(|p| Self::panel_height(&g, p.result.routes.len()))
                .sum()
        };
        Ok((WIDTH, common::HEADER + legend + panels + 8))
    }

    fn paint<DB: DrawingBackend>(&self, root: &Area<DB>) -> Result<(), ChartError> {
        let s = self.0;
        let g = self.geometry()?;
        let area = common::header(root, TITLE, s)?;
        let area = common::legend(&area, &g.legend)?;
        let axis = TimeAxis::new(s.scenario.duration);
        if s.policies.is_empty() {
            let (w, h) = area.dim_in_pixel();
            return common::note(&area, "no policies", (w as i32 / 2, h as i32 / 2));
        }
        let mut rest = area;
        for policy in &s.policies {
            let height = Self::panel_height(&g, policy.result.routes.len());
            let (panel, below) = rest.split_vertically(height);
            self.panel(&panel, policy, &axis, &g)?;
            rest = below;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::StateTransition;

    fn route(timeline: &[(f64, TimelineState)]) -> RouteStats {
        let mut r = crate::report::chart::fixture::summary().policies[0]
            .result
            .routes[0]
            .clone();
        r.timeline = timeline
            .iter()
            .map(|&(at, state)| StateTransition { at, state })
            .collect();
        r
    }

    fn fills(svg: &str, colour: palette::Rgb) -> usize {
        let hex = format!("fill=\"#{:02X}{:02X}{:02X}\"", colour.0, colour.1, colour.2);
        svg.matches(&hex).count()
    }

    #[test]
    fn panic_is_drawn_under_every_route_of_its_group_only() {
        let mut s = crate::report::chart::fixture::summary().clone();
        let gb = s.policies[1]
            .result
            .routes
            .iter()
            .find(|r| r.country.as_str() == "GB")
            .unwrap()
            .clone();
        for p in &mut s.policies {
            p.result.panic.clear();
        }
        let before = String::from_utf8(render(&s, Format::Svg).unwrap()).unwrap();
        s.policies[1]
            .result
            .panic
            .push(crate::metrics::PanicInterval {
                country: gb.country,
                number_type: gb.number_type,
                start: 100.0,
                end: 100.5,
                open: false,
            });
        let after = String::from_utf8(render(&s, Format::Svg).unwrap()).unwrap();
        let gb_routes = s.policies[1]
            .result
            .routes
            .iter()
            .filter(|r| r.country == gb.country && r.number_type == gb.number_type)
            .count();
        // The legend swatch, then one strip per route of the group (half a second is still
        // drawn: at least two pixels wide).
        assert_eq!(fills(&before, palette::PANIC), 1);
        assert_eq!(fills(&after, palette::PANIC), 1 + gb_routes);
    }

    #[test]
    fn short_ejections_stay_visible() {
        use TimelineState::*;
        let mut s = crate::report::chart::fixture::summary().clone();
        for p in &mut s.policies {
            for r in &mut p.result.routes {
                r.timeline.clear();
            }
        }
        let base = String::from_utf8(render(&s, Format::Svg).unwrap()).unwrap();
        // A flapping route: three ejections of a tenth of a second each.
        s.policies[0].result.routes[0].timeline = [10.0, 20.0, 30.0]
            .iter()
            .flat_map(|&t| {
                [
                    StateTransition {
                        at: t,
                        state: Ejected,
                    },
                    StateTransition {
                        at: t + 0.1,
                        state: Healthy,
                    },
                ]
            })
            .collect();
        let svg = String::from_utf8(render(&s, Format::Svg).unwrap()).unwrap();
        assert_eq!(
            fills(&svg, palette::EJECTED) - fills(&base, palette::EJECTED),
            3
        );
        let widths: Vec<f64> = svg
            .lines()
            .filter(|l| l.contains("fill=\"#D7191C\"") && l.starts_with("<rect"))
            .filter_map(|l| {
                let x0 = attr(l, "x")?;
                let w = attr(l, "width")?;
                (x0 > 0.0).then_some(w)
            })
            .collect();
        assert!(widths.iter().all(|&w| w >= 2.0), "{widths:?}");
    }

    fn attr(line: &str, name: &str) -> Option<f64> {
        let key = format!(" {name}=\"");
        let start = line.find(&key)? + key.len();
        line[start..].split('"').next()?.parse().ok()
    }

    #[test]
    fn spans_cover_the_run_from_healthy() {
        use TimelineState::*;
        let r = route(&[
            (10.0, Ejected),
            (40.0, Probing),
            (50.0, Healthy),
            (55.0, Ejected),
        ]);
        assert_eq!(
            spans(&r, 100.0),
            vec![
                (0.0, 10.0, Healthy),
                (10.0, 40.0, Ejected),
                (40.0, 50.0, Probing),
                (50.0, 55.0, Healthy),
                (55.0, 100.0, Ejected),
            ]
        );
        assert_eq!(spans(&route(&[]), 5.0), vec![(0.0, 5.0, Healthy)]);
        // Transitions after the end are cut off.
        assert_eq!(
            spans(&route(&[(120.0, Ejected)]), 100.0),
            vec![(0.0, 100.0, Healthy)]
        );
    }
}
