//! Experiments: which runs to make (scenario x policy x seed), making them on every core, and
//! the ground truth the metrics need (which routes each fault really hits).
//!
//! One run is one (scenario, policy, seed): its own actix System on its own thread, its own
//! router, its own recorder. Runs share nothing mutable, and each run's randomness comes only
//! from its seed (streams derived from (seed, purpose, entity), see `sim::rng`), so results do
//! not depend on how many threads execute them or in which order; results are returned in plan
//! order. All policies of a scenario run with the same seed face the same world realization:
//! the same arrivals, destinations, users, and per-attempt provider and carrier draws (common
//! random numbers), so their differences are the policies', not the dice's.

pub mod estimate;
pub mod gate;
pub mod load;
pub mod replicate;
pub mod shard;
mod summary;
pub mod sweep;
mod truth;

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use failover_router::{EventSink, RouterEvent, RoutingTable, TableError};

use crate::metrics::{ConfigError, Ledger, PolicyRun, Recorder, RecorderConfig};
use crate::scenario::CompiledScenario;
use crate::sim::{SimError, SimOutcome, TrafficCounts, simulate};

pub use summary::{
    ReplicationOutcome, scenario_info, summarize, summarize_replications, text_hash,
};
pub use truth::affected_routes;

/// One run to make.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RunSpec {
    /// Index into the scenario's policies.
    pub policy: usize,
    pub seed: u64,
}

/// What one run produced. Serializable, exactly (floats round-trip), so a shard can hand it
/// to `merge` (see [`shard`]).
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct RunResult {
    pub spec: RunSpec,
    pub policy: String,
    pub run: PolicyRun,
    pub traffic: TrafficCounts,
    /// Virtual time at which the run (including its drain) ended.
    pub end: Duration,
    /// Wall-clock time the run took: the only wall-clock figure, for throughput reporting.
    pub wall: std::time::Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum ExperimentError {
    #[error("policy {policy:?}: {source}")]
    Sim {
        policy: String,
        #[source]
        source: SimError,
    },
    #[error("routing table: {0}")]
    Table(#[from] TableError),
    #[error("metrics configuration: {0}")]
    Metrics(#[from] ConfigError),
    #[error("no policy with index {0}")]
    NoSuchPolicy(usize),
    /// Another shard's run (`--shard`): not an error of the run, never reported as one.
    #[error("made by another shard")]
    NotInShard,
    /// A merge whose partials do not hold this run (`failover-lab merge`).
    #[error("{0}")]
    Shard(String),
    #[error("time-to-verify histograms: {0}")]
    Histogram(#[from] crate::metrics::HistogramError),
    #[error(
        "policy {policy:?}, seed {seed}: the run broke its conservation law ({law}); the run \
         is void, no result is reported: this is a bug in the lab, please report it"
    )]
    Conservation {
        policy: String,
        seed: u64,
        law: String,
    },
}

/// The run's conservation law, checked before anything is reported: every generated
/// verification ended exactly once; every launched attempt was judged exactly once, or
/// dropped unjudged by a full watcher table (`evicted`), or is still watched at the end.
fn check_conservation(outcome: &SimOutcome, ledger: &Ledger) -> Result<(), String> {
    let traffic = &outcome.traffic;
    let generated = traffic.legitimate + traffic.fraudulent;
    if ledger.finished != generated {
        return Err(format!(
            "{generated} verifications were generated but {} ended",
            ledger.finished
        ));
    }
    let unjudged_allowed = outcome.stragglers > 0 || ledger.evicted > 0;
    if ledger.judged > ledger.launched || (ledger.judged < ledger.launched && !unjudged_allowed) {
        return Err(format!(
            "{} attempts were launched but {} were judged",
            ledger.launched, ledger.judged
        ));
    }
    Ok(())
}

/// Every policy of the scenario (or those named by index) with one seed: the usual comparison.
pub fn plan_policies(world: &CompiledScenario, policies: &[usize], seeds: &[u64]) -> Vec<RunSpec> {
    let all: Vec<usize> = if policies.is_empty() {
        (0..world.policies.len()).collect()
    } else {
        policies.to_vec()
    };
    seeds
        .iter()
        .flat_map(|&seed| all.iter().map(move |&policy| RunSpec { policy, seed }))
        .collect()
}

/// The recorder configuration for `world`: its table, windows and the faults' ground truth.
pub fn recorder_config(world: &CompiledScenario) -> Result<RecorderConfig, ExperimentError> {
    let table = RoutingTable::new(&world.provider_names(), &world.routes)?;
    let mut cfg = RecorderConfig::from_table(&table, world.warmup, world.duration, world.bucket);
    cfg.faults = world
        .faults
        .iter()
        .map(|f| crate::metrics::FaultWindow {
            name: f.name.clone(),
            start: f.start,
            end: f.end,
            affected_routes: affected_routes(world, &table, f),
        })
        .collect();
    Ok(cfg)
}

/// What a caller may attach to a run: another sink (e.g. an audit writer) and a progress gauge.
#[derive(Clone, Default)]
pub struct Hooks {
    /// Receives every event after the recorder.
    pub sink: Option<Arc<dyn EventSink>>,
    /// Set to the virtual time (nanoseconds) of the latest event: a progress bar's position.
    pub progress: Option<Arc<AtomicU64>>,
}

/// The recorder, plus whatever the hooks ask for.
struct Tee {
    recorder: Arc<Recorder>,
    hooks: Hooks,
}

impl EventSink for Tee {
    fn emit(&self, event: &RouterEvent<'_>) {
        self.recorder.emit(event);
        if let Some(s) = &self.hooks.sink {
            s.emit(event);
        }
        if let Some(p) = &self.hooks.progress {
            p.store(event.at().as_nanos() as u64, Ordering::Relaxed);
        }
    }
}

/// Makes one run.
pub fn run_one(world: &Arc<CompiledScenario>, spec: RunSpec) -> Result<RunResult, ExperimentError> {
    run_one_with(world, spec, Hooks::default())
}

/// Makes one run with hooks attached.
pub fn run_one_with(
    world: &Arc<CompiledScenario>,
    spec: RunSpec,
    hooks: Hooks,
) -> Result<RunResult, ExperimentError> {
    let named = world
        .policies
        .get(spec.policy)
        .ok_or(ExperimentError::NoSuchPolicy(spec.policy))?;
    let recorder = Arc::new(Recorder::new(recorder_config(world)?)?);
    let sink: Arc<dyn EventSink> = if hooks.sink.is_none() && hooks.progress.is_none() {
        recorder.clone()
    } else {
        Arc::new(Tee {
            recorder: recorder.clone(),
            hooks,
        })
    };
    let started = std::time::Instant::now();
    let outcome =
        simulate(Arc::clone(world), &named.policy, spec.seed, sink).map_err(|source| {
            ExperimentError::Sim {
                policy: named.name.clone(),
                source,
            }
        })?;
    let wall = started.elapsed();
    check_conservation(&outcome, &recorder.ledger()).map_err(|law| {
        ExperimentError::Conservation {
            policy: named.name.clone(),
            seed: spec.seed,
            law,
        }
    })?;
    Ok(RunResult {
        spec,
        policy: named.name.clone(),
        run: recorder.summary(outcome.end),
        traffic: outcome.traffic,
        end: outcome.end,
        wall,
    })
}

/// Makes every run of `plan` on up to `threads` threads; results come back in plan order, the
/// same whatever the thread count.
pub fn execute(
    world: &Arc<CompiledScenario>,
    plan: &[RunSpec],
    threads: usize,
) -> Vec<Result<RunResult, ExperimentError>> {
    execute_with(world, plan, threads, &|_| Hooks::default())
}

/// [`execute`] with hooks for each run (by plan index).
pub fn execute_with(
    world: &Arc<CompiledScenario>,
    plan: &[RunSpec],
    threads: usize,
    hooks: &(dyn Fn(usize) -> Hooks + Sync),
) -> Vec<Result<RunResult, ExperimentError>> {
    let slots: Mutex<Vec<Option<Result<RunResult, ExperimentError>>>> =
        Mutex::new((0..plan.len()).map(|_| None).collect());
    execute_each(world, plan, threads, hooks, &|i, result| {
        slots.lock().unwrap_or_else(|e| e.into_inner())[i] = Some(result);
    });
    slots
        .into_inner()
        .unwrap_or_else(|e| e.into_inner())
        .into_iter()
        .map(|r| r.expect("every planned run was made"))
        .collect()
}

/// Makes every run of `plan` on up to `threads` threads and hands each result to `done` with
/// its plan index as soon as it is made, in whatever order the threads finish: for callers that
/// fold results as they come (memory bounded by what they keep) and do not depend on the order.
pub fn execute_each(
    world: &Arc<CompiledScenario>,
    plan: &[RunSpec],
    threads: usize,
    hooks: &(dyn Fn(usize) -> Hooks + Sync),
    done: &(dyn Fn(usize, Result<RunResult, ExperimentError>) + Sync),
) {
    // In a shard or a merge, each run is made here, by another shard, or taken from the
    // partials; what needs no simulation is handed over first, in plan order.
    let mut make: Vec<(usize, Option<(usize, String)>)> = Vec::with_capacity(plan.len());
    match shard::claim(world, plan) {
        None => make.extend((0..plan.len()).map(|i| (i, None))),
        Some(claims) => {
            for (i, claim) in claims.into_iter().enumerate() {
                match claim {
                    shard::Claim::Make {
                        ordinal,
                        fingerprint,
                    } => make.push((i, Some((ordinal, fingerprint)))),
                    shard::Claim::Skip => done(i, Err(ExperimentError::NotInShard)),
                    shard::Claim::Take(result) => done(i, Ok(*result)),
                    shard::Claim::Refuse(why) => done(i, Err(ExperimentError::Shard(why))),
                }
            }
        }
    }
    let threads = threads.clamp(1, make.len().max(1));
    let next = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                loop {
                    let k = next.fetch_add(1, Ordering::Relaxed);
                    let Some((i, recorded)) = make.get(k) else {
                        break;
                    };
                    let result = run_one_with(world, plan[*i], hooks(*i));
                    if let (Some((ordinal, fingerprint)), Ok(r)) = (recorded, &result) {
                        shard::record(*ordinal, fingerprint.clone(), r);
                    }
                    done(*i, result);
                }
            });
        }
    });
}

/// The number of threads to use by default: every core.
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(generated: u64, stragglers: usize) -> SimOutcome {
        SimOutcome {
            traffic: TrafficCounts {
                legitimate: generated,
                ..TrafficCounts::default()
            },
            end: Duration::ZERO,
            stragglers,
        }
    }

    #[test]
    fn the_conservation_law_refuses_lost_or_invented_outcomes() {
        let ledger = |finished, launched, judged, evicted| Ledger {
            finished,
            launched,
            judged,
            evicted,
        };
        assert_eq!(
            check_conservation(&outcome(10, 0), &ledger(10, 12, 12, 0)),
            Ok(())
        );
        // A verification that never ended (a vanished task), or one that ended twice.
        let e = check_conservation(&outcome(10, 0), &ledger(9, 12, 12, 0)).unwrap_err();
        assert!(
            e.contains("10 verifications were generated but 9 ended"),
            "{e}"
        );
        assert!(check_conservation(&outcome(10, 0), &ledger(11, 12, 12, 0)).is_err());
        // An attempt judged twice, or one never judged with nothing left to judge it.
        assert!(check_conservation(&outcome(10, 0), &ledger(10, 12, 13, 0)).is_err());
        assert!(check_conservation(&outcome(10, 0), &ledger(10, 12, 11, 0)).is_err());
        // Unjudged attempts are allowed only while watched or after an eviction.
        assert_eq!(
            check_conservation(&outcome(10, 1), &ledger(10, 12, 11, 0)),
            Ok(())
        );
        assert_eq!(
            check_conservation(&outcome(10, 0), &ledger(10, 12, 11, 1)),
            Ok(())
        );
    }
}
