//! `SimAdapter`: the router's `ProviderAdapter`, implemented by messaging the world's actors.
//!
//! The router is built exactly as a service would build it; it cannot tell that its provider
//! is an actor in virtual time. The attempt's reply is a oneshot channel; a black-holed attempt
//! simply never gets one (its sender is dropped), and the future stays pending, as a real
//! provider that swallowed the request would.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use actix::Addr;
use failover_router::{Attempt, AttemptFuture, ProviderAdapter, ProviderId};
use tokio::sync::oneshot;

use super::message::{Envelope, SimTag, Submit};
use super::region::RegionActor;
use crate::scenario::CompiledScenario;

pub struct SimAdapter {
    provider: ProviderId,
    region: Addr<RegionActor>,
    /// Country of each carrier (the destination's country in world terms).
    carrier_country: Vec<crate::scenario::CountryId>,
    /// Only when callers may give up: where their verifications' attempts are counted.
    attempts: Option<Arc<AttemptLog>>,
}

impl SimAdapter {
    pub(crate) fn new(
        provider: ProviderId,
        region: Addr<RegionActor>,
        world: &CompiledScenario,
        attempts: Option<Arc<AttemptLog>>,
    ) -> Self {
        SimAdapter {
            provider,
            region,
            carrier_country: world.carriers.iter().map(|c| c.country).collect(),
            attempts,
        }
    }
}

/// How many attempts the router has launched for each verification whose caller may give up,
/// by arrival sequence number. The router reports a verification's attempts only when it ends,
/// and a verification dropped by its caller never ends; so the adapters count them while the
/// verification runs, for the traffic layer to report when its caller gives up. Holds only the
/// verifications in progress. A `BTreeMap`: no hashing seeded from OS entropy in a simulation.
#[derive(Default)]
pub(crate) struct AttemptLog(Mutex<BTreeMap<u64, u32>>);

impl AttemptLog {
    fn map(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, u32>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts counting verification `seq`'s attempts.
    pub(crate) fn watch(&self, seq: u64) {
        self.map().insert(seq, 0);
    }

    /// Attempt `number` (1-based) of verification `seq` was sent, if it is watched.
    fn launched(&self, seq: u64, number: u32) {
        if let Some(n) = self.map().get_mut(&seq) {
            *n = number;
        }
    }

    /// Stops counting verification `seq`'s attempts; how many were launched.
    pub(crate) fn forget(&self, seq: u64) -> u32 {
        self.map().remove(&seq).unwrap_or(0)
    }
}

impl ProviderAdapter for SimAdapter {
    fn send(&self, attempt: Attempt) -> AttemptFuture {
        let (reply, rx) = oneshot::channel();
        let tag = SimTag::unpack(attempt.verification);
        if let Some(log) = &self.attempts {
            log.launched(tag.seq, attempt.number);
        }
        self.region.do_send(Submit {
            env: Envelope {
                provider: self.provider,
                country: self.carrier_country[tag.carrier.index()],
                carrier: tag.carrier,
                number_type: attempt.number_type,
                invalid: tag.invalid,
                key: Envelope::attempt_key(tag, attempt.number),
            },
            reply,
        });
        Box::pin(async move {
            match rx.await {
                Ok(outcome) => outcome,
                Err(_) => std::future::pending().await,
            }
        })
    }
}
