//! The Janus VideoRoom driver, without I/O: one Janus session and one plugin handle per join, a
//! participant without media, the room's news turned into the SDK's room events, and Janus's
//! outcomes mapped onto the RTC codes (`docs` and `janus-notes.md` give the table):
//!
//! | Janus | code |
//! |---|---|
//! | 403 on `create`/`attach` | 10002 when the token's own expiry has passed, else 10001 |
//! | 426 no such room, 433 not allowed | 10012 |
//! | 436 member id taken (the newcomer is refused) | 10022 |
//! | `kicked` (our own `leaving: "ok"` with reason kicked) | 10006 |
//! | `destroyed` room, session `timeout` | 21003 |
//! | 458 on `claim` (the session is gone) | 10007 |
//!
//! Requests carry transactions; an asynchronous request's `ack` and `event` are matched by it in
//! whichever order they come. Janus repeats a departing member's news (`unpublished` twice, then
//! `leaving`); each member is joined and left once here, by its numeric id.
//!
//! Janus keeps the socket open after a leave: the driver answers the `leaving: "ok"` with a
//! `detach` of the handle, then a `destroy` of the session, and reports [`RoomEvent::Left`] when
//! that is done, so the leave's latency covers the server's whole part of it.

use std::collections::HashMap;

use serde_json::{Value, json};

use super::frames::{self, Incoming, Member, VideoRoom};

mod media;
use crate::signaling::{Action, DriverError, JoinRequest, Peer, RoomEvent, SignalingDriver};

/// The WebSocket subprotocol Janus requires.
pub const SUBPROTOCOL: &str = "janus-protocol";

/// The plugin joined.
pub const PLUGIN: &str = "janus.plugin.videoroom";

/// Where the driver is in a join's sequence.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Stage {
    Idle,
    /// `create` sent (this transaction).
    Creating(String),
    Attaching(String),
    Joining(String),
    InRoom,
    Leaving(String),
    /// `claim` sent on a new socket (reconnect).
    Claiming(String),
    /// Left the room; `detach` of the handle sent (this transaction).
    Detaching(String),
    /// Handle detached; `destroy` of the session sent (this transaction).
    Destroying(String),
}

/// One participant's Janus session.
#[derive(Debug)]
pub struct JanusDriver {
    prefix: String,
    next: u64,
    stage: Stage,
    url: String,
    room: u64,
    member: u64,
    display: String,
    token: Option<String>,
    session: Option<u64>,
    handle: Option<u64>,
    /// Members in the room besides us, by id.
    members: HashMap<u64, String>,
    /// Explicit ids (else derived from the names).
    ids: Option<(u64, u64)>,
    /// Unix seconds now, for telling an expired token from a bad one (a clock in tests).
    now_unix: fn() -> u64,
    /// Publishing and subscriptions ([`media`]).
    media: media::Media,
}

impl Default for JanusDriver {
    fn default() -> Self {
        Self::new("rs")
    }
}

impl JanusDriver {
    /// A driver whose transactions are `<prefix>-1`, `<prefix>-2`, … (unique per socket).
    pub fn new(prefix: &str) -> Self {
        Self {
            prefix: prefix.to_owned(),
            next: 0,
            stage: Stage::Idle,
            url: String::new(),
            room: 0,
            member: 0,
            display: String::new(),
            token: None,
            session: None,
            handle: None,
            members: HashMap::new(),
            ids: None,
            now_unix: crate::token::unix_now,
            media: media::Media::default(),
        }
    }

    /// Uses these numeric room and member ids instead of ids derived from the names (the
    /// coordinator knows collision-free ones: room and participant indices).
    pub fn with_ids(mut self, room: u64, member: u64) -> Self {
        self.ids = Some((room, member));
        self
    }

    fn transaction(&mut self) -> String {
        self.next += 1;
        format!("{}-{}", self.prefix, self.next)
    }

    fn request(&mut self, mut body: Value) -> (String, String) {
        let t = self.transaction();
        body["transaction"] = json!(t);
        if let Some(s) = self.session {
            body["session_id"] = json!(s);
        }
        if let Some(token) = &self.token {
            body["token"] = json!(token);
        }
        (t, body.to_string())
    }

    fn message(&mut self, body: Value) -> (String, String) {
        let mut request = json!({"janus": "message", "body": body});
        if let Some(h) = self.handle {
            request["handle_id"] = json!(h);
        }
        self.request(request)
    }

    /// A refusal of the token: Janus says 403 for both, the token's expiry tells them apart.
    fn token_refused(&self) -> RoomEvent {
        let expired = self
            .token
            .as_deref()
            .and_then(super::token::expiry)
            .is_some_and(|e| e <= (self.now_unix)());
        RoomEvent::JoinRefused {
            code: if expired { 10002 } else { 10001 },
        }
    }

    fn peer(m: &Member) -> Peer {
        Peer {
            user: m.display.clone(),
            data: String::new(),
        }
    }

    fn room_news(&mut self, news: VideoRoom) -> Option<RoomEvent> {
        match news {
            VideoRoom::Joining(m) if m.id != self.member => {
                let peer = Self::peer(&m);
                self.members
                    .insert(m.id, m.display)
                    .is_none()
                    .then_some(RoomEvent::UserJoined(peer))
            }
            VideoRoom::Leaving { id } | VideoRoom::Kicked { id } => self
                .members
                .remove(&id)
                .map(|user| RoomEvent::UserLeft { user }),
            VideoRoom::LeftSelf { kicked: true } => {
                self.stage = Stage::Idle;
                Some(RoomEvent::Disconnected { code: 10006 })
            }
            VideoRoom::Destroyed => {
                self.stage = Stage::Idle;
                Some(RoomEvent::Disconnected { code: 21003 })
            }
            // Repeated before `leaving`; our own leave's "ok" is handled by the stage.
            _ => None,
        }
    }
}

/// The member id a user joins with: its name when that is a number, else a hash of it (so the
/// same user always has the same id, and a kick can name it).
pub fn member_id(user: &str) -> u64 {
    numeric_id(user)
}

/// A numeric id for a name that is not one: FNV-1a, kept within 2^53 so that every JSON reader
/// holds it exactly, and never 0.
fn numeric_id(name: &str) -> u64 {
    if let Ok(n) = name.parse::<u64>()
        && n > 0
    {
        return n;
    }
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    (h & ((1 << 53) - 1)).max(1)
}

fn bad(what: &str, frame: &Incoming) -> DriverError {
    DriverError::BadAnswer(format!("{what}: {frame:?}"))
}

impl SignalingDriver for JanusDriver {
    fn begin_join(&mut self, join: &JoinRequest) -> Action {
        let room = if join.room_number != 0 {
            join.room_number
        } else {
            numeric_id(&join.room)
        };
        let (room, member) = self.ids.unwrap_or((room, member_id(&join.user)));
        self.room = room;
        self.member = member;
        self.display = join.user.clone();
        self.token = (!join.room_token.is_empty()).then(|| join.room_token.clone());
        self.session = None;
        self.handle = None;
        self.members.clear();
        self.media = media::Media::default();
        self.stage = Stage::Idle;
        self.url = join
            .base_url
            .replacen("http://", "ws://", 1)
            .replacen("https://", "wss://", 1);
        Action::Open {
            url: self.url.clone(),
        }
    }

    fn on_http_answer(&mut self, status: u16, _body: &[u8]) -> Result<Action, DriverError> {
        Err(DriverError::BadAnswer(format!(
            "Janus has no HTTP exchange (got HTTP {status})"
        )))
    }

    fn on_socket_open(&mut self, out: &mut Vec<String>) {
        let (t, frame) = match self.session {
            // A new socket for a session we had: claim it.
            Some(_) => self.request(json!({"janus": "claim"})),
            None => self.request(json!({"janus": "create"})),
        };
        self.stage = if self.session.is_some() {
            Stage::Claiming(t)
        } else {
            Stage::Creating(t)
        };
        out.push(frame);
    }

    fn on_text(
        &mut self,
        text: &str,
        out: &mut Vec<String>,
    ) -> Result<Option<RoomEvent>, DriverError> {
        let (frame, parts) =
            frames::read(text).map_err(|e| DriverError::BadAnswer(e.to_string()))?;
        if let Some(handled) = self.media_frame(&frame, &parts, out) {
            return handled;
        }
        let answers = |t: &Option<String>, ours: &str| t.as_deref() == Some(ours);
        match (&self.stage, frame) {
            // `ack`s only confirm receipt: the `event` with the same transaction is the answer.
            (_, Incoming::Ack { .. }) => Ok(None),
            (
                Stage::Creating(t),
                Incoming::Success {
                    transaction, id, ..
                },
            ) if *t == transaction => {
                self.session =
                    Some(id.ok_or_else(|| DriverError::BadAnswer("create: no session id".into()))?);
                let (t, f) = self.request(json!({"janus": "attach", "plugin": PLUGIN}));
                self.stage = Stage::Attaching(t);
                out.push(f);
                Ok(None)
            }
            (
                Stage::Attaching(t),
                Incoming::Success {
                    transaction, id, ..
                },
            ) if *t == transaction => {
                self.handle =
                    Some(id.ok_or_else(|| DriverError::BadAnswer("attach: no handle id".into()))?);
                let body = json!({"request": "join", "ptype": "publisher", "room": self.room,
                    "id": self.member, "display": self.display});
                let (t, f) = self.message(body);
                self.stage = Stage::Joining(t);
                out.push(f);
                Ok(None)
            }
            (
                Stage::Creating(t) | Stage::Attaching(t),
                Incoming::Error {
                    transaction, code, ..
                },
            ) if answers(&transaction, t) && code == 403 => {
                self.stage = Stage::Idle;
                Ok(Some(self.token_refused()))
            }
            (Stage::Joining(t), Incoming::Event { transaction, data })
                if answers(&transaction, t) =>
            {
                match data {
                    VideoRoom::Joined { members, .. } => {
                        self.stage = Stage::InRoom;
                        self.feeds_listed(&parts.feeds);
                        let peers = members.iter().map(Self::peer).collect();
                        self.members = members.into_iter().map(|m| (m.id, m.display)).collect();
                        Ok(Some(RoomEvent::Joined { peers }))
                    }
                    VideoRoom::Refused { code, .. } => {
                        self.stage = Stage::Idle;
                        let code = match code {
                            426 | 433 => 10012,
                            436 => 10022,
                            other => {
                                return Err(DriverError::BadAnswer(format!(
                                    "join refused with VideoRoom code {other}"
                                )));
                            }
                        };
                        Ok(Some(RoomEvent::JoinRefused { code }))
                    }
                    other => Err(DriverError::BadAnswer(format!("join answered {other:?}"))),
                }
            }
            (Stage::Claiming(t), Incoming::Success { transaction, .. }) if *t == transaction => {
                // The session (and its place in the room) is back: the roster is unchanged.
                self.stage = Stage::InRoom;
                let peers = self
                    .members
                    .values()
                    .map(|u| Peer {
                        user: u.clone(),
                        data: String::new(),
                    })
                    .collect();
                Ok(Some(RoomEvent::Joined { peers }))
            }
            (
                Stage::Claiming(t),
                Incoming::Error {
                    transaction, code, ..
                },
            ) if answers(&transaction, t) => {
                self.stage = Stage::Idle;
                self.session = None;
                Ok(Some(RoomEvent::JoinRefused {
                    code: if code == 458 { 10007 } else { code },
                }))
            }
            (
                Stage::Leaving(t),
                Incoming::Event {
                    transaction,
                    data: VideoRoom::LeftSelf { .. },
                },
            ) if answers(&transaction, t) => {
                // Out of the room: the handle goes, then the session (one at a time: Janus may
                // handle requests of one socket out of order).
                let mut detach = json!({"janus": "detach"});
                if let Some(h) = self.handle {
                    detach["handle_id"] = json!(h);
                }
                let (t, detach) = self.request(detach);
                self.stage = Stage::Detaching(t);
                out.push(detach);
                Ok(None)
            }
            (
                Stage::Detaching(t),
                Incoming::Success { transaction, .. }
                | Incoming::Error {
                    transaction: Some(transaction),
                    ..
                },
            ) if *t == transaction => {
                self.handle = None;
                let (t, destroy) = self.request(json!({"janus": "destroy"}));
                self.stage = Stage::Destroying(t);
                out.push(destroy);
                Ok(None)
            }
            (Stage::Destroying(t), Incoming::Success { transaction, .. }) if *t == transaction => {
                self.stage = Stage::Idle;
                self.session = None;
                Ok(Some(RoomEvent::Left))
            }
            (
                Stage::Destroying(t),
                Incoming::Error {
                    transaction: Some(transaction),
                    ..
                },
            ) if *t == transaction => {
                // Gone already (timed out): the leave is done all the same.
                self.stage = Stage::Idle;
                self.session = None;
                Ok(Some(RoomEvent::Left))
            }
            // A refused leave (the token expired meanwhile): closing the socket ends a session
            // that cannot be reclaimed at once, so the leave is over all the same.
            (Stage::Leaving(t), Incoming::Error { transaction, .. })
                if answers(&transaction, t) =>
            {
                self.stage = Stage::Idle;
                Ok(Some(RoomEvent::Left))
            }
            // A keepalive refused in the room: the token has expired (or was revoked) and Janus
            // will end the session; the member is out as the SDK reports a token refusal.
            (Stage::InRoom, Incoming::Error { code: 403, .. }) => {
                self.stage = Stage::Idle;
                let RoomEvent::JoinRefused { code } = self.token_refused() else {
                    unreachable!("token_refused always refuses")
                };
                Ok(Some(RoomEvent::Disconnected { code }))
            }
            (
                Stage::InRoom | Stage::Leaving(_),
                Incoming::Event {
                    transaction: None,
                    data,
                },
            ) => {
                self.feeds_listed(&parts.feeds);
                if let VideoRoom::Unpublished { id }
                | VideoRoom::Leaving { id }
                | VideoRoom::Kicked { id } = data
                {
                    self.feed_gone(id);
                }
                Ok(self.room_news(data))
            }
            (Stage::InRoom | Stage::Leaving(_), Incoming::Timeout) => {
                self.stage = Stage::Idle;
                self.session = None;
                Ok(Some(RoomEvent::Disconnected { code: 21003 }))
            }
            (_, f @ Incoming::Error { .. }) => Err(bad("refused", &f)),
            // Answers to requests we no longer wait for, detached handles, media news.
            _ => Ok(None),
        }
    }

    fn leave(&mut self, out: &mut Vec<String>) {
        if self.stage != Stage::InRoom {
            return;
        }
        let (t, f) = self.message(json!({"request": "leave"}));
        self.stage = Stage::Leaving(t);
        out.push(f);
    }

    fn resume(&mut self, _nonce: u64) -> Option<Action> {
        self.session.map(|_| Action::Open {
            url: self.url.clone(),
        })
    }

    fn resumed(&mut self, _out: &mut Vec<String>) {}

    fn subprotocol(&self) -> Option<&'static str> {
        Some(SUBPROTOCOL)
    }

    /// A `keepalive` on the session (Janus ends a session silent for its session timeout, 60 s
    /// by default); none before a session exists.
    fn keepalive(&mut self, out: &mut Vec<String>) {
        if let Some(session) = self.session {
            let (_, f) = self.request(json!({"janus": "keepalive", "session_id": session}));
            out.push(f);
        }
    }

    fn leave_is_answered(&self) -> bool {
        true
    }

    fn next_event(&mut self) -> Option<RoomEvent> {
        self.media.queued.pop_front()
    }

    fn has_media(&self) -> bool {
        true
    }

    fn publish(&mut self, offer: &str, out: &mut Vec<String>) {
        self.media_publish(offer, out);
    }

    fn unpublish(&mut self, out: &mut Vec<String>) {
        self.media_unpublish(out);
    }

    fn subscribe(&mut self, feed: u64, out: &mut Vec<String>) {
        self.media_subscribe(feed, out);
    }

    fn answer_subscription(&mut self, feed: u64, answer: &str, out: &mut Vec<String>) {
        self.media_answer(feed, answer, out);
    }

    fn unsubscribe(&mut self, feed: u64, out: &mut Vec<String>) {
        self.media_unsubscribe(feed, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RECORDED: &str = include_str!("../../../tests/fixtures/janus/videoroom.jsonl");

    /// Janus's frames to `client`, in order.
    fn to(client: &str) -> Vec<String> {
        RECORDED
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .filter(|l| l["dir"] == "in" && l["client"] == client)
            .map(|l| l["frame"].to_string())
            .collect()
    }

    fn join_request(user: &str) -> JoinRequest {
        JoinRequest {
            base_url: "http://127.0.0.1:8188".into(),
            app: String::new(),
            room: "4242".into(),
            user: user.into(),
            room_token: String::new(),
            user_data: String::new(),
            room_number: 0,
        }
    }

    /// Replays what Janus sent `client` (recorded with transactions `<client>-1`, …) through a
    /// driver that joins as `member` of `room`: the frames it sent and the events it reported.
    fn replay(client: &str, room: u64, member: u64) -> (Vec<Value>, Vec<RoomEvent>) {
        let mut d = JanusDriver::new(client).with_ids(room, member);
        let mut out = Vec::new();
        assert_eq!(
            d.begin_join(&join_request(client)),
            Action::Open {
                url: "ws://127.0.0.1:8188".into()
            }
        );
        d.on_socket_open(&mut out);
        let mut events = Vec::new();
        for f in to(client) {
            if let Some(e) = d.on_text(&f, &mut out).unwrap() {
                let end = matches!(
                    e,
                    RoomEvent::Disconnected { .. } | RoomEvent::JoinRefused { .. }
                );
                events.push(e);
                if end {
                    break;
                }
            }
        }
        let sent = out
            .iter()
            .map(|f| serde_json::from_str(f).unwrap())
            .collect();
        (sent, events)
    }

    fn user(u: &str) -> Peer {
        Peer {
            user: u.into(),
            data: String::new(),
        }
    }

    #[test]
    fn a_join_creates_a_session_attaches_and_joins_without_media() {
        let (sent, events) = replay("alice", 4242, 1);
        assert_eq!(
            sent[0],
            json!({"janus": "create", "transaction": "alice-1"})
        );
        assert_eq!(sent[1]["janus"], "attach");
        assert_eq!(sent[1]["plugin"], PLUGIN);
        assert!(sent[1]["session_id"].as_u64().is_some());
        assert_eq!(
            sent[2]["body"],
            json!({"request": "join", "ptype": "publisher", "room": 4242, "id": 1, "display": "alice"})
        );
        assert!(sent[2]["handle_id"].as_u64().is_some());
        // alice's join event came before its ack; then bob, carol (who left), fred, and a kick.
        assert_eq!(
            events,
            [
                RoomEvent::Joined { peers: vec![] },
                RoomEvent::UserJoined(user("bob")),
                RoomEvent::UserJoined(user("carol")),
                RoomEvent::UserLeft {
                    user: "carol".into()
                },
                RoomEvent::UserJoined(user("fred")),
                RoomEvent::Disconnected { code: 10006 },
            ]
        );
    }

    #[test]
    fn an_ack_before_its_event_changes_nothing() {
        // judy's join was acknowledged before it was answered (alice's the other way round).
        let order: Vec<String> = to("judy")
            .iter()
            .map(|f| serde_json::from_str::<Value>(f).unwrap())
            .filter(|f| f["transaction"] == "judy-3")
            .map(|f| f["janus"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(order, ["ack", "event"]);
        let (_, events) = replay("judy", 4243, 12);
        assert_eq!(
            events[0],
            RoomEvent::Joined {
                peers: vec![user("ivan")]
            }
        );
    }

    #[test]
    fn refusals_map_onto_rtc_codes() {
        assert_eq!(
            replay("dave", 4242, 1).1,
            [RoomEvent::JoinRefused { code: 10022 }]
        );
        assert_eq!(
            replay("erin", 999_999, 1).1,
            [RoomEvent::JoinRefused { code: 10012 }]
        );
    }

    #[test]
    fn a_destroyed_room_and_a_timed_out_session_end_as_21003_and_kicks_are_leaves() {
        let (_, fred) = replay("fred", 4242, 6);
        assert_eq!(
            fred,
            [
                RoomEvent::Joined {
                    peers: vec![user("alice"), user("bob")]
                },
                RoomEvent::UserLeft {
                    user: "alice".into()
                },
                RoomEvent::Disconnected { code: 21003 },
            ]
        );
        let (_, ivan) = replay("ivan", 4243, 11);
        assert_eq!(
            ivan,
            [
                RoomEvent::Joined { peers: vec![] },
                RoomEvent::UserJoined(user("judy")),
                RoomEvent::Disconnected { code: 21003 },
            ]
        );
    }

    #[test]
    fn a_departure_announced_three_times_is_one_user_left() {
        // judy sees ivan's session go: unpublished, unpublished, leaving.
        let (sent, judy) = replay("judy", 4243, 12);
        assert_eq!(
            judy,
            [
                RoomEvent::Joined {
                    peers: vec![user("ivan")]
                },
                RoomEvent::UserLeft {
                    user: "ivan".into()
                },
            ]
        );
        assert_eq!(sent.len(), 3, "create, attach, join: nothing answers news");
    }

    #[test]
    fn leave_sends_leave_then_detaches_and_destroys_and_reports_left() {
        let mut d = JanusDriver::new("carol").with_ids(4242, 3);
        let mut out = Vec::new();
        d.begin_join(&join_request("carol"));
        d.on_socket_open(&mut out);
        let frames = to("carol");
        let mut events = Vec::new();
        for f in &frames[..4] {
            events.extend(d.on_text(f, &mut out).unwrap());
        }
        assert!(matches!(events[..], [RoomEvent::Joined { .. }]));
        let mut bye = Vec::new();
        d.leave(&mut bye);
        let bye: Vec<Value> = bye
            .iter()
            .map(|f| serde_json::from_str(f).unwrap())
            .collect();
        assert_eq!(bye.len(), 1, "the destroy waits for the leave's answer");
        assert_eq!(bye[0]["body"], json!({"request": "leave"}));
        assert_eq!(bye[0]["transaction"], "carol-4");
        assert!(d.leave_is_answered());
        // `leaving: "ok"` and its ack, in the recorded order: the handle is detached next.
        let mut detach = Vec::new();
        for f in &frames[4..6] {
            assert_eq!(d.on_text(f, &mut detach).unwrap(), None, "{f}");
        }
        let detach: Vec<Value> = detach
            .iter()
            .map(|f| serde_json::from_str(f).unwrap())
            .collect();
        assert_eq!(detach.len(), 1);
        assert_eq!(detach[0]["janus"], "detach");
        assert_eq!(detach[0]["transaction"], "carol-5");
        let (session, handle) = (
            detach[0]["session_id"].clone(),
            detach[0]["handle_id"].clone(),
        );
        assert!(handle.as_u64().is_some());
        // Janus answers a detach with `success`, then says `detached` (janus-notes.md §2); the
        // session is destroyed next, and its `success` ends the leave.
        let mut destroy = Vec::new();
        for f in [
            json!({"janus": "success", "session_id": session, "transaction": "carol-5"}),
            json!({"janus": "detached", "session_id": session, "sender": handle}),
        ] {
            assert_eq!(d.on_text(&f.to_string(), &mut destroy).unwrap(), None);
        }
        let destroy: Value = serde_json::from_str(&destroy[0]).unwrap();
        assert_eq!(destroy["janus"], "destroy");
        assert_eq!(destroy["transaction"], "carol-6");
        let done = json!({"janus": "success", "session_id": session, "transaction": "carol-6"});
        assert_eq!(
            d.on_text(&done.to_string(), &mut out).unwrap(),
            Some(RoomEvent::Left)
        );
        assert_eq!(d.resume(1), None, "nothing left to claim after a leave");
    }

    #[test]
    fn keepalives_carry_the_session_and_token_and_a_refused_one_ends_the_stay() {
        let secret = crate::credentials::SecretKey::new("s");
        let mut d = JanusDriver::new("bob").with_ids(4242, 2);
        d.now_unix = || 1_800_000_000;
        let mut join = join_request("bob");
        join.room_token = super::super::token::mint(&secret, 1_800_000_030, &[PLUGIN]);
        d.begin_join(&join);
        let mut out = Vec::new();
        d.on_socket_open(&mut out);
        for f in &to("bob")[..4] {
            d.on_text(f, &mut out).unwrap();
        }
        let mut ka = Vec::new();
        d.keepalive(&mut ka);
        let ka: Value = serde_json::from_str(&ka[0]).unwrap();
        assert_eq!(ka["janus"], "keepalive");
        assert_eq!(ka["session_id"], json!(d.session.unwrap()));
        assert_eq!(ka["token"], json!(join.room_token));
        // The token expires mid-stay: the next keepalive is refused and the member is out.
        d.now_unix = || 1_800_000_031;
        let refused = format!(
            r#"{{"janus":"error","transaction":{},"error":{{"code":403,"reason":"Unauthorized request (wrong or missing secret/token)"}}}}"#,
            ka["transaction"]
        );
        assert_eq!(
            d.on_text(&refused, &mut out).unwrap(),
            Some(RoomEvent::Disconnected { code: 10002 })
        );
    }

    #[test]
    fn forged_and_expired_tokens_are_told_apart_by_the_token_s_own_expiry() {
        let secret = crate::credentials::SecretKey::new("s");
        for (expiry, code) in [(2_000_000_000, 10001), (1_000, 10002)] {
            let mut d = JanusDriver::new("t").with_ids(1, 1);
            d.now_unix = || 1_800_000_000;
            let mut join = join_request("tom");
            join.room_token = super::super::token::mint(&secret, expiry, &[PLUGIN]);
            d.begin_join(&join);
            let mut out = Vec::new();
            d.on_socket_open(&mut out);
            let sent: Value = serde_json::from_str(&out[0]).unwrap();
            assert_eq!(sent["token"], json!(join.room_token));
            let refused = r#"{"janus":"error","transaction":"t-1","error":{"code":403,"reason":"Unauthorized request (wrong or missing secret/token)"}}"#;
            assert_eq!(
                d.on_text(refused, &mut out).unwrap(),
                Some(RoomEvent::JoinRefused { code })
            );
        }
    }

    #[test]
    fn a_reconnect_claims_the_session_on_a_new_socket() {
        let (mut d, mut out) = (JanusDriver::new("bob").with_ids(4242, 2), Vec::new());
        d.begin_join(&join_request("bob"));
        d.on_socket_open(&mut out);
        for f in &to("bob")[..4] {
            d.on_text(f, &mut out).unwrap();
        }
        let session = d.session.unwrap();
        assert_eq!(
            d.resume(7),
            Some(Action::Open {
                url: "ws://127.0.0.1:8188".into()
            })
        );
        let mut claim = Vec::new();
        d.on_socket_open(&mut claim);
        let sent: Value = serde_json::from_str(&claim[0]).unwrap();
        assert_eq!(sent["janus"], "claim");
        assert_eq!(sent["session_id"], session);
        let t = sent["transaction"].as_str().unwrap();
        // Within the reclaim window: success, back in the room with the same roster.
        let ok = format!(r#"{{"janus":"success","session_id":{session},"transaction":"{t}"}}"#);
        assert_eq!(
            d.on_text(&ok, &mut out).unwrap(),
            Some(RoomEvent::Joined {
                peers: vec![user("alice")]
            })
        );
        // Too late: 458, reconnect failed.
        d.resume(8);
        let mut again = Vec::new();
        d.on_socket_open(&mut again);
        let t: Value = serde_json::from_str(&again[0]).unwrap();
        let gone = format!(
            r#"{{"janus":"error","session_id":{session},"transaction":{},"error":{{"code":458,"reason":"No such session {session}"}}}}"#,
            t["transaction"]
        );
        assert_eq!(
            d.on_text(&gone, &mut out).unwrap(),
            Some(RoomEvent::JoinRefused { code: 10007 })
        );
        assert_eq!(d.resume(9), None, "nothing left to claim");
    }

    #[test]
    fn names_become_stable_json_safe_ids_and_numbers_stay_numbers() {
        assert_eq!(numeric_id("4242"), 4242);
        assert_eq!(numeric_id("room-7"), numeric_id("room-7"));
        assert_ne!(numeric_id("room-7"), numeric_id("room-8"));
        assert!(numeric_id("room-7") < 1 << 53);
        assert!(numeric_id("0") > 0);
        let mut d = JanusDriver::default();
        assert!(d.on_http_answer(200, b"").is_err());
        let mut out = Vec::new();
        d.keepalive(&mut out);
        assert!(out.is_empty(), "no session, no keepalive");
        assert!(d.on_text("garbage", &mut out).is_err());
    }
}
