//! Property tests of the arithmetic at the heart of the IR against references written here:
//! requantization (i128, explicit floor and clamp), DivRound (exact rational, round half up),
//! every lookup-table function (plain f64), and the integer square root (brute force).
//! proptest keeps failing seeds in `tests/props.proptest-regressions`; commit that file.
#![allow(clippy::unwrap_used)]

mod common;

use common::{run_checked, Rng};
use proptest::prelude::*;
use vouch_ir::interp::requant_one;
use vouch_ir::table::erf;
use vouch_ir::{isqrt, LookupTable, Op, ProgramBuilder, Range, TableFn, Tensor};

const BOUND: i128 = 1 << 62;

/// `clamp(floor((x*m + 2^(s-1)) / 2^s), lo, hi)` in i128 (`x*m` when s = 0), before clamping.
fn requant_unclamped(x: i64, m: i64, shift: u32) -> i128 {
    let p = x as i128 * m as i128;
    if shift == 0 {
        p
    } else {
        (p + (1i128 << (shift - 1))).div_euclid(1i128 << shift)
    }
}

/// An i64 with magnitude below 2^bits.
fn scaled(raw: i64, bits: u32) -> i64 {
    raw >> (63 - bits.min(63))
}

/// A value of `r` chosen by `t` (endpoints included).
fn pick_in(r: Range, t: u64) -> i64 {
    match t % 4 {
        0 => r.lo,
        1 => r.hi,
        _ => (r.lo as i128 + (t as u128 % r.width()) as i128) as i64,
    }
}

fn ordered(a: i64, b: i64) -> Range {
    Range::new(a.min(b), a.max(b))
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 2000,
        // Next to this file: tests/props.proptest-regressions.
        failure_persistence: Some(Box::new(
            proptest::test_runner::FileFailurePersistence::WithSource("proptest-regressions"),
        )),
        ..ProptestConfig::default()
    })]

    /// The builder accepts a requant exactly when every intermediate and the output fit
    /// +-2^62; then the interpreter equals the i128 reference and the derived range is exact.
    #[test]
    fn requant_matches_i128_reference(
        xa in any::<i64>(), xb in any::<i64>(), xbits in 0u32..62,
        mraw in any::<i64>(), mbits in 0u32..34,
        shift in 0u32..=64,
        ca in any::<i64>(), cb in any::<i64>(), cbits in 0u32..64,
        t in any::<u64>(),
    ) {
        let xr = ordered(scaled(xa, xbits), scaled(xb, xbits));
        let m = scaled(mraw, mbits);
        let (lo, hi) = {
            let r = ordered(scaled(ca, cbits), scaled(cb, cbits));
            (r.lo, r.hi)
        };
        let half = if shift == 0 || shift > 62 { 0 } else { 1i128 << (shift - 1) };
        let prod_max = (xr.abs_max() * (m as i128).abs()) + half;
        let ends = [
            requant_unclamped(xr.lo, m, shift.min(62)).clamp(lo as i128, hi as i128),
            requant_unclamped(xr.hi, m, shift.min(62)).clamp(lo as i128, hi as i128),
        ];
        let out_ok = ends.iter().all(|v| v.abs() < BOUND);
        let ok = shift <= 62 && (m as i128).abs() < 1 << 32 && prod_max < BOUND && out_ok;

        let mut b = ProgramBuilder::new();
        let x = b.input("x", vec![1], xr, None).unwrap();
        let built = b.node("rq", Op::Requant { mults: vec![m], axis: None, shift, lo, hi }, &[x], None);
        prop_assert_eq!(built.is_ok(), ok, "builder decision for x in {:?}, m {}, shift {}, [{}, {}]: {:?}", xr, m, shift, lo, hi, built);
        if let Ok(y) = built {
            b.output(y);
            let p = b.finish().unwrap();
            let xv = pick_in(xr, t);
            let got = run_checked(&p, &[Tensor::new(vec![1], vec![xv]).unwrap()]).outputs()[0].data[0];
            let want = requant_unclamped(xv, m, shift).clamp(lo as i128, hi as i128) as i64;
            prop_assert_eq!(got, want);
            prop_assert_eq!(requant_one(xv, m, shift).clamp(lo, hi), want);
            // Requantization is monotone in x, so the endpoints give the exact range.
            let r = p.info(y).range;
            prop_assert_eq!((r.lo as i128, r.hi as i128), (ends[0].min(ends[1]), ends[0].max(ends[1])));
        }
    }

    /// DivRound equals round-half-up of the exact rational a * 2^shift / b.
    #[test]
    fn div_round_matches_exact_rational(
        aa in any::<i64>(), ab in any::<i64>(), abits in 0u32..62,
        ba in 1i64..(1 << 20), bb in 1i64..(1 << 20), bbits in 0u32..63,
        shift in 0u32..=62,
        ta in any::<u64>(), tb in any::<u64>(),
    ) {
        let ar = ordered(scaled(aa, abits), scaled(ab, abits));
        // Divisors >= 1, sometimes large.
        let grow = |v: i64| ((v as i128) << bbits.min(42)).min((1 << 62) - 1) as i64;
        let br = ordered(grow(ba), grow(bb));
        let num_max = ar.abs_max() << (shift.min(61) + 1);
        let ok = shift <= 60 && num_max + 2 * (br.hi as i128) < BOUND;

        let mut b = ProgramBuilder::new();
        let a = b.input("a", vec![], ar, None).unwrap();
        let d = b.input("b", vec![], br, None).unwrap();
        let built = b.node("div", Op::DivRound { shift }, &[a, d], None);
        prop_assert_eq!(built.is_ok(), ok, "a in {:?}, b in {:?}, shift {}: {:?}", ar, br, shift, built);
        if let Ok(y) = built {
            b.output(y);
            let p = b.finish().unwrap();
            let (av, bv) = (pick_in(ar, ta), pick_in(br, tb));
            let got = run_checked(&p, &[Tensor::scalar(av), Tensor::scalar(bv)]).outputs()[0].data[0];
            // q + r/b with 0 <= r < b; round half up adds one exactly when r/b >= 1/2.
            let num = (av as i128) << shift;
            let (q, r) = (num.div_euclid(bv as i128), num.rem_euclid(bv as i128));
            let want = if 2 * r >= bv as i128 { q + 1 } else { q };
            prop_assert_eq!(got as i128, want);
        }
    }

    /// Integer square root: the largest r with r^2 <= v, for every i64 (0 for negatives).
    #[test]
    fn isqrt_is_floor_sqrt(v in any::<i64>(), k in 0i64..3_037_000_500, d in -2i64..=2) {
        for v in [v, v.saturating_abs(), (k * k).saturating_add(d)] {
            let r = isqrt(v) as i128;
            if v <= 0 {
                prop_assert_eq!(r, 0);
            } else {
                prop_assert!(r * r <= v as i128 && (r + 1) * (r + 1) > v as i128, "isqrt({}) = {}", v, r);
            }
        }
    }
}

#[test]
fn isqrt_matches_brute_force() {
    // Walk r upwards: isqrt(v) must equal the running root for every v in 0..2^20.
    let mut r = 0i64;
    for v in 0..(1i64 << 20) {
        while (r + 1) * (r + 1) <= v {
            r += 1;
        }
        assert_eq!(isqrt(v), r, "isqrt({v})");
    }
    for v in [
        -1,
        i64::MIN,
        i64::MAX,
        (1 << 62) - 1,
        1 << 62,
        4_611_686_014_132_420_609,
    ] {
        let r = isqrt(v) as i128;
        if v < 0 {
            assert_eq!(r, 0);
        } else {
            assert!(
                r * r <= v as i128 && (r + 1) * (r + 1) > v as i128,
                "isqrt({v}) = {r}"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Lookup tables.

/// erf by its everywhere-convergent series of positive terms,
/// `erf(x) = 2/sqrt(pi) e^(-x^2) sum_n 2^n x^(2n+1) / (1*3*...*(2n+1))`, independent of the
/// crate's Taylor / continued-fraction split.
fn erf_ref(x: f64) -> f64 {
    let ax = x.abs();
    if ax > 6.0 {
        return x.signum();
    }
    let (mut term, mut sum, mut n) = (ax, 0.0f64, 0.0f64);
    while term > 1e-18 * sum || n < 5.0 {
        sum += term;
        n += 1.0;
        term *= 2.0 * ax * ax / (2.0 * n + 1.0);
    }
    let r = 2.0 / std::f64::consts::PI.sqrt() * (-ax * ax).exp() * sum;
    r.min(1.0).copysign(x)
}

/// The real functions, written out independently of `TableFn::eval`.
fn f_ref(f: &TableFn, x: f64) -> f64 {
    let sigmoid = |x: f64| {
        if x >= 0.0 {
            1.0 / (1.0 + (-x).exp())
        } else {
            x.exp() / (1.0 + x.exp())
        }
    };
    match *f {
        TableFn::Sigmoid => sigmoid(x),
        TableFn::Tanh => x.tanh(),
        TableFn::Exp => x.exp(),
        TableFn::Log => {
            if x > 0.0 {
                x.ln()
            } else {
                f64::NEG_INFINITY
            }
        }
        TableFn::Sqrt => {
            if x > 0.0 {
                x.sqrt()
            } else {
                0.0
            }
        }
        TableFn::Reciprocal => {
            if x == 0.0 {
                f64::INFINITY
            } else {
                1.0 / x
            }
        }
        TableFn::Rsqrt => {
            if x > 0.0 {
                x.powf(-0.5)
            } else {
                f64::INFINITY
            }
        }
        TableFn::Erf => erf_ref(x),
        TableFn::Gelu => 0.5 * x * (1.0 + erf_ref(x / 2f64.sqrt())),
        TableFn::GeluTanh => {
            let inner = (2.0 / std::f64::consts::PI).sqrt() * (x + 0.044715 * x.powi(3));
            0.5 * x * (1.0 + inner.tanh())
        }
        TableFn::LeakyRelu { alpha } => {
            if x < 0.0 {
                alpha * x
            } else {
                x
            }
        }
        TableFn::Silu => x * sigmoid(x),
        // ln(1 + e^x) = max(x, 0) + ln(1 + e^-|x|), stable everywhere.
        TableFn::Softplus => x.max(0.0) + (-x.abs()).exp().ln_1p(),
        TableFn::Identity => x,
        TableFn::HardSigmoid { alpha, beta } => (alpha * x + beta).clamp(0.0, 1.0),
        TableFn::HardSwish => x * (x + 3.0).clamp(0.0, 6.0) / 6.0,
        TableFn::Abs => x.abs(),
    }
}

fn all_fns(rng: &mut Rng) -> Vec<TableFn> {
    vec![
        TableFn::Sigmoid,
        TableFn::Tanh,
        TableFn::Exp,
        TableFn::Log,
        TableFn::Sqrt,
        TableFn::Reciprocal,
        TableFn::Rsqrt,
        TableFn::Erf,
        TableFn::Gelu,
        TableFn::GeluTanh,
        TableFn::LeakyRelu {
            alpha: rng.float(0.0, 1.0),
        },
        TableFn::Silu,
        TableFn::Softplus,
        TableFn::Identity,
        TableFn::HardSigmoid {
            alpha: rng.float(0.05, 1.0),
            beta: rng.float(0.0, 1.0),
        },
        TableFn::HardSwish,
        TableFn::Abs,
    ]
}

/// Checks one generated table against `clamp(round_half_away(f(x*in)/out), lo, hi)`. Where
/// the reference lands within rounding noise of a half-integer, a difference of one is the
/// two float libraries disagreeing, not a bug.
fn check_table(t: &LookupTable, f: &TableFn, out: Range) {
    assert_eq!(t.values.len() as u128, t.domain.width());
    for (i, &got) in t.values.iter().enumerate() {
        let x = t.domain.lo + i as i64;
        assert!(
            out.contains(got),
            "{}: entry {got} for x = {x} outside {out:?}",
            f.name()
        );
        let y = f_ref(f, x as f64 * t.in_scale) / t.out_scale;
        let want = if y.is_nan() {
            0.clamp(out.lo, out.hi)
        } else {
            // `as` saturates at the i64 limits (and infinities), then the clamp applies.
            (y.round() as i64).clamp(out.lo, out.hi)
        };
        let tol = 1e-9 * y.abs().max(1.0);
        let near_half = (y - y.floor() - 0.5).abs() < tol;
        assert!(
            got == want || (near_half && (got - want).abs() == 1),
            "{} table (in {:e}, out {:e}): x = {x}, y = {y}, entry {got}, reference {want}",
            f.name(),
            t.in_scale,
            t.out_scale
        );
    }
}

#[test]
fn every_table_fn_matches_f64_reference() {
    let mut rng = Rng::new(31337);
    for round in 0..40 {
        for f in all_fns(&mut rng) {
            // Log-uniform scales, domains around 0, output ranges of several widths.
            let in_scale = 10f64.powf(rng.float(-4.0, -0.5));
            let out_scale = 10f64.powf(rng.float(-4.0, 0.0));
            let lo = rng.int(-3000, 500);
            let domain = Range::new(lo, lo + rng.int(0, 3000));
            let out = match round % 5 {
                0 => Range::new(-128, 127),
                1 => Range::new(0, 255),
                2 => Range::new(-32768, 32767),
                3 => Range::new(-(1 << 40), 1 << 40),
                _ => rng.range_in(-1000, 1000),
            };
            let t = LookupTable::generate(f, domain, in_scale, out_scale, out);
            assert_eq!(t.func, f);
            assert_eq!(
                (t.in_scale, t.out_scale, t.domain),
                (in_scale, out_scale, domain)
            );
            check_table(&t, &f, out);
        }
    }
}

#[test]
fn tables_at_extreme_points() {
    // Poles and undefined points: reciprocal of 0, log of 0, rsqrt of negatives, and an
    // out range that excludes 0 (the NaN fallback must still land inside it).
    let out = Range::new(-100, 100);
    for f in [
        TableFn::Reciprocal,
        TableFn::Log,
        TableFn::Rsqrt,
        TableFn::Sqrt,
        TableFn::Exp,
    ] {
        let t = LookupTable::generate(f, Range::new(-50, 50), 0.05, 0.01, out);
        check_table(&t, &f, out);
    }
    let t = LookupTable::generate(TableFn::Reciprocal, Range::new(0, 0), 1.0, 1.0, out);
    assert_eq!(t.values, vec![100], "1/0 maps to the largest output");
    let t = LookupTable::generate(TableFn::Log, Range::new(0, 0), 1.0, 1.0, out);
    assert_eq!(t.values, vec![-100], "log 0 maps to the lowest output");
    // 0 * inf = NaN: falls back to 0, clamped into [5, 9].
    let t = LookupTable::generate(
        TableFn::Identity,
        Range::new(0, 0),
        f64::INFINITY,
        1.0,
        Range::new(5, 9),
    );
    assert_eq!(t.values, vec![5]);
}

/// erf(k / 16) for k = 0..=96, correctly rounded from 200-bit mpmath values
/// (`mpmath.mp.prec = 200; float(mpmath.erf(mpmath.mpf(k) / 16))`).
const ERF_SIXTEENTHS: [f64; 97] = [
    0.0,
    0.07043197772238707,
    0.1403162048013338,
    0.20911767705937584,
    0.27632639016823696,
    0.341468633501595,
    0.4041169094348223,
    0.463898135749933,
    0.5204998778130465,
    0.5736744566155919,
    0.623240882188418,
    0.6690846628860813,
    0.7111556336535151,
    0.749464025586362,
    0.7840750610598597,
    0.8151024010343998,
    0.8427007929497149,
    0.8670582694349528,
    0.8883882317017078,
    0.9069217197816865,
    0.9229001282564583,
    0.9365685747113888,
    0.9481700727820903,
    0.95794060605646,
    0.9661051464753108,
    0.9728746138209335,
    0.9784437332399837,
    0.982989716601978,
    0.9866716712191824,
    0.9896306257947752,
    0.9919900576701199,
    0.9938568063952132,
    0.9953222650189527,
    0.9964637508747902,
    0.9973459706405177,
    0.9980225088163892,
    0.9985372834133188,
    0.9989259267092776,
    0.9992170617821089,
    0.9994334567454198,
    0.999593047982555,
    0.9997098311383266,
    0.9997946242638588,
    0.9998557114825746,
    0.9998993780778803,
    0.9999303492456073,
    0.9999521451602562,
    0.9999673647128524,
    0.9999779095030014,
    0.9999851585892071,
    0.9999901032653747,
    0.999993449849224,
    0.9999956972205363,
    0.9999971946873958,
    0.9999981847185726,
    0.9999988341746511,
    0.9999992569016276,
    0.999999529912161,
    0.9999997048598075,
    0.9999998160959875,
    0.9999998862727434,
    0.9999999302015868,
    0.999999957486056,
    0.9999999743008093,
    0.9999999845827421,
    0.9999999908210709,
    0.9999999945765992,
    0.999999996819877,
    0.9999999981494259,
    0.9999999989312964,
    0.9999999993875167,
    0.9999999996516503,
    0.9999999998033839,
    0.9999999998898706,
    0.9999999999387839,
    0.999999999966232,
    0.9999999999815149,
    0.9999999999899583,
    0.9999999999945866,
    0.999999999997104,
    0.9999999999984626,
    0.99999999999919,
    0.9999999999995766,
    0.9999999999997803,
    0.9999999999998869,
    0.9999999999999423,
    0.9999999999999707,
    0.9999999999999852,
    0.9999999999999927,
    0.9999999999999963,
    0.9999999999999982,
    0.9999999999999991,
    0.9999999999999996,
    0.9999999999999998,
    0.9999999999999999,
    1.0,
    1.0,
];

#[test]
fn erf_is_accurate() {
    let mut worst_exact = 0.0f64;
    for (k, &want) in ERF_SIXTEENTHS.iter().enumerate() {
        let x = k as f64 / 16.0;
        for (x, want) in [(x, want), (-x, -want)] {
            worst_exact = worst_exact.max((erf(x) - want).abs());
            assert!((erf_ref(x) - want).abs() < 1e-14, "reference erf({x})");
        }
    }
    let mut worst_ref = 0.0f64;
    let mut x = -7.0;
    while x <= 7.0 {
        worst_ref = worst_ref.max((erf(x) - erf_ref(x)).abs());
        x += 1.0 / 1024.0;
    }
    println!("erf: worst error {worst_exact:e} at sixteenths, {worst_ref:e} against the series");
    assert!(worst_exact < 1e-14, "erf off by {worst_exact:e}");
    assert!(
        worst_ref < 1e-14,
        "erf differs from the series by {worst_ref:e}"
    );
}

#[test]
fn table_semantics_are_the_stored_entries() {
    // A table whose entries disagree with its function: the interpreter follows the entries.
    let values: Vec<i64> = (0..11).map(|i| 1000 - i * i).collect();
    let table = LookupTable {
        func: TableFn::Sigmoid,
        in_scale: 0.1,
        out_scale: 0.01,
        domain: Range::new(-5, 5),
        values: values.clone(),
    };
    let mut b = ProgramBuilder::new();
    let x = b.input("x", vec![11], Range::new(-5, 5), None).unwrap();
    let y = b.node("t", Op::Lookup(table), &[x], None).unwrap();
    b.output(y);
    let p = b.finish().unwrap();
    let out = run_checked(&p, &[Tensor::new(vec![11], (-5..=5).collect()).unwrap()]);
    assert_eq!(out.outputs()[0].data, values);
    assert_eq!(p.info(y).range, Range::new(900, 1000));
}
