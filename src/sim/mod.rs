//! The simulated world: regions, carriers and providers the unmodified router runs against.

pub mod rng;
