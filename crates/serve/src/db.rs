//! The job store: one SQLite file (bundled SQLite, WAL journal, `synchronous = FULL`) holding
//! every job's input, interpreter output, status and proof.
//!
//! A job is inserted (status `queued`) before its id is returned to the client, so an accepted
//! job is on disk. A worker moves it to `proving` (counting the attempt), then to `done` with
//! the proof or to `failed` with the reason, each in one transaction. [`Db::recover`], run at
//! startup, puts every `proving` job back to `queued` (the process that proved it died), so
//! every accepted job is proven once it is done; a done job is never changed again.

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use rusqlite::{params, Connection, OptionalExtension};
use vouch::onnx::quantize::Sample;

use crate::error::DbError;
use crate::wire::{JobStatus, OutputView};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS jobs (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    id          TEXT NOT NULL UNIQUE,
    status      TEXT NOT NULL CHECK (status IN ('queued', 'proving', 'done', 'failed')),
    input       TEXT NOT NULL,
    output      TEXT NOT NULL,
    proof       BLOB,
    error       TEXT,
    attempts    INTEGER NOT NULL DEFAULT 0,
    created_ms  INTEGER NOT NULL,
    started_ms  INTEGER,
    finished_ms INTEGER,
    prove_ms    REAL
);
CREATE INDEX IF NOT EXISTS jobs_open ON jobs (status, seq);
";

/// A job as stored, without its input.
#[derive(Clone, Debug, PartialEq)]
pub struct JobRecord {
    pub id: String,
    pub status: JobStatus,
    pub output: Vec<OutputView>,
    /// The proof file bytes, when done.
    pub proof: Option<Vec<u8>>,
    pub error: Option<String>,
    pub attempts: u32,
    pub created_ms: i64,
    pub started_ms: Option<i64>,
    pub finished_ms: Option<i64>,
    pub prove_ms: Option<f64>,
}

/// What [`Db::recover`] found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Recovery {
    /// Jobs to prove, oldest first (queued ones and interrupted ones).
    pub queued: Vec<String>,
    /// Jobs that were proving when the process stopped.
    pub interrupted: Vec<String>,
    /// Interrupted jobs given up after too many attempts (now `failed`).
    pub abandoned: Vec<String>,
}

/// Number of jobs in each status.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub queued: u64,
    pub proving: u64,
    pub done: u64,
    pub failed: u64,
}

/// The job store. One connection behind a mutex: every statement is short.
#[derive(Debug)]
pub struct Db {
    conn: Mutex<Connection>,
}

impl Db {
    /// Opens (or creates) the store for the model with digest `model_digest`; a store holding
    /// another model's jobs is refused.
    pub fn open(path: &Path, model_digest: &str) -> Result<Self, DbError> {
        let open_err = |source| DbError::Open {
            path: path.display().to_string(),
            source,
        };
        let conn = Connection::open(path).map_err(open_err)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(open_err)?;
        let mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .map_err(open_err)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(DbError::Open {
                path: path.display().to_string(),
                source: rusqlite::Error::InvalidParameterName(format!(
                    "journal mode is {mode}, WAL could not be enabled"
                )),
            });
        }
        // FULL: a committed job (and proof) survives power loss, not only a process crash.
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(open_err)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(open_err)?;
        conn.execute_batch(SCHEMA).map_err(open_err)?;
        let found: Option<String> = conn
            .query_row(
                "SELECT value FROM meta WHERE key = 'model_digest'",
                [],
                |r| r.get(0),
            )
            .optional()
            .map_err(open_err)?;
        match found {
            Some(found) if found != model_digest => {
                return Err(DbError::OtherModel {
                    path: path.display().to_string(),
                    found,
                    served: model_digest.into(),
                })
            }
            Some(_) => {}
            None => {
                conn.execute(
                    "INSERT INTO meta (key, value) VALUES ('model_digest', ?1)",
                    params![model_digest],
                )
                .map_err(open_err)?;
            }
        }
        Ok(Db {
            conn: Mutex::new(conn),
        })
    }

    fn conn(&self) -> Result<MutexGuard<'_, Connection>, DbError> {
        self.conn.lock().map_err(|_| DbError::Poisoned)
    }

    /// Stores a new queued job.
    pub fn insert(
        &self,
        id: &str,
        input: &Sample,
        output: &[OutputView],
        now_ms: i64,
    ) -> Result<(), DbError> {
        let input = json(id, input)?;
        let output = json(id, output)?;
        self.conn()?
            .execute(
                "INSERT INTO jobs (id, status, input, output, created_ms) VALUES (?1, 'queued', ?2, ?3, ?4)",
                params![id, input, output, now_ms],
            )
            .map_err(DbError::sql("insert job"))?;
        Ok(())
    }

    /// A job without its input, or `None` for an unknown id.
    pub fn get(&self, id: &str) -> Result<Option<JobRecord>, DbError> {
        let conn = self.conn()?;
        let row = conn
            .query_row(
                "SELECT status, output, proof, error, attempts, created_ms, started_ms, finished_ms, prove_ms
                 FROM jobs WHERE id = ?1",
                params![id],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, Option<Vec<u8>>>(2)?,
                        r.get::<_, Option<String>>(3)?,
                        r.get::<_, u32>(4)?,
                        r.get::<_, i64>(5)?,
                        r.get::<_, Option<i64>>(6)?,
                        r.get::<_, Option<i64>>(7)?,
                        r.get::<_, Option<f64>>(8)?,
                    ))
                },
            )
            .optional()
            .map_err(DbError::sql("read job"))?;
        let Some((status, output, proof, error, attempts, created, started, finished, prove)) = row
        else {
            return Ok(None);
        };
        let corrupt = |msg: String| DbError::Corrupt { id: id.into(), msg };
        Ok(Some(JobRecord {
            id: id.into(),
            status: JobStatus::parse(&status)
                .ok_or_else(|| corrupt(format!("unknown status '{status}'")))?,
            output: serde_json::from_str(&output).map_err(|e| corrupt(format!("output: {e}")))?,
            proof,
            error,
            attempts,
            created_ms: created,
            started_ms: started,
            finished_ms: finished,
            prove_ms: prove,
        }))
    }

    /// A job's input values.
    pub fn input(&self, id: &str) -> Result<Option<Sample>, DbError> {
        let text: Option<String> = self
            .conn()?
            .query_row("SELECT input FROM jobs WHERE id = ?1", params![id], |r| {
                r.get(0)
            })
            .optional()
            .map_err(DbError::sql("read job input"))?;
        text.map(|t| {
            serde_json::from_str(&t).map_err(|e| DbError::Corrupt {
                id: id.into(),
                msg: format!("input: {e}"),
            })
        })
        .transpose()
    }

    /// Moves a queued job to `proving` and counts the attempt. `false` when the job is not
    /// queued (already taken or finished).
    pub fn start(&self, id: &str, now_ms: i64) -> Result<bool, DbError> {
        let n = self
            .conn()?
            .execute(
                "UPDATE jobs SET status = 'proving', attempts = attempts + 1, started_ms = ?2
                 WHERE id = ?1 AND status = 'queued'",
                params![id, now_ms],
            )
            .map_err(DbError::sql("start job"))?;
        Ok(n == 1)
    }

    /// Stores the proof of a proving job. `false` when the job was not proving.
    pub fn finish_done(
        &self,
        id: &str,
        proof: &[u8],
        now_ms: i64,
        prove_ms: f64,
    ) -> Result<bool, DbError> {
        let n = self
            .conn()?
            .execute(
                "UPDATE jobs SET status = 'done', proof = ?2, error = NULL, finished_ms = ?3, prove_ms = ?4
                 WHERE id = ?1 AND status = 'proving'",
                params![id, proof, now_ms, prove_ms],
            )
            .map_err(DbError::sql("store proof"))?;
        Ok(n == 1)
    }

    /// Marks a proving job failed. `false` when the job was not proving.
    pub fn finish_failed(&self, id: &str, reason: &str, now_ms: i64) -> Result<bool, DbError> {
        let n = self
            .conn()?
            .execute(
                "UPDATE jobs SET status = 'failed', error = ?2, finished_ms = ?3
                 WHERE id = ?1 AND status = 'proving'",
                params![id, reason, now_ms],
            )
            .map_err(DbError::sql("fail job"))?;
        Ok(n == 1)
    }

    /// Puts a proving job back in the queue (graceful shutdown with a job still running).
    pub fn requeue(&self, id: &str) -> Result<bool, DbError> {
        let n = self
            .conn()?
            .execute(
                "UPDATE jobs SET status = 'queued' WHERE id = ?1 AND status = 'proving'",
                params![id],
            )
            .map_err(DbError::sql("requeue job"))?;
        Ok(n == 1)
    }

    /// At startup: jobs left `proving` by a process that stopped go back to `queued`, unless
    /// they were already started `max_attempts` times (then `failed`: they may be what kills
    /// the process). Returns every queued job, oldest first.
    pub fn recover(&self, max_attempts: u32, now_ms: i64) -> Result<Recovery, DbError> {
        let mut conn = self.conn()?;
        let tx = conn.transaction().map_err(DbError::sql("recover"))?;
        let interrupted: Vec<(String, u32)> = {
            let mut st = tx
                .prepare("SELECT id, attempts FROM jobs WHERE status = 'proving' ORDER BY seq")
                .map_err(DbError::sql("recover"))?;
            let rows = st
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
                .map_err(DbError::sql("recover"))?;
            rows.collect::<Result<_, _>>()
                .map_err(DbError::sql("recover"))?
        };
        let mut rec = Recovery::default();
        for (id, attempts) in interrupted {
            if attempts >= max_attempts {
                tx.execute(
                    "UPDATE jobs SET status = 'failed', finished_ms = ?2, error = ?3 WHERE id = ?1",
                    params![
                        id,
                        now_ms,
                        format!(
                            "the server stopped while proving this job {attempts} times; given up"
                        )
                    ],
                )
                .map_err(DbError::sql("recover"))?;
                rec.abandoned.push(id);
            } else {
                tx.execute(
                    "UPDATE jobs SET status = 'queued' WHERE id = ?1",
                    params![id],
                )
                .map_err(DbError::sql("recover"))?;
                rec.interrupted.push(id);
            }
        }
        rec.queued = {
            let mut st = tx
                .prepare("SELECT id FROM jobs WHERE status = 'queued' ORDER BY seq")
                .map_err(DbError::sql("recover"))?;
            let rows = st
                .query_map([], |r| r.get(0))
                .map_err(DbError::sql("recover"))?;
            rows.collect::<Result<_, _>>()
                .map_err(DbError::sql("recover"))?
        };
        tx.commit().map_err(DbError::sql("recover"))?;
        Ok(rec)
    }

    /// Number of jobs in each status.
    pub fn counts(&self) -> Result<Counts, DbError> {
        let conn = self.conn()?;
        let mut st = conn
            .prepare("SELECT status, COUNT(*) FROM jobs GROUP BY status")
            .map_err(DbError::sql("count jobs"))?;
        let rows = st
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
            .map_err(DbError::sql("count jobs"))?;
        let mut c = Counts::default();
        for row in rows {
            let (status, n) = row.map_err(DbError::sql("count jobs"))?;
            let n = n.max(0) as u64;
            match JobStatus::parse(&status) {
                Some(JobStatus::Queued) => c.queued = n,
                Some(JobStatus::Proving) => c.proving = n,
                Some(JobStatus::Done) => c.done = n,
                Some(JobStatus::Failed) => c.failed = n,
                None => {}
            }
        }
        Ok(c)
    }
}

fn json<T: serde::Serialize + ?Sized>(id: &str, v: &T) -> Result<String, DbError> {
    serde_json::to_string(v).map_err(|e| DbError::Corrupt {
        id: id.into(),
        msg: format!("does not serialize: {e}"),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn out() -> Vec<OutputView> {
        vec![OutputView {
            name: "y".into(),
            shape: vec![1, 2],
            values: vec![0.5, -1.25],
            quantized: vec![2, -5],
            scale: Some(0.25),
        }]
    }

    #[test]
    fn lifecycle_and_recovery() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("jobs.db");
        let db = Db::open(&path, "aa").unwrap();
        let input: Sample = vec![vec![0.1, 1e-7, -3.5]];
        for id in ["a", "b", "c", "d"] {
            db.insert(id, &input, &out(), 1).unwrap();
        }
        assert!(db.insert("a", &input, &out(), 1).is_err(), "duplicate id");
        assert_eq!(
            db.input("a").unwrap().unwrap(),
            input,
            "inputs round-trip exactly"
        );
        assert!(db.start("a", 2).unwrap());
        assert!(!db.start("a", 2).unwrap(), "a job is taken once");
        assert!(db.finish_done("a", b"proof", 3, 1.5).unwrap());
        assert!(
            !db.finish_done("a", b"other", 3, 1.5).unwrap(),
            "done is final"
        );
        assert!(db.start("b", 2).unwrap());
        assert!(db.finish_failed("b", "boom", 3).unwrap());
        assert!(db.start("c", 2).unwrap());
        let a = db.get("a").unwrap().unwrap();
        assert_eq!(a.status, JobStatus::Done);
        assert_eq!(a.proof.as_deref(), Some(&b"proof"[..]));
        assert_eq!(a.output, out());
        assert_eq!(a.attempts, 1);
        assert_eq!(db.get("b").unwrap().unwrap().error.as_deref(), Some("boom"));
        assert!(db.get("zz").unwrap().is_none());
        drop(db);

        // Reopened as after a crash: c (proving) and d (queued) are to be proven.
        let db = Db::open(&path, "aa").unwrap();
        let rec = db.recover(3, 9).unwrap();
        assert_eq!(rec.queued, vec!["c".to_string(), "d".to_string()]);
        assert_eq!(rec.interrupted, vec!["c".to_string()]);
        let c = db.counts().unwrap();
        assert_eq!((c.queued, c.proving, c.done, c.failed), (2, 0, 1, 1));
        // A job that keeps killing the process is given up.
        assert!(db.start("c", 10).unwrap());
        assert_eq!(
            db.recover(3, 11).unwrap().interrupted,
            vec!["c".to_string()]
        );
        assert!(db.start("c", 10).unwrap());
        let rec = db.recover(3, 11).unwrap();
        assert_eq!(rec.abandoned, vec!["c".to_string()]);
        assert_eq!(db.get("c").unwrap().unwrap().status, JobStatus::Failed);
        drop(db);

        let err = Db::open(&path, "bb").unwrap_err();
        assert!(err.to_string().contains("holds jobs of model aa"), "{err}");
    }
}
