//! Documented exit codes (README, "Exit codes"). Distinct codes let CI tell "the policy regressed"
//! from "the harness broke" (cargo-nextest's exit_codes.rs is the model).

/// Everything worked.
pub const OK: u8 = 0;
/// The harness failed: an output could not be written (checked before simulating where it can
/// be: an `--out` that is not a directory a report may replace, a parent that cannot be
/// created or written), a simulation could not start.
pub const HARNESS_FAILURE: u8 = 1;
/// Invalid input: a scenario that does not load, an unknown policy, bad flags (clap's usage
/// errors use 2 as well).
pub const INVALID_INPUT: u8 = 2;
/// A gate failed: an expectation was not met or a metric regressed against its baseline.
pub const GATE_FAILED: u8 = 3;
/// Stopped by SIGINT (Ctrl-C): 128 + 2, the shell's convention. Unfinished outputs were removed
/// and earlier ones left as they were (`interrupt.rs`).
#[cfg_attr(not(unix), allow(dead_code))]
pub const INTERRUPTED: u8 = 130;
/// Stopped by SIGTERM: 128 + 15. Unfinished outputs were removed, earlier ones left as they were.
#[cfg_attr(not(unix), allow(dead_code))]
pub const TERMINATED: u8 = 143;
