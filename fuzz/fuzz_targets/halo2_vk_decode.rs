//! `Halo2VerifyingKey::decode` on arbitrary bytes, as given and with the SHA-256 trailer
//! recomputed (so mutations get past the integrity check into the parser). A key that decodes
//! must verify the honest proof without panicking, and accept it only if it is the honest key.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vouch_backend::Backend;
use vouch_halo2::Halo2VerifyingKey;

fn check(bytes: &[u8]) {
    let f = vouch_fuzz::halo2();
    if let Ok(vk) = Halo2VerifyingKey::decode(bytes) {
        let accepted = vouch_fuzz::backend()
            .verify(&vk, &f.statement, &f.proof)
            .is_ok();
        if bytes != f.vk_bytes.as_slice() {
            assert!(
                !accepted,
                "a key other than the honest one accepted the proof"
            );
        }
    }
}

fuzz_target!(
    init: {
        vouch_fuzz::halo2();
    },
    |data: &[u8]| {
        check(data);
        check(&vouch_fuzz::with_checksum(data));
    }
);
