//! `run --seeds N` (or `[experiment] replications`) and `--precision`: every policy on the same
//! N seeds, then the paired comparison with a baseline. This module resolves the options and
//! drives the batches; the statistics are `metrics::compare`'s and the summary `experiment`'s.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use clap::Args;
use failover_lab::experiment::gate::unknown_metric_message;
use failover_lab::experiment::replicate::{Replications, comparisons, seeds};
use failover_lab::experiment::{ExperimentError, Hooks, ReplicationOutcome};
use failover_lab::metrics::PrecisionTarget;
use failover_lab::metrics::compare::precision_reached;
use failover_lab::metrics::metric_path::MetricPath;
use failover_lab::scenario::did_you_mean;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::load::Loaded;

/// Seeds per batch in precision mode when `--seeds` does not say.
const PRECISION_BATCH: u32 = 10;

#[derive(Args, Debug, Clone)]
pub struct ExperimentArgs {
    /// Run every policy on N seeds (replication 0 is the scenario seed) and compare each with
    /// the baseline: means with intervals, paired differences, verdicts. Default: the
    /// scenario's `[experiment] replications`, else 1.
    #[arg(long, value_name = "N")]
    pub seeds: Option<u32>,
    /// Confidence level of every interval, in (0, 1) [default: 0.95 or `[experiment]`].
    #[arg(long)]
    pub confidence: Option<f64>,
    /// The policy the others are compared with [default: `[experiment] baseline`, else the
    /// first policy].
    #[arg(long, value_name = "NAME")]
    pub baseline: Option<String>,
    /// Keep adding batches of seeds until every policy-vs-baseline interval on METRIC has a
    /// half-width under the target, or --max-seeds is reached (repeatable), e.g.
    /// `success_rate=0.0005`. The stated confidence is then approximate (sequential stopping).
    #[arg(long = "precision", value_name = "METRIC=HALF_WIDTH")]
    pub precision: Vec<String>,
    /// Most seeds precision mode may use.
    #[arg(long, value_name = "N", default_value_t = 200)]
    pub max_seeds: u32,
}

impl Default for ExperimentArgs {
    fn default() -> Self {
        ExperimentArgs {
            seeds: None,
            confidence: None,
            baseline: None,
            precision: Vec::new(),
            max_seeds: 200,
        }
    }
}

/// The experiment to run, options and scenario resolved.
#[derive(Clone, Debug)]
pub struct Plan {
    /// Seeds in the first batch (and in each later one, in precision mode).
    pub batch: u32,
    pub confidence: f64,
    /// Position of the baseline among the selected policies.
    pub baseline: usize,
    pub precision: Vec<PrecisionTarget>,
    pub max_seeds: u32,
}

impl Plan {
    /// Whether this is more than the single seed of a plain run.
    pub fn replicated(&self) -> bool {
        self.batch > 1 || !self.precision.is_empty()
    }
}

/// Resolves flags over the scenario's `[experiment]`; an error says which option and what to
/// fix.
pub fn resolve(loaded: &Loaded, args: &ExperimentArgs, policies: &[usize]) -> Result<Plan, String> {
    let spec = &loaded.world.experiment;
    let confidence = args.confidence.unwrap_or(spec.confidence);
    if !(confidence > 0.0 && confidence < 1.0) {
        return Err(format!(
            "--confidence {confidence}: must be in (0, 1), e.g. 0.95"
        ));
    }
    if args.max_seeds < 2 {
        return Err(format!(
            "--max-seeds {}: must be at least 2 to compare anything",
            args.max_seeds
        ));
    }
    let names: Vec<&str> = policies
        .iter()
        .map(|&p| loaded.world.policies[p].name.as_str())
        .collect();
    let baseline = match &args.baseline {
        Some(b) => names.iter().position(|n| n == b).ok_or_else(|| {
            let hint = did_you_mean(b, names.iter().copied())
                .map(|s| format!(" (did you mean {s:?}?)"))
                .unwrap_or_default();
            format!(
                "--baseline {b:?}: not among the policies run{hint}; policies: {}",
                names.join(", ")
            )
        })?,
        // The scenario's baseline, if it is among the policies run.
        None => policies
            .iter()
            .position(|&p| p == spec.baseline)
            .unwrap_or(0),
    };
    let faults: Vec<&str> = loaded
        .world
        .faults
        .iter()
        .map(|f| f.name.as_str())
        .collect();
    let mut precision = Vec::new();
    for p in &args.precision {
        let (metric, width) = p.split_once('=').ok_or_else(|| {
            format!("--precision {p:?}: expected METRIC=HALF_WIDTH, e.g. success_rate=0.0005")
        })?;
        // The DESIGN path (`time_to_verify.p99`) or the comparison's name (`ttv_p99`).
        let metric = MetricPath::parse(metric, faults.iter().copied())
            .map_err(|e| format!("--precision {p:?}: {}", unknown_metric_message(&e)))?;
        let metric = metric.key();
        let half_width: f64 = width
            .parse()
            .ok()
            .filter(|w: &f64| w.is_finite() && *w > 0.0)
            .ok_or_else(|| {
                format!("--precision {p:?}: the half-width must be a number > 0, e.g. 0.0005")
            })?;
        precision.push(PrecisionTarget {
            metric: metric.to_owned(),
            half_width,
        });
    }
    let batch = match args.seeds {
        Some(0) => return Err("--seeds 0: at least one seed is needed".into()),
        Some(n) => n,
        None if !precision.is_empty() && spec.replications < 2 => PRECISION_BATCH,
        None => spec.replications,
    };
    if !precision.is_empty() {
        if batch < 2 {
            return Err("--precision needs at least 2 seeds per batch (--seeds 2 or more)".into());
        }
        if batch > args.max_seeds {
            return Err(format!(
                "--seeds {batch} is more than --max-seeds {}: raise --max-seeds or lower --seeds",
                args.max_seeds
            ));
        }
    }
    Ok(Plan {
        batch,
        confidence,
        baseline,
        precision,
        max_seeds: args.max_seeds,
    })
}

/// Runs every policy on the plan's seeds (batch after batch in precision mode) on `threads`
/// threads. `first_hooks` attaches sinks to replication 0's runs (by position of the policy).
pub fn execute(
    loaded: &Loaded,
    policies: &[usize],
    base_seed: u64,
    plan: &Plan,
    threads: usize,
    first_hooks: &(dyn Fn(usize) -> Hooks + Sync),
    quiet: bool,
) -> Result<(Replications, ReplicationOutcome), ExperimentError> {
    let world = &loaded.world;
    let mut reps = Replications::new(world, policies);
    let done = AtomicUsize::new(0);
    let bar = progress_bar(quiet);
    let mut stopped = None;
    let mut total = 0u32;
    loop {
        let from = u64::from(total);
        let to = if plan.precision.is_empty() {
            u64::from(plan.batch)
        } else {
            u64::from((total + plan.batch).min(plan.max_seeds))
        };
        let batch = seeds(base_seed, from, to);
        bar.set_length(done.load(Ordering::Relaxed) as u64 + (batch.len() * policies.len()) as u64);
        let hooks = |i: usize| {
            if from == 0 && i < policies.len() {
                first_hooks(i)
            } else {
                Hooks::default()
            }
        };
        let result = std::thread::scope(|scope| {
            let work = scope.spawn(|| reps.run(world, &batch, threads, &hooks, &done));
            while !work.is_finished() {
                bar.set_position(done.load(Ordering::Relaxed) as u64);
                std::thread::sleep(Duration::from_millis(100));
            }
            work.join().expect("the simulation thread does not panic")
        });
        result?;
        total = to as u32;
        if plan.precision.is_empty() {
            break;
        }
        let reached = precision_reached(
            &comparisons(
                &reps.summaries(plan.confidence),
                plan.baseline,
                plan.confidence,
            ),
            &plan
                .precision
                .iter()
                .map(|t| (t.metric.clone(), t.half_width))
                .collect::<Vec<_>>(),
        );
        if reached {
            stopped = Some("target_reached".to_owned());
            break;
        }
        if total >= plan.max_seeds {
            stopped = Some("max_seeds".to_owned());
            break;
        }
    }
    bar.finish_and_clear();
    Ok((
        reps,
        ReplicationOutcome {
            confidence: plan.confidence,
            baseline: plan.baseline,
            precision: plan.precision.clone(),
            stopped,
        },
    ))
}

fn progress_bar(quiet: bool) -> ProgressBar {
    let target = if quiet {
        ProgressDrawTarget::hidden()
    } else {
        ProgressDrawTarget::stderr()
    };
    let bar = ProgressBar::with_draw_target(Some(0), target);
    bar.set_style(
        ProgressStyle::with_template("{prefix:>20} [{bar:40}] {pos:>5}/{len} runs")
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar.set_prefix("replications");
    bar
}

/// The audit covers replication 0 only; say so rather than let a reader assume otherwise.
pub fn audit_note(plan: &Plan) -> Option<&'static str> {
    plan.replicated()
        .then_some("note: --audit records replication 0 (the scenario seed) only")
}
