//! A typed client for a room server's management API as a load test drives it: roomstorm's
//! fault-injection extension (`/roomstorm/v1/faults…`) plus kick and room close.
//!
//! The coordinator triggers scripted server-side faults at scenario times through it, and tests
//! use it against the reference server. Every request is Qiniu Mac-signed ([`crate::mac`]) on a
//! fresh connection, so a restart fault that resets every open connection cannot break the next
//! request. The secret key signs and nothing else: it never reaches an error, a log line or a
//! `Debug` output (see [`crate::credentials::SecretKey`]).

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::credentials::KeyPair;
use crate::mac::{self, SignedParts};
use crate::transport::{self, Endpoint, SourcePool, TransportError};

/// Largest answer body read.
const MAX_ANSWER: usize = 64 * 1024;
/// Default limit for one request, connect to last byte.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a management call failed; carries the HTTP status and the server's own message.
#[derive(Debug, thiserror::Error)]
pub enum FaultApiError {
    /// The server could not be reached or the exchange broke off.
    #[error("{0}")]
    Transport(#[from] TransportError),
    /// No answer within the request timeout.
    #[error("{what}: no answer within {timeout:?}")]
    Timeout {
        /// The request.
        what: String,
        /// The limit.
        timeout: Duration,
    },
    /// The server answered with a non-200 status.
    #[error("{what}: HTTP {status}: {message}")]
    Status {
        /// The request.
        what: String,
        /// HTTP status (Qiniu also uses 612, 615, 616).
        status: u16,
        /// The server's `error` field, or the start of its body.
        message: String,
    },
    /// The server does not offer roomstorm's fault-injection extension (a real Qiniu server, or
    /// an older roomstorm): `GET /roomstorm/v1/faults` answered 404 (or 405).
    #[error(
        "the server does not support roomstorm's fault-injection extension (HTTP {status}: {message})"
    )]
    Unsupported {
        /// HTTP status of the probe.
        status: u16,
        /// The server's message.
        message: String,
    },
    /// A 200 answer that is not the expected JSON.
    #[error("{what}: unexpected answer: {why}")]
    Decode {
        /// The request.
        what: String,
        /// What did not parse.
        why: String,
    },
}

impl FaultApiError {
    /// The HTTP status, when the server answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Status { status, .. } | Self::Unsupported { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// The fault state a server reports (`GET /roomstorm/v1/faults`): the reference server's own type.
pub use crate::server::faults::FaultState;

/// What a dropped-connections fault did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct DropAnswer {
    /// Connections reset: exactly `round(share × of)`.
    pub dropped: usize,
    /// Members with a live connection when the fault was applied.
    pub of: usize,
}

/// What closing a room did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CloseAnswer {
    /// Members told 10012.
    pub disconnected: usize,
    /// How long joins and re-auths are refused with 10012.
    pub hold: Duration,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawState {
    stalled_for_ms: u64,
    auth_latency_ms: u64,
    auth_latency_for_ms: Option<u64>,
    listening: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawStall {
    stalled_for_ms: u64,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawLatency {
    auth_latency_ms: u64,
    auth_latency_for_ms: Option<u64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawClose {
    disconnected: usize,
    hold_seconds: u64,
}

/// A room server's management API, with the keys that sign for it.
#[derive(Debug, Clone)]
pub struct FaultApi {
    base_url: String,
    endpoint: Endpoint,
    keys: KeyPair,
    timeout: Duration,
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Characters escaped in a path segment: all but RFC 3986's unreserved ones (room and user names
/// are `[A-Za-z0-9_-]`, so they go as they are).
const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

fn segment(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, SEGMENT).to_string()
}

impl FaultApi {
    /// A client for the server at `base_url` (`http://host:port`, optionally with a path prefix).
    pub fn new(base_url: &str, keys: KeyPair) -> Result<Self, FaultApiError> {
        let mut endpoint = transport::endpoint(base_url)?;
        endpoint.path = endpoint.path.trim_end_matches('/').to_owned();
        Ok(Self {
            base_url: base_url.trim_end_matches('/').to_owned(),
            endpoint,
            keys,
            timeout: DEFAULT_TIMEOUT,
        })
    }

    /// Sets the limit for one request (connect to last byte).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The server's base URL.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Checks that the server offers the fault extension and returns its fault state; a server
    /// without it answers [`FaultApiError::Unsupported`], so a run can refuse a scenario with
    /// server faults before it starts rather than at the first fault.
    pub async fn probe(&self) -> Result<FaultState, FaultApiError> {
        let value = match self.call("GET", "/roomstorm/v1/faults", None).await {
            Err(FaultApiError::Status {
                status: status @ (404 | 405),
                message,
                ..
            }) => return Err(FaultApiError::Unsupported { status, message }),
            other => other?,
        };
        let raw: RawState = decode("GET /roomstorm/v1/faults", value)?;
        Ok(FaultState {
            stalled_for: Duration::from_millis(raw.stalled_for_ms),
            auth_latency: Duration::from_millis(raw.auth_latency_ms),
            auth_latency_for: raw.auth_latency_for_ms.map(Duration::from_millis),
            listening: raw.listening,
        })
    }

    /// Resets (TCP RST) exactly `round(share × N)` of the N live member connections, chosen
    /// reproducibly from `seed`; the server treats them as network drops (reconnect window).
    pub async fn drop_connections(
        &self,
        share: f64,
        seed: u64,
    ) -> Result<DropAnswer, FaultApiError> {
        let path = "/roomstorm/v1/faults/drop";
        let value = self
            .call("POST", path, Some(json!({"share": share, "seed": seed})))
            .await?;
        decode(path, value)
    }

    /// Freezes every signaling connection for `for_` (zero ends a stall early); returns the stall
    /// now in force.
    pub async fn stall(&self, for_: Duration) -> Result<Duration, FaultApiError> {
        let path = "/roomstorm/v1/faults/stall";
        let value = self
            .call("POST", path, Some(json!({"forMs": ms(for_)})))
            .await?;
        let raw: RawStall = decode(path, value)?;
        Ok(Duration::from_millis(raw.stalled_for_ms))
    }

    /// Adds `delay` before every `auth` answer, for `for_` (`None`: until changed; a zero delay
    /// clears it). Returns the latency now in force and its time left.
    pub async fn auth_latency(
        &self,
        delay: Duration,
        for_: Option<Duration>,
    ) -> Result<(Duration, Option<Duration>), FaultApiError> {
        let path = "/roomstorm/v1/faults/auth-latency";
        let mut body = json!({"delayMs": ms(delay)});
        if let Some(for_) = for_ {
            body["forMs"] = ms(for_).into();
        }
        let value = self.call("POST", path, Some(body)).await?;
        let raw: RawLatency = decode(path, value)?;
        Ok((
            Duration::from_millis(raw.auth_latency_ms),
            raw.auth_latency_for_ms.map(Duration::from_millis),
        ))
    }

    /// Simulates a crash: once this answer is in, every connection is reset and the listener is
    /// closed for `down`; room state survives, so members can resume within their window.
    pub async fn restart(&self, down: Duration) -> Result<(), FaultApiError> {
        self.call(
            "POST",
            "/roomstorm/v1/faults/restart",
            Some(json!({"downMs": ms(down)})),
        )
        .await
        .map(drop)
    }

    /// Closes a room: every member gets 10012 (roomstorm extension).
    pub async fn close_room(&self, app: &str, room: &str) -> Result<CloseAnswer, FaultApiError> {
        let path = format!(
            "/roomstorm/v1/apps/{}/rooms/{}/close",
            segment(app),
            segment(room)
        );
        let value = self.call("POST", &path, None).await?;
        let raw: RawClose = decode(&path, value)?;
        Ok(CloseAnswer {
            disconnected: raw.disconnected,
            hold: Duration::from_secs(raw.hold_seconds),
        })
    }

    /// Kicks a user (Qiniu v3: the user gets 10006, the others `on-player-out`).
    pub async fn kick(&self, app: &str, room: &str, user: &str) -> Result<(), FaultApiError> {
        let path = format!(
            "/v3/apps/{}/rooms/{}/users/{}",
            segment(app),
            segment(room),
            segment(user)
        );
        self.call("DELETE", &path, None).await.map(drop)
    }

    /// One signed request; the parsed JSON answer on 200.
    async fn call(
        &self,
        method: &str,
        route: &str,
        body: Option<Value>,
    ) -> Result<Value, FaultApiError> {
        let what = format!("{method} {route}");
        let exchange = self.exchange(method, route, body);
        let (status, answer) = tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| FaultApiError::Timeout {
                what: what.clone(),
                timeout: self.timeout,
            })??;
        if status != 200 {
            let message = serde_json::from_slice::<Value>(&answer)
                .ok()
                .and_then(|v| v.get("error")?.as_str().map(str::to_owned))
                .unwrap_or_else(|| {
                    String::from_utf8_lossy(&answer[..answer.len().min(200)]).into_owned()
                });
            return Err(FaultApiError::Status {
                what,
                status,
                message,
            });
        }
        serde_json::from_slice(&answer).map_err(|e| FaultApiError::Decode {
            what,
            why: e.to_string(),
        })
    }

    async fn exchange(
        &self,
        method: &str,
        route: &str,
        body: Option<Value>,
    ) -> Result<(u16, Bytes), FaultApiError> {
        let http = |e: &dyn std::fmt::Display| TransportError::Http(e.to_string());
        let path = format!("{}{route}", self.endpoint.path);
        let bytes = body.map(|b| Bytes::from(b.to_string())).unwrap_or_default();
        let content_type = (!bytes.is_empty()).then_some("application/json");
        let authorization = mac::authorization(
            &self.keys,
            &SignedParts {
                method,
                path_and_query: &path,
                host: &self.endpoint.authority,
                content_type,
                qiniu_headers: Vec::new(),
                body: &bytes,
            },
        );
        let addr = transport::resolve(&self.endpoint).await?;
        let stream = SourcePool::default().connect(addr).await?;
        let io = hyper_util::rt::TokioIo::new(stream);
        let (mut sender, conn) = hyper::client::conn::http1::handshake::<_, Full<Bytes>>(io)
            .await
            .map_err(|e| http(&e))?;
        let mut req = hyper::Request::builder()
            .method(method)
            .uri(&path)
            .header(hyper::header::HOST, &self.endpoint.authority)
            .header(hyper::header::AUTHORIZATION, authorization);
        if let Some(ct) = content_type {
            req = req.header(hyper::header::CONTENT_TYPE, ct);
        }
        let req = req.body(Full::new(bytes)).map_err(|e| http(&e))?;
        let exchange = async {
            let res = sender.send_request(req).await.map_err(|e| http(&e))?;
            let status = res.status().as_u16();
            let body = Limited::new(res.into_body(), MAX_ANSWER)
                .collect()
                .await
                .map_err(|e| http(&*e))?
                .to_bytes();
            Ok::<_, TransportError>((status, body))
        };
        // As in `transport::http_get`: the connection is driven alongside the exchange; a server
        // that closes right after answering (restart does) may end it first.
        let driver = async move {
            let _ = conn.await;
        };
        tokio::pin!(exchange);
        let answer = tokio::select! {
            r = &mut exchange => r,
            () = driver => exchange.await,
        };
        Ok(answer?)
    }
}

fn decode<T: serde::de::DeserializeOwned>(what: &str, value: Value) -> Result<T, FaultApiError> {
    serde_json::from_value(value).map_err(|e| FaultApiError::Decode {
        what: what.to_owned(),
        why: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_and_debug_keep_the_secret_out() {
        let api = FaultApi::new(
            "http://127.0.0.1:7788/prefix/",
            KeyPair::new("AK", "super-secret"),
        )
        .unwrap();
        assert_eq!(api.base_url(), "http://127.0.0.1:7788/prefix");
        assert_eq!(api.endpoint.path, "/prefix");
        assert!(!format!("{api:?}").contains("super-secret"));
        assert!(FaultApi::new("ftp://x", KeyPair::new("AK", "SK")).is_err());
        assert_eq!(segment("a b/c"), "a%20b%2Fc");
        assert_eq!(segment("room-1_x"), "room-1_x");
    }

    #[tokio::test]
    async fn a_refused_connection_is_a_transport_error() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let api = FaultApi::new(
            &format!("http://{addr}"),
            KeyPair::new("AK", "super-secret"),
        )
        .unwrap();
        let err = api.probe().await.unwrap_err();
        assert!(matches!(err, FaultApiError::Transport(_)), "{err}");
        assert!(!err.to_string().contains("super-secret"));
        assert_eq!(err.status(), None);
    }
}
