//! Threshold sweeps (issue 13), the planning half: which policies a sweep runs.
//!
//! A sweep varies fields of one base policy (`--vary trip.failure_rate=0.1..0.6:6`) over a full
//! grid or a Latin hypercube, and every point is checked as a policy before anything runs.
//! Planning is pure data, like [`RunSpec`](super::RunSpec): no simulation, no rendering. The
//! statistics of a finished sweep (objectives, constraints, the Pareto frontier, the
//! recommendation) live in [`metrics::pareto`](crate::metrics::pareto), because statistics never
//! know about rendering or planning.
//!
//! - [`vary`]: one `PATH=VALUES` dimension, its path checked against the policy model.
//! - [`plan`]: the points of several dimensions (grid or Latin hypercube) and the policies they
//!   make from a base policy, with every invalid point reported at once.

pub mod plan;
pub mod vary;

pub use plan::{
    Design, InvalidPoint, InvalidPoints, MAX_POINTS, PlanError, Point, PointPolicies, SweepPlan,
    grid, latin_hypercube,
};
pub use vary::{FieldKind, MAX_VALUES, Value, Values, Vary, VaryError};

#[cfg(test)]
mod tests;
