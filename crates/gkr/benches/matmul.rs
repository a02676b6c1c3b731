//! Matmul proof cost vs the plain integer product it proves.
//!
//!     cargo bench -p vouch-gkr --bench matmul            # all sizes
//!     cargo bench -p vouch-gkr --bench matmul -- 256     # sizes whose name contains "256"
//!
//! Prints, per shape: the plain i64 matmul (rayon over rows, as the interpreter does), prove and
//! verify times, and the proof size. The statement holds only digests (operands are not
//! hashed into it); verification evaluates Ã and B̃ directly, which stands in for commitment
//! openings in this first step.

use std::time::{Duration, Instant};

use rayon::prelude::*;
use vouch_backend::{Statement, VisibilityPolicy};
use vouch_gkr::matmul::{self, MatmulClaim, MatmulProof, MatmulShape};
use vouch_gkr::transcript::Transcript;
use vouch_ir::Digest;

fn matrix(len: usize, seed: u64) -> Vec<i64> {
    let mut s = seed;
    (0..len)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 33) % 255) as i64 - 127
        })
        .collect()
}

fn plain_matmul(shape: MatmulShape, a: &[i64], b: &[i64]) -> Vec<i64> {
    let MatmulShape { k, n, .. } = shape;
    let mut c = vec![0i64; shape.m * n];
    c.par_chunks_mut(n).enumerate().for_each(|(i, row)| {
        for (kk, &av) in a[i * k..(i + 1) * k].iter().enumerate() {
            for (o, &bv) in row.iter_mut().zip(&b[kk * n..(kk + 1) * n]) {
                *o += av * bv;
            }
        }
    });
    c
}

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
    println!(
        "{:<16} {:>12} {:>12} {:>12} {:>10} {:>12}",
        "shape", "matmul ms", "prove ms", "verify ms", "proof B", "prove/matmul"
    );
    for (m, k, n) in [(256, 256, 256), (1000, 1000, 1000), (1024, 1024, 1024)] {
        let name = format!("{m}x{k}x{n}");
        if !filter.is_empty() && !filter.iter().any(|f| name.contains(f.as_str())) {
            continue;
        }
        let shape = MatmulShape { m, k, n };
        let (a, b) = (matrix(m * k, 1), matrix(k * n, 2));
        let reps = if m * k * n > 1 << 26 { 3 } else { 10 };
        let (t_mm, c) = time(reps, || plain_matmul(shape, &a, &b));
        let claim = MatmulClaim {
            shape,
            a: &a,
            b: &b,
            c: &c,
        };
        let (t_prove, proof) = time(reps, || {
            matmul::prove(&mut Transcript::new(&statement), &claim)
        });
        let Ok(proof) = proof else {
            panic!("prove failed on {name}");
        };
        let bytes = proof.to_bytes();
        let (t_verify, ok) = time(reps, || {
            MatmulProof::from_bytes(&bytes)
                .and_then(|p| matmul::verify(&mut Transcript::new(&statement), &claim, &p))
        });
        assert!(ok.is_ok(), "verify failed on {name}");
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        println!(
            "{:<16} {:>12.2} {:>12.2} {:>12.2} {:>10} {:>12.3}",
            name,
            ms(t_mm),
            ms(t_prove),
            ms(t_verify),
            bytes.len(),
            ms(t_prove) / ms(t_mm)
        );
    }
}
