//! LogUp-GKR lookups: completeness on range and function tables of many sizes, typed errors
//! for malformed claims, and one test per attack (values outside the table, forged
//! multiplicities, proof mutations, statement changes, swapped witnesses). Every rejection
//! comes from the verifier.
#![allow(clippy::unwrap_used)]

use p3_field::{Field, PrimeCharacteristicRing};
use vouch_backend::{Statement, VisibilityPolicy};
use vouch_gkr::field::{embed, EF, P};
use vouch_gkr::logup::fracsum::{self, Frac, FracSumError};
use vouch_gkr::logup::{self, LookupClaim, LookupError, LookupProof, Table};
use vouch_gkr::sumcheck::SumcheckError;
use vouch_gkr::transcript::Transcript;
use vouch_ir::{Digest, LookupTable, Range, TableFn};

mod common;
use common::Rng;

fn statement(digest_byte: u8) -> Statement {
    Statement {
        program_digest: Digest([digest_byte; 32]),
        backend: "gkr".into(),
        params_digest: [7; 32],
        visibility: VisibilityPolicy::client(),
        public: vec![],
        commitments: vec![],
        insecure_setup: false,
    }
}

/// A lookup claim with owned data.
struct Case {
    table: Table,
    columns: Vec<Vec<i64>>,
    m: Vec<u64>,
}

impl Case {
    /// `n` random in-table lookups, honest multiplicities.
    fn random(rng: &mut Rng, table: Table, n: usize) -> Self {
        let len = table.len();
        let rows: Vec<usize> = (0..n).map(|_| rng.below(len)).collect();
        let columns = match &table {
            Table::Range { lo, .. } => vec![rows.iter().map(|&j| lo + j as i64).collect()],
            Table::Function { lo, values } => vec![
                rows.iter().map(|&j| lo + j as i64).collect(),
                rows.iter().map(|&j| values[j]).collect(),
            ],
        };
        let mut case = Case {
            table,
            columns,
            m: vec![],
        };
        case.m = logup::multiplicities(&case.table, &case.col_refs()).unwrap();
        case
    }

    fn col_refs(&self) -> Vec<&[i64]> {
        self.columns.iter().map(Vec::as_slice).collect()
    }

    fn claim(&self) -> LookupClaim<'_> {
        LookupClaim {
            table: &self.table,
            columns: self.col_refs(),
            multiplicities: &self.m,
        }
    }
}

fn prove(st: &Statement, claim: &LookupClaim<'_>) -> LookupProof {
    logup::prove(&mut Transcript::new(st), claim).unwrap()
}

fn verify(st: &Statement, claim: &LookupClaim<'_>, proof: &LookupProof) -> Result<(), LookupError> {
    logup::verify(&mut Transcript::new(st), claim, proof)
}

/// Proves, verifies, round-trips the bytes and verifies the parsed proof.
fn complete(st: &Statement, case: &Case, what: &str) -> LookupProof {
    let proof = prove(st, &case.claim());
    verify(st, &case.claim(), &proof).unwrap_or_else(|e| panic!("{what}: {e}"));
    let parsed = LookupProof::from_bytes(&proof.to_bytes()).unwrap();
    assert_eq!(parsed, proof, "{what}");
    verify(st, &case.claim(), &parsed).unwrap();
    proof
}

fn sigmoid_table(domain: Range) -> Table {
    Table::from_ir(&LookupTable::generate(
        TableFn::Sigmoid,
        domain,
        1.0 / 16.0,
        1.0 / 127.0,
        Range::new(0, 127),
    ))
}

#[test]
fn honest_range_checks_verify_for_8_and_16_bit_tables() {
    let mut rng = Rng(1);
    let st = statement(1);
    for (table, n) in [
        (Table::range(8), 1000),
        (Table::range(8), 1 << 12),
        (Table::range(16), 5000),
        (Table::range(16), 1 << 16),
        (Table::Range { lo: -128, bits: 8 }, 777),
    ] {
        let case = Case::random(&mut rng, table, n);
        assert_eq!(case.m.iter().sum::<u64>(), n as u64);
        let proof = complete(&st, &case, &format!("{:?} n={n}", case.table));
        // one layer per variable of the deeper side
        let depth = |x: usize| x.next_power_of_two().trailing_zeros() as usize;
        assert_eq!(
            proof.gkr.layers.len(),
            depth(n).max(depth(case.table.len()))
        );
    }
}

#[test]
fn honest_function_table_lookups_verify_including_a_table_of_odd_length() {
    let mut rng = Rng(2);
    let st = statement(1);
    for (domain, n) in [
        (Range::new(-128, 127), 3000),
        (Range::new(-100, 100), 513), // 201 entries, padded to 256
        (Range::new(0, 0), 5),        // a single entry
    ] {
        let table = sigmoid_table(domain);
        let case = Case::random(&mut rng, table, n);
        complete(&st, &case, &format!("{domain:?} n={n}"));
    }
}

#[test]
fn sizes_that_are_not_powers_of_two_and_tiny_sizes_verify() {
    let mut rng = Rng(3);
    let st = statement(1);
    for n in [1, 2, 3, 5, 7, 100, 1023, 1025] {
        for table in [
            Table::range(0), // the single value 0
            Table::range(1),
            Table::range(5),
            Table::Function {
                lo: 3,
                values: vec![-7],
            },
            Table::Function {
                lo: -1,
                values: vec![10, 20, 30],
            },
        ] {
            let case = Case::random(&mut rng, table, n);
            complete(&st, &case, &format!("{:?} n={n}", case.table));
        }
    }
}

#[test]
fn empty_and_malformed_claims_are_typed_errors() {
    let st = statement(1);
    let range = Table::range(4);
    let m = vec![0u64; 16];
    let empty: &[i64] = &[];
    let claim = LookupClaim {
        table: &range,
        columns: vec![empty],
        multiplicities: &m,
    };
    assert_eq!(
        logup::prove(&mut Transcript::new(&st), &claim).unwrap_err(),
        LookupError::NoLookups
    );
    // A proof made for something else is still rejected with the claim's error.
    let ok = Case::random(&mut Rng(4), Table::range(4), 3);
    let proof = prove(&st, &ok.claim());
    assert_eq!(verify(&st, &claim, &proof), Err(LookupError::NoLookups));
    assert_eq!(
        logup::verify_bound(&mut Transcript::new(&st), &range, 0, &proof),
        Err(LookupError::NoLookups)
    );

    let empty_table = Table::Function {
        lo: 0,
        values: vec![],
    };
    let xs = [0i64];
    let claim = LookupClaim {
        table: &empty_table,
        columns: vec![&xs[..], &xs[..]],
        multiplicities: &[],
    };
    assert_eq!(verify(&st, &claim, &proof), Err(LookupError::EmptyTable));
    assert_eq!(
        logup::multiplicities(&empty_table, &[&xs[..], &xs[..]]),
        Err(LookupError::EmptyTable)
    );

    let vals = [1i64, 2];
    type Expect = fn(&LookupError) -> bool;
    let cases: Vec<(LookupClaim<'_>, Expect)> = vec![
        (
            LookupClaim {
                table: &range,
                columns: vec![&vals[..], &vals[..]],
                multiplicities: &m,
            },
            |e| {
                matches!(
                    e,
                    LookupError::ColumnCount {
                        expected: 1,
                        got: 2
                    }
                )
            },
        ),
        (
            LookupClaim {
                table: &range,
                columns: vec![],
                multiplicities: &m,
            },
            |e| {
                matches!(
                    e,
                    LookupError::ColumnCount {
                        expected: 1,
                        got: 0
                    }
                )
            },
        ),
        (
            LookupClaim {
                table: &range,
                columns: vec![&vals[..]],
                multiplicities: &m[..15],
            },
            |e| {
                matches!(
                    e,
                    LookupError::MultiplicityLength {
                        expected: 16,
                        got: 15
                    }
                )
            },
        ),
    ];
    for (claim, is_expected) in &cases {
        let err = verify(&st, claim, &proof).unwrap_err();
        assert!(is_expected(&err), "{err}");
        let err = logup::prove(&mut Transcript::new(&st), claim).unwrap_err();
        assert!(is_expected(&err), "{err}");
    }
    let pair = Table::Function {
        lo: 0,
        values: vec![5, 6],
    };
    let short = [0i64];
    let claim = LookupClaim {
        table: &pair,
        columns: vec![&vals[..], &short[..]],
        multiplicities: &[1, 1],
    };
    assert!(matches!(
        verify(&st, &claim, &proof),
        Err(LookupError::ColumnLength {
            column: 1,
            expected: 2,
            got: 1
        })
    ));
    let mut big = m.clone();
    big[3] = P;
    let claim = LookupClaim {
        table: &range,
        columns: vec![&vals[..]],
        multiplicities: &big,
    };
    assert!(matches!(
        verify(&st, &claim, &proof),
        Err(LookupError::MultiplicityNotCanonical { index: 3, .. })
    ));
    for table in [
        Table::range(25),
        Table::Range {
            lo: (1 << 62) - 4,
            bits: 3,
        },
        Table::Function {
            lo: 0,
            values: vec![0, 1 << 62],
        },
    ] {
        let err = logup::verify_bound(&mut Transcript::new(&st), &table, 2, &proof).unwrap_err();
        assert!(
            matches!(
                err,
                LookupError::TableTooLarge { .. } | LookupError::TableValueOutOfRange { .. }
            ),
            "{table:?}: {err}"
        );
    }
}

/// The honest prover, run on lookups with one value outside the table and any multiplicities
/// it likes: the verifier rejects (the sums differ), whatever the multiplicities claim.
#[test]
fn a_value_outside_the_table_is_rejected_by_the_verifier() {
    let mut rng = Rng(5);
    let st = statement(1);
    for bad in [256i64, -1, 1 << 40, i64::MIN, i64::MAX, (P - 1) as i64] {
        let mut case = Case::random(&mut rng, Table::range(8), 600);
        let idx = rng.below(600);
        let old = case.columns[0][idx];
        case.columns[0][idx] = bad;
        assert_eq!(
            logup::multiplicities(&case.table, &case.col_refs()),
            Err(LookupError::NotInTable {
                index: idx,
                tuple: vec![bad]
            })
        );
        // (a) the true counts of the other lookups
        case.m[old as usize] -= 1;
        let proof = prove(&st, &case.claim());
        assert_eq!(
            verify(&st, &case.claim(), &proof),
            Err(LookupError::SumMismatch),
            "bad value {bad}"
        );
        // (b) the bad lookup counted at the old entry or at the table's end
        for j in [old as usize, 255, 0] {
            let mut m = case.m.clone();
            m[j] += 1;
            let claim = LookupClaim {
                multiplicities: &m,
                ..case.claim()
            };
            let proof = prove(&st, &claim);
            assert_eq!(verify(&st, &claim, &proof), Err(LookupError::SumMismatch));
        }
    }
    // a pair whose output is wrong: (x, f(x) + 1)
    let mut case = Case::random(&mut rng, sigmoid_table(Range::new(-128, 127)), 400);
    case.columns[1][17] += 1;
    assert!(matches!(
        logup::multiplicities(&case.table, &case.col_refs()),
        Err(LookupError::NotInTable { index: 17, .. })
    ));
    let proof = prove(&st, &case.claim());
    assert_eq!(
        verify(&st, &case.claim(), &proof),
        Err(LookupError::SumMismatch)
    );
    // a pair with the components swapped
    let mut case = Case::random(&mut rng, sigmoid_table(Range::new(-128, 127)), 400);
    let (x, y) = (case.columns[0][3], case.columns[1][3]);
    if x != y {
        case.columns[0][3] = y;
        case.columns[1][3] = x;
        let proof = prove(&st, &case.claim());
        assert_eq!(
            verify(&st, &case.claim(), &proof),
            Err(LookupError::SumMismatch)
        );
    }
}

#[test]
fn forged_multiplicities_are_rejected() {
    let mut rng = Rng(6);
    let st = statement(1);
    for table in [Table::range(8), sigmoid_table(Range::new(-64, 63))] {
        let case = Case::random(&mut rng, table, 900);
        let t = case.table.len();
        let forgeries: Vec<Vec<u64>> = vec![
            // one count off by one
            {
                let mut m = case.m.clone();
                m[rng.below(t)] += 1;
                m
            },
            // same total, moved from one entry to another
            {
                let mut m = case.m.clone();
                let j = (0..t).find(|&j| m[j] > 0).unwrap();
                m[j] -= 1;
                m[(j + 1) % t] += 1;
                m
            },
            // m_0 = p - 1 ≡ -1 (mod p): the largest canonical count
            {
                let mut m = case.m.clone();
                m[0] = P - 1;
                m
            },
            // all zero
            vec![0; t],
        ];
        for m in &forgeries {
            let claim = LookupClaim {
                multiplicities: m,
                ..case.claim()
            };
            let proof = prove(&st, &claim);
            assert_eq!(verify(&st, &claim, &proof), Err(LookupError::SumMismatch));
            // the honest proof does not transfer to the forged multiplicities either
            let honest = prove(&st, &case.claim());
            assert!(verify(&st, &claim, &honest).is_err());
        }
    }
}

#[test]
fn single_byte_flips_are_rejected_or_fail_decoding_without_panic() {
    let mut rng = Rng(7);
    let st = statement(1);
    let case = Case::random(&mut rng, sigmoid_table(Range::new(-50, 49)), 300);
    let bytes = prove(&st, &case.claim()).to_bytes();
    verify(
        &st,
        &case.claim(),
        &LookupProof::from_bytes(&bytes).unwrap(),
    )
    .unwrap();
    // every position once, plus random extra samples
    let positions: Vec<usize> = (0..bytes.len())
        .chain((0..300).map(|_| rng.below(bytes.len())))
        .collect();
    let (mut decode_errors, mut verify_errors) = (0, 0);
    for pos in positions {
        let mut m = bytes.clone();
        let flip = 1 + rng.below(255) as u8;
        m[pos] ^= flip;
        let outcome = std::panic::catch_unwind(|| {
            LookupProof::from_bytes(&m).map(|p| verify(&st, &case.claim(), &p))
        });
        match outcome {
            Ok(Err(_)) => decode_errors += 1,
            Ok(Ok(Err(_))) => verify_errors += 1,
            Ok(Ok(Ok(()))) => panic!("flip at byte {pos} (^{flip:#x}) accepted"),
            Err(_) => panic!("decoder or verifier panicked on a flip at byte {pos}"),
        }
    }
    assert!(decode_errors > 0 && verify_errors > 0);
    assert!(decode_errors + verify_errors >= bytes.len());
    for len in 0..bytes.len() {
        assert!(LookupProof::from_bytes(&bytes[..len]).is_err());
    }
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(matches!(
        LookupProof::from_bytes(&longer),
        Err(LookupError::Decode(_))
    ));
    // hostile counts are refused before any allocation
    let mut huge = bytes.clone();
    huge[5..9].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(matches!(
        LookupProof::from_bytes(&huge),
        Err(LookupError::Decode(_))
    ));
}

#[test]
fn single_element_and_structural_mutations_are_rejected() {
    let mut rng = Rng(8);
    let st = statement(1);
    let case = Case::random(&mut rng, Table::range(8), 1000);
    let proof = prove(&st, &case.claim());
    // every element of the proof, addressed by a flat index
    let mut slots = vec![];
    for i in 0..proof.gkr.roots.len() {
        slots.push((0, i, 0, 0));
        slots.push((0, i, 1, 0));
    }
    for (l, layer) in proof.gkr.layers.iter().enumerate() {
        for r in 0..layer.rounds.len() {
            for x in 0..4 {
                slots.push((1, l, r, x));
            }
        }
        for e in 0..layer.evals.len() {
            for x in 0..4 {
                slots.push((2, l, e, x));
            }
        }
    }
    for c in 0..proof.column_evals.len() {
        slots.push((3, c, 0, 0));
    }
    slots.push((4, 0, 0, 0));
    let mut count = 0;
    for &(kind, a, b, c) in &slots {
        let mut p = proof.clone();
        let delta = EF::from_u64(1 + rng.next() % 1000);
        match kind {
            0 if b == 0 => p.gkr.roots[a].p += delta,
            0 => p.gkr.roots[a].q += delta,
            1 => p.gkr.layers[a].rounds[b][c] += delta,
            2 => p.gkr.layers[a].evals[b][c] += delta,
            3 => p.column_evals[a] += delta,
            _ => p.multiplicity_eval += delta,
        }
        assert!(
            verify(&st, &case.claim(), &p).is_err(),
            "element {kind}/{a}/{b}/{c}"
        );
        count += 1;
    }
    assert!(count >= 200, "{count}");
    // a scaled root pair keeps the ratio but not the GKR
    let mut p = proof.clone();
    p.gkr.roots[0].p *= EF::TWO;
    p.gkr.roots[0].q *= EF::TWO;
    assert!(matches!(
        verify(&st, &case.claim(), &p),
        Err(LookupError::SumMismatch) | Err(LookupError::Gkr(_))
    ));
    // structure
    let mut p = proof.clone();
    p.gkr.layers.pop();
    assert!(matches!(
        verify(&st, &case.claim(), &p),
        Err(LookupError::Gkr(FracSumError::Structure {
            what: "layers",
            ..
        }))
    ));
    let mut p = proof.clone();
    p.gkr.layers[3].rounds.pop();
    assert!(matches!(
        verify(&st, &case.claim(), &p),
        Err(LookupError::Gkr(FracSumError::Structure { .. }))
    ));
    let mut p = proof.clone();
    p.gkr.layers[9].evals.push([EF::ZERO; 4]);
    assert!(verify(&st, &case.claim(), &p).is_err());
    let mut p = proof.clone();
    p.gkr.roots.pop();
    assert!(matches!(
        verify(&st, &case.claim(), &p),
        Err(LookupError::Structure { .. })
    ));
    let mut p = proof.clone();
    p.column_evals.push(EF::ONE);
    assert!(matches!(
        verify(&st, &case.claim(), &p),
        Err(LookupError::Structure { .. })
    ));
    // a round fixed to pass its sum check moves the failure to the next round
    let mut p = proof;
    let g = &mut p.gkr.layers[5].rounds[0];
    g[0] += EF::ONE;
    g[1] -= EF::ONE;
    assert!(matches!(
        verify(&st, &case.claim(), &p),
        Err(LookupError::Gkr(FracSumError::Sumcheck {
            layer: 5,
            source: SumcheckError::RoundSum { round: 1 }
        }))
    ));
}

#[test]
fn a_tampered_statement_or_table_rejects_the_old_proof() {
    let mut rng = Rng(9);
    let case = Case::random(&mut rng, Table::range(8), 500);
    let st = statement(1);
    let proof = prove(&st, &case.claim());
    verify(&st, &case.claim(), &proof).unwrap();
    let mut others = vec![statement(2)];
    let mut s = statement(1);
    s.params_digest[31] ^= 1;
    others.push(s);
    let mut s = statement(1);
    s.backend = "halo2".into();
    others.push(s);
    let mut s = statement(1);
    s.insecure_setup = true;
    others.push(s);
    let mut s = statement(1);
    s.visibility = VisibilityPolicy::provider();
    others.push(s);
    for other in &others {
        assert_ne!(
            Transcript::new(&st).challenge_ext(b"x"),
            Transcript::new(other).challenge_ext(b"x")
        );
        let err = verify(other, &case.claim(), &proof).unwrap_err();
        assert!(
            matches!(err, LookupError::SumMismatch | LookupError::Gkr(_)),
            "{err}"
        );
    }
    // raw transcript prefixes: one byte more or different
    let raw = |prefix: &[u8]| {
        logup::verify(
            &mut Transcript::from_statement_bytes(prefix),
            &case.claim(),
            &proof,
        )
    };
    let proof_raw = logup::prove(
        &mut Transcript::from_statement_bytes(b"prefix"),
        &case.claim(),
    )
    .unwrap();
    assert!(logup::verify(
        &mut Transcript::from_statement_bytes(b"prefix"),
        &case.claim(),
        &proof_raw
    )
    .is_ok());
    for p in [&b"prefiy"[..], b"prefix ", b"", b"Prefix"] {
        assert!(logup::verify(
            &mut Transcript::from_statement_bytes(p),
            &case.claim(),
            &proof_raw
        )
        .is_err());
    }
    assert!(raw(b"prefix").is_err());
    // the same lookups against a shifted table (still containing them) need a new proof
    let shifted = Table::Range { lo: -1, bits: 9 };
    let m = logup::multiplicities(&shifted, &case.col_refs()).unwrap();
    let claim = LookupClaim {
        table: &shifted,
        columns: case.col_refs(),
        multiplicities: &m,
    };
    assert!(verify(&st, &claim, &proof).is_err());
    verify(&st, &claim, &prove(&st, &claim)).unwrap();
}

/// Without the witness binding (transcript already bound, e.g. by a commitment), the proof is
/// tied to the witness only through the openings: a verifier that skipped [`check_openings`]
/// would accept a proof for other lookups. The openings catch the swap.
#[test]
fn the_openings_bind_the_proof_to_the_witness() {
    let mut rng = Rng(10);
    let st = statement(1);
    let a = Case::random(&mut rng, Table::range(8), 700);
    let b = Case::random(&mut rng, Table::range(8), 700);
    let proof = logup::prove_bound(&mut Transcript::new(&st), &a.claim()).unwrap();
    let openings = logup::verify_bound(&mut Transcript::new(&st), &a.table, 700, &proof).unwrap();
    logup::check_openings(&a.claim(), &openings).unwrap();
    assert_eq!(
        logup::check_openings(&b.claim(), &openings),
        Err(LookupError::Opening {
            what: "lookup column",
            column: 0
        })
    );
    let mut other_m = a.m.clone();
    other_m.swap(0, 1);
    if other_m != a.m {
        let claim = LookupClaim {
            multiplicities: &other_m,
            ..a.claim()
        };
        assert!(matches!(
            logup::check_openings(&claim, &openings),
            Err(LookupError::Opening {
                what: "multiplicities",
                ..
            })
        ));
    }
    // a forged opening value is caught inside the verifier by the input-layer check
    let mut p = proof.clone();
    p.column_evals[0] += EF::ONE;
    assert_eq!(
        logup::verify_bound(&mut Transcript::new(&st), &a.table, 700, &p).unwrap_err(),
        LookupError::InputLayer {
            side: "lookups",
            part: "denominator"
        }
    );
    let mut p = proof;
    p.multiplicity_eval += EF::ONE;
    assert_eq!(
        logup::verify_bound(&mut Transcript::new(&st), &a.table, 700, &p).unwrap_err(),
        LookupError::InputLayer {
            side: "table",
            part: "numerator"
        }
    );
}

/// A prover who sees α before fixing the multiplicities (a transcript that does not bind the
/// witness) can pick table numerators m' ∈ EF that make the sums agree despite a value outside
/// the table. The GKR then verifies (`verify_bound` accepts), and only the openings catch it:
/// no multiplicity vector of counts opens to m̃'. With the witness bound first (`verify`), the
/// challenges change and the proof fails outright.
#[test]
fn multiplicities_chosen_after_alpha_pass_the_gkr_but_not_the_openings() {
    let mut rng = Rng(12);
    let st = statement(1);
    let n = 500;
    let mut case = Case::random(&mut rng, Table::range(8), n);
    let old = case.columns[0][0];
    case.columns[0][0] = 300; // not in [0, 256)
    case.m[old as usize] -= 1; // honest counts of the other lookups
    let col = &case.columns[0];

    // prove_bound's transcript, replayed by hand
    let mut t = Transcript::new(&st);
    t.absorb_u64s(b"logup/shape", &[n as u64, 1]);
    t.absorb_u64s(b"logup/table", &[0, 0, 8]);
    let _beta = t.challenge_ext(b"logup/beta");
    let alpha = t.challenge_ext(b"logup/alpha");
    let lookups: Vec<Frac> = (0..512)
        .map(|i| match col.get(i) {
            Some(&v) => Frac {
                p: EF::ONE,
                q: alpha - EF::from(embed(v)),
            },
            None => Frac::PAD,
        })
        .collect();
    let target: EF = lookups
        .iter()
        .map(|f| f.p * f.q.try_inverse().unwrap())
        .sum();
    let mut numerators: Vec<EF> = case.m.iter().map(|&m| EF::from_u64(m)).collect();
    let rest: EF = (1..256)
        .map(|j| numerators[j] * (alpha - EF::from_u64(j as u64)).try_inverse().unwrap())
        .sum();
    numerators[0] = (target - rest) * alpha; // m'_0 / (α − 0) closes the gap
    let table: Vec<Frac> = numerators
        .iter()
        .enumerate()
        .map(|(j, &p)| Frac {
            p,
            q: alpha - EF::from_u64(j as u64),
        })
        .collect();
    let (gkr, claims) = fracsum::prove(vec![lookups, table], &mut t).unwrap();
    let col_f: Vec<_> = col.iter().map(|&v| embed(v)).collect();
    let column_eval = vouch_gkr::mle::evaluate_base(&col_f, &claims[0].point).unwrap();
    let m_eval = vouch_gkr::mle::evaluate(&numerators, &claims[1].point).unwrap();
    let proof = LookupProof {
        gkr,
        column_evals: vec![column_eval],
        multiplicity_eval: m_eval,
    };

    let openings = logup::verify_bound(&mut Transcript::new(&st), &case.table, n, &proof)
        .expect("the GKR itself is consistent");
    assert!(matches!(
        logup::check_openings(&case.claim(), &openings),
        Err(LookupError::Opening {
            what: "multiplicities",
            ..
        })
    ));
    assert!(logup::verify(&mut Transcript::new(&st), &case.claim(), &proof).is_err());
}

#[test]
fn proof_size_grows_with_log_squared_of_the_lookups() {
    let mut rng = Rng(11);
    let st = statement(1);
    let sizes: Vec<usize> = [1usize << 6, 1000, 1 << 14]
        .iter()
        .map(|&n| {
            let case = Case::random(&mut rng, Table::range(8), n);
            prove(&st, &case.claim()).to_bytes().len()
        })
        .collect();
    // Depths dw (lookups) and dt (table), D = max: D(D-1)/2 rounds of 4 elements, 4
    // elements per instance and layer it is active in (dw + dt), two roots, two openings.
    // One extension element is EXT_DEGREE canonical u64s.
    let e = 8 * vouch_gkr::field::EXT_DEGREE;
    let expected = |dw: usize, dt: usize| {
        let d = dw.max(dt);
        let header = 4 + 1 + 4 + 2 * 2 * e + 4;
        header + d * 8 + d * (d - 1) / 2 * 4 * e + (dw + dt) * 4 * e + 4 + e + e
    };
    assert_eq!(
        sizes,
        vec![expected(6, 8), expected(10, 8), expected(14, 8)]
    );
}
