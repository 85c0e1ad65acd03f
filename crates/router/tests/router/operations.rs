//! Operating the router (issue 17): provider capacity (a rate limit cools the whole account;
//! `[limits]` on attempts in flight and a token bucket), cost caps, and operator controls
//! (overrides with who / why / expiry, traffic shifting). Paused time throughout; each test
//! fails without the behaviour it names.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use failover_router::policy::Policy;
use failover_router::{
    Attempt, AttemptFuture, AttemptOutcome, BuildError, FailureKind, NumberType, ProviderAdapter,
    RouteId, Router, VerificationStatus,
};
use serde_json::Value;

use crate::harness::*;

fn parse(toml_text: &str) -> Policy {
    let p: Policy = toml::from_str(toml_text).unwrap_or_else(|e| panic!("policy: {e}"));
    p.validate().unwrap_or_else(|e| panic!("policy: {e}"));
    p
}

/// What [`Counted`] does with one attempt.
#[derive(Clone, Copy, Debug)]
enum Act {
    Deliver(u64),
    Fail(u64, FailureKind),
    BlackHole,
    PanicInSend,
    PanicInFuture,
}

/// A provider that counts its calls still pending (sent, future neither resolved nor dropped)
/// and remembers the most it ever had at once.
struct Counted {
    act: Box<dyn Fn(&Attempt) -> Act + Send + Sync>,
    pending: Arc<AtomicU64>,
    peak: Arc<AtomicU64>,
}

/// Decrements the pending count when the attempt's future resolves or is dropped.
struct Pending(Arc<AtomicU64>);

impl Drop for Pending {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl ProviderAdapter for Counted {
    fn send(&self, attempt: Attempt) -> AttemptFuture {
        let act = (self.act)(&attempt);
        if let Act::PanicInSend = act {
            panic!("adapter bug in send");
        }
        let now = self.pending.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(now, Ordering::SeqCst);
        let guard = Pending(self.pending.clone());
        Box::pin(async move {
            let _guard = guard;
            match act {
                Act::Deliver(ms) => {
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                    AttemptOutcome::Delivered
                }
                Act::Fail(ms, kind) => {
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                    AttemptOutcome::Failed(kind)
                }
                Act::BlackHole => std::future::pending().await,
                Act::PanicInFuture => {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    panic!("adapter bug in the attempt future")
                }
                Act::PanicInSend => unreachable!(),
            }
        })
    }
}

struct Counter {
    adapter: Arc<dyn ProviderAdapter>,
    pending: Arc<AtomicU64>,
    peak: Arc<AtomicU64>,
}

fn counted(act: impl Fn(&Attempt) -> Act + Send + Sync + 'static) -> Counter {
    let pending = Arc::new(AtomicU64::new(0));
    let peak = Arc::new(AtomicU64::new(0));
    Counter {
        adapter: Arc::new(Counted {
            act: Box::new(act),
            pending: pending.clone(),
            peak: peak.clone(),
        }),
        pending,
        peak,
    }
}

/// A world with any adapters, recording every event.
fn world_of(routes: &[Route<'_>], adapters: Vec<Arc<dyn ProviderAdapter>>, p: Policy) -> World {
    let events = Arc::new(Recorder::default());
    world_with(routes, adapters, p, 1, events.clone(), events)
}

/// Decisions of first attempts, in order.
fn first_decisions(w: &World) -> Vec<Value> {
    w.events
        .of_type("decision")
        .into_iter()
        .filter(|d| d["attempt"] == 1)
        .collect()
}

/// Starts a verification of each request `every` apart (each in its own task) and waits for
/// all.
async fn drive_requests(
    router: &Router,
    requests: Vec<failover_router::VerificationRequest>,
    every: Duration,
) -> Vec<failover_router::VerificationOutcome> {
    let mut handles = Vec::new();
    for req in requests {
        let r = router.clone();
        handles.push(tokio::spawn(async move { r.verify(req).await }));
        tokio::time::sleep(every).await;
    }
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}

// ---------------------------------------------------------------------------------------------
// 1. Provider capacity.

/// Provider `p` serves three groups (DE mobile, DE landline, US mobile), each with `q` as the
/// second choice. One `rate_limited` answer on DE mobile passes `p` over in every group for
/// `capacity_cooldown` (rate limits are per account), and `q`'s routes are not passed over:
/// were they cooled too, `priority` would pick `p` again among equally cooled routes.
#[tokio::test(start_paused = true)]
async fn a_provider_rate_limit_cools_all_its_routes_across_groups_and_no_others() {
    let landline = |p| Route {
        number_type: NumberType::Landline,
        ..r(p)
    };
    let in_us = |p| Route {
        country: us(),
        ..r(p)
    };
    let routes = [
        r("p"),
        Route {
            priority: 1,
            ..r("q")
        },
        landline("p"),
        Route {
            priority: 1,
            ..landline("q")
        },
        in_us("p"),
        Route {
            priority: 1,
            ..in_us("q")
        },
    ];
    let p_script = script(|a, _| {
        if a.number_type == NumberType::Mobile && a.country == de() {
            fail(10, FailureKind::RateLimited)
        } else {
            ok(1000)
        }
    });
    let mut policy = priority_policy();
    policy.capacity_cooldown = secs(5);
    let w = world(&routes, vec![p_script, healthy()], policy, 1);
    let groups = [
        (de(), NumberType::Mobile, [0u32, 1]),
        (de(), NumberType::Landline, [2, 3]),
        (us(), NumberType::Mobile, [4, 5]),
    ];
    let chosen = |w: &World| {
        groups
            .iter()
            .map(|(c, n, _)| w.router.explain(&request_to(99, *c, *n)).chosen.unwrap().0)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        chosen(&w),
        [0, 2, 4],
        "p first everywhere before the refusal"
    );
    let out = w.router.verify(request(1)).await;
    assert!(out.delivered() && out.attempts == 2, "{out:?}");
    assert_eq!(chosen(&w), [1, 3, 5], "p passed over in every group, q not");
    tokio::time::sleep(secs(5)).await;
    assert_eq!(chosen(&w), [0, 2, 4], "back after capacity_cooldown");
    for (_, _, [p, _]) in groups {
        let s = w.router.route_status(RouteId(p)).unwrap();
        assert_eq!(
            s.state,
            failover_router::RouteState::Healthy,
            "never ejected"
        );
    }
}

/// Provider `a` (two routes: DE mobile and DE landline) allows 3 attempts in flight, its DE
/// mobile route 2; `b` takes the overflow. Twenty verifications a second, each attempt on `a`
/// taking 1 s, would put about 20 in flight on `a`: the provider's pending calls never exceed
/// 3 (nor its mobile route's 2), every verification is delivered (by `b` when `a` is full),
/// and the decisions that passed `a` over say so.
#[tokio::test(start_paused = true)]
async fn an_in_flight_limit_is_never_exceeded() {
    let a = counted(|_| Act::Deliver(1000));
    let a_mobile = counted(|_| Act::Deliver(1000));
    let (pending, peak) = (a.pending.clone(), a.peak.clone());
    let mobile_peak = a_mobile.peak.clone();
    // One adapter for `a`, counting all of it and, apart, its mobile route.
    struct Split(Arc<dyn ProviderAdapter>, Arc<dyn ProviderAdapter>);
    impl ProviderAdapter for Split {
        fn send(&self, attempt: Attempt) -> AttemptFuture {
            if attempt.number_type == NumberType::Mobile {
                let inner = self.1.send(attempt.clone());
                let outer = self.0.send(attempt);
                Box::pin(async move {
                    let (o, _) = tokio::join!(outer, inner);
                    o
                })
            } else {
                self.0.send(attempt)
            }
        }
    }
    let landline = |p| Route {
        number_type: NumberType::Landline,
        ..r(p)
    };
    let routes = [
        r("a"),
        Route {
            priority: 1,
            ..r("b")
        },
        landline("a"),
        Route {
            priority: 1,
            ..landline("b")
        },
    ];
    let p = parse(
        r#"
        strategy = "priority"
        exploration = 0.0
        [limits.a]
        max_in_flight = 3
        [limits."a/DE/mobile"]
        max_in_flight = 2
        "#,
    );
    let w = world_of(
        &routes,
        vec![
            Arc::new(Split(a.adapter, a_mobile.adapter)),
            Scripted::adapter(healthy()),
        ],
        p,
    );
    let requests = (0..200)
        .map(|i| {
            let nt = if i % 2 == 0 {
                NumberType::Mobile
            } else {
                NumberType::Landline
            };
            request_to(i, de(), nt)
        })
        .collect();
    let outcomes = drive_requests(&w.router, requests, ms(50)).await;
    assert!(outcomes.iter().all(|o| o.delivered()), "{outcomes:?}");
    assert_eq!(peak.load(Ordering::SeqCst), 3, "a's pending calls at most");
    assert_eq!(mobile_peak.load(Ordering::SeqCst), 2, "a/DE/mobile at most");
    assert_eq!(pending.load(Ordering::SeqCst), 0);
    assert_eq!(w.router.provider_in_flight("a"), Some(0));
    let decisions = first_decisions(&w);
    let on_a = decisions
        .iter()
        .filter(|d| d["chosen"] == 0 || d["chosen"] == 2)
        .count();
    assert!((30..=100).contains(&on_a), "a served {on_a} of 200");
    let passed_over = decisions
        .iter()
        .filter(|d| {
            d["candidates"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c["excluded"] == "provider_limit")
        })
        .count();
    assert_eq!(
        passed_over,
        200 - on_a,
        "every overflow decision names the limit"
    );
}

/// A slot is held from launch until the attempt is judged, and freed on every path: an
/// outcome, a timeout judged by `verify`, a verification dropped by its caller (judged by the
/// watcher), a watcher evicted before the judgement (freed at the eviction), an adapter
/// panicking in `send` or in its future. After each, `a` (one slot) takes the next
/// verification again.
#[tokio::test(start_paused = true)]
async fn limit_slots_are_released_on_every_path() {
    #[derive(Debug, Clone, Copy)]
    enum Path {
        Delivered,
        FailedFast,
        TimedOut,
        CallerDropped,
        WatcherEvicted,
        PanicInSend,
        PanicInFuture,
    }
    for path in [
        Path::Delivered,
        Path::FailedFast,
        Path::TimedOut,
        Path::CallerDropped,
        Path::WatcherEvicted,
        Path::PanicInSend,
        Path::PanicInFuture,
    ] {
        // Verification 1 takes the path; 2 (and 3) come after.
        let a = counted(move |att| match (att.verification.0, path) {
            (1, Path::Delivered) => Act::Deliver(500),
            (1, Path::FailedFast) => Act::Fail(50, FailureKind::Unavailable),
            (1, Path::TimedOut | Path::CallerDropped | Path::WatcherEvicted) => Act::BlackHole,
            (1, Path::PanicInSend) => Act::PanicInSend,
            (1, Path::PanicInFuture) => Act::PanicInFuture,
            _ => Act::Deliver(500),
        });
        // `b` black-holes verification 2 of the eviction path, so that its watcher evicts 1's.
        let b = counted(move |att| match (att.verification.0, path) {
            (2, Path::WatcherEvicted) => Act::BlackHole,
            _ => Act::Deliver(500),
        });
        let a_pending = a.pending.clone();
        let p = parse(
            r#"
            strategy = "priority"
            exploration = 0.0
            attempt_timeout = "20s"
            max_stragglers = 1
            [trip]
            consecutive_failures = 0
            [limits.a]
            max_in_flight = 1
            "#,
        );
        let mut p = p;
        if let Path::WatcherEvicted = path {
            // Verifications end at their deadline with the attempt unjudged (timeout 20 s).
            p.deadline = secs(5);
        }
        let w = world_of(
            &[
                r("a"),
                Route {
                    priority: 1,
                    ..r("b")
                },
            ],
            vec![a.adapter, b.adapter],
            p,
        );
        match path {
            Path::CallerDropped => {
                let r = w.router.clone();
                let gave_up = tokio::time::timeout(secs(1), r.verify(request(1))).await;
                assert!(gave_up.is_err());
                assert_eq!(
                    w.router.provider_in_flight("a"),
                    Some(1),
                    "held while pending"
                );
                // The watcher judges it at its attempt timeout.
                tokio::time::sleep(secs(20)).await;
            }
            Path::WatcherEvicted => {
                let first = w.router.verify(request(1)).await;
                assert_eq!(first.status, VerificationStatus::DeadlineExceeded);
                assert_eq!(w.router.provider_in_flight("a"), Some(1));
                // `a` is full: verification 2 goes to `b`, ends pending too, and its watcher
                // evicts the first (max_stragglers 1) long before a's attempt timeout.
                let second = w.router.verify(request(2)).await;
                assert_eq!(second.status, VerificationStatus::DeadlineExceeded);
                tokio::task::yield_now().await;
                tokio::time::sleep(ms(1)).await;
                let evicted = w.events.of_type("abandoned");
                assert_eq!(evicted[0]["reason"], "watcher_capacity", "{evicted:?}");
                assert!(w.router.elapsed() < secs(20));
            }
            _ => {
                w.router.verify(request(1)).await;
            }
        }
        assert_eq!(
            w.router.provider_in_flight("a"),
            Some(0),
            "{path:?}: a's slot leaked"
        );
        assert_eq!(w.router.route_status(RouteId(0)).unwrap().in_flight, 0);
        let next = w.router.verify(request(3)).await;
        assert!(next.delivered(), "{path:?}: {next:?}");
        let third = first_decisions(&w)
            .into_iter()
            .find(|d| d["verification"] == 3)
            .unwrap();
        assert_eq!(
            third["chosen"], 0,
            "{path:?}: a refused after its slot came back"
        );
        if let Path::WatcherEvicted | Path::CallerDropped = path {
            // The adapter's own future may still be pending (a black hole): the slot is the
            // router's judgement, not the provider's socket.
            assert!(a_pending.load(Ordering::SeqCst) <= 1);
        }
    }
}

/// `a` allows 2 attempts a second with a burst of 1; `b` takes the rest. Ten verifications a
/// second for 10 s: `a` gets one every half second (20), never two closer than that.
#[tokio::test(start_paused = true)]
async fn a_token_bucket_paces_attempts() {
    let p = parse(
        r#"
        strategy = "priority"
        exploration = 0.0
        [limits.a]
        rate = 2.0
        burst = 1
        "#,
    );
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
    let statuses = drive(&w.router, 0, 100, ms(100)).await;
    assert!(statuses.iter().all(|s| *s == VerificationStatus::Delivered));
    let on_a: Vec<f64> = first_decisions(&w)
        .iter()
        .filter(|d| d["chosen"] == 0)
        .map(|d| d["at"].as_f64().unwrap())
        .collect();
    assert_eq!(on_a.len(), 20, "{on_a:?}");
    for pair in on_a.windows(2) {
        assert!(pair[1] - pair[0] >= 0.5 - 1e-6, "{on_a:?}");
    }
}

/// With nothing else to send to, a full provider ends the verification with a clear reason
/// instead of sending what the provider would refuse (or falling into panic mode).
#[tokio::test(start_paused = true)]
async fn a_full_provider_with_no_alternative_ends_with_provider_limit() {
    let p = parse(
        r#"
        strategy = "priority"
        [limits.a]
        max_in_flight = 1
        "#,
    );
    let w = world(&[r("a")], vec![script(|_, _| ok(2000))], p, 1);
    let outcomes = drive_outcomes(&w.router, 0, 2, 2, ms(10)).await;
    assert_eq!(outcomes[0].status, VerificationStatus::Delivered);
    assert_eq!(outcomes[1].status, VerificationStatus::ProviderLimit);
    assert_eq!(outcomes[1].attempts, 0);
    let refused = first_decisions(&w)
        .into_iter()
        .find(|d| d["verification"] == 1)
        .unwrap();
    assert_eq!(refused["reason"], "provider_limit", "{refused}");
    assert_eq!(refused["chosen"], Value::Null);
    assert_eq!(refused["candidates"][0]["excluded"], "provider_limit");
    let finished = w.events.of_type("finished");
    assert!(finished.iter().any(|f| f["status"] == "provider_limit"));
    assert!(w.events.of_type("panic_enter").is_empty());
}

/// Limits name providers and routes of the table; anything else is refused at build, naming
/// the field.
#[test]
fn limits_must_name_providers_and_routes_of_the_table() {
    let build = |text: &str| {
        let table = failover_router::RoutingTable::new(
            &["a", "b"],
            &[failover_router::RouteSpec {
                provider: "a".into(),
                country: de(),
                number_type: NumberType::Mobile,
                cost: 0.01,
                priority: 0,
                weight: 1.0,
                failure_domains: vec![],
            }],
        )
        .unwrap();
        Router::builder(table, parse(text))
            .adapter("a", Scripted::adapter(healthy()))
            .build()
            .err()
    };
    assert_eq!(build("[limits.a]\nmax_in_flight = 2"), None);
    assert_eq!(build("[limits.\"a/DE/mobile\"]\nrate = 5.0"), None);
    assert_eq!(
        build("[limits.atlas]\nmax_in_flight = 2"),
        Some(BuildError::UnknownLimitProvider {
            field: "limits.atlas".into(),
            name: "atlas".into()
        })
    );
    assert_eq!(
        build("[limits.\"zz/DE/mobile\"]\nmax_in_flight = 2"),
        Some(BuildError::UnknownLimitProvider {
            field: "limits.zz/DE/mobile".into(),
            name: "zz".into()
        })
    );
    let e = build("[limits.\"a/US/mobile\"]\nmax_in_flight = 2").unwrap();
    assert_eq!(
        e,
        BuildError::UnknownLimitRoute {
            field: "limits.a/US/mobile".into(),
            name: "a/US/mobile".into()
        }
    );
    assert!(e.to_string().starts_with("limits.a/US/mobile: "), "{e}");
}

// ---------------------------------------------------------------------------------------------
// 2. Cost caps.

fn login(mut req: failover_router::VerificationRequest) -> failover_router::VerificationRequest {
    req.use_case = Some("login".into());
    req
}

/// `a` is the preferred route at 0.10 an attempt, `b` costs 0.04. A cap of 0.05 an attempt
/// takes `a` out of every decision (audited as excluded), except for `login`, whose override
/// raises the cap.
#[tokio::test(start_paused = true)]
async fn a_price_cap_removes_a_candidate() {
    let p = parse(
        r#"
        strategy = "priority"
        exploration = 0.0
        max_attempt_cost = 0.05
        [[overrides]]
        use_case = "login"
        max_attempt_cost = 0.2
        "#,
    );
    let w = world(
        &[
            Route {
                cost: 0.10,
                ..r("a")
            },
            Route {
                cost: 0.04,
                priority: 1,
                ..r("b")
            },
        ],
        vec![healthy(), healthy()],
        p,
        1,
    );
    let requests = (0..20)
        .map(|i| {
            if i % 2 == 0 {
                request(i)
            } else {
                login(request(i))
            }
        })
        .collect();
    let outcomes = drive_requests(&w.router, requests, ms(500)).await;
    assert!(outcomes.iter().all(|o| o.delivered()));
    for d in first_decisions(&w) {
        let login = d["use_case"] == "login";
        assert_eq!(d["chosen"], if login { 0 } else { 1 }, "{d}");
        let a = &d["candidates"][0];
        if login {
            assert!(a.get("excluded").is_none(), "{d}");
        } else {
            assert_eq!(a["excluded"], "cost_cap", "{d}");
        }
    }
}

/// `a` (0.05) fails at once, unbilled; the retry on `b` (0.06) would take the verification's
/// committed spend to 0.11: over a cap of 0.10 it is not launched, the decision says
/// `cost_cap` and so does the verification's status. Committed counts launched attempts at
/// their price (a pending one may yet be billed), not the 0 billed so far. With a cap of 0.11
/// the retry goes ahead.
#[tokio::test(start_paused = true)]
async fn a_cost_cap_stops_a_retry() {
    for (cap, retried) in [(0.10, false), (0.11, true)] {
        let mut p = priority_policy();
        p.max_verification_cost = Some(cap);
        let w = world(
            &[
                Route {
                    cost: 0.05,
                    ..r("a")
                },
                Route {
                    cost: 0.06,
                    priority: 1,
                    ..r("b")
                },
            ],
            vec![down(), healthy()],
            p,
            1,
        );
        let out = w.router.verify(request(1)).await;
        let retry = w
            .events
            .of_type("decision")
            .into_iter()
            .find(|d| d["attempt"] == 2)
            .unwrap();
        if retried {
            assert!(out.delivered(), "{out:?}");
            assert_eq!(retry["chosen"], 1);
            continue;
        }
        assert_eq!(out.status, VerificationStatus::CostCap, "{out:?}");
        assert_eq!((out.attempts, out.cost), (1, 0.0));
        assert_eq!(retry["reason"], "cost_cap", "{retry}");
        assert_eq!(retry["chosen"], Value::Null);
        assert_eq!(retry["candidates"][0]["excluded"], "cost_cap");
        assert_eq!(w.events.of_type("finished")[0]["status"], "cost_cap");
    }
}

/// A cap under every route of a group is not silent: each decision says `cost_cap`, each
/// verification ends with that status (and `build` logs the policy's `cost_cap_warnings`).
#[tokio::test(start_paused = true)]
async fn a_cap_below_every_route_refuses_with_cost_cap() {
    let mut p = priority_policy();
    p.max_attempt_cost = Some(0.001);
    let w = world(&[r("a"), r("b")], vec![healthy(), healthy()], p, 1);
    let out = w.router.verify(request(1)).await;
    assert_eq!(out.status, VerificationStatus::CostCap);
    assert_eq!(out.attempts, 0);
    let d = &w.events.of_type("decision")[0];
    assert_eq!(d["reason"], "cost_cap", "{d}");
    let warnings = w.router.policy().cost_cap_warnings(
        w.router
            .table()
            .routes()
            .iter()
            .map(|r| (r.country, r.number_type, r.cost)),
    );
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert_eq!(warnings[0].field, "max_attempt_cost");
}

// ---------------------------------------------------------------------------------------------
// 3. Operator controls.

/// Alice force-ejects `a` for 30 s during an incident. The override, with who and why, shows
/// in `route_status` and the audit trail; traffic goes to `b`. Once the 30 s are up, the next
/// decision of the group ends it by itself (audited with who and why), and `a` earns its way
/// back by probing. `b`'s override, never decided on, ends when `route_status` is asked.
#[tokio::test(start_paused = true)]
async fn an_expired_override_ends_by_itself_and_is_audited() {
    let w = world(
        &[
            r("a"),
            Route {
                priority: 1,
                ..r("b")
            },
            Route {
                country: us(),
                ..r("b")
            },
        ],
        vec![healthy(), healthy()],
        priority_policy(),
        1,
    );
    let set = |route, value, by: &str, why: &str, secs_: u64| {
        w.router
            .set_override_with(
                RouteId(route),
                failover_router::OverrideRequest {
                    value,
                    by: by.into(),
                    reason: why.into(),
                    expires_in: Some(secs(secs_)),
                },
            )
            .unwrap()
    };
    set(
        0,
        failover_router::Override::ForceEject,
        "alice",
        "INC-42: atlas DE down",
        30,
    );
    set(
        2,
        failover_router::Override::ForceHealthy,
        "bob",
        "pin US during the migration",
        10,
    );
    let status = w.router.route_status(RouteId(0)).unwrap();
    let info = status.operator.expect("the override and its reasons");
    assert_eq!(
        (info.by.as_str(), info.reason.as_str()),
        ("alice", "INC-42: atlas DE down")
    );
    assert_eq!(info.expires_at, Some(secs(30)));
    let audited = w.events.of_type("override_set");
    assert_eq!(audited[0]["by"], "alice");
    assert_eq!(audited[0]["value"], "force_eject");
    assert_eq!(audited[0]["until"], 30.0);

    // During the incident `a` gets nothing; after it, the group's first decision ends it.
    drive(&w.router, 0, 40, secs(1)).await;
    let expired = w.events.of_type("override_expired");
    let a_expired: Vec<&Value> = expired.iter().filter(|e| e["route"] == 0).collect();
    assert_eq!(a_expired.len(), 1, "{expired:?}");
    let e = a_expired[0];
    assert_eq!(
        (e["by"].as_str(), e["reason"].as_str()),
        (Some("alice"), Some("INC-42: atlas DE down"))
    );
    assert_eq!(
        (e["value"].as_str(), e["until"].as_f64()),
        (Some("force_eject"), Some(30.0))
    );
    assert!(e["at"].as_f64().unwrap() >= 30.0);
    let manual = |to: &str| (to.to_owned(), "manual".to_owned());
    assert_eq!(
        w.events.transitions(0)[..2],
        [manual("ejected"), manual("probing")]
    );
    let chosen: Vec<(f64, u64)> = first_decisions(&w)
        .iter()
        .map(|d| (d["at"].as_f64().unwrap(), d["chosen"].as_u64().unwrap()))
        .collect();
    assert!(
        chosen
            .iter()
            .filter(|(t, _)| *t < 30.0)
            .all(|(_, r)| *r == 1),
        "{chosen:?}"
    );
    assert!(
        chosen.iter().any(|(t, r)| *t >= 30.0 && *r == 0),
        "a back after the expiry"
    );
    let status = w.router.route_status(RouteId(0)).unwrap();
    assert_eq!(
        (status.override_, status.operator),
        (failover_router::Override::None, None)
    );

    // US/mobile saw no decision at all: asking for its status ends its override too.
    assert!(!expired.iter().any(|e| e["route"] == 2));
    let us_status = w.router.route_status(RouteId(2)).unwrap();
    assert_eq!(us_status.override_, failover_router::Override::None);
    let expired = w.events.of_type("override_expired");
    let b = expired.iter().find(|e| e["route"] == 2).expect("audited");
    assert_eq!(b["by"], "bob");
    assert_eq!(b["until"], 10.0);
}

/// `snapshot` reports what `route_status` does: an override past its expiry has ended (and is
/// audited once), even with no decision since.
#[tokio::test(start_paused = true)]
async fn the_snapshot_ends_an_expired_override_like_route_status() {
    let w = world(
        &[r("a"), r("b")],
        vec![healthy(), healthy()],
        priority_policy(),
        1,
    );
    w.router
        .set_override_with(
            RouteId(0),
            failover_router::OverrideRequest {
                value: failover_router::Override::Shadow,
                by: "hal".into(),
                reason: "trying thresholds".into(),
                expires_in: Some(secs(10)),
            },
        )
        .unwrap();
    let shown = w.router.snapshot();
    assert_eq!(shown.routes[0].status.operator.as_ref().unwrap().by, "hal");
    tokio::time::sleep(secs(11)).await;
    let shown = w.router.snapshot();
    assert_eq!(
        shown.routes[0].status.override_,
        failover_router::Override::None
    );
    assert_eq!(
        shown.routes[0].status,
        w.router.route_status(RouteId(0)).unwrap()
    );
    let expired = w.events.of_type("override_expired");
    assert_eq!(expired.len(), 1, "{expired:?}");
    assert_eq!(expired[0]["at"], 11.0);
}

/// Clearing is audited like setting; the plain `set_override` is audited too, without reasons.
#[tokio::test(start_paused = true)]
async fn setting_and_clearing_overrides_is_audited() {
    let w = world(
        &[r("a"), r("b")],
        vec![healthy(), healthy()],
        priority_policy(),
        1,
    );
    w.router
        .set_override(RouteId(0), failover_router::Override::Shadow)
        .unwrap();
    tokio::time::sleep(secs(5)).await;
    w.router
        .set_override_with(
            RouteId(0),
            failover_router::OverrideRequest {
                value: failover_router::Override::None,
                by: "carol".into(),
                reason: "shadow trial over".into(),
                expires_in: None,
            },
        )
        .unwrap();
    let set = w.events.of_type("override_set");
    assert_eq!(set.len(), 2, "{set:?}");
    assert_eq!(
        (set[0]["value"].as_str(), set[0]["by"].as_str()),
        (Some("shadow"), Some(""))
    );
    assert_eq!(set[1]["value"], "none");
    assert_eq!(set[1]["previous"], "shadow");
    assert_eq!(set[1]["by"], "carol");
    assert_eq!(set[1]["until"], Value::Null);
    assert_eq!(set[1]["at"], 5.0);
    assert_eq!(w.router.route_status(RouteId(0)).unwrap().operator, None);
}

/// A shift of 3 : 1 : 0 over three healthy, equal routes: first attempts split 75 % / 25 % /
/// none (within 5 points over 400 verifications on this seed; the binomial standard deviation
/// is 2.2 points), each with its exact probability. Cleared, the strategy decides again.
#[tokio::test(start_paused = true)]
async fn a_traffic_shift_splits_first_attempts_in_proportion() {
    let w = world(
        &[r("a"), r("b"), r("c")],
        vec![healthy(), healthy(), healthy()],
        Policy::default(),
        7,
    );
    let weights = [(RouteId(0), 3.0), (RouteId(1), 1.0), (RouteId(2), 0.0)];
    w.router
        .shift_traffic(
            de(),
            NumberType::Mobile,
            &weights,
            "dave",
            "drain c for maintenance",
        )
        .unwrap();
    let shown = w.router.traffic_shift(de(), NumberType::Mobile).unwrap();
    assert_eq!(
        (shown.weights.as_slice(), shown.by.as_str()),
        (&weights[..], "dave")
    );
    let n = 400;
    drive(&w.router, 0, n, ms(100)).await;
    let decisions = first_decisions(&w);
    let share =
        |route: u64| decisions.iter().filter(|d| d["chosen"] == route).count() as f64 / n as f64;
    assert!((share(0) - 0.75).abs() < 0.05, "a: {}", share(0));
    assert!((share(1) - 0.25).abs() < 0.05, "b: {}", share(1));
    assert_eq!(share(2), 0.0, "c is drained");
    for d in &decisions {
        assert_eq!(d["reason"], "traffic_shift", "{d}");
        let p = if d["chosen"] == 0 { 0.75 } else { 0.25 };
        assert!(
            (d["probability"].as_f64().unwrap() - p).abs() < 1e-12,
            "{d}"
        );
    }
    let set = &w.events.of_type("traffic_shift_set")[0];
    assert_eq!(set["weights"][0]["weight"], 3.0);
    assert_eq!(set["reason"], "drain c for maintenance");

    assert!(
        w.router
            .clear_traffic_shift(de(), NumberType::Mobile, "dave", "maintenance over")
            .unwrap()
    );
    assert!(w.router.traffic_shift(de(), NumberType::Mobile).is_none());
    assert_eq!(w.events.of_type("traffic_shift_cleared").len(), 1);
    drive(&w.router, 1000, 300, ms(100)).await;
    let after: Vec<Value> = first_decisions(&w)
        .into_iter()
        .filter(|d| d["verification"].as_u64().unwrap() >= 1000)
        .collect();
    assert!(after.iter().all(|d| d["reason"] != "traffic_shift"));
    // `c` is a candidate again; cold after its drain, it comes back through exploration
    // (about 2 % of decisions) until its record catches up with the others'.
    let c = after.iter().filter(|d| d["chosen"] == 2).count();
    assert!(c > 0, "c never chosen after the shift was cleared");
}

/// A drain never takes a group dark. `a` is drained (weight 0) and `b` takes every first
/// attempt; with `b` force-ejected, `a` serves first attempts as the last resort; and with `a`
/// ejected too, the group is in panic and the drained `a` still serves.
#[tokio::test(start_paused = true)]
async fn a_drained_route_serves_as_a_last_resort_and_in_panic() {
    let mut p = priority_policy();
    p.trip.consecutive_failures = 3;
    p.ejection.max_ejected_share = 1.0;
    // `a` fails its first three attempts (then is ejected), and delivers afterwards.
    let a = script(|_, n| {
        if n < 3 {
            fail(50, FailureKind::Unavailable)
        } else {
            ok(1000)
        }
    });
    let w = world(
        &[
            Route {
                priority: 1,
                ..r("a")
            },
            r("b"),
        ],
        vec![a, healthy()],
        p,
        1,
    );
    w.router
        .shift_traffic(
            de(),
            NumberType::Mobile,
            &[(RouteId(1), 1.0)],
            "erin",
            "drain a",
        )
        .unwrap();
    drive(&w.router, 0, 5, secs(1)).await;
    assert!(first_decisions(&w).iter().all(|d| d["chosen"] == 1));
    w.router
        .set_override(RouteId(1), failover_router::Override::ForceEject)
        .unwrap();
    // `a` is drained and healthy: it serves (and fails three times: ejected).
    let statuses = drive(&w.router, 10, 3, secs(1)).await;
    let last_resort: Vec<Value> = first_decisions(&w)
        .into_iter()
        .filter(|d| d["verification"].as_u64().unwrap() >= 10)
        .collect();
    assert!(
        last_resort
            .iter()
            .all(|d| d["chosen"] == 0 && d["reason"] == "best")
    );
    assert!(statuses.iter().all(|s| *s != VerificationStatus::Delivered));
    assert_eq!(
        w.router.route_status(RouteId(0)).unwrap().state,
        failover_router::RouteState::Ejected
    );
    // Every route out: panic, and the drained route is the one that serves.
    let out = w.router.verify(request(20)).await;
    assert!(out.delivered(), "{out:?}");
    let d = first_decisions(&w)
        .into_iter()
        .find(|d| d["verification"] == 20)
        .unwrap();
    assert_eq!(
        (d["chosen"].as_u64(), d["reason"].as_str()),
        (Some(0), Some("panic")),
        "{d}"
    );
    assert!(w.router.in_panic(de(), NumberType::Mobile));
}

/// Shifts name routes of the group, with weights that are numbers >= 0, not all 0.
#[tokio::test(start_paused = true)]
async fn a_bad_traffic_shift_is_refused_naming_what_to_fix() {
    use failover_router::ShiftError;
    let w = world(
        &[
            r("a"),
            r("b"),
            Route {
                country: us(),
                ..r("a")
            },
        ],
        vec![healthy(), healthy()],
        priority_policy(),
        1,
    );
    let shift = |weights: &[(RouteId, f64)]| {
        w.router
            .shift_traffic(de(), NumberType::Mobile, weights, "x", "y")
            .err()
    };
    assert!(matches!(
        shift(&[(RouteId(2), 1.0)]),
        Some(ShiftError::NotInGroup { route: 2, .. })
    ));
    assert!(matches!(
        shift(&[(RouteId(9), 1.0)]),
        Some(ShiftError::NotInGroup { route: 9, .. })
    ));
    assert!(matches!(
        shift(&[(RouteId(0), f64::NAN)]),
        Some(ShiftError::InvalidWeight { route: 0, .. })
    ));
    assert_eq!(
        shift(&[(RouteId(0), 1.0), (RouteId(0), 2.0)]),
        Some(ShiftError::Duplicate { route: 0 })
    );
    assert_eq!(shift(&[(RouteId(0), 0.0)]), Some(ShiftError::AllDrained));
    assert!(matches!(
        w.router
            .shift_traffic(us(), NumberType::Voip, &[(RouteId(2), 1.0)], "x", "y"),
        Err(ShiftError::NoRoutes { .. })
    ));
    assert!(w.events.of_type("traffic_shift_set").is_empty());
    assert_eq!(
        w.router
            .clear_traffic_shift(de(), NumberType::Mobile, "x", "y"),
        Ok(false)
    );
}

// ---------------------------------------------------------------------------------------------
// 4. Across a reload (ids are stable: what is in use and what operators set stays put).

/// One attempt on `a` is in flight when a reload raises `a`'s limit from 1 to 2 and adds a
/// provider `c` to the shifted group: the attempt still counts (one more fits, not two), the
/// shift and `b`'s override (with its reasons) are kept, and `c`, not listed in the shift, is
/// drained. A reload whose limits name a provider the new table lacks is refused, the router
/// unchanged.
#[tokio::test(start_paused = true)]
async fn limits_and_operator_state_survive_a_reload() {
    use failover_router::{RouteSpec, RoutingTable};
    let spec = |provider: &str, priority| RouteSpec {
        provider: provider.into(),
        country: de(),
        number_type: NumberType::Mobile,
        cost: 0.01,
        priority,
        weight: 1.0,
        failure_domains: vec![],
    };
    let limited = |max: u32| {
        parse(&format!(
            "strategy = \"priority\"\nexploration = 0.0\n[limits.a]\nmax_in_flight = {max}\n"
        ))
    };
    let w = world(
        &[
            r("a"),
            Route {
                priority: 1,
                ..r("b")
            },
        ],
        vec![script(|_, _| ok(5000)), healthy()],
        limited(1),
        1,
    );
    // Verification 0 takes a's one slot (its attempt delivers after 5 s).
    let r = w.router.clone();
    let first = tokio::spawn(async move { r.verify(request(0)).await });
    tokio::time::sleep(ms(10)).await;
    assert_eq!(w.router.provider_in_flight("a"), Some(1));
    let halves = [(RouteId(0), 1.0), (RouteId(1), 1.0)];
    w.router
        .shift_traffic(de(), NumberType::Mobile, &halves, "fay", "canary")
        .unwrap();
    w.router
        .set_override_with(
            RouteId(1),
            failover_router::OverrideRequest {
                value: failover_router::Override::ForceHealthy,
                by: "gina".into(),
                reason: "pinned during the reload".into(),
                expires_in: Some(secs(600)),
            },
        )
        .unwrap();

    let refused = w.router.reload_with_adapters(
        RoutingTable::new(&["b"], &[spec("b", 0)]).unwrap(),
        limited(2),
        vec![],
    );
    assert!(
        matches!(refused, Err(BuildError::UnknownLimitProvider { ref field, .. }) if field == "limits.a"),
        "{refused:?}"
    );
    assert_eq!(
        w.router.policy().limits["a"].max_in_flight,
        Some(1),
        "unchanged"
    );

    let table = RoutingTable::new(
        &["a", "b", "c"],
        &[spec("a", 0), spec("b", 1), spec("c", 2)],
    )
    .unwrap();
    w.router
        .reload_with_adapters(
            table,
            limited(2),
            vec![("c".into(), Scripted::adapter(healthy()))],
        )
        .unwrap();
    assert_eq!(w.router.provider_in_flight("a"), Some(1), "still in flight");
    assert!(w.router.traffic_shift(de(), NumberType::Mobile).is_some());
    let b = w.router.route_status(RouteId(1)).unwrap();
    assert_eq!(b.operator.map(|o| o.by), Some("gina".to_owned()));

    // Twenty first attempts at once after the reload, shifted half and half between a and b:
    // a takes one more (2 in flight at most), b the rest, the drained c none.
    let outcomes = drive_outcomes(&w.router, 100, 20, 20, ms(10)).await;
    assert!(outcomes.iter().all(|o| o.delivered()));
    assert!(first.await.unwrap().delivered());
    let after: Vec<Value> = first_decisions(&w)
        .into_iter()
        .filter(|d| d["verification"].as_u64().unwrap() >= 100)
        .collect();
    let on = |route: u64| after.iter().filter(|d| d["chosen"] == route).count();
    assert_eq!((on(0), on(1), on(2)), (1, 19, 0), "{after:?}");
    assert_eq!(w.router.provider_in_flight("a"), Some(0));
    // The new provider and route are counted like the others.
    assert_eq!(w.router.provider_in_flight("c"), Some(0));
    assert_eq!(w.router.route_status(RouteId(2)).unwrap().in_flight, 0);
}
