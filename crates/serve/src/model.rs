//! The served model: the package, its keys, what `GET /v1/model` says about them, and the
//! validation of prediction inputs.

use serde_json::Value;
use vouch::artifact::{KeysDir, ModelPackage};
use vouch::backend::{Role, Visibility};
use vouch::model::run;
use vouch::onnx::quantize::Sample;
use vouch::prove::{commit_weights, role_name, visibility_name};

use crate::error::ServeError;
use crate::wire::{CommitmentView, ModelInfo, OutputView, PolicyView, PredictRequest, TensorView};

/// A model package with keys for it, checked to belong together.
#[derive(Debug)]
pub struct ServedModel {
    pub package: ModelPackage,
    pub keys: KeysDir,
    pub info: ModelInfo,
    /// `keys.json` as served (the summary only: never the weights blinding).
    pub keys_json: Vec<u8>,
}

impl ServedModel {
    /// Checks that the keys are for the package and can prove with it (for hashed weights:
    /// the keys directory holds the blinding that opens the published commitment).
    pub fn new(package: ModelPackage, keys: KeysDir) -> Result<Self, ServeError> {
        if keys.digest() != package.digest() {
            return Err(ServeError::Keys(format!(
                "made for model {}, but the package is model {}; run `vouch setup` for this model",
                keys.digest(),
                package.digest()
            )));
        }
        let mut commitments = Vec::new();
        if keys.summary.weights_commitment.is_some() {
            let c = commit_weights(&package, &keys).map_err(|e| ServeError::Keys(e.to_string()))?;
            commitments.push(CommitmentView {
                role: role_name(Role::Weights).into(),
                hex: c,
            });
        }
        let program = &package.program;
        let view = |ids: &[vouch::ir::TensorId], names: &[String]| -> Vec<TensorView> {
            ids.iter()
                .enumerate()
                .map(|(k, &id)| {
                    let t = program.info(id);
                    TensorView {
                        name: names.get(k).cloned().unwrap_or_else(|| t.name.clone()),
                        shape: t.shape.clone(),
                        dtype: "float32".into(),
                        scale: t.scale,
                        range: [t.range.lo, t.range.hi],
                    }
                })
                .collect()
        };
        let s = &keys.summary;
        let policy = s.policy;
        let info = ModelInfo {
            digest: package.digest().hex(),
            backend: s.backend.clone(),
            preset: s.preset.clone(),
            policy: PolicyView {
                input: visibility_name(policy.input).into(),
                weights: visibility_name(policy.weights).into(),
                output: visibility_name(policy.output).into(),
            },
            commitments,
            insecure_setup: s.insecure_setup,
            k: s.k,
            inputs: view(&program.inputs, &package.meta.input_names),
            outputs: view(&program.outputs, &package.meta.output_names),
            vk_sha256: s.vk_sha256.clone(),
            srs_sha256: s.srs_sha256.clone(),
            source: package.meta.source.clone(),
            vouch_version: env!("CARGO_PKG_VERSION").into(),
        };
        let mut keys_json = serde_json::to_vec_pretty(&keys.summary)
            .map_err(|e| ServeError::Keys(format!("keys.json does not serialize: {e}")))?;
        keys_json.push(b'\n');
        Ok(ServedModel {
            package,
            keys,
            info,
            keys_json,
        })
    }

    /// The verifying key file (`halo2.vk`, or `gkr.program` for gkr keys).
    pub fn vk_bytes(&self) -> &[u8] {
        &self.keys.vk_bytes
    }

    /// The key file's name in a keys directory.
    pub fn key_file(&self) -> &'static str {
        self.keys.key_file()
    }

    /// Whether proofs reveal the model's outputs.
    pub fn outputs_public(&self) -> bool {
        self.keys.summary.policy.output == Visibility::Public
    }

    /// Validates a prediction body and returns the model's input values.
    pub fn parse_input(&self, body: &[u8]) -> Result<Sample, InputError> {
        let req: Value = serde_json::from_slice(body)
            .map_err(|e| InputError::new("body", format!("not valid JSON: {e}")))?;
        let Value::Object(map) = req else {
            return Err(InputError::new(
                "body",
                format!(
                    "expected a JSON object with \"input\" (an array) or \"inputs\" (an object keyed by input name), got {}",
                    kind(&req)
                ),
            ));
        };
        if let Some(k) = map.keys().find(|k| *k != "input" && *k != "inputs") {
            return Err(InputError::new(
                k.as_str(),
                "unknown field; send \"input\" or \"inputs\"".into(),
            ));
        }
        let req: PredictRequest = serde_json::from_value(Value::Object(map)).map_err(|e| {
            InputError::new(
                "inputs",
                format!("expected an object keyed by input name: {e}"),
            )
        })?;
        let specs = &self.info.inputs;
        let arrays: Vec<(String, &Value)> = match (&req.input, &req.inputs) {
            (Some(_), Some(_)) => {
                return Err(InputError::new(
                    "body",
                    "send either \"input\" or \"inputs\", not both".into(),
                ))
            }
            (None, None) => {
                return Err(InputError::new(
                    "input",
                    "missing; send {\"input\": [...]} with the model's input values".into(),
                ))
            }
            (Some(v), None) => {
                if specs.len() != 1 {
                    return Err(InputError::new(
                        "input",
                        format!(
                            "the model has {} inputs ({}); send \"inputs\" keyed by name",
                            specs.len(),
                            names(specs)
                        ),
                    ));
                }
                vec![("input".to_string(), v)]
            }
            (None, Some(m)) => {
                if let Some(k) = m.keys().find(|k| !specs.iter().any(|s| &s.name == *k)) {
                    return Err(InputError::new(
                        format!("inputs.{k}"),
                        format!("the model has no such input (it has {})", names(specs)),
                    ));
                }
                specs
                    .iter()
                    .map(|s| {
                        m.get(&s.name)
                            .map(|v| (format!("inputs.{}", s.name), v))
                            .ok_or_else(|| {
                                InputError::new(format!("inputs.{}", s.name), "missing".into())
                            })
                    })
                    .collect::<Result<_, _>>()?
            }
        };
        arrays
            .into_iter()
            .zip(specs)
            .map(|((field, v), spec)| tensor_values(&field, v, spec))
            .collect()
    }

    /// Runs the model with the reference interpreter; the error says why the input was
    /// refused.
    pub fn run(&self, sample: &Sample) -> Result<Vec<OutputView>, String> {
        run(&self.package, sample)
            .map(|outs| outs.iter().map(OutputView::from).collect())
            .map_err(|e| e.to_string())
    }

    /// Hex of the model digest.
    pub fn digest_hex(&self) -> &str {
        &self.info.digest
    }
}

fn names(specs: &[TensorView]) -> String {
    specs
        .iter()
        .map(|s| s.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// A bad prediction input: the field at fault and what is wrong with it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct InputError {
    pub field: String,
    pub message: String,
}

impl InputError {
    pub fn new(field: impl Into<String>, message: String) -> Self {
        InputError {
            field: field.into(),
            message,
        }
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The flat values of one input: the array must be nested to the model's shape, or flat with
/// as many values; every value a finite float32 (an integer in range for integer inputs).
fn tensor_values(field: &str, v: &Value, spec: &TensorView) -> Result<Vec<f32>, InputError> {
    if !v.is_array() {
        return Err(InputError::new(
            field,
            format!("expected an array of numbers, got {}", kind(v)),
        ));
    }
    let want: usize = spec.shape.iter().product();
    let shape = infer_shape(v);
    let count = shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
    if shape != spec.shape && !(shape.len() == 1 && count == Some(want)) {
        return Err(InputError::new(
            field,
            format!(
                "shape {shape:?}; the model expects shape {:?} ({want} values), nested or flat",
                spec.shape
            ),
        ));
    }
    let mut out = Vec::with_capacity(want);
    walk(v, field, 0, &shape, &mut out)?;
    if spec.scale.is_none() {
        let [lo, hi] = spec.range;
        if let Some((i, x)) = out
            .iter()
            .enumerate()
            .find(|(_, &x)| x.fract() != 0.0 || (x as i64) < lo || (x as i64) > hi)
        {
            return Err(InputError::new(
                format!("{field} (flat index {i})"),
                format!("{x} is not an integer in [{lo}, {hi}] (the input is an integer tensor)"),
            ));
        }
    }
    Ok(out)
}

/// The shape of a nested array, read along its first elements.
fn infer_shape(v: &Value) -> Vec<usize> {
    let mut shape = Vec::new();
    let mut cur = v;
    while let Value::Array(items) = cur {
        shape.push(items.len());
        match items.first() {
            Some(first) => cur = first,
            None => break,
        }
    }
    shape
}

/// Checks that a nested array has `shape` everywhere (not ragged) and collects its values.
fn walk(
    v: &Value,
    path: &str,
    depth: usize,
    shape: &[usize],
    out: &mut Vec<f32>,
) -> Result<(), InputError> {
    match v {
        Value::Array(items) => {
            let Some(&n) = shape.get(depth) else {
                return Err(InputError::new(
                    path,
                    "ragged: an array where its siblings hold numbers".into(),
                ));
            };
            if items.len() != n {
                return Err(InputError::new(
                    path,
                    format!(
                        "ragged: {} elements where its siblings have {n}",
                        items.len()
                    ),
                ));
            }
            items.iter().enumerate().try_for_each(|(i, item)| {
                walk(item, &format!("{path}[{i}]"), depth + 1, shape, out)
            })
        }
        Value::Number(n) => {
            if depth != shape.len() {
                return Err(InputError::new(
                    path,
                    "ragged: a number where its siblings hold arrays".into(),
                ));
            }
            let f = n
                .as_f64()
                .filter(|f| f.is_finite())
                .ok_or_else(|| InputError::new(path, format!("{n} is not a finite number")))?;
            let x = f as f32;
            if !x.is_finite() {
                return Err(InputError::new(
                    path,
                    format!("{n} is outside the float32 range"),
                ));
            }
            out.push(x);
            Ok(())
        }
        other => Err(InputError::new(
            path,
            format!("expected a number, got {}", kind(other)),
        )),
    }
}
