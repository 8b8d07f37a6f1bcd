//! `roomstorm report`: re-renders a run's outputs from its stored `summary.json` (after an
//! interrupted run too, or after upgrading roomstorm's renderers).

use crate::cli::ReportArgs;
use crate::error::CommandError;
use crate::report;

/// Reads the summary, writes every derived output again, prints the summary table.
pub fn run(args: ReportArgs) -> Result<(), CommandError> {
    let summary = report::read_summary(&args.run).map_err(CommandError::InvalidInput)?;
    let dir = if args.run.is_dir() {
        args.run.clone()
    } else {
        args.run
            .parent()
            .map_or_else(|| ".".into(), std::path::Path::to_path_buf)
    };
    let written = report::write_derived(&summary, &dir).map_err(CommandError::Incomplete)?;
    print!("{}", report::text::render(&summary));
    for path in written {
        println!("wrote {}", path.display());
    }
    Ok(())
}
