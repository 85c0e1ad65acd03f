//! What every view of a replicated run (`--seeds N`, N > 1) shares: which metrics are the
//! headline ones and in which order, the unit each metric prints in, and how a mean with its
//! half-width, a difference and its interval print.
//!
//! Nothing here computes a statistic. Every number a view shows comes from
//! `RunSummary::replications` (per-seed values, means and their intervals) or
//! `RunSummary::comparisons` (paired differences, their intervals, verdicts and variance
//! reductions), computed by `metrics::compare`; this module only picks and formats them, so the
//! terminal, the CSV files, the charts and the page agree with `summary.json`.

use crate::metrics::compare::{Comparison, MetricEstimate, PolicyReplications};
use crate::metrics::{ExperimentInfo, RunSummary};

/// The headline metrics every comparison view shows, in this order, before each fault's
/// `<fault>.detection_delay` and `<fault>.failed_during_fault` (see [`headline_metrics`]).
pub const HEADLINE: [&str; 9] = [
    "success_rate",
    "conversion_rate",
    "ttv_p50",
    "ttv_p99",
    "attempts_per_verification",
    "cost_per_success",
    "duplicate_deliveries",
    "ejections",
    "flaps",
];

/// [`HEADLINE`], then per fault of the scenario (in scenario order) its detection delay and its
/// failed verifications: the metric names of `SeedMetrics::metrics` the views show.
pub fn headline_metrics(s: &RunSummary) -> Vec<String> {
    let mut out: Vec<String> = HEADLINE.iter().map(|m| (*m).to_owned()).collect();
    for f in &s.scenario.faults {
        out.push(format!("{}.detection_delay", f.name));
        out.push(format!("{}.failed_during_fault", f.name));
    }
    out
}

/// The comparisons of the headline metrics, one per (policy, metric): policies in the order
/// they first appear in `comparisons`, metrics in [`headline_metrics`] order. A (policy, metric)
/// without a comparison (undefined on every common seed, e.g. a fault the baseline never
/// detected) has no row.
pub fn headline_comparisons(s: &RunSummary) -> Vec<&Comparison> {
    let metrics = headline_metrics(s);
    let mut policies: Vec<&str> = Vec::new();
    for c in &s.comparisons {
        if !policies.contains(&c.policy.as_str()) {
            policies.push(&c.policy);
        }
    }
    let mut out = Vec::new();
    for p in policies {
        for m in &metrics {
            if let Some(c) = s
                .comparisons
                .iter()
                .find(|c| c.policy == p && &c.metric == m)
            {
                out.push(c);
            }
        }
    }
    out
}

/// The policy every other one is compared with: the experiment's, else the comparisons'.
pub fn baseline(s: &RunSummary) -> Option<&str> {
    s.experiment
        .as_ref()
        .map(|e| e.baseline.as_str())
        .or_else(|| s.comparisons.first().map(|c| c.baseline.as_str()))
}

/// How many seeds the run replicated: the experiment's seeds, else the most any policy has.
pub fn seed_count(s: &RunSummary) -> usize {
    s.experiment.as_ref().map_or_else(
        || {
            s.replications
                .iter()
                .map(|r| r.seeds.len())
                .max()
                .unwrap_or(0)
        },
        |e| e.seeds.len(),
    )
}

/// The estimate of `metric` for `policy`, if the summary carries one.
pub fn estimate<'a>(s: &'a RunSummary, policy: &str, metric: &str) -> Option<&'a MetricEstimate> {
    replications(s, policy)?.estimate(metric)
}

/// The replications of `policy`, if any.
pub fn replications<'a>(s: &'a RunSummary, policy: &str) -> Option<&'a PolicyReplications> {
    s.replications.iter().find(|r| r.policy == policy)
}

/// What a metric's values are, which decides how they print.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    /// A share, printed as a percentage; its half-widths and differences in percentage points.
    Rate,
    /// Seconds.
    Seconds,
    /// Cost units, four decimals as everywhere else.
    Cost,
    /// Attempts per verification, three decimals.
    Ratio,
    /// A count per run; its mean over seeds has a decimal.
    Count,
}

impl Unit {
    /// The unit of a metric as `metrics::compare::seed_metrics` names it.
    pub fn of(metric: &str) -> Unit {
        match metric {
            "success_rate" | "conversion_rate" | "failover_rate" => Unit::Rate,
            "cost_total" | "cost_per_success" => Unit::Cost,
            "attempts_per_verification" => Unit::Ratio,
            "duplicate_deliveries" | "ejections" | "flaps" | "late_deliveries" => Unit::Count,
            m if m.ends_with(".failed_during_fault") => Unit::Count,
            // TTV percentiles, panic_time, time_ejected, fault detection and recovery delays.
            _ => Unit::Seconds,
        }
    }

    /// Decimals of a value in this unit (of percentage points for rates).
    fn decimals(self) -> usize {
        match self {
            Unit::Rate | Unit::Seconds => 2,
            Unit::Cost => 4,
            Unit::Ratio => 3,
            Unit::Count => 1,
        }
    }

    /// Factor from the summary's value to the printed number (shares to percentages).
    fn factor(self) -> f64 {
        match self {
            Unit::Rate => 100.0,
            _ => 1.0,
        }
    }
}

/// Where the text goes: the terminal writes `99.95%` and `3.52s` (as its tables always have),
/// the HTML page `99.95 %` and `3.52 s`, and each its own "missing" mark.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    Terminal,
    Html,
}

impl Style {
    /// What a missing value shows as.
    pub fn dash(self) -> &'static str {
        match self {
            Style::Terminal => "-",
            Style::Html => "–",
        }
    }

    fn space(self) -> &'static str {
        match self {
            Style::Terminal => "",
            Style::Html => " ",
        }
    }
}

/// `-0.0` prints as `0`.
fn unsigned_zero(v: f64) -> f64 {
    v + 0.0
}

/// A value of `metric` with its unit: `99.95%`, `3.52s`, `0.0822`, `1.146`, `71.4`.
pub fn value(metric: &str, v: f64, style: Style) -> String {
    let unit = Unit::of(metric);
    let d = unit.decimals();
    let x = unsigned_zero(v * unit.factor());
    match unit {
        Unit::Rate => format!("{x:.d$}{}%", style.space()),
        Unit::Seconds => format!("{x:.d$}{}s", style.space()),
        _ => format!("{x:.d$}"),
    }
}

/// A mean with the half-width of its interval, `99.95% ± 0.02` (percentage points for rates,
/// seconds for times); `99.95% ± -` without an interval, `-` without an estimate.
pub fn mean_pm(metric: &str, e: Option<&MetricEstimate>, style: Style) -> String {
    let Some(e) = e else {
        return style.dash().to_owned();
    };
    let unit = Unit::of(metric);
    let hw = e.interval.half_width.map_or_else(
        || style.dash().to_owned(),
        |h| format!("{:.*}", unit.decimals(), unsigned_zero(h * unit.factor())),
    );
    format!("{} ± {hw}", value(metric, e.interval.mean, style))
}

/// Decimals for a row of numbers of size up to `magnitude`: the unit's, or more when the
/// numbers are so small that the unit's decimals would print them as zero (two significant
/// digits, at most four extra decimals).
fn decimals_for(default: usize, magnitude: f64) -> usize {
    if !(magnitude.is_finite() && magnitude > 0.0) {
        return default;
    }
    let wanted = 1 - magnitude.log10().floor() as i64;
    (wanted.max(default as i64) as usize).min(default + 4)
}

/// A comparison's mean difference with its unit (`+0.12 pp`, `-0.40s`, `+0.0010`, `+1.4`) and
/// its interval `[lo, hi]` in the same unit and decimals (`-` without one). The decimals grow
/// when the unit's would print a real difference as zero.
pub fn difference(c: &Comparison, style: Style) -> (String, String) {
    let unit = Unit::of(&c.metric);
    let f = unit.factor();
    let magnitude = [Some(c.mean_difference), c.lo, c.hi]
        .into_iter()
        .flatten()
        .map(|v| (v * f).abs())
        .fold(0.0, f64::max);
    let d = decimals_for(unit.decimals(), magnitude);
    let signed = |v: f64| format!("{:+.d$}", unsigned_zero(v * f));
    let diff = signed(c.mean_difference);
    let diff = match unit {
        Unit::Rate => format!("{diff} pp"),
        Unit::Seconds => format!("{diff}{}s", style.space()),
        _ => diff,
    };
    let interval = match (c.lo, c.hi) {
        (Some(lo), Some(hi)) => format!("[{}, {}]", signed(lo), signed(hi)),
        _ => style.dash().to_owned(),
    };
    (diff, interval)
}

/// How much narrower pairing made the interval: `x12.3`; `-` when undefined.
pub fn reduction(v: Option<f64>, style: Style) -> String {
    v.map_or_else(|| style.dash().to_owned(), |v| format!("x{v:.1}"))
}

/// A confidence level as a percentage: `0.95` -> `95%`, `0.999` -> `99.9%`.
pub fn confidence(c: f64, style: Style) -> String {
    let s = format!("{:.2}", 100.0 * c);
    let s = s.trim_end_matches('0').trim_end_matches('.');
    format!("{s}{}%", style.space())
}

/// The confidence of the run's intervals, if the summary says.
pub fn run_confidence(s: &RunSummary) -> Option<f64> {
    s.experiment.as_ref().map(|e| e.confidence)
}

/// Precision mode's outcome in words, `None` without precision targets: `success_rate to ±
/// 0.050 pp, ttv_p99 to ± 0.50s: targets reached` (or `stopped at the maximum number of seeds`).
pub fn precision(e: &ExperimentInfo, style: Style) -> Option<String> {
    if e.precision.is_empty() {
        return None;
    }
    let targets: Vec<String> = e
        .precision
        .iter()
        .map(|t| {
            let unit = Unit::of(&t.metric);
            let hw = format!(
                "{:.*}",
                decimals_for(unit.decimals(), t.half_width * unit.factor()),
                t.half_width * unit.factor()
            );
            let hw = match unit {
                Unit::Rate => format!("{hw} pp"),
                Unit::Seconds => format!("{hw}{}s", style.space()),
                _ => hw,
            };
            format!("{} to ± {hw}", t.metric)
        })
        .collect();
    let outcome = match e.stopped.as_deref() {
        Some("target_reached") => "targets reached".to_owned(),
        Some("max_seeds") => {
            "stopped at the maximum number of seeds before every target".to_owned()
        }
        Some(other) => format!("stopped: {other}"),
        None => "no stopping reason recorded".to_owned(),
    };
    Some(format!("{}: {outcome}", targets.join(", ")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::compare::{Better, Interval, Verdict};

    fn comparison(metric: &str, mean: f64, lo: Option<f64>, hi: Option<f64>) -> Comparison {
        Comparison {
            policy: "p".into(),
            baseline: "b".into(),
            metric: metric.into(),
            better: Better::Lower,
            n: 5,
            mean_difference: mean,
            half_width: lo.zip(hi).map(|(lo, hi)| (hi - lo) / 2.0),
            lo,
            hi,
            verdict: Verdict::NoDetectableDifference,
            unpaired_half_width: None,
            variance_reduction: None,
        }
    }

    #[test]
    fn units_follow_the_metric_names() {
        let check = |metric: &str, unit: Unit| assert_eq!(Unit::of(metric), unit, "{metric}");
        check("success_rate", Unit::Rate);
        check("failover_rate", Unit::Rate);
        check("ttv_p999", Unit::Seconds);
        check("panic_time", Unit::Seconds);
        check("a-down.detection_delay", Unit::Seconds);
        check("a.b.recovery_delay", Unit::Seconds);
        check("a-down.failed_during_fault", Unit::Count);
        check("cost_per_success", Unit::Cost);
        check("attempts_per_verification", Unit::Ratio);
        check("flaps", Unit::Count);
    }

    #[test]
    fn values_and_means_print_in_their_units() {
        let est = |mean: f64, hw: Option<f64>| MetricEstimate {
            metric: String::new(),
            better: Better::Higher,
            interval: Interval {
                n: 5,
                mean,
                half_width: hw,
                lo: hw.map(|h| mean - h),
                hi: hw.map(|h| mean + h),
            },
        };
        let check = |metric: &str, mean: f64, hw: Option<f64>, style: Style, expect: &str| {
            assert_eq!(mean_pm(metric, Some(&est(mean, hw)), style), expect);
        };
        check(
            "success_rate",
            0.9995,
            Some(0.0002),
            Style::Terminal,
            "99.95% ± 0.02",
        );
        check(
            "success_rate",
            0.9995,
            Some(0.0002),
            Style::Html,
            "99.95 % ± 0.02",
        );
        check(
            "ttv_p99",
            3.5213,
            Some(0.04),
            Style::Terminal,
            "3.52s ± 0.04",
        );
        check(
            "cost_per_success",
            0.08221,
            Some(0.0011),
            Style::Terminal,
            "0.0822 ± 0.0011",
        );
        check(
            "attempts_per_verification",
            1.1456,
            Some(0.004),
            Style::Terminal,
            "1.146 ± 0.004",
        );
        check("ejections", 71.4, Some(3.21), Style::Terminal, "71.4 ± 3.2");
        check("flaps", 0.0, Some(0.0), Style::Terminal, "0.0 ± 0.0");
        check("success_rate", 0.5, None, Style::Terminal, "50.00% ± -");
        assert_eq!(mean_pm("ttv_p50", None, Style::Html), "–");
    }

    #[test]
    fn differences_carry_sign_unit_and_enough_decimals() {
        let check = |c: Comparison, style: Style, diff: &str, interval: &str| {
            assert_eq!(
                difference(&c, style),
                (diff.to_owned(), interval.to_owned())
            );
        };
        let t = Style::Terminal;
        check(
            comparison("success_rate", 0.0012, Some(0.0005), Some(0.0019)),
            t,
            "+0.12 pp",
            "[+0.05, +0.19]",
        );
        // A difference of 0.002 pp would print as +0.00 with two decimals.
        check(
            comparison("success_rate", 0.00002, Some(0.00001), Some(0.00003)),
            t,
            "+0.0020 pp",
            "[+0.0010, +0.0030]",
        );
        check(
            comparison("ttv_p99", -0.4, Some(-0.61), Some(-0.19)),
            t,
            "-0.40s",
            "[-0.61, -0.19]",
        );
        check(
            comparison("ttv_p99", -0.4, Some(-0.61), Some(-0.19)),
            Style::Html,
            "-0.40 s",
            "[-0.61, -0.19]",
        );
        check(
            comparison("cost_per_success", 0.001, Some(0.0004), Some(0.0016)),
            t,
            "+0.0010",
            "[+0.0004, +0.0016]",
        );
        check(
            comparison("ejections", 12.0, Some(8.26), Some(15.74)),
            t,
            "+12.0",
            "[+8.3, +15.7]",
        );
        check(
            comparison("flaps", 0.0, Some(0.0), Some(0.0)),
            t,
            "+0.0",
            "[+0.0, +0.0]",
        );
        check(comparison("flaps", -0.0, None, None), t, "+0.0", "-");
        check(
            comparison("flaps", 1.0, None, None),
            Style::Html,
            "+1.0",
            "–",
        );
    }

    #[test]
    fn decimals_grow_only_for_small_numbers() {
        for (default, magnitude, expect) in [
            (2, 0.12, 2),
            (2, 5.0, 2),
            (2, 0.012, 3),
            (2, 0.002, 4),
            (2, 1e-12, 6),
            (2, 0.0, 2),
            (1, 12.0, 1),
            (1, 0.3, 2),
            (4, 0.0011, 4),
        ] {
            assert_eq!(
                decimals_for(default, magnitude),
                expect,
                "{default} {magnitude}"
            );
        }
    }

    #[test]
    fn small_helpers_format_as_documented() {
        assert_eq!(reduction(Some(12.34), Style::Terminal), "x12.3");
        assert_eq!(reduction(None, Style::Terminal), "-");
        assert_eq!(confidence(0.95, Style::Terminal), "95%");
        assert_eq!(confidence(0.999, Style::Html), "99.9 %");
        assert_eq!(value("success_rate", 1.0, Style::Terminal), "100.00%");
    }

    #[test]
    fn precision_outcomes_are_worded() {
        use crate::metrics::PrecisionTarget;
        let mut e = ExperimentInfo {
            seeds: vec![1, 2, 3],
            confidence: 0.95,
            baseline: "b".into(),
            precision: Vec::new(),
            stopped: None,
        };
        assert_eq!(precision(&e, Style::Terminal), None);
        e.precision = vec![
            PrecisionTarget {
                metric: "success_rate".into(),
                half_width: 0.0005,
            },
            PrecisionTarget {
                metric: "ttv_p99".into(),
                half_width: 0.5,
            },
        ];
        e.stopped = Some("target_reached".into());
        assert_eq!(
            precision(&e, Style::Html).unwrap(),
            "success_rate to ± 0.050 pp, ttv_p99 to ± 0.50 s: targets reached"
        );
        e.stopped = Some("max_seeds".into());
        assert!(
            precision(&e, Style::Terminal)
                .unwrap()
                .ends_with("maximum number of seeds before every target")
        );
    }
}
