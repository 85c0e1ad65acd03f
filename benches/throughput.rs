//! Simulation throughput: the reference scenario, the full router in the loop, one core.
//!
//! Prints simulated verifications per wall-clock second and the process's peak resident memory.
//! `cargo bench --bench throughput` runs `scenarios/bench/reference.toml` (1 h at 200/s);
//! `cargo bench --bench throughput -- <scenario.toml> [hours]` runs another scenario, optionally
//! stretched to `hours` of simulated time (memory must not grow with run length).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use failover_lab::experiment::{RunSpec, run_one};
use failover_lab::scenario::Scenario;

/// The same allocator as the `failover-lab` binary, so the figure is what users get.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn main() {
    // `cargo bench` passes `--bench`; ignore flags.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
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
    let r = run_one(
        &world,
        RunSpec {
            policy: 0,
            seed: world.seed,
        },
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let generated = r.traffic.legitimate + r.traffic.fraudulent;
    let secs = r.wall.as_secs_f64();
    println!(
        "{}: {} simulated verifications ({:.0} s of virtual time) in {:.2} s wall: {:.0} verifications/s; success {:.4}; peak RSS {} MiB",
        path.display(),
        generated,
        world.duration.as_secs_f64(),
        secs,
        generated as f64 / secs,
        r.run.metrics.success_rate,
        peak_rss_mib().map_or("?".into(), |m| format!("{m:.0}")),
    );
}
