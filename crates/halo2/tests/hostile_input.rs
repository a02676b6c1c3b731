//! Hostile bytes never panic: mutated and random verifying-key files and proofs give errors.
//! A deterministic mutation fuzzer; `VOUCH_FUZZ_ITERS=100000 cargo test --release -p
//! vouch-halo2 --test hostile_input` runs it for longer.
#![allow(clippy::unwrap_used)]

use vouch_backend::conformance::op_cases;
use vouch_backend::{Backend, Visibility, VisibilityPolicy, Witness};
use vouch_halo2::{Halo2Backend, Halo2Proof, Halo2VerifyingKey, Srs};
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

#[test]
fn mutated_keys_and_proofs_never_panic_and_are_never_accepted() {
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
