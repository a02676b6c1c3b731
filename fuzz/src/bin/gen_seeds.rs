//! Writes the seed corpora: the honest encoding of every fuzzed format, and a prefix of it, under
//! `fuzz/corpus/<target>/` (generated, not committed: the halo2 key is large). Built by
//! `cargo fuzz build` with the targets, so it is a libFuzzer binary too (the coverage
//! instrumentation needs libFuzzer's runtime): it writes the seeds at start-up and exits, so
//! `cargo fuzz run gen_seeds` or running the binary does it (see docs/fuzzing.md).
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![no_main]
// `init` exits after writing, so the harness code the macro adds after it is unreachable.
#![allow(unreachable_code)]

use std::path::Path;

fn write(target: &str, name: &str, bytes: &[u8]) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(target);
    std::fs::create_dir_all(&dir).expect("corpus directory");
    std::fs::write(dir.join(name), bytes).expect("seed file");
    println!("corpus/{target}/{name}: {} bytes", bytes.len());
}

/// The honest bytes, and a prefix of half their length.
fn honest(target: &str, bytes: &[u8]) {
    write(target, "honest", bytes);
    write(target, "half", &bytes[..bytes.len() / 2]);
}

libfuzzer_sys::fuzz_target!(
    init: {
        write_seeds();
        std::process::exit(0);
    },
    |_data: &[u8]| {}
);

fn write_seeds() {
    let h = vouch_fuzz::halo2();
    honest("halo2_verify", &h.proof.bytes);
    // The key target recomputes the SHA-256 trailer of its input: seed the body without it,
    // and the whole file as is.
    let body = &h.vk_bytes[..h.vk_bytes.len() - 32];
    write("halo2_vk_decode", "honest-body", body);
    write("halo2_vk_decode", "honest-file", &h.vk_bytes);

    let v = vouch_fuzz::vouch();
    honest("proof_file", &v.proof_file_bytes);
    honest("model_package", &v.package_bytes);
    write("keys_dir", "honest", &v.keys_summary_json);

    let g = vouch_fuzz::gkr();
    honest("gkr_proofs", &g.matmul_proof.to_bytes());
    write("gkr_proofs", "honest-lookup", &g.lookup_proof.to_bytes());

    let c = vouch_fuzz::gkr_committed();
    honest("gkr_pcs", &c.opening);
    write("gkr_pcs", "honest-range", &c.range);
    write("gkr_pcs", "honest-matmul", &c.matmul);

    // gkr_program reads its input both as a proof and as `offset (u32 LE) ‖ XOR mask` over
    // the honest proof: seed both, the mask as a zero (honest) one and a one-bit flip.
    for (target, p) in [
        ("gkr_program", vouch_fuzz::gkr_program()),
        ("gkr_zk_program", vouch_fuzz::gkr_zk_program()),
        ("gkr_linked_program", vouch_fuzz::gkr_linked_program()),
    ] {
        honest(target, &p.proof);
        let mut xor = vec![0u8; 4 + 8];
        write(target, "xor-zero", &xor);
        xor[..4].copy_from_slice(&(p.proof.len() as u32 / 2).to_le_bytes());
        xor[4] = 1;
        write(target, "xor-flip", &xor);
    }
}
