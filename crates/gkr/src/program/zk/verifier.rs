//! The zero-knowledge verifier: replays [`super::prover`] message by message.

use p3_field::PrimeCharacteristicRing;

use super::batch::{self, Claim, EqTerm, Shape};
use super::lookup::{self, Leaf};
use super::mask::{MaskPoly, Pool};
use super::prover::{L_EVAL, L_MASK_RHO, L_MASK_SUM, L_POINT, L_T, L_TRACE};
use super::{
    is_committed, lookup_depth, Layout, DEG_LAYER, DEG_LINEAR, DEG_PRODUCT, DEG_QUADRATIC,
};
use crate::field::EF;
use crate::logup::Table;
use crate::mle::{eq_eval, eq_table, evaluate, num_vars};
use crate::pcs::{TensorCommitment, TensorPcs};
use crate::program::plan::{Affine, Col, Constraint, Plan, ProductShape, Source};
use crate::program::protocol::{
    affine_cols, const_eval, eval_ints, product_points, quadratic_expr, summed_terms, ProductSplit,
    ProofReader,
};
use crate::program::{ProgramError, ProgramProof};
use crate::sumcheck;
use crate::transcript::Transcript;

/// Verifies a zero-knowledge proof of `plan` against the public tensors (checked for presence
/// and length by `protocol::verify`, which dispatches here). The transcript must already hold
/// the statement.
pub(crate) fn verify(
    plan: &Plan,
    public: &[Option<Vec<i64>>],
    linked: &[TensorCommitment],
    proof: &ProgramProof,
    t: &mut Transcript,
) -> Result<(), ProgramError> {
    let cols = super::linked_cols(plan, linked.len())?;
    let linked: Vec<(Col, Shape, &TensorCommitment)> = cols
        .into_iter()
        .zip(linked)
        .map(|(col, c)| {
            let shape = Shape {
                vars: crate::link::commitment_vars(plan.columns[col].len),
            };
            (col, shape, c)
        })
        .collect();
    if proof.linked_openings.len() != linked.len() {
        return Err(ProgramError::Malformed("linked openings"));
    }
    if !proof.lookups.is_empty() {
        return Err(ProgramError::Malformed(
            "zero-knowledge proofs carry no lookup proofs",
        ));
    }
    let layout = Layout::new(plan)?;
    let shape = layout.shape;
    let pcs = TensorPcs::new(shape.vars)?;
    proof.commitment.absorb(t, L_TRACE);
    let mut v = Verifier {
        plan,
        public,
        linked: linked.iter().map(|&(col, shape, _)| (col, shape)).collect(),
        t,
        pool: layout.pool(),
        claims: Vec::new(),
        reader: ProofReader::new(proof),
    };
    for c in &plan.constraints {
        v.constraint(c)?;
    }
    for l in &plan.lookups {
        v.lookup(&l.node, &l.table, &[l.x, l.y], l.multiplicities)?;
    }
    for r in &plan.ranges {
        v.lookup(
            "range checks",
            &Table::range(r.bits),
            &[r.region],
            r.multiplicities,
        )?;
    }
    let values = [v.read()?, v.read()?, v.read()?];
    let batch_proof = v.reader.sumcheck()?;
    let mut linked_batches = Vec::new();
    for _ in &linked {
        linked_batches.push(([v.read()?, v.read()?, v.read()?], v.reader.sumcheck()?));
    }
    v.reader.finish()?;
    let Verifier { claims, t, .. } = v;
    let mut by_home = batch::by_home(claims, linked.len())?.into_iter();
    let on_trace = by_home.next().unwrap_or_default();
    let (point, at) = batch::verify(shape, on_trace, batch_proof, values, t)?;
    let mut linked_at = Vec::new();
    for ((&(col, lshape, c), (values, proof)), claims) in
        linked.iter().zip(linked_batches).zip(by_home)
    {
        let (p, a) = batch::verify(lshape, claims, proof, values, t)?;
        linked_at.push((col, lshape, c, p, a));
    }
    let opened = pcs.verify(&proof.commitment, &[point], &proof.opening, t)?;
    if opened.as_slice() != [at] {
        return Err(ProgramError::rejected("trace", "commitment opening"));
    }
    for ((col, lshape, c, point, at), opening) in linked_at.into_iter().zip(&proof.linked_openings)
    {
        let opened = TensorPcs::new(lshape.vars)?.verify(c, &[point], opening, t)?;
        if opened.as_slice() != [at] {
            return Err(ProgramError::Rejected {
                node: plan.columns[col].name.clone(),
                what: "linked commitment opening",
            });
        }
    }
    Ok(())
}

struct Verifier<'a> {
    plan: &'a Plan,
    public: &'a [Option<Vec<i64>>],
    /// Hashed tensors (input, then output): column and commitment shape; home k + 1.
    linked: Vec<(Col, Shape)>,
    t: &'a mut Transcript,
    pool: Pool,
    claims: Vec<Claim>,
    reader: ProofReader<'a>,
}

impl<'a> Verifier<'a> {
    fn read(&mut self) -> Result<EF, ProgramError> {
        self.reader.eval()
    }

    fn receive(&mut self) -> Result<EF, ProgramError> {
        let v = self.read()?;
        self.t.absorb_ext(L_EVAL, &[v]);
        Ok(v)
    }

    fn point(&mut self, vars: usize) -> Vec<EF> {
        self.t.challenges_ext(L_POINT, vars)
    }

    fn known(&self, col: Col) -> Option<&[i64]> {
        match &self.plan.columns[col].source {
            Source::Committed | Source::Fused => None,
            Source::Fixed(v) => Some(v),
            Source::Public(id) => self.public.get(id.index())?.as_deref(),
        }
    }

    /// 0 for trace columns, k + 1 for the k-th hashed tensor (in its own commitment).
    fn home(&self, col: Col) -> usize {
        self.linked
            .iter()
            .position(|&(c, _)| c == col)
            .map_or(0, |k| k + 1)
    }

    fn loc(&self, col: Col) -> Result<usize, ProgramError> {
        if self.home(col) != 0 {
            return Ok(0);
        }
        Ok(self.plan.columns[col]
            .loc
            .ok_or(ProgramError::Internal("committed column without a place"))?
            .offset)
    }

    fn claim_col(&mut self, col: Col, z: EF, point: &[EF]) -> Result<EF, ProgramError> {
        if self.plan.columns[col].vars() != point.len() {
            return Err(ProgramError::Internal(
                "claim arity differs from its column",
            ));
        }
        if let Some(v) = self.known(col) {
            return Ok((EF::ONE - z) * eval_ints(v, point));
        }
        if !is_committed(self.plan, col) {
            return Err(ProgramError::Statement("a public tensor is missing".into()));
        }
        let off = self.loc(col)?;
        let value = self.receive()?;
        self.claims.push(Claim {
            eq: vec![EqTerm {
                home: self.home(col),
                z,
                off,
                point: point.to_vec(),
                coef: EF::ONE,
            }],
            sparse: Vec::new(),
            value,
        });
        Ok(value)
    }

    fn r_term(&self, col: Col, point: &[EF], coef: EF) -> Result<Option<EqTerm>, ProgramError> {
        if !is_committed(self.plan, col) {
            return Ok(None);
        }
        Ok(Some(EqTerm {
            home: self.home(col),
            z: EF::ONE,
            off: self.loc(col)?,
            point: point.to_vec(),
            coef,
        }))
    }

    /// Receives S = Σ terms as the prover sends it: one value per committed vector (the
    /// trace's always, a hashed tensor's when it has terms); returns their sum.
    fn receive_s(&mut self, terms: Vec<EqTerm>) -> Result<EF, ProgramError> {
        let mut total = EF::ZERO;
        for (home, terms) in batch::terms_by_home(terms, self.linked.len()) {
            if home != 0 && terms.is_empty() {
                continue;
            }
            let value = self.receive()?;
            total += value;
            if terms.is_empty() {
                if value != EF::ZERO {
                    return Err(ProgramError::rejected("mask", "empty mask combination"));
                }
            } else {
                self.claims.push(Claim {
                    eq: terms,
                    sparse: Vec::new(),
                    value,
                });
            }
        }
        Ok(total)
    }

    /// Replays a masked sumcheck; returns its point and the unmasked final value f(s).
    fn masked(
        &mut self,
        vars: usize,
        degree: usize,
        claim: EF,
    ) -> Result<(Vec<EF>, EF), ProgramError> {
        let g = MaskPoly::alloc(&mut self.pool, vars, degree, &[])?;
        self.masked_with(&g, vars, degree, claim)
    }

    /// The masked sumcheck with a mask already allocated.
    fn masked_with(
        &mut self,
        g: &MaskPoly,
        vars: usize,
        degree: usize,
        claim: EF,
    ) -> Result<(Vec<EF>, EF), ProgramError> {
        let big_g = self.read()?;
        self.t.absorb_ext(L_MASK_SUM, &[big_g]);
        let rho = self.t.challenge_ext(L_MASK_RHO);
        let proof = self.reader.sumcheck()?;
        let fin = sumcheck::verify(degree, vars, claim + rho * big_g, proof, self.t)?;
        let gs = self.receive()?;
        self.claims.push(Claim {
            eq: Vec::new(),
            sparse: g.weights(&fin.point),
            value: gs,
        });
        Ok((fin.point, fin.value - rho * gs))
    }

    /// An affine expression of masked column values at (z, point).
    fn affine_at(&self, a: &Affine, len: usize, point: &[EF], at: &[(Col, EF)]) -> EF {
        let mut acc = const_eval(&a.constant, len, point);
        for &(coef, col) in &a.terms {
            let v = at.iter().find(|(c, _)| *c == col).map_or(EF::ZERO, |x| x.1);
            acc += v * coef;
        }
        acc
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
                let s = self.receive_s(terms)?;
                if acc != tz * s {
                    return Err(ProgramError::rejected(node, "entrywise identity"));
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
                let (pt, f) = self.masked(vars + 1, DEG_QUADRATIC, EF::ZERO)?;
                let (tz, s) = (pt[0], &pt[1..]);
                let all: Vec<&Affine> = products
                    .iter()
                    .flat_map(|(a, b)| [a, b])
                    .chain([linear])
                    .collect();
                let mut at = Vec::new();
                for col in affine_cols(all.iter().copied()) {
                    at.push((col, self.claim_col(col, tz, s)?));
                }
                let e = (EF::ONE - tz) * eq_eval(&r, s).unwrap_or(EF::ZERO);
                let mut vals = vec![e];
                for a in all {
                    vals.push(self.affine_at(a, *len, s, &at));
                }
                if quadratic_expr(products.len()).evaluate(&vals) != Some(f) {
                    return Err(ProgramError::rejected(node, "quadratic identity"));
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
                    } else if let Some(x) = self.known(term.col) {
                        let w = term.map.transpose_eq(&e, 1 << in_vars);
                        let u: EF = w
                            .iter()
                            .zip(x)
                            .map(|(a, &b)| *a * crate::field::embed(b))
                            .sum();
                        known += u * coef;
                    } else {
                        let q = self.point(in_vars);
                        let u = self.receive()?;
                        let (pt, f) = self.masked(in_vars + 1, DEG_LINEAR, u)?;
                        let (t2, s) = (pt[0], &pt[1..]);
                        let x = self.claim_col(term.col, t2, s)?;
                        let w = term.map.transpose_eq(&e, 1 << in_vars);
                        let ws = evaluate(&w, s).ok_or(ProgramError::Internal("map table"))?;
                        let a = (EF::ONE - t2) * (EF::ONE - tz) * ws
                            + t2 * tz * eq_eval(&q, s).unwrap_or(EF::ZERO);
                        if a * x != f {
                            return Err(ProgramError::rejected(node, "linear map sumcheck"));
                        }
                        terms.extend(self.r_term(term.col, &q, -coef)?);
                        rel += u * coef;
                    }
                }
                let s = self.receive_s(terms)?;
                if v_out - rel - (EF::ONE - tz) * known != tz * s {
                    return Err(ProgramError::rejected(node, "linear map"));
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
        shape: &ProductShape,
    ) -> Result<(), ProgramError> {
        let bb = num_vars(shape.batch);
        let tz = self.t.challenge_ext(L_T);
        let r = self.point(bb + shape.m + shape.n);
        let q = self.point(bb + shape.k);
        let v_c = self.claim_col(c, tz, &self.lift(c, &r))?;
        let split = ProductSplit::new(shape, &r);
        let mask = if is_committed(self.plan, a) {
            Some(a)
        } else if is_committed(self.plan, b) {
            Some(b)
        } else {
            None
        };
        let u = self.receive()?;
        let (pt, f) = self.masked(1 + bb + shape.k, DEG_PRODUCT, u)?;
        let (t2, s) = (pt[0], &pt[1..]);
        let (pa, pb) = product_points(shape, &split, s);
        let va = self.claim_col(a, t2, &self.lift(a, &pa))?;
        let vb = self.claim_col(b, t2, &self.lift(b, &pb))?;
        let e = (EF::ONE - t2) * (EF::ONE - tz) * eq_eval(&split.rb, &s[..bb]).unwrap_or(EF::ZERO);
        let d = t2 * tz * eq_eval(&q, s).unwrap_or(EF::ZERO);
        let masked_operand = match mask {
            Some(m) if m == a => va,
            Some(_) => vb,
            None => EF::ZERO,
        };
        if e * va * vb + d * masked_operand != f {
            return Err(ProgramError::rejected(node, "matrix product"));
        }
        let mut terms: Vec<EqTerm> = self
            .r_term(c, &self.lift(c, &r), EF::ONE)?
            .into_iter()
            .collect();
        if let Some(m) = mask {
            let (qa, qb) = product_points(shape, &split, &q);
            let qm = if m == a { qa } else { qb };
            terms.extend(self.r_term(m, &self.lift(m, &qm), -EF::ONE)?);
        }
        let s_val = self.receive_s(terms)?;
        if v_c - u != tz * s_val {
            return Err(ProgramError::rejected(node, "matrix product"));
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
        let depth = lookup_depth(self.plan, columns, mult, table.len());
        self.t
            .absorb_u64s(lookup::L_SHAPE, &[n as u64, table.num_columns() as u64]);
        table.absorb(self.t);
        let beta = self.t.challenge_ext(lookup::L_BETA);
        let alpha = self.t.challenge_ext(lookup::L_ALPHA);
        let masks = lookup::allocate(&mut self.pool, depth, &[])?;
        let (mut tz, mut r, mut gamma) = (EF::ZERO, Vec::<EF>::new(), EF::ZERO);
        let mut claim = EF::ZERO;
        for v in 0..=depth {
            let (point, f) = self.masked_with(&masks.g[v], v + 1, DEG_LAYER, claim)?;
            let children = [self.read()?, self.read()?, self.read()?, self.read()?];
            self.t.absorb_ext(lookup::L_CHILDREN, &children);
            let (t2, s) = (point[0], point[1..].to_vec());
            let (eq, lambda) = if v == 0 {
                (EF::ONE, EF::ZERO)
            } else {
                let mut a = vec![tz];
                a.extend_from_slice(&r);
                let eq = eq_eval(&a, &point).ok_or(ProgramError::Internal("layer point"))?;
                let lambda = self.receive()?;
                let eq_terms = lookup::lambda_terms(masks.p[v - 1], masks.q[v - 1], gamma, &s)
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
                    eq: eq_terms,
                    sparse: Vec::new(),
                    value: lambda,
                });
                (eq, lambda)
            };
            if lookup::layer_value(eq, t2, &children, gamma, lambda) != f {
                return Err(ProgramError::rejected(node, "lookup layer"));
            }
            gamma = self.t.challenge_ext(lookup::L_GAMMA);
            let fold = self.t.challenge_ext(lookup::L_FOLD);
            let [p0, p1, q0, q1] = children;
            claim = p0 + fold * (p1 - p0) + gamma * (q0 + fold * (q1 - q0));
            tz = t2;
            r = s;
            r.push(fold);
        }
        let pi = &r[1..];
        let mut col_vals = Vec::new();
        for &c in columns {
            let nv = self.plan.columns[c].vars();
            if nv > pi.len() {
                return Err(ProgramError::Internal("lookup column wider than its tree"));
            }
            let (hi, lo) = pi.split_at(pi.len() - nv);
            col_vals.push(lookup::eq_zero(hi) * self.claim_col(c, tz, lo)?);
        }
        let mv = self.plan.columns[mult].vars();
        if mv > pi.len() {
            return Err(ProgramError::Internal(
                "multiplicities wider than their tree",
            ));
        }
        let (hi, lo) = pi.split_at(pi.len() - mv);
        let m_val = lookup::eq_zero(hi) * self.claim_col(mult, tz, lo)?;
        let leaf = Leaf {
            alpha,
            beta,
            n,
            table,
        };
        let (lp, lq) = leaf.value(&r, &col_vals, m_val)?;
        if lp + gamma * lq != claim {
            return Err(ProgramError::rejected(node, "lookup leaves"));
        }
        Ok(())
    }
}
