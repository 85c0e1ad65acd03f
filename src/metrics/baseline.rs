//! Baselines: the per-seed metrics of every policy of a scenario, committed next to the code so
//! a gate can pair a new run with them seed by seed (`reports/baselines/<scenario>.json`).
//!
//! A baseline records *which world* it was measured in (`world_hash`: the scenario without its
//! policies, expectations and experiment settings) separately from *which policies*
//! (`policy_hash` each). A pull request that changes a policy is exactly what the gate is for, so
//! it must not make the baseline stale; a change to the world (traffic, faults, providers, the
//! routing table, the seed) does, because the pairs would no longer face the same dice.
//!
//! Values are rounded to [`SIGNIFICANT_DIGITS`] so the file is small and a diff shows real
//! changes only; the gate rounds a new run's values the same way before pairing, so an unchanged
//! policy differs from its baseline by exactly zero.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::compare::PolicyReplications;
use super::metric_path::MetricPath;

/// Version of the baseline file layout. Bump on any incompatible change.
pub const BASELINE_FORMAT_VERSION: u32 = 1;

/// Significant digits kept per value: far below any difference a gate could resolve (a success
/// rate over 10^5 verifications moves in steps of 10^-5) and far above the noise of rounding.
pub const SIGNIFICANT_DIGITS: usize = 6;

/// `v` rounded to [`SIGNIFICANT_DIGITS`] significant digits.
pub fn round(v: f64) -> f64 {
    if v == 0.0 || !v.is_finite() {
        return v;
    }
    format!("{v:.prec$e}", prec = SIGNIFICANT_DIGITS - 1)
        .parse()
        .unwrap_or(v)
}

/// One scenario's baseline.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Baseline {
    pub format_version: u32,
    /// The scenario's name.
    pub scenario: String,
    /// Hash of the world the values were measured in; a different one makes the baseline stale.
    pub world_hash: String,
    /// Hash of the whole scenario file (informational: policies and expectations included).
    pub scenario_hash: String,
    /// The failover-lab version that measured it.
    pub tool_version: String,
    /// Replication seeds, in order; every value list below follows this order.
    pub seeds: Vec<u64>,
    /// By policy name.
    pub policies: BTreeMap<String, BaselinePolicy>,
}

/// One policy's values in a baseline.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BaselinePolicy {
    /// Hash of the policy's settings, so a renamed but unchanged policy still finds its values.
    pub policy_hash: String,
    /// By metric path: the value on each seed, `null` where the metric is undefined (no success,
    /// a fault never detected).
    pub metrics: BTreeMap<String, Vec<Option<f64>>>,
}

/// Where a baseline's identity comes from: filled by the experiment layer from the scenario.
#[derive(Clone, Debug, PartialEq)]
pub struct BaselineSource {
    pub scenario: String,
    pub world_hash: String,
    pub scenario_hash: String,
    pub tool_version: String,
    /// `(policy name, policy hash)` in report order.
    pub policies: Vec<(String, String)>,
}

impl Baseline {
    /// The baseline of these replications (every policy on the same seeds), over `metrics`.
    pub fn from_replications(
        source: BaselineSource,
        reps: &[PolicyReplications],
        metrics: &[MetricPath],
    ) -> Baseline {
        let seeds: Vec<u64> = reps
            .first()
            .map(|r| r.seeds.iter().map(|s| s.seed).collect())
            .unwrap_or_default();
        let policies = reps
            .iter()
            .map(|r| {
                let hash = source
                    .policies
                    .iter()
                    .find(|(n, _)| *n == r.policy)
                    .map(|(_, h)| h.clone())
                    .unwrap_or_default();
                let values = metrics
                    .iter()
                    .map(|m| {
                        let per_seed = seeds
                            .iter()
                            .map(|seed| {
                                r.seeds
                                    .iter()
                                    .find(|s| s.seed == *seed)
                                    .and_then(|s| s.metrics.get(m.key()))
                                    .map(|v| round(*v))
                            })
                            .collect();
                        (m.path().to_owned(), per_seed)
                    })
                    .collect();
                (
                    r.policy.clone(),
                    BaselinePolicy {
                        policy_hash: hash,
                        metrics: values,
                    },
                )
            })
            .collect();
        Baseline {
            format_version: BASELINE_FORMAT_VERSION,
            scenario: source.scenario,
            world_hash: source.world_hash,
            scenario_hash: source.scenario_hash,
            tool_version: source.tool_version,
            seeds,
            policies,
        }
    }

    /// Reads a baseline file. The error never quotes the file's content (it may be anything):
    /// it names the line and column and what kind of problem is there.
    pub fn from_json(bytes: &[u8]) -> Result<Baseline, BaselineError> {
        #[derive(Deserialize)]
        struct Version {
            format_version: Option<serde_json::Value>,
        }
        let located = |e: serde_json::Error| BaselineError::Malformed {
            line: e.line(),
            column: e.column(),
            kind: match e.classify() {
                serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
                    "not valid JSON"
                }
                _ => "not a baseline (a field is missing or has the wrong type)",
            },
        };
        let v: Version = serde_json::from_slice(bytes).map_err(located)?;
        match v.format_version.as_ref().and_then(|v| v.as_u64()) {
            Some(n) if n == u64::from(BASELINE_FORMAT_VERSION) => {}
            Some(n) => return Err(BaselineError::Version(n)),
            None => return Err(BaselineError::NoVersion),
        }
        let b: Baseline = serde_json::from_slice(bytes).map_err(located)?;
        for (name, p) in &b.policies {
            if let Some((metric, values)) = p.metrics.iter().find(|(_, v)| v.len() != b.seeds.len())
            {
                return Err(BaselineError::Inconsistent(format!(
                    "policy {name:?}, metric {metric:?} has {} values for {} seeds",
                    values.len(),
                    b.seeds.len()
                )));
            }
        }
        Ok(b)
    }

    /// The baseline's entry for a policy: by name, else (a renamed policy) the one entry with
    /// the same settings. The flag says whether it was found by its settings.
    pub fn policy(&self, name: &str, hash: &str) -> Option<(&str, &BaselinePolicy, bool)> {
        if let Some((n, p)) = self.policies.get_key_value(name) {
            return Some((n.as_str(), p, false));
        }
        let mut same = self
            .policies
            .iter()
            .filter(|(_, p)| !hash.is_empty() && p.policy_hash == hash);
        match (same.next(), same.next()) {
            (Some((n, p)), None) => Some((n.as_str(), p, true)),
            _ => None,
        }
    }
}

/// Why a baseline file could not be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BaselineError {
    #[error("line {line}, column {column}: {kind}")]
    Malformed {
        line: usize,
        column: usize,
        kind: &'static str,
    },
    #[error(
        "format_version is missing: this is not a failover-lab baseline (write one with \
         `failover-lab baseline save`)"
    )]
    NoVersion,
    #[error(
        "format_version {0} is not supported: this build reads version {BASELINE_FORMAT_VERSION}; \
         save the baseline again with this build"
    )]
    Version(u64),
    #[error("{0}; save the baseline again")]
    Inconsistent(String),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::compare::{SeedMetrics, estimates};
    use crate::metrics::summary::Quantiles;

    fn reps(name: &str, values: &[(u64, Option<f64>)]) -> PolicyReplications {
        let seeds: Vec<SeedMetrics> = values
            .iter()
            .map(|&(seed, v)| SeedMetrics {
                seed,
                metrics: v
                    .map(|v| ("success_rate".to_owned(), v))
                    .into_iter()
                    .chain([("ttv_p99".to_owned(), 12.345_678_9)])
                    .collect(),
            })
            .collect();
        PolicyReplications {
            policy: name.into(),
            estimates: estimates(&seeds, 0.95),
            seeds,
            pooled_ttv: Quantiles::default(),
        }
    }

    fn source() -> BaselineSource {
        BaselineSource {
            scenario: "s".into(),
            world_hash: "w".into(),
            scenario_hash: "h".into(),
            tool_version: "0.1.0".into(),
            policies: vec![("a".into(), "ha".into()), ("b".into(), "hb".into())],
        }
    }

    #[test]
    fn rounding_keeps_six_significant_digits() {
        assert_eq!(round(0.995_123_456), 0.995_123);
        assert_eq!(round(12.345_678_9), 12.3457);
        assert_eq!(round(1_234_567.0), 1_234_570.0);
        assert_eq!(round(0.0), 0.0);
        assert_eq!(round(3.0), 3.0);
        // Rounding twice changes nothing: the gate rounds new values the same way.
        assert_eq!(round(round(0.123_456_789)), round(0.123_456_789));
    }

    #[test]
    fn a_baseline_keeps_values_by_seed_and_reads_back() {
        let metrics: Vec<MetricPath> = ["success_rate", "time_to_verify.p99"]
            .iter()
            .map(|m| MetricPath::parse(m, []).unwrap())
            .collect();
        let b = Baseline::from_replications(
            source(),
            &[
                reps("a", &[(7, Some(0.991_234_567)), (9, None)]),
                reps("b", &[(7, Some(0.5)), (9, Some(0.25))]),
            ],
            &metrics,
        );
        assert_eq!(b.seeds, [7, 9]);
        assert_eq!(
            b.policies["a"].metrics["success_rate"],
            [Some(0.991_235), None]
        );
        assert_eq!(
            b.policies["a"].metrics["time_to_verify.p99"],
            [Some(12.3457), Some(12.3457)]
        );
        assert_eq!(b.policies["b"].policy_hash, "hb");
        let json = serde_json::to_vec(&b).unwrap();
        assert_eq!(Baseline::from_json(&json).unwrap(), b);
        // Found by name, or by settings when renamed; an ambiguous or unknown hash finds none.
        assert_eq!(
            b.policy("a", "zz").map(|(n, _, r)| (n, r)),
            Some(("a", false))
        );
        assert_eq!(
            b.policy("a-renamed", "hb").map(|(n, _, r)| (n, r)),
            Some(("b", true))
        );
        assert!(b.policy("c", "").is_none());
    }

    #[test]
    fn bad_files_are_named_without_quoting_them() {
        let e = Baseline::from_json(b"{\n  \"secret\": [1, 2,\n").unwrap_err();
        assert!(matches!(e, BaselineError::Malformed { line: 3, .. }), "{e}");
        assert!(!e.to_string().contains("secret"));
        let e = Baseline::from_json(b"{\"format_version\": \"SECRET-TOKEN\"}").unwrap_err();
        assert_eq!(e, BaselineError::NoVersion);
        let e = Baseline::from_json(b"{\"format_version\": 99}").unwrap_err();
        assert_eq!(e, BaselineError::Version(99));
        let e = Baseline::from_json(b"{\"format_version\": 1, \"scenario\": 424242}").unwrap_err();
        assert!(e.to_string().contains("not a baseline"), "{e}");
        assert!(!e.to_string().contains("424242"));
        let mut b = Baseline::from_replications(
            source(),
            &[reps("a", &[(1, Some(0.9))])],
            &[MetricPath::parse("success_rate", []).unwrap()],
        );
        b.seeds.push(2);
        let e = Baseline::from_json(&serde_json::to_vec(&b).unwrap()).unwrap_err();
        assert!(e.to_string().contains("1 values for 2 seeds"), "{e}");
    }
}
