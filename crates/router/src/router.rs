//! `Router`: the embedder-facing handle and the per-verification driver.
//!
//! One `verify` call drives one verification: decide, send through the adapter, wait for the
//! outcome or the attempt timeout, learn, and fail over, until a delivery, the attempt limit, or
//! the deadline. A timed-out attempt is not cancelled: its delivery receipt may still arrive, and
//! if it arrives before the deadline the verification succeeds with it (the user has the code,
//! whichever message brought it). Attempts still pending when the verification ends are watched
//! for `late_delivery_grace` by a background task so that late and duplicate deliveries (paid
//! for, and annoying for the user) are reported rather than silently lost.

use std::collections::BTreeMap;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::Poll;
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::time::{Instant, Sleep, sleep_until};

use crate::adapter::{
    Attempt, AttemptFuture, AttemptId, AttemptOutcome, Destination, FailureKind, ProviderAdapter,
    VerificationId,
};
use crate::core::{
    Candidates, Core, DecisionOut, Locked, Moment, RequestKey, ResolvedRule, Shared,
};
use crate::event::{
    AbandonReason, Abandoned, AttemptFinished, Candidate, Conversion, Decision, DecisionReason,
    EventSink, Finished, LateDelivery, NoopSink, Override, RouteState, RouterEvent, Started,
    VerificationStatus,
};
use crate::health::{QuantileThreshold, WindowSnapshot};
use crate::inline::InlineVec;
use crate::limits::Limits;
use crate::operator::{OverrideInfo, OverrideRequest, ShiftError, TrafficShift};
use crate::policy::{Plan, Policy, PolicyError};
use crate::route::{Country, NumberType, RouteId, RoutingTable};
use crate::state::Judged;
#[cfg(feature = "metrics")]
use crate::telemetry::{DecisionTimer, RouterMetrics};
use crate::warm::{Offered, RouterState, StateError, WarmStart};

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
    /// When the code was delivered (offset from the router's epoch, like events' `at`): the
    /// conversion is counted with the delivery it converts.
    pub delivered_at: Duration,
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

/// What [`Router::explain`] found: the decision a first attempt would get now, and the
/// candidates as the decision saw them.
#[derive(Clone, Debug, PartialEq)]
pub struct Explanation {
    pub chosen: Option<RouteId>,
    pub reason: DecisionReason,
    pub probability: Option<f64>,
    /// The chosen route's attempt timeout.
    pub timeout: Duration,
    /// How long the verification would wait on it before trying elsewhere.
    pub wait: Duration,
    pub candidates: Vec<Candidate>,
    /// The group is in panic mode.
    pub panic: bool,
}

/// A route's current standing, for dashboards, admin endpoints and tests: as of the moment it
/// is asked, with lazy transitions applied (an ejection whose time is up reads as probing even
/// if no decision has looked at the route since) but without changing anything.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct RouteStatus {
    /// The state selection acts on.
    pub state: RouteState,
    /// The state machine's own verdict (differs from `state` under an override).
    pub evaluated: RouteState,
    #[serde(rename = "override")]
    pub override_: Override,
    /// Who set the override, why and until when (`None` without an override).
    pub operator: Option<OverrideInfo>,
    /// Windowed counts and rates, and the latency quantile.
    pub window: WindowSnapshot,
    pub backoff_multiplier: f64,
    /// Attempts sent and not yet applied to its health (in flight, or waiting for attempts
    /// launched before them).
    pub pending_attempts: usize,
    pub probes_in_flight: u32,
    /// Time left in the current ejection (`None` unless ejected).
    #[serde(serialize_with = "crate::event::opt_secs")]
    pub ejection_remaining: Option<Duration>,
    /// The current probing period (zeros when the route is not probing).
    pub probe: ProbeStatus,
    /// The route's long-run delivery record (decayed: roughly its last 100 outcomes), the prior
    /// `score` and `thompson` lean on once it has history; `None` before any outcome.
    pub long_run_delivery_rate: Option<f64>,
    /// Removed by a reload (see [`crate::Route::retired`]).
    pub retired: bool,
    /// Attempts launched and not yet judged: what counts against the route's `limits` entry
    /// (and, summed over its routes, its provider's).
    pub in_flight: u32,
}

/// The outcomes of a route's current probing period.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct ProbeStatus {
    pub attempts: u32,
    pub successes: u32,
    pub failures: u32,
    /// Probe credit (a probe spends 1).
    pub credit: f64,
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
    #[error("{0}")]
    State(#[from] StateError),
    #[error(
        "the epoch is {0:?} after the build: give RouterBuilder::epoch an instant already passed (the replaced router's epoch)"
    )]
    EpochInFuture(Duration),
    #[error(
        "{field}: unknown provider {name:?}; limits must name providers of the routing table (or routes written provider/CC/number_type)"
    )]
    UnknownLimitProvider { field: String, name: String },
    #[error(
        "{field}: the routing table has no route {name:?}; name a route of the table as provider/CC/number_type, or limit the whole provider"
    )]
    UnknownLimitRoute { field: String, name: String },
}

/// Builds a [`Router`]: table and policy, one adapter per provider, an event sink, a seed.
pub struct RouterBuilder {
    table: RoutingTable,
    policy: Policy,
    adapters: Vec<Option<Arc<dyn ProviderAdapter>>>,
    unknown_adapter: Option<String>,
    sink: Arc<dyn EventSink>,
    seed: u64,
    #[cfg(feature = "metrics")]
    metrics: bool,
    /// A state to restore (`warm.rs`).
    pub(crate) warm: Option<Offered>,
    pub(crate) epoch: Option<Instant>,
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

    /// Whether this router records its metrics (feature `metrics`; default: yes) into the
    /// `metrics` recorder in force when [`RouterBuilder::build`] runs. Off for a router whose
    /// figures must not reach the service's dashboards: a simulation in virtual time, a
    /// shadow router evaluating another policy (its series would add to the live router's).
    /// Off, the router reads no wall clock and registers nothing.
    #[cfg(feature = "metrics")]
    pub fn metrics(mut self, enabled: bool) -> Self {
        self.metrics = enabled;
        self
    }

    pub fn build(self) -> Result<Router, BuildError> {
        self.policy.validate()?;
        if let Some(name) = self.unknown_adapter {
            return Err(BuildError::UnknownAdapter(name));
        }
        let now = Instant::now();
        let epoch = self.epoch.unwrap_or(now);
        if epoch > now {
            return Err(BuildError::EpochInFuture(epoch - now));
        }
        // A router that restores a state or continues another's trail says so first.
        let announce = self.warm.is_some() || self.epoch.is_some();
        let shared = configure(self.table, self.policy, self.adapters, epoch, 0)?;
        let mut core = Core::new(&shared, self.seed);
        let restored = crate::warm::restore(&shared, &mut core, self.warm, now)?;
        // After the restore: the state gauges start from the restored states.
        #[cfg(feature = "metrics")]
        let metrics = self
            .metrics
            .then(|| RouterMetrics::new(&shared.table, |r| core.routes[r.index()].effective()));
        let shared = Arc::new(shared);
        let router = Router {
            inner: Arc::new(Inner {
                sink: self.sink,
                config: Mutex::new(Arc::clone(&shared)),
                locked: Mutex::new(Locked { shared, core }),
                reloading: Mutex::new(()),
                watchers: Mutex::new(Watchers::default()),
                #[cfg(feature = "metrics")]
                metrics,
                warm_start: restored.outcome,
            }),
        };
        if announce {
            router.emit(&RouterEvent::Started(Started {
                at: now.saturating_duration_since(epoch),
                warm_start: restored.outcome,
                routes: &restored.routes,
                panic: &restored.panic,
            }));
        }
        Ok(router)
    }
}

/// Validates `policy` against `table` and resolves everything a decision looks up: one
/// generation of the router's configuration. `adapters` is indexed by provider id.
pub(crate) fn configure(
    table: RoutingTable,
    policy: Policy,
    adapters: Vec<Option<Arc<dyn ProviderAdapter>>>,
    epoch: Instant,
    generation: u64,
) -> Result<Shared, BuildError> {
    policy.validate()?;
    for w in policy.warnings() {
        tracing::warn!(field = %w.field, "{}", w.message);
    }
    let mut resolved = Vec::with_capacity(adapters.len());
    for (i, a) in adapters.into_iter().enumerate() {
        let has_routes = table
            .routes()
            .iter()
            .any(|r| r.provider.index() == i && !r.retired);
        match a {
            Some(a) => resolved.push(a),
            None if has_routes => {
                return Err(BuildError::MissingAdapter(table.providers()[i].clone()));
            }
            None => resolved.push(Arc::new(Unrouted) as Arc<dyn ProviderAdapter>),
        }
    }
    let mut use_cases: Vec<String> = Vec::new();
    let mut override_countries: Vec<Country> = Vec::new();
    for o in &policy.overrides {
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
    for (i, rule) in policy.compliance.iter().enumerate() {
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
                    table.provider_id(n).map(|p| p.0).ok_or_else(|| {
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
    for (rule, r) in policy.compliance.iter().zip(compliance.iter_mut()) {
        r.use_case = rule
            .use_case
            .as_ref()
            .and_then(|u| use_cases.iter().position(|x| x == u));
    }
    let trip_latency = policy.trip.latency.map(QuantileThreshold::new);
    let limits = Limits::resolve(&policy, &table)?;
    let live = table.routes().iter().filter(|r| !r.retired);
    for w in policy.cost_cap_warnings(live.map(|r| (r.country, r.number_type, r.cost))) {
        tracing::warn!(field = %w.field, "{}", w.message);
    }
    let mut shared = Shared {
        generation,
        adapters: resolved,
        table,
        policy,
        epoch,
        use_cases,
        override_countries,
        plans: Vec::new(),
        compliance,
        trip_latency,
        limits,
    };
    shared.build_plans();
    Ok(shared)
}

/// Stands in for providers that have no routes (never called).
struct Unrouted;

impl ProviderAdapter for Unrouted {
    fn send(&self, _: Attempt) -> AttemptFuture {
        Box::pin(async { AttemptOutcome::Failed(FailureKind::Unavailable) })
    }
}

struct Inner {
    sink: Arc<dyn EventSink>,
    locked: Mutex<Locked>,
    /// The same configuration as `locked.shared` (replaced under that lock), for the reads
    /// that need no state: a verification's start, event clocks.
    config: Mutex<Arc<Shared>>,
    /// Held for the whole of a reload, so two reloads never merge against the same table.
    reloading: Mutex<()>,
    watchers: Mutex<Watchers>,
    /// The metrics' handles (`None`: [`RouterBuilder::metrics`] off). Beside the core, not in
    /// `Shared`: a route keeps its series whatever configuration it is served under.
    #[cfg(feature = "metrics")]
    metrics: Option<RouterMetrics>,
    warm_start: WarmStart,
}

/// The verifications whose pending attempts are being watched after they ended, oldest first,
/// each with the means to stop its watcher: bounded by `max_stragglers`.
#[derive(Default)]
struct Watchers {
    next: u64,
    live: BTreeMap<u64, oneshot::Sender<()>>,
}

/// The failover router. Cheap to clone (an `Arc`), `Send + Sync`, callable from many tasks at
/// once; its lock is never held across an await.
#[derive(Clone)]
pub struct Router {
    inner: Arc<Inner>,
}

/// A route id that is not in the routing table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("route {route} is not in the routing table (it has {routes} routes)")]
pub struct UnknownRoute {
    pub route: u32,
    pub routes: usize,
}

/// An attempt whose outcome is not known yet.
struct InFlight {
    meta: AttemptMeta,
    fut: AttemptFuture,
}

/// Kept small (times as nanoseconds since the epoch): a verification's attempts live in one
/// allocation whose size class the allocator is sensitive to.
#[derive(Clone, Copy)]
struct AttemptMeta {
    id: AttemptId,
    number: u32,
    route: RouteId,
    /// Its place in the route's launch order (outcomes are applied to health in that order).
    seq: u64,
    /// Launch time, nanoseconds since the epoch: latencies are then an integer subtraction,
    /// cheaper than one of instants and exactly the same.
    started: u64,
    /// When it is judged a timeout (nanoseconds since the epoch): its own attempt timeout,
    /// never shortened (a verification that stops waiting sooner, for its deadline or a probe,
    /// does not blame the route).
    judge_at: u64,
    probe: bool,
    /// Judged already (as a timeout): a delivery now is late.
    judged: bool,
    /// The adapter's `send` panicked: its future is an immediate failure.
    send_panicked: bool,
}

enum Wake {
    /// Attempt `i` resolved; `true` if the adapter panicked instead.
    Done(usize, AttemptOutcome, bool),
    Timer,
    /// The watcher was evicted (too many stragglers).
    Evicted,
}

/// Polls every in-flight attempt, then the one timer: a fixed order, so the same world gives
/// the same result (no random `select!`). One timer per verification, armed at the earliest of
/// what it waits for, `wake_at` (timers are a large share of a simulated verification's cost).
/// The timer is made and armed only when no attempt is ready: an adapter that answers at once
/// (an in-process one, a cache) costs no timer at all. Arming one takes a lock of tokio's timer
/// wheel, and dropping an armed one takes it again, which two workers of a multi-thread runtime
/// contend for. A panic while polling an adapter's future is that attempt's failure, not the
/// caller's.
#[inline]
fn poll_wake(
    cx: &mut std::task::Context<'_>,
    in_flight: &mut [InFlight],
    mut timer: Pin<&mut Option<Sleep>>,
    wake_at: Instant,
) -> Poll<Wake> {
    for (i, f) in in_flight.iter_mut().enumerate() {
        match catch_unwind(AssertUnwindSafe(|| f.fut.as_mut().poll(cx))) {
            Ok(Poll::Ready(o)) => return Poll::Ready(Wake::Done(i, o, false)),
            Ok(Poll::Pending) => {}
            Err(_) => {
                let o = AttemptOutcome::Failed(FailureKind::Unavailable);
                return Poll::Ready(Wake::Done(i, o, true));
            }
        }
    }
    match timer.as_mut().as_pin_mut() {
        None => timer.set(Some(sleep_until(wake_at))),
        Some(t) if t.deadline() != wake_at => t.reset(wake_at),
        Some(_) => {}
    }
    if let Some(t) = timer.as_pin_mut()
        && t.poll(cx).is_ready()
    {
        return Poll::Ready(Wake::Timer);
    }
    Poll::Pending
}

async fn next_wake(
    in_flight: &mut [InFlight],
    mut timer: Pin<&mut Option<Sleep>>,
    wake_at: Instant,
) -> Wake {
    std::future::poll_fn(|cx| poll_wake(cx, in_flight, timer.as_mut(), wake_at)).await
}

/// A future that has already failed: what an adapter whose `send` panicked returns.
fn failed_now() -> AttemptFuture {
    Box::pin(std::future::ready(AttemptOutcome::Failed(
        FailureKind::Unavailable,
    )))
}

/// Nanoseconds of an offset from the epoch (500 years fit in a `u64`).
#[inline]
fn nanos(d: Duration) -> u64 {
    d.as_nanos() as u64
}

/// The latency of an attempt started at `started` (nanoseconds since the epoch), at `at`.
#[inline]
fn latency_at(at: Moment, started: u64) -> Duration {
    Duration::from_nanos(nanos(at.since).saturating_sub(started))
}

fn billed(outcome: AttemptOutcome) -> bool {
    match outcome {
        AttemptOutcome::Delivered => true,
        AttemptOutcome::Failed(k) => k.is_billable(),
    }
}

/// One verification in progress. It owns everything `verify` must not lose if its future is
/// dropped: on drop before the end, the verification is audited as abandoned by the caller
/// and its pending attempts are handed to a watcher, which still judges them.
struct Verification<'r> {
    router: &'r Router,
    /// The configuration of the verification's latest decision: route ids only grow across
    /// reloads, so every attempt it launched is in this table.
    sh: Arc<Shared>,
    id: VerificationId,
    key: RequestKey,
    started: Duration,
    in_flight: Vec<InFlight>,
    attempts: u32,
    cost: f64,
    delivered: bool,
    /// Set when `verify` finished normally.
    done: bool,
}

impl Drop for Verification<'_> {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let router = self.router;
        let at = self.sh.moment(Instant::now());
        router.emit(&RouterEvent::Finished(Finished {
            at: at.since,
            started: self.started,
            verification: self.id,
            destination: self.key.destination,
            country: self.key.country,
            number_type: self.key.number_type,
            status: VerificationStatus::Abandoned,
            attempts: self.attempts,
            cost: self.cost,
            time_to_verify: None,
            delivered_by: None,
        }));
        let in_flight = std::mem::take(&mut self.in_flight);
        if !in_flight.is_empty() {
            let sh = Arc::clone(&self.sh);
            router.watch_stragglers(sh, self.id, in_flight, self.delivered, at.now);
        }
    }
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
            #[cfg(feature = "metrics")]
            metrics: true,
            warm: None,
            epoch: None,
        }
    }

    /// A copy of the routing table in force (after a reload: the merged table, whose ids are
    /// the router's route ids for its whole life, retired routes included).
    pub fn table(&self) -> RoutingTable {
        self.core().shared.table.clone()
    }

    /// A copy of the policy in force.
    pub fn policy(&self) -> Policy {
        self.core().shared.policy.clone()
    }

    /// Time since the router was built: the clock of its events.
    pub fn elapsed(&self) -> Duration {
        self.shared().since_epoch(Instant::now())
    }

    /// The configuration in force, without waiting for the core's lock.
    pub(crate) fn shared(&self) -> Arc<Shared> {
        Arc::clone(&self.inner.config.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Serializes reloads (held for the whole of one, never by the request path).
    pub(crate) fn reload_lock(&self) -> MutexGuard<'_, ()> {
        self.inner
            .reloading
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// Swaps the configuration: called with the core's lock held (`l`), so that the core and
    /// the configuration change together.
    pub(crate) fn install(&self, l: &mut Locked, next: Arc<Shared>) {
        *self.inner.config.lock().unwrap_or_else(|e| e.into_inner()) = Arc::clone(&next);
        l.shared = next;
    }

    pub(crate) fn core(&self) -> MutexGuard<'_, Locked> {
        // A panic while holding the lock cannot leave the core inconsistent in a way that
        // matters more than refusing all further traffic would.
        self.inner.locked.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn check_route(sh: &Shared, route: RouteId) -> Result<(), UnknownRoute> {
        let routes = sh.table.routes().len();
        if route.index() < routes {
            Ok(())
        } else {
            Err(UnknownRoute {
                route: route.0,
                routes,
            })
        }
    }

    /// The metrics' handles, unless built with `metrics(false)`.
    #[cfg(feature = "metrics")]
    pub(crate) fn metrics(&self) -> Option<&RouterMetrics> {
        self.inner.metrics.as_ref()
    }

    /// Times a decision for the metrics, lock wait included (what the request waits).
    #[cfg(feature = "metrics")]
    #[inline]
    fn decision_timer(&self) -> DecisionTimer<'_> {
        match &self.inner.metrics {
            Some(m) => m.time_decision(),
            None => DecisionTimer::off(),
        }
    }

    /// Hands one event to the sink. A panicking sink loses that event, never the routing.
    #[inline]
    pub(crate) fn emit(&self, event: &RouterEvent<'_>) {
        // Before the sink: a panicking sink must not cost the metrics their event.
        #[cfg(feature = "metrics")]
        if let Some(m) = &self.inner.metrics {
            m.observe(event);
        }
        let sink = &self.inner.sink;
        if catch_unwind(AssertUnwindSafe(|| sink.emit(event))).is_err() {
            tracing::error!("the event sink panicked; the event was dropped");
        }
    }

    /// Emits and clears the events a locked step collected: usually none, a case kept inline.
    #[inline]
    pub(crate) fn emit_all(&self, events: &mut Vec<RouterEvent<'static>>) {
        if events.is_empty() {
            return;
        }
        for e in events.drain(..) {
            self.emit(&e);
        }
    }

    /// Delivers one verification code, failing over as the policy says.
    ///
    /// Dropping the future before it completes (a caller's own timeout) is safe: the
    /// verification is audited as `abandoned` and its pending attempts are still judged.
    pub async fn verify(&self, req: VerificationRequest) -> VerificationOutcome {
        // Decisions are made under the configuration in the core's lock: if a reload comes
        // between this read and a decision, the decision notices (`generation`).
        let sh = self.shared();
        // The clock is read once per wake-up: everything done before the next await happens
        // at that moment.
        let mut at = sh.moment(Instant::now());
        let use_case_index = sh.use_case_index(req.use_case.as_deref());
        // A verification keeps the request-level plan it started with, across reloads.
        let plan = *sh.plan(req.country, use_case_index);
        let plan = &plan;
        // The deadline in nanoseconds since the epoch, like `AttemptMeta`'s times: the state a
        // verification keeps across awaits is sized with care (see `AttemptMeta`).
        let deadline_ns = nanos(at.since + plan.deadline);
        let mut v = Verification {
            router: self,
            sh,
            id: req.id,
            key: RequestKey {
                destination: req.destination.masked(),
                country: req.country,
                number_type: req.number_type,
                use_case: use_case_index,
                group: None,
            },
            started: at.since,
            in_flight: Vec::new(),
            attempts: 0,
            cost: 0.0,
            delivered: false,
            done: false,
        };
        let mut tried: InlineVec<RouteId, 4> =
            InlineVec::with_capacity(RouteId(0), plan.max_attempts as usize);
        let mut candidates = Candidates::empty();
        let mut events: Vec<RouterEvent<'static>> = Vec::new();
        // The attempt the verification is waiting on, and until when.
        // (nanoseconds since the epoch, like `AttemptMeta`'s times).
        let mut current: Option<(AttemptId, u64)> = None;

        // Why no further attempt is launched, once that is decided.
        let mut stopped: Option<VerificationStatus> = None;
        // The delivering route and the delivery's offset from the epoch.
        let mut delivered: Option<(RouteId, Duration)> = None;
        // Made at the first wait (see `poll_wake`).
        let timer: Option<Sleep> = None;
        tokio::pin!(timer);

        // The verification's retry-budget deposit is made under the first decision's lock (no
        // await comes between): one lock acquisition fewer per verification, which is what two
        // workers contend for.
        v.key.group = v.sh.table.group(req.country, req.number_type);
        let mut deposit = Some(v.key.group);
        let status = loop {
            if current.is_none() && stopped.is_none() {
                if nanos(at.since) >= deadline_ns || v.attempts >= plan.max_attempts {
                    // No decision to share the lock with.
                    if let Some(group) = deposit.take() {
                        self.core().core.deposit(group, at.since);
                    }
                }
                if nanos(at.since) >= deadline_ns {
                    break VerificationStatus::DeadlineExceeded;
                }
                if v.attempts >= plan.max_attempts {
                    stopped = Some(VerificationStatus::AttemptsExhausted);
                } else {
                    let number = v.attempts + 1;
                    #[cfg(feature = "metrics")]
                    let timer = self.decision_timer();
                    let (out, launched) = {
                        let mut guard = self.core();
                        let l = &mut *guard;
                        if l.shared.generation != v.sh.generation {
                            // A reload since the last decision: ids are stable, but the use
                            // case and group indexes are the new configuration's.
                            v.sh = Arc::clone(&l.shared);
                            v.key.use_case = v.sh.use_case_index(req.use_case.as_deref());
                            v.key.group = v.sh.table.group(req.country, req.number_type);
                        }
                        let core = &mut l.core;
                        if let Some(group) = deposit.take() {
                            core.deposit(group, at.since);
                        }
                        let out = core.decide(
                            &l.shared,
                            &v.key,
                            plan,
                            number,
                            &tried,
                            at,
                            // What is left of the verification: no attempt waits longer.
                            Duration::from_nanos(deadline_ns.saturating_sub(nanos(at.since))),
                            &mut candidates,
                            &mut events,
                        );
                        let launched = out.chosen.map(|r| {
                            (
                                core.next_attempt_id(),
                                core.launch(&l.shared, r, out.probe, at.now),
                            )
                        });
                        (out, launched)
                    };
                    #[cfg(feature = "metrics")]
                    timer.stop();
                    self.emit_all(&mut events);
                    self.emit(&RouterEvent::Decision(Decision {
                        at: at.since,
                        verification: req.id,
                        attempt: number,
                        country: req.country,
                        number_type: req.number_type,
                        use_case: req.use_case.as_deref(),
                        destination: v.key.destination,
                        strategy: plan.strategy,
                        candidates: &candidates,
                        chosen: out.chosen,
                        reason: out.reason,
                        probability: out.probability,
                    }));
                    match (out.chosen, launched) {
                        (Some(route), Some((id, seq))) => {
                            v.attempts = number;
                            tried.push(route);
                            let attempt = Attempt {
                                id,
                                verification: req.id,
                                number,
                                route,
                                country: req.country,
                                number_type: req.number_type,
                                destination: req.destination.clone(),
                                timeout: out.timeout,
                            };
                            let sh = &v.sh;
                            let adapter = &sh.adapters[sh.table.route(route).provider.index()];
                            // A panic in `send` is that attempt failing, like one in its future.
                            let sent = catch_unwind(AssertUnwindSafe(|| adapter.send(attempt)));
                            let send_panicked = sent.is_err();
                            let fut = sent.unwrap_or_else(|_| failed_now());
                            let started = nanos(at.since);
                            v.in_flight.push(InFlight {
                                meta: AttemptMeta {
                                    id,
                                    number,
                                    route,
                                    seq,
                                    started,
                                    judge_at: started + nanos(out.timeout),
                                    probe: out.probe,
                                    judged: false,
                                    send_panicked,
                                },
                                fut,
                            });
                            current = Some((id, started + nanos(out.wait)));
                        }
                        _ => {
                            stopped = Some(match out.reason {
                                DecisionReason::RetryBudgetExhausted => {
                                    VerificationStatus::RetryBudgetExhausted
                                }
                                DecisionReason::ProviderLimit => VerificationStatus::ProviderLimit,
                                DecisionReason::CostCap => VerificationStatus::CostCap,
                                _ if v.attempts > 0 => VerificationStatus::AttemptsExhausted,
                                _ => VerificationStatus::NoRoute,
                            });
                        }
                    }
                }
            }
            if current.is_none() && stopped.is_some() && v.in_flight.is_empty() {
                // Nothing left to launch and nothing that could still deliver.
                break stopped.unwrap_or(VerificationStatus::AttemptsExhausted);
            }
            // Wake at the earliest of: moving on from the current attempt, judging a pending
            // attempt, the deadline.
            let mut wake_ns = deadline_ns;
            if let Some((_, until)) = current {
                wake_ns = wake_ns.min(until);
            }
            for f in &v.in_flight {
                if !f.meta.judged {
                    wake_ns = wake_ns.min(f.meta.judge_at);
                }
            }
            let wake_at = v.sh.epoch + Duration::from_nanos(wake_ns);
            let wake = next_wake(&mut v.in_flight, timer.as_mut(), wake_at).await;
            at = v.sh.moment(Instant::now());
            match wake {
                Wake::Done(i, outcome, panicked) => {
                    let f = v.in_flight.remove(i).meta;
                    let panicked = panicked || f.send_panicked;
                    let latency = latency_at(at, f.started);
                    if current.is_some_and(|(id, _)| id == f.id) {
                        current = None;
                    }
                    if f.judged {
                        if outcome == AttemptOutcome::Delivered {
                            self.core().core.record_late(f.route, latency, at);
                            self.emit(&RouterEvent::LateDelivery(LateDelivery {
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
                    let c = if billed(outcome) {
                        v.sh.table.route(f.route).cost
                    } else {
                        0.0
                    };
                    v.cost += c;
                    self.finish_attempt(&f, req.id, outcome, latency, c, panicked, at, &mut events);
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
                Wake::Timer | Wake::Evicted => {
                    let now_ns = nanos(at.since);
                    for k in 0..v.in_flight.len() {
                        let meta = v.in_flight[k].meta;
                        if !meta.judged && meta.judge_at <= now_ns {
                            v.in_flight[k].meta.judged = true;
                            let c = v.sh.table.route(meta.route).cost;
                            v.cost += c;
                            let timeout = AttemptOutcome::Failed(FailureKind::Timeout);
                            let latency = latency_at(at, meta.started);
                            self.finish_attempt(
                                &meta,
                                req.id,
                                timeout,
                                latency,
                                c,
                                false,
                                at,
                                &mut events,
                            );
                        }
                    }
                    if current.is_some_and(|(_, until)| until <= now_ns) {
                        current = None;
                    }
                    if now_ns >= deadline_ns {
                        break stopped
                            .filter(|s| *s != VerificationStatus::AttemptsExhausted)
                            .unwrap_or(VerificationStatus::DeadlineExceeded);
                    }
                }
            }
        };

        v.done = true;
        v.delivered = delivered.is_some();
        let receipt = delivered.map(|(route, at)| DeliveryReceipt {
            verification: req.id,
            route,
            delivered_at: at,
        });
        let time_to_verify = delivered.map(|(_, t)| t.saturating_sub(v.started));
        self.emit(&RouterEvent::Finished(Finished {
            at: at.since,
            started: v.started,
            verification: req.id,
            destination: v.key.destination,
            country: req.country,
            number_type: req.number_type,
            status,
            attempts: v.attempts,
            cost: v.cost,
            time_to_verify,
            delivered_by: receipt.map(|r| r.route),
        }));
        let in_flight = std::mem::take(&mut v.in_flight);
        if !in_flight.is_empty() {
            let sh = Arc::clone(&v.sh);
            self.watch_stragglers(sh, req.id, in_flight, delivered.is_some(), at.now);
        }
        VerificationOutcome {
            id: req.id,
            status,
            attempts: v.attempts,
            cost: v.cost,
            time_to_verify,
            receipt,
        }
    }

    /// Attempts still pending after their verification ended (or was dropped): watched in the
    /// background until each is judged (at its own attempt timeout at the latest) and then,
    /// for late (and duplicate) deliveries, until `late_delivery_grace`. At most
    /// `max_stragglers` verifications are watched at once; past that the oldest watcher stops.
    fn watch_stragglers(
        &self,
        sh: Arc<Shared>,
        verification: VerificationId,
        mut in_flight: Vec<InFlight>,
        mut had_delivery: bool,
        now: Instant,
    ) {
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            let at = sh.moment(now);
            self.abandon(verification, &mut in_flight, AbandonReason::NoRuntime, at);
            return;
        };
        let (stop, stopped) = oneshot::channel();
        let (slot, evicted) = {
            let mut w = self
                .inner
                .watchers
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            let evicted = if w.live.len() >= sh.policy.max_stragglers {
                w.live.pop_first().map(|(_, tx)| tx)
            } else {
                None
            };
            let slot = w.next;
            w.next += 1;
            w.live.insert(slot, stop);
            (slot, evicted)
        };
        if let Some(tx) = evicted {
            // The evicted watcher wakes, abandons its attempts and ends.
            let _ = tx.send(());
        }
        let router = self.clone();
        let grace_end = now + sh.policy.late_delivery_grace;
        handle.spawn(async move {
            let sh = &sh;
            let mut stopped = stopped;
            let timer: Option<Sleep> = None;
            tokio::pin!(timer);
            let mut events = Vec::new();
            while !in_flight.is_empty() {
                let judge_next = in_flight
                    .iter()
                    .filter(|f| !f.meta.judged)
                    .map(|f| f.meta.judge_at)
                    .min();
                // Every attempt is judged before the watch may end.
                let wake_at =
                    judge_next.map_or(grace_end, |ns| sh.epoch + Duration::from_nanos(ns));
                let wake = std::future::poll_fn(|cx| {
                    if Pin::new(&mut stopped).poll(cx).is_ready() {
                        return Poll::Ready(Wake::Evicted);
                    }
                    poll_wake(cx, &mut in_flight, timer.as_mut(), wake_at)
                })
                .await;
                let at = sh.moment(Instant::now());
                match wake {
                    Wake::Done(i, outcome, panicked) => {
                        let f = in_flight.remove(i).meta;
                        let panicked = panicked || f.send_panicked;
                        let latency = latency_at(at, f.started);
                        if !f.judged {
                            // Still unjudged when its verification ended: its outcome counts.
                            let c = if billed(outcome) {
                                sh.table.route(f.route).cost
                            } else {
                                0.0
                            };
                            router.finish_attempt(
                                &f,
                                verification,
                                outcome,
                                latency,
                                c,
                                panicked,
                                at,
                                &mut events,
                            );
                        } else if outcome == AttemptOutcome::Delivered {
                            router.core().core.record_late(f.route, latency, at);
                        }
                        if outcome == AttemptOutcome::Delivered {
                            router.emit(&RouterEvent::LateDelivery(LateDelivery {
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
                    Wake::Timer => {
                        let now_ns = nanos(at.since);
                        for f in in_flight.iter_mut() {
                            if !f.meta.judged && f.meta.judge_at <= now_ns {
                                f.meta.judged = true;
                                let meta = f.meta;
                                let c = sh.table.route(meta.route).cost;
                                let timeout = AttemptOutcome::Failed(FailureKind::Timeout);
                                let latency = latency_at(at, meta.started);
                                router.finish_attempt(
                                    &meta,
                                    verification,
                                    timeout,
                                    latency,
                                    c,
                                    false,
                                    at,
                                    &mut events,
                                );
                            }
                        }
                        if at.now >= grace_end && in_flight.iter().all(|f| f.meta.judged) {
                            router.abandon(
                                verification,
                                &mut in_flight,
                                AbandonReason::GraceExpired,
                                at,
                            );
                        }
                    }
                    Wake::Evicted => {
                        router.abandon(
                            verification,
                            &mut in_flight,
                            AbandonReason::WatcherCapacity,
                            at,
                        );
                    }
                }
            }
            let mut w = router
                .inner
                .watchers
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            w.live.remove(&slot);
        });
    }

    /// Stops watching `in_flight`: each attempt is audited as abandoned; one not yet judged is
    /// no evidence either way (its place in the route's launch order is released).
    fn abandon(
        &self,
        verification: VerificationId,
        in_flight: &mut Vec<InFlight>,
        reason: AbandonReason,
        at: Moment,
    ) {
        let mut events = Vec::new();
        for f in in_flight.drain(..) {
            let m = f.meta;
            if !m.judged {
                let mut guard = self.core();
                let l = &mut *guard;
                l.core
                    .resolve_unjudged(&l.shared, m.route, m.seq, m.probe, at, &mut events);
            }
            self.emit(&RouterEvent::Abandoned(Abandoned {
                at: at.since,
                verification,
                attempt: m.id,
                route: m.route,
                reason,
            }));
            self.emit_all(&mut events);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn finish_attempt(
        &self,
        f: &AttemptMeta,
        verification: VerificationId,
        outcome: AttemptOutcome,
        latency: Duration,
        cost: f64,
        adapter_panic: bool,
        at: Moment,
        events: &mut Vec<RouterEvent<'static>>,
    ) {
        let judged = Judged::Outcome {
            outcome,
            latency,
            probe: f.probe,
        };
        {
            let mut guard = self.core();
            let l = &mut *guard;
            l.core
                .resolve(&l.shared, f.route, f.seq, judged, at, events);
        }
        self.emit(&RouterEvent::Attempt(AttemptFinished {
            at: at.since,
            verification,
            attempt: f.id,
            number: f.number,
            route: f.route,
            outcome,
            latency,
            cost,
            probe: f.probe,
            adapter_panic,
        }));
        self.emit_all(events);
    }

    /// The decision `verify` would make for a first attempt of `req` right now, made for real
    /// without sending anything: it draws from the random generator, spends probe credit and
    /// exploration budget, and is logged as a decision event with `attempt: 0`. For measuring
    /// decision cost; an admin tool asking "where would DE/mobile go?" wants [`Router::explain`],
    /// which changes nothing.
    pub fn dry_run(&self, req: &VerificationRequest) -> DryRun {
        #[cfg(feature = "metrics")]
        let timer = self.decision_timer();
        let (key, plan, out, candidates, mut events, at) = {
            let mut guard = self.core();
            let l = &mut *guard;
            let at = l.shared.moment(Instant::now());
            let (key, plan) = Self::request_key(&l.shared, req);
            let (out, candidates, events) =
                Self::first_decision(&l.shared, &mut l.core, &key, &plan, at);
            (key, plan, out, candidates, events, at)
        };
        #[cfg(feature = "metrics")]
        timer.stop();
        self.emit_all(&mut events);
        self.emit(&RouterEvent::Decision(Decision {
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

    /// The decision for a first attempt of `key` at `at` on `core` (the router's, or a copy).
    fn first_decision(
        sh: &Shared,
        core: &mut Core,
        key: &RequestKey,
        plan: &Plan,
        at: Moment,
    ) -> (DecisionOut, Candidates, Vec<RouterEvent<'static>>) {
        let mut candidates = Candidates::empty();
        let mut events = Vec::new();
        let out = core.decide(
            sh,
            key,
            plan,
            1,
            &[],
            at,
            // A first attempt has the whole deadline before it.
            plan.deadline,
            &mut candidates,
            &mut events,
        );
        (out, candidates, events)
    }

    fn request_key(sh: &Shared, req: &VerificationRequest) -> (RequestKey, Plan) {
        let use_case = sh.use_case_index(req.use_case.as_deref());
        let key = RequestKey {
            destination: req.destination.masked(),
            country: req.country,
            number_type: req.number_type,
            use_case,
            group: sh.table.group(req.country, req.number_type),
        };
        (key, *sh.plan(req.country, use_case))
    }

    /// Where a first attempt of `req` would go right now, and why, without changing anything:
    /// the decision is made on a copy of the router's state (lazy state transitions, probe
    /// credit, budgets and the random generator included), which is then thrown away, and
    /// nothing is emitted. For admin tools and runbooks; it copies every route's state, so it
    /// is not meant for the request path.
    pub fn explain(&self, req: &VerificationRequest) -> Explanation {
        let (sh, mut copy) = {
            let l = self.core();
            (Arc::clone(&l.shared), l.core.clone())
        };
        let at = sh.moment(Instant::now());
        let (key, plan) = Self::request_key(&sh, req);
        let (out, candidates, _) = Self::first_decision(&sh, &mut copy, &key, &plan, at);
        let panic = key.group.is_some_and(|g| copy.groups[g.0 as usize].panic);
        Explanation {
            chosen: out.chosen,
            reason: out.reason,
            probability: out.probability,
            timeout: out.timeout,
            wait: out.wait,
            candidates: candidates.to_vec(),
            panic,
        }
    }

    /// The user entered the code delivered under `receipt`: a (slow, noisy) signal that the
    /// route really works, usable as a health signal with `trip.min_relative_conversion`. The
    /// conversion is counted with its delivery (see `trip.conversion_lag`); a receipt reported
    /// twice counts once (and is audited once); a receipt naming a route outside this router's
    /// table (another router's) is ignored.
    pub fn record_conversion(&self, receipt: &DeliveryReceipt) {
        let mut events = Vec::new();
        let at = {
            let mut guard = self.core();
            let l = &mut *guard;
            if Self::check_route(&l.shared, receipt.route).is_err() {
                return;
            }
            let at = l.shared.moment(Instant::now());
            let counted = l.core.record_conversion(
                &l.shared,
                receipt.verification,
                receipt.route,
                receipt.delivered_at,
                at,
                &mut events,
            );
            if !counted {
                return;
            }
            at
        };
        self.emit(&RouterEvent::Conversion(Conversion {
            at: at.since,
            verification: receipt.verification,
            route: receipt.route,
        }));
        self.emit_all(&mut events);
    }

    /// Operator override of a route's automatic state, with no reasons and no expiry (audited
    /// with `by` and `reason` empty): [`Router::set_override_with`] says who and why.
    pub fn set_override(&self, route: RouteId, value: Override) -> Result<(), UnknownRoute> {
        self.set_override_with(
            route,
            OverrideRequest {
                value,
                by: String::new(),
                reason: String::new(),
                expires_in: None,
            },
        )
    }

    /// Operator override of a route's automatic state, saying who set it, why, and for how
    /// long: audited (`override_set`, and `override_expired` when it runs out) and shown in
    /// [`Router::route_status`]. `Override::None` clears the route's override.
    pub fn set_override_with(
        &self,
        route: RouteId,
        request: OverrideRequest,
    ) -> Result<(), UnknownRoute> {
        let mut events = Vec::new();
        {
            let mut guard = self.core();
            let l = &mut *guard;
            Self::check_route(&l.shared, route)?;
            l.core
                .set_override_with(&l.shared, route, request, Instant::now(), &mut events);
        }
        self.emit_all(&mut events);
        Ok(())
    }

    /// Shifts first attempts of (`country`, `number_type`) to its routes in proportion to
    /// `weights` (a route of the group not listed gets 0: drained), replacing any earlier shift,
    /// until [`Router::clear_traffic_shift`]. Health still wins: see the `operator` module.
    /// Audited as `traffic_shift_set`; [`Router::traffic_shift`] shows it. A reload keeps it
    /// (route ids are stable; a retired route is no candidate whatever its weight).
    pub fn shift_traffic(
        &self,
        country: Country,
        number_type: NumberType,
        weights: &[(RouteId, f64)],
        by: &str,
        reason: &str,
    ) -> Result<(), ShiftError> {
        let mut events = Vec::new();
        {
            let mut guard = self.core();
            let l = &mut *guard;
            let table = &l.shared.table;
            let group = table
                .group(country, number_type)
                .ok_or(ShiftError::NoRoutes {
                    country,
                    number_type,
                })?;
            for (i, &(route, weight)) in weights.iter().enumerate() {
                if route.index() >= table.routes().len()
                    || table.group_of(route) != group
                    || table.route(route).retired
                {
                    return Err(ShiftError::NotInGroup {
                        route: route.0,
                        country,
                        number_type,
                    });
                }
                if weights[..i].iter().any(|(r, _)| *r == route) {
                    return Err(ShiftError::Duplicate { route: route.0 });
                }
                if !(weight.is_finite() && weight >= 0.0) {
                    return Err(ShiftError::InvalidWeight {
                        route: route.0,
                        weight,
                    });
                }
            }
            if !weights.iter().any(|(_, w)| *w > 0.0) {
                return Err(ShiftError::AllDrained);
            }
            l.core.set_shift(
                &l.shared,
                (group, country, number_type),
                Some(weights.to_vec()),
                by,
                reason,
                Instant::now(),
                &mut events,
            );
        }
        self.emit_all(&mut events);
        Ok(())
    }

    /// Ends the traffic shift of (`country`, `number_type`): the strategy decides again.
    /// Audited as `traffic_shift_cleared`; `Ok(false)` (and nothing audited) when none was set.
    pub fn clear_traffic_shift(
        &self,
        country: Country,
        number_type: NumberType,
        by: &str,
        reason: &str,
    ) -> Result<bool, ShiftError> {
        let mut events = Vec::new();
        let cleared = {
            let mut guard = self.core();
            let l = &mut *guard;
            let group = l
                .shared
                .table
                .group(country, number_type)
                .ok_or(ShiftError::NoRoutes {
                    country,
                    number_type,
                })?;
            l.core.set_shift(
                &l.shared,
                (group, country, number_type),
                None,
                by,
                reason,
                Instant::now(),
                &mut events,
            )
        };
        self.emit_all(&mut events);
        Ok(cleared)
    }

    /// The traffic shift in force on (`country`, `number_type`), if any.
    pub fn traffic_shift(&self, country: Country, number_type: NumberType) -> Option<TrafficShift> {
        let l = self.core();
        let g = l.shared.table.group(country, number_type)?;
        l.core.groups[g.0 as usize].shift.as_deref().cloned()
    }

    /// A route's standing now: what [`Router::snapshot`] reports for it. An override past its
    /// expiry ends here (audited), as at the next decision of its group.
    pub fn route_status(&self, route: RouteId) -> Result<RouteStatus, UnknownRoute> {
        let mut events = Vec::new();
        let status = {
            let mut guard = self.core();
            let l = &mut *guard;
            Self::check_route(&l.shared, route)?;
            let now = Instant::now();
            l.core.expire_override(&l.shared, route, now, &mut events);
            crate::ops::route_status(&l.shared, &l.core, route, now)
        };
        self.emit_all(&mut events);
        Ok(status)
    }

    /// Attempts of `provider` launched and not yet judged (what its `limits` entry counts);
    /// `None` for a name outside the routing table.
    pub fn provider_in_flight(&self, provider: &str) -> Option<u32> {
        let l = self.core();
        let id = l.shared.table.provider_id(provider)?;
        Some(l.core.limits.provider_in_flight(id))
    }

    /// What the router has learnt, for the router that replaces it
    /// ([`RouterBuilder::state`]): per route, its state, what is left of its ejection, its
    /// backoff, its long-run record, its probing, its override; and the groups in panic. One
    /// lock acquisition; nothing changes and nothing is emitted. Export it as late as possible
    /// before the process stops: the old router's in-flight verifications still teach it.
    pub fn export_state(&self) -> RouterState {
        let now = Instant::now();
        let l = self.core();
        crate::warm::export(&l.shared, &l.core, now)
    }

    /// How this router started: cold, from a restored state, or cold because the state given
    /// was older than `warm_start.max_age`.
    pub fn warm_start(&self) -> WarmStart {
        self.inner.warm_start
    }

    /// Verifications whose pending attempts are being watched after they ended.
    pub fn stragglers(&self) -> usize {
        self.inner
            .watchers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .live
            .len()
    }

    /// Whether the (country, number type) was in panic mode at its last decision.
    pub fn in_panic(&self, country: Country, number_type: NumberType) -> bool {
        let l = self.core();
        match l.shared.table.group(country, number_type) {
            Some(g) => l.core.groups[g.0 as usize].panic,
            None => false,
        }
    }
}
