//! Inputs that used to crash, hang or fool the lab (issue 12): numbers that overflow the
//! arithmetic they feed are refused at validation with their limit named, and no run that lost
//! anything reports a result.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::world::scenario;

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
