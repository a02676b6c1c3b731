//! Range proofs on committed tensors: in-range tensors verify; a value outside the range, a
//! column swapped under the commitment, forged multiplicities and byte mutations are rejected.

use vouch_gkr::committed_range::{self, CommittedRangeError, CommittedRangeProof};
use vouch_gkr::field::{embed, F};
use vouch_gkr::logup::{self, LookupClaim, Table};
use vouch_gkr::pcs::{TensorCommitment, TensorPcs};
use vouch_gkr::transcript::Transcript;

mod common;
use common::Rng;

const STATEMENT: &[u8] = b"committed range test statement";

struct Committed {
    pcs: TensorPcs,
    values: Vec<i64>,
    commitment: TensorCommitment,
}

/// `len` values uniform in the signed `bits`-bit range [-2^(bits-1), 2^(bits-1)).
fn tensor(len: usize, bits: u32, seed: u64) -> Vec<i64> {
    let half = 1i64 << (bits - 1);
    let mut rng = Rng(seed);
    (0..len)
        .map(|_| rng.below(2 * half as usize) as i64 - half)
        .collect()
}

fn commit(values: Vec<i64>) -> Committed {
    let pcs = TensorPcs::for_len(values.len()).expect("parameters");
    let mut padded = values;
    padded.resize(1 << pcs.num_vars(), 0);
    let field: Vec<F> = padded.iter().map(|&v| embed(v)).collect();
    let (commitment, _) = pcs.commit(&field, [4; 32]).expect("commit");
    Committed {
        pcs,
        values: padded,
        commitment,
    }
}

impl Committed {
    /// Proves with `column` in the lookup argument and `self.values` behind the commitment.
    fn prove_with(
        &self,
        column: &[i64],
        bits: u32,
    ) -> Result<CommittedRangeProof, CommittedRangeError> {
        let field: Vec<F> = self.values.iter().map(|&v| embed(v)).collect();
        let (_, data) = self.pcs.commit(&field, [4; 32]).expect("commit");
        committed_range::prove(
            &mut Transcript::from_statement_bytes(STATEMENT),
            &self.pcs,
            &self.commitment,
            column,
            data,
            bits,
            [5; 32],
        )
    }

    fn verify(&self, bits: u32, proof: &CommittedRangeProof) -> Result<(), CommittedRangeError> {
        committed_range::verify(
            &mut Transcript::from_statement_bytes(STATEMENT),
            &self.pcs,
            &self.commitment,
            bits,
            proof,
        )
    }
}

#[test]
fn in_range_tensors_verify() {
    for (len, bits) in [(3000, 8), (5000, 4), (1 << 14, 16)] {
        let c = commit(tensor(len, bits, len as u64));
        let proof = c.prove_with(&c.values, bits).expect("prove");
        let parsed = CommittedRangeProof::from_bytes(&proof.to_bytes()).expect("parse");
        c.verify(bits, &parsed)
            .unwrap_or_else(|e| panic!("{len} values, {bits} bits: {e}"));
        // A narrower claimed range is another statement: the proof does not carry over.
        assert!(c.verify(bits - 1, &parsed).is_err());
    }
}

#[test]
fn a_committed_value_outside_the_range_is_rejected() {
    let mut values = tensor(3000, 8, 1);
    values[1234] = 128; // just past [-128, 128)
    let c = commit(values);
    // The honest prover cannot even count multiplicities.
    assert!(matches!(
        c.prove_with(&c.values, 8),
        Err(CommittedRangeError::Lookup(_))
    ));
    // Cheat 1: run the argument on an in-range column, open the committed one.
    let mut clean = c.values.clone();
    clean[1234] = 127;
    let proof = c.prove_with(&clean, 8).expect("prove");
    assert!(matches!(
        c.verify(8, &proof),
        Err(CommittedRangeError::OpeningMismatch { what: "column" })
    ));
    // Cheat 2: the committed column in the argument with the in-range column's multiplicities
    // (forged: they do not count the committed values).
    let table = Table::Range { lo: -128, bits: 8 };
    let m = logup::multiplicities(&table, &[&clean[..]]).expect("in range");
    let claim = LookupClaim {
        table: &table,
        columns: vec![&c.values[..]],
        multiplicities: &m,
    };
    assert!(claim.validate().is_ok());
    let mut t = Transcript::from_statement_bytes(STATEMENT);
    let forged = logup::prove_bound(&mut t, &claim).expect("prover does not check membership");
    let mut honest_shape = c.prove_with(&clean, 8).expect("prove");
    honest_shape.lookup = forged;
    assert!(c.verify(8, &honest_shape).is_err());
}

#[test]
fn byte_mutations_and_other_commitments_are_rejected() {
    let c = commit(tensor(2048, 8, 9));
    let proof = c.prove_with(&c.values, 8).expect("prove");
    let bytes = proof.to_bytes();
    let mut rng = Rng(77);
    for i in (0..100).chain((0..200).map(|_| rng.below(bytes.len()))) {
        let mut bad = bytes.clone();
        bad[i] ^= 1 << (i % 8);
        let rejected = match CommittedRangeProof::from_bytes(&bad) {
            Err(_) => true,
            Ok(p) => c.verify(8, &p).is_err(),
        };
        assert!(rejected, "byte {i} flipped and accepted");
    }
    assert!(CommittedRangeProof::from_bytes(&bytes[..bytes.len() - 1]).is_err());
    // The same values under another seed: another commitment, the proof does not verify.
    let field: Vec<F> = c.values.iter().map(|&v| embed(v)).collect();
    let (other, _) = c.pcs.commit(&field, [6; 32]).expect("commit");
    assert!(committed_range::verify(
        &mut Transcript::from_statement_bytes(STATEMENT),
        &c.pcs,
        &other,
        8,
        &proof
    )
    .is_err());
    assert!(matches!(
        c.verify(0, &proof),
        Err(CommittedRangeError::Bits { bits: 0 })
    ));
    assert!(matches!(
        c.prove_with(&c.values[..10], 8),
        Err(CommittedRangeError::Length { .. })
    ));
}
