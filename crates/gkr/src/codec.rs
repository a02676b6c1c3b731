//! Bounds-checked reading and writing of proof bytes. Readers never panic: every read checks
//! the remaining length, and field elements must be canonical (< p) so each proof has exactly
//! one encoding.

use p3_field::BasedVectorSpace;
use thiserror::Error;

use crate::field::{canonical, from_canonical, EF, EXT_DEGREE};

/// Why proof bytes could not be decoded.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum DecodeError {
    #[error("proof truncated at byte {at}: needed {needed} more bytes")]
    Truncated { at: usize, needed: usize },
    #[error("bad magic bytes: not a {expected} proof")]
    Magic { expected: &'static str },
    #[error("unsupported proof version {got}, this build reads version {expected}")]
    Version { expected: u8, got: u8 },
    #[error("non-canonical field element at byte {at} (value ≥ p)")]
    NonCanonical { at: usize },
    #[error("{what} is {got}, at most {max} allowed")]
    TooLarge {
        what: &'static str,
        max: usize,
        got: usize,
    },
    #[error("{extra} trailing bytes after the proof")]
    Trailing { extra: usize },
    #[error("{what} must be {expected} here, got {got} (each proof has one encoding)")]
    NonCanonicalCount {
        what: &'static str,
        expected: usize,
        got: usize,
    },
}

/// Appends canonical little-endian encodings.
#[derive(Debug, Default)]
pub struct Writer {
    pub bytes: Vec<u8>,
}

impl Writer {
    /// Starts a proof: `magic ‖ version`.
    pub fn header(&mut self, magic: &[u8; 4], version: u8) {
        self.raw(magic);
        self.u8(version);
    }
    pub fn raw(&mut self, b: &[u8]) {
        self.bytes.extend_from_slice(b);
    }
    pub fn u8(&mut self, v: u8) {
        self.bytes.push(v);
    }
    pub fn u32(&mut self, v: u32) {
        self.bytes.extend_from_slice(&v.to_le_bytes());
    }
    pub fn ext(&mut self, v: EF) {
        for &c in v.as_basis_coefficients_slice() {
            self.bytes.extend_from_slice(&canonical(c).to_le_bytes());
        }
    }
}

/// Reads what [`Writer`] wrote, validating as it goes.
#[derive(Debug)]
pub struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes, pos: 0 }
    }

    /// Reads and checks `magic ‖ version`; `what` names the proof kind in the error.
    pub fn header(
        &mut self,
        magic: &[u8; 4],
        version: u8,
        what: &'static str,
    ) -> Result<(), DecodeError> {
        if self.array::<4>()? != *magic {
            return Err(DecodeError::Magic { expected: what });
        }
        let got = self.u8()?;
        if got != version {
            return Err(DecodeError::Version {
                expected: version,
                got,
            });
        }
        Ok(())
    }

    pub fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self.pos.checked_add(n);
        match end.and_then(|e| self.bytes.get(self.pos..e)) {
            Some(s) => {
                self.pos += n;
                Ok(s)
            }
            None => Err(DecodeError::Truncated {
                at: self.pos,
                needed: n.saturating_sub(self.bytes.len().saturating_sub(self.pos)),
            }),
        }
    }

    pub fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let s = self.take(N)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    pub fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.array::<1>()?[0])
    }

    pub fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    pub fn ext(&mut self) -> Result<EF, DecodeError> {
        let mut coeffs = [crate::field::F::default(); EXT_DEGREE];
        for c in coeffs.iter_mut() {
            let at = self.pos;
            let v = u64::from_le_bytes(self.array()?);
            *c = from_canonical(v).ok_or(DecodeError::NonCanonical { at })?;
        }
        Ok(EF::from(coeffs))
    }

    pub fn remaining(&self) -> usize {
        self.bytes.len().saturating_sub(self.pos)
    }

    /// Fails unless every byte was read.
    pub fn finish(self) -> Result<(), DecodeError> {
        match self.remaining() {
            0 => Ok(()),
            extra => Err(DecodeError::Trailing { extra }),
        }
    }
}
