//! The `metrics` feature: every counter, gauge and histogram equals what the audit trail says,
//! series by series, after a scenario in paused time that exercises each of them (failures of
//! every kind, failovers, an ejection, a trip the cap refuses, a refused retry, panic mode, an
//! uncovered country, dry runs, overrides).
//!
//! The recorder is `metrics-util`'s `DebuggingRecorder`, set as this thread's recorder for the
//! test (a paused-time test runs on one thread); its snapshot resets counters, so each test
//! takes one, at the end.

use std::collections::BTreeMap;

use failover_router::policy::{Policy, Strategy};
use failover_router::telemetry::{
    ATTEMPTS, BILLED_COST, DECISION_DURATION, DECISIONS, EJECTED, FAILOVERS, HEALTHY, PANIC,
    PROBING, RETRIES_REFUSED, ROUTE_STATE, TIME_TO_VERIFY, TRIPS_SUPPRESSED, VERIFICATIONS,
    verify_sampled,
};
use failover_router::{
    Country, FailureKind, NumberType, Override, RouteId, RouteState, Router, VerificationId,
};
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use serde_json::Value;

use crate::harness::*;

/// A series: metric name and its labels, sorted.
type Series = (String, Vec<(String, String)>);

/// Everything the recorder holds, by series.
#[derive(Default, Debug)]
struct Snapshot {
    counters: BTreeMap<Series, u64>,
    gauges: BTreeMap<Series, f64>,
    histograms: BTreeMap<Series, Vec<f64>>,
}

impl Snapshot {
    fn take(s: &Snapshotter) -> Self {
        let mut out = Snapshot::default();
        for (key, _, _, value) in s.snapshot().into_vec() {
            let mut labels: Vec<(String, String)> = key
                .key()
                .labels()
                .map(|l| (l.key().to_owned(), l.value().to_owned()))
                .collect();
            labels.sort();
            let series = (key.key().name().to_owned(), labels);
            match value {
                DebugValue::Counter(v) => {
                    out.counters.insert(series, v);
                }
                DebugValue::Gauge(v) => {
                    out.gauges.insert(series, v.into_inner());
                }
                DebugValue::Histogram(v) => {
                    out.histograms
                        .insert(series, v.into_iter().map(|x| x.into_inner()).collect());
                }
            }
        }
        out
    }

    /// The counters of `name` that are not zero (every label set the router can produce is
    /// registered up front, so the zeros are many).
    fn counted(&self, name: &str) -> BTreeMap<Vec<(String, String)>, u64> {
        self.counters
            .iter()
            .filter(|((n, _), v)| n == name && **v > 0)
            .map(|((_, l), v)| (l.clone(), *v))
            .collect()
    }

    fn gauges_of(&self, name: &str) -> BTreeMap<Vec<(String, String)>, f64> {
        self.gauges
            .iter()
            .filter(|((n, _), _)| n == name)
            .map(|((_, l), v)| (l.clone(), *v))
            .collect()
    }
}

fn labels(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut l: Vec<(String, String)> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    l.sort();
    l
}

/// What the table says about a route id: provider, country, number type.
fn route_labels(router: &Router, route: u64) -> Vec<(String, String)> {
    let table = router.table();
    let r = table.route(RouteId(route as u32));
    labels(&[
        ("provider", &r.provider_name),
        ("country", r.country.as_str()),
        ("number_type", r.number_type.as_str()),
    ])
}

fn add(map: &mut BTreeMap<Vec<(String, String)>, u64>, key: Vec<(String, String)>, n: u64) {
    if n > 0 {
        *map.entry(key).or_default() += n;
    }
}

fn str_of<'a>(e: &'a Value, field: &str) -> &'a str {
    e[field].as_str().unwrap()
}

fn encoded(state: RouteState) -> f64 {
    match state {
        RouteState::Healthy => HEALTHY,
        RouteState::Probing => PROBING,
        RouteState::Ejected => EJECTED,
    }
}

fn fr() -> Country {
    Country::new("FR").unwrap()
}

/// Three DE routes (one always down, one flaky in every way, one healthy), a US mobile route
/// down for its first dozen attempts (its group enters panic mode and leaves it), a US landline
/// route always down (in panic to the end), FR uncovered; a cap of one ejected route per group
/// and a tight retry budget. Route c's price is one whose millionths are not exact in binary
/// (0.0314 x 1e6 = 31399.999...).
fn scenario_world() -> World {
    let mut p = Policy {
        strategy: Strategy::Priority,
        exploration: 0.0,
        max_attempts: 3,
        ..Policy::default()
    };
    p.trip.consecutive_failures = 3;
    p.health.min_volume = 1_000;
    p.ejection.max_ejected_share = 0.34;
    p.retry_budget.ratio = 0.05;
    p.retry_budget.min_per_second = 0.05;
    p.retry_budget.window = secs(20);
    let flaky = script(|_, n| match n % 13 {
        1..=4 => fail(100, FailureKind::Undelivered),
        5 => fail(20, FailureKind::RateLimited),
        7 => fail(20, FailureKind::NoInventory),
        9 => black_hole(),
        11 => fail(30, FailureKind::Rejected),
        _ => ok(1500),
    });
    world(
        &[
            Route {
                cost: 0.0745,
                ..r("a")
            },
            Route {
                priority: 1,
                cost: 0.05,
                ..r("b")
            },
            Route {
                priority: 2,
                cost: 0.0314,
                ..r("c")
            },
            Route {
                country: us(),
                cost: 0.02,
                ..r("u")
            },
            Route {
                country: us(),
                number_type: NumberType::Landline,
                cost: 0.02,
                ..r("v")
            },
        ],
        vec![
            down(),
            flaky,
            script(|_, _| ok(800)),
            script(|_, n| {
                if n < 12 {
                    fail(50, FailureKind::Unavailable)
                } else {
                    ok(500)
                }
            }),
            down(),
        ],
        p,
        7,
    )
}

/// Runs the scenario: DE, US and FR verifications interleaved, dry runs, an override; then
/// waits until every straggler is judged and abandoned.
async fn run(w: &World) {
    let mut handles = Vec::new();
    for i in 0..400u64 {
        let (country, nt) = match i % 10 {
            0 => (us(), NumberType::Mobile),
            5 => (us(), NumberType::Landline),
            9 if i % 30 == 9 => (fr(), NumberType::Mobile),
            _ => (de(), NumberType::Mobile),
        };
        let router = w.router.clone();
        handles.push(tokio::spawn(async move {
            router.verify(request_to(i, country, nt)).await
        }));
        if i % 50 == 0 {
            w.router
                .dry_run(&request_to(10_000 + i, de(), NumberType::Mobile));
        }
        tokio::time::sleep(ms(150)).await;
    }
    for h in handles {
        h.await.unwrap();
    }
    tokio::time::sleep(secs(600)).await;
    assert_eq!(w.router.stragglers(), 0);
}

#[tokio::test(start_paused = true)]
async fn every_metric_equals_the_audit_trails_count() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let _local = ::metrics::set_default_local_recorder(&recorder);
    let w = scenario_world();
    run(&w).await;
    // An operator takes the healthy route out: the gauge follows a manual change too.
    w.router
        .set_override(RouteId(2), Override::ForceEject)
        .unwrap();

    let m = Snapshot::take(&snapshotter);
    let events = w.events.0.lock().unwrap().clone();
    let of = |t: &'static str| events.iter().filter(move |e| e["type"] == t);
    let group = |e: &Value| {
        labels(&[
            ("country", str_of(e, "country")),
            ("number_type", str_of(e, "number_type")),
        ])
    };

    let mut decisions = BTreeMap::new();
    let mut retries_refused = BTreeMap::new();
    let mut failovers = BTreeMap::new();
    for d in of("decision") {
        let mut key = group(d);
        add(
            &mut failovers,
            key.clone(),
            u64::from(d["attempt"].as_u64().unwrap() > 1 && !d["chosen"].is_null()),
        );
        add(
            &mut retries_refused,
            key.clone(),
            u64::from(d["reason"] == "retry_budget_exhausted"),
        );
        key.push(("reason".into(), str_of(d, "reason").into()));
        key.sort();
        add(&mut decisions, key, 1);
    }
    let mut attempts = BTreeMap::new();
    let mut billed = BTreeMap::new();
    for a in of("attempt") {
        let route = a["route"].as_u64().unwrap();
        let mut key = route_labels(&w.router, route);
        let outcome = match &a["outcome"] {
            Value::String(s) => s.clone(),
            o => o["failed"].as_str().unwrap().to_owned(),
        };
        key.push(("outcome".into(), outcome));
        key.sort();
        add(&mut attempts, key, 1);
        let provider = w
            .router
            .table()
            .route(RouteId(route as u32))
            .provider_name
            .clone();
        let micros = (a["cost"].as_f64().unwrap() * 1e6).round() as u64;
        add(&mut billed, labels(&[("provider", &provider)]), micros);
    }
    let mut suppressed = BTreeMap::new();
    for t in of("trip_suppressed") {
        add(
            &mut suppressed,
            route_labels(&w.router, t["route"].as_u64().unwrap()),
            1,
        );
    }
    let mut verifications = BTreeMap::new();
    let mut ttv = Vec::new();
    for f in of("finished") {
        let mut key = group(f);
        key.push(("status".into(), str_of(f, "status").into()));
        key.sort();
        add(&mut verifications, key, 1);
        if let Some(t) = f["time_to_verify"].as_f64()
            && verify_sampled(VerificationId(f["verification"].as_u64().unwrap()))
        {
            ttv.push(t);
        }
    }

    // The scenario exercises every counter, so none of these comparisons is of empty maps.
    for (name, expected) in [
        (DECISIONS, &decisions),
        (ATTEMPTS, &attempts),
        (BILLED_COST, &billed),
        (RETRIES_REFUSED, &retries_refused),
        (TRIPS_SUPPRESSED, &suppressed),
        (FAILOVERS, &failovers),
        (VERIFICATIONS, &verifications),
    ] {
        assert!(!expected.is_empty(), "the scenario never produced {name}");
        assert_eq!(&m.counted(name), expected, "{name}");
    }
    let outcomes: std::collections::BTreeSet<&str> = attempts
        .keys()
        .map(|k| k.iter().find(|(l, _)| l == "outcome").unwrap().1.as_str())
        .collect();
    assert_eq!(
        outcomes.len(),
        7,
        "every outcome but invalid_destination: {outcomes:?}"
    );
    assert!(
        decisions
            .keys()
            .any(|k| k.contains(&("reason".into(), "no_coverage".into())))
    );
    assert!(
        decisions
            .keys()
            .any(|k| k.contains(&("reason".into(), "panic".into())))
    );

    // Every route has a state gauge, saying what the audit trail last said selection acts on
    // (a shadow route's own transitions aside). `route_status` agrees, but for an ejection whose
    // time is up with no decision of its group since: it reads probing already, the trail (and
    // the gauge) at that next decision.
    let states = m.gauges_of(ROUTE_STATE);
    assert_eq!(states.len(), w.router.table().routes().len(), "{states:?}");
    for route in 0..5u64 {
        let trail = of("state_change")
            .rfind(|e| e["route"] == route && (e["shadow"] == false || e["reason"] == "manual"))
            .map_or("healthy", |e| str_of(e, "to"));
        let expected = match trail {
            "healthy" => HEALTHY,
            "probing" => PROBING,
            _ => EJECTED,
        };
        assert_eq!(
            states[&route_labels(&w.router, route)],
            expected,
            "route {route}"
        );
        let status = w.router.route_status(RouteId(route as u32)).unwrap();
        let expired = trail == "ejected" && status.state == RouteState::Probing;
        assert!(
            encoded(status.state) == expected || expired,
            "route {route}: {trail} {status:?}"
        );
    }
    // The scenario ended with a (no longer healthy) route ejected, and the override on c.
    assert_eq!(states[&route_labels(&w.router, 2)], EJECTED);
    assert!(of("state_change").any(|e| e["route"] == 0 && e["to"] == "ejected"));

    // Panic: US mobile entered it and left, US landline entered it and stayed, DE never did.
    let panic = m.gauges_of(PANIC);
    let group = |c: &str, nt: &str| labels(&[("country", c), ("number_type", nt)]);
    assert!(of("panic_exit").any(|e| e["country"] == "US" && e["number_type"] == "mobile"));
    assert!(!w.router.in_panic(us(), NumberType::Mobile));
    assert!(w.router.in_panic(us(), NumberType::Landline));
    assert_eq!(panic[&group("US", "mobile")], 0.0);
    assert_eq!(panic[&group("US", "landline")], 1.0);
    assert_eq!(panic[&group("DE", "mobile")], 0.0);

    // Time to verify: exactly the sampled delivered verifications' values.
    assert!(!ttv.is_empty());
    let mut recorded: Vec<f64> = m
        .histograms
        .iter()
        .filter(|((n, _), _)| n == TIME_TO_VERIFY)
        .flat_map(|(_, v)| v.iter().copied())
        .collect();
    recorded.sort_by(f64::total_cmp);
    ttv.sort_by(f64::total_cmp);
    assert_eq!(recorded.len(), ttv.len());
    for (r, t) in recorded.iter().zip(&ttv) {
        assert!((r - t).abs() < 1e-9, "{r} vs {t}");
    }
    // Decision latency: a sample of the decisions, each a wall-clock duration well under a
    // second (not a virtual-time figure, which would be seconds here).
    let timed = &m.histograms[&(DECISION_DURATION.to_owned(), vec![])];
    let n_decisions = of("decision").count();
    assert!(
        !timed.is_empty() && timed.len() < n_decisions / 4,
        "{} of {n_decisions}",
        timed.len()
    );
    assert!(timed.iter().all(|s| *s > 0.0 && *s < 0.1), "{timed:?}");
}

/// A shadow route's own trips are logged, not acted on: its gauge stays healthy while the audit
/// trail says `ejected` (shadow). Clearing the override acts on the verdict, and every manual
/// change after that shows.
#[tokio::test(start_paused = true)]
async fn the_state_gauge_is_what_selection_acts_on_under_overrides() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let _local = ::metrics::set_default_local_recorder(&recorder);
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
    let gauge = |route: u64| {
        Snapshot::take(&snapshotter).gauges_of(ROUTE_STATE)[&route_labels(&w.router, route)]
    };
    w.router.set_override(RouteId(0), Override::Shadow).unwrap();
    drive(&w.router, 0, 5, ms(1000)).await;
    assert!(
        w.events
            .of_type("state_change")
            .iter()
            .any(|e| e["to"] == "ejected" && e["shadow"] == true)
    );
    // (A snapshot resets gauges to 0, healthy: each check below sets the state it reads.)
    assert_eq!(gauge(0), HEALTHY);
    w.router.set_override(RouteId(0), Override::None).unwrap();
    assert_eq!(
        w.router.route_status(RouteId(0)).unwrap().state,
        RouteState::Ejected
    );
    assert_eq!(gauge(0), EJECTED);
    w.router
        .set_override(RouteId(0), Override::ForceEject)
        .unwrap();
    w.router.set_override(RouteId(0), Override::None).unwrap();
    // Released from a forced ejection, a route earns its way back through probing.
    assert_eq!(gauge(0), PROBING);
    w.router
        .set_override(RouteId(0), Override::ForceHealthy)
        .unwrap();
    w.router
        .set_override(RouteId(1), Override::ForceEject)
        .unwrap();
    let m = Snapshot::take(&snapshotter).gauges_of(ROUTE_STATE);
    assert_eq!(m[&route_labels(&w.router, 0)], HEALTHY);
    assert_eq!(m[&route_labels(&w.router, 1)], EJECTED);
}

/// `RouterBuilder::metrics(false)`: the router registers nothing and counts nothing, whatever
/// recorder is installed (a simulation, a shadow router).
#[tokio::test(start_paused = true)]
async fn a_router_built_without_metrics_records_nothing() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let _local = ::metrics::set_default_local_recorder(&recorder);
    let table = failover_router::RoutingTable::new(
        &["a"],
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
    let router = Router::builder(table, Policy::default())
        .adapter("a", crate::harness::Scripted::adapter(healthy()))
        .metrics(false)
        .build()
        .unwrap();
    let out = router.verify(request(1)).await;
    assert!(out.delivered());
    assert_eq!(out.id, VerificationId(1));
    let m = Snapshot::take(&snapshotter);
    assert!(
        m.counters.is_empty() && m.gauges.is_empty() && m.histograms.is_empty(),
        "{m:?}"
    );
}

/// Across reloads: a route a reload adds is counted from its first event under its own labels,
/// a retired route keeps its series, and a route listed again after being retired shows the cold
/// start it makes (healthy), though the last event about it said `ejected`.
#[tokio::test(start_paused = true)]
async fn a_reload_registers_its_routes_and_shows_a_revived_route_cold() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let _local = ::metrics::set_default_local_recorder(&recorder);
    let mut p = priority_policy();
    p.trip.consecutive_failures = 2;
    p.ejection.base = secs(120);
    p.ejection.jitter = 0.0;
    // Provider b serves DE and, after the first reload, US; a is down.
    let b = script(|_, _| ok(500));
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
        vec![down(), b, healthy()],
        p.clone(),
        1,
    );
    drive(&w.router, 0, 10, ms(1000)).await;
    assert_eq!(
        w.router.route_status(RouteId(0)).unwrap().state,
        RouteState::Ejected
    );
    let spec = |provider: &str, country: Country, priority: u32| failover_router::RouteSpec {
        provider: provider.into(),
        country,
        number_type: NumberType::Mobile,
        cost: 0.01,
        priority,
        weight: 1.0,
        failure_domains: vec![],
    };
    let table = |specs: &[failover_router::RouteSpec]| {
        failover_router::RoutingTable::new(&["a", "b", "c"], specs).unwrap()
    };
    // a retired, b added for US (route 3).
    let first = w
        .router
        .reload(
            table(&[spec("b", de(), 1), spec("c", de(), 2), spec("b", us(), 0)]),
            p.clone(),
        )
        .unwrap();
    assert_eq!(first.added, vec![RouteId(3)]);
    for i in 0..5 {
        let out = w
            .router
            .verify(request_to(100 + i, us(), NumberType::Mobile))
            .await;
        assert!(out.delivered(), "{out:?}");
    }
    // a listed again: revived, cold.
    let second = w
        .router
        .reload(
            table(&[
                spec("a", de(), 0),
                spec("b", de(), 1),
                spec("c", de(), 2),
                spec("b", us(), 0),
            ]),
            p,
        )
        .unwrap();
    assert_eq!(second.added, vec![RouteId(0)]);

    let m = Snapshot::take(&snapshotter);
    let us_attempts = w
        .events
        .of_type("attempt")
        .iter()
        .filter(|a| a["route"] == 3)
        .count() as u64;
    assert_eq!(us_attempts, 5);
    let mut key = route_labels(&w.router, 3);
    key.push(("outcome".into(), "delivered".into()));
    key.sort();
    assert_eq!(m.counted(ATTEMPTS).get(&key), Some(&us_attempts));
    let states = m.gauges_of(ROUTE_STATE);
    assert_eq!(states.len(), 4, "{states:?}");
    assert_eq!(
        w.router.route_status(RouteId(0)).unwrap().state,
        RouteState::Healthy
    );
    assert_eq!(states[&route_labels(&w.router, 0)], HEALTHY);
    assert!(
        w.events
            .of_type("state_change")
            .last()
            .is_some_and(|e| e["route"] == 0 && e["to"] == "ejected")
    );
    assert!(
        m.gauges_of(PANIC)
            .contains_key(&labels(&[("country", "US"), ("number_type", "mobile")]))
    );
}
