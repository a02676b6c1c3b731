//! Human-readable listing of a program: one line per tensor and node.

use std::fmt;

use crate::op::Op;
use crate::program::{Program, TensorKind};

fn short(op: &Op) -> String {
    match op {
        Op::Conv { window, groups } => format!(
            "Conv k={:?} s={:?} p={:?} d={:?} g={groups}",
            window.kernel, window.strides, window.pads, window.dilations
        ),
        Op::Requant {
            mults,
            axis,
            shift,
            lo,
            hi,
        } => match axis {
            None => format!("Requant *{}>>{shift} [{lo},{hi}]", mults[0]),
            Some(a) => format!(
                "Requant per-axis {a} ({} mults)>>{shift} [{lo},{hi}]",
                mults.len()
            ),
        },
        Op::Clamp { lo, hi } => format!("Clamp [{lo},{hi}]"),
        Op::Lookup(t) => format!(
            "Lookup {} in*{:.3e} out*{:.3e} domain [{},{}]",
            t.func.name(),
            t.in_scale,
            t.out_scale,
            t.domain.lo,
            t.domain.hi
        ),
        Op::DivRound { shift } => format!("DivRound <<{shift}"),
        Op::Reduce {
            axes, keep_dims, ..
        } => {
            format!("{} axes={axes:?} keep={keep_dims}", op.name())
        }
        Op::SumPool { window } | Op::MaxPool { window } => format!(
            "{} k={:?} s={:?} p={:?}",
            op.name(),
            window.kernel,
            window.strides,
            window.pads
        ),
        Op::Reshape { shape } => format!("Reshape {shape:?}"),
        Op::Transpose { perm } => format!("Transpose {perm:?}"),
        Op::Concat { axis } => format!("Concat axis={axis}"),
        Op::Gather { axis, indices, .. } => {
            format!("Gather axis={axis} ({} indices)", indices.len())
        }
        Op::GatherDynamic { axis } => format!("GatherDynamic axis={axis}"),
        _ => op.name().to_string(),
    }
}

impl fmt::Display for Program {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "program {} ({} nodes, {} params)",
            self.digest(),
            self.nodes.len(),
            self.num_params()
        )?;
        for (i, t) in self.tensors.iter().enumerate() {
            if t.kind == TensorKind::Activation {
                continue;
            }
            let kind = if t.kind == TensorKind::Input {
                "input "
            } else {
                "weight"
            };
            writeln!(
                f,
                "  {kind} %{i} {:?} [{}, {}] {}",
                t.shape, t.range.lo, t.range.hi, t.name
            )?;
        }
        for n in &self.nodes {
            let t = self.info(n.output);
            let args: Vec<String> = n.inputs.iter().map(|i| format!("%{}", i.0)).collect();
            writeln!(
                f,
                "  %{} = {}({}) {:?} [{}, {}]  # {}",
                n.output.0,
                short(&n.op),
                args.join(", "),
                t.shape,
                t.range.lo,
                t.range.hi,
                n.name
            )?;
        }
        let outs: Vec<String> = self.outputs.iter().map(|o| format!("%{}", o.0)).collect();
        writeln!(f, "  return {}", outs.join(", "))
    }
}
