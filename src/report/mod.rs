//! Turning results into things people and CI read: files (JSON, CSV, audit, HTML, charts) and
//! terminal tables.
//!
//! Exporters are pure functions from a [`RunSummary`](crate::metrics::RunSummary) to bytes or
//! text (hyperfine's split): they never touch the file system. [`output`] is the one owner that
//! writes files, atomically. Statistics live in `metrics`; nothing here computes a metric, it
//! only formats what `metrics` computed.
//!
//! (The chart and HTML modules, `chart/`, `html.rs` and `palette.rs`, are declared here once they
//! build.)

pub mod csv_export;
pub mod json_export;
pub mod output;
pub mod terminal;
