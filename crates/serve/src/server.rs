//! Starting and stopping the service.
//!
//! Startup opens the job store, puts jobs interrupted by a crash back in the queue
//! ([`crate::db::Db::recover`]), starts the workers and then listens. Shutdown (the future
//! passed to [`serve`], e.g. SIGTERM or ctrl-c) stops accepting connections, answers waiting
//! requests with their job as it is, lets the workers finish the jobs they are proving (up to
//! the grace period; jobs still running then go back to `queued`), and leaves queued jobs in
//! the store for the next start.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{watch, Semaphore};

use crate::api::{router, Limits, Shared};
use crate::db::{Db, Recovery};
use crate::error::ServeError;
use crate::jobs::{now_ms, spawn_workers, Jobs, WorkerContext};
use crate::metrics::Metrics;
use crate::model::ServedModel;

/// Settings of [`serve`].
#[derive(Clone, Debug)]
pub struct ServeConfig {
    /// The SQLite job store (created if missing).
    pub db: PathBuf,
    /// Address to listen on; port 0 picks a free port.
    pub addr: String,
    /// Proving workers (each proof also uses all cores internally).
    pub workers: usize,
    /// Queued jobs above which predictions get 429.
    pub queue_limit: usize,
    pub limits: Limits,
    /// How long shutdown waits for running proofs before re-queueing them.
    pub shutdown_grace: Duration,
    /// Interrupted jobs are given up (failed) after this many attempts.
    pub max_attempts: u32,
    /// Log jobs and requests turned away on stderr.
    pub log: bool,
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            db: PathBuf::from("vouch.db"),
            addr: "127.0.0.1:8080".into(),
            workers: 1,
            queue_limit: 64,
            limits: Limits {
                max_body_bytes: 4 << 20,
                request_timeout: Duration::from_secs(30),
                wait_timeout: Duration::from_secs(120),
            },
            shutdown_grace: Duration::from_secs(60),
            max_attempts: 3,
            log: true,
        }
    }
}

impl ServeConfig {
    fn check(&self) -> Result<(), ServeError> {
        let bad = |m: &str| Err(ServeError::Config(m.into()));
        if self.workers == 0 || self.workers > 256 {
            return bad("--workers must be between 1 and 256");
        }
        if self.queue_limit == 0 {
            return bad("--queue-limit must be at least 1");
        }
        if self.limits.max_body_bytes < 1024 {
            return bad("--max-body must be at least 1024 bytes");
        }
        if self.limits.request_timeout.is_zero() {
            return bad("--request-timeout must be positive");
        }
        if self.max_attempts == 0 {
            return bad("max attempts must be at least 1");
        }
        Ok(())
    }
}

/// The server is listening.
#[derive(Clone, Debug)]
pub struct Started {
    pub addr: SocketAddr,
    pub recovery: Recovery,
}

/// How the server stopped.
#[derive(Clone, Debug, Default)]
pub struct Stopped {
    /// Jobs still queued in the store (proven at the next start).
    pub queued: usize,
    /// Jobs that were running when the grace period ended, put back to `queued`.
    pub requeued: Vec<String>,
}

/// Serves `model` until `shutdown` completes. `on_start` is called once the socket listens.
pub async fn serve(
    model: ServedModel,
    config: ServeConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
    on_start: impl FnOnce(&Started),
) -> Result<Stopped, ServeError> {
    config.check()?;
    let model = Arc::new(model);
    let db = Arc::new(Db::open(&config.db, model.digest_hex())?);
    let recovery = db.recover(config.max_attempts, now_ms())?;
    let listener = tokio::net::TcpListener::bind(&config.addr)
        .await
        .map_err(|source| ServeError::Bind {
            addr: config.addr.clone(),
            source,
        })?;
    let addr = listener.local_addr()?;

    let jobs = Jobs::new(config.queue_limit);
    let metrics = Arc::new(Metrics::default());
    metrics
        .recovered
        .store(recovery.queued.len() as u64, Ordering::Relaxed);
    jobs.requeue_recovered(recovery.queued.clone());
    let ctx = WorkerContext {
        model: Arc::clone(&model),
        db: Arc::clone(&db),
        jobs: Arc::clone(&jobs),
        metrics: Arc::clone(&metrics),
        log: config.log,
    };
    let workers = spawn_workers(&ctx, config.workers)?;

    let (down_tx, down_rx) = watch::channel(false);
    let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
    let state = Arc::new(Shared {
        model,
        db: Arc::clone(&db),
        jobs: Arc::clone(&jobs),
        metrics,
        limits: config.limits,
        workers: config.workers,
        shutdown: down_rx.clone(),
        cpu: Arc::new(Semaphore::new(cpus)),
    });
    on_start(&Started { addr, recovery });

    let signal = async move {
        shutdown.await;
        let _ = down_tx.send(true);
    };
    let app = router(state);
    let mut server = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(signal)
            .await
    });
    let mut down = down_rx.clone();
    tokio::select! {
        r = &mut server => {
            jobs.close();
            r.map_err(|e| ServeError::Io(std::io::Error::other(e)))??;
        }
        _ = down.wait_for(|d| *d) => {
            // Stop handing out jobs now; let in-flight requests finish (waiters were woken).
            jobs.close();
            if tokio::time::timeout(config.limits.request_timeout, &mut server).await.is_err() {
                server.abort();
            }
        }
    }

    // Workers finish the job they hold, up to the grace period.
    let join = tokio::task::spawn_blocking(move || {
        for w in workers {
            let _ = w.join();
        }
    });
    let mut stopped = Stopped::default();
    if tokio::time::timeout(config.shutdown_grace, join)
        .await
        .is_err()
    {
        for id in jobs.running_ids() {
            if db.requeue(&id)? {
                stopped.requeued.push(id);
            }
        }
    }
    stopped.queued = db.counts()?.queued as usize;
    Ok(stopped)
}

/// Completes on ctrl-c or (on Unix) SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}

/// Runs [`serve`] on a new multi-threaded runtime until ctrl-c or SIGTERM.
pub fn run(
    model: ServedModel,
    config: ServeConfig,
    on_start: impl FnOnce(&Started),
) -> Result<Stopped, ServeError> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("vouch-serve")
        .build()?;
    let stopped = rt.block_on(serve(model, config, shutdown_signal(), on_start));
    // A worker still proving after the grace period holds a blocking task: do not wait for it
    // (its job is back in the queue).
    rt.shutdown_timeout(Duration::from_millis(200));
    stopped
}
