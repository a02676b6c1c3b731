//! Typed errors of the server (startup and job store) and of the client.

use thiserror::Error;

/// Errors that stop the server from starting or running.
#[derive(Debug, Error)]
pub enum ServeError {
    #[error(transparent)]
    Vouch(Box<vouch::VouchError>),
    #[error(transparent)]
    Db(#[from] DbError),
    /// The model package and the keys directory do not belong together.
    #[error("keys: {0}")]
    Keys(String),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    #[error("server: {0}")]
    Io(#[from] std::io::Error),
    #[error("invalid setting: {0}")]
    Config(String),
}

/// Errors of the SQLite job store.
#[derive(Debug, Error)]
pub enum DbError {
    #[error("job database {path}: {source}")]
    Open {
        path: String,
        #[source]
        source: rusqlite::Error,
    },
    #[error("job database ({what}): {source}")]
    Sql {
        what: &'static str,
        #[source]
        source: rusqlite::Error,
    },
    /// The database holds jobs of another model.
    #[error("job database {path} holds jobs of model {found}, but the served model is {served}; use another --db file for this model")]
    OtherModel {
        path: String,
        found: String,
        served: String,
    },
    /// A row that does not parse (the file was edited or damaged).
    #[error("job database: job {id}: {msg}")]
    Corrupt { id: String, msg: String },
    #[error("job database: the connection lock was poisoned by a panic")]
    Poisoned,
}

impl DbError {
    pub(crate) fn sql(what: &'static str) -> impl FnOnce(rusqlite::Error) -> Self {
        move |source| DbError::Sql { what, source }
    }
}

/// Errors of the client. A proof that does not check out is not an error but a
/// [`crate::client::Outcome`] with its reasons.
#[derive(Debug, Error)]
pub enum ClientError {
    /// The server could not be reached or the connection broke.
    #[error("{url}: {source}")]
    Transport {
        url: String,
        #[source]
        source: Box<ureq::Error>,
    },
    /// The server answered with an error status.
    #[error("{url}: HTTP {status}: {message}")]
    Status {
        url: String,
        status: u16,
        message: String,
    },
    /// The server answered with something that is not what the API says.
    #[error("{url}: unexpected answer: {msg}")]
    Protocol { url: String, msg: String },
    /// The proof did not arrive in time.
    #[error("job {id}: no proof after {seconds} s (status {status}); ask again later with GET /v1/jobs/{id}")]
    Timeout {
        id: String,
        seconds: u64,
        status: String,
    },
    #[error(transparent)]
    Vouch(Box<vouch::VouchError>),
    #[error("{0}")]
    Usage(String),
}

impl From<vouch::VouchError> for ClientError {
    fn from(e: vouch::VouchError) -> Self {
        ClientError::Vouch(Box::new(e))
    }
}

impl From<vouch::VouchError> for ServeError {
    fn from(e: vouch::VouchError) -> Self {
        ServeError::Vouch(Box::new(e))
    }
}
