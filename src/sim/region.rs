//! A network region: the hop from the router to a provider's API endpoint.
//!
//! Providers are hosted in regions; a regional outage or network slowdown hits every provider
//! there at once, which is exactly the correlated failure a failover policy must survive.

use std::sync::Arc;

use actix::{Actor, Addr, Context, Handler};
use failover_router::{AttemptOutcome, FailureKind};
use rand::Rng;
use tokio::time::Instant;

use super::clock::{Event, SharedAgenda};
use super::effects::{compose_at, relevant_faults};
use super::message::{Arrive, Reply, Submit};
use super::provider::ProviderActor;
use super::rng::{Purpose, Streams};
use super::trap::{self, Entity};
use crate::scenario::distribution::duration_from_secs;
use crate::scenario::{CompiledScenario, OutageMode, RegionId, TargetRef};

pub(crate) struct RegionActor {
    id: RegionId,
    world: Arc<CompiledScenario>,
    /// This actor's streams; each message draws from its own (keyed by attempt).
    streams: Streams,
    epoch: Instant,
    faults: Box<[u32]>,
    /// Indexed by provider id; only this region's providers are `Some`.
    providers: Vec<Option<Addr<ProviderActor>>>,
    agenda: SharedAgenda,
}

impl RegionActor {
    pub(crate) fn new(
        id: RegionId,
        world: Arc<CompiledScenario>,
        seed: u64,
        epoch: Instant,
        providers: Vec<Option<Addr<ProviderActor>>>,
        agenda: SharedAgenda,
    ) -> Self {
        let faults = relevant_faults(&world.faults, |f| f.target.entity == TargetRef::Region(id));
        RegionActor {
            id,
            world,
            streams: Streams::new(seed, Purpose::Region),
            epoch,
            faults,
            providers,
            agenda,
        }
    }
}

impl Actor for RegionActor {
    type Context = Context<Self>;
}

impl Handler<Submit> for RegionActor {
    type Result = ();

    fn handle(&mut self, msg: Submit, _: &mut Self::Context) {
        let _running = trap::enter(Entity::Region(self.id));
        let now = Instant::now();
        let region = self.world.region(self.id);
        let env = msg.env;
        let mut rng = self.streams.stream(region.entity ^ env.key);
        let eff = compose_at(
            &self.world.faults,
            &self.faults,
            self.epoch,
            now,
            env.country,
            env.number_type,
            &mut rng,
        );
        let net = region.latency.sample_secs(&mut rng) * eff.latency_factor + eff.added_secs;
        let arrives = now + duration_from_secs(net);
        let failed = rng.random::<f64>() < eff.error;
        match eff.down {
            // Swallowed: dropping the reply leaves the attempt pending forever.
            Some(OutageMode::BlackHole) => {}
            Some(OutageMode::Error) => self.refuse(arrives, msg.reply),
            None if failed => self.refuse(arrives, msg.reply),
            None => {
                if let Some(p) = &self.providers[env.provider.index()] {
                    p.do_send(Arrive {
                        env,
                        arrives,
                        judged_at: now + msg.timeout,
                        reply: msg.reply,
                    });
                }
            }
        }
    }
}

impl RegionActor {
    fn refuse(&mut self, at: Instant, reply: Reply) {
        self.agenda.borrow_mut().schedule(
            at,
            Event::Reply {
                reply,
                outcome: AttemptOutcome::Failed(FailureKind::Unavailable),
            },
        );
    }
}
