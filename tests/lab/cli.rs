//! The command line end to end: the binary as a user runs it.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::world::scenario;

pub(crate) fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_failover-lab"))
}

pub(crate) fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("failover-lab-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Runs `cmd`, killing it (and failing) if it has not exited within `limit`: a hang or a
/// blow-up is a failure, not a stuck test. Both pipes are drained meanwhile, so a flood of
/// output cannot block the child.
pub(crate) fn output_within(mut cmd: Command, limit: Duration) -> Output {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let drain = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = r.read_to_end(&mut v);
            v
        })
    };
    let stdout = drain(Box::new(child.stdout.take().unwrap()));
    let stderr = drain(Box::new(child.stderr.take().unwrap()));
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > limit {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!(
                "still running after {limit:?}: {cmd:?}\n{}",
                String::from_utf8_lossy(&stderr.join().unwrap())
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    }
}

pub(crate) fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

const POLICIES: &str = r#"
[policies.score]
attempt_timeout = "10s"
[policies.static]
strategy = "priority"
max_attempts = 1
[policies.static.ejection]
max_ejected_share = 0.0
[[faults]]
name = "a-down"
kind = "outage"
mode = "black_hole"
start = "40s"
duration = "40s"
[faults.target]
provider = "a"
"#;

fn small_scenario(dir: &Path) -> PathBuf {
    let path = dir.join("small.toml");
    std::fs::write(&path, scenario("2m", "10/s", POLICIES)).unwrap();
    path
}

fn run(dir: &Path, extra: &[&str]) -> Output {
    let scenario = small_scenario(dir);
    bin()
        .arg("run")
        .arg(&scenario)
        .arg("--out")
        .arg(dir.join("out"))
        .args(extra)
        .output()
        .unwrap()
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

#[test]
fn run_writes_every_result_file_and_prints_the_tables() {
    let dir = temp_dir("run");
    let o = run(&dir, &["--audit"]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}\n{err}");
    for f in [
        "summary.json",
        "summary.csv",
        "timeseries.csv",
        "routes.csv",
        "route_states.csv",
        "faults.csv",
        "audit.jsonl",
    ] {
        assert!(dir.join("out").join(f).is_file(), "{f} missing");
    }
    assert!(out.contains("policy") && out.contains("success") && out.contains("cost/success"));
    assert!(out.contains("fault impact") && out.contains("a-down"));
    assert!(out.contains(&format!("report: {}", dir.join("out/index.html").display())));
    for chart in [
        "success_rate",
        "provider_share",
        "ttv_percentiles",
        "route_states",
        "cost_vs_success",
    ] {
        for ext in ["svg", "png"] {
            let f = dir.join("out").join(format!("{chart}.{ext}"));
            assert!(f.is_file(), "{} missing", f.display());
        }
    }
    assert!(
        std::fs::read_to_string(dir.join("out/index.html"))
            .unwrap()
            .contains("<svg")
    );

    let s = json(&dir.join("out/summary.json"));
    assert_eq!(s["format_version"], 2);
    // A single seed: no replications, comparisons or experiment section.
    assert!(s.get("replications").is_none() && s.get("comparisons").is_none());
    assert!(s.get("experiment").is_none());
    assert_eq!(s["scenario"]["name"], "test");
    assert_eq!(s["scenario"]["hash"].as_str().unwrap().len(), 16);
    assert_eq!(s["seed"], 1);
    let p = &s["policies"][0];
    assert_eq!(p["name"], "score");
    for k in [
        "verifications",
        "success_rate",
        "conversion_rate",
        "attempts_per_verification",
        "failover_rate",
        "cost_total",
        "cost_per_success",
        "duplicate_deliveries",
        "ejections",
        "flaps",
    ] {
        assert!(p["metrics"].get(k).is_some(), "metrics.{k} missing");
    }
    for k in ["p50", "p90", "p99", "p999", "max"] {
        assert!(
            p["metrics"]["time_to_verify"].get(k).is_some(),
            "ttv {k} missing"
        );
    }
    for k in ["detection_delay", "recovery_delay", "failed_during_fault"] {
        assert!(p["faults"][0].get(k).is_some(), "faults.{k} missing");
    }
    assert!(p["routes"][0].get("time_ejected").is_some());
    assert!(!p["ttv_histogram"].as_str().unwrap().is_empty());
    for k in [
        "wall_seconds",
        "verifications_per_second",
        "simulated_verifications",
    ] {
        assert!(s["run"].get(k).is_some(), "run.{k} missing");
    }

    // The audit trail: one JSON object per line, every policy, no destination in clear.
    let audit = std::fs::read_to_string(dir.join("out/audit.jsonl")).unwrap();
    let first: serde_json::Value = serde_json::from_str(audit.lines().next().unwrap()).unwrap();
    assert_eq!(first["policy"], "score");
    assert!(audit.lines().any(|l| l.contains("\"policy\":\"static\"")));
    assert!(audit.contains("+DE******00"));
    assert!(!audit.contains("DE0000000000"), "a destination in clear");
    // No temporary files left behind.
    for e in std::fs::read_dir(dir.join("out")).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        assert!(!name.starts_with('.'), "left over: {name}");
    }
}

#[test]
fn the_same_seed_gives_byte_identical_summaries_apart_from_run() {
    let dir = temp_dir("det");
    let strip = |mut v: serde_json::Value| {
        v.as_object_mut().unwrap().remove("run");
        serde_json::to_string(&v).unwrap()
    };
    assert_eq!(
        run(&dir, &["--quiet", "--threads", "1"]).status.code(),
        Some(0)
    );
    let a = std::fs::read(dir.join("out/summary.json")).unwrap();
    let csv_a = std::fs::read(dir.join("out/timeseries.csv")).unwrap();
    assert_eq!(
        run(&dir, &["--quiet", "--threads", "2"]).status.code(),
        Some(0)
    );
    let b = std::fs::read(dir.join("out/summary.json")).unwrap();
    let csv_b = std::fs::read(dir.join("out/timeseries.csv")).unwrap();
    assert_eq!(
        strip(serde_json::from_slice(&a).unwrap()),
        strip(serde_json::from_slice(&b).unwrap())
    );
    assert_eq!(csv_a, csv_b);
    assert_eq!(
        run(&dir, &["--quiet", "--seed", "2"]).status.code(),
        Some(0)
    );
    let c = std::fs::read(dir.join("out/summary.json")).unwrap();
    assert_ne!(
        strip(serde_json::from_slice(&a).unwrap()),
        strip(serde_json::from_slice(&c).unwrap())
    );
}

#[test]
fn csv_and_json_agree() {
    let dir = temp_dir("agree");
    assert_eq!(run(&dir, &["--quiet"]).status.code(), Some(0));
    let s = json(&dir.join("out/summary.json"));
    let mut rows = csv::Reader::from_path(dir.join("out/summary.csv")).unwrap();
    let header = rows.headers().unwrap().clone();
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    for (row, p) in rows.records().zip(s["policies"].as_array().unwrap()) {
        let row = row.unwrap();
        assert_eq!(&row[col("policy")], p["name"].as_str().unwrap());
        let m = &p["metrics"];
        for k in [
            "success_rate",
            "conversion_rate",
            "cost_total",
            "failover_rate",
        ] {
            let from_csv: f64 = row[col(k)].parse().unwrap();
            assert_eq!(from_csv, m[k].as_f64().unwrap(), "{k}");
        }
        assert_eq!(
            row[col("verifications")].parse::<u64>().unwrap(),
            m["verifications"].as_u64().unwrap()
        );
        let p50: f64 = row[col("ttv_p50")].parse().unwrap();
        assert_eq!(p50, m["time_to_verify"]["p50"].as_f64().unwrap());
    }
    let mut routes = csv::Reader::from_path(dir.join("out/routes.csv")).unwrap();
    let attempts: u64 = routes
        .records()
        .map(|r| r.unwrap()[5].parse::<u64>().unwrap())
        .sum();
    let from_json: u64 = s["policies"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["routes"].as_array().unwrap().iter())
        .map(|r| r["attempts"].as_u64().unwrap())
        .sum();
    assert_eq!(attempts, from_json);
}

#[test]
fn an_unknown_policy_is_invalid_input_with_a_suggestion() {
    let dir = temp_dir("policy");
    let o = run(&dir, &["--policy", "scor"]);
    let (_, err) = text(&o);
    assert_eq!(o.status.code(), Some(2));
    assert!(err.contains("did you mean \"score\""), "{err}");
}

#[test]
fn bad_flags_are_invalid_input() {
    let o = bin().args(["run", "--no-such-flag"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
}

/// Writes `text` (a valid scenario with one edit), validates it, and checks the reported
/// position and message.
fn check_invalid(name: &str, text: &str, line: usize, col: usize, expect: &str) {
    let dir = temp_dir(name);
    let path = dir.join("bad.toml");
    std::fs::write(&path, text).unwrap();
    let o = bin().arg("validate").arg(&path).output().unwrap();
    let (_, err) = text_of(&o);
    assert_eq!(o.status.code(), Some(2), "{name}: {err}");
    let prefix = format!("{}:{line}:{col}: ", path.display());
    assert!(
        err.lines()
            .any(|l| l.starts_with(&prefix) && l.contains(expect)),
        "{name}: wanted `{prefix}...{expect}...` in:\n{err}"
    );
}

fn text_of(o: &Output) -> (String, String) {
    text(o)
}

/// The valid base text and the 1-based line of its first occurrence of `needle`.
fn line_of(text: &str, needle: &str) -> usize {
    text.lines().position(|l| l.contains(needle)).unwrap() + 1
}

fn base() -> String {
    scenario("2m", "10/s", "[policies.default]")
}

#[test]
fn validate_accepts_good_files() {
    let dir = temp_dir("ok");
    let path = small_scenario(&dir);
    let o = bin()
        .arg("validate")
        .arg(&path)
        .arg("scenarios/demo.toml")
        .output()
        .unwrap();
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}{err}");
    assert!(out.contains("ok (2 policies"));
}

#[test]
fn validate_reports_syntax_errors_where_they_are() {
    let t = base().replace("duration = \"2m\"", "duration = \"2m");
    let l = line_of(&t, "duration = ");
    check_invalid("syntax", &t, l, 15, "invalid basic string");
}

#[test]
fn validate_reports_unknown_fields_where_they_are() {
    let t = base().replace("loss = 0.01", "los = 0.01");
    check_invalid(
        "unknown",
        &t,
        line_of(&t, "los = 0.01"),
        1,
        "unknown field `los`",
    );
}

#[test]
fn validate_reports_wrong_types_where_they_are() {
    let t = base().replace("cost = 0.072", "cost = \"cheap\"");
    check_invalid(
        "type",
        &t,
        line_of(&t, "cost = \"cheap\""),
        8,
        "invalid type",
    );
}

#[test]
fn validate_reports_dangling_references_with_a_suggestion() {
    let t = base().replacen("provider = \"b\"", "provider = \"bb\"", 1);
    check_invalid(
        "dangling",
        &t,
        line_of(&t, "provider = \"bb\""),
        12,
        "did you mean \"b\"",
    );
}

#[test]
fn validate_reports_impossible_distribution_parameters() {
    let t = base().replace(
        "median = \"3s\", p99 = \"15s\"",
        "median = \"3s\", p99 = \"2s\"",
    );
    let l = line_of(&t, "p99 = \"2s\"");
    let col = t.lines().nth(l - 1).unwrap().find("\"2s\"").unwrap() + 1;
    check_invalid("dist", &t, l, col, "p99: 2s must be longer than median");
}

#[test]
fn validate_reports_fault_windows_out_of_range() {
    let t = format!(
        "{}\n[[faults]]\nkind = \"outage\"\nmode = \"error\"\nstart = \"5m\"\nduration = \"1m\"\n[faults.target]\nprovider = \"a\"\n",
        base()
    );
    check_invalid(
        "window",
        &t,
        line_of(&t, "start = \"5m\""),
        9,
        "faults[0].start: 5m is not before the end",
    );
}

#[test]
fn validate_reports_the_same_fault_twice_at_once() {
    let fault = "\n[[faults]]\nkind = \"outage\"\nmode = \"error\"\nstart = \"10s\"\nduration = \"30s\"\n[faults.target]\nprovider = \"a\"\n";
    let t = format!("{}{fault}{}", base(), fault.replace("\"10s\"", "\"20s\""));
    let l = t
        .lines()
        .position(|l| l.contains("start = \"20s\""))
        .unwrap()
        + 1;
    check_invalid("overlap", &t, l, 9, "overlaps faults[0]");
}

#[test]
fn validate_reports_non_positive_rates() {
    let t = base().replace("rate = \"10/s\"", "rate = \"0/s\"");
    check_invalid(
        "rate",
        &t,
        line_of(&t, "rate = \"0/s\""),
        8,
        "must be greater than 0",
    );
}

#[test]
fn validate_reports_a_caller_timeout_of_zero_where_it_is() {
    let t = base().replace(
        "rate = \"10/s\"",
        "rate = \"10/s\"\ncaller_timeout = \"0s\"",
    );
    check_invalid(
        "caller-timeout-zero",
        &t,
        line_of(&t, "caller_timeout = \"0s\""),
        18,
        "traffic.caller_timeout: must be longer than 0s",
    );
    // A mix entry's own, at its value.
    let t = base().replace(
        "weight = 1.0 }]",
        "weight = 1.0, caller_timeout = \"0ms\" }]",
    );
    let l = line_of(&t, "caller_timeout = \"0ms\"");
    let col = t.lines().nth(l - 1).unwrap().find("\"0ms\"").unwrap() + 1;
    check_invalid(
        "caller-timeout-mix-zero",
        &t,
        l,
        col,
        "traffic.mix[0].caller_timeout: must be longer than 0s",
    );
}

/// A shape error (like every malformed duration) is reported at the value, with what to write.
#[test]
fn validate_reports_a_malformed_caller_timeout_where_it_is() {
    let t = base().replace(
        "rate = \"10/s\"",
        "rate = \"10/s\"\ncaller_timeout = \"15\"",
    );
    check_invalid(
        "caller-timeout-malformed",
        &t,
        line_of(&t, "caller_timeout = \"15\""),
        18,
        "duration \"15\" has no unit",
    );
}

#[test]
fn validate_reports_every_problem_at_once() {
    let t = base()
        .replacen("provider = \"b\"", "provider = \"bb\"", 1)
        .replace(
            "median = \"3s\", p99 = \"15s\"",
            "median = \"3s\", p99 = \"2s\"",
        );
    let dir = temp_dir("many");
    let path = dir.join("bad.toml");
    std::fs::write(&path, &t).unwrap();
    let o = bin().arg("validate").arg(&path).output().unwrap();
    let (_, err) = text(&o);
    assert!(
        err.contains("did you mean \"b\"") && err.contains("p99"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 2, "{err}");
}

#[test]
fn schema_prints_a_json_schema() {
    let o = bin().arg("schema").output().unwrap();
    assert_eq!(o.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(
        v.get("properties").is_some() || v.get("$defs").is_some(),
        "{v}"
    );
}

#[test]
fn no_arguments_runs_the_demo_and_writes_its_report() {
    let dir = temp_dir("demo");
    let o = bin().current_dir(&dir).output().unwrap();
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}\n{err}");
    let s = json(&dir.join("reports/demo/summary.json"));
    assert_eq!(s["scenario"]["name"], "demo");
    assert_eq!(s["policies"].as_array().unwrap().len(), 3);
    assert!(out.contains("report: reports/demo/index.html"));
    assert!(dir.join("reports/demo/index.html").is_file());
}

/// The terminal tables, compared with a committed snapshot. After an intended change of
/// behaviour or layout, regenerate with `UPDATE_SNAPSHOTS=1 cargo test --test lab snapshot`
/// and review the diff.
#[test]
fn terminal_tables_match_the_snapshot() {
    let dir = temp_dir("snapshot");
    let o = run(&dir, &["--threads", "1"]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    // Drop what depends on the wall clock or the machine.
    let stable: String = out
        .lines()
        .filter(|l| !l.contains("verifications simulated in") && !l.starts_with("report: "))
        .map(|l| format!("{l}\n"))
        .collect();
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/lab/snapshots/terminal.txt");
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &stable).unwrap();
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|_| panic!("{} missing: run with UPDATE_SNAPSHOTS=1", path.display()));
    assert_eq!(
        stable, expected,
        "terminal output changed; see the doc comment to update"
    );
}

/// Bytes a terminal would act on: ESC, CR, BEL, the C1 CSI (U+009B) and a right-to-left
/// override (U+202E), as UTF-8.
const TERMINAL_CONTROLS: [&[u8]; 5] = [b"\x1b", b"\r", b"\x07", b"\xc2\x9b", b"\xe2\x80\xae"];

fn assert_no_terminal_controls(what: &str, o: &Output) {
    for (stream, bytes) in [("stdout", &o.stdout), ("stderr", &o.stderr)] {
        for c in TERMINAL_CONTROLS {
            assert!(
                !bytes.windows(c.len()).any(|w| w == c),
                "{what}: {stream} holds {c:?}:\n{}",
                String::from_utf8_lossy(bytes)
            );
        }
    }
}

/// Every name and the description of a scenario holding escape sequences and controls.
fn hostile_names_scenario(extra: &str) -> String {
    const P: &str = r#"
[policies."score\u001b[31m\r"]
attempt_timeout = "10s"
[policies."static\u009b1m\u202e"]
strategy = "priority"
[[faults]]
name = "down\u001b]0;owned\u0007"
kind = "outage"
start = "20s"
duration = "20s"
[faults.target]
provider = "a\u001b[1m"
"#;
    scenario("1m", "5/s", &format!("{P}\n{extra}"))
        .replacen(
            "name = \"test\"",
            "name = \"evil\\u001b[2J\\r\"\ndescription = \"d\\u001b[31m\\r\"",
            1,
        )
        .replacen("name = \"a\"", "name = \"a\\u001b[1m\"", 1)
        .replacen("provider = \"a\"", "provider = \"a\\u001b[1m\"", 1)
}

/// Names come from scenario files; none may recolour, retitle or rewrite a terminal or a CI
/// log: every command prints them with their controls escaped.
#[test]
fn names_print_without_control_or_escape_sequences() {
    let dir = temp_dir("hostile");
    let good = dir.join("good.toml");
    std::fs::write(&good, hostile_names_scenario("")).unwrap();
    let o = bin().arg("validate").arg(&good).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{:?}", text(&o));
    assert_no_terminal_controls("validate", &o);

    let o = bin()
        .arg("run")
        .arg(&good)
        .arg("--out")
        .arg(dir.join("out"))
        .args(["--threads", "1"])
        .output()
        .unwrap();
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}\n{err}");
    assert!(out.contains("score\\u{1b}[31m\\r"), "{out}");
    assert_no_terminal_controls("run", &o);

    let o = bin()
        .arg("run")
        .arg(&good)
        .args(["--policy", "nope"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{:?}", text(&o));
    assert_no_terminal_controls("run --policy", &o);

    let o = bin()
        .args(["gate", "--quiet", "--seeds", "2"])
        .arg(&good)
        .env_remove("GITHUB_STEP_SUMMARY")
        .output()
        .unwrap();
    assert_no_terminal_controls("gate", &o);

    let bad = dir.join("bad.toml");
    std::fs::write(
        &bad,
        hostile_names_scenario("[experiment]\nbaseline = \"nope\\u001b[31m\"\n").replacen(
            "provider = \"b\"",
            "provider = \"b\\u001b[5m\\r\"",
            1,
        ),
    )
    .unwrap();
    let o = bin().arg("validate").arg(&bad).output().unwrap();
    assert_eq!(o.status.code(), Some(2), "{:?}", text(&o));
    assert_no_terminal_controls("validate (invalid)", &o);
}

/// `--policy X --policy X` runs X once, as cargo's `-p X -p X` builds X once.
#[test]
fn a_repeated_policy_runs_once() {
    let dir = temp_dir("policy-twice");
    let o = run(
        &dir,
        &[
            "--policy", "static", "--policy", "score", "--policy", "static",
        ],
    );
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}\n{err}");
    let s = json(&dir.join("out/summary.json"));
    let names: Vec<&str> = s["policies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["static", "score"], "{out}");
}
