//! LogUp-GKR on masked layers, the pieces both sides share.
//!
//! One fraction tree per lookup: leaves (side, i) over depth + 1 variables, side 0 the
//! lookups (p = [i < n], q = α − Σ_c β^c·col_c(i), also on padding, where p = 0) and side 1
//! the table (p = −m(j), q = α − Σ_c β^c·table_c(j), padding 0/1). The lookups' padding keeps
//! the denominator α − w because the root's denominator is never checked: with 1 − w there, a
//! prover could put w = 1 in a column's padding, making one leaf 0/0, which zeroes the root
//! numerator whatever the other leaves (`a_zero_denominator_in_lookup_padding_does_not_forge_outputs`). The root's numerator is
//! Σ_i 1/(α − w_i) − Σ_j m_j/(α − t_j) over the common denominator, and must be 0. (Every
//! denominator is α minus a value committed before α was drawn, so none is 0 except with
//! probability ≤ leaves/|EF|; the verifier therefore needs no check on the root's q, which
//! the proof never reveals.)
//!
//! Layer v (v variables, 1 ≤ v ≤ depth) has the masked extension
//! `ℓ̂_v(z, x) = (1 − z)·ℓ_v(x) + z·Λ_v(x_low)`, Λ_v a random block of min(v, 2) variables
//! in the pool (one for p, one for q). The leaves' masks are the columns' own. A claim
//! `ℓ̂^p_v(t, r) + γ·ℓ̂^q_v(t, r)` is reduced by the sumcheck over (z, x)
//!
//! ```text
//! Σ eq((t, r), (z, x))·[(1 − z)·(P0·Q1 + P1·Q0 + γ·Q0·Q1)(z, x) + z·(Λ^p_v + γΛ^q_v)(x_low)]
//! ```
//!
//! where P_b(z, x) = ℓ̂^p_{v+1}(z, x, b) (the children), masked by the pool, ending in the
//! four children at (t', s) and one mask value; a random ρ' folds the children into one
//! claim at (t', (s, ρ')). The root (v = 0) proves Σ_z (1 − z)·(P0·Q1 + P1·Q0) = 0.

use p3_field::PrimeCharacteristicRing;

use crate::field::{EF, F};
use crate::mle::{evaluate, prefix_indicator};
use crate::sumcheck::Expression;

use super::mask::{basis, EfBlock, MaskPoly, Pool};
use super::{DEG_LAYER, LAYER_MASK_VARS};
use crate::logup::Table;
use crate::program::ProgramError;

pub(super) const L_SHAPE: &[u8] = b"gkr/zk/logup/shape";
pub(super) const L_BETA: &[u8] = b"gkr/zk/logup/beta";
pub(super) const L_ALPHA: &[u8] = b"gkr/zk/logup/alpha";
pub(super) const L_CHILDREN: &[u8] = b"gkr/zk/logup/children";
pub(super) const L_GAMMA: &[u8] = b"gkr/zk/logup/gamma";
pub(super) const L_FOLD: &[u8] = b"gkr/zk/logup/fold";

/// The random blocks of one lookup: layer masks (index v − 1 for layer v), then one
/// sumcheck mask per layer (index v, root first).
pub(super) struct Masks {
    pub p: Vec<EfBlock>,
    pub q: Vec<EfBlock>,
    pub g: Vec<MaskPoly>,
}

/// Allocates one lookup's blocks, in the order both sides use.
pub(super) fn allocate(pool: &mut Pool, depth: usize, full: &[F]) -> Result<Masks, ProgramError> {
    let (mut p, mut q) = (Vec::new(), Vec::new());
    for v in 1..=depth {
        let len = 1usize << v.min(LAYER_MASK_VARS);
        p.push(pool.ef_block(len)?);
        q.push(pool.ef_block(len)?);
    }
    let g = (0..=depth)
        .map(|v| MaskPoly::alloc(pool, v + 1, DEG_LAYER, full))
        .collect::<Result<_, _>>()?;
    Ok(Masks { p, q, g })
}

/// Polys: EQ, SEL, P0, P1, Q0, Q1, MK.
pub(super) fn layer_expr(gamma: EF) -> Expression {
    Expression {
        num_polys: 7,
        terms: vec![
            (EF::ONE, vec![0, 1, 2, 5]),
            (EF::ONE, vec![0, 1, 3, 4]),
            (gamma, vec![0, 1, 4, 5]),
            (EF::ONE, vec![0, 6]),
        ],
    }
}

/// The layer relation at the sumcheck's final point (verifier's check).
pub(super) fn layer_value(eq: EF, t: EF, children: &[EF; 4], gamma: EF, lambda: EF) -> EF {
    let [p0, p1, q0, q1] = *children;
    eq * ((EF::ONE - t) * (p0 * q1 + p1 * q0 + gamma * q0 * q1) + t * lambda)
}

/// Λ^p_v(x_low) + γ·Λ^q_v(x_low) at the last min(v, 2) coordinates of `s` (prover's side).
pub(super) fn lambda_value(full: &[F], p: EfBlock, q: EfBlock, gamma: EF, s: &[EF]) -> EF {
    let low = &s[s.len() - p.vars..];
    let ev = |b: EfBlock| evaluate(&b.values(full), low).unwrap_or(EF::ZERO);
    ev(p) + gamma * ev(q)
}

/// The same as eq terms of a claim: (block component offset, point, coefficient).
pub(super) fn lambda_terms(
    p: EfBlock,
    q: EfBlock,
    gamma: EF,
    s: &[EF],
) -> Vec<(usize, Vec<EF>, EF)> {
    let low = s[s.len() - p.vars..].to_vec();
    let mut terms = Vec::with_capacity(6);
    for b in 0..3 {
        terms.push((p.component(b), low.clone(), basis(b)));
        terms.push((q.component(b), low.clone(), gamma * basis(b)));
    }
    terms
}

/// eq(0, hi): the extension of a vector zero-padded at the top, at its high coordinates.
pub(super) fn eq_zero(hi: &[EF]) -> EF {
    hi.iter().map(|&x| EF::ONE - x).product()
}

/// The leaves' (p, q) at (t', (side, i)) from the masked values of the lookup columns and the
/// multiplicities (each already extended to the tree's index width).
pub(super) struct Leaf<'a> {
    pub alpha: EF,
    pub beta: EF,
    pub n: usize,
    pub table: &'a Table,
}

impl Leaf<'_> {
    pub fn value(&self, point: &[EF], cols: &[EF], mult: EF) -> Result<(EF, EF), ProgramError> {
        let (side, pi) = (point[0], &point[1..]);
        let sel = prefix_indicator(self.n, pi).ok_or(ProgramError::Internal("lookup length"))?;
        let tl = self.table.len();
        let sel_t = prefix_indicator(tl, pi).ok_or(ProgramError::Internal("table length"))?;
        let tv = crate::mle::num_vars(tl);
        let (hi, lo) = pi.split_at(pi.len() - tv);
        let tab = self
            .table
            .eval_columns(lo)
            .ok_or(ProgramError::Internal("table point"))?;
        let mut w = EF::ZERO;
        let mut tw = EF::ZERO;
        let mut b = EF::ONE;
        for (c, &tc) in cols.iter().zip(&tab) {
            w += b * *c;
            tw += b * tc;
            b *= self.beta;
        }
        let tw = tw * eq_zero(hi);
        let p = (EF::ONE - side) * sel - side * mult;
        let q = (EF::ONE - side) * (self.alpha - w)
            + side * (self.alpha * sel_t + EF::ONE - sel_t - tw);
        Ok((p, q))
    }
}
