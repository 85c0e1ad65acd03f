//! The router's synchronous heart: the mutable state behind the lock and the two operations on
//! it, *decide* (pick a route for an attempt) and *record* (learn from an outcome).
//!
//! Keeping this synchronous is what makes "no lock across an await" true by construction: the
//! async driver in `router.rs` takes the lock, calls one of these, releases it, and only then
//! awaits the adapter or emits events.

use std::sync::Arc;
use std::time::Duration;

use rand::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;
use tokio::time::Instant;

use crate::adapter::{
    AttemptId, AttemptOutcome, Attribution, FailureKind, MaskedDestination, ProviderAdapter,
    VerificationId,
};
use crate::budget::{ExplorationBudget, RetryBudget};
use crate::event::{
    Candidate, DecisionReason, Excluded, Override, OverrideExpired, OverrideSet, PanicChange,
    RouteState, RouterEvent, ShiftWeight, StateChange, StateReason, TrafficShiftChange,
    TripSuppressed,
};
use crate::health::{HealthWindow, LatencyLimit, QuantileThreshold};
use crate::inline::InlineVec;
use crate::limits::{LimitUsage, Limits};
use crate::operator::{OverrideNote, OverrideRequest, TrafficShift};
use crate::policy::{AdaptiveTimeout, Diversity, Plan, Policy};
use crate::route::{Country, GroupId, NumberType, RouteId, RoutingTable};
use crate::select::{self, Scored};
use crate::state::{Judged, RouteRuntime, Transition, Verdict};
use rand::Rng;

/// One generation of the configuration: what a build or a reload validated and resolved.
/// Immutable; a reload replaces it whole (see [`Locked`]).
pub(crate) struct Shared {
    /// 0 at build, one more per reload: a verification notices it crossed a reload by it.
    pub generation: u64,
    /// One adapter per provider id (ids only grow across reloads, like route ids).
    pub adapters: Vec<Arc<dyn ProviderAdapter>>,
    pub table: RoutingTable,
    pub policy: Policy,
    pub epoch: Instant,
    /// Use cases named by overrides or compliance rules; others resolve like "no use case".
    pub use_cases: Vec<String>,
    /// Countries named by overrides.
    pub override_countries: Vec<Country>,
    /// Resolved plans, indexed by [`Shared::plan_index`].
    pub plans: Vec<Plan>,
    /// Compliance rules with provider names resolved to ids.
    pub compliance: Vec<ResolvedRule>,
    /// `policy.trip.latency`, prepared for comparing quantiles with it on every outcome.
    pub trip_latency: Option<QuantileThreshold>,
    /// `policy.limits` resolved against the table.
    pub limits: Limits,
}

/// The retry budget's window: the policy's, raised to the longest a verification can keep
/// asking for retries (`max_attempts x attempt_timeout` of the most demanding plan).
pub(crate) fn retry_window(policy: &Policy) -> Duration {
    let longest = policy.longest_attempt_timeout();
    let attempts = policy
        .overrides
        .iter()
        .filter_map(|o| o.max_attempts)
        .fold(policy.max_attempts, u32::max);
    policy.retry_budget.window.max(longest * attempts)
}

pub(crate) struct ResolvedRule {
    pub country: Option<Country>,
    pub use_case: Option<usize>,
    pub allow: Vec<u32>,
    pub deny: Vec<u32>,
}

impl Shared {
    pub(crate) fn use_case_index(&self, use_case: Option<&str>) -> Option<usize> {
        use_case.and_then(|u| self.use_cases.iter().position(|x| x == u))
    }

    fn plan_index(&self, country: Country, use_case: Option<usize>) -> usize {
        let c = self
            .override_countries
            .iter()
            .position(|x| *x == country)
            .map_or(0, |i| i + 1);
        let u = use_case.map_or(0, |i| i + 1);
        c * (self.use_cases.len() + 1) + u
    }

    pub(crate) fn plan(&self, country: Country, use_case: Option<usize>) -> &Plan {
        &self.plans[self.plan_index(country, use_case)]
    }

    /// Precomputes a plan for every (mentioned country or none) x (mentioned use case or none):
    /// any request resolves exactly like one of these, so a request costs one index lookup.
    pub(crate) fn build_plans(&mut self) {
        let mut plans = Vec::new();
        let any_other = self.unmentioned_country();
        for c in std::iter::once(None).chain(self.override_countries.iter().copied().map(Some)) {
            for u in std::iter::once(None).chain(self.use_cases.iter().map(Some)) {
                plans.push(
                    self.policy
                        .plan_for(c.unwrap_or(any_other), u.map(String::as_str)),
                );
            }
        }
        self.plans = plans;
    }

    fn unmentioned_country(&self) -> Country {
        // Some code no override names; "ZZ" is user-assigned and never a real destination.
        for code in ["ZZ", "ZY", "ZX", "XX"] {
            let c = Country::new(code).expect("valid code");
            if !self.override_countries.contains(&c) {
                return c;
            }
        }
        Country::new("XY").expect("valid code")
    }

    /// Whether the compliance rules let `route` serve the request. Most policies have no rules:
    /// that check stays inline in the decision loop, the rules themselves out of it.
    #[inline]
    fn compliant(&self, route: RouteId, country: Country, use_case: Option<usize>) -> bool {
        self.compliance.is_empty() || self.rules_allow(route, country, use_case)
    }

    #[inline(never)]
    fn rules_allow(&self, route: RouteId, country: Country, use_case: Option<usize>) -> bool {
        let provider = self.table.route(route).provider.0;
        self.compliance.iter().all(|r| {
            let matches = r.country.is_none_or(|c| c == country)
                && r.use_case.is_none_or(|u| Some(u) == use_case);
            !matches
                || ((r.allow.is_empty() || r.allow.contains(&provider))
                    && !r.deny.contains(&provider))
        })
    }

    pub(crate) fn since_epoch(&self, now: Instant) -> Duration {
        now.saturating_duration_since(self.epoch)
    }

    /// `now` together with its offset from the epoch, computed once for everything that happens
    /// at that moment (instant arithmetic is not free, and a verification step needs both).
    pub(crate) fn moment(&self, now: Instant) -> Moment {
        Moment {
            now,
            since: self.since_epoch(now),
        }
    }

    /// The attempt timeout for `route`: fixed, or adaptive from its delivery latency. The
    /// fixed case, asked for every candidate, stays inline.
    #[inline]
    fn attempt_timeout(&self, rt: &RouteRuntime, plan: &Plan) -> Duration {
        match &self.policy.adaptive_timeout {
            None => plan.attempt_timeout,
            Some(a) => Self::adaptive_timeout(a, self.policy.health.min_volume, rt, plan),
        }
    }

    #[inline(never)]
    fn adaptive_timeout(
        a: &AdaptiveTimeout,
        min_volume: u32,
        rt: &RouteRuntime,
        plan: &Plan,
    ) -> Duration {
        if rt.window.deliveries() < min_volume {
            return plan.attempt_timeout;
        }
        rt.window
            .latency_quantile(a.quantile)
            // Saturating: a policy built without `validate` must not panic a verification.
            .map(|q| {
                Duration::try_from_secs_f64(q.as_secs_f64() * a.factor)
                    .unwrap_or(a.max)
                    .max(a.min)
                    .min(a.max)
            })
            .unwrap_or(plan.attempt_timeout)
    }
}

/// A decision's candidates (for the audit trail): groups are small, so the list normally stays
/// inline, in the verification's own state.
pub(crate) type Candidates = InlineVec<Candidate, 4>;

impl Candidates {
    pub(crate) fn empty() -> Self {
        let filler = Candidate {
            route: RouteId(0),
            state: RouteState::Healthy,
            score: None,
            excluded: None,
        };
        InlineVec::with_capacity(filler, 0)
    }
}

/// One instant, as the clock reads it and as the events' offset from the router's epoch.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Moment {
    pub now: Instant,
    pub since: Duration,
}

#[derive(Clone)]
pub(crate) struct GroupRuntime {
    pub panic: bool,
    /// Retries are budgeted per group: one country's outage must not spend another's.
    pub retry: RetryBudget,
    /// An operator's traffic shift, if one is set (boxed: most groups never have one).
    pub shift: Option<Box<TrafficShift>>,
}

/// What a decision hands back to the driver.
pub(crate) struct DecisionOut {
    pub chosen: Option<RouteId>,
    pub reason: DecisionReason,
    pub probability: Option<f64>,
    pub probe: bool,
    /// The route's own attempt timeout: when the attempt is judged a timeout.
    pub timeout: Duration,
    /// How long the verification waits on it before moving on: the timeout, shortened by the
    /// deadline or, for a probe, by `probe.timeout`. Shortening it never blames the route.
    pub wait: Duration,
}

/// A request's identity as decisions need it.
pub(crate) struct RequestKey {
    pub destination: MaskedDestination,
    pub country: Country,
    pub number_type: NumberType,
    pub use_case: Option<usize>,
    /// The group serving (country, number type): looked up once per verification.
    pub group: Option<GroupId>,
}

/// What the router's lock guards: the configuration and the state learnt under it, swapped
/// together by a reload so that no decision ever sees one generation's table with another's
/// state.
pub(crate) struct Locked {
    pub shared: Arc<Shared>,
    pub core: Core,
}

#[derive(Clone)]
pub(crate) struct Core {
    pub routes: Vec<RouteRuntime>,
    pub groups: Vec<GroupRuntime>,
    pub rng: Xoshiro256PlusPlus,
    /// Attempts in flight and tokens, per provider and per route (`[limits]`).
    pub limits: LimitUsage,
    explore: ExplorationBudget,
    pub next_attempt: u64,
    converted: RecentlyConverted,
    // Scratch buffers reused across decisions (the lock makes that safe).
    scored: Vec<Scored>,
    /// Index in the decision's candidates of each entry of `scored`.
    scored_at: Vec<usize>,
    scores: Vec<f64>,
    class_of: Vec<(Class, bool)>,
}

/// Verifications whose conversion was recorded lately, so a receipt reported twice counts
/// once: a direct-mapped table of ids (a hash set costs more than the rest of a conversion).
/// Bounded: an id is forgotten when a later one lands in its slot, so a duplicate reported
/// long after the first may count again; a first report is never mistaken for a duplicate.
#[derive(Clone)]
struct RecentlyConverted {
    /// `id + 1` per slot; 0 for empty.
    slots: Box<[u64]>,
}

const CONVERSION_SLOTS: usize = 1 << 14;

impl Default for RecentlyConverted {
    fn default() -> Self {
        RecentlyConverted {
            slots: vec![0; CONVERSION_SLOTS].into_boxed_slice(),
        }
    }
}

impl RecentlyConverted {
    /// Whether `v` is new (and remembers it).
    fn first_time(&mut self, v: VerificationId) -> bool {
        // Fibonacci hashing: ids that differ in any bits spread over the slots.
        let slot = (v.0.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - 14)) as usize;
        let key = v.0.wrapping_add(1);
        if self.slots[slot] == key {
            return false;
        }
        self.slots[slot] = key;
        true
    }
}

/// How a candidate may be used in this decision.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Class {
    Normal,
    /// Healthy but passed over while others serve: capacity cooldown, slow start.
    Cooled,
    Probe,
    /// Probing, no credit (or its probes already in flight): a retry's last resort.
    ProbingIdle,
    Out,
    /// Over a cost cap or at a provider / route limit: not used at all, not even in panic
    /// (the provider would refuse it; the policy forbids the price).
    Excluded,
}

impl Core {
    pub(crate) fn new(shared: &Shared, seed: u64) -> Self {
        let p = &shared.policy;
        let window = retry_window(p);
        Core {
            routes: (0..shared.table.routes().len())
                .map(|_| RouteRuntime::new(p, shared.epoch))
                .collect(),
            groups: (0..shared.table.group_count())
                .map(|_| GroupRuntime {
                    panic: false,
                    retry: RetryBudget::new(
                        p.retry_budget.ratio,
                        p.retry_budget.min_per_second,
                        window,
                    ),
                    shift: None,
                })
                .collect(),
            rng: Xoshiro256PlusPlus::seed_from_u64(seed),
            limits: LimitUsage::new(&shared.limits, &shared.table, shared.epoch),
            explore: ExplorationBudget::new(p.exploration_budget),
            next_attempt: 0,
            converted: RecentlyConverted::default(),
            scored: Vec::new(),
            scored_at: Vec::new(),
            scores: Vec::new(),
            class_of: Vec::new(),
        }
    }

    /// Moves the learnt state from configuration `old` to `new` (a reload; route and group ids
    /// only grow, see [`RoutingTable::merged`]): new routes start as at a cold start, a route
    /// listed again after being retired starts afresh (its old record is stale) but keeps its
    /// attempts in flight, budgets keep what they counted. Windows are rebuilt only if their
    /// shape (`health.window`, `health.buckets`) changed, which loses their counts: the result
    /// says so. Nothing here can fail: the new configuration was validated before.
    pub(crate) fn reconfigure(&mut self, old: &Shared, new: &Shared, now: Instant) -> bool {
        let p = &new.policy;
        let since = new.since_epoch(now);
        let reshaped = old.policy.health.window != p.health.window
            || old.policy.health.buckets != p.health.buckets;
        for (i, route) in new.table.routes().iter().enumerate() {
            match self.routes.get_mut(i) {
                None => self.routes.push(RouteRuntime::new(p, now)),
                Some(rt) if !route.retired && old.table.routes()[i].retired => {
                    let mut fresh = RouteRuntime::new(p, now);
                    fresh.ledger = std::mem::take(&mut rt.ledger);
                    fresh.probes_in_flight = rt.probes_in_flight;
                    *rt = fresh;
                }
                Some(rt) if reshaped => {
                    rt.window = HealthWindow::new(p.health.window, p.health.buckets);
                }
                Some(_) => {}
            }
        }
        let (old_window, window) = (retry_window(&old.policy), retry_window(p));
        let b = &p.retry_budget;
        let retuned = old_window != window
            || old.policy.retry_budget.ratio != b.ratio
            || old.policy.retry_budget.min_per_second != b.min_per_second;
        for g in &mut self.groups {
            if retuned {
                g.retry = g.retry.retuned(b.ratio, b.min_per_second, window, since);
            }
        }
        for _ in self.groups.len()..new.table.group_count() {
            self.groups.push(GroupRuntime {
                panic: false,
                retry: RetryBudget::new(b.ratio, b.min_per_second, window),
                shift: None,
            });
        }
        // Attempts in flight stay counted by route and provider id; new ids start as at build.
        self.limits.grow(&new.limits, &new.table, now);
        self.explore.retune(p.exploration_budget);
        reshaped
    }

    /// A verification of `group` started: it earns its group's retries.
    pub(crate) fn deposit(&mut self, group: Option<GroupId>, since_epoch: Duration) {
        if let Some(g) = group {
            self.groups[g.0 as usize].retry.deposit(since_epoch);
        }
    }

    /// A fresh attempt id, unique within the router.
    pub(crate) fn next_attempt_id(&mut self) -> AttemptId {
        self.next_attempt += 1;
        AttemptId(self.next_attempt)
    }

    /// An attempt on `route` is being sent: its place in the route's launch order. It holds a
    /// slot of its route's and provider's limits (and takes a token) until it is judged.
    pub(crate) fn launch(
        &mut self,
        shared: &Shared,
        route: RouteId,
        probe: bool,
        now: Instant,
    ) -> u64 {
        let provider = shared.table.route(route).provider;
        self.limits.take(&shared.limits, route, provider, now);
        let rt = &mut self.routes[route.index()];
        if probe {
            rt.probes_in_flight += 1;
        }
        rt.ledger.launch()
    }

    fn out_of_service(&self, table: &RoutingTable, group: GroupId) -> u32 {
        table
            .group_routes(group)
            .iter()
            .filter(|r| self.routes[r.index()].effective() != RouteState::Healthy)
            .count() as u32
    }

    /// Routes of a group of `size` that may be out at once. As in Envoy, one may always be
    /// ejected when ejection is enabled at all: a share under 1/size would otherwise make
    /// every route of a small group unejectable, the broken ones included.
    fn allowed_out(policy: &Policy, size: u32) -> u32 {
        let share = policy.ejection.max_ejected_share;
        if share <= 0.0 {
            return 0;
        }
        ((share * f64::from(size) + 1e-9).floor() as u32).max(1)
    }

    fn state_event(
        &self,
        shared: &Shared,
        route: RouteId,
        t: Transition,
        at: Duration,
    ) -> RouterEvent<'static> {
        let rt = &self.routes[route.index()];
        RouterEvent::StateChange(StateChange {
            at,
            route,
            from: t.from,
            to: t.to,
            reason: t.reason,
            window: rt
                .window
                .snapshot(rt.consecutive, shared.policy.health.latency_quantile),
            ejected_for: t.ejected_for,
            shadow: rt.override_ == Override::Shadow,
        })
    }

    /// Applies a verdict: trips pass the group's ejection cap first.
    fn apply(
        &mut self,
        shared: &Shared,
        route: RouteId,
        verdict: Verdict,
        at: Moment,
        events: &mut Vec<RouterEvent<'static>>,
    ) {
        let Moment { now, since: at } = at;
        match verdict {
            Verdict::None => {}
            Verdict::Changed(t) => {
                tracing::debug!(route = route.0, ?t, "route state change");
                events.push(self.state_event(shared, route, t, at));
            }
            Verdict::Trip(reason) => {
                let shadow = self.routes[route.index()].override_ == Override::Shadow;
                let group = shared.table.group_of(route);
                let size = shared.table.group_routes(group).len() as u32;
                let out = self.out_of_service(&shared.table, group);
                let allowed = Self::allowed_out(&shared.policy, size);
                if !shadow && out + 1 > allowed {
                    let rt = &mut self.routes[route.index()];
                    if !rt.suppressed {
                        rt.suppressed = true;
                        events.push(RouterEvent::TripSuppressed(TripSuppressed {
                            at,
                            route,
                            reason,
                            out_of_service: out,
                            group_size: size,
                        }));
                    }
                    return;
                }
                // The snapshot is what tripped the route: take it before ejection resets counters.
                let rt = &self.routes[route.index()];
                let window = rt
                    .window
                    .snapshot(rt.consecutive, shared.policy.health.latency_quantile);
                let t =
                    self.routes[route.index()].eject(&shared.policy, reason, now, &mut self.rng);
                let mut event = self.state_event(shared, route, t, at);
                if let RouterEvent::StateChange(sc) = &mut event {
                    sc.window = window;
                }
                events.push(event);
            }
        }
    }

    /// Files how attempt `seq` of `route` was judged, and applies to the route's health every
    /// judgement now due in launch order (see [`crate::state::Ledger`]). Capacity refusals act
    /// at once: they are not health evidence, and waiting would only send more traffic into
    /// a limit.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn resolve(
        &mut self,
        shared: &Shared,
        route: RouteId,
        seq: u64,
        judged: Judged,
        at: Moment,
        events: &mut Vec<RouterEvent<'static>>,
    ) {
        // Every launched attempt passes here exactly once: its limit slots are free again.
        self.limits
            .release(route, shared.table.route(route).provider);
        if let Judged::Outcome { outcome, probe, .. } = judged {
            if probe {
                let rt = &mut self.routes[route.index()];
                rt.probes_in_flight = rt.probes_in_flight.saturating_sub(1);
            }
            if let AttemptOutcome::Failed(kind) = outcome
                && kind.attribution() == Attribution::Capacity
            {
                self.cool_down(shared, route, kind, at.now);
            }
        }
        let mut ready = self.routes[route.index()].ledger.judge(seq, judged);
        // A route retired by a reload still settles its attempts in flight, but is not judged
        // any more: it is no candidate, and its verdicts would only be noise in the audit.
        let learns = !shared.table.route(route).retired;
        while let Some(next) = ready {
            if let Judged::Outcome {
                outcome,
                latency,
                probe,
            } = next
                && learns
            {
                self.record(shared, route, outcome, latency, probe, at, events);
            }
            ready = self.routes[route.index()].ledger.next_ready();
        }
    }

    /// An attempt stopped being watched before it was judged (its probe, if it was one, no
    /// longer occupies the route).
    pub(crate) fn resolve_unjudged(
        &mut self,
        shared: &Shared,
        route: RouteId,
        seq: u64,
        probe: bool,
        at: Moment,
        events: &mut Vec<RouterEvent<'static>>,
    ) {
        if probe {
            let rt = &mut self.routes[route.index()];
            rt.probes_in_flight = rt.probes_in_flight.saturating_sub(1);
        }
        self.resolve(shared, route, seq, Judged::NoEvidence, at, events);
    }

    /// Passes over the refusing capacity for `capacity_cooldown`. Rate limits are per account:
    /// every route of the provider cools down. Inventory is per country and number type: only
    /// the route does.
    fn cool_down(&mut self, shared: &Shared, route: RouteId, kind: FailureKind, now: Instant) {
        let until = now + shared.policy.capacity_cooldown;
        if kind == FailureKind::RateLimited {
            let provider = shared.table.route(route).provider;
            for (i, r) in shared.table.routes().iter().enumerate() {
                if r.provider == provider {
                    self.routes[i].capacity_until = until;
                }
            }
        } else {
            self.routes[route.index()].capacity_until = until;
        }
    }

    /// Learns from one attempt outcome, in launch order.
    #[allow(clippy::too_many_arguments)]
    fn record(
        &mut self,
        shared: &Shared,
        route: RouteId,
        outcome: AttemptOutcome,
        latency: Duration,
        probe: bool,
        at: Moment,
        events: &mut Vec<RouterEvent<'static>>,
    ) {
        let verdict = self.routes[route.index()].record(
            &shared.policy,
            shared.trip_latency,
            outcome,
            latency,
            probe,
            at.now,
            at.since,
            &mut self.rng,
        );
        self.apply(shared, route, verdict, at, events);
        match outcome {
            AttemptOutcome::Delivered => self.check_conversion(shared, route, at, events),
            AttemptOutcome::Failed(FailureKind::InvalidDestination) => {
                self.check_invalid(shared, route, at, events)
            }
            AttemptOutcome::Failed(_) => {}
        }
    }

    pub(crate) fn record_late(&mut self, route: RouteId, latency: Duration, at: Moment) {
        let rt = &mut self.routes[route.index()];
        rt.window.advance(at.since);
        rt.window.record_late_latency(latency);
    }

    /// The user entered the code of `verification`, delivered by `route` at `delivered_at`.
    /// A receipt reported twice counts once.
    pub(crate) fn record_conversion(
        &mut self,
        shared: &Shared,
        verification: VerificationId,
        route: RouteId,
        delivered_at: Duration,
        at: Moment,
        events: &mut Vec<RouterEvent<'static>>,
    ) -> bool {
        if !self.converted.first_time(verification) {
            return false;
        }
        self.routes[route.index()].record_conversion(at.since, delivered_at);
        self.check_conversion(shared, route, at, events);
        true
    }

    /// The relative conversion trip, if the policy has one (most do not: that check stays
    /// inline on every delivery and conversion).
    #[inline]
    fn check_conversion(
        &mut self,
        shared: &Shared,
        route: RouteId,
        at: Moment,
        events: &mut Vec<RouterEvent<'static>>,
    ) {
        if let Some(min_ratio) = shared.policy.trip.min_relative_conversion {
            self.judge_conversion(shared, route, min_ratio, at, events);
        }
    }

    /// Every route of the group is judged against the group's pooled conversion rate, so lag
    /// and fraud (which lower all routes alike) never trip it; and only on deliveries older
    /// than `trip.conversion_lag`, so a route that only just started delivering (restored, or
    /// shifted onto) is not judged on conversions still to come.
    #[inline(never)]
    fn judge_conversion(
        &mut self,
        shared: &Shared,
        route: RouteId,
        min_ratio: f64,
        at: Moment,
        events: &mut Vec<RouterEvent<'static>>,
    ) {
        let lag = shared.policy.trip.conversion_lag;
        let group = shared.table.group_of(route);
        let (mut conversions, mut deliveries) = (0u64, 0u64);
        for r in shared.table.group_routes(group) {
            let w = &mut self.routes[r.index()].window;
            w.advance(at.since);
            let (d, c) = w.mature_conversions(at.since, lag);
            conversions += u64::from(c);
            deliveries += u64::from(d);
        }
        if conversions < u64::from(shared.policy.health.min_volume) || deliveries == 0 {
            return;
        }
        let group_rate = conversions as f64 / deliveries as f64;
        for &r in shared.table.group_routes(group) {
            let rt = &self.routes[r.index()];
            let mature = rt.window.mature_conversions(at.since, lag);
            if rt.converts_too_little(&shared.policy, mature, group_rate, min_ratio) {
                self.apply(
                    shared,
                    r,
                    Verdict::Trip(StateReason::Conversion),
                    at,
                    events,
                );
            }
        }
    }

    /// The relative invalid-destination trip: a route answering `invalid_destination` far more
    /// often than its peers for the same traffic is refusing valid numbers.
    fn check_invalid(
        &mut self,
        shared: &Shared,
        route: RouteId,
        at: Moment,
        events: &mut Vec<RouterEvent<'static>>,
    ) {
        let ratio = shared.policy.trip.max_relative_invalid;
        let min = u64::from(shared.policy.health.min_volume);
        if ratio == 0.0 || !self.routes[route.index()].trippable() {
            return;
        }
        let judged = |w: &crate::health::HealthWindow| {
            (
                u64::from(w.invalid()),
                u64::from(w.volume()) + u64::from(w.invalid()),
            )
        };
        let (own_invalid, own_n) = judged(&self.routes[route.index()].window);
        if own_n < min {
            return;
        }
        let (mut peer_invalid, mut peer_n) = (0u64, 0u64);
        for &r in shared.table.group_routes(shared.table.group_of(route)) {
            if r != route {
                let w = &mut self.routes[r.index()].window;
                w.advance(at.since);
                let (i, n) = judged(w);
                peer_invalid += i;
                peer_n += n;
            }
        }
        if peer_n < min {
            return;
        }
        let own = own_invalid as f64 / own_n as f64;
        let peers = peer_invalid as f64 / peer_n as f64;
        if own > ratio * peers + 0.05 {
            self.apply(
                shared,
                route,
                Verdict::Trip(StateReason::InvalidDestinations),
                at,
                events,
            );
        }
    }

    /// Sets (or clears) an operator override with its reasons, auditing it: an `override_set`
    /// event, then the change of effective state if any. An earlier override that already ran
    /// out is audited as expired first.
    pub(crate) fn set_override_with(
        &mut self,
        shared: &Shared,
        route: RouteId,
        req: OverrideRequest,
        now: Instant,
        events: &mut Vec<RouterEvent<'static>>,
    ) {
        self.expire_override(shared, route, now, events);
        let at = shared.since_epoch(now);
        // An expiry past what the clock can hold is no expiry.
        let expires = req
            .expires_in
            .and_then(|d| now.checked_add(d))
            .map(|i| (i, shared.since_epoch(i)));
        let previous = self.routes[route.index()].override_;
        events.push(RouterEvent::OverrideSet(OverrideSet {
            at,
            route,
            value: req.value,
            previous,
            by: req.by.clone(),
            reason: req.reason.clone(),
            until: expires.map(|(_, d)| d),
        }));
        self.set_override(shared, route, req.value, now, events);
        self.routes[route.index()].operator = (req.value != Override::None).then(|| {
            Box::new(OverrideNote {
                by: req.by,
                reason: req.reason,
                set_at: at,
                expires,
            })
        });
    }

    /// Ends `route`'s override if its expiry has passed, auditing the end: done lazily when the
    /// route is looked at (a decision of its group, `route_status`, a new override).
    pub(crate) fn expire_override(
        &mut self,
        shared: &Shared,
        route: RouteId,
        now: Instant,
        events: &mut Vec<RouterEvent<'static>>,
    ) {
        let rt = &mut self.routes[route.index()];
        let Some((until, until_since)) = rt.operator.as_ref().and_then(|n| n.expires) else {
            return;
        };
        if now < until {
            return;
        }
        let Some(note) = rt.operator.take() else {
            return;
        };
        events.push(RouterEvent::OverrideExpired(OverrideExpired {
            at: shared.since_epoch(now),
            route,
            value: rt.override_,
            by: note.by,
            reason: note.reason,
            set_at: note.set_at,
            until: until_since,
        }));
        self.set_override(shared, route, Override::None, now, events);
    }

    /// Sets (`Some`) or clears (`None`) the traffic shift of `group`, auditing it. The weights
    /// were checked by the caller. Returns whether anything changed (clearing no shift does not).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn set_shift(
        &mut self,
        shared: &Shared,
        (group, country, number_type): (GroupId, Country, NumberType),
        weights: Option<Vec<(RouteId, f64)>>,
        by: &str,
        reason: &str,
        now: Instant,
        events: &mut Vec<RouterEvent<'static>>,
    ) -> bool {
        let at = shared.since_epoch(now);
        let g = &mut self.groups[group.0 as usize];
        let mut change = TrafficShiftChange {
            at,
            country,
            number_type,
            weights: Vec::new(),
            by: by.to_owned(),
            reason: reason.to_owned(),
        };
        match weights {
            Some(weights) => {
                change.weights = weights
                    .iter()
                    .map(|&(route, weight)| ShiftWeight { route, weight })
                    .collect();
                g.shift = Some(Box::new(TrafficShift {
                    weights,
                    by: by.to_owned(),
                    reason: reason.to_owned(),
                    set_at: at,
                }));
                events.push(RouterEvent::TrafficShiftSet(change));
                true
            }
            None if g.shift.is_some() => {
                g.shift = None;
                events.push(RouterEvent::TrafficShiftCleared(change));
                true
            }
            None => false,
        }
    }

    /// Sets an operator override, logging the change of effective state.
    pub(crate) fn set_override(
        &mut self,
        shared: &Shared,
        route: RouteId,
        value: Override,
        now: Instant,
        events: &mut Vec<RouterEvent<'static>>,
    ) {
        let at = shared.since_epoch(now);
        let group = shared.table.group_of(route);
        let rt = &mut self.routes[route.index()];
        let before = rt.effective();
        let was = rt.override_;
        rt.override_ = value;
        match value {
            Override::ForceHealthy => rt.state = RouteState::Healthy,
            // A route released from a forced ejection earns its way back like any other.
            Override::None if was == Override::ForceEject => {
                rt.state = RouteState::Probing;
                rt.probe = crate::state::ProbeTally {
                    credit: 1.0,
                    ..Default::default()
                };
                rt.credit_at = now;
            }
            _ => {}
        }
        // Leaving shadow mode acts on the state machine's verdict, but the ejection cap holds
        // as for any trip: a group must not go over it because an override was cleared.
        if was == Override::Shadow && value == Override::None && rt.state != RouteState::Healthy {
            let size = shared.table.group_routes(group).len() as u32;
            // This route still counts as in service until its verdict is applied.
            rt.override_ = Override::Shadow;
            let out = self.out_of_service(&shared.table, group);
            let rt = &mut self.routes[route.index()];
            rt.override_ = Override::None;
            if out + 1 > Self::allowed_out(&shared.policy, size) {
                rt.state = RouteState::Healthy;
                rt.consecutive = 0;
                events.push(RouterEvent::TripSuppressed(TripSuppressed {
                    at,
                    route,
                    reason: StateReason::Manual,
                    out_of_service: out,
                    group_size: size,
                }));
            }
        }
        let rt = &self.routes[route.index()];
        let after = rt.effective();
        if before != after {
            let t = Transition {
                from: before,
                to: after,
                reason: StateReason::Manual,
                ejected_for: None,
            };
            events.push(self.state_event(shared, route, t, at));
        }
    }

    /// Picks the route for attempt `number` of a verification, filling `candidates` for the
    /// audit trail and pushing any state or panic transitions it observed into `events`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn decide(
        &mut self,
        shared: &Shared,
        req: &RequestKey,
        plan: &Plan,
        number: u32,
        tried: &[RouteId],
        at: Moment,
        remaining: Duration,
        candidates: &mut Candidates,
        events: &mut Vec<RouterEvent<'static>>,
    ) -> DecisionOut {
        let mut class_of = std::mem::take(&mut self.class_of);
        class_of.clear();
        let out = self.decide_with(
            shared,
            req,
            plan,
            number,
            tried,
            at,
            remaining,
            candidates,
            events,
            &mut class_of,
        );
        self.class_of = class_of;
        if out.chosen.is_some()
            && number > 1
            && let Some(g) = req.group
        {
            self.groups[g.0 as usize].retry.withdraw(at.since);
        }
        out
    }

    #[allow(clippy::too_many_arguments)]
    fn decide_with(
        &mut self,
        shared: &Shared,
        req: &RequestKey,
        plan: &Plan,
        number: u32,
        tried: &[RouteId],
        at: Moment,
        remaining: Duration,
        candidates: &mut Candidates,
        events: &mut Vec<RouterEvent<'static>>,
        class_of: &mut Vec<(Class, bool)>,
    ) -> DecisionOut {
        candidates.clear();
        let Moment { now, since } = at;
        let none = |reason| DecisionOut {
            chosen: None,
            reason,
            probability: None,
            probe: false,
            timeout: Duration::ZERO,
            wait: Duration::ZERO,
        };
        let Some(group) = req.group else {
            return none(DecisionReason::NoCoverage);
        };
        // Only looked at here; paid for once a route is found (`decide`).
        if number > 1 && !self.groups[group.0 as usize].retry.available(since) {
            return none(DecisionReason::RetryBudgetExhausted);
        }
        let policy = &shared.policy;
        let members = shared.table.group_routes(group);
        candidates.reserve_total(members.len());
        // A verification's last attempt is never spent on probing a suspect route.
        let last_attempt = number >= plan.max_attempts;

        // Routes already tried, for the diversity rule.
        let tried_routes = || tried.iter().map(|t| shared.table.route(*t));
        let diverse = |r: RouteId| -> bool {
            let route = shared.table.route(r);
            match plan.diversity {
                Diversity::None => true,
                Diversity::Provider => tried_routes().all(|t| t.provider != route.provider),
                Diversity::FailureDomain => tried_routes()
                    .all(|t| t.provider != route.provider && !t.shares_domain_with(route)),
            }
        };
        // One pass over the group: lazy transitions, the group's pooled success rate (the prior
        // for cold routes), and the classification of the untried, compliant routes. Each step
        // reads and writes only its own route, so one pass gives what a pass per step would.
        let (mut pooled_ok, mut pooled_n) = (0u64, 0u64);
        // Panic is the group's state (any healthy route at all); whether *this* request has a
        // healthy route it may use is a separate question (compliance rules differ by request).
        let mut any_healthy = false;
        let mut any_usable_healthy = false;
        let mut best_probe: Option<(usize, f64)> = None;
        // What this verification may still spend on one attempt (`max_verification_cost` less
        // the price of every attempt already launched), and the price cap of one attempt.
        let price_cap = Self::price_cap(shared, plan, tried);
        // Whether a route was excluded by a limit or a cap: the reason if nothing is found.
        let (mut limited, mut capped) = (false, false);
        let shifted = self.groups[group.0 as usize].shift.is_some();
        for &r in members {
            if self.routes[r.index()].operator.is_some() {
                self.expire_override(shared, r, now, events);
            }
            // Drained by the operator's traffic shift: passed over while others can serve.
            let drained = shifted
                && self.groups[group.0 as usize]
                    .shift
                    .as_ref()
                    .is_some_and(|s| s.weight(r) <= 0.0);
            if let Some(t) = self.routes[r.index()].refresh(now) {
                events.push(self.state_event(shared, r, t, since));
            }
            let rt = &mut self.routes[r.index()];
            rt.window.advance(since);
            pooled_ok += u64::from(rt.window.deliveries());
            pooled_n += u64::from(rt.window.volume());
            let state = rt.effective();
            if state == RouteState::Healthy {
                any_healthy = true;
            }
            let compliant = shared.compliant(r, req.country, req.use_case);
            if state == RouteState::Healthy && compliant {
                any_usable_healthy = true;
            }
            if state == RouteState::Probing {
                rt.earn_probe_credit(policy, now);
            }
            if !compliant || rt.override_ == Override::ForceEject || tried.contains(&r) {
                continue;
            }
            let excluded = if price_cap.is_some_and(|cap| shared.table.route(r).cost > cap) {
                capped = true;
                Some(Excluded::CostCap)
            } else if shared.limits.any
                && !self
                    .limits
                    .admits(&shared.limits, r, shared.table.route(r).provider, now)
            {
                limited = true;
                Some(Excluded::ProviderLimit)
            } else {
                None
            };
            let class = match state {
                _ if excluded.is_some() => Class::Excluded,
                RouteState::Healthy if rt.capacity_until > now || drained => Class::Cooled,
                RouteState::Healthy if rt.restored_at.is_some() => {
                    // Slow start: a just-restored route takes a ramping share of the decisions
                    // it would win (it serves all of them when nothing else can).
                    match rt.slow_start_share(policy, now) {
                        Some(share) if self.rng.random::<f64>() >= share => Class::Cooled,
                        _ => Class::Normal,
                    }
                }
                RouteState::Healthy => Class::Normal,
                RouteState::Probing if drained && rt.may_probe(policy) => Class::ProbingIdle,
                RouteState::Probing
                    if rt.probe.credit >= 1.0 && rt.may_probe(policy) && !last_attempt =>
                {
                    Class::Probe
                }
                RouteState::Probing if rt.may_probe(policy) => Class::ProbingIdle,
                _ => Class::Out,
            };
            // A first attempt has nothing to be diverse from.
            let is_diverse = tried.is_empty() || diverse(r);
            if class == Class::Probe
                && is_diverse
                && best_probe.is_none_or(|(_, c)| rt.probe.credit > c)
            {
                best_probe = Some((candidates.len(), rt.probe.credit));
            }
            class_of.push((class, is_diverse));
            candidates.push(Candidate {
                route: r,
                state,
                score: None,
                excluded,
            });
        }
        let g = &mut self.groups[group.0 as usize];
        if g.panic == any_healthy {
            g.panic = !any_healthy;
            let change = PanicChange {
                at: since,
                country: req.country,
                number_type: req.number_type,
            };
            events.push(if g.panic {
                tracing::warn!(country = %req.country, number_type = %req.number_type, "panic mode entered");
                RouterEvent::PanicEnter(change)
            } else {
                RouterEvent::PanicExit(change)
            });
        }
        let pooled = if pooled_n > 0 {
            pooled_ok as f64 / pooled_n as f64
        } else {
            0.5
        };

        // 1. A probing route due for its share of traffic.
        if let Some((i, _)) = best_probe {
            let r = candidates[i].route;
            self.routes[r.index()].probe.credit -= 1.0;
            self.explore.earn();
            return self.chosen(
                shared,
                r,
                plan,
                remaining,
                DecisionReason::Probe,
                Some(1.0),
                true,
            );
        }
        // 2. The strategy over healthy candidates: diverse first, then cooled, then fallback.
        let tiers: [(Class, bool, DecisionReason); 4] = [
            (Class::Normal, true, DecisionReason::Best),
            (Class::Cooled, true, DecisionReason::Best),
            (Class::Normal, false, DecisionReason::DiversityFallback),
            (Class::Cooled, false, DecisionReason::DiversityFallback),
        ];
        // Where the latest attempt budget falls in the latency histogram.
        let mut within: Option<LatencyLimit> = None;
        for (class, need_diverse, reason) in tiers {
            let fallback_allowed = policy.diversity_fallback && plan.diversity != Diversity::None;
            if !need_diverse && !fallback_allowed {
                break;
            }
            self.scored.clear();
            self.scored_at.clear();
            for (i, (c, d)) in class_of.iter().enumerate() {
                if *c == class && *d == need_diverse {
                    let r = candidates[i].route;
                    let rt = &mut self.routes[r.index()];
                    let route = shared.table.route(r);
                    let k = policy.prior_strength;
                    // Cold routes lean on their group; routes with history on their own record.
                    let prior = rt.long_run_mean().unwrap_or(pooled);
                    let budget = shared.attempt_timeout(rt, plan).min(remaining);
                    // Without adaptive timeouts every candidate gets the same budget.
                    let limit = match within {
                        Some(l) if l.limit() == budget => l,
                        _ => *within.insert(LatencyLimit::new(budget)),
                    };
                    let p_in_time = rt.window.share_within(&limit);
                    // An attempt this route cannot finish before the deadline, by its own
                    // recent latencies, is not launched: it would only wait and then be cut.
                    if p_in_time.is_some_and(|p| p < policy.min_in_time_share)
                        && rt.window.deliveries() >= policy.health.min_volume
                        && rt
                            .window
                            .share_within(&LatencyLimit::new(remaining))
                            .is_some_and(|p| p < policy.min_in_time_share)
                    {
                        continue;
                    }
                    self.scored.push(Scored {
                        cost: route.cost,
                        priority: route.priority,
                        weight: route.weight,
                        alpha: 1.0 + k * prior + f64::from(rt.window.deliveries()),
                        beta: 1.0 + k * (1.0 - prior) + f64::from(rt.window.health_failures()),
                        // Unknown until the route has latency samples: filled in below.
                        p_in_time: p_in_time.unwrap_or(f64::NAN),
                    });
                    self.scored_at.push(i);
                }
            }
            if self.scored.is_empty() {
                continue;
            }
            if shifted && class == Class::Normal && tried.is_empty() {
                let (i, p) = self.shift_pick(group, candidates);
                self.explore.earn();
                let r = candidates[i].route;
                return self.chosen(
                    shared,
                    r,
                    plan,
                    remaining,
                    DecisionReason::TrafficShift,
                    Some(p),
                    false,
                );
            }
            // A route without latency data (new, or just restored with a cleared window) gets
            // the average of those with data: assuming it always delivers in time would make
            // it win every comparison until its first samples arrive, and herd traffic onto it.
            let (sum, n) = self
                .scored
                .iter()
                .filter(|s| !s.p_in_time.is_nan())
                .fold((0.0, 0u32), |(a, n), s| (a + s.p_in_time, n + 1));
            let fill = if n > 0 { sum / f64::from(n) } else { 1.0 };
            for s in &mut self.scored {
                if s.p_in_time.is_nan() {
                    s.p_in_time = fill;
                }
            }
            let exploration = if self.explore.available() {
                plan.exploration
            } else {
                0.0
            };
            self.explore.earn();
            self.scores.clear();
            self.scores.resize(self.scored.len(), 0.0);
            let choice = select::choose(
                plan.strategy,
                &self.scored,
                &mut self.scores,
                select::Params {
                    exploration,
                    cost_sensitivity: policy.cost_sensitivity,
                    failure_penalty: policy.failure_penalty,
                    spread: policy.score_spread,
                },
                &mut self.rng,
            );
            if choice.reason == DecisionReason::Explore {
                self.explore.spend();
            }
            for (&i, s) in self.scored_at.iter().zip(&self.scores) {
                candidates[i].score = Some(*s);
            }
            let r = candidates[self.scored_at[choice.index]].route;
            let reason = if reason == DecisionReason::Best {
                choice.reason
            } else {
                reason
            };
            return self.chosen(
                shared,
                r,
                plan,
                remaining,
                reason,
                choice.probability,
                false,
            );
        }
        // 3. A retry with no healthy route left may still try a probing one (as a probe)
        // rather than give up: it is the only chance this verification has.
        if number > 1 {
            let probing = (0..candidates.len())
                .filter(|&i| matches!(class_of[i].0, Class::Probe | Class::ProbingIdle))
                .min_by_key(|&i| !class_of[i].1);
            if let Some(i) = probing {
                let r = candidates[i].route;
                let rt = &mut self.routes[r.index()];
                rt.probe.credit = (rt.probe.credit - 1.0).max(0.0);
                return self.chosen(
                    shared,
                    r,
                    plan,
                    remaining,
                    DecisionReason::Probe,
                    Some(1.0),
                    true,
                );
            }
        }
        // 4. Panic: no route this request may use is in service; the least bad one still
        // serves. Ranked by recent failure rate, or by its long-run record when its window is
        // empty: a route nobody has heard from lately is not thereby perfect.
        if !any_usable_healthy {
            let rank = |i: usize| {
                let r = candidates[i].route;
                let rt = &self.routes[r.index()];
                let failure = rt
                    .window
                    .failure_rate()
                    .or_else(|| rt.long_run_mean().map(|ok| 1.0 - ok))
                    .unwrap_or(1.0 - pooled);
                (
                    !class_of[i].1,
                    rt.effective() != RouteState::Probing,
                    failure,
                    rt.ejected_until,
                    r,
                )
            };
            let best = (0..candidates.len())
                .filter(|&i| class_of[i].0 != Class::Excluded)
                .min_by(|&a, &b| {
                    rank(a)
                        .partial_cmp(&rank(b))
                        .unwrap_or(std::cmp::Ordering::Equal)
                });
            if let Some(i) = best {
                let r = candidates[i].route;
                let probe = self.routes[r.index()].effective() == RouteState::Probing;
                return self.chosen(
                    shared,
                    r,
                    plan,
                    remaining,
                    DecisionReason::Panic,
                    Some(1.0),
                    probe,
                );
            }
        }
        // A limit is named before a cap: a route the policy allowed was there but full.
        none(if limited {
            DecisionReason::ProviderLimit
        } else if capped {
            DecisionReason::CostCap
        } else {
            DecisionReason::NoCandidate
        })
    }

    /// A first attempt under a traffic shift: one of the scored (healthy, not drained)
    /// candidates in proportion to the operator's weights, each weight written as the
    /// candidate's score. Returns the candidate's index and its probability.
    fn shift_pick(&mut self, group: GroupId, candidates: &mut Candidates) -> (usize, f64) {
        let shift = self.groups[group.0 as usize]
            .shift
            .as_deref()
            .expect("called with a shift set");
        let mut total = 0.0;
        for &i in &self.scored_at {
            let w = shift.weight(candidates[i].route);
            candidates[i].score = Some(w);
            total += w;
        }
        let mut x = self.rng.random::<f64>() * total;
        let mut pick = self.scored_at[0];
        for &i in &self.scored_at {
            let w = candidates[i].score.unwrap_or(0.0);
            if w <= 0.0 {
                continue;
            }
            pick = i;
            if x < w {
                break;
            }
            x -= w;
        }
        let p = candidates[pick].score.unwrap_or(0.0) / total;
        (pick, p)
    }

    /// The highest price an attempt of this verification may have, if the plan caps it: the
    /// per-attempt cap, and what `max_verification_cost` leaves after the attempts already
    /// launched (each counted at its price, since a pending one may yet be billed). A hair of
    /// tolerance, so that prices adding up to the cap exactly are not refused for rounding.
    fn price_cap(shared: &Shared, plan: &Plan, tried: &[RouteId]) -> Option<f64> {
        let left = plan.max_verification_cost.map(|max| {
            let committed: f64 = tried.iter().map(|t| shared.table.route(*t).cost).sum();
            max - committed
        });
        let cap = match (plan.max_attempt_cost, left) {
            (Some(a), Some(b)) => a.min(b),
            (a, b) => a.or(b)?,
        };
        Some(cap + 1e-9 * cap.abs().max(1.0))
    }

    #[allow(clippy::too_many_arguments)]
    fn chosen(
        &mut self,
        shared: &Shared,
        r: RouteId,
        plan: &Plan,
        remaining: Duration,
        reason: DecisionReason,
        probability: Option<f64>,
        probe: bool,
    ) -> DecisionOut {
        let timeout = shared.attempt_timeout(&self.routes[r.index()], plan);
        let mut wait = timeout.min(remaining);
        if probe {
            wait = wait.min(shared.policy.probe.timeout);
        }
        DecisionOut {
            chosen: Some(r),
            reason,
            probability,
            probe,
            timeout,
            wait,
        }
    }
}
