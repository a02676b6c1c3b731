//! The proof of a lowered program (see `docs/gkr.md`, "Programs").
//!
//! 1. The prover commits to the trace: every committed column at its place in one vector
//!    (one hiding WHIR commitment), absorbed into a transcript that already holds the statement.
//! 2. Each constraint is reduced to evaluation claims on columns at points drawn from the
//!    transcript: entrywise identities at a random point (Schwartz–Zippel), quadratic ones by a
//!    sumcheck against `eq(r, ·)`, linear maps by a sumcheck against `Mᵀ·eq(r, ·)` (which the
//!    verifier computes itself from the public map).
//! 3. Lookups and the range region are proved by LogUp-GKR, which ends in claims on the looked-up
//!    columns and the multiplicities.
//! 4. Claims on public and fixed columns are evaluated by the verifier. Claims on committed
//!    columns become claims on the trace (a column is a subcube of it), are batched with powers
//!    of a random ρ into one sumcheck, and end in a single WHIR opening.

use p3_field::PrimeCharacteristicRing;
use rand::TryRng;

use super::plan::{Affine, Col, Const, Constraint, Plan, ProductShape, Source};
use super::ProgramError;
use crate::field::{embed, embed_slice, EF, F};
use crate::link::Linked;
use crate::logup::{self, LookupClaim, LookupProof, Table};
use crate::mle::{eq_eval, eq_table, evaluate, evaluate_base, num_vars, prefix_indicator};
use crate::pcs::{OpeningProof, TensorCommitment, TensorPcs};
use crate::sumcheck::{self, Expression, SumcheckProof};
use crate::transcript::Transcript;

/// A proof of one program run.
#[derive(Clone, Debug)]
pub struct ProgramProof {
    /// The trace commitment.
    pub commitment: TensorCommitment,
    /// Claimed evaluations of committed columns (and sums), in protocol order.
    pub evals: Vec<EF>,
    /// Sumcheck proofs, in protocol order (the last one batches the trace claims).
    pub sumchecks: Vec<SumcheckProof>,
    /// One LogUp proof per lookup, then one for the range region (if any).
    pub lookups: Vec<LookupProof>,
    /// Openings of linked commitments named by the statement (hashed input, then output).
    pub linked_openings: Vec<OpeningProof>,
    /// The trace opening at the batched point.
    pub opening: OpeningProof,
}

/// An evaluation claim on a committed column.
struct Claim {
    col: Col,
    point: Vec<EF>,
    value: EF,
}

const L_TRACE: &[u8] = b"gkr/program/trace";
const L_POINT: &[u8] = b"gkr/program/point";
const L_EVAL: &[u8] = b"gkr/program/eval";
const L_BATCH: &[u8] = b"gkr/program/batch";

pub(super) fn eval_ints(v: &[i64], point: &[EF]) -> EF {
    let f: Vec<F> = v.iter().map(|&x| embed(x)).collect();
    evaluate_base(&f, point).unwrap_or(EF::ZERO)
}

pub(super) fn const_eval(c: &Const, len: usize, point: &[EF]) -> EF {
    match c {
        Const::None => EF::ZERO,
        Const::Scalar(k) => prefix_indicator(len, point).map_or(EF::ZERO, |s| s * *k),
        Const::Vector(v) => eval_ints(v, point),
    }
}

/// `Σ coef·col + constant` as a table of 2^vars entries.
pub(super) fn affine_table(a: &Affine, len: usize, vars: usize, values: &[Vec<i64>]) -> Vec<EF> {
    let mut t = vec![EF::ZERO; 1 << vars];
    match &a.constant {
        Const::None => {}
        Const::Scalar(k) => t[..len].iter_mut().for_each(|x| *x = EF::from(*k)),
        Const::Vector(v) => t
            .iter_mut()
            .zip(v.iter())
            .for_each(|(x, &c)| *x = embed(c).into()),
    }
    for &(coef, col) in &a.terms {
        for (x, &v) in t.iter_mut().zip(&values[col]) {
            *x += EF::from(coef * embed(v));
        }
    }
    t
}

/// The columns of an affine expression with their summed coefficients, in first-appearance
/// order.
pub(super) fn summed_terms(a: &Affine) -> Vec<(Col, F)> {
    affine_cols([a])
        .into_iter()
        .map(|col| {
            let coef = a.terms.iter().filter(|t| t.1 == col).map(|t| t.0).sum();
            (col, coef)
        })
        .collect()
}

/// Columns of the affine expressions, in first-appearance order, without repeats.
pub(super) fn affine_cols<'a>(affines: impl IntoIterator<Item = &'a Affine>) -> Vec<Col> {
    let mut cols = Vec::new();
    for a in affines {
        for &(_, c) in &a.terms {
            if !cols.contains(&c) {
                cols.push(c);
            }
        }
    }
    cols
}

pub(super) fn quadratic_expr(products: usize) -> Expression {
    // Polys: eq, A_0, B_0, …, A_{k-1}, B_{k-1}, L.
    let mut terms: Vec<(EF, Vec<usize>)> = (0..products)
        .map(|j| (EF::ONE, vec![0, 1 + 2 * j, 2 + 2 * j]))
        .collect();
    terms.push((EF::ONE, vec![0, 1 + 2 * products]));
    Expression {
        num_polys: 2 + 2 * products,
        terms,
    }
}

/// Σ_x P_0(x)·P_1(x)·P_2(x).
pub(super) fn product3() -> Expression {
    Expression {
        num_polys: 3,
        terms: vec![(EF::ONE, vec![0, 1, 2])],
    }
}

/// The output point of a product split into batch, row and column parts.
pub(super) struct ProductSplit {
    pub rb: Vec<EF>,
    pub ri: Vec<EF>,
    pub rj: Vec<EF>,
}

impl ProductSplit {
    pub(super) fn new(shape: &ProductShape, r: &[EF]) -> Self {
        let bb = num_vars(shape.batch);
        ProductSplit {
            rb: r[..bb].to_vec(),
            ri: r[bb..bb + shape.m].to_vec(),
            rj: r[bb + shape.m..].to_vec(),
        }
    }
}

/// The points where the sumcheck over (batch, t) leaves claims on a and b.
pub(super) fn product_points(
    shape: &ProductShape,
    split: &ProductSplit,
    s: &[EF],
) -> (Vec<EF>, Vec<EF>) {
    let bb = num_vars(shape.batch);
    let (sb, st) = s.split_at(bb.min(s.len()));
    let mut pa = Vec::new();
    if shape.a_batched {
        pa.extend_from_slice(sb);
    }
    pa.extend_from_slice(&split.ri);
    pa.extend_from_slice(st);
    let mut pb = Vec::new();
    if shape.b_batched {
        pb.extend_from_slice(sb);
    }
    pb.extend_from_slice(st);
    pb.extend_from_slice(&split.rj);
    (pa, pb)
}

/// The prover's tables over (batch, t): eq(r_b, ·), a(·, r_i, ·), b(·, ·, r_j); an unbatched
/// operand is repeated over the batch (its extension does not depend on the batch variables).
pub(super) fn product_tables(
    shape: &ProductShape,
    r: &[EF],
    a: &[F],
    b: &[F],
) -> (Vec<Vec<EF>>, ProductSplit) {
    let split = ProductSplit::new(shape, r);
    let (m, k, n) = (1usize << shape.m, 1usize << shape.k, 1usize << shape.n);
    let nb = 1usize << split.rb.len();
    let (eb, ei, ej) = (
        eq_table(&split.rb),
        eq_table(&split.ri),
        eq_table(&split.rj),
    );
    let mut e = vec![EF::ZERO; nb * k];
    let mut af = vec![EF::ZERO; nb * k];
    let mut bf = vec![EF::ZERO; nb * k];
    let get = |v: &[F], i: usize| v.get(i).copied().unwrap_or(F::ZERO);
    for bt in 0..nb {
        let ab = if shape.a_batched { bt * m * k } else { 0 };
        let bbase = if shape.b_batched { bt * k * n } else { 0 };
        for t in 0..k {
            e[bt * k + t] = eb[bt];
            let mut acc = EF::ZERO;
            for (i, &w) in ei.iter().enumerate() {
                acc += w * get(a, ab + i * k + t);
            }
            af[bt * k + t] = acc;
            let mut acc = EF::ZERO;
            for (j, &w) in ej.iter().enumerate() {
                acc += w * get(b, bbase + t * n + j);
            }
            bf[bt * k + t] = acc;
        }
    }
    (vec![e, af, bf], split)
}

/// Both sides' access to column values and messages.
trait Side {
    fn transcript(&mut self) -> &mut Transcript;
    /// Values of a public or fixed column.
    fn known(&self, col: Col) -> Option<&[i64]>;
    /// The prover computes and sends a committed column's evaluation; the verifier reads it.
    fn exchange(&mut self, col: Col, point: &[EF]) -> Result<EF, ProgramError>;
    fn claims(&mut self) -> &mut Vec<Claim>;

    /// The column's value at `point`: computed from known values, or exchanged and recorded
    /// as a claim on the trace.
    fn value(&mut self, col: Col, point: &[EF]) -> Result<EF, ProgramError> {
        if let Some(v) = self.known(col) {
            return Ok(eval_ints(v, point));
        }
        let v = self.exchange(col, point)?;
        self.transcript().absorb_ext(L_EVAL, &[v]);
        self.claims().push(Claim {
            col,
            point: point.to_vec(),
            value: v,
        });
        Ok(v)
    }

    fn affine_value(&mut self, a: &Affine, len: usize, point: &[EF]) -> Result<EF, ProgramError> {
        let mut acc = const_eval(&a.constant, len, point);
        for &(coef, col) in &a.terms {
            acc += self.value(col, point)? * coef;
        }
        Ok(acc)
    }

    fn point(&mut self, vars: usize) -> Vec<EF> {
        self.transcript().challenges_ext(L_POINT, vars)
    }
}

// ----- prover ------------------------------------------------------------------------------

struct Prover<'a> {
    plan: &'a Plan,
    /// Refuse to prove a false statement (off only for soundness tests).
    strict: bool,
    values: Vec<Vec<i64>>,
    t: &'a mut Transcript,
    claims: Vec<Claim>,
    evals: Vec<EF>,
    sumchecks: Vec<SumcheckProof>,
}

impl Side for Prover<'_> {
    fn transcript(&mut self) -> &mut Transcript {
        self.t
    }
    fn known(&self, col: Col) -> Option<&[i64]> {
        match self.plan.columns[col].source {
            Source::Committed | Source::Fused => None,
            _ => Some(&self.values[col]),
        }
    }
    fn exchange(&mut self, col: Col, point: &[EF]) -> Result<EF, ProgramError> {
        let v = eval_ints(&self.values[col], point);
        self.evals.push(v);
        Ok(v)
    }
    fn claims(&mut self) -> &mut Vec<Claim> {
        &mut self.claims
    }
}

impl Prover<'_> {
    fn send(&mut self, v: EF) {
        self.evals.push(v);
        self.t.absorb_ext(L_EVAL, &[v]);
    }

    fn ext_values(&self, col: Col, vars: usize) -> Vec<EF> {
        let mut t = vec![EF::ZERO; 1 << vars];
        for (x, &v) in t.iter_mut().zip(&self.values[col]) {
            *x = embed(v).into();
        }
        t
    }

    fn constraint(&mut self, c: &Constraint) -> Result<(), ProgramError> {
        match c {
            Constraint::Zero { node, len, expr } => {
                let r = self.point(num_vars(*len));
                if self.affine_value(expr, *len, &r)? != EF::ZERO && self.strict {
                    return Err(ProgramError::witness(node, "an entrywise identity fails"));
                }
            }
            Constraint::Quadratic {
                node,
                len,
                products,
                linear,
            } => {
                let vars = num_vars(*len);
                let r = self.point(vars);
                let mut tables = vec![eq_table(&r)];
                for (a, b) in products {
                    tables.push(affine_table(a, *len, vars, &self.values));
                    tables.push(affine_table(b, *len, vars, &self.values));
                }
                tables.push(affine_table(linear, *len, vars, &self.values));
                let expr = quadratic_expr(products.len());
                let out = sumcheck::prove(&expr, tables, EF::ZERO, self.t)?;
                let all = products.iter().flat_map(|(a, b)| [a, b]).chain([linear]);
                for col in affine_cols(all) {
                    let _ = self.value(col, &out.point)?;
                }
                if proven_sum(&expr, &out) != Some(EF::ZERO) && self.strict {
                    return Err(ProgramError::witness(node, "a quadratic identity fails"));
                }
                self.sumchecks.push(out.proof);
            }
            Constraint::Product {
                node,
                a,
                b,
                c,
                shape,
            } => {
                let bb = num_vars(shape.batch);
                let r = self.point(bb + shape.m + shape.n);
                let claimed = self.value(*c, &r)?;
                let (tables, split) = product_tables(
                    shape,
                    &r,
                    &embed_slice(&self.values[*a]),
                    &embed_slice(&self.values[*b]),
                );
                let expr = product3();
                let out = sumcheck::prove(&expr, tables, claimed, self.t)?;
                if proven_sum(&expr, &out) != Some(claimed) && self.strict {
                    return Err(ProgramError::witness(node, "a matrix product differs"));
                }
                let (pa, pb) = product_points(shape, &split, &out.point);
                let _ = self.value(*a, &pa)?;
                let _ = self.value(*b, &pb)?;
                self.sumchecks.push(out.proof);
            }
            Constraint::Linear {
                node,
                out,
                inputs,
                constant,
            } => {
                let len = self.plan.columns[*out].len;
                let r = self.point(num_vars(len));
                let claimed = self.value(*out, &r)?;
                let e = eq_table(&r);
                let mut acc = constant.as_ref().map_or(EF::ZERO, |c| eval_ints(c, &r));
                for term in inputs {
                    let in_vars = self.plan.columns[term.col].vars();
                    let u = if term.map.is_identity() {
                        self.value(term.col, &r)?
                    } else {
                        let w = term.map.transpose_eq(&e, 1 << in_vars);
                        let x = self.ext_values(term.col, in_vars);
                        let u: EF = w.iter().zip(&x).map(|(a, b)| *a * *b).sum();
                        // For known inputs the verifier computes u itself.
                        if self.known(term.col).is_none() {
                            self.send(u);
                            let out =
                                sumcheck::prove(&Expression::product2(), vec![w, x], u, self.t)?;
                            let _ = self.value(term.col, &out.point)?;
                            self.sumchecks.push(out.proof);
                        }
                        u
                    };
                    acc += u * term.coef;
                }
                if acc != claimed && self.strict {
                    return Err(ProgramError::witness(
                        node,
                        "a linear map gives other values",
                    ));
                }
            }
        }
        Ok(())
    }

    fn lookup(
        &mut self,
        table: &Table,
        columns: &[Col],
        multiplicities: Col,
    ) -> Result<LookupProof, ProgramError> {
        let m: Vec<u64> = self.values[multiplicities]
            .iter()
            .map(|&v| v as u64)
            .collect();
        let cols: Vec<Vec<i64>> = columns.iter().map(|&c| self.values[c].clone()).collect();
        let claim = LookupClaim {
            table,
            columns: cols.iter().map(Vec::as_slice).collect(),
            multiplicities: &m,
        };
        let (proof, openings) = logup::prove_bound_with_openings(self.t, &claim)?;
        for (&c, &v) in columns.iter().zip(&openings.column_evals) {
            self.record(c, &openings.lookup_point, v);
        }
        self.record(
            multiplicities,
            &openings.table_point,
            openings.multiplicity_eval,
        );
        Ok(proof)
    }

    fn record(&mut self, col: Col, point: &[EF], value: EF) {
        if self.known(col).is_none() {
            self.claims.push(Claim {
                col,
                point: point.to_vec(),
                value,
            });
        }
    }
}

/// The sum a sumcheck's rounds actually prove: g(0) + g(1) of the first round, or the
/// expression itself without variables.
fn proven_sum(expr: &Expression, out: &sumcheck::ProverOutput) -> Option<EF> {
    match out.proof.rounds.first() {
        Some(g) => Some(*g.first()? + *g.get(1)?),
        None => expr.evaluate(&out.evals),
    }
}

/// Proves a run: `tensors` holds every IR tensor's values (the interpreter's trace). The
/// transcript must already hold the statement.
pub fn prove(
    plan: &Plan,
    tensors: &[Vec<i64>],
    t: &mut Transcript,
) -> Result<ProgramProof, ProgramError> {
    let values = super::witness::column_values(plan, tensors)?;
    prove_columns(plan, values, Vec::new(), t, true)
}

/// [`prove`] for plans with hashed tensors: `linked` holds their commitments
/// ([`crate::link::commit`], input first, then output), each rebuilt from the tensor and its
/// secret; the statement must name them in the same order.
pub fn prove_linked(
    plan: &Plan,
    tensors: &[Vec<i64>],
    linked: Vec<Linked>,
    t: &mut Transcript,
) -> Result<ProgramProof, ProgramError> {
    let values = super::witness::column_values(plan, tensors)?;
    prove_columns(plan, values, linked, t, true)
}

/// Proves from given column values without the prover's own consistency checks, as a
/// cheating prover would: for soundness tests, which tamper with single columns.
#[doc(hidden)]
pub fn prove_columns_unchecked(
    plan: &Plan,
    values: Vec<Vec<i64>>,
    linked: Vec<Linked>,
    t: &mut Transcript,
) -> Result<ProgramProof, ProgramError> {
    prove_columns(plan, values, linked, t, false)
}

fn prove_columns(
    plan: &Plan,
    values: Vec<Vec<i64>>,
    linked: Vec<Linked>,
    t: &mut Transcript,
    strict: bool,
) -> Result<ProgramProof, ProgramError> {
    if plan.zk {
        return super::zk::prove_columns(plan, values, linked, t, strict);
    }
    if !linked.is_empty() {
        return Err(ProgramError::Statement(
            "linked commitments go with hashed tensors".into(),
        ));
    }
    let trace = trace_vector(plan, &values);
    let pcs = TensorPcs::new(plan.trace_vars)?;
    let mut seed = [0u8; 32];
    rand::rngs::SysRng
        .try_fill_bytes(&mut seed)
        .map_err(|e| ProgramError::Randomness(e.to_string()))?;
    let (commitment, data) = pcs.commit(&trace, seed)?;
    // Rebuilt at the end: the commitment keeps its own copy meanwhile.
    drop(trace);
    commitment.absorb(t, L_TRACE);
    let mut p = Prover {
        plan,
        strict,
        values,
        t,
        claims: Vec::new(),
        evals: Vec::new(),
        sumchecks: Vec::new(),
    };
    for c in &plan.constraints {
        p.constraint(c)?;
    }
    let mut lookups = Vec::new();
    for l in &plan.lookups {
        lookups.push(p.lookup(&l.table, &[l.x, l.y], l.multiplicities)?);
    }
    for r in &plan.ranges {
        lookups.push(p.lookup(&Table::range(r.bits), &[r.region], r.multiplicities)?);
    }
    // Batch every trace claim into one: each adds ρ^j·eq(point, ·) on its column's subcube.
    let rho = p.t.challenge_ext(L_BATCH);
    let mut w = vec![EF::ZERO; 1 << plan.trace_vars];
    let (mut total, mut power) = (EF::ZERO, EF::ONE);
    for c in &p.claims {
        let loc = plan.columns[c.col]
            .loc
            .ok_or(ProgramError::Internal("claim on an unplaced column"))?;
        if c.point.len() != loc.vars {
            return Err(ProgramError::Internal(
                "claim arity differs from its column",
            ));
        }
        for (x, e) in w[loc.offset..].iter_mut().zip(eq_table(&c.point)) {
            *x += e * power;
        }
        total += c.value * power;
        power *= rho;
    }
    // The column values are no longer needed once the trace is rebuilt.
    let trace = trace_vector(plan, &std::mem::take(&mut p.values));
    let mut batch = BatchProver::new(plan.trace_vars, w, trace);
    let (proof, point) = sumcheck::prove_with(&mut batch, total, p.t);
    let trace_at = batch.final_value();
    drop(batch);
    p.send(trace_at);
    p.sumchecks.push(proof);
    let opening = pcs.open(&commitment, data, &[point], p.t)?;
    Ok(ProgramProof {
        commitment,
        evals: p.evals,
        sumchecks: p.sumchecks,
        lookups,
        linked_openings: Vec::new(),
        opening,
    })
}

/// The trace: every committed column at its place (limbs through their regions).
fn trace_vector(plan: &Plan, values: &[Vec<i64>]) -> Vec<F> {
    let mut trace = vec![F::ZERO; 1 << plan.trace_vars];
    for (c, col) in plan.columns.iter().enumerate() {
        if let (Source::Committed, Some(loc), false) = (&col.source, col.loc, col.region.is_some())
        {
            for (x, &v) in trace[loc.offset..].iter_mut().zip(&values[c]) {
                *x = embed(v);
            }
        }
    }
    trace
}

/// The batching sumcheck Σ_x W(x)·T(x) over the whole trace, keeping T in the base field
/// until the first challenge (an extension-field copy of the trace would take 3x its memory).
pub(super) struct BatchProver {
    vars: usize,
    w: Vec<EF>,
    base: Option<Vec<F>>,
    t: Vec<EF>,
}

impl BatchProver {
    pub(super) fn new(vars: usize, w: Vec<EF>, base: Vec<F>) -> Self {
        BatchProver {
            vars,
            w,
            base: Some(base),
            t: Vec::new(),
        }
    }

    /// T at the bound point, once every variable is bound.
    pub(super) fn final_value(&self) -> EF {
        self.t.first().copied().unwrap_or(EF::ZERO)
    }
}

impl sumcheck::RoundProver for BatchProver {
    fn degree(&self) -> usize {
        2
    }
    fn num_vars(&self) -> usize {
        self.vars
    }
    fn round(&mut self, _claim: EF) -> Vec<EF> {
        use rayon::prelude::*;
        let half = self.w.len() / 2;
        let (wl, wh) = self.w.split_at(half);
        let sum = |a: [EF; 3], b: [EF; 3]| [a[0] + b[0], a[1] + b[1], a[2] + b[2]];
        let term = |w0: EF, w1: EF, t0: EF, t1: EF| {
            [w0 * t0, w1 * t1, (w1.double() - w0) * (t1.double() - t0)]
        };
        let g = match &self.base {
            Some(b) => {
                let (tl, th) = b.split_at(half);
                (0..half)
                    .into_par_iter()
                    .map(|i| term(wl[i], wh[i], tl[i].into(), th[i].into()))
                    .reduce(|| [EF::ZERO; 3], sum)
            }
            None => {
                let (tl, th) = self.t.split_at(half);
                (0..half)
                    .into_par_iter()
                    .map(|i| term(wl[i], wh[i], tl[i], th[i]))
                    .reduce(|| [EF::ZERO; 3], sum)
            }
        };
        g.to_vec()
    }
    fn bind(&mut self, r: EF) {
        use rayon::prelude::*;
        self.w = crate::mle::fold(&self.w, r);
        self.t = match self.base.take() {
            Some(b) => {
                let (lo, hi) = b.split_at(b.len() / 2);
                lo.par_iter()
                    .zip(hi)
                    .map(|(&l, &h)| EF::from(l) + r * EF::from(h - l))
                    .collect()
            }
            None => crate::mle::fold(&self.t, r),
        };
        self.vars -= 1;
    }
}

/// Each claim's point on the whole trace: the column's place (most significant bits) then the
/// claim's point.
fn trace_points(plan: &Plan, claims: &[Claim]) -> Result<Vec<Vec<EF>>, ProgramError> {
    claims
        .iter()
        .map(|c| {
            let loc = plan.columns[c.col]
                .loc
                .ok_or(ProgramError::Internal("claim on an unplaced column"))?;
            if c.point.len() != loc.vars {
                return Err(ProgramError::Internal(
                    "claim arity differs from its column",
                ));
            }
            let high = plan.trace_vars - loc.vars;
            let slot = loc.offset >> loc.vars;
            let mut p: Vec<EF> = (0..high)
                .map(|i| {
                    if (slot >> (high - 1 - i)) & 1 == 1 {
                        EF::ONE
                    } else {
                        EF::ZERO
                    }
                })
                .collect();
            p.extend_from_slice(&c.point);
            Ok(p)
        })
        .collect()
}

// ----- verifier ----------------------------------------------------------------------------

/// Reads a proof's evaluations and sumchecks in order (both verifiers use it).
pub(super) struct ProofReader<'a> {
    proof: &'a ProgramProof,
    next_eval: usize,
    next_sumcheck: usize,
}

impl<'a> ProofReader<'a> {
    pub(super) fn new(proof: &'a ProgramProof) -> Self {
        ProofReader {
            proof,
            next_eval: 0,
            next_sumcheck: 0,
        }
    }

    /// The next evaluation.
    pub(super) fn eval(&mut self) -> Result<EF, ProgramError> {
        let v = *self
            .proof
            .evals
            .get(self.next_eval)
            .ok_or(ProgramError::Malformed("too few evaluations"))?;
        self.next_eval += 1;
        Ok(v)
    }

    /// The next sumcheck proof.
    pub(super) fn sumcheck(&mut self) -> Result<&'a SumcheckProof, ProgramError> {
        let p = self
            .proof
            .sumchecks
            .get(self.next_sumcheck)
            .ok_or(ProgramError::Malformed("too few sumchecks"))?;
        self.next_sumcheck += 1;
        Ok(p)
    }

    /// Refuses proofs with evaluations or sumchecks left over.
    pub(super) fn finish(&self) -> Result<(), ProgramError> {
        if self.next_eval != self.proof.evals.len()
            || self.next_sumcheck != self.proof.sumchecks.len()
        {
            return Err(ProgramError::Malformed("unused proof elements"));
        }
        Ok(())
    }
}

/// Checks that every public column has its values, of the right length.
fn check_public(plan: &Plan, public: &[Option<Vec<i64>>]) -> Result<(), ProgramError> {
    for (c, col) in plan.columns.iter().enumerate() {
        if let Source::Public(id) = col.source {
            let ok = public
                .get(id.index())
                .and_then(|v| v.as_ref())
                .map(Vec::len);
            if ok != Some(col.len) {
                return Err(ProgramError::Statement(format!(
                    "public tensor {} (column {c}) is missing or has the wrong length",
                    col.name
                )));
            }
        }
    }
    for &(c, lo, hi) in &plan.public_ranges {
        let Source::Public(id) = plan.columns[c].source else {
            continue;
        };
        let values = public
            .get(id.index())
            .and_then(|v| v.as_deref())
            .unwrap_or(&[]);
        if let Some((i, v)) = values
            .iter()
            .enumerate()
            .find(|&(_, v)| !(lo..=hi).contains(v))
        {
            return Err(ProgramError::Statement(format!(
                "public tensor {} entry {i} is {v}, outside its declared range [{lo}, {hi}]",
                plan.columns[c].name
            )));
        }
    }
    Ok(())
}

struct Verifier<'a> {
    plan: &'a Plan,
    public: &'a [Option<Vec<i64>>],
    proof: &'a ProgramProof,
    t: &'a mut Transcript,
    claims: Vec<Claim>,
    reader: ProofReader<'a>,
}

impl Side for Verifier<'_> {
    fn transcript(&mut self) -> &mut Transcript {
        self.t
    }
    fn known(&self, col: Col) -> Option<&[i64]> {
        match &self.plan.columns[col].source {
            Source::Committed | Source::Fused => None,
            Source::Fixed(v) => Some(v),
            Source::Public(id) => self.public.get(id.index())?.as_deref(),
        }
    }
    fn exchange(&mut self, _col: Col, _point: &[EF]) -> Result<EF, ProgramError> {
        self.read()
    }
    fn claims(&mut self) -> &mut Vec<Claim> {
        &mut self.claims
    }
}

impl Verifier<'_> {
    fn read(&mut self) -> Result<EF, ProgramError> {
        self.reader.eval()
    }

    fn receive(&mut self) -> Result<EF, ProgramError> {
        let v = self.read()?;
        self.t.absorb_ext(L_EVAL, &[v]);
        Ok(v)
    }

    fn sumcheck(
        &mut self,
        degree: usize,
        vars: usize,
        claim: EF,
    ) -> Result<sumcheck::FinalClaim, ProgramError> {
        let proof = self.reader.sumcheck()?;
        Ok(sumcheck::verify(degree, vars, claim, proof, self.t)?)
    }

    fn known_ext(&self, col: Col, vars: usize) -> Option<Vec<EF>> {
        let v = self.known(col)?;
        let mut t = vec![EF::ZERO; 1 << vars];
        for (x, &y) in t.iter_mut().zip(v) {
            *x = embed(y).into();
        }
        Some(t)
    }

    fn constraint(&mut self, c: &Constraint) -> Result<(), ProgramError> {
        match c {
            Constraint::Zero { node, len, expr } => {
                let r = self.point(num_vars(*len));
                if self.affine_value(expr, *len, &r)? != EF::ZERO {
                    return Err(ProgramError::rejected(node, "entrywise identity"));
                }
            }
            Constraint::Quadratic {
                node,
                len,
                products,
                linear,
            } => {
                let vars = num_vars(*len);
                let r = self.point(vars);
                let expr = quadratic_expr(products.len());
                let fin = self.sumcheck(expr.degree(), vars, EF::ZERO)?;
                let mut vals = vec![eq_eval(&r, &fin.point).unwrap_or(EF::ZERO)];
                let all: Vec<&Affine> = products
                    .iter()
                    .flat_map(|(a, b)| [a, b])
                    .chain([linear])
                    .collect();
                // Evaluations arrive once per column, in first-appearance order.
                let mut at = Vec::new();
                for col in affine_cols(all.iter().copied()) {
                    at.push((col, self.value(col, &fin.point)?));
                }
                for a in all {
                    let mut acc = const_eval(&a.constant, *len, &fin.point);
                    for &(coef, col) in &a.terms {
                        let v = at.iter().find(|(c, _)| *c == col).map_or(EF::ZERO, |x| x.1);
                        acc += v * coef;
                    }
                    vals.push(acc);
                }
                if expr.evaluate(&vals) != Some(fin.value) {
                    return Err(ProgramError::rejected(node, "quadratic identity"));
                }
            }
            Constraint::Product {
                node,
                a,
                b,
                c,
                shape,
            } => {
                let bb = num_vars(shape.batch);
                let r = self.point(bb + shape.m + shape.n);
                let claimed = self.value(*c, &r)?;
                let split = ProductSplit::new(shape, &r);
                let fin = self.sumcheck(3, bb + shape.k, claimed)?;
                let (pa, pb) = product_points(shape, &split, &fin.point);
                let va = self.value(*a, &pa)?;
                let vb = self.value(*b, &pb)?;
                let e = eq_eval(&split.rb, &fin.point[..bb]).unwrap_or(EF::ZERO);
                if e * va * vb != fin.value {
                    return Err(ProgramError::rejected(node, "matrix product"));
                }
            }
            Constraint::Linear {
                node,
                out,
                inputs,
                constant,
            } => {
                let len = self.plan.columns[*out].len;
                let r = self.point(num_vars(len));
                let claimed = self.value(*out, &r)?;
                let e = eq_table(&r);
                let mut acc = constant.as_ref().map_or(EF::ZERO, |c| eval_ints(c, &r));
                for term in inputs {
                    let in_vars = self.plan.columns[term.col].vars();
                    let u = if term.map.is_identity() {
                        self.value(term.col, &r)?
                    } else if let Some(x) = self.known_ext(term.col, in_vars) {
                        let w = term.map.transpose_eq(&e, 1 << in_vars);
                        w.iter().zip(&x).map(|(a, b)| *a * *b).sum()
                    } else {
                        let u = self.receive()?;
                        let fin = self.sumcheck(2, in_vars, u)?;
                        let x = self.value(term.col, &fin.point)?;
                        let w = term.map.transpose_eq(&e, 1 << in_vars);
                        let ws = evaluate(&w, &fin.point)
                            .ok_or(ProgramError::Internal("map table length"))?;
                        if ws * x != fin.value {
                            return Err(ProgramError::rejected(node, "linear map sumcheck"));
                        }
                        u
                    };
                    acc += u * term.coef;
                }
                if acc != claimed {
                    return Err(ProgramError::rejected(node, "linear map"));
                }
            }
        }
        Ok(())
    }

    fn lookup(
        &mut self,
        node: &str,
        table: &Table,
        columns: &[Col],
        multiplicities: Col,
        index: usize,
    ) -> Result<(), ProgramError> {
        let proof = self
            .proof
            .lookups
            .get(index)
            .ok_or(ProgramError::Malformed("too few lookup proofs"))?;
        let n = self.plan.columns[columns[0]].len;
        let openings = logup::verify_bound(self.t, table, n, proof)?;
        if openings.column_evals.len() != columns.len() {
            return Err(ProgramError::Malformed("lookup column count"));
        }
        for (&c, &v) in columns.iter().zip(&openings.column_evals) {
            self.check_or_claim(node, c, &openings.lookup_point, v)?;
        }
        self.check_or_claim(
            node,
            multiplicities,
            &openings.table_point,
            openings.multiplicity_eval,
        )
    }

    fn check_or_claim(
        &mut self,
        node: &str,
        col: Col,
        point: &[EF],
        value: EF,
    ) -> Result<(), ProgramError> {
        if self.plan.columns[col].vars() != point.len() {
            return Err(ProgramError::Malformed("lookup point arity"));
        }
        match self.known(col) {
            Some(v) if eval_ints(v, point) != value => {
                Err(ProgramError::rejected(node, "lookup column opening"))
            }
            Some(_) => Ok(()),
            None => {
                self.claims.push(Claim {
                    col,
                    point: point.to_vec(),
                    value,
                });
                Ok(())
            }
        }
    }
}

/// Verifies a proof of `plan` against the public tensors (`public[tensor id]`, `Some` for
/// every program input and output). The transcript must already hold the statement. Never
/// panics on hostile proofs.
pub fn verify(
    plan: &Plan,
    public: &[Option<Vec<i64>>],
    proof: &ProgramProof,
    t: &mut Transcript,
) -> Result<(), ProgramError> {
    verify_linked(plan, public, &[], proof, t)
}

/// [`verify`] for plans with hashed tensors: `linked` holds their commitments from the
/// statement (input first, then output).
pub fn verify_linked(
    plan: &Plan,
    public: &[Option<Vec<i64>>],
    linked: &[TensorCommitment],
    proof: &ProgramProof,
    t: &mut Transcript,
) -> Result<(), ProgramError> {
    check_public(plan, public)?;
    if plan.zk {
        return super::zk::verify(plan, public, linked, proof, t);
    }
    if !linked.is_empty() || !proof.linked_openings.is_empty() {
        return Err(ProgramError::Statement(
            "linked commitments go with hashed tensors".into(),
        ));
    }
    let pcs = TensorPcs::new(plan.trace_vars)?;
    proof.commitment.absorb(t, L_TRACE);
    let mut v = Verifier {
        plan,
        public,
        proof,
        t,
        claims: Vec::new(),
        reader: ProofReader::new(proof),
    };
    for c in &plan.constraints {
        v.constraint(c)?;
    }
    for (i, l) in plan.lookups.iter().enumerate() {
        v.lookup(&l.node, &l.table, &[l.x, l.y], l.multiplicities, i)?;
    }
    for (k, r) in plan.ranges.iter().enumerate() {
        let i = plan.lookups.len() + k;
        v.lookup(
            "range checks",
            &Table::range(r.bits),
            &[r.region],
            r.multiplicities,
            i,
        )?;
    }
    if proof.lookups.len() != plan.lookups.len() + plan.ranges.len() {
        return Err(ProgramError::Malformed("lookup proof count"));
    }
    let points = trace_points(plan, &v.claims)?;
    let rho = v.t.challenge_ext(L_BATCH);
    let (mut total, mut power) = (EF::ZERO, EF::ONE);
    let mut weights = Vec::with_capacity(points.len());
    for c in &v.claims {
        total += c.value * power;
        weights.push(power);
        power *= rho;
    }
    let fin = v.sumcheck(2, plan.trace_vars, total)?;
    let trace_at = v.receive()?;
    let mut w_at = EF::ZERO;
    for (p, k) in points.iter().zip(weights) {
        w_at += eq_eval(p, &fin.point).ok_or(ProgramError::Internal("point arity"))? * k;
    }
    if w_at * trace_at != fin.value {
        return Err(ProgramError::rejected("trace", "batched claims"));
    }
    v.reader.finish()?;
    let opened = pcs.verify(&proof.commitment, &[fin.point], &proof.opening, v.t)?;
    if opened.as_slice() != [trace_at] {
        return Err(ProgramError::rejected("trace", "commitment opening"));
    }
    Ok(())
}
