//! failover-router
pub mod adapter;
mod budget;
mod core;
pub mod duration;
pub mod event;
mod health;
pub mod policy;
pub mod route;
mod router;
mod select;
mod state;

pub use adapter::{
    Attempt, AttemptFuture, AttemptId, AttemptOutcome, Attribution, Destination, FailureKind,
    ProviderAdapter, VerificationId,
};
pub use event::VerificationStatus;
pub use event::{EventSink, NoopSink, Override, RouteState, RouterEvent, TracingSink};
pub use health::WindowSnapshot;
pub use policy::{Policy, PolicyError, Strategy};
pub use route::{Country, NumberType, RouteId, RouteSpec, RoutingTable, TableError};
pub use router::{
    BuildError, DeliveryReceipt, RouteStatus, Router, RouterBuilder, VerificationOutcome,
    VerificationRequest,
};
