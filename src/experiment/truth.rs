//! Ground truth: which routes a fault really degrades.
//!
//! The router does not know the world (a shared upstream is exactly what it may be missing);
//! the metrics must, to say how long a policy took to notice a fault and how many verifications
//! it cost. A route is affected when its traffic passes through the faulted entity and its
//! (country, number type) is within the fault's narrowing.

use failover_router::{RouteId, RoutingTable};

use crate::scenario::{CompiledScenario, FaultModel, TargetRef};

pub fn affected_routes(
    world: &CompiledScenario,
    table: &RoutingTable,
    fault: &FaultModel,
) -> Vec<RouteId> {
    let target = &fault.target;
    table
        .routes()
        .iter()
        .filter(|r| {
            let Some(country) = world.country_id(r.country) else {
                return false;
            };
            if !target.matches(country, r.number_type) {
                return false;
            }
            match target.entity {
                TargetRef::Provider(_) | TargetRef::FailureDomain(_) | TargetRef::Region(_) => {
                    target.providers.contains(&r.provider)
                }
                // Every provider reaches a carrier's subscribers through the carrier.
                TargetRef::Carrier(c) => world.carrier(c).country == country,
            }
        })
        .map(|r| r.id)
        .collect()
}
