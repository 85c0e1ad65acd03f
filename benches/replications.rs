//! Replications spread over cores: `--seeds 20` of the demo (3 policies, 60 runs) on one thread
//! and on every core, in one invocation, with the speedup and peak memory.
//!
//! `cargo bench --bench replications` (default: the demo, 20 seeds, 1 thread then all cores);
//! `cargo bench --bench replications -- <scenario.toml> [seeds]` for another. Both passes must
//! give the same numbers: runs are independent and folded by (policy, seed), not by order.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::Instant;

use failover_lab::experiment::replicate::{Replications, comparisons, seeds};
use failover_lab::experiment::{Hooks, default_threads};
use failover_lab::scenario::Scenario;

mod common;
use common::peak_rss_mib;

fn main() {
    // Cargo passes `--bench`; positional arguments follow.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let path = args
        .first()
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("scenarios/demo.toml"));
    let n: u64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(20);
    let text = std::fs::read_to_string(&path).expect("readable scenario");
    let base = path.parent().unwrap_or(&root).to_owned();
    let world = Arc::new(
        Scenario::from_toml_str(&text, &base)
            .and_then(|s| s.compile(&base))
            .expect("valid scenario"),
    );
    let policies: Vec<usize> = (0..world.policies.len()).collect();
    let seeds = seeds(world.seed, 0, n);
    let cores = default_threads();
    let mut walls = Vec::new();
    let mut results = Vec::new();
    for threads in [1, cores] {
        let mut reps = Replications::new(&world, &policies);
        let started = Instant::now();
        reps.run(
            &world,
            &seeds,
            threads,
            &|_| Hooks::default(),
            &AtomicUsize::new(0),
        )
        .expect("runs succeed");
        let wall = started.elapsed().as_secs_f64();
        let summaries = reps.summaries(0.95);
        results.push(serde_json::to_string(&comparisons(&summaries, 0, 0.95)).expect("json"));
        println!(
            "{}: {} seeds x {} policies on {threads} thread(s): {wall:.2} s wall, {} verifications ({:.0}/s)",
            path.display(),
            n,
            policies.len(),
            reps.simulated,
            reps.simulated as f64 / wall
        );
        walls.push(wall);
    }
    assert_eq!(results[0], results[1], "thread count changed the results");
    println!(
        "speedup on {cores} cores: {:.2}x; peak RSS {:.0} MiB",
        walls[0] / walls[1],
        peak_rss_mib().unwrap_or(f64::NAN)
    );
}
