//! Versioned Vouch files. Every file starts with an 8-byte magic naming its kind and a format
//! version, so `vouch inspect` can tell what any file is.
//!
//! Model package (`.vouch`): `VOUCHPKG`, u32 format version, u64 length + canonical IR program
//! bytes (whose SHA-256 is the model digest), u64 length + metadata JSON. The metadata is
//! descriptive (source file, quantization settings, accuracy report); only the program is
//! named by the digest and proven.

use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};
use vouch_ir::{codec, Program};
use vouch_onnx::quantize::{AccuracyReport, QuantConfig};

use crate::error::VouchError;

/// Magic of a model package.
pub const PACKAGE_MAGIC: &[u8; 8] = b"VOUCHPKG";
/// Current model package format version.
pub const PACKAGE_VERSION: u32 = 1;

/// Descriptive metadata stored beside the program.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ModelMeta {
    /// File name of the source model.
    pub source: String,
    /// SHA-256 of the source model file.
    pub source_sha256: String,
    pub quantization: QuantConfig,
    /// Where the calibration data came from and how many samples were used.
    pub calibration: CalibrationInfo,
    /// Quantized vs float comparison on the calibration samples.
    pub report: Option<AccuracyReport>,
    /// Names of the ONNX inputs and outputs, in program order.
    pub input_names: Vec<String>,
    pub output_names: Vec<String>,
    /// Version of Vouch that wrote the package.
    pub vouch_version: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CalibrationInfo {
    /// `file` (user data) or `default` (seeded uniform samples; see docs/quantization.md).
    pub source: String,
    pub path: Option<String>,
    pub samples: usize,
}

/// A compiled model: the program every proof is about, plus metadata.
#[derive(Clone, Debug)]
pub struct ModelPackage {
    pub program: Program,
    pub meta: ModelMeta,
}

impl ModelPackage {
    pub fn to_bytes(&self) -> Result<Vec<u8>, VouchError> {
        let program = self.program.encode();
        let meta = serde_json::to_vec(&self.meta).map_err(|e| VouchError::Format {
            what: "model metadata".into(),
            msg: e.to_string(),
        })?;
        let mut out = Vec::with_capacity(program.len() + meta.len() + 32);
        out.extend_from_slice(PACKAGE_MAGIC);
        out.extend_from_slice(&PACKAGE_VERSION.to_le_bytes());
        out.extend_from_slice(&(program.len() as u64).to_le_bytes());
        out.extend_from_slice(&program);
        out.extend_from_slice(&(meta.len() as u64).to_le_bytes());
        out.extend_from_slice(&meta);
        Ok(out)
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, VouchError> {
        let bad = |msg: &str| VouchError::Format {
            what: "model package".into(),
            msg: msg.to_string(),
        };
        if bytes.len() < 12 || &bytes[..8] != PACKAGE_MAGIC {
            return Err(bad("not a Vouch model package (bad magic)"));
        }
        let version = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
        if version != PACKAGE_VERSION {
            return Err(bad(&format!(
                "format version {version}; this build reads version {PACKAGE_VERSION}"
            )));
        }
        let mut pos = 12;
        let mut section = |name: &str| -> Result<&[u8], VouchError> {
            let len_bytes = bytes
                .get(pos..pos + 8)
                .ok_or_else(|| bad(&format!("truncated before the {name} length")))?;
            let mut l = [0u8; 8];
            l.copy_from_slice(len_bytes);
            let len = usize::try_from(u64::from_le_bytes(l))
                .map_err(|_| bad(&format!("{name} length overflows")))?;
            let start = pos + 8;
            let end = start
                .checked_add(len)
                .filter(|&e| e <= bytes.len())
                .ok_or_else(|| bad(&format!("{name} section truncated")))?;
            pos = end;
            Ok(&bytes[start..end])
        };
        // A malformed program is a malformed package: a format error, so `in_file` can name
        // the file it came from.
        let program = Program::decode(section("program")?)
            .map_err(|e| bad(&format!("program section: {e}")))?;
        let meta_bytes = section("metadata")?;
        let meta: ModelMeta =
            serde_json::from_slice(meta_bytes).map_err(|e| bad(&format!("metadata: {e}")))?;
        if pos != bytes.len() {
            return Err(bad("trailing bytes after the metadata"));
        }
        // The metadata is not covered by the digest: check it against the program before
        // anything indexes one by the other.
        for (what, names, ids) in [
            ("input", &meta.input_names, &program.inputs),
            ("output", &meta.output_names, &program.outputs),
        ] {
            if names.len() != ids.len() {
                return Err(bad(&format!(
                    "metadata names {} {what}s, the program has {}",
                    names.len(),
                    ids.len()
                )));
            }
        }
        Ok(ModelPackage { program, meta })
    }

    pub fn read(path: &Path) -> Result<Self, VouchError> {
        let bytes = std::fs::read(path).map_err(|e| VouchError::io(path, e))?;
        Self::from_bytes(&bytes).map_err(|e| e.in_file(path))
    }

    /// Writes the package; refuses to replace an existing file unless `overwrite`.
    pub fn write(&self, path: &Path, overwrite: bool) -> Result<(), VouchError> {
        write_new(path, &self.to_bytes()?, overwrite)
    }

    /// The model digest: SHA-256 of the canonical program.
    pub fn digest(&self) -> codec::Digest {
        self.program.digest()
    }
}

/// What kind of Vouch (or related) file some bytes are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    ModelPackage,
    Program,
    Npy,
    Onnx,
    Unknown,
}

/// Sniffs a file's kind from its first bytes.
pub fn sniff(bytes: &[u8]) -> FileKind {
    if bytes.starts_with(PACKAGE_MAGIC) {
        FileKind::ModelPackage
    } else if bytes.starts_with(codec::MAGIC) {
        FileKind::Program
    } else if bytes.starts_with(b"\x93NUMPY") {
        FileKind::Npy
    } else if bytes.first() == Some(&0x08) {
        // ONNX ModelProto starts with field 1 (ir_version, varint).
        FileKind::Onnx
    } else {
        FileKind::Unknown
    }
}

/// Writes `bytes` to `path` through a temporary file and rename, so a crash never leaves a
/// half-written file; an existing file is replaced only when `overwrite` is set.
pub fn write_new(path: &Path, bytes: &[u8], overwrite: bool) -> Result<(), VouchError> {
    if path.exists() && !overwrite {
        return Err(VouchError::Exists(path.display().to_string()));
    }
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        ".{}.tmp{}",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("vouch"),
        std::process::id()
    ));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(VouchError::io(path, e));
    }
    Ok(())
}
