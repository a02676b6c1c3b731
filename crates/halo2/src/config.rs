//! Columns, custom gates and lookup arguments of the Vouch circuit.
//!
//! Every row of the circuit is a bundle of `shape.lanes` general advice lanes plus dedicated
//! columns (accumulator, range lanes, function-table lanes). Per-row fixed selectors say which
//! gate reads the lanes of that row; see `docs/halo2.md` for the layout of each gate.
//! All gates have degree at most 5, so the quotient is computed on a 4x extended domain, the
//! same the lookup arguments need anyway.

use halo2_axiom::{
    halo2curves::bn256::Fr,
    plonk::{
        Advice, Challenge, Column, ConstraintSystem, Expression, FirstPhase, Fixed, Instance,
        SecondPhase,
    },
    poly::Rotation,
};

/// Fewest general advice lanes per row (the Poseidon rows need twelve).
pub const MIN_LANES: usize = 12;
/// Most general advice lanes per row; the layout's column indices leave room for this many.
pub const MAX_LANES: usize = 32;
/// Lane counts the planner tries: wider rows mean fewer rows (a smaller `k`) but more
/// columns, and the cheaper product wins per program.
pub const LANE_CHOICES: [u32; 4] = [12, 16, 20, 24];
/// Range-checked limb lanes per row.
pub const RANGE_LANES: usize = 8;
/// Range lane counts the planner tries.
pub const RANGE_LANE_CHOICES: [u32; 4] = [1, 2, 4, 8];
/// Table tags at or above this value name function tables; below, range sizes in bits.
pub const FN_TAG_BASE: u64 = 32;

/// Shape parameters fixed at setup and needed again to read a verifying key.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Shape {
    /// Bits per range-check limb (the range table holds `[0, 2^b)` for every `b <= range_bits`).
    pub range_bits: u32,
    /// Gates and lookups the program uses ([`gate`] bits): the others are left out of the
    /// constraint system, so the prover does not evaluate them on every row.
    pub gates: u32,
    /// Range lanes in use (1 to [`RANGE_LANES`]): each is a lookup argument.
    pub range_lanes: u32,
    /// General advice lanes per row ([`MIN_LANES`] to [`MAX_LANES`]).
    pub lanes: u32,
}

/// Bits of [`Shape::gates`].
pub mod gate {
    pub const DOT: u32 = 1;
    pub const DOTK: u32 = 1 << 1;
    pub const EW: u32 = 1 << 2;
    pub const DIV: u32 = 1 << 3;
    pub const DIVD: u32 = 1 << 4;
    pub const CLAMP: u32 = 1 << 5;
    pub const MAX: u32 = 1 << 6;
    pub const MIN: u32 = 1 << 7;
    pub const CONST: u32 = 1 << 8;
    pub const RANGE_COMPOSE: u32 = 1 << 9;
    pub const POSEIDON: u32 = 1 << 10;
    pub const RANGE_LOOKUP: u32 = 1 << 11;
    pub const FN_LOOKUP: u32 = 1 << 12;
    /// Freivalds' check of matrix products: a second advice phase after two challenges.
    pub const FREIVALDS: u32 = 1 << 13;
    pub const ALL: u32 = (1 << 14) - 1;
}

impl Shape {
    fn uses(&self, g: u32) -> bool {
        self.gates & g != 0
    }
}

/// How many elements of each gate fit in one row of `lanes` general lanes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RowFit {
    pub lanes: usize,
    /// Operand pairs of the advice-by-advice dot product.
    pub dot_pairs: usize,
    /// Three-lane elements (elementwise arithmetic, requantization).
    pub triples: usize,
    /// Five-lane elements (max/min, division by a tensor).
    pub quints: usize,
    /// Six-lane elements (clamp).
    pub sextets: usize,
}

impl RowFit {
    pub fn new(lanes: usize) -> Self {
        RowFit {
            lanes,
            dot_pairs: lanes / 2,
            triples: lanes / 3,
            quints: lanes / 5,
            sextets: lanes / 6,
        }
    }
}

/// Handles to every column.
#[derive(Clone, Debug)]
pub struct VouchConfig {
    /// General lanes (`shape.lanes` of them).
    pub v: Vec<Column<Advice>>,
    pub acc: Column<Advice>,
    /// Range lanes actually configured (`shape.range_lanes` of them, none without range checks).
    pub rl: Vec<Column<Advice>>,
    pub rv: Option<Column<Advice>>,
    pub fx: Option<Column<Advice>>,
    pub fy: Option<Column<Advice>>,
    /// Per-lane fixed coefficients.
    pub k: Vec<Column<Fixed>>,
    pub kcont: Column<Fixed>,
    pub kc: Column<Fixed>,
    pub km: Column<Fixed>,
    pub ka: Column<Fixed>,
    pub kb: Column<Fixed>,
    pub kd: Column<Fixed>,
    pub klo: Column<Fixed>,
    pub khi: Column<Fixed>,
    pub sel: Selectors,
    pub rt: [Column<Fixed>; RANGE_LANES],
    /// Per-row offset added to range-lane values before the lookup (stores of signed data).
    pub ro: Column<Fixed>,
    pub ft: Column<Fixed>,
    pub t_tag: Column<Fixed>,
    pub t_x: Column<Fixed>,
    pub t_y: Column<Fixed>,
    pub instance: Column<Instance>,
    /// Freivalds' check (only when [`gate::FREIVALDS`] is on): second-phase accumulator and
    /// operand lanes, and the two challenges drawn after the first phase is committed.
    pub freivalds: Option<FreivaldsConfig>,
    /// The empty fixed column that stands for every column this shape leaves out.
    pub unused_fixed: Column<Fixed>,
    pub shape: Shape,
}

/// Second-phase columns and challenges of Freivalds' check.
#[derive(Clone, Copy, Debug)]
pub struct FreivaldsConfig {
    pub h: Column<Advice>,
    pub p: Column<Advice>,
    pub q: Column<Advice>,
    pub alpha: Challenge,
    pub beta: Challenge,
}

/// Per-row gate switches (fixed 0/1 columns).
#[derive(Clone, Debug)]
pub struct Selectors {
    pub dot: Column<Fixed>,
    pub dotk: Column<Fixed>,
    pub ew: Column<Fixed>,
    pub div: Column<Fixed>,
    pub divd: Column<Fixed>,
    pub clamp: Column<Fixed>,
    pub max: Column<Fixed>,
    pub min: Column<Fixed>,
    pub constant: Column<Fixed>,
    pub rc: Column<Fixed>,
    pub rc_chain: Column<Fixed>,
    pub pos_full: Column<Fixed>,
    pub pos_part: Column<Fixed>,
    /// Horner steps over the lanes in powers of alpha / beta.
    pub horner_a: Column<Fixed>,
    pub horner_b: Column<Fixed>,
    /// Horner step in alpha over the second-phase lane `p`.
    pub horner_p: Column<Fixed>,
    /// Second-phase dot product step `p * q`.
    pub dot2: Column<Fixed>,
}

/// Advice column index of each named column, as the layout refers to them.
pub mod col {
    use super::{MAX_LANES, RANGE_LANES};
    pub const ACC: usize = MAX_LANES;
    pub const RL: usize = MAX_LANES + 1;
    pub const RV: usize = RL + RANGE_LANES;
    pub const FX: usize = RV + 1;
    pub const FY: usize = FX + 1;
    /// Second-phase columns of Freivalds' check.
    pub const H: usize = FY + 1;
    pub const P: usize = H + 1;
    pub const Q: usize = P + 1;
    pub const COUNT: usize = Q + 1;
}

impl VouchConfig {
    /// Advice column by layout index (`None` for columns this shape leaves out).
    pub fn advice(&self, i: usize) -> Option<Column<Advice>> {
        match i {
            i if i < MAX_LANES => self.v.get(i).copied(),
            col::ACC => Some(self.acc),
            i if (col::RL..col::RL + RANGE_LANES).contains(&i) => self.rl.get(i - col::RL).copied(),
            col::RV => self.rv,
            col::FX => self.fx,
            col::FY => self.fy,
            col::H => self.freivalds.map(|f| f.h),
            col::P => self.freivalds.map(|f| f.p),
            col::Q => self.freivalds.map(|f| f.q),
            _ => None,
        }
    }

    pub fn configure(meta: &mut ConstraintSystem<Fr>, shape: Shape) -> Self {
        let adv = |meta: &mut ConstraintSystem<Fr>| {
            let c = meta.advice_column();
            meta.enable_equality(c);
            c
        };
        let lanes = (shape.lanes as usize).clamp(MIN_LANES, MAX_LANES);
        let v: Vec<_> = (0..lanes).map(|_| adv(meta)).collect();
        let acc = adv(meta);
        let range_lanes = if shape.uses(gate::RANGE_LOOKUP) {
            (shape.range_lanes as usize).clamp(1, RANGE_LANES)
        } else {
            0
        };
        let rl = (0..range_lanes).map(|_| adv(meta)).collect();
        let rv = shape.uses(gate::RANGE_COMPOSE).then(|| adv(meta));
        let fn_on = shape.uses(gate::FN_LOOKUP);
        let fx = fn_on.then(|| adv(meta));
        let fy = fn_on.then(|| adv(meta));
        // halo2 extends every fixed column to the quotient domain on every proof, used or not:
        // columns of gates and lookups this shape leaves out share one empty column.
        let unused = meta.fixed_column();
        let mut fixed = |on: bool| if on { meta.fixed_column() } else { unused };
        let uses = |g: u32| shape.uses(g);
        let k: Vec<_> = (0..lanes).map(|_| fixed(true)).collect();
        let [kcont, kc] = [(); 2].map(|_| fixed(true));
        let [km, ka, kb] = [(); 3].map(|_| fixed(uses(gate::EW)));
        let kd = fixed(uses(gate::DIV | gate::DIVD));
        let [klo, khi] = [(); 2].map(|_| fixed(uses(gate::CLAMP)));
        let sel = Selectors {
            dot: fixed(uses(gate::DOT)),
            dotk: fixed(uses(gate::DOTK)),
            ew: fixed(uses(gate::EW)),
            div: fixed(uses(gate::DIV)),
            divd: fixed(uses(gate::DIVD)),
            clamp: fixed(uses(gate::CLAMP)),
            max: fixed(uses(gate::MAX)),
            min: fixed(uses(gate::MIN)),
            constant: fixed(uses(gate::CONST)),
            rc: fixed(uses(gate::RANGE_COMPOSE)),
            rc_chain: fixed(uses(gate::RANGE_COMPOSE)),
            pos_full: fixed(uses(gate::POSEIDON)),
            pos_part: fixed(uses(gate::POSEIDON)),
            horner_a: fixed(uses(gate::FREIVALDS)),
            horner_b: fixed(uses(gate::FREIVALDS)),
            horner_p: fixed(uses(gate::FREIVALDS)),
            dot2: fixed(uses(gate::FREIVALDS)),
        };
        let range_on = uses(gate::RANGE_LOOKUP);
        let rt = std::array::from_fn(|i| fixed(range_on && i < range_lanes));
        let ro = fixed(range_on);
        let ft = fixed(uses(gate::FN_LOOKUP));
        let [t_tag, t_x, t_y] = [(); 3].map(|_| fixed(range_on || uses(gate::FN_LOOKUP)));
        let instance = meta.instance_column();
        meta.enable_equality(instance);
        let freivalds = shape.uses(gate::FREIVALDS).then(|| {
            let [h, p, q] = [(); 3].map(|_| {
                let c = meta.advice_column_in(SecondPhase);
                meta.enable_equality(c);
                c
            });
            let alpha = meta.challenge_usable_after(FirstPhase);
            let beta = meta.challenge_usable_after(FirstPhase);
            FreivaldsConfig {
                h,
                p,
                q,
                alpha,
                beta,
            }
        });

        let cfg = VouchConfig {
            v,
            acc,
            rl,
            rv,
            fx,
            fy,
            k,
            kcont,
            kc,
            km,
            ka,
            kb,
            kd,
            klo,
            khi,
            sel,
            rt,
            ro,
            ft,
            t_tag,
            t_x,
            t_y,
            instance,
            freivalds,
            unused_fixed: unused,
            shape,
        };
        cfg.gates(meta);
        cfg.freivalds_gates(meta);
        cfg.poseidon_gates(meta);
        cfg.lookups(meta);
        cfg
    }

    fn gates(&self, meta: &mut ConstraintSystem<Fr>) {
        let one = || Expression::Constant(Fr::one());
        let fit = RowFit::new(self.v.len());

        // acc[+1] = kcont * acc + sum_j v[j] * v[6 + j] + kc
        if self.shape.uses(gate::DOT) {
            meta.create_gate("dot", |m| {
                let s = m.query_fixed(self.sel.dot, Rotation::cur());
                let next = m.query_advice(self.acc, Rotation::next());
                let cur = m.query_advice(self.acc, Rotation::cur());
                let kcont = m.query_fixed(self.kcont, Rotation::cur());
                let kc = m.query_fixed(self.kc, Rotation::cur());
                let mut sum = kcont * cur + kc;
                for j in 0..fit.dot_pairs {
                    let a = m.query_advice(self.v[j], Rotation::cur());
                    let b = m.query_advice(self.v[fit.dot_pairs + j], Rotation::cur());
                    sum = sum + a * b;
                }
                vec![s * (next - sum)]
            });
        }

        // acc[+1] = kcont * acc + sum_j v[j] * k[j] + kc
        if self.shape.uses(gate::DOTK) {
            meta.create_gate("dot with fixed coefficients", |m| {
                let s = m.query_fixed(self.sel.dotk, Rotation::cur());
                let next = m.query_advice(self.acc, Rotation::next());
                let cur = m.query_advice(self.acc, Rotation::cur());
                let kcont = m.query_fixed(self.kcont, Rotation::cur());
                let kc = m.query_fixed(self.kc, Rotation::cur());
                let mut sum = kcont * cur + kc;
                for j in 0..fit.lanes {
                    let a = m.query_advice(self.v[j], Rotation::cur());
                    let w = m.query_fixed(self.k[j], Rotation::cur());
                    sum = sum + a * w;
                }
                vec![s * (next - sum)]
            });
        }

        // z = km x y + ka x + kb y + kc, per triple (x, y, z)
        if self.shape.uses(gate::EW) {
            meta.create_gate("elementwise", |m| {
                let s = m.query_fixed(self.sel.ew, Rotation::cur());
                let [km, ka, kb, kc] =
                    [self.km, self.ka, self.kb, self.kc].map(|c| m.query_fixed(c, Rotation::cur()));
                (0..fit.triples)
                    .map(|t| {
                        let [x, y, z] =
                            [0, 1, 2].map(|i| m.query_advice(self.v[3 * t + i], Rotation::cur()));
                        s.clone()
                            * (z - km.clone() * x.clone() * y.clone()
                                - ka.clone() * x
                                - kb.clone() * y
                                - kc.clone())
                    })
                    .collect::<Vec<_>>()
            });
        }

        // x * k[3t] + kc = q * kd + r, per triple (x, q, r); r is range-checked elsewhere.
        if self.shape.uses(gate::DIV) {
            meta.create_gate("scaled division", |m| {
                let s = m.query_fixed(self.sel.div, Rotation::cur());
                let kc = m.query_fixed(self.kc, Rotation::cur());
                let kd = m.query_fixed(self.kd, Rotation::cur());
                (0..fit.triples)
                    .map(|t| {
                        let [x, q, r] =
                            [0, 1, 2].map(|i| m.query_advice(self.v[3 * t + i], Rotation::cur()));
                        let mult = m.query_fixed(self.k[3 * t], Rotation::cur());
                        s.clone() * (x * mult + kc.clone() - q * kd.clone() - r)
                    })
                    .collect::<Vec<_>>()
            });
        }

        // a * kd + b = 2 y b + r and e = 2 b - 1 - r, per quint (a, b, y, r, e).
        if self.shape.uses(gate::DIVD) {
            meta.create_gate("division by a tensor", |m| {
                let s = m.query_fixed(self.sel.divd, Rotation::cur());
                let kd = m.query_fixed(self.kd, Rotation::cur());
                let two = Expression::Constant(Fr::from(2));
                (0..fit.quints)
                    .flat_map(|t| {
                        let [a, b, y, r, e] = [0, 1, 2, 3, 4]
                            .map(|i| m.query_advice(self.v[5 * t + i], Rotation::cur()));
                        [
                            s.clone()
                                * (a * kd.clone() + b.clone()
                                    - two.clone() * y * b.clone()
                                    - r.clone()),
                            s.clone() * (e - two.clone() * b + one() + r),
                        ]
                    })
                    .collect::<Vec<_>>()
            });
        }

        // Clamp q to [klo, khi] per sextet (q, out, below, above, d1, d2): the flags are
        // booleans, not both set; d1 >= 0 and d2 >= 0 are range-checked elsewhere.
        if self.shape.uses(gate::CLAMP) {
            meta.create_gate("clamp", |m| {
                let s = m.query_fixed(self.sel.clamp, Rotation::cur());
                let lo = m.query_fixed(self.klo, Rotation::cur());
                let hi = m.query_fixed(self.khi, Rotation::cur());
                (0..fit.sextets)
                    .flat_map(|t| {
                        let [q, out, bl, ab, d1, d2] = [0, 1, 2, 3, 4, 5]
                            .map(|i| m.query_advice(self.v[6 * t + i], Rotation::cur()));
                        let mid = one() - bl.clone() - ab.clone();
                        [
                            s.clone() * bl.clone() * (one() - bl.clone()),
                            s.clone() * ab.clone() * (one() - ab.clone()),
                            s.clone() * bl.clone() * ab.clone(),
                            s.clone()
                                * (out
                                    - bl.clone() * lo.clone()
                                    - ab.clone() * hi.clone()
                                    - mid.clone() * q.clone()),
                            s.clone()
                                * (d1
                                    - bl * (lo.clone() - one() - q.clone())
                                    - ab * (q.clone() - hi.clone() - one())
                                    - mid.clone() * (q.clone() - lo.clone())),
                            s.clone() * (d2 - mid * (hi.clone() - q)),
                        ]
                    })
                    .collect::<Vec<_>>()
            });
        }

        // out = sel ? x : y with d >= 0 proving the choice, per quint (x, y, out, sel, d).
        for (name, column, is_max, bit) in [
            ("max", self.sel.max, true, gate::MAX),
            ("min", self.sel.min, false, gate::MIN),
        ] {
            if !self.shape.uses(bit) {
                continue;
            }
            meta.create_gate(name, |m| {
                let s = m.query_fixed(column, Rotation::cur());
                (0..fit.quints)
                    .flat_map(|t| {
                        let [x, y, out, b, d] = [0, 1, 2, 3, 4]
                            .map(|i| m.query_advice(self.v[5 * t + i], Rotation::cur()));
                        let (hi_minus_lo, lo_minus_hi) = if is_max {
                            (x.clone() - y.clone(), y.clone() - x.clone())
                        } else {
                            (y.clone() - x.clone(), x.clone() - y.clone())
                        };
                        [
                            s.clone() * b.clone() * (one() - b.clone()),
                            s.clone() * (out - b.clone() * x - (one() - b.clone()) * y),
                            s.clone()
                                * (d - b.clone() * hi_minus_lo
                                    - (one() - b) * (lo_minus_hi - one())),
                        ]
                    })
                    .collect::<Vec<_>>()
            });
        }

        // v[j] = k[j]: constant cells.
        if self.shape.uses(gate::CONST) {
            meta.create_gate("constants", |m| {
                let s = m.query_fixed(self.sel.constant, Rotation::cur());
                (0..fit.lanes)
                    .map(|j| {
                        s.clone()
                            * (m.query_advice(self.v[j], Rotation::cur())
                                - m.query_fixed(self.k[j], Rotation::cur()))
                    })
                    .collect::<Vec<_>>()
            });
        }

        // rv = sum_i rl[i] 2^(b i) (+ 2^(b * lanes) rv[+1] when chained).
        let b = self.shape.range_bits;
        if let Some(rv_col) = self.rv {
            meta.create_gate("range composition", |m| {
                let s = m.query_fixed(self.sel.rc, Rotation::cur());
                let sc = m.query_fixed(self.sel.rc_chain, Rotation::cur());
                let rv = m.query_advice(rv_col, Rotation::cur());
                let next = m.query_advice(rv_col, Rotation::next());
                let mut sum = Expression::Constant(Fr::zero());
                for (i, lane) in self.rl.iter().enumerate() {
                    let w = crate::field::pow2(b * i as u32);
                    sum = sum + m.query_advice(*lane, Rotation::cur()) * Expression::Constant(w);
                }
                let carry = Expression::Constant(crate::field::pow2(b * self.rl.len() as u32));
                vec![(s + sc.clone()) * (rv - sum) - sc * carry * next]
            });
        }
    }

    /// Freivalds' check (see `docs/halo2.md`): Horner evaluations of matrix rows and columns
    /// at the challenges, then a second-phase dot product. `h` is the running value.
    fn freivalds_gates(&self, meta: &mut ConstraintSystem<Fr>) {
        let Some(f) = self.freivalds else {
            return;
        };
        // h[+1] = kcont * h * z^lanes + sum_t k[t] v[t] z^(lanes-1-t), for z = alpha or beta.
        let lanes = self.v.len();
        for (name, sel, z) in [
            ("horner alpha", self.sel.horner_a, f.alpha),
            ("horner beta", self.sel.horner_b, f.beta),
        ] {
            meta.create_gate(name, |m| {
                let s = m.query_fixed(sel, Rotation::cur());
                let z = m.query_challenge(z);
                let next = m.query_advice(f.h, Rotation::next());
                let cur = m.query_advice(f.h, Rotation::cur());
                let kcont = m.query_fixed(self.kcont, Rotation::cur());
                let mut sum = Expression::Constant(Fr::zero());
                for t in 0..lanes {
                    let v = m.query_advice(self.v[t], Rotation::cur());
                    let k = m.query_fixed(self.k[t], Rotation::cur());
                    sum = sum * z.clone() + k * v;
                }
                let mut zl = Expression::Constant(Fr::one());
                for _ in 0..lanes {
                    zl = zl * z.clone();
                }
                vec![s * (next - kcont * cur * zl - sum)]
            });
        }
        // h[+1] = kcont * h * alpha + p
        meta.create_gate("horner alpha, second phase", |m| {
            let s = m.query_fixed(self.sel.horner_p, Rotation::cur());
            let a = m.query_challenge(f.alpha);
            let next = m.query_advice(f.h, Rotation::next());
            let cur = m.query_advice(f.h, Rotation::cur());
            let kcont = m.query_fixed(self.kcont, Rotation::cur());
            let p = m.query_advice(f.p, Rotation::cur());
            vec![s * (next - kcont * cur * a - p)]
        });
        // h[+1] = kcont * h + p * q
        meta.create_gate("dot, second phase", |m| {
            let s = m.query_fixed(self.sel.dot2, Rotation::cur());
            let next = m.query_advice(f.h, Rotation::next());
            let cur = m.query_advice(f.h, Rotation::cur());
            let kcont = m.query_fixed(self.kcont, Rotation::cur());
            let p = m.query_advice(f.p, Rotation::cur());
            let q = m.query_advice(f.q, Rotation::cur());
            vec![s * (next - kcont * cur - p * q)]
        });
    }

    /// Poseidon rounds: two full rounds per row (`pos_full`, lanes s a t b) or three partial
    /// rounds per row (`pos_part`, lanes s a t b u c); the round's output state is in lanes
    /// 0..3 of the next row. Squares are kept in cells so every gate has degree at most 4.
    fn poseidon_gates(&self, meta: &mut ConstraintSystem<Fr>) {
        let mds = crate::poseidon::constants().mds;
        let m_ = |j: usize, i: usize| Expression::Constant(mds[j][i]);
        if self.shape.uses(gate::POSEIDON) {
            meta.create_gate("poseidon full rounds", |m| {
                let s = m.query_fixed(self.sel.pos_full, Rotation::cur());
                let v = |m: &mut halo2_axiom::plonk::VirtualCells<'_, Fr>,
                         i: usize,
                         r: Rotation| { m.query_advice(self.v[i], r) };
                let mut out = Vec::new();
                // (input lanes, square lanes, output lanes, constant offset, output rotation)
                for (inp, sq, outl, k0, rot) in [
                    (0usize, 3usize, 6usize, 0usize, Rotation::cur()),
                    (6, 9, 0, 3, Rotation::next()),
                ] {
                    let x: Vec<Expression<Fr>> = (0..3)
                        .map(|i| {
                            v(m, inp + i, Rotation::cur())
                                + m.query_fixed(self.k[k0 + i], Rotation::cur())
                        })
                        .collect();
                    let a: Vec<Expression<Fr>> =
                        (0..3).map(|i| v(m, sq + i, Rotation::cur())).collect();
                    for i in 0..3 {
                        out.push(s.clone() * (a[i].clone() - x[i].clone() * x[i].clone()));
                    }
                    for j in 0..3 {
                        let mut sum = Expression::Constant(Fr::zero());
                        for i in 0..3 {
                            sum = sum + m_(j, i) * a[i].clone() * a[i].clone() * x[i].clone();
                        }
                        out.push(s.clone() * (v(m, outl + j, rot) - sum));
                    }
                }
                out
            });
        }
        if self.shape.uses(gate::POSEIDON) {
            meta.create_gate("poseidon partial rounds", |m| {
                let s = m.query_fixed(self.sel.pos_part, Rotation::cur());
                let mut out = Vec::new();
                // (input lanes, square lane, output lanes, constant offset, output rotation)
                for (inp, sq, outl, k0, rot) in [
                    (0usize, 3usize, 4usize, 0usize, Rotation::cur()),
                    (4, 7, 8, 3, Rotation::cur()),
                    (8, 11, 0, 6, Rotation::next()),
                ] {
                    let x: Vec<Expression<Fr>> = (0..3)
                        .map(|i| {
                            m.query_advice(self.v[inp + i], Rotation::cur())
                                + m.query_fixed(self.k[k0 + i], Rotation::cur())
                        })
                        .collect();
                    let a = m.query_advice(self.v[sq], Rotation::cur());
                    out.push(s.clone() * (a.clone() - x[0].clone() * x[0].clone()));
                    let sbox = a.clone() * a * x[0].clone();
                    for j in 0..3 {
                        let sum = m_(j, 0) * sbox.clone()
                            + m_(j, 1) * x[1].clone()
                            + m_(j, 2) * x[2].clone();
                        out.push(s.clone() * (m.query_advice(self.v[outl + j], rot) - sum));
                    }
                }
                out
            });
        }
    }

    fn lookups(&self, meta: &mut ConstraintSystem<Fr>) {
        for i in 0..self.rl.len() {
            meta.lookup_any("range", |m| {
                let tag = m.query_fixed(self.rt[i], Rotation::cur());
                let x = m.query_advice(self.rl[i], Rotation::cur())
                    + m.query_fixed(self.ro, Rotation::cur());
                vec![
                    (tag, m.query_fixed(self.t_tag, Rotation::cur())),
                    (x, m.query_fixed(self.t_x, Rotation::cur())),
                    (
                        Expression::Constant(Fr::zero()),
                        m.query_fixed(self.t_y, Rotation::cur()),
                    ),
                ]
            });
        }
        let (Some(fx), Some(fy)) = (self.fx, self.fy) else {
            return;
        };
        meta.lookup_any("function table", |m| {
            vec![
                (
                    m.query_fixed(self.ft, Rotation::cur()),
                    m.query_fixed(self.t_tag, Rotation::cur()),
                ),
                (
                    m.query_advice(fx, Rotation::cur()),
                    m.query_fixed(self.t_x, Rotation::cur()),
                ),
                (
                    m.query_advice(fy, Rotation::cur()),
                    m.query_fixed(self.t_y, Rotation::cur()),
                ),
            ]
        });
    }
}
