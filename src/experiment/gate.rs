//! Planning a gate: the checks a scenario asks for (`[[expect]]`, `[experiment] tolerance`),
//! resolved against its metrics and policies with every problem at its field path; the hashes
//! that tie a baseline to a world and a policy; and the evaluation of one scenario's
//! replications against its expectations and its baseline.
//!
//! The statistics are `metrics::gate`'s; this module only joins the scenario to them (metrics
//! never sees a scenario).

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;

use failover_router::policy::Policy;

use crate::metrics::baseline::{Baseline, BaselineSource};
use crate::metrics::compare::PolicyReplications;
use crate::metrics::gate::{
    BaselineValues, Check, DEFAULT_REGRESSION_METRICS, Expectation, check_expectation,
    check_regression, regression_metrics, tolerance_for,
};
use crate::metrics::metric_path::{FaultIndex, MetricPath, Threshold, Tolerance, UnknownMetric};
use crate::scenario::{
    CompiledScenario, FieldPath, FileKind, FileRules, MAX_SHOWN_PROBLEMS, Problems, Scenario,
    did_you_mean, entity_key, unknown_name,
};

use super::replicate::Replications;
use super::{ExperimentError, Hooks, text_hash};

/// Seeds a gate or a baseline runs when neither the flags, the baseline nor
/// `[experiment] replications` say: enough for a t interval to exclude zero on a real
/// regression, few enough for CI.
pub const DEFAULT_GATE_SEEDS: u32 = 10;

/// What a scenario asks the gate to check.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GateChecks {
    pub expectations: Vec<Expectation>,
    /// `[experiment] tolerance`, in file order of the keys (sorted).
    pub tolerances: Vec<(MetricPath, Tolerance)>,
}

/// "Unknown metric" with the closest path, as every name error in a scenario reads; without
/// one, the first ten metrics and how many more (a scenario with 10,000 faults has 30,000).
pub fn unknown_metric_message(e: &UnknownMetric) -> String {
    const LISTED: usize = 10;
    match did_you_mean(&e.text, e.known.iter().map(String::as_str)) {
        Some(s) => format!("unknown metric {:?}; did you mean {s:?}?", e.text),
        None if e.known.len() > LISTED => format!(
            "unknown metric {:?}; metrics: {} and {} more",
            e.text,
            e.known[..LISTED].join(", "),
            e.known.len() - LISTED
        ),
        None => format!(
            "unknown metric {:?}; metrics: {}",
            e.text,
            e.known.join(", ")
        ),
    }
}

impl GateChecks {
    /// Resolves `[[expect]]` and `[experiment] tolerance`; every problem is reported at its
    /// field path (`expect[1].threshold`).
    pub fn from_scenario(s: &Scenario) -> Result<GateChecks, Problems> {
        let fault_names = s.fault_names();
        let faults: Vec<&str> = fault_names.iter().map(String::as_str).collect();
        let policies: Vec<&str> = s.policies.names().collect();
        let mut problems = Problems::default();
        let mut out = GateChecks::default();
        let index = FaultIndex::new(faults.iter().copied());
        let policy_names: HashSet<&str> = policies.iter().copied().collect();
        // Only a problem that can be printed (these follow the scenario's) gets a suggestion and
        // a list: each compares the name with every metric of every fault, or every policy
        // (10,000 unknown metrics among 10,000 faults took 165 s).
        let unknown_metric = |text: &str, shown: bool| {
            let unknown = shown.then(|| MetricPath::parse(text, faults.iter().copied()).err());
            match unknown.flatten() {
                Some(e) => unknown_metric_message(&e),
                None => format!("unknown metric {:?}", text.trim()),
            }
        };
        for (i, e) in s.expect.iter().enumerate() {
            let at = FieldPath::root().key("expect").index(i);
            let metric = MetricPath::find(&e.metric, &index);
            if metric.is_none() {
                let message = unknown_metric(&e.metric, problems.len() < MAX_SHOWN_PROBLEMS);
                problems.push(at.key("metric"), message);
            }
            if let Some(p) = &e.policy
                && !policy_names.contains(p.as_str())
            {
                let message = if problems.len() < MAX_SHOWN_PROBLEMS {
                    unknown_name("policy", p, policies.iter().copied(), "[policies.<name>]")
                } else {
                    format!("unknown policy {p:?}")
                };
                problems.push(at.key("policy"), message);
            }
            let Some(metric) = metric else { continue };
            match Threshold::parse(&e.threshold, metric.unit()) {
                Ok(threshold) => out.expectations.push(Expectation {
                    metric,
                    policy: e.policy.clone(),
                    threshold,
                }),
                Err(msg) => problems.push(at.key("threshold"), format!("{metric}: {msg}")),
            }
        }
        if let Some(exp) = &s.experiment {
            for (name, spec) in &exp.tolerance {
                let at = FieldPath::root()
                    .key("experiment")
                    .key("tolerance")
                    .key(name);
                match MetricPath::find(name, &index) {
                    None => {
                        let message = unknown_metric(name, problems.len() < MAX_SHOWN_PROBLEMS);
                        problems.push(at, message);
                    }
                    Some(metric) => match Tolerance::parse(&spec.as_text(), metric.unit()) {
                        Ok(t) => out.tolerances.push((metric, t)),
                        Err(msg) => problems.push(at, msg),
                    },
                }
            }
        }
        problems.into_result().map(|()| out)
    }
}

/// A hash of the world a scenario describes: everything but its name, description, policies,
/// expectations, experiment and sweep settings, and the bytes of every file it references (`csv`,
/// `trace`). Two scenario files with the same world hash run every policy against the same
/// dice, so their per-seed results pair.
pub fn world_hash(s: &Scenario, base_dir: &Path) -> String {
    let mut world = s.clone();
    world.name = String::new();
    world.description = None;
    world.policies = Default::default();
    world.expect.clear();
    world.experiment = None;
    world.sweep = None;
    let text = world
        .to_toml_string()
        .unwrap_or_else(|e| format!("unserialisable: {e}"));
    let mut all = text.clone();
    if let Ok(value) = toml::from_str::<toml::Value>(&text) {
        let mut files = Vec::new();
        referenced_files(&value, &mut files);
        for f in files {
            all.push('\n');
            all.push_str(&f);
            all.push('\n');
            // Read as loading reads them (regular files only, bounded; both kinds share the
            // CSV limit).
            match FileRules::new(base_dir).read_bytes(FileKind::Samples, Path::new(&f)) {
                Ok((_, bytes)) => all.push_str(&text_hash(&String::from_utf8_lossy(&bytes))),
                Err(_) => all.push_str("(unreadable)"),
            }
        }
    }
    text_hash(&all)
}

/// Every value of a `csv` or `trace` key, in document order.
fn referenced_files(v: &toml::Value, out: &mut Vec<String>) {
    match v {
        toml::Value::Table(t) => {
            for (k, v) in t {
                match (k.as_str(), v) {
                    ("csv" | "trace", toml::Value::String(s)) => out.push(s.clone()),
                    _ => referenced_files(v, out),
                }
            }
        }
        toml::Value::Array(a) => a.iter().for_each(|v| referenced_files(v, out)),
        _ => {}
    }
}

/// A hash of a policy's settings (after loading any `file = ...`), so a renamed but unchanged
/// policy still finds its baseline.
pub fn policy_hash(p: &Policy) -> String {
    format!(
        "{:016x}",
        entity_key(&serde_json::to_string(p).unwrap_or_default())
    )
}

/// Where a baseline of this scenario comes from.
pub fn baseline_source(s: &Scenario, text: &str, base_dir: &Path) -> BaselineSource {
    BaselineSource {
        scenario: s.name.clone(),
        world_hash: world_hash(s, base_dir),
        scenario_hash: text_hash(text),
        tool_version: env!("CARGO_PKG_VERSION").to_owned(),
        policies: s
            .policies
            .iter()
            .map(|p| (p.name.clone(), policy_hash(&p.policy)))
            .collect(),
    }
}

/// Every policy of the scenario on `seeds`, on `threads` threads; `done` counts finished runs.
pub fn replicate(
    world: &Arc<CompiledScenario>,
    seeds: &[u64],
    threads: usize,
    confidence: f64,
    done: &AtomicUsize,
) -> Result<Vec<PolicyReplications>, ExperimentError> {
    let policies: Vec<usize> = (0..world.policies.len()).collect();
    let mut reps = Replications::new(world, &policies);
    reps.run(world, seeds, threads, &|_| Hooks::default(), done)?;
    Ok(reps.summaries(confidence))
}

/// The metrics a baseline records: every metric of the scenario, so a later gate may check any.
pub fn baseline_metrics(s: &Scenario) -> Vec<MetricPath> {
    MetricPath::all(s.fault_names().iter().map(String::as_str))
}

/// The checks of one scenario: every expectation on every policy it names, then (with a
/// baseline) every regression metric of every policy the baseline has. Warnings say what was
/// not checked and why.
pub fn evaluate(
    s: &Scenario,
    checks: &GateChecks,
    reps: &[PolicyReplications],
    baseline: Option<&Baseline>,
    confidence: f64,
) -> (Vec<Check>, Vec<String>) {
    let mut out = Vec::new();
    let mut warnings = Vec::new();
    for e in &checks.expectations {
        for r in reps {
            if e.policy.as_ref().is_none_or(|p| *p == r.policy) {
                out.push(check_expectation(e, r, confidence));
            }
        }
    }
    let Some(baseline) = baseline else {
        return (out, warnings);
    };
    let fault_names = s.fault_names();
    let faults: Vec<&str> = fault_names.iter().map(String::as_str).collect();
    let defaults: Vec<MetricPath> = DEFAULT_REGRESSION_METRICS
        .iter()
        .filter_map(|m| MetricPath::parse(m, faults.iter().copied()).ok())
        .collect();
    let metrics = regression_metrics(&defaults, &checks.expectations, &checks.tolerances);
    for r in reps {
        let hash = s
            .policies
            .iter()
            .find(|p| p.name == r.policy)
            .map(|p| policy_hash(&p.policy))
            .unwrap_or_default();
        let Some((name, entry, renamed)) = baseline.policy(&r.policy, &hash) else {
            warnings.push(format!(
                "policy {:?} has no baseline (a new policy?): its regressions are not checked; \
                 run `failover-lab baseline save` to add it",
                r.policy
            ));
            continue;
        };
        if renamed {
            warnings.push(format!(
                "policy {:?} is compared with baseline policy {name:?} (same settings, renamed)",
                r.policy
            ));
        }
        for m in &metrics {
            let values = BaselineValues {
                policy: name,
                seeds: &baseline.seeds,
                values: entry.metrics.get(m.path()).map(Vec::as_slice),
            };
            out.push(check_regression(
                m,
                tolerance_for(m, &checks.tolerances),
                r,
                &values,
                confidence,
            ));
        }
    }
    (out, warnings)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{ScenarioError, ToleranceSpec, diagnose};

    const WORLD: &str = r#"
format_version = 1
name = "gate-unit"
duration = "2m"

[[regions]]
name = "eu"
latency = { kind = "constant", value = "10ms" }

[[countries]]
code = "DE"
carriers = [{ name = "c", share = 1.0 }]

[[carriers]]
name = "c"
country = "DE"
delivery_latency = { kind = "constant", value = "1s" }

[[providers]]
name = "p"
region = "eu"
api_latency = { kind = "constant", value = "100ms" }

[[router.routes]]
provider = "p"
country = "DE"
number_type = "mobile"
cost = 0.05

[policies.default]
[policies.fast]
attempt_timeout = "5s"

[traffic]
rate = "1/s"
mix = [{ country = "DE", number_type = "mobile", weight = 1.0 }]

[[faults]]
name = "outage"
kind = "outage"
start = "30s"
duration = "30s"
[faults.target]
provider = "p"
"#;

    fn scenario(extra: &str) -> (Scenario, String) {
        let text = format!("{WORLD}\n{extra}");
        let s = Scenario::from_toml_str(&text, Path::new(".")).unwrap_or_else(|e| panic!("{e}"));
        (s, text)
    }

    /// The `file:line:col: path: message` lines of a gate problem list.
    fn diagnostics(text: &str, p: Problems) -> Vec<String> {
        diagnose(Path::new("s.toml"), text, &ScenarioError::Invalid(p))
            .into_iter()
            .map(|d| d.to_string())
            .collect()
    }

    #[test]
    fn expectations_resolve_metrics_units_and_policies() {
        let (s, _) = scenario(
            r#"
[[expect]]
metric = "success_rate"
threshold = ">= 99.5%"

[[expect]]
metric = "faults.outage.detection_delay"
policy = "fast"
threshold = "< 20s"

[experiment]
tolerance = { "time_to_verify.p99" = "10%", success_rate = 0.002 }
"#,
        );
        let c = GateChecks::from_scenario(&s).unwrap();
        assert_eq!(c.expectations.len(), 2);
        assert_eq!(c.expectations[0].threshold.value, 0.995);
        assert_eq!(c.expectations[1].metric.key(), "outage.detection_delay");
        assert_eq!(c.expectations[1].policy.as_deref(), Some("fast"));
        // Keys in sorted order.
        assert_eq!(c.tolerances[0].0.path(), "success_rate");
        assert_eq!(c.tolerances[0].1, Tolerance::Absolute(0.002));
        assert_eq!(c.tolerances[1].1, Tolerance::Relative(0.1));
    }

    #[test]
    fn every_problem_is_reported_at_its_line_and_column() {
        let (s, text) = scenario(
            r#"
[[expect]]
metric = "succes_rate"
threshold = ">= 0.99"

[[expect]]
metric = "time_to_verify.p99"
policy = "fsat"
threshold = "< 20"

[experiment]
tolerance = { "faults.outgae.detection_delay" = "5%" }
"#,
        );
        let d = diagnostics(&text, GateChecks::from_scenario(&s).unwrap_err());
        assert_eq!(d.len(), 4, "{d:#?}");
        let line = |needle: &str| {
            d.iter()
                .find(|l| l.contains(needle))
                .unwrap_or_else(|| panic!("no {needle:?} in {d:#?}"))
                .clone()
        };
        let first = text
            .lines()
            .position(|l| l.contains("succes_rate"))
            .unwrap()
            + 1;
        assert!(
            line("did you mean \"success_rate\"?").starts_with(&format!("s.toml:{first}:")),
            "{d:#?}"
        );
        assert!(
            line("expect[1].policy").contains("declared: \"default\", \"fast\""),
            "{d:#?}"
        );
        assert!(line("expect[1].threshold").contains("has no unit"));
        assert!(line("experiment.tolerance").contains("faults.outage.detection_delay"));
        // Every line is located (file:line:col), not just named.
        for l in &d {
            let mut parts = l.splitn(4, ':');
            let (_, line, col) = (parts.next(), parts.next(), parts.next());
            assert!(line.unwrap().parse::<usize>().is_ok(), "{l}");
            assert!(col.unwrap().parse::<usize>().is_ok(), "{l}");
        }
    }

    #[test]
    fn the_world_hash_ignores_policies_and_checks_but_not_the_world() {
        let (a, _) = scenario("");
        let mut b = a.clone();
        b.name = "renamed".into();
        b.description = Some("other words".into());
        b.policies.0[0].policy.attempt_timeout = std::time::Duration::from_secs(3);
        b.expect.push(crate::scenario::Expect {
            metric: "success_rate".into(),
            policy: None,
            threshold: ">= 0.9".into(),
        });
        b.experiment = Some(crate::scenario::ExperimentSpec {
            tolerance: [("success_rate".to_owned(), ToleranceSpec::Number(0.01))]
                .into_iter()
                .collect(),
            ..Default::default()
        });
        b.sweep = Some(crate::scenario::SweepSpec {
            vary: vec!["trip.failure_rate=0.1,0.2".into()],
            ..Default::default()
        });
        let dir = Path::new(".");
        assert_eq!(world_hash(&a, dir), world_hash(&b, dir));
        let mut c = a.clone();
        c.seed += 1;
        assert_ne!(world_hash(&a, dir), world_hash(&c, dir));
        let mut d = a.clone();
        d.router.routes[0].cost = 0.06;
        assert_ne!(world_hash(&a, dir), world_hash(&d, dir));
        // A policy's hash follows its settings, not its name.
        assert_ne!(
            policy_hash(&a.policies.0[0].policy),
            policy_hash(&b.policies.0[0].policy)
        );
        assert_eq!(
            policy_hash(&a.policies.0[0].policy),
            policy_hash(&Policy::default())
        );
    }

    #[test]
    fn a_referenced_file_is_part_of_the_world() {
        let dir = std::env::temp_dir().join(format!("gate-world-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("lat.csv"), "1.0\n2.0\n").unwrap();
        let text = WORLD.replace(
            r#"delivery_latency = { kind = "constant", value = "1s" }"#,
            r#"delivery_latency = { kind = "empirical", csv = "lat.csv" }"#,
        );
        let s = Scenario::from_toml_str(&text, &dir).unwrap_or_else(|e| panic!("{e}"));
        let before = world_hash(&s, &dir);
        std::fs::write(dir.join("lat.csv"), "1.0\n3.0\n").unwrap();
        assert_ne!(before, world_hash(&s, &dir));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
