//! rtweet's recorded X API v1.1 responses (vcr cassettes, gzipped or not) as one post history:
//! the real-data fixtures the engagement forecaster is evaluated on.

use std::io::Read;
use std::path::Path;

use serde_json::Value;

use crate::DatasetError;
use crate::limits::ImportLimits;
use crate::posts::{Imported, import_x_statuses, keep_latest_copy};

/// Every status in every cassette under `dir`. A post recorded several times keeps its latest
/// counts; a row error names its cassette.
pub fn load_rtweet_fixtures(dir: &Path) -> Result<Imported, DatasetError> {
    let io = |path: &Path, source| DatasetError::Io { path: path.to_path_buf(), source };
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| io(dir, e))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().ends_with(".json") || p.to_string_lossy().ends_with(".json.gz"))
        .collect();
    paths.sort();
    let mut all = Imported::default();
    for path in paths {
        for body in cassette_bodies(&path)? {
            // Some recorded calls answer with users or errors: not statuses, so not posts.
            let Ok(imported) = import_x_statuses(&body, &ImportLimits::default()) else { continue };
            all.skipped_reposts += imported.skipped_reposts;
            all.posts.extend(imported.posts);
            let file = path.file_name().unwrap_or_default().to_string_lossy().into_owned();
            // Errors past the kept ones were only counted.
            all.error_count += imported.error_count - imported.errors.len();
            for error in imported.errors {
                all.reject(error.row, format!("{file}: {}", error.reason));
            }
        }
    }
    keep_latest_copy(&mut all.posts);
    Ok(all)
}

fn cassette_bodies(path: &Path) -> Result<Vec<String>, DatasetError> {
    let bytes = std::fs::read(path).map_err(|source| DatasetError::Io { path: path.to_path_buf(), source })?;
    let format = |reason: String| DatasetError::Format { path: path.to_path_buf(), line: 0, reason };
    let text = if path.extension().is_some_and(|e| e == "gz") {
        let mut text = String::new();
        flate2::read::GzDecoder::new(&bytes[..])
            .read_to_string(&mut text)
            .map_err(|e| format(format!("not gzip: {e}")))?;
        text
    } else {
        String::from_utf8(bytes).map_err(|e| format(e.to_string()))?
    };
    let cassette: Value = serde_json::from_str(&text).map_err(|e| format(e.to_string()))?;
    let interactions = cassette["http_interactions"].as_array().ok_or_else(|| format("no http_interactions".into()))?;
    Ok(interactions.iter().filter_map(|i| i["response"]["body"]["string"].as_str().map(String::from)).collect())
}
