//! The report of a fit (`failover-lab fit`): what the fitted [`FitModel`] says about each route,
//! and how well it says it. [`files`] returns every file of the report as (name, bytes); the CLI
//! writes them through [`crate::report::output::OutputDir`]. Nothing here computes a statistic:
//! the fits, the KS distances, the incident windows and the rates are `fit::model`'s (with the
//! statistics of `metrics::fit`), only drawn, laid out and formatted here.
//!
//! - [`chart`]: per charted route three charts, `fit_latency_<k>` (the observed latency
//!   distribution as a density histogram on a log-seconds axis, the kept family's density over
//!   it, the other candidates faint), `fit_qq_<k>` (empirical quantiles against the kept
//!   family's, log-log, with the diagonal) and `fit_failures_<k>` (the failure rate per bucket,
//!   the incident windows shaded, the baseline dashed), each as SVG and PNG. `<k>` is the
//!   route's index in `model.routes`.
//! - [`html`]: `index.html`, one self-contained page like the lab's others: the records' facts,
//!   how to read it, every route in one table, and per charted route its charts (inlined through
//!   `report::html::inline_svg`) and its incidents.
//!
//! # Bounds
//!
//! At most [`MAX_CHARTED`] (40) routes get charts: those with the most attempts, ties by index,
//! listed in model order ([`charted`]). The table lists every route and the page says how many
//! have no charts. Charts have a fixed size whatever the records: a failure series longer than
//! `chart::MAX_POINTS` buckets is merged into that many points, a latency distribution is drawn
//! from its 500 empirical quantiles. A route without attempts or latency draws notes.
//!
//! # Determinism
//!
//! The same model and meta give the same bytes: no timestamps, no hash-map order.

pub mod chart;
pub mod html;

#[cfg(test)]
pub(crate) mod fixture;

use crate::fit::model::{FitModel, Incident, IncidentKind, RouteFit};
use crate::report::chart::Format;

pub use chart::FitChart;

/// Most routes that get charts: the ones with the most attempts.
pub const MAX_CHARTED: usize = 40;

/// What the report says about the records beyond the model.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FitReportMeta {
    /// The record files read, in order, as the user named them.
    pub sources: Vec<String>,
    /// Records used.
    pub records: u64,
    /// Lines read, and those that were unusable.
    pub lines: u64,
    pub bad: u64,
    /// The fitted scenario file, as a link relative to the report directory (`None`: no link).
    pub scenario_file: Option<String>,
}

/// Every file of the report, as (name, bytes): `index.html` first, then per charted route (in
/// model order) `fit_latency_<k>`, `fit_qq_<k>` and `fit_failures_<k>`, each `.svg` then `.png`.
/// A chart that cannot be drawn has no file; the page says why in its place.
pub fn files(model: &FitModel, meta: &FitReportMeta) -> Vec<(String, Vec<u8>)> {
    let shown = charted(model);
    let mut charts = Vec::with_capacity(shown.len() * FitChart::ALL.len() * 2);
    let mut svgs = Vec::with_capacity(shown.len() * FitChart::ALL.len());
    for &k in &shown {
        for c in FitChart::ALL {
            let svg = chart::render(c, model, k, Format::Svg).map_err(|e| e.to_string());
            if let Ok(bytes) = &svg {
                charts.push((c.file_name(k, Format::Svg), bytes.clone()));
                if let Ok(png) = chart::render(c, model, k, Format::Png) {
                    charts.push((c.file_name(k, Format::Png), png));
                }
            }
            svgs.push(((k, c), svg));
        }
    }
    let lookup = |k: usize, c: FitChart| -> Result<Vec<u8>, String> {
        svgs.iter()
            .find(|(key, _)| *key == (k, c))
            .map_or_else(|| Err("not drawn".to_owned()), |(_, svg)| svg.clone())
    };
    let page = html::render_with(model, meta, &shown, &lookup);
    let mut out = Vec::with_capacity(charts.len() + 1);
    out.push(("index.html".to_owned(), page.into_bytes()));
    out.extend(charts);
    out
}

/// The indices of the routes that get charts: the [`MAX_CHARTED`] with the most attempts (ties
/// by index), in model order.
pub fn charted(model: &FitModel) -> Vec<usize> {
    let mut by_attempts: Vec<usize> = (0..model.routes.len()).collect();
    by_attempts.sort_by(|&a, &b| {
        model.routes[b]
            .totals
            .attempts
            .cmp(&model.routes[a].totals.attempts)
            .then(a.cmp(&b))
    });
    by_attempts.truncate(MAX_CHARTED);
    by_attempts.sort_unstable();
    by_attempts
}

/// `provider · DE/mobile`.
pub(crate) fn route_name(r: &RouteFit) -> String {
    format!("{} · {}/{}", r.provider, r.country, r.number_type)
}

/// A latency in the unit that suits it: `850 µs`, `512 ms`, `1.23 s`, `41.2 s`.
pub(crate) fn latency(v: f64) -> String {
    if !v.is_finite() {
        return "–".to_owned();
    }
    let (x, unit) = if v < 1e-3 {
        (v * 1e6, "µs")
    } else if v < 1.0 {
        (v * 1e3, "ms")
    } else {
        (v, "s")
    };
    let digits = if x < 9.995 {
        format!("{x:.2}")
    } else if x < 99.95 {
        format!("{x:.1}")
    } else {
        format!("{x:.0}")
    };
    format!("{digits} {unit}")
}

/// A share in percent with two decimals: `1.23 %`.
pub(crate) fn percent(p: f64) -> String {
    if p.is_finite() {
        format!("{:.2} %", p * 100.0)
    } else {
        "–".to_owned()
    }
}

/// Seconds as `h:mm:ss` (`0:05:00`), from the records' first bucket.
pub(crate) fn clock(seconds: f64) -> String {
    if !seconds.is_finite() || seconds < 0.0 {
        return "–".to_owned();
    }
    let s = seconds.round() as u64;
    format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

/// A duration in the unit that suits it: `45 s`, `12.5 min`, `3.0 h`.
pub(crate) fn duration(seconds: f64) -> String {
    if !seconds.is_finite() {
        "–".to_owned()
    } else if seconds < 120.0 {
        format!("{} s", crate::report::chart::common::tick(seconds))
    } else if seconds < 2.0 * 3600.0 {
        format!("{:.1} min", seconds / 60.0)
    } else {
        format!("{:.1} h", seconds / 3600.0)
    }
}

/// What an incident looked like, in words.
pub(crate) fn kind(i: &Incident) -> String {
    match i.kind {
        IncidentKind::BlackHole => "black hole (no answer)".to_owned(),
        IncidentKind::Errors => "errors (refused)".to_owned(),
        IncidentKind::Brownout { error_rate, loss } => format!(
            "brownout (+{} errors, +{} loss)",
            percent(error_rate),
            percent(loss)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::output::is_report_file;

    #[test]
    fn every_file_is_one_a_report_directory_may_hold_and_rendering_is_deterministic() {
        let model = fixture::model();
        let meta = fixture::meta();
        let a = files(&model, &meta);
        assert_eq!(a[0].0, "index.html");
        // Three routes, three charts each, SVG and PNG.
        assert_eq!(a.len(), 1 + 3 * 3 * 2);
        for (name, bytes) in &a {
            assert!(is_report_file(name), "{name}");
            assert!(!bytes.is_empty(), "{name}");
        }
        for k in 0..3 {
            for c in FitChart::ALL {
                for f in [Format::Svg, Format::Png] {
                    let name = c.file_name(k, f);
                    assert!(a.iter().any(|(n, _)| *n == name), "no {name}");
                }
            }
        }
        let b = files(&model, &meta);
        assert!(a == b, "two renders differ");
    }

    #[test]
    fn an_empty_model_has_only_its_page() {
        let mut model = fixture::model();
        model.routes.clear();
        let out = files(&model, &FitReportMeta::default());
        assert_eq!(out.len(), 1);
        let page = String::from_utf8(out[0].1.clone()).unwrap();
        assert!(page.contains("No routes"), "{page}");
    }

    #[test]
    fn the_routes_with_the_most_attempts_are_charted_in_model_order() {
        let model = fixture::many(45);
        let shown = charted(&model);
        assert_eq!(shown.len(), MAX_CHARTED);
        assert!(shown.windows(2).all(|w| w[0] < w[1]));
        // fixture::many gives route k k+1 hundred attempts, except that the five routes with
        // k % 9 == 0 have none: those are the five left out.
        for k in 0..45 {
            assert_eq!(shown.contains(&k), k % 9 != 0, "route {k}");
        }
    }

    #[test]
    fn numbers_print_in_their_units() {
        assert_eq!(latency(0.000_85), "850 µs");
        assert_eq!(latency(0.512), "512 ms");
        assert_eq!(latency(1.234), "1.23 s");
        assert_eq!(latency(41.23), "41.2 s");
        assert_eq!(latency(f64::NAN), "–");
        assert_eq!(percent(0.012_34), "1.23 %");
        assert_eq!(clock(3_725.0), "1:02:05");
        assert_eq!(duration(60.0), "60 s");
        assert_eq!(duration(600.0), "10.0 min");
        assert_eq!(duration(3.0 * 3600.0), "3.0 h");
    }
}
