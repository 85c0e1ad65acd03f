//! `Router`: the embedder-facing handle and the per-verification driver.
//!
//! One `verify` call drives one verification: decide, send through the adapter, wait for the
//! outcome or the attempt timeout, learn, and fail over, until a delivery, the attempt limit, or
//! the deadline. A timed-out attempt is not cancelled: its delivery receipt may still arrive, and
//! if it arrives before the deadline the verification succeeds with it (the user has the code,
//! whichever message brought it). Attempts still pending when the verification ends are watched
//! for `late_delivery_grace` by a background task so that late and duplicate deliveries (paid
//! for, and annoying for the user) are reported rather than silently lost.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::Poll;
use std::time::Duration;

use tokio::time::{Instant, Sleep, sleep_until};

use crate::adapter::{
    Attempt, AttemptFuture, AttemptId, AttemptOutcome, Destination, FailureKind, ProviderAdapter,
    VerificationId,
};
use crate::core::{Candidates, Core, Moment, RequestKey, ResolvedRule, Shared};
use crate::event::{
    AttemptFinished, Conversion, Decision, DecisionReason, EventSink, Finished, LateDelivery,
    NoopSink, Override, RouteState, RouterEvent, VerificationStatus,
};
use crate::health::{QuantileThreshold, WindowSnapshot};
use crate::inline::InlineVec;
use crate::policy::{Policy, PolicyError};
use crate::route::{Country, NumberType, RouteId, RoutingTable};

/// One verification to deliver.
#[derive(Clone, Debug)]
pub struct VerificationRequest {
    pub id: VerificationId,
    pub destination: Destination,
    pub country: Country,
    pub number_type: NumberType,
    /// e.g. "login", "signup": selects overrides and compliance rules.
    pub use_case: Option<Arc<str>>,
}

/// Proof of delivery, to hand back with [`Router::record_conversion`] when the user enters the
/// code. The embedder keeps it with its session; the router keeps nothing per verification.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeliveryReceipt {
    pub verification: VerificationId,
    pub route: RouteId,
}

/// How a verification ended.
#[derive(Clone, Debug, PartialEq)]
pub struct VerificationOutcome {
    pub id: VerificationId,
    pub status: VerificationStatus,
    /// Attempts sent, first included.
    pub attempts: u32,
    /// Sum of the billable attempts' costs known when the verification ended.
    pub cost: f64,
    /// Request start to first delivery (successes only).
    pub time_to_verify: Option<Duration>,
    pub receipt: Option<DeliveryReceipt>,
}

impl VerificationOutcome {
    pub fn delivered(&self) -> bool {
        self.status == VerificationStatus::Delivered
    }
}

/// What [`Router::dry_run`] decided.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DryRun {
    pub chosen: Option<RouteId>,
    pub reason: DecisionReason,
    pub probability: Option<f64>,
    /// The attempt timeout the chosen route would get.
    pub timeout: Duration,
}

/// A route's current standing, for dashboards and tests.
#[derive(Clone, Debug, PartialEq)]
pub struct RouteStatus {
    /// The state selection acts on.
    pub state: RouteState,
    /// The state machine's own verdict (differs from `state` under an override).
    pub evaluated: RouteState,
    pub override_: Override,
    pub window: WindowSnapshot,
    pub backoff_multiplier: f64,
}

/// Errors building a router: each names what to fix.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BuildError {
    #[error("invalid policy: {0}")]
    Policy(#[from] PolicyError),
    #[error("provider {0:?} has routes but no adapter: register one with RouterBuilder::adapter")]
    MissingAdapter(String),
    #[error("adapter registered for {0:?}, which is not a provider of the routing table")]
    UnknownAdapter(String),
    #[error(
        "{field}: unknown provider {name:?}; compliance rules must name providers of the routing table"
    )]
    UnknownComplianceProvider { field: String, name: String },
}

/// Builds a [`Router`]: table and policy, one adapter per provider, an event sink, a seed.
pub struct RouterBuilder {
    table: RoutingTable,
    policy: Policy,
    adapters: Vec<Option<Arc<dyn ProviderAdapter>>>,
    unknown_adapter: Option<String>,
    sink: Arc<dyn EventSink>,
    seed: u64,
}

impl RouterBuilder {
    /// Registers the adapter serving every route of `provider`.
    pub fn adapter(mut self, provider: &str, adapter: Arc<dyn ProviderAdapter>) -> Self {
        match self.table.provider_id(provider) {
            Some(id) => self.adapters[id.index()] = Some(adapter),
            None => self.unknown_adapter = Some(provider.to_owned()),
        }
        self
    }

    /// Where the audit trail goes. Default: discarded.
    pub fn sink(mut self, sink: Arc<dyn EventSink>) -> Self {
        self.sink = sink;
        self
    }

    /// Seed of the router's random generator (weighted picks, exploration, jitter, Thompson).
    /// Default 0. Same seed, same inputs, same decisions.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    pub fn build(self) -> Result<Router, BuildError> {
        self.policy.validate()?;
        if let Some(name) = self.unknown_adapter {
            return Err(BuildError::UnknownAdapter(name));
        }
        let mut adapters = Vec::with_capacity(self.adapters.len());
        for (i, a) in self.adapters.into_iter().enumerate() {
            let has_routes = self.table.routes().iter().any(|r| r.provider.index() == i);
            match a {
                Some(a) => adapters.push(a),
                None if has_routes => {
                    return Err(BuildError::MissingAdapter(
                        self.table.providers()[i].clone(),
                    ));
                }
                None => adapters.push(Arc::new(Unrouted) as Arc<dyn ProviderAdapter>),
            }
        }
        let mut use_cases: Vec<String> = Vec::new();
        let mut override_countries: Vec<Country> = Vec::new();
        for o in &self.policy.overrides {
            if let Some(u) = &o.use_case
                && !use_cases.contains(u)
            {
                use_cases.push(u.clone());
            }
            if let Some(c) = o.country
                && !override_countries.contains(&c)
            {
                override_countries.push(c);
            }
        }
        let mut compliance = Vec::new();
        for (i, rule) in self.policy.compliance.iter().enumerate() {
            if let Some(u) = &rule.use_case
                && !use_cases.contains(u)
            {
                use_cases.push(u.clone());
            }
            let resolve = |names: &[String], list: &str| -> Result<Vec<u32>, BuildError> {
                names
                    .iter()
                    .enumerate()
                    .map(|(k, n)| {
                        self.table.provider_id(n).map(|p| p.0).ok_or_else(|| {
                            BuildError::UnknownComplianceProvider {
                                field: format!("compliance[{i}].{list}[{k}]"),
                                name: n.clone(),
                            }
                        })
                    })
                    .collect()
            };
            compliance.push(ResolvedRule {
                country: rule.country,
                use_case: None,
                allow: resolve(&rule.allow, "allow")?,
                deny: resolve(&rule.deny, "deny")?,
            });
        }
        for (rule, resolved) in self.policy.compliance.iter().zip(compliance.iter_mut()) {
            resolved.use_case = rule
                .use_case
                .as_ref()
                .and_then(|u| use_cases.iter().position(|x| x == u));
        }
        let trip_latency = self.policy.trip.latency.map(QuantileThreshold::new);
        let mut shared = Shared {
            table: self.table,
            policy: self.policy,
            epoch: Instant::now(),
            use_cases,
            override_countries,
            plans: Vec::new(),
            compliance,
            trip_latency,
        };
        shared.build_plans();
        let core = Core::new(&shared, self.seed);
        Ok(Router {
            inner: Arc::new(Inner {
                shared,
                adapters,
                sink: self.sink,
                core: Mutex::new(core),
            }),
        })
    }
}

/// Stands in for providers that have no routes (never called).
struct Unrouted;

impl ProviderAdapter for Unrouted {
    fn send(&self, _: Attempt) -> AttemptFuture {
        Box::pin(async { AttemptOutcome::Failed(FailureKind::Unavailable) })
    }
}

struct Inner {
    shared: Shared,
    adapters: Vec<Arc<dyn ProviderAdapter>>,
    sink: Arc<dyn EventSink>,
    core: Mutex<Core>,
}

/// The failover router. Cheap to clone (an `Arc`), `Send + Sync`, callable from many tasks at
/// once; its lock is never held across an await.
#[derive(Clone)]
pub struct Router {
    inner: Arc<Inner>,
}

/// An attempt whose outcome is not known yet.
struct InFlight {
    meta: AttemptMeta,
    fut: AttemptFuture,
}

#[derive(Clone, Copy)]
struct AttemptMeta {
    id: AttemptId,
    verification: VerificationId,
    number: u32,
    route: RouteId,
    /// Launch time as an offset from the epoch, like `Moment::since`: latencies are then a
    /// subtraction of durations, cheaper than one of instants and exactly the same.
    started: Duration,
    probe: bool,
    /// The router already gave up on it (and billed and recorded it as a timeout).
    timed_out: bool,
}

enum Wake {
    Done(usize, AttemptOutcome),
    Timer,
}

/// Polls every in-flight attempt, then the one timer: a fixed order, so the same world gives
/// the same result (no random `select!`). The timer is armed at the earlier of the current
/// attempt's timeout and the deadline (one timer per verification, not two: timers are a large
/// share of a simulated verification's cost); which of the two it was is decided by the caller.
async fn next_wake(in_flight: &mut [InFlight], timer: Pin<&mut Sleep>) -> Wake {
    let mut timer = timer;
    std::future::poll_fn(move |cx| {
        for (i, f) in in_flight.iter_mut().enumerate() {
            if let Poll::Ready(o) = f.fut.as_mut().poll(cx) {
                return Poll::Ready(Wake::Done(i, o));
            }
        }
        if timer.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Wake::Timer);
        }
        Poll::Pending
    })
    .await
}

impl Router {
    pub fn builder(table: RoutingTable, policy: Policy) -> RouterBuilder {
        let n = table.providers().len();
        RouterBuilder {
            table,
            policy,
            adapters: vec![None; n],
            unknown_adapter: None,
            sink: Arc::new(NoopSink),
            seed: 0,
        }
    }

    pub fn table(&self) -> &RoutingTable {
        &self.inner.shared.table
    }

    pub fn policy(&self) -> &Policy {
        &self.inner.shared.policy
    }

    /// Time since the router was built: the clock of its events.
    pub fn elapsed(&self) -> Duration {
        self.inner.shared.since_epoch(Instant::now())
    }

    fn core(&self) -> MutexGuard<'_, Core> {
        // A panic while holding the lock cannot leave the core inconsistent in a way that
        // matters more than refusing all further traffic would.
        self.inner.core.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Emits and clears the events a locked step collected: usually none, a case kept inline.
    #[inline]
    fn emit_all(&self, events: &mut Vec<RouterEvent<'static>>) {
        if events.is_empty() {
            return;
        }
        for e in events.drain(..) {
            self.inner.sink.emit(&e);
        }
    }

    /// Delivers one verification code, failing over as the policy says.
    pub async fn verify(&self, req: VerificationRequest) -> VerificationOutcome {
        let sh = &self.inner.shared;
        // The clock is read once per wake-up: everything done before the next await happens
        // at that moment.
        let mut at = sh.moment(Instant::now());
        let start = at;
        let use_case_index = sh.use_case_index(req.use_case.as_deref());
        let plan = sh.plan(req.country, use_case_index);
        let deadline = start.now + plan.deadline;
        // The deadline as an offset from the epoch, for the same reason as `AttemptMeta::started`.
        let deadline_since = start.since + plan.deadline;
        let key = RequestKey {
            destination: req.destination.masked(),
            country: req.country,
            number_type: req.number_type,
            use_case: use_case_index,
        };
        let mut tried: InlineVec<RouteId, 4> =
            InlineVec::with_capacity(RouteId(0), plan.max_attempts as usize);
        let mut candidates = Candidates::empty();
        let mut events: Vec<RouterEvent<'static>> = Vec::new();
        let mut in_flight: Vec<InFlight> = Vec::new();
        let mut cost = 0.0;
        let mut number = 0u32;
        let mut current: Option<AttemptId> = None;
        // Why no further attempt is launched, once that is decided.
        let mut stopped: Option<VerificationStatus> = None;
        // The delivering route and the delivery's offset from the epoch.
        let mut delivered: Option<(RouteId, Duration)> = None;
        // Armed at the current attempt's timeout (never later than the deadline) or, with no
        // attempt pending, at the deadline.
        let timer = sleep_until(deadline);
        tokio::pin!(timer);
        let mut attempt_deadline = deadline;

        self.core().deposit(start.since);
        let status = loop {
            if current.is_none() && stopped.is_none() {
                let now = at.now;
                if now >= deadline {
                    break VerificationStatus::DeadlineExceeded;
                }
                if number >= plan.max_attempts {
                    stopped = Some(VerificationStatus::AttemptsExhausted);
                } else {
                    let (out, attempt_id) = {
                        let mut core = self.core();
                        let out = core.decide(
                            sh,
                            &key,
                            plan,
                            number + 1,
                            &tried,
                            at,
                            // What is left of the verification: no attempt may be given longer.
                            deadline_since.saturating_sub(at.since),
                            &mut candidates,
                            &mut events,
                        );
                        let id = out.chosen.map(|_| core.next_attempt_id());
                        (out, id)
                    };
                    self.emit_all(&mut events);
                    self.inner.sink.emit(&RouterEvent::Decision(Decision {
                        at: at.since,
                        verification: req.id,
                        attempt: number + 1,
                        country: req.country,
                        number_type: req.number_type,
                        use_case: req.use_case.as_deref(),
                        destination: key.destination,
                        strategy: plan.strategy,
                        candidates: &candidates,
                        chosen: out.chosen,
                        reason: out.reason,
                        probability: out.probability,
                    }));
                    match (out.chosen, attempt_id) {
                        (Some(route), Some(id)) => {
                            number += 1;
                            tried.push(route);
                            let r = sh.table.route(route);
                            let fut = self.inner.adapters[r.provider.index()].send(Attempt {
                                id,
                                verification: req.id,
                                number,
                                route,
                                country: req.country,
                                number_type: req.number_type,
                                destination: req.destination.clone(),
                                timeout: out.timeout,
                            });
                            in_flight.push(InFlight {
                                meta: AttemptMeta {
                                    id,
                                    verification: req.id,
                                    number,
                                    route,
                                    started: at.since,
                                    probe: out.probe,
                                    timed_out: false,
                                },
                                fut,
                            });
                            attempt_deadline = (now + out.timeout).min(deadline);
                            timer.as_mut().reset(attempt_deadline);
                            current = Some(id);
                        }
                        _ => {
                            stopped = Some(match out.reason {
                                DecisionReason::RetryBudgetExhausted => {
                                    VerificationStatus::RetryBudgetExhausted
                                }
                                _ if number > 0 => VerificationStatus::AttemptsExhausted,
                                _ => VerificationStatus::NoRoute,
                            });
                        }
                    }
                }
            }
            if current.is_none() && in_flight.iter().all(|f| f.meta.timed_out) && stopped.is_some()
            {
                // Nothing left to launch; only timed-out stragglers can still deliver.
                if in_flight.is_empty() {
                    break stopped.unwrap_or(VerificationStatus::AttemptsExhausted);
                }
            }
            if current.is_none() && timer.deadline() != deadline {
                timer.as_mut().reset(deadline);
            }
            let wake = next_wake(&mut in_flight, timer.as_mut()).await;
            at = sh.moment(Instant::now());
            match wake {
                Wake::Done(i, outcome) => {
                    let f = in_flight.remove(i).meta;
                    let latency = at.since.saturating_sub(f.started);
                    if current == Some(f.id) {
                        current = None;
                    }
                    if f.timed_out {
                        if outcome == AttemptOutcome::Delivered {
                            self.core().record_late(f.route, latency, at);
                            self.inner
                                .sink
                                .emit(&RouterEvent::LateDelivery(LateDelivery {
                                    at: at.since,
                                    verification: req.id,
                                    attempt: f.id,
                                    route: f.route,
                                    latency,
                                    duplicate: false,
                                }));
                            delivered = Some((f.route, at.since));
                            break VerificationStatus::Delivered;
                        }
                        continue;
                    }
                    let billed = match outcome {
                        AttemptOutcome::Delivered => true,
                        AttemptOutcome::Failed(k) => k.is_billable(),
                    };
                    let c = if billed {
                        sh.table.route(f.route).cost
                    } else {
                        0.0
                    };
                    cost += c;
                    self.finish_attempt(&f, outcome, latency, c, at, &mut events);
                    match outcome {
                        AttemptOutcome::Delivered => {
                            delivered = Some((f.route, at.since));
                            break VerificationStatus::Delivered;
                        }
                        AttemptOutcome::Failed(FailureKind::InvalidDestination) => {
                            break VerificationStatus::InvalidDestination;
                        }
                        AttemptOutcome::Failed(_) => {}
                    }
                }
                Wake::Timer if current.is_some() && at.now >= attempt_deadline => {
                    if let Some(f) = in_flight.iter_mut().find(|f| Some(f.meta.id) == current) {
                        f.meta.timed_out = true;
                        let meta = f.meta;
                        let c = sh.table.route(meta.route).cost;
                        cost += c;
                        self.finish_attempt(
                            &meta,
                            AttemptOutcome::Failed(FailureKind::Timeout),
                            at.since.saturating_sub(meta.started),
                            c,
                            at,
                            &mut events,
                        );
                    }
                    current = None;
                }
                Wake::Timer => {
                    break stopped
                        .filter(|s| *s != VerificationStatus::AttemptsExhausted)
                        .unwrap_or(VerificationStatus::DeadlineExceeded);
                }
            }
        };

        let receipt = delivered.map(|(route, _)| DeliveryReceipt {
            verification: req.id,
            route,
        });
        let time_to_verify = delivered.map(|(_, t)| t.saturating_sub(start.since));
        self.inner.sink.emit(&RouterEvent::Finished(Finished {
            at: at.since,
            started: start.since,
            verification: req.id,
            destination: key.destination,
            country: req.country,
            number_type: req.number_type,
            status,
            attempts: number,
            cost,
            time_to_verify,
            delivered_by: receipt.map(|r| r.route),
        }));
        if !in_flight.is_empty() {
            self.watch_stragglers(req.id, in_flight, delivered.is_some(), at.now);
        }
        VerificationOutcome {
            id: req.id,
            status,
            attempts: number,
            cost,
            time_to_verify,
            receipt,
        }
    }

    /// Attempts still pending after their verification ended: watched in the background for
    /// late (and duplicate) deliveries, until `late_delivery_grace`.
    fn watch_stragglers(
        &self,
        verification: VerificationId,
        mut in_flight: Vec<InFlight>,
        mut had_delivery: bool,
        now: Instant,
    ) {
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let router = self.clone();
        let until = now + self.inner.shared.policy.late_delivery_grace;
        handle.spawn(async move {
            let sh = &router.inner.shared;
            let grace = sleep_until(until);
            tokio::pin!(grace);
            let mut events = Vec::new();
            while !in_flight.is_empty() {
                match next_wake(&mut in_flight, grace.as_mut()).await {
                    Wake::Done(i, outcome) => {
                        let f = in_flight.remove(i).meta;
                        let at = sh.moment(Instant::now());
                        let latency = at.since.saturating_sub(f.started);
                        if !f.timed_out {
                            // Abandoned when its verification ended: its outcome still counts.
                            let billed = match outcome {
                                AttemptOutcome::Delivered => true,
                                AttemptOutcome::Failed(k) => k.is_billable(),
                            };
                            let c = if billed {
                                sh.table.route(f.route).cost
                            } else {
                                0.0
                            };
                            router.finish_attempt(&f, outcome, latency, c, at, &mut events);
                        } else if outcome == AttemptOutcome::Delivered {
                            router.core().record_late(f.route, latency, at);
                        }
                        if outcome == AttemptOutcome::Delivered {
                            router
                                .inner
                                .sink
                                .emit(&RouterEvent::LateDelivery(LateDelivery {
                                    at: at.since,
                                    verification,
                                    attempt: f.id,
                                    route: f.route,
                                    latency,
                                    duplicate: had_delivery,
                                }));
                            had_delivery = true;
                        }
                    }
                    Wake::Timer => break,
                }
            }
        });
    }

    fn finish_attempt(
        &self,
        f: &AttemptMeta,
        outcome: AttemptOutcome,
        latency: Duration,
        cost: f64,
        at: Moment,
        events: &mut Vec<RouterEvent<'static>>,
    ) {
        let sh = &self.inner.shared;
        self.core()
            .record(sh, f.route, outcome, latency, f.probe, at, events);
        self.inner.sink.emit(&RouterEvent::Attempt(AttemptFinished {
            at: at.since,
            verification: f.verification,
            attempt: f.id,
            number: f.number,
            route: f.route,
            outcome,
            latency,
            cost,
            probe: f.probe,
        }));
        self.emit_all(events);
    }

    /// The decision `verify` would make for a first attempt of `req` right now, without sending
    /// anything: for admin tools ("where would DE/mobile go?") and for measuring decision cost.
    /// It is a real decision: it draws from the random generator, spends probe credit and
    /// exploration budget, and is logged as a decision event with `attempt: 0`.
    pub fn dry_run(&self, req: &VerificationRequest) -> DryRun {
        let sh = &self.inner.shared;
        let at = sh.moment(Instant::now());
        let use_case = sh.use_case_index(req.use_case.as_deref());
        let plan = sh.plan(req.country, use_case);
        let key = RequestKey {
            destination: req.destination.masked(),
            country: req.country,
            number_type: req.number_type,
            use_case,
        };
        let mut candidates = Candidates::empty();
        let mut events = Vec::new();
        let out = self.core().decide(
            sh,
            &key,
            plan,
            1,
            &[],
            at,
            // A first attempt has the whole deadline before it.
            plan.deadline,
            &mut candidates,
            &mut events,
        );
        self.emit_all(&mut events);
        self.inner.sink.emit(&RouterEvent::Decision(Decision {
            at: at.since,
            verification: req.id,
            attempt: 0,
            country: req.country,
            number_type: req.number_type,
            use_case: req.use_case.as_deref(),
            destination: key.destination,
            strategy: plan.strategy,
            candidates: &candidates,
            chosen: out.chosen,
            reason: out.reason,
            probability: out.probability,
        }));
        DryRun {
            chosen: out.chosen,
            reason: out.reason,
            probability: out.probability,
            timeout: out.timeout,
        }
    }

    /// The user entered the code delivered under `receipt`: a (slow, noisy) signal that the
    /// route really works, usable as a health signal with `trip.min_relative_conversion`.
    pub fn record_conversion(&self, receipt: &DeliveryReceipt) {
        let sh = &self.inner.shared;
        let at = sh.moment(Instant::now());
        let mut events = Vec::new();
        self.core()
            .record_conversion(sh, receipt.route, at, &mut events);
        self.inner.sink.emit(&RouterEvent::Conversion(Conversion {
            at: at.since,
            verification: receipt.verification,
            route: receipt.route,
        }));
        self.emit_all(&mut events);
    }

    /// Operator override of a route's automatic state.
    pub fn set_override(&self, route: RouteId, value: Override) {
        let mut events = Vec::new();
        self.core().set_override(
            &self.inner.shared,
            route,
            value,
            Instant::now(),
            &mut events,
        );
        self.emit_all(&mut events);
    }

    pub fn route_status(&self, route: RouteId) -> RouteStatus {
        let sh = &self.inner.shared;
        let mut core = self.core();
        let now = Instant::now();
        let rt = &mut core.routes[route.index()];
        rt.window.advance(sh.since_epoch(now));
        RouteStatus {
            state: rt.effective(),
            evaluated: rt.state,
            override_: rt.override_,
            window: rt
                .window
                .snapshot(rt.consecutive, sh.policy.health.latency_quantile),
            backoff_multiplier: rt.multiplier,
        }
    }

    /// Whether the (country, number type) was in panic mode at its last decision.
    pub fn in_panic(&self, country: Country, number_type: NumberType) -> bool {
        match self.inner.shared.table.group(country, number_type) {
            Some(g) => self.core().groups[g.0 as usize].panic,
            None => false,
        }
    }
}
