//! A padded, rectangular batch of token sequences: what every backend consumes.

use crate::Tokenized;

/// Row-major `[size, seq_len]` ids, type ids and attention mask, padded with zeros.
#[derive(Debug, Clone)]
pub struct TokenBatch {
    pub size: usize,
    pub seq_len: usize,
    pub ids: Vec<u32>,
    pub type_ids: Vec<u32>,
    pub mask: Vec<u32>,
}

impl TokenBatch {
    /// Pads every sequence to the longest one in `texts`.
    pub fn pad<'a>(texts: impl IntoIterator<Item = &'a Tokenized> + Clone) -> Self {
        let size = texts.clone().into_iter().count();
        let seq_len = texts.clone().into_iter().map(Tokenized::len).max().unwrap_or(0);
        let mut batch = Self {
            size,
            seq_len,
            ids: vec![0; size * seq_len],
            type_ids: vec![0; size * seq_len],
            mask: vec![0; size * seq_len],
        };
        for (row, text) in texts.into_iter().enumerate() {
            let start = row * seq_len;
            batch.ids[start..start + text.len()].copy_from_slice(&text.ids);
            batch.type_ids[start..start + text.len()].copy_from_slice(&text.type_ids);
            batch.mask[start..start + text.len()].fill(1);
        }
        batch
    }

    /// Tokens the backend computes on, padding included: the batch's real cost.
    pub fn padded_tokens(&self) -> usize {
        self.size * self.seq_len
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pads_to_the_longest_sequence_with_a_matching_mask() {
        let a = Tokenized { ids: vec![101, 7, 102], type_ids: vec![0; 3] };
        let b = Tokenized { ids: vec![101, 102], type_ids: vec![0; 2] };
        let batch = TokenBatch::pad([&a, &b]);
        assert_eq!((batch.size, batch.seq_len, batch.padded_tokens()), (2, 3, 6));
        assert_eq!(batch.ids, [101, 7, 102, 101, 102, 0]);
        assert_eq!(batch.mask, [1, 1, 1, 1, 1, 0]);
    }
}
