//! Assembling the versioned run summary from the runs of one scenario.

use crate::metrics::{
    ExperimentInfo, FaultInfo, PolicySummary, PrecisionTarget, ReloadInfo, RestartInfo, RunInfo,
    RunSummary, SUMMARY_FORMAT_VERSION, ScenarioInfo,
};
use crate::scenario::{
    CompiledScenario, FaultEffect, LatencyLeg, OutageMode, TargetRef, entity_key,
};

use super::RunResult;
use super::replicate::{Replications, comparisons};

/// FNV-1a 64 of the scenario text, as 16 hex digits: identifies the exact file a result came from.
pub fn text_hash(text: &str) -> String {
    format!("{:016x}", entity_key(text))
}

fn kind(effect: &FaultEffect) -> String {
    let mode = |m: &OutageMode| match m {
        OutageMode::Error => "errors",
        OutageMode::BlackHole => "black hole",
    };
    match effect {
        FaultEffect::Outage(m) => format!("outage ({})", mode(m)),
        FaultEffect::Brownout { error_rate, loss } => {
            format!("brownout (errors {error_rate}, loss {loss})")
        }
        FaultEffect::LatencyMultiply(x, leg) => format!("latency x{x}{}", leg_label(*leg)),
        FaultEffect::LatencyAdd(_, leg) => format!("added latency{}", leg_label(*leg)),
        FaultEffect::Flapping {
            period,
            duty,
            mode: m,
        } => format!(
            "flapping ({} every {}, {})",
            failover_router::duration::format(period.mul_f64(*duty)),
            failover_router::duration::format(*period),
            mode(m)
        ),
        FaultEffect::Degradation { from, to } => format!("degradation ({from} to {to})"),
        FaultEffect::InventoryShock { remaining } => format!("inventory shock ({remaining} left)"),
        FaultEffect::NumberTypeBlock => "number type blocked".into(),
        FaultEffect::CapacityCut { factor } => format!("capacity cut (x{factor})"),
    }
}

/// A provider latency fault's leg when it is not the default (the API).
fn leg_label(leg: LatencyLeg) -> &'static str {
    match leg {
        LatencyLeg::Api => "",
        LatencyLeg::Delivery => " on delivery",
        LatencyLeg::Both => " on API and delivery",
    }
}

/// What the report needs to know about the scenario.
pub fn scenario_info(
    world: &CompiledScenario,
    description: Option<String>,
    text: &str,
) -> ScenarioInfo {
    let faults = world
        .faults
        .iter()
        .map(|f| {
            let t = &f.target;
            let mut target = match t.entity {
                TargetRef::Provider(p) => format!("provider {}", world.provider(p).name),
                TargetRef::Carrier(c) => format!("carrier {}", world.carrier(c).name),
                TargetRef::Region(r) => format!("region {}", world.region(r).name),
                TargetRef::FailureDomain(d) => {
                    format!("failure domain {}", world.failure_domains[d.index()])
                }
            };
            let narrowing: Vec<String> = t
                .country
                .map(|c| world.country(c).code.to_string())
                .into_iter()
                .chain(t.number_type.map(|n| n.to_string()))
                .collect();
            if !narrowing.is_empty() {
                target.push_str(&format!(" ({})", narrowing.join(", ")));
            }
            FaultInfo {
                name: f.name.clone(),
                kind: kind(&f.effect),
                target,
                start: f.start.as_secs_f64(),
                end: f.end.as_secs_f64(),
            }
        })
        .collect();
    ScenarioInfo {
        name: world.name.clone(),
        description,
        hash: text_hash(text),
        duration: world.duration.as_secs_f64(),
        warmup: world.warmup.as_secs_f64(),
        bucket: world.bucket.as_secs_f64(),
        faults,
        restarts: world
            .restarts
            .iter()
            .map(|r| RestartInfo {
                at: r.at.as_secs_f64(),
                warm: r.warm,
            })
            .collect(),
        reloads: world
            .reloads
            .iter()
            .map(|r| ReloadInfo {
                at: r.at.as_secs_f64(),
                policy: world.policies[r.policy].name.clone(),
            })
            .collect(),
        providers: world.providers.iter().map(|p| p.name.clone()).collect(),
        routes: world
            .routes
            .iter()
            .map(|r| format!("{}/{}/{}", r.provider, r.country, r.number_type))
            .collect(),
    }
}

/// The summary of `results` (all with the same seed), in the order given.
pub fn summarize(
    scenario: ScenarioInfo,
    seed: u64,
    results: Vec<RunResult>,
    threads: usize,
    wall_seconds: f64,
) -> RunSummary {
    let simulated: u64 = results
        .iter()
        .map(|r| r.traffic.legitimate + r.traffic.fraudulent)
        .sum();
    let busy: f64 = results.iter().map(|r| r.wall.as_secs_f64()).sum();
    RunSummary {
        format_version: SUMMARY_FORMAT_VERSION,
        scenario,
        seed,
        policies: results
            .into_iter()
            .map(|r| PolicySummary {
                name: r.policy,
                result: r.run,
            })
            .collect(),
        experiment: None,
        replications: Vec::new(),
        comparisons: Vec::new(),
        run: Some(RunInfo {
            tool_version: env!("CARGO_PKG_VERSION").to_owned(),
            threads,
            wall_seconds,
            simulated_verifications: simulated,
            verifications_per_second: if busy > 0.0 {
                simulated as f64 / busy
            } else {
                0.0
            },
        }),
        load: None,
    }
}

/// How replications were asked for and how they ended, for [`summarize_replications`].
#[derive(Clone, Debug, Default)]
pub struct ReplicationOutcome {
    pub confidence: f64,
    /// Index of the baseline among the replicated policies.
    pub baseline: usize,
    pub precision: Vec<PrecisionTarget>,
    /// `target_reached` or `max_seeds` in precision mode.
    pub stopped: Option<String>,
}

/// The summary of replicated runs: replication 0 of every policy in full (as [`summarize`]
/// gives a single seed), and with two or more seeds every seed's metrics, the estimates and the
/// comparisons with the baseline.
pub fn summarize_replications(
    scenario: ScenarioInfo,
    mut reps: Replications,
    outcome: ReplicationOutcome,
    threads: usize,
    wall_seconds: f64,
) -> RunSummary {
    let first: Vec<RunResult> = reps.first.iter_mut().filter_map(Option::take).collect();
    let seed = reps.seeds.first().copied().unwrap_or_default();
    let mut summary = summarize(scenario, seed, first, threads, wall_seconds);
    if let Some(run) = &mut summary.run {
        run.simulated_verifications = reps.simulated;
        run.verifications_per_second = if reps.busy > 0.0 {
            reps.simulated as f64 / reps.busy
        } else {
            0.0
        };
    }
    if reps.seeds.len() >= 2 {
        let replications = reps.summaries(outcome.confidence);
        summary.comparisons = comparisons(&replications, outcome.baseline, outcome.confidence);
        summary.experiment = Some(ExperimentInfo {
            seeds: reps.seeds.clone(),
            confidence: outcome.confidence,
            baseline: reps.names[outcome.baseline].clone(),
            precision: outcome.precision,
            stopped: outcome.stopped,
        });
        summary.replications = replications;
    }
    summary
}
