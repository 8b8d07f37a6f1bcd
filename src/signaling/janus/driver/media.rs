//! The Janus driver's media: publishing on the member's own handle, and one subscriber handle
//! per feed subscribed to (Janus offers to subscribers; the participant answers).
//!
//! | step | request | Janus answers |
//! |---|---|---|
//! | publish | `publish` + JSEP offer on the member's handle | `configured: "ok"` + JSEP answer, or 432 (10011) |
//! | unpublish | `unpublish` | `unpublished: "ok"` |
//! | subscribe | `attach` a new handle, then `join` `ptype: subscriber` with `streams: [{feed}]` | `attached` + JSEP offer |
//! | answer | `start` + JSEP answer on that handle | `started: "ok"` |
//! | unsubscribe | `detach` that handle | `success` |
//!
//! Feeds come from `publishers` lists (in the `joined` answer and as room news); a feed ends
//! with its member's `unpublished` or `leaving`, each reported once.

use serde_json::{Value, json};

use super::JanusDriver;
use crate::scenario::MediaKind;
use crate::signaling::janus::driver::PLUGIN;
use crate::signaling::janus::frames::{Feed, Incoming, MediaParts, VideoRoom};
use crate::signaling::{DriverError, RemoteFeed, RemoteTrack, RoomEvent};

/// Where a subscription stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum SubStage {
    /// `attach` sent (this transaction).
    Attaching(String),
    /// Subscriber `join` sent (this transaction); the offer comes with its answer.
    Joining(String),
    /// Offer handed to the participant; waiting for its answer.
    Offered,
    /// `start` sent (this transaction).
    Starting(String),
    /// Media flows.
    Live,
}

/// One subscription: a handle of its own.
#[derive(Debug, Clone)]
pub(super) struct Subscription {
    pub feed: u64,
    pub handle: Option<u64>,
    pub stage: SubStage,
}

/// The media side of one Janus session.
#[derive(Debug, Default)]
pub(super) struct Media {
    /// `publish` or `unpublish` in flight (transaction, `true` for publish).
    pub publishing: Option<(String, bool)>,
    /// Feeds announced and not yet removed.
    pub feeds: Vec<u64>,
    pub subs: Vec<Subscription>,
    /// Events beyond the one `on_text` returns.
    pub queued: std::collections::VecDeque<RoomEvent>,
}

fn remote(feed: &Feed) -> RemoteFeed {
    RemoteFeed {
        feed: feed.id,
        user: feed.display.clone(),
        tracks: feed
            .streams
            .iter()
            .map(|s| RemoteTrack {
                mid: s.mid.clone(),
                kind: if s.video {
                    MediaKind::Video
                } else {
                    MediaKind::Audio
                },
            })
            .collect(),
    }
}

impl JanusDriver {
    /// A message on `handle` (not the member's own).
    fn message_on(
        &mut self,
        handle: u64,
        body: Value,
        sdp: Option<(&str, &str)>,
    ) -> (String, String) {
        let mut request = json!({"janus": "message", "handle_id": handle, "body": body});
        if let Some((kind, sdp)) = sdp {
            request["jsep"] = json!({"type": kind, "sdp": sdp});
        }
        self.request(request)
    }

    /// Feeds newly listed: each becomes a [`RoomEvent::TracksAdded`] once.
    pub(super) fn feeds_listed(&mut self, feeds: &[Feed]) {
        for feed in feeds {
            if feed.id == self.member
                || feed.streams.is_empty()
                || self.media.feeds.contains(&feed.id)
            {
                continue;
            }
            self.media.feeds.push(feed.id);
            self.media
                .queued
                .push_back(RoomEvent::TracksAdded(remote(feed)));
        }
    }

    /// A member unpublished or left: its feed's end, reported once; its subscription's handle
    /// stays until the participant unsubscribes.
    pub(super) fn feed_gone(&mut self, id: u64) {
        if let Some(i) = self.media.feeds.iter().position(|f| *f == id) {
            self.media.feeds.swap_remove(i);
            self.media
                .queued
                .push_back(RoomEvent::TracksRemoved { feed: id });
        }
    }

    /// Handles a frame that concerns media; `None`: not a media frame (the signaling handles it).
    pub(super) fn media_frame(
        &mut self,
        frame: &Incoming,
        parts: &MediaParts,
        out: &mut Vec<String>,
    ) -> Option<Result<Option<RoomEvent>, DriverError>> {
        let transaction = match frame {
            Incoming::Success { transaction, .. } | Incoming::Ack { transaction } => {
                Some(transaction.as_str())
            }
            Incoming::Error { transaction, .. } | Incoming::Event { transaction, .. } => {
                transaction.as_deref()
            }
            _ => None,
        };
        if let Incoming::Ack { .. } = frame {
            return None;
        }
        // Our publish or unpublish.
        if let (Some(t), Some((ours, publish))) = (transaction, &self.media.publishing)
            && t == ours
        {
            let publish = *publish;
            self.media.publishing = None;
            return Some(Ok(Some(match (frame, publish) {
                (
                    Incoming::Event {
                        data: VideoRoom::Refused { code, .. },
                        ..
                    },
                    true,
                ) => RoomEvent::PublishRefused {
                    code: if *code == 432 { 10011 } else { *code },
                },
                (Incoming::Error { code, .. }, true) => RoomEvent::PublishRefused { code: *code },
                (_, true) => match (&parts.sdp, parts.ok) {
                    (Some(sdp), Some("configured")) => RoomEvent::Published {
                        answer: sdp.clone(),
                    },
                    _ => {
                        return Some(Err(DriverError::BadAnswer(format!(
                            "publish answered without a JSEP answer: {frame:?}"
                        ))));
                    }
                },
                (_, false) => RoomEvent::Unpublished,
            })));
        }
        // A subscription's steps, by transaction.
        if let Some(t) = transaction
            && let Some(i) = self.media.subs.iter().position(|s| match &s.stage {
                SubStage::Attaching(x) | SubStage::Joining(x) | SubStage::Starting(x) => x == t,
                _ => false,
            })
        {
            return Some(self.subscription_step(i, frame, parts, out));
        }
        // Anything else about a subscriber handle (webrtcup, media, hangup, updates).
        if parts
            .sender
            .is_some_and(|h| self.media.subs.iter().any(|s| s.handle == Some(h)))
        {
            return Some(Ok(None));
        }
        None
    }

    fn subscription_step(
        &mut self,
        i: usize,
        frame: &Incoming,
        parts: &MediaParts,
        out: &mut Vec<String>,
    ) -> Result<Option<RoomEvent>, DriverError> {
        let feed = self.media.subs[i].feed;
        let failed = |why: String| Ok(Some(RoomEvent::SubscribeFailed { feed, why }));
        match (&self.media.subs[i].stage, frame) {
            (
                SubStage::Attaching(_),
                Incoming::Success {
                    id: Some(handle), ..
                },
            ) => {
                let handle = *handle;
                self.media.subs[i].handle = Some(handle);
                let body = json!({"request": "join", "ptype": "subscriber", "room": self.room,
                    "streams": [{"feed": feed}]});
                let (t, f) = self.message_on(handle, body, None);
                self.media.subs[i].stage = SubStage::Joining(t);
                out.push(f);
                Ok(None)
            }
            (
                SubStage::Joining(_),
                Incoming::Event {
                    data: VideoRoom::Refused { code, reason },
                    ..
                },
            ) => {
                let why = format!("Janus refused the subscription: {code} {reason}");
                self.media.subs.remove(i);
                failed(why)
            }
            (SubStage::Joining(_), Incoming::Event { .. }) => match (&parts.sdp, parts.ok) {
                (Some(offer), Some("attached")) => {
                    self.media.subs[i].stage = SubStage::Offered;
                    Ok(Some(RoomEvent::SubscribeOffer {
                        feed,
                        offer: offer.clone(),
                    }))
                }
                _ => Err(DriverError::BadAnswer(format!(
                    "subscriber join answered without an offer: {frame:?}"
                ))),
            },
            (
                SubStage::Starting(_),
                Incoming::Event {
                    data: VideoRoom::Refused { code, reason },
                    ..
                },
            ) => {
                let why = format!("Janus refused start: {code} {reason}");
                self.media.subs.remove(i);
                failed(why)
            }
            (SubStage::Starting(_), Incoming::Event { .. }) if parts.ok == Some("started") => {
                self.media.subs[i].stage = SubStage::Live;
                Ok(Some(RoomEvent::Subscribed { feed }))
            }
            (_, Incoming::Error { code, reason, .. }) => {
                let why = format!("Janus refused a subscription step: {code} {reason}");
                self.media.subs.remove(i);
                failed(why)
            }
            _ => Ok(None),
        }
    }

    /// Publish: a `publish` with our offer on the member's handle.
    pub(super) fn media_publish(&mut self, offer: &str, out: &mut Vec<String>) {
        let Some(handle) = self.handle else { return };
        let (t, f) = self.message_on(
            handle,
            json!({"request": "publish"}),
            Some(("offer", offer)),
        );
        self.media.publishing = Some((t, true));
        out.push(f);
    }

    /// Unpublish on the member's handle.
    pub(super) fn media_unpublish(&mut self, out: &mut Vec<String>) {
        let Some(handle) = self.handle else { return };
        let (t, f) = self.message_on(handle, json!({"request": "unpublish"}), None);
        self.media.publishing = Some((t, false));
        out.push(f);
    }

    /// Subscribe to `feed`: a handle of its own first.
    pub(super) fn media_subscribe(&mut self, feed: u64, out: &mut Vec<String>) {
        if self.session.is_none() || self.media.subs.iter().any(|s| s.feed == feed) {
            return;
        }
        let (t, f) = self.request(json!({"janus": "attach", "plugin": PLUGIN}));
        self.media.subs.push(Subscription {
            feed,
            handle: None,
            stage: SubStage::Attaching(t),
        });
        out.push(f);
    }

    /// Our answer to a subscription's offer: `start` on its handle.
    pub(super) fn media_answer(&mut self, feed: u64, answer: &str, out: &mut Vec<String>) {
        let Some(i) = self.media.subs.iter().position(|s| s.feed == feed) else {
            return;
        };
        let Some(handle) = self.media.subs[i].handle else {
            return;
        };
        let (t, f) = self.message_on(
            handle,
            json!({"request": "start"}),
            Some(("answer", answer)),
        );
        self.media.subs[i].stage = SubStage::Starting(t);
        out.push(f);
    }

    /// Unsubscribe: detach the subscription's handle (Janus tears its connection down).
    pub(super) fn media_unsubscribe(&mut self, feed: u64, out: &mut Vec<String>) {
        let Some(i) = self.media.subs.iter().position(|s| s.feed == feed) else {
            return;
        };
        let sub = self.media.subs.swap_remove(i);
        if let Some(handle) = sub.handle {
            let (_, f) = self.request(json!({"janus": "detach", "handle_id": handle}));
            out.push(f);
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;
    use crate::signaling::janus::driver::member_id;
    use crate::signaling::{Action, JoinRequest, SignalingDriver};

    /// Frames of roomstorm's own participants against Debian's Janus 1.1.2 with media, recorded
    /// by `tests/fixtures/janus/record-media.sh`: `pub` publishes audio and video, `sub`
    /// subscribes to it, is refused its own publish (432: the room takes one publisher) and
    /// leaves; `pub` unpublishes and leaves.
    const RECORDED: &str = include_str!("../../../../tests/fixtures/janus/media.jsonl");

    fn frames(client: &str) -> Vec<(bool, Value)> {
        RECORDED
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .filter(|l| l["client"] == client)
            .map(|l| (l["dir"] == "out", l["frame"].clone()))
            .collect()
    }

    /// Replays `client`'s recording through a fresh driver, calling the participant's intents
    /// where the recording shows them (publish, unpublish, leave; subscribe on each feed
    /// announced, answer on each offer). Every frame the driver sends must be the recorded one,
    /// in order; returns the events it reported.
    fn replay(client: &str) -> Vec<RoomEvent> {
        let recorded = frames(client);
        let join = recorded
            .iter()
            .find(|(out, f)| *out && f["body"]["request"] == "join")
            .map(|(_, f)| f["body"].clone())
            .unwrap();
        let mut d = JanusDriver::new("rs")
            .with_ids(join["room"].as_u64().unwrap(), join["id"].as_u64().unwrap());
        let request = JoinRequest {
            base_url: "http://127.0.0.1:8188".into(),
            app: String::new(),
            room: "rec".into(),
            user: client.into(),
            room_token: String::new(),
            user_data: String::new(),
            room_number: 0,
        };
        assert!(matches!(d.begin_join(&request), Action::Open { .. }));
        let mut sent: Vec<String> = Vec::new();
        d.on_socket_open(&mut sent);
        let mut next_sent = 0;
        let mut events = Vec::new();
        for (out, frame) in recorded {
            if out {
                let sdp = frame["jsep"]["sdp"].as_str().unwrap_or_default().to_owned();
                match frame["body"]["request"].as_str() {
                    Some("publish") => d.publish(&sdp, &mut sent),
                    Some("unpublish") => d.unpublish(&mut sent),
                    Some("leave") => d.leave(&mut sent),
                    Some("start") => {
                        let feed = match events.iter().rev().find_map(|e| match e {
                            RoomEvent::SubscribeOffer { feed, .. } => Some(*feed),
                            _ => None,
                        }) {
                            Some(f) => f,
                            None => panic!("start without an offer"),
                        };
                        d.answer_subscription(feed, &sdp, &mut sent);
                    }
                    _ => {}
                }
                let got: Value = serde_json::from_str(
                    sent.get(next_sent)
                        .unwrap_or_else(|| panic!("{client}: did not send {frame}")),
                )
                .unwrap();
                assert_eq!(got, frame, "{client}: frame {next_sent}");
                next_sent += 1;
            } else {
                let mut first = d.on_text(&frame.to_string(), &mut sent).unwrap();
                while let Some(e) = first.take().or_else(|| d.next_event()) {
                    if let RoomEvent::TracksAdded(feed) = &e {
                        d.subscribe(feed.feed, &mut sent);
                    }
                    events.push(e);
                }
            }
        }
        assert_eq!(next_sent, sent.len(), "{client}: sent more than recorded");
        events
    }

    /// The events without their SDPs (what the recording's SDPs say is the WebRTC stack's).
    fn shapes(events: &[RoomEvent]) -> Vec<String> {
        events
            .iter()
            .map(|e| match e {
                RoomEvent::Published { answer } => {
                    assert!(answer.starts_with("v=0"), "{answer}");
                    "published".into()
                }
                RoomEvent::SubscribeOffer { feed, offer } => {
                    assert!(offer.contains("m=audio") && offer.contains("m=video"));
                    format!("offer {feed}")
                }
                other => format!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn a_publisher_publishes_with_its_offer_then_unpublishes_and_leaves() {
        let events = replay("pub");
        assert_eq!(
            shapes(&events),
            [
                "Joined { peers: [] }".to_string(),
                "published".into(),
                "UserJoined(Peer { user: \"sub\", data: \"\" })".to_string(),
                "UserLeft { user: \"sub\" }".to_string(),
                "Unpublished".into(),
                "Left".into(),
            ]
        );
    }

    #[test]
    fn a_subscriber_subscribes_to_the_feed_it_finds_answers_janus_s_offer_and_a_full_room_is_10011()
    {
        let events = replay("sub");
        let feed = member_id("pub");
        let shapes = shapes(&events);
        assert_eq!(
            shapes[0],
            "Joined { peers: [Peer { user: \"pub\", data: \"\" }] }"
        );
        // The feed comes with its two streams, from the `joined` answer's publisher list.
        assert_eq!(
            events[1],
            RoomEvent::TracksAdded(RemoteFeed {
                feed,
                user: "pub".into(),
                tracks: vec![
                    RemoteTrack {
                        mid: "0".into(),
                        kind: MediaKind::Audio
                    },
                    RemoteTrack {
                        mid: "1".into(),
                        kind: MediaKind::Video
                    },
                ],
            })
        );
        assert_eq!(
            shapes[2..],
            [
                format!("offer {feed}"),
                format!("Subscribed {{ feed: {feed} }}"),
                "PublishRefused { code: 10011 }".into(),
                "Left".into(),
            ]
        );
    }

    #[test]
    fn feeds_are_announced_once_and_removed_once_however_often_janus_repeats_them() {
        let mut d = JanusDriver::new("t");
        d.member = 7;
        d.stage = super::super::Stage::InRoom;
        d.session = Some(1);
        let listed = r#"{"janus":"event","sender":9,"plugindata":{"plugin":"janus.plugin.videoroom","data":{"videoroom":"event","room":1,"publishers":[{"id":5,"display":"a","streams":[{"type":"audio","mid":"0"},{"type":"data","mid":"2"},{"type":"video","mid":"1","disabled":true}]},{"id":7,"display":"me","streams":[{"type":"audio","mid":"0"}]},{"id":6,"display":"b","streams":[]}]}}}"#;
        let mut out = Vec::new();
        assert_eq!(d.on_text(listed, &mut out).unwrap(), None);
        let added: Vec<RoomEvent> = std::iter::from_fn(|| d.next_event()).collect();
        // Ourselves, a feed without streams, data and disabled streams are not tracks.
        assert_eq!(
            added,
            [RoomEvent::TracksAdded(RemoteFeed {
                feed: 5,
                user: "a".into(),
                tracks: vec![RemoteTrack {
                    mid: "0".into(),
                    kind: MediaKind::Audio
                }],
            })]
        );
        assert_eq!(d.on_text(listed, &mut out).unwrap(), None);
        assert_eq!(d.next_event(), None, "announced once");
        let gone = r#"{"janus":"event","sender":9,"plugindata":{"plugin":"janus.plugin.videoroom","data":{"videoroom":"event","room":1,"unpublished":5}}}"#;
        for _ in 0..2 {
            d.on_text(gone, &mut out).unwrap();
        }
        let removed: Vec<RoomEvent> = std::iter::from_fn(|| d.next_event()).collect();
        assert_eq!(removed, [RoomEvent::TracksRemoved { feed: 5 }]);
        assert!(out.is_empty());
    }
}
