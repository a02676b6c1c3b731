//! Matrix products with committed weights: `C = A·B` where only a hiding commitment to B is
//! public (the `provider` setting of a linear layer: input A and output C public, weights B
//! hidden but bound to the model's published commitment).
//!
//! The protocol is [`crate::matmul`]'s, with one change at the end: the verifier no longer
//! evaluates B̃(r_k, r_col) itself, it receives that value as an opening of the commitment
//! ([`crate::pcs`]) at the point (r_k ‖ r_col), proved against the commitment, which is
//! absorbed before the first challenge. A prover that runs the sumcheck on weights other than
//! the committed ones must either send their evaluation (which the opening contradicts) or the
//! committed one (which the final product check contradicts), except with the sumcheck's error.
//!
//! **Layout.** B (K×N, row-major) is committed as the 2^kv × 2^nv matrix with each dimension
//! zero-padded to a power of two (kv = ⌈log K⌉, nv = ⌈log N⌉), flattened row-major, so its
//! multilinear extension is B̃(k, col) with the k variables first; a commitment smaller than the
//! commitment minimum has extra leading variables, fixed to 0 in the opened point.
//!
//! **Ranges.** The verifier cannot see B, so the accumulator check K·max|A|·max|B| < 2^62 uses
//! the public bound `b_bound` (the IR weight range); [`prove`] refuses weights outside it.
//! A proof that the *committed* values lie in that range (a LogUp range check on the committed
//! tensor, done once per model) is not built yet: see `docs/gkr.md`.
//!
//! **Not yet zero-knowledge.** The opening hides B beyond the opened value, but the sumcheck
//! messages and the value B̃(r_k, r_col) itself are linear functionals of B; masking them is the
//! next step of the design.

use thiserror::Error;

use crate::codec::{DecodeError, Reader, Writer};
use crate::field::{embed, EF, F};
use crate::matmul::{
    self, BSide, MatmulClaim, MatmulError, MatmulProof, MatmulShape, OpeningPoints,
};
use crate::mle::num_vars;
use crate::pcs::{CommittedTensor, OpeningProof, PcsError, TensorCommitment, TensorPcs};
use crate::transcript::Transcript;

const MAGIC: &[u8; 4] = b"VGCM";
const VERSION: u8 = 1;

/// Why a committed matmul claim or proof was rejected.
#[derive(Debug, Error)]
pub enum CommittedMatmulError {
    /// The public part of the claim or the product proof is wrong.
    #[error(transparent)]
    Matmul(#[from] MatmulError),
    /// The commitment opening failed.
    #[error("weights commitment: {0}")]
    Pcs(#[from] PcsError),
    /// The opened weight value differs from the one the product proof used.
    #[error("the committed weights do not give the value the product proof used")]
    WeightsMismatch,
    /// A weight lies outside the declared public bound.
    #[error("weight {value} at index {index} exceeds the declared bound ±{bound}")]
    WeightOutOfBound {
        /// Position in B.
        index: usize,
        /// The weight.
        value: i64,
        /// The declared bound.
        bound: u64,
    },
    /// Proof bytes are malformed.
    #[error("proof bytes: {0}")]
    Decode(#[from] DecodeError),
}

/// The public claim: `c = a · B` for the B committed in `b_commitment`, |B_ij| ≤ `b_bound`.
#[derive(Clone, Copy, Debug)]
pub struct CommittedMatmulClaim<'a> {
    pub shape: MatmulShape,
    pub a: &'a [i64],
    pub c: &'a [i64],
    /// Public bound on |B_ij| (from the IR's weight range).
    pub b_bound: u64,
    pub b_commitment: &'a TensorCommitment,
}

/// The product proof plus the opening of the weights commitment.
#[derive(Clone, Debug)]
pub struct CommittedMatmulProof {
    pub product: MatmulProof,
    pub opening: OpeningProof,
}

/// Commitment parameters for the weights of `shape` (B is K×N).
pub fn weights_pcs(shape: MatmulShape) -> Result<TensorPcs, PcsError> {
    let vars = num_vars(shape.k) + num_vars(shape.n);
    TensorPcs::for_len(1usize.checked_shl(vars as u32).unwrap_or(usize::MAX))
}

/// B laid out for commitment: each dimension padded to a power of two, row-major.
pub fn weights_layout(shape: MatmulShape, b: &[i64]) -> Vec<F> {
    let (kp, np) = (1usize << num_vars(shape.k), 1usize << num_vars(shape.n));
    let mut out = vec![F::default(); kp * np];
    for (row, chunk) in b.chunks(shape.n.max(1)).take(shape.k).enumerate() {
        for (col, &v) in chunk.iter().enumerate() {
            out[row * np + col] = embed(v);
        }
    }
    out
}

/// Commits to the weights B (K×N) with a commitment seed (keep it with B to re-open later).
pub fn commit_weights(
    shape: MatmulShape,
    b: &[i64],
    seed: [u8; 32],
) -> Result<(TensorCommitment, CommittedTensor), PcsError> {
    weights_pcs(shape)?.commit(&weights_layout(shape, b), seed)
}

impl CommittedMatmulClaim<'_> {
    /// The public checks: lengths, ranges, and the accumulator bound with `b_bound` for B.
    fn validate(&self) -> Result<(), MatmulError> {
        matmul::validate_claim(self.shape, self.a, BSide::Bounded(self.b_bound), self.c)
    }
}

/// The opened point (r_k ‖ r_col), padded to the commitment's variables.
fn opening_point(pcs: &TensorPcs, pts: &OpeningPoints) -> Vec<EF> {
    pcs.pad_point(&[pts.r_k.as_slice(), pts.r_col.as_slice()].concat())
}

fn absorb_header(t: &mut Transcript, claim: &CommittedMatmulClaim<'_>) {
    t.absorb_u64s(b"matmul/committed/b_bound", &[claim.b_bound]);
    claim
        .b_commitment
        .absorb(t, b"matmul/committed/b_commitment");
}

/// Proves `c = a · b` and opens the commitment to `b` (`committed`, made by
/// [`commit_weights`] from the same `b`). The prover checks shapes and ranges, not the product
/// nor that `committed` holds `b`: a false claim yields a proof the verifier rejects.
pub fn prove(
    t: &mut Transcript,
    claim: &CommittedMatmulClaim<'_>,
    b: &[i64],
    committed: CommittedTensor,
) -> Result<CommittedMatmulProof, CommittedMatmulError> {
    claim.validate()?;
    if let Some((index, &value)) = b
        .iter()
        .enumerate()
        .find(|(_, v)| v.unsigned_abs() > claim.b_bound)
    {
        return Err(CommittedMatmulError::WeightOutOfBound {
            index,
            value,
            bound: claim.b_bound,
        });
    }
    absorb_header(t, claim);
    let plain = MatmulClaim {
        shape: claim.shape,
        a: claim.a,
        b,
        c: claim.c,
    };
    let (product, pts) = matmul::prove_with_point(t, &plain)?;
    let pcs = weights_pcs(claim.shape)?;
    let point = opening_point(&pcs, &pts);
    let opening = pcs.open(claim.b_commitment, committed, &[point], t)?;
    Ok(CommittedMatmulProof { product, opening })
}

/// Verifies a committed matmul proof. Never panics, whatever the proof.
pub fn verify(
    t: &mut Transcript,
    claim: &CommittedMatmulClaim<'_>,
    proof: &CommittedMatmulProof,
) -> Result<(), CommittedMatmulError> {
    claim.validate()?;
    absorb_header(t, claim);
    let s = claim.shape;
    let pts = matmul::verify_product(t, s, claim.c, &proof.product)?;
    // A is public: its opening is evaluated directly.
    matmul::check_public_a(s, claim.a, &pts, proof.product.a_eval)?;
    // B is committed: its opening is proved.
    let pcs = weights_pcs(s)?;
    let point = opening_point(&pcs, &pts);
    let values = pcs.verify(claim.b_commitment, &[point], &proof.opening, t)?;
    if values.as_slice() != [proof.product.b_eval] {
        return Err(CommittedMatmulError::WeightsMismatch);
    }
    Ok(())
}

impl CommittedMatmulProof {
    /// `"VGCM" ‖ version ‖ u32 product length ‖ product proof ‖ opening proof`.
    pub fn to_bytes(&self) -> Vec<u8> {
        let product = self.product.to_bytes();
        let mut w = Writer::default();
        w.header(MAGIC, VERSION);
        w.u32(product.len() as u32);
        w.raw(&product);
        w.raw(&self.opening.to_bytes());
        w.bytes
    }

    /// Parses [`CommittedMatmulProof::to_bytes`]. Never panics.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CommittedMatmulError> {
        let mut r = Reader::new(bytes);
        r.header(MAGIC, VERSION, "committed matmul")?;
        let len = r.u32()? as usize;
        let product = MatmulProof::from_bytes(r.take(len)?)?;
        let rest = r.take(r.remaining())?;
        let opening = OpeningProof::from_bytes(rest)?;
        Ok(CommittedMatmulProof { product, opening })
    }
}
