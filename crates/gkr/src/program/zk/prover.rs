//! The zero-knowledge prover (see the module docs of [`super`]).

use p3_field::PrimeCharacteristicRing;
use rand::rngs::{StdRng, SysRng};
use rand::{SeedableRng, TryRng};

use super::batch::{self, Claim, EqTerm};
use super::lookup::{self, Leaf};
use super::mask::{MaskPoly, MaskedProver, Pool};
use super::{is_committed, lookup_depth, Layout, DEG_LINEAR, DEG_PRODUCT, DEG_QUADRATIC};
use crate::field::{embed, embed_slice, fill_uniform, EF, F};
use crate::link::Linked;
use crate::logup::Table;
use crate::mle::{eq_table, num_vars};
use crate::pcs::TensorPcs;
use crate::program::plan::{Affine, Col, Constraint, Plan};
use crate::program::protocol::{
    affine_cols, const_eval, eval_ints, product3, product_points, product_tables, quadratic_expr,
    summed_terms,
};
use crate::program::{ProgramError, ProgramProof};
use crate::sumcheck::{self, Expression, SumcheckProof, TableProver};
use crate::transcript::Transcript;

pub(super) const L_TRACE: &[u8] = b"gkr/zk/trace";
pub(super) const L_T: &[u8] = b"gkr/zk/t";
pub(super) const L_POINT: &[u8] = b"gkr/zk/point";
pub(super) const L_EVAL: &[u8] = b"gkr/zk/eval";
pub(super) const L_MASK_SUM: &[u8] = b"gkr/zk/mask-sum";
pub(super) const L_MASK_RHO: &[u8] = b"gkr/zk/mask-rho";

/// Child b of every node of a masked layer, over (z, x): the real layer's entries 2x + b, then
/// the mask's.
fn children(real: &[EF], mask: impl Fn(usize) -> EF, b: usize) -> Vec<EF> {
    let n = real.len() / 2;
    (0..n)
        .map(|x| real[2 * x + b])
        .chain((0..n).map(|x| mask(2 * x + b)))
        .collect()
}

/// Proves a run with hidden tensors from its column values; `strict` makes the prover refuse
/// a false witness (off only for soundness tests, through `protocol::prove_columns_unchecked`).
pub(crate) fn prove_columns(
    plan: &Plan,
    values: Vec<Vec<i64>>,
    linked: Vec<Linked>,
    t: &mut Transcript,
    strict: bool,
) -> Result<ProgramProof, ProgramError> {
    let layout = Layout::new(plan)?;
    let cols = super::linked_cols(plan, linked.len())?;
    let mut homes = Vec::new();
    let mut linked_data = Vec::new();
    for (col, l) in cols.into_iter().zip(linked) {
        let name = &plan.columns[col].name;
        let same = l.vector.len() >= values[col].len()
            && values[col]
                .iter()
                .zip(&l.vector)
                .all(|(&v, &e)| embed(v) == e);
        if strict && !same {
            return Err(ProgramError::Witness {
                what: format!("hashed tensor {name} differs from the tensor its commitment holds"),
            });
        }
        let vars = crate::link::commitment_vars(plan.columns[col].len);
        if l.vars != vars {
            return Err(ProgramError::Statement(format!(
                "the linked commitment has {} variables, hashed tensor {name} needs {vars}",
                l.vars
            )));
        }
        homes.push(LinkedHome {
            col,
            shape: batch::Shape { vars: l.vars },
            full: l.vector,
        });
        linked_data.push((l.commitment, l.data));
    }
    let shape = layout.shape;
    let half = shape.half();
    let mut full = vec![F::ZERO; 2 * half];
    for (c, col) in plan.columns.iter().enumerate() {
        if let (true, Some(loc), false) = (is_committed(plan, c), col.loc, col.region.is_some()) {
            for (x, &v) in full[loc.offset..].iter_mut().zip(&values[c]) {
                *x = embed(v);
            }
        }
    }
    let mut seed = [0u8; 32];
    SysRng
        .try_fill_bytes(&mut seed)
        .map_err(|e| ProgramError::Randomness(e.to_string()))?;
    let mut rng = StdRng::from_seed(seed);
    fill_uniform(
        &mut rng,
        &mut full[layout.pool_start..layout.pool_start + layout.pool_cap],
    );
    fill_uniform(&mut rng, &mut full[half..]);
    SysRng
        .try_fill_bytes(&mut seed)
        .map_err(|e| ProgramError::Randomness(e.to_string()))?;
    let timing = std::env::var_os("VOUCH_GKR_TIMING").is_some();
    let clock = std::time::Instant::now();
    let lap = |what: &str| {
        if timing {
            eprintln!(
                "zk prover: {what} at {:.2} s",
                clock.elapsed().as_secs_f64()
            );
        }
    };
    let pcs = TensorPcs::new(shape.vars)?;
    let (commitment, data) = pcs.commit(&full, seed)?;
    commitment.absorb(t, L_TRACE);
    lap("committed");
    let mut p = Prover {
        plan,
        strict,
        values,
        full,
        shape,
        linked: homes,
        t,
        pool: layout.pool(),
        claims: Vec::new(),
        evals: Vec::new(),
        sumchecks: Vec::new(),
    };
    for c in &plan.constraints {
        p.constraint(c)?;
    }
    lap("constraints");
    for l in &plan.lookups {
        p.lookup(&l.node, &l.table, &[l.x, l.y], l.multiplicities)?;
    }
    for r in &plan.ranges {
        p.lookup(
            "range checks",
            &Table::range(r.bits),
            &[r.region],
            r.multiplicities,
        )?;
    }
    lap("lookups");
    let Prover {
        full,
        claims,
        mut evals,
        mut sumchecks,
        linked,
        t,
        ..
    } = p;
    let mut by_home = batch::by_home(claims, linked.len())?.into_iter();
    let out = batch::prove(shape, full, by_home.next().unwrap_or_default(), t)?;
    evals.extend_from_slice(&out.values);
    sumchecks.push(out.proof);
    let mut linked_out = Vec::new();
    for (home, claims) in linked.into_iter().zip(by_home) {
        let o = batch::prove(home.shape, home.full, claims, t)?;
        evals.extend_from_slice(&o.values);
        sumchecks.push(o.proof);
        linked_out.push((home.shape, o.point));
    }
    lap("batch");
    let opening = pcs.open(&commitment, data, &[out.point], t)?;
    let mut linked_openings = Vec::new();
    for ((shape, point), (c, d)) in linked_out.into_iter().zip(linked_data) {
        let pcs = TensorPcs::new(shape.vars)?;
        linked_openings.push(pcs.open(&c, d, &[point], t)?);
    }
    lap("opened");
    Ok(ProgramProof {
        commitment,
        evals,
        sumchecks,
        lookups: Vec::new(),
        linked_openings,
        opening,
    })
}

/// A hashed tensor's own committed vector `[x ; R]`.
struct LinkedHome {
    col: Col,
    shape: batch::Shape,
    full: Vec<F>,
}

struct Prover<'a> {
    plan: &'a Plan,
    strict: bool,
    values: Vec<Vec<i64>>,
    /// The committed vector [witness ; random].
    full: Vec<F>,
    shape: batch::Shape,
    /// Hashed tensors (input, then output), homes 1, 2.
    linked: Vec<LinkedHome>,
    t: &'a mut Transcript,
    pool: Pool,
    claims: Vec<Claim>,
    evals: Vec<EF>,
    sumchecks: Vec<SumcheckProof>,
}

impl Prover<'_> {
    fn send(&mut self, v: EF) {
        self.evals.push(v);
        self.t.absorb_ext(L_EVAL, &[v]);
    }

    fn point(&mut self, vars: usize) -> Vec<EF> {
        self.t.challenges_ext(L_POINT, vars)
    }

    fn committed(&self, col: Col) -> bool {
        is_committed(self.plan, col)
    }

    /// 0 for trace columns, k + 1 for the k-th hashed tensor (in its own commitment).
    fn home(&self, col: Col) -> usize {
        self.linked
            .iter()
            .position(|l| l.col == col)
            .map_or(0, |k| k + 1)
    }

    /// A committed vector and its shape.
    fn space(&self, home: usize) -> (batch::Shape, &[F]) {
        match home.checked_sub(1).and_then(|k| self.linked.get(k)) {
            Some(l) => (l.shape, &l.full),
            None => (self.shape, &self.full),
        }
    }

    fn loc(&self, col: Col) -> Result<(usize, usize), ProgramError> {
        if self.home(col) != 0 {
            return Ok((0, self.plan.columns[col].vars()));
        }
        let l = self.plan.columns[col]
            .loc
            .ok_or(ProgramError::Internal("committed column without a place"))?;
        Ok((l.offset, l.vars))
    }

    /// The random companion R_c of a committed column (zeros for known columns).
    fn companion(&self, col: Col) -> Result<Vec<F>, ProgramError> {
        let vars = self.plan.columns[col].vars();
        if !self.committed(col) {
            return Ok(vec![F::ZERO; 1 << vars]);
        }
        let (off, _) = self.loc(col)?;
        let (shape, full) = self.space(self.home(col));
        let half = shape.half();
        Ok(full[half + off..half + off + (1 << vars)].to_vec())
    }

    /// The column's values, embedded and zero-padded to 2^vars.
    fn base_values(&self, col: Col) -> Vec<F> {
        let mut v = embed_slice(&self.values[col]);
        v.resize(1 << self.plan.columns[col].vars(), F::ZERO);
        v
    }

    /// The masked column as a table over (z, x).
    fn zext(&self, col: Col) -> Result<Vec<EF>, ProgramError> {
        let mut t: Vec<EF> = self.base_values(col).into_iter().map(EF::from).collect();
        t.extend(self.companion(col)?.into_iter().map(EF::from));
        Ok(t)
    }

    /// ĉ(z, point): sent and claimed for a committed column, computed for a known one.
    fn claim_col(&mut self, col: Col, z: EF, point: &[EF]) -> Result<EF, ProgramError> {
        if !self.committed(col) {
            return Ok((EF::ONE - z) * eval_ints(&self.values[col], point));
        }
        let (off, vars) = self.loc(col)?;
        if vars != point.len() {
            return Err(ProgramError::Internal(
                "claim arity differs from its column",
            ));
        }
        let home = self.home(col);
        let eq = vec![EqTerm {
            home,
            z,
            off,
            point: point.to_vec(),
            coef: EF::ONE,
        }];
        let (shape, full) = self.space(home);
        let value = shape.claim_value(full, &eq, &[]);
        self.send(value);
        self.claims.push(Claim {
            eq,
            sparse: Vec::new(),
            value,
        });
        Ok(value)
    }

    /// The term `coef·R_col(point)` of an S-combination (none for known columns).
    fn r_term(&self, col: Col, point: &[EF], coef: EF) -> Result<Option<EqTerm>, ProgramError> {
        if !self.committed(col) {
            return Ok(None);
        }
        let (off, _) = self.loc(col)?;
        Ok(Some(EqTerm {
            home: self.home(col),
            z: EF::ONE,
            off,
            point: point.to_vec(),
            coef,
        }))
    }

    /// Sends and claims S = Σ terms (over the random companions): one value per committed
    /// vector (the trace's always, a hashed tensor's when it has terms), returns their sum.
    fn send_s(&mut self, terms: Vec<EqTerm>) -> EF {
        let mut total = EF::ZERO;
        for (home, terms) in batch::terms_by_home(terms, self.linked.len()) {
            if home != 0 && terms.is_empty() {
                continue;
            }
            let (shape, full) = self.space(home);
            let value = shape.claim_value(full, &terms, &[]);
            self.send(value);
            total += value;
            if !terms.is_empty() {
                self.claims.push(Claim {
                    eq: terms,
                    sparse: Vec::new(),
                    value,
                });
            }
        }
        total
    }

    /// A masked sumcheck of Σ expr(tables) = claim; returns the point and the tables' values.
    fn masked(
        &mut self,
        expr: &Expression,
        tables: Vec<Vec<EF>>,
        claim: EF,
        degree: usize,
    ) -> Result<(Vec<EF>, Vec<EF>), ProgramError> {
        let n = num_vars(tables.first().map_or(1, Vec::len));
        let g = MaskPoly::alloc(&mut self.pool, n, degree, &self.full)?;
        self.masked_with(&g, expr, tables, claim)
    }

    /// The masked sumcheck with a mask already allocated.
    fn masked_with(
        &mut self,
        g: &MaskPoly,
        expr: &Expression,
        tables: Vec<Vec<EF>>,
        claim: EF,
    ) -> Result<(Vec<EF>, Vec<EF>), ProgramError> {
        let mut inner = TableProver::new(expr, tables)?;
        let big_g = g.sum();
        self.evals.push(big_g);
        self.t.absorb_ext(L_MASK_SUM, &[big_g]);
        let rho = self.t.challenge_ext(L_MASK_RHO);
        let mut mp = MaskedProver::new(&mut inner, g, rho, claim);
        let (proof, point) = sumcheck::prove_with(&mut mp, claim + rho * big_g, self.t);
        let evals = inner.evals();
        let gs = g.eval(&point);
        self.send(gs);
        self.claims.push(Claim {
            eq: Vec::new(),
            sparse: g.weights(&point),
            value: gs,
        });
        self.sumchecks.push(proof);
        Ok((point, evals))
    }

    /// An affine expression as a table over (z, x): the columns masked, the constant in both
    /// halves.
    fn zaffine(&self, a: &Affine, len: usize, vars: usize) -> Result<Vec<EF>, ProgramError> {
        let lower = crate::program::protocol::affine_table(a, len, vars, &self.values);
        let none = Affine {
            terms: Vec::new(),
            constant: a.constant.clone(),
        };
        let mut upper = crate::program::protocol::affine_table(&none, len, vars, &self.values);
        for &(coef, col) in &a.terms {
            if self.committed(col) {
                for (x, r) in upper.iter_mut().zip(self.companion(col)?) {
                    *x += EF::from(coef * r);
                }
            }
        }
        let mut t = lower;
        t.extend(upper);
        Ok(t)
    }

    fn fail(&self, node: &str, what: &str) -> Result<(), ProgramError> {
        if self.strict {
            return Err(ProgramError::witness(node, what));
        }
        Ok(())
    }

    fn constraint(&mut self, c: &Constraint) -> Result<(), ProgramError> {
        match c {
            Constraint::Zero { node, len, expr } => {
                let tz = self.t.challenge_ext(L_T);
                let r = self.point(self.plan.domain_vars(*len));
                let mut acc = (EF::ONE - tz) * const_eval(&expr.constant, *len, &r);
                let mut terms = Vec::new();
                for (col, coef) in summed_terms(expr) {
                    acc += self.claim_col(col, tz, &r)? * coef;
                    terms.extend(self.r_term(col, &r, EF::from(coef))?);
                }
                let s = self.send_s(terms);
                if acc != tz * s {
                    self.fail(node, "an entrywise identity fails")?;
                }
            }
            Constraint::Quadratic {
                node,
                len,
                products,
                linear,
            } => {
                let vars = self.plan.domain_vars(*len);
                let r = self.point(vars);
                let mut e = eq_table(&r);
                e.resize(2 << vars, EF::ZERO);
                let mut tables = vec![e];
                for (a, b) in products {
                    tables.push(self.zaffine(a, *len, vars)?);
                    tables.push(self.zaffine(b, *len, vars)?);
                }
                tables.push(self.zaffine(linear, *len, vars)?);
                let expr = quadratic_expr(products.len());
                if sumcheck::expression_sum(&expr, &tables) != EF::ZERO {
                    self.fail(node, "a quadratic identity fails")?;
                }
                let (pt, _) = self.masked(&expr, tables, EF::ZERO, DEG_QUADRATIC)?;
                let all = products.iter().flat_map(|(a, b)| [a, b]).chain([linear]);
                for col in affine_cols(all) {
                    let _ = self.claim_col(col, pt[0], &pt[1..])?;
                }
            }
            Constraint::Product {
                node,
                a,
                b,
                c,
                shape,
            } => self.product(node, *a, *b, *c, shape)?,
            Constraint::Linear {
                node,
                out,
                inputs,
                constant,
            } => {
                let tz = self.t.challenge_ext(L_T);
                let r = self.point(self.plan.columns[*out].vars());
                let v_out = self.claim_col(*out, tz, &r)?;
                let e = eq_table(&r);
                let mut known = constant.as_ref().map_or(EF::ZERO, |c| eval_ints(c, &r));
                let mut terms: Vec<EqTerm> = self.r_term(*out, &r, EF::ONE)?.into_iter().collect();
                let mut rel = EF::ZERO;
                for term in inputs {
                    let in_vars = self.plan.columns[term.col].vars();
                    let coef = EF::from(term.coef);
                    if term.map.is_identity() {
                        rel += self.claim_col(term.col, tz, &r)? * coef;
                        terms.extend(self.r_term(term.col, &r, -coef)?);
                    } else if !self.committed(term.col) {
                        let w = term.map.transpose_eq(&e, 1 << in_vars);
                        let x = self.base_values(term.col);
                        let u: EF = w.iter().zip(&x).map(|(a, &b)| *a * b).sum();
                        known += u * coef;
                    } else {
                        let q = self.point(in_vars);
                        let w = term.map.transpose_eq(&e, 1 << in_vars);
                        let mut a: Vec<EF> = w.iter().map(|&x| x * (EF::ONE - tz)).collect();
                        a.extend(eq_table(&q).into_iter().map(|x| x * tz));
                        let tables = vec![a, self.zext(term.col)?];
                        let expr = Expression::product2();
                        let u = sumcheck::expression_sum(&expr, &tables);
                        self.send(u);
                        let (pt, _) = self.masked(&expr, tables, u, DEG_LINEAR)?;
                        let _ = self.claim_col(term.col, pt[0], &pt[1..])?;
                        terms.extend(self.r_term(term.col, &q, -coef)?);
                        rel += u * coef;
                    }
                }
                let s = self.send_s(terms);
                if v_out - rel - (EF::ONE - tz) * known != tz * s {
                    self.fail(node, "a linear map gives other values")?;
                }
            }
        }
        Ok(())
    }

    /// A point of a product operand's own power-of-two layout, on the column's extension
    /// (leading variables 0 where the column was raised to more variables).
    fn lift(&self, col: Col, p: &[EF]) -> Vec<EF> {
        let extra = self.plan.columns[col].vars().saturating_sub(p.len());
        let mut q = vec![EF::ZERO; extra];
        q.extend_from_slice(p);
        q
    }

    fn product(
        &mut self,
        node: &str,
        a: Col,
        b: Col,
        c: Col,
        shape: &crate::program::plan::ProductShape,
    ) -> Result<(), ProgramError> {
        let bb = num_vars(shape.batch);
        let tz = self.t.challenge_ext(L_T);
        let r = self.point(bb + shape.m + shape.n);
        let q = self.point(bb + shape.k);
        let v_c = self.claim_col(c, tz, &self.lift(c, &r))?;
        let (lower, split) = product_tables(shape, &r, &self.base_values(a), &self.base_values(b));
        let (upper, _) = product_tables(shape, &r, &self.companion(a)?, &self.companion(b)?);
        let size = lower[0].len();
        let mut e: Vec<EF> = lower[0].iter().map(|&x| x * (EF::ONE - tz)).collect();
        e.resize(2 * size, EF::ZERO);
        let cat = |l: &Vec<EF>, u: &Vec<EF>| l.iter().chain(u).copied().collect::<Vec<EF>>();
        let (ta, tb) = (cat(&lower[1], &upper[1]), cat(&lower[2], &upper[2]));
        let mut d = vec![EF::ZERO; size];
        d.extend(eq_table(&q).into_iter().map(|x| x * tz));
        // The mask term rides on a committed operand: D·A (or D·B).
        let mask = if self.committed(a) {
            Some(a)
        } else if self.committed(b) {
            Some(b)
        } else {
            None
        };
        let mut expr = product3();
        expr.num_polys = 4;
        match mask {
            Some(m) if m == a => expr.terms.push((EF::ONE, vec![3, 1])),
            Some(_) => expr.terms.push((EF::ONE, vec![3, 2])),
            None => {}
        }
        let tables = vec![e, ta, tb, d];
        let u = sumcheck::expression_sum(&expr, &tables);
        self.send(u);
        let (pt, _) = self.masked(&expr, tables, u, DEG_PRODUCT)?;
        let (pa, pb) = product_points(shape, &split, &pt[1..]);
        let _ = self.claim_col(a, pt[0], &self.lift(a, &pa))?;
        let _ = self.claim_col(b, pt[0], &self.lift(b, &pb))?;
        let mut terms: Vec<EqTerm> = self
            .r_term(c, &self.lift(c, &r), EF::ONE)?
            .into_iter()
            .collect();
        if let Some(m) = mask {
            let (qa, qb) = product_points(shape, &split, &q);
            let qm = if m == a { qa } else { qb };
            terms.extend(self.r_term(m, &self.lift(m, &qm), -EF::ONE)?);
        }
        let s = self.send_s(terms);
        if v_c - u != tz * s {
            self.fail(node, "a matrix product differs")?;
        }
        Ok(())
    }

    fn lookup(
        &mut self,
        node: &str,
        table: &Table,
        columns: &[Col],
        mult: Col,
    ) -> Result<(), ProgramError> {
        let n = self.plan.columns[columns[0]].len;
        let tl = table.len();
        let depth = lookup_depth(self.plan, columns, mult, tl);
        self.t
            .absorb_u64s(lookup::L_SHAPE, &[n as u64, table.num_columns() as u64]);
        table.absorb(self.t);
        let beta = self.t.challenge_ext(lookup::L_BETA);
        let alpha = self.t.challenge_ext(lookup::L_ALPHA);
        let masks = lookup::allocate(&mut self.pool, depth, &self.full)?;
        // Leaves over (z, side, i), i < 2^depth.
        let width = 1usize << depth;
        let mut cols = Vec::new();
        for &c in columns {
            let mut lo = self.base_values(c);
            lo.resize(width, F::ZERO);
            let mut hi = self.companion(c)?;
            hi.resize(width, F::ZERO);
            cols.push([lo, hi]);
        }
        let mut m_lo = self.base_values(mult);
        m_lo.resize(width, F::ZERO);
        let mut m_hi = self.companion(mult)?;
        m_hi.resize(width, F::ZERO);
        let mut lp = vec![EF::ZERO; 4 * width];
        let mut lq = vec![EF::ZERO; 4 * width];
        let betas: Vec<EF> = (0..columns.len())
            .scan(EF::ONE, |b, _| {
                let cur = *b;
                *b *= beta;
                Some(cur)
            })
            .collect();
        for z in 0..2 {
            let base = z * 2 * width;
            for i in 0..width {
                let mut w = EF::ZERO;
                for (col, &bc) in cols.iter().zip(&betas) {
                    w += bc * col[z][i];
                }
                // Padding keeps the denominator α − w: with 1 − w a prover could make one
                // padding leaf 0/0 (w = 1), which zeroes the root numerator whatever the rest.
                lp[base + i] = if i < n { EF::ONE } else { EF::ZERO };
                lq[base + i] = alpha - w;
                let m = if z == 0 { m_lo[i] } else { m_hi[i] };
                lp[base + width + i] = -EF::from(m);
                lq[base + width + i] = if i < tl {
                    let mut tw = EF::ZERO;
                    for (k, &bc) in betas.iter().enumerate() {
                        tw += bc * embed(table.entry(i, k));
                    }
                    alpha - tw
                } else {
                    EF::ONE
                };
            }
        }
        // The tree on the real half: layers[v] has 2^v nodes (v = depth + 1 are the leaves).
        let mut layers: Vec<(Vec<EF>, Vec<EF>)> = vec![(Vec::new(), Vec::new()); depth + 2];
        layers[depth + 1] = (lp[..2 * width].to_vec(), lq[..2 * width].to_vec());
        for v in (0..=depth).rev() {
            let (cp, cq) = &layers[v + 1];
            let (np, nq): (Vec<EF>, Vec<EF>) = (0..1usize << v)
                .map(|x| {
                    let (p0, p1, q0, q1) = (cp[2 * x], cp[2 * x + 1], cq[2 * x], cq[2 * x + 1]);
                    (p0 * q1 + p1 * q0, q0 * q1)
                })
                .unzip();
            layers[v] = (np, nq);
        }
        if layers[0].0[0] != EF::ZERO {
            self.fail(node, "a looked-up value is not in its table")?;
        }
        let (mut tz, mut r, mut gamma) = (EF::ZERO, Vec::new(), EF::ZERO);
        let mut claim = EF::ZERO;
        for v in 0..=depth {
            // The children of layer v over (z, x): the real layer v + 1, then its mask (the
            // columns' companions for the leaves, Λ_{v+1} repeated otherwise).
            let [p0, p1, q0, q1] = if v == depth {
                let w = 2 * width;
                let (p, q) = (&lp, &lq);
                [
                    children(&p[..w], |j| p[w + j], 0),
                    children(&p[..w], |j| p[w + j], 1),
                    children(&q[..w], |j| q[w + j], 0),
                    children(&q[..w], |j| q[w + j], 1),
                ]
            } else {
                let (p, q) = &layers[v + 1];
                let (mp, mq) = (masks.p[v].values(&self.full), masks.q[v].values(&self.full));
                let k = mp.len();
                [
                    children(p, |j| mp[j % k], 0),
                    children(p, |j| mp[j % k], 1),
                    children(q, |j| mq[j % k], 0),
                    children(q, |j| mq[j % k], 1),
                ]
            };
            let size = p0.len();
            let eq = if v == 0 {
                vec![EF::ONE; 2]
            } else {
                let mut pt = vec![tz];
                pt.extend_from_slice(&r);
                eq_table(&pt)
            };
            let mut sel = vec![EF::ONE; size / 2];
            sel.resize(size, EF::ZERO);
            let mut mk = vec![EF::ZERO; size];
            if v >= 1 {
                let (mp, mq) = (
                    masks.p[v - 1].values(&self.full),
                    masks.q[v - 1].values(&self.full),
                );
                let k = mp.len();
                for x in 0..size / 2 {
                    mk[size / 2 + x] = mp[x % k] + gamma * mq[x % k];
                }
            }
            let tables = vec![eq, sel, p0, p1, q0, q1, mk];
            let expr = lookup::layer_expr(gamma);
            let (pt, ev) = self.masked_with(&masks.g[v], &expr, tables, claim)?;
            let children = [ev[2], ev[3], ev[4], ev[5]];
            self.evals.extend_from_slice(&children);
            self.t.absorb_ext(lookup::L_CHILDREN, &children);
            let (t_new, s) = (pt[0], pt[1..].to_vec());
            if v >= 1 {
                let lambda =
                    lookup::lambda_value(&self.full, masks.p[v - 1], masks.q[v - 1], gamma, &s);
                self.send(lambda);
                let eq = lookup::lambda_terms(masks.p[v - 1], masks.q[v - 1], gamma, &s)
                    .into_iter()
                    .map(|(off, point, coef)| EqTerm {
                        home: 0,
                        z: EF::ZERO,
                        off,
                        point,
                        coef,
                    })
                    .collect();
                self.claims.push(Claim {
                    eq,
                    sparse: Vec::new(),
                    value: lambda,
                });
            }
            gamma = self.t.challenge_ext(lookup::L_GAMMA);
            let fold = self.t.challenge_ext(lookup::L_FOLD);
            let [p0, p1, q0, q1] = children;
            let (vp, vq) = (p0 + fold * (p1 - p0), q0 + fold * (q1 - q0));
            claim = vp + gamma * vq;
            tz = t_new;
            r = s;
            r.push(fold);
        }
        // The leaves at (tz, r): masked column values, checked by the verifier's leaf formula.
        let pi = &r[1..];
        let mut col_vals = Vec::new();
        for &c in columns {
            let nv = self.plan.columns[c].vars();
            let (hi, lo) = pi.split_at(pi.len() - nv);
            col_vals.push(lookup::eq_zero(hi) * self.claim_col(c, tz, lo)?);
        }
        let mv = self.plan.columns[mult].vars();
        let (hi, lo) = pi.split_at(pi.len() - mv);
        let m_val = lookup::eq_zero(hi) * self.claim_col(mult, tz, lo)?;
        let leaf = Leaf {
            alpha,
            beta,
            n,
            table,
        };
        let (lp_v, lq_v) = leaf.value(&r, &col_vals, m_val)?;
        if lp_v + gamma * lq_v != claim {
            self.fail(node, "lookup leaves")?;
        }
        Ok(())
    }
}
