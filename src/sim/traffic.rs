//! Traffic: who asks for a verification code, when, where to, and whether they type it in.
//!
//! Legitimate arrivals are a non-homogeneous Poisson process (base rate x diurnal profile x
//! bursts) simulated by thinning against the profile's maximum rate; each fraud spike is its own
//! homogeneous Poisson stream whose users never convert; a trace replays recorded arrivals.
//! Every arrival draws the same random numbers from its own streams whatever happens later, so
//! every policy faces the identical sequence of requests and users (common random numbers).

use std::cell::{Cell, OnceCell, RefCell};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use actix::{Actor, Addr};
use failover_router::{DeliveryReceipt, Destination, Router, VerificationRequest};
use rand::Rng;
use tokio::sync::oneshot;
use tokio::time::{Instant, sleep_until};

use super::message::SimTag;
use super::rng::{GLOBAL, Purpose, SimRng, stream};
use super::users::{UsersActor, WillConvert};
use crate::scenario::{self, Arrivals, CompiledScenario, RateProfile};

/// Counts of what the traffic generators produced.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TrafficCounts {
    pub legitimate: u64,
    pub fraudulent: u64,
    pub conversions: u64,
}

pub(crate) struct Traffic {
    world: Arc<CompiledScenario>,
    router: Router,
    seed: u64,
    epoch: Instant,
    /// One synthetic (never real) number per country: `+DE0000000000`.
    numbers: Vec<Destination>,
    use_cases: Vec<Arc<str>>,
    next_seq: Cell<u64>,
    /// Verifications not finished, plus conversions not yet made.
    live_verifications: Cell<u64>,
    users: OnceCell<Addr<UsersActor>>,
    live_generators: Cell<u32>,
    counts: Cell<TrafficCounts>,
    done: RefCell<Option<oneshot::Sender<()>>>,
}

/// What one arrival will do, drawn at arrival.
struct Arrival {
    destination: scenario::Destination,
    fraud: bool,
}

impl Traffic {
    pub(crate) fn new(
        world: Arc<CompiledScenario>,
        router: Router,
        seed: u64,
        epoch: Instant,
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
        Rc::new(Traffic {
            world,
            router,
            seed,
            epoch,
            numbers,
            use_cases,
            next_seq: Cell::new(0),
            live_verifications: Cell::new(0),
            users: OnceCell::new(),
            live_generators: Cell::new(0),
            counts: Cell::new(TrafficCounts::default()),
            done: RefCell::new(Some(done)),
        })
    }

    pub(crate) fn counts(&self) -> TrafficCounts {
        self.counts.get()
    }

    /// Starts every generator; `done` fires when all have ended and every verification (and
    /// its user's conversion) has finished.
    pub(crate) fn start(self: &Rc<Self>) {
        let users = UsersActor::new(Rc::downgrade(self)).start();
        let _ = self.users.set(users);
        let gens = 1 + self.world.traffic.fraud.len() as u32;
        self.live_generators.set(gens);
        let me = Rc::clone(self);
        actix_rt::spawn(async move {
            me.legitimate().await;
            me.generator_done();
        });
        for i in 0..self.world.traffic.fraud.len() {
            let me = Rc::clone(self);
            actix_rt::spawn(async move {
                me.fraud(i).await;
                me.generator_done();
            });
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

    async fn legitimate(self: &Rc<Self>) {
        let seed = self.seed;
        let mut arrivals = stream(seed, Purpose::Arrivals, GLOBAL);
        let mut dest = stream(seed, Purpose::Destinations, GLOBAL);
        let mut users = stream(seed, Purpose::UserBehaviour, GLOBAL);
        let world = Arc::clone(&self.world);
        match &world.traffic.arrivals {
            Arrivals::Poisson(profile) => {
                let mut t = 0.0;
                while let Some(next) = next_arrival(profile, &mut arrivals, t, world.duration) {
                    t = next;
                    let d = world.traffic.pick_destination(dest.random());
                    sleep_until(self.epoch + Duration::from_secs_f64(t)).await;
                    self.launch(
                        Arrival {
                            destination: d,
                            fraud: false,
                        },
                        &mut dest,
                        &mut users,
                    );
                }
            }
            Arrivals::Trace(trace) => {
                for a in trace.iter() {
                    sleep_until(self.epoch + a.at).await;
                    self.launch(
                        Arrival {
                            destination: a.destination,
                            fraud: false,
                        },
                        &mut dest,
                        &mut users,
                    );
                }
            }
        }
    }

    async fn fraud(self: &Rc<Self>, i: usize) {
        let spike = self.world.traffic.fraud[i];
        let seed = self.seed;
        let mut arrivals = stream(seed, Purpose::FraudArrivals, i as u64);
        let mut dest = stream(seed, Purpose::Destinations, 1 + i as u64);
        let mut users = stream(seed, Purpose::UserBehaviour, 1 + i as u64);
        let mut t = spike.start.as_secs_f64();
        let end = spike.end.as_secs_f64();
        loop {
            t += exponential(&mut arrivals, spike.rate);
            if t >= end {
                return;
            }
            sleep_until(self.epoch + Duration::from_secs_f64(t)).await;
            self.launch(
                Arrival {
                    destination: spike.destination,
                    fraud: true,
                },
                &mut dest,
                &mut users,
            );
        }
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
        actix_rt::spawn(async move {
            // Boxed: the verification's state is large, and a task's future is moved several
            // times on its way into the runtime; a pointer is cheaper to move.
            let outcome = Box::pin(me.router.verify(req)).await;
            match (converts, outcome.receipt, me.users.get()) {
                (true, Some(receipt), Some(users)) => users.do_send(WillConvert {
                    at: Instant::now() + think,
                    receipt,
                }),
                _ => me.settle(),
            }
        });
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
        if accept < profile.rate_at(Duration::from_secs_f64(t)) {
            return Some(t);
        }
    }
}
