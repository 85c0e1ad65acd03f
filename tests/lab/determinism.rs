//! Same scenario and seed: the same bytes, whatever the thread count.

use failover_lab::experiment::{execute, plan_policies};

use crate::world::{compile, json, run, scenario};

const POLICIES: &str = r#"
[policies.score]
[policies.thompson]
strategy = "thompson"
[policies.static]
strategy = "priority"
max_attempts = 1
[[faults]]
kind = "brownout"
error_rate = 0.6
start = "1m"
duration = "1m"
[faults.target]
provider = "a"
"#;

#[test]
fn same_seed_gives_identical_results() {
    let world = compile(&scenario("3m", "20/s", POLICIES));
    let a = run(&world, 1, 42);
    let b = run(&world, 1, 42);
    assert_eq!(json(&a), json(&b));
    assert_eq!(a.traffic, b.traffic);
    let c = run(&world, 1, 43);
    assert_ne!(json(&a), json(&c), "a different seed must change the run");
}

#[test]
fn one_thread_and_many_threads_give_identical_results() {
    let world = compile(&scenario("2m", "20/s", POLICIES));
    let plan = plan_policies(&world, &[], &[7, 8]);
    let one: Vec<String> = execute(&world, &plan, 1)
        .iter()
        .map(|r| json(r.as_ref().unwrap()))
        .collect();
    let four: Vec<String> = execute(&world, &plan, 4)
        .iter()
        .map(|r| json(r.as_ref().unwrap()))
        .collect();
    assert_eq!(one.len(), 6);
    assert_eq!(one, four);
}

#[test]
fn common_random_numbers_two_policies_deciding_alike_produce_identical_results() {
    // Exploration off in both: the budget cannot matter, so every decision is the same, and so
    // must be every draw of the world.
    let world = compile(&scenario(
        "2m",
        "20/s",
        r#"
[policies.one]
exploration = 0.0
exploration_budget = 0.05
[policies.two]
exploration = 0.0
exploration_budget = 0.5
[[faults]]
kind = "outage"
mode = "black_hole"
start = "30s"
duration = "40s"
[faults.target]
provider = "a"
"#,
    ));
    let a = run(&world, 0, 5);
    let b = run(&world, 1, 5);
    assert_eq!(json(&a), json(&b));
}

#[test]
fn every_policy_faces_the_same_traffic() {
    let world = compile(&scenario("2m", "20/s", POLICIES));
    let runs: Vec<_> = (0..3).map(|p| run(&world, p, 9)).collect();
    let arrivals: Vec<Vec<u64>> = runs
        .iter()
        .map(|r| r.run.timeseries.iter().map(|b| b.verifications).collect())
        .collect();
    assert_eq!(arrivals[0], arrivals[1]);
    assert_eq!(arrivals[0], arrivals[2]);
    assert_eq!(runs[0].traffic.legitimate, runs[2].traffic.legitimate);
}
