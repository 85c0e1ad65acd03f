//! The HTML report: ONE self-contained `index.html` per run.
//!
//! Inline CSS, the charts inlined as SVG (from [`super::chart`]), no script, no network: it
//! opens from disk, from a CI artifact, or attached to a mail. Like every exporter it returns
//! the page and writes nothing; the data files it links to are written by the caller, next to
//! it, and named in `files` (relative links).
//!
//! # What is on the page, in order
//!
//! scenario name and description, the fault timeline, the policy comparison (best value per
//! column marked), the impact of each fault per policy, a per-country breakdown, the five
//! charts, links to the data files, and provenance (tool version, scenario hash, seed).
//!
//! A replicated run (`--seeds N`, N > 1: `comparisons` or `replications` not empty) adds, after
//! the policy comparison (which then shows the first seed's run and says so), a "Comparison over
//! seeds" section: the experiment (seeds, confidence, baseline, precision outcome), each
//! policy's means over seeds with their half-widths, the paired differences from the baseline
//! with their intervals and verdicts (verdict cells coloured), the forest plot and the per-seed
//! spread, and how to read an interval and a verdict. (A single policy over several seeds has
//! replications but nothing to compare: the means and the spread only.) Its styles, its link in
//! the navigation and its note are written only then. Every number in it is one `summary.json`
//! carries (`replications`, `comparisons`), only formatted.
//!
//! A load test (`failover-lab load`: `load` present) adds, first on the page and first in the
//! navigation, a "Load test" section (`report/load/html.rs`): the run's facts, where arrivals
//! went and how verifications ended, the latency percentiles, memory and CPU, the three load
//! charts, a link to `load.csv` and how to read the figures. A summary without one gets the page
//! it always got, byte for byte.
//!
//! # Rules
//!
//! - **HTML by construction.** The page is a [maud](https://maud.lambda.xyz) template: every
//!   value interpolated into it, text or attribute, is HTML-escaped unless it is wrapped in
//!   `PreEscaped`, so a scenario's names and description (input, opened in a browser) can only
//!   ever be text, and a new section cannot forget to escape. `PreEscaped` is used for exactly
//!   two things: the page's constant style sheet, and the charts' SVG, which plotters escapes
//!   itself and which [`inline_svg`] checks before it is inlined (only the elements plotters
//!   draws, no event handler or link attribute).
//! - **Numbers look the same everywhere**: percentages with two decimals (`99.12 %`), seconds
//!   with two (`3.40 s`), costs with four (`0.0712`), ratios with three (`1.042`), counts as
//!   integers; a missing value (`null` in the summary: no success, never detected) is `–`.
//! - **Best per column**: the highest success and conversion rates; the lowest value of every
//!   other compared column (TTV, attempts per verification, cost per success, duplicates,
//!   ejections, flaps, callers that gave up; detection and recovery delays and failures in the
//!   fault table). The "caller gave up" column appears only when some policy has any. Values
//!   are compared as displayed, so two policies that print the same number are both marked.
//!   Nothing is marked when only one policy ran.
//! - **Bounded for large tables**: the per-country table shows at most [`MAX_COUNTRIES`]
//!   countries (those with the most attempts) and provenance names at most [`MAX_PROVIDERS`]
//!   providers; each says how many more there are and that `routes.csv` has them all.
//! - **Deterministic**: the same summary gives the same bytes (no timestamps; wall-clock facts
//!   appear only if the summary carries them in `run`).

pub(crate) mod inline_svg;

use std::collections::BTreeMap;

use maud::{DOCTYPE, Markup, PreEscaped, html};

use super::chart::{self, CHARTS, Chart, Format};
use super::load;
use super::palette;
use super::replicated::{self, Style};
use crate::metrics::compare::Verdict;
use crate::metrics::{PolicySummary, RunSummary};

/// The per-country table shows at most this many countries, those with the most attempts.
pub const MAX_COUNTRIES: usize = 40;

/// Provenance names at most this many providers, in the scenario's order.
pub const MAX_PROVIDERS: usize = 40;

/// A share as a percentage with two decimals: `0.99123` -> `99.12 %`.
fn pct(share: f64) -> String {
    format!("{:.2} %", 100.0 * share)
}

/// Seconds with two decimals; `–` for none.
fn secs(v: Option<f64>) -> String {
    v.map_or_else(|| DASH.to_string(), |v| format!("{v:.2} s"))
}

/// A cost with four decimals; `–` for none.
fn cost(v: Option<f64>) -> String {
    v.map_or_else(|| DASH.to_string(), |v| format!("{v:.4}"))
}

fn ratio(v: f64) -> String {
    format!("{v:.3}")
}

const DASH: &str = "–";

/// Which value of a column is best.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Best {
    Higher,
    Lower,
    /// Not compared (e.g. volumes).
    None,
}

/// One table cell: what it shows (text, escaped when rendered) and, for comparison, the number
/// it shows.
struct Cell {
    text: String,
    value: Option<f64>,
}

impl Cell {
    fn new(text: String, value: Option<f64>) -> Self {
        Cell { text, value }
    }
}

/// Which rows hold the best value of a column (compared as displayed: `text` is parsed back).
fn best_rows(cells: &[&Cell], best: Best) -> Vec<bool> {
    let shown: Vec<Option<f64>> = cells
        .iter()
        .map(|c| {
            c.value.and_then(|_| {
                c.text
                    .trim_end_matches(" %")
                    .trim_end_matches(" s")
                    .parse::<f64>()
                    .ok()
            })
        })
        .collect();
    let compared = shown.iter().flatten().count();
    if best == Best::None || cells.len() < 2 || compared == 0 {
        return vec![false; cells.len()];
    }
    let pick = shown.iter().flatten().copied().fold(
        if best == Best::Higher {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        },
        |acc, v| {
            if best == Best::Higher {
                acc.max(v)
            } else {
                acc.min(v)
            }
        },
    );
    shown.iter().map(|v| *v == Some(pick)).collect()
}

/// A colour swatch, then `name`.
fn swatched(colour: palette::Rgb, name: &str) -> Markup {
    html! {
        span.swatch style={ "background:" (colour.hex()) } {}
        (name)
    }
}

/// A colour swatch and the name of policy `i`.
fn policy_name(i: usize, p: &PolicySummary) -> Markup {
    swatched(palette::policy(i), &p.name)
}

/// A section of the page: its id (the navigation's anchor), heading and content.
pub(crate) fn section(id: &str, heading: &str, content: Markup) -> Markup {
    html! { section id=(id) { h2 { (heading) } (content) } }
}

/// A table that scrolls sideways when it is wider than the page: its header cells and rows.
pub(crate) fn table(head: Markup, rows: Markup) -> Markup {
    html! { div.scroll { table { thead { tr { (head) } } tbody { (rows) } } } }
}

/// The page's style sheet: a constant of this file, never data, so it is inlined as it is
/// (escaping would turn its quotes into entities, which a style element does not decode).
pub(crate) const CSS: &str = r#"
:root { --ink: #222; --muted: #666; --rule: #ddd; --best: #e3f4dc; --bestink: #1d5e12; }
* { box-sizing: border-box; }
body { font-family: "DejaVu Sans", "Segoe UI", Helvetica, Arial, sans-serif; color: var(--ink);
  margin: 0 auto; padding: 24px 32px 48px; max-width: 1120px; line-height: 1.45; background: #fff; }
h1 { font-size: 1.7em; margin: 0 0 4px; }
h2 { font-size: 1.25em; margin: 36px 0 10px; padding-bottom: 4px; border-bottom: 2px solid var(--rule); }
h3 { font-size: 1.05em; margin: 24px 0 6px; }
p.description { font-size: 1.05em; margin: 4px 0 8px; }
p.meta, p.note, footer { color: var(--muted); font-size: 0.9em; }
nav { margin: 12px 0 0; font-size: 0.92em; }
nav a { margin-right: 14px; }
a { color: #1f5fa8; }
table { border-collapse: collapse; margin: 6px 0 4px; font-size: 0.92em; }
th, td { padding: 5px 8px; border-bottom: 1px solid var(--rule); text-align: right; white-space: nowrap; }
th { background: #f5f5f5; font-weight: 600; vertical-align: bottom; white-space: normal; }
thead th { max-width: 8.5em; }
div.scroll { overflow-x: auto; }
th.name, td.name { text-align: left; }
td.wrap { white-space: normal; text-align: left; min-width: 8em; }
tbody tr.group td { border-top: 2px solid #bbb; }
td.best { background: var(--best); color: var(--bestink); font-weight: 700; }
.swatch { display: inline-block; width: 11px; height: 11px; margin-right: 6px; border-radius: 2px;
  vertical-align: baseline; }
figure { margin: 18px 0 30px; }
figure svg { width: 100%; height: auto; max-width: 1000px; display: block;
  border: 1px solid var(--rule); }
figcaption { font-weight: 600; margin-bottom: 6px; }
p.error { color: #a00; }
.timeline { width: 100%; max-width: 1000px; height: auto; display: block; }
ul.files li { margin: 2px 0; }
code { font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 0.92em; }
"#;

/// Styles of the comparison over seeds, added only to pages that have one.
const SEEDS_CSS: &str = r#"td.verdict { text-align: left; font-weight: 600; }
td.better { background: #e3f4dc; color: #1d5e12; }
td.worse { background: #fbe1e1; color: #8e1214; }
td.nodiff { background: #f1f1f1; color: #555; }
.muted { color: var(--muted); font-weight: normal; }
div.explain p { max-width: 60em; }
"#;

/// The report page for `summary`, linking the data files `files` (relative paths, written by
/// the caller next to the page).
pub fn render(summary: &RunSummary, files: &[&str]) -> String {
    let s = &summary.scenario;
    // Two or more seeds: only then do the section over seeds, its styles, link and notes appear.
    let replicated = !summary.comparisons.is_empty() || !summary.replications.is_empty();
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (s.name) " · failover-lab report" }
                style {
                    (PreEscaped(CSS))
                    @if replicated { (PreEscaped(SEEDS_CSS)) }
                }
            }
            body {
                header {
                    h1 { "Scenario " (s.name) }
                    @if let Some(d) = &s.description {
                        p.description { (d) }
                    }
                    p.meta {
                        (summary.policies.len()) " policies · duration " (secs(Some(s.duration)))
                        " · warmup " (secs(Some(s.warmup))) " · buckets of " (secs(Some(s.bucket)))
                        " · seed " (summary.seed)
                        @if replicated {
                            " (first of " (replicated::seed_count(summary)) " seeds)"
                        }
                    }
                    nav {
                        @if summary.load.is_some() {
                            a href={ "#" (load::html::ID) } { (load::html::HEADING) }
                        }
                        a href="#faults" { "Faults" }
                        a href="#comparison" { "Policy comparison" }
                        @if replicated {
                            a href="#seeds" { "Comparison over seeds" }
                        }
                        a href="#impact" { "Fault impact" }
                        a href="#countries" { "Countries" }
                        a href="#charts" { "Charts" }
                        a href="#data" { "Data files" }
                        a href="#provenance" { "Provenance" }
                    }
                }
                main {
                    @if let Some(l) = &summary.load {
                        (load::html::load_section(summary, l, files))
                    }
                    (faults(summary))
                    (comparison(summary))
                    @if replicated { (over_seeds(summary)) }
                    (impact(summary))
                    (countries(summary))
                    (charts(summary))
                    (data_files(files))
                    (provenance(summary))
                }
            }
        }
    };
    let mut page = page.into_string();
    page.push('\n');
    page
}

fn faults(summary: &RunSummary) -> Markup {
    let s = &summary.scenario;
    if s.faults.is_empty() {
        let none = html! { p.note { "No faults are injected in this scenario." } };
        return section("faults", "Fault timeline", none);
    }
    let head = html! {
        th.name { "Fault" } th.name { "Kind" } th.name { "Target" }
        th { "Start" } th { "End" } th { "Duration" }
    };
    let rows = html! {
        @for f in &s.faults {
            tr {
                td.name { (f.name) } td.name { (f.kind) } td.name { (f.target) }
                td { (secs(Some(f.start))) } td { (secs(Some(f.end))) }
                td { (secs(Some(f.end - f.start))) }
            }
        }
    };
    let content = html! { (timeline_svg(summary)) (table(head, rows)) };
    section("faults", "Fault timeline", content)
}

/// A coordinate with one decimal.
fn px(v: f64) -> String {
    format!("{v:.1}")
}

/// A small SVG of our own: one row per fault over the run, the warmup shaded, time ticks under
/// the axis. Written with maud like the rest of the page, so its labels are escaped; every SVG
/// element gets a closing tag (inside HTML an SVG element is closed only by `/>` or its tag).
fn timeline_svg(summary: &RunSummary) -> Markup {
    let s = &summary.scenario;
    let (w, left, right, row, top) = (1000.0, 190.0, 24.0, 24.0, 22.0);
    let rows_end = top + row * s.faults.len() as f64;
    let axis_y = rows_end + 4.0;
    let height = axis_y + 22.0;
    let span = s.duration.max(f64::MIN_POSITIVE);
    let x = |t: f64| left + (w - left - right) * (t / span).clamp(0.0, 1.0);
    html! {
        svg.timeline viewBox={ "0 0 " (w) " " (height) } xmlns="http://www.w3.org/2000/svg"
            role="img" aria-label="fault timeline" font-family="sans-serif" font-size="13" {
            @if s.warmup > 0.0 {
                rect x=(px(x(0.0))) y=(top) width=(px(x(s.warmup) - x(0.0)))
                    height=(px(axis_y - top)) fill="#000" fill-opacity="0.06" {}
                text x=(px(x(0.0) + 2.0)) y="15" fill="#666" { "warmup (not measured)" }
            }
            line x1=(px(x(0.0))) y1=(axis_y) x2=(px(x(s.duration))) y2=(axis_y) stroke="#999" {}
            @for i in 0..=4 {
                @let t = s.duration * f64::from(i) / 4.0;
                @let anchor = match i { 0 => "start", 4 => "end", _ => "middle" };
                line x1=(px(x(t))) y1=(top) x2=(px(x(t))) y2=(axis_y + 4.0) stroke="#e4e4e4" {}
                text x=(px(x(t))) y=(axis_y + 18.0) text-anchor=(anchor) fill="#666" {
                    (format!("{t:.0} s"))
                }
            }
            @for (i, f) in s.faults.iter().enumerate() {
                @let y = top + row * i as f64;
                @let (x0, x1) = (x(f.start), x(f.end).max(x(f.start) + 2.0));
                text x=(px(left - 8.0)) y=(px(y + row * 0.62)) text-anchor="end" fill="#222" {
                    (truncate(&f.name, 26))
                }
                rect x=(px(x0)) y=(px(y + 4.0)) width=(px(x1 - x0)) height=(px(row - 8.0))
                    fill="#555" fill-opacity="0.55" rx="2" {
                    title {
                        (f.name) " (" (f.kind) "): " (secs(Some(f.start))) " to "
                        (secs(Some(f.end)))
                    }
                }
            }
        }
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max - 1).collect();
        t.push('…');
        t
    }
}

/// A table body row per policy, its leading cells `names[row]`, with `best` marking per column.
fn table_rows(names: &[Markup], columns: &[(Best, Vec<Cell>)], group_start: bool) -> Markup {
    let marks: Vec<Vec<bool>> = columns
        .iter()
        .map(|(best, cells)| best_rows(&cells.iter().collect::<Vec<_>>(), *best))
        .collect();
    html! {
        @for (row, name) in names.iter().enumerate() {
            tr class=[(group_start && row == 0).then_some("group")] {
                (name)
                @for (c, (_, cells)) in columns.iter().enumerate() {
                    @let best = marks[c][row].then_some("best");
                    td class=[best] title=[best] { (cells[row].text) }
                }
            }
        }
    }
}

fn comparison(summary: &RunSummary) -> Markup {
    let ps = &summary.policies;
    if ps.is_empty() {
        return section(
            "comparison",
            "Policy comparison",
            html! { p.note { "No policy ran." } },
        );
    }
    // Verifications whose caller gave up waiting: a column only when some policy has any.
    let abandoned = ps.iter().any(|p| p.result.metrics.caller_abandoned > 0);
    let col = |best: Best, f: &dyn Fn(&PolicySummary) -> Cell| -> (Best, Vec<Cell>) {
        (best, ps.iter().map(f).collect())
    };
    let count = |n: u64| Cell::new(n.to_string(), Some(n as f64));
    let mut columns = vec![
        col(Best::None, &|p| count(p.result.metrics.verifications)),
        col(Best::Higher, &|p| {
            let v = p.result.metrics.success_rate;
            Cell::new(pct(v), Some(v))
        }),
    ];
    if abandoned {
        columns.push(col(Best::Lower, &|p| {
            count(p.result.metrics.caller_abandoned)
        }));
    }
    columns.extend([
        col(Best::Higher, &|p| {
            let v = p.result.metrics.conversion_rate;
            Cell::new(pct(v), Some(v))
        }),
        col(Best::Lower, &|p| {
            let v = p.result.metrics.time_to_verify.p50;
            Cell::new(secs(v), v)
        }),
        col(Best::Lower, &|p| {
            let v = p.result.metrics.time_to_verify.p99;
            Cell::new(secs(v), v)
        }),
        col(Best::Lower, &|p| {
            let v = p.result.metrics.attempts_per_verification;
            Cell::new(ratio(v), Some(v))
        }),
        col(Best::Lower, &|p| {
            let v = p.result.metrics.cost_per_success;
            Cell::new(cost(v), v)
        }),
        col(Best::Lower, &|p| {
            count(p.result.metrics.duplicate_deliveries)
        }),
        col(Best::Lower, &|p| count(p.result.metrics.ejections)),
        col(Best::Lower, &|p| count(p.result.metrics.flaps)),
    ]);
    let names: Vec<Markup> = ps
        .iter()
        .enumerate()
        .map(|(i, p)| html! { td.name { (policy_name(i, p)) } })
        .collect();
    let replicated = !summary.comparisons.is_empty() || !summary.replications.is_empty();
    let head = html! {
        th.name { "Policy" } th { "Verifications" } th { "Success rate" }
        @if abandoned { th { "Caller gave up" } }
        th { "Conversion" } th { "TTV p50" } th { "TTV p99" }
        th { "Attempts / verification" } th { "Cost per success" } th { "Duplicates" }
        th { "Ejections" } th { "Flaps" }
    };
    let content = html! {
        (table(head, table_rows(&names, &columns, false)))
        @if ps.len() > 1 {
            p.note {
                "Highlighted: the best value of each column (highest success and conversion \
                 rates, lowest of the others). TTV: time to verify, request start to first \
                 delivery, successes only. Cost per success counts every billed attempt, \
                 duplicates included."
            }
        }
        @if abandoned {
            p.note {
                "Caller gave up: verifications whose caller stopped waiting (the scenario's "
                code { "caller_timeout" } ") and dropped them unfinished; they count in \
                 verifications and never as successes."
            }
        }
        @if replicated {
            p.note {
                "This table, the fault impact, the per-country breakdown and the five charts \
                 show the first seed's run (seed " (summary.seed) "). The means over all "
                (replicated::seed_count(summary)) " seeds"
                @if !summary.comparisons.is_empty() {
                    " and each policy's differences from the baseline"
                }
                " are under " a href="#seeds" { "Comparison over seeds" } "."
            }
        }
    };
    section("comparison", "Policy comparison", content)
}

/// The headline metrics of the means table: (column heading, metric).
const MEAN_COLUMNS: [(&str, &str); 9] = [
    ("Success rate", "success_rate"),
    ("Conversion", "conversion_rate"),
    ("TTV p50", "ttv_p50"),
    ("TTV p99", "ttv_p99"),
    ("Attempts / verification", "attempts_per_verification"),
    ("Cost per success", "cost_per_success"),
    ("Duplicates", "duplicate_deliveries"),
    ("Ejections", "ejections"),
    ("Flaps", "flaps"),
];

/// A policy's name with its colour swatch (its index in `summary.policies`, if it is there).
fn named_policy(summary: &RunSummary, name: &str) -> Markup {
    match summary.policies.iter().position(|p| p.name == name) {
        Some(i) => policy_name(i, &summary.policies[i]),
        None => html! { (name) },
    }
}

/// The class of a verdict's cell.
fn verdict_class(v: Verdict) -> &'static str {
    match v {
        Verdict::Better => "better",
        Verdict::Worse => "worse",
        Verdict::NoDetectableDifference => "nodiff",
    }
}

/// The comparison over seeds (only for a summary with replications or comparisons): the
/// experiment, the means, the differences, the forest plot and the spread, and how to read them.
/// With replications but no comparisons (one policy over several seeds) there is no baseline to
/// compare with: the means and the spread only.
fn over_seeds(summary: &RunSummary) -> Markup {
    let n = replicated::seed_count(summary);
    let baseline = replicated::baseline(summary).unwrap_or_default();
    let confidence = replicated::run_confidence(summary);
    let level = confidence.map_or_else(
        || "the stated".to_owned(),
        |c| replicated::confidence(c, Style::Html),
    );

    // The experiment.
    let mut parts = vec![html! { (n) " seeds" }];
    if let Some(e) = &summary.experiment {
        const SHOWN: usize = 12;
        let mut seeds: Vec<String> = e.seeds.iter().take(SHOWN).map(u64::to_string).collect();
        if e.seeds.len() > SHOWN {
            seeds.push(format!("… {} more in summary.json", e.seeds.len() - SHOWN));
        }
        parts[0] = html! { (n) " seeds (" (seeds.join(", ")) ")" };
    }
    if let Some(c) = confidence {
        parts.push(html! { (replicated::confidence(c, Style::Html)) " confidence" });
    }
    parts.push(html! { "baseline " (named_policy(summary, baseline)) });
    match summary
        .experiment
        .as_ref()
        .and_then(|e| replicated::precision(e, Style::Html))
    {
        Some(p) => parts.push(html! { "precision mode: " (p) }),
        None => parts.push(html! { "a fixed number of seeds" }),
    }

    let head = html! {
        th.name { "Policy" }
        @for (heading, _) in MEAN_COLUMNS { th { (heading) } }
    };
    let means = html! {
        @for r in &summary.replications {
            tr {
                td.name {
                    (named_policy(summary, &r.policy))
                    @if r.policy == baseline { " " span.muted { "(baseline)" } }
                }
                @for (_, metric) in MEAN_COLUMNS {
                    td { (replicated::mean_pm(metric, r.estimate(metric), Style::Html)) }
                }
            }
        }
    };
    let content = html! {
        p.meta {
            @for (i, part) in parts.iter().enumerate() {
                @if i > 0 { " · " }
                (part)
            }
        }
        @if !summary.replications.is_empty() {
            h3 { "Each policy over " (n) " seeds: mean ± half-width of its " (level) " interval" }
            (table(head, means))
            p.note {
                "Rates in percent, their half-widths in percentage points; times in seconds; \
                 counts per run. Each policy's own interval: whether two policies differ is \
                 judged on their paired differences below."
            }
        }
        @if summary.comparisons.is_empty() {
            p.note { "No policy was compared with a baseline: it takes two or more policies." }
        } @else {
            (differences(summary, baseline))
        }
        @for c in [chart::FOREST, chart::SPREAD] {
            @if chart::charts_for(summary).contains(&c) { (figure(summary, c)) }
        }
        @if !summary.comparisons.is_empty() { (reading(n, &level)) }
    };
    section("seeds", "Comparison over seeds", content)
}

/// The differences table: one row per headline comparison, grouped by policy.
fn differences(summary: &RunSummary, baseline: &str) -> Markup {
    let rows = replicated::headline_comparisons(summary);
    let head = html! {
        th.name { "Policy" } th.name { "Metric" } th { "Difference" } th { "Interval" }
        th.name { "Verdict" } th { "Variance reduction" } th { "Pairs" }
    };
    let body = html! {
        @for (i, c) in rows.iter().enumerate() {
            @let first = i == 0 || rows[i - 1].policy != c.policy;
            @let (difference, interval) = replicated::difference(c, Style::Html);
            tr class=[(first && i > 0).then_some("group")] {
                @if first {
                    @let span = rows[i..].iter().take_while(|x| x.policy == c.policy).count();
                    td.name rowspan=(span) { (named_policy(summary, &c.policy)) }
                }
                td.name { (c.metric) } td { (difference) } td { (interval) }
                td class={ "verdict " (verdict_class(c.verdict)) } {
                    (swatched(palette::verdict(c.verdict), c.verdict.as_str()))
                }
                td { (replicated::reduction(c.variance_reduction, Style::Html)) }
                td { (c.n) }
            }
        }
        @if rows.is_empty() {
            tr { td.name colspan="7" { "No headline metric was compared." } }
        }
    };
    html! {
        h3 { "Differences from the baseline " (baseline) ": policy − baseline, paired by seed" }
        (table(head, body))
        p.note {
            "Differences of rates in percentage points. Every metric of every policy, headline or \
             not, is compared in " code { "summary.json" } " and " code { "comparison.csv" }
            "; each seed's values are in " code { "replications.csv" } "."
        }
    }
}

/// How to read the section, after its tables and charts.
fn reading(n: usize, level: &str) -> Markup {
    html! {
        div.explain {
            p {
                strong { "Reading an interval." }
                " Every policy ran on the same " (n) " seeds, and a seed fixes the world: the \
                 same arrivals, destinations, users and provider and carrier draws (common random \
                 numbers). A difference is the policy's value minus the baseline's on each seed, \
                 averaged over the seeds; its interval is where the true mean difference lies \
                 with " (level) " confidence, given these seeds (true for this scenario's model of \
                 the world, not a promise about production). Pairing by seed cancels the luck both \
                 policies shared: the variance reduction says how many times wider the interval \
                 would have been had the policies been compared on independent seeds (x3: an \
                 unpaired comparison would have needed roughly nine times as many seeds for the \
                 same width)."
            }
            p {
                strong { "Reading a verdict." }
                " " em { "better" } " or " em { "worse" } " means the whole interval lies on that \
                 side of zero, in the metric's one direction (higher success and conversion rates, \
                 lower everything else). " em { "No detectable difference" } " means the interval \
                 reaches across zero: these seeds cannot tell the two policies apart on that \
                 metric, which is not the same as no difference; a real difference as large as the \
                 interval's ends may still hide in it, and more seeds narrow it. Each interval \
                 misses its true difference with a small probability (one minus the confidence), \
                 so among many metrics an isolated verdict may be luck. In precision mode, where \
                 seeds are added until the intervals are narrow enough, the number of seeds \
                 depends on the results themselves, so the stated confidence is approximate."
            }
        }
    }
}

fn impact(summary: &RunSummary) -> Markup {
    let faults = &summary.scenario.faults;
    if faults.is_empty() || summary.policies.is_empty() {
        let none = html! { p.note { "No faults, or no policy ran." } };
        return section("impact", "Fault impact", none);
    }
    let head = html! {
        th.name { "Fault" } th.name { "Policy" } th { "Detection delay" }
        th.name { "Detected by" } th { "Recovery delay" }
        th { "Verifications during fault" } th { "Failed during fault" }
        th { "Failed share" }
    };
    let rows = html! {
        @for (fi, f) in faults.iter().enumerate() { (fault_rows(summary, fi, f)) }
    };
    let content = html! {
        (table(head, rows))
        p.note {
            "Detection delay: fault start to the first ejection of, or traffic shift away \
             from, an affected route. Recovery delay: fault end to every affected route back \
             in service. Failed during fault: verifications of the fault's countries and \
             number types that started during it and were not delivered. Highlighted: the \
             lowest per fault."
        }
    };
    section("impact", "Fault impact", content)
}

/// The fault table's rows of fault `fi`: one per policy.
fn fault_rows(summary: &RunSummary, fi: usize, f: &crate::metrics::FaultInfo) -> Markup {
    // Each policy's impact of this fault: by position, falling back to the name.
    let rows: Vec<_> = summary
        .policies
        .iter()
        .map(|p| {
            p.result
                .faults
                .get(fi)
                .filter(|x| x.name == f.name)
                .or_else(|| p.result.faults.iter().find(|x| x.name == f.name))
        })
        .collect();
    let cell = |v: Option<f64>, text: String| Cell::new(text, v);
    let count = |v: Option<u64>| {
        cell(
            v.map(|v| v as f64),
            v.map_or(DASH.into(), |v| v.to_string()),
        )
    };
    let columns = vec![
        (
            Best::Lower,
            rows.iter()
                .map(|r| {
                    let v = r.and_then(|r| r.detection_delay);
                    cell(v, secs(v))
                })
                .collect::<Vec<_>>(),
        ),
        (
            Best::None,
            rows.iter()
                .map(|r| {
                    let by = r.and_then(|r| r.detected_by).map_or(DASH, |d| match d {
                        crate::metrics::DetectedBy::Ejection => "ejection",
                        crate::metrics::DetectedBy::TrafficShift => "traffic shift",
                    });
                    Cell::new(by.to_owned(), None)
                })
                .collect(),
        ),
        (
            Best::Lower,
            rows.iter()
                .map(|r| {
                    let v = r.and_then(|r| r.recovery_delay);
                    match r {
                        // Not an instant recovery: nothing to recover from.
                        Some(r) if !r.reacted => cell(None, "no reaction".into()),
                        _ => cell(v, secs(v)),
                    }
                })
                .collect(),
        ),
        (
            Best::None,
            rows.iter()
                .map(|r| count(r.map(|r| r.verifications_during_fault)))
                .collect(),
        ),
        (
            Best::Lower,
            rows.iter()
                .map(|r| count(r.map(|r| r.failed_during_fault)))
                .collect(),
        ),
        (
            Best::Lower,
            rows.iter()
                .map(|r| {
                    let v = r.filter(|r| r.verifications_during_fault > 0).map(|r| {
                        r.failed_during_fault as f64 / r.verifications_during_fault as f64
                    });
                    cell(v, v.map_or(DASH.into(), pct))
                })
                .collect(),
        ),
    ];
    let lead = html! {
        strong { (f.name) } br;
        small { (secs(Some(f.start))) " – " (secs(Some(f.end))) }
    };
    policy_group(summary, "name wrap", lead, &columns)
}

/// A group of table rows, one per policy: `lead` in a first cell (of class `class`) spanning
/// them all, then each policy's name and cells, the best per column marked.
fn policy_group(
    summary: &RunSummary,
    class: &str,
    lead: Markup,
    columns: &[(Best, Vec<Cell>)],
) -> Markup {
    let n = summary.policies.len();
    let names: Vec<Markup> = summary
        .policies
        .iter()
        .enumerate()
        .map(|(i, p)| {
            html! {
                @if i == 0 { td class=(class) rowspan=(n) { (lead) } }
                td.name { (policy_name(i, p)) }
            }
        })
        .collect();
    table_rows(&names, columns, true)
}

#[derive(Default)]
struct CountryStats {
    attempts: u64,
    deliveries: u64,
    cost: f64,
}

/// The countries the per-country table shows: every one when they are at most
/// [`MAX_COUNTRIES`], otherwise the [`MAX_COUNTRIES`] with the most attempts over all policies
/// (ties by code), in code order; and how many are left out.
fn shown_countries(per_policy: &[BTreeMap<String, CountryStats>]) -> (Vec<&String>, usize) {
    let mut attempts: BTreeMap<&String, u64> = BTreeMap::new();
    for m in per_policy {
        for (c, s) in m {
            *attempts.entry(c).or_default() += s.attempts;
        }
    }
    let total = attempts.len();
    let mut all: Vec<(&String, u64)> = attempts.into_iter().collect();
    if total > MAX_COUNTRIES {
        all.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
        all.truncate(MAX_COUNTRIES);
        all.sort_by(|a, b| a.0.cmp(b.0));
    }
    (
        all.into_iter().map(|(c, _)| c).collect(),
        total.saturating_sub(MAX_COUNTRIES),
    )
}

fn countries(summary: &RunSummary) -> Markup {
    // BTreeMap: countries in code order, the same on every run.
    let per_policy: Vec<BTreeMap<String, CountryStats>> = summary
        .policies
        .iter()
        .map(|p| {
            let mut m: BTreeMap<String, CountryStats> = BTreeMap::new();
            for r in &p.result.routes {
                let e = m.entry(r.country.as_str().to_string()).or_default();
                e.attempts += r.attempts;
                e.deliveries += r.deliveries;
                e.cost += r.cost;
            }
            m
        })
        .collect();
    let (shown, more) = shown_countries(&per_policy);
    if shown.is_empty() {
        return section(
            "countries",
            "Per country",
            html! { p.note { "No routes." } },
        );
    }
    let head = html! {
        th.name { "Country" } th.name { "Policy" } th { "Attempts" }
        th { "Deliveries" } th { "Delivery rate" } th { "Cost" }
    };
    let rows = html! {
        @for country in &shown { (country_rows(summary, &per_policy, country)) }
    };
    let content = html! {
        (table(head, rows))
        p.note {
            "Attempts, deliveries and cost of the routes to each country, measured \
             verifications only. Delivery rate: deliveries per attempt (a verification may \
             need several attempts)."
            @if more > 0 {
                " The " (MAX_COUNTRIES) " countries with the most attempts; " (more)
                " more are in " code { "routes.csv" } "."
            }
        }
    };
    section("countries", "Per country", content)
}

/// The per-country table's rows of `country`: one per policy.
fn country_rows(
    summary: &RunSummary,
    per_policy: &[BTreeMap<String, CountryStats>],
    country: &str,
) -> Markup {
    let stats: Vec<Option<&CountryStats>> = per_policy.iter().map(|m| m.get(country)).collect();
    let columns = vec![
        (
            Best::None,
            stats
                .iter()
                .map(|s| {
                    let v = s.map_or(0, |s| s.attempts);
                    Cell::new(v.to_string(), Some(v as f64))
                })
                .collect::<Vec<_>>(),
        ),
        (
            Best::None,
            stats
                .iter()
                .map(|s| {
                    let v = s.map_or(0, |s| s.deliveries);
                    Cell::new(v.to_string(), Some(v as f64))
                })
                .collect(),
        ),
        (
            Best::Higher,
            stats
                .iter()
                .map(|s| {
                    let v = s
                        .filter(|s| s.attempts > 0)
                        .map(|s| s.deliveries as f64 / s.attempts as f64);
                    Cell::new(v.map_or(DASH.into(), pct), v)
                })
                .collect(),
        ),
        (
            Best::None,
            stats
                .iter()
                .map(|s| {
                    let v = s.map_or(0.0, |s| s.cost);
                    Cell::new(cost(Some(v)), Some(v))
                })
                .collect(),
        ),
    ];
    policy_group(summary, "name", html! { strong { (country) } }, &columns)
}

fn charts(summary: &RunSummary) -> Markup {
    section(
        "charts",
        "Charts",
        html! { @for c in CHARTS { (figure(summary, c)) } },
    )
}

/// One chart inlined as SVG in a figure, or the reason it could not be drawn.
pub(crate) fn figure(summary: &RunSummary, c: Chart) -> Markup {
    let svg = chart::render(c.name, summary, Format::Svg)
        .map_err(|e| e.to_string())
        .and_then(|svg| inline_svg::checked(&svg).map_err(|e| e.to_string()));
    html! {
        // The chart draws its own title; the label is for screen readers.
        figure id={ "chart-" (c.name) } aria-label=(c.title) {
            @match svg {
                Ok(svg) => (svg),
                Err(e) => {
                    figcaption { (c.title) }
                    p.error { "This chart could not be drawn: " (e) }
                }
            }
        }
    }
}

/// What a data file the CLI writes holds, by name.
fn describe(file: &str) -> &'static str {
    let base = file.rsplit('/').next().unwrap_or(file);
    match base {
        "summary.json" => "the versioned run summary: every metric, histogram and time series",
        "summary.csv" => "one row per policy: the headline metrics",
        "timeseries.csv" => "one row per policy and time bucket",
        "routes.csv" => "one row per policy and route: traffic, failures, cost, ejections",
        "route_states.csv" => "one row per policy, route and stretch of one state over time",
        "faults.csv" => "one row per policy and fault: detection, recovery, failures",
        "comparison.csv" => {
            "one row per policy and metric: the paired difference from the baseline over seeds, \
             its interval and verdict"
        }
        "replications.csv" => "one row per policy, seed and metric: every seed's value",
        "load.csv" => {
            "one row per interval of the load test: rates, in flight, drops, success, overhead \
             p99, CPU"
        }
        _ if base.ends_with(".svg") || base.ends_with(".png") => "chart",
        _ if base.ends_with(".jsonl") || base.contains("audit") => "the audit trail",
        _ => "",
    }
}

fn data_files(files: &[&str]) -> Markup {
    data_files_with(files, describe)
}

/// The "Data files" section: a link to each file with what it holds (`describe`), for the run
/// report and the sweep report alike.
pub(crate) fn data_files_with(files: &[&str], describe: fn(&str) -> &'static str) -> Markup {
    let content = html! {
        @if files.is_empty() {
            p.note { "No data files were written with this report." }
        } @else {
            ul.files {
                @for f in files {
                    li {
                        a href=(f) { code { (f) } }
                        @let d = describe(f);
                        @if !d.is_empty() { " — " (d) }
                    }
                }
            }
        }
    };
    section("data", "Data files", content)
}

fn provenance(summary: &RunSummary) -> Markup {
    let s = &summary.scenario;
    let row = |k: &str, v: Markup| html! { tr { th.name { (k) } td.name { (v) } } };
    let more = s.providers.len().saturating_sub(MAX_PROVIDERS);
    let providers = html! {
        @for (i, p) in s.providers.iter().take(MAX_PROVIDERS).enumerate() {
            @if i > 0 { " \u{a0} " }
            (swatched(palette::provider(i), p))
        }
        @if more > 0 {
            " \u{a0} and " (more) " more (" code { "routes.csv" } ")"
        }
    };
    let content = html! {
        div.scroll { table { tbody {
            (row("Tool", html! { "failover-lab " (env!("CARGO_PKG_VERSION")) }))
            (row("Scenario", html! { (s.name) }))
            (row("Scenario hash (FNV-1a 64)", html! { code { (s.hash) } }))
            (row("Seed", html! { (summary.seed) }))
            (row("Summary format", html! { "version " (summary.format_version) }))
            (row("Providers", providers))
            (row("Routes", html! { (s.routes.len()) }))
            @if let Some(run) = &summary.run {
                (row("Simulated by", html! { "failover-lab " (run.tool_version) }))
                (row("Execution", html! {
                    (format!(
                        "{} verifications on {} threads in {:.2} s wall time \
                         ({:.0} verifications/s per core)",
                        run.simulated_verifications,
                        run.threads,
                        run.wall_seconds,
                        run.verifications_per_second
                    ))
                }))
            }
        } } }
        p.note {
            "Same scenario file (hash), same seed and same tool version reproduce these results \
             exactly."
        }
    };
    section("provenance", "Provenance", content)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::chart::fixture;

    const FILES: [&str; 5] = [
        "summary.json",
        "summary.csv",
        "timeseries.csv",
        "routes.csv",
        "faults.csv",
    ];

    #[test]
    fn the_caller_gave_up_column_appears_only_when_a_caller_gave_up() {
        let mut s = fixture::summary().clone();
        let html = render(&s, &FILES);
        assert!(!html.contains("Caller gave up"));
        s.policies[0].result.metrics.caller_abandoned = 4321;
        let html = render(&s, &FILES);
        assert!(html.contains("<th>Success rate</th><th>Caller gave up</th><th>Conversion</th>"));
        assert!(html.contains("<td>4321</td>"));
        assert!(html.contains("<code>caller_timeout</code>"));
    }

    #[test]
    fn a_fault_nobody_reacted_to_shows_no_reaction_not_a_recovery_time() {
        let mut s = fixture::summary().clone();
        for p in &mut s.policies {
            for f in &mut p.result.faults {
                f.reacted = true;
                f.recovery_delay = Some(30.0);
            }
        }
        let reacted = render(&s, &FILES);
        assert!(!reacted.contains("no reaction"));
        let f = &mut s.policies[0].result.faults[0];
        f.reacted = false;
        f.recovery_delay = None;
        let ignored = render(&s, &FILES);
        assert_eq!(ignored.matches("no reaction").count(), 1);
    }

    #[test]
    fn the_comparison_over_seeds_appears_only_with_comparisons() {
        let single = render(fixture::summary(), &FILES);
        for absent in [
            "Comparison over seeds",
            "href=\"#seeds\"",
            "td.verdict",
            "first of",
            "chart-forest",
            "chart-spread",
        ] {
            assert!(!single.contains(absent), "a single seed shows {absent}");
        }
        let s = fixture::replicated();
        let html = render(s, &FILES);
        let section = &html[html.find("<section id=\"seeds\">").unwrap()..];
        let section = &section[..section.find("</section>").unwrap()];
        // After the policy comparison, linked from it and from the navigation.
        assert!(html.find("id=\"comparison\"").unwrap() < html.find("id=\"seeds\"").unwrap());
        assert!(html.contains("<a href=\"#seeds\">Comparison over seeds</a>"));
        assert!(html.contains("seed 7 (first of 6 seeds)"));
        assert!(html.contains("show the first seed's run (seed 7)"));
        // The experiment line.
        assert!(section.contains("6 seeds (7, 1001, 1002, 1003, 1004, 1005) · 95 % confidence"));
        assert!(section.contains("baseline <span class=\"swatch\""));
        assert!(section.contains("precision mode: success_rate to ± 1.00 pp: targets reached"));
        // Means over seeds, as the summary has them.
        for r in &s.replications {
            let e = r.estimate("success_rate");
            assert!(section.contains(&replicated::mean_pm("success_rate", e, Style::Html)));
        }
        assert!(section.contains("static <span class=\"muted\">(baseline)</span>"));
        // One row per headline comparison, its verdict cell coloured.
        let rows = replicated::headline_comparisons(s);
        assert_eq!(section.matches("<td class=\"verdict ").count(), rows.len());
        for c in &rows {
            let (difference, interval) = replicated::difference(c, Style::Html);
            let row = format!(
                "<td class=\"name\">{}</td><td>{difference}</td><td>{interval}</td>\
                 <td class=\"verdict {}\"><span class=\"swatch\" style=\"background:{}\"></span>{}</td>",
                c.metric,
                verdict_class(c.verdict),
                palette::verdict(c.verdict).hex(),
                c.verdict.as_str()
            );
            assert!(section.contains(&row), "no row {row}");
        }
        for class in ["better", "worse", "nodiff"] {
            assert!(
                section.contains(&format!("<td class=\"verdict {class}\">")),
                "{class}"
            );
        }
        // The two charts inline, and how to read them.
        for c in [chart::FOREST, chart::SPREAD] {
            assert!(section.contains(&format!("id=\"chart-{}\"", c.name)));
            assert!(section.contains(c.title));
        }
        assert_eq!(html.matches("<svg").count(), CHARTS.len() + 1 + 2);
        for words in [
            "Reading an interval",
            "with 95 % confidence, given these seeds",
            "Reading a verdict",
            "not the same as no difference",
            "variance reduction",
            "stated confidence is approximate",
        ] {
            assert!(section.contains(words), "no {words:?}");
        }
        assert!(html.contains("td.verdict {"), "the section's styles");
    }

    #[test]
    fn one_policy_over_seeds_has_its_means_and_spread_but_no_differences() {
        let mut s = fixture::replicated().clone();
        s.policies.truncate(1);
        s.replications.truncate(1);
        s.comparisons.clear();
        if let Some(e) = &mut s.experiment {
            e.baseline = s.policies[0].name.clone();
        }
        let html = render(&s, &FILES);
        assert!(html.contains("<a href=\"#seeds\">Comparison over seeds</a>"));
        assert!(html.contains("The means over all 6 seeds are under"));
        assert!(html.contains("Each policy over 6 seeds"));
        assert!(html.contains("No policy was compared with a baseline"));
        assert!(html.contains("id=\"chart-spread\""));
        for absent in [
            "id=\"chart-forest\"",
            "Differences from the baseline",
            "Reading a verdict",
        ] {
            assert!(!html.contains(absent), "{absent}");
        }
    }

    #[test]
    fn hostile_names_in_the_comparison_over_seeds_are_escaped() {
        let mut s = fixture::replicated().clone();
        let hostile = "<script>alert(1)</script>";
        s.policies[1].name = hostile.to_string();
        for r in &mut s.replications {
            if r.policy == "static" {
                r.policy = hostile.to_string();
            }
        }
        for c in &mut s.comparisons {
            c.baseline = hostile.to_string();
            c.metric = c.metric.replace("c-flapping", "<img src=x>");
        }
        s.scenario.faults[1].name = "<img src=x>".to_string();
        if let Some(e) = &mut s.experiment {
            e.baseline = hostile.to_string();
            e.precision[0].metric = "<b>m</b>".to_string();
        }
        let html = render(&s, &["comparison.csv", "replications.csv"]);
        assert!(!html.contains("<script"), "unescaped script tag");
        assert!(!html.contains("<img"), "unescaped img tag");
        assert!(!html.contains("<b>m"), "unescaped precision metric");
        assert!(html.contains("&lt;img src=x&gt;.detection_delay"));
        assert!(html.contains("Differences from the baseline &lt;script&gt;"));
        assert!(html.contains("comparison.csv</code></a> — one row per policy and metric"));
    }

    /// `s` as maud writes it in text: the reference for "appears as text".
    fn as_text(s: &str) -> String {
        html! { (s) }.into_string()
    }

    #[test]
    fn a_hostile_scenario_renders_only_text() {
        let s = fixture::hostile();
        let files = ["summary.csv", "=x\"><script>alert(1)</script>.csv"];
        let html = render(s, &files);
        for raw in ["<script", "<img", "<b>", "<i>", "onerror=\"", "\" onclick"] {
            assert!(!html.contains(raw), "{raw} reached the page as markup");
        }
        // Only the page's own closing tags: one style, one title plus one per fault bar of the
        // timeline, one svg per chart and the timeline.
        assert_eq!(html.matches("</style>").count(), 1);
        assert_eq!(
            html.matches("</title>").count(),
            1 + s.scenario.faults.len()
        );
        let svgs = chart::charts_for(s).len() + 1;
        assert_eq!(html.matches("<svg").count(), svgs);
        assert_eq!(html.matches("</svg>").count(), svgs);
        assert!(!html.contains("class=\"error\""), "a chart was refused");
        // Every name is on the page, as text.
        let names = fixture::HOSTILE_POLICIES
            .iter()
            .chain(&fixture::HOSTILE_PROVIDERS)
            .chain(&fixture::HOSTILE_FAULTS)
            .chain([&fixture::HOSTILE_SCENARIO, &fixture::HOSTILE_DESCRIPTION]);
        for name in names {
            assert!(html.contains(&as_text(name)), "{name:?} is not on the page");
        }
        assert!(html.contains("&lt;script&gt;document.title='pw'+'ned'&lt;/script&gt;"));
    }

    #[test]
    fn the_style_sheets_cannot_end_their_element() {
        // They are inlined unescaped: no `<` can close the style element.
        assert!(!CSS.contains('<') && !SEEDS_CSS.contains('<'));
    }

    #[test]
    fn large_tables_are_bounded_on_the_page() {
        let s = fixture::large(1000, 1000);
        let html = render(&s, &FILES);
        let countries =
            &html[html.find("id=\"countries\"").unwrap()..html.find("id=\"charts\"").unwrap()];
        let shown = countries.matches("<strong>").count();
        assert_eq!(shown, MAX_COUNTRIES, "countries shown");
        assert!(countries.contains(&format!(
            "The {MAX_COUNTRIES} countries with the most attempts; "
        )));
        let provenance = &html[html.find("id=\"provenance\"").unwrap()..];
        assert_eq!(
            provenance.matches("class=\"swatch\"").count(),
            MAX_PROVIDERS
        );
        assert!(provenance.contains(&format!("and {} more", 1000 - MAX_PROVIDERS)));
        assert!(
            provenance.contains("<td class=\"name\">1000</td>"),
            "the route count"
        );
        // The whole page, charts inlined, stays small.
        assert!(html.len() < 2 << 20, "{} bytes", html.len());
        assert!(!html.contains("class=\"error\""), "a chart failed");
    }

    #[test]
    fn the_countries_shown_are_those_with_the_most_attempts_in_code_order() {
        let stats = |pairs: &[(&str, u64)]| -> BTreeMap<String, CountryStats> {
            pairs
                .iter()
                .map(|&(c, attempts)| {
                    (
                        c.to_owned(),
                        CountryStats {
                            attempts,
                            ..CountryStats::default()
                        },
                    )
                })
                .collect()
        };
        let few = [stats(&[("DE", 1), ("GB", 2)])];
        let (shown, more) = shown_countries(&few);
        assert_eq!((shown, more), (vec![&"DE".to_owned(), &"GB".to_owned()], 0));
        let codes: Vec<String> = (0..MAX_COUNTRIES + 2)
            .map(|i| {
                format!(
                    "{}{}",
                    (b'A' + (i / 26) as u8) as char,
                    (b'A' + (i % 26) as u8) as char
                )
            })
            .collect();
        // AA has the fewest attempts, AB none in policy 0 but many in policy 1.
        let p0: Vec<(&str, u64)> = codes
            .iter()
            .enumerate()
            .map(|(i, c)| (c.as_str(), 10 + i as u64))
            .collect();
        let mut p0 = stats(&p0);
        p0.get_mut("AA").unwrap().attempts = 0;
        p0.get_mut("AB").unwrap().attempts = 0;
        let p1 = stats(&[("AB", 1000)]);
        let both = [p0, p1];
        let (shown, more) = shown_countries(&both);
        assert_eq!(more, 2);
        assert_eq!(shown.len(), MAX_COUNTRIES);
        assert_eq!(shown[0], "AB");
        assert!(!shown.iter().any(|c| c.as_str() == "AA"));
        assert!(shown.windows(2).all(|w| w[0] < w[1]), "code order");
    }

    #[test]
    fn a_hostile_policy_name_appears_only_escaped() {
        let mut s = fixture::summary().clone();
        s.policies[0].name = "<script>alert(1)</script>".to_string();
        s.scenario.name = "<img src=x onerror=alert(2)>".to_string();
        s.scenario.description = Some("<b>bold</b> & \"quoted\"".to_string());
        s.scenario.faults[0].name = "</td><script>".to_string();
        s.scenario.providers[0] = "<i>a</i>".to_string();
        let html = render(&s, &["summary.json", "x\" onclick=\"alert(3)"]);
        assert!(!html.contains("<script"), "unescaped script tag");
        assert!(!html.contains("<img"), "unescaped img tag");
        assert!(!html.contains("<b>bold"), "unescaped description");
        assert!(!html.contains("<i>a</i>"), "unescaped provider");
        assert!(!html.contains("\" onclick=\""), "unescaped attribute");
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(html.contains("&lt;img src=x onerror=alert(2)&gt;"));
    }

    #[test]
    fn the_page_is_self_contained() {
        let html = render(fixture::summary(), &FILES);
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert!(html.trim_end().ends_with("</html>"));
        for banned in [
            "<script",
            "<link",
            "src=\"http",
            "href=\"http",
            "@import",
            "url(",
        ] {
            assert!(!html.contains(banned), "page references {banned}");
        }
        // Every chart is inlined as SVG.
        assert_eq!(
            html.matches("<svg").count(),
            CHARTS.len() + 1,
            "charts + timeline"
        );
        for c in CHARTS {
            assert!(html.contains(&format!("id=\"chart-{}\"", c.name)));
            assert!(html.contains(c.title));
        }
    }

    #[test]
    fn the_page_shows_every_section_and_links_the_data_files() {
        let s = fixture::summary();
        let html = render(s, &FILES);
        for section in [
            "Fault timeline",
            "Policy comparison",
            "Fault impact",
            "Per country",
            "Charts",
            "Data files",
            "Provenance",
        ] {
            assert!(html.contains(section), "no section {section}");
        }
        for f in FILES {
            assert!(
                html.contains(&format!("<a href=\"{f}\">")),
                "no link to {f}"
            );
        }
        assert!(html.contains(&s.scenario.hash));
        assert!(html.contains(env!("CARGO_PKG_VERSION")));
        assert!(html.contains(&format!(
            "<tr><th class=\"name\">Seed</th><td class=\"name\">{}</td>",
            s.seed
        )));
        for country in ["DE", "GB"] {
            assert!(
                html.contains(&format!("<strong>{country}</strong>")),
                "no {country}"
            );
        }
        for f in &s.scenario.faults {
            assert!(html.contains(&f.name));
        }
        for p in &s.policies {
            assert!(html.contains(&p.name));
            assert!(html.contains(&pct(p.result.metrics.success_rate)));
        }
    }

    #[test]
    fn the_best_value_per_column_is_marked() {
        let s = fixture::summary();
        let html = render(s, &FILES);
        let table =
            &html[html.find("id=\"comparison\"").unwrap()..html.find("id=\"impact\"").unwrap()];
        // The sensible policy succeeds more than the static one in the fixture.
        let (sensible, fixed) = (&s.policies[0], &s.policies[1]);
        assert!(sensible.result.metrics.success_rate > fixed.result.metrics.success_rate);
        let best = format!(
            "<td class=\"best\" title=\"best\">{}</td>",
            pct(sensible.result.metrics.success_rate)
        );
        assert!(table.contains(&best), "{table}");
        assert!(!table.contains(&format!(
            "<td class=\"best\" title=\"best\">{}</td>",
            pct(fixed.result.metrics.success_rate)
        )));
    }

    #[test]
    fn best_compares_as_displayed_and_ties_are_all_marked() {
        let cells = [
            Cell::new("99.99 %".into(), Some(0.99991)),
            Cell::new("99.99 %".into(), Some(0.99994)),
            Cell::new("–".into(), None),
        ];
        let refs: Vec<&Cell> = cells.iter().collect();
        assert_eq!(best_rows(&refs, Best::Higher), [true, true, false]);
        let cells = [
            Cell::new("0.0700".into(), Some(0.07)),
            Cell::new("0.0800".into(), Some(0.08)),
        ];
        let refs: Vec<&Cell> = cells.iter().collect();
        assert_eq!(best_rows(&refs, Best::Lower), [true, false]);
        assert_eq!(best_rows(&refs, Best::None), [false, false]);
        assert_eq!(
            best_rows(&refs[..1], Best::Lower),
            [false],
            "one policy: nothing to compare"
        );
    }

    #[test]
    fn numbers_are_formatted_consistently() {
        assert_eq!(pct(0.991234), "99.12 %");
        assert_eq!(secs(Some(3.456)), "3.46 s");
        assert_eq!(secs(None), "–");
        assert_eq!(cost(Some(0.07123)), "0.0712");
        assert_eq!(ratio(1.04166), "1.042");
    }

    #[test]
    fn rendering_is_deterministic() {
        let s = fixture::summary();
        assert_eq!(render(s, &FILES), render(s, &FILES));
    }

    #[test]
    fn an_empty_summary_renders_a_page() {
        let mut s = fixture::summary().clone();
        s.policies.clear();
        s.scenario.faults.clear();
        s.scenario.description = None;
        let html = render(&s, &[]);
        assert!(html.contains("No policy ran."));
        assert!(
            !html.contains("class=\"error\""),
            "a chart failed on an empty summary"
        );
    }
}
