//! The mock backend accepts interpreter witnesses and rejects every kind of tampering, naming
//! where it failed.
#![allow(clippy::unwrap_used)]

use vouch_backend::mock::{MockBackend, MockError};
use vouch_backend::{estimate, Backend, VisibilityPolicy, Witness};
use vouch_ir::{
    interp, BinaryKind, LookupTable, Op, Program, ProgramBuilder, Range, TableFn, Tensor,
};

/// x[1,4] @ w[4,3] + b -> requant -> sigmoid table -> + x-derived skip.
fn program() -> Program {
    program_with_bias(100)
}

fn program_with_bias(b0: i64) -> Program {
    let mut b = ProgramBuilder::new();
    let x = b
        .input("x", vec![1, 4], Range::new(-127, 127), Some(0.01))
        .unwrap();
    let w = b
        .weight(
            "w",
            vec![4, 3],
            vec![3, -5, 7, 1, 2, -3, -8, 4, 6, 5, -1, 2],
            None,
        )
        .unwrap();
    let bias = b.weight("bias", vec![3], vec![b0, -50, 7], None).unwrap();
    let acc = b.node("fc", Op::MatMul, &[x, w, bias], None).unwrap();
    let q = b
        .node(
            "fc/requant",
            Op::Requant {
                mults: vec![3],
                axis: None,
                shift: 4,
                lo: -127,
                hi: 127,
            },
            &[acc],
            Some(0.05),
        )
        .unwrap();
    let t = LookupTable::generate(
        TableFn::Sigmoid,
        Range::new(-127, 127),
        0.05,
        1.0 / 127.0,
        Range::new(0, 127),
    );
    let s = b
        .node("act", Op::Lookup(t), &[q], Some(1.0 / 127.0))
        .unwrap();
    let y = b
        .node("out", Op::Binary(BinaryKind::Add), &[s, q], None)
        .unwrap();
    b.output(y);
    b.finish().unwrap()
}

fn witness(p: &Program) -> Witness {
    let x = Tensor::new(vec![1, 4], vec![12, -100, 127, 5]).unwrap();
    interp::run(p, &[x]).unwrap().into()
}

#[test]
fn honest_witness_proves_and_verifies() {
    let p = program();
    let (pk, vk) = MockBackend.setup(&p, VisibilityPolicy::provider()).unwrap();
    let (st, proof) = MockBackend.prove(&pk, &witness(&p)).unwrap();
    assert_eq!(st.program_digest, p.digest());
    assert_eq!(st.commitments.len(), 1, "provider commits to the weights");
    assert_eq!(st.public.len(), 2, "provider publishes input and output");
    MockBackend.verify(&vk, &st, &proof).unwrap();
}

#[test]
fn tampered_output_names_node_and_row() {
    let p = program();
    let (pk, _) = MockBackend.setup(&p, VisibilityPolicy::provider()).unwrap();
    let mut w = witness(&p);
    let out = p.outputs[0].index();
    let hi = p.tensors[out].range.hi;
    let v = &mut w.values[out][2];
    *v = if *v == hi { *v - 1 } else { *v + 1 };
    match MockBackend.prove(&pk, &w) {
        Err(MockError::Constraint { node, op, row, .. }) => {
            assert_eq!((node.as_str(), op, row), ("out", "Add", 2));
        }
        other => panic!("expected a constraint failure, got {other:?}"),
    }
}

#[test]
fn every_single_value_change_is_caught() {
    let p = program();
    let (pk, _) = MockBackend.setup(&p, VisibilityPolicy::client()).unwrap();
    let honest = witness(&p);
    for t in 0..honest.values.len() {
        for row in 0..honest.values[t].len() {
            for delta in [-1i64, 1, 1000] {
                let mut w = honest.clone();
                w.values[t][row] += delta;
                assert!(
                    MockBackend.prove(&pk, &w).is_err(),
                    "tensor {} row {row} +{delta} accepted",
                    p.tensors[t].name
                );
            }
        }
    }
}

#[test]
fn weights_other_than_the_programs_are_rejected() {
    let p = program();
    let (pk, _) = MockBackend.setup(&p, VisibilityPolicy::provider()).unwrap();
    let mut w = witness(&p);
    w.values[1][0] = 4; // weight "w"
    assert!(matches!(
        MockBackend.prove(&pk, &w),
        Err(MockError::Weight { ref tensor, row: 0 }) if tensor == "w"
    ));
}

#[test]
fn out_of_range_input_is_rejected() {
    let p = program();
    let (pk, _) = MockBackend.setup(&p, VisibilityPolicy::provider()).unwrap();
    let mut w = witness(&p);
    w.values[0][1] = 128;
    assert!(matches!(
        MockBackend.prove(&pk, &w),
        Err(MockError::Range { value: 128, .. })
    ));
}

#[test]
fn tampered_statement_or_key_is_rejected() {
    let p = program();
    let (pk, vk) = MockBackend.setup(&p, VisibilityPolicy::provider()).unwrap();
    let (st, proof) = MockBackend.prove(&pk, &witness(&p)).unwrap();

    let mut bad = st.clone();
    bad.public[1].values[0] += 1;
    assert!(
        MockBackend.verify(&vk, &bad, &proof).is_err(),
        "public output"
    );

    let mut bad = st.clone();
    bad.commitments[0].bytes[0] ^= 1;
    assert!(MockBackend.verify(&vk, &bad, &proof).is_err(), "commitment");

    let mut bad = st.clone();
    bad.program_digest.0[0] ^= 1;
    assert!(MockBackend.verify(&vk, &bad, &proof).is_err(), "digest");

    // A key for another program (one weight changed) rejects the proof.
    let other = program_with_bias(101);
    let (_, vk2) = MockBackend
        .setup(&other, VisibilityPolicy::provider())
        .unwrap();
    assert!(MockBackend.verify(&vk2, &st, &proof).is_err(), "other key");
    assert_ne!(st.digest(), bad.digest());
}

#[test]
fn cost_model_counts_work() {
    let p = program();
    let c = estimate(&p);
    assert_eq!(c.macs, 12, "1x4 @ 4x3");
    assert_eq!(c.lookups, 3);
    assert_eq!(c.lookup_table_entries, 255);
    assert_eq!(
        c.range_checks, 6,
        "requant: remainder and clamp per element"
    );
    assert_eq!(c.params, 15);
    assert_eq!(c.per_op["MatMul"].nodes, 1);
}
