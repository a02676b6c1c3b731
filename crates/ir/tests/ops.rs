//! Every op kind against a naive reference written here (nested loops over multi-indices), on
//! random programs and random inputs, plus the range-soundness property: every tensor of every
//! trace lies inside its derived range. Seeds are fixed, so failures reproduce.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use vouch_ir::interp;
use vouch_ir::{
    BinaryKind, LookupTable, Op, Program, ProgramBuilder, Range, ReduceKind, TableFn, Tensor,
    TensorId, Window,
};

/// One random program with a single output and the output a reference computed.
struct Case {
    program: Program,
    inputs: Vec<Tensor>,
    expected: Tensor,
}

struct Ctx<'r> {
    b: ProgramBuilder,
    inputs: Vec<Tensor>,
    rng: &'r mut Rng,
    names: usize,
}

impl<'r> Ctx<'r> {
    fn new(rng: &'r mut Rng) -> Self {
        Ctx {
            b: ProgramBuilder::new(),
            inputs: Vec::new(),
            rng,
            names: 0,
        }
    }

    fn name(&mut self) -> String {
        self.names += 1;
        format!("t{}", self.names)
    }

    fn input(&mut self, shape: &[usize], r: Range) -> (TensorId, Vec<i64>) {
        let data = self.rng.values(numel(shape), r);
        let name = self.name();
        let id = self.b.input(&name, shape.to_vec(), r, None).unwrap();
        self.inputs
            .push(Tensor::new(shape.to_vec(), data.clone()).unwrap());
        (id, data)
    }

    fn weight(&mut self, shape: &[usize], r: Range) -> (TensorId, Vec<i64>) {
        let data = self.rng.values(numel(shape), r);
        let name = self.name();
        let id = self
            .b
            .weight(&name, shape.to_vec(), data.clone(), None)
            .unwrap();
        (id, data)
    }

    /// An input or a weight, at random.
    fn operand(&mut self, shape: &[usize], r: Range) -> (TensorId, Vec<i64>) {
        if self.rng.chance(0.5) {
            self.input(shape, r)
        } else {
            self.weight(shape, r)
        }
    }

    fn node(&mut self, op: Op, inputs: &[TensorId]) -> TensorId {
        let name = self.name();
        match self.b.node(&name, op.clone(), inputs, None) {
            Ok(id) => id,
            Err(e) => panic!("builder rejected {op:?}: {e}"),
        }
    }

    fn finish(mut self, out: TensorId, shape: Vec<usize>, data: Vec<i64>) -> Case {
        self.b.output(out);
        Case {
            program: self.b.finish().unwrap(),
            inputs: self.inputs,
            expected: Tensor { shape, data },
        }
    }
}

/// Random dims in `lo..=hi`, occasionally one of them 0 when `zeros`.
fn dims(rng: &mut Rng, ranks: (usize, usize), lo: usize, hi: usize, zeros: bool) -> Vec<usize> {
    let rank = rng.usize(ranks.0, ranks.1);
    let mut d: Vec<usize> = (0..rank).map(|_| rng.usize(lo, hi)).collect();
    if zeros && rank > 0 && rng.chance(0.08) {
        let i = rng.usize(0, rank - 1);
        d[i] = 0;
    }
    d
}

/// A suffix of `out` with some dimensions replaced by 1 (broadcasts back to `out`).
fn sub_shape(rng: &mut Rng, out: &[usize]) -> Vec<usize> {
    let r = rng.usize(0, out.len());
    out[out.len() - r..]
        .iter()
        .map(|&d| if rng.chance(0.3) { 1 } else { d })
        .collect()
}

fn case(kind: &str, rng: &mut Rng) -> Case {
    match kind {
        "MatMul" => matmul_case(rng),
        "Conv" => conv_case(rng),
        "Add" => binary_case(rng, BinaryKind::Add),
        "Sub" => binary_case(rng, BinaryKind::Sub),
        "Mul" => binary_case(rng, BinaryKind::Mul),
        "Max" => binary_case(rng, BinaryKind::Max),
        "Min" => binary_case(rng, BinaryKind::Min),
        "Requant" => requant_case(rng),
        "Clamp" => clamp_case(rng),
        "Lookup" => lookup_case(rng),
        "DivRound" => div_round_case(rng),
        "Sqrt" => sqrt_case(rng),
        "Where" => where_case(rng),
        "ReduceSum" => reduce_case(rng, ReduceKind::Sum),
        "ReduceMax" => reduce_case(rng, ReduceKind::Max),
        "ReduceMin" => reduce_case(rng, ReduceKind::Min),
        "SumPool" => pool_case(rng, true),
        "MaxPool" => pool_case(rng, false),
        "Reshape" => reshape_case(rng),
        "Transpose" => transpose_case(rng),
        "Slice" => slice_case(rng),
        "Concat" => concat_case(rng),
        "Pad" => pad_case(rng),
        "Gather" => gather_case(rng, false),
        "GatherDynamic" => gather_case(rng, true),
        other => panic!("no reference test for op kind {other}: add one to tests/ops.rs"),
    }
}

/// Runs `n` random cases of `kind`: interpreter output == reference, and range soundness.
fn check_kind(kind: &str, seed: u64, n: usize) {
    let mut rng = Rng::new(seed);
    for i in 0..n {
        let c = case(kind, &mut rng);
        let last = c.program.nodes.last().unwrap();
        assert_eq!(
            last.op.name(),
            kind,
            "case generator for {kind} built {:?}",
            last.op
        );
        let trace = run_checked(&c.program, &c.inputs);
        let got = trace.outputs().remove(0);
        assert_eq!(
            got, c.expected,
            "{kind} case {i} differs from the reference\n{}",
            c.program
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Case generators with their naive references.

fn matmul_case(rng: &mut Rng) -> Case {
    let batch = dims(rng, (0, 2), 1, 3, false);
    let (m, n) = (rng.usize(1, 4), rng.usize(1, 4));
    let k = if rng.chance(0.08) { 0 } else { rng.usize(1, 6) };
    let mut ash = sub_shape(rng, &batch);
    ash.extend([m, k]);
    let mut bsh = sub_shape(rng, &batch);
    bsh.extend([k, n]);
    let ar = rng.range_in(-200, 200);
    let br = rng.range_in(-200, 200);
    let mut c = Ctx::new(rng);
    // Both run-time, constant right (weights), constant left, both constant.
    let variant = c.rng.usize(0, 3);
    let (a, ad) = if variant >= 2 {
        c.weight(&ash, ar)
    } else {
        c.input(&ash, ar)
    };
    let (b, bd) = if variant % 2 == 1 {
        c.weight(&bsh, br)
    } else {
        c.input(&bsh, br)
    };
    let out_batch = bshape(&ash[..ash.len() - 2], &bsh[..bsh.len() - 2]).unwrap();
    let mut out_shape = out_batch.clone();
    out_shape.extend([m, n]);
    let bias = if c.rng.chance(0.5) {
        let opts = [vec![n], vec![1], vec![m, n], vec![1, n], out_shape.clone()];
        let shape = c.rng.pick(&opts);
        let r = c.rng.range_in(-5000, 5000);
        Some((shape.clone(), c.operand(&shape, r)))
    } else {
        None
    };
    let mut ins = vec![a, b];
    if let Some((_, (id, _))) = &bias {
        ins.push(*id);
    }
    let y = c.node(Op::MatMul, &ins);
    let r = out_shape.len();
    let data = indices(&out_shape)
        .into_iter()
        .map(|idx| {
            let (i, j) = (idx[r - 2], idx[r - 1]);
            let mut s = 0i64;
            for kk in 0..k {
                let mut ia = idx[..r - 2].to_vec();
                ia.extend([i, kk]);
                let mut ib = idx[..r - 2].to_vec();
                ib.extend([kk, j]);
                s += bget(&ad, &ash, &ia) * bget(&bd, &bsh, &ib);
            }
            if let Some((shape, (_, data))) = &bias {
                s += bget(data, shape, &idx);
            }
            s
        })
        .collect();
    c.finish(y, out_shape, data)
}

fn conv_case(rng: &mut Rng) -> Case {
    let (groups, cg, og) = match rng.usize(0, 3) {
        0 => (1, rng.usize(1, 3), rng.usize(1, 3)),
        1 => (2, rng.usize(1, 2), rng.usize(1, 2)),
        2 => (3, 1, rng.usize(1, 2)),
        // Depthwise: one input channel per group, optional depth multiplier.
        _ => (rng.usize(2, 4), 1, rng.usize(1, 2)),
    };
    let (c_in, o) = (groups * cg, groups * og);
    let window = if rng.chance(0.15) {
        // 1x1, stride 1, no padding: the interpreter's direct path.
        win([1, 1], [1, 1], [0; 4], [rng.usize(1, 2), rng.usize(1, 2)])
    } else {
        win(
            [rng.usize(1, 3), rng.usize(1, 3)],
            [rng.usize(1, 2), rng.usize(1, 2)],
            [
                rng.usize(0, 2),
                rng.usize(0, 2),
                rng.usize(0, 2),
                rng.usize(0, 2),
            ],
            [rng.usize(1, 2), rng.usize(1, 2)],
        )
    };
    let (h, w) = loop {
        let (h, w) = (rng.usize(1, 7), rng.usize(1, 7));
        if window.output_hw(h, w).is_some() {
            break (h, w);
        }
    };
    let [oh, ow] = window.output_hw(h, w).unwrap();
    let nb = rng.usize(1, 2);
    let [kh, kw] = window.kernel;
    let xr = rng.range_in(-128, 127);
    let wr = rng.range_in(-128, 127);
    let mut c = Ctx::new(rng);
    let xs = [nb, c_in, h, w];
    let ws = [o, cg, kh, kw];
    let (x, xd) = c.input(&xs, xr);
    let (wt, wd) = c.operand(&ws, wr);
    let mut ins = vec![x, wt];
    let bias = if c.rng.chance(0.5) {
        let r = c.rng.range_in(-100_000, 100_000);
        let (id, d) = c.operand(&[o], r);
        ins.push(id);
        Some(d)
    } else {
        None
    };
    let y = c.node(
        Op::Conv {
            window: window.clone(),
            groups,
        },
        &ins,
    );
    let out_shape = vec![nb, o, oh, ow];
    let mut data = Vec::new();
    for n in 0..nb {
        for oc in 0..o {
            let g = oc / og;
            for oy in 0..oh {
                for ox in 0..ow {
                    let mut s = bias.as_ref().map_or(0, |b| b[oc]);
                    for ic in 0..cg {
                        for ky in 0..kh {
                            for kx in 0..kw {
                                let iy = (oy * window.strides[0] + ky * window.dilations[0]) as i64
                                    - window.pads[0] as i64;
                                let ix = (ox * window.strides[1] + kx * window.dilations[1]) as i64
                                    - window.pads[1] as i64;
                                if iy < 0 || ix < 0 || iy >= h as i64 || ix >= w as i64 {
                                    continue;
                                }
                                let xv =
                                    xd[ravel(&[n, g * cg + ic, iy as usize, ix as usize], &xs)];
                                s += xv * wd[ravel(&[oc, ic, ky, kx], &ws)];
                            }
                        }
                    }
                    data.push(s);
                }
            }
        }
    }
    c.finish(y, out_shape, data)
}

fn binary_case(rng: &mut Rng, kind: BinaryKind) -> Case {
    let out = dims(rng, (0, 3), 1, 3, true);
    let (ash, bsh) = (sub_shape(rng, &out), sub_shape(rng, &out));
    let ar = rng.range_in(-1_000_000, 1_000_000);
    let br = rng.range_in(-1_000_000, 1_000_000);
    let mut c = Ctx::new(rng);
    let (a, ad) = c.operand(&ash, ar);
    // `x * x` (one tensor twice) has its own, non-negative derived range.
    let (b, bd, bsh) = if kind == BinaryKind::Mul && c.rng.chance(0.3) {
        (a, ad.clone(), ash.clone())
    } else {
        let (b, bd) = c.operand(&bsh, br);
        (b, bd, bsh)
    };
    let y = c.node(Op::Binary(kind), &[a, b]);
    let shape = bshape(&ash, &bsh).unwrap();
    let f = |p: i64, q: i64| match kind {
        BinaryKind::Add => p + q,
        BinaryKind::Sub => p - q,
        BinaryKind::Mul => p * q,
        BinaryKind::Max => p.max(q),
        BinaryKind::Min => p.min(q),
    };
    let data = indices(&shape)
        .iter()
        .map(|i| f(bget(&ad, &ash, i), bget(&bd, &bsh, i)))
        .collect();
    c.finish(y, shape, data)
}

/// Reference requantization in i128: `clamp(floor((x*m + 2^(s-1)) / 2^s), lo, hi)`.
fn requant_ref(x: i64, m: i64, shift: u32, lo: i64, hi: i64) -> i64 {
    let p = x as i128 * m as i128;
    let q = if shift == 0 {
        p
    } else {
        (p + (1i128 << (shift - 1))).div_euclid(1i128 << shift)
    };
    q.clamp(lo as i128, hi as i128) as i64
}

fn requant_case(rng: &mut Rng) -> Case {
    let shape = dims(rng, (1, 3), 1, 4, true);
    let axis = if rng.chance(0.5) && shape.iter().all(|&d| d > 0) {
        Some(rng.usize(0, shape.len() - 1))
    } else {
        None
    };
    let nm = axis.map_or(1, |a| shape[a]);
    let mults: Vec<i64> = (0..nm).map(|_| rng.int(-(1 << 20), 1 << 20)).collect();
    let shift = rng.usize(0, 40) as u32;
    let xr = rng.range_in(-(1 << 30), 1 << 30);
    let (lo, hi) = match rng.usize(0, 3) {
        0 => (-128, 127),
        1 => (0, 255),
        2 => {
            let r = rng.range_in(-(1 << 40), 1 << 40);
            (r.lo, r.hi)
        }
        _ => (-(1 << 61), 1 << 61),
    };
    let mut c = Ctx::new(rng);
    let (x, xd) = c.input(&shape, xr);
    let y = c.node(
        Op::Requant {
            mults: mults.clone(),
            axis,
            shift,
            lo,
            hi,
        },
        &[x],
    );
    let data = indices(&shape)
        .iter()
        .map(|idx| {
            let m = axis.map_or(mults[0], |a| mults[idx[a]]);
            requant_ref(xd[ravel(idx, &shape)], m, shift, lo, hi)
        })
        .collect();
    c.finish(y, shape, data)
}

fn clamp_case(rng: &mut Rng) -> Case {
    let shape = dims(rng, (0, 3), 1, 4, true);
    let xr = rng.range_in(-1000, 1000);
    let cr = rng.range_in(-1200, 1200);
    let mut c = Ctx::new(rng);
    let (x, xd) = c.input(&shape, xr);
    let y = c.node(
        Op::Clamp {
            lo: cr.lo,
            hi: cr.hi,
        },
        &[x],
    );
    let data = xd.iter().map(|&v| v.max(cr.lo).min(cr.hi)).collect();
    c.finish(y, shape, data)
}

const TABLE_FNS: &[TableFn] = &[
    TableFn::Sigmoid,
    TableFn::Tanh,
    TableFn::Exp,
    TableFn::Log,
    TableFn::Sqrt,
    TableFn::Reciprocal,
    TableFn::Rsqrt,
    TableFn::Erf,
    TableFn::Gelu,
    TableFn::GeluTanh,
    TableFn::LeakyRelu { alpha: 0.1 },
    TableFn::Silu,
    TableFn::Softplus,
    TableFn::Identity,
];

fn lookup_case(rng: &mut Rng) -> Case {
    let shape = dims(rng, (0, 3), 1, 4, true);
    let domain = rng.range_in(-300, 300);
    let xr = rng.range_in(domain.lo, domain.hi);
    let table = if rng.chance(0.5) {
        // Stored entries are the semantics, whatever they are.
        let n = (domain.hi - domain.lo + 1) as usize;
        LookupTable {
            func: TableFn::Identity,
            in_scale: 1.0,
            out_scale: 1.0,
            domain,
            values: rng.values(n, Range::new(-(1 << 40), 1 << 40)),
        }
    } else {
        let f = rng.pick(TABLE_FNS);
        LookupTable::generate(
            f,
            domain,
            rng.float(0.001, 0.1),
            rng.float(0.001, 0.1),
            Range::new(-32768, 32767),
        )
    };
    let mut c = Ctx::new(rng);
    let (x, xd) = c.input(&shape, xr);
    let data = xd
        .iter()
        .map(|&v| table.values[(v - table.domain.lo) as usize])
        .collect();
    let y = c.node(Op::Lookup(table), &[x]);
    c.finish(y, shape, data)
}

/// Round half up of the exact rational `a * 2^shift / b` (b >= 1), via quotient and remainder.
fn div_round_ref(a: i64, b: i64, shift: u32) -> i64 {
    let num = (a as i128) << shift;
    let b = b as i128;
    let q = num.div_euclid(b);
    let r = num.rem_euclid(b);
    // a*2^s/b = q + r/b; round half up adds 1 exactly when r/b >= 1/2.
    (if 2 * r >= b { q + 1 } else { q }) as i64
}

fn div_round_case(rng: &mut Rng) -> Case {
    // No empty tensors: an empty constant divisor has range [0, 0], which is refused.
    let out = dims(rng, (0, 3), 1, 3, false);
    let (ash, bsh) = (sub_shape(rng, &out), sub_shape(rng, &out));
    let ar = rng.range_in(-1_000_000, 1_000_000);
    let br = rng.range_in(1, 1000);
    let shift = rng.usize(0, 16) as u32;
    let mut c = Ctx::new(rng);
    let (a, ad) = c.operand(&ash, ar);
    let (b, bd) = c.operand(&bsh, br);
    let y = c.node(Op::DivRound { shift }, &[a, b]);
    let shape = bshape(&ash, &bsh).unwrap();
    let data = indices(&shape)
        .iter()
        .map(|i| div_round_ref(bget(&ad, &ash, i), bget(&bd, &bsh, i), shift))
        .collect();
    c.finish(y, shape, data)
}

/// Largest r with r*r <= v, by binary search in i128.
fn isqrt_ref(v: i64) -> i64 {
    let (mut lo, mut hi) = (0i128, 1i128 << 32);
    while lo < hi {
        let mid = (lo + hi + 1) / 2;
        if mid * mid <= v as i128 {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    lo as i64
}

fn sqrt_case(rng: &mut Rng) -> Case {
    let shape = dims(rng, (0, 3), 1, 4, true);
    let top = rng.pick(&[100i64, 1_000_000, 1 << 40, (1 << 62) - 1]);
    let xr = rng.range_in(0, top);
    let mut c = Ctx::new(rng);
    let (x, xd) = c.input(&shape, xr);
    let y = c.node(Op::Sqrt, &[x]);
    let data = xd.iter().map(|&v| isqrt_ref(v)).collect();
    c.finish(y, shape, data)
}

fn where_case(rng: &mut Rng) -> Case {
    let out = dims(rng, (0, 3), 1, 3, true);
    let (csh, ash, bsh) = (
        sub_shape(rng, &out),
        sub_shape(rng, &out),
        sub_shape(rng, &out),
    );
    let cond: Vec<bool> = (0..numel(&csh)).map(|_| rng.chance(0.5)).collect();
    let ar = rng.range_in(-1000, 1000);
    let br = rng.range_in(-1000, 1000);
    let mut c = Ctx::new(rng);
    let (a, ad) = c.operand(&ash, ar);
    let (b, bd) = c.operand(&bsh, br);
    let y = c.node(
        Op::Where {
            cond_shape: csh.clone(),
            cond: cond.clone(),
        },
        &[a, b],
    );
    let shape = bshape(&bshape(&csh, &ash).unwrap(), &bsh).unwrap();
    let cv: Vec<i64> = cond.iter().map(|&b| b as i64).collect();
    let data = indices(&shape)
        .iter()
        .map(|i| {
            if bget(&cv, &csh, i) == 1 {
                bget(&ad, &ash, i)
            } else {
                bget(&bd, &bsh, i)
            }
        })
        .collect();
    c.finish(y, shape, data)
}

fn reduce_case(rng: &mut Rng, kind: ReduceKind) -> Case {
    let rank = rng.usize(1, 4);
    let shape = dims(rng, (rank, rank), 1, 3, kind == ReduceKind::Sum);
    let mut axes: Vec<usize> = (0..rank).filter(|_| rng.chance(0.5)).collect();
    rng.shuffle(&mut axes);
    let keep_dims = rng.chance(0.5);
    let xr = rng.range_in(-1000, 1000);
    let mut c = Ctx::new(rng);
    let (x, xd) = c.operand(&shape, xr);
    let y = c.node(
        Op::Reduce {
            kind,
            axes: axes.clone(),
            keep_dims,
        },
        &[x],
    );
    let kept: Vec<usize> = (0..rank)
        .map(|i| if axes.contains(&i) { 1 } else { shape[i] })
        .collect();
    let init = match kind {
        ReduceKind::Sum => 0,
        ReduceKind::Max => i64::MIN,
        ReduceKind::Min => i64::MAX,
    };
    let mut data = vec![init; numel(&kept)];
    for idx in indices(&shape) {
        let k: Vec<usize> = (0..rank)
            .map(|i| if axes.contains(&i) { 0 } else { idx[i] })
            .collect();
        let o = &mut data[ravel(&k, &kept)];
        let v = xd[ravel(&idx, &shape)];
        *o = match kind {
            ReduceKind::Sum => *o + v,
            ReduceKind::Max => (*o).max(v),
            ReduceKind::Min => (*o).min(v),
        };
    }
    let out_shape: Vec<usize> = if keep_dims {
        kept
    } else {
        (0..rank)
            .filter(|i| !axes.contains(i))
            .map(|i| shape[i])
            .collect()
    };
    c.finish(y, out_shape, data)
}

/// Reference pooling; `None` when some max-pool window holds no real element.
fn pool_ref(xd: &[i64], xs: &[usize], w: &Window, sum: bool) -> Option<(Vec<usize>, Vec<i64>)> {
    let [oh, ow] = w.output_hw(xs[2], xs[3])?;
    let mut data = Vec::new();
    for n in 0..xs[0] {
        for ch in 0..xs[1] {
            for oy in 0..oh {
                for ox in 0..ow {
                    let mut vals = Vec::new();
                    for ky in 0..w.kernel[0] {
                        for kx in 0..w.kernel[1] {
                            let iy =
                                (oy * w.strides[0] + ky * w.dilations[0]) as i64 - w.pads[0] as i64;
                            let ix =
                                (ox * w.strides[1] + kx * w.dilations[1]) as i64 - w.pads[1] as i64;
                            if iy >= 0 && ix >= 0 && iy < xs[2] as i64 && ix < xs[3] as i64 {
                                vals.push(xd[ravel(&[n, ch, iy as usize, ix as usize], xs)]);
                            }
                        }
                    }
                    // SumPool: padding contributes zeros. MaxPool: padding is ignored.
                    data.push(if sum {
                        vals.iter().sum()
                    } else {
                        *vals.iter().max()?
                    });
                }
            }
        }
    }
    Some((vec![xs[0], xs[1], oh, ow], data))
}

fn pool_case(rng: &mut Rng, sum: bool) -> Case {
    loop {
        let w = win(
            [rng.usize(1, 3), rng.usize(1, 3)],
            [rng.usize(1, 3), rng.usize(1, 3)],
            [
                rng.usize(0, 2),
                rng.usize(0, 2),
                rng.usize(0, 2),
                rng.usize(0, 2),
            ],
            [rng.usize(1, 2), rng.usize(1, 2)],
        );
        let xs = [
            rng.usize(1, 2),
            rng.usize(1, 3),
            rng.usize(1, 6),
            rng.usize(1, 6),
        ];
        if w.output_hw(xs[2], xs[3]).is_none() {
            continue;
        }
        let xr = rng.range_in(-1000, 1000);
        let mut c = Ctx::new(rng);
        let (x, xd) = c.input(&xs, xr);
        let op = if sum {
            Op::SumPool { window: w.clone() }
        } else {
            Op::MaxPool { window: w.clone() }
        };
        match pool_ref(&xd, &xs, &w, sum) {
            Some((shape, data)) => {
                let y = c.node(op, &[x]);
                return c.finish(y, shape, data);
            }
            None => {
                // Some window lies entirely in the padding: the builder must refuse it.
                let err = c.b.node("pool", op, &[x], None).unwrap_err();
                assert!(matches!(err, vouch_ir::IrError::Node { .. }), "{err}");
            }
        }
    }
}

fn reshape_case(rng: &mut Rng) -> Case {
    let shape = dims(rng, (0, 4), 1, 4, true);
    // Shuffle the dims, merge neighbours at random and sprinkle in 1s: same element count.
    let mut d = shape.clone();
    rng.shuffle(&mut d);
    let mut target: Vec<usize> = Vec::new();
    for v in d {
        match target.last_mut() {
            Some(t) if rng.chance(0.4) => *t *= v,
            _ => target.push(v),
        }
        if rng.chance(0.2) {
            target.push(1);
        }
    }
    let xr = rng.range_in(-1000, 1000);
    let mut c = Ctx::new(rng);
    let (x, xd) = c.operand(&shape, xr);
    let y = c.node(
        Op::Reshape {
            shape: target.clone(),
        },
        &[x],
    );
    c.finish(y, target, xd)
}

fn transpose_case(rng: &mut Rng) -> Case {
    let rank = rng.usize(0, 4);
    let shape = dims(rng, (rank, rank), 1, 4, true);
    let mut perm: Vec<usize> = (0..rank).collect();
    rng.shuffle(&mut perm);
    let xr = rng.range_in(-1000, 1000);
    let mut c = Ctx::new(rng);
    let (x, xd) = c.operand(&shape, xr);
    let y = c.node(Op::Transpose { perm: perm.clone() }, &[x]);
    let out_shape: Vec<usize> = perm.iter().map(|&p| shape[p]).collect();
    let data = indices(&out_shape)
        .iter()
        .map(|o| {
            // Output axis d is input axis perm[d].
            let mut i = vec![0; rank];
            for (d, &p) in perm.iter().enumerate() {
                i[p] = o[d];
            }
            xd[ravel(&i, &shape)]
        })
        .collect();
    c.finish(y, out_shape, data)
}

fn slice_case(rng: &mut Rng) -> Case {
    let rank = rng.usize(0, 4);
    let shape = dims(rng, (rank, rank), 1, 6, false);
    let (mut starts, mut lens, mut steps) = (vec![], vec![], vec![]);
    for &d in &shape {
        let step = rng.pick(&[-3i64, -2, -1, 1, 2, 3]);
        let start = rng.usize(0, d - 1);
        let max_len = if step > 0 {
            (d - 1 - start) / step as usize + 1
        } else {
            start / (-step) as usize + 1
        };
        starts.push(start);
        lens.push(rng.usize(0, max_len));
        steps.push(step);
    }
    let xr = rng.range_in(-1000, 1000);
    let mut c = Ctx::new(rng);
    let (x, xd) = c.operand(&shape, xr);
    let y = c.node(
        Op::Slice {
            starts: starts.clone(),
            lens: lens.clone(),
            steps: steps.clone(),
        },
        &[x],
    );
    let data = indices(&lens)
        .iter()
        .map(|o| {
            let i: Vec<usize> = (0..rank)
                .map(|d| (starts[d] as i64 + o[d] as i64 * steps[d]) as usize)
                .collect();
            xd[ravel(&i, &shape)]
        })
        .collect();
    c.finish(y, lens, data)
}

fn concat_case(rng: &mut Rng) -> Case {
    let rank = rng.usize(1, 3);
    let base = dims(rng, (rank, rank), 1, 3, true);
    let axis = rng.usize(0, rank - 1);
    let count = rng.usize(1, 4);
    let mut c = Ctx::new(rng);
    let mut parts = Vec::new();
    for _ in 0..count {
        let mut s = base.clone();
        s[axis] = c.rng.usize(0, 3);
        let r = c.rng.range_in(-1000, 1000);
        let (id, d) = c.operand(&s, r);
        parts.push((id, s, d));
    }
    let ids: Vec<TensorId> = parts.iter().map(|p| p.0).collect();
    let y = c.node(Op::Concat { axis }, &ids);
    let mut out_shape = base.clone();
    out_shape[axis] = parts.iter().map(|p| p.1[axis]).sum();
    let data = indices(&out_shape)
        .iter()
        .map(|o| {
            let mut pos = o[axis];
            for (_, s, d) in &parts {
                if pos < s[axis] {
                    let mut i = o.clone();
                    i[axis] = pos;
                    return d[ravel(&i, s)];
                }
                pos -= s[axis];
            }
            unreachable!()
        })
        .collect();
    c.finish(y, out_shape, data)
}

fn pad_case(rng: &mut Rng) -> Case {
    let rank = rng.usize(0, 3);
    let shape = dims(rng, (rank, rank), 1, 3, true);
    let begin: Vec<usize> = (0..rank).map(|_| rng.usize(0, 2)).collect();
    let end: Vec<usize> = (0..rank).map(|_| rng.usize(0, 2)).collect();
    let interior: Vec<usize> = (0..rank).map(|_| rng.usize(0, 2)).collect();
    let value = rng.int(-50, 50);
    let xr = rng.range_in(-1000, 1000);
    let mut c = Ctx::new(rng);
    let (x, xd) = c.operand(&shape, xr);
    let y = c.node(
        Op::Pad {
            begin: begin.clone(),
            end: end.clone(),
            interior: interior.clone(),
            value,
        },
        &[x],
    );
    let out_shape: Vec<usize> = (0..rank)
        .map(|d| {
            let inner = if shape[d] == 0 {
                0
            } else {
                shape[d] + (shape[d] - 1) * interior[d]
            };
            begin[d] + inner + end[d]
        })
        .collect();
    let data = indices(&out_shape)
        .iter()
        .map(|o| {
            let mut i = Vec::new();
            for d in 0..rank {
                let p = o[d] as i64 - begin[d] as i64;
                let step = interior[d] as i64 + 1;
                if p < 0 || p % step != 0 || p / step >= shape[d] as i64 {
                    return value;
                }
                i.push((p / step) as usize);
            }
            xd[ravel(&i, &shape)]
        })
        .collect();
    c.finish(y, out_shape, data)
}

fn gather_case(rng: &mut Rng, dynamic: bool) -> Case {
    let rank = rng.usize(1, 3);
    let shape = dims(rng, (rank, rank), 1, 4, false);
    let axis = rng.usize(0, rank - 1);
    let ish = dims(rng, (0, 2), 0, 3, false);
    let dim = shape[axis] as i64;
    let xr = rng.range_in(-1000, 1000);
    let mut c = Ctx::new(rng);
    let (x, xd) = c.operand(&shape, xr);
    let (y, idx): (TensorId, Vec<i64>) = if dynamic {
        let r = c.rng.range_in(0, dim - 1);
        let (ids, d) = c.operand(&ish, r);
        (c.node(Op::GatherDynamic { axis }, &[x, ids]), d)
    } else {
        let idx: Vec<i64> = (0..numel(&ish)).map(|_| c.rng.int(0, dim - 1)).collect();
        let op = Op::Gather {
            axis,
            indices_shape: ish.clone(),
            indices: idx.iter().map(|&i| i as usize).collect(),
        };
        (c.node(op, &[x]), idx)
    };
    let mut out_shape = shape[..axis].to_vec();
    out_shape.extend(&ish);
    out_shape.extend(&shape[axis + 1..]);
    let data = indices(&out_shape)
        .iter()
        .map(|o| {
            let pre = &o[..axis];
            let mid = &o[axis..axis + ish.len()];
            let post = &o[axis + ish.len()..];
            let mut i = pre.to_vec();
            i.push(idx[ravel(mid, &ish)] as usize);
            i.extend(post);
            xd[ravel(&i, &shape)]
        })
        .collect();
    c.finish(y, out_shape, data)
}

// ---------------------------------------------------------------------------------------------
// Tests.

#[test]
fn every_kind_has_a_reference_case() {
    // `case` panics on a kind without a generator, so a new op cannot go untested.
    for (i, kind) in Op::KINDS.iter().enumerate() {
        check_kind(kind, 1000 + i as u64, 3);
    }
}

macro_rules! kind_tests {
    ($($test:ident => $kind:literal, $n:expr;)*) => {
        $(
            #[test]
            fn $test() {
                check_kind($kind, fxhash($kind), $n);
            }
        )*
    };
}

/// Stable per-kind seed.
fn fxhash(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
    })
}

kind_tests! {
    matmul => "MatMul", 1000;
    conv => "Conv", 600;
    add => "Add", 600;
    sub => "Sub", 600;
    mul => "Mul", 600;
    max => "Max", 600;
    min => "Min", 600;
    requant => "Requant", 900;
    clamp => "Clamp", 600;
    lookup => "Lookup", 300;
    div_round => "DivRound", 900;
    sqrt => "Sqrt", 600;
    where_ => "Where", 600;
    reduce_sum => "ReduceSum", 900;
    reduce_max => "ReduceMax", 900;
    reduce_min => "ReduceMin", 900;
    sum_pool => "SumPool", 900;
    max_pool => "MaxPool", 900;
    reshape => "Reshape", 600;
    transpose => "Transpose", 600;
    slice => "Slice", 900;
    concat => "Concat", 600;
    pad => "Pad", 900;
    gather => "Gather", 600;
    gather_dynamic => "GatherDynamic", 600;
}

#[test]
fn max_pool_without_padding_is_accepted() {
    // The common 2x2 / stride 2 pooling: every window is fully inside the input.
    let mut b = ProgramBuilder::new();
    let x = b
        .input("x", vec![1, 1, 4, 4], Range::new(-5, 5), None)
        .unwrap();
    let y = b
        .node(
            "mp",
            Op::MaxPool {
                window: win([2, 2], [2, 2], [0; 4], [1, 1]),
            },
            &[x],
            None,
        )
        .unwrap();
    b.output(y);
    let p = b.finish().unwrap();
    let data: Vec<i64> = (0..16).map(|v| (v * 7) % 11 - 5).collect();
    let t = run_checked(&p, &[Tensor::new(vec![1, 1, 4, 4], data.clone()).unwrap()]);
    let out = &t.outputs()[0];
    assert_eq!(out.shape, vec![1, 1, 2, 2]);
    let expect: Vec<i64> = [(0, 0), (0, 2), (2, 0), (2, 2)]
        .iter()
        .map(|&(y, x)| {
            [(0, 0), (0, 1), (1, 0), (1, 1)]
                .iter()
                .map(|&(dy, dx)| data[(y + dy) * 4 + x + dx])
                .max()
                .unwrap()
        })
        .collect();
    assert_eq!(out.data, expect);
}

#[test]
fn every_op_program_is_range_sound() {
    let p = every_op_program();
    let mut rng = Rng::new(7);
    for _ in 0..200 {
        run_checked(&p, &every_op_inputs(&mut rng));
    }
    // Every kind appears in the kitchen-sink program used by the codec tests.
    for kind in Op::KINDS {
        assert!(
            p.nodes.iter().any(|n| n.op.name() == *kind),
            "every_op_program lacks {kind}"
        );
    }
}

#[test]
fn extreme_ranges_stay_sound() {
    // Inputs at the edges of large declared ranges, through ops whose bounds are tight.
    let mut rng = Rng::new(99);
    for _ in 0..200 {
        let big = rng.int(1 << 20, 1 << 30);
        let mut b = ProgramBuilder::new();
        let x = b
            .input("x", vec![2, 3], Range::new(-big, big), None)
            .unwrap();
        let wd: Vec<i64> = rng.values(12, Range::new(-(1 << 20), 1 << 20));
        let w = b.weight("w", vec![3, 4], wd, None).unwrap();
        let mm = b.node("mm", Op::MatMul, &[x, w], None).unwrap();
        let s = b
            .node(
                "sum",
                Op::Reduce {
                    kind: ReduceKind::Sum,
                    axes: vec![0, 1],
                    keep_dims: false,
                },
                &[mm],
                None,
            )
            .unwrap();
        let sq = b
            .node("sq", Op::Binary(BinaryKind::Mul), &[x, x], None)
            .unwrap();
        // Interval arithmetic does not know x*x >= 0; a clamp tells it.
        let nn = b
            .node("nonneg", Op::Clamp { lo: 0, hi: 1 << 61 }, &[sq], None)
            .unwrap();
        let rt = b.node("rt", Op::Sqrt, &[nn], None).unwrap();
        // A tensor times itself is known to be non-negative: no clamp needed.
        let rt2 = b.node("rt2", Op::Sqrt, &[sq], None).unwrap();
        assert!(p_range_nonneg(&b, sq));
        b.output(s);
        b.output(rt);
        b.output(rt2);
        let p = b.finish().unwrap();
        let xs = Tensor::new(vec![2, 3], rng.values(6, Range::new(-big, big))).unwrap();
        let t = run_checked(&p, std::slice::from_ref(&xs));
        // sqrt(x^2) = |x| exactly.
        let abs: Vec<i64> = xs.data.iter().map(|v| v.abs()).collect();
        assert_eq!(t.outputs()[1].data, abs);
        assert_eq!(t.outputs()[2].data, abs);
    }
}

fn p_range_nonneg(b: &ProgramBuilder, id: TensorId) -> bool {
    b.info(id).range.lo >= 0
}

fn conv_matmul_program(rng: &mut Rng) -> Program {
    let mut b = ProgramBuilder::new();
    let x = b
        .input("x", vec![2, 8, 24, 24], Range::new(-128, 127), None)
        .unwrap();
    let w = b
        .weight(
            "w",
            vec![16, 8, 3, 3],
            rng.values(16 * 8 * 9, Range::new(-128, 127)),
            None,
        )
        .unwrap();
    let bias = b
        .weight("b", vec![16], rng.values(16, Range::new(-5000, 5000)), None)
        .unwrap();
    let c = b
        .node(
            "conv",
            Op::Conv {
                window: win([3, 3], [1, 1], [1, 1, 1, 1], [1, 1]),
                groups: 1,
            },
            &[x, w, bias],
            None,
        )
        .unwrap();
    let r = b
        .node(
            "rq",
            Op::Requant {
                mults: vec![77],
                axis: None,
                shift: 14,
                lo: -128,
                hi: 127,
            },
            &[c],
            None,
        )
        .unwrap();
    let f = b
        .node(
            "flat",
            Op::Reshape {
                shape: vec![2, 16 * 24 * 24],
            },
            &[r],
            None,
        )
        .unwrap();
    let fw = b
        .weight(
            "fc",
            vec![16 * 24 * 24, 10],
            rng.values(16 * 24 * 24 * 10, Range::new(-128, 127)),
            None,
        )
        .unwrap();
    let y = b.node("fc", Op::MatMul, &[f, fw], None).unwrap();
    b.output(y);
    b.finish().unwrap()
}

#[test]
fn interpreter_is_deterministic_under_rayon() {
    let mut rng = Rng::new(2024);
    let p = conv_matmul_program(&mut rng);
    let x = Tensor::new(
        vec![2, 8, 24, 24],
        rng.values(2 * 8 * 24 * 24, Range::new(-128, 127)),
    )
    .unwrap();
    let snapshot = |t: &interp::Trace| -> Vec<Vec<i64>> {
        (0..p.tensors.len())
            .map(|i| t.get(TensorId(i as u32)).to_vec())
            .collect()
    };
    let reference = snapshot(&run_checked(&p, std::slice::from_ref(&x)));
    for threads in [1, 2, 4, 7] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        for _ in 0..2 {
            let again =
                pool.install(|| snapshot(&interp::run(&p, std::slice::from_ref(&x)).unwrap()));
            assert!(again == reference, "trace differs with {threads} threads");
        }
    }
}
