//! Encoders exported to ONNX, run by ONNX Runtime loaded from the pinned shared library.

use std::path::Path;
use std::sync::{Mutex, OnceLock};

use ort::environment::Environment;
use ort::session::Session;
use ort::session::builder::GraphOptimizationLevel;
use ort::value::TensorRef;

use super::{Encoder, HiddenStates};
use crate::{InferenceError, TokenBatch};

/// ONNX Runtime allows one library and one environment per process; the first load wins.
static ENVIRONMENT: OnceLock<Result<Environment, String>> = OnceLock::new();

pub struct OnnxEncoder {
    // `Session::run` takes `&mut self`; only the model's worker thread calls it, so this lock is uncontended.
    session: Mutex<Session>,
    hidden_size: usize,
}

impl OnnxEncoder {
    /// Loads `model` with `intra_threads` threads inside each operator (one session, one call at a time).
    pub fn load(
        runtime_library: &Path,
        model: &Path,
        hidden_size: usize,
        intra_threads: usize,
    ) -> Result<Self, InferenceError> {
        Ok(Self { session: Mutex::new(session(runtime_library, model, intra_threads)?), hidden_size })
    }
}

/// An ONNX Runtime session on `model` (loading the runtime library on first use), with
/// `intra_threads` threads inside each operator and full graph optimisation.
pub(crate) fn session(runtime_library: &Path, model: &Path, intra_threads: usize) -> Result<Session, InferenceError> {
    let environment = ENVIRONMENT.get_or_init(|| {
        ort::init_from(runtime_library)
            .map_err(|e| format!("loading {}: {e}", runtime_library.display()))?
            .with_name("eiq")
            .build()
            .map_err(|e| e.to_string())
    });
    let environment = environment.as_ref().map_err(InferenceError::onnx)?;
    Session::builder(environment)
        .map_err(failed_on(model))?
        .with_optimization_level(GraphOptimizationLevel::Level3)
        .map_err(failed_on(model))?
        .with_intra_threads(intra_threads)
        .map_err(failed_on(model))?
        .with_inter_threads(1)
        .map_err(failed_on(model))?
        .commit_from_file(model)
        .map_err(failed_on(model))
}

impl Encoder for OnnxEncoder {
    fn forward(&self, batch: &TokenBatch) -> Result<HiddenStates, InferenceError> {
        let shape = [batch.size, batch.seq_len];
        let widen = |values: &[u32]| values.iter().map(|&v| i64::from(v)).collect::<Vec<i64>>();
        let (ids, mask, type_ids) = (widen(&batch.ids), widen(&batch.mask), widen(&batch.type_ids));
        fn input(shape: [usize; 2], values: &[i64]) -> Result<TensorRef<'_, i64>, InferenceError> {
            TensorRef::from_array_view((shape, values)).map_err(InferenceError::onnx)
        }
        let mut session = self.session.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let outputs = session
            .run(ort::inputs![
                "input_ids" => input(shape, &ids)?,
                "attention_mask" => input(shape, &mask)?,
                "token_type_ids" => input(shape, &type_ids)?,
            ])
            .map_err(InferenceError::onnx)?;
        let (_, values) = outputs["last_hidden_state"].try_extract_tensor::<f32>().map_err(InferenceError::onnx)?;
        Ok(HiddenStates { hidden_size: self.hidden_size, values: values.to_vec() })
    }

    fn name(&self) -> &'static str {
        "onnx"
    }
}

fn failed_on<E: std::fmt::Display>(model: &Path) -> impl FnOnce(E) -> InferenceError + '_ {
    move |e| InferenceError::onnx(format!("{}: {e}", model.display()))
}
