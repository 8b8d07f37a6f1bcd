//! Qiniu "Mac" request signing for the management API (`Authorization: Qiniu AK:sig`).
//!
//! Both sides live here: the reference server verifies, and roomstorm signs when it drives a
//! server's management API (fault injection, room cleanup). The signing string follows the
//! official SDKs exactly, including the Python SDK's signed `X-Qiniu-Date` header.

use crate::credentials::{KeyPair, SecretKey};
use crate::token;

/// How far a signed `X-Qiniu-Date` may be from the server clock.
pub const MAX_DATE_SKEW_SECS: u64 = 15 * 60;

/// The request fields that the signature covers.
#[derive(Debug, Clone)]
pub struct SignedParts<'a> {
    /// `GET`, `POST`, `DELETE`…
    pub method: &'a str,
    /// Path plus `?query` exactly as sent.
    pub path_and_query: &'a str,
    /// The `Host` header.
    pub host: &'a str,
    /// The `Content-Type` header, if any.
    pub content_type: Option<&'a str>,
    /// Every `X-Qiniu-*` header as (name, value), any case, any order.
    pub qiniu_headers: Vec<(&'a str, &'a str)>,
    /// The request body.
    pub body: &'a [u8],
}

/// Go's `CanonicalMIMEHeaderKey`, as the SDKs apply it to `X-Qiniu-*` names.
pub fn canonical_header_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = true;
    for ch in name.chars() {
        out.push(if upper {
            ch.to_ascii_uppercase()
        } else {
            ch.to_ascii_lowercase()
        });
        upper = ch == '-';
    }
    out
}

/// The exact bytes that are HMAC-signed.
pub fn signing_string(parts: &SignedParts<'_>) -> Vec<u8> {
    let mut s = format!(
        "{} {}\nHost: {}",
        parts.method, parts.path_and_query, parts.host
    );
    if let Some(ct) = parts.content_type {
        s.push_str("\nContent-Type: ");
        s.push_str(ct);
    }
    let mut headers: Vec<(String, &str)> = parts
        .qiniu_headers
        .iter()
        .map(|(k, v)| (canonical_header_name(k), *v))
        .filter(|(k, _)| k.len() > "X-Qiniu-".len() && k.starts_with("X-Qiniu-"))
        .collect();
    headers.sort();
    for (k, v) in &headers {
        s.push('\n');
        s.push_str(k);
        s.push_str(": ");
        s.push_str(v);
    }
    s.push_str("\n\n");
    let mut bytes = s.into_bytes();
    let signs_body = parts
        .content_type
        .is_some_and(|ct| ct != "application/octet-stream");
    if signs_body && !parts.body.is_empty() {
        bytes.extend_from_slice(parts.body);
    }
    bytes
}

/// The `Authorization` header value for a request.
pub fn authorization(keys: &KeyPair, parts: &SignedParts<'_>) -> String {
    let sig = token::sign(&keys.secret_key, &signing_string(parts));
    format!("Qiniu {}:{sig}", keys.access_key)
}

/// Why a management request was refused (the secret is never part of it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MacError {
    /// No `Authorization: Qiniu …` header.
    #[error("missing Qiniu authorization")]
    Missing,
    /// Not `Qiniu AK:sig`.
    #[error("malformed authorization header")]
    Malformed,
    /// The access key is unknown.
    #[error("unknown access key")]
    UnknownKey,
    /// The signature does not cover this request.
    #[error("bad signature")]
    BadSignature,
    /// `X-Qiniu-Date` is unparseable or too far from the server clock.
    #[error("X-Qiniu-Date is missing the format YYYYMMDDTHHMMSSZ or is more than 15 minutes off")]
    BadDate,
}

/// Checks an `Authorization` header against the request; returns the caller's access key.
pub fn verify<'k>(
    authorization: Option<&str>,
    parts: &SignedParts<'_>,
    secret_for: impl FnOnce(&str) -> Option<&'k SecretKey>,
    now_unix: u64,
) -> Result<String, MacError> {
    let value = authorization.ok_or(MacError::Missing)?;
    let cred = value.strip_prefix("Qiniu ").ok_or(MacError::Missing)?;
    let (ak, sig) = cred.split_once(':').ok_or(MacError::Malformed)?;
    let secret = secret_for(ak).ok_or(MacError::UnknownKey)?;
    if !token::signature_matches(secret, &signing_string(parts), sig) {
        return Err(MacError::BadSignature);
    }
    let date = parts
        .qiniu_headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("x-qiniu-date"))
        .map(|(_, v)| *v);
    if let Some(date) = date {
        let t = parse_qiniu_date(date).ok_or(MacError::BadDate)?;
        if t.abs_diff(now_unix) > MAX_DATE_SKEW_SECS {
            return Err(MacError::BadDate);
        }
    }
    Ok(ak.to_owned())
}

/// Parses `YYYYMMDDTHHMMSSZ` (UTC) into Unix seconds.
pub fn parse_qiniu_date(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u64> {
        let part = s.get(r)?;
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    let (y, mo, d) = (num(0..4)?, num(4..6)?, num(6..8)?);
    let (h, mi, se) = (num(9..11)?, num(11..13)?, num(13..15)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    // Days from civil (Howard Hinnant's algorithm), years >= 1970 only.
    let (y, mo) = (y as i64, mo as i64);
    let y2 = if mo <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let doy = (153 * (if mo > 2 { mo - 3 } else { mo + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    u64::try_from(days)
        .ok()
        .map(|days| days * 86_400 + h * 3600 + mi * 60 + se)
}

/// `YYYYMMDDTHHMMSSZ` for a Unix time, as the Python SDK sends it.
pub fn format_qiniu_date(unix: u64) -> String {
    let t = humantime::format_rfc3339_seconds(
        std::time::UNIX_EPOCH + std::time::Duration::from_secs(unix),
    )
    .to_string(); // 2026-11-27T02:35:45Z
    let digits: String = t.chars().filter(|c| c.is_ascii_digit()).collect();
    format!("{}T{}Z", &digits[..8], &digits[8..14])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts<'a>(body: &'a [u8], date: &'a str) -> SignedParts<'a> {
        SignedParts {
            method: "POST",
            path_and_query: "/v3/apps?x=1",
            host: "127.0.0.1:7788",
            content_type: Some("application/x-www-form-urlencoded"),
            qiniu_headers: vec![("x-qiniu-date", date)],
            body,
        }
    }

    #[test]
    fn signing_string_matches_the_sdk_layout() {
        let s = signing_string(&parts(b"hub=h&title=t", "20261127T023545Z"));
        assert_eq!(
            String::from_utf8(s).unwrap(),
            "POST /v3/apps?x=1\nHost: 127.0.0.1:7788\nContent-Type: application/x-www-form-urlencoded\nX-Qiniu-Date: 20261127T023545Z\n\nhub=h&title=t"
        );
        let octet = SignedParts {
            content_type: Some("application/octet-stream"),
            ..parts(b"zz", "d")
        };
        assert!(
            !String::from_utf8(signing_string(&octet))
                .unwrap()
                .ends_with("zz")
        );
    }

    #[test]
    fn verify_accepts_own_signature_and_rejects_forgeries() {
        let keys = KeyPair::new("AK", "SK");
        let now = parse_qiniu_date("20261127T023545Z").unwrap();
        let p = parts(b"hub=h", "20261127T023545Z");
        let auth = authorization(&keys, &p);
        let lookup = |ak: &str| (ak == "AK").then_some(&keys.secret_key);
        assert_eq!(verify(Some(&auth), &p, lookup, now).unwrap(), "AK");
        let tampered = parts(b"hub=x", "20261127T023545Z");
        assert_eq!(
            verify(Some(&auth), &tampered, lookup, now),
            Err(MacError::BadSignature)
        );
        assert_eq!(
            verify(Some(&auth), &p, lookup, now + 3600),
            Err(MacError::BadDate)
        );
        assert_eq!(verify(None, &p, lookup, now), Err(MacError::Missing));
        assert_eq!(
            verify(Some("Qiniu nocolon"), &p, lookup, now),
            Err(MacError::Malformed)
        );
        let other = KeyPair::new("AK", "forged");
        assert_eq!(
            verify(Some(&authorization(&other, &p)), &p, lookup, now),
            Err(MacError::BadSignature)
        );
    }

    #[test]
    fn dates_round_trip() {
        assert_eq!(parse_qiniu_date("19700101T000000Z"), Some(0));
        assert_eq!(parse_qiniu_date("20231114T221320Z"), Some(1_700_000_000));
        assert_eq!(format_qiniu_date(1_700_000_000), "20231114T221320Z");
        assert_eq!(parse_qiniu_date("2023-11-14T22:1"), None);
        assert_eq!(canonical_header_name("x-qiniu-DATE"), "X-Qiniu-Date");
    }
}
