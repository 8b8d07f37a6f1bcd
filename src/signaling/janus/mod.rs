//! Janus WebRTC Server (VideoRoom plugin) as a target: its signed tokens ([`token`]), its frames
//! read into typed values ([`frames`]) and the sans-IO VideoRoom driver ([`driver`]), each tested
//! against frames recorded from a real Janus. The run's own control session on Janus (rooms,
//! kicks) is [`crate::target::janus`]; `docs/janus.md` maps Janus's outcomes onto RTC codes.

pub mod driver;
pub mod frames;
pub mod token;

pub use driver::JanusDriver;
