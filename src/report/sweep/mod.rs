//! The views of a finished threshold sweep: `sweep.csv`, its charts, its `index.html` and the
//! text the CLI prints at the end. Each reads a [`SweepSummary`] and returns bytes or text; none
//! writes a file (the CLI's `report::output` does) and none computes a statistic: the means,
//! intervals, frontier, distinguishability and recommendation are `metrics::pareto`'s, carried
//! by the summary, and only picked, laid out and formatted here.
//!
//! - [`csv`]: one row per point, every metric's mean and interval.
//! - [`chart`]: what a sweep's shape lets a reader see. One swept parameter: a line per charted
//!   metric (the mean against the parameter, its interval shaded). Two or more on a grid: a
//!   heatmap per charted metric over the first two, the others fixed at a stated value. A Latin
//!   hypercube: the points scattered over the first two parameters instead, since its points do
//!   not fill a grid. Every sweep: the Pareto scatter of cost per success against success rate.
//! - [`html`]: one self-contained page: the setup, the recommendation (or why there is none),
//!   the frontier and what the intervals can tell apart, the charts, a bounded table of points.
//! - [`terminal`]: the frontier, the recommendation and the `failover-lab run` command for it.
//!
//! The charted metrics are [`SweepSummary::charted_metrics`]: the objectives, then the
//! constrained metrics that are no objective. Numbers print as in the run report
//! ([`replicated::value`]: `99.95%`, `3.52s`, costs with four decimals).
//!
//! # Bounds
//!
//! A dimension has at most `MAX_VALUES` (1,000) values and a sweep at most `MAX_POINTS`
//! (10,000) points, so everything here is linear in the points, and every chart stays one
//! image of a fixed size: axis labels are thinned so they never overlap, heatmap cells lose
//! their labels when the labels would not fit, markers shrink as points grow. A grid heatmap
//! draws one rectangle per cell of its slice, at most 10,000. The HTML tables list at most
//! [`html::MAX_ROWS`] points; `sweep.csv` has every point.

pub mod chart;
pub mod csv;
pub mod html;
pub mod terminal;

#[cfg(test)]
pub(crate) mod fixture;

use crate::experiment::sweep::{DesignInfo, SweepPoint, SweepSummary, Value};
use crate::metrics::compare::Interval;
use crate::report::replicated::{self, Style};

/// A value of metric `key` in its unit, as the run report prints it.
pub(crate) fn value(key: &str, v: f64, style: Style) -> String {
    replicated::value(key, v, style)
}

/// Point `p`'s mean of `key` with the half-width of its interval (`99.95% ± 0.02`), the mean
/// alone without an interval (one seed: a sweep's every value would carry `± -`), or a dash.
pub(crate) fn mean_pm(key: &str, p: &SweepPoint, style: Style) -> String {
    match p.estimates.iter().find(|e| e.metric == key) {
        Some(e) if e.interval.half_width.is_none() => value(key, e.interval.mean, style),
        e => replicated::mean_pm(key, e, style),
    }
}

/// `[lo, hi]` in the metric's unit, or a dash without an interval (one seed).
pub(crate) fn interval(key: &str, i: &Interval, style: Style) -> String {
    match (i.lo, i.hi) {
        (Some(lo), Some(hi)) => format!("[{}, {}]", value(key, lo, style), value(key, hi, style)),
        _ => style.dash().to_owned(),
    }
}

/// `full grid of 6 points` or `Latin hypercube of 40 points (sample seed 7)`.
pub(crate) fn design(s: &SweepSummary) -> String {
    match s.design {
        DesignInfo::Grid => format!("full grid of {}", points(s.points.len())),
        DesignInfo::LatinHypercube { samples, seed } => {
            format!(
                "Latin hypercube of {} (sample seed {seed})",
                points(samples)
            )
        }
    }
}

/// `1 point`, `6 points`.
pub(crate) fn points(n: usize) -> String {
    format!("{n} point{}", if n == 1 { "" } else { "s" })
}

/// `5 seeds`, `1 seed`.
pub(crate) fn seeds(n: usize) -> String {
    format!("{n} seed{}", if n == 1 { "" } else { "s" })
}

/// Whether parameter `i`'s points were drawn anywhere between its levels (a Latin hypercube over
/// a range, whose `levels` are only the range's ends) rather than taken from them.
pub(crate) fn drawn_between(s: &SweepSummary, i: usize) -> bool {
    matches!(s.design, DesignInfo::LatinHypercube { .. })
        && s.points
            .iter()
            .filter_map(|p| p.values.get(i))
            .any(|v| !s.parameters[i].levels.contains(v))
}

/// A parameter's value as flags write it, `30s`.
pub(crate) fn written(v: &Value) -> String {
    v.to_string()
}
