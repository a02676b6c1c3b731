//! Typed errors: the builder refuses invalid ops with `IrError::Node` naming the node and op,
//! oversized tensors with `IrError::TooLarge`, and the interpreter refuses bad inputs.
#![allow(clippy::unwrap_used)]

mod common;

use common::win;
use vouch_ir::interp;
use vouch_ir::{
    BinaryKind, IrError, LookupTable, Op, Program, ProgramBuilder, Range, ReduceKind, TableFn,
    Tensor, TensorId,
};

const BIG: i64 = 1 << 40;

fn inp(b: &mut ProgramBuilder, name: &str, shape: &[usize], lo: i64, hi: i64) -> TensorId {
    b.input(name, shape.to_vec(), Range::new(lo, hi), None)
        .unwrap()
}

fn wt(b: &mut ProgramBuilder, name: &str, shape: &[usize], data: Vec<i64>) -> TensorId {
    b.weight(name, shape.to_vec(), data, None).unwrap()
}

fn table(lo: i64, hi: i64) -> LookupTable {
    LookupTable {
        func: TableFn::Identity,
        in_scale: 1.0,
        out_scale: 1.0,
        domain: Range::new(lo, hi),
        values: (lo..=hi).collect(),
    }
}

/// Adds node "bad" and asserts the builder refuses it with `IrError::Node` naming the node,
/// the op, and a message containing `needle`.
fn refuses(
    what: &str,
    needle: &str,
    setup: impl FnOnce(&mut ProgramBuilder) -> (Op, Vec<TensorId>),
) {
    let mut b = ProgramBuilder::new();
    let (op, inputs) = setup(&mut b);
    let name = op.name();
    match b.node("bad", op, &inputs, None) {
        Err(IrError::Node { node, op, msg }) => {
            assert_eq!(node, "bad", "{what}");
            assert_eq!(op, name, "{what}");
            assert!(
                msg.contains(needle),
                "{what}: message {msg:?} lacks {needle:?}"
            );
            // The rendered error names the node and the op.
            let shown = format!("{}", IrError::Node { node, op, msg });
            assert!(
                shown.starts_with("node bad (") && shown.contains(name),
                "{shown}"
            );
        }
        other => panic!("{what}: expected a node error, got {other:?}"),
    }
}

#[test]
fn wrong_shapes() {
    refuses("matmul inner dims", "inner dimensions", |b| {
        (
            Op::MatMul,
            vec![inp(b, "a", &[2, 3], 0, 1), inp(b, "b", &[4, 5], 0, 1)],
        )
    });
    refuses("matmul rank 1", "rank >= 2", |b| {
        (
            Op::MatMul,
            vec![inp(b, "a", &[3], 0, 1), inp(b, "b", &[3, 5], 0, 1)],
        )
    });
    refuses("matmul batch", "broadcast", |b| {
        (
            Op::MatMul,
            vec![inp(b, "a", &[2, 1, 3], 0, 1), inp(b, "b", &[3, 3, 5], 0, 1)],
        )
    });
    refuses("matmul bias", "broadcast", |b| {
        let (a, w) = (inp(b, "a", &[2, 3], 0, 1), inp(b, "b", &[3, 5], 0, 1));
        (
            Op::MatMul,
            vec![a, w, wt(b, "bias", &[2, 5, 1], vec![0; 10])],
        )
    });
    refuses("matmul bias of higher rank", "bias", |b| {
        let (a, w) = (inp(b, "a", &[2, 3], 0, 1), inp(b, "b", &[3, 5], 0, 1));
        (
            Op::MatMul,
            vec![a, w, wt(b, "bias", &[1, 2, 5], vec![0; 10])],
        )
    });
    refuses("matmul arity", "inputs", |b| {
        (Op::MatMul, vec![inp(b, "a", &[2, 3], 0, 1)])
    });
    let conv = |groups| Op::Conv {
        window: win([3, 3], [1, 1], [0; 4], [1, 1]),
        groups,
    };
    refuses("conv groups", "groups", |b| {
        let x = inp(b, "x", &[1, 4, 5, 5], 0, 1);
        (conv(3), vec![x, wt(b, "w", &[6, 1, 3, 3], vec![1; 54])])
    });
    refuses("conv channels", "groups", |b| {
        let x = inp(b, "x", &[1, 4, 5, 5], 0, 1);
        (conv(1), vec![x, wt(b, "w", &[2, 3, 3, 3], vec![1; 54])])
    });
    refuses("conv kernel", "kernel", |b| {
        let x = inp(b, "x", &[1, 1, 5, 5], 0, 1);
        (conv(1), vec![x, wt(b, "w", &[1, 1, 2, 2], vec![1; 4])])
    });
    refuses("conv window too big", "does not fit", |b| {
        let x = inp(b, "x", &[1, 1, 2, 2], 0, 1);
        (conv(1), vec![x, wt(b, "w", &[1, 1, 3, 3], vec![1; 9])])
    });
    refuses("conv bias", "bias", |b| {
        let x = inp(b, "x", &[1, 1, 5, 5], 0, 1);
        let w = wt(b, "w", &[2, 1, 3, 3], vec![1; 18]);
        (conv(1), vec![x, w, wt(b, "bias", &[3], vec![0; 3])])
    });
    refuses("conv layout", "NCHW", |b| {
        let x = inp(b, "x", &[5, 5], 0, 1);
        (conv(1), vec![x, wt(b, "w", &[1, 1, 3, 3], vec![1; 9])])
    });
    refuses("conv zero stride", "does not fit", |b| {
        let x = inp(b, "x", &[1, 1, 5, 5], 0, 1);
        let w = wt(b, "w", &[1, 1, 3, 3], vec![1; 9]);
        let op = Op::Conv {
            window: win([3, 3], [0, 1], [0; 4], [1, 1]),
            groups: 1,
        };
        (op, vec![x, w])
    });
    refuses("add broadcast", "broadcast", |b| {
        let x = inp(b, "a", &[2, 3], 0, 1);
        (
            Op::Binary(BinaryKind::Add),
            vec![x, inp(b, "b", &[4], 0, 1)],
        )
    });
    refuses("where mask size", "mask", |b| {
        let x = inp(b, "a", &[2], 0, 1);
        let op = Op::Where {
            cond_shape: vec![2],
            cond: vec![true],
        };
        (op, vec![x, x])
    });
    refuses("reshape count", "cannot reshape", |b| {
        (
            Op::Reshape { shape: vec![4, 2] },
            vec![inp(b, "x", &[3, 3], 0, 1)],
        )
    });
    refuses("transpose perm", "permutation", |b| {
        (
            Op::Transpose { perm: vec![0, 0] },
            vec![inp(b, "x", &[3, 3], 0, 1)],
        )
    });
    refuses("transpose rank", "permutation", |b| {
        (
            Op::Transpose { perm: vec![0] },
            vec![inp(b, "x", &[3, 3], 0, 1)],
        )
    });
    refuses("slice past the end", "outside", |b| {
        let op = Op::Slice {
            starts: vec![1],
            lens: vec![3],
            steps: vec![1],
        };
        (op, vec![inp(b, "x", &[3], 0, 1)])
    });
    refuses("slice below 0", "outside", |b| {
        let op = Op::Slice {
            starts: vec![2],
            lens: vec![3],
            steps: vec![-2],
        };
        (op, vec![inp(b, "x", &[3], 0, 1)])
    });
    refuses("slice step 0", "step 0", |b| {
        let op = Op::Slice {
            starts: vec![0],
            lens: vec![1],
            steps: vec![0],
        };
        (op, vec![inp(b, "x", &[3], 0, 1)])
    });
    refuses("slice spec", "entries", |b| {
        let op = Op::Slice {
            starts: vec![0],
            lens: vec![1],
            steps: vec![1],
        };
        (op, vec![inp(b, "x", &[3, 3], 0, 1)])
    });
    refuses("concat shapes", "differ", |b| {
        let x = inp(b, "a", &[2, 3], 0, 1);
        (Op::Concat { axis: 0 }, vec![x, inp(b, "b", &[2, 4], 0, 1)])
    });
    refuses("concat axis", "axis", |b| {
        (Op::Concat { axis: 2 }, vec![inp(b, "a", &[2, 3], 0, 1)])
    });
    refuses("concat nothing", "at least one", |_| {
        (Op::Concat { axis: 0 }, vec![])
    });
    refuses("pad spec", "entries", |b| {
        let op = Op::Pad {
            begin: vec![1],
            end: vec![1],
            interior: vec![0],
            value: 0,
        };
        (op, vec![inp(b, "x", &[3, 3], 0, 1)])
    });
    refuses("reduce axis", "invalid", |b| {
        let op = Op::Reduce {
            kind: ReduceKind::Sum,
            axes: vec![2],
            keep_dims: false,
        };
        (op, vec![inp(b, "x", &[3, 3], 0, 1)])
    });
    refuses("reduce duplicate axes", "invalid", |b| {
        let op = Op::Reduce {
            kind: ReduceKind::Sum,
            axes: vec![1, 1],
            keep_dims: false,
        };
        (op, vec![inp(b, "x", &[3, 3], 0, 1)])
    });
    refuses("max over nothing", "empty", |b| {
        let op = Op::Reduce {
            kind: ReduceKind::Max,
            axes: vec![1],
            keep_dims: false,
        };
        (op, vec![inp(b, "x", &[3, 0], 0, 1)])
    });
    refuses("pool layout", "NCHW", |b| {
        let op = Op::SumPool {
            window: win([1, 1], [1, 1], [0; 4], [1, 1]),
        };
        (op, vec![inp(b, "x", &[3, 3], 0, 1)])
    });
    refuses("max pool window in the padding", "padding", |b| {
        // Width 2, pad 2 on the left, kernel 1: the first two windows see only padding.
        let op = Op::MaxPool {
            window: win([1, 1], [1, 1], [0, 2, 0, 0], [1, 1]),
        };
        (op, vec![inp(b, "x", &[1, 1, 2, 2], 0, 1)])
    });
    refuses("max pool dilated past the input", "padding", |b| {
        // Window positions -1 and 2 around an input of width 2 (dilation 3): nothing real.
        let op = Op::MaxPool {
            window: win([1, 2], [1, 1], [0, 1, 0, 1], [1, 3]),
        };
        (op, vec![inp(b, "x", &[1, 1, 1, 2], 0, 1)])
    });
}

#[test]
fn lookup_outside_its_table() {
    refuses(
        "input wider than the domain",
        "not inside the table domain",
        |b| (Op::Lookup(table(-10, 10)), vec![inp(b, "x", &[4], -11, 10)]),
    );
    refuses(
        "input above the domain",
        "not inside the table domain",
        |b| (Op::Lookup(table(-10, 10)), vec![inp(b, "x", &[4], 0, 11)]),
    );
    refuses("entries do not match the domain", "entries", |b| {
        let mut t = table(-10, 10);
        t.values.pop();
        (Op::Lookup(t), vec![inp(b, "x", &[4], 0, 1)])
    });
    refuses("table over 2^20 entries", "2^20", |b| {
        let t = LookupTable {
            values: vec![],
            ..table(0, 0)
        };
        let t = LookupTable {
            domain: Range::new(0, 1 << 20),
            ..t
        };
        (Op::Lookup(t), vec![inp(b, "x", &[4], 0, 1)])
    });
    refuses("entries beyond 2^62", "value bound", |b| {
        let t = LookupTable {
            values: vec![0, 1 << 62],
            ..table(0, 1)
        };
        (Op::Lookup(t), vec![inp(b, "x", &[4], 0, 1)])
    });
}

#[test]
fn value_bound_overflows() {
    let rq = |m: i64, shift: u32, lo: i64, hi: i64| Op::Requant {
        mults: vec![m],
        axis: None,
        shift,
        lo,
        hi,
    };
    refuses("requant product beyond 2^62", "value bound", |b| {
        (
            rq(1 << 22, 20, -128, 127),
            vec![inp(b, "x", &[4], -BIG, BIG)],
        )
    });
    refuses("requant multiplier beyond 2^32", "2^32", |b| {
        (rq(1 << 32, 20, -128, 127), vec![inp(b, "x", &[4], -1, 1)])
    });
    refuses("requant shift beyond 62", "shift", |b| {
        (rq(1, 63, -128, 127), vec![inp(b, "x", &[4], -1, 1)])
    });
    refuses("requant empty clamp", "empty", |b| {
        (rq(1, 0, 1, 0), vec![inp(b, "x", &[4], -1, 1)])
    });
    refuses("requant clamp beyond 2^62", "value bound", |b| {
        (rq(1, 0, i64::MAX, i64::MAX), vec![inp(b, "x", &[4], -1, 1)])
    });
    refuses("requant per-axis count", "multipliers", |b| {
        let op = Op::Requant {
            mults: vec![1, 2],
            axis: Some(1),
            shift: 0,
            lo: -10,
            hi: 10,
        };
        (op, vec![inp(b, "x", &[2, 3], -1, 1)])
    });
    refuses("clamp beyond 2^62", "value bound", |b| {
        (
            Op::Clamp {
                lo: 1 << 62,
                hi: 1 << 62,
            },
            vec![inp(b, "x", &[4], -1, 1)],
        )
    });
    refuses("clamp empty", "empty", |b| {
        (Op::Clamp { lo: 2, hi: 1 }, vec![inp(b, "x", &[4], -1, 1)])
    });
    refuses("mul beyond 2^62", "value bound", |b| {
        let x = inp(b, "x", &[4], -(1 << 31), 1 << 31);
        (Op::Binary(BinaryKind::Mul), vec![x, x])
    });
    refuses("add beyond 2^62", "value bound", |b| {
        let x = inp(b, "x", &[4], 0, (1 << 62) - 1);
        (Op::Binary(BinaryKind::Add), vec![x, x])
    });
    refuses("matmul accumulator", "value bound", |b| {
        let x = inp(b, "x", &[2, 8], -BIG, BIG);
        (Op::MatMul, vec![x, wt(b, "w", &[8, 2], vec![1 << 20; 16])])
    });
    refuses("matmul accumulator, both run-time", "value bound", |b| {
        let x = inp(b, "x", &[2, 8], -BIG, BIG);
        (Op::MatMul, vec![x, inp(b, "w", &[8, 2], 0, 1 << 20)])
    });
    refuses("matmul long column of huge weights", "value bound", |b| {
        // Sixty-four products of nearly 2^124 each: an i128 sum would wrap.
        let x = inp(b, "x", &[1, 64], -((1 << 62) - 1), (1 << 62) - 1);
        (
            Op::MatMul,
            vec![x, wt(b, "w", &[64, 1], vec![(1 << 62) - 1; 64])],
        )
    });
    refuses("conv accumulator", "value bound", |b| {
        let x = inp(b, "x", &[1, 4, 3, 3], -BIG, BIG);
        let op = Op::Conv {
            window: win([3, 3], [1, 1], [0; 4], [1, 1]),
            groups: 1,
        };
        (op, vec![x, wt(b, "w", &[1, 4, 3, 3], vec![1 << 22; 36])])
    });
    refuses("sum pool", "value bound", |b| {
        let op = Op::SumPool {
            window: win([3, 3], [1, 1], [0; 4], [1, 1]),
        };
        (op, vec![inp(b, "x", &[1, 1, 3, 3], 0, 1 << 59)])
    });
    refuses("reduce sum", "value bound", |b| {
        let op = Op::Reduce {
            kind: ReduceKind::Sum,
            axes: vec![0],
            keep_dims: true,
        };
        (op, vec![inp(b, "x", &[16], 0, 1 << 59)])
    });
    refuses("pad value", "value bound", |b| {
        let op = Op::Pad {
            begin: vec![1],
            end: vec![0],
            interior: vec![0],
            value: i64::MIN,
        };
        (op, vec![inp(b, "x", &[4], 0, 1)])
    });
}

#[test]
fn div_round_divisor_and_bounds() {
    let dr = Op::DivRound { shift: 8 };
    refuses("divisor range includes 0", "divisor", |b| {
        let a = inp(b, "a", &[4], -100, 100);
        (dr.clone(), vec![a, inp(b, "d", &[4], 0, 5)])
    });
    refuses("negative divisors", "divisor", |b| {
        let a = inp(b, "a", &[4], -100, 100);
        (dr.clone(), vec![a, inp(b, "d", &[4], -5, -1)])
    });
    refuses("constant divisor with a zero", "divisor", |b| {
        let a = inp(b, "a", &[4], -100, 100);
        (dr.clone(), vec![a, wt(b, "d", &[4], vec![3, 1, 0, 7])])
    });
    refuses("shift beyond 60", "shift", |b| {
        let a = inp(b, "a", &[4], -1, 1);
        (Op::DivRound { shift: 61 }, vec![a, inp(b, "d", &[4], 1, 5)])
    });
    refuses("numerator beyond 2^62", "value bound", |b| {
        let a = inp(b, "a", &[4], -BIG, BIG);
        (Op::DivRound { shift: 30 }, vec![a, inp(b, "d", &[4], 1, 5)])
    });
    refuses("divisor 2b beyond 2^62", "value bound", |b| {
        let a = inp(b, "a", &[4], -1, 1);
        (
            Op::DivRound { shift: 0 },
            vec![a, inp(b, "d", &[4], 1, (1 << 61) + 1)],
        )
    });
    refuses("sqrt of negatives", "negatives", |b| {
        (Op::Sqrt, vec![inp(b, "x", &[4], -1, 100)])
    });
}

#[test]
fn gather_indices_out_of_range() {
    refuses("constant index past the end", "outside", |b| {
        let op = Op::Gather {
            axis: 1,
            indices_shape: vec![2],
            indices: vec![0, 3],
        };
        (op, vec![inp(b, "x", &[2, 3], 0, 1)])
    });
    refuses("gather axis", "axis", |b| {
        let op = Op::Gather {
            axis: 2,
            indices_shape: vec![1],
            indices: vec![0],
        };
        (op, vec![inp(b, "x", &[2, 3], 0, 1)])
    });
    refuses("gather indices shape", "indices shape", |b| {
        let op = Op::Gather {
            axis: 0,
            indices_shape: vec![2, 2],
            indices: vec![0, 1, 0],
        };
        (op, vec![inp(b, "x", &[2, 3], 0, 1)])
    });
    refuses("dynamic index range reaches dim", "index range", |b| {
        let x = inp(b, "x", &[5, 3], 0, 1);
        (
            Op::GatherDynamic { axis: 0 },
            vec![x, inp(b, "i", &[2], 0, 5)],
        )
    });
    refuses("dynamic negative index", "index range", |b| {
        let x = inp(b, "x", &[5, 3], 0, 1);
        (
            Op::GatherDynamic { axis: 0 },
            vec![x, inp(b, "i", &[2], -1, 4)],
        )
    });
    refuses("dynamic constant indices", "index range", |b| {
        let x = inp(b, "x", &[5, 3], 0, 1);
        (
            Op::GatherDynamic { axis: 1 },
            vec![x, wt(b, "i", &[2], vec![0, 3])],
        )
    });
}

#[test]
fn unknown_tensors() {
    let mut b = ProgramBuilder::new();
    let x = inp(&mut b, "x", &[2], 0, 1);
    let err = b
        .node("n", Op::Binary(BinaryKind::Add), &[x, TensorId(99)], None)
        .unwrap_err();
    assert_eq!(err, IrError::UnknownTensor(99));
}

fn too_large(r: Result<TensorId, IrError>, tensor: &str) {
    match r {
        Err(IrError::TooLarge {
            tensor: t,
            elements,
            limit,
        }) => {
            assert_eq!(t, tensor);
            assert!(elements > limit && limit == 1 << 31);
        }
        other => panic!("expected TooLarge for {tensor}, got {other:?}"),
    }
}

#[test]
fn oversized_tensors_are_too_large() {
    let mut b = ProgramBuilder::new();
    too_large(
        b.input("x", vec![1 << 16, 1 << 16], Range::new(0, 1), None),
        "x",
    );
    too_large(
        b.input("z", vec![0, 1 << 40, 1 << 40], Range::new(0, 1), None),
        "z",
    );
    too_large(b.weight("w", vec![1 << 40, 1 << 40], vec![], None), "w");
    let a = inp(&mut b, "a", &[1 << 16, 1, 1, 2], 0, 1);
    let m = inp(&mut b, "m", &[1, 1 << 16, 2, 1], 0, 1);
    // Broadcast batch [2^16, 2^16] x [1, 1]: 2^32 outputs.
    too_large(b.node("bad", Op::MatMul, &[a, m], None), "bad");
    let v = inp(&mut b, "v", &[1 << 16], 0, 1);
    let pad = Op::Pad {
        begin: vec![0],
        end: vec![1 << 31],
        interior: vec![0],
        value: 0,
    };
    too_large(b.node("bad", pad, &[v], None), "bad");
    let table = wt(&mut b, "emb", &[4, 4], vec![0; 16]);
    let ids = inp(&mut b, "ids", &[1 << 15, 1 << 15], 0, 3);
    too_large(
        b.node("bad", Op::GatherDynamic { axis: 0 }, &[table, ids], None),
        "bad",
    );
    let op = Op::Gather {
        axis: 0,
        indices_shape: vec![1 << 40, 1 << 40, 0],
        indices: vec![],
    };
    too_large(b.node("bad", op, &[table], None), "bad");
    let op = Op::Reshape {
        shape: vec![1 << 40, 0, 1 << 40],
    };
    let e = inp(&mut b, "e", &[0], 0, 1);
    too_large(b.node("bad", op, &[e], None), "bad");
}

fn small_program() -> Program {
    let mut b = ProgramBuilder::new();
    let x = inp(&mut b, "x", &[2, 3], -10, 10);
    let y = inp(&mut b, "y", &[3], 0, 5);
    let s = b
        .node("s", Op::Binary(BinaryKind::Add), &[x, y], None)
        .unwrap();
    b.output(s);
    b.finish().unwrap()
}

#[test]
fn interpreter_rejects_bad_inputs() {
    let p = small_program();
    let x = Tensor::new(vec![2, 3], vec![1, 2, 3, 4, 5, 6]).unwrap();
    let y = Tensor::new(vec![3], vec![0, 5, 2]).unwrap();
    assert!(interp::run(&p, &[x.clone(), y.clone()]).is_ok());

    let err = interp::run(&p, std::slice::from_ref(&x)).unwrap_err();
    assert_eq!(
        err,
        IrError::InputCount {
            expected: 2,
            got: 1
        }
    );
    let err = interp::run(&p, &[x.clone(), y.clone(), y.clone()]).unwrap_err();
    assert_eq!(
        err,
        IrError::InputCount {
            expected: 2,
            got: 3
        }
    );

    let wrong = Tensor::new(vec![3, 2], x.data.clone()).unwrap();
    match interp::run(&p, &[wrong, y.clone()]).unwrap_err() {
        IrError::InputShape {
            name,
            expected,
            got,
        } => {
            assert_eq!(
                (name.as_str(), expected, got),
                ("x", vec![2, 3], vec![3, 2])
            );
        }
        e => panic!("{e}"),
    }
    // Inputs swapped.
    assert!(matches!(
        interp::run(&p, &[y.clone(), x.clone()]),
        Err(IrError::InputShape { .. })
    ));
    // Right shape, wrong amount of data (the fields are public, so this can be built).
    let short = Tensor {
        shape: vec![3],
        data: vec![1],
    };
    assert!(matches!(
        interp::run(&p, &[x.clone(), short]),
        Err(IrError::InputShape { .. })
    ));

    let hot = Tensor::new(vec![3], vec![0, 6, 2]).unwrap();
    assert_eq!(
        interp::run(&p, &[x.clone(), hot]).unwrap_err(),
        IrError::InputRange {
            name: "y".into(),
            index: 1,
            value: 6,
            lo: 0,
            hi: 5
        }
    );
    let cold = Tensor::new(vec![2, 3], vec![1, 2, 3, 4, 5, -11]).unwrap();
    assert!(matches!(
        interp::run(&p, &[cold, y]),
        Err(IrError::InputRange {
            index: 5,
            value: -11,
            ..
        })
    ));
}

#[test]
fn invalid_inputs_and_weights_are_refused() {
    let mut b = ProgramBuilder::new();
    assert!(matches!(
        b.input("x", vec![2], Range::new(3, 2), None),
        Err(IrError::Tensor { .. })
    ));
    assert!(matches!(
        b.input("x", vec![2], Range::new(0, 1 << 62), None),
        Err(IrError::Tensor { .. })
    ));
    assert!(matches!(
        b.weight("w", vec![2], vec![1, 2, 3], None),
        Err(IrError::Tensor { .. })
    ));
    assert!(matches!(
        b.weight("w", vec![2], vec![1, i64::MIN], None),
        Err(IrError::Tensor { .. })
    ));
    // A non-finite scale cannot be encoded canonically, so the program is refused.
    let mut b = ProgramBuilder::new();
    let x = b
        .input("x", vec![2], Range::new(0, 1), Some(f64::NAN))
        .unwrap();
    b.output(x);
    assert!(matches!(b.finish(), Err(IrError::Tensor { .. })));
}

#[test]
fn validate_catches_inconsistent_programs() {
    let p = small_program();
    p.validate().unwrap();

    // A stored range that differs from the derived one (activation and weight alike).
    let mut q = p.clone();
    q.tensors[2].range = Range::new(-100, 100);
    assert!(matches!(q.validate(), Err(IrError::Node { .. })));
    let mut b = ProgramBuilder::new();
    let x = inp(&mut b, "x", &[2], -1, 1);
    let w = wt(&mut b, "w", &[2], vec![3, -4]);
    let y = b
        .node("m", Op::Binary(BinaryKind::Mul), &[x, w], None)
        .unwrap();
    b.output(y);
    let mut q = b.finish().unwrap();
    q.tensors[1].range = Range::new(-4, 4);
    assert!(
        matches!(q.validate(), Err(IrError::Tensor { .. })),
        "weight range lie"
    );
    assert!(Program::decode(&q.encode()).is_err());

    // A program input listed twice (and the other one missing).
    let mut q = p.clone();
    q.inputs = vec![TensorId(0), TensorId(0)];
    assert!(q.validate().is_err());
    assert!(Program::decode(&q.encode()).is_err());

    // No outputs; an unknown output; a node writing an input; an activation never produced.
    let mut q = p.clone();
    q.outputs.clear();
    assert!(q.validate().is_err());
    let mut q = p.clone();
    q.outputs.push(TensorId(7));
    assert_eq!(q.validate(), Err(IrError::UnknownTensor(7)));
    let mut q = p.clone();
    q.nodes[0].output = TensorId(0);
    assert!(matches!(q.validate(), Err(IrError::Node { .. })));
    let mut q = p.clone();
    q.nodes.clear();
    assert!(matches!(q.validate(), Err(IrError::Tensor { .. })));
    // A node reading a tensor produced later.
    let mut q = p.clone();
    q.nodes[0].inputs[1] = TensorId(2);
    assert!(matches!(q.validate(), Err(IrError::Node { .. })));
    // Weight slots out of step with the tensors.
    let mut q = p.clone();
    q.weights.pop();
    assert!(q.validate().is_err());
    let mut q = p.clone();
    q.weights[2] = Some(vec![0; 6]);
    assert!(q.validate().is_err());
}
