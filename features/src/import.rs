//! One entry point for every history format, for the CLI and the API alike. Every format is
//! read within the caller's [`ImportLimits`], so a hostile file costs at most what they allow.

use std::str::FromStr;

use eiq_datasets::{ImportError, ImportLimits, Imported, NotThisFormat, QUOTE_CHARS, excerpt};

use crate::FeatureError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HistoryFormat {
    Csv,
    JsonLines,
    Parquet,
    /// X API v1.1 statuses (an array, or a search answer).
    XApi,
    /// The X account archive's `tweets.js`.
    XArchive,
}

impl HistoryFormat {
    pub const NAMES: &str = "csv, jsonl, parquet, x-api, x-archive";

    pub fn name(self) -> &'static str {
        match self {
            HistoryFormat::Csv => "csv",
            HistoryFormat::JsonLines => "jsonl",
            HistoryFormat::Parquet => "parquet",
            HistoryFormat::XApi => "x-api",
            HistoryFormat::XArchive => "x-archive",
        }
    }

    /// From a file name: `.csv`, `.jsonl`/`.ndjson`, `.parquet`, `.json` (X API), `.js` (archive).
    pub fn from_path(path: &std::path::Path) -> Option<Self> {
        match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "csv" => Some(HistoryFormat::Csv),
            "jsonl" | "ndjson" => Some(HistoryFormat::JsonLines),
            "parquet" => Some(HistoryFormat::Parquet),
            "json" => Some(HistoryFormat::XApi),
            "js" => Some(HistoryFormat::XArchive),
            _ => None,
        }
    }
}

impl FromStr for HistoryFormat {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, String> {
        [
            HistoryFormat::Csv,
            HistoryFormat::JsonLines,
            HistoryFormat::Parquet,
            HistoryFormat::XApi,
            HistoryFormat::XArchive,
        ]
        .into_iter()
        .find(|f| f.name() == name)
        .ok_or_else(|| format!("unknown format `{name}` (one of {})", Self::NAMES))
    }
}

#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// Fail on the first bad row instead of reporting it and going on.
    pub strict: bool,
    /// The account an archive belongs to (the archive names it elsewhere); required for x-archive.
    pub account_id: Option<String>,
    /// The IANA timezone of posts whose source does not say (X gives none).
    pub timezone: Option<String>,
    /// How big a file may be, in rows, columns and decoded bytes.
    pub limits: ImportLimits,
}

pub fn import_bytes(bytes: &[u8], format: HistoryFormat, options: &ImportOptions) -> Result<Imported, FeatureError> {
    let wrong = |error: ImportError| match error {
        ImportError::NotThisFormat(NotThisFormat(reason)) => {
            FeatureError::WrongFormat { format: format.name(), row: None, reason }
        }
        ImportError::TooLarge(limit) => FeatureError::TooLarge(limit),
    };
    let limits = &options.limits;
    let utf8 = || {
        std::str::from_utf8(bytes).map_err(|e| FeatureError::WrongFormat {
            format: format.name(),
            row: None,
            reason: format!("not UTF-8 text: {e}"),
        })
    };
    if let Some(zone) = &options.timezone {
        chrono_tz::Tz::from_str(zone).map_err(|_| {
            FeatureError::InvalidName(format!("`{}` is not an IANA timezone", excerpt(zone, QUOTE_CHARS)))
        })?;
    }
    let mut imported = match format {
        HistoryFormat::Csv => eiq_datasets::import_csv(bytes, limits).map_err(wrong)?,
        HistoryFormat::JsonLines => eiq_datasets::import_json_lines(bytes, limits).map_err(wrong)?,
        HistoryFormat::Parquet => crate::schema::posts_from_frame(&crate::io::parquet_from_bytes(bytes, limits)?)?,
        HistoryFormat::XApi => eiq_datasets::import_x_statuses(utf8()?, limits).map_err(wrong)?,
        HistoryFormat::XArchive => {
            let account = options.account_id.as_deref().ok_or_else(|| {
                FeatureError::InvalidName(
                    "an x-archive import needs the account id (the archive names it elsewhere)".into(),
                )
            })?;
            eiq_datasets::import_x_archive(utf8()?, account, limits).map_err(wrong)?
        }
    };
    if options.strict
        && let Some(first) = imported.errors.first()
    {
        return Err(FeatureError::BadRow(first.clone()));
    }
    // Nothing readable at all: the file is not this format, and its first row says why.
    if imported.posts.is_empty()
        && let Some(first) = imported.errors.first()
    {
        return Err(FeatureError::WrongFormat {
            format: format.name(),
            row: Some(first.row),
            reason: first.reason.clone(),
        });
    }
    if let Some(zone) = &options.timezone {
        for post in imported.posts.iter_mut().filter(|p| p.timezone.is_none()) {
            post.timezone = Some(zone.clone());
        }
    }
    Ok(imported)
}
