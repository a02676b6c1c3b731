//! The shared conformance suite on halo2: every IR op kind lays out into a circuit that
//! halo2's MockProver accepts, real KZG proofs verify, and the public outputs equal the
//! reference interpreter's.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use halo2_axiom::dev::MockProver;
use vouch_backend::conformance::op_cases;
use vouch_backend::{Backend, Visibility, VisibilityPolicy, Witness};
use vouch_halo2::circuit::{VouchCircuit, DIGEST_ROWS};
use vouch_halo2::config::{LANE_CHOICES, RANGE_LANE_CHOICES};
use vouch_halo2::lower::lay_out;
use vouch_halo2::{plan, plan_with_lanes, Blindings, Halo2Backend, Srs};
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
        // Every general lane count, each paired with a different range lane count.
        let shapes = LANE_CHOICES
            .into_iter()
            .zip(RANGE_LANE_CHOICES.into_iter().cycle().skip(1));
        for (policy, (lanes, range_lanes)) in [public_all(), fixed_weights()]
            .into_iter()
            .flat_map(|p| shapes.clone().map(move |s| (p, s)))
        {
            let trace = interp::run(&case.program, &case.inputs).unwrap();
            let w: Witness = trace.into();
            let p = plan_with_lanes(&case.program, policy, &[lanes], &[range_lanes]).unwrap();
            assert_eq!((p.shape.lanes, p.shape.range_lanes), (lanes, range_lanes));
            let layout = lay_out(
                &case.program,
                policy,
                &w.values,
                p.shape,
                &Blindings::default(),
            )
            .unwrap();
            let mut inst = vec![halo2_axiom::halo2curves::bn256::Fr::zero(); DIGEST_ROWS];
            inst.extend(layout.public_values.iter().copied());
            let circuit = VouchCircuit {
                layout: Arc::new(layout),
                shape: p.shape,
            };
            let prover = MockProver::run(p.k, &circuit, vec![inst]).unwrap();
            if let Err(e) = prover.verify() {
                panic!(
                    "{} ({policy:?}, {lanes} + {range_lanes} range lanes): {:?}",
                    case.name,
                    &e[..e.len().min(3)]
                );
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
        let honest = lay_out(
            &case.program,
            policy,
            &w.values,
            p.shape,
            &Blindings::default(),
        )
        .unwrap();
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
            let mut layout = lay_out(
                &case.program,
                policy,
                &w.values,
                p.shape,
                &Blindings::default(),
            )
            .unwrap();
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

#[test]
fn poseidon_matches_the_reference_implementation() {
    use halo2_axiom::halo2curves::bn256::Fr;
    use poseidon_primitives::poseidon::primitives::{ConstantLength, Hash};
    use vouch_halo2::poseidon::{permute, VouchPoseidon};
    let state = [Fr::from(1), Fr::from(2), Fr::from(3)];
    let mut want = state;
    Hash::<Fr, VouchPoseidon, ConstantLength<2>, 3, 2>::init().permute(&mut want);
    assert_eq!(permute(&state), want);
    assert_ne!(permute(&state), state);
}

#[test]
fn hashed_policies_prove_and_bind_the_commitment() {
    use vouch_backend::Role;
    let backend = Halo2Backend {
        srs: Srs::InsecureDev,
    };
    // A small model with weights and a bias: the provider and client presets.
    let case = op_cases()
        .into_iter()
        .find(|c| c.name.starts_with("MatMul/weights"))
        .unwrap();
    let w: Witness = interp::run(&case.program, &case.inputs).unwrap().into();
    for policy in [VisibilityPolicy::provider(), VisibilityPolicy::client()] {
        let (pk, vk) = backend.setup(&case.program, policy).unwrap();
        let blindings = Blindings {
            input: 11u64.into(),
            weights: 22u64.into(),
            output: 33u64.into(),
        };
        let (st, proof) = backend.prove_with(&pk, &w, &blindings).unwrap();
        backend.verify(&vk, &st, &proof).unwrap();
        let role = if policy.weights == Visibility::Hashed {
            Role::Weights
        } else {
            Role::Input
        };
        let c = st.commitments.iter().find(|c| c.role == role).unwrap();
        let b = if role == Role::Weights {
            blindings.weights
        } else {
            blindings.input
        };
        let native = vouch_halo2::native_commitment(&case.program, &w.values, role, b);
        assert_eq!(c.bytes, vouch_halo2::field::to_bytes(&native).to_vec());
        // Another blinding gives another commitment; a changed commitment is rejected.
        let (st2, _) = backend.prove_with(&pk, &w, &Blindings::default()).unwrap();
        assert_ne!(st2.commitments, st.commitments);
        let mut forged = st.clone();
        forged.commitments[0].bytes = st2.commitments[0].bytes.clone();
        assert!(backend.verify(&vk, &forged, &proof).is_err());
    }
}

/// The products the shared suite makes wide enough are checked with Freivalds' algorithm
/// under both kinds of weights (cells, and constants of the key), and still prove.
#[test]
fn wide_products_use_freivalds() {
    use vouch_halo2::config::gate::FREIVALDS;
    let wide: Vec<_> = op_cases()
        .into_iter()
        .filter(|c| c.name.contains("/wide"))
        .collect();
    assert_eq!(wide.len(), 3);
    for case in wide {
        for policy in [public_all(), fixed_weights()] {
            let p = plan(&case.program, policy).unwrap();
            assert!(
                p.shape.gates & FREIVALDS != 0,
                "{} ({policy:?}) is not checked with Freivalds",
                case.name
            );
        }
    }
}
