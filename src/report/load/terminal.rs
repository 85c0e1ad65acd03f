//! What the CLI prints at the end of a load test, under the policy table: the heading facts,
//! the rates and where arrivals went, how verifications ended, the latency percentiles in the
//! unit that suits each, then memory and CPU when the OS said.
//!
//! Plain text in the style of [`crate::report::terminal`] (its column aligner, right-aligned
//! numbers); every figure is one `LoadSummary` carries, only formatted.

use std::fmt::Write;

use super::format::{self, COLUMNS, LATENCIES};
use crate::metrics::load::{LoadSummary, MAX_LAG};
use crate::report::replicated::Style;
use crate::report::terminal::{Align, aligned_table};

const STYLE: Style = Style::Terminal;

/// The load test's block of text (see the module's documentation), ending with a newline:
///
/// ```text
/// load: 2 workers, speed x10, 60.0 s + 3.0 s drain
/// rate: target 722.5/s, achieved 608.3/s (84.20% of target)
/// dropped: 6850 of 43350 arrivals (15.80%): 1370 late (over 1 s behind), 5480 at the in-flight cap (2000)
/// in flight: peak 2000 (cap 2000)
/// outcomes: 36251 delivered, 37 failed, 12 caller gave up, 200 cut off; success 99.87%; 29200 conversions
///
/// latency                            p50      p99    p99.9      max
/// issue lag                        38 us  4.12 ms   612 ms   998 ms
/// decision                          9 us    57 us   310 us  2.48 ms
/// router overhead                 212 us  1.18 ms  8.65 ms  41.3 ms
/// time to verify (from intended)  3.45 s   15.8 s   19.9 s   24.1 s
///
/// peak RSS: 185.3 MiB
/// CPU: 143.56 s (28.48% of 8 cores)
/// ```
pub fn load_table(l: &LoadSummary) -> String {
    let a = &l.arrivals;
    let o = &l.outcomes;
    let mut out = String::new();
    let _ = writeln!(out, "load: {}", format::facts(l).join(", "));
    let _ = writeln!(
        out,
        "rate: target {}, achieved {} ({} of target)",
        format::rate(l.target_rate),
        format::rate(l.achieved_rate),
        format::share(a.issued, a.intended, STYLE)
    );
    if a.dropped() == 0 {
        let _ = writeln!(out, "dropped: none of {} arrivals", a.intended);
    } else {
        let _ = writeln!(
            out,
            "dropped: {} of {} arrivals ({}): {} late (over {} s behind), {} at the in-flight cap ({})",
            a.dropped(),
            a.intended,
            format::share(a.dropped(), a.intended, STYLE),
            a.dropped_late,
            MAX_LAG.as_secs_f64(),
            a.dropped_in_flight,
            l.max_in_flight
        );
    }
    let _ = writeln!(
        out,
        "in flight: peak {} (cap {})",
        l.peak_in_flight, l.max_in_flight
    );
    let _ = writeln!(
        out,
        "outcomes: {} delivered, {} failed, {} caller gave up, {} cut off; success {}; {} conversions",
        o.delivered,
        o.failed,
        o.caller_gave_up,
        o.cut_off,
        if o.delivered + o.failed + o.caller_gave_up == 0 {
            STYLE.dash().to_owned()
        } else {
            format::percent(o.success_rate(), STYLE)
        },
        o.conversions
    );
    out.push('\n');
    let rows: Vec<Vec<String>> = LATENCIES
        .iter()
        .map(|row| {
            let mut cells = vec![row.label.to_owned()];
            cells.extend(format::latency_cells((row.of)(l), STYLE));
            cells
        })
        .collect();
    let mut header = vec!["latency"];
    header.extend(COLUMNS.iter().map(|(h, _)| *h));
    out.push_str(&aligned_table(&header, &rows, &[Align::Left]));
    if l.peak_rss_bytes.is_some() || l.cpu_seconds.is_some() {
        out.push('\n');
    }
    if let Some(bytes) = l.peak_rss_bytes {
        let _ = writeln!(out, "peak RSS: {}", format::mib(bytes));
    }
    if let Some(cpu) = format::cpu(l, STYLE) {
        let _ = writeln!(out, "CPU: {cpu}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::load::fixture;

    #[test]
    fn the_table_shows_every_figure_in_its_unit() {
        let l = fixture::load();
        let t = load_table(&l);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines[0], "load: 2 workers, speed x10, 60.0 s + 3.0 s drain");
        assert!(
            lines[1].starts_with(&format!(
                "rate: target {}, achieved {} (",
                format::rate(l.target_rate),
                format::rate(l.achieved_rate)
            )),
            "{t}"
        );
        let a = &l.arrivals;
        assert!(
            lines[2].contains(&format!(
                ": {} late (over 1 s behind), {} at the in-flight cap (2000)",
                a.dropped_late, a.dropped_in_flight
            )),
            "{t}"
        );
        assert_eq!(lines[3], "in flight: peak 2000 (cap 2000)");
        assert!(
            lines[4].contains("37 failed, 12 caller gave up, 200 cut off"),
            "{t}"
        );
        // The percentile table, values in us, ms and s.
        assert_eq!(lines[5], "");
        assert!(lines[6].starts_with("latency "), "{t}");
        assert!(lines[6].ends_with("p50      p99    p99.9      max"), "{t}");
        let row = |label: &str| {
            *lines
                .iter()
                .find(|l| l.starts_with(label))
                .unwrap_or_else(|| panic!("no row {label}:\n{t}"))
        };
        let cells = |label: &str| -> Vec<String> {
            let r = row(label)[label.len()..].to_owned();
            let words: Vec<&str> = r.split_whitespace().collect();
            words.chunks(2).map(|c| c.join(" ")).collect()
        };
        assert_eq!(cells("issue lag"), ["38 us", "4.12 ms", "612 ms", "998 ms"]);
        assert_eq!(cells("decision"), ["9 us", "57 us", "310 us", "2.48 ms"]);
        assert_eq!(
            cells("router overhead"),
            ["212 us", "1.18 ms", "8.65 ms", "41.3 ms"]
        );
        assert_eq!(
            cells("time to verify (from intended)"),
            ["3.45 s", "15.8 s", "19.9 s", "24.1 s"]
        );
        // Numbers right-aligned: every row as long as the header.
        for r in &lines[6..10] {
            assert_eq!(r.chars().count(), lines[6].chars().count(), "{t}");
        }
        assert_eq!(lines[11], "");
        assert_eq!(lines[12], "peak RSS: 185.3 MiB");
        assert_eq!(lines[13], "CPU: 143.56 s (28.48% of 8 cores)");
        assert_eq!(lines.len(), 14, "{t}");
    }

    #[test]
    fn absent_figures_print_nothing_or_dashes() {
        let l = fixture::empty_load();
        let t = load_table(&l);
        assert!(
            t.starts_with("load: 1 worker, speed x1, 0.2 s + 0.0 s drain, interrupted\n"),
            "{t}"
        );
        assert!(
            t.contains("rate: target 0.0/s, achieved 0.0/s (- of target)"),
            "{t}"
        );
        assert!(t.contains("dropped: none of 0 arrivals"), "{t}");
        assert!(t.contains("success -;"), "{t}");
        assert!(
            t.contains("\ndecision                          -    -      -    -\n"),
            "{t}"
        );
        assert!(!t.contains("RSS") && !t.contains("CPU"), "{t}");
        // CPU time without a utilisation: the seconds alone.
        let mut l = l;
        l.cpu_seconds = Some(0.5);
        assert!(load_table(&l).ends_with("    -\n\nCPU: 0.50 s\n"));
    }
}
