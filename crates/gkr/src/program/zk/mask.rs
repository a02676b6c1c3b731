//! Masking randomness of zero-knowledge proofs: the pool of committed random blocks, and the
//! masked sumcheck (Libra, eprint 2019/317 §4) whose round messages reveal nothing but the sum.
//!
//! A masked sumcheck of `H = Σ_x f(x)` over n variables with round degree d draws a random
//! `g(x) = Σ_i g_i(x_i)` (each g_i of degree d, coefficients in the committed pool), sends
//! `G = Σ_x g(x)`, draws ρ and runs the plain sumcheck on `f + ρ·g` with claim `H + ρ·G`.
//! The rounds are uniformly random polynomials subject to the sumcheck's own consistency, so
//! they reveal nothing about f beyond H and f(s); g(s) is sent and proved from the pool.

use p3_field::{BasedVectorSpace, PrimeCharacteristicRing};

use crate::field::{EF, F};
use crate::mle::num_vars;
use crate::sumcheck::{interpolate, RoundProver};

use super::super::ProgramError;

/// An EF-valued block of the pool: its three base-field components, each an aligned subcube
/// of 2^vars entries, at `base`, `base + 2^vars`, `base + 2·2^vars` (offsets in the witness
/// half of the committed vector).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct EfBlock {
    pub base: usize,
    pub vars: usize,
}

impl EfBlock {
    /// Offset of component `b` (0, 1, 2).
    pub fn component(&self, b: usize) -> usize {
        self.base + b * (1 << self.vars)
    }

    /// Entry `i` of the block, read from the committed vector.
    pub fn get(&self, full: &[F], i: usize) -> EF {
        EF::from_basis_coefficients_fn(|b| full[self.component(b) + i])
    }

    /// The block's entries.
    pub fn values(&self, full: &[F]) -> Vec<EF> {
        (0..1usize << self.vars)
            .map(|i| self.get(full, i))
            .collect()
    }
}

/// The basis element X^b of EF over F (EF = F[X]/(X^3 − X − 1)).
pub(crate) fn basis(b: usize) -> EF {
    EF::from_basis_coefficients_fn(|j| F::from_bool(j == b))
}

/// Sequential allocator over the pool region; prover and verifier allocate in the same order,
/// so both know every block's place.
#[derive(Clone, Debug)]
pub(crate) struct Pool {
    start: usize,
    next: usize,
    cap: usize,
}

impl Pool {
    pub fn new(start: usize, cap: usize) -> Self {
        Pool {
            start,
            next: 0,
            cap,
        }
    }

    /// A fresh block of `len` EF values (rounded up to a power of two, aligned).
    pub fn ef_block(&mut self, len: usize) -> Result<EfBlock, ProgramError> {
        let vars = num_vars(len.max(1));
        let size = 1usize << vars;
        let at = self.next.div_ceil(size) * size;
        if at + 3 * size > self.cap {
            return Err(ProgramError::Internal("zero-knowledge mask pool exhausted"));
        }
        self.next = at + 3 * size;
        Ok(EfBlock {
            base: self.start + at,
            vars,
        })
    }

    /// Entries used so far.
    pub fn used(&self) -> usize {
        self.next
    }
}

/// The masking polynomial `g(x) = Σ_i g_i(x_i)` of one sumcheck: n univariates of degree d.
#[derive(Clone, Debug)]
pub(crate) struct MaskPoly {
    block: EfBlock,
    n: usize,
    d: usize,
    coeffs: Vec<EF>,
}

impl MaskPoly {
    /// Entries of the pool a mask of n rounds and degree d takes.
    pub fn len(n: usize, d: usize) -> usize {
        n * (d + 1)
    }

    /// Allocates the mask's block (the verifier does not read `full`: pass an empty slice).
    pub fn alloc(pool: &mut Pool, n: usize, d: usize, full: &[F]) -> Result<Self, ProgramError> {
        let block = pool.ef_block(Self::len(n, d))?;
        let coeffs = if full.is_empty() {
            Vec::new()
        } else {
            (0..Self::len(n, d)).map(|i| block.get(full, i)).collect()
        };
        Ok(MaskPoly {
            block,
            n,
            d,
            coeffs,
        })
    }

    fn uni(&self, i: usize, x: EF) -> EF {
        let c = &self.coeffs[i * (self.d + 1)..(i + 1) * (self.d + 1)];
        c.iter().rev().fold(EF::ZERO, |acc, &k| acc * x + k)
    }

    /// G = Σ_{x ∈ {0,1}^n} g(x) = 2^(n−1)·Σ_i (g_i(0) + g_i(1)).
    pub fn sum(&self) -> EF {
        if self.n == 0 {
            return EF::ZERO;
        }
        let s: EF = (0..self.n)
            .map(|i| self.uni(i, EF::ZERO) + self.uni(i, EF::ONE))
            .sum();
        s * F::from_u64(1u64 << (self.n - 1))
    }

    /// g(s).
    pub fn eval(&self, s: &[EF]) -> EF {
        s.iter().enumerate().map(|(i, &x)| self.uni(i, x)).sum()
    }

    /// g(s) as a linear functional of the pool: (position, weight) pairs.
    pub fn weights(&self, s: &[EF]) -> Vec<(usize, EF)> {
        let mut w = Vec::with_capacity(3 * self.n * (self.d + 1));
        for (i, &x) in s.iter().enumerate().take(self.n) {
            let mut pow = EF::ONE;
            for k in 0..=self.d {
                for b in 0..3 {
                    w.push((
                        self.block.component(b) + i * (self.d + 1) + k,
                        basis(b) * pow,
                    ));
                }
                pow *= x;
            }
        }
        w
    }
}

/// Wraps a round prover so that it proves `f + ρ·g` (see the module docs).
pub(crate) struct MaskedProver<'a, P: RoundProver> {
    pub inner: &'a mut P,
    g: &'a MaskPoly,
    rho: EF,
    round: usize,
    /// Σ_{j < round} g_j(s_j).
    prefix: EF,
    /// The inner (unmasked) claim of the current round.
    inner_claim: EF,
    last: Vec<EF>,
}

impl<'a, P: RoundProver> MaskedProver<'a, P> {
    pub fn new(inner: &'a mut P, g: &'a MaskPoly, rho: EF, claim: EF) -> Self {
        MaskedProver {
            inner,
            g,
            rho,
            round: 0,
            prefix: EF::ZERO,
            inner_claim: claim,
            last: Vec::new(),
        }
    }
}

impl<P: RoundProver> RoundProver for MaskedProver<'_, P> {
    fn degree(&self) -> usize {
        self.g.d
    }
    fn num_vars(&self) -> usize {
        self.g.n
    }
    fn round(&mut self, _claim: EF) -> Vec<EF> {
        let (n, i) = (self.g.n, self.round);
        let f = self.inner.round(self.inner_claim);
        let rest: EF = (i + 1..n)
            .map(|j| self.g.uni(j, EF::ZERO) + self.g.uni(j, EF::ONE))
            .sum();
        let hi = F::from_u64(1u64 << (n - 1 - i));
        let lo = if i + 1 < n {
            rest * F::from_u64(1u64 << (n - 2 - i))
        } else {
            EF::ZERO
        };
        let mut out = Vec::with_capacity(self.g.d + 1);
        for k in 0..=self.g.d {
            let x = EF::from(F::from_u64(k as u64));
            let fk = f.get(k).copied().unwrap_or(EF::ZERO);
            out.push(fk + self.rho * ((self.prefix + self.g.uni(i, x)) * hi + lo));
        }
        self.last = f;
        out
    }
    fn bind(&mut self, r: EF) {
        self.inner_claim = interpolate(&self.last, r);
        self.prefix += self.g.uni(self.round, r);
        self.round += 1;
        self.inner.bind(r);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::sumcheck::{self, Expression, TableProver};
    use crate::test_util::Rng;
    use crate::transcript::Transcript;

    fn random_full(rng: &mut Rng, len: usize) -> Vec<F> {
        (0..len).map(|_| rng.base()).collect()
    }

    #[test]
    fn masked_sumcheck_verifies_and_its_mask_opens_by_weights() {
        let mut rng = Rng::new(11);
        let full = random_full(&mut rng, 1 << 10);
        let mut pool = Pool::new(0, 1 << 10);
        let n = 5;
        let tables: Vec<Vec<EF>> = (0..2)
            .map(|_| (0..1 << n).map(|_| rng.ext()).collect())
            .collect();
        let expr = Expression::product2();
        let h = sumcheck::expression_sum(&expr, &tables);
        let mut inner = TableProver::new(&expr, tables).unwrap();
        let g = MaskPoly::alloc(&mut pool, n, 2, &full).unwrap();
        let mut t = Transcript::from_statement_bytes(b"mask test");
        let rho = t.challenge_ext(b"rho");
        let claim = h + rho * g.sum();
        let mut p = MaskedProver::new(&mut inner, &g, rho, h);
        let (proof, point) = sumcheck::prove_with(&mut p, claim, &mut t);
        let evals = inner.evals();
        let mut v = Transcript::from_statement_bytes(b"mask test");
        let rho_v = v.challenge_ext(b"rho");
        let fin = sumcheck::verify(2, n, h + rho_v * g.sum(), &proof, &mut v).unwrap();
        assert_eq!(fin.point, point);
        let gs = g.eval(&point);
        assert_eq!(fin.value, evals[0] * evals[1] + rho_v * gs);
        // The weights reproduce g(s) from the pool's entries.
        let from_weights: EF = g.weights(&point).iter().map(|&(i, w)| w * full[i]).sum();
        assert_eq!(from_weights, gs);
        // A false sum is rejected.
        let bad = sumcheck::verify(
            2,
            n,
            h + EF::ONE + rho_v * g.sum(),
            &proof,
            &mut Transcript::from_statement_bytes(b"mask test"),
        );
        assert!(bad.is_err());
    }

    #[test]
    fn the_mask_changes_every_round_message() {
        let mut rng = Rng::new(3);
        let n = 4;
        let tables: Vec<Vec<EF>> = (0..2)
            .map(|_| (0..1 << n).map(|_| rng.ext()).collect())
            .collect();
        let expr = Expression::product2();
        let run = |full: &[F]| {
            let mut pool = Pool::new(0, full.len());
            let g = MaskPoly::alloc(&mut pool, n, 2, full).unwrap();
            let h = sumcheck::expression_sum(&expr, &tables);
            let mut inner = TableProver::new(&expr, tables.clone()).unwrap();
            let mut p = MaskedProver::new(&mut inner, &g, EF::ONE, h);
            let mut t = Transcript::from_statement_bytes(b"x");
            sumcheck::prove_with(&mut p, h + g.sum(), &mut t).0
        };
        let a = run(&random_full(&mut rng, 1 << 8));
        let b = run(&random_full(&mut rng, 1 << 8));
        for (ra, rb) in a.rounds.iter().zip(&b.rounds) {
            assert_ne!(ra, rb);
        }
    }

    #[test]
    fn pool_blocks_are_aligned_and_bounded() {
        let mut pool = Pool::new(1 << 12, 64);
        let a = pool.ef_block(3).unwrap();
        assert_eq!((a.base, a.vars), (1 << 12, 2));
        let b = pool.ef_block(8).unwrap();
        assert_eq!(b.base % 8, 0);
        assert!(b.base >= a.base + 12);
        assert!(pool.ef_block(16).is_err());
    }
}
