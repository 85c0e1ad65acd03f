//! `failover-lab baseline save`: run scenarios on N seeds and write each one's per-seed metrics
//! as `<dir>/<scenario name>.json`, to be committed and gated against.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use failover_lab::experiment::default_threads;
use failover_lab::experiment::gate::{baseline_metrics, baseline_source};
use failover_lab::metrics::baseline::Baseline;
use failover_lab::report::json_export::baseline_json;

use super::exit;
use super::gate::{
    Execution, baseline_path, check_writable, load_all, run_executed, seeds_for, write_file,
};
use super::load::{Loaded, check_work};

#[derive(Subcommand, Debug)]
pub enum BaselineCommand {
    /// Run scenarios and write their baselines (`<dir>/<scenario name>.json`).
    Save(SaveArgs),
}

#[derive(Args, Debug)]
pub struct SaveArgs {
    /// Scenario files.
    #[arg(required = true)]
    pub scenarios: Vec<PathBuf>,
    /// Directory to write the baselines in.
    #[arg(long, value_name = "DIR", default_value = "reports/baselines")]
    pub dir: PathBuf,
    /// Seeds per policy [default: `[experiment] replications`, else 10]. A gate pairs its runs
    /// with these seeds.
    #[arg(long, value_name = "N")]
    pub seeds: Option<u32>,
    #[command(flatten)]
    pub execution: Execution,
    /// Refuse referenced files outside each scenario's directory (absolute paths, `..`,
    /// symbolic links leading out).
    #[arg(long)]
    pub strict_paths: bool,
}

pub fn baseline(cmd: &BaselineCommand) -> u8 {
    match cmd {
        BaselineCommand::Save(args) => save(args),
    }
}

fn save(args: &SaveArgs) -> u8 {
    if let Some(n) = args.seeds
        && n < 2
    {
        errln!("--seeds {n}: a baseline needs at least 2 seeds for a gate to pair with");
        return exit::INVALID_INPUT;
    }
    let Some(loaded) = load_all(&args.scenarios, args.strict_paths) else {
        return exit::INVALID_INPUT;
    };
    let seeds: Vec<Vec<u64>> = loaded
        .iter()
        .map(|l| seeds_for(l, args.seeds, None))
        .collect();
    let mut refused = false;
    for (l, s) in loaded.iter().zip(&seeds) {
        if let Err(reasons) = check_work(
            l,
            s.len() * l.world.policies.len(),
            args.execution.allow_large,
        ) {
            for r in reasons {
                errln!("{r}");
            }
            refused = true;
        }
    }
    if refused {
        return exit::INVALID_INPUT;
    }
    let jobs: Vec<(&Loaded, &[u64], f64)> = loaded
        .iter()
        .zip(&seeds)
        .map(|(l, s)| (l, s.as_slice(), l.world.experiment.confidence))
        .collect();
    for l in &loaded {
        if let Err(e) = check_writable(&baseline_path(&args.dir, &l.world.name)) {
            errln!("{e}");
            return exit::HARNESS_FAILURE;
        }
    }
    let threads = args
        .execution
        .threads
        .unwrap_or_else(default_threads)
        .max(1);
    let results = match run_executed(&jobs, threads, &args.execution) {
        Ok(r) => r,
        Err(code) => return code,
    };
    for (l, reps) in loaded.iter().zip(results) {
        let b = Baseline::from_replications(
            baseline_source(&l.scenario, &l.text, &l.base),
            &reps,
            &baseline_metrics(&l.scenario),
        );
        let path = baseline_path(&args.dir, &l.world.name);
        if let Err(e) = write_file(&path, &baseline_json(&b)) {
            errln!("{e}");
            return exit::HARNESS_FAILURE;
        }
        println!(
            "baseline: {} ({} policies x {} seeds, from {})",
            path.display(),
            b.policies.len(),
            b.seeds.len(),
            l.path.display()
        );
    }
    exit::OK
}
