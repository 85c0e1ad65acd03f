//! Regressions: ways today's router fails under faults, each pinned by a test that fails on the
//! router as it was when the test was written and passes once the router is fixed.
//!
//! The tests only use the public API that existed when they were written, so they compile
//! against both versions: new event types and fields are read from the JSON audit trail,
//! policies with new fields are parsed from TOML (today that parse fails, which counts as a
//! failure), and panics are observed through `JoinError` or `catch_unwind`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use failover_router::policy::{ComplianceRule, Diversity, Policy, Strategy};
use failover_router::{
    Attempt, AttemptFuture, DecisionReason, EventSink, FailureKind, NumberType, Override,
    ProviderAdapter, RouteId, RouteState, RouterEvent, VerificationOutcome, VerificationStatus,
};
use serde_json::Value;
use tokio::time::Instant;

use crate::harness::*;

/// Events at or after `t` seconds.
fn after(events: &[Value], t: f64) -> Vec<Value> {
    events
        .iter()
        .filter(|e| e["at"].as_f64().unwrap() >= t)
        .cloned()
        .collect()
}

/// Attempt events of `route` with the given failure kind.
fn failed_attempts(events: &Recorder, route: u32, kind: &str) -> usize {
    events
        .of_type("attempt")
        .iter()
        .filter(|a| a["route"] == route && a["outcome"]["failed"] == kind)
        .count()
}

/// First-attempt decisions, in order.
fn first_attempts(events: &Recorder) -> Vec<Value> {
    events
        .of_type("decision")
        .into_iter()
        .filter(|d| d["attempt"] == 1)
        .collect()
}

/// The time of the first transition of `route` to `to` for `reason`.
fn transition_at(events: &Recorder, route: u32, to: &str, reason: &str) -> Option<f64> {
    events
        .of_type("state_change")
        .iter()
        .find(|e| e["route"] == route && e["to"] == to && e["reason"] == reason)
        .map(|e| e["at"].as_f64().unwrap())
}

/// A deterministic hash of an id (attempt or verification), for scripted faults that hit a
/// fixed share without any period that windows or credits could line up with.
fn hash(id: u64) -> u64 {
    let x = id.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    let x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

fn a_then_b() -> [Route<'static>; 2] {
    [
        r("a"),
        Route {
            priority: 1,
            ..r("b")
        },
    ]
}

fn parse(toml_text: &str) -> Policy {
    toml::from_str::<Policy>(toml_text)
        .unwrap_or_else(|e| panic!("policy with the new fields does not parse: {e}"))
}

// ---------------------------------------------------------------------------------------------
// 1. Callers that stop waiting.

/// Before: dropping the `verify` future (a caller-side timeout shorter than the attempt
/// timeout) dropped its in-flight attempts with it, so a black-holing route was never judged
/// (it stayed healthy and kept receiving every first attempt) and the verification left no
/// `finished` event at all.
#[tokio::test(start_paused = true)]
async fn a_dropped_verify_still_judges_its_attempts_and_reports_abandoned() {
    let mut p = priority_policy();
    p.attempt_timeout = secs(20);
    let w = world(
        &a_then_b(),
        vec![script(|_, _| black_hole()), healthy()],
        p,
        1,
    );
    let mut handles = Vec::new();
    for i in 0..50 {
        let r = w.router.clone();
        handles.push(tokio::spawn(async move {
            tokio::time::timeout(secs(15), r.verify(request(i))).await
        }));
        tokio::time::sleep(ms(100)).await;
    }
    for h in handles {
        assert!(h.await.unwrap().is_err(), "the caller gives up first");
    }
    tokio::time::sleep(secs(60)).await;
    let status = w.router.route_status(RouteId(0)).unwrap();
    assert_ne!(
        status.state,
        RouteState::Healthy,
        "a route that black-holed 50 attempts is still healthy: {status:?}"
    );
    assert!(
        failed_attempts(&w.events, 0, "timeout") >= 5,
        "the abandoned attempts were never judged"
    );
    let abandoned = w
        .events
        .of_type("finished")
        .iter()
        .filter(|f| f["status"] == "abandoned")
        .count();
    assert_eq!(abandoned, 50);
}

// ---------------------------------------------------------------------------------------------
// 2. Panics in adapters and sinks.

/// An adapter that panics, in `send` or in the future it returns.
struct Panicking {
    in_future: bool,
}

impl ProviderAdapter for Panicking {
    fn send(&self, attempt: Attempt) -> AttemptFuture {
        if !self.in_future {
            panic!("adapter bug in send (attempt {})", attempt.id.0);
        }
        Box::pin(async move {
            tokio::time::sleep(ms(10)).await;
            panic!(
                "adapter bug in the attempt future (attempt {})",
                attempt.id.0
            )
        })
    }
}

async fn verify_with_a_panicking_primary(in_future: bool) {
    let events = Arc::new(Recorder::default());
    let w = world_with(
        &a_then_b(),
        vec![
            Arc::new(Panicking { in_future }),
            Scripted::adapter(healthy()),
        ],
        priority_policy(),
        1,
        events.clone(),
        events,
    );
    let r = w.router.clone();
    let joined = tokio::spawn(async move { r.verify(request(1)).await }).await;
    let out = match joined {
        Ok(out) => out,
        Err(e) => panic!("the adapter's panic took the verification down: {e}"),
    };
    assert_eq!(out.status, VerificationStatus::Delivered);
    assert_eq!(out.attempts, 2);
    let attempts = w.events.of_type("attempt");
    let a = attempts.iter().find(|a| a["route"] == 0).unwrap();
    assert_eq!(a["outcome"]["failed"], "unavailable", "{a}");
    assert_eq!(a["adapter_panic"], true, "{a}");
    let b = attempts.iter().find(|a| a["route"] == 1).unwrap();
    assert!(b.get("adapter_panic").is_none(), "{b}");
}

/// Before: a panic in an adapter's `send` unwound through `verify`, killing the caller's task
/// instead of failing over.
#[tokio::test(start_paused = true)]
async fn an_adapter_panicking_in_send_fails_over() {
    verify_with_a_panicking_primary(false).await;
}

/// Before: a panic inside the attempt future unwound through `verify` likewise.
#[tokio::test(start_paused = true)]
async fn an_adapter_panicking_in_its_future_fails_over() {
    verify_with_a_panicking_primary(true).await;
}

/// Records everything, then panics on every decision event.
struct PanicsOnDecisions(Arc<Recorder>);

impl EventSink for PanicsOnDecisions {
    fn emit(&self, event: &RouterEvent<'_>) {
        self.0.emit(event);
        if matches!(event, RouterEvent::Decision(_)) {
            panic!("sink bug");
        }
    }
}

/// Before: a sink panicking on an event unwound through `verify`: a logging bug stopped
/// verification codes from being sent.
#[tokio::test(start_paused = true)]
async fn a_panicking_sink_does_not_stop_verifications() {
    let events = Arc::new(Recorder::default());
    let w = world_with(
        &a_then_b(),
        vec![Scripted::adapter(healthy()), Scripted::adapter(healthy())],
        priority_policy(),
        1,
        events.clone(),
        Arc::new(PanicsOnDecisions(events)),
    );
    let r = w.router.clone();
    let joined = tokio::spawn(async move { r.verify(request(1)).await }).await;
    match joined {
        Ok(out) => assert_eq!(out.status, VerificationStatus::Delivered),
        Err(e) => panic!("the sink's panic took the verification down: {e}"),
    }
}

/// Real time, two worker threads: panics in send and in futures of one provider, callers
/// cancelling some verifications. Before: every verification touching the panicking provider
/// died with it, and the provider was never judged (it stayed healthy, first in line).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn panics_and_cancellations_on_a_multi_thread_runtime() {
    /// Panics in `send` for odd attempt ids, in the future for even ones.
    struct Mixed;
    impl ProviderAdapter for Mixed {
        fn send(&self, attempt: Attempt) -> AttemptFuture {
            Panicking {
                in_future: attempt.id.0.is_multiple_of(2),
            }
            .send(attempt)
        }
    }
    let events = Arc::new(Recorder::keeping(|e| {
        matches!(e, RouterEvent::StateChange(_) | RouterEvent::Finished(_))
    }));
    let w = world_with(
        &a_then_b(),
        vec![Arc::new(Mixed), Scripted::adapter(script(|_, _| ok(20)))],
        priority_policy(),
        1,
        events.clone(),
        events,
    );
    let mut handles = Vec::new();
    for i in 0..200u64 {
        let r = w.router.clone();
        handles.push(tokio::spawn(async move {
            if i % 5 == 0 {
                // The caller gives up before any verification can be delivered.
                tokio::time::timeout(ms(5), r.verify(request(i))).await.ok()
            } else {
                Some(r.verify(request(i)).await)
            }
        }));
    }
    let (mut delivered, mut cancelled, mut failed, mut died) = (0, 0, 0, 0);
    for h in handles {
        match h.await {
            Ok(Some(out)) if out.delivered() => {
                assert_eq!(out.receipt.unwrap().route, RouteId(1));
                delivered += 1;
            }
            Ok(Some(_)) => failed += 1,
            Ok(None) => cancelled += 1,
            Err(_) => died += 1,
        }
    }
    assert_eq!(
        (died, failed),
        (0, 0),
        "delivered {delivered}, cancelled {cancelled}"
    );
    assert_eq!(delivered + cancelled, 200);
    assert!(delivered >= 160, "{delivered}");
    assert_ne!(
        w.router.route_status(RouteId(0)).unwrap().state,
        RouteState::Healthy
    );
}

// ---------------------------------------------------------------------------------------------
// 3. The retry budget.

/// Default policy (score), three providers, the cheapest black-holing from the start: every
/// verification of its first 20 s needs a retry when its attempt times out. Before: the retry
/// budget, sized on the verifications *started* in its window, refused ~38% of those retries
/// although a healthy route was idle.
#[tokio::test(start_paused = true)]
async fn a_black_hole_does_not_exhaust_the_retry_budget() {
    let w = world_keeping(
        &[
            Route {
                cost: 0.01,
                ..r("cheap")
            },
            Route {
                cost: 0.012,
                ..r("mid")
            },
            Route {
                cost: 0.014,
                ..r("dear")
            },
        ],
        vec![script(|_, _| black_hole()), healthy(), healthy()],
        Policy::default(),
        1,
        |e| matches!(e, RouterEvent::StateChange(_)),
    );
    let statuses = drive(&w.router, 0, 4000, ms(10)).await;
    let refused = statuses
        .iter()
        .filter(|s| **s == VerificationStatus::RetryBudgetExhausted)
        .count();
    assert_eq!(refused, 0, "{refused} of 4000 refused a retry");
}

/// A DE outage under heavy traffic (every DE route failing, 200/s) next to light US traffic
/// (60 verifications) whose primary fails every third attempt. Before: the retry budget was one for the whole
/// router, so DE's retry storm spent it and US verifications that needed a retry were refused.
#[tokio::test(start_paused = true)]
async fn an_outage_in_one_country_does_not_spend_another_countrys_retries() {
    let routes = [
        r("de1"),
        Route {
            priority: 1,
            ..r("de2")
        },
        Route {
            priority: 2,
            ..r("de3")
        },
        Route {
            country: us(),
            ..r("us1")
        },
        Route {
            country: us(),
            priority: 1,
            ..r("us2")
        },
    ];
    let us_primary = script(|_, n| {
        if n % 3 == 0 {
            fail(50, FailureKind::Unavailable)
        } else {
            ok(1000)
        }
    });
    let w = world_keeping(
        &routes,
        vec![down(), down(), down(), us_primary, healthy()],
        priority_policy(),
        1,
        |e| matches!(e, RouterEvent::StateChange(_)),
    );
    let mut de_handles = Vec::new();
    let mut us_handles = Vec::new();
    for i in 0..2000u64 {
        let r = w.router.clone();
        de_handles.push(tokio::spawn(async move { r.verify(request(i)).await }));
        if i % 33 == 10 && us_handles.len() < 60 {
            let r = w.router.clone();
            us_handles.push(tokio::spawn(async move {
                r.verify(request_to(100_000 + i, us(), NumberType::Mobile))
                    .await
            }));
        }
        tokio::time::sleep(ms(5)).await;
    }
    let mut us_statuses = BTreeMap::new();
    for h in us_handles {
        *us_statuses
            .entry(format!("{:?}", h.await.unwrap().status))
            .or_insert(0) += 1;
    }
    for h in de_handles {
        h.await.unwrap();
    }
    assert_eq!(
        us_statuses,
        BTreeMap::from([("Delivered".to_owned(), 60)]),
        "US verifications"
    );
}

// ---------------------------------------------------------------------------------------------
// 4. Blame.

/// A, B, C by priority; A and B black-hole every third verification, C always delivers in 12 s.
/// Such a verification reaches C with 10 s of its 60 s deadline left. Before: C was blamed
/// for a timeout it was never given the time to avoid, and tripped (ejected, or suppressed only
/// by the ejection cap) although it delivered every attempt that had its full timeout.
#[tokio::test(start_paused = true)]
async fn a_route_given_only_the_deadlines_leftovers_is_not_blamed() {
    let mut p = priority_policy();
    p.attempt_timeout = secs(25);
    p.deadline = secs(60);
    p.max_attempts = 3;
    p.diversity = Diversity::Provider;
    let poisoned = script(|a, _| {
        if a.verification.0 % 3 == 0 {
            black_hole()
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
            Route {
                priority: 2,
                ..r("c")
            },
        ],
        vec![poisoned.clone(), poisoned, script(|_, _| ok(12_000))],
        p,
        1,
    );
    drive(&w.router, 0, 90, ms(1000)).await;
    tokio::time::sleep(secs(60)).await;
    let ejected: Vec<_> = w
        .events
        .transitions(2)
        .into_iter()
        .filter(|(to, _)| to == "ejected")
        .collect();
    let suppressed: Vec<Value> = w
        .events
        .of_type("trip_suppressed")
        .into_iter()
        .filter(|e| e["route"] == 2)
        .collect();
    assert!(
        ejected.is_empty() && suppressed.is_empty(),
        "C tripped: {ejected:?} {suppressed:?}"
    );
}

/// A black-holes every even verification; B, its only alternative, always takes 15 s, and a
/// retry reaches B with 10 s of the deadline left. Once B's own latencies show it cannot make
/// that, the router stops launching such retries (each would only hold the verification to its
/// deadline and spend a message), until B's window forgets (its latency record is then cold).
#[tokio::test(start_paused = true)]
async fn a_retry_that_cannot_finish_before_the_deadline_is_not_launched() {
    let mut p = priority_policy();
    p.attempt_timeout = secs(20);
    p.deadline = secs(30);
    p.trip.consecutive_failures = 0;
    p.trip.failure_rate = 1.0;
    p.trip.latency = None;
    p.probe.recover_latency = None;
    let a = script(|a, _| {
        if a.verification.0 % 2 == 0 {
            black_hole()
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
        vec![a, script(|_, _| ok(15_000))],
        p,
        1,
    );
    let statuses = drive(&w.router, 0, 100, ms(1000)).await;
    let retries_on_b = w
        .events
        .of_type("decision")
        .iter()
        .filter(|d| d["attempt"] == 2 && d["chosen"] == 1)
        .count();
    let refused = w
        .events
        .of_type("decision")
        .iter()
        .filter(|d| d["attempt"] == 2 && d["reason"] == "no_candidate")
        .count();
    // 50 even verifications need a retry; B serves them until 20 of its deliveries (its
    // minimum volume of latency samples) are back, 15 s after each launch, then none until its
    // window has forgotten them.
    assert!((20..=40).contains(&retries_on_b), "{retries_on_b}");
    assert!(refused >= 10, "{refused}");
    assert_eq!(retries_on_b + refused, 50);
    // Odd verifications all deliver; even ones fail either way, the refused ones without
    // waiting for the deadline.
    let delivered = statuses
        .iter()
        .filter(|s| **s == VerificationStatus::Delivered)
        .count();
    assert_eq!(delivered, 50);
}

/// `explain` answers "where would this go now" without changing anything: a router asked a
/// hundred times makes exactly the decisions of its twin that was never asked, probe credit,
/// exploration and random draws included.
#[tokio::test(start_paused = true)]
async fn explain_changes_no_state() {
    // Weighted: every decision draws from the generator.
    let mut p = Policy {
        strategy: Strategy::Weighted,
        ..Policy::default()
    };
    p.exploration = 0.2;
    p.exploration_budget = 1.0;
    p.trip.consecutive_failures = 2;
    p.ejection.base = secs(5);
    let build = || {
        let start = Instant::now();
        let flaky = script(move |_, _| {
            if start.elapsed() < secs(10) {
                fail(50, FailureKind::Unavailable)
            } else {
                ok(800)
            }
        });
        world(
            &[r("a"), r("b"), r("c")],
            vec![flaky, healthy(), script(|_, _| ok(1500))],
            p.clone(),
            7,
        )
    };
    let (asked, twin) = (build(), build());
    for i in 0..60u64 {
        for _ in 0..100 {
            let e = asked.router.explain(&request(1000 + i));
            assert!(e.chosen.is_some());
            assert_eq!(e.candidates.len(), 3);
        }
        let (x, y) = tokio::join!(
            asked.router.verify(request(i)),
            twin.router.verify(request(i))
        );
        assert_eq!(x, y, "verification {i}");
        tokio::time::sleep(ms(500)).await;
    }
    let decisions = |w: &World| -> Vec<(Value, Value, Value)> {
        w.events
            .of_type("decision")
            .into_iter()
            .map(|d| {
                (
                    d["chosen"].clone(),
                    d["reason"].clone(),
                    d["probability"].clone(),
                )
            })
            .collect()
    };
    assert_eq!(decisions(&asked), decisions(&twin));
    // Explaining emits nothing, and the run went through ejection and probing.
    assert_eq!(
        asked.events.of_type("decision").len(),
        twin.events.of_type("decision").len()
    );
    assert!(
        asked
            .events
            .transitions(0)
            .iter()
            .any(|(to, _)| to == "probing")
    );
}

/// A answers `invalid_destination` for half of the numbers, all of which B delivers to. Before:
/// user-attributed failures never counted against a route, so a route wrongly rejecting valid
/// numbers kept its traffic (and those users got no code).
#[tokio::test(start_paused = true)]
async fn a_route_rejecting_valid_numbers_is_ejected() {
    let p = Policy {
        strategy: Strategy::Weighted,
        exploration: 0.0,
        ..Policy::default()
    };
    let w = world(
        &[
            r("a"),
            Route {
                weight: 4.0,
                ..r("b")
            },
        ],
        vec![
            script(|a, _| {
                if a.verification.0 % 2 == 1 {
                    fail(200, FailureKind::InvalidDestination)
                } else {
                    ok(1000)
                }
            }),
            script(|_, _| ok(1000)),
        ],
        p,
        1,
    );
    drive(&w.router, 0, 400, ms(100)).await;
    let t = w.events.transitions(0);
    assert!(
        t.contains(&("ejected".to_owned(), "invalid_destinations".to_owned())),
        "a was never ejected for invalid_destinations; its transitions: {t:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// 5. Probing.

/// `a` fails fast for 5 s (ejected), then black-holes; `b` delivers in 1 s.
fn outage_then_black_hole() -> Vec<Arc<Script>> {
    let start = Instant::now();
    vec![
        script(move |_, _| {
            if start.elapsed() < secs(5) {
                fail(50, FailureKind::Unavailable)
            } else {
                black_hole()
            }
        }),
        script(|_, _| ok(1000)),
    ]
}

/// The most probe decisions for `route` within any `span` of time.
fn max_probes_within(events: &Recorder, route: u32, span: f64) -> usize {
    let times: Vec<f64> = events
        .of_type("decision")
        .iter()
        .filter(|d| d["reason"] == "probe" && d["chosen"] == route)
        .map(|d| d["at"].as_f64().unwrap())
        .collect();
    (0..times.len())
        .map(|i| {
            times[i..]
                .iter()
                .take_while(|t| **t < times[i] + span)
                .count()
        })
        .max()
        .unwrap_or(0)
}

/// Before: probe credit grew with every decision of the group, so at high traffic a probing
/// route that black-holes received dozens of probes before the first one could time out.
#[tokio::test(start_paused = true)]
async fn probes_in_flight_are_capped_at_probe_successes() {
    let w = world_keeping(
        &a_then_b(),
        outage_then_black_hole(),
        priority_policy(),
        1,
        |e| {
            matches!(e, RouterEvent::StateChange(_))
                || matches!(e, RouterEvent::Decision(d) if d.reason == DecisionReason::Probe)
        },
    );
    drive(&w.router, 0, 3000, ms(20)).await;
    assert!(
        w.events
            .transitions(0)
            .iter()
            .any(|(to, _)| to == "probing"),
        "a never probed"
    );
    let most = max_probes_within(&w.events, 0, 19.9);
    assert!(most <= 3, "{most} probes to a within 19.9 s");
}

/// Before: a probe got the full 20 s attempt timeout, so a verification whose first attempt
/// was a probe to a still-broken route waited 20 s before failing over.
#[tokio::test(start_paused = true)]
async fn a_probe_to_a_black_hole_fails_over_after_the_probe_timeout() {
    let w = world(&a_then_b(), outage_then_black_hole(), priority_policy(), 1);
    drive(&w.router, 0, 60, ms(1000)).await;
    let probe = w
        .events
        .of_type("decision")
        .into_iter()
        .find(|d| d["reason"] == "probe" && d["attempt"] == 1)
        .expect("a probe as a first attempt");
    let finished = w
        .events
        .of_type("finished")
        .into_iter()
        .find(|f| f["verification"] == probe["verification"])
        .unwrap();
    assert_eq!(finished["status"], "delivered");
    let ttv = finished["time_to_verify"].as_f64().unwrap();
    // probe.timeout (10 s) on a, then b's 1 s delivery.
    assert!(ttv <= 11.5, "time to verify {ttv} s after a probe");
}

/// Two verifications a minute; `a` down for the first two minutes. Before: probe credit was
/// earned per decision (share 0.05), so at low traffic each probe after the first waited for
/// 20 decisions (10 minutes) and restoring took ~20 minutes after the outage ended.
#[tokio::test(start_paused = true)]
async fn a_route_is_restored_within_minutes_at_low_traffic() {
    let mut p = priority_policy();
    p.trip.consecutive_failures = 3;
    let start = Instant::now();
    let a = script(move |_, _| {
        if start.elapsed() < secs(120) {
            fail(50, FailureKind::Unavailable)
        } else {
            ok(1000)
        }
    });
    let w = world(&a_then_b(), vec![a, healthy()], p, 1);
    drive(&w.router, 0, 18, secs(30)).await;
    assert!(
        transition_at(&w.events, 0, "ejected", "consecutive_failures").is_some(),
        "{:?}",
        w.events.transitions(0)
    );
    let restored = transition_at(&w.events, 0, "healthy", "recovered");
    assert!(
        restored.is_some_and(|t| t <= 120.0 + 360.0),
        "restored at {restored:?} s; outage ended at 120 s: {:?}",
        w.events.transitions(0)
    );
}

/// Before: a probing route without probe credit was no candidate at all, so when the only
/// healthy route failed, the verification ended with no candidate although `a` was there.
#[tokio::test(start_paused = true)]
async fn a_probing_route_serves_as_a_last_resort_retry() {
    let mut p = priority_policy();
    p.diversity = Diversity::Provider;
    p.ejection.jitter = 0.0;
    let start = Instant::now();
    let a = script(move |_, _| {
        if start.elapsed() < secs(5) {
            fail(50, FailureKind::Unavailable)
        } else {
            ok(1000)
        }
    });
    let b = script(|a, _| {
        if a.verification.0 == 101 {
            fail(50, FailureKind::Unavailable)
        } else {
            ok(1000)
        }
    });
    let w = world(&a_then_b(), vec![a, b], p, 1);
    drive(&w.router, 0, 5, ms(100)).await;
    assert_eq!(
        w.events.transitions(0),
        vec![("ejected".to_owned(), "consecutive_failures".to_owned())]
    );
    tokio::time::sleep_until(start + secs(40)).await;
    // The probing period's credit goes to this verification's probe (delivered).
    let probed = w.router.verify(request(100)).await;
    assert_eq!(probed.receipt.map(|r| r.route), Some(RouteId(0)));
    assert_eq!(
        w.router.route_status(RouteId(0)).unwrap().state,
        RouteState::Probing
    );
    // b fails this one; a is probing without credit.
    let out = w.router.verify(request(101)).await;
    assert_eq!(
        (out.status, out.receipt.map(|r| r.route)),
        (VerificationStatus::Delivered, Some(RouteId(0))),
        "{out:?}"
    );
}

/// Before: a probe could be a verification's last attempt: its only chance went to the route
/// least likely to deliver.
#[tokio::test(start_paused = true)]
async fn a_last_attempt_is_never_a_probe() {
    let mut p = priority_policy();
    p.max_attempts = 2;
    let start = Instant::now();
    let a = script(move |_, _| {
        if start.elapsed() < secs(5) {
            fail(50, FailureKind::Unavailable)
        } else {
            black_hole()
        }
    });
    // b fails 40% of verifications (hashed: no period for probe credit to line up with).
    let b = script(|a, _| {
        if hash(a.verification.0) % 10 < 4 {
            fail(50, FailureKind::Unavailable)
        } else {
            ok(1000)
        }
    });
    let w = world_keeping(
        &[
            r("a"),
            Route {
                priority: 1,
                ..r("b")
            },
            Route {
                priority: 2,
                ..r("c")
            },
        ],
        vec![a, b, healthy()],
        p,
        1,
        |e| matches!(e, RouterEvent::Decision(d) if d.reason == DecisionReason::Probe),
    );
    drive(&w.router, 0, 1200, ms(50)).await;
    let probes = w.events.of_type("decision");
    assert!(!probes.is_empty());
    let last: Vec<&Value> = probes.iter().filter(|d| d["attempt"] == 2).collect();
    assert!(
        last.is_empty(),
        "{} of {} probes were a last attempt",
        last.len(),
        probes.len()
    );
}

// ---------------------------------------------------------------------------------------------
// 6. Conversions.

/// Every delivery converts 20 s later, on every route. Before: a restored route (window
/// cleared) collected its first deliveries before their conversions could arrive and was
/// judged against peers whose older deliveries had converted: re-ejected for `conversion`.
#[tokio::test(start_paused = true)]
async fn a_restored_route_is_not_ejected_for_conversion_lag() {
    let mut p = priority_policy();
    p.trip.min_relative_conversion = Some(0.5);
    p.probe.share = 1.0;
    let start = Instant::now();
    let a = script(move |_, _| {
        let t = start.elapsed();
        if t >= secs(60) && t < secs(90) {
            fail(50, FailureKind::Unavailable)
        } else {
            ok(1000)
        }
    });
    let w = world(&a_then_b(), vec![a, healthy()], p, 1);
    let mut handles = Vec::new();
    for i in 0..400 {
        let r = w.router.clone();
        handles.push(tokio::spawn(async move {
            let out = r.verify(request(i)).await;
            if let Some(receipt) = out.receipt {
                tokio::time::sleep(secs(20)).await;
                r.record_conversion(&receipt);
            }
        }));
        tokio::time::sleep(ms(500)).await;
    }
    for h in handles {
        h.await.unwrap();
    }
    let restored = transition_at(&w.events, 0, "healthy", "recovered")
        .unwrap_or_else(|| panic!("never restored: {:?}", w.events.transitions(0)));
    let after_restore: Vec<Value> = after(&w.events.of_type("state_change"), restored)
        .into_iter()
        .filter(|e| e["route"] == 0 && e["to"] == "ejected" && e["reason"] == "conversion")
        .collect();
    assert!(after_restore.is_empty(), "{after_restore:?}");
}

/// Before: recording the same receipt twice counted two conversions.
#[tokio::test(start_paused = true)]
async fn a_conversion_counts_once_per_receipt() {
    let w = world(
        &a_then_b(),
        vec![healthy(), healthy()],
        priority_policy(),
        1,
    );
    let out = w.router.verify(request(1)).await;
    let receipt = out.receipt.unwrap();
    w.router.record_conversion(&receipt);
    w.router.record_conversion(&receipt);
    assert_eq!(
        w.router
            .route_status(receipt.route)
            .unwrap()
            .window
            .conversions,
        1
    );
}

// ---------------------------------------------------------------------------------------------
// 7. The ejection cap and panic mode.

/// Before: the cap was `floor(share x size)`, so with 3 routes and a share of 0.2 no route could
/// ever be ejected, however broken (Envoy allows at least one).
#[tokio::test(start_paused = true)]
async fn the_ejection_cap_allows_at_least_one_ejection() {
    let mut p = Policy {
        strategy: Strategy::Weighted,
        exploration: 0.0,
        ..Policy::default()
    };
    p.ejection.max_ejected_share = 0.2;
    let w = world(
        &[r("a"), r("b"), r("c")],
        vec![down(), healthy(), healthy()],
        p,
        1,
    );
    drive(&w.router, 0, 60, ms(500)).await;
    let t = w.events.transitions(0);
    assert!(
        t.iter().any(|(to, _)| to == "ejected"),
        "a, failing every attempt, was never ejected; its transitions: {t:?}"
    );
}

/// Before: a shadow-mode route's own state machine ejected it regardless of the cap, so
/// clearing the override took it out of service on top of the already ejected route: the group
/// had no route left.
#[tokio::test(start_paused = true)]
async fn clearing_a_shadow_override_respects_the_ejection_cap() {
    let mut p = priority_policy();
    p.ejection.max_ejected_share = 0.5;
    let w = world(&a_then_b(), vec![down(), down()], p, 1);
    w.router.set_override(RouteId(1), Override::Shadow).unwrap();
    drive(&w.router, 0, 8, ms(500)).await;
    assert_eq!(
        w.router.route_status(RouteId(0)).unwrap().state,
        RouteState::Ejected
    );
    // b's own state machine wants it out (acted on in shadow, or refused by the cap).
    let b_tripped = w
        .events
        .of_type("state_change")
        .iter()
        .any(|e| e["route"] == 1 && e["to"] == "ejected" && e["shadow"] == true)
        || w.events
            .of_type("trip_suppressed")
            .iter()
            .any(|e| e["route"] == 1);
    assert!(b_tripped, "b never tripped");
    w.router.set_override(RouteId(1), Override::None).unwrap();
    let a = w.router.route_status(RouteId(0)).unwrap().state;
    let b = w.router.route_status(RouteId(1)).unwrap().state;
    assert!(
        a == RouteState::Healthy || b == RouteState::Healthy,
        "both routes out of service: a {a:?}, b {b:?}"
    );
}

/// Before: panic mode was computed over the routes a request's compliance rules allow, so a
/// group with a healthy route entered and left panic on every request whose use case excluded
/// that route.
#[tokio::test(start_paused = true)]
async fn panic_is_a_group_state_not_a_per_request_one() {
    let mut p = priority_policy();
    p.compliance = vec![ComplianceRule {
        country: Some(de()),
        use_case: Some("x".into()),
        allow: vec![],
        deny: vec!["b".into()],
    }];
    let w = world(&a_then_b(), vec![down(), healthy()], p, 1);
    drive(&w.router, 0, 6, ms(500)).await;
    assert_eq!(
        w.router.route_status(RouteId(0)).unwrap().state,
        RouteState::Ejected
    );
    for i in 0..20 {
        let mut req = request(100 + i);
        if i % 2 == 0 {
            req.use_case = Some("x".into());
        }
        w.router.verify(req).await;
    }
    let enters = w.events.of_type("panic_enter").len();
    let exits = w.events.of_type("panic_exit").len();
    assert!(
        enters <= 1 && exits <= 1,
        "{enters} panic_enter and {exits} panic_exit with a healthy route in the group"
    );
}

/// Both routes ejected. `a` failed everything but long ago (empty window); `b` delivered
/// almost everything recently. Before: panic ranked routes by windowed failure rate with an
/// empty window counting as 0%, so the route with the worst record was served as the best.
#[tokio::test(start_paused = true)]
async fn panic_mode_does_not_rank_an_empty_window_as_perfect() {
    let mut p = priority_policy();
    // No retries: the first panic decision is a choice between both routes, made before any
    // panic-mode traffic has taught the router anything new about `a`.
    p.max_attempts = 1;
    p.ejection.max_ejected_share = 1.0;
    p.ejection.base = secs(200);
    p.ejection.max = secs(400);
    p.ejection.jitter = 0.0;
    let start = Instant::now();
    let b = script(move |_, _| {
        if start.elapsed() < secs(80) {
            ok(500)
        } else {
            fail(50, FailureKind::Unavailable)
        }
    });
    let w = world(&a_then_b(), vec![down(), b], p, 1);
    drive(&w.router, 0, 100, ms(1000)).await;
    let a = w.events.transitions(0);
    let b = w.events.transitions(1);
    assert_eq!(a.len(), 1, "{a:?}");
    assert_eq!(b.len(), 1, "{b:?}");
    let panic = w
        .events
        .of_type("decision")
        .into_iter()
        .find(|d| d["reason"] == "panic")
        .expect("a panic decision");
    assert_eq!(panic["chosen"], 1, "{panic}");
}

// ---------------------------------------------------------------------------------------------
// 8. Selection.

/// A is free but delivers 60% (fails fast otherwise), B costs 0.05 and delivers 99%. Before:
/// `score` divided price by success probability, so a free route scored 0 and took ~99% of
/// first attempts however often it failed.
#[tokio::test(start_paused = true)]
async fn a_free_but_unreliable_route_does_not_take_most_traffic() {
    let mut p = Policy::default();
    p.trip.consecutive_failures = 0;
    p.trip.failure_rate = 1.0;
    let w = world(
        &[
            Route {
                cost: 0.0,
                ..r("free")
            },
            Route {
                cost: 0.05,
                ..r("good")
            },
        ],
        vec![
            script(|a, _| {
                if a.verification.0 % 5 < 2 {
                    fail(100, FailureKind::Undelivered)
                } else {
                    ok(1000)
                }
            }),
            script(|a, _| {
                if a.verification.0 % 100 == 99 {
                    fail(100, FailureKind::Undelivered)
                } else {
                    ok(1000)
                }
            }),
        ],
        p,
        1,
    );
    drive(&w.router, 0, 1000, ms(100)).await;
    let first = first_attempts(&w.events);
    let a = first.iter().filter(|d| d["chosen"] == 0).count();
    assert!(
        (a as f64) < 0.5 * first.len() as f64,
        "free route took {a} of {} first attempts",
        first.len()
    );
}

/// Before: a route restored by three probes was trusted at once and took nearly all first
/// attempts (49 of the next 50), with three samples of evidence.
#[tokio::test(start_paused = true)]
async fn a_restored_route_ramps_up_slowly() {
    let mut p = Policy::default();
    p.trip.consecutive_failures = 2;
    let start = Instant::now();
    let a = script(move |_, _| {
        if start.elapsed() < secs(20) {
            fail(50, FailureKind::Unavailable)
        } else {
            ok(1000)
        }
    });
    let w = world(
        &[
            Route {
                cost: 0.01,
                ..r("a")
            },
            Route {
                cost: 0.015,
                ..r("b")
            },
        ],
        vec![a, script(|_, _| ok(1000))],
        p,
        1,
    );
    drive(&w.router, 0, 1200, ms(100)).await;
    let restored = transition_at(&w.events, 0, "healthy", "recovered")
        .unwrap_or_else(|| panic!("never restored: {:?}", w.events.transitions(0)));
    let next: Vec<Value> = after(&first_attempts(&w.events), restored + 1e-9)
        .into_iter()
        .take(50)
        .collect();
    assert_eq!(next.len(), 50);
    let to_a = next.iter().filter(|d| d["chosen"] == 0).count();
    assert!(to_a < 30, "{to_a} of the 50 first attempts after restoring");
}

/// Before: `score` sent every decision to the single best score, so of two identical routes
/// one took ~98% of the traffic (and any small lead in its record grew).
#[tokio::test(start_paused = true)]
async fn score_spreads_load_over_equivalent_routes() {
    let w = world(
        &[r("a"), r("b")],
        vec![healthy(), healthy()],
        Policy::default(),
        1,
    );
    drive(&w.router, 0, 500, ms(100)).await;
    let first = first_attempts(&w.events);
    let n = first.len() as f64;
    for route in 0..2 {
        let c = first.iter().filter(|d| d["chosen"] == route).count();
        assert!(c as f64 >= 0.3 * n, "route {route}: {c} of {n}");
    }
}

/// Provider P serves DE mobile and DE landline (one account, one rate limit). Before: a
/// `rate_limited` answer cooled only the route it came from, so the next landline decision
/// went straight back to the throttled provider.
#[tokio::test(start_paused = true)]
async fn a_rate_limit_cools_the_whole_provider() {
    let routes = [
        r("p"),
        Route {
            priority: 1,
            ..r("q")
        },
        Route {
            number_type: NumberType::Landline,
            ..r("p")
        },
        Route {
            number_type: NumberType::Landline,
            priority: 1,
            ..r("q")
        },
    ];
    let p_script = script(|a, _| {
        if a.number_type == NumberType::Mobile {
            fail(10, FailureKind::RateLimited)
        } else {
            ok(1000)
        }
    });
    let w = world(&routes, vec![p_script, healthy()], priority_policy(), 1);
    let r = w.router.clone();
    let mobile = tokio::spawn(async move { r.verify(request(1)).await });
    tokio::time::sleep(ms(100)).await;
    let landline = w
        .router
        .verify(request_to(2, de(), NumberType::Landline))
        .await;
    assert!(mobile.await.unwrap().delivered());
    assert!(landline.delivered());
    let decision = w
        .events
        .of_type("decision")
        .into_iter()
        .find(|d| d["verification"] == 2)
        .unwrap();
    assert_eq!(decision["chosen"], 3, "{decision}");
}

/// Before: `thompson` ignored `exploration` and reported no probability for its picks, so its
/// decisions could not be used for off-policy evaluation.
#[tokio::test(start_paused = true)]
async fn thompson_explores_and_reports_probabilities() {
    let p = Policy {
        strategy: Strategy::Thompson,
        exploration: 0.2,
        exploration_budget: 1.0,
        ..Policy::default()
    };
    let w = world(
        &[r("a"), r("b"), r("c")],
        vec![healthy(), healthy(), healthy()],
        p,
        1,
    );
    drive(&w.router, 0, 200, ms(100)).await;
    let d = w.events.of_type("decision");
    let explored = d.iter().filter(|d| d["reason"] == "explore").count();
    let missing = d.iter().filter(|d| d["probability"].is_null()).count();
    assert!(
        explored > 0 && missing == 0,
        "{explored} explore decisions, {missing} of {} without probability",
        d.len()
    );
}

// ---------------------------------------------------------------------------------------------
// 9. Hygiene.

/// Before: a latency trip threshold at or above the attempt timeout was accepted silently,
/// although no delivery counted on time can be that slow: only late ones (after their attempt
/// timed out) reach it, so it trips late or never. It is valid (late deliveries are real
/// evidence) but warned about, naming the field and the timeout to stay under.
#[test]
fn validation_warns_about_a_latency_trip_the_attempt_timeout_cuts_off() {
    let mut p = Policy {
        attempt_timeout: secs(20),
        ..Policy::default()
    };
    p.trip.latency = Some(secs(30));
    p.probe.recover_latency = Some(secs(24));
    p.validate().unwrap();
    let warnings = p.warnings();
    let fields: Vec<&str> = warnings.iter().map(|w| w.field.as_str()).collect();
    assert_eq!(
        fields,
        ["trip.latency", "probe.recover_latency"],
        "{warnings:?}"
    );
    assert!(
        warnings[0].message.contains("20s"),
        "{}",
        warnings[0].message
    );
    // Thresholds under the timeout draw no warning.
    p.trip.latency = Some(secs(19));
    p.probe.recover_latency = Some(secs(12));
    assert!(p.warnings().is_empty());
}

/// Before: the defaults themselves had that flaw (trip.latency 30 s, attempt_timeout 20 s).
/// A latency trip under the timeout sits within a few seconds of a healthy SMS route's p95
/// (ejecting healthy routes), so the latency thresholds are off by default and opt-in.
#[test]
fn default_latency_thresholds_are_off_and_draw_no_warning() {
    let p = Policy::default();
    assert_eq!(p.attempt_timeout, secs(20));
    assert_eq!(p.trip.latency, None);
    assert_eq!(p.probe.recover_latency, None);
    p.validate().unwrap();
    assert!(p.warnings().is_empty());
    // "off" is how a policy file says so, and it round-trips.
    let text = toml::to_string(&p).unwrap();
    assert!(text.contains("latency = \"off\""), "{text}");
    assert_eq!(toml::from_str::<Policy>(&text).unwrap(), p);
    let on = parse("[trip]\nlatency = \"15s\"\n[probe]\nrecover_latency = \"off\"\n");
    assert_eq!(on.trip.latency, Some(secs(15)));
    assert_eq!(on.probe.recover_latency, None);
}

/// Before: a straggler still pending when `late_delivery_grace` ran out was dropped silently.
#[tokio::test(start_paused = true)]
async fn a_straggler_dropped_after_the_grace_is_reported() {
    let w = world(
        &a_then_b(),
        vec![script(|_, _| black_hole()), healthy()],
        priority_policy(),
        1,
    );
    let out = w.router.verify(request(1)).await;
    assert!(out.delivered());
    tokio::time::sleep(secs(150)).await;
    let abandoned = w.events.of_type("abandoned");
    assert_eq!(abandoned.len(), 1, "{abandoned:?}");
    assert_eq!(abandoned[0]["reason"], "grace_expired");
    assert_eq!(abandoned[0]["route"], 0);
    assert_eq!(abandoned[0]["verification"], 1);
}

/// Before: every verification with a pending attempt left a watcher task behind for the whole
/// grace, without bound (`max_stragglers` did not exist).
#[tokio::test(start_paused = true)]
async fn straggler_watchers_are_bounded() {
    let p = parse(
        r#"
        strategy = "priority"
        exploration = 0.0
        max_stragglers = 4
        [trip]
        consecutive_failures = 0
        [health]
        min_volume = 1000
        "#,
    );
    let w = world(
        &a_then_b(),
        vec![script(|_, _| black_hole()), healthy()],
        p,
        1,
    );
    let statuses = drive(&w.router, 0, 20, ms(1000)).await;
    assert!(statuses.iter().all(|s| *s == VerificationStatus::Delivered));
    tokio::time::sleep(secs(200)).await;
    let abandoned = w.events.of_type("abandoned");
    let by_capacity: BTreeSet<u64> = abandoned
        .iter()
        .filter(|e| e["reason"] == "watcher_capacity")
        .map(|e| e["verification"].as_u64().unwrap())
        .collect();
    let by_grace = abandoned
        .iter()
        .filter(|e| e["reason"] == "grace_expired")
        .count();
    assert_eq!(by_capacity, (0..16).collect(), "{abandoned:?}");
    assert!(by_grace <= 4, "{by_grace} watchers outlived the cap");
}

/// Before: asking for the status of a route id outside the table panicked (index out of
/// bounds), with the router's lock held.
#[test]
fn route_status_of_an_unknown_route_does_not_panic() {
    let w = world(
        &a_then_b(),
        vec![healthy(), healthy()],
        priority_policy(),
        1,
    );
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        w.router.route_status(RouteId(99))
    }));
    let err = result
        .expect("route_status(RouteId(99)) panicked")
        .expect_err("route 99 is not in a table of 2");
    assert_eq!(
        err.to_string(),
        "route 99 is not in the routing table (it has 2 routes)"
    );
    assert!(
        w.router
            .set_override(RouteId(2), Override::ForceEject)
            .is_err()
    );
    assert!(w.router.route_status(RouteId(1)).is_ok());
}

// ---------------------------------------------------------------------------------------------
// 10. Latency bias.

/// Two healthy providers, no outage: the cheaper one answers `unavailable` in 0.3 s for 0.5% of
/// attempts and delivers in 5 s otherwise. Before: at high traffic its first seconds of outcomes
/// were all failures (they come back 16x faster than deliveries), enough for a trip: a healthy
/// route ejected by the shape of its latency distribution.
async fn fast_failures_do_not_eject_a_healthy_route(per_second: u64) {
    let a = script(|a, _| {
        if hash(a.id.0) % 1000 < 5 {
            fail(300, FailureKind::Unavailable)
        } else {
            ok(5000)
        }
    });
    let w = world_keeping(
        &[
            Route {
                cost: 0.01,
                ..r("a")
            },
            Route {
                cost: 0.02,
                ..r("b")
            },
        ],
        vec![a, script(|_, _| ok(5000))],
        Policy::default(),
        1,
        |e| {
            matches!(
                e,
                RouterEvent::StateChange(_) | RouterEvent::TripSuppressed(_)
            )
        },
    );
    let out: Vec<VerificationOutcome> =
        drive_outcomes(&w.router, 0, 3 * per_second, per_second / 1000, ms(1)).await;
    assert_eq!(out.len() as u64, 3 * per_second);
    let t = w.events.transitions(0);
    assert!(
        !t.iter().any(|(to, _)| to == "ejected"),
        "at {per_second}/s: {t:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn fast_failures_do_not_eject_a_healthy_route_at_1000_per_second() {
    fast_failures_do_not_eject_a_healthy_route(1000).await;
}

#[tokio::test(start_paused = true)]
async fn fast_failures_do_not_eject_a_healthy_route_at_2500_per_second() {
    fast_failures_do_not_eject_a_healthy_route(2500).await;
}

#[tokio::test(start_paused = true)]
async fn fast_failures_do_not_eject_a_healthy_route_at_5000_per_second() {
    fast_failures_do_not_eject_a_healthy_route(5000).await;
}

/// `adaptive_timeout.factor = 1e300` used to pass validation and then panic every
/// verification (`Duration::mul_f64` overflowing). It is refused now, with its bound; the
/// largest factor allowed adapts the timeout (clamped at `max`) and every verification ends.
#[tokio::test(start_paused = true)]
async fn an_adaptive_timeout_factor_that_would_overflow_is_refused() {
    let mut p = priority_policy();
    p.adaptive_timeout = Some(failover_router::policy::AdaptiveTimeout {
        quantile: 0.95,
        factor: 1e300,
        min: secs(1),
        max: secs(30),
    });
    let e = p.validate().unwrap_err().to_string();
    assert!(
        e.contains("adaptive_timeout.factor") && e.contains("100"),
        "{e}"
    );
    p.adaptive_timeout.as_mut().unwrap().factor = 100.0;
    p.validate().unwrap();
    let w = world(&a_then_b(), vec![healthy(), healthy()], p, 1);
    for i in 0..100 {
        let out = w.router.verify(request(i)).await;
        assert!(out.receipt.is_some(), "verification {i} not delivered");
    }
}

/// Building a table used to compare every provider name with every earlier one, and every
/// route's provider and failure domains with every name before it: 300,000 providers and
/// routes took over a minute (a dev build). Linear now (about a second); the generous limit
/// fails a quadratic build, not a slow machine.
#[test]
fn a_table_of_300k_providers_and_routes_builds_in_linear_time() {
    use failover_router::{Country, RouteSpec, RoutingTable, TableError};
    const N: usize = 300_000;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let providers: Vec<String> = (0..N).map(|i| format!("provider-{i}")).collect();
        let countries = ["DE", "US", "GB", "FR"].map(|c| Country::new(c).unwrap());
        let specs: Vec<RouteSpec> = (0..N)
            .map(|i| RouteSpec {
                provider: providers[N - 1 - i].clone(),
                country: countries[i % 4],
                number_type: NumberType::ALL[i % 5],
                cost: 0.01,
                priority: 0,
                weight: 1.0,
                failure_domains: vec![format!("domain-{i}"), format!("shared-{}", i % 7)],
            })
            .collect();
        let table = RoutingTable::new(&providers, &specs).unwrap();
        let last = table.route(RouteId(N as u32 - 1));
        let summary = (
            table.routes().len(),
            last.provider,
            {
                let mut names: Vec<String> = last
                    .failure_domains
                    .iter()
                    .map(|&d| table.domain_name(d).to_owned())
                    .collect();
                names.sort();
                names
            },
            table.provider_id("provider-7"),
        );
        // A duplicate at the very end is still found, and named.
        let mut twice = specs;
        twice.push(twice[5].clone());
        let route_twice = RoutingTable::new(&providers, &twice).unwrap_err();
        let _ = tx.send((summary, route_twice));
    });
    let (summary, route_twice) = rx
        .recv_timeout(std::time::Duration::from_secs(60))
        .expect("building tables of 300,000 routes took over a minute");
    assert_eq!(
        summary,
        (
            N,
            failover_router::ProviderId(0),
            vec![
                format!("domain-{}", N - 1),
                format!("shared-{}", (N - 1) % 7)
            ],
            Some(failover_router::ProviderId(7)),
        )
    );
    assert!(
        matches!(&route_twice, TableError::DuplicateRoute { route } if route.starts_with("provider-299994/")),
        "{route_twice}"
    );
}
