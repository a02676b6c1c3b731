//! Hostile bytes never panic: mutated and random verifying-key files and proofs give errors.
//! A deterministic mutation fuzzer; `VOUCH_FUZZ_ITERS=100000 cargo test --release -p
//! vouch-halo2 --test hostile_input` runs it for longer.
#![allow(clippy::unwrap_used)]

use vouch_backend::conformance::{op_cases, OpCase};
use vouch_backend::{Backend, Visibility, VisibilityPolicy, Witness};
use vouch_halo2::{Halo2Backend, Halo2Proof, Halo2ProvingKey, Halo2VerifyingKey, Srs};
use vouch_ir::interp;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Flips, overwrites, inserts, deletes or truncates a few bytes.
fn mutate(rng: &mut Rng, src: &[u8]) -> Vec<u8> {
    let mut b = src.to_vec();
    for _ in 0..1 + rng.below(4) {
        match rng.below(5) {
            0 if !b.is_empty() => {
                let i = rng.below(b.len());
                b[i] ^= 1 << rng.below(8);
            }
            1 if !b.is_empty() => {
                let i = rng.below(b.len());
                b[i] = rng.next() as u8;
            }
            2 => {
                let i = rng.below(b.len() + 1);
                b.insert(i, rng.next() as u8);
            }
            3 if !b.is_empty() => {
                let i = rng.below(b.len());
                b.remove(i);
            }
            _ => {
                let n = rng.below(b.len() + 1);
                b.truncate(n);
            }
        }
    }
    b
}

fn iterations() -> usize {
    std::env::var("VOUCH_FUZZ_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300)
}

/// The conformance case the hostile inputs start from, with its keys (public input and output,
/// fixed weights, `Srs::InsecureDev`).
fn requant_keys() -> (OpCase, Halo2Backend, Halo2ProvingKey, Halo2VerifyingKey) {
    let case = op_cases()
        .into_iter()
        .find(|c| c.name.starts_with("Requant/per-channel"))
        .unwrap();
    let policy = VisibilityPolicy {
        input: Visibility::Public,
        weights: Visibility::Fixed,
        output: Visibility::Public,
    };
    let be = Halo2Backend {
        srs: Srs::InsecureDev,
    };
    let (pk, vk) = be.setup(&case.program, policy).unwrap();
    (case, be, pk, vk)
}

#[test]
fn mutated_keys_and_proofs_never_panic_and_are_never_accepted() {
    let (case, be, pk, vk) = requant_keys();
    let w: Witness = interp::run(&case.program, &case.inputs).unwrap().into();
    let (st, proof) = be.prove(&pk, &w).unwrap();
    let vk_bytes = vk.encode();
    let back = Halo2VerifyingKey::decode(&vk_bytes).unwrap();
    be.verify(&back, &st, &proof).unwrap();

    let mut rng = Rng(0x5eed_1234_5678_9abc);
    let mut accepted = 0;
    for i in 0..iterations() {
        // Key files: decoding a mutation either fails or gives a key that rejects the proof
        // unless the mutation hit bytes the key does not depend on (none should exist).
        let kb = mutate(&mut rng, &vk_bytes);
        if let Ok(k) = Halo2VerifyingKey::decode(&kb) {
            if kb != vk_bytes && be.verify(&k, &st, &proof).is_ok() {
                accepted += 1;
            }
        }
        // Proofs.
        let pb = mutate(&mut rng, &proof.bytes);
        if pb != proof.bytes && be.verify(&vk, &st, &Halo2Proof { bytes: pb }).is_ok() {
            accepted += 1;
        }
        // Random garbage of random length.
        if i % 16 == 0 {
            let n = rng.below(4096);
            let junk: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
            assert!(Halo2VerifyingKey::decode(&junk).is_err());
            assert!(be.verify(&vk, &st, &Halo2Proof { bytes: junk }).is_err());
        }
    }
    assert_eq!(accepted, 0, "mutated inputs accepted");
}

/// halo2-axiom sizes allocations from the `k` inside the verifying key and the parameters
/// (`1 << k` domain tables, `2^k` points) before it reads further. A key file whose parts name
/// a huge `k` (found by `cargo fuzz run halo2_vk_decode`: k >= 32 overflowed the shift; k = 31
/// would ask for 2^31 points) is refused before those parsers run, checksum or not.
#[test]
fn key_parts_naming_another_circuit_size_are_rejected() {
    use halo2_axiom::SerdeFormat;
    use sha2::{Digest as _, Sha256};
    let (_, _, _, vk) = requant_keys();
    let bytes = vk.encode();
    let k = vk.info.k;
    let body = &bytes[..bytes.len() - 32];
    let vk_part = vk.vk.to_bytes(SerdeFormat::Processed);
    let vk_at = body
        .windows(vk_part.len())
        .position(|w| w == vk_part.as_slice())
        .unwrap();
    let params_len = 4 + 2 * (1usize << k) * 64 + 2 * 128;
    let params_at = body.len() - params_len;
    assert_eq!(&body[params_at..params_at + 4], &k.to_le_bytes());
    let with_checksum = |b: Vec<u8>| {
        let mut b = b;
        let sum: [u8; 32] = Sha256::digest(&b).into();
        b.extend_from_slice(&sum);
        b
    };
    for bad_k in [k + 1, 31, 40, u32::MAX] {
        for at in [vk_at + 1, params_at] {
            let mut b = body.to_vec();
            b[at..at + 4].copy_from_slice(&bad_k.to_le_bytes());
            assert!(
                Halo2VerifyingKey::decode(&with_checksum(b)).is_err(),
                "k = {bad_k} at byte {at} accepted"
            );
        }
    }
    // Parameters one point short or long: the length must be exactly what k implies.
    for cut in [64usize, 1] {
        let mut b = body[..params_at - 8].to_vec();
        b.extend_from_slice(&((params_len - cut) as u64).to_le_bytes());
        b.extend_from_slice(&body[params_at..body.len() - cut]);
        assert!(Halo2VerifyingKey::decode(&with_checksum(b)).is_err());
    }
    assert!(Halo2VerifyingKey::decode(&bytes).is_ok());
}
