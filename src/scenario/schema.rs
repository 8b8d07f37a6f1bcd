//! The JSON Schema of the scenario format, for editor completion and hover help.
//!
//! Hand-written next to the validator it describes; the tests check that every good fixture and
//! shipped scenario passes it and that an unknown key fails it. The schema is looser than the
//! validator on values (it cannot check that a duration is positive or that a script is well
//! formed) but exact on keys and shapes.

use serde_json::{Value, json};

use super::arrival::KINDS;
use super::group::{ORDERS, PERMISSIONS, TOKEN_KINDS};
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
        "description": "One step: `join`, `leave`, {join: {expect}}, {hold: …}, {wait: …}. Scripts start and end outside the room.",
        "oneOf": [
            {"enum": ["join", "leave"]},
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
            }
        ]
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
                    "url": {"type": "string", "pattern": "^http://.+", "description": "HTTP base URL of an already running server (TLS is not supported yet)."},
                    "driver": {"enum": DRIVERS, "description": "Signaling protocol of the external server (default qiniu)."}
                },
                "oneOf": [{"required": ["embedded"], "not": {"required": ["driver"]}}, {"required": ["url"]}]
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
            }
        },
        "$defs": {
            "duration": duration,
            "dist": dist,
            "hold": hold,
            "step": step,
            "arrival": arrival,
            "group": group
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
    fn the_schema_refuses_unknown_keys_and_shapes() {
        let validator = jsonschema::draft202012::new(&json_schema()).unwrap();
        for bad in [
            "unknown-key",
            "wrong-type",
            "missing-key",
            "weight-without-participants",
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
