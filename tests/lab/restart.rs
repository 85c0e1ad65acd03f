//! `[[restarts]]`: the router replaced mid-run, warm (its learnt state restored) or cold, with
//! the verifications in flight draining on the old router.

use std::time::Duration;

use failover_lab::experiment::RunResult;

use crate::cli::{bin, output_within, temp_dir, text};
use crate::world::{compile, json, run, scenario};

/// Providers a, b, c (priority in that order); `a` black-holes everything from 30 s on, the
/// router restarts at 90 s. Static priority with 10 s attempts in a 14 s deadline: a
/// verification whose first attempt goes into the hole has 4 s left for its retry, often too
/// little for a 3-4 s median delivery. Ejections last 5 minutes, past the end of the run.
fn outage_with_restart(restarts: &str) -> String {
    scenario(
        "3m",
        "20/s",
        &format!(
            r#"
[policies.p]
strategy = "priority"
attempt_timeout = "10s"
deadline = "14s"
max_attempts = 2
[policies.p.trip]
consecutive_failures = 5
[policies.p.ejection]
base = "5m"

[[faults]]
name = "a-down"
kind = "outage"
mode = "black_hole"
start = "30s"
[faults.target]
provider = "a"

{restarts}
"#
        ),
    )
}

fn restart(warm: bool) -> String {
    outage_with_restart(&format!("[[restarts]]\nat = \"90s\"\nwarm = {warm}\n"))
}

fn failed(r: &RunResult) -> u64 {
    let m = &r.run.metrics;
    m.verifications - r.run.status_counts.delivered
}

#[test]
fn a_cold_restart_during_an_outage_fails_more_verifications_than_a_warm_one() {
    let warm = compile(&restart(true));
    let cold = compile(&restart(false));
    for seed in [1, 2, 3] {
        let (w, c) = (run(&warm, 0, seed), run(&cold, 0, seed));
        // The cold router sends `a` every first attempt again until five of them have timed
        // out (10 s of traffic, about 200 verifications, each left 4 s for its retry); the
        // warm one keeps `a` out. Before the restart both runs are the same run.
        assert!(
            failed(&c) >= failed(&w) + 40,
            "seed {seed}: cold {} failed, warm {}",
            failed(&c),
            failed(&w)
        );
        // What the run saw of the restart: the warm router started with `a` ejected.
        let seen = |r: &RunResult| {
            let x = &r.run.restarts;
            assert_eq!(x.len(), 1, "{x:?}");
            (x[0].at, x[0].warm, x[0].routes_out, x[0].routes_probing)
        };
        assert_eq!(seen(&w), (90.0, true, 1, 0));
        assert_eq!(seen(&c), (90.0, false, 0, 0));
        // `a` was ejected once in the warm run; the cold router had to eject it again.
        assert_eq!(w.run.routes[0].ejections, 1, "seed {seed}");
        assert_eq!(c.run.routes[0].ejections, 2, "seed {seed}");
        // The cold restart put `a` back in service for the seconds it took to re-eject it.
        assert!(
            c.run.routes[0].time_ejected < w.run.routes[0].time_ejected,
            "seed {seed}"
        );
    }
}

#[test]
fn a_warm_restart_without_a_fault_changes_little_and_runs_are_reproducible() {
    let world = compile(&restart(true));
    let a = run(&world, 0, 5);
    assert_eq!(json(&a), json(&run(&world, 0, 5)), "same seed, same bytes");
    let plain = compile(&outage_with_restart(""));
    let p = run(&plain, 0, 5);
    // Everything started before the restart is the same run; a warm restart keeps the
    // ejection, so the rest differs only by the new router's own random draws.
    assert_eq!(a.run.metrics.verifications, p.run.metrics.verifications);
    assert!(
        failed(&a).abs_diff(failed(&p)) <= 10,
        "warm {} against no restart {}",
        failed(&a),
        failed(&p)
    );
    assert!(p.run.restarts.is_empty());
}

/// Validates `text` with the CLI and returns its exit code and stderr.
fn validate(name: &str, text_: &str) -> (Option<i32>, String, std::path::PathBuf) {
    let dir = temp_dir(name);
    let path = dir.join("bad.toml");
    std::fs::write(&path, text_).unwrap();
    let o = bin().arg("validate").arg(&path).output().unwrap();
    (o.status.code(), text(&o).1, path)
}

#[test]
fn restarts_are_validated_with_their_line_and_what_to_fix() {
    let cases = [
        ("[[restarts]]\nat = \"0s\"\n", "must be after 0s"),
        (
            "[[restarts]]\nat = \"3m\"\n",
            "is not before the end of the run (3m)",
        ),
        (
            "[[restarts]]\nat = \"1m\"\n[[restarts]]\nat = \"60s\"\nwarm = false\n",
            "also restarts[0]'s time",
        ),
    ];
    for (restarts, expect) in cases {
        let t = outage_with_restart(restarts);
        let (code, err, path) = validate("restart-bad", &t);
        assert_eq!(code, Some(2), "{restarts}: {err}");
        // The last `at =` line of the file is the one at fault.
        let lines: Vec<&str> = t.lines().collect();
        let line = lines.iter().rposition(|l| l.starts_with("at = ")).unwrap() + 1;
        let prefix = format!("{}:{line}:", path.display());
        assert!(
            err.lines()
                .any(|l| l.starts_with(&prefix) && l.contains("restarts[") && l.contains(expect)),
            "{restarts}: wanted `{prefix}...{expect}` in:\n{err}"
        );
    }
    // Unknown fields and missing times are shape errors, with their position too.
    let (code, err, _) = validate(
        "restart-shape",
        &outage_with_restart("[[restarts]]\nat = \"1m\"\nhot = true\n"),
    );
    assert_eq!(code, Some(2));
    assert!(err.contains("hot"), "{err}");
    let (code, err, _) = validate(
        "restart-missing",
        &outage_with_restart("[[restarts]]\nwarm = true\n"),
    );
    assert_eq!(code, Some(2));
    assert!(err.contains("missing field `at`"), "{err}");
    // `warm` defaults to true.
    let (code, err, _) = validate(
        "restart-ok",
        &outage_with_restart("[[restarts]]\nat = \"1m\"\n"),
    );
    assert_eq!(code, Some(0), "{err}");
    assert!(compile(&outage_with_restart("[[restarts]]\nat = \"1m\"\n")).restarts[0].warm);
}

#[test]
fn run_shows_the_restarts_and_load_refuses_them() {
    let dir = temp_dir("restart-cli");
    let path = dir.join("restart.toml");
    std::fs::write(&path, restart(true)).unwrap();
    let out = dir.join("out");
    let o = output_within(
        {
            let mut c = bin();
            c.arg("run").arg(&path).arg("--out").arg(&out);
            c
        },
        Duration::from_secs(120),
    );
    let (stdout, stderr) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{stderr}");
    assert!(stdout.contains("router restarts"), "{stdout}");
    let row = stdout
        .lines()
        .find(|l| l.trim_start().starts_with("90s"))
        .unwrap_or_else(|| panic!("no restart row in:\n{stdout}"));
    assert!(row.contains("warm") && row.contains("1 ejected"), "{row}");
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(
        summary["scenario"]["restarts"],
        serde_json::json!([{ "at": 90.0, "warm": true }])
    );
    assert_eq!(summary["policies"][0]["restarts"][0]["routes_out"], 1);

    let load_out = dir.join("load");
    let o = output_within(
        {
            let mut c = bin();
            c.arg("load")
                .arg(&path)
                .arg("--out")
                .arg(&load_out)
                .arg("--quiet");
            c
        },
        Duration::from_secs(20),
    );
    let (_, stderr) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("[[restarts]]"), "{stderr}");
    assert!(!load_out.exists());
}
