//! Dynamic batching: many concurrent requests share one forward pass.
//!
//! Texts wait in a bounded queue. One worker thread per model takes the oldest text, then keeps
//! taking texts until the padded batch would exceed the token budget or the batch size, or the
//! short wait runs out. The wait applies only under load (the previous batch held more than one
//! text): then callers just answered are about to send again, and waiting for them keeps batches
//! large and latency steady; a lone request on an idle server never waits. A full queue refuses
//! new work at once (back-pressure) instead of growing latency without bound.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use tokio::sync::oneshot;

use crate::{EmbeddingModel, InferenceError, Tokenized};

#[derive(Debug, Clone)]
pub struct BatcherConfig {
    /// Upper bound on padded tokens (batch size × longest text) per forward pass.
    pub max_batch_tokens: usize,
    pub max_batch_size: usize,
    /// How long the first text of a batch may wait for company, when the server is under load.
    pub max_wait: Duration,
    /// Texts queued or in flight before new requests are refused.
    pub max_queue: usize,
}

struct Job {
    text: Tokenized,
    reply: oneshot::Sender<Result<Vec<f32>, InferenceError>>,
}

/// The queue in front of one model. Dropping it lets the worker finish what is queued and exit.
pub struct Batcher {
    model_id: String,
    jobs: Sender<Job>,
    queued: Arc<AtomicUsize>,
    capacity: usize,
}

impl Batcher {
    pub fn spawn(model: Arc<EmbeddingModel>, config: BatcherConfig) -> Self {
        let (jobs, receiver) = crossbeam_channel::unbounded();
        let queued = Arc::new(AtomicUsize::new(0));
        let worker = Worker { model: model.clone(), config: config.clone(), receiver, queued: queued.clone() };
        std::thread::Builder::new()
            .name(format!("eiq-batcher-{}", model.id()))
            .spawn(move || worker.run())
            .expect("the OS refused a thread for the batcher");
        Self { model_id: model.id().to_string(), jobs, queued, capacity: config.max_queue }
    }

    /// Queues every text or none, and waits for their vectors in order.
    pub async fn embed(&self, texts: Vec<Tokenized>) -> Result<Vec<Vec<f32>>, InferenceError> {
        let count = texts.len();
        let reserved = self.queued.fetch_update(Ordering::AcqRel, Ordering::Acquire, |queued| {
            (queued + count <= self.capacity).then_some(queued + count)
        });
        if reserved.is_err() {
            return Err(InferenceError::QueueFull { model: self.model_id.clone(), capacity: self.capacity });
        }
        metrics::gauge!("eiq_queue_texts", "model" => self.model_id.clone()).increment(count as f64);
        let mut replies = Vec::with_capacity(count);
        for text in texts {
            let (reply, response) = oneshot::channel();
            self.jobs.send(Job { text, reply }).map_err(|_| InferenceError::WorkerStopped)?;
            replies.push(response);
        }
        let mut vectors = Vec::with_capacity(count);
        for response in replies {
            vectors.push(response.await.map_err(|_| InferenceError::WorkerStopped)??);
        }
        Ok(vectors)
    }
}

struct Worker {
    model: Arc<EmbeddingModel>,
    config: BatcherConfig,
    receiver: Receiver<Job>,
    queued: Arc<AtomicUsize>,
}

impl Worker {
    fn run(self) {
        let mut carried: Option<Job> = None;
        let mut busy = false;
        loop {
            let first = match carried.take() {
                Some(job) => job,
                None => match self.receiver.recv() {
                    Ok(job) => job,
                    Err(_) => return, // every Batcher handle is gone
                },
            };
            // Wait for company only under load (the last batch had company): callers just answered
            // are about to send again. A lone request on an idle server runs at once.
            let wait = if busy { self.config.max_wait } else { Duration::ZERO };
            let (batch, next) = self.gather(first, wait);
            busy = batch.len() > 1 || next.is_some();
            carried = next;
            self.compute(batch);
        }
    }

    /// Grows a batch from `first`; returns it and the job that did not fit, if any.
    fn gather(&self, first: Job, wait: Duration) -> (Vec<Job>, Option<Job>) {
        let deadline = Instant::now() + wait;
        let mut longest = first.text.len();
        let mut batch = vec![first];
        while batch.len() < self.config.max_batch_size {
            let job = match self.receiver.recv_deadline(deadline) {
                Ok(job) => job,
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => break,
            };
            let grown_longest = longest.max(job.text.len());
            if grown_longest * (batch.len() + 1) > self.config.max_batch_tokens {
                return (batch, Some(job));
            }
            longest = grown_longest;
            batch.push(job);
        }
        (batch, None)
    }

    fn compute(&self, batch: Vec<Job>) {
        let taken = batch.len();
        // A caller that gave up (client disconnected) costs no compute.
        let live: Vec<Job> = batch.into_iter().filter(|job| !job.reply.is_closed()).collect();
        let model = self.model.id().to_string();
        if !live.is_empty() {
            let padded = live.len() * live.iter().map(|j| j.text.len()).max().unwrap_or(0);
            metrics::histogram!("eiq_batch_size", "model" => model.clone()).record(live.len() as f64);
            metrics::histogram!("eiq_batch_padded_tokens", "model" => model.clone()).record(padded as f64);
            let started = Instant::now();
            let texts: Vec<&Tokenized> = live.iter().map(|job| &job.text).collect();
            let result = self.model.embed_tokenized(&texts);
            metrics::histogram!("eiq_batch_seconds", "model" => model.clone()).record(started.elapsed().as_secs_f64());
            match result {
                Ok(vectors) => {
                    for (job, vector) in live.into_iter().zip(vectors) {
                        let _ = job.reply.send(Ok(vector));
                    }
                }
                Err(err) => {
                    tracing::error!(model = %model, error = %err, "batch failed");
                    let reason = match err {
                        InferenceError::Backend { reason, .. } => reason,
                        other => other.to_string(),
                    };
                    for job in live {
                        let _ = job.reply.send(Err(InferenceError::Backend {
                            backend: self.model.backend(),
                            reason: reason.clone(),
                        }));
                    }
                }
            }
        }
        self.queued.fetch_sub(taken, Ordering::AcqRel);
        metrics::gauge!("eiq_queue_texts", "model" => model).decrement(taken as f64);
    }
}
