//! Threshold sweeps: which policies a sweep runs, running them, and what they add up to.
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
//! - [`spec`]: `[sweep]` and the command's flags resolved into a base policy, a plan, seeds,
//!   objectives and constraints.
//! - [`execute`]: every point on the same seeds, in parallel, folded into estimates as runs
//!   finish (memory flat in the number of points).
//! - [`summary`]: the finished sweep as data ([`SweepSummary`], `sweep.json`), analysed by
//!   [`metrics::pareto`](crate::metrics::pareto).

pub mod execute;
pub mod plan;
pub mod spec;
pub mod summary;
pub mod vary;

pub use execute::{SweepProgress, SweepRuns, run_points};
pub use plan::{
    Design, InvalidPoint, InvalidPoints, MAX_POINTS, PlanError, Point, PointPolicies, SweepPlan,
    grid, latin_hypercube,
};
pub use spec::{DEFAULT_SWEEP_SEEDS, SweepDefaults, SweepFlags, SweepRequest};
pub use summary::{
    ConstraintInfo, DesignInfo, MetricInfo, Parameter, SWEEP_FORMAT_VERSION, SweepContext,
    SweepPoint, SweepScenario, SweepSummary,
};
pub use vary::{FieldKind, MAX_VALUES, Value, Values, Vary, VaryError};

#[cfg(test)]
mod tests;
