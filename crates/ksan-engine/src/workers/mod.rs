//! Background workers: tasks in the server process that carry out work queued by the writes
//! (garbage collection, forgetting completed uploads) or found by walking the stores (the
//! orphan scrubber, the integrity scrubber, the lifecycle executor).
//!
//! A [`Worker`] does one bounded piece of work per call and says whether more is ready at
//! once; the runner calls it again at once while there is, and otherwise after the worker's
//! period (configurable, so tests can compress time). Each worker's status (last run, items
//! done, backlog, errors) is kept for the admin port's `/metrics`.
//!
//! Work items are `Q|queue|due|seq` rows written in the same transaction as the change that
//! causes them (an outbox: no acknowledged change can miss its follow-up). A worker *claims*
//! due items: one transaction moves each to a later due time (a lease) and hands them out;
//! once done, the worker deletes them. A worker that crashes mid-way leaves its claimed items
//! to come due again when the lease runs out, so every item is carried out at least once, and
//! two workers (several gateways on one database) never take the same item within a lease.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ksan_meta::WriteOps;
use ksan_types::S3Result;
use serde::Serialize;

use crate::keys::{self, Queue};
use crate::{Engine, now_ms, store};

mod gc;
pub mod lifecycle;
pub mod replicate;
mod scrub;
mod uploads;
mod verify;

pub use gc::GcWorker;
pub use lifecycle::{LifecycleStats, LifecycleWorker};
pub use replicate::{ReplicationStats, ReplicationWorker};
pub use scrub::ScrubWorker;
pub use uploads::CompletedUploadsWorker;
pub use verify::VerifyWorker;

/// What one piece of work came to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pass {
    /// Items carried out.
    pub done: u64,
    /// More work is ready now: run again at once.
    pub more: bool,
}

/// A background worker.
#[async_trait::async_trait]
pub trait Worker: Send + Sync + 'static {
    /// Its name in logs and metrics.
    fn name(&self) -> &'static str;
    /// Do one bounded piece of work.
    async fn work(&self, engine: &Engine) -> S3Result<Pass>;
    /// Work waiting, as far as the worker can tell cheaply.
    async fn backlog(&self, _engine: &Engine) -> S3Result<u64> {
        Ok(0)
    }
}

/// A worker's status, as `/metrics` shows it.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct WorkerStatus {
    /// The worker's name.
    pub name: &'static str,
    /// Pieces of work run.
    pub passes: u64,
    /// Items carried out in all.
    pub items_done: u64,
    /// Passes that failed.
    pub errors: u64,
    /// When the last pass ended (ms since the epoch; 0: never).
    pub last_run_ms: i64,
    /// Work waiting after the last pass.
    pub backlog: u64,
    /// The last failure's message.
    pub last_error: Option<String>,
}

/// The statuses of the running workers.
#[derive(Default)]
pub(crate) struct Registry {
    statuses: Mutex<BTreeMap<&'static str, WorkerStatus>>,
}

impl Registry {
    fn update(&self, name: &'static str, f: impl FnOnce(&mut WorkerStatus)) {
        if let Ok(mut all) = self.statuses.lock() {
            let status = all.entry(name).or_insert_with(|| WorkerStatus {
                name,
                ..WorkerStatus::default()
            });
            f(status);
        }
    }
}

/// How long a claimed item stays away before it comes due again (its worker died).
pub(crate) const LEASE: Duration = Duration::from_secs(300);

/// Queue a work item due at `due_ms`, in the transaction of the change that causes it.
pub(crate) fn enqueue(txn: &mut dyn WriteOps, queue: Queue, due_ms: i64, payload: &[u8]) -> S3Result<()> {
    store::put_raw(
        txn,
        &keys::queue(queue, due_ms.max(0) as u64, &rand::random::<[u8; 8]>()),
        payload,
    )
}

/// A claimed work item: its row (to finish it) and what it says.
#[derive(Debug, Clone)]
pub(crate) struct Claimed {
    pub row: Vec<u8>,
    pub payload: Vec<u8>,
}

/// Items one pass of a queue worker takes.
const QUEUE_BATCH: usize = 1000;

/// A worker that carries out the items of one queue.
#[async_trait::async_trait]
pub(crate) trait QueueJob: Send + Sync + 'static {
    /// The worker's name.
    const NAME: &'static str;
    /// Its queue.
    const QUEUE: Queue;
    /// Items due at or before this time are taken at `now_ms` (the collector keeps a grace).
    fn cutoff(&self, _engine: &Engine, now_ms: i64) -> i64 {
        now_ms
    }
    /// Carry out claimed items; return the rows of those done (the rest come due again).
    async fn carry_out(&self, engine: &Engine, items: Vec<Claimed>) -> S3Result<Vec<Vec<u8>>>;
}

#[async_trait::async_trait]
impl<J: QueueJob> Worker for J {
    fn name(&self) -> &'static str {
        J::NAME
    }

    async fn work(&self, engine: &Engine) -> S3Result<Pass> {
        let done = engine.run_queue(self, now_ms(), QUEUE_BATCH).await?;
        Ok(Pass {
            done: done as u64,
            more: done == QUEUE_BATCH,
        })
    }

    async fn backlog(&self, engine: &Engine) -> S3Result<u64> {
        engine.queue_len(J::QUEUE, 100_000).await
    }
}

impl Engine {
    /// One pass of a queue worker at `now_ms`: claim up to `limit` due items, carry them out,
    /// finish those done. Returns how many were done.
    pub(crate) async fn run_queue<J: QueueJob>(&self, job: &J, now_ms: i64, limit: usize) -> S3Result<usize> {
        let claimed = self.claim(J::QUEUE, job.cutoff(self, now_ms), limit).await?;
        if claimed.is_empty() {
            return Ok(0);
        }
        let done = job.carry_out(self, claimed).await?;
        let n = done.len();
        self.finish(done).await?;
        Ok(n)
    }

    /// Claim up to `limit` items of `queue` due at `now_ms`: each moves to `now + LEASE`.
    pub(crate) async fn claim(&self, queue: Queue, now_ms: i64, limit: usize) -> S3Result<Vec<Claimed>> {
        self.write(move |txn| {
            Box::pin(async move {
                let prefix = keys::queue_prefix(queue);
                let mut end = prefix.clone();
                end.extend_from_slice(&(now_ms.max(0) as u64 + 1).to_be_bytes());
                let due = store::range(&*txn, &prefix, &end, limit).await?;
                let leased = (now_ms.max(0) as u64).saturating_add(LEASE.as_millis() as u64);
                let mut out = Vec::with_capacity(due.len());
                for (row, payload) in due {
                    let seq: [u8; 8] = row[row.len() - 8..].try_into().map_err(crate::S3Error::internal)?;
                    store::delete(txn, &row)?;
                    let moved = keys::queue(queue, leased, &seq);
                    store::put_raw(txn, &moved, &payload)?;
                    out.push(Claimed { row: moved, payload });
                }
                Ok(out)
            })
        })
        .await
    }

    /// Finish claimed items: their rows go.
    pub(crate) async fn finish(&self, rows: Vec<Vec<u8>>) -> S3Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let rows = Arc::new(rows);
        self.write(move |txn| {
            let rows = rows.clone();
            Box::pin(async move {
                for row in rows.iter() {
                    store::delete(txn, row)?;
                }
                Ok(())
            })
        })
        .await
    }

    /// At start: make every item of `queue` due now, those claimed by a process that died
    /// (which would otherwise wait out their lease) and those waiting out a backoff alike.
    /// For a queue only this server works on (one gateway per metadata store). Returns how
    /// many were moved.
    pub async fn release_queue(&self, queue: Queue) -> S3Result<u64> {
        let mut moved = 0;
        loop {
            let now = now_ms().max(0) as u64;
            let n = self
                .write(move |txn| {
                    Box::pin(async move {
                        let prefix = keys::queue_prefix(queue);
                        let mut start = prefix.clone();
                        start.extend_from_slice(&(now + 1).to_be_bytes());
                        let rows = store::range(&*txn, &start, &ksan_meta::prefix_end(&prefix), 10_000).await?;
                        for (row, payload) in &rows {
                            let seq: [u8; 8] = row[row.len() - 8..].try_into().map_err(crate::S3Error::internal)?;
                            store::delete(txn, row)?;
                            store::put_raw(txn, &keys::queue(queue, now, &seq), payload)?;
                        }
                        Ok(rows.len() as u64)
                    })
                })
                .await?;
            moved += n;
            if n < 10_000 {
                return Ok(moved);
            }
        }
    }

    /// Items waiting in a queue (due or not), counted up to `cap`.
    pub(crate) async fn queue_len(&self, queue: Queue, cap: usize) -> S3Result<u64> {
        let snap = self.snapshot().await?;
        Ok(store::scan(&*snap, &keys::queue_prefix(queue), cap).await?.len() as u64)
    }

    /// Run `worker` in the background every `period` (at once again while it has more),
    /// until the engine is dropped by everyone else.
    pub fn spawn_worker<W: Worker>(self: &Arc<Self>, worker: W, period: Duration) {
        let weak = Arc::downgrade(self);
        let name = worker.name();
        self.workers.update(name, |_| {});
        tokio::spawn(async move {
            // The backlog is counted after a pass that leaves the worker idle, and at most once
            // a second while it runs pass after pass (counting can cost a walk of its own).
            let mut backlog = 0;
            let mut counted: Option<tokio::time::Instant> = None;
            loop {
                let Some(engine) = weak.upgrade() else { break };
                let result = worker.work(&engine).await;
                let more = matches!(result, Ok(Pass { more: true, .. }));
                if !more || counted.is_none_or(|at| at.elapsed() >= Duration::from_secs(1)) {
                    backlog = worker.backlog(&engine).await.unwrap_or(0);
                    counted = Some(tokio::time::Instant::now());
                }
                engine.workers.update(name, |s| {
                    s.passes += 1;
                    s.last_run_ms = now_ms();
                    s.backlog = backlog;
                    match &result {
                        Ok(pass) => s.items_done += pass.done,
                        Err(e) => {
                            s.errors += 1;
                            s.last_error = Some(e.to_string());
                        }
                    }
                });
                if let Err(e) = &result {
                    tracing::warn!(worker = name, error = %e, "worker pass failed");
                }
                drop(engine);
                if more {
                    tokio::task::yield_now().await;
                } else {
                    tokio::time::sleep(period).await;
                }
            }
        });
    }

    /// The status of every worker started, by name.
    pub fn worker_status(&self) -> Vec<WorkerStatus> {
        match self.workers.statuses.lock() {
            Ok(all) => all.values().cloned().collect(),
            Err(_) => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::engine;

    #[tokio::test]
    async fn claimed_items_stay_away_for_a_lease_then_come_back() {
        let (e, _d) = engine();
        let now = 1_000_000;
        e.write(move |txn| {
            Box::pin(async move {
                enqueue(txn, Queue::Gc, now - 10, b"due")?;
                enqueue(txn, Queue::Gc, now + 10, b"later")
            })
        })
        .await
        .unwrap();
        let claimed = e.claim(Queue::Gc, now, 10).await.unwrap();
        assert_eq!(claimed.len(), 1);
        assert_eq!(claimed[0].payload, b"due");
        // Claimed: nobody else gets it now, nor the item that is not due yet.
        assert!(e.claim(Queue::Gc, now, 10).await.unwrap().is_empty());
        // Its worker died: once the lease is over it comes due again, with the later one.
        let later = now + LEASE.as_millis() as i64 + 1;
        let again = e.claim(Queue::Gc, later, 10).await.unwrap();
        let mut payloads: Vec<&[u8]> = again.iter().map(|c| c.payload.as_slice()).collect();
        payloads.sort();
        assert_eq!(payloads, [b"due".as_slice(), b"later".as_slice()]);
        // Finished items are gone for good.
        e.finish(again.into_iter().map(|c| c.row).collect()).await.unwrap();
        assert_eq!(e.queue_len(Queue::Gc, 100).await.unwrap(), 0);
        assert!(e.claim(Queue::Gc, i64::MAX / 2, 10).await.unwrap().is_empty());
    }
}
