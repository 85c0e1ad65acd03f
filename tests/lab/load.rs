//! `failover-lab load` end to end, in real time (seconds each): the target rate met with every
//! verification accounted for, `--speed` compressing the world's latencies, Ctrl-C draining and
//! still writing the report, an unsustainable rate showing as dropped arrivals rather than a
//! hang, and bad flags refused before the world starts.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::cli::{bin, output_within, temp_dir, text};

/// One provider, one carrier whose deliveries take exactly 2 s, 200 verifications/s.
const STEADY: &str = r#"
format_version = 1
name = "steady"
seed = 1
duration = "10m"
warmup = "0s"
bucket = "10s"

[[regions]]
name = "eu"
latency = { kind = "constant", value = "0s" }

[[countries]]
code = "DE"
carriers = [{ name = "t", share = 1.0 }]
conversion = 0.8

[[carriers]]
name = "t"
country = "DE"
delivery_latency = { kind = "constant", value = "2s" }

[[providers]]
name = "a"
region = "eu"
api_latency = { kind = "constant", value = "0s" }

[[router.routes]]
provider = "a"
country = "DE"
number_type = "mobile"
cost = 0.01

[policies.p]
strategy = "priority"

[traffic]
rate = "200/s"
mix = [{ country = "DE", number_type = "mobile", weight = 1.0 }]
"#;

fn steady(dir: &Path) -> PathBuf {
    let path = dir.join("steady.toml");
    std::fs::write(&path, STEADY).unwrap();
    path
}

fn load_cmd(scenario: &Path, out: &Path, extra: &[&str]) -> Command {
    let mut cmd = bin();
    cmd.arg("load")
        .arg(scenario)
        .arg("--out")
        .arg(out)
        .arg("--quiet")
        .args(extra);
    cmd
}

fn load_object(out: &Path) -> Value {
    let summary: Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    summary["load"].clone()
}

fn num(v: &Value, path: &str) -> f64 {
    path.split('.')
        .fold(v, |v, k| &v[k])
        .as_f64()
        .unwrap_or_else(|| panic!("{path} is not a number in {v}"))
}

/// Every intended arrival issued or dropped; every issued verification ended exactly once.
fn assert_conserved(load: &Value) {
    let a = |k: &str| num(load, &format!("arrivals.{k}"));
    let o = |k: &str| num(load, &format!("outcomes.{k}"));
    assert_eq!(
        a("intended"),
        a("issued") + a("dropped_late") + a("dropped_in_flight"),
        "{load}"
    );
    assert_eq!(
        a("issued"),
        o("delivered") + o("failed") + o("caller_gave_up") + o("cut_off"),
        "{load}"
    );
}

#[test]
fn a_five_second_run_meets_its_rate_and_accounts_for_every_verification() {
    let dir = temp_dir("load-rate");
    let out = dir.join("out");
    let o = output_within(
        load_cmd(&steady(&dir), &out, &["--duration", "5s", "--threads", "2"]),
        Duration::from_secs(60),
    );
    let (stdout, stderr) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{stderr}");
    assert!(stdout.contains("report: "), "{stdout}");
    let load = load_object(&out);
    assert_eq!(num(&load, "version"), 1.0);
    assert_conserved(&load);
    // The scenario's 200/s, met within 5 %, and nothing dropped at this rate.
    let achieved = num(&load, "achieved_rate");
    assert!((achieved - 200.0).abs() < 10.0, "achieved {achieved}/s");
    assert!((num(&load, "duration") - 5.0).abs() < 0.2, "{load}");
    assert_eq!(num(&load, "arrivals.dropped_late"), 0.0);
    assert_eq!(num(&load, "arrivals.dropped_in_flight"), 0.0);
    assert_eq!(num(&load, "outcomes.cut_off"), 0.0);
    // Every verification delivered, and the router audited each one (the run summary's
    // verifications are the recorder's count, warmup 0).
    let issued = num(&load, "arrivals.issued");
    assert_eq!(num(&load, "outcomes.delivered"), issued);
    // Overhead and decision percentiles over every verification, ordered, and small next to
    // the 2 s the adapters took.
    for metric in ["overhead", "decision"] {
        let p = |q: &str| num(&load, &format!("{metric}.{q}"));
        assert_eq!(p("count"), issued, "{metric}");
        assert!(
            0.0 < p("p50")
                && p("p50") <= p("p99")
                && p("p99") <= p("p999")
                && p("p999") <= p("max"),
            "{metric}: {load}"
        );
        assert!(p("p50") < 1_000.0, "{metric} p50 {} us", p("p50"));
    }
    assert!(!load["series"].as_array().unwrap().is_empty());
    // The report carries the load section and its data.
    assert!(out.join("load.csv").is_file());
    let page = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(page.contains("Load test"), "no load section in index.html");
}

#[test]
fn speed_divides_the_worlds_latencies() {
    let dir = temp_dir("load-speed");
    let out = dir.join("out");
    let o = output_within(
        load_cmd(&steady(&dir), &out, &["--duration", "2s", "--speed", "4"]),
        Duration::from_secs(60),
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o).1);
    let load = load_object(&out);
    assert_conserved(&load);
    // A constant 2 s delivery takes 0.5 s at speed 4, within the world's 1 ms tick and
    // tokio's 1 ms timer resolution (times in microseconds).
    let p50 = num(&load, "time_to_verify.p50");
    assert!((500_000.0..505_000.0).contains(&p50), "p50 {p50} us");
    // Rates are multiplied by the speed: 800/s.
    let achieved = num(&load, "achieved_rate");
    assert!((achieved - 800.0).abs() < 40.0, "achieved {achieved}/s");
}

#[cfg(unix)]
#[test]
fn ctrl_c_stops_the_arrivals_drains_and_still_writes_the_report() {
    let dir = temp_dir("load-sigint");
    let out = dir.join("out");
    let mut child = load_cmd(&steady(&dir), &out, &["--duration", "60s"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(2));
    let s = Command::new("kill")
        .arg("-INT")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(s.success());
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        // The drain lasts at most the policy's deadline (60 s by default); 2 s deliveries
        // drain in 2 s.
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "did not stop after SIGINT"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let o = child.wait_with_output().unwrap();
    let (stdout, stderr) = text(&o);
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("draining"), "{stderr}");
    assert!(stdout.contains("report: "), "{stdout}");
    let load = load_object(&out);
    assert_eq!(load["interrupted"], Value::Bool(true));
    assert_conserved(&load);
    // Stopped early, and what was in flight drained rather than being cut off.
    assert!(num(&load, "duration") < 30.0, "{load}");
    assert!(num(&load, "arrivals.issued") > 0.0);
    assert_eq!(num(&load, "outcomes.cut_off"), 0.0);
    for f in ["index.html", "summary.json", "load.csv", "timeseries.csv"] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
}

#[test]
fn an_unsustainable_rate_shows_as_dropped_arrivals_not_a_hang() {
    let dir = temp_dir("load-overload");
    let out = dir.join("out");
    let o = output_within(
        load_cmd(
            &steady(&dir),
            &out,
            &[
                "--rate",
                "1000000",
                "--duration",
                "2s",
                "--max-in-flight",
                "20000",
            ],
        ),
        Duration::from_secs(60),
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o).1);
    let load = load_object(&out);
    assert_conserved(&load);
    let dropped = num(&load, "arrivals.dropped_late") + num(&load, "arrivals.dropped_in_flight");
    assert!(dropped > 0.0, "{load}");
    assert!(num(&load, "peak_in_flight") <= 20_000.0, "{load}");
    assert!(num(&load, "achieved_rate") < num(&load, "target_rate"));
    // Every verification issued still ended: 2 s deliveries, nothing cut off.
    assert_eq!(num(&load, "outcomes.cut_off"), 0.0);
}

#[test]
fn bad_flags_are_refused_before_the_world_starts() {
    let dir = temp_dir("load-flags");
    let scenario = steady(&dir);
    let out = dir.join("out");
    for (flags, expect) in [
        (&["--speed", "0"][..], "--speed"),
        (&["--rate=-5"], "--rate"),
        (&["--rate", "1e300"], "peak arrival rate"),
        (&["--duration", "soon"], "--duration"),
        (&["--threads", "0"], "--threads"),
        (&["--policy", "q"], "no such policy"),
    ] {
        let o = output_within(load_cmd(&scenario, &out, flags), Duration::from_secs(20));
        let (_, stderr) = text(&o);
        assert_eq!(o.status.code(), Some(2), "{flags:?}: {stderr}");
        assert!(stderr.contains(expect), "{flags:?}: {stderr}");
        assert!(!out.exists(), "{flags:?} wrote a report");
    }
}
