//! Range proofs for committed tensors: every value of a tensor behind a [`crate::pcs`]
//! commitment lies in the signed range [−2^(b−1), 2^(b−1)). Made once per commitment (e.g. when
//! a model's weights are published), it is what lets a verifier use the range in later proofs
//! about the hidden tensor — the accumulator bound of [`crate::committed_matmul`].
//!
//! The LogUp-GKR argument of [`crate::logup`] runs on the committed column, with the
//! multiplicities (a histogram of the hidden values, so hidden too) committed in a second, fresh
//! commitment. Both commitments are absorbed before the first challenge; the argument's two
//! final openings (column at ρ_w, multiplicities at ρ_t) are proved against them.
//!
//! Soundness: LogUp membership holds for *any* field multiplicities (a looked-up value outside
//! the table is a pole of the left side with coefficient = its count, non-zero as counts are
//! ≤ n < p, and no pole of the right side), so committed multiplicities need no range of their
//! own. The error is the lookup's ([`crate::logup::soundness_bits`]) plus the two openings'.
//!
//! Not yet zero-knowledge: the GKR layer messages and the opened values are functionals of the
//! hidden tensor (see `docs/gkr.md`).

use thiserror::Error;

use crate::codec::{DecodeError, Reader, Writer};
use crate::field::{embed, F};
use crate::logup::{self, LookupClaim, LookupError, LookupProof, Table};
use crate::pcs::{CommittedTensor, OpeningProof, PcsError, TensorCommitment, TensorPcs};
use crate::transcript::Transcript;

const MAGIC: &[u8; 4] = b"VGCR";
const VERSION: u8 = 1;
/// Widest range proved here: [−2^23, 2^23) (a table of 2^24 entries).
pub const MAX_BITS: u32 = 24;

/// Why a committed range claim or proof was rejected.
#[derive(Debug, Error)]
pub enum CommittedRangeError {
    #[error(transparent)]
    Lookup(#[from] LookupError),
    #[error("commitment: {0}")]
    Pcs(#[from] PcsError),
    #[error("range of {bits} bits: 1..={MAX_BITS} supported")]
    Bits { bits: u32 },
    #[error("{got} values given, the commitment holds {expected}")]
    Length { expected: usize, got: usize },
    #[error("the {what} opening does not match the value the lookup argument used")]
    OpeningMismatch { what: &'static str },
    #[error("proof bytes: {0}")]
    Decode(#[from] DecodeError),
}

/// The proof: the multiplicities' commitment, the lookup argument, and the two openings.
#[derive(Clone, Debug)]
pub struct CommittedRangeProof {
    pub multiplicity_commitment: TensorCommitment,
    pub lookup: LookupProof,
    pub column_opening: OpeningProof,
    pub multiplicity_opening: OpeningProof,
}

/// The signed table [−2^(bits−1), 2^(bits−1)).
fn table(bits: u32) -> Result<Table, CommittedRangeError> {
    if bits == 0 || bits > MAX_BITS {
        return Err(CommittedRangeError::Bits { bits });
    }
    Ok(Table::Range {
        lo: -(1i64 << (bits - 1)),
        bits,
    })
}

fn multiplicity_pcs(bits: u32) -> Result<TensorPcs, PcsError> {
    TensorPcs::for_len(1usize << bits)
}

fn absorb_header(
    t: &mut Transcript,
    bits: u32,
    column: &TensorCommitment,
    multiplicities: &TensorCommitment,
) {
    t.absorb_u64s(b"range/committed/bits", &[bits as u64]);
    column.absorb(t, b"range/committed/column");
    multiplicities.absorb(t, b"range/committed/multiplicities");
}

/// Proves that the tensor committed in `commitment` (under `pcs`; `values` is the whole
/// committed vector, 2^v entries with its padding) lies in [−2^(bits−1), 2^(bits−1)).
/// `multiplicity_seed` blinds the multiplicities' commitment (use fresh randomness).
pub fn prove(
    t: &mut Transcript,
    pcs: &TensorPcs,
    commitment: &TensorCommitment,
    values: &[i64],
    committed: CommittedTensor,
    bits: u32,
    multiplicity_seed: [u8; 32],
) -> Result<CommittedRangeProof, CommittedRangeError> {
    let table = table(bits)?;
    let n = 1usize << pcs.num_vars();
    if values.len() != n {
        return Err(CommittedRangeError::Length {
            expected: n,
            got: values.len(),
        });
    }
    let m = logup::multiplicities(&table, &[values])?;
    let m_pcs = multiplicity_pcs(bits)?;
    let m_field: Vec<F> = m.iter().map(|&c| embed(c as i64)).collect();
    let (m_commitment, m_data) = m_pcs.commit(&m_field, multiplicity_seed)?;
    absorb_header(t, bits, commitment, &m_commitment);
    let claim = LookupClaim {
        table: &table,
        columns: vec![values],
        multiplicities: &m,
    };
    let (lookup, openings) = logup::prove_bound_with_openings(t, &claim)?;
    let column_opening = pcs.open(commitment, committed, &[openings.lookup_point], t)?;
    let multiplicity_opening = m_pcs.open(
        &m_commitment,
        m_data,
        &[m_pcs.pad_point(&openings.table_point)],
        t,
    )?;
    Ok(CommittedRangeProof {
        multiplicity_commitment: m_commitment,
        lookup,
        column_opening,
        multiplicity_opening,
    })
}

/// Verifies a committed range proof for `commitment` (under `pcs`) and `bits`.
pub fn verify(
    t: &mut Transcript,
    pcs: &TensorPcs,
    commitment: &TensorCommitment,
    bits: u32,
    proof: &CommittedRangeProof,
) -> Result<(), CommittedRangeError> {
    let table = table(bits)?;
    let n = 1usize << pcs.num_vars();
    let m_pcs = multiplicity_pcs(bits)?;
    absorb_header(t, bits, commitment, &proof.multiplicity_commitment);
    let openings = logup::verify_bound(t, &table, n, &proof.lookup)?;
    let column = pcs.verify(
        commitment,
        std::slice::from_ref(&openings.lookup_point),
        &proof.column_opening,
        t,
    )?;
    if column.as_slice() != openings.column_evals.as_slice() {
        return Err(CommittedRangeError::OpeningMismatch { what: "column" });
    }
    let m = m_pcs.verify(
        &proof.multiplicity_commitment,
        &[m_pcs.pad_point(&openings.table_point)],
        &proof.multiplicity_opening,
        t,
    )?;
    if m.as_slice() != [openings.multiplicity_eval] {
        return Err(CommittedRangeError::OpeningMismatch {
            what: "multiplicities",
        });
    }
    Ok(())
}

impl CommittedRangeProof {
    /// `"VGCR" ‖ version ‖ multiplicity commitment (32) ‖ u32 len ‖ lookup proof ‖ u32 len ‖
    /// column opening ‖ multiplicity opening`.
    pub fn to_bytes(&self) -> Vec<u8> {
        let lookup = self.lookup.to_bytes();
        let column = self.column_opening.to_bytes();
        let mut w = Writer::default();
        w.header(MAGIC, VERSION);
        w.raw(&self.multiplicity_commitment.0);
        w.u32(lookup.len() as u32);
        w.raw(&lookup);
        w.u32(column.len() as u32);
        w.raw(&column);
        w.raw(&self.multiplicity_opening.to_bytes());
        w.bytes
    }

    /// Parses [`CommittedRangeProof::to_bytes`]. Never panics.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CommittedRangeError> {
        let mut r = Reader::new(bytes);
        r.header(MAGIC, VERSION, "committed range")?;
        let multiplicity_commitment = TensorCommitment(r.array::<32>()?);
        let len = r.u32()? as usize;
        let lookup = LookupProof::from_bytes(r.take(len)?)?;
        let len = r.u32()? as usize;
        let column_opening = OpeningProof::from_bytes(r.take(len)?)?;
        let multiplicity_opening = OpeningProof::from_bytes(r.take(r.remaining())?)?;
        Ok(CommittedRangeProof {
            multiplicity_commitment,
            lookup,
            column_opening,
            multiplicity_opening,
        })
    }
}
