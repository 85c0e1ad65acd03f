//! A fit's charts, per route: pure functions from a [`FitModel`] and a route index to SVG or
//! PNG bytes, with the run report's font, palette and helpers ([`crate::report::chart`]).
//!
//! - [`FitChart::Latency`] (`latency.rs`): the observed latency distribution as a density
//!   histogram of its 500 empirical quantiles (each a 1/500 share of the traffic) on a
//!   log-seconds axis, the kept family's density over it, the other candidates faint; the
//!   caption names the family, its parameters, KS distance and threshold, or why the empirical
//!   distribution was kept.
//! - [`FitChart::Qq`] (`qq.rs`): each empirical quantile against the kept family's quantile at
//!   the same probability, log-log, with the diagonal. Without a kept family: a note.
//! - [`FitChart::Failures`] (`failures.rs`): the failure rate per bucket over time, the incident
//!   windows shaded and numbered, the baseline dashed; minutes or hours by span, at most
//!   [`MAX_POINTS`] points (consecutive buckets averaged beyond).
//!
//! Densities are per decade of latency: on a log10 axis a density `f(x)` becomes
//! `f(x) x ln 10`, so the histogram's area and the curves' areas are both 1.

mod failures;
mod latency;
mod qq;

pub(crate) use latency::{ks_versus_threshold, parameters as latency_parameters};

use crate::fit::model::{FitModel, RouteFit};
use crate::report::chart::common::{self, MAX_NAME};
use crate::report::chart::{ChartError, Format, MAX_POINTS};

/// One of a route's charts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FitChart {
    Latency,
    Qq,
    Failures,
}

impl FitChart {
    /// In the order the page shows them.
    pub const ALL: [FitChart; 3] = [FitChart::Latency, FitChart::Qq, FitChart::Failures];

    /// `fit_latency_<k>`, `fit_qq_<k>`, `fit_failures_<k>`.
    pub fn stem(self, k: usize) -> String {
        let kind = match self {
            FitChart::Latency => "latency",
            FitChart::Qq => "qq",
            FitChart::Failures => "failures",
        };
        format!("fit_{kind}_{k}")
    }

    /// `<stem>.<extension>`.
    pub fn file_name(self, k: usize, format: Format) -> String {
        format!("{}.{}", self.stem(k), format.extension())
    }

    /// What the chart shows, for the page's figure.
    pub fn caption(self) -> &'static str {
        match self {
            FitChart::Latency => "Observed latency distribution and the fitted densities",
            FitChart::Qq => "Quantile-quantile plot: observed against fitted",
            FitChart::Failures => "Failure rate per bucket, incident windows and baseline",
        }
    }
}

/// Renders chart `c` of route `k` of `model`. A route index out of range is an error; a route
/// without attempts or latency draws notes.
pub fn render(
    c: FitChart,
    model: &FitModel,
    k: usize,
    format: Format,
) -> Result<Vec<u8>, ChartError> {
    let route = model
        .routes
        .get(k)
        .ok_or_else(|| ChartError::Draw(format!("no route {k} in the model")))?;
    match c {
        FitChart::Latency => latency::render(route, k, format),
        FitChart::Qq => qq::render(route, k, format),
        FitChart::Failures => failures::render(model, route, k, format),
    }
}

/// `route #k · provider · DE/mobile` (the provider cut to `MAX_NAME` characters).
fn subtitle(r: &RouteFit, k: usize) -> String {
    format!(
        "route #{k} · {} · {}/{}",
        common::short(&r.provider, MAX_NAME),
        r.country,
        r.number_type
    )
}

/// A log10-seconds axis value as a latency label: `-1` -> `100 ms`.
fn seconds_label(u: f64) -> String {
    let x = 10f64.powf(u);
    let (v, unit) = if x < 1e-3 {
        (x * 1e6, "µs")
    } else if x < 1.0 {
        (x * 1e3, "ms")
    } else {
        (x, "s")
    };
    // Three significant digits at most, needless decimals dropped.
    let v = if v >= 100.0 {
        v.round()
    } else if v >= 10.0 {
        (v * 10.0).round() / 10.0
    } else {
        (v * 100.0).round() / 100.0
    };
    format!("{} {unit}", common::tick(v))
}

/// A range of log10 seconds around `lo..hi` (log10 values), padded, never empty.
fn log_range(lo: f64, hi: f64) -> (f64, f64) {
    if !(lo.is_finite() && hi.is_finite()) {
        return (-1.0, 1.0);
    }
    let pad = ((hi - lo) * 0.06).max(0.15);
    (lo - pad, hi + pad)
}

/// Ticks of a log10 axis over `lo..hi`: the decades, and 2 and 5 times them when there are
/// few decades (all of 1 to 9 times them on a very narrow range).
fn log_ticks(lo: f64, hi: f64) -> Vec<f64> {
    let ticks_with = |mantissas: &[f64]| -> Vec<f64> {
        let mut out = Vec::new();
        for d in (lo.floor() as i32 - 1)..=(hi.ceil() as i32) {
            for m in mantissas {
                let u = f64::from(d) + m.log10();
                if u >= lo && u <= hi {
                    out.push(u);
                }
            }
        }
        out
    };
    for mantissas in [
        &[1.0][..],
        &[1.0, 2.0, 5.0][..],
        &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0][..],
    ] {
        let t = ticks_with(mantissas);
        if t.len() >= 3 {
            return t;
        }
    }
    // Narrower than a ninth of a decade: both ends and the middle.
    vec![lo, (lo + hi) / 2.0, hi]
}

/// Where a centred note goes in `chart`'s plot, in `area` coordinates.
fn centre<DB: plotters::prelude::DrawingBackend, CT: plotters::coord::CoordTranslate>(
    chart: &plotters::prelude::ChartContext<'_, DB, CT>,
    area: &common::Area<DB>,
) -> (i32, i32) {
    let (x, y) = chart.plotting_area().get_pixel_range();
    let (bx, by) = area.get_base_pixel();
    ((x.start + x.end) / 2 - bx, (y.start + y.end) / 2 - by)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::chart::fixture::{png_size, svg_size};
    use crate::report::fit::fixture;
    use crate::report::html::inline_svg;

    fn svg(c: FitChart, model: &FitModel, k: usize) -> String {
        String::from_utf8(render(c, model, k, Format::Svg).unwrap()).unwrap()
    }

    #[test]
    fn every_chart_of_every_route_renders_svg_and_png_identically_twice() {
        let model = fixture::model();
        for k in 0..model.routes.len() {
            for c in FitChart::ALL {
                let svg = svg(c, &model, k);
                assert!(svg.starts_with("<svg"), "{c:?} {k}");
                assert!(svg.contains(&format!("route #{k} · ")), "{c:?} {k}");
                inline_svg::checked(svg.as_bytes()).unwrap_or_else(|e| panic!("{c:?} {k}: {e}"));
                let png = render(c, &model, k, Format::Png).unwrap();
                assert_eq!(png_size(&png), svg_size(&svg), "{c:?} {k}");
                for format in [Format::Svg, Format::Png] {
                    assert!(
                        render(c, &model, k, format).unwrap()
                            == render(c, &model, k, format).unwrap(),
                        "{c:?} {k} {format} differs between renders"
                    );
                }
            }
        }
        assert!(render(FitChart::Qq, &model, 3, Format::Svg).is_err());
    }

    #[test]
    fn the_latency_chart_names_the_family_its_parameters_and_ks() {
        let model = fixture::model();
        let s = svg(FitChart::Latency, &model, 0);
        assert!(s.contains("Latency: alpha DE/mobile"), "{s}");
        assert!(s.contains("lognormal: mu = -0.693, sigma = 0.4"), "{s}");
        assert!(s.contains("KS distance 0.0"), "{s}");
        assert!(s.contains("&lt; threshold 0.0150 (n = "), "{s}");
        assert!(s.contains("other candidates (not kept)"), "{s}");
        let s = svg(FitChart::Latency, &model, 1);
        assert!(s.contains("empirical distribution kept"), "{s}");
        assert!(s.contains("candidates (none kept)"), "{s}");
    }

    #[test]
    fn without_latency_or_attempts_the_charts_draw_notes() {
        let model = fixture::model();
        assert!(svg(FitChart::Latency, &model, 2).contains(latency::NO_LATENCY));
        assert!(svg(FitChart::Qq, &model, 2).contains(latency::NO_LATENCY));
        assert!(svg(FitChart::Failures, &model, 2).contains(failures::NO_ATTEMPTS));
        assert!(svg(FitChart::Qq, &model, 1).contains(qq::NO_FAMILY));
        // Odd latencies: empty quantiles, zeros, one value.
        let mut odd = fixture::model();
        for quantiles in [vec![], vec![0.0; 500], vec![0.25; 500]] {
            odd.routes[0].latency.as_mut().unwrap().quantiles = quantiles;
            for c in FitChart::ALL {
                for format in [Format::Svg, Format::Png] {
                    render(c, &odd, 0, format).unwrap();
                }
            }
        }
    }

    #[test]
    fn the_failure_chart_shades_incidents_and_draws_the_baseline() {
        let model = fixture::model();
        let s = svg(FitChart::Failures, &model, 0);
        assert!(s.contains("#1"), "{s}");
        assert!(s.contains("incident windows (1)"), "{s}");
        assert!(s.contains("baseline 4.50 %"), "{s}");
        assert!(s.contains("time since the first bucket (min)"), "{s}");
        // Without incidents: the rate outside them.
        let s = svg(FitChart::Failures, &model, 1);
        assert!(s.contains("no incident found"), "{s}");
        // A long series: hours, merged into at most MAX_POINTS points.
        let mut long = fixture::model();
        long.routes[0].failure_series =
            (0..20_000).map(|i| Some((i % 10) as f64 / 100.0)).collect();
        long.span = 20_000.0 * 60.0;
        let s = svg(FitChart::Failures, &long, 0);
        assert!(s.contains("time since the first bucket (h)"), "{s}");
        assert!(s.contains("the mean of 34 buckets"), "{s}");
    }

    #[test]
    fn names_are_escaped() {
        let mut model = fixture::model();
        model.routes[0].provider = "<script>alert(1)</script>".to_owned();
        for c in FitChart::ALL {
            let s = svg(c, &model, 0);
            assert!(!s.contains("<script"), "{c:?}");
            assert!(s.contains("&lt;script&gt;"), "{c:?}");
            inline_svg::checked(s.as_bytes()).unwrap();
        }
    }

    #[test]
    fn log_axes_are_labelled_in_seconds() {
        assert_eq!(seconds_label(-1.0), "100 ms");
        assert_eq!(seconds_label(0.0), "1 s");
        assert_eq!(seconds_label(2f64.log10()), "2 s");
        assert_eq!(seconds_label(-4.0), "100 µs");
        let t = log_ticks(-1.2, 1.3);
        assert_eq!(t.len(), 3);
        let t = log_ticks(-0.5, 0.2);
        assert!(t.len() >= 3 && t.contains(&0.0), "{t:?}");
        let t = log_ticks(0.01, 0.02);
        assert_eq!(t.len(), 3);
    }
}
