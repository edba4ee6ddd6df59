//! Post history on disk: one Parquet file per tenant and account in
//! `<data dir>/history/<tenant>/`. Importing merges by post id (a re-import updates counts).
//!
//! **File names.** An account id (1–200 bytes of anything) is percent-encoded: every byte
//! outside `[A-Za-z0-9_-]` becomes `%XX`, so `<encoded>.parquet` is safe, distinct and
//! reversible. An id whose encoding would not fit in a file name (255 bytes) is stored as
//! `~sha256-<hex of the id>.parquet` instead; `~` never occurs in an encoding, so the two kinds
//! never meet, and the real id is read back from the file's `account_id` column. Names that
//! start with `.` belong to the store.
//!
//! **The lock.** Every operation on a tenant holds a lock on `<tenant>/.lock`: exclusive for a
//! merge, so read-modify-write cycles from different processes (the batch CLI and the server)
//! never interleave and lose posts; shared for readers, so they never see a merge half done. The
//! lock belongs to an open file, not to a process: two `HistoryStore`s in one process exclude
//! each other as two processes do. The lock file is never deleted (two writers could then lock
//! two different files).
//!
//! **The commit journal.** A merge stores every account of an import or none, even through
//! `kill -9` or a power cut:
//! 1. each account's new file is written and synced under a staging name, `.stage-<pid>-<n>`;
//! 2. `.journal` is written atomically, one `<staging>\t<final>` line per account; once it is
//!    on disk the import is committed;
//! 3. the staging files are renamed over their final names and `.version` gets a new token;
//! 4. the journal is deleted.
//!
//! Whoever takes the lock next and finds a journal redoes step 3 (a staging file that is gone
//! was renamed before the crash), so a crash before step 2 leaves every account old and a crash
//! after it every account new. Staging and temporary (`*.tmp-*`) files are deleted then too:
//! under the lock no live writer can own them, so they are a dead writer's.
//!
//! **Noticing other processes' imports.** `.version` holds `<commits>-<nanoseconds>`, replaced
//! atomically by every commit. [`HistoryStore::version`] reads it without locking: one small
//! read a server can afford per request to learn that another process imported.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use eiq_datasets::Post;
use polars::prelude::*;
use sha2::Digest as _;

use crate::error::io;
use crate::io::{read_parquet, write_atomically, write_parquet};
use crate::{FeatureError, posts_to_frame, stored_posts};

pub use eiq_datasets::MAX_ACCOUNT_ID_BYTES;

const MAX_FILE_NAME_BYTES: usize = 255;
const EXTENSION: &str = ".parquet";
const HASHED_PREFIX: &str = "~sha256-";
const LOCK: &str = ".lock";
const VERSION: &str = ".version";
const JOURNAL: &str = ".journal";
const STAGING_PREFIX: &str = ".stage-";
/// What `io::write_atomically` puts in its temporary names (and what this store's earlier
/// versions left behind: `<account>.tmp-<pid>`).
const TEMPORARY_MARK: &str = ".tmp-";

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

/// A staging file and the account file it becomes: one journal line.
type Rename = (String, String);

impl HistoryStore {
    pub fn new(data_dir: &Path) -> Self {
        Self { root: data_dir.join("history") }
    }

    /// Adds posts to their accounts' histories; the same post id replaces the stored copy.
    ///
    /// Every account is stored or none is (see the module docs), under the tenant's exclusive
    /// lock, so concurrent merges from any process all land. Ids are checked before anything
    /// is touched. An error after the commit point says so: the next use of the tenant then
    /// puts every account in place.
    pub fn merge(&self, tenant: &str, posts: Vec<Post>) -> Result<Vec<AccountMerge>, FeatureError> {
        let dir = self.tenant_dir(tenant)?;
        let mut by_account: BTreeMap<String, Vec<Post>> = BTreeMap::new();
        for post in posts {
            by_account.entry(post.account_id.clone()).or_default().push(post);
        }
        let accounts = by_account
            .into_iter()
            .map(|(id, posts)| Ok((account_file_name(&id)?, id, posts)))
            .collect::<Result<Vec<_>, FeatureError>>()?;
        if accounts.is_empty() {
            return Ok(Vec::new());
        }
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        let lock_path = dir.join(LOCK);
        let lock = open_lock(&lock_path).map_err(io(&lock_path))?;
        lock.lock().map_err(io(&lock_path))?;
        recover(&dir)?;
        let (renames, merges) = match stage(&dir, accounts) {
            Ok(staged) => staged,
            Err(error) => {
                // Best effort: whatever stays behind is a stray the next user of the tenant deletes.
                let _ = remove_strays(&dir);
                return Err(error);
            }
        };
        commit(&dir, &renames)?;
        Ok(merges)
    }

    /// Deletes the tenant's posts created before `before` (Unix seconds), for a plan's analytics
    /// retention; the number deleted. Accounts that keep posts are rewritten through the commit
    /// journal like a merge; an account left with none loses its file after the commit (a crash
    /// between the two leaves it to the next prune).
    pub fn prune(&self, tenant: &str, before: i64) -> Result<usize, FeatureError> {
        let dir = self.tenant_dir(tenant)?;
        let lock_path = dir.join(LOCK);
        let lock = match open_lock(&lock_path) {
            Ok(lock) => lock,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(io(&lock_path)(e)),
        };
        lock.lock().map_err(io(&lock_path))?;
        recover(&dir)?;
        let (mut renames, mut emptied, mut deleted) = (Vec::new(), Vec::new(), 0);
        for (n, (name, _)) in account_files(&dir)?.into_iter().enumerate() {
            let posts = stored_posts(&read_parquet(&dir.join(&name))?)?;
            let kept: Vec<Post> = posts.iter().filter(|p| p.created_at >= before).cloned().collect();
            deleted += posts.len() - kept.len();
            if kept.len() == posts.len() {
                continue;
            }
            if kept.is_empty() {
                emptied.push(name);
                continue;
            }
            let staging = format!("{STAGING_PREFIX}{}-{n}", std::process::id());
            if let Err(error) = write_parquet(&mut posts_to_frame(&kept)?, &dir.join(&staging)) {
                let _ = remove_strays(&dir);
                return Err(error);
            }
            renames.push((staging, name));
        }
        if !renames.is_empty() {
            commit(&dir, &renames)?;
        }
        for name in &emptied {
            let path = dir.join(name);
            std::fs::remove_file(&path).map_err(io(&path))?;
        }
        if !emptied.is_empty() {
            new_version(&dir)?;
            sync_dir(&dir)?;
        }
        Ok(deleted)
    }

    /// The tenants that have a history folder, sorted (names that are not tenant names are
    /// skipped).
    pub fn tenants(&self) -> Result<Vec<String>, FeatureError> {
        let entries = match std::fs::read_dir(&self.root) {
            Ok(entries) => entries,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io(&self.root)(e)),
        };
        let mut tenants = Vec::new();
        for entry in entries {
            let entry = entry.map_err(io(&self.root))?;
            if entry.file_type().is_ok_and(|t| t.is_dir())
                && let Some(name) = entry.file_name().to_str()
                && checked_tenant(name).is_ok()
            {
                tenants.push(name.to_string());
            }
        }
        tenants.sort();
        Ok(tenants)
    }

    /// The tenant's account ids, sorted.
    pub fn accounts(&self, tenant: &str) -> Result<Vec<String>, FeatureError> {
        let dir = self.tenant_dir(tenant)?;
        let Some(_lock) = read_lock(&dir)? else { return Ok(Vec::new()) };
        let mut accounts = Vec::new();
        for (name, file) in account_files(&dir)? {
            match file {
                AccountFile::Encoded(id) => accounts.push(id),
                AccountFile::Hashed => accounts.extend(stored_account_id(&dir.join(name))?),
            }
        }
        accounts.sort();
        Ok(accounts)
    }

    /// One account's history, or `None` when the tenant has no such account.
    pub fn load_account(&self, tenant: &str, account: &str) -> Result<Option<DataFrame>, FeatureError> {
        let dir = self.tenant_dir(tenant)?;
        let name = account_file_name(account)?;
        let Some(_lock) = read_lock(&dir)? else { return Ok(None) };
        read_account(&dir.join(name), account)
    }

    /// Every account of a tenant in one frame, ordered by account (empty, with the canonical
    /// columns, when none): one consistent state, never half an import.
    pub fn load_tenant(&self, tenant: &str) -> Result<DataFrame, FeatureError> {
        let dir = self.tenant_dir(tenant)?;
        let mut all = posts_to_frame(&[])?;
        let Some(_lock) = read_lock(&dir)? else { return Ok(all) };
        let mut frames = Vec::new();
        for (name, _) in account_files(&dir)? {
            let frame = read_parquet(&dir.join(name))?;
            frames.push((first_account_id(&frame)?, frame));
        }
        frames.sort_by(|a, b| a.0.cmp(&b.0));
        for (_, frame) in frames {
            all.vstack_mut_owned(frame)?;
        }
        all.rechunk_mut();
        Ok(all)
    }

    /// A token that changes with every import into the tenant, by any process; `None` when the
    /// tenant has no history. One small read, without locking: a server can call it per request
    /// and reload when it differs from the token it read before its last load. Read it before
    /// loading, so the data is never older than the token it is kept with.
    pub fn version(&self, tenant: &str) -> Result<Option<String>, FeatureError> {
        let dir = self.tenant_dir(tenant)?;
        let path = dir.join(VERSION);
        match std::fs::read_to_string(&path) {
            Ok(token) => Ok(Some(token.trim().to_string())),
            // No commit has written one (history from before tokens, or none): the files decide.
            Err(e) if e.kind() == ErrorKind::NotFound => match account_files(&dir)?.is_empty() {
                true => Ok(None),
                false => Ok(Some(format!("0-{}", listing_digest(&dir)?))),
            },
            Err(e) => Err(io(&path)(e)),
        }
    }

    fn tenant_dir(&self, tenant: &str) -> Result<PathBuf, FeatureError> {
        Ok(self.root.join(checked_tenant(tenant)?))
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

/// Reads and merges every account, writing each new file under a staging name.
fn stage(
    dir: &Path,
    accounts: Vec<(String, String, Vec<Post>)>,
) -> Result<(Vec<Rename>, Vec<AccountMerge>), FeatureError> {
    let mut renames = Vec::with_capacity(accounts.len());
    let mut merges = Vec::with_capacity(accounts.len());
    for (n, (name, account_id, incoming)) in accounts.into_iter().enumerate() {
        let mut stored: BTreeMap<String, Post> = match read_account(&dir.join(&name), &account_id)? {
            Some(frame) => stored_posts(&frame)?.into_iter().map(|p| (p.post_id.clone(), p)).collect(),
            None => BTreeMap::new(),
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
        let staging = format!("{STAGING_PREFIX}{}-{n}", std::process::id());
        write_parquet(&mut posts_to_frame(&posts)?, &dir.join(&staging))?;
        renames.push((staging, name));
        merges.push(AccountMerge { account_id, added, updated, total: posts.len() });
    }
    Ok((renames, merges))
}

/// Steps 2–4 of the protocol: the journal is the commit point.
fn commit(dir: &Path, renames: &[Rename]) -> Result<(), FeatureError> {
    // The staging files' names must be on disk before a journal names them.
    sync_dir(dir)?;
    let journal = dir.join(JOURNAL);
    let lines: String = renames.iter().map(|(staging, name)| format!("{staging}\t{name}\n")).collect();
    write_atomically(&journal, |file| file.write_all(lines.as_bytes()).map_err(io(&journal)))?;
    sync_dir(dir)?;
    finish(dir, renames).map_err(|e| FeatureError::Io {
        path: journal.clone(),
        source: std::io::Error::other(format!(
            "the import is committed but not yet in place ({e}); the next use of the tenant puts it in place"
        )),
    })
}

/// Steps 3–4: idempotent, so a crash in the middle is finished by running it again.
fn finish(dir: &Path, renames: &[Rename]) -> Result<(), FeatureError> {
    for (staging, name) in renames {
        let target = dir.join(name);
        match std::fs::rename(dir.join(staging), &target) {
            Ok(()) => {}
            // Renamed before a crash.
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(io(&target)(e)),
        }
    }
    new_version(dir)?;
    sync_dir(dir)?;
    let journal = dir.join(JOURNAL);
    std::fs::remove_file(&journal).map_err(io(&journal))?;
    sync_dir(dir)
}

/// Under the exclusive lock: finishes a dead writer's committed import, deletes its strays.
fn recover(dir: &Path) -> Result<(), FeatureError> {
    let journal = dir.join(JOURNAL);
    match std::fs::read_to_string(&journal) {
        Ok(text) => finish(dir, &parse_journal(&text, &journal)?)?,
        Err(e) if e.kind() == ErrorKind::NotFound => {}
        Err(e) => return Err(io(&journal)(e)),
    }
    remove_strays(dir)
}

/// Journal lines name files in the tenant's folder only: staging files, and account files.
fn parse_journal(text: &str, path: &Path) -> Result<Vec<Rename>, FeatureError> {
    text.lines()
        .enumerate()
        .map(|(i, line)| {
            let valid = line.split_once('\t').filter(|(staging, name)| {
                staging.starts_with(STAGING_PREFIX) && !staging.contains('/') && account_file(name).is_some()
            });
            match valid {
                Some((staging, name)) => Ok((staging.to_string(), name.to_string())),
                None => Err(FeatureError::WrongFormat {
                    format: "history journal",
                    row: Some(i + 1),
                    reason: format!("{}: `{line}`", path.display()),
                }),
            }
        })
        .collect()
}

fn is_stray(name: &str) -> bool {
    name.starts_with(STAGING_PREFIX) || name.contains(TEMPORARY_MARK)
}

fn remove_strays(dir: &Path) -> Result<(), FeatureError> {
    for name in file_names(dir)?.into_iter().filter(|name| is_stray(name)) {
        let path = dir.join(name);
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(io(&path)(e)),
        }
    }
    Ok(())
}

/// Replaces `.version` with the next commit count and the time: never a token seen before.
fn new_version(dir: &Path) -> Result<(), FeatureError> {
    let path = dir.join(VERSION);
    let commits = match std::fs::read_to_string(&path) {
        Ok(token) => token.split('-').next().and_then(|n| n.trim().parse::<u64>().ok()).unwrap_or(0),
        Err(e) if e.kind() == ErrorKind::NotFound => 0,
        Err(e) => return Err(io(&path)(e)),
    };
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    let token = format!("{}-{nanos}", commits + 1);
    write_atomically(&path, |file| file.write_all(token.as_bytes()).map_err(io(&path)))
}

fn open_lock(path: &Path) -> std::io::Result<File> {
    OpenOptions::new().read(true).write(true).create(true).truncate(false).open(path)
}

/// The tenant's shared lock, held until the file is dropped; `None` (creating nothing) when
/// the tenant has no folder. A dead writer's leftovers are dealt with first, under the
/// exclusive lock, so the caller reads a whole state.
fn read_lock(dir: &Path) -> Result<Option<File>, FeatureError> {
    let path = dir.join(LOCK);
    let lock = match open_lock(&path) {
        Ok(lock) => lock,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(&path)(e)),
    };
    lock.lock_shared().map_err(io(&path))?;
    while leftovers(dir)? {
        lock.unlock().map_err(io(&path))?;
        lock.lock().map_err(io(&path))?;
        recover(dir)?;
        lock.unlock().map_err(io(&path))?;
        lock.lock_shared().map_err(io(&path))?;
    }
    Ok(Some(lock))
}

fn leftovers(dir: &Path) -> Result<bool, FeatureError> {
    Ok(file_names(dir)?.iter().any(|name| name == JOURNAL || is_stray(name)))
}

fn sync_dir(dir: &Path) -> Result<(), FeatureError> {
    File::open(dir).and_then(|dir| dir.sync_all()).map_err(io(dir))
}

/// The names in a folder (none when it does not exist), sorted.
fn file_names(dir: &Path) -> Result<Vec<String>, FeatureError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io(dir)(e)),
    };
    let mut names = Vec::new();
    for entry in entries {
        // Names that are not UTF-8 are not the store's.
        if let Ok(name) = entry.map_err(io(dir))?.file_name().into_string() {
            names.push(name);
        }
    }
    names.sort();
    Ok(names)
}

enum AccountFile {
    /// The decoded id.
    Encoded(String),
    /// The id is in the file.
    Hashed,
}

fn account_files(dir: &Path) -> Result<Vec<(String, AccountFile)>, FeatureError> {
    Ok(file_names(dir)?.into_iter().filter_map(|name| account_file(&name).map(|file| (name, file))).collect())
}

/// What an account file's name says, or `None` when the name is not an account file's.
fn account_file(name: &str) -> Option<AccountFile> {
    let stem = name.strip_suffix(EXTENSION)?;
    if let Some(hash) = stem.strip_prefix(HASHED_PREFIX) {
        return (hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit())).then_some(AccountFile::Hashed);
    }
    let encoded = !stem.is_empty() && stem.bytes().all(|b| is_plain(b) || b == b'%');
    encoded.then(|| AccountFile::Encoded(decode_name(stem)))
}

/// The file holding an account: its id percent-encoded when that fits, else its hash. Every id
/// of 1–[`MAX_ACCOUNT_ID_BYTES`] bytes gets a valid name no other id gets.
fn account_file_name(id: &str) -> Result<String, FeatureError> {
    if id.is_empty() || id.len() > MAX_ACCOUNT_ID_BYTES {
        return Err(FeatureError::InvalidName(format!(
            "account id must be 1–{MAX_ACCOUNT_ID_BYTES} bytes, got {}",
            id.len()
        )));
    }
    let encoded = encode_name(id);
    match encoded.len() + EXTENSION.len() <= MAX_FILE_NAME_BYTES {
        true => Ok(format!("{encoded}{EXTENSION}")),
        false => Ok(format!("{HASHED_PREFIX}{}{EXTENSION}", hex(&sha2::Sha256::digest(id.as_bytes())))),
    }
}

/// An account's stored history, `None` when it has none. The file must be a regular file
/// holding that account (a hashed name is checked, not trusted).
fn read_account(path: &Path, account: &str) -> Result<Option<DataFrame>, FeatureError> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.is_file() => {}
        Ok(_) => {
            return Err(FeatureError::Io {
                path: path.to_path_buf(),
                source: std::io::Error::other("not a regular file"),
            });
        }
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(path)(e)),
    }
    let frame = read_parquet(path)?;
    match first_account_id(&frame)? {
        Some(stored) if stored != account => {
            Err(FeatureError::InvalidName(format!("{} holds account `{stored}`, not `{account}`", path.display())))
        }
        _ => Ok(Some(frame)),
    }
}

/// The id a hashed file holds, reading one value of one column.
fn stored_account_id(path: &Path) -> Result<Option<String>, FeatureError> {
    let file = File::open(path).map_err(io(path))?;
    let frame = ParquetReader::new(file)
        .with_columns(Some(vec!["account_id".into()]))
        .with_slice(Some((0, 1)))
        .finish()
        .map_err(|e| FeatureError::WrongFormat {
            format: "parquet",
            row: None,
            reason: format!("{}: {e}", path.display()),
        })?;
    first_account_id(&frame)
}

fn first_account_id(frame: &DataFrame) -> Result<Option<String>, FeatureError> {
    Ok(frame.column("account_id")?.str()?.get(0).map(str::to_string))
}

/// A digest of the account files' names, sizes and modification times.
fn listing_digest(dir: &Path) -> Result<String, FeatureError> {
    let mut hasher = sha2::Sha256::new();
    for (name, _) in account_files(dir)? {
        let path = dir.join(&name);
        let meta = std::fs::metadata(&path).map_err(io(&path))?;
        let modified = meta.modified().ok().and_then(|t| t.duration_since(UNIX_EPOCH).ok()).map_or(0, |d| d.as_nanos());
        hasher.update(format!("{name}\t{}\t{modified}\n", meta.len()));
    }
    Ok(hex(&hasher.finalize()[..16]))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn is_plain(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_'
}

/// Account ids come from the data (`@brand`, `ACME Inc.`): any byte outside `[A-Za-z0-9_-]` is
/// percent-encoded, so every id is a safe, distinct, reversible file name (if short enough).
fn encode_name(id: &str) -> String {
    id.bytes()
        .map(|b| match is_plain(b) {
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

    #[test]
    fn every_account_id_up_to_the_limit_gets_a_valid_distinct_name() {
        let long = "a".repeat(MAX_ACCOUNT_ID_BYTES - 1);
        let ids = [
            ".".repeat(MAX_ACCOUNT_ID_BYTES),
            "é".repeat(MAX_ACCOUNT_ID_BYTES / 2),
            ".".repeat(90),
            // Encodings of 247 and 248 bytes: the longest encoded name (255 bytes), then hashed.
            format!("a{}", "/".repeat(82)),
            format!("ab{}", "/".repeat(82)),
            format!("{}{}", ".".repeat(MAX_ACCOUNT_ID_BYTES - 1), "a"),
            format!("{}{}", ".".repeat(MAX_ACCOUNT_ID_BYTES - 1), "b"),
            format!("{long}."),
            format!("{long}/"),
            "%7E".repeat(60),
            "\0".into(),
        ];
        let names: Vec<String> = ids.iter().map(|id| account_file_name(id).unwrap()).collect();
        for (id, name) in ids.iter().zip(&names) {
            assert!(name.len() <= MAX_FILE_NAME_BYTES && !name.starts_with('.') && !name.contains('/'), "{name}");
            match account_file(name) {
                Some(AccountFile::Encoded(decoded)) => assert_eq!(&decoded, id),
                Some(AccountFile::Hashed) => assert!(encode_name(id).len() + EXTENSION.len() > MAX_FILE_NAME_BYTES),
                None => panic!("{name} is not read back as an account file"),
            }
        }
        assert!(names[3].len() == MAX_FILE_NAME_BYTES && names[4].starts_with(HASHED_PREFIX), "{names:?}");
        assert_eq!(names.iter().collect::<std::collections::BTreeSet<_>>().len(), names.len(), "{names:?}");
        for bad in [String::new(), "x".repeat(MAX_ACCOUNT_ID_BYTES + 1)] {
            assert!(matches!(account_file_name(&bad), Err(FeatureError::InvalidName(_))));
        }
    }

    #[test]
    fn the_store_s_own_files_are_never_account_files() {
        for name in
            [LOCK, VERSION, JOURNAL, ".stage-7-0", ".journal.tmp-7-1", "a.tmp-7", "a.tmp-7-2", "~sha256-zz.parquet"]
        {
            assert!(account_file(name).is_none(), "{name}");
        }
        assert!(is_stray(".stage-7-0.tmp-7-3") && is_stray("a.tmp-7") && !is_stray("a.parquet") && !is_stray(VERSION));
    }

    #[test]
    fn a_journal_names_only_staging_and_account_files() {
        let path = Path::new(".journal");
        let renames = parse_journal(".stage-1-0\ta.parquet\n.stage-1-1\t%2E.parquet\n", path).unwrap();
        assert_eq!(renames[1], (".stage-1-1".to_string(), "%2E.parquet".to_string()));
        for bad in [
            ".stage-1-0 a.parquet",
            "x\ta.parquet",
            ".stage-1-0\t../a.parquet",
            ".stage-/../x\ta.parquet",
            ".stage-1\t.lock",
        ] {
            let error = parse_journal(&format!(".stage-1-0\tb.parquet\n{bad}\n"), path).unwrap_err();
            assert!(matches!(error, FeatureError::WrongFormat { row: Some(2), .. }), "{bad}: {error}");
        }
    }
}
