//! `KeysDir::from_parts` on an arbitrary `keys.json` beside the honest `halo2.vk` never panics
//! (the key file itself is `halo2_vk_decode`'s job); keys that load give a verdict on the
//! honest proof file without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vouch::artifact::KeysDir;

fuzz_target!(
    init: {
        vouch_fuzz::vouch();
    },
    |data: &[u8]| {
        let f = vouch_fuzz::vouch();
        if let Ok(keys) = KeysDir::from_parts(data, f.keys.vk_bytes.clone()) {
            let _ = vouch::prove::verify(&f.proof_file, &keys, None, None);
            let _ = vouch::prove::public_values(&f.proof_file.statement, &keys.summary);
        }
    }
);
