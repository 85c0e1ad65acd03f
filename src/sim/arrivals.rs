//! Who asks for a verification code, when, and what the world decides about them at arrival:
//! the draws shared by the simulation's [`Traffic`](super::traffic) and the real-time load
//! generator (`experiment::load`), so both face the same requests from the same seed.
//!
//! Legitimate arrivals are a non-homogeneous Poisson process (base rate x diurnal profile x
//! bursts) simulated by thinning against the profile's maximum rate; each fraud spike is its own
//! homogeneous Poisson stream whose users never convert; a trace replays recorded arrivals.
//! Every arrival draws the same random numbers from its own streams whatever happens later, so
//! every policy faces the identical sequence of requests and users (common random numbers).

use std::sync::Arc;
use std::time::Duration;

use failover_router::{Destination, VerificationRequest};
use rand::Rng;

use super::message::SimTag;
use super::rng::{GLOBAL, Purpose, SimRng, stream};
use crate::scenario::distribution::duration_from_secs;
use crate::scenario::{self, Arrivals, CarrierId, CompiledScenario, RateProfile};

/// What one arrival will do, known when it is scheduled.
#[derive(Clone, Copy)]
pub(crate) struct Arrival {
    pub destination: scenario::Destination,
    pub fraud: bool,
    /// How long its caller waits for `verify`; `None`: until it ends.
    pub caller_timeout: Option<Duration>,
}

/// What the world decides about an arrival when it happens: its ground truth and its user.
#[derive(Clone, Copy)]
pub(crate) struct Drawn {
    pub carrier: CarrierId,
    pub invalid: bool,
    pub converts: bool,
    /// How long the user takes to type the code in, if they do.
    pub think: Duration,
}

/// Where a generator's arrivals come from.
enum Source {
    /// Legitimate traffic: a non-homogeneous Poisson process; `t` is the last arrival (s).
    Poisson { t: f64 },
    /// Legitimate traffic at a constant rate (per second) replacing the scenario's profile
    /// (`load --rate`); destinations from the mix.
    Constant { rate: f64, t: f64 },
    /// Legitimate traffic replayed from a trace; `next` indexes it.
    Trace { next: usize },
    /// Fraud spike `spike`: a homogeneous Poisson process; `t` is the last arrival (s).
    Fraud { spike: usize, t: f64 },
}

/// One traffic generator: its source and its own random streams.
pub(crate) struct Generator {
    source: Source,
    arrivals: SimRng,
    pub dest: SimRng,
    pub users: SimRng,
}

impl Generator {
    /// The world's generators: legitimate traffic first, then one per fraud spike. With
    /// `constant_rate`, legitimate traffic arrives at that rate instead of the scenario's
    /// profile (the caller checks that the scenario has a mix to draw destinations from).
    pub(crate) fn for_world(
        world: &CompiledScenario,
        seed: u64,
        constant_rate: Option<f64>,
    ) -> Vec<Generator> {
        let legitimate = match (constant_rate, &world.traffic.arrivals) {
            (Some(rate), _) => Source::Constant { rate, t: 0.0 },
            (None, Arrivals::Poisson(_)) => Source::Poisson { t: 0.0 },
            (None, Arrivals::Trace(_)) => Source::Trace { next: 0 },
        };
        let mut generators = vec![Generator {
            source: legitimate,
            arrivals: stream(seed, Purpose::Arrivals, GLOBAL),
            dest: stream(seed, Purpose::Destinations, GLOBAL),
            users: stream(seed, Purpose::UserBehaviour, GLOBAL),
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
            });
        }
        generators
    }

    /// The next arrival (its offset from the start of the run) or `None` when this generator
    /// has ended. Each source draws from its streams in the same order whatever happens to the
    /// traffic it generated, so every policy faces the same arrivals (common random numbers).
    pub(crate) fn next(&mut self, world: &CompiledScenario) -> Option<(Duration, Arrival)> {
        match &mut self.source {
            Source::Poisson { t } => {
                let Arrivals::Poisson(profile) = &world.traffic.arrivals else {
                    unreachable!("a Poisson generator for a trace scenario")
                };
                let next = next_arrival(profile, &mut self.arrivals, *t, world.duration)?;
                *t = next;
                Some((duration_from_secs(next), self.mix_class(world)))
            }
            Source::Constant { rate, t } => {
                *t += exponential(&mut self.arrivals, *rate);
                if *t >= world.duration.as_secs_f64() {
                    return None;
                }
                let at = duration_from_secs(*t);
                Some((at, self.mix_class(world)))
            }
            Source::Trace { next } => {
                let Arrivals::Trace(trace) = &world.traffic.arrivals else {
                    unreachable!("a trace generator for a Poisson scenario")
                };
                let a = trace.get(*next)?;
                *next += 1;
                let arrival = Arrival {
                    destination: a.destination,
                    fraud: false,
                    caller_timeout: world.traffic.caller_timeout,
                };
                Some((a.at, arrival))
            }
            Source::Fraud { spike, t } => {
                let spike = &world.traffic.fraud[*spike];
                *t += exponential(&mut self.arrivals, spike.rate);
                (*t < spike.end.as_secs_f64()).then(|| {
                    let arrival = Arrival {
                        destination: spike.destination,
                        fraud: true,
                        caller_timeout: world.traffic.caller_timeout,
                    };
                    (duration_from_secs(*t), arrival)
                })
            }
        }
    }

    fn mix_class(&mut self, world: &CompiledScenario) -> Arrival {
        let class = world.traffic.pick_class(self.dest.random());
        Arrival {
            destination: class.destination,
            fraud: false,
            caller_timeout: class.caller_timeout,
        }
    }

    /// The arrival's ground truth and user, drawn when it happens: a fixed number of draws per
    /// arrival, used or not.
    #[inline]
    pub(crate) fn draw(&mut self, world: &CompiledScenario, a: &Arrival) -> Drawn {
        let country = world.country(a.destination.country);
        let carrier = country.pick_carrier(self.dest.random());
        let invalid = self.dest.random::<f64>() < country.invalid_share;
        let converts = !a.fraud && self.users.random::<f64>() < country.conversion;
        let think = country.think_time.sample(&mut self.users);
        Drawn {
            carrier,
            invalid,
            converts,
            think,
        }
    }
}

/// What the router is asked for each verification: synthetic numbers (one per country, never a
/// real one) and shared use-case names, built once.
pub(crate) struct Requests {
    numbers: Vec<Destination>,
    use_cases: Vec<Arc<str>>,
}

impl Requests {
    pub(crate) fn new(world: &CompiledScenario) -> Self {
        Requests {
            numbers: world
                .countries
                .iter()
                .map(|c| Destination::new(format!("+{}0000000000", c.code)))
                .collect(),
            use_cases: world
                .use_cases
                .iter()
                .map(|u| Arc::from(u.as_str()))
                .collect(),
        }
    }

    /// Verification number `seq`, its ground truth packed in its id ([`SimTag`]).
    pub(crate) fn request(
        &self,
        world: &CompiledScenario,
        seq: u64,
        a: &Arrival,
        d: &Drawn,
    ) -> VerificationRequest {
        let id = SimTag {
            seq,
            carrier: d.carrier,
            invalid: d.invalid,
            fraud: a.fraud,
        }
        .pack();
        VerificationRequest {
            id,
            destination: self.numbers[a.destination.country.index()].clone(),
            country: world.country(a.destination.country).code,
            number_type: a.destination.number_type,
            use_case: a
                .destination
                .use_case
                .map(|u| Arc::clone(&self.use_cases[u.index()])),
        }
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
