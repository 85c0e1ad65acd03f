//! A small simulated run summary for the report's unit tests: two countries, three providers,
//! two policies (one that fails over, one that does not), an outage and a flapping provider.
//! Simulated once per test process.

use std::path::Path;
use std::sync::{Arc, OnceLock};

use crate::experiment::{RunSpec, recorder_config, run_one};
use crate::metrics::{FaultInfo, PolicySummary, RunSummary, SUMMARY_FORMAT_VERSION, ScenarioInfo};
use crate::scenario::Scenario;

const SCENARIO: &str = r#"
format_version = 1
name = "report-fixture"
description = "Two countries, an outage of a and a flapping c"
duration = "6m"
warmup = "30s"
bucket = "10s"
[[regions]]
name = "eu"
latency = { kind = "constant", value = "20ms" }
[[countries]]
code = "DE"
carriers = [{ name = "tde", share = 1.0 }]
conversion = 0.8
think_time = { kind = "exponential", mean = "15s" }
[[countries]]
code = "GB"
carriers = [{ name = "ee", share = 1.0 }]
conversion = 0.75
think_time = { kind = "exponential", mean = "15s" }
[[carriers]]
name = "tde"
country = "DE"
delivery_latency = { kind = "lognormal", median = "3s", p99 = "15s" }
[[carriers]]
name = "ee"
country = "GB"
delivery_latency = { kind = "lognormal", median = "4s", p99 = "20s" }
loss = 0.01
[[providers]]
name = "a"
region = "eu"
api_latency = { kind = "constant", value = "150ms" }
[[providers]]
name = "b"
region = "eu"
api_latency = { kind = "constant", value = "200ms" }
[[providers]]
name = "c"
region = "eu"
api_latency = { kind = "constant", value = "250ms" }
[[router.routes]]
provider = "a"
country = "DE"
number_type = "mobile"
cost = 0.07
priority = 0
[[router.routes]]
provider = "b"
country = "DE"
number_type = "mobile"
cost = 0.072
priority = 1
[[router.routes]]
provider = "c"
country = "DE"
number_type = "mobile"
cost = 0.075
priority = 2
[[router.routes]]
provider = "c"
country = "GB"
number_type = "mobile"
cost = 0.05
priority = 0
[[router.routes]]
provider = "a"
country = "GB"
number_type = "mobile"
cost = 0.06
priority = 1
[traffic]
rate = "15/s"
mix = [{ country = "DE", number_type = "mobile", weight = 0.6 }, { country = "GB", number_type = "mobile", weight = 0.4 }]
[policies.sensible]
attempt_timeout = "10s"
[policies.static]
strategy = "priority"
max_attempts = 1
attempt_timeout = "10s"
[policies.static.ejection]
max_ejected_share = 0.0
[[faults]]
name = "a-down"
kind = "outage"
mode = "black_hole"
start = "1m"
duration = "90s"
[faults.target]
provider = "a"
[[faults]]
name = "c-flapping"
kind = "flapping"
period = "40s"
duty = 0.5
start = "210s"
duration = "2m"
[faults.target]
provider = "c"
"#;

/// The fixture's summary, simulated on first use.
pub(crate) fn summary() -> &'static RunSummary {
    static SUMMARY: OnceLock<RunSummary> = OnceLock::new();
    SUMMARY.get_or_init(simulate)
}

fn simulate() -> RunSummary {
    let scenario =
        Scenario::from_toml_str(SCENARIO, Path::new(".")).unwrap_or_else(|e| panic!("{e}"));
    let description = scenario.description.clone();
    let world = Arc::new(
        scenario
            .compile(Path::new("."))
            .unwrap_or_else(|e| panic!("{e}")),
    );
    let config = recorder_config(&world).unwrap();
    let kinds = ["outage", "flapping"];
    let targets = ["provider a", "provider c"];
    let info = ScenarioInfo {
        name: world.name.clone(),
        description,
        hash: "0123456789abcdef".to_string(),
        duration: world.duration.as_secs_f64(),
        warmup: world.warmup.as_secs_f64(),
        bucket: world.bucket.as_secs_f64(),
        faults: world
            .faults
            .iter()
            .enumerate()
            .map(|(i, f)| FaultInfo {
                name: f.name.clone(),
                kind: kinds[i].to_string(),
                target: targets[i].to_string(),
                start: f.start.as_secs_f64(),
                end: f.end.as_secs_f64(),
            })
            .collect(),
        providers: config.providers.clone(),
        routes: config.routes.iter().map(|r| r.label.clone()).collect(),
    };
    let policies = (0..world.policies.len())
        .map(|policy| {
            let r = run_one(&world, RunSpec { policy, seed: 7 }).unwrap_or_else(|e| panic!("{e}"));
            PolicySummary {
                name: r.policy,
                result: r.run,
            }
        })
        .collect();
    RunSummary {
        format_version: SUMMARY_FORMAT_VERSION,
        scenario: info,
        seed: 7,
        policies,
        experiment: None,
        replications: Vec::new(),
        comparisons: Vec::new(),
        run: None,
    }
}
