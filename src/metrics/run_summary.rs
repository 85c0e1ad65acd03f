//! The versioned summary of one `failover-lab run`: every policy of a scenario, same seed.
//!
//! This is the file format CI gates and later comparisons read (`summary.json`), so it is
//! versioned and its meaning is fixed by DESIGN.md section 5. Everything that depends on the wall
//! clock lives under `run` and nowhere else: two runs of the same scenario and seed produce
//! identical files apart from `run`.

use serde::{Deserialize, Serialize};

use super::summary::PolicyRun;

/// Version of the `summary.json` layout. Bump on any incompatible change; added fields are not
/// one (readers default them, e.g. `caller_abandoned` is 0 in files written before it).
pub const SUMMARY_FORMAT_VERSION: u32 = 1;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    pub format_version: u32,
    pub scenario: ScenarioInfo,
    pub seed: u64,
    pub policies: Vec<PolicySummary>,
    /// Wall-clock facts of this execution (not reproducible by nature).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<RunInfo>,
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
