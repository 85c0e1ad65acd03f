//! Inputs that used to crash, hang or fool the lab (issue 12): numbers that overflow the
//! arithmetic they feed are refused at validation with their limit named, and no run that lost
//! anything reports a result.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::world::{compile, run, scenario};

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("failover-lab-hard-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Runs the binary, killing it after `limit`: a hang is a failure, not a stuck test.
fn run_with_limit(args: &[&str], dir: &Path, limit: Duration) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_failover-lab"))
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "{args:?} did not finish within {limit:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

const POLICY: &str = "[policies.default]\nattempt_timeout = \"8s\"\n";

/// Each input overflowed an actor, the arrival loop or the router before; each must now be
/// refused by `validate` (exit 2, the limit named) and by `run`, quickly.
#[test]
fn numbers_that_would_overflow_are_refused_with_their_limit() {
    const TRAFFIC: &str = "[traffic]\nrate = \"10/s\"";
    const API: &str = "api_latency = { kind = \"constant\", value = \"150ms\" }";
    // (what, text to replace in the base scenario, its replacement, extra tables, field)
    let cases: [(&str, &str, String, &str, &str); 7] = [
        (
            "latency multiplier",
            "",
            String::new(),
            "[[faults]]\nkind = \"latency\"\nmultiplier = 1e300\nstart = \"10s\"\n\
             duration = \"10s\"\n[faults.target]\nprovider = \"a\"\n",
            "faults[0].multiplier",
        ),
        (
            "burst factor",
            TRAFFIC,
            format!(
                "{TRAFFIC}\nbursts = [{{ start = \"10s\", duration = \"10s\", factor = 1e308 }}]"
            ),
            "",
            "traffic.bursts[0].factor",
        ),
        (
            "diurnal factor",
            TRAFFIC,
            format!(
                "{TRAFFIC}\ndiurnal = {{ start = \"0h\", points = [{{ at = \"0h\", factor = 1e300 }}] }}"
            ),
            "",
            "traffic.diurnal.points[0].factor",
        ),
        (
            "fraud rate",
            TRAFFIC,
            format!(
                "{TRAFFIC}\nfraud = [{{ start = \"10s\", duration = \"10s\", extra_rate = \"1e300/s\", \
                 country = \"DE\" }}]"
            ),
            "",
            "traffic.fraud[0].extra_rate",
        ),
        (
            "rate limit",
            API,
            format!("{API}\nrate_limit = \"1e300/s\""),
            "",
            "providers[0].rate_limit",
        ),
        (
            "route cost",
            "cost = 0.07",
            "cost = 1e300".into(),
            "",
            "router.routes[0].cost",
        ),
        (
            "adaptive timeout factor",
            "",
            String::new(),
            "[policies.default.adaptive_timeout]\nfactor = 1e300\n",
            "adaptive_timeout.factor",
        ),
    ];
    let dir = temp_dir("overflow");
    for (what, from, to, extra, field) in cases {
        let mut text = scenario("1m", "10/s", &format!("{POLICY}{extra}"));
        if !from.is_empty() {
            assert!(
                text.contains(from),
                "{what}: {from:?} not in the base scenario"
            );
            text = text.replacen(from, &to, 1);
        }
        std::fs::write(dir.join("s.toml"), &text).unwrap();
        for cmd in [vec!["validate", "s.toml"], vec!["run", "s.toml", "-q"]] {
            let o = run_with_limit(&cmd, &dir, Duration::from_secs(20));
            let err = String::from_utf8_lossy(&o.stderr);
            assert_eq!(o.status.code(), Some(2), "{what}, {cmd:?}: {err}");
            assert!(err.contains(field), "{what}: {err}");
            assert!(
                err.contains("limit") || err.contains("must be in"),
                "{what}: the bound is named: {err}"
            );
        }
    }
}

#[test]
fn the_work_estimate_refuses_blow_ups_at_once_and_allow_large_lifts_it() {
    let dir = temp_dir("estimate");
    // 7.32e9 buckets (the hour, then the drain: the conversion horizon and the late-delivery
    // grace), and 3.6e12 verifications: refused in well under a second of work (the test
    // allows 10 s for a loaded machine).
    let huge = scenario("1h", "1000000/s", POLICY).replace("bucket = \"10s\"", "bucket = \"1us\"");
    std::fs::write(dir.join("huge.toml"), huge).unwrap();
    for cmd in [
        vec!["run", "huge.toml", "-q"],
        vec!["gate", "huge.toml", "-q"],
        vec!["baseline", "save", "huge.toml", "-q", "--dir", "b"],
    ] {
        let o = run_with_limit(&cmd, &dir, Duration::from_secs(10));
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{cmd:?}: {err}");
        assert!(err.contains("7.320e9 time-series buckets"), "{err}");
        assert!(err.contains("verifications"), "{err}");
        assert!(err.contains("--allow-large"), "{err}");
    }
    // Just over the bucket limit: refused, then run with --allow-large.
    let over = scenario("101s", "5/s", POLICY).replace("bucket = \"10s\"", "bucket = \"1ms\"");
    std::fs::write(dir.join("over.toml"), over).unwrap();
    let o = run_with_limit(&["run", "over.toml", "-q"], &dir, Duration::from_secs(10));
    assert_eq!(o.status.code(), Some(2));
    let o = run_with_limit(
        &["run", "over.toml", "-q", "--allow-large", "--out", "r"],
        &dir,
        Duration::from_secs(120),
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn every_library_scenario_is_within_the_limits() {
    for entry in std::fs::read_dir("scenarios")
        .unwrap()
        .chain(std::fs::read_dir("scenarios/ci").unwrap())
    {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "toml") {
            continue;
        }
        let s = failover_lab::scenario::Scenario::from_file(&path).unwrap();
        let world = s.compile(path.parent().unwrap()).unwrap();
        let work = failover_lab::experiment::estimate::Work::of(&world);
        assert!(
            work.over_limits(1).is_empty(),
            "{}: {work:?}",
            path.display()
        );
    }
}

#[test]
fn a_heavy_tailed_think_time_does_not_stretch_the_run() {
    // Pareto with shape 0.5 has no mean: before the horizon, its far draws scheduled
    // conversions years after the run and the time series grew to millions of rows.
    let text = scenario("2m", "20/s", POLICY).replace(
        "think_time = { kind = \"exponential\", mean = \"15s\" }",
        "think_time = { kind = \"pareto\", scale = \"10s\", shape = 0.5 }",
    );
    assert!(text.contains("pareto"));
    let dir = temp_dir("think");
    std::fs::write(dir.join("s.toml"), text).unwrap();
    let o = run_with_limit(
        &["run", "s.toml", "-q", "--out", "r"],
        &dir,
        Duration::from_secs(60),
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("r/summary.json")).unwrap()).unwrap();
    let rows = summary["policies"][0]["timeseries"]
        .as_array()
        .unwrap()
        .len();
    // 2 minutes, the one-hour conversion horizon and the drain after it (the late-delivery
    // grace, 2 minutes at most here), in 10 s buckets. Without the horizon: millions of rows.
    assert!(rows <= (120 + 3600 + 120) / 10 + 1, "{rows} rows");
}

/// The drain after arrivals stop: the last attempts' outcomes keep coming back for an attempt
/// timeout, deliveries first (seconds) and timeouts last (ten seconds). Judged in the order
/// they come back, those timeouts are a run of "consecutive failures" with no delivery
/// between them, and a perfectly ordinary route trips after the run. Judged in launch order
/// (the router's ledger), they are as rare as during the run.
#[test]
fn an_ordinary_route_does_not_trip_on_the_drain_after_arrivals_stop() {
    let world = compile(&scenario(
        "2m",
        "50/s",
        r#"
[policies.strict]
strategy = "priority"
attempt_timeout = "10s"
[policies.strict.trip]
consecutive_failures = 4
[[faults]]
name = "some-loss"
kind = "brownout"
loss = 0.03
start = "0s"
target = { carrier = "tde" }
"#,
    ));
    for seed in [1, 2, 3] {
        let r = run(&world, 0, seed);
        let a = &r.run.routes[0];
        assert!(a.attempts > 5_000, "{}", a.attempts);
        assert!(a.failures.timeout > 200, "timeouts: {}", a.failures.timeout);
        let after: Vec<_> = a.timeline.iter().filter(|t| t.at >= 120.0).collect();
        assert!(
            after.is_empty(),
            "seed {seed}: route a changed state after the last arrival: {after:?}"
        );
    }
}
