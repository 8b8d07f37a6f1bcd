//! The signaling seam: a sans-IO driver per server kind turns the participant's intents (join,
//! leave) and the bytes it receives into bytes to send and room events.
//!
//! The participant actor owns the sockets and the clock, so every driver is timed the same way,
//! and a driver is tested with recorded frames and no network. To add a driver: 1. a module here
//! implementing [`SignalingDriver`], 2. a [`crate::scenario::DriverKind`] variant, 3. a case in
//! [`new_driver`] (the test over all kinds then covers it). For media, 4. answer
//! [`SignalingDriver::has_media`] with `true` and carry offers and answers in `publish`,
//! `subscribe` and `answer_subscription`, reporting [`RoomEvent::Published`],
//! [`RoomEvent::TracksAdded`], [`RoomEvent::SubscribeOffer`] and the rest (the participant's
//! `actor/media.rs` drives the WebRTC side), with frames recorded from the server
//! (`tests/fixtures/janus/record-media.sh` shows how).

pub mod janus;
pub mod qiniu;

use crate::scenario::DriverKind;

/// What the participant must do next to move a join forward.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Fetch this URL with an HTTP GET and hand the answer to [`SignalingDriver::on_http_answer`].
    Fetch {
        /// Absolute `http://` URL.
        url: String,
    },
    /// Open a WebSocket to this URL, then call [`SignalingDriver::on_socket_open`].
    Open {
        /// Absolute `ws://` URL.
        url: String,
    },
}

/// A member of the room as the server lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    /// User id.
    pub user: String,
    /// Its `playerdata`.
    pub data: String,
}

/// Something that happened in the room, as the Web SDK would report it to the app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoomEvent {
    /// The join was accepted (CONNECTED); `peers` were already in the room.
    Joined {
        /// Members other than ourselves.
        peers: Vec<Peer>,
    },
    /// The join was refused with an RTC code (DISCONNECTED ERROR).
    JoinRefused {
        /// The code.
        code: u32,
    },
    /// Another member joined (`user-joined`).
    UserJoined(Peer),
    /// Another member left (`user-left`).
    UserLeft {
        /// Its user id.
        user: String,
    },
    /// Another member's connection broke (`user-reconnecting`).
    UserReconnecting {
        /// Its user id.
        user: String,
    },
    /// Another member came back (`user-reconnected`).
    UserReconnected {
        /// Its user id.
        user: String,
    },
    /// The server ended our session with this code (10006 is a kick: KICKED_OUT).
    Disconnected {
        /// The code.
        code: u32,
    },
    /// The server's heartbeat (arms the client's dead-server timer).
    Heartbeat,
    /// The server confirmed our leave (drivers whose server keeps the socket open after a
    /// leave: [`SignalingDriver::leave_is_answered`]).
    Left,
    /// Our publish was accepted: the server's SDP answer to our offer.
    Published {
        /// The answer.
        answer: String,
    },
    /// Our publish was refused with an RTC code (10011: the room's publishers are full).
    PublishRefused {
        /// The code.
        code: u32,
    },
    /// Our unpublish is done.
    Unpublished,
    /// Another member's tracks became available to subscribe (`user-published`).
    TracksAdded(RemoteFeed),
    /// Another member's tracks went away (`user-unpublished`, or it left).
    TracksRemoved {
        /// The feed.
        feed: u64,
    },
    /// A subscription's SDP offer from the server (SFUs that offer to subscribers).
    SubscribeOffer {
        /// The feed subscribed to.
        feed: u64,
        /// The offer.
        offer: String,
    },
    /// The server took our answer: the subscription is starting.
    Subscribed {
        /// The feed.
        feed: u64,
    },
    /// A subscription was refused or broke (the feed went away meanwhile).
    SubscribeFailed {
        /// The feed.
        feed: u64,
        /// The server's reason, for the failure message.
        why: String,
    },
}

/// Another member's published tracks: what a subscriber chooses from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteFeed {
    /// The server's id for the feed (subscribe and unsubscribe name it).
    pub feed: u64,
    /// The publisher's user id.
    pub user: String,
    /// Its tracks.
    pub tracks: Vec<RemoteTrack>,
}

/// One track of a [`RemoteFeed`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteTrack {
    /// The track's `mid` in the publisher's connection.
    pub mid: String,
    /// Audio or video.
    pub kind: crate::scenario::MediaKind,
}

/// A protocol violation by the server: the participant ends with a transport error naming it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DriverError {
    /// The HTTP exchange answered something other than success.
    #[error("HTTP {status} from the token exchange")]
    HttpStatus {
        /// The status.
        status: u16,
    },
    /// An answer could not be understood.
    #[error("unexpected answer: {0}")]
    BadAnswer(String),
}

/// Who joins where: everything a driver needs to build its frames.
#[derive(Debug, Clone)]
pub struct JoinRequest {
    /// HTTP base URL of the server, without a trailing slash.
    pub base_url: String,
    /// App id.
    pub app: String,
    /// Room name.
    pub room: String,
    /// User id.
    pub user: String,
    /// Room token presented.
    pub room_token: String,
    /// `playerdata`.
    pub user_data: String,
    /// The run's number for the room, unique to the run: servers that name rooms by number
    /// (Janus) join this one, which the run created.
    pub room_number: u64,
}

/// A server's signaling protocol, without I/O. Methods append frames to send to `out`.
pub trait SignalingDriver {
    /// Starts a join: the first thing to fetch or open.
    fn begin_join(&mut self, join: &JoinRequest) -> Action;
    /// The HTTP answer to a [`Action::Fetch`]: what to do next.
    fn on_http_answer(&mut self, status: u16, body: &[u8]) -> Result<Action, DriverError>;
    /// The WebSocket opened: frames that authenticate.
    fn on_socket_open(&mut self, out: &mut Vec<String>);
    /// A text frame arrived: frames to answer with (`out`) and the room event it means, if any.
    fn on_text(
        &mut self,
        text: &str,
        out: &mut Vec<String>,
    ) -> Result<Option<RoomEvent>, DriverError>;
    /// Leave the room: frames to send before closing the socket.
    fn leave(&mut self, out: &mut Vec<String>);
    /// Restore a broken session: the socket to open (then [`SignalingDriver::on_socket_open`]
    /// re-authenticates with what the last successful auth handed out). `nonce` identifies the
    /// reconnect episode (the same for all its attempts). `None`: nothing to resume with.
    fn resume(&mut self, nonce: u64) -> Option<Action>;
    /// The re-auth succeeded (RECONNECTED): frames the client sends then.
    fn resumed(&mut self, out: &mut Vec<String>);
    /// The WebSocket subprotocol the server requires (`Sec-WebSocket-Protocol`), if any.
    fn subprotocol(&self) -> Option<&'static str> {
        None
    }
    /// Frames that keep an idle session alive, for servers that expire silent sessions instead
    /// of pinging (the participant calls this every [`crate::participant::RunContext`]
    /// `keepalive` interval while in the room).
    fn keepalive(&mut self, _out: &mut Vec<String>) {}
    /// `true`: the server answers a leave and keeps the socket open, so the participant waits
    /// for [`RoomEvent::Left`] before closing; `false`: it closes right after the leave frames
    /// and the server's close ends the leave.
    fn leave_is_answered(&self) -> bool {
        false
    }
    /// A further event that arrived with the last frame (one frame may announce several
    /// publishers): the participant drains these after each [`SignalingDriver::on_text`].
    fn next_event(&mut self) -> Option<RoomEvent> {
        None
    }
    /// `true` when the driver can publish and subscribe media (the others refuse media scenarios
    /// at validation).
    fn has_media(&self) -> bool {
        false
    }
    /// Publish with this SDP offer (answered by [`RoomEvent::Published`] or
    /// [`RoomEvent::PublishRefused`]).
    fn publish(&mut self, _offer: &str, _out: &mut Vec<String>) {}
    /// Stop publishing (answered by [`RoomEvent::Unpublished`]).
    fn unpublish(&mut self, _out: &mut Vec<String>) {}
    /// Subscribe to `feed` (answered by [`RoomEvent::SubscribeOffer`]).
    fn subscribe(&mut self, _feed: u64, _out: &mut Vec<String>) {}
    /// Our SDP answer to a [`RoomEvent::SubscribeOffer`] (answered by [`RoomEvent::Subscribed`]).
    fn answer_subscription(&mut self, _feed: u64, _answer: &str, _out: &mut Vec<String>) {}
    /// Stop receiving `feed`.
    fn unsubscribe(&mut self, _feed: u64, _out: &mut Vec<String>) {}
}

/// A driver of `kind`.
pub fn new_driver(kind: DriverKind) -> Box<dyn SignalingDriver> {
    match kind {
        DriverKind::Qiniu => Box::new(qiniu::QiniuDriver::default()),
        DriverKind::Janus => Box::new(janus::JanusDriver::default()),
    }
}
