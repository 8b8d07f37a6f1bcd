//! Management API v3 (Qiniu Mac auth), as the official SDKs call it, plus roomstorm's extension.
//!
//! | route | what |
//! |---|---|
//! | `POST /v3/apps` | create app (`hub`, `title`, `maxUsers`, `noAutoKickUser`) |
//! | `GET /v3/apps`, `GET/POST/DELETE /v3/apps/<app>` | list, get, update, delete apps |
//! | `GET /v3/apps/<app>/rooms/<room>/users` | users in a room |
//! | `DELETE /v3/apps/<app>/rooms/<room>/users/<user>` | kick (10006) |
//! | `GET /v3/apps/<app>/rooms?prefix=&offset=&limit=` | active rooms |
//! | `POST /roomstorm/v1/apps/<app>/rooms/<room>/close` | **extension**: close a room (10012) |
//! | `GET /roomstorm/v1/faults` | **extension**: fault state (also the probe for fault support) |
//! | `POST /roomstorm/v1/faults/drop` | **extension**: reset `share` of the members' sockets (`seed`) |
//! | `POST /roomstorm/v1/faults/stall` | **extension**: freeze every signaling socket for `forMs` |
//! | `POST /roomstorm/v1/faults/auth-latency` | **extension**: `delayMs` more per `auth` for `forMs` |
//! | `POST /roomstorm/v1/faults/restart` | **extension**: crash (reset everything), listen again after `downMs` |
//!
//! Bodies are accepted form-encoded (the Python SDK) or as JSON (the other SDKs). The extension
//! routes are roomstorm's own, not Qiniu API; `docs/protocol.md` §9 specifies them.

use std::collections::HashMap;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::header;
use hyper::{Method, Request, StatusCode};
use serde_json::{Value, json};

use super::ServerState;
use super::config::AppSettings;
use super::faults::{self, FaultState, MAX_FAULT_DURATION, RestartAfterResponse};
use super::http::{HttpResponse, error, json as json_response};
use super::rooms::{AppMeta, RoomLookupError};
use crate::mac::{self, SignedParts};
use crate::token::{format_unix, unix_now};

/// Qiniu's "not found" status for apps and users.
const NOT_FOUND: u16 = 612;
/// Qiniu's "room not active" status.
const ROOM_NOT_ACTIVE: u16 = 615;
/// Qiniu's "already exists / conflict" status.
const CONFLICT: u16 = 616;
/// Largest page of `list active rooms`.
const MAX_ROOMS_PAGE: usize = 1000;

/// Authenticates and serves one management request.
pub async fn handle(req: Request<Incoming>, state: &ServerState) -> HttpResponse {
    let (parts, body) = req.into_parts();
    let body = match Limited::new(body, state.config.limits.max_body_bytes)
        .collect()
        .await
    {
        Ok(collected) => collected.to_bytes(),
        Err(_) => return error(413, "request body too large"),
    };
    if let Some(refused) = authenticate(&parts, &body, &state.keys) {
        return refused;
    }
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let fields = Fields::parse(content_type, &body);
    let query = parts.uri.query().unwrap_or("");
    let path = parts.uri.path().trim_start_matches('/').to_owned();
    let segments: Vec<&str> = path.split('/').collect();
    match (&parts.method, segments.as_slice()) {
        (&Method::POST, ["v3", "apps"]) => create_app(state, &fields),
        (&Method::GET, ["v3", "apps"]) => {
            let apps: Vec<Value> = state
                .apps
                .all()
                .iter()
                .map(|a| app_json(&a.meta()))
                .collect();
            json_response(StatusCode::OK, &Value::Array(apps))
        }
        (&Method::GET, ["v3", "apps", app]) => with_app(state, app, |a| {
            json_response(StatusCode::OK, &app_json(&a.meta()))
        }),
        (&Method::POST, ["v3", "apps", app]) => with_app(state, app, |a| update_app(a, &fields)),
        (&Method::DELETE, ["v3", "apps", app]) => match state.apps.remove(app) {
            Some(_) => json_response(StatusCode::OK, &json!({})),
            None => error(NOT_FOUND, "app not found"),
        },
        (&Method::GET, ["v3", "apps", app, "rooms", room, "users"]) => {
            with_app(state, app, |a| match a.users(room) {
                Ok(users) => {
                    let users: Vec<Value> =
                        users.into_iter().map(|u| json!({"userId": u})).collect();
                    json_response(StatusCode::OK, &json!({ "users": users }))
                }
                Err(e) => lookup_error(e),
            })
        }
        (&Method::DELETE, ["v3", "apps", app, "rooms", room, "users", user]) => {
            with_app(state, app, |a| match a.kick(room, user) {
                Ok(()) => json_response(StatusCode::OK, &json!({})),
                Err(e) => lookup_error(e),
            })
        }
        (&Method::GET, ["v3", "apps", app, "rooms"]) => {
            with_app(state, app, |a| list_rooms(a, query))
        }
        (&Method::POST, ["roomstorm", "v1", "apps", app, "rooms", room, "close"]) => {
            with_app(state, app, |a| {
                let hold = fields
                    .u64("holdSeconds")
                    .map_or(state.config.timings.reconnect_window, Duration::from_secs);
                match a.close_room(room, hold) {
                    Ok(n) => json_response(
                        StatusCode::OK,
                        &json!({"closed": true, "disconnected": n, "holdSeconds": hold.as_secs()}),
                    ),
                    Err(e) => lookup_error(e),
                }
            })
        }
        (_, ["roomstorm", "v1", "faults", ..]) if fields.malformed => {
            error(400, "the body is not a JSON object")
        }
        (&Method::GET, ["roomstorm", "v1", "faults"]) => {
            json_response(StatusCode::OK, &fault_state_json(state.faults.state()))
        }
        (&Method::POST, ["roomstorm", "v1", "faults", "drop"]) => drop_fault(state, &fields),
        (&Method::POST, ["roomstorm", "v1", "faults", "stall"]) => stall_fault(state, &fields),
        (&Method::POST, ["roomstorm", "v1", "faults", "auth-latency"]) => {
            auth_latency_fault(state, &fields)
        }
        (&Method::POST, ["roomstorm", "v1", "faults", "restart"]) => restart_fault(&fields),
        _ => error(404, "no such management route"),
    }
}

/// Checks a management request's Qiniu Mac signature: `None` if it is good, else the refusal (401).
pub fn authenticate(
    parts: &hyper::http::request::Parts,
    body: &[u8],
    keys: &HashMap<String, crate::credentials::SecretKey>,
) -> Option<HttpResponse> {
    let text = |name: header::HeaderName| parts.headers.get(name).and_then(|v| v.to_str().ok());
    let qiniu_headers: Vec<(&str, &str)> = parts
        .headers
        .iter()
        .filter(|(k, _)| k.as_str().starts_with("x-qiniu-"))
        .filter_map(|(k, v)| Some((k.as_str(), v.to_str().ok()?)))
        .collect();
    let signed = SignedParts {
        method: parts.method.as_str(),
        path_and_query: parts.uri.path_and_query().map_or("/", |p| p.as_str()),
        host: text(header::HOST).unwrap_or(""),
        content_type: text(header::CONTENT_TYPE),
        qiniu_headers,
        body,
    };
    let authorization = text(header::AUTHORIZATION);
    let err = mac::verify(authorization, &signed, |ak| keys.get(ak), unix_now()).err()?;
    tracing::debug!(%err, path = signed.path_and_query, "management request refused");
    Some(error(401, &err.to_string()))
}

fn millis(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn fault_state_json(s: FaultState) -> Value {
    json!({
        "stalledForMs": millis(s.stalled_for),
        "authLatencyMs": millis(s.auth_latency),
        "authLatencyForMs": s.auth_latency_for.map(millis),
        "listening": s.listening,
    })
}

/// `{"share":0..=1,"seed":u64}` → `{"dropped":n,"of":N}`.
fn drop_fault(state: &ServerState, fields: &Fields) -> HttpResponse {
    let share = match fields.number("share") {
        Ok(Some(share)) if (0.0..=1.0).contains(&share) => share,
        Ok(Some(_)) => return error(400, "share must be between 0 and 1"),
        Ok(None) => return error(400, "share is required (a number between 0 and 1)"),
        Err(why) => return error(400, &why),
    };
    let seed = match fields.whole("seed") {
        Ok(seed) => seed.unwrap_or(0),
        Err(why) => return error(400, &why),
    };
    let (dropped, of) = faults::drop_connections(state, share, seed);
    tracing::info!(share, seed, dropped, of, "fault: connections dropped");
    json_response(StatusCode::OK, &json!({"dropped": dropped, "of": of}))
}

/// `{"forMs":n}` → `{"stalledForMs":n}`; 0 ends a stall.
fn stall_fault(state: &ServerState, fields: &Fields) -> HttpResponse {
    let for_ = match fields.duration_ms("forMs") {
        Ok(Some(d)) => d,
        Ok(None) => return error(400, "forMs is required (milliseconds; 0 ends a stall)"),
        Err(why) => return error(400, &why),
    };
    state.faults.stall(for_);
    if !for_.is_zero() {
        state.metrics.faults_stalls.fetch_add(1, Relaxed);
    }
    tracing::info!(?for_, "fault: stall");
    json_response(StatusCode::OK, &json!({"stalledForMs": millis(for_)}))
}

/// `{"delayMs":n,"forMs":m?}` → the auth latency now in force.
fn auth_latency_fault(state: &ServerState, fields: &Fields) -> HttpResponse {
    let delay = match fields.duration_ms("delayMs") {
        Ok(Some(d)) => d,
        Ok(None) => return error(400, "delayMs is required (milliseconds; 0 clears)"),
        Err(why) => return error(400, &why),
    };
    let for_ = match fields.duration_ms("forMs") {
        Ok(for_) => for_,
        Err(why) => return error(400, &why),
    };
    state.faults.set_auth_latency(delay, for_);
    state.metrics.faults_auth_latency.fetch_add(1, Relaxed);
    tracing::info!(?delay, ?for_, "fault: auth latency");
    let now = state.faults.state();
    json_response(
        StatusCode::OK,
        &json!({
            "authLatencyMs": millis(now.auth_latency),
            "authLatencyForMs": now.auth_latency_for.map(millis),
        }),
    )
}

/// `{"downMs":n}` → 200 first; the connection starts the restart once the answer is written.
fn restart_fault(fields: &Fields) -> HttpResponse {
    let down = match fields.duration_ms("downMs") {
        Ok(Some(d)) => d,
        Ok(None) => return error(400, "downMs is required (milliseconds)"),
        Err(why) => return error(400, &why),
    };
    tracing::info!(?down, "fault: restart");
    let mut resp = json_response(
        StatusCode::OK,
        &json!({"restarting": true, "downMs": millis(down)}),
    );
    // Close after this answer: the restart begins when the connection ends (see http.rs).
    resp.headers_mut().insert(
        header::CONNECTION,
        header::HeaderValue::from_static("close"),
    );
    resp.extensions_mut().insert(RestartAfterResponse(down));
    resp
}

fn lookup_error(e: RoomLookupError) -> HttpResponse {
    match e {
        RoomLookupError::RoomNotActive => error(ROOM_NOT_ACTIVE, "room not active"),
        RoomLookupError::UserNotFound => error(NOT_FOUND, "user not found"),
    }
}

fn with_app(
    state: &ServerState,
    app: &str,
    f: impl FnOnce(&std::sync::Arc<super::rooms::App>) -> HttpResponse,
) -> HttpResponse {
    match state.apps.get(app) {
        Some(a) => f(&a),
        None => error(NOT_FOUND, "app not found"),
    }
}

fn app_json(meta: &AppMeta) -> Value {
    let s = &meta.settings;
    json!({
        "appId": s.app_id,
        "hub": s.hub,
        "title": s.title,
        "maxUsers": s.max_users,
        "noAutoKickUser": s.no_auto_kick_user,
        "createdAt": format_unix(meta.created_at),
        "updatedAt": format_unix(meta.updated_at),
    })
}

fn create_app(state: &ServerState, fields: &Fields) -> HttpResponse {
    let Some(hub) = fields.string("hub") else {
        return error(400, "hub is required");
    };
    // `appId` is roomstorm's own: the front of `serve --processes` creates the app that its
    // first process created, under the same id, in the others.
    let id = fields
        .string("appId")
        .filter(|id| !id.is_empty())
        .unwrap_or_else(|| format!("app{}", crate::ids::random_hex(5)));
    let mut settings = AppSettings::new(id);
    settings.hub = hub;
    settings.title = fields
        .string("title")
        .unwrap_or_else(|| settings.app_id.clone());
    if let Some(n) = fields.u64("maxUsers") {
        settings.max_users = u32::try_from(n).unwrap_or(u32::MAX);
    }
    settings.no_auto_kick_user = fields.bool("noAutoKickUser").unwrap_or(false);
    match state.apps.insert(settings, unix_now()) {
        Some(app) => json_response(StatusCode::OK, &app_json(&app.meta())),
        None => error(CONFLICT, "app already exists"),
    }
}

fn update_app(app: &std::sync::Arc<super::rooms::App>, fields: &Fields) -> HttpResponse {
    let meta = app.update(
        |s| {
            if let Some(hub) = fields.string("hub") {
                s.hub = hub;
            }
            if let Some(title) = fields.string("title") {
                s.title = title;
            }
            if let Some(n) = fields.u64("maxUsers") {
                s.max_users = u32::try_from(n).unwrap_or(u32::MAX);
            }
            if let Some(b) = fields.bool("noAutoKickUser") {
                s.no_auto_kick_user = b;
            }
        },
        unix_now(),
    );
    json_response(StatusCode::OK, &app_json(&meta))
}

/// The `prefix`, `offset` and `limit` of a list-rooms request, with the API's defaults and cap.
pub(crate) struct RoomsPage {
    /// Only rooms whose name starts with this.
    pub(crate) prefix: String,
    /// Rooms to skip.
    pub(crate) offset: usize,
    /// Rooms to answer at most.
    pub(crate) limit: usize,
}

impl RoomsPage {
    /// Reads the query string of `GET /v3/apps/<app>/rooms`.
    pub(crate) fn parse(query: &str) -> Self {
        let params: HashMap<String, String> = form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect();
        let number = |key: &str| params.get(key).and_then(|v| v.parse::<usize>().ok());
        Self {
            prefix: params.get("prefix").cloned().unwrap_or_default(),
            offset: number("offset").unwrap_or(0),
            limit: number("limit")
                .filter(|n| *n > 0)
                .unwrap_or(MAX_ROOMS_PAGE)
                .min(MAX_ROOMS_PAGE),
        }
    }

    /// This page of `all` (sorted room names) as the API answers it.
    pub(crate) fn answer<S: AsRef<str> + serde::Serialize>(&self, all: &[S]) -> HttpResponse {
        let page: Vec<&S> = all.iter().skip(self.offset).take(self.limit).collect();
        let next = self.offset + page.len();
        json_response(
            StatusCode::OK,
            &json!({"end": next >= all.len(), "offset": next, "rooms": page}),
        )
    }
}

fn list_rooms(app: &super::rooms::App, query: &str) -> HttpResponse {
    let page = RoomsPage::parse(query);
    page.answer(&app.active_rooms(&page.prefix))
}

/// Request fields from a form or JSON body.
pub(crate) struct Fields {
    values: HashMap<String, Value>,
    /// A JSON body that is not an object: the v3 routes treat it as empty, the fault routes
    /// refuse it.
    pub(crate) malformed: bool,
}

impl Fields {
    pub(crate) fn parse(content_type: Option<&str>, body: &[u8]) -> Self {
        if content_type.is_some_and(|ct| ct.starts_with("application/json")) {
            return match serde_json::from_slice::<Value>(body) {
                Ok(Value::Object(map)) => Self {
                    values: map.into_iter().collect(),
                    malformed: false,
                },
                _ => Self {
                    values: HashMap::new(),
                    malformed: !body.iter().all(u8::is_ascii_whitespace),
                },
            };
        }
        Self {
            values: form_urlencoded::parse(body)
                .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
                .collect(),
            malformed: false,
        }
    }

    /// A finite number (JSON number or decimal text); `Ok(None)` when absent or null.
    pub(crate) fn number(&self, key: &str) -> Result<Option<f64>, String> {
        let n = match self.values.get(key) {
            None | Some(Value::Null) => return Ok(None),
            Some(Value::Number(n)) => n.as_f64(),
            Some(Value::String(s)) => s.trim().parse::<f64>().ok(),
            Some(_) => None,
        };
        n.filter(|n| n.is_finite())
            .map(Some)
            .ok_or_else(|| format!("{key} must be a number"))
    }

    /// A non-negative whole number; `Ok(None)` when absent or null.
    pub(crate) fn whole(&self, key: &str) -> Result<Option<u64>, String> {
        let n = match self.values.get(key) {
            None | Some(Value::Null) => return Ok(None),
            Some(Value::Number(n)) => n.as_u64(),
            Some(Value::String(s)) => s.trim().parse().ok(),
            Some(_) => None,
        };
        n.map(Some)
            .ok_or_else(|| format!("{key} must be a whole number ≥ 0"))
    }

    /// Milliseconds up to [`MAX_FAULT_DURATION`]; `Ok(None)` when absent or null.
    fn duration_ms(&self, key: &str) -> Result<Option<Duration>, String> {
        let max = millis(MAX_FAULT_DURATION);
        match self.whole(key) {
            Ok(Some(ms)) if ms > max => Err(format!("{key} must be at most {max} ms (one day)")),
            Ok(ms) => Ok(ms.map(Duration::from_millis)),
            Err(_) => Err(format!("{key} must be a whole number of milliseconds ≥ 0")),
        }
    }

    fn string(&self, key: &str) -> Option<String> {
        match self.values.get(key)? {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }

    fn u64(&self, key: &str) -> Option<u64> {
        match self.values.get(key)? {
            Value::Number(n) => n.as_u64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    /// JSON booleans, or the strings Python's form encoding produces (`True`/`False`).
    fn bool(&self, key: &str) -> Option<bool> {
        match self.values.get(key)? {
            Value::Bool(b) => Some(*b),
            Value::String(s) => match s.to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" => Some(true),
                "false" | "0" | "no" | "" => Some(false),
                _ => None,
            },
            Value::Number(n) => n.as_u64().map(|n| n != 0),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Fields;

    #[test]
    fn fields_from_form_and_json() {
        let form = Fields::parse(
            Some("application/x-www-form-urlencoded"),
            b"hub=h+1&maxUsers=3&noAutoKickUser=True",
        );
        assert_eq!(form.string("hub").as_deref(), Some("h 1"));
        assert_eq!(form.u64("maxUsers"), Some(3));
        assert_eq!(form.bool("noAutoKickUser"), Some(true));
        let js = Fields::parse(
            Some("application/json"),
            br#"{"hub":"h","maxUsers":5,"noAutoKickUser":false}"#,
        );
        assert_eq!(js.u64("maxUsers"), Some(5));
        assert_eq!(js.bool("noAutoKickUser"), Some(false));
        assert_eq!(
            Fields::parse(Some("application/json"), b"[").string("hub"),
            None
        );
        assert!(Fields::parse(Some("application/json"), b"[").malformed);
        assert!(!Fields::parse(Some("application/json"), b"").malformed);
    }

    #[test]
    fn fault_fields_refuse_bad_values() {
        let js = Fields::parse(
            Some("application/json"),
            br#"{"share":0.3,"seed":7,"forMs":-1,"delayMs":1.5,"downMs":"x","n":null}"#,
        );
        assert_eq!(js.number("share"), Ok(Some(0.3)));
        assert_eq!(js.whole("seed"), Ok(Some(7)));
        assert!(js.duration_ms("forMs").is_err());
        assert!(js.duration_ms("delayMs").is_err());
        assert!(js.duration_ms("downMs").is_err());
        assert_eq!(js.duration_ms("n"), Ok(None));
        assert_eq!(js.number("absent"), Ok(None));
        assert!(js.duration_ms("seed").is_ok());
        let huge = Fields::parse(Some("application/json"), br#"{"forMs":99999999999}"#);
        assert!(huge.duration_ms("forMs").unwrap_err().contains("at most"));
        let form = Fields::parse(None, b"share=0.25&seed=3&forMs=1500");
        assert_eq!(form.number("share"), Ok(Some(0.25)));
        assert_eq!(form.whole("seed"), Ok(Some(3)));
        assert_eq!(
            form.duration_ms("forMs"),
            Ok(Some(std::time::Duration::from_millis(1500)))
        );
        let nan = Fields::parse(None, b"share=NaN");
        assert!(nan.number("share").is_err());
    }
}
