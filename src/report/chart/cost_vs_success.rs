//! The trade-off: cost per successful verification against success rate, one labelled point
//! per policy. Lower right is better (more successes, cheaper each).
//!
//! Cost per success counts every billed attempt, duplicates included, over delivered
//! verifications (DESIGN.md section 5); a policy without any success has no cost per success and
//! is listed under the plot instead of drawn. Labels are placed next to their point where they
//! overlap neither another label nor a point.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::common::{self, Area, DESC_SIZE, LABEL_SIZE, MARGIN, MAX_NAME, Swatch, X_LABEL_AREA};
use super::{ChartError, Format, Painter, render_with};
use crate::metrics::RunSummary;
use crate::report::palette;

pub(super) const TITLE: &str = "Cost per success against success rate";

const SIZE: (u32, u32) = (1000, 560);
/// The y labels are costs with four decimals: wider than the default label area.
const Y_LABEL_AREA: u32 = 92;

pub fn render(summary: &RunSummary, format: Format) -> Result<Vec<u8>, ChartError> {
    render_with(&Paint(summary), format)
}

/// (policy index, success rate %, cost per success) of the policies that have both.
fn points(summary: &RunSummary) -> Vec<(usize, f64, f64)> {
    summary
        .policies
        .iter()
        .enumerate()
        .filter_map(|(i, p)| {
            let m = &p.result.metrics;
            m.cost_per_success
                .filter(|_| m.verifications > 0)
                .map(|c| (i, 100.0 * m.success_rate, c))
        })
        .collect()
}

type Box2 = (i32, i32, i32, i32);

fn overlaps(a: Box2, b: Box2) -> bool {
    a.0 < b.2 && b.0 < a.2 && a.1 < b.3 && b.1 < a.3
}

struct Paint<'a>(&'a RunSummary);

impl Painter for Paint<'_> {
    fn size(&self) -> Result<(u32, u32), ChartError> {
        Ok(SIZE)
    }

    fn paint<DB: DrawingBackend>(&self, root: &Area<DB>) -> Result<(), ChartError> {
        let s = self.0;
        let area = common::header(root, TITLE, s)?;
        let area = common::legend(&area, &common::policy_items(s, Swatch::Point))?;
        let pts = points(s);
        let missing: Vec<String> = s
            .policies
            .iter()
            .enumerate()
            .filter(|(i, _)| !pts.iter().any(|p| p.0 == *i))
            .map(|(_, p)| common::short(&p.name, MAX_NAME))
            .collect();
        let (area, foot) = if missing.is_empty() {
            (area, None)
        } else {
            let h = area.dim_in_pixel().1;
            let (a, f) = area.split_vertically(h.saturating_sub(26));
            (a, Some(f))
        };

        let (x0, x1) = common::padded(pts.iter().map(|p| p.1), 0.5, 0.0);
        let x1 = x1.min(100.0 + (x1 - x0) * 0.05);
        let mean_cost = if pts.is_empty() {
            0.1
        } else {
            pts.iter().map(|p| p.2).sum::<f64>() / pts.len() as f64
        };
        let (y0, y1) = common::padded(pts.iter().map(|p| p.2), (mean_cost * 0.05).max(1e-4), 0.0);
        let mut chart = ChartBuilder::on(&area)
            .margin(MARGIN)
            .margin_right(MARGIN * 2)
            .x_label_area_size(X_LABEL_AREA)
            .y_label_area_size(Y_LABEL_AREA)
            .build_cartesian_2d(x0..x1, y0..y1)?;
        chart
            .configure_mesh()
            .x_desc("success rate (%)")
            .y_desc("cost per success (cost units)")
            .x_label_formatter(&|v| common::tick(*v))
            .y_label_formatter(&|v| format!("{v:.4}"))
            .label_style(common::text(LABEL_SIZE))
            .axis_desc_style(common::text(DESC_SIZE))
            .max_light_lines(0)
            .bold_line_style(RGBColor(215, 215, 215))
            .draw()?;

        let (px, py) = chart.plotting_area().get_pixel_range();
        let (bx, by) = area.get_base_pixel();
        let plot: Box2 = (px.start - bx, py.start - by, px.end - bx, py.end - by);
        area.draw_text(
            "better: lower right",
            &common::muted(LABEL_SIZE).pos(Pos::new(HPos::Right, VPos::Bottom)),
            (plot.2 - 8, plot.3 - 8),
        )?;

        // Points first (so labels avoid all of them), then labels.
        let centres: Vec<(i32, i32)> = pts
            .iter()
            .map(|&(_, x, y)| {
                let (cx, cy) = chart.backend_coord(&(x, y));
                (cx - bx, cy - by)
            })
            .collect();
        for (&(i, x, y), _) in pts.iter().zip(&centres) {
            let color = common::rgb(palette::policy(i));
            chart.draw_series(std::iter::once(Circle::new((x, y), 7, color.filled())))?;
            chart.draw_series(std::iter::once(Circle::new(
                (x, y),
                7,
                BLACK.stroke_width(1),
            )))?;
        }
        let mut taken: Vec<Box2> = centres
            .iter()
            .map(|&(cx, cy)| (cx - 8, cy - 8, cx + 8, cy + 8))
            .collect();
        // The corner note is taken too.
        taken.push((plot.2 - 200, plot.3 - 30, plot.2, plot.3));
        let style = common::text(LABEL_SIZE);
        for (&(i, _, _), &(cx, cy)) in pts.iter().zip(&centres) {
            let name = common::short(&s.policies[i].name, MAX_NAME);
            let (w, h) = area.estimate_text_size(&name, &style)?;
            let (w, h) = (w as i32, h as i32);
            // Candidate top-left corners: right, left, above, below, then further out.
            let candidates = [
                (cx + 12, cy - h / 2),
                (cx - 12 - w, cy - h / 2),
                (cx - w / 2, cy - 12 - h),
                (cx - w / 2, cy + 12),
                (cx + 12, cy - h - 10),
                (cx + 12, cy + 10),
                (cx - 12 - w, cy - h - 10),
                (cx - 12 - w, cy + 10),
                (cx - w / 2, cy - 30 - h),
                (cx - w / 2, cy + 30),
            ];
            let fits = |&(x, y): &(i32, i32)| {
                let b = (x, y, x + w, y + h);
                b.0 >= plot.0
                    && b.2 <= plot.2
                    && b.1 >= plot.1
                    && b.3 <= plot.3
                    && !taken.iter().any(|t| overlaps(*t, b))
            };
            let (x, y) = candidates
                .iter()
                .copied()
                .find(fits)
                .unwrap_or(candidates[0]);
            taken.push((x, y, x + w, y + h));
            area.draw_text(&name, &style.pos(Pos::new(HPos::Left, VPos::Top)), (x, y))?;
        }
        if pts.is_empty() {
            common::note(
                &area,
                "no policy delivered any verification",
                ((plot.0 + plot.2) / 2, (plot.1 + plot.3) / 2),
            )?;
        }
        if let Some(foot) = foot {
            foot.draw_text(
                &format!(
                    "not shown (no success, no cost per success): {}",
                    missing.join(", ")
                ),
                &common::muted(LABEL_SIZE).pos(Pos::new(HPos::Left, VPos::Top)),
                ((MARGIN + Y_LABEL_AREA) as i32, 2),
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_policy_without_success_is_listed_not_drawn() {
        let mut s = crate::report::chart::fixture::summary().clone();
        s.policies[1].result.metrics.cost_per_success = None;
        assert_eq!(points(&s).len(), 1);
        let svg = String::from_utf8(render(&s, Format::Svg).unwrap()).unwrap();
        assert!(svg.contains("not shown"), "{svg}");
    }
}
