//! Endpoint secrets at rest: sealed with XChaCha20-Poly1305 (RustCrypto's audited
//! `chacha20poly1305`) under a key from the settings, bound to their domain, so that a copy of
//! the database alone signs nothing. A sealed secret reads `v1.<key id>.<base64 nonce and
//! ciphertext>`; the key id (the first bytes of the key's SHA-256) lets older keys keep opening
//! what they sealed while a new key seals. Clear text written before sealing existed
//! (`whsec_...`) is opened as it is, until the dispatcher seals it.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use sha2::{Digest, Sha256};
use userhub_domain::DomainId;

const VERSION: &str = "v1";
const NONCE_BYTES: usize = 24;
const KEY_BYTES: usize = 32;
/// What clear-text secrets (Standard Webhooks) begin with.
const CLEAR_PREFIX: &str = "whsec_";

/// A sealing key and its id.
struct SealingKey {
    id: String,
    cipher: XChaCha20Poly1305,
}

impl SealingKey {
    fn from_base64(text: &str) -> Result<SealingKey, SealError> {
        let bytes = STANDARD
            .decode(text.trim())
            .map_err(|_| SealError::BadKey("not base64".to_owned()))?;
        if bytes.len() != KEY_BYTES {
            return Err(SealError::BadKey(format!(
                "{} bytes; a key has {KEY_BYTES} (e.g. `openssl rand -base64 32`)",
                bytes.len()
            )));
        }
        let digest = Sha256::digest(&bytes);
        let id = digest[..4].iter().map(|b| format!("{b:02x}")).collect();
        let cipher = XChaCha20Poly1305::new_from_slice(&bytes)
            .map_err(|_| SealError::BadKey("wrong length".to_owned()))?;
        Ok(SealingKey { id, cipher })
    }
}

/// Why a secret could not be sealed or opened.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("the webhook secret key is not usable: {0}")]
    BadKey(String),
    #[error("a stored webhook secret was sealed with a key this process does not have ({0})")]
    UnknownKey(String),
    #[error("a stored webhook secret cannot be opened: {0}")]
    Corrupt(&'static str),
}

/// Seals and opens endpoint secrets.
pub struct Sealer {
    current: SealingKey,
    older: Vec<SealingKey>,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Sealer")
            .field("key", &self.current.id)
            .finish_non_exhaustive()
    }
}

fn associated_data(domain: DomainId) -> Vec<u8> {
    format!("userhub webhook secret of domain {domain}").into_bytes()
}

impl Sealer {
    /// A sealer with `current` (base64 of 32 bytes) and `older` keys that still open.
    pub fn new(current: &str, older: &[String]) -> Result<Sealer, SealError> {
        Ok(Sealer {
            current: SealingKey::from_base64(current)?,
            older: older
                .iter()
                .filter(|key| !key.trim().is_empty())
                .map(|key| SealingKey::from_base64(key))
                .collect::<Result<_, _>>()?,
        })
    }

    /// `secret` sealed for `domain`.
    pub fn seal(&self, domain: DomainId, secret: &str) -> String {
        let nonce: [u8; NONCE_BYTES] = rand::random();
        let aad = associated_data(domain);
        let payload = Payload {
            msg: secret.as_bytes(),
            aad: &aad,
        };
        // Encryption into a Vec fails only past the cipher's message size (256 GiB).
        let sealed = self
            .current
            .cipher
            .encrypt(XNonce::from_slice(&nonce), payload)
            .unwrap_or_default();
        let mut bytes = nonce.to_vec();
        bytes.extend_from_slice(&sealed);
        format!("{VERSION}.{}.{}", self.current.id, STANDARD.encode(bytes))
    }

    /// The secret `stored` for `domain` (clear text written before sealing is returned as it is).
    pub fn open(&self, domain: DomainId, stored: &str) -> Result<String, SealError> {
        if stored.starts_with(CLEAR_PREFIX) {
            return Ok(stored.to_owned());
        }
        let mut parts = stored.splitn(3, '.');
        let (Some(VERSION), Some(key_id), Some(body)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(SealError::Corrupt("not a sealed secret"));
        };
        let key = std::iter::once(&self.current)
            .chain(&self.older)
            .find(|key| key.id == key_id)
            .ok_or_else(|| SealError::UnknownKey(key_id.to_owned()))?;
        let bytes = STANDARD
            .decode(body)
            .map_err(|_| SealError::Corrupt("not base64"))?;
        if bytes.len() < NONCE_BYTES {
            return Err(SealError::Corrupt("too short"));
        }
        let (nonce, sealed) = bytes.split_at(NONCE_BYTES);
        let aad = associated_data(domain);
        let payload = Payload {
            msg: sealed,
            aad: &aad,
        };
        let opened = key
            .cipher
            .decrypt(XNonce::from_slice(nonce), payload)
            .map_err(|_| SealError::Corrupt("the seal does not hold"))?;
        String::from_utf8(opened).map_err(|_| SealError::Corrupt("not text"))
    }

    /// Whether `stored` is clear text still to be sealed.
    pub fn is_clear(stored: &str) -> bool {
        stored.starts_with(CLEAR_PREFIX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
    const OTHER: &str = "ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA=";

    #[test]
    fn a_sealed_secret_opens_for_its_domain_only() {
        let sealer = Sealer::new(KEY, &[]).unwrap();
        let domain = DomainId::new(7);
        let sealed = sealer.seal(domain, "whsec_c2VjcmV0");
        assert!(!sealed.contains("whsec_") && !sealed.contains("c2VjcmV0"));
        assert_ne!(
            sealed,
            sealer.seal(domain, "whsec_c2VjcmV0"),
            "fresh nonces"
        );
        assert_eq!(sealer.open(domain, &sealed).unwrap(), "whsec_c2VjcmV0");
        assert!(matches!(
            sealer.open(DomainId::new(8), &sealed),
            Err(SealError::Corrupt(_))
        ));
    }

    #[test]
    fn an_older_key_still_opens_what_it_sealed() {
        let old = Sealer::new(OTHER, &[]).unwrap();
        let sealed = old.seal(DomainId::new(1), "whsec_b2xk");
        let rotated = Sealer::new(KEY, &[OTHER.to_owned()]).unwrap();
        assert_eq!(
            rotated.open(DomainId::new(1), &sealed).unwrap(),
            "whsec_b2xk"
        );
        let without = Sealer::new(KEY, &[]).unwrap();
        assert!(matches!(
            without.open(DomainId::new(1), &sealed),
            Err(SealError::UnknownKey(_))
        ));
    }

    #[test]
    fn tampering_and_bad_keys_are_refused() {
        let sealer = Sealer::new(KEY, &[]).unwrap();
        let sealed = sealer.seal(DomainId::new(1), "whsec_eA==");
        let mut tampered = sealed.clone();
        tampered.pop();
        tampered.push(if sealed.ends_with('A') { 'B' } else { 'A' });
        assert!(sealer.open(DomainId::new(1), &tampered).is_err());
        assert!(Sealer::new("c2hvcnQ=", &[]).is_err());
        assert!(Sealer::new("not base64!", &[]).is_err());
        assert_eq!(
            sealer.open(DomainId::new(1), "whsec_Y2xlYXI=").unwrap(),
            "whsec_Y2xlYXI="
        );
    }
}
