//! What a finished sweep is, as data: the plan, every point's estimates and the analysis. It is
//! what `sweep.json` serialises and what every exporter (CSV, charts, HTML, terminal) reads, as
//! [`RunSummary`](crate::metrics::RunSummary) is for a run.
//!
//! It holds no wall-clock figure, so the same scenario, seeds and flags give a byte-identical
//! `sweep.json` whatever the thread count; the throughput of the execution is the caller's to
//! print.

use serde::Serialize;

use crate::metrics::compare::{Better, Interval, MetricEstimate};
use crate::metrics::metric_path::Unit;
use crate::metrics::pareto::{
    Analysis, Constraint, Distinguishability, Objective, Recommendation, analyse,
};

use super::plan::{Design, SweepPlan};
use super::vary::{FieldKind, Value};

/// Version of `sweep.json`'s layout; bumped when a field changes meaning or goes away.
pub const SWEEP_FORMAT_VERSION: u32 = 1;

/// A finished sweep.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SweepSummary {
    pub format_version: u32,
    pub tool_version: String,
    pub scenario: SweepScenario,
    /// The policy every point starts from.
    pub base_policy: String,
    pub design: DesignInfo,
    /// The swept fields, in `--vary` order (a point's `values` follow it).
    pub parameters: Vec<Parameter>,
    /// The seeds every point ran on, replication 0 (the scenario seed) first.
    pub seeds: Vec<u64>,
    pub confidence: f64,
    pub objectives: Vec<MetricInfo>,
    pub constraints: Vec<ConstraintInfo>,
    pub points: Vec<SweepPoint>,
    /// Which frontier members the intervals can tell apart.
    pub distinguishability: Distinguishability,
    pub recommendation: Recommendation,
}

/// The scenario a sweep ran.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SweepScenario {
    pub name: String,
    /// The scenario file as given on the command line (what the printed `run` command names).
    pub file: String,
    /// FNV-1a 64 of the scenario file's text, hex.
    pub hash: String,
}

/// How the points were chosen.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum DesignInfo {
    Grid,
    LatinHypercube { samples: usize, seed: u64 },
}

impl From<Design> for DesignInfo {
    fn from(d: Design) -> Self {
        match d {
            Design::Grid => DesignInfo::Grid,
            Design::LatinHypercube { samples, seed } => {
                DesignInfo::LatinHypercube { samples, seed }
            }
        }
    }
}

/// One swept field.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Parameter {
    /// The dotted policy path, `trip.failure_rate`.
    pub path: String,
    pub kind: FieldKind,
    /// The values the grid takes, in order (for a Latin hypercube over a range: the range's
    /// ends, the values drawn being anywhere between).
    #[serde(serialize_with = "serialize_values")]
    pub levels: Vec<Value>,
    /// `log:` spacing: a chart's axis for this parameter is logarithmic.
    pub log: bool,
    /// The base policy's value of the field (`None` when it has none: an absent optional
    /// table).
    #[serde(serialize_with = "serialize_option_value")]
    pub base: Option<Value>,
}

/// A metric a sweep optimises or constrains, with what a reader needs to show it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MetricInfo {
    /// The path as users write it, `time_to_verify.p99`.
    pub metric: String,
    /// Its key among a point's estimates, `ttv_p99`.
    pub key: String,
    pub better: Better,
    #[serde(skip)]
    pub unit: Unit,
}

impl MetricInfo {
    fn of(metric: &crate::metrics::metric_path::MetricPath) -> MetricInfo {
        MetricInfo {
            metric: metric.path().to_owned(),
            key: metric.key().to_owned(),
            better: metric.better(),
            unit: metric.unit(),
        }
    }
}

/// A constraint, as written and as read.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ConstraintInfo {
    /// `success_rate >= 99.9%`.
    pub text: String,
    pub metric: String,
    pub key: String,
    /// `>=`, `<`, ...
    pub op: String,
    /// The limit in the metric's base unit (a share for rates, seconds for durations).
    pub value: f64,
    #[serde(skip)]
    pub unit: Unit,
}

/// One point of the sweep and how it fared.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SweepPoint {
    pub index: usize,
    /// `trip.failure_rate=0.3, ejection.base=30s`.
    pub label: String,
    /// One per parameter, in parameter order.
    #[serde(serialize_with = "serialize_values")]
    pub values: Vec<Value>,
    /// Every metric's mean over the seeds and its interval, by key.
    pub estimates: Vec<MetricEstimate>,
    /// Every objective has a mean.
    pub ranked: bool,
    /// On the Pareto frontier over the objectives.
    pub frontier: bool,
    /// Every constraint holds.
    pub feasible: bool,
}

impl SweepPoint {
    pub fn estimate(&self, key: &str) -> Option<&Interval> {
        self.estimates
            .iter()
            .find(|e| e.metric == key)
            .map(|e| &e.interval)
    }

    /// The mean of `key`, where defined.
    pub fn mean(&self, key: &str) -> Option<f64> {
        self.estimate(key).map(|i| i.mean)
    }
}

/// Everything [`SweepSummary::new`] needs that is not the points' estimates.
pub struct SweepContext<'a> {
    pub scenario: SweepScenario,
    pub base_policy: String,
    /// The base policy's value of each swept field.
    pub base_values: Vec<Option<Value>>,
    pub seeds: Vec<u64>,
    pub confidence: f64,
    pub objectives: &'a [Objective],
    pub constraints: &'a [Constraint],
}

impl SweepSummary {
    /// Analyses the points' estimates (in plan order) and assembles the summary.
    pub fn new(
        plan: &SweepPlan,
        estimates: Vec<Vec<MetricEstimate>>,
        ctx: SweepContext<'_>,
    ) -> SweepSummary {
        let Analysis {
            ranked,
            frontier,
            feasible,
            distinguishability,
            recommendation,
        } = analyse(&estimates, ctx.objectives, ctx.constraints);
        let parameters = plan
            .varies
            .iter()
            .zip(ctx.base_values)
            .map(|(v, base)| Parameter {
                path: v.path.clone(),
                kind: v.kind,
                levels: match (&v.values, plan.design) {
                    (super::vary::Values::Range { .. }, Design::LatinHypercube { .. })
                        if v.is_continuous() =>
                    {
                        let l = v.levels();
                        vec![l[0].clone(), l[l.len() - 1].clone()]
                    }
                    _ => v.levels(),
                },
                log: matches!(v.values, super::vary::Values::Range { log: true, .. }),
                base,
            })
            .collect();
        let points = estimates
            .into_iter()
            .enumerate()
            .map(|(i, estimates)| SweepPoint {
                index: i,
                label: plan.label(i),
                values: plan.points[i].values.clone(),
                estimates,
                ranked: ranked[i],
                frontier: frontier[i],
                feasible: feasible[i],
            })
            .collect();
        SweepSummary {
            format_version: SWEEP_FORMAT_VERSION,
            tool_version: env!("CARGO_PKG_VERSION").to_owned(),
            scenario: ctx.scenario,
            base_policy: ctx.base_policy,
            design: plan.design.into(),
            parameters,
            seeds: ctx.seeds,
            confidence: ctx.confidence,
            objectives: ctx
                .objectives
                .iter()
                .map(|o| MetricInfo::of(&o.metric))
                .collect(),
            constraints: ctx
                .constraints
                .iter()
                .map(|c| ConstraintInfo {
                    text: c.display(),
                    metric: c.metric.path().to_owned(),
                    key: c.metric.key().to_owned(),
                    op: c.threshold.op.as_str().to_owned(),
                    value: c.threshold.value,
                    unit: c.metric.unit(),
                })
                .collect(),
            points,
            distinguishability,
            recommendation,
        }
    }

    /// The recommended point, if any.
    pub fn recommended(&self) -> Option<&SweepPoint> {
        match self.recommendation {
            Recommendation::Point { point, .. } => self.points.get(point),
            Recommendation::NoFeasible { .. } => None,
        }
    }

    /// The metrics a report charts, in order: the objectives, then the constrained metrics
    /// that are no objective.
    pub fn charted_metrics(&self) -> Vec<MetricInfo> {
        let mut out = self.objectives.clone();
        for c in &self.constraints {
            if !out.iter().any(|m| m.key == c.key) {
                out.push(MetricInfo {
                    metric: c.metric.clone(),
                    key: c.key.clone(),
                    better: crate::metrics::compare::better(&c.key),
                    unit: c.unit,
                });
            }
        }
        out
    }

    /// `--set PATH=VALUE` flags that make the base policy into point `i`.
    pub fn set_flags(&self, i: usize) -> Vec<String> {
        self.parameters
            .iter()
            .zip(&self.points[i].values)
            .map(|(p, v)| format!("{}={v}", p.path))
            .collect()
    }
}

fn serialize_values<S: serde::Serializer>(values: &[Value], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(values.iter().map(Value::to_toml))
}

fn serialize_option_value<S: serde::Serializer>(
    value: &Option<Value>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match value {
        Some(v) => v.to_toml().serialize(s),
        None => s.serialize_none(),
    }
}
