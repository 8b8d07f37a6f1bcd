//! `roomstorm compare`: a run against a baseline, for CI regression checks (exit 1 on regression).

use crate::cli::CompareArgs;
use crate::error::CommandError;
use crate::report::{self, compare};

/// Prints the comparison table; exit 1 when anything regressed.
pub fn run(args: CompareArgs) -> Result<(), CommandError> {
    let baseline = report::read_summary(&args.baseline).map_err(CommandError::InvalidInput)?;
    let run = report::read_summary(&args.run).map_err(CommandError::InvalidInput)?;
    let options = compare::CompareOptions {
        tolerance: args.tolerance,
        min_change_us: args.min_change.as_micros() as u64,
        metrics: args.metrics.clone(),
    };
    for m in &options.metrics {
        if !baseline.latency.contains_key(m) {
            let known: Vec<&str> = baseline.latency.keys().map(String::as_str).collect();
            return Err(CommandError::InvalidInput(format!(
                "--metric {m}: unknown metric; the baseline has {}",
                known.join(", ")
            )));
        }
    }
    let c = compare::compare(
        &baseline,
        &run,
        &options,
        &args.baseline.display().to_string(),
    );
    print!(
        "{}",
        compare::render_text(
            &c,
            &args.baseline.display().to_string(),
            &args.run.display().to_string()
        )
    );
    if c.regressions > 0 {
        return Err(CommandError::Failed(format!(
            "{} regression(s) against the baseline",
            c.regressions
        )));
    }
    Ok(())
}
