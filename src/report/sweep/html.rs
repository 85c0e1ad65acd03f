//! A sweep's `index.html`: one self-contained page, like the run report's
//! ([`crate::report::html`]) and under its rules: a maud template (every interpolated value is
//! escaped; `PreEscaped` only for the constant style sheets and the charts' SVG, which
//! `report::html::inline_svg` lets in), no script, no network, the run report's style sheet and
//! number formats, the same bytes for the same summary.
//!
//! # What is on the page, in order
//!
//! The setup (scenario, base policy, design, parameters with their values and base values,
//! seeds and confidence, objectives and constraints); the recommendation, with its means and
//! intervals for every charted metric, whether it is on the whole frontier and the
//! `failover-lab run` command for it ([`run_command`]), or, when no point meets every
//! constraint, which constraint binds and how close each came; the frontier and which of its
//! members the intervals cannot tell apart; the charts with their captions and links to their
//! PNG and SVG files; every point up to [`MAX_ROWS`]; the data files; provenance.
//!
//! # Bounds
//!
//! A sweep has up to 10,000 points and its frontier can hold all of them, so the frontier and
//! point tables list at most [`MAX_ROWS`] rows each (the points table: the frontier first, then
//! the others by index) and say how many more `sweep.csv` has. A member's indistinguishable
//! partners are listed up to [`MAX_PARTNERS`], a parameter's values up to [`MAX_LEVELS`], the
//! seeds up to [`MAX_SEEDS`]; `sweep.json` has them all.

use std::collections::BTreeMap;

use maud::{DOCTYPE, Markup, PreEscaped, html};

use super::chart::{self, SweepChart};
use crate::experiment::sweep::{SweepPoint, SweepSummary};
use crate::metrics::compare::Better;
use crate::metrics::pareto::{Distinguishability, Recommendation};
use crate::report::chart::Format;
use crate::report::html::{self as report_html, CSS, inline_svg, section, table};
use crate::report::replicated::{self, Style};

/// Most rows of the frontier table and of the points table.
pub const MAX_ROWS: usize = 200;
/// Most indistinguishable partners listed for one frontier member.
pub const MAX_PARTNERS: usize = 10;
/// Most values listed for one parameter.
pub const MAX_LEVELS: usize = 24;
/// Most seeds listed.
pub const MAX_SEEDS: usize = 12;

/// What a sweep's page adds to the run report's style sheet. No `<` can close the element.
const SWEEP_CSS: &str = r#"
pre.command { background: #f5f5f5; border: 1px solid var(--rule); padding: 10px 12px;
  white-space: pre-wrap; word-break: break-all; margin: 6px 0 4px; }
p.headline { font-size: 1.08em; }
p.warning { color: #8e1214; font-weight: 600; font-size: 1.05em; }
span.tag { display: inline-block; font-size: 0.78em; padding: 0 5px; margin-left: 5px;
  border-radius: 3px; background: #eee; color: #444; font-weight: 600; }
span.tag.rec { background: var(--best); color: var(--bestink); }
tr.rec td { background: #f3faf0; }
figure p.links { font-size: 0.9em; margin: 4px 0 0; color: var(--muted); }
ul.plain { margin: 4px 0; padding-left: 20px; }
thead th { overflow-wrap: anywhere; }
thead th code { white-space: normal; }
"#;

/// An argument as a POSIX shell reads it back unchanged: as it is when every character is one
/// of `[A-Za-z0-9_./=:,+-]`, else in single quotes with each `'` written `'\''`.
pub fn shell_quote(arg: &str) -> String {
    let plain = !arg.is_empty()
        && arg
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_./=:,+-".contains(c));
    if plain {
        arg.to_owned()
    } else {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
}

/// The command that runs the recommended point on the sweep's seeds, every argument
/// shell-quoted: `failover-lab run <scenario file> --policy <base> --set PATH=VALUE ... --seeds
/// <N>`. `None` when nothing is recommended. A scenario file whose name starts with `-` gets
/// `./` in front, so it cannot be read as an option.
pub fn run_command(s: &SweepSummary) -> Option<String> {
    let p = s.recommended()?;
    let file = if s.scenario.file.starts_with('-') {
        format!("./{}", s.scenario.file)
    } else {
        s.scenario.file.clone()
    };
    let mut args = vec![
        "failover-lab".to_owned(),
        "run".to_owned(),
        file,
        "--policy".to_owned(),
        s.base_policy.clone(),
    ];
    for flag in s.set_flags(p.index) {
        args.push("--set".to_owned());
        args.push(flag);
    }
    args.push("--seeds".to_owned());
    args.push(s.seeds.len().to_string());
    Some(
        args.iter()
            .map(|a| shell_quote(a))
            .collect::<Vec<_>>()
            .join(" "),
    )
}

/// The page for `s`, linking the data files `files` (relative paths, written by the caller next
/// to it) and each chart's PNG and SVG (`<stem>.png`, `<stem>.svg`).
pub fn render(s: &SweepSummary, files: &[&str]) -> String {
    let charts = chart::charts_for(s);
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (s.scenario.name) " · failover-lab sweep" }
                style { (PreEscaped(CSS)) (PreEscaped(SWEEP_CSS)) }
            }
            body {
                header {
                    h1 { "Sweep of scenario " (s.scenario.name) }
                    p.meta {
                        "base policy " (s.base_policy) " · " (super::design(s)) " · "
                        (super::seeds(s.seeds.len()))
                        @if s.seeds.len() >= 2 {
                            " · " (replicated::confidence(s.confidence, Style::Html)) " intervals"
                        }
                    }
                    nav {
                        a href="#setup" { "Setup" }
                        a href="#recommendation" { "Recommendation" }
                        a href="#frontier" { "Frontier" }
                        a href="#charts" { "Charts" }
                        a href="#points" { "Points" }
                        a href="#data" { "Data files" }
                        a href="#provenance" { "Provenance" }
                    }
                }
                main {
                    (setup(s))
                    (recommendation(s))
                    (frontier(s))
                    (charts_section(s, &charts))
                    (points(s))
                    (data_files(files))
                    (provenance(s))
                }
            }
        }
    };
    let mut page = page.into_string();
    page.push('\n');
    page
}

fn direction(b: Better) -> &'static str {
    match b {
        Better::Higher => "higher is better",
        Better::Lower => "lower is better",
    }
}

/// `#3`, the way every table names a point.
fn point_ref(i: usize) -> String {
    format!("#{i}")
}

fn setup(s: &SweepSummary) -> Markup {
    let row = |k: &str, v: Markup| html! { tr { th.name { (k) } td.name.wrap { (v) } } };
    let seeds: Vec<String> = s.seeds.iter().take(MAX_SEEDS).map(u64::to_string).collect();
    let more_seeds = s.seeds.len().saturating_sub(MAX_SEEDS);
    let params_head = html! {
        th.name { "Parameter" } th.name { "Kind" } th.name { "Values" } th.name { "Base value" }
    };
    let params = html! {
        @for (i, p) in s.parameters.iter().enumerate() {
            tr {
                td.name { code { (p.path) } }
                td.name { (kind(p.kind)) }
                td.name.wrap {
                    @if super::drawn_between(s, i) && p.levels.len() == 2 {
                        "anywhere from " (p.levels[0]) " to " (p.levels[1])
                        @if p.log { " (log spacing)" }
                    } @else {
                        (levels(p))
                        @if p.log { " (log spacing)" }
                    }
                }
                td.name {
                    @match &p.base {
                        Some(b) => (b.to_string()),
                        None => span.muted { "none (not set)" },
                    }
                }
            }
        }
    };
    let content = html! {
        div.scroll { table { tbody {
            (row("Scenario", html! { (s.scenario.name) " (" code { (s.scenario.file) } ")" }))
            (row("Base policy", html! { (s.base_policy) }))
            (row("Design", html! { (super::design(s)) }))
            (row("Seeds", html! {
                (s.seeds.len()) ": " (seeds.join(", "))
                @if more_seeds > 0 { ", … " (more_seeds) " more in " code { "sweep.json" } }
                " — every point ran on the same seeds"
            }))
            (row("Confidence", html! {
                @if s.seeds.len() >= 2 {
                    (replicated::confidence(s.confidence, Style::Html))
                    " (Student's t intervals over the seeds)"
                } @else {
                    "one seed: no intervals"
                }
            }))
            (row("Objectives", html! {
                @for (i, o) in s.objectives.iter().enumerate() {
                    @if i > 0 { ", " }
                    code { (o.metric) } " (" (direction(o.better)) ")"
                }
            }))
            (row("Constraints", html! {
                @if s.constraints.is_empty() { "none" }
                @for (i, c) in s.constraints.iter().enumerate() {
                    @if i > 0 { ", " }
                    code { (c.text) }
                }
            }))
        } } }
        h3 { "Parameters" }
        (table(params_head, params))
        p.note {
            "Each point sets the parameters' values in the base policy; every other field keeps \
             the base policy's value. Objectives: the frontier is over them, and the \
             recommendation is the best feasible point on the first, ties broken by the next. \
             Constraints hold on the mean over the seeds."
        }
    };
    section("setup", "Setup", content)
}

fn kind(k: crate::experiment::sweep::FieldKind) -> &'static str {
    use crate::experiment::sweep::FieldKind::*;
    match k {
        Number => "number",
        Integer => "whole number",
        Duration => "duration",
        DurationOrOff => "duration or off",
        Name => "name",
        Bool => "boolean",
    }
}

/// A parameter's values, at most [`MAX_LEVELS`], then how many more.
fn levels(p: &crate::experiment::sweep::Parameter) -> String {
    let shown: Vec<String> = p
        .levels
        .iter()
        .take(MAX_LEVELS)
        .map(ToString::to_string)
        .collect();
    let more = p.levels.len().saturating_sub(MAX_LEVELS);
    if more > 0 {
        format!("{}, … and {more} more", shown.join(", "))
    } else {
        shown.join(", ")
    }
}

fn recommendation(s: &SweepSummary) -> Markup {
    let content = match &s.recommendation {
        Recommendation::Point { point, on_frontier } => match s.points.get(*point) {
            Some(p) => recommended(s, p, *on_frontier),
            None => html! { p.warning { "The recommended point is missing from the summary." } },
        },
        Recommendation::NoFeasible { binding, misses } => {
            let n = s.points.len();
            html! {
                p.warning { "No point meets every constraint: nothing is recommended." }
                @if s.constraints.is_empty() {
                    p {
                        "No point could be ranked: none has a mean for every objective (a \
                         metric is undefined when what it measures never happened, e.g. no \
                         success, so no cost per success)."
                    }
                } @else {
                    @if let Some(c) = binding.and_then(|b| s.constraints.get(b)) {
                        @let count = misses.iter().find(|m| Some(m.constraint) == *binding)
                            .map_or(0, |m| m.violated_by);
                        p.headline {
                            "The binding constraint is " code { (c.text) } ": " (count) " of "
                            (super::points(n)) " violate it, the most of any constraint."
                        }
                    }
                    (table(
                        html! {
                            th.name { "Constraint" } th { "Points violating it" }
                            th.name { "Closest point" } th { "Its value" }
                        },
                        html! {
                            @for m in misses {
                                @if let Some(c) = s.constraints.get(m.constraint) {
                                    tr {
                                        td.name {
                                            code { (c.text) }
                                            @if Some(m.constraint) == *binding {
                                                span.tag { "binding" }
                                            }
                                        }
                                        td { (m.violated_by) " of " (n) }
                                        @match m.closest {
                                            Some((i, v)) => {
                                                td.name {
                                                    (point_ref(i)) " "
                                                    (s.points.get(i).map_or("", |p| p.label.as_str()))
                                                }
                                                td { (super::value(&c.key, v, Style::Html)) }
                                            }
                                            None if m.violated_by == 0 => {
                                                td.name { "–" }
                                                td { "every point meets it" }
                                            }
                                            None => {
                                                td.name { "–" }
                                                td { "no point has a value" }
                                            }
                                        }
                                    }
                                }
                            }
                        },
                    ))
                    p.note {
                        "Closest: of the points that violate the constraint, the one whose mean \
                         came nearest its limit. A point without the metric's value violates \
                         it. Widen the swept ranges toward the closest points, or relax the \
                         binding constraint."
                    }
                }
            }
        }
    };
    section("recommendation", "Recommendation", content)
}

fn recommended(s: &SweepSummary, p: &SweepPoint, on_frontier: bool) -> Markup {
    let first = s.objectives.first();
    let head = html! {
        th.name { "Metric" } th { "Mean ± half-width" } th { "Interval" } th.name { "Role" }
    };
    let rows = html! {
        @for m in s.charted_metrics() {
            @let e = p.estimate(&m.key);
            tr {
                td.name { code { (m.metric) } }
                td { (super::mean_pm(&m.key, p, Style::Html)) }
                td { (e.map_or_else(|| "–".to_owned(), |i| super::interval(&m.key, i, Style::Html))) }
                td.name {
                    @if s.objectives.iter().any(|o| o.key == m.key) {
                        "objective (" (direction(m.better)) ")"
                    }
                    @for c in s.constraints.iter().filter(|c| c.key == m.key) {
                        " constraint " code { (c.text) } ": met"
                    }
                }
            }
        }
    };
    html! {
        p.headline {
            "Recommended: point " strong { (point_ref(p.index)) } ", " code { (p.label) } "."
        }
        p {
            "The best feasible point"
            @if let Some(o) = first { " on " code { (o.metric) } }
            " (ties broken by the next objectives, then by point order)"
            @if !s.constraints.is_empty() { ", meeting every constraint on the mean" }
            ". "
            @if on_frontier {
                "It is on the Pareto frontier of all points: no point is at least as good on \
                 every objective and better on one."
            } @else {
                "It is off the frontier of all points: a point that breaks a constraint on a \
                 metric that is no objective dominates it. It is on the frontier of the \
                 feasible points."
            }
        }
        (table(head, rows))
        @if s.seeds.len() < 2 {
            p.note { "One seed: no intervals. Run the sweep with --seeds N (N ≥ 2) to see them." }
        }
        @if let Some(cmd) = run_command(s) {
            h3 { "Run it" }
            p { "The recommended point as a run of its own, on the sweep's seeds:" }
            pre.command { code { (cmd) } }
        }
    }
}

/// Each frontier member's indistinguishable partners, by member.
fn partners(s: &SweepSummary) -> Option<BTreeMap<usize, Vec<usize>>> {
    match &s.distinguishability {
        Distinguishability::Unknown => None,
        Distinguishability::Known { indistinguishable } => {
            let mut out: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
            for &(a, b) in indistinguishable {
                out.entry(a).or_default().push(b);
                out.entry(b).or_default().push(a);
            }
            Some(out)
        }
    }
}

fn frontier(s: &SweepSummary) -> Markup {
    let members: Vec<&SweepPoint> = s.points.iter().filter(|p| p.frontier).collect();
    let rec = s.recommended().map(|p| p.index);
    let partners = partners(s);
    let level = replicated::confidence(s.confidence, Style::Html);
    let head = html! {
        th.name { "Point" }
        @for p in &s.parameters { th.name { code { (p.path) } } }
        @for o in &s.objectives { th { (o.metric) } }
        @if partners.is_some() { th.name { "Indistinguishable from" } }
    };
    let rows = html! {
        @for p in members.iter().take(MAX_ROWS) {
            tr class=[(Some(p.index) == rec).then_some("rec")] {
                td.name {
                    (point_ref(p.index))
                    @if Some(p.index) == rec { span.tag.rec { "recommended" } }
                    @if !p.feasible { span.tag { "infeasible" } }
                }
                @for v in &p.values { td.name { (v.to_string()) } }
                @for o in &s.objectives { td { (super::mean_pm(&o.key, p, Style::Html)) } }
                @if let Some(partners) = &partners {
                    td.name.wrap {
                        @match partners.get(&p.index) {
                            None => span.muted { "none" },
                            Some(list) => {
                                (list.iter().take(MAX_PARTNERS).map(|i| point_ref(*i))
                                    .collect::<Vec<_>>().join(", "))
                                @if list.len() > MAX_PARTNERS {
                                    ", … and " (list.len() - MAX_PARTNERS) " more"
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    let pairs = match &s.distinguishability {
        Distinguishability::Known { indistinguishable } => indistinguishable.len(),
        Distinguishability::Unknown => 0,
    };
    let content = html! {
        p {
            (members.len()) " of " (super::points(s.points.len()))
            " are on the Pareto frontier over the objectives: no other point is at least as good \
             on every objective and better on one (compared on the means). "
            @if s.seeds.len() >= 2 {
                "Values are the mean over the seeds ± the half-width of its " (level) " interval."
            } @else {
                "Values are the one seed's."
            }
        }
        @if members.is_empty() {
            p.note { "No point is on the frontier: none has a mean for every objective." }
        } @else {
            (table(head, rows))
            @if members.len() > MAX_ROWS {
                p.note {
                    "The first " (MAX_ROWS) " members by point index; " (members.len() - MAX_ROWS)
                    " more are on the frontier (" code { "frontier" } " column of "
                    code { "sweep.csv" } ")."
                }
            }
        }
        @match &s.distinguishability {
            Distinguishability::Unknown => {
                p.note {
                    "Which members differ cannot be told: with fewer than two seeds there are no \
                     intervals, so any difference between two members could be the seed's \
                     luck. Run the sweep with --seeds N (N ≥ 2) to tell them apart."
                }
            }
            Distinguishability::Known { .. } if members.len() >= 2 => {
                p.note {
                    @if pairs == 0 {
                        "Every pair of members is distinguishable: for each pair, the "
                        (level) " intervals are disjoint on at least one objective."
                    } @else {
                        (pairs) " pair" @if pairs != 1 { "s" } " of members "
                        @if pairs == 1 { "is" } @else { "are" }
                        " indistinguishable: their " (level) " intervals overlap on every \
                         objective, so with these seeds their differences could all be noise; \
                         more seeds narrow the intervals. Overlap is the conservative reading: \
                         two overlapping intervals can still differ, never the other way round."
                    }
                }
            }
            Distinguishability::Known { .. } => {}
        }
    };
    section("frontier", "Pareto frontier", content)
}

fn charts_section(s: &SweepSummary, charts: &[SweepChart]) -> Markup {
    let content = html! {
        @for c in charts { (figure(s, c)) }
    };
    section("charts", "Charts", content)
}

/// One chart inlined as SVG, its caption and links to its files, or why it could not be drawn.
fn figure(s: &SweepSummary, c: &SweepChart) -> Markup {
    let svg = c
        .render(s, Format::Svg)
        .map_err(|e| e.to_string())
        .and_then(|svg| inline_svg::checked(&svg).map_err(|e| e.to_string()));
    html! {
        figure id={ "chart-" (c.stem) } aria-label=(c.title) {
            figcaption { (c.caption) }
            @match svg {
                Ok(svg) => (svg),
                Err(e) => p.error { "This chart could not be drawn: " (e) },
            }
            p.links {
                a href=(c.file_name(Format::Png)) { "PNG" } " · "
                a href=(c.file_name(Format::Svg)) { "SVG" }
            }
        }
    }
}

/// The points the table lists: the frontier first, then the others, each by index, at most
/// [`MAX_ROWS`].
fn listed(s: &SweepSummary) -> Vec<&SweepPoint> {
    s.points
        .iter()
        .filter(|p| p.frontier)
        .chain(s.points.iter().filter(|p| !p.frontier))
        .take(MAX_ROWS)
        .collect()
}

fn points(s: &SweepSummary) -> Markup {
    let metrics = s.charted_metrics();
    let rec = s.recommended().map(|p| p.index);
    let shown = listed(s);
    let head = html! {
        th.name { "Point" }
        @for p in &s.parameters { th.name { code { (p.path) } } }
        @for m in &metrics { th { (m.metric) } }
    };
    let rows = html! {
        @for p in &shown {
            tr class=[(Some(p.index) == rec).then_some("rec")] {
                td.name {
                    (point_ref(p.index))
                    @if Some(p.index) == rec { span.tag.rec { "recommended" } }
                    @if p.frontier { span.tag { "frontier" } }
                    @if !p.feasible { span.tag { "infeasible" } }
                    @if !p.ranked { span.tag { "unranked" } }
                }
                @for v in &p.values { td.name { (v.to_string()) } }
                @for m in &metrics { td { (super::mean_pm(&m.key, p, Style::Html)) } }
            }
        }
    };
    let more = s.points.len() - shown.len();
    let content = html! {
        (table(head, rows))
        p.note {
            "The frontier first, then the other points, each by index. Infeasible: breaks a \
             constraint. Unranked: lacks the mean of an objective, so it is on no frontier."
            @if more > 0 {
                " The first " (MAX_ROWS) " points are listed; " (more) " more are in "
                code { "sweep.csv" } ", which has every point."
            }
        }
    };
    section("points", "Points", content)
}

/// What a data file of a sweep holds, by name.
fn describe(file: &str) -> &'static str {
    let base = file.rsplit('/').next().unwrap_or(file);
    match base {
        "sweep.json" => {
            "the versioned sweep summary: every point's values and estimates, the frontier, the \
             recommendation"
        }
        "sweep.csv" => {
            "one row per point: parameter values, flags, every metric's mean and interval"
        }
        _ if base.ends_with(".svg") || base.ends_with(".png") => "chart",
        _ => "",
    }
}

fn data_files(files: &[&str]) -> Markup {
    report_html::data_files_with(files, describe)
}

fn provenance(s: &SweepSummary) -> Markup {
    let row = |k: &str, v: Markup| html! { tr { th.name { (k) } td.name { (v) } } };
    let content = html! {
        div.scroll { table { tbody {
            (row("Tool", html! { "failover-lab " (s.tool_version) }))
            (row("Scenario", html! { (s.scenario.name) }))
            (row("Scenario file", html! { code { (s.scenario.file) } }))
            (row("Scenario hash (FNV-1a 64)", html! { code { (s.scenario.hash) } }))
            (row("Sweep format", html! { "version " (s.format_version) }))
        } } }
        p.note {
            "The same scenario file (hash), base policy, flags, seeds and tool version reproduce \
             these results exactly, whatever the number of threads."
        }
    };
    section("provenance", "Provenance", content)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::sweep::fixture;

    const FILES: [&str; 2] = ["sweep.json", "sweep.csv"];

    #[test]
    fn every_shape_renders_a_self_contained_deterministic_page() {
        for (name, s) in fixture::all() {
            let page = render(&s, &FILES);
            assert_eq!(page, render(&s, &FILES), "{name}");
            assert!(page.starts_with("<!DOCTYPE html>"), "{name}");
            assert!(page.trim_end().ends_with("</html>"), "{name}");
            for banned in ["<script", "<link", "src=\"http", "href=\"http", "url("] {
                assert!(!page.contains(banned), "{name}: {banned}");
            }
            assert!(
                !page.contains("class=\"error\""),
                "{name}: a chart was refused"
            );
            let charts = chart::charts_for(&s);
            assert_eq!(page.matches("<svg").count(), charts.len(), "{name}");
            for c in &charts {
                assert!(page.contains(&format!("id=\"chart-{}\"", c.stem)), "{name}");
                assert!(page.contains(&format!("<a href=\"{}.png\">PNG</a>", c.stem)));
                assert!(page.contains(&maud::html! { (c.caption) }.into_string()));
            }
            for f in FILES {
                assert!(page.contains(&format!("<a href=\"{f}\">")), "{name}: {f}");
            }
            assert!(page.contains(&s.scenario.hash) && page.contains(&s.tool_version));
        }
    }

    #[test]
    fn the_setup_names_parameters_values_bases_seeds_objectives_and_constraints() {
        let s = fixture::grid_3d();
        let page = render(&s, &FILES);
        let setup =
            &page[page.find("id=\"setup\"").unwrap()..page.find("id=\"recommendation\"").unwrap()];
        for needle in [
            "<code>trip.failure_rate</code>",
            "0.1, 0.3, 0.5",
            "10s, 30s",
            "0.05, 0.1, 0.2",
            "full grid of 18 points",
            "5: 7, 1001, 1002, 1003, 1004",
            "95 %",
            "<code>success_rate</code> (higher is better)",
            "<code>flaps</code> (lower is better)",
            "<code>success_rate &gt;= 99.6%</code>",
            "provider-outage (<code>scenarios/provider-outage.toml</code>)",
        ] {
            assert!(setup.contains(needle), "no {needle:?} in {setup}");
        }
        // Base values: 0.3, 30s, 0.1.
        assert!(setup.contains("<td class=\"name\">30s</td>"));
        // A Latin hypercube over ranges: drawn anywhere between the ends.
        let page = render(&fixture::lhs(), &FILES);
        assert!(page.contains("anywhere from 0.1 to 0.5"));
        assert!(page.contains("anywhere from 5s to 2m (log spacing)"));
        assert!(page.contains("Latin hypercube of 24 points (sample seed 11)"));
        assert!(page.contains("priority, score"));
    }

    #[test]
    fn the_recommendation_shows_its_means_intervals_and_run_command() {
        let s = fixture::grid_3d();
        let p = s.recommended().unwrap();
        let page = render(&s, &FILES);
        let rec = &page
            [page.find("id=\"recommendation\"").unwrap()..page.find("id=\"frontier\"").unwrap()];
        assert!(rec.contains(&format!("point <strong>#{}</strong>", p.index)));
        assert!(rec.contains(&p.label));
        for m in s.charted_metrics() {
            assert!(rec.contains(&super::super::mean_pm(&m.key, p, Style::Html)));
            let i = p.estimate(&m.key).unwrap();
            assert!(rec.contains(&super::super::interval(&m.key, i, Style::Html)));
        }
        assert!(rec.contains("on the Pareto frontier of all points"));
        let cmd = run_command(&s).unwrap();
        assert!(rec.contains(&format!("<pre class=\"command\"><code>{cmd}</code></pre>")));
        assert!(rec.contains("constraint <code>flaps &lt;= 10</code>: met"));
    }

    #[test]
    fn no_feasible_point_says_so_names_the_binding_constraint_and_the_closest_points() {
        let s = fixture::no_feasible();
        let Recommendation::NoFeasible { binding, misses } = &s.recommendation else {
            panic!("{:?}", s.recommendation)
        };
        let page = render(&s, &FILES);
        let rec = &page
            [page.find("id=\"recommendation\"").unwrap()..page.find("id=\"frontier\"").unwrap()];
        assert!(rec.contains("No point meets every constraint"));
        let c = &s.constraints[binding.unwrap()];
        assert!(rec.contains(&format!(
            "The binding constraint is <code>{}</code>",
            c.text.replace('>', "&gt;")
        )));
        for m in misses {
            let (i, v) = m.closest.unwrap();
            let key = &s.constraints[m.constraint].key;
            assert!(rec.contains(&format!("<td>{} of 18</td>", m.violated_by)));
            assert!(rec.contains(&format!("#{i} {}", s.points[i].label)));
            assert!(rec.contains(&super::super::value(key, v, Style::Html)));
        }
        assert!(rec.contains("<span class=\"tag\">binding</span>"));
        assert!(!rec.contains("Run it"));
        assert!(run_command(&s).is_none());
        // One seed: nothing can be told apart, and the page says why.
        assert!(page.contains("with fewer than two seeds there are no intervals"));
    }

    #[test]
    fn the_frontier_lists_members_and_which_cannot_be_told_apart() {
        let s = fixture::grid_3d();
        let page = render(&s, &FILES);
        let f = &page[page.find("id=\"frontier\"").unwrap()..page.find("id=\"charts\"").unwrap()];
        let members = s.points.iter().filter(|p| p.frontier).count();
        assert!(f.contains(&format!(
            "{members} of 18 points are on the Pareto frontier"
        )));
        assert_eq!(f.matches("<tr").count(), 1 + members);
        let Distinguishability::Known { indistinguishable } = &s.distinguishability else {
            panic!("five seeds have intervals")
        };
        assert!(
            !indistinguishable.is_empty(),
            "the fixture has overlapping members"
        );
        assert!(f.contains("Indistinguishable from"));
        assert!(f.contains("intervals overlap on every objective"));
        let (a, b) = indistinguishable[0];
        assert!(f.contains(&format!("#{b}")) && f.contains(&format!("#{a}")));
    }

    #[test]
    fn large_sweeps_are_bounded_on_the_page() {
        let plan = crate::experiment::sweep::grid(vec![
            fixture::vary("trip.failure_rate=0.01..0.99:50"),
            fixture::vary("ejection.base=1s..100s:50"),
        ])
        .unwrap();
        let s = fixture::build(&plan, 2, &[]);
        let page = render(&s, &FILES);
        let points = &page[page.find("id=\"points\"").unwrap()..page.find("id=\"data\"").unwrap()];
        assert_eq!(points.matches("<tr").count(), 1 + MAX_ROWS);
        assert!(points.contains(&format!(
            "{} more are in <code>sweep.csv</code>",
            2500 - MAX_ROWS
        )));
        // The frontier first.
        let first = s.points.iter().find(|p| p.frontier).unwrap().index;
        let row = points.find("<tbody>").unwrap();
        assert!(
            points[row..].starts_with("<tbody><tr"),
            "{}",
            &points[row..row + 80]
        );
        assert!(points[row..].contains(&format!("#{first}")));
        let levels =
            &page[page.find("id=\"setup\"").unwrap()..page.find("id=\"recommendation\"").unwrap()];
        assert!(levels.contains(&format!("and {} more", 50 - MAX_LEVELS)));
        assert!(page.len() < 6 << 20, "{} bytes", page.len());
    }

    #[test]
    fn a_hostile_scenario_renders_only_text() {
        let mut s = fixture::grid_3d();
        s.scenario.name = "<script>alert(1)</script>".into();
        s.scenario.file = "x\"><img src=x onerror=alert(2)>.toml".into();
        s.base_policy = "<b>bold</b>".into();
        s.points[0].label = "</td><script>".into();
        s.objectives[3].metric = "faults.<i>f</i>.detection_delay".into();
        let page = render(&s, &["sweep.json", "x\" onclick=\"alert(3)"]);
        for raw in ["<script", "<img", "<b>", "<i>", "\" onclick=\""] {
            assert!(!page.contains(raw), "{raw} reached the page as markup");
        }
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert_eq!(page.matches("</style>").count(), 1);
        assert_eq!(page.matches("</title>").count(), 1);
        assert!(!page.contains("class=\"error\""));
    }

    #[test]
    fn the_style_sheet_cannot_end_its_element() {
        assert!(!SWEEP_CSS.contains('<'));
    }

    #[test]
    fn run_command_quotes_what_a_shell_would_split_or_expand() {
        let mut s = fixture::grid_3d();
        s.scenario.file = "my scenarios/it's.toml".into();
        s.base_policy = "sensible".into();
        let p = s.recommended().unwrap().index;
        let flags = s.set_flags(p);
        let cmd = run_command(&s).unwrap();
        assert_eq!(
            cmd,
            format!(
                "failover-lab run 'my scenarios/it'\\''s.toml' --policy sensible --set {} --set {} \
                 --set {} --seeds 5",
                flags[0], flags[1], flags[2]
            )
        );
        for (arg, quoted) in [
            ("plain-name_1.toml", "plain-name_1.toml"),
            ("trip.failure_rate=0.3", "trip.failure_rate=0.3"),
            ("a b", "'a b'"),
            ("$HOME", "'$HOME'"),
            ("it's", r"'it'\''s'"),
            ("", "''"),
            ("*", "'*'"),
            ("x;rm -rf y", "'x;rm -rf y'"),
            ("naïve", "'naïve'"),
        ] {
            assert_eq!(shell_quote(arg), quoted, "{arg}");
        }
        // A file named like an option cannot be read as one.
        s.scenario.file = "-h.toml".into();
        assert!(
            run_command(&s)
                .unwrap()
                .starts_with("failover-lab run ./-h.toml ")
        );
    }
}
