//! API keys: generation, the shape of a presented key, hashing and constant-time comparison.
//!
//! A key reads `uh_<key id>_<secret>`. The key id is public and used to look the key up; only a
//! SHA-256 hash of the secret is stored, and hashes are compared in constant time.

use rand::RngExt;
use sha2::{Digest, Sha256};

const KEY_PREFIX: &str = "uh_";
const KEY_ID_BYTES: usize = 6;
const SECRET_BYTES: usize = 24;

/// A freshly generated key: the clear text is shown once and never stored.
#[derive(Debug)]
pub struct GeneratedKey {
    pub clear_text: String,
    pub key_id: String,
    pub secret_hash: Vec<u8>,
}

/// A key as a client presented it, split into its parts (not yet verified).
#[derive(Debug, PartialEq, Eq)]
pub struct PresentedKey<'a> {
    pub key_id: &'a str,
    pub secret: &'a str,
}

/// Generates a new random key.
pub fn generate_key() -> GeneratedKey {
    let mut rng = rand::rng();
    let key_id = to_hex(&rng.random::<[u8; KEY_ID_BYTES]>());
    let secret = to_hex(&rng.random::<[u8; SECRET_BYTES]>());
    GeneratedKey {
        clear_text: format!("{KEY_PREFIX}{key_id}_{secret}"),
        secret_hash: hash_secret(&secret),
        key_id,
    }
}

/// Splits a presented key; `None` if it does not have the shape of one of ours.
pub fn parse_key(text: &str) -> Option<PresentedKey<'_>> {
    let (key_id, secret) = text.strip_prefix(KEY_PREFIX)?.split_once('_')?;
    let hex = |part: &str, bytes: usize| {
        part.len() == bytes * 2 && part.bytes().all(|b| b.is_ascii_hexdigit())
    };
    (hex(key_id, KEY_ID_BYTES) && hex(secret, SECRET_BYTES))
        .then_some(PresentedKey { key_id, secret })
}

pub fn hash_secret(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

/// Compares two byte strings in time that depends only on their lengths.
pub fn constant_time_eq(left: &[u8], right: &[u8]) -> bool {
    if left.len() != right.len() {
        return false;
    }
    let difference = left
        .iter()
        .zip(right)
        .fold(0u8, |acc, (a, b)| acc | (a ^ b));
    std::hint::black_box(difference) == 0
}

/// Lower-case hexadecimal of `bytes`.
pub fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_parse_and_verify() {
        let key = generate_key();
        let presented = parse_key(&key.clear_text).unwrap();
        assert_eq!(presented.key_id, key.key_id);
        assert!(constant_time_eq(
            &hash_secret(presented.secret),
            &key.secret_hash
        ));
        assert!(!constant_time_eq(&hash_secret("other"), &key.secret_hash));
    }

    #[test]
    fn foreign_shapes_are_not_keys() {
        for text in ["", "uh_", "uh_abc_def", "Bearer x", "uh_zzzzzzzzzzzz_0000"] {
            assert_eq!(parse_key(text), None, "{text}");
        }
    }
}
