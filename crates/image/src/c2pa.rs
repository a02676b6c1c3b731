//! C2PA manifests for attested edits: the edited PNG/JPEG carries a signed C2PA manifest whose
//! standard `c2pa.actions` mirror the edits and whose custom assertion [`PROOF_LABEL`] holds the
//! Vouch proof, so a C2PA-aware viewer shows the edit history and `vouch image verify` finds the
//! proof inside the image.
//!
//! **Privacy.** The camera original is never handed to the C2PA SDK. It appears as a
//! described-only `parentOf` ingredient (C2PA requires `c2pa.opened` to name one) with no
//! stream, hence no thumbnail, data or hash of the original, and the SDK's thumbnail generation
//! is compiled out (`add_thumbnails` is not enabled). The ingredient names the original only by
//! the camera's signed commitment, which the proof already makes public.
//!
//! **Trust.** The manifest is signed by the *editor's* C2PA credential (an X.509 chain and its
//! ES256 key), which is separate from the camera key: C2PA's signature says who published the
//! file, the Vouch proof says the pixels derive from the camera's signed original. Verification
//! of the Vouch proof never depends on the C2PA signature or trust list.

use std::io::Cursor;

use c2pa::{Builder, Context, Reader, SigningAlg};
use serde::{Deserialize, Serialize};

use crate::{edits_to_text, Edit};

/// Label of the custom assertion holding the Vouch proof.
pub const PROOF_LABEL: &str = "org.vouch.edit-proof";

/// Errors of embedding or reading a manifest.
#[derive(Debug, thiserror::Error)]
pub enum C2paError {
    /// The editor's C2PA credential (certificate chain and key) was not accepted.
    #[error("C2PA signing credential: {0}")]
    Credential(String),
    /// The image format cannot carry a manifest here.
    #[error("C2PA manifests are written to PNG and JPEG only, not {0}")]
    Format(String),
    /// The SDK failed to build, sign or embed the manifest.
    #[error("C2PA embedding failed: {0}")]
    Embed(String),
    /// The image's manifest could not be read.
    #[error("C2PA manifest unreadable: {0}")]
    Read(String),
    /// The active manifest has no Vouch proof assertion.
    #[error("the image's C2PA manifest holds no Vouch proof (assertion {PROOF_LABEL})")]
    NoProof,
}

/// The editor's C2PA signing credential: a PEM certificate chain (signer first) and its PEM
/// PKCS#8 P-256 private key. C2PA requires an end-entity certificate (not self-signed) with the
/// digitalSignature key usage and an allowed extended key usage (e.g. emailProtection).
#[derive(Clone)]
pub struct C2paCredential {
    pub chain_pem: Vec<u8>,
    pub key_pem: Vec<u8>,
}

impl std::fmt::Debug for C2paCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("C2paCredential").finish_non_exhaustive()
    }
}

/// The custom assertion: the proof bytes and the edits as text (for humans reading the
/// manifest; the proof's own statement is what `verify` checks).
#[derive(Debug, Serialize, Deserialize)]
struct ProofAssertion {
    format: String,
    edits: Vec<String>,
    #[serde(with = "serde_bytes")]
    proof: Vec<u8>,
}

const PROOF_FORMAT: &str = "vouch-edit-proof/1";

/// The described-only parent ingredient standing for the hidden original.
const ORIGINAL_LABEL: &str = "vouch-hidden-original";
/// Its title, as C2PA viewers show it.
pub const ORIGINAL_TITLE: &str = "camera original (hidden)";

/// What `extract` found in an image.
#[derive(Debug)]
pub struct EmbeddedProof {
    /// The proof bytes from the [`PROOF_LABEL`] assertion.
    pub proof: Vec<u8>,
    /// The action names of the manifest's `c2pa.actions`, in order.
    pub actions: Vec<String>,
    /// Validation messages of the C2PA SDK (e.g. an untrusted signer); informative only.
    pub c2pa_status: Vec<String>,
}

/// The C2PA action that describes `edit`.
pub fn action_for(edit: &Edit) -> &'static str {
    match edit {
        Edit::Crop { .. } => "c2pa.cropped",
        Edit::FlipH | Edit::FlipV | Edit::Rotate90 | Edit::Rotate180 | Edit::Rotate270 => {
            "c2pa.orientation"
        }
        Edit::ResizeNearest { .. } | Edit::ResizeBilinear { .. } | Edit::ResizeArea { .. } => {
            "c2pa.resized"
        }
        Edit::Grayscale
        | Edit::Brightness { .. }
        | Edit::Contrast { .. }
        | Edit::Gamma { .. }
        | Edit::Levels { .. }
        | Edit::Curves { .. }
        | Edit::ColorMatrix { .. } => "c2pa.color_adjustments",
        Edit::BoxBlur { .. } | Edit::GaussianBlur { .. } | Edit::Sharpen => "c2pa.filtered",
        // Pixel redaction (a solid fill) is an edit of the content; `c2pa.redacted` is reserved
        // for removing assertions from a manifest.
        Edit::Redact { .. } => "c2pa.edited",
    }
}

fn mime(format: &str) -> Result<&'static str, C2paError> {
    match format {
        "png" | "image/png" => Ok("image/png"),
        "jpg" | "jpeg" | "image/jpeg" => Ok("image/jpeg"),
        other => Err(C2paError::Format(other.to_string())),
    }
}

/// Signs a manifest (actions mirroring `edits`, the proof assertion) into `image` (PNG or JPEG
/// bytes, `format` "png" or "jpeg") and returns the new file bytes. `original` names the hidden
/// original (e.g. its commitment in hex) in the opening action.
pub fn embed(
    image: &[u8],
    format: &str,
    edits: &[Edit],
    original: &str,
    proof: &[u8],
    credential: &C2paCredential,
) -> Result<Vec<u8>, C2paError> {
    let mime = mime(format)?;
    let signer = c2pa::create_signer::from_keys(
        &credential.chain_pem,
        &credential.key_pem,
        SigningAlg::Es256,
        None,
    )
    .map_err(|e| C2paError::Credential(e.to_string()))?;
    let mut actions = vec![serde_json::json!({
        "action": "c2pa.opened",
        "description": "opened the camera original (hidden)",
        "parameters": { "ingredientIds": [ORIGINAL_LABEL] },
    })];
    for (i, edit) in edits.iter().enumerate() {
        actions.push(serde_json::json!({
            "action": action_for(edit),
            "description": edit.to_string(),
            "parameters": { "vouch.edit_index": i },
        }));
    }
    let definition = serde_json::json!({
        "claim_generator_info": [{ "name": "vouch", "version": env!("CARGO_PKG_VERSION") }],
        "title": "edited image with a Vouch proof",
        "format": mime,
        // The original as a described-only parent: no stream, so no hash, data or thumbnail.
        "ingredients": [{
            "title": ORIGINAL_TITLE,
            "format": "application/octet-stream",
            "relationship": "parentOf",
            "label": ORIGINAL_LABEL,
            "description": format!(
                "camera original, hidden: only its commitment {original}, signed by the camera, \
                 is public (see assertion {PROOF_LABEL})"
            ),
        }],
        "assertions": [{ "label": "c2pa.actions", "data": { "actions": actions } }],
    });
    let mut builder = Builder::from_context(Context::new())
        .with_definition(definition.to_string().as_str())
        .map_err(|e| C2paError::Embed(e.to_string()))?;
    builder
        .add_assertion(
            PROOF_LABEL,
            &ProofAssertion {
                format: PROOF_FORMAT.into(),
                edits: edits_to_text(edits),
                proof: proof.to_vec(),
            },
        )
        .map_err(|e| C2paError::Embed(e.to_string()))?;
    let mut source = Cursor::new(image);
    let mut dest = Cursor::new(Vec::new());
    builder
        .sign(signer.as_ref(), mime, &mut source, &mut dest)
        .map_err(|e| C2paError::Embed(e.to_string()))?;
    Ok(dest.into_inner())
}

/// Reads the Vouch proof and the action list from an image's active C2PA manifest.
pub fn extract(image: &[u8], format: &str) -> Result<EmbeddedProof, C2paError> {
    let mime = mime(format)?;
    let reader = Reader::from_context(Context::new())
        .with_stream(mime, Cursor::new(image))
        .map_err(|e| C2paError::Read(e.to_string()))?;
    let manifest = reader.active_manifest().ok_or(C2paError::NoProof)?;
    let assertion: ProofAssertion = manifest
        .find_assertion(PROOF_LABEL)
        .map_err(|_| C2paError::NoProof)?;
    if assertion.format != PROOF_FORMAT {
        return Err(C2paError::Read(format!(
            "proof assertion format {:?}, this build reads {PROOF_FORMAT}",
            assertion.format
        )));
    }
    let actions = manifest
        .find_assertion::<c2pa::assertions::Actions>(c2pa::assertions::Actions::LABEL)
        .map(|a| a.actions().iter().map(|x| x.action().to_string()).collect())
        .unwrap_or_default();
    let c2pa_status = reader
        .validation_status()
        .unwrap_or_default()
        .iter()
        .map(|s| format!("{}: {}", s.code(), s.explanation().unwrap_or_default()))
        .collect();
    Ok(EmbeddedProof {
        proof: assertion.proof,
        actions,
        c2pa_status,
    })
}
