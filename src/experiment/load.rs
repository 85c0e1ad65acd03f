//! A real-time load test: the world on a paced wall clock (`sim::PacedWorld`), the unmodified
//! router on a multi-thread tokio runtime with N workers as a service runs it, and an open-model
//! arrival generator between them (k6's constant-arrival-rate: a slow verification never holds
//! back the next arrival).
//!
//! Threads: the world's (its actors on a paused clock advanced to `speed x` wall time), the
//! router's workers, the generator (this module's [`run_load`] caller's thread: it sleeps until
//! each arrival's intended time and spawns its verification on the router's runtime), and a
//! collector that folds one record per finished verification and samples the counters at every
//! interval (`metrics::load::LoadFold`). Verifications send their records over a channel, so no
//! lock is shared between router workers for the measurement itself.
//!
//! What is measured, and how (`metrics::load` defines each figure): every arrival has an
//! intended time from the schedule; its record carries the intended, issue, start and end
//! times, the first routing decision's wall time (start of `verify` to the first adapter call,
//! seen by a metering adapter wrapped around each provider's), and the time an attempt of it was
//! outstanding in an adapter (the union of its attempts' intervals, ended when the router
//! observes the outcome or drops the attempt), so the router's overhead is `verify`'s wall time
//! minus that.
//!
//! The run ends when the arrival phase is over or [`LoadHooks::stop`] is set (Ctrl-C); then the
//! verifications in flight drain for at most the policy's deadline (the longest of its
//! overrides'), and whatever is still in flight is cut off: dropped, as a service shutting down
//! drops its requests, which the router audits as abandoned. The conservation law (every
//! intended arrival issued or dropped, every issued verification ended exactly once, the
//! router's audit agreeing) is checked before anything is reported.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use failover_router::{
    Attempt, AttemptFuture, AttemptOutcome, EventSink, ProviderAdapter, Router, RoutingTable,
};

use super::{ExperimentError, RunResult, RunSpec, recorder_config};
use crate::metrics::load::{
    ArrivalCounts, Counters, Ended, LoadFold, LoadSample, LoadSummary, MAX_LAG, RunFacts,
    VerificationRecord,
};
use crate::metrics::{Recorder, RecorderConfig, ScenarioInfo};
use crate::scenario::{Arrivals, CompiledScenario};
use crate::sim::arrivals::{Arrival, Generator, Requests};
use crate::sim::rng::{GLOBAL, Purpose, stream_key};
use crate::sim::{PacedWorld, SimError, TrafficCounts};

/// Default limit of verifications in flight (`--max-in-flight`): beyond it arrivals are
/// dropped, so an overloaded router costs dropped arrivals, not unbounded memory.
pub const DEFAULT_MAX_IN_FLIGHT: u64 = 100_000;
/// The most `--speed` accepts: beyond it the world's millisecond timers would be coarser than a
/// microsecond of its time.
pub const MAX_SPEED: f64 = 1000.0;
/// The highest peak arrival rate (per wall second) one generator thread is asked for: it draws
/// every intended arrival, issued or dropped, at about 10 million a second, so up to this rate
/// it keeps pace with its schedule even when the router cannot, and an overload shows as
/// dropped arrivals, never as a phase that overruns its time.
pub const MAX_RATE: f64 = 1_000_000.0;
/// The longest world time a load test may cover (`--duration` x `--speed`).
pub const MAX_WORLD_TIME: Duration = Duration::from_secs(366 * 24 * 3600);

/// What to run.
#[derive(Clone, Debug)]
pub struct LoadPlan {
    /// Index into the scenario's policies.
    pub policy: usize,
    pub seed: u64,
    /// The world's time runs `speed` times faster than the wall clock.
    pub speed: f64,
    /// Legitimate arrivals at this constant rate per wall second instead of the scenario's
    /// profile (fraud spikes keep theirs, times `speed`).
    pub rate: Option<f64>,
    /// Wall time of the arrival phase.
    pub duration: Duration,
    /// Router worker threads.
    pub threads: usize,
    pub max_in_flight: u64,
    /// The router records its metrics into the process's `metrics` recorder (`load
    /// --metrics-listen`); off, the overhead figures are the router's alone.
    pub metrics: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum LoadPlanError {
    #[error("--speed must be a number in (0, {MAX_SPEED}], not {0}")]
    Speed(f64),
    #[error("--rate must be a positive number of verifications per second, not {0}")]
    Rate(f64),
    #[error(
        "--rate replaces the scenario's arrival rate, but this scenario replays a trace \
         ([traffic] trace): drop --rate, or use a scenario with [traffic] rate"
    )]
    RateOnTrace,
    #[error("--duration must be longer than zero")]
    Duration,
    #[error(
        "--duration x --speed covers more than a year of the world's time: shorten --duration \
         or lower --speed"
    )]
    WorldTime,
    #[error(
        "the peak arrival rate would be {0}/s, above the generator's {MAX_RATE:.0}/s: lower \
         --rate or --speed (the scenario's rates and fraud spikes are multiplied by --speed)"
    )]
    PeakRate(String),
    #[error("--threads must be at least 1")]
    Threads,
    #[error("--max-in-flight must be at least 1")]
    MaxInFlight,
    #[error(
        "the scenario restarts the router ([[restarts]]), which `load` does not do: a load test \
         measures one router's overhead in real time; run restarts with `failover-lab run`, or \
         remove the [[restarts]] entries"
    )]
    Restarts,
    #[error(
        "the scenario reloads the router's policy ([[reloads]]), which `load` does not do: a load \
         test measures one router under one policy in real time; run reloads with \
         `failover-lab run`, or remove the [[reloads]] entries"
    )]
    Reloads,
}

impl LoadPlan {
    /// The arrival phase a scenario gets by default: its duration, compressed by `speed`.
    pub fn default_duration(world: &CompiledScenario, speed: f64) -> Duration {
        world.duration.div_f64(speed)
    }

    /// `--speed` alone: checked first, since the default duration divides by it.
    pub fn check_speed(speed: f64) -> Result<(), LoadPlanError> {
        if speed > 0.0 && speed <= MAX_SPEED {
            Ok(())
        } else {
            Err(LoadPlanError::Speed(speed))
        }
    }

    pub fn check(&self, world: &CompiledScenario) -> Result<(), LoadPlanError> {
        Self::check_speed(self.speed)?;
        if !world.restarts.is_empty() {
            return Err(LoadPlanError::Restarts);
        }
        if !world.reloads.is_empty() {
            return Err(LoadPlanError::Reloads);
        }
        if let Some(rate) = self.rate {
            if !(rate > 0.0 && rate.is_finite()) {
                return Err(LoadPlanError::Rate(rate));
            }
            if matches!(world.traffic.arrivals, Arrivals::Trace(_)) {
                return Err(LoadPlanError::RateOnTrace);
            }
        }
        if self.duration.is_zero() {
            return Err(LoadPlanError::Duration);
        }
        if self.duration.as_secs_f64() * self.speed > MAX_WORLD_TIME.as_secs_f64() {
            return Err(LoadPlanError::WorldTime);
        }
        let legitimate = match (self.rate, &world.traffic.arrivals) {
            (Some(rate), _) => rate,
            (None, Arrivals::Poisson(profile)) => profile.max_rate() * self.speed,
            (None, Arrivals::Trace(_)) => 0.0,
        };
        let peak =
            legitimate + world.traffic.fraud.iter().map(|f| f.rate).sum::<f64>() * self.speed;
        if peak > MAX_RATE {
            let shown = if peak < 1e12 {
                format!("{peak:.0}")
            } else {
                format!("{peak:.2e}")
            };
            return Err(LoadPlanError::PeakRate(shown));
        }
        if self.threads == 0 {
            return Err(LoadPlanError::Threads);
        }
        if self.max_in_flight == 0 {
            return Err(LoadPlanError::MaxInFlight);
        }
        Ok(())
    }
}

/// A live view: called with every interval's figures, on the collector's thread.
pub type LiveFn = Box<dyn FnMut(&LiveView) + Send>;

/// What the caller may attach: a stop flag (set it to end the arrival phase early and drain) and
/// a live view called with every interval's sample.
#[derive(Default)]
pub struct LoadHooks {
    pub stop: Arc<AtomicBool>,
    pub live: Option<LiveFn>,
}

/// The live view's figures at the end of an interval.
#[derive(Clone, Copy, Debug)]
pub struct LiveView {
    pub sample: LoadSample,
    /// Wall seconds of the planned arrival phase.
    pub planned: f64,
    /// Success rate and overhead p99 (microseconds) so far.
    pub success: f64,
    pub overhead_p99: f64,
    /// Draining: arrivals are over.
    pub draining: bool,
}

/// A finished load test: the run as the recorder saw it (times in wall seconds) and the load
/// measurements.
pub struct LoadResult {
    pub run: RunResult,
    pub load: LoadSummary,
}

/// The report's scenario facts in wall time, like the recorder's (see [`run_load`]): windows,
/// bucket and fault times divided by `speed`, the duration the arrival phase's.
pub fn wall_scenario_info(mut info: ScenarioInfo, plan: &LoadPlan) -> ScenarioInfo {
    let wall = |s: f64| s / plan.speed;
    info.duration = plan.duration.as_secs_f64();
    info.warmup = wall(info.warmup).min(info.duration);
    info.bucket = wall(info.bucket).max(0.001);
    for f in &mut info.faults {
        f.start = wall(f.start);
        f.end = wall(f.end);
    }
    info
}

/// The world's scenario for a load test: its duration is the arrival phase times `speed`
/// (shorter or longer than the file's), so generators end with the phase.
fn world_for(world: &CompiledScenario, plan: &LoadPlan) -> CompiledScenario {
    let mut w = world.clone();
    w.duration = plan.duration.mul_f64(plan.speed);
    w
}

/// The recorder sees router time, which is wall time: the scenario's windows, buckets and fault
/// times are divided by `speed` so the report's time axis is the wall clock's.
fn wall_recorder_config(
    world: &CompiledScenario,
    plan: &LoadPlan,
) -> Result<RecorderConfig, ExperimentError> {
    let mut cfg = recorder_config(world)?;
    let k = plan.speed;
    let wall = |d: Duration| d.div_f64(k);
    cfg.warmup = wall(cfg.warmup).min(plan.duration);
    cfg.duration = plan.duration;
    cfg.bucket = wall(cfg.bucket).max(Duration::from_millis(1));
    cfg.flap_window = wall(cfg.flap_window);
    for f in &mut cfg.faults {
        f.start = wall(f.start);
        f.end = wall(f.end);
    }
    Ok(cfg)
}

/// Per-verification meter: the first adapter call and the time attempts were outstanding.
#[derive(Default)]
struct Meter {
    state: Mutex<MeterState>,
}

#[derive(Default)]
struct MeterState {
    first_send: Option<u64>,
    outstanding: u32,
    busy_since: u64,
    busy: u64,
}

impl Meter {
    fn begin(&self, now: u64) {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        s.first_send.get_or_insert(now);
        if s.outstanding == 0 {
            s.busy_since = now;
        }
        s.outstanding += 1;
    }

    fn end(&self, now: u64) {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        s.outstanding = s.outstanding.saturating_sub(1);
        if s.outstanding == 0 {
            s.busy += now.saturating_sub(s.busy_since);
        }
    }

    /// (first adapter call, time in adapters) at the end of `verify`.
    fn read(&self, ended: u64) -> (Option<u64>, u64) {
        let s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let open = if s.outstanding > 0 {
            ended.saturating_sub(s.busy_since)
        } else {
            0
        };
        (s.first_send, s.busy + open)
    }
}

tokio::task_local! {
    /// The meter of the verification whose task is running: `verify` calls adapters inside its
    /// own poll, so the metering adapter finds it here.
    static METER: Arc<Meter>;
}

/// Nanoseconds since the run's start.
#[derive(Clone, Copy)]
struct Clock(Instant);

impl Clock {
    fn ns(&self) -> u64 {
        self.0.elapsed().as_nanos() as u64
    }
    fn ns_at(&self, t: Instant) -> u64 {
        t.saturating_duration_since(self.0).as_nanos() as u64
    }
}

/// Wraps a provider's adapter to meter the attempts made inside a metered verification.
struct Metered {
    inner: Arc<dyn ProviderAdapter>,
    clock: Clock,
}

impl ProviderAdapter for Metered {
    fn send(&self, attempt: Attempt) -> AttemptFuture {
        let Ok(meter) = METER.try_with(Arc::clone) else {
            return self.inner.send(attempt);
        };
        meter.begin(self.clock.ns());
        let fut = self.inner.send(attempt);
        Box::pin(MeteredAttempt {
            fut,
            meter,
            clock: self.clock,
            done: false,
        })
    }
}

struct MeteredAttempt {
    fut: AttemptFuture,
    meter: Arc<Meter>,
    clock: Clock,
    done: bool,
}

impl std::future::Future for MeteredAttempt {
    type Output = AttemptOutcome;
    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<AttemptOutcome> {
        let polled = self.fut.as_mut().poll(cx);
        if polled.is_ready() && !self.done {
            self.done = true;
            self.meter.end(self.clock.ns());
        }
        polled
    }
}

impl Drop for MeteredAttempt {
    fn drop(&mut self) {
        if !self.done {
            self.meter.end(self.clock.ns());
        }
    }
}

enum Message {
    Finished(VerificationRecord),
    Converted,
}

/// What the generator, the verifications and the collector share.
struct Shared {
    router: Router,
    clock: Clock,
    in_flight: AtomicU64,
    intended: AtomicU64,
    issued: AtomicU64,
    dropped_late: AtomicU64,
    dropped_in_flight: AtomicU64,
    /// Set when the drain is over: conversions still waiting are not recorded.
    over: AtomicBool,
}

impl Shared {
    fn counters(&self) -> Counters {
        Counters {
            arrivals: ArrivalCounts {
                intended: self.intended.load(Ordering::Acquire),
                issued: self.issued.load(Ordering::Acquire),
                dropped_late: self.dropped_late.load(Ordering::Acquire),
                dropped_in_flight: self.dropped_in_flight.load(Ordering::Acquire),
            },
            in_flight: self.in_flight.load(Ordering::Acquire),
            cpu: process_usage().map(|u| u.cpu),
        }
    }
}

/// One verification, from its issue to its record (and its user's conversion, if any).
async fn verification(
    shared: Arc<Shared>,
    sender: Sender<Message>,
    req: failover_router::VerificationRequest,
    intended: u64,
    issued: u64,
    patience: Option<Duration>,
    think: Option<Duration>,
) {
    let meter = Arc::new(Meter::default());
    let started = shared.clock.ns();
    // Boxed: the verification's state is large; a pointer is cheaper to move into the timeout.
    let verify = METER.scope(Arc::clone(&meter), Box::pin(shared.router.verify(req)));
    let outcome = match patience {
        None => Some(verify.await),
        Some(p) => tokio::time::timeout(p, verify).await.ok(),
    };
    let ended_at = shared.clock.ns();
    let (first_send, in_adapters) = meter.read(ended_at);
    let ended = match &outcome {
        None => Ended::CallerGaveUp,
        Some(o) if o.delivered() => Ended::Delivered,
        Some(_) => Ended::Failed,
    };
    // The collector is gone only once the run is over: nothing is left to measure.
    let _ = sender.send(Message::Finished(VerificationRecord {
        intended,
        issued,
        started,
        ended_at,
        decision: first_send.map(|f| f.saturating_sub(started)),
        in_adapters,
        ended,
    }));
    shared.in_flight.fetch_sub(1, Ordering::AcqRel);
    if let (Some(think), Some(receipt)) = (think, outcome.and_then(|o| o.receipt)) {
        tokio::time::sleep(think).await;
        if !shared.over.load(Ordering::Acquire) {
            shared.router.record_conversion(&receipt);
            let _ = sender.send(Message::Converted);
        }
    }
}

/// Process CPU time and peak resident set size, from `getrusage`.
#[derive(Clone, Copy)]
struct Usage {
    cpu: Duration,
    peak_rss: u64,
}

#[cfg(unix)]
fn process_usage() -> Option<Usage> {
    // SAFETY: `getrusage` writes into the struct it is given and reads nothing else.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) } != 0 {
        return None;
    }
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1_000);
    // Linux reports `ru_maxrss` in KiB (macOS in bytes; the lab's CI is Linux).
    let scale = if cfg!(target_os = "macos") { 1 } else { 1024 };
    Some(Usage {
        cpu: tv(u.ru_utime) + tv(u.ru_stime),
        peak_rss: (u.ru_maxrss as u64).saturating_mul(scale),
    })
}

#[cfg(not(unix))]
fn process_usage() -> Option<Usage> {
    None
}

/// How often the collector samples: about 200 samples over the run, at least 100 ms apart.
pub fn sample_interval(phase: Duration) -> Duration {
    let ms = (phase.as_millis() / 200).max(100);
    // Rounded to 100 ms so the samples fall on readable times.
    Duration::from_millis((ms.div_ceil(100) * 100) as u64)
}

/// The arrival schedule: every generator's next arrival, the earliest first.
struct Schedule {
    generators: Vec<Generator>,
    next: Vec<Option<(Duration, Arrival)>>,
}

impl Schedule {
    fn new(world: &CompiledScenario, seed: u64, constant_rate: Option<f64>) -> Self {
        let mut generators = Generator::for_world(world, seed, constant_rate);
        let next = generators.iter_mut().map(|g| g.next(world)).collect();
        Schedule { generators, next }
    }

    /// The generator with the earliest next arrival (ties: the first), and when it is due.
    fn peek(&self) -> Option<(usize, Duration)> {
        self.next
            .iter()
            .enumerate()
            .filter_map(|(g, n)| n.map(|(at, _)| (g, at)))
            .min_by_key(|&(g, at)| (at, g))
    }
}

/// Runs a load test of `plan` against `world`. Blocks until the run has drained.
pub fn run_load(
    world: &Arc<CompiledScenario>,
    plan: &LoadPlan,
    mut hooks: LoadHooks,
    sink: Option<Arc<dyn EventSink>>,
) -> Result<LoadResult, ExperimentError> {
    let named = world
        .policies
        .get(plan.policy)
        .ok_or(ExperimentError::NoSuchPolicy(plan.policy))?;
    let sim_error = |source: SimError| ExperimentError::Sim {
        policy: named.name.clone(),
        source,
    };
    let loaded_world = Arc::new(world_for(world, plan));
    let recorder = Arc::new(Recorder::new(wall_recorder_config(world, plan)?)?);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(plan.threads)
        .thread_name("router")
        .enable_time()
        .build()
        .map_err(|e| sim_error(SimError::Runtime(e)))?;
    let paced =
        PacedWorld::start(Arc::clone(&loaded_world), plan.seed, plan.speed).map_err(sim_error)?;

    // The run's clock starts now: the router's epoch, the recorder's zero and the first
    // arrival's schedule are all within microseconds of it.
    let clock = Clock(Instant::now());
    let table = RoutingTable::new(&world.provider_names(), &world.routes)?;
    let events: Arc<dyn EventSink> = match sink {
        None => recorder.clone(),
        Some(extra) => Arc::new(Both(recorder.clone(), extra)),
    };
    let mut builder = Router::builder(table, named.policy.clone())
        .sink(events)
        .seed(stream_key(plan.seed, Purpose::RouterExploration, GLOBAL))
        .metrics(plan.metrics);
    for (p, adapter) in world.providers.iter().zip(paced.adapters()) {
        builder = builder.adapter(
            &p.name,
            Arc::new(Metered {
                inner: Arc::clone(adapter),
                clock,
            }),
        );
    }
    let router = {
        let _entered = runtime.enter();
        builder
            .build()
            .map_err(|e| sim_error(SimError::Router(e)))?
    };
    let (sender, receiver) = std::sync::mpsc::channel();
    let shared = Arc::new(Shared {
        router,
        clock,
        in_flight: AtomicU64::new(0),
        intended: AtomicU64::new(0),
        issued: AtomicU64::new(0),
        dropped_late: AtomicU64::new(0),
        dropped_in_flight: AtomicU64::new(0),
        over: AtomicBool::new(false),
    });
    let cores = super::default_threads();
    let interval = sample_interval(plan.duration);
    let generating = Arc::new(AtomicBool::new(true));
    let collector = {
        let shared = Arc::clone(&shared);
        let generating = Arc::clone(&generating);
        let live = hooks.live.take();
        let planned = plan.duration.as_secs_f64();
        std::thread::Builder::new()
            .name("load-collector".into())
            .spawn(move || collect(receiver, shared, generating, live, interval, cores, planned))
            .map_err(|e| sim_error(SimError::Runtime(e)))?
    };

    // The arrival phase, on this thread.
    let deadline = drain_limit(&named.policy);
    let fraud = generate(
        &loaded_world,
        plan,
        &shared,
        &sender,
        runtime.handle(),
        &hooks.stop,
        &paced,
    );
    generating.store(false, Ordering::Release);
    drop(sender);
    let interrupted = hooks.stop.load(Ordering::Acquire);
    let arrivals_over = clock.ns();

    // The drain: in-flight verifications end by themselves within the deadline.
    let drain_started = Instant::now();
    while shared.in_flight.load(Ordering::Acquire) > 0
        && drain_started.elapsed() < deadline
        && !paced.has_ended()
    {
        std::thread::sleep(Duration::from_millis(1));
    }
    let drain = drain_started.elapsed();
    shared.over.store(true, Ordering::Release);
    // What is still in flight is cut off: the runtime drops its tasks (the router audits them
    // as abandoned), straggler watchers included.
    let cut_off = shared.in_flight.load(Ordering::Acquire);
    runtime.shutdown_timeout(Duration::from_secs(1));
    let world_ended = paced.stop();
    let fold = collector.join().map_err(|_| {
        sim_error(SimError::Panicked(crate::sim::Panicked::outside(
            "the load collector",
        )))
    })?;
    world_ended.map_err(sim_error)?;

    let usage = process_usage();
    let duration = arrivals_over as f64 / 1e9;
    let counters = shared.counters();
    let load = fold.finish(RunFacts {
        speed: plan.speed,
        threads: plan.threads,
        cores,
        duration,
        drain: drain.as_secs_f64(),
        interrupted,
        arrivals: counters.arrivals,
        cut_off,
        max_in_flight: plan.max_in_flight,
        peak_rss_bytes: usage.map(|u| u.peak_rss),
        cpu: usage.map(|u| u.cpu),
    });
    let law = |law: String| ExperimentError::Conservation {
        policy: named.name.clone(),
        seed: plan.seed,
        law,
    };
    load.check_conservation().map_err(law)?;
    let ledger = recorder.ledger();
    if ledger.finished != counters.arrivals.issued {
        return Err(law(format!(
            "{} verifications were issued but the router audited {} as finished",
            counters.arrivals.issued, ledger.finished
        )));
    }
    let end = Duration::from_nanos(clock.ns());
    Ok(LoadResult {
        run: RunResult {
            spec: RunSpec {
                policy: plan.policy,
                seed: plan.seed,
            },
            policy: named.name.clone(),
            run: recorder.summary(end),
            traffic: TrafficCounts {
                legitimate: counters.arrivals.issued - fraud,
                fraudulent: fraud,
                conversions: load.outcomes.conversions,
                caller_gave_up: load.outcomes.caller_gave_up,
            },
            end,
            wall: end,
        },
        load,
    })
}

/// Both sinks: the recorder, then an audit writer.
struct Both(Arc<Recorder>, Arc<dyn EventSink>);

impl EventSink for Both {
    fn emit(&self, event: &failover_router::RouterEvent<'_>) {
        self.0.emit(event);
        self.1.emit(event);
    }
}

/// The longest a verification may run under `policy`: its deadline or an override's.
fn drain_limit(policy: &failover_router::Policy) -> Duration {
    policy
        .overrides
        .iter()
        .filter_map(|o| o.deadline)
        .fold(policy.deadline, Duration::max)
        + Duration::from_millis(100)
}

/// The arrival phase: issues every arrival at its intended time (or drops it), until the
/// schedule ends, the phase's time is up or `stop` is set. Returns the fraudulent
/// verifications issued.
fn generate(
    world: &CompiledScenario,
    plan: &LoadPlan,
    shared: &Arc<Shared>,
    sender: &Sender<Message>,
    runtime: &tokio::runtime::Handle,
    stop: &AtomicBool,
    paced: &PacedWorld,
) -> u64 {
    let k = plan.speed;
    // `--rate` is per wall second; the world draws in its own time.
    let mut schedule = Schedule::new(world, plan.seed, plan.rate.map(|r| r / k));
    let requests = Requests::new(world);
    let mut seq = 0u64;
    let mut fraud = 0;
    let start = shared.clock.0;
    while let Some((g, at)) = schedule.peek() {
        if stop.load(Ordering::Acquire) || paced.has_ended() {
            break;
        }
        let intended = start + at.div_f64(k);
        let now = Instant::now();
        if intended > now {
            // Short sleeps, so a stop is seen within a few milliseconds.
            std::thread::sleep((intended - now).min(Duration::from_millis(5)));
            continue;
        }
        let (_, arrival) = schedule.next[g].take().expect("peeked");
        let generator = &mut schedule.generators[g];
        // Drawn whether or not the arrival is dropped: the streams stay aligned.
        let drawn = generator.draw(world, &arrival);
        schedule.next[g] = generator.next(world);
        shared.intended.fetch_add(1, Ordering::AcqRel);
        if now - intended > MAX_LAG {
            shared.dropped_late.fetch_add(1, Ordering::AcqRel);
            continue;
        }
        if shared.in_flight.load(Ordering::Acquire) >= plan.max_in_flight {
            shared.dropped_in_flight.fetch_add(1, Ordering::AcqRel);
            continue;
        }
        shared.in_flight.fetch_add(1, Ordering::AcqRel);
        shared.issued.fetch_add(1, Ordering::AcqRel);
        fraud += u64::from(arrival.fraud);
        let req = requests.request(world, seq, &arrival, &drawn);
        seq += 1;
        let think = drawn.converts.then(|| drawn.think.div_f64(k));
        let patience = arrival.caller_timeout.map(|p| p.div_f64(k));
        let clock = shared.clock;
        runtime.spawn(verification(
            Arc::clone(shared),
            sender.clone(),
            req,
            clock.ns_at(intended),
            clock.ns_at(now),
            patience,
            think,
        ));
    }
    fraud
}

/// The collector: folds records as they come and closes an interval every `interval`.
fn collect(
    receiver: Receiver<Message>,
    shared: Arc<Shared>,
    generating: Arc<AtomicBool>,
    mut live: Option<LiveFn>,
    interval: Duration,
    cores: usize,
    planned: f64,
) -> LoadFold {
    let mut fold = LoadFold::default();
    let mut next = shared.clock.0 + interval;
    let mut sample_at = |fold: &mut LoadFold, t: Instant| {
        let s = fold.sample(
            t.saturating_duration_since(shared.clock.0).as_secs_f64(),
            shared.counters(),
            cores,
        );
        if let Some(live) = live.as_mut() {
            let (success, overhead_p99) = fold.so_far();
            live(&LiveView {
                sample: s,
                planned,
                success,
                overhead_p99,
                draining: shared.issued.load(Ordering::Acquire) > 0
                    && !generating.load(Ordering::Acquire),
            });
        }
    };
    loop {
        let timeout = next.saturating_duration_since(Instant::now());
        match receiver.recv_timeout(timeout) {
            Ok(Message::Finished(r)) => fold.record(&r),
            Ok(Message::Converted) => fold.converted(),
            Err(RecvTimeoutError::Timeout) => {
                sample_at(&mut fold, next);
                next += interval;
            }
            Err(RecvTimeoutError::Disconnected) => break,
        }
    }
    // The last, partial interval.
    sample_at(&mut fold, Instant::now());
    fold
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Time in adapters is the union of the attempts' intervals: overlapping attempts (a retry
    /// sent while the first is still out) count once, gaps (the router deciding) not at all,
    /// and an attempt still out when `verify` ends counts until then.
    #[test]
    fn time_in_adapters_is_the_union_of_the_attempts_intervals() {
        let m = Meter::default();
        m.begin(10);
        m.begin(15);
        m.end(25);
        m.end(30);
        // 10..30 busy; the router works from 30 to 40.
        m.begin(40);
        assert_eq!(m.read(50), (Some(10), 30));
        m.end(60);
        assert_eq!(m.read(70), (Some(10), 40));
    }

    #[test]
    fn samples_are_about_two_hundred_a_run_at_least_100_ms_apart() {
        assert_eq!(
            sample_interval(Duration::from_secs(5)),
            Duration::from_millis(100)
        );
        assert_eq!(
            sample_interval(Duration::from_secs(60)),
            Duration::from_millis(300)
        );
        assert_eq!(
            sample_interval(Duration::from_secs(3600)),
            Duration::from_secs(18)
        );
    }
}
