//! Float-graph passes run after lowering:
//!
//! 1. pattern fusions that matter for quantized accuracy: decomposed layer norm -> `LayerNorm`,
//!    erf- and tanh-form GELU -> `Unary(Gelu | GeluTanh)`, `x * sigmoid(x)` -> `Unary(Silu)`,
//!    `x * hardsigmoid(x)` -> `Unary(HardSwish)`;
//! 2. affine folding: per-channel constant `Mul`/`Add` after a `Conv` (or a `MatMul` with a
//!    constant 2-D weight) whose output has no other consumer are folded into its weights and
//!    bias (this is how `BatchNormalization` disappears), and chained constant `Add`s merge;
//! 3. dead-node removal and tensor compaction.
//!
//! A fused node takes the name of the first node of its pattern and the position of the last.

use crate::error::{OnnxError, Result};
use crate::eval::{self, In};
use crate::graph::{broadcast, FDType, FNode, FOp, FTensor, FloatGraph, ReduceKind, UnaryFn};

pub(crate) fn optimize(mut g: FloatGraph) -> Result<FloatGraph> {
    // Each pass rewrites matches and marks the nodes it absorbed; iterate to a fixpoint.
    for _ in 0..64 {
        let mut changed = false;
        changed |= run_pass(&mut g, match_layer_norm);
        changed |= run_pass(&mut g, match_gelu_erf);
        changed |= run_pass(&mut g, match_gelu_tanh);
        changed |= run_pass(&mut g, match_gated_unary);
        changed |= run_pass(&mut g, match_affine);
        if !changed {
            break;
        }
    }
    compact(g)
}

/// A rewrite found by a matcher: node `at` becomes `node`; nodes in `remove` disappear (their
/// outputs must be unused afterwards); `new_consts` are appended as tensors first and referred
/// to by `node.inputs` / `patch` as `NEW + k`.
struct Rewrite {
    at: usize,
    node: FNode,
    remove: Vec<usize>,
    new_consts: Vec<FTensor>,
    /// Additional node input patches: (node index, input slot, tensor).
    patch: Vec<(usize, usize, usize)>,
}

const NEW: usize = usize::MAX / 2;

struct Ctx<'g> {
    g: &'g FloatGraph,
    prod: Vec<Option<usize>>,
    cons: Vec<Vec<usize>>,
    is_out: Vec<bool>,
}

impl<'g> Ctx<'g> {
    fn new(g: &'g FloatGraph) -> Self {
        let mut is_out = vec![false; g.tensors.len()];
        for &o in &g.outputs {
            if let Some(x) = is_out.get_mut(o) {
                *x = true;
            }
        }
        Ctx {
            g,
            prod: g.producers(),
            cons: g.consumers(),
            is_out,
        }
    }

    fn node(&self, i: usize) -> &'g FNode {
        &self.g.nodes[i]
    }

    fn producer(&self, t: usize) -> Option<(usize, &'g FNode)> {
        self.prod
            .get(t)
            .copied()
            .flatten()
            .map(|i| (i, &self.g.nodes[i]))
    }

    /// The only consumer of `t`, when `t` is not a graph output.
    fn sole_consumer(&self, t: usize) -> Option<(usize, &'g FNode)> {
        match self.cons.get(t)?.as_slice() {
            [i] if !self.is_out[t] => Some((*i, &self.g.nodes[*i])),
            _ => None,
        }
    }

    fn shape(&self, t: usize) -> &'g [usize] {
        &self.g.tensors[t].shape
    }

    fn value(&self, t: usize) -> Option<&'g [f32]> {
        self.g.tensors[t].value.as_deref()
    }

    /// The value of a constant whose entries are all equal.
    fn uniform(&self, t: usize) -> Option<f32> {
        let v = self.value(t)?;
        let first = *v.first()?;
        v.iter().all(|&x| x == first).then_some(first)
    }

    fn is_uniform(&self, t: usize, want: f32) -> bool {
        self.uniform(t)
            .is_some_and(|v| (v - want).abs() <= 1e-4 * want.abs().max(1e-6))
    }

    /// For a binary `node` with input `x` on one side, the other input.
    fn other(node: &FNode, x: usize) -> Option<usize> {
        match node.inputs.as_slice() {
            [a, b] if *a == x => Some(*b),
            [a, b] if *b == x => Some(*a),
            _ => None,
        }
    }
}

fn run_pass(g: &mut FloatGraph, matcher: fn(&Ctx, usize) -> Option<Rewrite>) -> bool {
    let mut rewrites = Vec::new();
    {
        let cx = Ctx::new(g);
        let mut touched = vec![false; g.nodes.len()];
        for i in 0..g.nodes.len() {
            if touched[i] {
                continue;
            }
            if let Some(r) = matcher(&cx, i) {
                let involved: Vec<usize> = r
                    .remove
                    .iter()
                    .copied()
                    .chain([r.at])
                    .chain(r.patch.iter().map(|p| p.0))
                    .collect();
                if involved.iter().any(|&n| touched[n]) {
                    continue;
                }
                for n in involved {
                    touched[n] = true;
                }
                rewrites.push(r);
            }
        }
    }
    if rewrites.is_empty() {
        return false;
    }
    let mut removed = vec![false; g.nodes.len()];
    for r in rewrites {
        let base = g.tensors.len();
        let fix = |t: usize| if t >= NEW { base + (t - NEW) } else { t };
        g.tensors.extend(r.new_consts);
        let mut node = r.node;
        for t in node.inputs.iter_mut() {
            *t = fix(*t);
        }
        for (n, slot, t) in r.patch {
            if let Some(x) = g.nodes[n].inputs.get_mut(slot) {
                *x = fix(t);
            }
        }
        g.nodes[r.at] = node;
        for n in r.remove {
            removed[n] = true;
        }
    }
    let mut k = 0;
    g.nodes.retain(|_| {
        let keep = !removed[k];
        k += 1;
        keep
    });
    true
}

fn konst(name: String, shape: Vec<usize>, value: Vec<f32>) -> FTensor {
    FTensor {
        name,
        shape,
        dtype: FDType::F32,
        value: Some(value),
    }
}

/// `c` (of shape `cs`) right-aligned under the trailing block `norm` of a rank-`rank` tensor,
/// materialised with shape `norm`; `None` when it varies along the leading axes.
fn param_for(cs: &[usize], c: &[f32], norm: &[usize], rank: usize) -> Option<Vec<f32>> {
    if cs.len() > rank {
        return None;
    }
    let lead = cs.len().saturating_sub(norm.len());
    if cs[..lead].iter().any(|&d| d != 1) {
        return None;
    }
    let trimmed = &cs[lead..];
    if broadcast(&[trimmed, norm]).ok().as_deref() != Some(norm) {
        return None;
    }
    Some(eval::expand(
        In {
            shape: trimmed,
            data: c,
        },
        norm,
    ))
}

// ----- layer norm -------------------------------------------------------------------------

fn match_layer_norm(cx: &Ctx, i: usize) -> Option<Rewrite> {
    let m1 = cx.node(i);
    let FOp::Reduce {
        kind: ReduceKind::Mean,
        axes,
        keep_dims: true,
    } = &m1.op
    else {
        return None;
    };
    let x = *m1.inputs.first()?;
    let xs = cx.shape(x);
    let r = xs.len();
    let axis = r.checked_sub(axes.len())?;
    if axes.iter().enumerate().any(|(k, &a)| a != axis + k) {
        return None;
    }
    let (is, sub) = cx.sole_consumer(m1.output)?;
    if sub.op != FOp::Sub || sub.inputs != [x, m1.output] {
        return None;
    }
    let d = sub.output;
    let users = cx.cons.get(d)?;
    if users.len() != 2 || cx.is_out[d] {
        return None;
    }
    let (isq, sq) = users
        .iter()
        .map(|&u| (u, cx.node(u)))
        .find(|(_, n)| n.op == FOp::Mul && n.inputs == [d, d])?;
    let (im2, m2) = cx.sole_consumer(sq.output)?;
    if m2.op != m1.op {
        return None;
    }
    let (ia, add) = cx.sole_consumer(m2.output)?;
    if add.op != FOp::Add {
        return None;
    }
    let e = Ctx::other(add, m2.output)?;
    let eps = cx.uniform(e)?;
    if !(eps.is_finite() && eps >= 0.0) || cx.shape(add.output) != cx.shape(m2.output) {
        return None;
    }
    let (isr, sr) = cx.sole_consumer(add.output)?;
    if sr.op != FOp::Unary(UnaryFn::Sqrt) {
        return None;
    }
    let mut absorbed = vec![i, is, isq, im2, ia, isr];
    // d / std, or d * (1 / std).
    let (idv, dv) = cx.sole_consumer(sr.output)?;
    let (idv, dv) = if dv.op == FOp::Div && dv.inputs == [d, sr.output] {
        (idv, dv)
    } else if dv.op == FOp::Unary(UnaryFn::Reciprocal) {
        absorbed.push(idv);
        let (im, m) = cx.sole_consumer(dv.output)?;
        if m.op != FOp::Mul || Ctx::other(m, dv.output) != Some(d) {
            return None;
        }
        (im, m)
    } else {
        return None;
    };
    if !users.contains(&idv) || cx.shape(dv.output) != xs {
        return None;
    }
    let norm = &xs[axis..];
    let n: usize = norm.iter().product();
    let mut gamma = vec![1.0f32; n];
    let mut beta = vec![0.0f32; n];
    let mut last = (idv, dv);
    // Optional "* gamma".
    if let Some((ig, gm)) = cx.sole_consumer(last.1.output) {
        if gm.op == FOp::Mul && cx.shape(gm.output) == xs {
            let c = Ctx::other(gm, last.1.output)?;
            if let Some(p) = cx.value(c).and_then(|v| param_for(cx.shape(c), v, norm, r)) {
                gamma = p;
                absorbed.push(last.0);
                last = (ig, gm);
            }
        }
    }
    // Optional "+ beta".
    if let Some((ib, bt)) = cx.sole_consumer(last.1.output) {
        if bt.op == FOp::Add && cx.shape(bt.output) == xs {
            let c = Ctx::other(bt, last.1.output)?;
            if let Some(p) = cx.value(c).and_then(|v| param_for(cx.shape(c), v, norm, r)) {
                beta = p;
                absorbed.push(last.0);
                last = (ib, bt);
            }
        }
    }
    let (at, fin) = last;
    let node = FNode {
        name: m1.name.clone(),
        onnx_op: "Fused(LayerNormalization)".into(),
        op: FOp::LayerNorm { axis, eps },
        inputs: vec![x, NEW, NEW + 1],
        output: fin.output,
    };
    Some(Rewrite {
        at,
        node,
        remove: absorbed,
        new_consts: vec![
            konst(format!("{}/gamma", m1.name), norm.to_vec(), gamma),
            konst(format!("{}/beta", m1.name), norm.to_vec(), beta),
        ],
        patch: Vec::new(),
    })
}

// ----- GELU -------------------------------------------------------------------------------

/// Matches the `x * 0.5 * a` tail of both GELU forms, in any association, starting from the
/// single consumer of `a`. Returns (final node index, absorbed nodes).
fn match_half_product(cx: &Ctx, a: usize, x: usize) -> Option<(usize, Vec<usize>)> {
    let (it, t) = cx.sole_consumer(a)?;
    if t.op != FOp::Mul {
        return None;
    }
    let other = Ctx::other(t, a)?;
    let is_half = |n: &FNode, v: usize| -> bool {
        match &n.op {
            FOp::Mul => Ctx::other(n, v).is_some_and(|c| cx.is_uniform(c, 0.5)),
            FOp::Div => {
                n.inputs.first() == Some(&v)
                    && n.inputs.get(1).is_some_and(|&c| cx.is_uniform(c, 2.0))
            }
            _ => false,
        }
    };
    if other == x {
        let (ih, h) = cx.sole_consumer(t.output)?;
        return is_half(h, t.output).then(|| (ih, vec![it]));
    }
    if cx.is_uniform(other, 0.5) {
        let (ih, h) = cx.sole_consumer(t.output)?;
        return (h.op == FOp::Mul && Ctx::other(h, t.output) == Some(x)).then(|| (ih, vec![it]));
    }
    let (iq, q) = cx.producer(other)?;
    if is_half(q, x) && q.inputs.contains(&x) && cx.sole_consumer(other).is_some() {
        return Some((it, vec![iq]));
    }
    None
}

fn gelu_rewrite(
    cx: &Ctx,
    x: usize,
    f: UnaryFn,
    mut absorbed: Vec<usize>,
    fin: usize,
) -> Option<Rewrite> {
    let out = cx.node(fin).output;
    if cx.shape(out) != cx.shape(x) {
        return None;
    }
    absorbed.retain(|&n| n != fin);
    let first = absorbed.iter().copied().chain([fin]).min()?;
    Some(Rewrite {
        at: fin,
        node: FNode {
            name: cx.node(first).name.clone(),
            onnx_op: format!("Fused({})", f.name()),
            op: FOp::Unary(f),
            inputs: vec![x],
            output: out,
        },
        remove: absorbed,
        new_consts: Vec::new(),
        patch: Vec::new(),
    })
}

fn match_gelu_erf(cx: &Ctx, i: usize) -> Option<Rewrite> {
    let e = cx.node(i);
    if e.op != FOp::Unary(UnaryFn::Erf) {
        return None;
    }
    let u = *e.inputs.first()?;
    let (iu, un) = cx.producer(u)?;
    cx.sole_consumer(u)?;
    let x = match un.op {
        FOp::Div
            if un
                .inputs
                .get(1)
                .is_some_and(|&c| cx.is_uniform(c, std::f32::consts::SQRT_2)) =>
        {
            un.inputs[0]
        }
        FOp::Mul => {
            let (a, b) = (un.inputs[0], un.inputs[1]);
            if cx.is_uniform(b, std::f32::consts::FRAC_1_SQRT_2) {
                a
            } else if cx.is_uniform(a, std::f32::consts::FRAC_1_SQRT_2) {
                b
            } else {
                return None;
            }
        }
        _ => return None,
    };
    let (ia, add) = cx.sole_consumer(e.output)?;
    if add.op != FOp::Add || !Ctx::other(add, e.output).is_some_and(|c| cx.is_uniform(c, 1.0)) {
        return None;
    }
    let (fin, mut absorbed) = match_half_product(cx, add.output, x)?;
    absorbed.extend([iu, i, ia]);
    gelu_rewrite(cx, x, UnaryFn::Gelu, absorbed, fin)
}

fn match_gelu_tanh(cx: &Ctx, i: usize) -> Option<Rewrite> {
    let th = cx.node(i);
    if th.op != FOp::Unary(UnaryFn::Tanh) {
        return None;
    }
    let v = *th.inputs.first()?;
    let (iv, vn) = cx.producer(v)?;
    cx.sole_consumer(v)?;
    if vn.op != FOp::Mul {
        return None;
    }
    let k = (2.0f32 / std::f32::consts::PI).sqrt();
    let w = if cx.is_uniform(vn.inputs[1], k) {
        vn.inputs[0]
    } else if cx.is_uniform(vn.inputs[0], k) {
        vn.inputs[1]
    } else {
        return None;
    };
    let (iw, wn) = cx.producer(w)?;
    cx.sole_consumer(w)?;
    if wn.op != FOp::Add {
        return None;
    }
    // One side is x, the other 0.044715 * x^3.
    for (x, kk) in [(wn.inputs[0], wn.inputs[1]), (wn.inputs[1], wn.inputs[0])] {
        let Some((ik, kn)) = cx.producer(kk) else {
            continue;
        };
        if kn.op != FOp::Mul || cx.sole_consumer(kk).is_none() {
            continue;
        }
        let cube = if cx.is_uniform(kn.inputs[1], 0.044715) {
            kn.inputs[0]
        } else if cx.is_uniform(kn.inputs[0], 0.044715) {
            kn.inputs[1]
        } else {
            continue;
        };
        let Some((ic, cn)) = cx.producer(cube) else {
            continue;
        };
        if cn.op != FOp::Mul || cx.sole_consumer(cube).is_none() {
            continue;
        }
        let Some(sq) = Ctx::other(cn, x) else {
            continue;
        };
        let Some((isq, sqn)) = cx.producer(sq) else {
            continue;
        };
        if sqn.op != FOp::Mul || sqn.inputs != [x, x] || cx.sole_consumer(sq).is_none() {
            continue;
        }
        let (ia, add) = cx.sole_consumer(th.output)?;
        if add.op != FOp::Add || !Ctx::other(add, th.output).is_some_and(|c| cx.is_uniform(c, 1.0))
        {
            return None;
        }
        let (fin, mut absorbed) = match_half_product(cx, add.output, x)?;
        absorbed.extend([isq, ic, ik, iw, iv, i, ia]);
        return gelu_rewrite(cx, x, UnaryFn::GeluTanh, absorbed, fin);
    }
    None
}

/// `x * sigmoid(x)` -> Silu, `x * hardsigmoid(x; 1/6, 1/2)` -> HardSwish.
fn match_gated_unary(cx: &Ctx, i: usize) -> Option<Rewrite> {
    let s = cx.node(i);
    let f = match s.op {
        FOp::Unary(UnaryFn::Sigmoid) => UnaryFn::Silu,
        FOp::Unary(UnaryFn::HardSigmoid { alpha, beta })
            if (alpha - 1.0 / 6.0).abs() < 1e-6 && (beta - 0.5).abs() < 1e-6 =>
        {
            UnaryFn::HardSwish
        }
        _ => return None,
    };
    let x = *s.inputs.first()?;
    let (im, m) = cx.sole_consumer(s.output)?;
    if m.op != FOp::Mul || Ctx::other(m, s.output) != Some(x) {
        return None;
    }
    gelu_rewrite(cx, x, f, vec![i], im)
}

// ----- affine folding ---------------------------------------------------------------------

/// Per-index values of a constant `c` broadcast along axis `axis` (of `n` entries) of a
/// rank-`rank` tensor, or `None` when `c` varies along any other axis.
fn per_axis(cs: &[usize], c: &[f32], rank: usize, axis: usize, n: usize) -> Option<Vec<f32>> {
    if cs.len() > rank {
        return None;
    }
    let off = rank - cs.len();
    let mut along = 1;
    for (k, &d) in cs.iter().enumerate() {
        if k + off == axis {
            along = d;
        } else if d != 1 {
            return None;
        }
    }
    if along == n && c.len() == n {
        Some(c.to_vec())
    } else if along == 1 && c.len() == 1 {
        Some(vec![c[0]; n])
    } else {
        None
    }
}

/// A node with constant weights that a per-output-channel scale can be folded into.
enum Foldable {
    /// Conv: weight input slot 1, optional bias slot 2; channel axis 1 of a rank-4 output.
    Conv { o: usize },
    /// MatMul with constant `[K, N]` weight in slot 1; channel = last axis.
    MatMul { n: usize },
}

fn foldable(cx: &Ctx, idx: usize) -> Option<Foldable> {
    let p = cx.node(idx);
    match &p.op {
        FOp::Conv { .. } => {
            let w = *p.inputs.get(1)?;
            cx.value(w)?;
            if let Some(&b) = p.inputs.get(2) {
                cx.value(b)?;
            }
            Some(Foldable::Conv { o: cx.shape(w)[0] })
        }
        FOp::MatMul => {
            let w = *p.inputs.get(1)?;
            cx.value(w)?;
            let ws = cx.shape(w);
            (ws.len() == 2).then(|| Foldable::MatMul { n: ws[1] })
        }
        _ => None,
    }
}

/// Scales node `idx`'s constant weights by `s` (per output channel); returns the new weight
/// (and bias) constants and the input patches (slot, NEW + k).
fn scaled_weights(
    cx: &Ctx,
    idx: usize,
    f: &Foldable,
    s: &[f32],
    k0: usize,
) -> (Vec<FTensor>, Vec<(usize, usize, usize)>) {
    let p = cx.node(idx);
    let w = p.inputs[1];
    let wv = cx.value(w).unwrap_or_default();
    let ws = cx.shape(w).to_vec();
    let mut consts = Vec::new();
    let mut patch = Vec::new();
    match f {
        Foldable::Conv { o } => {
            let per = wv.len() / (*o).max(1);
            let nw: Vec<f32> = wv
                .iter()
                .enumerate()
                .map(|(j, &v)| v * s[j / per.max(1)])
                .collect();
            consts.push(konst(format!("{}/w_folded", p.name), ws, nw));
            patch.push((idx, 1, NEW + k0));
            if let Some(&b) = p.inputs.get(2) {
                let bv = cx.value(b).unwrap_or_default();
                let nb: Vec<f32> = bv.iter().zip(s).map(|(&v, &k)| v * k).collect();
                consts.push(konst(format!("{}/b_folded", p.name), vec![*o], nb));
                patch.push((idx, 2, NEW + k0 + 1));
            }
        }
        Foldable::MatMul { n } => {
            let nw: Vec<f32> = wv
                .iter()
                .enumerate()
                .map(|(j, &v)| v * s[j % (*n).max(1)])
                .collect();
            consts.push(konst(format!("{}/w_folded", p.name), ws, nw));
            patch.push((idx, 1, NEW + k0));
        }
    }
    (consts, patch)
}

fn channel_of(cx: &Ctx, f: &Foldable, out: usize, c: usize) -> Option<Vec<f32>> {
    let rank = cx.shape(out).len();
    let (axis, n) = match f {
        Foldable::Conv { o } => (1, *o),
        Foldable::MatMul { n } => (rank.checked_sub(1)?, *n),
    };
    per_axis(cx.shape(c), cx.value(c)?, rank, axis, n)
}

fn match_affine(cx: &Ctx, i: usize) -> Option<Rewrite> {
    let m = cx.node(i);
    if m.op != FOp::Mul && m.op != FOp::Add {
        return None;
    }
    let (u, c) = match m.inputs.as_slice() {
        [a, b] if cx.value(*b).is_some() && cx.value(*a).is_none() => (*a, *b),
        [a, b] if cx.value(*a).is_some() && cx.value(*b).is_none() => (*b, *a),
        _ => return None,
    };
    if cx.shape(m.output) != cx.shape(u) {
        return None;
    }
    let (ip, p) = cx.producer(u)?;
    cx.sole_consumer(u)?;
    let moved = |mut node: FNode| {
        node.output = m.output;
        node
    };
    if m.op == FOp::Mul {
        if let Some(f) = foldable(cx, ip) {
            // (W x + b) * s  ->  (W s) x + b s
            let s = channel_of(cx, &f, u, c)?;
            let (consts, patch) = scaled_weights(cx, ip, &f, &s, 0);
            let mut node = moved(p.clone());
            for &(_, slot, t) in &patch {
                node.inputs[slot] = t;
            }
            return Some(Rewrite {
                at: ip,
                node,
                remove: vec![i],
                new_consts: consts,
                patch: Vec::new(),
            });
        }
        // (W x + c) * s  ->  (W s) x + c s, for a foldable producer of the Add.
        if p.op == FOp::Add {
            let (v, cc) = match p.inputs.as_slice() {
                [a, b] if cx.value(*b).is_some() => (*a, *b),
                [a, b] if cx.value(*a).is_some() => (*b, *a),
                _ => return None,
            };
            let (iq, _) = cx.producer(v)?;
            cx.sole_consumer(v)?;
            let f = foldable(cx, iq)?;
            let s = channel_of(cx, &f, v, c)?;
            let (mut consts, patch) = scaled_weights(cx, iq, &f, &s, 0);
            let (cs, ss) = (cx.shape(cc), cx.shape(c));
            let bs = broadcast(&[cs, ss]).ok()?;
            let nc = eval::binary(
                In {
                    shape: cs,
                    data: cx.value(cc)?,
                },
                In {
                    shape: ss,
                    data: cx.value(c)?,
                },
                &bs,
                |a, b| a * b,
            );
            let k = consts.len();
            consts.push(konst(format!("{}/bias_folded", p.name), bs, nc));
            let mut node = moved(p.clone());
            node.inputs = vec![v, NEW + k];
            return Some(Rewrite {
                at: ip,
                node,
                remove: vec![i],
                new_consts: consts,
                patch,
            });
        }
        return None;
    }
    // Add.
    if let Some(Foldable::Conv { o }) = foldable(cx, ip) {
        let t = per_axis(cx.shape(c), cx.value(c)?, 4, 1, o)?;
        let nb: Vec<f32> = match p.inputs.get(2) {
            Some(&b) => cx.value(b)?.iter().zip(&t).map(|(a, b)| a + b).collect(),
            None => t,
        };
        let mut node = moved(p.clone());
        node.inputs.truncate(2);
        node.inputs.push(NEW);
        return Some(Rewrite {
            at: ip,
            node,
            remove: vec![i],
            new_consts: vec![konst(format!("{}/b_folded", p.name), vec![o], nb)],
            patch: Vec::new(),
        });
    }
    if p.op == FOp::Add {
        // (v + c1) + c2  ->  v + (c1 + c2)
        let (v, c1) = match p.inputs.as_slice() {
            [a, b] if cx.value(*b).is_some() => (*a, *b),
            [a, b] if cx.value(*a).is_some() => (*b, *a),
            _ => return None,
        };
        let (s1, s2) = (cx.shape(c1), cx.shape(c));
        let bs = broadcast(&[s1, s2]).ok()?;
        let nc = eval::binary(
            In {
                shape: s1,
                data: cx.value(c1)?,
            },
            In {
                shape: s2,
                data: cx.value(c)?,
            },
            &bs,
            |a, b| a + b,
        );
        let mut node = moved(p.clone());
        node.inputs = vec![v, NEW];
        return Some(Rewrite {
            at: ip,
            node,
            remove: vec![i],
            new_consts: vec![konst(format!("{}/bias_merged", p.name), bs, nc)],
            patch: Vec::new(),
        });
    }
    None
}

// ----- dead code and compaction -----------------------------------------------------------

fn compact(g: FloatGraph) -> Result<FloatGraph> {
    let nt = g.tensors.len();
    let mut live = vec![false; nt];
    for &o in &g.outputs {
        *live
            .get_mut(o)
            .ok_or_else(|| OnnxError::invalid("output id out of range"))? = true;
    }
    let mut keep = vec![false; g.nodes.len()];
    for (k, n) in g.nodes.iter().enumerate().rev() {
        if live[n.output] {
            keep[k] = true;
            for &t in &n.inputs {
                live[t] = true;
            }
        }
    }
    for &t in &g.inputs {
        live[t] = true;
    }
    let mut remap = vec![usize::MAX; nt];
    let mut tensors = Vec::new();
    for (t, tensor) in g.tensors.into_iter().enumerate() {
        if live[t] {
            remap[t] = tensors.len();
            tensors.push(tensor);
        }
    }
    let nodes = g
        .nodes
        .into_iter()
        .zip(keep)
        .filter(|(_, k)| *k)
        .map(|(mut n, _)| {
            n.output = remap[n.output];
            for t in n.inputs.iter_mut() {
                *t = remap[*t];
            }
            n
        })
        .collect();
    Ok(FloatGraph {
        tensors,
        nodes,
        inputs: g.inputs.iter().map(|&t| remap[t]).collect(),
        outputs: g.outputs.iter().map(|&t| remap[t]).collect(),
    })
}
