//! The shared conformance suite on the gkr backend (public inputs and outputs, fixed weights):
//! every supported op case proves, verifies and carries the interpreter's outputs; the cases
//! the backend cannot lower yet are refused with a typed error, and their list is pinned here
//! so it only shrinks. Tampered outputs and proof bytes are rejected.
#![allow(clippy::unwrap_used)]

use vouch_backend::conformance::op_cases;
use vouch_backend::{Backend, Visibility, VisibilityPolicy, Witness};
use vouch_gkr::backend::GkrBackend;
use vouch_gkr::program::{PlanError, ProgramError, ProgramProof};
use vouch_ir::interp;

mod common;

fn public_policy() -> VisibilityPolicy {
    VisibilityPolicy {
        input: Visibility::Public,
        weights: Visibility::Fixed,
        output: Visibility::Public,
    }
}

/// Op cases without a gkr lowering yet (refused at setup with `PlanError::Unsupported`).
const NOT_YET: &[&str] = &[];

#[test]
fn conformance_cases_prove_verify_and_match_the_interpreter() {
    let mut refused = Vec::new();
    let mut proved = 0;
    for case in op_cases() {
        let (pk, vk) = match GkrBackend.setup(&case.program, public_policy()) {
            Ok(k) => k,
            Err(ProgramError::Plan(PlanError::Unsupported { .. })) => {
                refused.push(case.name.clone());
                continue;
            }
            Err(e) => panic!("{}: setup failed: {e}", case.name),
        };
        let trace = interp::run(&case.program, &case.inputs).unwrap();
        let outputs = trace.outputs();
        let w: Witness = trace.into();
        let (st, proof) = GkrBackend
            .prove(&pk, &w)
            .unwrap_or_else(|e| panic!("{}: prove failed: {e}", case.name));
        let bytes = proof.to_bytes();
        let parsed = ProgramProof::from_bytes(&bytes).unwrap();
        GkrBackend
            .verify(&vk, &st, &parsed)
            .unwrap_or_else(|e| panic!("{}: verify failed: {e}", case.name));
        // The statement's outputs are the interpreter's, bit for bit.
        for (o, id) in outputs.iter().zip(&case.program.outputs) {
            let p = st.public.iter().find(|p| p.tensor == *id).unwrap();
            assert_eq!(p.values, o.data, "{}: output differs", case.name);
        }
        // A changed output value is rejected.
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
        // Sampled single-byte changes are rejected.
        for k in 0..12 {
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
    assert_eq!(refused, NOT_YET, "cases refused by the gkr lowering");
    assert!(proved > 0);
}

// ----- a cheating prover -----------------------------------------------------------------

use vouch_backend::Statement;
use vouch_gkr::backend::GkrKey;
use vouch_gkr::program::{protocol, witness};
use vouch_gkr::transcript::Transcript;
use vouch_ir::{Op, Program, ProgramBuilder, Range, Tensor};

/// The shared pipeline (matmul + bias → clamping requant → sigmoid table): every
/// intermediate is committed, the matmul product, the requant output and remainder, the
/// table's multiplicities, the range limbs.
fn pipeline() -> (Program, Vec<Tensor>) {
    let case = vouch_backend::conformance::pipeline().unwrap();
    (case.program, case.inputs)
}

fn honest(p: &Program, inputs: &[Tensor]) -> (GkrKey, Statement, Vec<Vec<i64>>) {
    let (pk, _) = GkrBackend.setup(p, public_policy()).unwrap();
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

/// Proves the tampered columns as a cheating prover would and asserts the verifier rejects.
fn assert_rejected(key: &GkrKey, st: &Statement, cols: Vec<Vec<i64>>, what: &str) {
    let proof =
        protocol::prove_columns_unchecked(&key.plan, cols, Vec::new(), &mut Transcript::new(st))
            .unwrap();
    let r = GkrBackend.verify(key, st, &proof);
    assert!(r.is_err(), "{what}: accepted");
}

#[test]
fn honest_pipeline_verifies_through_the_unchecked_path() {
    let (p, inputs) = pipeline();
    let (key, st, cols) = honest(&p, &inputs);
    let proof =
        protocol::prove_columns_unchecked(&key.plan, cols, Vec::new(), &mut Transcript::new(&st))
            .unwrap();
    GkrBackend.verify(&key, &st, &proof).unwrap();
}

#[test]
fn forged_matmul_product_is_rejected() {
    let (p, inputs) = pipeline();
    let (key, st, mut cols) = honest(&p, &inputs);
    cols[col(&key, "matmul")][5] += 1;
    assert_rejected(&key, &st, cols, "matmul product + 1");
}

#[test]
fn wrong_requant_remainder_is_rejected() {
    let (p, inputs) = pipeline();
    let (key, st, cols) = honest(&p, &inputs);
    let rem = col(&key, "requant/rem");
    let y = col(&key, "requant");
    // A remainder off by one; and the quotient moved by one with the remainder compensating
    // (out of [0, 2^9)), so the requant identity itself still holds.
    let mut a = cols.clone();
    a[rem][3] += 1;
    assert_rejected(&key, &st, a, "remainder + 1");
    let mut b = cols.clone();
    let i = (0..cols[y].len())
        .find(|&i| cols[y][i] > -64 && cols[y][i] < 63)
        .unwrap();
    b[y][i] -= 1;
    b[rem][i] += 1 << 9;
    assert_rejected(&key, &st, b, "quotient - 1, remainder + 2^9");
}

#[test]
fn forged_lookup_multiplicities_are_rejected() {
    let (p, inputs) = pipeline();
    let (key, st, cols) = honest(&p, &inputs);
    let ranges: Vec<String> = key
        .plan
        .ranges
        .iter()
        .map(|r| key.plan.columns[r.multiplicities].name.clone())
        .collect();
    assert!(!ranges.is_empty());
    for name in ["sigmoid/multiplicities"]
        .into_iter()
        .chain(ranges.iter().map(String::as_str))
    {
        let m = col(&key, name);
        let mut c = cols.clone();
        let j = c[m].iter().position(|&v| v > 0).unwrap();
        c[m][j] -= 1;
        let n = c[m].len();
        c[m][(j + 1) % n] += 1;
        assert_rejected(&key, &st, c, name);
    }
}

#[test]
fn wrong_table_output_is_rejected() {
    let (p, inputs) = pipeline();
    // The table output is public: a statement with another output value is rejected.
    let (key, st, _) = honest(&p, &inputs);
    let w: Witness = interp::run(&p, &inputs).unwrap().into();
    let (_, proof) = GkrBackend.prove(&key, &w).unwrap();
    let mut bad = st.clone();
    bad.public.last_mut().unwrap().values[2] ^= 1;
    assert!(GkrBackend.verify(&key, &bad, &proof).is_err());
}

#[test]
fn two_hundred_byte_mutations_and_other_keys_are_rejected() {
    let (p, inputs) = pipeline();
    let (key, st, _) = honest(&p, &inputs);
    let w: Witness = interp::run(&p, &inputs).unwrap().into();
    let (_, proof) = GkrBackend.prove(&key, &w).unwrap();
    let bytes = proof.to_bytes();
    let mut parsed_and_rejected = 0;
    for k in 0..240usize {
        let mut b = bytes.clone();
        let at = (k.wrapping_mul(0x9e37_79b9) + k * k) % b.len();
        b[at] = b[at].wrapping_add(1 + (k % 255) as u8);
        if let Ok(p) = ProgramProof::from_bytes(&b) {
            assert!(
                GkrBackend.verify(&key, &st, &p).is_err(),
                "byte {at} changed and accepted"
            );
            parsed_and_rejected += 1;
        }
    }
    for cut in [0, 5, 37, bytes.len() / 2, bytes.len() - 1] {
        assert!(ProgramProof::from_bytes(&bytes[..cut]).is_err());
    }
    assert!(parsed_and_rejected > 0);
    // Another program's key, a statement with another digest or backend: rejected.
    let (other, _) = GkrBackend
        .setup(&op_cases()[0].program, public_policy())
        .unwrap();
    assert!(GkrBackend.verify(&other, &st, &proof).is_err());
    let mut s = st.clone();
    s.program_digest.0[0] ^= 1;
    assert!(GkrBackend.verify(&key, &s, &proof).is_err());
    let mut s = st.clone();
    s.backend = "halo2".into();
    assert!(GkrBackend.verify(&key, &s, &proof).is_err());
    // Hidden tensors are refused until the sumchecks are masked.
    assert!(matches!(
        GkrBackend.setup(&p, VisibilityPolicy::provider()),
        Err(ProgramError::Plan(PlanError::Visibility { .. }))
    ));
}

#[test]
fn forged_runtime_product_is_rejected() {
    // q[2,3,4] @ k[2,4,3] (both run-time) → requant → output; the padded product is committed.
    let mut b = ProgramBuilder::new();
    let q = b
        .input("q", vec![2, 3, 4], Range::new(-20, 20), None)
        .unwrap();
    let k = b
        .input("k", vec![2, 4, 3], Range::new(-20, 20), None)
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
        Tensor::new(vec![2, 3, 4], (0..24).map(|i| i % 41 - 20).collect()).unwrap(),
        Tensor::new(vec![2, 4, 3], (0..24).map(|i| (i * 7) % 41 - 20).collect()).unwrap(),
    ];
    let (key, st, cols) = honest(&p, &inputs);
    for name in ["mm/product", "mm"] {
        let mut c = cols.clone();
        c[col(&key, name)][4] += 1;
        assert_rejected(&key, &st, c, name);
    }
}

#[test]
fn non_integer_quotient_is_rejected() {
    use p3_field::{Field, PrimeCharacteristicRing};
    use vouch_gkr::field::{embed, to_signed, F};
    use vouch_ir::ReduceKind;
    // x @ w → requant that never clamps → row sums (public). A cheating prover moves one
    // remainder up and another down by one and the quotients by ∓2^-9 in the field: every
    // identity and the row sums still hold, only the bound on the quotient catches it.
    let mut b = ProgramBuilder::new();
    let x = b.input("x", vec![2, 8], Range::new(-50, 50), None).unwrap();
    let w = b
        .weight("w", vec![8, 4], (0..32).map(|i| i % 9 - 4).collect(), None)
        .unwrap();
    let acc = b.node("mm", Op::MatMul, &[x, w], None).unwrap();
    let q = Op::Requant {
        mults: vec![5],
        axis: None,
        shift: 9,
        lo: -1000,
        hi: 1000,
    };
    let y = b.node("rq", q, &[acc], None).unwrap();
    let sum = Op::Reduce {
        kind: ReduceKind::Sum,
        axes: vec![1],
        keep_dims: false,
    };
    let z = b.node("sum", sum, &[y], None).unwrap();
    b.output(z);
    let p = b.finish().unwrap();
    let inputs =
        vec![Tensor::new(vec![2, 8], (0..16).map(|i| i * 13 % 101 - 50).collect()).unwrap()];
    let (key, st, mut cols) = honest(&p, &inputs);
    let (yc, rc) = (col(&key, "rq"), col(&key, "rq/rem"));
    let (i, j) = (0, 1);
    assert!(cols[rc][i] < 511 && cols[rc][j] > 0, "pick other entries");
    let inv = F::from_u64(1 << 9).inverse();
    cols[rc][i] += 1;
    cols[rc][j] -= 1;
    cols[yc][i] = to_signed(embed(cols[yc][i]) - inv);
    cols[yc][j] = to_signed(embed(cols[yc][j]) + inv);
    // Limbs of the remainder follow the new remainder, as a cheating prover would make them.
    for e in [i, j] {
        let v = cols[rc][e];
        set_limbs(&key, &mut cols, "rq/rem", e, v);
    }
    assert_rejected(&key, &st, cols, "non-integer quotient");
}

/// Sets entry `e` of every limb column of the range check named `prefix` to the limbs of `v`.
fn set_limbs(key: &GkrKey, cols: &mut [Vec<i64>], prefix: &str, e: usize, v: i64) {
    use vouch_gkr::program::plan::Fill;
    for c in 0..key.plan.columns.len() {
        let column = &key.plan.columns[c];
        if !column.name.starts_with(&format!("{prefix}/limb")) {
            continue;
        }
        let Some(Fill::Limb { shift, bits, .. }) = column.fill else {
            panic!("{} is no limb", column.name)
        };
        set_limb(key, cols, c, e, (v >> shift) & ((1 << bits) - 1));
    }
}

/// Sets entry `e` of limb column `c` as a cheating prover would: in the column, in the range
/// region that is committed, and in the range multiplicities.
fn set_limb(key: &GkrKey, cols: &mut [Vec<i64>], c: usize, e: usize, v: i64) {
    let bits = key.plan.columns[c].region.unwrap();
    let r = key.plan.ranges.iter().find(|r| r.bits == bits).unwrap();
    let (region, mults) = (r.region, r.multiplicities);
    let old = cols[c][e];
    cols[c][e] = v;
    let at = key.plan.columns[c].loc.unwrap().offset - key.plan.columns[region].loc.unwrap().offset;
    cols[region][at + e] = v;
    cols[mults][old as usize] -= 1;
    cols[mults][v as usize] += 1;
}

#[test]
fn public_input_outside_its_declared_range_is_rejected() {
    let (p, inputs) = pipeline();
    let (key, st, _) = honest(&p, &inputs);
    let mut bad = st.clone();
    let x = bad
        .public
        .iter_mut()
        .find(|t| p.inputs.contains(&t.tensor))
        .unwrap();
    x.values[0] = 128; // declared [-128, 127]
    let proof = GkrBackend
        .prove(&key, &interp::run(&p, &inputs).unwrap().into())
        .unwrap()
        .1;
    let err = GkrBackend.verify(&key, &bad, &proof).unwrap_err();
    assert!(
        err.to_string().contains("outside its declared range"),
        "{err}"
    );
}

#[test]
fn wiring_and_fixed_weight_chains_are_fused_and_still_bind_the_input() {
    use vouch_gkr::program::plan::Source;
    let (p, inputs) = common::filter_chain();
    let (key, st, cols) = honest(&p, &inputs);
    for name in ["crop", "gather0", "gather1", "mul0", "mul1"] {
        let c = &key.plan.columns[col(&key, name)];
        assert!(matches!(c.source, Source::Fused), "{name} is committed");
        assert!(c.loc.is_none(), "{name} has a place in the trace");
    }
    assert!(matches!(
        key.plan.columns[col(&key, "add")].source,
        Source::Committed
    ));
    // One linear constraint from the input to the sum remains, with both taps in one map.
    let linear: Vec<_> = key
        .plan
        .constraints
        .iter()
        .filter_map(|c| match c {
            vouch_gkr::program::plan::Constraint::Linear { inputs, .. } => Some(inputs),
            _ => None,
        })
        .collect();
    assert_eq!(linear.len(), 1);
    assert_eq!(linear[0].len(), 1);
    assert_eq!(linear[0][0].map.kind(), "Taps");
    let proof = protocol::prove_columns_unchecked(
        &key.plan,
        cols.clone(),
        Vec::new(),
        &mut Transcript::new(&st),
    )
    .unwrap();
    GkrBackend.verify(&key, &st, &proof).unwrap();
    let mut forged = cols.clone();
    forged[col(&key, "add")][4] += 8;
    forged[col(&key, "requant")][4] += 1;
    let mut st2 = st.clone();
    // The output is public: the forged sum needs a forged statement to stay consistent.
    let out = st2
        .public
        .iter_mut()
        .find(|t| t.tensor == p.outputs[0])
        .unwrap();
    out.values[4] += 1;
    assert_rejected(&key, &st2, forged, "sum + 8 with output + 1");
}
