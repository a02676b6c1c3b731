//! Capture, edit and verify: the attested-image workflow.
//!
//! - [`capture`] plays the camera: it commits to the pixels with a fresh secret blinding and
//!   signs the commitment with the image size and pixel format.
//! - [`edit_publish`] and [`edit_hidden`] prove one edit step from the image an editor holds:
//!   its input is the hidden image behind the current commitment; its output is published, or
//!   committed with a new blinding so that a later step can continue from it.
//! - [`verify`] checks a published image against an edit proof and a camera key: the
//!   signature, the chain of commitments from the signed one to the published image, and every
//!   step's proof under a key it derives itself from the step's edits.

use std::time::{Duration, Instant};

use serde::Serialize;
use vouch_backend::{
    Backend, Commitment, PublicTensor, Role, Statement, Visibility, VisibilityPolicy, Witness,
};
use vouch_halo2::srs::{decode_params, encode_params};
use vouch_halo2::{commitment_tag, Blindings, Halo2Backend, Halo2Proof, LaneChoice, Srs};
use vouch_image::camera::{Attestation, CameraKey, CameraPublicKey, PixelFormat};
use vouch_image::{apply_reference, check_edits, edit_program, edits_to_text, Dims, Edit, Image};
use vouch_ir::interp;

use super::files::{EditProof, Link, Origin, PrivateImage};
use crate::artifact::hex;
use crate::error::VouchError;
use crate::prove::random_scalar;

/// The commitment a camera signs and an edit proof opens: Poseidon over the pixels (row-major
/// `[H, W, C]`, 31 to a field element) with a secret blinding, under the activation tag that
/// proofs use for their inputs and outputs.
pub fn pixel_commitment(img: &Image, blinding: &[u8; 32]) -> Result<[u8; 32], VouchError> {
    let b = scalar(blinding)?;
    let values: Vec<i64> = img.data.iter().map(|&v| v as i64).collect();
    let c = vouch_halo2::poseidon::commit(commitment_tag(Role::Input), b, &[(&values, 0, 255)]);
    Ok(vouch_halo2::field::to_bytes(&c))
}

fn scalar(b: &[u8; 32]) -> Result<vouch_halo2::Fr, VouchError> {
    vouch_halo2::field::from_bytes(b).ok_or_else(|| VouchError::Format {
        what: "blinding".into(),
        msg: "not a canonical BN254 scalar".into(),
    })
}

fn pixel_format(channels: usize) -> Result<PixelFormat, VouchError> {
    match channels {
        3 => Ok(PixelFormat::Rgb8),
        1 => Ok(PixelFormat::Gray8),
        c => Err(VouchError::Data {
            what: "image".into(),
            msg: format!("{c} channels (only RGB and gray are attested)"),
        }),
    }
}

/// The camera's side: commit to `image` with a fresh blinding and sign the commitment.
pub fn capture(image: Image, key: &CameraKey) -> Result<PrivateImage, VouchError> {
    check_edits(image.width, image.height, image.channels, &[])?;
    let size = |v: usize| {
        u32::try_from(v).map_err(|_| VouchError::Data {
            what: "image".into(),
            msg: format!("side {v} is too large"),
        })
    };
    let blinding = random_scalar();
    let attestation = Attestation {
        width: size(image.width)?,
        height: size(image.height)?,
        format: pixel_format(image.channels)?,
        commitment: pixel_commitment(&image, &blinding)?,
    };
    let signature = key.sign(&attestation);
    Ok(PrivateImage {
        origin: Origin {
            camera: key.public(),
            attestation,
            signature,
        },
        links: Vec::new(),
        image,
        blinding,
    })
}

/// What one proven step cost.
#[derive(Clone, Debug, Serialize)]
pub struct StepStats {
    pub k: u32,
    pub rows: usize,
    pub lanes: u32,
    /// Interpreter run of the edit program.
    pub run: Duration,
    /// Circuit planning and key generation.
    pub setup: Duration,
    pub prove: Duration,
    pub proof_bytes: usize,
}

/// An edited image with a proof that ends at it (its pixels public).
#[derive(Debug)]
pub struct Published {
    pub image: Image,
    pub proof: EditProof,
    pub stats: StepStats,
}

/// Proves `edits` applied to `src` with the output published: the returned proof holds every
/// earlier step of `src` and this one.
pub fn edit_publish(
    src: &PrivateImage,
    edits: &[Edit],
    srs: &Srs,
) -> Result<Published, VouchError> {
    let (image, link, _, stats) = prove_step(src, edits, srs, false)?;
    let mut links = src.links.clone();
    links.push(link);
    Ok(Published {
        image,
        proof: EditProof {
            origin: src.origin.clone(),
            links,
        },
        stats,
    })
}

/// Proves `edits` applied to `src` with the output hidden behind a fresh commitment; the result
/// can be edited again (a chain through hidden intermediates).
pub fn edit_hidden(
    src: &PrivateImage,
    edits: &[Edit],
    srs: &Srs,
) -> Result<(PrivateImage, StepStats), VouchError> {
    let (image, link, blinding, stats) = prove_step(src, edits, srs, true)?;
    let mut links = src.links.clone();
    links.push(link);
    Ok((
        PrivateImage {
            origin: src.origin.clone(),
            links,
            image,
            blinding,
        },
        stats,
    ))
}

fn step_policy(hidden_output: bool) -> VisibilityPolicy {
    VisibilityPolicy {
        input: Visibility::Hashed,
        weights: Visibility::Fixed,
        output: if hidden_output {
            Visibility::Hashed
        } else {
            Visibility::Public
        },
    }
}

fn prove_step(
    src: &PrivateImage,
    edits: &[Edit],
    srs: &Srs,
    hidden_output: bool,
) -> Result<(Image, Link, [u8; 32], StepStats), VouchError> {
    let img = &src.image;
    let input_commitment = src.commitment()?;
    if pixel_commitment(img, &src.blinding)? != input_commitment {
        return Err(VouchError::Data {
            what: "image bundle".into(),
            msg: "its pixels and blinding do not open its commitment (the file was altered)".into(),
        });
    }
    let t = Instant::now();
    let program = edit_program(img.width, img.height, img.channels, edits)?;
    let trace = interp::run(&program, &[img.to_tensor()])?;
    let witness: Witness = trace.into();
    let out_id = program.outputs[0];
    let dims = check_edits(img.width, img.height, img.channels, edits)?;
    let &(w, h, c) = dims
        .last()
        .unwrap_or(&(img.width, img.height, img.channels));
    let out_data: Vec<u8> = witness.values[out_id.index()]
        .iter()
        .map(|&v| u8::try_from(v))
        .collect::<Result<_, _>>()
        .map_err(|_| VouchError::Unsupported("edit output outside 0..=255".into()))?;
    let out = Image::new(w, h, c, out_data)?;
    // The IR lowering and the reference implementation are written independently from the
    // same specification; a disagreement is a bug, and proving it would publish a wrong image.
    if apply_reference(img, edits)? != out {
        return Err(VouchError::Unsupported(format!(
            "the edit program and the reference implementation disagree on {}",
            edits_to_text(edits).join(" ")
        )));
    }
    let run = t.elapsed();

    let t = Instant::now();
    let policy = step_policy(hidden_output);
    let plan = vouch_halo2::plan(&program, policy)?;
    let backend = Halo2Backend {
        srs: clone_srs(srs),
    };
    let (pk, vk) = backend.setup_planned(&program, policy, plan)?;
    let setup = t.elapsed();

    let t = Instant::now();
    let output_blinding = random_scalar();
    let blindings = Blindings {
        input: scalar(&src.blinding)?,
        weights: scalar(&random_scalar())?,
        output: scalar(&output_blinding)?,
    };
    let (statement, proof) = backend.prove_with(&pk, &witness, &blindings)?;
    let prove = t.elapsed();
    let committed = |role| {
        statement
            .commitments
            .iter()
            .find(|c| c.role == role)
            .and_then(|c| <[u8; 32]>::try_from(c.bytes.as_slice()).ok())
    };
    if committed(Role::Input) != Some(input_commitment) {
        return Err(VouchError::Unsupported(
            "the proof's input commitment is not the image's commitment".into(),
        ));
    }
    let output_commitment = if hidden_output {
        let c = committed(Role::Output)
            .ok_or_else(|| VouchError::Unsupported("the proof has no output commitment".into()))?;
        debug_assert_eq!(Some(c), pixel_commitment(&out, &output_blinding).ok());
        Some(c)
    } else {
        None
    };
    let info = &vk.info;
    let stats = StepStats {
        k: info.k,
        rows: plan.rows,
        lanes: info.shape.lanes,
        run,
        setup,
        prove,
        proof_bytes: proof.bytes.len(),
    };
    let link = Link {
        edits: edits.to_vec(),
        layout: LaneChoice::from(info.shape),
        output_commitment,
        insecure_params: info.insecure_setup.then(|| encode_params(&vk.params)),
        proof: proof.bytes,
    };
    Ok((out, link, output_blinding, stats))
}

/// [`Srs`] holds a cache lock and is not `Clone`; image steps make their own backend.
fn clone_srs(srs: &Srs) -> Srs {
    match srs {
        Srs::File {
            path,
            expected_sha256,
            ..
        } => Srs::file(path.clone(), *expected_sha256),
        Srs::InsecureDev => Srs::InsecureDev,
        Srs::Given { params, insecure } => Srs::Given {
            params: params.clone(),
            insecure: *insecure,
        },
    }
}

// ----- verify ----------------------------------------------------------------------------------

/// Which check turned an edit proof down.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ImageCheck {
    /// Signed by another camera than the one the verifier trusts.
    Camera,
    /// The camera's signature does not verify.
    Signature,
    /// The steps do not chain from the signed commitment to a published image.
    Chain,
    /// The published image is not the last step's output size.
    Image,
    /// A step's parameters or layout are unusable.
    Setup,
    /// A step's proof does not verify.
    Proof,
}

/// Why an edit proof was not accepted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ImageRejection {
    pub check: ImageCheck,
    pub reason: String,
}

/// One step of the edit history, as the verifier reconstructed it.
#[derive(Clone, Debug, Serialize)]
pub struct StepSummary {
    pub edits: Vec<String>,
    pub input: Dims,
    pub output: Dims,
    pub hidden_output: bool,
}

/// The answer of [`verify`].
#[derive(Clone, Debug, Serialize)]
pub struct ImageVerdict {
    pub camera_fingerprint: String,
    pub original: Dims,
    pub steps: Vec<StepSummary>,
    /// Some step was proven with parameters generated by the prover: it proves nothing.
    pub insecure_setup: bool,
    pub rejection: Option<ImageRejection>,
    pub verify_ms: f64,
}

impl ImageVerdict {
    pub fn is_valid(&self) -> bool {
        self.rejection.is_none()
    }
}

/// Checks that `published` was derived by the proof's edits from an original signed by
/// `camera`. `srs` holds the ceremony parameters; it may be `None` only for proofs made with an
/// insecure local setup (which carry their parameters and are reported insecure).
///
/// Returns a verdict for any proof it can judge; errors only when it cannot (no parameters).
pub fn verify(
    proof: &EditProof,
    published: &Image,
    camera: &CameraPublicKey,
    srs: Option<&Srs>,
) -> Result<ImageVerdict, VouchError> {
    let t = Instant::now();
    let a = &proof.origin.attestation;
    let original = (a.width as usize, a.height as usize, a.format.channels());
    let mut verdict = ImageVerdict {
        camera_fingerprint: hex(&proof.origin.camera.fingerprint()),
        original,
        steps: Vec::new(),
        insecure_setup: proof.links.iter().any(|l| l.insecure_params.is_some()),
        rejection: None,
        verify_ms: 0.0,
    };
    let result = check_chain(proof, published, camera, srs, &mut verdict.steps);
    match result {
        Ok(()) => {}
        Err(Judged::Rejected(r)) => verdict.rejection = Some(r),
        Err(Judged::CannotJudge(e)) => return Err(*e),
    }
    verdict.verify_ms = t.elapsed().as_secs_f64() * 1e3;
    Ok(verdict)
}

enum Judged {
    Rejected(ImageRejection),
    CannotJudge(Box<VouchError>),
}

fn reject(check: ImageCheck, reason: String) -> Judged {
    Judged::Rejected(ImageRejection { check, reason })
}

fn check_chain(
    proof: &EditProof,
    published: &Image,
    camera: &CameraPublicKey,
    srs: Option<&Srs>,
    steps: &mut Vec<StepSummary>,
) -> Result<(), Judged> {
    let o = &proof.origin;
    if o.camera != *camera {
        return Err(reject(
            ImageCheck::Camera,
            format!(
                "signed by camera {}, not by the trusted camera {}",
                hex(&o.camera.fingerprint()),
                hex(&camera.fingerprint())
            ),
        ));
    }
    camera
        .verify(&o.attestation, &o.signature)
        .map_err(|e| reject(ImageCheck::Signature, e.to_string()))?;
    if proof.links.is_empty() {
        return Err(reject(
            ImageCheck::Chain,
            "the proof has no edit steps".into(),
        ));
    }
    let a = &o.attestation;
    let mut dims: Dims = (a.width as usize, a.height as usize, a.format.channels());
    let mut commitment = a.commitment;
    // Structure first (cheap), then the proofs.
    let mut programs = Vec::with_capacity(proof.links.len());
    for (i, link) in proof.links.iter().enumerate() {
        let last = i + 1 == proof.links.len();
        let after = check_edits(dims.0, dims.1, dims.2, &link.edits)
            .map_err(|e| reject(ImageCheck::Chain, format!("step {}: {e}", i + 1)))?;
        let out = *after.last().unwrap_or(&dims);
        match (last, link.output_commitment) {
            (true, Some(_)) => {
                return Err(reject(
                    ImageCheck::Chain,
                    "the last step's output is hidden: the proof does not end at a published image"
                        .into(),
                ))
            }
            (false, None) => {
                return Err(reject(
                    ImageCheck::Chain,
                    format!(
                        "step {} publishes its output but is not the last step",
                        i + 1
                    ),
                ))
            }
            _ => {}
        }
        steps.push(StepSummary {
            edits: edits_to_text(&link.edits),
            input: dims,
            output: out,
            hidden_output: !last,
        });
        programs.push((dims, commitment));
        dims = out;
        if let Some(c) = link.output_commitment {
            commitment = c;
        }
    }
    let got = (published.width, published.height, published.channels);
    if got != dims {
        return Err(reject(
            ImageCheck::Image,
            format!(
                "the published image is {}x{}x{}, the last step outputs {}x{}x{}",
                got.0, got.1, got.2, dims.0, dims.1, dims.2
            ),
        ));
    }
    for (i, (link, &(input, input_commitment))) in proof.links.iter().zip(&programs).enumerate() {
        let last = i + 1 == proof.links.len();
        let step = |m: String| format!("step {}: {m}", i + 1);
        let program = edit_program(input.0, input.1, input.2, &link.edits)
            .map_err(|e| reject(ImageCheck::Chain, step(e.to_string())))?;
        let policy = step_policy(!last);
        let srs =
            match &link.insecure_params {
                Some(bytes) => Srs::Given {
                    params: decode_params(bytes)
                        .map_err(|e| reject(ImageCheck::Setup, step(e.to_string())))?,
                    insecure: true,
                },
                None => match srs {
                    Some(s) => clone_srs(s),
                    None => return Err(Judged::CannotJudge(Box::new(VouchError::Data {
                        what: "edit proof".into(),
                        msg: "it was made with ceremony parameters: pass the same SRS file (--srs)"
                            .into(),
                    }))),
                },
            };
        let backend = Halo2Backend { srs };
        let vk = backend
            .verifying_key_for(&program, policy, link.layout)
            .map_err(|e| reject(ImageCheck::Setup, step(e.to_string())))?;
        let mut commitments = vec![Commitment {
            role: Role::Input,
            bytes: input_commitment.to_vec(),
        }];
        let mut public = Vec::new();
        match link.output_commitment {
            Some(c) => commitments.push(Commitment {
                role: Role::Output,
                bytes: c.to_vec(),
            }),
            None => public.push(PublicTensor {
                tensor: program.outputs[0],
                values: published.data.iter().map(|&v| v as i64).collect(),
            }),
        }
        let statement = Statement {
            program_digest: program.digest(),
            backend: backend.name().into(),
            params_digest: vk.info.params_digest(&vk.vk),
            visibility: policy,
            public,
            commitments,
            insecure_setup: vk.info.insecure_setup,
        };
        backend
            .verify(
                &vk,
                &statement,
                &Halo2Proof {
                    bytes: link.proof.clone(),
                },
            )
            .map_err(|e| reject(ImageCheck::Proof, step(e.to_string())))?;
    }
    Ok(())
}
