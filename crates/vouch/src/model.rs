//! High-level model workflow: compile an ONNX file into a package, run it, evaluate it.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Serialize;
use sha2::{Digest as _, Sha256};
use vouch_ir::{interp, Program, Tensor};
use vouch_onnx::quantize::{
    self, accuracy_report, argmax, collect_stats, default_samples, dequantize, quantize_input,
    QuantConfig, Sample,
};
use vouch_onnx::FloatGraph;

use crate::artifact::{CalibrationInfo, ModelMeta, ModelPackage};
use crate::error::VouchError;
use crate::npy::{self, NpyArray};

/// Number of seeded samples used when no calibration file is given.
pub const DEFAULT_CALIBRATION_SAMPLES: usize = 16;

/// Options of [`compile`].
#[derive(Clone, Debug, Default)]
pub struct CompileOptions {
    pub quant: QuantConfig,
    /// `.npy` file of calibration inputs (samples along the first axis).
    pub calibration: Option<PathBuf>,
    /// At most this many calibration samples are used (0 = all).
    pub max_calibration_samples: usize,
}

/// A compiled model with the float graph it came from.
#[derive(Debug)]
pub struct Compiled {
    pub package: ModelPackage,
    pub graph: FloatGraph,
}

/// Imports, calibrates and quantizes an ONNX model.
pub fn compile(onnx: &Path, opts: &CompileOptions) -> Result<Compiled, VouchError> {
    let bytes = std::fs::read(onnx).map_err(|e| VouchError::io(onnx, e))?;
    let graph = import(onnx, &bytes)?;
    check_memory(&graph, memory_limit())?;
    let (samples, calibration) = match &opts.calibration {
        Some(path) => {
            let arr = npy::read(path)?;
            let mut s = split_samples(&graph, &arr, &path.display().to_string())?;
            if opts.max_calibration_samples > 0 {
                s.truncate(opts.max_calibration_samples);
            }
            let info = CalibrationInfo {
                source: "file".into(),
                path: Some(path.display().to_string()),
                samples: s.len(),
            };
            (s, info)
        }
        None => {
            let s = default_samples(&graph, DEFAULT_CALIBRATION_SAMPLES)?;
            let info = CalibrationInfo {
                source: "default".into(),
                path: None,
                samples: s.len(),
            };
            (s, info)
        }
    };
    let stats = collect_stats(&graph, &samples)?;
    let q = quantize::quantize(&graph, &stats, &opts.quant)?;
    let report = accuracy_report(&graph, &q, &samples)?;
    let meta = ModelMeta {
        source: onnx
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        source_sha256: hex_sha256(&bytes),
        quantization: opts.quant.clone(),
        calibration,
        report: Some(report),
        input_names: graph
            .inputs
            .iter()
            .map(|&i| graph.tensors[i].name.clone())
            .collect(),
        output_names: graph
            .outputs
            .iter()
            .map(|&i| graph.tensors[i].name.clone())
            .collect(),
        vouch_version: env!("CARGO_PKG_VERSION").to_string(),
    };
    Ok(Compiled {
        package: ModelPackage {
            program: q.program,
            meta,
        },
        graph,
    })
}

fn hex_sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Default activation-memory budget for one compile (16 GiB); `VOUCH_MEMORY_LIMIT_GB`
/// changes it.
fn memory_limit() -> u128 {
    let gb = std::env::var("VOUCH_MEMORY_LIMIT_GB")
        .ok()
        .and_then(|v| v.parse::<u128>().ok())
        .unwrap_or(16);
    gb << 30
}

/// Refuses models whose activations alone would not fit the budget: one float evaluation
/// (4 bytes per value) plus one integer trace (8 bytes per value) are held at once.
pub fn check_memory(graph: &FloatGraph, limit: u128) -> Result<(), VouchError> {
    let values: u128 = graph
        .tensors
        .iter()
        .map(|t| t.shape.iter().map(|&d| d as u128).product::<u128>())
        .sum();
    let need = values.saturating_mul(12);
    if need > limit {
        return Err(VouchError::Data {
            what: "model".into(),
            msg: format!(
                "its {values} activation and weight values need about {:.1} GiB to calibrate and run, above the {:.1} GiB budget (set VOUCH_MEMORY_LIMIT_GB to raise it)",
                need as f64 / (1u64 << 30) as f64,
                limit as f64 / (1u64 << 30) as f64
            ),
        });
    }
    Ok(())
}

/// Splits an array into per-sample inputs for a single-input model: the whole array when its
/// element count equals the input's, else samples along the first axis.
pub fn split_samples(
    graph: &FloatGraph,
    arr: &NpyArray,
    what: &str,
) -> Result<Vec<Sample>, VouchError> {
    let shapes: Vec<Vec<usize>> = graph
        .inputs
        .iter()
        .map(|&i| graph.tensors[i].shape.clone())
        .collect();
    split_for_shapes(&shapes, arr, what)
}

fn split_for_shapes(
    shapes: &[Vec<usize>],
    arr: &NpyArray,
    what: &str,
) -> Result<Vec<Sample>, VouchError> {
    let [shape] = shapes else {
        return Err(VouchError::Data {
            what: what.into(),
            msg: format!(
                "the model has {} inputs; .npy input supports single-input models (use JSON)",
                shapes.len()
            ),
        });
    };
    let per: usize = shape.iter().product();
    let n = arr.data.len();
    if per == 0 || n == 0 || !n.is_multiple_of(per) {
        return Err(VouchError::Data {
            what: what.into(),
            msg: format!(
                "array of shape {:?} ({n} values) does not hold whole samples of the model input shape {shape:?} ({per} values each)",
                arr.shape
            ),
        });
    }
    if n != per && arr.shape.first().map(|&d| d * per) != Some(n) {
        return Err(VouchError::Data {
            what: what.into(),
            msg: format!(
                "array of shape {:?}: the first axis must count samples of shape {shape:?}",
                arr.shape
            ),
        });
    }
    if let Some((i, v)) = arr.data.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        return Err(VouchError::Data {
            what: what.into(),
            msg: format!("value at flat index {i} is {v}"),
        });
    }
    Ok(arr.data.chunks(per).map(|c| vec![c.to_vec()]).collect())
}

/// Samples for a compiled program's inputs.
pub fn program_samples(
    program: &Program,
    arr: &NpyArray,
    what: &str,
) -> Result<Vec<Sample>, VouchError> {
    let shapes: Vec<Vec<usize>> = program
        .inputs
        .iter()
        .map(|&i| program.info(i).shape.clone())
        .collect();
    split_for_shapes(&shapes, arr, what)
}

/// One output of a run.
#[derive(Clone, Debug, Serialize)]
pub struct OutputValue {
    pub name: String,
    pub shape: Vec<usize>,
    /// Real values (`q * scale`).
    pub values: Vec<f32>,
    /// The integer values the program computed (what a proof attests).
    pub quantized: Vec<i64>,
    pub scale: Option<f64>,
}

/// Quantizes real inputs for a program.
pub fn quantize_inputs(program: &Program, sample: &Sample) -> Result<Vec<Tensor>, VouchError> {
    if sample.len() != program.inputs.len() {
        return Err(VouchError::Data {
            what: "input".into(),
            msg: format!(
                "the model has {} inputs, got {}",
                program.inputs.len(),
                sample.len()
            ),
        });
    }
    Ok(program
        .inputs
        .iter()
        .zip(sample)
        .map(|(&id, v)| quantize_input(program.info(id), v))
        .collect::<Result<Vec<_>, _>>()?)
}

/// Runs the quantized program on real inputs.
pub fn run(pkg: &ModelPackage, sample: &Sample) -> Result<Vec<OutputValue>, VouchError> {
    let inputs = quantize_inputs(&pkg.program, sample)?;
    let trace = interp::run(&pkg.program, &inputs)?;
    Ok(output_values(pkg, &trace))
}

/// The outputs of a run, named as in the source model, with their real values.
pub(crate) fn output_values(pkg: &ModelPackage, trace: &interp::Trace<'_>) -> Vec<OutputValue> {
    pkg.program
        .outputs
        .iter()
        .enumerate()
        .map(|(k, &id)| {
            let info = pkg.program.info(id);
            let t = trace.tensor(id);
            OutputValue {
                name: pkg
                    .meta
                    .output_names
                    .get(k)
                    .cloned()
                    .unwrap_or_else(|| info.name.clone()),
                shape: t.shape.clone(),
                values: dequantize(info, &t),
                quantized: t.data,
                scale: info.scale,
            }
        })
        .collect()
}

/// Top-1 accuracy of the quantized (and optionally the float) model on a labelled set.
#[derive(Clone, Debug, Serialize)]
pub struct EvalResult {
    pub samples: usize,
    pub quantized_accuracy: f64,
    pub float_accuracy: Option<f64>,
    /// Fraction of samples where quantized and float predictions agree.
    pub agreement: Option<f64>,
    pub quantized_seconds: f64,
    pub float_seconds: Option<f64>,
}

/// Evaluates on `data` (samples along the first axis) against integer `labels`.
pub fn eval(
    pkg: &ModelPackage,
    data: &NpyArray,
    labels: &NpyArray,
    float: Option<&FloatGraph>,
) -> Result<EvalResult, VouchError> {
    let samples = program_samples(&pkg.program, data, "data")?;
    if labels.data.len() != samples.len() {
        return Err(VouchError::Data {
            what: "labels".into(),
            msg: format!("{} labels for {} samples", labels.data.len(), samples.len()),
        });
    }
    let labels: Vec<usize> = labels
        .data
        .iter()
        .enumerate()
        .map(|(i, &l)| {
            if l >= 0.0 && l.fract() == 0.0 {
                Ok(l as usize)
            } else {
                Err(VouchError::Data {
                    what: "labels".into(),
                    msg: format!("label {i} is {l}; expected a class index"),
                })
            }
        })
        .collect::<Result<_, _>>()?;
    let t0 = Instant::now();
    let mut q_pred = Vec::with_capacity(samples.len());
    for s in &samples {
        let out = run(pkg, s)?;
        q_pred.push(argmax(&out[0].values));
    }
    let q_time = t0.elapsed();
    let (f_pred, f_time) = match float {
        Some(g) => {
            let t0 = Instant::now();
            let mut p = Vec::with_capacity(samples.len());
            for s in &samples {
                let vals = g.eval(s)?;
                let out = g
                    .outputs
                    .first()
                    .and_then(|&o| vals.get(o))
                    .ok_or_else(|| VouchError::Data {
                        what: "float model".into(),
                        msg: "has no outputs".into(),
                    })?;
                p.push(argmax(out));
            }
            (Some(p), Some(t0.elapsed()))
        }
        None => (None, None),
    };
    let n = samples.len().max(1) as f64;
    let acc = |p: &[usize]| p.iter().zip(&labels).filter(|(a, b)| a == b).count() as f64 / n;
    Ok(EvalResult {
        samples: samples.len(),
        quantized_accuracy: acc(&q_pred),
        float_accuracy: f_pred.as_deref().map(acc),
        agreement: f_pred
            .as_ref()
            .map(|f| f.iter().zip(&q_pred).filter(|(a, b)| a == b).count() as f64 / n),
        quantized_seconds: q_time.as_secs_f64(),
        float_seconds: f_time.map(|d: Duration| d.as_secs_f64()),
    })
}

/// Loads a float graph for comparison runs.
pub fn load_float(path: &Path) -> Result<FloatGraph, VouchError> {
    let bytes = std::fs::read(path).map_err(|e| VouchError::io(path, e))?;
    import(path, &bytes)
}

/// Imports ONNX bytes, naming the file in the error.
fn import(path: &Path, bytes: &[u8]) -> Result<FloatGraph, VouchError> {
    vouch_onnx::load_onnx_bytes(bytes).map_err(|source| VouchError::OnnxFile {
        path: path.display().to_string(),
        source: Box::new(source),
    })
}
