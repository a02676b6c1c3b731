//! Batched layered GKR for fractional sums (Papini–Haböck, "Improving logarithmic derivative
//! lookups using GKR", 2023).
//!
//! An *instance* is a list of 2^d fractions p_i / q_i (its input layer, d variables). Layer
//! k - 1 is obtained from layer k by adding neighbours projectively:
//!
//! ```text
//! p'(x) = p(x, 0)·q(x, 1) + p(x, 1)·q(x, 0)        q'(x) = q(x, 0)·q(x, 1)
//! ```
//!
//! (the last variable, i.e. the least significant index bit, is summed), so layer 0 is one
//! pair (P, Q) with P = Σ_i p_i Π_{k≠i} q_k and Q = Π_i q_i: P / Q = Σ_i p_i / q_i whenever no
//! q_i is zero, and the identities above hold as polynomial identities in any case.
//!
//! Several instances are proved together, aligned at their roots: layer k exists for every
//! instance with d > k, and all of them share the layer's random point. The deepest instance
//! sets the number of layers; shallower ones finish (leave their input claims) earlier.
//!
//! Protocol, after the caller has bound everything the inputs depend on:
//! 1. absorb the depths; the prover sends every root (P, Q) (absorbed);
//! 2. for k = 0, 1, …, (max depth) - 1, with claims (P_a, Q_a) on layer k of every active
//!    instance a at the common point r ∈ EF^k:
//!    - draw μ; the batched claim is Σ_a μ^{2a}(P_a + μ Q_a) (a indexes the active instances);
//!    - sumcheck (degree 3, k rounds) of
//!      `Σ_{x ∈ {0,1}^k} eq(r, x) Σ_a μ^{2a} (p_a(x,0) q_a(x,1) + p_a(x,1) q_a(x,0) + μ q_a(x,0) q_a(x,1))`
//!      over layer k + 1, ending at a point s with value v;
//!    - the prover sends, per active instance, p(s,0), p(s,1), q(s,0), q(s,1) of layer k + 1
//!      (absorbed); the verifier checks v = eq(r, s) · (the same expression on these values);
//!    - draw λ; each claim becomes (p(s,0) + λ(p(s,1) - p(s,0)), same for q) on layer k + 1
//!      at the point (s, λ);
//! 3. instances whose input layer was reached leave a claim (point, p̃(point), q̃(point)) on
//!    their input layer, which the caller must check ([`InputClaim`]).
//!
//! Soundness of layer k (with A active instances): a false claim passes the batching except
//! with probability ≤ (2A - 1)/|EF|, the sumcheck ≤ 3k/|EF|, and the line reduction ≤ 1/|EF|;
//! see `docs/gkr.md`.
//!
//! The prover is linear: building the layers costs 3 multiplications per fraction, and the
//! sumcheck of layer k costs O(2^k) (the `eq` factor is split off as in Gruen's trick, so each
//! round needs the quadratic remainder at two points only).

use p3_field::{Field, PrimeCharacteristicRing};
use rayon::prelude::*;
use thiserror::Error;

use crate::codec::{DecodeError, Reader, Writer};
use crate::field::EF;
use crate::mle::{eq_eval, eq_table};
use crate::sumcheck::{self, RoundProver, SumcheckError, SumcheckProof, MAX_VARS};
use crate::transcript::Transcript;

/// Degree of the layer sumchecks: eq · p · q.
pub const DEGREE: usize = 3;

/// Evaluations per sumcheck round (degree + 1).
pub const ROUND_WIDTH: usize = DEGREE + 1;

/// Largest number of instances one proof may batch (bounds decoding and verifier work).
pub const MAX_INSTANCES: usize = 64;

/// Below this many fractions per table, work stays on the calling thread.
const PAR_THRESHOLD: usize = 1 << 12;

/// One fraction p / q, stored together so that a layer is one contiguous table.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Frac {
    pub p: EF,
    pub q: EF,
}

impl Frac {
    /// 0 / 1: the padding fraction. It contributes nothing: (p·1 + 0·q, q·1) = (p, q).
    pub const PAD: Frac = Frac {
        p: EF::ZERO,
        q: EF::ONE,
    };

    /// The projective sum (p0 q1 + p1 q0, q0 q1).
    #[inline]
    pub fn combine(self, other: Frac) -> Frac {
        Frac {
            p: self.p * other.q + other.p * self.q,
            q: self.q * other.q,
        }
    }
}

/// Layer k of one instance, proved by the layer-k sumcheck: the four values p(s,0), p(s,1),
/// q(s,0), q(s,1) of layer k + 1 at the sumcheck's point s.
pub type LayerEvals = [EF; 4];

/// The proof of one layer: the sumcheck's round polynomials (evaluations at 0, 1, 2, 3) and
/// the evaluations of layer k + 1 of every active instance, in instance order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LayerProof {
    pub rounds: Vec<[EF; ROUND_WIDTH]>,
    pub evals: Vec<LayerEvals>,
}

/// A batched fractional-sum proof: each instance's root (P, Q) and one [`LayerProof`] per layer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FracSumProof {
    pub roots: Vec<Frac>,
    pub layers: Vec<LayerProof>,
}

/// What a verified instance leaves to check: its input layer's p̃ and q̃ at `point` (length =
/// the instance's depth) equal `p` and `q`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputClaim {
    pub point: Vec<EF>,
    pub p: EF,
    pub q: EF,
}

/// Why a fractional-sum instance or proof was rejected.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum FracSumError {
    #[error("instance {instance} has {len} fractions; inputs must have a power-of-two length ≥ 1 (pad with 0/1)")]
    InputLength { instance: usize, len: usize },
    #[error("instance {instance} has depth {depth}, at most {max} supported")]
    TooDeep {
        instance: usize,
        depth: usize,
        max: usize,
    },
    #[error("{got} instances, between 1 and {max} allowed")]
    InstanceCount { max: usize, got: usize },
    #[error("proof has {got} {what}, expected {expected}: proof made for other sizes")]
    Structure {
        what: &'static str,
        expected: usize,
        got: usize,
    },
    #[error("layer {layer} sumcheck: {source}")]
    Sumcheck { layer: usize, source: SumcheckError },
    #[error("layer {layer}: the sumcheck's last claim does not match the sent evaluations; the proof is invalid")]
    LayerCheck { layer: usize },
}

const LABEL_DEPTHS: &[u8] = b"logup/gkr/depths";
const LABEL_ROOTS: &[u8] = b"logup/gkr/roots";
const LABEL_MU: &[u8] = b"logup/gkr/mu";
const LABEL_EVALS: &[u8] = b"logup/gkr/evals";
const LABEL_LAMBDA: &[u8] = b"logup/gkr/lambda";

fn check_depths(depths: &[usize]) -> Result<(), FracSumError> {
    if depths.is_empty() || depths.len() > MAX_INSTANCES {
        return Err(FracSumError::InstanceCount {
            max: MAX_INSTANCES,
            got: depths.len(),
        });
    }
    for (instance, &depth) in depths.iter().enumerate() {
        if depth > MAX_VARS {
            return Err(FracSumError::TooDeep {
                instance,
                depth,
                max: MAX_VARS,
            });
        }
    }
    Ok(())
}

/// Layer k - 1 from layer k: neighbours (2i, 2i + 1) added projectively.
fn next_layer(layer: &[Frac]) -> Vec<Frac> {
    if layer.len() >= PAR_THRESHOLD {
        layer
            .par_chunks_exact(2)
            .map(|c| c[0].combine(c[1]))
            .collect()
    } else {
        layer.chunks_exact(2).map(|c| c[0].combine(c[1])).collect()
    }
}

/// Every layer of one instance, indexed by its number of variables: `tree[d]` is the input,
/// `tree[0]` the root.
fn build_tree(input: Vec<Frac>, depth: usize) -> Vec<Vec<Frac>> {
    let mut tree = Vec::with_capacity(depth + 1);
    tree.push(input);
    for _ in 0..depth {
        let next = tree.last().map(|l| next_layer(l)).unwrap_or_default();
        tree.push(next);
    }
    tree.reverse();
    tree
}

/// Fixes the first variable of a fraction table in place (both components folded with `r`):
/// the low half becomes lo + r·(hi − lo) and the table is truncated to it.
fn fold_fracs(v: &mut Vec<Frac>, r: EF) {
    let half = v.len() / 2;
    let (lo, hi) = v.split_at_mut(half);
    let f = |(l, h): (&mut Frac, &Frac)| {
        l.p += r * (h.p - l.p);
        l.q += r * (h.q - l.q);
    };
    if half >= PAR_THRESHOLD {
        lo.par_iter_mut().zip(hi.par_iter()).for_each(f);
    } else {
        lo.iter_mut().zip(hi.iter()).for_each(f);
    }
    v.truncate(half);
}

/// The layer polynomial at one point: p0 q1 + p1 q0 + μ q0 q1, written with 3 products.
#[inline]
fn layer_expr(p0: EF, p1: EF, q0: EF, q1: EF, mu: EF) -> EF {
    p0 * q1 + q0 * (p1 + mu * q1)
}

/// Σ_a μ^{2a}(p0 q1 + p1 q0 + μ q0 q1) over the active instances' evaluations.
fn batched_expr(evals: &[LayerEvals], mu: EF) -> EF {
    let mu2 = mu * mu;
    let mut coeff = EF::ONE;
    let mut acc = EF::ZERO;
    for &[p0, p1, q0, q1] in evals {
        acc += coeff * layer_expr(p0, p1, q0, q1, mu);
        coeff *= mu2;
    }
    acc
}

/// The layer-k sumcheck prover: tables of layer k + 1 (one per active instance, interleaved
/// so that entry 2x + b holds (p, q)(x, b)), folded in place, with `eq(r, ·)` split off.
///
/// Round j: g(X) = E · eq(r_j, X) · h(X), where E = Π_{i<j} eq(r_i, s_i) and
/// h(X) = Σ_{x'} eq(r_{>j}, x') Σ_a μ^{2a} F_a(s, X, x') has degree 2. The prover computes
/// h(0) and h(2), gets h(1) from the claim g(0) + g(1) (falling back to computing it when E or
/// r_j is zero), and sends g at 0, 1, 2, 3.
struct LayerProver<'a> {
    r: &'a [EF],
    mu: EF,
    round: usize,
    scale: EF,
    tables: Vec<Vec<Frac>>,
    /// Testing hook: compute h(1) directly instead of from the claim.
    direct_h1: bool,
}

impl LayerProver<'_> {
    /// Σ_a μ^{2a} Σ_{x'} eq(r_{>j}, x') F_a at X = 0, 1 (if `with_one`), 2.
    fn h_values(&self, with_one: bool) -> [EF; 3] {
        let eq = eq_table(self.r.get(self.round + 1..).unwrap_or(&[]));
        let mu = self.mu;
        let mu2 = mu * mu;
        let mut coeff = EF::ONE;
        let mut h = [EF::ZERO; 3];
        for t in &self.tables {
            let s = instance_h(t, &eq, mu, with_one);
            for (x, v) in h.iter_mut().zip(s) {
                *x += coeff * v;
            }
            coeff *= mu2;
        }
        h
    }
}

/// One instance's Σ_{x'} eq(x') F(X, x') at X = 0, 1 (if `with_one`), 2, for a table whose
/// low half is X = 0 and high half X = 1, each a run of (x', b) pairs.
fn instance_h(t: &[Frac], eq: &[EF], mu: EF, with_one: bool) -> [EF; 3] {
    let (lo, hi) = t.split_at(t.len() / 2);
    let step = |mut s: [EF; 3], ((l, u), &e): ((&[Frac], &[Frac]), &EF)| {
        let (l0, l1, u0, u1) = (l[0], l[1], u[0], u[1]);
        s[0] += e * layer_expr(l0.p, l1.p, l0.q, l1.q, mu);
        if with_one {
            s[1] += e * layer_expr(u0.p, u1.p, u0.q, u1.q, mu);
        }
        // X = 2: 2·hi − lo
        let p0 = u0.p.double() - l0.p;
        let p1 = u1.p.double() - l1.p;
        let q0 = u0.q.double() - l0.q;
        let q1 = u1.q.double() - l1.q;
        s[2] += e * layer_expr(p0, p1, q0, q1, mu);
        s
    };
    let add = |a: [EF; 3], b: [EF; 3]| [a[0] + b[0], a[1] + b[1], a[2] + b[2]];
    let zero = [EF::ZERO; 3];
    if eq.len() >= PAR_THRESHOLD / 2 {
        lo.par_chunks_exact(2)
            .zip(hi.par_chunks_exact(2))
            .zip(eq.par_iter())
            .fold(|| zero, step)
            .reduce(|| zero, add)
    } else {
        lo.chunks_exact(2)
            .zip(hi.chunks_exact(2))
            .zip(eq.iter())
            .fold(zero, step)
    }
}

impl RoundProver for LayerProver<'_> {
    fn degree(&self) -> usize {
        DEGREE
    }

    fn num_vars(&self) -> usize {
        self.r.len()
    }

    fn round(&mut self, claim: EF) -> Vec<EF> {
        let rj = self.r.get(self.round).copied().unwrap_or(EF::ZERO);
        let one_minus = EF::ONE - rj;
        // h(1) = (claim / E - (1 - r_j) h(0)) / r_j, when E·r_j is invertible.
        let inv = (self.scale * rj).try_inverse().filter(|_| !self.direct_h1);
        let [h0, h1, h2] = match inv {
            Some(inv) => {
                let [h0, _, h2] = self.h_values(false);
                let h1 = (claim - self.scale * one_minus * h0) * inv;
                [h0, h1, h2]
            }
            None => self.h_values(true),
        };
        // h is quadratic: h(3) = h(0) - 3 h(1) + 3 h(2).
        let three = EF::from_u8(3);
        let h3 = h0 + three * (h2 - h1);
        // eq(r_j, X) = (1 - r_j) + (2 r_j - 1) X
        let slope = rj.double() - EF::ONE;
        let mut g = Vec::with_capacity(ROUND_WIDTH);
        let mut e = one_minus;
        for h in [h0, h1, h2, h3] {
            g.push(self.scale * e * h);
            e += slope;
        }
        g
    }

    fn bind(&mut self, s: EF) {
        let rj = self.r.get(self.round).copied().unwrap_or(EF::ZERO);
        self.scale *= rj * s + (EF::ONE - rj) * (EF::ONE - s);
        for t in self.tables.iter_mut() {
            fold_fracs(t, s);
        }
        self.round += 1;
    }
}

/// Updates the claims of the active instances with λ and records the instances that reached
/// their input layer.
fn advance(
    depths: &[usize],
    active: &[usize],
    evals: &[LayerEvals],
    point: &[EF],
    lambda: EF,
    claims: &mut [Frac],
    finished: &mut [Option<InputClaim>],
) {
    let k1 = point.len();
    for (&inst, &[p0, p1, q0, q1]) in active.iter().zip(evals) {
        let c = Frac {
            p: p0 + lambda * (p1 - p0),
            q: q0 + lambda * (q1 - q0),
        };
        if let Some(slot) = claims.get_mut(inst) {
            *slot = c;
        }
        if depths.get(inst) == Some(&k1) {
            if let Some(slot) = finished.get_mut(inst) {
                *slot = Some(InputClaim {
                    point: point.to_vec(),
                    p: c.p,
                    q: c.q,
                });
            }
        }
    }
}

fn active_at(depths: &[usize], k: usize) -> Vec<usize> {
    (0..depths.len()).filter(|&i| depths[i] > k).collect()
}

/// Proves the fractional sums of several instances (each input a power-of-two list of
/// fractions). Returns the proof and each instance's input claim, in instance order. The
/// transcript must already bind everything the inputs were computed from.
pub fn prove(
    inputs: Vec<Vec<Frac>>,
    t: &mut Transcript,
) -> Result<(FracSumProof, Vec<InputClaim>), FracSumError> {
    let mut depths = Vec::with_capacity(inputs.len());
    for (instance, input) in inputs.iter().enumerate() {
        if !input.len().is_power_of_two() {
            return Err(FracSumError::InputLength {
                instance,
                len: input.len(),
            });
        }
        depths.push(input.len().trailing_zeros() as usize);
    }
    check_depths(&depths)?;
    let mut trees: Vec<Vec<Vec<Frac>>> = inputs
        .into_iter()
        .zip(&depths)
        .map(|(input, &d)| build_tree(input, d))
        .collect();
    let roots: Vec<Frac> = trees
        .iter()
        .map(|tr| {
            tr.first()
                .and_then(|l| l.first())
                .copied()
                .unwrap_or(Frac::PAD)
        })
        .collect();
    t.absorb_u64s(
        LABEL_DEPTHS,
        &depths.iter().map(|&d| d as u64).collect::<Vec<_>>(),
    );
    t.absorb_ext(LABEL_ROOTS, &flatten_fracs(&roots));

    let max_depth = depths.iter().copied().max().unwrap_or(0);
    let mut claims = roots.clone();
    let mut finished: Vec<Option<InputClaim>> = depths
        .iter()
        .zip(&roots)
        .map(|(&d, r)| {
            (d == 0).then(|| InputClaim {
                point: vec![],
                p: r.p,
                q: r.q,
            })
        })
        .collect();
    let mut point: Vec<EF> = vec![];
    let mut layers = Vec::with_capacity(max_depth);
    for k in 0..max_depth {
        let active = active_at(&depths, k);
        let mu = t.challenge_ext(LABEL_MU);
        let claim = batched_claim(&active, &claims, mu);
        let tables: Vec<Vec<Frac>> = active
            .iter()
            .map(|&a| {
                trees
                    .get_mut(a)
                    .and_then(|tr| tr.get_mut(k + 1))
                    .map(std::mem::take)
                    .unwrap_or_default()
            })
            .collect();
        let mut prover = LayerProver {
            r: &point,
            mu,
            round: 0,
            scale: EF::ONE,
            tables,
            direct_h1: false,
        };
        let (sc, s) = sumcheck::prove_with(&mut prover, claim, t);
        let evals: Vec<LayerEvals> = prover
            .tables
            .iter()
            .map(|tb| match tb.as_slice() {
                [a, b] => [a.p, b.p, a.q, b.q],
                _ => [EF::ZERO; 4],
            })
            .collect();
        t.absorb_ext(LABEL_EVALS, &flatten_evals(&evals));
        let lambda = t.challenge_ext(LABEL_LAMBDA);
        point = s;
        point.push(lambda);
        advance(
            &depths,
            &active,
            &evals,
            &point,
            lambda,
            &mut claims,
            &mut finished,
        );
        layers.push(LayerProof {
            rounds: sc.rounds.into_iter().map(to_round).collect(),
            evals,
        });
        // Layers below k + 1 are no longer needed.
        for tr in trees.iter_mut() {
            if let Some(l) = tr.get_mut(k) {
                *l = Vec::new();
            }
        }
    }
    let inputs = finished
        .into_iter()
        .map(Option::unwrap_or_default)
        .collect();
    Ok((FracSumProof { roots, layers }, inputs))
}

impl Default for InputClaim {
    fn default() -> Self {
        InputClaim {
            point: vec![],
            p: EF::ZERO,
            q: EF::ZERO,
        }
    }
}

fn to_round(g: Vec<EF>) -> [EF; ROUND_WIDTH] {
    let mut out = [EF::ZERO; ROUND_WIDTH];
    for (o, v) in out.iter_mut().zip(g) {
        *o = v;
    }
    out
}

fn batched_claim(active: &[usize], claims: &[Frac], mu: EF) -> EF {
    let mu2 = mu * mu;
    let mut coeff = EF::ONE;
    let mut acc = EF::ZERO;
    for c in active.iter().filter_map(|&a| claims.get(a)) {
        acc += coeff * (c.p + mu * c.q);
        coeff *= mu2;
    }
    acc
}

fn flatten_fracs(v: &[Frac]) -> Vec<EF> {
    v.iter().flat_map(|f| [f.p, f.q]).collect()
}

fn flatten_evals(v: &[LayerEvals]) -> Vec<EF> {
    v.iter().flatten().copied().collect()
}

/// Verifies a batched fractional-sum proof for instances of the given depths (log2 of their
/// input lengths, known to the verifier). Returns the roots (P, Q) — whose meaning the caller
/// checks — and each instance's input claim, which the caller must check against the inputs.
/// Never panics.
pub fn verify(
    depths: &[usize],
    proof: &FracSumProof,
    t: &mut Transcript,
) -> Result<(Vec<Frac>, Vec<InputClaim>), FracSumError> {
    check_depths(depths)?;
    let structure = |what, expected: usize, got: usize| {
        if expected == got {
            Ok(())
        } else {
            Err(FracSumError::Structure {
                what,
                expected,
                got,
            })
        }
    };
    structure("roots", depths.len(), proof.roots.len())?;
    let max_depth = depths.iter().copied().max().unwrap_or(0);
    structure("layers", max_depth, proof.layers.len())?;
    t.absorb_u64s(
        LABEL_DEPTHS,
        &depths.iter().map(|&d| d as u64).collect::<Vec<_>>(),
    );
    t.absorb_ext(LABEL_ROOTS, &flatten_fracs(&proof.roots));

    let mut claims = proof.roots.clone();
    let mut finished: Vec<Option<InputClaim>> = depths
        .iter()
        .zip(&proof.roots)
        .map(|(&d, r)| {
            (d == 0).then(|| InputClaim {
                point: vec![],
                p: r.p,
                q: r.q,
            })
        })
        .collect();
    let mut point: Vec<EF> = vec![];
    for (k, layer) in proof.layers.iter().enumerate() {
        let active = active_at(depths, k);
        structure("layer evaluations", active.len(), layer.evals.len())?;
        structure("sumcheck rounds", k, layer.rounds.len())?;
        let mu = t.challenge_ext(LABEL_MU);
        let claim = batched_claim(&active, &claims, mu);
        let sc = SumcheckProof {
            rounds: layer.rounds.iter().map(|g| g.to_vec()).collect(),
        };
        let fin = sumcheck::verify(DEGREE, k, claim, &sc, t)
            .map_err(|source| FracSumError::Sumcheck { layer: k, source })?;
        t.absorb_ext(LABEL_EVALS, &flatten_evals(&layer.evals));
        let eq = eq_eval(&point, &fin.point).ok_or(FracSumError::LayerCheck { layer: k })?;
        if eq * batched_expr(&layer.evals, mu) != fin.value {
            return Err(FracSumError::LayerCheck { layer: k });
        }
        let lambda = t.challenge_ext(LABEL_LAMBDA);
        point = fin.point;
        point.push(lambda);
        advance(
            depths,
            &active,
            &layer.evals,
            &point,
            lambda,
            &mut claims,
            &mut finished,
        );
    }
    let mut inputs = Vec::with_capacity(depths.len());
    for (instance, f) in finished.into_iter().enumerate() {
        match f {
            Some(c) => inputs.push(c),
            // Unreachable for consistent depths and layer counts; reported, not panicked on.
            None => {
                return Err(FracSumError::Structure {
                    what: "finished instances",
                    expected: depths.len(),
                    got: instance,
                })
            }
        }
    }
    Ok((proof.roots.clone(), inputs))
}

impl FracSumProof {
    /// Appends `instances u32 ‖ roots (p, q) ‖ layers u32 ‖ per layer: rounds u32 ‖ rounds × 4
    /// elements ‖ evaluations u32 ‖ evaluations × 4 elements`.
    pub fn write(&self, w: &mut Writer) {
        w.u32(self.roots.len() as u32);
        for r in &self.roots {
            w.ext(r.p);
            w.ext(r.q);
        }
        w.u32(self.layers.len() as u32);
        for l in &self.layers {
            w.u32(l.rounds.len() as u32);
            for g in &l.rounds {
                for &e in g {
                    w.ext(e);
                }
            }
            w.u32(l.evals.len() as u32);
            for ev in &l.evals {
                for &e in ev {
                    w.ext(e);
                }
            }
        }
    }

    /// Reads what [`FracSumProof::write`] wrote; counts are bounded before anything is
    /// allocated, so hostile input cannot make it allocate much or panic.
    pub fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let count = |r: &mut Reader<'_>, what, max: usize| -> Result<usize, DecodeError> {
            let got = r.u32()? as usize;
            if got > max {
                return Err(DecodeError::TooLarge { what, max, got });
            }
            Ok(got)
        };
        let instances = count(r, "instance count", MAX_INSTANCES)?;
        let mut roots = Vec::with_capacity(instances);
        for _ in 0..instances {
            roots.push(Frac {
                p: r.ext()?,
                q: r.ext()?,
            });
        }
        let n_layers = count(r, "layer count", MAX_VARS)?;
        let mut layers = Vec::with_capacity(n_layers);
        for _ in 0..n_layers {
            let n_rounds = count(r, "round count", MAX_VARS)?;
            let mut rounds = Vec::with_capacity(n_rounds);
            for _ in 0..n_rounds {
                let mut g = [EF::ZERO; ROUND_WIDTH];
                for e in g.iter_mut() {
                    *e = r.ext()?;
                }
                rounds.push(g);
            }
            let n_evals = count(r, "evaluation count", MAX_INSTANCES)?;
            let mut evals = Vec::with_capacity(n_evals);
            for _ in 0..n_evals {
                let mut ev = [EF::ZERO; 4];
                for e in ev.iter_mut() {
                    *e = r.ext()?;
                }
                evals.push(ev);
            }
            layers.push(LayerProof { rounds, evals });
        }
        Ok(FracSumProof { roots, layers })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mle::evaluate;
    use crate::test_util::Rng;

    fn random_input(rng: &mut Rng, depth: usize) -> Vec<Frac> {
        (0..1usize << depth)
            .map(|_| Frac {
                p: rng.ext(),
                q: rng.ext(),
            })
            .collect()
    }

    fn direct_sum(input: &[Frac]) -> EF {
        input.iter().map(|f| f.p * f.q.inverse()).sum()
    }

    fn check_input(input: &[Frac], claim: &InputClaim) {
        let p: Vec<EF> = input.iter().map(|f| f.p).collect();
        let q: Vec<EF> = input.iter().map(|f| f.q).collect();
        assert_eq!(evaluate(&p, &claim.point), Some(claim.p));
        assert_eq!(evaluate(&q, &claim.point), Some(claim.q));
    }

    #[test]
    fn batched_instances_of_different_depths_prove_and_verify() {
        let mut rng = Rng::new(11);
        for depths in [
            vec![0],
            vec![1],
            vec![5],
            vec![3, 3],
            vec![7, 2],
            vec![0, 4, 1],
            vec![13, 9],
        ] {
            let inputs: Vec<Vec<Frac>> =
                depths.iter().map(|&d| random_input(&mut rng, d)).collect();
            let (proof, claims) =
                prove(inputs.clone(), &mut Transcript::from_statement_bytes(b"fs"))
                    .unwrap_or_else(|e| panic!("{e}"));
            let (roots, vclaims) = verify(
                &depths,
                &proof,
                &mut Transcript::from_statement_bytes(b"fs"),
            )
            .unwrap_or_else(|e| panic!("{depths:?}: {e}"));
            assert_eq!(vclaims, claims);
            for ((input, root), claim) in inputs.iter().zip(&roots).zip(&claims) {
                assert_eq!(root.p * root.q.inverse(), direct_sum(input));
                assert_eq!(claim.point.len(), input.len().trailing_zeros() as usize);
                check_input(input, claim);
            }
            // codec round trip
            let mut w = Writer::default();
            proof.write(&mut w);
            let mut r = Reader::new(&w.bytes);
            assert_eq!(FracSumProof::read(&mut r), Ok(proof.clone()));
            assert!(r.finish().is_ok());
        }
    }

    #[test]
    fn h1_from_the_claim_equals_h1_computed_directly() {
        let mut rng = Rng::new(12);
        let r: Vec<EF> = (0..6).map(|_| rng.ext()).collect();
        let table = random_input(&mut rng, 7);
        let mu = rng.ext();
        // true claim on layer 6 at r
        let layer = next_layer(&table);
        let p: Vec<EF> = layer.iter().map(|f| f.p).collect();
        let q: Vec<EF> = layer.iter().map(|f| f.q).collect();
        let claim =
            evaluate(&p, &r).unwrap_or_default() + mu * evaluate(&q, &r).unwrap_or_default();
        let run = |direct| {
            let mut pr = LayerProver {
                r: &r,
                mu,
                round: 0,
                scale: EF::ONE,
                tables: vec![table.clone()],
                direct_h1: direct,
            };
            sumcheck::prove_with(&mut pr, claim, &mut Transcript::from_statement_bytes(b"h1")).0
        };
        let (a, b) = (run(false), run(true));
        assert_eq!(a, b);
        let fin = sumcheck::verify(
            DEGREE,
            6,
            claim,
            &a,
            &mut Transcript::from_statement_bytes(b"h1"),
        );
        assert!(fin.is_ok());
    }

    #[test]
    fn wrong_roots_and_structures_are_rejected() {
        let mut rng = Rng::new(13);
        let depths = [6, 3];
        let inputs: Vec<Vec<Frac>> = depths.iter().map(|&d| random_input(&mut rng, d)).collect();
        let (proof, _) = prove(inputs, &mut Transcript::from_statement_bytes(b"x"))
            .unwrap_or_else(|e| panic!("{e}"));
        let v = |p: &FracSumProof| verify(&depths, p, &mut Transcript::from_statement_bytes(b"x"));
        assert!(v(&proof).is_ok());
        for i in 0..2 {
            let mut bad = proof.clone();
            bad.roots[i].p += EF::ONE;
            assert!(v(&bad).is_err());
            let mut bad = proof.clone();
            bad.roots[i].q += EF::ONE;
            assert!(v(&bad).is_err());
        }
        let mut bad = proof.clone();
        bad.layers[4].evals.push([EF::ZERO; 4]);
        assert!(matches!(v(&bad), Err(FracSumError::Structure { .. })));
        let mut bad = proof.clone();
        bad.layers.pop();
        assert!(matches!(v(&bad), Err(FracSumError::Structure { .. })));
        assert!(matches!(
            verify(&[], &proof, &mut Transcript::from_statement_bytes(b"x")),
            Err(FracSumError::InstanceCount { .. })
        ));
        assert!(matches!(
            prove(
                vec![vec![Frac::PAD; 3]],
                &mut Transcript::from_statement_bytes(b"x")
            ),
            Err(FracSumError::InputLength { .. })
        ));
    }
}
