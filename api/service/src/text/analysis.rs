//! Text intelligence: every head of the classification model from one encoder pass per text,
//! plus the lexical profanity detector, with spans for what it found.

use std::sync::Arc;
use std::time::Instant;

use eiq_inference::{Admission, Classifier, HeadSpec, InferenceError, Lexicon, LexiconMatch, ModelRegistry};
use eiq_models::FileRole;

use crate::error::{Hint, ServiceError};
use crate::limits::{ANALYSIS_DEADLINE, check_text, excerpt};

#[derive(Clone)]
pub struct AnalysisService {
    registry: Arc<ModelRegistry>,
    model: String,
    profanity: Arc<Result<Lexicon, String>>,
    max_inputs: usize,
}

/// One task's answer for one text.
#[derive(Debug, Clone)]
pub struct TaskScores {
    pub task: String,
    pub label: String,
    /// `(label, probability)` in the head's label order.
    pub scores: Vec<(String, f32)>,
}

impl TaskScores {
    /// The probability of `label`, 0 if the head has no such label.
    pub fn score(&self, label: &str) -> f32 {
        self.scores.iter().find(|(l, _)| l == label).map_or(0.0, |(_, p)| *p)
    }
}

/// A lexical match: which list, which entry, and where (Unicode code points, end exclusive).
#[derive(Debug, Clone, PartialEq)]
pub struct Span {
    pub category: &'static str,
    pub entry: String,
    pub start: usize,
    pub end: usize,
    /// The matched text as written.
    pub text: String,
    /// Byte offsets, for converting to other units.
    pub bytes: std::ops::Range<usize>,
}

#[derive(Debug, Clone)]
pub struct TextAnalysis {
    pub tasks: Vec<TaskScores>,
    pub spans: Vec<Span>,
}

/// Where a head came from, for answers that explain themselves.
#[derive(Debug, Clone)]
pub struct HeadInfo {
    pub task: String,
    pub labels: Vec<String>,
    pub method: String,
    pub metric: String,
    pub validation: f64,
}

#[derive(Debug, Clone)]
pub struct Analysis {
    pub model: String,
    /// First 12 hex digits of the model's weights sha256: changes whenever it is retrained.
    pub model_version: String,
    /// `f32` or `int8`: the number type of the encoder's matrix products.
    pub precision: &'static str,
    pub heads: Vec<HeadInfo>,
    pub results: Vec<TextAnalysis>,
}

impl AnalysisService {
    pub fn new(
        registry: Arc<ModelRegistry>,
        model: String,
        profanity: Result<Lexicon, String>,
        max_inputs: usize,
    ) -> Self {
        Self { registry, model, profanity: Arc::new(profanity), max_inputs }
    }

    pub fn model(&self) -> &str {
        &self.model
    }

    /// Runs `tasks` (every task the model has when `None`) on each input.
    pub async fn analyze(&self, inputs: Vec<String>, tasks: Option<Vec<String>>) -> Result<Analysis, ServiceError> {
        let started = Instant::now();
        let count = inputs.len();
        let result = self.analyze_with(inputs, tasks).await;
        let outcome = match &result {
            Ok(_) => "ok",
            Err(e) if e.is_invalid_input() => "invalid",
            Err(_) => "error",
        };
        metrics::counter!("eiq_analysis_requests_total", "outcome" => outcome).increment(1);
        metrics::histogram!("eiq_analysis_request_seconds").record(started.elapsed().as_secs_f64());
        if result.is_ok() {
            metrics::counter!("eiq_analysis_texts_total").increment(count as u64);
        }
        result
    }

    async fn analyze_with(&self, inputs: Vec<String>, tasks: Option<Vec<String>>) -> Result<Analysis, ServiceError> {
        validate_texts(&inputs, self.max_inputs, "inputs")?;
        let served = self.registry.get_encoder(&self.model).map_err(|err| match err {
            // The server's configuration, not the client's choice: 503, not 404.
            InferenceError::ModelNotServed(_) => ServiceError::Unavailable {
                message: format!("the text model `{}` is not loaded by this server", self.model),
                hint: Some(Hint::ServerSetting { flag: "--models", action: "add it to" }),
                retry_after: None,
            },
            other => other.into(),
        })?;
        let classifier = served
            .classifier
            .as_ref()
            .ok_or_else(|| ServiceError::unavailable(format!("model `{}` has no classification heads", self.model)))?;
        let heads = select_heads(classifier, tasks)?;
        // The word list runs on a blocking thread while the encoder works: its cost grows with the
        // text, and a runtime thread it held would stall every other request waiting on that thread.
        let (service, texts) = (self.clone(), inputs.clone());
        let word_list = tokio::task::spawn_blocking(move || {
            texts.iter().map(|text| service.profanity_spans(text)).collect::<Result<Vec<Vec<Span>>, _>>()
        });
        let work = async {
            let (vectors, _) = served.embed(inputs, Admission::Refuse).await?;
            let spans = word_list.await.map_err(|e| ServiceError::internal("word-list task", e))??;
            Ok::<_, ServiceError>((vectors, spans))
        };
        let (vectors, spans) =
            tokio::time::timeout(ANALYSIS_DEADLINE, work).await.map_err(|_| ServiceError::Unavailable {
                message: format!("no answer within {} s; try again", ANALYSIS_DEADLINE.as_secs()),
                hint: None,
                retry_after: None,
            })??;
        let results = vectors
            .iter()
            .zip(spans)
            .map(|(vector, spans)| TextAnalysis {
                tasks: heads
                    .iter()
                    .map(|head| {
                        let prediction = Classifier::predict(head, vector);
                        TaskScores {
                            task: head.task.clone(),
                            label: head.labels[prediction.label].clone(),
                            scores: head.labels.iter().cloned().zip(prediction.probabilities).collect(),
                        }
                    })
                    .collect(),
                spans,
            })
            .collect();
        let weights_sha = served.model.manifest().file(FileRole::Weights).map_or("", |f| f.sha256.as_str());
        Ok(Analysis {
            model: self.model.clone(),
            model_version: weights_sha.chars().take(12).collect(),
            precision: served.model.manifest().precision.as_str(),
            heads: heads.iter().copied().map(head_info).collect(),
            results,
        })
    }

    /// Profanity matches in `text`.
    pub fn profanity_spans(&self, text: &str) -> Result<Vec<Span>, ServiceError> {
        let lexicon = self.profanity.as_ref().as_ref().map_err(|reason| ServiceError::unavailable(reason.clone()))?;
        Ok(spans(text, "profanity", lexicon.find(text)))
    }

    /// Those of `tasks` the served model has a head for; all of them while it is not loaded, so
    /// that asking then gets the model's own answer (loading, failed).
    pub fn backed<'a>(&self, tasks: &[&'a str]) -> Vec<&'a str> {
        let heads = self.heads();
        tasks.iter().copied().filter(|task| heads.is_empty() || heads.iter().any(|h| h.task == *task)).collect()
    }

    /// The heads the served model has; empty while it loads or if it failed.
    pub fn heads(&self) -> Vec<HeadInfo> {
        self.registry
            .get_encoder(&self.model)
            .ok()
            .and_then(|served| served.classifier.as_ref().map(|c| c.heads().iter().map(head_info).collect()))
            .unwrap_or_default()
    }
}

/// The same checks for every text-taking endpoint: at least one text, not too many, none blank,
/// none over [`crate::limits::MAX_TEXT_BYTES`].
pub fn validate_texts(inputs: &[String], max_inputs: usize, field: &str) -> Result<(), ServiceError> {
    if inputs.is_empty() {
        return Err(ServiceError::invalid(field, format!("{field} must hold at least one text")));
    }
    if inputs.len() > max_inputs {
        return Err(ServiceError::invalid(
            field,
            format!("{field} holds {} texts; at most {max_inputs} are allowed per request", inputs.len()),
        ));
    }
    for (index, text) in inputs.iter().enumerate() {
        if text.trim().is_empty() {
            let param = format!("{field}[{index}]");
            return Err(ServiceError::invalid(param.clone(), format!("{param} is empty or only whitespace")));
        }
        check_text(&format!("{field}[{index}]"), text)?;
    }
    Ok(())
}

fn select_heads(classifier: &Classifier, tasks: Option<Vec<String>>) -> Result<Vec<&HeadSpec>, ServiceError> {
    let Some(tasks) = tasks else {
        return Ok(classifier.heads().iter().collect());
    };
    if tasks.is_empty() {
        return Err(ServiceError::invalid("tasks", "tasks, when given, must name at least one task"));
    }
    tasks
        .iter()
        .enumerate()
        .map(|(index, task)| {
            classifier.head(task).ok_or_else(|| {
                let known: Vec<&str> = classifier.heads().iter().map(|h| h.task.as_str()).collect();
                ServiceError::invalid(
                    format!("tasks[{index}]"),
                    format!("tasks[{index}]: unknown task `{}`; known: {}", excerpt(task), known.join(", ")),
                )
            })
        })
        .collect()
}

fn head_info(head: &HeadSpec) -> HeadInfo {
    let text = |key: &str| head.provenance.get(key).and_then(|v| v.as_str()).unwrap_or_default().to_string();
    HeadInfo {
        task: head.task.clone(),
        labels: head.labels.clone(),
        method: text("method"),
        metric: text("metric"),
        validation: head.provenance.get("validation").and_then(|v| v.as_f64()).unwrap_or(f64::NAN),
    }
}

/// Byte offsets of a text in another unit (code points, UTF-16 units). Offsets asked in text
/// order (as `Lexicon::find` gives its matches) are counted on from the previous one rather than
/// from the start each time: a text dense with matches costs one pass, not one per match. An
/// offset before the previous restarts the count; one that is not a boundary of the text is `None`.
pub struct Offsets<'a> {
    text: &'a str,
    units: fn(&str) -> usize,
    /// (byte offset, units before it) of the last position counted.
    counted: (usize, usize),
}

impl<'a> Offsets<'a> {
    pub fn new(text: &'a str, units: fn(&str) -> usize) -> Self {
        Self { text, units, counted: (0, 0) }
    }

    pub fn at(&mut self, byte: usize) -> Option<usize> {
        if byte < self.counted.0 {
            self.counted = (0, 0);
        }
        let count = self.counted.1 + (self.units)(self.text.get(self.counted.0..byte)?);
        self.counted = (byte, count);
        Some(count)
    }
}

/// Lexicon matches as spans in code points; a match that is not a range of `text` is dropped.
pub fn spans(text: &str, category: &'static str, matches: Vec<LexiconMatch>) -> Vec<Span> {
    let mut offsets = Offsets::new(text, |part| part.chars().count());
    let mut code_points = |byte| offsets.at(byte);
    matches
        .into_iter()
        .filter_map(|m| {
            let matched = text.get(m.span.clone())?.to_string();
            Some(Span {
                category,
                start: code_points(m.span.start)?,
                end: code_points(m.span.end)?,
                text: matched,
                entry: m.entry,
                bytes: m.span,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_count_code_points_not_bytes() {
        let text = "héllo 🎉 damn";
        let lexicon = Lexicon::from_entries(["damn"]);
        let found = spans(text, "profanity", lexicon.find(text));
        assert_eq!(found.len(), 1);
        let span = &found[0];
        assert_eq!((span.start, span.end), (8, 12));
        assert_eq!(text.chars().skip(span.start).take(span.end - span.start).collect::<String>(), "damn");
        assert_eq!(span.text, "damn");
    }

    #[test]
    fn spans_stay_right_to_the_end_of_a_dense_text() {
        // 2 MiB with a match every 17 bytes: counting from the start for each match took minutes.
        let text = "héllo 💩 damn ".repeat(2 * 1024 * 1024 / 17);
        let lexicon = Lexicon::from_entries(["damn"]);
        let started = std::time::Instant::now();
        let found = spans(&text, "profanity", lexicon.find(&text));
        assert!(started.elapsed() < std::time::Duration::from_secs(2), "{:?}", started.elapsed());
        assert_eq!(found.len(), 2 * 1024 * 1024 / 17);
        let total = text.chars().count();
        let last = found.last().unwrap();
        assert_eq!((last.start, last.end, last.bytes.end), (total - 5, total - 1, text.len() - 1));
        assert_eq!((found[1].start, found[1].end), (21, 25));
    }

    #[test]
    fn spans_out_of_order_or_out_of_the_text_do_not_panic() {
        let text = "damn héllo damn";
        let at = |span: std::ops::Range<usize>| LexiconMatch { entry: "damn".into(), span };
        let found = spans(text, "profanity", vec![at(12..16), at(0..4), at(7..9), at(14..99)]);
        let code_points: Vec<(usize, usize)> = found.iter().map(|s| (s.start, s.end)).collect();
        assert_eq!(code_points, [(11, 15), (0, 4)]);
    }
}
