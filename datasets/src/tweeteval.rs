//! TweetEval task folders: `mapping.txt` plus aligned text and label files per split.

use std::path::Path;

use crate::error::read;
use crate::{DatasetError, Example, LabeledSet};

/// The splits this repository holds. Test splits are held out and deliberately absent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    Train,
    Validation,
}

impl Split {
    fn prefix(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Validation => "val",
        }
    }
}

/// Loads `dir` (e.g. `datasets/tweeteval/offensive`) for `split`.
pub fn load_tweeteval(dir: &Path, split: Split) -> Result<LabeledSet, DatasetError> {
    let labels = read_mapping(&dir.join("mapping.txt"))?;
    let texts_path = dir.join(format!("{}_text.txt", split.prefix()));
    let labels_path = dir.join(format!("{}_labels.txt", split.prefix()));
    let (texts, ids) = (read(&texts_path)?, read(&labels_path)?);
    let (texts, ids): (Vec<&str>, Vec<&str>) = (texts.lines().collect(), ids.lines().collect());
    if texts.len() != ids.len() {
        return Err(DatasetError::Misaligned {
            texts: texts_path,
            text_lines: texts.len(),
            labels: labels_path,
            label_lines: ids.len(),
        });
    }
    let examples = texts
        .iter()
        .zip(&ids)
        .enumerate()
        .map(|(line, (text, id))| {
            let label =
                id.trim().parse::<usize>().ok().filter(|&l| l < labels.len()).ok_or_else(|| DatasetError::Format {
                    path: labels_path.clone(),
                    line: line + 1,
                    reason: format!("label `{id}` is not in mapping.txt"),
                })?;
            Ok(Example { text: text.trim().to_string(), label })
        })
        .collect::<Result<_, DatasetError>>()?;
    Ok(LabeledSet { labels, examples })
}

/// `id \t name` lines, ids 0..n in order.
fn read_mapping(path: &Path) -> Result<Vec<String>, DatasetError> {
    let text = read(path)?;
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .enumerate()
        .map(|(expected, line)| {
            let format = |reason: String| DatasetError::Format { path: path.to_path_buf(), line: expected + 1, reason };
            let (id, name) = line.split_once('\t').ok_or_else(|| format("expected `id<TAB>name`".into()))?;
            if id.trim().parse::<usize>().ok() != Some(expected) {
                return Err(format(format!("expected id {expected}, found `{id}`")));
            }
            Ok(name.trim().to_string())
        })
        .collect()
}
