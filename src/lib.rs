//! roomstorm: a load tester for real-time audio/video room servers.
//!
//! It answers "how many rooms can my server hold, and did this release make joins slower?" with a
//! YAML scenario and one command, against its own embedded reference server or a real one.
//!
//! # Layout
//!
//! | module | holds |
//! |---|---|
//! | [`cli`] | the command-line surface (clap derive only) |
//! | [`commands`] | one module per subcommand |
//! | [`error`] | exit codes and the command error type |
//! | [`codes`] | RTC error codes (10001 token invalid … 21003) and their messages |
//! | [`credentials`] | key pairs from flags, environment or a file; secrets never printable |
//! | [`token`] | RoomToken mint/verify (HMAC-SHA1 over the payload as received) |
//! | [`mac`] | Qiniu Mac request signing for management APIs |
//! | [`server`] | the embedded reference room server (signaling, rooms, management API) |
//! | [`ids`] | random identifiers |
//! | [`sockopt`] | socket options std does not expose |
//!
//! Participants, the coordinator, scenarios and reports arrive with their own modules.

pub mod cli;
pub mod codes;
pub mod commands;
pub mod coordinator;
pub mod credentials;
pub mod error;
pub mod ids;
pub mod mac;
pub mod metrics;
pub mod participant;
pub mod plan;
pub mod report;
pub mod run;
pub mod scenario;
pub mod server;
pub mod signaling;
pub mod sockopt;
pub mod target;
pub mod token;
pub mod transport;
