//! RTC error codes shared by the reference server, the client drivers and the reports.
//!
//! One table so the server answers, the participant counts and the report labels the same number
//! with the same meaning. Messages are the ones the Web SDK 4.3.1 shows to applications
//! (`../docs/protocol.md`, section "Codes").

/// Room token invalid: bad signature, unknown access key, malformed token or names.
pub const TOKEN_INVALID: u32 = 10001;
/// Room token expired at auth or re-auth.
pub const TOKEN_EXPIRED: u32 = 10002;
/// Reconnect token unknown or its reconnect window has passed.
pub const RECONNECT_TOKEN_EXPIRED: u32 = 10004;
/// Kicked out by an admin (management API or an admin client's `control`).
pub const KICKED: u32 = 10006;
/// The client gave up reconnecting; produced by clients, never sent by a server.
pub const RECONNECT_FAILED: u32 = 10007;
/// The room is at its app's `maxUsers`.
pub const ROOM_FULL: u32 = 10011;
/// The room was closed (or is refusing joins after a close).
pub const ROOM_CLOSED: u32 = 10012;
/// The same user logged in elsewhere.
pub const DUPLICATE_LOGIN: u32 = 10022;
/// A client asked for something its token does not permit (non-admin kick).
pub const NO_PERMISSION: u32 = 10051;
/// A request the server cannot parse or does not allow in the socket's state.
pub const BAD_REQUEST: u32 = 10053;
/// Reconnect timed out or the room was destroyed: the Web SDK's join-promise view of a failed auth.
pub const RECONNECT_TIMED_OUT: u32 = 21003;

/// The text an application sees for a code, as the Web SDK words it (English gloss).
pub fn message(code: u32) -> &'static str {
    match code {
        0 => "ok",
        TOKEN_INVALID => "token invalid",
        TOKEN_EXPIRED => "token expired",
        RECONNECT_TOKEN_EXPIRED => "reconnect token expired",
        KICKED => "kicked out",
        RECONNECT_FAILED => "reconnect failed",
        ROOM_FULL => "room full",
        ROOM_CLOSED => "room closed",
        DUPLICATE_LOGIN => "user logged in elsewhere",
        NO_PERMISSION => "no permission",
        BAD_REQUEST => "bad request",
        RECONNECT_TIMED_OUT => "reconnect timed out or room destroyed",
        _ => "unexpected error",
    }
}

/// Every code the reference server can put in an `auth-res` or `disconnect` frame.
pub const SERVER_CODES: [u32; 9] = [
    TOKEN_INVALID,
    TOKEN_EXPIRED,
    RECONNECT_TOKEN_EXPIRED,
    KICKED,
    ROOM_FULL,
    ROOM_CLOSED,
    DUPLICATE_LOGIN,
    NO_PERMISSION,
    BAD_REQUEST,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_server_code_has_its_own_message() {
        let mut seen = std::collections::HashSet::new();
        for code in SERVER_CODES {
            let text = message(code);
            assert_ne!(text, "unexpected error", "code {code}");
            assert!(seen.insert(text), "message for {code} repeats");
        }
        assert_eq!(message(12345), "unexpected error");
    }
}
