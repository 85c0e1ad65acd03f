//! The event recorder and the versioned summary of one simulation run.
//!
//! The router reports everything it does as [`RouterEvent`](failover_router::RouterEvent)s.
//! [`Recorder`] is an [`EventSink`](failover_router::EventSink) that folds that stream into
//! fixed-size aggregates while the simulation runs, and [`Recorder::finish`] turns them into a
//! [`PolicyRun`]: plain serde data that reporters render and gates compare. Statistics never know
//! about rendering; nothing here formats a table or draws a chart.
//!
//! # Why it is shaped so
//!
//! - **Memory does not grow with run length.** A simulated day at 200 verifications/s is 17 M
//!   verifications; keeping one record each would cost gigabytes. The recorder keeps fixed-size
//!   hdrhistograms, one row per time bucket (run length / bucket rows), counters per route and
//!   per fault, and the route-state transitions (rare by construction: they are what the
//!   ejection backoff limits). Nothing is stored per verification. [`Recorder::memory_footprint`]
//!   makes that checkable.
//! - **`emit` does not allocate.** It takes one uncontended lock and updates counters. The only
//!   allocations are amortised growth: a new time-series row when virtual time crosses a bucket
//!   (rows for `[0, duration)` are reserved up front), a route-state transition, a panic interval.
//! - **Deterministic output.** Everything reaching the summary lives in `Vec`s indexed by route,
//!   provider, bucket or fault, in event order; no hash map is iterated. Float sums follow event
//!   order, which the simulation makes deterministic.
//!
//! # Definitions (DESIGN.md section 5: one meaning everywhere)
//!
//! **Measured verifications.** A verification is *measured* when it started in the measured
//! window `[warmup, duration)`: its [`Finished::started`](failover_router::event::Finished)
//! lies in the window. Every verification-level metric counts measured verifications only.
//! Events that arrive *after* a verification's `Finished` (conversions, late deliveries,
//! attempts of abandoned stragglers) carry only its id. The embedder assigns ids in arrival
//! order, so the measured verifications form one contiguous id range: the recorder notes the id
//! of the first verification whose first decision (`Decision` with `attempt == 1`, stamped at
//! the same instant as `Finished::started`) falls at or after `warmup`, and the first at or
//! after `duration`; an id is measured iff it lies in `[first_in_window, first_after_window)`.
//! This needs two integers instead of a set of ids, and is exact as long as ids increase with
//! start time (the lab's traffic generator guarantees it; in virtual time the first decision and
//! `started` are the same instant).
//!
//! - `verifications`: measured `Finished` events (a verification its caller dropped has one too,
//!   with status `abandoned`). Each is counted once, in exactly one status of [`StatusCounts`].
//! - `success_rate` = status `delivered` / verifications (a code reached the user, by any attempt,
//!   before the deadline: this includes an attempt that timed out and then delivered while the
//!   verification was still running). A verification its caller gave up on is not a success:
//!   whatever the router did afterwards, the caller had already answered its user.
//! - `caller_abandoned`: measured verifications whose caller gave up waiting (`caller_timeout`)
//!   and dropped them unfinished (`Finished` with status `abandoned`, carrying the attempts
//!   launched so far). Their attempts pending at the drop are still judged by the router's
//!   watcher, so they have `Attempt` events and count in cost and per route.
//! - `conversion_rate` = `Conversion` events of measured ids / verifications. The router emits at
//!   most one conversion per delivered verification; the recorder does not deduplicate.
//! - `time_to_verify`: `Finished::time_to_verify` of delivered measured verifications, in an
//!   hdrhistogram of microseconds (1 us .. 1 h, 3 significant digits, values above 1 h saturate);
//!   reported as p50, p90, p99, p99.9 and max, in seconds.
//! - `attempts_per_verification` = sum of `Finished::attempts` (attempts *launched*) /
//!   verifications; `failover_rate` = share of verifications with `attempts > 1`.
//! - `cost_total` = sum of `AttemptFinished::cost` over every `Attempt` event of a measured id,
//!   whenever it arrives: attempts before `Finished` (exactly the ones summed in
//!   `Finished::cost`), timed-out attempts (billed at the timeout; a later delivery adds no
//!   cost), and abandoned stragglers that resolve after `Finished` (billed then). A straggler
//!   that resolves after [`Recorder::finish`] is not seen and not counted, so drain the run
//!   (deadline + late-delivery grace) before finishing. `cost_per_success` = cost_total /
//!   delivered.
//! - `duplicate_deliveries`: `LateDelivery` events of measured ids with `duplicate == true` (the
//!   user got the code twice); `late_deliveries`: all `LateDelivery` events of measured ids.
//! - `ejections`: effective transitions *to* `ejected` (from healthy or probing) whose time lies
//!   in the measured time window `[warmup, min(duration, end))`. A transition is effective
//!   unless it is marked `shadow`; manual transitions are always effective (they are computed
//!   from the effective state, even when they enter shadow mode). Shadow ejections are counted
//!   apart, per route.
//! - `flaps`: ejections (as above) that come at most `flap_window` after the route's latest
//!   restoration to healthy. Every ejection clears the restoration, so eject, restore, eject
//!   within the window is one flap, and a failed probe after a flap is not a second one.
//! - `time_ejected` (per route): time in the measured time window during which the route was
//!   out of service (ejected or probing); an interval still open at `end` is closed there.
//! - `panic_time`: sum over (country, number type) of the time in panic mode within the measured
//!   time window; intervals still open at `end` are closed there.
//!
//! Per-route traffic counters (attempts, deliveries, failures by kind, cost, late deliveries)
//! count `Attempt` / `LateDelivery` events of measured ids, so they add up to the run totals
//! (`sum(route.cost) == cost_total`). Route-state counters use the measured *time* window, so
//! `sum(route.ejections) == ejections`.
//!
//! **Empty denominators.** Rates and means over zero verifications (`success_rate`,
//! `conversion_rate`, `attempts_per_verification`, `failover_rate`) are `0`: nothing was
//! measured, and `verifications == 0` says so. Quantities that would describe something that
//! did not happen are `null` (`None`): `cost_per_success` with no success, TTV quantiles with
//! no delivered verification, a fault's delays when never detected / recovered, a time-series
//! bucket's success rate or TTV when no verification started in it. Every float is finite.
//!
//! # Time series
//!
//! Rows of `bucket` length cover the *whole* run `[0, end)`, warmup included (charts show it;
//! each row says whether it lies in the measured window). Verification columns
//! (`verifications`, `delivered`, `success_rate`, `failovers`, `caller_abandoned`, TTV p50 /
//! p99) are bucketed by the verification's *start*; `attempts`, `cost`, provider attempts and `ejections` by event
//! time; `conversions` by the conversion's time (a conversion does not carry its start).
//! An hdrhistogram per row would cost ~180 KiB; instead each row keeps a compact log-binned
//! histogram (16 linear sub-bins per power of two of microseconds, 1 ms .. 71 min, values
//! outside clamp to the edge bins; 1.4 KiB a row) and reports the midpoint of the bin holding
//! the nearest-rank quantile: within 3.2 % of the true value.
//!
//! # Fault impact
//!
//! Each [`FaultWindow`] is the ground truth of one injected fault: `[start, end)` and the routes
//! it affects. Its *scope* is the set of (country, number type) groups its affected routes
//! serve; traffic shares are measured within the scope, so a fault in one country is not diluted
//! by the volume of the others. An *attempt sent* is a `Decision` that chose a route (the moment
//! the router routes traffic, not when the attempt resolves: a black-hole fault would otherwise
//! show up one timeout late). The *affected share* of a span is affected sends / in-scope sends;
//! the *pre-fault share* is that share over `[start - 60 s, start)`.
//!
//! - `detection_delay` = (first of the following, within `[start, end)`) - start:
//!   (a) the first effective ejection of an affected route; (b) the end of the first 10 s span
//!   (spans aligned on `start`, the last one clipped to `end`) whose affected share is below half
//!   the pre-fault share. A span without in-scope sends gives no verdict; without pre-fault
//!   affected traffic there is no traffic criterion (nothing can shift away). `null` if neither
//!   happens while the fault lasts: a reaction after the fault is over is no detection.
//!   `detected_by` says which rule fired.
//! - Traffic *shifted away* if any span during the fault had its share below half the pre-fault
//!   share (whether or not an ejection came first).
//! - `recovery_delay` = R - end, where R is the first instant at or after `end` at which every
//!   affected route is in service (healthy) and, if traffic had shifted away, at least one 10 s
//!   span after the fault (aligned on `end`) has ended with an affected share of at least half
//!   the pre-fault share. `null` if that never happens before the run ends. A route that was
//!   already out of service before the fault still has to come back. `null` too when the
//!   policy never *reacted* (`reacted = false`: no affected route was out of service at any
//!   point from `start` on and traffic never shifted away): a policy that ignored the fault did
//!   not recover from it in no time, it had nothing to recover from.
//! - `verifications_during_fault` / `failed_during_fault`: measured verifications of the fault's
//!   scope that started in `[start, end)`, and those of them that did not end `delivered`.
//!
//! Faults are evaluated as events arrive, which assumes events come in non-decreasing time order
//! (the router stamps each with the current instant; the simulation is single threaded). Spans
//! are half-open: an event exactly at a span's end belongs to the next span, and the span is
//! judged with the route states as they were just before it.

pub mod audit;
pub mod baseline;
pub mod compare;
mod fault;
pub mod fit;
pub mod gate;
mod histogram;
pub mod load;
pub mod metric_path;
pub mod pareto;
mod recorder;
mod run_summary;
pub mod stats;
mod summary;

#[cfg(test)]
mod tests;

use std::time::Duration;

use failover_router::{Country, NumberType, RouteId, RoutingTable};

pub use histogram::{HistogramError, SerializedHistogram};
pub use recorder::{Ledger, Recorder};
pub use run_summary::{
    ExperimentInfo, FaultInfo, PolicySummary, PrecisionTarget, ReloadInfo, RestartInfo, RunInfo,
    RunSummary, SUMMARY_FORMAT_VERSION, ScenarioInfo,
};
pub use summary::{
    BucketRow, COST_DECIMALS, DetectedBy, FORMAT_VERSION, FailureCounts, FaultImpact, Metrics,
    PanicInterval, PolicyRun, Quantiles, RestartRecord, RouteStats, RunWindow, StateTransition,
    StatusCounts, TimelineState, Totals, round_cost,
};

/// One route as the recorder needs to know it, indexed by [`RouteId`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteInfo {
    /// `provider/CC/number_type`, as `Route::label` spells it.
    pub label: String,
    /// Index into [`RecorderConfig::providers`].
    pub provider: usize,
    /// The route's group: fault scope is the set of groups the affected routes serve.
    pub country: Country,
    pub number_type: NumberType,
}

impl RouteInfo {
    /// The routes of a routing table, in [`RouteId`] order.
    pub fn from_table(table: &RoutingTable) -> Vec<RouteInfo> {
        table
            .routes()
            .iter()
            .map(|r| RouteInfo {
                label: r.label(),
                provider: r.provider.index(),
                country: r.country,
                number_type: r.number_type,
            })
            .collect()
    }
}

/// The ground truth of one injected fault, as the experiment layer knows it from the scenario.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FaultWindow {
    pub name: String,
    pub start: Duration,
    pub end: Duration,
    /// Routes the fault actually degrades (the world's truth, which the router does not know).
    pub affected_routes: Vec<RouteId>,
}

/// What the recorder needs to know about the run: plain data the experiment layer fills from the
/// scenario.
#[derive(Clone, Debug, PartialEq)]
pub struct RecorderConfig {
    /// Verifications started before this are warmup: not measured.
    pub warmup: Duration,
    /// Verifications started at or after this are not measured (the run may go on to drain).
    pub duration: Duration,
    /// Time-series bucket length. Must be positive. Each bucket of the run costs ~1.5 KiB
    /// (counters, provider columns, the TTV bins), reserved up front for `[0, duration)`: a
    /// day of 1 s buckets is ~130 MB, of 10 s buckets ~13 MB.
    pub bucket: Duration,
    /// Indexed by [`RouteId`].
    pub routes: Vec<RouteInfo>,
    /// Provider names, indexed by [`RouteInfo::provider`].
    pub providers: Vec<String>,
    pub faults: Vec<FaultWindow>,
    /// A re-ejection at most this long after a restoration is a flap.
    pub flap_window: Duration,
}

impl RecorderConfig {
    /// The default [`RecorderConfig::flap_window`].
    pub const DEFAULT_FLAP_WINDOW: Duration = Duration::from_secs(300);

    /// A configuration for `table`'s routes and providers, with no faults and the default flap
    /// window.
    pub fn from_table(
        table: &RoutingTable,
        warmup: Duration,
        duration: Duration,
        bucket: Duration,
    ) -> Self {
        RecorderConfig {
            warmup,
            duration,
            bucket,
            routes: RouteInfo::from_table(table),
            providers: table.providers().to_vec(),
            faults: Vec::new(),
            flap_window: Self::DEFAULT_FLAP_WINDOW,
        }
    }

    /// Checks what the recorder relies on.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.bucket.is_zero() {
            return Err(ConfigError::ZeroBucket);
        }
        if self.warmup > self.duration {
            return Err(ConfigError::WarmupAfterDuration {
                warmup: self.warmup,
                duration: self.duration,
            });
        }
        for (i, r) in self.routes.iter().enumerate() {
            if r.provider >= self.providers.len() {
                return Err(ConfigError::UnknownProvider {
                    route: i,
                    label: r.label.clone(),
                    provider: r.provider,
                    providers: self.providers.len(),
                });
            }
        }
        for f in &self.faults {
            if f.end < f.start {
                return Err(ConfigError::FaultEndsBeforeStart {
                    fault: f.name.clone(),
                    start: f.start,
                    end: f.end,
                });
            }
            if let Some(r) = f
                .affected_routes
                .iter()
                .find(|r| r.index() >= self.routes.len())
            {
                return Err(ConfigError::UnknownAffectedRoute {
                    fault: f.name.clone(),
                    route: r.0,
                    routes: self.routes.len(),
                });
            }
        }
        Ok(())
    }
}

/// A [`RecorderConfig`] the recorder cannot work with. Each names what to fix.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("metrics bucket must be longer than zero")]
    ZeroBucket,
    #[error(
        "warmup {warmup:?} is longer than the run duration {duration:?}: nothing would be measured"
    )]
    WarmupAfterDuration {
        warmup: Duration,
        duration: Duration,
    },
    #[error(
        "route {route} ({label}) names provider index {provider}, but only {providers} providers are listed"
    )]
    UnknownProvider {
        route: usize,
        label: String,
        provider: usize,
        providers: usize,
    },
    #[error("fault {fault:?} ends ({end:?}) before it starts ({start:?})")]
    FaultEndsBeforeStart {
        fault: String,
        start: Duration,
        end: Duration,
    },
    #[error("fault {fault:?} affects route {route}, but the routing table has {routes} routes")]
    UnknownAffectedRoute {
        fault: String,
        route: u32,
        routes: usize,
    },
}
