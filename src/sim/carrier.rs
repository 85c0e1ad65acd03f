//! A carrier: the mobile operator that delivers the message to the handset, with its own
//! delivery latency and loss. Every provider's message to a subscriber of this carrier passes
//! here, so a carrier fault hits all providers' routes to its subscribers at once.

use std::sync::Arc;

use actix::{Actor, Addr, Context, Handler, Message};
use failover_router::{AttemptOutcome, FailureKind};
use rand::Rng;
use tokio::time::Instant;

use super::clock::{Event, SharedAgenda};
use super::effects::{compose_at, relevant_faults};
use super::message::{Handoff, ReleaseAt};
use super::provider::ProviderActor;
use super::rng::{Purpose, Streams};
use super::trap::{self, Entity};
use crate::scenario::distribution::duration_from_secs;
use crate::scenario::{CarrierId, CompiledScenario, OutageMode, TargetRef};

pub(crate) struct CarrierActor {
    id: CarrierId,
    world: Arc<CompiledScenario>,
    /// This actor's streams; each message draws from its own (keyed by attempt).
    streams: Streams,
    epoch: Instant,
    faults: Box<[u32]>,
    providers: Vec<Addr<ProviderActor>>,
    agenda: SharedAgenda,
}

/// Tells a carrier the providers' addresses (they are started after the carriers).
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct KnowProviders(pub Vec<Addr<ProviderActor>>);

impl CarrierActor {
    pub(crate) fn new(
        id: CarrierId,
        world: Arc<CompiledScenario>,
        seed: u64,
        epoch: Instant,
        agenda: SharedAgenda,
    ) -> Self {
        let faults = relevant_faults(&world.faults, |f| f.target.entity == TargetRef::Carrier(id));
        CarrierActor {
            id,
            world,
            streams: Streams::new(seed, Purpose::Carrier),
            epoch,
            faults,
            providers: Vec::new(),
            agenda,
        }
    }
}

impl Actor for CarrierActor {
    type Context = Context<Self>;
}

impl Handler<KnowProviders> for CarrierActor {
    type Result = ();

    fn handle(&mut self, msg: KnowProviders, _: &mut Self::Context) {
        let _running = trap::enter(Entity::Carrier(self.id));
        self.providers = msg.0;
    }
}

impl Handler<Handoff> for CarrierActor {
    type Result = ();

    fn handle(&mut self, msg: Handoff, _: &mut Self::Context) {
        let _running = trap::enter(Entity::Carrier(self.id));
        let now = Instant::now();
        let carrier = self.world.carrier(self.id);
        let env = msg.env;
        let mut rng = self.streams.stream(carrier.entity ^ env.key);
        let eff = compose_at(
            &self.world.faults,
            &self.faults,
            self.epoch,
            now,
            env.country,
            env.number_type,
            &mut rng,
        );
        let latency = carrier.delivery_latency.sample_secs(&mut rng)
            * eff.latency_factor
            * msg.latency_factor
            + eff.added_secs
            + msg.added_secs;
        let delivered_draw = rng.random::<f64>();
        let at = msg.handoff + duration_from_secs(latency);
        let deliver_p =
            msg.path_quality * (1.0 - carrier.loss) * (1.0 - eff.loss) * (1.0 - eff.error);
        let outcome = match eff.down {
            Some(OutageMode::BlackHole) => {
                // Swallowed: no receipt ever; the router's timeout completes the attempt.
                if let Some(judged) = msg.held_until_judged {
                    self.providers[env.provider.index()].do_send(ReleaseAt(judged));
                }
                return;
            }
            Some(OutageMode::Error) => AttemptOutcome::Failed(FailureKind::Undelivered),
            None if delivered_draw < deliver_p => AttemptOutcome::Delivered,
            None => AttemptOutcome::Failed(FailureKind::Undelivered),
        };
        if let Some(judged) = msg.held_until_judged {
            self.providers[env.provider.index()].do_send(ReleaseAt(at.min(judged)));
        }
        self.agenda.borrow_mut().schedule(
            at,
            Event::Reply {
                reply: msg.reply,
                outcome,
            },
        );
    }
}
