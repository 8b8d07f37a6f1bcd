//! Janus signed tokens against a real Janus (Debian's package, started by `scripts/janus` on a
//! loopback port of its own with `token_auth`): roomstorm's tokens are accepted, and tokens signed
//! with another secret, expired ones and none at all get Janus's 403. `scripts/test.sh` installs
//! Janus and sets `ROOMSTORM_REQUIRE_JANUS=1`, so CI cannot skip this.

use futures_util::{SinkExt, StreamExt};
use roomstorm::credentials::SecretKey;
use roomstorm::signaling::janus::token;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;

mod common;

use common::janus::{SECRET, TestJanus};

/// Sends `create` with `token` (or none) and returns Janus's answer.
async fn create_session(
    ws: &mut tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    transaction: &str,
    token: Option<&str>,
) -> Value {
    let mut request = json!({"janus": "create", "transaction": transaction});
    if let Some(t) = token {
        request["token"] = json!(t);
    }
    ws.send(Message::text(request.to_string())).await.unwrap();
    loop {
        let frame = tokio::time::timeout(std::time::Duration::from_secs(5), ws.next())
            .await
            .expect("Janus answers within 5 s")
            .expect("socket open")
            .unwrap();
        if let Message::Text(text) = frame {
            let v: Value = serde_json::from_str(&text).unwrap();
            if v["transaction"] == transaction {
                return v;
            }
        }
    }
}

#[test]
fn janus_accepts_roomstorm_s_tokens_and_refuses_forged_expired_and_missing_ones() {
    let Some(janus) = TestJanus::start("janus-token", &["--token-auth"]) else {
        return;
    };
    assert!(
        !janus.said.contains(SECRET) && !janus.log().contains(SECRET),
        "the secret is never printed: {}",
        janus.said
    );

    let now = roomstorm::token::unix_now();
    let ours = SecretKey::new(SECRET);
    let other = SecretKey::new("another-secret");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut request = janus.url.as_str().into_client_request().unwrap();
        request
            .headers_mut()
            .insert("Sec-WebSocket-Protocol", "janus-protocol".parse().unwrap());
        let (mut ws, _) = tokio_tungstenite::connect_async(request).await.unwrap();

        let valid = token::mint(&ours, now + 60, &[token::VIDEOROOM]);
        let answer = create_session(&mut ws, "valid", Some(&valid)).await;
        assert_eq!(answer["janus"], "success", "{answer}");
        assert!(answer["data"]["id"].as_u64().is_some(), "{answer}");

        for (name, t) in [
            (
                "forged",
                Some(token::mint(&other, now + 60, &[token::VIDEOROOM])),
            ),
            (
                "expired",
                Some(token::mint(&ours, now - 10, &[token::VIDEOROOM])),
            ),
            ("missing", None),
        ] {
            let answer = create_session(&mut ws, name, t.as_deref()).await;
            assert_eq!(answer["janus"], "error", "{name}: {answer}");
            assert_eq!(answer["error"]["code"], 403, "{name}: {answer}");
        }
        // Janus cannot tell forged from expired; the token's own expiry can.
        let expired = token::mint(&ours, now - 10, &[token::VIDEOROOM]);
        assert!(token::expiry(&expired).is_some_and(|e| e < now));
    });
}
