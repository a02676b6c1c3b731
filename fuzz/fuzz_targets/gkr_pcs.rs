//! The vouch-gkr decoders and verifiers of proofs about committed tensors — WHIR openings
//! (`pcs::OpeningProof`), matmul with committed weights and committed range proofs — on
//! arbitrary bytes: never a panic; openings decode canonically; only the honest proofs verify.
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
            let accepted = f.pcs.verify(&f.commitment, &f.points, &p, &mut t()).is_ok();
            assert!(!accepted || data == f.opening.as_slice(), "a forged opening was accepted");
        }
        if let Ok(p) = CommittedRangeProof::from_bytes(data) {
            let accepted = committed_range::verify(&mut t(), &f.pcs, &f.commitment, 8, &p).is_ok();
            assert!(!accepted || data == f.range.as_slice(), "a forged range proof was accepted");
        }
        if let Ok(p) = CommittedMatmulProof::from_bytes(data) {
            let claim = CommittedMatmulClaim {
                shape: f.shape,
                a: &f.a,
                c: &f.c,
                b_bound: 5,
                b_commitment: &f.weights,
            };
            let accepted = committed_matmul::verify(&mut t(), &claim, &p).is_ok();
            assert!(!accepted || data == f.matmul.as_slice(), "a forged matmul proof was accepted");
        }
    }
);
