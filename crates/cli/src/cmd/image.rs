//! `vouch image`: attested image edits. `keygen` makes a camera key, `capture` plays the camera
//! (commit to the pixels, sign), `edit` proves edits of a signed (or hidden intermediate) image,
//! `verify` checks a published image against its proof and the camera's public key.
//!
//! With `--c2pa-cert/--c2pa-key`, `edit` also signs a C2PA manifest into the PNG (actions
//! mirroring the edits, the proof in a custom assertion) and `verify` without `--proof` reads the
//! proof from there.
//!
//! Exit status: 0 success / valid, 1 a proof that does not verify, 2 unreadable input.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use serde_json::json;
use vouch::artifact::{hex, write_new, write_private};
use vouch::image::{
    capture, edit_hidden, edit_publish, files::format_name, pixels, verify, EditProof,
    PrivateImage, StepStats,
};
use vouch::image_ops::c2pa::{self, C2paCredential, EmbeddedProof};
use vouch::image_ops::camera::{CameraKey, CameraPublicKey};
use vouch::image_ops::{parse_edits, Edit};

use crate::output::{json as print_json, INSECURE_WARNING};

#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Make a camera key pair: NAME.key (private, PKCS#8 PEM, mode 0600) and NAME.pub (SPKI PEM).
    Keygen(KeygenArgs),
    /// Play an attested camera: decode a PNG/JPEG, commit to its pixels with a secret
    /// blinding, sign the commitment, and write the signed bundle (.vimg, private).
    Capture(CaptureArgs),
    /// Prove edits of a signed or intermediate image (.vimg): write the edited PNG and its
    /// proof, or (--hidden) a new private bundle whose pixels stay hidden.
    Edit(EditArgs),
    /// Check an edited image against its proof and the camera's public key (exit status 0
    /// valid, 1 invalid, 2 unreadable files).
    Verify(VerifyArgs),
}

#[derive(clap::Args, Debug)]
pub struct KeygenArgs {
    /// Output path prefix: writes PREFIX.key and PREFIX.pub.
    #[arg(short, long)]
    output: PathBuf,
    /// Overwrite existing key files.
    #[arg(long)]
    force: bool,
}

#[derive(clap::Args, Debug)]
pub struct CaptureArgs {
    /// The photo (PNG or JPEG).
    photo: PathBuf,
    /// The camera's private key (from `vouch image keygen`).
    #[arg(long)]
    camera_key: PathBuf,
    /// The signed bundle to write (.vimg). It holds the original pixels: keep it private.
    #[arg(short, long)]
    output: PathBuf,
    #[arg(long)]
    force: bool,
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args, Debug)]
pub struct EditArgs {
    /// The signed bundle (.vimg) from `capture`, or an intermediate from `edit --hidden`.
    input: PathBuf,
    /// One edit, applied in order (see docs/image-ops.md), e.g. crop=X,Y,W,H,
    /// resize=W,H,bilinear, grayscale, brightness=-20, redact=X,Y,W,H;fill=0,0,0.
    #[arg(long = "op", required = true)]
    ops: Vec<String>,
    /// Where to write the edited image (PNG), or with --hidden the new private bundle (.vimg).
    #[arg(short, long)]
    output: PathBuf,
    /// The edit proof to write (required unless --hidden or a C2PA credential is given).
    #[arg(long)]
    proof: Option<PathBuf>,
    /// Keep the result hidden: write a private bundle committed in the proof chain, to be
    /// edited again; nothing is published.
    #[arg(long, conflicts_with_all = ["proof", "c2pa_cert"])]
    hidden: bool,
    #[command(flatten)]
    c2pa: C2paArgs,
    #[command(flatten)]
    params: super::SrsArgs,
    #[arg(long)]
    force: bool,
    #[arg(long)]
    json: bool,
}

/// The editor's C2PA signing credential.
#[derive(clap::Args, Debug)]
pub struct C2paArgs {
    /// Sign a C2PA manifest into the output PNG carrying the proof, with this certificate
    /// chain (PEM, signing certificate first; an end-entity certificate, not self-signed).
    #[arg(long, requires = "c2pa_key")]
    c2pa_cert: Option<PathBuf>,
    /// The private key of --c2pa-cert (PKCS#8 PEM, P-256: ES256).
    #[arg(long, requires = "c2pa_cert")]
    c2pa_key: Option<PathBuf>,
}

impl C2paArgs {
    fn credential(&self) -> anyhow::Result<Option<C2paCredential>> {
        match (&self.c2pa_cert, &self.c2pa_key) {
            (Some(cert), Some(key)) => Ok(Some(C2paCredential {
                chain_pem: read(cert)?,
                key_pem: read(key)?,
            })),
            _ => Ok(None),
        }
    }
}

#[derive(clap::Args, Debug)]
pub struct VerifyArgs {
    /// The published image (PNG or JPEG decoding to the exact proven pixels; use PNG).
    image: PathBuf,
    /// The edit proof; without it, the proof is read from the image's C2PA manifest.
    #[arg(long)]
    proof: Option<PathBuf>,
    /// The camera's public key (SPKI PEM) that must have signed the original.
    #[arg(long)]
    camera_pubkey: PathBuf,
    /// Ceremony KZG parameters (needed unless the proof was made with --insecure-dev-setup).
    #[arg(long)]
    srs: Option<PathBuf>,
    #[arg(long)]
    json: bool,
}

pub fn run(c: Command) -> anyhow::Result<ExitCode> {
    match c {
        Command::Keygen(a) => keygen(a),
        Command::Capture(a) => capture_cmd(a),
        Command::Edit(a) => edit(a),
        Command::Verify(a) => verify_cmd(a),
    }
}

fn read(path: &Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
}

fn read_text(path: &Path) -> anyhow::Result<String> {
    String::from_utf8(read(path)?).with_context(|| format!("{} is not text (PEM)", path.display()))
}

/// `PREFIX.EXT` (appended, so `cam.v1` gives `cam.v1.key`).
fn with_ext(prefix: &Path, ext: &str) -> PathBuf {
    let mut s = prefix.as_os_str().to_owned();
    s.push(".");
    s.push(ext);
    PathBuf::from(s)
}

fn keygen(a: KeygenArgs) -> anyhow::Result<ExitCode> {
    let (key_path, pub_path) = (with_ext(&a.output, "key"), with_ext(&a.output, "pub"));
    for p in [&key_path, &pub_path] {
        if p.exists() && !a.force {
            bail!(
                "{} already exists; pass --force to overwrite it",
                p.display()
            );
        }
    }
    let key = CameraKey::generate();
    let public = key.public();
    write_private(&key_path, key.to_pkcs8_pem()?.as_bytes(), a.force)?;
    write_new(&pub_path, public.to_public_key_pem()?.as_bytes(), a.force)?;
    println!(
        "private key  {} (mode 0600: keep it in the camera)",
        key_path.display()
    );
    println!("public key   {}", pub_path.display());
    println!("fingerprint  {}", hex(&public.fingerprint()));
    Ok(ExitCode::SUCCESS)
}

fn capture_cmd(a: CaptureArgs) -> anyhow::Result<ExitCode> {
    if a.output.exists() && !a.force {
        bail!(
            "{} already exists; pass --force to overwrite it",
            a.output.display()
        );
    }
    let key = CameraKey::from_pkcs8_pem(&read_text(&a.camera_key)?)
        .with_context(|| a.camera_key.display().to_string())?;
    let image = pixels::decode(&read(&a.photo)?, &a.photo.display().to_string())?;
    let signed = capture(image, &key)?;
    write_private(&a.output, &signed.to_bytes()?, a.force)?;
    let at = &signed.origin.attestation;
    if a.json {
        print_json(&json!({
            "bundle": a.output,
            "width": at.width,
            "height": at.height,
            "format": format_name(at.format),
            "commitment": hex(&at.commitment),
            "camera_fingerprint": hex(&key.public().fingerprint()),
        }))?;
    } else {
        println!(
            "captured   {} ({}x{} {})",
            a.photo.display(),
            at.width,
            at.height,
            format_name(at.format)
        );
        println!("commitment {}", hex(&at.commitment));
        println!("camera     {}", hex(&key.public().fingerprint()));
        println!(
            "bundle     {} (private: it holds the original and its blinding)",
            a.output.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn edit(a: EditArgs) -> anyhow::Result<ExitCode> {
    let edits = parse_edits(&a.ops).context("--op")?;
    let credential = a.c2pa.credential()?;
    let publish = match (&a.proof, a.hidden, &credential) {
        (None, true, None) => false,
        (Some(_), false, _) | (None, false, Some(_)) => true,
        _ => bail!(
            "pass --proof FILE and/or --c2pa-cert/--c2pa-key to publish, or --hidden to keep \
             the result private"
        ),
    };
    for p in std::iter::once(&a.output).chain(a.proof.as_ref()) {
        if p.exists() && !a.force {
            bail!(
                "{} already exists; pass --force to overwrite it",
                p.display()
            );
        }
    }
    let srs = a.params.resolve()?;
    let src = PrivateImage::from_bytes(&read(&a.input)?).map_err(|e| e.in_file(&a.input))?;
    let stats: StepStats;
    let (w, h, c, steps);
    if publish {
        let p = edit_publish(&src, &edits, &srs)?;
        let proof_bytes = p.proof.to_bytes()?;
        let mut png = pixels::encode_png(&p.image)?;
        if let Some(credential) = &credential {
            let chain: Vec<Edit> = p.proof.links.iter().flat_map(|l| l.edits.clone()).collect();
            let original = hex(&p.proof.origin.attestation.commitment);
            png = c2pa::embed(&png, "png", &chain, &original, &proof_bytes, credential)
                .context("--c2pa-cert/--c2pa-key")?;
        }
        write_new(&a.output, &png, a.force)?;
        if let Some(proof_path) = &a.proof {
            write_new(proof_path, &proof_bytes, a.force)?;
        }
        (w, h, c, steps) = (
            p.image.width,
            p.image.height,
            p.image.channels,
            p.proof.links.len(),
        );
        stats = p.stats;
    } else {
        let (next, s) = edit_hidden(&src, &edits, &srs)?;
        write_private(&a.output, &next.to_bytes()?, a.force)?;
        (w, h, c, steps) = (
            next.image.width,
            next.image.height,
            next.image.channels,
            next.links.len(),
        );
        stats = s;
    }
    if matches!(srs, vouch::halo2::Srs::InsecureDev) {
        eprintln!("{INSECURE_WARNING}");
    }
    if a.json {
        print_json(&json!({
            "output": a.output,
            "proof": a.proof,
            "c2pa": credential.is_some(),
            "hidden": a.hidden,
            "width": w, "height": h, "channels": c,
            "steps": steps,
            "k": stats.k,
            "rows": stats.rows,
            "run_ms": stats.run.as_secs_f64() * 1e3,
            "setup_ms": stats.setup.as_secs_f64() * 1e3,
            "prove_ms": stats.prove.as_secs_f64() * 1e3,
            "proof_bytes": stats.proof_bytes,
        }))?;
    } else {
        println!("edits    {}", a.ops.join(" "));
        println!(
            "output   {} ({w}x{h}, {c} channel(s)){}",
            a.output.display(),
            if a.hidden { ", hidden" } else { "" }
        );
        if let Some(p) = &a.proof {
            println!("proof    {} ({steps} step(s))", p.display());
        }
        if credential.is_some() {
            println!(
                "c2pa     manifest signed into {} (proof embedded)",
                a.output.display()
            );
        }
        println!(
            "circuit  k {} ({} rows); setup {:.2} s, prove {:.2} s, {} proof bytes",
            stats.k,
            stats.rows,
            stats.setup.as_secs_f64(),
            stats.prove.as_secs_f64(),
            stats.proof_bytes
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn verify_cmd(a: VerifyArgs) -> anyhow::Result<ExitCode> {
    let camera = CameraPublicKey::from_public_key_pem(&read_text(&a.camera_pubkey)?)
        .with_context(|| a.camera_pubkey.display().to_string())?;
    let image_bytes = read(&a.image)?;
    let (proof, embedded) = match &a.proof {
        Some(path) => (
            EditProof::from_bytes(&read(path)?).map_err(|e| e.in_file(path))?,
            None,
        ),
        None => {
            let format = if image_bytes.starts_with(b"\x89PNG") {
                "png"
            } else {
                "jpeg"
            };
            let found = c2pa::extract(&image_bytes, format)
                .with_context(|| format!("{} (no --proof given)", a.image.display()))?;
            let proof = EditProof::from_bytes(&found.proof)
                .map_err(|e| e.in_file(&a.image))
                .context("the proof in the C2PA manifest")?;
            (proof, Some(found))
        }
    };
    let image = pixels::decode(&image_bytes, &a.image.display().to_string())?;
    let srs = a.srs.as_ref().map(|p| vouch::halo2::Srs::file(p, None));
    let v = verify(&proof, &image, &camera, srs.as_ref())?;
    if v.insecure_setup {
        eprintln!("{INSECURE_WARNING}");
    }
    let code = if v.is_valid() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    };
    if a.json {
        print_json(&json!({
            "valid": v.is_valid(),
            "check": v.rejection.as_ref().map(|r| r.check),
            "reason": v.rejection.as_ref().map(|r| &r.reason),
            "camera_fingerprint": v.camera_fingerprint,
            "original": v.original,
            "steps": v.steps,
            "insecure_setup": v.insecure_setup,
            "verify_ms": v.verify_ms,
            "c2pa": embedded.as_ref().map(|e: &EmbeddedProof| json!({
                "actions": e.actions,
                "status": e.c2pa_status,
            })),
        }))?;
        return Ok(code);
    }
    let (ow, oh, oc) = v.original;
    println!("camera   {}", v.camera_fingerprint);
    println!("original {ow}x{oh}, {oc} channel(s), hidden (only its signed commitment is public)");
    for (i, s) in v.steps.iter().enumerate() {
        println!(
            "step {}   {} -> {}x{}x{}{}",
            i + 1,
            s.edits.join(" "),
            s.output.0,
            s.output.1,
            s.output.2,
            if s.hidden_output {
                " (hidden)"
            } else {
                " (published)"
            }
        );
    }
    if let Some(e) = &embedded {
        println!(
            "c2pa     proof read from the manifest; actions {}",
            e.actions.join(" ")
        );
        for status in &e.c2pa_status {
            println!("c2pa     note: {status}");
        }
    }
    if v.insecure_setup {
        println!(
            "INSECURE dev setup: locally generated parameters; this proof convinces no one else"
        );
    }
    match &v.rejection {
        Some(r) => println!("INVALID: {}", r.reason),
        None => println!("VALID    ({:.1} ms)", v.verify_ms),
    }
    Ok(code)
}
