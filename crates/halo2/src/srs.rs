//! KZG parameters (the structured reference string).
//!
//! Production keys come from a powers-of-tau ceremony file in halo2's KZG parameter format
//! (see `docs/halo2.md`); a locally generated SRS is for tests and demos only, must be asked
//! for explicitly, and marks every key and proof made from it as insecure.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use halo2_axiom::{
    halo2curves::bn256::Bn256,
    poly::{commitment::Params, kzg::commitment::ParamsKZG},
    SerdeFormat,
};
use rand_core::OsRng;
use sha2::{Digest as _, Sha256};

use crate::error::Halo2Error;

/// KZG parameters shared between keys.
pub type SharedParams = Arc<ParamsKZG<Bn256>>;

/// Parameters for one circuit size, with where they came from.
#[derive(Clone, Debug)]
pub struct Loaded {
    pub params: SharedParams,
    /// SHA-256 of the ceremony file (or of the generated parameters).
    pub digest: [u8; 32],
    pub insecure: bool,
}

impl std::fmt::Debug for Srs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Srs::File { path, .. } => write!(f, "Srs::File({})", path.display()),
            Srs::InsecureDev => f.write_str("Srs::InsecureDev"),
            Srs::Given { params, insecure } => {
                write!(f, "Srs::Given(k {}, insecure {insecure})", params.k())
            }
        }
    }
}

/// Where KZG parameters come from.
pub enum Srs {
    /// A ceremony file (halo2 KZG params, `Processed` or `RawBytes` format) with its SHA-256
    /// digest, optionally checked against an expected one.
    File {
        path: PathBuf,
        expected_sha256: Option<[u8; 32]>,
        cache: Mutex<Option<(SharedParams, [u8; 32])>>,
    },
    /// Generated here with fresh OS randomness: anyone running the generator could have kept
    /// the secret, so proofs made with it prove nothing to a third party.
    InsecureDev,
    /// Parameters for exactly one circuit size, already in memory: e.g. the insecure test
    /// parameters an image-edit proof carries, so that a verifier can re-derive its key.
    Given {
        params: SharedParams,
        insecure: bool,
    },
}

impl Srs {
    pub fn file(path: impl Into<PathBuf>, expected_sha256: Option<[u8; 32]>) -> Self {
        Srs::File {
            path: path.into(),
            expected_sha256,
            cache: Mutex::new(None),
        }
    }

    /// Parameters for `2^k` rows, their digest and whether they are insecure.
    pub fn params(&self, k: u32) -> Result<Loaded, Halo2Error> {
        match self {
            Srs::InsecureDev => {
                let p = dev_params(k);
                let digest = params_digest(&p);
                Ok(Loaded {
                    params: p,
                    digest,
                    insecure: true,
                })
            }
            Srs::Given { params, insecure } => {
                if params.k() != k {
                    return Err(Halo2Error::Srs(format!(
                        "the given parameters are for 2^{} rows, the circuit needs 2^{k}",
                        params.k()
                    )));
                }
                Ok(Loaded {
                    params: params.clone(),
                    digest: params_digest(params),
                    insecure: *insecure,
                })
            }
            Srs::File {
                path,
                expected_sha256,
                cache,
            } => {
                let mut guard = cache
                    .lock()
                    .map_err(|_| Halo2Error::Srs("poisoned cache".into()))?;
                if guard.is_none() {
                    *guard = Some(read_srs(path, *expected_sha256)?);
                }
                let (full, file_digest) = guard
                    .as_ref()
                    .cloned()
                    .ok_or_else(|| Halo2Error::Srs("unreadable".into()))?;
                if full.k() < k {
                    return Err(Halo2Error::Srs(format!(
                        "{} holds 2^{} points, the circuit needs 2^{k}",
                        path.display(),
                        full.k()
                    )));
                }
                let p = if full.k() == k {
                    full
                } else {
                    let mut p = (*full).clone();
                    p.downsize(k);
                    Arc::new(p)
                };
                Ok(Loaded {
                    params: p,
                    digest: file_digest,
                    insecure: false,
                })
            }
        }
    }
}

/// Reads a ceremony file, trying halo2's compressed then raw formats.
pub fn read_srs(
    path: &std::path::Path,
    expected: Option<[u8; 32]>,
) -> Result<(SharedParams, [u8; 32]), Halo2Error> {
    let bytes = std::fs::read(path)
        .map_err(|e| Halo2Error::Srs(format!("cannot read {}: {e}", path.display())))?;
    let digest: [u8; 32] = Sha256::digest(&bytes).into();
    if let Some(want) = expected {
        if want != digest {
            return Err(Halo2Error::Srs(format!(
                "{} has SHA-256 {}, expected {}",
                path.display(),
                hex(&digest),
                hex(&want)
            )));
        }
    }
    for format in [SerdeFormat::Processed, SerdeFormat::RawBytes] {
        if let Some(p) = parse(&bytes, format) {
            return Ok((Arc::new(p), digest));
        }
    }
    Err(Halo2Error::Srs(format!(
        "{} is not a halo2 KZG parameter file for BN254",
        path.display()
    )))
}

/// Parameters in halo2's uncompressed `RawBytes` format (what key files and insecure image-edit
/// proofs carry).
pub fn encode_params(p: &ParamsKZG<Bn256>) -> Vec<u8> {
    let mut b = Vec::new();
    // Writing into a Vec cannot fail.
    let _ = p.write_custom(&mut b, SerdeFormat::RawBytes);
    b
}

/// Reads [`encode_params`] bytes; hostile bytes give an error, never a panic or an allocation
/// sized by the input.
pub fn decode_params(bytes: &[u8]) -> Result<SharedParams, Halo2Error> {
    let bad = |m: &str| Halo2Error::Srs(m.to_string());
    let k = match bytes.get(..4) {
        Some(b) => u32::from_le_bytes([b[0], b[1], b[2], b[3]]),
        None => return Err(bad("truncated KZG parameters")),
    };
    if !(1..=crate::backend::MAX_K).contains(&k) {
        return Err(bad("parameters for more rows than any circuit uses"));
    }
    if bytes.len() != 4 + 2 * (1usize << k) * 64 + 2 * 128 {
        return Err(bad(
            "KZG parameters of the wrong length for the circuit size",
        ));
    }
    let p = parse(bytes, SerdeFormat::RawBytes).ok_or_else(|| bad("malformed KZG parameters"))?;
    Ok(Arc::new(p))
}

fn parse(bytes: &[u8], format: SerdeFormat) -> Option<ParamsKZG<Bn256>> {
    // The k prefix decides how much is read: refuse absurd values before allocating.
    let k = u32::from_le_bytes(bytes.get(..4)?.try_into().ok()?);
    if !(1..=28).contains(&k) {
        return None;
    }
    let point = match format {
        SerdeFormat::Processed => 32,
        _ => 64,
    };
    if bytes.len() < 4 + 2 * point * (1usize << k) {
        return None;
    }
    std::panic::catch_unwind(|| ParamsKZG::<Bn256>::read_custom(&mut &bytes[..], format).ok())
        .ok()
        .flatten()
}

/// Test/demo parameters, generated once per process per k.
fn dev_params(k: u32) -> Arc<ParamsKZG<Bn256>> {
    static CACHE: Mutex<Vec<(u32, Arc<ParamsKZG<Bn256>>)>> = Mutex::new(Vec::new());
    let mut c = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, p)) = c.iter().find(|(kk, _)| *kk == k) {
        return p.clone();
    }
    let p = Arc::new(ParamsKZG::<Bn256>::setup(k, OsRng));
    c.push((k, p.clone()));
    p
}

/// SHA-256 of the parameters' canonical bytes.
pub fn params_digest(p: &ParamsKZG<Bn256>) -> [u8; 32] {
    let mut buf = Vec::new();
    // Writing to a Vec cannot fail.
    let _ = p.write_custom(&mut buf, SerdeFormat::Processed);
    Sha256::digest(&buf).into()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
