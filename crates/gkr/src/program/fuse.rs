//! Plan pass: fold chains of wiring and fixed-weight products into the linear maps of their
//! consumers, so that the intermediate tensors are never committed.
//!
//! A committed column `c` defined by one linear constraint `c = Σ_j M_j·in_j + k`, whose every
//! use is a term `α·N·c` of another linear constraint, is replaced there by
//! `Σ_j α·(N∘M_j)·in_j + α·N·k`, and its own constraint is dropped. The relation between the
//! remaining columns is exactly the one the chain stated, so soundness is unchanged; the
//! prover still computes `c` (for fills that read it) but never commits to it
//! ([`Source::Fused`]).
//!
//! Only selections, weighted selections and their sums ([`LinearMap::Taps`]) compose: an
//! image edit's crop, separable filter taps and their weights become one map from the
//! original to the filtered image. A fusion is made when the sumchecks it adds cost no more
//! than the commitment and sumchecks it removes, and every fused map keeps at most
//! [`MAX_TAPS`] taps.

use std::sync::Arc;

use p3_field::PrimeField64;

use super::maps::{LinearMap, NONE};
use super::plan::{Affine, Col, Column, Constraint, LinearTerm, Lookup, Source};
use p3_field::PrimeCharacteristicRing;

#[cfg(test)]
use crate::field::embed;
use crate::field::F;

/// Most taps of a fused map (its work and size grow with the tap count).
pub const MAX_TAPS: usize = 16;

/// A composable map in tap form: `out[y] = Σ_t coeff[t][y] · in[src[t][y]]`.
#[derive(Clone, Debug, PartialEq)]
struct Taps {
    n_in: usize,
    src: Vec<Vec<u32>>,
    coeff: Vec<Vec<i64>>,
}

/// Borrowed taps: (sources, coefficients), the coefficients None for a selection.
pub(super) type TapView<'a> = Vec<(&'a [u32], Option<&'a [i64]>)>;

/// The taps of a composable map, borrowed: (sources, coefficients), the coefficients None
/// for a selection (1 wherever the source is real). None for maps that do not compose.
pub(super) fn tap_view(map: &LinearMap) -> Option<TapView<'_>> {
    match map {
        LinearMap::Select { src, .. } => Some(vec![(src, None)]),
        LinearMap::Weighted { src, coeff, .. } => Some(vec![(src, Some(coeff))]),
        LinearMap::Taps { src, coeff, .. } => Some(
            src.iter()
                .zip(coeff)
                .map(|(s, c)| (&s[..], Some(&c[..])))
                .collect(),
        ),
        _ => None,
    }
}

impl Taps {
    fn of(map: &LinearMap) -> Option<Taps> {
        let (mut src, mut coeff) = (Vec::new(), Vec::new());
        for (s, c) in tap_view(map)? {
            coeff.push(match c {
                Some(c) => c.to_vec(),
                None => s.iter().map(|&x| i64::from(x != NONE)).collect(),
            });
            src.push(s.to_vec());
        }
        Some(Taps {
            n_in: map.n_in(),
            src,
            coeff,
        })
    }

    fn n_out(&self) -> usize {
        self.src.first().map_or(0, Vec::len)
    }

    /// `self ∘ inner` (apply `inner` first); None on a size mismatch or a coefficient
    /// overflow.
    fn compose(&self, inner: &Taps) -> Option<Taps> {
        if self.n_in != inner.n_out() {
            return None;
        }
        let mut out = Taps {
            n_in: inner.n_in,
            src: Vec::new(),
            coeff: Vec::new(),
        };
        for (s, c) in self.src.iter().zip(&self.coeff) {
            for (r, d) in inner.src.iter().zip(&inner.coeff) {
                let mut src = Vec::with_capacity(s.len());
                let mut coeff = Vec::with_capacity(s.len());
                for (&sy, &cy) in s.iter().zip(c) {
                    let m = sy as usize;
                    if sy == NONE || cy == 0 || m >= r.len() || r[m] == NONE || d[m] == 0 {
                        src.push(NONE);
                        coeff.push(0);
                    } else {
                        src.push(r[m]);
                        coeff.push(cy.checked_mul(d[m])?);
                    }
                }
                out.push(src, coeff)?;
            }
        }
        Some(out)
    }

    /// Adds a tap, merging it into a tap with the same sources; all-zero taps are dropped.
    fn push(&mut self, src: Vec<u32>, coeff: Vec<i64>) -> Option<()> {
        if coeff.iter().all(|&c| c == 0) {
            return Some(());
        }
        if let Some(t) = self.src.iter().position(|s| *s == src) {
            for (a, b) in self.coeff[t].iter_mut().zip(coeff) {
                *a = a.checked_add(b)?;
            }
        } else {
            self.src.push(src);
            self.coeff.push(coeff);
        }
        Some(())
    }

    /// `Σ α·map` over maps of one shape.
    fn sum(parts: &[(i64, Taps)]) -> Option<Taps> {
        let (_, first) = parts.first()?;
        let mut out = Taps {
            n_in: first.n_in,
            src: Vec::new(),
            coeff: Vec::new(),
        };
        for (alpha, t) in parts {
            if t.n_in != first.n_in || t.n_out() != first.n_out() {
                return None;
            }
            for (s, c) in t.src.iter().zip(&t.coeff) {
                let scaled = c
                    .iter()
                    .map(|&v| v.checked_mul(*alpha))
                    .collect::<Option<Vec<i64>>>()?;
                out.push(s.clone(), scaled)?;
            }
        }
        Some(out)
    }

    /// The smallest [`LinearMap`] variant that states this map (the zero map of `n_out`
    /// outputs is a selection of nothing).
    fn into_map(self, n_out: usize) -> LinearMap {
        let Taps {
            n_in,
            mut src,
            mut coeff,
        } = self;
        match src.len() {
            0 => LinearMap::Select {
                n_in,
                src: vec![NONE; n_out],
            },
            1 => {
                let (src, coeff) = (src.remove(0), coeff.remove(0));
                let unit = src
                    .iter()
                    .zip(&coeff)
                    .all(|(&s, &c)| if s == NONE { c == 0 } else { c == 1 });
                if unit {
                    LinearMap::Select { n_in, src }
                } else {
                    LinearMap::Weighted { n_in, src, coeff }
                }
            }
            _ => LinearMap::Taps { n_in, src, coeff },
        }
    }
}

/// The integer a field coefficient stands for, when it is small (|v| ≤ 2^62).
pub(super) fn small_int(v: F) -> Option<i64> {
    let u = v.as_canonical_u64();
    let p = F::ORDER_U64;
    if u <= 1 << 62 {
        Some(u as i64)
    } else if p - u <= 1 << 62 {
        Some(-((p - u) as i64))
    } else {
        None
    }
}

/// Columns read by anything other than a linear constraint's composable input term, or
/// defined twice: these are never fused.
fn pinned(columns: &[Column], constraints: &[Constraint], lookups: &[Lookup]) -> Vec<bool> {
    let mut pin = vec![false; columns.len()];
    let mut defined = vec![false; columns.len()];
    let affine = |a: &Affine, pin: &mut Vec<bool>| {
        for &(_, c) in &a.terms {
            pin[c] = true;
        }
    };
    for con in constraints {
        match con {
            Constraint::Linear { out, inputs, .. } => {
                if std::mem::replace(&mut defined[*out], true) {
                    pin[*out] = true;
                }
                for t in inputs {
                    if Taps::of(&t.map).is_none() || small_int(t.coef).is_none() {
                        pin[t.col] = true;
                    }
                }
            }
            Constraint::Zero { expr, .. } => affine(expr, &mut pin),
            Constraint::Quadratic {
                products, linear, ..
            } => {
                for (a, b) in products {
                    affine(a, &mut pin);
                    affine(b, &mut pin);
                }
                affine(linear, &mut pin);
            }
            Constraint::Product { a, b, c, .. } => {
                for &x in [a, b, c] {
                    pin[x] = true;
                }
            }
        }
    }
    for l in lookups {
        for c in [l.x, l.y, l.multiplicities] {
            pin[c] = true;
        }
    }
    pin
}

/// Folds every column that pays to fold (see the module doc); returns how many were.
pub(super) fn fuse_linear(
    columns: &mut [Column],
    constraints: &mut Vec<Constraint>,
    lookups: &[Lookup],
) -> usize {
    let pin = pinned(columns, constraints, lookups);
    let mut removed = vec![false; constraints.len()];
    let mut fused = 0;
    for c in 0..columns.len() {
        if pin[c] || !matches!(columns[c].source, Source::Committed) {
            continue;
        }
        let def = constraints.iter().enumerate().position(|(i, con)| {
            !removed[i] && matches!(con, Constraint::Linear { out, .. } if *out == c)
        });
        let Some(def) = def else { continue };
        if let Some(rewritten) = fold(columns, constraints, &removed, def, c) {
            for (k, con) in rewritten {
                constraints[k] = con;
            }
            removed[def] = true;
            columns[c].source = Source::Fused;
            fused += 1;
        }
    }
    let mut keep = removed.iter().map(|r| !r);
    constraints.retain(|_| keep.next().unwrap_or(true));
    fused
}

/// The consumers of `c` rewritten without it, or None when folding `c` does not pay or
/// cannot be stated.
fn fold(
    columns: &[Column],
    constraints: &[Constraint],
    removed: &[bool],
    def: usize,
    c: Col,
) -> Option<Vec<(usize, Constraint)>> {
    let Constraint::Linear {
        inputs: def_inputs,
        constant: k_c,
        ..
    } = &constraints[def]
    else {
        return None;
    };
    let parts: Vec<(Col, i64, Taps)> = def_inputs
        .iter()
        .map(|t| Some((t.col, small_int(t.coef)?, Taps::of(&t.map)?)))
        .collect::<Option<_>>()?;
    let pad = |col: Col| 1usize << columns[col].vars();
    let sumcheck = |map: &LinearMap, col: Col| if map.is_identity() { 0 } else { pad(col) };
    // Work removed: c's commitment and opening, its own sumchecks, its consumers' sumchecks
    // over it. Work added: the consumers' sumchecks over c's inputs.
    let mut before: usize = 2 * pad(c)
        + def_inputs
            .iter()
            .map(|t| sumcheck(&t.map, t.col))
            .sum::<usize>();
    let mut after = 0usize;
    let mut rewritten = Vec::new();
    for (k, con) in constraints.iter().enumerate() {
        if removed[k] || k == def {
            continue;
        }
        let Constraint::Linear {
            node,
            out,
            inputs,
            constant,
        } = con
        else {
            continue;
        };
        if !inputs.iter().any(|t| t.col == c) {
            continue;
        }
        let n_out = columns[*out].len;
        let mut constant: Option<Vec<i64>> = constant.as_ref().map(|v| v.to_vec());
        // Terms by column: composable ones are summed into one map per column.
        let mut sums: TermSums = Vec::new();
        let mut other: Vec<LinearTerm> = Vec::new();
        for t in inputs {
            match (Taps::of(&t.map), small_int(t.coef)) {
                (Some(outer), Some(alpha)) if t.col == c => {
                    before += sumcheck(&t.map, c);
                    for (col, beta, inner) in &parts {
                        after += pad(*col);
                        let composed = outer.compose(inner)?;
                        add_term(&mut sums, *col, alpha.checked_mul(*beta)?, composed);
                    }
                    if let Some(k_c) = k_c {
                        let add = t.map.apply(k_c);
                        let k = constant.get_or_insert_with(|| vec![0; n_out]);
                        for (k, a) in k.iter_mut().zip(add) {
                            *k = k.wrapping_add(alpha.wrapping_mul(a));
                        }
                    }
                }
                (Some(map), Some(alpha)) => add_term(&mut sums, t.col, alpha, map),
                _ => other.push(t.clone()),
            }
        }
        let mut terms = other;
        for (col, parts) in sums {
            let sum = Taps::sum(&parts)?;
            if sum.src.len() > MAX_TAPS {
                return None;
            }
            let map = sum.into_map(n_out);
            map.check(node).ok()?;
            terms.push(LinearTerm {
                col,
                coef: F::ONE,
                map,
            });
        }
        rewritten.push((
            k,
            Constraint::Linear {
                node: node.clone(),
                out: *out,
                inputs: terms,
                constant: constant.map(Arc::new),
            },
        ));
    }
    (!rewritten.is_empty() && after <= before).then_some(rewritten)
}

/// Composable terms grouped by column.
type TermSums = Vec<(Col, Vec<(i64, Taps)>)>;

fn add_term(sums: &mut TermSums, col: Col, alpha: i64, t: Taps) {
    match sums.iter_mut().find(|(x, _)| *x == col) {
        Some((_, v)) => v.push((alpha, t)),
        None => sums.push((col, vec![(alpha, t)])),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn select(n_in: usize, src: Vec<u32>) -> LinearMap {
        LinearMap::Select { n_in, src }
    }

    fn weighted(n_in: usize, src: Vec<u32>, coeff: Vec<i64>) -> LinearMap {
        LinearMap::Weighted { n_in, src, coeff }
    }

    fn taps(m: &LinearMap) -> Taps {
        Taps::of(m).expect("composable")
    }

    #[test]
    fn composition_applies_inner_then_outer() {
        let x: Vec<i64> = vec![3, -1, 4, 1, -5, 9];
        let inner = weighted(6, vec![5, 0, NONE, 2], vec![2, -3, 7, 1]);
        let outer = LinearMap::Taps {
            n_in: 4,
            src: vec![vec![0, 3, 1], vec![2, NONE, 3]],
            coeff: vec![vec![1, 2, -1], vec![5, 4, 3]],
        };
        let want = outer.apply(&inner.apply(&x));
        let got = taps(&outer).compose(&taps(&inner)).expect("composes");
        assert_eq!(got.clone().into_map(3).apply(&x), want);
        assert_eq!(want, vec![18, 8, 21]);
        // The composed map's transpose agrees with the chain's.
        let e: Vec<_> = (1..=3).map(|v| crate::field::EF::from(embed(v))).collect();
        let chained = inner.transpose_eq(&outer.transpose_eq(&e, 4), 8);
        assert_eq!(got.into_map(3).transpose_eq(&e, 8), chained);
    }

    #[test]
    fn sums_merge_taps_with_the_same_sources() {
        let a = taps(&select(3, vec![2, 1, 0]));
        let b = taps(&weighted(3, vec![2, 1, 0], vec![4, 5, 6]));
        let c = taps(&select(3, vec![0, 0, 0]));
        let s = Taps::sum(&[(1, a), (-1, b), (2, c)]).expect("sums");
        assert_eq!(s.src.len(), 2);
        let map = s.into_map(3);
        assert_eq!(map.apply(&[10, 20, 30]), vec![-70, -60, -30]);
        // Shapes that differ do not add up.
        let d = taps(&select(4, vec![0, 0, 0]));
        let e = taps(&select(3, vec![0, 0, 0]));
        assert!(Taps::sum(&[(1, d), (1, e)]).is_none());
    }

    #[test]
    fn maps_take_their_smallest_form() {
        let one = taps(&select(3, vec![1, NONE]));
        assert!(matches!(one.into_map(2), LinearMap::Select { .. }));
        let w = taps(&weighted(3, vec![1, 2], vec![1, 2]));
        assert!(matches!(w.into_map(2), LinearMap::Weighted { .. }));
        let zero = Taps::sum(&[
            (1, taps(&select(3, vec![1, 2]))),
            (-1, taps(&select(3, vec![1, 2]))),
        ])
        .expect("sums");
        assert_eq!(zero.into_map(2).apply(&[1, 2, 3]), vec![0, 0]);
    }

    #[test]
    fn overflowing_coefficients_do_not_compose() {
        let big = taps(&weighted(1, vec![0], vec![i64::MAX / 2]));
        assert!(big.compose(&big).is_none());
        assert!(Taps::sum(&[(3, big)]).is_none());
    }

    #[test]
    fn small_coefficients_round_trip() {
        for v in [0i64, 1, -1, 7, -(1 << 40), 1 << 62, -(1 << 62)] {
            assert_eq!(small_int(embed(v)), Some(v));
        }
        assert_eq!(small_int(F::from_u64(1 << 63)), None);
    }
}
