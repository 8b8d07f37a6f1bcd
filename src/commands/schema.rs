//! `roomstorm schema`: the scenario format as JSON Schema, for editors (e.g. the YAML language
//! server's `# yaml-language-server: $schema=...`).

use crate::error::CommandError;

/// Prints the schema, pretty.
pub fn run() -> Result<(), CommandError> {
    let text = serde_json::to_string_pretty(&crate::scenario::schema::json_schema())
        .map_err(|e| CommandError::Incomplete(format!("cannot render the schema: {e}")))?;
    println!("{text}");
    Ok(())
}
