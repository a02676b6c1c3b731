//! Proofs of whole IR programs: the program is lowered to columns and constraints
//! ([`plan`]), the prover computes every column ([`witness`]), commits to the committed ones in
//! one trace and reduces every constraint to evaluation claims ([`protocol`]).
//!
//! **Scope today:** fixed (public) weights and a public output; the input public
//! ([`protocol`]) or private, in which case the proof is zero-knowledge ([`zk`]). Hashed
//! (linkable) inputs and hidden weights are refused with [`plan::PlanError::Visibility`]
//! (`docs/gkr.md`).

mod bounds;
mod fuse;
pub mod maps;
pub mod plan;
pub mod protocol;
pub mod witness;
pub mod zk;

use thiserror::Error;

use crate::codec::{DecodeError, Reader, Writer};
use crate::logup::{LookupError, LookupProof};
use crate::pcs::{OpeningProof, PcsError, TensorCommitment};
use crate::sumcheck::{SumcheckError, SumcheckProof, MAX_DEGREE, MAX_VARS};

pub use plan::{Plan, PlanError};
pub use protocol::{prove, prove_linked, verify, verify_linked, ProgramProof};

/// Why a program proof could not be made or was rejected.
#[derive(Debug, Error)]
pub enum ProgramError {
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error("the witness is not a run of the program: {what}")]
    Witness { what: String },
    #[error("proof rejected at {node}: {what} does not hold")]
    Rejected { node: String, what: &'static str },
    #[error("malformed proof: {0}")]
    Malformed(&'static str),
    #[error("statement does not fit the program: {0}")]
    Statement(String),
    #[error("internal error: {0}")]
    Internal(&'static str),
    #[error("no randomness for the commitment: {0}")]
    Randomness(String),
    #[error("sumcheck: {0}")]
    Sumcheck(#[from] SumcheckError),
    #[error("lookup: {0}")]
    Lookup(#[from] LookupError),
    #[error("commitment: {0}")]
    Pcs(#[from] PcsError),
    #[error("proof bytes: {0}")]
    Decode(#[from] DecodeError),
}

impl ProgramError {
    pub(crate) fn witness(node: &str, what: &str) -> Self {
        ProgramError::Witness {
            what: format!("node {node}: {what}"),
        }
    }

    pub(crate) fn rejected(node: &str, what: &'static str) -> Self {
        ProgramError::Rejected {
            node: node.to_string(),
            what,
        }
    }
}

const MAGIC: &[u8; 4] = b"VGPP";
/// 2: linked openings before the trace opening.
const VERSION: u8 = 2;

impl ProgramProof {
    /// `"VGPP" ‖ version ‖ commitment (32) ‖ u32 count ‖ evals ‖ u32 count ‖ (u32 rounds ‖
    /// u8 width ‖ round evals)* ‖ u32 count ‖ (u32 len ‖ lookup proof)* ‖ u32 count ‖
    /// (u32 len ‖ linked opening)* ‖ opening`.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::default();
        w.header(MAGIC, VERSION);
        w.raw(&self.commitment.0);
        w.u32(self.evals.len() as u32);
        self.evals.iter().for_each(|&e| w.ext(e));
        w.u32(self.sumchecks.len() as u32);
        for s in &self.sumchecks {
            w.u32(s.rounds.len() as u32);
            w.u8(s.rounds.first().map_or(0, Vec::len) as u8);
            s.rounds.iter().flatten().for_each(|&e| w.ext(e));
        }
        w.u32(self.lookups.len() as u32);
        for l in &self.lookups {
            let b = l.to_bytes();
            w.u32(b.len() as u32);
            w.raw(&b);
        }
        w.u32(self.linked_openings.len() as u32);
        for o in &self.linked_openings {
            let b = o.to_bytes();
            w.u32(b.len() as u32);
            w.raw(&b);
        }
        w.raw(&self.opening.to_bytes());
        w.bytes
    }

    /// Parses [`ProgramProof::to_bytes`]. Never panics; counts are bounded by the bytes left.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ProgramError> {
        let mut r = Reader::new(bytes);
        r.header(MAGIC, VERSION, "gkr program")?;
        let commitment = TensorCommitment(r.array::<32>()?);
        let n = bounded(&mut r, "evaluations", 24)?;
        let evals = (0..n).map(|_| r.ext()).collect::<Result<_, _>>()?;
        let n = bounded(&mut r, "sumchecks", 5)?;
        let mut sumchecks = Vec::with_capacity(n);
        for _ in 0..n {
            let rounds = r.u32()? as usize;
            if rounds > MAX_VARS {
                return Err(DecodeError::TooLarge {
                    what: "sumcheck rounds",
                    max: MAX_VARS,
                    got: rounds,
                }
                .into());
            }
            let width = r.u8()? as usize;
            if width > MAX_DEGREE + 1 || (rounds > 0 && width < 2) || (rounds == 0 && width != 0) {
                return Err(ProgramError::Malformed("sumcheck round width"));
            }
            let mut rs = Vec::with_capacity(rounds);
            for _ in 0..rounds {
                rs.push((0..width).map(|_| r.ext()).collect::<Result<Vec<_>, _>>()?);
            }
            sumchecks.push(SumcheckProof { rounds: rs });
        }
        let n = bounded(&mut r, "lookups", 4)?;
        let mut lookups = Vec::with_capacity(n);
        for _ in 0..n {
            let len = r.u32()? as usize;
            lookups.push(LookupProof::from_bytes(r.take(len)?)?);
        }
        let n = bounded(&mut r, "linked openings", 4)?;
        let mut linked_openings = Vec::with_capacity(n);
        for _ in 0..n {
            let len = r.u32()? as usize;
            linked_openings.push(OpeningProof::from_bytes(r.take(len)?)?);
        }
        let opening = OpeningProof::from_bytes(r.take(r.remaining())?)?;
        Ok(ProgramProof {
            commitment,
            evals,
            sumchecks,
            lookups,
            linked_openings,
            opening,
        })
    }
}

/// Reads a count whose items take at least `min_bytes` each, refusing counts the remaining
/// bytes cannot hold (so hostile counts never allocate).
fn bounded(
    r: &mut Reader<'_>,
    what: &'static str,
    min_bytes: usize,
) -> Result<usize, ProgramError> {
    let n = r.u32()? as usize;
    let max = r.remaining() / min_bytes;
    if n > max {
        return Err(DecodeError::TooLarge { what, max, got: n }.into());
    }
    Ok(n)
}
