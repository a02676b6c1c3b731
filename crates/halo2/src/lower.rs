//! IR program to circuit layout, node by node. Each op is proven exactly as
//! `vouch_ir::interp` computes it; wiring ops (reshape, transpose, slice, concat, pad, gather,
//! where) cost nothing but copy constraints.

use halo2_axiom::halo2curves::bn256::Fr;
use vouch_backend::{Role, Visibility, VisibilityPolicy};
use vouch_ir::interp::odometer;
use vouch_ir::{
    interp::eval_node, BinaryKind, Node, Op, Program, Range, ReduceKind, TensorInfo, TensorKind,
    Window,
};

use crate::config::{RowFit, Shape};
use crate::error::Halo2Error;
use crate::layout::{Dot, DotK, El, Layout, Val};
use crate::poseidon::Packing;

/// Blinding elements of the hiding commitments (zeros at setup).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Blindings {
    pub input: Fr,
    pub weights: Fr,
    pub output: Fr,
}

/// Role bytes of commitments, in the order their values follow the public tensors in the
/// instance column.
pub const COMMIT_ROLES: [(Role, u8); 3] = [(Role::Input, 0), (Role::Weights, 1), (Role::Output, 2)];

/// Lays out `program` with the given values of every tensor (zeros at setup).
pub fn lay_out(
    program: &Program,
    policy: VisibilityPolicy,
    values: &[Vec<i64>],
    shape: Shape,
    blindings: &Blindings,
) -> Result<Layout, Halo2Error> {
    let mut l = Layout::new(
        shape.range_bits,
        shape.range_lanes as usize,
        shape.lanes as usize,
    );
    let mut t: Vec<Option<Vec<Val>>> = vec![None; program.tensors.len()];
    let value = |id: usize| -> Result<&Vec<i64>, Halo2Error> {
        values
            .get(id)
            .filter(|v| v.len() == program.tensors[id].shape.iter().product::<usize>())
            .ok_or_else(|| {
                Halo2Error::Witness(format!("no values for tensor {}", program.tensors[id].name))
            })
    };
    // Tensors under each hashed role, for the commitments: (cells, range).
    let mut hashed: [Vec<(Vec<Val>, Range)>; 3] = Default::default();
    for (i, info) in program.tensors.iter().enumerate() {
        let (vis, role) = match info.kind {
            TensorKind::Input => (policy.input, 0),
            TensorKind::Weight => (policy.weights, 1),
            TensorKind::Activation => continue,
        };
        let vals = match info.kind {
            TensorKind::Weight => program.weights[i].clone().unwrap_or_default(),
            _ => value(i)?.clone(),
        };
        let r = info.range;
        t[i] = Some(match vis {
            Visibility::Fixed => vals.iter().map(|&c| Val::constant(c)).collect(),
            Visibility::Public => {
                // Range-checked like witness data, so the packing below is injective.
                let cells = l.store_ranged(&vals, r.lo, r.hi);
                publish_packed(&mut l, &cells, r.lo, r.hi);
                cells
            }
            Visibility::Private | Visibility::Hashed => {
                // Witness data: every value is proven inside its declared range, which is what
                // range inference (and the packing of commitments) rely on.
                let cells = l.store_ranged(&vals, r.lo, r.hi);
                if vis == Visibility::Hashed {
                    hashed[role].push((cells.clone(), r));
                }
                cells
            }
        });
    }
    for node in &program.nodes {
        let ins: Vec<&[Val]> = node
            .inputs
            .iter()
            .map(|id| t[id.index()].as_deref().ok_or_else(|| missing(node)))
            .collect::<Result<_, _>>()?;
        let infos: Vec<&TensorInfo> = node.inputs.iter().map(|id| program.info(*id)).collect();
        let out_info = program.info(node.output);
        let out = lower_node(&mut l, node, &ins, &infos, out_info)
            .map_err(|e| e.at_node(&node.name, node.op.name()))?;
        if out.len() != out_info.shape.iter().product::<usize>() {
            return Err(Halo2Error::Internal(format!(
                "node {} produced {} elements for shape {:?}",
                node.name,
                out.len(),
                out_info.shape
            )));
        }
        t[node.output.index()] = Some(out);
    }
    for id in &program.outputs {
        let vals = t[id.index()]
            .clone()
            .ok_or_else(|| Halo2Error::Internal(format!("output {} is never computed", id.0)))?;
        l.outputs.push(vals.clone());
        match policy.output {
            Visibility::Public => {
                let r = program.info(*id).range;
                // Range inference already bounds outputs; the check makes the packing
                // injective without relying on it.
                l.check_ranged(&vals, r.lo, r.hi);
                publish_packed(&mut l, &vals, r.lo, r.hi);
            }
            // Outputs are determined by the inputs and lie in their inferred ranges.
            Visibility::Hashed => hashed[2].push((vals, program.info(*id).range)),
            Visibility::Private => {}
            Visibility::Fixed => {
                return Err(Halo2Error::Unsupported(
                    "fixed visibility for outputs (use public)".into(),
                ))
            }
        }
    }
    for (role, group) in hashed.iter().enumerate() {
        if group.is_empty() {
            continue;
        }
        let (role, blinding) = match role {
            0 => (Role::Input, blindings.input),
            1 => (Role::Weights, blindings.weights),
            _ => (Role::Output, blindings.output),
        };
        let r = l.store_fr(blinding);
        let mut packed = Vec::new();
        for (cells, range) in group {
            packed.extend(l.pack(cells, Packing::for_commitment(range.lo, range.hi)));
        }
        let (loc, v) = l.sponge(crate::backend::commitment_tag(role), r, &packed);
        l.publish_fr(loc, v);
    }
    Ok(l)
}

/// Binds public values to the instance column packed many to a field element (the packing of
/// [`crate::backend::instances`]): the verifier's cost grows with the number of instance rows.
fn publish_packed(l: &mut Layout, cells: &[Val], lo: i64, hi: i64) {
    for (loc, v) in l.pack(cells, Packing::new(lo, hi)) {
        l.publish_fr(loc, v);
    }
}

fn missing(node: &Node) -> Halo2Error {
    Halo2Error::Internal(format!(
        "node {} reads a tensor before it is computed",
        node.name
    ))
}

fn lower_node(
    l: &mut Layout,
    node: &Node,
    ins: &[&[Val]],
    infos: &[&TensorInfo],
    out: &TensorInfo,
) -> Result<Vec<Val>, Halo2Error> {
    Ok(match &node.op {
        op if op.is_wiring() || matches!(op, Op::Where { .. }) => wire(node, ins, infos, out)?,
        Op::MatMul => matmul(l, ins, infos, out),
        Op::Conv { window, groups } => conv(l, ins, infos, out, window, *groups),
        Op::Binary(kind) => {
            let pairs = broadcast_pairs(node, ins, infos, out)?;
            match kind {
                BinaryKind::Add => l.elementwise(&pairs, [0, 1, 1, 0]),
                BinaryKind::Sub => l.elementwise(&pairs, [0, 1, -1, 0]),
                BinaryKind::Mul => l.elementwise(&pairs, [1, 0, 0, 0]),
                BinaryKind::Max | BinaryKind::Min => {
                    let bound = spread(infos[0].range, infos[1].range);
                    l.max_min(&pairs, *kind == BinaryKind::Max, bound)
                }
            }
        }
        Op::Requant {
            mults,
            axis,
            shift,
            lo,
            hi,
        } => {
            let shape = &infos[0].shape;
            let inner: usize = axis.map_or(1, |a| shape[a + 1..].iter().product());
            let n = mults.len();
            let xs: Vec<(Val, i64)> = ins[0]
                .iter()
                .enumerate()
                .map(|(i, &x)| {
                    (
                        x,
                        if n == 1 {
                            mults[0]
                        } else {
                            mults[(i / inner) % n]
                        },
                    )
                })
                .collect();
            let offset = if *shift == 0 { 0 } else { 1i128 << (shift - 1) };
            let qs = l.scaled_div(&xs, offset, *shift);
            let r = infos[0].range;
            let (mut qlo, mut qhi) = (i128::MAX, i128::MIN);
            for &m in mults {
                for x in [r.lo as i128, r.hi as i128] {
                    let q = (x * m as i128 + offset).div_euclid(1i128 << shift);
                    qlo = qlo.min(q);
                    qhi = qhi.max(q);
                }
            }
            l.clamp(&qs, *lo, *hi, (qlo, qhi))
        }
        Op::Clamp { lo, hi } => {
            let r = infos[0].range;
            l.clamp(ins[0], *lo, *hi, (r.lo as i128, r.hi as i128))
        }
        Op::Lookup(table) => {
            let entries: Vec<(i64, i64)> = table
                .values
                .iter()
                .enumerate()
                .map(|(i, &y)| (table.domain.lo + i as i64, y))
                .collect();
            let tag = l.table_tag(entries);
            ins[0]
                .iter()
                .map(|&x| {
                    let y = i64::try_from(x.v)
                        .ok()
                        .filter(|v| table.domain.contains(*v))
                        .map_or(0, |v| table.get(v));
                    l.lookup(tag, x, y)
                })
                .collect()
        }
        Op::DivRound { shift } => {
            let b = infos[1].range;
            if b.lo < 1 {
                return Err(Halo2Error::Unsupported(format!(
                    "divisor range [{}, {}] may be below 1",
                    b.lo, b.hi
                )));
            }
            let pairs = broadcast_pairs(node, ins, infos, out)?;
            l.div_by(
                &pairs,
                *shift,
                b.hi as i128,
                (out.range.lo as i128, out.range.hi as i128),
            )
        }
        Op::Sqrt => {
            // y = isqrt(x): y^2 <= x and x - y^2 <= 2y.
            let ys: Vec<Val> = ins[0]
                .iter()
                .map(|x| Val::constant(vouch_ir::isqrt(x.v.clamp(0, i64::MAX as i128) as i64)))
                .collect();
            let y_max = out.range.hi.max(0) as i128;
            let ycells: Vec<Val> = {
                let locs = l.store(&ys.iter().map(|y| y.v as i64).collect::<Vec<_>>());
                locs.iter()
                    .zip(&ys)
                    .map(|(&c, y)| Val::cell(c, y.v))
                    .collect()
            };
            for &y in &ycells {
                l.range(y, crate::field::bits_for(y_max as u128));
            }
            let sq = l.elementwise(
                &ycells.iter().map(|&y| (y, y)).collect::<Vec<_>>(),
                [1, 0, 0, 0],
            );
            let pairs: Vec<(Val, Val)> = ins[0].iter().copied().zip(sq).collect();
            let d1 = l.elementwise(&pairs, [0, 1, -1, 0]);
            let pairs: Vec<(Val, Val)> = ycells.iter().copied().zip(d1.iter().copied()).collect();
            let d2 = l.elementwise(&pairs, [0, 2, -1, 0]);
            let bits = crate::field::bits_for((2 * y_max) as u128);
            for (&a, &b) in d1.iter().zip(&d2) {
                l.range(a, bits);
                l.range(b, bits);
            }
            ycells
        }
        Op::Reduce { kind, axes, .. } => {
            let groups = reduce_groups(&infos[0].shape, axes);
            fold_groups(l, ins[0], groups, *kind, infos[0].range)
        }
        Op::SumPool { window } => {
            let groups = pool_groups(&infos[0].shape, &out.shape, window);
            fold_groups(l, ins[0], groups, ReduceKind::Sum, infos[0].range)
        }
        Op::MaxPool { window } => {
            let groups = pool_groups(&infos[0].shape, &out.shape, window);
            if groups.iter().any(|g| g.is_empty()) {
                return Err(Halo2Error::Unsupported(
                    "max pooling window with no input position".into(),
                ));
            }
            fold_groups(l, ins[0], groups, ReduceKind::Max, infos[0].range)
        }
        Op::GatherDynamic { axis } => gather_dynamic(l, ins, infos, *axis)?,
        other => {
            return Err(Halo2Error::Unsupported(format!("op {}", other.name())));
        }
    })
}

/// Largest `|x - y|` over the two ranges.
fn spread(a: Range, b: Range) -> i128 {
    ((a.hi as i128 - b.lo as i128).max(b.hi as i128 - a.lo as i128)).max(0)
}

/// Evaluates a wiring node on element ids to learn where each output element comes from.
fn wire(
    node: &Node,
    ins: &[&[Val]],
    infos: &[&TensorInfo],
    out: &TensorInfo,
) -> Result<Vec<Val>, Halo2Error> {
    let mut all: Vec<Val> = Vec::new();
    let mut ids: Vec<Vec<i64>> = Vec::new();
    let signed = matches!(node.op, Op::Where { .. });
    for (k, xs) in ins.iter().enumerate() {
        let base = all.len() as i64;
        ids.push(
            (0..xs.len() as i64)
                .map(|i| {
                    let id = base + i + 1;
                    if signed && k == 1 {
                        -id
                    } else {
                        id
                    }
                })
                .collect(),
        );
        all.extend_from_slice(xs);
    }
    let mut op = node.op.clone();
    let mut pad_value = None;
    if let Op::Pad { value, .. } = &mut op {
        pad_value = Some(*value);
        *value = 0;
    }
    let got = eval_on_ids(node, op, infos, out, &ids)?;
    got.iter()
        .map(|&id| match id {
            0 => pad_value
                .map(Val::constant)
                .ok_or_else(|| Halo2Error::Internal("wiring produced no source".into())),
            id => all
                .get(id.unsigned_abs() as usize - 1)
                .copied()
                .ok_or_else(|| Halo2Error::Internal("wiring id out of range".into())),
        })
        .collect()
}

/// Runs one op of the reference interpreter on id tensors (ranges widened to fit ids).
fn eval_on_ids(
    node: &Node,
    op: Op,
    infos: &[&TensorInfo],
    out: &TensorInfo,
    ids: &[Vec<i64>],
) -> Result<Vec<i64>, Halo2Error> {
    let wide = Range::new(-(1i64 << 62), 1i64 << 62);
    let mut tensors: Vec<TensorInfo> = infos
        .iter()
        .map(|i| TensorInfo {
            range: wide,
            ..(*i).clone()
        })
        .collect();
    tensors.push(TensorInfo {
        range: wide,
        ..out.clone()
    });
    let n = infos.len();
    let p = Program {
        weights: vec![None; n + 1],
        tensors,
        ..Program::default()
    };
    let probe = Node {
        name: node.name.clone(),
        op,
        inputs: (0..n as u32).map(vouch_ir::TensorId).collect(),
        output: vouch_ir::TensorId(n as u32),
    };
    let refs: Vec<&[i64]> = ids.iter().map(Vec::as_slice).collect();
    eval_node(&p, &probe, &refs).map_err(|e| Halo2Error::Internal(e.to_string()))
}

/// Operand pairs of a broadcasting binary node, in output order.
fn broadcast_pairs(
    node: &Node,
    ins: &[&[Val]],
    infos: &[&TensorInfo],
    out: &TensorInfo,
) -> Result<Vec<(Val, Val)>, Halo2Error> {
    const S: i64 = 1 << 31;
    if ins[0].len() as i64 >= S || ins[1].len() as i64 >= S {
        return Err(Halo2Error::Unsupported(
            "operand with 2^31 or more elements".into(),
        ));
    }
    let ids = [
        (0..ins[0].len() as i64).map(|i| i * S).collect::<Vec<_>>(),
        (0..ins[1].len() as i64).collect::<Vec<_>>(),
    ];
    let got = eval_on_ids(node, Op::Binary(BinaryKind::Add), infos, out, &ids)?;
    Ok(got
        .iter()
        .map(|&id| (ins[0][(id / S) as usize], ins[1][(id % S) as usize]))
        .collect())
}

fn matmul(l: &mut Layout, ins: &[&[Val]], infos: &[&TensorInfo], out: &TensorInfo) -> Vec<Val> {
    let (sa, sb) = (&infos[0].shape, &infos[1].shape);
    let (ra, rb) = (sa.len(), sb.len());
    let (m, k) = (sa[ra - 2], sa[ra - 1]);
    let n = sb[rb - 1];
    let batch = &out.shape[..out.shape.len() - 2];
    let (sta, stb) = (
        aligned_strides(batch, &sa[..ra - 2]),
        aligned_strides(batch, &sb[..rb - 2]),
    );
    let bias = ins.get(2).map(|b| (b, &infos[2].shape));
    let biases: Vec<Option<Val>> = match bias {
        None => vec![None; out.shape.iter().product()],
        Some((b, shape)) => {
            // Bias broadcasts against the output like the interpreter's `binary`.
            let st = aligned_strides(&out.shape, shape);
            let mut v = Vec::with_capacity(out.shape.iter().product());
            odometer(&out.shape, |idx| {
                v.push(Some(
                    b[idx.iter().zip(&st).map(|(i, s)| i * s).sum::<usize>()],
                ));
            });
            v
        }
    };
    let mut mats: Vec<(Vec<Val>, Vec<Val>)> = Vec::new();
    odometer(batch, |idx| {
        let oa: usize = idx.iter().zip(&sta).map(|(i, s)| i * s).sum::<usize>() * m * k;
        let ob: usize = idx.iter().zip(&stb).map(|(i, s)| i * s).sum::<usize>() * k * n;
        mats.push((
            ins[0][oa..oa + m * k].to_vec(),
            ins[1][ob..ob + k * n].to_vec(),
        ));
    });
    let fit = l.fit;
    let fr: Vec<Option<Freivalds>> = mats
        .iter()
        .zip(biases.chunks(m * n))
        .map(|((a, b), bias)| Freivalds::plan(fit, a, b, bias, (m, k, n)))
        .collect();
    if fr.iter().all(|f| f.is_some())
        && fr
            .iter()
            .map(|f| f.as_ref().map_or(0, |f| f.saving))
            .sum::<usize>()
            > 0
    {
        return fr
            .into_iter()
            .flatten()
            .flat_map(|f| f.lay_out(l))
            .collect();
    }
    let mut items: Vec<Vec<(Val, Val)>> = Vec::with_capacity(biases.len());
    for (a, b) in &mats {
        for i in 0..m {
            for j in 0..n {
                items.push((0..k).map(|t| (a[i * k + t], b[t * n + j])).collect());
            }
        }
    }
    products(l, items, biases)
}

/// A matrix product `C = A B (+ bias)` proven by Freivalds' check, when that takes fewer
/// rows than one dot product per output. A bias that varies along one axis only joins the
/// product as one more column of A and row of B.
struct Freivalds {
    a: Vec<Val>,
    b: Vec<Val>,
    dims: (usize, usize, usize),
    /// Rows saved against dot products (0 when there is no saving).
    saving: usize,
}

impl Freivalds {
    fn plan(
        fit: RowFit,
        a: &[Val],
        b: &[Val],
        bias: &[Option<Val>],
        (m, k, n): (usize, usize, usize),
    ) -> Option<Self> {
        let is_const = |v: &Val| matches!(v.el, El::Const(_));
        let one = Val::constant(1);
        let (mut a2, mut b2, mut k2) = (a.to_vec(), b.to_vec(), k);
        if bias.iter().any(|x| x.is_some()) {
            let bias: Vec<Val> = bias.iter().map(|x| x.unwrap_or(Val::constant(0))).collect();
            let same = |x: &Val, y: &Val| x.el == y.el;
            let by_row = (0..m).all(|i| (0..n).all(|j| same(&bias[i * n + j], &bias[i * n])));
            let by_col = (0..m).all(|i| (0..n).all(|j| same(&bias[i * n + j], &bias[j])));
            let (col, row): (Vec<Val>, Vec<Val>) = if by_row {
                ((0..m).map(|i| bias[i * n]).collect(), vec![one; n])
            } else if by_col {
                (vec![one; m], bias[..n].to_vec())
            } else {
                return None;
            };
            a2 = (0..m)
                .flat_map(|i| a[i * k..(i + 1) * k].iter().copied().chain([col[i]]))
                .collect();
            b2.extend(row);
            k2 += 1;
        }
        let fixed_side = a.iter().all(is_const) || b.iter().all(is_const);
        let per_row = if fixed_side && bias.iter().flatten().all(is_const) {
            fit.lanes
        } else {
            fit.dot_pairs
        };
        let direct = m * n * (k + 1).div_ceil(per_row);
        let checked = Layout::freivalds_rows(fit.lanes, m, k2, n);
        Some(Freivalds {
            a: a2,
            b: b2,
            dims: (m, k2, n),
            saving: direct.saturating_sub(checked),
        })
    }

    fn lay_out(self, l: &mut Layout) -> Vec<Val> {
        l.freivalds(&self.a, &self.b, self.dims)
    }
}

/// Dot products, with fixed coefficients when one side is all constants.
fn products(l: &mut Layout, items: Vec<Vec<(Val, Val)>>, biases: Vec<Option<Val>>) -> Vec<Val> {
    let is_const = |v: &Val| matches!(v.el, El::Const(_));
    let all_b = items.iter().all(|t| t.iter().all(|(_, b)| is_const(b)));
    let all_a = items.iter().all(|t| t.iter().all(|(a, _)| is_const(a)));
    let const_bias = biases.iter().all(|b| b.is_none_or(|b| is_const(&b)));
    if (all_a || all_b) && const_bias {
        let ks = items
            .into_iter()
            .zip(biases)
            .map(|(terms, bias)| DotK {
                terms: terms
                    .into_iter()
                    .map(|(a, b)| if all_b { (a, b.v) } else { (b, a.v) })
                    .collect(),
                bias: bias.map_or(0, |b| b.v),
            })
            .collect();
        l.dotks(ks)
    } else {
        l.dots(
            items
                .into_iter()
                .zip(biases)
                .map(|(terms, bias)| Dot { terms, bias })
                .collect(),
        )
    }
}

fn conv(
    l: &mut Layout,
    ins: &[&[Val]],
    infos: &[&TensorInfo],
    out: &TensorInfo,
    win: &Window,
    groups: usize,
) -> Vec<Val> {
    let s = &infos[0].shape;
    let (nb, c, h, wd) = (s[0], s[1], s[2], s[3]);
    let ws = &infos[1].shape;
    let (o, cg, kh, kw) = (ws[0], ws[1], ws[2], ws[3]);
    let (oh, ow) = (out.shape[2], out.shape[3]);
    let og = (o / groups.max(1)).max(1);
    let dims = ((nb, c, h, wd), (o, cg, kh, kw), (oh, ow));
    if let Some(c) = conv_freivalds(l.fit, ins, dims, win, og) {
        return c.into_iter().flat_map(|f| f.lay_out(l)).collect();
    }
    let mut items = Vec::with_capacity(nb * o * oh * ow);
    let mut biases = Vec::with_capacity(items.capacity());
    for n in 0..nb {
        for oc in 0..o {
            let g = oc / og;
            for y in 0..oh {
                for x in 0..ow {
                    let mut terms = Vec::with_capacity(cg * kh * kw);
                    for ci in 0..cg {
                        let plane = (n * c + g * cg + ci) * h * wd;
                        for ky in 0..kh {
                            for kx in 0..kw {
                                // Taps in the padding contribute nothing.
                                let Some(xi) = conv_tap(win, (h, wd), (y, x), (ky, kx)) else {
                                    continue;
                                };
                                let wi = ((oc * cg + ci) * kh + ky) * kw + kx;
                                terms.push((ins[0][plane + xi], ins[1][wi]));
                            }
                        }
                    }
                    items.push(terms);
                    biases.push(ins.get(2).map(|b| b[oc]));
                }
            }
        }
    }
    products(l, items, biases)
}

/// Index within an `h x wd` input plane read by kernel tap `(ky, kx)` at output `(y, x)`, or
/// `None` when the tap falls in the padding.
fn conv_tap(
    win: &Window,
    (h, wd): (usize, usize),
    (y, x): (usize, usize),
    (ky, kx): (usize, usize),
) -> Option<usize> {
    let iy = (y * win.strides[0] + ky * win.dilations[0]) as i64 - win.pads[0] as i64;
    let ix = (x * win.strides[1] + kx * win.dilations[1]) as i64 - win.pads[1] as i64;
    let inside = (0..h as i64).contains(&iy) && (0..wd as i64).contains(&ix);
    inside.then(|| iy as usize * wd + ix as usize)
}

/// Input `(n, c, h, w)`, weights `(o, c/groups, kh, kw)` and output `(oh, ow)` of a conv.
type ConvDims = (
    (usize, usize, usize, usize),
    (usize, usize, usize, usize),
    (usize, usize),
);

/// Conv as matrix products per batch item and group (weights `og x cg kh kw` times the
/// im2col matrix `cg kh kw x oh ow`, padding as constant zeros), when Freivalds' check pays.
fn conv_freivalds(
    fit: RowFit,
    ins: &[&[Val]],
    ((nb, c, h, wd), (o, cg, kh, kw), (oh, ow)): ConvDims,
    win: &Window,
    og: usize,
) -> Option<Vec<Freivalds>> {
    let groups = o / og;
    let kk = cg * kh * kw;
    let pos = oh * ow;
    let mut out = Vec::with_capacity(nb * groups);
    for n in 0..nb {
        for g in 0..groups {
            let a: Vec<Val> = ins[1][g * og * kk..(g + 1) * og * kk].to_vec();
            let mut b = Vec::with_capacity(kk * pos);
            for ci in 0..cg {
                let plane = (n * c + g * cg + ci) * h * wd;
                for ky in 0..kh {
                    for kx in 0..kw {
                        for y in 0..oh {
                            for x in 0..ow {
                                b.push(match conv_tap(win, (h, wd), (y, x), (ky, kx)) {
                                    Some(xi) => ins[0][plane + xi],
                                    None => Val::constant(0),
                                });
                            }
                        }
                    }
                }
            }
            let bias: Vec<Option<Val>> = (0..og * pos)
                .map(|i| ins.get(2).map(|bv| bv[g * og + i / pos]))
                .collect();
            out.push(Freivalds::plan(fit, &a, &b, &bias, (og, kk, pos))?);
        }
    }
    (out.iter().map(|f| f.saving).sum::<usize>() > 0).then_some(out)
}

/// Input indices feeding each output of a reduction (output order as the interpreter's).
fn reduce_groups(shape: &[usize], axes: &[usize]) -> Vec<Vec<usize>> {
    let kept: Vec<usize> = (0..shape.len()).filter(|a| !axes.contains(a)).collect();
    let out_shape: Vec<usize> = kept.iter().map(|&a| shape[a]).collect();
    let n_out: usize = out_shape.iter().product();
    let mut groups = vec![Vec::new(); n_out];
    let ost = vouch_ir::tensor::strides(&out_shape);
    let mut i = 0;
    odometer(shape, |idx| {
        let o: usize = kept.iter().zip(&ost).map(|(&a, s)| idx[a] * s).sum();
        groups[o].push(i);
        i += 1;
    });
    groups
}

/// Input indices inside each pooling window (padding positions left out).
fn pool_groups(shape: &[usize], out_shape: &[usize], win: &Window) -> Vec<Vec<usize>> {
    let (nc, h, w) = (shape[0] * shape[1], shape[2], shape[3]);
    let (oh, ow) = (out_shape[2], out_shape[3]);
    let mut groups = Vec::with_capacity(nc * oh * ow);
    for p in 0..nc {
        for y in 0..oh {
            for x in 0..ow {
                let mut g = Vec::new();
                for ky in 0..win.kernel[0] {
                    let iy =
                        (y * win.strides[0] + ky * win.dilations[0]) as i64 - win.pads[0] as i64;
                    if iy < 0 || iy >= h as i64 {
                        continue;
                    }
                    for kx in 0..win.kernel[1] {
                        let ix = (x * win.strides[1] + kx * win.dilations[1]) as i64
                            - win.pads[1] as i64;
                        if ix >= 0 && ix < w as i64 {
                            g.push((p * h + iy as usize) * w + ix as usize);
                        }
                    }
                }
                groups.push(g);
            }
        }
    }
    groups
}

/// Sums (fixed-coefficient dots) or max/min chains over groups of inputs.
fn fold_groups(
    l: &mut Layout,
    xs: &[Val],
    groups: Vec<Vec<usize>>,
    kind: ReduceKind,
    range: Range,
) -> Vec<Val> {
    match kind {
        ReduceKind::Sum => l.dotks(
            groups
                .iter()
                .map(|g| DotK {
                    terms: g.iter().map(|&i| (xs[i], 1)).collect(),
                    bias: 0,
                })
                .collect(),
        ),
        ReduceKind::Max | ReduceKind::Min => {
            let bound = spread(range, range);
            let is_max = kind == ReduceKind::Max;
            // Tournament: halve every group in lockstep so each round is one batch of gates.
            let mut cur: Vec<Vec<Val>> = groups
                .iter()
                .map(|g| g.iter().map(|&i| xs[i]).collect())
                .collect();
            while cur.iter().any(|g| g.len() > 1) {
                let mut pairs = Vec::new();
                for g in &cur {
                    for c in g.chunks(2) {
                        if c.len() == 2 {
                            pairs.push((c[0], c[1]));
                        }
                    }
                }
                let mut res = l.max_min(&pairs, is_max, bound).into_iter();
                for g in &mut cur {
                    let next: Vec<Val> = g
                        .chunks(2)
                        .map(|c| {
                            if c.len() == 2 {
                                res.next().unwrap_or(c[0])
                            } else {
                                c[0]
                            }
                        })
                        .collect();
                    *g = next;
                }
            }
            cur.into_iter().map(|g| g[0]).collect()
        }
    }
}

/// `data` gathered along `axis` by runtime indices, through one-hot selectors.
fn gather_dynamic(
    l: &mut Layout,
    ins: &[&[Val]],
    infos: &[&TensorInfo],
    axis: usize,
) -> Result<Vec<Val>, Halo2Error> {
    let shape = &infos[0].shape;
    let outer: usize = shape[..axis].iter().product();
    let dim = shape[axis];
    let inner: usize = shape[axis + 1..].iter().product();
    let mut onehots = Vec::with_capacity(ins[1].len());
    for &idx in ins[1] {
        let hot: Vec<i64> = (0..dim).map(|j| (idx.v == j as i128) as i64).collect();
        let cells = l.store(&hot);
        let e: Vec<Val> = cells
            .iter()
            .zip(&hot)
            .map(|(&c, &v)| Val::cell(c, v as i128))
            .collect();
        // Booleans: e * e - e = 0.
        let z = l.elementwise(
            &e.iter().map(|&x| (x, x)).collect::<Vec<_>>(),
            [1, -1, 0, 0],
        );
        let zero = l.const_cell(0);
        for v in z {
            if let El::Cell(c) = v.el {
                l.copies.push((c, zero));
            }
        }
        // Exactly one is set, at position idx.
        let sums = l.dotks(vec![
            DotK {
                terms: e.iter().map(|&x| (x, 1)).collect(),
                bias: 0,
            },
            DotK {
                terms: e.iter().enumerate().map(|(j, &x)| (x, j as i128)).collect(),
                bias: 0,
            },
        ]);
        let one = l.const_cell(1);
        let idx_cell = l.cell(idx);
        if let (El::Cell(s0), El::Cell(s1)) = (sums[0].el, sums[1].el) {
            l.copies.push((s0, one));
            l.copies.push((s1, idx_cell));
        }
        onehots.push(e);
    }
    let mut items = Vec::new();
    for o in 0..outer {
        for e in &onehots {
            for i in 0..inner {
                items.push(
                    (0..dim)
                        .map(|j| (e[j], ins[0][(o * dim + j) * inner + i]))
                        .collect::<Vec<_>>(),
                );
            }
        }
    }
    let n = items.len();
    Ok(products(l, items, vec![None; n]))
}

fn aligned_strides(out: &[usize], shape: &[usize]) -> Vec<usize> {
    let st = vouch_ir::tensor::strides(shape);
    let lead = out.len() - shape.len();
    (0..out.len())
        .map(|i| {
            if i < lead || shape[i - lead] == 1 {
                0
            } else {
                st[i - lead]
            }
        })
        .collect()
}
