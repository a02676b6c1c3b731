//! A verifier transcript that also refuses non-canonical encodings, so a proof has exactly one
//! byte string: halo2's point decoder ignores the infinity flag of a finite point, which would
//! let anyone flip that bit and still get an accepted proof.

use std::io::{self, Read};

use halo2_axiom::{
    halo2curves::{
        bn256::{Fr, G1Affine},
        ff::PrimeField,
        group::GroupEncoding,
    },
    transcript::{Blake2bRead, Challenge255, Transcript, TranscriptRead, TranscriptReadBuffer},
};

/// Blake2b transcript reading points and scalars from `R` and checking their encodings.
pub struct CanonicalRead<R: Read> {
    reader: R,
    inner: Blake2bRead<io::Empty, G1Affine, Challenge255<G1Affine>>,
}

impl<R: Read> CanonicalRead<R> {
    pub fn new(reader: R) -> Self {
        CanonicalRead {
            reader,
            inner: Blake2bRead::init(io::empty()),
        }
    }
}

impl<R: Read> std::fmt::Debug for CanonicalRead<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CanonicalRead")
    }
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.to_string())
}

impl<R: Read> Transcript<G1Affine, Challenge255<G1Affine>> for CanonicalRead<R> {
    fn squeeze_challenge(&mut self) -> Challenge255<G1Affine> {
        self.inner.squeeze_challenge()
    }
    fn common_point(&mut self, point: G1Affine) -> io::Result<()> {
        self.inner.common_point(point)
    }
    fn common_scalar(&mut self, scalar: Fr) -> io::Result<()> {
        self.inner.common_scalar(scalar)
    }
}

impl<R: Read> TranscriptRead<G1Affine, Challenge255<G1Affine>> for CanonicalRead<R> {
    fn read_point(&mut self) -> io::Result<G1Affine> {
        let mut repr = <G1Affine as GroupEncoding>::Repr::default();
        self.reader.read_exact(repr.as_mut())?;
        let point: G1Affine = Option::from(G1Affine::from_bytes(&repr))
            .ok_or_else(|| invalid("invalid point encoding in proof"))?;
        if point.to_bytes().as_ref() != repr.as_ref() {
            return Err(invalid("non-canonical point encoding in proof"));
        }
        self.common_point(point)?;
        Ok(point)
    }
    fn read_scalar(&mut self) -> io::Result<Fr> {
        let mut repr = <Fr as PrimeField>::Repr::default();
        self.reader.read_exact(repr.as_mut())?;
        let scalar: Fr = Option::from(Fr::from_repr(repr))
            .ok_or_else(|| invalid("invalid field element encoding in proof"))?;
        self.common_scalar(scalar)?;
        Ok(scalar)
    }
}
