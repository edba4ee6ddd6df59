//! The llama decoder (SmolLM2's architecture) on candle's quantised matrix products.
//!
//! It follows candle-transformers' `quantized_llama` (0.11, Apache-2.0 or MIT) layer for layer,
//! with one change that matters at caption length: that model copies its whole KV cache every
//! token, once to append the new key and value and again to repeat each key head for the three
//! query heads that share it. At 416 tokens of context that was 77 MB of copying per token.
//! Here the cache of a generation is allocated once, for the prompt and the answer, and written
//! in place; the query heads of a key head are read against it together (grouped-query attention
//! without repetition).

use candle_core::quantized::{QMatMul, gguf_file};
use candle_core::{DType, Device, IndexOp, Module, Result, Tensor};
use candle_nn::Embedding;
use candle_nn::kv_cache::KvCache;
use candle_transformers::quantized_nn::RmsNorm;

/// Longest context: prompt and answer (the model was trained on 8,192; captions need far less).
pub const MAX_SEQ_LEN: usize = 4096;

struct Layer {
    attention_wq: QMatMul,
    attention_wk: QMatMul,
    attention_wv: QMatMul,
    attention_wo: QMatMul,
    attention_norm: RmsNorm,
    ffn_gate: QMatMul,
    ffn_down: QMatMul,
    ffn_up: QMatMul,
    ffn_norm: RmsNorm,
}

/// The weights, loaded once and shared by every generation.
pub struct Llama {
    embeddings: Embedding,
    layers: Vec<Layer>,
    norm: RmsNorm,
    output: QMatMul,
    n_head: usize,
    n_kv_head: usize,
    head_dim: usize,
    cos: Tensor,
    sin: Tensor,
}

impl Llama {
    pub fn from_gguf<R: std::io::Seek + std::io::Read>(
        content: gguf_file::Content,
        reader: &mut R,
        device: &Device,
    ) -> Result<Self> {
        let number = |key: &str| -> Result<&gguf_file::Value> {
            content.metadata.get(key).ok_or_else(|| candle_core::Error::Msg(format!("the file has no `{key}`")))
        };
        let n_head = number("llama.attention.head_count")?.to_u32()? as usize;
        let n_kv_head = number("llama.attention.head_count_kv")?.to_u32()? as usize;
        let block_count = number("llama.block_count")?.to_u32()? as usize;
        let embedding_length = number("llama.embedding_length")?.to_u32()? as usize;
        let rope_dim = number("llama.rope.dimension_count")?.to_u32()? as usize;
        let eps = f64::from(number("llama.attention.layer_norm_rms_epsilon")?.to_f32()?);
        let rope_base = number("llama.rope.freq_base").and_then(|v| v.to_f32()).unwrap_or(10_000.0);
        if n_head == 0
            || n_kv_head == 0
            || !n_head.is_multiple_of(n_kv_head)
            || !embedding_length.is_multiple_of(n_head)
        {
            candle_core::bail!("{n_head} query heads cannot share {n_kv_head} key heads over {embedding_length}");
        }
        let (cos, sin) = rope_tables(rope_dim, rope_base, device)?;
        let mut tensor = |name: &str| content.tensor(reader, name, device);
        let embeddings_q = tensor("token_embd.weight")?;
        let embeddings = Embedding::new(embeddings_q.dequantize(device)?, embedding_length);
        let norm = RmsNorm::from_qtensor(tensor("output_norm.weight")?, eps)?;
        // SmolLM2 ties its output projection to the embeddings.
        let output = QMatMul::from_qtensor(match tensor("output.weight") {
            Ok(output) => output,
            Err(_) => embeddings_q,
        })?;
        let mut layers = Vec::with_capacity(block_count);
        for index in 0..block_count {
            let name = |part: &str| format!("blk.{index}.{part}.weight");
            let attention_norm = RmsNorm::from_qtensor(tensor(&name("attn_norm"))?, eps)?;
            let ffn_norm = RmsNorm::from_qtensor(tensor(&name("ffn_norm"))?, eps)?;
            let mut matmul = |part: &str| QMatMul::from_qtensor(tensor(&name(part))?);
            layers.push(Layer {
                attention_wq: matmul("attn_q")?,
                attention_wk: matmul("attn_k")?,
                attention_wv: matmul("attn_v")?,
                attention_wo: matmul("attn_output")?,
                ffn_gate: matmul("ffn_gate")?,
                ffn_down: matmul("ffn_down")?,
                ffn_up: matmul("ffn_up")?,
                attention_norm,
                ffn_norm,
            });
        }
        Ok(Self { embeddings, layers, norm, output, n_head, n_kv_head, head_dim: embedding_length / n_head, cos, sin })
    }

    /// A KV cache for one generation of at most `tokens` tokens in all.
    pub fn cache(&self, tokens: usize) -> Vec<KvCache> {
        (0..self.layers.len()).map(|_| KvCache::new(2, tokens.clamp(1, MAX_SEQ_LEN))).collect()
    }

    /// The logits after `tokens` (`[1, seq]`), which follow `position` tokens already in `cache`.
    pub fn forward(&self, tokens: &Tensor, position: usize, cache: &mut [KvCache]) -> Result<Tensor> {
        let (_, seq_len) = tokens.dims2()?;
        let mask = if seq_len == 1 {
            None
        } else {
            Some(candle_transformers::utils::build_causal_mask(seq_len, position, tokens.device())?)
        };
        let mut x = self.embeddings.forward(tokens)?;
        for (layer, cache) in self.layers.iter().zip(cache.iter_mut()) {
            let attention =
                self.attention(layer, &layer.attention_norm.forward(&x)?, mask.as_ref(), position, cache)?;
            x = (attention + x)?;
            let h = layer.ffn_norm.forward(&x)?;
            let gated = (candle_nn::ops::silu(&layer.ffn_gate.forward(&h)?)? * layer.ffn_up.forward(&h)?)?;
            x = (layer.ffn_down.forward(&gated)? + x)?;
        }
        let x = self.norm.forward(&x)?;
        self.output.forward(&x.i((.., seq_len - 1, ..))?)
    }

    fn attention(
        &self,
        layer: &Layer,
        x: &Tensor,
        mask: Option<&Tensor>,
        position: usize,
        cache: &mut KvCache,
    ) -> Result<Tensor> {
        let (batch, seq_len, width) = x.dims3()?;
        let (n_head, n_kv_head, head_dim) = (self.n_head, self.n_kv_head, self.head_dim);
        let heads = |t: Tensor, n: usize| t.reshape((batch, seq_len, n, head_dim))?.transpose(1, 2)?.contiguous();
        let q = heads(layer.attention_wq.forward(x)?, n_head)?;
        let k = heads(layer.attention_wk.forward(x)?, n_kv_head)?;
        let v = heads(layer.attention_wv.forward(x)?, n_kv_head)?;
        let cos = self.cos.narrow(0, position, seq_len)?;
        let sin = self.sin.narrow(0, position, seq_len)?;
        let q = candle_nn::rotary_emb::rope_i(&q, &cos, &sin)?;
        let k = candle_nn::rotary_emb::rope_i(&k, &cos, &sin)?;
        let (k, v) = cache.append(&k, &v)?;
        let (k, v) = (k.contiguous()?, v.contiguous()?);
        let context = k.dim(2)?;
        // The query heads of one key head are adjacent: read them as one taller query.
        let group = n_head / n_kv_head;
        let q = q.reshape((batch, n_kv_head, group * seq_len, head_dim))?;
        let scores = (q.matmul(&k.t()?)? / (head_dim as f64).sqrt())?;
        let scores = match mask {
            None => scores,
            Some(mask) => {
                let scores = scores.reshape((batch, n_kv_head, group, seq_len, context))?;
                let mask = mask.broadcast_as(scores.shape())?;
                let hidden = Tensor::new(f32::NEG_INFINITY, scores.device())?.broadcast_as(scores.shape())?;
                mask.where_cond(&hidden, &scores)?.reshape((batch, n_kv_head, group * seq_len, context))?
            }
        };
        let weights = candle_nn::ops::softmax_last_dim(&scores)?;
        let y = weights.matmul(&v)?.reshape((batch, n_head, seq_len, head_dim))?;
        let y = y.transpose(1, 2)?.reshape((batch, seq_len, width))?;
        layer.attention_wo.forward(&y)
    }
}

/// Rotary embedding tables: cos and sin of `position × base^(−2i/dim)` for every position.
fn rope_tables(dim: usize, base: f32, device: &Device) -> Result<(Tensor, Tensor)> {
    let theta: Vec<f32> = (0..dim).step_by(2).map(|i| 1.0 / base.powf(i as f32 / dim as f32)).collect();
    let theta = Tensor::new(theta.as_slice(), device)?;
    let angles = Tensor::arange(0, MAX_SEQ_LEN as u32, device)?
        .to_dtype(DType::F32)?
        .reshape((MAX_SEQ_LEN, 1))?
        .matmul(&theta.reshape((1, theta.elem_count()))?)?;
    Ok((angles.cos()?, angles.sin()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rope_tables_start_at_no_rotation() {
        let (cos, sin) = rope_tables(8, 10_000.0, &Device::Cpu).unwrap();
        assert_eq!(cos.dims(), [MAX_SEQ_LEN, 4]);
        let first: Vec<f32> = cos.i(0).unwrap().to_vec1().unwrap();
        assert!(first.iter().all(|&c| (c - 1.0).abs() < 1e-6));
        let second: Vec<f32> = sin.i(1).unwrap().to_vec1().unwrap();
        assert!((second[0] - 1f32.sin()).abs() < 1e-6);
    }
}
