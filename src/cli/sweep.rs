//! `failover-lab sweep`: vary fields of one policy over a grid or a Latin hypercube, run every
//! point on the same seeds, and report the Pareto frontier and a recommendation.
//!
//! Everything is checked before anything runs (the scenario, `[sweep]`, the flags, every point
//! as a policy, the output directory), so a typo or an invalid combination costs milliseconds.
//! Then planning (`experiment::sweep`), execution (`experiment::sweep::execute`), analysis
//! (`metrics::pareto`) and rendering (`report::sweep`) each do their part; this module only
//! joins them and owns the terminal.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::Args;
use failover_lab::experiment::sweep::{
    SweepContext, SweepFlags, SweepProgress, SweepRequest, SweepScenario, SweepSummary, run_points,
};
use failover_lab::experiment::{default_threads, text_hash};
use failover_lab::report::chart::Format;
use failover_lab::report::json_export;
use failover_lab::report::output::{OutputDir, OutputError};
use failover_lab::report::sweep as sweep_report;
use failover_lab::report::terminal::printable;
use failover_lab::scenario::MAX_SHOWN_PROBLEMS;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::exit;
use super::gate::Execution;
use super::load::{Loaded, check_work, load_file};
use super::run::{publish, safe_name, stage};

/// Point warnings printed before "and N more".
const SHOWN_WARNINGS: usize = 10;

#[derive(Args, Debug)]
pub struct SweepArgs {
    /// Scenario file (TOML).
    pub scenario: PathBuf,
    /// The policy every point starts from [default: `[sweep] policy`, else `[experiment]
    /// baseline`, else the first policy].
    #[arg(long, value_name = "NAME")]
    pub policy: Option<String>,
    /// A policy field and its values (repeatable; several make a full grid):
    /// `trip.failure_rate=0.1..0.6:6` (6 values, linear), `probe.share=log:0.01..0.2:5`,
    /// `ejection.base=10s,30s,1m`, `strategy=priority,score`, `trip.latency=off,20s`. Replaces
    /// `[sweep] vary`.
    #[arg(long, value_name = "PATH=VALUES")]
    pub vary: Vec<String>,
    /// Draw a Latin hypercube of K points instead of the full grid (for three or more fields);
    /// the draw follows the scenario seed.
    #[arg(long, value_name = "K")]
    pub samples: Option<usize>,
    /// A metric to optimise in its own direction (repeatable; the first decides the
    /// recommendation) [default: success_rate, cost_per_success, time_to_verify.p99, flaps].
    #[arg(long = "objective", value_name = "METRIC")]
    pub objectives: Vec<String>,
    /// A bound the recommended point must meet, on the mean over seeds (repeatable):
    /// `'success_rate>=0.999'`, `'time_to_verify.p99<20s'`.
    #[arg(long = "constraint", value_name = "METRIC OP VALUE")]
    pub constraints: Vec<String>,
    /// Seeds every point runs on, the same for every point [default: `[sweep] seeds`, else
    /// `[experiment] replications` if two or more, else 5].
    #[arg(long, value_name = "N")]
    pub seeds: Option<u32>,
    /// Confidence level of every interval, in (0, 1) [default: `[experiment] confidence`, else
    /// 0.95].
    #[arg(long)]
    pub confidence: Option<f64>,
    /// Output directory [default: reports/<scenario name>-sweep/].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Refuse referenced files outside the scenario's directory (absolute paths, `..`,
    /// symbolic links leading out).
    #[arg(long)]
    pub strict_paths: bool,
    #[command(flatten)]
    pub execution: Execution,
}

/// Prints every line of `problems` and returns the invalid-input exit code.
fn invalid(problems: impl IntoIterator<Item = String>) -> u8 {
    for p in problems {
        errln!("{p}");
    }
    exit::INVALID_INPUT
}

pub fn sweep(args: &SweepArgs) -> u8 {
    let loaded = match load_file(&args.scenario, args.strict_paths) {
        Ok(l) => l,
        Err(problems) => return invalid(problems),
    };
    for w in &loaded.warnings {
        errln!("{w}");
    }
    let flags = SweepFlags {
        policy: args.policy.clone(),
        vary: args.vary.clone(),
        samples: args.samples,
        seeds: args.seeds,
        objectives: args.objectives.clone(),
        constraints: args.constraints.clone(),
    };
    let request = match SweepRequest::resolve(&loaded.scenario, &loaded.sweep, &flags) {
        Ok(r) => r,
        Err(problems) => {
            return invalid(
                problems
                    .into_iter()
                    .map(|p| format!("{}: {p}", loaded.path.display())),
            );
        }
    };
    let confidence = args
        .confidence
        .unwrap_or(loaded.world.experiment.confidence);
    if !(confidence > 0.0 && confidence < 1.0) {
        return invalid([format!(
            "--confidence {confidence}: must be in (0, 1), e.g. 0.95"
        )]);
    }
    let base = &loaded.world.policies[request.base];
    let points = match request.plan.policies(&base.policy) {
        Ok(p) => p,
        // One point a line (`printable` would escape the newlines of one message), at most
        // as many as the loader prints problems.
        Err(e) => {
            let text = format!("{}: policy {:?}: {e}", loaded.path.display(), base.name);
            let mut lines: Vec<String> = text
                .lines()
                .take(MAX_SHOWN_PROBLEMS + 1)
                .map(str::to_owned)
                .collect();
            if e.invalid.len() > MAX_SHOWN_PROBLEMS {
                lines.push(format!(
                    "  ... and {} more invalid points",
                    e.invalid.len() - MAX_SHOWN_PROBLEMS
                ));
            }
            return invalid(lines);
        }
    };
    for (shown, (point, w)) in points.warnings.iter().enumerate() {
        if shown == SHOWN_WARNINGS {
            errln!(
                "warning: and {} more point warnings",
                points.warnings.len() - SHOWN_WARNINGS
            );
            break;
        }
        errln!(
            "warning: point {point} ({}): {}: {}",
            request.plan.label(*point),
            w.field,
            w.message
        );
    }
    let total_points = request.plan.points.len();
    let seeds =
        failover_lab::experiment::replicate::seeds(loaded.world.seed, 0, u64::from(request.seeds));
    if let Err(reasons) = check_work(
        &loaded,
        total_points * seeds.len(),
        args.execution.allow_large,
    ) {
        return invalid(reasons);
    }
    let out_path = args.out.clone().unwrap_or_else(|| {
        PathBuf::from("reports").join(format!("{}-sweep", safe_name(&loaded.world.name)))
    });
    // A shard writes a partial result, not the report: `--out` is merge's business.
    let out = if args.execution.shard.shard.is_some() {
        None
    } else {
        let Some(out) = stage(&out_path) else {
            return exit::HARNESS_FAILURE;
        };
        Some(out)
    };
    let threads = args
        .execution
        .threads
        .unwrap_or_else(default_threads)
        .max(1);
    let labels: Vec<String> = (0..total_points).map(|i| request.plan.label(i)).collect();

    let job = match args.execution.shard.begin() {
        Ok(job) => job,
        Err(e) => {
            errln!("{e}");
            return exit::INVALID_INPUT;
        }
    };
    let started = Instant::now();
    let runs = with_progress(&loaded, total_points, args.execution.quiet, |progress| {
        run_points(
            &loaded.world,
            &points.policies,
            &labels,
            &seeds,
            confidence,
            threads,
            progress,
        )
    });
    let wall = started.elapsed().as_secs_f64();
    if let Some(code) = super::shard::after_runs(job.as_ref()) {
        return code;
    }
    let runs = match runs {
        Ok(r) => r,
        Err(e) => {
            errln!("{}: {e}", loaded.path.display());
            return exit::HARNESS_FAILURE;
        }
    };
    let simulated = runs.simulated;
    let base_values = request
        .plan
        .varies
        .iter()
        .map(|v| v.value_in(&base.policy))
        .collect();
    let summary = SweepSummary::new(
        &request.plan,
        runs.estimates,
        SweepContext {
            scenario: SweepScenario {
                name: loaded.world.name.clone(),
                file: args.scenario.display().to_string(),
                hash: text_hash(&loaded.text),
            },
            base_policy: base.name.clone(),
            base_values,
            seeds,
            confidence,
            objectives: &request.objectives,
            constraints: &request.constraints,
        },
    );

    let out = out.expect("staged: only a shard has no report, and it has returned");
    let dest = match write_outputs(&out, &summary).and_then(|()| publish(out)) {
        Ok(dest) => dest,
        Err(e) => {
            errln!("cannot write the report: {e}");
            return exit::HARNESS_FAILURE;
        }
    };
    if !args.execution.quiet {
        print!("{}", sweep_report::terminal::render(&summary));
        let points_per_minute = total_points as f64 / wall.max(1e-9) * 60.0;
        errln!(
            "{total_points} points x {} seeds in {wall:.1} s on {threads} threads \
             ({points_per_minute:.1} points/min, {:.0} verifications/s)",
            summary.seeds.len(),
            simulated as f64 / wall.max(1e-9)
        );
    }
    println!("report: {}", dest.join("index.html").display());

    exit::OK
}

/// Runs `work` behind one bar over points (done / total, ETA), hidden with --quiet or when
/// stderr is not a terminal.
fn with_progress<T: Send>(
    loaded: &Loaded,
    points: usize,
    quiet: bool,
    work: impl FnOnce(&SweepProgress) -> T + Send,
) -> T {
    let bar = if quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::with_draw_target(Some(points as u64), ProgressDrawTarget::stderr())
    };
    bar.set_style(
        ProgressStyle::with_template("{prefix:>20} [{bar:40}] {pos:>5}/{len} points ({eta} left)")
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar.set_prefix(printable(&loaded.world.name).into_owned());
    let progress = SweepProgress::default();
    let result = std::thread::scope(|scope| {
        let handle = scope.spawn(|| work(&progress));
        while !handle.is_finished() {
            bar.set_position(progress.points.load(std::sync::atomic::Ordering::Relaxed) as u64);
            std::thread::sleep(Duration::from_millis(100));
        }
        handle.join().expect("the simulation thread does not panic")
    });
    bar.finish_and_clear();
    result
}

/// Writes every file of the sweep report into its private directory: the data, each chart as
/// SVG and PNG, and the page that links them. A chart that cannot be drawn is a warning, as in
/// `run`: it must not cost the user the rest of the report (the page says it is missing).
fn write_outputs(out: &OutputDir, summary: &SweepSummary) -> Result<(), OutputError> {
    out.write("sweep.json", &json_export::sweep_json(summary))?;
    out.write("sweep.csv", &sweep_report::csv::sweep_csv(summary))?;
    for chart in sweep_report::chart::charts_for(summary) {
        for format in [Format::Svg, Format::Png] {
            let name = chart.file_name(format);
            match chart.render(summary, format) {
                Ok(bytes) => out.write(&name, &bytes)?,
                Err(e) => errln!("warning: {name}: {e}"),
            }
        }
    }
    let files = ["sweep.json", "sweep.csv"];
    out.write(
        "index.html",
        sweep_report::html::render(summary, &files).as_bytes(),
    )?;
    Ok(())
}
