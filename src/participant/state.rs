//! The connection state machine of an RTC client, exactly as the Web SDK walks it: pure, so every
//! legal and illegal transition is tested without a socket.

use std::fmt;

/// Where a participant's connection stands (the SDK's `connection-state-changed` states).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConnectionState {
    /// Initially, and after leaving or being disconnected.
    Disconnected,
    /// Joining: token exchange, socket, authentication.
    Connecting,
    /// In the room.
    Connected,
    /// The connection broke; the client is restoring it.
    Reconnecting,
    /// Restored after a break (in the room).
    Reconnected,
}

impl ConnectionState {
    /// All states, in the order of [`ConnectionState::index`].
    pub const ALL: [ConnectionState; 5] = [
        ConnectionState::Disconnected,
        ConnectionState::Connecting,
        ConnectionState::Connected,
        ConnectionState::Reconnecting,
        ConnectionState::Reconnected,
    ];

    /// Dense index for per-state counters.
    pub fn index(self) -> usize {
        self as usize
    }

    /// The SDK's name for the state.
    pub fn name(self) -> &'static str {
        match self {
            ConnectionState::Disconnected => "DISCONNECTED",
            ConnectionState::Connecting => "CONNECTING",
            ConnectionState::Connected => "CONNECTED",
            ConnectionState::Reconnecting => "RECONNECTING",
            ConnectionState::Reconnected => "RECONNECTED",
        }
    }

    /// Whether the participant counts as a member of its room.
    pub fn in_room(self) -> bool {
        matches!(
            self,
            ConnectionState::Connected | ConnectionState::Reconnected
        )
    }
}

impl fmt::Display for ConnectionState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a participant dropped to DISCONNECTED (the SDK's `info.reason`, plus its code).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DisconnectReason {
    /// It left (or a plain `disconnect` with no code).
    Leave,
    /// An admin kicked it (10006).
    KickedOut,
    /// An error; `code` is the RTC code, `None` for a transport or protocol failure that has none.
    Error {
        /// The RTC code, if any.
        code: Option<u32>,
    },
}

/// What happens to a participant's connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionEvent {
    /// `join()` called.
    JoinStarted,
    /// The server accepted the (re-)authentication.
    Accepted,
    /// The connection broke and the client starts restoring it.
    ConnectionLost,
    /// The session ended for this reason.
    Ended(DisconnectReason),
}

/// An event that does not fit the current state (e.g. join while CONNECTED).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{event:?} is not allowed in state {state}")]
pub struct IllegalTransition {
    /// The state it happened in.
    pub state: ConnectionState,
    /// The event.
    pub event: ConnectionEvent,
}

/// The next state after `event` in `state`.
pub fn next(
    state: ConnectionState,
    event: ConnectionEvent,
) -> Result<ConnectionState, IllegalTransition> {
    use ConnectionEvent as E;
    use ConnectionState as S;
    let to = match (state, event) {
        (S::Disconnected, E::JoinStarted) => S::Connecting,
        (S::Connecting, E::Accepted) => S::Connected,
        (S::Reconnecting, E::Accepted) => S::Reconnected,
        (S::Connected | S::Reconnected, E::ConnectionLost) => S::Reconnecting,
        (S::Connecting | S::Connected | S::Reconnecting | S::Reconnected, E::Ended(_)) => {
            S::Disconnected
        }
        _ => return Err(IllegalTransition { state, event }),
    };
    Ok(to)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ConnectionEvent as E;
    use ConnectionState as S;

    #[test]
    fn every_pair_of_state_and_event() {
        let events = [
            E::JoinStarted,
            E::Accepted,
            E::ConnectionLost,
            E::Ended(DisconnectReason::Leave),
            E::Ended(DisconnectReason::KickedOut),
            E::Ended(DisconnectReason::Error { code: Some(10011) }),
            E::Ended(DisconnectReason::Error { code: None }),
        ];
        // The complete table: (state, event index) → expected next state, None = illegal.
        let table: [(S, [Option<S>; 7]); 5] = [
            (
                S::Disconnected,
                [Some(S::Connecting), None, None, None, None, None, None],
            ),
            (
                S::Connecting,
                [
                    None,
                    Some(S::Connected),
                    None,
                    Some(S::Disconnected),
                    Some(S::Disconnected),
                    Some(S::Disconnected),
                    Some(S::Disconnected),
                ],
            ),
            (
                S::Connected,
                [
                    None,
                    None,
                    Some(S::Reconnecting),
                    Some(S::Disconnected),
                    Some(S::Disconnected),
                    Some(S::Disconnected),
                    Some(S::Disconnected),
                ],
            ),
            (
                S::Reconnecting,
                [
                    None,
                    Some(S::Reconnected),
                    None,
                    Some(S::Disconnected),
                    Some(S::Disconnected),
                    Some(S::Disconnected),
                    Some(S::Disconnected),
                ],
            ),
            (
                S::Reconnected,
                [
                    None,
                    None,
                    Some(S::Reconnecting),
                    Some(S::Disconnected),
                    Some(S::Disconnected),
                    Some(S::Disconnected),
                    Some(S::Disconnected),
                ],
            ),
        ];
        let mut checked = 0;
        for (state, row) in table {
            for (event, want) in events.iter().zip(row) {
                match (next(state, *event), want) {
                    (Ok(to), Some(w)) => assert_eq!(to, w, "{state} + {event:?}"),
                    (Err(e), None) => {
                        assert_eq!(
                            e,
                            IllegalTransition {
                                state,
                                event: *event
                            }
                        );
                        assert!(e.to_string().contains(state.name()));
                    }
                    (got, want) => panic!("{state} + {event:?}: got {got:?}, want {want:?}"),
                }
                checked += 1;
            }
        }
        assert_eq!(checked, S::ALL.len() * events.len());
    }

    #[test]
    fn a_full_lifecycle_walks_the_sdk_states() {
        let walk = [
            E::JoinStarted,
            E::Accepted,
            E::ConnectionLost,
            E::Accepted,
            E::Ended(DisconnectReason::Leave),
        ];
        let mut s = S::Disconnected;
        let mut seen = vec![s];
        for e in walk {
            s = next(s, e).unwrap();
            seen.push(s);
        }
        assert_eq!(
            seen.iter().map(|s| s.name()).collect::<Vec<_>>(),
            [
                "DISCONNECTED",
                "CONNECTING",
                "CONNECTED",
                "RECONNECTING",
                "RECONNECTED",
                "DISCONNECTED"
            ]
        );
        assert!(S::ALL.iter().enumerate().all(|(i, s)| s.index() == i));
        assert!(S::Connected.in_room() && S::Reconnected.in_room() && !S::Reconnecting.in_room());
    }
}
