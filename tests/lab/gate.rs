//! `failover-lab gate` and `baseline save` end to end: regressions found with their numbers,
//! unchanged policies never flagged, expectations per operator and unit, stale and missing
//! baselines, and the CI outputs.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::world::scenario;

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_failover-lab"));
    // A developer's shell may have it set; the tests decide where the summary goes.
    c.env_remove("GITHUB_STEP_SUMMARY");
    c
}

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("failover-lab-gate-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn text(o: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Provider `a` (the first choice) black-holes its traffic from 40 s to 100 s.
const OUTAGE: &str = r#"
[[faults]]
name = "a-down"
kind = "outage"
mode = "black_hole"
start = "40s"
duration = "60s"
[faults.target]
provider = "a"
"#;

/// Ejects fast: the policy a team would ship.
const EJECTS: &str = r#"
strategy = "priority"
attempt_timeout = "8s"
[trip]
consecutive_failures = 3
"#;

/// Never ejects anything: every verification keeps trying `a` first during the outage.
const NEVER_EJECTS: &str = r#"
strategy = "priority"
attempt_timeout = "8s"
[ejection]
max_ejected_share = 0.0
"#;

/// A scenario file with one policy `name` (its settings inline), the outage and `extra`.
fn write_scenario(dir: &Path, seed: u64, name: &str, policy: &str, extra: &str) -> PathBuf {
    let mut policy_table = String::new();
    let mut section = format!("policies.{name}");
    policy_table.push_str(&format!("[{section}]\n"));
    for line in policy.lines().filter(|l| !l.trim().is_empty()) {
        if let Some(sub) = line.strip_prefix('[') {
            section = format!("policies.{name}.{}", sub.trim_end_matches(']'));
            policy_table.push_str(&format!("[{section}]\n"));
        } else {
            policy_table.push_str(line);
            policy_table.push('\n');
        }
    }
    let text = scenario("3m", "10/s", &format!("{OUTAGE}\n{policy_table}\n{extra}")).replacen(
        "name = \"test\"",
        &format!("name = \"gated\"\nseed = {seed}"),
        1,
    );
    let path = dir.join("gated.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn save(dir: &Path, scenario: &Path, seeds: u32) -> Output {
    bin()
        .args(["baseline", "save", "--quiet", "--seeds", &seeds.to_string()])
        .arg(scenario)
        .arg("--dir")
        .arg(dir.join("baselines"))
        .output()
        .unwrap()
}

fn gate(dir: &Path, scenario: &Path, extra: &[&str]) -> Output {
    bin()
        .args(["gate", "--quiet"])
        .arg(scenario)
        .arg("--baseline")
        .arg(dir.join("baselines"))
        .args(extra)
        .output()
        .unwrap()
}

/// The gate's check lines with this status.
fn lines_with<'a>(out: &'a str, status: &str) -> Vec<&'a str> {
    out.lines()
        .filter(|l| l.trim_start().starts_with(status))
        .collect()
}

#[test]
fn a_policy_that_stops_ejecting_fails_the_gate_with_its_numbers() {
    let dir = temp_dir("worse");
    let s = write_scenario(&dir, 1, "prod", EJECTS, "");
    let o = save(&dir, &s, 6);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(dir.join("baselines/gated.json").is_file());

    // The pull request: trips disabled on the same policy.
    write_scenario(&dir, 1, "prod", NEVER_EJECTS, "");
    let o = gate(&dir, &s, &[]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(3), "{out}");
    let regressed = lines_with(&out, "REGRESSED");
    let ttv = regressed
        .iter()
        .find(|l| l.contains("time_to_verify.p99"))
        .unwrap_or_else(|| panic!("TTV p99 should regress:\n{out}"));
    // Both values, the difference and its interval are on the line.
    assert!(ttv.contains("prod"), "{ttv}");
    assert!(ttv.contains("baseline"), "{ttv}");
    assert!(ttv.contains('[') && ttv.contains(']'), "{ttv}");
    assert!(out.contains("regressed"), "{out}");
}

#[test]
fn a_policy_that_starts_ejecting_is_reported_improved_and_passes() {
    let dir = temp_dir("better");
    let s = write_scenario(&dir, 2, "prod", NEVER_EJECTS, "");
    assert_eq!(save(&dir, &s, 6).status.code(), Some(0));
    write_scenario(&dir, 2, "prod", EJECTS, "");
    let o = gate(&dir, &s, &[]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(
        lines_with(&out, "IMPROVED")
            .iter()
            .any(|l| l.contains("time_to_verify.p99")),
        "{out}"
    );
    assert!(lines_with(&out, "REGRESSED").is_empty(), "{out}");
}

#[test]
fn an_unchanged_policy_passes_on_every_one_of_20_base_seeds() {
    // Renamed, and written out differently (defaults spelt out), but the same settings: the
    // gate must find its baseline and see exactly no difference, on every world.
    let dir = temp_dir("a-a");
    for seed in 1..=20 {
        let s = write_scenario(&dir, seed, "prod", EJECTS, "");
        let o = save(&dir, &s, 3);
        assert_eq!(o.status.code(), Some(0), "seed {seed}: {}", text(&o));
        let same = format!("max_attempts = 3\n{EJECTS}");
        write_scenario(&dir, seed, "prod-v2", &same, "");
        let o = gate(&dir, &s, &[]);
        let out = text(&o);
        assert_eq!(o.status.code(), Some(0), "seed {seed}: {out}");
        assert!(out.contains("renamed"), "seed {seed}: {out}");
        let checks: Vec<&str> = out
            .lines()
            .filter(|l| {
                ["PASS", "FAIL", "REGRESSED", "IMPROVED", "SKIPPED"]
                    .iter()
                    .any(|s| l.trim_start().starts_with(s))
            })
            .collect();
        assert_eq!(checks.len(), 3, "seed {seed}: {out}");
        assert!(
            checks.iter().all(|l| l.trim_start().starts_with("PASS")),
            "seed {seed}: {out}"
        );
    }
}

#[test]
fn expectations_are_checked_per_operator_and_unit() {
    let dir = temp_dir("expect");
    let expect = r#"
[[expect]]
metric = "success_rate"
threshold = ">= 90%"

[[expect]]
metric = "time_to_verify.p50"
threshold = "< 30s"

[[expect]]
metric = "faults.a-down.detection_delay"
threshold = "<= 30s"

[[expect]]
metric = "faults.a-down.failed_during_fault"
policy = "prod"
threshold = "<= 5"

[[expect]]
metric = "attempts_per_verification"
threshold = "> 5"
"#;
    let s = write_scenario(&dir, 3, "prod", EJECTS, expect);
    let o = bin()
        .args(["gate", "--quiet", "--seeds", "2"])
        .arg(&s)
        .output()
        .unwrap();
    let out = text(&o);
    assert_eq!(o.status.code(), Some(3), "{out}");
    let pass = lines_with(&out, "PASS");
    let fail = lines_with(&out, "FAIL");
    assert!(
        pass.iter().any(|l| l.contains("success_rate >= 90%")),
        "{out}"
    );
    assert!(
        pass.iter().any(|l| l.contains("time_to_verify.p50 < 30s")),
        "{out}"
    );
    assert!(
        pass.iter()
            .any(|l| l.contains("faults.a-down.detection_delay <= 30s")),
        "{out}"
    );
    assert!(
        pass.iter()
            .any(|l| l.contains("faults.a-down.failed_during_fault <= 5")),
        "{out}"
    );
    // Impossible on purpose: more than five attempts per verification.
    assert!(
        fail.iter()
            .any(|l| l.contains("attempts_per_verification > 5")),
        "{out}"
    );
    assert_eq!(pass.len() + fail.len(), 5, "{out}");
    // Without --baseline the regression part is not asked for: the header says so, and there
    // is nothing to warn about.
    assert!(out.contains("regressions not checked"), "{out}");
    assert!(!out.contains("warning"), "{out}");
}

#[test]
fn an_unknown_metric_is_invalid_input_at_its_line_and_column() {
    let dir = temp_dir("unknown-metric");
    let s = write_scenario(
        &dir,
        1,
        "prod",
        EJECTS,
        "[[expect]]\nmetric = \"time_to_verfy.p99\"\nthreshold = \"< 20s\"\n",
    );
    let o = bin().args(["gate", "--quiet"]).arg(&s).output().unwrap();
    let out = text(&o);
    assert_eq!(o.status.code(), Some(2), "{out}");
    let file_text = std::fs::read_to_string(&s).unwrap();
    let line = file_text.lines().position(|l| l.contains("verfy")).unwrap() + 1;
    assert!(
        out.contains(&format!("gated.toml:{line}:10: expect[0].metric")),
        "{out}"
    );
    assert!(out.contains("did you mean \"time_to_verify.p99\""), "{out}");
    // validate and run reject it alike.
    let o = bin().arg("validate").arg(&s).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
    // A bad --tolerance names the flag.
    let s = write_scenario(&dir, 1, "prod", EJECTS, "");
    let o = gate(&dir, &s, &["--tolerance", "succes_rate=1pp"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("--tolerance"), "{}", text(&o));
}

#[test]
fn missing_and_stale_baselines_warn_and_strict_mode_refuses() {
    let dir = temp_dir("baseline-states");
    let s = write_scenario(&dir, 4, "prod", EJECTS, "");
    // Missing: a warning, never a silent pass of the regression part.
    let o = gate(&dir, &s, &["--seeds", "2"]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(out.contains("no baseline"), "{out}");
    assert!(out.contains("baseline save"), "{out}");

    assert_eq!(save(&dir, &s, 3).status.code(), Some(0));
    // The world changes (more traffic): the baseline is stale.
    let changed = std::fs::read_to_string(&s)
        .unwrap()
        .replace("rate = \"10/s\"", "rate = \"12/s\"");
    std::fs::write(&s, changed).unwrap();
    let o = gate(&dir, &s, &[]);
    let out = text(&o);
    assert!(out.contains("stale baseline"), "{out}");
    assert_ne!(o.status.code(), Some(2), "{out}");
    let o = gate(&dir, &s, &["--strict-baseline"]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(2), "{out}");
    assert!(out.contains("stale baseline"), "{out}");
    // Refused before running: no check line at all.
    assert!(lines_with(&out, "PASS").is_empty(), "{out}");

    // A policy change alone does not make a baseline stale.
    let s = write_scenario(&dir, 4, "prod", NEVER_EJECTS, "");
    assert_eq!(save(&dir, &s, 3).status.code(), Some(0));
    write_scenario(&dir, 4, "prod", EJECTS, "");
    let o = gate(&dir, &s, &["--strict-baseline"]);
    assert!(!text(&o).contains("stale"), "{}", text(&o));
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));

    // A corrupt baseline is invalid input, and its content is not echoed.
    std::fs::write(dir.join("baselines/gated.json"), "{\"token\": \"hunter2\"").unwrap();
    let o = gate(&dir, &s, &[]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("gated.json"), "{}", text(&o));
    assert!(!text(&o).contains("hunter2"), "{}", text(&o));
}

#[test]
fn junit_and_markdown_are_written_and_the_step_summary_appended() {
    let dir = temp_dir("outputs");
    let expect = "[[expect]]\nmetric = \"attempts_per_verification\"\nthreshold = \"> 5\"\n";
    let s = write_scenario(&dir, 5, "prod", EJECTS, expect);
    assert_eq!(save(&dir, &s, 2).status.code(), Some(0));
    let summary = dir.join("step-summary.md");
    std::fs::write(&summary, "earlier step\n").unwrap();
    let o = gate(
        &dir,
        &s,
        &[
            "--junit",
            dir.join("ci/gate.xml").to_str().unwrap(),
            "--markdown",
            dir.join("ci/gate.md").to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    // Written by a run with GITHUB_STEP_SUMMARY too.
    let o2 = bin()
        .args(["gate", "--quiet"])
        .arg(&s)
        .arg("--baseline")
        .arg(dir.join("baselines"))
        .env("GITHUB_STEP_SUMMARY", &summary)
        .output()
        .unwrap();
    assert_eq!(o2.status.code(), Some(3));

    let xml = std::fs::read_to_string(dir.join("ci/gate.xml")).unwrap();
    let report = quick_junit::Report::deserialize_from_str(&xml).expect("valid JUnit XML");
    // One expectation, and the three default regression metrics plus the expectation's for
    // one policy; the expectation fails.
    assert_eq!(report.tests, 5, "{xml}");
    assert_eq!(report.failures, 1, "{xml}");
    let md = std::fs::read_to_string(dir.join("ci/gate.md")).unwrap();
    assert!(md.contains("attempts_per_verification"), "{md}");
    let appended = std::fs::read_to_string(&summary).unwrap();
    assert!(appended.starts_with("earlier step\n"), "{appended}");
    assert!(appended.ends_with(&md), "{appended}");
}
