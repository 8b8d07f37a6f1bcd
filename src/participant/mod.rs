//! Participants: one actix actor per simulated RTC client, walking the Web SDK's connection
//! states through a scenario script.

pub mod outcome;
pub mod presence;
pub mod state;
