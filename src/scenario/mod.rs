//! Scenarios: YAML files parsed into raw structs, validated into a [`Scenario`] (every problem
//! reported at once with file:line:column), then compiled by [`crate::plan`].

pub mod model;

pub use model::*;
