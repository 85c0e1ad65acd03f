//! Operating a running router: hot reload and the snapshot of every route, in paused time.

use failover_router::policy::Policy;
use failover_router::{
    BuildError, FailureKind, NumberType, RouteId, RouteSpec, RouteState, RoutingTable,
    VerificationStatus,
};

use crate::harness::*;

fn spec(provider: &str, cost: f64) -> RouteSpec {
    RouteSpec {
        provider: provider.into(),
        country: de(),
        number_type: NumberType::Mobile,
        cost,
        priority: 0,
        weight: 1.0,
        failure_domains: vec![],
    }
}

/// A policy that ejects route a quickly and keeps it out for long: `base` 120 s, no jitter.
fn ejecting() -> Policy {
    let mut p = priority_policy();
    p.trip.consecutive_failures = 3;
    p.ejection.base = secs(120);
    p.ejection.jitter = 0.0;
    p
}

#[tokio::test(start_paused = true)]
async fn reload_keeps_what_each_route_learnt_and_audits_the_difference() {
    // a fails (and is ejected), b serves; three providers so an ejection fits the cap.
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
        vec![down(), healthy(), healthy()],
        ejecting(),
        1,
    );
    drive(&w.router, 0, 40, ms(500)).await;
    let before_a = w.router.route_status(RouteId(0)).unwrap();
    let before_b = w.router.route_status(RouteId(1)).unwrap();
    assert_eq!(before_a.state, RouteState::Ejected);
    assert!(before_b.window.deliveries > 20, "{before_b:?}");

    // A new price for b, a stricter trip, one attempt fewer.
    let mut p = ejecting();
    p.trip.consecutive_failures = 2;
    p.max_attempts = 2;
    let table = RoutingTable::new(
        &["a", "b", "c"],
        &[
            spec("a", 0.01),
            RouteSpec {
                priority: 1,
                ..spec("b", 0.02)
            },
            RouteSpec {
                priority: 2,
                ..spec("c", 0.01)
            },
        ],
    )
    .unwrap();
    let event = w.router.reload(table, p.clone()).unwrap();
    assert_eq!(event.generation, 1);
    assert_eq!(event.changed, vec![RouteId(1)]);
    assert!(event.added.is_empty() && event.retired.is_empty());
    assert_eq!(event.policy_fields, vec!["max_attempts", "trip"]);
    assert!(!event.windows_reset);
    assert_eq!(w.events.of_type("reloaded").len(), 1);

    // Same instant: nothing learnt was lost.
    let after_a = w.router.route_status(RouteId(0)).unwrap();
    let after_b = w.router.route_status(RouteId(1)).unwrap();
    assert_eq!(after_a, before_a);
    assert_eq!(after_b, before_b);
    assert_eq!(w.router.policy(), p);
    assert_eq!(w.router.table().route(RouteId(1)).cost, 0.02);

    // And the router goes on acting on it: a stays out, b serves at its new price.
    let outcomes = drive_outcomes(&w.router, 100, 10, 1, ms(500)).await;
    assert!(outcomes.iter().all(|o| o.delivered() && o.cost == 0.02));
    assert_eq!(
        w.router.route_status(RouteId(0)).unwrap().state,
        RouteState::Ejected
    );
}

#[tokio::test(start_paused = true)]
async fn an_invalid_reload_leaves_the_router_unchanged() {
    let w = world(
        &[
            r("a"),
            Route {
                priority: 1,
                ..r("b")
            },
        ],
        vec![healthy(), healthy()],
        priority_policy(),
        1,
    );
    drive(&w.router, 0, 10, ms(500)).await;
    let snapshot = w.router.snapshot();
    let policy = w.router.policy();

    // Invalid policy: no hysteresis.
    let mut bad = priority_policy();
    bad.probe.recover_failure_rate = 0.9;
    let table = || RoutingTable::new(&["a", "b"], &[spec("a", 0.01), spec("b", 0.01)]).unwrap();
    match w.router.reload(table(), bad) {
        Err(BuildError::Policy(e)) => assert_eq!(e.field, "probe.recover_failure_rate"),
        other => panic!("{other:?}"),
    }
    // A new provider with no adapter.
    let grown = RoutingTable::new(&["a", "b", "n"], &[spec("a", 0.01), spec("n", 0.01)]).unwrap();
    assert_eq!(
        w.router.reload(grown, priority_policy()).unwrap_err(),
        BuildError::MissingAdapter("n".into())
    );
    // A compliance rule naming a provider the new table does not have.
    let mut p = priority_policy();
    p.compliance.push(failover_router::policy::ComplianceRule {
        country: None,
        use_case: None,
        allow: vec![],
        deny: vec!["zz".into()],
    });
    assert!(matches!(
        w.router.reload(table(), p),
        Err(BuildError::UnknownComplianceProvider { .. })
    ));

    assert_eq!(w.router.snapshot(), snapshot);
    assert_eq!(w.router.policy(), policy);
    assert!(w.events.of_type("reloaded").is_empty());
}

#[tokio::test(start_paused = true)]
async fn route_ids_survive_a_reload_that_retires_and_adds_routes() {
    // a is a black hole: an attempt on it is in flight when a is removed.
    let w = world(
        &[
            r("a"),
            Route {
                priority: 1,
                ..r("b")
            },
        ],
        vec![script(|_, _| black_hole()), healthy()],
        priority_policy(),
        1,
    );
    let router = w.router.clone();
    let pending = tokio::spawn(async move { router.verify(request(1)).await });
    tokio::time::sleep(secs(1)).await;
    assert_eq!(
        w.router.route_status(RouteId(0)).unwrap().pending_attempts,
        1
    );

    // b stays, a goes, c (a new provider) comes.
    let table = RoutingTable::new(
        &["b", "c"],
        &[
            RouteSpec {
                priority: 1,
                ..spec("b", 0.01)
            },
            RouteSpec {
                priority: 0,
                ..spec("c", 0.01)
            },
        ],
    )
    .unwrap();
    let c = script(|_, _| ok(300));
    let event = w
        .router
        .reload_with_adapters(
            table,
            priority_policy(),
            vec![("c".into(), Scripted::adapter(c))],
        )
        .unwrap();
    assert_eq!(event.retired, vec![RouteId(0)]);
    assert_eq!(event.added, vec![RouteId(2)]);
    let t = w.router.table();
    assert!(t.route(RouteId(0)).retired);
    assert_eq!(t.route(RouteId(2)).provider_name, "c");
    assert_eq!(t.find("b", de(), NumberType::Mobile), Some(RouteId(1)));

    // The verification in flight fails over under the new table (to c, now first by
    // priority), and its attempt on a is still settled.
    let outcome = pending.await.unwrap();
    assert_eq!(outcome.status, VerificationStatus::Delivered);
    assert_eq!(outcome.receipt.unwrap().route, RouteId(2));
    tokio::time::sleep(secs(200)).await;
    assert_eq!(
        w.router.route_status(RouteId(0)).unwrap().pending_attempts,
        0
    );
    // Nothing is ever sent to a retired route again, and it is not judged.
    let chosen = drive_outcomes(&w.router, 10, 30, 1, ms(200)).await;
    assert!(
        chosen
            .iter()
            .all(|o| o.receipt.unwrap().route == RouteId(2))
    );
    let after = w.events.of_type("decision").len();
    assert!(
        w.events.of_type("decision")[after - 30..]
            .iter()
            .all(|d| d["chosen"] != 0)
    );
    assert!(w.events.transitions(0).is_empty());

    // Listing a again revives it, under its old id, cold.
    let table = RoutingTable::new(&["a"], &[spec("a", 0.01)]).unwrap();
    let event = w.router.reload(table, priority_policy()).unwrap();
    assert_eq!(event.added, vec![RouteId(0)]);
    assert_eq!(event.retired, vec![RouteId(1), RouteId(2)]);
    let a = w.router.route_status(RouteId(0)).unwrap();
    assert!(!a.retired && a.state == RouteState::Healthy && a.window.deliveries == 0);
}

#[tokio::test(start_paused = true)]
async fn the_snapshot_is_every_route_status_at_one_instant_and_fresh_when_idle() {
    let mut p = ejecting();
    p.ejection.base = secs(30);
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
            Route {
                country: us(),
                ..r("a")
            },
        ],
        vec![
            script(|a, _| {
                if a.country == de() {
                    fail(50, FailureKind::Unavailable)
                } else {
                    ok(400)
                }
            }),
            healthy(),
            healthy(),
        ],
        p,
        1,
    );
    drive(&w.router, 0, 20, ms(500)).await;
    let s = w.router.snapshot();
    assert_eq!(s.routes.len(), 4);
    for r in &s.routes {
        assert_eq!(
            r.status,
            w.router.route_status(r.route).unwrap(),
            "{}",
            r.route.0
        );
    }
    let a = &s.routes[0];
    assert_eq!(
        (a.provider.as_str(), a.status.state),
        ("a", RouteState::Ejected)
    );
    let left = a.status.ejection_remaining.unwrap();
    assert!(left > secs(15) && left <= secs(30), "{left:?}");
    assert_eq!(s.groups.len(), 2);
    assert_eq!((s.groups[0].in_service, s.groups[0].routes), (2, 3));

    // Nobody sends DE traffic for a minute: the ejection is over, and the snapshot says so
    // although no decision has looked at the route since.
    let events_before = w.events.0.lock().unwrap().len();
    tokio::time::sleep(secs(60)).await;
    let s = w.router.snapshot();
    let a = &s.routes[0].status;
    assert_eq!(a.state, RouteState::Probing);
    assert_eq!(a.ejection_remaining, None);
    assert_eq!(a.probe.credit, 1.0);
    // Its window has emptied too.
    assert_eq!(a.window.health_failures, 0);
    assert_eq!(
        s.routes[0].status,
        w.router.route_status(RouteId(0)).unwrap()
    );
    // Asking changed nothing: no transition was audited, the state machine still holds it
    // ejected until a decision looks.
    assert_eq!(w.events.0.lock().unwrap().len(), events_before);
    // And it serializes, for an admin endpoint.
    let json = serde_json::to_value(&s).unwrap();
    assert_eq!(json["routes"][0]["state"], "probing");
    assert_eq!(json["routes"][0]["provider"], "a");
    assert!(json["routes"][0]["window"]["deliveries"].is_u64());
}
