//! Helpers shared by the integration tests: a seeded RNG, naive row-major indexing, and a
//! checked interpreter run that asserts range soundness for every tensor of the trace.
#![allow(dead_code, clippy::unwrap_used)]

use vouch_ir::interp::{self, Trace};
use vouch_ir::{
    BinaryKind, LookupTable, Op, Program, ProgramBuilder, Range, ReduceKind, TableFn, Tensor,
    TensorId, Window,
};

/// SplitMix64: small, seeded, reproducible.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed ^ 0x5DEE_CE66_D1CE_4E5B)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `lo..=hi`.
    pub fn int(&mut self, lo: i64, hi: i64) -> i64 {
        assert!(lo <= hi);
        let width = (hi as i128 - lo as i128 + 1) as u128;
        (lo as i128 + (self.next_u64() as u128 % width) as i128) as i64
    }

    /// Uniform in `lo..=hi`.
    pub fn usize(&mut self, lo: usize, hi: usize) -> usize {
        self.int(lo as i64, hi as i64) as usize
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.float(0.0, 1.0) < p
    }

    pub fn pick<T: Clone>(&mut self, items: &[T]) -> T {
        items[self.usize(0, items.len() - 1)].clone()
    }

    /// Uniform in `[lo, hi)`.
    pub fn float(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * ((self.next_u64() >> 11) as f64 / (1u64 << 53) as f64)
    }

    /// A value in `r`, hitting the endpoints often (they are where ranges break).
    pub fn value(&mut self, r: Range) -> i64 {
        match self.usize(0, 9) {
            0 => r.lo,
            1 => r.hi,
            _ => self.int(r.lo, r.hi),
        }
    }

    pub fn values(&mut self, n: usize, r: Range) -> Vec<i64> {
        (0..n).map(|_| self.value(r)).collect()
    }

    /// A random non-empty range inside `[lo, hi]`.
    pub fn range_in(&mut self, lo: i64, hi: i64) -> Range {
        let a = self.int(lo, hi);
        let b = self.int(lo, hi);
        Range::new(a.min(b), a.max(b))
    }

    pub fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = self.usize(0, i);
            v.swap(i, j);
        }
    }
}

pub fn numel(shape: &[usize]) -> usize {
    shape.iter().product()
}

/// Row-major flat index of a multi-index.
pub fn ravel(idx: &[usize], shape: &[usize]) -> usize {
    assert_eq!(idx.len(), shape.len());
    idx.iter().zip(shape).fold(0, |acc, (&i, &d)| {
        assert!(i < d, "index {idx:?} outside shape {shape:?}");
        acc * d + i
    })
}

/// Every multi-index of `shape` in row-major order (one empty index for rank 0).
pub fn indices(shape: &[usize]) -> Vec<Vec<usize>> {
    let mut out = vec![vec![]];
    for &d in shape {
        out = out
            .into_iter()
            .flat_map(|p| {
                (0..d).map(move |i| {
                    let mut q = p.clone();
                    q.push(i);
                    q
                })
            })
            .collect();
    }
    out
}

/// Numpy broadcast of two shapes, written independently of the crate's.
pub fn bshape(a: &[usize], b: &[usize]) -> Option<Vec<usize>> {
    let r = a.len().max(b.len());
    let get = |s: &[usize], i: usize| -> usize {
        if i < r - s.len() {
            1
        } else {
            s[i - (r - s.len())]
        }
    };
    (0..r)
        .map(|i| {
            let (x, y) = (get(a, i), get(b, i));
            if x == y || y == 1 {
                Some(x)
            } else if x == 1 {
                Some(y)
            } else {
                None
            }
        })
        .collect()
}

/// Element of a tensor of `shape` broadcast to an output multi-index `out_idx`.
pub fn bget(data: &[i64], shape: &[usize], out_idx: &[usize]) -> i64 {
    let lead = out_idx.len() - shape.len();
    let idx: Vec<usize> = shape
        .iter()
        .enumerate()
        .map(|(i, &d)| if d == 1 { 0 } else { out_idx[lead + i] })
        .collect();
    data[ravel(&idx, shape)]
}

/// Runs the interpreter and asserts the range-soundness property for every tensor of the
/// trace: right length, every value inside the derived (or declared) range and inside +-2^62.
pub fn run_checked<'p>(p: &'p Program, inputs: &[Tensor]) -> Trace<'p> {
    let trace = interp::run(p, inputs).unwrap();
    for (i, info) in p.tensors.iter().enumerate() {
        let id = TensorId(i as u32);
        let data = trace.get(id);
        assert_eq!(
            data.len(),
            numel(&info.shape),
            "tensor {} length",
            info.name
        );
        assert!(
            info.range.lo <= info.range.hi || data.is_empty(),
            "tensor {} has empty range",
            info.name
        );
        assert!(
            info.range.abs_max() < 1 << 62,
            "tensor {} range exceeds 2^62",
            info.name
        );
        if let Some((j, v)) = data
            .iter()
            .enumerate()
            .find(|(_, v)| !info.range.contains(**v))
        {
            panic!(
                "range soundness: tensor {} ({:?}) element {j} = {v} outside derived range [{}, {}]\n{p}",
                info.name, info.kind, info.range.lo, info.range.hi
            );
        }
    }
    trace
}

pub fn win(
    kernel: [usize; 2],
    strides: [usize; 2],
    pads: [usize; 4],
    dilations: [usize; 2],
) -> Window {
    Window {
        kernel,
        strides,
        pads,
        dilations,
    }
}

/// A small program that uses every op kind at least once (for codec and digest tests).
pub fn every_op_program() -> Program {
    let mut b = ProgramBuilder::new();
    let x = b
        .input("x", vec![1, 2, 4, 4], Range::new(-8, 7), Some(0.05))
        .unwrap();
    let w = b
        .weight(
            "conv.w",
            vec![2, 1, 3, 3],
            (0..18).map(|i| (i % 7) - 3).collect(),
            Some(0.01),
        )
        .unwrap();
    let cb = b
        .weight("conv.b", vec![2], vec![300, -40_000], None)
        .unwrap();
    let c = b
        .node(
            "conv",
            Op::Conv {
                window: win([3, 3], [1, 1], [1, 1, 1, 1], [1, 1]),
                groups: 2,
            },
            &[x, w, cb],
            None,
        )
        .unwrap();
    let rq = b
        .node(
            "requant",
            Op::Requant {
                mults: vec![3, -5],
                axis: Some(1),
                shift: 8,
                lo: -128,
                hi: 127,
            },
            &[c],
            Some(0.1),
        )
        .unwrap();
    let cl = b
        .node("clamp", Op::Clamp { lo: -100, hi: 100 }, &[rq], None)
        .unwrap();
    let table = LookupTable {
        func: TableFn::Tanh,
        in_scale: 0.1,
        out_scale: 1.0 / 127.0,
        domain: Range::new(-100, 100),
        values: (-100i64..=100).map(|v| v / 2).collect(),
    };
    let lk = b.node("lookup", Op::Lookup(table), &[cl], None).unwrap();
    let sp = b
        .node(
            "sumpool",
            Op::SumPool {
                window: win([2, 2], [2, 2], [0, 0, 1, 1], [1, 1]),
            },
            &[lk],
            None,
        )
        .unwrap();
    let mp = b
        .node(
            "maxpool",
            Op::MaxPool {
                window: win([2, 2], [2, 2], [0; 4], [1, 1]),
            },
            &[lk],
            None,
        )
        .unwrap();
    let add = b
        .node("add", Op::Binary(BinaryKind::Add), &[sp, mp], None)
        .unwrap();
    let sub = b
        .node("sub", Op::Binary(BinaryKind::Sub), &[add, mp], None)
        .unwrap();
    let mul = b
        .node("mul", Op::Binary(BinaryKind::Mul), &[sub, mp], None)
        .unwrap();
    let mx = b
        .node("max", Op::Binary(BinaryKind::Max), &[mul, sp], None)
        .unwrap();
    let mn = b
        .node("min", Op::Binary(BinaryKind::Min), &[mx, sp], None)
        .unwrap();
    let rs = b
        .node("reshape", Op::Reshape { shape: vec![2, 4] }, &[mn], None)
        .unwrap();
    let tr = b
        .node("transpose", Op::Transpose { perm: vec![1, 0] }, &[rs], None)
        .unwrap();
    let mw = b
        .weight("fc.w", vec![2, 3], vec![1, -1, 200, 7, 0, -70_000], None)
        .unwrap();
    let mm = b.node("matmul", Op::MatMul, &[tr, mw], None).unwrap();
    let sl = b
        .node(
            "slice",
            Op::Slice {
                starts: vec![3, 2],
                lens: vec![2, 2],
                steps: vec![-2, -1],
            },
            &[mm],
            None,
        )
        .unwrap();
    let cc = b
        .node("concat", Op::Concat { axis: 0 }, &[sl, sl], None)
        .unwrap();
    let pd = b
        .node(
            "pad",
            Op::Pad {
                begin: vec![0, 1],
                end: vec![1, 0],
                interior: vec![0, 1],
                value: -3,
            },
            &[cc],
            None,
        )
        .unwrap();
    let ga = b
        .node(
            "gather",
            Op::Gather {
                axis: 1,
                indices_shape: vec![2],
                indices: vec![3, 0],
            },
            &[pd],
            None,
        )
        .unwrap();
    let sums = b
        .node(
            "reduce_sum",
            Op::Reduce {
                kind: ReduceKind::Sum,
                axes: vec![1],
                keep_dims: true,
            },
            &[ga],
            None,
        )
        .unwrap();
    let maxs = b
        .node(
            "reduce_max",
            Op::Reduce {
                kind: ReduceKind::Max,
                axes: vec![1],
                keep_dims: false,
            },
            &[ga],
            None,
        )
        .unwrap();
    let mins = b
        .node(
            "reduce_min",
            Op::Reduce {
                kind: ReduceKind::Min,
                axes: vec![1],
                keep_dims: false,
            },
            &[ga],
            None,
        )
        .unwrap();
    let sq_in = b
        .node("square", Op::Binary(BinaryKind::Mul), &[maxs, maxs], None)
        .unwrap();
    let nn = b
        .node("nonneg", Op::Clamp { lo: 0, hi: 1 << 40 }, &[sq_in], None)
        .unwrap();
    let sq = b.node("sqrt", Op::Sqrt, &[nn], None).unwrap();
    let one = b.weight("one", vec![1], vec![1], None).unwrap();
    let den = b
        .node("den", Op::Binary(BinaryKind::Add), &[sq, one], None)
        .unwrap();
    let dv = b
        .node("divround", Op::DivRound { shift: 4 }, &[mins, den], None)
        .unwrap();
    let wh = b
        .node(
            "where",
            Op::Where {
                cond_shape: vec![1, 5],
                cond: vec![true, false, false, true, true],
            },
            &[dv, mins],
            None,
        )
        .unwrap();
    let ids = b.input("ids", vec![3], Range::new(0, 4), None).unwrap();
    let emb = b
        .weight(
            "emb",
            vec![5, 5],
            (0..25).map(|v| v * 1000 - 4000).collect(),
            None,
        )
        .unwrap();
    let gd = b
        .node("embed", Op::GatherDynamic { axis: 0 }, &[emb, ids], None)
        .unwrap();
    let gsum = b
        .node(
            "embed_sum",
            Op::Reduce {
                kind: ReduceKind::Sum,
                axes: vec![0],
                keep_dims: false,
            },
            &[gd],
            None,
        )
        .unwrap();
    let out = b
        .node("out", Op::Binary(BinaryKind::Add), &[wh, gsum], None)
        .unwrap();
    b.output(out);
    b.output(sums);
    b.finish().unwrap()
}

/// Random inputs for [`every_op_program`].
pub fn every_op_inputs(rng: &mut Rng) -> Vec<Tensor> {
    vec![
        Tensor::new(vec![1, 2, 4, 4], rng.values(32, Range::new(-8, 7))).unwrap(),
        Tensor::new(vec![3], rng.values(3, Range::new(0, 4))).unwrap(),
    ]
}
