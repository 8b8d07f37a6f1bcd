//! `roomstorm validate FILE...`: checks scenarios without running them.

use crate::cli::ValidateArgs;
use crate::error::CommandError;
use crate::scenario;

/// Prints `ok FILE: …` for each good file and every problem of the bad ones (stderr); exit 2 when
/// any file is bad.
pub fn run(args: ValidateArgs) -> Result<(), CommandError> {
    let mut bad = 0usize;
    for path in &args.files {
        match scenario::load(path) {
            Ok(s) => {
                let participants: u64 = s
                    .groups
                    .iter()
                    .map(|g| g.size.participants(s.rooms.count))
                    .sum();
                let plural = |n: u64, one: &str, many: &str| {
                    format!("{n} {}", if n == 1 { one } else { many })
                };
                println!(
                    "ok {}: {}: {}, {} in {}",
                    path.display(),
                    s.name,
                    plural(s.groups.len() as u64, "group", "groups"),
                    plural(participants, "participant", "participants"),
                    plural(u64::from(s.rooms.count), "room", "rooms")
                );
            }
            Err(e) => {
                bad += 1;
                eprintln!("{e}");
            }
        }
    }
    if bad > 0 {
        return Err(CommandError::InvalidInput(format!(
            "{bad} of {} scenario files invalid",
            args.files.len()
        )));
    }
    Ok(())
}
