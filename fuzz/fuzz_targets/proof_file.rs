//! `ProofFile::from_bytes` on arbitrary bytes never panics; a file that parses re-encodes, and
//! `vouch::prove::verify` against fixed keys gives a verdict without panicking, valid only for
//! the honest statement and proof.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vouch::artifact::ProofFile;

fuzz_target!(
    init: {
        vouch_fuzz::vouch();
    },
    |data: &[u8]| {
        let f = vouch_fuzz::vouch();
        let Ok(file) = ProofFile::from_bytes(data) else {
            return;
        };
        let bytes = file.to_bytes().expect("a parsed proof file re-encodes");
        let back = ProofFile::from_bytes(&bytes).expect("a re-encoded proof file parses");
        assert_eq!(back, file, "re-encoding changed the proof file");
        if let Ok(verdict) = vouch::prove::verify(&file, &f.keys, None, None) {
            if verdict.is_valid() {
                assert_eq!(file.statement, f.proof_file.statement, "another statement accepted");
                assert_eq!(file.proof, f.proof_file.proof, "another proof accepted");
            }
        }
    }
);
