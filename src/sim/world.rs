//! Assembling and running one simulated world: one (scenario, policy, seed) run.
//!
//! Shaped like turmoil's Builder/Sim: the scenario authors the models, [`simulate`] assembles
//! the bench (actors, adapters, the router, traffic) and executes it. Everything runs on ONE
//! paused current-thread tokio runtime inside an actix `System`, with every actor on the System
//! arbiter (an `Arbiter::new()` would run on the wall clock). When all actors are idle, tokio
//! advances the clock to the next timer, so a day of traffic takes seconds.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use actix::Actor;
use failover_router::{
    BuildError, EventSink, Policy, ProviderAdapter, ProviderId, Router, RouterEvent, RouterState,
    RoutingTable, TableError,
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
        let adapters: Vec<Arc<dyn ProviderAdapter>> = adapters
            .into_iter()
            .map(|a| Arc::new(a) as Arc<dyn ProviderAdapter>)
            .collect();
        let recipe = Recipe {
            names: world.providers.iter().map(|p| p.name.clone()).collect(),
            table,
            policy: RefCell::new(policy),
            seed,
            epoch,
            adapters,
        };
        let (router, restarter) = if world.restarts.is_empty() {
            (recipe.build(GLOBAL, sink, None)?, None)
        } else {
            let restarter = Restarter {
                recipe,
                sink,
                generations: RefCell::new(Vec::new()),
            };
            (restarter.first()?, Some(restarter))
        };
        let (done_tx, done_rx) = oneshot::channel();
        let traffic = Traffic::new(
            Arc::clone(&world),
            router,
            seed,
            epoch,
            Rc::clone(&agenda),
            done_tx,
            restarter,
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

/// What every router of a run is built from.
struct Recipe {
    /// Provider names, in id order (the adapters' order).
    names: Vec<String>,
    table: RoutingTable,
    /// The policy in force: a `[[reloads]]` entry replaces it.
    policy: RefCell<Policy>,
    seed: u64,
    epoch: Instant,
    adapters: Vec<Arc<dyn ProviderAdapter>>,
}

impl Recipe {
    /// Router `generation` (0: the first) reporting to `sink`. Later ones restore `state` if
    /// given, count their events from the first one's epoch (one audit trail, one clock), and
    /// draw from their own random stream.
    fn build(
        &self,
        generation: u64,
        sink: Arc<dyn EventSink>,
        state: Option<RouterState>,
    ) -> Result<Router, BuildError> {
        // No metrics: a simulation's figures are virtual time's, and runs in parallel would add
        // up into the same series of whatever recorder the process has.
        let mut builder = Router::builder(self.table.clone(), self.policy.borrow().clone())
            .sink(sink)
            .seed(stream_key(
                self.seed,
                Purpose::RouterExploration,
                generation,
            ))
            .metrics(false);
        if generation != GLOBAL {
            builder = builder.epoch(self.epoch);
        }
        if let Some(state) = state {
            // The switch is instantaneous in virtual time: nothing ages.
            builder = builder.state_aged(state, Duration::ZERO);
        }
        for (name, adapter) in self.names.iter().zip(&self.adapters) {
            builder = builder.adapter(name, Arc::clone(adapter));
        }
        builder.build()
    }
}

/// Builds the routers of a run with `[[restarts]]`, each reporting through its own
/// [`Generation`] sink so that a replaced router can be retired.
pub(crate) struct Restarter {
    recipe: Recipe,
    sink: Arc<dyn EventSink>,
    generations: RefCell<Vec<Arc<Generation>>>,
}

impl Restarter {
    fn first(&self) -> Result<Router, BuildError> {
        let sink = self.generation();
        self.recipe.build(GLOBAL, sink, None)
    }

    fn generation(&self) -> Arc<Generation> {
        let g = Arc::new(Generation {
            sink: Arc::clone(&self.sink),
            retired: AtomicBool::new(false),
        });
        self.generations.borrow_mut().push(Arc::clone(&g));
        g
    }

    /// The router of restart `generation` (1 for the first restart). It builds like the first
    /// router did, from a state that router exported: it cannot fail.
    pub(crate) fn build(&self, generation: usize, state: Option<RouterState>) -> Router {
        let sink = self.generation();
        self.recipe
            .build(generation as u64, sink, state)
            .expect("a router built once builds again from its own state")
    }

    /// The policy later restarts build their routers with (a reload changed it).
    pub(crate) fn set_policy(&self, policy: Policy) {
        *self.recipe.policy.borrow_mut() = policy;
    }

    /// Router `generation` was replaced: from now on its events say nothing about the routes.
    pub(crate) fn retire(&self, generation: usize) {
        self.generations.borrow()[generation]
            .retired
            .store(true, Ordering::Relaxed);
    }
}

/// The sink of one router of a run with restarts. Once the router is replaced it still
/// finishes the verifications started on it, and their decisions, attempts and outcomes count;
/// but its verdicts on routes (state changes, suppressed trips, panic) no longer steer any new
/// traffic, so they are dropped: route states and panic time follow the router in service.
struct Generation {
    sink: Arc<dyn EventSink>,
    retired: AtomicBool,
}

impl EventSink for Generation {
    fn emit(&self, event: &RouterEvent<'_>) {
        let verdict = matches!(
            event,
            RouterEvent::StateChange(_)
                | RouterEvent::TripSuppressed(_)
                | RouterEvent::PanicEnter(_)
                | RouterEvent::PanicExit(_)
        );
        if verdict && self.retired.load(Ordering::Relaxed) {
            return;
        }
        self.sink.emit(event);
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
