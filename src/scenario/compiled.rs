//! The compiled scenario: what the simulator runs, with names resolved to indices.
//!
//! The file form is for people; this form is for the hot loop. Every cross-reference (a
//! provider's region, a country's carriers, a fault's target) is an index into a `Vec`, every
//! distribution is a compiled sampler, every rate is per second, so simulating a verification
//! never hashes a string or parses a duration. Names stay next to the indices for reports.
//!
//! A `CompiledScenario` only exists for a scenario that passed validation
//! ([`Scenario::compile`](super::Scenario::compile)), so the simulator can index without checks.

use std::sync::Arc;
use std::time::Duration;

use failover_router::route::{Country, NumberType, ProviderId, RouteSpec};

use super::distribution::Distribution;
use super::fault::{LatencyLeg, OutageMode};
use super::path::Problems;
use super::policies::NamedPolicy;

macro_rules! index_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
        pub struct $name(pub u32);

        impl $name {
            pub fn index(self) -> usize {
                self.0 as usize
            }
        }
    };
}

index_type!(
    /// Index into [`CompiledScenario::regions`].
    RegionId
);
index_type!(
    /// Index into [`CompiledScenario::countries`].
    CountryId
);
index_type!(
    /// Index into [`CompiledScenario::carriers`].
    CarrierId
);
index_type!(
    /// Index into [`CompiledScenario::failure_domains`].
    DomainId
);
index_type!(
    /// Index into [`CompiledScenario::use_cases`].
    UseCaseId
);

/// A validated scenario in simulation form. Providers are indexed by the router's
/// [`ProviderId`]: the routing table is built with the providers in scenario order.
#[derive(Clone, Debug)]
pub struct CompiledScenario {
    pub name: String,
    pub seed: u64,
    pub duration: Duration,
    pub warmup: Duration,
    pub bucket: Duration,
    pub regions: Vec<RegionModel>,
    pub countries: Vec<CountryModel>,
    pub carriers: Vec<CarrierModel>,
    pub providers: Vec<ProviderModel>,
    /// World failure domains (from providers), interned.
    pub failure_domains: Vec<String>,
    /// Use cases seen in the mix, fraud spikes and trace, interned.
    pub use_cases: Vec<String>,
    /// The router's table, as written (providers are [`Self::provider_names`]).
    pub routes: Vec<RouteSpec>,
    /// Policies in file order, files loaded.
    pub policies: Vec<NamedPolicy>,
    pub traffic: TrafficModel,
    pub faults: Vec<FaultModel>,
    /// Router restarts, in time order.
    pub restarts: Vec<RestartModel>,
    /// `[[reloads]]`, in time order.
    pub reloads: Vec<ReloadModel>,
    /// `[experiment]`, checked: replications (>= 1), the baseline as a policy index,
    /// confidence.
    pub experiment: ExperimentModel,
    /// Settings that are valid but probably not meant (policy warnings), at their field paths:
    /// shown by `validate` and `run`, never fatal.
    pub warnings: Problems,
    /// Identifies the source this world was compiled from (its text and referenced files), so
    /// a shard's run can be told from another world's: set by whoever read the files (the
    /// CLI's loader), 0 otherwise.
    pub fingerprint: u64,
}

impl CompiledScenario {
    /// Provider names in [`ProviderId`] order, to build the router's routing table.
    pub fn provider_names(&self) -> Vec<&str> {
        self.providers.iter().map(|p| p.name.as_str()).collect()
    }

    pub fn provider(&self, id: ProviderId) -> &ProviderModel {
        &self.providers[id.index()]
    }

    pub fn country(&self, id: CountryId) -> &CountryModel {
        &self.countries[id.index()]
    }

    pub fn carrier(&self, id: CarrierId) -> &CarrierModel {
        &self.carriers[id.index()]
    }

    pub fn region(&self, id: RegionId) -> &RegionModel {
        &self.regions[id.index()]
    }

    /// Looks a provider up by name (for reports and tools, not the hot path).
    pub fn provider_id(&self, name: &str) -> Option<ProviderId> {
        self.providers
            .iter()
            .position(|p| p.name == name)
            .map(|i| ProviderId(i as u32))
    }

    pub fn country_id(&self, code: Country) -> Option<CountryId> {
        self.countries
            .iter()
            .position(|c| c.code == code)
            .map(|i| CountryId(i as u32))
    }

    pub fn use_case(&self, id: UseCaseId) -> &str {
        &self.use_cases[id.index()]
    }
}

/// A router restart (`[[restarts]]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReloadModel {
    pub at: Duration,
    /// Index into [`CompiledScenario::policies`].
    pub policy: usize,
}

#[derive(Clone, Debug)]
pub struct RestartModel {
    pub at: Duration,
    /// The new router restores the old one's state.
    pub warm: bool,
}

/// Network region.
#[derive(Clone, Debug)]
pub struct RegionModel {
    pub name: String,
    /// Entity key ([`entity_key`] of the name): the `entity` of the world's random streams.
    pub entity: u64,
    pub latency: Distribution,
}

/// Destination country.
#[derive(Clone, Debug)]
pub struct CountryModel {
    pub code: Country,
    pub entity: u64,
    /// Carriers in declaration order, with normalised cumulative shares.
    pub carriers: Box<[CarrierId]>,
    carrier_cumulative: Box<[f64]>,
    pub conversion: f64,
    pub think_time: Distribution,
    pub invalid_share: f64,
}

impl CountryModel {
    pub(crate) fn new(
        code: Country,
        carriers: Vec<(CarrierId, f64)>,
        conversion: f64,
        think_time: Distribution,
        invalid_share: f64,
    ) -> Self {
        let (ids, cumulative) = cumulative_weights(carriers);
        CountryModel {
            code,
            entity: entity_key(code.as_str()),
            carriers: ids,
            carrier_cumulative: cumulative,
            conversion,
            think_time,
            invalid_share,
        }
    }

    /// The carrier of a destination, from a uniform draw `u` in [0, 1).
    #[inline]
    pub fn pick_carrier(&self, u: f64) -> CarrierId {
        pick(&self.carriers, &self.carrier_cumulative, u)
    }
}

/// Splits weighted items into items and cumulative weights normalised to end at +inf.
fn cumulative_weights<T>(items: impl IntoIterator<Item = (T, f64)>) -> (Box<[T]>, Box<[f64]>) {
    let items: Vec<(T, f64)> = items.into_iter().collect();
    let total: f64 = items.iter().map(|(_, w)| w).sum();
    let mut acc = 0.0;
    let mut ids = Vec::with_capacity(items.len());
    let mut cumulative = Vec::with_capacity(items.len());
    for (id, w) in items {
        acc += w;
        ids.push(id);
        cumulative.push(acc / total);
    }
    if let Some(last) = cumulative.last_mut() {
        *last = f64::INFINITY;
    }
    (ids.into_boxed_slice(), cumulative.into_boxed_slice())
}

#[inline]
fn pick<T: Copy>(items: &[T], cumulative: &[f64], u: f64) -> T {
    items[pick_index(cumulative, u)]
}

/// The index of the item a uniform draw `u` in [0, 1) falls on.
#[inline]
fn pick_index(cumulative: &[f64], u: f64) -> usize {
    let i = cumulative.partition_point(|&c| c <= u);
    i.min(cumulative.len() - 1)
}

/// Mobile operator.
#[derive(Clone, Debug)]
pub struct CarrierModel {
    pub name: String,
    pub entity: u64,
    pub country: CountryId,
    pub delivery_latency: Distribution,
    pub loss: f64,
}

/// Set of number types, as a bit mask.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct NumberTypeSet(u8);

impl NumberTypeSet {
    pub const ALL: NumberTypeSet = NumberTypeSet((1 << NumberType::ALL.len()) - 1);

    fn bit(nt: NumberType) -> u8 {
        1 << (nt as u8)
    }

    pub fn from_types(types: &[NumberType]) -> Self {
        if types.is_empty() {
            return Self::ALL;
        }
        NumberTypeSet(types.iter().fold(0, |m, &t| m | Self::bit(t)))
    }

    #[inline]
    pub fn contains(self, nt: NumberType) -> bool {
        self.0 & Self::bit(nt) != 0
    }
}

/// Provider as the world sees it.
#[derive(Clone, Debug)]
pub struct ProviderModel {
    pub name: String,
    pub entity: u64,
    pub region: RegionId,
    pub api_latency: Distribution,
    pub error_rate: f64,
    /// Requests per second, if limited.
    pub rate_limit: Option<f64>,
    pub inventory: Option<InventoryModel>,
    /// Sorted, deduplicated.
    pub failure_domains: Box<[DomainId]>,
    /// The provider's own paths, sorted by carrier, one per carrier at most (unlisted
    /// carriers: [`PathModel::DIRECT`]). Only the listed ones: one entry per carrier for every
    /// provider made 100,000 providers of 10,000 carriers a billion entries.
    pub paths: Box<[(CarrierId, PathModel)]>,
    pub serves: NumberTypeSet,
}

impl ProviderModel {
    /// How the provider reaches `carrier` (a binary search among its few listed paths).
    #[inline]
    pub fn path(&self, carrier: CarrierId) -> &PathModel {
        match self.paths.binary_search_by_key(&carrier, |(c, _)| *c) {
            Ok(i) => &self.paths[i].1,
            Err(_) => &PathModel::DIRECT,
        }
    }

    pub fn in_domain(&self, d: DomainId) -> bool {
        self.failure_domains.binary_search(&d).is_ok()
    }
}

/// Provider's sender-number pool.
#[derive(Clone, Debug)]
pub struct InventoryModel {
    pub numbers: u32,
    /// `None`: a number is held until its attempt completes.
    pub hold: Option<Distribution>,
}

/// How a provider reaches one carrier.
#[derive(Clone, Debug)]
pub struct PathModel {
    /// Delivery probability multiplier.
    pub quality: f64,
    pub extra_latency: Option<Distribution>,
}

impl PathModel {
    /// The path to a carrier a provider does not list: full quality, no extra latency.
    pub const DIRECT: PathModel = PathModel {
        quality: 1.0,
        extra_latency: None,
    };
}

/// Where one verification goes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Destination {
    pub country: CountryId,
    pub number_type: NumberType,
    pub use_case: Option<UseCaseId>,
}

/// Arrivals and destinations.
#[derive(Clone, Debug)]
pub struct TrafficModel {
    pub arrivals: Arrivals,
    /// Destination classes of Poisson traffic (empty for traces).
    pub mix: Box<[Destination]>,
    mix_cumulative: Box<[f64]>,
    /// How long the callers of each mix entry wait, indexed like `mix`: the entry's own
    /// `caller_timeout`, else [`Self::caller_timeout`].
    mix_caller_timeout: Box<[Option<Duration>]>,
    pub fraud: Box<[FraudModel]>,
    /// `[traffic] caller_timeout`: how long a caller waits for `verify` before dropping it
    /// (trace and fraud arrivals, and mix entries without their own). `None`: until it ends.
    pub caller_timeout: Option<Duration>,
}

/// One destination class of the mix, as the traffic generator draws it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct MixClass {
    pub destination: Destination,
    /// How long its callers wait for `verify`; `None`: until it ends.
    pub caller_timeout: Option<Duration>,
}

impl TrafficModel {
    /// `mix`: (destination, weight, the entry's own caller timeout).
    pub(crate) fn new(
        arrivals: Arrivals,
        mix: Vec<(Destination, f64, Option<Duration>)>,
        fraud: Vec<FraudModel>,
        caller_timeout: Option<Duration>,
    ) -> Self {
        let mix_caller_timeout = mix
            .iter()
            .map(|&(_, _, own)| own.or(caller_timeout))
            .collect();
        let (mix, mix_cumulative) = cumulative_weights(mix.into_iter().map(|(d, w, _)| (d, w)));
        TrafficModel {
            arrivals,
            mix,
            mix_cumulative,
            mix_caller_timeout,
            fraud: fraud.into_boxed_slice(),
            caller_timeout,
        }
    }

    /// A destination class from the mix, from a uniform draw `u` in [0, 1).
    /// Only meaningful for Poisson arrivals (the mix is empty for traces).
    #[inline]
    pub fn pick_destination(&self, u: f64) -> Destination {
        pick(&self.mix, &self.mix_cumulative, u)
    }

    /// Whether any caller may give up (a `caller_timeout` anywhere).
    pub fn callers_may_give_up(&self) -> bool {
        self.caller_timeout.is_some() || self.mix_caller_timeout.iter().any(Option::is_some)
    }

    /// [`pick_destination`](Self::pick_destination) with the class's caller timeout.
    #[inline]
    pub fn pick_class(&self, u: f64) -> MixClass {
        let i = pick_index(&self.mix_cumulative, u);
        MixClass {
            destination: self.mix[i],
            caller_timeout: self.mix_caller_timeout[i],
        }
    }
}

/// How legitimate verifications arrive.
#[derive(Clone, Debug)]
pub enum Arrivals {
    /// Non-homogeneous Poisson with the given intensity (simulate by thinning against
    /// [`RateProfile::max_rate`]).
    Poisson(RateProfile),
    /// Replayed arrivals, sorted by time, all before the scenario's end.
    Trace(Box<[TraceArrival]>),
}

/// One replayed arrival.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct TraceArrival {
    pub at: Duration,
    pub destination: Destination,
}

/// Arrival intensity over time: base rate x diurnal factor x active burst factors.
#[derive(Clone, Debug)]
pub struct RateProfile {
    /// Per second.
    pub base: f64,
    pub diurnal: Option<DiurnalProfile>,
    pub bursts: Box<[BurstModel]>,
    max_rate: f64,
}

impl RateProfile {
    pub(crate) fn new(base: f64, diurnal: Option<DiurnalProfile>, bursts: Vec<BurstModel>) -> Self {
        // The burst product is piecewise constant, changing only at window edges.
        let max_burst = std::iter::once(Duration::ZERO)
            .chain(bursts.iter().flat_map(|b| [b.start, b.end]))
            .map(|t| burst_product(&bursts, t))
            .fold(0.0, f64::max);
        let max_diurnal = diurnal.as_ref().map_or(1.0, DiurnalProfile::max_factor);
        RateProfile {
            base,
            diurnal,
            max_rate: base * max_diurnal * max_burst,
            bursts: bursts.into_boxed_slice(),
        }
    }

    /// Arrivals per second at time `t` since the start of the run.
    pub fn rate_at(&self, t: Duration) -> f64 {
        let d = self.diurnal.as_ref().map_or(1.0, |d| d.factor_at(t));
        self.base * d * burst_product(&self.bursts, t)
    }

    /// An upper bound of [`rate_at`](Self::rate_at) over the whole run (tight: it is attained).
    pub fn max_rate(&self) -> f64 {
        self.max_rate
    }
}

fn burst_product(bursts: &[BurstModel], t: Duration) -> f64 {
    bursts
        .iter()
        .filter(|b| b.start <= t && t < b.end)
        .map(|b| b.factor)
        .product()
}

/// A burst window.
#[derive(Clone, Copy, PartialEq, Debug)]
pub struct BurstModel {
    pub start: Duration,
    pub end: Duration,
    pub factor: f64,
}

const DAY: f64 = 86_400.0;

/// Piecewise-linear daily profile, periodic over 24 h.
#[derive(Clone, Debug)]
pub struct DiurnalProfile {
    /// Time of day (seconds) at t = 0.
    start: f64,
    /// (time of day in seconds, factor), strictly increasing in time, within [0, 86400).
    points: Box<[(f64, f64)]>,
}

impl DiurnalProfile {
    pub(crate) fn new(start: Duration, points: Vec<(Duration, f64)>) -> Self {
        DiurnalProfile {
            start: start.as_secs_f64(),
            points: points
                .into_iter()
                .map(|(at, f)| (at.as_secs_f64(), f))
                .collect(),
        }
    }

    /// Multiplier at time `t` since the start of the run.
    pub fn factor_at(&self, t: Duration) -> f64 {
        let p = &self.points;
        if p.len() == 1 {
            return p[0].1;
        }
        let tod = (self.start + t.as_secs_f64()).rem_euclid(DAY);
        let i = p.partition_point(|&(at, _)| at <= tod);
        let (a, b) = match i {
            0 => ((p[p.len() - 1].0 - DAY, p[p.len() - 1].1), p[0]),
            i if i == p.len() => (p[i - 1], (p[0].0 + DAY, p[0].1)),
            i => (p[i - 1], p[i]),
        };
        a.1 + (b.1 - a.1) * (tod - a.0) / (b.0 - a.0)
    }

    /// The largest factor over the day (a vertex of the piecewise-linear profile).
    pub fn max_factor(&self) -> f64 {
        self.points.iter().map(|&(_, f)| f).fold(0.0, f64::max)
    }
}

/// Extra never-converting traffic.
#[derive(Clone, Copy, PartialEq, Debug)]
pub struct FraudModel {
    pub start: Duration,
    pub end: Duration,
    /// Per second.
    pub rate: f64,
    pub destination: Destination,
}

/// What a fault targets, resolved.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum TargetRef {
    Provider(ProviderId),
    Carrier(CarrierId),
    Region(RegionId),
    FailureDomain(DomainId),
}

/// A resolved fault target.
#[derive(Clone, Debug)]
pub struct TargetModel {
    pub entity: TargetRef,
    pub country: Option<CountryId>,
    pub number_type: Option<NumberType>,
    /// Providers the fault acts on (the provider, the region's providers, the failure domain's
    /// providers); empty for carrier targets. Shared by every fault on the same region or
    /// domain: a copy per fault made 10,000 faults on a region of 100,000 providers a billion
    /// entries.
    pub providers: Arc<[ProviderId]>,
}

impl TargetModel {
    /// Whether traffic to (country, number type) is within the target's narrowing.
    #[inline]
    pub fn matches(&self, country: CountryId, number_type: NumberType) -> bool {
        self.country.is_none_or(|c| c == country)
            && self.number_type.is_none_or(|n| n == number_type)
    }
}

/// A fault's effect, with parameters ready to use.
#[derive(Clone, Debug)]
pub enum FaultEffect {
    Outage(OutageMode),
    Brownout {
        error_rate: f64,
        loss: f64,
    },
    /// A latency factor on a leg: `Api` is the target's own latency (a provider's API, a
    /// region's network, a carrier's delivery); `Delivery` a provider's onward path.
    LatencyMultiply(f64, LatencyLeg),
    LatencyAdd(Distribution, LatencyLeg),
    Flapping {
        period: Duration,
        duty: f64,
        mode: OutageMode,
    },
    Degradation {
        from: f64,
        to: f64,
    },
    InventoryShock {
        remaining: f64,
    },
    NumberTypeBlock,
    CapacityCut {
        factor: f64,
    },
}

/// A timed, targeted fault.
#[derive(Clone, Debug)]
pub struct FaultModel {
    /// Unique among the scenario's faults.
    pub name: String,
    pub start: Duration,
    /// Exclusive; the scenario's duration for open-ended faults.
    pub end: Duration,
    pub effect: FaultEffect,
    pub target: TargetModel,
}

impl FaultModel {
    /// Whether `t` lies in `[start, end)`.
    #[inline]
    pub fn is_active(&self, t: Duration) -> bool {
        self.start <= t && t < self.end
    }

    /// For outages and flapping: whether the target is down at `t` (flapping is down for the
    /// first `duty * period` of each period, counted from `start`). False for other effects.
    pub fn is_down(&self, t: Duration) -> bool {
        if !self.is_active(t) {
            return false;
        }
        match &self.effect {
            FaultEffect::Outage(_) => true,
            FaultEffect::Flapping { period, duty, .. } => {
                let phase = (t - self.start).as_secs_f64() % period.as_secs_f64();
                phase < duty * period.as_secs_f64()
            }
            _ => false,
        }
    }

    /// For degradations: the error probability at `t`, ramping linearly from `from` at `start`
    /// to `to` at `end`; 0 outside the window and for other effects.
    pub fn degradation_at(&self, t: Duration) -> f64 {
        match &self.effect {
            FaultEffect::Degradation { from, to } if self.is_active(t) => {
                let span = (self.end - self.start).as_secs_f64();
                let x = (t - self.start).as_secs_f64() / span;
                from + (to - from) * x
            }
            _ => 0.0,
        }
    }
}

/// Stable 64-bit FNV-1a hash of an entity's name, for use as the `entity` of the
/// simulator's random streams (`sim::rng::stream`).
///
/// Keyed by name so that a provider keeps its draws when others are added or reordered.
pub const fn entity_key(name: &str) -> u64 {
    let bytes = name.as_bytes();
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < bytes.len() {
        hash ^= bytes[i] as u64;
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        i += 1;
    }
    hash
}

/// `[experiment]` after validation; absent fields hold their defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct ExperimentModel {
    pub replications: u32,
    /// Index into the policies.
    pub baseline: usize,
    pub confidence: f64,
}

impl Default for ExperimentModel {
    fn default() -> Self {
        ExperimentModel {
            replications: 1,
            baseline: 0,
            confidence: 0.95,
        }
    }
}
