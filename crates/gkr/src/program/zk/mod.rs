//! Zero-knowledge proofs of programs with hidden tensors (`docs/gkr.md`, "Zero knowledge").
//!
//! Same constraints as the public protocol ([`super::protocol`]), proved so that the proof
//! reveals nothing about committed columns beyond what the public values imply:
//! - the commitment holds `T = [W ; R]`: the witness half (trace columns and a pool of mask
//!   blocks) and a uniformly random half R; every committed column c has the masked extension
//!   `ĉ(z, x) = (1 − z)·c(x) + z·R_c(x)`, equal to c on the hypercube (z = 0) and hidden by R
//!   at every point the protocol opens (z random);
//! - every sumcheck runs over (z, x) with the z = 1 half either switched off by a selector or
//!   carrying a mask term, and its rounds are masked by a random polynomial from the pool
//!   ([`mask`]);
//! - a sum the verifier must not see (a linear map's `⟨w, in⟩`, a matrix product) is proved
//!   as a masked sum `(1 − t)·u + t·R(q)`, and the relation between masked values is checked
//!   with the matching combination S of R-values (itself a claim);
//! - LogUp-GKR runs on masked layers: layer ℓ̂(z, x) = (1 − z)·ℓ(x) + z·Λ(x), Λ a small random
//!   block, so every layer value the verifier sees is hidden;
//! - all claims end in one masked batch ([`batch`]) and one HVZK-WHIR opening.

mod batch;
mod lookup;
mod mask;
mod prover;
mod verifier;

use super::plan::{Constraint, Lookup, Plan, Source};
use super::PlanError;
use crate::field::F;
use crate::mle::num_vars;
use batch::Shape;
use mask::{MaskPoly, Pool};

pub(crate) use prover::prove_columns;
pub(crate) use verifier::verify;

/// Variables of a LogUp layer's mask block (at most; a layer of v variables uses min(v, 2)).
const LAYER_MASK_VARS: usize = 2;

/// Round degrees of the masked sumchecks.
const DEG_LINEAR: usize = 2;
const DEG_QUADRATIC: usize = 3;
const DEG_PRODUCT: usize = 3;
const DEG_LAYER: usize = 4;

/// Where everything sits in the committed vector.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Layout {
    pub shape: Shape,
    pub pool_start: usize,
    pub pool_cap: usize,
}

impl Layout {
    pub fn new(plan: &Plan) -> Result<Self, PlanError> {
        let used = plan
            .columns
            .iter()
            .filter_map(|c| c.loc)
            .map(|l| l.offset + (1usize << l.vars))
            .max()
            .unwrap_or(0);
        let mut dry = Pool::new(0, usize::MAX / 4);
        allocate_all(plan, &mut dry).map_err(|_| PlanError::TooWide {
            node: "zero-knowledge masks".into(),
            op: "mask pool",
            bound: 0,
        })?;
        let cap = dry.used().max(1);
        let size = 1usize << num_vars(cap);
        let pool_start = used.div_ceil(size) * size;
        let lower = num_vars(pool_start + size)
            .max(plan.trace_vars)
            .max(crate::pcs::MIN_NUM_VARS);
        let vars = lower + 1;
        if vars > crate::pcs::MAX_NUM_VARS {
            return Err(PlanError::TooWide {
                node: "trace".into(),
                op: "zero-knowledge commitment (twice the trace)",
                bound: (1i128) << vars,
            });
        }
        Ok(Layout {
            shape: Shape { vars },
            pool_start,
            pool_cap: size,
        })
    }

    pub fn pool(&self) -> Pool {
        Pool::new(self.pool_start, self.pool_cap)
    }
}

/// The plan's hashed columns, checked against the number of linked commitments given.
pub(crate) fn linked_cols(plan: &Plan, given: usize) -> Result<Vec<usize>, super::ProgramError> {
    let cols = plan.linked();
    if cols.len() != given {
        return Err(super::ProgramError::Statement(format!(
            "{given} linked commitments for {} hashed tensors",
            cols.len()
        )));
    }
    Ok(cols)
}

/// Variables of the committed vector of a zero-knowledge proof of `plan` (the witness half
/// with the mask pool, plus the random half).
pub fn committed_vars(plan: &Plan) -> Result<usize, PlanError> {
    Ok(Layout::new(plan)?.shape.vars)
}

/// Whether a column's values are known to the verifier (public or fixed).
pub(crate) fn is_committed(plan: &Plan, col: usize) -> bool {
    matches!(plan.columns[col].source, Source::Committed | Source::Fused)
}

/// Depth of a LogUp tree (leaves have `depth + 1` variables: the side bit, then the index):
/// wide enough for the looked-up columns, the table and its multiplicities.
pub(crate) fn lookup_depth(plan: &Plan, columns: &[usize], mult: usize, table_len: usize) -> usize {
    columns
        .iter()
        .chain([&mult])
        .map(|&c| plan.columns[c].vars())
        .max()
        .unwrap_or(0)
        .max(num_vars(table_len))
}

/// Allocates every mask block of a proof in protocol order (prover and verifier do the same
/// at run time; here it sizes the pool).
fn allocate_all(plan: &Plan, pool: &mut Pool) -> Result<(), super::ProgramError> {
    let none: &[F] = &[];
    for c in &plan.constraints {
        match c {
            Constraint::Zero { .. } => {}
            Constraint::Quadratic { len, .. } => {
                MaskPoly::alloc(pool, plan.domain_vars(*len) + 1, DEG_QUADRATIC, none)?;
            }
            Constraint::Product { shape, .. } => {
                let n = 1 + num_vars(shape.batch) + shape.k;
                MaskPoly::alloc(pool, n, DEG_PRODUCT, none)?;
            }
            Constraint::Linear { inputs, .. } => {
                for term in inputs {
                    if !term.map.is_identity() && is_committed(plan, term.col) {
                        let n = plan.columns[term.col].vars() + 1;
                        MaskPoly::alloc(pool, n, DEG_LINEAR, none)?;
                    }
                }
            }
        }
    }
    for l in &plan.lookups {
        let depth = lookup_depth(plan, &[l.x, l.y], l.multiplicities, l.table.len());
        lookup::allocate(pool, depth, none)?;
    }
    for r in &plan.ranges {
        let depth = lookup_depth(plan, &[r.region], r.multiplicities, 1 << r.bits);
        lookup::allocate(pool, depth, none)?;
    }
    Ok(())
}

/// Floor of [`min_vars`]: 64 entries.
const MIN_VARS_FLOOR: usize = 6;

/// Base-field functionals of a column's random companion the proof may reveal per use (two
/// masked evaluations in EF), plus two for the batch's masks.
fn functionals(uses: usize) -> usize {
    3 * (2 * uses + 2)
}

/// The fewest variables every column of a zero-knowledge plan gets: enough that the busiest
/// column's companion has more entries than the proof reveals functionals of it.
pub(crate) fn min_vars(columns: usize, constraints: &[Constraint], lookups: &[Lookup]) -> usize {
    let uses = count_uses(columns, constraints, lookups);
    uses.iter()
        .map(|&u| num_vars(functionals(u)))
        .max()
        .unwrap_or(0)
        .max(MIN_VARS_FLOOR)
}

fn count_uses(columns: usize, constraints: &[Constraint], lookups: &[Lookup]) -> Vec<usize> {
    let mut uses = vec![0usize; columns];
    let mut count = |cols: &mut dyn Iterator<Item = usize>| {
        for c in cols {
            uses[c] += 1;
        }
    };
    for c in constraints {
        match c {
            Constraint::Zero { expr, .. } => count(&mut expr.terms.iter().map(|t| t.1)),
            Constraint::Quadratic {
                products, linear, ..
            } => count(
                &mut products
                    .iter()
                    .flat_map(|(a, b)| a.terms.iter().chain(&b.terms))
                    .chain(&linear.terms)
                    .map(|t| t.1),
            ),
            Constraint::Product { a, b, c, .. } => count(&mut [*a, *b, *c].into_iter()),
            Constraint::Linear { out, inputs, .. } => {
                count(&mut std::iter::once(*out).chain(inputs.iter().map(|t| t.col)))
            }
        }
    }
    for l in lookups {
        count(&mut [l.x, l.y, l.multiplicities].into_iter());
    }
    uses
}

/// Refuses committed columns too small to stay hidden. Operands of run-time matrix products
/// are opened in their own power-of-two layout (the leading variables fixed to 0), so only
/// their natural size counts.
pub(crate) fn check_hiding(plan: &Plan) -> Result<(), PlanError> {
    let mut uses = count_uses(plan.columns.len(), &plan.constraints, &plan.lookups);
    for r in &plan.ranges {
        uses[r.region] += 1;
        uses[r.multiplicities] += 1;
    }
    let mut natural = vec![false; plan.columns.len()];
    for c in &plan.constraints {
        if let Constraint::Product { a, b, c, .. } = c {
            for x in [*a, *b, *c] {
                natural[x] = true;
            }
        }
    }
    for (c, col) in plan.columns.iter().enumerate() {
        if !matches!(col.source, Source::Committed) || col.loc.is_none() {
            continue;
        }
        let vars = if natural[c] {
            num_vars(col.len)
        } else {
            col.vars()
        };
        if 1usize << vars < functionals(uses[c]) {
            return Err(PlanError::TooSmallToHide {
                column: col.name.clone(),
                len: col.len,
                uses: uses[c],
            });
        }
    }
    Ok(())
}
