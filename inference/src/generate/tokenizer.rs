//! A GGUF model's tokenizer, rebuilt from the file's own metadata.
//!
//! SmolLM2's package ships no `tokenizer.json`: the vocabulary, the merges and the control tokens
//! live in the GGUF header (`tokenizer.ggml.*`). They describe a GPT-2 byte-level BPE, which
//! `tokenizers` builds directly; the pre-tokenizer is the one Hugging Face ships for SmolLM2
//! (every digit on its own, then GPT-2's split) and llama.cpp's `smollm` one.
//!
//! Callers' text never becomes a control token: it is encoded with special tokens read as plain
//! text, and the chat template's `<|im_start|>` and `<|im_end|>` are inserted as ids, so a draft
//! that contains `<|im_end|>` cannot end its own turn.

use candle_core::quantized::gguf_file::{Content, Value};
use tokenizers::decoders::byte_level::ByteLevel as ByteLevelDecoder;
use tokenizers::models::bpe::{BPE, Vocab};
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::digits::Digits;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::{
    AddedToken, DecoderWrapper, ModelWrapper, NormalizerWrapper, PostProcessorWrapper, PreTokenizerWrapper, Tokenizer,
};

use crate::InferenceError;

/// GGUF's token type for control tokens.
const CONTROL: i32 = 3;

/// A chat model's tokenizer: its BPE, and the ids of the chat template's markers.
pub struct ChatTokenizer {
    tokenizer: Tokenizer,
    turn_start: u32,
    turn_end: u32,
    /// Ids that end a generation (`<|im_end|>`, `<|endoftext|>`).
    stops: Vec<u32>,
}

fn tokenizer_error(err: impl std::fmt::Display) -> InferenceError {
    InferenceError::Tokenizer(err.to_string())
}

fn metadata<'a>(content: &'a Content, key: &str) -> Result<&'a Value, InferenceError> {
    content.metadata.get(key).ok_or_else(|| tokenizer_error(format!("the GGUF file has no `{key}`")))
}

fn strings(content: &Content, key: &str) -> Result<Vec<String>, InferenceError> {
    let values = metadata(content, key)?.to_vec().map_err(tokenizer_error)?;
    values.iter().map(|value| value.to_string().cloned().map_err(tokenizer_error)).collect()
}

impl ChatTokenizer {
    /// Builds the tokenizer a GGUF file describes (`tokenizer.ggml.model = "gpt2"` only).
    pub fn from_gguf(content: &Content) -> Result<Self, InferenceError> {
        let model = metadata(content, "tokenizer.ggml.model")?.to_string().map_err(tokenizer_error)?;
        if model != "gpt2" {
            return Err(tokenizer_error(format!("tokenizer `{model}` is not a byte-level BPE (`gpt2`)")));
        }
        let tokens = strings(content, "tokenizer.ggml.tokens")?;
        let merges = strings(content, "tokenizer.ggml.merges")?
            .into_iter()
            .map(|merge| {
                merge.split_once(' ').map(|(a, b)| (a.to_string(), b.to_string())).ok_or_else(|| {
                    tokenizer_error(format!("merge `{}` is not two tokens", merge.chars().take(40).collect::<String>()))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let types = metadata(content, "tokenizer.ggml.token_type")?.to_vec().map_err(tokenizer_error)?;
        let types: Vec<i32> = types.iter().map(|t| t.to_i32().map_err(tokenizer_error)).collect::<Result<_, _>>()?;
        let vocab: Vocab = tokens.iter().enumerate().map(|(id, token)| (token.clone(), id as u32)).collect();
        let bpe = BPE::builder().vocab_and_merges(vocab, merges).build().map_err(tokenizer_error)?;
        let mut tokenizer = Tokenizer::new(bpe);
        tokenizer.with_pre_tokenizer(Some(Sequence::new(vec![
            Digits::new(true).into(),
            ByteLevel::new(false, true, true).into(),
        ])));
        tokenizer.with_decoder(Some(ByteLevelDecoder::default()));
        let controls: Vec<AddedToken> = tokens
            .iter()
            .zip(&types)
            .filter(|&(_, &kind)| kind == CONTROL)
            .map(|(token, _)| AddedToken::from(token.clone(), true))
            .collect();
        tokenizer.add_special_tokens(controls).map_err(tokenizer_error)?;
        // Callers' text is text: `<|im_end|>` in a draft is encoded as characters.
        tokenizer.set_encode_special_tokens(true);
        let id = |token: &str| {
            tokens
                .iter()
                .position(|t| t == token)
                .map(|id| id as u32)
                .ok_or_else(|| tokenizer_error(format!("the vocabulary has no `{token}`")))
        };
        let (turn_start, turn_end) = (id("<|im_start|>")?, id("<|im_end|>")?);
        let stops = [Some(turn_end), id("<|endoftext|>").ok()].into_iter().flatten().collect();
        Ok(Self { tokenizer, turn_start, turn_end, stops })
    }

    /// Ids of plain text (control-token spellings included as text).
    pub fn encode(&self, text: &str) -> Result<Vec<u32>, InferenceError> {
        Ok(self.tokenizer.encode_fast(text, false).map_err(tokenizer_error)?.get_ids().to_vec())
    }

    /// The ChatML prompt of one system and one user turn, ready for the assistant's answer.
    pub fn chat(&self, system: &str, user: &str) -> Result<Vec<u32>, InferenceError> {
        let mut ids = Vec::new();
        for (role, text) in [("system", system), ("user", user)] {
            ids.push(self.turn_start);
            ids.extend(self.encode(&format!("{role}\n{text}"))?);
            ids.push(self.turn_end);
            ids.extend(self.encode("\n")?);
        }
        ids.push(self.turn_start);
        ids.extend(self.encode("assistant\n")?);
        Ok(ids)
    }

    pub fn is_stop(&self, id: u32) -> bool {
        self.stops.contains(&id)
    }

    /// The text of `ids`, control tokens left out.
    pub fn decode(&self, ids: &[u32]) -> Result<String, InferenceError> {
        self.tokenizer.decode(ids, true).map_err(tokenizer_error)
    }

    /// Turns ids into text as they come, holding back the bytes of a character not yet complete.
    pub fn stream(
        &self,
    ) -> tokenizers::DecodeStream<
        '_,
        ModelWrapper,
        NormalizerWrapper,
        PreTokenizerWrapper,
        PostProcessorWrapper,
        DecoderWrapper,
    > {
        self.tokenizer.decode_stream(true)
    }
}
