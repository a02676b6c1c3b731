//! Matrix products by sumcheck (Thaler): a proof that `C = A·B` for integer matrices
//! `A: [M, K]`, `B: [K, N]`, `C: [M, N]`, row-major, each dimension zero-padded to a power of two.
//!
//! Protocol (transcript already holds the statement):
//! 1. absorb the shape (M, K, N) and the claimed product C;
//! 2. draw `r_row ∈ EF^{log M}`, `r_col ∈ EF^{log N}`; both sides compute
//!    `v = C̃(r_row, r_col)`;
//! 3. sumcheck of `v = Σ_{k ∈ {0,1}^{log K}} Ã(r_row, k) · B̃(k, r_col)` (degree 2, log K rounds),
//!    ending at a random `r_k` with a claim `v'`;
//! 4. the prover sends `a = Ã(r_row, r_k)`, `b = B̃(r_k, r_col)` (absorbed); the verifier checks
//!    `a · b = v'`, and then the two openings.
//!
//! Here A and B are public and the verifier checks the openings `a`, `b` by evaluating Ã and B̃
//! itself (O(MK + KN) work); [`crate::committed_matmul`] proves B̃'s opening against a hiding
//! commitment instead, so B can stay hidden.
//!
//! **Soundness.** If `C ≠ A·B (mod p)`, the multilinear `C̃ - (AB)~` is non-zero and vanishes at
//! the random `(r_row, r_col)` with probability ≤ (log M + log N) / |EF|; the sumcheck then
//! errs with probability ≤ 2 log K / |EF|; the final openings are exact. Total ≤
//! (log M + log N + 2 log K) / p^3, e.g. ≤ 2^-185 for 2^20-sized dimensions.
//! **From F to ℤ:** the verifier checks |C_ij| < 2^62 and K·max|A|·max|B| < 2^62 on the public
//! values, so |C_ij − (AB)_ij| < 2^63 < p and equality mod p is equality of integers.

use p3_field::PrimeCharacteristicRing;
use thiserror::Error;

use crate::codec::{DecodeError, Reader, Writer};
use crate::field::{EF, IR_VALUE_BOUND};
use crate::mle::{evaluate, fix_cols, fix_rows, num_vars};
use crate::sumcheck::{self, Expression, SumcheckError, SumcheckProof};
use crate::transcript::Transcript;

const MAGIC: &[u8; 4] = b"VGMM";
const VERSION: u8 = 1;
const DEGREE: usize = 2;

/// Dimensions of `[M, K] x [K, N] -> [M, N]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MatmulShape {
    pub m: usize,
    pub k: usize,
    pub n: usize,
}

/// The claim `c = a · b` on row-major integer matrices.
#[derive(Clone, Copy, Debug)]
pub struct MatmulClaim<'a> {
    pub shape: MatmulShape,
    pub a: &'a [i64],
    pub b: &'a [i64],
    pub c: &'a [i64],
}

/// A matmul proof: the sumcheck rounds and the two final openings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MatmulProof {
    pub sumcheck: SumcheckProof,
    /// Claimed Ã(r_row, r_k).
    pub a_eval: EF,
    /// Claimed B̃(r_k, r_col).
    pub b_eval: EF,
}

/// Why a matmul claim or proof was rejected.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum MatmulError {
    #[error("tensor {tensor} has {got} values, expected {expected} for shape {shape:?}")]
    Length {
        tensor: &'static str,
        shape: MatmulShape,
        expected: usize,
        got: usize,
    },
    #[error("shape {shape:?} is too large (a dimension needs more than 2^48 rows)")]
    ShapeTooLarge { shape: MatmulShape },
    #[error("{tensor} value {value} at index {index} is outside ±2^62: not an IR value")]
    ValueOutOfRange {
        tensor: &'static str,
        index: usize,
        value: i64,
    },
    #[error("K·max|A|·max|B| = {bound} may reach 2^62: products could wrap the field; split the accumulation")]
    AccumulatorOutOfRange { bound: u128 },
    #[error("sumcheck: {0}")]
    Sumcheck(#[from] SumcheckError),
    #[error("final check failed: a·b differs from the sumcheck's last claim")]
    FinalProduct,
    #[error("opening of {tensor} does not match the tensor")]
    Opening { tensor: &'static str },
    #[error("proof bytes: {0}")]
    Decode(#[from] DecodeError),
}

impl MatmulClaim<'_> {
    /// Checks lengths, the size limits and the ranges that make the field claim an integer claim.
    pub fn validate(&self) -> Result<(), MatmulError> {
        validate_claim(self.shape, self.a, BSide::Public(self.b), self.c)
    }
}

/// What a verifier knows of B: the matrix itself, or (B committed) only a bound on |B_ij|.
#[derive(Clone, Copy, Debug)]
pub(crate) enum BSide<'a> {
    Public(&'a [i64]),
    Bounded(u64),
}

/// Lengths, size limits, IR ranges of A, B (or its bound) and C, and the accumulator bound
/// K·max|A|·max|B| < 2^62 that makes the field claim an integer claim.
pub(crate) fn validate_claim(
    s: MatmulShape,
    a: &[i64],
    b: BSide<'_>,
    c: &[i64],
) -> Result<(), MatmulError> {
    let check = |tensor, rows: usize, cols: usize, got: usize| {
        let expected = rows
            .checked_mul(cols)
            .ok_or(MatmulError::ShapeTooLarge { shape: s })?;
        if expected != got {
            return Err(MatmulError::Length {
                tensor,
                shape: s,
                expected,
                got,
            });
        }
        Ok(())
    };
    check("A", s.m, s.k, a.len())?;
    if let BSide::Public(b) = b {
        check("B", s.k, s.n, b.len())?;
    }
    check("C", s.m, s.n, c.len())?;
    for d in [s.m, s.k, s.n] {
        if num_vars(d) > sumcheck::MAX_VARS {
            return Err(MatmulError::ShapeTooLarge { shape: s });
        }
    }
    let max_abs = |tensor, v: &[i64]| -> Result<u64, MatmulError> {
        let mut m = 0u64;
        for (index, &x) in v.iter().enumerate() {
            let a = x.unsigned_abs();
            if a >= IR_VALUE_BOUND {
                return Err(MatmulError::ValueOutOfRange {
                    tensor,
                    index,
                    value: x,
                });
            }
            m = m.max(a);
        }
        Ok(m)
    };
    let ma = max_abs("A", a)?;
    let mb = match b {
        BSide::Public(b) => max_abs("B", b)?,
        BSide::Bounded(bound) if bound >= IR_VALUE_BOUND => {
            return Err(MatmulError::AccumulatorOutOfRange {
                bound: bound as u128,
            })
        }
        BSide::Bounded(bound) => bound,
    };
    max_abs("C", c)?;
    let bound = (s.k as u128)
        .saturating_mul(ma as u128)
        .saturating_mul(mb as u128);
    if bound >= IR_VALUE_BOUND as u128 {
        return Err(MatmulError::AccumulatorOutOfRange { bound });
    }
    Ok(())
}

/// Steps 1–2: shape, challenges and the claimed value C̃(r_row, r_col).
fn reduce_output(
    t: &mut Transcript,
    s: MatmulShape,
    c: &[i64],
) -> Result<(Vec<EF>, Vec<EF>, EF), MatmulError> {
    t.absorb_u64s(b"matmul/shape", &[s.m as u64, s.k as u64, s.n as u64]);
    // The claimed product is bound before any challenge: drawn first, the challenges would let
    // a prover pick a wrong C whose extension agrees with A·B's at exactly that point.
    // (Once commitments exist, the commitment to C is absorbed instead.)
    t.absorb_base(b"matmul/c", c.iter().map(|&v| crate::field::embed(v)));
    let r_row = t.challenges_ext(b"matmul/r_row", num_vars(s.m));
    let r_col = t.challenges_ext(b"matmul/r_col", num_vars(s.n));
    let by_row = fix_cols(c, s.m, s.n, &r_col).ok_or(MatmulError::Length {
        tensor: "C",
        shape: s,
        expected: s.m.saturating_mul(s.n),
        got: c.len(),
    })?;
    let value = evaluate(&by_row, &r_row).ok_or(MatmulError::ShapeTooLarge { shape: s })?;
    Ok((r_row, r_col, value))
}

/// Ã(r_row, ·) and B̃(·, r_col), each padded to 2^log K.
fn fixed_vectors(
    claim: &MatmulClaim<'_>,
    r_row: &[EF],
    r_col: &[EF],
) -> Result<(Vec<EF>, Vec<EF>), MatmulError> {
    let s = claim.shape;
    let err = |tensor| MatmulError::Length {
        tensor,
        shape: s,
        expected: 0,
        got: 0,
    };
    let mut a = fix_rows(claim.a, s.m, s.k, r_row).ok_or(err("A"))?;
    let mut b = fix_cols(claim.b, s.k, s.n, r_col).ok_or(err("B"))?;
    let len = 1usize << num_vars(s.k);
    a.resize(len, EF::ZERO);
    b.resize(len, EF::ZERO);
    Ok((a, b))
}

/// Proves `C = A·B`. The prover checks shapes and ranges but not the product itself: a false C
/// yields a proof that the verifier rejects.
pub fn prove(t: &mut Transcript, claim: &MatmulClaim<'_>) -> Result<MatmulProof, MatmulError> {
    prove_with_point(t, claim).map(|(proof, _)| proof)
}

/// The random points of one matmul proof: Ã is opened at (r_row, r_k), B̃ at (r_k, r_col).
#[derive(Clone, Debug)]
pub(crate) struct OpeningPoints {
    pub r_row: Vec<EF>,
    pub r_col: Vec<EF>,
    pub r_k: Vec<EF>,
}

/// [`prove`], also returning the opening points, for callers that prove B̃'s opening against a
/// commitment.
pub(crate) fn prove_with_point(
    t: &mut Transcript,
    claim: &MatmulClaim<'_>,
) -> Result<(MatmulProof, OpeningPoints), MatmulError> {
    claim.validate()?;
    let (r_row, r_col, value) = reduce_output(t, claim.shape, claim.c)?;
    let (a, b) = fixed_vectors(claim, &r_row, &r_col)?;
    let out = sumcheck::prove(&Expression::product2(), vec![a, b], value, t)?;
    let (a_eval, b_eval) = match out.evals.as_slice() {
        [a, b] => (*a, *b),
        _ => return Err(MatmulError::FinalProduct),
    };
    t.absorb_ext(b"matmul/openings", &[a_eval, b_eval]);
    let proof = MatmulProof {
        sumcheck: out.proof,
        a_eval,
        b_eval,
    };
    let points = OpeningPoints {
        r_row,
        r_col,
        r_k: out.point,
    };
    Ok((proof, points))
}

/// The verifier's steps up to the openings: challenges, sumcheck, absorbing the openings and
/// the final product check. The caller checks the openings Ã(r_row, r_k) and B̃(r_k, r_col).
pub(crate) fn verify_product(
    t: &mut Transcript,
    s: MatmulShape,
    c: &[i64],
    proof: &MatmulProof,
) -> Result<OpeningPoints, MatmulError> {
    let (r_row, r_col, value) = reduce_output(t, s, c)?;
    let fin = sumcheck::verify(DEGREE, num_vars(s.k), value, &proof.sumcheck, t)?;
    t.absorb_ext(b"matmul/openings", &[proof.a_eval, proof.b_eval]);
    if proof.a_eval * proof.b_eval != fin.value {
        return Err(MatmulError::FinalProduct);
    }
    Ok(OpeningPoints {
        r_row,
        r_col,
        r_k: fin.point,
    })
}

/// Checks the opening Ã(r_row, r_k) = `a_eval` of a public A by evaluating it.
pub(crate) fn check_public_a(
    s: MatmulShape,
    a: &[i64],
    pts: &OpeningPoints,
    a_eval: EF,
) -> Result<(), MatmulError> {
    let mut fixed =
        fix_rows(a, s.m, s.k, &pts.r_row).ok_or(MatmulError::Opening { tensor: "A" })?;
    fixed.resize(1usize << num_vars(s.k), EF::ZERO);
    if evaluate(&fixed, &pts.r_k) != Some(a_eval) {
        return Err(MatmulError::Opening { tensor: "A" });
    }
    Ok(())
}

/// Verifies a matmul proof with public A and B. Never panics, whatever the proof.
pub fn verify(
    t: &mut Transcript,
    claim: &MatmulClaim<'_>,
    proof: &MatmulProof,
) -> Result<(), MatmulError> {
    claim.validate()?;
    let pts = verify_product(t, claim.shape, claim.c, proof)?;
    // Openings: A and B are public here, so evaluate them directly
    // (`committed_matmul` proves B's against a commitment instead).
    let s = claim.shape;
    check_public_a(s, claim.a, &pts, proof.a_eval)?;
    let mut b =
        fix_cols(claim.b, s.k, s.n, &pts.r_col).ok_or(MatmulError::Opening { tensor: "B" })?;
    b.resize(1usize << num_vars(s.k), EF::ZERO);
    if evaluate(&b, &pts.r_k) != Some(proof.b_eval) {
        return Err(MatmulError::Opening { tensor: "B" });
    }
    Ok(())
}

impl MatmulProof {
    /// Canonical bytes: `"VGMM" ‖ version ‖ rounds: u32 ‖ evals per round: u32 ‖ round
    /// evaluations ‖ a_eval ‖ b_eval`, extension elements as canonical u64 LE coefficients.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::default();
        w.header(MAGIC, VERSION);
        w.u32(self.sumcheck.rounds.len() as u32);
        w.u32(self.sumcheck.rounds.first().map_or(0, Vec::len) as u32);
        for g in &self.sumcheck.rounds {
            for &e in g {
                w.ext(e);
            }
        }
        w.ext(self.a_eval);
        w.ext(self.b_eval);
        w.bytes
    }

    /// Parses [`MatmulProof::to_bytes`]; rejects wrong magic/version, oversized counts,
    /// non-canonical elements and trailing bytes. Never panics.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, MatmulError> {
        let mut r = Reader::new(bytes);
        r.header(MAGIC, VERSION, "matmul")?;
        let rounds = r.u32()? as usize;
        let width = r.u32()? as usize;
        if rounds > sumcheck::MAX_VARS {
            return Err(DecodeError::TooLarge {
                what: "round count",
                max: sumcheck::MAX_VARS,
                got: rounds,
            }
            .into());
        }
        if width > sumcheck::MAX_DEGREE + 1 {
            return Err(DecodeError::TooLarge {
                what: "round width",
                max: sumcheck::MAX_DEGREE + 1,
                got: width,
            }
            .into());
        }
        if rounds == 0 && width != 0 {
            // The encoder writes the first round's width: with no rounds, that is 0.
            return Err(DecodeError::NonCanonicalCount {
                what: "round width of a proof without rounds",
                expected: 0,
                got: width,
            }
            .into());
        }
        let mut rs = Vec::with_capacity(rounds);
        for _ in 0..rounds {
            let g = (0..width).map(|_| r.ext()).collect::<Result<Vec<_>, _>>()?;
            rs.push(g);
        }
        let a_eval = r.ext()?;
        let b_eval = r.ext()?;
        r.finish()?;
        Ok(MatmulProof {
            sumcheck: SumcheckProof { rounds: rs },
            a_eval,
            b_eval,
        })
    }
}

/// Reference product (i64, exact under the IR's range rules): for tests and benches.
pub fn reference_product(shape: MatmulShape, a: &[i64], b: &[i64]) -> Vec<i64> {
    let MatmulShape { m, k, n } = shape;
    let mut c = vec![0i64; m * n];
    for i in 0..m {
        for kk in 0..k {
            let av = a[i * k + kk];
            if av == 0 {
                continue;
            }
            for (o, &bv) in c[i * n..(i + 1) * n]
                .iter_mut()
                .zip(&b[kk * n..(kk + 1) * n])
            {
                *o += av * bv;
            }
        }
    }
    c
}
