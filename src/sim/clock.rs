//! The world clock: every timed event of the simulation in one agenda, behind one tokio timer.
//!
//! Why one agenda for the whole world rather than one timer queue per actor: when a delayed
//! event comes due it needs nothing from the actor that scheduled it. A carrier decides a
//! delivery's outcome and time at handoff; at delivery time only the router has to hear of it.
//! With a queue per actor, every due item woke that actor's task, polled its actix context and
//! re-armed its own timer; with one agenda, one task wakes once per simulated instant, fires
//! everything due, and re-arms once. Traffic arrivals, user conversions and impatient callers
//! giving up (`caller_timeout`) and router restarts (`[[restarts]]`) live here too, so a
//! verification costs no timer of its own besides the router's attempt timeout.
//!
//! Time is still tokio's paused clock: the agenda only decides which single deadline the clock
//! task sleeps until; tokio advances virtual time to it when every task is idle (DESIGN.md
//! section 4). Ties in time fire in scheduling order, so a run's event order is deterministic.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use failover_router::{AttemptOutcome, DeliveryReceipt, RouteId, VerificationId};
use tokio::sync::oneshot;
use tokio::time::{Instant, Sleep, sleep_until};

use super::calendar::Calendar;
use super::message::Reply;
use super::traffic::Traffic;

/// Something that happens at a point in virtual time.
pub(crate) enum Event {
    /// An attempt's outcome reaches the router: a delivery receipt or an error response.
    Reply {
        reply: Reply,
        outcome: AttemptOutcome,
    },
    /// The user behind this receipt types the code in. The receipt is kept packed (its time
    /// as nanoseconds): events fill the calendar's slots, and their size is what every slot
    /// buffer and every move of an event pays.
    Conversion {
        verification: VerificationId,
        route: RouteId,
        delivered_ns: u64,
    },
    /// Traffic generator `g` produces its next verification.
    Arrival(usize),
    /// A caller's patience runs out (`caller_timeout`): tell the task waiting for its
    /// verification to drop it. Nobody listens when the verification has already ended.
    CallerGivesUp(oneshot::Sender<()>),
    /// `[[restarts]]` entry `i`: the traffic switches to a new router.
    Restart(usize),
    /// `[[reloads]]` entry `i`: the router in service takes another policy.
    Reload(usize),
}

/// The pending events. Shared (single thread) by the actors and traffic that schedule events
/// and the [`Clock`] task that fires them.
pub(crate) struct Agenda {
    events: Calendar<Event>,
    seq: u64,
    /// The deadline the clock's timer is armed for (`None`: nothing pending).
    armed: Option<Instant>,
    /// The clock is firing events: it re-arms afterwards, so scheduling needs no wake-up.
    firing: bool,
    /// The clock task, to wake when an event earlier than `armed` is scheduled.
    clock: Option<Waker>,
}

pub(crate) type SharedAgenda = Rc<RefCell<Agenda>>;

impl Agenda {
    /// `epoch`: the simulation's start; nothing is scheduled before it.
    pub(crate) fn shared(epoch: Instant) -> SharedAgenda {
        Rc::new(RefCell::new(Agenda::new(epoch)))
    }

    fn new(epoch: Instant) -> Self {
        Agenda {
            events: Calendar::new(epoch),
            seq: 0,
            armed: None,
            firing: false,
            clock: None,
        }
    }

    pub(crate) fn schedule(&mut self, at: Instant, event: Event) {
        self.seq += 1;
        self.events.push(at, self.seq, event);
        // Most events are due after the armed deadline (the next arrival is rarely more than a
        // few milliseconds away): those need no wake-up, the clock finds them when it fires.
        if !self.firing
            && self.armed.is_none_or(|armed| at < armed)
            && let Some(clock) = &self.clock
        {
            clock.wake_by_ref();
        }
    }

    /// When the earliest event is due.
    fn next_due(&self) -> Option<Instant> {
        self.events.next_due()
    }

    /// The earliest event if it is due at `now`.
    fn pop_due(&mut self, now: Instant) -> Option<Event> {
        self.events.pop_due(now)
    }
}

/// What to do with an event when it comes due.
pub(crate) trait Fire {
    fn fire(&self, event: Event);
}

/// Where the world's events go.
pub(crate) struct Targets {
    pub traffic: Rc<Traffic>,
}

impl Fire for Targets {
    fn fire(&self, event: Event) {
        match event {
            Event::Reply { reply, outcome } => {
                // The router may have given up on the attempt: then nobody listens, which is
                // fine.
                let _ = reply.send(outcome);
            }
            Event::Conversion {
                verification,
                route,
                delivered_ns,
            } => self.traffic.converted(&DeliveryReceipt {
                verification,
                route,
                delivered_at: std::time::Duration::from_nanos(delivered_ns),
            }),
            Event::Arrival(g) => self.traffic.arrive(g),
            Event::CallerGivesUp(caller) => {
                let _ = caller.send(());
            }
            Event::Restart(i) => self.traffic.restart(i),
            Event::Reload(i) => self.traffic.reload(i),
        }
    }
}

/// The task that fires the agenda: spawn it once per simulation; it never completes.
pub(crate) struct Clock<F> {
    agenda: SharedAgenda,
    targets: F,
    timer: Pin<Box<Sleep>>,
}

impl<F: Fire> Clock<F> {
    pub(crate) fn new(agenda: SharedAgenda, targets: F) -> Self {
        Clock {
            agenda,
            targets,
            timer: Box::pin(sleep_until(Instant::now())),
        }
    }

    /// Fires every event due at `now`.
    fn fire_due(&mut self, now: Instant) {
        self.agenda.borrow_mut().firing = true;
        loop {
            let due = self.agenda.borrow_mut().pop_due(now);
            // The agenda is not borrowed while an event fires: firing schedules more.
            match due {
                Some(event) => self.targets.fire(event),
                None => break,
            }
        }
        self.agenda.borrow_mut().firing = false;
    }

    /// Arms the timer for the earliest event; `true` if that is already due.
    fn arm(&mut self, cx: &mut Context<'_>) -> bool {
        let mut agenda = self.agenda.borrow_mut();
        let next = agenda.next_due();
        if let Some(at) = next {
            if agenda.armed != Some(at) || self.timer.is_elapsed() {
                self.timer.as_mut().reset(at);
            }
            // Registers this task's waker with the timer.
            if self.timer.as_mut().poll(cx).is_ready() {
                agenda.armed = None;
                return true;
            }
        }
        agenda.armed = next;
        if !agenda
            .clock
            .as_ref()
            .is_some_and(|w| w.will_wake(cx.waker()))
        {
            agenda.clock = Some(cx.waker().clone());
        }
        false
    }
}

impl<F: Fire + Unpin> Future for Clock<F> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        loop {
            // Virtual time stands still while tasks run: one reading serves the whole batch.
            this.fire_due(Instant::now());
            if !this.arm(cx) {
                return Poll::Pending;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::time::Duration;

    use super::*;

    /// Records when each arrival fired; arrival 1 schedules arrival 100 for 2 ms later.
    struct Log {
        agenda: SharedAgenda,
        fired: RefCell<Vec<(usize, Instant)>>,
    }

    impl Fire for Rc<Log> {
        fn fire(&self, event: Event) {
            let Event::Arrival(g) = event else {
                unreachable!()
            };
            let now = Instant::now();
            self.fired.borrow_mut().push((g, now));
            if g == 1 {
                self.agenda
                    .borrow_mut()
                    .schedule(now + Duration::from_millis(2), Event::Arrival(100));
            }
        }
    }

    /// Events fire at their own times whoever schedules them: the clock itself while firing,
    /// or another task while the clock sleeps towards a later deadline (it must wake and
    /// re-arm, not fire the early event late).
    #[tokio::test(start_paused = true)]
    async fn events_fire_on_time_whoever_schedules_them() {
        let local = tokio::task::LocalSet::new();
        local
            .run_until(async {
                let t0 = Instant::now();
                let ms = Duration::from_millis;
                let agenda = Agenda::shared(t0);
                agenda.borrow_mut().schedule(t0 + ms(10), Event::Arrival(1));
                agenda.borrow_mut().schedule(t0 + ms(50), Event::Arrival(2));
                let log = Rc::new(Log {
                    agenda: Rc::clone(&agenda),
                    fired: RefCell::new(Vec::new()),
                });
                tokio::task::spawn_local(Clock::new(Rc::clone(&agenda), Rc::clone(&log)));
                // While the clock sleeps towards 10 ms, something earlier comes up.
                tokio::time::sleep(ms(1)).await;
                agenda.borrow_mut().schedule(t0 + ms(4), Event::Arrival(3));
                tokio::time::sleep(ms(100)).await;
                let fired: Vec<_> = log
                    .fired
                    .borrow()
                    .iter()
                    .map(|(g, at)| (*g, *at - t0))
                    .collect();
                assert_eq!(fired, [(3, ms(4)), (1, ms(10)), (100, ms(12)), (2, ms(50))]);
            })
            .await;
    }

    fn drain(agenda: &mut Agenda, now: Instant) -> Vec<usize> {
        std::iter::from_fn(|| agenda.pop_due(now))
            .map(|e| match e {
                Event::Arrival(g) => g,
                _ => unreachable!(),
            })
            .collect()
    }

    #[tokio::test(start_paused = true)]
    async fn events_fire_in_time_order_and_ties_in_scheduling_order() {
        let t0 = Instant::now();
        let ms = std::time::Duration::from_millis;
        let mut agenda = Agenda::new(t0);
        agenda.schedule(t0 + ms(30), Event::Arrival(3));
        agenda.schedule(t0 + ms(10), Event::Arrival(1));
        agenda.schedule(t0 + ms(30), Event::Arrival(4));
        agenda.schedule(t0 + ms(10), Event::Arrival(2));
        agenda.schedule(t0 + ms(50), Event::Arrival(5));
        assert!(drain(&mut agenda, t0).is_empty());
        assert_eq!(drain(&mut agenda, t0 + ms(30)), [1, 2, 3, 4]);
        assert_eq!(drain(&mut agenda, t0 + ms(60)), [5]);
    }
}
