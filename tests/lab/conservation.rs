//! Nothing is lost or counted twice: verifications, attempts, cost.

use crate::world::{compile, run, scenario};

#[test]
fn every_verification_ends_once_and_attempts_and_costs_add_up() {
    let world = compile(&scenario(
        "3m",
        "30/s",
        r#"
[policies.default]
attempt_timeout = "8s"
[[faults]]
kind = "outage"
mode = "black_hole"
start = "40s"
duration = "60s"
[faults.target]
provider = "a"
[[faults]]
kind = "brownout"
error_rate = 0.3
loss = 0.2
start = "20s"
duration = "2m"
[faults.target]
provider = "b"
"#,
    ));
    let r = run(&world, 0, 3);
    let m = &r.run.metrics;
    let generated = r.traffic.legitimate + r.traffic.fraudulent;
    assert!(generated > 4000, "{generated}");
    // Every generated verification finished, exactly once, in exactly one status.
    assert_eq!(m.verifications, generated);
    assert_eq!(r.run.status_counts.total(), generated);
    // Attempts: every resolved attempt is attributed to exactly one route.
    let route_attempts: u64 = r.run.routes.iter().map(|s| s.attempts).sum();
    assert_eq!(route_attempts, r.run.totals.attempt_events);
    assert!(r.run.totals.attempt_events <= r.run.totals.attempts_launched);
    let route_failures: u64 = r.run.routes.iter().map(|s| s.attempts - s.deliveries).sum();
    assert!(route_failures > 0);
    // Costs: per-route costs add up to the total; the total covers what verifications billed.
    let route_cost: f64 = r.run.routes.iter().map(|s| s.cost).sum();
    assert!(
        (route_cost - m.cost_total).abs() < 1e-6,
        "{route_cost} vs {}",
        m.cost_total
    );
    assert!(m.cost_total + 1e-9 >= r.run.totals.finished_cost);
    // Conversions only happen to delivered verifications.
    assert_eq!(r.run.totals.conversions, r.traffic.conversions);
    assert!(r.traffic.conversions <= r.run.status_counts.delivered);
    // Delivered verifications = deliveries by attempts + late deliveries that rescued one.
    assert!(r.run.status_counts.delivered <= r.run.totals.attempt_deliveries + m.late_deliveries);
}
