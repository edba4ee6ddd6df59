//! SemEval-2017 Task 4A message-polarity files: `id \t label \t text`, one tweet per line.

use std::path::Path;

use crate::error::read;
use crate::{DatasetError, Example, LabeledSet};

/// TweetEval's sentiment mapping, so SemEval training and TweetEval validation share label ids.
const LABELS: [&str; 3] = ["negative", "neutral", "positive"];

/// Every `*.txt` of `dir`, in file-name order, as one set labelled like TweetEval sentiment.
pub fn load_semeval_dir(dir: &Path) -> Result<LabeledSet, DatasetError> {
    let entries = std::fs::read_dir(dir).map_err(|source| DatasetError::Io { path: dir.to_path_buf(), source })?;
    let mut paths: Vec<_> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
    paths.retain(|p| p.extension().is_some_and(|ext| ext == "txt"));
    paths.sort();
    let mut examples = Vec::new();
    for path in paths {
        // (label, raw text) per record; a quoted text may run over several lines.
        let mut records: Vec<(usize, String)> = Vec::new();
        for (index, line) in read(&path)?.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let format =
                |reason: &str| DatasetError::Format { path: path.clone(), line: index + 1, reason: reason.into() };
            let mut fields = line.splitn(3, '\t');
            match (fields.next(), fields.next(), fields.next()) {
                (Some(id), Some(label), Some(text)) if id.chars().all(|c| c.is_ascii_digit()) => {
                    let label =
                        LABELS.iter().position(|l| *l == label.trim()).ok_or_else(|| format("unknown label"))?;
                    records.push((label, text.to_string()));
                }
                _ => match records.last_mut() {
                    Some((_, text)) if text.trim_start().starts_with('"') => text.push_str(&format!("\n{line}")),
                    _ => return Err(format("expected `id<TAB>label<TAB>text`")),
                },
            }
        }
        examples.extend(records.into_iter().map(|(label, text)| Example { text: clean(&text), label }));
    }
    Ok(LabeledSet { labels: LABELS.map(String::from).to_vec(), examples })
}

/// Decodes `\uXXXX` escapes (surrogate pairs included) and HTML entities, and undoes the CSV-style
/// quoting some lines carry (wrapping quotes, doubled inner quotes).
fn clean(text: &str) -> String {
    let unescaped = unescape(text.trim());
    let quoted = unescaped.starts_with('"');
    let trimmed = unescaped.strip_prefix('"').unwrap_or(&unescaped);
    let trimmed = trimmed.strip_suffix('"').unwrap_or(trimmed).trim();
    let unquoted = if quoted { trimmed.replace("\"\"", "\"") } else { trimmed.to_string() };
    unquoted.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&amp;", "&")
}

fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut units: Vec<u16> = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let escape =
            rest.strip_prefix("\\u").and_then(|r| r.get(..4)).and_then(|hex| u16::from_str_radix(hex, 16).ok());
        match escape {
            Some(unit) => {
                units.push(unit);
                rest = &rest[6..];
            }
            None => {
                out.push_str(&String::from_utf16_lossy(&units));
                units.clear();
                let c = rest.chars().next().expect("rest is not empty");
                out.push(c);
                rest = &rest[c.len_utf8()..];
            }
        }
    }
    out.push_str(&String::from_utf16_lossy(&units));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_wrapping_quotes_are_undone() {
        assert_eq!(clean(r#""Plus\u002c tomorrow\u2019s a busy day""#), "Plus, tomorrow’s a busy day");
        assert_eq!(clean(r"party \ud83c\udf89 time"), "party 🎉 time");
        assert_eq!(clean(r"a lone \ud83c stays visible"), "a lone \u{FFFD} stays visible");
        assert_eq!(clean(r"not an escape: \u00zz"), r"not an escape: \u00zz");
        assert_eq!(clean(r#""808s &amp; Heartbreak"" Album""#), r#"808s & Heartbreak" Album"#);
    }
}
