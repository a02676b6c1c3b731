//! # vouch-gkr: sumcheck/GKR proofs of Vouch IR programs
//!
//! **Security status:** [`backend::GkrBackend`] proves whole IR programs with public inputs
//! and outputs and fixed (public) weights: sound verifiable computation, nothing hidden.
//! Policies with hidden tensors are refused until the sumchecks are masked; the commitment
//! openings are already zero-knowledge (HVZK-WHIR). The protocol is written down in
//! `docs/gkr.md`.
//!
//! | module | purpose |
//! |---|---|
//! | [`field`] | Goldilocks `F`, challenge field `EF` = degree-3 extension (~2^192), IR embedding, soundness per round |
//! | [`transcript`] | Fiat–Shamir over SHA-256 (Plonky3 challenger), absorbing the statement first |
//! | [`mle`] | multilinear extensions: eq tables, folding, evaluation, matrix slices |
//! | [`sumcheck`] | prover/verifier for sums of products of multilinears |
//! | [`matmul`] | Thaler's matmul sumcheck: `C = A·B` reduced to openings of Ã and B̃ |
//! | [`committed_matmul`] | `C = A·B` with B hidden behind a [`pcs`] commitment (weights bound to the proof) |
//! | [`committed_range`] | every value of a committed tensor in a signed range (LogUp-GKR on committed columns) |
//! | [`logup`] | LogUp lookups (range checks, activation tables) proved by fractional-sum GKR |
//! | [`pcs`] | hiding multilinear commitments to tensors (HVZK-WHIR), opened at sumcheck points |
//! | [`codec`] | panic-free proof byte parsing |
//! | [`program`] | whole programs: lowering to columns and constraints, one trace commitment, the proof |
//! | [`backend`] | the [`vouch_backend::Backend`] implementation (`--backend gkr`) |
//!
//! ```
//! use vouch_gkr::matmul::{self, MatmulClaim, MatmulShape};
//! use vouch_gkr::transcript::Transcript;
//!
//! let shape = MatmulShape { m: 2, k: 3, n: 2 };
//! let (a, b) = (vec![1, 2, 3, 4, 5, 6], vec![1, 0, 0, 1, -1, 2]);
//! let c = matmul::reference_product(shape, &a, &b);
//! let claim = MatmulClaim { shape, a: &a, b: &b, c: &c };
//! let statement = b"the statement's canonical bytes";
//! let proof = matmul::prove(&mut Transcript::from_statement_bytes(statement), &claim)?;
//! let bytes = proof.to_bytes();
//! let parsed = matmul::MatmulProof::from_bytes(&bytes)?;
//! matmul::verify(&mut Transcript::from_statement_bytes(statement), &claim, &parsed)?;
//! # Ok::<(), vouch_gkr::matmul::MatmulError>(())
//! ```

pub mod backend;
pub mod codec;
pub mod committed_matmul;
pub mod committed_range;
pub mod field;
pub mod link;
pub mod logup;
pub mod matmul;
pub mod mle;
pub mod pcs;
pub mod program;
pub mod sumcheck;
#[cfg(test)]
mod test_util;
pub mod transcript;
