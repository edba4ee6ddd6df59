//! A BERT encoder written for CPU inference with candle.
//!
//! Same maths as Hugging Face's `BertModel` (checked against it to 1e-5), laid out for speed on
//! few cores: Q, K and V are one fused matmul, weights are transposed once at load so every
//! matmul reads contiguous memory, the attention scale is folded into the query weights, and a
//! batch without padding skips the attention mask entirely.

use candle_core::{DType, Module, Tensor};
use candle_nn::VarBuilder;
use serde::Deserialize;

/// The fields of a Hugging Face `config.json` this encoder needs.
#[derive(Debug, Clone, Deserialize)]
pub struct BertConfig {
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub intermediate_size: usize,
    pub max_position_embeddings: usize,
    pub type_vocab_size: usize,
    #[serde(default = "default_layer_norm_eps")]
    pub layer_norm_eps: f64,
    #[serde(default = "default_hidden_act")]
    pub hidden_act: String,
}

fn default_layer_norm_eps() -> f64 {
    1e-12
}

fn default_hidden_act() -> String {
    "gelu".into()
}

pub struct Bert {
    embeddings: Embeddings,
    layers: BertLayers,
}

impl Bert {
    /// Loads from tensors named as in Hugging Face checkpoints, with or without a `bert.` prefix.
    pub fn load(vars: VarBuilder, config: &BertConfig) -> candle_core::Result<Self> {
        Self::load_bottom(vars, config, config.num_hidden_layers)
    }

    /// The embeddings and only the first `layers` layers: the frozen part of a partly fine-tuned model.
    pub fn load_bottom(vars: VarBuilder, config: &BertConfig, layers: usize) -> candle_core::Result<Self> {
        let vars = without_prefix(vars);
        let embeddings = Embeddings::load(vars.pp("embeddings"), config)?;
        let layers = BertLayers::load(vars, config, 0..layers.min(config.num_hidden_layers), false)?;
        Ok(Self { embeddings, layers })
    }

    /// Hidden state `[batch, seq, hidden]` after the loaded layers, for `ids`, `type_ids` and
    /// `mask` of `[batch, seq]`.
    pub fn forward(&self, ids: &Tensor, type_ids: &Tensor, mask: &Tensor, padded: bool) -> candle_core::Result<Tensor> {
        let hidden = self.embeddings.forward(ids, type_ids)?;
        self.layers.forward(&hidden, mask, padded)
    }
}

/// A run of consecutive encoder layers. `differentiable` swaps candle's fused softmax and layer
/// norm (which have no backward pass) for plain ops, for training.
pub struct BertLayers {
    layers: Vec<Layer>,
    heads: usize,
}

impl BertLayers {
    pub fn load(
        vars: VarBuilder,
        config: &BertConfig,
        range: std::ops::Range<usize>,
        differentiable: bool,
    ) -> candle_core::Result<Self> {
        if config.hidden_act != "gelu" {
            candle_core::bail!("hidden_act `{}` is not supported (only exact `gelu`)", config.hidden_act);
        }
        if !config.hidden_size.is_multiple_of(config.num_attention_heads) {
            candle_core::bail!("hidden_size is not a multiple of num_attention_heads");
        }
        let vars = without_prefix(vars);
        let layers = range
            .map(|i| Layer::load(vars.pp(format!("encoder.layer.{i}")), config, differentiable))
            .collect::<candle_core::Result<_>>()?;
        Ok(Self { layers, heads: config.num_attention_heads })
    }

    /// Runs `hidden` `[batch, seq, hidden]` through every layer; `mask` is `[batch, seq]`, 1 for
    /// real tokens, and is applied only when `padded`.
    pub fn forward(&self, hidden: &Tensor, mask: &Tensor, padded: bool) -> candle_core::Result<Tensor> {
        let (batch, seq) = mask.dims2()?;
        // 0 where attended, a huge negative where padded; broadcast over heads and query positions.
        let additive_mask = if padded {
            let keep = mask.to_dtype(DType::F32)?.reshape((batch, 1, 1, seq))?;
            Some(((keep - 1.0)? * f64::from(f32::MAX))?)
        } else {
            None
        };
        let mut hidden = hidden.clone();
        for layer in &self.layers {
            hidden = layer.forward(&hidden, additive_mask.as_ref(), self.heads)?;
        }
        Ok(hidden)
    }
}

fn without_prefix(vars: VarBuilder) -> VarBuilder {
    if vars.contains_tensor("bert.embeddings.word_embeddings.weight") { vars.pp("bert") } else { vars }
}

/// `x · W + b` with `W` stored `[in, out]`.
struct Linear {
    weight: Tensor,
    bias: Tensor,
}

impl Linear {
    fn from_parts(weight_out_in: Tensor, bias: Tensor) -> candle_core::Result<Self> {
        Ok(Self { weight: weight_out_in.t()?.contiguous()?, bias })
    }

    fn load(vars: VarBuilder, inputs: usize, outputs: usize) -> candle_core::Result<Self> {
        Self::from_parts(vars.get((outputs, inputs), "weight")?, vars.get(outputs, "bias")?)
    }

    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        x.broadcast_matmul(&self.weight)?.broadcast_add(&self.bias)
    }
}

struct LayerNorm {
    weight: Tensor,
    bias: Tensor,
    eps: f32,
    differentiable: bool,
}

impl LayerNorm {
    fn load(vars: VarBuilder, size: usize, eps: f64, differentiable: bool) -> candle_core::Result<Self> {
        let (weight, bias) = (vars.get(size, "weight")?, vars.get(size, "bias")?);
        Ok(Self { weight, bias, eps: eps as f32, differentiable })
    }

    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        if self.differentiable {
            candle_nn::ops::layer_norm_slow(x, &self.weight, &self.bias, self.eps)
        } else {
            candle_nn::ops::layer_norm(x, &self.weight, &self.bias, self.eps)
        }
    }
}

struct Embeddings {
    words: candle_nn::Embedding,
    positions: Tensor,
    token_types: candle_nn::Embedding,
    norm: LayerNorm,
}

impl Embeddings {
    fn load(vars: VarBuilder, config: &BertConfig) -> candle_core::Result<Self> {
        let hidden = config.hidden_size;
        Ok(Self {
            words: candle_nn::embedding(config.vocab_size, hidden, vars.pp("word_embeddings"))?,
            positions: vars.get((config.max_position_embeddings, hidden), "position_embeddings.weight")?,
            token_types: candle_nn::embedding(config.type_vocab_size, hidden, vars.pp("token_type_embeddings"))?,
            norm: LayerNorm::load(vars.pp("LayerNorm"), hidden, config.layer_norm_eps, false)?,
        })
    }

    fn forward(&self, ids: &Tensor, type_ids: &Tensor) -> candle_core::Result<Tensor> {
        let seq = ids.dim(1)?;
        let positions = self.positions.narrow(0, 0, seq)?;
        let summed = (self.words.forward(ids)? + self.token_types.forward(type_ids)?)?.broadcast_add(&positions)?;
        self.norm.forward(&summed)
    }
}

struct Layer {
    qkv: Linear,
    attention_out: Linear,
    attention_norm: LayerNorm,
    ffn_in: Linear,
    ffn_out: Linear,
    ffn_norm: LayerNorm,
    differentiable: bool,
}

impl Layer {
    fn load(vars: VarBuilder, config: &BertConfig, differentiable: bool) -> candle_core::Result<Self> {
        let (hidden, eps) = (config.hidden_size, config.layer_norm_eps);
        let scale = 1.0 / ((hidden / config.num_attention_heads) as f64).sqrt();
        let attention = vars.pp("attention.self");
        let part = |name: &str| -> candle_core::Result<(Tensor, Tensor)> {
            let vars = attention.pp(name);
            Ok((vars.get((hidden, hidden), "weight")?, vars.get(hidden, "bias")?))
        };
        let ((qw, qb), (kw, kb), (vw, vb)) = (part("query")?, part("key")?, part("value")?);
        let qkv =
            Linear::from_parts(Tensor::cat(&[(qw * scale)?, kw, vw], 0)?, Tensor::cat(&[(qb * scale)?, kb, vb], 0)?)?;
        Ok(Self {
            qkv,
            attention_out: Linear::load(vars.pp("attention.output.dense"), hidden, hidden)?,
            attention_norm: LayerNorm::load(vars.pp("attention.output.LayerNorm"), hidden, eps, differentiable)?,
            ffn_in: Linear::load(vars.pp("intermediate.dense"), hidden, config.intermediate_size)?,
            ffn_out: Linear::load(vars.pp("output.dense"), config.intermediate_size, hidden)?,
            ffn_norm: LayerNorm::load(vars.pp("output.LayerNorm"), hidden, eps, differentiable)?,
            differentiable,
        })
    }

    fn forward(&self, x: &Tensor, additive_mask: Option<&Tensor>, heads: usize) -> candle_core::Result<Tensor> {
        let (batch, seq, hidden) = x.dims3()?;
        let head_dim = hidden / heads;
        // [batch, seq, 3 * hidden] -> [3, batch, heads, seq, head_dim]
        let qkv =
            self.qkv.forward(x)?.reshape((batch, seq, 3, heads, head_dim))?.permute((2, 0, 3, 1, 4))?.contiguous()?;
        let (q, k, v) = (qkv.get(0)?, qkv.get(1)?, qkv.get(2)?);
        let mut scores = q.matmul(&k.t()?)?;
        if let Some(mask) = additive_mask {
            scores = scores.broadcast_add(mask)?;
        }
        let probabilities = if self.differentiable {
            candle_nn::ops::softmax(&scores, candle_core::D::Minus1)?
        } else {
            candle_nn::ops::softmax_last_dim(&scores)?
        };
        let context = probabilities.matmul(&v)?.transpose(1, 2)?.reshape((batch, seq, hidden))?;
        let attended = self.attention_norm.forward(&(self.attention_out.forward(&context)? + x)?)?;
        let expanded = super::gelu::gelu_erf(&self.ffn_in.forward(&attended)?)?;
        self.ffn_norm.forward(&(self.ffn_out.forward(&expanded)? + attended)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    fn tiny_config() -> BertConfig {
        serde_json::from_str(
            r#"{"vocab_size": 16, "hidden_size": 8, "num_hidden_layers": 2, "num_attention_heads": 2,
                "intermediate_size": 16, "max_position_embeddings": 8, "type_vocab_size": 2}"#,
        )
        .unwrap()
    }

    #[test]
    fn training_ops_compute_what_inference_ops_compute_and_carry_gradients() {
        let config = tiny_config();
        let weights = crate::tiny::bert_weights(&config, 1);
        let load = |differentiable| {
            let vars = VarBuilder::from_tensors(weights.clone(), DType::F32, &Device::Cpu);
            BertLayers::load(vars, &config, 0..2, differentiable).unwrap()
        };
        let hidden = Tensor::randn(0f32, 1.0, (2, 5, 8), &Device::Cpu).unwrap();
        let mask = Tensor::new(&[[1u32, 1, 1, 1, 1], [1, 1, 1, 0, 0]], &Device::Cpu).unwrap();
        let fused = load(false).forward(&hidden, &mask, true).unwrap();
        let plain = load(true).forward(&hidden, &mask, true).unwrap();
        let delta = (fused - &plain).unwrap().abs().unwrap().max_all().unwrap().to_scalar::<f32>().unwrap();
        assert!(delta < 1e-4, "training and inference forward passes differ by {delta}");

        // Gradients reach the input through every op of a layer.
        let input = candle_core::Var::from_tensor(&hidden).unwrap();
        let output = load(true).forward(input.as_tensor(), &mask, true).unwrap();
        let grads = output.sqr().unwrap().sum_all().unwrap().backward().unwrap();
        let gradient = grads.get(input.as_tensor()).expect("a gradient for the input");
        assert!(gradient.abs().unwrap().sum_all().unwrap().to_scalar::<f32>().unwrap() > 0.0);
    }

    #[test]
    fn config_rejects_activations_it_does_not_implement() {
        let config: BertConfig = serde_json::from_str(
            r#"{"vocab_size": 8, "hidden_size": 4, "num_hidden_layers": 0, "num_attention_heads": 2,
                "intermediate_size": 8, "max_position_embeddings": 8, "type_vocab_size": 2, "hidden_act": "relu"}"#,
        )
        .unwrap();
        let vars = VarBuilder::zeros(DType::F32, &Device::Cpu);
        let err = Bert::load(vars, &config).err().unwrap().to_string();
        assert!(err.contains("relu"), "{err}");
    }
}
