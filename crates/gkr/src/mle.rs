//! Multilinear extensions over the Boolean hypercube.
//!
//! A vector `v` of length 2^n is the table of its multilinear extension ṽ on {0,1}^n.
//! **Variable order:** variable 0 is the most significant bit of the index, so a row-major
//! matrix `M[i][j]` (rows padded to 2^a, columns to 2^b) has ṽ(row bits, column bits), and
//! fixing the leading variables fixes the row. Vectors shorter than 2^n are read as
//! zero-padded; that is how non-power-of-two shapes are handled.
//!
//! Functions here never panic on length mismatches: they return `None` instead, because the
//! verifier calls them.

use p3_field::PrimeCharacteristicRing;
use rayon::prelude::*;

use crate::field::{embed, EF, F};

/// Below this many entries, work stays on the calling thread.
const PAR_THRESHOLD: usize = 1 << 12;

/// Number of variables of a table of length `len` after zero-padding: ceil(log2(len)), 0 for
/// lengths 0 and 1.
pub fn num_vars(len: usize) -> usize {
    len.max(1).next_power_of_two().trailing_zeros() as usize
}

/// The table of eq(point, x) for x in {0,1}^n (n = point.len()), in index order.
///
/// Built in place in one allocation: the variables are taken from the last to the first, each
/// becoming the new most significant bit (`hi = lo·r`, `lo = lo − hi`).
pub fn eq_table(point: &[EF]) -> Vec<EF> {
    let mut table = vec![EF::ZERO; 1 << point.len()];
    if let Some(first) = table.first_mut() {
        *first = EF::ONE;
    }
    let mut len = 1;
    for &r in point.iter().rev() {
        let (lo, hi) = table.split_at_mut(len);
        let hi = &mut hi[..len];
        let body = |(l, h): (&mut EF, &mut EF)| {
            *h = *l * r;
            *l -= *h;
        };
        if len >= PAR_THRESHOLD {
            lo.par_iter_mut().zip(hi.par_iter_mut()).for_each(body);
        } else {
            lo.iter_mut().zip(hi.iter_mut()).for_each(body);
        }
        len *= 2;
    }
    table
}

/// eq(x, y) = Π (x_i y_i + (1 - x_i)(1 - y_i)); `None` when the lengths differ.
pub fn eq_eval(x: &[EF], y: &[EF]) -> Option<EF> {
    (x.len() == y.len()).then(|| {
        x.iter()
            .zip(y)
            .map(|(&a, &b)| a * b + (EF::ONE - a) * (EF::ONE - b))
            .product()
    })
}

/// Fixes the first variable of a table to `r`: out[i] = v[i] + r (v[i + h] - v[i]), h = len/2.
/// A table of length ≤ 1 (no variable left) is returned unchanged.
pub fn fold(v: &[EF], r: EF) -> Vec<EF> {
    if v.len() <= 1 {
        return v.to_vec();
    }
    let (lo, hi) = v.split_at(v.len() / 2);
    if lo.len() >= PAR_THRESHOLD {
        lo.par_iter()
            .zip(hi)
            .map(|(&l, &h)| l + r * (h - l))
            .collect()
    } else {
        lo.iter().zip(hi).map(|(&l, &h)| l + r * (h - l)).collect()
    }
}

/// ṽ(point) for a table `v` zero-padded to 2^point.len(); `None` if `v` is longer than that.
pub fn evaluate(v: &[EF], point: &[EF]) -> Option<EF> {
    let n = point.len();
    if n >= usize::BITS as usize || v.len() > 1usize << n {
        return None;
    }
    let mut cur = v.to_vec();
    cur.resize(1 << n, EF::ZERO);
    for &r in point {
        cur = fold(&cur, r);
    }
    cur.first().copied()
}

/// ṽ(point) for a base-field table, see [`evaluate`]. Computed as Σ_i eq(point, i) v_i (one eq
/// table, then base-times-extension products), in parallel for long tables.
pub fn evaluate_base(v: &[F], point: &[EF]) -> Option<EF> {
    let n = point.len();
    if n >= usize::BITS as usize || v.len() > 1usize << n {
        return None;
    }
    let eq = eq_table(point);
    let eq = eq.get(..v.len())?;
    Some(if v.len() >= PAR_THRESHOLD {
        eq.par_iter().zip(v).map(|(&e, &x)| e * x).sum()
    } else {
        eq.iter().zip(v).map(|(&e, &x)| e * x).sum()
    })
}

/// The multilinear extension of the indicator of the prefix [0, len) of {0,1}^n (n =
/// point.len()), at `point`: Σ_{i < len} eq(point, i), in O(n). `None` when len > 2^n.
/// This is the MLE of "1 on the first `len` entries, 0 on the padding".
pub fn prefix_indicator(len: usize, point: &[EF]) -> Option<EF> {
    let n = point.len();
    if n >= usize::BITS as usize {
        // More variables than any length can fill: only len == 0 would make sense.
        return (len == 0).then_some(EF::ZERO);
    }
    if len > 1usize << n {
        return None;
    }
    // Walk from the most significant variable: with `rest` entries left in a subcube of
    // 2^k entries, either the low half is full (1 - r)·1 + r·f(rest - half) or not (1 - r)·f(rest).
    let mut acc = EF::ZERO; // sum over completed full low halves, weighted by the path so far
    let mut path = EF::ONE; // eq weight of the current subcube's prefix
    let mut rest = len;
    for (k, &r) in point.iter().enumerate() {
        let half = 1usize << (n - 1 - k);
        if rest == 2 * half {
            return Some(acc + path);
        }
        if rest > half {
            acc += path * (EF::ONE - r);
            path *= r;
            rest -= half;
        } else {
            path *= EF::ONE - r;
        }
    }
    // A subcube of one entry: included iff rest == 1.
    Some(if rest == 1 { acc + path } else { acc })
}

/// For a row-major `rows x cols` integer matrix M, the vector u with u[j] = M̃(r_row, j), i.e.
/// Σ_i eq(r_row, i) M[i][j], of length `cols` (the zero padding of columns is implicit).
/// `None` when `m.len() != rows * cols` or `r_row` has fewer than [`num_vars`]`(rows)` entries.
pub fn fix_rows(m: &[i64], rows: usize, cols: usize, r_row: &[EF]) -> Option<Vec<EF>> {
    if rows.checked_mul(cols)? != m.len() || r_row.len() != num_vars(rows) {
        return None;
    }
    let eq = eq_table(r_row);
    let eq = eq.get(..rows)?;
    let col_chunk = 256;
    let mut out = vec![EF::ZERO; cols];
    let work = |(c, acc): (usize, &mut [EF])| {
        let j0 = c * col_chunk;
        for (i, &e) in eq.iter().enumerate() {
            let start = i * cols + j0;
            let Some(row) = m.get(start..start + acc.len()) else {
                return;
            };
            for (o, &x) in acc.iter_mut().zip(row) {
                if x != 0 {
                    *o += e * embed(x);
                }
            }
        }
    };
    if m.len() >= PAR_THRESHOLD {
        out.par_chunks_mut(col_chunk).enumerate().for_each(work);
    } else {
        out.chunks_mut(col_chunk).enumerate().for_each(work);
    }
    Some(out)
}

/// For a row-major `rows x cols` integer matrix M, the vector u with u[i] = M̃(i, r_col), i.e.
/// Σ_j eq(r_col, j) M[i][j], of length `rows`. `None` on inconsistent lengths.
pub fn fix_cols(m: &[i64], rows: usize, cols: usize, r_col: &[EF]) -> Option<Vec<EF>> {
    if rows.checked_mul(cols)? != m.len() || r_col.len() != num_vars(cols) {
        return None;
    }
    let eq = eq_table(r_col);
    let eq = eq.get(..cols)?;
    let row_val = |row: &[i64]| -> EF {
        row.iter()
            .zip(eq)
            .filter(|(&x, _)| x != 0)
            .map(|(&x, &e)| e * embed(x))
            .sum()
    };
    if cols == 0 {
        return Some(vec![EF::ZERO; rows]);
    }
    Some(if m.len() >= PAR_THRESHOLD {
        m.par_chunks(cols).map(row_val).collect()
    } else {
        m.chunks(cols).map(row_val).collect()
    })
}

/// M̃(r_row, r_col) of a row-major `rows x cols` integer matrix, zero-padded to powers of two.
pub fn evaluate_matrix(
    m: &[i64],
    rows: usize,
    cols: usize,
    r_row: &[EF],
    r_col: &[EF],
) -> Option<EF> {
    let by_row = fix_cols(m, rows, cols, r_col)?;
    let eq = eq_table(r_row);
    if r_row.len() != num_vars(rows) {
        return None;
    }
    Some(by_row.iter().zip(&eq).map(|(&v, &e)| v * e).sum())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::Rng;

    fn hypercube_point(idx: usize, n: usize) -> Vec<EF> {
        (0..n)
            .map(|b| {
                if idx >> (n - 1 - b) & 1 == 1 {
                    EF::ONE
                } else {
                    EF::ZERO
                }
            })
            .collect()
    }

    #[test]
    fn mle_agrees_with_table_on_the_hypercube() {
        let mut rng = Rng::new(1);
        let v: Vec<EF> = (0..8).map(|_| rng.ext()).collect();
        for (i, &vi) in v.iter().enumerate() {
            assert_eq!(evaluate(&v, &hypercube_point(i, 3)), Some(vi));
        }
    }

    #[test]
    fn evaluate_equals_eq_table_dot_product_and_folding_commutes() {
        let mut rng = Rng::new(2);
        let v: Vec<EF> = (0..16).map(|_| rng.ext()).collect();
        let p: Vec<EF> = (0..4).map(|_| rng.ext()).collect();
        let dot: EF = eq_table(&p).iter().zip(&v).map(|(&e, &x)| e * x).sum();
        assert_eq!(evaluate(&v, &p), Some(dot));
        let folded = fold(&v, p[0]);
        assert_eq!(evaluate(&folded, &p[1..]), Some(dot));
        assert_eq!(eq_eval(&p, &p[..3]), None);
        let q: Vec<EF> = (0..4).map(|_| rng.ext()).collect();
        let eq_q = eq_table(&q);
        assert_eq!(evaluate(&eq_q, &p), eq_eval(&p, &q));
    }

    #[test]
    fn zero_padding_and_length_errors() {
        let mut rng = Rng::new(3);
        let v: Vec<EF> = (0..5).map(|_| rng.ext()).collect();
        let p: Vec<EF> = (0..3).map(|_| rng.ext()).collect();
        let mut padded = v.clone();
        padded.resize(8, EF::ZERO);
        assert_eq!(evaluate(&v, &p), evaluate(&padded, &p));
        assert_eq!(evaluate(&v, &p[..2]), None);
        assert_eq!(num_vars(0), 0);
        assert_eq!(num_vars(1), 0);
        assert_eq!(num_vars(5), 3);
        assert_eq!(num_vars(8), 3);
    }

    #[test]
    fn prefix_indicator_matches_the_padded_ones_vector() {
        let mut rng = Rng::new(5);
        for n in 0..6 {
            let p: Vec<EF> = (0..n).map(|_| rng.ext()).collect();
            for len in 0..=(1usize << n) {
                let ones = vec![F::ONE; len];
                assert_eq!(
                    prefix_indicator(len, &p),
                    evaluate_base(&ones, &p),
                    "n={n} len={len}"
                );
            }
            assert_eq!(prefix_indicator((1 << n) + 1, &p), None);
        }
    }

    #[test]
    fn matrix_helpers_match_the_flat_mle() {
        let mut rng = Rng::new(4);
        for (rows, cols) in [(3, 5), (1, 7), (4, 4), (6, 1), (70, 90)] {
            let m: Vec<i64> = (0..rows * cols).map(|_| rng.small(1000)).collect();
            // flat padded table, rows padded to 2^a, cols to 2^b
            let (a, b) = (num_vars(rows), num_vars(cols));
            let mut flat = vec![F::ZERO; 1 << (a + b)];
            for i in 0..rows {
                for j in 0..cols {
                    flat[(i << b) + j] = embed(m[i * cols + j]);
                }
            }
            let rr: Vec<EF> = (0..a).map(|_| rng.ext()).collect();
            let rc: Vec<EF> = (0..b).map(|_| rng.ext()).collect();
            let point: Vec<EF> = rr.iter().chain(&rc).copied().collect();
            let expected = evaluate_base(&flat, &point);
            assert_eq!(evaluate_matrix(&m, rows, cols, &rr, &rc), expected);
            let by_col = fix_rows(&m, rows, cols, &rr).unwrap_or_default();
            assert_eq!(evaluate(&by_col, &rc), expected);
            let by_row = fix_cols(&m, rows, cols, &rc).unwrap_or_default();
            assert_eq!(evaluate(&by_row, &rr), expected);
            assert_eq!(fix_rows(&m[1..], rows, cols, &rr), None);
        }
    }
}
