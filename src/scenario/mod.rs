//! Scenario files: the world, the traffic, the faults and the policies to compare, in TOML.
//!
//! A scenario is the unit of reproducibility: given the file and a seed, a run is determined.
//! So the file is strict — `format_version` is required, unknown fields are errors (a misspelt
//! `error_rate` that silently defaults to 0 would make a whole comparison meaningless), and
//! every name one entry uses to refer to another is resolved and checked, with "did you mean"
//! for near misses. Validation reports every problem at once, each at its field path
//! (`providers[2].paths[0].carrier`), and paths are kept as segments so a later pass can map
//! them to `file:line:col`.
//!
//! This module is the only parser of scenario files. Its outputs are the [`Scenario`] (the file
//! as data, serialisable back to equivalent TOML) and the [`CompiledScenario`] the simulator
//! runs (names resolved to indices, distributions compiled, rates per second).
//!
//! The shape, in brief (see the module tests for a complete example):
//!
//! ```toml
//! format_version = 1
//! name = "regional-outage"
//! duration = "1h"
//!
//! [[regions]]
//! name = "eu-west"
//! latency = { kind = "lognormal", median = "40ms", p99 = "200ms" }
//!
//! [[countries]]
//! code = "DE"
//! carriers = [{ name = "telekom-de", share = 1.0 }]
//!
//! [[carriers]]
//! name = "telekom-de"
//! country = "DE"
//! delivery_latency = { kind = "lognormal", median = "3s", p99 = "20s" }
//!
//! [[providers]]
//! name = "twilio-like"
//! region = "eu-west"
//! api_latency = { kind = "constant", value = "150ms" }
//!
//! [[router.routes]]
//! provider = "twilio-like"
//! country = "DE"
//! number_type = "mobile"
//! cost = 0.07
//!
//! [policies.default]
//!
//! [traffic]
//! rate = "50/s"
//! mix = [{ country = "DE", number_type = "mobile", weight = 1.0 }]
//! ```

mod compiled;
pub mod distribution;
mod fault;
mod files;
mod locate;
mod path;
mod policies;
mod schema;
mod traffic;
mod validate;
mod world;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use failover_router::duration::{HumanDuration, serde_str};
use failover_router::route::RouteSpec;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use toml_edit::ImDocument;

pub use compiled::{
    Arrivals, BurstModel, CarrierId, CarrierModel, CompiledScenario, CountryId, CountryModel,
    Destination, DiurnalProfile, DomainId, ExperimentModel, FaultEffect, FaultModel, FraudModel,
    InventoryModel, MixClass, NumberTypeSet, PathModel, ProviderModel, RateProfile, RegionId,
    RegionModel, TargetModel, TargetRef, TraceArrival, TrafficModel, UseCaseId, entity_key,
};
pub use compiled::{ReloadModel, RestartModel};
pub use fault::{
    Fault, FaultKind, FaultTarget, LatencyEffect, LatencyLeg, OutageMode, TargetEntity,
};
pub use files::{
    FileKind, FileRules, MAX_CSV_FILE_BYTES, MAX_PARTIAL_FILE_BYTES, MAX_POLICY_FILE_BYTES,
    MAX_SCENARIO_FILE_BYTES, open_data_file, read_partial_file, read_scenario_file,
};
pub use locate::{Diagnostic, diagnose, line_col};
pub(crate) use path::unknown_name;
pub use path::{
    FieldPath, MAX_SHOWN_PROBLEMS, Problem, Problems, Segment, did_you_mean, more_problems,
};
pub use policies::{NamedPolicy, Policies};
pub use traffic::{Burst, Diurnal, DiurnalPoint, FraudSpike, MixEntry, Rate, RateUnit, Traffic};
pub use validate::{MAX_COST, MAX_FACTOR, MAX_RATE_PER_SECOND, limit_name_problem};
pub use world::{Carrier, CarrierShare, CountrySpec, Inventory, Provider, ProviderPath, Region};

/// The scenario format this build reads and writes.
pub const FORMAT_VERSION: u32 = 1;

/// A scenario file as data. Build it with [`Scenario::from_toml_str`] or [`Scenario::from_file`]
/// (which also load policy files and validate); compile it for simulation with
/// [`Scenario::compile`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Version of the scenario format; must be 1 (this build's `FORMAT_VERSION`).
    #[schemars(extend("const" = FORMAT_VERSION))]
    pub format_version: u32,
    /// Name of the scenario, used in reports.
    pub name: String,
    /// What the scenario shows, for readers of the file and of reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Root of every random stream. Default 1.
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// Simulated time span, e.g. "1h".
    #[serde(with = "serde_str")]
    #[schemars(with = "HumanDuration")]
    pub duration: Duration,
    /// Verifications started before this are simulated but not measured. Default 0s.
    #[serde(default, with = "serde_str")]
    #[schemars(with = "HumanDuration")]
    pub warmup: Duration,
    /// Time-series bucket width. Default 1m.
    #[serde(default = "default_bucket", with = "serde_str")]
    #[schemars(with = "HumanDuration")]
    pub bucket: Duration,
    /// `[[regions]]`: network regions providers are hosted in.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub regions: Vec<Region>,
    /// `[[countries]]`: destination countries, their carriers and user behaviour.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub countries: Vec<CountrySpec>,
    /// `[[carriers]]`: mobile operators, the last hop to the handset.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub carriers: Vec<Carrier>,
    /// `[[providers]]`: SMS providers as the world really is (the router's belief is
    /// `[router]`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub providers: Vec<Provider>,
    /// The router's table. Its provider list is implicitly `[[providers]]`, in order.
    #[serde(default)]
    pub router: RouterSpec,
    /// `[policies.<name>]`: the policies to compare, in file order.
    #[serde(default)]
    pub policies: Policies,
    /// `[traffic]`: when verifications arrive and where they go.
    #[serde(default)]
    pub traffic: Traffic,
    /// `[[faults]]`: what goes wrong, where and when.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub faults: Vec<Fault>,
    /// `[[restarts]]`: when the router is restarted mid-run (a deploy), with or without its
    /// learnt state.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub restarts: Vec<Restart>,
    /// `[[reloads]]`: when the router's policy is changed mid-run (`Router::reload`), keeping
    /// what it learnt.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reloads: Vec<Reload>,
    /// `[experiment]`: how `run` replicates and compares the policies (command-line flags win).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub experiment: Option<ExperimentSpec>,
    /// `[sweep]`: what `failover-lab sweep` varies and optimises for this scenario (command-line
    /// flags win).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sweep: Option<SweepSpec>,
    /// `[[expect]]`: checks `failover-lab gate` enforces on the metrics of this scenario's
    /// runs, like k6 thresholds (e.g. `metric = "success_rate"`, `threshold = ">= 0.995"`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expect: Vec<Expect>,
}

/// One `[[restarts]]` entry: the router is replaced by a new one at `at`, as a deploy replaces
/// a service's process. Verifications already started finish on the old router (a graceful
/// drain); new ones go to the new router, built with the same table, policy and providers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Restart {
    /// When the router restarts, e.g. "20m": after 0s and before the end of the run.
    #[serde(with = "serde_str")]
    #[schemars(with = "HumanDuration")]
    pub at: Duration,
    /// Whether the new router restores the old one's learnt state (ejections, backoff,
    /// long-run records, probing, overrides), as a service that exports it at shutdown does;
    /// `false` starts it cold, knowing nothing. Default true.
    #[serde(default = "default_warm")]
    pub warm: bool,
}

/// One `[[reloads]]` entry: at `at`, the router in service (and any later restart's) switches
/// to the scenario's policy `policy` without a restart, as an operator's `Router::reload` does:
/// routes keep their state, windows and records. Every run of the scenario reloads, whatever
/// policy it started with (a run already under that policy sees no change), so the time series
/// show each policy's behaviour before and the new policy's after.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Reload {
    /// When the policy changes, e.g. "20m": after 0s and before the end of the run.
    #[serde(with = "serde_str")]
    #[schemars(with = "HumanDuration")]
    pub at: Duration,
    /// The name of one of the scenario's `[policies]`.
    pub policy: String,
}

fn default_warm() -> bool {
    true
}

/// One `[[expect]]` entry: a metric, optionally one policy, and a threshold.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// A metric path of DESIGN section 5: `success_rate`, `conversion_rate`,
    /// `time_to_verify.p50|p90|p99|p999|max`, `attempts_per_verification`, `failover_rate`,
    /// `cost_total`, `cost_per_success`, `duplicate_deliveries`, `late_deliveries`,
    /// `ejections`, `flaps`, `panic_time`, `time_ejected`, or per fault
    /// `faults.<name>.detection_delay|recovery_delay|failed_during_fault`.
    pub metric: String,
    /// The policy the check applies to. Default: every policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    /// An operator (<, <=, >, >=, ==) and a value in the metric's unit, checked on the mean
    /// over seeds: ">= 0.995" or ">= 99.5%" for rates, "< 20s" for durations, "== 0" for
    /// counts.
    pub threshold: String,
}

/// A tolerance as written: a number in the metric's unit, or a string (`"5%"` of the
/// baseline's mean, `"0.1pp"` for rates, `"500ms"` for durations).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum ToleranceSpec {
    Number(f64),
    Text(String),
}

impl ToleranceSpec {
    /// The tolerance as text, the form the gate's parser reads.
    pub fn as_text(&self) -> String {
        match self {
            ToleranceSpec::Number(v) => v.to_string(),
            ToleranceSpec::Text(t) => t.clone(),
        }
    }
}

/// `[experiment]`: replications and the comparison's baseline.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExperimentSpec {
    /// Seeds every policy runs on (replication 0 is the scenario's `seed`). Default 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replications: Option<u32>,
    /// The policy the others are compared with. Default: the first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<String>,
    /// Confidence level of every interval, in (0, 1). Default 0.95.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<f64>,
    /// How far each metric may move the worse way before `gate` calls it a regression, by
    /// metric path: `{ success_rate = "0.05pp", "time_to_verify.p99" = "10%" }`. Defaults:
    /// 0.1 percentage point on rates, 5% of the baseline's mean on everything else.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tolerance: BTreeMap<String, ToleranceSpec>,
}

/// `[sweep]`: the defaults of `failover-lab sweep`. Each list, when given on the command line,
/// replaces the table's (`--vary` flags replace `vary`, and so on); a flag's single value wins
/// over the table's.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SweepSpec {
    /// The policy every point starts from. Default: `[experiment] baseline`, else the first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    /// The fields to vary, as `--vary` writes them: `"trip.failure_rate=0.1..0.6:6"`,
    /// `"ejection.base=10s,30s,1m"`, `"strategy=priority,score"`, `"probe.share=log:0.01..0.2:5"`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vary: Vec<String>,
    /// Draw a Latin hypercube of this many points instead of the full grid (for three or more
    /// fields).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub samples: Option<usize>,
    /// Seeds every point runs on. Default: `[experiment] replications` if two or more, else 5.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seeds: Option<u32>,
    /// Metrics to optimise, each in its own direction, the first deciding the recommendation.
    /// Default: `success_rate`, `cost_per_success`, `time_to_verify.p99`, `flaps`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub objectives: Vec<String>,
    /// Bounds the recommended point must meet, on the mean over seeds:
    /// `"success_rate >= 0.999"`, `"time_to_verify.p99 < 20s"`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub constraints: Vec<String>,
}

/// `[router]`: what the router is told about routes (its belief, which may differ from the
/// world's truth in `[[providers]]`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RouterSpec {
    /// `[[router.routes]]`: which provider the router may use for which (country, number
    /// type), at what cost.
    #[serde(default)]
    pub routes: Vec<RouteSpec>,
}

fn default_seed() -> u64 {
    1
}

fn default_bucket() -> Duration {
    Duration::from_secs(60)
}

/// Why a scenario could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The file cannot be read, is not a regular file, is too large or is not UTF-8; the
    /// message names the file (and the position of the first invalid byte).
    #[error("{0}")]
    Read(String),
    #[error(
        "format_version is missing: add `format_version = {FORMAT_VERSION}` at the top of the scenario"
    )]
    MissingVersion,
    #[error(
        "format_version = {found} is not supported: this build reads format_version = {FORMAT_VERSION}"
    )]
    UnsupportedVersion { found: String },
    /// Syntax or shape error (unknown field, wrong type, bad duration); carries the position.
    #[error("{0}")]
    Parse(#[from] toml_edit::de::Error),
    /// Semantic problems, each at its field path.
    #[error("{0}")]
    Invalid(Problems),
    #[error("cannot write the scenario as TOML: {0}")]
    Serialize(#[from] toml::ser::Error),
}

impl ScenarioError {
    /// The semantic problems, if that is what this error is.
    pub fn problems(&self) -> &[Problem] {
        match self {
            ScenarioError::Invalid(p) => &p.0,
            _ => &[],
        }
    }
}

impl From<Problems> for ScenarioError {
    fn from(p: Problems) -> Self {
        ScenarioError::Invalid(p)
    }
}

impl Scenario {
    /// Parses, loads policy files (relative to `base_dir`, the scenario file's directory) and
    /// validates.
    pub fn from_toml_str(text: &str, base_dir: &Path) -> Result<Scenario, ScenarioError> {
        Scenario::from_toml_str_with(text, FileRules::new(base_dir))
    }

    /// [`from_toml_str`](Self::from_toml_str), reading referenced files by `files`' rules
    /// (e.g. [`FileRules::strict`]).
    pub fn from_toml_str_with(text: &str, files: FileRules<'_>) -> Result<Scenario, ScenarioError> {
        Scenario::load(text, files).map(|(scenario, _)| scenario)
    }

    /// [`from_toml_str_with`](Self::from_toml_str_with) and [`compile_with`](Self::compile_with)
    /// at once: the scenario and its simulation form from one parse and one compilation.
    pub fn load(
        text: &str,
        files: FileRules<'_>,
    ) -> Result<(Scenario, CompiledScenario), ScenarioError> {
        let mut scenario = Scenario::parse(text)?;
        scenario.policies.load_files(files).into_result()?;
        let compiled = scenario.compile_with(files)?;
        Ok((scenario, compiled))
    }

    /// The file as data: parsed and shape-checked, with its format version, but neither policy
    /// files loaded nor anything validated.
    ///
    /// The version is checked before the shape, so a file written for another version gets a
    /// version message rather than a list of unknown fields; both from one parse (parsing is
    /// most of the time validation takes: a separate parse for the version doubled it).
    pub fn parse(text: &str) -> Result<Scenario, ScenarioError> {
        let doc = ImDocument::parse(text).map_err(toml_edit::de::Error::from)?;
        match doc.get("format_version") {
            None => return Err(ScenarioError::MissingVersion),
            Some(v) if v.as_integer() == Some(i64::from(FORMAT_VERSION)) => {}
            Some(other) => {
                let found = match other.as_value() {
                    Some(v) => {
                        // The value as written, without the spaces and comment around it.
                        let mut v = v.clone();
                        v.decor_mut().clear();
                        v.to_string()
                    }
                    None => "a table".to_owned(),
                };
                return Err(ScenarioError::UnsupportedVersion { found });
            }
        }
        Ok(Scenario::deserialize(toml_edit::de::Deserializer::from(
            doc,
        ))?)
    }

    /// Reads a scenario file; relative paths inside it are resolved against its directory.
    pub fn from_file(path: &Path) -> Result<Scenario, ScenarioError> {
        let text = read_scenario_file(path).map_err(ScenarioError::Read)?;
        let base = path.parent().unwrap_or(Path::new("."));
        Scenario::from_toml_str(&text, base)
    }

    /// TOML that [`from_toml_str`](Self::from_toml_str) (with the same `base_dir`) reads back
    /// into an equal `Scenario`. Policy file references are kept as references; call
    /// [`Policies::inline_files`] first for a self-contained file.
    pub fn to_toml_string(&self) -> Result<String, ScenarioError> {
        Ok(toml::to_string(self)?)
    }

    /// Checks every reference, range and distribution; reports all problems at once.
    pub fn validate(&self, base_dir: &Path) -> Result<(), ScenarioError> {
        self.compile(base_dir).map(|_| ())
    }

    /// The names its faults are reported by (a fault without `name` gets a label from its kind,
    /// target and start; repeats get `#2`, `#3`), as compiled into
    /// [`FaultModel::name`](CompiledScenario).
    pub fn fault_names(&self) -> Vec<String> {
        fault::fault_labels(&self.faults)
            .into_iter()
            .map(|(label, _)| label)
            .collect()
    }

    /// Validates and builds the simulation form. `base_dir` resolves CSV files (empirical
    /// distributions, traces).
    pub fn compile(&self, base_dir: &Path) -> Result<CompiledScenario, ScenarioError> {
        self.compile_with(FileRules::new(base_dir))
    }

    /// [`compile`](Self::compile), reading referenced files by `files`' rules.
    pub fn compile_with(&self, files: FileRules<'_>) -> Result<CompiledScenario, ScenarioError> {
        Ok(validate::compile(self, files)?)
    }
}

/// A JSON Schema (draft-07) of the scenario format, for editors and other tools that read
/// scenario files. Generated from the serde model, with hand-written schemas where the file form
/// is custom (durations, rates, countries, policies, faults); tests hold it to the parser.
pub fn json_schema() -> String {
    schema::json_schema_string()
}

#[cfg(test)]
mod tests;
