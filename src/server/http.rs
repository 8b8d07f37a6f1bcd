//! HTTP front door: the token exchange, SDK config, metrics, health, WebSocket upgrade, and the
//! routing of management requests to [`super::admin`].
//!
//! Every answer carries `X-Reqid` (the Python SDK treats an answer without it as a failure) and a
//! permissive CORS header (the Web SDK's `fetch` skips a host whose answer lacks one).

use std::convert::Infallible;
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};

use super::access_token::{self, AccessClaims};
use super::faults::RestartAfterResponse;
use super::limits::ConnectionPermit;
use super::{ServerState, admin, session};

/// The response type of every handler.
pub type HttpResponse = Response<Full<Bytes>>;

/// Path of the signaling WebSocket (put in `signalingurl2`).
pub const SIGNALING_PATH: &str = "/signaling";

/// A JSON answer with the headers every answer carries.
pub fn json(status: StatusCode, body: &serde_json::Value) -> HttpResponse {
    let mut resp = Response::new(Full::new(Bytes::from(body.to_string())));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

/// `{"error": text}` with a status (Qiniu uses 612/615/616 as well as the usual ones).
pub fn error(status: u16, text: &str) -> HttpResponse {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    json(status, &serde_json::json!({ "error": text }))
}

/// Adds `X-Reqid` and the CORS header.
pub fn finish(mut resp: HttpResponse) -> HttpResponse {
    let h = resp.headers_mut();
    let reqid = crate::ids::random_hex(8);
    h.insert(
        "X-Reqid",
        HeaderValue::from_str(&reqid).expect("hex is a valid header"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    resp
}

/// Serves one TCP connection (HTTP/1.1, keep-alive, upgrades to WebSocket).
///
/// A restart fault resets the connection (RST) unless it has been upgraded by then (the
/// WebSocket session resets itself). The connection that asked for the restart starts it once
/// its answer is written, so the caller always gets the answer.
pub async fn serve_connection(
    stream: TcpStream,
    state: Arc<ServerState>,
    permit: ConnectionPermit,
) {
    let permit = Arc::new(permit);
    let mut faults = state.faults.subscribe();
    let fd = stream.as_raw_fd();
    // Milliseconds of downtime of a restart this connection asked for; `u64::MAX`: none.
    let restart_after = Arc::new(AtomicU64::new(u64::MAX));
    let svc_state = state.clone();
    let svc_restart = restart_after.clone();
    let service = hyper::service::service_fn(move |req| {
        let (state, permit, restart) = (svc_state.clone(), permit.clone(), svc_restart.clone());
        async move {
            let resp = finish(route(req, state, permit).await);
            if let Some(RestartAfterResponse(down)) = resp.extensions().get() {
                let ms = u64::try_from(down.as_millis()).unwrap_or(u64::MAX - 1);
                restart.store(ms, Relaxed);
            }
            Ok::<_, Infallible>(resp)
        }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(state.config.timings.auth_timeout)
        .max_buf_size(64 * 1024)
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades();
    tokio::select! {
        result = conn => {
            if let Err(err) = result {
                tracing::trace!(%err, "http connection ended with an error");
            }
        }
        () = async {
            faults.restarted().await;
            // Set inside this branch's future: `select!` drops the connection future (closing
            // the socket) before a branch's handler runs. The connection still owns the socket
            // here (it hands it over only as it completes), so `fd` is open, and it is closed,
            // with a reset, as the connection drops.
            let _ = crate::sockopt::zero_linger(&fd);
        } => return,
    }
    let down = restart_after.load(Relaxed);
    if down != u64::MAX {
        state.metrics.faults_restarts.fetch_add(1, Relaxed);
        state.faults.begin_restart(Duration::from_millis(down));
    }
}

async fn route(
    req: Request<Incoming>,
    state: Arc<ServerState>,
    permit: Arc<ConnectionPermit>,
) -> HttpResponse {
    let path = req.uri().path().to_owned();
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match (req.method(), segments.as_slice()) {
        (&Method::OPTIONS, _) => preflight(),
        (&Method::GET, ["v3", "apps", app, "rooms", room, "auth"]) => {
            auth_exchange(&state, app, room, req.uri().query().unwrap_or(""))
        }
        (&Method::GET, ["v4", "sdk", "config"]) => {
            json(StatusCode::OK, &serde_json::json!({"content": ""}))
        }
        (&Method::GET, ["metrics"]) => {
            let mut resp = Response::new(Full::new(Bytes::from(
                state.metrics.render(state.gate.cap()),
            )));
            resp.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; version=0.0.4"),
            );
            resp
        }
        (&Method::GET, ["healthz"]) => json(StatusCode::OK, &serde_json::json!({"status": "ok"})),
        (&Method::GET, _) if path == SIGNALING_PATH => upgrade(req, state, permit),
        (_, ["v3", "apps", ..]) | (_, ["roomstorm", "v1", ..]) => admin::handle(req, &state).await,
        _ => error(404, "not found"),
    }
}

/// The CORS preflight answer.
pub fn preflight() -> HttpResponse {
    let mut resp = Response::new(Full::new(Bytes::new()));
    *resp.status_mut() = StatusCode::NO_CONTENT;
    let h = resp.headers_mut();
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, POST, DELETE, OPTIONS"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("*"),
    );
    h.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("86400"),
    );
    resp
}

/// A query parameter as sent: percent-escapes decoded, `+` left as is (room tokens are put in the
/// query raw, and `=` padding may follow the first `=`).
pub fn raw_query_param(query: &str, name: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        (key == name).then(|| {
            percent_encoding::percent_decode_str(value)
                .decode_utf8_lossy()
                .into_owned()
        })
    })
}

/// `GET /v3/apps/<app>/rooms/<room>/auth?user=&token=`: always 200 with an access token.
///
/// The room token is not judged here: the Web SDK turns any 4xx into a TypeError without a code,
/// while the same problem reported at WebSocket `auth` reaches the application as 10001/10002.
fn auth_exchange(state: &ServerState, app: &str, room: &str, query: &str) -> HttpResponse {
    let claims = AccessClaims {
        signalingurl2: state.placement.signaling_url(app, room).to_owned(),
        app_id: app.to_owned(),
        room_name: room.to_owned(),
        user_id: raw_query_param(query, "user").unwrap_or_default(),
        room_token: raw_query_param(query, "token").unwrap_or_default(),
        iat: crate::token::unix_now(),
    };
    state.metrics.access_tokens_issued.fetch_add(1, Relaxed);
    let token = access_token::issue(&state.access_key, &claims);
    json(StatusCode::OK, &serde_json::json!({ "accessToken": token }))
}

fn upgrade(
    mut req: Request<Incoming>,
    state: Arc<ServerState>,
    permit: Arc<ConnectionPermit>,
) -> HttpResponse {
    let headers = req.headers();
    let has_token = |name: header::HeaderName, token: &str| {
        headers.get_all(name).iter().any(|v| {
            v.to_str()
                .is_ok_and(|s| s.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
        })
    };
    if !has_token(header::UPGRADE, "websocket") || !has_token(header::CONNECTION, "upgrade") {
        return error(426, "this endpoint speaks WebSocket only");
    }
    if headers
        .get(header::SEC_WEBSOCKET_VERSION)
        .is_none_or(|v| v != "13")
    {
        return error(426, "Sec-WebSocket-Version 13 required");
    }
    let Some(key) = headers.get(header::SEC_WEBSOCKET_KEY) else {
        return error(400, "missing Sec-WebSocket-Key");
    };
    let accept = derive_accept_key(key.as_bytes());
    let limits = &state.config.limits;
    let ws_config = WebSocketConfig::default()
        .read_buffer_size(limits.read_buffer_bytes)
        .write_buffer_size(0)
        .max_write_buffer_size(limits.max_frame_bytes * 4)
        .max_message_size(Some(limits.max_frame_bytes))
        .max_frame_size(Some(limits.max_frame_bytes));
    let on_upgrade = hyper::upgrade::on(&mut req);
    // Subscribed now, while the HTTP connection still watches for restarts: none is missed.
    let faults = state.faults.subscribe();
    tokio::spawn(async move {
        let upgraded = match on_upgrade.await {
            Ok(upgraded) => upgraded,
            Err(err) => return tracing::debug!(%err, "websocket upgrade failed"),
        };
        // Take the TcpStream back from hyper: no boxed I/O layer per socket (Nagle is already off:
        // accepted sockets inherit TCP_NODELAY from the listener).
        let Ok(parts) = upgraded.downcast::<TokioIo<TcpStream>>() else {
            return tracing::warn!("upgraded connection is not a TcpStream");
        };
        // Bytes that arrived after the upgrade request: usually none. Copied out so that hyper's
        // whole read buffer, which they point into, is freed now rather than held per socket.
        let early = parts.read_buf.to_vec();
        drop(parts.read_buf);
        let tcp = parts.io.into_inner();
        let ws = if early.is_empty() {
            WebSocketStream::from_raw_socket(tcp, Role::Server, Some(ws_config)).await
        } else {
            WebSocketStream::from_partially_read(tcp, early, Role::Server, Some(ws_config)).await
        };
        session::run(ws, state, permit, faults).await;
    });
    let mut resp = Response::new(Full::new(Bytes::new()));
    *resp.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = resp.headers_mut();
    h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    h.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    h.insert(
        header::SEC_WEBSOCKET_ACCEPT,
        HeaderValue::from_str(&accept).expect("base64 is a valid header"),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::raw_query_param;

    #[test]
    fn token_query_keeps_padding_and_plus() {
        let q = "user=alice&token=AK:s+g=:eyJh==";
        assert_eq!(
            raw_query_param(q, "token").as_deref(),
            Some("AK:s+g=:eyJh==")
        );
        assert_eq!(raw_query_param(q, "user").as_deref(), Some("alice"));
        assert_eq!(
            raw_query_param("token=AK%3Ax", "token").as_deref(),
            Some("AK:x")
        );
        assert_eq!(raw_query_param("user=a", "token"), None);
    }
}
