//! Impatient callers (`caller_timeout`): a caller that gives up drops the verification future;
//! the run still ends, every verification is counted once, and none the caller gave up on is a
//! success.

use crate::world::{compile, json, policy_index, run, scenario};

/// Callers wait 8 s, attempts time out after 12 s, and provider `a` (the first choice)
/// black-holes from 30 s to 2m30s: every verification sent to `a` then is dropped by its caller
/// before the router's timeout could fail it over. `static` never ejects (the baseline);
/// `score` is the router's default with the same timeout.
const IMPATIENT: &str = r#"
caller_timeout = "8s"
[policies.static]
strategy = "priority"
max_attempts = 2
attempt_timeout = "12s"
[policies.static.ejection]
max_ejected_share = 0.0
[policies.score]
attempt_timeout = "12s"
[[faults]]
name = "a-black-hole"
kind = "outage"
mode = "black_hole"
start = "30s"
duration = "2m"
[faults.target]
provider = "a"
"#;

/// The test world with handsets that always take 3 s: outside the fault every verification
/// ends (delivered, or failed over after a loss and delivered) well before callers give up.
fn impatient(duration: &str, extra: &str) -> String {
    scenario(duration, "20/s", extra)
        .replace(
            r#"{ kind = "lognormal", median = "3s", p99 = "15s" }"#,
            r#"{ kind = "constant", value = "3s" }"#,
        )
        .replace(
            r#"{ kind = "lognormal", median = "4s", p99 = "20s" }"#,
            r#"{ kind = "constant", value = "3s" }"#,
        )
}

#[test]
fn callers_who_give_up_before_the_attempt_timeout_are_abandoned_and_never_succeed() {
    let world = compile(&impatient("3m", IMPATIENT));
    for policy in ["static", "score"] {
        let r = run(&world, policy_index(&world, policy), 4);
        let m = &r.run.metrics;
        let generated = r.traffic.legitimate + r.traffic.fraudulent;
        // The run ended (every verification settled), shortly after the last arrival.
        assert!(
            r.end.as_secs() < 180 + 60 + 120 + 10,
            "{policy}: {:?}",
            r.end
        );
        // Callers gave up, and each verification is counted exactly once: the router reports
        // those their callers dropped as abandoned.
        assert!(r.traffic.caller_gave_up > 50, "{policy}: {:?}", r.traffic);
        assert_eq!(m.caller_abandoned, r.traffic.caller_gave_up, "{policy}");
        assert_eq!(m.verifications, generated, "{policy}");
        assert_eq!(r.run.status_counts.total(), generated, "{policy}");
        assert_eq!(r.run.status_counts.caller_abandoned, m.caller_abandoned);
        // None of them succeeded or converted.
        let delivered = r.run.status_counts.delivered;
        assert_eq!(
            m.success_rate,
            delivered as f64 / generated as f64,
            "{policy}"
        );
        assert!(delivered + m.caller_abandoned <= generated, "{policy}");
        assert!(m.success_rate < 1.0 - m.caller_abandoned as f64 / generated as f64 + 1e-12);
        assert!(r.traffic.conversions <= delivered, "{policy}");
        // Their attempts count as launched (the router's `Finished` carries them), and the
        // router still judges every attempt a dropped verification left pending: each launched
        // attempt has exactly one outcome.
        let t = &r.run.totals;
        assert!(m.attempts_per_verification >= 1.0, "{policy}: {m:?}");
        assert_eq!(t.attempt_events, t.attempts_launched, "{policy}: {t:?}");
        // The time series has them in their start buckets (10 s), all in the fault's (an
        // attempt started just before it reaches the hole 20 ms later).
        let ts = &r.run.timeseries;
        let per_bucket: u64 = ts.iter().map(|b| b.caller_abandoned).sum();
        assert_eq!(per_bucket, m.caller_abandoned, "{policy}");
        for b in ts {
            assert!(
                b.caller_abandoned <= b.verifications - b.delivered,
                "{policy}: {b:?}"
            );
            if b.start + 10.0 < 30.0 || b.start >= 150.0 {
                assert_eq!(b.caller_abandoned, 0, "{policy}: {b:?}");
            }
        }
        // The fault's impact counts them as failed.
        let inside: u64 = ts
            .iter()
            .filter(|b| b.start >= 30.0 && b.start + 10.0 <= 150.0)
            .map(|b| b.caller_abandoned)
            .sum();
        let f = &r.run.faults[0];
        assert!(
            inside > 0 && f.failed_during_fault >= inside,
            "{policy}: {f:?}"
        );
    }
    // The baseline sends every first attempt into the hole: its callers give up on every
    // verification started during the fault (give or take the few that reach `a` within
    // 20 ms of either edge).
    let fixed = run(&world, policy_index(&world, "static"), 4);
    let f = &fixed.run.faults[0];
    let abandoned = fixed.run.metrics.caller_abandoned;
    assert_eq!(f.failed_during_fault, f.verifications_during_fault);
    assert!(
        abandoned.abs_diff(f.verifications_during_fault) <= 2,
        "{abandoned} abandoned, {f:?}"
    );
}

#[test]
fn impatient_callers_keep_runs_deterministic() {
    let world = compile(&impatient("3m", IMPATIENT));
    let score = policy_index(&world, "score");
    let a = run(&world, score, 11);
    let b = run(&world, score, 11);
    assert!(a.run.metrics.caller_abandoned > 0);
    assert_eq!(json(&a), json(&b));
    assert_eq!(a.traffic, b.traffic);
    assert_eq!(a.end, b.end);
}

/// A mix entry's own `caller_timeout` wins over `[traffic]`'s: the same world as if
/// `[traffic]` had said it.
#[test]
fn a_mix_entrys_caller_timeout_wins() {
    let traffic_level = compile(&impatient("3m", IMPATIENT));
    let per_entry = compile(
        &impatient("3m", IMPATIENT)
            .replace("caller_timeout = \"8s\"", "caller_timeout = \"50s\"")
            .replace(
                "weight = 1.0 }]",
                "weight = 1.0, caller_timeout = \"8s\" }]",
            ),
    );
    let score = policy_index(&traffic_level, "score");
    let a = run(&traffic_level, score, 3);
    let b = run(&per_entry, score, 3);
    assert!(a.run.metrics.caller_abandoned > 0);
    assert_eq!(json(&a), json(&b));
}

/// Without `caller_timeout`, callers wait for the router: nobody gives up, and the same
/// scenario with a patience longer than any verification (the 60 s deadline plus the time an
/// answer takes) gives the same results, byte for byte.
#[test]
fn patient_callers_change_nothing() {
    let without = IMPATIENT.replace("caller_timeout = \"8s\"\n", "");
    let patient = IMPATIENT.replace("caller_timeout = \"8s\"", "caller_timeout = \"10m\"");
    let a = run(&compile(&scenario("3m", "20/s", &without)), 1, 5);
    let b = run(&compile(&scenario("3m", "20/s", &patient)), 1, 5);
    assert_eq!(a.traffic.caller_gave_up, 0);
    assert_eq!(b.traffic.caller_gave_up, 0);
    assert_eq!(json(&a), json(&b));
}
