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
