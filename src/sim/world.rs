//! Assembling and running one simulated world: one (scenario, policy, seed) run.
//!
//! Shaped like turmoil's Builder/Sim: the scenario authors the models, [`simulate`] assembles
//! the bench (actors, adapters, the router, traffic) and executes it. Everything runs on ONE
//! paused current-thread tokio runtime inside an actix `System`, with every actor on the System
//! arbiter (an `Arbiter::new()` would run on the wall clock). When all actors are idle, tokio
//! advances the clock to the next timer, so a day of traffic takes seconds.

use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use actix::Actor;
use failover_router::{
    BuildError, EventSink, Policy, ProviderId, Router, RoutingTable, TableError,
};
use tokio::sync::oneshot;
use tokio::time::Instant;

use super::adapter::SimAdapter;
use super::carrier::{CarrierActor, KnowProviders};
use super::clock::{Agenda, Clock, SharedAgenda, Targets};
use super::provider::ProviderActor;
use super::region::RegionActor;
use super::rng::{GLOBAL, Purpose, stream_key};
use super::traffic::{Traffic, TrafficCounts};
use super::trap::{self, Panicked};
use crate::scenario::{CarrierId, CompiledScenario, RegionId};

/// What a run produced besides the events it sent to the sink.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SimOutcome {
    pub traffic: TrafficCounts,
    /// Virtual time when the last verification finished.
    pub end: std::time::Duration,
    /// Verifications whose attempts the router was still watching when the run ended.
    pub stragglers: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("routing table: {0}")]
    Table(#[from] TableError),
    #[error("router: {0}")]
    Router(#[from] BuildError),
    #[error("could not start the simulation runtime: {0}")]
    Runtime(#[from] std::io::Error),
    #[error("{0}")]
    Panicked(Panicked),
}

/// Runs `world` under `policy` with `seed`, sending every router event to `sink`.
pub fn simulate(
    world: Arc<CompiledScenario>,
    policy: &Policy,
    seed: u64,
    sink: Arc<dyn EventSink>,
) -> Result<SimOutcome, SimError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()?;
    let system = actix::System::with_tokio_rt(|| runtime);
    let policy = policy.clone();
    let grace = policy.late_delivery_grace;
    let trapped_world = Arc::clone(&world);
    // The driver below is the only code of the run not inside a task: a panic there unwinds out
    // of `block_on`, and is caught here so that it too ends as a void run, not a crashed thread.
    let driven = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        system.block_on(drive(world, policy, seed, sink, grace))
    }));
    let panicked = trap::release(&trapped_world);
    match (driven, panicked) {
        (_, Some(p)) => Err(SimError::Panicked(p)),
        (Ok(outcome), None) => outcome,
        (Err(_), None) => Err(SimError::Panicked(Panicked::outside(
            "the simulation driver",
        ))),
    }
}

/// Assembles the world and runs it to its end, or until anything in it panics.
async fn drive(
    world: Arc<CompiledScenario>,
    policy: Policy,
    seed: u64,
    sink: Arc<dyn EventSink>,
    grace: Duration,
) -> Result<SimOutcome, SimError> {
    {
        let epoch = Instant::now();
        let panicked = trap::arm(epoch);
        let agenda = Agenda::shared(epoch);
        let adapters = assemble(&world, seed, epoch, &agenda);
        let table = RoutingTable::new(&world.provider_names(), &world.routes)?;
        // No metrics: a simulation's figures are virtual time's, and runs in parallel would add
        // up into the same series of whatever recorder the process has.
        let mut builder = Router::builder(table, policy)
            .sink(sink)
            .seed(stream_key(seed, Purpose::RouterExploration, GLOBAL))
            .metrics(false);
        for (p, adapter) in world.providers.iter().zip(adapters) {
            builder = builder.adapter(&p.name, Arc::new(adapter));
        }
        let router = builder.build()?;
        let (done_tx, done_rx) = oneshot::channel();
        let traffic = Traffic::new(
            Arc::clone(&world),
            router,
            seed,
            epoch,
            Rc::clone(&agenda),
            done_tx,
        );
        traffic.start();
        actix_rt::spawn(Clock::new(
            agenda,
            Targets {
                traffic: Rc::clone(&traffic),
            },
        ));
        // `biased`: the world's end is checked first, so a run that finished is never
        // reported as stopped by a later panic of its drain (that one is still reported).
        let stopped = async {
            panicked.notified().await;
            Err(SimError::Panicked(Panicked::pending()))
        };
        tokio::pin!(stopped);
        tokio::select! {
            biased;
            _ = done_rx => {}
            e = &mut stopped => return e,
        }
        // Drain: attempts still pending when their verification ended are watched by the
        // router for `late_delivery_grace`; let their late deliveries be recorded.
        tokio::select! {
            biased;
            _ = tokio::time::sleep(grace) => {}
            e = &mut stopped => return e,
        }
        Ok::<_, SimError>(SimOutcome {
            traffic: traffic.counts(),
            end: Instant::now() - epoch,
            stragglers: traffic.stragglers(),
        })
    }
}

/// Starts the world's actors (carriers, providers, regions, all on the current System arbiter)
/// and returns one adapter per provider, in provider order: what the router is built with.
pub(crate) fn assemble(
    world: &Arc<CompiledScenario>,
    seed: u64,
    epoch: Instant,
    agenda: &SharedAgenda,
) -> Vec<SimAdapter> {
    let carriers: Vec<_> = (0..world.carriers.len())
        .map(|i| {
            CarrierActor::new(
                CarrierId(i as u32),
                Arc::clone(world),
                seed,
                epoch,
                Rc::clone(agenda),
            )
            .start()
        })
        .collect();
    let providers: Vec<_> = (0..world.providers.len())
        .map(|i| {
            ProviderActor::new(
                ProviderId(i as u32),
                Arc::clone(world),
                seed,
                epoch,
                carriers.clone(),
                Rc::clone(agenda),
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
                Arc::clone(world),
                seed,
                epoch,
                hosted,
                Rc::clone(agenda),
            )
            .start()
        })
        .collect();
    world
        .providers
        .iter()
        .enumerate()
        .map(|(i, p)| {
            SimAdapter::new(
                ProviderId(i as u32),
                regions[p.region.index()].clone(),
                world,
            )
        })
        .collect()
}
