//! A load test's charts: pure functions from a [`RunSummary`] with a `load` object to SVG or
//! PNG bytes, with the run report's font, palette and conventions ([`crate::report::chart`],
//! which lists them as `load_rate`, `load_in_flight` and `load_overhead` in
//! [`charts_for`](crate::report::chart::charts_for) only when the summary has a load test).
//!
//! - `rate`: target, achieved and completed rates per wall second over time, and below them
//!   the arrivals dropped per interval, in red: where the router stopped keeping up.
//! - `in_flight`: verifications in flight over time, and the in-flight cap as a dashed line
//!   when it is near enough the peak to matter (within twice of it).
//! - `overhead`: p50, p99, p99.9 and max of the decision, the router's overhead and the
//!   issue lag as grouped bars on a logarithmic microsecond axis, each value written.
//!
//! Times are wall seconds (`LoadSample::t`), not the world's: at `--speed K` the world ran K
//! times faster, which the rate chart says. Series longer than `MAX_POINTS` are merged
//! (`series.rs`), so an image's size does not grow with the run. A summary without a load test,
//! or a load test without a sample (interrupted at once), draws its axes and a note.

pub(crate) mod in_flight;
pub(crate) mod overhead;
pub(crate) mod rate;
pub(crate) mod series;

use crate::metrics::RunSummary;
use crate::report::chart::common::short;

use super::format;

/// The note a load chart draws for a summary without a load test.
pub(crate) const NO_LOAD: &str = "no load test in this summary";

/// The note a load chart draws for a load test without a sample.
pub(crate) const NO_SAMPLES: &str = "no interval ended: the run stopped before its first sample";

/// The x axis of every load chart over time.
pub(crate) fn wall_time_desc(unit: &str) -> String {
    format!("wall time since the first arrival was due ({unit})")
}

/// Tick labels of a count axis: whole numbers only.
pub(crate) fn count_label(v: &f64) -> String {
    if (v - v.round()).abs() < 1e-9 {
        crate::report::chart::common::tick(*v)
    } else {
        String::new()
    }
}

/// `scenario NAME · 2 workers · speed x10 · 60.0 s + 3.0 s drain` (and `· interrupted`).
pub(crate) fn subtitle(s: &RunSummary) -> String {
    let mut parts = vec![format!("scenario {}", short(&s.scenario.name, 48))];
    if let Some(l) = &s.load {
        parts.extend(format::facts(l));
    }
    parts.join(" · ")
}

/// The end of a load chart's time axis: the arrival phase and the drain, or the last sample if
/// later; never empty.
pub(crate) fn x_end(s: &RunSummary, points: &[series::Point]) -> f64 {
    let planned = s.load.as_ref().map_or(0.0, |l| l.duration + l.drain);
    let end = points.last().map_or(planned, |p| p.t1.max(planned));
    if end.is_finite() && end > 0.0 {
        end
    } else {
        1.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::chart::fixture::{png_size, svg_size};
    use crate::report::chart::{self, Format, LOAD_CHARTS};
    use crate::report::load::fixture;

    fn svg(name: &str, s: &RunSummary) -> String {
        String::from_utf8(chart::render(name, s, Format::Svg).unwrap()).unwrap()
    }

    #[test]
    fn every_load_chart_renders_svg_and_png_identically_twice() {
        for s in [fixture::summary(), fixture::empty()] {
            for c in LOAD_CHARTS {
                let svg = svg(c.name, s);
                assert!(svg.starts_with("<svg"), "{}", c.name);
                assert!(svg.contains(c.title), "{} lacks its title", c.name);
                let png = chart::render(c.name, s, Format::Png).unwrap();
                assert_eq!(png_size(&png), svg_size(&svg), "{}", c.name);
                let (w, h) = png_size(&png);
                assert!(w >= 800 && h >= 400, "{}: {w}x{h}", c.name);
                for format in [Format::Svg, Format::Png] {
                    assert!(
                        chart::render(c.name, s, format).unwrap()
                            == chart::render(c.name, s, format).unwrap(),
                        "{} {format} differs between renders",
                        c.name
                    );
                }
            }
        }
    }

    #[test]
    fn a_read_back_summary_renders_the_same_bytes() {
        let s = fixture::summary();
        let copy: RunSummary = serde_json::from_str(&serde_json::to_string(s).unwrap()).unwrap();
        for c in LOAD_CHARTS {
            assert_eq!(svg(c.name, s), svg(c.name, &copy), "{}", c.name);
        }
    }

    #[test]
    fn an_empty_series_or_no_load_test_draws_a_note() {
        for c in LOAD_CHARTS {
            let svg = svg(c.name, fixture::empty());
            assert!(
                svg.contains(NO_SAMPLES) || svg.contains("no samples"),
                "{}: no note",
                c.name
            );
            let svg = self::svg(c.name, crate::report::chart::fixture::summary());
            assert!(svg.contains(NO_LOAD), "{}: no note", c.name);
        }
    }

    #[test]
    fn the_subtitle_states_the_run() {
        let s = fixture::summary();
        assert_eq!(
            subtitle(s),
            "scenario report-fixture · 2 workers · speed x10 · 60.0 s + 3.0 s drain"
        );
        assert!(subtitle(fixture::empty()).ends_with(" · interrupted"));
        for c in LOAD_CHARTS {
            assert!(
                svg(c.name, s).contains("2 workers · speed x10"),
                "{}",
                c.name
            );
        }
    }

    #[test]
    fn a_hostile_scenario_name_is_escaped() {
        let mut s = fixture::summary().clone();
        s.scenario.name = "<b>&\"x\"</b>".to_owned();
        for c in LOAD_CHARTS {
            let svg = svg(c.name, &s);
            assert!(!svg.contains("<b>"), "{} leaks markup", c.name);
            assert!(svg.contains("&lt;b&gt;"), "{} lost the name", c.name);
            assert!(
                crate::report::html::inline_svg::checked(svg.as_bytes()).is_ok(),
                "{}",
                c.name
            );
        }
    }
}
