//! `vouch eval`: top-1 accuracy on a labelled set, quantized vs float.

use std::path::PathBuf;
use std::process::ExitCode;

use vouch::artifact::ModelPackage;
use vouch::model;
use vouch::npy;

use crate::output::json;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The model package (.vouch).
    model: PathBuf,
    /// Inputs (.npy), samples along the first axis.
    #[arg(long)]
    data: PathBuf,
    /// Integer class labels (.npy), one per sample.
    #[arg(long)]
    labels: PathBuf,
    /// The source ONNX model, to report float accuracy beside the quantized one.
    #[arg(long)]
    onnx: Option<PathBuf>,
    /// Machine-readable output.
    #[arg(long)]
    json: bool,
}

pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    let pkg = ModelPackage::read(&a.model)?;
    let data = npy::read(&a.data)?;
    let labels = npy::read(&a.labels)?;
    let float = match &a.onnx {
        Some(p) => Some(model::load_float(p)?),
        None => None,
    };
    let r = model::eval(&pkg, &data, &labels, float.as_ref())?;
    if a.json {
        json(&r)?;
        return Ok(ExitCode::SUCCESS);
    }
    println!("model {}", pkg.digest());
    println!(
        "quantized top-1 accuracy {:.2}% on {} samples ({:.2} ms/sample)",
        100.0 * r.quantized_accuracy,
        r.samples,
        1e3 * r.quantized_seconds / r.samples.max(1) as f64
    );
    if let (Some(f), Some(agree)) = (r.float_accuracy, r.agreement) {
        println!(
            "float     top-1 accuracy {:.2}%   (difference {:+.2} points, predictions agree on {:.2}%)",
            100.0 * f,
            100.0 * (r.quantized_accuracy - f),
            100.0 * agree
        );
    }
    Ok(ExitCode::SUCCESS)
}
