//! Tighter value ranges from fused linear maps.
//!
//! Range inference bounds a sum of taps by the sum of each tap's bound, which is loose when
//! the weights vary per output (a bilinear resize: every output's weights add up to 2^14, but
//! the largest first-pass weight plus the largest second-pass weight is more). Once chains are
//! fused ([`super::fuse`]), a column is one map of tensors with known ranges, and the bound of
//! each output entry can be taken row by row. The plan then skips clamps that cannot trigger.
//!
//! Sound because every range used is proven: the input's and the public tensors' by range
//! checks, the others by induction over the ops, and the map by its linear constraint.

use vouch_ir::{Program, Range};

use super::maps::{LinearMap, NONE};
use super::plan::{Constraint, Fill, Plan, Source};

/// Per tensor: a range inside its declared one implied by a fused linear constraint, where
/// that is narrower.
pub(super) fn tightened(program: &Program, plan: &Plan) -> Vec<Option<Range>> {
    let mut out = vec![None; program.tensors.len()];
    let tensor_of = |c: usize| match (&plan.columns[c].source, &plan.columns[c].fill) {
        (Source::Public(id), _) | (_, Some(Fill::Tensor(id))) => Some(*id),
        _ => None,
    };
    for con in &plan.constraints {
        let Constraint::Linear {
            out: y,
            inputs,
            constant,
            ..
        } = con
        else {
            continue;
        };
        let Some(id) = tensor_of(*y) else { continue };
        let n = plan.columns[*y].len;
        let mut lo: Vec<i128> = vec![0; n];
        let mut hi: Vec<i128> = vec![0; n];
        if let Some(k) = constant {
            for (i, &v) in k.iter().enumerate().take(n) {
                lo[i] += v as i128;
                hi[i] += v as i128;
            }
        }
        let bounded = inputs.iter().all(|t| {
            let Some(r) = tensor_of(t.col).map(|i| program.tensors[i.index()].range) else {
                return false;
            };
            let Some(coef) = super::fuse::small_int(t.coef) else {
                return false;
            };
            add_rows(&t.map, coef, r, &mut lo, &mut hi)
        });
        let declared = program.tensors[id.index()].range;
        let (Some(&l), Some(&h)) = (lo.iter().min(), hi.iter().max()) else {
            continue;
        };
        let (l, h) = (l.max(declared.lo as i128), h.min(declared.hi as i128));
        if bounded && l <= h && (l > declared.lo as i128 || h < declared.hi as i128) {
            out[id.index()] = Some(Range::new(l as i64, h as i64));
        }
    }
    out
}

/// Adds `coef·map(x)`'s per-row bounds for x in `r`; false for maps without taps.
fn add_rows(map: &LinearMap, coef: i64, r: Range, lo: &mut [i128], hi: &mut [i128]) -> bool {
    let Some(taps) = super::fuse::tap_view(map) else {
        return false;
    };
    for (src, c) in taps {
        for (y, &s) in src.iter().enumerate().take(lo.len()) {
            if s == NONE {
                continue;
            }
            let cy = c.map_or(1, |c| c.get(y).copied().unwrap_or(0));
            let w = cy as i128 * coef as i128;
            let (a, b) = (w * r.lo as i128, w * r.hi as i128);
            lo[y] += a.min(b);
            hi[y] += a.max(b);
        }
    }
    true
}
