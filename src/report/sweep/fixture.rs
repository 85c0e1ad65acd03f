//! Sweeps for the views' tests: real plans (`grid`, `latin_hypercube`) analysed by
//! `SweepSummary::new`, with made-up estimates whose trade-off is known: a higher trip threshold
//! (the first parameter) costs success and latency and saves cost and flaps.

use std::time::Duration;

use crate::experiment::sweep::{
    SweepContext, SweepPlan, SweepScenario, SweepSummary, Value, Vary, grid, latin_hypercube,
};
use crate::metrics::compare::{Interval, MetricEstimate, better};
use crate::metrics::pareto::{Constraint, Objective};

pub(crate) fn vary(spec: &str) -> Vary {
    Vary::parse(spec).unwrap_or_else(|e| panic!("{spec}: {e}"))
}

/// The base policy's value of the fields the fixtures sweep.
fn base_value(path: &str) -> Option<Value> {
    match path {
        "trip.failure_rate" => Some(Value::Number(0.3)),
        "ejection.base" => Some(Value::Duration(Duration::from_secs(30))),
        "probe.share" => Some(Value::Number(0.1)),
        "strategy" => Some(Value::Name("score".into())),
        _ => None,
    }
}

/// Where `v` lies along parameter `d` of `plan`, in [0, 1].
fn position(plan: &SweepPlan, d: usize, v: &Value) -> f64 {
    let vary = &plan.varies[d];
    if let Some(u) = vary.position(v) {
        return u;
    }
    let levels = vary.levels();
    let i = levels.iter().position(|l| l == v).unwrap_or(0);
    if levels.len() < 2 {
        0.0
    } else {
        i as f64 / (levels.len() - 1) as f64
    }
}

fn estimate(metric: &str, mean: f64, half_width: f64, seeds: usize) -> MetricEstimate {
    let h = (seeds >= 2).then_some(half_width);
    MetricEstimate {
        metric: metric.to_owned(),
        better: better(metric),
        interval: Interval {
            n: seeds as u64,
            mean,
            half_width: h,
            lo: h.map(|h| mean - h),
            hi: h.map(|h| mean + h),
        },
    }
}

/// Made-up estimates of point `i`, in name order like `compare::estimates`.
fn estimates(plan: &SweepPlan, i: usize, seeds: usize) -> Vec<MetricEstimate> {
    let values = &plan.points[i].values;
    let u = |d: usize| values.get(d).map_or(0.0, |v| position(plan, d, v));
    let (u0, u1) = (u(0), u(1));
    // Every third point a little dearer, so some points are dominated.
    let bump = if i % 3 == 2 { 0.006 } else { 0.0 };
    let mut out = vec![
        estimate(
            "cost_per_success",
            0.09 - 0.03 * u0 + 0.005 * u1 + bump,
            0.002,
            seeds,
        ),
        estimate("ejections", 40.0 * (1.0 - u0), 3.0, seeds),
        estimate("flaps", 12.0 * (1.0 - u0) * (1.0 - u1 / 2.0), 1.5, seeds),
        estimate(
            "success_rate",
            0.9995 - 0.004 * u0 - 0.001 * u1,
            0.0008,
            seeds,
        ),
        estimate("ttv_p99", 4.0 + 6.0 * u0, 0.5, seeds),
    ];
    out.sort_by(|a, b| a.metric.cmp(&b.metric));
    out
}

/// `plan` analysed with made-up estimates on `seeds` seeds, the default objectives and
/// `constraints`.
pub(crate) fn build(plan: &SweepPlan, seeds: usize, constraints: &[&str]) -> SweepSummary {
    let points = (0..plan.points.len())
        .map(|i| estimates(plan, i, seeds))
        .collect();
    summary(plan, points, seeds, constraints)
}

/// `plan` analysed with the given estimates.
pub(crate) fn summary(
    plan: &SweepPlan,
    points: Vec<Vec<MetricEstimate>>,
    seeds: usize,
    constraints: &[&str],
) -> SweepSummary {
    let objectives = Objective::defaults();
    let constraints: Vec<Constraint> = constraints
        .iter()
        .map(|c| Constraint::parse(c, []).unwrap_or_else(|e| panic!("{c}: {e}")))
        .collect();
    SweepSummary::new(
        plan,
        points,
        SweepContext {
            scenario: SweepScenario {
                name: "provider-outage".into(),
                file: "scenarios/provider-outage.toml".into(),
                hash: "0123456789abcdef".into(),
            },
            base_policy: "sensible".into(),
            base_values: plan.varies.iter().map(|v| base_value(&v.path)).collect(),
            seeds: (0..seeds as u64)
                .map(|i| if i == 0 { 7 } else { 1000 + i })
                .collect(),
            confidence: 0.95,
            objectives: &objectives,
            constraints: &constraints,
        },
    )
}

/// One parameter, log spaced.
pub(crate) fn one_d() -> SweepSummary {
    let plan = grid(vec![vary("trip.failure_rate=log:0.05..0.8:5")]).unwrap();
    build(&plan, 5, &["success_rate>=0.99"])
}

/// One parameter of names: a categorical axis.
pub(crate) fn one_d_names() -> SweepSummary {
    let plan = grid(vec![vary("strategy=priority,weighted,score")]).unwrap();
    build(&plan, 3, &[])
}

/// The grid: three thresholds by two ejection times.
pub(crate) fn grid_2d() -> SweepSummary {
    let plan = grid(vec![
        vary("trip.failure_rate=0.1..0.5:3"),
        vary("ejection.base=10s,30s"),
    ])
    .unwrap();
    build(&plan, 5, &["success_rate>=0.996"])
}

/// Three parameters on a grid: heatmaps fix the third.
pub(crate) fn grid_3d() -> SweepSummary {
    let plan = grid(vec![
        vary("trip.failure_rate=0.1..0.5:3"),
        vary("ejection.base=10s,30s"),
        vary("probe.share=0.05,0.1,0.2"),
    ])
    .unwrap();
    build(&plan, 5, &["success_rate>=0.996", "flaps<=10"])
}

/// A Latin hypercube over a range, a duration range and names; point 0 has no cost per success.
pub(crate) fn lhs() -> SweepSummary {
    let plan = latin_hypercube(
        vec![
            vary("trip.failure_rate=0.1..0.5:5"),
            vary("ejection.base=log:5s..2m:4"),
            vary("strategy=priority,score"),
        ],
        24,
        11,
    )
    .unwrap();
    let mut points: Vec<Vec<MetricEstimate>> = (0..plan.points.len())
        .map(|i| estimates(&plan, i, 4))
        .collect();
    points[0].retain(|e| e.metric != "cost_per_success");
    summary(&plan, points, 4, &[])
}

/// The 2-D grid under a constraint no point meets, on one seed (no intervals).
pub(crate) fn no_feasible() -> SweepSummary {
    let plan = grid(vec![
        vary("trip.failure_rate=0.1..0.5:3"),
        vary("ejection.base=10s,30s"),
        vary("probe.share=0.05,0.1,0.2"),
    ])
    .unwrap();
    build(
        &plan,
        1,
        &["success_rate>=0.9999", "cost_per_success<=0.07"],
    )
}

/// Every fixture, named.
pub(crate) fn all() -> Vec<(&'static str, SweepSummary)> {
    vec![
        ("one_d", one_d()),
        ("one_d_names", one_d_names()),
        ("grid_2d", grid_2d()),
        ("grid_3d", grid_3d()),
        ("lhs", lhs()),
        ("no_feasible", no_feasible()),
    ]
}
