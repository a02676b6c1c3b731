//! The vouch-gkr proof decoders (`MatmulProof::from_bytes`, `LookupProof::from_bytes`) and
//! verifiers on arbitrary bytes: never a panic; decoding is canonical (a decoded proof
//! re-encodes to the same bytes); only the honest proof verifies against the fixed claims.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vouch_fuzz::GKR_STATEMENT;
use vouch_gkr::logup::{self, LookupProof};
use vouch_gkr::matmul::{self, MatmulProof};
use vouch_gkr::transcript::Transcript;

fuzz_target!(
    init: {
        vouch_fuzz::gkr();
    },
    |data: &[u8]| {
        let f = vouch_fuzz::gkr();
        if let Ok(p) = MatmulProof::from_bytes(data) {
            assert_eq!(p.to_bytes(), data, "non-canonical matmul proof bytes accepted");
            let mut t = Transcript::from_statement_bytes(GKR_STATEMENT);
            let accepted = matmul::verify(&mut t, &f.matmul_claim(), &p).is_ok();
            if p != f.matmul_proof {
                assert!(!accepted, "a matmul proof other than the honest one was accepted");
            }
        }
        if let Ok(p) = LookupProof::from_bytes(data) {
            assert_eq!(p.to_bytes(), data, "non-canonical lookup proof bytes accepted");
            let mut t = Transcript::from_statement_bytes(GKR_STATEMENT);
            let accepted = logup::verify(&mut t, &f.lookup_claim(), &p).is_ok();
            if p != f.lookup_proof {
                assert!(!accepted, "a lookup proof other than the honest one was accepted");
            }
        }
    }
);
