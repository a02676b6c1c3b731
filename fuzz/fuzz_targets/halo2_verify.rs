//! Proof bytes against a fixed halo2 verifying key and statement: verifying never panics, and
//! no byte string other than the honest proof is accepted.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vouch_backend::Backend;
use vouch_halo2::Halo2Proof;

fuzz_target!(
    init: {
        vouch_fuzz::halo2();
    },
    |data: &[u8]| {
        let f = vouch_fuzz::halo2();
        let proof = Halo2Proof {
            bytes: data.to_vec(),
        };
        let accepted = vouch_fuzz::backend()
            .verify(&f.vk, &f.statement, &proof)
            .is_ok();
        if data != f.proof.bytes.as_slice() {
            assert!(!accepted, "a proof other than the honest one was accepted");
        }
    }
);
