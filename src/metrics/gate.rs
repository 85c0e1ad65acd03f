//! The gate's verdicts: expectations (`[[expect]]`, absolute thresholds like k6's) and
//! regressions against a committed baseline (paired over seeds, as `run --seeds` compares
//! policies). Pure functions on per-seed metrics; rendering is `report/`'s.
//!
//! **Expectations** are checked on the mean over seeds (the single value with one seed), DESIGN
//! section 5. A metric undefined on any seed (no success, a fault never detected) fails its
//! expectation: "detected within 30 s" is not met by never detecting.
//!
//! **Regressions** pair each seed of the new run with the same seed of the baseline, so the
//! world's luck cancels (common random numbers) and the interval of the mean difference is what
//! the verdict rests on ([`compare::verdict`]): `REGRESSED` only when the whole interval lies on
//! the worse side beyond the metric's tolerance, `IMPROVED` when beyond it on the better side.
//! Two things make the gate never flake: the lab is deterministic (the same code gives the same
//! numbers, so an unchanged policy differs from its baseline by exactly zero), and a change that
//! only reshuffles random draws must still move the metric beyond its tolerance, with
//! confidence, to fail. A metric that had a value in the baseline and has none now (the new
//! policy never detects the fault) is a regression whatever the other seeds say.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::baseline::round;
use super::compare::{self, PolicyReplications, Verdict, t_interval};
use super::metric_path::{MetricPath, Threshold, Tolerance, Unit};

/// The metrics every gate checks for regressions, beside those with an expectation or a
/// tolerance (DESIGN section 1: success rate, p99, cost).
pub const DEFAULT_REGRESSION_METRICS: [&str; 3] =
    ["success_rate", "time_to_verify.p99", "cost_per_success"];

/// An `[[expect]]` entry, resolved.
#[derive(Clone, Debug, PartialEq)]
pub struct Expectation {
    pub metric: MetricPath,
    /// `None`: every policy.
    pub policy: Option<String>,
    pub threshold: Threshold,
}

/// The outcome of one check.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Status {
    #[serde(rename = "PASS")]
    Pass,
    /// An expectation is not met.
    #[serde(rename = "FAIL")]
    Fail,
    /// Worse than the baseline beyond tolerance, with confidence.
    #[serde(rename = "REGRESSED")]
    Regressed,
    /// Better than the baseline beyond tolerance, with confidence: passes.
    #[serde(rename = "IMPROVED")]
    Improved,
    /// Could not be judged (fewer than two paired seeds): passes, with a warning.
    #[serde(rename = "SKIPPED")]
    Skipped,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "PASS",
            Status::Fail => "FAIL",
            Status::Regressed => "REGRESSED",
            Status::Improved => "IMPROVED",
            Status::Skipped => "SKIPPED",
        }
    }

    /// Whether this check fails the gate.
    pub fn fails(self) -> bool {
        matches!(self, Status::Fail | Status::Regressed)
    }
}

/// A mean with its interval, in the metric's base unit.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    pub n: u64,
    pub mean: f64,
    pub lo: Option<f64>,
    pub hi: Option<f64>,
}

impl From<compare::Interval> for Estimate {
    fn from(i: compare::Interval) -> Self {
        Estimate {
            n: i.n,
            mean: i.mean,
            lo: i.lo,
            hi: i.hi,
        }
    }
}

impl Estimate {
    pub fn half_width(&self) -> Option<f64> {
        Some((self.hi? - self.lo?) / 2.0)
    }
}

/// What was checked.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CheckKind {
    Expectation {
        threshold: Threshold,
    },
    Regression {
        /// The baseline's policy (differs from the policy when it was renamed).
        baseline_policy: String,
        tolerance: Tolerance,
        /// The tolerance in the metric's base unit, for this baseline.
        tolerance_absolute: f64,
        /// The baseline's mean over the paired seeds.
        baseline: Option<f64>,
        /// The paired difference `new - baseline` and its interval.
        difference: Option<Estimate>,
    },
}

/// One line of a gate's output.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Check {
    pub status: Status,
    /// The metric path as users write it.
    pub metric: String,
    pub unit: Unit,
    pub policy: String,
    /// The new run's mean over seeds (over the paired seeds for a regression).
    pub value: Option<Estimate>,
    #[serde(flatten)]
    pub kind: CheckKind,
    /// Why, when the numbers alone do not say it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// The values of `metric` per seed, rounded as a baseline rounds them.
fn per_seed(reps: &PolicyReplications, metric: &MetricPath) -> BTreeMap<u64, Option<f64>> {
    reps.seeds
        .iter()
        .map(|s| (s.seed, s.metrics.get(metric.key()).map(|v| round(*v))))
        .collect()
}

/// Checks one expectation on one policy's replications.
pub fn check_expectation(
    expectation: &Expectation,
    reps: &PolicyReplications,
    confidence: f64,
) -> Check {
    let values = per_seed(reps, &expectation.metric);
    let defined: Vec<f64> = values.values().filter_map(|v| *v).collect();
    let undefined = values.len() - defined.len();
    let value = t_interval(&defined, confidence).map(Estimate::from);
    let (status, note) = if values.is_empty() {
        (Status::Fail, Some("no run to check".to_owned()))
    } else if undefined > 0 {
        (
            Status::Fail,
            Some(format!(
                "undefined on {undefined} of {} seeds: {}",
                values.len(),
                undefined_reason(&expectation.metric)
            )),
        )
    } else {
        let mean = value.map_or(f64::NAN, |v| v.mean);
        if expectation
            .threshold
            .op
            .holds(mean, expectation.threshold.value)
        {
            (Status::Pass, None)
        } else {
            (Status::Fail, None)
        }
    };
    Check {
        status,
        metric: expectation.metric.path().to_owned(),
        unit: expectation.metric.unit(),
        policy: reps.policy.clone(),
        value,
        kind: CheckKind::Expectation {
            threshold: expectation.threshold,
        },
        note,
    }
}

fn undefined_reason(metric: &MetricPath) -> &'static str {
    let path = metric.path();
    if path.ends_with("detection_delay") {
        "the fault was never detected"
    } else if path.ends_with("recovery_delay") {
        "the routes never came back"
    } else {
        "no verification succeeded"
    }
}

/// The baseline's side of a regression check: its per-seed values of one metric.
pub struct BaselineValues<'a> {
    /// The baseline's policy name.
    pub policy: &'a str,
    pub seeds: &'a [u64],
    /// In `seeds` order; `None` where the metric was undefined. `None` as a whole when the
    /// baseline does not have the metric at all.
    pub values: Option<&'a [Option<f64>]>,
}

/// Checks `new` against the baseline's values of `metric`, pairing by seed.
pub fn check_regression(
    metric: &MetricPath,
    tolerance: Tolerance,
    new: &PolicyReplications,
    baseline: &BaselineValues<'_>,
    confidence: f64,
) -> Check {
    let ours = per_seed(new, metric);
    let mut diffs = Vec::new();
    let mut mine = Vec::new();
    let mut theirs = Vec::new();
    let (mut lost, mut gained) = (0usize, 0usize);
    if let Some(values) = baseline.values {
        for (seed, base) in baseline.seeds.iter().zip(values) {
            let Some(now) = ours.get(seed) else { continue };
            match (now, base) {
                (Some(x), Some(y)) => {
                    diffs.push(x - y);
                    mine.push(*x);
                    theirs.push(*y);
                }
                (None, Some(_)) => lost += 1,
                (Some(_), None) => gained += 1,
                (None, None) => {}
            }
        }
    }
    let base_mean = (!theirs.is_empty()).then(|| theirs.iter().sum::<f64>() / theirs.len() as f64);
    let tolerance_absolute = tolerance.absolute(base_mean.unwrap_or(0.0));
    let difference = t_interval(&diffs, confidence);
    let paired_seeds = diffs.len() + lost + gained;
    let (status, note) = if baseline.values.is_none() {
        (
            Status::Skipped,
            Some("the baseline does not have this metric: save it again".to_owned()),
        )
    } else if lost > 0 {
        (
            Status::Regressed,
            Some(format!(
                "undefined on {lost} of {paired_seeds} paired seeds where the baseline had a \
                 value: {}",
                undefined_reason(metric)
            )),
        )
    } else if diffs.len() < 2 {
        if gained > 0 {
            (
                Status::Improved,
                Some(format!(
                    "defined on {gained} paired seeds where the baseline had no value"
                )),
            )
        } else {
            (
                Status::Skipped,
                Some(format!(
                    "{} paired seed{}: at least 2 are needed for an interval (run the \
                     baseline's seeds, or more)",
                    diffs.len(),
                    if diffs.len() == 1 { "" } else { "s" }
                )),
            )
        }
    } else {
        let d = difference.expect("two or more differences have an interval");
        match compare::verdict(&d, metric.better(), tolerance_absolute) {
            Verdict::Worse => (Status::Regressed, None),
            Verdict::Better => (Status::Improved, None),
            Verdict::NoDetectableDifference => (Status::Pass, None),
        }
    };
    Check {
        status,
        metric: metric.path().to_owned(),
        unit: metric.unit(),
        policy: new.policy.clone(),
        value: t_interval(&mine, confidence).map(Estimate::from),
        kind: CheckKind::Regression {
            baseline_policy: baseline.policy.to_owned(),
            tolerance,
            tolerance_absolute,
            baseline: base_mean,
            difference: difference.map(Estimate::from),
        },
        note,
    }
}

/// What became of the baseline of one gated scenario.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BaselineState {
    /// Found, measured in the same world.
    Current,
    /// Found, but measured in a different world (the scenario's world hash changed): the
    /// regression part still runs, on the seeds both share, and warns.
    Stale,
    /// No baseline file for this scenario: the regression part did not run.
    Missing,
    /// The gate ran without `--baseline`.
    NotAsked,
}

/// The gate of one scenario.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScenarioGate {
    /// The scenario file as given on the command line.
    pub file: String,
    pub scenario: String,
    pub seeds: Vec<u64>,
    pub confidence: f64,
    pub baseline: BaselineState,
    /// The baseline file, when one was looked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline_file: Option<String>,
    pub warnings: Vec<String>,
    pub checks: Vec<Check>,
}

/// Counts over checks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    pub checks: usize,
    pub passed: usize,
    pub failed: usize,
    pub regressed: usize,
    pub improved: usize,
    pub skipped: usize,
}

impl Totals {
    pub fn of<'a>(checks: impl IntoIterator<Item = &'a Check>) -> Totals {
        let mut t = Totals::default();
        for c in checks {
            t.checks += 1;
            match c.status {
                Status::Pass => t.passed += 1,
                Status::Fail => t.failed += 1,
                Status::Regressed => t.regressed += 1,
                Status::Improved => t.improved += 1,
                Status::Skipped => t.skipped += 1,
            }
        }
        t
    }

    /// Whether the gate fails: any expectation not met or any regression.
    pub fn fails(&self) -> bool {
        self.failed + self.regressed > 0
    }
}

/// Every gated scenario.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct GateReport {
    pub scenarios: Vec<ScenarioGate>,
}

impl GateReport {
    pub fn totals(&self) -> Totals {
        Totals::of(self.scenarios.iter().flat_map(|s| &s.checks))
    }
}

/// The regression metrics of a gate: [`DEFAULT_REGRESSION_METRICS`], then every other metric
/// with an expectation or a tolerance, in the order given, without repeats.
pub fn regression_metrics<'a>(
    defaults: &[MetricPath],
    expectations: &'a [Expectation],
    tolerances: &'a [(MetricPath, Tolerance)],
) -> Vec<MetricPath> {
    let mut out: Vec<MetricPath> = Vec::new();
    for m in defaults
        .iter()
        .chain(expectations.iter().map(|e| &e.metric))
        .chain(tolerances.iter().map(|(m, _)| m))
    {
        if !out.contains(m) {
            out.push(m.clone());
        }
    }
    out
}

/// The tolerance of `metric`: the last one given for it, else the default for its unit.
pub fn tolerance_for(metric: &MetricPath, tolerances: &[(MetricPath, Tolerance)]) -> Tolerance {
    tolerances
        .iter()
        .rev()
        .find(|(m, _)| m == metric)
        .map_or_else(|| Tolerance::default_for(metric.unit()), |(_, t)| *t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::compare::{SeedMetrics, estimates};
    use crate::metrics::metric_path::Op;
    use crate::metrics::summary::Quantiles;

    fn reps(name: &str, key: &str, values: &[(u64, Option<f64>)]) -> PolicyReplications {
        let seeds: Vec<SeedMetrics> = values
            .iter()
            .map(|&(seed, v)| SeedMetrics {
                seed,
                metrics: v.map(|v| (key.to_owned(), v)).into_iter().collect(),
            })
            .collect();
        PolicyReplications {
            policy: name.into(),
            estimates: estimates(&seeds, 0.95),
            seeds,
            pooled_ttv: Quantiles::default(),
        }
    }

    fn metric(p: &str) -> MetricPath {
        MetricPath::parse(p, ["outage"]).unwrap()
    }

    fn expect(p: &str, threshold: &str) -> Expectation {
        let metric = metric(p);
        Expectation {
            threshold: Threshold::parse(threshold, metric.unit()).unwrap(),
            metric,
            policy: None,
        }
    }

    #[test]
    fn an_expectation_is_checked_on_the_mean_over_seeds() {
        let r = reps(
            "p",
            "success_rate",
            &[(1, Some(0.990)), (2, Some(0.998)), (3, Some(0.999))],
        );
        // Mean 0.995667: one seed below 0.995 does not fail a mean above it.
        let c = check_expectation(&expect("success_rate", ">= 0.995"), &r, 0.95);
        assert_eq!(c.status, Status::Pass, "{c:?}");
        assert!((c.value.unwrap().mean - 0.995_666_7).abs() < 1e-6);
        let c = check_expectation(&expect("success_rate", "> 99.6%"), &r, 0.95);
        assert_eq!(c.status, Status::Fail);
        // One seed: its value, no interval.
        let one = reps("p", "ttv_p99", &[(1, Some(19.9))]);
        let c = check_expectation(&expect("time_to_verify.p99", "< 20s"), &one, 0.95);
        assert_eq!((c.status, c.value.unwrap().lo), (Status::Pass, None));
        assert_eq!(
            check_expectation(&expect("time_to_verify.p99", "< 19s"), &one, 0.95).status,
            Status::Fail
        );
        let e = expect("faults.outage.failed_during_fault", "== 0");
        assert!(matches!(e.threshold.op, Op::Eq));
    }

    #[test]
    fn an_undefined_metric_fails_its_expectation() {
        let r = reps(
            "p",
            "outage.detection_delay",
            &[(1, Some(5.0)), (2, None), (3, Some(6.0))],
        );
        let c = check_expectation(&expect("faults.outage.detection_delay", "< 30s"), &r, 0.95);
        assert_eq!(c.status, Status::Fail);
        let note = c.note.unwrap();
        assert!(
            note.contains("1 of 3 seeds") && note.contains("never detected"),
            "{note}"
        );
    }

    fn base<'a>(seeds: &'a [u64], values: &'a [Option<f64>]) -> BaselineValues<'a> {
        BaselineValues {
            policy: "p",
            seeds,
            values: Some(values),
        }
    }

    #[test]
    fn a_regression_needs_the_paired_interval_beyond_the_tolerance() {
        let seeds = [1, 2, 3, 4, 5];
        let world = [0.990, 0.996, 0.993, 0.998, 0.991];
        let old: Vec<Option<f64>> = world.iter().map(|v| Some(*v)).collect();
        let shifted = |d: f64| -> PolicyReplications {
            let v: Vec<(u64, Option<f64>)> = seeds
                .iter()
                .zip(world)
                .enumerate()
                .map(|(i, (s, w))| (*s, Some(w + d + if i % 2 == 0 { 1e-5 } else { -1e-5 })))
                .collect();
            reps("p", "success_rate", &v)
        };
        let m = metric("success_rate");
        let check = |d: f64, tol: f64| {
            check_regression(
                &m,
                Tolerance::Absolute(tol),
                &shifted(d),
                &base(&seeds, &old),
                0.95,
            )
        };
        // 0.5 pp worse on every seed: far beyond 0.1 pp.
        let c = check(-0.005, 0.001);
        assert_eq!(c.status, Status::Regressed, "{c:?}");
        let CheckKind::Regression {
            difference,
            baseline,
            ..
        } = &c.kind
        else {
            panic!()
        };
        assert!((difference.unwrap().mean + 0.005).abs() < 1e-4);
        assert!((baseline.unwrap() - 0.9936).abs() < 1e-9);
        // Worse, detectably, but within tolerance: passes.
        assert_eq!(check(-0.0005, 0.001).status, Status::Pass);
        assert_eq!(check(-0.0005, 0.0).status, Status::Regressed);
        assert_eq!(check(0.005, 0.001).status, Status::Improved);
        // An unchanged policy differs by exactly zero, whatever the tolerance.
        let same = reps(
            "p",
            "success_rate",
            &seeds
                .iter()
                .zip(&old)
                .map(|(s, v)| (*s, *v))
                .collect::<Vec<_>>(),
        );
        let c = check_regression(
            &m,
            Tolerance::Absolute(0.0),
            &same,
            &base(&seeds, &old),
            0.95,
        );
        assert_eq!(c.status, Status::Pass);
        // Lower is better for latency: a rise regresses.
        let lat = metric("time_to_verify.p99");
        let slow = reps(
            "p",
            "ttv_p99",
            &[(1, Some(12.0)), (2, Some(13.1)), (3, Some(11.9))],
        );
        let old_lat = [Some(10.0), Some(11.0), Some(10.1)];
        let c = check_regression(
            &lat,
            Tolerance::Relative(0.05),
            &slow,
            &base(&[1, 2, 3], &old_lat),
            0.95,
        );
        assert_eq!(c.status, Status::Regressed, "{c:?}");
    }

    #[test]
    fn losing_a_value_regresses_and_too_few_pairs_are_skipped() {
        let m = metric("faults.outage.detection_delay");
        let now = reps(
            "p",
            "outage.detection_delay",
            &[(1, Some(5.0)), (2, None), (3, Some(5.0))],
        );
        let old = [Some(5.0), Some(5.0), Some(5.0)];
        let c = check_regression(
            &m,
            Tolerance::Relative(0.05),
            &now,
            &base(&[1, 2, 3], &old),
            0.95,
        );
        assert_eq!(c.status, Status::Regressed);
        assert!(c.note.unwrap().contains("1 of 3 paired seeds"));
        // Only one seed in common with the baseline.
        let c = check_regression(
            &m,
            Tolerance::Relative(0.05),
            &reps(
                "p",
                "outage.detection_delay",
                &[(1, Some(5.0)), (9, Some(1.0))],
            ),
            &base(&[1, 2, 3], &old),
            0.95,
        );
        assert_eq!(c.status, Status::Skipped, "{c:?}");
        let none = BaselineValues {
            policy: "p",
            seeds: &[1, 2, 3],
            values: None,
        };
        let c = check_regression(&m, Tolerance::Relative(0.05), &now, &none, 0.95);
        assert_eq!(c.status, Status::Skipped);
    }

    #[test]
    fn totals_fail_on_failures_and_regressions_only() {
        let mk = |status| Check {
            status,
            metric: "success_rate".into(),
            unit: Unit::Rate,
            policy: "p".into(),
            value: None,
            kind: CheckKind::Expectation {
                threshold: Threshold {
                    op: Op::Ge,
                    value: 0.9,
                },
            },
            note: None,
        };
        let t = Totals::of(&[mk(Status::Pass), mk(Status::Improved), mk(Status::Skipped)]);
        assert!(!t.fails());
        assert_eq!((t.checks, t.passed, t.improved, t.skipped), (3, 1, 1, 1));
        assert!(Totals::of(&[mk(Status::Fail)]).fails());
        assert!(Totals::of(&[mk(Status::Regressed)]).fails());
    }

    #[test]
    fn regression_metrics_are_the_defaults_then_the_checked_ones() {
        let defaults: Vec<MetricPath> = DEFAULT_REGRESSION_METRICS
            .iter()
            .map(|m| metric(m))
            .collect();
        let exps = [expect("success_rate", ">= 0.99"), expect("flaps", "<= 2")];
        let tols = [(metric("ttv_p50"), Tolerance::Relative(0.1))];
        let all = regression_metrics(&defaults, &exps, &tols);
        let paths: Vec<&str> = all.iter().map(MetricPath::path).collect();
        assert_eq!(
            paths,
            [
                "success_rate",
                "time_to_verify.p99",
                "cost_per_success",
                "flaps",
                "time_to_verify.p50"
            ]
        );
        assert_eq!(
            tolerance_for(&metric("ttv_p50"), &tols),
            Tolerance::Relative(0.1)
        );
        assert_eq!(
            tolerance_for(&metric("success_rate"), &tols),
            Tolerance::Absolute(0.001)
        );
    }
}
