//! Access tokens: what `GET /v3/apps/<app>/rooms/<room>/auth` hands out and WebSocket `auth` checks.
//!
//! A JWT-shaped `header.payload.signature` (HS256 with a per-server key). The payload carries the
//! signaling URL the client must open (`signalingurl2`) and the room token exactly as received, so
//! that token problems surface at the WebSocket `auth` (where the Web SDK reports a code) and not at
//! the HTTP step (where it throws a TypeError). The Web SDK decodes the payload with `atob`, which
//! rejects the URL-safe alphabet: the JSON is escaped so that its base64 uses neither `-` nor `_`.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

const HEADER_B64: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"; // {"alg":"HS256","typ":"JWT"}

/// What the server puts in an access token and reads back at `auth`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    /// WebSocket URL the client opens (read by the Web SDK).
    pub signalingurl2: String,
    /// App from the HTTP path.
    #[serde(rename = "appId")]
    pub app_id: String,
    /// Room from the HTTP path.
    #[serde(rename = "roomName")]
    pub room_name: String,
    /// User from the `user` query parameter.
    #[serde(rename = "userId")]
    pub user_id: String,
    /// The room token as received; verified at WebSocket `auth`.
    #[serde(rename = "roomToken")]
    pub room_token: String,
    /// Issue time, Unix seconds.
    pub iat: u64,
}

/// The server's HS256 key; random per server unless configured.
#[derive(Clone)]
pub struct AccessKey([u8; 32]);

impl AccessKey {
    /// A fresh random key.
    pub fn random() -> Self {
        let mut k = [0u8; 32];
        rand::fill(&mut k);
        Self(k)
    }

    /// The key as 64 hex digits: how `serve --processes` hands it to its child processes (through
    /// the environment, never argv).
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Reads [`AccessKey::to_hex`]'s output back; `None` unless exactly 64 hex digits.
    pub fn from_hex(hex: &str) -> Option<Self> {
        let hex = hex.trim();
        if hex.len() != 64 || !hex.is_ascii() {
            return None;
        }
        let mut k = [0u8; 32];
        for (i, b) in k.iter_mut().enumerate() {
            *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
        }
        Some(Self(k))
    }

    fn mac(&self, data: &[u8]) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.0).expect("any key length");
        mac.update(data);
        mac
    }
}

impl std::fmt::Debug for AccessKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AccessKey(<redacted>)")
    }
}

/// JSON whose base64 encoding is the same in the standard and URL-safe alphabets.
///
/// For ASCII input only `>`, `?`, `~` and DEL can produce base64 digits 62/63 (`+`/`-`, `/`/`_`);
/// non-ASCII bytes can too. Inside JSON strings all of them may be written as `\uXXXX`.
pub fn base64_neutral_json<T: Serialize>(value: &T) -> String {
    let raw = serde_json::to_string(value).expect("claims serialize");
    let mut out = String::with_capacity(raw.len() + 16);
    for ch in raw.chars() {
        match ch {
            '>' | '?' | '~' | '\x7f' => out.push_str(&format!("\\u{:04x}", ch as u32)),
            c if !c.is_ascii() => {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out
}

/// Signs claims into `header.payload.signature`.
pub fn issue(key: &AccessKey, claims: &AccessClaims) -> String {
    let payload = URL_SAFE_NO_PAD.encode(base64_neutral_json(claims));
    debug_assert!(!payload.contains(['-', '_', '+', '/']));
    let signing_input = format!("{HEADER_B64}.{payload}");
    let sig = URL_SAFE_NO_PAD.encode(key.mac(signing_input.as_bytes()).finalize().into_bytes());
    format!("{signing_input}.{sig}")
}

/// Checks the signature (constant time) and decodes the claims; `None` for anything forged or broken.
pub fn verify(key: &AccessKey, token: &str) -> Option<AccessClaims> {
    let (signing_input, sig) = token.rsplit_once('.')?;
    let (header, payload) = signing_input.split_once('.')?;
    if header != HEADER_B64 {
        return None;
    }
    let sig = URL_SAFE_NO_PAD.decode(sig).ok()?;
    key.mac(signing_input.as_bytes()).verify_slice(&sig).ok()?;
    let json = URL_SAFE_NO_PAD.decode(payload).ok()?;
    serde_json::from_slice(&json).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::STANDARD;

    fn claims(user: &str) -> AccessClaims {
        AccessClaims {
            signalingurl2: "ws://127.0.0.1:7788/signaling".into(),
            app_id: "app1".into(),
            room_name: "room-1".into(),
            user_id: user.into(),
            room_token: "AK:sig-_=:eyJ-_".into(),
            iat: 1_800_000_000,
        }
    }

    #[test]
    fn payload_decodes_with_the_standard_alphabet() {
        // Users chosen so that '?', '>', '~' and non-ASCII land on every offset mod 3.
        for user in [
            "a?b>c~",
            "?x",
            "x?",
            "élan~~~",
            "??>>~~\u{7f}",
            "日本語",
            "😀x",
        ] {
            for pad in 0..3 {
                let c = AccessClaims {
                    user_id: format!("{}{user}", "p".repeat(pad)),
                    ..claims("")
                };
                let token = issue(&AccessKey([7; 32]), &c);
                let payload = token.split('.').nth(1).unwrap();
                assert!(!payload.contains(['-', '_']), "{payload}");
                let json = STANDARD
                    .decode(format!(
                        "{payload}{}",
                        "=".repeat((4 - payload.len() % 4) % 4)
                    ))
                    .unwrap();
                let back: AccessClaims = serde_json::from_slice(&json).unwrap();
                assert_eq!(back, c);
            }
        }
    }

    #[test]
    fn hex_round_trip() {
        let key = AccessKey::random();
        let back = AccessKey::from_hex(&key.to_hex()).unwrap();
        assert_eq!(back.0, key.0);
        assert!(AccessKey::from_hex("zz").is_none());
        assert!(AccessKey::from_hex(&"g".repeat(64)).is_none());
    }

    #[test]
    fn verify_rejects_forgeries() {
        let key = AccessKey([1; 32]);
        let token = issue(&key, &claims("alice"));
        assert_eq!(verify(&key, &token), Some(claims("alice")));
        assert_eq!(verify(&AccessKey([2; 32]), &token), None);
        let forged_payload = URL_SAFE_NO_PAD.encode(base64_neutral_json(&claims("mallory")));
        let parts: Vec<&str> = token.split('.').collect();
        assert_eq!(
            verify(&key, &format!("{}.{forged_payload}.{}", parts[0], parts[2])),
            None
        );
        for junk in ["", "a.b", "a.b.c", "..", "x.y.z.w"] {
            assert_eq!(verify(&key, junk), None, "{junk}");
        }
    }
}
