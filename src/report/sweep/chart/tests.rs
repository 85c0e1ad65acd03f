use super::*;
use crate::experiment::sweep::{Value, grid as grid_plan};
use crate::report::chart::fixture::{png_size, svg_size};
use crate::report::html::inline_svg;
use crate::report::sweep::fixture;

fn svg(c: &SweepChart, s: &SweepSummary) -> String {
    String::from_utf8(c.render(s, Format::Svg).unwrap()).unwrap()
}

#[test]
fn every_chart_of_every_shape_renders_both_formats_deterministically_and_inlines() {
    for (name, s) in fixture::all() {
        let charts = charts_for(&s);
        assert!(!charts.is_empty(), "{name}");
        for c in &charts {
            let what = format!("{name} {}", c.stem);
            let a = c.render(&s, Format::Svg).unwrap();
            let b = c.render(&s, Format::Svg).unwrap();
            assert!(a == b, "{what}: SVG differs between renders");
            let text = String::from_utf8(a.clone()).unwrap();
            inline_svg::checked(&a).unwrap_or_else(|e| panic!("{what}: {e}"));
            assert!(
                text.contains(&c.title.replace('&', "&amp;")),
                "{what} lacks its title"
            );
            let png = c.render(&s, Format::Png).unwrap();
            assert!(
                png == c.render(&s, Format::Png).unwrap(),
                "{what}: PNG differs between renders"
            );
            assert_eq!(png_size(&png), svg_size(&text), "{what}");
            let (w, h) = png_size(&png);
            assert!(w >= 800 && h >= 500, "{what}: {w}x{h}");
        }
    }
}

#[test]
fn each_shape_gets_its_charts_with_stable_stems() {
    let stems =
        |s: &SweepSummary| -> Vec<String> { charts_for(s).into_iter().map(|c| c.stem).collect() };
    // Objectives, then constrained metrics that are no objective (none here), then the Pareto.
    assert_eq!(
        stems(&fixture::one_d()),
        [
            "line_success_rate",
            "line_cost_per_success",
            "line_ttv_p99",
            "line_flaps",
            "pareto"
        ]
    );
    assert_eq!(
        stems(&fixture::grid_3d()),
        [
            "heatmap_success_rate",
            "heatmap_cost_per_success",
            "heatmap_ttv_p99",
            "heatmap_flaps",
            "pareto"
        ]
    );
    assert!(stems(&fixture::lhs())[0] == "scatter_success_rate");
    let c = &charts_for(&fixture::grid_2d())[0];
    assert_eq!(c.file_name(Format::Png), "heatmap_success_rate.png");
    assert!(matches!(&c.kind, SweepChartKind::Heatmap(m) if m.key == "success_rate"));
}

#[test]
fn a_constrained_metric_that_is_no_objective_is_charted_too() {
    let mut s = fixture::grid_2d();
    s.objectives.truncate(1);
    s.constraints[0].key = "ejections".into();
    s.constraints[0].metric = "ejections".into();
    let stems: Vec<String> = charts_for(&s).into_iter().map(|c| c.stem).collect();
    assert_eq!(
        stems,
        ["heatmap_success_rate", "heatmap_ejections", "pareto"]
    );
}

#[test]
fn stems_from_hostile_metric_names_are_safe_and_unique() {
    let mut s = fixture::one_d();
    s.objectives[1].key = "../../etc/passwd x".into();
    s.objectives[2].key = "__/__/etc/passwd_x".into();
    let charts = charts_for(&s);
    let stems: Vec<&str> = charts.iter().map(|c| c.stem.as_str()).collect();
    assert_eq!(stems[1], "line_______etc_passwd_x");
    assert_eq!(stems[2], "line_______etc_passwd_x_2");
    for c in &charts {
        assert!(
            c.stem
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'),
            "{}",
            c.stem
        );
    }
    let long = "x".repeat(500);
    assert_eq!(stem_part(&long).len(), MAX_STEM);
}

#[test]
fn heatmaps_fix_the_other_parameters_at_the_recommendation_else_the_base_else_the_first() {
    let s = fixture::grid_3d();
    let rec = s.recommended().unwrap();
    let fixed = fixed_parameters(&s);
    assert_eq!(fixed.len(), 1);
    assert_eq!(fixed[0].by, FixedBy::Recommendation);
    assert_eq!(fixed[0].value, rec.values[2]);
    let text = format!(
        "probe.share fixed at {} (the recommendation)",
        rec.values[2]
    );
    assert_eq!(fixed[0].describe(), text);
    for c in charts_for(&s) {
        if matches!(c.kind, SweepChartKind::Heatmap(_)) {
            assert!(c.caption.contains(&text), "{}", c.caption);
            assert!(svg(&c, &s).contains(&text), "{} does not say it", c.stem);
        }
    }

    // Nothing recommended: the base policy's value, one of the levels.
    let mut s = fixture::no_feasible();
    assert!(s.recommended().is_none());
    let fixed = fixed_parameters(&s);
    assert_eq!(fixed[0].by, FixedBy::Base);
    assert_eq!(fixed[0].value, Value::Number(0.1));
    assert!(
        charts_for(&s)[0]
            .caption
            .contains("probe.share fixed at 0.1 (the base policy's value)")
    );
    // A base value that is no level, or none: the first level.
    s.parameters[2].base = Some(Value::Number(0.15));
    assert_eq!(fixed_parameters(&s)[0].by, FixedBy::FirstLevel);
    s.parameters[2].base = None;
    let fixed = fixed_parameters(&s);
    assert_eq!(
        (fixed[0].by, &fixed[0].value),
        (FixedBy::FirstLevel, &Value::Number(0.05))
    );
    // Two parameters: nothing to fix.
    assert!(fixed_parameters(&fixture::grid_2d()).is_empty());
}

#[test]
fn the_heatmap_labels_each_cell_and_outlines_the_recommendation() {
    let s = fixture::grid_2d();
    let c = &charts_for(&s)[0];
    let text = svg(c, &s);
    // Six cells, each with its value as the terminal writes it.
    for p in &s.points {
        let v = crate::report::replicated::value(
            "success_rate",
            p.mean("success_rate").unwrap(),
            Style::Terminal,
        );
        assert!(text.contains(&v), "no label {v}");
    }
    assert!(
        text.contains("better") && text.contains("worse"),
        "the colour bar"
    );
    assert!(text.contains("Outlined: the recommended point."));
}

#[test]
fn large_grids_drop_cell_labels_and_thin_axis_labels() {
    // 100 x 100 = 10,000 points, the most a sweep may have.
    let plan = grid_plan(vec![
        fixture::vary("trip.failure_rate=0.01..0.99:100"),
        fixture::vary("ejection.base=1s..100s:100"),
    ])
    .unwrap();
    let s = fixture::build(&plan, 2, &[]);
    let c = &charts_for(&s)[0];
    let text = svg(c, &s);
    assert!(text.contains("Cells too small to label"));
    assert!(text.matches("<rect").count() >= 10_000);
    assert!(text.len() < 1_500_000, "{} bytes", text.len());
    // Far fewer than 100 labels along each axis.
    let x = ParamAxis::slots(&s, 0);
    let ticks = x.ticks(100, 900, false, 16.0).unwrap();
    assert!(ticks.len() > 5 && ticks.len() < 40, "{}", ticks.len());
    let y = ParamAxis::slots(&s, 1);
    let ticks = y.ticks(500, 20, true, 16.0).unwrap();
    assert!(ticks.len() > 5 && ticks.len() < 30, "{}", ticks.len());
    let png = c.render(&s, Format::Png).unwrap();
    assert_eq!(png_size(&png), svg_size(&text));
}

#[test]
fn axes_follow_the_parameter() {
    let s = fixture::one_d();
    let x = ParamAxis::of(&s, 0);
    assert!(x.is_log() && !x.is_slots());
    assert!(x.desc().ends_with("(log scale)"));
    // Ticks at the levels, positions in log10.
    let ticks = x.candidate_ticks();
    assert_eq!(ticks[0].1, "0.05");
    assert!((ticks[0].0 - 0.05f64.log10()).abs() < 1e-12);
    let names = fixture::one_d_names();
    let x = ParamAxis::of(&names, 0);
    assert!(x.is_slots() && !x.ordered());
    assert_eq!(x.pos(&Value::Name("score".into())), Some(2.0));
    // `off` among durations: one slot per value, still ordered.
    let plan = grid_plan(vec![fixture::vary("trip.latency=off,15s,20s")]).unwrap();
    let s = fixture::build(&plan, 2, &[]);
    let x = ParamAxis::of(&s, 0);
    assert!(x.is_slots() && x.ordered());
    assert_eq!(x.candidate_ticks()[0].1, "off");
    // A Latin hypercube over a duration range: round ticks between the ends.
    let s = fixture::lhs();
    let y = ParamAxis::of(&s, 1);
    assert!(y.is_log());
    let labels: Vec<String> = y.candidate_ticks().into_iter().map(|t| t.1).collect();
    assert!(labels.contains(&"10s".to_owned()), "{labels:?}");
}

#[test]
fn nice_ticks_and_axis_values() {
    let (t, step) = nice_ticks(0.991, 0.9995, 6);
    assert_eq!(step, 0.002);
    assert_eq!(t.first().copied(), Some(0.992));
    assert_eq!(axis_value("success_rate", 0.992, step), "99.2%");
    assert_eq!(axis_value("ttv_p99", 12.5, 0.5), "12.5s");
    assert_eq!(axis_value("cost_per_success", 0.07, 0.01), "0.07");
    assert_eq!(axis_value("cost_per_success", 0.0712, 0.0002), "0.0712");
    assert_eq!(nice_ticks(1.0, 1.0, 5).0, vec![1.0]);
    assert_eq!(nice_ticks(-0.2, 0.2, 4).0, vec![-0.2, -0.1, 0.0, 0.1, 0.2]);
}

#[test]
fn metric_scales_put_the_better_value_at_the_bright_end() {
    let up = MetricScale::over([0.9, 1.0].into_iter(), Better::Higher).unwrap();
    assert_eq!(up.goodness(1.0), 1.0);
    let down = MetricScale::over([0.05, 0.09].into_iter(), Better::Lower).unwrap();
    assert_eq!(down.goodness(0.05), 1.0);
    assert_eq!(down.colour(0.05), palette::better_scale(1.0));
    assert_eq!(down.best_worst(), (0.05, 0.09));
    assert!(MetricScale::over(std::iter::empty(), Better::Lower).is_none());
    // One value: the middle of the scale.
    let one = MetricScale::over([3.0].into_iter(), Better::Lower).unwrap();
    assert_eq!(one.goodness(3.0), 0.5);
}

#[test]
fn hostile_names_stay_text_in_every_chart() {
    let mut s = fixture::grid_3d();
    s.scenario.name = "<script>alert(1)</script>".into();
    s.base_policy = "<b>x</b>".into();
    s.objectives[3].metric = "faults.<i>f</i>.detection_delay".into();
    for c in charts_for(&s) {
        let text = svg(&c, &s);
        inline_svg::checked(text.as_bytes()).unwrap_or_else(|e| panic!("{}: {e}", c.stem));
        for raw in ["<script", "<b>", "<i>"] {
            assert!(!text.contains(raw), "{}: {raw}", c.stem);
        }
    }
}

#[test]
fn jitter_is_deterministic_and_bounded() {
    for i in 0..1000 {
        let j = jitter(i);
        assert!((-0.3..=0.3).contains(&j));
        assert_eq!(j, jitter(i));
    }
}
