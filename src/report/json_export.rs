//! `summary.json`: the versioned, machine-readable result of a run.

use crate::metrics::RunSummary;

/// Pretty JSON with a trailing newline. Byte-identical for identical summaries.
pub fn summary_json(summary: &RunSummary) -> Vec<u8> {
    let mut out = serde_json::to_vec_pretty(summary).expect("summaries serialize");
    out.push(b'\n');
    out
}
