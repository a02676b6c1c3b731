//! `vouch compile`: ONNX -> calibrated, quantized model package.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use serde::Serialize;
use vouch::artifact::CalibrationInfo;
use vouch::model::{compile, CompileOptions};
use vouch::onnx::quantize::{AccuracyReport, QuantConfig};

use crate::output::{json, num, table};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The ONNX model.
    model: PathBuf,
    /// Calibration inputs (.npy, samples along the first axis). Without it, seeded uniform
    /// [0, 1) samples are used (see docs/quantization.md) and a warning is printed.
    #[arg(long)]
    calibration: Option<PathBuf>,
    /// Use at most this many calibration samples (0 = all).
    #[arg(long, default_value_t = 0)]
    calibration_samples: usize,
    /// Output model package.
    #[arg(short, long)]
    output: PathBuf,
    /// Bits per weight (symmetric, per output channel).
    #[arg(long, default_value_t = QuantConfig::default().weight_bits)]
    weight_bits: u32,
    /// Bits per activation.
    #[arg(long, default_value_t = QuantConfig::default().act_bits)]
    act_bits: u32,
    /// Largest lookup-table input width in bits.
    #[arg(long, default_value_t = QuantConfig::default().lut_bits)]
    lut_bits: u32,
    /// One scale per weight tensor instead of per output channel.
    #[arg(long)]
    per_tensor: bool,
    /// Replace the output file if it exists.
    #[arg(long)]
    force: bool,
    /// Print the per-layer report too.
    #[arg(long)]
    layers: bool,
    /// Machine-readable output.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct Summary<'a> {
    output: String,
    digest: String,
    nodes: usize,
    params: usize,
    ops: BTreeMap<&'static str, usize>,
    quantization: &'a QuantConfig,
    calibration: &'a CalibrationInfo,
    report: Option<&'a AccuracyReport>,
}

pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    if a.output.exists() && !a.force {
        anyhow::bail!(
            "{} already exists; pass --force to overwrite it",
            a.output.display()
        );
    }
    let opts = CompileOptions {
        quant: QuantConfig {
            weight_bits: a.weight_bits,
            act_bits: a.act_bits,
            lut_bits: a.lut_bits.max(a.act_bits),
            per_channel: !a.per_tensor,
            ..QuantConfig::default()
        },
        calibration: a.calibration.clone(),
        max_calibration_samples: a.calibration_samples,
    };
    let compiled = compile(&a.model, &opts)?;
    let pkg = &compiled.package;
    pkg.write(&a.output, a.force)?;
    let mut ops = BTreeMap::new();
    for n in &pkg.program.nodes {
        *ops.entry(n.op.name()).or_insert(0) += 1;
    }
    let summary = Summary {
        output: a.output.display().to_string(),
        digest: pkg.digest().hex(),
        nodes: pkg.program.nodes.len(),
        params: pkg.program.num_params(),
        ops,
        quantization: &pkg.meta.quantization,
        calibration: &pkg.meta.calibration,
        report: pkg.meta.report.as_ref(),
    };
    if a.json {
        json(&summary)?;
        return Ok(ExitCode::SUCCESS);
    }
    if pkg.meta.calibration.source == "default" {
        eprintln!(
            "warning: no --calibration data; scales come from {} seeded uniform [0,1) samples, which may not match real inputs",
            pkg.meta.calibration.samples
        );
    }
    println!("wrote {}", summary.output);
    println!("digest  {}", summary.digest);
    println!("params  {}   nodes {}", summary.params, summary.nodes);
    let ops: Vec<String> = summary
        .ops
        .iter()
        .map(|(k, v)| format!("{k} x{v}"))
        .collect();
    println!("ops     {}", ops.join(", "));
    println!(
        "quantization: weights {} bits, activations {} bits, lookups <= {} bits, {}",
        pkg.meta.quantization.weight_bits,
        pkg.meta.quantization.act_bits,
        pkg.meta.quantization.lut_bits,
        if pkg.meta.quantization.per_channel {
            "per channel"
        } else {
            "per tensor"
        }
    );
    if let Some(r) = &pkg.meta.report {
        print_report(r, a.layers);
    }
    Ok(ExitCode::SUCCESS)
}

pub fn print_report(r: &AccuracyReport, layers: bool) {
    println!(
        "accuracy vs float on {} calibration sample(s): top-1 agreement {:.2}%",
        r.samples,
        100.0 * r.top1_agreement
    );
    let rows = |v: &[vouch::onnx::quantize::TensorError]| -> Vec<Vec<String>> {
        v.iter()
            .map(|e| {
                vec![
                    e.tensor.clone(),
                    e.op.clone(),
                    num(e.max_abs_error),
                    num(e.max_abs_float),
                    num(e.max_rel_error),
                    e.snr_db.map_or("exact".into(), |v| format!("{v:.1}")),
                ]
            })
            .collect()
    };
    let header = [
        "tensor",
        "op",
        "max abs err",
        "max |float|",
        "rel err",
        "SNR dB",
    ];
    if layers {
        println!("per layer:");
        table(&header, &rows(&r.layers));
    }
    println!("outputs:");
    table(&header, &rows(&r.outputs));
}
