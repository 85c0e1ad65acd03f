//! Simulation throughput: the reference scenario, the full router in the loop, one core.
//!
//! Prints simulated verifications per wall-clock second and the process's peak resident memory.
//! `cargo bench --bench throughput` runs `scenarios/bench/reference.toml` (1 h at 200/s) five
//! times and prints the median, best and worst rate; every run must give the same result.
//! `cargo bench --bench throughput -- <scenario.toml> [hours] [--runs N]` runs another
//! scenario, optionally stretched to `hours` of simulated time (memory must not grow with run
//! length).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use failover_lab::experiment::{RunSpec, run_one};
use failover_lab::scenario::Scenario;

mod common;
use common::peak_rss_mib;

/// `--runs N` (or `--runs=N`): how many times to run the scenario (default 5).
fn runs_flag(args: &[String]) -> usize {
    let mut runs = 5;
    for (i, a) in args.iter().enumerate() {
        let value = match a.strip_prefix("--runs=") {
            Some(v) => Some(v),
            None if a == "--runs" => args.get(i + 1).map(String::as_str),
            None => None,
        };
        if let Some(v) = value {
            runs = v
                .parse()
                .unwrap_or_else(|_| panic!("--runs takes a positive count, not {v:?}"));
        }
    }
    runs.max(1)
}

fn main() {
    let all: Vec<String> = std::env::args().skip(1).collect();
    let runs = runs_flag(&all);
    // `cargo bench` passes `--bench`; positional arguments are the scenario and the hours.
    let args: Vec<&String> = all
        .iter()
        .enumerate()
        .filter(|(i, a)| !a.starts_with("--") && (*i == 0 || all[i - 1] != "--runs"))
        .map(|(_, a)| a)
        .collect();
    let path = args.first().map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios/bench/reference.toml")
    });
    let hours: Option<f64> = args.get(1).and_then(|h| h.parse().ok());
    let scenario = Scenario::from_file(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let base = path.parent().unwrap_or(std::path::Path::new("."));
    let mut world = scenario.compile(base).unwrap_or_else(|e| panic!("{e}"));
    if let Some(h) = hours {
        world.duration = Duration::from_secs_f64(h * 3600.0);
    }
    let world = Arc::new(world);
    // Wall-clock figures on a shared machine are noisy: report the spread over several runs.
    // Every run must also produce the same result (the simulation is deterministic).
    let mut rates = Vec::with_capacity(runs);
    let mut first = None;
    for _ in 0..runs {
        let r = run_one(
            &world,
            RunSpec {
                policy: 0,
                seed: world.seed,
            },
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let generated = r.traffic.legitimate + r.traffic.fraudulent;
        let rate = generated as f64 / r.wall.as_secs_f64();
        println!(
            "run {}: {generated} verifications in {:.2} s wall: {rate:.0}/s",
            rates.len() + 1,
            r.wall.as_secs_f64(),
        );
        rates.push(rate);
        match &first {
            None => first = Some((generated, r.run)),
            Some((g, run)) => assert!(
                *g == generated && *run == r.run,
                "two runs of the same scenario and seed differed"
            ),
        }
    }
    let (generated, run) = first.expect("at least one run");
    rates.sort_by(f64::total_cmp);
    println!(
        "{}: {generated} simulated verifications ({:.0} s of virtual time), success {:.4}; \
         {runs} runs: median {:.0}, best {:.0}, worst {:.0} verifications/s; peak RSS {} MiB",
        path.display(),
        world.duration.as_secs_f64(),
        run.metrics.success_rate,
        rates[rates.len() / 2],
        rates[rates.len() - 1],
        rates[0],
        peak_rss_mib().map_or("?".into(), |m| format!("{m:.0}")),
    );
}
