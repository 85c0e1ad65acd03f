//! Assembling and running one simulated world: one (scenario, policy, seed) run.
//!
//! Shaped like turmoil's Builder/Sim: the scenario authors the models, [`simulate`] assembles
//! the bench (actors, adapters, the router, traffic) and executes it. Everything runs on ONE
//! paused current-thread tokio runtime inside an actix `System`, with every actor on the System
//! arbiter (an `Arbiter::new()` would run on the wall clock). When all actors are idle, tokio
//! advances the clock to the next timer, so a day of traffic takes seconds.

use std::rc::Rc;
use std::sync::Arc;

use actix::Actor;
use failover_router::{
    BuildError, EventSink, Policy, ProviderId, Router, RoutingTable, TableError,
};
use tokio::sync::oneshot;
use tokio::time::Instant;

use super::adapter::{AttemptLog, SimAdapter};
use super::carrier::{CarrierActor, KnowProviders};
use super::clock::{Agenda, Clock, Targets};
use super::provider::ProviderActor;
use super::region::RegionActor;
use super::rng::{GLOBAL, Purpose, stream_key};
use super::traffic::{CallerSink, Impatient, Traffic, TrafficCounts};
use crate::scenario::{CarrierId, CompiledScenario, RegionId};

/// What a run produced besides the events it sent to the sink.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SimOutcome {
    pub traffic: TrafficCounts,
    /// Virtual time when the last verification finished.
    pub end: std::time::Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("routing table: {0}")]
    Table(#[from] TableError),
    #[error("router: {0}")]
    Router(#[from] BuildError),
    #[error("could not start the simulation runtime: {0}")]
    Runtime(#[from] std::io::Error),
}

/// Runs `world` under `policy` with `seed`, sending every router event to `sink` and every
/// verification whose caller gave up (the scenario's `caller_timeout`) to `callers`.
pub fn simulate(
    world: Arc<CompiledScenario>,
    policy: &Policy,
    seed: u64,
    sink: Arc<dyn EventSink>,
    callers: Option<Arc<dyn CallerSink>>,
) -> Result<SimOutcome, SimError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()?;
    let system = actix::System::with_tokio_rt(|| runtime);
    let policy = policy.clone();
    let grace = policy.late_delivery_grace;
    let outcome = system.block_on(async move {
        let epoch = Instant::now();
        let agenda = Agenda::shared(epoch);
        let carriers: Vec<_> = (0..world.carriers.len())
            .map(|i| {
                CarrierActor::new(
                    CarrierId(i as u32),
                    Arc::clone(&world),
                    seed,
                    epoch,
                    Rc::clone(&agenda),
                )
                .start()
            })
            .collect();
        let providers: Vec<_> = (0..world.providers.len())
            .map(|i| {
                ProviderActor::new(
                    ProviderId(i as u32),
                    Arc::clone(&world),
                    seed,
                    epoch,
                    carriers.clone(),
                    Rc::clone(&agenda),
                )
                .start()
            })
            .collect();
        for c in &carriers {
            c.do_send(KnowProviders(providers.clone()));
        }
        let regions: Vec<_> = (0..world.regions.len())
            .map(|r| {
                let hosted = world
                    .providers
                    .iter()
                    .zip(&providers)
                    .map(|(p, a)| (p.region == RegionId(r as u32)).then(|| a.clone()))
                    .collect();
                RegionActor::new(
                    RegionId(r as u32),
                    Arc::clone(&world),
                    seed,
                    epoch,
                    hosted,
                    Rc::clone(&agenda),
                )
                .start()
            })
            .collect();

        // Counted only when some caller may give up: nothing to do for the others.
        let attempts = world
            .traffic
            .callers_may_give_up()
            .then(|| Arc::new(AttemptLog::default()));
        let table = RoutingTable::new(&world.provider_names(), &world.routes)?;
        let mut builder = Router::builder(table, policy).sink(sink).seed(stream_key(
            seed,
            Purpose::RouterExploration,
            GLOBAL,
        ));
        for (i, p) in world.providers.iter().enumerate() {
            builder = builder.adapter(
                &p.name,
                Arc::new(SimAdapter::new(
                    ProviderId(i as u32),
                    regions[p.region.index()].clone(),
                    &world,
                    attempts.clone(),
                )),
            );
        }
        let router = builder.build()?;
        let (done_tx, done_rx) = oneshot::channel();
        let traffic = Traffic::new(
            Arc::clone(&world),
            router,
            seed,
            epoch,
            Rc::clone(&agenda),
            attempts.map(|attempts| Impatient {
                attempts,
                sink: callers,
            }),
            done_tx,
        );
        traffic.start();
        actix_rt::spawn(Clock::new(
            agenda,
            Targets {
                traffic: Rc::clone(&traffic),
                providers,
            },
        ));
        let _ = done_rx.await;
        // Drain: attempts still pending when their verification ended are watched by the
        // router for `late_delivery_grace`; let their late deliveries be recorded.
        tokio::time::sleep(grace).await;
        Ok::<_, SimError>(SimOutcome {
            traffic: traffic.counts(),
            end: Instant::now() - epoch,
        })
    })?;
    Ok(outcome)
}
