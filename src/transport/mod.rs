//! Client connections: the HTTP token exchange and WebSocket opens, with timeouts, an optional
//! pool of loopback source addresses and small buffers.
//!
//! Each participant holds one WebSocket for its whole stay, so per-socket memory is what limits
//! how many a process can hold: tungstenite's 128 KiB default read buffer is cut to 4 KiB (a
//! signaling frame without SDP is well under 1 KiB) and frames are written through, not buffered.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

/// A client WebSocket.
pub type Socket = WebSocketStream<TcpStream>;

/// Largest token-exchange answer accepted.
const MAX_HTTP_BODY: usize = 64 * 1024;
/// Largest frame accepted from the server.
const MAX_FRAME: usize = 1024 * 1024;

/// Why a connection step failed.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// The URL cannot be used.
    #[error("bad URL {url:?}: {why}")]
    BadUrl {
        /// The URL.
        url: String,
        /// What is wrong with it.
        why: &'static str,
    },
    /// TCP connect failed.
    #[error("connect to {addr}: {source}")]
    Connect {
        /// Destination.
        addr: SocketAddr,
        /// Cause.
        source: std::io::Error,
    },
    /// The HTTP exchange failed.
    #[error("HTTP: {0}")]
    Http(String),
    /// The WebSocket handshake failed.
    #[error("WebSocket handshake: {0}")]
    Handshake(String),
}

/// Where client sockets come from: connections are spread over these local addresses, with the
/// port chosen per destination (`IP_BIND_ADDRESS_NO_PORT`) so each address reaches each server
/// port through its full ephemeral range.
#[derive(Debug, Default)]
pub struct SourcePool {
    addrs: Vec<IpAddr>,
    next: AtomicUsize,
}

impl SourcePool {
    /// A pool of these addresses; empty lets the kernel choose.
    pub fn new(addrs: Vec<IpAddr>) -> Self {
        Self {
            addrs,
            next: AtomicUsize::new(0),
        }
    }

    fn pick(&self) -> Option<IpAddr> {
        if self.addrs.is_empty() {
            return None;
        }
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.addrs.len();
        Some(self.addrs[i])
    }

    /// Opens a TCP connection to `addr` (no Nagle: signaling frames are small and latency counts).
    pub async fn connect(&self, addr: SocketAddr) -> Result<TcpStream, TransportError> {
        let err = |source| TransportError::Connect { addr, source };
        let sock = if addr.is_ipv4() {
            TcpSocket::new_v4()
        } else {
            TcpSocket::new_v6()
        }
        .map_err(err)?;
        if let Some(src) = self.pick().filter(|s| s.is_ipv4() == addr.is_ipv4()) {
            crate::sockopt::bind_address_no_port(&sock).map_err(err)?;
            sock.bind(SocketAddr::new(src, 0)).map_err(err)?;
        }
        let stream = sock.connect(addr).await.map_err(err)?;
        stream.set_nodelay(true).map_err(err)?;
        Ok(stream)
    }
}

/// The parts of an `http://` or `ws://` URL a client needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// `host:port` as written (for the Host header).
    pub authority: String,
    /// Path and query, starting with `/`.
    pub path: String,
    /// Default port of the scheme.
    pub default_port: u16,
}

/// Splits `url` (`http://`, `ws://`; TLS schemes are not supported yet).
pub fn endpoint(url: &str) -> Result<Endpoint, TransportError> {
    let bad = |why| TransportError::BadUrl {
        url: url.to_string(),
        why,
    };
    let (rest, default_port) = if let Some(r) = url.strip_prefix("http://") {
        (r, 80)
    } else if let Some(r) = url.strip_prefix("ws://") {
        (r, 80)
    } else if url.starts_with("https://") || url.starts_with("wss://") {
        return Err(bad(
            "TLS (https/wss) is not supported yet; use http:// or ws://",
        ));
    } else {
        return Err(bad("expected http:// or ws://"));
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    if authority.is_empty() {
        return Err(bad("no host"));
    }
    Ok(Endpoint {
        authority: authority.to_string(),
        path: path.to_string(),
        default_port,
    })
}

/// Resolves an endpoint's host (IP literals need no lookup).
pub async fn resolve(ep: &Endpoint) -> Result<SocketAddr, TransportError> {
    if let Ok(addr) = ep.authority.parse::<SocketAddr>() {
        return Ok(addr);
    }
    if let Ok(ip) = ep.authority.trim_matches(['[', ']']).parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, ep.default_port));
    }
    let with_port = if ep.authority.contains(':') {
        ep.authority.clone()
    } else {
        format!("{}:{}", ep.authority, ep.default_port)
    };
    tokio::net::lookup_host(&with_port)
        .await
        .ok()
        .and_then(|mut addrs| addrs.next())
        .ok_or_else(|| TransportError::BadUrl {
            url: ep.authority.clone(),
            why: "host does not resolve",
        })
}

/// One HTTP GET on a fresh connection (as a browser page with no warm connection does):
/// status and body.
pub async fn http_get(pool: &SourcePool, url: &str) -> Result<(u16, Bytes), TransportError> {
    let ep = endpoint(url)?;
    let addr = resolve(&ep).await?;
    let stream = pool.connect(addr).await?;
    let io = hyper_util::rt::TokioIo::new(stream);
    let (mut sender, conn) = hyper::client::conn::http1::handshake::<_, Empty<Bytes>>(io)
        .await
        .map_err(|e| TransportError::Http(e.to_string()))?;
    let driver = async move {
        let _ = conn.await;
    };
    let exchange = async {
        let req = hyper::Request::get(&ep.path)
            .header(hyper::header::HOST, &ep.authority)
            .body(Empty::new())
            .map_err(|e| TransportError::Http(e.to_string()))?;
        let res = sender
            .send_request(req)
            .await
            .map_err(|e| TransportError::Http(e.to_string()))?;
        let status = res.status().as_u16();
        let body = Limited::new(res.into_body(), MAX_HTTP_BODY)
            .collect()
            .await
            .map_err(|e| TransportError::Http(e.to_string()))?
            .to_bytes();
        Ok((status, body))
    };
    // The connection is driven alongside the exchange and dropped with it: no task per request.
    // When the server closes right after answering, the connection may finish first; the
    // exchange then completes from what was already received (or fails if nothing was).
    tokio::pin!(exchange);
    tokio::select! {
        r = &mut exchange => r,
        () = driver => exchange.await,
    }
}

/// Opens a WebSocket to `url` with small buffers, asking for `subprotocol` when the server
/// requires one (the handshake then fails unless the server agrees to it).
pub async fn ws_open(
    pool: &SourcePool,
    url: &str,
    subprotocol: Option<&'static str>,
) -> Result<Socket, TransportError> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
    use tokio_tungstenite::tungstenite::http::HeaderValue;
    let ep = endpoint(url)?;
    let mut request = url
        .into_client_request()
        .map_err(|e| TransportError::Handshake(e.to_string()))?;
    if let Some(p) = subprotocol {
        request
            .headers_mut()
            .insert("Sec-WebSocket-Protocol", HeaderValue::from_static(p));
    }
    let addr = resolve(&ep).await?;
    let stream = pool.connect(addr).await?;
    let config = WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0)
        .max_message_size(Some(MAX_FRAME))
        .max_frame_size(Some(MAX_FRAME));
    let (ws, _) = tokio_tungstenite::client_async_with_config(request, stream, Some(config))
        .await
        .map_err(|e| TransportError::Handshake(e.to_string()))?;
    Ok(ws)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints() {
        let ep =
            endpoint("http://127.0.0.1:7788/v3/apps/a/rooms/r/auth?user=u&token=a:b=").unwrap();
        assert_eq!(ep.authority, "127.0.0.1:7788");
        assert_eq!(ep.path, "/v3/apps/a/rooms/r/auth?user=u&token=a:b=");
        assert_eq!(endpoint("ws://localhost").unwrap().path, "/");
        for bad in ["https://x", "ftp://x", "ws:///path", "127.0.0.1:80"] {
            assert!(endpoint(bad).is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn resolves_literals_without_lookup() {
        let ep = endpoint("ws://[::1]:9/x").unwrap();
        assert_eq!(
            resolve(&ep).await.unwrap(),
            "[::1]:9".parse::<std::net::SocketAddr>().unwrap()
        );
        let ep = endpoint("ws://127.0.0.1/x").unwrap();
        assert_eq!(
            resolve(&ep).await.unwrap(),
            "127.0.0.1:80".parse::<std::net::SocketAddr>().unwrap()
        );
    }
}
