//! `summary.json`, the versioned, machine-readable result of a run; `sweep.json`, that of a
//! sweep; and baseline files.

use serde_json::Value;

use crate::experiment::sweep::SweepSummary;
use crate::metrics::RunSummary;
use crate::metrics::baseline::Baseline;

/// Pretty JSON with a trailing newline. Byte-identical for identical summaries.
pub fn summary_json(summary: &RunSummary) -> Vec<u8> {
    let mut out = serde_json::to_vec_pretty(summary).expect("summaries serialize");
    out.push(b'\n');
    out
}

/// `sweep.json`: pretty JSON with a trailing newline. It carries no wall-clock figure, so the
/// same sweep gives the same bytes whatever the thread count.
pub fn sweep_json(summary: &SweepSummary) -> Vec<u8> {
    let mut out = serde_json::to_vec_pretty(summary).expect("sweep summaries serialize");
    out.push(b'\n');
    out
}

/// A baseline file: two-space indented JSON with keys sorted and each per-seed value list on one
/// line, so a committed baseline is short and a diff shows which metric of which policy moved.
pub fn baseline_json(baseline: &Baseline) -> Vec<u8> {
    let value = serde_json::to_value(baseline).expect("baselines serialize");
    let mut out = String::new();
    write_compact(&value, 0, &mut out);
    out.push('\n');
    out.into_bytes()
}

/// Pretty-prints `v`, except that arrays of scalars stay on one line.
fn write_compact(v: &Value, indent: usize, out: &mut String) {
    let pad = |n: usize| "  ".repeat(n);
    let scalar = |v: &Value| !matches!(v, Value::Array(_) | Value::Object(_));
    match v {
        Value::Object(map) if !map.is_empty() => {
            out.push_str("{\n");
            // serde_json's map is ordered by key unless `preserve_order` is on: sort anyway.
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            for (i, (k, v)) in entries.iter().enumerate() {
                out.push_str(&pad(indent + 1));
                out.push_str(&Value::String((*k).clone()).to_string());
                out.push_str(": ");
                write_compact(v, indent + 1, out);
                if i + 1 < entries.len() {
                    out.push(',');
                }
                out.push('\n');
            }
            out.push_str(&pad(indent));
            out.push('}');
        }
        Value::Array(items) if !items.is_empty() && !items.iter().all(scalar) => {
            out.push_str("[\n");
            for (i, item) in items.iter().enumerate() {
                out.push_str(&pad(indent + 1));
                write_compact(item, indent + 1, out);
                if i + 1 < items.len() {
                    out.push(',');
                }
                out.push('\n');
            }
            out.push_str(&pad(indent));
            out.push(']');
        }
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().map(Value::to_string).collect();
            out.push('[');
            out.push_str(&parts.join(", "));
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::baseline::BaselinePolicy;

    #[test]
    fn baselines_are_sorted_short_and_read_back() {
        let b = Baseline {
            format_version: 1,
            scenario: "s".into(),
            world_hash: "w".into(),
            scenario_hash: "h".into(),
            tool_version: "0.1.0".into(),
            seeds: vec![7, 9],
            policies: [(
                "default".to_owned(),
                BaselinePolicy {
                    policy_hash: "p".into(),
                    metrics: [
                        ("time_to_verify.p99".to_owned(), vec![Some(12.5), None]),
                        ("success_rate".to_owned(), vec![Some(0.995), Some(1.0)]),
                    ]
                    .into_iter()
                    .collect(),
                },
            )]
            .into_iter()
            .collect(),
        };
        let text = String::from_utf8(baseline_json(&b)).unwrap();
        let expected = r#"{
  "format_version": 1,
  "policies": {
    "default": {
      "metrics": {
        "success_rate": [0.995, 1.0],
        "time_to_verify.p99": [12.5, null]
      },
      "policy_hash": "p"
    }
  },
  "scenario": "s",
  "scenario_hash": "h",
  "seeds": [7, 9],
  "tool_version": "0.1.0",
  "world_hash": "w"
}
"#;
        assert_eq!(text, expected);
        assert_eq!(Baseline::from_json(text.as_bytes()).unwrap(), b);
    }
}
