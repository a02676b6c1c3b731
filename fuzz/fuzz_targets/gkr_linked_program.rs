//! The vouch-gkr program proof with a hashed input (`program::ProgramProof` of a plan whose
//! input is a linked commitment named by the statement, proved by `program::zk` with a second
//! batch and opening) on arbitrary bytes, and on the honest proof with bytes XORed in: never a
//! panic; what decodes re-encodes to the same bytes (one encoding per proof); `verify` against
//! the honest statement gives a verdict; no proof is accepted for the forged statement (one
//! public output value off by one). WHIR openings are randomised, so other proofs accepted for
//! the honest statement are not in themselves a failure.
//!
//! Input: the bytes as given are one proof; and, when there are at least 4 bytes, the first 4
//! (little-endian u32, modulo the proof's length) are an offset into the honest encoding and
//! the rest are XORed into it from there (past its end ignored): a structured mutation that
//! keeps the framing, so it reaches the verifier's deep paths.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(
    init: {
        vouch_fuzz::gkr_linked_program();
    },
    |data: &[u8]| {
        vouch_fuzz::fuzz_program_proof(vouch_fuzz::gkr_linked_program(), data);
    }
);
