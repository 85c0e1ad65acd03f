//! Provider and route limits (`[limits.*]`): attempts in flight and a token bucket, so the router
//! does not send what a provider's account would refuse.
//!
//! Why in the router: a provider throttles per account, and what it refuses comes back as
//! `rate_limited`, which costs the verification a failover and cools every route of the
//! provider down. A router that knows the contract keeps under it and sends the overflow to
//! other providers at once. Like Envoy's circuit breakers, a limit is a hard one: a route at its
//! limit is not a candidate at all (not even in panic), and a decision left with nothing says
//! `provider_limit`. Unlike Envoy there is no queue: an SMS verification is better served by its
//! next best route now than by the best one later.
//!
//! **In flight** means launched and not yet judged: an outcome arrived, the attempt was judged a
//! timeout at its own attempt timeout, or it was abandoned unjudged (its watcher evicted, no
//! runtime). Every launched attempt is judged exactly once (ARCHITECTURE's invariant, kept by
//! `Core::resolve`, the one place judgements go through), and the slot is released there, so
//! no path (a dropped verification, an evicted watcher, a panicking adapter) can leak one. A
//! late delivery after the timeout does not hold a slot: a black hole costs a slot for one
//! attempt timeout, not for `late_delivery_grace`.
//!
//! **Tokens** refill continuously at `rate` per second up to `burst` (full at start), read from
//! `tokio::time::Instant` like every other clock of the router; a launch takes one. A decision
//! only looks at them; `Core::launch` takes them, so `dry_run` and `explain` spend nothing.
//!
//! Per-provider state is indexed by provider id and per-route state by route id, both in the
//! core, and the configuration (`Limits`) is resolved from the policy and the table when the
//! router is built, so a reload only has to resolve it again and resize the usage.

use tokio::time::Instant;

use crate::policy::{LimitConfig, LimitKey, Policy};
use crate::route::{ProviderId, RouteId, RoutingTable};
use crate::router::BuildError;

/// A resolved limit.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Limit {
    /// `u32::MAX` when the entry has no concurrency limit.
    max_in_flight: u32,
    /// Tokens per second; 0 for no rate limit.
    rate: f64,
    burst: f64,
}

impl Limit {
    fn of(c: &LimitConfig) -> Self {
        Limit {
            max_in_flight: c.max_in_flight.unwrap_or(u32::MAX),
            rate: c.rate.unwrap_or(0.0),
            burst: c.effective_burst().unwrap_or(0.0),
        }
    }
}

/// The policy's `limits`, resolved against the routing table: by provider id and by route id.
#[derive(Clone, Debug, Default)]
pub(crate) struct Limits {
    providers: Vec<Option<Limit>>,
    routes: Vec<Option<Limit>>,
    /// Any limit at all: most policies have none, and their decisions skip the checks.
    pub any: bool,
}

impl Limits {
    /// Resolves `policy.limits` against `table`; a name the table does not have is an error
    /// naming the field.
    pub(crate) fn resolve(policy: &Policy, table: &RoutingTable) -> Result<Limits, BuildError> {
        let mut out = Limits {
            providers: vec![None; table.providers().len()],
            routes: vec![None; table.routes().len()],
            any: !policy.limits.is_empty(),
        };
        for (key, config) in &policy.limits {
            let field = format!("limits.{key}");
            let parsed = LimitKey::parse(key).map_err(|message| {
                BuildError::Policy(crate::policy::PolicyError {
                    field: field.clone(),
                    message,
                })
            })?;
            let provider_of = |name: &str| {
                table
                    .provider_id(name)
                    .ok_or_else(|| BuildError::UnknownLimitProvider {
                        field: field.clone(),
                        name: name.to_owned(),
                    })
            };
            match parsed {
                LimitKey::Provider(name) => {
                    let p = provider_of(name)?;
                    out.providers[p.index()] = Some(Limit::of(config));
                }
                LimitKey::Route {
                    provider,
                    country,
                    number_type,
                } => {
                    let p = provider_of(provider)?;
                    let route = table
                        .group(country, number_type)
                        .and_then(|g| {
                            table
                                .group_routes(g)
                                .iter()
                                .copied()
                                .find(|r| table.route(*r).provider == p)
                        })
                        .ok_or_else(|| BuildError::UnknownLimitRoute {
                            field: field.clone(),
                            name: key.clone(),
                        })?;
                    out.routes[route.index()] = Some(Limit::of(config));
                }
            }
        }
        Ok(out)
    }
}

/// What one provider or route has in use.
#[derive(Clone, Copy, Debug)]
struct Usage {
    in_flight: u32,
    tokens: f64,
    /// When `tokens` was last brought up to date.
    refilled: Instant,
}

impl Usage {
    fn new(limit: Option<&Limit>, now: Instant) -> Self {
        Usage {
            in_flight: 0,
            tokens: limit.map_or(0.0, |l| l.burst),
            refilled: now,
        }
    }

    fn refill(&mut self, l: &Limit, now: Instant) {
        if l.rate > 0.0 {
            let dt = now.saturating_duration_since(self.refilled).as_secs_f64();
            self.tokens = (self.tokens + dt * l.rate).min(l.burst);
        }
        self.refilled = now;
    }

    /// Whether one more attempt fits under `l` at `now`.
    fn admits(&mut self, l: &Limit, now: Instant) -> bool {
        if self.in_flight >= l.max_in_flight {
            return false;
        }
        if l.rate > 0.0 {
            self.refill(l, now);
            // A whole token, up to rounding: three refills of a third make one.
            return self.tokens >= 1.0 - 1e-9;
        }
        true
    }

    fn take(&mut self, l: Option<&Limit>, now: Instant) {
        self.in_flight += 1;
        if let Some(l) = l
            && l.rate > 0.0
        {
            self.refill(l, now);
            self.tokens = (self.tokens - 1.0).max(0.0);
        }
    }

    fn release(&mut self) {
        self.in_flight = self.in_flight.saturating_sub(1);
    }
}

/// Attempts in flight and tokens left, per provider and per route. Attempts are counted in
/// flight whether or not a limit applies (`RouteStatus::in_flight` reports them).
#[derive(Clone, Debug)]
pub(crate) struct LimitUsage {
    providers: Vec<Usage>,
    routes: Vec<Usage>,
}

impl LimitUsage {
    pub(crate) fn new(limits: &Limits, table: &RoutingTable, now: Instant) -> Self {
        LimitUsage {
            providers: (0..table.providers().len())
                .map(|i| Usage::new(limits.providers.get(i).and_then(Option::as_ref), now))
                .collect(),
            routes: (0..table.routes().len())
                .map(|i| Usage::new(limits.routes.get(i).and_then(Option::as_ref), now))
                .collect(),
        }
    }

    /// Makes room for the providers and routes a reload added (ids only grow), each starting
    /// as at build: nothing in flight, a full bucket. Existing ones keep what they count.
    pub(crate) fn grow(&mut self, limits: &Limits, table: &RoutingTable, now: Instant) {
        for i in self.providers.len()..table.providers().len() {
            let l = limits.providers.get(i).and_then(Option::as_ref);
            self.providers.push(Usage::new(l, now));
        }
        for i in self.routes.len()..table.routes().len() {
            let l = limits.routes.get(i).and_then(Option::as_ref);
            self.routes.push(Usage::new(l, now));
        }
    }

    /// Whether `route` (of `provider`) and its provider each have room for one more attempt.
    pub(crate) fn admits(
        &mut self,
        limits: &Limits,
        route: RouteId,
        provider: ProviderId,
        now: Instant,
    ) -> bool {
        let route_ok = match limits.routes.get(route.index()).and_then(Option::as_ref) {
            Some(l) => self.routes[route.index()].admits(l, now),
            None => true,
        };
        route_ok
            && match limits
                .providers
                .get(provider.index())
                .and_then(Option::as_ref)
            {
                Some(l) => self.providers[provider.index()].admits(l, now),
                None => true,
            }
    }

    /// An attempt on `route` is launched: it holds a slot (and a token) of the route and of
    /// its provider until [`LimitUsage::release`].
    pub(crate) fn take(
        &mut self,
        limits: &Limits,
        route: RouteId,
        provider: ProviderId,
        now: Instant,
    ) {
        // Without limits only the counts move (what `RouteStatus::in_flight` reports).
        let (rl, pl) = if limits.any {
            (
                limits.routes.get(route.index()).and_then(Option::as_ref),
                limits
                    .providers
                    .get(provider.index())
                    .and_then(Option::as_ref),
            )
        } else {
            (None, None)
        };
        self.routes[route.index()].take(rl, now);
        self.providers[provider.index()].take(pl, now);
    }

    /// An attempt on `route` was judged: its slots are free again.
    pub(crate) fn release(&mut self, route: RouteId, provider: ProviderId) {
        self.routes[route.index()].release();
        self.providers[provider.index()].release();
    }

    pub(crate) fn route_in_flight(&self, route: RouteId) -> u32 {
        self.routes[route.index()].in_flight
    }

    pub(crate) fn provider_in_flight(&self, provider: ProviderId) -> u32 {
        self.providers[provider.index()].in_flight
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn limit(max: Option<u32>, rate: Option<f64>, burst: Option<u32>) -> Limit {
        Limit::of(&LimitConfig {
            max_in_flight: max,
            rate,
            burst,
        })
    }

    #[test]
    fn a_bucket_refills_at_its_rate_up_to_its_burst() {
        let start = Instant::now();
        let l = limit(None, Some(3.0), Some(2));
        let mut u = Usage::new(Some(&l), start);
        assert!(u.admits(&l, start));
        u.take(Some(&l), start);
        u.take(Some(&l), start);
        assert!(!u.admits(&l, start), "the burst is spent");
        // A third of a second at 3/s is one token, however the float rounds.
        let third = start + Duration::from_secs(1) / 3;
        assert!(u.admits(&l, third));
        u.take(Some(&l), third);
        assert!(!u.admits(&l, third));
        // A long quiet spell refills to the burst, not beyond.
        let later = third + Duration::from_secs(60);
        assert!(u.admits(&l, later));
        u.take(Some(&l), later);
        u.take(Some(&l), later);
        assert!(!u.admits(&l, later));
    }

    #[test]
    fn in_flight_is_capped_and_released() {
        let now = Instant::now();
        let l = limit(Some(2), None, None);
        let mut u = Usage::new(Some(&l), now);
        u.take(Some(&l), now);
        assert!(u.admits(&l, now));
        u.take(Some(&l), now);
        assert!(!u.admits(&l, now));
        u.release();
        assert!(u.admits(&l, now));
        u.release();
        u.release();
        assert_eq!(u.in_flight, 0, "a release never goes below zero");
    }

    #[test]
    fn the_default_burst_is_one_second_of_rate_and_at_least_one() {
        assert_eq!(limit(None, Some(2.5), None).burst, 3.0);
        assert_eq!(limit(None, Some(0.2), None).burst, 1.0);
        assert_eq!(limit(None, Some(5.0), Some(1)).burst, 1.0);
    }
}
