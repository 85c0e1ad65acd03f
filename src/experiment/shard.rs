//! Splitting a command's runs over machines (`--shard I/N`) and merging them back exactly
//! (`failover-lab merge`).
//!
//! Every run of the lab is a pure function of (world, policy, seed), and every command (`run`,
//! `sweep`, `gate`, `baseline save`) makes its runs through [`execute_each`](super::execute_each)
//! in an order fixed by its plan. So a command's runs can be numbered (their *ordinals*, in the
//! order the command plans them, across every call it makes), and shard `I` of `N` makes only
//! the runs whose ordinal is `I - 1` modulo `N` (round robin: shards get the same mix of short
//! and long runs). It records each run's full [`RunResult`] with the run's *fingerprint* (the
//! world's, the policy's and the seed: what makes the run what it is) in a partial file.
//!
//! `merge` re-plans the same command in the same place (the recorded arguments, the same
//! scenario files) with every result taken from the partials instead of simulated: the same
//! code then folds the same results in the same order and writes the same bytes as a single
//! machine, whatever order the parts came in. A run whose fingerprint differs from what the
//! plan now asks for (a scenario or policy edited in between) stops the merge before anything is
//! written.
//!
//! The context is process-wide, like the command it serves: one command per process.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use serde::{Deserialize, Serialize};

use super::{RunResult, RunSpec};
use crate::scenario::{CompiledScenario, entity_key};

/// Version of the partial file's layout.
pub const PARTIAL_FORMAT_VERSION: u32 = 1;
/// What a partial file says it is, so a wrong file is named as such.
pub const PARTIAL_FORMAT: &str = "failover-lab partial result";
/// The most shards a plan may be split into.
pub const MAX_SHARDS: usize = 10_000;

/// Shard `index` (1-based) of `count`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl Shard {
    /// `I/N`, 1 <= I <= N.
    pub fn parse(text: &str) -> Result<Shard, String> {
        let bad = || {
            format!(
                "--shard {text:?}: expected I/N with 1 <= I <= N <= {MAX_SHARDS} (shard 2 of 3: \
                 --shard 2/3), or auto"
            )
        };
        let (i, n) = text.split_once('/').ok_or_else(bad)?;
        let index: usize = i.trim().parse().map_err(|_| bad())?;
        let count: usize = n.trim().parse().map_err(|_| bad())?;
        Shard::new(index, count).ok_or_else(bad)
    }

    pub fn new(index: usize, count: usize) -> Option<Shard> {
        (1 <= index && index <= count && count <= MAX_SHARDS).then_some(Shard { index, count })
    }

    /// `--shard auto`: the index and count from the job engine's environment. Kubernetes
    /// Indexed Jobs set `JOB_COMPLETION_INDEX` (0-based; the count is `shards`, `--shards N`,
    /// as the Job's `completions`); Slurm job arrays set `SLURM_ARRAY_TASK_ID`,
    /// `SLURM_ARRAY_TASK_MIN` and `SLURM_ARRAY_TASK_COUNT`; elsewhere (a CI matrix) give
    /// `FAILOVER_LAB_SHARD=I/N`.
    pub fn from_env(
        var: impl Fn(&str) -> Option<String>,
        shards: Option<usize>,
    ) -> Result<Shard, String> {
        let number = |name: &str| -> Result<Option<usize>, String> {
            match var(name) {
                None => Ok(None),
                Some(v) => v
                    .trim()
                    .parse()
                    .map(Some)
                    .map_err(|_| format!("--shard auto: {name} is not a whole number")),
            }
        };
        if let Some(text) = var("FAILOVER_LAB_SHARD") {
            return Shard::parse(&text).map_err(|e| format!("FAILOVER_LAB_SHARD: {e}"));
        }
        if let Some(i) = number("JOB_COMPLETION_INDEX")? {
            let n = shards.ok_or(
                "--shard auto: JOB_COMPLETION_INDEX is set (a Kubernetes Indexed Job) but not the \
                 number of shards: add --shards N (the Job's completions)",
            )?;
            return Shard::new(i + 1, n).ok_or_else(|| {
                format!("--shard auto: JOB_COMPLETION_INDEX {i} is not below --shards {n}")
            });
        }
        if let Some(id) = number("SLURM_ARRAY_TASK_ID")? {
            let min = number("SLURM_ARRAY_TASK_MIN")?.unwrap_or(0);
            let n = match number("SLURM_ARRAY_TASK_COUNT")? {
                Some(n) => n,
                None => shards.ok_or(
                    "--shard auto: SLURM_ARRAY_TASK_ID is set but not SLURM_ARRAY_TASK_COUNT: \
                     add --shards N",
                )?,
            };
            return id
                .checked_sub(min)
                .and_then(|i| Shard::new(i + 1, n))
                .ok_or_else(|| {
                    format!(
                        "--shard auto: SLURM_ARRAY_TASK_ID {id} (from {min}) is not one of \
                         {n} tasks"
                    )
                });
        }
        Err(
            "--shard auto: no job index in the environment (JOB_COMPLETION_INDEX, \
             SLURM_ARRAY_TASK_ID or FAILOVER_LAB_SHARD=I/N)"
                .into(),
        )
    }

    fn owns(self, ordinal: usize) -> bool {
        ordinal % self.count == self.index - 1
    }
}

/// One run a shard made.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunRecord {
    pub ordinal: usize,
    pub fingerprint: String,
    pub result: RunResult,
}

/// A shard's partial result file.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Partial {
    pub format: String,
    pub version: u32,
    pub tool_version: String,
    /// The command's arguments, shard flags removed: what `merge` runs again.
    pub command: Vec<String>,
    pub shard: Shard,
    /// Hash of every planned run's fingerprint in ordinal order: the same for every shard of
    /// one plan.
    pub plan_hash: String,
    pub runs_total: usize,
    pub runs: Vec<RunRecord>,
}

enum Mode {
    Shard(Shard),
    /// The runs not taken yet, and the plan hash the shards recorded.
    Merge(BTreeMap<usize, RunRecord>, String),
}

struct Context {
    mode: Mode,
    /// Ordinal of the next planned run.
    next: usize,
    /// Fingerprint of every planned run so far, in ordinal order.
    planned: Vec<String>,
    /// The runs this shard made.
    made: Vec<RunRecord>,
    /// Why the merge cannot go on (the first problem met).
    problem: Option<String>,
}

static CONTEXT: Mutex<Option<Context>> = Mutex::new(None);

fn context() -> MutexGuard<'static, Option<Context>> {
    CONTEXT.lock().unwrap_or_else(PoisonError::into_inner)
}

fn install(mode: Mode) {
    *context() = Some(Context {
        mode,
        next: 0,
        planned: Vec::new(),
        made: Vec::new(),
        problem: None,
    });
}

/// From now on, make only `shard`'s runs.
pub fn begin_shard(shard: Shard) {
    install(Mode::Shard(shard));
}

/// From now on, take every run from `runs` (all shards' records of the plan `plan_hash`).
pub fn begin_merge(runs: Vec<RunRecord>, plan_hash: String) {
    install(Mode::Merge(
        runs.into_iter().map(|r| (r.ordinal, r)).collect(),
        plan_hash,
    ));
}

/// Whether this process merges partials (its command takes every run from them).
pub fn is_merge() -> bool {
    matches!(context().as_ref().map(|c| &c.mode), Some(Mode::Merge(..)))
}

/// Whether this process is one shard of a plan (its command writes a partial, not a report).
pub fn is_shard() -> bool {
    matches!(context().as_ref().map(|c| &c.mode), Some(Mode::Shard(_)))
}

/// What a run's result depends on: the world (its scenario text and referenced files), the
/// policy (as it will run, after `--set` or a sweep point) and the seed.
pub fn fingerprint(world: &CompiledScenario, spec: RunSpec) -> String {
    let policy = &world.policies[spec.policy];
    let text = format!(
        "{:016x}|{}|{}|{}",
        world.fingerprint,
        policy.name,
        serde_json::to_string(&policy.policy).unwrap_or_default(),
        spec.seed
    );
    format!("{:016x}", entity_key(&text))
}

/// What [`execute_each`](super::execute_each) does with one planned run.
pub(crate) enum Claim {
    /// Simulate it; a shard records it under this ordinal and fingerprint.
    Make { ordinal: usize, fingerprint: String },
    /// Another shard's run.
    Skip,
    /// Merged: its result.
    Take(Box<RunResult>),
    /// Merged, but the partials hold no such run, or another one under its ordinal.
    Refuse(String),
}

/// Numbers `plan`'s runs and says what to do with each; `None` outside a shard or a merge.
pub(crate) fn claim(world: &CompiledScenario, plan: &[RunSpec]) -> Option<Vec<Claim>> {
    let mut guard = context();
    let ctx = guard.as_mut()?;
    let mut claims = Vec::with_capacity(plan.len());
    for &spec in plan {
        let ordinal = ctx.next;
        ctx.next += 1;
        let fingerprint = fingerprint(world, spec);
        ctx.planned.push(fingerprint.clone());
        let claim = match &mut ctx.mode {
            Mode::Shard(shard) if shard.owns(ordinal) => Claim::Make {
                ordinal,
                fingerprint,
            },
            Mode::Shard(_) => Claim::Skip,
            Mode::Merge(runs, _) => match runs.remove(&ordinal) {
                Some(r) if r.fingerprint == fingerprint => Claim::Take(Box::new(r.result)),
                Some(_) => Claim::Refuse(format!(
                    "run {} ({}, seed {}) is not the run the partials hold under that number: \
                     the scenario, a referenced file or a policy changed since the shards ran",
                    ordinal + 1,
                    world.policies[spec.policy].name,
                    spec.seed
                )),
                None => Claim::Refuse(format!(
                    "run {} ({}, seed {}) is in no partial: the plan has more runs than the \
                     shards made (the scenario or a flag changed since they ran)",
                    ordinal + 1,
                    world.policies[spec.policy].name,
                    spec.seed
                )),
            },
        };
        if let Claim::Refuse(why) = &claim {
            ctx.problem.get_or_insert_with(|| why.clone());
        }
        claims.push(claim);
    }
    Some(claims)
}

/// A shard made run `ordinal`.
pub(crate) fn record(ordinal: usize, fingerprint: String, result: &RunResult) {
    if let Some(ctx) = context().as_mut() {
        ctx.made.push(RunRecord {
            ordinal,
            fingerprint,
            result: result.clone(),
        });
    }
}

/// The shard's partial, once its command has made its runs (`command`: its arguments without
/// the shard flags). `None` outside a shard.
pub fn finish_shard(command: Vec<String>) -> Option<Partial> {
    let mut guard = context();
    let ctx = guard.take()?;
    let Mode::Shard(shard) = ctx.mode else {
        *guard = Some(ctx);
        return None;
    };
    let mut runs = ctx.made;
    runs.sort_by_key(|r| r.ordinal);
    Some(Partial {
        format: PARTIAL_FORMAT.into(),
        version: PARTIAL_FORMAT_VERSION,
        tool_version: env!("CARGO_PKG_VERSION").into(),
        command,
        shard,
        plan_hash: plan_hash(&ctx.planned),
        runs_total: ctx.planned.len(),
        runs,
    })
}

fn plan_hash(fingerprints: &[String]) -> String {
    format!("{:016x}", entity_key(&fingerprints.join(",")))
}

/// After a merged command has made its runs: what went wrong, if anything (a run the
/// partials do not hold, a changed run, or runs left over that the plan no longer asks for).
/// `None` outside a merge.
pub fn merge_problem() -> Option<String> {
    let guard = context();
    let ctx = guard.as_ref()?;
    if let Some(p) = &ctx.problem {
        return Some(p.clone());
    }
    let Mode::Merge(left, expected_plan_hash) = &ctx.mode else {
        return None;
    };
    if !left.is_empty() {
        return Some(format!(
            "the partials hold {} runs the plan no longer asks for (the scenario or a flag \
             changed since the shards ran)",
            left.len()
        ));
    }
    (plan_hash(&ctx.planned) != *expected_plan_hash).then(|| {
        "the plan is not the one the shards ran (the scenario or a flag changed since)".into()
    })
}

/// Checks that `parts` are every shard of one plan, each once, and moves their runs out in
/// plan order (never copied: the parts of a large sweep hold every run's full result).
pub fn check_parts(parts: Vec<(String, Partial)>) -> Result<Vec<RunRecord>, Vec<String>> {
    let mut problems = Vec::new();
    let Some((first_name, first)) = parts.first() else {
        return Err(vec!["no partial results given".into()]);
    };
    for (name, p) in &parts {
        if p.tool_version != first.tool_version {
            problems.push(format!(
                "{name}: written by failover-lab {}, {first_name} by {}: run every shard with \
                 one version",
                p.tool_version, first.tool_version
            ));
        }
        if p.command != first.command || p.plan_hash != first.plan_hash {
            problems.push(format!(
                "{name}: a shard of another plan than {first_name} (another command, scenario \
                 or flag)"
            ));
        }
        if p.shard.count != first.shard.count {
            problems.push(format!(
                "{name}: shard {} of {}, but {first_name} is one of {}",
                p.shard.index, p.shard.count, first.shard.count
            ));
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    if first.tool_version != env!("CARGO_PKG_VERSION") {
        return Err(vec![format!(
            "the partials were written by failover-lab {}, this is {}: merge with the version \
             that ran the shards",
            first.tool_version,
            env!("CARGO_PKG_VERSION")
        )]);
    }
    let count = first.shard.count;
    let mut seen: Vec<Vec<&str>> = vec![Vec::new(); count];
    for (name, p) in &parts {
        seen[p.shard.index - 1].push(name);
    }
    let missing: Vec<String> = (1..=count)
        .filter(|&i| seen[i - 1].is_empty())
        .map(|i| i.to_string())
        .collect();
    if !missing.is_empty() {
        problems.push(format!(
            "missing shard{} {} of {count}",
            if missing.len() == 1 { "" } else { "s" },
            missing.join(", ")
        ));
    }
    for (i, names) in seen.iter().enumerate() {
        if names.len() > 1 {
            problems.push(format!(
                "shard {} of {count} given {} times: {}",
                i + 1,
                names.len(),
                names.join(", ")
            ));
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let total = first.runs_total;
    let owned = parts.iter().all(|(_, p)| {
        p.runs
            .iter()
            .all(|r| Shard::owns(p.shard, r.ordinal) && r.ordinal < total)
    });
    let mut runs: Vec<RunRecord> = parts.into_iter().flat_map(|(_, p)| p.runs).collect();
    runs.sort_by_key(|r| r.ordinal);
    let complete =
        owned && runs.len() == total && runs.iter().enumerate().all(|(i, r)| r.ordinal == i);
    if !complete {
        return Err(vec![format!(
            "the partials hold {} runs of a plan of {total}, not each once: a partial was edited \
             or truncated",
            runs.len()
        )]);
    }
    Ok(runs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_parse_and_split_round_robin() {
        assert_eq!(Shard::parse("2/3"), Ok(Shard { index: 2, count: 3 }));
        for bad in ["0/3", "4/3", "3", "a/b", "1/0", "1/10001"] {
            assert!(Shard::parse(bad).is_err(), "{bad}");
        }
        let s = Shard::new(2, 3).unwrap();
        let owned: Vec<usize> = (0..9).filter(|&o| s.owns(o)).collect();
        assert_eq!(owned, [1, 4, 7]);
    }

    #[test]
    fn auto_reads_each_engines_variables() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        // Kubernetes: 0-based index, the count from --shards.
        let k8s = env(&[("JOB_COMPLETION_INDEX", "2")]);
        assert_eq!(
            Shard::from_env(k8s, Some(4)),
            Ok(Shard { index: 3, count: 4 })
        );
        assert!(Shard::from_env(k8s, None).unwrap_err().contains("--shards"));
        assert!(Shard::from_env(k8s, Some(2)).is_err());
        // Slurm: the array's ids may start anywhere.
        let slurm = env(&[
            ("SLURM_ARRAY_TASK_ID", "11"),
            ("SLURM_ARRAY_TASK_MIN", "10"),
            ("SLURM_ARRAY_TASK_COUNT", "3"),
        ]);
        assert_eq!(
            Shard::from_env(slurm, None),
            Ok(Shard { index: 2, count: 3 })
        );
        // Anything else: FAILOVER_LAB_SHARD.
        let ci = env(&[("FAILOVER_LAB_SHARD", "1/2")]);
        assert_eq!(Shard::from_env(ci, None), Ok(Shard { index: 1, count: 2 }));
        assert!(Shard::from_env(env(&[]), Some(2)).is_err());
        assert!(
            Shard::from_env(env(&[("JOB_COMPLETION_INDEX", "x")]), Some(2))
                .unwrap_err()
                .contains("not a whole number")
        );
    }
}
