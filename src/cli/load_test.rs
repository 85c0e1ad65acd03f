//! `failover-lab load`: load-test the router in real time against the scenario's world, and
//! write the usual report with a load section.
//!
//! Everything a user can get wrong (the scenario, the policy, the flags, `--out`) fails with
//! exit 2 (or 1 for an unwritable `--out`) before the world starts. The first Ctrl-C ends the
//! arrivals early: the verifications in flight drain, the report is written and marked
//! interrupted, and the command exits 130 (143 for SIGTERM); a second one stops at once.
//!
//! With `--metrics-listen`, the router's metrics (the `metrics` feature of failover-router) are
//! served in Prometheus's text format by `metrics-exporter-prometheus`, as a service would
//! serve them, on a loopback address only, from before the first arrival until the command
//! ends (`--metrics-linger` keeps it serving after the report is written).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::Args;
use failover_lab::experiment::load::{
    DEFAULT_MAX_IN_FLIGHT, LiveView, LoadHooks, LoadPlan, run_load, wall_scenario_info,
};
use failover_lab::experiment::{default_threads, scenario_info, summarize};
use failover_lab::report::load as load_report;
use failover_lab::report::terminal::printable;
use failover_router::telemetry::{DECISION_DURATION, TIME_TO_VERIFY};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};

use super::exit;
use super::interrupt::SoftStop;
use super::load::{Loaded, load_file};
use super::run::{print_tables, publish, safe_name, select_policies, stage, write_outputs};

#[derive(Args, Debug)]
pub struct LoadArgs {
    /// Scenario file (TOML).
    pub scenario: PathBuf,
    /// The policy to load-test [default: the scenario's first].
    #[arg(long, value_name = "NAME")]
    pub policy: Option<String>,
    /// Legitimate arrivals per wall-clock second, constant, instead of the scenario's rate
    /// profile (destinations still from its mix; fraud spikes keep their rates).
    #[arg(long, value_name = "R")]
    pub rate: Option<f64>,
    /// Wall-clock length of the arrival phase, like `30s` or `2m` [default: the scenario's
    /// duration divided by --speed].
    #[arg(long, value_name = "D")]
    pub duration: Option<String>,
    /// Worker threads of the router's runtime [default: all cores].
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// Run the world K times faster than the wall clock: latencies, fault windows, think times
    /// and caller patience divided by K, scenario rates multiplied by K. The router's policy is
    /// not scaled.
    #[arg(long, value_name = "K", default_value_t = 1.0)]
    pub speed: f64,
    /// Arrivals that find this many verifications in flight are dropped.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_MAX_IN_FLIGHT)]
    pub max_in_flight: u64,
    /// Seed of the world's draws, instead of the scenario's.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Output directory [default: reports/<scenario name>-load/].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// No live view, no tables: only errors and the report path.
    #[arg(long, short)]
    pub quiet: bool,
    /// Refuse referenced files outside the scenario's directory.
    #[arg(long)]
    pub strict_paths: bool,
    /// Serve the router's metrics at http://ADDR/metrics (Prometheus text format) while the
    /// load runs; a loopback address such as 127.0.0.1:9464 (port 0 picks a free port; the
    /// address is printed).
    #[arg(long, value_name = "ADDR")]
    pub metrics_listen: Option<String>,
    /// Keep serving the metrics this long after the report is written, like `30s` (Ctrl-C
    /// ends it) [default: 0s].
    #[arg(long, value_name = "D", requires = "metrics_listen")]
    pub metrics_linger: Option<String>,
}

/// Bucket bounds of the router's histograms as the lab serves them (Prometheus histograms,
/// which add up across instances, rather than the exporter's default summaries): time to
/// verify in seconds, from fast deliveries to the longest deadlines...
const TTV_BUCKETS: [f64; 12] = [
    0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0,
];
/// ...and a decision in seconds, from a fraction of a microsecond to a contended lock.
const DECISION_BUCKETS: [f64; 10] = [
    5e-7, 1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 1e-3, 1e-2,
];

pub fn load(args: &LoadArgs) -> u8 {
    let loaded = match load_file(&args.scenario, args.strict_paths) {
        Ok(l) => l,
        Err(problems) => {
            for p in problems {
                errln!("{p}");
            }
            return exit::INVALID_INPUT;
        }
    };
    for w in &loaded.warnings {
        errln!("{w}");
    }
    let plan = match plan(&loaded, args) {
        Ok(p) => p,
        Err(e) => {
            errln!("{e}");
            return exit::INVALID_INPUT;
        }
    };
    // Served before the router is built: it registers its series with the recorder in force.
    let linger = match metrics_flags(args).and_then(|m| {
        m.map(|(addr, linger)| serve_metrics(addr).map(|addr| (addr, linger)))
            .transpose()
    }) {
        Ok(None) => Duration::ZERO,
        Ok(Some((addr, linger))) => {
            outln!("metrics: http://{addr}/metrics");
            linger
        }
        Err(e) => {
            errln!("{e}");
            return exit::INVALID_INPUT;
        }
    };
    let out_path = args.out.clone().unwrap_or_else(|| {
        PathBuf::from("reports").join(format!("{}-load", safe_name(&loaded.world.name)))
    });
    let Some(out) = stage(&out_path) else {
        return exit::HARNESS_FAILURE;
    };
    let policy_name = &loaded.world.policies[plan.policy].name;
    if !args.quiet {
        errln!(
            "load-testing {policy_name:?}: {} workers, speed x{}, {} of arrivals{}",
            plan.threads,
            plan.speed,
            failover_router::duration::format(plan.duration),
            plan.rate
                .map(|r| format!(" at {r}/s"))
                .unwrap_or_else(|| " at the scenario's rates".into())
        );
    }

    let soft = SoftStop::register();
    let bar = live_bar(args.quiet, plan.duration);
    let hooks = LoadHooks {
        stop: soft.flag(),
        live: Some(Box::new({
            let bar = bar.clone();
            move |v: &LiveView| show(&bar, v)
        })),
    };
    let started = Instant::now();
    let result = run_load(&loaded.world, &plan, hooks, None);
    bar.finish_and_clear();
    let result = match result {
        Ok(r) => r,
        Err(e) => {
            errln!("{}: {e}", loaded.path.display());
            return exit::HARNESS_FAILURE;
        }
    };
    let info = wall_scenario_info(
        scenario_info(
            &loaded.world,
            loaded.scenario.description.clone(),
            &loaded.text,
        ),
        &plan,
    );
    let mut summary = summarize(
        info,
        plan.seed,
        vec![result.run],
        plan.threads,
        started.elapsed().as_secs_f64(),
    );
    let load_csv = load_report::load_csv(&result.load);
    summary.load = Some(result.load);
    let written = out
        .write("load.csv", &load_csv)
        .and_then(|_| write_outputs(&out, &summary, Vec::new()))
        .and_then(|()| publish(out));
    let dest = match written {
        Ok(dest) => dest,
        Err(e) => {
            errln!("cannot write the report: {e}");
            return exit::HARNESS_FAILURE;
        }
    };
    if !args.quiet {
        print_tables(&summary);
        if let Some(load) = &summary.load {
            println!();
            print!("{}", load_report::load_table(load));
        }
    }
    println!("report: {}", dest.join("index.html").display());
    let code = soft.raised().unwrap_or(exit::OK);
    // From here a signal stops the process at once (with its usual exit code): the report is
    // complete, and only the serving is left to end.
    drop(soft);
    if code == exit::OK && !linger.is_zero() {
        if !args.quiet {
            errln!(
                "serving metrics for {} more (Ctrl-C stops)",
                failover_router::duration::format(linger)
            );
        }
        std::thread::sleep(linger);
    }
    code
}

/// `--metrics-listen` and `--metrics-linger`, checked: a loopback address and the linger.
fn metrics_flags(args: &LoadArgs) -> Result<Option<(SocketAddr, Duration)>, String> {
    let Some(text) = &args.metrics_listen else {
        return Ok(None);
    };
    let shown = printable(text);
    let addr: SocketAddr = text.parse().map_err(|_| {
        format!(
            "--metrics-listen {shown}: not an IP address and port: pass a loopback address such \
             as 127.0.0.1:9464 or [::1]:9464 (port 0 picks a free port)"
        )
    })?;
    if !addr.ip().is_loopback() {
        return Err(format!(
            "--metrics-listen {shown}: {} is not a loopback address; the lab serves metrics to \
             this machine only: pass 127.0.0.1:PORT or [::1]:PORT",
            addr.ip()
        ));
    }
    let linger = match &args.metrics_linger {
        None => Duration::ZERO,
        Some(text) => failover_router::duration::parse(text)
            .map_err(|e| format!("--metrics-linger {}: {e}", printable(text)))?,
    };
    Ok(Some((addr, linger)))
}

/// Installs `metrics-exporter-prometheus` as the process's recorder, its HTTP listener on
/// `addr` (on a thread of its own), and returns the address it listens on.
fn serve_metrics(addr: SocketAddr) -> Result<SocketAddr, String> {
    let taken = |e: &dyn std::fmt::Display| {
        format!(
            "--metrics-listen {addr}: cannot listen there ({e}): pass a free port, or port 0 \
             for any"
        )
    };
    // The exporter binds the address itself and does not say which port 0 gave it, so a free
    // port is picked here first. Another process could take it in the instant between this
    // listener closing and the exporter binding; the exporter's bind then fails, reported
    // like any port in use.
    let addr = if addr.port() == 0 {
        std::net::TcpListener::bind(addr)
            .and_then(|l| l.local_addr())
            .map_err(|e| taken(&e))?
    } else {
        addr
    };
    let buckets = |builder: PrometheusBuilder, name: &str, bounds: &[f64]| {
        builder
            .set_buckets_for_metric(Matcher::Full(name.to_owned()), bounds)
            .expect("bucket bounds are not empty")
    };
    let builder = PrometheusBuilder::new().with_http_listener(addr);
    let builder = buckets(builder, TIME_TO_VERIFY, &TTV_BUCKETS);
    let builder = buckets(builder, DECISION_DURATION, &DECISION_BUCKETS);
    builder.install().map_err(|e| taken(&e))?;
    Ok(addr)
}

fn plan(loaded: &Loaded, args: &LoadArgs) -> Result<LoadPlan, String> {
    let policy = match &args.policy {
        None => 0,
        Some(name) => select_policies(loaded, std::slice::from_ref(name))?[0],
    };
    LoadPlan::check_speed(args.speed).map_err(|e| e.to_string())?;
    let duration = match &args.duration {
        None => LoadPlan::default_duration(&loaded.world, args.speed),
        Some(text) => failover_router::duration::parse(text)
            .map_err(|e| format!("--duration {}: {e}", printable(text)))?,
    };
    let plan = LoadPlan {
        policy,
        seed: args.seed.unwrap_or(loaded.world.seed),
        speed: args.speed,
        rate: args.rate,
        duration,
        threads: args.threads.unwrap_or_else(default_threads),
        max_in_flight: args.max_in_flight,
        metrics: args.metrics_listen.is_some(),
    };
    plan.check(&loaded.world).map_err(|e| e.to_string())?;
    Ok(plan)
}

/// The live view: elapsed arrival time as a bar, the interval's figures as its message (hidden
/// with --quiet or when stderr is not a terminal).
fn live_bar(quiet: bool, planned: Duration) -> ProgressBar {
    let target = if quiet {
        ProgressDrawTarget::hidden()
    } else {
        ProgressDrawTarget::stderr()
    };
    let bar = ProgressBar::with_draw_target(Some(planned.as_millis() as u64), target);
    bar.set_style(
        ProgressStyle::with_template("[{bar:30}] {elapsed:>4} {msg}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar
}

fn show(bar: &ProgressBar, v: &LiveView) {
    let s = &v.sample;
    bar.set_position((s.t * 1000.0) as u64);
    bar.set_message(format!(
        "{}{:.0}/s of {:.0}/s · in flight {} · overhead p99 {:.0} us · success {:.2}%{}",
        if v.draining { "draining · " } else { "" },
        s.achieved_rate,
        s.target_rate,
        s.in_flight,
        v.overhead_p99,
        v.success * 100.0,
        if s.dropped > 0 {
            format!(" · dropped {}", s.dropped)
        } else {
            String::new()
        }
    ));
}
