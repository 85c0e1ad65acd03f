//! What the router benches share: an adapter that answers at once and tables of a given size
//! with ten providers per (country, number type), so the candidate set is the same size at
//! every table size (a flat line across sizes shows candidates are indexed, not scanned).

use std::sync::Arc;

use failover_router::{
    Attempt, AttemptFuture, AttemptOutcome, Country, NumberType, Policy, ProviderAdapter,
    RouteSpec, Router, RoutingTable,
};

/// An in-process adapter that delivers at once: everything a bench measures is the router's.
pub struct InstantAdapter;

impl ProviderAdapter for InstantAdapter {
    fn send(&self, _: Attempt) -> AttemptFuture {
        Box::pin(std::future::ready(AttemptOutcome::Delivered))
    }
}

pub const COUNTRIES: [&str; 20] = [
    "US", "DE", "FR", "GB", "IN", "BR", "MX", "ES", "IT", "NL", "PL", "SE", "NO", "DK", "FI", "PT",
    "AT", "CH", "BE", "IE",
];

/// A router with `routes` routes, every provider behind an [`InstantAdapter`]. Must be called
/// within a tokio runtime.
pub fn router(routes: usize) -> Router {
    let providers: Vec<String> = (0..10).map(|p| format!("p{p}")).collect();
    let mut specs = Vec::new();
    'fill: for c in COUNTRIES {
        for nt in NumberType::ALL {
            for (i, p) in providers.iter().enumerate() {
                if specs.len() == routes {
                    break 'fill;
                }
                specs.push(RouteSpec {
                    provider: p.clone(),
                    country: Country::new(c).unwrap(),
                    number_type: nt,
                    cost: 0.01 + i as f64 * 0.001,
                    priority: i as u32,
                    weight: 1.0,
                    failure_domains: vec![format!("agg{}", i % 3)],
                });
            }
        }
    }
    let table = RoutingTable::new(&providers, &specs).unwrap();
    let mut b = Router::builder(table, Policy::default());
    for p in &providers {
        b = b.adapter(p, Arc::new(InstantAdapter));
    }
    b.build().unwrap()
}
