//! The world a scenario describes: regions, countries, carriers and providers.
//!
//! This is the *truth* the simulator enforces, deliberately separate from the router's routing
//! table (`[router]`): in production an operator's table is a belief about the world — it may
//! not know that two providers share an aggregator, or that one carrier path is lossy. Keeping
//! the two apart lets a scenario ask how a policy copes when the belief is wrong.
//!
//! Entities refer to each other by name (a provider names its region, a path names its
//! carrier); validation resolves every name and the compiled form replaces them by indices.

use failover_router::route::{Country, NumberType};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::scenario::distribution::DistributionSpec;

/// A network region providers are hosted in.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Region {
    /// Unique name, referred to by `[[providers]].region`.
    pub name: String,
    /// Network latency from the lab's verification service to endpoints in this region, added
    /// to every provider API call.
    pub latency: DistributionSpec,
}

/// Where verification traffic goes: subscriber split over carriers and user behaviour.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CountrySpec {
    /// Two-letter country code (e.g. `"DE"`); one entry per country.
    pub code: Country,
    /// Subscriber shares; each destination belongs to a carrier drawn by share. Sum to 1.
    pub carriers: Vec<CarrierShare>,
    /// Probability that a user who received the code enters it. Default 0.8.
    #[serde(default = "default_conversion")]
    pub conversion: f64,
    /// Delay between delivery and the user entering the code.
    /// Default lognormal, median 20s, p99 120s.
    #[serde(default = "default_think_time")]
    pub think_time: DistributionSpec,
    /// Share of destinations that are invalid numbers (user-side failures, never a route's
    /// fault). Default 0.
    #[serde(default)]
    pub invalid_share: f64,
}

/// A carrier's share of a country's subscribers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CarrierShare {
    /// Name of a `[[carriers]]` entry of this country.
    pub name: String,
    /// Share of the country's subscribers, in (0, 1]; a country's shares sum to 1.
    pub share: f64,
}

fn default_conversion() -> f64 {
    0.8
}

fn default_think_time() -> DistributionSpec {
    DistributionSpec::lognormal_p99(
        std::time::Duration::from_secs(20),
        std::time::Duration::from_secs(120),
    )
}

/// A mobile operator: the last hop to the handset.
///
/// Carrier names are global (write `vodafone-de`, not `vodafone`), so faults and provider
/// paths can name one carrier unambiguously.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Carrier {
    /// Globally unique name (e.g. `"vodafone-de"`), referred to by countries, provider paths
    /// and faults.
    pub name: String,
    /// Country the carrier operates in; must have a `[[countries]]` entry.
    pub country: Country,
    /// Latency from the provider handing the message over to the handset receiving it.
    pub delivery_latency: DistributionSpec,
    /// Probability a message is silently lost on this carrier. Default 0.
    #[serde(default)]
    pub loss: f64,
}

/// An SMS provider as the world sees it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Provider {
    /// Unique name, referred to by `[[router.routes]].provider` and faults.
    pub name: String,
    /// Name of the `[[regions]]` entry hosting the provider's API.
    pub region: String,
    /// Time the provider's API takes to accept (or reject) a send request.
    pub api_latency: DistributionSpec,
    /// Probability an API call fails with a provider error. Default 0.
    #[serde(default)]
    pub error_rate: f64,
    /// Accepted requests per unit of time (`"50/s"`); above it requests are rate limited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit: Option<super::Rate>,
    /// Sender numbers: each attempt holds one; with none free the attempt fails with
    /// "no inventory".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inventory: Option<Inventory>,
    /// Shared upstreams this provider really depends on (the world's truth, which the routing
    /// table's `failure_domains` may not match).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failure_domains: Vec<String>,
    /// Per-carrier path quality. Carriers not listed are reached with quality 1 and no extra
    /// latency.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub paths: Vec<ProviderPath>,
    /// Number types the provider can send to. Empty (the default) means all.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub number_types: Vec<NumberType>,
}

/// A provider's pool of sender numbers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Inventory {
    /// Size of the pool.
    pub numbers: u32,
    /// How long a number stays held from the start of the attempt. Absent (the default): held
    /// until the attempt completes (delivered, failed or timed out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold: Option<DistributionSpec>,
}

/// How well a provider reaches one carrier.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProviderPath {
    /// Name of a `[[carriers]]` entry.
    pub carrier: String,
    /// Delivery probability multiplier on this path, in [0, 1]. Default 1.
    #[serde(default = "one")]
    pub quality: f64,
    /// Latency added on this path (e.g. a detour through an interconnect).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra_latency: Option<DistributionSpec>,
}

fn one() -> f64 {
    1.0
}
