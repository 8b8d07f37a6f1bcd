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
//! | [`scenario`] | YAML scenarios: positions, validation (every problem at once), the checked model, JSON Schema |
//! | [`plan`] | the compiled plan: rooms, participants, intended arrival times (pure, seeded) |
//! | [`preflight`] | before any load: ephemeral ports towards the target, more loopback sources when needed |
//! | [`run`] | one run end to end: plan, target, coordinator, summary |
//! | [`target`] | the server a run loads: embedded (in-process) or external |
//! | [`coordinator`] | workers (one arbiter each), collection, progress, scripted faults, end of run |
//! | [`participant`] | the participant actor, its state machine, presence, outcomes |
//! | [`signaling`] | sans-IO signaling drivers (the Qiniu-compatible one) |
//! | [`transport`] | client sockets: HTTP token exchange, WebSocket, source addresses |
//! | [`metrics`] | per-thread recorders (HdrHistogram) and the merged aggregate |
//! | [`report`] | the run summary and its renderings: terminal table, `summary.json`, HTML with charts, JUnit, `.hlog`; baseline comparison |
//! | [`threshold`] | pass/fail conditions on a run's figures: grammar, parsing, evaluation |
//! | [`codes`] | RTC error codes (10001 token invalid … 21003) and their messages |
//! | [`credentials`] | key pairs from flags, environment or a file; secrets never printable |
//! | [`token`] | RoomToken mint/verify (HMAC-SHA1 over the payload as received) |
//! | [`mac`] | Qiniu Mac request signing for management APIs |
//! | [`media`] | the client media plane: synthetic tracks over WebRTC, what each received track measures |
//! | [`fault_api`] | typed client for a server's management API: fault injection (roomstorm extension), kick, room close |
//! | [`server`] | the embedded reference room server (signaling, rooms, management API) |
//! | [`ids`] | random identifiers |
//! | [`sockopt`] | socket options std does not expose |
//!
//! Data flow: scenario → [`scenario::Scenario`] → [`plan::Plan`] → coordinator and participant
//! actors (recording per thread) → [`metrics::aggregate::Aggregate`] → [`report::Summary`] →
//! thresholds and renderers.

pub mod cli;
pub mod codes;
pub mod commands;
pub mod coordinator;
pub mod credentials;
pub mod error;
pub mod fault_api;
pub mod ids;
pub mod mac;
pub mod media;
pub mod metrics;
pub mod participant;
pub mod plan;
pub mod preflight;
pub mod report;
pub mod run;
pub mod scenario;
pub mod server;
pub mod shards;
pub mod signaling;
pub mod sockopt;
pub mod target;
pub mod threshold;
pub mod token;
pub mod transport;
