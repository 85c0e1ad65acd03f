//! A sweep's analysis: objectives and constraints over metrics, the Pareto frontier of the
//! points, which frontier members the intervals can tell apart, and the recommendation.
//!
//! Everything here is a pure function of each point's per-metric estimates (the mean over seeds
//! and its Student's t interval, [`compare::estimates`](super::compare::estimates)), keyed by
//! [`MetricPath::key`]; nothing renders. Metric names, units and directions are
//! [`metric_path`](super::metric_path)'s and [`compare::better`](super::compare::better)'s, so a
//! sweep, a gate and a report agree on what "better" means.
//!
//! # Rules
//!
//! - **Objectives** improve in their metric's one direction ([`Better`]): an objective is a
//!   metric, never "maximise cost". The default ([`DEFAULT_OBJECTIVES`]) maximises
//!   `success_rate` and minimises `cost_per_success`, `time_to_verify.p99` and `flaps`.
//! - **Ranked points**: a point is ranked when every objective has a mean. A metric can be
//!   undefined (no success, so no cost per success: `metrics` reports `null` rather than a
//!   number for what did not happen); such a point is neither on the frontier nor recommended.
//! - **Dominance** (on means): `a` dominates `b` when `a` is at least as good on every objective
//!   and strictly better on one. The **frontier** is the ranked points no ranked point
//!   dominates; two identical points are both on it (neither is strictly better).
//! - **Distinguishable**: two frontier members are *separated* on an objective when their
//!   intervals are disjoint, and *indistinguishable* when they are separated on none: their
//!   difference on every objective could be the seeds' noise. Overlap is the conservative
//!   reading (two overlapping 95 % intervals can still differ significantly, more so as the
//!   points share seeds); it errs toward "cannot tell", never toward a false distinction.
//!   Without intervals (fewer than two seeds) nothing can be told apart, and
//!   [`Distinguishability::Unknown`] says so instead of listing every pair.
//! - **Constraints** (`success_rate>=0.999`) hold on the mean; a point without the metric's
//!   value violates them. **Feasible** points satisfy every constraint.
//! - **Recommendation**: among the ranked feasible points, the best on the first objective, ties
//!   (equal means) broken by the next objectives in order, then by the lower point index. Such a
//!   point is always on the frontier of the feasible points; it is on the whole frontier too
//!   unless a point that breaks a constraint on a metric that is no objective dominates it
//!   ([`Recommendation::Point::on_frontier`] says which).
//! - **No feasible point**: the *binding* constraint is the one violated by the most points
//!   (ties: the first given), reported with every constraint's count and the point that came
//!   closest to meeting it, so the author sees how far the sweep is from the constraint.

use std::cmp::Ordering;

use serde::Serialize;

use super::compare::{Better, Interval, MetricEstimate};
use super::metric_path::{MetricPath, Op, Threshold, UnknownMetric};

/// The objectives when none are given: success first, so the recommendation is the most
/// reliable feasible point, then what reliability costs in money, speed and churn.
pub const DEFAULT_OBJECTIVES: [&str; 4] = [
    "success_rate",
    "cost_per_success",
    "time_to_verify.p99",
    "flaps",
];

/// A metric to optimise, in its own direction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Objective {
    pub metric: MetricPath,
}

impl Objective {
    /// Reads a metric path (`time_to_verify.p99`, or its short name `ttv_p99`).
    pub fn parse<'a>(
        text: &str,
        faults: impl IntoIterator<Item = &'a str> + Clone,
    ) -> Result<Objective, UnknownMetric> {
        MetricPath::parse(text, faults).map(|metric| Objective { metric })
    }

    /// [`DEFAULT_OBJECTIVES`].
    pub fn defaults() -> Vec<Objective> {
        DEFAULT_OBJECTIVES
            .iter()
            .map(|m| Objective::parse(m, []).expect("the default objectives are metrics"))
            .collect()
    }

    pub fn better(&self) -> Better {
        self.metric.better()
    }

    /// How `a` compares with `b` on this objective: `Greater` when `a` is better.
    pub fn compare(&self, a: f64, b: f64) -> Ordering {
        let o = a.total_cmp(&b);
        match self.better() {
            Better::Higher => o,
            Better::Lower => o.reverse(),
        }
    }
}

/// A bound a recommended point must meet: `success_rate >= 0.999`.
#[derive(Clone, Debug, PartialEq)]
pub struct Constraint {
    pub metric: MetricPath,
    pub threshold: Threshold,
}

/// A constraint that cannot be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConstraintError {
    /// The metric is unknown: the caller adds its "did you mean" (name matching is the scenario
    /// layer's, see `experiment::gate::unknown_metric_message`).
    #[error("--constraint {text:?}: unknown metric {:?}", .metric.text)]
    UnknownMetric { text: String, metric: UnknownMetric },
    #[error("--constraint {text:?}: {message}")]
    Invalid { text: String, message: String },
}

impl Constraint {
    /// Reads `METRIC OP VALUE`, the value in the metric's unit: `success_rate>=0.999`,
    /// `success_rate >= 99.9%`, `time_to_verify.p99<20s`.
    pub fn parse<'a>(
        text: &str,
        faults: impl IntoIterator<Item = &'a str> + Clone,
    ) -> Result<Constraint, ConstraintError> {
        let invalid = |message: String| ConstraintError::Invalid {
            text: text.trim().to_owned(),
            message,
        };
        let Some(at) = text.find(['<', '>', '=']) else {
            return Err(invalid(
                "no operator: write METRIC OP VALUE, e.g. success_rate>=0.999 or \
                 'time_to_verify.p99<20s'"
                    .to_owned(),
            ));
        };
        let name = text[..at].trim();
        if name.is_empty() {
            return Err(invalid(
                "no metric before the operator: write e.g. success_rate>=0.999".to_owned(),
            ));
        }
        let metric =
            MetricPath::parse(name, faults).map_err(|metric| ConstraintError::UnknownMetric {
                text: text.trim().to_owned(),
                metric,
            })?;
        let threshold = Threshold::parse(&text[at..], metric.unit()).map_err(invalid)?;
        Ok(Constraint { metric, threshold })
    }

    /// Whether a mean of `value` meets the constraint.
    pub fn holds(&self, value: f64) -> bool {
        self.threshold.op.holds(value, self.threshold.value)
    }

    /// How far `value` is from meeting the constraint, in the metric's unit (0 at the limit).
    pub fn shortfall(&self, value: f64) -> f64 {
        let limit = self.threshold.value;
        match self.threshold.op {
            Op::Ge | Op::Gt => (limit - value).max(0.0),
            Op::Le | Op::Lt => (value - limit).max(0.0),
            Op::Eq => (value - limit).abs(),
        }
    }

    /// As users write it, in the metric's unit: `success_rate >= 99.9%`.
    pub fn display(&self) -> String {
        format!(
            "{} {}",
            self.metric,
            self.threshold.display(self.metric.unit())
        )
    }
}

/// The analysis of a sweep's points, indexed like the points.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Analysis {
    /// Every objective has a mean.
    pub ranked: Vec<bool>,
    /// On the Pareto frontier over the objectives.
    pub frontier: Vec<bool>,
    /// Every constraint holds.
    pub feasible: Vec<bool>,
    pub distinguishability: Distinguishability,
    pub recommendation: Recommendation,
}

/// Which frontier members the intervals can tell apart.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Distinguishability {
    /// A frontier member has no interval on an objective (fewer than two seeds).
    Unknown,
    /// Every interval is known; these pairs of frontier members (lower index first, in order)
    /// are separated on no objective. Every other pair of members is distinguishable.
    Known {
        indistinguishable: Vec<(usize, usize)>,
    },
}

/// What the sweep recommends.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Recommendation {
    Point {
        point: usize,
        /// On the frontier of all points, not only of the feasible ones.
        on_frontier: bool,
    },
    /// No ranked point meets every constraint.
    NoFeasible {
        /// Index into the constraints of the one violated by the most points; `None` without
        /// constraints (then no point is ranked) or without points.
        binding: Option<usize>,
        /// Per constraint, in order.
        misses: Vec<ConstraintMiss>,
    },
}

/// How one constraint fared over the points.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ConstraintMiss {
    pub constraint: usize,
    /// Points that violate it (a point without the metric's value included).
    pub violated_by: usize,
    /// The violating point with a value that came closest to meeting it, and that value.
    pub closest: Option<(usize, f64)>,
}

/// The estimate of `key` among a point's.
fn estimate<'a>(point: &'a [MetricEstimate], key: &str) -> Option<&'a Interval> {
    point.iter().find(|e| e.metric == key).map(|e| &e.interval)
}

/// Whether `a` dominates `b` (means, one per objective): at least as good on all, strictly
/// better on one.
pub fn dominates(a: &[f64], b: &[f64], objectives: &[Objective]) -> bool {
    let mut strictly = false;
    for ((o, &x), &y) in objectives.iter().zip(a).zip(b) {
        match o.compare(x, y) {
            Ordering::Less => return false,
            Ordering::Greater => strictly = true,
            Ordering::Equal => {}
        }
    }
    strictly
}

/// The frontier among `means` (per point, one mean per objective; `None` for an unranked
/// point, never on it). O(n^2 x objectives): ten thousand points is a hundred million cheap
/// comparisons, well under a second.
pub fn frontier(means: &[Option<Vec<f64>>], objectives: &[Objective]) -> Vec<bool> {
    means
        .iter()
        .map(|m| {
            let Some(m) = m else { return false };
            !means
                .iter()
                .flatten()
                .any(|other| dominates(other, m, objectives))
        })
        .collect()
}

/// Whether two intervals are disjoint; `None` when either has none (fewer than two seeds).
pub fn separated(a: &Interval, b: &Interval) -> Option<bool> {
    let (alo, ahi, blo, bhi) = (a.lo?, a.hi?, b.lo?, b.hi?);
    Some(alo > bhi || blo > ahi)
}

/// Analyses `points` (each point's estimates, keyed by [`MetricPath::key`]) under the
/// objectives and constraints; see the module's documentation for every rule.
pub fn analyse(
    points: &[Vec<MetricEstimate>],
    objectives: &[Objective],
    constraints: &[Constraint],
) -> Analysis {
    let means: Vec<Option<Vec<f64>>> = points
        .iter()
        .map(|p| {
            objectives
                .iter()
                .map(|o| estimate(p, o.metric.key()).map(|i| i.mean))
                .collect()
        })
        .collect();
    let ranked: Vec<bool> = means.iter().map(Option::is_some).collect();
    let on_frontier = frontier(&means, objectives);
    let value = |p: usize, c: &Constraint| estimate(&points[p], c.metric.key()).map(|i| i.mean);
    let feasible: Vec<bool> = (0..points.len())
        .map(|p| {
            constraints
                .iter()
                .all(|c| value(p, c).is_some_and(|v| c.holds(v)))
        })
        .collect();

    let distinguishability = distinguish(points, objectives, &on_frontier);

    let best = (0..points.len())
        .filter(|&p| feasible[p])
        .filter_map(|p| means[p].as_ref().map(|m| (p, m)))
        .min_by(|(pa, a), (pb, b)| {
            // `min_by`: the best sorts first, so compare b with a; then the lower index.
            objectives
                .iter()
                .zip(a.iter().zip(b.iter()))
                .map(|(o, (&x, &y))| o.compare(y, x))
                .find(|o| o.is_ne())
                .unwrap_or(Ordering::Equal)
                .then(pa.cmp(pb))
        })
        .map(|(p, _)| p);

    let recommendation = match best {
        Some(point) => Recommendation::Point {
            point,
            on_frontier: on_frontier[point],
        },
        None => {
            let misses: Vec<ConstraintMiss> = constraints
                .iter()
                .enumerate()
                .map(|(ci, c)| {
                    let violating =
                        (0..points.len()).filter(|&p| !value(p, c).is_some_and(|v| c.holds(v)));
                    let closest = violating
                        .clone()
                        .filter_map(|p| value(p, c).map(|v| (p, v)))
                        .min_by(|(pa, a), (pb, b)| {
                            c.shortfall(*a).total_cmp(&c.shortfall(*b)).then(pa.cmp(pb))
                        });
                    ConstraintMiss {
                        constraint: ci,
                        violated_by: violating.count(),
                        closest,
                    }
                })
                .collect();
            // The most violated; `max_by_key` keeps the last of equals, so look in reverse.
            let binding = misses
                .iter()
                .rev()
                .filter(|m| m.violated_by > 0)
                .max_by_key(|m| m.violated_by)
                .map(|m| m.constraint);
            Recommendation::NoFeasible { binding, misses }
        }
    };

    Analysis {
        ranked,
        frontier: on_frontier,
        feasible,
        distinguishability,
        recommendation,
    }
}

fn distinguish(
    points: &[Vec<MetricEstimate>],
    objectives: &[Objective],
    on_frontier: &[bool],
) -> Distinguishability {
    let members: Vec<usize> = (0..points.len()).filter(|&p| on_frontier[p]).collect();
    let mut indistinguishable = Vec::new();
    for (i, &a) in members.iter().enumerate() {
        for &b in &members[i + 1..] {
            let mut any = false;
            for o in objectives {
                let (Some(x), Some(y)) = (
                    estimate(&points[a], o.metric.key()),
                    estimate(&points[b], o.metric.key()),
                ) else {
                    return Distinguishability::Unknown;
                };
                match separated(x, y) {
                    None => return Distinguishability::Unknown,
                    Some(s) => any |= s,
                }
            }
            if !any {
                indistinguishable.push((a, b));
            }
        }
    }
    // A lone member (or none) has no interval to compare: still say whether intervals exist.
    if members.len() == 1 {
        let p = &points[members[0]];
        let known = objectives
            .iter()
            .all(|o| estimate(p, o.metric.key()).is_some_and(|i| i.half_width.is_some()));
        if !known {
            return Distinguishability::Unknown;
        }
    }
    Distinguishability::Known { indistinguishable }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::compare::better;

    /// A point from (metric key, mean, half-width) triples.
    fn point(metrics: &[(&str, f64, Option<f64>)]) -> Vec<MetricEstimate> {
        metrics
            .iter()
            .map(|&(m, mean, h)| MetricEstimate {
                metric: m.to_owned(),
                better: better(m),
                interval: Interval {
                    n: if h.is_some() { 5 } else { 1 },
                    mean,
                    half_width: h,
                    lo: h.map(|h| mean - h),
                    hi: h.map(|h| mean + h),
                },
            })
            .collect()
    }

    /// Success rate and cost per success, with a common half-width.
    fn sc(success: f64, cost: f64, h: Option<f64>) -> Vec<MetricEstimate> {
        point(&[("success_rate", success, h), ("cost_per_success", cost, h)])
    }

    fn objectives(names: &[&str]) -> Vec<Objective> {
        names
            .iter()
            .map(|n| Objective::parse(n, []).unwrap())
            .collect()
    }

    fn recommends(point: usize, on_frontier: bool) -> Recommendation {
        Recommendation::Point { point, on_frontier }
    }

    fn constraint(text: &str) -> Constraint {
        Constraint::parse(text, []).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    #[test]
    fn objectives_and_constraints_read_metric_paths_and_units() {
        let d = Objective::defaults();
        let names: Vec<&str> = d.iter().map(|o| o.metric.path()).collect();
        assert_eq!(names, DEFAULT_OBJECTIVES);
        assert_eq!(d[0].better(), Better::Higher);
        assert!(d[1..].iter().all(|o| o.better() == Better::Lower));
        assert_eq!(
            Objective::parse("ttv_p99", []).unwrap().metric.path(),
            "time_to_verify.p99"
        );

        let c = constraint("success_rate>=0.999");
        assert_eq!(c.threshold.op, Op::Ge);
        assert_eq!(c.display(), "success_rate >= 99.9%");
        assert!(c.holds(0.999) && !c.holds(0.998));
        assert!((c.shortfall(0.997) - 0.002).abs() < 1e-12);
        assert_eq!(c.shortfall(1.0), 0.0);
        let c = constraint(" time_to_verify.p99 < 20s ");
        assert_eq!(c.threshold.value, 20.0);
        assert_eq!(constraint("success_rate >= 99.5%").threshold.value, 0.995);
        let c = Constraint::parse("faults.outage.detection_delay<=30s", ["outage"]).unwrap();
        assert_eq!(c.metric.key(), "outage.detection_delay");

        let fails = |text: &str, needle: &str| {
            let e = Constraint::parse(text, ["outage"]).unwrap_err().to_string();
            assert!(e.contains(needle), "{text}: {e}");
            assert!(e.starts_with("--constraint"), "{e}");
        };
        fails("success_rate", "no operator");
        fails(">=0.9", "no metric");
        fails("succes_rate>=0.9", "unknown metric \"succes_rate\"");
        fails("success_rate>=2", "not a rate");
        fails("time_to_verify.p99<20", "has no unit");
        assert!(matches!(
            Constraint::parse("succes_rate>=0.9", []),
            Err(ConstraintError::UnknownMetric { metric, .. })
                if metric.known.iter().any(|k| k == "success_rate")
        ));
    }

    #[test]
    fn frontier_keeps_undominated_points_and_ties() {
        let obj = objectives(&["success_rate", "cost_per_success"]);
        let points = vec![
            sc(0.99, 0.05, None),  // 0: frontier (cheapest)
            sc(0.999, 0.08, None), // 1: frontier (most reliable)
            sc(0.995, 0.06, None), // 2: frontier (between)
            sc(0.995, 0.07, None), // 3: dominated by 2 (same success, dearer)
            sc(0.98, 0.09, None),  // 4: dominated by everything
            sc(0.995, 0.06, None), // 5: identical to 2: both on the frontier
        ];
        let a = analyse(&points, &obj, &[]);
        assert_eq!(a.frontier, vec![true, true, true, false, false, true]);
        assert!(a.ranked.iter().all(|&r| r));
        assert!(a.feasible.iter().all(|&f| f));
        // No intervals with one seed.
        assert_eq!(a.distinguishability, Distinguishability::Unknown);
        // Best on the first objective.
        assert_eq!(a.recommendation, recommends(1, true));
        // Dominance itself.
        assert!(dominates(&[0.995, 0.06], &[0.995, 0.07], &obj));
        assert!(!dominates(&[0.995, 0.06], &[0.995, 0.06], &obj));
        assert!(!dominates(&[0.999, 0.08], &[0.99, 0.05], &obj));
    }

    #[test]
    fn ties_on_the_first_objective_go_to_the_next_then_to_point_order() {
        let obj = objectives(&["success_rate", "cost_per_success"]);
        let points = vec![
            sc(0.999, 0.08, None),
            sc(0.999, 0.06, None), // ties on success, cheaper
            sc(0.999, 0.06, None), // identical to 1: the lower index wins
        ];
        let a = analyse(&points, &obj, &[]);
        assert_eq!(a.frontier, vec![false, true, true]);
        assert_eq!(a.recommendation, recommends(1, true));
    }

    #[test]
    fn constraints_pick_the_best_feasible_point() {
        let obj = objectives(&["cost_per_success", "success_rate"]);
        let points = vec![
            sc(0.99, 0.05, None),
            sc(0.999, 0.08, None),
            sc(0.9995, 0.07, None),
        ];
        // Cheapest first, but it fails the constraint.
        let a = analyse(&points, &obj, &[constraint("success_rate>=0.999")]);
        assert_eq!(a.feasible, vec![false, true, true]);
        assert_eq!(a.recommendation, recommends(2, true));
        // A constraint on a metric that is no objective can exclude the point that dominates
        // the recommendation: it is best among the feasible points, off the overall frontier.
        let points = vec![
            point(&[
                ("success_rate", 0.999, None),
                ("cost_per_success", 0.05, None),
                ("flaps", 9.0, None),
            ]),
            point(&[
                ("success_rate", 0.998, None),
                ("cost_per_success", 0.06, None),
                ("flaps", 1.0, None),
            ]),
        ];
        let obj = objectives(&["success_rate", "cost_per_success"]);
        let a = analyse(&points, &obj, &[constraint("flaps<=2")]);
        assert_eq!(a.frontier, vec![true, false]);
        assert_eq!(a.recommendation, recommends(1, false));
    }

    #[test]
    fn no_feasible_point_names_the_binding_constraint() {
        let obj = objectives(&["success_rate", "cost_per_success"]);
        let points = vec![
            sc(0.99, 0.05, None),
            sc(0.997, 0.08, None),
            sc(0.995, 0.12, None),
        ];
        let constraints = [
            constraint("cost_per_success<=0.1"), // violated by 1 point
            constraint("success_rate>=0.999"),   // violated by all 3: binding
        ];
        let a = analyse(&points, &obj, &constraints);
        assert_eq!(a.feasible, vec![false, false, false]);
        let Recommendation::NoFeasible { binding, misses } = &a.recommendation else {
            panic!("{:?}", a.recommendation);
        };
        assert_eq!(*binding, Some(1));
        assert_eq!(misses[0].violated_by, 1);
        assert_eq!(misses[0].closest, Some((2, 0.12)));
        assert_eq!(misses[1].violated_by, 3);
        // The point that came closest to 99.9%.
        assert_eq!(misses[1].closest, Some((1, 0.997)));
        // The frontier does not depend on the constraints.
        assert_eq!(a.frontier, vec![true, true, false]);

        // Equal counts: the first constraint given binds.
        let a = analyse(
            &points,
            &obj,
            &[
                constraint("success_rate>=0.9999"),
                constraint("cost_per_success<=0.01"),
            ],
        );
        assert!(matches!(
            a.recommendation,
            Recommendation::NoFeasible {
                binding: Some(0),
                ..
            }
        ));

        // No points at all.
        let a = analyse(&[], &obj, &[constraint("success_rate>=0.999")]);
        let Recommendation::NoFeasible { binding, misses } = &a.recommendation else {
            panic!()
        };
        assert_eq!((*binding, misses[0].violated_by), (None, 0));
    }

    #[test]
    fn a_point_without_an_objective_is_not_ranked() {
        let obj = objectives(&["success_rate", "cost_per_success"]);
        // No success, so no cost per success: reported as null, never the cheapest.
        let points = vec![point(&[("success_rate", 0.0, None)]), sc(0.9, 0.2, None)];
        let a = analyse(&points, &obj, &[]);
        assert_eq!(a.ranked, vec![false, true]);
        assert_eq!(a.frontier, vec![false, true]);
        assert_eq!(a.recommendation, recommends(1, true));
        // A constraint on a metric a point lacks is violated.
        let a = analyse(&points[..1], &obj, &[constraint("cost_per_success<=1")]);
        let Recommendation::NoFeasible { binding, misses } = &a.recommendation else {
            panic!()
        };
        assert_eq!(*binding, Some(0));
        assert_eq!(misses[0].violated_by, 1);
        assert_eq!(misses[0].closest, None);
    }

    #[test]
    fn frontier_members_are_distinguishable_only_when_an_interval_separates_them() {
        let obj = objectives(&["success_rate", "cost_per_success"]);
        let points = vec![
            // 0 and 1 overlap on both objectives: the seeds cannot tell them apart.
            sc(0.995, 0.060, Some(0.002)),
            sc(0.996, 0.062, Some(0.002)),
            // 2 is far more reliable and dearer: separated from both on both objectives.
            sc(0.999, 0.090, Some(0.0005)),
        ];
        let a = analyse(&points, &obj, &[]);
        assert_eq!(a.frontier, vec![true, true, true]);
        assert_eq!(
            a.distinguishability,
            Distinguishability::Known {
                indistinguishable: vec![(0, 1)]
            }
        );
        let (x, y) = (&points[0][0].interval, &points[2][0].interval);
        assert_eq!(separated(x, y), Some(true));
        assert_eq!(separated(x, &points[1][0].interval), Some(false));
        // Touching intervals overlap.
        let span = |mean: f64, h: f64| point(&[("flaps", mean, Some(h))])[0].interval;
        assert_eq!(separated(&span(1.5, 0.5), &span(2.5, 0.5)), Some(false));
        assert_eq!(separated(&span(1.5, 0.5), &span(2.75, 0.25)), Some(true));
        // One seed: unknown, not "every pair".
        let one = sc(0.99, 0.05, None);
        assert_eq!(separated(&one[0].interval, x), None);
    }
}
