//! # failover-router
//!
//! A failover routing engine for SMS verification traffic sent through several providers.
//! Per verification it picks a route (provider x country x number type), fails over on timeout
//! or error, ejects degraded routes and probes them back with hysteresis, never lets a
//! (country, number type) go dark, weighs cost against reliability, and records every decision
//! in an audit trail.
//!
//! It talks to providers only through [`ProviderAdapter`], reads time only through
//! `tokio::time::Instant` (so it runs unchanged under a paused clock) and draws every random
//! number from a seeded generator: the same inputs and seed give the same decisions.
//!
//! ## Embedding it
//!
//! ```
//! use std::sync::Arc;
//! use failover_router::{
//!     Attempt, AttemptFuture, AttemptOutcome, Country, Destination, FailureKind, NumberType,
//!     Policy, ProviderAdapter, RouteSpec, Router, RoutingTable, TracingSink, VerificationId,
//!     VerificationRequest,
//! };
//!
//! /// A provider client: in a real service this calls the provider's HTTP API and resolves when
//! /// the delivery receipt webhook arrives.
//! struct AcmeSms;
//!
//! impl ProviderAdapter for AcmeSms {
//!     fn send(&self, attempt: Attempt) -> AttemptFuture {
//!         Box::pin(async move {
//!             // `attempt.destination.expose()` is the number to send to; never log it.
//!             if attempt.destination.expose().len() < 8 {
//!                 return AttemptOutcome::Failed(FailureKind::InvalidDestination);
//!             }
//!             AttemptOutcome::Delivered
//!         })
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let de = Country::new("DE")?;
//! let route = |provider: &str, cost: f64| RouteSpec {
//!     provider: provider.into(),
//!     country: de,
//!     number_type: NumberType::Mobile,
//!     cost,
//!     priority: 0,
//!     weight: 1.0,
//!     failure_domains: vec![],
//! };
//! let table = RoutingTable::new(&["acme", "backup"], &[route("acme", 0.07), route("backup", 0.09)])?;
//! // Policies are usually loaded from a file: `toml::from_str::<Policy>(text)?`.
//! let router = Router::builder(table, Policy::default())
//!     .adapter("acme", Arc::new(AcmeSms))
//!     .adapter("backup", Arc::new(AcmeSms))
//!     .sink(Arc::new(TracingSink))
//!     .seed(42)
//!     .build()?;
//!
//! let outcome = router
//!     .verify(VerificationRequest {
//!         id: VerificationId(1),
//!         destination: Destination::new("+4915112345678"),
//!         country: de,
//!         number_type: NumberType::Mobile,
//!         use_case: Some("login".into()),
//!     })
//!     .await;
//! assert!(outcome.delivered());
//! // Later, when the user types the code in:
//! router.record_conversion(&outcome.receipt.unwrap());
//! # Ok(())
//! # }
//! ```
//!
//! ## Map
//!
//! - [`route`]: the routing table, indexed by (country, number type).
//! - [`adapter`]: the provider seam and the failure taxonomy with its attribution.
//! - [`policy`]: every threshold, with documented defaults and per-country / use-case overrides.
//! - [`event`]: the audit trail and the sink trait.
//! - `telemetry` (feature `metrics`): counters, gauges and histograms through the `metrics`
//!   facade, derived from the audit trail, for a recorder the embedder installs.
//! - [`warm`]: a router's learnt state, exported and restored across a restart.
//! - `health`, `state`, `select`, `budget`, `core`, `router`: sliding windows, the route state
//!   machine, selection strategies, retry / exploration budgets, the locked core, the async driver.
pub mod adapter;
mod budget;
mod core;
pub mod duration;
pub mod event;
mod health;
mod inline;
mod limits;
mod operator;
mod ops;
pub mod policy;
pub mod route;
mod router;
mod select;
mod state;
#[cfg(feature = "metrics")]
pub mod telemetry;
pub mod warm;

pub use adapter::{
    Attempt, AttemptFuture, AttemptId, AttemptOutcome, Attribution, Destination, FailureKind,
    ProviderAdapter, VerificationId,
};
pub use event::VerificationStatus;
pub use event::{
    AbandonReason, Candidate, DecisionReason, EventSink, Excluded, NoopSink, Override, Reloaded,
    RestoredRoute, RouteState, RouterEvent, Started, TracingSink,
};
pub use health::WindowSnapshot;
pub use operator::{OverrideInfo, OverrideRequest, ShiftError, TrafficShift};
pub use ops::{GroupSnapshot, RouteSnapshot, RouterSnapshot};
pub use policy::{LimitConfig, Policy, PolicyError, Strategy};
pub use route::{
    Country, NumberType, ProviderId, Route, RouteId, RouteSpec, RoutingTable, TableError,
};
pub use router::{
    BuildError, DeliveryReceipt, DryRun, Explanation, ProbeStatus, RouteStatus, Router,
    RouterBuilder, UnknownRoute, VerificationOutcome, VerificationRequest,
};
pub use warm::{
    GroupKey, RouterState, STATE_VERSION, SavedProbe, SavedRoute, StateError, WarmStart,
};
