//! The vouch-gkr commitment-opening decoder (`pcs::OpeningProof::from_bytes`) and verifier on
//! arbitrary bytes: never a panic; decoding is canonical; only the honest opening verifies.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use p3_field::PrimeCharacteristicRing;
use vouch_gkr::field::{embed, EF};
use vouch_gkr::pcs::{OpeningProof, TensorCommitment, TensorPcs};
use vouch_gkr::transcript::Transcript;

const STATEMENT: &[u8] = b"vouch-fuzz gkr pcs statement";

struct Fixture {
    pcs: TensorPcs,
    commitment: TensorCommitment,
    points: Vec<Vec<EF>>,
    honest: Vec<u8>,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let pcs = TensorPcs::for_len(2048).expect("parameters");
        let values: Vec<_> = (0..2048i64).map(|i| embed(i * 37 % 256)).collect();
        let (commitment, data) = pcs.commit(&values, [3; 32]).expect("commit");
        let points = vec![(0..pcs.num_vars() as u64)
            .map(|i| EF::from_u64(5 + 11 * i))
            .collect::<Vec<EF>>()];
        let honest = pcs
            .open(
                &commitment,
                data,
                &points,
                &mut Transcript::from_statement_bytes(STATEMENT),
            )
            .expect("open")
            .to_bytes();
        Fixture {
            pcs,
            commitment,
            points,
            honest,
        }
    })
}

fuzz_target!(
    init: {
        fixture();
    },
    |data: &[u8]| {
        let f = fixture();
        if let Ok(p) = OpeningProof::from_bytes(data) {
            assert_eq!(p.to_bytes(), data, "non-canonical opening bytes accepted");
            let accepted = f
                .pcs
                .verify(
                    &f.commitment,
                    &f.points,
                    &p,
                    &mut Transcript::from_statement_bytes(STATEMENT),
                )
                .is_ok();
            if data != f.honest.as_slice() {
                assert!(!accepted, "an opening other than the honest one was accepted");
            }
        }
    }
);
