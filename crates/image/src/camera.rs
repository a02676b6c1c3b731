//! Camera attestation: a camera holds an ECDSA P-256 key (the curve C2PA capture devices use) and
//! signs a canonical message binding the captured image's width, height, pixel format and a
//! 32-byte commitment to its pixels.
//!
//! Signatures are ECDSA over SHA-256 of [`Attestation::message`] (p256's standard `Signer`), encoded
//! as the fixed 64-byte `r || s` form. Signing always emits the low-S form and verification
//! rejects high-S signatures, so a valid signature has exactly one encoding.

use p256::ecdsa::signature::{Signer, Verifier};
use p256::ecdsa::{Signature as EcdsaSignature, SigningKey, VerifyingKey};
use p256::pkcs8::{
    DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey, LineEnding,
};
use rand_core::OsRng;
use sha2::{Digest, Sha256};

/// Domain tag that starts every attestation message.
pub const DOMAIN_TAG: &[u8] = b"vouch/camera-attestation/v1";

/// Length of [`Attestation::message`] in bytes.
pub const MESSAGE_LEN: usize = DOMAIN_TAG.len() + 4 + 4 + 1 + 32;

/// Length of an encoded [`Signature`] (`r || s`, 32 bytes each, big-endian).
pub const SIGNATURE_LEN: usize = 64;

/// Why a camera key, signature or attestation was rejected.
#[derive(Debug, thiserror::Error)]
pub enum CameraError {
    #[error("invalid camera private key (expected a PKCS#8 PEM P-256 key): {0}")]
    PrivateKey(String),
    #[error("invalid camera public key (expected an SPKI PEM P-256 key): {0}")]
    PublicKey(String),
    #[error("failed to encode key as PEM: {0}")]
    Encode(String),
    #[error("malformed signature: {0}")]
    MalformedSignature(String),
    #[error("signature does not verify for this camera key and attestation")]
    BadSignature,
}

/// Pixel layout of the attested raw image.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PixelFormat {
    /// 3 bytes per pixel, R G B.
    Rgb8,
    /// 1 byte per pixel.
    Gray8,
}

impl PixelFormat {
    /// The byte that encodes this format in [`Attestation::message`].
    pub fn code(self) -> u8 {
        match self {
            PixelFormat::Rgb8 => 1,
            PixelFormat::Gray8 => 2,
        }
    }

    /// Channels per pixel.
    pub fn channels(self) -> usize {
        match self {
            PixelFormat::Rgb8 => 3,
            PixelFormat::Gray8 => 1,
        }
    }
}

/// What a camera signs: the captured image's size and format and a commitment to its pixels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Attestation {
    pub width: u32,
    pub height: u32,
    pub format: PixelFormat,
    pub commitment: [u8; 32],
}

impl Attestation {
    /// Canonical signed bytes: [`DOMAIN_TAG`], width (u32 LE), height (u32 LE), format byte
    /// ([`PixelFormat::code`]), commitment.
    pub fn message(&self) -> Vec<u8> {
        let mut m = Vec::with_capacity(MESSAGE_LEN);
        m.extend_from_slice(DOMAIN_TAG);
        m.extend_from_slice(&self.width.to_le_bytes());
        m.extend_from_slice(&self.height.to_le_bytes());
        m.push(self.format.code());
        m.extend_from_slice(&self.commitment);
        m
    }
}

/// A camera's ECDSA P-256 signature over an [`Attestation`] (always low-S).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Signature(EcdsaSignature);

impl Signature {
    /// The fixed 64-byte `r || s` encoding.
    pub fn to_bytes(&self) -> [u8; SIGNATURE_LEN] {
        let mut out = [0u8; SIGNATURE_LEN];
        out.copy_from_slice(&self.0.to_bytes());
        out
    }

    /// Parses the 64-byte `r || s` encoding; rejects wrong lengths, zero or out-of-range scalars
    /// and the high-S form.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CameraError> {
        if bytes.len() != SIGNATURE_LEN {
            return Err(CameraError::MalformedSignature(format!(
                "{} bytes, expected {SIGNATURE_LEN}",
                bytes.len()
            )));
        }
        let sig = EcdsaSignature::from_slice(bytes)
            .map_err(|e| CameraError::MalformedSignature(e.to_string()))?;
        if sig.normalize_s().is_some() {
            return Err(CameraError::MalformedSignature(
                "high-S signature (not canonical)".into(),
            ));
        }
        Ok(Signature(sig))
    }
}

impl std::fmt::Debug for Signature {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Signature(")?;
        for b in self.to_bytes() {
            write!(f, "{b:02x}")?;
        }
        write!(f, ")")
    }
}

/// A camera's private signing key.
#[derive(Clone)]
pub struct CameraKey(SigningKey);

impl std::fmt::Debug for CameraKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CameraKey")
            .field("public", &self.public())
            .finish_non_exhaustive()
    }
}

impl CameraKey {
    /// A fresh key from the operating system's randomness.
    pub fn generate() -> Self {
        CameraKey(SigningKey::random(&mut OsRng))
    }

    /// PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`), LF line endings.
    pub fn to_pkcs8_pem(&self) -> Result<String, CameraError> {
        self.0
            .to_pkcs8_pem(LineEnding::LF)
            .map(|pem| pem.to_string())
            .map_err(|e| CameraError::Encode(e.to_string()))
    }

    /// Parses a PKCS#8 PEM P-256 private key; any other key type or malformed PEM is an error.
    pub fn from_pkcs8_pem(pem: &str) -> Result<Self, CameraError> {
        SigningKey::from_pkcs8_pem(pem)
            .map(CameraKey)
            .map_err(|e| CameraError::PrivateKey(e.to_string()))
    }

    /// The matching public key.
    pub fn public(&self) -> CameraPublicKey {
        CameraPublicKey(*self.0.verifying_key())
    }

    /// Signs [`Attestation::message`] (ECDSA P-256 with SHA-256, deterministic RFC 6979 nonces),
    /// returning the low-S form.
    pub fn sign(&self, attestation: &Attestation) -> Signature {
        let sig: EcdsaSignature = self.0.sign(&attestation.message());
        Signature(sig.normalize_s().unwrap_or(sig))
    }
}

/// A camera's public verifying key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CameraPublicKey(VerifyingKey);

impl CameraPublicKey {
    /// SPKI PEM (`-----BEGIN PUBLIC KEY-----`), LF line endings.
    pub fn to_public_key_pem(&self) -> Result<String, CameraError> {
        self.0
            .to_public_key_pem(LineEnding::LF)
            .map_err(|e| CameraError::Encode(e.to_string()))
    }

    /// Parses an SPKI PEM P-256 public key; any other key type or malformed PEM is an error.
    pub fn from_public_key_pem(pem: &str) -> Result<Self, CameraError> {
        VerifyingKey::from_public_key_pem(pem)
            .map(CameraPublicKey)
            .map_err(|e| CameraError::PublicKey(e.to_string()))
    }

    /// The 33-byte SEC1 compressed point.
    pub fn to_sec1_compressed(&self) -> [u8; 33] {
        let mut out = [0u8; 33];
        out.copy_from_slice(self.0.to_encoded_point(true).as_bytes());
        out
    }

    /// Parses a SEC1 point (compressed or not); anything that is not a P-256 point is an error.
    pub fn from_sec1(bytes: &[u8]) -> Result<Self, CameraError> {
        VerifyingKey::from_sec1_bytes(bytes)
            .map(CameraPublicKey)
            .map_err(|e| CameraError::PublicKey(e.to_string()))
    }

    /// SHA-256 of the SEC1 compressed point.
    pub fn fingerprint(&self) -> [u8; 32] {
        Sha256::digest(self.to_sec1_compressed()).into()
    }

    /// Checks `signature` over [`Attestation::message`].
    pub fn verify(
        &self,
        attestation: &Attestation,
        signature: &Signature,
    ) -> Result<(), CameraError> {
        if signature.0.normalize_s().is_some() {
            return Err(CameraError::BadSignature);
        }
        self.0
            .verify(&attestation.message(), &signature.0)
            .map_err(|_| CameraError::BadSignature)
    }
}
