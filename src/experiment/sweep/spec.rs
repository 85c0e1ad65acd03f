//! `[sweep]` and the `sweep` command's flags, resolved into what to run: the base policy, the
//! plan, the seeds, the objectives and the constraints.
//!
//! The table is checked when the scenario loads (so `failover-lab validate` catches a typo in a
//! `[sweep]` table that no command has run yet), every problem at its field path
//! (`sweep.vary[1]`), and, when every entry reads, its points are checked as policies too. The
//! flags are resolved over it by [`SweepRequest::resolve`]: a list given on the command line
//! replaces the table's list, a single value wins over the table's.

use crate::metrics::metric_path::UnknownMetric;
use crate::metrics::pareto::{Constraint, ConstraintError, Objective};
use crate::scenario::{
    FieldPath, MAX_SHOWN_PROBLEMS, Problems, Scenario, did_you_mean, limit_name_problem,
};

use super::super::gate::unknown_metric_message;
use super::plan::{SweepPlan, grid, latin_hypercube};
use super::vary::Vary;

/// Seeds a sweep runs when neither `--seeds`, `[sweep] seeds` nor `[experiment] replications`
/// (two or more) say: enough for an interval on every point, few enough for a grid of thirty.
pub const DEFAULT_SWEEP_SEEDS: u32 = 5;

/// `[sweep]`, read.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SweepDefaults {
    pub policy: Option<String>,
    pub varies: Vec<Vary>,
    pub samples: Option<usize>,
    pub seeds: Option<u32>,
    pub objectives: Vec<Objective>,
    pub constraints: Vec<Constraint>,
}

/// A sweep's options as the command line gives them (unset: the table's, then the defaults).
#[derive(Clone, Debug, Default)]
pub struct SweepFlags {
    pub policy: Option<String>,
    pub vary: Vec<String>,
    pub samples: Option<usize>,
    pub seeds: Option<u32>,
    pub objectives: Vec<String>,
    pub constraints: Vec<String>,
}

/// A sweep ready to run.
#[derive(Clone, Debug)]
pub struct SweepRequest {
    /// Index of the base policy in the scenario.
    pub base: usize,
    pub plan: SweepPlan,
    /// Seeds per point.
    pub seeds: u32,
    pub objectives: Vec<Objective>,
    pub constraints: Vec<Constraint>,
}

fn metric_problem(e: &UnknownMetric, shown: bool) -> String {
    if shown {
        unknown_metric_message(e)
    } else {
        format!("unknown metric {:?}", e.text)
    }
}

/// A constraint error as the scenario layer words it (the metric's did-you-mean added).
fn constraint_problem(e: ConstraintError, shown: bool) -> String {
    match e {
        ConstraintError::UnknownMetric { metric, .. } => metric_problem(&metric, shown),
        ConstraintError::Invalid { message, .. } => message,
    }
}

impl SweepDefaults {
    /// Reads `[sweep]` (absent: every field unset); every problem at its field path.
    pub fn from_scenario(s: &Scenario) -> Result<SweepDefaults, Problems> {
        let Some(spec) = &s.sweep else {
            return Ok(SweepDefaults::default());
        };
        let at = FieldPath::root().key("sweep");
        let fault_names = s.fault_names();
        let faults = || fault_names.iter().map(String::as_str);
        let mut problems = Problems::default();
        let mut out = SweepDefaults {
            policy: spec.policy.clone(),
            samples: spec.samples,
            seeds: spec.seeds,
            ..SweepDefaults::default()
        };
        if let Some(p) = &spec.policy
            && s.policies.get(p).is_none()
        {
            problems.push(at.key("policy"), unknown_policy(p, s));
        }
        if spec.seeds == Some(0) {
            problems.push(
                at.key("seeds"),
                "0 seeds: every point needs at least one (two or more for intervals)",
            );
        }
        for (i, v) in spec.vary.iter().enumerate() {
            match Vary::parse(v) {
                Ok(v) => match limit_problem(s, &v) {
                    Some(problem) => problems.push(at.key("vary").index(i), problem),
                    None => out.varies.push(v),
                },
                // The error names the flag; in a file the field path says where it is.
                Err(e) => problems.push(at.key("vary").index(i), e.message),
            }
        }
        for (i, o) in spec.objectives.iter().enumerate() {
            match Objective::parse(o, faults()) {
                Ok(o) => out.objectives.push(o),
                Err(e) => {
                    let shown = problems.len() < MAX_SHOWN_PROBLEMS;
                    problems.push(at.key("objectives").index(i), metric_problem(&e, shown));
                }
            }
        }
        for (i, c) in spec.constraints.iter().enumerate() {
            match Constraint::parse(c, faults()) {
                Ok(c) => out.constraints.push(c),
                Err(e) => {
                    let shown = problems.len() < MAX_SHOWN_PROBLEMS;
                    problems.push(at.key("constraints").index(i), constraint_problem(e, shown));
                }
            }
        }
        // Every entry reads: the points must be policies too, or the table is a sweep that
        // cannot run.
        if problems.is_empty() && !out.varies.is_empty() {
            let base = spec
                .policy
                .as_deref()
                .and_then(|p| s.policies.get(p))
                .or_else(|| base_of(s));
            let planned = plan(out.varies.clone(), out.samples, s.seed);
            match (planned, base) {
                (Err(e), _) => problems.push(at.key("vary"), e),
                (Ok(plan), Some(base)) => {
                    // One problem a point, so the loader's cap on printed problems applies.
                    if let Err(invalid) = plan.policies(base) {
                        for p in invalid.invalid {
                            let field = if p.field.is_empty() {
                                String::new()
                            } else {
                                format!("{}: ", p.field)
                            };
                            problems.push(
                                at.key("vary"),
                                format!(
                                    "point {} ({}) is not a valid policy: {field}{}",
                                    p.point, p.label, p.message
                                ),
                            );
                        }
                    }
                }
                (Ok(_), None) => {}
            }
        }
        if problems.is_empty() {
            Ok(out)
        } else {
            Err(problems)
        }
    }
}

/// A `limits.<name>.<field>` dimension must name a provider (or route) of the scenario: the
/// router of every point would refuse to build otherwise.
fn limit_problem(s: &Scenario, v: &Vary) -> Option<String> {
    let (name, _field) = v.path.strip_prefix("limits.")?.rsplit_once('.')?;
    limit_name_problem(s, name)
}

/// The policy a sweep starts from when none is named: `[experiment] baseline`, else the first.
fn base_of(s: &Scenario) -> Option<&failover_router::policy::Policy> {
    s.experiment
        .as_ref()
        .and_then(|e| e.baseline.as_deref())
        .and_then(|b| s.policies.get(b))
        .or_else(|| s.policies.iter().next().map(|p| &p.policy))
}

fn unknown_policy(name: &str, s: &Scenario) -> String {
    let names: Vec<&str> = s.policies.names().collect();
    let hint = did_you_mean(name, names.iter().copied())
        .map(|n| format!(" (did you mean {n:?}?)"))
        .unwrap_or_default();
    format!(
        "no policy {name:?} in the scenario{hint}; policies: {}",
        names.join(", ")
    )
}

/// The grid of `varies`, or a Latin hypercube of `samples` points drawn from `seed`.
fn plan(varies: Vec<Vary>, samples: Option<usize>, seed: u64) -> Result<SweepPlan, String> {
    match samples {
        Some(k) => latin_hypercube(varies, k, seed),
        None => grid(varies),
    }
    .map_err(|e| e.0)
}

impl SweepRequest {
    /// Resolves `flags` over the scenario's `[sweep]` (`defaults`) and `[experiment]`, then
    /// plans the points and checks each as a policy. Every problem found is returned, one line
    /// each, naming the flag (or the table) and what to do.
    pub fn resolve(
        s: &Scenario,
        defaults: &SweepDefaults,
        flags: &SweepFlags,
    ) -> Result<SweepRequest, Vec<String>> {
        let mut problems = Vec::new();
        let fault_names = s.fault_names();
        let faults = || fault_names.iter().map(String::as_str);

        let names: Vec<&str> = s.policies.names().collect();
        let base_name = flags.policy.as_deref().or(defaults.policy.as_deref());
        let base = match base_name {
            Some(n) => match names.iter().position(|p| *p == n) {
                Some(i) => Some(i),
                None => {
                    problems.push(format!("--policy {n:?}: {}", unknown_policy(n, s)));
                    None
                }
            },
            None => s
                .experiment
                .as_ref()
                .and_then(|e| e.baseline.as_deref())
                .and_then(|b| names.iter().position(|p| *p == b))
                .or((!names.is_empty()).then_some(0)),
        };

        let varies: Vec<Vary> = if flags.vary.is_empty() {
            defaults.varies.clone()
        } else {
            flags
                .vary
                .iter()
                .filter_map(|v| match Vary::parse(v) {
                    Ok(vary) => match limit_problem(s, &vary) {
                        Some(problem) => {
                            problems.push(format!("--vary {v}: {problem}"));
                            None
                        }
                        None => Some(vary),
                    },
                    Err(e) => {
                        problems.push(e.to_string());
                        None
                    }
                })
                .collect()
        };
        let objectives = if flags.objectives.is_empty() {
            if defaults.objectives.is_empty() {
                Objective::defaults()
            } else {
                defaults.objectives.clone()
            }
        } else {
            flags
                .objectives
                .iter()
                .filter_map(|o| {
                    Objective::parse(o, faults())
                        .map_err(|e| {
                            problems
                                .push(format!("--objective {o:?}: {}", metric_problem(&e, true)))
                        })
                        .ok()
                })
                .collect()
        };
        let constraints = if flags.constraints.is_empty() {
            defaults.constraints.clone()
        } else {
            flags
                .constraints
                .iter()
                .filter_map(|c| {
                    Constraint::parse(c, faults())
                        .map_err(|e| {
                            problems.push(format!(
                                "--constraint {c:?}: {}",
                                constraint_problem(e, true)
                            ))
                        })
                        .ok()
                })
                .collect()
        };
        for (i, o) in objectives.iter().enumerate() {
            if objectives[..i].iter().any(|p| p.metric == o.metric) {
                problems.push(format!(
                    "--objective {} is given twice: name each objective once",
                    o.metric
                ));
            }
        }
        let seeds = flags.seeds.or(defaults.seeds).unwrap_or_else(|| {
            match s.experiment.as_ref().and_then(|e| e.replications) {
                Some(n) if n >= 2 => n,
                _ => DEFAULT_SWEEP_SEEDS,
            }
        });
        if seeds == 0 {
            problems.push(
                "--seeds 0: every point needs at least one seed (two or more for intervals)"
                    .to_owned(),
            );
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        let Some(base) = base else {
            return Err(vec![
                "the scenario has no policy to sweep: add a [policies.<name>] table".to_owned(),
            ]);
        };
        let samples = flags.samples.or(defaults.samples);
        let plan = plan(varies, samples, s.seed).map_err(|e| vec![e])?;
        Ok(SweepRequest {
            base,
            plan,
            seeds,
            objectives,
            constraints,
        })
    }
}
