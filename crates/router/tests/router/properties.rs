//! Properties of policy validation (proptest, fixed seed): every generated policy, written as
//! TOML the way a policy file is, either fails `Policy::validate` (and then `RouterBuilder::build`
//! refuses it too) or is safe for the router's arithmetic: driven through the router in paused
//! time with scripted providers (deliveries, failures of every kind, black holes, answers a day
//! late), callers that give up and conversions, every verification ends without a panic.
//!
//! Provider limits (`[limits.*]` on providers and a route of the world's table) and cost caps
//! (policy and overrides) are generated too, so a policy starving every route of tokens or
//! capping every price away is driven as well (its verifications end `provider_limit` or
//! `cost_cap`, never in a panic).
//!
//! Values are drawn around every bound `validate` checks (`MAX_ADAPTIVE_FACTOR`, shares at 0
//! and 1, durations from 1 ms to the parser's 10^9 s, counts at their limits) and beyond it
//! (NaN, infinities, 1e308, negative numbers).

use std::sync::Arc;
use std::time::Duration;

use failover_router::policy::{MAX_ADAPTIVE_FACTOR, Policy};
use failover_router::{
    AttemptOutcome, Country, FailureKind, NumberType, RouteSpec, Router, RoutingTable,
    VerificationStatus,
};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};

use crate::harness::{Recorder, Script, Scripted, request_to, script};

/// A number as TOML: NaN and the infinities spelled as TOML spells them.
fn num(v: f64) -> String {
    if v.is_nan() {
        "nan".into()
    } else if v.is_infinite() {
        if v > 0.0 { "inf".into() } else { "-inf".into() }
    } else {
        format!("{v:?}")
    }
}

/// A share: inside (0, 1), on its ends, and beyond them.
fn share() -> impl Strategy<Value = String> {
    prop_oneof![
        24 => (0.0f64..=1.0).prop_map(num),
        4 => Just("0.0".to_string()),
        4 => Just("1.0".to_string()),
        1 => prop::sample::select(&[-0.5, 1.5, f64::NAN, f64::INFINITY, 1e308][..]).prop_map(num),
    ]
}

/// A non-negative number, small or huge, and sometimes not one.
fn magnitude() -> impl Strategy<Value = String> {
    prop_oneof![
        24 => (0.0f64..20.0).prop_map(num),
        6 => prop::sample::select(&[1e6, 1e300, f64::MAX][..]).prop_map(num),
        1 => prop::sample::select(&[-1.0, f64::NAN, f64::INFINITY, f64::NEG_INFINITY][..]).prop_map(num),
    ]
}

/// A price cap: around the world's route costs (0 to 1e6), and now and then not a price.
fn price() -> impl Strategy<Value = String> {
    prop_oneof![
        24 => (0.001f64..0.2).prop_map(num),
        4 => prop::sample::select(&[1e6, 1e300][..]).prop_map(num),
        1 => prop::sample::select(&[0.0, -1.0, f64::NAN, f64::INFINITY][..]).prop_map(num),
    ]
}

/// A duration: milliseconds to the parser's 10^9 s.
fn duration() -> impl Strategy<Value = String> {
    prop_oneof![
        24 => (1u64..120_000).prop_map(|ms| format!("\"{ms}ms\"")),
        2 => Just("\"1us\"".to_string()),
        4 => Just("\"999999999s\"".to_string()),
        1 => Just("\"1000000000s\"".to_string()),
        1 => Just("\"0s\"".to_string()),
    ]
}

fn count(max: u32) -> impl Strategy<Value = String> {
    prop_oneof![
        24 => (1..=max).prop_map(|n| n.to_string()),
        4 => Just(max.to_string()),
        1 => Just("0".to_string()),
        1 => Just(max.saturating_add(1).to_string()),
        1 => Just(u32::MAX.to_string()),
    ]
}

/// `key = value` lines, each present or not.
fn lines(fields: Vec<(&'static str, BoxedStrategy<String>)>) -> BoxedStrategy<String> {
    fields
        .into_iter()
        .map(|(key, value)| {
            prop::option::weighted(0.3, value)
                .prop_map(move |v| v.map_or(String::new(), |v| format!("{key} = {v}\n")))
                .boxed()
        })
        .collect::<Vec<_>>()
        .prop_map(|l| l.concat())
        .boxed()
}

/// A policy file: every field of `Policy`, each present or not.
fn policy_toml() -> impl Strategy<Value = String> {
    let top = lines(vec![
        (
            "strategy",
            prop::sample::select(
                &["\"priority\"", "\"weighted\"", "\"score\"", "\"thompson\""][..],
            )
            .prop_map(String::from)
            .boxed(),
        ),
        ("max_attempts", count(10).boxed()),
        ("attempt_timeout", duration().boxed()),
        ("deadline", duration().boxed()),
        (
            "diversity",
            prop::sample::select(&["\"none\"", "\"provider\"", "\"failure_domain\""][..])
                .prop_map(String::from)
                .boxed(),
        ),
        (
            "diversity_fallback",
            any::<bool>().prop_map(|b| b.to_string()).boxed(),
        ),
        ("exploration", share().boxed()),
        ("exploration_budget", share().boxed()),
        ("prior_strength", magnitude().boxed()),
        ("cost_sensitivity", magnitude().boxed()),
        ("failure_penalty", magnitude().boxed()),
        ("score_spread", share().boxed()),
        ("min_in_time_share", share().boxed()),
        ("capacity_cooldown", duration().boxed()),
        ("late_delivery_grace", duration().boxed()),
        (
            "max_stragglers",
            prop_oneof![
                (0u64..50).prop_map(|n| n.to_string()),
                Just(i64::MAX.to_string())
            ]
            .boxed(),
        ),
        ("max_attempt_cost", price().boxed()),
        ("max_verification_cost", price().boxed()),
    ]);
    let adaptive = lines(vec![
        ("quantile", share().boxed()),
        (
            "factor",
            prop_oneof![
                (1.0f64..5.0).prop_map(num),
                Just(num(MAX_ADAPTIVE_FACTOR)),
                Just(num(MAX_ADAPTIVE_FACTOR + 1e-9)),
                magnitude()
            ]
            .boxed(),
        ),
        ("min", duration().boxed()),
        ("max", duration().boxed()),
    ]);
    let health = lines(vec![
        ("window", duration().boxed()),
        ("buckets", count(600).boxed()),
        ("min_volume", count(100).boxed()),
        ("latency_quantile", share().boxed()),
    ]);
    let trip = lines(vec![
        ("consecutive_failures", count(20).boxed()),
        ("failure_rate", share().boxed()),
        (
            "latency",
            prop_oneof![duration(), Just("\"off\"".to_string())].boxed(),
        ),
        ("min_relative_conversion", share().boxed()),
        ("conversion_lag", duration().boxed()),
        ("max_relative_invalid", magnitude().boxed()),
    ]);
    let ejection = lines(vec![
        ("base", duration().boxed()),
        ("backoff", magnitude().boxed()),
        ("max", duration().boxed()),
        ("jitter", share().boxed()),
        ("decay_after", duration().boxed()),
        ("max_ejected_share", share().boxed()),
    ]);
    let probe = lines(vec![
        ("share", share().boxed()),
        ("successes", count(10).boxed()),
        ("recover_failure_rate", share().boxed()),
        (
            "recover_latency",
            prop_oneof![duration(), Just("\"off\"".to_string())].boxed(),
        ),
        ("timeout", duration().boxed()),
        ("interval", duration().boxed()),
        ("slow_start", duration().boxed()),
    ]);
    let budget = lines(vec![
        ("ratio", magnitude().boxed()),
        ("min_per_second", magnitude().boxed()),
        ("window", duration().boxed()),
    ]);
    let overrides = prop::collection::vec(
        (
            prop::option::of(prop::sample::select(&["DE", "US"][..])),
            prop::option::of(prop::sample::select(&["login", "signup"][..])),
            lines(vec![
                ("max_attempts", count(10).boxed()),
                ("attempt_timeout", duration().boxed()),
                ("deadline", duration().boxed()),
                ("exploration", share().boxed()),
                ("max_attempt_cost", price().boxed()),
                ("max_verification_cost", price().boxed()),
            ]),
        ),
        0..3,
    );
    // Limits on a provider and on one route (names of the world's table), every field around
    // its bounds: at one attempt in flight and a fraction of a token a second, verifications
    // end `provider_limit` rather than panic or hang.
    let limits = prop::collection::vec(
        (
            prop::sample::select(&["a", "b", "c/US/mobile"][..]),
            prop::option::weighted(0.7, count(5)),
            prop::option::weighted(
                0.6,
                (
                    prop_oneof![
                        8 => (0.01f64..50.0).prop_map(num),
                        1 => magnitude(),
                    ],
                    prop::option::weighted(0.4, count(5)),
                ),
            ),
            // Now and then an entry with no limit, or a burst without a rate (both invalid).
            prop_oneof![18 => Just(""), 1 => Just("empty"), 1 => Just("stray burst")],
        )
            .prop_map(|(key, max, rate, odd)| {
                let body = match odd {
                    "empty" => String::new(),
                    "stray burst" => "burst = 2\n".to_owned(),
                    _ => {
                        let mut body = String::new();
                        let max = max.or_else(|| rate.is_none().then(|| "1".to_owned()));
                        if let Some(m) = max {
                            body += &format!("max_in_flight = {m}\n");
                        }
                        if let Some((r, burst)) = rate {
                            body += &format!("rate = {r}\n");
                            if let Some(b) = burst {
                                body += &format!("burst = {b}\n");
                            }
                        }
                        body
                    }
                };
                (key, body)
            }),
        0..2,
    );
    let compliance = prop::collection::vec(
        (
            prop::option::of(prop::sample::select(&["DE", "US"][..])),
            prop::sample::select(&["allow", "deny"][..]),
            prop::sample::select(&["a", "b", "c"][..]),
        ),
        0..2,
    );
    (
        top,
        prop::option::weighted(0.4, adaptive),
        (health, trip, ejection, probe, budget),
        overrides,
        compliance,
        limits,
    )
        .prop_map(
            |(
                top,
                adaptive,
                (health, trip, ejection, probe, budget),
                overrides,
                compliance,
                limits,
            )| {
                let mut t = top;
                if let Some(a) = adaptive {
                    t += &format!("[adaptive_timeout]\n{a}");
                }
                for (name, body) in [
                    ("health", health),
                    ("trip", trip),
                    ("ejection", ejection),
                    ("probe", probe),
                    ("retry_budget", budget),
                ] {
                    t += &format!("[{name}]\n{body}");
                }
                for (country, use_case, body) in overrides {
                    t += "[[overrides]]\n";
                    if let Some(c) = country {
                        t += &format!("country = \"{c}\"\n");
                    }
                    if let Some(u) = use_case {
                        t += &format!("use_case = \"{u}\"\n");
                    }
                    t += &body;
                }
                for (country, list, provider) in compliance {
                    t += "[[compliance]]\n";
                    if let Some(c) = country {
                        t += &format!("country = \"{c}\"\n");
                    }
                    t += &format!("{list} = [\"{provider}\"]\n");
                }
                for (key, body) in limits {
                    // The same key twice is a TOML error, which the parse test accepts.
                    t += &format!("[limits.\"{key}\"]\n{body}");
                }
                t
            },
        )
}

/// What one provider does, by a hash of its call number: mostly deliveries and failures of
/// every kind, some black holes and answers a day late.
fn provider_script(seed: u64, latency_ms: u64) -> Arc<Script> {
    script(move |_, n| {
        let h = n
            .wrapping_add(seed)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .rotate_left(17);
        let delay = Duration::from_millis(latency_ms * (1 + h % 3));
        let outcome = match h % 16 {
            0..=7 => Some(AttemptOutcome::Delivered),
            8 => Some(AttemptOutcome::Failed(FailureKind::Unavailable)),
            9 => Some(AttemptOutcome::Failed(FailureKind::RateLimited)),
            10 => Some(AttemptOutcome::Failed(FailureKind::NoInventory)),
            11 => Some(AttemptOutcome::Failed(FailureKind::InvalidDestination)),
            12 => Some(AttemptOutcome::Failed(FailureKind::Rejected)),
            13 => None,
            14 => Some(AttemptOutcome::Failed(FailureKind::Undelivered)),
            _ => {
                return (
                    Duration::from_secs(3600 * 24),
                    Some(AttemptOutcome::Delivered),
                );
            }
        };
        (delay, outcome)
    })
}

fn world(policy: Policy, seed: u64, latency_ms: [u64; 3]) -> Result<Router, String> {
    let de = Country::new("DE").unwrap();
    let us = Country::new("US").unwrap();
    let route = |provider: &str, country, cost: f64, priority| RouteSpec {
        provider: provider.into(),
        country,
        number_type: NumberType::Mobile,
        cost,
        priority,
        weight: 1.0,
        failure_domains: if provider == "c" {
            Vec::new()
        } else {
            vec!["agg".into()]
        },
    };
    let specs = [
        route("a", de, 0.0, 0),
        route("b", de, 0.07, 1),
        route("c", de, 1e6, 2),
        route("a", us, 0.01, 0),
        route("c", us, 0.02, 0),
    ];
    let table = RoutingTable::new(&["a", "b", "c"], &specs).unwrap();
    let events = Arc::new(Recorder::keeping(|_| false));
    let mut b = Router::builder(table, policy).sink(events).seed(seed);
    for (i, p) in ["a", "b", "c"].into_iter().enumerate() {
        b = b.adapter(
            p,
            Scripted::adapter(provider_script(seed + i as u64, latency_ms[i])),
        );
    }
    b.build().map_err(|e| e.to_string())
}

/// Drives `n` verifications to DE and US, a few callers giving up early, conversions recorded
/// for some deliveries; returns their statuses (or the panic of a verification).
async fn drive(router: Router, n: u64, every_ms: u64) -> Result<Vec<VerificationStatus>, String> {
    let de = Country::new("DE").unwrap();
    let us = Country::new("US").unwrap();
    let mut tasks = Vec::new();
    for i in 0..n {
        let r = router.clone();
        let country = if i % 3 == 0 { us } else { de };
        tasks.push(tokio::spawn(async move {
            let mut req = request_to(i, country, NumberType::Mobile);
            req.use_case = (i % 4 == 0).then(|| "login".into());
            if i % 7 == 0 {
                // A caller that gives up after 2 s.
                match tokio::time::timeout(Duration::from_secs(2), r.verify(req)).await {
                    Ok(o) => o.status,
                    Err(_) => VerificationStatus::Abandoned,
                }
            } else {
                let o = r.verify(req).await;
                if let Some(receipt) = &o.receipt
                    && i % 2 == 0
                {
                    r.record_conversion(receipt);
                }
                o.status
            }
        }));
        tokio::time::sleep(Duration::from_millis(every_ms)).await;
    }
    let mut out = Vec::new();
    for t in tasks {
        out.push(
            t.await
                .map_err(|e| format!("a verification panicked: {e}"))?,
        );
    }
    // Let the watchers and timers run out.
    tokio::time::sleep(Duration::from_secs(3600)).await;
    Ok(out)
}

#[test]
fn every_validated_policy_is_safe_for_the_routers_arithmetic() {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(256);
    let mut runner = TestRunner::new_with_rng(
        Config {
            cases,
            failure_persistence: None,
            max_shrink_iters: 1_000,
            ..Config::default()
        },
        TestRng::from_seed(RngAlgorithm::ChaCha, &[3; 32]),
    );
    let strategy = (
        policy_toml(),
        any::<u64>(),
        [1u64..3_000, 1u64..3_000, 1u64..3_000],
        1u64..60,
        0u64..500,
    );
    let validated = std::cell::Cell::new(0u32);
    let refused = std::cell::Cell::new(0u32);
    runner
        .run(&strategy, |(text, seed, latency_ms, n, every_ms)| {
            let policy: Policy = match toml::from_str(&text) {
                Ok(p) => p,
                // Out of the type's range (a negative count, a malformed duration): serde's to
                // refuse, with its own message.
                Err(e) => {
                    prop_assert!(!e.message().trim().is_empty());
                    return Ok(());
                }
            };
            if let Err(e) = policy.validate() {
                prop_assert!(!e.field.is_empty() && !e.message.trim().is_empty(), "{e:?}");
                let built = world(policy, seed, latency_ms);
                prop_assert!(built.is_err(), "an invalid policy was built: {e}");
                refused.set(refused.get() + 1);
                return Ok(());
            }
            validated.set(validated.get() + 1);
            let router = world(policy, seed, latency_ms).map_err(TestCaseError::fail)?;
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_time()
                .start_paused(true)
                .build()
                .unwrap();
            let statuses = rt
                .block_on(drive(router, n, every_ms))
                .map_err(TestCaseError::fail)?;
            prop_assert_eq!(statuses.len() as u64, n);
            Ok(())
        })
        .unwrap();
    let (validated, refused) = (validated.get(), refused.get());
    eprintln!("{validated} policies validated and driven, {refused} refused by validate");
    assert!(
        validated > cases / 10 && refused > 0,
        "{validated} / {refused}"
    );
}
