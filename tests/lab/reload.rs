//! `[[reloads]]`: the router's policy changed mid-run by `Router::reload`, keeping its state.

use failover_lab::experiment::RunResult;

use crate::cli::{bin, temp_dir, text};
use crate::world::{compile, json, run, scenario};

/// Providers a, b, c (priority in that order); `a` black-holes everything from 30 s on. Policy
/// `static` never ejects (`max_ejected_share = 0`), `ejecting` trips on 5 consecutive
/// failures. Both give 10 s attempts in a 14 s deadline, so a verification whose first
/// attempt goes into the hole has 4 s left for its retry, often too little.
fn outage_with(reloads: &str) -> String {
    scenario(
        "3m",
        "20/s",
        &format!(
            r#"
[policies.static]
strategy = "priority"
attempt_timeout = "10s"
deadline = "14s"
max_attempts = 2
[policies.static.ejection]
max_ejected_share = 0.0

[policies.ejecting]
strategy = "priority"
attempt_timeout = "10s"
deadline = "14s"
max_attempts = 2
[policies.ejecting.trip]
consecutive_failures = 5
[policies.ejecting.ejection]
base = "5m"

[[faults]]
name = "a-down"
kind = "outage"
mode = "black_hole"
start = "30s"
[faults.target]
provider = "a"

{reloads}
"#
        ),
    )
}

const RELOAD: &str = "[[reloads]]\nat = \"90s\"\npolicy = \"ejecting\"\n";

fn failed(r: &RunResult) -> u64 {
    r.run.metrics.verifications - r.run.status_counts.delivered
}

#[test]
fn a_reload_changes_the_policy_of_the_router_in_service() {
    let reloaded = compile(&outage_with(RELOAD));
    let plain = compile(&outage_with(""));
    assert_eq!(reloaded.reloads.len(), 1);
    for seed in [1, 2] {
        // `static` (policy 0) never ejects `a` without the reload; with it, the same router
        // ejects `a` seconds after 90 s, so the last 90 s of the outage cost far less.
        let (r, p) = (run(&reloaded, 0, seed), run(&plain, 0, seed));
        assert_eq!(p.run.routes[0].ejections, 0, "seed {seed}");
        assert_eq!(r.run.routes[0].ejections, 1, "seed {seed}");
        let out = r.run.routes[0].time_ejected;
        assert!(
            out > 60.0 && out <= 90.0,
            "seed {seed}: ejected for {out} s"
        );
        assert!(
            failed(&p) >= failed(&r) + 100,
            "seed {seed}: {} failed without the reload, {} with it",
            failed(&p),
            failed(&r)
        );
        // `ejecting` (policy 1) is reloaded with itself: nothing at all changes.
        assert_eq!(
            json(&run(&reloaded, 1, seed)),
            json(&run(&plain, 1, seed)),
            "seed {seed}"
        );
    }
    // Same seed, same bytes.
    assert_eq!(json(&run(&reloaded, 0, 3)), json(&run(&reloaded, 0, 3)));
}

#[test]
fn reloads_are_validated_with_their_line_and_load_refuses_them() {
    let dir = temp_dir("reload-bad");
    let cases = [
        (
            "[[reloads]]\nat = \"0s\"\npolicy = \"ejecting\"\n",
            "at",
            "must be after 0s",
        ),
        (
            "[[reloads]]\nat = \"1m\"\npolicy = \"ejectin\"\n",
            "policy",
            "unknown policy \"ejectin\"",
        ),
        (
            "[[reloads]]\nat = \"4m\"\npolicy = \"static\"\n",
            "at",
            "is not before the end of the run",
        ),
    ];
    for (reloads, field, expect) in cases {
        let t = outage_with(reloads);
        let path = dir.join("bad.toml");
        std::fs::write(&path, &t).unwrap();
        let o = bin().arg("validate").arg(&path).output().unwrap();
        let err = text(&o).1;
        assert_eq!(o.status.code(), Some(2), "{reloads}: {err}");
        let lines: Vec<&str> = t.lines().collect();
        let line = lines
            .iter()
            .rposition(|l| l.starts_with(&format!("{field} = ")))
            .unwrap()
            + 1;
        let prefix = format!("{}:{line}:", path.display());
        assert!(
            err.lines().any(|l| l.starts_with(&prefix)
                && l.contains(&format!("reloads[0].{field}"))
                && l.contains(expect)),
            "{reloads}: wanted `{prefix}...{expect}` in:\n{err}"
        );
    }
    let path = dir.join("ok.toml");
    std::fs::write(&path, outage_with(RELOAD)).unwrap();
    let o = bin()
        .arg("load")
        .arg(&path)
        .arg("--out")
        .arg(dir.join("load"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).1.contains("[[reloads]]"), "{}", text(&o).1);
    assert!(!dir.join("load").exists());
}
