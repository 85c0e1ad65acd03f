//! `--shard I/N` on `run`, `sweep`, `gate` and `baseline save`: make only this shard's runs and
//! write them to a partial result file instead of the command's outputs; `merge` makes the
//! outputs. The splitting and merging themselves are `experiment::shard`'s.

use std::path::PathBuf;

use clap::Args;
use failover_lab::experiment::shard::{self, Shard};
use failover_lab::report::output::AtomicFile;

use super::exit;

#[derive(Args, Debug, Default, Clone)]
pub struct ShardArgs {
    /// Make only shard I of N of this command's runs (`--shard 2/3`), or `auto` (the job
    /// engine's index: Kubernetes, Slurm or FAILOVER_LAB_SHARD=I/N), and write them to
    /// `--partial` instead of the outputs; `failover-lab merge` writes the outputs.
    #[arg(long, value_name = "I/N|auto")]
    pub shard: Option<String>,
    /// The number of shards, for `--shard auto` in a Kubernetes Indexed Job (its completions).
    #[arg(long, value_name = "N")]
    pub shards: Option<usize>,
    /// Where the shard writes its partial result [default:
    /// failover-lab-partial-I-of-N.json].
    #[arg(long, value_name = "FILE")]
    pub partial: Option<PathBuf>,
}

/// A shard being made: where its partial goes.
#[derive(Debug)]
pub struct ShardJob {
    shard: Shard,
    partial: PathBuf,
}

impl ShardArgs {
    /// Resolves the flags and, for a shard, starts recording. `Err`: the message (exit 2).
    pub fn begin(&self) -> Result<Option<ShardJob>, String> {
        let Some(text) = &self.shard else {
            if self.shards.is_some() || self.partial.is_some() {
                return Err("--shards and --partial go with --shard".into());
            }
            return Ok(None);
        };
        // The partial records the command line for `merge` to run again, as text.
        if std::env::args_os().any(|a| a.to_str().is_none()) {
            return Err(
                "--shard: an argument is not UTF-8 text, which a partial result cannot \
                        record for merge: rename the file or directory it names"
                    .into(),
            );
        }
        let shard = if text == "auto" {
            Shard::from_env(|k| std::env::var(k).ok(), self.shards)?
        } else {
            Shard::parse(text)?
        };
        if let Some(n) = self.shards
            && n != shard.count
        {
            return Err(format!(
                "--shards {n} but --shard {text} is one of {}",
                shard.count
            ));
        }
        let partial = self.partial.clone().unwrap_or_else(|| {
            PathBuf::from(format!(
                "failover-lab-partial-{}-of-{}.json",
                shard.index, shard.count
            ))
        });
        shard::begin_shard(shard);
        Ok(Some(ShardJob { shard, partial }))
    }
}

/// What a command does once its runs are made, before it looks at them: a shard writes its
/// partial and ends (`Some(exit code)`); a merge whose partials do not fit the plan ends with
/// exit 2 before anything is written; otherwise the command goes on (`None`).
pub fn after_runs(job: Option<&ShardJob>) -> Option<u8> {
    if let Some(why) = shard::merge_problem() {
        errln!("cannot merge: {why}");
        return Some(exit::INVALID_INPUT);
    }
    let job = job?;
    let partial = shard::finish_shard(recorded_command())?;
    let made = partial.runs.len();
    let total = partial.runs_total;
    let bytes = match serde_json::to_vec(&partial) {
        Ok(b) => b,
        Err(e) => {
            errln!("cannot write {}: {e}", job.partial.display());
            return Some(exit::HARNESS_FAILURE);
        }
    };
    match AtomicFile::write(&job.partial, &bytes) {
        Ok(path) => {
            eprintln!(
                "shard {}/{}: {made} of {total} runs made; partial result: {}",
                job.shard.index,
                job.shard.count,
                path.display()
            );
            Some(exit::OK)
        }
        Err(e) => {
            errln!("cannot write the partial result: {e}");
            Some(exit::HARNESS_FAILURE)
        }
    }
}

/// This process's arguments without the program and the shard flags: what `merge` runs again.
fn recorded_command() -> Vec<String> {
    let mut out = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let flag = a.split('=').next().unwrap_or_default();
        if matches!(flag, "--shard" | "--shards" | "--partial") {
            if !a.contains('=') {
                args.next();
            }
            continue;
        }
        out.push(a);
    }
    out
}
