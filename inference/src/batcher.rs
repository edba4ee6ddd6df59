//! Dynamic batching: many concurrent requests share one forward pass.
//!
//! Items (an encoder's tokenized texts) wait in a bounded queue. One worker thread per model
//! takes the oldest item, then keeps taking items until the padded batch would exceed the token
//! budget or the batch size, or the short wait runs out. The wait applies only under load (the
//! previous batch held more than one item): then callers just answered are about to send again,
//! and waiting for them keeps batches large and latency steady; a lone request on an idle server
//! never waits. The queue is generic over [`BatchWork`], so every kind of model gets the same
//! admission and batching.
//!
//! Room in the queue is a semaphore of `max_queue` permits, one per queued item, held until the
//! worker has computed (or dropped) the item. A full queue either refuses new work at once
//! (back-pressure instead of latency without bound) or makes it wait its turn, first come first
//! served: see [`Admission`].

use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot};

use crate::InferenceError;

/// What a model's queue batches: items in, one output per item, many items per forward pass.
/// Called from one worker thread per model; `run` may use several cores.
pub trait BatchWork: Send + Sync + 'static {
    type Item: Send + 'static;
    type Output: Send + 'static;

    /// What one row of a batch holding `item` costs (an encoder's tokens): a batch costs its
    /// size times its dearest item, as every row is padded to the longest.
    fn cost(item: &Self::Item) -> usize;

    /// One output per item, in order.
    fn run(&self, items: &[&Self::Item]) -> Result<Vec<Self::Output>, InferenceError>;

    /// The model's id, for the worker's name, logs and metrics.
    fn id(&self) -> &str;

    /// The backend's name, for errors and logs.
    fn backend(&self) -> &'static str;
}

/// What a request does when the queue has no room for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Fail at once with [`InferenceError::QueueFull`]: a caller that can retry (HTTP 429).
    Refuse,
    /// Wait for room, in arrival order: bulk work (streams) that should slow down, not fail.
    Wait,
}

#[derive(Debug, Clone)]
pub struct BatcherConfig {
    /// Upper bound on padded tokens (batch size × costliest item) per forward pass.
    pub max_batch_tokens: usize,
    pub max_batch_size: usize,
    /// How long the first item of a batch may wait for company, when the server is under load.
    pub max_wait: Duration,
    /// Items queued or in flight before new requests are refused or made to wait.
    pub max_queue: usize,
}

struct Job<W: BatchWork> {
    item: W::Item,
    reply: oneshot::Sender<Result<W::Output, InferenceError>>,
    /// The item's place in the queue, given back when the job is dropped.
    _place: OwnedSemaphorePermit,
}

/// The queue in front of one model. Dropping it lets the worker finish what is queued and exit.
pub struct Batcher<W: BatchWork> {
    model_id: String,
    jobs: Sender<Job<W>>,
    room: Arc<Semaphore>,
    capacity: usize,
}

impl<W: BatchWork> Batcher<W> {
    pub fn spawn(work: Arc<W>, config: BatcherConfig) -> Self {
        let (jobs, receiver) = crossbeam_channel::unbounded();
        let capacity = config.max_queue.min(Semaphore::MAX_PERMITS);
        let model_id = work.id().to_string();
        let worker = Worker { work, config, receiver };
        std::thread::Builder::new()
            .name(format!("eiq-batcher-{model_id}"))
            .spawn(move || worker.run())
            .expect("the OS refused a thread for the batcher");
        Self { model_id, jobs, room: Arc::new(Semaphore::new(capacity)), capacity }
    }

    /// Queues every item or none, as `admission` says, and waits for their outputs in order.
    /// A request larger than the whole queue fails at once: it could never fit.
    pub async fn submit(&self, items: Vec<W::Item>, admission: Admission) -> Result<Vec<W::Output>, InferenceError> {
        let count = items.len();
        let full = || InferenceError::QueueFull { model: self.model_id.clone(), capacity: self.capacity };
        let permits = u32::try_from(count).ok().filter(|_| count <= self.capacity).ok_or_else(full)?;
        let mut places = match admission {
            Admission::Refuse => self.room.clone().try_acquire_many_owned(permits).map_err(|_| full())?,
            Admission::Wait => {
                self.room.clone().acquire_many_owned(permits).await.map_err(|_| InferenceError::WorkerStopped)?
            }
        };
        metrics::gauge!("eiq_queue_texts", "model" => self.model_id.clone()).increment(count as f64);
        let mut replies = Vec::with_capacity(count);
        for item in items {
            let (reply, response) = oneshot::channel();
            let place = places.split(1).expect("one permit was taken per item");
            self.jobs.send(Job { item, reply, _place: place }).map_err(|_| InferenceError::WorkerStopped)?;
            replies.push(response);
        }
        let mut outputs = Vec::with_capacity(count);
        for response in replies {
            outputs.push(response.await.map_err(|_| InferenceError::WorkerStopped)??);
        }
        Ok(outputs)
    }
}

struct Worker<W: BatchWork> {
    work: Arc<W>,
    config: BatcherConfig,
    receiver: Receiver<Job<W>>,
}

impl<W: BatchWork> Worker<W> {
    fn run(self) {
        let mut carried: Option<Job<W>> = None;
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
    fn gather(&self, first: Job<W>, wait: Duration) -> (Vec<Job<W>>, Option<Job<W>>) {
        let deadline = Instant::now() + wait;
        let mut dearest = W::cost(&first.item);
        let mut batch = vec![first];
        while batch.len() < self.config.max_batch_size {
            let job = match self.receiver.recv_deadline(deadline) {
                Ok(job) => job,
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => break,
            };
            let grown_dearest = dearest.max(W::cost(&job.item));
            if grown_dearest * (batch.len() + 1) > self.config.max_batch_tokens {
                return (batch, Some(job));
            }
            dearest = grown_dearest;
            batch.push(job);
        }
        (batch, None)
    }

    fn compute(&self, batch: Vec<Job<W>>) {
        let taken = batch.len();
        // A caller that gave up (client disconnected) costs no compute.
        let live: Vec<Job<W>> = batch.into_iter().filter(|job| !job.reply.is_closed()).collect();
        let model = self.work.id().to_string();
        let result = (!live.is_empty()).then(|| {
            let padded = live.len() * live.iter().map(|job| W::cost(&job.item)).max().unwrap_or(0);
            metrics::histogram!("eiq_batch_size", "model" => model.clone()).record(live.len() as f64);
            metrics::histogram!("eiq_batch_padded_tokens", "model" => model.clone()).record(padded as f64);
            let started = Instant::now();
            let items: Vec<&W::Item> = live.iter().map(|job| &job.item).collect();
            let result = self.work.run(&items);
            metrics::histogram!("eiq_batch_seconds", "model" => model.clone()).record(started.elapsed().as_secs_f64());
            result
        });
        // Give the batch's places back before answering: a caller answered and sending again
        // finds room.
        let replies: Vec<_> = live.into_iter().map(|job| job.reply).collect();
        metrics::gauge!("eiq_queue_texts", "model" => model.clone()).decrement(taken as f64);
        match result {
            None => {}
            Some(Ok(outputs)) => {
                for (reply, output) in replies.into_iter().zip(outputs) {
                    let _ = reply.send(Ok(output));
                }
            }
            Some(Err(err)) => {
                tracing::error!(model = %model, error = %err, "batch failed");
                let reason = match err {
                    InferenceError::Backend { reason, .. } => reason,
                    other => other.to_string(),
                };
                for reply in replies {
                    let _ = reply
                        .send(Err(InferenceError::Backend { backend: self.work.backend(), reason: reason.clone() }));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    /// Doubles numbers, one batch at a time, each batch only once the test lets it through.
    struct Gated {
        gate: Mutex<crossbeam_channel::Receiver<()>>,
    }

    impl BatchWork for Gated {
        type Item = u32;
        type Output = u32;

        fn cost(_: &u32) -> usize {
            1
        }

        fn run(&self, items: &[&u32]) -> Result<Vec<u32>, InferenceError> {
            // A closed gate (the test dropped its end) lets every batch through.
            let _ = self.gate.lock().unwrap().recv();
            Ok(items.iter().map(|&&x| 2 * x).collect())
        }

        fn id(&self) -> &str {
            "gated"
        }

        fn backend(&self) -> &'static str {
            "test"
        }
    }

    fn gated(max_queue: usize) -> (Arc<Batcher<Gated>>, crossbeam_channel::Sender<()>) {
        let (open, gate) = crossbeam_channel::unbounded();
        let config = BatcherConfig { max_batch_tokens: 64, max_batch_size: 8, max_wait: Duration::ZERO, max_queue };
        (Arc::new(Batcher::spawn(Arc::new(Gated { gate: Mutex::new(gate) }), config)), open)
    }

    fn is_queue_full<T>(result: Result<T, InferenceError>) -> bool {
        matches!(result, Err(InferenceError::QueueFull { capacity: 2, .. }))
    }

    #[tokio::test]
    async fn a_full_queue_refuses_at_once_and_lets_waiters_in_as_room_frees() {
        let (batcher, open) = gated(2);
        let holding = tokio::spawn({
            let batcher = batcher.clone();
            async move { batcher.submit(vec![1, 2], Admission::Refuse).await }
        });
        while batcher.room.available_permits() > 0 {
            tokio::task::yield_now().await;
        }
        assert!(is_queue_full(batcher.submit(vec![3], Admission::Refuse).await));

        let waiting: Vec<_> = (10..14)
            .map(|x| {
                let batcher = batcher.clone();
                tokio::spawn(async move { batcher.submit(vec![x], Admission::Wait).await })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(waiting.iter().all(|task| !task.is_finished()), "waiters got in while the queue was full");

        drop(open);
        assert_eq!(holding.await.unwrap().unwrap(), [2, 4]);
        for (task, x) in waiting.into_iter().zip(10..) {
            assert_eq!(task.await.unwrap().unwrap(), [2 * x]);
        }
        assert_eq!(batcher.room.available_permits(), 2, "every place was given back");
    }

    #[tokio::test]
    async fn a_request_larger_than_the_queue_fails_at_once_even_when_waiting() {
        let (batcher, _open) = gated(2);
        assert!(is_queue_full(batcher.submit(vec![1, 2, 3], Admission::Wait).await));
        assert!(is_queue_full(batcher.submit(vec![1, 2, 3], Admission::Refuse).await));
        assert_eq!(batcher.room.available_permits(), 2);
    }
}
