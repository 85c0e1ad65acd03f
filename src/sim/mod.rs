//! The simulated world: regions, carriers and providers the unmodified router runs against.
//!
//! A request's path: the router calls [`SimAdapter`] (its `ProviderAdapter`), which messages the
//! provider's [`region`] actor (network latency, regional faults), which forwards to the
//! [`provider`] actor (API latency, errors, rate limit, inventory, number types, path quality),
//! which hands accepted messages to the destination's [`carrier`] actor (delivery latency and
//! loss). Whoever decides the outcome schedules the reply in the world's one agenda ([`clock`]).
//! Faults are evaluated from the timeline when a message reaches the actor ([`effects`]).
//! [`traffic`] generates verifications and user behaviour; [`world`] assembles and runs it all.

mod adapter;
pub(crate) mod arrivals;
mod calendar;
mod carrier;
mod clock;
mod effects;
mod message;
mod paced;
mod provider;
mod region;
pub mod rng;
mod traffic;
mod trap;
mod world;

pub use adapter::SimAdapter;
pub use message::SimTag;
pub use paced::{PacedWorld, TICK};
pub use traffic::{CONVERSION_HORIZON, TrafficCounts};
pub use trap::Panicked;
pub use world::{SimError, SimOutcome, simulate};
