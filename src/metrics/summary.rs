//! The run summary: plain, serde-serializable data. Durations and times are seconds (`f64`);
//! every float is finite; `None` serializes as `null` (see the module docs for when).

use failover_router::{Country, NumberType, RouteState};
use serde::{Deserialize, Serialize};

use super::histogram::SerializedHistogram;

/// Version of the [`PolicyRun`] format. Bump it when a field changes meaning or disappears, so
/// that readers can refuse versions they do not know. Added fields do not bump it: they default
/// (to 0) when a file written before them is read (`caller_abandoned`).
pub const FORMAT_VERSION: u32 = 1;

/// Everything one simulation run of one policy measured.
/// Decimal places of every reported cost (totals, per success, per route, per bucket):
/// millionths of the routing table's currency unit, finer than any SMS price, and coarse enough
/// that a sum of thousands of prices reads as the money it is (`2371.98`, not the
/// `2371.980000001545` floating-point addition leaves).
pub const COST_DECIMALS: i32 = 6;

/// `x` rounded to [`COST_DECIMALS`] places.
pub fn round_cost(x: f64) -> f64 {
    let scale = 10f64.powi(COST_DECIMALS);
    // Dividing the rounded integer gives the double nearest the decimal, which prints as it.
    (x * scale).round() / scale
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PolicyRun {
    pub format_version: u32,
    pub window: RunWindow,
    pub metrics: Metrics,
    pub status_counts: StatusCounts,
    pub totals: Totals,
    pub faults: Vec<FaultImpact>,
    /// Router restarts (`[[restarts]]`) as the run saw them, in time order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub restarts: Vec<RestartRecord>,
    /// Indexed by route id.
    pub routes: Vec<RouteStats>,
    /// Provider names, the column order of [`BucketRow::provider_attempts`].
    pub providers: Vec<String>,
    /// Every panic-mode interval of the run (not clipped to the measured window), by start.
    pub panic: Vec<PanicInterval>,
    pub timeseries: Vec<BucketRow>,
    /// Time to verify of measured delivered verifications, microseconds.
    pub ttv_histogram: SerializedHistogram,
    /// Latency of every `Attempt` event of measured verifications (all outcomes), seconds.
    pub attempt_latency: Quantiles,
    /// The same, microseconds.
    pub attempt_latency_histogram: SerializedHistogram,
}

/// A router restart, as the new router's `started` event told it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RestartRecord {
    /// Seconds.
    pub at: f64,
    /// The new router restored the old one's state.
    pub warm: bool,
    /// Routes the new router started out of service (restored ejections, force-ejects).
    pub routes_out: u64,
    /// Routes it started probing (ejections that ran out).
    pub routes_probing: u64,
}

/// The time frame of the run, seconds.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunWindow {
    pub warmup: f64,
    pub duration: f64,
    /// When the recorder was finished (the run's end, drain included).
    pub end: f64,
    pub bucket: f64,
}

/// The headline metrics (DESIGN.md section 5), over measured verifications.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    pub verifications: u64,
    pub success_rate: f64,
    pub conversion_rate: f64,
    pub time_to_verify: Quantiles,
    pub attempts_per_verification: f64,
    pub failover_rate: f64,
    pub cost_total: f64,
    pub cost_per_success: Option<f64>,
    pub duplicate_deliveries: u64,
    pub ejections: u64,
    pub flaps: u64,
    pub late_deliveries: u64,
    /// Seconds, summed over (country, number type) groups.
    pub panic_time: f64,
    /// Verifications whose caller gave up waiting (`caller_timeout`) and dropped them
    /// unfinished: counted in `verifications`, never successful.
    #[serde(default)]
    pub caller_abandoned: u64,
}

/// Quantiles of a latency distribution, seconds. All `None` when nothing was recorded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Quantiles {
    pub p50: Option<f64>,
    pub p90: Option<f64>,
    pub p99: Option<f64>,
    pub p999: Option<f64>,
    pub max: Option<f64>,
}

/// How measured verifications ended. The fields add up to `verifications`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusCounts {
    pub delivered: u64,
    pub deadline_exceeded: u64,
    pub attempts_exhausted: u64,
    pub no_route: u64,
    pub retry_budget_exhausted: u64,
    pub invalid_destination: u64,
    /// Dropped unfinished by a caller that gave up waiting (`caller_timeout`).
    #[serde(default)]
    pub caller_abandoned: u64,
    /// Stopped because every route left was at a provider or route limit (`[limits]`).
    #[serde(default)]
    pub provider_limit: u64,
    /// Stopped because no route fitted the policy's cost caps.
    #[serde(default)]
    pub cost_cap: u64,
}

impl StatusCounts {
    pub fn total(&self) -> u64 {
        self.delivered
            + self.deadline_exceeded
            + self.attempts_exhausted
            + self.no_route
            + self.retry_budget_exhausted
            + self.invalid_destination
            + self.caller_abandoned
            + self.provider_limit
            + self.cost_cap
    }
}

/// Raw totals behind the rates, over measured verifications.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Totals {
    /// Sum of `Finished::attempts`, and of the attempts of verifications dropped by their
    /// caller: attempts launched.
    pub attempts_launched: u64,
    /// `Attempt` events (an attempt abandoned and never resolved has none).
    pub attempt_events: u64,
    /// `Attempt` events that delivered.
    pub attempt_deliveries: u64,
    pub conversions: u64,
    /// Sum of `Finished::cost` (excludes stragglers billed after their verification ended).
    pub finished_cost: f64,
    /// Events naming a route id outside the configured table: a misconfiguration when not 0.
    pub ignored_events: u64,
}

/// Failures by [`FailureKind`](failover_router::FailureKind).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailureCounts {
    pub unavailable: u64,
    pub timeout: u64,
    pub rate_limited: u64,
    pub no_inventory: u64,
    pub rejected: u64,
    pub undelivered: u64,
    pub invalid_destination: u64,
}

impl FailureCounts {
    pub fn total(&self) -> u64 {
        self.unavailable
            + self.timeout
            + self.rate_limited
            + self.no_inventory
            + self.rejected
            + self.undelivered
            + self.invalid_destination
    }
}

/// A route's effective state in the summary (the router's `RouteState`, readable back).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimelineState {
    Healthy,
    Ejected,
    Probing,
}

impl From<RouteState> for TimelineState {
    fn from(s: RouteState) -> Self {
        match s {
            RouteState::Healthy => TimelineState::Healthy,
            RouteState::Ejected => TimelineState::Ejected,
            RouteState::Probing => TimelineState::Probing,
        }
    }
}

/// The route entered `state` at `at` (seconds). Routes start healthy.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct StateTransition {
    pub at: f64,
    pub state: TimelineState,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RouteStats {
    pub route: u32,
    pub label: String,
    pub provider: String,
    pub country: Country,
    pub number_type: NumberType,
    /// `Attempt` events of measured verifications.
    pub attempts: u64,
    pub deliveries: u64,
    pub failures: FailureCounts,
    pub late_deliveries: u64,
    pub cost: f64,
    /// Effective ejections in the measured time window.
    pub ejections: u64,
    /// Ejections evaluated in shadow mode (logged, not acted on), measured time window.
    pub shadow_ejections: u64,
    pub flaps: u64,
    /// Seconds out of service (ejected or probing) within the measured time window.
    pub time_ejected: f64,
    /// Every effective transition of the run, in order.
    pub timeline: Vec<StateTransition>,
}

/// One stretch of panic mode of a (country, number type), seconds.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct PanicInterval {
    pub country: Country,
    pub number_type: NumberType,
    pub start: f64,
    pub end: f64,
    /// Still in panic when the run ended (`end` is the run's end).
    pub open: bool,
}

/// Which rule detected a fault.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DetectedBy {
    Ejection,
    TrafficShift,
}

/// What one injected fault did, and how fast the policy reacted.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FaultImpact {
    pub name: String,
    pub start: f64,
    pub end: f64,
    pub affected_routes: Vec<u32>,
    /// Affected share of in-scope sends over the 60 s before the fault; `None` without traffic.
    pub pre_fault_share: Option<f64>,
    pub detection_delay: Option<f64>,
    pub detected_by: Option<DetectedBy>,
    /// Some 10 s span during the fault had its affected share below half the pre-fault share.
    pub traffic_shifted: bool,
    /// The policy reacted to the fault: an affected route was out of service at some point
    /// from the fault's start, or traffic shifted away. Without a reaction there is nothing to
    /// recover from, and `recovery_delay` is `None` rather than an instant recovery.
    #[serde(default)]
    pub reacted: bool,
    pub recovery_delay: Option<f64>,
    pub verifications_during_fault: u64,
    pub failed_during_fault: u64,
}

/// One time-series bucket `[start, start + bucket)`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BucketRow {
    /// Seconds.
    pub start: f64,
    /// The bucket lies entirely inside the measured window.
    pub measured: bool,
    /// Verifications that started in the bucket (measured or not).
    pub verifications: u64,
    /// Of those, delivered.
    pub delivered: u64,
    /// delivered / verifications; `None` when none started.
    pub success_rate: Option<f64>,
    /// Of those, with more than one attempt.
    pub failovers: u64,
    /// Conversions reported in the bucket.
    pub conversions: u64,
    /// `Attempt` events in the bucket.
    pub attempts: u64,
    /// Their cost.
    pub cost: f64,
    /// Effective ejections in the bucket.
    pub ejections: u64,
    /// TTV quantiles of the bucket's delivered verifications, seconds (log-binned, within 3.2 %).
    pub ttv_p50: Option<f64>,
    pub ttv_p99: Option<f64>,
    /// `Attempt` events per provider, in [`PolicyRun::providers`] order.
    pub provider_attempts: Vec<u64>,
    /// Verifications that started in the bucket and were dropped unfinished by a caller that
    /// gave up waiting (`caller_timeout`).
    #[serde(default)]
    pub caller_abandoned: u64,
}
