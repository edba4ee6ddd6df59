//! Secrets at rest: webhook secrets are sealed with AES-256-GCM before they reach the database, so
//! a copy of the database (a backup, a replica's disk) does not carry them.
//!
//! The 32-byte key comes from `EIQ_SECRET_KEY` (64 hex digits or base64) or a key file; without
//! either, the server makes `<data dir>/secret.key` (mode 0600) on first start. Replicas sharing a
//! PostgreSQL database must share the key. Each value gets a fresh random 96-bit nonce, stored in
//! front of its ciphertext, and the tenant's name is the associated data: a sealed secret copied
//! into another tenant's row does not open.

use std::io::Write as _;
use std::path::Path;

use base64::Engine as _;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};

use crate::error::ServiceError;

const KEY_BYTES: usize = 32;

/// The server's sealing key.
pub struct SecretBox {
    key: LessSafeKey,
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBox(…)")
    }
}

impl SecretBox {
    /// The key `text` spells: 64 hex digits, or base64 of 32 bytes.
    pub fn from_text(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let bytes = hex::decode(text)
            .ok()
            .or_else(|| base64::engine::general_purpose::STANDARD.decode(text).ok())
            .filter(|b| b.len() == KEY_BYTES)
            .ok_or("the secret key must be 32 bytes, as 64 hex digits or base64")?;
        let key = UnboundKey::new(&AES_256_GCM, &bytes).map_err(|_| "the secret key is not an AES-256 key")?;
        Ok(Self { key: LessSafeKey::new(key) })
    }

    /// The key in `path`, made (random, mode 0600) when the file does not exist.
    pub fn from_file(path: &Path) -> Result<Self, String> {
        match std::fs::read_to_string(path) {
            Ok(text) => Self::from_text(&text).map_err(|e| format!("{}: {e}", path.display())),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                let mut bytes = [0u8; KEY_BYTES];
                getrandom::getrandom(&mut bytes).map_err(|e| format!("no randomness for a secret key: {e}"))?;
                let text = hex::encode(bytes);
                write_private(path, &text).map_err(|e| format!("writing {}: {e}", path.display()))?;
                tracing::info!(path = %path.display(), "made a secret key for webhook secrets");
                Self::from_text(&text)
            }
            Err(error) => Err(format!("reading {}: {error}", path.display())),
        }
    }

    /// `plain`, sealed for `tenant`: base64 of nonce ‖ ciphertext ‖ tag.
    pub fn seal(&self, tenant: &str, plain: &str) -> Result<String, ServiceError> {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::getrandom(&mut nonce).map_err(|e| ServiceError::internal("secret nonce", e))?;
        let mut sealed = plain.as_bytes().to_vec();
        self.key
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(tenant.as_bytes()), &mut sealed)
            .map_err(|_| ServiceError::internal("sealing a secret", "AES-GCM refused"))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        Ok(base64::engine::general_purpose::STANDARD.encode(out))
    }

    /// The secret `sealed` holds for `tenant`; an error when it was sealed under another key or
    /// for another tenant, or was changed.
    pub fn open(&self, tenant: &str, sealed: &str) -> Result<String, ServiceError> {
        let refused = || ServiceError::internal("opening a secret", "wrong key, tenant or a changed value");
        let bytes = base64::engine::general_purpose::STANDARD.decode(sealed).map_err(|_| refused())?;
        if bytes.len() < NONCE_LEN {
            return Err(refused());
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| refused())?;
        let mut buffer = ciphertext.to_vec();
        let plain = self.key.open_in_place(nonce, Aad::from(tenant.as_bytes()), &mut buffer).map_err(|_| refused())?;
        String::from_utf8(plain.to_vec()).map_err(|_| refused())
    }
}

fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt as _;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_secrets_open_only_for_their_tenant_and_key() {
        let sealer = SecretBox::from_text(&"ab".repeat(32)).unwrap();
        let sealed = sealer.seal("acme", "whsec_1").unwrap();
        assert!(!sealed.contains("whsec"));
        assert_ne!(sealed, sealer.seal("acme", "whsec_1").unwrap(), "a fresh nonce each time");
        assert_eq!(sealer.open("acme", &sealed).unwrap(), "whsec_1");
        assert!(sealer.open("other", &sealed).is_err());
        assert!(SecretBox::from_text(&"cd".repeat(32)).unwrap().open("acme", &sealed).is_err());
        assert!(sealer.open("acme", "not base64!").is_err());
        assert!(SecretBox::from_text("short").is_err());
    }

    #[test]
    fn a_missing_key_file_is_made_private_and_reused() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret.key");
        let first = SecretBox::from_file(&path).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        let sealed = first.seal("t", "s").unwrap();
        assert_eq!(SecretBox::from_file(&path).unwrap().open("t", &sealed).unwrap(), "s");
    }
}
