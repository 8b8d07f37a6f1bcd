//! Janus as a run's target: the run's own control session on Janus, beside the participants'.
//!
//! Janus has no HTTP management API on the WebSocket transport: rooms are created, listed,
//! destroyed and members kicked through a VideoRoom handle like the participants'. So the run
//! opens one [`Control`] session before any load, creates its rooms (`permanent: false`,
//! `notify_joining: true`, numbered uniquely for the run, with a secret only the run knows),
//! uses it for server-side faults (destroy a room, kick a member), and destroys the rooms at the
//! end, also after Ctrl-C. Tests use the same session to read `listparticipants`.
//!
//! One task owns the socket: requests come over a channel from any thread (participants kick
//! from their worker threads) and answers are matched by transaction, so calls may overlap. The
//! task keeps the session alive while it is idle. The room secret and the token are never
//! printed: `Debug` shows neither, and errors carry Janus's codes and reasons only.

use std::collections::HashMap;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message;

use crate::signaling::janus::driver::{PLUGIN, SUBPROTOCOL};
use crate::transport::{self, SourcePool};

/// The environment variable that gives the rooms' secret (shards of one run share it, so that
/// any shard can destroy any room; set it alike on every machine of a `--shard I/N` run). Unset:
/// a random secret per run.
pub const ROOM_SECRET_ENV: &str = "ROOMSTORM_JANUS_ROOM_SECRET";

/// How long one control request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Keepalive of the control session while idle (Janus's default session timeout is 60 s).
const KEEPALIVE: Duration = Duration::from_secs(20);
/// Room requests in flight at once while creating or destroying a run's rooms.
const IN_FLIGHT: usize = 64;

/// Why a control request failed: Janus's code and reason, or the transport's error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ControlError {
    /// Janus refused: a core `error` (403 token, 458 session) or a VideoRoom `error_code`.
    #[error("Janus refused {what}: {code} {reason}")]
    Refused {
        /// The request (`create room 12`, …).
        what: String,
        /// Janus's code.
        code: u32,
        /// Janus's reason.
        reason: String,
    },
    /// The socket could not be opened, broke, or an answer did not come in time.
    #[error("Janus control session: {0}")]
    Transport(String),
}

impl ControlError {
    /// Janus's code, when it refused.
    pub fn code(&self) -> Option<u32> {
        match self {
            Self::Refused { code, .. } => Some(*code),
            Self::Transport(_) => None,
        }
    }
}

/// A request for the task: a frame without its transaction, and where the answer goes.
struct Call {
    frame: Value,
    reply: oneshot::Sender<Result<Value, ControlError>>,
}

/// The session a frame names, once there is one (what the task's keepalives need).
fn session_of(frame: &Value) -> Option<u64> {
    frame["session_id"].as_u64()
}

/// The run's control session on Janus (cheap to clone: a channel to the task that owns it).
#[derive(Clone)]
pub struct Control {
    calls: mpsc::UnboundedSender<Call>,
    /// The secret of the rooms this session creates (destroy and kick need it).
    room_secret: std::sync::Arc<str>,
    token: Option<std::sync::Arc<str>>,
    /// The session and the VideoRoom handle (0 until created).
    session: u64,
    handle: u64,
}

impl std::fmt::Debug for Control {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Control")
            .field("token", &self.token.as_ref().map(|_| "(set)"))
            .finish_non_exhaustive()
    }
}

impl Control {
    /// Opens a session with a VideoRoom handle at `url` (`ws://`), presenting `token` on every
    /// request when Janus checks tokens. The task runs on the current Tokio runtime.
    pub async fn connect(url: &str, token: Option<String>) -> Result<Self, ControlError> {
        let ws = transport::ws_open(&SourcePool::default(), url, Some(SUBPROTOCOL))
            .await
            .map_err(|e| ControlError::Transport(e.to_string()))?;
        let token = token.map(std::sync::Arc::<str>::from);
        let (calls, rx) = mpsc::unbounded_channel();
        tokio::spawn(own_socket(ws, rx, token.clone()));
        let mut control = Self {
            calls,
            room_secret: std::env::var(ROOM_SECRET_ENV)
                .ok()
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| crate::ids::random_hex(16))
                .into(),
            token,
            session: 0,
            handle: 0,
        };
        control.session = id_of(
            &control
                .call(json!({"janus": "create"}), "create session")
                .await?,
        )?;
        let attach = json!({"janus": "attach", "plugin": PLUGIN});
        control.handle = id_of(&control.call(attach, "attach").await?)?;
        Ok(control)
    }

    /// Sends a VideoRoom request (`body`) on the control handle: the plugin's answer (`data`).
    pub async fn request(&self, body: Value, what: &str) -> Result<Value, ControlError> {
        self.call(json!({"janus": "message", "body": body}), what)
            .await
            .map(|mut answer| answer["plugindata"]["data"].take())
    }

    /// Sends `frame` on the session (and the handle, for plugin messages): Janus's answer.
    async fn call(&self, mut frame: Value, what: &str) -> Result<Value, ControlError> {
        if self.session != 0 {
            frame["session_id"] = json!(self.session);
        }
        if frame["janus"] == "message" {
            frame["handle_id"] = json!(self.handle);
        }
        let (reply, answer) = oneshot::channel();
        let gone = || ControlError::Transport("the control session has ended".into());
        self.calls.send(Call { frame, reply }).map_err(|_| gone())?;
        let answer = tokio::time::timeout(REQUEST_TIMEOUT, answer)
            .await
            .map_err(|_| ControlError::Transport(format!("no answer to {what} in time")))?
            .map_err(|_| gone())??;
        judge(what, answer)
    }

    /// Creates room `number` for the run: not saved to Janus's config, announcing joins, with
    /// the run's secret; `description` is the scenario's room name. `publishers` is the room's
    /// limit on members with media up (Janus's default is 3; the next publisher gets
    /// 432, which roomstorm reports as 10011).
    pub async fn create_room(
        &self,
        number: u64,
        description: &str,
        publishers: u32,
    ) -> Result<(), ControlError> {
        let body = json!({"request": "create", "room": number, "description": description,
            "permanent": false, "notify_joining": true, "is_private": false,
            "publishers": publishers, "secret": self.room_secret.as_ref()});
        self.request(body, &format!("create room {number}"))
            .await
            .map(drop)
    }

    /// Destroys room `number` (its members get `destroyed`); `false`: it did not exist (426).
    pub async fn destroy_room(&self, number: u64) -> Result<bool, ControlError> {
        let body = json!({"request": "destroy", "room": number, "permanent": false,
            "secret": self.room_secret.as_ref()});
        match self.request(body, &format!("destroy room {number}")).await {
            Ok(_) => Ok(true),
            Err(e) if e.code() == Some(426) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Kicks member `id` out of room `number`.
    pub async fn kick(&self, number: u64, id: u64) -> Result<(), ControlError> {
        let body = json!({"request": "kick", "room": number, "id": id,
            "secret": self.room_secret.as_ref()});
        self.request(body, &format!("kick {id} from room {number}"))
            .await
            .map(drop)
    }

    /// The members of room `number` as Janus lists them: (id, display).
    pub async fn participants(&self, number: u64) -> Result<Vec<(u64, String)>, ControlError> {
        Ok(self
            .listed(number)
            .await?
            .iter()
            .map(|p| {
                (
                    p["id"].as_u64().unwrap_or(0),
                    p["display"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect())
    }

    /// The display names of room `number`'s members whose media is up (`publisher: true`):
    /// Janus's own view of who publishes, to cross-check a media run against.
    pub async fn publishers(&self, number: u64) -> Result<Vec<String>, ControlError> {
        Ok(self
            .listed(number)
            .await?
            .iter()
            .filter(|p| p["publisher"] == true)
            .map(|p| p["display"].as_str().unwrap_or_default().to_owned())
            .collect())
    }

    /// `listparticipants` of room `number`: Janus's entries as it sends them.
    async fn listed(&self, number: u64) -> Result<Vec<Value>, ControlError> {
        let body = json!({"request": "listparticipants", "room": number});
        let mut data = self
            .request(body, &format!("list participants of room {number}"))
            .await?;
        Ok(match data["participants"].take() {
            Value::Array(list) => list,
            _ => Vec::new(),
        })
    }

    /// The numbers of the public rooms Janus has now.
    pub async fn rooms(&self) -> Result<Vec<u64>, ControlError> {
        let data = self
            .request(json!({"request": "list"}), "list rooms")
            .await?;
        Ok(data["list"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| r["room"].as_u64())
            .collect())
    }

    /// Creates `rooms` (number, name), each taking up to `publishers` publishers, 64 requests
    /// in flight at once; stops at the first refusal.
    pub async fn create_rooms(
        &self,
        rooms: &[(u64, String)],
        publishers: u32,
    ) -> Result<(), ControlError> {
        for chunk in rooms.chunks(IN_FLIGHT) {
            let calls = chunk
                .iter()
                .map(|(n, name)| self.create_room(*n, name, publishers));
            for r in futures_util::future::join_all(calls).await {
                r?;
            }
        }
        Ok(())
    }

    /// Destroys `rooms`: how many existed still, and what failed.
    pub async fn destroy_rooms(&self, rooms: &[u64]) -> (usize, Vec<ControlError>) {
        let (mut destroyed, mut failed) = (0, Vec::new());
        for chunk in rooms.chunks(IN_FLIGHT) {
            let calls = chunk.iter().map(|n| self.destroy_room(*n));
            for r in futures_util::future::join_all(calls).await {
                match r {
                    Ok(true) => destroyed += 1,
                    Ok(false) => {}
                    Err(e) => failed.push(e),
                }
            }
        }
        (destroyed, failed)
    }

    /// Ends the session (its handle goes with it).
    pub async fn close(&self) -> Result<(), ControlError> {
        self.call(json!({"janus": "destroy"}), "destroy session")
            .await
            .map(drop)
    }
}

/// Where a run's room numbers start: a multiple of 2^20 below 2^52, so a run's rooms (at most a
/// million) stay below 2^53, where every JSON reader holds them exactly. Random, so that runs on
/// one Janus never share a room; shards of one run derive it from their common start (`seed`),
/// so that any shard can name any room.
pub fn room_base(seed: Option<u64>) -> u64 {
    let x = match seed {
        Some(s) => {
            // splitmix64: spreads nearby seeds (start times) over the whole range.
            let mut z = s.wrapping_add(0x9e37_79b9_7f4a_7c15);
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        }
        None => u64::from_str_radix(&crate::ids::random_hex(8), 16).unwrap_or(1),
    };
    (x % (1 << 32)) << 20
}

/// `Ok(answer)` for `success` (and a plugin answer without `error_code`), else the refusal.
fn judge(what: &str, answer: Value) -> Result<Value, ControlError> {
    let refused = |code: &Value, reason: &Value| ControlError::Refused {
        what: what.to_owned(),
        code: code.as_u64().unwrap_or(0) as u32,
        reason: reason.as_str().unwrap_or_default().to_owned(),
    };
    if answer["janus"] == "error" {
        return Err(refused(
            &answer["error"]["code"],
            &answer["error"]["reason"],
        ));
    }
    let data = &answer["plugindata"]["data"];
    if !data["error_code"].is_null() {
        return Err(refused(&data["error_code"], &data["error"]));
    }
    Ok(answer)
}

fn id_of(answer: &Value) -> Result<u64, ControlError> {
    answer["data"]["id"]
        .as_u64()
        .ok_or_else(|| ControlError::Transport(format!("no id in {answer}")))
}

/// The task that owns the control socket: sends calls with fresh transactions (and the token),
/// routes answers back, and keeps the session the calls name alive while idle. Ends when every
/// [`Control`] is dropped or the socket ends (pending calls then fail).
async fn own_socket(
    mut ws: transport::Socket,
    mut calls: mpsc::UnboundedReceiver<Call>,
    token: Option<std::sync::Arc<str>>,
) {
    let (mut next, mut session) = (0u64, None);
    let mut pending: HashMap<String, oneshot::Sender<Result<Value, ControlError>>> = HashMap::new();
    let mut idle = tokio::time::interval_at(tokio::time::Instant::now() + KEEPALIVE, KEEPALIVE);
    loop {
        let (frame, reply) = tokio::select! {
            call = calls.recv() => match call {
                Some(Call { frame, reply }) => (frame, Some(reply)),
                None => break,
            },
            _ = idle.tick() => match session {
                Some(s) => (json!({"janus": "keepalive", "session_id": s}), None),
                None => continue,
            },
            msg = ws.next() => {
                match msg {
                    Some(Ok(Message::Text(text))) => {
                        if let Ok(v) = serde_json::from_str::<Value>(text.as_str())
                            && v["janus"] != "ack"
                            && let Some(t) = v["transaction"].as_str()
                            && let Some(reply) = pending.remove(t)
                        {
                            let _ = reply.send(Ok(v));
                        }
                        continue;
                    }
                    Some(Ok(_)) => continue,
                    Some(Err(_)) | None => break,
                }
            }
        };
        next += 1;
        let t = format!("ctl-{next}");
        let mut frame = frame;
        frame["transaction"] = json!(t);
        session = session_of(&frame).or(session);
        if let Some(token) = &token {
            frame["token"] = json!(token.as_ref());
        }
        if let Some(reply) = reply {
            pending.insert(t, reply);
        }
        if ws.send(Message::text(frame.to_string())).await.is_err() {
            break;
        }
        idle.reset();
    }
    for (_, reply) in pending.drain() {
        let _ = reply.send(Err(ControlError::Transport(
            "the control socket ended".into(),
        )));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_carry_janus_s_code_and_reason_never_the_request() {
        let core = json!({"janus": "error", "error": {"code": 403, "reason": "Unauthorized request (wrong or missing secret/token)"}});
        let e = judge("create session", core).unwrap_err();
        assert_eq!(e.code(), Some(403));
        assert_eq!(
            e.to_string(),
            "Janus refused create session: 403 Unauthorized request (wrong or missing secret/token)"
        );
        let plugin = json!({"janus": "success", "plugindata": {"data": {"videoroom": "event", "error_code": 427, "error": "Room 5 already exists"}}});
        assert_eq!(
            judge("create room 5", plugin).unwrap_err().code(),
            Some(427)
        );
        let ok = json!({"janus": "success", "plugindata": {"data": {"videoroom": "created", "room": 5}}});
        assert!(judge("create room 5", ok).is_ok());
        assert!(id_of(&json!({"janus": "success"})).is_err());
        assert_eq!(id_of(&json!({"data": {"id": 7}})).unwrap(), 7);
    }

    #[test]
    fn room_numbers_are_json_safe_and_shards_agree_on_them() {
        for seed in [None, Some(0), Some(1_795_737_600_000), Some(u64::MAX)] {
            let base = room_base(seed);
            assert_eq!(base % (1 << 20), 0);
            assert!(base + 1_000_000 < 1 << 53, "{base}");
        }
        assert_eq!(room_base(Some(42)), room_base(Some(42)));
        assert_ne!(room_base(Some(42)), room_base(Some(43)));
        assert_ne!(room_base(None), room_base(None));
    }
}
