//! Traffic: who asks for a verification code, when, where to, and whether they type it in.
//!
//! The arrivals and what each one draws (destination, ground truth, user) come from
//! [`arrivals`](super::arrivals), shared with the real-time load generator.
//!
//! Callers may be impatient (`caller_timeout`): then the caller's give-up is an event in the
//! world's agenda, and the task awaiting `verify` drops the verification when it fires, as a
//! service's HTTP handler does when its own timeout runs out. The router audits such a
//! verification as `abandoned` (and still judges its attempts); the traffic counts the give-ups
//! in [`TrafficCounts::caller_gave_up`] as ground truth.
//!
//! A `[[restarts]]` entry switches the traffic to a new router at its time: each verification
//! keeps the router it started on (so those in flight drain on the old one), conversions are
//! reported to the router in service, as a service reports them to its current process.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use failover_router::{DeliveryReceipt, Router, VerificationOutcome};
use tokio::sync::oneshot;
use tokio::time::Instant;

use super::arrivals::{Arrival, Generator, Requests};
use super::clock::{Event, SharedAgenda};
use super::world::Restarter;
use crate::scenario::CompiledScenario;

/// Counts of what the traffic generators produced.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
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
    /// The router in service: new verifications go to it.
    router: RefCell<Router>,
    /// Routers replaced by restarts, still draining the verifications started on them.
    retired: RefCell<Vec<Router>>,
    /// Builds the routers of restarts (only when the scenario has some).
    restarter: Option<Restarter>,
    epoch: Instant,
    /// The last instant a user may still convert: the end of the run plus
    /// [`CONVERSION_HORIZON`] (computed once: instant arithmetic is not free per verification).
    last_conversion: Instant,
    agenda: SharedAgenda,
    /// Synthetic (never real) numbers, one per country: `+DE0000000000`.
    requests: Requests,
    generators: RefCell<Vec<Generator>>,
    /// Each generator's arrival scheduled in the agenda.
    pending: RefCell<Vec<Option<Arrival>>>,
    next_seq: Cell<u64>,
    /// Verifications not finished, plus conversions not yet made.
    live_verifications: Cell<u64>,
    live_generators: Cell<usize>,
    counts: Cell<TrafficCounts>,
    /// Only when some callers may give up.
    done: RefCell<Option<oneshot::Sender<()>>>,
}

impl Traffic {
    pub(crate) fn new(
        world: Arc<CompiledScenario>,
        router: Router,
        seed: u64,
        epoch: Instant,
        agenda: SharedAgenda,
        done: oneshot::Sender<()>,
        restarter: Option<Restarter>,
    ) -> Rc<Self> {
        let generators = Generator::for_world(&world, seed, None);
        let requests = Requests::new(&world);
        Rc::new(Traffic {
            last_conversion: epoch + world.duration + CONVERSION_HORIZON,
            world,
            router: RefCell::new(router),
            retired: RefCell::new(Vec::new()),
            restarter,
            epoch,
            agenda,
            requests,
            pending: RefCell::new(vec![None; generators.len()]),
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
        for (i, r) in self.world.restarts.iter().enumerate() {
            self.agenda
                .borrow_mut()
                .schedule(self.epoch + r.at, Event::Restart(i));
        }
        for (i, r) in self.world.reloads.iter().enumerate() {
            self.agenda
                .borrow_mut()
                .schedule(self.epoch + r.at, Event::Reload(i));
        }
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
        let arrival = self.pending.borrow_mut()[g]
            .take()
            .expect("an arrival fired that was never scheduled");
        self.launch(arrival, generator);
        let more = self.schedule_next(g, generator);
        drop(generators);
        if !more {
            self.generator_done();
        }
    }

    /// `[[restarts]]` entry `i` is due: the router in service is replaced, with its exported
    /// state for a warm restart. The old one keeps the verifications started on it.
    pub(crate) fn restart(&self, i: usize) {
        let warm = self.world.restarts[i].warm;
        let restarter = self
            .restarter
            .as_ref()
            .expect("a scenario with restarts has a restarter");
        let old = self.router.borrow().clone();
        let state = warm.then(|| old.export_state());
        let new = restarter.build(i + 1, state);
        restarter.retire(i);
        *self.router.borrow_mut() = new;
        self.retired.borrow_mut().push(old);
    }

    /// `[[reloads]]` entry `i` is due: the router in service takes the policy, keeping its
    /// state (`Router::reload`); restarts after this build their routers with it too. Routers
    /// retired by earlier restarts only drain, under the policy they had.
    pub(crate) fn reload(&self, i: usize) {
        let named = &self.world.policies[self.world.reloads[i].policy];
        let router = self.router.borrow().clone();
        // The same table, and a policy the scenario's validation built a router with.
        router
            .reload(router.table(), named.policy.clone())
            .expect("a scenario's policies are valid for its routing table");
        if let Some(restarter) = &self.restarter {
            restarter.set_policy(named.policy.clone());
        }
    }

    /// A user typed the code in.
    pub(crate) fn converted(&self, receipt: &DeliveryReceipt) {
        self.router.borrow().record_conversion(receipt);
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
    fn schedule_next(&self, g: usize, generator: &mut Generator) -> bool {
        let Some((at, arrival)) = generator.next(&self.world) else {
            return false;
        };
        self.pending.borrow_mut()[g] = Some(arrival);
        self.agenda
            .borrow_mut()
            .schedule(self.epoch + at, Event::Arrival(g));
        true
    }

    fn launch(self: &Rc<Self>, a: Arrival, generator: &mut Generator) {
        let drawn = generator.draw(&self.world, &a);
        let (converts, think) = (drawn.converts, drawn.think);
        let seq = self.next_seq.get();
        self.next_seq.set(seq + 1);
        let mut counts = self.counts.get();
        if a.fraud {
            counts.fraudulent += 1;
        } else {
            counts.legitimate += 1;
        }
        self.counts.set(counts);
        let req = self.requests.request(&self.world, seq, &a, &drawn);
        self.live_verifications
            .set(self.live_verifications.get() + 1);
        let me = Rc::clone(self);
        // The verification stays with the router it started on, through a restart.
        let router = self.router.borrow().clone();
        let Some(patience) = a.caller_timeout else {
            actix_rt::spawn(async move {
                // Boxed: the verification's state is large, and a task's future is moved
                // several times on its way into the runtime; a pointer is cheaper to move.
                let outcome = Box::pin(router.verify(req)).await;
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
            let mut verify = Box::pin(router.verify(req));
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

    /// Verifications whose pending attempts the routers (in service or retired) still watch.
    pub(crate) fn stragglers(&self) -> usize {
        let retired: usize = self.retired.borrow().iter().map(Router::stragglers).sum();
        self.router.borrow().stragglers() + retired
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
