//! Accuracy report: the quantized interpreter against float inference, per layer and end to end.

use serde::{Deserialize, Serialize};
use vouch_ir::interp;

use super::{dequantize, quantize_input, QuantError, Quantized, Sample};
use crate::graph::FloatGraph;

/// Error of one quantized tensor against its float counterpart, over all samples.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct TensorError {
    pub tensor: String,
    /// ONNX op that produced the tensor (`input` for model inputs).
    pub op: String,
    pub max_abs_error: f64,
    /// Largest float magnitude of the tensor.
    pub max_abs_float: f64,
    /// `max_abs_error / max_abs_float`.
    pub max_rel_error: f64,
    /// Signal-to-quantization-noise ratio in dB; `None` when the quantized values are exact.
    pub snr_db: Option<f64>,
    #[serde(skip)]
    sum_sq_ref: f64,
    #[serde(skip)]
    sum_sq_err: f64,
}

impl TensorError {
    fn add(&mut self, reference: &[f32], quantized: &[f32]) {
        for (&r, &q) in reference.iter().zip(quantized) {
            let e = (r as f64 - q as f64).abs();
            self.max_abs_error = self.max_abs_error.max(e);
            self.max_abs_float = self.max_abs_float.max((r as f64).abs());
            self.sum_sq_ref += (r as f64) * (r as f64);
            self.sum_sq_err += e * e;
        }
    }

    fn finish(&mut self) {
        self.max_rel_error = if self.max_abs_float > 0.0 {
            self.max_abs_error / self.max_abs_float
        } else {
            self.max_abs_error
        };
        self.snr_db =
            (self.sum_sq_err > 0.0).then(|| 10.0 * (self.sum_sq_ref / self.sum_sq_err).log10());
    }
}

/// Per-layer and end-to-end comparison on a set of samples.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AccuracyReport {
    pub samples: usize,
    /// One entry per quantized float tensor, in program order.
    pub layers: Vec<TensorError>,
    /// One entry per model output.
    pub outputs: Vec<TensorError>,
    /// Fraction of samples whose arg-max over the first output agrees (classification models).
    pub top1_agreement: f64,
}

/// Runs float and quantized inference on `samples` and compares every mapped tensor.
pub fn accuracy_report(
    graph: &FloatGraph,
    q: &Quantized,
    samples: &[Sample],
) -> Result<AccuracyReport, QuantError> {
    let mut producer = vec!["input".to_string(); graph.tensors.len()];
    for n in &graph.nodes {
        producer[n.output] = n.onnx_op.clone();
    }
    let tracked: Vec<usize> = (0..graph.tensors.len())
        .filter(|&t| q.map[t].is_some() && graph.tensors[t].value.is_none())
        .collect();
    let mut layers: Vec<TensorError> = tracked
        .iter()
        .map(|&t| TensorError {
            tensor: graph.tensors[t].name.clone(),
            op: producer[t].clone(),
            ..Default::default()
        })
        .collect();
    let mut outputs: Vec<TensorError> = graph
        .outputs
        .iter()
        .map(|&t| TensorError {
            tensor: graph.tensors[t].name.clone(),
            op: producer[t].clone(),
            ..Default::default()
        })
        .collect();
    let mut agree = 0usize;
    for s in samples {
        let float = graph.eval(s)?;
        let inputs = q
            .program
            .inputs
            .iter()
            .zip(s)
            .map(|(&id, v)| quantize_input(q.program.info(id), v))
            .collect::<Result<Vec<_>, _>>()?;
        let trace = interp::run(&q.program, &inputs)?;
        for (e, &t) in layers.iter_mut().zip(&tracked) {
            let Some(qt) = q.map[t] else { continue };
            let info = q.program.info(qt.id);
            let vals = dequantize(info, &trace.tensor(qt.id));
            e.add(&float[t], &vals);
        }
        for (k, (e, &t)) in outputs.iter_mut().zip(&graph.outputs).enumerate() {
            let id = q.program.outputs[k];
            let vals = dequantize(q.program.info(id), &trace.tensor(id));
            e.add(&float[t], &vals);
            if k == 0 && argmax(&float[t]) == argmax(&vals) {
                agree += 1;
            }
        }
    }
    layers.iter_mut().for_each(TensorError::finish);
    outputs.iter_mut().for_each(TensorError::finish);
    Ok(AccuracyReport {
        samples: samples.len(),
        layers,
        outputs,
        top1_agreement: if samples.is_empty() {
            0.0
        } else {
            agree as f64 / samples.len() as f64
        },
    })
}

/// Index of the largest value (first on ties).
pub fn argmax(v: &[f32]) -> usize {
    let mut best = 0;
    for (i, &x) in v.iter().enumerate() {
        if x > v[best] {
            best = i;
        }
    }
    best
}
