//! `failover-lab fit`: a scenario fitted to production attempt records.
//!
//! Split like the rest of the lab: [`records`] reads the files (audit trail or CSV) one line at
//! a time, [`aggregate`] folds them into bounded aggregates, [`model`] fits the world with the
//! statistics of `metrics::fit` (maximum likelihood per family, selection, change points), and
//! [`write`] renders the model as a commented scenario, validated before it is returned. The CLI
//! (`cli/fit.rs`) joins them and owns the terminal.

pub mod aggregate;
pub mod model;
pub mod records;
pub mod write;

use std::path::PathBuf;
use std::time::Duration;

use aggregate::Aggregate;
use model::{FitModel, fit_model};
use records::{BadLine, Header};

/// Located problems printed at most (then a count).
pub const MAX_SHOWN_BAD_LINES: usize = 50;

/// How to fit.
#[derive(Clone, Debug)]
pub struct FitOptions {
    pub bucket: Duration,
    /// More unusable lines than this share of all lines fails the fit.
    pub max_bad_share: f64,
    /// Of an audit trail with several policies' lines, the one to read (default: the first).
    pub policy: Option<String>,
}

/// A finished fit.
pub struct FitRun {
    pub model: FitModel,
    pub header: Header,
    /// The policy whose lines were read (an audit trail).
    pub policy_name: Option<String>,
    pub records: u64,
    pub lines: u64,
    pub bad: u64,
    /// The first [`MAX_SHOWN_BAD_LINES`] problems, located `file:line: problem`.
    pub shown: Vec<String>,
}

/// Why a fit failed: every message is located and never quotes the records.
#[derive(Debug)]
pub struct FitError {
    pub problems: Vec<String>,
}

/// Reads every file in order and fits.
pub fn fit(paths: &[PathBuf], opts: &FitOptions) -> Result<FitRun, FitError> {
    let mut agg = Aggregate::new(opts.bucket);
    let mut header = Header::default();
    let mut policy = opts.policy.clone();
    let (mut lines, mut bad, mut records) = (0u64, 0u64, 0u64);
    let mut shown = Vec::new();
    let mut fatal: Option<String> = None;
    for path in paths {
        let shown_path = path.display().to_string();
        let mut visit = |r| {
            if fatal.is_none()
                && let Err(e) = agg.add(r)
            {
                fatal = Some(format!("{shown_path}: {e}"));
            }
        };
        let mut on_bad = |b: BadLine| {
            if shown.len() < MAX_SHOWN_BAD_LINES {
                shown.push(format!("{shown_path}:{}: {}", b.line, b.problem));
            }
        };
        let counts = records::read(path, &mut header, &mut policy, &mut visit, &mut on_bad)
            .map_err(|e| FitError { problems: vec![e] })?;
        if let Some(f) = fatal.take() {
            return Err(FitError { problems: vec![f] });
        }
        lines += counts.lines;
        bad += counts.bad;
        records += counts.used;
    }
    if records == 0 {
        let mut problems = shown.clone();
        problems.push(format!(
            "no usable attempt records in {}: give an audit trail (.jsonl, with its config line) \
             or an attempts CSV ({})",
            paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
            records::CSV_COLUMNS
        ));
        return Err(FitError { problems });
    }
    if lines > 0 && bad as f64 / lines as f64 > opts.max_bad_share {
        let mut problems = shown.clone();
        if bad as usize > shown.len() {
            problems.push(format!(
                "... and {} more unusable lines",
                bad as usize - shown.len()
            ));
        }
        problems.push(format!(
            "{bad} of {lines} lines are unusable ({:.2} %), more than --max-bad {:.2} %: fix the \
             records or raise --max-bad",
            bad as f64 / lines as f64 * 100.0,
            opts.max_bad_share * 100.0
        ));
        return Err(FitError { problems });
    }
    let model = fit_model(&agg, &header.routes);
    Ok(FitRun {
        model,
        header,
        policy_name: policy,
        records,
        lines,
        bad,
        shown,
    })
}
