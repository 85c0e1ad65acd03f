//! The lab's integration tests: one binary (ripgrep-style), one module per concern.
//! Scenarios are built from TOML text, exactly as users write them.

mod caller;
mod cli;
mod compare;
mod conservation;
mod determinism;
mod failover;
mod fidelity;
#[cfg(unix)]
mod files;
mod fit;
mod fuzz;
mod gate;
mod hardening;
mod load;
mod output;
mod properties;
mod reload;
mod report;
mod restart;
mod scale;
mod shard;
mod sweep;
mod world;
