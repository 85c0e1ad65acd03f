//! A fit's `index.html`: one self-contained page, like the run report's
//! ([`crate::report::html`]) and under its rules: a maud template (every interpolated value is
//! escaped; `PreEscaped` only for the constant style sheets and the charts' SVG, which
//! `report::html::inline_svg` lets in), no script, no network, the same bytes for the same model.
//!
//! # What is on the page, in order
//!
//! The records' facts (sources, records, unusable lines, span, bucket, a link to the fitted
//! scenario); how to read it (KS distance, how a family is kept, how incident windows are found
//! and that the rates are measured outside them); every route in one table; per charted route
//! ([`super::charted`], at most [`MAX_CHARTED`]) a section with its counts, why its latency
//! family was kept or not, its three charts and its incidents.

use maud::{DOCTYPE, Markup, PreEscaped, html};

use super::chart::{self, FitChart};
use super::{MAX_CHARTED, charted, clock, duration, kind, latency, percent, route_name};
use crate::fit::model::{FitModel, RouteFit, TAIL_TOLERANCE};
use crate::report::chart::Format;
use crate::report::html::{CSS, inline_svg, section, table};

/// What a fit's page adds to the run report's style sheet. No `<` can close the element.
const FIT_CSS: &str = r#"
figure p.links { font-size: 0.9em; margin: 4px 0 0; color: var(--muted); }
section.route h3 { margin-top: 30px; }
td.muted, span.muted { color: var(--muted); }
ul.plain { margin: 4px 0; padding-left: 20px; }
"#;

/// The page for `model`, its charts rendered here as SVG (what [`super::files`] does once for
/// the files and the page alike).
pub fn render(model: &FitModel, meta: &super::FitReportMeta) -> String {
    let shown = charted(model);
    render_with(model, meta, &shown, &|k, c| {
        chart::render(c, model, k, Format::Svg).map_err(|e| e.to_string())
    })
}

/// The page, charting the routes `shown`, each chart's SVG from `svg` (or why it has none).
pub(crate) fn render_with(
    model: &FitModel,
    meta: &super::FitReportMeta,
    shown: &[usize],
    svg: &dyn Fn(usize, FitChart) -> Result<Vec<u8>, String>,
) -> String {
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "Fit of " (sources_title(meta)) " · failover-lab fit" }
                style { (PreEscaped(CSS)) (PreEscaped(FIT_CSS)) }
            }
            body {
                header {
                    h1 { "Scenario fitted to production records" }
                    (facts(model, meta))
                    nav {
                        a href="#reading" { "How to read it" }
                        a href="#routes" { "Routes" }
                        @if !shown.is_empty() { a href="#charts" { "Charts" } }
                    }
                }
                main {
                    (reading())
                    (routes(model, shown))
                    @if !shown.is_empty() {
                        section id="charts" {
                            h2 { "Routes in detail" }
                            @for &k in shown {
                                @if let Some(r) = model.routes.get(k) { (route_section(r, k, svg)) }
                            }
                        }
                    }
                }
            }
        }
    };
    let mut page = page.into_string();
    page.push('\n');
    page
}

/// The first source's name, and how many more.
fn sources_title(meta: &super::FitReportMeta) -> String {
    match meta.sources.as_slice() {
        [] => "records".to_owned(),
        [one] => one.clone(),
        [first, rest @ ..] => format!("{first} and {} more", rest.len()),
    }
}

/// `s` as a relative link that cannot be read as a scheme (`javascript:`) or another host
/// (`//host`): `./` in front of such a name, and `%`, `#`, `?` and spaces percent-encoded so the
/// link names the file.
fn file_href(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    let scheme_like = s.split('/').next().is_some_and(|first| first.contains(':'));
    if scheme_like || s.starts_with("//") || s.starts_with('\\') {
        out.push_str("./");
    }
    for c in s.chars() {
        match c {
            '%' => out.push_str("%25"),
            '#' => out.push_str("%23"),
            '?' => out.push_str("%3F"),
            ' ' => out.push_str("%20"),
            '\\' => out.push_str("%5C"),
            c => out.push(c),
        }
    }
    out
}

fn facts(model: &FitModel, meta: &super::FitReportMeta) -> Markup {
    let share = if meta.lines > 0 {
        format!(" ({})", percent(meta.bad as f64 / meta.lines as f64))
    } else {
        String::new()
    };
    html! {
        p.meta {
            (meta.records) " records from " (meta.lines) " lines · " (meta.bad)
            " unusable" (share) " · span " (duration(model.span)) " · buckets of "
            (duration(model.bucket)) " · " (model.routes.len()) " route"
            @if model.routes.len() != 1 { "s" }
        }
        p.meta {
            "Sources: "
            @if meta.sources.is_empty() { "none named" }
            @for (i, s) in meta.sources.iter().enumerate() {
                @if i > 0 { ", " }
                code { (s) }
            }
        }
        @if let Some(file) = &meta.scenario_file {
            p.meta {
                "Fitted scenario: " a href=(file_href(file)) { code { (file) } }
            }
        }
    }
}

fn reading() -> Markup {
    let content = html! {
        p.note {
            strong { "Latency." }
            " Lognormal, gamma and Weibull are fitted to each route's latencies by maximum \
             likelihood and ranked by AIC. The KS distance is the largest gap between the \
             observed and the fitted CDF: the largest share of the traffic the model puts on \
             the wrong side of some latency. The fit keeps the lowest-AIC family only if its KS \
             distance is under the threshold "
            code { "ks_threshold(n) = max(1.36 / √n, 0.015)" }
            " and its median and p99 are within " (format!("{:.0}", TAIL_TOLERANCE * 100.0))
            " % of the observed ones; otherwise the scenario gets the empirical distribution \
             (500 quantiles), which is always right about the records it saw."
        }
        p.note {
            "The latency chart is a histogram of the 500 empirical quantiles on a log axis, as a \
             density per decade, with the kept family's density over it and the other \
             candidates faint. The QQ plot sets each observed quantile against the kept \
             family's at the same probability: on the diagonal the model is right, above it the \
             traffic is slower than the model says."
        }
        p.note {
            strong { "Incidents." }
            " Incident windows come from seeded binary segmentation of each route's failure rate \
             per bucket (" code { "metrics::fit::changepoint" } "): segments whose rate is \
             clearly above the baseline (the trial-weighted lower quartile of the segments' rates), by \
             three standard errors and two percentage points, merged when adjacent. The error \
             rate and loss in the table are measured outside the windows; the scenario gets the \
             windows as faults."
        }
    };
    section("reading", "How to read it", content)
}

/// `1.23 % ± 0.05`, or a dash without trials.
fn rate(r: &crate::fit::model::Rate) -> String {
    if r.trials == 0 {
        "–".to_owned()
    } else {
        format!("{} ± {:.2}", percent(r.value), r.standard_error * 100.0)
    }
}

fn routes(model: &FitModel, shown: &[usize]) -> Markup {
    if model.routes.is_empty() {
        return section(
            "routes",
            "Routes",
            html! { p.note { "No routes: the records named none." } },
        );
    }
    let head = html! {
        th { "#" }
        th.name { "Route" }
        th { "Attempts" }
        th { "Error rate ± SE" }
        th { "Loss ± SE" }
        th.name { "Latency" }
        th { "KS" }
        th { "Median observed" }
        th { "Median model" }
        th { "p99 observed" }
        th { "p99 model" }
        th { "Incidents" }
    };
    let rows = html! {
        @for (k, r) in model.routes.iter().enumerate() {
            tr {
                td { (k) }
                td.name {
                    @if shown.contains(&k) {
                        a href={ "#route-" (k) } { (route_name(r)) }
                    } @else {
                        (route_name(r))
                    }
                }
                td { (r.totals.attempts) }
                td { (rate(&r.error_rate)) }
                td { (rate(&r.loss)) }
                @match &r.latency {
                    None => { td.name.muted { "no samples" } td { "–" } td { "–" } td { "–" } td { "–" } td { "–" } }
                    Some(l) => {
                        @let (median, p99) = l.model_median_p99();
                        td.name {
                            @match &l.fitted { Some(f) => (f.family), None => "empirical" }
                        }
                        td { @match &l.fitted { Some(f) => (format!("{:.4}", f.ks)), None => "–" } }
                        td { (latency(l.observed_median)) }
                        td { (latency(median)) }
                        td { (latency(l.observed_p99)) }
                        td { (latency(p99)) }
                    }
                }
                td { (r.incidents.len()) }
            }
        }
    };
    let hidden = model.routes.len() - shown.len();
    let content = html! {
        (table(head, rows))
        p.note {
            "Error rate: fast errors per judged attempt; loss: failure receipts and silent \
             timeouts per attempt that got past the provider; both outside incident windows, \
             with their binomial standard errors in percentage points. Model median and p99: \
             of the kept family, or of the empirical distribution."
            @if hidden > 0 {
                " " (hidden) " route" @if hidden == 1 { " has" } @else { "s have" }
                " no charts: the page charts the " (MAX_CHARTED)
                " routes with the most attempts."
            }
        }
    };
    section("routes", "Routes", content)
}

/// One chart inlined as SVG, its caption and links to its files, or why it could not be drawn.
fn figure(
    k: usize,
    c: FitChart,
    svg: &dyn Fn(usize, FitChart) -> Result<Vec<u8>, String>,
) -> Markup {
    let inlined = svg(k, c).and_then(|s| inline_svg::checked(&s).map_err(|e| e.to_string()));
    html! {
        figure id={ "chart-" (c.stem(k)) } aria-label=(c.caption()) {
            @match inlined {
                Ok(svg) => {
                    (svg)
                    p.links {
                        a href=(c.file_name(k, Format::Png)) { "PNG" } " · "
                        a href=(c.file_name(k, Format::Svg)) { "SVG" }
                    }
                }
                Err(e) => {
                    figcaption { (c.caption()) }
                    p.error { "This chart could not be drawn: " (e) }
                }
            }
        }
    }
}

fn route_section(
    r: &RouteFit,
    k: usize,
    svg: &dyn Fn(usize, FitChart) -> Result<Vec<u8>, String>,
) -> Markup {
    let t = &r.totals;
    html! {
        section.route id={ "route-" (k) } {
            h3 { "#" (k) " " (route_name(r)) }
            p.meta {
                (t.attempts) " attempts · " (t.delivered) " delivered · " (t.fast_errors)
                " fast errors · " (t.rate_limited) " rate limited · " (t.undelivered)
                " undelivered · " (t.timeouts) " timeouts (" (t.late) " late) · cost " (r.cost)
            }
            @match &r.latency {
                None => p.note { "No latency samples: the scenario keeps no latency for this route." },
                Some(l) => p.note {
                    @match &l.fitted {
                        Some(f) => {
                            strong { "Kept " (f.family) "." } " "
                            (chart::latency_parameters(f)) ", "
                            (chart::ks_versus_threshold(f)) ". "
                        }
                        None => { strong { "Empirical distribution kept." } " " }
                    }
                    (l.reason)
                },
            }
            @for c in FitChart::ALL { (figure(k, c, svg)) }
            (incidents(r))
        }
    }
}

fn incidents(r: &RouteFit) -> Markup {
    if r.incidents.is_empty() {
        return html! { p.note { "No incident windows on this route." } };
    }
    let head = html! {
        th { "#" } th { "Start" } th { "End" } th { "Duration" } th.name { "Kind" }
        th { "Failure rate" } th { "Baseline" } th { "Attempts" }
    };
    let rows = html! {
        @for (n, i) in r.incidents.iter().enumerate() {
            tr {
                td { (n + 1) }
                td { (clock(i.start)) }
                td { (clock(i.end)) }
                td { (duration(i.end - i.start)) }
                td.name { (kind(i)) }
                td { (percent(i.failure_rate)) }
                td { (percent(i.baseline)) }
                td { (i.attempts) }
            }
        }
    };
    html! {
        (table(head, rows))
        p.note { "Start and end: hours, minutes and seconds since the records' first bucket." }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fit::{FitReportMeta, fixture};

    #[test]
    fn the_page_is_self_contained_and_deterministic() {
        let (model, meta) = (fixture::model(), fixture::meta());
        let page = render(&model, &meta);
        assert_eq!(page, render(&model, &meta));
        assert!(page.starts_with("<!DOCTYPE html>"));
        assert!(page.trim_end().ends_with("</html>"));
        for banned in ["<script", "<link", "src=\"http", "href=\"http", "url("] {
            assert!(!page.contains(banned), "{banned}");
        }
        assert!(!page.contains("class=\"error\""), "a chart was refused");
        assert_eq!(page.matches("<svg").count(), 3 * 3);
        for k in 0..3 {
            for c in FitChart::ALL {
                assert!(page.contains(&format!("id=\"chart-{}\"", c.stem(k))));
                assert!(page.contains(&format!("<a href=\"{}.png\">PNG</a>", c.stem(k))));
            }
        }
    }

    #[test]
    fn the_header_states_the_records_and_links_the_scenario() {
        let page = render(&fixture::model(), &fixture::meta());
        for needle in [
            "15000 records from 15010 lines · 10 unusable (0.07 %) · span 2.0 h · buckets of 60 s",
            "<code>records/day1.jsonl</code>, <code>records/day2.csv</code>",
            "<a href=\"fitted.toml\"><code>fitted.toml</code></a>",
            "largest gap between the observed and the fitted CDF",
            "seeded binary segmentation",
            "within 3 % of the observed",
        ] {
            assert!(page.contains(needle), "no {needle:?}");
        }
        let mut meta = fixture::meta();
        meta.scenario_file = None;
        assert!(!render(&fixture::model(), &meta).contains("Fitted scenario"));
    }

    #[test]
    fn the_table_lists_every_route_with_its_figures() {
        let model = fixture::model();
        let page = render(&model, &fixture::meta());
        let routes =
            &page[page.find("id=\"routes\"").unwrap()..page.find("id=\"charts\"").unwrap()];
        assert_eq!(routes.matches("<tr").count(), 1 + 3);
        assert!(routes.contains("<a href=\"#route-0\">alpha · DE/mobile</a>"));
        assert!(routes.contains("<td class=\"name\">lognormal</td>"));
        assert!(routes.contains("<td class=\"name\">empirical</td>"));
        assert!(routes.contains("no samples"));
        let a = &model.routes[0];
        assert!(routes.contains(&rate(&a.error_rate)));
        let l = a.latency.as_ref().unwrap();
        assert!(routes.contains(&latency(l.observed_p99)));
        assert!(routes.contains(&latency(l.model_median_p99().1)));
        // The incident, in alpha's section.
        let alpha =
            &page[page.find("id=\"route-0\"").unwrap()..page.find("id=\"route-1\"").unwrap()];
        assert!(alpha.contains("<td>0:40:00</td><td>0:50:00</td><td>10.0 min</td>"));
        assert!(alpha.contains("brownout (+20.00 % errors, +45.00 % loss)"));
        assert!(alpha.contains("<strong>Kept lognormal.</strong> lognormal: mu = -0.693"));
        let beta =
            &page[page.find("id=\"route-1\"").unwrap()..page.find("id=\"route-2\"").unwrap()];
        assert!(beta.contains("Empirical distribution kept."));
        assert!(beta.contains("No incident windows"));
    }

    #[test]
    fn a_hostile_provider_and_file_names_render_only_as_text() {
        let mut model = fixture::model();
        model.routes[0].provider = "<script>alert(1)</script>".to_owned();
        model.routes[1].latency.as_mut().unwrap().reason =
            "</p><img src=x onerror=alert(2)>".into();
        let meta = FitReportMeta {
            sources: vec!["<b>x</b>.csv".to_owned()],
            scenario_file: Some("javascript:alert(3)\"><i>".to_owned()),
            ..fixture::meta()
        };
        let page = render(&model, &meta);
        for raw in ["<script", "<img", "<b>", "<i>", "href=\"javascript:"] {
            assert!(!page.contains(raw), "{raw} reached the page as markup");
        }
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt; · DE/mobile"));
        assert!(page.contains("href=\"./javascript:alert(3)&quot;&gt;&lt;i&gt;\""));
        assert!(!page.contains("class=\"error\""), "a chart was refused");
        assert_eq!(page.matches("</style>").count(), 1);
        assert_eq!(page.matches("</title>").count(), 1);
    }

    #[test]
    fn every_route_is_listed_but_at_most_forty_are_charted() {
        let model = fixture::many(45);
        let page = render(&model, &FitReportMeta::default());
        let routes =
            &page[page.find("id=\"routes\"").unwrap()..page.find("id=\"charts\"").unwrap()];
        assert_eq!(routes.matches("<tr").count(), 1 + 45);
        for k in 0..45 {
            assert!(
                routes.contains(&format!("p{k} · DE/mobile")),
                "route {k} not listed"
            );
        }
        assert!(routes.contains("5 routes have no charts: the page charts the 40 routes"));
        assert_eq!(page.matches("<svg").count(), 3 * MAX_CHARTED);
        assert_eq!(
            page.matches("<section class=\"route\"").count(),
            MAX_CHARTED
        );
        for k in (0..45).filter(|k| k % 9 == 0) {
            assert!(
                !page.contains(&format!("id=\"route-{k}\"")),
                "route {k} charted"
            );
            assert!(
                !page.contains(&format!("fit_latency_{k}.")),
                "route {k} charted"
            );
            assert!(!page.contains(&format!("href=\"#route-{k}\"")));
        }
        assert!(page.contains("id=\"chart-fit_qq_44\""));
    }

    #[test]
    fn an_empty_model_renders_a_page() {
        let mut model = fixture::model();
        model.routes.clear();
        let page = render(&model, &FitReportMeta::default());
        assert!(page.contains("No routes"));
        assert!(!page.contains("<svg"));
        assert!(!page.contains("id=\"charts\""));
    }

    #[test]
    fn file_links_cannot_leave_the_directory_by_scheme() {
        assert_eq!(file_href("fitted.toml"), "fitted.toml");
        assert_eq!(file_href("../out/fit.toml"), "../out/fit.toml");
        assert_eq!(file_href("javascript:alert(1)"), "./javascript:alert(1)");
        assert_eq!(file_href("//evil/x"), ".///evil/x");
        assert_eq!(file_href("a b#c?.toml"), "a%20b%23c%3F.toml");
        assert_eq!(file_href("dir/c:x"), "dir/c:x");
    }

    #[test]
    fn the_style_sheet_cannot_end_its_element() {
        assert!(!FIT_CSS.contains('<'));
    }
}
