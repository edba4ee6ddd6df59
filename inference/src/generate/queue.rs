//! The generation server: one worker thread per generator and a bounded queue in front of it.
//!
//! Generation is sequential and long (hundreds of milliseconds to seconds), so unlike encoders it
//! does not batch: one request at a time runs on all cores, the rest wait in a queue of fixed
//! size, and a request that finds it full is refused at once (429 with `Retry-After`) rather than
//! waiting without bound. Each request gets its own channel of events (text as it is decoded,
//! then the stats); the worker sends each piece as soon as it exists, so streams (SSE, gRPC) and
//! unary calls await the same queue. A caller that goes away drops its receiver: the worker sees
//! the closed channel at its next token and stops, so an abandoned request costs at most one
//! more token. A request whose deadline passes stops the same way; one abandoned while still
//! queued is skipped.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crossbeam_channel::{Sender, TrySendError};
use tokio::sync::mpsc;

use super::model::{GenerationRequest, GenerationStats, GgufGenerator, StopReason};
use crate::InferenceError;

/// What a request receives, in order: text pieces, then `Done` or `Failed`.
#[derive(Debug)]
pub enum GenerationEvent {
    /// The request left the queue; the prompt is being read.
    Started {
        queued: Duration,
    },
    Text(String),
    Done(GenerationStats),
    Failed(InferenceError),
}

/// Counts since start, for metrics and tests.
#[derive(Debug, Default)]
pub struct GenerationCounters {
    pub completed: AtomicU64,
    /// Stopped because the caller went away (while running or still queued).
    pub cancelled: AtomicU64,
    pub deadline_exceeded: AtomicU64,
    pub failed: AtomicU64,
    pub generated_tokens: AtomicU64,
}

struct Job {
    request: GenerationRequest,
    deadline: Instant,
    queued_at: Instant,
    events: mpsc::UnboundedSender<GenerationEvent>,
}

pub struct GenerationQueue {
    id: String,
    capacity: usize,
    jobs: Sender<Job>,
    counters: Arc<GenerationCounters>,
}

impl GenerationQueue {
    /// Starts the worker; at most `capacity` requests wait behind the running one.
    pub fn start(generator: GgufGenerator, capacity: usize) -> Self {
        let (jobs, queue) = crossbeam_channel::bounded::<Job>(capacity);
        let counters = Arc::new(GenerationCounters::default());
        let id = generator.id().to_string();
        let worker_counters = Arc::clone(&counters);
        std::thread::Builder::new()
            .name(format!("generate-{id}"))
            .spawn(move || {
                for job in queue {
                    run(&generator, job, &worker_counters);
                }
            })
            .expect("spawning the generation worker");
        Self { id, capacity, jobs, counters }
    }

    pub fn counters(&self) -> &GenerationCounters {
        &self.counters
    }

    /// Queues a request; its events arrive on the returned channel. A full queue is
    /// [`InferenceError::QueueFull`] at once.
    pub fn submit(
        &self,
        request: GenerationRequest,
        deadline: Instant,
    ) -> Result<mpsc::UnboundedReceiver<GenerationEvent>, InferenceError> {
        let (events, receiver) = mpsc::unbounded_channel();
        let job = Job { request, deadline, queued_at: Instant::now(), events };
        match self.jobs.try_send(job) {
            Ok(()) => Ok(receiver),
            Err(TrySendError::Full(_)) => {
                Err(InferenceError::QueueFull { model: self.id.clone(), capacity: self.capacity })
            }
            Err(TrySendError::Disconnected(_)) => Err(InferenceError::WorkerStopped),
        }
    }
}

/// Counts an outcome in the counters and in `eiq_generations_total`.
fn count(generator: &GgufGenerator, counter: &AtomicU64, outcome: &'static str) {
    counter.fetch_add(1, Ordering::Relaxed);
    metrics::counter!("eiq_generations_total", "model" => generator.id().to_string(), "outcome" => outcome)
        .increment(1);
}

fn run(generator: &GgufGenerator, job: Job, counters: &GenerationCounters) {
    let Job { request, deadline, queued_at, events } = job;
    if events.is_closed() || events.send(GenerationEvent::Started { queued: queued_at.elapsed() }).is_err() {
        count(generator, &counters.cancelled, "cancelled");
        return;
    }
    metrics::histogram!("eiq_generation_queue_seconds", "model" => generator.id().to_string())
        .record(queued_at.elapsed().as_secs_f64());
    let result = generator.generate(&request, |piece| {
        Instant::now() < deadline && events.send(GenerationEvent::Text(piece.to_string())).is_ok()
    });
    let event = match result {
        Ok(stats) => {
            counters.generated_tokens.fetch_add(stats.generated_tokens as u64, Ordering::Relaxed);
            metrics::counter!("eiq_generated_tokens_total", "model" => generator.id().to_string())
                .increment(stats.generated_tokens as u64);
            match stats.stop {
                StopReason::Stopped if events.is_closed() => count(generator, &counters.cancelled, "cancelled"),
                StopReason::Stopped => count(generator, &counters.deadline_exceeded, "deadline"),
                _ => count(generator, &counters.completed, "completed"),
            }
            GenerationEvent::Done(stats)
        }
        Err(err) => {
            count(generator, &counters.failed, "failed");
            GenerationEvent::Failed(err)
        }
    };
    let _ = events.send(event);
}
