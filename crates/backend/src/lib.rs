//! # vouch-backend: what every proving backend implements
//!
//! A backend proves a [`Statement`]: "program P (digest D) applied to inputs and weights gives
//! outputs", with each of input / weights / output public, committed or private. This crate holds
//! the parts shared by all backends; the halo2 and gkr backends implement [`Backend`].
//!
//! | module | purpose |
//! |---|---|
//! | [`statement`] | statements, visibility, presets, the canonical bytes a transcript absorbs first |
//! | [`backend`] | the [`Backend`] trait and the [`Witness`] it proves |
//! | [`mock`] | a backend without cryptography that checks every node and names the first failure |
//! | [`cost`] | an op-level cost model: multiply-accumulates, lookups, range checks, wiring |
//!
//! **Security:** [`mock::MockBackend`] proves nothing to a third party (its "proof" is the
//! witness); it exists to test programs, witnesses and tamper detection.

pub mod backend;
pub mod conformance;
pub mod cost;
pub mod mock;
pub mod statement;

pub use backend::{Backend, Witness};
pub use cost::{estimate, CostReport};
pub use statement::{Commitment, PublicTensor, Role, Statement, Visibility, VisibilityPolicy};
