//! How a participant lifecycle ended: exactly one outcome each, expected or not.

use crate::scenario::OutcomeKey;

/// The one outcome of a participant lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// What happened.
    pub key: OutcomeKey,
    /// Whether the scenario said this may happen (codes in a step's `expect`).
    pub expected: bool,
    /// The script step it ended at (index), for reports.
    pub step: u16,
}

/// Where a transport failure happened, for the error breakdown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FailureStage {
    /// The HTTP token exchange.
    TokenExchange,
    /// Opening the WebSocket.
    Connect,
    /// Waiting for the join answer.
    Auth,
    /// In the room (socket dropped, protocol error).
    InRoom,
    /// The join did not finish within the join timeout.
    Timeout,
    /// Publishing or subscribing media (the WebRTC stack refused, or the server never answered).
    Media,
}

impl FailureStage {
    /// Stable name used in reports.
    pub fn name(self) -> &'static str {
        match self {
            FailureStage::TokenExchange => "token_exchange",
            FailureStage::Connect => "connect",
            FailureStage::Auth => "auth",
            FailureStage::InRoom => "in_room",
            FailureStage::Timeout => "join_timeout",
            FailureStage::Media => "media",
        }
    }

    /// All stages, by index.
    pub const ALL: [FailureStage; 6] = [
        FailureStage::TokenExchange,
        FailureStage::Connect,
        FailureStage::Auth,
        FailureStage::InRoom,
        FailureStage::Timeout,
        FailureStage::Media,
    ];
}

/// Stable report name of an outcome key: `completed`, `aborted`, `kicked`, `transport_error`, or
/// the RTC code.
pub fn key_name(key: OutcomeKey) -> String {
    match key {
        OutcomeKey::Completed => "completed".into(),
        OutcomeKey::Aborted => "aborted".into(),
        OutcomeKey::Kicked => "kicked".into(),
        OutcomeKey::TransportError => "transport_error".into(),
        OutcomeKey::Code(c) => c.to_string(),
    }
}
