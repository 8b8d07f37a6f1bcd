//! Janus signed tokens (`token_auth` with `token_auth_secret`): roomstorm mints them from the
//! scenario's secret, with an expiry, so that token scenarios (invalid, expired) run against a
//! real Janus as they do against the reference server.
//!
//! The format Janus checks: `<expiry>,janus,<plugin>[,<plugin>…]:<signature>`, where `expiry` is
//! Unix seconds and the signature is the standard (padded) base64 of HMAC-SHA1 over everything
//! before the colon, keyed by the secret. Janus answers 403 both for a bad signature and for a
//! past expiry, so a driver tells 10001 from 10002 by the expiry it put in the token itself.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;

use crate::credentials::SecretKey;

/// The plugin roomstorm joins rooms of.
pub const VIDEOROOM: &str = "janus.plugin.videoroom";

/// A token valid until `expiry` (Unix seconds) for `plugins`, signed with `secret`.
pub fn mint(secret: &SecretKey, expiry: u64, plugins: &[&str]) -> String {
    let data = format!("{expiry},janus,{}", plugins.join(","));
    let mut mac = <Hmac<Sha1> as KeyInit>::new_from_slice(secret.expose_bytes())
        .expect("HMAC accepts keys of any length");
    mac.update(data.as_bytes());
    format!("{data}:{}", STANDARD.encode(mac.finalize().into_bytes()))
}

/// The expiry a token carries (what Janus would compare with its clock), if it has the format.
pub fn expiry(token: &str) -> Option<u64> {
    let (data, _signature) = token.split_once(':')?;
    let mut parts = data.split(',');
    let expiry = parts.next()?.parse().ok()?;
    (parts.next()? == "janus").then_some(expiry)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_carry_expiry_realm_plugins_and_an_hmac_sha1_signature() {
        let secret = SecretKey::new("janus");
        let t = mint(&secret, 1_700_000_000, &[VIDEOROOM]);
        // HMAC-SHA1("janus", "1700000000,janus,janus.plugin.videoroom"), computed independently
        // with Python's hmac module.
        assert_eq!(
            t,
            "1700000000,janus,janus.plugin.videoroom:8YthpHgLHAOwcp64sE1Kz76oU4Q="
        );
        assert_eq!(expiry(&t), Some(1_700_000_000));
        assert_eq!(expiry("nonsense"), None);
        assert_eq!(expiry("12,other,x:sig"), None);
        let two = mint(&secret, 5, &[VIDEOROOM, "janus.plugin.echotest"]);
        assert!(two.starts_with("5,janus,janus.plugin.videoroom,janus.plugin.echotest:"));
    }
}
