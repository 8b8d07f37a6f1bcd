//! Signaling frames: `<cmd>=<json>` text, parsed into client messages and built for the server.
//!
//! Pure and allocation-light so that the session task stays a thin shell and every malformed input
//! has a table-driven test here rather than a crash in the network code.

use serde_json::{Map, Value, json};

/// A frame from a client, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientMessage {
    /// `auth={token, reconntoken?, playerdata?, rpcid}`: first join or re-auth.
    Auth(AuthRequest),
    /// `pong={}`: answer to our ping.
    Pong,
    /// `disconnect={}`: the client leaves the room.
    Disconnect,
    /// `control={command, playerid, rpcid}`: an admin action such as `kickplayer`.
    Control {
        /// Request id to echo.
        rpcid: String,
        /// `kickplayer` is the one command the server knows.
        command: String,
        /// Target user.
        playerid: String,
    },
    /// Any other command; requests (with an `rpcid`) get an error answer, notifications are ignored.
    Other {
        /// The command name.
        cmd: String,
        /// Its request id, if it is a request.
        rpcid: Option<String>,
    },
}

/// The fields of `auth` the server uses (the ~10 KB `capsdp` and the rest are ignored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthRequest {
    /// Request id to echo in `auth-res`.
    pub rpcid: String,
    /// The accessToken from the HTTP exchange.
    pub token: String,
    /// Present on re-auth: the value of the last successful `auth-res`.
    pub reconntoken: Option<String>,
    /// Application data shown to peers in `on-player-in`.
    pub playerdata: String,
}

/// Why a text frame could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// No `=` separates command and body.
    #[error("frame has no '=' between command and JSON body")]
    NoSeparator,
    /// Nothing before the `=`.
    #[error("empty command")]
    EmptyCommand,
    /// The body is not JSON.
    #[error("body is not valid JSON")]
    BadJson,
    /// The body is JSON but not an object.
    #[error("body is not a JSON object")]
    NotObject,
}

fn string_field(obj: &Map<String, Value>, key: &str) -> Option<String> {
    obj.get(key).and_then(Value::as_str).map(str::to_owned)
}

/// Decodes one text frame.
pub fn parse(text: &str) -> Result<ClientMessage, FrameError> {
    let (cmd, body) = text.split_once('=').ok_or(FrameError::NoSeparator)?;
    if cmd.is_empty() {
        return Err(FrameError::EmptyCommand);
    }
    let value: Value = serde_json::from_str(body).map_err(|_| FrameError::BadJson)?;
    let Value::Object(obj) = value else {
        return Err(FrameError::NotObject);
    };
    let rpcid = string_field(&obj, "rpcid");
    Ok(match cmd {
        "auth" => ClientMessage::Auth(AuthRequest {
            rpcid: rpcid.unwrap_or_default(),
            token: string_field(&obj, "token").unwrap_or_default(),
            reconntoken: string_field(&obj, "reconntoken").filter(|t| !t.is_empty()),
            playerdata: string_field(&obj, "playerdata").unwrap_or_default(),
        }),
        "pong" => ClientMessage::Pong,
        "disconnect" => ClientMessage::Disconnect,
        "control" => ClientMessage::Control {
            rpcid: rpcid.unwrap_or_default(),
            command: string_field(&obj, "command").unwrap_or_default(),
            playerid: string_field(&obj, "playerid").unwrap_or_default(),
        },
        other => ClientMessage::Other {
            cmd: other.to_owned(),
            rpcid,
        },
    })
}

fn frame(cmd: &str, body: &Value) -> String {
    format!("{cmd}={body}")
}

/// A member as listed in `auth-res.players`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Player {
    /// The member's user id.
    pub playerid: String,
    /// The member's application data.
    pub playerdata: String,
}

/// `auth-res` for a successful (re-)auth; `error` is omitted because a truthy one confuses the SDK.
pub fn auth_ok(rpcid: &str, reconntoken: &str, players: &[Player]) -> String {
    let players: Vec<Value> = players
        .iter()
        .map(|p| json!({"playerid": p.playerid, "playerdata": p.playerdata}))
        .collect();
    frame(
        "auth-res",
        &json!({"rpcid": rpcid, "code": 0, "reconntoken": reconntoken, "players": players, "tracks": []}),
    )
}

/// `<cmd>-res` carrying an error code.
pub fn error_res(cmd: &str, rpcid: &str, code: u32, error: &str) -> String {
    frame(
        &format!("{cmd}-res"),
        &json!({"rpcid": rpcid, "code": code, "error": error}),
    )
}

/// `control-res` for a kick that succeeded.
pub fn control_ok(rpcid: &str, command: &str, playerid: &str) -> String {
    frame(
        "control-res",
        &json!({"rpcid": rpcid, "code": 0, "error": "", "command": command, "playerid": playerid}),
    )
}

/// The heartbeat; the body must be valid JSON, so never a bare `ping`.
pub const PING: &str = "ping={}";

/// `on-player-in`: a member joined.
pub fn player_in(playerid: &str, playerdata: &str) -> String {
    frame(
        "on-player-in",
        &json!({"playerid": playerid, "playerdata": playerdata}),
    )
}

/// `on-player-out`: a member left, was kicked, evicted or timed out.
pub fn player_out(playerid: &str) -> String {
    frame("on-player-out", &json!({"playerid": playerid}))
}

/// `on-player-reconnect`: a member's socket dropped; it may come back within the window.
pub fn player_reconnect(playerid: &str) -> String {
    frame("on-player-reconnect", &json!({"playerid": playerid}))
}

/// `on-player-reconnect-in`: a member came back with its reconnect token.
pub fn player_reconnect_in(playerid: &str) -> String {
    frame("on-player-reconnect-in", &json!({"playerid": playerid}))
}

/// Server-initiated `disconnect` with a code (and the victim's id for kicks).
pub fn disconnect(code: u32, error: &str, kickedid: Option<&str>) -> String {
    let mut body = json!({"code": code, "error": error});
    if let Some(id) = kickedid {
        body["kickedid"] = json!(id);
    }
    frame("disconnect", &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_the_sdk_sends() {
        let auth = parse(
            r#"auth={"token":"a.b.c","agent":"x","capsdp":"v=0","playerdata":"d","rpcid":"0a1b2c3d"}"#,
        );
        assert_eq!(
            auth,
            Ok(ClientMessage::Auth(AuthRequest {
                rpcid: "0a1b2c3d".into(),
                token: "a.b.c".into(),
                reconntoken: None,
                playerdata: "d".into(),
            }))
        );
        let re = parse(r#"auth={"token":"t","reconntoken":"r1","rpcid":"1"}"#).unwrap();
        assert!(
            matches!(re, ClientMessage::Auth(AuthRequest { reconntoken: Some(ref r), .. }) if r == "r1")
        );
        assert_eq!(parse("pong={}"), Ok(ClientMessage::Pong));
        assert_eq!(parse("disconnect={}"), Ok(ClientMessage::Disconnect));
        assert_eq!(
            parse(r#"control={"command":"kickplayer","playerid":"bob","rpcid":"9"}"#),
            Ok(ClientMessage::Control {
                rpcid: "9".into(),
                command: "kickplayer".into(),
                playerid: "bob".into()
            })
        );
        assert_eq!(
            parse(r#"mute-tracks={"tracks":[]}"#),
            Ok(ClientMessage::Other {
                cmd: "mute-tracks".into(),
                rpcid: None
            })
        );
        // The JSON body may itself contain '=': only the first one splits.
        assert!(matches!(
            parse(r#"x={"a":"b=c","rpcid":"1"}"#),
            Ok(ClientMessage::Other { .. })
        ));
    }

    #[test]
    fn rejects_malformed_frames() {
        let cases = [
            ("ping", FrameError::NoSeparator),
            ("=", FrameError::EmptyCommand),
            ("={}", FrameError::EmptyCommand),
            ("ping=", FrameError::BadJson),
            ("auth={", FrameError::BadJson),
            ("auth=[1]", FrameError::NotObject),
            ("auth=\"s\"", FrameError::NotObject),
        ];
        for (text, err) in cases {
            assert_eq!(parse(text), Err(err), "{text:?}");
        }
    }

    #[test]
    fn builds_frames_the_client_understands() {
        let players = [Player {
            playerid: "A".into(),
            playerdata: "dA".into(),
        }];
        let ok = auth_ok("r1", "t1", &players);
        let (cmd, body) = ok.split_once('=').unwrap();
        assert_eq!(cmd, "auth-res");
        let v: Value = serde_json::from_str(body).unwrap();
        assert_eq!(v["code"], 0);
        assert!(
            v.get("error").is_none(),
            "a truthy error makes the SDK re-join"
        );
        assert_eq!(v["players"][0]["playerid"], "A");
        assert_eq!(PING, "ping={}");
        let kick = disconnect(10006, "kicked", Some("bob"));
        assert_eq!(
            kick,
            r#"disconnect={"code":10006,"error":"kicked","kickedid":"bob"}"#
        );
        assert_eq!(player_out("x"), r#"on-player-out={"playerid":"x"}"#);
    }
}
