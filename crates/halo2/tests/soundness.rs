//! Soundness of the halo2 backend against a cheating prover or a tampered statement: every
//! check here is made by the verifier (real KZG proofs), not by a witness check.
#![allow(clippy::unwrap_used)]

use halo2_axiom::halo2curves::bn256::Fr;
use vouch_backend::conformance::op_cases;
use vouch_backend::{Backend, Statement, Visibility, VisibilityPolicy, Witness};
use vouch_halo2::config::col;
use vouch_halo2::lower::lay_out;
use vouch_halo2::{Blindings, Halo2Backend, Halo2Proof, Halo2ProvingKey, Halo2VerifyingKey, Srs};
use vouch_ir::{interp, Program};

fn backend() -> Halo2Backend {
    Halo2Backend {
        srs: Srs::InsecureDev,
    }
}

fn public_fixed() -> VisibilityPolicy {
    VisibilityPolicy {
        input: Visibility::Public,
        weights: Visibility::Fixed,
        output: Visibility::Public,
    }
}

fn case(prefix: &str) -> (Program, Witness) {
    let c = op_cases()
        .into_iter()
        .find(|c| c.name.starts_with(prefix))
        .unwrap();
    let w: Witness = interp::run(&c.program, &c.inputs).unwrap().into();
    (c.program, w)
}

/// A tiny model with a matmul, a requantization and a lookup.
fn mlp() -> (Program, Witness) {
    use vouch_ir::{LookupTable, Op, ProgramBuilder, Range, TableFn, Tensor};
    let mut b = ProgramBuilder::new();
    let x = b
        .input("x", vec![1, 6], Range::new(-128, 127), None)
        .unwrap();
    let w = b
        .weight(
            "w",
            vec![6, 4],
            (0..24).map(|i| (i * 37 % 255) - 127).collect(),
            None,
        )
        .unwrap();
    let bias = b
        .weight("b", vec![4], vec![100, -200, 300, -400], None)
        .unwrap();
    let h = b.node("mm", Op::MatMul, &[x, w, bias], None).unwrap();
    let rq = Op::Requant {
        mults: vec![20000],
        axis: None,
        shift: 22,
        lo: -64,
        hi: 63,
    };
    let q = b.node("rq", rq, &[h], None).unwrap();
    let t = LookupTable::generate(
        TableFn::Tanh,
        Range::new(-64, 63),
        1.0 / 16.0,
        1.0 / 127.0,
        Range::new(-127, 127),
    );
    let y = b.node("tanh", Op::Lookup(t), &[q], None).unwrap();
    b.output(y);
    let p = b.finish().unwrap();
    let input = Tensor::new(vec![1, 6], vec![-128, 127, 5, -77, 90, 3]).unwrap();
    let wit: Witness = interp::run(&p, &[input]).unwrap().into();
    (p, wit)
}

#[test]
fn single_byte_flips_anywhere_in_the_proof_are_rejected() {
    let (p, w) = mlp();
    let be = backend();
    let (pk, vk) = be.setup(&p, public_fixed()).unwrap();
    let (st, proof) = be.prove(&pk, &w).unwrap();
    be.verify(&vk, &st, &proof).unwrap();
    let n = proof.bytes.len();
    let positions: Vec<usize> = if n <= 400 {
        (0..n).collect()
    } else {
        (0..400).map(|i| i * n / 400).collect()
    };
    assert!(positions.len() >= 200);
    for &i in &positions {
        for bit in [0x01u8, 0x80] {
            let mut bad = proof.clone();
            bad.bytes[i] ^= bit;
            assert!(
                be.verify(&vk, &st, &bad).is_err(),
                "flip of bit {bit:#x} at byte {i} of {n} accepted"
            );
        }
    }
    let mut longer = proof.clone();
    longer.bytes.push(0);
    assert!(be.verify(&vk, &st, &longer).is_err());
    let shorter = Halo2Proof {
        bytes: proof.bytes[..n - 1].to_vec(),
    };
    assert!(be.verify(&vk, &st, &shorter).is_err());
    assert!(be.verify(&vk, &st, &Halo2Proof { bytes: vec![] }).is_err());
}

#[test]
fn tampered_statements_are_rejected() {
    let (p, w) = mlp();
    let be = backend();
    let (pk, vk) = be.setup(&p, public_fixed()).unwrap();
    let (st, proof) = be.prove(&pk, &w).unwrap();
    let check = |f: &dyn Fn(&mut Statement), what: &str| {
        let mut s = st.clone();
        f(&mut s);
        assert!(be.verify(&vk, &s, &proof).is_err(), "{what} accepted");
    };
    check(&|s| s.public[1].values[0] += 1, "changed public output");
    check(&|s| s.public[0].values[2] += 1, "changed public input");
    check(
        &|s| s.public[0].values[2] = 1000,
        "out-of-range public input",
    );
    check(&|s| s.program_digest.0[0] ^= 1, "other model digest");
    check(&|s| s.params_digest[5] ^= 1, "other parameters digest");
    check(&|s| s.insecure_setup = false, "setup claimed secure");
    check(&|s| s.public.swap(0, 1), "reordered public tensors");
    check(&|s| s.backend = "gkr".into(), "other backend");
}

#[test]
fn another_models_key_is_rejected() {
    let (p, w) = mlp();
    let (p2, w2) = case("MatMul/weights");
    let be = backend();
    let (pk, _) = be.setup(&p, public_fixed()).unwrap();
    let (_, vk2) = be.setup(&p2, public_fixed()).unwrap();
    let (st, proof) = be.prove(&pk, &w).unwrap();
    assert!(be.verify(&vk2, &st, &proof).is_err());
    // Same program shape, other fixed weights: the key differs and the proof does not carry.
    let mut p3 = p.clone();
    let wid = p3.tensors.iter().position(|t| t.name == "w").unwrap();
    p3.weights[wid].as_mut().unwrap()[0] += 1;
    let (_, vk3) = be.setup(&p3, public_fixed()).unwrap();
    let mut st3 = st.clone();
    st3.program_digest = p3.digest();
    st3.params_digest = vk3.info.params_digest(&vk3.vk);
    assert!(be.verify(&vk3, &st3, &proof).is_err());
    let _ = w2;
}

#[test]
fn proving_other_weights_under_a_published_commitment_is_rejected() {
    let (p, w) = mlp();
    let be = backend();
    let policy = VisibilityPolicy::provider();
    let (pk, vk) = be.setup(&p, policy).unwrap();
    let blind = Blindings {
        weights: Fr::from(123456789u64),
        ..Blindings::default()
    };
    let (st, proof) = be.prove_with(&pk, &w, &blind).unwrap();
    be.verify(&vk, &st, &proof).unwrap();
    let published = st.commitments[0].clone();

    // The cheater swaps in different weights (same shapes, so the same verifying key).
    let mut cheap = p.clone();
    let wid = cheap.tensors.iter().position(|t| t.name == "w").unwrap();
    for v in cheap.weights[wid].as_mut().unwrap().iter_mut() {
        *v /= 2;
    }
    let mut cheat_pk = vk.proving_key(&p).unwrap();
    cheat_pk.program = std::sync::Arc::new(cheap.clone());
    let input = vouch_ir::Tensor::new(vec![1, 6], w.values[0].clone()).unwrap();
    let cw: Witness = interp::run(&cheap, &[input]).unwrap().into();
    let (mut cst, cproof) = be.prove_with(&cheat_pk, &cw, &blind).unwrap();
    // Its proof verifies only under a different commitment...
    be.verify(&vk, &cst, &cproof).unwrap();
    assert_ne!(cst.commitments[0], published);
    // ...and claiming the published one is rejected.
    cst.commitments[0] = published;
    assert!(be.verify(&vk, &cst, &cproof).is_err());
}

/// Proves an edited layout as a cheating prover would and expects the verifier to refuse.
fn cheat(p: &Program, w: &Witness, edit: impl Fn(&mut vouch_halo2::layout::Layout)) {
    let be = backend();
    let (pk, vk) = be.setup(p, public_fixed()).unwrap();
    let (st, _) = be.prove(&pk, w).unwrap();
    let mut layout = lay_out(
        p,
        public_fixed(),
        &w.values,
        pk.info.shape,
        &Blindings::default(),
    )
    .unwrap();
    edit(&mut layout);
    assert_refused(&pk, &vk, layout, &st, "cheating proof");
}

/// Proves `layout` against `statement` as a cheating prover would; the verifier must refuse
/// the result. (halo2 may also refuse to prove at all; either way nothing is accepted.)
fn assert_refused(
    pk: &Halo2ProvingKey,
    vk: &Halo2VerifyingKey,
    layout: vouch_halo2::layout::Layout,
    statement: &Statement,
    what: &str,
) {
    if let Ok(proof) = Halo2Backend::prove_layout(pk, layout, statement) {
        assert!(
            backend().verify(vk, statement, &proof).is_err(),
            "{what} accepted"
        );
    }
}

#[test]
fn forged_matmul_result_is_rejected_by_the_verifier() {
    let (p, w) = mlp();
    cheat(&p, &w, |l| {
        // The first dot product's result in the accumulator column, and every copy of it.
        let acc = &mut l.adv[col::ACC];
        let row = acc.iter().position(|v| *v != Fr::zero()).unwrap();
        let old = acc[row];
        for c in l.adv.iter_mut() {
            for v in c.iter_mut() {
                if *v == old {
                    *v += Fr::one();
                }
            }
        }
    });
}

#[test]
fn wrong_requant_remainder_is_rejected_by_the_verifier() {
    let (p, w) = mlp();
    // q + 1 with r - 2^shift keeps `x m + h = q 2^s + r` true: only the range check catches it.
    cheat(&p, &w, |l| {
        let two_s = Fr::from(1u64 << 22);
        let (row, lane) = find_division(l);
        l.adv[lane + 1][row] += Fr::one();
        l.adv[lane + 2][row] -= two_s;
    });
}

#[test]
fn out_of_table_lookup_is_rejected_by_the_verifier() {
    let (p, w) = mlp();
    cheat(&p, &w, |l| {
        let fy = &mut l.adv[col::FY];
        let row = fy.iter().position(|v| *v != Fr::zero()).unwrap();
        fy[row] += Fr::from(3);
    });
}

/// Row and first lane of the first requantization triple (x, q, r).
fn find_division(l: &vouch_halo2::layout::Layout) -> (usize, usize) {
    let column = vouch_halo2::layout::fx::S_DIV;
    let row = l.fixed[column].first().unwrap().0 as usize;
    (row, 0)
}

/// A product `x W` checked with Freivalds' algorithm, with its witness and operands.
struct WideProduct {
    p: Program,
    w: Witness,
    xv: Vec<i64>,
    wv: Vec<i64>,
    /// `(m, k, n)`: `x` is `m x k`, `W` is `k x n`.
    dims: (usize, usize, usize),
}

/// An 8x16 by 16x8 product.
fn wide_product() -> WideProduct {
    use vouch_ir::{Op, ProgramBuilder, Range};
    let (m, k, n) = (8usize, 16usize, 8usize);
    let mut b = ProgramBuilder::new();
    let x = b
        .input("x", vec![m, k], Range::new(-128, 127), None)
        .unwrap();
    let wv: Vec<i64> = (0..(k * n) as i64).map(|i| (i * 53 % 255) - 127).collect();
    let w = b.weight("w", vec![k, n], wv.clone(), None).unwrap();
    let y = b.node("mm", Op::MatMul, &[x, w], None).unwrap();
    b.output(y);
    let p = b.finish().unwrap();
    let xv: Vec<i64> = (0..(m * k) as i64).map(|i| (i * 29 % 251) - 125).collect();
    let input = vouch_ir::Tensor::new(vec![m, k], xv.clone()).unwrap();
    let w: Witness = interp::run(&p, &[input]).unwrap().into();
    WideProduct {
        p,
        w,
        xv,
        wv,
        dims: (m, k, n),
    }
}

/// Freivalds' check takes its vectors from the transcript: a product that fools the check
/// with a fixed vector (here all ones: a row's sum is kept while two entries change) is
/// rejected, because the challenges are drawn after the forged product is committed. The
/// output is private here so that the forged cells feed nothing but the check itself.
#[test]
fn forged_product_that_fools_a_fixed_freivalds_vector_is_rejected() {
    let WideProduct {
        p,
        w,
        xv,
        wv,
        dims: (m, k, n),
    } = wide_product();
    let policy = VisibilityPolicy {
        output: Visibility::Private,
        ..public_fixed()
    };
    let be = backend();
    let (pk, vk) = be.setup(&p, policy).unwrap();
    assert!(
        pk.info.shape.gates & vouch_halo2::config::gate::FREIVALDS != 0,
        "this product should be checked with Freivalds' algorithm"
    );
    let (st, proof) = be.prove(&pk, &w).unwrap();
    be.verify(&vk, &st, &proof).unwrap();

    // The forgery: C[0][0] + 1 and C[0][1] - 1. With r = (1, ..., 1), A (B r) = C r still.
    let mut c = w.values[p.outputs[0].index()].clone();
    c[0] += 1;
    c[1] -= 1;
    for i in 0..m {
        let ab_r: i64 = (0..k)
            .map(|t| xv[i * k + t] * (0..n).map(|j| wv[t * n + j]).sum::<i64>())
            .sum();
        let c_r: i64 = c[i * n..(i + 1) * n].iter().sum();
        assert_eq!(ab_r, c_r, "the all-ones vector must not see the forgery");
    }
    let mut layout = lay_out(&p, policy, &w.values, pk.info.shape, &Blindings::default()).unwrap();
    let cells = layout.outputs[0].clone();
    for (cell, delta) in [(cells[0], Fr::one()), (cells[1], -Fr::one())] {
        let vouch_halo2::layout::El::Cell(loc) = cell.el else {
            panic!("a Freivalds output is a witness cell");
        };
        layout.adv[loc.col as usize][loc.row as usize] += delta;
    }
    assert_refused(&pk, &vk, layout, &st, "forged product");
}

/// Public values are packed many to an instance row. Without range checks in the circuit a
/// prover could run the model on other inputs that pack to the same field element (one
/// element + 2^bits, the next - 1) and claim the outputs of that run for the published
/// inputs; the range check of public inputs refuses such a witness.
#[test]
fn public_inputs_that_alias_under_packing_are_rejected() {
    let WideProduct {
        p,
        w,
        xv,
        wv,
        dims: (m, k, n),
    } = wide_product();
    let be = backend();
    let (pk, vk) = be.setup(&p, public_fixed()).unwrap();
    let (st, _) = be.prove(&pk, &w).unwrap();
    let bits = vouch_halo2::poseidon::Packing::new(-128, 127).bits;
    let mut forged_x = xv.clone();
    forged_x[0] += 1 << bits;
    forged_x[1] -= 1;
    assert!(forged_x[0] > 127 && forged_x[1] >= -128);
    let forged_y: Vec<i64> = (0..m * n)
        .map(|ij| {
            (0..k)
                .map(|t| forged_x[ij / n * k + t] * wv[t * n + ij % n])
                .sum()
        })
        .collect();
    let out = p.outputs[0].index();
    assert_ne!(
        forged_y, w.values[out],
        "the forgery must claim other outputs"
    );
    let mut values = w.values.clone();
    values[p.inputs[0].index()] = forged_x;
    values[out] = forged_y.clone();
    // The statement keeps the published inputs and claims the forged run's outputs.
    let mut claimed = st.clone();
    claimed.public.last_mut().unwrap().values = forged_y;
    let layout = lay_out(
        &p,
        public_fixed(),
        &values,
        pk.info.shape,
        &Blindings::default(),
    )
    .unwrap();
    let inst = vouch_halo2::backend::instances(&claimed, &pk.info.public);
    assert_eq!(
        inst[vouch_halo2::circuit::DIGEST_ROWS..],
        layout.public_values[..],
        "the forged run packs to the claimed statement"
    );
    assert_refused(&pk, &vk, layout, &claimed, "aliased public input");
}
