//! The conformance suite every backend runs: one small program per IR op kind (and the
//! variants that take different paths in a circuit: constant or runtime weights, broadcasting,
//! padding, per-channel scales), with inputs. A backend passes when it proves and verifies each
//! case and the proven outputs equal the reference interpreter's, bit for bit.

use vouch_ir::{
    BinaryKind, LookupTable, Op, Program, ProgramBuilder, Range, ReduceKind, TableFn, Tensor,
    TensorId, Window,
};

/// A three-op pipeline whose intermediates are all run-time tensors: x[4,16] @ w[16,8] + b
/// (named `matmul`) → requant by 3 >> 9 clamped to [−64, 63] (`requant`, it clamps) → a
/// sigmoid table (`sigmoid`, the output). Backends' cheating-prover tests and fuzzers tamper
/// with its intermediate columns by these names.
pub fn pipeline() -> R<OpCase> {
    let mut b = ProgramBuilder::new();
    let x = b.input("x", vec![4, 16], Range::new(-128, 127), None)?;
    let wv: Vec<i64> = (0..128).map(|i| (i * 37 % 255) - 127).collect();
    let w = b.weight("w", vec![16, 8], wv, None)?;
    let bias = b.weight("b", vec![8], (0..8).map(|i| i * 100 - 400).collect(), None)?;
    let acc = b.node("matmul", Op::MatMul, &[x, w, bias], None)?;
    let q = Op::Requant {
        mults: vec![3],
        axis: None,
        shift: 9,
        lo: -64,
        hi: 63,
    };
    let y = b.node("requant", q, &[acc], None)?;
    let t = LookupTable::generate(
        TableFn::Sigmoid,
        Range::new(-64, 63),
        1.0 / 16.0,
        1.0 / 127.0,
        Range::new(0, 127),
    );
    let z = b.node("sigmoid", Op::Lookup(t), &[y], None)?;
    b.output(z);
    let xs: Vec<i64> = (0..64).map(|i| (i * 53 % 256) - 128).collect();
    Ok(OpCase {
        name: "pipeline/matmul-requant-sigmoid".into(),
        program: b.finish()?,
        inputs: vec![Tensor::new(vec![4, 16], xs)?],
    })
}

/// One program with inputs.
#[derive(Clone, Debug)]
pub struct OpCase {
    /// IR op kind exercised (a name from `Op::KINDS`) plus a variant suffix.
    pub name: String,
    pub program: Program,
    pub inputs: Vec<Tensor>,
}

/// Deterministic values (xorshift), so failures reproduce.
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn values(&mut self, n: usize, r: Range) -> Vec<i64> {
        let w = (r.hi - r.lo + 1) as u64;
        (0..n).map(|_| r.lo + (self.next() % w) as i64).collect()
    }
}

struct Case {
    b: ProgramBuilder,
    g: Gen,
    inputs: Vec<Tensor>,
    n: usize,
}

type R<T> = vouch_ir::Result<T>;

impl Case {
    fn new(seed: u64) -> Self {
        Case {
            b: ProgramBuilder::new(),
            g: Gen(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1),
            inputs: Vec::new(),
            n: 0,
        }
    }
    fn name(&mut self) -> String {
        self.n += 1;
        format!("t{}", self.n)
    }
    fn input(&mut self, shape: &[usize], lo: i64, hi: i64) -> R<TensorId> {
        let r = Range::new(lo, hi);
        let data = self.g.values(shape.iter().product(), r);
        let name = self.name();
        let id = self.b.input(&name, shape.to_vec(), r, None)?;
        self.inputs.push(Tensor::new(shape.to_vec(), data)?);
        Ok(id)
    }
    fn weight(&mut self, shape: &[usize], lo: i64, hi: i64) -> R<TensorId> {
        let data = self.g.values(shape.iter().product(), Range::new(lo, hi));
        let name = self.name();
        self.b.weight(&name, shape.to_vec(), data, None)
    }
    fn node(&mut self, op: Op, inputs: &[TensorId]) -> R<TensorId> {
        let name = self.name();
        self.b.node(&name, op, inputs, None)
    }
    fn finish(mut self, name: &str, out: TensorId) -> R<OpCase> {
        self.b.output(out);
        Ok(OpCase {
            name: name.to_string(),
            program: self.b.finish()?,
            inputs: self.inputs,
        })
    }
}

fn window(kernel: [usize; 2], strides: [usize; 2], pads: [usize; 4], dil: [usize; 2]) -> Window {
    Window {
        kernel,
        strides,
        pads,
        dilations: dil,
    }
}

/// Every op kind, in small sizes a circuit backend proves in well under a second each.
pub fn op_cases() -> Vec<OpCase> {
    let builders: Vec<fn(u64) -> R<OpCase>> = vec![
        |s| {
            let mut c = Case::new(s);
            let x = c.input(&[2, 5], -128, 127)?;
            let w = c.weight(&[5, 3], -128, 127)?;
            let b = c.weight(&[3], -1000, 1000)?;
            let y = c.node(Op::MatMul, &[x, w, b])?;
            c.finish("MatMul/weights+bias", y)
        },
        |s| {
            let mut c = Case::new(s);
            let q = c.input(&[2, 3, 4], -20, 20)?;
            let k = c.input(&[2, 4, 3], -20, 20)?;
            let y = c.node(Op::MatMul, &[q, k])?;
            c.finish("MatMul/two-inputs-batched", y)
        },
        |s| {
            let mut c = Case::new(s);
            let x = c.input(&[1, 2, 5, 5], -128, 127)?;
            let w = c.weight(&[4, 2, 3, 3], -30, 30)?;
            let b = c.weight(&[4], -50, 50)?;
            let op = Op::Conv {
                window: window([3, 3], [2, 1], [1, 0, 1, 2], [1, 1]),
                groups: 1,
            };
            let y = c.node(op, &[x, w, b])?;
            c.finish("Conv/stride+pad+bias", y)
        },
        |s| {
            let mut c = Case::new(s);
            let x = c.input(&[1, 4, 4, 4], -50, 50)?;
            let w = c.weight(&[4, 1, 2, 2], -9, 9)?;
            let op = Op::Conv {
                window: window([2, 2], [1, 1], [0, 0, 0, 0], [2, 2]),
                groups: 4,
            };
            let y = c.node(op, &[x, w])?;
            c.finish("Conv/depthwise-dilated", y)
        },
        // Products large enough that a backend may check them with Freivalds' algorithm.
        |s| {
            let mut c = Case::new(s);
            let x = c.input(&[6, 16], -128, 127)?;
            let w = c.weight(&[16, 9], -128, 127)?;
            let b = c.weight(&[9], -1000, 1000)?;
            let y = c.node(Op::MatMul, &[x, w, b])?;
            c.finish("MatMul/wide-weights+column-bias", y)
        },
        |s| {
            let mut c = Case::new(s);
            let q = c.input(&[2, 8, 5], -20, 20)?;
            let k = c.input(&[2, 5, 9], -20, 20)?;
            let y = c.node(Op::MatMul, &[q, k])?;
            c.finish("MatMul/wide-two-inputs-batched", y)
        },
        |s| {
            let mut c = Case::new(s);
            let x = c.input(&[1, 3, 8, 7], -128, 127)?;
            let w = c.weight(&[8, 3, 3, 3], -30, 30)?;
            let b = c.weight(&[8], -50, 50)?;
            let op = Op::Conv {
                window: window([3, 3], [1, 1], [1, 1, 1, 1], [1, 1]),
                groups: 1,
            };
            let y = c.node(op, &[x, w, b])?;
            c.finish("Conv/wide+pad+bias", y)
        },
        |s| binary(s, BinaryKind::Add, "Add"),
        |s| binary(s, BinaryKind::Sub, "Sub"),
        |s| binary(s, BinaryKind::Mul, "Mul"),
        |s| binary(s, BinaryKind::Max, "Max"),
        |s| binary(s, BinaryKind::Min, "Min"),
        |s| {
            let mut c = Case::new(s);
            let x = c.input(&[3, 4], -128, 127)?;
            let w = c.weight(&[1, 4], -5, 5)?;
            let y = c.node(Op::Binary(BinaryKind::Mul), &[x, w])?;
            c.finish("Mul/constant-broadcast", y)
        },
        |s| {
            let mut c = Case::new(s);
            let x = c.input(&[2, 3, 4], -40000, 40000)?;
            let op = Op::Requant {
                mults: vec![23456, -1234, 30000],
                axis: Some(1),
                shift: 20,
                lo: -128,
                hi: 127,
            };
            let y = c.node(op, &[x])?;
            c.finish("Requant/per-channel", y)
        },
        |s| {
            let mut c = Case::new(s);
            let x = c.input(&[9], -100, 100)?;
            let op = Op::Requant {
                mults: vec![3],
                axis: None,
                shift: 0,
                lo: 0,
                hi: 255,
            };
            let y = c.node(op, &[x])?;
            c.finish("Requant/shift0-relu", y)
        },
        |s| {
            let mut c = Case::new(s);
            let x = c.input(&[10], -300, 300)?;
            let y = c.node(Op::Clamp { lo: -100, hi: 50 }, &[x])?;
            c.finish("Clamp", y)
        },
        |s| {
            let mut c = Case::new(s);
            let x = c.input(&[12], -64, 63)?;
            let t = LookupTable::generate(
                TableFn::Sigmoid,
                Range::new(-64, 63),
                1.0 / 16.0,
                1.0 / 127.0,
                Range::new(0, 127),
            );
            let y = c.node(Op::Lookup(t), &[x])?;
            c.finish("Lookup/sigmoid", y)
        },
        |s| {
            let mut c = Case::new(s);
            let a = c.input(&[2, 4], -1000, 1000)?;
            let b = c.input(&[2, 1], 1, 300)?;
            let y = c.node(Op::DivRound { shift: 8 }, &[a, b])?;
            c.finish("DivRound/broadcast", y)
        },
        |s| {
            let mut c = Case::new(s);
            let x = c.input(&[10], 0, 1 << 20)?;
            let y = c.node(Op::Sqrt, &[x])?;
            c.finish("Sqrt", y)
        },
        |s| {
            let mut c = Case::new(s);
            let a = c.input(&[2, 3], -9, 9)?;
            let b = c.input(&[3], -9, 9)?;
            let op = Op::Where {
                cond_shape: vec![2, 3],
                cond: vec![true, false, true, false, false, true],
            };
            let y = c.node(op, &[a, b])?;
            c.finish("Where", y)
        },
        |s| reduce(s, ReduceKind::Sum, "ReduceSum"),
        |s| reduce(s, ReduceKind::Max, "ReduceMax"),
        |s| reduce(s, ReduceKind::Min, "ReduceMin"),
        |s| {
            let mut c = Case::new(s);
            let x = c.input(&[1, 2, 5, 5], -128, 127)?;
            let op = Op::SumPool {
                window: window([3, 3], [2, 2], [1, 1, 1, 1], [1, 1]),
            };
            let y = c.node(op, &[x])?;
            c.finish("SumPool/padded", y)
        },
        |s| {
            let mut c = Case::new(s);
            let x = c.input(&[1, 2, 5, 5], -128, 127)?;
            let op = Op::MaxPool {
                window: window([2, 2], [2, 2], [0, 0, 1, 1], [1, 1]),
            };
            let y = c.node(op, &[x])?;
            c.finish("MaxPool/padded", y)
        },
        |s| {
            let mut c = Case::new(s);
            let x = c.input(&[2, 6], -5, 5)?;
            let y = c.node(Op::Reshape { shape: vec![3, 4] }, &[x])?;
            c.finish("Reshape", y)
        },
        |s| {
            let mut c = Case::new(s);
            let x = c.input(&[2, 3, 4], -5, 5)?;
            let y = c.node(
                Op::Transpose {
                    perm: vec![2, 0, 1],
                },
                &[x],
            )?;
            c.finish("Transpose", y)
        },
        |s| {
            let mut c = Case::new(s);
            let x = c.input(&[4, 6], -5, 5)?;
            let op = Op::Slice {
                starts: vec![3, 1],
                lens: vec![2, 3],
                steps: vec![-1, 2],
            };
            let y = c.node(op, &[x])?;
            c.finish("Slice/negative-step", y)
        },
        |s| {
            let mut c = Case::new(s);
            let a = c.input(&[2, 2], -5, 5)?;
            let b = c.input(&[2, 3], -5, 5)?;
            let y = c.node(Op::Concat { axis: 1 }, &[a, b])?;
            c.finish("Concat", y)
        },
        |s| {
            let mut c = Case::new(s);
            let x = c.input(&[2, 3], -5, 5)?;
            let op = Op::Pad {
                begin: vec![1, 0],
                end: vec![0, 2],
                interior: vec![0, 1],
                value: 7,
            };
            let y = c.node(op, &[x])?;
            c.finish("Pad/interior", y)
        },
        |s| {
            let mut c = Case::new(s);
            let x = c.input(&[3, 4], -5, 5)?;
            let op = Op::Gather {
                axis: 1,
                indices_shape: vec![2, 2],
                indices: vec![3, 0, 0, 2],
            };
            let y = c.node(op, &[x])?;
            c.finish("Gather", y)
        },
        |s| {
            let mut c = Case::new(s);
            let table = c.weight(&[6, 3], -128, 127)?;
            let idx = c.input(&[1, 4], 0, 5)?;
            let y = c.node(Op::GatherDynamic { axis: 0 }, &[table, idx])?;
            c.finish("GatherDynamic/embedding", y)
        },
    ];
    builders
        .into_iter()
        .enumerate()
        .map(|(i, f)| f(i as u64 + 1).unwrap_or_else(|e| panic!("conformance case {i}: {e}")))
        .collect()
}

fn binary(seed: u64, kind: BinaryKind, name: &str) -> R<OpCase> {
    let mut c = Case::new(seed);
    let a = c.input(&[2, 3], -1000, 1000)?;
    let b = c.input(&[3], -1000, 1000)?;
    let y = c.node(Op::Binary(kind), &[a, b])?;
    c.finish(&format!("{name}/broadcast"), y)
}

fn reduce(seed: u64, kind: ReduceKind, name: &str) -> R<OpCase> {
    let mut c = Case::new(seed);
    let x = c.input(&[2, 3, 5], -500, 500)?;
    let op = Op::Reduce {
        kind,
        axes: vec![0, 2],
        keep_dims: false,
    };
    let y = c.node(op, &[x])?;
    c.finish(&format!("{name}/axes-0-2"), y)
}

/// Op kinds the cases cover (every entry of `Op::KINDS` must appear).
pub fn covered_kinds() -> Vec<String> {
    op_cases()
        .iter()
        .map(|c| c.name.split('/').next().unwrap_or_default().to_string())
        .collect()
}
