//! Integration tests of the router against scripted providers, mostly in paused (virtual) time.
//!
//! - `harness`: scripted providers, the JSON event recorder, worlds and traffic drivers.
//! - `behaviour`: what the router does today, and must keep doing.
//! - `holds_up`: regressions of the router under failure: cancelled callers, panicking
//!   adapters and sinks, shared budgets, misattributed blame, probing, conversion lag, the
//!   ejection cap, selection herding, straggler hygiene and latency bias.
//! - `metrics` (feature `metrics`): every metric equals the audit trail's count.
//! - `operations`: provider capacity (rate limits, `[limits]`), cost caps and operator
//!   controls (overrides with metadata and expiry, traffic shifting).
//! - `properties`: generated policies (proptest): every one that validates is safe for the
//!   router's arithmetic.
//! - `warm_start`: a router's learnt state exported and restored across a restart.

mod behaviour;
mod harness;
mod holds_up;
#[cfg(feature = "metrics")]
mod metrics;
mod operations;
mod properties;
mod reload;
mod warm_start;
