//! Charts of one run: pure functions from a [`RunSummary`] to SVG or PNG bytes.
//!
//! One chart a file, each `render(&RunSummary, Format) -> Result<Vec<u8>, ChartError>`;
//! [`render`] finds one by name and [`charts_for`] lists those a summary has, in the order the
//! report shows them. Exporters return bytes: whoever calls them decides where the bytes go (the
//! CLI writes files, the HTML page inlines the SVG).
//!
//! # Which charts a summary has
//!
//! [`CHARTS`], the five charts of one run, are drawn for every summary (of a replicated run they
//! show replication 0, the scenario seed, which `RunSummary::policies` holds in full). The two
//! charts of a replicated run (`--seeds N`, N > 1) are drawn only when the summary has what
//! they show: [`FOREST`] (the paired differences from the baseline) when `comparisons` is not
//! empty, [`SPREAD`] (every seed's value) when `replications` is not. [`charts_for`] is the
//! one list to draw and write: for a single seed it is exactly [`CHARTS`], so a single-seed run
//! writes the same files as before. (Rendering `forest` or `spread` by name for a single seed
//! is not an error; it draws a note saying there is nothing to show.) A load test
//! (`failover-lab load`, `summary.load` present) adds [`LOAD_CHARTS`], drawn by
//! [`super::load::chart`]; every other summary never lists them (by name they draw a note).
//!
//! # Why it is shaped so
//!
//! - **No system fonts.** plotters' default `ttf` feature needs fontconfig and system fonts; a
//!   binary linked against it does not even start without libfontconfig. The lab uses the
//!   `ab_glyph` feature instead and registers a bundled DejaVu Sans (`assets/fonts/`, Bitstream
//!   Vera licence) under the family name every chart uses, [`FONT`]. SVG keeps text as text
//!   (`font-family="sans-serif"`), so the font only measures labels there; PNG rasterises it.
//! - **Deterministic.** The same summary gives byte-identical output: no timestamps, no random
//!   ids, no hash-map order; every series is drawn in summary order.
//! - **Bounded size.** Time series are merged into at most [`MAX_POINTS`] points per series (sums
//!   of consecutive buckets, so rates stay exact), whatever the run length. Large tables are
//!   summarised, whatever their size: `route_states` draws at most 40 rows a policy (the worst
//!   routes, then the others by group or in one row), `provider_share` stacks at most 12
//!   providers (the 11 with the most attempts, then the others in one band); the full data is in
//!   `route_states.csv` and `timeseries.csv`.
//! - **Consistent colours** come from [`super::palette`]: a policy by its index in
//!   `summary.policies`, a provider by its index in `scenario.providers`.

pub(crate) mod common;
mod cost_vs_success;
mod forest;
mod provider_share;
mod route_states;
mod spread;
mod success_rate;
mod ttv_percentiles;

#[cfg(test)]
pub(crate) mod fixture;

use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;

use plotters::prelude::*;
use plotters::style::FontStyle;

use super::load;
use crate::metrics::{HistogramError, RunSummary};

/// The font family every chart draws with; the bundled font is registered under it.
pub const FONT: &str = "sans-serif";

/// Time series are drawn with at most this many points per series.
pub const MAX_POINTS: usize = 600;

/// Output format of a chart.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    /// Scalable, text stays text; what the HTML report inlines.
    Svg,
    /// 8-bit RGB PNG, rasterised with the bundled font.
    Png,
}

impl Format {
    /// The file extension without the dot: `svg` or `png`.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Svg => "svg",
            Format::Png => "png",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.extension())
    }
}

impl FromStr for Format {
    type Err = ChartError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "svg" => Ok(Format::Svg),
            "png" => Ok(Format::Png),
            _ => Err(ChartError::UnknownFormat(s.to_string())),
        }
    }
}

/// One chart the report can draw.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Chart {
    /// Stable identifier, also the file stem (`success_rate.svg`).
    pub name: &'static str,
    /// The heading it is shown under.
    pub title: &'static str,
}

impl Chart {
    /// `<name>.<extension>`.
    pub fn file_name(&self, format: Format) -> String {
        format!("{}.{}", self.name, format.extension())
    }

    /// Renders this chart.
    pub fn render(&self, summary: &RunSummary, format: Format) -> Result<Vec<u8>, ChartError> {
        render(self.name, summary, format)
    }
}

/// Every chart, in the order the report shows them.
pub const CHARTS: [Chart; 5] = [
    Chart {
        name: "success_rate",
        title: success_rate::TITLE,
    },
    Chart {
        name: "provider_share",
        title: provider_share::TITLE,
    },
    Chart {
        name: "ttv_percentiles",
        title: ttv_percentiles::TITLE,
    },
    Chart {
        name: "route_states",
        title: route_states::TITLE,
    },
    Chart {
        name: "cost_vs_success",
        title: cost_vs_success::TITLE,
    },
];

/// A route's states over the run as `(start, end, state)` spans, seconds, from healthy at 0 to
/// the run's end: what the route-states chart draws and `route_states.csv` lists.
pub use route_states::spans as route_spans;

/// Forest plot of a replicated run's comparisons: each policy's paired difference from the
/// baseline per headline metric, its interval and verdict (`forest.svg`, `forest.png`).
pub const FOREST: Chart = Chart {
    name: "forest",
    title: forest::TITLE,
};

/// Strip plot of a replicated run: every seed's success rate, TTV p99 and cost per success per
/// policy, with the mean (`spread.svg`, `spread.png`).
pub const SPREAD: Chart = Chart {
    name: "spread",
    title: spread::TITLE,
};

/// A load test's arrival, achieved and completed rates over wall time, with the arrivals
/// dropped per interval (`load_rate.svg`, `load_rate.png`).
pub const LOAD_RATE: Chart = Chart {
    name: "load_rate",
    title: load::chart::rate::TITLE,
};

/// A load test's verifications in flight over wall time, with the in-flight cap
/// (`load_in_flight.svg`, `load_in_flight.png`).
pub const LOAD_IN_FLIGHT: Chart = Chart {
    name: "load_in_flight",
    title: load::chart::in_flight::TITLE,
};

/// A load test's decision, router overhead and issue lag percentiles (`load_overhead.svg`,
/// `load_overhead.png`).
pub const LOAD_OVERHEAD: Chart = Chart {
    name: "load_overhead",
    title: load::chart::overhead::TITLE,
};

/// The charts of a load test (`failover-lab load`), in the order its section shows them.
pub const LOAD_CHARTS: [Chart; 3] = [LOAD_RATE, LOAD_IN_FLIGHT, LOAD_OVERHEAD];

/// The charts `summary` has, in the order the report shows them: [`CHARTS`], then [`FOREST`]
/// when it has comparisons and [`SPREAD`] when it has replications (two or more seeds), then
/// [`LOAD_CHARTS`] when it has a load test. For a single seed without a load test exactly
/// [`CHARTS`]. What the CLI draws and writes.
pub fn charts_for(summary: &RunSummary) -> Vec<Chart> {
    let mut out = CHARTS.to_vec();
    if !summary.comparisons.is_empty() {
        out.push(FOREST);
    }
    if !summary.replications.is_empty() {
        out.push(SPREAD);
    }
    if summary.load.is_some() {
        out.extend(LOAD_CHARTS);
    }
    out
}

/// Renders the chart called `name` (one of [`CHARTS`], [`FOREST`], [`SPREAD`],
/// [`LOAD_CHARTS`]).
pub fn render(name: &str, summary: &RunSummary, format: Format) -> Result<Vec<u8>, ChartError> {
    match name {
        "success_rate" => success_rate::render(summary, format),
        "provider_share" => provider_share::render(summary, format),
        "ttv_percentiles" => ttv_percentiles::render(summary, format),
        "route_states" => route_states::render(summary, format),
        "cost_vs_success" => cost_vs_success::render(summary, format),
        "forest" => forest::render(summary, format),
        "spread" => spread::render(summary, format),
        "load_rate" => load::chart::rate::render(summary, format),
        "load_in_flight" => load::chart::in_flight::render(summary, format),
        "load_overhead" => load::chart::overhead::render(summary, format),
        _ => Err(ChartError::UnknownChart(name.to_string())),
    }
}

/// A chart that could not be drawn.
#[derive(Debug, thiserror::Error)]
pub enum ChartError {
    #[error(
        "unknown chart {0:?}; charts are success_rate, provider_share, ttv_percentiles, route_states, cost_vs_success, forest, spread, load_rate, load_in_flight, load_overhead"
    )]
    UnknownChart(String),
    #[error("unknown chart format {0:?}; use svg or png")]
    UnknownFormat(String),
    #[error("policy {policy:?}: time-to-verify histogram: {source}")]
    Histogram {
        policy: String,
        #[source]
        source: HistogramError,
    },
    #[error("the bundled chart font could not be loaded (assets/fonts/DejaVuSans.ttf)")]
    Font,
    #[error("drawing failed: {0}")]
    Draw(String),
    #[error("PNG encoding failed: {0}")]
    Png(#[from] png::EncodingError),
}

impl<E: std::error::Error + Send + Sync> From<DrawingAreaErrorKind<E>> for ChartError {
    fn from(e: DrawingAreaErrorKind<E>) -> Self {
        ChartError::Draw(e.to_string())
    }
}

impl From<super::palette::Rgb> for RGBColor {
    fn from(c: super::palette::Rgb) -> Self {
        RGBColor(c.0, c.1, c.2)
    }
}

/// The bundled font: DejaVu Sans (Bitstream Vera licence, see `assets/fonts/`).
static FONT_BYTES: &[u8] = include_bytes!("../../../assets/fonts/DejaVuSans.ttf");

/// Registers the bundled font under [`FONT`] once per process. Every chart needs it, SVG
/// included: plotters measures text with it to lay out labels.
fn ensure_font() -> Result<(), ChartError> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    // Other styles (bold titles) fall back to the normal face in PNG; SVG leaves them to the
    // viewer.
    let ok = *REGISTERED.get_or_init(|| {
        plotters::style::register_font(FONT, FontStyle::Normal, FONT_BYTES).is_ok()
    });
    if ok { Ok(()) } else { Err(ChartError::Font) }
}

/// Draws a chart on any backend: the one generic step between a chart and its bytes.
pub(crate) trait Painter {
    /// Pixel size of the whole image (may measure text: the font is registered by then).
    fn size(&self) -> Result<(u32, u32), ChartError>;
    fn paint<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, plotters::coord::Shift>,
    ) -> Result<(), ChartError>;
}

pub(crate) fn render_with(painter: &impl Painter, format: Format) -> Result<Vec<u8>, ChartError> {
    ensure_font()?;
    let (w, h) = painter.size()?;
    match format {
        Format::Svg => {
            let mut svg = String::new();
            {
                let root = SVGBackend::with_string(&mut svg, (w, h)).into_drawing_area();
                root.fill(&WHITE)?;
                painter.paint(&root)?;
                root.present()?;
            }
            Ok(svg.into_bytes())
        }
        Format::Png => {
            let mut rgb = vec![0u8; w as usize * h as usize * 3];
            {
                let root = BitMapBackend::with_buffer(&mut rgb, (w, h)).into_drawing_area();
                root.fill(&WHITE)?;
                painter.paint(&root)?;
                root.present()?;
            }
            encode_png(&rgb, w, h)
        }
    }
}

fn encode_png(rgb: &[u8], w: u32, h: u32) -> Result<Vec<u8>, ChartError> {
    let mut out = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut out, w, h);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header()?;
        writer.write_image_data(rgb)?;
        writer.finish()?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::fixture;
    use super::fixture::{png_size, svg_size};
    use super::*;

    fn svg(name: &str, summary: &RunSummary) -> String {
        String::from_utf8(render(name, summary, Format::Svg).unwrap()).unwrap()
    }

    #[test]
    fn every_listed_chart_renders_svg_with_its_title() {
        let s = fixture::summary();
        for chart in CHARTS {
            let svg = svg(chart.name, s);
            assert!(svg.starts_with("<svg"), "{}", chart.name);
            assert!(svg.contains(chart.title), "{} lacks its title", chart.name);
        }
    }

    #[test]
    fn every_chart_renders_a_png_of_its_size_without_system_fonts() {
        // ab_glyph with the bundled font: no fontconfig involved. A missing font would fail
        // with FontUnavailable as soon as the first label is measured.
        let s = fixture::summary();
        for chart in CHARTS {
            let png = render(chart.name, s, Format::Png).unwrap();
            let (w, h) = png_size(&png);
            let svg = svg(chart.name, s);
            let expected = svg_size(&svg);
            assert_eq!((w, h), expected, "{}", chart.name);
            assert!(w >= 800 && h >= 400, "{}: {w}x{h}", chart.name);
        }
    }

    #[test]
    fn png_titles_are_rasterised_with_the_bundled_font() {
        // Dark pixels in the title band: the glyphs were drawn, not just measured.
        let png = render("success_rate", fixture::summary(), Format::Png).unwrap();
        let decoder = png::Decoder::new(png.as_slice());
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size()];
        let frame = reader.next_frame(&mut buf).unwrap();
        assert_eq!(frame.color_type, png::ColorType::Rgb);
        let title_rows = &buf[..frame.line_size * 38];
        let dark = title_rows
            .chunks(3)
            .filter(|p| p.iter().all(|&c| c < 0x60))
            .count();
        assert!(dark > 300, "only {dark} dark pixels where the title is");
    }

    #[test]
    fn rendering_twice_gives_identical_bytes() {
        let s = fixture::summary();
        for chart in CHARTS {
            for format in [Format::Svg, Format::Png] {
                let a = render(chart.name, s, format).unwrap();
                let b = render(chart.name, s, format).unwrap();
                assert!(a == b, "{} {format} differs between renders", chart.name);
            }
        }
    }

    #[test]
    fn a_cloned_summary_renders_identically() {
        // Nothing depends on addresses or process state.
        let s = fixture::summary();
        let copy: RunSummary = serde_json::from_str(&serde_json::to_string(s).unwrap()).unwrap();
        for chart in CHARTS {
            assert_eq!(
                render(chart.name, s, Format::Svg).unwrap(),
                render(chart.name, &copy, Format::Svg).unwrap(),
                "{}",
                chart.name
            );
        }
    }

    #[test]
    fn legends_name_every_policy_and_provider() {
        let s = fixture::summary();
        for chart in ["success_rate", "ttv_percentiles", "cost_vs_success"] {
            let svg = svg(chart, s);
            for p in &s.policies {
                assert!(svg.contains(&p.name), "{chart} lacks policy {}", p.name);
            }
        }
        let share = svg("provider_share", s);
        for provider in &s.scenario.providers {
            assert!(share.contains(provider.as_str()), "no provider {provider}");
        }
        for p in &s.policies {
            assert!(share.contains(&p.name), "no panel for {}", p.name);
        }
        let states = svg("route_states", s);
        for label in ["healthy", "probing", "ejected", "panic"] {
            assert!(states.contains(label), "route_states legend lacks {label}");
        }
        for route in &s.scenario.routes {
            assert!(states.contains(route.as_str()), "no row for {route}");
        }
    }

    #[test]
    fn fault_windows_are_labelled_on_time_charts() {
        let s = fixture::summary();
        for chart in ["success_rate", "provider_share", "route_states"] {
            let svg = svg(chart, s);
            for f in &s.scenario.faults {
                assert!(svg.contains(&f.name), "{chart} lacks fault {}", f.name);
            }
        }
    }

    #[test]
    fn names_are_escaped_in_svg() {
        let mut s = fixture::summary().clone();
        s.policies[0].name = "<b>&\"x\"</b>".to_string();
        for chart in CHARTS {
            let svg = svg(chart.name, &s);
            assert!(!svg.contains("<b>"), "{} leaks markup", chart.name);
        }
    }

    #[test]
    fn an_empty_summary_still_renders() {
        // No policies, no faults: axes and titles, no panic.
        let mut s = fixture::summary().clone();
        s.policies.clear();
        s.scenario.faults.clear();
        for chart in CHARTS {
            for format in [Format::Svg, Format::Png] {
                render(chart.name, &s, format)
                    .unwrap_or_else(|e| panic!("{} {format}: {e}", chart.name));
            }
        }
    }

    #[test]
    fn a_single_seed_has_exactly_the_five_charts() {
        assert_eq!(charts_for(fixture::summary()), CHARTS.to_vec());
    }

    #[test]
    fn a_replicated_run_adds_the_forest_and_spread_charts() {
        let s = fixture::replicated();
        let mut expect = CHARTS.to_vec();
        expect.extend([FOREST, SPREAD]);
        assert_eq!(charts_for(s), expect);
        // Each only with what it shows.
        let mut only_reps = s.clone();
        only_reps.comparisons.clear();
        assert_eq!(charts_for(&only_reps).last(), Some(&SPREAD));
        assert!(!charts_for(&only_reps).contains(&FOREST));
        let mut only_cmp = s.clone();
        only_cmp.replications.clear();
        assert_eq!(charts_for(&only_cmp).last(), Some(&FOREST));
        assert_eq!(FOREST.file_name(Format::Png), "forest.png");
        assert_eq!(SPREAD.file_name(Format::Svg), "spread.svg");
    }

    #[test]
    fn replicated_charts_render_png_of_their_size_svg_with_their_title_deterministically() {
        // Without system fonts, like the others: the bundled font measures and draws.
        let s = fixture::replicated();
        for chart in charts_for(s) {
            let svg = svg(chart.name, s);
            assert!(svg.starts_with("<svg"), "{}", chart.name);
            assert!(svg.contains(chart.title), "{} lacks its title", chart.name);
            let png = render(chart.name, s, Format::Png).unwrap();
            assert_eq!(png_size(&png), svg_size(&svg), "{}", chart.name);
            let (w, h) = png_size(&png);
            assert!(w >= 800 && h >= 400, "{}: {w}x{h}", chart.name);
            for format in [Format::Svg, Format::Png] {
                assert!(
                    render(chart.name, s, format).unwrap()
                        == render(chart.name, s, format).unwrap(),
                    "{} {format} differs between renders",
                    chart.name
                );
            }
        }
        let copy: RunSummary = serde_json::from_str(&serde_json::to_string(s).unwrap()).unwrap();
        for chart in [FOREST, SPREAD] {
            assert_eq!(
                render(chart.name, s, Format::Svg).unwrap(),
                render(chart.name, &copy, Format::Svg).unwrap(),
                "{}",
                chart.name
            );
        }
    }

    #[test]
    fn replicated_charts_escape_names() {
        let mut s = fixture::replicated().clone();
        let hostile = "<b>&\"x\"</b>";
        for r in &mut s.replications {
            if r.policy == "sensible" {
                r.policy = hostile.to_string();
            }
        }
        for c in &mut s.comparisons {
            if c.policy == "sensible" {
                c.policy = hostile.to_string();
            }
        }
        s.scenario.faults[1].name = "<i>f</i>".to_string();
        for c in &mut s.comparisons {
            c.metric = c.metric.replace("c-flapping", "<i>f</i>");
        }
        s.policies[0].name = hostile.to_string();
        for chart in [FOREST, SPREAD] {
            let svg = svg(chart.name, &s);
            assert!(
                !svg.contains("<b>") && !svg.contains("<i>"),
                "{} leaks markup",
                chart.name
            );
            assert!(svg.contains("&lt;b&gt;"), "{} lost the name", chart.name);
        }
    }

    #[test]
    fn only_a_load_test_adds_the_load_charts() {
        assert!(
            charts_for(fixture::replicated())
                .iter()
                .all(|c| !LOAD_CHARTS.contains(c))
        );
        let mut expect = CHARTS.to_vec();
        expect.extend(LOAD_CHARTS);
        assert_eq!(charts_for(crate::report::load::fixture::summary()), expect);
        assert_eq!(LOAD_RATE.file_name(Format::Png), "load_rate.png");
        let e = render("pie", fixture::summary(), Format::Svg).unwrap_err();
        assert!(e.to_string().contains("load_overhead"), "{e}");
    }

    #[test]
    fn unknown_names_and_formats_are_errors_that_list_the_choices() {
        let e = render("pie", fixture::summary(), Format::Svg).unwrap_err();
        assert!(e.to_string().contains("success_rate"), "{e}");
        assert_eq!("PNG".parse::<Format>().unwrap(), Format::Png);
        assert!("jpg".parse::<Format>().is_err());
        assert_eq!(CHARTS[0].file_name(Format::Svg), "success_rate.svg");
    }
}
