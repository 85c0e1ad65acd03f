//! The command line: parsing, dispatch, progress, signals and exit codes. The only module that
//! knows about the terminal and flags; everything it does is a call into the library.

/// `eprintln!` for a line that may quote names from a scenario file: written with nothing a
/// terminal would act on ([`printable`](failover_lab::report::terminal::printable)), so an
/// escape sequence in a name cannot recolour, retitle or rewrite a terminal or a CI log.
macro_rules! errln {
    ($($arg:tt)*) => {
        eprintln!("{}", failover_lab::report::terminal::printable(&format!($($arg)*)))
    };
}

/// [`errln!`] for standard output.
macro_rules! outln {
    ($($arg:tt)*) => {
        println!("{}", failover_lab::report::terminal::printable(&format!($($arg)*)))
    };
}

mod baseline;
mod exit;
mod fit;
mod gate;
mod interrupt;
mod load;
mod load_test;
mod merge;
mod replicated;
mod run;
mod shard;
mod sweep;
mod validate;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Simulate SMS verification failover policies against an injected world, before rollout.
#[derive(Parser, Debug)]
#[command(name = "failover-lab", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run every policy of a scenario (or those named) against the same world; write a report.
    Run(run::RunArgs),
    /// Check scenario files; exit 0 if all are valid, 2 otherwise.
    Validate {
        /// Scenario files.
        #[arg(required = true)]
        scenarios: Vec<PathBuf>,
        /// Refuse referenced files outside each scenario's directory (absolute paths, `..`,
        /// symbolic links leading out).
        #[arg(long)]
        strict_paths: bool,
    },
    /// Print a JSON Schema of the scenario format (for editor completion and validation).
    Schema,
    /// Run scenarios on paired seeds and check their `[[expect]]` entries and their
    /// regressions against baselines; exit 3 when a check fails.
    Gate(gate::GateArgs),
    /// Vary fields of one policy over a grid or a Latin hypercube, run every point on the same
    /// seeds, and report the Pareto frontier and a recommendation under constraints.
    Sweep(sweep::SweepArgs),
    /// Load-test the router in real time against the scenario's world (open-model arrivals,
    /// N router workers, the world optionally K times faster); write the report with a load
    /// section. Ctrl-C drains and still writes it.
    Load(load_test::LoadArgs),
    /// Write the outputs of a command run in shards (`--shard I/N`) from their partial
    /// results, exactly as one machine would have; exit with the command's code.
    Merge(merge::MergeArgs),
    /// Fit a scenario to attempt records (an audit trail or an attempts CSV): per route the
    /// error and loss rates, the latency distribution and incident windows as faults.
    Fit(fit::FitArgs),
    /// Manage the baselines `gate` compares with.
    #[command(subcommand)]
    Baseline(baseline::BaselineCommand),
}

/// Parses the command line, runs the command, maps the outcome to an exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    interrupt::install();
    ExitCode::from(dispatch(cli))
}

/// Runs the command `cli` names (also what `merge` runs again).
fn dispatch(cli: Cli) -> u8 {
    match cli.command {
        None => run::demo(),
        Some(Command::Run(args)) => run::run(&args),
        Some(Command::Validate {
            scenarios,
            strict_paths,
        }) => validate::validate(&scenarios, strict_paths),
        Some(Command::Gate(args)) => gate::gate(&args),
        Some(Command::Sweep(args)) => sweep::sweep(&args),
        Some(Command::Load(args)) => load_test::load(&args),
        Some(Command::Merge(args)) => merge::merge(&args),
        Some(Command::Fit(args)) => fit::fit_command(&args),
        Some(Command::Baseline(cmd)) => baseline::baseline(&cmd),
        Some(Command::Schema) => {
            println!("{}", failover_lab::scenario::json_schema());
            exit::OK
        }
    }
}
