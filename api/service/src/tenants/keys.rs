//! API keys: `eiq_<prefix>_<secret>`, shown once, stored as a hash.
//!
//! The prefix (12 hex digits) is public: it names the key in logs, listings and revocations. The
//! secret is 32 random bytes from the operating system, so the key has 256 bits of entropy and a
//! plain SHA-256 is a safe hash to store (a slow password hash guards guessable secrets, which
//! these are not). A presented key is found by its prefix and accepted only if its hash matches,
//! compared in constant time.

use sha2::{Digest as _, Sha256};

const PREFIX_BYTES: usize = 6;
const SECRET_BYTES: usize = 32;

/// A new key: the whole key (to show once), its prefix and its hash (to store).
pub struct GeneratedKey {
    pub key: String,
    pub prefix: String,
    pub hash: String,
}

pub fn generate() -> Result<GeneratedKey, getrandom::Error> {
    let mut bytes = [0u8; PREFIX_BYTES + SECRET_BYTES];
    getrandom::getrandom(&mut bytes)?;
    let prefix = hex::encode(&bytes[..PREFIX_BYTES]);
    let key = format!("eiq_{prefix}_{}", hex::encode(&bytes[PREFIX_BYTES..]));
    let hash = hash(&key);
    Ok(GeneratedKey { key, prefix, hash })
}

/// The prefix of a well-formed key, `None` for anything else (checked before any lookup).
pub fn prefix_of(key: &str) -> Option<&str> {
    let rest = key.strip_prefix("eiq_")?;
    let (prefix, secret) = rest.split_once('_')?;
    let hex = |s: &str, bytes: usize| s.len() == bytes * 2 && s.bytes().all(|b| b.is_ascii_hexdigit());
    (hex(prefix, PREFIX_BYTES) && hex(secret, SECRET_BYTES)).then_some(prefix)
}

pub fn hash(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// Whether `key` hashes to `stored`, in time independent of where they differ.
pub fn matches(key: &str, stored: &str) -> bool {
    let computed = hash(key);
    computed.len() == stored.len() && computed.bytes().zip(stored.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_random_well_formed_and_checked_by_hash() {
        let one = generate().unwrap();
        let two = generate().unwrap();
        assert_ne!(one.key, two.key);
        assert_eq!(prefix_of(&one.key), Some(one.prefix.as_str()));
        assert!(matches(&one.key, &one.hash) && !matches(&two.key, &one.hash));
        assert!(!one.hash.contains(&one.key[17..]), "the secret is not stored");
        for bad in ["", "eiq_", "eiq_zz_zz", &one.key[..one.key.len() - 1], &format!("{}0", one.key), "Bearer x"] {
            assert_eq!(prefix_of(bad), None, "{bad}");
        }
    }
}
