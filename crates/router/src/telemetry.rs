//! The router's metrics, through the [`metrics`] facade (cargo feature `metrics`).
//!
//! A service that links the router wants its dashboards and alerts to see what the audit trail
//! says, without writing a sink that folds events into counters. With the feature on, every
//! event the router emits is also counted here, into handles the embedder's recorder provides
//! (Prometheus through `metrics-exporter-prometheus`, StatsD, ...): the router never picks an
//! exporter, and without a recorder installed every handle is a no-op.
//!
//! Why handles registered up front: a recorder hashes a metric's name and labels to find its
//! storage, which costs more than the increment itself. So every label set the router can
//! produce for its table is registered once, when the router is built (per route, per
//! (country, number type), per reason, outcome and status), and an event only indexes an array
//! and bumps an atomic. Requests for a (country, number type) the table does not cover register
//! their group on first use (at most 26 x 26 x 5 of them).
//!
//! Routes are indexed by route id. A routing table that grows at runtime (hot reload appends
//! routes and keeps ids stable) registers its new routes with `RouterMetrics::extend`; routes
//! known at build are read without any lock, appended ones behind a read-mostly lock.
//!
//! Everything but the decision latency derives from the events (`Router::emit` hands each one
//! here before the sink), so the metrics and the audit trail cannot disagree. The decision
//! latency is the one wall-clock reading in the router: it measures the router's own CPU cost
//! and never reaches a decision, which reads time only through `tokio::time::Instant`.

use std::cell::Cell;
use std::sync::{OnceLock, RwLock};

use metrics::{Counter, Gauge, Histogram, Key, KeyName, Label, Level, Metadata, Recorder, Unit};

use crate::adapter::{AttemptOutcome, FailureKind};
use crate::event::{DecisionReason, RouteState, RouterEvent, StateReason, VerificationStatus};
use crate::route::{Country, NumberType, Route, RouteId, RoutingTable};

/// Decisions, by `country`, `number_type` and `reason` (the audit trail's decision reasons).
/// `dry_run` decisions count too: they are real decisions.
pub const DECISIONS: &str = "failover_router_decisions_total";
/// Attempts judged, by `provider`, `country`, `number_type` and `outcome` (`delivered` or the
/// failure kind).
pub const ATTEMPTS: &str = "failover_router_attempts_total";
/// Billed cost by `provider`, in millionths of the routing table's cost unit.
pub const BILLED_COST: &str = "failover_router_billed_cost_microunits_total";
/// Retries refused by the retry budget, by `country` and `number_type`.
pub const RETRIES_REFUSED: &str = "failover_router_retries_refused_total";
/// Trips refused by the ejection cap, by `provider`, `country` and `number_type`.
pub const TRIPS_SUPPRESSED: &str = "failover_router_trips_suppressed_total";
/// Attempts after the first that were launched, by `country` and `number_type`.
pub const FAILOVERS: &str = "failover_router_failovers_total";
/// Verifications finished, by `country`, `number_type` and `status`.
pub const VERIFICATIONS: &str = "failover_router_verifications_total";
/// Each route's state as selection acts on it, by `provider`, `country` and `number_type`:
/// [`HEALTHY`], [`PROBING`] or [`EJECTED`].
pub const ROUTE_STATE: &str = "failover_router_route_state";
/// 1 while a (`country`, `number_type`) is in panic mode, else 0.
pub const PANIC: &str = "failover_router_panic";
/// Request start to first delivery, seconds, delivered verifications, by `country` and
/// `number_type`.
pub const TIME_TO_VERIFY: &str = "failover_router_time_to_verify_seconds";
/// Wall time of a routing decision with its lock wait, seconds, one decision in
/// [`DECISION_SAMPLE`].
pub const DECISION_DURATION: &str = "failover_router_decision_duration_seconds";

/// [`ROUTE_STATE`] of a route in service. The values are ordered by severity, so `max` over
/// routes gives a group's worst.
pub const HEALTHY: f64 = 0.0;
/// [`ROUTE_STATE`] of a route taking probe traffic after an ejection.
pub const PROBING: f64 = 1.0;
/// [`ROUTE_STATE`] of a route out of service (tripped or forced).
pub const EJECTED: f64 = 2.0;

/// One routing decision in this many is timed for [`DECISION_DURATION`]: reading the wall clock
/// twice costs about 40 ns, 15 % of a decision, and a uniform sample gives the same quantiles.
/// Sampled per thread by a fixed-seed xorshift, so no regular pattern of decisions (first
/// attempt, retry, first attempt, ...) can alias with it.
pub const DECISION_SAMPLE: u32 = 16;

/// One delivered verification in this many has its time to verify recorded (chosen by a hash
/// of its id): Prometheus' histogram recorder reads a clock and appends to a shared buffer per
/// sample, the largest part of what the metrics add to `verify`. Quantiles are a uniform
/// sample's; exact counts are `failover_router_verifications_total{status="delivered"}`.
pub const TIME_TO_VERIFY_SAMPLE: u64 = 16;

const OUTCOMES: [&str; 8] = [
    "delivered",
    "unavailable",
    "timeout",
    "rate_limited",
    "no_inventory",
    "rejected",
    "undelivered",
    "invalid_destination",
];

const REASONS: [&str; 11] = [
    "best",
    "explore",
    "probe",
    "panic",
    "diversity_fallback",
    "no_coverage",
    "no_candidate",
    "retry_budget_exhausted",
    "provider_limit",
    "cost_cap",
    "traffic_shift",
];

const STATUSES: [&str; 9] = [
    "delivered",
    "deadline_exceeded",
    "attempts_exhausted",
    "no_route",
    "retry_budget_exhausted",
    "invalid_destination",
    "abandoned",
    "provider_limit",
    "cost_cap",
];

fn outcome_index(outcome: AttemptOutcome) -> usize {
    match outcome {
        AttemptOutcome::Delivered => 0,
        AttemptOutcome::Failed(k) => match k {
            FailureKind::Unavailable => 1,
            FailureKind::Timeout => 2,
            FailureKind::RateLimited => 3,
            FailureKind::NoInventory => 4,
            FailureKind::Rejected => 5,
            FailureKind::Undelivered => 6,
            FailureKind::InvalidDestination => 7,
        },
    }
}

fn reason_index(reason: DecisionReason) -> usize {
    match reason {
        DecisionReason::Best => 0,
        DecisionReason::Explore => 1,
        DecisionReason::Probe => 2,
        DecisionReason::Panic => 3,
        DecisionReason::DiversityFallback => 4,
        DecisionReason::NoCoverage => 5,
        DecisionReason::NoCandidate => 6,
        DecisionReason::RetryBudgetExhausted => 7,
        DecisionReason::ProviderLimit => 8,
        DecisionReason::CostCap => 9,
        DecisionReason::TrafficShift => 10,
    }
}

fn status_index(status: VerificationStatus) -> usize {
    match status {
        VerificationStatus::Delivered => 0,
        VerificationStatus::DeadlineExceeded => 1,
        VerificationStatus::AttemptsExhausted => 2,
        VerificationStatus::NoRoute => 3,
        VerificationStatus::RetryBudgetExhausted => 4,
        VerificationStatus::InvalidDestination => 5,
        VerificationStatus::Abandoned => 6,
        VerificationStatus::ProviderLimit => 7,
        VerificationStatus::CostCap => 8,
    }
}

fn state_value(state: RouteState) -> f64 {
    match state {
        RouteState::Healthy => HEALTHY,
        RouteState::Probing => PROBING,
        RouteState::Ejected => EJECTED,
    }
}

/// An attempt's billed cost in millionths: counters are integers, and an integer sum is exact
/// however many attempts it adds up (a float gauge would drift, and is not a counter to
/// Prometheus's `rate()`). Prices are quoted to far fewer than six decimals; a `u64` of
/// millionths overflows past 1.8e13 units of cost.
fn micro_units(cost: f64) -> u64 {
    (cost * 1e6).round() as u64
}

static METADATA: Metadata<'static> =
    Metadata::new(module_path!(), Level::INFO, Some(module_path!()));

fn counter(r: &dyn Recorder, name: &'static str, labels: Vec<Label>) -> Counter {
    r.register_counter(&Key::from_parts(name, labels), &METADATA)
}

fn gauge(r: &dyn Recorder, name: &'static str, labels: Vec<Label>) -> Gauge {
    r.register_gauge(&Key::from_parts(name, labels), &METADATA)
}

fn histogram(r: &dyn Recorder, name: &'static str, labels: Vec<Label>) -> Histogram {
    r.register_histogram(&Key::from_parts(name, labels), &METADATA)
}

fn route_labels(route: &Route) -> Vec<Label> {
    vec![
        Label::new("provider", route.provider_name.clone()),
        Label::new("country", route.country.as_str().to_owned()),
        Label::new("number_type", route.number_type.as_str()),
    ]
}

fn group_labels(country: Country, number_type: NumberType) -> Vec<Label> {
    vec![
        Label::new("country", country.as_str().to_owned()),
        Label::new("number_type", number_type.as_str()),
    ]
}

fn with(mut labels: Vec<Label>, key: &'static str, value: &'static str) -> Vec<Label> {
    labels.push(Label::new(key, value));
    labels
}

/// Names, units and help texts, given to the recorder when a router is built (Prometheus
/// prints them as `# HELP`).
fn describe(r: &dyn Recorder) {
    let counters = [
        (DECISIONS, "Routing decisions, by reason"),
        (ATTEMPTS, "Attempts judged, by route and outcome"),
        (
            BILLED_COST,
            "Billed cost of attempts, in millionths of the routing table's cost unit",
        ),
        (RETRIES_REFUSED, "Retries refused by the retry budget"),
        (TRIPS_SUPPRESSED, "Route trips refused by the ejection cap"),
        (FAILOVERS, "Attempts after a verification's first, launched"),
        (VERIFICATIONS, "Verifications finished, by status"),
    ];
    for (name, help) in counters {
        let unit = (name != BILLED_COST).then_some(Unit::Count);
        r.describe_counter(KeyName::from_const_str(name), unit, help.into());
    }
    r.describe_gauge(
        KeyName::from_const_str(ROUTE_STATE),
        None,
        "Route state selection acts on: 0 healthy, 1 probing, 2 ejected".into(),
    );
    r.describe_gauge(
        KeyName::from_const_str(PANIC),
        None,
        "1 while no route of the country and number type is healthy (panic mode)".into(),
    );
    r.describe_histogram(
        KeyName::from_const_str(TIME_TO_VERIFY),
        Some(Unit::Seconds),
        "Request start to first delivery, delivered verifications".into(),
    );
    r.describe_histogram(
        KeyName::from_const_str(DECISION_DURATION),
        Some(Unit::Seconds),
        "Wall time of a routing decision with its lock wait, sampled".into(),
    );
}

/// One route's handles.
struct RouteMetrics {
    /// By [`outcome_index`].
    attempts: [Counter; OUTCOMES.len()],
    /// The route's provider's (one series per provider; every route of it holds a handle).
    billed: Counter,
    trips_suppressed: Counter,
    state: Gauge,
}

impl RouteMetrics {
    fn register(r: &dyn Recorder, route: &Route, state: RouteState) -> Self {
        let labels = route_labels(route);
        let m = RouteMetrics {
            attempts: std::array::from_fn(|i| {
                counter(r, ATTEMPTS, with(labels.clone(), "outcome", OUTCOMES[i]))
            }),
            billed: counter(
                r,
                BILLED_COST,
                vec![Label::new("provider", route.provider_name.clone())],
            ),
            trips_suppressed: counter(r, TRIPS_SUPPRESSED, labels.clone()),
            state: gauge(r, ROUTE_STATE, labels),
        };
        // Set, not left at the recorder's default: a route that never changes state must show.
        m.state.set(state_value(state));
        m
    }
}

/// One (country, number type)'s handles.
struct GroupMetrics {
    /// By [`reason_index`].
    decisions: [Counter; REASONS.len()],
    retries_refused: Counter,
    failovers: Counter,
    /// By [`status_index`].
    verifications: [Counter; STATUSES.len()],
    panic: Gauge,
    time_to_verify: Histogram,
}

impl GroupMetrics {
    fn register(r: &dyn Recorder, country: Country, number_type: NumberType) -> Self {
        let labels = group_labels(country, number_type);
        let m = GroupMetrics {
            decisions: std::array::from_fn(|i| {
                counter(r, DECISIONS, with(labels.clone(), "reason", REASONS[i]))
            }),
            retries_refused: counter(r, RETRIES_REFUSED, labels.clone()),
            failovers: counter(r, FAILOVERS, labels.clone()),
            verifications: std::array::from_fn(|i| {
                counter(
                    r,
                    VERIFICATIONS,
                    with(labels.clone(), "status", STATUSES[i]),
                )
            }),
            panic: gauge(r, PANIC, labels.clone()),
            time_to_verify: histogram(r, TIME_TO_VERIFY, labels),
        };
        m.panic.set(0.0);
        m
    }
}

/// Every handle the router records into, registered once (see the module docs). Lives in the
/// router's `Inner`, beside the core rather than in the configuration, so a reloaded table
/// keeps its routes' series.
pub(crate) struct RouterMetrics {
    /// Routes known at build, by route id: read without a lock.
    routes: Box<[RouteMetrics]>,
    /// Routes appended since ([`RouterMetrics::extend`]), by route id minus `routes.len()`.
    appended: RwLock<Vec<RouteMetrics>>,
    /// By `route::dense` index of (country, number type): the table's groups registered at
    /// build, any other on first use.
    groups: Box<[OnceLock<Box<GroupMetrics>>]>,
    decision_duration: Histogram,
}

impl RouterMetrics {
    /// Registers every series of `table` with the recorder in force on this thread (the global
    /// one, or a local one set with `metrics::with_local_recorder`), routes in `state` and no
    /// group in panic.
    pub(crate) fn new(table: &RoutingTable, state: impl Fn(RouteId) -> RouteState) -> Self {
        metrics::with_recorder(|r| {
            describe(r);
            let groups: Box<[OnceLock<Box<GroupMetrics>>]> = (0..crate::route::DENSE_GROUPS)
                .map(|_| OnceLock::new())
                .collect();
            let routes = table
                .routes()
                .iter()
                .map(|route| RouteMetrics::register(r, route, state(route.id)))
                .collect();
            let m = RouterMetrics {
                routes,
                appended: RwLock::new(Vec::new()),
                groups,
                decision_duration: histogram(r, DECISION_DURATION, Vec::new()),
            };
            m.register_groups(r, table);
            m
        })
    }

    /// Registers the routes of `table` whose ids are beyond those known so far (a reload
    /// appends routes and keeps the others' ids), starting healthy, and any group new to it.
    /// Routes already known keep their series. Called before the new table takes traffic: an
    /// event naming a route not registered yet is not counted.
    pub(crate) fn extend(&self, table: &RoutingTable) {
        metrics::with_recorder(|r| {
            let mut appended = self.appended.write().unwrap_or_else(|e| e.into_inner());
            let known = self.routes.len() + appended.len();
            for route in table.routes().iter().skip(known) {
                appended.push(RouteMetrics::register(r, route, RouteState::Healthy));
            }
            drop(appended);
            self.register_groups(r, table);
        });
    }

    /// Shows `route` in `state`: for a change no event reports (a reload reviving a retired
    /// route, cold).
    pub(crate) fn show_state(&self, route: RouteId, state: RouteState) {
        self.route(route, |m| m.state.set(state_value(state)));
    }

    fn register_groups(&self, r: &dyn Recorder, table: &RoutingTable) {
        for route in table.routes() {
            self.groups[crate::route::dense(route.country, route.number_type)].get_or_init(|| {
                Box::new(GroupMetrics::register(r, route.country, route.number_type))
            });
        }
    }

    /// Counts one event. Called by `Router::emit` for every event, before the sink.
    pub(crate) fn observe(&self, event: &RouterEvent<'_>) {
        match event {
            RouterEvent::Decision(d) => {
                let g = self.group(d.country, d.number_type);
                g.decisions[reason_index(d.reason)].increment(1);
                if d.reason == DecisionReason::RetryBudgetExhausted {
                    g.retries_refused.increment(1);
                }
                if d.attempt > 1 && d.chosen.is_some() {
                    g.failovers.increment(1);
                }
            }
            RouterEvent::Attempt(a) => self.route(a.route, |m| {
                m.attempts[outcome_index(a.outcome)].increment(1);
                let cost = micro_units(a.cost);
                if cost > 0 {
                    m.billed.increment(cost);
                }
            }),
            RouterEvent::StateChange(s) => {
                // A shadow route's own transitions are logged, not acted on: selection still
                // sees it healthy. An operator's change (`Manual`) always is what selection sees.
                if !s.shadow || s.reason == StateReason::Manual {
                    self.route(s.route, |m| m.state.set(state_value(s.to)));
                }
            }
            RouterEvent::TripSuppressed(t) => {
                self.route(t.route, |m| m.trips_suppressed.increment(1))
            }
            RouterEvent::PanicEnter(p) => self.group(p.country, p.number_type).panic.set(1.0),
            RouterEvent::PanicExit(p) => self.group(p.country, p.number_type).panic.set(0.0),
            RouterEvent::Finished(f) => {
                let g = self.group(f.country, f.number_type);
                g.verifications[status_index(f.status)].increment(1);
                if let Some(t) = f.time_to_verify
                    && verify_sampled(f.verification)
                {
                    g.time_to_verify.record(t.as_secs_f64());
                }
            }
            // A reload's routes are registered by the reload itself (`extend`, `show_state`),
            // before and while it installs the new table.
            RouterEvent::LateDelivery(_)
            | RouterEvent::Conversion(_)
            | RouterEvent::Abandoned(_)
            | RouterEvent::Reloaded(_)
            // A restored router's states were shown when its metrics were registered.
            | RouterEvent::Started(_)
            | RouterEvent::OverrideSet(_)
            | RouterEvent::OverrideExpired(_)
            | RouterEvent::TrafficShiftSet(_)
            | RouterEvent::TrafficShiftCleared(_) => {}
        }
    }

    fn route(&self, id: RouteId, f: impl FnOnce(&RouteMetrics)) {
        if let Some(m) = self.routes.get(id.index()) {
            return f(m);
        }
        let appended = self.appended.read().unwrap_or_else(|e| e.into_inner());
        if let Some(m) = appended.get(id.index() - self.routes.len()) {
            f(m);
        }
    }

    fn group(&self, country: Country, number_type: NumberType) -> &GroupMetrics {
        self.groups[crate::route::dense(country, number_type)].get_or_init(|| {
            Box::new(metrics::with_recorder(|r| {
                GroupMetrics::register(r, country, number_type)
            }))
        })
    }

    /// A timer for one decision, running for one in [`DECISION_SAMPLE`] decisions.
    #[inline]
    pub(crate) fn time_decision(&self) -> DecisionTimer<'_> {
        DecisionTimer(sampled().then(|| (std::time::Instant::now(), &self.decision_duration)))
    }
}

/// Times one decision (see [`RouterMetrics::time_decision`]); [`DecisionTimer::stop`] records it.
pub(crate) struct DecisionTimer<'a>(Option<(std::time::Instant, &'a Histogram)>);

impl DecisionTimer<'_> {
    /// A timer that records nothing: a router without metrics.
    #[inline]
    pub(crate) fn off() -> Self {
        DecisionTimer(None)
    }

    #[inline]
    pub(crate) fn stop(self) {
        if let Some((started, h)) = self.0 {
            h.record(started.elapsed().as_secs_f64());
        }
    }
}

thread_local! {
    /// xorshift32 state of this thread's decision sampler (any fixed non-zero seed).
    static SAMPLER: Cell<u32> = const { Cell::new(0x9E37_79B9) };
}

/// Whether `verification`'s time to verify goes into the histogram (if it is delivered): one
/// in [`TIME_TO_VERIFY_SAMPLE`], chosen by a hash of its id, so which ones is reproducible.
#[inline]
pub fn verify_sampled(verification: crate::adapter::VerificationId) -> bool {
    // Fibonacci hashing: consecutive ids spread evenly over the residues.
    (verification.0.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32).is_multiple_of(TIME_TO_VERIFY_SAMPLE)
}

/// Whether to time this decision: true once in [`DECISION_SAMPLE`] on average.
#[inline]
fn sampled() -> bool {
    SAMPLER.with(|s| {
        let mut x = s.get();
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        s.set(x);
        x % DECISION_SAMPLE == 0
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::time::Duration;

    use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};

    use super::*;
    use crate::adapter::{AttemptId, VerificationId};
    use crate::event::AttemptFinished;
    use crate::route::RouteSpec;

    fn table(routes: &[(&str, &str)]) -> RoutingTable {
        let mut providers: Vec<&str> = routes.iter().map(|r| r.0).collect();
        providers.dedup();
        let specs: Vec<RouteSpec> = routes
            .iter()
            .map(|(p, c)| RouteSpec {
                provider: (*p).into(),
                country: Country::new(c).unwrap(),
                number_type: NumberType::Mobile,
                cost: 0.01,
                priority: 0,
                weight: 1.0,
                failure_domains: vec![],
            })
            .collect();
        RoutingTable::new(&providers, &specs).unwrap()
    }

    fn delivered(route: u32) -> RouterEvent<'static> {
        RouterEvent::Attempt(AttemptFinished {
            at: Duration::ZERO,
            verification: VerificationId(1),
            attempt: AttemptId(1),
            number: 1,
            route: RouteId(route),
            outcome: AttemptOutcome::Delivered,
            latency: Duration::from_secs(1),
            cost: 0.01,
            probe: false,
            adapter_panic: false,
        })
    }

    /// (name, labels as `k=v` joined by `,`) -> value, for every series.
    fn values(s: &Snapshotter) -> BTreeMap<(String, String), f64> {
        s.snapshot()
            .into_vec()
            .into_iter()
            .map(|(k, _, _, v)| {
                let labels: Vec<String> = k
                    .key()
                    .labels()
                    .map(|l| format!("{}={}", l.key(), l.value()))
                    .collect();
                let v = match v {
                    DebugValue::Counter(c) => c as f64,
                    DebugValue::Gauge(g) => g.into_inner(),
                    DebugValue::Histogram(h) => h.len() as f64,
                };
                ((k.key().name().to_owned(), labels.join(",")), v)
            })
            .collect()
    }

    /// A router built with a route already out of service (restored state) shows it so from
    /// the start, before any event.
    #[test]
    fn routes_start_in_the_state_they_are_built_with() {
        let recorder = DebuggingRecorder::new();
        let t = table(&[("a", "DE"), ("b", "DE")]);
        metrics::with_local_recorder(&recorder, || {
            RouterMetrics::new(&t, |r| match r.0 {
                0 => RouteState::Ejected,
                _ => RouteState::Healthy,
            })
        });
        let v = values(&recorder.snapshotter());
        let state = |p: &str| {
            v[&(
                ROUTE_STATE.into(),
                format!("provider={p},country=DE,number_type=mobile"),
            )]
        };
        assert_eq!(state("a"), EJECTED);
        assert_eq!(state("b"), HEALTHY);
        assert_eq!(
            v[&(PANIC.into(), "country=DE,number_type=mobile".into())],
            0.0
        );
    }

    /// A table that grew (hot reload appends routes, ids stable): the new route is counted
    /// once `extend` registered it, under its own labels, and its new group has its series.
    #[test]
    fn extend_registers_appended_routes_and_their_groups() {
        let recorder = DebuggingRecorder::new();
        let snapshotter = recorder.snapshotter();
        let before = table(&[("a", "DE")]);
        let after = table(&[("a", "DE"), ("b", "FR")]);
        metrics::with_local_recorder(&recorder, || {
            let m = RouterMetrics::new(&before, |_| RouteState::Healthy);
            // Not known yet: not counted (and no panic).
            m.observe(&delivered(1));
            m.extend(&after);
            // Extending again with the same table registers nothing twice.
            m.extend(&after);
            m.observe(&delivered(1));
            m.observe(&delivered(0));
            assert_eq!(m.appended.read().unwrap().len(), 1);
        });
        let v = values(&snapshotter);
        let attempts = |p: &str, c: &str| {
            v[&(
                ATTEMPTS.into(),
                format!("provider={p},country={c},number_type=mobile,outcome=delivered"),
            )]
        };
        assert_eq!(attempts("b", "FR"), 1.0);
        assert_eq!(attempts("a", "DE"), 1.0);
        assert_eq!(
            v[&(
                ROUTE_STATE.into(),
                "provider=b,country=FR,number_type=mobile".into()
            )],
            HEALTHY
        );
        assert!(v.contains_key(&(PANIC.into(), "country=FR,number_type=mobile".into())));
        assert_eq!(v[&(BILLED_COST.into(), "provider=b".into())], 10_000.0);
    }

    /// Labels read like the audit trail: each label value is the serde name of what it counts.
    #[test]
    fn label_values_are_the_audit_trails_names() {
        let name = |v: serde_json::Value| v.as_str().unwrap().to_owned();
        let kinds = [
            FailureKind::Unavailable,
            FailureKind::Timeout,
            FailureKind::RateLimited,
            FailureKind::NoInventory,
            FailureKind::Rejected,
            FailureKind::Undelivered,
            FailureKind::InvalidDestination,
        ];
        let outcomes =
            std::iter::once(AttemptOutcome::Delivered).chain(kinds.map(AttemptOutcome::Failed));
        for o in outcomes {
            let serde = match o {
                AttemptOutcome::Delivered => "delivered".to_owned(),
                AttemptOutcome::Failed(k) => name(serde_json::to_value(k).unwrap()),
            };
            assert_eq!(OUTCOMES[outcome_index(o)], serde);
        }
        for r in [
            DecisionReason::Best,
            DecisionReason::Explore,
            DecisionReason::Probe,
            DecisionReason::Panic,
            DecisionReason::DiversityFallback,
            DecisionReason::NoCoverage,
            DecisionReason::NoCandidate,
            DecisionReason::RetryBudgetExhausted,
            DecisionReason::ProviderLimit,
            DecisionReason::CostCap,
            DecisionReason::TrafficShift,
        ] {
            assert_eq!(
                REASONS[reason_index(r)],
                name(serde_json::to_value(r).unwrap())
            );
        }
        for s in [
            VerificationStatus::Delivered,
            VerificationStatus::DeadlineExceeded,
            VerificationStatus::AttemptsExhausted,
            VerificationStatus::NoRoute,
            VerificationStatus::RetryBudgetExhausted,
            VerificationStatus::InvalidDestination,
            VerificationStatus::Abandoned,
            VerificationStatus::ProviderLimit,
            VerificationStatus::CostCap,
        ] {
            assert_eq!(
                STATUSES[status_index(s)],
                name(serde_json::to_value(s).unwrap())
            );
        }
    }

    #[test]
    fn costs_are_counted_in_exact_millionths() {
        assert_eq!(micro_units(0.0), 0);
        assert_eq!(micro_units(0.0745), 74_500);
        // 0.0314 x 1e6 is 31399.999999999996 in binary: rounded, not truncated.
        assert_eq!(micro_units(0.0314), 31_400);
        assert_eq!(micro_units(0.000_000_4), 0);
        assert_eq!(micro_units(12.5), 12_500_000);
    }

    /// One decision in `DECISION_SAMPLE`, and not on a cycle a regular pattern of decisions
    /// could alias with (every other decision, every fourth).
    #[test]
    fn one_decision_in_sixteen_is_timed_without_a_short_cycle() {
        let picks: Vec<bool> = (0..160_000).map(|_| sampled()).collect();
        let share = picks.iter().filter(|p| **p).count() as f64 / picks.len() as f64;
        assert!((share - 1.0 / 16.0).abs() < 0.005, "{share}");
        for stride in [2, 3, 4, 8, 16] {
            for phase in 0..stride {
                let n = picks
                    .iter()
                    .skip(phase)
                    .step_by(stride)
                    .filter(|p| **p)
                    .count();
                let share = n as f64 / (picks.len() / stride) as f64;
                assert!(
                    (share - 1.0 / 16.0).abs() < 0.01,
                    "stride {stride}: {share}"
                );
            }
        }
    }

    #[test]
    fn one_verification_in_sixteen_has_its_time_recorded_whatever_the_id_pattern() {
        // Consecutive ids, and ids in strides (one router of several numbering alike).
        for stride in [1u64, 2, 16, 1000] {
            let n = (0..64_000u64)
                .filter(|i| verify_sampled(crate::adapter::VerificationId(i * stride)))
                .count();
            let share = n as f64 / 64_000.0;
            assert!(
                (share - 1.0 / 16.0).abs() < 0.005,
                "stride {stride}: {share}"
            );
        }
    }
}
