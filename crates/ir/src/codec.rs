//! Canonical binary serialization of programs and the SHA-256 digest that names them.
//!
//! Every program has exactly one encoding (weights use the narrowest little-endian width that
//! holds them), so the digest of the bytes is the digest of the program. Decoding validates
//! lengths before allocating, rejects non-canonical bytes, and re-derives every shape and range.

use sha2::{Digest as _, Sha256};

use crate::error::{IrError, Result};
use crate::op::{BinaryKind, Op, ReduceKind, Window};
use crate::program::{Node, Program, TensorId, TensorInfo, TensorKind};
use crate::table::{LookupTable, TableFn};
use crate::tensor::{checked_numel, Range};

/// File magic of an encoded program.
pub const MAGIC: &[u8; 8] = b"VOUCHIR\0";
/// Encoding version; bumped on any change to the byte layout or op semantics.
pub const VERSION: u32 = 1;

/// SHA-256 of a program's canonical encoding.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest(pub [u8; 32]);

impl Digest {
    pub fn hex(&self) -> String {
        hex::encode(self.0)
    }

    pub fn from_hex(s: &str) -> Option<Self> {
        let v = hex::decode(s.trim()).ok()?;
        Some(Digest(v.try_into().ok()?))
    }
}

/// Digests serialize as 64 lowercase hex characters.
impl serde::Serialize for Digest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.hex())
    }
}

impl<'de> serde::Deserialize<'de> for Digest {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = <String as serde::Deserialize>::deserialize(d)?;
        Digest::from_hex(&s).ok_or_else(|| serde::de::Error::custom("expected 64 hex characters"))
    }
}

impl std::fmt::Display for Digest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.hex())
    }
}

impl std::fmt::Debug for Digest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Digest({})", self.hex())
    }
}

impl Program {
    /// The canonical encoding.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::default();
        w.buf.extend_from_slice(MAGIC);
        w.u32(VERSION);
        w.u32(self.tensors.len() as u32);
        for (t, data) in self.tensors.iter().zip(&self.weights) {
            w.str(&t.name);
            w.u8(match t.kind {
                TensorKind::Input => 0,
                TensorKind::Weight => 1,
                TensorKind::Activation => 2,
            });
            w.usizes(&t.shape);
            w.i64(t.range.lo);
            w.i64(t.range.hi);
            match t.scale {
                Some(s) => {
                    w.u8(1);
                    w.f64(s);
                }
                None => w.u8(0),
            }
            if let Some(d) = data {
                w.ints(d);
            }
        }
        w.ids(&self.inputs);
        w.ids(&self.outputs);
        w.u32(self.nodes.len() as u32);
        for n in &self.nodes {
            w.str(&n.name);
            w.op(&n.op);
            w.ids(&n.inputs);
            w.u32(n.output.0);
        }
        w.buf
    }

    /// SHA-256 of [`Program::encode`].
    pub fn digest(&self) -> Digest {
        Digest(Sha256::digest(self.encode()).into())
    }

    /// Decodes and validates a program; rejects any byte string that is not the canonical
    /// encoding of a valid program.
    pub fn decode(bytes: &[u8]) -> Result<Program> {
        let mut r = Reader { buf: bytes, pos: 0 };
        let magic = r.take(8)?;
        if magic != MAGIC {
            return Err(r.err("not a Vouch IR program (bad magic)"));
        }
        let version = r.u32()?;
        if version != VERSION {
            return Err(r.err(&format!(
                "IR encoding version {version}, this build reads version {VERSION}"
            )));
        }
        let n = r.count(12)?;
        let mut tensors = Vec::with_capacity(n);
        let mut weights = Vec::with_capacity(n);
        for _ in 0..n {
            let name = r.str()?;
            let kind = match r.u8()? {
                0 => TensorKind::Input,
                1 => TensorKind::Weight,
                2 => TensorKind::Activation,
                k => return Err(r.err(&format!("unknown tensor kind {k}"))),
            };
            let shape = r.usizes()?;
            let lo = r.i64()?;
            let hi = r.i64()?;
            let scale = match r.u8()? {
                0 => None,
                1 => {
                    let s = r.f64()?;
                    if !s.is_finite() {
                        return Err(r.err("non-finite scale"));
                    }
                    Some(s)
                }
                f => return Err(r.err(&format!("bad scale flag {f}"))),
            };
            let data = if kind == TensorKind::Weight {
                let numel = checked_numel(&shape, &name)?;
                Some(r.ints(numel)?)
            } else {
                None
            };
            tensors.push(TensorInfo {
                name,
                kind,
                shape,
                range: Range { lo, hi },
                scale,
            });
            weights.push(data);
        }
        let inputs = r.ids()?;
        let outputs = r.ids()?;
        let n = r.count(10)?;
        let mut nodes = Vec::with_capacity(n);
        for _ in 0..n {
            let name = r.str()?;
            let op = r.op()?;
            let inputs = r.ids()?;
            let output = TensorId(r.u32()?);
            nodes.push(Node {
                name,
                op,
                inputs,
                output,
            });
        }
        if r.pos != bytes.len() {
            return Err(r.err("trailing bytes after the program"));
        }
        let p = Program {
            tensors,
            weights,
            nodes,
            inputs,
            outputs,
        };
        p.validate()?;
        if p.encode() != bytes {
            return Err(IrError::Decode {
                offset: 0,
                msg: "non-canonical encoding (the digest would not name this program)".into(),
            });
        }
        Ok(p)
    }
}

#[derive(Default)]
struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }
    fn u32(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    fn i64(&mut self, v: i64) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    fn f64(&mut self, v: f64) {
        self.u64(v.to_bits());
    }
    fn str(&mut self, s: &str) {
        self.u32(s.len() as u32);
        self.buf.extend_from_slice(s.as_bytes());
    }
    fn usizes(&mut self, v: &[usize]) {
        self.u32(v.len() as u32);
        v.iter().for_each(|&x| self.u64(x as u64));
    }
    fn i64s(&mut self, v: &[i64]) {
        self.u32(v.len() as u32);
        v.iter().for_each(|&x| self.i64(x));
    }
    fn ids(&mut self, v: &[TensorId]) {
        self.u32(v.len() as u32);
        v.iter().for_each(|x| self.u32(x.0));
    }
    /// Integers at the narrowest width (1, 2, 4 or 8 bytes) that holds all of them; the
    /// element count is implied by the context.
    fn ints(&mut self, v: &[i64]) {
        let width = int_width(v);
        self.u8(width);
        for &x in v {
            self.buf
                .extend_from_slice(&x.to_le_bytes()[..width as usize]);
        }
    }
    fn window(&mut self, w: &Window) {
        self.usizes(&w.kernel);
        self.usizes(&w.strides);
        self.usizes(&w.pads);
        self.usizes(&w.dilations);
    }
    fn op(&mut self, op: &Op) {
        match op {
            Op::MatMul => self.u8(0),
            Op::Conv { window, groups } => {
                self.u8(1);
                self.window(window);
                self.u64(*groups as u64);
            }
            Op::Binary(k) => {
                self.u8(2);
                self.u8(match k {
                    BinaryKind::Add => 0,
                    BinaryKind::Sub => 1,
                    BinaryKind::Mul => 2,
                    BinaryKind::Max => 3,
                    BinaryKind::Min => 4,
                });
            }
            Op::Requant {
                mults,
                axis,
                shift,
                lo,
                hi,
            } => {
                self.u8(3);
                self.i64s(mults);
                match axis {
                    Some(a) => {
                        self.u8(1);
                        self.u64(*a as u64);
                    }
                    None => self.u8(0),
                }
                self.u32(*shift);
                self.i64(*lo);
                self.i64(*hi);
            }
            Op::Clamp { lo, hi } => {
                self.u8(4);
                self.i64(*lo);
                self.i64(*hi);
            }
            Op::Lookup(t) => {
                self.u8(5);
                self.table_fn(&t.func);
                self.f64(t.in_scale);
                self.f64(t.out_scale);
                self.i64(t.domain.lo);
                self.i64(t.domain.hi);
                self.ints(&t.values);
            }
            Op::DivRound { shift } => {
                self.u8(6);
                self.u32(*shift);
            }
            Op::Sqrt => self.u8(7),
            Op::Where { cond_shape, cond } => {
                self.u8(8);
                self.usizes(cond_shape);
                cond.iter().for_each(|&c| self.u8(c as u8));
            }
            Op::Reduce {
                kind,
                axes,
                keep_dims,
            } => {
                self.u8(9);
                self.u8(match kind {
                    ReduceKind::Sum => 0,
                    ReduceKind::Max => 1,
                    ReduceKind::Min => 2,
                });
                self.usizes(axes);
                self.u8(*keep_dims as u8);
            }
            Op::SumPool { window } => {
                self.u8(10);
                self.window(window);
            }
            Op::MaxPool { window } => {
                self.u8(11);
                self.window(window);
            }
            Op::Reshape { shape } => {
                self.u8(12);
                self.usizes(shape);
            }
            Op::Transpose { perm } => {
                self.u8(13);
                self.usizes(perm);
            }
            Op::Slice {
                starts,
                lens,
                steps,
            } => {
                self.u8(14);
                self.usizes(starts);
                self.usizes(lens);
                self.i64s(steps);
            }
            Op::Concat { axis } => {
                self.u8(15);
                self.u64(*axis as u64);
            }
            Op::Pad {
                begin,
                end,
                interior,
                value,
            } => {
                self.u8(16);
                self.usizes(begin);
                self.usizes(end);
                self.usizes(interior);
                self.i64(*value);
            }
            Op::Gather {
                axis,
                indices_shape,
                indices,
            } => {
                self.u8(17);
                self.u64(*axis as u64);
                self.usizes(indices_shape);
                self.usizes(indices);
            }
            Op::GatherDynamic { axis } => {
                self.u8(18);
                self.u64(*axis as u64);
            }
        }
    }
    fn table_fn(&mut self, f: &TableFn) {
        let tag = match f {
            TableFn::Sigmoid => 0,
            TableFn::Tanh => 1,
            TableFn::Exp => 2,
            TableFn::Log => 3,
            TableFn::Sqrt => 4,
            TableFn::Reciprocal => 5,
            TableFn::Rsqrt => 6,
            TableFn::Erf => 7,
            TableFn::Gelu => 8,
            TableFn::GeluTanh => 9,
            TableFn::LeakyRelu { .. } => 10,
            TableFn::Silu => 11,
            TableFn::Softplus => 12,
            TableFn::Identity => 13,
            TableFn::HardSigmoid { .. } => 14,
            TableFn::HardSwish => 15,
            TableFn::Abs => 16,
        };
        self.u8(tag);
        match f {
            TableFn::LeakyRelu { alpha } => self.f64(*alpha),
            TableFn::HardSigmoid { alpha, beta } => {
                self.f64(*alpha);
                self.f64(*beta);
            }
            _ => {}
        }
    }
}

fn int_width(v: &[i64]) -> u8 {
    let (lo, hi) = v
        .iter()
        .fold((0i64, 0i64), |(l, h), &x| (l.min(x), h.max(x)));
    if lo >= i8::MIN as i64 && hi <= i8::MAX as i64 {
        1
    } else if lo >= i16::MIN as i64 && hi <= i16::MAX as i64 {
        2
    } else if lo >= i32::MIN as i64 && hi <= i32::MAX as i64 {
        4
    } else {
        8
    }
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn err(&self, msg: &str) -> IrError {
        IrError::Decode {
            offset: self.pos,
            msg: msg.to_string(),
        }
    }
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.buf.len())
            .ok_or_else(|| self.err(&format!("truncated: need {n} more bytes")))?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn arr<const N: usize>(&mut self) -> Result<[u8; N]> {
        let s = self.take(N)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }
    fn u8(&mut self) -> Result<u8> {
        Ok(self.arr::<1>()?[0])
    }
    fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.arr()?))
    }
    fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(self.arr()?))
    }
    fn i64(&mut self) -> Result<i64> {
        Ok(i64::from_le_bytes(self.arr()?))
    }
    fn f64(&mut self) -> Result<f64> {
        Ok(f64::from_bits(self.u64()?))
    }
    fn usize(&mut self) -> Result<usize> {
        let v = self.u64()?;
        usize::try_from(v).map_err(|_| self.err("value does not fit usize"))
    }
    /// A length prefix, refused if the remaining bytes cannot hold that many items of at
    /// least `min_item` bytes (so hostile lengths never cause huge allocations).
    fn count(&mut self, min_item: usize) -> Result<usize> {
        let n = self.u32()? as usize;
        let left = self.buf.len() - self.pos;
        if n.saturating_mul(min_item.max(1)) > left {
            return Err(self.err(&format!("count {n} exceeds the remaining {left} bytes")));
        }
        Ok(n)
    }
    fn str(&mut self) -> Result<String> {
        let n = self.count(1)?;
        let s = self.take(n)?;
        String::from_utf8(s.to_vec()).map_err(|_| self.err("name is not UTF-8"))
    }
    fn usizes(&mut self) -> Result<Vec<usize>> {
        let n = self.count(8)?;
        (0..n).map(|_| self.usize()).collect()
    }
    fn i64s(&mut self) -> Result<Vec<i64>> {
        let n = self.count(8)?;
        (0..n).map(|_| self.i64()).collect()
    }
    fn ids(&mut self) -> Result<Vec<TensorId>> {
        let n = self.count(4)?;
        (0..n).map(|_| Ok(TensorId(self.u32()?))).collect()
    }
    fn ints(&mut self, n: usize) -> Result<Vec<i64>> {
        let width = self.u8()? as usize;
        if ![1, 2, 4, 8].contains(&width) {
            return Err(self.err(&format!("bad integer width {width}")));
        }
        let bytes = self.take(
            n.checked_mul(width)
                .ok_or_else(|| self.err("size overflow"))?,
        )?;
        Ok(bytes
            .chunks_exact(width)
            .map(|c| {
                let mut b = [0u8; 8];
                b[..width].copy_from_slice(c);
                // Sign-extend from `width` bytes.
                let shift = 64 - 8 * width as u32;
                (i64::from_le_bytes(b) << shift) >> shift
            })
            .collect())
    }
    fn window(&mut self) -> Result<Window> {
        let k = self.usizes()?;
        let s = self.usizes()?;
        let p = self.usizes()?;
        let d = self.usizes()?;
        Ok(Window {
            kernel: k
                .try_into()
                .map_err(|_| self.err("kernel needs 2 values"))?,
            strides: s
                .try_into()
                .map_err(|_| self.err("strides need 2 values"))?,
            pads: p.try_into().map_err(|_| self.err("pads need 4 values"))?,
            dilations: d
                .try_into()
                .map_err(|_| self.err("dilations need 2 values"))?,
        })
    }
    fn op(&mut self) -> Result<Op> {
        let tag = self.u8()?;
        Ok(match tag {
            0 => Op::MatMul,
            1 => Op::Conv {
                window: self.window()?,
                groups: self.usize()?,
            },
            2 => Op::Binary(match self.u8()? {
                0 => BinaryKind::Add,
                1 => BinaryKind::Sub,
                2 => BinaryKind::Mul,
                3 => BinaryKind::Max,
                4 => BinaryKind::Min,
                k => return Err(self.err(&format!("unknown binary kind {k}"))),
            }),
            3 => {
                let mults = self.i64s()?;
                let axis = match self.u8()? {
                    0 => None,
                    1 => Some(self.usize()?),
                    f => return Err(self.err(&format!("bad axis flag {f}"))),
                };
                Op::Requant {
                    mults,
                    axis,
                    shift: self.u32()?,
                    lo: self.i64()?,
                    hi: self.i64()?,
                }
            }
            4 => Op::Clamp {
                lo: self.i64()?,
                hi: self.i64()?,
            },
            5 => {
                let func = self.table_fn()?;
                let in_scale = self.f64()?;
                let out_scale = self.f64()?;
                let domain = Range {
                    lo: self.i64()?,
                    hi: self.i64()?,
                };
                if domain.lo > domain.hi || domain.width() > crate::table::MAX_TABLE_ENTRIES {
                    return Err(self.err("table domain empty or larger than 2^20"));
                }
                let values = self.ints(domain.width() as usize)?;
                Op::Lookup(LookupTable {
                    func,
                    in_scale,
                    out_scale,
                    domain,
                    values,
                })
            }
            6 => Op::DivRound { shift: self.u32()? },
            7 => Op::Sqrt,
            8 => {
                let cond_shape = self.usizes()?;
                let n = checked_numel(&cond_shape, "where mask")?;
                let bytes = self.take(n)?;
                let cond = bytes
                    .iter()
                    .map(|&b| match b {
                        0 => Ok(false),
                        1 => Ok(true),
                        _ => Err(self.err("mask byte is not 0 or 1")),
                    })
                    .collect::<Result<Vec<bool>>>()?;
                Op::Where { cond_shape, cond }
            }
            9 => Op::Reduce {
                kind: match self.u8()? {
                    0 => ReduceKind::Sum,
                    1 => ReduceKind::Max,
                    2 => ReduceKind::Min,
                    k => return Err(self.err(&format!("unknown reduce kind {k}"))),
                },
                axes: self.usizes()?,
                keep_dims: self.bool()?,
            },
            10 => Op::SumPool {
                window: self.window()?,
            },
            11 => Op::MaxPool {
                window: self.window()?,
            },
            12 => Op::Reshape {
                shape: self.usizes()?,
            },
            13 => Op::Transpose {
                perm: self.usizes()?,
            },
            14 => Op::Slice {
                starts: self.usizes()?,
                lens: self.usizes()?,
                steps: self.i64s()?,
            },
            15 => Op::Concat {
                axis: self.usize()?,
            },
            16 => Op::Pad {
                begin: self.usizes()?,
                end: self.usizes()?,
                interior: self.usizes()?,
                value: self.i64()?,
            },
            17 => Op::Gather {
                axis: self.usize()?,
                indices_shape: self.usizes()?,
                indices: self.usizes()?,
            },
            18 => Op::GatherDynamic {
                axis: self.usize()?,
            },
            t => return Err(self.err(&format!("unknown op tag {t}"))),
        })
    }
    fn bool(&mut self) -> Result<bool> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            b => Err(self.err(&format!("bad boolean {b}"))),
        }
    }
    fn table_fn(&mut self) -> Result<TableFn> {
        Ok(match self.u8()? {
            0 => TableFn::Sigmoid,
            1 => TableFn::Tanh,
            2 => TableFn::Exp,
            3 => TableFn::Log,
            4 => TableFn::Sqrt,
            5 => TableFn::Reciprocal,
            6 => TableFn::Rsqrt,
            7 => TableFn::Erf,
            8 => TableFn::Gelu,
            9 => TableFn::GeluTanh,
            10 => TableFn::LeakyRelu { alpha: self.f64()? },
            11 => TableFn::Silu,
            12 => TableFn::Softplus,
            13 => TableFn::Identity,
            14 => TableFn::HardSigmoid {
                alpha: self.f64()?,
                beta: self.f64()?,
            },
            15 => TableFn::HardSwish,
            16 => TableFn::Abs,
            t => return Err(self.err(&format!("unknown table function {t}"))),
        })
    }
}
