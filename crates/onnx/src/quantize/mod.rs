//! Calibration and quantization: lowers a [`FloatGraph`] into a [`vouch_ir::Program`].
//!
//! Scheme (documented in `docs/quantization.md`): symmetric per-output-channel weights,
//! per-tensor activations whose scale comes from the calibrated range (unsigned when the tensor
//! is never negative), biases at the accumulator scale, one requantization per layer with a
//! fixed-point multiplier, non-linearities through lookup tables over the input's integer range,
//! and exact integer formulations of softmax and layer normalization.

mod lower;
mod report;

use serde::{Deserialize, Serialize};
use thiserror::Error;
use vouch_ir::{IrError, Program, Tensor, TensorId, TensorInfo};

use crate::error::OnnxError;
use crate::graph::{FDType, FOp, FloatGraph};

pub use report::{accuracy_report, argmax, AccuracyReport, TensorError};

/// Bit widths of the quantized program.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuantConfig {
    /// Signed bits of each weight (symmetric, per output channel).
    pub weight_bits: u32,
    /// Bits of each activation: signed symmetric, or unsigned for never-negative tensors.
    pub act_bits: u32,
    /// Largest lookup-table input width in bits; wider inputs are requantized first.
    pub lut_bits: u32,
    /// Precision of requantization multipliers in bits.
    pub mult_bits: u32,
    /// Per-output-channel weight scales (else one scale per weight tensor).
    pub per_channel: bool,
}

impl Default for QuantConfig {
    fn default() -> Self {
        QuantConfig {
            weight_bits: 8,
            act_bits: 8,
            lut_bits: 12,
            mult_bits: 16,
            per_channel: true,
        }
    }
}

impl QuantConfig {
    pub fn validate(&self) -> Result<(), QuantError> {
        let ok = (2..=16).contains(&self.weight_bits)
            && (2..=16).contains(&self.act_bits)
            && (self.act_bits..=16).contains(&self.lut_bits)
            && (4..=24).contains(&self.mult_bits);
        if ok {
            Ok(())
        } else {
            Err(QuantError::Config(format!(
                "weight bits {} and activation bits {} must be in 2..=16, lookup bits {} in act_bits..=16, multiplier bits {} in 4..=24",
                self.weight_bits, self.act_bits, self.lut_bits, self.mult_bits
            )))
        }
    }
}

/// Errors of calibration and quantization.
#[derive(Debug, Error)]
pub enum QuantError {
    #[error(transparent)]
    Onnx(#[from] OnnxError),
    #[error(transparent)]
    Ir(#[from] IrError),
    #[error("node '{node}' ({op}): cannot quantize: {msg}")]
    Unsupported {
        node: String,
        op: String,
        msg: String,
    },
    #[error("calibration data: {0}")]
    Calibration(String),
    #[error("quantization settings: {0}")]
    Config(String),
    #[error("input '{input}': {msg}")]
    Input { input: String, msg: String },
}

/// Observed range of one float tensor over the calibration samples.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    pub min: f32,
    pub max: f32,
}

impl Stats {
    pub fn abs_max(&self) -> f32 {
        self.min.abs().max(self.max.abs())
    }
}

/// The integer version of a float tensor: `real ~= q * scale`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct QTensor {
    pub id: TensorId,
    pub scale: f64,
}

/// A quantized model: the program plus the map from float tensors to their integer versions.
#[derive(Clone, Debug)]
pub struct Quantized {
    pub program: Program,
    /// Indexed by float-graph tensor id; `None` for constants and fused-away tensors.
    pub map: Vec<Option<QTensor>>,
}

/// One calibration sample: a value vector per graph input.
pub type Sample = Vec<Vec<f32>>;

/// Runs the float graph on every sample and records each tensor's range.
pub fn collect_stats(graph: &FloatGraph, samples: &[Sample]) -> Result<Vec<Stats>, QuantError> {
    if samples.is_empty() {
        return Err(QuantError::Calibration("no samples".into()));
    }
    let mut stats: Vec<Option<Stats>> = vec![None; graph.tensors.len()];
    for (i, s) in samples.iter().enumerate() {
        let values = graph
            .eval(s)
            .map_err(|e| QuantError::Calibration(format!("sample {i}: {e}")))?;
        for (st, v) in stats.iter_mut().zip(&values) {
            if v.is_empty() {
                continue;
            }
            let (lo, hi) = v
                .iter()
                .fold((f32::INFINITY, f32::NEG_INFINITY), |(l, h), &x| {
                    (l.min(x), h.max(x))
                });
            *st = Some(match st {
                None => Stats { min: lo, max: hi },
                Some(o) => Stats {
                    min: o.min.min(lo),
                    max: o.max.max(hi),
                },
            });
        }
    }
    Ok(stats
        .into_iter()
        .map(|s| s.unwrap_or(Stats { min: 0.0, max: 0.0 }))
        .collect())
}

/// Samples used when the user gives no calibration data: `n` seeded draws, uniform in [0, 1)
/// for real inputs and uniform over the valid ids for integer (token id) inputs.
pub fn default_samples(graph: &FloatGraph, n: usize) -> Result<Vec<Sample>, QuantError> {
    let mut rng = SplitMix(0x766f_7563_6863_616c);
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let mut sample = Vec::new();
        for &i in &graph.inputs {
            let t = &graph.tensors[i];
            let numel: usize = t.shape.iter().product();
            let v = match t.dtype {
                FDType::F32 => (0..numel).map(|_| rng.unit() as f32).collect(),
                FDType::I64 => {
                    let dim = id_input_limit(graph, i).ok_or_else(|| QuantError::Input {
                        input: t.name.clone(),
                        msg: "integer inputs are supported only as gather (embedding) indices"
                            .into(),
                    })?;
                    (0..numel)
                        .map(|_| (rng.next() % dim as u64) as f32)
                        .collect()
                }
            };
            sample.push(v);
        }
        out.push(sample);
    }
    Ok(out)
}

/// For an integer input, the number of valid ids: the smallest gathered dimension it indexes.
pub(crate) fn id_input_limit(graph: &FloatGraph, input: usize) -> Option<usize> {
    graph
        .nodes
        .iter()
        .filter_map(|n| match n.op {
            FOp::GatherDynamic { axis } if n.inputs.get(1) == Some(&input) => {
                let data = &graph.tensors[*n.inputs.first()?];
                data.shape.get(axis).copied()
            }
            _ => None,
        })
        .min()
}

/// Quantizes `graph` with the given per-tensor statistics.
pub fn quantize(
    graph: &FloatGraph,
    stats: &[Stats],
    cfg: &QuantConfig,
) -> Result<Quantized, QuantError> {
    cfg.validate()?;
    if stats.len() != graph.tensors.len() {
        return Err(QuantError::Calibration(format!(
            "{} statistics for {} tensors",
            stats.len(),
            graph.tensors.len()
        )));
    }
    if let Some((i, s)) = stats
        .iter()
        .enumerate()
        .find(|(_, s)| !s.min.is_finite() || !s.max.is_finite())
    {
        return Err(QuantError::Calibration(format!(
            "tensor '{}': calibrated range [{}, {}] is not finite; quantization needs finite values",
            graph.tensors[i].name, s.min, s.max
        )));
    }
    lower::lower(graph, stats, cfg)
}

/// Quantizes real input values for a program input: `q = clamp(round(x / scale))`; integer
/// inputs (no scale) must hold integral values in range.
pub fn quantize_input(info: &TensorInfo, values: &[f32]) -> Result<Tensor, QuantError> {
    let numel: usize = info.shape.iter().product();
    let err = |msg: String| QuantError::Input {
        input: info.name.clone(),
        msg,
    };
    if values.len() != numel {
        return Err(err(format!(
            "expected {numel} values (shape {:?}), got {}",
            info.shape,
            values.len()
        )));
    }
    let mut data = Vec::with_capacity(numel);
    for (i, &v) in values.iter().enumerate() {
        if !v.is_finite() {
            return Err(err(format!("value at index {i} is {v}")));
        }
        let q = match info.scale {
            Some(s) => ((v as f64) / s)
                .round()
                .clamp(info.range.lo as f64, info.range.hi as f64) as i64,
            None => {
                if v.fract() != 0.0 || !info.range.contains(v as i64) {
                    return Err(err(format!(
                        "value at index {i} is {v}; expected an integer in [{}, {}]",
                        info.range.lo, info.range.hi
                    )));
                }
                v as i64
            }
        };
        data.push(q);
    }
    Tensor::new(info.shape.clone(), data).map_err(QuantError::from)
}

/// Real values of an integer tensor.
pub fn dequantize(info: &TensorInfo, t: &Tensor) -> Vec<f32> {
    let s = info.scale.unwrap_or(1.0);
    t.data.iter().map(|&q| (q as f64 * s) as f32).collect()
}

/// Small deterministic generator for default calibration data.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}
