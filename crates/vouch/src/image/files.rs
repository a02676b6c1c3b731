//! The two image file formats.
//!
//! - `.vimg` ([`PrivateImage`], secret): an image an editor holds, the blinding of its
//!   commitment, the camera's signed origin and the proofs from the origin to this image. A fresh
//!   capture has no proofs; an edit with a hidden output appends one.
//! - edit proof ([`EditProof`], public): the camera's signed origin and one proof per edit step.
//!   Every step's output but the last is only a commitment; the last output is the published
//!   image, which the verifier reads from its own file.
//!
//! Neither file carries verifying keys: a verifier derives each key from the step's edit list
//! and image size, so a prover cannot slip in a key for another circuit.

use serde::{Deserialize, Serialize};
use vouch_halo2::LaneChoice;
use vouch_image::camera::{Attestation, CameraPublicKey, PixelFormat, Signature};
use vouch_image::{edits_to_text, parse_edits, Edit, Image};

use super::container;
use crate::artifact::{from_hex, hex};
use crate::error::VouchError;

const PRIVATE_MAGIC: &[u8; 8] = b"VOUCHIMG";
const PROOF_MAGIC: &[u8; 8] = b"VOUCHIEP";
const VERSION: u32 = 1;

/// What the camera signed, and who signed it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    pub camera: CameraPublicKey,
    pub attestation: Attestation,
    pub signature: Signature,
}

/// One proven edit step: `edits` applied to the previous step's output (the original for the
/// first step).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Link {
    pub edits: Vec<Edit>,
    /// The prover's circuit layout; the verifier re-derives the key from it.
    pub layout: LaneChoice,
    /// Commitment to this step's output when the output is hidden.
    pub output_commitment: Option<[u8; 32]>,
    /// KZG parameters, only for proofs made with an insecure local setup (a verifier has no
    /// other way to get them; such proofs convince no one but the prover).
    pub insecure_params: Option<Vec<u8>>,
    pub proof: Vec<u8>,
}

/// A published edit proof.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EditProof {
    pub origin: Origin,
    pub links: Vec<Link>,
}

/// An image an editor may prove edits of (secret: it holds the pixels and the blinding).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrivateImage {
    pub origin: Origin,
    /// Steps from the original to `image`; each has a hidden output.
    pub links: Vec<Link>,
    pub image: Image,
    /// Blinding of the commitment to `image`.
    pub blinding: [u8; 32],
}

impl PrivateImage {
    /// The public commitment to [`PrivateImage::image`]: the camera's for a capture, else the
    /// last step's output commitment.
    pub fn commitment(&self) -> Result<[u8; 32], VouchError> {
        match self.links.last() {
            None => Ok(self.origin.attestation.commitment),
            Some(l) => l.output_commitment.ok_or_else(|| VouchError::Format {
                what: "image bundle".into(),
                msg: "the last edit step has no output commitment".into(),
            }),
        }
    }

    pub fn to_bytes(&self) -> Result<Vec<u8>, VouchError> {
        let mut blobs: Vec<&[u8]> = vec![&self.image.data];
        let links = links_json(&self.links, &mut blobs);
        let header = PrivateJson {
            origin: OriginJson::from(&self.origin),
            links,
            width: self.image.width,
            height: self.image.height,
            channels: self.image.channels,
            blinding: hex(&self.blinding),
        };
        container::encode(PRIVATE_MAGIC, VERSION, &header, &blobs)
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, VouchError> {
        let what = "image bundle (.vimg)";
        let (h, blobs): (PrivateJson, _) = container::decode(PRIVATE_MAGIC, VERSION, bytes, what)?;
        let bad = |msg: String| VouchError::Format {
            what: what.into(),
            msg,
        };
        let data = blobs
            .first()
            .cloned()
            .ok_or_else(|| bad("no pixel data".into()))?;
        let image = Image::new(h.width, h.height, h.channels, data)
            .map_err(|e| bad(format!("pixels: {e}")))?;
        let links = decode_links(&h.links, &blobs).map_err(bad)?;
        if links.iter().any(|l| l.output_commitment.is_none()) {
            return Err(bad("an edit step has no output commitment".into()));
        }
        Ok(PrivateImage {
            origin: h.origin.decode().map_err(bad)?,
            links,
            image,
            blinding: bytes32(&h.blinding).map_err(|m| bad(format!("blinding: {m}")))?,
        })
    }
}

impl EditProof {
    pub fn to_bytes(&self) -> Result<Vec<u8>, VouchError> {
        let mut blobs: Vec<&[u8]> = Vec::new();
        let links = links_json(&self.links, &mut blobs);
        let header = ProofJson {
            origin: OriginJson::from(&self.origin),
            links,
        };
        container::encode(PROOF_MAGIC, VERSION, &header, &blobs)
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, VouchError> {
        let what = "image edit proof";
        let (h, blobs): (ProofJson, _) = container::decode(PROOF_MAGIC, VERSION, bytes, what)?;
        let bad = |msg: String| VouchError::Format {
            what: what.into(),
            msg,
        };
        let links = decode_links(&h.links, &blobs).map_err(bad)?;
        Ok(EditProof {
            origin: h.origin.decode().map_err(bad)?,
            links,
        })
    }
}

// ----- JSON headers ----------------------------------------------------------------------------

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PrivateJson {
    origin: OriginJson,
    links: Vec<LinkJson>,
    width: usize,
    height: usize,
    channels: usize,
    blinding: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProofJson {
    origin: OriginJson,
    links: Vec<LinkJson>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct OriginJson {
    /// SEC1 compressed P-256 point, hex.
    camera: String,
    width: u32,
    height: u32,
    format: String,
    commitment: String,
    signature: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct LinkJson {
    edits: Vec<String>,
    lanes: u32,
    range_lanes: u32,
    range_bits: u32,
    output_commitment: Option<String>,
    proof_blob: usize,
    insecure_params_blob: Option<usize>,
}

/// Name of a pixel format in files and reports.
pub fn format_name(f: PixelFormat) -> &'static str {
    match f {
        PixelFormat::Rgb8 => "rgb8",
        PixelFormat::Gray8 => "gray8",
    }
}

fn format_from(s: &str) -> Option<PixelFormat> {
    [PixelFormat::Rgb8, PixelFormat::Gray8]
        .into_iter()
        .find(|&f| format_name(f) == s)
}

impl From<&Origin> for OriginJson {
    fn from(o: &Origin) -> Self {
        let a = &o.attestation;
        OriginJson {
            camera: hex(&o.camera.to_sec1_compressed()),
            width: a.width,
            height: a.height,
            format: format_name(a.format).into(),
            commitment: hex(&a.commitment),
            signature: hex(&o.signature.to_bytes()),
        }
    }
}

impl OriginJson {
    fn decode(&self) -> Result<Origin, String> {
        let camera = from_hex(&self.camera)
            .ok_or("camera key: not hex")
            .and_then(|b| {
                CameraPublicKey::from_sec1(&b).map_err(|_| "camera key: not a P-256 point")
            })?;
        let signature = from_hex(&self.signature)
            .ok_or_else(|| "signature: not hex".to_string())
            .and_then(|b| Signature::from_bytes(&b).map_err(|e| e.to_string()))?;
        Ok(Origin {
            camera,
            attestation: Attestation {
                width: self.width,
                height: self.height,
                format: format_from(&self.format)
                    .ok_or_else(|| format!("unknown pixel format '{}'", self.format))?,
                commitment: bytes32(&self.commitment).map_err(|m| format!("commitment: {m}"))?,
            },
            signature,
        })
    }
}

/// The steps of a header, their proofs taken from the blobs.
fn decode_links(links: &[LinkJson], blobs: &[Vec<u8>]) -> Result<Vec<Link>, String> {
    links.iter().map(|l| l.decode(blobs)).collect()
}

fn links_json<'a>(links: &'a [Link], blobs: &mut Vec<&'a [u8]>) -> Vec<LinkJson> {
    links
        .iter()
        .map(|l| {
            blobs.push(&l.proof);
            let proof_blob = blobs.len() - 1;
            let insecure_params_blob = l.insecure_params.as_deref().map(|p| {
                blobs.push(p);
                blobs.len() - 1
            });
            LinkJson {
                edits: edits_to_text(&l.edits),
                lanes: l.layout.lanes,
                range_lanes: l.layout.range_lanes,
                range_bits: l.layout.range_bits,
                output_commitment: l.output_commitment.map(|c| hex(&c)),
                proof_blob,
                insecure_params_blob,
            }
        })
        .collect()
}

impl LinkJson {
    fn decode(&self, blobs: &[Vec<u8>]) -> Result<Link, String> {
        let blob = |i: usize| {
            blobs
                .get(i)
                .cloned()
                .ok_or_else(|| format!("blob {i} is missing"))
        };
        Ok(Link {
            edits: parse_edits(&self.edits).map_err(|e| e.to_string())?,
            layout: LaneChoice {
                lanes: self.lanes,
                range_lanes: self.range_lanes,
                range_bits: self.range_bits,
            },
            output_commitment: self
                .output_commitment
                .as_deref()
                .map(bytes32)
                .transpose()
                .map_err(|m| format!("output commitment: {m}"))?,
            insecure_params: self.insecure_params_blob.map(blob).transpose()?,
            proof: blob(self.proof_blob)?,
        })
    }
}

fn bytes32(h: &str) -> Result<[u8; 32], String> {
    from_hex(h)
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .ok_or_else(|| "expected 32 bytes of hex".to_string())
}
