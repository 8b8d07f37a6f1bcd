//! Janus WebRTC Server (VideoRoom plugin) as a target: what roomstorm needs to speak to a real
//! third-party RTC server: its signed tokens ([`token`]), its frames read into typed values
//! ([`frames`]) and the sans-IO VideoRoom driver ([`driver`]), each tested against frames
//! recorded from a real Janus. Wiring the driver into participants and scenarios is the next step
//! of the Janus issue; the project notes on Janus (`janus-notes.md` beside the repository) describe the frames.

pub mod driver;
pub mod frames;
pub mod token;
