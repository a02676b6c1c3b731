//! Constant folding: evaluating float-graph ops (and ONNX's shape-only ops) on values known at
//! import time. Floats go through the same kernels as [`FloatGraph::eval`](crate::FloatGraph);
//! integer data (shapes, indices) and booleans are kept exact.

use crate::eval::{self, In};
use crate::graph::FOp;
use crate::proto::Class;

/// A value known at import time.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Konst {
    F(Vec<f32>),
    I(Vec<i64>),
    B(Vec<bool>),
}

impl Konst {
    pub fn len(&self) -> usize {
        match self {
            Konst::F(v) => v.len(),
            Konst::I(v) => v.len(),
            Konst::B(v) => v.len(),
        }
    }

    pub fn class(&self) -> Class {
        match self {
            Konst::F(_) => Class::Float,
            Konst::I(_) => Class::Int,
            Konst::B(_) => Class::Bool,
        }
    }

    pub fn to_f32(&self) -> Vec<f32> {
        match self {
            Konst::F(v) => v.clone(),
            Konst::I(v) => v.iter().map(|&x| x as f32).collect(),
            Konst::B(v) => v.iter().map(|&x| if x { 1.0 } else { 0.0 }).collect(),
        }
    }

    pub fn to_f64(&self) -> Vec<f64> {
        match self {
            Konst::F(v) => v.iter().map(|&x| f64::from(x)).collect(),
            Konst::I(v) => v.iter().map(|&x| x as f64).collect(),
            Konst::B(v) => v.iter().map(|&x| if x { 1.0 } else { 0.0 }).collect(),
        }
    }

    /// Exact integers; floats must be integral.
    pub fn to_i64(&self) -> Option<Vec<i64>> {
        match self {
            Konst::F(v) => v
                .iter()
                .map(|&x| {
                    if x.is_finite() && x.fract() == 0.0 {
                        Some(x as i64)
                    } else {
                        None
                    }
                })
                .collect(),
            Konst::I(v) => Some(v.clone()),
            Konst::B(v) => Some(v.iter().map(|&x| i64::from(x)).collect()),
        }
    }

    pub fn to_bool(&self) -> Vec<bool> {
        match self {
            Konst::F(v) => v.iter().map(|&x| x != 0.0).collect(),
            Konst::I(v) => v.iter().map(|&x| x != 0).collect(),
            Konst::B(v) => v.clone(),
        }
    }

    /// ONNX `Cast` to the given class (float -> int truncates toward zero, saturating).
    pub fn cast(&self, to: Class) -> Konst {
        match (to, self) {
            (Class::Float, _) => Konst::F(self.to_f32()),
            (Class::Int, Konst::F(v)) => Konst::I(
                v.iter()
                    .map(|&x| if x.is_nan() { 0 } else { x as i64 })
                    .collect(),
            ),
            (Class::Int, Konst::I(v)) => Konst::I(v.clone()),
            (Class::Int, Konst::B(v)) => Konst::I(v.iter().map(|&x| i64::from(x)).collect()),
            (Class::Bool, _) => Konst::B(self.to_bool()),
        }
    }

    /// A constant filled with `n` copies of the first element of `self`.
    pub fn splat(&self, n: usize) -> Option<Konst> {
        Some(match self {
            Konst::F(v) => Konst::F(vec![*v.first()?; n]),
            Konst::I(v) => Konst::I(vec![*v.first()?; n]),
            Konst::B(v) => Konst::B(vec![*v.first()?; n]),
        })
    }
}

/// Typed wiring kernels shared by all element types.
fn wiring<T: Copy>(op: &FOp, ins: &[In<T>], out: &[usize], pad_value: T) -> Option<Vec<T>> {
    let x = *ins.first()?;
    Some(match op {
        FOp::Reshape { .. } => x.data.to_vec(),
        FOp::Transpose { perm } => eval::transpose(x, perm),
        FOp::Slice { starts, steps, .. } => eval::slice(x, starts, steps, out),
        FOp::Concat { axis } => eval::concat(ins, *axis, out),
        FOp::Pad {
            begin, interior, ..
        } => eval::pad(x, begin, interior, pad_value, out),
        FOp::Gather { axis, indices, .. } => eval::gather(x, *axis, indices),
        _ => return None,
    })
}

/// Whether `op` only moves data around (keeps the element type of its data input).
pub(crate) fn is_wiring(op: &FOp) -> bool {
    matches!(
        op,
        FOp::Reshape { .. }
            | FOp::Transpose { .. }
            | FOp::Slice { .. }
            | FOp::Concat { .. }
            | FOp::Pad { .. }
            | FOp::Gather { .. }
            | FOp::GatherDynamic { .. }
            | FOp::Where { .. }
    )
}

fn common_class(ins: &[(&[usize], &Konst)]) -> Class {
    let mut c = Class::Bool;
    for (_, k) in ins {
        c = match (c, k.class()) {
            (Class::Float, _) | (_, Class::Float) => Class::Float,
            (Class::Int, _) | (_, Class::Int) => Class::Int,
            _ => Class::Bool,
        };
    }
    c
}

/// Evaluates `op` on constant operands (shapes already checked against `out`).
pub(crate) fn eval_const(
    op: &FOp,
    ins: &[(&[usize], &Konst)],
    out: &[usize],
) -> Result<Konst, String> {
    let class = common_class(ins);
    // Data movement keeps the element type.
    if matches!(
        op,
        FOp::Reshape { .. }
            | FOp::Transpose { .. }
            | FOp::Slice { .. }
            | FOp::Concat { .. }
            | FOp::Pad { .. }
            | FOp::Gather { .. }
    ) {
        let pad_value = match op {
            FOp::Pad { value, .. } => *value,
            _ => 0.0,
        };
        let r = match class {
            Class::Float => {
                let v: Vec<Vec<f32>> = ins.iter().map(|(_, k)| k.to_f32()).collect();
                let i: Vec<In<f32>> = ins
                    .iter()
                    .zip(&v)
                    .map(|((s, _), d)| In { shape: s, data: d })
                    .collect();
                wiring(op, &i, out, pad_value).map(Konst::F)
            }
            Class::Int => {
                let v: Vec<Vec<i64>> = ins
                    .iter()
                    .map(|(_, k)| k.to_i64().unwrap_or_default())
                    .collect();
                let i: Vec<In<i64>> = ins
                    .iter()
                    .zip(&v)
                    .map(|((s, _), d)| In { shape: s, data: d })
                    .collect();
                wiring(op, &i, out, pad_value as i64).map(Konst::I)
            }
            Class::Bool => {
                let v: Vec<Vec<bool>> = ins.iter().map(|(_, k)| k.to_bool()).collect();
                let i: Vec<In<bool>> = ins
                    .iter()
                    .zip(&v)
                    .map(|((s, _), d)| In { shape: s, data: d })
                    .collect();
                wiring(op, &i, out, pad_value != 0.0).map(Konst::B)
            }
        };
        return r.ok_or_else(|| "internal: wiring op without input".to_string());
    }
    match (op, ins) {
        (FOp::Where { cond_shape, cond }, [(sa, a), (sb, b)]) => {
            let c = In {
                shape: cond_shape,
                data: cond,
            };
            return Ok(match class {
                Class::Float => {
                    let (va, vb) = (a.to_f32(), b.to_f32());
                    Konst::F(eval::where_(
                        c,
                        In {
                            shape: sa,
                            data: &va,
                        },
                        In {
                            shape: sb,
                            data: &vb,
                        },
                        out,
                    ))
                }
                Class::Int => {
                    let (va, vb) = (
                        a.to_i64().unwrap_or_default(),
                        b.to_i64().unwrap_or_default(),
                    );
                    Konst::I(eval::where_(
                        c,
                        In {
                            shape: sa,
                            data: &va,
                        },
                        In {
                            shape: sb,
                            data: &vb,
                        },
                        out,
                    ))
                }
                Class::Bool => {
                    let (va, vb) = (a.to_bool(), b.to_bool());
                    Konst::B(eval::where_(
                        c,
                        In {
                            shape: sa,
                            data: &va,
                        },
                        In {
                            shape: sb,
                            data: &vb,
                        },
                        out,
                    ))
                }
            });
        }
        (op, [(sa, Konst::I(a)), (sb, Konst::I(b))]) if op.is_binary() => {
            let (a, b) = (In { shape: sa, data: a }, In { shape: sb, data: b });
            if matches!(op, FOp::Div) && b.data.contains(&0) {
                return Err("integer division by zero".into());
            }
            let f: fn(i64, i64) -> i64 = match op {
                FOp::Add => i64::wrapping_add,
                FOp::Sub => i64::wrapping_sub,
                FOp::Mul => i64::wrapping_mul,
                FOp::Div => i64::wrapping_div,
                FOp::Max => std::cmp::max,
                _ => std::cmp::min,
            };
            return Ok(Konst::I(eval::binary(a, b, out, f)));
        }
        _ => {}
    }
    // Everything else computes in float.
    let v: Vec<Vec<f32>> = ins.iter().map(|(_, k)| k.to_f32()).collect();
    let i: Vec<In<f32>> = ins
        .iter()
        .zip(&v)
        .map(|((s, _), d)| In { shape: s, data: d })
        .collect();
    eval::run(op, &i, out).map(Konst::F)
}
