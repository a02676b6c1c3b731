//! The vouch-gkr decoders and verifiers of proofs about committed tensors — WHIR openings
//! (`pcs::OpeningProof`), matmul with committed weights and committed range proofs — on
//! arbitrary bytes: never a panic; openings decode canonically; an accepted opening proves the
//! true values; no proof is accepted for a false claim (a range one bit too narrow for the
//! committed values, a product with one entry off).
#![no_main]

use libfuzzer_sys::fuzz_target;
use vouch_fuzz::pcs_transcript as t;
use vouch_gkr::committed_matmul::{self, CommittedMatmulClaim, CommittedMatmulProof};
use vouch_gkr::committed_range::{self, CommittedRangeProof};
use vouch_gkr::pcs::OpeningProof;

fuzz_target!(
    init: {
        vouch_fuzz::gkr_committed();
    },
    |data: &[u8]| {
        let f = vouch_fuzz::gkr_committed();
        if let Ok(p) = OpeningProof::from_bytes(data) {
            assert_eq!(p.to_bytes(), data, "non-canonical opening bytes accepted");
            if f.pcs.verify(&f.commitment, &f.points, &p, &mut t()).is_ok() {
                assert_eq!(p.values(), f.values.as_slice(), "an opening of false values was accepted");
            }
        }
        if let Ok(p) = CommittedRangeProof::from_bytes(data) {
            let _ = committed_range::verify(&mut t(), &f.pcs, &f.commitment, 8, &p);
            // The committed values span [-128, 128): seven bits is a false claim.
            assert!(
                committed_range::verify(&mut t(), &f.pcs, &f.commitment, 7, &p).is_err(),
                "a range proof of a false claim was accepted"
            );
        }
        if let Ok(p) = CommittedMatmulProof::from_bytes(data) {
            let claim = |c| CommittedMatmulClaim {
                shape: f.shape,
                a: &f.a,
                c,
                b_bound: 5,
                b_commitment: &f.weights,
            };
            let _ = committed_matmul::verify(&mut t(), &claim(&f.c), &p);
            assert!(
                committed_matmul::verify(&mut t(), &claim(&f.c_forged), &p).is_err(),
                "a matmul proof of a false product was accepted"
            );
        }
    }
);
