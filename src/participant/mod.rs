//! Participants: one actix actor per simulated RTC client, walking the Web SDK's connection
//! states through a scenario script.
//!
//! | module | holds |
//! |---|---|
//! | [`actor`] | the actor: socket, timers, script steps; `actor/recovery.rs`: heartbeats, reconnects, client faults, kicks |
//! | [`context`] | what all participants of a run share (plan, target, keys, clock, boards) |
//! | [`link`] | the participant's WebSocket, driven inside the actor by one pump |
//! | [`state`] | the pure connection state machine |
//! | [`reconnect`] | the pure reconnect policy (close codes, attempts, re-auth answers) |
//! | [`faults`] | client-side faults applied to a participant's network |
//! | [`heartbeat`] | the dead-server timers of a worker's participants, in one heap |
//! | [`presence`] | per-room presence boards and the end-of-run presence check |
//! | [`outcome`] | the one outcome each lifecycle ends with |
//! | [`registry`] | the participants running on this worker thread |
//! | [`gate`] | the bound on this worker thread's participants joining at once |

pub mod actor;
pub mod context;
pub mod faults;
pub mod gate;
pub mod heartbeat;
pub mod link;
pub mod outcome;
pub mod presence;
pub mod reconnect;
pub mod registry;
pub mod state;

pub use actor::{Abort, Admit, Keepalive, Participant, PingCheck, Stop};
pub use context::RunContext;
pub use faults::Inject;
