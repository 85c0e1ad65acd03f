//! Building worlds for tests from TOML text.

use std::path::Path;
use std::sync::Arc;

use failover_lab::experiment::{RunResult, RunSpec, run_one};
use failover_lab::scenario::{CompiledScenario, Scenario};

/// A scenario with one region, one country (DE) with two carriers, providers `a`, `b`, `c`
/// (each `<name>` routed for DE/mobile), the given policies, traffic and faults.
pub fn scenario(duration: &str, rate: &str, extra: &str) -> String {
    scenario_with(duration, rate, "10s", extra)
}

pub fn scenario_with(duration: &str, rate: &str, bucket: &str, extra: &str) -> String {
    format!(
        r#"
format_version = 1
name = "test"
duration = "{duration}"
bucket = "{bucket}"
[[regions]]
name = "eu"
latency = {{ kind = "constant", value = "20ms" }}
[[countries]]
code = "DE"
carriers = [{{ name = "tde", share = 0.6 }}, {{ name = "vde", share = 0.4 }}]
conversion = 0.8
think_time = {{ kind = "exponential", mean = "15s" }}
[[carriers]]
name = "tde"
country = "DE"
delivery_latency = {{ kind = "lognormal", median = "3s", p99 = "15s" }}
[[carriers]]
name = "vde"
country = "DE"
delivery_latency = {{ kind = "lognormal", median = "4s", p99 = "20s" }}
loss = 0.01
[[providers]]
name = "a"
region = "eu"
api_latency = {{ kind = "constant", value = "150ms" }}
failure_domains = ["agg"]
[[providers]]
name = "b"
region = "eu"
api_latency = {{ kind = "constant", value = "200ms" }}
failure_domains = ["agg"]
[[providers]]
name = "c"
region = "eu"
api_latency = {{ kind = "constant", value = "250ms" }}
[[router.routes]]
provider = "a"
country = "DE"
number_type = "mobile"
cost = 0.07
priority = 0
failure_domains = ["agg"]
[[router.routes]]
provider = "b"
country = "DE"
number_type = "mobile"
cost = 0.072
priority = 1
failure_domains = ["agg"]
[[router.routes]]
provider = "c"
country = "DE"
number_type = "mobile"
cost = 0.075
priority = 2
[traffic]
rate = "{rate}"
mix = [{{ country = "DE", number_type = "mobile", weight = 1.0 }}]
{extra}
"#
    )
}

pub fn compile(text: &str) -> Arc<CompiledScenario> {
    let s = Scenario::from_toml_str(text, Path::new(".")).unwrap_or_else(|e| panic!("{e}"));
    Arc::new(s.compile(Path::new(".")).unwrap_or_else(|e| panic!("{e}")))
}

pub fn run(world: &Arc<CompiledScenario>, policy: usize, seed: u64) -> RunResult {
    run_one(world, RunSpec { policy, seed }).unwrap_or_else(|e| panic!("{e}"))
}

pub fn policy_index(world: &CompiledScenario, name: &str) -> usize {
    world
        .policies
        .iter()
        .position(|p| p.name == name)
        .unwrap_or_else(|| panic!("no policy {name}"))
}

/// The run's result as JSON: what determinism is judged on (byte for byte).
pub fn json(r: &RunResult) -> String {
    serde_json::to_string(&r.run).unwrap()
}
