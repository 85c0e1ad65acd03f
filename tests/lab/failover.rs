//! Failover behaviour end to end: the real router against a faulted world.

use crate::world::{compile, policy_index, run, scenario};

#[test]
fn an_outage_is_survived_by_a_sensible_policy_and_lost_by_a_static_one() {
    // "static": one attempt on the top-priority route, never ejected.
    let world = compile(&scenario(
        "7m",
        "20/s",
        r#"
[policies.sensible]
attempt_timeout = "10s"
[policies.static]
strategy = "priority"
max_attempts = 1
attempt_timeout = "10s"
[policies.static.ejection]
max_ejected_share = 0.0
[[faults]]
name = "a-down"
kind = "outage"
mode = "black_hole"
start = "1m"
duration = "2m"
[faults.target]
provider = "a"
"#,
    ));
    let sensible = run(&world, policy_index(&world, "sensible"), 1);
    let fixed = run(&world, policy_index(&world, "static"), 1);

    let f = &sensible.run.faults[0];
    assert_eq!(f.affected_routes, vec![0]);
    assert!(sensible.run.routes[0].ejections >= 1);
    let detection = f.detection_delay.expect("the outage is noticed");
    assert!(detection < 30.0, "detection took {detection} s");
    assert!(
        (f.failed_during_fault as f64) < 0.1 * f.verifications_during_fault as f64,
        "{f:?}"
    );

    let g = &fixed.run.faults[0];
    assert!(
        (g.failed_during_fault as f64) > 0.95 * g.verifications_during_fault as f64,
        "{g:?}"
    );
    assert!(fixed.run.metrics.success_rate < sensible.run.metrics.success_rate);

    // After the fault, traffic comes back to the cheapest route (after the ejection backoff
    // of probes that failed while the fault lasted).
    let recovery = f.recovery_delay.expect("the route returns to service");
    assert!(recovery < 150.0, "recovery took {recovery} s");
    let late_share = |r: &failover_lab::experiment::RunResult| {
        let rows: Vec<_> = r
            .run
            .timeseries
            .iter()
            .filter(|b| b.start >= 360.0 && b.start < 420.0)
            .collect();
        let a: u64 = rows.iter().map(|b| b.provider_attempts[0]).sum();
        let all: u64 = rows.iter().map(|b| b.attempts).sum();
        a as f64 / all as f64
    };
    let restored = sensible.run.routes[0].timeline.last().unwrap();
    assert_eq!(
        restored.state,
        failover_lab::metrics::TimelineState::Healthy
    );
    assert!(late_share(&sensible) > 0.2, "{}", late_share(&sensible));
}

#[test]
fn a_shared_upstream_breaks_two_providers_and_domain_diversity_survives_it() {
    // a and b share the aggregator "agg" (world truth and routing table); c does not.
    // No ejection and a generous retry budget, so only the retry's choice can save a
    // verification.
    let world = compile(&scenario(
        "4m",
        "20/s",
        r#"
[policies.provider-diverse]
strategy = "priority"
max_attempts = 2
attempt_timeout = "10s"
deadline = "30s"
diversity = "provider"
[policies.provider-diverse.ejection]
max_ejected_share = 0.0
[policies.provider-diverse.retry_budget]
ratio = 2.0
[policies.domain-diverse]
strategy = "priority"
max_attempts = 2
attempt_timeout = "10s"
deadline = "30s"
diversity = "failure_domain"
diversity_fallback = false
[policies.domain-diverse.ejection]
max_ejected_share = 0.0
[policies.domain-diverse.retry_budget]
ratio = 2.0
[[faults]]
name = "agg-down"
kind = "outage"
mode = "black_hole"
start = "1m"
duration = "2m"
[faults.target]
failure_domain = "agg"
"#,
    ));
    let provider = run(&world, policy_index(&world, "provider-diverse"), 2);
    let domain = run(&world, policy_index(&world, "domain-diverse"), 2);
    let fp = &provider.run.faults[0];
    let fd = &domain.run.faults[0];
    assert_eq!(fp.affected_routes, vec![0, 1]);
    assert!(
        (fp.failed_during_fault as f64) > 0.9 * fp.verifications_during_fault as f64,
        "{fp:?}"
    );
    assert!(
        (fd.failed_during_fault as f64) < 0.05 * fd.verifications_during_fault as f64,
        "{fd:?}"
    );
}
