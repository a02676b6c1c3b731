//! Matrix products with committed (hidden) weights: completeness, and every attack on the
//! weights' binding rejected by the verifier.

use vouch_gkr::committed_matmul::{
    self, CommittedMatmulClaim, CommittedMatmulError, CommittedMatmulProof,
};
use vouch_gkr::matmul::{self, MatmulError, MatmulShape};
use vouch_gkr::pcs::TensorCommitment;
use vouch_gkr::transcript::Transcript;

mod common;
use common::Rng;

const STATEMENT: &[u8] = b"committed matmul test statement";

/// A layer: public input A and output C, weights B committed under a fixed seed.
struct Layer {
    shape: MatmulShape,
    a: Vec<i64>,
    b: Vec<i64>,
    c: Vec<i64>,
    commitment: TensorCommitment,
    seed: [u8; 32],
}

impl Layer {
    fn random(m: usize, k: usize, n: usize, seed: u64) -> Layer {
        let mut rng = Rng(seed);
        let shape = MatmulShape { m, k, n };
        let a = rng.matrix(m * k, 127);
        let b = rng.matrix(k * n, 127);
        let c = matmul::reference_product(shape, &a, &b);
        let seed = [seed as u8; 32];
        let (commitment, _) = committed_matmul::commit_weights(shape, &b, seed).expect("commit");
        Layer {
            shape,
            a,
            b,
            c,
            commitment,
            seed,
        }
    }

    fn claim(&self) -> CommittedMatmulClaim<'_> {
        CommittedMatmulClaim {
            shape: self.shape,
            a: &self.a,
            c: &self.c,
            b_bound: 127,
            b_commitment: &self.commitment,
        }
    }

    /// Proves with `weights` in the sumcheck and `committed` as the tensor behind the
    /// published commitment (honest: both are `self.b`).
    fn prove_with(
        &self,
        c: &[i64],
        weights: &[i64],
        committed: &[i64],
    ) -> Result<CommittedMatmulProof, CommittedMatmulError> {
        let (_, data) =
            committed_matmul::commit_weights(self.shape, committed, self.seed).expect("commit");
        let claim = CommittedMatmulClaim { c, ..self.claim() };
        committed_matmul::prove(
            &mut Transcript::from_statement_bytes(STATEMENT),
            &claim,
            weights,
            data,
        )
    }

    fn verify(&self, proof: &CommittedMatmulProof) -> Result<(), CommittedMatmulError> {
        verify_claim(&self.claim(), proof)
    }
}

fn verify_claim(
    claim: &CommittedMatmulClaim<'_>,
    proof: &CommittedMatmulProof,
) -> Result<(), CommittedMatmulError> {
    committed_matmul::verify(
        &mut Transcript::from_statement_bytes(STATEMENT),
        claim,
        proof,
    )
}

#[test]
fn honest_products_verify_across_shapes() {
    for (i, &(m, k, n)) in [(1, 64, 32), (3, 50, 45), (16, 128, 64), (2, 4096, 1)]
        .iter()
        .enumerate()
    {
        let layer = Layer::random(m, k, n, 10 + i as u64);
        let proof = layer
            .prove_with(&layer.c, &layer.b, &layer.b)
            .expect("prove");
        let parsed = CommittedMatmulProof::from_bytes(&proof.to_bytes()).expect("parse");
        layer
            .verify(&parsed)
            .unwrap_or_else(|e| panic!("{m}x{k}x{n}: {e}"));
    }
}

#[test]
fn proving_with_other_weights_under_the_published_commitment_is_rejected() {
    let layer = Layer::random(4, 64, 32, 1);
    // A "cheaper model": one weight changed, and all weights zeroed; C is what those weights
    // give, so the product itself is consistent, only the commitment binds.
    let mut one_changed = layer.b.clone();
    one_changed[100] += 1;
    let zeroed = vec![0i64; layer.b.len()];
    for other in [one_changed, zeroed] {
        let c = matmul::reference_product(layer.shape, &layer.a, &other);
        let claim = CommittedMatmulClaim {
            c: &c,
            ..layer.claim()
        };
        // Sumcheck on the other weights, opening of the committed ones.
        let proof = layer.prove_with(&c, &other, &layer.b).expect("prove");
        assert!(matches!(
            verify_claim(&claim, &proof),
            Err(CommittedMatmulError::WeightsMismatch)
        ));
        // Committing the other weights makes a different commitment, not the published one.
        let (theirs, _) =
            committed_matmul::commit_weights(layer.shape, &other, layer.seed).expect("commit");
        assert_ne!(theirs, layer.commitment);
        let proof = layer.prove_with(&c, &other, &other).expect("prove");
        assert!(verify_claim(&claim, &proof).is_err());
    }
}

#[test]
fn a_forged_product_is_rejected() {
    let layer = Layer::random(4, 64, 32, 2);
    let mut forged = layer.c.clone();
    forged[7] += 1;
    let proof = layer
        .prove_with(&forged, &layer.b, &layer.b)
        .expect("prove");
    let claim = CommittedMatmulClaim {
        c: &forged,
        ..layer.claim()
    };
    assert!(verify_claim(&claim, &proof).is_err());
    // The honest proof does not verify for the forged output either.
    let honest = layer
        .prove_with(&layer.c, &layer.b, &layer.b)
        .expect("prove");
    assert!(verify_claim(&claim, &honest).is_err());
}

#[test]
fn proof_mutations_other_statements_and_other_commitments_are_rejected() {
    let layer = Layer::random(2, 64, 32, 3);
    let proof = layer
        .prove_with(&layer.c, &layer.b, &layer.b)
        .expect("prove");
    let bytes = proof.to_bytes();
    assert!(layer.verify(&proof).is_ok());
    let mut rng = Rng(4);
    let mut positions: Vec<usize> = (0..120).collect();
    positions.extend((0..200).map(|_| (rng.next() as usize) % bytes.len()));
    for &i in &positions {
        let mut bad = bytes.clone();
        bad[i] ^= 1 << (rng.next() % 8);
        let rejected = match CommittedMatmulProof::from_bytes(&bad) {
            Err(_) => true,
            Ok(p) => layer.verify(&p).is_err(),
        };
        assert!(rejected, "byte {i} flipped and accepted");
    }
    for cut in (0..bytes.len()).step_by(bytes.len() / 50 + 1) {
        assert!(CommittedMatmulProof::from_bytes(&bytes[..cut]).is_err());
    }
    // Another statement.
    assert!(committed_matmul::verify(
        &mut Transcript::from_statement_bytes(b"another"),
        &layer.claim(),
        &proof
    )
    .is_err());
    // Another commitment (same weights, other seed), another bound.
    let (other, _) =
        committed_matmul::commit_weights(layer.shape, &layer.b, [99; 32]).expect("commit");
    let claim = CommittedMatmulClaim {
        b_commitment: &other,
        ..layer.claim()
    };
    assert!(verify_claim(&claim, &proof).is_err());
    let claim = CommittedMatmulClaim {
        b_bound: 128,
        ..layer.claim()
    };
    assert!(verify_claim(&claim, &proof).is_err());
}

#[test]
fn weights_outside_the_bound_and_bad_bounds_are_typed_errors() {
    let layer = Layer::random(2, 16, 8, 5);
    let mut big = layer.b.clone();
    big[3] = 128;
    assert!(matches!(
        layer.prove_with(&layer.c, &big, &layer.b),
        Err(CommittedMatmulError::WeightOutOfBound {
            index: 3,
            value: 128,
            bound: 127
        })
    ));
    let claim = CommittedMatmulClaim {
        b_bound: 1 << 62,
        ..layer.claim()
    };
    let proof = layer
        .prove_with(&layer.c, &layer.b, &layer.b)
        .expect("prove");
    assert!(matches!(
        verify_claim(&claim, &proof),
        Err(CommittedMatmulError::Matmul(
            MatmulError::AccumulatorOutOfRange { .. }
        ))
    ));
    // K·max|A|·max|B| reaching 2^62 with a bound below 2^62.
    let max_a = layer
        .a
        .iter()
        .map(|v| v.unsigned_abs())
        .max()
        .expect("non-empty");
    let claim = CommittedMatmulClaim {
        b_bound: (1u64 << 62).div_ceil(16 * max_a),
        ..layer.claim()
    };
    assert!(matches!(
        verify_claim(&claim, &proof),
        Err(CommittedMatmulError::Matmul(
            MatmulError::AccumulatorOutOfRange { .. }
        ))
    ));
}
