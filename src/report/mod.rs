//! Turning results into things people and CI read: files (JSON, CSV, audit, HTML, charts) and
//! terminal tables.
//!
//! Exporters are pure functions from a [`RunSummary`](crate::metrics::RunSummary) to bytes or
//! text (hyperfine's split): they never touch the file system. [`output`] is the one owner that
//! writes files, atomically. Statistics live in `metrics`; nothing here computes a metric, it
//! only formats what `metrics` computed.
//!
//! A replicated run (`--seeds N`, N > 1) adds views of its comparisons: `comparison.csv` and
//! `replications.csv` ([`csv_export`]), the means over seeds and the differences table
//! ([`terminal`]), the forest plot and the per-seed spread ([`chart::charts_for`]) and the
//! page's comparison section ([`html`]). They share [`replicated`] (headline metrics, units,
//! formatting) and show nothing for a single seed, whose outputs stay as they were.
//!
//! A threshold sweep has its own views of one
//! [`SweepSummary`](crate::experiment::sweep::SweepSummary) in [`sweep`]: `sweep.csv`, a chart
//! per charted metric and the Pareto scatter, its `index.html` and the text printed at the end.
//! They reuse the run report's chart helpers, palette, style sheet and number formats.
//!
//! A real-time load test (`failover-lab load`, `RunSummary::load` present) has its views in
//! [`load`]: `load.csv`, the text printed under the policy table, three charts
//! ([`chart::charts_for`] lists them only then) and the page's "Load test" section ([`html`]
//! adds it only then). Every other summary's outputs are unchanged.
//!
//! A fit (`failover-lab fit`) has its report in [`fit`]: per route (at most 40 charted) the
//! latency distribution with the fitted densities, a QQ plot and the failure rate with its
//! incident windows, and an `index.html` listing every route; [`fit::files`] returns them all.
//!
//! A gate (`failover-lab gate`) has three views of one `metrics::gate::GateReport`: the terminal
//! text ([`gate`]), JUnit XML for CI test reports ([`junit`]) and a pull-request comment in
//! Markdown ([`markdown`]). The last two reuse [`gate`]'s wording of each check.

pub mod chart;
pub mod csv_export;
pub mod fit;
pub mod gate;
pub mod html;
pub mod json_export;
pub mod junit;
pub mod load;
pub mod markdown;
pub mod output;
pub mod palette;
pub mod replicated;
pub mod sweep;
pub mod terminal;
