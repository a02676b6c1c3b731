//! `vouch run`: quantized inference with the reference interpreter.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{bail, Context};
use serde::Serialize;
use vouch::artifact::ModelPackage;
use vouch::model::{self, OutputValue};
use vouch::npy;
use vouch::onnx::quantize::{argmax, Sample};

use crate::output::json;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The model package (.vouch).
    model: PathBuf,
    /// Input: a .npy array of the model's input shape, or JSON (a nested array, or an object
    /// mapping input names to nested arrays).
    #[arg(long)]
    input: PathBuf,
    /// Expected first output (.npy), e.g. from onnxruntime: reports the quantization error.
    #[arg(long)]
    reference: Option<PathBuf>,
    /// Machine-readable output.
    #[arg(long)]
    json: bool,
}

/// Error of the first output against a reference.
#[derive(Serialize)]
struct Comparison {
    max_abs_error: f64,
    max_abs_reference: f64,
    /// `max_abs_error / max_abs_reference`.
    max_rel_error: f64,
    /// Whether the arg-max agrees.
    top1_agrees: bool,
}

#[derive(Serialize)]
struct RunReport<'a> {
    digest: String,
    outputs: &'a [OutputValue],
    reference: Option<Comparison>,
    /// Arg-max of the first output (the predicted class for classifiers).
    top1: usize,
    seconds: f64,
}

pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    let pkg = ModelPackage::read(&a.model)?;
    let sample = read_input(&pkg, &a.input)?;
    let t0 = Instant::now();
    let outputs = model::run(&pkg, &sample)?;
    let seconds = t0.elapsed().as_secs_f64();
    let top1 = outputs.first().map(|o| argmax(&o.values)).unwrap_or(0);
    let reference = match &a.reference {
        Some(p) => Some(compare(&outputs, p)?),
        None => None,
    };
    if a.json {
        json(&RunReport {
            digest: pkg.digest().hex(),
            outputs: &outputs,
            reference,
            top1,
            seconds,
        })?;
        return Ok(ExitCode::SUCCESS);
    }
    println!("model {}", pkg.digest());
    for o in &outputs {
        let shown: Vec<String> = o
            .values
            .iter()
            .take(16)
            .map(|v| format!("{v:.4}"))
            .collect();
        let more = if o.values.len() > 16 { ", ..." } else { "" };
        println!("{} {:?}: [{}{more}]", o.name, o.shape, shown.join(", "));
    }
    println!("top-1 class {top1}   ({:.1} ms)", seconds * 1e3);
    if let Some(c) = reference {
        println!(
            "vs reference: max abs error {:.4e}, max |reference| {:.4}, max relative error {:.4e}, top-1 {}",
            c.max_abs_error,
            c.max_abs_reference,
            c.max_rel_error,
            if c.top1_agrees { "agrees" } else { "differs" }
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn compare(outputs: &[OutputValue], path: &Path) -> anyhow::Result<Comparison> {
    let r = npy::read(path)?;
    let out = outputs.first().context("the model has no outputs")?;
    if r.data.len() != out.values.len() {
        bail!(
            "{}: {} values, the first output has {} (shape {:?})",
            path.display(),
            r.data.len(),
            out.values.len(),
            out.shape
        );
    }
    let mut max_abs_error = 0f64;
    let mut max_abs_reference = 0f64;
    for (&q, &f) in out.values.iter().zip(&r.data) {
        max_abs_error = max_abs_error.max((q as f64 - f as f64).abs());
        max_abs_reference = max_abs_reference.max((f as f64).abs());
    }
    Ok(Comparison {
        max_abs_error,
        max_abs_reference,
        max_rel_error: max_abs_error / max_abs_reference.max(f64::MIN_POSITIVE),
        top1_agrees: argmax(&out.values) == argmax(&r.data),
    })
}

/// Reads one sample for the model from .npy or JSON.
pub fn read_input(pkg: &ModelPackage, path: &Path) -> anyhow::Result<Sample> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let program = &pkg.program;
    if bytes.starts_with(b"\x93NUMPY") {
        let arr = npy::parse(&bytes)
            .map_err(|m| anyhow::anyhow!("{}: not a valid .npy file: {m}", path.display()))?;
        let mut s = model::program_samples(program, &arr, &path.display().to_string())?;
        if s.len() != 1 {
            bail!(
                "{}: holds {} samples; `run` takes one (use `eval` for many)",
                path.display(),
                s.len()
            );
        }
        return Ok(s.remove(0));
    }
    let v: serde_json::Value = serde_json::from_slice(&bytes)
        .with_context(|| format!("{}: neither .npy nor valid JSON", path.display()))?;
    let names = &pkg.meta.input_names;
    let arrays: Vec<&serde_json::Value> = match &v {
        serde_json::Value::Object(map) => names
            .iter()
            .map(|n| {
                map.get(n)
                    .with_context(|| format!("{}: no entry for input '{n}'", path.display()))
            })
            .collect::<anyhow::Result<_>>()?,
        serde_json::Value::Array(_) if program.inputs.len() == 1 => vec![&v],
        _ => bail!(
            "{}: expected a nested array or an object keyed by input name ({})",
            path.display(),
            names.join(", ")
        ),
    };
    if arrays.len() != program.inputs.len() {
        bail!(
            "{}: {} arrays for the model's {} inputs",
            path.display(),
            arrays.len(),
            program.inputs.len()
        );
    }
    let mut sample = Vec::new();
    for (arr, &id) in arrays.into_iter().zip(&program.inputs) {
        let info = program.info(id);
        let mut flat = Vec::new();
        flatten(arr, &mut flat)
            .with_context(|| format!("{}: input '{}'", path.display(), info.name))?;
        let want: usize = info.shape.iter().product();
        if flat.len() != want {
            bail!(
                "{}: input '{}' has {} values; the model expects shape {:?} ({want} values)",
                path.display(),
                info.name,
                flat.len(),
                info.shape
            );
        }
        sample.push(flat);
    }
    Ok(sample)
}

fn flatten(v: &serde_json::Value, out: &mut Vec<f32>) -> anyhow::Result<()> {
    match v {
        serde_json::Value::Array(items) => items.iter().try_for_each(|i| flatten(i, out)),
        serde_json::Value::Number(n) => {
            let f = n.as_f64().context("number out of range")?;
            let v = f as f32;
            if !v.is_finite() {
                bail!("{n} is outside the float32 range");
            }
            out.push(v);
            Ok(())
        }
        other => bail!("expected numbers, found {other}"),
    }
}
