//! The audit trail: every decision the router makes, as data.
//!
//! Events go to an [`EventSink`] the embedding program supplies (a log shipper, a metrics
//! recorder, the lab's simulator). They are emitted *after* the router's internal lock is
//! released, so a sink may take its time or even call back into the router. Events borrow where
//! they can (a decision's candidate list is a slice of a per-verification buffer), so a sink that
//! only counts costs no allocation. Destination numbers appear only masked.
//!
//! Timestamps (`at`) are offsets from the router's creation, read from `tokio::time::Instant`, so
//! they are virtual time in a simulation and monotonic time in production.

use std::time::Duration;

use serde::{Serialize, Serializer};

use crate::adapter::{AttemptId, AttemptOutcome, MaskedDestination, VerificationId};
use crate::health::WindowSnapshot;
use crate::policy::Strategy;
use crate::route::{Country, NumberType, RouteId};
use crate::warm::{GroupKey, WarmStart};

pub(crate) fn secs<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

pub(crate) fn opt_secs<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_some(&d.as_secs_f64()),
        None => s.serialize_none(),
    }
}

/// Where a route stands. Panic is a property of a (country, number type), reported separately.
#[derive(
    Clone, Copy, PartialEq, Eq, Debug, Serialize, serde::Deserialize, PartialOrd, Ord, Hash,
)]
#[serde(rename_all = "snake_case")]
pub enum RouteState {
    Healthy,
    Ejected,
    Probing,
}

/// Operator overrides of the automatic state machine.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, serde::Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Override {
    /// No override: the state machine decides.
    #[default]
    None,
    /// Out of service until cleared, even in panic mode (an operator's "never" wins).
    ForceEject,
    /// Always in service; trips are not evaluated.
    ForceHealthy,
    /// The state machine runs and logs its transitions (marked `shadow`), but selection ignores
    /// them: a way to try new thresholds on live traffic without acting on them.
    Shadow,
}

/// Why a decision chose what it chose.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DecisionReason {
    /// The strategy's preferred candidate.
    Best,
    /// A non-preferred candidate picked by the exploration budget.
    Explore,
    /// A probing route taking its bounded share of traffic (or a retry with no healthy
    /// route left trying one, rather than giving up).
    Probe,
    /// Every route of the group is ejected: the least bad one serves instead of none.
    Panic,
    /// Diversity could not be satisfied; an untried route sharing a provider or domain was used.
    DiversityFallback,
    /// No route covers this country and number type.
    NoCoverage,
    /// Routes exist, but compliance rules, ejection or earlier attempts rule them all out.
    NoCandidate,
    /// A retry was wanted but the retry budget is spent.
    RetryBudgetExhausted,
    /// Nothing could serve, and a route was passed over because it or its provider was at a
    /// `limits` entry (attempts in flight or tokens): the provider would have refused it.
    ProviderLimit,
    /// Nothing could serve, and a route was passed over for a cost cap: its price is above
    /// `max_attempt_cost`, or would take the verification over `max_verification_cost`.
    CostCap,
    /// A first attempt drawn in proportion to an operator's traffic shift (`probability` is
    /// the route's share of the weights of the healthy candidates).
    TrafficShift,
}

/// Why a candidate was not usable at all in a decision (its `excluded`).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Excluded {
    /// The route or its provider is at a `limits` entry.
    ProviderLimit,
    /// The route's price is over a cost cap of this verification.
    CostCap,
}

/// One candidate as the decision saw it.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Candidate {
    pub route: RouteId,
    pub state: RouteState,
    /// The strategy's score: expected cost per success (`score`), the sampled success
    /// probability (`thompson`), the weight (`weighted`) or the priority (`priority`).
    /// `None` for candidates the strategy did not rank (probing, ejected, other tiers).
    pub score: Option<f64>,
    /// Set when the route could not be used at all: over a cost cap or at a limit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub excluded: Option<Excluded>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Decision<'a> {
    #[serde(serialize_with = "secs")]
    pub at: Duration,
    pub verification: VerificationId,
    /// 1 for the first attempt.
    pub attempt: u32,
    pub country: Country,
    pub number_type: NumberType,
    pub use_case: Option<&'a str>,
    pub destination: MaskedDestination,
    pub strategy: Strategy,
    pub candidates: &'a [Candidate],
    pub chosen: Option<RouteId>,
    pub reason: DecisionReason,
    /// Probability with which `chosen` was picked given the router's state: what an
    /// off-policy evaluation needs. Exact for every strategy but `thompson`, whose probability
    /// (that the chosen route's posterior draw wins) is estimated from extra draws.
    pub probability: Option<f64>,
}

#[derive(Clone, Copy, Debug, Serialize)]
pub struct AttemptFinished {
    #[serde(serialize_with = "secs")]
    pub at: Duration,
    pub verification: VerificationId,
    pub attempt: AttemptId,
    pub number: u32,
    pub route: RouteId,
    pub outcome: AttemptOutcome,
    #[serde(serialize_with = "secs")]
    pub latency: Duration,
    /// What this attempt cost (0 when the provider refused it at submission).
    pub cost: f64,
    pub probe: bool,
    /// The adapter panicked (in `send` or in its future): recorded as `unavailable`, a failure
    /// of the route, and the verification failed over.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub adapter_panic: bool,
}

/// Why the router stopped watching an attempt whose outcome it never learnt.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AbandonReason {
    /// `late_delivery_grace` passed after its verification ended (it was already judged a
    /// timeout; a delivery now would not be seen).
    GraceExpired,
    /// More than `max_stragglers` verifications had pending attempts: the oldest watcher was
    /// dropped. An attempt not yet judged is then no evidence either way.
    WatcherCapacity,
    /// The verification was dropped outside a tokio runtime, so nothing could watch it.
    NoRuntime,
}

/// The router stopped watching an attempt: every decision has an outcome in the audit trail,
/// this one included.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Abandoned {
    #[serde(serialize_with = "secs")]
    pub at: Duration,
    pub verification: VerificationId,
    pub attempt: AttemptId,
    pub route: RouteId,
    pub reason: AbandonReason,
}

/// A delivery receipt for an attempt the router had already given up on (timed out).
#[derive(Clone, Copy, Debug, Serialize)]
pub struct LateDelivery {
    #[serde(serialize_with = "secs")]
    pub at: Duration,
    pub verification: VerificationId,
    pub attempt: AttemptId,
    pub route: RouteId,
    #[serde(serialize_with = "secs")]
    pub latency: Duration,
    /// The verification already had a delivery: the user got the code twice (paid twice).
    pub duplicate: bool,
}

/// Why a route changed state.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StateReason {
    ConsecutiveFailures,
    FailureRate,
    Latency,
    Conversion,
    /// Far more `invalid_destination` answers than its peers give for the same traffic.
    InvalidDestinations,
    EjectionExpired,
    ProbeFailed,
    Recovered,
    Manual,
}

#[derive(Clone, Copy, Debug, Serialize)]
pub struct StateChange {
    #[serde(serialize_with = "secs")]
    pub at: Duration,
    pub route: RouteId,
    pub from: RouteState,
    pub to: RouteState,
    pub reason: StateReason,
    pub window: WindowSnapshot,
    /// Set when entering `ejected`: how long for (jitter included).
    #[serde(serialize_with = "opt_secs")]
    pub ejected_for: Option<Duration>,
    /// The route is in shadow mode: this transition was evaluated and logged, not acted on.
    pub shadow: bool,
}

/// A trip that the ejection cap refused: the route stays in service because too many of its
/// group are already out.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct TripSuppressed {
    #[serde(serialize_with = "secs")]
    pub at: Duration,
    pub route: RouteId,
    pub reason: StateReason,
    pub out_of_service: u32,
    pub group_size: u32,
}

#[derive(Clone, Copy, Debug, Serialize)]
pub struct PanicChange {
    #[serde(serialize_with = "secs")]
    pub at: Duration,
    pub country: Country,
    pub number_type: NumberType,
}

/// How a verification ended.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum VerificationStatus {
    Delivered,
    DeadlineExceeded,
    AttemptsExhausted,
    NoRoute,
    RetryBudgetExhausted,
    InvalidDestination,
    /// The caller dropped the `verify` future before it finished (its own timeout, a
    /// disconnect). Its pending attempts are still judged in the background.
    Abandoned,
    /// No further attempt could be sent: every route left was at a provider or route limit
    /// (decision reason `provider_limit`).
    ProviderLimit,
    /// No further attempt could be sent within the cost caps (decision reason `cost_cap`).
    CostCap,
}

#[derive(Clone, Copy, Debug, Serialize)]
pub struct Finished {
    #[serde(serialize_with = "secs")]
    pub at: Duration,
    /// When the verification started (its first decision).
    #[serde(serialize_with = "secs")]
    pub started: Duration,
    pub verification: VerificationId,
    pub destination: MaskedDestination,
    pub country: Country,
    pub number_type: NumberType,
    pub status: VerificationStatus,
    pub attempts: u32,
    pub cost: f64,
    #[serde(serialize_with = "opt_secs")]
    pub time_to_verify: Option<Duration>,
    pub delivered_by: Option<RouteId>,
}

#[derive(Clone, Copy, Debug, Serialize)]
pub struct Conversion {
    #[serde(serialize_with = "secs")]
    pub at: Duration,
    pub verification: VerificationId,
    pub route: RouteId,
}

/// An operator set (or cleared, `value: none`) a route's override.
#[derive(Clone, Debug, Serialize)]
pub struct OverrideSet {
    #[serde(serialize_with = "secs")]
    pub at: Duration,
    pub route: RouteId,
    pub value: Override,
    /// The override it replaces.
    pub previous: Override,
    pub by: String,
    pub reason: String,
    /// When it ends by itself (offset from the epoch); `None`: until cleared.
    #[serde(serialize_with = "opt_secs")]
    pub until: Option<Duration>,
}

/// An override ran out and ended by itself: the route is under automatic control again.
#[derive(Clone, Debug, Serialize)]
pub struct OverrideExpired {
    /// When the router noticed (the route was looked at); `until` is when it ran out.
    #[serde(serialize_with = "secs")]
    pub at: Duration,
    pub route: RouteId,
    pub value: Override,
    pub by: String,
    pub reason: String,
    #[serde(serialize_with = "secs")]
    pub set_at: Duration,
    #[serde(serialize_with = "secs")]
    pub until: Duration,
}

/// One route's weight in a traffic shift.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct ShiftWeight {
    pub route: RouteId,
    pub weight: f64,
}

/// An operator set or cleared a traffic shift on a (country, number type).
#[derive(Clone, Debug, Serialize)]
pub struct TrafficShiftChange {
    #[serde(serialize_with = "secs")]
    pub at: Duration,
    pub country: Country,
    pub number_type: NumberType,
    /// The weights set (empty when cleared).
    pub weights: Vec<ShiftWeight>,
    pub by: String,
    pub reason: String,
}

/// The router's configuration was swapped by [`crate::Router::reload`]: what changed. Route
/// ids are the router's (stable across reloads: see [`crate::Route::retired`]).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Reloaded {
    #[serde(serialize_with = "secs")]
    pub at: Duration,
    /// Reloads so far, this one included.
    pub generation: u64,
    /// Routes new to the router, or listed again after being retired: they start cold.
    pub added: Vec<RouteId>,
    /// Routes no longer listed: never candidates again.
    pub retired: Vec<RouteId>,
    /// Routes kept whose cost, priority, weight or failure domains changed.
    pub changed: Vec<RouteId>,
    /// Top-level policy fields (or sections) that changed, e.g. `"trip"`, `"max_attempts"`.
    pub policy_fields: Vec<&'static str>,
    /// The health windows were rebuilt (`health.window` or `health.buckets` changed), losing
    /// their counts; states, backoff and long-run records are kept either way.
    pub windows_reset: bool,
}

/// A route that a router starts with out of service, probing or under an override: restored
/// from a [`RouterState`](crate::RouterState), so the audit trail explains why it is out at the
/// new router's first decision.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct RestoredRoute {
    pub route: RouteId,
    /// The state selection acts on (an override applied).
    pub state: RouteState,
    /// Ejected by the state machine: how long it stays out from now (what was left of its
    /// ejection, less the state's age).
    #[serde(serialize_with = "opt_secs")]
    pub ejected_for: Option<Duration>,
    pub backoff_multiplier: f64,
    #[serde(rename = "override", skip_serializing_if = "is_no_override")]
    pub override_: Override,
}

fn is_no_override(o: &Override) -> bool {
    *o == Override::None
}

/// A router took over: built with a state to restore ([`RouterBuilder::state`]) or with the
/// epoch of the router it replaces ([`RouterBuilder::epoch`]). Emitted once, at build, before
/// any other event of the new router: a reader of the trail (or the lab's recorder) learns that
/// every route not listed in `routes` starts healthy, whatever the previous router said.
///
/// [`RouterBuilder::state`]: crate::RouterBuilder::state
/// [`RouterBuilder::epoch`]: crate::RouterBuilder::epoch
#[derive(Clone, Debug, Serialize)]
pub struct Started<'a> {
    #[serde(serialize_with = "secs")]
    pub at: Duration,
    /// Whether a state was restored, and if not, why.
    pub warm_start: WarmStart,
    /// Routes that do not start healthy and free (ejected, probing, or under an override).
    pub routes: &'a [RestoredRoute],
    /// (country, number type) groups restored in panic mode.
    #[serde(skip_serializing_if = "<[GroupKey]>::is_empty")]
    pub panic: &'a [GroupKey],
}

/// One entry of the audit trail.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum RouterEvent<'a> {
    Decision(Decision<'a>),
    Attempt(AttemptFinished),
    LateDelivery(LateDelivery),
    StateChange(StateChange),
    TripSuppressed(TripSuppressed),
    PanicEnter(PanicChange),
    PanicExit(PanicChange),
    Finished(Finished),
    Conversion(Conversion),
    Abandoned(Abandoned),
    Reloaded(Reloaded),
    Started(Started<'a>),
    OverrideSet(OverrideSet),
    OverrideExpired(OverrideExpired),
    TrafficShiftSet(TrafficShiftChange),
    TrafficShiftCleared(TrafficShiftChange),
}

impl RouterEvent<'_> {
    pub fn at(&self) -> Duration {
        match self {
            RouterEvent::Decision(e) => e.at,
            RouterEvent::Attempt(e) => e.at,
            RouterEvent::LateDelivery(e) => e.at,
            RouterEvent::StateChange(e) => e.at,
            RouterEvent::TripSuppressed(e) => e.at,
            RouterEvent::PanicEnter(e) | RouterEvent::PanicExit(e) => e.at,
            RouterEvent::Finished(e) => e.at,
            RouterEvent::Conversion(e) => e.at,
            RouterEvent::Abandoned(e) => e.at,
            RouterEvent::Reloaded(e) => e.at,
            RouterEvent::Started(e) => e.at,
            RouterEvent::OverrideSet(e) => e.at,
            RouterEvent::OverrideExpired(e) => e.at,
            RouterEvent::TrafficShiftSet(e) | RouterEvent::TrafficShiftCleared(e) => e.at,
        }
    }
}

/// Receives the audit trail. Called from whichever task drove the event, never under the
/// router's lock.
pub trait EventSink: Send + Sync + 'static {
    fn emit(&self, event: &RouterEvent<'_>);
}

/// Discards every event.
pub struct NoopSink;

impl EventSink for NoopSink {
    fn emit(&self, _: &RouterEvent<'_>) {}
}

/// Any `Fn(&RouterEvent)` is a sink.
impl<F> EventSink for F
where
    F: Fn(&RouterEvent<'_>) + Send + Sync + 'static,
{
    fn emit(&self, event: &RouterEvent<'_>) {
        self(event)
    }
}

/// Logs state changes, panic transitions, suppressed trips and operator actions through
/// `tracing` (at `info` and `warn`), and everything else at `trace`.
pub struct TracingSink;

impl EventSink for TracingSink {
    fn emit(&self, event: &RouterEvent<'_>) {
        match event {
            RouterEvent::StateChange(e) => tracing::info!(
                route = e.route.0, from = ?e.from, to = ?e.to, reason = ?e.reason, shadow = e.shadow,
                "route state change"
            ),
            RouterEvent::PanicEnter(e) => {
                tracing::warn!(country = %e.country, number_type = %e.number_type, "panic mode entered")
            }
            RouterEvent::PanicExit(e) => {
                tracing::info!(country = %e.country, number_type = %e.number_type, "panic mode left")
            }
            RouterEvent::Reloaded(e) => tracing::info!(
                generation = e.generation, added = e.added.len(), retired = e.retired.len(),
                changed = e.changed.len(), policy = ?e.policy_fields, "configuration reloaded"
            ),
            RouterEvent::TripSuppressed(e) => tracing::warn!(
                route = e.route.0, reason = ?e.reason, out = e.out_of_service, of = e.group_size,
                "trip suppressed by ejection cap"
            ),
            RouterEvent::Started(e) => tracing::info!(
                warm_start = ?e.warm_start, restored_out = e.routes.len(), panic = e.panic.len(),
                "router started"
            ),
            RouterEvent::OverrideSet(e) => tracing::info!(
                route = e.route.0, value = ?e.value, previous = ?e.previous, by = %e.by,
                reason = %e.reason, until = ?e.until, "override set"
            ),
            RouterEvent::OverrideExpired(e) => tracing::info!(
                route = e.route.0, value = ?e.value, by = %e.by, reason = %e.reason,
                "override expired"
            ),
            RouterEvent::TrafficShiftSet(e) => tracing::info!(
                country = %e.country, number_type = %e.number_type, weights = ?e.weights,
                by = %e.by, reason = %e.reason, "traffic shift set"
            ),
            RouterEvent::TrafficShiftCleared(e) => tracing::info!(
                country = %e.country, number_type = %e.number_type, by = %e.by,
                reason = %e.reason, "traffic shift cleared"
            ),
            other => tracing::trace!(event = ?other, "router event"),
        }
    }
}
