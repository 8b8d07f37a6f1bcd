//! `roomstorm merge`: shard results into one run folder, rendered like a single run's.

use crate::cli::MergeArgs;
use crate::error::CommandError;
use crate::report::{self, Verdict};
use crate::scenario;

/// Exit 0 pass, 1 expectations failed, 2 shards that do not make one run (or an unreadable
/// scenario), 3 the merged run was interrupted or could not be written.
pub fn run(args: MergeArgs) -> Result<(), CommandError> {
    let mut parts = Vec::with_capacity(args.shards.len());
    for dir in &args.shards {
        let s = report::read_summary(dir).map_err(CommandError::InvalidInput)?;
        parts.push((dir.clone(), s));
    }
    let file = match (&args.scenario, parts.first()) {
        (Some(f), _) => f.clone(),
        (None, Some((_, s))) => s.scenario.file.clone().into(),
        (None, None) => return Err(CommandError::InvalidInput("no shard folders given".into())),
    };
    let scenario = scenario::load(&file).map_err(|e| {
        CommandError::InvalidInput(format!(
            "the scenario is needed to judge the merged run (pass --scenario FILE): {e}"
        ))
    })?;
    let merged = crate::shards::merge(&parts, &scenario, &file.display().to_string(), None, None)
        .map_err(CommandError::InvalidInput)?;
    let dir = crate::run::run_dir(&args.out, &scenario.name);
    report::write_json(&dir, &merged)
        .map_err(|e| CommandError::Incomplete(format!("cannot write {}: {e}", dir.display())))?;
    report::write_derived(&merged, &dir).map_err(CommandError::Incomplete)?;
    print!("{}", report::text::render(&merged));
    println!("results: {}", dir.join("summary.json").display());
    match merged.verdict {
        Verdict::Pass => Ok(()),
        Verdict::Fail => Err(CommandError::Failed(
            "expectations failed (see above)".into(),
        )),
        Verdict::Interrupted => Err(CommandError::Incomplete(
            "interrupted: the merged results are partial".into(),
        )),
    }
}
