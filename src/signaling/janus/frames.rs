//! Janus frames as the VideoRoom driver needs them: each incoming JSON frame read into one typed
//! value, so the driver's state machine matches on meaning, not on JSON shapes.
//!
//! What the recorded frames (`tests/fixtures/janus/videoroom.jsonl`, from Debian's Janus 1.1.2)
//! show and this module keeps:
//! - Asynchronous requests (`join`, `leave`) answer with an `ack` **and** an `event` carrying the
//!   same transaction, in either order; both are read here, matching is the driver's job.
//! - VideoRoom refusals come inside an `event` (or `success`) as `error_code`; core refusals
//!   (403 bad token, 458 no such session) as `janus: "error"`.
//! - A member whose session ends is announced as `unpublished` twice and then `leaving`; an
//!   explicit leave as `leaving` alone; a kick as `kicked` to the others and `leaving: "ok"` with
//!   `reason: "kicked"` to the member.

use serde_json::Value;

/// One frame from Janus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incoming {
    /// `success`: the answer to a core request (`create`, `attach`, `claim`, `destroy`: `id` is
    /// the new session's or handle's) or to a synchronous plugin request (`plugin`).
    Success {
        /// The request's transaction.
        transaction: String,
        /// `data.id`, when the answer creates something.
        id: Option<u64>,
        /// The plugin's answer, for plugin requests.
        plugin: Option<VideoRoom>,
    },
    /// `ack`: an asynchronous request (or a keepalive) was received.
    Ack {
        /// The request's transaction.
        transaction: String,
    },
    /// `error`: a core refusal.
    Error {
        /// The request's transaction, if the frame names one.
        transaction: Option<String>,
        /// Janus's code (403 token, 458 no such session, …).
        code: u32,
        /// Janus's reason text.
        reason: String,
    },
    /// `event` from the plugin: the answer to an asynchronous request (`transaction`), or news
    /// of the room (none).
    Event {
        /// The request it answers, if any.
        transaction: Option<String>,
        /// What the plugin says.
        data: VideoRoom,
    },
    /// `timeout`: the session expired (no request within the session timeout).
    Timeout,
    /// `detached`: a handle was detached (by us or because its session went).
    Detached,
    /// Anything else (`webrtcup`, `media`, `hangup`, …): nothing a member without media needs.
    Other(String),
}

/// A VideoRoom participant as Janus lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// Numeric id in the room.
    pub id: u64,
    /// Display name (roomstorm puts the user id there).
    pub display: String,
}

/// What the VideoRoom plugin said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VideoRoom {
    /// `joined`: our join was accepted; the members already in (attendees and publishers).
    Joined {
        /// Our own id.
        id: u64,
        /// The others.
        members: Vec<Member>,
    },
    /// Another member joined (`joining`, sent when the room has `notify_joining`).
    Joining(Member),
    /// Another member left (`leaving: <id>`).
    Leaving {
        /// Its id.
        id: u64,
    },
    /// Our own leave is done (`leaving: "ok"`); `kicked` when it was a kick, not our request.
    LeftSelf {
        /// `reason: "kicked"`.
        kicked: bool,
    },
    /// Another member was kicked (`kicked: <id>`).
    Kicked {
        /// Its id.
        id: u64,
    },
    /// A member's session went: sent twice before its `leaving` (idempotent for the driver).
    Unpublished {
        /// Its id.
        id: u64,
    },
    /// The room was destroyed: pushed to its members as an `event`, and the answer (`success`)
    /// to the `destroy` request.
    Destroyed,
    /// A refusal (`error_code`): 426 no such room, 433 not allowed, 436 id taken, 425 …
    Refused {
        /// Janus's VideoRoom code.
        code: u32,
        /// Its text.
        reason: String,
    },
    /// Any other answer (`created`, `participants`, `success`, …), by its `videoroom` name.
    Other(String),
}

/// Why a frame could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// Not JSON, or not an object with a `janus` field.
    #[error("not a Janus frame: {0}")]
    NotJanus(String),
}

/// Reads one text frame.
pub fn parse(text: &str) -> Result<Incoming, FrameError> {
    read(text).map(|(incoming, _)| incoming)
}

/// A stream of a publisher's feed, as Janus lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedStream {
    /// The stream's `mid` in the publisher's connection.
    pub mid: String,
    /// `true` for video, `false` for audio (data streams are not listed).
    pub video: bool,
}

/// A publisher's feed: its member id, display name and streams.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Feed {
    /// The publisher's member id (also the feed's id).
    pub id: u64,
    /// Display name (roomstorm puts the user id there).
    pub display: String,
    /// Its audio and video streams.
    pub streams: Vec<FeedStream>,
}

/// What a frame carries for media, beside its [`Incoming`] meaning.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MediaParts {
    /// The handle the frame is about (`sender`).
    pub sender: Option<u64>,
    /// The SDP of a `jsep` (offer or answer).
    pub sdp: Option<String>,
    /// Publishers listed in `publishers` (a `joined` answer or room news).
    pub feeds: Vec<Feed>,
    /// The plugin's answer named (`configured`, `started`, `attached`, `unpublished`: `"ok"`).
    pub ok: Option<&'static str>,
}

/// Reads one text frame: its meaning and its media parts.
pub fn read(text: &str) -> Result<(Incoming, MediaParts), FrameError> {
    let v: Value = serde_json::from_str(text).map_err(|e| FrameError::NotJanus(e.to_string()))?;
    let parts = media_parts(&v);
    Ok((incoming(&v)?, parts))
}

fn media_parts(v: &Value) -> MediaParts {
    let data = v.get("plugindata").and_then(|p| p.get("data"));
    let feeds = data
        .and_then(|d| d["publishers"].as_array())
        .map(|list| list.iter().filter_map(feed).collect())
        .unwrap_or_default();
    let ok = data.and_then(|d| {
        if d["videoroom"] == "attached" {
            return Some("attached");
        }
        ["configured", "started", "unpublished"]
            .into_iter()
            .find(|k| d[*k] == "ok")
    });
    MediaParts {
        sender: v["sender"].as_u64(),
        sdp: v["jsep"]["sdp"].as_str().map(str::to_owned),
        feeds,
        ok,
    }
}

fn feed(v: &Value) -> Option<Feed> {
    let streams = v["streams"]
        .as_array()
        .map(|s| {
            s.iter()
                .filter(|s| s["disabled"] != true)
                .filter_map(|s| {
                    let video = match s["type"].as_str()? {
                        "audio" => false,
                        "video" => true,
                        _ => return None,
                    };
                    Some(FeedStream {
                        mid: s["mid"].as_str()?.to_owned(),
                        video,
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    Some(Feed {
        id: v["id"].as_u64()?,
        display: v["display"].as_str().unwrap_or("").to_owned(),
        streams,
    })
}

fn incoming(v: &Value) -> Result<Incoming, FrameError> {
    let kind = v["janus"]
        .as_str()
        .ok_or_else(|| FrameError::NotJanus("no `janus` field".into()))?;
    let transaction = v["transaction"].as_str().map(str::to_owned);
    let plugin = v
        .get("plugindata")
        .and_then(|p| p.get("data"))
        .map(videoroom);
    Ok(match kind {
        "success" => Incoming::Success {
            transaction: transaction.unwrap_or_default(),
            id: v["data"]["id"].as_u64(),
            plugin,
        },
        "ack" => Incoming::Ack {
            transaction: transaction.unwrap_or_default(),
        },
        "error" => Incoming::Error {
            transaction,
            code: v["error"]["code"].as_u64().unwrap_or(0) as u32,
            reason: v["error"]["reason"].as_str().unwrap_or("").to_owned(),
        },
        "event" => Incoming::Event {
            transaction,
            data: plugin.unwrap_or_else(|| VideoRoom::Other(String::new())),
        },
        "timeout" => Incoming::Timeout,
        "detached" => Incoming::Detached,
        other => Incoming::Other(other.to_owned()),
    })
}

fn member(v: &Value) -> Option<Member> {
    Some(Member {
        id: v["id"].as_u64()?,
        display: v["display"].as_str().unwrap_or("").to_owned(),
    })
}

fn videoroom(d: &Value) -> VideoRoom {
    if let Some(code) = d["error_code"].as_u64() {
        return VideoRoom::Refused {
            code: code as u32,
            reason: d["error"].as_str().unwrap_or("").to_owned(),
        };
    }
    match d["videoroom"].as_str().unwrap_or("") {
        "joined" => VideoRoom::Joined {
            id: d["id"].as_u64().unwrap_or(0),
            members: ["attendees", "publishers"]
                .iter()
                .filter_map(|k| d[*k].as_array())
                .flatten()
                .filter_map(member)
                .collect(),
        },
        "destroyed" => VideoRoom::Destroyed,
        "event" => {
            if let Some(m) = d.get("joining").and_then(member) {
                VideoRoom::Joining(m)
            } else if let Some(id) = d["leaving"].as_u64() {
                VideoRoom::Leaving { id }
            } else if d["leaving"] == "ok" {
                VideoRoom::LeftSelf {
                    kicked: d["reason"] == "kicked",
                }
            } else if let Some(id) = d["kicked"].as_u64() {
                VideoRoom::Kicked { id }
            } else if let Some(id) = d["unpublished"].as_u64() {
                VideoRoom::Unpublished { id }
            } else {
                VideoRoom::Other("event".into())
            }
        }
        other => VideoRoom::Other(other.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Frames recorded from Debian's Janus 1.1.2 by `tests/fixtures/janus/record.py`.
    const RECORDED: &str = include_str!("../../../tests/fixtures/janus/videoroom.jsonl");

    /// (client, frame) of every frame Janus sent, in order.
    fn received() -> Vec<(String, String)> {
        RECORDED
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .filter(|l| l["dir"] == "in")
            .map(|l| {
                (
                    l["client"].as_str().unwrap().to_owned(),
                    l["frame"].to_string(),
                )
            })
            .collect()
    }

    fn of(client: &str) -> Vec<Incoming> {
        received()
            .into_iter()
            .filter(|(c, _)| c == client)
            .map(|(_, f)| parse(&f).unwrap())
            .collect()
    }

    fn events(client: &str) -> Vec<VideoRoom> {
        of(client)
            .into_iter()
            .filter_map(|i| match i {
                Incoming::Event { data, .. } => Some(data),
                _ => None,
            })
            .collect()
    }

    fn m(id: u64, display: &str) -> Member {
        Member {
            id,
            display: display.into(),
        }
    }

    #[test]
    fn every_recorded_frame_reads_and_none_is_unknown() {
        let all = received();
        assert_eq!(
            all.len(),
            74,
            "the fixture holds the whole recorded session"
        );
        for (client, f) in &all {
            let got = parse(f).unwrap_or_else(|e| panic!("{client}: {f}: {e}"));
            assert!(
                !matches!(got, Incoming::Other(_)),
                "{client}: {f} is a frame kind the driver should know"
            );
        }
    }

    #[test]
    fn joins_list_the_members_already_in_and_announce_the_newcomers() {
        assert!(events("alice").contains(&VideoRoom::Joined {
            id: 1,
            members: vec![]
        }));
        assert!(events("carol").contains(&VideoRoom::Joined {
            id: 3,
            members: vec![m(1, "alice"), m(2, "bob")]
        }));
        let alice = events("alice");
        assert!(alice.contains(&VideoRoom::Joining(m(2, "bob"))));
        assert!(alice.contains(&VideoRoom::Joining(m(3, "carol"))));
    }

    #[test]
    fn ack_and_event_of_one_request_arrive_in_either_order() {
        // Per client and transaction: was the event first, or the ack?
        let mut event_first = 0;
        let mut ack_first = 0;
        for client in [
            "alice", "bob", "carol", "dave", "erin", "fred", "ivan", "judy",
        ] {
            let frames = of(client);
            for (i, f) in frames.iter().enumerate() {
                if let Incoming::Ack { transaction } = f {
                    let event_at = frames.iter().position(|g| {
                        matches!(g, Incoming::Event { transaction: Some(t), .. } if t == transaction)
                    });
                    match event_at {
                        Some(e) if e < i => event_first += 1,
                        Some(_) => ack_first += 1,
                        None => {} // a keepalive: an ack alone
                    }
                }
            }
        }
        assert!(
            event_first > 0 && ack_first > 0,
            "{event_first} {ack_first}"
        );
    }

    #[test]
    fn refusals_carry_janus_codes() {
        assert!(events("dave").contains(&VideoRoom::Refused {
            code: 436,
            reason: "User ID 1 already exists".into()
        }));
        assert!(events("erin").contains(&VideoRoom::Refused {
            code: 426,
            reason: "No such room (999999)".into()
        }));
        assert!(of("gina").contains(&Incoming::Error {
            transaction: Some("gina-2".into()),
            code: 458,
            reason: "No such session 1".into()
        }));
        assert_eq!(
            parse(
                r#"{"janus":"error","transaction":"t","error":{"code":403,"reason":"Unauthorized request (wrong or missing secret/token)"}}"#
            ),
            Ok(Incoming::Error {
                transaction: Some("t".into()),
                code: 403,
                reason: "Unauthorized request (wrong or missing secret/token)".into()
            })
        );
    }

    #[test]
    fn leaves_kicks_destroyed_rooms_and_timeouts() {
        // carol's explicit leave: the others get `leaving` once, she gets "ok".
        assert!(events("bob").contains(&VideoRoom::Leaving { id: 3 }));
        assert!(events("carol").contains(&VideoRoom::LeftSelf { kicked: false }));
        // alice is kicked: "ok" with reason kicked to her, `kicked` to the others.
        assert!(events("alice").contains(&VideoRoom::LeftSelf { kicked: true }));
        assert!(events("fred").contains(&VideoRoom::Kicked { id: 1 }));
        // The room is destroyed while fred is in it.
        assert!(events("fred").contains(&VideoRoom::Destroyed));
        // gina claimed bob's dropped session: his room's news reach her socket.
        assert!(events("gina").contains(&VideoRoom::Destroyed));
        // ivan's session timed out; judy sees unpublished twice, then leaving.
        assert!(of("ivan").contains(&Incoming::Timeout));
        let judy: Vec<VideoRoom> = events("judy")
            .into_iter()
            .filter(|e| {
                matches!(
                    e,
                    VideoRoom::Unpublished { id: 11 } | VideoRoom::Leaving { id: 11 }
                )
            })
            .collect();
        assert_eq!(
            judy,
            [
                VideoRoom::Unpublished { id: 11 },
                VideoRoom::Unpublished { id: 11 },
                VideoRoom::Leaving { id: 11 }
            ]
        );
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        assert!(parse("not json").is_err());
        assert!(parse("[1,2]").is_err());
        assert!(parse(r#"{"janus":5}"#).is_err());
        assert_eq!(
            parse(r#"{"janus":"webrtcup","session_id":1}"#),
            Ok(Incoming::Other("webrtcup".into()))
        );
        // An event without plugin data is kept, as nothing.
        assert_eq!(
            parse(r#"{"janus":"event"}"#),
            Ok(Incoming::Event {
                transaction: None,
                data: VideoRoom::Other(String::new())
            })
        );
    }
}
