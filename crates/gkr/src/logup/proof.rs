//! The lookup proof and its canonical bytes.

use crate::codec::{DecodeError, Reader, Writer};
use crate::field::EF;

use super::fracsum::FracSumProof;
use super::{LookupError, MAX_COLUMNS};

const MAGIC: &[u8; 4] = b"VGLU";
const VERSION: u8 = 1;

/// A LogUp-GKR proof: the batched fractional-sum GKR (lookups first, table second) and the
/// openings it ends with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LookupProof {
    pub gkr: FracSumProof,
    /// Claimed col̃_c at the lookups' input point, one per column.
    pub column_evals: Vec<EF>,
    /// Claimed m̃ at the table's input point.
    pub multiplicity_eval: EF,
}

impl LookupProof {
    /// Canonical bytes: `"VGLU" ‖ version (1) ‖ instances u32 ‖ roots (p, q) ‖ layers u32 ‖
    /// per layer: rounds u32 ‖ rounds × 4 elements ‖ evaluations u32 ‖ evaluations × 4
    /// elements ‖ columns u32 ‖ column openings ‖ multiplicity opening`, extension elements as
    /// two canonical u64 LE coefficients, counts as u32 LE.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut w = Writer::default();
        w.header(MAGIC, VERSION);
        self.gkr.write(&mut w);
        w.u32(self.column_evals.len() as u32);
        for &e in &self.column_evals {
            w.ext(e);
        }
        w.ext(self.multiplicity_eval);
        w.bytes
    }

    /// Parses [`LookupProof::to_bytes`]; rejects wrong magic or version, counts above the
    /// limits, non-canonical elements, truncation and trailing bytes. Never panics.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, LookupError> {
        let mut r = Reader::new(bytes);
        r.header(MAGIC, VERSION, "lookup")?;
        let gkr = FracSumProof::read(&mut r)?;
        let columns = r.u32()? as usize;
        if columns > MAX_COLUMNS {
            return Err(DecodeError::TooLarge {
                what: "column count",
                max: MAX_COLUMNS,
                got: columns,
            }
            .into());
        }
        let column_evals = (0..columns)
            .map(|_| r.ext())
            .collect::<Result<Vec<_>, _>>()?;
        let multiplicity_eval = r.ext()?;
        r.finish()?;
        Ok(LookupProof {
            gkr,
            column_evals,
            multiplicity_eval,
        })
    }
}
