//! Comparisons over seeds: calibration of the intervals, verdicts on a difference built into the
//! world, what pairing on common random numbers buys, determinism and precision mode.

use std::path::Path;
use std::process::Command;

use failover_lab::experiment::replicate::{comparisons, seed_for, seeds};
use failover_lab::experiment::{RunSpec, execute};
use failover_lab::metrics::compare::{
    PolicyReplications, SeedMetrics, Verdict, compare, estimates, seed_metrics,
};
use failover_lab::metrics::{Quantiles, RunSummary};

use crate::world::{compile, policy_index, scenario};

/// Carrier `vde` loses 1 % and provider `a` a tenth of its messages for the whole run: a
/// policy's success rate varies from seed to seed.
const LOSSY_A: &str = r#"
[[faults]]
name = "a-lossy"
kind = "brownout"
loss = 0.1
start = "0s"
[faults.target]
provider = "a"
"#;

fn replications(
    name: &str,
    rows: Vec<(u64, failover_lab::metrics::PolicyRun)>,
) -> PolicyReplications {
    let seeds: Vec<SeedMetrics> = rows
        .iter()
        .map(|(seed, run)| SeedMetrics {
            seed: *seed,
            metrics: seed_metrics(run),
        })
        .collect();
    PolicyReplications {
        policy: name.into(),
        estimates: estimates(&seeds, 0.95),
        seeds,
        pooled_ttv: Quantiles::default(),
    }
}

/// A/A calibration. Two identical policies would give identical runs on the same seeds (the
/// lab is deterministic), so each experiment runs them on different worlds and pairs the
/// replications by index: the true difference is 0, and the 95 % interval of the paired mean
/// difference must cover it in a share consistent with 95 % over 40 experiments (at most 7
/// misses: P(8 or more | 95 %) < 0.001), with the verdict "no detectable difference" exactly
/// when it does.
#[test]
fn identical_policies_are_judged_alike_in_95_percent_of_experiments() {
    let policies = r#"
[policies.a1]
strategy = "priority"
max_attempts = 1
[policies.a2]
strategy = "priority"
max_attempts = 1
"#;
    let world = compile(&scenario("1m", "10/s", &format!("{policies}{LOSSY_A}")));
    let (a1, a2) = (policy_index(&world, "a1"), policy_index(&world, "a2"));
    const EXPERIMENTS: u64 = 40;
    const N: u64 = 6;
    let mut plan = Vec::new();
    for k in 0..EXPERIMENTS {
        for i in 0..N {
            plan.push(RunSpec {
                policy: a1,
                seed: seed_for(k, i + 1),
            });
            plan.push(RunSpec {
                policy: a2,
                seed: seed_for(k + 1_000_000, i + 1),
            });
        }
    }
    let mut results = execute(&world, &plan, 2).into_iter().map(|r| r.unwrap());
    let (mut covered, mut undetected) = (0, 0);
    let (mut half_widths, mut means) = (Vec::new(), Vec::new());
    for _ in 0..EXPERIMENTS {
        let (mut x, mut y) = (Vec::new(), Vec::new());
        for i in 0..N {
            // Paired by replication index (relabelled as the same seed).
            x.push((i, results.next().unwrap().run));
            y.push((i, results.next().unwrap().run));
        }
        let c = compare(
            &replications("a1", x),
            &replications("a2", y),
            0.95,
            &|_| 0.0,
        );
        let c = c.iter().find(|c| c.metric == "success_rate").unwrap();
        let (lo, hi) = (c.lo.unwrap(), c.hi.unwrap());
        assert!(hi > lo, "the worlds differ, so must the runs: {c:?}");
        half_widths.push(c.half_width.unwrap());
        means.push(c.mean_difference);
        covered += u32::from(lo <= 0.0 && 0.0 <= hi);
        undetected += u32::from(c.verdict == Verdict::NoDetectableDifference);
    }
    assert!(covered >= 33, "{covered} of 40 intervals cover 0");
    assert_eq!(undetected, covered);
    // Coverage alone would not notice intervals that are far too wide (they cover 0 always).
    // Their width must match how much the mean difference really varies from experiment to
    // experiment: half-width ~ t(N - 1) x the spread of the 40 means.
    let n = means.len() as f64;
    let mean = means.iter().sum::<f64>() / n;
    let sd = (means.iter().map(|m| (m - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
    let t = failover_lab::metrics::compare::t_critical((N - 1) as f64, 0.95).unwrap();
    let ratio = half_widths.iter().sum::<f64>() / n / (t * sd);
    assert!(
        (0.7..1.4).contains(&ratio),
        "mean half-width / (t x sd) = {ratio}"
    );
}

/// A policy that can never use the lossy provider against one that must: `better` on success
/// and conversion (every message the lossy route drops is a verification lost, max_attempts =
/// 1) and on cost per success (same price, more successes), each interval excluding 0.
#[test]
fn a_difference_built_into_the_world_is_found_on_every_metric_it_shows_in() {
    let policies = r#"
[policies.must]
strategy = "priority"
max_attempts = 1
[[policies.must.compliance]]
allow = ["a"]
[policies.never]
strategy = "priority"
max_attempts = 1
[[policies.never.compliance]]
deny = ["a"]
"#;
    let world = compile(&scenario("1m", "10/s", &format!("{policies}{LOSSY_A}")));
    let idx = [policy_index(&world, "must"), policy_index(&world, "never")];
    let seeds = seeds(3, 0, 6);
    let plan: Vec<RunSpec> = seeds
        .iter()
        .flat_map(|&seed| idx.iter().map(move |&policy| RunSpec { policy, seed }))
        .collect();
    let mut results = execute(&world, &plan, 2).into_iter().map(|r| r.unwrap());
    let (mut must, mut never) = (Vec::new(), Vec::new());
    for &seed in &seeds {
        must.push((seed, results.next().unwrap().run));
        never.push((seed, results.next().unwrap().run));
    }
    let reps = [replications("must", must), replications("never", never)];
    let c = comparisons(&reps, 0, 0.95);
    let get = |m: &str| c.iter().find(|c| c.metric == m).unwrap();
    for metric in ["success_rate", "conversion_rate", "cost_per_success"] {
        let c = get(metric);
        assert_eq!(c.verdict, Verdict::Better, "{c:?}");
        assert!(c.lo.unwrap() * c.hi.unwrap() > 0.0, "{c:?}");
    }
    // The loss is a tenth: success differs by about that much.
    let s = get("success_rate");
    assert!((0.06..0.14).contains(&s.mean_difference), "{s:?}");
}

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_failover-lab"))
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!(
        "failover-lab-compare-{name}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn run_cli(dir: &Path, scenario_text: &str, args: &[&str]) -> (RunSummary, String) {
    let path = dir.join("s.toml");
    std::fs::write(&path, scenario_text).unwrap();
    let o = bin()
        .arg("run")
        .arg(&path)
        .arg("--out")
        .arg(dir.join("out"))
        .arg("--quiet")
        .args(args)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(0), "{err}");
    let text = std::fs::read_to_string(dir.join("out/summary.json")).unwrap();
    (serde_json::from_str(&text).unwrap(), text)
}

const TWO_POLICIES: &str = r#"
[policies.static]
strategy = "priority"
max_attempts = 1
[policies.score]
"#;

/// `--seeds 8` gives the same bytes whatever the thread count (the wall-clock `run` aside).
#[test]
fn replicated_runs_are_byte_identical_with_one_thread_or_two() {
    let text = scenario("1m", "10/s", &format!("{TWO_POLICIES}{LOSSY_A}"));
    let strip = |json: &str| {
        let mut v: serde_json::Value = serde_json::from_str(json).unwrap();
        v.as_object_mut().unwrap().remove("run");
        serde_json::to_string(&v).unwrap()
    };
    let (one, a) = run_cli(&temp_dir("t1"), &text, &["--seeds", "8", "--threads", "1"]);
    let (_, b) = run_cli(&temp_dir("t2"), &text, &["--seeds", "8", "--threads", "2"]);
    assert_eq!(strip(&a), strip(&b));
    let e = one.experiment.unwrap();
    assert_eq!(e.seeds.len(), 8);
    assert_eq!(e.seeds[0], 1, "replication 0 is the scenario seed");
    assert_eq!(e.baseline, "static");
    assert_eq!(one.replications.len(), 2);
    assert!(one.replications.iter().all(|r| r.seeds.len() == 8));
    assert!(
        one.comparisons
            .iter()
            .all(|c| c.policy == "score" && c.n == 8)
    );
    // Replication 0 is shown in full, exactly as a single-seed run shows it.
    let (single, _) = run_cli(&temp_dir("t3"), &text, &[]);
    assert_eq!(single.policies, one.policies);
}

/// Precision mode stops as soon as every interval on the target metric is narrow enough, and
/// at --max-seeds when that never happens; the summary says which.
#[test]
fn precision_mode_stops_on_the_target_or_at_max_seeds() {
    let text = scenario("1m", "10/s", &format!("{TWO_POLICIES}{LOSSY_A}"));
    let (s, _) = run_cli(
        &temp_dir("p1"),
        &text,
        &["--seeds", "3", "--precision", "success_rate=0.5"],
    );
    let e = s.experiment.unwrap();
    assert_eq!(
        (e.seeds.len(), e.stopped.as_deref()),
        (3, Some("target_reached"))
    );
    let (s, _) = run_cli(
        &temp_dir("p2"),
        &text,
        &[
            "--seeds",
            "3",
            "--max-seeds",
            "7",
            "--precision",
            "success_rate=1e-12",
        ],
    );
    let e = s.experiment.unwrap();
    assert_eq!(
        (e.seeds.len(), e.stopped.as_deref()),
        (7, Some("max_seeds"))
    );
    assert_eq!(e.precision[0].metric, "success_rate");
    assert!(s.comparisons.iter().all(|c| c.n == 7));
}

/// Bad experiment options are invalid input (exit 2) with a message naming the option.
#[test]
fn bad_experiment_options_name_what_to_fix() {
    let dir = temp_dir("bad");
    let path = dir.join("s.toml");
    std::fs::write(&path, scenario("1m", "10/s", TWO_POLICIES)).unwrap();
    let check = |args: &[&str], needle: &str| {
        let o = bin().arg("run").arg(&path).args(args).output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
    };
    check(&["--seeds", "0"], "--seeds 0");
    check(&["--baseline", "scor"], "did you mean \"score\"");
    check(&["--confidence", "1.5"], "--confidence 1.5");
    check(
        &["--precision", "success=0.1"],
        "did you mean \"success_rate\"",
    );
    check(&["--precision", "success_rate"], "METRIC=HALF_WIDTH");
    check(&["--precision", "success_rate=-1"], "> 0");
}

/// On the demo, pairing on common random numbers narrows the intervals of what the policies
/// share: users convert (or not) identically whatever route delivered, so the paired interval
/// of the conversion-rate difference is several times narrower than the unpaired one. (Its
/// success-rate failures come from each policy's own routes, so there pairing buys little;
/// README, "Comparing policies", gives the figures.)
#[test]
fn pairing_narrows_the_demo_intervals() {
    let demo =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/demo.toml"))
            .unwrap()
            // 26 of the demo's 40 minutes keep the test short; both faults still happen (the second
            // cut to 4 minutes).
            .replace("duration = \"40m\"", "duration = \"26m\"")
            .replace("duration = \"12m\"", "duration = \"4m\"");
    let (s, _) = run_cli(&temp_dir("demo"), &demo, &["--seeds", "6"]);
    let conversion: Vec<f64> = s
        .comparisons
        .iter()
        .filter(|c| c.metric == "conversion_rate")
        .map(|c| c.variance_reduction.unwrap())
        .collect();
    assert_eq!(conversion.len(), 2);
    assert!(conversion.iter().all(|v| *v > 1.5), "{conversion:?}");
}

/// `[experiment]` in the scenario sets the replications and the baseline; flags win.
#[test]
fn the_scenario_experiment_table_applies_and_flags_win() {
    let text = scenario(
        "1m",
        "10/s",
        &format!("{TWO_POLICIES}{LOSSY_A}\n[experiment]\nreplications = 3\nbaseline = \"score\"\n"),
    );
    let (s, _) = run_cli(&temp_dir("x1"), &text, &[]);
    let e = s.experiment.unwrap();
    assert_eq!((e.seeds.len(), e.baseline.as_str()), (3, "score"));
    assert!(s.comparisons.iter().all(|c| c.policy == "static"));
    let (s, _) = run_cli(
        &temp_dir("x2"),
        &text,
        &["--seeds", "2", "--baseline", "static"],
    );
    let e = s.experiment.unwrap();
    assert_eq!((e.seeds.len(), e.baseline.as_str()), (2, "static"));
}

/// With seeds, `run` prints the differences with verdicts, writes the comparison files and
/// draws the forest and spread charts into the report; with one seed it writes none of them.
#[test]
fn a_replicated_run_prints_writes_and_renders_the_comparison() {
    let dir = temp_dir("outputs");
    let path = dir.join("s.toml");
    std::fs::write(
        &path,
        scenario("1m", "10/s", &format!("{TWO_POLICIES}{LOSSY_A}")),
    )
    .unwrap();
    let run = |out: &str, args: &[&str]| {
        let o = bin()
            .arg("run")
            .arg(&path)
            .arg("--out")
            .arg(dir.join(out))
            .args(args)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(0));
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let stdout = run("many", &["--seeds", "4"]);
    assert!(
        stdout.contains("differences from baseline static"),
        "{stdout}"
    );
    assert!(stdout.contains("success_rate"), "{stdout}");
    assert!(
        ["better", "worse", "no detectable difference"]
            .iter()
            .any(|v| stdout.contains(v)),
        "{stdout}"
    );
    let many = dir.join("many");
    for f in [
        "comparison.csv",
        "replications.csv",
        "forest.svg",
        "forest.png",
        "spread.svg",
        "spread.png",
    ] {
        assert!(many.join(f).is_file(), "{f} missing");
    }
    let html = std::fs::read_to_string(many.join("index.html")).unwrap();
    assert!(html.contains("comparison.csv") && html.contains("Differences from the baseline"));
    let csv = std::fs::read_to_string(many.join("comparison.csv")).unwrap();
    assert!(csv.lines().count() > 1 && csv.starts_with("policy,baseline,metric"));

    let stdout = run("one", &[]);
    assert!(!stdout.contains("differences from baseline"));
    for f in [
        "comparison.csv",
        "replications.csv",
        "forest.svg",
        "spread.svg",
    ] {
        assert!(
            !dir.join("one").join(f).exists(),
            "{f} written for one seed"
        );
    }
}
