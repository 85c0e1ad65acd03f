//! `failover-lab load` end to end, in real time (seconds each): the target rate met with every
//! verification accounted for, `--speed` compressing the world's latencies, Ctrl-C draining and
//! still writing the report, an unsustainable rate showing as dropped arrivals rather than a
//! hang, the router's metrics served over HTTP and equal to the run's own counts, and bad
//! flags refused before the world starts.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
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

/// Two providers: `a` (first choice) refuses 20 % of its attempts at once, so verifications
/// fail over to `b`; deliveries take 2 s of the world's time.
const FAILING_OVER: &str = r#"
format_version = 1
name = "failing-over"
seed = 3
duration = "10m"
warmup = "0s"
bucket = "10s"

[[regions]]
name = "eu"
latency = { kind = "constant", value = "0s" }

[[countries]]
code = "DE"
carriers = [{ name = "t", share = 1.0 }]

[[carriers]]
name = "t"
country = "DE"
delivery_latency = { kind = "constant", value = "2s" }

[[providers]]
name = "a"
region = "eu"
api_latency = { kind = "constant", value = "0s" }
error_rate = 0.2

[[providers]]
name = "b"
region = "eu"
api_latency = { kind = "constant", value = "0s" }

[[router.routes]]
provider = "a"
country = "DE"
number_type = "mobile"
cost = 0.0314

[[router.routes]]
provider = "b"
country = "DE"
number_type = "mobile"
cost = 0.02
priority = 1

[policies.p]
strategy = "priority"
exploration = 0.0
trip = { consecutive_failures = 0, failure_rate = 1.0 }

[traffic]
rate = "200/s"
mix = [{ country = "DE", number_type = "mobile", weight = 1.0 }]
"#;

/// `GET /metrics` over plain HTTP/1.1: the status line and the body.
fn scrape(addr: &str) -> (String, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    s.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    (head.lines().next().unwrap().to_owned(), body.to_owned())
}

/// Prometheus's text format: every sample as (name, labels) -> value, labels as written.
fn samples(body: &str) -> BTreeMap<(String, String), f64> {
    body.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let (series, value) = l.rsplit_once(' ').unwrap();
            let (name, labels) = match series.split_once('{') {
                Some((n, rest)) => (n, rest.trim_end_matches('}')),
                None => (series, ""),
            };
            let value = value.parse().unwrap_or_else(|_| panic!("{l}"));
            ((name.to_owned(), labels.to_owned()), value)
        })
        .collect()
}

/// The sum of `name`'s samples whose labels contain every one of `having` (`key="value"`).
fn total(m: &BTreeMap<(String, String), f64>, name: &str, having: &[&str]) -> f64 {
    m.iter()
        .filter(|((n, l), _)| n == name && having.iter().all(|h| l.contains(h)))
        .map(|(_, v)| v)
        .sum()
}

/// `--metrics-listen`: the router's metrics served over HTTP during the run and after it
/// (`--metrics-linger`), each equal to what the run's own summary.json counts: verifications
/// and deliveries (the load object), attempts per provider and billed cost (the time series,
/// which counts every event), the time-to-verify histogram's count, and each route's last
/// state.
#[cfg(unix)]
#[test]
fn metrics_served_over_http_equal_the_runs_own_counts() {
    let dir = temp_dir("load-metrics");
    let out = dir.join("out");
    let scenario = dir.join("failing-over.toml");
    std::fs::write(&scenario, FAILING_OVER).unwrap();
    let mut child = load_cmd(
        &scenario,
        &out,
        &[
            "--duration",
            "2s",
            "--speed",
            "4",
            "--metrics-listen",
            "127.0.0.1:0",
            "--metrics-linger",
            "60s",
        ],
    )
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let (lines, received) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let _ = lines.send(line.unwrap());
        }
    });
    let mut stderr = child.stderr.take().unwrap();
    let stderr = std::thread::spawn(move || {
        let mut e = String::new();
        let _ = stderr.read_to_string(&mut e);
        e
    });
    let next_line = || {
        received
            .recv_timeout(Duration::from_secs(60))
            .expect("the load command printed nothing for 60 s")
    };
    let first = next_line();
    let addr = first
        .strip_prefix("metrics: http://")
        .and_then(|a| a.strip_suffix("/metrics"))
        .unwrap_or_else(|| panic!("no metrics address first: {first}"))
        .to_owned();
    // The bound port, not the 0 asked for.
    assert!(!addr.ends_with(":0"), "{addr}");
    // Served while the load runs.
    let (status, _) = scrape(&addr);
    assert!(status.contains(" 200 "), "{status}");
    let report = next_line();
    assert!(report.starts_with("report: "), "{report}");

    // The run is over and its report written: the router has nothing left to count.
    let (status, body) = scrape(&addr);
    assert!(status.contains(" 200 "), "{status}");
    let m = samples(&body);
    // The linger ends like any wait: Ctrl-C stops the command (the report is complete).
    let s = Command::new("kill")
        .arg("-INT")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(s.success());
    let code = child.wait().unwrap().code();
    assert_eq!(code, Some(130), "{}", stderr.join().unwrap());

    let summary: Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    let load = &summary["load"];
    assert_conserved(load);
    let issued = num(load, "arrivals.issued");
    let delivered = num(load, "outcomes.delivered");
    assert!(issued > 1000.0, "{load}");
    assert_eq!(
        total(&m, "failover_router_verifications_total", &[]),
        issued
    );
    assert_eq!(
        total(
            &m,
            "failover_router_verifications_total",
            &["status=\"delivered\""]
        ),
        delivered
    );
    // Time to verify is sampled, one delivered verification in 16 (by a hash of its id).
    let sampled = total(&m, "failover_router_time_to_verify_seconds_count", &[]);
    let expected = delivered / failover_router::telemetry::TIME_TO_VERIFY_SAMPLE as f64;
    assert!(
        (sampled - expected).abs() <= 5.0 * expected.sqrt() + 2.0,
        "{sampled} sampled of {delivered} delivered"
    );
    let policy = &summary["policies"][0];
    let rows = policy["timeseries"].as_array().unwrap();
    let sum = |f: &dyn Fn(&Value) -> f64| rows.iter().map(f).sum::<f64>();
    let attempts = sum(&|r| num(r, "attempts"));
    assert_eq!(total(&m, "failover_router_attempts_total", &[]), attempts);
    // Failovers happened: more attempts than verifications, each counted.
    assert!(
        attempts > issued * 1.1,
        "{attempts} attempts, {issued} issued"
    );
    assert!(total(&m, "failover_router_failovers_total", &[]) > 0.0);
    let providers = policy["providers"].as_array().unwrap();
    for (i, p) in providers.iter().enumerate() {
        let p = p.as_str().unwrap();
        let theirs = sum(&|r| r["provider_attempts"][i].as_f64().unwrap());
        let provider = format!("provider=\"{p}\"");
        assert_eq!(
            total(&m, "failover_router_attempts_total", &[&provider]),
            theirs,
            "{p}"
        );
        assert!(theirs > 0.0, "{p}");
    }
    let cost = sum(&|r| num(r, "cost"));
    let billed = total(&m, "failover_router_billed_cost_microunits_total", &[]) / 1e6;
    assert!(
        (billed - cost).abs() < 1e-6,
        "billed {billed}, summary {cost}"
    );
    for route in policy["routes"].as_array().unwrap() {
        let last = route["timeline"]
            .as_array()
            .unwrap()
            .last()
            .map_or("healthy", |t| t["state"].as_str().unwrap());
        let state = match last {
            "healthy" => 0.0,
            "probing" => 1.0,
            _ => 2.0,
        };
        let labels = [
            format!("provider=\"{}\"", route["provider"].as_str().unwrap()),
            format!("country=\"{}\"", route["country"].as_str().unwrap()),
        ];
        let labels: Vec<&str> = labels.iter().map(String::as_str).collect();
        assert_eq!(
            total(&m, "failover_router_route_state", &labels),
            state,
            "{route}"
        );
    }
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
        (
            &["--metrics-listen", "0.0.0.0:9464"],
            "not a loopback address",
        ),
        (&["--metrics-listen", "localhost:9464"], "--metrics-listen"),
        (&["--metrics-linger", "30s"], "--metrics-listen"),
        (
            &[
                "--metrics-listen",
                "127.0.0.1:0",
                "--metrics-linger",
                "soon",
            ],
            "--metrics-linger",
        ),
    ] {
        let o = output_within(load_cmd(&scenario, &out, flags), Duration::from_secs(20));
        let (_, stderr) = text(&o);
        assert_eq!(o.status.code(), Some(2), "{flags:?}: {stderr}");
        assert!(stderr.contains(expect), "{flags:?}: {stderr}");
        assert!(!out.exists(), "{flags:?} wrote a report");
    }
    // A port already taken.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let o = output_within(
        load_cmd(&scenario, &out, &["--metrics-listen", &addr]),
        Duration::from_secs(20),
    );
    let (_, stderr) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("--metrics-listen {addr}: cannot listen there")),
        "{stderr}"
    );
    assert!(!out.exists(), "a report was written");
}
