//! A sumcheck prover and verifier for sums of products of multilinear polynomials.
//!
//! Claim: `H = Σ_{x ∈ {0,1}^n} Σ_t c_t Π_{j ∈ S_t} P_j(x)` for multilinear `P_j` given by their
//! tables of length 2^n ([`Expression`] holds the `c_t`, `S_t`). The degree `d` of each round
//! polynomial is the largest `|S_t|`.
//!
//! Round i (i = 0..n): the prover sends `g_i(X) = Σ_{x'} expr(r_0..r_{i-1}, X, x')` as its
//! d + 1 evaluations at X = 0, 1, …, d; the verifier checks `g_i(0) + g_i(1)` equals the current
//! claim, absorbs `g_i`, draws `r_i` from the transcript and sets the claim to `g_i(r_i)`
//! (Lagrange interpolation). After n rounds the caller must check the final claim against
//! `expr(P_0(r), …, P_k(r))` — by opening commitments, or (for now, public tensors) directly.
//!
//! **Soundness:** if H is false, each round is caught except with probability ≤ d / |EF|, so
//! the whole sumcheck errs with probability ≤ n·d / p^2 (see [`crate::field`]).
//!
//! Not yet zero-knowledge: round polynomials leak linear combinations of the tables. Masking
//! (a random masking polynomial, as in `p3-sumcheck`) comes with hiding commitments.

use p3_field::{Field, PrimeCharacteristicRing};
use rayon::prelude::*;
use thiserror::Error;

use crate::field::{EF, F};
use crate::mle::fold;
use crate::transcript::Transcript;

/// Largest round degree a verifier accepts (bounds work and proof size on hostile input).
pub const MAX_DEGREE: usize = 8;

/// Largest number of variables (rounds) a verifier accepts.
pub const MAX_VARS: usize = 48;

/// Below this many pairs, rounds are computed on the calling thread.
const PAR_THRESHOLD: usize = 1 << 11;

/// Why a sumcheck proof or instance was rejected.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum SumcheckError {
    #[error("sumcheck has {got} rounds, expected {expected}: proof made for another shape")]
    RoundCount { expected: usize, got: usize },
    #[error("sumcheck round {round} has {got} evaluations, expected {expected} (degree + 1)")]
    RoundLength {
        round: usize,
        expected: usize,
        got: usize,
    },
    #[error("sumcheck round {round}: g(0) + g(1) differs from the claim; the proof is invalid")]
    RoundSum { round: usize },
    #[error("degree {degree} exceeds the maximum {max}")]
    Degree { degree: usize, max: usize },
    #[error("{vars} variables exceeds the maximum {max}")]
    TooManyVars { vars: usize, max: usize },
    #[error("expression has {got} polynomials, but {expected} tables were given")]
    PolyCount { expected: usize, got: usize },
    #[error("table {poly} has length {got}, expected {expected} (2^num_vars)")]
    TableLength {
        poly: usize,
        expected: usize,
        got: usize,
    },
    #[error("term {term} refers to polynomial {poly}, but only {count} exist")]
    BadFactor {
        term: usize,
        poly: usize,
        count: usize,
    },
}

/// Σ_t c_t Π_{j ∈ S_t} P_j: which products of which tables are summed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expression {
    /// Number of multilinear polynomials P_j.
    pub num_polys: usize,
    /// Terms (c_t, S_t).
    pub terms: Vec<(EF, Vec<usize>)>,
}

impl Expression {
    /// Σ_x P_0(x) P_1(x).
    pub fn product2() -> Self {
        Expression {
            num_polys: 2,
            terms: vec![(EF::ONE, vec![0, 1])],
        }
    }

    /// Degree of the round polynomials: the largest term size (at least 1).
    pub fn degree(&self) -> usize {
        self.terms
            .iter()
            .map(|(_, s)| s.len())
            .max()
            .unwrap_or(0)
            .max(1)
    }

    /// Checks factor indices and the degree bound.
    pub fn validate(&self) -> Result<(), SumcheckError> {
        let degree = self.degree();
        if degree > MAX_DEGREE {
            return Err(SumcheckError::Degree {
                degree,
                max: MAX_DEGREE,
            });
        }
        for (term, (_, s)) in self.terms.iter().enumerate() {
            if let Some(&poly) = s.iter().find(|&&j| j >= self.num_polys) {
                return Err(SumcheckError::BadFactor {
                    term,
                    poly,
                    count: self.num_polys,
                });
            }
        }
        Ok(())
    }

    /// The expression at given polynomial values; `None` when `values` is too short.
    pub fn evaluate(&self, values: &[EF]) -> Option<EF> {
        let mut acc = EF::ZERO;
        for (c, s) in &self.terms {
            let mut p = *c;
            for &j in s {
                p *= *values.get(j)?;
            }
            acc += p;
        }
        Some(acc)
    }
}

/// Round polynomials, each as its evaluations at 0, 1, …, degree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SumcheckProof {
    pub rounds: Vec<Vec<EF>>,
}

/// What a verified sumcheck leaves to check: `expr(P(point)) == value`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FinalClaim {
    pub point: Vec<EF>,
    pub value: EF,
}

/// What the prover ends with: the proof, the challenge point and every P_j(point).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProverOutput {
    pub proof: SumcheckProof,
    pub point: Vec<EF>,
    pub evals: Vec<EF>,
}

const LABEL_CLAIM: &[u8] = b"sumcheck/claim";
const LABEL_ROUND: &[u8] = b"sumcheck/round";
const LABEL_CHALLENGE: &[u8] = b"sumcheck/r";

/// Proves `claim = Σ_x expr(P(x))`. The prover does not check `claim`: a false claim gives a
/// proof that the verifier rejects. `tables` must all have length 2^n for one n.
pub fn prove(
    expr: &Expression,
    tables: Vec<Vec<EF>>,
    claim: EF,
    transcript: &mut Transcript,
) -> Result<ProverOutput, SumcheckError> {
    let mut state = TableProver::new(expr, tables)?;
    let (proof, point) = prove_with(&mut state, claim, transcript);
    let evals = state.evals();
    Ok(ProverOutput {
        proof,
        point,
        evals,
    })
}

/// A sumcheck prover's state for a custom round computation (e.g. one that exploits the
/// structure of an `eq` factor). [`prove_with`] drives it through the same transcript steps as
/// [`prove`], so its proofs are checked by [`verify`].
pub trait RoundProver {
    /// Degree of every round polynomial (the proof carries degree + 1 evaluations per round).
    fn degree(&self) -> usize;
    /// Number of rounds.
    fn num_vars(&self) -> usize;
    /// g(0), g(1), …, g(degree) for the current round; `claim` is the value g(0) + g(1) must
    /// equal (the previous round's g at its challenge, or the initial claim).
    fn round(&mut self, claim: EF) -> Vec<EF>;
    /// Fixes the current first variable to the challenge `r`.
    fn bind(&mut self, r: EF);
}

/// Runs a [`RoundProver`]: absorbs the claim, then per round absorbs g, draws r and binds it.
/// Returns the proof and the challenge point. The prover is not checked: a wrong round
/// polynomial yields a proof that [`verify`] rejects.
pub fn prove_with<P: RoundProver + ?Sized>(
    prover: &mut P,
    claim: EF,
    transcript: &mut Transcript,
) -> (SumcheckProof, Vec<EF>) {
    let n = prover.num_vars();
    transcript.absorb_ext(LABEL_CLAIM, &[claim]);
    let mut rounds = Vec::with_capacity(n);
    let mut point = Vec::with_capacity(n);
    let mut value = claim;
    for _ in 0..n {
        let g = prover.round(value);
        transcript.absorb_ext(LABEL_ROUND, &g);
        let r = transcript.challenge_ext(LABEL_CHALLENGE);
        value = interpolate(&g, r);
        prover.bind(r);
        rounds.push(g);
        point.push(r);
    }
    (SumcheckProof { rounds }, point)
}

/// The generic prover behind [`prove`]: full tables, folded each round.
pub(crate) struct TableProver<'a> {
    expr: &'a Expression,
    degree: usize,
    num_vars: usize,
    tables: Vec<Vec<EF>>,
}

impl<'a> TableProver<'a> {
    /// A prover for `expr` over `tables` (all of length 2^n), for callers that wrap its rounds.
    pub(crate) fn new(expr: &'a Expression, tables: Vec<Vec<EF>>) -> Result<Self, SumcheckError> {
        expr.validate()?;
        if tables.len() != expr.num_polys {
            return Err(SumcheckError::PolyCount {
                expected: expr.num_polys,
                got: tables.len(),
            });
        }
        let len = tables.first().map_or(1, Vec::len);
        let n = crate::mle::num_vars(len);
        if n > MAX_VARS {
            return Err(SumcheckError::TooManyVars {
                vars: n,
                max: MAX_VARS,
            });
        }
        for (poly, t) in tables.iter().enumerate() {
            if t.len() != 1 << n {
                return Err(SumcheckError::TableLength {
                    poly,
                    expected: 1 << n,
                    got: t.len(),
                });
            }
        }
        Ok(TableProver {
            expr,
            degree: expr.degree(),
            num_vars: n,
            tables,
        })
    }

    /// Every table's value at the bound point (after all rounds).
    pub(crate) fn evals(&self) -> Vec<EF> {
        self.tables
            .iter()
            .map(|t| t.first().copied().unwrap_or(EF::ZERO))
            .collect()
    }
}

/// Σ_x expr(P(x)) over tables of one power-of-two length (no copy of the tables).
pub(crate) fn expression_sum(expr: &Expression, tables: &[Vec<EF>]) -> EF {
    let len = tables.first().map_or(1, Vec::len);
    if len <= 1 {
        let at: Vec<EF> = tables
            .iter()
            .map(|t| t.first().copied().unwrap_or(EF::ZERO))
            .collect();
        return expr.evaluate(&at).unwrap_or(EF::ZERO);
    }
    let g = round_evals(expr, tables, expr.degree().max(1));
    g[0] + g[1]
}

impl RoundProver for TableProver<'_> {
    fn degree(&self) -> usize {
        self.degree
    }
    fn num_vars(&self) -> usize {
        self.num_vars
    }
    fn round(&mut self, _claim: EF) -> Vec<EF> {
        round_evals(self.expr, &self.tables, self.degree)
    }
    fn bind(&mut self, r: EF) {
        self.tables = self.tables.iter().map(|t| fold(t, r)).collect();
    }
}

/// g(0..=degree) for the current tables (first variable free, the rest summed).
fn round_evals(expr: &Expression, tables: &[Vec<EF>], degree: usize) -> Vec<EF> {
    let half = tables.first().map_or(0, |t| t.len() / 2);
    let width = degree + 1;
    let init = || (vec![EF::ZERO; width], vec![EF::ZERO; tables.len() * width]);
    // Adds pair i's contribution; `vals` holds each P_j at X = 0..=degree.
    let step = |(mut out, mut vals): (Vec<EF>, Vec<EF>), i: usize| {
        for (t, v) in tables.iter().zip(vals.chunks_mut(width)) {
            let (lo, hi) = (t[i], t[i + half]);
            let diff = hi - lo;
            let mut cur = lo;
            for slot in v.iter_mut() {
                *slot = cur;
                cur += diff;
            }
        }
        for (x, o) in out.iter_mut().enumerate() {
            for (c, s) in &expr.terms {
                let mut p = *c;
                for &j in s {
                    p *= vals[j * width + x];
                }
                *o += p;
            }
        }
        (out, vals)
    };
    let add = |mut a: Vec<EF>, b: Vec<EF>| {
        for (x, y) in a.iter_mut().zip(b) {
            *x += y;
        }
        a
    };
    if half >= PAR_THRESHOLD {
        (0..half)
            .into_par_iter()
            .fold(init, step)
            .map(|(out, _)| out)
            .reduce(|| vec![EF::ZERO; width], add)
    } else {
        (0..half).fold(init(), step).0
    }
}

/// Verifies a sumcheck proof of `claim` over `num_vars` variables with round degree `degree`.
/// Returns the final claim that the caller must check. Never panics.
pub fn verify(
    degree: usize,
    num_vars: usize,
    claim: EF,
    proof: &SumcheckProof,
    transcript: &mut Transcript,
) -> Result<FinalClaim, SumcheckError> {
    if degree > MAX_DEGREE || degree == 0 {
        return Err(SumcheckError::Degree {
            degree,
            max: MAX_DEGREE,
        });
    }
    if num_vars > MAX_VARS {
        return Err(SumcheckError::TooManyVars {
            vars: num_vars,
            max: MAX_VARS,
        });
    }
    if proof.rounds.len() != num_vars {
        return Err(SumcheckError::RoundCount {
            expected: num_vars,
            got: proof.rounds.len(),
        });
    }
    transcript.absorb_ext(LABEL_CLAIM, &[claim]);
    let mut value = claim;
    let mut point = Vec::with_capacity(num_vars);
    for (round, g) in proof.rounds.iter().enumerate() {
        let (Some(&g0), Some(&g1), true) = (g.first(), g.get(1), g.len() == degree + 1) else {
            return Err(SumcheckError::RoundLength {
                round,
                expected: degree + 1,
                got: g.len(),
            });
        };
        if g0 + g1 != value {
            return Err(SumcheckError::RoundSum { round });
        }
        transcript.absorb_ext(LABEL_ROUND, g);
        let r = transcript.challenge_ext(LABEL_CHALLENGE);
        value = interpolate(g, r);
        point.push(r);
    }
    Ok(FinalClaim { point, value })
}

/// The polynomial of degree < evals.len() with g(x) = evals[x] for x = 0, 1, …, evaluated at r.
pub fn interpolate(evals: &[EF], r: EF) -> EF {
    let d = evals.len();
    // r equal to a node: return it (also avoids dividing by zero below).
    for (x, &e) in evals.iter().enumerate() {
        if r == EF::from(F::from_usize(x)) {
            return e;
        }
    }
    // g(r) = Π_k (r - k) · Σ_i evals[i] · w_i / (r - i),  w_i = 1 / Π_{k≠i} (i - k)
    let diffs: Vec<EF> = (0..d).map(|k| r - EF::from(F::from_usize(k))).collect();
    let full: EF = diffs.iter().copied().product();
    let mut acc = EF::ZERO;
    for (i, (&e, &di)) in evals.iter().zip(&diffs).enumerate() {
        let mut w = F::ONE;
        for k in 0..d {
            if k != i {
                w *= F::from_usize(i) - F::from_usize(k);
            }
        }
        // w ≠ 0 and di ≠ 0 (r is not a node), so both inverses exist.
        let inv = (di * EF::from(w)).try_inverse().unwrap_or(EF::ZERO);
        acc += e * inv;
    }
    acc * full
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::Rng;

    fn brute_sum(expr: &Expression, tables: &[Vec<EF>]) -> EF {
        let len = tables[0].len();
        (0..len)
            .map(|x| {
                let vals: Vec<EF> = tables.iter().map(|t| t[x]).collect();
                expr.evaluate(&vals).unwrap_or(EF::ZERO)
            })
            .sum()
    }

    fn run(expr: &Expression, n: usize, seed: u64) {
        let mut rng = Rng::new(seed);
        let tables: Vec<Vec<EF>> = (0..expr.num_polys)
            .map(|_| (0..1 << n).map(|_| rng.ext()).collect())
            .collect();
        let claim = brute_sum(expr, &tables);
        let mut tp = Transcript::from_statement_bytes(b"test");
        let out = prove(expr, tables.clone(), claim, &mut tp).expect("honest prover");
        let mut tv = Transcript::from_statement_bytes(b"test");
        let fin = verify(expr.degree(), n, claim, &out.proof, &mut tv).expect("honest proof");
        assert_eq!(fin.point, out.point);
        let direct: Vec<EF> = tables
            .iter()
            .map(|t| crate::mle::evaluate(t, &fin.point).unwrap_or(EF::ZERO))
            .collect();
        assert_eq!(direct, out.evals);
        assert_eq!(expr.evaluate(&direct), Some(fin.value));

        // a false claim is rejected
        let mut tv = Transcript::from_statement_bytes(b"test");
        if n > 0 {
            assert_eq!(
                verify(expr.degree(), n, claim + EF::ONE, &out.proof, &mut tv),
                Err(SumcheckError::RoundSum { round: 0 })
            );
        }
    }

    #[test]
    fn honest_proofs_verify_for_several_expressions() {
        run(&Expression::product2(), 0, 1);
        run(&Expression::product2(), 1, 2);
        run(&Expression::product2(), 6, 3);
        run(&Expression::product2(), 13, 4); // parallel path
        let mut rng = Rng::new(9);
        let expr = Expression {
            num_polys: 4,
            terms: vec![
                (rng.ext(), vec![0, 1, 2]),
                (rng.ext(), vec![3]),
                (EF::ONE, vec![2, 2, 3, 0]),
            ],
        };
        run(&expr, 5, 5);
    }

    #[test]
    fn interpolation_matches_the_polynomial() {
        let mut rng = Rng::new(7);
        let coeffs: Vec<EF> = (0..4).map(|_| rng.ext()).collect();
        let eval = |x: EF| coeffs.iter().rev().fold(EF::ZERO, |acc, &c| acc * x + c);
        let evals: Vec<EF> = (0..4).map(|x| eval(EF::from(F::from_usize(x)))).collect();
        let r = rng.ext();
        assert_eq!(interpolate(&evals, r), eval(r));
        assert_eq!(interpolate(&evals, EF::TWO), evals[2]);
    }

    #[test]
    fn malformed_proofs_are_rejected_with_typed_errors() {
        let proof = SumcheckProof {
            rounds: vec![vec![EF::ONE; 3], vec![EF::ONE; 2]],
        };
        let t = || Transcript::from_statement_bytes(b"x");
        assert!(matches!(
            verify(2, 3, EF::TWO, &proof, &mut t()),
            Err(SumcheckError::RoundCount { .. })
        ));
        assert!(matches!(
            verify(2, 2, EF::TWO, &proof, &mut t()),
            Err(SumcheckError::RoundLength { round: 1, .. }) | Err(SumcheckError::RoundSum { .. })
        ));
        assert!(matches!(
            verify(99, 2, EF::TWO, &proof, &mut t()),
            Err(SumcheckError::Degree { .. })
        ));
        let bad = Expression {
            num_polys: 1,
            terms: vec![(EF::ONE, vec![0, 1])],
        };
        assert!(matches!(
            prove(&bad, vec![vec![EF::ONE; 2]], EF::ONE, &mut t()),
            Err(SumcheckError::BadFactor { .. })
        ));
    }
}
