//! Shape and value-range inference for every op. Ranges are sound by construction: given
//! inputs inside their ranges, every element of every output lies inside the derived range,
//! and every intermediate (partial sums included) stays within +-2^62.

use crate::op::{BinaryKind, Op, ReduceKind, Window};
use crate::table::MAX_TABLE_ENTRIES;
use crate::tensor::{Range, Wide, VALUE_BOUND};

/// What inference knows about one input: its shape, range and, for weights, its data.
pub(crate) struct Operand<'a> {
    /// Which tensor this is: `x * x` has a non-negative range.
    pub id: crate::program::TensorId,
    pub shape: &'a [usize],
    pub range: Range,
    pub data: Option<&'a [i64]>,
}

type Inferred = Result<(Vec<usize>, Range), String>;

pub(crate) fn infer(op: &Op, x: &[Operand]) -> Inferred {
    let arity = |lo: usize, hi: usize| -> Result<(), String> {
        if x.len() < lo || x.len() > hi {
            Err(format!("expects {lo}..={hi} inputs, got {}", x.len()))
        } else {
            Ok(())
        }
    };
    match op {
        Op::MatMul => {
            arity(2, 3)?;
            matmul(x)
        }
        Op::Conv { window, groups } => {
            arity(2, 3)?;
            conv(x, window, *groups)
        }
        Op::Binary(kind) => {
            arity(2, 2)?;
            let shape = broadcast(&[x[0].shape, x[1].shape])?;
            let (a, b) = (Wide::of(x[0].range), Wide::of(x[1].range));
            let r = match kind {
                BinaryKind::Add => a.add(b),
                BinaryKind::Sub => a.sub(b),
                BinaryKind::Mul if x[0].id == x[1].id => {
                    let sq = a.mul(a);
                    let lo = if a.lo <= 0 && a.hi >= 0 {
                        0
                    } else {
                        (a.lo * a.lo).min(a.hi * a.hi)
                    };
                    Wide { lo, hi: sq.hi }
                }
                BinaryKind::Mul => a.mul(b),
                BinaryKind::Max => Wide {
                    lo: a.lo.max(b.lo),
                    hi: a.hi.max(b.hi),
                },
                BinaryKind::Min => Wide {
                    lo: a.lo.min(b.lo),
                    hi: a.hi.min(b.hi),
                },
            };
            Ok((shape, r.fit("result")?))
        }
        Op::Requant {
            mults,
            axis,
            shift,
            lo,
            hi,
        } => {
            arity(1, 1)?;
            requant(&x[0], mults, *axis, *shift, *lo, *hi)
        }
        Op::Clamp { lo, hi } => {
            arity(1, 1)?;
            if lo > hi {
                return Err(format!("clamp bounds [{lo}, {hi}] are empty"));
            }
            let r = x[0].range;
            let out = Range::new(r.lo.clamp(*lo, *hi), r.hi.clamp(*lo, *hi));
            Wide::of(out).fit("clamped value")?;
            Ok((x[0].shape.to_vec(), out))
        }
        Op::Lookup(t) => {
            arity(1, 1)?;
            if !(t.in_scale.is_finite() && t.out_scale.is_finite()) {
                return Err("table scales must be finite".into());
            }
            if t.domain.lo > t.domain.hi || t.domain.width() > MAX_TABLE_ENTRIES {
                return Err(format!(
                    "table domain [{}, {}] is empty or larger than 2^20 entries",
                    t.domain.lo, t.domain.hi
                ));
            }
            if t.values.len() as u128 != t.domain.width() {
                return Err(format!(
                    "table has {} entries for a domain of {}",
                    t.values.len(),
                    t.domain.width()
                ));
            }
            if !t.domain.contains_range(&x[0].range) {
                return Err(format!(
                    "input range [{}, {}] is not inside the table domain [{}, {}]; clamp or requantize first",
                    x[0].range.lo, x[0].range.hi, t.domain.lo, t.domain.hi
                ));
            }
            let r = t.output_range(x[0].range);
            Wide::of(r).fit("table value")?;
            Ok((x[0].shape.to_vec(), r))
        }
        Op::DivRound { shift } => {
            arity(2, 2)?;
            div_round(&x[0], &x[1], *shift)
        }
        Op::Sqrt => {
            arity(1, 1)?;
            let r = x[0].range;
            if r.lo < 0 {
                return Err(format!(
                    "input range [{}, {}] includes negatives",
                    r.lo, r.hi
                ));
            }
            Ok((x[0].shape.to_vec(), Range::new(isqrt(r.lo), isqrt(r.hi))))
        }
        Op::Where { cond_shape, cond } => {
            arity(2, 2)?;
            let n = numel(cond_shape);
            if n != cond.len() as u128 {
                return Err(format!(
                    "mask shape {cond_shape:?} needs {n} values, has {}",
                    cond.len()
                ));
            }
            let shape = broadcast(&[cond_shape, x[0].shape, x[1].shape])?;
            Ok((shape, x[0].range.union(&x[1].range)))
        }
        Op::Reduce {
            kind,
            axes,
            keep_dims,
        } => {
            arity(1, 1)?;
            let shape = x[0].shape;
            check_axes(axes, shape.len())?;
            let n: usize = axes.iter().map(|&a| shape[a]).product();
            let out: Vec<usize> = shape
                .iter()
                .enumerate()
                .filter_map(|(i, &d)| {
                    if axes.contains(&i) {
                        keep_dims.then_some(1)
                    } else {
                        Some(d)
                    }
                })
                .collect();
            let r = match kind {
                // An empty reduction sums to 0, which scale(0) yields.
                ReduceKind::Sum => Wide::of(x[0].range).scale(n as i128).fit("sum")?,
                ReduceKind::Max | ReduceKind::Min => {
                    if n == 0 {
                        return Err("reduces over an empty axis".into());
                    }
                    x[0].range
                }
            };
            Ok((out, r))
        }
        Op::SumPool { window } => {
            arity(1, 1)?;
            let shape = pool_shape(x[0].shape, window)?;
            let area = (window.kernel[0] as i128).saturating_mul(window.kernel[1] as i128);
            let r = Wide::of(x[0].range.union(&Range::new(0, 0)))
                .scale(area)
                .fit("window sum")?;
            Ok((shape, r))
        }
        Op::MaxPool { window } => {
            arity(1, 1)?;
            let shape = pool_shape(x[0].shape, window)?;
            let (h, w) = (x[0].shape[2], x[0].shape[3]);
            if !windows_nonempty(h, window, shape[2], 0)
                || !windows_nonempty(w, window, shape[3], 1)
            {
                return Err("some pooling window lies entirely in the padding".into());
            }
            Ok((shape, x[0].range))
        }
        Op::Reshape { shape } => {
            arity(1, 1)?;
            let (a, b) = (numel(x[0].shape), numel(shape));
            if a != b {
                return Err(format!(
                    "cannot reshape {:?} ({a} elements) to {shape:?} ({b} elements)",
                    x[0].shape
                ));
            }
            Ok((shape.clone(), x[0].range))
        }
        Op::Transpose { perm } => {
            arity(1, 1)?;
            let rank = x[0].shape.len();
            let mut seen = vec![false; rank];
            if perm.len() != rank {
                return Err(format!("permutation {perm:?} for rank {rank}"));
            }
            for &p in perm {
                if p >= rank || seen[p] {
                    return Err(format!("{perm:?} is not a permutation of 0..{rank}"));
                }
                seen[p] = true;
            }
            Ok((perm.iter().map(|&p| x[0].shape[p]).collect(), x[0].range))
        }
        Op::Slice {
            starts,
            lens,
            steps,
        } => {
            arity(1, 1)?;
            let rank = x[0].shape.len();
            if starts.len() != rank || lens.len() != rank || steps.len() != rank {
                return Err(format!("slice spec must have {rank} entries per field"));
            }
            for i in 0..rank {
                let d = x[0].shape[i] as i128;
                if steps[i] == 0 {
                    return Err(format!("axis {i}: step 0"));
                }
                if lens[i] > 0 {
                    let first = starts[i] as i128;
                    let last = first + (lens[i] as i128 - 1) * steps[i] as i128;
                    if first >= d || last < 0 || last >= d {
                        return Err(format!("axis {i}: indices {first}..={last} outside 0..{d}"));
                    }
                }
            }
            Ok((lens.clone(), x[0].range))
        }
        Op::Concat { axis } => {
            if x.is_empty() {
                return Err("needs at least one input".into());
            }
            let rank = x[0].shape.len();
            if *axis >= rank {
                return Err(format!("axis {axis} out of range for rank {rank}"));
            }
            let mut out = x[0].shape.to_vec();
            out[*axis] = 0;
            let mut r = x[0].range;
            for o in x {
                if o.shape.len() != rank
                    || o.shape
                        .iter()
                        .enumerate()
                        .any(|(i, &d)| i != *axis && d != x[0].shape[i])
                {
                    return Err(format!(
                        "shapes {:?} and {:?} differ off axis {axis}",
                        x[0].shape, o.shape
                    ));
                }
                out[*axis] = out[*axis]
                    .checked_add(o.shape[*axis])
                    .ok_or("concatenated axis overflows")?;
                r = r.union(&o.range);
            }
            Ok((out, r))
        }
        Op::Pad {
            begin,
            end,
            interior,
            value,
        } => {
            arity(1, 1)?;
            let rank = x[0].shape.len();
            if begin.len() != rank || end.len() != rank || interior.len() != rank {
                return Err(format!("pad spec must have {rank} entries per field"));
            }
            let mut out = Vec::with_capacity(rank);
            for i in 0..rank {
                let d = x[0].shape[i];
                let inner = if d == 0 {
                    0
                } else {
                    d.checked_add((d - 1).checked_mul(interior[i]).ok_or("pad overflow")?)
                        .ok_or("pad overflow")?
                };
                out.push(
                    inner
                        .checked_add(begin[i])
                        .and_then(|v| v.checked_add(end[i]))
                        .ok_or("pad overflow")?,
                );
            }
            if Wide::of(Range::new(*value, *value)).abs_max() >= VALUE_BOUND {
                return Err("pad value exceeds the value bound".into());
            }
            Ok((out, x[0].range.union(&Range::new(*value, *value))))
        }
        Op::Gather {
            axis,
            indices_shape,
            indices,
        } => {
            arity(1, 1)?;
            let shape = x[0].shape;
            if *axis >= shape.len() {
                return Err(format!("axis {axis} out of range for rank {}", shape.len()));
            }
            let n = numel(indices_shape);
            if n != indices.len() as u128 {
                return Err(format!(
                    "indices shape {indices_shape:?} needs {n} values, has {}",
                    indices.len()
                ));
            }
            if let Some(bad) = indices.iter().find(|&&i| i >= shape[*axis]) {
                return Err(format!("index {bad} outside 0..{}", shape[*axis]));
            }
            let mut out = shape[..*axis].to_vec();
            out.extend_from_slice(indices_shape);
            out.extend_from_slice(&shape[axis + 1..]);
            Ok((out, x[0].range))
        }
        Op::GatherDynamic { axis } => {
            arity(2, 2)?;
            let shape = x[0].shape;
            if *axis >= shape.len() {
                return Err(format!("axis {axis} out of range for rank {}", shape.len()));
            }
            let r = x[1].range;
            if r.lo < 0 || r.hi >= shape[*axis] as i64 {
                return Err(format!(
                    "index range [{}, {}] is not inside 0..{}",
                    r.lo, r.hi, shape[*axis]
                ));
            }
            let mut out = shape[..*axis].to_vec();
            out.extend_from_slice(x[1].shape);
            out.extend_from_slice(&shape[axis + 1..]);
            Ok((out, x[0].range))
        }
    }
}

/// Numpy broadcasting of several shapes.
pub fn broadcast(shapes: &[&[usize]]) -> Result<Vec<usize>, String> {
    let rank = shapes.iter().map(|s| s.len()).max().unwrap_or(0);
    let mut out = vec![1usize; rank];
    for s in shapes {
        for (i, &d) in s.iter().enumerate() {
            let o = &mut out[rank - s.len() + i];
            if *o == 1 {
                *o = d;
            } else if d != 1 && d != *o {
                return Err(format!("shapes {shapes:?} do not broadcast"));
            }
        }
    }
    Ok(out)
}

/// Element count of a shape, saturating (never overflows, whatever the dimensions).
fn numel(shape: &[usize]) -> u128 {
    shape
        .iter()
        .fold(1u128, |n, &d| n.saturating_mul(d as u128))
}

fn check_axes(axes: &[usize], rank: usize) -> Result<(), String> {
    for (i, &a) in axes.iter().enumerate() {
        if a >= rank || axes[..i].contains(&a) {
            return Err(format!("axes {axes:?} invalid for rank {rank}"));
        }
    }
    Ok(())
}

fn matmul(x: &[Operand]) -> Inferred {
    let (a, b) = (&x[0], &x[1]);
    if a.shape.len() < 2 || b.shape.len() < 2 {
        return Err(format!(
            "operands must have rank >= 2, got {:?} and {:?}",
            a.shape, b.shape
        ));
    }
    let (ra, rb) = (a.shape.len(), b.shape.len());
    let (m, k) = (a.shape[ra - 2], a.shape[ra - 1]);
    let (k2, n) = (b.shape[rb - 2], b.shape[rb - 1]);
    if k != k2 {
        return Err(format!(
            "inner dimensions differ: {:?} @ {:?}",
            a.shape, b.shape
        ));
    }
    let mut shape = broadcast(&[&a.shape[..ra - 2], &b.shape[..rb - 2]])?;
    shape.push(m);
    shape.push(n);
    // Per output column, the sum of |a|max * |b[k, n]| bounds every partial sum.
    let ar = Wide::of(a.range);
    let (mut r, abs) = if let Some(w) = b.data {
        column_bounds(ar, w, k, n)
    } else if let Some(w) = a.data {
        // Row bounds of a constant left operand: transpose the roles.
        let br = Wide::of(b.range);
        let mut lo = 0i128;
        let mut hi = 0i128;
        let mut abs = 0i128;
        for row in w.chunks(k.max(1)) {
            let mut s = Wide { lo: 0, hi: 0 };
            let mut t = 0i128;
            for &v in row {
                s = s.add(br.mul(Wide {
                    lo: v as i128,
                    hi: v as i128,
                }));
                t = t.saturating_add(br.abs_max() * (v as i128).abs());
            }
            lo = lo.min(s.lo);
            hi = hi.max(s.hi);
            abs = abs.max(t);
        }
        (Wide { lo, hi }, abs)
    } else {
        let p = ar.mul(Wide::of(b.range));
        (p.scale(k as i128), p.abs_max().saturating_mul(k as i128))
    };
    if let Some(bias) = x.get(2) {
        let out_shape = shape.clone();
        broadcast(&[&out_shape, bias.shape]).and_then(|s| {
            if s == out_shape {
                Ok(())
            } else {
                Err(format!(
                    "bias {:?} does not broadcast to {out_shape:?}",
                    bias.shape
                ))
            }
        })?;
        r = r.add(Wide::of(bias.range));
        let abs = abs.saturating_add(Wide::of(bias.range).abs_max());
        Wide { lo: -abs, hi: abs }.fit("accumulator")?;
    } else {
        Wide { lo: -abs, hi: abs }.fit("accumulator")?;
    }
    Ok((shape, r.fit("product")?))
}

/// Exact interval and absolute bound of `a @ w` over the columns of a constant `k x n` matrix
/// (or a batch of them).
fn column_bounds(a: Wide, w: &[i64], k: usize, n: usize) -> (Wide, i128) {
    let mut lo = vec![0i128; n];
    let mut hi = vec![0i128; n];
    let mut abs = vec![0i128; n];
    let amax = a.abs_max();
    let mut out = Wide { lo: 0, hi: 0 };
    let mut abs_max = 0i128;
    // `max(1)`: with k == 0 or n == 0 the data is empty and the bound is 0.
    for mat in w.chunks((k * n).max(1)) {
        lo.iter_mut().for_each(|v| *v = 0);
        hi.iter_mut().for_each(|v| *v = 0);
        abs.iter_mut().for_each(|v| *v = 0);
        for row in mat.chunks(n.max(1)) {
            for (j, &v) in row.iter().enumerate() {
                let v = v as i128;
                let (p, q) = (a.lo * v, a.hi * v);
                // Saturating: a long column of large products must not wrap to a small bound.
                lo[j] = lo[j].saturating_add(p.min(q));
                hi[j] = hi[j].saturating_add(p.max(q));
                abs[j] = abs[j].saturating_add(amax * v.abs());
            }
        }
        for j in 0..n {
            out.lo = out.lo.min(lo[j]);
            out.hi = out.hi.max(hi[j]);
            abs_max = abs_max.max(abs[j]);
        }
    }
    (out, abs_max)
}

fn conv(x: &[Operand], window: &Window, groups: usize) -> Inferred {
    let (inp, w) = (&x[0], &x[1]);
    if inp.shape.len() != 4 || w.shape.len() != 4 {
        return Err(format!(
            "expects NCHW input and OIHW weights, got {:?} and {:?}",
            inp.shape, w.shape
        ));
    }
    let (n, c, h, wd) = (inp.shape[0], inp.shape[1], inp.shape[2], inp.shape[3]);
    let (o, cg, kh, kw) = (w.shape[0], w.shape[1], w.shape[2], w.shape[3]);
    if groups == 0 || c % groups != 0 || o % groups != 0 || cg.checked_mul(groups) != Some(c) {
        return Err(format!(
            "{c} input channels, {o} output channels and weight {:?} do not fit {groups} groups",
            w.shape
        ));
    }
    if [kh, kw] != window.kernel {
        return Err(format!(
            "kernel {:?} differs from weight shape {:?}",
            window.kernel, w.shape
        ));
    }
    let [oh, ow] = window
        .output_hw(h, wd)
        .ok_or_else(|| format!("window {window:?} does not fit input {h}x{wd}"))?;
    let padded = window.pads.iter().any(|&p| p > 0);
    let xr = if padded {
        inp.range.union(&Range::new(0, 0))
    } else {
        inp.range
    };
    let xr = Wide::of(xr);
    let per = cg * kh * kw;
    let (mut r, mut abs) = match w.data {
        Some(data) => {
            let mut out = Wide { lo: 0, hi: 0 };
            let mut abs = 0i128;
            for f in data.chunks(per.max(1)) {
                let mut s = Wide { lo: 0, hi: 0 };
                let mut t = 0i128;
                for &v in f {
                    s = s.add(xr.mul(Wide {
                        lo: v as i128,
                        hi: v as i128,
                    }));
                    t = t.saturating_add(xr.abs_max() * (v as i128).abs());
                }
                out.lo = out.lo.min(s.lo);
                out.hi = out.hi.max(s.hi);
                abs = abs.max(t);
            }
            (out, abs)
        }
        None => {
            let p = xr.mul(Wide::of(w.range));
            (
                p.scale(per as i128),
                p.abs_max().saturating_mul(per as i128),
            )
        }
    };
    if let Some(b) = x.get(2) {
        if b.shape != [o] {
            return Err(format!("bias shape {:?}, expected [{o}]", b.shape));
        }
        r = r.add(Wide::of(b.range));
        abs = abs.saturating_add(Wide::of(b.range).abs_max());
    }
    Wide { lo: -abs, hi: abs }.fit("accumulator")?;
    Ok((vec![n, o, oh, ow], r.fit("convolution")?))
}

fn pool_shape(shape: &[usize], window: &Window) -> Result<Vec<usize>, String> {
    if shape.len() != 4 {
        return Err(format!("expects NCHW input, got {shape:?}"));
    }
    let [oh, ow] = window
        .output_hw(shape[2], shape[3])
        .ok_or_else(|| format!("window {window:?} does not fit input {shape:?}"))?;
    Ok(vec![shape[0], shape[1], oh, ow])
}

/// True when every one of the `n` pooling windows along `dim` (input length `len`) touches at
/// least one real element. O(1) per window, so huge kernels cannot stall validation.
fn windows_nonempty(len: usize, w: &Window, n: usize, dim: usize) -> bool {
    if n as u128 > crate::tensor::MAX_ELEMENTS {
        // The output shape is refused as too large by the caller.
        return true;
    }
    let (len, pad) = (len as i128, w.pads[dim] as i128);
    let (stride, dil, kernel) = (
        w.strides[dim] as i128,
        w.dilations[dim] as i128,
        w.kernel[dim] as i128,
    );
    (0..n as i128).all(|o| {
        // Window positions are start + k * dil for k in 0..kernel; find the first k >= 0
        // landing at index >= 0 and check it is a real index.
        let start = o * stride - pad;
        let k0 = if start >= 0 {
            0
        } else {
            (-start + dil - 1) / dil
        };
        k0 < kernel && start + k0 * dil < len
    })
}

fn requant(
    x: &Operand,
    mults: &[i64],
    axis: Option<usize>,
    shift: u32,
    lo: i64,
    hi: i64,
) -> Inferred {
    if lo > hi {
        return Err(format!("clamp bounds [{lo}, {hi}] are empty"));
    }
    if shift > 62 {
        return Err(format!("shift {shift} exceeds 62"));
    }
    match axis {
        None if mults.len() != 1 => {
            return Err(format!(
                "per-tensor requant with {} multipliers",
                mults.len()
            ))
        }
        Some(a) if a >= x.shape.len() || x.shape[a] != mults.len() => {
            return Err(format!(
                "{} multipliers for axis {a} of shape {:?}",
                mults.len(),
                x.shape
            ))
        }
        _ => {}
    }
    let xr = Wide::of(x.range);
    let half = if shift == 0 { 0 } else { 1i128 << (shift - 1) };
    let mut out: Option<Wide> = None;
    for &m in mults {
        if (m as i128).abs() >= 1 << 32 {
            return Err(format!("multiplier {m} exceeds 2^32"));
        }
        let scaled = xr.mul(Wide {
            lo: m as i128,
            hi: m as i128,
        });
        if scaled.abs_max() + half >= VALUE_BOUND {
            return Err(format!(
                "x * {m} may reach {} which exceeds the value bound 2^62",
                scaled.abs_max()
            ));
        }
        let f = |v: i128| (v + half) >> shift;
        let r = Wide {
            lo: f(scaled.lo),
            hi: f(scaled.hi),
        };
        out = Some(match out {
            None => r,
            Some(o) => Wide {
                lo: o.lo.min(r.lo),
                hi: o.hi.max(r.hi),
            },
        });
    }
    let r = out.ok_or("no multipliers")?;
    let c = |v: i128| v.clamp(lo as i128, hi as i128);
    let r = Wide {
        lo: c(r.lo),
        hi: c(r.hi),
    }
    .fit("requantized value")?;
    Ok((x.shape.to_vec(), r))
}

/// `floor((a * 2^(shift+1) + b) / (2 b))`, the DivRound semantics, in i128.
pub(crate) fn div_round_wide(a: i128, b: i128, shift: u32) -> i128 {
    let num = (a << (shift + 1)) + b;
    num.div_euclid(2 * b)
}

fn div_round(a: &Operand, b: &Operand, shift: u32) -> Inferred {
    let shape = broadcast(&[a.shape, b.shape])?;
    if b.range.lo < 1 {
        return Err(format!(
            "divisor range [{}, {}] must be >= 1",
            b.range.lo, b.range.hi
        ));
    }
    if shift > 60 {
        return Err(format!("shift {shift} exceeds 60"));
    }
    // Backends prove `q * 2b + r = a * 2^(shift+1) + b` with `0 <= r < 2b`: the numerator's
    // magnitude plus the divisor 2b must stay within the bound.
    let num = Wide::of(a.range).scale(1i128 << (shift + 1));
    if num.abs_max() + 2 * b.range.hi as i128 >= VALUE_BOUND {
        return Err(format!(
            "numerator a * 2^{} (up to {}) plus divisor 2b (up to {}) exceeds the value bound 2^62",
            shift + 1,
            num.abs_max(),
            2 * b.range.hi as i128
        ));
    }
    let corners = [
        div_round_wide(a.range.lo as i128, b.range.lo as i128, shift),
        div_round_wide(a.range.lo as i128, b.range.hi as i128, shift),
        div_round_wide(a.range.hi as i128, b.range.lo as i128, shift),
        div_round_wide(a.range.hi as i128, b.range.hi as i128, shift),
    ];
    let r = Wide {
        lo: corners.iter().copied().min().unwrap_or(0),
        hi: corners.iter().copied().max().unwrap_or(0),
    };
    Ok((shape, r.fit("quotient")?))
}

/// Integer square root: the largest `r` with `r * r <= v` (v >= 0).
pub fn isqrt(v: i64) -> i64 {
    if v <= 0 {
        return 0;
    }
    // Float estimate, corrected in i128 (no overflow even for v near i64::MAX).
    let v = v as i128;
    let mut r = (v as f64).sqrt() as i128;
    while r * r > v {
        r -= 1;
    }
    while (r + 1) * (r + 1) <= v {
        r += 1;
    }
    r as i64
}
