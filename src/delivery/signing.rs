//! Standard Webhooks 1.0 signatures: `webhook-signature: v1,<base64 HMAC-SHA256>` over
//! `<webhook-id>.<webhook-timestamp>.<body>`, one per configured secret (so that a consumer
//! can move to a new secret while the old one still verifies).

use aws_lc_rs::hmac;
use base64::Engine;

use crate::config::{Secret, signing_key};

/// The keys of a destination's `whsec_` secrets.
#[derive(Debug)]
pub struct Signer {
    keys: Vec<Secret<hmac::Key>>,
}

impl Signer {
    /// The signer of `secrets`; validation has made sure each is `whsec_<base64>` (one that is
    /// not is skipped).
    pub fn new(secrets: &[Secret<String>]) -> Signer {
        Signer {
            keys: secrets
                .iter()
                .filter_map(|s| signing_key(s.expose()))
                .map(|key| Secret::new(hmac::Key::new(hmac::HMAC_SHA256, &key)))
                .collect(),
        }
    }

    /// The `webhook-signature` header value: `v1,<base64>` per key, separated by spaces.
    pub fn signature(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        let prefix = format!("{id}.{timestamp}.");
        self.keys
            .iter()
            .map(|key| {
                let mut context = hmac::Context::with_key(key.expose());
                context.update(prefix.as_bytes());
                context.update(body);
                let tag = context.sign();
                format!(
                    "v1,{}",
                    base64::engine::general_purpose::STANDARD.encode(tag.as_ref())
                )
            })
            .collect::<Vec<_>>()
            .join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_signature_per_secret_over_id_timestamp_and_body() {
        let secret = |key: &[u8]| {
            Secret::new(format!(
                "whsec_{}",
                base64::engine::general_purpose::STANDARD.encode(key)
            ))
        };
        let signer = Signer::new(&[secret(b"first key"), secret(b"second key")]);
        let header = signer.signature("evt_1", 1_700_000_000, b"{}");
        let parts: Vec<&str> = header.split(' ').collect();
        assert_eq!(parts.len(), 2);
        assert!(parts.iter().all(|p| p.starts_with("v1,")));
        assert_ne!(parts[0], parts[1]);
        // Any change to the id, the time or the body changes the signature.
        assert_ne!(header, signer.signature("evt_2", 1_700_000_000, b"{}"));
        assert_ne!(header, signer.signature("evt_1", 1_700_000_001, b"{}"));
        assert_ne!(header, signer.signature("evt_1", 1_700_000_000, b"{ }"));
    }
}
