//! Text to token ids, with the catalogue's truncation and no fixed-length padding.

use std::path::Path;

use tokenizers::{Tokenizer, TruncationParams};

use crate::InferenceError;

/// One text's tokens, special tokens included, already truncated.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Tokenized {
    pub ids: Vec<u32>,
    pub type_ids: Vec<u32>,
}

impl Tokenized {
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
}

pub struct TextTokenizer {
    inner: Tokenizer,
}

impl TextTokenizer {
    /// Loads `tokenizer.json`, truncating at `max_len` tokens. The file's own padding (MiniLM's pads
    /// every text to 128) is switched off: batches are padded to their longest text instead.
    pub fn from_file(path: &Path, max_len: usize) -> Result<Self, InferenceError> {
        let inner =
            Tokenizer::from_file(path).map_err(|e| InferenceError::Tokenizer(format!("{}: {e}", path.display())))?;
        Self::new(inner, max_len)
    }

    /// Wraps a tokenizer already in memory, with the same truncation and padding as `from_file`.
    pub fn new(mut inner: Tokenizer, max_len: usize) -> Result<Self, InferenceError> {
        inner.with_padding(None);
        inner
            .with_truncation(Some(TruncationParams { max_length: max_len, ..TruncationParams::default() }))
            .map_err(|e| InferenceError::Tokenizer(e.to_string()))?;
        Ok(Self { inner })
    }

    pub fn tokenize(&self, text: &str) -> Result<Tokenized, InferenceError> {
        let encoding = self.inner.encode_fast(text, true).map_err(|e| InferenceError::Tokenizer(e.to_string()))?;
        Ok(Tokenized { ids: encoding.get_ids().to_vec(), type_ids: encoding.get_type_ids().to_vec() })
    }
}
