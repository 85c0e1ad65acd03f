//! A threshold sweep spread over cores: a 6 x 5 grid of `trip.failure_rate` x `ejection.base`
//! on 5 seeds of the provider-outage scenario (30 points, 150 runs), on one thread and then on
//! every core, in one invocation, with points per minute, the speed-up and peak memory.
//!
//! `cargo bench --bench sweep` (the default above); `cargo bench --bench sweep -- <scenario.toml>
//! [seeds] [policy]` for another world. Both passes must give byte-identical `sweep.json`: runs
//! are folded by (point, seed), not by the order they finish in.

use std::path::PathBuf;
use std::time::Instant;

use failover_lab::experiment::sweep::{
    SweepContext, SweepFlags, SweepProgress, SweepRequest, SweepScenario, SweepSummary, run_points,
};
use failover_lab::experiment::{default_threads, replicate::seeds};
use failover_lab::report::json_export::sweep_json;
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
        .unwrap_or_else(|| root.join("scenarios/provider-outage.toml"));
    let n: u32 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(5);
    let policy = args
        .get(2)
        .cloned()
        .unwrap_or_else(|| "conservative".to_owned());
    let text = std::fs::read_to_string(&path).expect("readable scenario");
    let base = path.parent().unwrap_or(&root).to_owned();
    let scenario = Scenario::from_toml_str(&text, &base).expect("valid scenario");
    let world = scenario.compile(&base).expect("valid scenario");
    let flags = SweepFlags {
        policy: Some(policy),
        vary: vec![
            "trip.failure_rate=0.1..0.6:6".to_owned(),
            "ejection.base=10s,30s,1m,2m,5m".to_owned(),
        ],
        seeds: Some(n),
        ..SweepFlags::default()
    };
    let request =
        SweepRequest::resolve(&scenario, &Default::default(), &flags).expect("a valid sweep");
    let base_policy = &world.policies[request.base];
    let points = request
        .plan
        .policies(&base_policy.policy)
        .expect("valid points");
    let labels: Vec<String> = (0..request.plan.points.len())
        .map(|i| request.plan.label(i))
        .collect();
    let seeds = seeds(world.seed, 0, u64::from(request.seeds));
    let cores = default_threads();
    let mut walls = Vec::new();
    let mut outputs = Vec::new();
    for threads in [1, cores] {
        let started = Instant::now();
        let runs = run_points(
            &world,
            &points.policies,
            &labels,
            &seeds,
            0.95,
            threads,
            &SweepProgress::default(),
        )
        .expect("runs succeed");
        let wall = started.elapsed().as_secs_f64();
        let simulated = runs.simulated;
        let summary = SweepSummary::new(
            &request.plan,
            runs.estimates,
            SweepContext {
                scenario: SweepScenario {
                    name: world.name.clone(),
                    file: path.display().to_string(),
                    hash: String::new(),
                },
                base_policy: base_policy.name.clone(),
                base_values: request
                    .plan
                    .varies
                    .iter()
                    .map(|v| v.value_in(&base_policy.policy))
                    .collect(),
                seeds: seeds.clone(),
                confidence: 0.95,
                objectives: &request.objectives,
                constraints: &request.constraints,
            },
        );
        outputs.push(sweep_json(&summary));
        let points = labels.len();
        println!(
            "{}: {points} points x {} seeds on {threads} thread(s): {wall:.2} s wall, \
             {:.1} points/min, {simulated} verifications ({:.0}/s)",
            path.display(),
            seeds.len(),
            points as f64 / wall * 60.0,
            simulated as f64 / wall
        );
        walls.push(wall);
    }
    assert!(outputs[0] == outputs[1], "thread count changed sweep.json");
    println!(
        "speed-up on {cores} cores: {:.2}x; peak RSS {:.0} MiB",
        walls[0] / walls[1],
        peak_rss_mib().unwrap_or(f64::NAN)
    );
}
