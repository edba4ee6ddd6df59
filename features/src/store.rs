//! Post history on disk: one Parquet file per tenant and account,
//! `<data dir>/history/<tenant>/<account>.parquet`. Importing merges by post id (a re-import
//! updates counts), and every write is atomic.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use eiq_datasets::Post;
use polars::prelude::*;

use crate::error::io;
use crate::{FeatureError, io::read_parquet, io::write_parquet, posts_to_frame, stored_posts};

pub struct HistoryStore {
    root: PathBuf,
}

/// What one import changed for one account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountMerge {
    pub account_id: String,
    pub added: usize,
    pub updated: usize,
    pub total: usize,
}

impl HistoryStore {
    pub fn new(data_dir: &Path) -> Self {
        Self { root: data_dir.join("history") }
    }

    /// Adds posts to their accounts' histories; the same post id replaces the stored copy.
    pub fn merge(&self, tenant: &str, posts: Vec<Post>) -> Result<Vec<AccountMerge>, FeatureError> {
        let mut by_account: BTreeMap<String, Vec<Post>> = BTreeMap::new();
        for post in posts {
            by_account.entry(post.account_id.clone()).or_default().push(post);
        }
        let mut merges = Vec::with_capacity(by_account.len());
        for (account_id, incoming) in by_account {
            let path = self.account_path(tenant, &account_id)?;
            let mut stored: BTreeMap<String, Post> = match path.exists() {
                true => stored_posts(&read_parquet(&path)?)?.into_iter().map(|p| (p.post_id.clone(), p)).collect(),
                false => BTreeMap::new(),
            };
            let (mut added, mut updated) = (0, 0);
            for post in incoming {
                match stored.insert(post.post_id.clone(), post) {
                    Some(_) => updated += 1,
                    None => added += 1,
                }
            }
            let mut posts: Vec<Post> = stored.into_values().collect();
            posts.sort_by(|a, b| (a.created_at, &a.post_id).cmp(&(b.created_at, &b.post_id)));
            write_parquet(&mut posts_to_frame(&posts)?, &path)?;
            merges.push(AccountMerge { account_id, added, updated, total: posts.len() });
        }
        Ok(merges)
    }

    pub fn accounts(&self, tenant: &str) -> Result<Vec<String>, FeatureError> {
        let dir = self.root.join(checked_tenant(tenant)?);
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io(&dir)(e)),
        };
        let mut accounts: Vec<String> = entries
            .filter_map(|entry| entry.ok()?.file_name().to_str()?.strip_suffix(".parquet").map(decode_name))
            .collect();
        accounts.sort();
        Ok(accounts)
    }

    /// One account's history, or `None` when the tenant has no such account.
    pub fn load_account(&self, tenant: &str, account: &str) -> Result<Option<DataFrame>, FeatureError> {
        let path = self.account_path(tenant, account)?;
        if !path.exists() {
            return Ok(None);
        }
        read_parquet(&path).map(Some)
    }

    /// Every account of a tenant in one frame (empty, with the canonical columns, when none).
    pub fn load_tenant(&self, tenant: &str) -> Result<DataFrame, FeatureError> {
        let mut all = posts_to_frame(&[])?;
        for account in self.accounts(tenant)? {
            if let Some(frame) = self.load_account(tenant, &account)? {
                all.vstack_mut_owned(frame)?;
            }
        }
        all.rechunk_mut();
        Ok(all)
    }

    /// Changes whenever any of the tenant's history files does: what a trained model records, so
    /// a stale one is retrained rather than served.
    pub fn fingerprint(&self, tenant: &str) -> Result<String, FeatureError> {
        use std::hash::{Hash, Hasher};
        let dir = self.root.join(checked_tenant(tenant)?);
        let mut files: Vec<(String, u64, u128)> = match std::fs::read_dir(&dir) {
            Ok(entries) => entries
                .filter_map(|entry| {
                    let entry = entry.ok()?;
                    let meta = entry.metadata().ok()?;
                    let modified = meta.modified().ok()?.duration_since(std::time::UNIX_EPOCH).ok()?.as_nanos();
                    Some((entry.file_name().to_string_lossy().into_owned(), meta.len(), modified))
                })
                .collect(),
            Err(_) => Vec::new(),
        };
        files.sort();
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        files.hash(&mut hasher);
        Ok(format!("{:016x}", hasher.finish()))
    }

    fn account_path(&self, tenant: &str, account: &str) -> Result<PathBuf, FeatureError> {
        if account.is_empty() || account.len() > 200 {
            return Err(FeatureError::InvalidName(format!("account id must be 1–200 bytes, got {}", account.len())));
        }
        Ok(self.root.join(checked_tenant(tenant)?).join(format!("{}.parquet", encode_name(account))))
    }
}

/// Tenant names are chosen by operators and become directory names: kept plain.
pub fn checked_tenant(tenant: &str) -> Result<&str, FeatureError> {
    let plain = !tenant.is_empty()
        && tenant.len() <= 64
        && tenant.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    match plain {
        true => Ok(tenant),
        false => Err(FeatureError::InvalidName(format!("tenant `{tenant}` must be 1–64 of A–Z, a–z, 0–9, `-`, `_`"))),
    }
}

/// Account ids come from the data (`@brand`, `ACME Inc.`): any byte outside `[A-Za-z0-9_-]` is
/// percent-encoded, so every id is a safe, distinct, reversible file name.
fn encode_name(id: &str) -> String {
    id.bytes()
        .map(|b| match b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
            true => (b as char).to_string(),
            false => format!("%{b:02X}"),
        })
        .collect()
}

fn decode_name(name: &str) -> String {
    let bytes = name.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_ids_become_safe_reversible_file_names() {
        for id in ["12345", "@brand", "../../etc/passwd", "ACME Inc.", "café", "%41"] {
            let name = encode_name(id);
            assert!(name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'%'), "{name}");
            assert_eq!(decode_name(&name), id);
        }
        assert!(checked_tenant("acme_1").is_ok());
        assert!(checked_tenant("../x").is_err() && checked_tenant("").is_err());
    }
}
