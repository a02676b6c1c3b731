//! LogUp lookups proved with GKR: every looked-up tuple lies in a public table.
//!
//! **Claim.** Lookups are tuples given as columns (`columns[c][i]` is component c of lookup i,
//! n lookups); the [`Table`] is public (a range [lo, lo + 2^b) for range checks, or pairs
//! (x, f(x)) for an activation table); `m_j` says how often entry j is looked up. With β and α
//! drawn from the transcript, tuples are compressed to single field elements
//! w_i = Σ_c β^c·col_c[i] and t_j = Σ_c β^c·table_c[j] (x + β·y for pairs), and
//!
//! ```text
//! Σ_i 1 / (α − w_i)  =  Σ_j m_j / (α − t_j)
//! ```
//!
//! is proved with two fractional-sum GKR instances ([`fracsum`]), batched and aligned at their
//! roots: the lookups (numerators 1, denominators α − w_i) and the table (numerators m_j,
//! denominators α − t_j). The verifier checks the two roots against each other without
//! dividing: P_w·Q_t = P_t·Q_w (and Q_w, Q_t ≠ 0).
//!
//! **Padding.** Both sides are padded to powers of two with the fraction 0/1, which adds
//! nothing ((p·1 + 0·q, q·1) = (p, q)). The verifier never trusts the padding: it evaluates the
//! input layers' multilinear extensions itself from n, T and the openings, with the indicator
//! `sel_n` of the first n entries: p̃_w = sel_n, q̃_w = α·sel_n + (1 − sel_n) − Σ_c β^c·col̃_c,
//! and likewise for the table with p̃_t = m̃.
//!
//! **What the caller must still check.** The proof ends with openings ([`LookupOpenings`]):
//! col̃_c at a random point (one per column) and m̃ at another. [`verify_bound`] returns them,
//! and the caller must check them against the lookup columns and multiplicities. In this
//! first step the witness is public: [`verify`] absorbs it into the transcript and evaluates
//! the multilinear extensions directly ([`check_openings`]). Hiding multilinear commitments
//! (`p3-whir`) will provide these openings instead, with the commitments absorbed into the
//! transcript before [`prove_bound`] / [`verify_bound`] are called.
//!
//! **The transcript must bind the witness before β and α are drawn**, otherwise a prover could
//! pick lookups or multiplicities after seeing the challenges. [`prove`] and [`verify`] do this
//! by absorbing the columns and multiplicities ([`bind_public_witness`]); [`prove_bound`] and
//! [`verify_bound`] assume it was done (by commitments in the statement).
//!
//! **Soundness** (interactive, details in `docs/gkr.md`): if some tuple is not in the table, or
//! some m_j differs from the true count, the rational identity fails and N(α, β) = 0 for a
//! non-zero polynomial N of total degree ≤ (n + T − 1)·max(1, c − 1), probability ≤ that over
//! |EF| = p^2; the GKR layers add Σ_k (2A_k + 3k)/p^2. See [`soundness_bits`].
//!
//! ```
//! use vouch_gkr::logup::{self, LookupClaim, LookupProof, Table};
//! use vouch_gkr::transcript::Transcript;
//!
//! let table = Table::range(8); // [0, 256)
//! let values = [3i64, 200, 3, 255, 0];
//! let m = logup::multiplicities(&table, &[&values[..]])?;
//! let claim = LookupClaim { table: &table, columns: vec![&values[..]], multiplicities: &m };
//! let statement = b"the statement's canonical bytes";
//! let proof = logup::prove(&mut Transcript::from_statement_bytes(statement), &claim)?;
//! let parsed = LookupProof::from_bytes(&proof.to_bytes())?;
//! logup::verify(&mut Transcript::from_statement_bytes(statement), &claim, &parsed)?;
//! # Ok::<(), logup::LookupError>(())
//! ```
//!
//! **Embedding.** Values are i64 mapped into F by [`crate::field::embed`]. Table values are
//! bounded by 2^62 in magnitude, so for every i64 v and table value t, v ≡ t (mod p) only if
//! v = t (|v − t| < 2^63 + 2^62 < p): a lookup value can never alias a table entry, which is why
//! lookup values are not range-restricted.

pub mod fracsum;
mod proof;

use p3_field::PrimeCharacteristicRing;
use rayon::prelude::*;
use thiserror::Error;

use crate::codec::DecodeError;
use crate::field::{embed, EF, F, IR_VALUE_BOUND, P};
use crate::mle::{eq_table, num_vars, prefix_indicator};
use crate::sumcheck::MAX_VARS;
use crate::transcript::Transcript;
use fracsum::{Frac, FracSumError};

pub use proof::LookupProof;

/// Largest table: 2^24 entries. The prover materialises the table's fractions (32 bytes
/// each) and one count per entry and thread; IR tables have at most 2^20 entries, and wider
/// range checks are split into limbs.
pub const MAX_TABLE_VARS: usize = 24;

/// Largest number of tuple components (columns) a proof may carry.
pub const MAX_COLUMNS: usize = 8;

/// Below this many entries, work stays on the calling thread.
const PAR_THRESHOLD: usize = 1 << 12;

/// A public lookup table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Table {
    /// The integers lo, lo + 1, …, lo + 2^bits − 1 (one column): range checks. A signed
    /// b-bit range is `Range { lo: -2^(b-1), bits: b }`.
    Range { lo: i64, bits: u32 },
    /// The pairs (lo + j, values[j]) for j < values.len() (two columns): a function tabulated
    /// on the domain [lo, lo + len), e.g. an IR activation table.
    Function { lo: i64, values: Vec<i64> },
}

impl Table {
    /// The range [0, 2^bits).
    pub fn range(bits: u32) -> Self {
        Table::Range { lo: 0, bits }
    }

    /// The function table of an IR `Lookup` op: (x, table.get(x)) for x in its domain.
    pub fn from_ir(table: &vouch_ir::LookupTable) -> Self {
        Table::Function {
            lo: table.domain.lo,
            values: table.values.clone(),
        }
    }

    /// Number of entries T.
    pub fn len(&self) -> usize {
        match self {
            Table::Range { bits, .. } => 1usize.checked_shl(*bits).unwrap_or(0),
            Table::Function { values, .. } => values.len(),
        }
    }

    /// True for a table without entries (rejected by [`Table::validate`]).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Components per entry: 1 for a range, 2 for a function table.
    pub fn num_columns(&self) -> usize {
        match self {
            Table::Range { .. } => 1,
            Table::Function { .. } => 2,
        }
    }

    /// Checks size limits and that every entry is an IR value (|v| < 2^62).
    pub fn validate(&self) -> Result<(), LookupError> {
        let in_bound = |v: i128| v.unsigned_abs() < IR_VALUE_BOUND as u128;
        match self {
            Table::Range { lo, bits } => {
                if *bits as usize > MAX_TABLE_VARS {
                    return Err(LookupError::TableTooLarge {
                        vars: *bits as usize,
                        max: MAX_TABLE_VARS,
                    });
                }
                let hi = *lo as i128 + (1i128 << bits) - 1;
                if !in_bound(*lo as i128) || !in_bound(hi) {
                    return Err(LookupError::TableValueOutOfRange {
                        index: 0,
                        value: *lo as i128,
                    });
                }
            }
            Table::Function { lo, values } => {
                if values.is_empty() {
                    return Err(LookupError::EmptyTable);
                }
                let vars = num_vars(values.len());
                if vars > MAX_TABLE_VARS {
                    return Err(LookupError::TableTooLarge {
                        vars,
                        max: MAX_TABLE_VARS,
                    });
                }
                let hi = *lo as i128 + values.len() as i128 - 1;
                for (index, x) in [(0, *lo as i128), (values.len() - 1, hi)] {
                    if !in_bound(x) {
                        return Err(LookupError::TableValueOutOfRange { index, value: x });
                    }
                }
                if let Some((index, &v)) = values
                    .iter()
                    .enumerate()
                    .find(|(_, &v)| !in_bound(v as i128))
                {
                    return Err(LookupError::TableValueOutOfRange {
                        index,
                        value: v as i128,
                    });
                }
            }
        }
        Ok(())
    }

    /// Component `c` of entry `j` (for entries of a validated table).
    pub(crate) fn entry(&self, j: usize, c: usize) -> i64 {
        match self {
            Table::Range { lo, .. } => lo + j as i64,
            Table::Function { lo, values } => match c {
                0 => lo + j as i64,
                _ => values.get(j).copied().unwrap_or(0),
            },
        }
    }

    /// The index of the entry equal to lookup `i`'s tuple, if any.
    fn index_of_row(&self, columns: &[&[i64]], i: usize) -> Option<usize> {
        let x = *columns.first()?.get(i)?;
        match self {
            Table::Range { lo, bits } => {
                let j = x as i128 - *lo as i128;
                (0..1i128 << bits).contains(&j).then_some(j as usize)
            }
            Table::Function { lo, values } => {
                let j = x as i128 - *lo as i128;
                let j = usize::try_from(j).ok()?;
                let y = *columns.get(1)?.get(i)?;
                (values.get(j) == Some(&y)).then_some(j)
            }
        }
    }

    /// The multilinear extension of every column (zero-padded to 2^num_vars(T)) at `point`.
    /// `None` unless `point` has num_vars(T) coordinates. Range tables cost O(bits): the
    /// column lo + j has the MLE lo + Σ_b 2^(bits−1−b)·point_b.
    pub fn eval_columns(&self, point: &[EF]) -> Option<Vec<EF>> {
        if point.len() != num_vars(self.len()) {
            return None;
        }
        match self {
            Table::Range { lo, .. } => {
                let mut acc = EF::from(embed(*lo));
                let mut weight = F::ONE;
                for &r in point.iter().rev() {
                    acc += r * weight;
                    weight = weight.double();
                }
                Some(vec![acc])
            }
            Table::Function { lo, values } => {
                let eq = eq_table(point);
                let eq = eq.get(..values.len())?;
                let lo = embed(*lo);
                let (mut xs, mut ys) = (EF::ZERO, EF::ZERO);
                let mut j = F::ZERO;
                for (&e, &v) in eq.iter().zip(values) {
                    xs += e * (lo + j);
                    ys += e * embed(v);
                    j += F::ONE;
                }
                Some(vec![xs, ys])
            }
        }
    }

    /// Absorbs the table's description (and, for function tables, its values).
    pub(crate) fn absorb(&self, t: &mut Transcript) {
        match self {
            Table::Range { lo, bits } => {
                t.absorb_u64s(b"logup/table", &[0, *lo as u64, *bits as u64]);
            }
            Table::Function { lo, values } => {
                t.absorb_u64s(b"logup/table", &[1, *lo as u64, values.len() as u64]);
                t.absorb_base(b"logup/table/values", values.iter().map(|&v| embed(v)));
            }
        }
    }
}

/// A lookup claim: every tuple of `columns` is an entry of `table`, entry j looked up
/// `multiplicities[j]` times.
#[derive(Clone, Debug)]
pub struct LookupClaim<'a> {
    pub table: &'a Table,
    /// One column per table component, each holding that component of every lookup.
    pub columns: Vec<&'a [i64]>,
    /// One count per table entry (see [`multiplicities`]).
    pub multiplicities: &'a [u64],
}

/// The claims a verified proof leaves to the caller: the zero-padded multilinear extension of
/// lookup column c at `lookup_point` is `column_evals[c]`, and that of the multiplicities at
/// `table_point` is `multiplicity_eval`. Checked directly by [`check_openings`] while the
/// witness is public; proved against commitments once those exist.
#[derive(Clone, Debug, PartialEq, Eq)]
#[must_use = "the openings must be checked against the witness (or its commitments)"]
pub struct LookupOpenings {
    pub lookup_point: Vec<EF>,
    pub column_evals: Vec<EF>,
    pub table_point: Vec<EF>,
    pub multiplicity_eval: EF,
}

/// Why a lookup claim or proof was rejected.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum LookupError {
    #[error("no lookups: there is nothing to prove; skip the argument for empty tensors")]
    NoLookups,
    #[error("the table is empty: nothing can be looked up in it")]
    EmptyTable,
    #[error("table needs {vars} variables, at most {max} supported")]
    TableTooLarge { vars: usize, max: usize },
    #[error("{vars} variables of lookups, at most {max} supported: split the lookups")]
    TooManyLookups { vars: usize, max: usize },
    #[error("table entry {index} has value {value}, outside ±2^62: not an IR value")]
    TableValueOutOfRange { index: usize, value: i128 },
    #[error("{got} lookup columns given, the table has {expected} components")]
    ColumnCount { expected: usize, got: usize },
    #[error("lookup column {column} has {got} values, column 0 has {expected}")]
    ColumnLength {
        column: usize,
        expected: usize,
        got: usize,
    },
    #[error("{got} multiplicities given, the table has {expected} entries")]
    MultiplicityLength { expected: usize, got: usize },
    #[error("multiplicity {index} is {value}, not below p: not a count")]
    MultiplicityNotCanonical { index: usize, value: u64 },
    #[error("lookup {index} = {tuple:?} is not in the table")]
    NotInTable { index: usize, tuple: Vec<i64> },
    #[error("the two fractional sums differ: a looked-up value is not in the table, or the multiplicities are wrong")]
    SumMismatch,
    #[error(
        "a fractional sum has denominator 0 (α hit a lookup or table value); the proof is invalid"
    )]
    ZeroDenominator,
    #[error(
        "the GKR's claim on the {side} {part} does not match the inputs; the proof is invalid"
    )]
    InputLayer {
        side: &'static str,
        part: &'static str,
    },
    #[error("the opening of the {what} (column {column}) does not match the witness")]
    Opening { what: &'static str, column: usize },
    #[error("proof has {got} {what}, expected {expected}: proof made for another table")]
    Structure {
        what: &'static str,
        expected: usize,
        got: usize,
    },
    #[error("GKR: {0}")]
    Gkr(#[from] FracSumError),
    #[error("proof bytes: {0}")]
    Decode(#[from] DecodeError),
}

impl LookupClaim<'_> {
    /// Number of lookups n (the length of column 0).
    pub fn num_lookups(&self) -> usize {
        self.columns.first().map_or(0, |c| c.len())
    }

    /// Checks the table, the column count and lengths, and the multiplicities' length and
    /// canonicity. Does not check membership: that is what the proof is for.
    pub fn validate(&self) -> Result<(), LookupError> {
        self.table.validate()?;
        check_columns(self.table, &self.columns)?;
        check_num_lookups(self.num_lookups())?;
        if self.multiplicities.len() != self.table.len() {
            return Err(LookupError::MultiplicityLength {
                expected: self.table.len(),
                got: self.multiplicities.len(),
            });
        }
        if let Some((index, &value)) = self
            .multiplicities
            .iter()
            .enumerate()
            .find(|(_, &m)| m >= P)
        {
            return Err(LookupError::MultiplicityNotCanonical { index, value });
        }
        Ok(())
    }
}

fn check_columns(table: &Table, columns: &[&[i64]]) -> Result<(), LookupError> {
    if columns.len() != table.num_columns() {
        return Err(LookupError::ColumnCount {
            expected: table.num_columns(),
            got: columns.len(),
        });
    }
    let n = columns.first().map_or(0, |c| c.len());
    for (column, c) in columns.iter().enumerate() {
        if c.len() != n {
            return Err(LookupError::ColumnLength {
                column,
                expected: n,
                got: c.len(),
            });
        }
    }
    Ok(())
}

fn check_num_lookups(n: usize) -> Result<(), LookupError> {
    if n == 0 {
        return Err(LookupError::NoLookups);
    }
    let vars = num_vars(n);
    if vars > MAX_VARS {
        return Err(LookupError::TooManyLookups {
            vars,
            max: MAX_VARS,
        });
    }
    Ok(())
}

/// Counts how often each table entry is looked up (the honest multiplicities), in parallel.
/// Fails with the first lookup (lowest index) that is not in the table.
pub fn multiplicities(table: &Table, columns: &[&[i64]]) -> Result<Vec<u64>, LookupError> {
    table.validate()?;
    check_columns(table, columns)?;
    let n = columns.first().map_or(0, |c| c.len());
    let t_len = table.len();
    let chunk = n
        .div_ceil(rayon::current_num_threads().max(1))
        .max(PAR_THRESHOLD);
    let count = |start: usize| -> Result<Vec<u64>, LookupError> {
        let mut hist = vec![0u64; t_len];
        for i in start..(start + chunk).min(n) {
            match table.index_of_row(columns, i).and_then(|j| hist.get_mut(j)) {
                Some(h) => *h += 1,
                None => {
                    return Err(LookupError::NotInTable {
                        index: i,
                        tuple: columns.iter().filter_map(|c| c.get(i).copied()).collect(),
                    })
                }
            }
        }
        Ok(hist)
    };
    let starts: Vec<usize> = (0..n).step_by(chunk.max(1)).collect();
    let parts: Vec<Result<Vec<u64>, LookupError>> = starts.into_par_iter().map(count).collect();
    let mut total = vec![0u64; t_len];
    for part in parts {
        for (t, h) in total.iter_mut().zip(part?) {
            *t += h;
        }
    }
    Ok(total)
}

/// Absorbs the lookup columns and multiplicities: binds a public witness to the transcript
/// before any challenge depends on it. (With commitments, the commitment is absorbed instead.)
pub fn bind_public_witness(t: &mut Transcript, claim: &LookupClaim<'_>) {
    for c in &claim.columns {
        t.absorb_base(b"logup/lookups", c.iter().map(|&v| embed(v)));
    }
    t.absorb_base(
        b"logup/multiplicities",
        claim.multiplicities.iter().map(|&m| F::from_u64(m)),
    );
}

/// The public part of the transcript (sizes, table) and the challenges β, α.
fn challenges(t: &mut Transcript, table: &Table, num_lookups: usize) -> (EF, EF) {
    t.absorb_u64s(
        b"logup/shape",
        &[num_lookups as u64, table.num_columns() as u64],
    );
    table.absorb(t);
    let beta = t.challenge_ext(b"logup/beta");
    let alpha = t.challenge_ext(b"logup/alpha");
    (beta, alpha)
}

/// Σ_c β^c·v_c.
fn compress(beta: EF, values: impl IntoIterator<Item = EF>) -> EF {
    let mut acc = EF::ZERO;
    let mut coeff = EF::ONE;
    for v in values {
        acc += coeff * v;
        coeff *= beta;
    }
    acc
}

/// Input fractions of the lookups: 1 / (α − w_i), padded with 0/1.
fn lookup_fractions(columns: &[&[i64]], beta: EF, alpha: EF) -> Vec<Frac> {
    let n = columns.first().map_or(0, |c| c.len());
    let len = 1usize << num_vars(n);
    let betas: Vec<EF> = (0..columns.len())
        .scan(EF::ONE, |b, _| {
            let cur = *b;
            *b *= beta;
            Some(cur)
        })
        .collect();
    let frac = |i: usize| {
        if i >= n {
            return Frac::PAD;
        }
        let mut q = alpha;
        for (c, &b) in columns.iter().zip(&betas) {
            let v = embed(c.get(i).copied().unwrap_or(0));
            q -= b * v;
        }
        Frac { p: EF::ONE, q }
    };
    if len >= PAR_THRESHOLD {
        (0..len).into_par_iter().map(frac).collect()
    } else {
        (0..len).map(frac).collect()
    }
}

/// Input fractions of the table: m_j / (α − t_j), padded with 0/1.
fn table_fractions(table: &Table, m: &[u64], beta: EF, alpha: EF) -> Vec<Frac> {
    let t_len = table.len();
    let len = 1usize << num_vars(t_len);
    let cols = table.num_columns();
    let frac = |j: usize| {
        if j >= t_len {
            return Frac::PAD;
        }
        let t = compress(beta, (0..cols).map(|c| EF::from(embed(table.entry(j, c)))));
        Frac {
            p: EF::from(F::from_u64(m.get(j).copied().unwrap_or(0))),
            q: alpha - t,
        }
    };
    if len >= PAR_THRESHOLD {
        (0..len).into_par_iter().map(frac).collect()
    } else {
        (0..len).map(frac).collect()
    }
}

/// ṽ(point) for several base-field columns given by index → value, sharing one eq table.
fn evaluate_columns<G>(len: usize, cols: usize, point: &[EF], value: G) -> Option<Vec<EF>>
where
    G: Fn(usize, usize) -> F + Sync,
{
    if point.len() >= usize::BITS as usize || len > 1usize << point.len() {
        return None;
    }
    let eq = eq_table(point);
    let eq = eq.get(..len)?;
    let dot = |c: usize| -> EF {
        if len >= PAR_THRESHOLD {
            eq.par_iter()
                .enumerate()
                .map(|(i, &e)| e * value(c, i))
                .sum()
        } else {
            eq.iter().enumerate().map(|(i, &e)| e * value(c, i)).sum()
        }
    };
    Some((0..cols).map(dot).collect())
}

fn column_evals(columns: &[&[i64]], point: &[EF]) -> Option<Vec<EF>> {
    let n = columns.first().map_or(0, |c| c.len());
    evaluate_columns(n, columns.len(), point, |c, i| {
        embed(
            columns
                .get(c)
                .and_then(|col| col.get(i))
                .copied()
                .unwrap_or(0),
        )
    })
}

fn multiplicity_eval(m: &[u64], point: &[EF]) -> Option<EF> {
    evaluate_columns(m.len(), 1, point, |_, j| {
        F::from_u64(m.get(j).copied().unwrap_or(0))
    })?
    .first()
    .copied()
}

/// Proves a lookup claim with a public witness: binds it ([`bind_public_witness`]), then
/// [`prove_bound`].
pub fn prove(t: &mut Transcript, claim: &LookupClaim<'_>) -> Result<LookupProof, LookupError> {
    claim.validate()?;
    bind_public_witness(t, claim);
    prove_bound(t, claim)
}

/// Verifies a lookup proof with a public witness: binds it ([`bind_public_witness`]), runs
/// [`verify_bound`], then checks the openings by evaluating the columns and multiplicities
/// directly ([`check_openings`]). Never panics.
pub fn verify(
    t: &mut Transcript,
    claim: &LookupClaim<'_>,
    proof: &LookupProof,
) -> Result<(), LookupError> {
    claim.validate()?;
    bind_public_witness(t, claim);
    let openings = verify_bound(t, claim.table, claim.num_lookups(), proof)?;
    check_openings(claim, &openings)
}

/// Proves a lookup claim on a transcript that already binds the witness (see the module docs).
/// The prover does not check membership: a false claim yields a proof the verifier rejects.
pub fn prove_bound(
    t: &mut Transcript,
    claim: &LookupClaim<'_>,
) -> Result<LookupProof, LookupError> {
    prove_bound_with_openings(t, claim).map(|(proof, _)| proof)
}

/// [`prove_bound`], also returning the openings the verifier will ask to be checked (for
/// callers that prove them against commitments).
pub fn prove_bound_with_openings(
    t: &mut Transcript,
    claim: &LookupClaim<'_>,
) -> Result<(LookupProof, LookupOpenings), LookupError> {
    claim.validate()?;
    let n = claim.num_lookups();
    let (beta, alpha) = challenges(t, claim.table, n);
    let inputs = vec![
        lookup_fractions(&claim.columns, beta, alpha),
        table_fractions(claim.table, claim.multiplicities, beta, alpha),
    ];
    let (gkr, inputs) = fracsum::prove(inputs, t)?;
    let (lookup_point, table_point) = match inputs.as_slice() {
        [w, m] => (w.point.clone(), m.point.clone()),
        _ => {
            return Err(LookupError::Structure {
                what: "GKR instances",
                expected: 2,
                got: inputs.len(),
            })
        }
    };
    let evals_err = LookupError::Structure {
        what: "opening points",
        expected: 2,
        got: 0,
    };
    let column_evals = column_evals(&claim.columns, &lookup_point).ok_or(evals_err.clone())?;
    let multiplicity_eval =
        multiplicity_eval(claim.multiplicities, &table_point).ok_or(evals_err)?;
    absorb_openings(t, &column_evals, multiplicity_eval);
    let openings = LookupOpenings {
        lookup_point,
        column_evals: column_evals.clone(),
        table_point,
        multiplicity_eval,
    };
    let proof = LookupProof {
        gkr,
        column_evals,
        multiplicity_eval,
    };
    Ok((proof, openings))
}

fn absorb_openings(t: &mut Transcript, column_evals: &[EF], multiplicity_eval: EF) {
    let mut msg = column_evals.to_vec();
    msg.push(multiplicity_eval);
    t.absorb_ext(b"logup/openings", &msg);
}

/// Verifies a lookup proof on a transcript that already binds the witness, for a public
/// `table` and `num_lookups` lookups. Returns the openings the caller must check against the
/// witness (or its commitments). Never panics.
pub fn verify_bound(
    t: &mut Transcript,
    table: &Table,
    num_lookups: usize,
    proof: &LookupProof,
) -> Result<LookupOpenings, LookupError> {
    table.validate()?;
    check_num_lookups(num_lookups)?;
    let cols = table.num_columns();
    if proof.column_evals.len() != cols {
        return Err(LookupError::Structure {
            what: "column openings",
            expected: cols,
            got: proof.column_evals.len(),
        });
    }
    let (beta, alpha) = challenges(t, table, num_lookups);
    let (rw, rt) = match proof.gkr.roots.as_slice() {
        [rw, rt] => (*rw, *rt),
        roots => {
            return Err(LookupError::Structure {
                what: "GKR roots",
                expected: 2,
                got: roots.len(),
            })
        }
    };
    // P_w / Q_w = P_t / Q_t, cross-multiplied: exactly N(α, β) = 0 (see docs/gkr.md).
    if rw.q == EF::ZERO || rt.q == EF::ZERO {
        return Err(LookupError::ZeroDenominator);
    }
    if rw.p * rt.q != rt.p * rw.q {
        return Err(LookupError::SumMismatch);
    }
    let depths = [num_vars(num_lookups), num_vars(table.len())];
    let (_, claims) = fracsum::verify(&depths, &proof.gkr, t)?;
    absorb_openings(t, &proof.column_evals, proof.multiplicity_eval);
    let (cw, ct) = match claims.as_slice() {
        [cw, ct] => (cw, ct),
        _ => {
            return Err(LookupError::Structure {
                what: "GKR instances",
                expected: 2,
                got: claims.len(),
            })
        }
    };
    let bad = |side, part| LookupError::InputLayer { side, part };

    // Lookups: p̃ = sel_n, q̃ = α·sel_n + (1 − sel_n) − Σ_c β^c col̃_c.
    let sel = prefix_indicator(num_lookups, &cw.point).ok_or(bad("lookups", "numerator"))?;
    if cw.p != sel {
        return Err(bad("lookups", "numerator"));
    }
    let w = compress(beta, proof.column_evals.iter().copied());
    if cw.q != alpha * sel + (EF::ONE - sel) - w {
        return Err(bad("lookups", "denominator"));
    }

    // Table: p̃ = m̃ (opening), q̃ = α·sel_T + (1 − sel_T) − Σ_c β^c t̃_c (computed here).
    if ct.p != proof.multiplicity_eval {
        return Err(bad("table", "numerator"));
    }
    let sel_t = prefix_indicator(table.len(), &ct.point).ok_or(bad("table", "denominator"))?;
    let t_cols = table
        .eval_columns(&ct.point)
        .ok_or(bad("table", "denominator"))?;
    let tv = compress(beta, t_cols);
    if ct.q != alpha * sel_t + (EF::ONE - sel_t) - tv {
        return Err(bad("table", "denominator"));
    }
    Ok(LookupOpenings {
        lookup_point: cw.point.clone(),
        column_evals: proof.column_evals.clone(),
        table_point: ct.point.clone(),
        multiplicity_eval: proof.multiplicity_eval,
    })
}

/// Checks openings against a public witness by evaluating the multilinear extensions directly
/// (O(n + T)). Commitment openings replace this once the witness is committed.
pub fn check_openings(
    claim: &LookupClaim<'_>,
    openings: &LookupOpenings,
) -> Result<(), LookupError> {
    let direct = column_evals(&claim.columns, &openings.lookup_point);
    let direct = direct.filter(|d| d.len() == openings.column_evals.len());
    let Some(direct) = direct else {
        return Err(LookupError::Opening {
            what: "lookup column",
            column: 0,
        });
    };
    for (column, (d, o)) in direct.iter().zip(&openings.column_evals).enumerate() {
        if d != o {
            return Err(LookupError::Opening {
                what: "lookup column",
                column,
            });
        }
    }
    if multiplicity_eval(claim.multiplicities, &openings.table_point)
        != Some(openings.multiplicity_eval)
    {
        return Err(LookupError::Opening {
            what: "multiplicities",
            column: 0,
        });
    }
    Ok(())
}

/// Bits of interactive soundness of one lookup argument with n lookups, a table of T entries
/// and `columns` components: −log2 of [(n + T − 1)·max(1, c − 1) + Σ_k (2A_k + 3k)] / p^2,
/// where layer k has A_k ∈ {1, 2} active instances (see `docs/gkr.md`).
pub fn soundness_bits(num_lookups: usize, table_len: usize, columns: usize) -> f64 {
    let (dw, dt) = (num_vars(num_lookups), num_vars(table_len));
    let logup = (num_lookups + table_len).saturating_sub(1) as f64
        * columns.saturating_sub(1).max(1) as f64;
    let layers: f64 = (0..dw.max(dt))
        .map(|k| {
            let active = usize::from(k < dw) + usize::from(k < dt);
            (2 * active + 3 * k) as f64
        })
        .sum();
    crate::field::ext_field_bits() - (logup + layers).max(1.0).log2()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_table_mle_matches_direct_evaluation() {
        let mut rng = crate::test_util::Rng::new(21);
        for (lo, bits) in [(0i64, 0u32), (0, 3), (-128, 8), (5, 5)] {
            let table = Table::Range { lo, bits };
            let point: Vec<EF> = (0..bits).map(|_| rng.ext()).collect();
            let col: Vec<F> = (0..table.len()).map(|j| embed(table.entry(j, 0))).collect();
            assert_eq!(
                table.eval_columns(&point),
                crate::mle::evaluate_base(&col, &point).map(|v| vec![v])
            );
        }
    }

    #[test]
    fn soundness_is_above_100_bits_for_a_million_lookups() {
        // log2 p^3 − log2(1 114 111 + 642) ≈ 192 − 20.09
        let bits = soundness_bits(1 << 20, 1 << 16, 2);
        assert!(bits > 171.0 && bits < 172.5, "{bits}");
    }
}
