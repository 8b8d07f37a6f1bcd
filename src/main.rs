//! The `roomstorm` binary: parse the command line, run the command, map the outcome to an exit code.

use std::process::ExitCode;

use clap::Parser;
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = match roomstorm::cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            let _ = err.print();
            return ExitCode::from(if err.use_stderr() {
                roomstorm::error::EXIT_INVALID_INPUT
            } else {
                0
            });
        }
    };
    match roomstorm::commands::dispatch(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("roomstorm: {err}");
            ExitCode::from(err.exit_code())
        }
    }
}
