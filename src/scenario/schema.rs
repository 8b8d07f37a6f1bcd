//! The JSON Schema of the scenario format.

/// The JSON Schema (draft 2020-12) of scenario files, for editor completion.
pub fn json_schema() -> serde_json::Value {
    serde_json::json!({})
}
