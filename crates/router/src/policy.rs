//! The failover policy: every threshold the router uses, with documented defaults.
//!
//! A policy is data, not code, because the whole point of the lab is to compare policies before
//! rollout: a policy author edits numbers in a file, runs them against the same simulated world,
//! and ships the file. Defaults are chosen for OTP traffic whose healthy delivery latency has a
//! p50 of a few seconds and a p99 under 30 s.
//!
//! Request-level settings (strategy, attempts, timeouts, deadline, diversity, exploration) can be
//! overridden per country and per use case; the most specific matching override wins field by
//! field (country + use case, then country, then use case, then the policy itself). Health and
//! ejection settings are per router: a route's health is one fact whatever the use case.
//! Cost caps (`max_attempt_cost`, `max_verification_cost`) are request-level too: what a
//! verification may cost is a business decision per country and use case. Provider limits
//! (`limits`) are per router: they describe the provider's account, not the traffic.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::duration::{serde_off, serde_opt, serde_str};
use crate::route::Country;

/// How the router picks among eligible candidates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// Lowest `priority` first; ties split by weight. Static: ignores health except ejection.
    Priority,
    /// Random in proportion to `weight`.
    Weighted,
    /// Lowest expected cost per successful verification, from windowed success probability,
    /// the chance of delivering within the remaining deadline, and the route's cost.
    Score,
    /// Thompson sampling from a Beta posterior over windowed delivery counts; cold routes are
    /// shrunk toward the pooled success rate of their (country, number type).
    Thompson,
}

/// Which earlier attempts of the same verification rule a candidate out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
pub enum Diversity {
    /// Only the exact routes already tried are excluded.
    None,
    /// A retry must use a provider not tried yet in this verification.
    Provider,
    /// A retry must use a new provider that shares no failure domain with any route tried.
    FailureDomain,
}

/// Attempt timeout derived from the route's observed delivery latency.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct AdaptiveTimeout {
    /// Quantile of windowed delivery latency, in (0, 1). Default 0.95.
    #[serde(default = "d_adaptive_q")]
    pub quantile: f64,
    /// Multiplier on that quantile, >= 1. Default 1.5.
    #[serde(default = "d_adaptive_factor")]
    pub factor: f64,
    /// Lower clamp. Default 5s.
    #[serde(default = "d_5s", with = "serde_str")]
    #[cfg_attr(feature = "schema", schemars(with = "crate::duration::HumanDuration"))]
    pub min: Duration,
    /// Upper clamp. Default 30s.
    #[serde(default = "d_30s", with = "serde_str")]
    #[cfg_attr(feature = "schema", schemars(with = "crate::duration::HumanDuration"))]
    pub max: Duration,
}

/// The sliding health window kept per route.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields, default)]
pub struct HealthConfig {
    /// Span of the window. Default 60s.
    #[serde(with = "serde_str")]
    #[cfg_attr(feature = "schema", schemars(with = "crate::duration::HumanDuration"))]
    pub window: Duration,
    /// Number of buckets the window is divided into (its time resolution). Default 12.
    pub buckets: u32,
    /// Outcomes a route needs in the window before any rate or latency verdict. Default 20.
    pub min_volume: u32,
    /// Latency quantile used by the latency trip and the score strategy. Default 0.95.
    pub latency_quantile: f64,
}

/// When a healthy route is ejected. Any one condition trips it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields, default)]
pub struct TripConfig {
    /// Consecutive health failures. Default 5. 0 disables.
    pub consecutive_failures: u32,
    /// Windowed health-failure rate, with at least `health.min_volume` outcomes. Default 0.5.
    pub failure_rate: f64,
    /// Windowed `health.latency_quantile` of delivery latency above this; `"off"` disables it.
    /// Keep it under the attempt timeout (only late deliveries are slower than that, which a
    /// validation warning points out) and well above a healthy route's quantile, which for
    /// SMS is often within a few seconds of the timeout: hence off by default, and slow routes
    /// are caught by their timeouts. Default off.
    #[serde(with = "serde_off")]
    #[cfg_attr(feature = "schema", schemars(with = "crate::duration::DurationOrOff"))]
    pub latency: Option<Duration>,
    /// Optional: trip when the route's windowed conversion rate (conversions / deliveries) falls
    /// below this share of its (country, number type)'s pooled rate, with `health.min_volume`
    /// deliveries on the route and conversions in the group. Relative, not absolute, because
    /// conversions arrive a think time after deliveries and fraud or abandonment lower every
    /// route alike: only a route converting worse than its peers is suspect (a grey route
    /// delivering to the wrong handsets). E.g. 0.5. Default off.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_relative_conversion: Option<f64>,
    /// Conversions are judged only on deliveries at least this old (each conversion is counted
    /// in its delivery's bucket), so a route that just started delivering (restored, or newly
    /// given traffic) is not condemned for conversions that have not had time to happen yet.
    /// Must be shorter than `health.window`. Default 30s.
    #[serde(with = "serde_str")]
    #[cfg_attr(feature = "schema", schemars(with = "crate::duration::HumanDuration"))]
    pub conversion_lag: Duration,
    /// Trip when the route's share of `invalid_destination` answers exceeds
    /// `max_relative_invalid` x its peers' share plus 5 points (with `health.min_volume`
    /// outcomes on the route and on its peers). An invalid number is the user's problem, so one
    /// answer never counts against a route; but a route calling far more numbers invalid than
    /// its peers do for the same traffic is lying about them. Relative for the same reason as
    /// conversion. 0 turns it off. Default 3.0.
    pub max_relative_invalid: f64,
}

/// How long an ejected route stays out, and how that grows for repeat offenders.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields, default)]
pub struct EjectionConfig {
    /// First ejection time. Default 30s.
    #[serde(with = "serde_str")]
    #[cfg_attr(feature = "schema", schemars(with = "crate::duration::HumanDuration"))]
    pub base: Duration,
    /// Multiplier applied on each re-ejection. Default 2.0.
    pub backoff: f64,
    /// Cap on one ejection. Default 5m.
    #[serde(with = "serde_str")]
    #[cfg_attr(feature = "schema", schemars(with = "crate::duration::HumanDuration"))]
    pub max: Duration,
    /// Uniform jitter as a share of the ejection time, so routes ejected together do not all
    /// return at once. Default 0.1.
    pub jitter: f64,
    /// After this long healthy, the backoff multiplier is divided by `backoff` (down to 1).
    /// Default 2m.
    #[serde(with = "serde_str")]
    #[cfg_attr(feature = "schema", schemars(with = "crate::duration::HumanDuration"))]
    pub decay_after: Duration,
    /// Highest share of a (country, number type)'s routes that may be ejected at once, strictly
    /// enforced: a trip that would exceed it is suppressed (and logged). As in Envoy, one
    /// route of a group may always be ejected whatever the share (a share under 1/size would
    /// otherwise protect every route of a small group, the broken ones included); 0 disables
    /// ejection altogether. Default 0.5.
    pub max_ejected_share: f64,
}

/// How an ejected route earns its way back.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields, default)]
pub struct ProbeConfig {
    /// Largest share of its group's decisions a probing route receives. Default 0.05.
    pub share: f64,
    /// Probe deliveries needed before restoring. Default 3.
    pub successes: u32,
    /// Probe health-failure rate at or under which the route may be restored; must be stricter
    /// than `trip.failure_rate` (hysteresis). Default 0.1.
    pub recover_failure_rate: f64,
    /// A probe delivered slower than this does not vouch for the route: it counts as a failed
    /// probe (one delivered slower than `trip.latency` re-ejects it). Must be under
    /// `trip.latency`; `"off"` disables it (a probe slower than the attempt timeout has timed out
    /// anyway). Default off.
    #[serde(with = "serde_off")]
    #[cfg_attr(feature = "schema", schemars(with = "crate::duration::DurationOrOff"))]
    pub recover_latency: Option<Duration>,
    /// How long a verification waits on a probe before failing over elsewhere. The probe
    /// itself is still judged at the full attempt timeout (a slow healthy route is not failed
    /// for it); only the user stops waiting on a route that is still suspect. Default 10s.
    #[serde(with = "serde_str")]
    #[cfg_attr(feature = "schema", schemars(with = "crate::duration::HumanDuration"))]
    pub timeout: Duration,
    /// Probe credit is also earned by time: one probe per `interval` at most, whatever the
    /// traffic, so a route of a quiet country is restored in minutes, not hours. Default 10s.
    #[serde(with = "serde_str")]
    #[cfg_attr(feature = "schema", schemars(with = "crate::duration::HumanDuration"))]
    pub interval: Duration,
    /// After restoration a route's share of first attempts ramps up linearly over this long
    /// (from 10 %), like Envoy's `slow_start_window`: three probes are thin evidence, and a
    /// route that takes all traffic at once and fails again costs a burst of verifications.
    /// 0s turns it off. Default 30s.
    #[serde(with = "serde_str")]
    #[cfg_attr(feature = "schema", schemars(with = "crate::duration::HumanDuration"))]
    pub slow_start: Duration,
}

/// Retries (second and later attempts) allowed as a share of recent verifications, with a floor,
/// so an outage cannot turn into a retry storm against the remaining providers.
///
/// The budget is kept per (country, number type): an outage in one country must not spend the
/// retries of another. Its window is at least `max_attempts x attempt_timeout` (the longest
/// any plan asks for), so the verifications whose retries fall due after a long timeout still
/// count: with a window shorter than the timeout, the first retries of an outage would be paid
/// for by the handful of verifications started in the last seconds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields, default)]
pub struct RetryBudgetConfig {
    /// Retries per verification started in the window. Default 0.5.
    pub ratio: f64,
    /// Retries per second always allowed. Default 10.
    pub min_per_second: f64,
    /// Span the budget is measured over (raised to `max_attempts x attempt_timeout` if
    /// shorter). Default 10s.
    #[serde(with = "serde_str")]
    #[cfg_attr(feature = "schema", schemars(with = "crate::duration::HumanDuration"))]
    pub window: Duration,
}

/// How a router takes over the state of the router it replaces (`RouterBuilder::state`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields, default)]
pub struct WarmStartConfig {
    /// A state older than this when the router is built is ignored: the router starts cold.
    /// What a router learnt ages with the world it learnt it from: after ten minutes an
    /// ejected route's outage may well be over and a healthy one may have failed, and probing
    /// from scratch is then the better bet. Default 10m.
    #[serde(with = "serde_str")]
    #[cfg_attr(feature = "schema", schemars(with = "crate::duration::HumanDuration"))]
    pub max_age: Duration,
}

/// Provider allow / deny lists for a country and/or use case (regulation, contracts).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ComplianceRule {
    /// Country the rule applies to. Absent: every country.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<Country>,
    /// Use case the rule applies to (e.g. `"login"`). Absent: every use case.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub use_case: Option<String>,
    /// If non-empty, only these providers may carry matching traffic.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow: Vec<String>,
    /// These providers may never carry matching traffic.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deny: Vec<String>,
}

/// What the router may send to one provider account, or to one route of it (`[limits.<key>]`,
/// the key a provider name or `provider/CC/number_type`).
///
/// Why the router limits itself: a provider refuses what is over its account's concurrency or
/// rate (`rate_limited`), and every refusal costs the verification a failover and the provider's
/// routes a capacity cooldown. Knowing the contract, the router sends elsewhere *before* the
/// refusal. A route at its limit (or whose provider is) is not a candidate for the attempt;
/// unlike a capacity cooldown it is never used as a last resort, since the provider would only
/// refuse it: with nothing else left the decision ends with reason `provider_limit`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct LimitConfig {
    /// Most attempts in flight at once: launched and not yet judged (an outcome, or a timeout
    /// at the attempt's own timeout, or abandoned unjudged). A slot is therefore held at most
    /// one attempt timeout, even by a black hole. Absent: no concurrency limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_in_flight: Option<u32>,
    /// Attempts per second, sustained (a token bucket's refill rate). Absent: no rate limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<f64>,
    /// Attempts that may be sent at once after a quiet spell (the bucket's size, full at
    /// start). Needs `rate`. Default: one second's worth of `rate`, at least 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub burst: Option<u32>,
}

impl LimitConfig {
    /// The bucket size in effect: `burst`, or one second of `rate` (at least one attempt).
    pub fn effective_burst(&self) -> Option<f64> {
        let rate = self.rate?;
        Some(match self.burst {
            Some(b) => f64::from(b),
            None => rate.ceil().max(1.0),
        })
    }
}

/// Request-level settings for traffic matching `country` and/or `use_case`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct PolicyOverride {
    /// Country the override applies to. Absent: every country.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<Country>,
    /// Use case the override applies to (e.g. `"login"`). Absent: every use case.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub use_case: Option<String>,
    /// Replaces the policy's `strategy`. Absent: inherited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<Strategy>,
    /// Replaces the policy's `max_attempts`. Absent: inherited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_attempts: Option<u32>,
    /// Replaces the policy's `attempt_timeout`. Absent: inherited.
    #[serde(default, with = "serde_opt", skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "schema",
        schemars(with = "Option<crate::duration::HumanDuration>")
    )]
    pub attempt_timeout: Option<Duration>,
    /// Replaces the policy's `deadline`. Absent: inherited.
    #[serde(default, with = "serde_opt", skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "schema",
        schemars(with = "Option<crate::duration::HumanDuration>")
    )]
    pub deadline: Option<Duration>,
    /// Replaces the policy's `diversity`. Absent: inherited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diversity: Option<Diversity>,
    /// Replaces the policy's `exploration`. Absent: inherited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exploration: Option<f64>,
    /// Replaces the policy's `max_attempt_cost`. Absent: inherited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_attempt_cost: Option<f64>,
    /// Replaces the policy's `max_verification_cost`. Absent: inherited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_verification_cost: Option<f64>,
}

/// The complete failover policy. `Policy::default()` is the documented default.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields, default)]
pub struct Policy {
    /// Selection strategy. Default `score`.
    pub strategy: Strategy,
    /// Attempts per verification, first included. Default 3.
    pub max_attempts: u32,
    /// Per-attempt timeout (also the fallback of `adaptive_timeout` with too little data).
    /// Default 20s.
    #[serde(with = "serde_str")]
    #[cfg_attr(feature = "schema", schemars(with = "crate::duration::HumanDuration"))]
    pub attempt_timeout: Duration,
    /// If set, the attempt timeout follows the route's observed latency. Default off.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub adaptive_timeout: Option<AdaptiveTimeout>,
    /// Overall verification deadline. Default 60s.
    #[serde(with = "serde_str")]
    #[cfg_attr(feature = "schema", schemars(with = "crate::duration::HumanDuration"))]
    pub deadline: Duration,
    /// Diversity rule for retries. Default `provider`.
    pub diversity: Diversity,
    /// If no candidate satisfies `diversity`, fall back to any untried route. Default true.
    pub diversity_fallback: bool,
    /// Probability of exploring a non-preferred candidate (`score`, `weighted`, `thompson`).
    /// Default 0.02.
    pub exploration: f64,
    /// Highest share of decisions that may explore, whatever `exploration` says. Default 0.05.
    pub exploration_budget: f64,
    /// Pseudo-observations of the group's pooled success rate given to each route by `score`
    /// and `thompson`, so a cold route is neither trusted nor condemned on a handful of
    /// outcomes. Default 10.
    pub prior_strength: f64,
    /// Exponent on price in `score` and `thompson` (`price^s / P(success)`): 0 ignores cost,
    /// 1 minimises expected cost per success. Default 1.
    pub cost_sensitivity: f64,
    /// What a failed attempt costs beyond its price (the user's wait, the risk that the
    /// verification is abandoned), in multiples of the most expensive candidate's price; used
    /// by `score` and `thompson`. Without it a free route wins every comparison however often
    /// it fails. Default 2.
    pub failure_penalty: f64,
    /// `score` spreads first attempts over the candidates whose score is within this share of
    /// the best (in inverse proportion to their scores) instead of sending everything to the
    /// single best: near-equal routes then share load instead of herding onto whichever is
    /// ahead by noise. 0 picks the best only. Default 0.05.
    pub score_spread: f64,
    /// A route whose windowed deliveries arrive within the time left before the deadline less
    /// often than this is not given the attempt (with `health.min_volume` samples; a cold
    /// route gets the benefit of the doubt). Default 0.05.
    pub min_in_time_share: f64,
    /// How long a rate-limited or out-of-inventory route is passed over. Default 2s.
    #[serde(with = "serde_str")]
    #[cfg_attr(feature = "schema", schemars(with = "crate::duration::HumanDuration"))]
    pub capacity_cooldown: Duration,
    /// How long after a verification ends its timed-out attempts are still watched for late
    /// (duplicate) deliveries. Default 2m.
    #[serde(with = "serde_str")]
    #[cfg_attr(feature = "schema", schemars(with = "crate::duration::HumanDuration"))]
    pub late_delivery_grace: Duration,
    /// Most verifications whose pending attempts are watched after they ended; past it the
    /// oldest watcher is dropped (its attempts are audited as `abandoned`), so a black hole at
    /// high traffic cannot grow the router without bound. Default 10000.
    pub max_stragglers: usize,
    /// Highest price of one attempt: a route whose `cost` is above it is not a candidate (a
    /// decision left with nothing because of it says `cost_cap`). Per country and use case
    /// through `overrides`. Default off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_attempt_cost: Option<f64>,
    /// Highest spend of one verification: no attempt is launched whose price would take the
    /// verification's committed spend over it. Committed is the price of every attempt already
    /// launched, billed or still pending (a pending attempt may yet be billed: a timeout and an
    /// undelivered message are), not only what is known to be billed. The verification then
    /// ends with status `cost_cap`. Per country and use case through `overrides`. Default off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_verification_cost: Option<f64>,
    /// Limits on what is sent to a provider account (`[limits.<provider>]`) or one of its
    /// routes (`[limits."<provider>/<CC>/<number_type>"]`): attempts in flight and a token
    /// bucket. Names must be in the routing table. Default none.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub limits: BTreeMap<String, LimitConfig>,
    /// The sliding health window kept per route.
    pub health: HealthConfig,
    /// When a healthy route is ejected.
    pub trip: TripConfig,
    /// How long an ejected route stays out.
    pub ejection: EjectionConfig,
    /// How an ejected route earns its way back.
    pub probe: ProbeConfig,
    /// Cap on retries, so an outage cannot become a retry storm.
    pub retry_budget: RetryBudgetConfig,
    /// Restoring a restarted router's learnt state.
    pub warm_start: WarmStartConfig,
    /// Request-level settings per country and/or use case; the most specific match wins field
    /// by field. Default none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub overrides: Vec<PolicyOverride>,
    /// Provider allow / deny lists per country and/or use case. Default none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub compliance: Vec<ComplianceRule>,
}

fn d_adaptive_q() -> f64 {
    0.95
}
fn d_adaptive_factor() -> f64 {
    1.5
}
fn d_5s() -> Duration {
    Duration::from_secs(5)
}
fn d_30s() -> Duration {
    Duration::from_secs(30)
}

impl Default for HealthConfig {
    fn default() -> Self {
        HealthConfig {
            window: Duration::from_secs(60),
            buckets: 12,
            min_volume: 20,
            latency_quantile: 0.95,
        }
    }
}

impl Default for TripConfig {
    fn default() -> Self {
        TripConfig {
            consecutive_failures: 5,
            failure_rate: 0.5,
            latency: None,
            min_relative_conversion: None,
            conversion_lag: Duration::from_secs(30),
            max_relative_invalid: 3.0,
        }
    }
}

impl Default for EjectionConfig {
    fn default() -> Self {
        EjectionConfig {
            base: Duration::from_secs(30),
            backoff: 2.0,
            max: Duration::from_secs(300),
            jitter: 0.1,
            decay_after: Duration::from_secs(120),
            max_ejected_share: 0.5,
        }
    }
}

impl Default for ProbeConfig {
    fn default() -> Self {
        ProbeConfig {
            share: 0.05,
            successes: 3,
            recover_failure_rate: 0.1,
            recover_latency: None,
            timeout: Duration::from_secs(10),
            interval: Duration::from_secs(10),
            slow_start: Duration::from_secs(30),
        }
    }
}

impl Default for RetryBudgetConfig {
    fn default() -> Self {
        RetryBudgetConfig {
            ratio: 0.5,
            min_per_second: 10.0,
            window: Duration::from_secs(10),
        }
    }
}

impl Default for WarmStartConfig {
    fn default() -> Self {
        WarmStartConfig {
            max_age: Duration::from_secs(600),
        }
    }
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            strategy: Strategy::Score,
            max_attempts: 3,
            attempt_timeout: Duration::from_secs(20),
            adaptive_timeout: None,
            deadline: Duration::from_secs(60),
            diversity: Diversity::Provider,
            diversity_fallback: true,
            exploration: 0.02,
            exploration_budget: 0.05,
            prior_strength: 10.0,
            cost_sensitivity: 1.0,
            failure_penalty: 2.0,
            score_spread: 0.05,
            min_in_time_share: 0.05,
            capacity_cooldown: Duration::from_secs(2),
            late_delivery_grace: Duration::from_secs(120),
            max_stragglers: 10_000,
            max_attempt_cost: None,
            max_verification_cost: None,
            limits: BTreeMap::new(),
            health: HealthConfig::default(),
            trip: TripConfig::default(),
            ejection: EjectionConfig::default(),
            probe: ProbeConfig::default(),
            retry_budget: RetryBudgetConfig::default(),
            warm_start: WarmStartConfig::default(),
            overrides: Vec::new(),
            compliance: Vec::new(),
        }
    }
}

/// A policy value that cannot work, naming the field (as written in configuration) and the fix.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct PolicyError {
    /// Dotted path of the field, e.g. `trip.failure_rate` or `overrides[1].max_attempts`.
    pub field: String,
    pub message: String,
}

fn err(field: impl Into<String>, message: impl Into<String>) -> PolicyError {
    PolicyError {
        field: field.into(),
        message: message.into(),
    }
}

fn check_share(field: &str, v: f64, allow_zero: bool) -> Result<(), PolicyError> {
    let ok = v.is_finite() && v <= 1.0 && if allow_zero { v >= 0.0 } else { v > 0.0 };
    if ok {
        Ok(())
    } else {
        let range = if allow_zero { "[0, 1]" } else { "(0, 1]" };
        Err(err(field, format!("{v} must be a number in {range}")))
    }
}

fn check_positive(field: &str, d: Duration) -> Result<(), PolicyError> {
    if d.is_zero() {
        Err(err(field, "must be longer than 0s"))
    } else {
        Ok(())
    }
}

fn check_cost_cap(field: &str, cap: Option<f64>) -> Result<(), PolicyError> {
    match cap {
        Some(c) if !(c.is_finite() && c > 0.0) => Err(err(
            field,
            format!(
                "{c} must be a price > 0 in the routes' currency (remove the field for no cap)"
            ),
        )),
        _ => Ok(()),
    }
}

/// A `limits` key as written: a provider name, or `provider/CC/number_type` for one route.
/// Public so that tools checking a policy against their own list of providers (the lab's
/// `validate`) read keys exactly as the router does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LimitKey<'a> {
    /// The whole provider account.
    Provider(&'a str),
    /// One route of the provider.
    Route {
        provider: &'a str,
        country: Country,
        number_type: crate::route::NumberType,
    },
}

impl<'a> LimitKey<'a> {
    /// Reads a `limits` key; the error says what a key looks like.
    pub fn parse(key: &'a str) -> Result<Self, String> {
        let parts: Vec<&str> = key.split('/').collect();
        match parts.as_slice() {
            [p] if !p.trim().is_empty() => Ok(LimitKey::Provider(p)),
            [p, c, t] if !p.trim().is_empty() => {
                let country = Country::new(c).map_err(|e| e.to_string())?;
                let number_type = crate::route::NumberType::ALL
                    .into_iter()
                    .find(|n| n.as_str() == *t)
                    .ok_or_else(|| {
                        format!(
                            "unknown number type {t:?}; one of: {}",
                            crate::route::NumberType::ALL.map(|n| n.as_str()).join(", ")
                        )
                    })?;
                Ok(LimitKey::Route {
                    provider: p,
                    country,
                    number_type,
                })
            }
            _ => Err(format!(
                "{key:?} is neither a provider name nor a route written provider/CC/number_type \
                 (e.g. \"atlas/DE/mobile\")"
            )),
        }
    }
}

fn check_limit(key: &str, l: &LimitConfig) -> Result<(), PolicyError> {
    let f = |name: &str| format!("limits.{key}.{name}");
    LimitKey::parse(key).map_err(|m| err(format!("limits.{key}"), m))?;
    if l.burst.is_some() && l.rate.is_none() {
        return Err(err(
            f("burst"),
            "needs a rate: the bucket refills at `rate` attempts per second",
        ));
    }
    if l.max_in_flight.is_none() && l.rate.is_none() {
        return Err(err(
            format!("limits.{key}"),
            "sets no limit: give max_in_flight, or rate (and burst), or remove the entry",
        ));
    }
    if l.max_in_flight == Some(0) {
        return Err(err(
            f("max_in_flight"),
            "0 would refuse every attempt: give at least 1 (to stop traffic, force-eject the \
             routes or drain them with a traffic shift)",
        ));
    }
    if let Some(r) = l.rate
        && !(r.is_finite() && r > 0.0 && r <= MAX_LIMIT_RATE)
    {
        return Err(err(
            f("rate"),
            format!("{r} must be a number of attempts per second in (0, {MAX_LIMIT_RATE}]"),
        ));
    }
    if l.burst == Some(0) {
        return Err(err(
            f("burst"),
            "0 would never let an attempt through: give at least 1",
        ));
    }
    Ok(())
}

/// Highest `limits.*.rate`: a million attempts a second is beyond any SMS account, and the
/// bound keeps the bucket's arithmetic far from overflow.
pub const MAX_LIMIT_RATE: f64 = 1e6;

/// Largest `adaptive_timeout.factor`: a timeout a hundred times the observed quantile is
/// already no adaptation; the bound keeps `quantile x factor` far from `Duration`'s range.
pub const MAX_ADAPTIVE_FACTOR: f64 = 100.0;

impl Policy {
    /// Checks every field; the first problem found is returned.
    pub fn validate(&self) -> Result<(), PolicyError> {
        if self.max_attempts == 0 || self.max_attempts > 10 {
            return Err(err(
                "max_attempts",
                format!("{} must be between 1 and 10", self.max_attempts),
            ));
        }
        check_positive("attempt_timeout", self.attempt_timeout)?;
        check_positive("deadline", self.deadline)?;
        if let Some(a) = &self.adaptive_timeout {
            if !(a.quantile > 0.0 && a.quantile < 1.0) {
                return Err(err(
                    "adaptive_timeout.quantile",
                    format!("{} must be in (0, 1)", a.quantile),
                ));
            }
            if !(a.factor.is_finite() && (1.0..=MAX_ADAPTIVE_FACTOR).contains(&a.factor)) {
                return Err(err(
                    "adaptive_timeout.factor",
                    format!("{} must be in [1, {MAX_ADAPTIVE_FACTOR}]", a.factor),
                ));
            }
            check_positive("adaptive_timeout.min", a.min)?;
            if a.max < a.min {
                return Err(err(
                    "adaptive_timeout.max",
                    "must not be shorter than adaptive_timeout.min",
                ));
            }
        }
        check_share("exploration", self.exploration, true)?;
        check_share("exploration_budget", self.exploration_budget, true)?;
        if !(self.prior_strength.is_finite() && self.prior_strength >= 0.0) {
            return Err(err("prior_strength", "must be a number >= 0"));
        }
        if !(self.cost_sensitivity.is_finite() && (0.0..=4.0).contains(&self.cost_sensitivity)) {
            return Err(err(
                "cost_sensitivity",
                format!("{} must be in [0, 4]", self.cost_sensitivity),
            ));
        }
        let h = &self.health;
        check_positive("health.window", h.window)?;
        if h.buckets == 0 || h.buckets > 600 {
            return Err(err(
                "health.buckets",
                format!("{} must be between 1 and 600", h.buckets),
            ));
        }
        if !(h.latency_quantile > 0.0 && h.latency_quantile < 1.0) {
            return Err(err(
                "health.latency_quantile",
                format!("{} must be in (0, 1)", h.latency_quantile),
            ));
        }
        if !(self.failure_penalty.is_finite() && self.failure_penalty >= 0.0) {
            return Err(err("failure_penalty", "must be a number >= 0"));
        }
        if !(self.score_spread.is_finite() && (0.0..=1.0).contains(&self.score_spread)) {
            return Err(err(
                "score_spread",
                format!("{} must be in [0, 1]", self.score_spread),
            ));
        }
        check_share("min_in_time_share", self.min_in_time_share, true)?;
        if self.max_stragglers == 0 {
            return Err(err(
                "max_stragglers",
                "must be at least 1: attempts pending when a verification ends must be watched",
            ));
        }
        let t = &self.trip;
        check_share("trip.failure_rate", t.failure_rate, false)?;
        if let Some(c) = t.min_relative_conversion {
            check_share("trip.min_relative_conversion", c, false)?;
        }
        if t.min_relative_conversion.is_some() && t.conversion_lag >= self.health.window {
            return Err(err(
                "trip.conversion_lag",
                format!(
                    "{} must be shorter than health.window ({}) when trip.min_relative_conversion \
                     is set, or no delivery is ever old enough to judge",
                    crate::duration::format(t.conversion_lag),
                    crate::duration::format(self.health.window),
                ),
            ));
        }
        let r = t.max_relative_invalid;
        if !(r.is_finite() && (r == 0.0 || r >= 1.0)) {
            return Err(err(
                "trip.max_relative_invalid",
                format!("{r} must be a number >= 1 (or 0 to turn the check off)"),
            ));
        }
        let e = &self.ejection;
        check_positive("ejection.base", e.base)?;
        if !(e.backoff.is_finite() && e.backoff >= 1.0) {
            return Err(err(
                "ejection.backoff",
                format!("{} must be >= 1", e.backoff),
            ));
        }
        if e.max < e.base {
            return Err(err(
                "ejection.max",
                "must not be shorter than ejection.base",
            ));
        }
        if !(e.jitter.is_finite() && (0.0..1.0).contains(&e.jitter)) {
            return Err(err(
                "ejection.jitter",
                format!("{} must be in [0, 1)", e.jitter),
            ));
        }
        check_positive("ejection.decay_after", e.decay_after)?;
        check_share("ejection.max_ejected_share", e.max_ejected_share, true)?;
        let p = &self.probe;
        check_share("probe.share", p.share, false)?;
        if p.successes == 0 {
            return Err(err("probe.successes", "must be at least 1"));
        }
        check_share("probe.recover_failure_rate", p.recover_failure_rate, true)?;
        check_positive("probe.timeout", p.timeout)?;
        check_positive("probe.interval", p.interval)?;
        if p.recover_failure_rate >= t.failure_rate {
            return Err(err(
                "probe.recover_failure_rate",
                format!(
                    "{} must be stricter (lower) than trip.failure_rate {}: without hysteresis a route hovering at the threshold flaps",
                    p.recover_failure_rate, t.failure_rate
                ),
            ));
        }
        if let (Some(rec), Some(trip)) = (p.recover_latency, t.latency)
            && rec >= trip
        {
            return Err(err(
                "probe.recover_latency",
                "must be shorter than trip.latency (hysteresis)",
            ));
        }
        let b = &self.retry_budget;
        if !(b.ratio.is_finite() && b.ratio >= 0.0) {
            return Err(err("retry_budget.ratio", "must be a number >= 0"));
        }
        if !(b.min_per_second.is_finite() && b.min_per_second >= 0.0) {
            return Err(err("retry_budget.min_per_second", "must be a number >= 0"));
        }
        check_positive("retry_budget.window", b.window)?;
        if self.warm_start.max_age.is_zero() {
            return Err(err(
                "warm_start.max_age",
                "must be longer than 0s (e.g. \"10m\"); to start cold, build the router \
                 without a state",
            ));
        }
        check_cost_cap("max_attempt_cost", self.max_attempt_cost)?;
        check_cost_cap("max_verification_cost", self.max_verification_cost)?;
        for (key, limit) in &self.limits {
            check_limit(key, limit)?;
        }
        for (i, o) in self.overrides.iter().enumerate() {
            let f = |name: &str| format!("overrides[{i}].{name}");
            if o.country.is_none() && o.use_case.is_none() {
                return Err(err(
                    format!("overrides[{i}]"),
                    "needs a country or a use_case to match (or move the fields to the policy itself)",
                ));
            }
            if let Some(m) = o.max_attempts
                && (m == 0 || m > 10)
            {
                return Err(err(
                    f("max_attempts"),
                    format!("{m} must be between 1 and 10"),
                ));
            }
            if let Some(d) = o.attempt_timeout {
                check_positive(&f("attempt_timeout"), d)?;
            }
            if let Some(d) = o.deadline {
                check_positive(&f("deadline"), d)?;
            }
            if let Some(x) = o.exploration {
                check_share(&f("exploration"), x, true)?;
            }
            check_cost_cap(&f("max_attempt_cost"), o.max_attempt_cost)?;
            check_cost_cap(&f("max_verification_cost"), o.max_verification_cost)?;
        }
        for (i, r) in self.compliance.iter().enumerate() {
            if r.allow.is_empty() && r.deny.is_empty() {
                return Err(err(
                    format!("compliance[{i}]"),
                    "has neither allow nor deny: list providers in one of them",
                ));
            }
        }
        Ok(())
    }

    /// Settings that are valid but almost certainly not what was meant: the router runs with
    /// them (`RouterBuilder::build` logs them through `tracing`), and tools such as the lab's
    /// `validate` show them to the author.
    pub fn warnings(&self) -> Vec<PolicyError> {
        let mut out = Vec::new();
        let longest = self.longest_attempt_timeout();
        let fmt = crate::duration::format;
        if let Some(latency) = self.trip.latency
            && latency >= longest
        {
            out.push(err(
                "trip.latency",
                format!(
                    "{} is at or above the longest attempt timeout ({}): only deliveries that \
                     arrive after their attempt already timed out can reach it, so it trips late \
                     or never; set it below {}",
                    fmt(latency),
                    fmt(longest),
                    fmt(longest),
                ),
            ));
        }
        if let Some(recover) = self.probe.recover_latency
            && recover >= longest
        {
            out.push(err(
                "probe.recover_latency",
                format!(
                    "{} is at or above the longest attempt timeout ({}): a probe that slow has \
                     already timed out, so it never applies; set it below {}",
                    fmt(recover),
                    fmt(longest),
                    fmt(longest),
                ),
            ));
        }
        out
    }

    /// Cost caps that leave some (country, number type) with no route at all, given the routes
    /// as (country, number type, cost): every verification of that group (for the use cases the
    /// cap applies to) would end with status `cost_cap`, which is rarely what a cap is for. The
    /// router's `build` logs these; the lab's `validate` prints them. One warning per group and
    /// field, naming the field that set the cap in effect.
    pub fn cost_cap_warnings(
        &self,
        routes: impl IntoIterator<Item = (Country, crate::route::NumberType, f64)>,
    ) -> Vec<PolicyError> {
        let mut cheapest: BTreeMap<(Country, crate::route::NumberType), f64> = BTreeMap::new();
        for (c, n, cost) in routes {
            let e = cheapest.entry((c, n)).or_insert(cost);
            *e = e.min(cost);
        }
        let mut use_cases: Vec<Option<&str>> = vec![None];
        for o in &self.overrides {
            if let Some(u) = o.use_case.as_deref()
                && !use_cases.contains(&Some(u))
            {
                use_cases.push(Some(u));
            }
        }
        let mut out: Vec<PolicyError> = Vec::new();
        // Once per field and group: a cap of every use case is named once, without one.
        let mut seen = std::collections::BTreeSet::new();
        for (&(country, number_type), &min) in &cheapest {
            for &use_case in &use_cases {
                let plan = self.plan_for(country, use_case);
                let checks = [
                    ("max_attempt_cost", plan.max_attempt_cost),
                    ("max_verification_cost", plan.max_verification_cost),
                ];
                for (name, cap) in checks {
                    let Some(cap) = cap.filter(|cap| min > *cap) else {
                        continue;
                    };
                    let field = self.cap_source(name, country, use_case);
                    if seen.contains(&(field.clone(), country, number_type)) {
                        continue;
                    }
                    let whom = match use_case {
                        Some(u) => format!("{country}/{number_type} ({u})"),
                        None => format!("{country}/{number_type}"),
                    };
                    let message = format!(
                        "{cap} is below the cheapest route of {whom} ({min}): every such \
                         verification ends with status cost_cap; raise the cap or add a \
                         cheaper route"
                    );
                    if seen.insert((field.clone(), country, number_type)) {
                        out.push(err(field, message));
                    }
                }
            }
        }
        out
    }

    /// The top-level fields (sections count as one) in which `other` differs from this policy:
    /// the policy half of a reload's audit event.
    pub fn changed_fields(&self, other: &Policy) -> Vec<&'static str> {
        // Destructured so that a field added to `Policy` fails to compile here until listed.
        let Policy {
            strategy: _,
            max_attempts: _,
            attempt_timeout: _,
            adaptive_timeout: _,
            deadline: _,
            diversity: _,
            diversity_fallback: _,
            exploration: _,
            exploration_budget: _,
            prior_strength: _,
            cost_sensitivity: _,
            failure_penalty: _,
            score_spread: _,
            min_in_time_share: _,
            capacity_cooldown: _,
            late_delivery_grace: _,
            max_stragglers: _,
            max_attempt_cost: _,
            max_verification_cost: _,
            limits: _,
            health: _,
            trip: _,
            ejection: _,
            probe: _,
            retry_budget: _,
            overrides: _,
            compliance: _,
            warm_start: _,
        } = self;
        let mut out = Vec::new();
        if self.strategy != other.strategy {
            out.push("strategy");
        }
        if self.max_attempts != other.max_attempts {
            out.push("max_attempts");
        }
        if self.attempt_timeout != other.attempt_timeout {
            out.push("attempt_timeout");
        }
        if self.adaptive_timeout != other.adaptive_timeout {
            out.push("adaptive_timeout");
        }
        if self.deadline != other.deadline {
            out.push("deadline");
        }
        if self.diversity != other.diversity {
            out.push("diversity");
        }
        if self.diversity_fallback != other.diversity_fallback {
            out.push("diversity_fallback");
        }
        if self.exploration != other.exploration {
            out.push("exploration");
        }
        if self.exploration_budget != other.exploration_budget {
            out.push("exploration_budget");
        }
        if self.prior_strength != other.prior_strength {
            out.push("prior_strength");
        }
        if self.cost_sensitivity != other.cost_sensitivity {
            out.push("cost_sensitivity");
        }
        if self.failure_penalty != other.failure_penalty {
            out.push("failure_penalty");
        }
        if self.score_spread != other.score_spread {
            out.push("score_spread");
        }
        if self.min_in_time_share != other.min_in_time_share {
            out.push("min_in_time_share");
        }
        if self.capacity_cooldown != other.capacity_cooldown {
            out.push("capacity_cooldown");
        }
        if self.late_delivery_grace != other.late_delivery_grace {
            out.push("late_delivery_grace");
        }
        if self.max_stragglers != other.max_stragglers {
            out.push("max_stragglers");
        }
        if self.max_attempt_cost != other.max_attempt_cost {
            out.push("max_attempt_cost");
        }
        if self.max_verification_cost != other.max_verification_cost {
            out.push("max_verification_cost");
        }
        if self.limits != other.limits {
            out.push("limits");
        }
        if self.health != other.health {
            out.push("health");
        }
        if self.trip != other.trip {
            out.push("trip");
        }
        if self.ejection != other.ejection {
            out.push("ejection");
        }
        if self.probe != other.probe {
            out.push("probe");
        }
        if self.retry_budget != other.retry_budget {
            out.push("retry_budget");
        }
        if self.overrides != other.overrides {
            out.push("overrides");
        }
        if self.compliance != other.compliance {
            out.push("compliance");
        }
        if self.warm_start != other.warm_start {
            out.push("warm_start");
        }
        out
    }

    /// Which field sets `name` for (`country`, `use_case`): the most specific matching
    /// override that has it, else the policy's own.
    fn cap_source(&self, name: &str, country: Country, use_case: Option<&str>) -> String {
        let mut best: Option<(u8, usize)> = None;
        for (i, o) in self.overrides.iter().enumerate() {
            let has = match name {
                "max_attempt_cost" => o.max_attempt_cost.is_some(),
                _ => o.max_verification_cost.is_some(),
            };
            let c = match o.country {
                Some(c) if c == country => 2,
                Some(_) => continue,
                None => 0,
            };
            let u = match (&o.use_case, use_case) {
                (Some(a), Some(b)) if a == b => 1,
                (Some(_), _) => continue,
                (None, _) => 0,
            };
            // Later overrides of the same rank win, as in `plan_for` (a stable sort).
            if has && best.is_none_or(|(r, _)| c + u >= r) {
                best = Some((c + u, i));
            }
        }
        match best {
            Some((_, i)) => format!("overrides[{i}].{name}"),
            None => name.to_owned(),
        }
    }

    /// The longest attempt timeout any request can get: the policy's or an override's, or the
    /// adaptive timeout's upper clamp.
    pub fn longest_attempt_timeout(&self) -> Duration {
        let fixed = self
            .overrides
            .iter()
            .filter_map(|o| o.attempt_timeout)
            .fold(self.attempt_timeout, Duration::max);
        match &self.adaptive_timeout {
            Some(a) => fixed.max(a.max),
            None => fixed,
        }
    }

    /// The request-level settings for traffic of `country` and `use_case`, most specific first.
    pub fn plan_for(&self, country: Country, use_case: Option<&str>) -> Plan {
        let mut plan = Plan::from(self);
        // Generic to specific, so later (more specific) overrides win field by field.
        let rank = |o: &PolicyOverride| -> Option<u8> {
            let c = match o.country {
                Some(c) if c == country => Some(true),
                Some(_) => return None,
                None => Some(false),
            };
            let u = match (&o.use_case, use_case) {
                (Some(a), Some(b)) if a == b => true,
                (Some(_), _) => return None,
                (None, _) => false,
            };
            Some(u8::from(c == Some(true)) * 2 + u8::from(u))
        };
        let mut matching: Vec<(u8, &PolicyOverride)> = self
            .overrides
            .iter()
            .filter_map(|o| rank(o).map(|r| (r, o)))
            .collect();
        matching.sort_by_key(|(r, _)| *r);
        for (_, o) in matching {
            if let Some(v) = o.strategy {
                plan.strategy = v;
            }
            if let Some(v) = o.max_attempts {
                plan.max_attempts = v;
            }
            if let Some(v) = o.attempt_timeout {
                plan.attempt_timeout = v;
            }
            if let Some(v) = o.deadline {
                plan.deadline = v;
            }
            if let Some(v) = o.diversity {
                plan.diversity = v;
            }
            if let Some(v) = o.exploration {
                plan.exploration = v;
            }
            if let Some(v) = o.max_attempt_cost {
                plan.max_attempt_cost = Some(v);
            }
            if let Some(v) = o.max_verification_cost {
                plan.max_verification_cost = Some(v);
            }
        }
        plan
    }
}

/// The request-level settings resolved for one (country, use case).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Plan {
    pub strategy: Strategy,
    pub max_attempts: u32,
    pub attempt_timeout: Duration,
    pub deadline: Duration,
    pub diversity: Diversity,
    pub exploration: f64,
    pub max_attempt_cost: Option<f64>,
    pub max_verification_cost: Option<f64>,
}

impl From<&Policy> for Plan {
    fn from(p: &Policy) -> Self {
        Plan {
            strategy: p.strategy,
            max_attempts: p.max_attempts,
            attempt_timeout: p.attempt_timeout,
            deadline: p.deadline,
            diversity: p.diversity,
            exploration: p.exploration,
            max_attempt_cost: p.max_attempt_cost,
            max_verification_cost: p.max_verification_cost,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate_and_round_trip_through_toml() {
        let p = Policy::default();
        p.validate().unwrap();
        let text = toml::to_string(&p).unwrap();
        let back: Policy = toml::from_str(&text).unwrap();
        assert_eq!(back, p);
        // An empty table is the default policy.
        assert_eq!(toml::from_str::<Policy>("").unwrap(), p);
    }

    #[test]
    fn unknown_fields_are_rejected() {
        let e = toml::from_str::<Policy>("[trip]\nfailure_rat = 0.3\n").unwrap_err();
        assert!(e.to_string().contains("failure_rat"), "{e}");
    }

    #[test]
    fn invalid_values_name_their_field() {
        let check = |toml_text: &str, field: &str| {
            let p: Policy = toml::from_str(toml_text).unwrap();
            let e = p.validate().unwrap_err();
            assert_eq!(e.field, field, "{e}");
        };
        check("max_attempts = 0", "max_attempts");
        check("[trip]\nfailure_rate = 1.5", "trip.failure_rate");
        check(
            "[probe]\nrecover_failure_rate = 0.6",
            "probe.recover_failure_rate",
        );
        check("[ejection]\nmax = \"10s\"", "ejection.max");
        check("[[overrides]]\nmax_attempts = 2", "overrides[0]");
        check(
            "[[overrides]]\ncountry = \"DE\"\nmax_attempts = 20",
            "overrides[0].max_attempts",
        );
        check("[[compliance]]\ncountry = \"DE\"", "compliance[0]");
        check("[health]\nbuckets = 0", "health.buckets");
        check("[warm_start]\nmax_age = \"0s\"", "warm_start.max_age");
        check("max_attempt_cost = 0.0", "max_attempt_cost");
        check("max_verification_cost = -1.0", "max_verification_cost");
        check("max_verification_cost = nan", "max_verification_cost");
        check(
            "[[overrides]]\nuse_case = \"login\"\nmax_attempt_cost = inf",
            "overrides[0].max_attempt_cost",
        );
        check(
            "[limits.atlas]\nmax_in_flight = 0",
            "limits.atlas.max_in_flight",
        );
        check("[limits.atlas]\nrate = 0.0", "limits.atlas.rate");
        check("[limits.atlas]\nrate = inf", "limits.atlas.rate");
        check("[limits.atlas]\nburst = 3", "limits.atlas.burst");
        check(
            "[limits.atlas]\nrate = 1.0\nburst = 0",
            "limits.atlas.burst",
        );
        check("[limits.atlas]", "limits.atlas");
        check("[limits.\"atlas/DE\"]\nrate = 1.0", "limits.atlas/DE");
        check(
            "[limits.\"atlas/DEU/mobile\"]\nrate = 1.0",
            "limits.atlas/DEU/mobile",
        );
        check(
            "[limits.\"atlas/DE/cell\"]\nrate = 1.0",
            "limits.atlas/DE/cell",
        );
    }

    #[test]
    fn a_cap_below_every_route_of_a_group_is_warned_about_at_its_field() {
        use crate::route::NumberType::{Landline, Mobile};
        let p: Policy = toml::from_str(
            r#"
            max_attempt_cost = 0.05
            [[overrides]]
            country = "DE"
            use_case = "login"
            max_verification_cost = 0.03
            "#,
        )
        .unwrap();
        let de = Country::new("DE").unwrap();
        let fr = Country::new("FR").unwrap();
        let routes = [
            (de, Mobile, 0.04),
            (de, Mobile, 0.09),
            (de, Landline, 0.06),
            (fr, Mobile, 0.02),
        ];
        let w = p.cost_cap_warnings(routes);
        let fields: Vec<(&str, bool)> = w
            .iter()
            .map(|w| (w.field.as_str(), w.message.contains("DE/landline")))
            .collect();
        // FR's route fits; DE/mobile has a route under 0.05 but none under login's 0.03.
        assert_eq!(
            fields,
            [
                ("overrides[0].max_verification_cost", false),
                ("max_attempt_cost", true),
                ("overrides[0].max_verification_cost", true),
            ],
            "{w:?}"
        );
        assert!(w[0].message.contains("DE/mobile (login)"), "{w:?}");
        assert!(Policy::default().cost_cap_warnings(routes).is_empty());
    }

    #[test]
    fn limits_and_cost_caps_round_trip_and_caps_fall_back_like_overrides() {
        let p: Policy = toml::from_str(
            r#"
            max_attempt_cost = 0.05
            [limits.atlas]
            max_in_flight = 40
            rate = 25.0
            [limits."atlas/DE/mobile"]
            max_in_flight = 5
            [[overrides]]
            country = "DE"
            max_attempt_cost = 0.09
            max_verification_cost = 0.15
            [[overrides]]
            country = "DE"
            use_case = "signup"
            max_attempt_cost = 0.02
            "#,
        )
        .unwrap();
        p.validate().unwrap();
        assert_eq!(p.limits["atlas"].effective_burst(), Some(25.0));
        let back: Policy = toml::from_str(&toml::to_string(&p).unwrap()).unwrap();
        assert_eq!(back, p);
        let de = Country::new("DE").unwrap();
        let fr = Country::new("FR").unwrap();
        let caps = |c, u| {
            let plan = p.plan_for(c, u);
            (plan.max_attempt_cost, plan.max_verification_cost)
        };
        assert_eq!(caps(fr, None), (Some(0.05), None));
        assert_eq!(caps(de, Some("login")), (Some(0.09), Some(0.15)));
        assert_eq!(caps(de, Some("signup")), (Some(0.02), Some(0.15)));
    }

    #[test]
    fn overrides_fall_back_from_specific_to_generic() {
        let p: Policy = toml::from_str(
            r#"
            max_attempts = 3
            [[overrides]]
            country = "DE"
            use_case = "login"
            max_attempts = 1
            [[overrides]]
            use_case = "login"
            deadline = "30s"
            max_attempts = 4
            [[overrides]]
            country = "DE"
            strategy = "priority"
            max_attempts = 2
            "#,
        )
        .unwrap();
        p.validate().unwrap();
        let de = Country::new("DE").unwrap();
        let fr = Country::new("FR").unwrap();
        let check = |c, u, attempts, strategy, deadline: u64| {
            let plan = p.plan_for(c, u);
            assert_eq!(plan.max_attempts, attempts, "{c} {u:?}");
            assert_eq!(plan.strategy, strategy, "{c} {u:?}");
            assert_eq!(plan.deadline, Duration::from_secs(deadline), "{c} {u:?}");
        };
        check(de, Some("login"), 1, Strategy::Priority, 30);
        check(de, None, 2, Strategy::Priority, 60);
        check(fr, Some("login"), 4, Strategy::Score, 30);
        check(fr, Some("signup"), 3, Strategy::Score, 60);
    }
}
