//! How overlapping faults compose into what one message experiences.
//!
//! Faults are independent causes, so probabilities compose as independent events (the message
//! survives only if it survives each: `1 - prod(1 - p_i)`), latency multipliers multiply, added
//! latencies add (each on its leg: a provider fault may slow its API, its onward delivery or
//! both), capacity and inventory factors multiply, and any active outage takes the target
//! down (a black hole wins over a fast error: nothing answers if anything swallows the message).
//! Effects are evaluated when a message reaches the actor, from the fault timeline and the
//! message's (country, number type), so no fault needs a message of its own to start or stop.

use std::time::Duration;

use failover_router::NumberType;
use rand::Rng;
use tokio::time::Instant;

use crate::scenario::{CountryId, FaultEffect, FaultModel, OutageMode};

/// The composed effect of the faults active on one entity, for one message.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Effects {
    pub down: Option<OutageMode>,
    /// Probability of a fast error (provider / network error).
    pub error: f64,
    /// Probability an accepted message is not delivered.
    pub loss: f64,
    /// The target's own latency (a provider's API, a region's network, a carrier's delivery).
    pub latency_factor: f64,
    /// Sum of sampled added latencies on the target's own latency, seconds.
    pub added_secs: f64,
    /// A provider's onward delivery leg (`leg = "delivery"` or `"both"`).
    pub delivery_factor: f64,
    pub delivery_added_secs: f64,
    pub blocked: bool,
    pub inventory_factor: f64,
    pub capacity_factor: f64,
}

impl Default for Effects {
    fn default() -> Self {
        Effects {
            down: None,
            error: 0.0,
            loss: 0.0,
            latency_factor: 1.0,
            added_secs: 0.0,
            delivery_factor: 1.0,
            delivery_added_secs: 0.0,
            blocked: false,
            inventory_factor: 1.0,
            capacity_factor: 1.0,
        }
    }
}

fn combine(p: f64, q: f64) -> f64 {
    1.0 - (1.0 - p) * (1.0 - q)
}

fn worst(a: Option<OutageMode>, b: OutageMode) -> Option<OutageMode> {
    match (a, b) {
        (Some(OutageMode::BlackHole), _) | (_, OutageMode::BlackHole) => {
            Some(OutageMode::BlackHole)
        }
        _ => Some(OutageMode::Error),
    }
}

/// [`compose`] at `now`, for an actor whose clock started at `epoch`. Most actors have no
/// fault targeting them at all; they skip even the clock arithmetic.
pub(crate) fn compose_at<R: Rng>(
    faults: &[FaultModel],
    relevant: &[u32],
    epoch: Instant,
    now: Instant,
    country: CountryId,
    number_type: NumberType,
    rng: &mut R,
) -> Effects {
    if relevant.is_empty() {
        return Effects::default();
    }
    compose(faults, relevant, now - epoch, country, number_type, rng)
}

/// Indices of the faults an actor must evaluate: those whose target `acts_on` it. Computed once
/// per actor, so a message only looks at the faults that can touch it.
pub(crate) fn relevant_faults(
    faults: &[FaultModel],
    acts_on: impl Fn(&FaultModel) -> bool,
) -> Box<[u32]> {
    faults
        .iter()
        .enumerate()
        .filter(|(_, f)| acts_on(f))
        .map(|(i, _)| i as u32)
        .collect()
}

/// Composes the faults in `relevant` (indices into `faults`) that are active at `t` and match
/// the message's (country, number type).
pub(crate) fn compose<R: Rng>(
    faults: &[FaultModel],
    relevant: &[u32],
    t: Duration,
    country: CountryId,
    number_type: NumberType,
    rng: &mut R,
) -> Effects {
    let mut e = Effects::default();
    for &i in relevant {
        let f = &faults[i as usize];
        if !f.is_active(t) || !f.target.matches(country, number_type) {
            continue;
        }
        match &f.effect {
            FaultEffect::Outage(mode) => e.down = worst(e.down, *mode),
            FaultEffect::Flapping { mode, .. } => {
                if f.is_down(t) {
                    e.down = worst(e.down, *mode);
                }
            }
            FaultEffect::Brownout { error_rate, loss } => {
                e.error = combine(e.error, *error_rate);
                e.loss = combine(e.loss, *loss);
            }
            FaultEffect::Degradation { .. } => e.loss = combine(e.loss, f.degradation_at(t)),
            FaultEffect::LatencyMultiply(m, leg) => {
                if leg.api() {
                    e.latency_factor *= m;
                }
                if leg.delivery() {
                    e.delivery_factor *= m;
                }
            }
            FaultEffect::LatencyAdd(d, leg) => {
                // One draw for both legs: the same slowdown, seen twice.
                let added = d.sample_secs(rng);
                if leg.api() {
                    e.added_secs += added;
                }
                if leg.delivery() {
                    e.delivery_added_secs += added;
                }
            }
            FaultEffect::InventoryShock { remaining } => e.inventory_factor *= remaining,
            FaultEffect::NumberTypeBlock => e.blocked = true,
            FaultEffect::CapacityCut { factor } => e.capacity_factor *= factor,
        }
    }
    e
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Scenario;
    use rand::SeedableRng;

    const BASE: &str = r#"
format_version = 1
name = "effects"
duration = "1h"
[[regions]]
name = "eu"
latency = { kind = "constant", value = "10ms" }
[[countries]]
code = "DE"
carriers = [{ name = "tde", share = 1.0 }]
[[carriers]]
name = "tde"
country = "DE"
delivery_latency = { kind = "constant", value = "2s" }
[[providers]]
name = "p"
region = "eu"
api_latency = { kind = "constant", value = "100ms" }
[[router.routes]]
provider = "p"
country = "DE"
number_type = "mobile"
cost = 0.07
[policies.default]
[traffic]
rate = "1/s"
mix = [{ country = "DE", number_type = "mobile", weight = 1.0 }]
"#;

    fn faults(extra: &str) -> Vec<FaultModel> {
        let s = Scenario::from_toml_str(&format!("{BASE}{extra}"), std::path::Path::new("."))
            .unwrap_or_else(|e| panic!("{e}"));
        s.compile(std::path::Path::new(".")).unwrap().faults
    }

    fn at(faults: &[FaultModel], secs: u64, nt: NumberType) -> Effects {
        let all: Vec<u32> = (0..faults.len() as u32).collect();
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(1);
        compose(
            faults,
            &all,
            Duration::from_secs(secs),
            CountryId(0),
            nt,
            &mut rng,
        )
    }

    #[test]
    fn overlapping_faults_compose() {
        let f = faults(
            r#"
[[faults]]
kind = "brownout"
error_rate = 0.5
start = "10m"
duration = "20m"
[faults.target]
provider = "p"
[[faults]]
kind = "brownout"
error_rate = 0.5
loss = 0.2
start = "20m"
duration = "20m"
[faults.target]
provider = "p"
[[faults]]
kind = "latency"
multiplier = 3.0
start = "20m"
duration = "5m"
[faults.target]
provider = "p"
[[faults]]
kind = "latency"
multiplier = 2.0
start = "20m"
duration = "5m"
[faults.target]
provider = "p"
[[faults]]
kind = "outage"
mode = "error"
start = "50m"
duration = "5m"
[faults.target]
provider = "p"
[[faults]]
kind = "outage"
mode = "black_hole"
start = "52m"
duration = "1m"
[faults.target]
provider = "p"
[[faults]]
kind = "number_type_block"
start = "0s"
[faults.target]
provider = "p"
number_type = "voip"
"#,
        );
        let m = NumberType::Mobile;
        assert_eq!(at(&f, 0, m), Effects::default());
        assert_eq!(at(&f, 15 * 60, m).error, 0.5);
        let both = at(&f, 22 * 60, m);
        assert_eq!(both.error, 0.75);
        assert!((both.loss - 0.2).abs() < 1e-12);
        assert_eq!(both.latency_factor, 6.0);
        assert_eq!(at(&f, 51 * 60, m).down, Some(OutageMode::Error));
        assert_eq!(at(&f, 52 * 60, m).down, Some(OutageMode::BlackHole));
        assert!(!at(&f, 60, m).blocked);
        assert!(at(&f, 60, NumberType::Voip).blocked);
    }

    #[test]
    fn flapping_and_degradation_follow_the_clock() {
        let f = faults(
            r#"
[[faults]]
kind = "flapping"
period = "2m"
duty = 0.25
mode = "error"
start = "10m"
duration = "10m"
[faults.target]
provider = "p"
[[faults]]
kind = "degradation"
from = 0.0
to = 0.8
start = "30m"
duration = "10m"
[faults.target]
provider = "p"
"#,
        );
        let m = NumberType::Mobile;
        assert!(at(&f, 600, m).down.is_some());
        assert!(at(&f, 629, m).down.is_some());
        assert!(at(&f, 630, m).down.is_none());
        assert!(at(&f, 720, m).down.is_some());
        assert!((at(&f, 35 * 60, m).loss - 0.4).abs() < 1e-9);
        assert_eq!(at(&f, 41 * 60, m).loss, 0.0);
    }
}
