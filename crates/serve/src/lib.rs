//! # Vouch proving service
//!
//! `vouch serve` answers predictions at once with the reference interpreter and proves each
//! one in the background; `vouch client predict` fetches the model's keys, submits an input,
//! waits for the proof and verifies it locally against a pinned model digest (and weights
//! commitment) before it shows the output. Endpoints, persistence and limits are described in
//! `docs/serve.md`; the OpenAPI document is served at `/openapi.json`.
//!
//! **Security.** A proof convinces the client only as far as the keys do: keys from an
//! insecure dev setup prove nothing, and the client reports them as such. The model digest
//! (and, for hashed weights, the weights commitment) must be pinned from a source the client
//! trusts, not taken from the server. The server never exposes `weights.blinding`.
//!
//! | module | purpose |
//! |---|---|
//! | [`wire`] | JSON bodies shared by the server and the client |
//! | [`model`] | the served model and keys, input validation |
//! | [`db`] | the SQLite job store (jobs, inputs, outputs, proofs) |
//! | [`jobs`] | the bounded queue, live job states, the proving worker pool |
//! | [`metrics`] | counters and the prove-time histogram, in Prometheus text |
//! | [`openapi`] | the OpenAPI document |
//! | [`api`] | HTTP routes and error responses |
//! | [`server`] | startup, recovery after a crash, graceful shutdown |
//! | [`client`] | the blocking client and the checks it makes before trusting an output |
//!
//! ```no_run
//! use vouch_serve::client::{Client, Pins};
//! let client = Client::new("http://127.0.0.1:8080", std::time::Duration::from_secs(30))?;
//! let info = client.model()?;
//! println!("serving model {}", info.digest);
//! # Ok::<(), vouch_serve::ClientError>(())
//! ```

pub mod api;
pub mod client;
pub mod db;
pub mod error;
pub mod jobs;
pub mod metrics;
pub mod model;
pub mod openapi;
pub mod server;
pub mod wire;

pub use error::{ClientError, DbError, ServeError};
