//! `failover-lab`: thin entry point; see `cli` for commands and exit codes.

mod cli;

/// Simulations allocate many small short-lived blocks; see README, Benchmarks.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    cli::main()
}
