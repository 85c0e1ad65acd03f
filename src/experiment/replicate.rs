//! Replications: every policy on the same N seeds, folded into per-seed metrics as runs finish.
//!
//! Seeds are derived from the scenario's seed by a fixed mixing function, replication 0 being
//! the scenario seed itself, so one seed is exactly a plain run and every policy (and, later,
//! every sweep point) faces the same N worlds. Runs may finish in any order on any thread: each
//! result lands in its (policy, replication) slot and histograms are merged by addition, so the
//! outcome does not depend on the order. Only replication 0 keeps its full run (time series,
//! routes, histograms) for the report; the others keep a row of numbers each, so memory grows
//! with N by a few hundred bytes per run.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use hdrhistogram::Histogram;

use crate::metrics::compare::{
    self, Comparison, PolicyReplications, SeedMetrics, estimates, seed_metrics,
};
use crate::metrics::{HistogramError, SerializedHistogram};
use crate::scenario::CompiledScenario;

use super::{ExperimentError, Hooks, RunResult, RunSpec, execute_each};

/// The seed of replication `i` of a scenario whose seed is `base`: `base` itself for `i == 0`,
/// otherwise a SplitMix64 mix of both, so replications are unrelated streams.
pub fn seed_for(base: u64, i: u64) -> u64 {
    if i == 0 {
        return base;
    }
    let mut z = base ^ i.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The seeds of replications `from..to`.
pub fn seeds(base: u64, from: u64, to: u64) -> Vec<u64> {
    (from..to).map(|i| seed_for(base, i)).collect()
}

/// What the replications of a set of policies add up to so far.
pub struct Replications {
    /// Policy indices into the scenario, in report order.
    pub policies: Vec<usize>,
    pub names: Vec<String>,
    /// Every seed run so far, replication 0 first.
    pub seeds: Vec<u64>,
    /// `rows[p][i]`: policy `p`'s metrics on seed `i`.
    rows: Vec<Vec<Option<BTreeMap<String, f64>>>>,
    /// Per policy, the time to verify of every verification of every seed.
    ttv: Vec<Option<Histogram<u64>>>,
    /// Per policy, the full result of replication 0.
    pub first: Vec<Option<RunResult>>,
    /// Verifications simulated and the runs' own wall time, for throughput reporting.
    pub simulated: u64,
    pub busy: f64,
}

impl Replications {
    pub fn new(world: &CompiledScenario, policies: &[usize]) -> Self {
        Replications {
            policies: policies.to_vec(),
            names: policies
                .iter()
                .map(|&p| world.policies[p].name.clone())
                .collect(),
            seeds: Vec::new(),
            rows: vec![Vec::new(); policies.len()],
            ttv: vec![None; policies.len()],
            first: policies.iter().map(|_| None).collect(),
            simulated: 0,
            busy: 0.0,
        }
    }

    /// Runs every policy on `seeds` (appended as the next replications) on `threads` threads,
    /// folding each result in as it arrives. `hooks` attaches sinks by plan index (policy
    /// `i % policies` on seed `i / policies` of this batch); `done` counts finished runs.
    pub fn run(
        &mut self,
        world: &Arc<CompiledScenario>,
        seeds: &[u64],
        threads: usize,
        hooks: &(dyn Fn(usize) -> Hooks + Sync),
        done: &AtomicUsize,
    ) -> Result<(), ExperimentError> {
        let offset = self.seeds.len();
        self.seeds.extend_from_slice(seeds);
        for row in &mut self.rows {
            row.resize(self.seeds.len(), None);
        }
        let plan: Vec<RunSpec> = seeds
            .iter()
            .flat_map(|&seed| {
                self.policies
                    .iter()
                    .map(move |&policy| RunSpec { policy, seed })
            })
            .collect();
        let per_seed = self.policies.len();
        let folded: Mutex<(&mut Self, Option<ExperimentError>)> = Mutex::new((self, None));
        execute_each(world, &plan, threads, hooks, &|i, result| {
            done.fetch_add(1, Ordering::Relaxed);
            let mut guard = folded.lock().unwrap_or_else(|e| e.into_inner());
            let (me, error) = &mut *guard;
            match result {
                Ok(r) => {
                    if let Err(e) = me.fold(offset + i / per_seed, i % per_seed, r) {
                        error.get_or_insert(e);
                    }
                }
                // Another shard's run: this shard's fold is never reported.
                Err(ExperimentError::NotInShard) => {}
                Err(e) => {
                    error.get_or_insert(e);
                }
            }
        });
        let (_, error) = folded.into_inner().unwrap_or_else(|e| e.into_inner());
        error.map_or(Ok(()), Err)
    }

    fn fold(&mut self, seed: usize, p: usize, r: RunResult) -> Result<(), ExperimentError> {
        self.rows[p][seed] = Some(seed_metrics(&r.run));
        self.simulated += r.traffic.legitimate + r.traffic.fraudulent;
        self.busy += r.wall.as_secs_f64();
        let h = r.run.ttv_histogram.decode()?;
        match &mut self.ttv[p] {
            Some(acc) => acc.add(&h).map_err(HistogramError::from)?,
            slot => *slot = Some(h),
        }
        if seed == 0 {
            self.first[p] = Some(r);
        }
        Ok(())
    }

    /// Every policy's replications with their estimates at `confidence`.
    pub fn summaries(&self, confidence: f64) -> Vec<PolicyReplications> {
        self.names
            .iter()
            .enumerate()
            .map(|(p, name)| {
                let seeds: Vec<SeedMetrics> = self
                    .seeds
                    .iter()
                    .zip(&self.rows[p])
                    .filter_map(|(&seed, row)| {
                        row.as_ref().map(|metrics| SeedMetrics {
                            seed,
                            metrics: metrics.clone(),
                        })
                    })
                    .collect();
                let pooled_ttv = self.ttv[p]
                    .as_ref()
                    .and_then(|h| SerializedHistogram::encode(h).ok())
                    .and_then(|s| s.quantiles().ok())
                    .unwrap_or_default();
                PolicyReplications {
                    policy: name.clone(),
                    estimates: estimates(&seeds, confidence),
                    seeds,
                    pooled_ttv,
                }
            })
            .collect()
    }
}

/// Every policy but the baseline (index into `reps`) against it.
pub fn comparisons(
    reps: &[PolicyReplications],
    baseline: usize,
    confidence: f64,
) -> Vec<Comparison> {
    let Some(base) = reps.get(baseline) else {
        return Vec::new();
    };
    reps.iter()
        .enumerate()
        .filter(|(i, _)| *i != baseline)
        .flat_map(|(_, r)| compare::compare(r, base, confidence, &|_| 0.0))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replication_zero_is_the_scenario_seed_and_the_others_are_spread() {
        assert_eq!(seed_for(7, 0), 7);
        let s = seeds(7, 0, 1000);
        let mut sorted = s.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), 1000, "no two replications share a seed");
        // Fixed forever: summaries name their seeds, and baselines are compared by seed.
        assert_eq!(seeds(7, 1, 3), [seed_for(7, 1), seed_for(7, 2)]);
        assert_eq!(seed_for(1, 1), 0xe4d9_7177_1b65_2c20);
    }
}
