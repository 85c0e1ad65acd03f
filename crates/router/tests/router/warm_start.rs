//! Warm start: a router's learnt state exported, serialized and restored by the router that
//! replaces it, in paused (virtual) time.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use failover_router::policy::{Policy, Strategy};
use failover_router::{
    BuildError, FailureKind, NumberType, Override, RouteId, RouteSpec, RouteState, Router,
    RouterBuilder, RouterState, RoutingTable, STATE_VERSION, WarmStart,
};
use tokio::time::Instant;

use crate::harness::*;

/// A world like the harness's, built through `customize` (to hand it a state or an epoch).
fn world_built(
    routes: &[Route<'_>],
    scripts: Vec<Arc<Script>>,
    policy: Policy,
    seed: u64,
    customize: impl FnOnce(RouterBuilder) -> RouterBuilder,
) -> World {
    let mut providers: Vec<&str> = Vec::new();
    for r in routes {
        if !providers.contains(&r.provider) {
            providers.push(r.provider);
        }
    }
    assert_eq!(providers.len(), scripts.len(), "one script per provider");
    let specs: Vec<RouteSpec> = routes
        .iter()
        .map(|r| RouteSpec {
            provider: r.provider.into(),
            country: r.country,
            number_type: r.number_type,
            cost: r.cost,
            priority: r.priority,
            weight: r.weight,
            failure_domains: vec![],
        })
        .collect();
    let table = RoutingTable::new(&providers, &specs).unwrap();
    let events = Arc::new(Recorder::default());
    let mut b = Router::builder(table, policy)
        .sink(events.clone())
        .seed(seed);
    for (p, s) in providers.iter().zip(scripts) {
        b = b.adapter(p, Scripted::adapter(s));
    }
    World {
        router: customize(b).build().unwrap(),
        events,
    }
}

/// `a` (priority 0) and `b` (priority 1), DE mobile.
fn a_then_b() -> [Route<'static>; 2] {
    [
        r("a"),
        Route {
            priority: 1,
            ..r("b")
        },
    ]
}

/// Priority routing that ejects after 3 consecutive failures for exactly `base`.
fn ejecting_policy(base: Duration) -> Policy {
    let mut p = priority_policy();
    p.trip.consecutive_failures = 3;
    p.health.min_volume = 1000;
    p.ejection.base = base;
    p.ejection.jitter = 0.0;
    p
}

/// An old router whose route `a` (down) was ejected for 60 s at about t = 2 s, exported at
/// about t = 21 s: about 41 s of its ejection are left.
async fn old_router_with_a_ejected() -> (World, RouterState) {
    let old = world(
        &a_then_b(),
        vec![down(), healthy()],
        ejecting_policy(secs(60)),
        1,
    );
    drive(&old.router, 0, 10, ms(1000)).await;
    assert_eq!(
        old.events.transitions(0),
        [("ejected".to_owned(), "consecutive_failures".to_owned())]
    );
    tokio::time::sleep(secs(10)).await;
    let state = old.router.export_state();
    (old, state)
}

/// Decisions of first attempts, as (seconds since the router's epoch, chosen route, reason).
fn first_decisions(w: &World) -> Vec<(f64, u64, String)> {
    w.events
        .of_type("decision")
        .iter()
        .filter(|d| d["attempt"] == 1)
        .map(|d| {
            (
                d["at"].as_f64().unwrap(),
                d["chosen"].as_u64().unwrap(),
                d["reason"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn an_ejected_route_stays_out_across_a_restart_then_probes() {
    let (_old, state) = old_router_with_a_ejected().await;
    let a = &state.routes[0];
    assert_eq!(a.state, RouteState::Ejected);
    let left = Duration::from_millis(a.ejection_left_ms);
    assert!(left > secs(35) && left < secs(45), "{left:?}");

    // The outage is over by now: `a` would deliver if asked.
    let warm = world_built(
        &a_then_b(),
        vec![healthy(), healthy()],
        ejecting_policy(secs(60)),
        2,
        |b| b.state_aged(state.clone(), secs(5)),
    );
    let expected_left = left - secs(5);
    assert!(matches!(
        warm.router.warm_start(),
        WarmStart::Restored {
            routes: 2,
            ignored: 0,
            new: 0,
            ..
        }
    ));
    // The audit trail says, before anything else, why `a` is out.
    let started = warm.events.of_type("started");
    assert_eq!(started.len(), 1);
    assert_eq!(started[0]["at"], 0.0);
    assert_eq!(started[0]["warm_start"]["kind"], "restored");
    assert_eq!(started[0]["routes"][0]["route"], 0);
    assert_eq!(started[0]["routes"][0]["state"], "ejected");
    assert_eq!(
        started[0]["routes"][0]["ejected_for"].as_f64().unwrap(),
        expected_left.as_secs_f64()
    );
    assert_eq!(
        warm.router.route_status(RouteId(0)).unwrap().state,
        RouteState::Ejected
    );

    // One verification a second for 80 s: `a` gets no first attempt while its ejection lasts,
    // then earns its way back through probes (one per `probe.interval`, 10 s, at this rate).
    drive(&warm.router, 100, 80, ms(1000)).await;
    let decisions = first_decisions(&warm);
    let out_until = expected_left.as_secs_f64();
    for (at, chosen, reason) in &decisions {
        if *at < out_until {
            assert_eq!((*chosen, reason.as_str()), (1, "best"), "at {at}");
        }
    }
    let first_on_a = decisions.iter().find(|(_, c, _)| *c == 0).unwrap();
    assert!(first_on_a.0 >= out_until, "{first_on_a:?}");
    assert_eq!(first_on_a.2, "probe");
    assert_eq!(
        warm.events.transitions(0),
        [
            ("probing".to_owned(), "ejection_expired".to_owned()),
            ("healthy".to_owned(), "recovered".to_owned())
        ]
    );

    // Without the state, the restarted router sends `a` its first attempt at once.
    let cold = world(
        &a_then_b(),
        vec![down(), healthy()],
        ejecting_policy(secs(60)),
        2,
    );
    drive(&cold.router, 100, 5, ms(1000)).await;
    assert_eq!(first_decisions(&cold)[0].1, 0);
    // A router built without a state or an epoch starts a trail of its own: nothing to explain.
    assert!(cold.events.of_type("started").is_empty());
    assert_eq!(cold.router.warm_start(), WarmStart::Cold);
}

#[tokio::test(start_paused = true)]
async fn an_ejection_that_ran_out_while_down_resumes_probing_not_healthy() {
    let (_old, state) = old_router_with_a_ejected().await;
    let warm = world_built(
        &a_then_b(),
        vec![healthy(), healthy()],
        ejecting_policy(secs(60)),
        2,
        // Longer than what was left of the ejection.
        |b| b.state_aged(state, secs(50)),
    );
    let status = warm.router.route_status(RouteId(0)).unwrap();
    assert_eq!(status.state, RouteState::Probing);
    let started = &warm.events.of_type("started")[0];
    assert_eq!(started["routes"][0]["state"], "probing");
    assert!(started["routes"][0]["ejected_for"].is_null());
    drive(&warm.router, 100, 3, ms(1000)).await;
    // Its first traffic is a probe, not a healthy route's share.
    assert_eq!(first_decisions(&warm)[0].1, 0);
    assert_eq!(first_decisions(&warm)[0].2, "probe");
}

#[tokio::test(start_paused = true)]
async fn the_backoff_multiplier_survives_a_restart() {
    // `a` is down for its first 3 calls (ejected for 10 s), then fine: probes restore it with
    // its multiplier doubled.
    let flaky_then_fine = || {
        script(|_, n| {
            if n < 3 {
                fail(50, FailureKind::Unavailable)
            } else {
                ok(1000)
            }
        })
    };
    let mut p = ejecting_policy(secs(10));
    p.probe.share = 1.0;
    p.probe.slow_start = Duration::ZERO;
    let old = world(
        &a_then_b(),
        vec![flaky_then_fine(), healthy()],
        p.clone(),
        1,
    );
    drive(&old.router, 0, 40, ms(1000)).await;
    let states: Vec<String> = old
        .events
        .transitions(0)
        .into_iter()
        .map(|(to, _)| to)
        .collect();
    assert_eq!(states, ["ejected", "probing", "healthy"]);
    assert_eq!(
        old.router
            .route_status(RouteId(0))
            .unwrap()
            .backoff_multiplier,
        2.0
    );
    let state = old.router.export_state();

    // In the new router `a` fails again at once: its second ejection lasts twice the first.
    let ejected_for = |restore: Option<RouterState>| async move {
        let w = world_built(
            &a_then_b(),
            vec![down(), healthy()],
            ejecting_policy(secs(10)),
            2,
            |b| match restore {
                Some(s) => b.state_aged(s, Duration::ZERO),
                None => b,
            },
        );
        drive(&w.router, 100, 5, ms(1000)).await;
        let change = w
            .events
            .of_type("state_change")
            .into_iter()
            .find(|e| e["to"] == "ejected")
            .unwrap();
        change["ejected_for"].as_f64().unwrap()
    };
    assert_eq!(ejected_for(Some(state)).await, 20.0);
    assert_eq!(ejected_for(None).await, 10.0);
}

#[tokio::test(start_paused = true)]
async fn the_long_run_record_survives_a_restart() {
    // `a` is the cheaper route but delivers only 2 in 5; `b` always delivers. No trips: this is
    // about what `score` believes of each route.
    let mut p = Policy {
        strategy: Strategy::Score,
        exploration: 0.0,
        score_spread: 0.0,
        max_attempts: 1,
        ..Policy::default()
    };
    p.trip.consecutive_failures = 0;
    p.trip.failure_rate = 1.0;
    p.ejection.max_ejected_share = 0.0;
    let routes = [
        Route {
            cost: 0.01,
            weight: 1.0,
            ..r("a")
        },
        Route {
            cost: 0.012,
            ..r("b")
        },
    ];
    let poor = || {
        script(|_, n| {
            if n % 5 < 2 {
                ok(1000)
            } else {
                fail(100, FailureKind::Undelivered)
            }
        })
    };
    let old = world(&routes, vec![poor(), healthy()], p.clone(), 1);
    drive(&old.router, 0, 200, ms(500)).await;
    let state = old.router.export_state();
    assert!(state.routes[0].long_run_n > 10.0, "{:?}", state.routes[0]);

    // Two minutes later the windows would be empty anyway; only the long-run record is left.
    let restarted = |restore: Option<RouterState>| {
        world_built(
            &routes,
            vec![poor(), healthy()],
            p.clone(),
            2,
            |b| match restore {
                Some(s) => b.state_aged(s, secs(120)),
                None => b,
            },
        )
    };
    let warm = restarted(Some(state));
    let cold = restarted(None);
    // The warm router knows `a` is poor and prefers `b`; the cold one takes the cheaper `a`.
    assert_eq!(warm.router.explain(&request(1000)).chosen, Some(RouteId(1)));
    assert_eq!(cold.router.explain(&request(1000)).chosen, Some(RouteId(0)));
}

#[tokio::test(start_paused = true)]
async fn a_state_past_its_maximum_age_is_forgotten() {
    let (_old, mut state) = old_router_with_a_ejected().await;
    state.routes[1].override_ = Override::ForceEject;
    let mut p = ejecting_policy(secs(60));
    p.warm_start.max_age = secs(300);
    let build = |customize: &dyn Fn(RouterBuilder) -> RouterBuilder| {
        world_built(&a_then_b(), vec![down(), healthy()], p.clone(), 2, |b| {
            customize(b)
        })
    };

    let stale = build(&|b| b.state_aged(state.clone(), secs(301)));
    assert_eq!(
        stale.router.warm_start(),
        WarmStart::Expired {
            age: secs(301),
            max_age: secs(300),
            overrides_dropped: 1
        }
    );
    let started = &stale.events.of_type("started")[0];
    assert_eq!(started["warm_start"]["kind"], "expired");
    assert_eq!(started["routes"].as_array().unwrap().len(), 0);
    for route in [0, 1] {
        let s = stale.router.route_status(RouteId(route)).unwrap();
        assert_eq!(
            (s.state, s.override_),
            (RouteState::Healthy, Override::None)
        );
    }
    drive(&stale.router, 100, 3, ms(1000)).await;
    assert_eq!(
        first_decisions(&stale)[0].1,
        0,
        "a cold start tries `a` first"
    );

    // Within the maximum age the same state is restored.
    let fresh = build(&|b| b.state_aged(state.clone(), secs(299)));
    assert!(matches!(
        fresh.router.warm_start(),
        WarmStart::Restored { .. }
    ));

    // By default the age is read from the wall clock stamp of the export.
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let mut stamped = state.clone();
    stamped.exported_at_unix_ms = now_ms - 400_000;
    let wall_stale = build(&|b| b.state(stamped.clone()));
    assert!(
        matches!(wall_stale.router.warm_start(), WarmStart::Expired { age, .. } if age >= secs(400)),
        "{:?}",
        wall_stale.router.warm_start()
    );
    stamped.exported_at_unix_ms = now_ms - 2_000;
    let wall_fresh = build(&|b| b.state(stamped.clone()));
    assert!(
        matches!(wall_fresh.router.warm_start(), WarmStart::Restored { age, .. } if age >= secs(2) && age < secs(60)),
        "{:?}",
        wall_fresh.router.warm_start()
    );
}

#[tokio::test(start_paused = true)]
async fn routes_are_matched_by_name_and_new_routes_start_cold() {
    let (_old, state) = old_router_with_a_ejected().await;
    // The new table drops nothing of `a` but puts it after a new route `c` and in a table
    // with a US route: route ids differ from the old table's.
    let routes = [
        Route {
            priority: 2,
            ..r("c")
        },
        Route {
            country: us(),
            ..r("b")
        },
        r("a"),
        Route {
            priority: 1,
            ..r("b")
        },
    ];
    let w = world_built(
        &routes,
        vec![healthy(), healthy(), healthy()],
        ejecting_policy(secs(60)),
        2,
        |b| b.state_aged(state, Duration::ZERO),
    );
    assert_eq!(
        w.router.warm_start(),
        WarmStart::Restored {
            age: Duration::ZERO,
            routes: 2,
            ignored: 0,
            new: 2
        }
    );
    let state_of = |r: u32| w.router.route_status(RouteId(r)).unwrap().state;
    assert_eq!(state_of(2), RouteState::Ejected, "a, now route 2");
    assert_eq!(state_of(0), RouteState::Healthy, "c is new");
    assert_eq!(state_of(1), RouteState::Healthy, "b for US is new");
    assert_eq!(state_of(3), RouteState::Healthy);

    // A table without `a`: its entry is ignored.
    let (_old, state) = old_router_with_a_ejected().await;
    let w = world_built(
        &[
            r("b"),
            Route {
                priority: 1,
                ..r("c")
            },
        ],
        vec![healthy(), healthy()],
        ejecting_policy(secs(60)),
        2,
        |b| b.state_aged(state, Duration::ZERO),
    );
    assert_eq!(
        w.router.warm_start(),
        WarmStart::Restored {
            age: Duration::ZERO,
            routes: 1,
            ignored: 1,
            new: 1
        }
    );
    assert!(
        w.events.of_type("started")[0]["routes"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}

#[tokio::test(start_paused = true)]
async fn an_operator_force_eject_survives_a_restart() {
    let old = world(
        &a_then_b(),
        vec![healthy(), healthy()],
        priority_policy(),
        1,
    );
    old.router
        .set_override(RouteId(0), Override::ForceEject)
        .unwrap();
    let state = old.router.export_state();
    let w = world_built(
        &a_then_b(),
        vec![healthy(), healthy()],
        priority_policy(),
        2,
        |b| b.state_aged(state, secs(30)),
    );
    let s = w.router.route_status(RouteId(0)).unwrap();
    assert_eq!(
        (s.state, s.override_),
        (RouteState::Ejected, Override::ForceEject)
    );
    assert_eq!(
        w.events.of_type("started")[0]["routes"][0]["override"],
        "force_eject"
    );
    drive(&w.router, 0, 10, ms(1000)).await;
    assert_eq!(w.events.chosen_counts(2), [0, 10]);
}

#[tokio::test(start_paused = true)]
async fn router_state_round_trips_through_json() {
    // Every kind of route: ejected (US), probing (DE `a`), healthy with a record, overridden;
    // and a group in panic (US has one route, ejected).
    let mut p = ejecting_policy(secs(30));
    p.probe.share = 0.001;
    p.probe.interval = secs(3600);
    let routes = [
        r("a"),
        Route {
            priority: 1,
            ..r("b")
        },
        Route {
            country: us(),
            ..r("c")
        },
    ];
    let w = world(&routes, vec![down(), healthy(), down()], p, 1);
    drive(&w.router, 0, 10, ms(1000)).await;
    // `a`'s ejection runs out; the next decision finds it probing (its probe fails: one of
    // the three a verdict needs).
    tokio::time::sleep(secs(40)).await;
    drive(&w.router, 200, 1, ms(1)).await;
    // Then `c`, US's only route, is ejected: the next US decision finds the group in panic.
    for i in 0..4 {
        w.router
            .verify(request_to(100 + i, us(), NumberType::Mobile))
            .await;
    }
    w.router.set_override(RouteId(1), Override::Shadow).unwrap();
    let state = w.router.export_state();
    let states: Vec<RouteState> = state.routes.iter().map(|r| r.state).collect();
    assert_eq!(
        states,
        [
            RouteState::Probing,
            RouteState::Healthy,
            RouteState::Ejected
        ],
        "{state:#?}"
    );
    assert_eq!(state.panic.len(), 1, "{state:#?}");
    assert_eq!(state.version, STATE_VERSION);

    let text = serde_json::to_string_pretty(&state).unwrap();
    let back: RouterState = serde_json::from_str(&text).unwrap();
    assert_eq!(back, state);
    assert_eq!(serde_json::to_string_pretty(&back).unwrap(), text);
    // Keyed by names, never by route id.
    assert!(text.contains("\"provider\": \"c\""), "{text}");
    assert!(!text.contains("\"route\""), "{text}");

    // Restored, the group is still in panic and announced as such.
    let r = world_built(
        &routes,
        vec![healthy(), healthy(), healthy()],
        ejecting_policy(secs(30)),
        2,
        |b| b.state_aged(back, Duration::ZERO),
    );
    assert!(r.router.in_panic(us(), NumberType::Mobile));
    assert_eq!(r.events.of_type("started")[0]["panic"][0]["country"], "US");
}

#[tokio::test(start_paused = true)]
async fn an_unknown_version_or_a_bad_value_is_refused_with_its_field() {
    let (_old, state) = old_router_with_a_ejected().await;
    let text = serde_json::to_string(&state).unwrap();
    let v2 = text.replacen(&format!("\"version\":{STATE_VERSION}"), "\"version\":2", 1);
    assert_ne!(v2, text);
    let e = serde_json::from_str::<RouterState>(&v2)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("version: 2 is not supported: this build reads version 1"),
        "{e}"
    );

    let build = |s: RouterState| {
        let specs = vec![RouteSpec {
            provider: "a".into(),
            country: de(),
            number_type: NumberType::Mobile,
            cost: 0.01,
            priority: 0,
            weight: 1.0,
            failure_domains: vec![],
        }];
        let table = RoutingTable::new(&["a"], &specs).unwrap();
        Router::builder(table, Policy::default())
            .adapter("a", Scripted::adapter(healthy()))
            .state_aged(s, Duration::ZERO)
            .build()
    };
    let field_of = |r: Result<Router, BuildError>| match r {
        Err(BuildError::State(e)) => e.field,
        Err(other) => panic!("{other}"),
        Ok(_) => panic!("accepted"),
    };
    let mut s = state.clone();
    s.version = 2;
    assert_eq!(field_of(build(s)), "version");
    let mut s = state.clone();
    s.routes[1].backoff_multiplier = 0.5;
    assert_eq!(field_of(build(s)), "routes[1].backoff_multiplier");
    let mut s = state.clone();
    s.routes[0].long_run_ok = s.routes[0].long_run_n + 1.0;
    assert_eq!(field_of(build(s)), "routes[0].long_run_ok");
    let mut s = state.clone();
    s.routes.push(s.routes[0].clone());
    assert_eq!(field_of(build(s)), "routes[2]");
    // The message says what to do.
    let mut s = state;
    s.version = 7;
    let message = build(s).err().unwrap().to_string();
    assert!(
        message.contains("start the router without the state"),
        "{message}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_restarted_router_continues_the_old_ones_clock() {
    let old = world(
        &a_then_b(),
        vec![healthy(), healthy()],
        priority_policy(),
        1,
    );
    tokio::time::sleep(secs(100)).await;
    let epoch = Instant::now() - old.router.elapsed();
    let new = world_built(
        &a_then_b(),
        vec![healthy(), healthy()],
        priority_policy(),
        2,
        |b| b.epoch(epoch),
    );
    assert_eq!(new.router.elapsed(), secs(100));
    // A cold start that continues a trail announces itself, so a reader knows every route is
    // back in service.
    let started = new.events.of_type("started");
    assert_eq!(started[0]["at"], 100.0);
    assert_eq!(started[0]["warm_start"]["kind"], "cold");
    drive(&new.router, 0, 1, ms(1)).await;
    assert_eq!(new.events.of_type("decision")[0]["at"], 100.0);

    let future = Instant::now() + secs(1);
    let table = new.router.table().clone();
    let e = Router::builder(table, priority_policy())
        .adapter("a", Scripted::adapter(healthy()))
        .adapter("b", Scripted::adapter(healthy()))
        .epoch(future)
        .build()
        .err()
        .unwrap();
    assert_eq!(e, BuildError::EpochInFuture(secs(1)));
}
