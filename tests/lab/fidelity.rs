//! The simulator against theory, with parameters chosen here: if these drift, every figure the
//! lab produces is suspect.

use crate::world::{compile, run, scenario_with};

/// One provider, one carrier, no faults, one attempt: time to verify is the carrier's latency
/// plus 2 ms of constant network and API latency.
fn single_path(
    carrier_latency: &str,
    provider_extra: &str,
    rate: &str,
    duration: &str,
    bucket: &str,
) -> String {
    format!(
        r#"
format_version = 1
name = "fidelity"
duration = "{duration}"
bucket = "{bucket}"
[[regions]]
name = "eu"
latency = {{ kind = "constant", value = "1ms" }}
[[countries]]
code = "DE"
carriers = [{{ name = "tde", share = 1.0 }}]
[[carriers]]
name = "tde"
country = "DE"
delivery_latency = {carrier_latency}
[[providers]]
name = "a"
region = "eu"
api_latency = {{ kind = "constant", value = "1ms" }}
{provider_extra}
[[router.routes]]
provider = "a"
country = "DE"
number_type = "mobile"
cost = 0.07
[policies.one-attempt]
max_attempts = 1
attempt_timeout = "10m"
deadline = "10m"
[traffic]
rate = "{rate}"
mix = [{{ country = "DE", number_type = "mobile", weight = 1.0 }}]
"#
    )
}

#[test]
fn lognormal_delivery_latency_matches_its_analytic_quantiles() {
    let (median, p99) = (2.0f64, 12.0f64);
    let world = compile(&single_path(
        r#"{ kind = "lognormal", median = "2s", p99 = "12s" }"#,
        "",
        "100/s",
        "5m",
        "1m",
    ));
    let r = run(&world, 0, 11);
    let sigma = (p99 / median).ln() / 2.326_347_874_040_840_8;
    let z = |q: f64| match q {
        0.5 => 0.0,
        0.9 => 1.281_551_565_544_600_5,
        0.99 => 2.326_347_874_040_840_8,
        _ => unreachable!(),
    };
    let analytic = |q: f64| 0.002 + median * (sigma * z(q)).exp();
    let ttv = &r.run.metrics.time_to_verify;
    assert!(r.run.metrics.verifications > 25_000);
    for (q, got, tolerance) in [
        (0.5, ttv.p50, 0.02),
        (0.9, ttv.p90, 0.03),
        (0.99, ttv.p99, 0.06),
    ] {
        let got = got.unwrap();
        let want = analytic(q);
        assert!(
            (got / want - 1.0).abs() < tolerance,
            "q{q}: simulated {got:.4} s, analytic {want:.4} s"
        );
    }
}

/// Erlang's loss formula B(n, a) by its stable recursion.
fn erlang_b(servers: u32, offered: f64) -> f64 {
    (1..=servers).fold(1.0, |b, n| offered * b / (f64::from(n) + offered * b))
}

#[test]
fn finite_inventory_blocks_at_the_erlang_b_rate() {
    // 10 numbers, each held for an exponential time of mean 1 s, Poisson arrivals of 8/s:
    // 8 Erlangs offered to 10 servers, no failover.
    let world = compile(&single_path(
        r#"{ kind = "constant", value = "1s" }"#,
        r#"[providers.inventory]
numbers = 10
hold = { kind = "exponential", mean = "1s" }"#,
        "8/s",
        "40m",
        "1m",
    ));
    let r = run(&world, 0, 5);
    let route = &r.run.routes[0];
    let blocked = route.failures.no_inventory as f64 / route.attempts as f64;
    let expect = erlang_b(10, 8.0);
    assert!(route.attempts > 18_000, "{}", route.attempts);
    assert!(
        (blocked / expect - 1.0).abs() < 0.08,
        "blocking {blocked:.4}, Erlang-B {expect:.4}"
    );
}

#[test]
fn poisson_arrival_counts_have_the_right_mean_and_variance() {
    let world = compile(&scenario_with("30m", "5/s", "1s", "[policies.default]"));
    let r = run(&world, 0, 21);
    let counts: Vec<f64> = r
        .run
        .timeseries
        .iter()
        .filter(|b| b.measured)
        .map(|b| b.verifications as f64)
        .collect();
    assert_eq!(counts.len(), 1800);
    let n = counts.len() as f64;
    let mean = counts.iter().sum::<f64>() / n;
    let var = counts.iter().map(|c| (c - mean).powi(2)).sum::<f64>() / (n - 1.0);
    assert!((mean / 5.0 - 1.0).abs() < 0.03, "mean {mean}");
    assert!((var / 5.0 - 1.0).abs() < 0.12, "variance {var}");
}

/// A world where every message takes 8 s to reach the handset, seen by a policy that gives up
/// on an attempt after 2 s, with a pool of 10 sender numbers and no `hold`: each number is held
/// until the attempt completes from the router's view, here its 2 s timeout.
fn held_until_timeout(carrier_extra: &str) -> String {
    single_path(
        r#"{ kind = "constant", value = "8s" }"#,
        r#"[providers.inventory]
numbers = 10"#,
        "4/s",
        "20m",
        "1m",
    )
    .replace(r#"attempt_timeout = "10m""#, r#"attempt_timeout = "2s""#)
        + carrier_extra
}

fn blocking_of(scenario: &str) -> (f64, u64) {
    let r = run(&compile(scenario), 0, 7);
    let route = &r.run.routes[0];
    (
        route.failures.no_inventory as f64 / route.attempts as f64,
        route.attempts,
    )
}

#[test]
fn a_number_without_hold_is_freed_when_its_attempt_times_out_not_at_the_late_receipt() {
    // 4/s x 2 s = 8 Erlangs on 10 numbers (held 8 s, until the receipt, it would be 32 Erlangs:
    // blocking 0.69).
    let (blocked, attempts) = blocking_of(&held_until_timeout(""));
    let expect = erlang_b(10, 8.0);
    assert!(attempts > 4_000, "{attempts}");
    assert!(
        (blocked / expect - 1.0).abs() < 0.12,
        "blocking {blocked:.4}, Erlang-B with the 2 s timeout as hold {expect:.4}"
    );
}

#[test]
fn a_black_holed_carrier_holds_a_number_until_the_attempt_times_out() {
    // The carrier swallows every message: no receipt ever comes, so the router's 2 s timeout
    // is when the attempt completes (freed at hand-off, blocking would be zero).
    let (blocked, _) = blocking_of(&held_until_timeout(
        r#"
[[faults]]
name = "swallowed"
kind = "outage"
mode = "black_hole"
target = { carrier = "tde" }
start = "0s"
duration = "20m"
"#,
    ));
    let expect = erlang_b(10, 8.0);
    assert!(
        (blocked / expect - 1.0).abs() < 0.12,
        "blocking {blocked:.4}, Erlang-B with the 2 s timeout as hold {expect:.4}"
    );
}

/// Median time to verify with a provider latency fault `x10` (written after `kind`) over the
/// whole run: 1 ms network, 1 ms API, 4 s handset delivery.
fn median_ttv_with_provider_latency_fault(fault: &str) -> f64 {
    let scenario = single_path(
        r#"{ kind = "constant", value = "4s" }"#,
        "",
        "5/s",
        "2m",
        "1m",
    ) + &format!(
        r#"
[[faults]]
name = "slow-a"
kind = "latency"
{fault}
start = "0s"
target = {{ provider = "a" }}
"#
    );
    let r = run(&compile(&scenario), 0, 3);
    r.run.metrics.time_to_verify.p50.unwrap()
}

#[test]
fn a_provider_latency_fault_slows_its_api_unless_told_to_slow_delivery() {
    let api = median_ttv_with_provider_latency_fault("multiplier = 10.0");
    let delivery = median_ttv_with_provider_latency_fault("multiplier = 10.0\nleg = \"delivery\"");
    let both = median_ttv_with_provider_latency_fault("multiplier = 10.0\nleg = \"both\"");
    // API only: 1 ms + 10 ms + 4 s. Delivery: 1 ms + 1 ms + 40 s. Both: 1 ms + 10 ms + 40 s.
    // Within the histogram's resolution (3 significant digits).
    let close = |got: f64, want: f64| (got / want - 1.0).abs() < 1e-3;
    assert!(close(api, 4.011), "api leg: {api}");
    assert!(close(delivery, 40.002), "delivery leg: {delivery}");
    assert!(close(both, 40.011) && both > delivery, "both legs: {both}");
    let added =
        median_ttv_with_provider_latency_fault("add = { kind = \"constant\", value = \"3s\" }");
    assert!(close(added, 7.002), "3 s added to the API: {added}");
}
