//! ONNX protobuf -> [`FloatGraph`]: graph inputs and initializers, node ordering, lowering
//! (see `lower.rs`), then the float-graph passes (see `fuse.rs`).

use std::collections::HashMap;

use tract_onnx::pb;

use crate::error::{OnnxError, Result};
use crate::fold::{self, Konst};
use crate::graph::{FDType, FNode, FOp, FTensor, FloatGraph};
use crate::proto::{self, Class};

/// Largest element count of any tensor (as in the IR).
pub const MAX_ELEMENTS: u128 = 1 << 31;
/// Largest element count of a value produced by constant folding (keeps a hostile
/// `ConstantOfShape`/`Expand` from exhausting memory at import time).
pub const MAX_FOLDED_ELEMENTS: usize = 1 << 26;

/// Element count of `shape`, refusing more than [`MAX_ELEMENTS`]. Empty tensors are held to the
/// same bound on the product of their non-zero dimensions, so strides never overflow.
pub(crate) fn checked_numel(shape: &[usize], tensor: &str) -> Result<usize> {
    let (n, nonzero) = crate::graph::numel_u128(shape);
    if nonzero > MAX_ELEMENTS {
        return Err(OnnxError::TooLarge {
            tensor: tensor.to_string(),
            elements: nonzero,
            limit: MAX_ELEMENTS,
        });
    }
    Ok(n as usize)
}

/// A tensor while the graph is being built: constants keep their exact element type.
#[derive(Clone, Debug)]
pub(crate) struct BTensor {
    pub name: String,
    pub shape: Vec<usize>,
    pub class: Class,
    pub konst: Option<Konst>,
}

/// The graph under construction. Adding a node whose inputs are all constant folds it.
#[derive(Debug, Default)]
pub(crate) struct Builder {
    pub tensors: Vec<BTensor>,
    pub nodes: Vec<FNode>,
}

/// Identifies the ONNX node being lowered, for names and error messages.
#[derive(Clone, Debug)]
pub(crate) struct Site {
    pub node: String,
    pub op: String,
}

impl Builder {
    pub fn shape(&self, t: usize) -> &[usize] {
        &self.tensors[t].shape
    }

    pub fn konst_of(&self, t: usize) -> Option<&Konst> {
        self.tensors[t].konst.as_ref()
    }

    pub fn add_const(&mut self, name: String, shape: Vec<usize>, k: Konst) -> Result<usize> {
        let n = checked_numel(&shape, &name)?;
        if n != k.len() {
            return Err(OnnxError::invalid(format!(
                "constant '{name}' has {} values for shape {shape:?}",
                k.len()
            )));
        }
        self.tensors.push(BTensor {
            name,
            class: k.class(),
            shape,
            konst: Some(k),
        });
        Ok(self.tensors.len() - 1)
    }

    pub fn add_input(&mut self, name: String, shape: Vec<usize>, class: Class) -> Result<usize> {
        checked_numel(&shape, &name)?;
        self.tensors.push(BTensor {
            name,
            shape,
            class,
            konst: None,
        });
        Ok(self.tensors.len() - 1)
    }

    /// Adds `op` (or folds it when every input is constant) and returns its output tensor.
    pub fn node(
        &mut self,
        site: &Site,
        node_name: String,
        out_name: String,
        op: FOp,
        inputs: Vec<usize>,
    ) -> Result<usize> {
        let shapes: Vec<&[usize]> = inputs.iter().map(|&t| self.shape(t)).collect();
        let out_shape = op.infer_shape(&shapes).map_err(|e| {
            OnnxError::shape(
                &site.op,
                &site.node,
                e,
                format!("input shapes {shapes:?} for {}", op.name()),
            )
        })?;
        let n = checked_numel(&out_shape, &out_name)?;
        if inputs.iter().all(|&t| self.tensors[t].konst.is_some()) {
            if n > MAX_FOLDED_ELEMENTS {
                return Err(OnnxError::TooLarge {
                    tensor: out_name,
                    elements: n as u128,
                    limit: MAX_FOLDED_ELEMENTS as u128,
                });
            }
            let ins: Vec<(&[usize], &Konst)> = inputs
                .iter()
                .filter_map(|&t| {
                    let b = &self.tensors[t];
                    b.konst.as_ref().map(|k| (b.shape.as_slice(), k))
                })
                .collect();
            let k = fold::eval_const(&op, &ins, &out_shape).map_err(|reason| OnnxError::Eval {
                node: site.node.clone(),
                op: site.op.clone(),
                reason: format!("constant folding: {reason}"),
            })?;
            return self.add_const(out_name, out_shape, k);
        }
        // Runtime integer tensors (token ids) may only be moved around or used as indices.
        let data_class = self.tensors[inputs[0]].class;
        let class = if fold::is_wiring(&op) && data_class != Class::Bool {
            if let FOp::Concat { .. } | FOp::Where { .. } = op {
                if inputs
                    .iter()
                    .any(|&t| self.tensors[t].class == Class::Float)
                {
                    Class::Float
                } else {
                    Class::Int
                }
            } else {
                data_class
            }
        } else {
            Class::Float
        };
        for (i, &t) in inputs.iter().enumerate() {
            let b = &self.tensors[t];
            let index_input = matches!(op, FOp::GatherDynamic { .. }) && i == 1;
            if b.konst.is_none()
                && b.class != Class::Float
                && !(fold::is_wiring(&op) && class == b.class)
                && !index_input
            {
                return Err(OnnxError::unsupported(
                    &site.op,
                    &site.node,
                    format!(
                        "arithmetic on the runtime integer tensor '{}' is not supported; integer model inputs may only be reshaped, sliced or used as gather indices (e.g. token ids)",
                        b.name
                    ),
                ));
            }
        }
        if class == Class::Bool {
            return Err(OnnxError::unsupported(
                &site.op,
                &site.node,
                "boolean tensors computed at runtime are not supported; boolean values must be constant at import time",
            ));
        }
        self.tensors.push(BTensor {
            name: out_name,
            shape: out_shape,
            class,
            konst: None,
        });
        let output = self.tensors.len() - 1;
        self.nodes.push(FNode {
            name: node_name,
            onnx_op: site.op.clone(),
            op,
            inputs,
            output,
        });
        Ok(output)
    }

    /// Converts to the public graph: constants become `f32`, checked to be finite.
    pub fn finish(self, inputs: Vec<usize>, outputs: Vec<usize>) -> Result<FloatGraph> {
        let mut tensors = Vec::with_capacity(self.tensors.len());
        for t in self.tensors {
            let dtype = match t.class {
                Class::Float => FDType::F32,
                _ => FDType::I64,
            };
            let value = t.konst.map(|k| k.to_f32());
            tensors.push(FTensor {
                name: t.name,
                shape: t.shape,
                dtype,
                value,
            });
        }
        Ok(FloatGraph {
            tensors,
            nodes: self.nodes,
            inputs,
            outputs,
        })
    }
}

/// Imports a serialized ONNX model.
pub(crate) fn load_model(bytes: &[u8]) -> Result<FloatGraph> {
    let model = proto::decode_model(bytes)?;
    let graph = model.graph.as_ref().ok_or_else(|| OnnxError::Decode {
        reason: "no graph".into(),
    })?;
    let opset = model
        .opset_import
        .iter()
        .filter(|o| o.domain.is_empty() || o.domain == "ai.onnx")
        .map(|o| o.version)
        .max();
    if let Some(v) = opset.filter(|v| !(1..=1000).contains(v)) {
        return Err(OnnxError::invalid(format!(
            "ai.onnx opset version {v} is invalid"
        )));
    }

    let mut b = Builder::default();
    let mut values: HashMap<String, usize> = HashMap::new();

    for init in &graph.initializer {
        let name = init.name.clone();
        let (shape, k) = proto::tensor_value(init, &name)?;
        if let Konst::F(v) = &k {
            if let Some((index, &value)) = v.iter().enumerate().find(|(_, v)| !v.is_finite()) {
                return Err(OnnxError::NonFinite {
                    tensor: name,
                    index,
                    value,
                });
            }
        }
        if values.contains_key(&name) {
            return Err(OnnxError::invalid(format!(
                "initializer '{name}' is defined twice"
            )));
        }
        let id = b.add_const(name.clone(), shape, k)?;
        values.insert(name, id);
    }
    if !graph.sparse_initializer.is_empty() {
        return Err(OnnxError::UnsupportedDType {
            tensor: "sparse_initializer".into(),
            dtype: "sparse tensor".into(),
            hint: "re-save the model with dense initializers".into(),
        });
    }

    let mut inputs = Vec::new();
    for vi in &graph.input {
        if let Some(&id) = values.get(&vi.name) {
            if b.konst_of(id).is_none() {
                return Err(OnnxError::invalid(format!(
                    "graph input '{}' is declared twice",
                    vi.name
                )));
            }
            // Older exporters list initializers as inputs too: they are weights.
            continue;
        }
        let (shape, class) = input_type(vi)?;
        let id = b.add_input(vi.name.clone(), shape, class)?;
        values.insert(vi.name.clone(), id);
        inputs.push(id);
    }

    let order = topo_order(graph, &values)?;
    // Optional outputs this frontend does not provide, with the node that declared them.
    let mut unavailable: HashMap<String, Site> = HashMap::new();
    for &i in &order {
        let node = &graph.node[i];
        let name = if node.name.is_empty() {
            format!("{}_{}", node.op_type, i)
        } else {
            node.name.clone()
        };
        let site = Site {
            node: name,
            op: node.op_type.clone(),
        };
        if !(node.domain.is_empty() || node.domain == "ai.onnx") {
            return Err(OnnxError::unsupported(
                &node.op_type,
                &site.node,
                format!(
                    "ops of domain '{}' are not supported; re-export the model with standard ai.onnx ops only",
                    node.domain
                ),
            ));
        }
        let mut ins = Vec::with_capacity(node.input.len());
        for inp in &node.input {
            if inp.is_empty() {
                ins.push(None);
            } else {
                let id = match values.get(inp) {
                    Some(&id) => id,
                    None => return Err(missing(&unavailable, &site, inp)),
                };
                ins.push(Some(id));
            }
        }
        let opset = opset.ok_or_else(|| {
            OnnxError::invalid("the model uses ai.onnx ops but imports no ai.onnx opset")
        })?;
        let outs = crate::lower::lower(&mut b, &site, node, opset, &ins)?;
        for (name, id) in node.output.iter().zip(outs) {
            if name.is_empty() {
                continue;
            }
            match id {
                Some(id) => {
                    if values.insert(name.clone(), id).is_some() {
                        return Err(OnnxError::invalid(format!(
                            "value '{name}' is produced twice"
                        )));
                    }
                }
                None => {
                    unavailable.insert(name.clone(), site.clone());
                }
            }
        }
    }

    let mut outputs = Vec::new();
    for vi in &graph.output {
        let id = match values.get(&vi.name) {
            Some(&id) => id,
            None => {
                let site = Site {
                    node: "<graph output>".into(),
                    op: "Output".into(),
                };
                return Err(missing(&unavailable, &site, &vi.name));
            }
        };
        outputs.push(id);
    }
    if outputs.is_empty() {
        return Err(OnnxError::invalid("the graph has no outputs"));
    }
    let g = b.finish(inputs, outputs)?;
    let g = crate::fuse::optimize(g)?;
    g.validate()
        .map_err(|e| OnnxError::invalid(format!("internal consistency check failed: {e}")))?;
    for t in &g.tensors {
        if let Some(v) = &t.value {
            if let Some((index, &value)) = v.iter().enumerate().find(|(_, v)| !v.is_finite()) {
                return Err(OnnxError::NonFinite {
                    tensor: t.name.clone(),
                    index,
                    value,
                });
            }
        }
    }
    Ok(g)
}

/// The error for a value nobody produces: an unsupported optional output of an earlier node,
/// or a genuinely missing input.
fn missing(unavailable: &HashMap<String, Site>, user: &Site, name: &str) -> OnnxError {
    match unavailable.get(name) {
        Some(p) => OnnxError::unsupported(
            &p.op,
            &p.node,
            format!(
                "its optional output '{name}' (used by '{}') is not supported; only the main inference output is",
                user.node
            ),
        ),
        None => OnnxError::MissingInput {
            node: user.node.clone(),
            op: user.op.clone(),
            input: name.to_string(),
        },
    }
}

fn input_type(vi: &pb::ValueInfoProto) -> Result<(Vec<usize>, Class)> {
    let unknown = |got: &str| OnnxError::DynamicShape {
        input: vi.name.clone(),
        dim: 0,
        got: got.to_string(),
    };
    let tt = match vi.r#type.as_ref().and_then(|t| t.value.as_ref()) {
        Some(pb::type_proto::Value::TensorType(tt)) => tt,
        None => return Err(unknown("of unknown type (no tensor type recorded)")),
    };
    let class = proto::dtype_class(tt.elem_type)
        .filter(|c| *c != Class::Bool)
        .ok_or_else(|| OnnxError::UnsupportedDType {
            tensor: vi.name.clone(),
            dtype: proto::dtype_name(tt.elem_type),
            hint: "graph inputs must be float (any width) or integer (e.g. token ids)".into(),
        })?;
    let shape_proto = tt
        .shape
        .as_ref()
        .ok_or_else(|| unknown("of unknown rank (no shape recorded)"))?;
    let mut shape = Vec::with_capacity(shape_proto.dim.len());
    for (i, d) in shape_proto.dim.iter().enumerate() {
        use pb::tensor_shape_proto::dimension::Value;
        let v = match &d.value {
            Some(Value::DimValue(v)) if *v >= 0 => Some(*v as usize),
            Some(Value::DimValue(v)) => {
                return Err(OnnxError::DynamicShape {
                    input: vi.name.clone(),
                    dim: i,
                    got: format!("negative ({v})"),
                })
            }
            Some(Value::DimParam(p)) if i > 0 => {
                return Err(OnnxError::DynamicShape {
                    input: vi.name.clone(),
                    dim: i,
                    got: format!("symbolic ('{p}')"),
                })
            }
            None if i > 0 => {
                return Err(OnnxError::DynamicShape {
                    input: vi.name.clone(),
                    dim: i,
                    got: "unknown".into(),
                })
            }
            _ => None,
        };
        shape.push(v.unwrap_or(1));
    }
    Ok((shape, class))
}

/// Node indices in an order where every input is produced before use (Kahn's algorithm,
/// stable with respect to the file order). Unresolvable inputs are reported by the caller.
fn topo_order(graph: &pb::GraphProto, known: &HashMap<String, usize>) -> Result<Vec<usize>> {
    let n = graph.node.len();
    let mut producer: HashMap<&str, usize> = HashMap::new();
    for (i, node) in graph.node.iter().enumerate() {
        for o in &node.output {
            if !o.is_empty() && producer.insert(o.as_str(), i).is_some() {
                return Err(OnnxError::invalid(format!(
                    "value '{o}' is produced by two nodes"
                )));
            }
            if !o.is_empty() && known.contains_key(o) {
                return Err(OnnxError::invalid(format!(
                    "value '{o}' is both a graph input/initializer and a node output"
                )));
            }
        }
    }
    let mut pending = vec![0usize; n];
    let mut users: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (i, node) in graph.node.iter().enumerate() {
        let mut deps: Vec<usize> = node
            .input
            .iter()
            .filter_map(|x| producer.get(x.as_str()).copied())
            .collect();
        deps.sort_unstable();
        deps.dedup();
        pending[i] = deps.len();
        for d in deps {
            users[d].push(i);
        }
    }
    let mut ready: std::collections::BinaryHeap<std::cmp::Reverse<usize>> = (0..n)
        .filter(|&i| pending[i] == 0)
        .map(std::cmp::Reverse)
        .collect();
    let mut order = Vec::with_capacity(n);
    while let Some(std::cmp::Reverse(i)) = ready.pop() {
        order.push(i);
        for &u in &users[i] {
            pending[u] -= 1;
            if pending[u] == 0 {
                ready.push(std::cmp::Reverse(u));
            }
        }
    }
    if order.len() != n {
        return Err(OnnxError::invalid(
            "the graph contains a cycle (some nodes depend on their own outputs)",
        ));
    }
    Ok(order)
}
