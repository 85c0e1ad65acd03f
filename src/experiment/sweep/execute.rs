//! Running a sweep: every point on the same seeds, in parallel, folded as runs finish.
//!
//! The plan is point-major (point 0 on every seed, then point 1, ...), so points complete in
//! roughly their order and a progress bar over points moves steadily. Every point runs on the
//! same seeds (common random numbers: point `a` and point `b` on seed `s` face the same
//! arrivals, latencies and faults), so the differences between points are the policies', not
//! the seeds'.
//!
//! Memory is flat in the number of points: a run's full result is dropped as soon as its row
//! of numbers ([`seed_metrics`]) is taken, and a point's rows are dropped as soon as its last
//! seed is in and its estimates are made. What is kept per point is its estimates (a few
//! dozen numbers); rows wait only for the points still running (about one per thread).
//!
//! Results do not depend on the thread count or the order runs finish in: a row lands in its
//! (point, seed) slot and a point's estimates are computed over its rows in seed order.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use failover_router::policy::Policy;

use crate::metrics::compare::{MetricEstimate, SeedMetrics, estimates, seed_metrics};
use crate::scenario::{CompiledScenario, NamedPolicy};

use super::super::{ExperimentError, Hooks, RunSpec, execute_each};

/// What a sweep's runs add up to.
#[derive(Clone, Debug, PartialEq)]
pub struct SweepRuns {
    /// Per point, in point order: each metric's mean over the seeds and its interval.
    pub estimates: Vec<Vec<MetricEstimate>>,
    /// Verifications simulated and the runs' own wall time, for throughput reporting.
    pub simulated: u64,
    pub busy: f64,
}

/// One run's metrics, by name.
type Row = BTreeMap<String, f64>;

/// Counters a progress bar reads while a sweep runs.
#[derive(Debug, Default)]
pub struct SweepProgress {
    /// Points whose every seed is in.
    pub points: AtomicUsize,
    /// Single runs finished.
    pub runs: AtomicUsize,
}

/// Per point: the rows of the seeds in so far, until the last one arrives.
struct Fold {
    pending: Vec<Option<Vec<Option<Row>>>>,
    arrived: Vec<usize>,
    estimates: Vec<Option<Vec<MetricEstimate>>>,
    simulated: u64,
    busy: f64,
    error: Option<ExperimentError>,
}

/// Runs each of `policies` (named by `labels`, as reports and errors show them) on every one of
/// `seeds`, on up to `threads` threads, counting finished points and runs in `progress`.
pub fn run_points(
    world: &CompiledScenario,
    policies: &[Policy],
    labels: &[String],
    seeds: &[u64],
    confidence: f64,
    threads: usize,
    progress: &SweepProgress,
) -> Result<SweepRuns, ExperimentError> {
    let mut point_world = world.clone();
    point_world.policies = policies
        .iter()
        .zip(labels)
        .map(|(policy, name)| NamedPolicy {
            name: name.clone(),
            file: None,
            policy: policy.clone(),
        })
        .collect();
    let point_world = Arc::new(point_world);
    let per_point = seeds.len();
    let plan: Vec<RunSpec> = (0..policies.len())
        .flat_map(|policy| seeds.iter().map(move |&seed| RunSpec { policy, seed }))
        .collect();
    let fold = Mutex::new(Fold {
        pending: vec![None; policies.len()],
        arrived: vec![0; policies.len()],
        estimates: vec![None; policies.len()],
        simulated: 0,
        busy: 0.0,
        error: None,
    });
    execute_each(
        &point_world,
        &plan,
        threads,
        &|_| Hooks::default(),
        &|i, result| {
            progress.runs.fetch_add(1, Ordering::Relaxed);
            // The row is made outside the lock: it is the only costly step of folding.
            let row = result.map(|r| {
                let row = seed_metrics(&r.run);
                (row, r.traffic.legitimate + r.traffic.fraudulent, r.wall)
            });
            let mut f = fold.lock().unwrap_or_else(|e| e.into_inner());
            let (point, seed) = (i / per_point, i % per_point);
            match row {
                Err(e) => {
                    f.error.get_or_insert(e);
                }
                Ok((row, simulated, wall)) => {
                    f.simulated += simulated;
                    f.busy += wall.as_secs_f64();
                    f.pending[point].get_or_insert_with(|| vec![None; per_point])[seed] = Some(row);
                    f.arrived[point] += 1;
                    if f.arrived[point] == per_point {
                        let rows = f.pending[point].take().unwrap_or_default();
                        let seeds: Vec<SeedMetrics> = seeds
                            .iter()
                            .zip(rows)
                            .filter_map(|(&seed, row)| {
                                row.map(|metrics| SeedMetrics { seed, metrics })
                            })
                            .collect();
                        f.estimates[point] = Some(estimates(&seeds, confidence));
                        progress.points.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        },
    );
    let f = fold.into_inner().unwrap_or_else(|e| e.into_inner());
    if let Some(e) = f.error {
        return Err(e);
    }
    Ok(SweepRuns {
        estimates: f
            .estimates
            .into_iter()
            .map(|e| e.expect("every point ran on every seed"))
            .collect(),
        simulated: f.simulated,
        busy: f.busy,
    })
}
