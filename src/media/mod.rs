//! The client media plane: what a participant publishes and receives over WebRTC, beside the
//! signaling in [`crate::participant`].
//!
//! | module | holds |
//! |---|---|
//! | [`frame`] | the synthetic frame header (magic, publisher, track, sequence, send time on the run's clock) |
//! | [`stats`] | per received track: packets, bytes, loss from sequence numbers, RFC 3550 jitter, freezes |
//! | [`peer`] | one WebRTC connection (the `webrtc` crate) configured for load: codecs, sockets, events |
//! | [`faults`] | scripted client media faults (`media_loss`, `media_delay`) shared with the loops |
//! | [`keyframe`] | the interceptor that hands PLI/FIR to the sender |
//! | [`sender`] | a synthetic track's paced frames, keyframes on request |
//! | [`sample`] | real VP8 and Opus samples (shipped in `assets/media/`) for `payload: sample`, stamped with a trailer |
//! | [`receiver`] | a subscribed track's receive loop: statistics and one-way latency |
//!
//! The participant actor drives these ([`crate::participant`]'s `actor/media.rs`); the signaling
//! driver carries the offers and answers ([`crate::signaling::SignalingDriver::publish`]).

pub mod faults;
pub mod frame;
pub mod keyframe;
pub mod peer;
pub mod receiver;
pub mod sample;
pub mod sender;
pub mod stats;
