//! The simulated world: regions, carriers and providers the unmodified router runs against.
//!
//! Only the pure parts live here so far: [`distribution`] (what latencies look like) and [`rng`]
//! (where every random draw comes from, so runs are reproducible from a seed and policies face
//! common random numbers).

pub mod distribution;
pub mod rng;
