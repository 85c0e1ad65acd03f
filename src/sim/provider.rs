//! A provider: API latency and errors, capacity (rate limit, sender-number inventory), number
//! types it serves, and per-carrier path quality. Its failure domains are the world's truth,
//! which the router's routing table may not know.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Arc;

use actix::{Actor, Addr, Context, Handler};
use failover_router::{AttemptOutcome, FailureKind, ProviderId};
use rand::Rng;
use tokio::time::Instant;

use super::carrier::CarrierActor;
use super::clock::{Event, SharedAgenda};
use super::effects::{compose_at, relevant_faults};
use super::message::{Arrive, Handoff, ReleaseAt, Reply};
use super::rng::{Purpose, Streams};
use super::trap::{self, Entity};
use crate::scenario::distribution::duration_from_secs;
use crate::scenario::{CompiledScenario, OutageMode, TargetRef};

pub(crate) struct ProviderActor {
    id: ProviderId,
    world: Arc<CompiledScenario>,
    /// This actor's streams; each message draws from its own (keyed by attempt).
    streams: Streams,
    epoch: Instant,
    faults: Box<[u32]>,
    carriers: Vec<Addr<CarrierActor>>,
    rate_limit: TokenBucket,
    /// Numbers in use, and when each is free again (a fixed hold, or its attempt's completion).
    in_use: u32,
    releases: BinaryHeap<Reverse<Instant>>,
    agenda: SharedAgenda,
}

impl ProviderActor {
    pub(crate) fn new(
        id: ProviderId,
        world: Arc<CompiledScenario>,
        seed: u64,
        epoch: Instant,
        carriers: Vec<Addr<CarrierActor>>,
        agenda: SharedAgenda,
    ) -> Self {
        let faults = relevant_faults(&world.faults, |f| {
            matches!(
                f.target.entity,
                TargetRef::Provider(_) | TargetRef::FailureDomain(_)
            ) && f.target.providers.contains(&id)
        });
        let tokens = world.provider(id).rate_limit.unwrap_or(0.0).max(1.0);
        ProviderActor {
            id,
            world,
            streams: Streams::new(seed, Purpose::ProviderLatency),
            epoch,
            faults,
            carriers,
            rate_limit: TokenBucket {
                tokens,
                refilled: epoch,
            },
            in_use: 0,
            releases: BinaryHeap::new(),
            agenda,
        }
    }
}

fn reply_later(agenda: &SharedAgenda, at: Instant, reply: Reply, kind: FailureKind) {
    agenda.borrow_mut().schedule(
        at,
        Event::Reply {
            reply,
            outcome: AttemptOutcome::Failed(kind),
        },
    );
}

/// Rate-limit token bucket (bucket size: one second of rate), refilled lazily on arrival.
struct TokenBucket {
    tokens: f64,
    refilled: Instant,
}

impl TokenBucket {
    /// Takes a token if one is available.
    fn take(&mut self, now: Instant, rate: f64) -> bool {
        let burst = rate.max(1.0);
        let elapsed = now.saturating_duration_since(self.refilled).as_secs_f64();
        self.tokens = (self.tokens + elapsed * rate).min(burst);
        self.refilled = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

impl Actor for ProviderActor {
    type Context = Context<Self>;
}

impl Handler<ReleaseAt> for ProviderActor {
    type Result = ();

    fn handle(&mut self, msg: ReleaseAt, _: &mut Self::Context) {
        let _running = trap::enter(Entity::Provider(self.id));
        self.releases.push(Reverse(msg.0));
    }
}

impl Handler<Arrive> for ProviderActor {
    type Result = ();

    fn handle(&mut self, msg: Arrive, _: &mut Self::Context) {
        let _running = trap::enter(Entity::Provider(self.id));
        let now = Instant::now();
        let model = self.world.provider(self.id);
        let env = msg.env;
        let mut rng = self.streams.stream(model.entity ^ env.key);
        let eff = compose_at(
            &self.world.faults,
            &self.faults,
            self.epoch,
            now,
            env.country,
            env.number_type,
            &mut rng,
        );
        // Draw every random number up front, whatever the outcome: the same attempt consumes
        // the same draws under every policy.
        let api = model.api_latency.sample_secs(&mut rng) * eff.latency_factor + eff.added_secs;
        let error_draw = rng.random::<f64>();
        let hold = model
            .inventory
            .as_ref()
            .and_then(|inv| inv.hold.as_ref())
            .map(|d| d.sample(&mut rng));
        let path = model.path(env.carrier);
        let extra = path
            .extra_latency
            .as_ref()
            .map_or(0.0, |d| d.sample_secs(&mut rng));
        let at = msg.arrives + duration_from_secs(api);

        match eff.down {
            Some(OutageMode::BlackHole) => return,
            Some(OutageMode::Error) => {
                return reply_later(&self.agenda, at, msg.reply, FailureKind::Unavailable);
            }
            None => {}
        }
        if env.invalid {
            return reply_later(&self.agenda, at, msg.reply, FailureKind::InvalidDestination);
        }
        if !model.serves.contains(env.number_type) || eff.blocked {
            return reply_later(&self.agenda, at, msg.reply, FailureKind::Rejected);
        }
        if let Some(rate) = model.rate_limit
            && !self.rate_limit.take(now, rate * eff.capacity_factor)
        {
            return reply_later(&self.agenda, at, msg.reply, FailureKind::RateLimited);
        }
        let error = 1.0 - (1.0 - model.error_rate) * (1.0 - eff.error);
        if error_draw < error {
            return reply_later(&self.agenda, at, msg.reply, FailureKind::Unavailable);
        }
        let mut held_until_judged = None;
        if let Some(inv) = &model.inventory {
            while self.releases.peek().is_some_and(|Reverse(t)| *t <= now) {
                self.releases.pop();
                self.in_use -= 1;
            }
            let capacity = (f64::from(inv.numbers) * eff.inventory_factor).floor() as u32;
            if self.in_use >= capacity {
                return reply_later(&self.agenda, at, msg.reply, FailureKind::NoInventory);
            }
            self.in_use += 1;
            match hold {
                Some(h) => self.releases.push(Reverse(now + h)),
                None => held_until_judged = Some(msg.judged_at),
            }
        }
        self.carriers[env.carrier.index()].do_send(Handoff {
            env,
            handoff: at,
            path_quality: path.quality * (1.0 - eff.loss),
            latency_factor: eff.delivery_factor,
            added_secs: eff.delivery_added_secs + extra,
            held_until_judged,
            reply: msg.reply,
        });
    }
}
