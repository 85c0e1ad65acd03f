//! The points of a sweep and the policies they make.
//!
//! # Designs
//!
//! - [`grid`]: the full cartesian product of the dimensions, in the order the `--vary` flags
//!   are given, the first varying slowest and the last fastest (nested loops, outermost first):
//!   `a=1,2 b=x,y` gives (1,x), (1,y), (2,x), (2,y). A point's index is its position.
//! - [`latin_hypercube`]: K points for `--samples K`, for three or more dimensions where a grid
//!   would explode. Each dimension is cut into K strata of equal width along it (equal width in
//!   log space for a `log:` range) and every stratum of every dimension holds exactly one point;
//!   which strata go together is a random permutation per dimension. A range of numbers or
//!   durations is drawn anywhere within the stratum (its count is ignored: the interval is what
//!   is sampled); a list, a whole-number range or names are discrete, so stratum `s` takes the
//!   entry at `floor((s + 1/2) x L / K)` of the L values, and each value gets K / L points
//!   (rounded either way). The draws come from the repo's random streams (`sim::rng`), purpose
//!   `SweepSamples`, one stream per dimension keyed by its path, so the same seed gives the same
//!   points on every platform, and adding a dimension does not reshuffle the others.
//!
//! # Policies
//!
//! [`SweepPlan::policies`] sets each point's values in the base policy's TOML form, reads it
//! back as a `Policy` and runs `Policy::validate`, collecting *every* invalid point (with the
//! first problem of each, as `validate` reports it) before anything runs, and the policy
//! warnings of the valid ones. The lab's only other policy check, compliance rules naming
//! declared providers (`scenario::validate`), concerns lists a sweep cannot vary: it holds for
//! every point if it holds for the base.

use std::fmt;

use failover_router::policy::{Policy, PolicyError};
use rand::Rng;

use super::vary::{Value, Vary, set};
use crate::scenario::entity_key;
use crate::sim::rng::{Purpose, stream};

/// Most points one sweep may plan: each runs on every seed, so ten thousand points of a
/// one-minute scenario on 10 seeds is already days of simulated traffic.
pub const MAX_POINTS: usize = 10_000;

/// One point: a value per dimension, in the order of the plan's [`SweepPlan::varies`].
#[derive(Clone, Debug, PartialEq)]
pub struct Point {
    pub values: Vec<Value>,
}

/// How the points were chosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Design {
    Grid,
    LatinHypercube { samples: usize, seed: u64 },
}

/// The dimensions of a sweep and its points, in run order.
#[derive(Clone, Debug, PartialEq)]
pub struct SweepPlan {
    pub varies: Vec<Vary>,
    pub design: Design,
    pub points: Vec<Point>,
}

/// A sweep that cannot be planned, with what to do instead.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PlanError(pub String);

/// The full grid of `varies` (see the module's documentation for its order).
pub fn grid(varies: Vec<Vary>) -> Result<SweepPlan, PlanError> {
    check_dimensions(&varies)?;
    let levels: Vec<Vec<Value>> = varies.iter().map(Vary::levels).collect();
    let sizes: Vec<usize> = levels.iter().map(Vec::len).collect();
    let total = sizes
        .iter()
        .try_fold(1usize, |n, &s| n.checked_mul(s))
        .filter(|&n| n <= MAX_POINTS);
    let Some(total) = total else {
        let product: Vec<String> = sizes.iter().map(usize::to_string).collect();
        let count: f64 = sizes.iter().map(|&s| s as f64).product();
        return Err(PlanError(format!(
            "the grid has {count} points ({}), more than {MAX_POINTS}: give fewer values, or \
             draw a Latin hypercube of K points with --samples K",
            product.join(" x ")
        )));
    };
    let points = (0..total)
        .map(|mut i| {
            // Mixed-radix digits, last dimension fastest.
            let mut values = vec![Value::Off; levels.len()];
            for (d, l) in levels.iter().enumerate().rev() {
                values[d] = l[i % l.len()].clone();
                i /= l.len();
            }
            Point { values }
        })
        .collect();
    Ok(SweepPlan {
        varies,
        design: Design::Grid,
        points,
    })
}

/// A Latin hypercube of `samples` points over `varies`, deterministic from `seed` (see the
/// module's documentation).
pub fn latin_hypercube(
    varies: Vec<Vary>,
    samples: usize,
    seed: u64,
) -> Result<SweepPlan, PlanError> {
    check_dimensions(&varies)?;
    if !(2..=MAX_POINTS).contains(&samples) {
        return Err(PlanError(format!(
            "--samples {samples}: draw between 2 and {MAX_POINTS} points"
        )));
    }
    let k = samples;
    let mut points = vec![
        Point {
            values: Vec::with_capacity(varies.len())
        };
        k
    ];
    for vary in &varies {
        let mut rng = stream(seed, Purpose::SweepSamples, entity_key(&vary.path));
        // Fisher-Yates: strata[i] is point i's stratum along this dimension.
        let mut strata: Vec<usize> = (0..k).collect();
        for i in (1..k).rev() {
            let j = rng.random_range(0..=i);
            strata.swap(i, j);
        }
        for (point, &s) in points.iter_mut().zip(&strata) {
            let within = if vary.is_continuous() {
                rng.random::<f64>()
            } else {
                0.5
            };
            point
                .values
                .push(vary.value_at((s as f64 + within) / k as f64));
        }
    }
    Ok(SweepPlan {
        varies,
        design: Design::LatinHypercube { samples, seed },
        points,
    })
}

fn check_dimensions(varies: &[Vary]) -> Result<(), PlanError> {
    if varies.is_empty() {
        return Err(PlanError(
            "nothing to sweep: give at least one --vary PATH=VALUES, e.g. \
             --vary trip.failure_rate=0.1..0.6:6"
                .to_owned(),
        ));
    }
    for (i, v) in varies.iter().enumerate() {
        if varies[..i].iter().any(|w| w.path == v.path) {
            return Err(PlanError(format!(
                "--vary {} is given twice: list all its values in one --vary",
                v.path
            )));
        }
    }
    Ok(())
}

/// The policies of every point, all valid, in point order.
#[derive(Clone, Debug, PartialEq)]
pub struct PointPolicies {
    pub policies: Vec<Policy>,
    /// `Policy::warnings` of each point that has any: (point index, warning).
    pub warnings: Vec<(usize, PolicyError)>,
}

/// A point that is no valid policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidPoint {
    pub point: usize,
    /// The point's values as flags write them: `trip.failure_rate=0.1, probe.share=0.2`.
    pub label: String,
    /// The policy field at fault, as `Policy::validate` names it (empty when the policy could
    /// not even be read, which [`Vary::parse`] makes rare).
    pub field: String,
    pub message: String,
}

/// Every invalid point of a sweep.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct InvalidPoints {
    /// Points in the sweep.
    pub total: usize,
    pub invalid: Vec<InvalidPoint>,
}

impl fmt::Display for InvalidPoints {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} of {} sweep points are not valid policies; narrow the --vary values so every \
             combination is valid:",
            self.invalid.len(),
            self.total
        )?;
        for p in &self.invalid {
            write!(f, "\n  point {} ({}): ", p.point, p.label)?;
            if !p.field.is_empty() {
                write!(f, "{}: ", p.field)?;
            }
            f.write_str(&p.message)?;
        }
        Ok(())
    }
}

impl SweepPlan {
    /// Point `i`'s values as flags write them: `trip.failure_rate=0.1, ejection.base=30s`.
    pub fn label(&self, i: usize) -> String {
        self.varies
            .iter()
            .zip(&self.points[i].values)
            .map(|(v, x)| format!("{}={x}", v.path))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// `base` with point `i`'s values set, validated.
    pub fn point_policy(&self, base: &Policy, i: usize) -> Result<Policy, InvalidPoint> {
        let table = toml::Table::try_from(base).expect("a policy serialises to TOML");
        self.apply(&table, i)
    }

    fn apply(&self, base: &toml::Table, i: usize) -> Result<Policy, InvalidPoint> {
        let invalid = |field: String, message: String| InvalidPoint {
            point: i,
            label: self.label(i),
            field,
            message,
        };
        let mut t = base.clone();
        for (vary, value) in self.varies.iter().zip(&self.points[i].values) {
            set(&mut t, &vary.path, value.to_toml());
        }
        let policy: Policy = t
            .try_into()
            .map_err(|e: toml::de::Error| invalid(String::new(), e.message().trim().to_owned()))?;
        policy.validate().map_err(|e| invalid(e.field, e.message))?;
        Ok(policy)
    }

    /// Every point's policy from `base`, or every invalid point at once.
    pub fn policies(&self, base: &Policy) -> Result<PointPolicies, InvalidPoints> {
        let table = toml::Table::try_from(base).expect("a policy serialises to TOML");
        let mut policies = Vec::with_capacity(self.points.len());
        let mut invalid = Vec::new();
        let mut warnings = Vec::new();
        for i in 0..self.points.len() {
            match self.apply(&table, i) {
                Ok(p) => {
                    warnings.extend(p.warnings().into_iter().map(|w| (i, w)));
                    policies.push(p);
                }
                Err(e) => invalid.push(e),
            }
        }
        if invalid.is_empty() {
            Ok(PointPolicies { policies, warnings })
        } else {
            Err(InvalidPoints {
                total: self.points.len(),
                invalid,
            })
        }
    }
}
