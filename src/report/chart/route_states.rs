//! Route state timeline: one panel per policy, one row per route, its state over time as
//! coloured spans (healthy green, probing amber, ejected red), and a purple strip under the row
//! while the route's (country, number type) group is in panic mode. Fault windows are shaded
//! behind the rows and labelled above each panel.
//!
//! Flapping must be visible even when an ejection lasts seconds in a day-long run: every span
//! that is not healthy is drawn at least [`MIN_SPAN_PX`] pixels wide, and each row's ejection
//! and flap counts are written at its right end.
//!
//! **Bounded for large tables.** A row is [`ROW`] pixels, so a panel of every route of a
//! 1,000-route table would be 28,000 pixels high. A policy with more than [`MAX_ROWS`] routes
//! gets a summarised panel of at most [`MAX_ROWS`] rows: its [`WORST`] worst routes (longest out
//! of service, then most flaps, then most ejections, then table order), one to a row, worst at
//! the top; then the others, one row per (country, number type) group when they fall in at most
//! `MAX_ROWS - WORST` groups, otherwise one row for all of them. Such a row shows the worst
//! state any of its routes is in at each moment (ejected, then probing), the panic of its
//! groups, and the sum of their ejections and flaps. Every route's states are in
//! `route_states.csv` ([`crate::report::csv_export::route_states_csv`]).

use std::collections::BTreeMap;

use failover_router::{Country, NumberType};
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
/// Height of one row, pixels.
pub const ROW: u32 = 28;
/// Narrowest drawn span of a non-healthy state or of panic, pixels.
const MIN_SPAN_PX: f64 = 2.0;
/// Most rows of a panel: a policy with more routes gets a summarised panel.
pub const MAX_ROWS: usize = 40;
/// Routes drawn one to a row in a summarised panel: the worst.
pub const WORST: usize = 30;

pub fn render(summary: &RunSummary, format: Format) -> Result<Vec<u8>, ChartError> {
    render_with(&Paint::new(summary), format)
}

/// The route's states as `(start, end, state)` in seconds over `[0, end)`; routes start healthy.
pub fn spans(route: &RouteStats, end: f64) -> Vec<(f64, f64, TimelineState)> {
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

/// The worst state any of `routes` is in over `[0, end)`, as spans: ejected if any is ejected,
/// else probing if any is probing, else healthy.
fn worst_state(routes: &[&RouteStats], end: f64) -> Vec<(f64, f64, TimelineState)> {
    // (time, 0 for ejected or 1 for probing, +1 when a route enters it, -1 when it leaves).
    let mut events: Vec<(f64, usize, i64)> = Vec::new();
    for r in routes {
        for (a, b, state) in spans(r, end) {
            let k = match state {
                TimelineState::Healthy => continue,
                TimelineState::Ejected => 0,
                TimelineState::Probing => 1,
            };
            events.extend([(a, k, 1), (b, k, -1)]);
        }
    }
    events.sort_by(|x, y| x.0.total_cmp(&y.0));
    let state = |n: &[i64; 2]| {
        if n[0] > 0 {
            TimelineState::Ejected
        } else if n[1] > 0 {
            TimelineState::Probing
        } else {
            TimelineState::Healthy
        }
    };
    let mut out: Vec<(f64, f64, TimelineState)> = Vec::new();
    let mut push = |a: f64, b: f64, st: TimelineState| match out.last_mut() {
        Some(last) if last.2 == st && last.1 == a => last.1 = b,
        _ => out.push((a, b, st)),
    };
    let (mut at, mut inside) = (0.0, [0i64; 2]);
    for (t, k, d) in events {
        if t > at {
            push(at, t, state(&inside));
            at = t;
        }
        inside[k] += d;
    }
    if at < end {
        push(at, end, state(&inside));
    }
    out
}

/// One row of a panel: one route, or several summarised.
struct Row {
    label: String,
    /// `(start, end, state)` in seconds over the run; for several routes their worst state.
    spans: Vec<(f64, f64, TimelineState)>,
    /// The (country, number type) groups whose panic is drawn under the row.
    groups: Vec<(Country, NumberType)>,
    ejections: u64,
    flaps: u64,
}

impl Row {
    fn route(r: &RouteStats, end: f64) -> Row {
        Row {
            label: common::short(&r.label, MAX_NAME),
            spans: spans(r, end),
            groups: vec![(r.country, r.number_type)],
            ejections: r.ejections,
            flaps: r.flaps,
        }
    }

    fn summary(label: String, routes: &[&RouteStats], end: f64) -> Row {
        let mut groups: Vec<(Country, NumberType)> =
            routes.iter().map(|r| (r.country, r.number_type)).collect();
        groups.sort();
        groups.dedup();
        Row {
            label,
            spans: worst_state(routes, end),
            groups,
            ejections: routes.iter().map(|r| r.ejections).sum(),
            flaps: routes.iter().map(|r| r.flaps).sum(),
        }
    }

    fn counts(&self) -> String {
        let plural =
            |n: u64, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        format!(
            "{}, {}",
            plural(self.ejections, "ejection", "ejections"),
            plural(self.flaps, "flap", "flaps")
        )
    }
}

/// `routes` worst first: longest out of service, then most flaps, then most ejections, then
/// table order.
fn worst_first(routes: &[RouteStats]) -> Vec<&RouteStats> {
    let mut order: Vec<&RouteStats> = routes.iter().collect();
    // A stable sort: equal routes keep their table order.
    order.sort_by(|a, b| {
        b.time_ejected
            .total_cmp(&a.time_ejected)
            .then(b.flaps.cmp(&a.flaps))
            .then(b.ejections.cmp(&a.ejections))
    });
    order
}

/// A policy's rows: one per route up to [`MAX_ROWS`] routes, otherwise summarised (see the
/// module docs).
fn rows(policy: &PolicySummary, end: f64) -> Vec<Row> {
    let routes = &policy.result.routes;
    if routes.len() <= MAX_ROWS {
        return routes.iter().map(|r| Row::route(r, end)).collect();
    }
    let order = worst_first(routes);
    let (worst, others) = order.split_at(WORST);
    let mut rows: Vec<Row> = worst.iter().map(|r| Row::route(r, end)).collect();
    let mut groups: BTreeMap<(Country, NumberType), Vec<&RouteStats>> = BTreeMap::new();
    for r in others {
        groups
            .entry((r.country, r.number_type))
            .or_default()
            .push(r);
    }
    if groups.len() <= MAX_ROWS - WORST {
        for ((country, number_type), routes) in &groups {
            let label = format!("{country}/{number_type}: {} more", routes.len());
            rows.push(Row::summary(label, routes, end));
        }
    } else {
        let label = format!("{} other routes", others.len());
        rows.push(Row::summary(label, others, end));
    }
    rows
}

/// The widest of `texts` in `size`, pixels.
fn widest<'a>(texts: impl Iterator<Item = &'a str>, size: f64) -> Result<u32, ChartError> {
    let mut widest = 0;
    for t in texts {
        widest = widest.max(common::measure(t, size)?.0);
    }
    Ok(widest as u32)
}

/// The summary's panels: each policy's rows, computed once for measuring and drawing.
struct Paint<'a> {
    summary: &'a RunSummary,
    rows: Vec<Vec<Row>>,
}

/// What every panel shares: the same left and right edges and the same band labels.
struct Geometry {
    /// Width of the row labels' area.
    labels: u32,
    /// Width right of the plot for the counts.
    counts: u32,
    bands: Vec<common::Band>,
    layout: common::BandLayout,
    legend: Vec<LegendItem>,
    /// Lines saying how a summarised panel reads (none when every route has its row).
    notes: Vec<String>,
}

impl<'a> Paint<'a> {
    fn new(summary: &'a RunSummary) -> Self {
        let end = summary.scenario.duration;
        let rows = summary.policies.iter().map(|p| rows(p, end)).collect();
        Paint { summary, rows }
    }

    fn geometry(&self) -> Result<Geometry, ChartError> {
        let s = self.summary;
        let all = || self.rows.iter().flatten();
        let labels = 20 + widest(all().map(|r| r.label.as_str()), LABEL_SIZE)?.max(60);
        let counts: Vec<String> = all().map(Row::counts).collect();
        let counts = 16 + widest(counts.iter().map(String::as_str), SMALL_SIZE)?.max(60);
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
        let summarised = s.policies.iter().any(|p| p.result.routes.len() > MAX_ROWS);
        let notes = if summarised {
            vec![
                format!(
                    "Over {MAX_ROWS} routes: the {WORST} longest out of service (then most flaps, \
                     ejections), worst first; then the others"
                ),
                "by country and number type, or all in one row, each in the worst state any of \
                 them is in."
                    .to_owned(),
                "Every route's states over time: route_states.csv.".to_owned(),
            ]
        } else {
            Vec::new()
        };
        Ok(Geometry {
            labels,
            counts,
            bands,
            layout,
            legend,
            notes,
        })
    }

    fn panel_height(g: &Geometry, rows: usize) -> u32 {
        common::CAPTION + g.layout.height() + 4 + ROW * rows.max(1) as u32 + X_LABEL_AREA + MARGIN
    }

    fn panel<DB: DrawingBackend>(
        &self,
        area: &Area<DB>,
        policy: &PolicySummary,
        rows: &[Row],
        axis: &TimeAxis,
        g: &Geometry,
    ) -> Result<(), ChartError> {
        let n = rows.len().max(1);
        let routes = policy.result.routes.len();
        let caption = if routes > MAX_ROWS {
            format!(
                "policy {}: {routes} routes, the {WORST} worst",
                common::short(&policy.name, MAX_NAME)
            )
        } else {
            format!("policy {}", common::short(&policy.name, MAX_NAME * 2))
        };
        common::caption(area, &caption, (MARGIN + g.labels) as i32)?;

        let top = common::CAPTION + g.layout.height() + 4;
        let centers: Vec<f64> = (0..n).map(|i| i as f64 + 0.5).collect();
        let labels: Vec<&str> = rows.iter().rev().map(|r| r.label.as_str()).collect();
        let label_of = |v: &f64| {
            labels
                .get(v.floor().max(0.0) as usize)
                .map_or_else(String::new, |l| (*l).to_owned())
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
        let plot_rows = common::plot_rows(&chart, area);
        common::shade_bands(area, &g.bands, axis, &map, plot_rows.clone())?;
        common::draw_band_labels(area, &g.bands, &g.layout, top as i32)?;

        let px_per_unit =
            f64::from((map.right - map.left).max(1)) / axis.end.max(f64::MIN_POSITIVE);
        let min_w = MIN_SPAN_PX / px_per_unit;
        let widen = |a: f64, b: f64| (a, b.max(a + min_w).min(axis.end.max(a + min_w)));
        let end = self.summary.scenario.duration;
        let (_, by) = area.get_base_pixel();
        for (i, r) in rows.iter().enumerate() {
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
            for &(a, b, state) in &r.spans {
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
                .filter(|p| r.groups.contains(&(p.country, p.number_type)))
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
                &r.counts(),
                &common::muted(SMALL_SIZE).pos(Pos::new(HPos::Left, VPos::Center)),
                (map.right + 10, y - by),
            )?;
        }
        if rows.is_empty() {
            let mid = (
                (map.left + map.right) / 2,
                (plot_rows.start + plot_rows.end) / 2,
            );
            common::note(area, "no routes", mid)?;
        }
        Ok(())
    }
}

impl Painter for Paint<'_> {
    fn size(&self) -> Result<(u32, u32), ChartError> {
        let s = self.summary;
        let g = self.geometry()?;
        let legend = common::legend_height(WIDTH, &g.legend)?;
        let panels: u32 = if s.policies.is_empty() {
            Self::panel_height(&g, 0)
        } else {
            self.rows
                .iter()
                .map(|rows| Self::panel_height(&g, rows.len()))
                .sum()
        };
        let notes = common::notes_height(&g.notes);
        Ok((WIDTH, common::HEADER + legend + notes + panels + 8))
    }

    fn paint<DB: DrawingBackend>(&self, root: &Area<DB>) -> Result<(), ChartError> {
        let s = self.summary;
        let g = self.geometry()?;
        let area = common::header(root, TITLE, s)?;
        let area = common::legend(&area, &g.legend)?;
        let area = common::notes(&area, &g.notes)?;
        let axis = TimeAxis::new(s.scenario.duration);
        if s.policies.is_empty() {
            let (w, h) = area.dim_in_pixel();
            return common::note(&area, "no policies", (w as i32 / 2, h as i32 / 2));
        }
        let mut rest = area;
        for (policy, rows) in s.policies.iter().zip(&self.rows) {
            let height = Self::panel_height(&g, rows.len());
            let (panel, below) = rest.split_vertically(height);
            self.panel(&panel, policy, rows, &axis, &g)?;
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

    /// (width, height) of a PNG, read with the png crate.
    fn png_size(png: &[u8]) -> (u32, u32) {
        let reader = png::Decoder::new(png).read_info().unwrap();
        let info = reader.info();
        (info.width, info.height)
    }

    #[test]
    fn a_thousand_routes_draw_a_bounded_chart() {
        // Unbounded, two panels of 1,000 rows of 28 pixels: 56,000 pixels high.
        let s = crate::report::chart::fixture::large(1000, 10);
        let png = render(&s, Format::Png).unwrap();
        let (w, h) = png_size(&png);
        assert_eq!(w, WIDTH);
        let per_panel = ROW * MAX_ROWS as u32 + 200;
        assert!(
            h <= 300 + s.policies.len() as u32 * per_panel,
            "{w} x {h} pixels"
        );
        assert!(png.len() < 1 << 20, "{} bytes", png.len());
        let svg = String::from_utf8(render(&s, Format::Svg).unwrap()).unwrap();
        assert!(svg.contains("970 other routes"), "the row of the others");
        assert!(svg.contains("route_states.csv"), "where every route is");
        assert!(svg.contains("1000 routes, the 30 worst"));
        assert!(
            render(&s, Format::Png).unwrap() == png,
            "the same bytes every time"
        );
    }

    #[test]
    fn a_summarised_panel_shows_the_worst_routes_first_then_the_others_by_group() {
        let mut s = crate::report::chart::fixture::large(44, 4);
        let policy = &mut s.policies[0];
        // Route i is out of service 44 - i seconds: the worst 30 are the first 30.
        for (i, r) in policy.result.routes.iter_mut().enumerate() {
            r.time_ejected = (44 - i) as f64;
        }
        let rows = rows(policy, s.scenario.duration);
        assert_eq!(rows.len(), WORST + 4, "30 routes, then 4 groups");
        let routes = &policy.result.routes;
        for (row, route) in rows.iter().zip(&routes[..WORST]) {
            assert_eq!(row.label, route.label);
        }
        // Routes 30..44 are in the groups of 4 routes 28..32, 32..36, 36..40, 40..44.
        let labels: Vec<&str> = rows[WORST..].iter().map(|r| r.label.as_str()).collect();
        let group = |i: usize| format!("{}/{}", routes[i].country, routes[i].number_type);
        assert_eq!(
            labels,
            [
                format!("{}: 2 more", group(30)),
                format!("{}: 4 more", group(32)),
                format!("{}: 4 more", group(36)),
                format!("{}: 4 more", group(40)),
            ]
        );
        let last = &rows[WORST + 3];
        assert_eq!(
            last.ejections,
            routes[40..].iter().map(|r| r.ejections).sum::<u64>()
        );
        assert_eq!(
            last.groups,
            vec![(routes[40].country, routes[40].number_type)]
        );
        // Up to MAX_ROWS routes, one row each in table order.
        s.policies[0].result.routes.truncate(MAX_ROWS);
        let rows = super::rows(&s.policies[0], s.scenario.duration);
        assert_eq!(rows.len(), MAX_ROWS);
        assert_eq!(rows[0].label, s.policies[0].result.routes[0].label);
    }

    #[test]
    fn the_worst_routes_are_longest_out_then_most_flaps_then_most_ejections() {
        let mut routes: Vec<RouteStats> = (0..5).map(|_| route(&[])).collect();
        let set = |r: &mut RouteStats, out: f64, flaps: u64, ejections: u64, label: &str| {
            (r.time_ejected, r.flaps, r.ejections, r.label) = (out, flaps, ejections, label.into());
        };
        set(&mut routes[0], 1.0, 0, 0, "a");
        set(&mut routes[1], 5.0, 0, 0, "b");
        set(&mut routes[2], 1.0, 2, 0, "c");
        set(&mut routes[3], 1.0, 2, 3, "d");
        set(&mut routes[4], 1.0, 0, 0, "e");
        let order: Vec<&str> = worst_first(&routes)
            .iter()
            .map(|r| r.label.as_str())
            .collect();
        assert_eq!(order, ["b", "d", "c", "a", "e"]);
    }

    #[test]
    fn a_summary_row_shows_the_worst_state_any_of_its_routes_is_in() {
        use TimelineState::*;
        let a = route(&[
            (10.0, Probing),
            (20.0, Healthy),
            (50.0, Ejected),
            (60.0, Healthy),
        ]);
        let b = route(&[
            (15.0, Ejected),
            (30.0, Probing),
            (40.0, Healthy),
            (55.0, Probing),
        ]);
        assert_eq!(
            worst_state(&[&a, &b], 100.0),
            vec![
                (0.0, 10.0, Healthy),
                (10.0, 15.0, Probing),
                (15.0, 30.0, Ejected),
                (30.0, 40.0, Probing),
                (40.0, 50.0, Healthy),
                (50.0, 60.0, Ejected),
                (60.0, 100.0, Probing),
            ]
        );
        assert_eq!(worst_state(&[], 5.0), vec![(0.0, 5.0, Healthy)]);
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
