//! Operating a running router: one consistent view of every route ([`Router::snapshot`]) and
//! swapping its configuration without a restart ([`Router::reload`]).
//!
//! Both take the router's lock once. The snapshot computes on copies of the routes it
//! refreshes, so polling it (an admin endpoint every few seconds) does not change what the
//! router does or when its audit trail says a transition happened; the one exception is an
//! operator's override past its expiry, which ends when asked (audited), as it does for
//! `route_status`.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::time::Instant;

use crate::adapter::ProviderAdapter;
use crate::core::{Core, Shared};
use crate::event::{Override, Reloaded, RouteState, RouterEvent};
use crate::limits::Limits;
use crate::operator::OverrideInfo;
use crate::policy::Policy;
use crate::route::{Country, NumberType, RouteId, RoutingTable};
use crate::router::{BuildError, ProbeStatus, RouteStatus, Router};

/// Every route and every (country, number type) of a router at one instant.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RouterSnapshot {
    /// Offset from the router's epoch, like events' `at`.
    #[serde(serialize_with = "crate::event::secs")]
    pub at: Duration,
    /// Reloads so far (0: the configuration it was built with).
    pub generation: u64,
    pub routes: Vec<RouteSnapshot>,
    pub groups: Vec<GroupSnapshot>,
}

/// One route in a [`RouterSnapshot`].
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RouteSnapshot {
    pub route: RouteId,
    pub provider: String,
    pub country: Country,
    pub number_type: NumberType,
    pub cost: f64,
    #[serde(flatten)]
    pub status: RouteStatus,
}

/// One (country, number type) in a [`RouterSnapshot`].
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct GroupSnapshot {
    pub country: Country,
    pub number_type: NumberType,
    /// Whether its last decision found no healthy route.
    pub panic: bool,
    /// Its routes in service (healthy, by the state selection acts on) and in all.
    pub in_service: u32,
    pub routes: u32,
}

/// A route's status at `now`, on a copy: the lazy ejection expiry applied, the window advanced.
pub(crate) fn route_status(sh: &Shared, core: &Core, route: RouteId, now: Instant) -> RouteStatus {
    let mut rt = core.routes[route.index()].clone();
    rt.refresh(now);
    rt.window.advance(sh.since_epoch(now));
    let ejected = rt.effective() == RouteState::Ejected && rt.override_ == Override::None;
    RouteStatus {
        state: rt.effective(),
        evaluated: rt.state,
        override_: rt.override_,
        operator: rt.operator.as_ref().map(|n| OverrideInfo {
            value: rt.override_,
            by: n.by.clone(),
            reason: n.reason.clone(),
            set_at: n.set_at,
            expires_at: n.expires.map(|(_, d)| d),
        }),
        window: rt
            .window
            .snapshot(rt.consecutive, sh.policy.health.latency_quantile),
        backoff_multiplier: rt.multiplier,
        pending_attempts: rt.ledger.pending(),
        probes_in_flight: rt.probes_in_flight,
        ejection_remaining: ejected.then(|| rt.ejected_until.saturating_duration_since(now)),
        probe: ProbeStatus {
            attempts: rt.probe.attempts,
            successes: rt.probe.successes,
            failures: rt.probe.failures,
            credit: if rt.state == RouteState::Probing {
                rt.probe.credit
            } else {
                0.0
            },
        },
        long_run_delivery_rate: rt.long_run_mean(),
        retired: sh.table.route(route).retired,
        in_flight: core.limits.route_in_flight(route),
    }
}

impl Router {
    /// Every route's status (as [`Router::route_status`] gives it) and every group's panic
    /// flag, all at one instant and under one acquisition of the lock: what an admin endpoint
    /// serves (it serializes with serde). Computed on copies, so asking changes nothing, but
    /// for one thing: an operator's override past its expiry ends (audited), as
    /// [`Router::route_status`] ends it, so that both report the same. It copies every route's
    /// window, so it is for operators, not for the request path.
    pub fn snapshot(&self) -> RouterSnapshot {
        let mut events = Vec::new();
        let snapshot = self.snapshot_ending_overrides(&mut events);
        self.emit_all(&mut events);
        snapshot
    }

    fn snapshot_ending_overrides(&self, events: &mut Vec<RouterEvent<'static>>) -> RouterSnapshot {
        let mut guard = self.core();
        let now = Instant::now();
        let l = &mut *guard;
        for r in 0..l.core.routes.len() {
            if l.core.routes[r].operator.is_some() {
                l.core
                    .expire_override(&l.shared, RouteId(r as u32), now, events);
            }
        }
        let (sh, core) = (&l.shared, &l.core);
        let routes: Vec<RouteSnapshot> = sh
            .table
            .routes()
            .iter()
            .map(|r| RouteSnapshot {
                route: r.id,
                provider: r.provider_name.clone(),
                country: r.country,
                number_type: r.number_type,
                cost: r.cost,
                status: route_status(sh, core, r.id, now),
            })
            .collect();
        let groups = (0..sh.table.group_count())
            .filter_map(|g| {
                let members = sh.table.group_routes(crate::route::GroupId(g as u32));
                let first = sh.table.route(*members.first()?);
                Some(GroupSnapshot {
                    country: first.country,
                    number_type: first.number_type,
                    panic: core.groups[g].panic,
                    in_service: members
                        .iter()
                        .filter(|r| routes[r.index()].status.state == RouteState::Healthy)
                        .count() as u32,
                    routes: members.len() as u32,
                })
            })
            .collect();
        RouterSnapshot {
            at: sh.since_epoch(now),
            generation: sh.generation,
            routes,
            groups,
        }
    }

    /// Swaps the routing table and the policy, atomically, keeping what the router learnt.
    ///
    /// Routes are matched by (provider, country, number type): a route still listed keeps its
    /// id, window, state, backoff and long-run record, and takes the new cost, priority, weight
    /// and failure domains; a new route starts as at a cold start; a route no longer listed is
    /// retired (it keeps its id, settles its attempts in flight, and is never a candidate
    /// again). Verifications in progress keep their plan (attempts, timeouts, deadline) and
    /// make their next decision under the new configuration. The windows are rebuilt only if
    /// `health.window` or `health.buckets` changed (their counts are then lost: the event says
    /// so). One [`RouterEvent::Reloaded`] records the difference.
    ///
    /// Invalid configuration (an invalid policy, a compliance rule naming an unknown provider,
    /// a new provider without an adapter) is refused with the router unchanged. New providers
    /// need [`Router::reload_with_adapters`].
    pub fn reload(&self, table: RoutingTable, policy: Policy) -> Result<Reloaded, BuildError> {
        self.reload_with_adapters(table, policy, Vec::new())
    }

    /// [`Router::reload`], registering adapters by provider name: for the table's new providers,
    /// or replacing an existing provider's (new credentials, a new endpoint).
    pub fn reload_with_adapters(
        &self,
        table: RoutingTable,
        policy: Policy,
        adapters: Vec<(String, Arc<dyn ProviderAdapter>)>,
    ) -> Result<Reloaded, BuildError> {
        let _one_at_a_time = self.reload_lock();
        let old = self.shared();
        policy.validate()?;
        // Limits, like compliance rules, name providers and routes of the table being loaded.
        Limits::resolve(&policy, &table)?;
        // Compliance rules name providers of the table being loaded, not of the merge (which
        // remembers providers whose routes were all retired).
        for (i, rule) in policy.compliance.iter().enumerate() {
            for (list, names) in [("allow", &rule.allow), ("deny", &rule.deny)] {
                for (k, name) in names.iter().enumerate() {
                    if table.provider_id(name).is_none() {
                        return Err(BuildError::UnknownComplianceProvider {
                            field: format!("compliance[{i}].{list}[{k}]"),
                            name: name.clone(),
                        });
                    }
                }
            }
        }
        let merged = old.table.merged(&table);
        let mut slots: Vec<Option<Arc<dyn ProviderAdapter>>> = (0..merged.providers().len())
            .map(|p| old.adapters.get(p).cloned())
            .collect();
        for (name, adapter) in adapters {
            match merged.provider_id(&name) {
                Some(p) => slots[p.index()] = Some(adapter),
                None => return Err(BuildError::UnknownAdapter(name)),
            }
        }
        let next = crate::router::configure(merged, policy, slots, old.epoch, old.generation + 1)?;
        let next = Arc::new(next);
        let now = Instant::now();
        let mut event = diff(&old, &next, now);
        // Registering with the recorder takes its time: before the lock, and before the new
        // routes can take traffic, so their first events count.
        #[cfg(feature = "metrics")]
        let metrics = self.metrics();
        #[cfg(feature = "metrics")]
        if let Some(m) = metrics {
            m.extend(&next.table);
        }
        {
            let mut l = self.core();
            // Reloads are serialized, so the configuration is still `old`.
            event.windows_reset = l.core.reconfigure(&old, &next, now);
            // A revived route restarts cold without a state change event. Set under the lock,
            // so no later transition of it can be overwritten by this.
            #[cfg(feature = "metrics")]
            if let Some(m) = metrics {
                for r in &event.added {
                    m.show_state(*r, l.core.routes[r.index()].effective());
                }
            }
            self.install(&mut l, next);
        }
        self.emit(&RouterEvent::Reloaded(event.clone()));
        Ok(event)
    }
}

/// What changed from `old` to `next` (whose table is `old`'s merged with the new one).
fn diff(old: &Shared, next: &Shared, now: Instant) -> Reloaded {
    let mut e = Reloaded {
        at: next.since_epoch(now),
        generation: next.generation,
        added: Vec::new(),
        retired: Vec::new(),
        changed: Vec::new(),
        policy_fields: old.policy.changed_fields(&next.policy),
        windows_reset: false,
    };
    for r in next.table.routes() {
        match old.table.routes().get(r.id.index()) {
            None => e.added.push(r.id),
            Some(o) if o.retired && !r.retired => e.added.push(r.id),
            Some(o) if !o.retired && r.retired => e.retired.push(r.id),
            Some(o) if !r.retired => {
                let domains = |t: &RoutingTable, r: &crate::route::Route| -> Vec<String> {
                    r.failure_domains
                        .iter()
                        .map(|d| t.domain_name(*d).to_owned())
                        .collect()
                };
                if o.cost != r.cost
                    || o.priority != r.priority
                    || o.weight != r.weight
                    || domains(&old.table, o) != domains(&next.table, r)
                {
                    e.changed.push(r.id);
                }
            }
            Some(_) => {}
        }
    }
    e
}
