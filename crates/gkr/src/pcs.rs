//! Hiding multilinear commitments to tensors: HVZK-WHIR (`p3-whir`) over Goldilocks.
//!
//! A tensor of `n` IR integers is committed as the multilinear polynomial whose hypercube
//! values are the tensor (zero-padded to `2^num_vars`, variable 0 = most significant index
//! bit, as in [`crate::mle`]). The commitment is a SHA-256 Merkle root over a masked
//! Reed–Solomon encoding; an opening proves the polynomial's values at chosen points and,
//! being honest-verifier zero-knowledge (eprint 2026/391), reveals nothing else.
//!
//! **Linking.** A commitment depends only on the tensor and a 32-byte *commitment seed*
//! (the encoding randomness is drawn from it), so whoever holds tensor and seed can recompute
//! the prover data for any later proof: the output commitment of one proof can be the input
//! commitment of the next. The seed is private, like a Pedersen blinding; openings draw fresh
//! randomness from the operating system.
//!
//! **Binding to a proof.** [`TensorPcs::open`] and [`TensorPcs::verify`] run inside the
//! caller's [`Transcript`], which has already absorbed the statement; the commitment, the
//! points and the claimed values are absorbed before the opening's first challenge.
//!
//! **Byte format.** `"VGWO" ‖ version ‖ postcard(ZkWhirProof)`. The parser rejects any input
//! that does not re-encode to the same bytes, so every accepted proof has one encoding.

use p3_commit::MultilinearPcs;
use p3_dft::Radix2DitParallel;
use p3_field::PrimeCharacteristicRing;
use p3_merkle_tree::{MerkleCap, MerkleTreeMmcs};
use p3_multilinear_util::point::Point;
use p3_multilinear_util::poly::Poly;
use p3_sha256::Sha256;
use p3_symmetric::{CompressionFunctionFromHasher, SerializingHasher};
use p3_whir::{
    FoldingFactor, HidingWhirPcs, ProtocolParameters, SecurityAssumption, ZkParameters,
    ZkWhirConfig, ZkWhirProof,
};
use rand::rngs::{StdRng, SysRng};
use rand::SeedableRng;

use crate::field::{EF, F};
use crate::transcript::{Challenger, Transcript};

/// Merkle tree over rows of base-field elements, hashed with SHA-256 (leaves serialised as
/// canonical u64 LE, nodes compressed by hashing the two children).
pub type Mmcs = MerkleTreeMmcs<
    F,
    u8,
    SerializingHasher<Sha256>,
    CompressionFunctionFromHasher<Sha256, 2, 32>,
    2,
    32,
>;
type Dft = Radix2DitParallel<F>;
type Whir = HidingWhirPcs<EF, F, Dft, Mmcs, Challenger, StdRng>;
type WhirProof = ZkWhirProof<F, EF, Mmcs>;

/// Magic bytes of an opening proof.
pub const OPENING_MAGIC: &[u8; 4] = b"VGWO";
/// Version of the opening proof format.
pub const OPENING_VERSION: u8 = 1;
/// Largest committed tensor: 2^MAX_NUM_VARS entries (the parser and [`TensorPcs::new`] refuse more).
pub const MAX_NUM_VARS: usize = 28;
/// Smallest committed polynomial; shorter tensors are padded up to it (below 2^11 entries the
/// hiding randomness no longer fits the codeword, see `docs/gkr.md`).
pub const MIN_NUM_VARS: usize = 11;
/// Target soundness of every WHIR error term, in bits (see `docs/gkr.md`).
pub const SECURITY_BITS: usize = 100;
/// Proof-of-work bits per round, traded against queries (prover grinding cost 2^POW_BITS hashes).
pub const POW_BITS: usize = 16;

/// Errors of committing and opening.
#[derive(Debug, thiserror::Error)]
pub enum PcsError {
    /// The tensor is too large to commit.
    #[error("tensor of {len} values exceeds the commitment limit of 2^{max} entries")]
    TooLarge {
        /// Entries given.
        len: usize,
        /// Limit, as a power of two.
        max: usize,
    },
    /// The tensor is longer than the polynomial it is committed as.
    #[error("tensor of {len} values does not fit a {num_vars}-variable polynomial")]
    WrongLength {
        /// Entries given.
        len: usize,
        /// Variables of the commitment parameters.
        num_vars: usize,
    },
    /// An opening point has the wrong number of coordinates.
    #[error(
        "opening point {index} has {got} coordinates, the commitment has {expected} variables"
    )]
    PointArity {
        /// Which point.
        index: usize,
        /// Coordinates given.
        got: usize,
        /// Variables of the commitment.
        expected: usize,
    },
    /// WHIR parameters could not be derived (e.g. too many claims for the security target).
    #[error("commitment parameters: {0}")]
    Config(String),
    /// Opening proof bytes are malformed.
    #[error("malformed opening proof: {0}")]
    Malformed(String),
    /// The opening proof does not verify.
    #[error("opening proof rejected: {0}")]
    Rejected(String),
    /// The operating system's random number generator failed.
    #[error("operating-system randomness unavailable: {0}")]
    Randomness(String),
}

/// A commitment: the Merkle root of the masked encoding (32 bytes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TensorCommitment(pub [u8; 32]);

impl TensorCommitment {
    /// Absorbs the root under `label` (32 bytes, one field element each), binding a proof to
    /// the commitment before its first challenge.
    pub fn absorb(&self, t: &mut Transcript, label: &[u8]) {
        t.absorb_base(label, self.0.iter().map(|&b| F::from_u8(b)));
    }

    fn cap(&self) -> MerkleCap<F, [u8; 32]> {
        MerkleCap::new(vec![self.0])
    }
}

/// What the prover keeps between committing and opening (tensor, encoding, Merkle tree).
pub struct CommittedTensor {
    data: p3_whir::HidingWhirProverData<F, EF, Mmcs>,
}

impl std::fmt::Debug for CommittedTensor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The tensor and its randomness are secret: never print them.
        f.debug_struct("CommittedTensor").finish_non_exhaustive()
    }
}

/// An opening proof: the claimed values and the HVZK-WHIR proof of them.
#[derive(Clone)]
pub struct OpeningProof {
    proof: WhirProof,
}

impl std::fmt::Debug for OpeningProof {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpeningProof")
            .field("values", &self.proof.evals)
            .finish_non_exhaustive()
    }
}

impl OpeningProof {
    /// The claimed values, one per opened point.
    pub fn values(&self) -> &[EF] {
        &self.proof.evals
    }

    /// Canonical bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(OPENING_MAGIC);
        out.push(OPENING_VERSION);
        // Serialising plain vectors and field elements cannot fail.
        out.extend(postcard::to_allocvec(&self.proof).unwrap_or_default());
        out
    }

    /// Parses bytes written by [`OpeningProof::to_bytes`]; anything else is an error, never a panic.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, PcsError> {
        let body = bytes
            .strip_prefix(OPENING_MAGIC.as_slice())
            .ok_or_else(|| PcsError::Malformed("wrong magic (not a vouch WHIR opening)".into()))?;
        let (&version, body) = body
            .split_first()
            .ok_or_else(|| PcsError::Malformed("truncated before the version".into()))?;
        if version != OPENING_VERSION {
            return Err(PcsError::Malformed(format!(
                "version {version}, this build reads {OPENING_VERSION}"
            )));
        }
        let proof: WhirProof =
            postcard::from_bytes(body).map_err(|e| PcsError::Malformed(e.to_string()))?;
        let parsed = OpeningProof { proof };
        // One encoding per proof: no trailing bytes, no overlong lengths.
        if parsed.to_bytes() != bytes {
            return Err(PcsError::Malformed("non-canonical encoding".into()));
        }
        Ok(parsed)
    }
}

/// Commitment parameters for tensors of up to 2^num_vars entries.
#[derive(Debug)]
pub struct TensorPcs {
    num_vars: usize,
    config: ZkWhirConfig<EF, F, Challenger>,
}

impl TensorPcs {
    /// Parameters for tensors of up to `len` entries.
    pub fn for_len(len: usize) -> Result<Self, PcsError> {
        let num_vars = len
            .max(1)
            .next_power_of_two()
            .trailing_zeros()
            .max(MIN_NUM_VARS as u32) as usize;
        if num_vars > MAX_NUM_VARS {
            return Err(PcsError::TooLarge {
                len,
                max: MAX_NUM_VARS,
            });
        }
        Self::new(num_vars)
    }

    /// Parameters for `num_vars`-variable polynomials.
    pub fn new(num_vars: usize) -> Result<Self, PcsError> {
        if !(MIN_NUM_VARS..=MAX_NUM_VARS).contains(&num_vars) {
            return Err(PcsError::Config(format!(
                "{num_vars} variables outside {MIN_NUM_VARS}..={MAX_NUM_VARS}"
            )));
        }
        // The cheapest code rate (1/2) whose masked encoding fits; small tensors need a lower
        // rate so the hiding randomness fits the codeword's slack.
        let mut last = String::new();
        for starting_log_inv_rate in 1..=3 {
            let config = ZkWhirConfig::new(
                num_vars,
                ProtocolParameters {
                    starting_log_inv_rate,
                    round_log_inv_rates: vec![],
                    folding_factor: FoldingFactor::Constant(4),
                    // Proven (Johnson-bound) proximity gaps, not the capacity conjecture.
                    soundness_type: SecurityAssumption::JohnsonBound,
                    security_level: SECURITY_BITS,
                    pow_bits: POW_BITS,
                },
                ZkParameters {
                    ell_zk: 4,
                    mask_log_inv_rate: 1,
                },
            );
            match config {
                Ok(config) => return Ok(TensorPcs { num_vars, config }),
                Err(e) => last = format!("{e:?}"),
            }
        }
        Err(PcsError::Config(last))
    }

    /// Variables of the committed polynomial.
    pub fn num_vars(&self) -> usize {
        self.num_vars
    }

    /// `point` over the tensor's own variables, with leading zeros for the variables the
    /// commitment adds when it pads the tensor (zero-padding at the end of the index space is
    /// where the most significant variables are 0).
    pub fn pad_point(&self, point: &[EF]) -> Vec<EF> {
        let mut p = vec![EF::default(); self.num_vars.saturating_sub(point.len())];
        p.extend_from_slice(point);
        p
    }

    fn whir(&self, rng: StdRng) -> Whir {
        Whir::new(self.config.clone(), Dft::default(), mmcs(), rng)
    }

    /// Commits to `values` (zero-padded), drawing the encoding randomness from `seed`.
    pub fn commit(
        &self,
        values: &[F],
        seed: [u8; 32],
    ) -> Result<(TensorCommitment, CommittedTensor), PcsError> {
        let size = 1usize << self.num_vars;
        if values.len() > size {
            return Err(PcsError::WrongLength {
                len: values.len(),
                num_vars: self.num_vars,
            });
        }
        let mut evals = Vec::with_capacity(size);
        evals.extend_from_slice(values);
        evals.resize(size, F::default());
        let whir = self.whir(StdRng::from_seed(seed));
        // The commit step also absorbs the root into a challenger; that one is thrown away,
        // each proof absorbs the commitment into its own transcript.
        let mut scratch = Transcript::from_statement_bytes(b"vouch/gkr/pcs/commit");
        let (cap, data) = whir
            .commit(Poly::new(evals), scratch.challenger())
            .map_err(|e| PcsError::Config(format!("{e:?}")))?;
        let root = *cap
            .roots()
            .first()
            .ok_or_else(|| PcsError::Config("Merkle cap without a root".into()))?;
        Ok((TensorCommitment(root), CommittedTensor { data }))
    }

    fn check_points(&self, points: &[Vec<EF>]) -> Result<Vec<Point<EF>>, PcsError> {
        points
            .iter()
            .enumerate()
            .map(|(index, p)| {
                if p.len() == self.num_vars {
                    Ok(Point::new(p.clone()))
                } else {
                    Err(PcsError::PointArity {
                        index,
                        got: p.len(),
                        expected: self.num_vars,
                    })
                }
            })
            .collect()
    }

    /// Proves the committed polynomial's values at `points` (all claims on this tensor in one
    /// opening). The commitment, points and values are absorbed into `transcript` first.
    pub fn open(
        &self,
        commitment: &TensorCommitment,
        tensor: CommittedTensor,
        points: &[Vec<EF>],
        transcript: &mut Transcript,
    ) -> Result<OpeningProof, PcsError> {
        let points = self.check_points(points)?;
        let mut seed = [0u8; 32];
        rand::TryRng::try_fill_bytes(&mut SysRng, &mut seed)
            .map_err(|e| PcsError::Randomness(e.to_string()))?;
        let whir = self.whir(StdRng::from_seed(seed));
        transcript.label(b"pcs/whir/open");
        whir.observe_commitment(&commitment.cap(), transcript.challenger());
        let proof = whir
            .open(tensor.data, points, transcript.challenger())
            .map_err(|e| PcsError::Config(format!("{e:?}")))?;
        Ok(OpeningProof { proof })
    }

    /// Checks an opening against `commitment` at `points`; returns the proven values.
    pub fn verify(
        &self,
        commitment: &TensorCommitment,
        points: &[Vec<EF>],
        proof: &OpeningProof,
        transcript: &mut Transcript,
    ) -> Result<Vec<EF>, PcsError> {
        let points = self.check_points(points)?;
        // The verifier's rng is never used; a fixed seed keeps verification deterministic.
        let whir = self.whir(StdRng::from_seed([0; 32]));
        transcript.label(b"pcs/whir/open");
        whir.verify(
            &commitment.cap(),
            &proof.proof,
            transcript.challenger(),
            points,
        )
        .map_err(|e| PcsError::Rejected(format!("{e:?}")))?;
        Ok(proof.proof.evals.clone())
    }
}

fn mmcs() -> Mmcs {
    Mmcs::new(
        SerializingHasher::new(Sha256),
        CompressionFunctionFromHasher::new(Sha256),
        0,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mle;
    use p3_field::PrimeCharacteristicRing;

    fn tensor(n: usize) -> Vec<F> {
        (0..n as u64).map(|i| F::from_u64(i * i % 251)).collect()
    }

    fn point(vars: usize, salt: u64) -> Vec<EF> {
        (0..vars as u64)
            .map(|i| EF::from_u64(3 + 7 * i + salt * 1000))
            .collect()
    }

    #[test]
    fn opening_matches_our_multilinear_extension_and_verifies() {
        let pcs = TensorPcs::for_len(3000).expect("params");
        assert_eq!(pcs.num_vars(), 12);
        let values = tensor(3000);
        let (c, data) = pcs.commit(&values, [7; 32]).expect("commit");
        let points = vec![point(12, 1), point(12, 2)];
        let mut t = Transcript::from_statement_bytes(b"s");
        let proof = pcs.open(&c, data, &points, &mut t).expect("open");
        for (p, v) in points.iter().zip(proof.values()) {
            let mut padded = values.clone();
            padded.resize(4096, F::ZERO);
            assert_eq!(
                Some(*v),
                mle::evaluate_base(&padded, p),
                "variable order matches mle"
            );
        }
        let bytes = proof.to_bytes();
        let parsed = OpeningProof::from_bytes(&bytes).expect("parse");
        let mut t = Transcript::from_statement_bytes(b"s");
        let got = pcs.verify(&c, &points, &parsed, &mut t).expect("verify");
        assert_eq!(got, proof.values());
        // Another statement, another commitment, another point: rejected.
        let mut t = Transcript::from_statement_bytes(b"other");
        assert!(pcs.verify(&c, &points, &parsed, &mut t).is_err());
        let (c2, _) = pcs.commit(&tensor(2999), [7; 32]).expect("commit");
        let mut t = Transcript::from_statement_bytes(b"s");
        assert!(pcs.verify(&c2, &points, &parsed, &mut t).is_err());
        let moved = vec![point(12, 1), point(12, 3)];
        let mut t = Transcript::from_statement_bytes(b"s");
        assert!(pcs.verify(&c, &moved, &parsed, &mut t).is_err());
    }

    #[test]
    fn commitment_is_a_function_of_tensor_and_seed() {
        let pcs = TensorPcs::new(MIN_NUM_VARS).expect("params");
        let v = tensor(200);
        let a = pcs.commit(&v, [1; 32]).expect("commit").0;
        assert_eq!(a, pcs.commit(&v, [1; 32]).expect("commit").0);
        assert_ne!(
            a,
            pcs.commit(&v, [2; 32]).expect("commit").0,
            "hiding: seed matters"
        );
        let mut w = v.clone();
        w[17] += F::ONE;
        assert_ne!(a, pcs.commit(&w, [1; 32]).expect("commit").0);
    }
}
