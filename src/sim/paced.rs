//! The world on the wall clock, for load tests: the same actors, distributions and faults as a
//! simulation, but their time follows real time (times `speed`), and the router runs elsewhere,
//! on its own multi-thread runtime, reaching the world only through its adapters.
//!
//! How time is paced without a scheduler of our own: the world keeps tokio's *paused* clock
//! (DESIGN section 6), on its own thread, and a blocking task held open for the whole run keeps
//! tokio from auto-advancing it (tokio documents that a running `spawn_blocking` task inhibits
//! auto-advance on a current-thread runtime). A pacer task then moves the clock forward with
//! `tokio::time::advance` to `speed x` the wall time elapsed, woken every [`TICK`] by a ticker
//! thread. With `speed` 1 the world runs on the wall clock; with `speed` 4 a 2 s delivery takes
//! 0.5 s of real time and a fault window of an hour lasts 15 minutes. The world's timers
//! therefore fire at most one tick (1 ms of real time) late, tokio's own timer resolution.
//!
//! The router's attempt timeouts are real time: each attempt's timeout is multiplied by
//! `speed` on its way into the world ([`PacedAdapter`]), so the world judges an attempt late
//! at the same moment the router does.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use failover_router::{Attempt, AttemptFuture, ProviderAdapter};
use tokio::sync::Notify;
use tokio::time::Instant;

use super::adapter::SimAdapter;
use super::clock::{Agenda, Clock, Event, Fire};
use super::trap::{self, Panicked};
use super::world::{SimError, assemble};
use crate::scenario::CompiledScenario;

/// How often the pacer moves the world's clock, in real time.
pub const TICK: Duration = Duration::from_millis(1);

/// A running world on the wall clock. Dropping it without [`PacedWorld::stop`] stops it too.
pub struct PacedWorld {
    adapters: Vec<Arc<dyn ProviderAdapter>>,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<Result<(), SimError>>>,
    ticker: Option<JoinHandle<()>>,
}

struct Shared {
    stop: AtomicBool,
    tick: Notify,
    /// Set when the world's thread ends, whatever the reason.
    ended: AtomicBool,
}

impl PacedWorld {
    /// Starts `world`'s actors on their own thread, their time `speed` times the wall clock's
    /// from now on. Returns once the actors are up, with one adapter per provider.
    pub fn start(
        world: Arc<CompiledScenario>,
        seed: u64,
        speed: f64,
    ) -> Result<PacedWorld, SimError> {
        let shared = Arc::new(Shared {
            stop: AtomicBool::new(false),
            tick: Notify::new(),
            ended: AtomicBool::new(false),
        });
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let thread = {
            let shared = Arc::clone(&shared);
            std::thread::Builder::new()
                .name("world".into())
                .spawn(move || {
                    let result = run_world(world, seed, speed, &shared, ready_tx);
                    shared.ended.store(true, Ordering::Release);
                    result
                })?
        };
        let adapters = match ready_rx.recv() {
            Ok(adapters) => adapters,
            // The world's thread ended before its actors were up: its result says why.
            Err(_) => {
                return Err(match thread.join() {
                    Ok(Err(e)) => e,
                    _ => SimError::Panicked(Panicked::outside("the world's start")),
                });
            }
        };
        let ticker = {
            let shared = Arc::clone(&shared);
            std::thread::Builder::new()
                .name("world-ticker".into())
                .spawn(move || {
                    while !shared.stop.load(Ordering::Acquire) {
                        std::thread::sleep(TICK);
                        shared.tick.notify_one();
                    }
                    shared.tick.notify_one();
                })?
        };
        let adapters = adapters
            .into_iter()
            .map(|inner| Arc::new(PacedAdapter { inner, speed }) as Arc<dyn ProviderAdapter>)
            .collect();
        Ok(PacedWorld {
            adapters,
            shared,
            thread: Some(thread),
            ticker: Some(ticker),
        })
    }

    /// One adapter per provider, in the scenario's provider order.
    pub fn adapters(&self) -> &[Arc<dyn ProviderAdapter>] {
        &self.adapters
    }

    /// Whether the world stopped by itself (a panic in an actor): its attempts will never be
    /// answered, so a load test must stop and report the error from [`PacedWorld::stop`].
    pub fn has_ended(&self) -> bool {
        self.shared.ended.load(Ordering::Acquire)
    }

    /// Stops the world and returns how it ended: an actor's panic is an error.
    pub fn stop(mut self) -> Result<(), SimError> {
        self.halt()
    }

    fn halt(&mut self) -> Result<(), SimError> {
        self.shared.stop.store(true, Ordering::Release);
        self.shared.tick.notify_one();
        if let Some(t) = self.ticker.take() {
            let _ = t.join();
        }
        match self.thread.take().map(JoinHandle::join) {
            None => Ok(()),
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(SimError::Panicked(Panicked::outside("the world's thread"))),
        }
    }
}

impl Drop for PacedWorld {
    fn drop(&mut self) {
        let _ = self.halt();
    }
}

/// The world's thread: its System on a paused clock, paced until told to stop.
fn run_world(
    world: Arc<CompiledScenario>,
    seed: u64,
    speed: f64,
    shared: &Arc<Shared>,
    ready: std::sync::mpsc::Sender<Vec<SimAdapter>>,
) -> Result<(), SimError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()?;
    let system = actix::System::with_tokio_rt(|| runtime);
    let trapped_world = Arc::clone(&world);
    let shared = Arc::clone(shared);
    let driven = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        system.block_on(async move {
            let epoch = Instant::now();
            let panicked = trap::arm(epoch);
            let agenda = Agenda::shared(epoch);
            let adapters = assemble(&world, seed, epoch, &agenda);
            actix_rt::spawn(Clock::new(agenda, RepliesOnly));
            // Held open until the run stops: while it runs, tokio does not auto-advance the
            // paused clock, so only the pacer below moves it.
            let (release, held) = std::sync::mpsc::channel::<()>();
            let inhibitor = tokio::task::spawn_blocking(move || {
                let _ = held.recv();
            });
            if ready.send(adapters).is_err() {
                return;
            }
            let wall_epoch = std::time::Instant::now();
            loop {
                tokio::select! {
                    biased;
                    _ = panicked.notified() => break,
                    _ = shared.tick.notified() => {}
                }
                if shared.stop.load(Ordering::Acquire) {
                    break;
                }
                let target = wall_epoch.elapsed().mul_f64(speed);
                let now = Instant::now() - epoch;
                if target > now {
                    tokio::time::advance(target - now).await;
                }
            }
            drop(release);
            let _ = inhibitor.await;
        })
    }));
    match (driven, trap::release(&trapped_world)) {
        (_, Some(p)) => Err(SimError::Panicked(p)),
        (Ok(()), None) => Ok(()),
        (Err(_), None) => Err(SimError::Panicked(Panicked::outside("the world's pacer"))),
    }
}

/// Without traffic in the world, its agenda holds only replies: arrivals, conversions and
/// impatient callers are the load generator's, on the router's side.
struct RepliesOnly;

impl Fire for RepliesOnly {
    fn fire(&self, event: Event) {
        if let Event::Reply { reply, outcome } = event {
            // The router may have given up on the attempt: then nobody listens.
            let _ = reply.send(outcome);
        }
    }
}

/// A provider's adapter whose attempt timeouts are converted to the world's time.
struct PacedAdapter {
    inner: SimAdapter,
    speed: f64,
}

impl ProviderAdapter for PacedAdapter {
    fn send(&self, mut attempt: Attempt) -> AttemptFuture {
        attempt.timeout = attempt.timeout.mul_f64(self.speed);
        self.inner.send(attempt)
    }
}
