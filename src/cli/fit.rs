//! `failover-lab fit <RECORDS>...`: a scenario fitted to attempt records, written atomically
//! after it validates.

use std::path::PathBuf;

use clap::Args;
use failover_lab::fit::write::{ScenarioSource, scenario_text};
use failover_lab::fit::{FitOptions, fit};
use failover_lab::report::fit::{FitReportMeta, files};
use failover_lab::report::output::AtomicFile;

use super::exit;

#[derive(Args, Debug)]
pub struct FitArgs {
    /// Attempt records: audit trails (`.jsonl`, as `--audit` and production sinks write them,
    /// starting with their config line) or attempts CSVs, in time order.
    #[arg(required = true, value_name = "RECORDS")]
    pub records: Vec<PathBuf>,
    /// Time bucket for rates and incident detection.
    #[arg(long, default_value = "1m")]
    pub bucket: String,
    /// The scenario to write [default: fitted.toml].
    #[arg(long, default_value = "fitted.toml")]
    pub out: PathBuf,
    /// The scenario's name [default: the output file's stem].
    #[arg(long)]
    pub name: Option<String>,
    /// Of an audit trail holding several policies' lines, the policy to read [default: the
    /// first met].
    #[arg(long, value_name = "NAME")]
    pub policy: Option<String>,
    /// Fail (exit 2) when more than this share of lines is unusable.
    #[arg(long, value_name = "SHARE", default_value_t = 0.01)]
    pub max_bad: f64,
    /// Also write the fit report into DIR: per route the latency histogram against the fitted
    /// distribution, a QQ plot, the failure rate over time with the incident windows, and
    /// `index.html`.
    #[arg(long, value_name = "DIR")]
    pub report: Option<PathBuf>,
    /// No summary: only errors and the scenario's path.
    #[arg(long, short)]
    pub quiet: bool,
}

pub fn fit_command(args: &FitArgs) -> u8 {
    let bucket = match failover_router::duration::parse(&args.bucket) {
        Ok(b) if !b.is_zero() => b,
        _ => {
            errln!(
                "--bucket {:?}: give a duration longer than zero, like 1m or 30s",
                args.bucket
            );
            return exit::INVALID_INPUT;
        }
    };
    if !(0.0..=1.0).contains(&args.max_bad) {
        errln!(
            "--max-bad {}: give a share in [0, 1], like 0.01",
            args.max_bad
        );
        return exit::INVALID_INPUT;
    }
    // The report's directory is checked before the records are read.
    let report = match &args.report {
        None => None,
        Some(dir) => match super::run::stage(dir) {
            Some(out) => Some(out),
            None => return exit::HARNESS_FAILURE,
        },
    };
    let opts = FitOptions {
        bucket,
        max_bad_share: args.max_bad,
        policy: args.policy.clone(),
    };
    let run = match fit(&args.records, &opts) {
        Ok(r) => r,
        Err(e) => {
            for p in e.problems {
                errln!("{p}");
            }
            return exit::INVALID_INPUT;
        }
    };
    for s in &run.shown {
        errln!("warning: {s}");
    }
    if run.bad as usize > run.shown.len() {
        errln!(
            "warning: ... and {} more unusable lines",
            run.bad as usize - run.shown.len()
        );
    }
    let name = args.name.clone().unwrap_or_else(|| {
        args.out
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "fitted".into())
    });
    let sources: Vec<String> = args
        .records
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    let source = ScenarioSource {
        name: &name,
        sources: &sources,
        records: run.records,
        bad: run.bad,
        policy: run.header.policy.as_ref(),
        routes: &run.header.routes,
    };
    let dir = args
        .out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."))
        .to_owned();
    let text = match scenario_text(&run.model, &source, &dir) {
        Ok(t) => t,
        Err(e) => {
            errln!("{e}: this is a bug in the fit, please report it");
            return exit::HARNESS_FAILURE;
        }
    };
    match AtomicFile::write(&args.out, text.as_bytes()) {
        Ok(path) => {
            if let (Some(out), Some(dir)) = (report, &args.report) {
                let meta = FitReportMeta {
                    sources: sources.clone(),
                    records: run.records,
                    lines: run.lines,
                    bad: run.bad,
                    scenario_file: scenario_link(dir, &path),
                };
                let written = files(&run.model, &meta)
                    .into_iter()
                    .try_for_each(|(name, bytes)| out.write(&name, &bytes))
                    .and_then(|()| super::run::publish(out));
                match written {
                    Ok(dest) => println!("report: {}", dest.join("index.html").display()),
                    Err(e) => {
                        errln!("cannot write the report: {e}");
                        return exit::HARNESS_FAILURE;
                    }
                }
            }
            if !args.quiet {
                let incidents: usize = run.model.routes.iter().map(|r| r.incidents.len()).sum();
                outln!(
                    "{} records ({} lines, {} unusable): {} routes, {} incident windows, {:.2} verifications/s",
                    run.records,
                    run.lines,
                    run.bad,
                    run.model.routes.len(),
                    incidents,
                    run.model.traffic.rate
                );
            }
            println!("scenario: {}", path.display());
            exit::OK
        }
        Err(e) => {
            errln!("cannot write the scenario: {e}");
            exit::HARNESS_FAILURE
        }
    }
}

/// The scenario as the report's page links it: `../NAME` when it sits beside the report's
/// directory, else no link (the page names it in its header facts anyway).
fn scenario_link(report: &std::path::Path, scenario: &std::path::Path) -> Option<String> {
    let report_parent = std::fs::canonicalize(report).ok()?.parent()?.to_owned();
    let scenario = std::fs::canonicalize(scenario).ok()?;
    let name = scenario.file_name()?.to_string_lossy();
    (scenario.parent()? == report_parent).then(|| format!("../{name}"))
}
