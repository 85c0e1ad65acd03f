//! Recorder tests: hand-built event streams in, summaries out.

use std::time::Duration;

use failover_router::event::{
    AttemptFinished, Conversion, Decision, Finished, LateDelivery, PanicChange, StateChange,
    StateReason,
};
use failover_router::{
    AttemptId, AttemptOutcome, Country, DecisionReason, Destination, EventSink, FailureKind,
    GroupKey, NumberType, RestoredRoute, RouteId, RouteState, RouterEvent, Started, Strategy,
    VerificationId, VerificationStatus, WarmStart, WindowSnapshot,
};

use super::histogram::log_bins;
use super::*;

// ---------------------------------------------------------------------------------------------
// Event builders

fn s(secs: f64) -> Duration {
    Duration::from_secs_f64(secs)
}

fn de() -> Country {
    Country::new("DE").unwrap()
}

fn us() -> Country {
    Country::new("US").unwrap()
}

/// Routes 0 (a) and 1 (b) serve DE/mobile, route 2 (c) serves US/mobile.
fn country_of(route: u32) -> Country {
    if route == 2 { us() } else { de() }
}

fn config(warmup: f64, duration: f64, bucket: f64) -> RecorderConfig {
    let route = |label: &str, provider, country| RouteInfo {
        label: label.into(),
        provider,
        country,
        number_type: NumberType::Mobile,
    };
    RecorderConfig {
        warmup: s(warmup),
        duration: s(duration),
        bucket: s(bucket),
        routes: vec![
            route("a/DE/mobile", 0, de()),
            route("b/DE/mobile", 1, de()),
            route("c/US/mobile", 2, us()),
        ],
        providers: vec!["a".into(), "b".into(), "c".into()],
        faults: vec![],
        flap_window: RecorderConfig::DEFAULT_FLAP_WINDOW,
    }
}

fn decision(at: f64, v: u64, attempt: u32, chosen: Option<u32>) -> RouterEvent<'static> {
    RouterEvent::Decision(Decision {
        at: s(at),
        verification: VerificationId(v),
        attempt,
        country: chosen.map_or(de(), country_of),
        number_type: NumberType::Mobile,
        use_case: None,
        destination: Destination::new("+4915112345678").masked(),
        strategy: Strategy::Priority,
        candidates: &[],
        chosen: chosen.map(RouteId),
        reason: if chosen.is_some() {
            DecisionReason::Best
        } else {
            DecisionReason::NoCandidate
        },
        probability: None,
    })
}

fn attempt(
    at: f64,
    v: u64,
    number: u32,
    route: u32,
    outcome: AttemptOutcome,
    latency: f64,
    cost: f64,
) -> RouterEvent<'static> {
    RouterEvent::Attempt(AttemptFinished {
        at: s(at),
        verification: VerificationId(v),
        attempt: AttemptId(v * 10 + u64::from(number)),
        number,
        route: RouteId(route),
        outcome,
        latency: s(latency),
        cost,
        probe: false,
        adapter_panic: false,
    })
}

#[allow(clippy::too_many_arguments)]
fn finished(
    at: f64,
    started: f64,
    v: u64,
    country: Country,
    status: VerificationStatus,
    attempts: u32,
    cost: f64,
    delivered_by: Option<u32>,
) -> RouterEvent<'static> {
    let delivered = status == VerificationStatus::Delivered;
    RouterEvent::Finished(Finished {
        at: s(at),
        started: s(started),
        verification: VerificationId(v),
        destination: Destination::new("+4915112345678").masked(),
        country,
        number_type: NumberType::Mobile,
        status,
        attempts,
        cost,
        time_to_verify: delivered.then(|| s(at - started)),
        delivered_by: delivered_by.map(RouteId),
    })
}

fn late(at: f64, v: u64, route: u32, duplicate: bool) -> RouterEvent<'static> {
    RouterEvent::LateDelivery(LateDelivery {
        at: s(at),
        verification: VerificationId(v),
        attempt: AttemptId(v * 10 + 9),
        route: RouteId(route),
        latency: s(1.0),
        duplicate,
    })
}

fn conversion(at: f64, v: u64, route: u32) -> RouterEvent<'static> {
    RouterEvent::Conversion(Conversion {
        at: s(at),
        verification: VerificationId(v),
        route: RouteId(route),
    })
}

fn snapshot() -> WindowSnapshot {
    WindowSnapshot {
        deliveries: 0,
        health_failures: 0,
        capacity_failures: 0,
        user_failures: 0,
        conversions: 0,
        failure_rate: None,
        latency_quantile: None,
        consecutive_failures: 0,
    }
}

fn state(
    at: f64,
    route: u32,
    from: RouteState,
    to: RouteState,
    shadow: bool,
) -> RouterEvent<'static> {
    RouterEvent::StateChange(StateChange {
        at: s(at),
        route: RouteId(route),
        from,
        to,
        reason: match to {
            RouteState::Ejected => StateReason::ConsecutiveFailures,
            RouteState::Probing => StateReason::EjectionExpired,
            RouteState::Healthy => StateReason::Recovered,
        },
        window: snapshot(),
        ejected_for: (to == RouteState::Ejected).then(|| s(30.0)),
        shadow,
    })
}

fn panic_change(at: f64, enter: bool, country: Country) -> RouterEvent<'static> {
    let change = PanicChange {
        at: s(at),
        country,
        number_type: NumberType::Mobile,
    };
    if enter {
        RouterEvent::PanicEnter(change)
    } else {
        RouterEvent::PanicExit(change)
    }
}

fn record(cfg: RecorderConfig, events: &[RouterEvent<'_>], end: f64) -> PolicyRun {
    let rec = Recorder::new(cfg).unwrap();
    for e in events {
        rec.emit(e);
    }
    rec.finish(s(end))
}

use AttemptOutcome::{Delivered, Failed};
use VerificationStatus as St;

/// One scripted verification: its attempts (route, outcome, cost), each taking 1 s, then the end.
struct Script {
    start: f64,
    attempts: &'static [(u32, AttemptOutcome, f64)],
    status: VerificationStatus,
    /// An abandoned attempt resolving after `Finished`: (route, outcome, cost).
    straggler: Option<(u32, AttemptOutcome, f64)>,
    converts: bool,
    late: Option<bool>,
}

const fn script(
    start: f64,
    attempts: &'static [(u32, AttemptOutcome, f64)],
    status: VerificationStatus,
) -> Script {
    Script {
        start,
        attempts,
        status,
        straggler: None,
        converts: false,
        late: None,
    }
}

/// The events of `scripts` (verification ids in order), sorted by time (stable).
fn events_of(scripts: &[Script]) -> Vec<RouterEvent<'static>> {
    let mut out = Vec::new();
    for (i, sc) in scripts.iter().enumerate() {
        let v = i as u64 + 1;
        let mut t = sc.start;
        let mut cost = 0.0;
        let launched = sc.attempts.len() as u32 + u32::from(sc.straggler.is_some());
        let first = sc
            .attempts
            .first()
            .map(|a| a.0)
            .or(sc.straggler.map(|a| a.0));
        out.push(decision(t, v, 1, first));
        for (n, &(route, outcome, c)) in sc.attempts.iter().enumerate() {
            if n > 0 {
                out.push(decision(t, v, n as u32 + 1, Some(route)));
            }
            t += 1.0;
            cost += c;
            out.push(attempt(t, v, n as u32 + 1, route, outcome, 1.0, c));
        }
        let country = first.map_or(de(), country_of);
        let by = (sc.status == St::Delivered).then(|| sc.attempts.last().unwrap().0);
        out.push(finished(
            t, sc.start, v, country, sc.status, launched, cost, by,
        ));
        if let Some((route, outcome, c)) = sc.straggler {
            out.push(attempt(t + 2.0, v, launched, route, outcome, 3.0, c));
        }
        if let Some(dup) = sc.late {
            out.push(late(t + 3.0, v, by.unwrap_or(0), dup));
        }
        if sc.converts {
            out.push(conversion(t + 5.0, v, by.unwrap()));
        }
    }
    out.sort_by_key(RouterEvent::at);
    out
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

#[test]
fn reported_costs_are_money_not_summation_noise() {
    // A thousand deliveries at 0.1 add up to 99.9999999999986 in floating point.
    let scripts: Vec<Script> = (0..1_000)
        .map(|i| script(f64::from(i) * 0.1, &[(0, Delivered, 0.1)], St::Delivered))
        .collect();
    let run = record(config(0.0, 1_000.0, 10.0), &events_of(&scripts), 1_000.0);
    assert_ne!((0..1_000).map(|_| 0.1).sum::<f64>(), 100.0);
    assert_eq!(run.metrics.cost_total.to_string(), "100");
    assert_eq!(run.metrics.cost_per_success.unwrap().to_string(), "0.1");
    assert_eq!(run.routes[0].cost.to_string(), "100");
    // Attempts resolving in [0, 10 s): 90 of them.
    assert_eq!(run.timeseries[0].cost.to_string(), "9");
    assert_eq!(round_cost(2371.980000001545).to_string(), "2371.98");
    assert_eq!(round_cost(0.000_000_4), 0.0);
    assert_eq!(COST_DECIMALS, 6);
}

// ---------------------------------------------------------------------------------------------
// Conservation

/// Verifications the router stopped at a provider limit or a cost cap (issue 17) count in
/// statuses of their own, and in `verifications` like any other.
#[test]
fn provider_limit_and_cost_cap_stops_are_counted() {
    let scripts = [
        script(1.0, &[], St::ProviderLimit),
        script(
            2.0,
            &[(0, Failed(FailureKind::Unavailable), 0.0)],
            St::CostCap,
        ),
        script(3.0, &[(0, Delivered, 0.05)], St::Delivered),
    ];
    let run = record(config(0.0, 100.0, 10.0), &events_of(&scripts), 100.0);
    let st = &run.status_counts;
    assert_eq!((st.provider_limit, st.cost_cap, st.delivered), (1, 1, 1));
    assert_eq!(run.metrics.verifications, 3);
    assert_eq!(st.total(), run.metrics.verifications);
}

#[test]
fn every_finished_counted_once_and_costs_add_up() {
    let scripts = [
        Script {
            converts: true,
            ..script(1.0, &[(0, Delivered, 0.05)], St::Delivered)
        },
        Script {
            late: Some(true),
            ..script(
                2.0,
                &[
                    (0, Failed(FailureKind::Timeout), 0.05),
                    (1, Delivered, 0.07),
                ],
                St::Delivered,
            )
        },
        script(
            3.0,
            &[
                (0, Failed(FailureKind::Unavailable), 0.0),
                (1, Failed(FailureKind::Undelivered), 0.07),
            ],
            St::AttemptsExhausted,
        ),
        Script {
            straggler: Some((1, Delivered, 0.07)),
            late: Some(false),
            ..script(
                4.0,
                &[(0, Failed(FailureKind::Timeout), 0.05)],
                St::DeadlineExceeded,
            )
        },
        script(5.0, &[], St::NoRoute),
        script(
            6.0,
            &[(0, Failed(FailureKind::RateLimited), 0.0)],
            St::RetryBudgetExhausted,
        ),
        script(
            7.0,
            &[(2, Failed(FailureKind::InvalidDestination), 0.0)],
            St::InvalidDestination,
        ),
        Script {
            converts: true,
            ..script(8.0, &[(2, Delivered, 0.01)], St::Delivered)
        },
    ];
    let run = record(config(0.0, 100.0, 10.0), &events_of(&scripts), 100.0);
    let m = &run.metrics;
    let st = &run.status_counts;

    assert_eq!(m.verifications, 8);
    assert_eq!(st.total(), m.verifications);
    assert_eq!(
        (
            st.delivered,
            st.deadline_exceeded,
            st.attempts_exhausted,
            st.no_route
        ),
        (3, 1, 1, 1)
    );
    assert_eq!((st.retry_budget_exhausted, st.invalid_destination), (1, 1));
    assert!(close(m.success_rate, 3.0 / 8.0));
    assert!(close(m.conversion_rate, 2.0 / 8.0));

    // Attempts: launched (Finished::attempts) vs resolved (Attempt events).
    assert_eq!(
        run.totals.attempts_launched, 10,
        "1 + 2 + 2 + 2 + 0 + 1 + 1 + 1"
    );
    assert_eq!(run.totals.attempt_events, run.totals.attempts_launched);
    assert!(close(m.attempts_per_verification, 10.0 / 8.0));
    assert!(close(m.failover_rate, 3.0 / 8.0));

    // Cost: Finished::cost plus the straggler billed after its verification ended.
    let expect = 0.05 + 0.12 + 0.07 + 0.05 + 0.01;
    assert!(close(run.totals.finished_cost, expect));
    assert!(close(m.cost_total, expect + 0.07));
    // Reported to millionths (COST_DECIMALS).
    assert_eq!(m.cost_per_success, Some(round_cost((expect + 0.07) / 3.0)));
    let by_route: f64 = run.routes.iter().map(|r| r.cost).sum();
    assert!(close(by_route, m.cost_total));
    let attempts: u64 = run.routes.iter().map(|r| r.attempts).sum();
    assert_eq!(attempts, run.totals.attempt_events);
    for r in &run.routes {
        assert_eq!(r.deliveries + r.failures.total(), r.attempts, "{}", r.label);
    }
    assert_eq!(run.routes[0].failures.timeout, 2);
    assert_eq!(run.routes[1].deliveries, 2);

    assert_eq!((m.late_deliveries, m.duplicate_deliveries), (2, 1));

    // Time series: every verification once, by start; every attempt once, by time.
    let rows = &run.timeseries;
    assert_eq!(rows.len(), 10);
    assert_eq!(rows.iter().map(|r| r.verifications).sum::<u64>(), 8);
    assert_eq!(rows.iter().map(|r| r.delivered).sum::<u64>(), 3);
    assert_eq!(rows.iter().map(|r| r.attempts).sum::<u64>(), 10);
    let per_provider: u64 = rows.iter().flat_map(|r| &r.provider_attempts).sum();
    assert_eq!(per_provider, 10);
    assert!(close(
        rows.iter().map(|r| r.cost).sum::<f64>(),
        m.cost_total
    ));
    assert_eq!(rows[1].success_rate, None);
}

#[test]
fn warmup_and_tail_are_not_measured() {
    // Window [10, 50): verifications 2 (15 s) and 3 (49 s) are measured.
    let scripts = [
        Script {
            converts: true,
            straggler: Some((1, Delivered, 0.5)),
            late: Some(true),
            ..script(5.0, &[(0, Delivered, 1.0)], St::Delivered)
        },
        Script {
            converts: true,
            ..script(15.0, &[(0, Delivered, 0.1)], St::Delivered)
        },
        script(
            49.0,
            &[(0, Failed(FailureKind::Timeout), 0.2), (1, Delivered, 0.3)],
            St::Delivered,
        ),
        Script {
            converts: true,
            late: Some(true),
            ..script(50.0, &[(0, Delivered, 10.0)], St::Delivered)
        },
        script(
            60.0,
            &[(0, Failed(FailureKind::Unavailable), 0.0)],
            St::AttemptsExhausted,
        ),
    ];
    let run = record(config(10.0, 50.0, 10.0), &events_of(&scripts), 70.0);
    let m = &run.metrics;
    assert_eq!(m.verifications, 2);
    assert_eq!(run.status_counts.delivered, 2);
    assert!(close(m.cost_total, 0.1 + 0.2 + 0.3));
    assert_eq!(run.totals.conversions, 1);
    assert!(close(m.conversion_rate, 0.5));
    assert_eq!((m.late_deliveries, m.duplicate_deliveries), (0, 0));
    assert_eq!(run.totals.attempt_events, 3);
    // The time series still shows the whole run.
    assert_eq!(
        run.timeseries.iter().map(|r| r.verifications).sum::<u64>(),
        5
    );
    let measured: Vec<bool> = run.timeseries.iter().map(|r| r.measured).collect();
    assert_eq!(measured, [false, true, true, true, true, false, false]);
}

#[test]
fn empty_run_has_zero_rates_and_null_quantities() {
    let run = record(config(0.0, 60.0, 10.0), &[], 60.0);
    let m = &run.metrics;
    assert_eq!(m.verifications, 0);
    assert_eq!(
        (m.success_rate, m.conversion_rate, m.failover_rate),
        (0.0, 0.0, 0.0)
    );
    assert_eq!(m.cost_per_success, None);
    assert_eq!(m.time_to_verify, Quantiles::default());
    assert_eq!(run.timeseries.len(), 6);
    let json = serde_json::to_string(&run).unwrap();
    let back: PolicyRun = serde_json::from_str(&json).unwrap();
    assert_eq!(back, run);
}

// ---------------------------------------------------------------------------------------------
// Time to verify

#[test]
fn ttv_percentiles_of_a_known_set() {
    // 1000 verifications delivering after 1, 2, ..., 1000 ms.
    let mut events = Vec::new();
    for i in 1..=1000u64 {
        let start = i as f64 * 0.01;
        let ttv = i as f64 / 1000.0;
        events.push(decision(start, i, 1, Some(0)));
        events.push(finished(
            start + ttv,
            start,
            i,
            de(),
            St::Delivered,
            1,
            0.0,
            Some(0),
        ));
    }
    let run = record(config(0.0, 100.0, 100.0), &events, 100.0);
    let q = run.metrics.time_to_verify;
    let check = |got: Option<f64>, want: f64| {
        let got = got.unwrap();
        assert!((got - want).abs() <= want * 1e-3, "{got} != {want}");
    };
    check(q.p50, 0.5);
    check(q.p90, 0.9);
    check(q.p99, 0.99);
    check(q.p999, 0.999);
    check(q.max, 1.0);
    // The single time-series row holds the same set, log-binned: within 3.2 %.
    let row = &run.timeseries[0];
    assert!((row.ttv_p50.unwrap() - 0.5).abs() <= 0.5 * 0.032);
    assert!((row.ttv_p99.unwrap() - 0.99).abs() <= 0.99 * 0.032);
    // The serialized histogram decodes to the same quantiles.
    assert_eq!(run.ttv_histogram.quantiles().unwrap(), q);
}

#[test]
fn log_bins_stay_within_their_error_bound() {
    let mut us = 1024u64;
    while us < 1 << 32 {
        let v = log_bins::value(log_bins::bin(us));
        let err = (v as f64 - us as f64).abs() / us as f64;
        assert!(err <= 1.0 / 32.0, "{us} us -> {v} us");
        us = us * 21 / 20 + 1;
    }
    assert_eq!(log_bins::bin(0), 0);
    assert_eq!(log_bins::bin(u64::MAX), log_bins::LOG_BINS - 1);
    let mut bins = vec![0u32; log_bins::LOG_BINS];
    assert_eq!(log_bins::quantile(&bins, 0.5), None);
    bins[log_bins::bin(2_000_000)] = 1;
    bins[log_bins::bin(8_000_000)] = 1;
    // Nearest rank: p50 of two samples is the first.
    let p50 = log_bins::quantile(&bins, 0.5).unwrap();
    assert!((p50 as f64 - 2e6).abs() < 2e6 / 32.0);
}

// ---------------------------------------------------------------------------------------------
// Route state: flaps, ejections, time out of service

use RouteState::{Ejected as E, Healthy as H, Probing as P};

/// Applies `(at, to)` transitions to route 0 (non-shadow unless marked) and returns its stats.
fn route_after(transitions: &[(f64, RouteState, bool)], warmup: f64, end: f64) -> RouteStats {
    let mut from = H;
    let events: Vec<_> = transitions
        .iter()
        .map(|&(at, to, shadow)| {
            let e = state(at, 0, from, to, shadow);
            if !shadow {
                from = to;
            }
            e
        })
        .collect();
    let run = record(config(warmup, 10_000.0, 60.0), &events, end);
    assert_eq!(
        run.metrics.ejections,
        run.routes.iter().map(|r| r.ejections).sum::<u64>()
    );
    assert_eq!(run.metrics.flaps, run.routes[0].flaps);
    run.routes[0].clone()
}

#[test]
fn flaps_are_re_ejections_within_the_window_after_a_restoration() {
    let check = |name: &str, t: &[(f64, RouteState, bool)], ejections: u64, flaps: u64| {
        let r = route_after(t, 0.0, 5_000.0);
        assert_eq!((r.ejections, r.flaps), (ejections, flaps), "{name}");
    };
    check(
        "eject, restore, eject within 5 min",
        &[
            (10.0, E, false),
            (40.0, P, false),
            (50.0, H, false),
            (100.0, E, false),
        ],
        2,
        1,
    );
    check(
        "eject, restore, eject after 5 min",
        &[
            (10.0, E, false),
            (40.0, P, false),
            (50.0, H, false),
            (400.0, E, false),
        ],
        2,
        0,
    );
    check(
        "exactly at the window edge",
        &[
            (10.0, E, false),
            (40.0, P, false),
            (50.0, H, false),
            (350.0, E, false),
        ],
        2,
        1,
    );
    check(
        "failed probe is an ejection, not a flap",
        &[(10.0, E, false), (40.0, P, false), (45.0, E, false)],
        2,
        0,
    );
    check(
        "failed probe after a flap is not a second flap",
        &[
            (10.0, E, false),
            (40.0, P, false),
            (50.0, H, false),
            (100.0, E, false),
            (130.0, P, false),
            (135.0, E, false),
        ],
        3,
        1,
    );
    check(
        "two restorations, two flaps",
        &[
            (10.0, E, false),
            (40.0, P, false),
            (50.0, H, false),
            (100.0, E, false),
            (130.0, P, false),
            (140.0, H, false),
            (200.0, E, false),
        ],
        3,
        2,
    );
    check(
        "shadow transitions are not acted on",
        &[
            (10.0, E, true),
            (40.0, P, true),
            (50.0, H, true),
            (60.0, E, true),
        ],
        0,
        0,
    );
}

#[test]
fn shadow_ejections_are_counted_apart() {
    let r = route_after(
        &[
            (10.0, E, true),
            (40.0, P, true),
            (50.0, H, true),
            (60.0, E, true),
        ],
        0.0,
        100.0,
    );
    assert_eq!(
        (r.ejections, r.shadow_ejections, r.time_ejected),
        (0, 2, 0.0)
    );
    assert!(r.timeline.is_empty());
}

#[test]
fn time_ejected_is_closed_at_run_end_and_clipped_to_the_window() {
    let check = |name: &str, t: &[(f64, RouteState, bool)], warmup: f64, end: f64, want: f64| {
        let r = route_after(t, warmup, end);
        assert!(
            close(r.time_ejected, want),
            "{name}: {} != {want}",
            r.time_ejected
        );
    };
    check(
        "still out at the end",
        &[(40.0, E, false), (70.0, P, false)],
        0.0,
        100.0,
        60.0,
    );
    check(
        "restored",
        &[(40.0, E, false), (70.0, P, false), (80.0, H, false)],
        0.0,
        100.0,
        40.0,
    );
    check(
        "warmup clips",
        &[(40.0, E, false), (70.0, P, false)],
        50.0,
        100.0,
        50.0,
    );
    check(
        "out during warmup only",
        &[(10.0, E, false), (20.0, H, false)],
        50.0,
        100.0,
        0.0,
    );
    check(
        "two outages",
        &[
            (10.0, E, false),
            (20.0, H, false),
            (30.0, E, false),
            (35.0, P, false),
            (45.0, H, false),
        ],
        0.0,
        100.0,
        25.0,
    );
    let r = route_after(&[(40.0, E, false), (70.0, P, false)], 0.0, 100.0);
    let states: Vec<_> = r.timeline.iter().map(|t| (t.at, t.state)).collect();
    assert_eq!(
        states,
        [
            (40.0, TimelineState::Ejected),
            (70.0, TimelineState::Probing)
        ]
    );
}

#[test]
fn panic_time_sums_groups_and_closes_open_intervals() {
    let events = [
        panic_change(10.0, true, de()),
        panic_change(20.0, true, us()),
        panic_change(30.0, false, de()),
        panic_change(30.0, false, de()),
        panic_change(80.0, true, de()),
    ];
    let run = record(config(15.0, 1_000.0, 10.0), &events, 100.0);
    // DE: [10, 30) clipped to [15, 30) = 15, [80, 100) = 20; US: [20, 100) = 80.
    assert!(close(run.metrics.panic_time, 115.0));
    let p: Vec<_> = run
        .panic
        .iter()
        .map(|p| (p.country.as_str().to_owned(), p.start, p.end, p.open))
        .collect();
    assert_eq!(
        p,
        [
            ("DE".to_owned(), 10.0, 30.0, false),
            ("US".to_owned(), 20.0, 100.0, true),
            ("DE".to_owned(), 80.0, 100.0, true),
        ]
    );
}

/// A router taking over (a restart): its `started` event says which routes start out of service
/// and which groups in panic; every other route is back in service, every other panic over,
/// and none of it counts as an ejection or a restoration.
#[test]
fn a_new_router_s_starting_states_are_carried_over_not_counted() {
    let restored = [RestoredRoute {
        route: RouteId(1),
        state: RouteState::Probing,
        ejected_for: None,
        backoff_multiplier: 2.0,
        override_: failover_router::Override::None,
    }];
    let panic = [GroupKey {
        country: us(),
        number_type: NumberType::Mobile,
    }];
    fn started<'a>(
        at: f64,
        warm: bool,
        routes: &'a [RestoredRoute],
        panic: &'a [GroupKey],
    ) -> RouterEvent<'a> {
        RouterEvent::Started(Started {
            at: s(at),
            warm_start: if warm {
                WarmStart::Restored {
                    age: Duration::ZERO,
                    routes: 3,
                    ignored: 0,
                    new: 0,
                }
            } else {
                WarmStart::Cold
            },
            routes,
            panic,
        })
    }
    let events = [
        state(10.0, 0, RouteState::Healthy, RouteState::Ejected, false),
        state(10.0, 1, RouteState::Healthy, RouteState::Ejected, false),
        panic_change(12.0, true, de()),
        panic_change(12.0, true, us()),
        // Warm: `a` is no longer listed (its ejection is over), `b` starts probing, US stays in
        // panic; DE's panic ends with the old router.
        started(20.0, true, &restored, &panic),
        // Cold: everything back in service, no panic.
        started(50.0, false, &[], &[]),
        state(60.0, 1, RouteState::Healthy, RouteState::Ejected, false),
    ];
    let run = record(config(0.0, 100.0, 10.0), &events, 100.0);
    let r = &run.routes;
    let timeline = |i: usize| -> Vec<(f64, TimelineState)> {
        r[i].timeline.iter().map(|t| (t.at, t.state)).collect()
    };
    assert_eq!(
        timeline(0),
        [
            (10.0, TimelineState::Ejected),
            (20.0, TimelineState::Healthy)
        ]
    );
    assert_eq!(
        timeline(1),
        [
            (10.0, TimelineState::Ejected),
            (20.0, TimelineState::Probing),
            (50.0, TimelineState::Healthy),
            (60.0, TimelineState::Ejected)
        ]
    );
    // The state machine ejected `a` once and `b` twice; the restarts ejected nothing.
    assert_eq!((r[0].ejections, r[1].ejections), (1, 2));
    assert!(close(r[0].time_ejected, 10.0));
    assert!(close(r[1].time_ejected, 40.0 + 40.0));
    // US: [12, 50); DE: [12, 20).
    assert!(close(run.metrics.panic_time, 38.0 + 8.0));
    let restarts: Vec<_> = run
        .restarts
        .iter()
        .map(|x| (x.at, x.warm, x.routes_out, x.routes_probing))
        .collect();
    assert_eq!(restarts, [(20.0, true, 0, 1), (50.0, false, 0, 0)]);
}

// ---------------------------------------------------------------------------------------------
// Fault impact

/// A fault on route 0 over [100, 200). One DE decision per second from 30 s to 399 s, routed by
/// `traffic(t)`, plus US traffic (out of scope) on every even second and four times as much
/// during the fault; route-state transitions of route 0 at their times. Finished at 400 s.
fn fault_run(traffic: impl Fn(u32) -> u32, transitions: &[(f64, RouteState)]) -> FaultImpact {
    let mut cfg = config(0.0, 1_000.0, 10.0);
    cfg.faults.push(FaultWindow {
        name: "a-outage".into(),
        start: s(100.0),
        end: s(200.0),
        affected_routes: vec![RouteId(0)],
    });
    let mut events = Vec::new();
    let mut from = H;
    for &(at, to) in transitions {
        events.push(state(at, 0, from, to, false));
        from = to;
    }
    let mut v = 0;
    for t in 30..400u32 {
        v += 1;
        events.push(decision(f64::from(t), v, 1, Some(traffic(t))));
        let us_sends = if (100..200).contains(&t) {
            4
        } else {
            u32::from(t % 2 == 0)
        };
        for _ in 0..us_sends {
            v += 1;
            events.push(decision(f64::from(t), v, 1, Some(2)));
        }
    }
    // State changes sort before decisions at the same instant.
    events.sort_by_key(RouterEvent::at);
    let run = record(cfg, &events, 400.0);
    run.faults[0].clone()
}

fn alternate(t: u32) -> u32 {
    t % 2
}

#[test]
fn detection_and_recovery_delays_of_scripted_faults() {
    struct Case {
        name: &'static str,
        traffic: fn(u32) -> u32,
        transitions: &'static [(f64, RouteState)],
        detection: Option<f64>,
        by: Option<DetectedBy>,
        shifted: bool,
        reacted: bool,
        recovery: Option<f64>,
    }
    let cases = [
        Case {
            // Ejected at 112; traffic avoids route 0 until it is healthy again at 215. The
            // span [210, 220) has 2 of 10 sends on route 0 (0.2 < 0.25); [220, 230) is back
            // to 0.5: recovered at 230.
            name: "ejection, then recovery when traffic is back",
            traffic: |t| if (112..215).contains(&t) { 1 } else { t % 2 },
            transitions: &[(112.0, E), (205.0, P), (215.0, H)],
            detection: Some(12.0),
            by: Some(DetectedBy::Ejection),
            shifted: true,
            reacted: true,
            recovery: Some(30.0),
        },
        Case {
            // No ejection; a weighted policy sends route 0 one in ten during the fault.
            name: "traffic shift without ejection",
            traffic: |t| {
                if (100..200).contains(&t) {
                    u32::from(t % 10 != 0)
                } else {
                    t % 2
                }
            },
            transitions: &[],
            detection: Some(10.0),
            by: Some(DetectedBy::TrafficShift),
            shifted: true,
            reacted: true,
            recovery: Some(10.0),
        },
        Case {
            // Traffic moves away at 135: span [130, 140) still has 3 of 10 sends on route 0
            // (0.3 >= 0.25), [140, 150) none.
            name: "late shift is detected at the end of the first low span",
            traffic: |t| if (135..200).contains(&t) { 1 } else { t % 2 },
            transitions: &[],
            detection: Some(50.0),
            by: Some(DetectedBy::TrafficShift),
            shifted: true,
            reacted: true,
            recovery: Some(10.0),
        },
        Case {
            // Nothing to recover from: no recovery delay, not an instant recovery.
            name: "never noticed: no reaction, no recovery delay",
            traffic: alternate,
            transitions: &[],
            detection: None,
            by: None,
            shifted: false,
            reacted: false,
            recovery: None,
        },
        Case {
            // In service when the fault ended: the later ejection is no reaction to it.
            name: "ejected after the fault ended: no reaction",
            traffic: alternate,
            transitions: &[(203.0, E), (233.0, P), (240.0, H)],
            detection: None,
            by: None,
            shifted: false,
            reacted: false,
            recovery: None,
        },
        Case {
            name: "never back in service",
            traffic: |t| if t >= 105 { 1 } else { t % 2 },
            transitions: &[(105.0, E), (135.0, P), (140.0, E)],
            detection: Some(5.0),
            by: Some(DetectedBy::Ejection),
            shifted: true,
            reacted: true,
            recovery: None,
        },
        Case {
            // Healthy again at 230, but traffic stays away until 260: recovery at the end of
            // [260, 270).
            name: "healthy but starved",
            traffic: |t| if (110..260).contains(&t) { 1 } else { t % 2 },
            transitions: &[(110.0, E), (220.0, P), (230.0, H)],
            detection: Some(10.0),
            by: Some(DetectedBy::Ejection),
            shifted: true,
            reacted: true,
            recovery: Some(70.0),
        },
        Case {
            // Ejected during the fault without traffic ever dropping below half: recovery is
            // when the route is healthy.
            name: "ejected but never shifted",
            traffic: alternate,
            transitions: &[
                (150.0, E),
                (180.0, P),
                (195.0, H),
                (198.0, E),
                (228.0, P),
                (236.5, H),
            ],
            detection: Some(50.0),
            by: Some(DetectedBy::Ejection),
            shifted: false,
            reacted: true,
            recovery: Some(36.5),
        },
    ];
    for c in &cases {
        let f = fault_run(c.traffic, c.transitions);
        assert_eq!(f.pre_fault_share, Some(0.5), "{}", c.name);
        assert_eq!(
            (
                f.detection_delay,
                f.detected_by,
                f.traffic_shifted,
                f.reacted,
                f.recovery_delay
            ),
            (c.detection, c.by, c.shifted, c.reacted, c.recovery),
            "{}",
            c.name
        );
    }
}

#[test]
fn failed_during_fault_counts_measured_in_scope_verifications() {
    let mut cfg = config(50.0, 1_000.0, 10.0);
    cfg.faults.push(FaultWindow {
        name: "a-outage".into(),
        start: s(40.0),
        end: s(100.0),
        affected_routes: vec![RouteId(0)],
    });
    let scripts = [
        // Warmup: not measured.
        script(
            45.0,
            &[(0, Failed(FailureKind::Unavailable), 0.0)],
            St::AttemptsExhausted,
        ),
        script(
            60.0,
            &[
                (0, Failed(FailureKind::Unavailable), 0.0),
                (1, Delivered, 0.1),
            ],
            St::Delivered,
        ),
        script(
            70.0,
            &[(0, Failed(FailureKind::Timeout), 0.1)],
            St::DeadlineExceeded,
        ),
        script(
            80.0,
            &[(1, Failed(FailureKind::Undelivered), 0.1)],
            St::AttemptsExhausted,
        ),
        // Out of scope (US).
        script(
            85.0,
            &[(2, Failed(FailureKind::Timeout), 0.1)],
            St::DeadlineExceeded,
        ),
        // After the fault.
        script(
            100.0,
            &[(0, Failed(FailureKind::Timeout), 0.1)],
            St::DeadlineExceeded,
        ),
    ];
    let run = record(cfg, &events_of(&scripts), 200.0);
    let f = &run.faults[0];
    assert_eq!(
        (f.verifications_during_fault, f.failed_during_fault),
        (3, 2)
    );
}

/// A verification whose caller gave up (the router's `Finished` with status `abandoned`)
/// counts once in `verifications`, in its start bucket, as `caller_abandoned`, never as
/// delivered, and as failed in its fault's impact; outside the measured window it is only in
/// the time series.
#[test]
fn caller_abandoned_verifications_count_once_and_never_succeed() {
    let mut cfg = config(10.0, 100.0, 10.0);
    cfg.faults.push(FaultWindow {
        name: "a-black-hole".into(),
        start: s(20.0),
        end: s(60.0),
        affected_routes: vec![RouteId(0)],
    });
    let rec = Recorder::new(cfg).unwrap();
    let abandoned = |at: f64, started: f64, v: u64, country: Country, attempts: u32| {
        finished(at, started, v, country, St::Abandoned, attempts, 0.0, None)
    };
    // 1: warmup, abandoned; 2: delivered; 3: abandoned during the fault after a fast failure
    // and while its second attempt was pending; 4: abandoned, started during the fault but out
    // of its scope (US). In time order, as the simulation emits them.
    rec.emit(&decision(5.0, 1, 1, Some(0)));
    rec.emit(&abandoned(20.0, 5.0, 1, de(), 1));
    rec.emit(&decision(22.0, 2, 1, Some(0)));
    rec.emit(&attempt(25.0, 2, 1, 0, Delivered, 3.0, 0.05));
    rec.emit(&finished(
        25.0,
        22.0,
        2,
        de(),
        St::Delivered,
        1,
        0.05,
        Some(0),
    ));
    rec.emit(&decision(30.0, 3, 1, Some(0)));
    let unavailable = Failed(FailureKind::Unavailable);
    rec.emit(&attempt(30.5, 3, 1, 0, unavailable, 0.5, 0.0));
    rec.emit(&decision(30.5, 3, 2, Some(1)));
    rec.emit(&decision(40.0, 4, 1, Some(2)));
    rec.emit(&abandoned(45.0, 30.0, 3, de(), 2));
    rec.emit(&abandoned(55.0, 40.0, 4, us(), 1));
    let run = rec.finish(s(200.0));
    let m = &run.metrics;
    assert_eq!(m.verifications, 3, "ids 2, 3 and 4 are measured");
    assert_eq!(m.caller_abandoned, 2);
    assert_eq!(run.status_counts.caller_abandoned, 2);
    assert_eq!(run.status_counts.delivered, 1);
    assert_eq!(run.status_counts.total(), m.verifications);
    assert!(close(m.success_rate, 1.0 / 3.0), "{}", m.success_rate);
    // Their attempts count as launched, as a `Finished` would have them: 1 + 2 + 1.
    assert_eq!(run.totals.attempts_launched, 4);
    assert_eq!(run.totals.attempt_events, 2);
    assert!(close(m.failover_rate, 1.0 / 3.0), "{}", m.failover_rate);
    assert_eq!(run.timeseries[3].failovers, 1);
    // By start bucket, warmup included.
    let col = |f: fn(&BucketRow) -> u64| run.timeseries.iter().map(f).collect::<Vec<_>>();
    assert_eq!(col(|b| b.caller_abandoned)[..5], [1, 0, 0, 1, 1]);
    assert_eq!(col(|b| b.verifications)[..5], [1, 0, 1, 1, 1]);
    assert_eq!(run.timeseries[3].success_rate, Some(0.0));
    let f = &run.faults[0];
    assert_eq!(
        (f.verifications_during_fault, f.failed_during_fault),
        (2, 1),
        "in scope: 2 (delivered) and 3 (abandoned)"
    );
}

// ---------------------------------------------------------------------------------------------
// Histograms

#[test]
fn histograms_round_trip_and_merge() {
    let mut a = histogram::latency_histogram();
    let mut b = histogram::latency_histogram();
    for v in 1..=1000u64 {
        a.record(v * 1000).unwrap();
        b.record(v * 2000).unwrap();
    }
    b.saturating_record(u64::MAX);
    let (sa, sb) = (
        SerializedHistogram::encode(&a).unwrap(),
        SerializedHistogram::encode(&b).unwrap(),
    );
    assert_eq!(sa.decode().unwrap(), a);
    assert_eq!(sb.decode().unwrap(), b);
    let json = serde_json::to_string(&sa).unwrap();
    assert_eq!(
        serde_json::from_str::<SerializedHistogram>(&json).unwrap(),
        sa
    );

    let merged = SerializedHistogram::merge([&sa, &sb]).unwrap();
    assert_eq!(merged.len(), 2001);
    assert_eq!(merged.count_at(500_000), 2);
    assert_eq!(merged.max(), b.max());
    let again = SerializedHistogram::merge_encoded([&sa, &sb]).unwrap();
    assert_eq!(again.decode().unwrap(), merged);
    assert_eq!(SerializedHistogram::merge([]).unwrap().len(), 0);

    assert!(matches!(
        SerializedHistogram("not base64!".into()).decode(),
        Err(HistogramError::Base64(_))
    ));
    assert!(matches!(
        SerializedHistogram("AAAA".into()).decode(),
        Err(HistogramError::Decode(_))
    ));
}

#[test]
fn summary_serializes_and_reads_back() {
    let scripts = [
        Script {
            converts: true,
            late: Some(true),
            ..script(
                1.0,
                &[
                    (0, Failed(FailureKind::Timeout), 0.05),
                    (1, Delivered, 0.07),
                ],
                St::Delivered,
            )
        },
        script(
            3.0,
            &[(2, Failed(FailureKind::Unavailable), 0.0)],
            St::AttemptsExhausted,
        ),
    ];
    let mut events = events_of(&scripts);
    events.push(state(20.0, 0, H, E, false));
    events.push(panic_change(21.0, true, de()));
    let mut cfg = config(0.0, 60.0, 10.0);
    cfg.faults.push(FaultWindow {
        name: "f".into(),
        start: s(15.0),
        end: s(30.0),
        affected_routes: vec![RouteId(0)],
    });
    let run = record(cfg, &events, 60.0);
    assert_eq!(run.format_version, FORMAT_VERSION);
    let json = serde_json::to_value(&run).unwrap();
    let keys: Vec<&str> = json["metrics"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    for k in [
        "verifications",
        "success_rate",
        "conversion_rate",
        "time_to_verify",
        "attempts_per_verification",
        "failover_rate",
        "cost_total",
        "cost_per_success",
        "duplicate_deliveries",
        "ejections",
        "flaps",
        "caller_abandoned",
    ] {
        assert!(keys.contains(&k), "metrics lacks {k}");
    }
    let back: PolicyRun = serde_json::from_value(json.clone()).unwrap();
    assert_eq!(back, run);
    assert_eq!(run.routes[0].timeline[0].state, TimelineState::Ejected);

    // Written before `caller_abandoned` was added (same format version): it reads as 0.
    let mut older = json;
    older["metrics"]
        .as_object_mut()
        .unwrap()
        .remove("caller_abandoned");
    older["status_counts"]
        .as_object_mut()
        .unwrap()
        .remove("caller_abandoned");
    for row in older["timeseries"].as_array_mut().unwrap() {
        row.as_object_mut().unwrap().remove("caller_abandoned");
    }
    let back: PolicyRun = serde_json::from_value(older).unwrap();
    assert_eq!(back, run);
}

#[test]
fn invalid_configs_are_refused_with_what_to_fix() {
    let check = |f: fn(&mut RecorderConfig), want: fn(&ConfigError) -> bool| {
        let mut cfg = config(0.0, 60.0, 10.0);
        f(&mut cfg);
        let err = Recorder::new(cfg).err().expect("refused");
        assert!(want(&err), "{err}");
    };
    check(
        |c| c.bucket = Duration::ZERO,
        |e| *e == ConfigError::ZeroBucket,
    );
    check(
        |c| c.warmup = s(61.0),
        |e| matches!(e, ConfigError::WarmupAfterDuration { .. }),
    );
    check(
        |c| c.routes[1].provider = 7,
        |e| matches!(e, ConfigError::UnknownProvider { route: 1, .. }),
    );
    check(
        |c| {
            c.faults.push(FaultWindow {
                name: "f".into(),
                start: s(1.0),
                end: s(2.0),
                affected_routes: vec![RouteId(3)],
            })
        },
        |e| matches!(e, ConfigError::UnknownAffectedRoute { route: 3, .. }),
    );
}

// ---------------------------------------------------------------------------------------------
// Memory

/// Feeds `events` synthetic events (decision, attempt, finished, conversion per verification)
/// spread evenly over one simulated day, plus a few state changes.
fn day_of_events(events: u64) -> Recorder {
    let mut cfg = config(3_600.0, 86_400.0, 60.0);
    cfg.faults.push(FaultWindow {
        name: "f".into(),
        start: s(40_000.0),
        end: s(43_600.0),
        affected_routes: vec![RouteId(0)],
    });
    let rec = Recorder::new(cfg).unwrap();
    let mut transitions = [(41_000.0, H, E), (41_030.0, E, P), (41_040.0, P, H)]
        .into_iter()
        .peekable();
    let n = events / 4;
    // Stay inside the day: 1 440 rows of a minute.
    let step = 86_399.0 / n as f64;
    for v in 0..n {
        let t = v as f64 * step;
        while let Some((at, from, to)) = transitions.next_if(|tr| tr.0 <= t) {
            rec.emit(&state(at, 0, from, to, false));
        }
        let route = (v % 3) as u32;
        let country = country_of(route);
        rec.emit(&decision(t, v, 1, Some(route)));
        let ok = v % 7 != 0;
        let outcome = if ok {
            Delivered
        } else {
            Failed(FailureKind::Timeout)
        };
        rec.emit(&attempt(t + 0.5, v, 1, route, outcome, 0.5, 0.05));
        let status = if ok {
            St::Delivered
        } else {
            St::DeadlineExceeded
        };
        rec.emit(&finished(
            t + 0.5,
            t,
            v,
            country,
            status,
            1,
            0.05,
            ok.then_some(route),
        ));
        rec.emit(&conversion(t + 0.7, v, route));
    }
    rec
}

#[test]
fn memory_does_not_grow_with_the_number_of_events() {
    let small = day_of_events(1_000_000);
    let large = day_of_events(2_000_000);
    assert_eq!(small.memory_footprint(), large.memory_footprint());
    // Rows are bounded by the run length / bucket: one day of minutes.
    assert!(
        large.timeseries_len() <= 1_440,
        "{}",
        large.timeseries_len()
    );
    assert!(
        large.memory_footprint() < 8 << 20,
        "{}",
        large.memory_footprint()
    );
    let run = large.finish(s(86_400.0));
    assert_eq!(run.timeseries.len(), 1_440);
    assert_eq!(run.totals.conversions, run.metrics.verifications);
    assert_eq!(run.faults[0].detection_delay, Some(1_000.0));
}
