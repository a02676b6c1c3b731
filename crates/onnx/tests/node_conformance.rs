//! Per-operator conformance against the ONNX backend node tests (`$VOUCH_MODELS/onnx_node_tests`,
//! one directory per case with `model.onnx` and `test_data_set_0/{input,output}_*.pb`).
//!
//! Every case is imported, evaluated in float and compared with the reference outputs, then
//! calibrated on its own inputs, quantized with the default 8-bit configuration and with a 16-bit
//! one, run through the reference interpreter and compared again (tolerances: see
//! [`FLOAT_RTOL`], [`Q8_TOL`], [`Q16_TOL`] and `docs/onnx-ops.md`). Each case gets one class:
//! `pass`, `float-fail`, `quant-fail`, `error` (a typed error, kept with its message),
//! `unsupported` (an op or dtype outside the frontend) or `panic` (a bug).
//!
//! The test fails when a case listed in `tests/data/node_cases_pass.txt` no longer passes at a
//! level (`float`, `q16`, `q8`) the list records for it. With `VOUCH_UPDATE_NODE_CASES=1` it
//! rewrites that list and the generated part of `docs/onnx-ops.md` instead; with
//! `VOUCH_NODE_CASES_VERBOSE=1` it prints every non-passing case with its reason (`=2`: every
//! case). Without the generated cases it skips with a note, unless `VOUCH_REQUIRE_MODELS=1`.
//!
//! Test inputs that the frontend needs at import time (non-float data: indices, shapes, axes,
//! conditions; and scalars: clip bounds, pad values) become initializers, as they are in
//! exported models; when the import still asks for a constant input, or the quantizer asks for
//! constant weights (`Conv` weights, normalization scales fed as test inputs), every input but
//! the first is frozen and the case re-run.

#![allow(clippy::unwrap_used)]

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use prost::Message;
use rayon::prelude::*;
use tract_onnx::pb;
use vouch_ir::{interp, Tensor};

mod float_common;
use float_common::f16;
use vouch_onnx::quantize::{
    collect_stats, dequantize, quantize, quantize_input, QuantConfig, QuantError,
};
use vouch_onnx::{load_onnx_bytes, FloatGraph, OnnxError, SUPPORTED_OPS};

/// Float conformance: `|got - want| <= FLOAT_ATOL + rtol * |want|` elementwise, with `rtol` =
/// `FLOAT_RTOL` for float32/float64 references (looser for float16 / bfloat16 references, which
/// carry their own rounding).
const FLOAT_RTOL: f64 = 1e-3;
const FLOAT_ATOL: f64 = 1e-4;
/// Quantized conformance, per output tensor: `max |got - want| <= tol * max(1, max |want|)`.
const Q8_TOL: f64 = 0.05;
const Q16_TOL: f64 = 2e-3;

const PASS_LIST: &str = "tests/data/node_cases_pass.txt";
const DOC: &str = "../../docs/onnx-ops.md";
const DOC_BEGIN: &str = "<!-- BEGIN GENERATED: node conformance (cargo test -p vouch-onnx --test node_conformance, VOUCH_UPDATE_NODE_CASES=1) -->";
const DOC_END: &str = "<!-- END GENERATED: node conformance -->";

fn q8_config() -> QuantConfig {
    QuantConfig::default()
}

fn q16_config() -> QuantConfig {
    QuantConfig {
        weight_bits: 16,
        act_bits: 16,
        lut_bits: 16,
        ..QuantConfig::default()
    }
}

// ----- test data ----------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Float,
    Int,
    Bool,
}

/// A decoded test-data tensor.
#[derive(Clone, Debug)]
struct Data {
    shape: Vec<usize>,
    values: Vec<f32>,
    kind: Kind,
    /// Elementwise relative tolerance of a float comparison against this tensor.
    rtol: f64,
}

fn le<const N: usize>(c: &[u8]) -> [u8; N] {
    let mut a = [0u8; N];
    a.copy_from_slice(c);
    a
}

/// Decodes a `TensorProto` (raw_data or the typed fields) into `f32` values.
fn decode(t: &pb::TensorProto) -> Result<Data, String> {
    let raw = &t.raw_data;
    let r = !raw.is_empty();
    let bf16 = |h: u16| f32::from_bits(u32::from(h) << 16);
    let i32s = || t.int32_data.iter().map(|&v| v as f32).collect::<Vec<_>>();
    let (values, kind, rtol): (Vec<f32>, Kind, f64) = match t.data_type {
        1 if r => (
            raw.chunks_exact(4)
                .map(|c| f32::from_le_bytes(le(c)))
                .collect(),
            Kind::Float,
            FLOAT_RTOL,
        ),
        1 => (t.float_data.clone(), Kind::Float, FLOAT_RTOL),
        11 if r => (
            raw.chunks_exact(8)
                .map(|c| f64::from_le_bytes(le(c)) as f32)
                .collect(),
            Kind::Float,
            FLOAT_RTOL,
        ),
        11 => (
            t.double_data.iter().map(|&v| v as f32).collect(),
            Kind::Float,
            FLOAT_RTOL,
        ),
        10 if r => (
            raw.chunks_exact(2)
                .map(|c| f16(u16::from_le_bytes(le(c))))
                .collect(),
            Kind::Float,
            5e-3,
        ),
        10 => (
            t.int32_data.iter().map(|&v| f16(v as u16)).collect(),
            Kind::Float,
            5e-3,
        ),
        16 if r => (
            raw.chunks_exact(2)
                .map(|c| bf16(u16::from_le_bytes(le(c))))
                .collect(),
            Kind::Float,
            3e-2,
        ),
        16 => (
            t.int32_data.iter().map(|&v| bf16(v as u16)).collect(),
            Kind::Float,
            3e-2,
        ),
        7 if r => (
            raw.chunks_exact(8)
                .map(|c| i64::from_le_bytes(le(c)) as f32)
                .collect(),
            Kind::Int,
            0.0,
        ),
        7 => (
            t.int64_data.iter().map(|&v| v as f32).collect(),
            Kind::Int,
            0.0,
        ),
        13 if r => (
            raw.chunks_exact(8)
                .map(|c| u64::from_le_bytes(le(c)) as f32)
                .collect(),
            Kind::Int,
            0.0,
        ),
        12 if r => (
            raw.chunks_exact(4)
                .map(|c| u32::from_le_bytes(le(c)) as f32)
                .collect(),
            Kind::Int,
            0.0,
        ),
        12 | 13 => (
            t.uint64_data.iter().map(|&v| v as f32).collect(),
            Kind::Int,
            0.0,
        ),
        6 if r => (
            raw.chunks_exact(4)
                .map(|c| i32::from_le_bytes(le(c)) as f32)
                .collect(),
            Kind::Int,
            0.0,
        ),
        5 if r => (
            raw.chunks_exact(2)
                .map(|c| f32::from(i16::from_le_bytes(le(c))))
                .collect(),
            Kind::Int,
            0.0,
        ),
        4 if r => (
            raw.chunks_exact(2)
                .map(|c| f32::from(u16::from_le_bytes(le(c))))
                .collect(),
            Kind::Int,
            0.0,
        ),
        3 if r => (
            raw.iter().map(|&v| f32::from(v as i8)).collect(),
            Kind::Int,
            0.0,
        ),
        2 if r => (raw.iter().map(|&v| f32::from(v)).collect(), Kind::Int, 0.0),
        2..=6 => (i32s(), Kind::Int, 0.0),
        9 if r => (
            raw.iter().map(|&v| f32::from(u8::from(v != 0))).collect(),
            Kind::Bool,
            0.0,
        ),
        9 => (i32s(), Kind::Bool, 0.0),
        other => return Err(format!("test data of ONNX element type {other}")),
    };
    let shape: Vec<usize> = t
        .dims
        .iter()
        .map(|&d| usize::try_from(d).map_err(|_| format!("negative dimension {d}")))
        .collect::<Result<_, _>>()?;
    if values.len() != shape.iter().product::<usize>() {
        return Err(format!("{} values for shape {shape:?}", values.len()));
    }
    Ok(Data {
        shape,
        values,
        kind,
        rtol,
    })
}

fn read_tensor(path: &Path) -> Result<(pb::TensorProto, Data), String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let t = pb::TensorProto::decode(bytes.as_slice())
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let d = decode(&t)?;
    Ok((t, d))
}

// ----- outcomes -----------------------------------------------------------------------------

/// Result of one quantized configuration on one case.
#[derive(Clone, Debug)]
enum QOut {
    /// Worst output's error ratio `max|got - want| / max(1, max|want|)`.
    Pass(f64),
    Fail(f64, String),
    Error(String),
    Panic(String),
}

impl QOut {
    fn passed(&self) -> bool {
        matches!(self, QOut::Pass(_))
    }
}

#[derive(Clone, Debug)]
enum Status {
    Unsupported(String),
    Error(String),
    Panic(String),
    FloatFail(String),
    /// Float conformance passed; the quantized results follow.
    Float {
        q8: QOut,
        q16: QOut,
    },
}

#[derive(Clone, Debug)]
struct CaseResult {
    name: String,
    op: String,
    status: Status,
    /// Inputs turned into initializers.
    frozen: usize,
    /// The imported graph has no runtime input (everything folded at import time).
    folded: bool,
    elapsed: Duration,
}

impl CaseResult {
    fn class(&self) -> &'static str {
        match &self.status {
            Status::Unsupported(_) => "unsupported",
            Status::Error(_) => "error",
            Status::Panic(_) => "panic",
            Status::FloatFail(_) => "float-fail",
            Status::Float { q8, q16 } => {
                let all = [q8, q16];
                if all.iter().any(|q| matches!(q, QOut::Panic(_))) {
                    "panic"
                } else if all.iter().any(|q| matches!(q, QOut::Error(_))) {
                    "error"
                } else if all.iter().all(|q| q.passed()) {
                    "pass"
                } else {
                    "quant-fail"
                }
            }
        }
    }

    /// Levels (`float`, `q16`, `q8`) at which the case passes.
    fn levels(&self) -> Vec<&'static str> {
        match &self.status {
            Status::Float { q8, q16 } => {
                let mut v = vec!["float"];
                if q16.passed() {
                    v.push("q16");
                }
                if q8.passed() {
                    v.push("q8");
                }
                v
            }
            _ => Vec::new(),
        }
    }

    fn reason(&self) -> String {
        match &self.status {
            Status::Unsupported(m) | Status::Error(m) | Status::Panic(m) | Status::FloatFail(m) => {
                m.clone()
            }
            Status::Float { q8, q16 } => {
                let d = |q: &QOut| match q {
                    QOut::Pass(r) => format!("ok (err {r:.2e})"),
                    QOut::Fail(r, m) => format!("err {r:.3} ({m})"),
                    QOut::Error(m) => format!("error: {m}"),
                    QOut::Panic(m) => format!("PANIC: {m}"),
                };
                format!("8-bit: {}; 16-bit: {}", d(q8), d(q16))
            }
        }
    }
}

// ----- panics -------------------------------------------------------------------------------

thread_local! {
    static PANIC_MSG: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Runs `f`, turning a panic into `Err(message)` (the message is recorded by the hook installed
/// in the test).
fn guarded<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    PANIC_MSG.with(|m| m.borrow_mut().take());
    catch_unwind(AssertUnwindSafe(f)).map_err(|_| {
        PANIC_MSG
            .with(|m| m.borrow_mut().take())
            .unwrap_or_else(|| "panic".into())
    })
}

// ----- one case -----------------------------------------------------------------------------

fn short(e: impl std::fmt::Display) -> String {
    let s = e.to_string().replace('\n', " ");
    if s.chars().count() > 300 {
        let t: String = s.chars().take(300).collect();
        format!("{t}...")
    } else {
        s
    }
}

/// The model with the selected inputs moved into the initializers.
fn freeze(
    model: &pb::ModelProto,
    inputs: &[(String, pb::TensorProto, Data)],
    pick: impl Fn(usize, &Data) -> bool,
) -> (Vec<u8>, usize) {
    let mut m = model.clone();
    let mut n = 0;
    if let Some(g) = m.graph.as_mut() {
        for (k, (name, t, d)) in inputs.iter().enumerate() {
            if pick(k, d) {
                let mut t = t.clone();
                t.name = name.clone();
                g.initializer.push(t);
                g.input.retain(|vi| vi.name != *name);
                n += 1;
            }
        }
    }
    (m.encode_to_vec(), n)
}

fn float_mismatch(g: &FloatGraph, values: &[Vec<f32>], want: &[Data]) -> Option<String> {
    if g.outputs.len() != want.len() {
        return Some(format!(
            "{} outputs, expected {}",
            g.outputs.len(),
            want.len()
        ));
    }
    for (k, (&id, w)) in g.outputs.iter().zip(want).enumerate() {
        let shape = &g.tensors[id].shape;
        if *shape != w.shape {
            return Some(format!(
                "output {k}: shape {shape:?}, expected {:?}",
                w.shape
            ));
        }
        let got = &values[id];
        if got.len() != w.values.len() {
            return Some(format!(
                "output {k}: {} values, expected {}",
                got.len(),
                w.values.len()
            ));
        }
        for (j, (&a, &b)) in got.iter().zip(&w.values).enumerate() {
            let (a64, b64) = (f64::from(a), f64::from(b));
            let ok = a == b
                || (a.is_nan() && b.is_nan())
                || (a64 - b64).abs() <= FLOAT_ATOL + w.rtol * b64.abs();
            if !ok {
                return Some(format!("output {k}[{j}]: got {a}, expected {b}"));
            }
        }
    }
    None
}

/// Calibrates on `feed`, quantizes with `cfg`, runs the interpreter and compares with `want`.
fn quantized(
    g: &FloatGraph,
    feed: &[Vec<f32>],
    want: &[Data],
    cfg: &QuantConfig,
    tol: f64,
) -> (QOut, bool) {
    let needs_const = std::cell::Cell::new(false);
    let run = || -> Result<QOut, String> {
        let stats =
            collect_stats(g, &[feed.to_vec()]).map_err(|e| format!("calibrate: {}", short(e)))?;
        let q = quantize(g, &stats, cfg).map_err(|e| {
            needs_const.set(matches!(e, QuantError::Unsupported { .. }));
            format!("quantize: {}", short(e))
        })?;
        let p = &q.program;
        let mut inputs: Vec<Tensor> = Vec::new();
        for &pid in &p.inputs {
            let info = p.info(pid);
            let k = g
                .inputs
                .iter()
                .position(|&i| g.tensors[i].name == info.name)
                .ok_or_else(|| format!("program input '{}' is not a graph input", info.name))?;
            inputs.push(
                quantize_input(info, &feed[k])
                    .map_err(|e| format!("quantize input: {}", short(e)))?,
            );
        }
        let trace = interp::run(p, &inputs).map_err(|e| format!("interpreter: {}", short(e)))?;
        if p.outputs.len() != want.len() {
            return Err(format!(
                "program has {} outputs, expected {}",
                p.outputs.len(),
                want.len()
            ));
        }
        let mut worst = 0f64;
        let mut worst_msg = String::new();
        for (k, (t, w)) in trace.outputs().iter().zip(want).enumerate() {
            let got = dequantize(p.info(p.outputs[k]), t);
            if got.len() != w.values.len() {
                return Ok(QOut::Fail(
                    f64::INFINITY,
                    format!(
                        "output {k}: {} values, expected {}",
                        got.len(),
                        w.values.len()
                    ),
                ));
            }
            let mut err = 0f64;
            let mut at = 0;
            let mut reference = 0f64;
            for (j, (&a, &b)) in got.iter().zip(&w.values).enumerate() {
                let d = (f64::from(a) - f64::from(b)).abs();
                let d = if d.is_nan() { f64::INFINITY } else { d };
                if d > err {
                    err = d;
                    at = j;
                }
                reference = reference.max(f64::from(b).abs());
            }
            let ratio = err / reference.max(1.0);
            if ratio > worst || worst_msg.is_empty() {
                worst = ratio;
                worst_msg = format!(
                    "output {k}[{at}]: got {}, expected {} (max |expected| {reference:.4})",
                    got.get(at).copied().unwrap_or(f32::NAN),
                    w.values.get(at).copied().unwrap_or(f32::NAN)
                );
            }
        }
        Ok(if worst <= tol {
            QOut::Pass(worst)
        } else {
            QOut::Fail(worst, worst_msg)
        })
    };
    let q = match guarded(run) {
        Ok(Ok(q)) => q,
        Ok(Err(e)) => QOut::Error(e),
        Err(p) => QOut::Panic(p),
    };
    (q, needs_const.get())
}

/// How many test inputs become initializers.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Freeze {
    /// Non-float and scalar inputs.
    Params,
    /// Every input but the first.
    AllButFirst,
}

type Inputs = [(String, pb::TensorProto, Data)];

struct Evaluated {
    status: Status,
    frozen: usize,
    folded: bool,
    /// The quantizer asked for a constant operand (weights, normalization parameters).
    needs_const: bool,
}

/// Imports with the inputs chosen by `level` frozen (moving to [`Freeze::AllButFirst`] when the
/// import asks for a constant), evaluates in float, and quantizes.
fn evaluate(model: &pb::ModelProto, inputs: &Inputs, want: &[Data], level: Freeze) -> Evaluated {
    let attempt = |level: Freeze| {
        let (bytes, n) = freeze(model, inputs, |k, d| {
            d.kind != Kind::Float || d.shape.is_empty() || (level == Freeze::AllButFirst && k > 0)
        });
        (guarded(|| load_onnx_bytes(&bytes)), n)
    };
    let (mut result, mut frozen) = attempt(level);
    if let Ok(Err(OnnxError::NotConstant { .. })) = &result {
        if level == Freeze::Params {
            (result, frozen) = attempt(Freeze::AllButFirst);
        }
    }
    let done = |status: Status, folded: bool| Evaluated {
        status,
        frozen,
        folded,
        needs_const: false,
    };
    let g = match result {
        Err(p) => return done(Status::Panic(format!("import: {p}")), false),
        Ok(Err(e @ (OnnxError::UnsupportedOp { .. } | OnnxError::UnsupportedDType { .. }))) => {
            return done(Status::Unsupported(short(e)), false)
        }
        Ok(Err(e)) => return done(Status::Error(format!("import: {}", short(e))), false),
        Ok(Ok(g)) => g,
    };
    let folded = g.inputs.is_empty();
    let mut feed = Vec::new();
    for &id in &g.inputs {
        let name = &g.tensors[id].name;
        match inputs.iter().find(|(n, _, _)| n == name) {
            Some((_, _, d)) => feed.push(d.values.clone()),
            None => {
                return done(
                    Status::Error(format!("graph input '{name}' has no test data")),
                    folded,
                )
            }
        }
    }
    let values = match guarded(|| g.eval(&feed)) {
        Err(p) => return done(Status::Panic(format!("eval: {p}")), folded),
        Ok(Err(e)) => return done(Status::Error(format!("eval: {}", short(e))), folded),
        Ok(Ok(v)) => v,
    };
    if let Some(m) = float_mismatch(&g, &values, want) {
        return done(Status::FloatFail(m), folded);
    }
    let (q8, c8) = quantized(&g, &feed, want, &q8_config(), Q8_TOL);
    let (q16, c16) = quantized(&g, &feed, want, &q16_config(), Q16_TOL);
    Evaluated {
        status: Status::Float { q8, q16 },
        frozen,
        folded,
        needs_const: c8 || c16,
    }
}

fn run_case(dir: &Path) -> (Status, usize, bool) {
    let model = match std::fs::read(dir.join("model.onnx"))
        .map_err(short)
        .and_then(|b| pb::ModelProto::decode(b.as_slice()).map_err(short))
    {
        Ok(m) => m,
        Err(e) => return (Status::Error(format!("reading model.onnx: {e}")), 0, false),
    };
    let Some(graph) = model.graph.as_ref() else {
        return (Status::Error("model without graph".into()), 0, false);
    };
    let supported: BTreeSet<&str> = SUPPORTED_OPS
        .iter()
        .map(|s| s.split(' ').next().unwrap_or(s))
        .collect();
    let missing: BTreeSet<&str> = graph
        .node
        .iter()
        .map(|n| n.op_type.as_str())
        .filter(|o| !supported.contains(o))
        .collect();
    if !missing.is_empty() {
        let list: Vec<&str> = missing.into_iter().collect();
        return (
            Status::Unsupported(format!("not in SUPPORTED_OPS: {}", list.join(", "))),
            0,
            false,
        );
    }
    let data = dir.join("test_data_set_0");
    let initialized: BTreeSet<&str> = graph.initializer.iter().map(|t| t.name.as_str()).collect();
    let mut inputs = Vec::new();
    for (k, vi) in graph
        .input
        .iter()
        .filter(|vi| !initialized.contains(vi.name.as_str()))
        .enumerate()
    {
        match read_tensor(&data.join(format!("input_{k}.pb"))) {
            Ok((t, d)) => inputs.push((vi.name.clone(), t, d)),
            Err(e) => {
                return (
                    Status::Unsupported(format!("input {k} ('{}'): {e}", vi.name)),
                    0,
                    false,
                )
            }
        }
    }
    let mut want = Vec::new();
    for k in 0..graph.output.len() {
        match read_tensor(&data.join(format!("output_{k}.pb"))) {
            Ok((_, d)) => want.push(d),
            Err(e) => return (Status::Unsupported(format!("output {k}: {e}")), 0, false),
        }
    }
    let mut e = evaluate(&model, &inputs, &want, Freeze::Params);
    // Weights given as test inputs (Conv W, LayerNorm scale, ...) are initializers in real
    // models: quantize those with the operands after the first frozen.
    let more = inputs
        .iter()
        .enumerate()
        .any(|(k, (_, _, d))| k > 0 && d.kind == Kind::Float && !d.shape.is_empty());
    if e.needs_const && more && e.frozen < inputs.len() {
        e = evaluate(&model, &inputs, &want, Freeze::AllButFirst);
    }
    (e.status, e.frozen, e.folded)
}

// ----- the test -----------------------------------------------------------------------------

fn models_root() -> Option<PathBuf> {
    let base = match std::env::var_os("VOUCH_MODELS") {
        Some(d) => PathBuf::from(d),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../models/out"),
    };
    let root = base.join("onnx_node_tests");
    if root.is_dir() {
        return Some(root);
    }
    let msg = format!(
        "{} not found (set VOUCH_MODELS or run the model generator)",
        root.display()
    );
    assert!(
        std::env::var_os("VOUCH_REQUIRE_MODELS").is_none_or(|v| v != "1"),
        "VOUCH_REQUIRE_MODELS=1 but {msg}"
    );
    eprintln!("NOTE: {msg}; skipping the ONNX node conformance test");
    None
}

fn env_on(key: &str) -> bool {
    std::env::var_os(key).is_some_and(|v| v == "1")
}

/// Case name -> op types, from `index.json` (`{"cases": {"test_abs": ["Abs"], ...}}`).
fn read_index(root: &Path) -> BTreeMap<String, Vec<String>> {
    let Ok(text) = std::fs::read_to_string(root.join("index.json")) else {
        return BTreeMap::new();
    };
    let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
    let mut out = BTreeMap::new();
    if let Some(cases) = v.get("cases").and_then(|c| c.as_object()) {
        for (k, ops) in cases {
            let ops = ops
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|o| o.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default();
            out.insert(k.clone(), ops);
        }
    }
    out
}

/// The op a case is about: its only op type, or for `*_expanded*` cases (a function body) the
/// op of the base case.
fn primary_op(name: &str, index: &BTreeMap<String, Vec<String>>, dir: &Path) -> String {
    let ops_of = |n: &str| -> Vec<String> {
        if let Some(v) = index.get(n) {
            return v.clone();
        }
        let path = dir.with_file_name(n).join("model.onnx");
        let mut ops: Vec<String> = std::fs::read(path)
            .ok()
            .and_then(|b| pb::ModelProto::decode(b.as_slice()).ok())
            .and_then(|m| m.graph)
            .map(|g| g.node.iter().map(|n| n.op_type.clone()).collect())
            .unwrap_or_default();
        ops.sort();
        ops.dedup();
        ops
    };
    let ops = ops_of(name);
    if ops.len() == 1 {
        return ops[0].clone();
    }
    if let Some(i) = name.find("_expanded") {
        let base = ops_of(&name[..i]);
        if base.len() == 1 {
            return base[0].clone();
        }
    }
    if ops.is_empty() {
        "?".into()
    } else {
        ops.join("+")
    }
}

/// `name -> levels` from the committed pass list (`test_abs float q16 q8`, `#` comments).
fn read_pass_list(path: &Path) -> BTreeMap<String, Vec<String>> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            let name = it.next()?.to_string();
            Some((name, it.map(String::from).collect()))
        })
        .collect()
}

#[derive(Default)]
struct OpRow {
    cases: usize,
    unsupported: usize,
    error: usize,
    panic: usize,
    float_pass: usize,
    float_fail: usize,
    q16: usize,
    q8: usize,
    quant_fail: usize,
    folded: usize,
}

impl OpRow {
    fn add(&mut self, r: &CaseResult) {
        self.cases += 1;
        let levels = r.levels();
        match r.class() {
            "unsupported" => self.unsupported += 1,
            "error" => self.error += 1,
            "panic" => self.panic += 1,
            "float-fail" => self.float_fail += 1,
            "quant-fail" => self.quant_fail += 1,
            _ => {}
        }
        if levels.contains(&"float") {
            self.float_pass += 1;
            if r.folded {
                self.folded += 1;
            }
        }
        if levels.contains(&"q16") {
            self.q16 += 1;
        }
        if levels.contains(&"q8") {
            self.q8 += 1;
        }
    }

    fn cells(&self) -> [usize; 10] {
        [
            self.cases,
            self.unsupported,
            self.float_pass,
            self.q8,
            self.q16,
            self.float_fail,
            self.quant_fail,
            self.error,
            self.panic,
            self.folded,
        ]
    }
}

const COLUMNS: &str = "| op | cases | unsupported | float pass | pass 8-bit | pass 16-bit | float-fail | quant-fail | error | panic | folded |\n|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n";

fn table(rows: &BTreeMap<String, OpRow>, total: &OpRow, only_tried: bool) -> String {
    let mut s = String::from(COLUMNS);
    for (op, r) in rows {
        if only_tried && r.unsupported == r.cases {
            continue;
        }
        let c = r.cells();
        let cells: Vec<String> = c.iter().map(|v| v.to_string()).collect();
        let _ = writeln!(s, "| {op} | {} |", cells.join(" | "));
    }
    let c = total.cells();
    let cells: Vec<String> = c.iter().map(|v| format!("**{v}**")).collect();
    let _ = writeln!(s, "| **total** | {} |", cells.join(" | "));
    s
}

fn generated_section(
    results: &[CaseResult],
    rows: &BTreeMap<String, OpRow>,
    total: &OpRow,
    source: &str,
) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "Generated from {} cases ({source}). Classes are exclusive: **pass** = float and both quantized \
configurations within tolerance; *pass 8-bit* / *pass 16-bit* count the cases whose quantized result \
is within tolerance at that precision (float pass included); *quant-fail* = float passes but at \
least one precision is outside tolerance; *folded* = passing cases whose graph was entirely \
evaluated at import time (constant folding; no runtime input left).\n",
        results.len()
    );
    let _ = writeln!(s, "### Ops with at least one supported case\n");
    s.push_str(&table(rows, total, true));
    let _ = writeln!(
        s,
        "\n### Quantized error distribution\n\nError ratio `max |got - want| / max(1, max |want|)` (worst output) over the \
cases that pass in float and quantize without an error; tolerance {Q8_TOL} at 8 bits, {Q16_TOL} at 16 bits.\n"
    );
    s.push_str(&error_histogram(results));
    let unsupported: Vec<&String> = rows
        .iter()
        .filter(|(_, r)| r.unsupported == r.cases)
        .map(|(k, _)| k)
        .collect();
    let _ = writeln!(
        s,
        "\n### Ops without a supported case ({})\n\n{}\n",
        unsupported.len(),
        unsupported
            .iter()
            .map(|o| format!("`{o}`"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let _ = writeln!(
        s,
        "### Cases that do not pass (unsupported ones excluded)\n"
    );
    let _ = writeln!(s, "<details><summary>per-case reasons</summary>\n");
    let _ = writeln!(s, "| case | op | class | reason |\n|---|---|---|---|");
    for r in results {
        let class = r.class();
        if class == "pass" || class == "unsupported" {
            continue;
        }
        let reason = r.reason().replace('|', "\\|");
        let _ = writeln!(s, "| `{}` | {} | {class} | {reason} |", r.name, r.op);
    }
    let _ = writeln!(s, "\n</details>");
    s
}

/// How many float-passing cases have their quantized error ratio below each threshold.
fn error_histogram(results: &[CaseResult]) -> String {
    const EDGES: [f64; 7] = [1e-4, 1e-3, 5e-3, 0.01, 0.02, 0.05, 0.1];
    let mut s = String::from("| config | quantized | ");
    s.push_str(
        &EDGES
            .iter()
            .map(|e| format!("<= {e}"))
            .collect::<Vec<_>>()
            .join(" | "),
    );
    s.push_str(" | larger |\n|---|--:|");
    s.push_str(&"--:|".repeat(EDGES.len() + 1));
    s.push('\n');
    for (label, pick) in [("8-bit", 0usize), ("16-bit", 1)] {
        let ratios: Vec<f64> = results
            .iter()
            .filter_map(|r| match &r.status {
                Status::Float { q8, q16 } => match [q8, q16][pick] {
                    QOut::Pass(x) | QOut::Fail(x, _) => Some(*x),
                    _ => None,
                },
                _ => None,
            })
            .collect();
        let mut cells = vec![ratios.len().to_string()];
        for e in EDGES {
            cells.push(ratios.iter().filter(|&&x| x <= e).count().to_string());
        }
        cells.push(
            ratios
                .iter()
                .filter(|&&x| x > EDGES[EDGES.len() - 1])
                .count()
                .to_string(),
        );
        let _ = writeln!(s, "| {label} | {} |", cells.join(" | "));
    }
    s
}

fn write_doc(path: &Path, section: &str) {
    let old = std::fs::read_to_string(path).unwrap_or_default();
    let body = format!("{DOC_BEGIN}\n\n{section}\n{DOC_END}");
    let new = match (old.find(DOC_BEGIN), old.find(DOC_END)) {
        (Some(a), Some(b)) if a < b => format!("{}{body}{}", &old[..a], &old[b + DOC_END.len()..]),
        _ => format!("{old}\n## Conformance results\n\n{body}\n"),
    };
    std::fs::write(path, new).unwrap();
}

#[test]
fn onnx_node_conformance() {
    let Some(root) = models_root() else { return };
    let index = read_index(&root);
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.is_dir() && p.join("model.onnx").is_file())
        .collect();
    dirs.sort();
    let start = Instant::now();
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|info| {
        let msg = match info.payload().downcast_ref::<&str>() {
            Some(s) => (*s).to_string(),
            None => info
                .payload()
                .downcast_ref::<String>()
                .cloned()
                .unwrap_or_default(),
        };
        let at = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        PANIC_MSG.with(|m| *m.borrow_mut() = Some(format!("{msg}{at}")));
    }));
    let results: Vec<CaseResult> = dirs
        .par_iter()
        .map(|dir| {
            let name = dir.file_name().unwrap().to_string_lossy().to_string();
            let op = primary_op(&name, &index, dir);
            let t = Instant::now();
            let (status, frozen, folded) = run_case(dir);
            CaseResult {
                name,
                op,
                status,
                frozen,
                folded,
                elapsed: t.elapsed(),
            }
        })
        .collect();
    std::panic::set_hook(default_hook);
    let elapsed = start.elapsed();

    // Per-op summary.
    let mut rows: BTreeMap<String, OpRow> = BTreeMap::new();
    let mut total = OpRow::default();
    let mut classes: BTreeMap<&str, usize> = BTreeMap::new();
    for r in &results {
        rows.entry(r.op.clone()).or_default().add(r);
        total.add(r);
        *classes.entry(r.class()).or_default() += 1;
    }
    println!("{}", table(&rows, &total, true));
    println!(
        "{} ONNX node cases in {:.1} s: {classes:?}; {} pass at 8 bits, {} at 16 bits, {} in float; {} imported with frozen inputs",
        results.len(),
        elapsed.as_secs_f64(),
        total.q8,
        total.q16,
        total.float_pass,
        results.iter().filter(|r| r.frozen > 0 && !r.levels().is_empty()).count(),
    );
    let hist = error_histogram(&results);
    println!("{hist}");
    let mut slow: Vec<&CaseResult> = results.iter().collect();
    slow.sort_by_key(|r| std::cmp::Reverse(r.elapsed));
    let slow: Vec<String> = slow
        .iter()
        .take(5)
        .map(|r| format!("{} {:.2}s", r.name, r.elapsed.as_secs_f64()))
        .collect();
    println!("slowest: {}", slow.join(", "));

    // VOUCH_NODE_CASES_VERBOSE=1: every case that does not pass; =2: every case.
    let verbose = std::env::var("VOUCH_NODE_CASES_VERBOSE").unwrap_or_default();
    for r in &results {
        let class = r.class();
        if class == "panic" {
            println!("PANIC {} ({}): {}", r.name, r.op, r.reason());
        } else if (verbose == "1" && class != "pass") || verbose == "2" {
            println!("{class} {} ({}): {}", r.name, r.op, r.reason());
        }
    }

    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let list_path = manifest.join(PASS_LIST);
    if env_on("VOUCH_UPDATE_NODE_CASES") {
        let mut s = String::from(
            "# ONNX node test cases that pass, with the levels they pass at (float = float evaluation,\n\
             # q16 = 16-bit quantization, q8 = default 8-bit quantization). Regression guard for\n\
             # tests/node_conformance.rs; regenerate with VOUCH_UPDATE_NODE_CASES=1.\n",
        );
        for r in &results {
            let levels = r.levels();
            if !levels.is_empty() {
                let _ = writeln!(s, "{} {}", r.name, levels.join(" "));
            }
        }
        std::fs::create_dir_all(list_path.parent().unwrap()).unwrap();
        std::fs::write(&list_path, s).unwrap();
        let source = std::fs::read_to_string(root.join("index.json"))
            .ok()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            .and_then(|v| v.get("source").and_then(|s| s.as_str()).map(String::from))
            .unwrap_or_else(|| "ONNX backend node test cases".into());
        write_doc(
            &manifest.join(DOC),
            &generated_section(&results, &rows, &total, &source),
        );
        println!(
            "updated {} and {}",
            list_path.display(),
            manifest.join(DOC).display()
        );
        return;
    }

    let expected = read_pass_list(&list_path);
    if expected.is_empty() {
        println!(
            "NOTE: {} is empty or missing: nothing to guard",
            list_path.display()
        );
    }
    let by_name: BTreeMap<&str, &CaseResult> =
        results.iter().map(|r| (r.name.as_str(), r)).collect();
    let mut regressions = Vec::new();
    for (name, levels) in &expected {
        let Some(r) = by_name.get(name.as_str()) else {
            regressions.push(format!("{name}: case missing from {}", root.display()));
            continue;
        };
        let got = r.levels();
        for l in levels {
            if !got.contains(&l.as_str()) {
                regressions.push(format!(
                    "{name}: no longer passes at level {l}: {} ({})",
                    r.class(),
                    r.reason()
                ));
            }
        }
    }
    assert!(
        regressions.is_empty(),
        "{} regressions against {PASS_LIST}:\n{}",
        regressions.len(),
        regressions.join("\n")
    );
}
