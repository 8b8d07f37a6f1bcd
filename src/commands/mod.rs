//! One module per subcommand: each turns parsed arguments into work and a [`CommandError`].

mod compare;
mod merge;
mod report;
mod run;
mod schema;
mod serve;
mod token;
mod validate;

use crate::cli::{Cli, Command, LogFormat};
use crate::error::CommandError;

/// Runs the parsed command line.
pub fn dispatch(cli: Cli) -> Result<(), CommandError> {
    init_logging(cli.log_format, &cli.log)?;
    match cli.command {
        Command::Run(args) => run::run(args),
        Command::Report(args) => report::run(args),
        Command::Compare(args) => compare::run(args),
        Command::Merge(args) => merge::run(args),
        Command::Serve(args) => serve::run(args),
        Command::Token(cmd) => token::run(cmd),
        Command::Validate(args) => validate::run(args),
        Command::Schema => schema::run(),
    }
}

fn init_logging(format: LogFormat, filter: &str) -> Result<(), CommandError> {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .map_err(|e| CommandError::InvalidInput(format!("--log {filter:?}: {e}")))?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let installed = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
    // A second init (tests calling dispatch twice) keeps the first subscriber.
    drop(installed);
    Ok(())
}
