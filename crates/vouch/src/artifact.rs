//! Versioned Vouch files. Every file starts with an 8-byte magic naming its kind and a format
//! version, so `vouch inspect` can tell what any file is. Sections are a u64 little-endian
//! length followed by that many bytes; readers check every length against the file before
//! using it and reject trailing bytes.
//!
//! Model package (`.vouch`): `VOUCHPKG`, u32 format version, the canonical IR program bytes
//! (whose SHA-256 is the model digest), metadata JSON. The metadata is descriptive (source
//! file, quantization settings, accuracy report); only the program is named by the digest and
//! proven.
//!
//! Proof file: `VOUCHPRF`, u32 format version, the statement JSON (what the proof claims:
//! model digest, backend, parameters digest, visibility, public values, commitments, the
//! insecure-setup flag), the backend's proof bytes, metadata JSON (descriptive: circuit size,
//! output names and scales, Vouch version; not covered by the proof).
//!
//! Keys directory (written by `vouch setup`): `keys.json`, a human-readable summary that names
//! the backend, the model, the policy and the public tensors, beside one key file whose
//! SHA-256 `keys.json` records; both are checked against each other on reading.
//!
//! - halo2: `halo2.vk`, the verifying key in vouch-halo2's versioned format (program digest,
//!   policy, circuit size, public tensors, SRS digest, insecure flag, KZG parameters). Proving
//!   keys are not stored: they are derived again from the model and the verifying key.
//! - gkr: `gkr.program`, the model's canonical IR program (its SHA-256 is the model digest).
//!   gkr has no trusted setup: its key is the program, the policy and the plan lowered from
//!   them, which every reader derives again (and checks against `keys.json`, including the
//!   digest of the backend parameters).

use std::io::Write;
use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use vouch_backend::{Role, Statement, Visibility, VisibilityPolicy};
use vouch_gkr::backend::{GkrBackend, GkrKey};
use vouch_halo2::Halo2VerifyingKey;
use vouch_ir::{codec, Digest, Program, TensorId};
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
        put_section(&mut out, &program);
        put_section(&mut out, &meta);
        Ok(out)
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, VouchError> {
        let bad = |msg: &str| VouchError::Format {
            what: "model package".into(),
            msg: msg.to_string(),
        };
        let mut sections = Sections::open(bytes, PACKAGE_MAGIC, PACKAGE_VERSION, "model package")?;
        // A malformed program is a malformed package: a format error, so `in_file` can name
        // the file it came from.
        let program = Program::decode(sections.next("program")?)
            .map_err(|e| bad(&format!("program section: {e}")))?;
        let meta_bytes = sections.next("metadata")?;
        let meta: ModelMeta =
            serde_json::from_slice(meta_bytes).map_err(|e| bad(&format!("metadata: {e}")))?;
        sections.finish("metadata")?;
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
    Proof,
    Halo2VerifyingKey,
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
    } else if bytes.starts_with(PROOF_MAGIC) {
        FileKind::Proof
    } else if bytes.starts_with(HALO2_VK_MAGIC) {
        FileKind::Halo2VerifyingKey
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
    write_atomic(path, bytes, overwrite, false)
}

/// [`write_new`] for secrets (private keys, originals with their blinding): the file is
/// readable by its owner only (mode 0600 on Unix) from the moment it exists.
pub fn write_private(path: &Path, bytes: &[u8], overwrite: bool) -> Result<(), VouchError> {
    write_atomic(path, bytes, overwrite, true)
}

fn write_atomic(
    path: &Path,
    bytes: &[u8],
    overwrite: bool,
    private: bool,
) -> Result<(), VouchError> {
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
        // A stale temporary file would keep its old permissions: start from none.
        let _ = std::fs::remove_file(&tmp);
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        if private {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        #[cfg(not(unix))]
        let _ = private;
        let mut f = opts.open(&tmp)?;
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

/// Appends one length-prefixed section.
fn put_section(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
    out.extend_from_slice(bytes);
}

/// Reader of a versioned file's sections; every failure is a [`VouchError::Format`].
struct Sections<'a> {
    bytes: &'a [u8],
    pos: usize,
    what: &'static str,
}

impl<'a> Sections<'a> {
    /// Checks the magic and the version and positions after them.
    fn open(
        bytes: &'a [u8],
        magic: &[u8; 8],
        version: u32,
        what: &'static str,
    ) -> Result<Self, VouchError> {
        let s = Sections {
            bytes,
            pos: 12,
            what,
        };
        if bytes.get(..8) != Some(&magic[..]) || bytes.len() < 12 {
            return Err(s.bad(&format!("not a Vouch {what} (bad magic)")));
        }
        let got = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
        if got != version {
            return Err(s.bad(&format!(
                "format version {got}; this build reads version {version}"
            )));
        }
        Ok(s)
    }

    fn bad(&self, msg: &str) -> VouchError {
        VouchError::Format {
            what: self.what.into(),
            msg: msg.to_string(),
        }
    }

    fn next(&mut self, name: &str) -> Result<&'a [u8], VouchError> {
        let len_bytes = self
            .pos
            .checked_add(8)
            .and_then(|end| self.bytes.get(self.pos..end))
            .ok_or_else(|| self.bad(&format!("truncated before the {name} length")))?;
        let mut l = [0u8; 8];
        l.copy_from_slice(len_bytes);
        let len = usize::try_from(u64::from_le_bytes(l))
            .map_err(|_| self.bad(&format!("{name} length overflows")))?;
        let start = self.pos + 8;
        let end = start
            .checked_add(len)
            .filter(|&e| e <= self.bytes.len())
            .ok_or_else(|| self.bad(&format!("{name} section truncated")))?;
        self.pos = end;
        Ok(&self.bytes[start..end])
    }

    /// Rejects bytes after the last section.
    fn finish(self, last: &str) -> Result<(), VouchError> {
        if self.pos != self.bytes.len() {
            return Err(self.bad(&format!("trailing bytes after the {last}")));
        }
        Ok(())
    }
}

/// Lowercase hex of some bytes.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Bytes of a hex string (even length, no prefix); `None` when it is not hex.
pub fn from_hex(s: &str) -> Option<Vec<u8>> {
    let s = s.trim();
    if !s.len().is_multiple_of(2) || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

// ----- proofs ----------------------------------------------------------------------------------

/// Magic of a proof file.
pub const PROOF_MAGIC: &[u8; 8] = b"VOUCHPRF";
/// Current proof file format version.
pub const PROOF_VERSION: u32 = 1;
/// Backends whose proofs and keys this build reads.
pub const BACKENDS: &[&str] = &["halo2", vouch_gkr::backend::BACKEND_NAME];

/// A tensor named in a statement, for people: which role it plays and how to read its values.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TensorSummary {
    pub tensor: TensorId,
    pub role: Role,
    pub name: String,
    pub shape: Vec<usize>,
    /// Real value of one integer step (`None` for integer tensors).
    pub scale: Option<f64>,
}

impl TensorSummary {
    /// Number of values.
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Descriptive part of a proof file; not covered by the proof.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProofMeta {
    /// halo2: the circuit has `2^k` rows; gkr: the committed trace has `2^k` entries.
    pub k: u32,
    /// The model's outputs, named as in the source model.
    pub outputs: Vec<TensorSummary>,
    /// Version of Vouch that wrote the proof.
    pub vouch_version: String,
}

/// A proof with the statement it proves.
#[derive(Clone, Debug, PartialEq)]
pub struct ProofFile {
    pub statement: Statement,
    /// The backend's proof bytes.
    pub proof: Vec<u8>,
    pub meta: ProofMeta,
}

impl ProofFile {
    pub fn to_bytes(&self) -> Result<Vec<u8>, VouchError> {
        let json = |what: &str, r: serde_json::Result<Vec<u8>>| {
            r.map_err(|e| VouchError::Format {
                what: what.into(),
                msg: e.to_string(),
            })
        };
        let statement = json("statement", serde_json::to_vec(&self.statement))?;
        let meta = json("proof metadata", serde_json::to_vec(&self.meta))?;
        let mut out = Vec::with_capacity(statement.len() + self.proof.len() + meta.len() + 40);
        out.extend_from_slice(PROOF_MAGIC);
        out.extend_from_slice(&PROOF_VERSION.to_le_bytes());
        put_section(&mut out, &statement);
        put_section(&mut out, &self.proof);
        put_section(&mut out, &meta);
        Ok(out)
    }

    /// Parses a proof file; hostile bytes give a [`VouchError::Format`], never a panic. Whether
    /// the proof is valid is for [`crate::prove::verify`] to say.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, VouchError> {
        let mut s = Sections::open(bytes, PROOF_MAGIC, PROOF_VERSION, "proof file")?;
        let statement: Statement = serde_json::from_slice(s.next("statement")?)
            .map_err(|e| s.bad(&format!("statement: {e}")))?;
        let proof = s.next("proof")?.to_vec();
        let meta: ProofMeta = serde_json::from_slice(s.next("metadata")?)
            .map_err(|e| s.bad(&format!("metadata: {e}")))?;
        if !BACKENDS.contains(&statement.backend.as_str()) {
            return Err(s.bad(&format!(
                "made with backend '{}', which this build does not know (it reads {})",
                statement.backend,
                BACKENDS.join(", ")
            )));
        }
        if proof.is_empty() {
            return Err(s.bad("the proof section is empty"));
        }
        s.finish("metadata")?;
        Ok(ProofFile {
            statement,
            proof,
            meta,
        })
    }

    pub fn read(path: &Path) -> Result<Self, VouchError> {
        let bytes = std::fs::read(path).map_err(|e| VouchError::io(path, e))?;
        Self::from_bytes(&bytes).map_err(|e| e.in_file(path))
    }

    /// Writes the proof; refuses to replace an existing file unless `overwrite`. Returns the
    /// number of bytes written.
    pub fn write(&self, path: &Path, overwrite: bool) -> Result<usize, VouchError> {
        let bytes = self.to_bytes()?;
        write_new(path, &bytes, overwrite)?;
        Ok(bytes.len())
    }
}

// ----- keys ------------------------------------------------------------------------------------

/// Magic of a halo2 verifying key file (vouch-halo2's key format).
pub const HALO2_VK_MAGIC: &[u8; 8] = b"VOUCHH2K";
/// `format` field of `keys.json`.
pub const KEYS_FORMAT: &str = "vouch-keys";
/// Current `keys.json` version.
pub const KEYS_VERSION: u32 = 1;
/// The summary file of a keys directory.
pub const KEYS_SUMMARY_FILE: &str = "keys.json";
/// The halo2 verifying key file of a keys directory.
pub const HALO2_VK_FILE: &str = "halo2.vk";
/// The gkr key file of a keys directory: the model's canonical IR program.
pub const GKR_PROGRAM_FILE: &str = "gkr.program";
/// The secret blinding of the weights commitment (hashed weights only). It stays with the
/// prover: verifiers need only `keys.json` and `halo2.vk`.
pub const WEIGHTS_BLINDING_FILE: &str = "weights.blinding";
/// Every file a keys directory may hold.
const KEYS_FILES: &[&str] = &[
    KEYS_SUMMARY_FILE,
    HALO2_VK_FILE,
    GKR_PROGRAM_FILE,
    WEIGHTS_BLINDING_FILE,
];

/// The key file a backend's keys directory holds beside `keys.json`; `None` for a backend
/// this build does not know.
pub fn key_file_of(backend: &str) -> Option<&'static str> {
    match backend {
        "halo2" => Some(HALO2_VK_FILE),
        vouch_gkr::backend::BACKEND_NAME => Some(GKR_PROGRAM_FILE),
        _ => None,
    }
}

/// `keys.json`: what the keys are for, for people and for checking the key file against.
///
/// The circuit-size fields describe halo2 circuits; for gkr, `k` is log2 of the committed
/// trace length, `rows` the committed values, `table_rows` the lookup-table entries,
/// `range_bits` the width of a range-check limb, `lanes` 0, `srs_sha256` empty (not written:
/// there is no setup) and `params_digest` the digest of the backend parameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KeysSummary {
    /// Always [`KEYS_FORMAT`].
    pub format: String,
    pub version: u32,
    pub backend: String,
    pub model_digest: Digest,
    /// File name of the model's source (descriptive).
    pub model_source: String,
    /// `provider`, `client`, or `None` for an explicit policy.
    pub preset: Option<String>,
    pub policy: VisibilityPolicy,
    /// The circuit has `2^k` rows.
    pub k: u32,
    /// Rows used by gates and by lookup tables.
    pub rows: usize,
    pub table_rows: usize,
    /// Width of the range-check table.
    pub range_bits: u32,
    /// General advice lanes per row, chosen by the planner.
    #[serde(default)]
    pub lanes: u32,
    /// Public tensors in statement order.
    pub public: Vec<TensorSummary>,
    /// SHA-256 of the SRS file (or of the generated parameters for insecure setups); empty
    /// (and not written) for gkr, which has no setup.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub srs_sha256: String,
    /// True when the SRS was generated locally: such keys prove nothing to anyone else.
    pub insecure_setup: bool,
    /// The key file (`halo2.vk` or `gkr.program`), its SHA-256 and its size.
    pub vk_file: String,
    pub vk_sha256: String,
    pub vk_bytes: usize,
    /// gkr: hex SHA-256 of the backend parameters (every statement carries the same digest).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params_digest: Option<String>,
    /// The weights commitment every proof made with these keys carries (hashed weights only):
    /// what the prover publishes, and what `verify` requires.
    #[serde(default)]
    pub weights_commitment: Option<String>,
    pub vouch_version: String,
}

/// The backend's key a keys directory holds.
#[derive(Debug)]
pub enum BackendKey {
    /// The halo2 verifying key (`halo2.vk`).
    Halo2(Box<Halo2VerifyingKey>),
    /// The gkr key (proving and verifying alike), derived from `gkr.program` and the policy.
    Gkr(Box<GkrKey>),
}

/// A keys directory: the backend's key and its summary, plus the prover's secret blinding of
/// the weights commitment when the weights are hashed and the directory holds it.
pub struct KeysDir {
    pub summary: KeysSummary,
    pub key: BackendKey,
    /// The key file as stored (`halo2.vk` or `gkr.program`).
    pub vk_bytes: Vec<u8>,
    /// Little-endian bytes of the blinding field element (secret).
    pub weights_blinding: Option<[u8; 32]>,
}

impl std::fmt::Debug for KeysDir {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeysDir")
            .field("summary", &self.summary)
            .field(
                "weights_blinding",
                &self.weights_blinding.map(|_| "<secret>"),
            )
            .finish_non_exhaustive()
    }
}

impl KeysDir {
    /// The model the keys are for.
    pub fn digest(&self) -> Digest {
        match &self.key {
            BackendKey::Halo2(vk) => vk.info.program_digest,
            BackendKey::Gkr(key) => key.digest,
        }
    }

    /// The visibility policy the keys prove.
    pub fn policy(&self) -> VisibilityPolicy {
        match &self.key {
            BackendKey::Halo2(vk) => vk.info.policy,
            BackendKey::Gkr(key) => key.policy,
        }
    }

    /// Whether the keys come from an insecure (locally generated) setup; never for gkr.
    pub fn insecure_setup(&self) -> bool {
        match &self.key {
            BackendKey::Halo2(vk) => vk.info.insecure_setup,
            BackendKey::Gkr(_) => false,
        }
    }

    /// The name of the key file beside `keys.json`.
    pub fn key_file(&self) -> &'static str {
        match &self.key {
            BackendKey::Halo2(_) => HALO2_VK_FILE,
            BackendKey::Gkr(_) => GKR_PROGRAM_FILE,
        }
    }

    /// Builds a summary-checked keys directory from the bytes of `keys.json` and of the key
    /// file it names (`halo2.vk` or `gkr.program`).
    pub fn from_parts(summary: &[u8], vk_bytes: Vec<u8>) -> Result<Self, VouchError> {
        Self::from_summary(Self::parse_summary(summary)?, vk_bytes)
    }

    /// Parses `keys.json`: its format, version and a backend this build knows.
    pub fn parse_summary(summary: &[u8]) -> Result<KeysSummary, VouchError> {
        let bad = |what: &str, msg: String| VouchError::Format {
            what: what.into(),
            msg,
        };
        let summary: KeysSummary = serde_json::from_slice(summary)
            .map_err(|e| bad(KEYS_SUMMARY_FILE, format!("not a Vouch keys summary: {e}")))?;
        if summary.format != KEYS_FORMAT {
            return Err(bad(
                KEYS_SUMMARY_FILE,
                format!("format '{}', expected '{KEYS_FORMAT}'", summary.format),
            ));
        }
        if summary.version != KEYS_VERSION {
            return Err(bad(
                KEYS_SUMMARY_FILE,
                format!(
                    "version {}; this build reads version {KEYS_VERSION}",
                    summary.version
                ),
            ));
        }
        let Some(key_file) = key_file_of(&summary.backend) else {
            return Err(bad(
                KEYS_SUMMARY_FILE,
                format!(
                    "keys for backend '{}', which this build does not know (it reads {})",
                    summary.backend,
                    BACKENDS.join(", ")
                ),
            ));
        };
        if summary.vk_file != key_file {
            return Err(bad(
                KEYS_SUMMARY_FILE,
                format!(
                    "names the key file '{}'; {} keys keep their key in {key_file}",
                    summary.vk_file, summary.backend
                ),
            ));
        }
        Ok(summary)
    }

    /// Checks the key file's bytes against a parsed summary and derives the key.
    fn from_summary(summary: KeysSummary, vk_bytes: Vec<u8>) -> Result<Self, VouchError> {
        let bad = |what: &str, msg: String| VouchError::Format {
            what: what.into(),
            msg,
        };
        let key_file = key_file_of(&summary.backend).unwrap_or(HALO2_VK_FILE);
        let disagree = |field: &str| {
            bad(
                KEYS_SUMMARY_FILE,
                format!("disagrees with {key_file} about the {field}; run `vouch setup` again"),
            )
        };
        if summary.vk_sha256 != sha256_hex(&vk_bytes) || summary.vk_bytes != vk_bytes.len() {
            return Err(disagree("key's SHA-256"));
        }
        let key = match key_file {
            HALO2_VK_FILE => BackendKey::Halo2(Box::new(check_halo2_key(&summary, &vk_bytes)?)),
            _ => BackendKey::Gkr(Box::new(check_gkr_key(&summary, &vk_bytes)?)),
        };
        let hashed_weights = summary.policy.weights == Visibility::Hashed;
        match &summary.weights_commitment {
            Some(c) if !hashed_weights || from_hex(c).is_none_or(|b| b.len() != 32) => {
                return Err(bad(
                    KEYS_SUMMARY_FILE,
                    "weights_commitment must be 64 hex characters, and only for hashed weights"
                        .into(),
                ))
            }
            None if hashed_weights => {
                return Err(bad(
                    KEYS_SUMMARY_FILE,
                    "the weights are hashed but no weights_commitment is recorded".into(),
                ))
            }
            _ => {}
        }
        Ok(KeysDir {
            summary,
            key,
            vk_bytes,
            weights_blinding: None,
        })
    }

    /// Parses `weights.blinding` (64 hex characters, a canonical field element).
    pub fn parse_blinding(text: &[u8]) -> Result<[u8; 32], VouchError> {
        let bad = || VouchError::Format {
            what: WEIGHTS_BLINDING_FILE.into(),
            msg: "expected 64 hex characters of a BN254 scalar".into(),
        };
        let text = std::str::from_utf8(text).map_err(|_| bad())?;
        let bytes: [u8; 32] = from_hex(text)
            .and_then(|b| b.try_into().ok())
            .ok_or_else(bad)?;
        vouch_halo2::field::from_bytes(&bytes).ok_or_else(bad)?;
        Ok(bytes)
    }

    /// Reads a keys directory (a path to one of its files names the directory).
    pub fn read(path: &Path) -> Result<Self, VouchError> {
        let dir = keys_dir_of(path);
        let read = |name: &str| {
            let p = dir.join(name);
            std::fs::read(&p).map_err(|e| {
                if e.kind() == std::io::ErrorKind::NotFound {
                    VouchError::Format {
                        what: dir.display().to_string(),
                        msg: format!(
                            "not a keys directory (no {name}); make one with `vouch setup`"
                        ),
                    }
                } else {
                    VouchError::io(&p, e)
                }
            })
        };
        if !dir.is_dir() {
            if !dir.exists() {
                return Err(VouchError::io(
                    dir,
                    std::io::Error::from(std::io::ErrorKind::NotFound),
                ));
            }
            return Err(VouchError::Format {
                what: dir.display().to_string(),
                msg: "not a keys directory (a file); pass the directory `vouch setup` wrote".into(),
            });
        }
        let summary = Self::parse_summary(&read(KEYS_SUMMARY_FILE)?).map_err(|e| e.in_file(dir))?;
        let key_file = key_file_of(&summary.backend).unwrap_or(HALO2_VK_FILE);
        let vk = read(key_file)?;
        let mut keys = Self::from_summary(summary, vk).map_err(|e| e.in_file(dir))?;
        let blinding = dir.join(WEIGHTS_BLINDING_FILE);
        if keys.summary.weights_commitment.is_some() && blinding.exists() {
            let text = std::fs::read(&blinding).map_err(|e| VouchError::io(&blinding, e))?;
            keys.weights_blinding = Some(Self::parse_blinding(&text).map_err(|e| e.in_file(dir))?);
        }
        Ok(keys)
    }

    /// Writes the directory atomically (see [`write_new_dir`]).
    pub fn write(&self, dir: &Path, overwrite: bool) -> Result<(), VouchError> {
        let mut summary =
            serde_json::to_vec_pretty(&self.summary).map_err(|e| VouchError::Format {
                what: KEYS_SUMMARY_FILE.into(),
                msg: e.to_string(),
            })?;
        summary.push(b'\n');
        let blinding = self.weights_blinding.map(|b| format!("{}\n", hex(&b)));
        let mut files: Vec<(&str, &[u8])> = vec![
            (self.key_file(), &self.vk_bytes),
            (KEYS_SUMMARY_FILE, &summary),
        ];
        if let Some(b) = &blinding {
            files.push((WEIGHTS_BLINDING_FILE, b.as_bytes()));
        }
        write_new_dir(dir, &files, overwrite)
    }
}

/// Checks `halo2.vk` against the summary.
fn check_halo2_key(
    summary: &KeysSummary,
    vk_bytes: &[u8],
) -> Result<Halo2VerifyingKey, VouchError> {
    let bad = |what: &str, msg: String| VouchError::Format {
        what: what.into(),
        msg,
    };
    let vk = Halo2VerifyingKey::decode(vk_bytes).map_err(|e| bad(HALO2_VK_FILE, e.to_string()))?;
    let disagree = |field: &str| {
        bad(
            KEYS_SUMMARY_FILE,
            format!("disagrees with {HALO2_VK_FILE} about the {field}; run `vouch setup` again"),
        )
    };
    let info = &vk.info;
    if summary.model_digest != info.program_digest {
        return Err(disagree("model digest"));
    }
    if summary.policy != info.policy {
        return Err(disagree("visibility policy"));
    }
    if summary.k != info.k
        || summary.range_bits != info.shape.range_bits
        || summary.lanes != info.shape.lanes
    {
        return Err(disagree("circuit size"));
    }
    if summary.insecure_setup != info.insecure_setup {
        return Err(disagree("insecure-setup flag"));
    }
    if summary.srs_sha256 != hex(&info.srs_digest) {
        return Err(disagree("SRS digest"));
    }
    if summary.params_digest.is_some() {
        return Err(bad(
            KEYS_SUMMARY_FILE,
            "params_digest is for gkr keys; halo2 keys name their SRS in srs_sha256".into(),
        ));
    }
    let public: Vec<(TensorId, usize)> =
        summary.public.iter().map(|t| (t.tensor, t.len())).collect();
    let key_public: Vec<(TensorId, usize)> =
        info.public.iter().map(|p| (p.tensor, p.len)).collect();
    if public != key_public {
        return Err(disagree("public tensors"));
    }
    Ok(vk)
}

/// Numbers a gkr key's summary records: `(k, rows, table_rows, range_bits)`, i.e. log2 of the
/// trace length, committed values, lookup-table entries (function tables and range tables)
/// and the widest range-check limb.
pub fn gkr_shape(key: &GkrKey) -> (u32, usize, usize, u32) {
    let s = key.plan.summary();
    (
        s.trace_vars as u32,
        s.committed,
        s.table_entries,
        s.widest_limb_bits,
    )
}

/// The tensors a gkr statement carries, in order: the program's inputs (unless hidden by the
/// policy), then its outputs (each once).
pub fn gkr_public_tensors(program: &Program, policy: VisibilityPolicy) -> Vec<TensorId> {
    vouch_gkr::backend::public_ids(program, policy)
}

/// Checks `gkr.program` against the summary and derives the key (the plan) from it: the
/// program must be the summary's model, the policy one gkr proves, the backend parameters this
/// build's.
fn check_gkr_key(summary: &KeysSummary, program_bytes: &[u8]) -> Result<GkrKey, VouchError> {
    use vouch_backend::Backend as _;
    let bad = |what: &str, msg: String| VouchError::Format {
        what: what.into(),
        msg,
    };
    let disagree = |field: &str| {
        bad(
            KEYS_SUMMARY_FILE,
            format!("disagrees with {GKR_PROGRAM_FILE} about the {field}; run `vouch setup` again"),
        )
    };
    let program = Program::decode(program_bytes)
        .map_err(|e| bad(GKR_PROGRAM_FILE, format!("not a Vouch IR program: {e}")))?;
    if program.digest() != summary.model_digest {
        return Err(disagree("model digest"));
    }
    let params = hex(&vouch_gkr::backend::params_digest());
    match &summary.params_digest {
        Some(p) if *p == params => {}
        Some(p) => {
            return Err(bad(
                KEYS_SUMMARY_FILE,
                format!(
                    "made for gkr parameters {p}, but this build proves with parameters {params}; run `vouch setup` again"
                ),
            ))
        }
        None => {
            return Err(bad(
                KEYS_SUMMARY_FILE,
                "gkr keys must record the backend's params_digest".into(),
            ))
        }
    }
    if summary.insecure_setup || !summary.srs_sha256.is_empty() {
        return Err(bad(
            KEYS_SUMMARY_FILE,
            "gkr has no setup: the insecure_setup flag must be false and no srs_sha256 recorded"
                .into(),
        ));
    }
    let (_, key) = GkrBackend
        .setup(&program, summary.policy)
        .map_err(|e| bad(KEYS_SUMMARY_FILE, format!("policy: {e}")))?;
    let (k, rows, table_rows, range_bits) = gkr_shape(&key);
    if (
        summary.k,
        summary.rows,
        summary.table_rows,
        summary.range_bits,
        summary.lanes,
    ) != (k, rows, table_rows, range_bits, 0)
    {
        return Err(disagree("trace size"));
    }
    let public: Vec<(TensorId, usize)> =
        summary.public.iter().map(|t| (t.tensor, t.len())).collect();
    let key_public: Vec<(TensorId, usize)> = gkr_public_tensors(&program, key.policy)
        .into_iter()
        .map(|id| (id, program.info(id).shape.iter().product()))
        .collect();
    if public != key_public {
        return Err(disagree("public tensors"));
    }
    Ok(key)
}

/// The keys directory a path names: the path itself, or the directory of a keys file.
fn keys_dir_of(path: &Path) -> &Path {
    let is_keys_file = path
        .file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| KEYS_FILES.contains(&n));
    match path.parent() {
        Some(parent) if is_keys_file && path.is_file() => {
            if parent.as_os_str().is_empty() {
                Path::new(".")
            } else {
                parent
            }
        }
        _ => path,
    }
}

/// Whether `dir` may receive a new keys directory: it does not exist, is empty, or (with
/// `overwrite`) holds only keys files. A directory holding anything else is never replaced.
pub fn check_keys_target(dir: &Path, overwrite: bool) -> Result<(), VouchError> {
    let meta = match std::fs::symlink_metadata(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(VouchError::io(dir, e)),
        Ok(m) => m,
    };
    let refuse = |msg: String| VouchError::Data {
        what: dir.display().to_string(),
        msg,
    };
    if !meta.is_dir() {
        return Err(refuse(
            "exists and is not a directory; choose a new directory for the keys".into(),
        ));
    }
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| VouchError::io(dir, e))? {
        let entry = entry.map_err(|e| VouchError::io(dir, e))?;
        names.push(entry.file_name().to_string_lossy().into_owned());
    }
    if names.is_empty() {
        return Ok(());
    }
    if !overwrite {
        return Err(VouchError::Exists(dir.display().to_string()));
    }
    names.sort();
    if let Some(other) = names.iter().find(|n| !KEYS_FILES.contains(&n.as_str())) {
        return Err(refuse(format!(
            "holds {other}, which is not a keys file; refusing to replace the directory even with --force"
        )));
    }
    Ok(())
}

/// Writes `files` as the directory `dir`: into a temporary directory beside it, then renamed
/// into place, so readers never see a half-written keys directory. An existing directory is
/// replaced only when it is empty or (with `overwrite`) holds nothing but keys files.
pub fn write_new_dir(
    dir: &Path,
    files: &[(&str, &[u8])],
    overwrite: bool,
) -> Result<(), VouchError> {
    check_keys_target(dir, overwrite)?;
    let name = dir
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| VouchError::Data {
            what: dir.display().to_string(),
            msg: "not a usable directory name; name a new directory for the keys".into(),
        })?;
    let parent = dir
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let pid = std::process::id();
    let tmp = parent.join(format!(".{name}.tmp{pid}"));
    let old = parent.join(format!(".{name}.old{pid}"));
    let io = |e| VouchError::io(dir, e);
    let remove = |d: &Path| {
        for (f, _) in files {
            let _ = std::fs::remove_file(d.join(f));
        }
        let _ = std::fs::remove_dir(d);
    };
    let result = (|| -> std::io::Result<()> {
        std::fs::create_dir(&tmp)?;
        for (f, bytes) in files {
            let mut file = std::fs::File::create(tmp.join(f))?;
            if *f == WEIGHTS_BLINDING_FILE {
                restrict_to_owner(&file)?;
            }
            file.write_all(bytes)?;
            file.sync_all()?;
        }
        if dir.exists() {
            std::fs::rename(dir, &old)?;
            if let Err(e) = std::fs::rename(&tmp, dir) {
                let _ = std::fs::rename(&old, dir);
                return Err(e);
            }
            for f in KEYS_FILES {
                let _ = std::fs::remove_file(old.join(f));
            }
            // The new keys are in place: a leftover empty directory is not a failure.
            let _ = std::fs::remove_dir(&old);
        } else {
            std::fs::rename(&tmp, dir)?;
        }
        Ok(())
    })();
    if let Err(e) = result {
        remove(&tmp);
        return Err(io(e));
    }
    Ok(())
}

/// Makes a secret file readable by its owner only (where the platform has such permissions).
fn restrict_to_owner(file: &std::fs::File) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    #[cfg(not(unix))]
    let _ = file;
    Ok(())
}
