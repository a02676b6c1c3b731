//! Hiding tensor commitments (HVZK-WHIR): completeness, and every tampering rejected.

use p3_field::PrimeCharacteristicRing;
use vouch_gkr::field::{embed, EF, F, P};
use vouch_gkr::mle;
use vouch_gkr::pcs::{OpeningProof, PcsError, TensorCommitment, TensorPcs, MAX_NUM_VARS};
use vouch_gkr::transcript::Transcript;

mod common;
use common::Rng;

const STATEMENT: &[u8] = b"pcs test statement";

/// An honest commitment and opening of a pixel-like tensor (u8 values).
struct Case {
    pcs: TensorPcs,
    values: Vec<F>,
    commitment: TensorCommitment,
    points: Vec<Vec<EF>>,
    proof: OpeningProof,
}

impl Case {
    fn new(len: usize, n_points: usize, seed: u64) -> Case {
        let mut rng = Rng(seed);
        let pcs = TensorPcs::for_len(len).expect("parameters");
        let values: Vec<F> = (0..len).map(|_| embed((rng.next() % 256) as i64)).collect();
        let (commitment, data) = pcs.commit(&values, [seed as u8; 32]).expect("commit");
        let points: Vec<Vec<EF>> = (0..n_points).map(|_| rng.point(pcs.num_vars())).collect();
        let proof = pcs
            .open(
                &commitment,
                data,
                &points,
                &mut Transcript::from_statement_bytes(STATEMENT),
            )
            .expect("open");
        Case {
            pcs,
            values,
            commitment,
            points,
            proof,
        }
    }

    fn verify_bytes(&self, bytes: &[u8]) -> Result<Vec<EF>, PcsError> {
        let proof = OpeningProof::from_bytes(bytes)?;
        self.pcs.verify(
            &self.commitment,
            &self.points,
            &proof,
            &mut Transcript::from_statement_bytes(STATEMENT),
        )
    }
}

#[test]
fn honest_openings_verify_and_equal_the_multilinear_extension() {
    for (len, n_points) in [(2048, 1), (3000, 3), (1 << 14, 2), (5, 1)] {
        let case = Case::new(len, n_points, len as u64);
        let mut padded = case.values.clone();
        padded.resize(1 << case.pcs.num_vars(), F::ZERO);
        let got = case
            .verify_bytes(&case.proof.to_bytes())
            .unwrap_or_else(|e| panic!("len {len}: {e}"));
        assert_eq!(got.len(), n_points);
        for (p, v) in case.points.iter().zip(&got) {
            assert_eq!(Some(*v), mle::evaluate_base(&padded, p), "len {len}");
        }
    }
}

#[test]
fn single_byte_mutations_truncations_and_extensions_are_rejected() {
    let case = Case::new(4096, 2, 1);
    let bytes = case.proof.to_bytes();
    assert!(case.verify_bytes(&bytes).is_ok());
    let mut rng = Rng(99);
    // Every byte of the header and the claimed values, then 250 sampled positions elsewhere.
    let mut positions: Vec<usize> = (0..64.min(bytes.len())).collect();
    positions.extend((0..250).map(|_| (rng.next() as usize) % bytes.len()));
    for &i in &positions {
        let mut bad = bytes.clone();
        bad[i] ^= 1 << (rng.next() % 8);
        assert!(
            case.verify_bytes(&bad).is_err(),
            "byte {i} of {} flipped and accepted",
            bytes.len()
        );
    }
    for cut in (0..bytes.len()).step_by(bytes.len() / 97 + 1) {
        assert!(
            case.verify_bytes(&bytes[..cut]).is_err(),
            "truncated to {cut}"
        );
    }
    let mut long = bytes.clone();
    long.push(0);
    assert!(matches!(
        case.verify_bytes(&long),
        Err(PcsError::Malformed(_))
    ));
}

#[test]
fn a_changed_claimed_value_is_rejected() {
    let case = Case::new(4096, 1, 2);
    let bytes = case.proof.to_bytes();
    // Layout: magic (4) ‖ version (1) ‖ postcard: value count (1 byte) ‖ first value's
    // three coefficients, canonical u64 LE each.
    assert_eq!(bytes[5], 1, "one claimed value");
    for coefficient in 0..3 {
        let at = 6 + 8 * coefficient;
        let mut bad = bytes.clone();
        let c = u64::from_le_bytes(bad[at..at + 8].try_into().expect("8 bytes"));
        bad[at..at + 8].copy_from_slice(&((c + 1) % P).to_le_bytes());
        let parsed = OpeningProof::from_bytes(&bad).expect("still well-formed");
        assert_ne!(parsed.values(), case.proof.values());
        assert!(matches!(
            case.verify_bytes(&bad),
            Err(PcsError::Rejected(_))
        ));
    }
}

#[test]
fn other_commitments_points_and_statements_are_rejected() {
    let case = Case::new(4096, 2, 3);
    let verify = |c: &TensorCommitment, points: &[Vec<EF>], statement: &[u8]| {
        case.pcs.verify(
            c,
            points,
            &case.proof,
            &mut Transcript::from_statement_bytes(statement),
        )
    };
    assert!(verify(&case.commitment, &case.points, STATEMENT).is_ok());
    // The same tensor under another seed, and one value changed under the same seed.
    let (other_seed, _) = case.pcs.commit(&case.values, [200; 32]).expect("commit");
    assert_ne!(other_seed, case.commitment);
    assert!(verify(&other_seed, &case.points, STATEMENT).is_err());
    let mut changed = case.values.clone();
    changed[4095] += F::ONE;
    let (other_tensor, _) = case.pcs.commit(&changed, [3; 32]).expect("commit");
    assert!(verify(&other_tensor, &case.points, STATEMENT).is_err());
    let mut flipped = case.commitment.clone();
    flipped.0[0] ^= 1;
    assert!(verify(&flipped, &case.points, STATEMENT).is_err());
    // Points moved, swapped, dropped or added.
    let mut rng = Rng(5);
    let moved = vec![case.points[0].clone(), rng.point(case.pcs.num_vars())];
    assert!(verify(&case.commitment, &moved, STATEMENT).is_err());
    let swapped = vec![case.points[1].clone(), case.points[0].clone()];
    assert!(verify(&case.commitment, &swapped, STATEMENT).is_err());
    assert!(verify(&case.commitment, &case.points[..1], STATEMENT).is_err());
    let mut more = case.points.clone();
    more.push(rng.point(case.pcs.num_vars()));
    assert!(verify(&case.commitment, &more, STATEMENT).is_err());
    // Another statement: the opening's challenges change.
    assert!(verify(&case.commitment, &case.points, b"another statement").is_err());
}

#[test]
fn bad_sizes_and_points_are_typed_errors() {
    assert!(matches!(
        TensorPcs::for_len(1 << (MAX_NUM_VARS + 1)),
        Err(PcsError::TooLarge { .. })
    ));
    assert!(matches!(
        TensorPcs::new(MAX_NUM_VARS + 1),
        Err(PcsError::Config(_))
    ));
    let pcs = TensorPcs::for_len(100).expect("parameters");
    let too_long = vec![F::ONE; (1 << pcs.num_vars()) + 1];
    assert!(matches!(
        pcs.commit(&too_long, [0; 32]),
        Err(PcsError::WrongLength { .. })
    ));
    let (c, data) = pcs.commit(&[F::ONE; 100], [0; 32]).expect("commit");
    let short = vec![vec![EF::ONE; pcs.num_vars() - 1]];
    assert!(matches!(
        pcs.open(
            &c,
            data,
            &short,
            &mut Transcript::from_statement_bytes(STATEMENT)
        ),
        Err(PcsError::PointArity { index: 0, .. })
    ));
    for junk in [&b""[..], b"VGWO", b"VGWO\x02", b"XXXX\x01\x00", &[0xff; 64]] {
        assert!(matches!(
            OpeningProof::from_bytes(junk),
            Err(PcsError::Malformed(_))
        ));
    }
}
