//! The circuit as data: advice values, fixed columns, copy constraints and public cells,
//! filled by gadgets that pack many elements per row. The same code runs at setup (values
//! are zeros) and when proving, so the fixed part of the layout never depends on a witness.

use std::collections::HashMap;

use halo2_axiom::halo2curves::bn256::Fr;

use crate::config::{col, RowFit, RANGE_LANES};
use crate::field::{bits_for, fr};

/// An advice cell: layout column index (see [`col`]) and row.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Loc {
    pub col: u16,
    pub row: u32,
}

impl Loc {
    fn new(col: usize, row: usize) -> Self {
        Loc {
            col: col as u16,
            row: row as u32,
        }
    }
}

/// A tensor element inside the circuit: a cell, or a constant known to the verifier.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum El {
    Cell(Loc),
    Const(i64),
}

/// Element plus its value (the value of a constant is the constant).
#[derive(Clone, Copy, Debug)]
pub struct Val {
    pub el: El,
    pub v: i128,
}

impl Val {
    pub fn cell(loc: Loc, v: i128) -> Self {
        Val {
            el: El::Cell(loc),
            v,
        }
    }
    pub fn constant(c: i64) -> Self {
        Val {
            el: El::Const(c),
            v: c as i128,
        }
    }
}

/// A cell holding a field element that is not an IR integer (packed data, hash states).
pub type FrCell = (Loc, Fr);

/// Fixed column indices of the layout (the order of [`crate::config::VouchConfig`]).
pub mod fx {
    use crate::config::{MAX_LANES, RANGE_LANES};
    pub const K: usize = 0;
    pub const KCONT: usize = MAX_LANES;
    pub const KC: usize = MAX_LANES + 1;
    pub const KM: usize = MAX_LANES + 2;
    pub const KA: usize = MAX_LANES + 3;
    pub const KB: usize = MAX_LANES + 4;
    pub const KD: usize = MAX_LANES + 5;
    pub const KLO: usize = MAX_LANES + 6;
    pub const KHI: usize = MAX_LANES + 7;
    pub const S_DOT: usize = MAX_LANES + 8;
    pub const S_DOTK: usize = MAX_LANES + 9;
    pub const S_EW: usize = MAX_LANES + 10;
    pub const S_DIV: usize = MAX_LANES + 11;
    pub const S_DIVD: usize = MAX_LANES + 12;
    pub const S_CLAMP: usize = MAX_LANES + 13;
    pub const S_MAX: usize = MAX_LANES + 14;
    pub const S_MIN: usize = MAX_LANES + 15;
    pub const S_CONST: usize = MAX_LANES + 16;
    pub const S_RC: usize = MAX_LANES + 17;
    pub const S_RC_CHAIN: usize = MAX_LANES + 18;
    pub const S_POS_FULL: usize = MAX_LANES + 19;
    pub const S_POS_PART: usize = MAX_LANES + 20;
    pub const RT: usize = MAX_LANES + 21;
    pub const RO: usize = RT + RANGE_LANES;
    pub const FT: usize = RO + 1;
    pub const S_HORNER_A: usize = FT + 1;
    pub const S_HORNER_B: usize = FT + 2;
    pub const S_HORNER_P: usize = FT + 3;
    pub const S_DOT2: usize = FT + 4;
    pub const COUNT: usize = S_DOT2 + 1;
}

/// One dot product: `sum a_i * b_i + bias`.
#[derive(Debug)]
pub struct Dot {
    pub terms: Vec<(Val, Val)>,
    pub bias: Option<Val>,
}

/// One dot product with coefficients fixed in the circuit: `sum x_i * c_i + bias`.
#[derive(Debug)]
pub struct DotK {
    pub terms: Vec<(Val, i128)>,
    pub bias: i128,
}

/// Which challenge a Horner chain evaluates at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Point {
    Alpha,
    Beta,
}

/// A second-phase row of Freivalds' check; its value in `h` at `row + 1` follows from the
/// challenges and first-phase cells, so the prover computes it after the first commitment.
#[derive(Clone, Debug)]
pub enum Phase2Step {
    /// `h[+1] = cont h z^lanes + sum_t ks[t] v[t] z^(lanes-1-t)`.
    Horner {
        row: u32,
        z: Point,
        cont: bool,
        ks: Box<[Fr]>,
    },
    /// `h[+1] = cont h alpha + p`, with `p` a copy of the cell `p`.
    HornerP { row: u32, cont: bool, p: Loc },
    /// `h[+1] = cont h + p q`, with `p`, `q` copies of those cells.
    Dot {
        row: u32,
        cont: bool,
        p: Loc,
        q: Loc,
    },
}

/// Second-phase column values (`h`, `p`, `q`, dense by row).
#[derive(Debug, Default)]
pub struct Phase2Values {
    pub h: Vec<Fr>,
    pub p: Vec<Fr>,
    pub q: Vec<Fr>,
}

/// Everything a proof's circuit assigns.
#[derive(Debug)]
pub struct Layout {
    pub range_bits: u32,
    /// Elements per row of each gate, from the lane count.
    pub fit: RowFit,
    /// Range lanes in use (at most [`RANGE_LANES`]).
    pub range_lanes: usize,
    /// Advice values per column (dense; missing rows are zero).
    pub adv: Vec<Vec<Fr>>,
    /// Fixed values per column (sparse).
    pub fixed: Vec<Vec<(u32, Fr)>>,
    pub copies: Vec<(Loc, Loc)>,
    /// Second-phase rows of Freivalds' checks, in row order.
    pub phase2: Vec<Phase2Step>,
    /// Copy constraints that involve second-phase cells.
    pub copies2: Vec<(Loc, Loc)>,
    /// Cells bound to the instance column, in instance order.
    pub public: Vec<Loc>,
    pub public_values: Vec<Fr>,
    /// Function tables: tag and `(x, f(x))` entries.
    pub tables: Vec<(u64, Vec<(i64, i64)>)>,
    /// The elements of each program output, as the circuit computes them (for tools and
    /// tests that inspect or, playing a cheating prover, edit them).
    pub outputs: Vec<Vec<Val>>,
    table_tags: HashMap<Vec<i64>, u64>,
    main_rows: usize,
    range_rows: usize,
    /// Partly filled row of one-limb range checks: (row, next lane).
    range_open: Option<(usize, usize)>,
    fn_rows: usize,
    consts: HashMap<i64, Loc>,
    const_open: Option<(usize, usize)>,
}

impl Layout {
    pub fn new(range_bits: u32, range_lanes: usize, lanes: usize) -> Self {
        Layout {
            range_bits,
            fit: RowFit::new(lanes),
            range_lanes: range_lanes.clamp(1, RANGE_LANES),
            adv: vec![Vec::new(); col::COUNT],
            fixed: vec![Vec::new(); fx::COUNT],
            copies: Vec::new(),
            phase2: Vec::new(),
            copies2: Vec::new(),
            public: Vec::new(),
            public_values: Vec::new(),
            tables: Vec::new(),
            outputs: Vec::new(),
            table_tags: HashMap::new(),
            main_rows: 0,
            range_rows: 0,
            range_open: None,
            fn_rows: 0,
            consts: HashMap::new(),
            const_open: None,
        }
    }

    /// Rows used (the circuit needs one more for the last accumulator).
    pub fn rows(&self) -> usize {
        (self.main_rows + 1)
            .max(self.range_rows + 1)
            .max(self.fn_rows)
    }

    /// Rows the lookup table needs.
    pub fn table_rows(&self) -> usize {
        (1usize << (self.range_bits + 1)) + self.tables.iter().map(|t| t.1.len()).sum::<usize>()
    }

    fn set(&mut self, loc: Loc, v: Fr) {
        let c = &mut self.adv[loc.col as usize];
        let r = loc.row as usize;
        if c.len() <= r {
            c.resize(r + 1, Fr::zero());
        }
        c[r] = v;
    }

    fn put_fr(&mut self, col: usize, row: usize, v: Fr) -> Loc {
        let loc = Loc::new(col, row);
        self.set(loc, v);
        loc
    }

    fn fix_fr(&mut self, column: usize, row: usize, v: Fr) {
        if v != Fr::zero() {
            self.fixed[column].push((row as u32, v));
        }
    }

    fn put(&mut self, col: usize, row: usize, v: i128) -> Loc {
        let loc = Loc::new(col, row);
        self.set(loc, fr(v));
        loc
    }

    fn fix(&mut self, column: usize, row: usize, v: i128) {
        if v != 0 {
            self.fixed[column].push((row as u32, fr(v)));
        }
    }

    fn main(&mut self, n: usize) -> usize {
        let r = self.main_rows;
        self.main_rows += n;
        r
    }

    /// The cell holding constant `c` (one per distinct value).
    pub fn const_cell(&mut self, c: i64) -> Loc {
        if let Some(&l) = self.consts.get(&c) {
            return l;
        }
        let (row, lane) = match self.const_open {
            Some((row, lane)) if lane < self.fit.lanes => (row, lane),
            _ => {
                let row = self.main(1);
                self.fix(fx::S_CONST, row, 1);
                (row, 0)
            }
        };
        self.const_open = Some((row, lane + 1));
        let loc = self.put(lane, row, c as i128);
        self.fix(fx::K + lane, row, c as i128);
        self.consts.insert(c, loc);
        loc
    }

    /// Writes `x` into `(col, row)` and ties it to its source.
    fn place(&mut self, x: Val, col: usize, row: usize) -> Loc {
        let dst = self.put(col, row, x.v);
        let src = match x.el {
            El::Cell(l) => l,
            El::Const(c) => self.const_cell(c),
        };
        self.copies.push((src, dst));
        dst
    }

    /// A cell holding `x` (constants materialised).
    pub fn cell(&mut self, x: Val) -> Loc {
        match x.el {
            El::Cell(l) => l,
            El::Const(c) => self.const_cell(c),
        }
    }

    /// Fresh cells holding `vals`, with no constraint (witness inputs).
    pub fn store(&mut self, vals: &[i64]) -> Vec<Loc> {
        let start = self.main(vals.len().div_ceil(self.fit.lanes));
        vals.iter()
            .enumerate()
            .map(|(i, &v)| self.put(i % self.fit.lanes, start + i / self.fit.lanes, v as i128))
            .collect()
    }

    /// Dot products with advice operands, six pairs per row; returns the result cells.
    pub fn dots(&mut self, items: Vec<Dot>) -> Vec<Val> {
        let mut out = Vec::with_capacity(items.len());
        for mut item in items {
            if let Some(b) = item.bias.take() {
                match b.el {
                    El::Const(c) => item.bias = Some(Val::constant(c)),
                    El::Cell(_) => item.terms.push((b, Val::constant(1))),
                }
            }
            let kc = item.bias.map_or(0, |b| b.v);
            let rows = item.terms.len().div_ceil(self.fit.dot_pairs).max(1);
            let start = self.main(rows);
            let mut sum = kc;
            for r in 0..rows {
                let row = start + r;
                self.fix(fx::S_DOT, row, 1);
                self.fix(fx::KCONT, row, (r > 0) as i128);
                if r == 0 {
                    self.fix(fx::KC, row, kc);
                }
                for j in 0..self.fit.dot_pairs {
                    if let Some(&(a, b)) = item.terms.get(r * self.fit.dot_pairs + j) {
                        self.place(a, j, row);
                        self.place(b, self.fit.dot_pairs + j, row);
                        sum += a.v * b.v;
                    }
                }
                self.put(col::ACC, row + 1, sum);
            }
            out.push(Val::cell(Loc::new(col::ACC, start + rows), sum));
        }
        out
    }

    /// Dot products with fixed coefficients, twelve terms per row.
    pub fn dotks(&mut self, items: Vec<DotK>) -> Vec<Val> {
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            let rows = item.terms.len().div_ceil(self.fit.lanes).max(1);
            let start = self.main(rows);
            let mut sum = item.bias;
            for r in 0..rows {
                let row = start + r;
                self.fix(fx::S_DOTK, row, 1);
                self.fix(fx::KCONT, row, (r > 0) as i128);
                if r == 0 {
                    self.fix(fx::KC, row, item.bias);
                }
                for j in 0..self.fit.lanes {
                    if let Some(&(x, c)) = item.terms.get(r * self.fit.lanes + j) {
                        self.place(x, j, row);
                        self.fix(fx::K + j, row, c);
                        sum += x.v * c;
                    }
                }
                self.put(col::ACC, row + 1, sum);
            }
            out.push(Val::cell(Loc::new(col::ACC, start + rows), sum));
        }
        out
    }

    /// `z = km x y + ka x + kb y + kc` for each pair, four per row.
    pub fn elementwise(&mut self, pairs: &[(Val, Val)], k: [i128; 4]) -> Vec<Val> {
        let [km, ka, kb, kc] = k;
        let mut out = Vec::with_capacity(pairs.len());
        for chunk in pairs.chunks(self.fit.triples) {
            let row = self.main(1);
            for (c, column) in [(km, fx::KM), (ka, fx::KA), (kb, fx::KB), (kc, fx::KC)] {
                self.fix(column, row, c);
            }
            self.fix(fx::S_EW, row, 1);
            for t in 0..self.fit.triples {
                let (x, y) = chunk
                    .get(t)
                    .copied()
                    .unwrap_or((Val::constant(0), Val::constant(0)));
                let z = km * x.v * y.v + ka * x.v + kb * y.v + kc;
                if t < chunk.len() {
                    self.place(x, 3 * t, row);
                    self.place(y, 3 * t + 1, row);
                    out.push(Val::cell(self.put(3 * t + 2, row, z), z));
                } else {
                    self.put(3 * t + 2, row, z);
                }
            }
        }
        out
    }

    /// `q = floor((x * m + offset) / 2^shift)` per element, with the remainder range-checked.
    pub fn scaled_div(&mut self, xs: &[(Val, i64)], offset: i128, shift: u32) -> Vec<Val> {
        let d = 1i128 << shift;
        let mut out = Vec::with_capacity(xs.len());
        for chunk in xs.chunks(self.fit.triples) {
            let row = self.main(1);
            self.fix(fx::S_DIV, row, 1);
            self.fix(fx::KC, row, offset);
            self.fix(fx::KD, row, d);
            for t in 0..self.fit.triples {
                let (x, m) = chunk.get(t).copied().unwrap_or((Val::constant(0), 0));
                let num = x.v * m as i128 + offset;
                let (q, r) = (num.div_euclid(d), num.rem_euclid(d));
                self.fix(fx::K + 3 * t, row, m as i128);
                let rl = self.put(3 * t + 2, row, r);
                if t < chunk.len() {
                    self.place(x, 3 * t, row);
                    let ql = self.put(3 * t + 1, row, q);
                    self.range(Val::cell(rl, r), shift);
                    out.push(Val::cell(ql, q));
                } else {
                    self.put(3 * t + 1, row, q);
                }
            }
        }
        out
    }

    /// `y = floor((a 2^(shift+1) + b) / 2b)` with `b >= 1`; `y` range-checked to `y_range`.
    pub fn div_by(
        &mut self,
        pairs: &[(Val, Val)],
        shift: u32,
        b_max: i128,
        y_range: (i128, i128),
    ) -> Vec<Val> {
        let kd = 1i128 << (shift + 1);
        let rbits = bits_for((2 * b_max - 1).max(0) as u128);
        let mut out = Vec::with_capacity(pairs.len());
        for chunk in pairs.chunks(self.fit.quints) {
            let row = self.main(1);
            self.fix(fx::S_DIVD, row, 1);
            self.fix(fx::KD, row, kd);
            for t in 0..self.fit.quints {
                let (a, b) = chunk
                    .get(t)
                    .copied()
                    .unwrap_or((Val::constant(0), Val::constant(1)));
                let num = a.v * kd + b.v;
                let den = (2 * b.v).max(1);
                let (y, r) = (num.div_euclid(den), num.rem_euclid(den));
                let e = 2 * b.v - 1 - r;
                let base = 5 * t;
                if t < chunk.len() {
                    self.place(a, base, row);
                    self.place(b, base + 1, row);
                } else {
                    self.put(base, row, a.v);
                    self.put(base + 1, row, b.v);
                }
                let yl = self.put(base + 2, row, y);
                let rl = self.put(base + 3, row, r);
                let el = self.put(base + 4, row, e);
                if t < chunk.len() {
                    self.range(Val::cell(rl, r), rbits);
                    self.range(Val::cell(el, e), rbits);
                    self.range_between(Val::cell(yl, y), y_range);
                    out.push(Val::cell(yl, y));
                }
            }
        }
        out
    }

    /// `clamp(q, lo, hi)` per element; `q_range` bounds every q (sound by range inference).
    pub fn clamp(&mut self, qs: &[Val], lo: i64, hi: i64, q_range: (i128, i128)) -> Vec<Val> {
        let (lo, hi) = (lo as i128, hi as i128);
        let d1_max = (lo - 1 - q_range.0)
            .max(q_range.1 - hi - 1)
            .max(hi - lo)
            .max(0);
        let (b1, b2) = (bits_for(d1_max as u128), bits_for((hi - lo).max(0) as u128));
        let mut out = Vec::with_capacity(qs.len());
        for chunk in qs.chunks(self.fit.sextets) {
            let row = self.main(1);
            self.fix(fx::S_CLAMP, row, 1);
            self.fix(fx::KLO, row, lo);
            self.fix(fx::KHI, row, hi);
            for t in 0..self.fit.sextets {
                let q = chunk.get(t).copied().unwrap_or(Val::constant(lo as i64));
                let (bl, ab) = ((q.v < lo) as i128, (q.v > hi) as i128);
                let mid = 1 - bl - ab;
                let o = q.v.clamp(lo, hi);
                let d1 = bl * (lo - 1 - q.v) + ab * (q.v - hi - 1) + mid * (q.v - lo);
                let d2 = mid * (hi - q.v);
                let base = 6 * t;
                if t < chunk.len() {
                    self.place(q, base, row);
                } else {
                    self.put(base, row, q.v);
                }
                let ol = self.put(base + 1, row, o);
                self.put(base + 2, row, bl);
                self.put(base + 3, row, ab);
                let d1l = self.put(base + 4, row, d1);
                let d2l = self.put(base + 5, row, d2);
                if t < chunk.len() {
                    self.range(Val::cell(d1l, d1), b1);
                    self.range(Val::cell(d2l, d2), b2);
                    out.push(Val::cell(ol, o));
                }
            }
        }
        out
    }

    /// Elementwise max (or min) of pairs; `bound` is the largest possible `|x - y|`.
    pub fn max_min(&mut self, pairs: &[(Val, Val)], is_max: bool, bound: i128) -> Vec<Val> {
        let bits = bits_for(bound.max(0) as u128);
        let mut out = Vec::with_capacity(pairs.len());
        for chunk in pairs.chunks(self.fit.quints) {
            let row = self.main(1);
            self.fix(if is_max { fx::S_MAX } else { fx::S_MIN }, row, 1);
            for t in 0..self.fit.quints {
                let (x, y) = chunk
                    .get(t)
                    .copied()
                    .unwrap_or((Val::constant(0), Val::constant(0)));
                let pick_x = if is_max { x.v >= y.v } else { x.v <= y.v };
                let b = pick_x as i128;
                let o = if pick_x { x.v } else { y.v };
                let (hl, lh) = if is_max {
                    (x.v - y.v, y.v - x.v)
                } else {
                    (y.v - x.v, x.v - y.v)
                };
                let d = b * hl + (1 - b) * (lh - 1);
                let base = 5 * t;
                if t < chunk.len() {
                    self.place(x, base, row);
                    self.place(y, base + 1, row);
                } else {
                    self.put(base, row, x.v);
                    self.put(base + 1, row, y.v);
                }
                let ol = self.put(base + 2, row, o);
                self.put(base + 3, row, b);
                let dl = self.put(base + 4, row, d);
                if t < chunk.len() {
                    self.range(Val::cell(dl, d), bits);
                    out.push(Val::cell(ol, o));
                }
            }
        }
        out
    }

    /// Proves `x` is one of the table's inputs and returns the matching output cell.
    pub fn lookup(&mut self, tag: u64, x: Val, y: i64) -> Val {
        let row = self.fn_rows;
        self.fn_rows += 1;
        self.place(x, col::FX, row);
        let yl = self.put(col::FY, row, y as i128);
        self.fix(fx::FT, row, tag as i128);
        Val::cell(yl, y as i128)
    }

    /// The tag of a function table, registering it on first use.
    pub fn table_tag(&mut self, entries: Vec<(i64, i64)>) -> u64 {
        let key: Vec<i64> = entries.iter().flat_map(|&(x, y)| [x, y]).collect();
        if let Some(&t) = self.table_tags.get(&key) {
            return t;
        }
        let tag = crate::config::FN_TAG_BASE + self.tables.len() as u64;
        self.table_tags.insert(key, tag);
        self.tables.push((tag, entries));
        tag
    }

    /// Proves `lo <= x <= hi`.
    pub fn range_between(&mut self, x: Val, (lo, hi): (i128, i128)) {
        let bits = bits_for((hi - lo).max(0) as u128);
        if lo == 0 {
            self.range(x, bits);
        } else {
            let shifted = self.elementwise(&[(x, Val::constant(0))], [0, 1, 0, -lo]);
            self.range(shifted[0], bits);
        }
    }

    /// Proves `0 <= x < 2^bits` with tagged table limbs.
    pub fn range(&mut self, x: Val, bits: u32) {
        let rb = self.range_bits;
        if bits <= rb {
            let (row, lane) = match self.range_open {
                Some((row, lane)) if lane < self.range_lanes => (row, lane),
                _ => {
                    let row = self.range_rows;
                    self.range_rows += 1;
                    (row, 0)
                }
            };
            self.range_open = Some((row, lane + 1));
            self.place(x, col::RL + lane, row);
            self.fix(fx::RT + lane, row, bits as i128);
            return;
        }
        let limbs = bits.div_ceil(rb) as usize;
        let rows = limbs.div_ceil(self.range_lanes);
        let start = self.range_rows;
        self.range_rows += rows;
        // Decompose the value modulo 2^bits: an out-of-range witness yields limbs that do not
        // recompose, so the proof fails instead of the prover panicking.
        let mask = if bits >= 127 {
            u128::MAX
        } else {
            (1u128 << bits) - 1
        };
        let mut rest = (x.v as u128) & mask;
        let mut left = bits;
        for r in 0..rows {
            let row = start + r;
            if r == 0 {
                self.place(x, col::RV, row);
            } else {
                self.put(col::RV, row, rest as i128);
            }
            let chained = r + 1 < rows;
            self.fix(if chained { fx::S_RC_CHAIN } else { fx::S_RC }, row, 1);
            for lane in 0..self.range_lanes {
                let b = left.min(rb);
                let limb = rest & ((1u128 << b) - 1);
                rest >>= b;
                left -= b;
                self.put(col::RL + lane, row, limb as i128);
                self.fix(fx::RT + lane, row, b as i128);
            }
        }
    }

    /// Fresh cells holding witness values proven to lie in `[lo, hi]`: stored directly in
    /// range lanes (offset by `-lo`) when one limb suffices.
    pub fn store_ranged(&mut self, vals: &[i64], lo: i64, hi: i64) -> Vec<Val> {
        let bits = bits_for((hi as i128 - lo as i128).max(0) as u128);
        if bits > self.range_bits {
            let locs = self.store(vals);
            return locs
                .iter()
                .zip(vals)
                .map(|(&l, &v)| {
                    let x = Val::cell(l, v as i128);
                    self.range_between(x, (lo as i128, hi as i128));
                    x
                })
                .collect();
        }
        let locs = self.offset_range_rows(vals.len(), lo, bits, |l, i, column, row| {
            l.put(column, row, vals[i] as i128)
        });
        locs.into_iter()
            .zip(vals)
            .map(|(loc, &v)| Val::cell(loc, v as i128))
            .collect()
    }

    /// Proves `lo <= x <= hi` for existing cells: copies into range lanes (offset by `-lo`)
    /// when one limb suffices, else one range check each.
    pub fn check_ranged(&mut self, xs: &[Val], lo: i64, hi: i64) {
        let bits = bits_for((hi as i128 - lo as i128).max(0) as u128);
        if bits > self.range_bits {
            for &x in xs {
                self.range_between(x, (lo as i128, hi as i128));
            }
            return;
        }
        self.offset_range_rows(xs.len(), lo, bits, |l, i, column, row| {
            l.place(xs[i], column, row)
        });
    }

    /// Range-lane rows for `n` values offset by `-lo`, each looked up under tag `bits`;
    /// `write(self, i, column, row)` puts the `i`-th value in its cell. Returns those cells.
    fn offset_range_rows(
        &mut self,
        n: usize,
        lo: i64,
        bits: u32,
        mut write: impl FnMut(&mut Self, usize, usize, usize) -> Loc,
    ) -> Vec<Loc> {
        let mut out = Vec::with_capacity(n);
        for start in (0..n).step_by(self.range_lanes) {
            let row = self.range_rows;
            self.range_rows += 1;
            self.fix(fx::RO, row, -(lo as i128));
            for lane in 0..self.range_lanes {
                let column = col::RL + lane;
                if start + lane < n {
                    out.push(write(self, start + lane, column, row));
                } else {
                    // Unused lanes hold `lo`, which the offset maps to the table's 0.
                    self.put(column, row, lo as i128);
                }
                self.fix(fx::RT + lane, row, bits as i128);
            }
        }
        out
    }

    /// A free witness cell holding a field element.
    pub fn store_fr(&mut self, v: Fr) -> (Loc, Fr) {
        let row = self.main(1);
        (self.put_fr(0, row, v), v)
    }

    /// Packs values of one tensor into field elements (`sum (v_i - lo) 2^(bits i)`).
    pub fn pack(&mut self, vals: &[Val], p: crate::poseidon::Packing) -> Vec<(Loc, Fr)> {
        let mut out = Vec::new();
        for chunk in vals.chunks(p.per_element) {
            let coefs: Vec<Fr> = (0..chunk.len())
                .map(|i| crate::field::pow2(p.bits * i as u32))
                .collect();
            let bias = -coefs.iter().fold(Fr::zero(), |a, c| a + c) * fr(p.lo as i128);
            let rows = chunk.len().div_ceil(self.fit.lanes).max(1);
            let start = self.main(rows);
            let mut sum = bias;
            for r in 0..rows {
                let row = start + r;
                self.fix(fx::S_DOTK, row, 1);
                self.fix(fx::KCONT, row, (r > 0) as i128);
                if r == 0 {
                    self.fix_fr(fx::KC, row, bias);
                }
                for j in 0..self.fit.lanes {
                    if let Some(&x) = chunk.get(r * self.fit.lanes + j) {
                        let c = coefs[r * self.fit.lanes + j];
                        self.place(x, j, row);
                        self.fix_fr(fx::K + j, row, c);
                        sum += fr(x.v) * c;
                    }
                }
                self.put_fr(col::ACC, row + 1, sum);
            }
            out.push((Loc::new(col::ACC, start + rows), sum));
        }
        out
    }

    /// Copies a field cell into `(col, row)`.
    fn place_fr(&mut self, x: (Loc, Fr), col: usize, row: usize) -> Loc {
        let dst = self.put_fr(col, row, x.1);
        self.copies.push((x.0, dst));
        dst
    }

    /// The Poseidon permutation of three cells: 2 + 19 + 2 gate rows and an output row.
    pub fn permute(&mut self, input: [(Loc, Fr); 3]) -> [(Loc, Fr); 3] {
        use crate::poseidon::{constants, round, FULL_ROUNDS, PARTIAL_ROUNDS, ROUNDS};
        let c = constants();
        let rows = FULL_ROUNDS / 2 + PARTIAL_ROUNDS / 3 + 1;
        let start = self.main(rows);
        for (i, x) in input.iter().enumerate() {
            self.place_fr(*x, i, start);
        }
        let mut state = [input[0].1, input[1].1, input[2].1];
        let mut r = 0;
        let mut row = start;
        while r < ROUNDS {
            let full = crate::poseidon::is_full(r);
            let (per_row, width, sq_lanes) = if full { (2, 6, 3) } else { (3, 4, 1) };
            self.fix(if full { fx::S_POS_FULL } else { fx::S_POS_PART }, row, 1);
            for h in 0..per_row {
                let base = h * width;
                for i in 0..3 {
                    self.fix_fr(fx::K + 3 * h + i, row, c.rc[r][i]);
                }
                for (i, s) in state.iter().enumerate().take(sq_lanes) {
                    let x = *s + c.rc[r][i];
                    self.put_fr(base + 3 + i, row, x.square());
                }
                state = round(&state, r);
                r += 1;
                let (orow, obase) = if h + 1 == per_row {
                    (row + 1, 0)
                } else {
                    (row, base + width)
                };
                for (i, v) in state.iter().enumerate() {
                    self.put_fr(obase + i, orow, *v);
                }
            }
            row += 1;
        }
        debug_assert_eq!(row, start + rows - 1);
        [0, 1, 2].map(|i| (Loc::new(i, row), state[i]))
    }

    /// `a + b` for field cells, through one elementwise row (up to four sums).
    pub fn add_fr(&mut self, pairs: &[(FrCell, FrCell)]) -> Vec<FrCell> {
        let row = self.main(1);
        self.fix(fx::S_EW, row, 1);
        self.fix(fx::KA, row, 1);
        self.fix(fx::KB, row, 1);
        pairs
            .iter()
            .enumerate()
            .map(|(t, &(a, b))| {
                self.place_fr(a, 3 * t, row);
                self.place_fr(b, 3 * t + 1, row);
                (self.put_fr(3 * t + 2, row, a.1 + b.1), a.1 + b.1)
            })
            .collect()
    }

    /// The commitment sponge over `[blinding, packed...]`, as in [`crate::poseidon::sponge`].
    pub fn sponge(&mut self, role: u8, blinding: (Loc, Fr), packed: &[(Loc, Fr)]) -> (Loc, Fr) {
        let tag = crate::poseidon::domain_tag(role) as i64;
        let tag_cell = self.const_cell(tag);
        let zero = (self.const_cell(0), Fr::zero());
        let msg: Vec<(Loc, Fr)> = std::iter::once(blinding)
            .chain(packed.iter().copied())
            .collect();
        let mut state: Option<[(Loc, Fr); 3]> = None;
        for pair in msg.chunks(2) {
            let m1 = pair.get(1).copied().unwrap_or(zero);
            let input = match state {
                // The first absorption adds to zeros: the message cells are the state.
                None => [
                    pair[0],
                    m1,
                    (tag_cell, Fr::from(crate::poseidon::domain_tag(role))),
                ],
                Some(s) => {
                    let sums = self.add_fr(&[(s[0], pair[0]), (s[1], m1)]);
                    [sums[0], sums[1], s[2]]
                }
            };
            state = Some(self.permute(input));
        }
        state.map_or(zero, |s| s[0])
    }

    /// Binds a field cell to the next instance row.
    pub fn publish_fr(&mut self, loc: Loc, v: Fr) {
        self.public.push(loc);
        self.public_values.push(v);
    }

    /// The gates and lookups this layout switches on (see [`crate::config::gate`]).
    pub fn gates_used(&self) -> u32 {
        use crate::config::gate;
        let on = |c: usize| !self.fixed[c].is_empty();
        let mut g = 0;
        for (c, bit) in [
            (fx::S_DOT, gate::DOT),
            (fx::S_DOTK, gate::DOTK),
            (fx::S_EW, gate::EW),
            (fx::S_DIV, gate::DIV),
            (fx::S_DIVD, gate::DIVD),
            (fx::S_CLAMP, gate::CLAMP),
            (fx::S_MAX, gate::MAX),
            (fx::S_MIN, gate::MIN),
            (fx::S_CONST, gate::CONST),
            (fx::S_RC, gate::RANGE_COMPOSE),
            (fx::S_RC_CHAIN, gate::RANGE_COMPOSE),
            (fx::S_POS_FULL, gate::POSEIDON),
            (fx::S_POS_PART, gate::POSEIDON),
            (fx::S_HORNER_A, gate::FREIVALDS),
            (fx::S_HORNER_B, gate::FREIVALDS),
        ] {
            if on(c) {
                g |= bit;
            }
        }
        if self.range_rows > 0 {
            g |= gate::RANGE_LOOKUP;
        }
        if self.fn_rows > 0 {
            g |= gate::FN_LOOKUP;
        }
        g
    }
}

/// Freivalds' check of matrix products `C = A B` (see `docs/halo2.md`): instead of one dot
/// product per output, the circuit evaluates
/// `sum_ij alpha^i beta^j C_ij = sum_t (sum_i alpha^i A_it) (sum_j beta^j B_tj)`
/// at two challenges drawn after every first-phase cell (A, B and C among them) is committed.
impl Layout {
    /// Rows a Freivalds check of an `m x k` by `k x n` product takes.
    pub fn freivalds_rows(lanes: usize, m: usize, k: usize, n: usize) -> usize {
        let chain = |len: usize| len.div_ceil(lanes).max(1);
        k * (chain(m) + chain(n)) + m * chain(n) + m + k + 1
    }

    /// Lays out `C = A B` (row-major `m x k` and `k x n` operands) and returns C's cells.
    pub fn freivalds(
        &mut self,
        a: &[Val],
        b: &[Val],
        (m, k, n): (usize, usize, usize),
    ) -> Vec<Val> {
        debug_assert_eq!(a.len(), m * k);
        debug_assert_eq!(b.len(), k * n);
        // C as fresh first-phase cells, evaluated row by row in beta; the Horner rows store
        // them, so they cost no other rows.
        let mut c_out = Vec::with_capacity(m * n);
        let mut c_rows = Vec::with_capacity(m);
        for i in 0..m {
            let vals: Vec<i128> = (0..n)
                .map(|j| (0..k).map(|t| a[i * k + t].v * b[t * n + j].v).sum())
                .collect();
            let (h, cells) = self.horner_fresh(&vals, Point::Beta);
            c_rows.push(h);
            c_out.extend(cells);
        }
        let lhs = self.horner_p(&c_rows);
        let a_cols: Vec<Loc> = (0..k)
            .map(|t| {
                let col: Vec<Val> = (0..m).map(|i| a[i * k + t]).collect();
                self.horner(&col, Point::Alpha)
            })
            .collect();
        let b_rows: Vec<Loc> = (0..k)
            .map(|t| self.horner(&b[t * n..(t + 1) * n], Point::Beta))
            .collect();
        let rhs = self.dot2(&a_cols, &b_rows);
        self.copies2.push((lhs, rhs));
        c_out
    }

    fn horner_rows(&mut self, len: usize, z: Point) -> (usize, usize, usize) {
        let rows = len.div_ceil(self.fit.lanes).max(1);
        let start = self.main(rows);
        let sel = match z {
            Point::Alpha => fx::S_HORNER_A,
            Point::Beta => fx::S_HORNER_B,
        };
        for r in 0..rows {
            self.fix(sel, start + r, 1);
            self.fix(fx::KCONT, start + r, (r > 0) as i128);
        }
        // Leading zero lanes leave the value unchanged.
        (start, rows, rows * self.fit.lanes - len)
    }

    fn push_horner(&mut self, start: usize, rows: usize, z: Point, ks: Vec<Fr>) -> Loc {
        for r in 0..rows {
            let lanes = self.fit.lanes;
            let lane_ks: Box<[Fr]> = ks[r * lanes..(r + 1) * lanes].into();
            self.phase2.push(Phase2Step::Horner {
                row: (start + r) as u32,
                z,
                cont: r > 0,
                ks: lane_ks,
            });
        }
        Loc::new(col::H, start + rows)
    }

    /// Horner evaluation of `xs` (cells, or constants as `1 * c`): returns the `h` cell.
    fn horner(&mut self, xs: &[Val], z: Point) -> Loc {
        let (start, rows, pad) = self.horner_rows(xs.len(), z);
        let mut ks = vec![Fr::zero(); rows * self.fit.lanes];
        for (i, x) in xs.iter().enumerate() {
            let (row, lane) = (
                start + (pad + i) / self.fit.lanes,
                (pad + i) % self.fit.lanes,
            );
            let (cell, c) = match x.el {
                El::Const(0) => continue,
                El::Const(c) => (Val::constant(1), c as i128),
                El::Cell(_) => (*x, 1),
            };
            self.place(cell, lane, row);
            self.fix(fx::K + lane, row, c);
            ks[pad + i] = fr(c);
        }
        self.push_horner(start, rows, z, ks)
    }

    /// Horner evaluation of fresh witness values stored in the chain's own lanes.
    fn horner_fresh(&mut self, vals: &[i128], z: Point) -> (Loc, Vec<Val>) {
        let (start, rows, pad) = self.horner_rows(vals.len(), z);
        let mut ks = vec![Fr::zero(); rows * self.fit.lanes];
        let mut cells = Vec::with_capacity(vals.len());
        for (i, &v) in vals.iter().enumerate() {
            let (row, lane) = (
                start + (pad + i) / self.fit.lanes,
                (pad + i) % self.fit.lanes,
            );
            cells.push(Val::cell(self.put(lane, row, v), v));
            self.fix(fx::K + lane, row, 1);
            ks[pad + i] = Fr::one();
        }
        (self.push_horner(start, rows, z, ks), cells)
    }

    /// Horner evaluation in alpha of second-phase cells, one per row.
    fn horner_p(&mut self, hs: &[Loc]) -> Loc {
        let start = self.main(hs.len().max(1));
        for (r, &src) in hs.iter().enumerate() {
            let row = start + r;
            self.fix(fx::S_HORNER_P, row, 1);
            self.fix(fx::KCONT, row, (r > 0) as i128);
            let dst = Loc::new(col::P, row);
            self.copies2.push((src, dst));
            self.phase2.push(Phase2Step::HornerP {
                row: row as u32,
                cont: r > 0,
                p: src,
            });
        }
        Loc::new(col::H, start + hs.len())
    }

    /// `sum_t ps[t] qs[t]` over second-phase cells, one product per row.
    fn dot2(&mut self, ps: &[Loc], qs: &[Loc]) -> Loc {
        let start = self.main(ps.len().max(1));
        for (r, (&p, &q)) in ps.iter().zip(qs).enumerate() {
            let row = start + r;
            self.fix(fx::S_DOT2, row, 1);
            self.fix(fx::KCONT, row, (r > 0) as i128);
            self.copies2.push((p, Loc::new(col::P, row)));
            self.copies2.push((q, Loc::new(col::Q, row)));
            self.phase2.push(Phase2Step::Dot {
                row: row as u32,
                cont: r > 0,
                p,
                q,
            });
        }
        Loc::new(col::H, start + ps.len())
    }

    /// The second-phase values for challenges `alpha`, `beta`, from the first-phase cells as
    /// they are in `adv` (so a cheating prover's edits flow through).
    pub fn phase2_values(&self, alpha: Fr, beta: Fr) -> Phase2Values {
        let n = self.rows() + 1;
        let mut out = Phase2Values {
            h: vec![Fr::zero(); n],
            p: vec![Fr::zero(); n],
            q: vec![Fr::zero(); n],
        };
        let adv = |c: usize, r: usize| self.adv[c].get(r).copied().unwrap_or(Fr::zero());
        let mut z_lanes = [Fr::one(); 2];
        for _ in 0..self.fit.lanes {
            z_lanes[0] *= alpha;
            z_lanes[1] *= beta;
        }
        let read = |v: &Phase2Values, loc: Loc| match loc.col as usize {
            col::H => v.h[loc.row as usize],
            col::P => v.p[loc.row as usize],
            col::Q => v.q[loc.row as usize],
            c => adv(c, loc.row as usize),
        };
        for step in &self.phase2 {
            match step {
                Phase2Step::Horner { row, z, cont, ks } => {
                    let r = *row as usize;
                    let (zv, zl) = match z {
                        Point::Alpha => (alpha, z_lanes[0]),
                        Point::Beta => (beta, z_lanes[1]),
                    };
                    let mut sum = Fr::zero();
                    for (t, k) in ks.iter().enumerate() {
                        sum = sum * zv + *k * adv(t, r);
                    }
                    let prev = if *cont { out.h[r] * zl } else { Fr::zero() };
                    out.h[r + 1] = prev + sum;
                }
                Phase2Step::HornerP { row, cont, p } => {
                    let r = *row as usize;
                    out.p[r] = read(&out, *p);
                    let prev = if *cont { out.h[r] * alpha } else { Fr::zero() };
                    out.h[r + 1] = prev + out.p[r];
                }
                Phase2Step::Dot { row, cont, p, q } => {
                    let r = *row as usize;
                    out.p[r] = read(&out, *p);
                    out.q[r] = read(&out, *q);
                    let prev = if *cont { out.h[r] } else { Fr::zero() };
                    out.h[r + 1] = prev + out.p[r] * out.q[r];
                }
            }
        }
        out
    }
}
