//! Traffic: who asks for a verification code, when, where to, and whether they type it in.
//!
//! Legitimate arrivals are a non-homogeneous Poisson process (base rate x diurnal profile x
//! bursts) simulated by thinning against the profile's maximum rate; each fraud spike is its own
//! homogeneous Poisson stream whose users never convert; a trace replays recorded arrivals.
//! Every arrival draws the same random numbers from its own streams whatever happens later, so
//! every policy faces the identical sequence of requests and users (common random numbers).
//!
//! Callers may be impatient (`caller_timeout`): then the caller's give-up is an event in the
//! world's agenda, and the task awaiting `verify` drops the verification when it fires, as a
//! service's HTTP handler does when its own timeout runs out. The router audits such a
//! verification as `abandoned` (and still judges its attempts); the traffic counts the give-ups
//! in [`TrafficCounts::caller_gave_up`] as ground truth.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use failover_router::{
    DeliveryReceipt, Destination, Router, VerificationOutcome, VerificationRequest,
};
use rand::Rng;
use tokio::sync::oneshot;
use tokio::time::Instant;

use super::clock::{Event, SharedAgenda};
use super::message::SimTag;
use super::rng::{GLOBAL, Purpose, SimRng, stream};
use crate::scenario::distribution::duration_from_secs;
use crate::scenario::{self, Arrivals, CompiledScenario, RateProfile};

/// Counts of what the traffic generators produced.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TrafficCounts {
    pub legitimate: u64,
    pub fraudulent: u64,
    pub conversions: u64,
    /// Verifications whose caller gave up (`caller_timeout`) and dropped them unfinished,
    /// warmup included.
    pub caller_gave_up: u64,
}

/// How long after the end of the run a user may still enter a code (README, "Metrics").
pub const CONVERSION_HORIZON: Duration = Duration::from_secs(3600);

pub(crate) struct Traffic {
    world: Arc<CompiledScenario>,
    router: Router,
    epoch: Instant,
    /// The last instant a user may still convert: the end of the run plus
    /// [`CONVERSION_HORIZON`] (computed once: instant arithmetic is not free per verification).
    last_conversion: Instant,
    agenda: SharedAgenda,
    /// One synthetic (never real) number per country: `+DE0000000000`.
    numbers: Vec<Destination>,
    use_cases: Vec<Arc<str>>,
    generators: RefCell<Vec<Generator>>,
    next_seq: Cell<u64>,
    /// Verifications not finished, plus conversions not yet made.
    live_verifications: Cell<u64>,
    live_generators: Cell<usize>,
    counts: Cell<TrafficCounts>,
    /// Only when some callers may give up.
    done: RefCell<Option<oneshot::Sender<()>>>,
}

/// What one arrival will do.
#[derive(Clone, Copy)]
struct Arrival {
    destination: scenario::Destination,
    fraud: bool,
    /// How long its caller waits for `verify`; `None`: until it ends.
    caller_timeout: Option<Duration>,
}

/// Where a generator's arrivals come from.
enum Source {
    /// Legitimate traffic: a non-homogeneous Poisson process; `t` is the last arrival (s).
    Poisson { t: f64 },
    /// Legitimate traffic replayed from a trace; `next` indexes it.
    Trace { next: usize },
    /// Fraud spike `spike`: a homogeneous Poisson process; `t` is the last arrival (s).
    Fraud { spike: usize, t: f64 },
}

/// One traffic generator: its source and its own random streams. Its next arrival is drawn
/// when the previous one happens and waits in the world's agenda.
struct Generator {
    source: Source,
    arrivals: SimRng,
    dest: SimRng,
    users: SimRng,
    /// The arrival scheduled in the agenda.
    pending: Option<Arrival>,
}

impl Traffic {
    pub(crate) fn new(
        world: Arc<CompiledScenario>,
        router: Router,
        seed: u64,
        epoch: Instant,
        agenda: SharedAgenda,
        done: oneshot::Sender<()>,
    ) -> Rc<Self> {
        let numbers = world
            .countries
            .iter()
            .map(|c| Destination::new(format!("+{}0000000000", c.code)))
            .collect();
        let use_cases = world
            .use_cases
            .iter()
            .map(|u| Arc::from(u.as_str()))
            .collect();
        let legitimate = match &world.traffic.arrivals {
            Arrivals::Poisson(_) => Source::Poisson { t: 0.0 },
            Arrivals::Trace(_) => Source::Trace { next: 0 },
        };
        let mut generators = vec![Generator {
            source: legitimate,
            arrivals: stream(seed, Purpose::Arrivals, GLOBAL),
            dest: stream(seed, Purpose::Destinations, GLOBAL),
            users: stream(seed, Purpose::UserBehaviour, GLOBAL),
            pending: None,
        }];
        for (i, spike) in world.traffic.fraud.iter().enumerate() {
            generators.push(Generator {
                source: Source::Fraud {
                    spike: i,
                    t: spike.start.as_secs_f64(),
                },
                arrivals: stream(seed, Purpose::FraudArrivals, i as u64),
                dest: stream(seed, Purpose::Destinations, 1 + i as u64),
                users: stream(seed, Purpose::UserBehaviour, 1 + i as u64),
                pending: None,
            });
        }
        Rc::new(Traffic {
            last_conversion: epoch + world.duration + CONVERSION_HORIZON,
            world,
            router,
            epoch,
            agenda,
            numbers,
            use_cases,
            generators: RefCell::new(generators),
            next_seq: Cell::new(0),
            live_verifications: Cell::new(0),
            live_generators: Cell::new(0),
            counts: Cell::new(TrafficCounts::default()),
            done: RefCell::new(Some(done)),
        })
    }

    pub(crate) fn counts(&self) -> TrafficCounts {
        self.counts.get()
    }

    /// Schedules every generator's first arrival; `done` fires when all generators have ended
    /// and every verification (and its user's conversion) has finished.
    pub(crate) fn start(&self) {
        let mut generators = self.generators.borrow_mut();
        self.live_generators.set(generators.len());
        let mut ended = 0;
        for (g, generator) in generators.iter_mut().enumerate() {
            if !self.schedule_next(g, generator) {
                ended += 1;
            }
        }
        drop(generators);
        for _ in 0..ended {
            self.generator_done();
        }
    }

    /// Generator `g`'s scheduled arrival is due.
    pub(crate) fn arrive(self: &Rc<Self>, g: usize) {
        let mut generators = self.generators.borrow_mut();
        let generator = &mut generators[g];
        let arrival = generator
            .pending
            .take()
            .expect("an arrival fired that was never scheduled");
        self.launch(arrival, &mut generator.dest, &mut generator.users);
        let more = self.schedule_next(g, generator);
        drop(generators);
        if !more {
            self.generator_done();
        }
    }

    /// A user typed the code in.
    pub(crate) fn converted(&self, receipt: &DeliveryReceipt) {
        self.router.record_conversion(receipt);
        let mut c = self.counts.get();
        c.conversions += 1;
        self.counts.set(c);
        self.settle();
    }

    /// One verification is completely over (including its user's conversion).
    fn settle(&self) {
        self.live_verifications
            .set(self.live_verifications.get() - 1);
        self.maybe_done();
    }

    fn generator_done(&self) {
        self.live_generators.set(self.live_generators.get() - 1);
        self.maybe_done();
    }

    fn maybe_done(&self) {
        if self.live_generators.get() == 0
            && self.live_verifications.get() == 0
            && let Some(tx) = self.done.borrow_mut().take()
        {
            let _ = tx.send(());
        }
    }

    /// Draws generator `g`'s next arrival and puts it in the agenda; `false` if it has ended.
    /// Each source draws from its streams in the same order whatever happens to the traffic it
    /// generated, so every policy faces the same arrivals (common random numbers).
    fn schedule_next(&self, g: usize, generator: &mut Generator) -> bool {
        let world = &self.world;
        let next = match &mut generator.source {
            Source::Poisson { t } => {
                let Arrivals::Poisson(profile) = &world.traffic.arrivals else {
                    unreachable!("a Poisson generator for a trace scenario")
                };
                next_arrival(profile, &mut generator.arrivals, *t, world.duration).map(|next| {
                    *t = next;
                    let class = world.traffic.pick_class(generator.dest.random());
                    let arrival = Arrival {
                        destination: class.destination,
                        fraud: false,
                        caller_timeout: class.caller_timeout,
                    };
                    (duration_from_secs(next), arrival)
                })
            }
            Source::Trace { next } => {
                let Arrivals::Trace(trace) = &world.traffic.arrivals else {
                    unreachable!("a trace generator for a Poisson scenario")
                };
                trace.get(*next).map(|a| {
                    *next += 1;
                    let arrival = Arrival {
                        destination: a.destination,
                        fraud: false,
                        caller_timeout: world.traffic.caller_timeout,
                    };
                    (a.at, arrival)
                })
            }
            Source::Fraud { spike, t } => {
                let spike = &world.traffic.fraud[*spike];
                *t += exponential(&mut generator.arrivals, spike.rate);
                (*t < spike.end.as_secs_f64()).then(|| {
                    let arrival = Arrival {
                        destination: spike.destination,
                        fraud: true,
                        caller_timeout: world.traffic.caller_timeout,
                    };
                    (duration_from_secs(*t), arrival)
                })
            }
        };
        let Some((at, arrival)) = next else {
            return false;
        };
        generator.pending = Some(arrival);
        self.agenda
            .borrow_mut()
            .schedule(self.epoch + at, Event::Arrival(g));
        true
    }

    fn launch(self: &Rc<Self>, a: Arrival, dest: &mut SimRng, users: &mut SimRng) {
        let country = self.world.country(a.destination.country);
        // Fixed number of draws per arrival, used or not.
        let carrier = country.pick_carrier(dest.random());
        let invalid = dest.random::<f64>() < country.invalid_share;
        let converts = !a.fraud && users.random::<f64>() < country.conversion;
        let think = country.think_time.sample(users);

        let seq = self.next_seq.get();
        self.next_seq.set(seq + 1);
        let mut counts = self.counts.get();
        if a.fraud {
            counts.fraudulent += 1;
        } else {
            counts.legitimate += 1;
        }
        self.counts.set(counts);
        let id = SimTag {
            seq,
            carrier,
            invalid,
            fraud: a.fraud,
        }
        .pack();
        let req = VerificationRequest {
            id,
            destination: self.numbers[a.destination.country.index()].clone(),
            country: country.code,
            number_type: a.destination.number_type,
            use_case: a
                .destination
                .use_case
                .map(|u| Arc::clone(&self.use_cases[u.index()])),
        };
        self.live_verifications
            .set(self.live_verifications.get() + 1);
        let me = Rc::clone(self);
        let Some(patience) = a.caller_timeout else {
            actix_rt::spawn(async move {
                // Boxed: the verification's state is large, and a task's future is moved
                // several times on its way into the runtime; a pointer is cheaper to move.
                let outcome = Box::pin(me.router.verify(req)).await;
                me.verified(converts, think, outcome);
            });
            return;
        };
        // An impatient caller: its give-up is an event in the agenda like any other, fired in
        // (time, scheduling order), so it needs no timer of its own.
        let now = Instant::now();
        let (give_up, gave_up) = oneshot::channel();
        self.agenda
            .borrow_mut()
            .schedule(now + patience, Event::CallerGivesUp(give_up));
        actix_rt::spawn(async move {
            let mut verify = Box::pin(me.router.verify(req));
            // `biased`: the verification is polled before the caller's give-up, so one that
            // ends in the very instant its caller gives up counts as answered, every run alike
            // (an unbiased `select!` would pick at random).
            let outcome = tokio::select! {
                biased;
                outcome = &mut verify => Some(outcome),
                _ = gave_up => None,
            };
            match outcome {
                Some(outcome) => me.verified(converts, think, outcome),
                None => {
                    // The caller walks away: the verification is dropped unfinished, exactly
                    // as a service's timeout would drop it; the router decides what that means.
                    drop(verify);
                    me.caller_gave_up();
                }
            }
        });
    }

    /// Verifications whose pending attempts the router still watches.
    pub(crate) fn stragglers(&self) -> usize {
        self.router.stragglers()
    }

    /// `verify` answered: the user converts later, or the verification is over. A user who
    /// would enter the code later than [`CONVERSION_HORIZON`] after the end of the run never
    /// does: a heavy-tailed think time must not stretch the run (and its time series) to its
    /// farthest draw.
    #[inline]
    fn verified(&self, converts: bool, think: Duration, outcome: VerificationOutcome) {
        let at = Instant::now() + think;
        let in_horizon = at <= self.last_conversion;
        match (converts && in_horizon, outcome.receipt) {
            (true, Some(receipt)) => self.agenda.borrow_mut().schedule(
                at,
                Event::Conversion {
                    verification: receipt.verification,
                    route: receipt.route,
                    delivered_ns: receipt.delivered_at.as_nanos() as u64,
                },
            ),
            _ => self.settle(),
        }
    }

    /// The caller dropped the verification unfinished: no code reached the user through it,
    /// and nobody converts.
    fn caller_gave_up(&self) {
        let mut counts = self.counts.get();
        counts.caller_gave_up += 1;
        self.counts.set(counts);
        self.settle();
    }
}

fn exponential(rng: &mut SimRng, rate: f64) -> f64 {
    // 1 - u lies in (0, 1]: no ln(0).
    -(1.0 - rng.random::<f64>()).ln() / rate
}

/// Next arrival after `t` (seconds) by thinning, or `None` past the end of the run.
fn next_arrival(profile: &RateProfile, rng: &mut SimRng, mut t: f64, end: Duration) -> Option<f64> {
    let max = profile.max_rate();
    if max <= 0.0 {
        return None;
    }
    let end = end.as_secs_f64();
    loop {
        t += exponential(rng, max);
        if t >= end {
            return None;
        }
        let accept = rng.random::<f64>() * max;
        if accept < profile.rate_at(duration_from_secs(t)) {
            return Some(t);
        }
    }
}
