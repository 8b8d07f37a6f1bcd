//! Signaling frames: `<cmd>=<json>` text, parsed into client messages and built for the server.
//!
//! Pure and allocation-light so that the session task stays a thin shell and every malformed input
//! has a table-driven test here rather than a crash in the network code.

use std::borrow::Cow;

#[cfg(test)]
use serde_json::Value;

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

/// The fields any client frame may carry; everything else (the ~10 KB `capsdp`) is skipped
/// without building a JSON tree.
#[derive(serde::Deserialize)]
struct Body<'a> {
    #[serde(borrow, default)]
    rpcid: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    token: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    reconntoken: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    playerdata: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    command: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    playerid: Option<Cow<'a, str>>,
}

fn owned(field: Option<Cow<'_, str>>) -> String {
    field.map(Cow::into_owned).unwrap_or_default()
}

/// Decodes one text frame.
pub fn parse(text: &str) -> Result<ClientMessage, FrameError> {
    let (cmd, body) = text.split_once('=').ok_or(FrameError::NoSeparator)?;
    if cmd.is_empty() {
        return Err(FrameError::EmptyCommand);
    }
    let body: Body<'_> = match serde_json::from_str(body) {
        Ok(body) => body,
        // Tell "valid JSON but not an object" apart from "not JSON" for the close reason.
        Err(_) => {
            return Err(match serde_json::from_str::<serde::de::IgnoredAny>(body) {
                Ok(_) => FrameError::NotObject,
                Err(_) => FrameError::BadJson,
            });
        }
    };
    Ok(match cmd {
        "auth" => ClientMessage::Auth(AuthRequest {
            rpcid: owned(body.rpcid),
            token: owned(body.token),
            reconntoken: body
                .reconntoken
                .filter(|t| !t.is_empty())
                .map(Cow::into_owned),
            playerdata: owned(body.playerdata),
        }),
        "pong" => ClientMessage::Pong,
        "disconnect" => ClientMessage::Disconnect,
        "control" => ClientMessage::Control {
            rpcid: owned(body.rpcid),
            command: owned(body.command),
            playerid: owned(body.playerid),
        },
        other => ClientMessage::Other {
            cmd: other.to_owned(),
            rpcid: body.rpcid.map(Cow::into_owned),
        },
    })
}

/// A JSON string literal (quoted, escaped).
fn js(s: &str) -> String {
    serde_json::to_string(s).expect("strings serialize")
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
    let mut out = format!(
        "auth-res={{\"rpcid\":{},\"code\":0,\"reconntoken\":{},\"players\":[",
        js(rpcid),
        js(reconntoken)
    );
    for (i, p) in players.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&format!(
            "{{\"playerid\":{},\"playerdata\":{}}}",
            js(&p.playerid),
            js(&p.playerdata)
        ));
    }
    out.push_str("],\"tracks\":[]}");
    out
}

/// `<cmd>-res` carrying an error code.
pub fn error_res(cmd: &str, rpcid: &str, code: u32, error: &str) -> String {
    format!(
        "{cmd}-res={{\"rpcid\":{},\"code\":{code},\"error\":{}}}",
        js(rpcid),
        js(error)
    )
}

/// `control-res` for a kick that succeeded.
pub fn control_ok(rpcid: &str, command: &str, playerid: &str) -> String {
    format!(
        "control-res={{\"rpcid\":{},\"code\":0,\"error\":\"\",\"command\":{},\"playerid\":{}}}",
        js(rpcid),
        js(command),
        js(playerid)
    )
}

/// The heartbeat; the body must be valid JSON, so never a bare `ping`.
pub const PING: &str = "ping={}";

/// `on-player-in`: a member joined.
pub fn player_in(playerid: &str, playerdata: &str) -> String {
    format!(
        "on-player-in={{\"playerid\":{},\"playerdata\":{}}}",
        js(playerid),
        js(playerdata)
    )
}

/// `on-player-out`: a member left, was kicked, evicted or timed out.
pub fn player_out(playerid: &str) -> String {
    format!("on-player-out={{\"playerid\":{}}}", js(playerid))
}

/// `on-player-reconnect`: a member's socket dropped; it may come back within the window.
pub fn player_reconnect(playerid: &str) -> String {
    format!("on-player-reconnect={{\"playerid\":{}}}", js(playerid))
}

/// `on-player-reconnect-in`: a member came back with its reconnect token.
pub fn player_reconnect_in(playerid: &str) -> String {
    format!("on-player-reconnect-in={{\"playerid\":{}}}", js(playerid))
}

/// Server-initiated `disconnect` with a code (and the victim's id for kicks).
pub fn disconnect(code: u32, error: &str, kickedid: Option<&str>) -> String {
    match kickedid {
        Some(id) => format!(
            "disconnect={{\"code\":{code},\"error\":{},\"kickedid\":{}}}",
            js(error),
            js(id)
        ),
        None => format!("disconnect={{\"code\":{code},\"error\":{}}}", js(error)),
    }
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
    fn random_input_never_panics() {
        use rand::{RngExt, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let alphabet = b"auth=pongdisconnect{}[]\":,=\\0123456789 \n\xc3\xa9rpcid";
        for _ in 0..20_000 {
            let len = rng.random_range(0..64);
            let bytes: Vec<u8> = (0..len)
                .map(|_| alphabet[rng.random_range(0..alphabet.len())])
                .collect();
            let _ = parse(&String::from_utf8_lossy(&bytes));
        }
    }

    #[test]
    fn built_frames_are_valid_json_whatever_the_strings() {
        let nasty = "q\"uote\\ \u{1}ctl 日本 </script>";
        let players = [Player {
            playerid: "a".into(),
            playerdata: nasty.into(),
        }];
        let frames = [
            auth_ok(nasty, nasty, &players),
            error_res("auth", nasty, 10001, nasty),
            control_ok(nasty, "kickplayer", nasty),
            player_in(nasty, nasty),
            player_out(nasty),
            player_reconnect(nasty),
            player_reconnect_in(nasty),
            disconnect(10006, nasty, Some(nasty)),
        ];
        for f in frames {
            let (_, body) = f.split_once('=').unwrap();
            let v: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{f}: {e}"));
            let texts: Vec<&str> = v
                .as_object()
                .unwrap()
                .values()
                .filter_map(Value::as_str)
                .collect();
            assert!(
                texts.contains(&nasty) || v["players"][0]["playerdata"] == nasty,
                "{f}"
            );
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
