//! One timer queue per actor: a heap of due items and a single armed `Sleep`.
//!
//! Why not `ctx.run_later` per message: actix polls every pending context future on each wake,
//! so per-request timers make each poll O(pending) and a busy provider 30x slower (DESIGN.md
//! section 7). Here an actor owns one heap and one timer armed at the earliest item; a single
//! perpetual [`Pump`] future fires due items through [`Timed::fire`]. Pushing is O(log n), firing
//! O(log n), and the context only ever has one future to poll.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};

use actix::{Actor, ActorFuture};
use tokio::time::{Instant, Sleep, sleep_until};

struct Entry<T> {
    at: Instant,
    seq: u64,
    item: T,
}

impl<T> PartialEq for Entry<T> {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}

impl<T> Eq for Entry<T> {}

impl<T> PartialOrd for Entry<T> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<T> Ord for Entry<T> {
    // Reversed: BinaryHeap is a max-heap and the earliest item must come out first; ties in
    // time keep insertion order (`seq`), so firing order is deterministic.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

pub(crate) struct TimerQueue<T> {
    heap: BinaryHeap<Entry<T>>,
    seq: u64,
    sleep: Pin<Box<Sleep>>,
    armed_at: Option<Instant>,
    /// Items were pushed since the pump last looked.
    pushed: bool,
}

impl<T> TimerQueue<T> {
    pub(crate) fn new() -> Self {
        TimerQueue {
            heap: BinaryHeap::new(),
            seq: 0,
            sleep: Box::pin(sleep_until(Instant::now())),
            armed_at: None,
            pushed: false,
        }
    }

    /// Queues `item` for `at`. Call only from the owning actor's handlers: actix polls the
    /// actor's spawned futures (the [`Pump`]) right after its handlers run, so the pump re-arms
    /// without a wake-up of its own.
    pub(crate) fn push(&mut self, at: Instant, item: T) {
        self.pushed = true;
        self.seq += 1;
        self.heap.push(Entry {
            at,
            seq: self.seq,
            item,
        });
    }

    /// Whether [`TimerQueue::poll_next`] could yield anything: not if nothing was pushed since
    /// it last ran and the timer it armed (if any: otherwise the queue is empty) has not fired.
    /// The actor is polled for every message it gets; most of those polls leave the queue as
    /// it was, and this spares them the clock and the heap.
    fn idle(&self) -> bool {
        !self.pushed
            && (self.heap.is_empty() || (self.armed_at.is_some() && !self.sleep.is_elapsed()))
    }

    /// The next item due at `now`, or `Pending` with the timer armed at the earliest one.
    fn poll_next(&mut self, now: Instant, cx: &mut Context<'_>) -> Poll<T> {
        loop {
            match self.heap.peek() {
                Some(top) if top.at <= now => {
                    return Poll::Ready(self.heap.pop().expect("peeked").item);
                }
                Some(top) => {
                    if self.armed_at != Some(top.at) {
                        self.sleep.as_mut().reset(top.at);
                        self.armed_at = Some(top.at);
                    }
                    if self.sleep.as_mut().poll(cx).is_ready() {
                        self.armed_at = None;
                        continue;
                    }
                }
                None => self.armed_at = None,
            }
            return Poll::Pending;
        }
    }
}

/// An actor with a timer queue.
pub(crate) trait Timed: Actor {
    type Item;
    fn queue(&mut self) -> &mut TimerQueue<Self::Item>;
    fn fire(&mut self, item: Self::Item, ctx: &mut Self::Context);
}

/// The actor's one perpetual timer future: spawn it in `started`.
pub(crate) struct Pump<A>(PhantomData<fn(A)>);

impl<A> Pump<A> {
    pub(crate) fn new() -> Self {
        Pump(PhantomData)
    }
}

impl<A: Timed> ActorFuture<A> for Pump<A> {
    type Output = ();

    fn poll(
        self: Pin<&mut Self>,
        act: &mut A,
        ctx: &mut A::Context,
        task: &mut Context<'_>,
    ) -> Poll<()> {
        if act.queue().idle() {
            return Poll::Pending;
        }
        // Virtual time stands still while the actor runs (it only moves when every task is
        // idle), so one clock reading serves every item fired in this poll.
        let now = Instant::now();
        while let Poll::Ready(item) = act.queue().poll_next(now, task) {
            act.fire(item, ctx);
        }
        // Whatever was pushed, `poll_next` has seen it (it fired it, or armed the timer).
        act.queue().pushed = false;
        Poll::Pending
    }
}
