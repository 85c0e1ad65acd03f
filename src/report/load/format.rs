//! How a load test's figures print, in the terminal, on the page and in the charts alike: a
//! latency in the unit that suits it (`812 us`, `3.21 ms`, `1.20 s`), rates per wall second,
//! memory in MiB, and the run's heading facts (workers, speed, duration, drain, interrupted).
//!
//! The terminal writes `us` (plain ASCII for CI logs) and `-` for a missing value; the page and
//! the charts `µs` and `–` (like [`Style`] elsewhere).

use crate::metrics::load::{LoadSummary, Percentiles};
use crate::report::replicated::Style;

/// A latency row of the percentile tables: its label and where its percentiles are.
pub(crate) struct Latency {
    pub label: &'static str,
    pub of: fn(&LoadSummary) -> &Percentiles,
}

/// The rows of the percentile tables (terminal and page), in this order.
pub(crate) const LATENCIES: [Latency; 4] = [
    Latency {
        label: "issue lag",
        of: |l| &l.issue_lag,
    },
    Latency {
        label: "decision",
        of: |l| &l.decision,
    },
    Latency {
        label: "router overhead",
        of: |l| &l.overhead,
    },
    Latency {
        label: "time to verify (from intended)",
        of: |l| &l.time_to_verify,
    },
];

/// A percentile column: its heading and its value.
pub(crate) type Column = (&'static str, fn(&Percentiles) -> f64);

/// The percentile columns of the tables and the overhead chart.
pub(crate) const COLUMNS: [Column; 4] = [
    ("p50", |p| p.p50),
    ("p99", |p| p.p99),
    ("p99.9", |p| p.p999),
    ("max", |p| p.max),
];

fn micro(style: Style) -> &'static str {
    match style {
        Style::Terminal => "us",
        Style::Html => "µs",
    }
}

/// `v` with two decimals under 10, one under 100, none above.
fn three_digits(v: f64) -> String {
    if v < 9.995 {
        format!("{v:.2}")
    } else if v < 99.95 {
        format!("{v:.1}")
    } else {
        format!("{v:.0}")
    }
}

/// A latency of `us` microseconds in the unit that suits it: `812 us`, `3.21 ms`, `45.6 ms`,
/// `1.20 s` (three significant digits from a millisecond up); a dash for a value that is not a
/// finite, non-negative number.
pub(crate) fn latency(us: f64, style: Style) -> String {
    if !(us.is_finite() && us >= 0.0) {
        return style.dash().to_owned();
    }
    if us.round() < 1_000.0 {
        format!("{:.0} {}", us.round() + 0.0, micro(style))
    } else if us < 999_500.0 {
        format!("{} ms", three_digits(us / 1e3))
    } else {
        format!("{} s", three_digits(us / 1e6))
    }
}

/// The cells of one percentile row: every column's value, or dashes without a sample.
pub(crate) fn latency_cells(p: &Percentiles, style: Style) -> Vec<String> {
    COLUMNS
        .iter()
        .map(|(_, v)| {
            if p.count == 0 {
                style.dash().to_owned()
            } else {
                latency(v(p), style)
            }
        })
        .collect()
}

/// Wall seconds with one decimal: `60.0 s`.
pub(crate) fn seconds(s: f64) -> String {
    format!("{:.1} s", s + 0.0)
}

/// Arrivals per wall second with one decimal: `480.2/s`.
pub(crate) fn rate(per_second: f64) -> String {
    format!("{:.1}/s", per_second + 0.0)
}

/// A share as a percentage with two decimals (`96.04%`, on the page `96.04 %`); a dash for no
/// share (nothing to divide by).
pub(crate) fn share(part: u64, whole: u64, style: Style) -> String {
    if whole == 0 {
        return style.dash().to_owned();
    }
    percent(part as f64 / whole as f64, style)
}

/// `0.9604` as `96.04%` (on the page `96.04 %`).
pub(crate) fn percent(v: f64, style: Style) -> String {
    let space = if style == Style::Html { " " } else { "" };
    format!("{:.2}{space}%", 100.0 * v + 0.0)
}

/// Bytes as MiB with one decimal: `123.4 MiB`.
pub(crate) fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// The speed factor as `--speed` takes it: `10`, `2.5`, `0.25`.
pub(crate) fn factor(k: f64) -> String {
    let s = format!("{:.2}", k + 0.0);
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// The speed factor as a multiplier: `x10`, `x2.5`, `x0.25`.
pub(crate) fn speed(k: f64) -> String {
    format!("x{}", factor(k))
}

/// `1 worker`, `2 workers`.
pub(crate) fn workers(n: usize) -> String {
    format!("{n} worker{}", if n == 1 { "" } else { "s" })
}

/// `1 core`, `8 cores`.
pub(crate) fn cores(n: usize) -> String {
    format!("{n} core{}", if n == 1 { "" } else { "s" })
}

/// The heading facts of a load test, in order: `2 workers`, `speed x10`, `60.0 s + 2.5 s
/// drain`, and `interrupted` when a signal stopped it.
pub(crate) fn facts(l: &LoadSummary) -> Vec<String> {
    let mut out = vec![
        workers(l.threads),
        format!("speed {}", speed(l.speed)),
        format!("{} + {} drain", seconds(l.duration), seconds(l.drain)),
    ];
    if l.interrupted {
        out.push("interrupted".to_owned());
    }
    out
}

/// CPU seconds with two decimals, and the utilisation over every core when known:
/// `45.20 s (37.70% of 8 cores)`.
pub(crate) fn cpu(l: &LoadSummary, style: Style) -> Option<String> {
    let seconds = l.cpu_seconds?;
    let mut s = format!("{seconds:.2} s");
    if let Some(u) = l.cpu_utilisation {
        s.push_str(&format!(" ({} of {})", percent(u, style), cores(l.cores)));
    }
    Some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latencies_print_in_the_unit_that_suits_them() {
        let t = |us| latency(us, Style::Terminal);
        assert_eq!(t(0.0), "0 us");
        assert_eq!(t(1.0), "1 us");
        assert_eq!(t(812.4), "812 us");
        assert_eq!(t(999.4), "999 us");
        assert_eq!(t(999.6), "1.00 ms");
        assert_eq!(t(3_214.0), "3.21 ms");
        assert_eq!(t(45_600.0), "45.6 ms");
        assert_eq!(t(456_000.0), "456 ms");
        assert_eq!(t(999_700.0), "1.00 s");
        assert_eq!(t(1_204_000.0), "1.20 s");
        assert_eq!(t(72_000_000.0), "72.0 s");
        assert_eq!(t(f64::NAN), "-");
        assert_eq!(latency(812.0, Style::Html), "812 µs");
        assert_eq!(latency(-1.0, Style::Html), "–");
    }

    #[test]
    fn a_row_without_samples_is_dashes() {
        let none = Percentiles::default();
        assert_eq!(latency_cells(&none, Style::Terminal), ["-", "-", "-", "-"]);
        let p = Percentiles {
            count: 3,
            mean: 2.0,
            p50: 2.0,
            p99: 1_500.0,
            p999: 2_000_000.0,
            max: 2_000_000.0,
        };
        assert_eq!(
            latency_cells(&p, Style::Terminal),
            ["2 us", "1.50 ms", "2.00 s", "2.00 s"]
        );
    }

    #[test]
    fn the_other_figures_print_plainly() {
        assert_eq!(speed(10.0), "x10");
        assert_eq!(speed(2.5), "x2.5");
        assert_eq!(speed(0.25), "x0.25");
        assert_eq!(seconds(60.0), "60.0 s");
        assert_eq!(rate(480.24), "480.2/s");
        assert_eq!(share(1, 3, Style::Terminal), "33.33%");
        assert_eq!(share(1, 0, Style::Html), "–");
        assert_eq!(mib(3 * 1024 * 1024 / 2), "1.5 MiB");
        assert_eq!(workers(1), "1 worker");
        assert_eq!(cores(1), "1 core");
    }
}
