//! Zero-knowledge proofs on the gkr backend (input private, weights fixed, output public):
//! the conformance cases prove with the input absent from the statement and the
//! interpreter's outputs, and a cheating prover is caught by the verifier for each kind of
//! forged column (matmul result, requant remainder, quotient/remainder trade, lookup output
//! and multiplicities, range multiplicities, the hidden input, a run-time product), as are
//! flipped proof bytes and another statement.
#![allow(clippy::unwrap_used)]

use vouch_backend::conformance::op_cases;
use vouch_backend::{Backend, Statement, Visibility, VisibilityPolicy, Witness};
use vouch_gkr::backend::{GkrBackend, GkrKey};
use vouch_gkr::program::{protocol, witness, PlanError, ProgramError, ProgramProof};
use vouch_gkr::transcript::Transcript;
use vouch_ir::{interp, Op, Program, ProgramBuilder, Range, Tensor};

fn private() -> VisibilityPolicy {
    VisibilityPolicy {
        input: Visibility::Private,
        weights: Visibility::Fixed,
        output: Visibility::Public,
    }
}

#[test]
fn conformance_cases_prove_in_zero_knowledge() {
    let mut proved = 0;
    let mut too_small = Vec::new();
    for case in op_cases() {
        let (pk, vk) = match GkrBackend.setup(&case.program, private()) {
            Ok(k) => k,
            Err(ProgramError::Plan(PlanError::TooSmallToHide { .. })) => {
                too_small.push(case.name.clone());
                continue;
            }
            Err(e) => panic!("{}: setup failed: {e}", case.name),
        };
        assert!(pk.plan.zk);
        let trace = interp::run(&case.program, &case.inputs).unwrap();
        let outputs = trace.outputs();
        let w: Witness = trace.into();
        let (st, proof) = GkrBackend
            .prove(&pk, &w)
            .unwrap_or_else(|e| panic!("{}: prove failed: {e}", case.name));
        assert!(
            st.public
                .iter()
                .all(|p| !case.program.inputs.contains(&p.tensor)
                    || case.program.outputs.contains(&p.tensor)),
            "{}: the statement shows an input",
            case.name
        );
        let bytes = proof.to_bytes();
        let parsed = ProgramProof::from_bytes(&bytes).unwrap();
        GkrBackend
            .verify(&vk, &st, &parsed)
            .unwrap_or_else(|e| panic!("{}: verify failed: {e}", case.name));
        for (o, id) in outputs.iter().zip(&case.program.outputs) {
            let p = st.public.iter().find(|p| p.tensor == *id).unwrap();
            assert_eq!(p.values, o.data, "{}: output differs", case.name);
        }
        let mut bad = st.clone();
        let last = bad.public.last_mut().unwrap();
        let info = &case.program.tensors[last.tensor.index()];
        let v = &mut last.values[0];
        *v = if *v == info.range.hi { *v - 1 } else { *v + 1 };
        assert!(
            GkrBackend.verify(&vk, &bad, &parsed).is_err(),
            "{}: tampered output accepted",
            case.name
        );
        for k in 0..8 {
            let mut b = bytes.clone();
            let at = (k * 7919 + 13) % b.len();
            b[at] ^= 1 << (k % 8);
            if let Ok(p) = ProgramProof::from_bytes(&b) {
                assert!(
                    GkrBackend.verify(&vk, &st, &p).is_err(),
                    "{}: byte {at} flipped and accepted",
                    case.name
                );
            }
        }
        proved += 1;
    }
    // Small columns are raised to enough variables, so every case proves.
    assert_eq!(too_small, Vec::<String>::new(), "too small to hide");
    assert_eq!(proved, op_cases().len());
}

fn honest(p: &Program, inputs: &[Tensor]) -> (GkrKey, Statement, Vec<Vec<i64>>) {
    let (pk, _) = GkrBackend.setup(p, private()).unwrap();
    let w: Witness = interp::run(p, inputs).unwrap().into();
    let (st, _) = GkrBackend.prove(&pk, &w).unwrap();
    let cols = witness::column_values(&pk.plan, &w.values).unwrap();
    (pk, st, cols)
}

fn col(key: &GkrKey, name: &str) -> usize {
    key.plan
        .columns
        .iter()
        .position(|c| c.name == name)
        .unwrap_or_else(|| panic!("no column {name}"))
}

fn assert_rejected(key: &GkrKey, st: &Statement, cols: Vec<Vec<i64>>, what: &str) {
    let proof =
        protocol::prove_columns_unchecked(&key.plan, cols, Vec::new(), &mut Transcript::new(st))
            .unwrap();
    assert!(
        GkrBackend.verify(key, st, &proof).is_err(),
        "{what}: accepted"
    );
}

fn pipeline() -> (Program, Vec<Tensor>) {
    let case = vouch_backend::conformance::pipeline().unwrap();
    (case.program, case.inputs)
}

#[test]
fn honest_columns_verify_and_every_forged_column_is_rejected() {
    let (p, inputs) = pipeline();
    let (key, st, cols) = honest(&p, &inputs);
    let proof = protocol::prove_columns_unchecked(
        &key.plan,
        cols.clone(),
        Vec::new(),
        &mut Transcript::new(&st),
    )
    .unwrap();
    GkrBackend.verify(&key, &st, &proof).unwrap();
    let forge = |name: &str, at: usize, delta: i64| {
        let mut c = cols.clone();
        c[col(&key, name)][at] += delta;
        c
    };
    assert_rejected(&key, &st, forge("x", 3, 1), "hidden input + 1");
    assert_rejected(&key, &st, forge("matmul", 5, 1), "matmul + 1");
    assert_rejected(&key, &st, forge("requant/rem", 3, 1), "remainder + 1");
    assert_rejected(&key, &st, forge("requant", 2, 1), "requant output + 1");
    assert_rejected(
        &key,
        &st,
        forge("sigmoid/multiplicities", 0, 1),
        "multiplicity + 1",
    );
    // A quotient − 1 with the remainder + 2^9 keeps the requant identity; the range check
    // on the remainder catches it.
    let (y, rem) = (col(&key, "requant"), col(&key, "requant/rem"));
    let i = (0..cols[y].len())
        .find(|&i| cols[y][i] > -64 && cols[y][i] < 63)
        .unwrap();
    let mut b = cols.clone();
    b[y][i] -= 1;
    b[rem][i] += 1 << 9;
    assert_rejected(&key, &st, b, "quotient - 1, remainder + 2^9");
    // A count moved between two entries of each range region.
    for r in &key.plan.ranges {
        let m = r.multiplicities;
        let mut c = cols.clone();
        let from = (0..c[m].len()).find(|&j| c[m][j] > 0).unwrap();
        let to = (from + 1) % c[m].len();
        c[m][from] -= 1;
        c[m][to] += 1;
        assert_rejected(&key, &st, c, "range multiplicity moved");
    }
}

/// `y = x[0] + x[1]` over u8 inputs: (300, 100) sums like (200, 200), so only the hidden
/// input's range check tells a forged input from an honest one.
fn sum_of_two_pixels() -> (Program, Vec<Tensor>) {
    let mut b = ProgramBuilder::new();
    let x = b.input("x", vec![2], Range::new(0, 255), None).unwrap();
    let sum = Op::Reduce {
        kind: vouch_ir::ReduceKind::Sum,
        axes: vec![0],
        keep_dims: false,
    };
    let y = b.node("sum", sum, &[x], None).unwrap();
    b.output(y);
    let p = b.finish().unwrap();
    (p, vec![Tensor::new(vec![2], vec![200, 200]).unwrap()])
}

#[test]
fn hidden_input_outside_its_declared_range_is_rejected() {
    let (p, inputs) = sum_of_two_pixels();
    let (key, st, cols) = honest(&p, &inputs);
    let x = col(&key, "x");
    // A u8 input is its own limb: it sits in the 8-bit range region.
    assert_eq!(key.plan.columns[x].region, Some(8));
    let region = key.plan.ranges.iter().find(|r| r.bits == 8).unwrap().region;
    let at = key.plan.columns[x].loc.unwrap().offset - key.plan.columns[region].loc.unwrap().offset;
    let mut forged = cols.clone();
    forged[x] = vec![300, 100];
    forged[region][at..at + 2].copy_from_slice(&[300, 100]);
    let proof =
        protocol::prove_columns_unchecked(&key.plan, forged, Vec::new(), &mut Transcript::new(&st))
            .unwrap();
    assert!(GkrBackend.verify(&key, &st, &proof).is_err());
    // The same columns, honest, verify.
    let proof =
        protocol::prove_columns_unchecked(&key.plan, cols, Vec::new(), &mut Transcript::new(&st))
            .unwrap();
    GkrBackend.verify(&key, &st, &proof).unwrap();
}

/// A sigmoid of 15 hidden values: the lookup columns have one padding slot (15 of 16).
fn sigmoid_of_fifteen() -> (Program, Vec<Tensor>) {
    let mut b = ProgramBuilder::new();
    let x = b.input("x", vec![3, 5], Range::new(-64, 63), None).unwrap();
    let t = vouch_ir::LookupTable::generate(
        vouch_ir::TableFn::Sigmoid,
        Range::new(-64, 63),
        1.0 / 16.0,
        1.0 / 127.0,
        Range::new(0, 127),
    );
    let y = b.node("sigmoid", Op::Lookup(t), &[x], None).unwrap();
    b.output(y);
    let xs: Vec<i64> = (0..15).map(|i| i * 8 - 60).collect();
    (
        b.finish().unwrap(),
        vec![Tensor::new(vec![3, 5], xs).unwrap()],
    )
}

/// A padding slot of a lookup column whose compressed value is 1 would make a leaf 0/0 if the
/// padding's denominator were 1 − w: the root numerator would vanish whatever the other
/// leaves, so any output would pass. Padding leaves have denominator α − w instead.
#[test]
fn a_zero_denominator_in_lookup_padding_does_not_forge_outputs() {
    let (p, inputs) = sigmoid_of_fifteen();
    let (key, st, cols) = honest(&p, &inputs);
    let x = col(&key, "x");
    let limb = col(&key, "x/above_lo/limb0");
    assert_eq!(cols[x].len(), 15);
    let mut forged = cols.clone();
    // x[15] = 1 in the padding (the range identity x + 64·[i < 15] − limb = 0 takes limb = 1
    // there), and the limb's region entry and the region's multiplicities follow.
    forged[x].push(1);
    forged[limb].push(1);
    let r = key
        .plan
        .ranges
        .iter()
        .find(|r| key.plan.columns[limb].region == Some(r.bits))
        .unwrap();
    let at =
        key.plan.columns[limb].loc.unwrap().offset - key.plan.columns[r.region].loc.unwrap().offset;
    forged[r.region][at + 15] = 1;
    forged[r.multiplicities][0] -= 1;
    forged[r.multiplicities][1] += 1;
    // The published output claims another sigmoid value for x[0].
    let mut bad = st.clone();
    let out = bad
        .public
        .iter_mut()
        .find(|t| t.tensor == p.outputs[0])
        .unwrap();
    out.values[0] += 1;
    forged[col(&key, "sigmoid")][0] += 1;
    let proof = protocol::prove_columns_unchecked(
        &key.plan,
        forged,
        Vec::new(),
        &mut Transcript::new(&bad),
    )
    .unwrap();
    assert!(
        GkrBackend.verify(&key, &bad, &proof).is_err(),
        "forged output accepted"
    );
}

#[test]
fn forged_runtime_product_is_rejected_in_zero_knowledge() {
    let mut b = ProgramBuilder::new();
    let q = b
        .input("q", vec![2, 8, 16], Range::new(-20, 20), None)
        .unwrap();
    let k = b
        .input("k", vec![2, 16, 8], Range::new(-20, 20), None)
        .unwrap();
    let acc = b.node("mm", Op::MatMul, &[q, k], None).unwrap();
    let op = Op::Requant {
        mults: vec![1],
        axis: None,
        shift: 2,
        lo: -128,
        hi: 127,
    };
    let y = b.node("rq", op, &[acc], None).unwrap();
    b.output(y);
    let p = b.finish().unwrap();
    let inputs = vec![
        Tensor::new(vec![2, 8, 16], (0..256).map(|i| i % 41 - 20).collect()).unwrap(),
        Tensor::new(
            vec![2, 16, 8],
            (0..256).map(|i| (i * 7) % 41 - 20).collect(),
        )
        .unwrap(),
    ];
    let (key, st, cols) = honest(&p, &inputs);
    let proof = protocol::prove_columns_unchecked(
        &key.plan,
        cols.clone(),
        Vec::new(),
        &mut Transcript::new(&st),
    )
    .unwrap();
    GkrBackend.verify(&key, &st, &proof).unwrap();
    for name in ["mm", "q", "k"] {
        let mut c = cols.clone();
        c[col(&key, name)][4] += 1;
        assert_rejected(&key, &st, c, name);
    }
}

#[test]
fn two_hundred_byte_mutations_and_another_statement_are_rejected() {
    let (p, inputs) = pipeline();
    let (pk, vk) = GkrBackend.setup(&p, private()).unwrap();
    let w: Witness = interp::run(&p, &inputs).unwrap().into();
    let (st, proof) = GkrBackend.prove(&pk, &w).unwrap();
    let bytes = proof.to_bytes();
    let mut checked = 0;
    for k in 0..240usize {
        let mut b = bytes.clone();
        let at = (k * 1_000_003 + k * k * 31) % b.len();
        b[at] ^= 1 << (k % 8);
        if let Ok(p) = ProgramProof::from_bytes(&b) {
            assert!(
                GkrBackend.verify(&vk, &st, &p).is_err(),
                "byte {at} accepted"
            );
            checked += 1;
        }
    }
    assert!(checked >= 200, "only {checked} mutations parsed");
    for cut in [1, 100, bytes.len() / 2] {
        assert!(ProgramProof::from_bytes(&bytes[..bytes.len() - cut]).is_err());
    }
    // The same proof under a public-input key (another policy) fails.
    let public = VisibilityPolicy {
        input: Visibility::Public,
        ..private()
    };
    let (_, vk_pub) = GkrBackend.setup(&p, public).unwrap();
    assert!(GkrBackend.verify(&vk_pub, &st, &proof).is_err());
    // Two proofs of one statement differ: the masks are fresh.
    let (_, again) = GkrBackend.prove(&pk, &w).unwrap();
    assert_ne!(again.evals, proof.evals);
}

#[test]
fn hidden_weights_are_refused_with_a_reason() {
    let (p, _) = pipeline();
    match GkrBackend.setup(&p, VisibilityPolicy::provider()) {
        Err(ProgramError::Plan(PlanError::Visibility { role, .. })) => assert_eq!(role, "weights"),
        other => panic!("provider: {other:?}"),
    }
    // The client preset (hashed input) proves: tests/linked.rs.
    assert!(GkrBackend.setup(&p, VisibilityPolicy::client()).is_ok());
}
