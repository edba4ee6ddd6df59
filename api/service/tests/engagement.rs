//! The history and forecast services on a synthetic history in a temporary folder: imports,
//! generations, best times and forecasts through the real code path, no server and no model fetch.

use std::sync::Arc;

use eiq_datasets::{SyntheticConfig, generate};
use eiq_features::{HistoryFormat, ImportOptions, posts_to_frame};
use eiq_service::engagement::{
    self, BestTimesQuery, BlackoutWindow, DraftRequest, ForecastService, HistoryService, ImportRequest, ImportSettings,
    ImportSource,
};
use eiq_service::tenancy::{Principal, TenantId};
use eiq_service::{Hint, Resource, ServiceError};

struct Fixture {
    history: HistoryService,
    forecast: ForecastService,
    dir: tempfile::TempDir,
}

fn fixture(import_root: bool) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("imports");
    std::fs::create_dir_all(&root).unwrap();
    let settings = ImportSettings {
        root: import_root.then_some(root),
        max_bytes: 64 << 20,
        max_rows: 1_000_000,
        max_concurrent: 2,
        plans: eiq_service::tenants::PlanBook::builtin(),
    };
    // No post index here: imports are heard by nobody.
    let engagement = engagement::open(&dir.path().join("data"), settings, std::sync::Arc::new(|_: &_| {}));
    Fixture { history: engagement.history, forecast: engagement.forecast, dir }
}

fn principal(tenant: &str) -> Principal {
    Principal::from_tenant_header(Some(tenant.as_bytes())).unwrap()
}

fn history_csv(accounts: usize, posts_per_account: usize, seed: u64) -> Vec<u8> {
    let posts = generate(&SyntheticConfig { accounts, posts_per_account, seed, ..Default::default() }).posts;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("history.csv");
    eiq_features::io::write_csv(&mut posts_to_frame(&posts).unwrap(), &path).unwrap();
    std::fs::read(&path).unwrap()
}

async fn import(f: &Fixture, tenant: &str, source: ImportSource) -> Result<engagement::ImportReport, ServiceError> {
    let slot = f.history.import_slot().await?;
    let request = ImportRequest { slot, format: Some(HistoryFormat::Csv), options: ImportOptions::default(), source };
    f.history.import(&principal(tenant), request).await
}

fn draft(account_id: &str, candidate_times: Vec<i64>) -> DraftRequest {
    DraftRequest {
        account_id: account_id.into(),
        text: "Big news today: our spring collection is here! #launch".into(),
        platform: None,
        media: eiq_datasets::MediaType::Photo,
        candidate_times,
        now: 1_750_000_000,
    }
}

#[tokio::test]
async fn a_tenant_without_history_is_not_found_with_a_hint_to_import() {
    let f = fixture(false);
    let err = f.forecast.best_times(&principal("nobody"), "acme", BestTimesQuery::default()).await.unwrap_err();
    match err {
        ServiceError::NotFound { resource, hint, .. } => {
            assert_eq!(resource, Resource::History(TenantId::parse("nobody").unwrap()));
            assert_eq!(hint, Some(Hint::ImportHistory));
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn imported_history_answers_best_times_and_forecasts_from_one_generation() {
    let f = fixture(false);
    let report = import(&f, "acme", ImportSource::Bytes(history_csv(6, 150, 7))).await.unwrap();
    assert_eq!(report.imported, 900);
    assert_eq!(report.accounts.len(), 6);
    let account = report.accounts[0].account_id.clone();
    let tenant = principal("acme");

    let query = BestTimesQuery { top_k: Some(3), ..BestTimesQuery::default() };
    let best = f.forecast.best_times(&tenant, &account, query).await.unwrap();
    assert_eq!(best.top.len(), 3);
    assert!(best.top.windows(2).all(|w| w[0].expected_engagement >= w[1].expected_engagement), "{:?}", best.top);

    let times = vec![1_750_003_600, 1_750_050_000, 1_750_100_000];
    let first = f.forecast.forecast(&tenant, draft(&account, times.clone())).await.unwrap();
    assert_eq!(first.forecasts.len(), 3);
    assert_eq!(first.forecasts.iter().map(|t| t.at).collect::<Vec<_>>(), times);
    let top = first.forecasts.iter().map(|t| t.forecast.log_engagement).fold(f64::MIN, f64::max);
    assert_eq!(first.forecasts[first.best].forecast.log_engagement, top);
    assert!(first.model.evaluation.posts > 0);
    // The same generation answers again from memory: the very same model.
    let again = f.forecast.forecast(&tenant, draft(&account, times)).await.unwrap();
    assert!(Arc::ptr_eq(&first.model, &again.model));

    // Another tenant sees none of it.
    let other = f.forecast.forecast(&principal("other"), draft(&account, Vec::new())).await.err().unwrap();
    assert!(matches!(other, ServiceError::NotFound { resource: Resource::History(_), .. }), "{other:?}");
}

#[tokio::test]
async fn a_new_import_starts_a_new_generation() {
    let f = fixture(false);
    let report = import(&f, "acme", ImportSource::Bytes(history_csv(4, 150, 1))).await.unwrap();
    let account = report.accounts[0].account_id.clone();
    let tenant = principal("acme");
    let before = f.forecast.forecast(&tenant, draft(&account, vec![1_750_003_600])).await.unwrap();
    import(&f, "acme", ImportSource::Bytes(history_csv(4, 150, 2))).await.unwrap();
    let after = f.forecast.forecast(&tenant, draft(&account, vec![1_750_003_600])).await.unwrap();
    // The store's change token moved, so the answer comes from a model of the new history.
    assert!(!Arc::ptr_eq(&before.model, &after.model));
}

#[tokio::test]
async fn too_little_history_is_a_failed_precondition_not_a_server_error() {
    let f = fixture(false);
    let report = import(&f, "tiny", ImportSource::Bytes(history_csv(1, 5, 3))).await.unwrap();
    let account = report.accounts[0].account_id.clone();
    let err = f.forecast.forecast(&principal("tiny"), draft(&account, vec![1_750_003_600])).await.err().unwrap();
    assert!(matches!(err, ServiceError::FailedPrecondition { .. }), "{err:?}");
}

#[tokio::test]
async fn invalid_questions_name_the_offending_field() {
    let f = fixture(false);
    let report = import(&f, "acme", ImportSource::Bytes(history_csv(2, 150, 4))).await.unwrap();
    let account = report.accounts[0].account_id.clone();
    let tenant = principal("acme");
    let param = |err: ServiceError| err.param().map(str::to_string);

    let zero = BestTimesQuery { top_k: Some(0), ..BestTimesQuery::default() };
    assert_eq!(param(f.forecast.best_times(&tenant, &account, zero).await.unwrap_err()).as_deref(), Some("top_k"));
    let blackout = BlackoutWindow { day: Some("someday".into()), start: "09:00".into(), end: "10:00".into() };
    let bad_day = BestTimesQuery { blackouts: vec![blackout], ..BestTimesQuery::default() };
    let err = f.forecast.best_times(&tenant, &account, bad_day).await.unwrap_err();
    assert_eq!(param(err).as_deref(), Some("blackouts[0]"));
    let err = f.forecast.forecast(&tenant, draft(&account, vec![1_750_003_600, 1])).await.err().unwrap();
    assert_eq!(param(err).as_deref(), Some("candidate_times[1]"));
    let err = f.forecast.forecast(&tenant, draft("", Vec::new())).await.err().unwrap();
    assert_eq!(param(err).as_deref(), Some("account_id"));

    let err = f.forecast.best_times(&tenant, "no-such-account", BestTimesQuery::default()).await.unwrap_err();
    assert!(
        matches!(&err, ServiceError::NotFound { resource: Resource::Account(a), .. } if a == "no-such-account"),
        "{err:?}"
    );
}

#[tokio::test]
async fn server_paths_are_refused_while_imports_from_the_server_are_off() {
    let f = fixture(false);
    let err = import(&f, "acme", ImportSource::Path("history.csv".into())).await.unwrap_err();
    match err {
        ServiceError::Forbidden { hint: Some(Hint::ServerSetting { flag, .. }), .. } => {
            assert_eq!(flag, "--import-root")
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn server_paths_under_the_root_import_and_others_are_not_found() {
    let f = fixture(true);
    std::fs::write(f.dir.path().join("imports/history.csv"), history_csv(2, 20, 5)).unwrap();
    let report = import(&f, "acme", ImportSource::Path("history.csv".into())).await.unwrap();
    assert_eq!(report.imported, 40);
    for outside in ["../data", "/etc/passwd", "missing.csv"] {
        let err = import(&f, "acme", ImportSource::Path(outside.into())).await.unwrap_err();
        assert!(matches!(err, ServiceError::NotFound { resource: Resource::ImportFile, .. }), "{outside}: {err:?}");
    }
}

#[test]
fn an_import_is_a_body_or_a_server_path_never_both_or_neither() {
    assert!(matches!(ImportSource::from_parts(b"x".to_vec(), None), Ok(ImportSource::Bytes(_))));
    assert!(matches!(ImportSource::from_parts(Vec::new(), Some("a.csv".into())), Ok(ImportSource::Path(_))));
    assert!(ImportSource::from_parts(b"x".to_vec(), Some("a.csv".into())).err().unwrap().is_invalid_input());
    assert!(ImportSource::from_parts(Vec::new(), None).err().unwrap().is_invalid_input());
    // An empty path is an absent one (proto3 strings).
    assert!(ImportSource::from_parts(Vec::new(), Some(String::new())).is_err());
}
