//! Hiding tensor commitments (HVZK-WHIR): commit, open and verify cost by tensor size.
//!
//!     cargo bench -p vouch-gkr --bench pcs            # 2^16, 2^20, 2^22 entries
//!     cargo bench -p vouch-gkr --bench pcs -- 22      # sizes whose log2 contains "22"
//!
//! 2^22 entries hold a 1280x720 RGB photo (2 764 800 u8 values, zero-padded): the cost of
//! committing to a camera original on the gkr route. One opening proves the values at two
//! points (what a layer-by-layer proof typically needs from a committed tensor). Peak RSS is
//! the process high-water mark after the size ran (sizes run in increasing order).

use std::time::Instant;

use p3_field::PrimeCharacteristicRing;
use vouch_gkr::field::{embed, EF, F};
use vouch_gkr::pcs::TensorPcs;
use vouch_gkr::transcript::Transcript;

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn main() {
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    println!("threads: {}", rayon::current_num_threads());
    println!("| entries | commit | open (2 points) | verify | proof | peak RSS |");
    println!("|---|---|---|---|---|---|");
    for log in [16usize, 20, 22] {
        if !filter.is_empty() && !filter.iter().any(|f| log.to_string().contains(f.as_str())) {
            continue;
        }
        let len = if log == 22 { 1280 * 720 * 3 } else { 1 << log };
        let mut s = 0x5eed_u64;
        let values: Vec<F> = (0..len)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                embed(((s >> 33) % 256) as i64)
            })
            .collect();
        let pcs = TensorPcs::for_len(len).expect("parameters");
        let t = Instant::now();
        let (commitment, data) = pcs.commit(&values, [9; 32]).expect("commit");
        let commit = t.elapsed();
        let points: Vec<Vec<EF>> = (0..2u64)
            .map(|j| {
                (0..pcs.num_vars() as u64)
                    .map(|i| EF::from_u64(1 + i * 31 + j * 977))
                    .collect()
            })
            .collect();
        let t = Instant::now();
        let proof = pcs
            .open(
                &commitment,
                data,
                &points,
                &mut Transcript::from_statement_bytes(b"bench"),
            )
            .expect("open");
        let open = t.elapsed();
        let bytes = proof.to_bytes();
        let t = Instant::now();
        pcs.verify(
            &commitment,
            &points,
            &proof,
            &mut Transcript::from_statement_bytes(b"bench"),
        )
        .expect("verify");
        let verify = t.elapsed();
        println!(
            "| {len} (2^{}) | {:.2} s | {:.2} s | {:.1} ms | {:.1} KiB | {:.0} MiB |",
            pcs.num_vars(),
            commit.as_secs_f64(),
            open.as_secs_f64(),
            verify.as_secs_f64() * 1e3,
            bytes.len() as f64 / 1024.0,
            peak_rss_mib()
        );
    }
}
