//! Exact and near-duplicate removal, and keeping validation text out of training.

use std::collections::HashSet;

use crate::{Example, normalize};

/// What de-duplication removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DedupReport {
    pub exact: usize,
    pub near: usize,
    /// Texts whose normalised form is empty (nothing left to learn from).
    pub empty: usize,
}

/// Keeps the first of each normalised text; counts exact copies and near-copies separately.
pub fn dedup(examples: Vec<Example>) -> (Vec<Example>, DedupReport) {
    let mut report = DedupReport::default();
    let (mut exact_seen, mut near_seen) = (HashSet::new(), HashSet::new());
    let mut kept = Vec::with_capacity(examples.len());
    for example in examples {
        let key = normalize(&example.text);
        if key.is_empty() {
            report.empty += 1;
        } else if !exact_seen.insert(example.text.clone()) {
            report.exact += 1;
        } else if !near_seen.insert(key) {
            report.near += 1;
        } else {
            kept.push(example);
        }
    }
    (kept, report)
}

/// Drops every training example whose normalised text also occurs in `validation`; returns how many.
pub fn drop_overlap(train: &mut Vec<Example>, validation: &[Example]) -> usize {
    let held: HashSet<String> = validation.iter().map(|e| normalize(&e.text)).collect();
    let before = train.len();
    train.retain(|e| !held.contains(&normalize(&e.text)));
    before - train.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ex(text: &str) -> Example {
        Example { text: text.into(), label: 0 }
    }

    #[test]
    fn exact_and_near_copies_are_counted_apart() {
        let (kept, report) =
            dedup(vec![ex("Great game!"), ex("Great game!"), ex("great game @bob"), ex("..."), ex("Other")]);
        assert_eq!(kept, vec![ex("Great game!"), ex("Other")]);
        assert_eq!(report, DedupReport { exact: 1, near: 1, empty: 1 });
    }

    #[test]
    fn training_loses_near_copies_of_validation() {
        let mut train = vec![ex("See you at the show http://x.co"), ex("unrelated")];
        assert_eq!(drop_overlap(&mut train, &[ex("@fan see you at the SHOW!")]), 1);
        assert_eq!(train, vec![ex("unrelated")]);
    }
}
