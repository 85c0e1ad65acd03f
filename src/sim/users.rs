//! The users: after a code is delivered, a user types it in after a think time (or never:
//! abandonment, fraud). Conversions are kept in one timer queue rather than one sleeping task
//! per verification: at 200 verifications/s with 20 s think times that is thousands of timers
//! the runtime would otherwise juggle, the single largest cost in early profiles.

use std::rc::Weak;

use actix::{Actor, AsyncContext, Context, Handler, Message};
use failover_router::DeliveryReceipt;
use tokio::time::Instant;

use super::timer::{Pump, Timed, TimerQueue};
use super::traffic::Traffic;

pub(crate) struct UsersActor {
    traffic: Weak<Traffic>,
    queue: TimerQueue<DeliveryReceipt>,
}

/// The user behind `receipt` will enter the code at `at`.
#[derive(Message)]
#[rtype(result = "()")]
pub(crate) struct WillConvert {
    pub at: Instant,
    pub receipt: DeliveryReceipt,
}

impl UsersActor {
    pub(crate) fn new(traffic: Weak<Traffic>) -> Self {
        UsersActor {
            traffic,
            queue: TimerQueue::new(),
        }
    }
}

impl Actor for UsersActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        ctx.spawn(Pump::new());
    }
}

impl Timed for UsersActor {
    type Item = DeliveryReceipt;

    fn queue(&mut self) -> &mut TimerQueue<DeliveryReceipt> {
        &mut self.queue
    }

    fn fire(&mut self, receipt: DeliveryReceipt, _: &mut Self::Context) {
        if let Some(t) = self.traffic.upgrade() {
            t.converted(&receipt);
        }
    }
}

impl Handler<WillConvert> for UsersActor {
    type Result = ();

    fn handle(&mut self, msg: WillConvert, _: &mut Self::Context) {
        self.queue.push(msg.at, msg.receipt);
    }
}
