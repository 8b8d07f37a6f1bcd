//! The Qiniu-compatible signaling the Web SDK speaks (`docs/protocol.md`): an HTTP exchange of
//! the room token for an access token, then `<cmd>=<json>` text frames over one WebSocket.

use std::borrow::Cow;

use base64::Engine as _;
use serde::Deserialize;

use super::{Action, DriverError, JoinRequest, Peer, RoomEvent, SignalingDriver};

/// Driver state for one participant.
#[derive(Debug, Default)]
pub struct QiniuDriver {
    user: String,
    user_data: String,
    access_token: String,
    reconntoken: String,
    signaling_url: String,
    auth_rpcid: String,
    next_rpcid: u32,
}

#[derive(Deserialize)]
struct Body<'a> {
    #[serde(default)]
    code: Option<u32>,
    #[serde(default, borrow)]
    rpcid: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    reconntoken: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    players: Option<Vec<PlayerJson<'a>>>,
    #[serde(default, borrow)]
    playerid: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    playerdata: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct PlayerJson<'a> {
    #[serde(borrow)]
    playerid: Cow<'a, str>,
    #[serde(default, borrow)]
    playerdata: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct AuthAnswer {
    #[serde(rename = "accessToken")]
    access_token: String,
}

#[derive(Deserialize)]
struct AccessPayload {
    signalingurl2: Option<String>,
    #[serde(rename = "roomServers", default)]
    room_servers: Vec<RoomServer>,
}

#[derive(Deserialize)]
struct RoomServer {
    url: String,
}

impl QiniuDriver {
    fn rpcid(&mut self) -> String {
        self.next_rpcid = self.next_rpcid.wrapping_add(1);
        format!("{:08x}", self.next_rpcid)
    }

    /// The reconnect token of the last successful `auth-res` (used by re-auth).
    pub fn reconntoken(&self) -> &str {
        &self.reconntoken
    }
}

fn bad(what: impl Into<String>) -> DriverError {
    DriverError::BadAnswer(what.into())
}

fn user_id(field: Option<Cow<'_, str>>, cmd: &str) -> Result<String, DriverError> {
    field
        .map(Cow::into_owned)
        .ok_or_else(|| bad(format!("{cmd} without playerid")))
}

impl SignalingDriver for QiniuDriver {
    fn begin_join(&mut self, join: &JoinRequest) -> Action {
        self.user.clone_from(&join.user);
        self.user_data.clone_from(&join.user_data);
        // As the Web SDK does: the room token goes into the query as is, not percent-encoded.
        Action::Fetch {
            url: format!(
                "{}/v3/apps/{}/rooms/{}/auth?user={}&token={}",
                join.base_url, join.app, join.room, join.user, join.room_token
            ),
        }
    }

    fn on_http_answer(&mut self, status: u16, body: &[u8]) -> Result<Action, DriverError> {
        if !(200..300).contains(&status) {
            return Err(DriverError::HttpStatus { status });
        }
        let answer: AuthAnswer = serde_json::from_slice(body)
            .map_err(|e| bad(format!("token exchange answer is not {{accessToken}}: {e}")))?;
        let payload = answer
            .access_token
            .split('.')
            .nth(1)
            .ok_or_else(|| bad("accessToken has no payload segment"))?;
        let json = base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(payload.trim_end_matches('='))
            .map_err(|_| bad("accessToken payload is not standard base64"))?;
        let claims: AccessPayload = serde_json::from_slice(&json)
            .map_err(|e| bad(format!("accessToken payload is not JSON: {e}")))?;
        // The SDK prefers roomServers when present; the first listed stands in for "first to open".
        let url = claims
            .room_servers
            .into_iter()
            .map(|s| s.url)
            .next()
            .or(claims.signalingurl2)
            .ok_or_else(|| bad("accessToken names no signalingurl2"))?;
        self.access_token = answer.access_token;
        self.signaling_url.clone_from(&url);
        Ok(Action::Open { url })
    }

    fn on_socket_open(&mut self, out: &mut Vec<String>) {
        self.auth_rpcid = self.rpcid();
        let mut auth = serde_json::json!({
            "token": self.access_token,
            "agent": "roomstorm",
            "sdkversion": "4.3.1",
            "supportdomain": true,
            "privileges": ["subscribe", "publish"],
            "playerdata": self.user_data,
            "rpcid": self.auth_rpcid,
        });
        if !self.reconntoken.is_empty() {
            auth["reconntoken"] = self.reconntoken.clone().into();
        }
        out.push(format!("auth={auth}"));
    }

    fn on_text(
        &mut self,
        text: &str,
        out: &mut Vec<String>,
    ) -> Result<Option<RoomEvent>, DriverError> {
        let (cmd, json) = text
            .split_once('=')
            .ok_or_else(|| bad("frame without '='"))?;
        if cmd == "ping" {
            out.push("pong={}".to_string());
            return Ok(Some(RoomEvent::Heartbeat));
        }
        let body: Body<'_> = serde_json::from_str(json)
            .map_err(|e| bad(format!("{cmd} body is not the expected JSON: {e}")))?;
        Ok(Some(match cmd {
            "auth-res" => {
                if body.rpcid.as_deref() != Some(self.auth_rpcid.as_str()) {
                    return Err(bad("auth-res for another rpcid"));
                }
                match body.code {
                    Some(0) => {
                        if let Some(t) = body.reconntoken {
                            self.reconntoken = t.into_owned();
                        }
                        let peers = body
                            .players
                            .unwrap_or_default()
                            .into_iter()
                            .filter(|p| p.playerid != self.user)
                            .map(|p| Peer {
                                user: p.playerid.into_owned(),
                                data: p.playerdata.map(Cow::into_owned).unwrap_or_default(),
                            })
                            .collect();
                        RoomEvent::Joined { peers }
                    }
                    Some(code) => RoomEvent::JoinRefused { code },
                    None => return Err(bad("auth-res without code")),
                }
            }
            "on-player-in" => RoomEvent::UserJoined(Peer {
                user: user_id(body.playerid, cmd)?,
                data: body.playerdata.map(Cow::into_owned).unwrap_or_default(),
            }),
            "on-player-out" => RoomEvent::UserLeft {
                user: user_id(body.playerid, cmd)?,
            },
            "on-player-reconnect" => RoomEvent::UserReconnecting {
                user: user_id(body.playerid, cmd)?,
            },
            "on-player-reconnect-in" => RoomEvent::UserReconnected {
                user: user_id(body.playerid, cmd)?,
            },
            // `disconnect={}` (no code) is a plain leave: the SDK reports LEAVE.
            "disconnect" => RoomEvent::Disconnected {
                code: body.code.unwrap_or(0),
            },
            // The SDK ignores commands it does not know.
            _ => return Ok(None),
        }))
    }

    fn leave(&mut self, out: &mut Vec<String>) {
        out.push("disconnect={}".to_string());
    }

    /// As the Web SDK does: the same signaling URL with `rpcid=<16 hex>` added, the same
    /// access token (no new token exchange) and the last reconnect token.
    fn resume(&mut self, nonce: u64) -> Option<Action> {
        if self.reconntoken.is_empty() || self.signaling_url.is_empty() {
            return None;
        }
        let sep = if self.signaling_url.contains('?') {
            '&'
        } else {
            '?'
        };
        Some(Action::Open {
            url: format!("{}{sep}rpcid={nonce:016x}", self.signaling_url),
        })
    }

    /// The SDK re-announces its (here: no) tracks after a re-auth.
    fn resumed(&mut self, out: &mut Vec<String>) {
        out.push(r#"mute-tracks={"tracks":[]}"#.to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::frame;

    fn joined_driver() -> QiniuDriver {
        let mut d = QiniuDriver::default();
        let join = JoinRequest {
            base_url: "http://127.0.0.1:9".into(),
            app: "app1".into(),
            room: "r1".into(),
            user: "alice".into(),
            room_token: "ak:sig=:payload=".into(),
            user_data: "da".into(),
            room_number: 0,
        };
        assert_eq!(
            d.begin_join(&join),
            Action::Fetch {
                url: "http://127.0.0.1:9/v3/apps/app1/rooms/r1/auth?user=alice&token=ak:sig=:payload=".into()
            }
        );
        // What the reference server hands out: a JWT whose payload names the signaling URL.
        let claims = base64::engine::general_purpose::STANDARD
            .encode(br#"{"signalingurl2":"ws://127.0.0.1:9/signaling"}"#);
        let body = format!(r#"{{"accessToken":"h.{claims}.s"}}"#);
        assert_eq!(
            d.on_http_answer(200, body.as_bytes()).unwrap(),
            Action::Open {
                url: "ws://127.0.0.1:9/signaling".into()
            }
        );
        d
    }

    #[test]
    fn resume_reopens_the_same_url_with_rpcid_and_reauths_with_the_reconntoken() {
        let mut d = joined_driver();
        assert_eq!(
            d.resume(1),
            None,
            "nothing to resume before a successful auth"
        );
        let mut out = Vec::new();
        d.on_socket_open(&mut out);
        let frame::ClientMessage::Auth(first) = frame::parse(&out[0]).unwrap() else {
            panic!("auth expected")
        };
        let res = frame::auth_ok(&first.rpcid, "t1", &[]);
        assert!(matches!(
            d.on_text(&res, &mut out),
            Ok(Some(RoomEvent::Joined { .. }))
        ));
        assert_eq!(
            d.resume(0xab),
            Some(Action::Open {
                url: "ws://127.0.0.1:9/signaling?rpcid=00000000000000ab".into()
            })
        );
        out.clear();
        d.on_socket_open(&mut out);
        let frame::ClientMessage::Auth(again) = frame::parse(&out[0]).unwrap() else {
            panic!("auth expected")
        };
        assert_eq!(
            again.token, first.token,
            "same access token, no new exchange"
        );
        assert_eq!(again.reconntoken.as_deref(), Some("t1"));
        assert_ne!(again.rpcid, first.rpcid);
        // A refusal of the re-auth is reported with its code; a success hands a new token.
        let refused = frame::error_res("auth", &again.rpcid, 10004, "expired");
        assert_eq!(
            d.on_text(&refused, &mut out).unwrap(),
            Some(RoomEvent::JoinRefused { code: 10004 })
        );
        out.clear();
        d.resumed(&mut out);
        assert_eq!(out, [r#"mute-tracks={"tracks":[]}"#]);
    }

    #[test]
    fn join_sequence_against_the_servers_own_frames() {
        let mut d = joined_driver();
        let mut out = Vec::new();
        d.on_socket_open(&mut out);
        assert_eq!(out.len(), 1);
        let auth = frame::parse(&out[0]).unwrap();
        let frame::ClientMessage::Auth(auth) = auth else {
            panic!("{auth:?}")
        };
        assert_eq!(auth.playerdata, "da");
        assert!(auth.reconntoken.is_none());
        let players = [
            frame::Player {
                playerid: "alice".into(),
                playerdata: "da".into(),
            },
            frame::Player {
                playerid: "bob".into(),
                playerdata: "db".into(),
            },
        ];
        let res = frame::auth_ok(&auth.rpcid, "t1", &players);
        let ev = d.on_text(&res, &mut out).unwrap();
        assert_eq!(
            ev,
            Some(RoomEvent::Joined {
                peers: vec![Peer {
                    user: "bob".into(),
                    data: "db".into()
                }]
            })
        );
        assert_eq!(d.reconntoken(), "t1");
        let cases = [
            (
                frame::player_in("carol", "dc"),
                RoomEvent::UserJoined(Peer {
                    user: "carol".into(),
                    data: "dc".into(),
                }),
            ),
            (
                frame::player_out("bob"),
                RoomEvent::UserLeft { user: "bob".into() },
            ),
            (
                frame::player_reconnect("carol"),
                RoomEvent::UserReconnecting {
                    user: "carol".into(),
                },
            ),
            (
                frame::player_reconnect_in("carol"),
                RoomEvent::UserReconnected {
                    user: "carol".into(),
                },
            ),
            (
                frame::disconnect(10022, "elsewhere", None),
                RoomEvent::Disconnected { code: 10022 },
            ),
            (
                frame::disconnect(10006, "kicked", Some("alice")),
                RoomEvent::Disconnected { code: 10006 },
            ),
            (
                "disconnect={}".to_string(),
                RoomEvent::Disconnected { code: 0 },
            ),
        ];
        for (text, want) in cases {
            assert_eq!(d.on_text(&text, &mut out).unwrap(), Some(want), "{text}");
        }
        out.clear();
        assert_eq!(
            d.on_text("ping={}", &mut out).unwrap(),
            Some(RoomEvent::Heartbeat)
        );
        assert_eq!(out, ["pong={}"]);
        assert_eq!(
            d.on_text(r#"mute-tracks={"tracks":[]}"#, &mut out).unwrap(),
            None
        );
        out.clear();
        d.leave(&mut out);
        assert_eq!(out, ["disconnect={}"]);
        // A re-auth carries the reconnect token.
        out.clear();
        d.on_socket_open(&mut out);
        assert!(out[0].contains(r#""reconntoken":"t1""#), "{}", out[0]);
    }

    #[test]
    fn refusals_and_protocol_violations() {
        let mut d = joined_driver();
        let mut out = Vec::new();
        d.on_socket_open(&mut out);
        let rpcid = format!("{:08x}", 1);
        let refused = frame::error_res("auth", &rpcid, 10011, "room full");
        assert_eq!(
            d.on_text(&refused, &mut out).unwrap(),
            Some(RoomEvent::JoinRefused { code: 10011 })
        );
        for bad_frame in [
            "no separator",
            "auth-res=not json",
            r#"auth-res={"rpcid":"ffffffff","code":0}"#,
            r#"auth-res={"rpcid":"00000001"}"#,
            "on-player-in={}",
        ] {
            assert!(d.on_text(bad_frame, &mut out).is_err(), "{bad_frame}");
        }
        let mut d = QiniuDriver::default();
        assert_eq!(
            d.on_http_answer(503, b""),
            Err(DriverError::HttpStatus { status: 503 })
        );
        for body in [
            &b"{}"[..],
            b"{\"accessToken\":\"nodots\"}",
            b"{\"accessToken\":\"h.!!.s\"}",
            b"{\"accessToken\":\"h.e30.s\"}",
        ] {
            assert!(
                d.on_http_answer(200, body).is_err(),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }
}
