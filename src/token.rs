//! Qiniu-style RoomTokens: `accessKey:urlsafe_b64(HMAC-SHA1(sk, payload_b64)):payload_b64`.
//!
//! Verification recomputes the HMAC over the third segment exactly as received and compares it in
//! constant time before decoding anything: the official SDKs serialize the JSON differently
//! (Python spaced, Go compact), so re-serializing would reject valid tokens.

use base64::Engine as _;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, URL_SAFE};
use base64::engine::{DecodePaddingMode, general_purpose};
use hmac::{Hmac, KeyInit, Mac};
use serde::Serialize;
use sha1::Sha1;

use crate::codes;
use crate::credentials::{KeyPair, SecretKey};

/// URL-safe base64 that accepts padded and unpadded input.
pub(crate) const URL_SAFE_LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// What a token lets its holder do in a room.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Permission {
    /// Join and leave.
    User,
    /// Also kick other users (`control` kickplayer).
    Admin,
}

/// The decoded third segment: who may enter which room until when.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RoomAccess {
    /// Application the room belongs to.
    pub app_id: String,
    /// Room name, `^[a-zA-Z0-9_-]{3,64}$`.
    pub room_name: String,
    /// User id, `^[a-zA-Z0-9_-]{3,50}$`.
    pub user_id: String,
    /// Absolute Unix time (seconds) after which the token is refused.
    pub expire_at: u64,
    /// `user` or `admin`.
    pub permission: Permission,
}

/// Why a token was refused; [`TokenError::code`] maps it onto the RTC code a client sees.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not three `:`-separated segments, or a segment is not base64.
    #[error("malformed token: {0}")]
    Malformed(&'static str),
    /// The access key is not one the verifier knows.
    #[error("unknown access key {0:?}")]
    UnknownKey(String),
    /// The HMAC does not match the payload.
    #[error("signature does not match")]
    BadSignature,
    /// The payload is not the expected JSON object.
    #[error("bad payload: {0}")]
    BadPayload(String),
    /// A name breaks its pattern.
    #[error("{field} {value:?} does not match {pattern}")]
    BadName {
        /// `roomName` or `userId`.
        field: &'static str,
        /// The offending value.
        value: String,
        /// The rule it breaks.
        pattern: &'static str,
    },
    /// The token's `expireAt` has passed.
    #[error("token expired at {} (unix {expire_at})", format_unix(*expire_at))]
    Expired {
        /// The token's `expireAt`.
        expire_at: u64,
    },
}

impl TokenError {
    /// The RTC code a server answers for this refusal.
    pub fn code(&self) -> u32 {
        match self {
            TokenError::Expired { .. } => codes::TOKEN_EXPIRED,
            _ => codes::TOKEN_INVALID,
        }
    }
}

/// RFC 3339 rendering of a Unix time, for messages a person reads.
pub fn format_unix(secs: u64) -> String {
    humantime::format_rfc3339_seconds(std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs))
        .to_string()
}

/// Seconds since the Unix epoch now.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn hmac_sha1(key: &SecretKey, message: &[u8]) -> Hmac<Sha1> {
    let mut mac = <Hmac<Sha1> as KeyInit>::new_from_slice(key.expose_bytes())
        .expect("HMAC accepts keys of any length");
    mac.update(message);
    mac
}

/// `urlsafe_b64(HMAC-SHA1(secret, data))`, the signature used by tokens and management requests.
pub fn sign(secret: &SecretKey, data: &[u8]) -> String {
    URL_SAFE.encode(hmac_sha1(secret, data).finalize().into_bytes())
}

/// Constant-time check of a `urlsafe_b64` signature over `data`.
pub fn signature_matches(secret: &SecretKey, data: &[u8], signature_b64: &str) -> bool {
    match URL_SAFE_LENIENT.decode(signature_b64) {
        Ok(sig) => hmac_sha1(secret, data).verify_slice(&sig).is_ok(),
        Err(_) => false,
    }
}

/// Mints a token the way the Go SDK does (compact JSON, fixed key order).
pub fn mint(keys: &KeyPair, access: &RoomAccess) -> String {
    let json = serde_json::to_vec(access).expect("RoomAccess serializes");
    mint_raw(keys, &json)
}

/// Mints a token over arbitrary payload bytes (for negative tests and SDK-compatibility checks).
pub fn mint_raw(keys: &KeyPair, payload_json: &[u8]) -> String {
    let encoded = URL_SAFE.encode(payload_json);
    let signature = sign(&keys.secret_key, encoded.as_bytes());
    format!("{}:{signature}:{encoded}", keys.access_key)
}

/// A token split into its three segments, nothing checked yet.
#[derive(Debug, Clone, Copy)]
pub struct TokenParts<'a> {
    /// First segment.
    pub access_key: &'a str,
    /// Second segment, `urlsafe_b64(HMAC-SHA1)`.
    pub signature: &'a str,
    /// Third segment, `urlsafe_b64(json)`: the bytes the HMAC covers.
    pub payload: &'a str,
}

/// Splits `ak:sig:payload`.
pub fn split(token: &str) -> Result<TokenParts<'_>, TokenError> {
    let mut it = token.splitn(3, ':');
    match (it.next(), it.next(), it.next()) {
        (Some(ak), Some(sig), Some(payload))
            if !ak.is_empty() && !sig.is_empty() && !payload.is_empty() =>
        {
            if payload.contains(':') {
                return Err(TokenError::Malformed("more than three segments"));
            }
            Ok(TokenParts {
                access_key: ak,
                signature: sig,
                payload,
            })
        }
        _ => Err(TokenError::Malformed(
            "expected accessKey:signature:payload",
        )),
    }
}

/// Decodes the payload without checking the signature (for `token decode` and diagnostics).
pub fn decode_payload(parts: &TokenParts<'_>) -> Result<RoomAccess, TokenError> {
    let bytes = URL_SAFE_LENIENT
        .decode(parts.payload)
        .or_else(|_| general_purpose::STANDARD.decode(parts.payload))
        .map_err(|_| TokenError::Malformed("payload is not base64"))?;
    let value: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|e| TokenError::BadPayload(format!("not JSON: {e}")))?;
    let obj = value
        .as_object()
        .ok_or_else(|| TokenError::BadPayload("not a JSON object".into()))?;
    let text = |field: &'static str| -> Result<String, TokenError> {
        obj.get(field)
            .and_then(|v| v.as_str())
            .map(str::to_owned)
            .ok_or_else(|| TokenError::BadPayload(format!("missing string field {field}")))
    };
    let expire_at = obj
        .get("expireAt")
        .and_then(|v| {
            v.as_u64()
                .or_else(|| v.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64))
        })
        .ok_or_else(|| TokenError::BadPayload("missing numeric field expireAt".into()))?;
    let permission = match obj.get("permission").and_then(|v| v.as_str()) {
        None | Some("user") | Some("") => Permission::User,
        Some("admin") => Permission::Admin,
        Some(other) => {
            return Err(TokenError::BadPayload(format!(
                "unknown permission {other:?}"
            )));
        }
    };
    Ok(RoomAccess {
        app_id: text("appId")?,
        room_name: text("roomName")?,
        user_id: text("userId")?,
        expire_at,
        permission,
    })
}

fn check_name(
    field: &'static str,
    value: &str,
    max: usize,
    pattern: &'static str,
) -> Result<(), TokenError> {
    let ok = (3..=max).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(TokenError::BadName {
            field,
            value: value.to_owned(),
            pattern,
        })
    }
}

/// Checks the documented name rules (stricter than the Web SDK, which accepts length 1).
pub fn check_names(access: &RoomAccess) -> Result<(), TokenError> {
    check_name("roomName", &access.room_name, 64, "^[a-zA-Z0-9_-]{3,64}$")?;
    check_name("userId", &access.user_id, 50, "^[a-zA-Z0-9_-]{3,50}$")
}

/// Verifies a token: known key, signature over the received payload text, JSON, names, expiry.
///
/// `secret_for` looks up the secret of an access key. `now` is Unix seconds.
pub fn verify<'k>(
    token: &str,
    secret_for: impl FnOnce(&str) -> Option<&'k SecretKey>,
    now: u64,
) -> Result<RoomAccess, TokenError> {
    let parts = split(token)?;
    let secret = secret_for(parts.access_key)
        .ok_or_else(|| TokenError::UnknownKey(parts.access_key.into()))?;
    if !signature_matches(secret, parts.payload.as_bytes(), parts.signature) {
        return Err(TokenError::BadSignature);
    }
    let access = decode_payload(&parts)?;
    check_names(&access)?;
    if access.expire_at <= now {
        return Err(TokenError::Expired {
            expire_at: access.expire_at,
        });
    }
    Ok(access)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> KeyPair {
        KeyPair::new("AK", "SK")
    }

    fn access() -> RoomAccess {
        RoomAccess {
            app_id: "app1".into(),
            room_name: "room-001".into(),
            user_id: "alice".into(),
            expire_at: 1_893_456_000,
            permission: Permission::User,
        }
    }

    fn lookup<'a>(k: &'a KeyPair) -> impl FnOnce(&str) -> Option<&'a SecretKey> + 'a {
        move |ak: &str| (ak == k.access_key).then_some(&k.secret_key)
    }

    #[test]
    fn minted_tokens_verify_and_round_trip() {
        let k = keys();
        let token = mint(&k, &access());
        assert_eq!(verify(&token, lookup(&k), 1_800_000_000).unwrap(), access());
        // Go-style compact JSON in fixed key order.
        let payload = split(&token).unwrap().payload;
        let json = URL_SAFE.decode(payload).unwrap();
        assert_eq!(
            String::from_utf8(json).unwrap(),
            r#"{"appId":"app1","roomName":"room-001","userId":"alice","expireAt":1893456000,"permission":"user"}"#
        );
    }

    #[test]
    fn python_spaced_json_verifies_without_reserialization() {
        let k = keys();
        let spaced = br#"{"appId": "app1", "roomName": "room-001", "userId": "alice", "expireAt": 1893456000, "permission": "user"}"#;
        let token = mint_raw(&k, spaced);
        assert_eq!(verify(&token, lookup(&k), 0).unwrap(), access());
    }

    #[test]
    fn known_vector_from_an_independent_hmac() {
        // HMAC-SHA1("SK", "eyJhIjoxfQ==") computed with Python's hmac module.
        let k = keys();
        assert_eq!(
            sign(&k.secret_key, b"eyJhIjoxfQ=="),
            "X9kV--U9rmnHVOyM85n7t28f5Ik="
        );
    }

    #[test]
    fn every_refusal_maps_to_its_code() {
        let k = keys();
        let good = mint(&k, &access());
        let parts = split(&good).unwrap();
        let cases: Vec<(String, u32)> = vec![
            ("nonsense".into(), codes::TOKEN_INVALID),
            (
                format!("XX:{}:{}", parts.signature, parts.payload),
                codes::TOKEN_INVALID,
            ),
            (
                format!("AK:{}:{}", sign(&k.secret_key, b"x"), parts.payload),
                codes::TOKEN_INVALID,
            ),
            (mint_raw(&k, b"[1]"), codes::TOKEN_INVALID),
            (mint_raw(&k, b"not json"), codes::TOKEN_INVALID),
            (
                mint(
                    &k,
                    &RoomAccess {
                        room_name: "a b".into(),
                        ..access()
                    },
                ),
                codes::TOKEN_INVALID,
            ),
            (
                mint(
                    &k,
                    &RoomAccess {
                        user_id: "al".into(),
                        ..access()
                    },
                ),
                codes::TOKEN_INVALID,
            ),
            (
                mint(
                    &k,
                    &RoomAccess {
                        expire_at: 10,
                        ..access()
                    },
                ),
                codes::TOKEN_EXPIRED,
            ),
        ];
        for (token, code) in cases {
            let err = verify(&token, lookup(&k), 1_000).unwrap_err();
            assert_eq!(err.code(), code, "{token}: {err}");
        }
    }

    #[test]
    fn expired_error_names_the_time() {
        let k = keys();
        let token = mint(
            &k,
            &RoomAccess {
                expire_at: 1_700_000_000,
                ..access()
            },
        );
        let err = verify(&token, lookup(&k), 1_800_000_000).unwrap_err();
        assert_eq!(
            err.to_string(),
            "token expired at 2023-11-14T22:13:20Z (unix 1700000000)"
        );
    }
}
