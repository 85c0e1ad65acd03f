//! `failover-lab`: thin entry point; see `cli` for commands and exit codes.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
