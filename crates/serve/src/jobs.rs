//! The proving queue and the worker pool.
//!
//! The queue holds ids of jobs already stored as `queued`; its limit bounds the jobs waiting
//! (not those being proven). A prediction first reserves a place ([`Jobs::reserve`]), then
//! stores the job, then commits the reservation, so the limit holds under any concurrency.
//! Workers are dedicated OS threads (proving is CPU-bound and must not block the async
//! runtime); each takes the oldest id, proves it with the facade's `prove_with` (publishing
//! the phase as progress), stores the proof or the failure, and wakes the requests waiting
//! for that job.

use std::collections::{HashMap, HashSet, VecDeque};
use std::panic::AssertUnwindSafe;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use tokio::sync::watch;
use vouch::prove::{prove_with, Phase};

use crate::db::Db;
use crate::metrics::Metrics;
use crate::model::ServedModel;
use crate::wire::Progress;

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// A job's state as the process sees it (the database has the durable one).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Live {
    Queued,
    Proving(Phase),
    /// Done or failed: read the database.
    Finished,
}

/// The progress of a job in `phase`.
pub fn progress(phase: Phase) -> Progress {
    let (name, step) = match phase {
        Phase::Run => ("run", 1),
        Phase::ProvingKey => ("proving_key", 2),
        Phase::Prove => ("prove", 3),
    };
    Progress {
        phase: name.into(),
        description: phase.describe().into(),
        step,
        steps: 3,
    }
}

#[derive(Debug, Default)]
struct Queue {
    ids: VecDeque<String>,
    /// Places taken by predictions that are storing their job.
    reserved: usize,
    closed: bool,
}

/// The queue is full: the prediction is turned away (429).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueueFull {
    /// Jobs queued, plus predictions holding a place while they are stored.
    pub depth: usize,
    pub limit: usize,
}

/// The bounded queue and the live state of every unfinished job.
#[derive(Debug)]
pub struct Jobs {
    queue: Mutex<Queue>,
    ready: Condvar,
    limit: usize,
    live: Mutex<HashMap<String, watch::Sender<Live>>>,
    running: Mutex<HashSet<String>>,
}

/// A place in the queue, held while the job is stored; dropping it gives the place back.
#[derive(Debug)]
pub struct Reservation {
    jobs: Arc<Jobs>,
    done: bool,
}

impl Reservation {
    /// Queues the (stored) job in the reserved place.
    pub fn commit(mut self, id: String) {
        self.done = true;
        self.jobs.track(&id, Live::Queued);
        let mut q = self.jobs.lock_queue();
        q.reserved = q.reserved.saturating_sub(1);
        q.ids.push_back(id);
        drop(q);
        self.jobs.ready.notify_one();
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if !self.done {
            let mut q = self.jobs.lock_queue();
            q.reserved = q.reserved.saturating_sub(1);
        }
    }
}

impl Jobs {
    pub fn new(limit: usize) -> Arc<Self> {
        Arc::new(Jobs {
            queue: Mutex::new(Queue::default()),
            ready: Condvar::new(),
            limit,
            live: Mutex::new(HashMap::new()),
            running: Mutex::new(HashSet::new()),
        })
    }

    // A panic while holding these locks cannot leave them inconsistent (every update is a
    // single assignment or push), so a poisoned lock is used as is.
    fn lock_queue(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn lock_live(&self) -> MutexGuard<'_, HashMap<String, watch::Sender<Live>>> {
        self.live.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn lock_running(&self) -> MutexGuard<'_, HashSet<String>> {
        self.running.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Jobs waiting for a worker.
    pub fn depth(&self) -> usize {
        self.lock_queue().ids.len()
    }

    /// Jobs being proven.
    pub fn running(&self) -> usize {
        self.lock_running().len()
    }

    /// Ids of the jobs being proven.
    pub fn running_ids(&self) -> Vec<String> {
        self.lock_running().iter().cloned().collect()
    }

    /// Takes a place in the queue, or says it is full.
    pub fn reserve(self: &Arc<Self>) -> Result<Reservation, QueueFull> {
        let mut q = self.lock_queue();
        let depth = q.ids.len() + q.reserved;
        if depth >= self.limit {
            return Err(QueueFull {
                depth,
                limit: self.limit,
            });
        }
        q.reserved += 1;
        Ok(Reservation {
            jobs: Arc::clone(self),
            done: false,
        })
    }

    /// Queues jobs found in the database at startup (already accepted: the limit does not
    /// apply).
    pub fn requeue_recovered(&self, ids: Vec<String>) {
        for id in &ids {
            self.track(id, Live::Queued);
        }
        let mut q = self.lock_queue();
        q.ids.extend(ids);
        drop(q);
        self.ready.notify_all();
    }

    /// Jobs ahead of `id` in the queue, if it is queued.
    pub fn position(&self, id: &str) -> Option<usize> {
        self.lock_queue().ids.iter().position(|x| x == id)
    }

    /// The next job; blocks until there is one, `None` once the queue is closed.
    fn pop(&self) -> Option<String> {
        let mut q = self.lock_queue();
        loop {
            if q.closed {
                return None;
            }
            if let Some(id) = q.ids.pop_front() {
                return Some(id);
            }
            q = self.ready.wait(q).unwrap_or_else(|p| p.into_inner());
        }
    }

    /// Stops handing out jobs: workers finish the job they hold and exit; queued jobs stay
    /// queued in the database.
    pub fn close(&self) {
        self.lock_queue().closed = true;
        self.ready.notify_all();
    }

    pub fn is_closed(&self) -> bool {
        self.lock_queue().closed
    }

    fn track(&self, id: &str, state: Live) {
        let mut live = self.lock_live();
        match live.get(id) {
            Some(tx) => {
                tx.send_replace(state);
            }
            None => {
                live.insert(id.to_string(), watch::channel(state).0);
            }
        }
    }

    fn set(&self, id: &str, state: Live) {
        if let Some(tx) = self.lock_live().get(id) {
            tx.send_replace(state);
        }
    }

    /// Marks a job finished and wakes its waiters.
    fn finish(&self, id: &str) {
        if let Some(tx) = self.lock_live().remove(id) {
            tx.send_replace(Live::Finished);
        }
    }

    /// The live state of an unfinished job (`None`: finished, or not known to this process).
    pub fn live(&self, id: &str) -> Option<Live> {
        self.lock_live().get(id).map(|tx| *tx.borrow())
    }

    /// A receiver of the job's state changes (`None`: finished or unknown).
    pub fn subscribe(&self, id: &str) -> Option<watch::Receiver<Live>> {
        self.lock_live().get(id).map(|tx| tx.subscribe())
    }
}

/// What the workers share.
#[derive(Debug, Clone)]
pub struct WorkerContext {
    pub model: Arc<ServedModel>,
    pub db: Arc<Db>,
    pub jobs: Arc<Jobs>,
    pub metrics: Arc<Metrics>,
    /// Log each job on stderr.
    pub log: bool,
}

/// Starts `n` proving workers; they run until [`Jobs::close`].
pub fn spawn_workers(ctx: &WorkerContext, n: usize) -> std::io::Result<Vec<JoinHandle<()>>> {
    (0..n)
        .map(|i| {
            let ctx = ctx.clone();
            std::thread::Builder::new()
                .name(format!("vouch-prover-{i}"))
                .spawn(move || {
                    while let Some(id) = ctx.jobs.pop() {
                        run_job(&ctx, &id);
                    }
                })
        })
        .collect()
}

/// Proves one job and stores the outcome.
fn run_job(ctx: &WorkerContext, id: &str) {
    let log = |msg: String| {
        if ctx.log {
            eprintln!("job {id}: {msg}");
        }
    };
    match ctx.db.start(id, now_ms()) {
        Ok(true) => {}
        Ok(false) => {
            // Already taken or finished (never expected): nothing to do.
            ctx.jobs.finish(id);
            return;
        }
        Err(e) => {
            // Left queued in the database: a restart proves it.
            log(format!("cannot start: {e}"));
            ctx.jobs.finish(id);
            return;
        }
    }
    ctx.jobs.lock_running().insert(id.to_string());
    let outcome = prove_job(ctx, id);
    let now = now_ms();
    let stored = match &outcome {
        Ok((proof, seconds)) => {
            ctx.metrics.observe_prove(*seconds);
            ctx.metrics.proofs_done.fetch_add(1, Ordering::Relaxed);
            log(format!("proved in {seconds:.2} s ({} bytes)", proof.len()));
            ctx.db.finish_done(id, proof, now, seconds * 1e3)
        }
        Err(reason) => {
            ctx.metrics.proofs_failed.fetch_add(1, Ordering::Relaxed);
            log(format!("failed: {reason}"));
            ctx.db.finish_failed(id, reason, now)
        }
    };
    if let Err(e) = stored {
        // Still `proving` in the database: a restart proves it again.
        log(format!("cannot store the outcome: {e}"));
    }
    ctx.jobs.lock_running().remove(id);
    ctx.jobs.finish(id);
}

/// The proof file bytes and the seconds spent, or why there is no proof.
fn prove_job(ctx: &WorkerContext, id: &str) -> Result<(Vec<u8>, f64), String> {
    let sample = match ctx.db.input(id) {
        Ok(Some(s)) => s,
        Ok(None) => return Err("the job's input is missing from the database".into()),
        Err(e) => return Err(e.to_string()),
    };
    let t = Instant::now();
    let model = &ctx.model;
    let result = std::panic::catch_unwind(AssertUnwindSafe(|| {
        prove_with(&model.package, &model.keys, &sample, |phase| {
            ctx.jobs.set(id, Live::Proving(phase));
        })
        .map_err(|e| e.to_string())
    }));
    let seconds = t.elapsed().as_secs_f64();
    let proved = match result {
        Ok(Ok(p)) => p,
        Ok(Err(e)) => return Err(format!("proving failed: {e}")),
        Err(panic) => {
            let msg = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            return Err(format!("the prover panicked (a bug): {msg}"));
        }
    };
    let bytes = proved
        .file
        .to_bytes()
        .map_err(|e| format!("the proof does not encode: {e}"))?;
    Ok((bytes, seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_bound_the_queue() {
        let jobs = Jobs::new(2);
        let a = jobs.reserve().ok();
        let b = jobs.reserve().ok();
        assert!(a.is_some() && b.is_some());
        assert_eq!(jobs.reserve().err(), Some(QueueFull { depth: 2, limit: 2 }));
        drop(a);
        let c = jobs.reserve().ok();
        assert!(c.is_some(), "a dropped reservation gives its place back");
        if let (Some(b), Some(c)) = (b, c) {
            b.commit("x".into());
            c.commit("y".into());
        }
        assert_eq!(jobs.depth(), 2);
        assert_eq!(jobs.position("y"), Some(1));
        assert_eq!(jobs.live("x"), Some(Live::Queued));
        assert_eq!(jobs.reserve().err(), Some(QueueFull { depth: 2, limit: 2 }));
        assert_eq!(jobs.pop().as_deref(), Some("x"));
        jobs.close();
        assert_eq!(jobs.pop(), None, "a closed queue hands out nothing");
        jobs.finish("x");
        assert_eq!(jobs.live("x"), None);
    }
}
