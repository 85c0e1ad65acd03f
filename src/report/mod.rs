//! Turning results into things people and CI read: files (JSON, CSV, audit, HTML, charts) and
//! terminal tables.
//!
//! Exporters are pure functions from a [`RunSummary`](crate::metrics::RunSummary) to bytes or
//! text (hyperfine's split): they never touch the file system. [`output`] is the one owner that
//! writes files, atomically. Statistics live in `metrics`; nothing here computes a metric, it
//! only formats what `metrics` computed.

pub mod chart;
pub mod csv_export;
pub mod html;
pub mod json_export;
pub mod output;
pub mod palette;
pub mod terminal;
