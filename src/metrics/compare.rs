//! Comparing policies over seeds: the metrics of each replication, their means with Student's t
//! intervals, and each policy's paired differences against a baseline with a verdict.
//!
//! Why paired: every policy runs on the same N seeds, and a seed fixes the world (arrivals,
//! destinations, provider and carrier draws: common random numbers). The difference of two
//! policies on one seed therefore cancels the world's luck, and the spread of those differences
//! is far smaller than the spread of either policy's own values. The interval of the mean
//! difference (Student's t with N - 1 degrees of freedom) is what a verdict rests on; the
//! unpaired (Welch) interval is reported beside it so a reader sees what the pairing bought.
//!
//! Everything here is a pure function of plain data, tested without rendering (DESIGN
//! section 5, "Comparisons and gates").

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use statrs::distribution::{ContinuousCDF, StudentsT};

use super::summary::{PolicyRun, Quantiles};

/// Which way a metric improves. Defined once per metric, used everywhere.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Better {
    Higher,
    Lower,
}

/// The direction of "better" for a metric named as [`seed_metrics`] names it: higher success and
/// conversion rates, lower everything else (latency, attempts, cost, churn, detection delays,
/// failures during faults).
pub fn better(metric: &str) -> Better {
    match metric {
        "success_rate" | "conversion_rate" => Better::Higher,
        _ => Better::Lower,
    }
}

/// The verdict on one metric of one policy against the baseline.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Verdict {
    /// The interval of the difference lies entirely on the better side of the tolerance.
    #[serde(rename = "better")]
    Better,
    /// Entirely on the worse side.
    #[serde(rename = "worse")]
    Worse,
    /// The interval reaches across (or there are too few seeds to have one).
    #[serde(rename = "no detectable difference")]
    NoDetectableDifference,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Better => "better",
            Verdict::Worse => "worse",
            Verdict::NoDetectableDifference => "no detectable difference",
        }
    }
}

/// The metrics of one run, by name, as compared across seeds: the headline metrics of DESIGN
/// section 5 and, per injected fault, `<fault>.detection_delay`, `<fault>.recovery_delay` and
/// `<fault>.failed_during_fault`. A metric that is undefined for the run (cost per success
/// without a success, a fault never detected) is absent, not NaN.
pub fn seed_metrics(run: &PolicyRun) -> BTreeMap<String, f64> {
    let m = &run.metrics;
    let mut out = BTreeMap::new();
    let mut put = |name: &str, v: Option<f64>| {
        if let Some(v) = v.filter(|v| v.is_finite()) {
            out.insert(name.to_owned(), v);
        }
    };
    put("success_rate", Some(m.success_rate));
    put("conversion_rate", Some(m.conversion_rate));
    put("ttv_p50", m.time_to_verify.p50);
    put("ttv_p90", m.time_to_verify.p90);
    put("ttv_p99", m.time_to_verify.p99);
    put("ttv_p999", m.time_to_verify.p999);
    put("ttv_max", m.time_to_verify.max);
    put(
        "attempts_per_verification",
        Some(m.attempts_per_verification),
    );
    put("failover_rate", Some(m.failover_rate));
    put("cost_total", Some(m.cost_total));
    put("cost_per_success", m.cost_per_success);
    put("duplicate_deliveries", Some(m.duplicate_deliveries as f64));
    put("ejections", Some(m.ejections as f64));
    put("flaps", Some(m.flaps as f64));
    put("late_deliveries", Some(m.late_deliveries as f64));
    put("panic_time", Some(m.panic_time));
    put(
        "time_ejected",
        Some(run.routes.iter().map(|r| r.time_ejected).sum()),
    );
    for f in &run.faults {
        put(&format!("{}.detection_delay", f.name), f.detection_delay);
        put(&format!("{}.recovery_delay", f.name), f.recovery_delay);
        put(
            &format!("{}.failed_during_fault", f.name),
            Some(f.failed_during_fault as f64),
        );
    }
    out
}

/// The headline metrics [`seed_metrics`] reports for every run.
pub const HEADLINE: [&str; 17] = [
    "success_rate",
    "conversion_rate",
    "ttv_p50",
    "ttv_p90",
    "ttv_p99",
    "ttv_p999",
    "ttv_max",
    "attempts_per_verification",
    "failover_rate",
    "cost_total",
    "cost_per_success",
    "duplicate_deliveries",
    "ejections",
    "flaps",
    "late_deliveries",
    "panic_time",
    "time_ejected",
];

/// Every metric name a run of a scenario with these faults can report: [`HEADLINE`] and the
/// per-fault ones.
pub fn metric_names<'a>(faults: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut names: Vec<String> = HEADLINE.iter().map(|s| s.to_string()).collect();
    for f in faults {
        for m in ["detection_delay", "recovery_delay", "failed_during_fault"] {
            names.push(format!("{f}.{m}"));
        }
    }
    names
}

/// The two-sided critical value of Student's t with `df` degrees of freedom at `confidence`
/// (e.g. 0.95 gives the 0.975 quantile). `None` for `df == 0` or a confidence outside (0, 1).
pub fn t_critical(df: f64, confidence: f64) -> Option<f64> {
    if !(df > 0.0 && confidence > 0.0 && confidence < 1.0) {
        return None;
    }
    let t = StudentsT::new(0.0, 1.0, df).ok()?;
    Some(t.inverse_cdf(0.5 + confidence / 2.0))
}

/// A mean with its confidence interval. `half_width`, `lo` and `hi` are `None` below two
/// samples.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    pub n: u64,
    pub mean: f64,
    pub half_width: Option<f64>,
    pub lo: Option<f64>,
    pub hi: Option<f64>,
}

/// The mean of `xs` with its Student's t interval at `confidence`; `None` without samples.
pub fn t_interval(xs: &[f64], confidence: f64) -> Option<Interval> {
    let n = xs.len();
    if n == 0 {
        return None;
    }
    let mean = xs.iter().sum::<f64>() / n as f64;
    let half_width = (n >= 2)
        .then(|| {
            let var = xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1) as f64;
            Some(t_critical((n - 1) as f64, confidence)? * (var / n as f64).sqrt())
        })
        .flatten();
    Some(Interval {
        n: n as u64,
        mean,
        half_width,
        lo: half_width.map(|h| mean - h),
        hi: half_width.map(|h| mean + h),
    })
}

/// Half-width of the unpaired (Welch) interval of `mean(a) - mean(b)`, with the
/// Welch-Satterthwaite degrees of freedom: what the comparison would look like had the two
/// policies faced independent worlds. `None` below two samples on either side; 0 when neither
/// varies.
pub fn welch_half_width(a: &[f64], b: &[f64], confidence: f64) -> Option<f64> {
    let (na, nb) = (a.len() as f64, b.len() as f64);
    if a.len() < 2 || b.len() < 2 {
        return None;
    }
    let var = |xs: &[f64], n: f64| {
        let m = xs.iter().sum::<f64>() / n;
        xs.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (n - 1.0)
    };
    let (qa, qb) = (var(a, na) / na, var(b, nb) / nb);
    let se2 = qa + qb;
    if se2 == 0.0 {
        return Some(0.0);
    }
    let df = se2 * se2 / (qa * qa / (na - 1.0) + qb * qb / (nb - 1.0));
    Some(t_critical(df, confidence)? * se2.sqrt())
}

/// The verdict on a difference interval (`policy - baseline`) for a metric that improves in
/// direction `better`: `better` / `worse` when the whole interval lies beyond `tolerance` on
/// that side of zero, else no detectable difference.
pub fn verdict(diff: &Interval, better: Better, tolerance: f64) -> Verdict {
    let (Some(lo), Some(hi)) = (diff.lo, diff.hi) else {
        return Verdict::NoDetectableDifference;
    };
    let tolerance = tolerance.abs();
    let (improves, worsens) = match better {
        Better::Higher => (lo > tolerance, hi < -tolerance),
        Better::Lower => (hi < -tolerance, lo > tolerance),
    };
    if improves {
        Verdict::Better
    } else if worsens {
        Verdict::Worse
    } else {
        Verdict::NoDetectableDifference
    }
}

/// One replication of one policy: its seed and its metrics.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SeedMetrics {
    pub seed: u64,
    pub metrics: BTreeMap<String, f64>,
}

/// A metric's mean over seeds with its interval.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MetricEstimate {
    pub metric: String,
    pub better: Better,
    #[serde(flatten)]
    pub interval: Interval,
}

/// Every replication of one policy, and what they add up to.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PolicyReplications {
    pub policy: String,
    /// In seed order (replication 0 first).
    pub seeds: Vec<SeedMetrics>,
    /// Per metric: the mean over seeds and its interval (metrics defined on at least one seed).
    pub estimates: Vec<MetricEstimate>,
    /// Time-to-verify percentiles over all seeds' verifications (merged histograms), seconds.
    pub pooled_ttv: Quantiles,
}

impl PolicyReplications {
    pub fn estimate(&self, metric: &str) -> Option<&MetricEstimate> {
        self.estimates.iter().find(|e| e.metric == metric)
    }

    /// The per-seed values of `metric`, in seed order, where defined.
    pub fn values(&self, metric: &str) -> Vec<f64> {
        self.seeds
            .iter()
            .filter_map(|s| s.metrics.get(metric).copied())
            .collect()
    }
}

/// Estimates for every metric that appears in any seed, in name order.
pub fn estimates(seeds: &[SeedMetrics], confidence: f64) -> Vec<MetricEstimate> {
    let names: std::collections::BTreeSet<&String> =
        seeds.iter().flat_map(|s| s.metrics.keys()).collect();
    names
        .into_iter()
        .filter_map(|name| {
            let xs: Vec<f64> = seeds
                .iter()
                .filter_map(|s| s.metrics.get(name).copied())
                .collect();
            Some(MetricEstimate {
                metric: name.clone(),
                better: better(name),
                interval: t_interval(&xs, confidence)?,
            })
        })
        .collect()
}

/// One policy against the baseline on one metric.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    pub policy: String,
    pub baseline: String,
    pub metric: String,
    pub better: Better,
    /// Seeds on which both policies define the metric (the pairs).
    pub n: u64,
    /// Mean of `policy - baseline` over the pairs, with its paired t interval.
    pub mean_difference: f64,
    pub half_width: Option<f64>,
    pub lo: Option<f64>,
    pub hi: Option<f64>,
    pub verdict: Verdict,
    /// Half-width of the unpaired (Welch) interval of the same difference.
    pub unpaired_half_width: Option<f64>,
    /// `unpaired_half_width / half_width`: how much narrower the pairing made the interval.
    /// `None` when either is undefined or the paired width is 0.
    pub variance_reduction: Option<f64>,
}

/// `policy` against `baseline`, metric by metric (those both define on at least one common
/// seed), pairing replications by seed. `tolerance` gives a metric's tolerance (0 by default).
pub fn compare(
    policy: &PolicyReplications,
    baseline: &PolicyReplications,
    confidence: f64,
    tolerance: &dyn Fn(&str) -> f64,
) -> Vec<Comparison> {
    let by_seed: BTreeMap<u64, &BTreeMap<String, f64>> = baseline
        .seeds
        .iter()
        .map(|s| (s.seed, &s.metrics))
        .collect();
    let mut names: Vec<&String> = policy.seeds.iter().flat_map(|s| s.metrics.keys()).collect();
    names.sort();
    names.dedup();
    let mut out = Vec::new();
    for name in names {
        let (mut diffs, mut ours, mut theirs) = (Vec::new(), Vec::new(), Vec::new());
        for s in &policy.seeds {
            if let (Some(x), Some(y)) = (
                s.metrics.get(name),
                by_seed.get(&s.seed).and_then(|m| m.get(name)),
            ) {
                diffs.push(x - y);
                ours.push(*x);
                theirs.push(*y);
            }
        }
        let Some(diff) = t_interval(&diffs, confidence) else {
            continue;
        };
        let b = better(name);
        let unpaired = welch_half_width(&ours, &theirs, confidence);
        let variance_reduction = match (unpaired, diff.half_width) {
            (Some(u), Some(p)) if p > 0.0 => Some(u / p),
            _ => None,
        };
        out.push(Comparison {
            policy: policy.policy.clone(),
            baseline: baseline.policy.clone(),
            metric: name.clone(),
            better: b,
            n: diff.n,
            mean_difference: diff.mean,
            half_width: diff.half_width,
            lo: diff.lo,
            hi: diff.hi,
            verdict: verdict(&diff, b, tolerance(name)),
            unpaired_half_width: unpaired,
            variance_reduction,
        });
    }
    out
}

/// The largest paired half-width, over every policy compared with the baseline, of each of
/// `targets`' metrics, and whether all are under their targets: what precision mode (keep
/// adding seeds until intervals are narrow enough) stops on. A metric with no interval yet
/// (fewer than two seeds) is not under target.
pub fn precision_reached(comparisons: &[Comparison], targets: &[(String, f64)]) -> bool {
    targets.iter().all(|(metric, target)| {
        let widths: Vec<Option<f64>> = comparisons
            .iter()
            .filter(|c| &c.metric == metric)
            .map(|c| c.half_width)
            .collect();
        !widths.is_empty() && widths.iter().all(|w| w.is_some_and(|w| w < *target))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    #[test]
    fn t_quantiles_match_reference_values() {
        // R: qt(0.975, df), qt(0.95, df), qt(0.995, df).
        let check = |df: f64, conf: f64, t: f64| {
            let got = t_critical(df, conf).unwrap();
            assert!(close(got, t, 1e-6), "df {df} conf {conf}: {got} != {t}");
        };
        check(1.0, 0.95, 12.706_204_736);
        check(4.0, 0.95, 2.776_445_105);
        check(19.0, 0.95, 2.093_024_054);
        check(19.0, 0.90, 1.729_132_812);
        check(19.0, 0.99, 2.860_934_606);
        check(1000.0, 0.95, 1.962_339_081);
        assert_eq!(t_critical(0.0, 0.95), None);
        assert_eq!(t_critical(5.0, 1.0), None);
        // The table the lab had before agrees.
        for df in 1..=60u64 {
            let a = t_critical(df as f64, 0.95).unwrap();
            let b = super::super::stats::t_critical_95(df).unwrap();
            assert!(close(a, b, 1e-6), "df {df}: {a} vs {b}");
        }
    }

    #[test]
    fn interval_of_a_known_sample() {
        let xs = [2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0];
        let i = t_interval(&xs, 0.95).unwrap();
        assert_eq!((i.n, i.mean), (8, 5.0));
        assert!(close(i.half_width.unwrap(), 1.787_487_918, 1e-6));
        assert!(close(i.lo.unwrap(), 5.0 - 1.787_487_918, 1e-6));
        let one = t_interval(&[3.0], 0.95).unwrap();
        assert_eq!((one.mean, one.half_width, one.lo), (3.0, None, None));
        assert_eq!(t_interval(&[], 0.95), None);
    }

    #[test]
    fn welch_matches_a_reference_computation() {
        // By hand: variances 24.5 and 18, standard error sqrt(24.5/5 + 18/4) = 3.0659,
        // Welch-Satterthwaite df = 9.4^2 / (4.9^2/4 + 4.5^2/3) = 6.9288, t(0.975, 6.9288) =
        // 2.3696: half-width 7.2649.
        let a = [19.0, 22.0, 16.0, 29.0, 24.0];
        let b = [20.0, 11.0, 17.0, 12.0];
        let h = welch_half_width(&a, &b, 0.95).unwrap();
        assert!(close(h, 7.2649, 1e-3), "{h}");
        assert_eq!(welch_half_width(&[1.0], &b, 0.95), None);
        assert_eq!(welch_half_width(&[1.0, 1.0], &[2.0, 2.0], 0.95), Some(0.0));
    }

    #[test]
    fn verdicts_follow_the_direction_and_the_tolerance() {
        let iv = |lo: f64, hi: f64| Interval {
            n: 10,
            mean: (lo + hi) / 2.0,
            half_width: Some((hi - lo) / 2.0),
            lo: Some(lo),
            hi: Some(hi),
        };
        use Verdict::{Better as B, NoDetectableDifference as Nd, Worse as W};
        let check = |lo, hi, b, tol, v| assert_eq!(verdict(&iv(lo, hi), b, tol), v, "{lo} {hi}");
        check(0.01, 0.03, Better::Higher, 0.0, B);
        check(-0.03, -0.01, Better::Higher, 0.0, W);
        check(-0.01, 0.03, Better::Higher, 0.0, Nd);
        check(0.01, 0.03, Better::Lower, 0.0, W);
        check(-0.03, -0.01, Better::Lower, 0.0, B);
        // Beyond the tolerance only.
        check(0.01, 0.03, Better::Higher, 0.02, Nd);
        check(0.03, 0.05, Better::Higher, 0.02, B);
        let no_interval = Interval {
            n: 1,
            mean: 1.0,
            half_width: None,
            lo: None,
            hi: None,
        };
        assert_eq!(
            verdict(&no_interval, Better::Higher, 0.0),
            Verdict::NoDetectableDifference
        );
        assert_eq!(better("success_rate"), Better::Higher);
        assert_eq!(better("ttv_p99"), Better::Lower);
        assert_eq!(better("outage.detection_delay"), Better::Lower);
    }

    fn reps(name: &str, values: &[(u64, f64)]) -> PolicyReplications {
        let seeds: Vec<SeedMetrics> = values
            .iter()
            .map(|&(seed, v)| SeedMetrics {
                seed,
                metrics: [("success_rate".to_owned(), v)].into_iter().collect(),
            })
            .collect();
        PolicyReplications {
            policy: name.into(),
            estimates: estimates(&seeds, 0.95),
            seeds,
            pooled_ttv: Quantiles::default(),
        }
    }

    #[test]
    fn pairing_cancels_what_the_seeds_share() {
        // The world's luck moves both policies alike; the candidate is 0.002 better on every
        // seed, but a seed's spread (0.02) hides that from an unpaired comparison.
        let world = [0.95, 0.97, 0.96, 0.98, 0.94, 0.97, 0.95, 0.96];
        let base: Vec<(u64, f64)> = world
            .iter()
            .enumerate()
            .map(|(i, w)| (i as u64, *w))
            .collect();
        let cand: Vec<(u64, f64)> = world
            .iter()
            .enumerate()
            .map(|(i, w)| (i as u64, w + 0.002 + if i % 2 == 0 { 1e-4 } else { -1e-4 }))
            .collect();
        let c = compare(&reps("cand", &cand), &reps("base", &base), 0.95, &|_| 0.0);
        assert_eq!(c.len(), 1);
        let c = &c[0];
        assert_eq!(c.n, 8);
        assert!(close(c.mean_difference, 0.002, 1e-12));
        assert_eq!(c.verdict, Verdict::Better);
        assert!(c.unpaired_half_width.unwrap() > 0.01);
        assert!(c.variance_reduction.unwrap() > 50.0, "{c:?}");
        // Pairs are by seed: a seed the baseline lacks is left out.
        let short = reps("base", &base[..5]);
        assert_eq!(
            compare(&reps("cand", &cand), &short, 0.95, &|_| 0.0)[0].n,
            5
        );
    }

    #[test]
    fn precision_is_reached_when_every_policy_is_under_every_target() {
        let mk = |metric: &str, hw: Option<f64>| Comparison {
            policy: "p".into(),
            baseline: "b".into(),
            metric: metric.into(),
            better: better(metric),
            n: 5,
            mean_difference: 0.0,
            half_width: hw,
            lo: None,
            hi: None,
            verdict: Verdict::NoDetectableDifference,
            unpaired_half_width: None,
            variance_reduction: None,
        };
        let target = vec![("success_rate".to_owned(), 0.001)];
        assert!(precision_reached(
            &[mk("success_rate", Some(0.0005))],
            &target
        ));
        assert!(!precision_reached(
            &[
                mk("success_rate", Some(0.0005)),
                mk("success_rate", Some(0.002))
            ],
            &target
        ));
        assert!(!precision_reached(&[mk("success_rate", None)], &target));
        assert!(!precision_reached(&[mk("ttv_p99", Some(0.0))], &target));
        assert!(precision_reached(&[], &[]));
    }
}
