//! `vouch inspect`: what a file is and what it holds.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use serde_json::json;
use vouch::artifact::{
    hex, sniff, FileKind, KeysDir, ModelPackage, ProofFile, GKR_PROGRAM_FILE, HALO2_VK_FILE,
    KEYS_SUMMARY_FILE,
};
use vouch::halo2::Halo2VerifyingKey;
use vouch::ir::{Program, TensorKind};
use vouch::npy;
use vouch::prove::{describe_policy, role_name, BackendKind};

use crate::cmd::compile::print_report;
use crate::output::{json as print_json, tensor_json};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Any Vouch file (model package, IR program, proof, keys directory or verifying key), an
    /// ONNX model or a .npy array.
    file: PathBuf,
    /// Print the full program listing (one line per node).
    #[arg(long)]
    listing: bool,
    /// Machine-readable output.
    #[arg(long)]
    json: bool,
}

fn program_json(p: &Program) -> serde_json::Value {
    let mut ops: BTreeMap<&str, usize> = BTreeMap::new();
    for n in &p.nodes {
        *ops.entry(n.op.name()).or_insert(0) += 1;
    }
    let io = |kind: TensorKind| -> Vec<serde_json::Value> {
        p.tensors
            .iter()
            .filter(|t| t.kind == kind)
            .map(|t| json!({"name": t.name, "shape": t.shape, "range": [t.range.lo, t.range.hi], "scale": t.scale}))
            .collect()
    };
    let outputs: Vec<serde_json::Value> = p
        .outputs
        .iter()
        .map(|&o| {
            let t = p.info(o);
            json!({"name": t.name, "shape": t.shape, "range": [t.range.lo, t.range.hi], "scale": t.scale})
        })
        .collect();
    json!({
        "cost": vouch::backend::estimate(p),
        "digest": p.digest().hex(),
        "nodes": p.nodes.len(),
        "params": p.num_params(),
        "ops": ops,
        "inputs": io(TensorKind::Input),
        "outputs": outputs,
    })
}

/// A tensor's scale for humans: the number, or `none` for integer tensors.
fn scale_text(scale: Option<f64>) -> String {
    scale.map_or_else(|| "none (integer)".into(), |s| s.to_string())
}

fn keys_json(keys: &KeysDir) -> serde_json::Value {
    let s = &keys.summary;
    let mut j = json!({
        "kind": "keys directory",
        "format_version": s.version,
        "backend": s.backend,
        "digest": s.model_digest.hex(),
        "model_source": s.model_source,
        "policy": describe_policy(s.policy),
        "k": s.k,
        "rows": s.rows,
        "table_rows": s.table_rows,
        "range_bits": s.range_bits,
        "public": s.public.iter().map(tensor_json).collect::<Vec<_>>(),
        "insecure_setup": s.insecure_setup,
        "vk_bytes": s.vk_bytes,
        "vk_sha256": s.vk_sha256,
        "vouch_version": s.vouch_version,
    });
    // What only one backend has: gkr's parameters and security level, halo2's SRS and
    // weights commitment.
    let extra = if let Some(BackendKind::Gkr) = BackendKind::parse(&s.backend) {
        json!({
            "params_digest": s.params_digest,
            "security": BackendKind::Gkr.security_level(),
            "vk_file": s.vk_file,
        })
    } else {
        json!({
            "lanes": s.lanes,
            "srs_sha256": s.srs_sha256,
            "weights_commitment": s.weights_commitment,
            "weights_blinding": if keys.weights_blinding.is_some() { "present (secret)" } else { "absent" },
        })
    };
    if let (Some(j), serde_json::Value::Object(extra)) = (j.as_object_mut(), extra) {
        j.extend(extra);
    }
    j
}

fn vk_json(vk: &Halo2VerifyingKey, bytes: usize) -> serde_json::Value {
    let i = &vk.info;
    let public: Vec<serde_json::Value> = i
        .public
        .iter()
        .map(|p| json!({"tensor": p.tensor, "len": p.len, "range": [p.lo, p.hi]}))
        .collect();
    json!({
        "kind": "halo2 verifying key",
        "backend": "halo2",
        "digest": i.program_digest.hex(),
        "policy": describe_policy(i.policy),
        "k": i.k,
        "range_bits": i.shape.range_bits,
        "lanes": i.shape.lanes,
        "public": public,
        "srs_sha256": hex(&i.srs_digest),
        "insecure_setup": i.insecure_setup,
        "bytes": bytes,
    })
}

fn proof_json(p: &ProofFile) -> serde_json::Value {
    let st = &p.statement;
    let public: Vec<serde_json::Value> = st
        .public
        .iter()
        .map(|t| {
            let name = p
                .meta
                .outputs
                .iter()
                .find(|o| o.tensor == t.tensor)
                .map(|o| o.name.clone());
            json!({"tensor": t.tensor, "name": name, "values": t.values})
        })
        .collect();
    let commitments: Vec<serde_json::Value> = st
        .commitments
        .iter()
        .map(|c| json!({"role": role_name(c.role), "hex": hex(&c.bytes)}))
        .collect();
    let mut v = json!({
        "kind": "proof",
        "format_version": vouch::artifact::PROOF_VERSION,
        "backend": st.backend,
        "digest": st.program_digest.hex(),
        "policy": describe_policy(st.visibility),
        "k": p.meta.k,
        "insecure_setup": st.insecure_setup,
        "proof_bytes": p.proof.len(),
        "public": public,
        "commitments": commitments,
        "outputs": p.meta.outputs.iter().map(tensor_json).collect::<Vec<_>>(),
        "vouch_version": p.meta.vouch_version,
        "verified": false,
    });
    if let Some(level) = BackendKind::parse(&st.backend).and_then(BackendKind::security_level) {
        v["params_digest"] = json!(hex(&st.params_digest));
        v["security"] = json!(level);
    }
    v
}

/// Text form of a flat summary: scalars as they are, lists and objects as short JSON.
fn print_fields(v: &serde_json::Value) {
    let Some(map) = v.as_object() else { return };
    for (k, val) in map {
        if k == "kind" {
            continue;
        }
        let text = match val {
            serde_json::Value::String(s) => s.clone(),
            other => {
                let t = other.to_string();
                if t.chars().count() > 160 {
                    format!("{}...", t.chars().take(160).collect::<String>())
                } else {
                    t
                }
            }
        };
        println!("{k:<18} {text}");
    }
}

/// Inspects a keys directory (or a file in one).
fn inspect_keys(a: &Args) -> anyhow::Result<ExitCode> {
    let keys = KeysDir::read(&a.file)?;
    let info = keys_json(&keys);
    if a.json {
        print_json(&info)?;
        return Ok(ExitCode::SUCCESS);
    }
    println!("{}: keys directory", a.file.display());
    print_fields(&info);
    if keys.summary.insecure_setup {
        println!("INSECURE dev setup: locally generated parameters, for tests and demos only");
    }
    Ok(ExitCode::SUCCESS)
}

pub fn run(a: Args) -> anyhow::Result<ExitCode> {
    let name = a.file.file_name().and_then(|n| n.to_str());
    if a.file.is_dir() {
        let has = |f: &str| a.file.join(f).exists();
        if !has(KEYS_SUMMARY_FILE) && !has(HALO2_VK_FILE) && !has(GKR_PROGRAM_FILE) {
            anyhow::bail!(
                "cannot read {}: a directory, and not a keys directory (no {KEYS_SUMMARY_FILE})",
                a.file.display()
            );
        }
        return inspect_keys(&a);
    }
    if name == Some(KEYS_SUMMARY_FILE) {
        return inspect_keys(&a);
    }
    let bytes =
        std::fs::read(&a.file).with_context(|| format!("cannot read {}", a.file.display()))?;
    let kind = sniff(&bytes);
    let (info, program, report) = match kind {
        FileKind::ModelPackage => {
            let pkg = ModelPackage::from_bytes(&bytes).map_err(|e| e.in_file(&a.file))?;
            let mut v = json!({"kind": "model package", "format_version": vouch::artifact::PACKAGE_VERSION});
            v["program"] = program_json(&pkg.program);
            v["meta"] = serde_json::to_value(&pkg.meta)?;
            if let Some(r) = v["meta"].as_object_mut() {
                r.remove("report");
            }
            (v, Some(pkg.program), pkg.meta.report)
        }
        FileKind::Program => {
            let p = Program::decode(&bytes)?;
            let mut v = json!({"kind": "IR program", "format_version": vouch::ir::codec::VERSION});
            v["program"] = program_json(&p);
            (v, Some(p), None)
        }
        FileKind::Proof => {
            let p = ProofFile::from_bytes(&bytes).map_err(|e| e.in_file(&a.file))?;
            (proof_json(&p), None, None)
        }
        FileKind::Halo2VerifyingKey => {
            let vk = Halo2VerifyingKey::decode(&bytes)
                .with_context(|| format!("{}: malformed verifying key", a.file.display()))?;
            (vk_json(&vk, bytes.len()), None, None)
        }
        FileKind::Npy => {
            let arr = npy::parse(&bytes)
                .map_err(|m| anyhow::anyhow!("{}: not a valid .npy file: {m}", a.file.display()))?;
            (
                json!({"kind": "numpy array", "dtype": arr.dtype, "shape": arr.shape}),
                None,
                None,
            )
        }
        FileKind::Onnx => {
            let g = vouch::onnx::load_onnx_bytes(&bytes)
                .with_context(|| a.file.display().to_string())?;
            let mut ops: BTreeMap<String, usize> = BTreeMap::new();
            for n in &g.nodes {
                *ops.entry(n.onnx_op.clone()).or_insert(0) += 1;
            }
            let params: usize = g
                .tensors
                .iter()
                .filter_map(|t| t.value.as_ref())
                .map(Vec::len)
                .sum();
            let io = |ids: &[usize]| -> Vec<serde_json::Value> {
                ids.iter()
                    .map(|&i| json!({"name": g.tensors[i].name, "shape": g.tensors[i].shape}))
                    .collect()
            };
            (
                json!({"kind": "ONNX model", "nodes": g.nodes.len(), "constants": params, "ops_after_import": ops, "inputs": io(&g.inputs), "outputs": io(&g.outputs)}),
                None,
                None,
            )
        }
        FileKind::Unknown => anyhow::bail!(
            "{}: not a Vouch file, ONNX model or .npy array (unrecognised leading bytes)",
            a.file.display()
        ),
    };
    if a.json {
        print_json(&info)?;
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{}: {}",
        a.file.display(),
        info["kind"].as_str().unwrap_or("?")
    );
    if let Some(p) = &program {
        println!("digest  {}", p.digest());
        println!("nodes   {}   params {}", p.nodes.len(), p.num_params());
        for t in p.tensors.iter().filter(|t| t.kind == TensorKind::Input) {
            println!(
                "input   {} {:?} range [{}, {}] scale {}",
                t.name,
                t.shape,
                t.range.lo,
                t.range.hi,
                scale_text(t.scale)
            );
        }
        let names = info["meta"]["output_names"].as_array();
        for (k, &o) in p.outputs.iter().enumerate() {
            let t = p.info(o);
            // The source model's output name when the package records it.
            let name = names
                .and_then(|n| n.get(k))
                .and_then(|n| n.as_str())
                .unwrap_or(&t.name);
            println!(
                "output  {} {:?} range [{}, {}] scale {}",
                name,
                t.shape,
                t.range.lo,
                t.range.hi,
                scale_text(t.scale)
            );
        }
        println!("ops     {}", info["program"]["ops"]);
        let c = vouch::backend::estimate(p);
        println!(
            "work    {} multiply-accumulates, {} lookups (tables {} entries), {} range checks, widest range {} bits",
            c.macs, c.lookups, c.lookup_table_entries, c.range_checks, c.max_range_bits
        );
        if let Some(meta) = info.get("meta") {
            println!(
                "source  {} (sha256 {})",
                meta["source"].as_str().unwrap_or(""),
                meta["source_sha256"].as_str().unwrap_or("")
            );
            println!("quantization {}", meta["quantization"]);
            println!("calibration  {}", meta["calibration"]);
        }
        if let Some(r) = &report {
            print_report(r, false);
        }
        if a.listing {
            print!("{p}");
        }
    } else if matches!(kind, FileKind::Proof | FileKind::Halo2VerifyingKey) {
        print_fields(&info);
        if info["insecure_setup"] == true {
            println!("INSECURE dev setup: locally generated parameters, for tests and demos only");
        }
        if kind == FileKind::Proof {
            println!("(not verified: `vouch verify PROOF --keys KEYS_DIR` checks it)");
        }
    } else {
        let mut m = info.clone();
        if let Some(o) = m.as_object_mut() {
            o.remove("kind");
        }
        println!("{}", serde_json::to_string_pretty(&m)?);
    }
    Ok(ExitCode::SUCCESS)
}
