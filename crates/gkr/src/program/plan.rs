//! Lowering of an IR program into the constraint system the gkr protocol proves.
//!
//! Every tensor becomes a [`Column`]: public (program input or output, values in the
//! statement), fixed (a weight, or a constant derived from weights; values in the key) or
//! committed (an activation or an auxiliary witness column, inside the one trace commitment).
//! Every node becomes constraints between columns:
//!
//! - [`Constraint::Linear`]: `out = Σ coef·M(in) + constant` for wiring, matmul/conv with fixed
//!   weights, additions, pooling sums (`M` is a public sparse map the verifier evaluates);
//! - [`Constraint::Zero`]: an affine combination of equal-length columns vanishes entrywise
//!   (requantization identities, limb decompositions);
//! - [`Constraint::Quadratic`]: a sum of products of affine combinations vanishes entrywise
//!   (max/min selection, clamping, products of two activations, division);
//! - [`Constraint::Lookup`]: `(x, y)` pairs lie in a public function table (LogUp);
//! - range checks, lowered to 16-bit limbs placed in one region that a single LogUp checks.
//!
//! The lowering is deterministic: prover and verifier derive the same plan from the program and
//! the visibility policy, so the plan itself never travels.

use std::sync::Arc;

use p3_field::{Field, PrimeCharacteristicRing};
use thiserror::Error;
use vouch_backend::{Visibility, VisibilityPolicy};
use vouch_ir::{BinaryKind, Node, Op, Program, Range, ReduceKind, TensorId, TensorKind};

use super::maps::{self, LinearMap, MapError};
use crate::field::{embed, F};
use crate::logup::Table;
use crate::mle::num_vars;

/// Index of a column in [`Plan::columns`].
pub type Col = usize;

/// Width of one range-check limb (the range table has 2^LIMB_BITS entries).
pub const LIMB_BITS: u32 = 16;

/// Limb width of programs with few range-checked values: a 2^16-entry table (and its
/// multiplicities) would dominate their trace.
pub const SMALL_LIMB_BITS: u32 = 8;

/// Largest magnitude of any value the plan reasons about (bounds, products of bounds): keeps
/// every integer identity exact in Goldilocks (p ≈ 2^64) with room for sums of a few terms.
const VALUE_BOUND: i128 = 1 << 60;

/// Why a program cannot be proven by this backend (yet).
#[derive(Debug, Error)]
pub enum PlanError {
    #[error("node {node} ({op}): not supported by the gkr backend yet: {why}")]
    Unsupported {
        node: String,
        op: &'static str,
        why: String,
    },
    #[error("visibility {role}={vis:?} is not supported by the gkr backend yet: {why}")]
    Visibility {
        role: &'static str,
        vis: Visibility,
        why: &'static str,
    },
    #[error("node {node} ({op}): values up to {bound} exceed the exact-arithmetic bound 2^60")]
    TooWide {
        node: String,
        op: &'static str,
        bound: i128,
    },
    #[error(
        "column {column} ({len} entries, {uses} uses) is too small to stay hidden in a \
         zero-knowledge proof: its random mask would be determined by what the proof reveals"
    )]
    TooSmallToHide {
        column: String,
        len: usize,
        uses: usize,
    },
    #[error(
        "hashed tensor {column}: its column needs {vars} variables but a linked commitment to \
         it has {expected} (the program's smallest column size is larger than the tensor)"
    )]
    LinkedInput {
        column: String,
        vars: usize,
        expected: usize,
    },
    #[error(transparent)]
    Map(#[from] MapError),
}

/// Where a column's values come from.
#[derive(Clone, Debug)]
pub enum Source {
    /// A program input or output: values in the statement.
    Public(TensorId),
    /// Values known to prover and verifier from the program (weights, broadcast constants).
    Fixed(Arc<Vec<i64>>),
    /// Inside the trace commitment.
    Committed,
    /// Computed by the prover (other fills read it) but never committed nor claimed: every
    /// use was folded into linear maps of other columns (`program::fuse`).
    Fused,
}

/// How the prover computes a committed column.
#[derive(Clone, Debug)]
pub enum Fill {
    /// An IR tensor, from the witness.
    Tensor(TensorId),
    /// `map(input)`.
    Mapped { map: LinearMap, input: Col },
    /// `q = floor((m·x + h) / 2^s)` with m per entry (`mults` expanded to x's length when
    /// per-channel); `part` selects what is stored.
    Requant {
        x: Col,
        mults: Arc<Vec<i64>>,
        shift: u32,
        part: RequantPart,
    },
    /// `map(input) + constant`.
    MappedPlus {
        map: LinearMap,
        input: Col,
        constant: Arc<Vec<i64>>,
    },
    /// `max(a, b)` (or min) entrywise.
    Select { a: Col, b: Col, max: bool },
    /// `y·y`.
    Square { y: Col },
    /// The product of a [`Constraint::Product`].
    Product { a: Col, b: Col, shape: ProductShape },
    /// `rem = 2^(s+1)·a + b − 2b·y` of a rounded division.
    DivRem { a: Col, b: Col, y: Col, shift: u32 },
    /// Bits `shift .. shift + bits` of the integer affine expression (non-negative).
    Limb {
        expr: IntAffine,
        shift: u32,
        bits: u32,
    },
    /// Multiplicities of lookup `lookup` (index into [`Plan::lookups`]).
    Multiplicities { lookup: usize },
    /// Multiplicities of the values of range region `region` (a column).
    RangeMultiplicities { region: Col },
    /// A whole range-check region: its content is the limb columns of this width placed
    /// inside it.
    Region { bits: u32 },
}

/// What a requantization fill stores.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequantPart {
    /// `m·x + h − 2^s·q`, in [0, 2^s).
    Remainder,
    /// `max(q − hi, 0)`.
    Over { hi: i64 },
    /// `max(lo − q, 0)`.
    Under { lo: i64 },
}

/// Position of a committed column in the trace vector: entries `offset .. offset + 2^vars`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Loc {
    pub offset: usize,
    pub vars: usize,
}

/// One column.
#[derive(Clone, Debug)]
pub struct Column {
    pub name: String,
    /// Number of meaningful entries; the multilinear extension has `num_vars(len)` variables.
    pub len: usize,
    pub source: Source,
    pub fill: Option<Fill>,
    /// Set by allocation for committed columns.
    pub loc: Option<Loc>,
    /// A limb column, placed inside the range region of this many bits.
    pub region: Option<u32>,
    /// Fewest variables of the column's extension (zero-knowledge plans raise small columns so
    /// that their random masks outnumber what the proof reveals; 0 otherwise).
    pub min_vars: usize,
}

impl Column {
    pub fn vars(&self) -> usize {
        num_vars(self.len).max(self.min_vars)
    }
}

/// A constant added to an affine expression.
#[derive(Clone, Debug)]
pub enum Const {
    None,
    /// The same value on the first `len` entries.
    Scalar(F),
    /// One value per entry.
    Vector(Arc<Vec<i64>>),
}

/// `Σ coef·col + constant`, entrywise over columns of one length.
#[derive(Clone, Debug)]
pub struct Affine {
    pub terms: Vec<(F, Col)>,
    pub constant: Const,
}

/// An affine expression with integer coefficients (what limbs decompose).
#[derive(Clone, Debug)]
pub struct IntAffine {
    pub terms: Vec<(i64, Col)>,
    pub constant: i64,
}

impl Affine {
    /// `Σ coef·col` without a constant.
    pub fn new(terms: Vec<(F, Col)>) -> Self {
        Affine {
            terms,
            constant: Const::None,
        }
    }
}

impl IntAffine {
    fn to_affine(&self) -> Affine {
        Affine {
            terms: self.terms.iter().map(|&(c, col)| (embed(c), col)).collect(),
            constant: if self.constant == 0 {
                Const::None
            } else {
                Const::Scalar(embed(self.constant))
            },
        }
    }
}

/// One linear input of a [`Constraint::Linear`].
#[derive(Clone, Debug)]
pub struct LinearTerm {
    pub col: Col,
    pub coef: F,
    pub map: LinearMap,
}

/// A relation between columns.
#[derive(Clone, Debug)]
pub enum Constraint {
    Linear {
        node: String,
        out: Col,
        inputs: Vec<LinearTerm>,
        constant: Option<Arc<Vec<i64>>>,
    },
    Zero {
        node: String,
        len: usize,
        expr: Affine,
    },
    Quadratic {
        node: String,
        len: usize,
        products: Vec<(Affine, Affine)>,
        linear: Affine,
    },
    /// A batched matrix product of two committed (or public) operands in power-of-two layout.
    Product {
        node: String,
        a: Col,
        b: Col,
        c: Col,
        shape: ProductShape,
    },
}

/// Shape of a [`Constraint::Product`]: `c[bt, i, j] = Σ_t a[bt, i, t]·b[bt, t, j]` over
/// power-of-two `m`, `k`, `n` (log sizes here); an operand without batch is shared.
#[derive(Clone, Copy, Debug)]
pub struct ProductShape {
    pub batch: usize,
    pub m: usize,
    pub k: usize,
    pub n: usize,
    pub a_batched: bool,
    pub b_batched: bool,
}

/// A function-table lookup: every `(x[i], y[i])` is an entry of `table`.
#[derive(Clone, Debug)]
pub struct Lookup {
    pub node: String,
    pub x: Col,
    pub y: Col,
    pub table: Table,
    pub multiplicities: Col,
}

/// All limb columns of one width, checked by one LogUp against [0, 2^bits).
#[derive(Clone, Copy, Debug)]
pub struct RangeRegion {
    pub bits: u32,
    pub region: Col,
    pub multiplicities: Col,
}

/// The lowered program.
#[derive(Clone, Debug)]
pub struct Plan {
    pub columns: Vec<Column>,
    pub constraints: Vec<Constraint>,
    pub lookups: Vec<Lookup>,
    /// One range region per limb width in use (16-bit limbs and narrower top limbs).
    pub ranges: Vec<RangeRegion>,
    /// Column of every IR tensor.
    pub tensor_cols: Vec<Col>,
    /// Variables of the trace vector.
    pub trace_vars: usize,
    /// Some tensor is hidden: proofs are zero-knowledge (`program::zk`).
    pub zk: bool,
    /// Fewest variables of any column (see [`Column::min_vars`]).
    pub min_vars: usize,
    /// Declared range `[lo, hi]` of every public column: the verifier checks the statement's
    /// values against it (what range inference downstream relies on).
    pub public_ranges: Vec<(Col, i64, i64)>,
    /// The hashed input's column: committed on its own, in a linkable commitment
    /// ([`crate::link`]) named by the statement, not in the trace.
    pub linked_input: Option<Col>,
    /// The hashed output's column, likewise (the next proof's linked input).
    pub linked_output: Option<Col>,
}

/// Sizes of a plan, for key summaries and reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PlanSummary {
    /// log2 of the committed vector's length: the trace, or for zero-knowledge plans the trace
    /// with its mask pool and random half.
    pub trace_vars: usize,
    /// Committed values placed in the trace (range regions counted once, padding excluded).
    pub committed: usize,
    /// Entries of every lookup table (function tables and range tables).
    pub table_entries: usize,
    /// The widest range-check limb, in bits (0 without range checks).
    pub widest_limb_bits: u32,
}

impl Plan {
    /// Hashed tensors, each in its own linkable commitment: the input, then the output.
    pub fn linked(&self) -> Vec<Col> {
        self.linked_input
            .into_iter()
            .chain(self.linked_output)
            .collect()
    }

    /// Variables of an entrywise constraint over `len` entries (those of its columns).
    pub fn domain_vars(&self, len: usize) -> usize {
        num_vars(len).max(self.min_vars)
    }

    /// Sizes of this plan.
    pub fn summary(&self) -> PlanSummary {
        let committed = self
            .columns
            .iter()
            .filter(|c| matches!(c.source, Source::Committed) && c.loc.is_some())
            .filter(|c| c.region.is_none())
            .filter(|c| !matches!(c.fill, Some(Fill::Region { .. })))
            .map(|c| c.len)
            .sum::<usize>()
            + self
                .columns
                .iter()
                .filter(|c| c.region.is_some())
                .map(|c| c.len)
                .sum::<usize>();
        let trace_vars = if self.zk {
            super::zk::committed_vars(self).unwrap_or(self.trace_vars)
        } else {
            self.trace_vars
        };
        PlanSummary {
            trace_vars,
            committed,
            table_entries: self.lookups.iter().map(|l| l.table.len()).sum::<usize>()
                + self.ranges.iter().map(|r| 1usize << r.bits).sum::<usize>(),
            widest_limb_bits: self.ranges.iter().map(|r| r.bits).max().unwrap_or(0),
        }
    }

    /// Lowers `program` under `policy`. Range checks use 16-bit limbs or 8-bit ones, whichever
    /// gives the smaller commitment (the 2^16-entry tables dominate small programs).
    pub fn new(program: &Program, policy: VisibilityPolicy) -> Result<Self, PlanError> {
        check_policy(policy)?;
        let plan = Self::lowered(program, policy)?;
        if plan.zk {
            super::zk::check_hiding(&plan)?;
            super::zk::Layout::new(&plan)?;
        }
        Ok(plan)
    }

    fn lowered(program: &Program, policy: VisibilityPolicy) -> Result<Self, PlanError> {
        let first = Self::with_limbs(program, policy, LIMB_BITS, &[])?;
        // Ranges the fused maps imply (a second lowering drops clamps that cannot trigger).
        let tight = super::bounds::tightened(program, &first);
        let wide = if tight.iter().all(Option::is_none) {
            first
        } else {
            Self::with_limbs(program, policy, LIMB_BITS, &tight)?
        };
        let Ok(small) = Self::with_limbs(program, policy, SMALL_LIMB_BITS, &tight) else {
            return Ok(wide);
        };
        // 8-bit limbs double the limb columns of wide values but drop the 2^16-entry tables:
        // keep whichever commits to less.
        let size = |p: &Plan| {
            let vars = if p.zk {
                super::zk::committed_vars(p).unwrap_or(usize::MAX)
            } else {
                p.trace_vars
            };
            (vars, p.summary().committed)
        };
        Ok(if size(&small) < size(&wide) {
            small
        } else {
            wide
        })
    }

    fn with_limbs(
        program: &Program,
        policy: VisibilityPolicy,
        limb_bits: u32,
        tight: &[Option<Range>],
    ) -> Result<Self, PlanError> {
        let mut b = Builder {
            tight,
            limb_bits,
            program,
            columns: Vec::new(),
            constraints: Vec::new(),
            lookups: Vec::new(),
            limbs: Vec::new(),
            tensor_cols: vec![usize::MAX; program.tensors.len()],
            zk: matches!(policy.input, Visibility::Private | Visibility::Hashed)
                || policy.output == Visibility::Hashed,
            min_vars: 0,
            public_ranges: Vec::new(),
            linked_input: None,
            linked_output: None,
            own_regions: Vec::new(),
        };
        for (i, info) in program.tensors.iter().enumerate() {
            let id = TensorId(i as u32);
            let len = info.shape.iter().product();
            let output = info.kind == TensorKind::Activation && program.outputs.contains(&id);
            let hashed_output = output && policy.output == Visibility::Hashed;
            let source = match info.kind {
                TensorKind::Input
                    if matches!(policy.input, Visibility::Private | Visibility::Hashed) =>
                {
                    Source::Committed
                }
                TensorKind::Input => Source::Public(id),
                TensorKind::Weight => {
                    Source::Fixed(Arc::new(program.weights[i].clone().unwrap_or_default()))
                }
                TensorKind::Activation if output && !hashed_output => Source::Public(id),
                TensorKind::Activation => Source::Committed,
            };
            let fill = matches!(source, Source::Committed).then_some(Fill::Tensor(id));
            let public = matches!(source, Source::Public(_));
            let c = b.column(&info.name, len, source, fill);
            if hashed_output {
                link_one(&mut b.linked_output, c, "output")?;
            }
            b.tensor_cols[i] = c;
            if public {
                b.public_ranges.push((c, info.range.lo, info.range.hi));
            } else if info.kind == TensorKind::Input {
                if policy.input == Visibility::Hashed {
                    link_one(&mut b.linked_input, c, "input")?;
                }
                b.input_range(c, info.range.lo, info.range.hi);
            }
        }
        for node in &program.nodes {
            b.lower(node)?;
        }
        super::fuse::fuse_linear(&mut b.columns, &mut b.constraints, &b.lookups);
        b.finish()
    }
}

/// Records the hashed tensor of a role: one per role on gkr (one linked commitment each).
fn link_one(slot: &mut Option<Col>, c: Col, role: &'static str) -> Result<(), PlanError> {
    if slot.replace(c).is_some() {
        return Err(PlanError::Visibility {
            role,
            vis: Visibility::Hashed,
            why: "a hashed role on gkr is one tensor; this program has more",
        });
    }
    Ok(())
}

/// Policies the gkr backend proves: input public, private or hashed (zero-knowledge), weights
/// fixed or public, output public or hashed.
fn check_policy(p: VisibilityPolicy) -> Result<(), PlanError> {
    if p.input == Visibility::Fixed {
        return Err(PlanError::Visibility {
            role: "input",
            vis: p.input,
            why: "inputs are public, private or hashed",
        });
    }
    if !matches!(p.weights, Visibility::Fixed | Visibility::Public) {
        return Err(PlanError::Visibility {
            role: "weights",
            vis: p.weights,
            why: "hidden weights need products with committed weight tensors, not built for \
                  gkr yet; use fixed weights or the halo2 backend",
        });
    }
    if !matches!(p.output, Visibility::Public | Visibility::Hashed) {
        return Err(PlanError::Visibility {
            role: "output",
            vis: p.output,
            why: "outputs are public or hashed (a linkable commitment) on gkr",
        });
    }
    Ok(())
}

struct Builder<'p> {
    /// Proven ranges narrower than the declared ones, per tensor (`program::bounds`).
    tight: &'p [Option<Range>],
    /// Width of the full range-check limbs.
    limb_bits: u32,
    program: &'p Program,
    columns: Vec<Column>,
    constraints: Vec<Constraint>,
    lookups: Vec<Lookup>,
    limbs: Vec<Col>,
    tensor_cols: Vec<Col>,
    /// Zero-knowledge plan (hidden input).
    zk: bool,
    min_vars: usize,
    public_ranges: Vec<(Col, i64, i64)>,
    linked_input: Option<Col>,
    linked_output: Option<Col>,
    /// Range regions that are a column of their own (a linked input): (column, bits).
    own_regions: Vec<(Col, u32)>,
}

/// Splits limb columns of one width (power-of-two `sizes`, largest first) into range regions.
/// One region pads the total to a power of two; when that padding costs more than another
/// region (`table` entries: its multiplicity table, at least [`MIN_SPLIT_SAVING`]), the largest
/// power of two inside the total becomes a region of its own (its prefix of limbs sums to it
/// exactly) and the rest is split likewise.
fn region_groups(sizes: &[usize], table: usize) -> Vec<Vec<usize>> {
    let mut groups = Vec::new();
    let mut start = 0;
    loop {
        let rest = &sizes[start..];
        let total: usize = rest.iter().sum();
        let padded = total.next_power_of_two();
        if rest.is_empty() || total == padded || total + table >= padded {
            groups.push((start..sizes.len()).collect());
            return groups;
        }
        let head = padded / 2;
        let mut sum = 0;
        let mut end = start;
        while sum < head {
            sum += sizes[end];
            end += 1;
        }
        groups.push((start..end).collect());
        start = end;
    }
}

/// Least padding a split range region must save (entries): below it, another LogUp proof (its
/// bytes and verifier time) costs more than the padding.
const MIN_SPLIT_SAVING: usize = 1 << 16;

/// Bits needed for values in [0, v].
fn bits_for(v: i128) -> u32 {
    if v <= 0 {
        0
    } else {
        128 - (v as u128).leading_zeros()
    }
}

fn pow2(k: u32) -> F {
    F::from_u64(1u64 << k)
}

impl Builder<'_> {
    fn column(&mut self, name: &str, len: usize, source: Source, fill: Option<Fill>) -> Col {
        self.columns.push(Column {
            name: name.to_string(),
            len,
            source,
            fill,
            loc: None,
            region: None,
            min_vars: self.min_vars,
        });
        self.columns.len() - 1
    }

    fn aux(&mut self, node: &Node, what: &str, len: usize, fill: Fill) -> Col {
        let name = format!("{}/{what}", node.name);
        self.column(&name, len, Source::Committed, Some(fill))
    }

    /// A committed column `map(input)`, with the linear constraint that makes it so.
    fn mapped(&mut self, node: &Node, what: &str, len: usize, map: LinearMap, input: Col) -> Col {
        let fill = Fill::Mapped {
            map: map.clone(),
            input,
        };
        let out = self.aux(node, what, len, fill);
        self.constraints.push(Constraint::Linear {
            node: node.name.clone(),
            out,
            inputs: vec![LinearTerm {
                col: input,
                coef: F::ONE,
                map,
            }],
            constant: None,
        });
        out
    }

    fn fixed(&mut self, node: &Node, what: &str, values: Vec<i64>) -> Col {
        let name = format!("{}/{what}", node.name);
        let len = values.len();
        self.column(&name, len, Source::Fixed(Arc::new(values)), None)
    }

    fn col(&self, id: TensorId) -> Col {
        self.tensor_cols[id.index()]
    }

    fn shape(&self, id: TensorId) -> &[usize] {
        &self.program.tensors[id.index()].shape
    }

    fn range(&self, id: TensorId) -> (i128, i128) {
        let r = match self.tight.get(id.index()) {
            Some(Some(t)) => *t,
            _ => self.program.tensors[id.index()].range,
        };
        (r.lo as i128, r.hi as i128)
    }

    fn weight(&self, id: TensorId) -> Option<&[i64]> {
        self.program.weight(id)
    }

    fn unsupported(node: &Node, why: impl Into<String>) -> PlanError {
        PlanError::Unsupported {
            node: node.name.clone(),
            op: node.op.name(),
            why: why.into(),
        }
    }

    fn check_bound(node: &Node, bound: i128) -> Result<(), PlanError> {
        if bound.abs() >= VALUE_BOUND {
            return Err(PlanError::TooWide {
                node: node.name.clone(),
                op: node.op.name(),
                bound,
            });
        }
        Ok(())
    }

    /// A column holding input `id` broadcast to `out_shape`: the column itself when shapes
    /// match, a fixed column for weights, else a committed broadcast with a linear constraint.
    fn at_shape(
        &mut self,
        node: &Node,
        id: TensorId,
        out_shape: &[usize],
    ) -> Result<Col, PlanError> {
        let shape = self.shape(id).to_vec();
        if shape == out_shape {
            return Ok(self.col(id));
        }
        let map = maps::broadcast(&shape, out_shape);
        map.check(&node.name)?;
        let len = out_shape.iter().product();
        if let Some(w) = self.weight(id) {
            let values = map.apply(w);
            return Ok(self.fixed(node, "broadcast", values));
        }
        let input = self.col(id);
        Ok(self.mapped(node, "broadcast", len, map, input))
    }

    /// Proves a hidden input inside its declared range `[lo, hi]`, which range inference (and
    /// so every later bound) assumes. An input whose range is exactly the values of a limb
    /// width (u8 pixels: [0, 255]) is itself placed in that range region, at no extra column.
    fn input_range(&mut self, c: Col, lo: i64, hi: i64) {
        let span = (hi as i128 - lo as i128).max(0);
        let bits = bits_for(span);
        if lo == 0 && span + 1 == 1i128 << bits && bits <= self.limb_bits && bits > 0 {
            if self.linked_input == Some(c) {
                // Outside the trace: its own region, looked up where it is committed.
                self.own_regions.push((c, bits));
            } else {
                self.columns[c].region = Some(bits);
                self.limbs.push(c);
            }
            return;
        }
        let node = self.columns[c].name.clone();
        let len = self.columns[c].len;
        self.within(&node, c, len, lo as i128, lo as i128 + span);
    }

    /// Constrains column `c` (`len` entries) to `[lo, hi]`: `c − lo ∈ [0, 2^b)`, b the span's
    /// bits, and `hi − c ∈ [0, 2^b)` unless that already follows, when the span is exactly
    /// 2^b values (int8's [−128, 127], u8's [0, 255]).
    fn within(&mut self, node: &str, c: Col, len: usize, lo: i128, hi: i128) {
        let bits = bits_for(hi - lo);
        let above = IntAffine {
            terms: vec![(1, c)],
            constant: -(lo as i64),
        };
        self.range_check(node, "above_lo", above, len, bits);
        if hi - lo + 1 != 1i128 << bits {
            let below = IntAffine {
                terms: vec![(-1, c)],
                constant: hi as i64,
            };
            self.range_check(node, "below_hi", below, len, bits);
        }
    }

    /// Constrains `expr ∈ [0, 2^bits)`: `expr = Σ 2^(w·j)·L_j` with w-bit limbs (w = 16, or 8
    /// for small programs) and a top limb of the remaining width, each limb in the range region of its width (so the bound
    /// is exact).
    fn range_check(&mut self, node: &str, what: &str, expr: IntAffine, len: usize, bits: u32) {
        if bits == 0 {
            // [0, 1): the expression is zero.
            self.constraints.push(Constraint::Zero {
                node: node.to_string(),
                len,
                expr: expr.to_affine(),
            });
            return;
        }
        let lb = self.limb_bits;
        let limbs = bits.div_ceil(lb);
        let mut decomposition = expr.to_affine();
        for index in 0..limbs {
            let width = (bits - lb * index).min(lb);
            let fill = Fill::Limb {
                expr: expr.clone(),
                shift: lb * index,
                bits: width,
            };
            let name = format!("{node}/{what}/limb{index}");
            let l = self.column(&name, len, Source::Committed, Some(fill));
            self.columns[l].region = Some(width);
            self.limbs.push(l);
            decomposition.terms.push((-pow2(lb * index), l));
        }
        self.constraints.push(Constraint::Zero {
            node: node.to_string(),
            len,
            expr: decomposition,
        });
    }

    fn lower(&mut self, node: &Node) -> Result<(), PlanError> {
        let out_id = node.output;
        let out = self.col(out_id);
        let out_shape = self.shape(out_id).to_vec();
        let len: usize = out_shape.iter().product();
        match &node.op {
            Op::Reshape { .. } if !matches!(self.columns[out].source, Source::Public(_)) => {
                // Same values in the same order: the output is the input's column.
                let input = self.col(node.inputs[0]);
                self.tensor_cols[out_id.index()] = input;
                // The unused column has no fill and is never placed in the trace.
                self.columns[out].fill = None;
                Ok(())
            }
            op if op.is_wiring() || matches!(op, Op::Where { .. }) => {
                let lin = maps::wiring(self.program, node)?;
                self.linear_node(node, lin.maps, lin.constant, &[1; 8])
            }
            Op::MatMul => self.matmul(node),
            Op::Conv { window, groups } => {
                let (x, w) = (node.inputs[0], node.inputs[1]);
                let Some(wv) = self.weight(w) else {
                    return Err(Self::unsupported(node, "convolution with run-time weights"));
                };
                if self.weight(x).is_some() {
                    return Err(Self::unsupported(node, "convolution of a constant input"));
                }
                let xs = self.shape(x);
                let ws = self.shape(w);
                let map = LinearMap::Conv {
                    x_shape: [xs[0], xs[1], xs[2], xs[3]],
                    w_shape: [ws[0], ws[1], ws[2], ws[3]],
                    window: window.clone(),
                    groups: *groups,
                    out_shape: [out_shape[0], out_shape[1], out_shape[2], out_shape[3]],
                    w: Arc::new(wv.to_vec()),
                };
                let constant = match node.inputs.get(2) {
                    None => None,
                    Some(&bias) => {
                        let Some(bv) = self.weight(bias) else {
                            return Err(Self::unsupported(node, "run-time convolution bias"));
                        };
                        let plane = out_shape[2] * out_shape[3];
                        let c: Vec<i64> =
                            (0..len).map(|i| bv[(i / plane) % out_shape[1]]).collect();
                        Some(c)
                    }
                };
                self.linear_node(node, vec![Some(map), None, None], constant, &[1, 0, 0])
            }
            Op::SumPool { window } => {
                let map = maps::sum_pool(self.shape(node.inputs[0]), window, &out_shape);
                self.linear_node(node, vec![Some(map)], None, &[1])
            }
            Op::Reduce {
                kind: ReduceKind::Sum,
                axes,
                ..
            } => {
                let map = maps::reduce_sum(self.shape(node.inputs[0]), axes, &out_shape);
                self.linear_node(node, vec![Some(map)], None, &[1])
            }
            Op::Binary(BinaryKind::Add) | Op::Binary(BinaryKind::Sub) => {
                let sub = matches!(node.op, Op::Binary(BinaryKind::Sub));
                let m: Vec<Option<LinearMap>> = node
                    .inputs
                    .iter()
                    .map(|&i| Some(maps::broadcast(self.shape(i), &out_shape)))
                    .collect();
                self.linear_node(node, m, None, &[1, if sub { -1 } else { 1 }])
            }
            Op::Binary(BinaryKind::Mul) => self.mul(node, &out_shape),
            Op::Binary(kind @ (BinaryKind::Max | BinaryKind::Min)) => {
                let max = *kind == BinaryKind::Max;
                self.select(node, max, &out_shape)
            }
            Op::Requant {
                mults,
                axis,
                shift,
                lo,
                hi,
            } => {
                let x = node.inputs[0];
                let xs = self.shape(x).to_vec();
                let expanded: Vec<i64> = match axis {
                    None => vec![mults[0]],
                    Some(a) => {
                        let inner: usize = xs[a + 1..].iter().product();
                        (0..len).map(|i| mults[(i / inner) % xs[*a]]).collect()
                    }
                };
                self.clamped_quotient(node, x, expanded, *shift, *lo, *hi)
            }
            Op::Clamp { lo, hi } => {
                self.clamped_quotient(node, node.inputs[0], vec![1], 0, *lo, *hi)
            }
            Op::DivRound { shift } => self.div_round(node, *shift, &out_shape),
            Op::Sqrt => self.sqrt(node),
            Op::GatherDynamic { axis } => self.gather_dynamic(node, *axis),
            Op::MaxPool { window } => {
                let taps = maps::max_pool_taps(self.shape(node.inputs[0]), window, &out_shape);
                self.reduce_taps(node, true, taps)
            }
            Op::Reduce {
                kind: kind @ (ReduceKind::Max | ReduceKind::Min),
                axes,
                ..
            } => {
                let taps = maps::reduce_taps(self.shape(node.inputs[0]), axes);
                self.reduce_taps(node, *kind == ReduceKind::Max, taps)
            }
            Op::Lookup(table) => {
                let x = self.col(node.inputs[0]);
                let m = self.aux(
                    node,
                    "multiplicities",
                    table.values.len(),
                    Fill::Multiplicities {
                        lookup: self.lookups.len(),
                    },
                );
                self.lookups.push(Lookup {
                    node: node.name.clone(),
                    x,
                    y: out,
                    table: Table::from_ir(table),
                    multiplicities: m,
                });
                Ok(())
            }
            other => Err(Self::unsupported(
                node,
                format!("{} has no gkr lowering yet", other.name()),
            )),
        }
    }

    /// `out = Σ coef_i · map_i(in_i) + constant`; fixed inputs fold into the constant.
    fn linear_node(
        &mut self,
        node: &Node,
        maps: Vec<Option<LinearMap>>,
        constant: Option<Vec<i64>>,
        coefs: &[i64],
    ) -> Result<(), PlanError> {
        let out = self.col(node.output);
        let len = self.columns[out].len;
        let mut constant = constant;
        let mut inputs = Vec::new();
        for (i, map) in maps.into_iter().enumerate() {
            let (Some(map), Some(&id)) = (map, node.inputs.get(i)) else {
                continue;
            };
            map.check(&node.name)?;
            let coef = coefs.get(i).copied().unwrap_or(1);
            if let Some(w) = self.weight(id) {
                let add = map.apply(w);
                let c = constant.get_or_insert_with(|| vec![0; len]);
                for (c, a) in c.iter_mut().zip(add) {
                    *c += coef * a;
                }
            } else {
                inputs.push(LinearTerm {
                    col: self.col(id),
                    coef: embed(coef),
                    map,
                });
            }
        }
        self.constraints.push(Constraint::Linear {
            node: node.name.clone(),
            out,
            inputs,
            constant: constant.map(Arc::new),
        });
        Ok(())
    }

    fn matmul(&mut self, node: &Node) -> Result<(), PlanError> {
        let (a, b) = (node.inputs[0], node.inputs[1]);
        let (sa, sb) = (self.shape(a).to_vec(), self.shape(b).to_vec());
        let out_shape = self.shape(node.output).to_vec();
        let len: usize = out_shape.iter().product();
        let k = sa[sa.len() - 1];
        let map = match (self.weight(a), self.weight(b)) {
            (None, Some(w)) if sb.len() == 2 => LinearMap::MatMulRight {
                rows: sa[..sa.len() - 1].iter().product(),
                k,
                n: sb[1],
                w: Arc::new(w.to_vec()),
            },
            (Some(w), None) if sa.len() == 2 => LinearMap::MatMulLeft {
                batch: sb[..sb.len() - 2].iter().product(),
                m: sa[0],
                k,
                n: sb[sb.len() - 1],
                a: Arc::new(w.to_vec()),
            },
            (None, None) => return self.runtime_matmul(node),
            _ => {
                return Err(Self::unsupported(
                    node,
                    "a constant matmul operand must be 2-D (or both constant)",
                ))
            }
        };
        let var = if self.weight(a).is_some() { 1 } else { 0 };
        let constant = match node.inputs.get(2) {
            None => None,
            Some(&bias) => {
                let Some(bv) = self.weight(bias) else {
                    return Err(Self::unsupported(node, "run-time matmul bias"));
                };
                let n = out_shape[out_shape.len() - 1];
                Some((0..len).map(|i| bv[i % n]).collect())
            }
        };
        let mut m = vec![None, None, None];
        m[var] = Some(map);
        let mut coefs = [0i64; 3];
        coefs[var] = 1;
        self.linear_node(node, m, constant, &coefs)
    }

    /// `a @ b` with both operands computed at run time: both are laid out with power-of-two
    /// row and column counts (linear selections; skipped when already so), the product is
    /// proved by a sumcheck ([`Constraint::Product`]), and the output (plus bias) is selected
    /// back from the padded product.
    fn runtime_matmul(&mut self, node: &Node) -> Result<(), PlanError> {
        let (a, b) = (node.inputs[0], node.inputs[1]);
        let (sa, sb) = (self.shape(a).to_vec(), self.shape(b).to_vec());
        let out_shape = self.shape(node.output).to_vec();
        let r = out_shape.len();
        let (m, k, n) = (out_shape[r - 2], sa[sa.len() - 1], out_shape[r - 1]);
        let out_batch = &out_shape[..r - 2];
        let batch: usize = out_batch.iter().product();
        let (ra, rb) = (self.range(a), self.range(b));
        let kk = k as i128;
        let bound = kk * ra.0.abs().max(ra.1.abs()) * rb.0.abs().max(rb.1.abs());
        Self::check_bound(node, bound)?;
        let (mp, kp, np) = (
            m.next_power_of_two(),
            k.next_power_of_two(),
            n.next_power_of_two(),
        );
        let a_batched = sa.len() > 2;
        let b_batched = sb.len() > 2;
        let ca = self.relayout(node, "a", a, &sa, out_batch, a_batched, (m, k), (mp, kp))?;
        let cb = self.relayout(node, "b", b, &sb, out_batch, b_batched, (k, n), (kp, np))?;
        let shape = ProductShape {
            batch,
            m: mp.trailing_zeros() as usize,
            k: kp.trailing_zeros() as usize,
            n: np.trailing_zeros() as usize,
            a_batched,
            b_batched,
        };
        let out = self.col(node.output);
        let direct = mp == m && np == n && node.inputs.len() == 2;
        let c = if direct {
            out
        } else {
            self.aux(
                node,
                "product",
                batch * mp * np,
                Fill::Product {
                    a: ca,
                    b: cb,
                    shape,
                },
            )
        };
        self.constraints.push(Constraint::Product {
            node: node.name.clone(),
            a: ca,
            b: cb,
            c,
            shape,
        });
        if !direct {
            // out[bt, i, j] = c[bt, i, j] (padded layout) + bias[j].
            let len: usize = out_shape.iter().product();
            let src: Vec<u32> = (0..len)
                .map(|e| {
                    let (bt, rest) = (e / (m * n), e % (m * n));
                    ((bt * mp + rest / n) * np + rest % n) as u32
                })
                .collect();
            let map = LinearMap::Select {
                n_in: batch * mp * np,
                src,
            };
            map.check(&node.name)?;
            let mut constant = None;
            let mut inputs = vec![LinearTerm {
                col: c,
                coef: F::ONE,
                map,
            }];
            if let Some(&bias) = node.inputs.get(2) {
                let bmap = maps::broadcast(self.shape(bias), &out_shape);
                bmap.check(&node.name)?;
                match self.weight(bias) {
                    Some(w) => constant = Some(Arc::new(bmap.apply(w))),
                    None => inputs.push(LinearTerm {
                        col: self.col(bias),
                        coef: F::ONE,
                        map: bmap,
                    }),
                }
            }
            self.constraints.push(Constraint::Linear {
                node: node.name.clone(),
                out,
                inputs,
                constant,
            });
        }
        Ok(())
    }

    /// Operand `id` of shape `[batch.., rows, cols]` as `[batch, rows', cols']` with power-of-two
    /// `rows'`, `cols'` (zero padded, batch broadcast to `out_batch`), or as `[rows', cols']`
    /// when unbatched. The operand's own column when the layout is already that.
    #[allow(clippy::too_many_arguments)]
    fn relayout(
        &mut self,
        node: &Node,
        what: &str,
        id: TensorId,
        shape: &[usize],
        out_batch: &[usize],
        batched: bool,
        (rows, cols): (usize, usize),
        (rp, cp): (usize, usize),
    ) -> Result<Col, PlanError> {
        let own_batch = &shape[..shape.len() - 2];
        if rows == rp && cols == cp && (!batched || own_batch == out_batch) {
            return Ok(self.col(id));
        }
        let batch: usize = if batched {
            out_batch.iter().product()
        } else {
            1
        };
        let bsrc: Vec<u32> = if batched {
            match maps::broadcast(own_batch, out_batch) {
                LinearMap::Select { src, .. } => src,
                _ => return Err(Self::unsupported(node, "batch broadcast")),
            }
        } else {
            vec![0]
        };
        let mut src = Vec::with_capacity(batch * rp * cp);
        for &ob in &bsrc {
            for i in 0..rp {
                for j in 0..cp {
                    src.push(if i < rows && j < cols {
                        ((ob as usize * rows + i) * cols + j) as u32
                    } else {
                        maps::NONE
                    });
                }
            }
        }
        let x = self.col(id);
        let map = LinearMap::Select {
            n_in: self.columns[x].len,
            src,
        };
        map.check(&node.name)?;
        if let Some(w) = self.weight(id) {
            let values = map.apply(w);
            return Ok(self.fixed(node, what, values));
        }
        let c = self.mapped(node, what, batch * rp * cp, map, x);
        Ok(c)
    }

    fn mul(&mut self, node: &Node, out_shape: &[usize]) -> Result<(), PlanError> {
        let (a, b) = (node.inputs[0], node.inputs[1]);
        let out = self.col(node.output);
        let len: usize = out_shape.iter().product();
        match (self.weight(a), self.weight(b)) {
            (Some(w), Some(v)) => {
                let (wa, wb) = (
                    maps::broadcast(self.shape(a), out_shape).apply(w),
                    maps::broadcast(self.shape(b), out_shape).apply(v),
                );
                let c = wa.iter().zip(&wb).map(|(x, y)| x * y).collect();
                self.linear_node(node, vec![], Some(c), &[])
            }
            (Some(w), None) | (None, Some(w)) => {
                let (x, c) = if self.weight(a).is_some() {
                    (b, a)
                } else {
                    (a, b)
                };
                let map = maps::scale(self.shape(x), self.shape(c), w, out_shape);
                let mut m = vec![None, None];
                let var = usize::from(x == b);
                m[var] = Some(map);
                let mut coefs = [0i64; 2];
                coefs[var] = 1;
                self.linear_node(node, m, None, &coefs)
            }
            (None, None) => {
                let ca = self.at_shape(node, a, out_shape)?;
                let cb = self.at_shape(node, b, out_shape)?;
                // out − a·b = 0.
                self.constraints.push(Constraint::Quadratic {
                    node: node.name.clone(),
                    len,
                    products: vec![(
                        Affine::new(vec![(-F::ONE, ca)]),
                        Affine::new(vec![(F::ONE, cb)]),
                    )],
                    linear: Affine::new(vec![(F::ONE, out)]),
                });
                Ok(())
            }
        }
    }

    /// `y = max(a, b)` (or min) for a Binary node.
    fn select(&mut self, node: &Node, max: bool, out_shape: &[usize]) -> Result<(), PlanError> {
        let y = self.col(node.output);
        let len: usize = out_shape.iter().product();
        let (a, b) = (node.inputs[0], node.inputs[1]);
        let ca = self.at_shape(node, a, out_shape)?;
        let cb = self.at_shape(node, b, out_shape)?;
        let (ra, rb) = (self.range(a), self.range(b));
        let ry = self.range(node.output);
        self.select_cols(node, "", max, len, y, ry, [(ca, ra), (cb, rb)])
    }

    /// `y = max(a, b)` (or min) on columns: `y − a ≥ 0`, `y − b ≥ 0` (signs flipped for min)
    /// and `(y − a)(y − b) = 0`.
    #[allow(clippy::too_many_arguments)]
    fn select_cols(
        &mut self,
        node: &Node,
        tag: &str,
        max: bool,
        len: usize,
        y: Col,
        (ylo, yhi): (i128, i128),
        inputs: [(Col, (i128, i128)); 2],
    ) -> Result<(), PlanError> {
        let s = if max { 1 } else { -1 };
        let mut diffs = Vec::new();
        for (k, (c, (lo, hi))) in inputs.into_iter().enumerate() {
            let span = if max { yhi - lo } else { hi - ylo };
            Self::check_bound(node, span)?;
            let expr = IntAffine {
                terms: vec![(s, y), (-s, c)],
                constant: 0,
            };
            self.range_check(
                &node.name,
                &format!("{tag}gap{k}"),
                expr.clone(),
                len,
                bits_for(span),
            );
            diffs.push(expr.to_affine());
        }
        let (d0, d1) = (diffs.remove(0), diffs.remove(0));
        self.constraints.push(Constraint::Quadratic {
            node: node.name.clone(),
            len,
            products: vec![(d0, d1)],
            linear: Affine::new(vec![]),
        });
        Ok(())
    }

    /// The max (or min) over taps: tap `j` of output entry `y` is input entry `taps[j][y]`.
    /// Each tap becomes a committed column (a linear selection of the input), then a chain of
    /// pairwise selections ends in the node's output.
    fn reduce_taps(
        &mut self,
        node: &Node,
        max: bool,
        taps: Vec<Vec<u32>>,
    ) -> Result<(), PlanError> {
        let x_id = node.inputs[0];
        let x = self.col(x_id);
        let y = self.col(node.output);
        let len = self.columns[y].len;
        let n_in = self.columns[x].len;
        let r = self.range(x_id);
        let mut cols = Vec::with_capacity(taps.len());
        for (j, src) in taps.into_iter().enumerate() {
            let map = LinearMap::Select { n_in, src };
            map.check(&node.name)?;
            if map.is_identity() {
                cols.push(x);
                continue;
            }
            let c = self.mapped(node, &format!("tap{j}"), len, map, x);
            cols.push(c);
        }
        if cols.len() == 1 {
            // One tap: the output is that tap.
            self.constraints.push(Constraint::Zero {
                node: node.name.clone(),
                len,
                expr: Affine {
                    terms: vec![(F::ONE, y), (-F::ONE, cols[0])],
                    constant: Const::None,
                },
            });
            return Ok(());
        }
        let mut acc = cols[0];
        for (j, &c) in cols.iter().enumerate().skip(1) {
            let out = if j + 1 == cols.len() {
                y
            } else {
                self.aux(
                    node,
                    &format!("running{j}"),
                    len,
                    Fill::Select { a: acc, b: c, max },
                )
            };
            self.select_cols(
                node,
                &format!("step{j}/"),
                max,
                len,
                out,
                r,
                [(acc, r), (c, r)],
            )?;
            acc = out;
        }
        Ok(())
    }

    /// `y = floor(sqrt(x))`: with `sq = y·y`, `x − sq ≥ 0`, `sq + 2y − x ≥ 0`, `y ≥ 0`.
    fn sqrt(&mut self, node: &Node) -> Result<(), PlanError> {
        let x = self.col(node.inputs[0]);
        let y = self.col(node.output);
        let len = self.columns[y].len;
        let (_, xhi) = self.range(node.inputs[0]);
        let (_, yhi) = self.range(node.output);
        Self::check_bound(node, xhi)?;
        let sq = self.aux(node, "square", len, Fill::Square { y });
        self.constraints.push(Constraint::Quadratic {
            node: node.name.clone(),
            len,
            products: vec![(
                Affine::new(vec![(-F::ONE, y)]),
                Affine::new(vec![(F::ONE, y)]),
            )],
            linear: Affine::new(vec![(F::ONE, sq)]),
        });
        let bits = bits_for(xhi.max(2 * yhi + 1));
        for (what, expr) in [
            (
                "below",
                IntAffine {
                    terms: vec![(1, x), (-1, sq)],
                    constant: 0,
                },
            ),
            (
                "above",
                IntAffine {
                    terms: vec![(1, sq), (2, y), (-1, x)],
                    constant: 0,
                },
            ),
            (
                "sign",
                IntAffine {
                    terms: vec![(1, y)],
                    constant: 0,
                },
            ),
        ] {
            self.range_check(&node.name, what, expr, len, bits);
        }
        Ok(())
    }

    /// `y[.., d] = data[idx[..], d]` along axis 0 of a constant 2-D table: a lookup of
    /// `(idx·D + d, y)` in the flattened table.
    fn gather_dynamic(&mut self, node: &Node, axis: usize) -> Result<(), PlanError> {
        let (data, idx) = (node.inputs[0], node.inputs[1]);
        let Some(values) = self.weight(data).map(<[i64]>::to_vec) else {
            return Err(Self::unsupported(node, "gathering from a run-time tensor"));
        };
        let ds = self.shape(data).to_vec();
        if axis != 0 || ds.len() != 2 {
            return Err(Self::unsupported(
                node,
                "only rows of a constant 2-D table (axis 0)",
            ));
        }
        let d = ds[1];
        let y = self.col(node.output);
        let len = self.columns[y].len;
        let i = self.col(idx);
        let n_idx = self.columns[i].len;
        // key[k·D + j] = D·idx[k] + j.
        let map = LinearMap::Weighted {
            n_in: n_idx,
            src: (0..len).map(|e| (e / d) as u32).collect(),
            coeff: vec![d as i64; len],
        };
        map.check(&node.name)?;
        let constant: Vec<i64> = (0..len).map(|e| (e % d) as i64).collect();
        let key = self.aux(
            node,
            "key",
            len,
            Fill::MappedPlus {
                map: map.clone(),
                input: i,
                constant: Arc::new(constant.clone()),
            },
        );
        self.constraints.push(Constraint::Linear {
            node: node.name.clone(),
            out: key,
            inputs: vec![LinearTerm {
                col: i,
                coef: F::ONE,
                map,
            }],
            constant: Some(Arc::new(constant)),
        });
        let table = Table::Function { lo: 0, values };
        let m = self.aux(
            node,
            "multiplicities",
            table.len(),
            Fill::Multiplicities {
                lookup: self.lookups.len(),
            },
        );
        self.lookups.push(Lookup {
            node: node.name.clone(),
            x: key,
            y,
            table,
            multiplicities: m,
        });
        Ok(())
    }

    /// `y = clamp(q, lo, hi)` with `q = floor((m·x + h) / 2^s)` (h = 2^(s−1), or 0 when s = 0).
    fn clamped_quotient(
        &mut self,
        node: &Node,
        x_id: TensorId,
        mults: Vec<i64>,
        shift: u32,
        lo: i64,
        hi: i64,
    ) -> Result<(), PlanError> {
        let y = self.col(node.output);
        let x = self.col(x_id);
        let len = self.columns[y].len;
        let (xlo, xhi) = self.range(x_id);
        Self::check_bound(node, 1i128 << shift.min(127))?;
        let h: i128 = if shift == 0 { 0 } else { 1 << (shift - 1) };
        let (mut qlo, mut qhi) = (i128::MAX, i128::MIN);
        for &m in mults.iter() {
            for v in [xlo * m as i128, xhi * m as i128] {
                Self::check_bound(node, v)?;
                let q = (v + h).div_euclid(1 << shift);
                qlo = qlo.min(q);
                qhi = qhi.max(q);
            }
        }
        let mults = Arc::new(mults);
        let (lo128, hi128) = (lo as i128, hi as i128);
        let clamps = qhi > hi128 || qlo < lo128;
        let part = |b: &mut Self, needed: bool, what: &str, part: RequantPart| {
            needed.then(|| {
                b.aux(
                    node,
                    what,
                    len,
                    Fill::Requant {
                        x,
                        mults: mults.clone(),
                        shift,
                        part,
                    },
                )
            })
        };
        let rem = part(self, shift > 0, "rem", RequantPart::Remainder);
        let over = part(self, qhi > hi128, "over", RequantPart::Over { hi });
        let under = part(self, qlo < lo128, "under", RequantPart::Under { lo });
        // The identity 2^s·(y + over − under) + rem = m·x + h.
        if mults.len() == 1 {
            // Entrywise: y + over − under − 2^−s·(m·x + h − rem) = 0.
            let inv = pow2(shift).inverse();
            let mut terms = vec![(F::ONE, y), (-(embed(mults[0]) * inv), x)];
            terms.extend(rem.map(|c| (inv, c)));
            terms.extend(over.map(|c| (F::ONE, c)));
            terms.extend(under.map(|c| (-F::ONE, c)));
            self.constraints.push(Constraint::Zero {
                node: node.name.clone(),
                len,
                expr: Affine {
                    terms,
                    constant: Const::Scalar(-(F::from_u64(h as u64) * inv)),
                },
            });
        } else {
            // Per channel, m is a per-entry weight on x in a linear constraint whose output is
            // the remainder (or y when nothing is shifted out).
            let shape = self.shape(x_id).to_vec();
            let map = maps::scale(&shape, &shape, &mults, &shape);
            map.check(&node.name)?;
            let id = || LinearMap::Select {
                n_in: len,
                src: (0..len as u32).collect(),
            };
            let s2 = pow2(shift);
            let mut inputs = vec![LinearTerm {
                col: x,
                coef: F::ONE,
                map,
            }];
            let (out, yc) = match rem {
                Some(r) => (r, Some(y)),
                None => (y, None),
            };
            for (col, coef) in [(yc, -s2), (over, -s2), (under, s2)] {
                if let Some(col) = col {
                    inputs.push(LinearTerm {
                        col,
                        coef,
                        map: id(),
                    });
                }
            }
            self.constraints.push(Constraint::Linear {
                node: node.name.clone(),
                out,
                inputs,
                constant: (h != 0).then(|| Arc::new(vec![h as i64; len])),
            });
        }
        if let Some(rem) = rem {
            let expr = IntAffine {
                terms: vec![(1, rem)],
                constant: 0,
            };
            self.range_check(&node.name, "rem", expr, len, shift);
        }
        // over·(y − hi) = 0, under·(y − lo) = 0.
        for (c, bound) in [(over, hi), (under, lo)] {
            let Some(c) = c else { continue };
            self.constraints.push(Constraint::Quadratic {
                node: node.name.clone(),
                len,
                products: vec![(
                    Affine::new(vec![(F::ONE, c)]),
                    Affine {
                        terms: vec![(F::ONE, y)],
                        constant: Const::Scalar(-embed(bound)),
                    },
                )],
                linear: Affine::new(vec![]),
            });
        }
        // over ≥ 0 and under ≥ 0 in one check of their sum: the two products above make one
        // of them zero (over ≠ 0 forces y = hi, under ≠ 0 forces y = lo, and lo < hi; with
        // lo = hi, y is pinned by its own bounds below).
        let gaps: Vec<Col> = over.into_iter().chain(under).collect();
        if !gaps.is_empty() {
            let span = (qhi - hi128).max(lo128 - qlo);
            let expr = IntAffine {
                terms: gaps.iter().map(|&c| (1, c)).collect(),
                constant: 0,
            };
            self.range_check(&node.name, "clamped", expr, len, bits_for(span));
        }
        if clamps {
            // y within the clamp bounds, tightened to the quotient's own range (a bound of
            // ±2^62 means "no clamp" on that side).
            self.within(&node.name, y, len, lo128.max(qlo), hi128.min(qhi));
        } else {
            // The identity divides by 2^s in the field: without a bound, another remainder
            // would give a y that is no integer at all (a huge field element), which later
            // ops could turn back into integers. y ∈ [qlo, qhi] pins it to the true quotient.
            let expr = IntAffine {
                terms: vec![(1, y)],
                constant: -(qlo as i64),
            };
            self.range_check(&node.name, "quotient", expr, len, bits_for(qhi - qlo));
        }
        Ok(())
    }

    /// `y = floor((a·2^(s+1) + b) / 2b)`: `2^(s+1)·a + b − 2b·y − rem = 0`, `0 ≤ rem < 2b`.
    fn div_round(&mut self, node: &Node, shift: u32, out_shape: &[usize]) -> Result<(), PlanError> {
        let (a_id, b_id) = (node.inputs[0], node.inputs[1]);
        let y = self.col(node.output);
        let len: usize = out_shape.iter().product();
        let (alo, ahi) = self.range(a_id);
        let (blo, bhi) = self.range(b_id);
        if blo < 1 {
            return Err(Self::unsupported(
                node,
                "divisor range includes values below 1",
            ));
        }
        Self::check_bound(node, alo.abs().max(ahi.abs()) << (shift + 1))?;
        Self::check_bound(node, 2 * bhi)?;
        let (ylo, yhi) = self.range(node.output);
        Self::check_bound(node, 2 * bhi * ylo.abs().max(yhi.abs()))?;
        let a = self.at_shape(node, a_id, out_shape)?;
        let b = self.at_shape(node, b_id, out_shape)?;
        let rem = self.aux(node, "rem", len, Fill::DivRem { a, b, y, shift });
        let two_s1 = pow2(shift + 1);
        self.constraints.push(Constraint::Quadratic {
            node: node.name.clone(),
            len,
            products: vec![(
                Affine::new(vec![(-F::TWO, b)]),
                Affine::new(vec![(F::ONE, y)]),
            )],
            linear: Affine::new(vec![(two_s1, a), (F::ONE, b), (-F::ONE, rem)]),
        });
        let bits = bits_for(2 * bhi - 1);
        self.range_check(
            &node.name,
            "rem",
            IntAffine {
                terms: vec![(1, rem)],
                constant: 0,
            },
            len,
            bits,
        );
        // y is the field quotient of the identity: bounding it makes it the integer quotient.
        let expr = IntAffine {
            terms: vec![(1, y)],
            constant: -(ylo as i64),
        };
        self.range_check(&node.name, "quotient", expr, len, bits_for(yhi - ylo));
        self.range_check(
            &node.name,
            "rem_gap",
            IntAffine {
                terms: vec![(2, b), (-1, rem)],
                constant: -1,
            },
            len,
            bits,
        );
        Ok(())
    }

    /// Places the range region and every committed column in the trace.
    fn finish(mut self) -> Result<Plan, PlanError> {
        if self.zk {
            self.min_vars =
                super::zk::min_vars(self.columns.len(), &self.constraints, &self.lookups);
            for c in &mut self.columns {
                c.min_vars = self.min_vars;
            }
        }
        for c in self.linked_input.into_iter().chain(self.linked_output) {
            // A hashed tensor is the subcube [0, 2^vars) of its commitment's half, which has
            // at least MIN_HALF_VARS variables.
            let col = &self.columns[c];
            let expected = crate::link::commitment_vars(col.len) - 1;
            if col.vars() > expected {
                return Err(PlanError::LinkedInput {
                    column: col.name.clone(),
                    vars: col.vars(),
                    expected,
                });
            }
        }
        let mut ranges = Vec::new();
        let mut widths: Vec<u32> = self
            .limbs
            .iter()
            .filter_map(|&c| self.columns[c].region)
            .collect();
        widths.sort_unstable();
        widths.dedup();
        let mut members: Vec<Vec<Col>> = Vec::new();
        for bits in widths {
            // Limbs of this width, largest first (keeps every sub-column aligned).
            let mut limbs: Vec<Col> = self
                .limbs
                .iter()
                .copied()
                .filter(|&c| self.columns[c].region == Some(bits))
                .collect();
            limbs.sort_by_key(|&c| std::cmp::Reverse(self.columns[c].vars()));
            let sizes: Vec<usize> = limbs.iter().map(|&c| 1 << self.columns[c].vars()).collect();
            // Each extra region also costs a LogUp proof: split only for a real saving.
            let cost = (1usize << bits).max(MIN_SPLIT_SAVING);
            for (k, group) in region_groups(&sizes, cost).into_iter().enumerate() {
                let group: Vec<Col> = group.into_iter().map(|i| limbs[i]).collect();
                let mut offset = 0usize;
                for &c in &group {
                    let vars = self.columns[c].vars();
                    self.columns[c].loc = Some(Loc { offset, vars });
                    offset += 1 << vars;
                }
                let suffix = if k == 0 {
                    String::new()
                } else {
                    format!(".{k}")
                };
                let region = self.column(
                    &format!("range{bits}/region{suffix}"),
                    offset.next_power_of_two(),
                    Source::Committed,
                    Some(Fill::Region { bits }),
                );
                let multiplicities = self.column(
                    &format!("range{bits}/multiplicities{suffix}"),
                    1 << bits,
                    Source::Committed,
                    Some(Fill::RangeMultiplicities { region }),
                );
                ranges.push(RangeRegion {
                    bits,
                    region,
                    multiplicities,
                });
                members.push(group);
            }
        }
        for (c, bits) in std::mem::take(&mut self.own_regions) {
            let name = format!("{}/multiplicities", self.columns[c].name);
            let multiplicities = self.column(
                &name,
                1 << bits,
                Source::Committed,
                Some(Fill::RangeMultiplicities { region: c }),
            );
            ranges.push(RangeRegion {
                bits,
                region: c,
                multiplicities,
            });
            members.push(Vec::new());
        }
        // Top-level committed columns (the region counts as one), largest first; hashed
        // tensors live in their own commitments.
        let linked = [self.linked_input, self.linked_output];
        let mut top: Vec<Col> = (0..self.columns.len())
            .filter(|&c| {
                let col = &self.columns[c];
                matches!(col.source, Source::Committed)
                    && col.region.is_none()
                    && col.fill.is_some()
                    && !linked.contains(&Some(c))
            })
            .collect();
        top.sort_by_key(|&c| std::cmp::Reverse(self.columns[c].vars()));
        let mut offset = 0usize;
        for &c in &top {
            let vars = self.columns[c].vars();
            self.columns[c].loc = Some(Loc { offset, vars });
            offset += 1 << vars;
        }
        // Limb locations become absolute.
        for (r, group) in ranges.iter().zip(&members) {
            let base = self.columns[r.region].loc.map_or(0, |l| l.offset);
            for &c in group {
                if let Some(l) = self.columns[c].loc.as_mut() {
                    l.offset += base;
                }
            }
        }
        let trace_vars = num_vars(offset).max(crate::pcs::MIN_NUM_VARS);
        if trace_vars > crate::pcs::MAX_NUM_VARS {
            return Err(PlanError::TooWide {
                node: "trace".into(),
                op: "commitment",
                bound: offset as i128,
            });
        }
        Ok(Plan {
            columns: self.columns,
            constraints: self.constraints,
            lookups: self.lookups,
            ranges,
            tensor_cols: self.tensor_cols,
            trace_vars,
            zk: self.zk,
            min_vars: self.min_vars,
            public_ranges: self.public_ranges,
            linked_input: self.linked_input,
            linked_output: self.linked_output,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::region_groups;

    #[test]
    fn regions_split_only_when_padding_costs_more_than_a_table() {
        // 4M + 1M pads to 8M: two exact regions instead.
        assert_eq!(
            region_groups(&[4 << 20, 1 << 20], 256),
            vec![vec![0], vec![1]]
        );
        // A power-of-two total stays one region.
        assert_eq!(region_groups(&[2, 1, 1], 256), vec![vec![0, 1, 2]]);
        // Padding 9 to 16 costs less than a 16-entry table.
        assert_eq!(region_groups(&[8, 1], 16), vec![vec![0, 1]]);
        // 8 + 4 + 1 + 1 (14) with a 1-entry table: 8, then 4, then 1 + 1.
        assert_eq!(
            region_groups(&[8, 4, 1, 1], 1),
            vec![vec![0], vec![1], vec![2, 3]]
        );
        // With a 4-entry table, padding 14 to 16 is cheaper.
        assert_eq!(region_groups(&[8, 4, 1, 1], 4), vec![vec![0, 1, 2, 3]]);
        assert_eq!(region_groups(&[], 4), vec![Vec::<usize>::new()]);
    }
}
