//! The JSON Schema of the scenario format, for editor completion and hover help.
//!
//! Hand-written next to the validator it describes; the tests check that every good fixture and
//! shipped scenario passes it and that an unknown key fails it. The schema is looser than the
//! validator on values (it cannot check that a duration is positive or that a script is well
//! formed) but exact on keys and shapes.

use serde_json::{Value, json};

use super::arrival::KINDS;
use super::faults::{FAULT_KINDS, MAX_ATTEMPTS, RULES, Use};
use super::group::{ORDERS, PERMISSIONS, TOKEN_KINDS};
use super::media_read::{CODECS, FPS, KINDS as MEDIA_KINDS, PAYLOADS, SUBSCRIBE_WORDS};
use super::script::{KNOWN_CODES, OUTCOMES};
use super::validate::DRIVERS;

/// The JSON Schema (draft 2020-12) of scenario files.
pub fn json_schema() -> Value {
    let duration = json!({
        "type": "string",
        "pattern": r"^\s*([0-9]+(\.[0-9]+)?\s*[a-zA-Zµ]+\s*)+$",
        "description": "A duration such as 500ms, 20s or 1m30s.",
        "examples": ["500ms", "20s", "1m30s"]
    });
    let rate = |min_desc: &str| {
        json!({
            "description": format!("Arrivals per second as a number, or a string N/s or N/m ({min_desc})."),
            "oneOf": [
                {"type": "number", "minimum": 0},
                {"type": "string", "pattern": r"^\s*[0-9]+(\.[0-9]+)?\s*/\s*(s|sec|m|min)\s*$"}
            ],
            "examples": ["100/s", "30/m", 50]
        })
    };
    let mut codes_with_zero: Vec<u32> = vec![0];
    codes_with_zero.extend(KNOWN_CODES);
    let dist = json!({
        "description": "A fixed duration or a distribution drawn per participant from the seed.",
        "oneOf": [
            {"$ref": "#/$defs/duration"},
            {
                "type": "object", "additionalProperties": false, "required": ["uniform"],
                "properties": {"uniform": {
                    "description": "Uniform in [min, max].",
                    "type": "array", "items": {"$ref": "#/$defs/duration"}, "minItems": 2, "maxItems": 2
                }}
            },
            {
                "type": "object", "additionalProperties": false, "required": ["exponential"],
                "properties": {"exponential": {
                    "description": "Exponential with this mean, capped at max (max ≥ mean).",
                    "type": "object", "additionalProperties": false, "required": ["mean", "max"],
                    "properties": {"mean": {"$ref": "#/$defs/duration"}, "max": {"$ref": "#/$defs/duration"}}
                }}
            },
            {
                "type": "object", "additionalProperties": false, "required": ["normal"],
                "properties": {"normal": {
                    "description": "Normal, clamped to [min, max] (min ≤ mean ≤ max, stddev > 0).",
                    "type": "object", "additionalProperties": false,
                    "required": ["mean", "stddev", "min", "max"],
                    "properties": {
                        "mean": {"$ref": "#/$defs/duration"}, "stddev": {"$ref": "#/$defs/duration"},
                        "min": {"$ref": "#/$defs/duration"}, "max": {"$ref": "#/$defs/duration"}
                    }
                }}
            }
        ]
    });
    let hold = json!({
        "description": "Stay in the room: a duration, a distribution, or {for: <duration or distribution>, expect: [codes]}.",
        "oneOf": [
            {"$ref": "#/$defs/dist"},
            {
                "type": "object", "additionalProperties": false,
                "properties": {
                    "for": {"$ref": "#/$defs/dist"},
                    "uniform": true, "exponential": true, "normal": true,
                    "expect": {
                        "description": "Server disconnect codes that may end the stay and still count as expected (e.g. 10022).",
                        "type": "array", "items": {"enum": KNOWN_CODES}
                    }
                },
                "required": ["expect"]
            },
            {
                "type": "object", "additionalProperties": false, "required": ["for"],
                "properties": {"for": {"$ref": "#/$defs/dist"}}
            }
        ]
    });
    let step = json!({
        "description": "One step: `join`, `leave`, `publish`, `unpublish`, {join: {expect}}, {publish: {expect}}, {hold: …}, {wait: …}. Scripts start and end outside the room; publish and unpublish alternate inside it.",
        "oneOf": [
            {"enum": ["join", "leave", "publish", "unpublish"]},
            {
                "type": "object", "additionalProperties": false, "required": ["join"],
                "properties": {"join": {
                    "description": "Enter the room; `expect` lists the join answers that count as expected (0 = success).",
                    "type": ["object", "null"], "additionalProperties": false,
                    "properties": {"expect": {"type": "array", "minItems": 1, "items": {"enum": codes_with_zero}}}
                }}
            },
            {
                "type": "object", "additionalProperties": false, "required": ["hold"],
                "properties": {"hold": {"$ref": "#/$defs/hold"}}
            },
            {
                "type": "object", "additionalProperties": false, "required": ["wait"],
                "properties": {"wait": {"allOf": [{"$ref": "#/$defs/dist"}], "description": "Think time outside the room."}}
            },
            {
                "type": "object", "additionalProperties": false, "required": ["leave"],
                "properties": {"leave": {"type": "null"}}
            },
            {
                "type": "object", "additionalProperties": false, "required": ["publish"],
                "properties": {"publish": {
                    "description": "Publish the group's media.publish tracks (inside the room); `expect` lists the publish answers that count as expected (0 = accepted, 10011 = the room's publishers are full).",
                    "type": ["object", "null"], "additionalProperties": false,
                    "properties": {"expect": {"type": "array", "minItems": 1, "items": {"enum": codes_with_zero}}}
                }}
            },
            {
                "type": "object", "additionalProperties": false, "required": ["unpublish"],
                "properties": {"unpublish": {"type": "null", "description": "Stop publishing (after a publish, inside the room)."}}
            }
        ]
    });
    let track = json!({
        "description": "One published track: at most one audio and one video per group.",
        "type": "object", "additionalProperties": false, "required": ["kind"],
        "properties": {
            "kind": {"enum": MEDIA_KINDS},
            "codec": {"enum": CODECS, "description": "opus for audio, vp8 for video (the default for each kind)."},
            "bitrate": {
                "type": "string", "pattern": r"^\s*[0-9]+(\.[0-9]+)?\s*(bps|kbps|Mbps)\s*$",
                "description": "Payload bitrate: audio 6kbps to 510kbps, video 6kbps to 10Mbps.",
                "examples": ["32kbps", "500kbps", "1.5Mbps"]
            },
            "ptime": {"allOf": [{"$ref": "#/$defs/duration"}], "description": "Audio only: frame duration, 10ms, 20ms (default), 40ms or 60ms."},
            "fps": {"type": "integer", "minimum": FPS.0, "maximum": FPS.1, "description": "Video only: frames per second (default 30)."},
            "keyframe_interval": {"allOf": [{"$ref": "#/$defs/duration"}], "description": "Video only: 100ms to 60s (default 2s)."},
            "payload": {"enum": PAYLOADS, "description": "synthetic (default): stamped filler of `bitrate`; sample: the shipped VP8/Opus sample (assets/media/), decodable, its own bitrate (480.6 kbit/s video at 30 fps, 42.4 kbit/s audio at 20ms) and keyframes (every 1s)."}
        },
        "allOf": [
            {
                "if": {"properties": {"payload": {"const": "sample"}}, "required": ["payload"]},
                "then": {"not": {"anyOf": [{"required": ["bitrate"]}, {"required": ["keyframe_interval"]}]}},
                "else": {"required": ["bitrate"]}
            },
            {
                "if": {"properties": {"kind": {"const": "audio"}}, "required": ["kind"]},
                "then": {"properties": {"codec": {"const": "opus"}}, "not": {"anyOf": [{"required": ["fps"]}, {"required": ["keyframe_interval"]}]}}
            },
            {
                "if": {"properties": {"kind": {"const": "video"}}, "required": ["kind"]},
                "then": {"properties": {"codec": {"const": "vp8"}}, "not": {"required": ["ptime"]}}
            }
        ]
    });
    let media = json!({
        "description": "What the group's participants publish at `publish` steps and subscribe to while in the room (docs/scenarios.md, \"Media\"). Without it they do neither.",
        "type": ["object", "null"], "additionalProperties": false,
        "properties": {
            "publish": {"type": "array", "minItems": 1, "maxItems": 2, "items": {"$ref": "#/$defs/track"}},
            "subscribe": {
                "description": "all (default): every other participant's tracks in the room; none; {count: N}: the first N other publishers; {groups: [name, …]}: the room's participants in those groups.",
                "oneOf": [
                    {"enum": SUBSCRIBE_WORDS},
                    {
                        "type": "object", "additionalProperties": false, "required": ["count"],
                        "properties": {"count": {"type": "integer", "minimum": 1}}
                    },
                    {
                        "type": "object", "additionalProperties": false, "required": ["groups"],
                        "properties": {"groups": {"type": "array", "minItems": 1, "uniqueItems": true, "items": {"type": "string"}}}
                    }
                ]
            }
        }
    });
    let offset = json!({"$ref": "#/$defs/duration", "description": "Offset from the run start (default 0s)."});
    let arrival_kinds = json!({
        "burst": {
            "description": "Everyone at `at`.",
            "type": ["object", "null"], "additionalProperties": false,
            "properties": {"at": offset}
        },
        "ramp": {
            "description": "Arrivals evenly spread over `over`, from `start`.",
            "type": "object", "additionalProperties": false, "required": ["over"],
            "properties": {"over": {"$ref": "#/$defs/duration"}, "start": offset}
        },
        "constant": {
            "description": "Open model at a fixed rate until the group is exhausted.",
            "type": "object", "additionalProperties": false, "required": ["rate"],
            "properties": {
                "rate": rate("greater than 0"),
                "start": offset,
                "poisson": {"type": "boolean", "description": "Exponential inter-arrival times (default false)."}
            }
        },
        "phases": {
            "description": "Open model through consecutive phases, which must hold the whole group.",
            "type": "object", "additionalProperties": false, "required": ["steps"],
            "properties": {
                "start": offset,
                "steps": {
                    "type": "array", "minItems": 1,
                    "items": {
                        "type": "object", "additionalProperties": false, "required": ["for"],
                        "properties": {
                            "for": {"$ref": "#/$defs/duration"},
                            "rate": rate("0 or more"),
                            "ramp": {
                                "description": "The rate goes linearly from `from` to `to`.",
                                "type": "object", "additionalProperties": false, "required": ["from", "to"],
                                "properties": {"from": rate("0 or more"), "to": rate("0 or more")}
                            }
                        },
                        "oneOf": [{"required": ["rate"]}, {"required": ["ramp"]}]
                    }
                }
            }
        },
        "closed": {
            "description": "Closed model: each participant is a slot that runs the script `iterations` times; slot starts spread over `ramp`.",
            "type": "object", "additionalProperties": false, "required": ["iterations"],
            "properties": {
                "iterations": {"type": "integer", "minimum": 1},
                "ramp": offset,
                "start": offset
            }
        }
    });
    debug_assert_eq!(
        arrival_kinds.as_object().map(|o| o.len()),
        Some(KINDS.len())
    );
    let arrival = json!({
        "description": "When participants arrive: exactly one model.",
        "type": "object", "additionalProperties": false,
        "minProperties": 1, "maxProperties": 1,
        "properties": arrival_kinds
    });
    let group = json!({
        "type": "object", "additionalProperties": false,
        "required": ["name", "arrival", "script"],
        "oneOf": [{"required": ["per_room"]}, {"required": ["count"]}, {"required": ["weight"]}],
        "properties": {
            "name": {"type": "string", "pattern": "^[a-zA-Z0-9_-]{1,32}$", "description": "Unique group name."},
            "per_room": {"type": "integer", "minimum": 1, "description": "This many in every room."},
            "count": {"type": "integer", "minimum": 1, "description": "This many in all, spread over the rooms round-robin."},
            "weight": {"type": "integer", "minimum": 1, "description": "A share of the top-level `participants`."},
            "user": {"type": "string", "description": "User id pattern (default {group}-{index}); placeholders {group} {index} {room} {room_index} {n} {iteration}, numbers as {index:04}."},
            "user_data": {"type": ["string", "number", "null"], "description": "playerdata sent at join (default empty)."},
            "order": {"enum": ORDERS, "description": "Room order of arrivals (default shuffled)."},
            "arrival": {"$ref": "#/$defs/arrival"},
            "token": {
                "description": "Room token options (negative cases included).",
                "type": "object", "additionalProperties": false,
                "properties": {
                    "kind": {"enum": TOKEN_KINDS, "description": "valid (default), expired (10002) or bad_signature (10001)."},
                    "expires_in": {"$ref": "#/$defs/duration", "description": "Expiry from the run start (default 24h)."},
                    "permission": {"enum": PERMISSIONS, "description": "user (default) or admin."}
                }
            },
            "script": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/step"}, "description": "What each participant does, in order."},
            "media": {"$ref": "#/$defs/media"},
            "expect": {
                "description": "Exact outcome counts for this group: completed, aborted, kicked, transport_error, or an RTC code.",
                "type": "object",
                "propertyNames": {"pattern": format!("^({}|[0-9]+)$", OUTCOMES.join("|"))},
                "additionalProperties": {"type": "integer", "minimum": 0}
            }
        }
    });
    let embedded = json!({
        "description": "The reference server, started in-process for the run (all keys optional).",
        "type": ["object", "null"], "additionalProperties": false,
        "properties": {
            "max_users": {"type": "integer", "minimum": 1, "description": "Room capacity (10011 beyond it); default 100."},
            "no_auto_kick_user": {"type": "boolean", "description": "Refuse a second login of the same user instead of evicting the first."},
            "ping_interval": {"$ref": "#/$defs/duration"},
            "reconnect_window": {"$ref": "#/$defs/duration"},
            "silent_timeout": {"$ref": "#/$defs/duration"},
            "empty_room_close": {"$ref": "#/$defs/duration"},
            "auth_delay": {"$ref": "#/$defs/duration", "description": "Injected latency before every join answer (0 by default): to check that a slower server is noticed."}
        }
    });
    let share = json!({
        "description": "A share: a percentage such as 30% or a number in (0, 1]; 0 is refused (it would hit nothing).",
        "oneOf": [
            {"type": "number", "exclusiveMinimum": 0, "maximum": 1},
            {"type": "string", "pattern": r"^\s*[0-9]+(\.[0-9]+)?\s*%\s*$"}
        ],
        "examples": ["30%", 0.5]
    });
    let reconnect = json!({
        "description": "How participants restore a broken connection: `sdk` (the Web SDK 4.3.1's behaviour, the default) or the settings to change from it.",
        "oneOf": [
            {"const": "sdk"},
            {
                "type": "object", "additionalProperties": false,
                "properties": {
                    "ping_timeout": {"$ref": "#/$defs/duration", "description": "No ping for this long → reconnect (default 9s); longer than the embedded server's ping_interval."},
                    "close_delay": {"$ref": "#/$defs/duration", "description": "The old socket is closed this long after the ping timer fires (default 1s; may be 0s)."},
                    "retry_delay": {"$ref": "#/$defs/duration", "description": "Delay before reconnecting after close codes 1001/1005/1011/1013 or disconnect 10052 (default 1s)."},
                    "request_timeout": {"$ref": "#/$defs/duration", "description": "Delay after 1006/1012/1014, and how long one attempt may take (default 5s)."},
                    "attempts": {"type": "integer", "minimum": 1, "maximum": MAX_ATTEMPTS, "description": "Failed attempts before giving up with 10007 (default 3)."}
                }
            }
        ]
    });
    // Which keys each kind takes, from the validator's own table.
    let per_kind: Vec<Value> = FAULT_KINDS
        .iter()
        .zip(RULES.iter())
        .map(|(kind, rule)| {
            let mut required = Vec::new();
            let mut forbidden = Vec::new();
            for (key, usage) in [
                ("share", rule.share),
                ("for", rule.duration),
                ("by", rule.by),
            ] {
                match usage {
                    Use::Required => required.push(key),
                    Use::Optional => {}
                    Use::Forbidden => forbidden.push(key),
                }
            }
            if !rule.narrow {
                forbidden.extend(["group", "rooms"]);
            }
            let forbidden: Vec<Value> =
                forbidden.iter().map(|k| json!({"required": [k]})).collect();
            let mut then = json!({"required": required});
            if !forbidden.is_empty() {
                then["not"] = json!({"anyOf": forbidden});
            }
            json!({
                "if": {"properties": {"kind": {"const": kind}}, "required": ["kind"]},
                "then": then
            })
        })
        .collect();
    let fault = json!({
        "description": "A fault injected at `at`; which other keys apply depends on `kind` (docs/scenarios.md, \"Faults\").",
        "type": "object", "additionalProperties": false,
        "required": ["at", "kind"],
        "properties": {
            "at": {"$ref": "#/$defs/duration", "description": "When, from the run's start; before the deadline."},
            "kind": {"enum": FAULT_KINDS, "description": "Client faults: reset, blackhole, delay_frames, media_loss, media_delay. Management API: kick. Reference server extension: drop_connections, stall, auth_latency, close_rooms, restart."},
            "share": {"allOf": [{"$ref": "#/$defs/share"}], "description": "How many of the eligible participants (client faults, kick), of the rooms (close_rooms) or of the open connections (drop_connections)."},
            "group": {"type": "string", "description": "Only participants of this group (client faults and kick)."},
            "rooms": {"allOf": [{"$ref": "#/$defs/share"}], "description": "Only participants in this share of the rooms, chosen by the seed (client faults and kick)."},
            "for": {"$ref": "#/$defs/duration", "description": "How long: reset's offline time (default 0s), the length of blackhole, delay_frames, stall and auth_latency, restart's outage."},
            "by": {"description": "Added delay (delay_frames, media_delay, auth_latency), or the share of received media packets dropped (media_loss: 5%, 0.05).", "anyOf": [{"$ref": "#/$defs/duration"}, {"$ref": "#/$defs/share"}]}
        },
        "allOf": per_kind
    });
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://roomstorm.invalid/scenario.schema.json",
        "title": "roomstorm scenario",
        "description": "A roomstorm load-test scenario (docs/scenarios.md).",
        "type": "object",
        "additionalProperties": false,
        "required": ["version", "name", "deadline", "rooms", "groups"],
        "if": {"properties": {"groups": {"contains": {"type": "object", "required": ["weight"]}}}, "required": ["groups"]},
        "then": {"required": ["participants"]},
        "properties": {
            "version": {"const": 1, "description": "Format version; must be 1."},
            "name": {"type": "string", "pattern": r"^[a-zA-Z0-9_.-]{1,64}$", "description": "Short name, used in report folder names."},
            "description": {"type": ["string", "null"], "description": "Free text shown in reports."},
            "seed": {"type": "integer", "minimum": 0, "description": "Seed of every random choice (default 1)."},
            "deadline": {"$ref": "#/$defs/duration", "description": "Hard end of the run; must be > 0 and after the last arrival."},
            "leave_grace": {"$ref": "#/$defs/duration", "description": "Time given to leave cleanly after the deadline or Ctrl-C (default 5s)."},
            "target": {
                "description": "What is loaded (default: the embedded reference server).",
                "type": "object", "additionalProperties": false,
                "properties": {
                    "embedded": embedded,
                    "url": {"type": "string", "pattern": "^(http|ws)://.+", "description": "HTTP base URL of an already running server (TLS is not supported yet); with `driver: janus`, Janus's WebSocket URL (ws://127.0.0.1:8188)."},
                    "driver": {"enum": DRIVERS, "description": "Signaling protocol of the external server (default qiniu; janus: Janus's VideoRoom, docs/janus.md)."},
                    "fault_api": {"type": "boolean", "description": "The external server is `roomstorm serve` with the fault-injection extension, so server faults beyond kick may be scripted (default false)."},
                    "token_secret": {"type": "string", "description": "driver janus: Janus's token_auth_secret (${NAME} from the environment); participants present tokens signed with it. Without it, none are sent."},
                    "keepalive": {"$ref": "#/$defs/duration", "description": "driver janus: how often members send a keepalive (default 25s; Janus's session timeout is 60 s)."},
                    "publishers": {"type": "integer", "minimum": 1, "maximum": 100000, "description": "driver janus: each room's limit on members publishing media; the next publisher gets 432, reported as 10011 (default: the largest room's member count)."}
                },
                "oneOf": [
                    {"required": ["embedded"], "not": {"anyOf": [{"required": ["driver"]}, {"required": ["fault_api"]}, {"required": ["token_secret"]}, {"required": ["keepalive"]}, {"required": ["publishers"]}]}},
                    {"required": ["url", "driver"], "properties": {"driver": {"const": "janus"}, "url": {"pattern": "^ws://.+"}}, "not": {"required": ["fault_api"]}},
                    {"required": ["url"], "properties": {"driver": {"const": "qiniu"}, "url": {"pattern": "^http://.+"}}, "not": {"anyOf": [{"required": ["token_secret"]}, {"required": ["keepalive"]}, {"required": ["publishers"]}]}}
                ]
            },
            "app": {"type": "string", "pattern": "^[a-zA-Z0-9_-]{1,64}$", "description": "App id rooms live in (default roomstorm)."},
            "credentials": {
                "description": "Keys that sign room tokens; ${NAME} is read from the environment. Required with `target.url`.",
                "type": "object", "additionalProperties": false, "required": ["access_key", "secret_key"],
                "properties": {
                    "access_key": {"type": "string", "examples": ["${ROOMSTORM_ACCESS_KEY}"]},
                    "secret_key": {"type": "string", "examples": ["${ROOMSTORM_SECRET_KEY}"]}
                }
            },
            "rooms": {
                "type": "object", "additionalProperties": false, "required": ["count"],
                "properties": {
                    "count": {"type": "integer", "minimum": 1, "maximum": 1_000_000},
                    "name": {"type": "string", "description": "Room name pattern (default room-{index}); placeholder {index}, e.g. room-{index:04}."}
                }
            },
            "participants": {"type": "integer", "minimum": 1, "description": "Total shared out over groups with `weight` (largest remainder)."},
            "groups": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/group"}},
            "thresholds": {
                "type": "array",
                "description": "Pass/fail conditions on the run's figures, e.g. `join.p99 < 200ms`, `errors.unexpected == 0`, `codes.10011 == 200` (grammar: docs/scenarios.md).",
                "items": {"oneOf": [
                    {"type": "string", "pattern": "^\\s*[a-z_]+\\.[a-z0-9_.]+\\s*(<=|>=|==|!=|<|>)\\s*\\S+\\s*$"},
                    {"type": "object", "additionalProperties": false, "required": ["expr"], "properties": {
                        "expr": {"type": "string"},
                        "abort_on_fail": {"type": "boolean", "description": "End the run as soon as the threshold fails for good."}
                    }}
                ]}
            },
            "generator": {
                "description": "Limits on the generator's own health per collection interval; beyond them the run is marked generator-limited (docs/scenarios.md).",
                "type": ["object", "null"], "additionalProperties": false,
                "properties": {
                    "max_lateness_p99": {"$ref": "#/$defs/duration", "description": "Largest p99 lateness of an interval (intended → actual start); default 50ms."},
                    "max_loop_lag_p99": {"$ref": "#/$defs/duration", "description": "Largest p99 event-loop lag of an interval (a worker's 100 ms probe timer firing late); default 50ms."},
                    "max_cpu": {"oneOf": [{"type": "string", "pattern": "^\\s*[0-9.]+\\s*%$"}, {"type": "number", "exclusiveMinimum": 0, "maximum": 1}], "description": "Largest CPU of the busiest worker thread, a share of one core such as 95% (default)."},
                    "fail": {"type": "boolean", "description": "A generator-limited run exits 3 (default false: only reported)."}
                }
            },
            "reconnect": {"$ref": "#/$defs/reconnect"},
            "faults": {
                "type": "array", "items": {"$ref": "#/$defs/fault"},
                "description": "Faults injected at scenario times: client faults, kicks, and (embedded or `fault_api: true` targets) server faults."
            }
        },
        "$defs": {
            "duration": duration,
            "dist": dist,
            "hold": hold,
            "step": step,
            "track": track,
            "media": media,
            "arrival": arrival,
            "group": group,
            "share": share,
            "reconnect": reconnect,
            "fault": fault
        }
    })
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::super::raw::{self, Node, Value as Raw};
    use super::*;

    /// The YAML tree as JSON, typing plain scalars the way the validator reads them.
    fn to_json(node: &Node) -> Value {
        match &node.value {
            Raw::Scalar(_) if node.is_null() => Value::Null,
            Raw::Scalar(s) if s.plain => {
                let t = s.text.as_str();
                if t == "true" || t == "false" {
                    Value::Bool(t == "true")
                } else if let Ok(n) = t.replace('_', "").parse::<i64>() {
                    json!(n)
                } else if let Ok(f) = t.parse::<f64>() {
                    json!(f)
                } else {
                    Value::String(s.text.clone())
                }
            }
            Raw::Scalar(s) => Value::String(s.text.clone()),
            Raw::Seq(items) => Value::Array(items.iter().map(to_json).collect()),
            Raw::Map(entries) => Value::Object(
                entries
                    .iter()
                    .map(|(k, v)| {
                        (
                            k.scalar().map(|s| s.text.clone()).unwrap_or_default(),
                            to_json(v),
                        )
                    })
                    .collect(),
            ),
        }
    }

    fn yaml_files(dir: &str) -> Vec<std::path::PathBuf> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
        let Ok(entries) = std::fs::read_dir(dir) else {
            return Vec::new();
        };
        entries
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
            .collect()
    }

    fn instance(path: &Path) -> Value {
        let text = std::fs::read_to_string(path).unwrap();
        to_json(&raw::parse(&text).unwrap().unwrap())
    }

    #[test]
    fn every_good_fixture_and_shipped_scenario_passes_the_schema() {
        let validator = jsonschema::draft202012::new(&json_schema()).unwrap();
        let files: Vec<_> = yaml_files("tests/fixtures/good")
            .into_iter()
            .chain(yaml_files("tests/fixtures/media"))
            .chain(yaml_files("scenarios"))
            .collect();
        assert!(!files.is_empty());
        for path in files {
            let errors: Vec<String> = validator
                .iter_errors(&instance(&path))
                .map(|e| format!("{} at {}", e, e.instance_path()))
                .collect();
            assert!(errors.is_empty(), "{}: {errors:#?}", path.display());
        }
    }

    #[test]
    fn the_schema_knows_which_keys_each_fault_kind_takes() {
        let validator = jsonschema::draft202012::new(&json_schema()).unwrap();
        let with_faults = |faults: &str| {
            let text = format!(
                "version: 1\nname: f\ndeadline: 1m\nrooms: {{ count: 1 }}\ngroups:\n  - {{ name: g, per_room: 1, arrival: {{ burst: {{}} }}, script: [join, leave] }}\nfaults:\n{faults}"
            );
            validator.is_valid(&to_json(&raw::parse(&text).unwrap().unwrap()))
        };
        assert!(with_faults(
            "  - { at: 1s, kind: reset, share: 30%, group: g, rooms: 0.5, for: 1s }\n"
        ));
        assert!(with_faults(
            "  - { at: 1s, kind: delay_frames, share: 1, by: 1s, for: 1s }\n"
        ));
        assert!(with_faults("  - { at: 1s, kind: stall, for: 1s }\n"));
        for bad in [
            "  - { at: 1s, kind: reset, share: 30%, by: 1s }\n",
            "  - { at: 1s, kind: stall, share: 30%, for: 1s }\n",
            "  - { at: 1s, kind: kick }\n",
            "  - { at: 1s, kind: kick, share: 0 }\n",
            "  - { at: 1s, kind: close_rooms, share: 50%, rooms: 50% }\n",
            "  - { at: 1s, kind: restart }\n",
            "  - { kind: stall, for: 1s }\n",
        ] {
            assert!(!with_faults(bad), "{bad}");
        }
    }

    #[test]
    fn the_schema_knows_media_tracks_subscriptions_and_steps() {
        let validator = jsonschema::draft202012::new(&json_schema()).unwrap();
        let with = |media: &str, script: &str| {
            let text = format!(
                "version: 1\nname: m\ndeadline: 1m\nrooms: {{ count: 1 }}\ngroups:\n  - name: g\n    per_room: 2\n    arrival: {{ burst: {{}} }}\n    media: {media}\n    script: {script}\n"
            );
            validator.is_valid(&to_json(&raw::parse(&text).unwrap().unwrap()))
        };
        let steps = "[join, publish, unpublish, { publish: }, leave]";
        for good in [
            "{ publish: [{ kind: audio, codec: opus, bitrate: 32kbps, ptime: 20ms }], subscribe: all }",
            "{ publish: [{ kind: video, bitrate: 1.5Mbps, fps: 30, keyframe_interval: 2s }], subscribe: none }",
            "{ subscribe: { count: 4 } }",
            "{ subscribe: { groups: [g] } }",
            "",
        ] {
            assert!(with(good, steps), "{good}");
        }
        for bad in [
            "{ publish: [{ kind: vidoe, bitrate: 1Mbps }] }",
            "{ publish: [{ kind: audio, codec: vp8, bitrate: 32kbps }] }",
            "{ publish: [{ kind: audio, bitrate: 32kbps, fps: 30 }] }",
            "{ publish: [{ kind: video, bitrate: 1Mbps, ptime: 20ms }] }",
            "{ publish: [{ kind: video, bitrate: 1000 }] }",
            "{ publish: [{ kind: audio }] }",
            "{ publish: [] }",
            "{ subscribe: some }",
            "{ subscribe: { count: 0 } }",
            "{ subscribe: { groups: [] } }",
            "{ speakers: 2 }",
        ] {
            assert!(!with(bad, "[join, publish, leave]"), "{bad}");
        }
        assert!(!with("", "[join, { unpublish: now }, leave]"));
    }

    #[test]
    fn the_schema_refuses_unknown_keys_and_shapes() {
        let validator = jsonschema::draft202012::new(&json_schema()).unwrap();
        for bad in [
            "unknown-key",
            "wrong-type",
            "missing-key",
            "weight-without-participants",
            "faults-kinds-and-keys",
            "faults-fault-api",
            "reconnect-word",
            "media-tracks",
            "media-subscribe",
        ] {
            let path = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures/bad")
                .join(format!("{bad}.yaml"));
            assert!(
                !validator.is_valid(&instance(&path)),
                "{bad} passed the schema"
            );
        }
    }
}
