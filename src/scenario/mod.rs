//! Scenarios: YAML files parsed into raw structs, validated into a [`Scenario`] (every problem
//! reported at once with file:line:column), then compiled by [`crate::plan`].
//!
//! | module | holds |
//! |---|---|
//! | `raw` | the YAML tree with positions (yaml-rust2 events, duplicates kept, aliases expanded) |
//! | `reader` | typed reads that record a problem instead of failing |
//! | `validate` | the top level, targets, rooms, sizes and weights, the file-wide checks |
//! | `group`, `arrival`, `script` | one group, its arrival model, its steps and expectations |
//! | `media_read` | a group's `media`: published tracks and subscriptions |
//! | `faults` | the `reconnect` settings and the scripted `faults`, checked against the target |
//! | `interpolate`, `suggest` | `${ENV}` in credentials; "did you mean" |
//! | [`problem`] | [`Problem`] and [`ScenarioErrors`] |
//! | [`schema`] | the JSON Schema of the format, for editors |
//! | [`model`] | the validated types |
//! | [`media`] | the validated media types and their per-track packet arithmetic |

mod arrival;
mod faults;
mod group;
mod interpolate;
pub mod media;
mod media_read;
pub mod model;
pub mod problem;
mod raw;
mod reader;
pub mod schema;
mod script;
mod suggest;
mod validate;

use std::path::Path;

pub use media::*;
pub use model::*;
pub use problem::{Problem, ScenarioErrors};
pub use validate::parse;

/// Reads and validates the scenario at `path`, resolving `${NAME}` from the process environment.
pub fn load(path: &Path) -> Result<Scenario, ScenarioErrors> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| ScenarioErrors::Unreadable {
        file: file.clone(),
        source,
    })?;
    parse(&text, &file, &|name| std::env::var(name).ok())
}
