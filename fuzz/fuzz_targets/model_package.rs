//! `ModelPackage::from_bytes` on arbitrary bytes never panics; a package that parses re-encodes
//! to a package with the same model digest.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vouch::artifact::ModelPackage;

fuzz_target!(|data: &[u8]| {
    let Ok(pkg) = ModelPackage::from_bytes(data) else {
        return;
    };
    let digest = pkg.digest();
    let bytes = pkg.to_bytes().expect("a parsed package re-encodes");
    let back = ModelPackage::from_bytes(&bytes).expect("a re-encoded package parses");
    assert_eq!(
        back.digest(),
        digest,
        "re-encoding changed the model digest"
    );
});
