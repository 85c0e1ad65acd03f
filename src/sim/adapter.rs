//! `SimAdapter`: the router's `ProviderAdapter`, implemented by messaging the world's actors.
//!
//! The router is built exactly as a service would build it; it cannot tell that its provider
//! is an actor in virtual time. The attempt's reply is a oneshot channel; a black-holed attempt
//! simply never gets one (its sender is dropped), and the future stays pending, as a real
//! provider that swallowed the request would.

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
}

impl SimAdapter {
    pub(crate) fn new(
        provider: ProviderId,
        region: Addr<RegionActor>,
        world: &CompiledScenario,
    ) -> Self {
        SimAdapter {
            provider,
            region,
            carrier_country: world.carriers.iter().map(|c| c.country).collect(),
        }
    }
}

impl ProviderAdapter for SimAdapter {
    fn send(&self, attempt: Attempt) -> AttemptFuture {
        let (reply, rx) = oneshot::channel();
        let tag = SimTag::unpack(attempt.verification);
        self.region.do_send(Submit {
            env: Envelope {
                provider: self.provider,
                country: self.carrier_country[tag.carrier.index()],
                carrier: tag.carrier,
                number_type: attempt.number_type,
                invalid: tag.invalid,
                key: Envelope::attempt_key(tag, attempt.number),
            },
            timeout: attempt.timeout,
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
