//! Matmul proofs: completeness on many shapes, and one test per attack (forged products,
//! proof mutations, statement changes). Every rejection comes from the verifier.
#![allow(clippy::unwrap_used)]

use p3_field::{Field, PrimeCharacteristicRing};
use vouch_backend::{Statement, VisibilityPolicy};
use vouch_gkr::codec::DecodeError;
use vouch_gkr::field::EF;
use vouch_gkr::matmul::{self, MatmulClaim, MatmulError, MatmulProof, MatmulShape};
use vouch_gkr::sumcheck::SumcheckError;
use vouch_gkr::transcript::Transcript;
use vouch_ir::{interp, Digest, Op, ProgramBuilder, Range, Tensor};

mod common;
use common::Rng;

fn statement(digest_byte: u8) -> Statement {
    Statement {
        program_digest: Digest([digest_byte; 32]),
        backend: "gkr".into(),
        params_digest: [7; 32],
        visibility: VisibilityPolicy::client(),
        public: vec![],
        commitments: vec![],
        insecure_setup: false,
    }
}

struct Case {
    shape: MatmulShape,
    a: Vec<i64>,
    b: Vec<i64>,
    c: Vec<i64>,
}

impl Case {
    fn random(rng: &mut Rng, m: usize, k: usize, n: usize) -> Self {
        let shape = MatmulShape { m, k, n };
        let a = rng.matrix(m * k, 127);
        let b = rng.matrix(k * n, 127);
        let c = matmul::reference_product(shape, &a, &b);
        Case { shape, a, b, c }
    }
    fn claim(&self) -> MatmulClaim<'_> {
        MatmulClaim {
            shape: self.shape,
            a: &self.a,
            b: &self.b,
            c: &self.c,
        }
    }
}

fn prove(st: &Statement, claim: &MatmulClaim<'_>) -> MatmulProof {
    matmul::prove(&mut Transcript::new(st), claim).unwrap()
}

fn verify(st: &Statement, claim: &MatmulClaim<'_>, proof: &MatmulProof) -> Result<(), MatmulError> {
    matmul::verify(&mut Transcript::new(st), claim, proof)
}

#[test]
fn honest_proofs_verify_for_random_shapes_including_non_powers_of_two() {
    let mut rng = Rng(1);
    let st = statement(1);
    let mut shapes = vec![
        (1, 1, 1),
        (1, 5, 1),
        (2, 3, 4),
        (3, 7, 5),
        (8, 8, 8),
        (17, 33, 9),
        (64, 1, 64),
        (1, 100, 1),
        (0, 3, 2),
        (2, 0, 3),
    ];
    for _ in 0..20 {
        shapes.push((1 + rng.below(40), 1 + rng.below(40), 1 + rng.below(40)));
    }
    for (m, k, n) in shapes {
        let case = Case::random(&mut rng, m, k, n);
        let proof = prove(&st, &case.claim());
        verify(&st, &case.claim(), &proof).unwrap_or_else(|e| panic!("{m}x{k}x{n}: {e}"));
        let parsed = MatmulProof::from_bytes(&proof.to_bytes()).unwrap();
        assert_eq!(parsed, proof);
        verify(&st, &case.claim(), &parsed).unwrap();
    }
}

#[test]
fn matmul_node_of_an_ir_program_proves_against_the_interpreter_trace() {
    let mut rng = Rng(2);
    let (m, k, n) = (3, 10, 6);
    let mut b = ProgramBuilder::new();
    let x = b
        .input("x", vec![m, k], Range::new(-127, 127), None)
        .unwrap();
    let w = b
        .weight("w", vec![k, n], rng.matrix(k * n, 127), None)
        .unwrap();
    let y = b.node("fc", Op::MatMul, &[x, w], None).unwrap();
    b.output(y);
    let p = b.finish().unwrap();
    let xv = Tensor::new(vec![m, k], rng.matrix(m * k, 127)).unwrap();
    let trace = interp::run(&p, &[xv]).unwrap();
    let claim = MatmulClaim {
        shape: MatmulShape { m, k, n },
        a: trace.get(x),
        b: trace.get(w),
        c: trace.get(y),
    };
    let mut st = statement(0);
    st.program_digest = p.digest();
    let proof = prove(&st, &claim);
    verify(&st, &claim, &proof).unwrap();
}

/// The honest prover run on a forged C: the very first round fails.
#[test]
fn forged_product_plus_one_is_rejected_by_the_verifier() {
    let mut rng = Rng(3);
    let st = statement(1);
    for (m, k, n) in [(4, 4, 4), (5, 3, 7), (1, 9, 1), (16, 16, 16)] {
        let case = Case::random(&mut rng, m, k, n);
        let idx = rng.below(case.c.len());
        let mut forged = case.c.clone();
        forged[idx] += 1;
        let claim = MatmulClaim {
            c: &forged,
            ..case.claim()
        };
        let proof = prove(&st, &claim);
        let err = verify(&st, &claim, &proof).unwrap_err();
        if k > 1 {
            assert!(
                matches!(
                    err,
                    MatmulError::Sumcheck(SumcheckError::RoundSum { round: 0 })
                ),
                "{err}"
            );
        } else {
            assert!(matches!(err, MatmulError::FinalProduct), "{err}");
        }
        // and the honest proof of the true C does not transfer to the forged claim
        let honest = prove(&st, &case.claim());
        assert!(verify(&st, &claim, &honest).is_err());
    }
}

/// An adaptive forger: shifts every round polynomial by a constant so each round passes the
/// sum check against the forged claim (replaying the verifier's transcript for the challenges),
/// then picks `a_eval` so that `a·b` matches the last claim. Only the opening check catches it,
/// which is why openings must be bound (by direct evaluation now, by commitments later).
#[test]
fn adaptive_forger_is_caught_by_the_final_checks() {
    let mut rng = Rng(4);
    let st = statement(1);
    let case = Case::random(&mut rng, 6, 8, 5);
    let mut forged = case.c.clone();
    forged[3] += 1;
    let claim = MatmulClaim {
        c: &forged,
        ..case.claim()
    };
    let honest = prove(&st, &claim);

    // Fixing only round 0 moves the failure to round 1.
    let v = claimed_value(&st, &claim);
    let mut proof = honest.clone();
    shift_round(&mut proof.sumcheck.rounds[0], v);
    let err = verify(&st, &claim, &proof).unwrap_err();
    assert!(
        matches!(
            err,
            MatmulError::Sumcheck(SumcheckError::RoundSum { round: 1 })
        ),
        "{err}"
    );

    // Fixing every round and the product leaves the opening of A wrong.
    let mut proof = honest;
    let mut t = Transcript::new(&st);
    replay_prefix(&mut t, &claim);
    t.absorb_ext(b"sumcheck/claim", &[v]);
    let mut value = v;
    for g in proof.sumcheck.rounds.iter_mut() {
        shift_round(g, value);
        t.absorb_ext(b"sumcheck/round", g);
        let r = t.challenge_ext(b"sumcheck/r");
        value = vouch_gkr::sumcheck::interpolate(g, r);
    }
    proof.a_eval = value * proof.b_eval.try_inverse().unwrap();
    let err = verify(&st, &claim, &proof).unwrap_err();
    assert_eq!(err, MatmulError::Opening { tensor: "A" });
}

/// Adds a constant to a round polynomial so that g(0) + g(1) = target (keeps the degree).
fn shift_round(g: &mut [EF], target: EF) {
    let fix = (target - (g[0] + g[1])) * EF::TWO.try_inverse().unwrap();
    for e in g.iter_mut() {
        *e += fix;
    }
}

/// The verifier's transcript steps before the sumcheck: shape and the two challenge vectors.
fn replay_prefix(t: &mut Transcript, claim: &MatmulClaim<'_>) -> (Vec<EF>, Vec<EF>) {
    use vouch_gkr::mle::num_vars;
    let s = claim.shape;
    t.absorb_u64s(b"matmul/shape", &[s.m as u64, s.k as u64, s.n as u64]);
    t.absorb_base(
        b"matmul/c",
        claim.c.iter().map(|&v| vouch_gkr::field::embed(v)),
    );
    let r_row = t.challenges_ext(b"matmul/r_row", num_vars(s.m));
    let r_col = t.challenges_ext(b"matmul/r_col", num_vars(s.n));
    (r_row, r_col)
}

/// C̃(r_row, r_col) as the verifier computes it.
fn claimed_value(st: &Statement, claim: &MatmulClaim<'_>) -> EF {
    let s = claim.shape;
    let (r_row, r_col) = replay_prefix(&mut Transcript::new(st), claim);
    vouch_gkr::mle::evaluate_matrix(claim.c, s.m, s.n, &r_row, &r_col).unwrap()
}

#[test]
fn single_byte_mutations_of_the_proof_are_rejected_without_panic() {
    let mut rng = Rng(5);
    let st = statement(1);
    let case = Case::random(&mut rng, 12, 20, 7);
    let proof = prove(&st, &case.claim());
    let bytes = proof.to_bytes();
    verify(
        &st,
        &case.claim(),
        &MatmulProof::from_bytes(&bytes).unwrap(),
    )
    .unwrap();
    let mut tried = 0;
    // every position once, plus random extra samples: well over 200
    let positions: Vec<usize> = (0..bytes.len())
        .chain((0..300).map(|_| rng.below(bytes.len())))
        .collect();
    for pos in positions {
        let mut m = bytes.clone();
        let flip = 1 + rng.below(255) as u8;
        m[pos] ^= flip;
        let outcome = std::panic::catch_unwind(|| {
            MatmulProof::from_bytes(&m).and_then(|p| verify(&st, &case.claim(), &p))
        });
        match outcome {
            Ok(Err(_)) => tried += 1,
            Ok(Ok(())) => panic!("mutation at byte {pos} (^{flip:#x}) accepted"),
            Err(_) => panic!("verifier panicked on mutation at byte {pos}"),
        }
    }
    assert!(tried >= 200, "{tried}");
    // truncations and extensions
    for len in 0..bytes.len() {
        assert!(MatmulProof::from_bytes(&bytes[..len]).is_err());
    }
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(MatmulProof::from_bytes(&longer).is_err());
}

#[test]
fn single_element_mutations_of_the_proof_are_rejected() {
    let mut rng = Rng(6);
    let st = statement(1);
    let case = Case::random(&mut rng, 9, 31, 13);
    let proof = prove(&st, &case.claim());
    let rounds = proof.sumcheck.rounds.len();
    let mut count = 0;
    for _ in 0..250 {
        let mut p = proof.clone();
        let which = rng.below(rounds * 3 + 2);
        let delta = EF::from_u64(1 + rng.next() % 1000);
        match which {
            w if w < rounds * 3 => p.sumcheck.rounds[w / 3][w % 3] += delta,
            w if w == rounds * 3 => p.a_eval += delta,
            _ => p.b_eval += delta,
        }
        assert!(verify(&st, &case.claim(), &p).is_err(), "element {which}");
        count += 1;
    }
    // structural changes: dropped / extra rounds, short or long round polynomials
    let mut p = proof.clone();
    p.sumcheck.rounds.pop();
    assert!(matches!(
        verify(&st, &case.claim(), &p),
        Err(MatmulError::Sumcheck(SumcheckError::RoundCount { .. }))
    ));
    let mut p = proof.clone();
    p.sumcheck.rounds.push(vec![EF::default(); 3]);
    assert!(verify(&st, &case.claim(), &p).is_err());
    let mut p = proof.clone();
    p.sumcheck.rounds[1].pop();
    assert!(verify(&st, &case.claim(), &p).is_err());
    let mut p = proof;
    p.sumcheck.rounds[2].push(EF::default());
    assert!(verify(&st, &case.claim(), &p).is_err());
    assert!(count >= 200);
}

#[test]
fn changing_the_statement_changes_the_challenges_and_the_old_proof_fails() {
    let mut rng = Rng(7);
    let case = Case::random(&mut rng, 8, 16, 8);
    let st = statement(1);
    let proof = prove(&st, &case.claim());
    verify(&st, &case.claim(), &proof).unwrap();
    let mut others = vec![statement(2)];
    let mut s = statement(1);
    s.params_digest[0] ^= 1;
    others.push(s);
    let mut s = statement(1);
    s.backend = "halo2".into();
    others.push(s);
    let mut s = statement(1);
    s.insecure_setup = true;
    others.push(s);
    let mut s = statement(1);
    s.visibility = VisibilityPolicy::provider();
    others.push(s);
    for other in &others {
        let c1 = Transcript::new(&st).challenge_ext(b"x");
        let c2 = Transcript::new(other).challenge_ext(b"x");
        assert_ne!(c1, c2);
        assert!(verify(other, &case.claim(), &proof).is_err());
    }
}

#[test]
fn out_of_range_values_and_bad_lengths_are_typed_errors() {
    let st = statement(1);
    let shape = MatmulShape { m: 1, k: 2, n: 1 };
    let (a, b) = (vec![1i64 << 62, 0], vec![1, 1]);
    let c = vec![0i64];
    let claim = MatmulClaim {
        shape,
        a: &a,
        b: &b,
        c: &c,
    };
    let proof = MatmulProof::from_bytes(&{
        let ok = Case {
            shape,
            a: vec![1, 1],
            b: vec![1, 1],
            c: vec![2],
        };
        prove(&st, &ok.claim()).to_bytes()
    })
    .unwrap();
    assert!(matches!(
        verify(&st, &claim, &proof),
        Err(MatmulError::ValueOutOfRange { tensor: "A", .. })
    ));
    let (a, b) = (vec![1i64 << 40, 1 << 40], vec![1 << 21, 1]);
    let claim = MatmulClaim {
        shape,
        a: &a,
        b: &b,
        c: &c,
    };
    assert!(matches!(
        verify(&st, &claim, &proof),
        Err(MatmulError::AccumulatorOutOfRange { .. })
    ));
    let short = [1i64];
    let claim = MatmulClaim {
        shape,
        a: &short,
        b: &b,
        c: &c,
    };
    assert!(matches!(
        verify(&st, &claim, &proof),
        Err(MatmulError::Length { tensor: "A", .. })
    ));
    let huge = MatmulShape {
        m: usize::MAX,
        k: 2,
        n: 1,
    };
    let claim = MatmulClaim {
        shape: huge,
        a: &a,
        b: &b,
        c: &c,
    };
    assert!(verify(&st, &claim, &proof).is_err());
}

/// A prover who sees the challenges before fixing C could pick a wrong C that agrees with A·B
/// at the challenge point; binding C first makes the challenges change with it.
#[test]
fn challenges_depend_on_the_claimed_product() {
    let shape = MatmulShape { m: 2, k: 2, n: 2 };
    let (a, b) = ([1i64, 2, 3, 4], [5i64, 6, 7, 8]);
    let c = [19i64, 22, 43, 50];
    let claim = MatmulClaim {
        shape,
        a: &a,
        b: &b,
        c: &c,
    };
    let proof = matmul::prove(&mut Transcript::new(&statement(1)), &claim).unwrap();
    assert!(matmul::verify(&mut Transcript::new(&statement(1)), &claim, &proof).is_ok());
    let wrong = [19i64, 22, 43, 51];
    let forged = MatmulClaim { c: &wrong, ..claim };
    assert!(matmul::verify(&mut Transcript::new(&statement(1)), &forged, &proof).is_err());
}

/// A proof without sumcheck rounds (an inner dimension of 1) still names a round width; only
/// 0, what the encoder writes, is accepted, so the encoding stays unique (found by
/// `cargo fuzz run gkr_proofs`).
#[test]
fn a_round_width_without_rounds_is_non_canonical() {
    let st = statement(1);
    let one = Case {
        shape: MatmulShape { m: 1, k: 1, n: 1 },
        a: vec![3],
        b: vec![4],
        c: vec![12],
    };
    let proof = prove(&st, &one.claim());
    assert!(proof.sumcheck.rounds.is_empty());
    let bytes = proof.to_bytes();
    assert_eq!(MatmulProof::from_bytes(&bytes).unwrap().to_bytes(), bytes);
    // Magic (4), version (1), rounds (4), then the width.
    let mut other = bytes.clone();
    other[9] = 2;
    assert!(matches!(
        MatmulProof::from_bytes(&other),
        Err(MatmulError::Decode(DecodeError::NonCanonicalCount {
            got: 2,
            ..
        }))
    ));
}
