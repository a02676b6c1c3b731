//! Linear claims on the committed vector and the masked batch that proves them all with one
//! opening.
//!
//! The committed vector is `T = [W ; R]` over `vars` variables: the witness half W (trace
//! columns and the mask pool) and a uniformly random half R, selected by the most significant
//! variable z. A column c at offset o (2^v entries) is the subcube `T(z, o, ·)`: its masked
//! extension `ĉ(z, x) = (1 − z)·c(x) + z·R_c(x)`, whose values off the hypercube (z ∉ {0, 1})
//! are hidden by R.
//!
//! Every claim is a linear functional of T with a public description: eq terms (a point on a
//! subcube, at some z) and sparse terms (single entries of W). The batch draws two random
//! points u₁, u₂ of R and adds the claims `R(u_a) = Y_a`, so that every round of the batching
//! sumcheck carries fresh randomness of R; with ρ from the transcript it proves
//! `Σ_j ρ^j·v_j = Σ_x Wt(x)·T(x)` by one degree-2 sumcheck ending in T(s), opened by WHIR.

use p3_field::PrimeCharacteristicRing;
use rayon::prelude::*;

use crate::field::{EF, F};
use crate::mle::{eq_eval, eq_table, evaluate_base};
use crate::sumcheck::{self, SumcheckProof};
use crate::transcript::Transcript;

use super::super::ProgramError;

/// `coef · eq((z, point), ·)` on the subcube of T at offset `off` (in the witness half's
/// coordinates; the random half is the same subcube shifted by half the vector).
#[derive(Clone, Debug)]
pub(crate) struct EqTerm {
    /// Which committed vector: 0 the trace, k + 1 the k-th hashed tensor's commitment.
    pub home: usize,
    pub z: EF,
    pub off: usize,
    pub point: Vec<EF>,
    pub coef: EF,
}

/// A claim `Σ terms = value`.
#[derive(Clone, Debug, Default)]
pub(crate) struct Claim {
    pub eq: Vec<EqTerm>,
    /// (offset in the witness half, weight).
    pub sparse: Vec<(usize, EF)>,
    pub value: EF,
}

impl Claim {
    /// The committed vector the claim is on (sparse terms are on the trace's pool).
    pub fn home(&self) -> usize {
        self.eq.first().map_or(0, |t| t.home)
    }
}

/// Splits claims by committed vector: the trace's, then each of `linked` hashed tensors'. A
/// claim whose terms are on different vectors is an internal error (each S value is sent per
/// vector).
pub(crate) fn by_home(claims: Vec<Claim>, linked: usize) -> Result<Vec<Vec<Claim>>, ProgramError> {
    let mut out: Vec<Vec<Claim>> = (0..=linked).map(|_| Vec::new()).collect();
    for c in claims {
        let h = c.home();
        if c.eq.iter().any(|t| t.home != h) || (h != 0 && !c.sparse.is_empty()) || h > linked {
            return Err(ProgramError::Internal("a claim spans two commitments"));
        }
        out[h].push(c);
    }
    Ok(out)
}

/// Eq terms grouped by committed vector, for homes 0..=linked in order.
pub(crate) fn terms_by_home(terms: Vec<EqTerm>, linked: usize) -> Vec<(usize, Vec<EqTerm>)> {
    let mut out: Vec<(usize, Vec<EqTerm>)> = (0..=linked).map(|h| (h, Vec::new())).collect();
    for t in terms {
        if let Some((_, v)) = out.get_mut(t.home) {
            v.push(t);
        }
    }
    out
}

/// Shape of the committed vector.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Shape {
    pub vars: usize,
}

impl Shape {
    pub fn half(&self) -> usize {
        1 << (self.vars - 1)
    }

    /// The value of an eq term on `full`.
    pub fn term_value(&self, full: &[F], t: &EqTerm) -> EF {
        let n = 1usize << t.point.len();
        let lo = evaluate_base(&full[t.off..t.off + n], &t.point).unwrap_or(EF::ZERO);
        let h = self.half() + t.off;
        let hi = evaluate_base(&full[h..h + n], &t.point).unwrap_or(EF::ZERO);
        (EF::ONE - t.z) * lo + t.z * hi
    }

    /// The value of a claim's terms on `full` (the prover's side).
    pub fn claim_value(&self, full: &[F], eq: &[EqTerm], sparse: &[(usize, EF)]) -> EF {
        let mut v: EF = eq.iter().map(|t| self.term_value(full, t) * t.coef).sum();
        for &(i, w) in sparse {
            v += w * full[i];
        }
        v
    }

    /// `eq((z, bits of off), s)` for a subcube of 2^point_len entries at `off`.
    fn place(&self, z: EF, off: usize, point_len: usize, s: &[EF]) -> EF {
        let high = self.vars - 1 - point_len;
        let slot = off >> point_len;
        let mut acc = EF::ONE - z - s[0] + (z * s[0]).double();
        for i in 0..high {
            let b = (slot >> (high - 1 - i)) & 1 == 1;
            acc *= if b { s[1 + i] } else { EF::ONE - s[1 + i] };
        }
        acc
    }

    /// The batched weight `Σ_j ρ^j·(claim j's functional)` at the point s (verifier's side).
    pub fn weight_at(&self, claims: &[Claim], rho: EF, s: &[EF]) -> Result<EF, ProgramError> {
        let (mut acc, mut power) = (EF::ZERO, EF::ONE);
        for c in claims {
            let mut w = EF::ZERO;
            for t in &c.eq {
                let high = self.vars - 1 - t.point.len();
                let e = eq_eval(&t.point, &s[1 + high..])
                    .ok_or(ProgramError::Internal("claim point arity"))?;
                w += t.coef * self.place(t.z, t.off, t.point.len(), s) * e;
            }
            for &(i, wt) in &c.sparse {
                w += wt * self.place(EF::ZERO, i, 0, s);
            }
            acc += w * power;
            power *= rho;
        }
        Ok(acc)
    }

    /// The batched weight as a table (prover's side).
    fn weight_table(&self, claims: &[Claim], rho: EF) -> Vec<EF> {
        let half = self.half();
        let mut w = vec![EF::ZERO; 2 * half];
        let mut power = EF::ONE;
        for c in claims {
            for t in &c.eq {
                let e = eq_table(&t.point);
                let (lo_k, hi_k) = (power * t.coef * (EF::ONE - t.z), power * t.coef * t.z);
                let (lo, hi) = w.split_at_mut(half);
                lo[t.off..t.off + e.len()]
                    .par_iter_mut()
                    .zip(&e)
                    .for_each(|(x, &v)| *x += v * lo_k);
                hi[t.off..t.off + e.len()]
                    .par_iter_mut()
                    .zip(&e)
                    .for_each(|(x, &v)| *x += v * hi_k);
            }
            for &(i, wt) in &c.sparse {
                w[i] += wt * power;
            }
            power *= rho;
        }
        w
    }

    fn check_claims(&self, claims: &[Claim]) -> Result<(), ProgramError> {
        let half = self.half();
        for c in claims {
            for t in &c.eq {
                if t.point.len() >= self.vars || t.off + (1usize << t.point.len()) > half {
                    return Err(ProgramError::Internal("claim outside the committed vector"));
                }
                if t.off % (1usize << t.point.len()) != 0 {
                    return Err(ProgramError::Internal("claim on an unaligned subcube"));
                }
            }
            if c.sparse.iter().any(|&(i, _)| i >= half) {
                return Err(ProgramError::Internal(
                    "sparse claim outside the witness half",
                ));
            }
        }
        Ok(())
    }
}

const L_MASK_POINT: &[u8] = b"gkr/zk/batch/mask-point";
const L_MASK_VALUE: &[u8] = b"gkr/zk/batch/mask-value";
const L_RHO: &[u8] = b"gkr/zk/batch/rho";
const L_AT: &[u8] = b"gkr/zk/batch/at";

/// The claim `R(u) = y` on the whole random half.
fn random_half_claim(u: Vec<EF>, y: EF) -> Claim {
    Claim {
        eq: vec![EqTerm {
            home: 0,
            z: EF::ONE,
            off: 0,
            point: u,
            coef: EF::ONE,
        }],
        sparse: Vec::new(),
        value: y,
    }
}

/// The batch's messages besides its sumcheck.
pub(crate) struct BatchOut {
    pub proof: SumcheckProof,
    pub point: Vec<EF>,
    /// Y₁, Y₂, then T(s).
    pub values: [EF; 3],
}

/// Proves every claim with one sumcheck over T; returns the point where T must be opened.
pub(crate) fn prove(
    shape: Shape,
    full: Vec<F>,
    mut claims: Vec<Claim>,
    t: &mut Transcript,
) -> Result<BatchOut, ProgramError> {
    shape.check_claims(&claims)?;
    let half = shape.half();
    let mut ys = [EF::ZERO; 2];
    for y in &mut ys {
        let u = t.challenges_ext(L_MASK_POINT, shape.vars - 1);
        *y = evaluate_base(&full[half..], &u).unwrap_or(EF::ZERO);
        t.absorb_ext(L_MASK_VALUE, &[*y]);
        claims.push(random_half_claim(u, *y));
    }
    let rho = t.challenge_ext(L_RHO);
    let (mut total, mut power) = (EF::ZERO, EF::ONE);
    for c in &claims {
        total += c.value * power;
        power *= rho;
    }
    let w = shape.weight_table(&claims, rho);
    let mut prover = super::super::protocol::BatchProver::new(shape.vars, w, full);
    let (proof, point) = sumcheck::prove_with(&mut prover, total, t);
    let at = prover.final_value();
    t.absorb_ext(L_AT, &[at]);
    Ok(BatchOut {
        proof,
        point,
        values: [ys[0], ys[1], at],
    })
}

/// Replays the batch; returns the point where T is opened and the value it must have there.
pub(crate) fn verify(
    shape: Shape,
    mut claims: Vec<Claim>,
    proof: &SumcheckProof,
    values: [EF; 3],
    t: &mut Transcript,
) -> Result<(Vec<EF>, EF), ProgramError> {
    shape.check_claims(&claims)?;
    for &y in &values[..2] {
        let u = t.challenges_ext(L_MASK_POINT, shape.vars - 1);
        t.absorb_ext(L_MASK_VALUE, &[y]);
        claims.push(random_half_claim(u, y));
    }
    let rho = t.challenge_ext(L_RHO);
    let (mut total, mut power) = (EF::ZERO, EF::ONE);
    for c in &claims {
        total += c.value * power;
        power *= rho;
    }
    let fin = sumcheck::verify(2, shape.vars, total, proof, t)?;
    let at = values[2];
    t.absorb_ext(L_AT, &[at]);
    if shape.weight_at(&claims, rho, &fin.point)? * at != fin.value {
        return Err(ProgramError::rejected("trace", "batched claims"));
    }
    Ok((fin.point, at))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::test_util::Rng;

    #[test]
    fn batch_of_eq_and_sparse_claims_verifies_and_a_false_value_fails() {
        let mut rng = Rng::new(9);
        let shape = Shape { vars: 8 };
        let full: Vec<F> = (0..1 << 8).map(|_| rng.base()).collect();
        let mk = |full: &[F], rng: &mut Rng| {
            let eq = vec![
                EqTerm {
                    home: 0,
                    z: rng.ext(),
                    off: 16,
                    point: (0..4).map(|_| rng.ext()).collect(),
                    coef: rng.ext(),
                },
                EqTerm {
                    home: 0,
                    z: EF::ONE,
                    off: 64,
                    point: (0..6).map(|_| rng.ext()).collect(),
                    coef: EF::ONE,
                },
            ];
            let sparse = vec![(3usize, rng.ext()), (100, rng.ext())];
            let value = shape.claim_value(full, &eq, &sparse);
            Claim { eq, sparse, value }
        };
        let claims: Vec<Claim> = (0..3).map(|_| mk(&full, &mut rng)).collect();
        let out = prove(
            shape,
            full.clone(),
            claims.clone(),
            &mut Transcript::from_statement_bytes(b"b"),
        )
        .unwrap();
        let at = evaluate_base(&full, &out.point).unwrap();
        assert_eq!(at, out.values[2]);
        let (p, v) = verify(
            shape,
            claims.clone(),
            &out.proof,
            out.values,
            &mut Transcript::from_statement_bytes(b"b"),
        )
        .unwrap();
        assert_eq!((p, v), (out.point.clone(), at));
        let mut bad = claims;
        bad[1].value += EF::ONE;
        assert!(verify(
            shape,
            bad,
            &out.proof,
            out.values,
            &mut Transcript::from_statement_bytes(b"b")
        )
        .is_err());
    }
}
