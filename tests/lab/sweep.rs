//! `failover-lab sweep` end to end: a trade-off known by construction, determinism across
//! thread counts, the `[sweep]` table, and every invalid input refused before anything runs.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::cli::{bin, output_within, temp_dir, text};
use crate::world::scenario;

/// Provider `a` (the priority route) fails every request for the first quarter of every 30 s
/// from minute 2 on: over the 2-minute health window its failure rate is 0.25 (±0.05 with the
/// window's 5 s buckets and Poisson noise). With one attempt per verification and only the
/// windowed rate able to trip, a threshold under 0.25 ejects `a` (its traffic goes to the
/// healthy `b`, so more verifications succeed) and a threshold over 0.35 never does, and
/// then every such threshold is the same policy in effect.
const FLAPPING: &str = r#"
[policies.base]
strategy = "priority"
max_attempts = 1
[policies.base.health]
window = "2m"
buckets = 24
min_volume = 20
[policies.base.trip]
consecutive_failures = 0
failure_rate = 0.5
latency = "off"
[policies.base.probe]
recover_failure_rate = 0.05
[[faults]]
name = "a-flaps"
kind = "flapping"
period = "30s"
duty = 0.25
mode = "error"
start = "2m"
duration = "6m"
[faults.target]
provider = "a"
"#;

fn flapping(dir: &Path) -> PathBuf {
    let path = dir.join("flapping.toml");
    std::fs::write(&path, scenario("8m", "20/s", FLAPPING)).unwrap();
    path
}

fn sweep(scenario: &Path, out: &Path, extra: &[&str]) -> std::process::Output {
    let mut cmd = bin();
    cmd.arg("sweep")
        .arg(scenario)
        .arg("--out")
        .arg(out)
        .arg("--quiet")
        .args(extra);
    output_within(cmd, Duration::from_secs(300))
}

/// Every file of a report directory, by name.
fn files(dir: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().into_string().unwrap(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// A point's mean of `metric`.
fn mean(point: &serde_json::Value, metric: &str) -> f64 {
    point["estimates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["metric"] == metric)
        .unwrap_or_else(|| panic!("no {metric} in {point}"))["mean"]
        .as_f64()
        .unwrap()
}

#[test]
fn raising_the_trip_threshold_past_the_failure_rate_stops_ejections_and_costs_success() {
    let dir = temp_dir("sweep-tradeoff");
    let scenario = flapping(&dir);
    let thresholds = [0.1, 0.15, 0.4, 0.6, 0.8];
    let o = sweep(
        &scenario,
        &dir.join("out"),
        &[
            "--policy",
            "base",
            "--vary",
            "trip.failure_rate=0.1,0.15,0.4,0.6,0.8",
            "--seeds",
            "2",
        ],
    );
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}\n{err}");
    // One parameter: a line chart per objective instead of heatmaps.
    let written = files(&dir.join("out"));
    for chart in ["line_success_rate.svg", "line_ttv_p99.png", "pareto.svg"] {
        assert!(written.contains_key(chart), "no {chart}");
    }
    assert!(!written.keys().any(|k| k.starts_with("heatmap_")));
    let s = json(&dir.join("out/sweep.json"));
    let points = s["points"].as_array().unwrap();
    assert_eq!(points.len(), thresholds.len());
    let ejections: Vec<f64> = points.iter().map(|p| mean(p, "ejections")).collect();
    let success: Vec<f64> = points.iter().map(|p| mean(p, "success_rate")).collect();
    // Below the provider's failure rate the route is ejected; above it, never.
    assert!(ejections[0] > 0.0 && ejections[1] > 0.0, "{ejections:?}");
    assert_eq!(&ejections[2..], &[0.0, 0.0, 0.0], "{ejections:?}");
    // Ejecting it saves verifications: success falls as the threshold rises past 0.25 ...
    assert!(success[0] > success[2] + 0.01, "{success:?}");
    assert!(success[1] > success[2] + 0.01, "{success:?}");
    // ... and every threshold that never trips is the same policy in effect: on the same
    // seeds (common random numbers) their results are identical, not merely close.
    assert_eq!(points[2]["estimates"], points[3]["estimates"]);
    assert_eq!(points[2]["estimates"], points[4]["estimates"]);
    // The recommendation (success first) is an ejecting threshold, and on the frontier.
    let rec = &s["recommendation"];
    assert_eq!(rec["kind"], "point", "{rec}");
    let best = rec["point"].as_u64().unwrap() as usize;
    assert!(best <= 1, "{rec}");
    assert_eq!(points[best]["frontier"], true);
    // Points 3 and 4 equal point 2 exactly, so all three are on the frontier or none is.
    assert_eq!(points[2]["frontier"], points[3]["frontier"]);
}

#[test]
fn a_sweep_is_byte_identical_on_one_and_two_threads() {
    let dir = temp_dir("sweep-threads");
    let scenario = flapping(&dir);
    let args = [
        "--policy",
        "base",
        "--vary",
        "trip.failure_rate=0.1,0.4",
        "--vary",
        "ejection.base=10s,1m",
        "--seeds",
        "2",
    ];
    let mut outputs = Vec::new();
    for threads in ["1", "2"] {
        let out = dir.join(format!("out-{threads}"));
        let mut a = args.to_vec();
        a.extend(["--threads", threads]);
        let o = sweep(&scenario, &out, &a);
        assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
        outputs.push(files(&out));
    }
    // Every file, charts and page included, not only the data.
    let names: Vec<&String> = outputs[0].keys().collect();
    for expected in [
        "sweep.json",
        "sweep.csv",
        "index.html",
        "heatmap_success_rate.svg",
        "heatmap_success_rate.png",
        "heatmap_flaps.svg",
        "pareto.svg",
        "pareto.png",
    ] {
        assert!(
            outputs[0].contains_key(expected),
            "no {expected} in {names:?}"
        );
    }
    assert_eq!(
        outputs[0].keys().collect::<Vec<_>>(),
        outputs[1].keys().collect::<Vec<_>>()
    );
    for (name, bytes) in &outputs[0] {
        assert!(
            bytes == &outputs[1][name],
            "{name} differs between 1 and 2 threads"
        );
    }
}

#[test]
fn the_sweep_table_is_used_and_flags_replace_it() {
    let dir = temp_dir("sweep-table");
    let text_with_table = format!(
        "{}\n[sweep]\npolicy = \"base\"\nvary = [\"ejection.base=10s,20s\"]\nseeds = 2\n\
         constraints = [\"success_rate >= 0.5\"]\n",
        scenario("8m", "10/s", FLAPPING)
    );
    let path = dir.join("table.toml");
    std::fs::write(&path, text_with_table).unwrap();
    let o = sweep(&path, &dir.join("a"), &[]);
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
    let s = json(&dir.join("a/sweep.json"));
    assert_eq!(s["parameters"][0]["path"], "ejection.base");
    assert_eq!(s["seeds"].as_array().unwrap().len(), 2);
    assert_eq!(s["constraints"][0]["metric"], "success_rate");
    // A --vary replaces the table's dimensions; --seeds its seeds.
    let o = sweep(
        &path,
        &dir.join("b"),
        &["--vary", "probe.share=0.05,0.1,0.2", "--seeds", "1"],
    );
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
    let s = json(&dir.join("b/sweep.json"));
    assert_eq!(s["parameters"].as_array().unwrap().len(), 1);
    assert_eq!(s["parameters"][0]["path"], "probe.share");
    assert_eq!(s["points"].as_array().unwrap().len(), 3);
    assert_eq!(s["seeds"].as_array().unwrap().len(), 1);
}

#[test]
fn a_bad_sweep_table_is_reported_by_validate_where_it_is() {
    let dir = temp_dir("sweep-validate");
    let text = format!(
        "{}\n[sweep]\nvary = [\"trip.failur_rate=0.1,0.2\"]\nobjectives = [\"sucess_rate\"]\n",
        scenario("8m", "10/s", FLAPPING)
    );
    let path = dir.join("bad.toml");
    std::fs::write(&path, &text).unwrap();
    let o = bin().arg("validate").arg(&path).output().unwrap();
    let (_, err) = crate::cli::text(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    let line = |needle: &str| text.lines().position(|l| l.contains(needle)).unwrap() + 1;
    let at = format!("{}:{}:", path.display(), line("trip.failur_rate"));
    assert!(
        err.lines()
            .any(|l| l.starts_with(&at) && l.contains("did you mean \"trip.failure_rate\"")),
        "{err}"
    );
    assert!(err.contains("did you mean \"success_rate\""), "{err}");
}

#[test]
fn invalid_sweeps_are_refused_before_anything_runs_with_every_problem() {
    let dir = temp_dir("sweep-invalid");
    let scenario = flapping(&dir);
    let out = dir.join("out");
    let refuse = |extra: &[&str], expect: &[&str]| {
        let o = sweep(&scenario, &out, extra);
        let (_, err) = text(&o);
        assert_eq!(o.status.code(), Some(2), "{extra:?}: {err}");
        for e in expect {
            assert!(err.contains(e), "{extra:?}: wanted {e:?} in:\n{err}");
        }
        assert!(!out.exists(), "{extra:?}: something was written");
    };
    refuse(
        &["--vary", "trip.failur_rate=0.1,0.2"],
        &["did you mean \"trip.failure_rate\""],
    );
    // Every invalid combination at once: recovery must stay below the trip threshold.
    refuse(
        &[
            "--policy",
            "base",
            "--vary",
            "trip.failure_rate=0.3,0.5",
            "--vary",
            "probe.recover_failure_rate=0.1,0.4,0.6",
        ],
        &[
            "3 of 6 sweep points are not valid policies",
            "trip.failure_rate=0.3, probe.recover_failure_rate=0.4",
            "trip.failure_rate=0.3, probe.recover_failure_rate=0.6",
            "trip.failure_rate=0.5, probe.recover_failure_rate=0.6",
        ],
    );
    refuse(
        &["--vary", "ejection.base=10s", "--policy", "bse"],
        &["did you mean \"base\""],
    );
    refuse(
        &[
            "--vary",
            "ejection.base=10s",
            "--objective",
            "flaps",
            "--objective",
            "flaps",
        ],
        &["given twice"],
    );
    refuse(
        &[
            "--vary",
            "ejection.base=10s",
            "--constraint",
            "success_rat>=0.9",
        ],
        &["did you mean \"success_rate\""],
    );
    refuse(&[], &["nothing to sweep"]);
    refuse(
        &["--vary", "ejection.base=10s", "--seeds", "0"],
        &["--seeds 0"],
    );
}

#[test]
fn run_set_runs_the_policy_a_sweep_recommends() {
    let dir = temp_dir("sweep-set");
    let scenario = flapping(&dir);
    let mut cmd = bin();
    cmd.arg("run")
        .arg(&scenario)
        .args([
            "--policy",
            "base",
            "--set",
            "trip.failure_rate=0.1",
            "--quiet",
        ])
        .arg("--out")
        .arg(dir.join("run"));
    let o = output_within(cmd, Duration::from_secs(120));
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
    let run = json(&dir.join("run/summary.json"));
    assert_eq!(run["policies"][0]["name"], "base [trip.failure_rate=0.1]");
    // The same policy and seed as the sweep's point 0 on one seed: the same numbers.
    let o = sweep(
        &scenario,
        &dir.join("sweep"),
        &[
            "--policy",
            "base",
            "--vary",
            "trip.failure_rate=0.1,0.4",
            "--seeds",
            "1",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
    let s = json(&dir.join("sweep/sweep.json"));
    assert_eq!(
        run["policies"][0]["metrics"]["success_rate"]
            .as_f64()
            .unwrap(),
        mean(&s["points"][0], "success_rate")
    );
    // --set takes one value, and the policy must stay valid.
    for (set, expect) in [
        ("trip.failure_rate=0.1,0.2", "give one value"),
        ("trip.failure_rate=0.01", "recover_failure_rate"),
    ] {
        let o = bin()
            .arg("run")
            .arg(&scenario)
            .args(["--set", set, "--quiet"])
            .arg("--out")
            .arg(dir.join("never"))
            .output()
            .unwrap();
        let (_, err) = text(&o);
        assert_eq!(o.status.code(), Some(2), "{set}: {err}");
        assert!(err.contains(expect), "{set}: {err}");
    }
}

#[test]
fn a_latin_hypercube_and_an_unmeetable_constraint_run_end_to_end() {
    let dir = temp_dir("sweep-lhs");
    let scenario = flapping(&dir);
    let out = dir.join("out");
    let o = sweep(
        &scenario,
        &out,
        &[
            "--policy",
            "base",
            "--vary",
            "trip.failure_rate=0.1..0.6:6",
            "--vary",
            "ejection.base=10s..5m:5",
            "--vary",
            "probe.share=log:0.01..0.2:4",
            "--samples",
            "6",
            "--seeds",
            "2",
            "--constraint",
            "time_to_verify.p99<1ms",
            "--constraint",
            "success_rate>=0.5",
        ],
    );
    let (stdout, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{stdout}\n{err}");
    let s = json(&out.join("sweep.json"));
    assert_eq!(s["design"]["kind"], "latin_hypercube");
    assert_eq!(s["points"].as_array().unwrap().len(), 6);
    // Every stratum of the first dimension holds one point: six draws in six tenths.
    let mut strata: Vec<u64> = s["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| ((p["values"][0].as_f64().unwrap() - 0.1) / 0.5 * 6.0).floor() as u64)
        .collect();
    strata.sort_unstable();
    assert_eq!(strata, [0, 1, 2, 3, 4, 5]);
    // Scattered points, not a grid: scatter charts instead of heatmaps.
    let written = files(&out);
    assert!(
        written.contains_key("scatter_success_rate.svg"),
        "{:?}",
        written.keys()
    );
    assert!(!written.keys().any(|k| k.starts_with("heatmap_")));
    // No point meets the constraint: said on the terminal and in the file, and not a failure.
    assert_eq!(
        s["recommendation"]["kind"], "no_feasible",
        "{}",
        s["recommendation"]
    );
    assert_eq!(s["recommendation"]["binding"], 0);
    assert_eq!(s["recommendation"]["misses"][0]["violated_by"], 6);
    assert_eq!(s["recommendation"]["misses"][1]["violated_by"], 0);
    let page = String::from_utf8(written["index.html"].clone()).unwrap();
    assert!(
        page.contains("every point meets it"),
        "the met constraint is not said"
    );
    assert!(!stdout.contains("failover-lab run"), "{stdout}");
}

/// Provider limits are sweepable policy fields (issue 17): the values reach the router. With
/// one attempt in flight allowed on `a` (the priority route, the cheapest) nearly all traffic
/// overflows to the dearer `b` and `c`, so cost per success rises against a limit that never
/// binds. A limit naming no provider of the scenario is refused before anything runs.
#[test]
fn a_provider_limit_is_swept_and_reaches_the_router() {
    let dir = temp_dir("sweep-limits");
    let path = dir.join("limits.toml");
    let policy = "[policies.base]\nstrategy = \"priority\"\n";
    std::fs::write(&path, scenario("2m", "5/s", policy)).unwrap();
    let o = sweep(
        &path,
        &dir.join("out"),
        &["--vary", "limits.a.max_in_flight=1,1000", "--seeds", "2"],
    );
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}\n{err}");
    let s = json(&dir.join("out/sweep.json"));
    let points = s["points"].as_array().unwrap();
    assert_eq!(points.len(), 2);
    let cost: Vec<f64> = points.iter().map(|p| mean(p, "cost_per_success")).collect();
    // a costs 0.07, b 0.072, c 0.075 an attempt (failovers add to each).
    assert!(cost[0] > cost[1] + 0.001, "{cost:?}");
    let o = sweep(
        &path,
        &dir.join("bad"),
        &["--vary", "limits.atlas.max_in_flight=1,2", "--seeds", "2"],
    );
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{out}\n{err}");
    assert!(err.contains("unknown provider \"atlas\""), "{err}");
    assert!(!dir.join("bad").exists());
}
