//! The reference interpreter: the executable definition of every op, and the witness generator
//! for the backends. Deterministic and bit-exact; conv and matmul run on all cores.

use std::borrow::Cow;

use rayon::prelude::*;

use crate::error::{IrError, Result};
use crate::infer::{div_round_wide, isqrt};
use crate::op::{BinaryKind, Op, ReduceKind, Window};
use crate::program::{Program, TensorId, TensorKind};
use crate::tensor::{strides, Range, Tensor};

/// Values of every tensor of one run (the witness).
#[derive(Debug)]
pub struct Trace<'p> {
    program: &'p Program,
    /// Activation and input values by tensor id; weights are read from the program.
    values: Vec<Vec<i64>>,
}

impl<'p> Trace<'p> {
    /// Values of any tensor (input, weight or activation).
    pub fn get(&self, id: TensorId) -> &[i64] {
        match self.program.weight(id) {
            Some(w) => w,
            None => &self.values[id.index()],
        }
    }

    pub fn tensor(&self, id: TensorId) -> Tensor {
        Tensor {
            shape: self.program.info(id).shape.clone(),
            data: self.get(id).to_vec(),
        }
    }

    /// The program's outputs, in order.
    pub fn outputs(&self) -> Vec<Tensor> {
        self.program
            .outputs
            .iter()
            .map(|&o| self.tensor(o))
            .collect()
    }

    pub fn program(&self) -> &'p Program {
        self.program
    }

    /// Every tensor's values, weights included, indexed by tensor id (a full witness).
    pub fn into_values(self) -> Vec<Vec<i64>> {
        let program = self.program;
        self.values
            .into_iter()
            .enumerate()
            .map(|(i, v)| match program.weights[i].as_ref() {
                Some(w) => w.clone(),
                None => v,
            })
            .collect()
    }
}

/// Evaluates one node on given input values (one slice per node input). Used to check claimed
/// witnesses node by node; refuses inputs whose length or range differs from the declaration.
pub fn eval_node(program: &Program, node: &crate::Node, inputs: &[&[i64]]) -> Result<Vec<i64>> {
    if inputs.len() != node.inputs.len() {
        return Err(IrError::node(
            &node.name,
            node.op.name(),
            format!(
                "{} input values for {} inputs",
                inputs.len(),
                node.inputs.len()
            ),
        ));
    }
    let mut args = Vec::with_capacity(inputs.len());
    for (&id, &data) in node.inputs.iter().zip(inputs) {
        let info = program
            .tensors
            .get(id.index())
            .ok_or(IrError::UnknownTensor(id.0))?;
        if data.len() != info.shape.iter().product::<usize>() {
            return Err(IrError::node(
                &node.name,
                node.op.name(),
                format!(
                    "input {} has {} values, expected shape {:?}",
                    info.name,
                    data.len(),
                    info.shape
                ),
            ));
        }
        if let Some(v) = data.iter().find(|&&v| !info.range.contains(v)) {
            return Err(IrError::node(
                &node.name,
                node.op.name(),
                format!(
                    "input {} holds {v}, outside its range [{}, {}]",
                    info.name, info.range.lo, info.range.hi
                ),
            ));
        }
        args.push(Arg {
            shape: &info.shape,
            range: info.range,
            data,
        });
    }
    let out = program
        .tensors
        .get(node.output.index())
        .ok_or(IrError::UnknownTensor(node.output.0))?;
    Ok(eval(&node.op, &args, &out.shape))
}

/// Evaluates `op` on raw input values with given shapes, without the range checks of
/// [`eval_node`]: for backends that derive an op's wiring by running it on index tensors.
///
/// Each input is `(shape, data)`; every value may be any `i64` the op's arithmetic can hold
/// (the range each kernel needs is taken from the data itself, so results are exact).
///
/// # Panics
/// When the caller passes inconsistent shapes (data lengths that differ from the shapes, an
/// `out_shape` other than the one the IR derives for these inputs, or an input count the op
/// does not take). Call it only for ops of a validated [`Program`] with their declared shapes.
pub fn apply_op(op: &Op, inputs: &[(&[usize], &[i64])], out_shape: &[usize]) -> Vec<i64> {
    let args: Vec<Arg> = inputs
        .iter()
        .map(|&(shape, data)| {
            let lo = data.iter().copied().min().unwrap_or(0);
            let hi = data.iter().copied().max().unwrap_or(0);
            Arg {
                shape,
                range: Range::new(lo, hi),
                data,
            }
        })
        .collect();
    eval(op, &args, out_shape)
}

/// Runs `program` on `inputs` (one per program input, in order). Inputs must have the declared
/// shapes and lie in the declared ranges; everything after that is guaranteed by construction.
pub fn run<'p>(program: &'p Program, inputs: &[Tensor]) -> Result<Trace<'p>> {
    if inputs.len() != program.inputs.len() {
        return Err(IrError::InputCount {
            expected: program.inputs.len(),
            got: inputs.len(),
        });
    }
    let mut values: Vec<Vec<i64>> = vec![Vec::new(); program.tensors.len()];
    for (&id, t) in program.inputs.iter().zip(inputs) {
        let info = program.info(id);
        let expected_len: usize = info.shape.iter().product();
        if info.kind != TensorKind::Input || t.shape != info.shape || t.data.len() != expected_len {
            return Err(IrError::InputShape {
                name: info.name.clone(),
                expected: info.shape.clone(),
                got: t.shape.clone(),
            });
        }
        if let Some((index, &value)) = t
            .data
            .iter()
            .enumerate()
            .find(|(_, &v)| !info.range.contains(v))
        {
            return Err(IrError::InputRange {
                name: info.name.clone(),
                index,
                value,
                lo: info.range.lo,
                hi: info.range.hi,
            });
        }
        values[id.index()] = t.data.clone();
    }
    for node in &program.nodes {
        let args: Vec<Arg> = node
            .inputs
            .iter()
            .map(|&i| Arg {
                shape: &program.info(i).shape,
                range: program.info(i).range,
                data: match program.weight(i) {
                    Some(w) => w,
                    None => &values[i.index()],
                },
            })
            .collect();
        let out = &program.info(node.output).shape;
        let result = eval(&node.op, &args, out);
        values[node.output.index()] = result;
    }
    Ok(Trace { program, values })
}

/// One evaluated operand.
pub(crate) struct Arg<'a> {
    pub shape: &'a [usize],
    pub range: Range,
    pub data: &'a [i64],
}

/// Evaluates one op. Shapes and ranges were validated when the program was built.
pub(crate) fn eval(op: &Op, x: &[Arg], out_shape: &[usize]) -> Vec<i64> {
    match op {
        Op::MatMul => matmul(x, out_shape),
        Op::Conv { window, groups } => conv(x, window, *groups, out_shape),
        Op::Binary(kind) => {
            let f = match kind {
                BinaryKind::Add => |a: i64, b: i64| a + b,
                BinaryKind::Sub => |a: i64, b: i64| a - b,
                BinaryKind::Mul => |a: i64, b: i64| a * b,
                BinaryKind::Max => |a: i64, b: i64| a.max(b),
                BinaryKind::Min => |a: i64, b: i64| a.min(b),
            };
            binary(out_shape, &x[0], &x[1], f)
        }
        Op::Requant {
            mults,
            axis,
            shift,
            lo,
            hi,
        } => {
            let (lo, hi, shift) = (*lo, *hi, *shift);
            let inner: usize = match axis {
                Some(a) => x[0].shape[a + 1..].iter().product(),
                None => 1,
            };
            let n = mults.len();
            x[0].data
                .par_iter()
                .enumerate()
                .map(|(i, &v)| {
                    let m = if n == 1 {
                        mults[0]
                    } else {
                        mults[(i / inner) % n]
                    };
                    requant_one(v, m, shift).clamp(lo, hi)
                })
                .collect()
        }
        Op::Clamp { lo, hi } => x[0].data.iter().map(|v| (*v).clamp(*lo, *hi)).collect(),
        Op::Lookup(t) => x[0].data.iter().map(|&v| t.get(v)).collect(),
        Op::DivRound { shift } => binary(out_shape, &x[0], &x[1], |a, b| {
            div_round_wide(a as i128, b as i128, *shift) as i64
        }),
        Op::Sqrt => x[0].data.iter().map(|&v| isqrt(v)).collect(),
        Op::Where { cond_shape, cond } => {
            let oc = broadcast_offsets(out_shape, cond_shape);
            let oa = broadcast_offsets(out_shape, x[0].shape);
            let ob = broadcast_offsets(out_shape, x[1].shape);
            (0..oc.len())
                .map(|i| {
                    if cond[oc[i]] {
                        x[0].data[oa[i]]
                    } else {
                        x[1].data[ob[i]]
                    }
                })
                .collect()
        }
        Op::Reduce { kind, axes, .. } => reduce(&x[0], *kind, axes),
        Op::SumPool { window } => pool(&x[0], window, out_shape, true),
        Op::MaxPool { window } => pool(&x[0], window, out_shape, false),
        Op::Reshape { .. } => x[0].data.to_vec(),
        Op::Transpose { perm } => transpose(&x[0], perm),
        Op::Slice {
            starts,
            lens,
            steps,
        } => slice(&x[0], starts, lens, steps),
        Op::Concat { axis } => concat(x, *axis, out_shape),
        Op::Pad {
            begin,
            interior,
            value,
            ..
        } => pad(&x[0], begin, interior, *value, out_shape),
        Op::Gather { axis, indices, .. } => gather(&x[0], *axis, indices.iter().copied()),
        Op::GatherDynamic { axis } => gather(&x[0], *axis, x[1].data.iter().map(|&i| i as usize)),
    }
}

/// Requantization of one value: `floor((v * m + 2^(shift-1)) / 2^shift)`.
#[inline]
pub fn requant_one(v: i64, m: i64, shift: u32) -> i64 {
    if shift == 0 {
        v * m
    } else {
        (v * m + (1i64 << (shift - 1))) >> shift
    }
}

/// For each output element, the offset of the broadcast input element.
fn broadcast_offsets(out: &[usize], shape: &[usize]) -> Vec<usize> {
    let s = aligned_strides(out, shape);
    let n: usize = out.iter().product();
    let mut offs = Vec::with_capacity(n);
    odometer(out, |idx| {
        offs.push(idx.iter().zip(&s).map(|(i, st)| i * st).sum());
    });
    offs
}

/// Strides of `shape` aligned to the rank of `out`, zero along broadcast dimensions.
fn aligned_strides(out: &[usize], shape: &[usize]) -> Vec<usize> {
    let st = strides(shape);
    let lead = out.len() - shape.len();
    (0..out.len())
        .map(|i| {
            if i < lead || shape[i - lead] == 1 {
                0
            } else {
                st[i - lead]
            }
        })
        .collect()
}

/// Calls `f` with every multi-index of `shape` in row-major order (once, with `[]`, for rank 0).
/// Shared with the backends, which enumerate tensor indices the same way.
pub fn odometer(shape: &[usize], mut f: impl FnMut(&[usize])) {
    if shape.contains(&0) {
        return;
    }
    let mut idx = vec![0usize; shape.len()];
    loop {
        f(&idx);
        let mut d = shape.len();
        loop {
            if d == 0 {
                return;
            }
            d -= 1;
            idx[d] += 1;
            if idx[d] < shape[d] {
                break;
            }
            idx[d] = 0;
        }
    }
}

fn binary(out: &[usize], a: &Arg, b: &Arg, f: impl Fn(i64, i64) -> i64 + Sync) -> Vec<i64> {
    if a.shape == b.shape {
        return a
            .data
            .par_iter()
            .zip(b.data)
            .map(|(&p, &q)| f(p, q))
            .collect();
    }
    if b.data.len() == 1 {
        let q = b.data[0];
        return a.data.par_iter().map(|&p| f(p, q)).collect();
    }
    if a.data.len() == 1 {
        let p = a.data[0];
        return b.data.par_iter().map(|&q| f(p, q)).collect();
    }
    let n: usize = out.iter().product();
    let mut res = Vec::with_capacity(n);
    if out.is_empty() {
        return vec![f(a.data[0], b.data[0])];
    }
    let sa = aligned_strides(out, a.shape);
    let sb = aligned_strides(out, b.shape);
    let r = out.len() - 1;
    let inner = out[r];
    odometer(&out[..r], |idx| {
        let oa: usize = idx.iter().zip(&sa).map(|(i, s)| i * s).sum();
        let ob: usize = idx.iter().zip(&sb).map(|(i, s)| i * s).sum();
        for j in 0..inner {
            res.push(f(a.data[oa + j * sa[r]], b.data[ob + j * sb[r]]));
        }
    });
    res
}

/// Operand storage for the multiply-accumulate kernels: i32 when the range allows (faster
/// widening multiplies), i64 otherwise.
enum Packed<'a> {
    I32(Vec<i32>),
    I64(Cow<'a, [i64]>),
}

fn fits_i32(r: Range) -> bool {
    r.lo >= i32::MIN as i64 && r.hi <= i32::MAX as i64
}

fn pack(data: &[i64], r: Range) -> Packed<'_> {
    if fits_i32(r) {
        Packed::I32(data.iter().map(|&v| v as i32).collect())
    } else {
        Packed::I64(Cow::Borrowed(data))
    }
}

#[inline]
fn axpy32(out: &mut [i64], w: i64, x: &[i32]) {
    for (o, &v) in out.iter_mut().zip(x) {
        *o += w * v as i64;
    }
}

#[inline]
fn axpy64(out: &mut [i64], w: i64, x: &[i64]) {
    for (o, &v) in out.iter_mut().zip(x) {
        *o += w * v;
    }
}

impl Packed<'_> {
    #[inline]
    fn axpy(&self, out: &mut [i64], w: i64, from: usize) {
        match self {
            Packed::I32(x) => axpy32(out, w, &x[from..from + out.len()]),
            Packed::I64(x) => axpy64(out, w, &x[from..from + out.len()]),
        }
    }
}

fn matmul(x: &[Arg], out_shape: &[usize]) -> Vec<i64> {
    let (a, b) = (&x[0], &x[1]);
    let (ra, rb) = (a.shape.len(), b.shape.len());
    let (m, k) = (a.shape[ra - 2], a.shape[ra - 1]);
    let n = b.shape[rb - 1];
    let batch = &out_shape[..out_shape.len() - 2];
    let sa = aligned_strides(batch, &a.shape[..ra - 2]);
    let sb = aligned_strides(batch, &b.shape[..rb - 2]);
    let mut batch_offsets = Vec::new();
    odometer(batch, |idx| {
        let oa: usize = idx.iter().zip(&sa).map(|(i, s)| i * s).sum();
        let ob: usize = idx.iter().zip(&sb).map(|(i, s)| i * s).sum();
        batch_offsets.push((oa * m * k, ob * k * n));
    });
    let bp = pack(b.data, b.range);
    let mut out = vec![0i64; batch_offsets.len() * m * n];
    if n > 0 {
        out.par_chunks_mut(n).enumerate().for_each(|(row, o)| {
            let (oa, ob) = batch_offsets[row / m.max(1)];
            let arow = &a.data[oa + (row % m.max(1)) * k..][..k];
            for (kk, &av) in arow.iter().enumerate() {
                if av != 0 {
                    bp.axpy(o, av, ob + kk * n);
                }
            }
        });
    }
    if let Some(bias) = x.get(2) {
        let acc = Arg {
            shape: out_shape,
            range: Range::new(0, 0),
            data: &out,
        };
        return binary(out_shape, &acc, bias, |p, q| p + q);
    }
    out
}

fn conv(x: &[Arg], win: &Window, groups: usize, out_shape: &[usize]) -> Vec<i64> {
    let (inp, w) = (&x[0], &x[1]);
    let (nb, c, h, wd) = (inp.shape[0], inp.shape[1], inp.shape[2], inp.shape[3]);
    let (o, cg, kh, kw) = (w.shape[0], w.shape[1], w.shape[2], w.shape[3]);
    let (oh, ow) = (out_shape[2], out_shape[3]);
    let og = o / groups;
    let plane = oh * ow;
    let rows = cg * kh * kw;
    let direct =
        kh == 1 && kw == 1 && win.strides == [1, 1] && win.pads == [0; 4] && (oh, ow) == (h, wd);
    let xr = inp.range.union(&Range::new(0, 0));
    let mut out = vec![0i64; nb * o * plane];
    for n in 0..nb {
        let xs = &inp.data[n * c * h * wd..(n + 1) * c * h * wd];
        // Columns for all groups: row r = (channel, ky, kx), column = output position.
        let cols: Packed = if direct {
            pack(xs, xr)
        } else {
            let mut cols = vec![0i64; c * kh * kw * plane];
            cols.par_chunks_mut(kh * kw * plane)
                .enumerate()
                .for_each(|(ch, dst)| {
                    let src = &xs[ch * h * wd..(ch + 1) * h * wd];
                    for ky in 0..kh {
                        for kx in 0..kw {
                            let d = &mut dst[(ky * kw + kx) * plane..][..plane];
                            for y in 0..oh {
                                let iy = (y * win.strides[0] + ky * win.dilations[0]) as i64
                                    - win.pads[0] as i64;
                                if iy < 0 || iy >= h as i64 {
                                    continue;
                                }
                                let srow = &src[iy as usize * wd..][..wd];
                                for xx in 0..ow {
                                    let ix = (xx * win.strides[1] + kx * win.dilations[1]) as i64
                                        - win.pads[1] as i64;
                                    if ix >= 0 && ix < wd as i64 {
                                        d[y * ow + xx] = srow[ix as usize];
                                    }
                                }
                            }
                        }
                    }
                });
            if fits_i32(xr) {
                Packed::I32(cols.iter().map(|&v| v as i32).collect())
            } else {
                Packed::I64(Cow::Owned(cols))
            }
        };
        let outn = &mut out[n * o * plane..(n + 1) * o * plane];
        outn.par_chunks_mut(plane)
            .enumerate()
            .for_each(|(oc, dst)| {
                let g = oc / og;
                let wrow = &w.data[oc * rows..(oc + 1) * rows];
                for (r, &wv) in wrow.iter().enumerate() {
                    if wv != 0 {
                        cols.axpy(dst, wv, (g * rows + r) * plane);
                    }
                }
                if let Some(b) = x.get(2) {
                    let bv = b.data[oc];
                    dst.iter_mut().for_each(|v| *v += bv);
                }
            });
    }
    out
}

fn pool(x: &Arg, win: &Window, out_shape: &[usize], sum: bool) -> Vec<i64> {
    let (h, w) = (x.shape[2], x.shape[3]);
    let (oh, ow) = (out_shape[2], out_shape[3]);
    let mut out = vec![0i64; out_shape.iter().product()];
    if oh * ow == 0 {
        return out;
    }
    out.par_chunks_mut(oh * ow)
        .enumerate()
        .for_each(|(p, dst)| {
            let src = &x.data[p * h * w..(p + 1) * h * w];
            for y in 0..oh {
                for xx in 0..ow {
                    let mut acc: Option<i64> = None;
                    for ky in 0..win.kernel[0] {
                        let iy = (y * win.strides[0] + ky * win.dilations[0]) as i64
                            - win.pads[0] as i64;
                        if iy < 0 || iy >= h as i64 {
                            continue;
                        }
                        for kx in 0..win.kernel[1] {
                            let ix = (xx * win.strides[1] + kx * win.dilations[1]) as i64
                                - win.pads[1] as i64;
                            if ix < 0 || ix >= w as i64 {
                                continue;
                            }
                            let v = src[iy as usize * w + ix as usize];
                            acc = Some(match acc {
                                None => v,
                                Some(a) if sum => a + v,
                                Some(a) => a.max(v),
                            });
                        }
                    }
                    // Validation guarantees every max-pool window holds a real element; an
                    // all-padding sum window is 0.
                    dst[y * ow + xx] = acc.unwrap_or(0);
                }
            }
        });
    out
}

fn reduce(x: &Arg, kind: ReduceKind, axes: &[usize]) -> Vec<i64> {
    let shape = x.shape;
    // Output strides over the full-rank index, zero on reduced axes.
    let kept: Vec<usize> = shape
        .iter()
        .enumerate()
        .map(|(i, &d)| if axes.contains(&i) { 1 } else { d })
        .collect();
    let ks = strides(&kept);
    let os: Vec<usize> = (0..shape.len())
        .map(|i| if axes.contains(&i) { 0 } else { ks[i] })
        .collect();
    let n_out: usize = kept.iter().product();
    let init = match kind {
        ReduceKind::Sum => 0,
        ReduceKind::Max => i64::MIN,
        ReduceKind::Min => i64::MAX,
    };
    let mut out = vec![init; n_out];
    let mut flat = 0usize;
    odometer(shape, |idx| {
        let o: usize = idx.iter().zip(&os).map(|(i, s)| i * s).sum();
        let v = x.data[flat];
        out[o] = match kind {
            ReduceKind::Sum => out[o] + v,
            ReduceKind::Max => out[o].max(v),
            ReduceKind::Min => out[o].min(v),
        };
        flat += 1;
    });
    out
}

fn transpose(x: &Arg, perm: &[usize]) -> Vec<i64> {
    let st = strides(x.shape);
    let out_shape: Vec<usize> = perm.iter().map(|&p| x.shape[p]).collect();
    let ps: Vec<usize> = perm.iter().map(|&p| st[p]).collect();
    let mut out = Vec::with_capacity(x.data.len());
    odometer(&out_shape, |idx| {
        out.push(x.data[idx.iter().zip(&ps).map(|(i, s)| i * s).sum::<usize>()]);
    });
    out
}

fn slice(x: &Arg, starts: &[usize], lens: &[usize], steps: &[i64]) -> Vec<i64> {
    let st = strides(x.shape);
    let mut out = Vec::with_capacity(lens.iter().product());
    odometer(lens, |idx| {
        let off: i64 = idx
            .iter()
            .enumerate()
            .map(|(d, &i)| (starts[d] as i64 + i as i64 * steps[d]) * st[d] as i64)
            .sum();
        out.push(x.data[off as usize]);
    });
    out
}

fn concat(x: &[Arg], axis: usize, out_shape: &[usize]) -> Vec<i64> {
    let outer: usize = out_shape[..axis].iter().product();
    let mut out = Vec::with_capacity(out_shape.iter().product());
    for o in 0..outer {
        for a in x {
            let block: usize = a.shape[axis..].iter().product();
            out.extend_from_slice(&a.data[o * block..(o + 1) * block]);
        }
    }
    out
}

fn pad(x: &Arg, begin: &[usize], interior: &[usize], value: i64, out_shape: &[usize]) -> Vec<i64> {
    let mut out = vec![value; out_shape.iter().product()];
    let os = strides(out_shape);
    let mut flat = 0usize;
    odometer(x.shape, |idx| {
        let o: usize = idx
            .iter()
            .enumerate()
            .map(|(d, &i)| (begin[d] + i * (interior[d] + 1)) * os[d])
            .sum();
        out[o] = x.data[flat];
        flat += 1;
    });
    out
}

fn gather(x: &Arg, axis: usize, indices: impl Iterator<Item = usize>) -> Vec<i64> {
    let outer: usize = x.shape[..axis].iter().product();
    let dim = x.shape[axis];
    let inner: usize = x.shape[axis + 1..].iter().product();
    let idx: Vec<usize> = indices.collect();
    let mut out = Vec::with_capacity(outer * idx.len() * inner);
    for o in 0..outer {
        for &i in &idx {
            let from = (o * dim + i) * inner;
            out.extend_from_slice(&x.data[from..from + inner]);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apply_op_is_exact_beyond_i32() {
        // b holds values that do not fit i32: the kernels must not pack them.
        let a = [1i64, 2, 3, 4];
        let b = [1i64 << 40, -(1 << 35), 3, 5];
        let out = apply_op(&Op::MatMul, &[(&[2, 2], &a), (&[2, 2], &b)], &[2, 2]);
        let expect = vec![
            (1 << 40) + 2 * 3,
            -(1 << 35) + 2 * 5,
            3 * (1 << 40) + 4 * 3,
            -3 * (1 << 35) + 4 * 5,
        ];
        assert_eq!(out, expect);
        let win = Window {
            kernel: [1, 1],
            strides: [1, 1],
            pads: [0; 4],
            dilations: [1, 1],
        };
        let conv = Op::Conv {
            window: win,
            groups: 1,
        };
        let x = [1i64 << 33, -(1 << 34)];
        let out = apply_op(
            &conv,
            &[(&[1, 1, 1, 2], &x), (&[1, 1, 1, 1], &[3])],
            &[1, 1, 1, 2],
        );
        assert_eq!(out, vec![3 << 33, -3 << 34]);
        let pad = Op::Pad {
            begin: vec![1],
            end: vec![0],
            interior: vec![0],
            value: 9,
        };
        assert_eq!(apply_op(&pad, &[(&[2], &[5, 6])], &[3]), vec![9, 5, 6]);
    }
}
