//! `failover-lab run` (and the no-argument demo): simulate, write the report, print the tables.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::Args;
use failover_lab::experiment::sweep::{Point, SweepPlan, Vary, grid};
use failover_lab::experiment::{
    Hooks, RunResult, RunSpec, default_threads, execute_with, scenario_info, summarize,
    summarize_replications,
};
use failover_lab::metrics::RunSummary;
use failover_lab::metrics::audit::AuditWriter;
use failover_lab::report::chart::{Format, charts_for};
use failover_lab::report::output::{OutputDir, OutputError};
use failover_lab::report::terminal::{self, printable};
use failover_lab::report::{csv_export, html, json_export};
use failover_lab::scenario::did_you_mean;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::exit;
use super::interrupt::{self, Guarded};
use super::load::{Loaded, check_work, load_file, load_text};
use super::replicated::{self, ExperimentArgs};
use super::shard::{self, ShardArgs};

/// The demo scenario, embedded so a fresh clone can run `cargo run --release` with no arguments.
const DEMO: &str = include_str!("../../scenarios/demo.toml");

#[derive(Args, Debug, Default)]
pub struct RunArgs {
    /// Scenario file (TOML).
    pub scenario: PathBuf,
    /// Output directory [default: reports/<scenario name>/].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Seed, instead of the scenario's.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Run only this policy (repeatable; in the order named, a policy named twice runs once).
    #[arg(long = "policy", value_name = "NAME")]
    pub policies: Vec<String>,
    /// Set a policy field before running, as `sweep --vary` names it (repeatable):
    /// `--set trip.failure_rate=0.3 --set ejection.base=30s`. Applies to the policies run (every
    /// policy without `--policy`); each is renamed `NAME [PATH=VALUE, ...]` in the report. This
    /// is how `sweep` prints its recommended point.
    #[arg(long = "set", value_name = "PATH=VALUE")]
    pub set: Vec<String>,
    /// Also write audit.jsonl: every router event, destinations masked.
    #[arg(long)]
    pub audit: bool,
    /// No progress bars, no tables: only errors and the report path.
    #[arg(long, short)]
    pub quiet: bool,
    /// Worker threads [default: all cores]. Results do not depend on it.
    #[arg(long)]
    pub threads: Option<usize>,
    /// Run even when the estimated work is above the documented limits (README, "Limits").
    #[arg(long)]
    pub allow_large: bool,
    /// Refuse referenced files (policy `file`, `trace`, `csv`) outside the scenario's
    /// directory: absolute paths, `..`, symbolic links leading out (for untrusted scenarios).
    #[arg(long)]
    pub strict_paths: bool,
    #[command(flatten)]
    pub experiment: ExperimentArgs,
    #[command(flatten)]
    pub shard: ShardArgs,
}

pub fn demo() -> u8 {
    let args = RunArgs::default();
    match load_text(
        Path::new("<built-in demo>"),
        DEMO.to_owned(),
        Path::new("."),
        false,
    ) {
        Ok(loaded) => execute(&loaded, &args, None),
        Err(problems) => {
            for p in problems {
                errln!("{p}");
            }
            exit::HARNESS_FAILURE
        }
    }
}

pub fn run(args: &RunArgs) -> u8 {
    match load_file(&args.scenario, args.strict_paths) {
        Ok(mut loaded) => match apply_set(&mut loaded, args) {
            Ok(selected) => execute(&loaded, args, selected),
            Err(problems) => {
                for p in problems {
                    errln!("{p}");
                }
                exit::INVALID_INPUT
            }
        },
        Err(problems) => {
            for p in problems {
                errln!("{p}");
            }
            exit::INVALID_INPUT
        }
    }
}

/// `reports/<name>/`, with the name reduced to characters safe in a path.
pub fn default_out(name: &str) -> PathBuf {
    PathBuf::from("reports").join(safe_name(name))
}

/// `name` reduced to characters safe in a file name (a scenario's name may be anything).
pub fn safe_name(name: &str) -> String {
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    if safe.is_empty() || safe.starts_with('.') {
        format!("_{safe}")
    } else {
        safe
    }
}

/// The policies `--policy` names, by index, in the order first named: a policy named twice
/// runs once, as `cargo build -p x -p x` builds `x` once (a second run of the same policy and
/// seed would only repeat identical numbers under a second column).
pub(super) fn select_policies(loaded: &Loaded, names: &[String]) -> Result<Vec<usize>, String> {
    let all: Vec<&str> = loaded
        .world
        .policies
        .iter()
        .map(|p| p.name.as_str())
        .collect();
    let mut named = vec![false; all.len()];
    let selected: Vec<usize> = names
        .iter()
        .map(|n| {
            all.iter().position(|p| p == n).ok_or_else(|| {
                let hint = did_you_mean(n, all.iter().copied())
                    .map(|s| format!(" (did you mean {s:?}?)"))
                    .unwrap_or_default();
                format!(
                    "--policy {n:?}: no such policy in {}{hint}; policies: {}",
                    loaded.path.display(),
                    all.join(", ")
                )
            })
        })
        .collect::<Result<_, _>>()?;
    Ok(selected
        .into_iter()
        .filter(|&i| !std::mem::replace(&mut named[i], true))
        .collect())
}

/// `--set PATH=VALUE`: the policies run, with those fields set (each checked as `sweep --vary`
/// checks a value, then the policy as a whole) and renamed; returns them by index (their
/// `--policy` names are gone), or `None` without `--set`.
fn apply_set(loaded: &mut Loaded, args: &RunArgs) -> Result<Option<Vec<usize>>, Vec<String>> {
    if args.set.is_empty() {
        return Ok(None);
    }
    let mut varies = Vec::new();
    let mut problems = Vec::new();
    for spec in &args.set {
        match Vary::parse(spec) {
            Ok(v) if v.levels().len() == 1 => varies.push(v),
            Ok(_) => problems.push(format!(
                "--set {spec}: give one value (to try several, use `failover-lab sweep --vary`)"
            )),
            Err(e) => problems.push(e.to_string().replacen("--vary", "--set", 1)),
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let point = Point {
        values: varies.iter().map(|v| v.levels().remove(0)).collect(),
    };
    let plan = match grid(varies) {
        Ok(p) => SweepPlan {
            points: vec![point],
            ..p
        },
        Err(e) => return Err(vec![e.0.replace("--vary", "--set")]),
    };
    let selected = match select_policies(loaded, &args.policies) {
        Ok(p) if p.is_empty() => (0..loaded.world.policies.len()).collect(),
        Ok(p) => p,
        Err(e) => return Err(vec![e]),
    };
    let mut world = (*loaded.world).clone();
    let label = plan.label(0);
    for &i in &selected {
        let named = &mut world.policies[i];
        match plan.point_policy(&named.policy, 0) {
            Ok(p) => {
                named.policy = p;
                named.name = format!("{} [{label}]", named.name);
            }
            Err(e) => problems.push(format!(
                "--set: policy {:?} with {label} is not valid: {}{}",
                named.name,
                if e.field.is_empty() {
                    String::new()
                } else {
                    format!("{}: ", e.field)
                },
                e.message
            )),
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    loaded.world = Arc::new(world);
    Ok(Some(selected))
}

/// Runs the policies `--policy` names, or `selected` (by index) when `--set` already chose them.
fn execute(loaded: &Loaded, args: &RunArgs, selected: Option<Vec<usize>>) -> u8 {
    for w in &loaded.warnings {
        errln!("{w}");
    }
    let policies = match selected.map_or_else(|| select_policies(loaded, &args.policies), Ok) {
        Ok(p) if p.is_empty() => (0..loaded.world.policies.len()).collect(),
        Ok(p) => p,
        Err(e) => {
            errln!("{e}");
            return exit::INVALID_INPUT;
        }
    };
    let experiment = match replicated::resolve(loaded, &args.experiment, &policies) {
        Ok(e) => e,
        Err(e) => {
            errln!("{e}");
            return exit::INVALID_INPUT;
        }
    };
    let runs = policies.len() * experiment.batch.max(1) as usize;
    if let Err(reasons) = check_work(loaded, runs, args.allow_large) {
        for r in reasons {
            errln!("{r}");
        }
        return exit::INVALID_INPUT;
    }
    let seed = args.seed.unwrap_or(loaded.world.seed);
    let plan: Vec<RunSpec> = policies
        .iter()
        .map(|&policy| RunSpec { policy, seed })
        .collect();
    let out_path = args
        .out
        .clone()
        .unwrap_or_else(|| default_out(&loaded.world.name));
    let threads = args.threads.unwrap_or_else(default_threads).max(1);
    if args.shard.shard.is_some() && (args.audit || !experiment.precision.is_empty()) {
        errln!(
            "--shard cannot go with {}: it needs every run in one process; run it unsharded",
            if args.audit { "--audit" } else { "--precision" }
        );
        return exit::INVALID_INPUT;
    }
    let job = match args.shard.begin() {
        Ok(job) => job,
        Err(e) => {
            errln!("{e}");
            return exit::INVALID_INPUT;
        }
    };
    // A shard writes a partial result, not the report: `--out` is merge's business.
    let out = if job.is_some() {
        None
    } else {
        let Some(out) = stage(&out_path) else {
            return exit::HARNESS_FAILURE;
        };
        Some(out)
    };

    // One progress gauge (virtual nanoseconds) and, with --audit, one audit part per run.
    let gauges: Vec<Arc<AtomicU64>> = plan.iter().map(|_| Arc::new(AtomicU64::new(0))).collect();
    let mut audits = Vec::new();
    if args.audit {
        for (i, spec) in plan.iter().enumerate() {
            let part = format!(".audit.{i}.jsonl");
            let staged = out
                .as_ref()
                .expect("--audit is refused with --shard: staged");
            match staged.create(&part) {
                Ok(f) => {
                    let named = &loaded.world.policies[spec.policy];
                    let writer =
                        AuditWriter::new(BufWriter::with_capacity(1 << 20, f), &named.name);
                    writer.write_config(&loaded.world.routes, &named.policy);
                    audits.push((part, Arc::new(writer)));
                }
                Err(e) => {
                    errln!("cannot write the report: {e}");
                    return exit::HARNESS_FAILURE;
                }
            }
        }
    }
    let hooks = |i: usize| Hooks {
        sink: audits
            .get(i)
            .map(|(_, w)| w.clone() as Arc<dyn failover_router::EventSink>),
        progress: Some(gauges[i].clone()),
    };

    let info = scenario_info(
        &loaded.world,
        loaded.scenario.description.clone(),
        &loaded.text,
    );
    let started = Instant::now();
    let summary = if experiment.replicated() {
        if args.audit
            && let Some(note) = replicated::audit_note(&experiment)
        {
            errln!("{note}");
        }
        let hooks = |i: usize| Hooks {
            sink: audits
                .get(i)
                .map(|(_, w)| w.clone() as Arc<dyn failover_router::EventSink>),
            progress: None,
        };
        let executed = replicated::execute(
            loaded,
            &policies,
            seed,
            &experiment,
            threads,
            &hooks,
            args.quiet,
        );
        if let Some(code) = shard::after_runs(job.as_ref()) {
            return code;
        }
        match executed {
            Ok((reps, outcome)) => summarize_replications(
                info,
                reps,
                outcome,
                threads,
                started.elapsed().as_secs_f64(),
            ),
            Err(e) => {
                errln!("{}: {e}", loaded.path.display());
                return exit::HARNESS_FAILURE;
            }
        }
    } else {
        let results = with_progress(loaded, &plan, &gauges, args.quiet, || {
            execute_with(&loaded.world, &plan, threads, &hooks)
        });
        let wall = started.elapsed().as_secs_f64();
        if let Some(code) = shard::after_runs(job.as_ref()) {
            return code;
        }
        let mut ok: Vec<RunResult> = Vec::with_capacity(results.len());
        for r in results {
            match r {
                Ok(r) => ok.push(r),
                Err(e) => {
                    errln!("{}: {e}", loaded.path.display());
                    return exit::HARNESS_FAILURE;
                }
            }
        }
        summarize(info, seed, ok, threads, wall)
    };

    let out = out.expect("staged: only a shard has no report, and it has returned");
    let published = write_outputs(&out, &summary, audits).and_then(|()| publish(out));
    let dest = match published {
        Ok(dest) => dest,
        Err(e) => {
            errln!("cannot write the report: {e}");
            return exit::HARNESS_FAILURE;
        }
    };
    if !args.quiet {
        print_tables(&summary);
    }
    println!("report: {}", dest.join("index.html").display());
    exit::OK
}

/// Runs `work` while drawing one bar per run over simulated time (hidden with --quiet or when
/// stderr is not a terminal).
fn with_progress<T: Send>(
    loaded: &Loaded,
    plan: &[RunSpec],
    gauges: &[Arc<AtomicU64>],
    quiet: bool,
    work: impl FnOnce() -> T + Send,
) -> T {
    let target = if quiet {
        ProgressDrawTarget::hidden()
    } else {
        ProgressDrawTarget::stderr()
    };
    let multi = MultiProgress::with_draw_target(target);
    let total = loaded.world.duration.as_secs();
    let style = ProgressStyle::with_template("{prefix:>20} [{bar:40}] {pos:>6}/{len}s simulated")
        .expect("valid template")
        .progress_chars("=> ");
    let bars: Vec<ProgressBar> = plan
        .iter()
        .map(|s| {
            let b = multi.add(ProgressBar::new(total));
            b.set_style(style.clone());
            b.set_prefix(printable(&loaded.world.policies[s.policy].name).into_owned());
            b
        })
        .collect();
    std::thread::scope(|scope| {
        let handle = scope.spawn(work);
        while !handle.is_finished() {
            for (b, g) in bars.iter().zip(gauges) {
                b.set_position((g.load(Ordering::Relaxed) / 1_000_000_000).min(total));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        for b in &bars {
            b.set_position(total);
            b.finish_and_clear();
        }
        handle.join().expect("the simulation thread does not panic")
    })
}

/// Swaps the finished report in for the previous one; a signal is handled before or after the
/// swap, never during it.
/// Checks `--out` and creates the report's private directory beside it, registered with the
/// signal handler; prints why not. Called before anything is simulated, so a report that cannot
/// be written is known in milliseconds.
pub fn stage(out_path: &Path) -> Option<Guarded<OutputDir>> {
    match interrupt::guard(|| OutputDir::stage(out_path), |o| o.staging().to_owned()) {
        Ok(o) => Some(o),
        Err(e) => {
            let why = if e.path == out_path {
                e.source.to_string()
            } else {
                e.to_string()
            };
            errln!("cannot write the report to {}: {why}", out_path.display());
            None
        }
    }
}

pub fn publish(out: Guarded<OutputDir>) -> Result<PathBuf, OutputError> {
    // Flushing to disk may take a while: not while signals are held off.
    out.sync()?;
    out.finish(OutputDir::publish)
}

/// Writes every file of the report into its private directory (nothing is visible at `--out`
/// until [`publish`]). `audits` are the per-run audit parts, by name, in plan order.
pub(super) fn write_outputs(
    out: &OutputDir,
    summary: &RunSummary,
    audits: Vec<(String, Arc<AuditWriter<BufWriter<File>>>)>,
) -> Result<(), OutputError> {
    out.write("summary.json", &json_export::summary_json(summary))?;
    out.write("summary.csv", &csv_export::summary_csv(summary))?;
    out.write("timeseries.csv", &csv_export::timeseries_csv(summary))?;
    out.write("routes.csv", &csv_export::routes_csv(summary))?;
    out.write("route_states.csv", &csv_export::route_states_csv(summary))?;
    out.write("faults.csv", &csv_export::faults_csv(summary))?;
    let replicated = !summary.replications.is_empty();
    if replicated {
        out.write("comparison.csv", &csv_export::comparison_csv(summary))?;
        out.write("replications.csv", &csv_export::replications_csv(summary))?;
    }
    for chart in charts_for(summary) {
        for format in [Format::Svg, Format::Png] {
            let name = chart.file_name(format);
            match chart.render(summary, format) {
                Ok(bytes) => {
                    out.write(&name, &bytes)?;
                }
                // A chart that cannot be drawn must not cost the user the rest of the report.
                Err(e) => errln!("warning: {name}: {e}"),
            }
        }
    }
    if !audits.is_empty() {
        // Concatenate the per-run parts in plan order: deterministic whatever the threads did.
        let err = |name: &str| {
            let path = out.staging().join(name);
            move |source| OutputError { path, source }
        };
        let mut all = BufWriter::new(out.create("audit.jsonl")?);
        for (part, writer) in audits {
            writer.flush().map_err(err(&part))?;
            drop(writer);
            let mut f = out.open(&part)?;
            std::io::copy(&mut f, &mut all).map_err(err("audit.jsonl"))?;
            out.remove(&part)?;
        }
        all.flush().map_err(err("audit.jsonl"))?;
    }
    let mut files = vec![
        "summary.json",
        "summary.csv",
        "timeseries.csv",
        "routes.csv",
        "route_states.csv",
        "faults.csv",
    ];
    if replicated {
        files.extend(["comparison.csv", "replications.csv"]);
    }
    for extra in ["audit.jsonl", "load.csv"] {
        if out.contains(extra) {
            files.push(extra);
        }
    }
    // Links only what this run wrote: the directory holds nothing else.
    out.write("index.html", html::render(summary, &files).as_bytes())?;
    Ok(())
}

pub(super) fn print_tables(summary: &RunSummary) {
    match &summary.load {
        None => outln!(
            "{} (seed {}, {} s simulated)",
            summary.scenario.name,
            summary.seed,
            summary.scenario.duration
        ),
        Some(load) => outln!(
            "{} (seed {}, {:.1} s of arrivals at speed x{}, wall-clock times)",
            summary.scenario.name,
            summary.seed,
            load.duration,
            load.speed
        ),
    }
    println!();
    print!("{}", terminal::policy_table(summary));
    let faults = terminal::fault_table(summary);
    if !faults.is_empty() {
        println!("\nfault impact");
        print!("{faults}");
    }
    let restarts = terminal::restart_table(summary);
    if !restarts.is_empty() {
        println!("\nrouter restarts");
        print!("{restarts}");
    }
    for r in &summary.scenario.reloads {
        println!();
        outln!(
            "at {} every run reloads its router with policy {} ([[reloads]])",
            failover_router::duration::format(std::time::Duration::from_secs_f64(r.at)),
            r.policy
        );
    }
    let differences = terminal::differences_table(summary);
    if !differences.is_empty() {
        println!();
        print!("{differences}");
    }
    // A load test's figures are its own (the load table), not a simulation's throughput.
    if let Some(run) = summary.run.as_ref().filter(|_| summary.load.is_none()) {
        println!(
            "\n{} verifications simulated in {:.2} s ({:.0} verifications/s per core, {} threads)",
            run.simulated_verifications,
            run.wall_seconds,
            run.verifications_per_second,
            run.threads
        );
    }
}
