//! The gate's terminal text: a header per scenario, one line per check, the totals.
//!
//! Every number prints in its metric's unit through `metrics::metric_path::Unit` (percentages for
//! rates and percentage points for their differences, `s`/`ms` for durations), the way the
//! scenario file writes thresholds, so a line can be compared with the `[[expect]]` it checks
//! without converting anything. The JUnit and Markdown exporters reuse the pieces below, so the
//! three outputs of one gate say the same thing in the same words.
//!
//! Columns have fixed minimum widths rather than widths measured over the report: a line's layout
//! then depends on that check alone, so CI logs of two runs diff line by line. A longer name
//! pushes its line out instead of being cut.

use std::fmt::Write as _;

use super::replicated::{self, Style};
// Names come from scenario files: a newline or an escape sequence in one must not split a
// check's line or recolour the log.
use super::terminal::printable;
use crate::metrics::gate::{
    BaselineState, Check, CheckKind, Estimate, GateReport, ScenarioGate, Totals,
};
use crate::metrics::metric_path::{Tolerance, Unit};

/// Width of the status column: the longest status, `REGRESSED`.
const STATUS_WIDTH: usize = 9;
/// Width of the metric-and-threshold column: fits `faults.<fault>.detection_delay < 30s` for a
/// short fault name.
const SUBJECT_WIDTH: usize = 36;
/// Width of a policy name.
const POLICY_WIDTH: usize = 10;

/// `-0.0` prints as `0`, not `-0`.
fn unsigned_zero(v: f64) -> f64 {
    v + 0.0
}

/// The size of a difference in `unit`, unsigned: `0.04 pp`, `1.2s`, `300ms`.
fn magnitude(unit: Unit, d: f64) -> String {
    unit.format_difference(unsigned_zero(d.abs()))
        .trim_start_matches('+')
        .to_owned()
}

/// A value in its metric's unit: `99.73%`, `23.4s`, `750ms`, `0.0512`.
pub fn value_text(unit: Unit, v: f64) -> String {
    unit.format(unsigned_zero(v))
}

/// A mean with the half-width of its interval: `99.73% ± 0.04 pp`, `23.4s ± 1.2s`; the mean
/// alone without an interval (one seed). The half-width gets two significant digits and the
/// mean as many decimals, so no digit is printed that the interval says is noise.
pub fn estimate_text(unit: Unit, e: &Estimate) -> String {
    let Some(h) = e.half_width() else {
        return value_text(unit, e.mean);
    };
    let (scale, suffix, pm_suffix) = match unit {
        Unit::Rate => (100.0, "%", " pp"),
        Unit::Duration if e.mean.abs() < 1.0 => (1e3, "ms", "ms"),
        Unit::Duration => (1.0, "s", "s"),
        Unit::Count | Unit::Cost | Unit::Number => (1.0, "", ""),
    };
    let (mean, half) = (unsigned_zero(e.mean) * scale, h.abs() * scale);
    if half == 0.0 || !half.is_finite() {
        return format!("{} ± 0", value_text(unit, e.mean));
    }
    let decimals = (1 - half.log10().floor() as i32).clamp(0, 9) as usize;
    format!("{mean:.decimals$}{suffix} ± {half:.decimals$}{pm_suffix}")
}

/// A difference with its interval: `-2.63 pp [-2.91, -2.35]`, `-1.6s [-2.1s, -1.1s]`. Like
/// [`estimate_text`], the interval's half-width decides the decimals; rate bounds drop the
/// ` pp` the mean already carries.
pub fn difference_text(unit: Unit, d: &Estimate) -> String {
    let (Some(lo), Some(hi), Some(h)) = (d.lo, d.hi, d.half_width()) else {
        return unit.format_difference(unsigned_zero(d.mean));
    };
    if h == 0.0 || !h.is_finite() {
        let signed = |v: f64| unit.format_difference(unsigned_zero(v));
        let bound = |v: f64| signed(v).trim_end_matches(" pp").to_owned();
        return format!("{} [{}, {}]", signed(d.mean), bound(lo), bound(hi));
    }
    let largest = lo.abs().max(hi.abs());
    let (scale, mean_suffix, bound_suffix) = match unit {
        Unit::Rate => (100.0, " pp", ""),
        Unit::Duration if largest < 1.0 => (1e3, "ms", "ms"),
        Unit::Duration => (1.0, "s", "s"),
        Unit::Count | Unit::Cost | Unit::Number => (1.0, "", ""),
    };
    let decimals = (1 - (h * scale).log10().floor() as i32).clamp(0, 9) as usize;
    let signed = |v: f64| {
        let v = unsigned_zero(v) * scale;
        let text = format!("{v:.decimals$}");
        // A value that rounds to zero prints without a sign, whatever its sign was.
        if text
            .trim_start_matches('-')
            .chars()
            .all(|c| c == '0' || c == '.')
        {
            text.trim_start_matches('-').to_owned()
        } else if v > 0.0 {
            format!("+{text}")
        } else {
            text
        }
    };
    format!(
        "{}{mean_suffix} [{}{bound_suffix}, {}{bound_suffix}]",
        signed(d.mean),
        signed(lo),
        signed(hi)
    )
}

/// A tolerance as written in the scenario file, and in the metric's unit when it is relative to
/// the baseline (the size the verdict used): `0.1 pp`, `5% = 1.25s`. `absolute` is `None` when
/// there was no baseline mean, which leaves a relative tolerance without a size: `5%`.
pub fn tolerance_text(unit: Unit, tolerance: Tolerance, absolute: Option<f64>) -> String {
    match (tolerance, absolute) {
        (Tolerance::Relative(_), Some(a)) => {
            format!("{} = {}", tolerance.display(unit), magnitude(unit, a))
        }
        _ => tolerance.display(unit),
    }
}

/// What a check is about: the metric and its threshold (`success_rate >= 99.5%`) for an
/// expectation, the metric alone for a regression.
pub fn subject(check: &Check) -> String {
    match &check.kind {
        CheckKind::Expectation { threshold } => {
            format!("{} {}", check.metric, threshold.display(check.unit))
        }
        CheckKind::Regression { .. } => check.metric.clone(),
    }
}

/// The numbers behind a check's status, without its note: the measured value for an
/// expectation; the baseline, the new value, the paired difference with its interval and the
/// tolerance for a regression. `-` stands for a value that does not exist.
pub fn details(check: &Check) -> String {
    let unit = check.unit;
    let now = check
        .value
        .as_ref()
        .map_or_else(|| "-".to_owned(), |e| estimate_text(unit, e));
    match &check.kind {
        CheckKind::Expectation { .. } => now,
        CheckKind::Regression {
            baseline_policy,
            tolerance,
            tolerance_absolute,
            baseline,
            difference,
        } => {
            let now = check
                .value
                .map_or_else(|| "-".to_owned(), |e| value_text(unit, e.mean));
            let base = baseline.map_or_else(|| "-".to_owned(), |b| value_text(unit, b));
            // A renamed policy is paired with its old name's values: say whose.
            let whose = if *baseline_policy == check.policy {
                String::new()
            } else {
                format!(" (of {baseline_policy})")
            };
            let mut s = format!("baseline{whose} {base} -> now {now}");
            if let Some(d) = difference {
                let _ = write!(s, ", difference {}", difference_text(unit, d));
            }
            let _ = write!(
                s,
                " (tolerance {})",
                tolerance_text(unit, *tolerance, baseline.map(|_| *tolerance_absolute))
            );
            s
        }
    }
}

/// One line per check: status, metric (and threshold), policy, numbers, then the note in
/// parentheses when there is one.
///
/// `PASS      success_rate >= 99.5%                policy default    99.73% ± 0.04 pp`
pub fn check_line(check: &Check) -> String {
    let mut line = format!(
        "{:<STATUS_WIDTH$} {:<SUBJECT_WIDTH$} policy {:<POLICY_WIDTH$} {}",
        check.status.as_str(),
        subject(check),
        check.policy,
        details(check),
    );
    if let Some(note) = &check.note {
        let _ = write!(line, " ({note})");
    }
    printable(&line).into_owned()
}

/// `10 seeds`, `1 seed`.
fn seeds_text(n: usize) -> String {
    format!("{n} seed{}", if n == 1 { "" } else { "s" })
}

/// Where the regressions were checked against, in words.
fn baseline_text(s: &ScenarioGate) -> String {
    let file = s.baseline_file.as_deref();
    match (&s.baseline, file) {
        (BaselineState::Current, Some(f)) => format!("baseline {f}"),
        (BaselineState::Current, None) => "baseline".to_owned(),
        (BaselineState::Stale, Some(f)) => {
            format!("baseline {f} (STALE: measured in a different world)")
        }
        (BaselineState::Stale, None) => {
            "baseline (STALE: measured in a different world)".to_owned()
        }
        (BaselineState::Missing, Some(f)) => {
            format!("no baseline at {f} (regressions not checked)")
        }
        (BaselineState::Missing | BaselineState::NotAsked, _) => {
            "no baseline (regressions not checked)".to_owned()
        }
    }
}

/// `gate scenarios/ci/outage.toml: outage-ci, 10 seeds, 95% intervals, baseline
/// reports/baselines/outage-ci.json`.
pub fn scenario_header(s: &ScenarioGate) -> String {
    printable(&format!(
        "gate {}: {}, {}, {} intervals, {}",
        s.file,
        s.scenario,
        seeds_text(s.seeds.len()),
        replicated::confidence(s.confidence, Style::Terminal),
        baseline_text(s),
    ))
    .into_owned()
}

/// `gate: 14 checks: 11 passed, 1 failed, 1 regressed, 1 improved, 0 skipped -> FAILED`.
pub fn totals_line(t: &Totals) -> String {
    format!(
        "gate: {} check{}: {} passed, {} failed, {} regressed, {} improved, {} skipped -> {}",
        t.checks,
        if t.checks == 1 { "" } else { "s" },
        t.passed,
        t.failed,
        t.regressed,
        t.improved,
        t.skipped,
        if t.fails() { "FAILED" } else { "passed" },
    )
}

/// The whole gate: per scenario its header, its warnings, its checks and a blank line; then the
/// totals. Ends with a newline.
pub fn render(report: &GateReport) -> String {
    let mut out = String::new();
    for s in &report.scenarios {
        out.push_str(&scenario_header(s));
        out.push('\n');
        for w in &s.warnings {
            let _ = writeln!(out, "warning: {}", printable(w));
        }
        if s.checks.is_empty() {
            out.push_str("no checks\n");
        }
        for c in &s.checks {
            out.push_str(&check_line(c));
            out.push('\n');
        }
        out.push('\n');
    }
    out.push_str(&totals_line(&report.totals()));
    out.push('\n');
    out
}

/// Hand-made gates shared by the three exporters' tests.
#[cfg(test)]
pub(crate) mod fixture {
    use crate::metrics::gate::{
        BaselineState, Check, CheckKind, Estimate, GateReport, ScenarioGate, Status,
    };
    use crate::metrics::metric_path::{Op, Threshold, Tolerance, Unit};

    fn est(mean: f64, half_width: f64) -> Option<Estimate> {
        Some(Estimate {
            n: 10,
            mean,
            lo: Some(mean - half_width),
            hi: Some(mean + half_width),
        })
    }

    fn expectation(
        status: Status,
        metric: &str,
        unit: Unit,
        policy: &str,
        threshold: Threshold,
        value: Option<Estimate>,
    ) -> Check {
        Check {
            status,
            metric: metric.into(),
            unit,
            policy: policy.into(),
            value,
            kind: CheckKind::Expectation { threshold },
            note: None,
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn regression(
        status: Status,
        metric: &str,
        unit: Unit,
        policy: &str,
        tolerance: Tolerance,
        baseline: Option<f64>,
        now: Option<Estimate>,
        difference: Option<Estimate>,
    ) -> Check {
        Check {
            status,
            metric: metric.into(),
            unit,
            policy: policy.into(),
            value: now,
            kind: CheckKind::Regression {
                baseline_policy: policy.into(),
                tolerance,
                tolerance_absolute: tolerance.absolute(baseline.unwrap_or(0.0)),
                baseline,
                difference,
            },
            note: None,
        }
    }

    /// Two scenarios: a current baseline with a check of every status, and a stale one with a
    /// warning, a renamed policy and a check skipped for too few paired seeds.
    pub(crate) fn report() -> GateReport {
        let ge = |v| Threshold {
            op: Op::Ge,
            value: v,
        };
        let lt = |v| Threshold {
            op: Op::Lt,
            value: v,
        };
        let outage = ScenarioGate {
            file: "scenarios/ci/outage.toml".into(),
            scenario: "outage-ci".into(),
            seeds: (1..=10).collect(),
            confidence: 0.95,
            baseline: BaselineState::Current,
            baseline_file: Some("reports/baselines/outage-ci.json".into()),
            warnings: vec![],
            checks: vec![
                expectation(
                    Status::Pass,
                    "success_rate",
                    Unit::Rate,
                    "default",
                    ge(0.995),
                    est(0.9973, 0.0004),
                ),
                expectation(
                    Status::Fail,
                    "time_to_verify.p99",
                    Unit::Duration,
                    "default",
                    lt(20.0),
                    est(23.4, 1.2),
                ),
                Check {
                    note: Some("undefined on 2 of 10 seeds: the fault was never detected".into()),
                    ..expectation(
                        Status::Fail,
                        "faults.outage.detection_delay",
                        Unit::Duration,
                        "no-trips",
                        lt(30.0),
                        est(12.5, 3.25),
                    )
                },
                regression(
                    Status::Regressed,
                    "success_rate",
                    Unit::Rate,
                    "no-trips",
                    Tolerance::Absolute(0.001),
                    Some(0.9973),
                    est(0.971, 0.0015),
                    Some(Estimate {
                        n: 10,
                        mean: -0.0263,
                        lo: Some(-0.0291),
                        hi: Some(-0.0235),
                    }),
                ),
                regression(
                    Status::Improved,
                    "time_to_verify.p99",
                    Unit::Duration,
                    "default",
                    Tolerance::Relative(0.05),
                    Some(25.0),
                    est(23.4, 1.2),
                    Some(Estimate {
                        n: 10,
                        mean: -1.6,
                        lo: Some(-2.1),
                        hi: Some(-1.1),
                    }),
                ),
                regression(
                    Status::Pass,
                    "cost_per_success",
                    Unit::Cost,
                    "default",
                    Tolerance::Relative(0.05),
                    Some(0.0512),
                    est(0.0512, 0.0003),
                    Some(Estimate {
                        n: 10,
                        mean: 0.0,
                        lo: Some(0.0),
                        hi: Some(0.0),
                    }),
                ),
                Check {
                    note: Some("the baseline does not have this metric: save it again".into()),
                    ..regression(
                        Status::Skipped,
                        "faults.outage.detection_delay",
                        Unit::Duration,
                        "default",
                        Tolerance::Relative(0.05),
                        None,
                        est(4.2, 0.3),
                        None,
                    )
                },
            ],
        };
        let mut renamed = regression(
            Status::Pass,
            "success_rate",
            Unit::Rate,
            "default",
            Tolerance::Absolute(0.001),
            Some(0.9921),
            est(0.9925, 0.0006),
            Some(Estimate {
                n: 5,
                mean: 0.0004,
                lo: Some(-0.0002),
                hi: Some(0.001),
            }),
        );
        if let CheckKind::Regression {
            baseline_policy, ..
        } = &mut renamed.kind
        {
            *baseline_policy = "old-default".into();
        }
        let brownout = ScenarioGate {
            file: "scenarios/ci/brownout.toml".into(),
            scenario: "brownout-ci".into(),
            seeds: (1..=5).collect(),
            confidence: 0.95,
            baseline: BaselineState::Stale,
            baseline_file: Some("reports/baselines/brownout-ci.json".into()),
            warnings: vec![
                "the baseline was measured in a different world (the scenario's world hash \
                 changed): regressions use the seeds both share; save the baseline again once \
                 the change is intended"
                    .into(),
            ],
            checks: vec![
                renamed,
                Check {
                    note: Some(
                        "1 paired seeds: at least 2 are needed for an interval (run the \
                         baseline's seeds, or more)"
                            .into(),
                    ),
                    ..regression(
                        Status::Skipped,
                        "time_to_verify.p50",
                        Unit::Duration,
                        "default",
                        Tolerance::Relative(0.05),
                        Some(0.8),
                        Some(Estimate {
                            n: 1,
                            mean: 0.75,
                            lo: None,
                            hi: None,
                        }),
                        Some(Estimate {
                            n: 1,
                            mean: -0.05,
                            lo: None,
                            hi: None,
                        }),
                    )
                },
            ],
        };
        GateReport {
            scenarios: vec![outage, brownout],
        }
    }

    /// Names as a scenario file may spell them, with characters that mean something to XML,
    /// HTML and Markdown tables.
    pub(crate) const HOSTILE_POLICY: &str = "a|b <script>alert('x')</script> & `c` **d**";

    /// One failing scenario whose scenario, policy and note carry [`HOSTILE_POLICY`].
    pub(crate) fn hostile() -> GateReport {
        let mut c = expectation(
            Status::Fail,
            "success_rate",
            Unit::Rate,
            HOSTILE_POLICY,
            Threshold {
                op: Op::Ge,
                value: 0.995,
            },
            est(0.9, 0.01),
        );
        c.note = Some(format!("policy {HOSTILE_POLICY}\nhas | pipes"));
        GateReport {
            scenarios: vec![ScenarioGate {
                file: "scenarios/ci/x|y.toml".into(),
                scenario: "pipes|and<b>tags</b>".into(),
                seeds: vec![1, 2],
                confidence: 0.95,
                baseline: BaselineState::NotAsked,
                baseline_file: None,
                warnings: vec![format!("policy {HOSTILE_POLICY} is odd")],
                checks: vec![c],
            }],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_print_numbers_in_the_metrics_units() {
        let r = fixture::report();
        let lines: Vec<String> = r.scenarios[0].checks.iter().map(check_line).collect();
        assert_eq!(
            lines[0],
            "PASS      success_rate >= 99.5%                policy default    99.730% ± 0.040 pp"
        );
        assert_eq!(
            lines[1],
            "FAIL      time_to_verify.p99 < 20s             policy default    23.4s ± 1.2s"
        );
        assert!(
            lines[2].ends_with(
                "12.5s ± 3.2s (undefined on 2 of 10 seeds: the fault was never detected)"
            ),
            "{}",
            lines[2]
        );
        assert_eq!(
            lines[3],
            "REGRESSED success_rate                         policy no-trips   baseline 99.73% -> \
             now 97.1%, difference -2.63 pp [-2.91, -2.35] (tolerance 0.1 pp)"
        );
        assert!(
            lines[4].ends_with(
                "baseline 25s -> now 23.4s, difference -1.60s [-2.10s, -1.10s] (tolerance 5% = 1.25s)"
            ),
            "{}",
            lines[4]
        );
        // An unchanged metric differs by exactly zero, printed without a sign.
        assert!(
            lines[5].ends_with("difference 0 [0, 0] (tolerance 5% = 0.00256)"),
            "{}",
            lines[5]
        );
        assert!(
            lines[6].starts_with("SKIPPED   faults.outage.detection_delay")
                && lines[6].contains("baseline - -> now 4.2s (tolerance 5%)")
                && lines[6].ends_with("(the baseline does not have this metric: save it again)"),
            "{}",
            lines[6]
        );
        let stale: Vec<String> = r.scenarios[1].checks.iter().map(check_line).collect();
        assert!(
            stale[0].contains(
                "baseline (of old-default) 99.21% -> now 99.25%, difference +0.040 pp [-0.020, +0.100]"
            ),
            "{}",
            stale[0]
        );
        // One paired seed: a difference without an interval.
        assert!(
            stale[1].contains("-> now 750ms, difference -50ms (tolerance"),
            "{}",
            stale[1]
        );
    }

    #[test]
    fn headers_say_where_the_baseline_came_from() {
        let r = fixture::report();
        assert_eq!(
            scenario_header(&r.scenarios[0]),
            "gate scenarios/ci/outage.toml: outage-ci, 10 seeds, 95% intervals, baseline \
             reports/baselines/outage-ci.json"
        );
        assert!(
            scenario_header(&r.scenarios[1])
                .ends_with("5 seeds, 95% intervals, baseline reports/baselines/brownout-ci.json (STALE: measured in a different world)")
        );
        let mut s = r.scenarios[0].clone();
        s.baseline = BaselineState::Missing;
        assert!(scenario_header(&s).ends_with(
            "no baseline at reports/baselines/outage-ci.json (regressions not checked)"
        ));
        s.baseline = BaselineState::NotAsked;
        s.baseline_file = None;
        s.seeds = vec![7];
        assert!(
            scenario_header(&s)
                .ends_with("1 seed, 95% intervals, no baseline (regressions not checked)"),
            "{}",
            scenario_header(&s)
        );
    }

    #[test]
    fn totals_name_every_status_and_the_outcome() {
        let r = fixture::report();
        assert_eq!(
            totals_line(&r.totals()),
            "gate: 9 checks: 3 passed, 2 failed, 1 regressed, 1 improved, 2 skipped -> FAILED"
        );
        let mut ok = r.clone();
        ok.scenarios[0].checks.retain(|c| !c.status.fails());
        assert!(totals_line(&ok.totals()).ends_with("-> passed"));
    }

    #[test]
    fn render_puts_warnings_under_their_header_and_totals_last() {
        let text = render(&fixture::report());
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("gate scenarios/ci/outage.toml"));
        assert!(lines[1].starts_with("PASS "));
        assert_eq!(lines[8], "");
        assert!(lines[9].starts_with("gate scenarios/ci/brownout.toml"));
        assert!(lines[10].starts_with("warning: the baseline was measured in a different world"));
        assert_eq!(lines[lines.len() - 2], "");
        assert!(lines[lines.len() - 1].starts_with("gate: 9 checks"));
        assert!(text.ends_with("FAILED\n"));
        // The hostile note's newline does not split its check's line: it is written `\n`.
        let hostile = render(&fixture::hostile());
        assert_eq!(hostile.lines().count(), 5, "{hostile}");
        assert!(hostile.contains("**\\nhas | pipes)\n"), "{hostile}");
        assert_eq!(
            render(&GateReport::default()),
            "gate: 0 checks: 0 passed, 0 failed, 0 regressed, 0 improved, 0 skipped -> passed\n"
        );
    }
}
