//! The views of a real-time load test (`failover-lab load`): what
//! [`LoadSummary`](crate::metrics::load::LoadSummary), the `load` object of a
//! [`RunSummary`](crate::metrics::RunSummary), measured, as `load.csv`, terminal text, three
//! charts and a section of `index.html`. Each reads the summary and returns bytes, text or
//! markup; none writes a file or computes a figure (the fold in `metrics::load` did).
//!
//! - [`csv`]: `load.csv`, one row per interval ([`csv::load_csv`]).
//! - [`terminal`]: the block the CLI prints under the policy table ([`terminal::load_table`]).
//! - [`chart`]: `load_rate`, `load_in_flight`, `load_overhead`, listed by
//!   [`report::chart::charts_for`](crate::report::chart::charts_for) and drawn by
//!   [`report::chart::render`](crate::report::chart::render) like every other chart, but only
//!   for a summary with a load test.
//! - `html`: the page's "Load test" section, which [`report::html`](crate::report::html)
//!   adds (with its navigation link) only for a summary with a load test.
//!
//! They share [`format`]: latencies in the unit that suits them (`812 us`, `3.21 ms`), the run's
//! heading facts, and the percentile rows and columns the terminal and the page both show.
//!
//! Every summary without a load test (every command but `load`) gets exactly what it got
//! before: no file, chart, section, link or style more.

pub mod chart;
pub mod csv;
pub(crate) mod format;
pub(crate) mod html;
pub mod terminal;

#[cfg(test)]
pub(crate) mod fixture;

pub use csv::load_csv;
pub use terminal::load_table;
