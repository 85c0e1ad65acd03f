//! Behaviour of the router against scripted providers, in paused (virtual) time.
//!
//! Each test builds a small routing table, scripts what each provider does with each attempt,
//! drives traffic, and asserts on outcomes and on the audit trail.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use failover_router::policy::{Diversity, Policy, Strategy};
use failover_router::{
    FailureKind, NumberType, Override, RouteId, RouteState, VerificationId, VerificationStatus,
};
use serde_json::Value;

use crate::harness::*;

#[tokio::test(start_paused = true)]
async fn trips_on_consecutive_failures() {
    let mut p = priority_policy();
    p.trip.consecutive_failures = 3;
    p.health.min_volume = 1000; // rule out the rate condition
    let w = world(
        &[
            Route {
                priority: 0,
                ..r("a")
            },
            Route {
                priority: 1,
                ..r("b")
            },
        ],
        vec![down(), healthy()],
        p,
        1,
    );
    let statuses = drive(&w.router, 0, 10, ms(1000)).await;
    assert!(statuses.iter().all(|s| *s == VerificationStatus::Delivered));
    assert_eq!(
        w.events.transitions(0),
        vec![("ejected".to_owned(), "consecutive_failures".to_owned())]
    );
    let first = &w.events.of_type("state_change")[0];
    assert_eq!(first["window"]["consecutive_failures"], 3);
    // After the trip, traffic goes straight to b.
    assert_eq!(w.events.chosen_counts(2), vec![3, 10]);
}

#[tokio::test(start_paused = true)]
async fn trips_on_failure_rate_only_with_minimum_volume() {
    let mut p = priority_policy();
    p.trip.consecutive_failures = 0;
    p.health.min_volume = 20;
    p.trip.failure_rate = 0.5;
    // Every second attempt on `a` fails: rate 0.5, never 2 in a row.
    let alternating = script(|_, n| {
        if n % 2 == 0 {
            fail(50, FailureKind::Undelivered)
        } else {
            ok(1000)
        }
    });
    let w = world(
        &[
            Route {
                priority: 0,
                ..r("a")
            },
            Route {
                priority: 1,
                ..r("b")
            },
        ],
        vec![alternating, healthy()],
        p,
        1,
    );
    // 19 outcomes on `a`: below minimum volume, no verdict.
    drive(&w.router, 0, 13, ms(500)).await;
    let before = w.router.route_status(RouteId(0)).unwrap();
    assert!(
        before.window.deliveries + before.window.health_failures < 20,
        "{before:?}"
    );
    assert_eq!(before.state, RouteState::Healthy);
    drive(&w.router, 100, 10, ms(500)).await;
    assert_eq!(
        w.events.transitions(0).first(),
        Some(&("ejected".to_owned(), "failure_rate".to_owned()))
    );
    let e = &w.events.of_type("state_change")[0];
    assert!(e["window"]["failure_rate"].as_f64().unwrap() >= 0.5);
    assert!(
        e["window"]["deliveries"].as_u64().unwrap()
            + e["window"]["health_failures"].as_u64().unwrap()
            >= 20
    );
}

#[tokio::test(start_paused = true)]
async fn an_idle_route_is_never_judged() {
    let mut p = priority_policy();
    p.trip.consecutive_failures = 0;
    p.health.min_volume = 20;
    let w = world(
        &[
            r("a"),
            Route {
                priority: 1,
                ..r("b")
            },
        ],
        vec![down(), healthy()],
        p,
        1,
    );
    // Five failures at 100% rate: far over the threshold, far under the volume.
    drive(&w.router, 0, 5, ms(20_000)).await;
    assert!(w.events.transitions(0).is_empty());
}

#[tokio::test(start_paused = true)]
async fn trips_on_latency_quantile() {
    let mut p = priority_policy();
    p.health.min_volume = 10;
    p.trip.latency = Some(Duration::from_secs(10));
    p.probe.recover_latency = Some(Duration::from_secs(8));
    p.attempt_timeout = Duration::from_secs(30);
    let slow = script(|_, _| ok(15_000));
    let w = world(
        &[
            r("a"),
            Route {
                priority: 1,
                ..r("b")
            },
        ],
        vec![slow, healthy()],
        p,
        1,
    );
    drive(&w.router, 0, 15, ms(1000)).await;
    assert_eq!(
        w.events.transitions(0).first(),
        Some(&("ejected".to_owned(), "latency".to_owned()))
    );
}

#[tokio::test(start_paused = true)]
async fn user_side_failures_never_eject_and_stop_the_verification() {
    let mut p = priority_policy();
    p.trip.consecutive_failures = 2;
    p.health.min_volume = 5;
    let invalid = script(|_, _| fail(100, FailureKind::InvalidDestination));
    let w = world(
        &[
            r("a"),
            Route {
                priority: 1,
                ..r("b")
            },
        ],
        vec![invalid, healthy()],
        p,
        1,
    );
    let statuses = drive(&w.router, 0, 50, ms(500)).await;
    assert!(
        statuses
            .iter()
            .all(|s| *s == VerificationStatus::InvalidDestination)
    );
    assert!(w.events.of_type("state_change").is_empty());
    // No failover: retrying a number that does not exist elsewhere cannot help.
    assert_eq!(w.events.chosen_counts(2), vec![50, 0]);
    assert_eq!(
        w.router
            .route_status(RouteId(0))
            .unwrap()
            .window
            .user_failures,
        50
    );
}

#[tokio::test(start_paused = true)]
async fn capacity_signals_pass_a_route_over_without_ejecting_it() {
    let mut p = priority_policy();
    p.trip.consecutive_failures = 2;
    p.health.min_volume = 5;
    let limited = script(|_, n| {
        if n % 3 == 0 {
            fail(10, FailureKind::RateLimited)
        } else {
            ok(1000)
        }
    });
    p.capacity_cooldown = ms(2500);
    let w = world(
        &[
            r("a"),
            Route {
                priority: 1,
                ..r("b")
            },
        ],
        vec![limited, healthy()],
        p,
        1,
    );
    let statuses = drive(&w.router, 0, 60, ms(1000)).await;
    assert!(statuses.iter().all(|s| *s == VerificationStatus::Delivered));
    assert!(w.events.transitions(0).is_empty());
    // Each rate-limit answer fails over to b and passes `a` over for the next 2 verifications
    // (cooldown 2.5 s, one verification a second); then `a` is back. a: 1 in 3 limited.
    let counts = w.events.chosen_counts(2);
    assert_eq!(counts, vec![36, 36], "{counts:?}");
    let reasons: Vec<String> = w
        .events
        .of_type("decision")
        .iter()
        .map(|d| d["reason"].as_str().unwrap().to_owned())
        .collect();
    assert!(reasons.iter().all(|r| r == "best"));
}

#[tokio::test(start_paused = true)]
async fn restores_only_after_k_probe_successes() {
    let mut p = priority_policy();
    p.trip.consecutive_failures = 3;
    p.ejection.base = Duration::from_secs(10);
    p.ejection.jitter = 0.0;
    p.probe.successes = 3;
    p.probe.share = 0.5;
    // `a` is down for the first 20 s, then fine.
    let start = tokio::time::Instant::now();
    let a = script(move |_, _| {
        if start.elapsed() < Duration::from_secs(20) {
            fail(50, FailureKind::Unavailable)
        } else {
            ok(1000)
        }
    });
    let w = world(
        &[
            r("a"),
            Route {
                priority: 1,
                ..r("b")
            },
        ],
        vec![a, healthy()],
        p,
        1,
    );
    drive(&w.router, 0, 80, ms(500)).await;
    let t = w.events.transitions(0);
    let states: Vec<&str> = t.iter().map(|(s, _)| s.as_str()).collect();
    // Probing before 20 s fails and re-ejects; after it, three probe deliveries restore.
    assert_eq!(states.first(), Some(&"ejected"));
    assert_eq!(states.last(), Some(&"healthy"));
    assert!(
        t.contains(&("ejected".into(), "probe_failed".into())),
        "{t:?}"
    );
    let probes_before_restore = w
        .events
        .of_type("attempt")
        .iter()
        .filter(|a| a["probe"] == true && a["outcome"] == "delivered")
        .count();
    assert!(probes_before_restore >= 3);
}

#[tokio::test(start_paused = true)]
async fn hysteresis_a_route_hovering_between_thresholds_does_not_flap() {
    let mut p = priority_policy();
    p.trip.consecutive_failures = 0;
    p.trip.failure_rate = 0.5;
    p.probe.recover_failure_rate = 0.1;
    p.health.min_volume = 20;
    // 30% failures: above the recovery threshold, below the trip threshold.
    let hovering = script(|_, n| {
        if n % 10 < 3 {
            fail(50, FailureKind::Undelivered)
        } else {
            ok(1000)
        }
    });
    let w = world(
        &[
            r("a"),
            Route {
                priority: 1,
                ..r("b")
            },
        ],
        vec![hovering, healthy()],
        p.clone(),
        1,
    );
    drive(&w.router, 0, 400, ms(250)).await;
    assert!(
        w.events.transitions(0).is_empty(),
        "{:?}",
        w.events.transitions(0)
    );

    // The same route, once ejected, does not come back while it hovers: probes must be
    // clean (<= 10% failures) for K successes; a hovering probe record keeps it out or probing.
    let start = tokio::time::Instant::now();
    let hovering_after_outage = script(move |_, n| {
        if start.elapsed() < Duration::from_secs(5) || n % 10 < 3 {
            fail(50, FailureKind::Undelivered)
        } else {
            ok(1000)
        }
    });
    let mut p2 = p;
    p2.trip.consecutive_failures = 3;
    p2.probe.share = 1.0;
    // Probes in flight are capped at `probe.successes`, so the evidence for a restore is that
    // many probes: ten (not three, which a 30%-failing route passes a third of the time).
    p2.probe.successes = 10;
    let w = world(
        &[
            r("a"),
            Route {
                priority: 1,
                ..r("b")
            },
        ],
        vec![hovering_after_outage, healthy()],
        p2,
        1,
    );
    drive(&w.router, 0, 400, ms(250)).await;
    let t = w.events.transitions(0);
    let restores = t.iter().filter(|(s, _)| s == "healthy").count();
    let ejections = t.iter().filter(|(s, _)| s == "ejected").count();
    assert!(ejections >= 1, "{t:?}");
    assert!(restores <= 1, "a hovering route flapped: {t:?}");
}

#[tokio::test(start_paused = true)]
async fn probe_share_is_bounded() {
    let mut p = priority_policy();
    p.trip.consecutive_failures = 2;
    p.ejection.base = Duration::from_secs(5);
    p.ejection.max = Duration::from_secs(5);
    p.ejection.jitter = 0.0;
    p.probe.share = 0.1;
    // a is down for good; its probes keep failing.
    let w = world(
        &[
            r("a"),
            Route {
                priority: 1,
                ..r("b")
            },
        ],
        vec![down(), healthy()],
        p,
        1,
    );
    drive(&w.router, 0, 1000, ms(100)).await;
    let decisions = w.events.of_type("decision");
    let probes = decisions.iter().filter(|d| d["reason"] == "probe").count();
    assert!(probes > 0);
    // Credit starts at one probe and grows by `share` per decision: <= 1 + share * decisions per
    // probing period, and most of the time the route is ejected (no probes at all).
    assert!(
        (probes as f64) <= 0.1 * decisions.len() as f64 + 1.0,
        "{probes} of {}",
        decisions.len()
    );
}

#[tokio::test(start_paused = true)]
async fn ejection_time_backs_off_caps_and_decays() {
    let mut p = priority_policy();
    p.trip.consecutive_failures = 1;
    p.ejection.base = Duration::from_secs(10);
    p.ejection.backoff = 2.0;
    p.ejection.max = Duration::from_secs(40);
    p.ejection.jitter = 0.0;
    p.ejection.decay_after = Duration::from_secs(60);
    p.probe.share = 1.0;
    p.probe.successes = 1;
    let start = tokio::time::Instant::now();
    // Down for 200 s, then healthy for good.
    let a = script(move |_, _| {
        if start.elapsed() < Duration::from_secs(200) {
            fail(10, FailureKind::Unavailable)
        } else {
            ok(500)
        }
    });
    let w = world(
        &[
            r("a"),
            Route {
                priority: 1,
                ..r("b")
            },
        ],
        vec![a, healthy()],
        p,
        1,
    );
    drive(&w.router, 0, 400, ms(1000)).await;
    let ejected_for: Vec<f64> = w
        .events
        .of_type("state_change")
        .iter()
        .filter(|e| e["route"] == 0 && e["to"] == "ejected")
        .map(|e| e["ejected_for"].as_f64().unwrap())
        .collect();
    assert_eq!(
        &ejected_for[..4],
        &[10.0, 20.0, 40.0, 40.0],
        "{ejected_for:?}"
    );
    assert_eq!(
        w.router.route_status(RouteId(0)).unwrap().state,
        RouteState::Healthy
    );
    // Healthy since ~200 s with traffic every second: the multiplier has decayed from 4.
    assert!(
        w.router
            .route_status(RouteId(0))
            .unwrap()
            .backoff_multiplier
            < 4.0
    );
}

#[tokio::test(start_paused = true)]
async fn ejection_cap_is_never_exceeded_under_mass_failure() {
    let mut p = Policy {
        strategy: Strategy::Weighted,
        exploration: 0.0,
        ..Policy::default()
    };
    p.trip.consecutive_failures = 2;
    p.ejection.max_ejected_share = 0.5;
    p.diversity = Diversity::None;
    let routes = [r("a"), r("b"), r("c"), r("d"), r("e")];
    let w = world(&routes, vec![down(), down(), down(), down(), down()], p, 3);
    drive(&w.router, 0, 300, ms(200)).await;
    // Replay the audit trail: never more than floor(0.5 * 5) = 2 routes out at once.
    let mut out = std::collections::BTreeSet::new();
    let mut max_out = 0;
    for e in w.events.of_type("state_change") {
        let route = e["route"].as_u64().unwrap();
        if e["to"] == "healthy" {
            out.remove(&route);
        } else {
            out.insert(route);
        }
        max_out = max_out.max(out.len());
    }
    assert_eq!(max_out, 2);
    assert!(!w.events.of_type("trip_suppressed").is_empty());
}

#[tokio::test(start_paused = true)]
async fn panic_mode_serves_the_least_bad_route_and_is_left_when_one_recovers() {
    let mut p = priority_policy();
    p.trip.consecutive_failures = 2;
    p.ejection.max_ejected_share = 1.0;
    p.ejection.base = Duration::from_secs(30);
    p.ejection.jitter = 0.0;
    p.probe.share = 1.0;
    p.probe.successes = 1;
    let start = tokio::time::Instant::now();
    let broken_until = |secs: u64| {
        script(move |_, _| {
            if start.elapsed() < Duration::from_secs(secs) {
                fail(10, FailureKind::Unavailable)
            } else {
                ok(500)
            }
        })
    };
    let w = world(
        &[r("a"), r("b")],
        vec![broken_until(40), broken_until(40)],
        p,
        1,
    );
    let statuses = drive(&w.router, 0, 200, ms(500)).await;
    let enters = w.events.of_type("panic_enter");
    let exits = w.events.of_type("panic_exit");
    assert!(
        !enters.is_empty() && enters.len() == exits.len(),
        "{enters:?} {exits:?}"
    );
    // In panic mode traffic is still sent (to the least bad route), not refused.
    let panic_decisions = w
        .events
        .of_type("decision")
        .iter()
        .filter(|d| d["reason"] == "panic")
        .count();
    assert!(panic_decisions > 0);
    assert!(!statuses.contains(&VerificationStatus::NoRoute));
    assert!(!w.router.in_panic(de(), NumberType::Mobile));
    assert_eq!(*statuses.last().unwrap(), VerificationStatus::Delivered);
}

#[tokio::test(start_paused = true)]
async fn diversity_rule_is_honoured() {
    // a and b are different providers behind one aggregator ("agg"); c is independent.
    let mut p = priority_policy();
    p.diversity = Diversity::FailureDomain;
    p.diversity_fallback = false;
    p.trip.consecutive_failures = 1000;
    p.max_attempts = 3;
    let routes = [
        Route {
            priority: 0,
            domains: &["agg"],
            ..r("a")
        },
        Route {
            priority: 1,
            domains: &["agg"],
            ..r("b")
        },
        Route {
            priority: 2,
            domains: &[],
            ..r("c")
        },
    ];
    let w = world(&routes, vec![down(), down(), healthy()], p.clone(), 1);
    let statuses = drive(&w.router, 0, 20, ms(1000)).await;
    assert!(statuses.iter().all(|s| *s == VerificationStatus::Delivered));
    // b shares a failure domain with a: never the retry after a.
    assert_eq!(w.events.chosen_counts(3), vec![20, 0, 20]);

    // Without domain diversity the retry goes to b (next priority) first.
    p.diversity = Diversity::Provider;
    let w = world(&routes, vec![down(), down(), healthy()], p, 1);
    drive(&w.router, 0, 20, ms(1000)).await;
    assert_eq!(w.events.chosen_counts(3), vec![20, 20, 20]);
}

#[tokio::test(start_paused = true)]
async fn deadline_is_honoured_even_against_black_holes() {
    let mut p = priority_policy();
    p.deadline = Duration::from_secs(30);
    p.attempt_timeout = Duration::from_secs(20);
    p.max_attempts = 5;
    p.trip.consecutive_failures = 1000;
    let black_hole = script(|_, _| (Duration::ZERO, None));
    let w = world(
        &[
            r("a"),
            Route {
                priority: 1,
                ..r("b")
            },
        ],
        vec![black_hole.clone(), black_hole],
        p,
        1,
    );
    let t0 = tokio::time::Instant::now();
    let out = w.router.verify(request(1)).await;
    assert_eq!(out.status, VerificationStatus::DeadlineExceeded);
    assert_eq!(t0.elapsed(), Duration::from_secs(30));
    // 20 s on a, then the remaining 10 s on b.
    assert_eq!(out.attempts, 2);
    let attempts = w.events.of_type("attempt");
    assert_eq!(attempts.len(), 1, "{attempts:?}");
    assert_eq!(attempts[0]["latency"], 20.0);
    // b's attempt was cut short by the deadline, which is no evidence against b: it is judged
    // at its own 20 s timeout, after the verification ended.
    tokio::time::sleep(Duration::from_secs(11)).await;
    let attempts = w.events.of_type("attempt");
    assert_eq!(attempts[1]["latency"], 20.0);
    assert_eq!(attempts[1]["outcome"]["failed"], "timeout");
}

#[tokio::test(start_paused = true)]
async fn a_late_delivery_before_the_deadline_still_verifies_and_duplicates_are_counted() {
    let mut p = priority_policy();
    p.attempt_timeout = Duration::from_secs(10);
    p.deadline = Duration::from_secs(60);
    p.trip.consecutive_failures = 1000;
    p.trip.latency = None;
    // a delivers after 15 s (times out at 10 s); b after 8 s. a's message arrives first.
    let w = world(
        &[
            r("a"),
            Route {
                priority: 1,
                ..r("b")
            },
        ],
        vec![script(|_, _| ok(15_000)), script(|_, _| ok(8_000))],
        p,
        1,
    );
    let out = w.router.verify(request(1)).await;
    assert_eq!(out.status, VerificationStatus::Delivered);
    assert_eq!(out.time_to_verify, Some(Duration::from_secs(15)));
    assert_eq!(out.receipt.unwrap().route, RouteId(0));
    // Both attempts are paid for: the timed-out one and the one still in flight.
    assert!((out.cost - 0.01).abs() < 1e-12, "{}", out.cost);
    tokio::time::sleep(Duration::from_secs(10)).await;
    let late = w.events.of_type("late_delivery");
    assert_eq!(late.len(), 2, "{late:?}");
    assert_eq!(late[0]["duplicate"], false);
    assert_eq!(late[1]["duplicate"], true);
    let billed: f64 = w
        .events
        .of_type("attempt")
        .iter()
        .map(|a| a["cost"].as_f64().unwrap())
        .sum();
    assert!((billed - 0.02).abs() < 1e-12);
}

#[tokio::test(start_paused = true)]
async fn retry_budget_stops_a_retry_storm() {
    let mut p = Policy {
        strategy: Strategy::Weighted,
        exploration: 0.0,
        max_attempts: 3,
        ..Policy::default()
    };
    p.trip.consecutive_failures = 0;
    p.trip.failure_rate = 1.0;
    p.health.min_volume = u32::MAX;
    p.retry_budget.ratio = 0.2;
    p.retry_budget.min_per_second = 1.0;
    p.retry_budget.window = Duration::from_secs(10);
    let routes = [r("a"), r("b"), r("c")];
    let w = world(&routes, vec![down(), down(), down()], p, 1);
    let statuses = drive(&w.router, 0, 1000, ms(20)).await;
    let attempts = w.events.of_type("attempt").len();
    // Without a budget: 3000 attempts. With it: ~1000 first attempts + 20% retries (+ floor).
    assert!(attempts < 1000 + 250 + 40, "{attempts}");
    assert!(attempts > 1000 + 150, "{attempts}");
    assert!(statuses.contains(&VerificationStatus::RetryBudgetExhausted));
}

#[tokio::test(start_paused = true)]
async fn same_seed_gives_the_same_decisions() {
    let run = |seed: u64| async move {
        let mut p = Policy {
            strategy: Strategy::Thompson,
            ..Policy::default()
        };
        p.trip.consecutive_failures = 3;
        let flaky = script(|a, _| {
            if a.id.0 % 4 == 0 {
                fail(100, FailureKind::Undelivered)
            } else {
                ok(1500)
            }
        });
        let w = world(
            &[r("a"), r("b"), r("c")],
            vec![flaky, healthy(), down()],
            p,
            seed,
        );
        drive(&w.router, 0, 300, ms(100)).await;
        let events = w.events.0.lock().unwrap().clone();
        serde_json::to_string(&events).unwrap()
    };
    let a = run(7).await;
    assert_eq!(a, run(7).await);
    assert_ne!(a, run(8).await);
}

#[tokio::test(start_paused = true)]
async fn thompson_concentrates_on_the_best_of_three_routes() {
    let mut p = Policy {
        strategy: Strategy::Thompson,
        max_attempts: 1,
        ..Policy::default()
    };
    // Keep every route in service: this is about learning, not ejection.
    p.trip.consecutive_failures = 0;
    p.trip.failure_rate = 1.0;
    p.ejection.max_ejected_share = 0.0;
    let rate = |good_in_10: u64| {
        script(move |a, _| {
            if (a.id.0 * 7919) % 10 < good_in_10 {
                ok(1000)
            } else {
                fail(200, FailureKind::Undelivered)
            }
        })
    };
    let w = world(
        &[r("a"), r("b"), r("c")],
        vec![rate(5), rate(9), rate(7)],
        p,
        11,
    );
    drive(&w.router, 0, 3000, ms(20)).await;
    let counts = w.events.chosen_counts(3);
    let late: Vec<usize> = {
        let d = w.events.of_type("decision");
        let mut c = vec![0; 3];
        for e in &d[d.len() - 1000..] {
            c[e["chosen"].as_u64().unwrap() as usize] += 1;
        }
        c
    };
    assert!(late[1] > 700, "late share {late:?} (all {counts:?})");
}

#[tokio::test(start_paused = true)]
async fn score_strategy_moves_off_a_degraded_route_and_records_probabilities() {
    let mut p = Policy::default();
    p.trip.consecutive_failures = 0;
    p.trip.failure_rate = 1.0;
    p.exploration = 0.05;
    let start = tokio::time::Instant::now();
    let degrading = script(move |_, n| {
        if start.elapsed() > Duration::from_secs(60) && n % 2 == 0 {
            fail(100, FailureKind::Undelivered)
        } else {
            ok(1000)
        }
    });
    let w = world(
        &[
            Route {
                cost: 0.01,
                ..r("cheap")
            },
            Route {
                cost: 0.015,
                ..r("dear")
            },
        ],
        vec![degrading, healthy()],
        p,
        5,
    );
    // Degrades at 60 s; the 60 s window has mostly forgotten the good past by ~100 s.
    drive(&w.router, 0, 1800, ms(100)).await;
    let d = w.events.of_type("decision");
    let share_cheap = |slice: &[Value]| {
        slice
            .iter()
            .filter(|e| e["attempt"] == 1 && e["chosen"] == 0)
            .count() as f64
            / slice.iter().filter(|e| e["attempt"] == 1).count() as f64
    };
    let early = share_cheap(&d[..400]);
    let late = share_cheap(&d[d.len() - 400..]);
    assert!(early > 0.9, "{early}");
    assert!(late < 0.2, "{late}");
    for e in &d {
        let p = e["probability"].as_f64().unwrap();
        assert!(p > 0.0 && p <= 1.0);
    }
}

#[tokio::test(start_paused = true)]
async fn overrides_force_eject_and_shadow() {
    let mut p = priority_policy();
    p.trip.consecutive_failures = 2;
    let w = world(
        &[
            r("a"),
            Route {
                priority: 1,
                ..r("b")
            },
        ],
        vec![down(), healthy()],
        p,
        1,
    );
    w.router.set_override(RouteId(0), Override::Shadow).unwrap();
    drive(&w.router, 0, 10, ms(1000)).await;
    // Shadow: the trip is logged as such, traffic keeps flowing to `a` first.
    let sc = w.events.of_type("state_change");
    assert!(
        sc.iter()
            .any(|e| e["to"] == "ejected" && e["shadow"] == true)
    );
    assert_eq!(w.events.chosen_counts(2)[0], 10);
    assert_eq!(
        w.router.route_status(RouteId(0)).unwrap().state,
        RouteState::Healthy
    );
    assert_eq!(
        w.router.route_status(RouteId(0)).unwrap().evaluated,
        RouteState::Ejected
    );

    w.router
        .set_override(RouteId(1), Override::ForceEject)
        .unwrap();
    w.router
        .set_override(RouteId(0), Override::ForceHealthy)
        .unwrap();
    let out = w.router.verify(request(99)).await;
    // b is forced out even though a fails: the operator's word wins.
    assert_eq!(out.status, VerificationStatus::AttemptsExhausted);
    assert_eq!(out.attempts, 1);
}

#[tokio::test(start_paused = true)]
async fn compliance_rules_filter_candidates() {
    let mut p = priority_policy();
    p.compliance = vec![failover_router::policy::ComplianceRule {
        country: Some(de()),
        use_case: Some("marketing".into()),
        allow: vec![],
        deny: vec!["a".into()],
    }];
    let w = world(
        &[
            r("a"),
            Route {
                priority: 1,
                ..r("b")
            },
        ],
        vec![healthy(), healthy()],
        p,
        1,
    );
    let mut req = request(1);
    req.use_case = Some("marketing".into());
    w.router.verify(req).await;
    w.router.verify(request(2)).await;
    assert_eq!(w.events.chosen_counts(2), vec![1, 1]);
}

#[tokio::test(start_paused = true)]
async fn adaptive_timeout_follows_observed_latency() {
    let mut p = priority_policy();
    p.health.min_volume = 10;
    p.adaptive_timeout = Some(failover_router::policy::AdaptiveTimeout {
        quantile: 0.95,
        factor: 1.5,
        min: Duration::from_secs(2),
        max: Duration::from_secs(30),
    });
    let w = world(
        &[
            r("a"),
            Route {
                priority: 1,
                ..r("b")
            },
        ],
        vec![script(|_, _| ok(2000)), healthy()],
        p,
        1,
    );
    drive(&w.router, 0, 20, ms(500)).await;
    let mut rx = request(100);
    rx.id = VerificationId(100);
    w.router.verify(rx).await;
    // Without data: the fixed 20 s. With 2 s deliveries: ~1.5 x 2.x s.
    let timeouts: Vec<f64> = w
        .events
        .of_type("attempt")
        .iter()
        .map(|a| a["latency"].as_f64().unwrap())
        .collect();
    assert!(timeouts.iter().all(|l| (*l - 2.0).abs() < 1e-9));
    // The decision trail doesn't carry the timeout; route_status does carry the quantile.
    let q = w
        .router
        .route_status(RouteId(0))
        .unwrap()
        .window
        .latency_quantile
        .unwrap();
    assert!((2.0..2.5).contains(&q), "{q}");
}

#[test]
fn many_concurrent_verifications_on_a_multi_thread_runtime() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_time()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut p = Policy::default();
        p.trip.consecutive_failures = 3;
        let flaky = script(|a, _| {
            if a.id.0 % 3 == 0 {
                fail(1, FailureKind::Unavailable)
            } else {
                ok(1)
            }
        });
        let w = world(
            &[r("a"), r("b"), r("c")],
            vec![flaky, script(|_, _| ok(1)), script(|_, _| ok(2))],
            p,
            1,
        );
        let mut handles = Vec::new();
        for t in 0..8u64 {
            let router = w.router.clone();
            handles.push(tokio::spawn(async move {
                let mut delivered = 0;
                for i in 0..250 {
                    if router.verify(request(t * 1000 + i)).await.delivered() {
                        delivered += 1;
                    }
                }
                delivered
            }));
        }
        let mut total = 0;
        for h in handles {
            total += h.await.unwrap();
        }
        assert_eq!(total, 2000);
        // Conservation: one finished event per verification, each decision accounted for.
        assert_eq!(w.events.of_type("finished").len(), 2000);
        let attempts = w.events.of_type("attempt").len();
        let chosen = w
            .events
            .of_type("decision")
            .iter()
            .filter(|d| !d["chosen"].is_null())
            .count();
        assert_eq!(attempts, chosen);
    });
}

#[tokio::test(start_paused = true)]
async fn destinations_never_appear_in_clear_in_the_audit_trail() {
    let w = world(
        &[r("a"), r("b")],
        vec![down(), healthy()],
        Policy::default(),
        1,
    );
    drive(&w.router, 0, 20, ms(100)).await;
    let text = serde_json::to_string(&*w.events.0.lock().unwrap()).unwrap();
    assert!(text.contains("+49******"));
    assert!(!text.contains("4915112345"), "clear number in audit trail");
}

#[tokio::test(start_paused = true)]
async fn a_route_converting_far_worse_than_its_peers_is_ejected() {
    let mut p = Policy {
        strategy: Strategy::Weighted,
        exploration: 0.0,
        ..Policy::default()
    };
    p.health.min_volume = 10;
    p.trip.min_relative_conversion = Some(0.5);
    // Conversions here come at once: deliveries older than 10 s have had time to convert.
    p.trip.conversion_lag = Duration::from_secs(10);
    let w = world(
        &[r("a"), r("b"), r("c")],
        vec![healthy(), healthy(), healthy()],
        p,
        1,
    );
    // Deliveries on `a` never convert (a grey route delivering to the wrong handsets); on b and
    // c four in five do. Only a is judged: the group's pooled rate is the yardstick.
    for i in 0..120 {
        let out = w.router.verify(request(i)).await;
        let receipt = out.receipt.unwrap();
        if receipt.route != RouteId(0) && i % 5 != 0 {
            w.router.record_conversion(&receipt);
        }
    }
    assert_eq!(
        w.events.transitions(0).first(),
        Some(&("ejected".to_owned(), "conversion".to_owned()))
    );
    assert!(
        w.events.transitions(1).is_empty(),
        "{:?}",
        w.events.transitions(1)
    );
    assert!(w.events.transitions(2).is_empty());
}

#[tokio::test(start_paused = true)]
async fn low_conversion_everywhere_trips_nothing() {
    // A fraud spike lowers conversion on every route: no route is worse than its peers.
    let mut p = Policy {
        strategy: Strategy::Weighted,
        exploration: 0.0,
        ..Policy::default()
    };
    p.health.min_volume = 10;
    p.trip.min_relative_conversion = Some(0.5);
    let w = world(&[r("a"), r("b")], vec![healthy(), healthy()], p, 1);
    for i in 0..200 {
        let out = w.router.verify(request(i)).await;
        if i % 10 == 0 {
            w.router.record_conversion(&out.receipt.unwrap());
        }
    }
    assert!(w.events.of_type("state_change").is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_single_slow_probe_does_not_keep_a_route_out_forever() {
    let mut p = priority_policy();
    p.trip.consecutive_failures = 3;
    p.attempt_timeout = Duration::from_secs(40);
    p.deadline = Duration::from_secs(90);
    p.ejection.base = Duration::from_secs(10);
    p.ejection.jitter = 0.0;
    p.probe.share = 1.0;
    p.probe.successes = 3;
    p.probe.recover_failure_rate = 0.25;
    p.probe.recover_latency = Some(Duration::from_secs(24));
    p.trip.latency = Some(Duration::from_secs(30));
    // Probes wait as long as any attempt, so the slow probe is not given up on.
    p.probe.timeout = Duration::from_secs(40);
    let start = tokio::time::Instant::now();
    let slow_once = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let a = script(move |_, _| {
        if start.elapsed() < Duration::from_secs(5) {
            return fail(10, FailureKind::Unavailable);
        }
        // The first call after the outage is slow (between recover_latency and trip.latency).
        if slow_once.swap(false, Ordering::Relaxed) {
            ok(26_000)
        } else {
            ok(1000)
        }
    });
    let w = world(
        &[
            r("a"),
            Route {
                priority: 1,
                ..r("b")
            },
        ],
        vec![a, healthy()],
        p,
        1,
    );
    drive(&w.router, 0, 120, ms(500)).await;
    let t = w.events.transitions(0);
    assert_eq!(t.last().map(|(s, _)| s.as_str()), Some("healthy"), "{t:?}");
    assert!(
        !t.contains(&("ejected".into(), "probe_failed".into())),
        "{t:?}"
    );
}

/// An adapter that answers at once: an in-process one, a cache, a mock in a service's tests.
struct Instant;

impl failover_router::ProviderAdapter for Instant {
    fn send(&self, _: failover_router::Attempt) -> failover_router::AttemptFuture {
        Box::pin(std::future::ready(
            failover_router::AttemptOutcome::Delivered,
        ))
    }
}

/// A verification whose attempt answers at once arms no timer: a timer is made only when
/// something has to be waited for. Arming one takes a lock of tokio's timer wheel and dropping
/// it another, which the workers of a multi-thread runtime contend for (README, "Router under
/// load"). A runtime without timers proves it: making a timer there panics.
#[test]
fn an_attempt_answered_at_once_arms_no_timer() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let outcomes = rt.block_on(async {
        let events = Arc::new(Recorder::default());
        let w = world_with(
            &[r("a")],
            vec![Arc::new(Instant)],
            priority_policy(),
            1,
            events.clone(),
            events,
        );
        let mut out = Vec::new();
        for i in 0..100 {
            out.push(w.router.verify(request(i)).await);
        }
        out
    });
    assert!(
        outcomes
            .iter()
            .all(|o| o.status == VerificationStatus::Delivered && o.attempts == 1),
        "{outcomes:?}"
    );
}
