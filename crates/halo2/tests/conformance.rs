//! The shared conformance suite on halo2: every IR op kind lays out into a circuit that
//! halo2's MockProver accepts, real KZG proofs verify, and the public outputs equal the
//! reference interpreter's.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use halo2_axiom::dev::MockProver;
use vouch_backend::conformance::op_cases;
use vouch_backend::{Backend, Visibility, VisibilityPolicy, Witness};
use vouch_halo2::circuit::{VouchCircuit, DIGEST_ROWS};
use vouch_halo2::lower::lay_out;
use vouch_halo2::{plan, Halo2Backend, Srs};
use vouch_ir::interp;

fn public_all() -> VisibilityPolicy {
    VisibilityPolicy {
        input: Visibility::Public,
        weights: Visibility::Private,
        output: Visibility::Public,
    }
}

fn fixed_weights() -> VisibilityPolicy {
    VisibilityPolicy {
        input: Visibility::Private,
        weights: Visibility::Fixed,
        output: Visibility::Public,
    }
}

#[test]
fn every_op_satisfies_the_mock_prover() {
    for case in op_cases() {
        for policy in [public_all(), fixed_weights()] {
            let trace = interp::run(&case.program, &case.inputs).unwrap();
            let w: Witness = trace.into();
            let p = plan(&case.program, policy).unwrap();
            let layout = lay_out(&case.program, policy, &w.values, p.shape.range_bits).unwrap();
            let mut inst = vec![halo2_axiom::halo2curves::bn256::Fr::zero(); DIGEST_ROWS];
            inst.extend(layout.public_values.iter().copied());
            let circuit = VouchCircuit {
                layout: Arc::new(layout),
                shape: p.shape,
            };
            let prover = MockProver::run(p.k, &circuit, vec![inst]).unwrap();
            if let Err(e) = prover.verify() {
                panic!("{} ({policy:?}): {:?}", case.name, &e[..e.len().min(3)]);
            }
        }
    }
}

#[test]
fn every_op_proves_and_verifies_with_kzg() {
    let backend = Halo2Backend {
        srs: Srs::InsecureDev,
    };
    for case in op_cases() {
        let (pk, vk) = backend.setup(&case.program, public_all()).unwrap();
        let trace = interp::run(&case.program, &case.inputs).unwrap();
        let expected: Vec<Vec<i64>> = trace.outputs().into_iter().map(|t| t.data).collect();
        let w: Witness = trace.into();
        let (st, proof) = backend.prove(&pk, &w).unwrap();
        backend
            .verify(&vk, &st, &proof)
            .unwrap_or_else(|e| panic!("{}: {e}", case.name));
        let out = st.public.last().unwrap();
        assert_eq!(out.values, expected[0], "{}", case.name);
    }
}

#[test]
fn a_changed_advice_value_fails_the_mock_prover_in_every_case() {
    use halo2_axiom::halo2curves::bn256::Fr;
    for case in op_cases() {
        let policy = public_all();
        let w: Witness = interp::run(&case.program, &case.inputs).unwrap().into();
        let p = plan(&case.program, policy).unwrap();
        let honest = lay_out(&case.program, policy, &w.values, p.shape.range_bits).unwrap();
        let mut inst = vec![Fr::zero(); DIGEST_ROWS];
        inst.extend(honest.public_values.iter().copied());
        // Change every 3rd assigned (non-zero) advice cell in turn, one at a time.
        let cells: Vec<(usize, usize)> = honest
            .adv
            .iter()
            .enumerate()
            .flat_map(|(c, col)| {
                (0..col.len())
                    .filter(move |&r| col[r] != Fr::zero())
                    .map(move |r| (c, r))
            })
            .step_by(3)
            .collect();
        let mut caught = 0;
        for &(c, r) in &cells {
            let mut layout = lay_out(&case.program, policy, &w.values, p.shape.range_bits).unwrap();
            layout.adv[c][r] += Fr::one();
            let circuit = VouchCircuit {
                layout: Arc::new(layout),
                shape: p.shape,
            };
            let prover = MockProver::run(p.k, &circuit, vec![inst.clone()]).unwrap();
            if prover.verify().is_err() {
                caught += 1;
            } else {
                println!("{}: change at column {c} row {r} not caught", case.name);
            }
        }
        assert_eq!(
            caught,
            cells.len(),
            "{}: a changed cell was accepted",
            case.name
        );
    }
}
