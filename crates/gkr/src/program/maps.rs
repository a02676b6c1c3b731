//! Sparse linear maps of IR ops: `out = Σ_i M_i · in_i + constant`.
//!
//! Many IR ops are linear in their (non-constant) inputs: wiring (reshape, transpose, slice,
//! concat, pad, gather, `Where` with its constant mask), broadcasting, products with fixed
//! weights (matmul, convolution, elementwise `Mul`), pooling sums and reductions. A
//! [`LinearMap`] represents one `M_i` without materialising it: it applies itself to integer
//! tensors ([`LinearMap::apply`]) and computes `M^T · e` for a vector `e` of challenges over the
//! output ([`LinearMap::transpose_eq`]), which is what a sumcheck over `out` needs to move a
//! claim about `out` to claims about the inputs.
//!
//! Tensors are flat row-major vectors; an input or output index is its flat position.
//!
//! **Robustness.** [`LinearMap::check`] validates a map (internal consistency and the size
//! limits [`MAX_LEN`] and [`MAX_NNZ`]); [`wiring`] runs it on every map it returns. `apply` and
//! `transpose_eq` never panic on a map built with the public fields: entries that point outside
//! the input read zero, and a matmul/conv map whose dimensions contradict its weights applies
//! as the zero map. The free constructors ([`broadcast`], [`scale`], [`sum_pool`],
//! [`reduce_sum`]) expect shapes of a validated program; call `check` on their results where
//! the sizes are not already bounded.

use std::borrow::Cow;
use std::sync::Arc;

use p3_field::PrimeCharacteristicRing;
use rayon::prelude::*;
use vouch_ir::interp::odometer;
use vouch_ir::{Node, Op, Program, TensorId, Window};

use crate::field::{embed, EF, F};

/// Marks "no input entry" in [`LinearMap::Select`] / [`LinearMap::Weighted`] sources and
/// "unused input" in [`LinearMap::SumInto`] destinations.
pub const NONE: u32 = u32::MAX;

/// Largest `n_in` / `n_out` of a map (indices must stay below [`NONE`]).
pub const MAX_LEN: usize = u32::MAX as usize - 1;

/// Largest number of non-zero entries of a map ([`LinearMap::nnz`]).
pub const MAX_NNZ: usize = 1 << 34;

/// Below this many entries, work stays on the calling thread.
const PAR_THRESHOLD: usize = 1 << 12;

/// out[y] = Σ entries coeff · in[x]; `n_in`/`n_out` are the true (unpadded) lengths.
#[derive(Clone, Debug)]
pub enum LinearMap {
    /// out[y] = in[src[y]], or 0 where src[y] == NONE.
    Select { n_in: usize, src: Vec<u32> },
    /// out[y] = coeff[y] · in[src[y]] (0 where src[y] == NONE).
    Weighted {
        n_in: usize,
        src: Vec<u32>,
        coeff: Vec<i64>,
    },
    /// out[y] = Σ_{x : dst[x] == y} in[x] (dst[x] == NONE: x unused). Reductions.
    SumInto { n_out: usize, dst: Vec<u32> },
    /// out[y] = Σ_t coeff[t][y] · in[src[t][y]]: weighted selections summed, what a chain of
    /// wiring and fixed-weight products leaves once fused (see `program::fuse`). Every tap has
    /// one entry per output.
    Taps {
        n_in: usize,
        src: Vec<Vec<u32>>,
        coeff: Vec<Vec<i64>>,
    },
    /// Input [rows, k] (row-major), fixed w [k, n]: out[r, j] = Σ_t in[r, t] · w[t, j].
    MatMulRight {
        rows: usize,
        k: usize,
        n: usize,
        w: Arc<Vec<i64>>,
    },
    /// Fixed a [m, k], input [batch, k, n] : out[b, i, j] = Σ_t a[i, t] · in[b, t, j].
    MatMulLeft {
        batch: usize,
        m: usize,
        k: usize,
        n: usize,
        a: Arc<Vec<i64>>,
    },
    /// 2-D conv NCHW input, fixed OIHW weights (IR semantics: zero padding, stride, dilation,
    /// groups; see `conv` in the IR interpreter), no bias.
    Conv {
        x_shape: [usize; 4],
        w_shape: [usize; 4],
        window: Window,
        groups: usize,
        out_shape: [usize; 4],
        w: Arc<Vec<i64>>,
    },
}

/// The linear decomposition of a node: one map per node input (None for an input the op does
/// not read linearly), plus a constant added to the output (pad values, Where constants...).
#[derive(Clone, Debug)]
pub struct NodeLinear {
    pub maps: Vec<Option<LinearMap>>,
    pub constant: Option<Vec<i64>>,
}

/// Why a node has no linear decomposition here.
#[derive(Debug, thiserror::Error)]
pub enum MapError {
    #[error("node {node} ({op}): no linear map: {why}")]
    Unsupported {
        node: String,
        op: &'static str,
        why: String,
    },
    #[error("node {node}: {what} is too large for a linear map")]
    TooLarge { node: String, what: String },
}

fn numel(shape: &[usize]) -> usize {
    shape.iter().fold(1usize, |a, &d| a.saturating_mul(d))
}

/// Geometry of a [`LinearMap::Conv`], once checked consistent.
#[derive(Clone, Copy)]
struct ConvDims {
    c: usize,
    h: usize,
    wd: usize,
    o: usize,
    cg: usize,
    kh: usize,
    kw: usize,
    oh: usize,
    ow: usize,
    og: usize,
}

impl ConvDims {
    fn new(
        x: [usize; 4],
        w: [usize; 4],
        groups: usize,
        out: [usize; 4],
        wlen: usize,
    ) -> Result<Self, String> {
        let [nb, c, h, wd] = x;
        let [o, cg, kh, kw] = w;
        let [onb, oo, oh, ow] = out;
        if groups == 0 || o % groups != 0 || cg.checked_mul(groups) != Some(c) {
            return Err(format!(
                "groups {groups} do not fit {c} input / {o} output channels ({cg} per group)"
            ));
        }
        if onb != nb || oo != o {
            return Err(format!(
                "output shape {out:?} does not fit input {x:?} / weights {w:?}"
            ));
        }
        if numel(&w) != wlen {
            return Err(format!("{wlen} weights for shape {w:?}"));
        }
        for dims in [&x[..], &out[..]] {
            if dims
                .iter()
                .try_fold(1usize, |a, &d| a.checked_mul(d))
                .is_none()
            {
                return Err("shape overflows".into());
            }
        }
        Ok(ConvDims {
            c,
            h,
            wd,
            o,
            cg,
            kh,
            kw,
            oh,
            ow,
            og: o / groups,
        })
    }
}

/// Input position `o·stride + k·dil − pad` read by output position `o` at kernel tap `k`
/// (negative or past the input: padding).
#[inline]
fn tap(oy: usize, k: usize, stride: usize, dil: usize, pad: usize) -> i64 {
    (oy as i64)
        .wrapping_mul(stride as i64)
        .wrapping_add((k as i64).wrapping_mul(dil as i64))
        .wrapping_sub(pad as i64)
}

/// Number of output positions along one axis whose tap `k` reads a real (non-padding) input.
fn valid_taps(n_out: usize, len: usize, k: usize, stride: usize, dil: usize, pad: usize) -> usize {
    (0..n_out)
        .filter(|&o| {
            let i = tap(o, k, stride, dil, pad);
            i >= 0 && (i as u64) < len as u64
        })
        .count()
}

impl LinearMap {
    /// Length of the (unpadded) input.
    pub fn n_in(&self) -> usize {
        match self {
            LinearMap::Select { n_in, .. }
            | LinearMap::Weighted { n_in, .. }
            | LinearMap::Taps { n_in, .. } => *n_in,
            LinearMap::SumInto { dst, .. } => dst.len(),
            LinearMap::MatMulRight { rows, k, .. } => rows.saturating_mul(*k),
            LinearMap::MatMulLeft { batch, k, n, .. } => numel(&[*batch, *k, *n]),
            LinearMap::Conv { x_shape, .. } => numel(x_shape),
        }
    }

    /// Length of the (unpadded) output.
    pub fn n_out(&self) -> usize {
        match self {
            LinearMap::Select { src, .. } | LinearMap::Weighted { src, .. } => src.len(),
            LinearMap::Taps { src, .. } => src.first().map_or(0, Vec::len),
            LinearMap::SumInto { n_out, .. } => *n_out,
            LinearMap::MatMulRight { rows, n, .. } => rows.saturating_mul(*n),
            LinearMap::MatMulLeft { batch, m, n, .. } => numel(&[*batch, *m, *n]),
            LinearMap::Conv { out_shape, .. } => numel(out_shape),
        }
    }

    /// Short name of the map kind (messages).
    pub fn kind(&self) -> &'static str {
        match self {
            LinearMap::Select { .. } => "Select",
            LinearMap::Weighted { .. } => "Weighted",
            LinearMap::SumInto { .. } => "SumInto",
            LinearMap::Taps { .. } => "Taps",
            LinearMap::MatMulRight { .. } => "MatMulRight",
            LinearMap::MatMulLeft { .. } => "MatMulLeft",
            LinearMap::Conv { .. } => "Conv",
        }
    }

    /// True for the identity selection (`out[y] = in[y]`, same length): its value at a point
    /// is the input's, no sumcheck needed.
    pub fn is_identity(&self) -> bool {
        matches!(self, LinearMap::Select { n_in, src }
            if *n_in == src.len() && src.iter().enumerate().all(|(i, &s)| s as usize == i))
    }

    /// Number of non-zero entries (work of apply / transpose_eq). Exact: entries pointing
    /// nowhere, zero coefficients and padding taps are not counted. Saturates at `usize::MAX`.
    pub fn nnz(&self) -> usize {
        match self {
            LinearMap::Select { src, .. } => src.iter().filter(|&&s| s != NONE).count(),
            LinearMap::Weighted { src, coeff, .. } => src
                .iter()
                .zip(coeff)
                .filter(|&(&s, &c)| s != NONE && c != 0)
                .count(),
            LinearMap::SumInto { dst, .. } => dst.iter().filter(|&&d| d != NONE).count(),
            LinearMap::Taps { src, coeff, .. } => src
                .iter()
                .zip(coeff)
                .map(|(s, c)| {
                    s.iter()
                        .zip(c)
                        .filter(|&(&s, &c)| s != NONE && c != 0)
                        .count()
                })
                .fold(0usize, usize::saturating_add),
            LinearMap::MatMulRight { rows, w, .. } => {
                rows.saturating_mul(w.iter().filter(|&&v| v != 0).count())
            }
            LinearMap::MatMulLeft { batch, n, a, .. } => {
                numel(&[*batch, *n, a.iter().filter(|&&v| v != 0).count()])
            }
            LinearMap::Conv {
                x_shape,
                w_shape,
                window,
                out_shape,
                w,
                ..
            } => {
                let [nb, _, h, wd] = *x_shape;
                let [_, _, kh, kw] = *w_shape;
                let [_, _, oh, ow] = *out_shape;
                if kh == 0 || kw == 0 {
                    return 0;
                }
                let vy: Vec<usize> = (0..kh)
                    .map(|ky| {
                        valid_taps(
                            oh,
                            h,
                            ky,
                            window.strides[0],
                            window.dilations[0],
                            window.pads[0],
                        )
                    })
                    .collect();
                let vx: Vec<usize> = (0..kw)
                    .map(|kx| {
                        valid_taps(
                            ow,
                            wd,
                            kx,
                            window.strides[1],
                            window.dilations[1],
                            window.pads[1],
                        )
                    })
                    .collect();
                let per_sample =
                    w.iter()
                        .enumerate()
                        .filter(|&(_, &v)| v != 0)
                        .fold(0usize, |acc, (i, _)| {
                            let (ky, kx) = ((i / kw) % kh, i % kw);
                            acc.saturating_add(vy[ky].saturating_mul(vx[kx]))
                        });
                nb.saturating_mul(per_sample)
            }
        }
    }

    /// Validates the map: consistent dimensions, every index in range, and the size limits
    /// ([`MAX_LEN`] for `n_in` and `n_out`, [`MAX_NNZ`] for [`nnz`](Self::nnz)). `node` names
    /// the node in errors.
    pub fn check(&self, node: &str) -> Result<(), MapError> {
        let too_large = |what: String| MapError::TooLarge {
            node: node.to_string(),
            what,
        };
        let bad = |why: String| MapError::Unsupported {
            node: node.to_string(),
            op: self.kind(),
            why,
        };
        let (n_in, n_out) = (self.n_in(), self.n_out());
        if n_in > MAX_LEN {
            return Err(too_large(format!("input length {n_in}")));
        }
        if n_out > MAX_LEN {
            return Err(too_large(format!("output length {n_out}")));
        }
        match self {
            LinearMap::Select { src, .. } | LinearMap::Weighted { src, .. } => {
                if let Some(&s) = src.iter().find(|&&s| s != NONE && s as usize >= n_in) {
                    return Err(bad(format!("source index {s} outside an input of {n_in}")));
                }
                if let LinearMap::Weighted { coeff, .. } = self {
                    if coeff.len() != src.len() {
                        return Err(bad(format!(
                            "{} coefficients for {} outputs",
                            coeff.len(),
                            src.len()
                        )));
                    }
                }
            }
            LinearMap::Taps { src, coeff, .. } => {
                if src.is_empty() || src.len() != coeff.len() {
                    return Err(bad(format!(
                        "{} source taps and {} coefficient taps",
                        src.len(),
                        coeff.len()
                    )));
                }
                for (s, c) in src.iter().zip(coeff) {
                    if s.len() != n_out || c.len() != n_out {
                        return Err(bad(format!(
                            "a tap of {} sources and {} coefficients for {n_out} outputs",
                            s.len(),
                            c.len()
                        )));
                    }
                    if let Some(&i) = s.iter().find(|&&i| i != NONE && i as usize >= n_in) {
                        return Err(bad(format!("source index {i} outside an input of {n_in}")));
                    }
                }
            }
            LinearMap::SumInto { dst, .. } => {
                if let Some(&d) = dst.iter().find(|&&d| d != NONE && d as usize >= n_out) {
                    return Err(bad(format!(
                        "destination index {d} outside an output of {n_out}"
                    )));
                }
            }
            LinearMap::MatMulRight { rows, k, n, w } => {
                if k.checked_mul(*n) != Some(w.len()) || rows.checked_mul((*k).max(*n)).is_none() {
                    return Err(bad(format!("{} weights for [{k}, {n}]", w.len())));
                }
            }
            LinearMap::MatMulLeft { batch, m, k, n, a } => {
                let fits = [k, m].iter().all(|&&d| {
                    batch
                        .checked_mul(d)
                        .and_then(|v| v.checked_mul(*n))
                        .is_some()
                });
                if m.checked_mul(*k) != Some(a.len()) || !fits {
                    return Err(bad(format!("{} weights for [{m}, {k}]", a.len())));
                }
            }
            LinearMap::Conv {
                x_shape,
                w_shape,
                groups,
                out_shape,
                w,
                window,
            } => {
                ConvDims::new(*x_shape, *w_shape, *groups, *out_shape, w.len()).map_err(bad)?;
                if window.output_hw(x_shape[2], x_shape[3]) != Some([out_shape[2], out_shape[3]]) {
                    return Err(bad(format!(
                        "window {window:?} does not map {x_shape:?} to {out_shape:?}"
                    )));
                }
            }
        }
        let nnz = self.nnz();
        if nnz > MAX_NNZ {
            return Err(too_large(format!("{nnz} non-zero entries")));
        }
        Ok(())
    }

    /// Integer application `M · x`. Arithmetic wraps modulo 2^64, so the result is exact
    /// whenever the true result fits in an i64 (the IR's range rules guarantee it for maps of
    /// a validated program). `x` shorter than `n_in` reads as zero-padded; extra entries are
    /// ignored.
    pub fn apply(&self, x: &[i64]) -> Vec<i64> {
        let n_in = self.n_in();
        let x: Cow<[i64]> = if x.len() >= n_in {
            Cow::Borrowed(&x[..n_in])
        } else {
            let mut v = x.to_vec();
            v.resize(n_in, 0);
            Cow::Owned(v)
        };
        let x = &x[..];
        match self {
            LinearMap::Select { src, .. } => src
                .par_iter()
                .with_min_len(PAR_THRESHOLD)
                .map(|&s| x.get(s as usize).copied().unwrap_or(0))
                .collect(),
            LinearMap::Weighted { src, coeff, .. } => src
                .par_iter()
                .with_min_len(PAR_THRESHOLD)
                .enumerate()
                .map(|(y, &s)| {
                    let c = coeff.get(y).copied().unwrap_or(0);
                    x.get(s as usize).map_or(0, |&v| c.wrapping_mul(v))
                })
                .collect(),
            LinearMap::SumInto { n_out, dst } => {
                let mut out = vec![0i64; *n_out];
                scatter(dst, &mut out, |o, i| *o = o.wrapping_add(x[i]));
                out
            }
            LinearMap::Taps { src, coeff, .. } => (0..self.n_out())
                .into_par_iter()
                .with_min_len(PAR_THRESHOLD)
                .map(|y| {
                    src.iter().zip(coeff).fold(0i64, |acc, (s, c)| {
                        let v = s
                            .get(y)
                            .and_then(|&s| x.get(s as usize))
                            .copied()
                            .unwrap_or(0);
                        acc.wrapping_add(c.get(y).copied().unwrap_or(0).wrapping_mul(v))
                    })
                })
                .collect(),
            LinearMap::MatMulRight { k, n, w, .. } => {
                let (k, n) = (*k, *n);
                let mut out = vec![0i64; self.n_out()];
                if k.checked_mul(n) != Some(w.len()) || n == 0 || k == 0 {
                    return out;
                }
                out.par_chunks_mut(n)
                    .with_min_len(par_rows(k * n))
                    .enumerate()
                    .for_each(|(r, o)| {
                        for (t, &xv) in x[r * k..(r + 1) * k].iter().enumerate() {
                            if xv != 0 {
                                axpy_i64(o, xv, &w[t * n..(t + 1) * n]);
                            }
                        }
                    });
                out
            }
            LinearMap::MatMulLeft { m, k, n, a, .. } => {
                let (m, k, n) = (*m, *k, *n);
                let mut out = vec![0i64; self.n_out()];
                if m.checked_mul(k) != Some(a.len()) || n == 0 || m == 0 {
                    return out;
                }
                out.par_chunks_mut(n)
                    .with_min_len(par_rows(k * n))
                    .enumerate()
                    .for_each(|(q, o)| {
                        let (b, i) = (q / m, q % m);
                        for (t, &av) in a[i * k..(i + 1) * k].iter().enumerate() {
                            if av != 0 {
                                let from = (b * k + t) * n;
                                axpy_i64(o, av, &x[from..from + n]);
                            }
                        }
                    });
                out
            }
            LinearMap::Conv {
                x_shape,
                w_shape,
                window,
                groups,
                out_shape,
                w,
            } => {
                let mut out = vec![0i64; self.n_out()];
                let Ok(d) = ConvDims::new(*x_shape, *w_shape, *groups, *out_shape, w.len()) else {
                    return out;
                };
                let plane = d.oh * d.ow;
                let rows = d.cg * d.kh * d.kw;
                if plane == 0 || rows == 0 {
                    return out;
                }
                let in_plane = d.h * d.wd;
                out.par_chunks_mut(plane)
                    .with_min_len(par_rows(plane * rows))
                    .enumerate()
                    .for_each(|(p, dst)| {
                        let (nb, oc) = (p / d.o, p % d.o);
                        let g = oc / d.og;
                        for ci in 0..d.cg {
                            let ch = g * d.cg + ci;
                            let src = &x[(nb * d.c + ch) * in_plane..][..in_plane];
                            for ky in 0..d.kh {
                                for kx in 0..d.kw {
                                    let wv = w[oc * rows + (ci * d.kh + ky) * d.kw + kx];
                                    if wv == 0 {
                                        continue;
                                    }
                                    conv_taps(&d, window, ky, kx, |o, i| {
                                        dst[o] = dst[o].wrapping_add(wv.wrapping_mul(src[i]));
                                    });
                                }
                            }
                        }
                    });
                out
            }
        }
    }

    /// `w[x] = Σ_y e[y] · M[y, x]` for x < n_in, as a vector of length
    /// `max(padded_len, n_in)` (zeros after n_in). `e` shorter than `n_out` reads as
    /// zero-padded; entries beyond `n_out` are ignored. Runs on all cores for large maps.
    pub fn transpose_eq(&self, e: &[EF], padded_len: usize) -> Vec<EF> {
        let (n_in, n_out) = (self.n_in(), self.n_out());
        let e: Cow<[EF]> = if e.len() >= n_out {
            Cow::Borrowed(&e[..n_out])
        } else {
            let mut v = e.to_vec();
            v.resize(n_out, EF::ZERO);
            Cow::Owned(v)
        };
        let e = &e[..];
        let mut out = vec![EF::ZERO; padded_len.max(n_in)];
        let wi = &mut out[..n_in];
        match self {
            LinearMap::Select { src, .. } => scatter(src, wi, |o, y| *o += e[y]),
            LinearMap::Weighted { src, coeff, .. } => scatter(src, wi, |o, y| {
                if let Some(&c) = coeff.get(y) {
                    *o += e[y] * embed(c);
                }
            }),
            LinearMap::Taps { src, coeff, .. } => {
                for (s, c) in src.iter().zip(coeff) {
                    scatter(s, wi, |o, y| {
                        if let Some(&c) = c.get(y) {
                            *o += e[y] * embed(c);
                        }
                    });
                }
            }
            LinearMap::SumInto { dst, .. } => wi
                .par_iter_mut()
                .with_min_len(PAR_THRESHOLD)
                .zip(dst.par_iter())
                .for_each(|(o, &d)| {
                    if let Some(&v) = e.get(d as usize) {
                        *o = v;
                    }
                }),
            LinearMap::MatMulRight { k, n, w, .. } => {
                let (k, n) = (*k, *n);
                if k.checked_mul(n) != Some(w.len()) || n == 0 || k == 0 {
                    return out;
                }
                let wf: Vec<F> = w.iter().map(|&v| embed(v)).collect();
                // w_in[r, t] = Σ_j e[r, j] · w[t, j]
                wi.par_chunks_mut(k)
                    .with_min_len(par_rows(k * n))
                    .enumerate()
                    .for_each(|(r, o)| {
                        let er = &e[r * n..(r + 1) * n];
                        for (t, ot) in o.iter_mut().enumerate() {
                            *ot = dot(er, &wf[t * n..(t + 1) * n]);
                        }
                    });
            }
            LinearMap::MatMulLeft { m, k, n, a, .. } => {
                let (m, k, n) = (*m, *k, *n);
                if m.checked_mul(k) != Some(a.len()) || n == 0 || k == 0 {
                    return out;
                }
                // w_in[b, t, :] = Σ_i a[i, t] · e[b, i, :]
                wi.par_chunks_mut(n)
                    .with_min_len(par_rows(m * n))
                    .enumerate()
                    .for_each(|(q, o)| {
                        let (b, t) = (q / k, q % k);
                        for i in 0..m {
                            let av = a[i * k + t];
                            if av != 0 {
                                let c = embed(av);
                                let from = (b * m + i) * n;
                                for (ov, &ev) in o.iter_mut().zip(&e[from..from + n]) {
                                    *ov += ev * c;
                                }
                            }
                        }
                    });
            }
            LinearMap::Conv {
                x_shape,
                w_shape,
                window,
                groups,
                out_shape,
                w,
            } => {
                let Ok(d) = ConvDims::new(*x_shape, *w_shape, *groups, *out_shape, w.len()) else {
                    return out;
                };
                let plane = d.oh * d.ow;
                let in_plane = d.h * d.wd;
                let rows = d.cg * d.kh * d.kw;
                if in_plane == 0 || rows == 0 || plane == 0 {
                    return out;
                }
                let wf: Vec<F> = w.iter().map(|&v| embed(v)).collect();
                // Each task owns one input plane (sample, channel) and gathers from every
                // output channel of its group.
                wi.par_chunks_mut(in_plane)
                    .with_min_len(par_rows(plane * d.og * d.kh * d.kw))
                    .enumerate()
                    .for_each(|(p, dst)| {
                        let (nb, ch) = (p / d.c, p % d.c);
                        let (g, ci) = (ch / d.cg, ch % d.cg);
                        for oc in g * d.og..(g + 1) * d.og {
                            let ep = &e[(nb * d.o + oc) * plane..][..plane];
                            for ky in 0..d.kh {
                                for kx in 0..d.kw {
                                    let wv = w[oc * rows + (ci * d.kh + ky) * d.kw + kx];
                                    if wv == 0 {
                                        continue;
                                    }
                                    let c = wf[oc * rows + (ci * d.kh + ky) * d.kw + kx];
                                    conv_taps(&d, window, ky, kx, |o, i| dst[i] += ep[o] * c);
                                }
                            }
                        }
                    });
            }
        }
        out
    }
}

/// Minimum number of rows per rayon task so that each task does at least `PAR_THRESHOLD`
/// work when a row costs `row_work`.
fn par_rows(row_work: usize) -> usize {
    (PAR_THRESHOLD / row_work.max(1)).max(1)
}

#[inline]
fn axpy_i64(out: &mut [i64], c: i64, x: &[i64]) {
    for (o, &v) in out.iter_mut().zip(x) {
        *o = o.wrapping_add(c.wrapping_mul(v));
    }
}

#[inline]
fn dot(e: &[EF], w: &[F]) -> EF {
    e.iter().zip(w).fold(EF::ZERO, |acc, (&a, &b)| acc + a * b)
}

/// Calls `f(output position in the plane, input position in the plane)` for every output
/// position whose tap (ky, kx) reads a real input element.
#[inline]
fn conv_taps(d: &ConvDims, win: &Window, ky: usize, kx: usize, mut f: impl FnMut(usize, usize)) {
    for oy in 0..d.oh {
        let iy = tap(oy, ky, win.strides[0], win.dilations[0], win.pads[0]);
        if iy < 0 || iy as u64 >= d.h as u64 {
            continue;
        }
        let row = iy as usize * d.wd;
        for ox in 0..d.ow {
            let ix = tap(ox, kx, win.strides[1], win.dilations[1], win.pads[1]);
            if ix >= 0 && (ix as u64) < d.wd as u64 {
                f(oy * d.ow + ox, row + ix as usize);
            }
        }
    }
}

/// `add(&mut out[targets[i]], i)` for every i with `targets[i] < out.len()` (others, NONE
/// included, are skipped). Large inputs run on all cores without shared writes: the indices
/// are first bucketed by target range (per chunk of `targets`), then each bucket of `out` is
/// filled by one task. The additions land in a different order than serially, which is exact
/// for field and wrapping integer sums.
fn scatter<T: Send>(targets: &[u32], out: &mut [T], add: impl Fn(&mut T, usize) + Sync) {
    let n = out.len();
    let threads = rayon::current_num_threads();
    if targets.len() < 4 * PAR_THRESHOLD || threads == 1 || n == 0 || targets.len() > MAX_LEN {
        for (i, &t) in targets.iter().enumerate() {
            if let Some(slot) = out.get_mut(t as usize) {
                add(slot, i);
            }
        }
        return;
    }
    let parts = threads * 4;
    let width = n.div_ceil(parts);
    let buckets = n.div_ceil(width);
    let chunk = targets.len().div_ceil(parts);
    // lists[c][b]: indices i of chunk c whose target lies in bucket b.
    let lists: Vec<Vec<Vec<u32>>> = targets
        .par_chunks(chunk)
        .enumerate()
        .map(|(c, ts)| {
            let mut lists = vec![Vec::new(); buckets];
            for (j, &t) in ts.iter().enumerate() {
                let t = t as usize;
                if t < n {
                    lists[t / width].push((c * chunk + j) as u32);
                }
            }
            lists
        })
        .collect();
    out.par_chunks_mut(width)
        .enumerate()
        .for_each(|(b, slots)| {
            let base = b * width;
            for l in &lists {
                for &i in &l[b] {
                    let i = i as usize;
                    add(&mut slots[targets[i] as usize - base], i);
                }
            }
        });
}

/// For every element of `out_shape` in row-major order, the flat index of the broadcast
/// operand element it reads (numpy broadcasting, shapes aligned on the right; [`NONE`] where
/// the index would fall outside the operand, which a consistent shape pair never produces).
fn broadcast_src(in_shape: &[usize], out_shape: &[usize]) -> Vec<u32> {
    let n_in = numel(in_shape);
    let rank = out_shape.len();
    // Strides of `in_shape` aligned to `out_shape`, 0 along broadcast axes.
    let mut st = vec![0usize; rank];
    let mut s = 1usize;
    for (i, &d) in in_shape.iter().enumerate().rev() {
        let back = in_shape.len() - 1 - i;
        if back < rank && d != 1 {
            st[rank - 1 - back] = s;
        }
        s = s.saturating_mul(d);
    }
    let mut src = Vec::with_capacity(numel(out_shape));
    odometer(out_shape, |idx| {
        let off = idx
            .iter()
            .zip(&st)
            .fold(0usize, |a, (&i, &s)| a.saturating_add(i.saturating_mul(s)));
        src.push(if off < n_in && off <= MAX_LEN {
            off as u32
        } else {
            NONE
        });
    });
    src
}

/// numpy broadcasting of a tensor of `in_shape` to `out_shape` (IR Binary semantics) as a
/// Select map.
pub fn broadcast(in_shape: &[usize], out_shape: &[usize]) -> LinearMap {
    LinearMap::Select {
        n_in: numel(in_shape),
        src: broadcast_src(in_shape, out_shape),
    }
}

/// `out = coeff ⊙ x` with both broadcast to out_shape (Binary Mul with one fixed operand):
/// Weighted map.
pub fn scale(
    x_shape: &[usize],
    coeff_shape: &[usize],
    coeff: &[i64],
    out_shape: &[usize],
) -> LinearMap {
    let coeff = broadcast_src(coeff_shape, out_shape)
        .into_iter()
        .map(|c| coeff.get(c as usize).copied().unwrap_or(0))
        .collect();
    LinearMap::Weighted {
        n_in: numel(x_shape),
        src: broadcast_src(x_shape, out_shape),
        coeff,
    }
}

/// SumPool over NCHW (padding contributes zeros), as a Conv map with groups = C and all-one
/// `[C, 1, kh, kw]` kernels. Shapes of rank other than 4 give a map `check` refuses.
pub fn sum_pool(x_shape: &[usize], window: &Window, out_shape: &[usize]) -> LinearMap {
    let four = |s: &[usize]| -> [usize; 4] {
        let mut a = [0usize; 4];
        if s.len() == 4 {
            a.copy_from_slice(s);
        }
        a
    };
    let (x, out) = (four(x_shape), four(out_shape));
    let c = x[1];
    let w_shape = [c, 1, window.kernel[0], window.kernel[1]];
    LinearMap::Conv {
        x_shape: x,
        w_shape,
        window: window.clone(),
        groups: c.max(1),
        out_shape: out,
        w: Arc::new(vec![1; numel(&w_shape)]),
    }
}

/// Reduce Sum over `axes` as SumInto, in the interpreter's output order (the same with or
/// without keep_dims). The output length is that of `x_shape` with the axes reduced to 1;
/// `out_shape` (the shape the node declares, same element count) is not needed.
pub fn reduce_sum(x_shape: &[usize], axes: &[usize], _out_shape: &[usize]) -> LinearMap {
    let kept: Vec<usize> = x_shape
        .iter()
        .enumerate()
        .map(|(i, &d)| if axes.contains(&i) { 1 } else { d })
        .collect();
    let n_out = numel(&kept);
    let mut os = vec![0usize; kept.len()];
    let mut s = 1usize;
    for i in (0..kept.len()).rev() {
        if !axes.contains(&i) {
            os[i] = s;
        }
        s = s.saturating_mul(kept[i]);
    }
    let mut dst = Vec::with_capacity(numel(x_shape));
    odometer(x_shape, |idx| {
        let o = idx
            .iter()
            .zip(&os)
            .fold(0usize, |a, (&i, &s)| a.saturating_add(i.saturating_mul(s)));
        dst.push(if o <= MAX_LEN { o as u32 } else { NONE });
    });
    LinearMap::SumInto { n_out, dst }
}

/// For wiring ops (Reshape, Transpose, Slice, Concat, Pad, Gather) and `Where` (constant mask;
/// both inputs are wired): the Select map of every input, derived by running the op on index
/// tensors (element x of input j encoded as `(j << 32) | (x + 1)`, 0 meaning "from no input").
/// For Pad, output entries that come from padding get the pad value in `constant` (None when
/// the value is 0 or nothing is padded); every other op has no constant.
///
/// `program` must be validated ([`Program::validate`], which every decoded program is): the
/// op is evaluated with the node's declared shapes.
pub fn wiring(program: &Program, node: &Node) -> Result<NodeLinear, MapError> {
    let unsupported = |why: String| MapError::Unsupported {
        node: node.name.clone(),
        op: node.op.name(),
        why,
    };
    match &node.op {
        Op::Reshape { .. }
        | Op::Transpose { .. }
        | Op::Slice { .. }
        | Op::Concat { .. }
        | Op::Pad { .. }
        | Op::Gather { .. }
        | Op::Where { .. } => {}
        op => {
            return Err(unsupported(format!(
                "{} is not a wiring op (derive its map another way)",
                op.name()
            )))
        }
    }
    let shape_of = |id: TensorId| {
        program
            .tensors
            .get(id.index())
            .map(|t| t.shape.as_slice())
            .ok_or_else(|| unsupported(format!("unknown tensor id {}", id.0)))
    };
    let too_large = |what: String| MapError::TooLarge {
        node: node.name.clone(),
        what,
    };
    let out_shape = shape_of(node.output)?;
    let n_out = numel(out_shape);
    if n_out > MAX_LEN {
        return Err(too_large(format!("output of {n_out} elements")));
    }
    if node.inputs.len() > (i32::MAX as usize) {
        return Err(too_large(format!("{} inputs", node.inputs.len())));
    }
    let mut shapes = Vec::with_capacity(node.inputs.len());
    for &id in &node.inputs {
        let shape = shape_of(id)?;
        if numel(shape) > MAX_LEN {
            return Err(too_large(format!("input of {} elements", numel(shape))));
        }
        shapes.push(shape);
    }
    let index: Vec<Vec<i64>> = shapes
        .iter()
        .enumerate()
        .map(|(j, s)| {
            (0..numel(s))
                .map(|x| ((j as i64) << 32) | (x as i64 + 1))
                .collect()
        })
        .collect();
    let args: Vec<(&[usize], &[i64])> = shapes
        .iter()
        .zip(&index)
        .map(|(&s, d)| (s, d.as_slice()))
        .collect();
    // Pad with value 0 so that padded positions read "from no input".
    let op = match &node.op {
        Op::Pad {
            begin,
            end,
            interior,
            ..
        } => Cow::Owned(Op::Pad {
            begin: begin.clone(),
            end: end.clone(),
            interior: interior.clone(),
            value: 0,
        }),
        op => Cow::Borrowed(op),
    };
    let codes = vouch_ir::interp::apply_op(&op, &args, out_shape);
    if codes.len() != n_out {
        return Err(unsupported(format!(
            "op produced {} values for an output of {n_out}",
            codes.len()
        )));
    }
    let mut srcs = vec![vec![NONE; n_out]; node.inputs.len()];
    let mut padded = false;
    for (y, &code) in codes.iter().enumerate() {
        if code == 0 {
            padded = true;
            continue;
        }
        let j = (code >> 32) as usize;
        let x = (code & 0xffff_ffff) - 1;
        match srcs.get_mut(j) {
            Some(src) if (x as usize) < numel(shapes[j]) => src[y] = x as u32,
            _ => {
                return Err(unsupported(format!(
                    "op produced unknown index code {code}"
                )))
            }
        }
    }
    let constant = match &node.op {
        Op::Pad { value, .. } if *value != 0 && padded => Some(
            codes
                .iter()
                .map(|&c| if c == 0 { *value } else { 0 })
                .collect(),
        ),
        _ => None,
    };
    let maps = srcs
        .into_iter()
        .zip(&shapes)
        .map(|(src, s)| {
            let map = LinearMap::Select {
                n_in: numel(s),
                src,
            };
            map.check(&node.name).map(|()| Some(map))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(NodeLinear { maps, constant })
}

/// Max-pool taps over NCHW: `taps[j][y]` is the input entry read by output `y` at kernel tap
/// `j` (row-major over the kernel). A tap that falls on padding repeats the window's first real
/// entry, which leaves the maximum unchanged (validated programs have one in every window).
pub fn max_pool_taps(x_shape: &[usize], win: &Window, out_shape: &[usize]) -> Vec<Vec<u32>> {
    let (h, w) = (x_shape[2], x_shape[3]);
    let (oh, ow) = (out_shape[2], out_shape[3]);
    let planes = out_shape[0] * out_shape[1];
    let k = win.kernel[0] * win.kernel[1];
    let mut taps = vec![Vec::with_capacity(planes * oh * ow); k];
    for p in 0..planes {
        for y in 0..oh {
            for x in 0..ow {
                let mut first = None;
                let mut cur = vec![None; k];
                for ky in 0..win.kernel[0] {
                    let iy = tap(y, ky, win.strides[0], win.dilations[0], win.pads[0]);
                    for kx in 0..win.kernel[1] {
                        let ix = tap(x, kx, win.strides[1], win.dilations[1], win.pads[1]);
                        if iy >= 0 && (iy as usize) < h && ix >= 0 && (ix as usize) < w {
                            let src = (p * h * w + iy as usize * w + ix as usize) as u32;
                            first.get_or_insert(src);
                            cur[ky * win.kernel[1] + kx] = Some(src);
                        }
                    }
                }
                let first = first.unwrap_or(NONE);
                for (t, c) in taps.iter_mut().zip(cur) {
                    t.push(c.unwrap_or(first));
                }
            }
        }
    }
    taps
}

/// Reduce-max/min taps: for each position `j` inside the reduced axes (row-major), the input
/// entry of every output entry (in the interpreter's output order).
pub fn reduce_taps(x_shape: &[usize], axes: &[usize]) -> Vec<Vec<u32>> {
    let reduced: Vec<usize> = axes.iter().map(|&a| x_shape[a]).collect();
    let k = numel(&reduced);
    let n_out = numel(x_shape) / k.max(1);
    let mut taps = vec![vec![NONE; n_out]; k];
    // Output index strides over kept axes; tap index strides over reduced axes.
    let mut os = vec![0usize; x_shape.len()];
    let mut ts = vec![0usize; x_shape.len()];
    let (mut so, mut st) = (1usize, 1usize);
    for i in (0..x_shape.len()).rev() {
        if axes.contains(&i) {
            ts[i] = st;
            st *= x_shape[i];
        } else {
            os[i] = so;
            so *= x_shape[i];
        }
    }
    let mut flat = 0u32;
    odometer(x_shape, |idx| {
        let o: usize = idx.iter().zip(&os).map(|(i, s)| i * s).sum();
        let t: usize = idx.iter().zip(&ts).map(|(i, s)| i * s).sum();
        taps[t][o] = flat;
        flat += 1;
    });
    taps
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::Rng;
    use vouch_ir::{interp, BinaryKind, ProgramBuilder, Range, ReduceKind, Tensor};

    /// A one-output program under construction, with random inputs.
    struct Case {
        b: ProgramBuilder,
        rng: Rng,
        inputs: Vec<Tensor>,
        n: usize,
    }

    /// A built program and every tensor's values.
    struct Run {
        program: Program,
        values: Vec<Vec<i64>>,
    }

    impl Run {
        fn node(&self) -> &Node {
            self.program.nodes.last().expect("a node")
        }
        fn value(&self, id: TensorId) -> &[i64] {
            &self.values[id.index()]
        }
        fn input(&self, j: usize) -> &[i64] {
            self.value(self.node().inputs[j])
        }
        fn shape(&self, id: TensorId) -> &[usize] {
            &self.program.info(id).shape
        }
        fn output(&self) -> &[i64] {
            self.value(self.node().output)
        }
        fn out_shape(&self) -> &[usize] {
            self.shape(self.node().output)
        }
    }

    impl Case {
        fn new(seed: u64) -> Self {
            Case {
                b: ProgramBuilder::new(),
                rng: Rng::new(seed),
                inputs: Vec::new(),
                n: 0,
            }
        }
        fn name(&mut self) -> String {
            self.n += 1;
            format!("t{}", self.n)
        }
        fn input(&mut self, shape: &[usize]) -> TensorId {
            let bound = 50;
            let data = (0..shape.iter().product())
                .map(|_| self.rng.small(bound))
                .collect();
            let name = self.name();
            let id = self
                .b
                .input(&name, shape.to_vec(), Range::new(-bound, bound), None)
                .expect("input");
            self.inputs
                .push(Tensor::new(shape.to_vec(), data).expect("tensor"));
            id
        }
        fn weight(&mut self, shape: &[usize], bound: i64) -> TensorId {
            let data = (0..shape.iter().product())
                .map(|_| self.rng.small(bound))
                .collect();
            let name = self.name();
            self.b
                .weight(&name, shape.to_vec(), data, None)
                .expect("weight")
        }
        fn node(&mut self, op: Op, inputs: &[TensorId]) -> TensorId {
            let name = self.name();
            self.b.node(&name, op, inputs, None).expect("node")
        }
        fn run(mut self, out: TensorId) -> Run {
            self.b.output(out);
            let program = self.b.finish().expect("valid program");
            let values = interp::run(&program, &self.inputs)
                .expect("run")
                .into_values();
            Run { program, values }
        }
    }

    fn window(k: [usize; 2], s: [usize; 2], p: [usize; 4], d: [usize; 2]) -> Window {
        Window {
            kernel: k,
            strides: s,
            pads: p,
            dilations: d,
        }
    }

    fn ef(v: i64) -> EF {
        EF::from(embed(v))
    }

    /// Adjoint identity Σ_x (Mᵀe)[x]·x[x] = Σ_y e[y]·(Mx)[y] for random e, with padding and
    /// extra entries of e (beyond n_out) checked to be ignored.
    fn check_adjoint(map: &LinearMap, x: &[i64], rng: &mut Rng) {
        let (n_in, n_out) = (map.n_in(), map.n_out());
        assert_eq!(x.len(), n_in);
        let y = map.apply(x);
        assert_eq!(y.len(), n_out);
        let mut e: Vec<EF> = (0..n_out + 3).map(|_| rng.ext()).collect();
        let padded = n_in.next_power_of_two();
        let w = map.transpose_eq(&e, padded);
        assert_eq!(w.len(), padded);
        assert!(w[n_in..].iter().all(|v| *v == EF::ZERO), "padding not zero");
        let lhs: EF = w.iter().zip(x).map(|(&a, &b)| a * ef(b)).sum();
        let rhs: EF = e.iter().zip(&y).map(|(&a, &b)| a * ef(b)).sum();
        assert_eq!(lhs, rhs, "adjoint identity fails for {map:?}");
        e.truncate(n_out);
        assert_eq!(map.transpose_eq(&e, padded), w);
        // Short e reads as zero-padded.
        let short = map.transpose_eq(&e[..n_out / 2], n_in);
        let mut half = e.clone();
        half[n_out / 2..].iter_mut().for_each(|v| *v = EF::ZERO);
        assert_eq!(short, map.transpose_eq(&half, n_in));
        map.check("test").expect("map passes its checks");
    }

    /// Checks a wiring node: Σ_j M_j in_j + constant equals the interpreter's output, and the
    /// adjoint identity of every map.
    fn check_wiring(run: &Run, rng: &mut Rng) -> NodeLinear {
        let node = run.node();
        let nl = wiring(&run.program, node).expect("wiring");
        assert_eq!(nl.maps.len(), node.inputs.len());
        let mut acc = nl
            .constant
            .clone()
            .unwrap_or_else(|| vec![0; run.output().len()]);
        for (j, m) in nl.maps.iter().enumerate() {
            let m = m.as_ref().expect("every input is wired");
            for (a, b) in acc.iter_mut().zip(m.apply(run.input(j))) {
                *a += b;
            }
            check_adjoint(m, run.input(j), rng);
        }
        assert_eq!(acc, run.output(), "wiring of {}", node.op.name());
        nl
    }

    #[test]
    fn maps_reshape_transpose_slice() {
        let mut rng = Rng::new(1);
        let mut c = Case::new(10);
        let x = c.input(&[2, 6]);
        let y = c.node(Op::Reshape { shape: vec![3, 4] }, &[x]);
        check_wiring(&c.run(y), &mut rng);

        let mut c = Case::new(11);
        let x = c.input(&[2, 3, 4]);
        let y = c.node(
            Op::Transpose {
                perm: vec![2, 0, 1],
            },
            &[x],
        );
        check_wiring(&c.run(y), &mut rng);

        let mut c = Case::new(12);
        let x = c.input(&[5, 6, 3]);
        let op = Op::Slice {
            starts: vec![4, 1, 2],
            lens: vec![2, 3, 2],
            steps: vec![-2, 2, -1],
        };
        let y = c.node(op, &[x]);
        let nl = check_wiring(&c.run(y), &mut rng);
        assert!(nl.constant.is_none());
    }

    #[test]
    fn maps_concat_three_inputs() {
        let mut rng = Rng::new(2);
        let mut c = Case::new(20);
        let a = c.input(&[2, 2, 3]);
        let b = c.weight(&[2, 1, 3], 9);
        let d = c.input(&[2, 3, 3]);
        let y = c.node(Op::Concat { axis: 1 }, &[a, b, d]);
        check_wiring(&c.run(y), &mut rng);
    }

    #[test]
    fn maps_pad_with_value_and_interior() {
        let mut rng = Rng::new(3);
        for value in [7, 0] {
            let mut c = Case::new(30);
            let x = c.input(&[2, 3]);
            let op = Op::Pad {
                begin: vec![1, 0],
                end: vec![0, 2],
                interior: vec![1, 2],
                value,
            };
            let y = c.node(op, &[x]);
            let nl = check_wiring(&c.run(y), &mut rng);
            assert_eq!(nl.constant.is_some(), value != 0);
        }
        // Nothing padded: no constant even with a non-zero value.
        let mut c = Case::new(31);
        let x = c.input(&[2, 3]);
        let op = Op::Pad {
            begin: vec![0, 0],
            end: vec![0, 0],
            interior: vec![0, 0],
            value: 5,
        };
        let y = c.node(op, &[x]);
        assert!(check_wiring(&c.run(y), &mut rng).constant.is_none());
    }

    #[test]
    fn maps_gather_and_where() {
        let mut rng = Rng::new(4);
        let mut c = Case::new(40);
        let x = c.input(&[3, 4, 2]);
        let op = Op::Gather {
            axis: 1,
            indices_shape: vec![2, 3],
            indices: vec![3, 0, 0, 2, 3, 3],
        };
        let y = c.node(op, &[x]);
        check_wiring(&c.run(y), &mut rng);

        let mut c = Case::new(41);
        let a = c.input(&[2, 3]);
        let b = c.input(&[3]);
        let op = Op::Where {
            cond_shape: vec![2, 1],
            cond: vec![true, false],
        };
        let y = c.node(op, &[a, b]);
        check_wiring(&c.run(y), &mut rng);

        let mut c = Case::new(42);
        let a = c.input(&[2, 3]);
        let b = c.input(&[2, 3]);
        let op = Op::Where {
            cond_shape: vec![2, 3],
            cond: vec![true, false, true, false, false, true],
        };
        let y = c.node(op, &[a, b]);
        check_wiring(&c.run(y), &mut rng);
    }

    #[test]
    fn maps_wiring_refuses_non_wiring_ops() {
        let mut c2 = Case::new(51);
        let a2 = c2.input(&[2, 3]);
        let b2 = c2.input(&[2, 3]);
        let y2 = c2.node(Op::Binary(BinaryKind::Max), &[a2, b2]);
        let run = c2.run(y2);
        assert!(matches!(
            wiring(&run.program, run.node()),
            Err(MapError::Unsupported { op: "Max", .. })
        ));
    }

    #[test]
    fn maps_broadcast_and_scale() {
        let mut rng = Rng::new(5);
        let mut c = Case::new(60);
        let x = c.input(&[3, 1]);
        let z = c.weight(&[2, 3, 4], 0);
        let y = c.node(Op::Binary(BinaryKind::Add), &[x, z]);
        let run = c.run(y);
        let m = broadcast(&[3, 1], &[2, 3, 4]);
        assert_eq!(m.apply(run.input(0)), run.output());
        check_adjoint(&m, run.input(0), &mut rng);

        // Per-channel coefficients, the fixed operand first or second.
        for fixed_first in [false, true] {
            let mut c = Case::new(61);
            let x = c.input(&[2, 3, 2, 2]);
            let w = c.weight(&[3, 1, 1], 20);
            let ins = if fixed_first { [w, x] } else { [x, w] };
            let y = c.node(Op::Binary(BinaryKind::Mul), &ins);
            let run = c.run(y);
            let (xj, wj) = if fixed_first { (1, 0) } else { (0, 1) };
            let m = scale(
                run.shape(run.node().inputs[xj]),
                &[3, 1, 1],
                run.input(wj),
                run.out_shape(),
            );
            assert_eq!(m.apply(run.input(xj)), run.output());
            check_adjoint(&m, run.input(xj), &mut rng);
        }
    }

    fn conv_case(seed: u64, x: [usize; 4], w: [usize; 4], win: Window, groups: usize) {
        let mut rng = Rng::new(seed);
        let mut c = Case::new(seed);
        let xi = c.input(&x);
        let wi = c.weight(&w, 9);
        let bi = c.weight(&[w[0]], 100);
        let y = c.node(
            Op::Conv {
                window: win.clone(),
                groups,
            },
            &[xi, wi, bi],
        );
        let run = c.run(y);
        let out: [usize; 4] = run.out_shape().try_into().expect("rank 4");
        let m = LinearMap::Conv {
            x_shape: x,
            w_shape: w,
            window: win,
            groups,
            out_shape: out,
            w: Arc::new(run.value(wi).to_vec()),
        };
        let bias = run.value(bi);
        let plane = out[2] * out[3];
        let got: Vec<i64> = m
            .apply(run.input(0))
            .iter()
            .enumerate()
            .map(|(i, &v)| v + bias[(i / plane) % out[1]])
            .collect();
        assert_eq!(got, run.output());
        check_adjoint(&m, run.input(0), &mut rng);
        // nnz counts exactly the taps apply performs: compare with a brute-force count.
        let mut count = 0usize;
        let wv = run.value(wi);
        let cg = w[1];
        for oc in 0..w[0] {
            for ci in 0..cg {
                for ky in 0..w[2] {
                    for kx in 0..w[3] {
                        if wv[((oc * cg + ci) * w[2] + ky) * w[3] + kx] == 0 {
                            continue;
                        }
                        let vy = valid_taps(
                            out[2],
                            x[2],
                            ky,
                            m_win(&m).strides[0],
                            m_win(&m).dilations[0],
                            m_win(&m).pads[0],
                        );
                        let vx = valid_taps(
                            out[3],
                            x[3],
                            kx,
                            m_win(&m).strides[1],
                            m_win(&m).dilations[1],
                            m_win(&m).pads[1],
                        );
                        count += vy * vx;
                    }
                }
            }
        }
        assert_eq!(m.nnz(), x[0] * count);
    }

    fn m_win(m: &LinearMap) -> &Window {
        match m {
            LinearMap::Conv { window, .. } => window,
            _ => unreachable!(),
        }
    }

    #[test]
    fn maps_conv_groups_stride_pad_dilation() {
        conv_case(
            70,
            [2, 4, 7, 6],
            [6, 2, 3, 2],
            window([3, 2], [2, 2], [1, 2, 2, 0], [2, 1]),
            2,
        );
    }

    #[test]
    fn maps_conv_depthwise() {
        conv_case(
            71,
            [1, 4, 5, 5],
            [4, 1, 3, 3],
            window([3, 3], [1, 1], [1, 1, 1, 1], [1, 1]),
            4,
        );
        // Depthwise with a channel multiplier of 2 and dilation.
        conv_case(
            72,
            [1, 3, 6, 6],
            [6, 1, 2, 2],
            window([2, 2], [1, 2], [0, 0, 1, 1], [2, 2]),
            3,
        );
    }

    #[test]
    fn maps_sum_pool_with_padding() {
        let mut rng = Rng::new(8);
        for win in [
            window([3, 3], [2, 2], [1, 1, 1, 1], [1, 1]),
            window([2, 3], [1, 2], [2, 0, 0, 2], [2, 1]),
        ] {
            let mut c = Case::new(80);
            let x = c.input(&[2, 3, 5, 6]);
            let y = c.node(
                Op::SumPool {
                    window: win.clone(),
                },
                &[x],
            );
            let run = c.run(y);
            let m = sum_pool(&[2, 3, 5, 6], &win, run.out_shape());
            assert_eq!(m.apply(run.input(0)), run.output());
            check_adjoint(&m, run.input(0), &mut rng);
        }
    }

    #[test]
    fn maps_reduce_sum() {
        let mut rng = Rng::new(9);
        for (axes, keep_dims) in [
            (vec![0, 2], false),
            (vec![0, 2], true),
            (vec![1], false),
            (vec![], true),
            (vec![0, 1, 2], false),
        ] {
            let mut c = Case::new(90);
            let x = c.input(&[2, 3, 5]);
            let op = Op::Reduce {
                kind: ReduceKind::Sum,
                axes: axes.clone(),
                keep_dims,
            };
            let y = c.node(op, &[x]);
            let run = c.run(y);
            let m = reduce_sum(&[2, 3, 5], &axes, run.out_shape());
            assert_eq!(m.n_out(), run.output().len());
            assert_eq!(m.apply(run.input(0)), run.output(), "axes {axes:?}");
            check_adjoint(&m, run.input(0), &mut rng);
        }
    }

    #[test]
    fn maps_matmul_right_batch_folded() {
        let mut rng = Rng::new(10);
        let mut c = Case::new(100);
        let x = c.input(&[2, 3, 5]);
        let w = c.weight(&[5, 4], 30);
        let b = c.weight(&[4], 100);
        let y = c.node(Op::MatMul, &[x, w, b]);
        let run = c.run(y);
        let m = LinearMap::MatMulRight {
            rows: 6,
            k: 5,
            n: 4,
            w: Arc::new(run.value(w).to_vec()),
        };
        let bias = run.value(b);
        let got: Vec<i64> = m
            .apply(run.input(0))
            .iter()
            .enumerate()
            .map(|(i, &v)| v + bias[i % 4])
            .collect();
        assert_eq!(got, run.output());
        check_adjoint(&m, run.input(0), &mut rng);
        assert_eq!(
            m.nnz(),
            6 * run.value(w).iter().filter(|&&v| v != 0).count()
        );
    }

    #[test]
    fn maps_matmul_left() {
        let mut rng = Rng::new(11);
        let mut c = Case::new(110);
        let a = c.weight(&[3, 5], 30);
        let x = c.input(&[2, 5, 4]);
        let y = c.node(Op::MatMul, &[a, x]);
        let run = c.run(y);
        let m = LinearMap::MatMulLeft {
            batch: 2,
            m: 3,
            k: 5,
            n: 4,
            a: Arc::new(run.value(a).to_vec()),
        };
        assert_eq!(m.apply(run.input(1)), run.output());
        check_adjoint(&m, run.input(1), &mut rng);
    }

    /// Sizes above the parallel thresholds (bucketed scatter, chunked matmul/conv).
    #[test]
    fn maps_large_parallel_paths() {
        let mut rng = Rng::new(12);
        let m = broadcast(&[1, 300], &[70, 300]);
        let x: Vec<i64> = (0..300).map(|_| rng.small(1000)).collect();
        check_adjoint(&m, &x, &mut rng);

        let mut c = Case::new(120);
        let x = c.input(&[40, 30, 20]);
        let y = c.node(
            Op::Transpose {
                perm: vec![2, 0, 1],
            },
            &[x],
        );
        check_wiring(&c.run(y), &mut rng);

        let mut c = Case::new(121);
        let x = c.input(&[64, 40, 9]);
        let w = c.weight(&[40, 1], 20);
        let y = c.node(Op::Binary(BinaryKind::Mul), &[x, w]);
        let run = c.run(y);
        let m = scale(&[64, 40, 9], &[40, 1], run.input(1), &[64, 40, 9]);
        assert_eq!(m.apply(run.input(0)), run.output());
        check_adjoint(&m, run.input(0), &mut rng);

        let mut c = Case::new(122);
        let x = c.input(&[60, 50, 8]);
        let op = Op::Reduce {
            kind: ReduceKind::Sum,
            axes: vec![1],
            keep_dims: false,
        };
        let y = c.node(op, &[x]);
        let run = c.run(y);
        let m = reduce_sum(&[60, 50, 8], &[1], run.out_shape());
        assert_eq!(m.apply(run.input(0)), run.output());
        check_adjoint(&m, run.input(0), &mut rng);

        // Many-to-one scatter (Select with repeats) above the threshold.
        let mut c = Case::new(123);
        let x = c.input(&[50, 10]);
        let indices: Vec<usize> = (0..4000).map(|i| (i * 7) % 10).collect();
        let op = Op::Gather {
            axis: 1,
            indices_shape: vec![4000],
            indices,
        };
        let y = c.node(op, &[x]);
        check_wiring(&c.run(y), &mut rng);

        conv_case(
            124,
            [2, 8, 20, 20],
            [8, 4, 3, 3],
            window([3, 3], [1, 1], [1, 1, 1, 1], [1, 1]),
            2,
        );
    }

    #[test]
    fn maps_check_refuses_oversized_and_inconsistent_maps() {
        let huge = LinearMap::Select {
            n_in: u32::MAX as usize,
            src: vec![],
        };
        assert!(matches!(huge.check("n"), Err(MapError::TooLarge { .. })));
        let dense = LinearMap::MatMulRight {
            rows: 1 << 20,
            k: 1 << 10,
            n: 1 << 10,
            w: Arc::new(vec![1; 1 << 20]),
        };
        assert!(matches!(dense.check("n"), Err(MapError::TooLarge { .. })));
        let bad = LinearMap::Select {
            n_in: 3,
            src: vec![0, 3],
        };
        assert!(bad.check("n").is_err());
        // Out-of-range entries read zero instead of panicking.
        assert_eq!(bad.apply(&[5, 6, 7]), vec![5, 0]);
        assert_eq!(bad.transpose_eq(&[EF::ONE, EF::ONE], 4).len(), 4);
        let wrong_w = LinearMap::MatMulRight {
            rows: 2,
            k: 3,
            n: 2,
            w: Arc::new(vec![1; 5]),
        };
        assert!(wrong_w.check("n").is_err());
        assert_eq!(wrong_w.apply(&[1; 6]), vec![0; 4]);
        let wrong_conv = sum_pool(&[1, 2, 3], &window([2, 2], [1, 1], [0; 4], [1, 1]), &[1]);
        assert!(wrong_conv.check("n").is_err());
        assert_eq!(wrong_conv.apply(&[]), Vec::<i64>::new());
    }
}
