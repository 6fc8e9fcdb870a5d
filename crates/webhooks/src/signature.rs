//! Secrets and signatures in the Standard Webhooks scheme (the `standardwebhooks` crate):
//! HMAC-SHA256 over `{webhook-id}.{webhook-timestamp}.{body}`, one `v1,<base64>` entry per
//! secret that currently signs.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rand::RngExt;
use standardwebhooks::Webhook;

/// A new endpoint secret: `whsec_` and 24 random bytes in base64.
pub fn new_secret() -> String {
    let bytes: [u8; 24] = rand::rng().random();
    format!("whsec_{}", STANDARD.encode(bytes))
}

/// The `webhook-signature` value: a signature with each secret (the current one first).
pub fn signature_header(
    secrets: &[&str],
    message_id: &str,
    timestamp: i64,
    body: &str,
) -> Result<String, standardwebhooks::WebhookError> {
    let signatures = secrets
        .iter()
        .map(|secret| Webhook::new(secret)?.sign(message_id, timestamp, body.as_bytes()))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(signatures.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_fresh_and_each_one_signs() {
        let (old, new) = (new_secret(), new_secret());
        assert_ne!(old, new);
        assert!(new.starts_with("whsec_"));
        let header = signature_header(&[&new, &old], "msg_1", 1_700_000_000, "{}").unwrap();
        let parts: Vec<&str> = header.split(' ').collect();
        assert_eq!(parts.len(), 2);
        assert!(parts.iter().all(|part| part.starts_with("v1,")));
        let alone = signature_header(&[&old], "msg_1", 1_700_000_000, "{}").unwrap();
        assert_eq!(parts[1], alone, "the old secret's signature is unchanged");
        let other_body = signature_header(&[&old], "msg_1", 1_700_000_000, "{ }").unwrap();
        assert_ne!(alone, other_body);
    }
}
