//! The "Load test" section of `index.html`, for a summary with a load test: the run's facts,
//! where arrivals went and how verifications ended, the latency percentiles (the terminal's
//! rows), memory and CPU, the three load charts inlined, a link to `load.csv`, and how to read
//! it all. [`crate::report::html`] adds it, with its navigation link, only then.
//!
//! Like the rest of the page it is a maud template: every value is escaped; the charts' SVG
//! goes through the page's own checked figure.

use maud::{Markup, html};

use super::format::{self, COLUMNS, LATENCIES};
use crate::metrics::RunSummary;
use crate::metrics::load::{LoadSummary, MAX_LAG};
use crate::report::chart::{self, LOAD_CHARTS};
use crate::report::html::{figure, section, table};
use crate::report::replicated::Style;

const STYLE: Style = Style::Html;

/// The section's id: its anchor in the navigation.
pub(crate) const ID: &str = "load";

/// The section's heading, and its link's text.
pub(crate) const HEADING: &str = "Load test";

/// The section for `summary`'s load test `l`, linking `load.csv` when it is among `files`.
pub(crate) fn load_section(summary: &RunSummary, l: &LoadSummary, files: &[&str]) -> Markup {
    let content = html! {
        (facts(l))
        h3 { "Arrivals" }
        (arrivals(l))
        h3 { "Outcomes" }
        (outcomes(l))
        h3 { "Latency" }
        (latencies(l))
        @if l.peak_rss_bytes.is_some() || l.cpu_seconds.is_some() {
            p.meta {
                @if let Some(bytes) = l.peak_rss_bytes {
                    "Peak resident memory " (format::mib(bytes))
                }
                @if l.peak_rss_bytes.is_some() && l.cpu_seconds.is_some() { " · " }
                @if let Some(cpu) = format::cpu(l, STYLE) { "CPU " (cpu) }
            }
        }
        @for c in LOAD_CHARTS {
            @if chart::charts_for(summary).contains(&c) { (figure(summary, c)) }
        }
        @if files.contains(&"load.csv") {
            p {
                "Every interval's rates, in flight, drops, success, overhead p99 and CPU: "
                a href="load.csv" { code { "load.csv" } } "."
            }
        }
        (reading(l))
    };
    section(ID, HEADING, content)
}

/// `2 workers on 8 cores · speed x10 · 60.0 s of arrivals + 3.0 s drain`, and a warning when a
/// signal stopped the run.
fn facts(l: &LoadSummary) -> Markup {
    html! {
        p.meta {
            (format::workers(l.threads)) " on " (format::cores(l.cores)) " · speed "
            (format::speed(l.speed)) " · " (format::seconds(l.duration)) " of arrivals + "
            (format::seconds(l.drain)) " drain"
        }
        @if l.interrupted {
            p.note {
                strong { "Interrupted." }
                " A signal stopped the run before its planned end: the figures cover what ran."
            }
        }
    }
}

/// A row of a count table: a name, the count and its share of `whole`.
fn count_row(name: &str, n: u64, whole: u64) -> Markup {
    html! {
        tr { td.name { (name) } td { (n) } td { (format::share(n, whole, STYLE)) } }
    }
}

fn arrivals(l: &LoadSummary) -> Markup {
    let a = &l.arrivals;
    let head = html! { th.name { "Arrivals" } th { "Count" } th { "Share of intended" } };
    let rows = html! {
        (count_row("intended", a.intended, a.intended))
        (count_row("issued", a.issued, a.intended))
        (count_row(
            &format!("dropped late (over {} s behind schedule)", MAX_LAG.as_secs_f64()),
            a.dropped_late,
            a.intended,
        ))
        (count_row(
            &format!("dropped at the in-flight cap ({})", l.max_in_flight),
            a.dropped_in_flight,
            a.intended,
        ))
    };
    html! {
        (table(head, rows))
        p.meta {
            "Target rate " (format::rate(l.target_rate)) " · achieved "
            (format::rate(l.achieved_rate)) " · peak in flight " (l.peak_in_flight)
            " (cap " (l.max_in_flight) ")"
        }
    }
}

fn outcomes(l: &LoadSummary) -> Markup {
    let a = &l.arrivals;
    let o = &l.outcomes;
    let judged = o.delivered + o.failed + o.caller_gave_up;
    let head = html! { th.name { "Outcome" } th { "Count" } th { "Share of issued" } };
    let rows = html! {
        (count_row("delivered", o.delivered, a.issued))
        (count_row("failed", o.failed, a.issued))
        (count_row("caller gave up", o.caller_gave_up, a.issued))
        (count_row("cut off (still in flight when the drain ended)", o.cut_off, a.issued))
        (count_row("conversions", o.conversions, a.issued))
        tr {
            td.name { "success rate (delivered over those that ended by themselves)" }
            td {
                @if judged == 0 { (STYLE.dash()) } @else { (format::percent(o.success_rate(), STYLE)) }
            }
            td {}
        }
    };
    table(head, rows)
}

fn latencies(l: &LoadSummary) -> Markup {
    let head = html! {
        th.name { "Latency" }
        @for (name, _) in COLUMNS { th { (name) } }
        th { "Samples" }
    };
    let rows = html! {
        @for row in &LATENCIES {
            @let p = (row.of)(l);
            tr {
                td.name { (row.label) }
                @for cell in format::latency_cells(p, STYLE) { td { (cell) } }
                td { (p.count) }
            }
        }
    };
    table(head, rows)
}

/// How to read the section.
fn reading(l: &LoadSummary) -> Markup {
    let k = format::factor(l.speed);
    html! {
        p.note {
            strong { "Reading it." }
            " Every latency counts from the arrival's " em { "intended" } " time, the instant the \
             open-model schedule said it should start, not from when the generator managed to \
             issue it: a stalled generator or a saturated runtime shows up as latency (issue lag, \
             time to verify) and, beyond " (MAX_LAG.as_secs_f64()) " s, as dropped arrivals, \
             never as samples quietly missing (coordinated omission)."
        }
        p.note {
            "Decision: the start of " code { "verify" } " to its first adapter call, lock waits \
             included. Router overhead: the wall time of " code { "verify" } " minus the time an \
             adapter of the verification had an attempt outstanding: the router's own work, \
             lock waits and audit events. Time to verify: the end of " code { "verify" } " minus \
             the intended time, delivered verifications only."
        }
        p.note {
            "Times on the charts are wall seconds; at speed x" (k) " the simulated world ran "
            (k) " times faster than the wall clock. These are wall-clock figures of one run on \
             one machine: unlike the rest of the report they are not reproducible, and another \
             run of the same scenario and seed measures other numbers."
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::html::render;
    use crate::report::load::fixture;

    const FILES: [&str; 3] = ["summary.json", "summary.csv", "load.csv"];

    /// The page's load section.
    fn section_of(html: &str) -> &str {
        let start = html.find("<section id=\"load\">").expect("no load section");
        let rest = &html[start..];
        &rest[..rest.find("</section>").unwrap() + "</section>".len()]
    }

    #[test]
    fn the_section_appears_only_with_a_load_test_and_changes_nothing_else() {
        let without = crate::report::chart::fixture::summary();
        let plain = render(without, &FILES);
        for absent in ["Load test", "id=\"load\"", "href=\"#load\"", "chart-load_"] {
            assert!(
                !plain.contains(absent),
                "a page without load shows {absent}"
            );
        }
        let with = fixture::summary();
        let page = render(with, &FILES);
        let link = "<a href=\"#load\">Load test</a>";
        assert!(page.contains(link));
        // Cut the section and its link out: the page without a load test, byte for byte.
        let cut = page
            .replacen(section_of(&page), "", 1)
            .replacen(link, "", 1);
        assert_eq!(cut, plain);
    }

    #[test]
    fn the_section_shows_the_run_its_counts_percentiles_and_resources() {
        let s = fixture::summary();
        let l = s.load.as_ref().unwrap();
        let page = render(s, &FILES);
        let sec = section_of(&page);
        assert!(
            sec.contains("2 workers on 8 cores · speed x10 · 60.0 s of arrivals + 3.0 s drain")
        );
        assert!(!sec.contains("Interrupted"));
        let a = &l.arrivals;
        for (name, n) in [
            ("intended", a.intended),
            ("issued", a.issued),
            ("dropped late (over 1 s behind schedule)", a.dropped_late),
            ("dropped at the in-flight cap (2000)", a.dropped_in_flight),
            ("delivered", l.outcomes.delivered),
            ("failed", l.outcomes.failed),
            ("caller gave up", l.outcomes.caller_gave_up),
            (
                "cut off (still in flight when the drain ended)",
                l.outcomes.cut_off,
            ),
            ("conversions", l.outcomes.conversions),
        ] {
            let row = format!("<td class=\"name\">{name}</td><td>{n}</td>");
            assert!(sec.contains(&row), "no row {row}");
        }
        assert!(sec.contains(&format::percent(l.outcomes.success_rate(), Style::Html)));
        assert!(
            sec.contains(&format!(
                "Target rate {} · achieved {} · peak in flight 2000 (cap 2000)",
                format::rate(l.target_rate),
                format::rate(l.achieved_rate)
            )),
            "{sec}"
        );
        // The terminal's rows, in the page's units.
        for row in &LATENCIES {
            let cells: String = format::latency_cells((row.of)(l), Style::Html)
                .iter()
                .map(|c| format!("<td>{c}</td>"))
                .collect();
            let expect = format!("<td class=\"name\">{}</td>{cells}", row.label);
            assert!(sec.contains(&expect), "no row {expect}");
        }
        assert!(sec.contains("<td>212 µs</td><td>1.18 ms</td><td>8.65 ms</td><td>41.3 ms</td>"));
        assert!(sec.contains("Peak resident memory 185.3 MiB · CPU 143.56 s (28.48 % of 8 cores)"));
        // The three charts, inlined and accepted.
        for c in LOAD_CHARTS {
            assert!(
                sec.contains(&format!("id=\"chart-{}\"", c.name)),
                "{}",
                c.name
            );
            assert!(sec.contains(c.title));
        }
        assert_eq!(sec.matches("<svg").count(), LOAD_CHARTS.len());
        assert!(!page.contains("class=\"error\""), "a chart was refused");
        assert!(sec.contains("<a href=\"load.csv\"><code>load.csv</code></a>"));
        assert!(page.contains("load.csv</code></a> — one row per interval of the load test"));
        for words in [
            "intended</em> time",
            "coordinated omission",
            "minus the time an adapter of the verification had an attempt outstanding",
            "to its first adapter call",
            "not reproducible",
            "at speed x10 the simulated world ran 10 times faster",
        ] {
            assert!(sec.contains(words), "no {words:?}");
        }
    }

    #[test]
    fn the_csv_is_linked_only_when_written() {
        let page = render(fixture::summary(), &["summary.json"]);
        assert!(!section_of(&page).contains("href=\"load.csv\""));
    }

    #[test]
    fn an_interrupted_empty_run_renders_without_resources() {
        let page = render(fixture::empty(), &FILES);
        let sec = section_of(&page);
        assert!(sec.contains("<strong>Interrupted.</strong>"));
        assert!(!sec.contains("Peak resident memory") && !sec.contains("CPU "));
        assert!(sec.contains(
            "<td class=\"name\">decision</td><td>–</td><td>–</td><td>–</td><td>–</td><td>0</td>"
        ));
        assert_eq!(sec.matches("<svg").count(), LOAD_CHARTS.len());
        assert!(
            !page.contains("class=\"error\""),
            "a chart was refused: {sec}"
        );
    }

    #[test]
    fn a_hostile_scenario_with_a_load_test_renders_only_text() {
        let mut s = crate::report::chart::fixture::hostile().clone();
        s.load = Some(fixture::load());
        let page = render(&s, &["load.csv", "=x\"><script>alert(1)</script>.csv"]);
        for raw in ["<script", "<img", "<b>", "<i>", "onerror=\"", "\" onclick"] {
            assert!(!page.contains(raw), "{raw} reached the page as markup");
        }
        let svgs = chart::charts_for(&s).len() + 1;
        assert_eq!(page.matches("<svg").count(), svgs);
        assert_eq!(page.matches("</svg>").count(), svgs);
        assert!(!page.contains("class=\"error\""), "a chart was refused");
        assert!(section_of(&page).contains("chart-load_rate"));
    }
}
