//! [`Recorder`]: the event sink that folds the audit trail into fixed-size aggregates.

use std::mem::size_of;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use failover_router::event::{
    AttemptFinished, Conversion, Decision, Finished, LateDelivery, PanicChange, StateChange,
    StateReason,
};
use failover_router::{
    AttemptOutcome, Country, EventSink, FailureKind, NumberType, RouteState, RouterEvent, Started,
    VerificationId, VerificationStatus, WarmStart,
};
use hdrhistogram::Histogram;

use super::fault::FaultTracker;
use super::histogram::{SerializedHistogram, latency_histogram, log_bins, micros, quantiles};
use super::summary::round_cost;
use super::summary::{
    BucketRow, FORMAT_VERSION, FailureCounts, Metrics, PanicInterval, PolicyRun, RestartRecord,
    RouteStats, RunWindow, StateTransition, StatusCounts, Totals,
};
use super::{ConfigError, RecorderConfig};

/// Records one simulation run. Hand it to the router as its sink (behind an `Arc`), then call
/// [`Recorder::finish`] (or [`Recorder::summary`] through the `Arc`) when the run has drained.
pub struct Recorder {
    config: RecorderConfig,
    state: Mutex<State>,
}

struct State {
    /// Id of the first verification whose first decision was at or after `warmup`.
    first_in_window: Option<u64>,
    /// Id of the first verification whose first decision was at or after `duration`.
    first_after_window: Option<u64>,

    verifications: u64,
    /// Measured verifications by how they ended: [`status_index`], then [`CALLER_ABANDONED`].
    status: [u64; STATUSES],
    failovers: u64,
    totals: Totals,
    cost_total: f64,
    late_deliveries: u64,
    duplicate_deliveries: u64,
    ttv: Histogram<u64>,
    attempt_latency: Histogram<u64>,

    routes: Vec<RouteAcc>,

    panic_open: Vec<(Country, NumberType, Duration)>,
    panic_closed: Vec<(Country, NumberType, Duration, Duration)>,
    restarts: Vec<RestartRecord>,

    rows: Vec<Row>,
    /// `rows.len() * providers` attempt counts, row-major.
    provider_attempts: Vec<u64>,
    /// `rows.len() * LOG_BINS` TTV bins, row-major.
    ttv_bins: Vec<u32>,

    faults: Vec<FaultTracker>,
    ledger: Ledger,
    /// The smallest [`FaultTracker::due`] of `faults` when last advanced: events before it
    /// cannot move any tracker, so most events skip them altogether.
    faults_due: Duration,
}

#[derive(Clone, Copy, Default)]
struct Row {
    verifications: u64,
    delivered: u64,
    failovers: u64,
    caller_abandoned: u64,
    conversions: u64,
    attempts: u64,
    cost: f64,
    ejections: u64,
}

struct RouteAcc {
    attempts: u64,
    deliveries: u64,
    failures: [u64; 7],
    late_deliveries: u64,
    cost: f64,
    ejections: u64,
    shadow_ejections: u64,
    flaps: u64,
    state: RouteState,
    /// Out of service since (set while not healthy).
    down_since: Option<Duration>,
    /// Closed out-of-service time inside the measured time window.
    time_down: Duration,
    /// Latest restoration to healthy, cleared by the next ejection.
    last_restored: Option<Duration>,
    timeline: Vec<(Duration, RouteState)>,
}

impl RouteAcc {
    fn new() -> Self {
        RouteAcc {
            attempts: 0,
            deliveries: 0,
            failures: [0; 7],
            late_deliveries: 0,
            cost: 0.0,
            ejections: 0,
            shadow_ejections: 0,
            flaps: 0,
            state: RouteState::Healthy,
            down_since: None,
            time_down: Duration::ZERO,
            last_restored: None,
            timeline: Vec::new(),
        }
    }
}

fn kind_index(k: FailureKind) -> usize {
    match k {
        FailureKind::Unavailable => 0,
        FailureKind::Timeout => 1,
        FailureKind::RateLimited => 2,
        FailureKind::NoInventory => 3,
        FailureKind::Rejected => 4,
        FailureKind::Undelivered => 5,
        FailureKind::InvalidDestination => 6,
    }
}

/// The [`State::status`] slot of verifications dropped by a caller that gave up waiting.
const CALLER_ABANDONED: usize = 6;
const STATUSES: usize = 9;

fn status_index(s: VerificationStatus) -> usize {
    match s {
        VerificationStatus::Delivered => 0,
        VerificationStatus::DeadlineExceeded => 1,
        VerificationStatus::AttemptsExhausted => 2,
        VerificationStatus::NoRoute => 3,
        VerificationStatus::RetryBudgetExhausted => 4,
        VerificationStatus::InvalidDestination => 5,
        VerificationStatus::Abandoned => CALLER_ABANDONED,
        VerificationStatus::ProviderLimit => 7,
        VerificationStatus::CostCap => 8,
    }
}

/// Length of `[a, b) ∩ [lo, hi)`.
fn overlap(a: Duration, b: Duration, lo: Duration, hi: Duration) -> Duration {
    b.min(hi).saturating_sub(a.max(lo))
}

fn ratio(num: f64, den: u64) -> f64 {
    if den == 0 { 0.0 } else { num / den as f64 }
}

impl Recorder {
    pub fn new(config: RecorderConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        let reserved = buckets_covering(config.duration, config.bucket);
        let state = State {
            first_in_window: None,
            first_after_window: None,
            verifications: 0,
            status: [0; STATUSES],
            failovers: 0,
            totals: Totals::default(),
            ledger: Ledger::default(),
            cost_total: 0.0,
            late_deliveries: 0,
            duplicate_deliveries: 0,
            ttv: latency_histogram(),
            attempt_latency: latency_histogram(),
            routes: config.routes.iter().map(|_| RouteAcc::new()).collect(),
            panic_open: Vec::new(),
            panic_closed: Vec::new(),
            restarts: Vec::new(),
            rows: Vec::with_capacity(reserved),
            provider_attempts: Vec::with_capacity(reserved * config.providers.len()),
            ttv_bins: Vec::with_capacity(reserved * log_bins::LOG_BINS),
            faults: config
                .faults
                .iter()
                .map(|f| FaultTracker::new(f, &config.routes))
                .collect(),
            faults_due: Duration::ZERO,
        };
        Ok(Recorder {
            config,
            state: Mutex::new(state),
        })
    }

    pub fn config(&self) -> &RecorderConfig {
        &self.config
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic in another thread mid-update leaves counters at worst one event short.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Closes open intervals at `end` (the run's end, drain included; at or after the last
    /// event) and summarises the run.
    pub fn finish(self, end: Duration) -> PolicyRun {
        self.summary(end)
    }

    /// [`Recorder::finish`] without consuming the recorder, for a recorder still shared with a
    /// router (straggler tasks keep router clones alive). Recording may go on afterwards.
    pub fn summary(&self, end: Duration) -> PolicyRun {
        let st = self.lock();
        st.summarize(&self.config, end)
    }

    /// An estimate of the bytes the recorder holds (its state and everything it owns). It grows
    /// with the number of time-series rows, routes, faults and state transitions, never with the
    /// number of verifications.
    pub fn memory_footprint(&self) -> usize {
        let st = self.lock();
        size_of::<Self>()
            + size_of::<State>()
            + (st.ttv.distinct_values() + st.attempt_latency.distinct_values()) * size_of::<u64>()
            + st.routes.capacity() * size_of::<RouteAcc>()
            + st.routes
                .iter()
                .map(|r| r.timeline.capacity() * size_of::<(Duration, RouteState)>())
                .sum::<usize>()
            + st.panic_open.capacity() * size_of::<(Country, NumberType, Duration)>()
            + st.panic_closed.capacity() * size_of::<(Country, NumberType, Duration, Duration)>()
            + st.rows.capacity() * size_of::<Row>()
            + st.provider_attempts.capacity() * size_of::<u64>()
            + st.ttv_bins.capacity() * size_of::<u32>()
            + st.faults.capacity() * size_of::<FaultTracker>()
            + st.faults
                .iter()
                .map(FaultTracker::heap_bytes)
                .sum::<usize>()
    }

    /// What the run's conservation law is checked on: every verification and attempt, measured
    /// or not.
    pub fn ledger(&self) -> Ledger {
        self.lock().ledger
    }

    /// Number of time-series rows allocated so far (bounded by the latest event time / bucket).
    pub fn timeseries_len(&self) -> usize {
        self.lock().rows.len()
    }
}

/// Counts over every event of a run, warmup and drain included: the run's conservation law
/// (every arrival ends exactly once, every launched attempt is judged exactly once) is checked
/// on them before any result is reported.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Ledger {
    /// `Finished` events.
    pub finished: u64,
    /// Sum of `Finished::attempts`: attempts launched.
    pub launched: u64,
    /// `Attempt` events: attempts judged.
    pub judged: u64,
    /// `Abandoned` events for a full watcher table or no runtime: attempts the router may have
    /// stopped watching before judging them (a `grace_expired` one was judged already).
    pub evicted: u64,
}

impl Ledger {
    #[inline]
    fn count(&mut self, event: &RouterEvent<'_>) {
        match event {
            RouterEvent::Finished(e) => {
                self.finished += 1;
                self.launched += u64::from(e.attempts);
            }
            RouterEvent::Attempt(_) => self.judged += 1,
            RouterEvent::Abandoned(e) => {
                self.evicted +=
                    u64::from(e.reason != failover_router::event::AbandonReason::GraceExpired);
            }
            _ => {}
        }
    }
}

fn bucket_index(at: Duration, bucket: Duration) -> usize {
    let (at, bucket) = (at.as_nanos(), bucket.as_nanos());
    // 64-bit division whenever both fit (any run shorter than 584 years): it runs per event,
    // and 128-bit division is a library call.
    let i = match (u64::try_from(at), u64::try_from(bucket)) {
        (Ok(a), Ok(b)) => u128::from(a / b),
        _ => at / bucket,
    };
    usize::try_from(i).unwrap_or(usize::MAX)
}

/// Number of buckets needed to cover `[0, t)`.
fn buckets_covering(t: Duration, bucket: Duration) -> usize {
    bucket_index(t, bucket) + usize::from(!t.as_nanos().is_multiple_of(bucket.as_nanos()))
}

impl EventSink for Recorder {
    fn emit(&self, event: &RouterEvent<'_>) {
        let mut st = self.lock();
        let at = event.at();
        if at >= st.faults_due {
            st.advance_faults(at);
        }
        let cfg = &self.config;
        st.ledger.count(event);
        match event {
            RouterEvent::Decision(e) => st.decision(cfg, e),
            RouterEvent::Attempt(e) => st.attempt(cfg, e),
            RouterEvent::LateDelivery(e) => st.late(e),
            RouterEvent::StateChange(e) => st.state_change(cfg, e),
            // Audited (the audit file has them), not aggregated.
            RouterEvent::TripSuppressed(_)
            | RouterEvent::Abandoned(_)
            | RouterEvent::Reloaded(_)
            | RouterEvent::OverrideSet(_)
            | RouterEvent::OverrideExpired(_)
            | RouterEvent::TrafficShiftSet(_)
            | RouterEvent::TrafficShiftCleared(_) => {}
            RouterEvent::PanicEnter(e) => st.panic_enter(e),
            RouterEvent::PanicExit(e) => st.panic_exit(e),
            RouterEvent::Finished(e) => st.finished(cfg, e),
            RouterEvent::Conversion(e) => st.conversion(cfg, e),
            RouterEvent::Started(e) => st.started(cfg, e),
        }
    }
}

impl State {
    fn advance_faults(&mut self, at: Duration) {
        let mut due = Duration::MAX;
        for f in &mut self.faults {
            f.advance(at);
            due = due.min(f.due());
        }
        self.faults_due = due;
    }

    fn measured_id(&self, v: VerificationId) -> bool {
        self.first_in_window.is_some_and(|a| v.0 >= a)
            && self.first_after_window.is_none_or(|b| v.0 < b)
    }

    /// The row holding `at`, allocated (zeroed, with its provider and TTV columns) on demand.
    fn row(&mut self, cfg: &RecorderConfig, at: Duration) -> usize {
        let i = bucket_index(at, cfg.bucket);
        if i >= self.rows.len() {
            let n = i + 1;
            self.rows.resize(n, Row::default());
            self.provider_attempts.resize(n * cfg.providers.len(), 0);
            self.ttv_bins.resize(n * log_bins::LOG_BINS, 0);
        }
        i
    }

    fn decision(&mut self, cfg: &RecorderConfig, e: &Decision<'_>) {
        if e.attempt == 0 {
            // A dry run: no verification, no traffic.
            return;
        }
        if e.attempt == 1 {
            if self.first_in_window.is_none() && e.at >= cfg.warmup {
                self.first_in_window = Some(e.verification.0);
            }
            if self.first_after_window.is_none() && e.at >= cfg.duration {
                self.first_after_window = Some(e.verification.0);
            }
        }
        if let Some(route) = e.chosen {
            let r = route.index();
            if r >= self.routes.len() {
                self.totals.ignored_events += 1;
                return;
            }
            for f in &mut self.faults {
                f.on_send(e.at, r);
            }
        }
    }

    fn attempt(&mut self, cfg: &RecorderConfig, e: &AttemptFinished) {
        let r = e.route.index();
        if r >= self.routes.len() {
            self.totals.ignored_events += 1;
            return;
        }
        let i = self.row(cfg, e.at);
        let row = &mut self.rows[i];
        row.attempts += 1;
        row.cost += e.cost;
        let providers = cfg.providers.len();
        self.provider_attempts[i * providers + cfg.routes[r].provider] += 1;

        if !self.measured_id(e.verification) {
            return;
        }
        self.totals.attempt_events += 1;
        self.cost_total += e.cost;
        self.attempt_latency.saturating_record(micros(e.latency));
        let acc = &mut self.routes[r];
        acc.attempts += 1;
        acc.cost += e.cost;
        match e.outcome {
            AttemptOutcome::Delivered => {
                acc.deliveries += 1;
                self.totals.attempt_deliveries += 1;
            }
            AttemptOutcome::Failed(k) => acc.failures[kind_index(k)] += 1,
        }
    }

    fn late(&mut self, e: &LateDelivery) {
        let r = e.route.index();
        if r >= self.routes.len() {
            self.totals.ignored_events += 1;
            return;
        }
        if !self.measured_id(e.verification) {
            return;
        }
        self.late_deliveries += 1;
        self.duplicate_deliveries += u64::from(e.duplicate);
        self.routes[r].late_deliveries += 1;
    }

    fn state_change(&mut self, cfg: &RecorderConfig, e: &StateChange) {
        let r = e.route.index();
        if r >= self.routes.len() {
            self.totals.ignored_events += 1;
            return;
        }
        let in_window = e.at >= cfg.warmup && e.at < cfg.duration;
        // Manual transitions are computed on the effective state, even when entering shadow.
        if e.shadow && e.reason != StateReason::Manual {
            if e.to == RouteState::Ejected && in_window {
                self.routes[r].shadow_ejections += 1;
            }
            return;
        }
        let acc = &mut self.routes[r];
        let was = acc.state;
        if was == e.to {
            return;
        }
        acc.state = e.to;
        acc.timeline.push((e.at, e.to));
        if was == RouteState::Healthy {
            acc.down_since = Some(e.at);
        }
        if e.to == RouteState::Healthy {
            if let Some(since) = acc.down_since.take() {
                acc.time_down += overlap(since, e.at, cfg.warmup, cfg.duration);
            }
            acc.last_restored = Some(e.at);
        }
        let ejected = e.to == RouteState::Ejected;
        if ejected {
            let restored = acc.last_restored.take();
            if in_window {
                acc.ejections += 1;
                if restored.is_some_and(|t| e.at - t <= cfg.flap_window) {
                    acc.flaps += 1;
                }
            }
            let i = self.row(cfg, e.at);
            self.rows[i].ejections += 1;
        }
        let (was_up, up) = (was == RouteState::Healthy, e.to == RouteState::Healthy);
        for f in &mut self.faults {
            f.on_state_change(e.at, r, was_up, up, ejected);
        }
    }

    /// A new router took over (a restart): from now on route states and panic are its own.
    /// Its starting states are carried over, not counted as ejections or restorations: the
    /// state machine decided none of them now.
    fn started(&mut self, cfg: &RecorderConfig, e: &Started<'_>) {
        let state_of = |r: usize| {
            e.routes
                .iter()
                .find(|x| x.route.index() == r)
                .map_or(RouteState::Healthy, |x| x.state)
        };
        self.restarts.push(RestartRecord {
            at: e.at.as_secs_f64(),
            warm: matches!(e.warm_start, WarmStart::Restored { .. }),
            routes_out: e
                .routes
                .iter()
                .filter(|x| x.state == RouteState::Ejected)
                .count() as u64,
            routes_probing: e
                .routes
                .iter()
                .filter(|x| x.state == RouteState::Probing)
                .count() as u64,
        });
        for r in 0..self.routes.len() {
            let to = state_of(r);
            let acc = &mut self.routes[r];
            let was = acc.state;
            if was == to {
                continue;
            }
            acc.state = to;
            acc.timeline.push((e.at, to));
            if was == RouteState::Healthy {
                acc.down_since = Some(e.at);
            }
            if to == RouteState::Healthy
                && let Some(since) = acc.down_since.take()
            {
                acc.time_down += overlap(since, e.at, cfg.warmup, cfg.duration);
            }
            let (was_up, up) = (was == RouteState::Healthy, to == RouteState::Healthy);
            for f in &mut self.faults {
                f.on_state_change(e.at, r, was_up, up, false);
            }
        }
        let listed = |c: Country, n: NumberType| {
            e.panic.iter().any(|g| g.country == c && g.number_type == n)
        };
        let (stay, end): (Vec<_>, Vec<_>) = std::mem::take(&mut self.panic_open)
            .into_iter()
            .partition(|&(c, n, _)| listed(c, n));
        self.panic_open = stay;
        self.panic_closed
            .extend(end.into_iter().map(|(c, n, s)| (c, n, s, e.at)));
        for g in e.panic {
            self.panic_enter(&PanicChange {
                at: e.at,
                country: g.country,
                number_type: g.number_type,
            });
        }
    }

    fn panic_enter(&mut self, e: &PanicChange) {
        let key = (e.country, e.number_type);
        if !self.panic_open.iter().any(|p| (p.0, p.1) == key) {
            self.panic_open.push((e.country, e.number_type, e.at));
        }
    }

    fn panic_exit(&mut self, e: &PanicChange) {
        let key = (e.country, e.number_type);
        if let Some(i) = self.panic_open.iter().position(|p| (p.0, p.1) == key) {
            let (c, nt, start) = self.panic_open.swap_remove(i);
            self.panic_closed.push((c, nt, start, e.at));
        }
    }

    fn finished(&mut self, cfg: &RecorderConfig, e: &Finished) {
        let delivered = e.status == VerificationStatus::Delivered;
        let ttv = e.time_to_verify.filter(|_| delivered);
        let i = self.row(cfg, e.started);
        let row = &mut self.rows[i];
        row.verifications += 1;
        row.delivered += u64::from(delivered);
        row.failovers += u64::from(e.attempts > 1);
        row.caller_abandoned += u64::from(e.status == VerificationStatus::Abandoned);
        if let Some(t) = ttv {
            self.ttv_bins[i * log_bins::LOG_BINS + log_bins::bin(micros(t))] += 1;
        }

        if e.started < cfg.warmup || e.started >= cfg.duration {
            return;
        }
        self.verifications += 1;
        self.status[status_index(e.status)] += 1;
        self.failovers += u64::from(e.attempts > 1);
        self.totals.attempts_launched += u64::from(e.attempts);
        self.totals.finished_cost += e.cost;
        if let Some(t) = ttv {
            self.ttv.saturating_record(micros(t));
        }
        for f in &mut self.faults {
            f.on_finished(e.started, e.country, e.number_type, delivered);
        }
    }

    fn conversion(&mut self, cfg: &RecorderConfig, e: &Conversion) {
        let i = self.row(cfg, e.at);
        self.rows[i].conversions += 1;
        if self.measured_id(e.verification) {
            self.totals.conversions += 1;
        }
    }

    fn summarize(&self, cfg: &RecorderConfig, end: Duration) -> PolicyRun {
        let window_end = cfg.duration.min(end);
        let in_window = |a: Duration, b: Duration| overlap(a, b, cfg.warmup, window_end);

        let routes: Vec<RouteStats> = self
            .routes
            .iter()
            .zip(&cfg.routes)
            .enumerate()
            .map(|(i, (acc, info))| {
                let open = acc.down_since.map_or(Duration::ZERO, |s| in_window(s, end));
                let f = &acc.failures;
                RouteStats {
                    route: i as u32,
                    label: info.label.clone(),
                    provider: cfg.providers[info.provider].clone(),
                    country: info.country,
                    number_type: info.number_type,
                    attempts: acc.attempts,
                    deliveries: acc.deliveries,
                    failures: FailureCounts {
                        unavailable: f[0],
                        timeout: f[1],
                        rate_limited: f[2],
                        no_inventory: f[3],
                        rejected: f[4],
                        undelivered: f[5],
                        invalid_destination: f[6],
                    },
                    late_deliveries: acc.late_deliveries,
                    cost: round_cost(acc.cost),
                    ejections: acc.ejections,
                    shadow_ejections: acc.shadow_ejections,
                    flaps: acc.flaps,
                    time_ejected: (acc.time_down + open).as_secs_f64(),
                    timeline: acc
                        .timeline
                        .iter()
                        .map(|&(at, s)| StateTransition {
                            at: at.as_secs_f64(),
                            state: s.into(),
                        })
                        .collect(),
                }
            })
            .collect();

        let mut panic: Vec<PanicInterval> = self
            .panic_closed
            .iter()
            .map(|&(country, number_type, s, e)| (country, number_type, s, e, false))
            .chain(
                self.panic_open
                    .iter()
                    .map(|&(country, number_type, s)| (country, number_type, s, end.max(s), true)),
            )
            .map(|(country, number_type, s, e, open)| PanicInterval {
                country,
                number_type,
                start: s.as_secs_f64(),
                end: e.as_secs_f64(),
                open,
            })
            .collect();
        let panic_time: Duration = self
            .panic_closed
            .iter()
            .map(|&(_, _, s, e)| in_window(s, e))
            .chain(self.panic_open.iter().map(|&(_, _, s)| in_window(s, end)))
            .sum();
        panic.sort_by(|a, b| {
            a.start
                .total_cmp(&b.start)
                .then(a.country.cmp(&b.country))
                .then(a.number_type.cmp(&b.number_type))
        });

        let n = self.verifications;
        let delivered = self.status[0];
        let metrics = Metrics {
            verifications: n,
            success_rate: ratio(delivered as f64, n),
            conversion_rate: ratio(self.totals.conversions as f64, n),
            time_to_verify: quantiles(&self.ttv),
            attempts_per_verification: ratio(self.totals.attempts_launched as f64, n),
            failover_rate: ratio(self.failovers as f64, n),
            cost_total: round_cost(self.cost_total),
            cost_per_success: (delivered > 0)
                .then(|| round_cost(self.cost_total / delivered as f64)),
            duplicate_deliveries: self.duplicate_deliveries,
            ejections: self.routes.iter().map(|r| r.ejections).sum(),
            flaps: self.routes.iter().map(|r| r.flaps).sum(),
            late_deliveries: self.late_deliveries,
            panic_time: panic_time.as_secs_f64(),
            caller_abandoned: self.status[CALLER_ABANDONED],
        };
        let s = &self.status;
        let status_counts = StatusCounts {
            delivered: s[0],
            deadline_exceeded: s[1],
            attempts_exhausted: s[2],
            no_route: s[3],
            retry_budget_exhausted: s[4],
            invalid_destination: s[5],
            caller_abandoned: s[CALLER_ABANDONED],
            provider_limit: s[7],
            cost_cap: s[8],
        };

        let providers = cfg.providers.len();
        let rows_at_end = buckets_covering(end, cfg.bucket);
        let timeseries = (0..self.rows.len().max(rows_at_end))
            .map(|i| {
                let row = self.rows.get(i).copied().unwrap_or_default();
                let start = Duration::from_nanos((cfg.bucket.as_nanos() * i as u128) as u64);
                let bins = self
                    .ttv_bins
                    .get(i * log_bins::LOG_BINS..(i + 1) * log_bins::LOG_BINS)
                    .unwrap_or(&[]);
                let q = |q| log_bins::quantile(bins, q).map(|us| us as f64 / 1e6);
                BucketRow {
                    start: start.as_secs_f64(),
                    measured: start >= cfg.warmup && start + cfg.bucket <= cfg.duration,
                    verifications: row.verifications,
                    delivered: row.delivered,
                    success_rate: (row.verifications > 0)
                        .then(|| row.delivered as f64 / row.verifications as f64),
                    failovers: row.failovers,
                    conversions: row.conversions,
                    attempts: row.attempts,
                    cost: round_cost(row.cost),
                    ejections: row.ejections,
                    ttv_p50: q(0.5),
                    ttv_p99: q(0.99),
                    provider_attempts: self
                        .provider_attempts
                        .get(i * providers..(i + 1) * providers)
                        .map_or_else(|| vec![0; providers], <[u64]>::to_vec),
                    caller_abandoned: row.caller_abandoned,
                }
            })
            .collect();

        let encode = |h: &Histogram<u64>| {
            SerializedHistogram::encode(h).expect("encoding into memory cannot fail")
        };
        PolicyRun {
            format_version: FORMAT_VERSION,
            window: RunWindow {
                warmup: cfg.warmup.as_secs_f64(),
                duration: cfg.duration.as_secs_f64(),
                end: end.as_secs_f64(),
                bucket: cfg.bucket.as_secs_f64(),
            },
            metrics,
            status_counts,
            totals: self.totals,
            faults: self.faults.iter().map(|f| f.impact(end)).collect(),
            restarts: self.restarts.clone(),
            routes,
            providers: cfg.providers.clone(),
            panic,
            timeseries,
            ttv_histogram: encode(&self.ttv),
            attempt_latency: quantiles(&self.attempt_latency),
            attempt_latency_histogram: encode(&self.attempt_latency),
        }
    }
}
