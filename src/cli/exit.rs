//! Documented exit codes (README, "Exit codes"). Distinct codes let CI tell "the policy regressed"
//! from "the harness broke" (cargo-nextest's exit_codes.rs is the model).

/// Everything worked.
pub const OK: u8 = 0;
/// The harness failed: an output could not be written, a simulation could not start.
pub const HARNESS_FAILURE: u8 = 1;
/// Invalid input: a scenario that does not load, an unknown policy, bad flags (clap's usage
/// errors use 2 as well).
pub const INVALID_INPUT: u8 = 2;
/// A gate failed: an expectation was not met or a metric regressed against its baseline.
pub const GATE_FAILED: u8 = 3;
