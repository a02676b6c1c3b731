//! LogUp-GKR lookup proofs: cost per lookup for range checks and function tables.
//!
//!     cargo bench -p vouch-gkr --bench logup             # all cases
//!     cargo bench -p vouch-gkr --bench logup -- range16  # cases whose name contains "range16"
//!
//! Prints, per case: the multiplicity count (witness generation, `m ms`), prove and verify
//! times, the part of verification that stays once the witness is committed (`bound ms`:
//! `verify_bound`, i.e. the GKR and the table's own evaluation, without absorbing the witness
//! or evaluating it directly), the proof size and the prove time per lookup. Prove and verify
//! include absorbing the public witness into the transcript (SHA-256 over 8 bytes per value)
//! and, for verify, the direct evaluation of the openings.

use std::time::{Duration, Instant};

use vouch_backend::{Statement, VisibilityPolicy};
use vouch_gkr::logup::{self, LookupClaim, LookupProof, Table};
use vouch_gkr::transcript::Transcript;
use vouch_ir::{Digest, LookupTable, Range, TableFn};

/// Best of `reps` runs.
fn time<T>(reps: usize, mut f: impl FnMut() -> T) -> (Duration, T) {
    let mut best = Duration::MAX;
    let mut out = None;
    for _ in 0..reps {
        let t = Instant::now();
        let v = f();
        best = best.min(t.elapsed());
        out = Some(v);
    }
    match out {
        Some(v) => (best, v),
        None => unreachable!("reps > 0"),
    }
}

fn rows(n: usize, len: usize, seed: u64) -> Vec<usize> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 33) % len as u64) as usize
        })
        .collect()
}

fn main() {
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let statement = Statement {
        program_digest: Digest([1; 32]),
        backend: "gkr".into(),
        params_digest: [0; 32],
        visibility: VisibilityPolicy::client(),
        public: vec![],
        commitments: vec![],
        insecure_setup: false,
    };
    let sigmoid = |bits: u32| {
        let half = 1i64 << (bits - 1);
        Table::from_ir(&LookupTable::generate(
            TableFn::Sigmoid,
            Range::new(-half, half - 1),
            8.0 / half as f64,
            1.0 / 127.0,
            Range::new(0, 127),
        ))
    };
    println!("rayon threads: {}", rayon::current_num_threads());
    println!(
        "{:<12} {:>9} {:>8} {:>9} {:>10} {:>10} {:>10} {:>9} {:>9}",
        "table",
        "lookups",
        "T",
        "m ms",
        "prove ms",
        "verify ms",
        "bound ms",
        "proof B",
        "ns/lookup"
    );
    let tables = [
        ("range8", Table::range(8)),
        ("range16", Table::range(16)),
        ("sigmoid8", sigmoid(8)),
        ("sigmoid16", sigmoid(16)),
    ];
    for log_n in [16u32, 20] {
        for (name, table) in &tables {
            let n = 1usize << log_n;
            let label = format!("{name}/2^{log_n}");
            if !filter.is_empty() && !filter.iter().any(|f| label.contains(f.as_str())) {
                continue;
            }
            let idx = rows(n, table.len(), log_n as u64);
            let columns: Vec<Vec<i64>> = match table {
                Table::Range { lo, .. } => vec![idx.iter().map(|&j| lo + j as i64).collect()],
                Table::Function { lo, values } => vec![
                    idx.iter().map(|&j| lo + j as i64).collect(),
                    idx.iter().map(|&j| values[j]).collect(),
                ],
            };
            let cols: Vec<&[i64]> = columns.iter().map(Vec::as_slice).collect();
            let reps = if n > 1 << 18 { 3 } else { 10 };
            let (t_m, m) = time(reps, || logup::multiplicities(table, &cols));
            let Ok(m) = m else {
                panic!("multiplicities failed on {label}");
            };
            let claim = LookupClaim {
                table,
                columns: cols.clone(),
                multiplicities: &m,
            };
            let (t_prove, proof) = time(reps, || {
                logup::prove(&mut Transcript::new(&statement), &claim)
            });
            let Ok(proof) = proof else {
                panic!("prove failed on {label}");
            };
            let bytes = proof.to_bytes();
            let (t_verify, ok) = time(reps, || {
                LookupProof::from_bytes(&bytes)
                    .and_then(|p| logup::verify(&mut Transcript::new(&statement), &claim, &p))
            });
            assert!(ok.is_ok(), "verify failed on {label}");
            // As if the witness were committed in the statement: no binding, no direct openings.
            let Ok(proof_b) = logup::prove_bound(&mut Transcript::new(&statement), &claim) else {
                panic!("prove_bound failed on {label}");
            };
            let (t_bound, openings) = time(reps, || {
                logup::verify_bound(&mut Transcript::new(&statement), table, n, &proof_b)
            });
            let Ok(openings) = openings else {
                panic!("verify_bound failed on {label}");
            };
            assert!(logup::check_openings(&claim, &openings).is_ok());
            let ms = |d: Duration| d.as_secs_f64() * 1e3;
            println!(
                "{:<12} {:>9} {:>8} {:>9.2} {:>10.2} {:>10.2} {:>10.2} {:>9} {:>9.1}",
                name,
                format!("2^{log_n}"),
                table.len(),
                ms(t_m),
                ms(t_prove),
                ms(t_verify),
                ms(t_bound),
                bytes.len(),
                t_prove.as_secs_f64() * 1e9 / n as f64
            );
        }
    }
}
