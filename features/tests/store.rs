//! The history store against hostile account ids, failed writes, crashed writers and other
//! processes (two `HistoryStore`s hold two open lock files, as two processes would).

use std::path::{Path, PathBuf};

use eiq_datasets::{MediaType, Post};
use eiq_features::{FeatureError, HistoryStore, posts_to_frame, stored_posts};

fn post(account: &str, n: usize, likes: u64) -> Post {
    Post {
        post_id: format!("p{n}"),
        account_id: account.to_string(),
        platform: "x".into(),
        created_at: 1_700_000_000 + n as i64 * 3_600,
        timezone: None,
        text: format!("post {n}"),
        media: MediaType::None,
        likes: Some(likes),
        comments: None,
        shares: None,
        impressions: None,
        followers: None,
    }
}

fn posts(accounts: &[&str], range: std::ops::Range<usize>, likes: u64) -> Vec<Post> {
    accounts.iter().flat_map(|account| range.clone().map(move |n| post(account, n, likes))).collect()
}

/// Per account: how many posts, and their likes (what "as before" compares).
fn state(store: &HistoryStore, tenant: &str, accounts: &[&str]) -> Vec<(usize, u64)> {
    accounts
        .iter()
        .map(|account| match store.load_account(tenant, account).unwrap() {
            Some(frame) => {
                let posts = stored_posts(&frame).unwrap();
                (posts.len(), posts.iter().filter_map(|p| p.likes).sum())
            }
            None => (0, 0),
        })
        .collect()
}

fn tenant_dir(data: &Path, tenant: &str) -> PathBuf {
    data.join("history").join(tenant)
}

fn files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    names.sort();
    names
}

#[test]
fn long_and_odd_account_ids_round_trip() {
    let data = tempfile::tempdir().unwrap();
    let store = HistoryStore::new(data.path());
    let ids = [
        ".".repeat(200),
        "é".repeat(100),
        ".".repeat(90),
        // Differ only in the last byte, far past where an encoding stops fitting a file name.
        format!("{}a", "/".repeat(199)),
        format!("{}b", "/".repeat(199)),
        "@brand".to_string(),
    ];
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let merges = store.merge("acme", posts(&refs, 0..3, 1)).unwrap();
    assert_eq!(merges.len(), ids.len());
    let mut sorted = ids.to_vec();
    sorted.sort();
    assert_eq!(store.accounts("acme").unwrap(), sorted);
    for id in &ids {
        let stored = stored_posts(&store.load_account("acme", id).unwrap().unwrap()).unwrap();
        assert!(stored.len() == 3 && stored.iter().all(|p| &p.account_id == id), "{id}");
    }
    assert_eq!(store.load_tenant("acme").unwrap().height(), 3 * ids.len());
    assert!(files(&tenant_dir(data.path(), "acme")).iter().all(|name| name.len() <= 255));

    // A second import of the long ids finds the files again.
    let merges = store.merge("acme", posts(&refs[..2], 2..4, 1)).unwrap();
    assert_eq!(merges.iter().map(|m| (m.added, m.updated, m.total)).collect::<Vec<_>>(), [(1, 1, 4), (1, 1, 4)]);

    // One id over the limit sinks the import before anything is stored.
    let too_long = "x".repeat(201);
    let error = store.merge("acme", posts(&["fresh", too_long.as_str()], 0..1, 1)).unwrap_err();
    assert!(matches!(error, FeatureError::InvalidName(_)), "{error}");
    assert_eq!(store.load_account("acme", "fresh").unwrap().map(|f| f.height()), None);
}

#[test]
fn a_failed_write_leaves_every_account_as_before() {
    let data = tempfile::tempdir().unwrap();
    let store = HistoryStore::new(data.path());
    let accounts = ["a", "b", "c", "d"];
    store.merge("acme", posts(&accounts[..3], 0..3, 1)).unwrap();
    let before = state(&store, "acme", &accounts);
    let version = store.version("acme").unwrap();
    // `d`, the last account written, cannot be: its file's path is a folder.
    let blocked = tenant_dir(data.path(), "acme").join("d.parquet");
    std::fs::create_dir(&blocked).unwrap();
    assert!(store.merge("acme", posts(&accounts, 0..5, 2)).is_err());
    std::fs::remove_dir(&blocked).unwrap();
    assert_eq!(state(&store, "acme", &accounts), before, "a, b and c are untouched");
    assert_eq!(store.version("acme").unwrap(), version);
    assert_eq!(files(&tenant_dir(data.path(), "acme")), [".lock", ".version", "a.parquet", "b.parquet", "c.parquet"]);

    // A file that is not Parquet fails the same way.
    std::fs::write(&blocked, b"not parquet").unwrap();
    assert!(store.merge("acme", posts(&accounts, 0..5, 2)).is_err());
    assert_eq!(state(&store, "acme", &accounts[..3]), &before[..3]);
    std::fs::remove_file(&blocked).unwrap();

    store.merge("acme", posts(&accounts, 0..5, 2)).unwrap();
    assert_eq!(state(&store, "acme", &accounts), [(5, 10); 4]);
}

/// The files a writer that died after its commit point leaves: both accounts staged, the
/// journal written, `a` already renamed into place, and temporary files.
#[test]
fn a_writer_killed_after_committing_is_finished_by_the_next_reader() {
    let data = tempfile::tempdir().unwrap();
    let dir = tenant_dir(data.path(), "acme");
    HistoryStore::new(data.path()).merge("acme", posts(&["a", "b"], 0..3, 1)).unwrap();
    let version = HistoryStore::new(data.path()).version("acme").unwrap();
    for (n, account) in ["a", "b"].into_iter().enumerate() {
        let staged = dir.join(format!(".stage-4242-{n}"));
        eiq_features::io::write_parquet(&mut posts_to_frame(&posts(&[account], 0..5, 2)).unwrap(), &staged).unwrap();
    }
    std::fs::write(dir.join(".journal"), ".stage-4242-0\ta.parquet\n.stage-4242-1\tb.parquet\n").unwrap();
    std::fs::rename(dir.join(".stage-4242-0"), dir.join("a.parquet")).unwrap();
    std::fs::write(dir.join("a.tmp-4242"), b"half a file").unwrap();
    std::fs::write(dir.join(".version.tmp-4242-9"), b"1-").unwrap();

    let store = HistoryStore::new(data.path());
    let tenant = store.load_tenant("acme").unwrap();
    assert_eq!(tenant.height(), 10, "both accounts are new");
    assert_eq!(state(&store, "acme", &["a", "b"]), [(5, 10), (5, 10)]);
    assert_eq!(files(&dir), [".lock", ".version", "a.parquet", "b.parquet"]);
    assert_ne!(store.version("acme").unwrap(), version);
}

/// A writer that died before its commit point: staged files and a journal not yet renamed
/// into place are its only traces, and the next merge or load removes them unused.
#[test]
fn a_writer_killed_before_committing_leaves_every_account_old() {
    let data = tempfile::tempdir().unwrap();
    let dir = tenant_dir(data.path(), "acme");
    let store = HistoryStore::new(data.path());
    store.merge("acme", posts(&["a", "b"], 0..3, 1)).unwrap();
    let leave_traces = || {
        let staged = dir.join(".stage-4242-0");
        eiq_features::io::write_parquet(&mut posts_to_frame(&posts(&["a"], 0..5, 2)).unwrap(), &staged).unwrap();
        std::fs::write(dir.join(".stage-4242-1.tmp-4242-3"), b"half a file").unwrap();
        std::fs::write(dir.join(".journal.tmp-4242-4"), ".stage-4242-0\ta.parquet\n").unwrap();
    };
    leave_traces();
    assert_eq!(HistoryStore::new(data.path()).load_tenant("acme").unwrap().height(), 6);
    assert_eq!(files(&dir), [".lock", ".version", "a.parquet", "b.parquet"]);
    leave_traces();
    store.merge("acme", posts(&["b"], 3..4, 1)).unwrap();
    assert_eq!(state(&store, "acme", &["a", "b"]), [(3, 3), (4, 4)]);
    assert_eq!(files(&dir), [".lock", ".version", "a.parquet", "b.parquet"]);
}

#[test]
fn two_processes_merging_into_one_account_lose_nothing() {
    for round in 0..5 {
        let data = tempfile::tempdir().unwrap();
        let (first, second) = (HistoryStore::new(data.path()), HistoryStore::new(data.path()));
        std::thread::scope(|scope| {
            for (store, start) in [(&first, 0), (&second, 3_000)] {
                scope.spawn(move || {
                    // Three imports each, so the two writers' merges interleave.
                    for chunk in 0..3 {
                        let from = start + chunk * 1_000;
                        store.merge("acme", posts(&["brand"], from..from + 1_000, 1)).unwrap();
                    }
                });
            }
        });
        let stored = stored_posts(&first.load_account("acme", "brand").unwrap().unwrap()).unwrap();
        assert_eq!(stored.len(), 6_000, "round {round}");
        assert_eq!(second.accounts("acme").unwrap(), ["brand"]);
        assert_eq!(files(&tenant_dir(data.path(), "acme")), [".lock", ".version", "brand.parquet"]);
    }
}

#[test]
fn a_reader_never_sees_half_an_import() {
    let data = tempfile::tempdir().unwrap();
    let (writer, reader) = (HistoryStore::new(data.path()), HistoryStore::new(data.path()));
    let done = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| {
        scope.spawn(|| {
            for import in 0..6 {
                writer.merge("acme", posts(&["x", "y"], import * 500..(import + 1) * 500, 1)).unwrap();
            }
            done.store(true, std::sync::atomic::Ordering::SeqCst);
        });
        let mut reads = 0;
        while !done.load(std::sync::atomic::Ordering::SeqCst) || reads == 0 {
            let tenant = stored_posts(&reader.load_tenant("acme").unwrap()).unwrap();
            let x = tenant.iter().filter(|p| p.account_id == "x").count();
            assert_eq!(x * 2, tenant.len(), "x and y are imported together");
            reads += 1;
        }
    });
    assert_eq!(reader.load_tenant("acme").unwrap().height(), 6_000);
}

#[test]
fn another_process_s_import_changes_the_version() {
    let data = tempfile::tempdir().unwrap();
    let (server, cli) = (HistoryStore::new(data.path()), HistoryStore::new(data.path()));
    assert_eq!(server.version("acme").unwrap(), None);
    // Readers of an unknown tenant create nothing.
    assert!(server.load_tenant("acme").unwrap().height() == 0 && server.accounts("acme").unwrap().is_empty());
    assert!(!tenant_dir(data.path(), "acme").exists());
    assert!(server.version("../acme").is_err());

    cli.merge("acme", posts(&["a"], 0..3, 1)).unwrap();
    let version = server.version("acme").unwrap().unwrap();
    cli.merge("acme", posts(&["a"], 0..3, 1)).unwrap();
    assert_ne!(server.version("acme").unwrap().unwrap(), version, "a re-import is a new version");
}

#[test]
fn history_written_before_versions_is_read_and_then_versioned() {
    let data = tempfile::tempdir().unwrap();
    let dir = tenant_dir(data.path(), "acme");
    // What earlier versions wrote: an account file and a temporary file from a killed import.
    let legacy = dir.join("%40brand.parquet");
    eiq_features::io::write_parquet(&mut posts_to_frame(&posts(&["@brand"], 0..3, 1)).unwrap(), &legacy).unwrap();
    std::fs::write(dir.join("%40brand.tmp-77"), b"half a file").unwrap();
    let store = HistoryStore::new(data.path());
    let version = store.version("acme").unwrap().expect("history without a token still has a version");
    assert_eq!(store.accounts("acme").unwrap(), ["@brand"]);
    assert_eq!(files(&dir), ["%40brand.parquet", ".lock"], "the reader removed the dead writer's file");
    store.merge("acme", posts(&["@brand"], 3..4, 1)).unwrap();
    assert_ne!(store.version("acme").unwrap().unwrap(), version);
    assert_eq!(store.load_tenant("acme").unwrap().height(), 4);
}

/// Pruning for retention deletes exactly the posts older than the cut, rewrites the accounts that
/// keep some, removes those left empty, and moves the version on.
#[test]
fn prune_deletes_posts_before_the_cut() {
    let data = tempfile::tempdir().unwrap();
    let store = HistoryStore::new(data.path());
    let mut history = posts(&["a"], 0..10, 1);
    history.extend(posts(&["b"], 0..3, 1));
    store.merge("t", history).unwrap();
    let before = store.version("t").unwrap();
    // Posts 0..5 of `a` and all of `b` are older than post 5.
    let cut = 1_700_000_000 + 5 * 3_600;
    assert_eq!(store.prune("t", cut).unwrap(), 5 + 3);
    assert_eq!(state(&store, "t", &["a", "b"]), [(5, 5), (0, 0)]);
    assert_eq!(store.accounts("t").unwrap(), ["a"]);
    assert_ne!(store.version("t").unwrap(), before);
    assert!(files(&tenant_dir(data.path(), "t")).iter().all(|name| !name.starts_with(".stage") && name != ".journal"));
    // Nothing more to delete, and a tenant without history has nothing either.
    let version = store.version("t").unwrap();
    assert_eq!(store.prune("t", cut).unwrap(), 0);
    assert_eq!(store.version("t").unwrap(), version);
    assert_eq!(store.prune("nobody", cut).unwrap(), 0);
}
