//! Janus WebRTC Server (VideoRoom plugin) as a target: what roomstorm needs to speak to a real
//! third-party RTC server. So far: its signed tokens ([`token`]) and its frames read into typed
//! values ([`frames`], tested against frames recorded from a real Janus). The sans-IO driver
//! (session, attach, join without media, `joining`/`leaving`, keepalives, claim) is the next step
//! of the Janus issue; the project notes on Janus (`janus-notes.md` beside the repository) describe the frames.

pub mod frames;
pub mod token;
