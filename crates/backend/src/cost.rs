//! Op-level cost model of a program: how much arithmetic, lookup and range-checking work a
//! proof of it involves, independent of the backend. Backends map these counts to rows, columns
//! and time.

use std::collections::BTreeMap;

use serde::Serialize;
use vouch_ir::{Op, Program, ReduceKind};

/// Work of one op kind, summed over its nodes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct OpCost {
    pub nodes: usize,
    pub output_elements: u128,
    /// Multiply-accumulates (matmul, conv).
    pub macs: u128,
    /// Table lookups.
    pub lookups: u128,
    /// Values that need a range proof (remainders, comparisons, clamps).
    pub range_checks: u128,
}

/// Whole-program estimate.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CostReport {
    pub params: usize,
    pub activations: u128,
    pub macs: u128,
    pub lookups: u128,
    pub lookup_table_entries: u128,
    pub range_checks: u128,
    /// Widest range any tensor needs, in bits.
    pub max_range_bits: u32,
    pub per_op: BTreeMap<&'static str, OpCost>,
}

/// Counts the work of every node.
pub fn estimate(p: &Program) -> CostReport {
    let mut r = CostReport {
        params: p.num_params(),
        ..CostReport::default()
    };
    for t in &p.tensors {
        let bits = 128 - (t.range.width().max(1) - 1).leading_zeros();
        r.max_range_bits = r.max_range_bits.max(bits);
    }
    for n in &p.nodes {
        let out = p.info(n.output);
        let numel: u128 = out.shape.iter().map(|&d| d as u128).product();
        r.activations += numel;
        let input = |k: usize| -> &[usize] { &p.info(n.inputs[k]).shape };
        let mut c = OpCost {
            nodes: 1,
            output_elements: numel,
            ..OpCost::default()
        };
        match &n.op {
            Op::MatMul => {
                let a = input(0);
                c.macs = numel * a.last().copied().unwrap_or(0) as u128;
            }
            Op::Conv { .. } => {
                let w = input(1);
                c.macs = numel * w[1..].iter().map(|&d| d as u128).product::<u128>();
            }
            Op::Requant { .. } | Op::DivRound { .. } | Op::Sqrt => c.range_checks = 2 * numel,
            Op::Clamp { .. }
            | Op::Binary(vouch_ir::BinaryKind::Max | vouch_ir::BinaryKind::Min) => {
                c.range_checks = numel
            }
            Op::Lookup(t) => {
                c.lookups = numel;
                r.lookup_table_entries += t.values.len() as u128;
            }
            Op::Reduce { kind, .. } if *kind != ReduceKind::Sum => {
                c.range_checks = p
                    .info(n.inputs[0])
                    .shape
                    .iter()
                    .map(|&d| d as u128)
                    .product()
            }
            Op::MaxPool { window } => {
                c.range_checks = numel * (window.kernel[0] * window.kernel[1]) as u128
            }
            Op::GatherDynamic { .. } => c.lookups = numel,
            _ => {}
        }
        r.macs += c.macs;
        r.lookups += c.lookups;
        r.range_checks += c.range_checks;
        let e = r.per_op.entry(n.op.name()).or_default();
        e.nodes += 1;
        e.output_elements += c.output_elements;
        e.macs += c.macs;
        e.lookups += c.lookups;
        e.range_checks += c.range_checks;
    }
    r
}
