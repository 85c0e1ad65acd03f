//! A route's observed latency distribution and the fitted densities.
//!
//! The histogram is of the route's 500 empirical quantiles (`LatencyFit::quantiles`, each a
//! 1/500 share of the traffic) in [`BINS`] equal bins of log10 seconds, as a density per decade,
//! so its area is 1. The kept family's density is drawn over it, the other candidates faintly
//! (clipped to the plot's top: a gamma or Weibull with shape below 1 rises without bound near
//! zero). The notes say which family was kept, its parameters, KS distance and threshold, or why
//! the empirical distribution was kept instead.

use plotters::prelude::*;

use super::{centre, log_range, log_ticks, seconds_label, subtitle};
use crate::fit::model::{LatencyFit, RouteFit};
use crate::metrics::fit::{Family, Fitted, ks_threshold};
use crate::report::chart::common::{
    self, Area, DESC_SIZE, FixedTicks, LABEL_SIZE, LegendItem, MARGIN, MAX_NAME, Swatch,
    X_LABEL_AREA, Y_LABEL_AREA,
};
use crate::report::chart::{ChartError, Format, Painter, render_with};
use crate::report::palette;

/// The note of a route without latency samples.
pub(crate) const NO_LATENCY: &str = "no latency samples on this route";

/// Histogram bins over the observed range.
const BINS: usize = 40;
/// Points of each density curve.
const CURVE: usize = 300;
/// Longest reason shown in the chart (the page shows it in full).
const MAX_REASON: usize = 120;

const WIDTH: u32 = 1000;
const PLOT: u32 = 400;

pub(super) fn render(route: &RouteFit, k: usize, format: Format) -> Result<Vec<u8>, ChartError> {
    render_with(&Paint { route, k }, format)
}

fn histogram_colour() -> RGBColor {
    common::rgb(palette::PROVIDERS[0])
}
fn fitted_colour() -> RGBColor {
    common::rgb(palette::WORSE)
}
fn candidate_colour() -> RGBColor {
    common::rgb(palette::NO_DIFFERENCE)
}

/// `lognormal: mu = -0.693, sigma = 0.400` and the like, in the family's own terms.
pub(crate) fn parameters(f: &Fitted) -> String {
    match f.family {
        Family::LogNormal => format!("lognormal: mu = {:.3}, sigma = {:.3}", f.a, f.b),
        Family::Gamma => format!(
            "gamma: shape k = {:.3}, scale theta = {}",
            f.a,
            crate::report::fit::latency(f.b)
        ),
        Family::Weibull => format!(
            "weibull: shape k = {:.3}, scale lambda = {}",
            f.a,
            crate::report::fit::latency(f.b)
        ),
    }
}

/// `KS distance 0.0041 < threshold 0.0150 (n = 50000)`, the comparison as it is.
pub(crate) fn ks_versus_threshold(f: &Fitted) -> String {
    let t = ks_threshold(f.n);
    let cmp = if f.ks < t { "<" } else { ">=" };
    format!(
        "KS distance {:.4} {cmp} threshold {:.4} (n = {})",
        f.ks, t, f.n
    )
}

/// The candidates other than the kept family.
fn others(l: &LatencyFit) -> Vec<&Fitted> {
    l.candidates
        .iter()
        .filter(|c| l.fitted.as_ref().is_none_or(|f| f.family != c.family))
        .collect()
}

fn legend(l: Option<&LatencyFit>) -> Vec<LegendItem> {
    let Some(l) = l else {
        return Vec::new();
    };
    let mut out = vec![LegendItem::new(
        format!(
            "observed ({} samples, histogram of the empirical quantiles)",
            l.samples
        ),
        histogram_colour(),
        Swatch::Fill,
    )];
    if let Some(f) = &l.fitted {
        out.push(LegendItem::new(
            format!("fitted {}", f.family),
            fitted_colour(),
            Swatch::Line,
        ));
    }
    let others = others(l);
    if !others.is_empty() {
        let names: Vec<&str> = others.iter().map(|c| c.family.name()).collect();
        let label = if l.fitted.is_some() {
            format!("other candidates (not kept): {}", names.join(", "))
        } else {
            format!("candidates (none kept): {}", names.join(", "))
        };
        out.push(LegendItem::new(label, candidate_colour(), Swatch::Line));
    }
    out
}

fn notes(l: Option<&LatencyFit>) -> Vec<String> {
    let Some(l) = l else {
        return Vec::new();
    };
    let mut out = vec![format!(
        "Observed median {}, p99 {}.",
        crate::report::fit::latency(l.observed_median),
        crate::report::fit::latency(l.observed_p99)
    )];
    match &l.fitted {
        Some(f) => out.push(format!("{} · {}.", parameters(f), ks_versus_threshold(f))),
        None => out.push(format!(
            "empirical distribution kept: {}",
            common::short(&l.reason, MAX_REASON)
        )),
    }
    out
}

/// log10 of the positive, finite quantiles.
fn logs(l: &LatencyFit) -> Vec<f64> {
    l.quantiles
        .iter()
        .filter(|q| q.is_finite() && **q > 0.0)
        .map(|q| q.log10())
        .collect()
}

/// The histogram: (bin start, bin end, density per decade), over `lo..hi` of the values.
fn histogram(us: &[f64]) -> Vec<(f64, f64, f64)> {
    let (lo, hi) = (
        us.iter().copied().fold(f64::INFINITY, f64::min),
        us.iter().copied().fold(f64::NEG_INFINITY, f64::max),
    );
    if !lo.is_finite() {
        return Vec::new();
    }
    let (lo, hi, bins) = if hi - lo < 1e-9 {
        (lo - 0.025, lo + 0.025, 1)
    } else {
        (lo, hi, BINS)
    };
    let width = (hi - lo) / bins as f64;
    let mut counts = vec![0usize; bins];
    for &u in us {
        let i = (((u - lo) / width) as usize).min(bins - 1);
        counts[i] += 1;
    }
    let n = us.len() as f64;
    counts
        .iter()
        .enumerate()
        .map(|(i, &c)| {
            let x0 = lo + i as f64 * width;
            (x0, x0 + width, c as f64 / (n * width))
        })
        .collect()
}

/// `f`'s density per decade at log10 seconds `u`: `pdf(x) x ln 10`.
fn density(f: &Fitted, u: f64) -> f64 {
    let x = 10f64.powf(u);
    (f.ln_pdf(x) + x.ln()).exp() * std::f64::consts::LN_10
}

fn curve(f: &Fitted, lo: f64, hi: f64) -> Vec<(f64, f64)> {
    (0..=CURVE)
        .map(|i| lo + (hi - lo) * i as f64 / CURVE as f64)
        .map(|u| (u, density(f, u)))
        .filter(|(_, d)| d.is_finite())
        .collect()
}

struct Paint<'a> {
    route: &'a RouteFit,
    k: usize,
}

impl Painter for Paint<'_> {
    fn size(&self) -> Result<(u32, u32), ChartError> {
        let l = self.route.latency.as_ref();
        let legend = common::legend_height(WIDTH, &legend(l))?;
        Ok((
            WIDTH,
            common::HEADER + legend + common::notes_height(&notes(l)) + PLOT,
        ))
    }

    fn paint<DB: DrawingBackend>(&self, root: &Area<DB>) -> Result<(), ChartError> {
        let r = self.route;
        let l = r.latency.as_ref();
        let title = format!(
            "Latency: {} {}/{}",
            common::short(&r.provider, MAX_NAME),
            r.country,
            r.number_type
        );
        let area = common::header_with(root, &title, &subtitle(r, self.k))?;
        let area = common::legend(&area, &legend(l))?;
        let area = common::notes(&area, &notes(l))?;
        let us = l.map(logs).unwrap_or_default();
        let bars = histogram(&us);
        let (lo, hi) = match (bars.first(), bars.last()) {
            (Some(a), Some(b)) => log_range(a.0, b.1),
            _ => (-1.0, 1.0),
        };
        let fitted = l.and_then(|l| l.fitted.as_ref());
        let main = fitted.map(|f| curve(f, lo, hi)).unwrap_or_default();
        let top = bars
            .iter()
            .map(|b| b.2)
            .chain(main.iter().map(|p| p.1))
            .fold(0.0, f64::max);
        let top = if top > 0.0 && top.is_finite() {
            top * 1.15
        } else {
            1.0
        };
        let mut chart = ChartBuilder::on(&area)
            .margin(MARGIN)
            .margin_right(MARGIN * 2)
            .x_label_area_size(X_LABEL_AREA)
            .y_label_area_size(Y_LABEL_AREA)
            .build_cartesian_2d(
                FixedTicks {
                    range: lo..hi,
                    ticks: log_ticks(lo, hi),
                },
                0.0..top,
            )?;
        chart
            .configure_mesh()
            .x_desc("latency (log scale)")
            .y_desc("density per decade")
            .x_label_formatter(&|u| seconds_label(*u))
            .y_label_formatter(&|v| common::tick(*v))
            .label_style(common::text(LABEL_SIZE))
            .axis_desc_style(common::text(DESC_SIZE))
            .max_light_lines(0)
            .bold_line_style(RGBColor(215, 215, 215))
            .draw()?;
        chart.draw_series(bars.iter().map(|&(x0, x1, d)| {
            Rectangle::new([(x0, 0.0), (x1, d)], histogram_colour().mix(0.45).filled())
        }))?;
        if let Some(l) = l {
            for c in others(l) {
                let points: Vec<(f64, f64)> = curve(c, lo, hi)
                    .into_iter()
                    .map(|(u, d)| (u, d.min(top)))
                    .collect();
                chart.draw_series(LineSeries::new(
                    points,
                    candidate_colour().mix(0.7).stroke_width(2),
                ))?;
            }
        }
        chart.draw_series(LineSeries::new(main, fitted_colour().stroke_width(3)))?;
        let note = match l {
            None => Some(NO_LATENCY),
            Some(_) if us.is_empty() => Some("no positive latency among the quantiles"),
            Some(_) => None,
        };
        if let Some(note) = note {
            common::note(&area, note, centre(&chart, &area))?;
        }
        Ok(())
    }
}
