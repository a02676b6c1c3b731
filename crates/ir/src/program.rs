//! Programs: tensors, weights and nodes in topological order, built through [`ProgramBuilder`]
//! which infers every shape and value range as nodes are added.

use serde::{Deserialize, Serialize};

use crate::error::{IrError, Result};
use crate::infer::{infer, Operand};
use crate::op::Op;
use crate::tensor::{checked_numel, Range, Tensor};

/// Index of a tensor in [`Program::tensors`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TensorId(pub u32);

impl TensorId {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// Where a tensor's values come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TensorKind {
    /// Supplied at run time (the model input).
    Input,
    /// A constant stored in the program (weights, biases, masks).
    Weight,
    /// Produced by a node.
    Activation,
}

/// Static description of a tensor.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TensorInfo {
    pub name: String,
    pub kind: TensorKind,
    pub shape: Vec<usize>,
    /// Every element lies in this range: declared for inputs, exact for weights, derived for
    /// activations.
    pub range: Range,
    /// Real value of one integer step (`real = q * scale`); `None` for raw integers such as
    /// token ids.
    pub scale: Option<f64>,
}

/// One operation applied to earlier tensors, producing a new one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Node {
    /// Human-readable name, usually the source model's node name (used in errors).
    pub name: String,
    pub op: Op,
    pub inputs: Vec<TensorId>,
    pub output: TensorId,
}

/// A quantized integer program: the contract every backend proves.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Program {
    pub tensors: Vec<TensorInfo>,
    /// Weight data, aligned with `tensors`: `Some` exactly for [`TensorKind::Weight`].
    pub weights: Vec<Option<Vec<i64>>>,
    pub nodes: Vec<Node>,
    pub inputs: Vec<TensorId>,
    pub outputs: Vec<TensorId>,
}

impl Program {
    pub fn info(&self, id: TensorId) -> &TensorInfo {
        &self.tensors[id.index()]
    }

    /// Weight data of a weight tensor.
    pub fn weight(&self, id: TensorId) -> Option<&[i64]> {
        self.weights.get(id.index())?.as_deref()
    }

    /// Number of weight values (parameters).
    pub fn num_params(&self) -> usize {
        self.weights.iter().flatten().map(Vec::len).sum()
    }

    /// Rebuilds the program through the builder and checks that every stored shape and range
    /// equals the derived one. Run on every decoded program, so a file cannot lie about ranges.
    pub fn validate(&self) -> Result<()> {
        if self.weights.len() != self.tensors.len() {
            return Err(IrError::Tensor {
                tensor: "<program>".into(),
                msg: format!(
                    "{} weight slots for {} tensors",
                    self.weights.len(),
                    self.tensors.len()
                ),
            });
        }
        let mut b = ProgramBuilder::new();
        let mut produced = vec![false; self.tensors.len()];
        // Inputs and weights first, in id order, so ids match.
        for (i, t) in self.tensors.iter().enumerate() {
            if let Some(s) = t.scale {
                if !s.is_finite() {
                    return Err(IrError::Tensor {
                        tensor: t.name.clone(),
                        msg: format!("scale {s} is not finite"),
                    });
                }
            }
            match t.kind {
                TensorKind::Input => {
                    let id = b.input(&t.name, t.shape.clone(), t.range, t.scale)?;
                    expect_id(id, i)?;
                    produced[i] = true;
                }
                TensorKind::Weight => {
                    let data = self.weights[i].clone().ok_or_else(|| IrError::Tensor {
                        tensor: t.name.clone(),
                        msg: "weight tensor without data".into(),
                    })?;
                    let id = b.weight(&t.name, t.shape.clone(), data, t.scale)?;
                    expect_id(id, i)?;
                    // A weight's range is the exact range of its data; a stored range that
                    // differs would mislead every consumer of `TensorInfo::range`.
                    let derived = b.info(id).range;
                    if derived != t.range {
                        return Err(IrError::Tensor {
                            tensor: t.name.clone(),
                            msg: format!(
                                "stored range [{}, {}] differs from the range of the data [{}, {}]",
                                t.range.lo, t.range.hi, derived.lo, derived.hi
                            ),
                        });
                    }
                    produced[i] = true;
                }
                TensorKind::Activation => {
                    if self.weights[i].is_some() {
                        return Err(IrError::Tensor {
                            tensor: t.name.clone(),
                            msg: "activation tensor carries weight data".into(),
                        });
                    }
                    // Reserve the slot; filled by its node below.
                    b.reserve(t.clone());
                }
            }
        }
        for node in &self.nodes {
            let out = node.output.index();
            let info = self
                .tensors
                .get(out)
                .ok_or(IrError::UnknownTensor(node.output.0))?;
            if info.kind != TensorKind::Activation || produced[out] {
                return Err(IrError::node(
                    &node.name,
                    node.op.name(),
                    format!("output tensor {} is not a fresh activation", info.name),
                ));
            }
            for i in &node.inputs {
                if !produced.get(i.index()).copied().unwrap_or(false) {
                    return Err(IrError::node(
                        &node.name,
                        node.op.name(),
                        format!("input tensor id {} is used before it is produced", i.0),
                    ));
                }
            }
            let (shape, range) = b.derive(&node.name, &node.op, &node.inputs)?;
            if shape != info.shape || range != info.range {
                return Err(IrError::node(
                    &node.name,
                    node.op.name(),
                    format!(
                        "stored shape {:?} / range [{}, {}] differ from derived {:?} / [{}, {}]",
                        info.shape, info.range.lo, info.range.hi, shape, range.lo, range.hi
                    ),
                ));
            }
            produced[out] = true;
        }
        for (i, t) in self.tensors.iter().enumerate() {
            if !produced[i] {
                return Err(IrError::Tensor {
                    tensor: t.name.clone(),
                    msg: "activation never produced by any node".into(),
                });
            }
        }
        let mut listed = vec![false; self.tensors.len()];
        for &i in self.inputs.iter() {
            let t = self
                .tensors
                .get(i.index())
                .ok_or(IrError::UnknownTensor(i.0))?;
            if t.kind != TensorKind::Input {
                return Err(IrError::Tensor {
                    tensor: t.name.clone(),
                    msg: "listed as a program input but is not an input tensor".into(),
                });
            }
            if std::mem::replace(&mut listed[i.index()], true) {
                return Err(IrError::Tensor {
                    tensor: t.name.clone(),
                    msg: "listed twice as a program input".into(),
                });
            }
        }
        let declared = self
            .tensors
            .iter()
            .filter(|t| t.kind == TensorKind::Input)
            .count();
        if declared != self.inputs.len() {
            return Err(IrError::InputCount {
                expected: declared,
                got: self.inputs.len(),
            });
        }
        if self.outputs.is_empty() {
            return Err(IrError::Tensor {
                tensor: "<program>".into(),
                msg: "no outputs".into(),
            });
        }
        for &o in &self.outputs {
            if o.index() >= self.tensors.len() {
                return Err(IrError::UnknownTensor(o.0));
            }
        }
        Ok(())
    }
}

fn expect_id(id: TensorId, i: usize) -> Result<()> {
    if id.index() != i {
        return Err(IrError::Tensor {
            tensor: format!("#{i}"),
            msg: "tensor ids out of order".into(),
        });
    }
    Ok(())
}

/// Builds a [`Program`], deriving each node's output shape and range as it is added.
#[derive(Debug, Default)]
pub struct ProgramBuilder {
    program: Program,
}

impl ProgramBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    fn push(&mut self, info: TensorInfo, data: Option<Vec<i64>>) -> TensorId {
        let id = TensorId(self.program.tensors.len() as u32);
        self.program.tensors.push(info);
        self.program.weights.push(data);
        id
    }

    fn reserve(&mut self, info: TensorInfo) {
        self.push(info, None);
    }

    /// Declares a run-time input whose values the prover must show lie in `range`.
    pub fn input(
        &mut self,
        name: &str,
        shape: Vec<usize>,
        range: Range,
        scale: Option<f64>,
    ) -> Result<TensorId> {
        checked_numel(&shape, name)?;
        if range.lo > range.hi || range.abs_max() >= crate::tensor::VALUE_BOUND {
            return Err(IrError::Tensor {
                tensor: name.into(),
                msg: format!("invalid input range [{}, {}]", range.lo, range.hi),
            });
        }
        let id = self.push(
            TensorInfo {
                name: name.into(),
                kind: TensorKind::Input,
                shape,
                range,
                scale,
            },
            None,
        );
        self.program.inputs.push(id);
        Ok(id)
    }

    /// Adds a constant tensor; its range is the exact range of its values.
    pub fn weight(
        &mut self,
        name: &str,
        shape: Vec<usize>,
        data: Vec<i64>,
        scale: Option<f64>,
    ) -> Result<TensorId> {
        checked_numel(&shape, name)?;
        let t = Tensor::new(shape, data).map_err(|_| IrError::Tensor {
            tensor: name.into(),
            msg: "weight data length does not match its shape".into(),
        })?;
        let range = t.range();
        if range.abs_max() >= crate::tensor::VALUE_BOUND {
            return Err(IrError::Tensor {
                tensor: name.into(),
                msg: "weight values exceed the value bound 2^62".into(),
            });
        }
        Ok(self.push(
            TensorInfo {
                name: name.into(),
                kind: TensorKind::Weight,
                shape: t.shape,
                range,
                scale,
            },
            Some(t.data),
        ))
    }

    fn derive(&self, name: &str, op: &Op, inputs: &[TensorId]) -> Result<(Vec<usize>, Range)> {
        let mut operands = Vec::with_capacity(inputs.len());
        for &i in inputs {
            let info = self
                .program
                .tensors
                .get(i.index())
                .ok_or(IrError::UnknownTensor(i.0))?;
            operands.push(Operand {
                id: i,
                shape: &info.shape,
                range: info.range,
                data: self.program.weights[i.index()].as_deref(),
            });
        }
        let (shape, range) =
            infer(op, &operands).map_err(|msg| IrError::node(name, op.name(), msg))?;
        checked_numel(&shape, name)?;
        Ok((shape, range))
    }

    /// Appends a node and returns its output tensor; fails if the op does not apply to the
    /// inputs' shapes or could overflow the value bound.
    pub fn node(
        &mut self,
        name: &str,
        op: Op,
        inputs: &[TensorId],
        scale: Option<f64>,
    ) -> Result<TensorId> {
        let (shape, range) = self.derive(name, &op, inputs)?;
        let output = self.push(
            TensorInfo {
                name: name.into(),
                kind: TensorKind::Activation,
                shape,
                range,
                scale,
            },
            None,
        );
        self.program.nodes.push(Node {
            name: name.into(),
            op,
            inputs: inputs.to_vec(),
            output,
        });
        Ok(output)
    }

    pub fn output(&mut self, id: TensorId) {
        self.program.outputs.push(id);
    }

    pub fn info(&self, id: TensorId) -> &TensorInfo {
        &self.program.tensors[id.index()]
    }

    pub fn weight_data(&self, id: TensorId) -> Option<&[i64]> {
        self.program.weights.get(id.index())?.as_deref()
    }

    /// Sets the real scale of a tensor (metadata only).
    pub fn set_scale(&mut self, id: TensorId, scale: Option<f64>) {
        self.program.tensors[id.index()].scale = scale;
    }

    /// Finishes and validates the program.
    pub fn finish(self) -> Result<Program> {
        self.program.validate()?;
        Ok(self.program)
    }
}
