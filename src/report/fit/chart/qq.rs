//! A quantile-quantile plot of a route's latency: each of the 500 empirical quantiles (at
//! probability `(i + 0.5) / 500`) against the kept family's quantile at the same probability,
//! both on log axes over the same range, with the diagonal where a perfect fit lies. A point
//! above the diagonal is a share of the traffic slower than the model says; the far right is
//! the tail. Without a kept family (the empirical distribution stands in, which matches itself)
//! or without latency samples, a note.

use plotters::prelude::*;

use super::{centre, log_range, log_ticks, seconds_label, subtitle};
use crate::fit::model::RouteFit;
use crate::metrics::fit::Fitted;
use crate::report::chart::common::{
    self, Area, DESC_SIZE, FixedTicks, LABEL_SIZE, LegendItem, MARGIN, MAX_NAME, Swatch,
    X_LABEL_AREA, Y_LABEL_AREA,
};
use crate::report::chart::{ChartError, Format, Painter, render_with};
use crate::report::palette;

/// The note of a route whose empirical distribution was kept.
pub(crate) const NO_FAMILY: &str =
    "no family kept: the empirical distribution is used, so there is no model to compare";

const WIDTH: u32 = 1000;
const PLOT: u32 = 460;

pub(super) fn render(route: &RouteFit, k: usize, format: Format) -> Result<Vec<u8>, ChartError> {
    render_with(&Paint { route, k }, format)
}

fn point_colour() -> RGBColor {
    common::rgb(palette::PROVIDERS[0])
}
fn diagonal_colour() -> RGBColor {
    common::rgb(palette::INK)
}

fn legend(f: Option<&Fitted>) -> Vec<LegendItem> {
    let Some(f) = f else {
        return Vec::new();
    };
    vec![
        LegendItem::new(
            format!("observed quantile against the {} quantile", f.family),
            point_colour(),
            Swatch::Point,
        ),
        LegendItem::new("a perfect fit (diagonal)", diagonal_colour(), Swatch::Line),
    ]
}

fn notes(f: Option<&Fitted>, n: usize) -> Vec<String> {
    match f {
        Some(_) => vec![format!(
            "{n} points, at probabilities (i + 0.5) / {n}. Above the diagonal: slower than \
                 the model; the right end is the tail."
        )],
        None => Vec::new(),
    }
}

/// (log10 model quantile, log10 observed quantile) for every quantile both sides of which are
/// positive and finite.
fn points(f: &Fitted, quantiles: &[f64]) -> Vec<(f64, f64)> {
    let n = quantiles.len() as f64;
    quantiles
        .iter()
        .enumerate()
        .filter_map(|(i, &q)| {
            let m = f.quantile((i as f64 + 0.5) / n);
            (q.is_finite() && q > 0.0 && m.is_finite() && m > 0.0).then(|| (m.log10(), q.log10()))
        })
        .collect()
}

struct Paint<'a> {
    route: &'a RouteFit,
    k: usize,
}

impl Paint<'_> {
    fn fitted(&self) -> Option<&Fitted> {
        self.route.latency.as_ref().and_then(|l| l.fitted.as_ref())
    }

    fn n(&self) -> usize {
        self.route.latency.as_ref().map_or(0, |l| l.quantiles.len())
    }
}

impl Painter for Paint<'_> {
    fn size(&self) -> Result<(u32, u32), ChartError> {
        let legend = common::legend_height(WIDTH, &legend(self.fitted()))?;
        Ok((
            WIDTH,
            common::HEADER + legend + common::notes_height(&notes(self.fitted(), self.n())) + PLOT,
        ))
    }

    fn paint<DB: DrawingBackend>(&self, root: &Area<DB>) -> Result<(), ChartError> {
        let r = self.route;
        let title = format!(
            "Latency QQ plot: {} {}/{}",
            common::short(&r.provider, MAX_NAME),
            r.country,
            r.number_type
        );
        let fitted = self.fitted();
        let area = common::header_with(root, &title, &subtitle(r, self.k))?;
        let area = common::legend(&area, &legend(fitted))?;
        let area = common::notes(&area, &notes(fitted, self.n()))?;
        let xy = match (fitted, &r.latency) {
            (Some(f), Some(l)) => points(f, &l.quantiles),
            _ => Vec::new(),
        };
        let lo = xy
            .iter()
            .flat_map(|p| [p.0, p.1])
            .fold(f64::INFINITY, f64::min);
        let hi = xy
            .iter()
            .flat_map(|p| [p.0, p.1])
            .fold(f64::NEG_INFINITY, f64::max);
        let (lo, hi) = log_range(lo, hi);
        let axis = || FixedTicks {
            range: lo..hi,
            ticks: log_ticks(lo, hi),
        };
        let family = fitted.map_or("model", |f| f.family.name());
        let mut chart = ChartBuilder::on(&area)
            .margin(MARGIN)
            .margin_right(MARGIN * 2)
            .x_label_area_size(X_LABEL_AREA)
            .y_label_area_size(Y_LABEL_AREA + 8)
            .build_cartesian_2d(axis(), axis())?;
        chart
            .configure_mesh()
            .x_desc(format!("{family} quantile (log scale)"))
            .y_desc("observed quantile (log scale)")
            .x_label_formatter(&|u| seconds_label(*u))
            .y_label_formatter(&|u| seconds_label(*u))
            .label_style(common::text(LABEL_SIZE))
            .axis_desc_style(common::text(DESC_SIZE))
            .max_light_lines(0)
            .bold_line_style(RGBColor(215, 215, 215))
            .draw()?;
        if fitted.is_some() {
            chart.draw_series(DashedLineSeries::new(
                [(lo, lo), (hi, hi)],
                10,
                6,
                diagonal_colour().stroke_width(2),
            ))?;
        }
        chart.draw_series(
            xy.iter()
                .map(|&p| Circle::new(p, 3, point_colour().mix(0.8).filled())),
        )?;
        let note = match (&r.latency, fitted) {
            (None, _) => Some(super::latency::NO_LATENCY),
            (Some(_), None) => Some(NO_FAMILY),
            (Some(_), Some(_)) if xy.is_empty() => Some("no positive latency among the quantiles"),
            _ => None,
        };
        if let Some(note) = note {
            common::note(&area, note, centre(&chart, &area))?;
        }
        Ok(())
    }
}
