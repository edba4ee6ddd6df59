//! Every canonical format carries the same posts, a bad file is the wrong format with its first
//! offending row, and stored history merges by post id.

use eiq_datasets::{SyntheticConfig, generate};
use eiq_features::{FeatureError, HistoryFormat, HistoryStore, ImportOptions, import_bytes, posts_to_frame};

#[test]
fn csv_and_parquet_round_trip_the_same_posts() {
    let posts = generate(&SyntheticConfig { accounts: 3, posts_per_account: 40, ..Default::default() }).posts;
    let dir = tempfile::tempdir().unwrap();
    let (csv, parquet) = (dir.path().join("posts.csv"), dir.path().join("posts.parquet"));
    eiq_features::io::write_csv(&mut posts_to_frame(&posts).unwrap(), &csv).unwrap();
    eiq_features::io::write_parquet(&mut posts_to_frame(&posts).unwrap(), &parquet).unwrap();
    let options = ImportOptions::default();
    for (path, format) in [(&csv, HistoryFormat::Csv), (&parquet, HistoryFormat::Parquet)] {
        let imported = import_bytes(&std::fs::read(path).unwrap(), format, &options).unwrap();
        assert!(imported.errors.is_empty(), "{format:?}: {:?}", imported.errors);
        assert_eq!(imported.posts, posts, "{format:?}");
        assert_eq!(HistoryFormat::from_path(path), Some(format));
    }
}

#[test]
fn a_file_in_the_wrong_format_names_its_first_offending_row() {
    let options = ImportOptions::default();
    let error = import_bytes(b"not a parquet file", HistoryFormat::Parquet, &options).unwrap_err();
    assert!(matches!(error, FeatureError::WrongFormat { format: "parquet", .. }), "{error}");
    let csv = b"post_id,account_id,platform,created_at,text\n1,a,x,yesterday,hi\n2,a,x,also bad,hi\n";
    let error = import_bytes(csv, HistoryFormat::Csv, &options).unwrap_err();
    assert!(error.to_string().contains("row 1") && error.to_string().contains("yesterday"), "{error}");
    // One good row: the file imports, and the bad row is reported, not dropped silently.
    let csv = b"post_id,account_id,platform,created_at,text\n1,a,x,yesterday,hi\n2,a,x,1709539200,hi\n";
    let imported = import_bytes(csv, HistoryFormat::Csv, &options).unwrap();
    assert_eq!((imported.posts.len(), imported.errors[0].row), (1, 1));
    let strict = ImportOptions { strict: true, ..ImportOptions::default() };
    let error = import_bytes(csv, HistoryFormat::Csv, &strict).unwrap_err();
    assert!(matches!(error, FeatureError::BadRow(ref row) if row.row == 1), "{error}");
    let error = import_bytes(b"\xff\xfe", HistoryFormat::XApi, &options).unwrap_err();
    assert!(error.to_string().contains("UTF-8"), "{error}");
    let zone = ImportOptions { timezone: Some("Moon/Base".into()), ..ImportOptions::default() };
    assert!(import_bytes(csv, HistoryFormat::Csv, &zone).is_err());
}

#[test]
fn parquet_from_another_tool_is_checked_row_by_row() {
    use polars::prelude::*;
    let mut frame = df!(
        "post_id" => ["1", "2"],
        "account_id" => ["a", "a"],
        "platform" => ["x", "x"],
        "created_at" => [1_709_539_200i64, 1_709_539_260],
        "text" => ["hi", "there"],
        "timezone" => [Some("Europe/Paris"), Some("Atlantis/Capital")],
        "likes" => [Some(3i64), None],
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("other.parquet");
    eiq_features::io::write_parquet(&mut frame, &path).unwrap();
    let imported =
        import_bytes(&std::fs::read(&path).unwrap(), HistoryFormat::Parquet, &ImportOptions::default()).unwrap();
    assert_eq!(imported.posts.len(), 1);
    assert_eq!(imported.errors[0].row, 2);
    assert!(imported.errors[0].reason.contains("Atlantis/Capital"));
    let mut missing = df!("post_id" => ["1"], "text" => ["hi"]).unwrap();
    eiq_features::io::write_parquet(&mut missing, &path).unwrap();
    let error =
        import_bytes(&std::fs::read(&path).unwrap(), HistoryFormat::Parquet, &ImportOptions::default()).unwrap_err();
    assert!(error.to_string().contains("account_id"), "{error}");
}

#[test]
fn the_store_merges_by_post_id_per_tenant_and_account() {
    let dir = tempfile::tempdir().unwrap();
    let store = HistoryStore::new(dir.path());
    let mut posts = generate(&SyntheticConfig { accounts: 2, posts_per_account: 5, ..Default::default() }).posts;
    let merges = store.merge("acme", posts.clone()).unwrap();
    assert_eq!(merges.iter().map(|m| (m.added, m.updated, m.total)).collect::<Vec<_>>(), [(5, 0, 5), (5, 0, 5)]);
    posts[0].likes = Some(1_000);
    let merges = store.merge("acme", posts[..2].to_vec()).unwrap();
    assert_eq!((merges[0].added, merges[0].updated, merges[0].total), (0, 2, 5));
    let account = &posts[0].account_id;
    let stored = eiq_features::stored_posts(&store.load_account("acme", account).unwrap().unwrap()).unwrap();
    assert_eq!(stored.iter().find(|p| p.post_id == posts[0].post_id).unwrap().likes, Some(1_000));
    assert_eq!(store.accounts("acme").unwrap().len(), 2);
    assert!(store.load_account("other", account).unwrap().is_none(), "tenants are apart");
    assert_eq!(store.load_tenant("acme").unwrap().height(), 10);
    let before = store.fingerprint("acme").unwrap();
    store.merge("acme", posts[..1].to_vec()).unwrap();
    assert_ne!(store.fingerprint("acme").unwrap(), before, "a rewrite changes the fingerprint");
    assert!(store.merge("../etc", posts).is_err());
}
