//! `failover-lab gate`: run scenarios on paired seeds, check their `[[expect]]` entries and
//! their regressions against committed baselines; exit 3 when a check fails.
//!
//! Every input is checked before anything runs (scenarios, baselines, flags), so a typo costs
//! seconds, not a simulation; then each scenario runs, its checks are evaluated
//! (`experiment::gate`, `metrics::gate`) and the results are rendered by `report/` and written
//! atomically (`report::output::AtomicFile`; the files' directories are checked before anything
//! runs).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use clap::Args;
use failover_lab::experiment::default_threads;
use failover_lab::experiment::gate::{
    DEFAULT_GATE_SEEDS, GateChecks, evaluate, replicate, unknown_metric_message, world_hash,
};
use failover_lab::experiment::replicate::seeds;
use failover_lab::metrics::baseline::Baseline;
use failover_lab::metrics::compare::PolicyReplications;
use failover_lab::metrics::gate::{BaselineState, GateReport, ScenarioGate};
use failover_lab::metrics::metric_path::{MetricPath, Tolerance};
use failover_lab::report::output::AtomicFile;
use failover_lab::report::terminal::printable;
use failover_lab::report::{gate as gate_report, junit, markdown};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::exit;
use super::interrupt;
use super::load::{Loaded, check_work, load_file};
use super::run::safe_name;
use super::shard::{self, ShardArgs};

#[derive(Args, Debug)]
pub struct GateArgs {
    /// Scenario files to gate.
    #[arg(required = true)]
    pub scenarios: Vec<PathBuf>,
    /// Directory of baselines (`<scenario name>.json`, written by `baseline save`): check
    /// regressions against them. Without it only the `[[expect]]` entries are checked.
    #[arg(long, value_name = "DIR")]
    pub baseline: Option<PathBuf>,
    /// Seeds per policy [default: the baseline's seeds, else `[experiment] replications`, else
    /// 10].
    #[arg(long, value_name = "N")]
    pub seeds: Option<u32>,
    /// Write a JUnit XML report (one testcase per check).
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Write a Markdown summary (for a pull-request comment). Also appended to
    /// `$GITHUB_STEP_SUMMARY` when that is set.
    #[arg(long, value_name = "FILE")]
    pub markdown: Option<PathBuf>,
    /// A baseline measured in a different world (the scenario's world changed since it was
    /// saved) is an error (exit 2) instead of a warning.
    #[arg(long)]
    pub strict_baseline: bool,
    /// Refuse referenced files outside each scenario's directory (absolute paths, `..`,
    /// symbolic links leading out): for scenarios from pull requests.
    #[arg(long)]
    pub strict_paths: bool,
    /// How far METRIC may move the worse way before it is a regression (repeatable; wins over
    /// `[experiment] tolerance`): `success_rate=0.05pp`, `time_to_verify.p99=10%`,
    /// `faults.outage.detection_delay=2s`.
    #[arg(long = "tolerance", value_name = "METRIC=VALUE")]
    pub tolerance: Vec<String>,
    /// Confidence level of every interval, in (0, 1) [default: `[experiment] confidence`, else
    /// 0.95].
    #[arg(long)]
    pub confidence: Option<f64>,
    #[command(flatten)]
    pub execution: Execution,
}

/// How `gate` and `baseline save` execute their runs.
#[derive(Args, Debug)]
pub struct Execution {
    /// Worker threads [default: all cores]. Results do not depend on it.
    #[arg(long)]
    pub threads: Option<usize>,
    /// No progress bar.
    #[arg(long, short)]
    pub quiet: bool,
    /// Run even when the estimated work is above the documented limits (README, "Limits").
    #[arg(long)]
    pub allow_large: bool,
    #[command(flatten)]
    pub shard: ShardArgs,
}

/// One scenario, ready to run.
struct Planned {
    file: PathBuf,
    loaded: Loaded,
    checks: GateChecks,
    baseline: Option<Baseline>,
    state: BaselineState,
    baseline_file: Option<PathBuf>,
    seeds: Vec<u64>,
    confidence: f64,
    warnings: Vec<String>,
}

/// The baseline file of a scenario in `dir`.
pub fn baseline_path(dir: &Path, scenario: &str) -> PathBuf {
    dir.join(format!("{}.json", safe_name(scenario)))
}

/// Loads every scenario (with `strict_paths`, their references must stay in their directories),
/// printing every problem; `None` if any is invalid or two share a name (they would share a
/// baseline file).
pub fn load_all(files: &[PathBuf], strict_paths: bool) -> Option<Vec<Loaded>> {
    let mut ok = true;
    let mut loaded: Vec<Loaded> = Vec::new();
    for f in files {
        match load_file(f, strict_paths) {
            Ok(l) => {
                for w in &l.warnings {
                    errln!("{w}");
                }
                if let Some(other) = loaded.iter().find(|o| o.world.name == l.world.name) {
                    errln!(
                        "{}: scenario name {:?} is also the name of {}: their baselines would be \
                         one file; give each scenario its own name",
                        f.display(),
                        l.world.name,
                        other.path.display()
                    );
                    ok = false;
                }
                loaded.push(l);
            }
            Err(problems) => {
                for p in problems {
                    errln!("{p}");
                }
                ok = false;
            }
        }
    }
    ok.then_some(loaded)
}

/// `METRIC=VALUE` flags, resolved against one scenario's metrics.
fn flag_tolerances(
    loaded: &Loaded,
    flags: &[String],
) -> Result<Vec<(MetricPath, Tolerance)>, String> {
    let faults: Vec<String> = loaded.scenario.fault_names();
    flags
        .iter()
        .map(|f| {
            let (metric, value) = f.split_once('=').ok_or_else(|| {
                format!("--tolerance {f:?}: expected METRIC=VALUE, e.g. success_rate=0.05pp")
            })?;
            let metric = MetricPath::parse(metric, faults.iter().map(String::as_str))
                .map_err(|e| format!("--tolerance {f:?}: {}", unknown_metric_message(&e)))?;
            let t = Tolerance::parse(value, metric.unit())
                .map_err(|e| format!("--tolerance {f:?}: {e}"))?;
            Ok((metric, t))
        })
        .collect()
}

/// The seeds to run: the flag, else the baseline's, else `[experiment] replications` (two or
/// more), else [`DEFAULT_GATE_SEEDS`].
pub fn seeds_for(loaded: &Loaded, flag: Option<u32>, baseline: Option<&Baseline>) -> Vec<u64> {
    let base = loaded.world.seed;
    match (flag, baseline) {
        (Some(n), _) => seeds(base, 0, u64::from(n)),
        (None, Some(b)) if !b.seeds.is_empty() => b.seeds.clone(),
        _ => {
            let n = match loaded.world.experiment.replications {
                n if n >= 2 => n,
                _ => DEFAULT_GATE_SEEDS,
            };
            seeds(base, 0, u64::from(n))
        }
    }
}

fn plan(args: &GateArgs) -> Result<Vec<Planned>, ()> {
    let confidence_flag = args.confidence;
    if let Some(c) = confidence_flag
        && !(c > 0.0 && c < 1.0)
    {
        errln!("--confidence {c}: must be in (0, 1), e.g. 0.95");
        return Err(());
    }
    if args.seeds == Some(0) {
        errln!("--seeds 0: at least one seed is needed (two or more to check regressions)");
        return Err(());
    }
    let loaded = load_all(&args.scenarios, args.strict_paths).ok_or(())?;
    let mut ok = true;
    let mut planned = Vec::new();
    for (file, loaded) in args.scenarios.iter().zip(loaded) {
        let mut checks = loaded.checks.clone();
        match flag_tolerances(&loaded, &args.tolerance) {
            Ok(t) => checks.tolerances.extend(t),
            Err(e) => {
                errln!("{}: {e}", file.display());
                ok = false;
            }
        }
        let mut warnings = Vec::new();
        let (mut baseline, mut state, mut baseline_file) = (None, BaselineState::NotAsked, None);
        if let Some(dir) = &args.baseline {
            let path = baseline_path(dir, &loaded.world.name);
            match std::fs::read(&path) {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    state = BaselineState::Missing;
                    warnings.push(format!(
                        "no baseline {}: regressions are not checked; save one with \
                         `failover-lab baseline save {}`",
                        path.display(),
                        file.display()
                    ));
                }
                Err(e) => {
                    errln!("{}: cannot read: {e}", path.display());
                    ok = false;
                }
                Ok(bytes) => match Baseline::from_json(&bytes) {
                    Err(e) => {
                        errln!("{}: {e}", path.display());
                        ok = false;
                    }
                    Ok(b) => {
                        let current = world_hash(&loaded.scenario, &loaded.base);
                        state = if b.world_hash == current {
                            BaselineState::Current
                        } else {
                            BaselineState::Stale
                        };
                        if state == BaselineState::Stale {
                            let msg = format!(
                                "{}: stale baseline: it was measured in a different world \
                                 (world hash {} there, {current} in {}: traffic, faults, \
                                 providers, routes or seed changed); save it again with \
                                 `failover-lab baseline save {}` if the change is intended",
                                path.display(),
                                b.world_hash,
                                file.display(),
                                file.display()
                            );
                            if args.strict_baseline {
                                errln!("{msg}");
                                ok = false;
                            } else {
                                warnings.push(msg);
                            }
                        }
                        if b.tool_version != env!("CARGO_PKG_VERSION") {
                            warnings.push(format!(
                                "the baseline was saved by failover-lab {} (this is {})",
                                b.tool_version,
                                env!("CARGO_PKG_VERSION")
                            ));
                        }
                        baseline = Some(b);
                    }
                },
            }
            baseline_file = Some(path);
        }
        let seeds = seeds_for(&loaded, args.seeds, baseline.as_ref());
        let runs = seeds.len() * loaded.world.policies.len();
        if let Err(reasons) = check_work(&loaded, runs, args.execution.allow_large) {
            for r in reasons {
                errln!("{r}");
            }
            ok = false;
        }
        if seeds.len() < 2 && baseline.is_some() {
            warnings.push(
                "one seed: regressions need two or more paired seeds (--seeds 2 or more)".into(),
            );
        }
        let confidence = confidence_flag.unwrap_or(loaded.world.experiment.confidence);
        planned.push(Planned {
            file: file.clone(),
            loaded,
            checks,
            baseline,
            state,
            baseline_file,
            seeds,
            confidence,
            warnings,
        });
    }
    if ok { Ok(planned) } else { Err(()) }
}

/// [`run_all`] as `execution` asks (a shard, a merge, or every run here); `Err` is the exit
/// code when the command ends here: a bad shard flag, a shard's partial written, a merge
/// refused, a run that failed (each already printed).
pub fn run_executed(
    scenarios: &[(&Loaded, &[u64], f64)],
    threads: usize,
    execution: &Execution,
) -> Result<Vec<Vec<PolicyReplications>>, u8> {
    let job = execution.shard.begin().map_err(|e| {
        errln!("{e}");
        exit::INVALID_INPUT
    })?;
    let results = run_all(scenarios, threads, execution.quiet);
    if let Some(code) = shard::after_runs(job.as_ref()) {
        return Err(code);
    }
    results.map_err(|e| {
        errln!("{e}");
        exit::HARNESS_FAILURE
    })
}

/// Runs every policy of every scenario on its seeds, behind one progress bar over runs.
pub fn run_all(
    scenarios: &[(&Loaded, &[u64], f64)],
    threads: usize,
    quiet: bool,
) -> Result<Vec<Vec<PolicyReplications>>, String> {
    let total: usize = scenarios
        .iter()
        .map(|(l, s, _)| l.world.policies.len() * s.len())
        .sum();
    let bar = if quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr())
    };
    bar.set_style(
        ProgressStyle::with_template("{prefix:>20} [{bar:40}] {pos:>5}/{len} runs ({eta} left)")
            .expect("valid template")
            .progress_chars("=> "),
    );
    let done = AtomicUsize::new(0);
    let mut out = Vec::new();
    for (loaded, seeds, confidence) in scenarios {
        bar.set_prefix(printable(&loaded.world.name).into_owned());
        let result = std::thread::scope(|scope| {
            let work = scope.spawn(|| replicate(&loaded.world, seeds, threads, *confidence, &done));
            while !work.is_finished() {
                bar.set_position(done.load(Ordering::Relaxed) as u64);
                std::thread::sleep(Duration::from_millis(100));
            }
            work.join().expect("the simulation thread does not panic")
        });
        match result {
            Ok(reps) => out.push(reps),
            Err(e) => {
                bar.finish_and_clear();
                return Err(format!("{}: {e}", loaded.path.display()));
            }
        }
    }
    bar.finish_and_clear();
    Ok(out)
}

/// Writes `bytes` to `path` atomically (its directory is created if needed): through a
/// temporary created exclusively beside it and renamed over it, removed if a signal stops the
/// process first.
pub fn write_file(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let mut file = temporary(path)?;
    file.write_all(bytes)
        .map_err(|e| format!("cannot write {e}"))?;
    file.finish(AtomicFile::commit)
        .map(|_| ())
        .map_err(|e| format!("cannot write {e}"))
}

fn temporary(path: &Path) -> Result<interrupt::Guarded<AtomicFile>, String> {
    interrupt::guard(|| AtomicFile::create(path), |f| f.temp_path().to_owned()).map_err(|e| {
        if e.path == path {
            format!("cannot write {}: {}", path.display(), e.source)
        } else {
            format!("cannot write {}: {e}", path.display())
        }
    })
}

/// Checks, before anything runs, that `path` can be written: its directory exists or is
/// created and takes a new file, and `path` is not a directory.
pub fn check_writable(path: &Path) -> Result<(), String> {
    temporary(path).map(drop)
}

pub fn gate(args: &GateArgs) -> u8 {
    let Ok(planned) = plan(args) else {
        return exit::INVALID_INPUT;
    };
    for path in [&args.junit, &args.markdown].into_iter().flatten() {
        if let Err(e) = check_writable(path) {
            errln!("{e}");
            return exit::HARNESS_FAILURE;
        }
    }
    let threads = args
        .execution
        .threads
        .unwrap_or_else(default_threads)
        .max(1);
    let jobs: Vec<(&Loaded, &[u64], f64)> = planned
        .iter()
        .map(|p| (&p.loaded, p.seeds.as_slice(), p.confidence))
        .collect();
    let results = match run_executed(&jobs, threads, &args.execution) {
        Ok(r) => r,
        Err(code) => return code,
    };
    let mut report = GateReport::default();
    for (p, reps) in planned.into_iter().zip(results) {
        let (checks, mut more) = evaluate(
            &p.loaded.scenario,
            &p.checks,
            &reps,
            p.baseline.as_ref(),
            p.confidence,
        );
        let mut warnings = p.warnings;
        warnings.append(&mut more);
        if checks.is_empty() {
            warnings.push(
                "nothing to check: add [[expect]] entries or a baseline (--baseline DIR)".into(),
            );
        }
        report.scenarios.push(ScenarioGate {
            file: p.file.display().to_string(),
            scenario: p.loaded.world.name.clone(),
            seeds: p.seeds,
            confidence: p.confidence,
            baseline: p.state,
            baseline_file: p.baseline_file.map(|f| f.display().to_string()),
            warnings,
            checks,
        });
    }
    print!("{}", gate_report::render(&report));
    let mut code = if report.totals().fails() {
        exit::GATE_FAILED
    } else {
        exit::OK
    };
    if let Some(path) = &args.junit {
        let written = junit::junit(&report)
            .map_err(|e| format!("JUnit report: {e}"))
            .and_then(|bytes| write_file(path, &bytes));
        if let Err(e) = written {
            errln!("{e}");
            code = exit::HARNESS_FAILURE;
        }
    }
    let md = markdown::markdown(&report);
    if let Some(path) = &args.markdown
        && let Err(e) = write_file(path, md.as_bytes())
    {
        errln!("{e}");
        code = exit::HARNESS_FAILURE;
    }
    if let Some(summary) = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|s| !s.is_empty()) {
        // GitHub's documented interface is appending to this file; a failure to do so must not
        // hide the gate's own verdict.
        let appended = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(&summary)
            .and_then(|mut f| f.write_all(md.as_bytes()));
        if let Err(e) = appended {
            errln!(
                "warning: cannot append to $GITHUB_STEP_SUMMARY ({}): {e}",
                Path::new(&summary).display()
            );
        }
    }
    code
}
