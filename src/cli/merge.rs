//! `failover-lab merge <PARTIAL>...`: the outputs of a sharded command, exactly as one machine
//! would have written them.
//!
//! The partials must be every shard of one plan, each once, written by this version; then the
//! recorded command runs again here, in the same place (same working directory and scenario
//! files), with every run taken from the partials instead of simulated
//! (`experiment::shard`), so the same code folds the same results in the same order. Its exit
//! code is the command's (a gate that fails exits 3). Any problem with the parts exits 2 before
//! anything is written.

use std::path::{Path, PathBuf};

use clap::{Args, Parser};
use failover_lab::experiment::shard::{self, PARTIAL_FORMAT, PARTIAL_FORMAT_VERSION, Partial};
use failover_lab::scenario::read_partial_file;
use serde::Deserialize;

use super::{Cli, exit};

#[derive(Args, Debug)]
pub struct MergeArgs {
    /// The partial results the shards wrote (any order).
    #[arg(required = true, value_name = "PARTIAL")]
    pub partials: Vec<PathBuf>,
    /// Output directory, instead of the one the sharded command names (`run`, `sweep`).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// No progress bars, no tables: only errors and the report path.
    #[arg(long, short)]
    pub quiet: bool,
}

pub fn merge(args: &MergeArgs) -> u8 {
    let mut parts = Vec::new();
    let mut problems = Vec::new();
    for path in &args.partials {
        match read(path) {
            Ok(p) => parts.push((path.display().to_string(), p)),
            Err(e) => problems.push(e),
        }
    }
    let header = parts
        .first()
        .map(|(_, p)| (p.command.clone(), p.plan_hash.clone()));
    let runs = if problems.is_empty() {
        shard::check_parts(parts)
    } else {
        Err(problems)
    };
    let (runs, (command, plan_hash)) = match (runs, header) {
        (Ok(runs), Some(header)) => (runs, header),
        (Err(problems), _) => {
            for p in problems {
                errln!("{p}");
            }
            return exit::INVALID_INPUT;
        }
        (Ok(_), None) => unreachable!("clap requires one partial at least"),
    };
    let mut argv = vec!["failover-lab".to_owned()];
    argv.extend(with_out(&command, args.out.as_ref()));
    if args.quiet && !argv.iter().any(|a| a == "--quiet" || a == "-q") {
        argv.push("--quiet".into());
    }
    let cli = match Cli::try_parse_from(&argv) {
        Ok(cli) => cli,
        Err(e) => {
            errln!(
                "the partials' command does not take these arguments here ({}): {}",
                argv[1..].join(" "),
                e.kind()
            );
            return exit::INVALID_INPUT;
        }
    };
    shard::begin_merge(runs, plan_hash);
    super::dispatch(cli)
}

/// The recorded arguments with `--out` replaced by `out`, if given.
fn with_out(command: &[String], out: Option<&PathBuf>) -> Vec<String> {
    let Some(out) = out else {
        return command.to_vec();
    };
    let mut v = Vec::new();
    let mut args = command.iter();
    while let Some(a) = args.next() {
        if a == "--out" {
            args.next();
            continue;
        }
        if a.starts_with("--out=") {
            continue;
        }
        v.push(a.clone());
    }
    v.push("--out".into());
    v.push(out.display().to_string());
    v
}

/// A partial result file, read by the rules of files the user points at: the errors name the
/// file, line and column, never its content.
fn read(path: &Path) -> Result<Partial, String> {
    let shown = path.display();
    let bytes = read_partial_file(path)?;
    #[derive(Deserialize)]
    struct Header {
        format: Option<serde_json::Value>,
        version: Option<serde_json::Value>,
    }
    let located = |what: &str, e: serde_json::Error| {
        format!(
            "{shown}:{}:{}: {what}: give a partial result written by `--shard`",
            e.line(),
            e.column()
        )
    };
    let header: Header = serde_json::from_slice(&bytes).map_err(|e| located("not JSON", e))?;
    if header.format.as_ref().and_then(|f| f.as_str()) != Some(PARTIAL_FORMAT) {
        return Err(format!(
            "{shown}: not a partial result (no `format: \"{PARTIAL_FORMAT}\"`): give a file \
             written by `--shard`"
        ));
    }
    match header.version.as_ref().and_then(|v| v.as_u64()) {
        Some(v) if v == u64::from(PARTIAL_FORMAT_VERSION) => {}
        _ => {
            return Err(format!(
                "{shown}: a partial result of another format version than {PARTIAL_FORMAT_VERSION}: \
                 merge with the version that ran the shards"
            ));
        }
    }
    serde_json::from_slice(&bytes)
        .map_err(|e| located("a field is missing or has the wrong type", e))
}
