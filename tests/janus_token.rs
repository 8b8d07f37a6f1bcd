//! Janus signed tokens against a real Janus (Debian's package, started by `scripts/janus` on a
//! loopback port of its own with `token_auth`): roomstorm's tokens are accepted, and tokens signed
//! with another secret, expired ones and none at all get Janus's 403. `scripts/test.sh` installs
//! Janus and sets `ROOMSTORM_REQUIRE_JANUS=1`, so CI cannot skip this.

use std::path::Path;
use std::process::Command;

use futures_util::{SinkExt, StreamExt};
use roomstorm::credentials::SecretKey;
use roomstorm::signaling::janus::token;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;

mod common;

use common::scratch::ScratchDir;

const SECRET: &str = "roomstorm-janus-token-test";

fn script(args: &[&str], dir: &Path) -> std::process::Output {
    Command::new("scripts/janus")
        .args(args)
        .arg("--dir")
        .arg(dir)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("JANUS_TOKEN_SECRET", SECRET)
        .output()
        .unwrap()
}

/// Stops the Janus this test started (by the PID its pidfile recorded), also when a check fails.
struct Stop<'a>(&'a Path);

impl Drop for Stop<'_> {
    fn drop(&mut self) {
        let _ = script(&["stop"], self.0);
    }
}

/// Whether `janus` can be started (`--version` exits 1 in 1.1.2, so only the spawn counts).
fn janus_installed() -> bool {
    Command::new("janus").arg("--version").output().is_ok()
}

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
    if !janus_installed() {
        assert!(
            std::env::var_os("ROOMSTORM_REQUIRE_JANUS").is_none(),
            "ROOMSTORM_REQUIRE_JANUS is set but janus is not installed (scripts/janus install)"
        );
        eprintln!("janus is not installed: skipped (scripts/janus install)");
        return;
    }
    let dir = ScratchDir::new("janus-token");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let started = script(
        &["start", "--port", &port.to_string(), "--token-auth"],
        dir.path(),
    );
    let said = String::from_utf8_lossy(&started.stdout).into_owned()
        + &String::from_utf8_lossy(&started.stderr);
    assert!(started.status.success(), "{said}");
    let _stop = Stop(dir.path());
    assert!(
        !said.contains(SECRET),
        "the secret is never printed: {said}"
    );

    let now = roomstorm::token::unix_now();
    let ours = SecretKey::new(SECRET);
    let other = SecretKey::new("another-secret");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut request = format!("ws://127.0.0.1:{port}")
            .into_client_request()
            .unwrap();
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
