//! The versioned summary of one `failover-lab run`: every policy of a scenario on the same seeds
//! (one by default; `--seeds N` for replications, paired comparisons and verdicts).
//!
//! This is the file format CI gates and later comparisons read (`summary.json`), so it is
//! versioned and its meaning is fixed by DESIGN.md section 5. Everything that depends on the wall
//! clock lives under `run` and nowhere else: two runs of the same scenario and seed produce
//! identical files apart from `run`.

use serde::{Deserialize, Serialize};

use super::compare::{Comparison, PolicyReplications};
use super::summary::PolicyRun;

/// How a replicated run was planned and why it stopped.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ExperimentInfo {
    /// The seeds, replication 0 (the scenario seed) first; every policy ran on each.
    pub seeds: Vec<u64>,
    /// Confidence level of every interval, e.g. 0.95.
    pub confidence: f64,
    /// The policy the others are compared with.
    pub baseline: String,
    /// Precision targets (`--precision metric=half_width`), if any.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub precision: Vec<PrecisionTarget>,
    /// Why seeds stopped being added in precision mode: `target_reached` or `max_seeds`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
}

/// A precision target: keep adding seeds until every comparison's interval on `metric` has a
/// half-width under `half_width`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PrecisionTarget {
    pub metric: String,
    pub half_width: f64,
}

/// Version of the `summary.json` layout. Bump on any incompatible change; added fields are not
/// one (readers default them, e.g. `caller_abandoned` is 0 in files written before it).
/// Version 2 added `experiment`, `replications` and `comparisons` (present with two or more
/// seeds); every version 1 field is kept with its meaning.
pub const SUMMARY_FORMAT_VERSION: u32 = 2;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    pub format_version: u32,
    pub scenario: ScenarioInfo,
    /// The scenario seed: replication 0, whose run `policies` shows in full.
    pub seed: u64,
    pub policies: Vec<PolicySummary>,
    /// How the replications were planned (absent for a single seed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub experiment: Option<ExperimentInfo>,
    /// Per policy, every seed's metrics and the estimates over seeds (two or more seeds).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub replications: Vec<PolicyReplications>,
    /// Every policy but the baseline against the baseline, metric by metric: the paired mean
    /// difference, its interval and the verdict (two or more seeds).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub comparisons: Vec<Comparison>,
    /// Wall-clock facts of this execution (not reproducible by nature).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<RunInfo>,
    /// What a real-time load test measured (`failover-lab load` only; wall-clock figures,
    /// versioned on their own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load: Option<super::load::LoadSummary>,
}

/// What the report needs to know about the scenario, without re-reading it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScenarioInfo {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// FNV-1a 64 of the scenario file's text, hex: which exact file produced these results.
    pub hash: String,
    /// Seconds.
    pub duration: f64,
    pub warmup: f64,
    pub bucket: f64,
    pub faults: Vec<FaultInfo>,
    /// Router restarts (`[[restarts]]`), in time order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub restarts: Vec<RestartInfo>,
    /// Policy reloads (`[[reloads]]`), in time order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reloads: Vec<ReloadInfo>,
    /// Provider names in id order (the provider columns of time series).
    pub providers: Vec<String>,
    /// Route labels (`provider/CC/number_type`) in id order.
    pub routes: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FaultInfo {
    pub name: String,
    /// e.g. `outage`, `brownout`.
    pub kind: String,
    /// e.g. `provider alpha (DE, mobile)`.
    pub target: String,
    /// Seconds.
    pub start: f64,
    pub end: f64,
}

/// A router restart of the scenario.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReloadInfo {
    /// Seconds.
    pub at: f64,
    /// The policy every run switches to.
    pub policy: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RestartInfo {
    /// Seconds.
    pub at: f64,
    /// The new router restores the old one's state (`warm = true`).
    pub warm: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PolicySummary {
    pub name: String,
    #[serde(flatten)]
    pub result: PolicyRun,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunInfo {
    pub tool_version: String,
    pub threads: usize,
    pub wall_seconds: f64,
    /// Verifications simulated, all policies together.
    pub simulated_verifications: u64,
    /// Simulated verifications per second of one core: `simulated_verifications` over the sum
    /// of the runs' own wall times (independent of how many threads ran them).
    pub verifications_per_second: f64,
}
