//! `eiq models list | fetch | verify`.

use eiq_models::{FetchOptions, FetchOutcome, Manifest, fetch_with_dependencies};

use crate::config::{CatalogueArgs, FetchArgs, VerifyArgs};

pub fn list(args: &CatalogueArgs) -> Result<String, eiq_models::CatalogueError> {
    let catalogue = args.catalogue()?;
    let cache = args.cache();
    let mut out = format!(
        "{:<24} {:<14} {:<7} {:<8} {:<12} {:<34} {}\n",
        "ID", "TASK", "BACKEND", "CACHED", "LICENCE", "SOURCE", "UPSTREAM"
    );
    for m in catalogue.iter() {
        let cached = if cache.is_present(m) { "yes" } else { "no" };
        out.push_str(&format!(
            "{:<24} {:<14} {:<7} {:<8} {:<12} {:<34} {}\n",
            m.id,
            m.task.as_str(),
            m.backend.as_str(),
            cached,
            m.licence,
            m.source_label(),
            m.upstream
        ));
    }
    out.push_str(&format!("cache: {}\n", cache.root().display()));
    Ok(out)
}

pub fn fetch(args: &FetchArgs) -> Result<String, eiq_models::CatalogueError> {
    let catalogue = args.catalogue.catalogue()?;
    let cache = args.catalogue.cache();
    let options = FetchOptions { python: args.python.clone(), npm: args.npm.clone(), force: args.force };
    let ids = selected(&args.ids, catalogue.iter());
    let mut out = String::new();
    let mut done: Vec<String> = Vec::new();
    for id in ids {
        for (fetched, outcome) in fetch_with_dependencies(&catalogue, &cache, &id, &options)? {
            if done.contains(&fetched) {
                continue;
            }
            let line = match outcome {
                FetchOutcome::AlreadyPresent(dir) => {
                    format!("{fetched}: already cached and verified ({})", dir.display())
                }
                FetchOutcome::Fetched(dir) => {
                    format!("{fetched}: fetched and verified ({})", dir.display())
                }
                FetchOutcome::InPlace(dir) => {
                    format!("{fetched}: verified in place ({})", dir.display())
                }
            };
            out.push_str(&line);
            out.push('\n');
            done.push(fetched);
        }
    }
    Ok(out)
}

pub fn verify(args: &VerifyArgs) -> Result<String, eiq_models::CatalogueError> {
    let catalogue = args.catalogue.catalogue()?;
    let cache = args.catalogue.cache();
    let mut out = String::new();
    for id in selected(&args.ids, catalogue.iter()) {
        let dir = cache.verify(catalogue.get(&id)?)?;
        out.push_str(&format!("{id}: every file matches its sha256 ({})\n", dir.display()));
    }
    Ok(out)
}

/// The named ids, or every catalogue entry when none is named.
fn selected<'a>(ids: &[String], all: impl Iterator<Item = &'a Manifest>) -> Vec<String> {
    if ids.is_empty() { all.map(|m| m.id.clone()).collect() } else { ids.to_vec() }
}
