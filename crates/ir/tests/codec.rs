//! Canonical encoding and digest: round trips, a golden digest, sensitivity of the digest to
//! every weight, scale and op attribute, and hostile bytes (garbage, truncations, single-byte
//! mutations, non-canonical widths, huge counts and dimensions) that must never panic.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use sha2::{Digest as _, Sha256};
use vouch_ir::codec::{MAGIC, VERSION};
use vouch_ir::{
    BinaryKind, IrError, LookupTable, Op, Program, ProgramBuilder, Range, ReduceKind, TableFn,
    TensorKind,
};

// ---------------------------------------------------------------------------------------------
// An independent encoder written from the byte layout in docs/ir.md. With `min_width` it
// writes integer arrays wider than necessary (non-canonical bytes).

struct Enc {
    buf: Vec<u8>,
    min_width: u8,
}

impl Enc {
    fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }
    fn u32(&mut self, v: u32) {
        self.buf.extend(v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.buf.extend(v.to_le_bytes());
    }
    fn i64(&mut self, v: i64) {
        self.buf.extend(v.to_le_bytes());
    }
    fn f64(&mut self, v: f64) {
        self.buf.extend(v.to_bits().to_le_bytes());
    }
    fn str(&mut self, s: &str) {
        self.u32(s.len() as u32);
        self.buf.extend(s.as_bytes());
    }
    fn dims(&mut self, v: &[usize]) {
        self.u32(v.len() as u32);
        v.iter().for_each(|&d| self.u64(d as u64));
    }
    fn i64s(&mut self, v: &[i64]) {
        self.u32(v.len() as u32);
        v.iter().for_each(|&d| self.i64(d));
    }
    fn ids(&mut self, v: &[vouch_ir::TensorId]) {
        self.u32(v.len() as u32);
        v.iter().for_each(|d| self.u32(d.0));
    }
    fn ints(&mut self, v: &[i64]) {
        let fits = |w: u32| {
            let half = 1i128 << (8 * w - 1);
            v.iter()
                .all(|&x| (x as i128) >= -half && (x as i128) < half)
        };
        let natural = [1u8, 2, 4, 8]
            .into_iter()
            .find(|&w| fits(w as u32))
            .unwrap();
        let w = natural.max(self.min_width);
        self.u8(w);
        for &x in v {
            self.buf.extend(&x.to_le_bytes()[..w as usize]);
        }
    }
    fn window(&mut self, w: &vouch_ir::Window) {
        self.dims(&w.kernel);
        self.dims(&w.strides);
        self.dims(&w.pads);
        self.dims(&w.dilations);
    }
    fn table_fn(&mut self, f: &TableFn) {
        let (tag, params): (u8, Vec<f64>) = match *f {
            TableFn::Sigmoid => (0, vec![]),
            TableFn::Tanh => (1, vec![]),
            TableFn::Exp => (2, vec![]),
            TableFn::Log => (3, vec![]),
            TableFn::Sqrt => (4, vec![]),
            TableFn::Reciprocal => (5, vec![]),
            TableFn::Rsqrt => (6, vec![]),
            TableFn::Erf => (7, vec![]),
            TableFn::Gelu => (8, vec![]),
            TableFn::GeluTanh => (9, vec![]),
            TableFn::LeakyRelu { alpha } => (10, vec![alpha]),
            TableFn::Silu => (11, vec![]),
            TableFn::Softplus => (12, vec![]),
            TableFn::Identity => (13, vec![]),
            TableFn::HardSigmoid { alpha, beta } => (14, vec![alpha, beta]),
            TableFn::HardSwish => (15, vec![]),
            TableFn::Abs => (16, vec![]),
        };
        self.u8(tag);
        params.into_iter().for_each(|p| self.f64(p));
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
                    None => self.u8(0),
                    Some(a) => {
                        self.u8(1);
                        self.u64(*a as u64);
                    }
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
                self.dims(cond_shape);
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
                self.dims(axes);
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
                self.dims(shape);
            }
            Op::Transpose { perm } => {
                self.u8(13);
                self.dims(perm);
            }
            Op::Slice {
                starts,
                lens,
                steps,
            } => {
                self.u8(14);
                self.dims(starts);
                self.dims(lens);
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
                self.dims(begin);
                self.dims(end);
                self.dims(interior);
                self.i64(*value);
            }
            Op::Gather {
                axis,
                indices_shape,
                indices,
            } => {
                self.u8(17);
                self.u64(*axis as u64);
                self.dims(indices_shape);
                self.dims(indices);
            }
            Op::GatherDynamic { axis } => {
                self.u8(18);
                self.u64(*axis as u64);
            }
        }
    }
}

fn spec_encode(p: &Program, min_width: u8) -> Vec<u8> {
    let mut e = Enc {
        buf: Vec::new(),
        min_width,
    };
    e.buf.extend(b"VOUCHIR\0");
    e.u32(1);
    e.u32(p.tensors.len() as u32);
    for (t, w) in p.tensors.iter().zip(&p.weights) {
        e.str(&t.name);
        e.u8(match t.kind {
            TensorKind::Input => 0,
            TensorKind::Weight => 1,
            TensorKind::Activation => 2,
        });
        e.dims(&t.shape);
        e.i64(t.range.lo);
        e.i64(t.range.hi);
        match t.scale {
            None => e.u8(0),
            Some(s) => {
                e.u8(1);
                e.f64(s);
            }
        }
        if let Some(w) = w {
            e.ints(w);
        }
    }
    e.ids(&p.inputs);
    e.ids(&p.outputs);
    e.u32(p.nodes.len() as u32);
    for n in &p.nodes {
        e.str(&n.name);
        e.op(&n.op);
        e.ids(&n.inputs);
        e.u32(n.output.0);
    }
    e.buf
}

/// The program whose digest is pinned below. Explicit table entries (no float generation), so
/// the digest depends on nothing but the encoding.
fn golden_program() -> Program {
    let mut b = ProgramBuilder::new();
    let x = b
        .input("x", vec![1, 4], Range::new(-8, 7), Some(0.25))
        .unwrap();
    let w = b
        .weight(
            "w",
            vec![4, 2],
            vec![1, -2, 300, 0, -4, 5, 6, -70_000],
            Some(0.001),
        )
        .unwrap();
    let mm = b.node("fc", Op::MatMul, &[x, w], None).unwrap();
    let rq = b
        .node(
            "rq",
            Op::Requant {
                mults: vec![181],
                axis: None,
                shift: 16,
                lo: -4,
                hi: 4,
            },
            &[mm],
            Some(0.5),
        )
        .unwrap();
    let t = LookupTable {
        func: TableFn::Sigmoid,
        in_scale: 0.5,
        out_scale: 1.0 / 256.0,
        domain: Range::new(-4, 4),
        values: vec![5, 12, 31, 70, 128, 186, 225, 244, 251],
    };
    let y = b
        .node("sigmoid", Op::Lookup(t), &[rq], Some(1.0 / 256.0))
        .unwrap();
    b.output(y);
    b.finish().unwrap()
}

/// Regenerate after an intentional change to the encoding (and bump `codec::VERSION`):
/// `cargo test -p vouch-ir --test codec golden_digest -- --nocapture` prints the new value.
const GOLDEN_DIGEST: &str = "98de69cda74156d82ac6a0ab024da44e9ddfdf6e493c1a3bb572ec7ed374ed1d";

#[test]
fn golden_digest() {
    let d = golden_program().digest();
    println!("golden digest: {d}");
    assert_eq!(d.hex(), GOLDEN_DIGEST, "the canonical encoding changed");
    assert_eq!(vouch_ir::Digest::from_hex(GOLDEN_DIGEST), Some(d));
}

#[test]
fn encoding_follows_the_documented_layout() {
    for p in [every_op_program(), golden_program()] {
        assert_eq!(p.encode(), spec_encode(&p, 1));
        assert_eq!(&p.encode()[..8], MAGIC);
        assert_eq!(VERSION, 1);
    }
}

#[test]
fn round_trip() {
    for p in [every_op_program(), golden_program()] {
        let bytes = p.encode();
        let q = Program::decode(&bytes).unwrap();
        assert_eq!(q, p);
        assert_eq!(q.encode(), bytes);
        assert_eq!(q.digest(), p.digest());
        // Decoded programs run like the original.
        if p.inputs.len() == 2 {
            let mut rng = Rng::new(5);
            let inputs = every_op_inputs(&mut rng);
            assert_eq!(
                run_checked(&p, &inputs).outputs(),
                run_checked(&q, &inputs).outputs()
            );
        }
    }
}

#[test]
fn digest_is_sha256_of_the_encoding_and_stable() {
    let (p, q) = (every_op_program(), every_op_program());
    assert_eq!(p.digest(), q.digest());
    let want: [u8; 32] = Sha256::digest(p.encode()).into();
    assert_eq!(p.digest().0, want);
    assert_eq!(p.digest().hex().len(), 64);
    assert_eq!(
        vouch_ir::Digest::from_hex(&p.digest().hex()),
        Some(p.digest())
    );
}

#[test]
fn digest_changes_with_every_weight_value() {
    let p = every_op_program();
    let d = p.digest();
    let mut n = 0;
    for (i, w) in p.weights.iter().enumerate() {
        let Some(w) = w else { continue };
        for j in 0..w.len() {
            for delta in [1, -1, 1 << 40] {
                let mut q = p.clone();
                let v = &mut q.weights[i].as_mut().unwrap()[j];
                *v = v.wrapping_add(delta);
                assert_ne!(
                    q.digest(),
                    d,
                    "weight {} [{j}] += {delta}",
                    p.tensors[i].name
                );
                n += 1;
            }
        }
    }
    assert!(n > 100);
}

#[test]
fn digest_changes_with_every_scale() {
    let p = every_op_program();
    let d = p.digest();
    for i in 0..p.tensors.len() {
        let mut q = p.clone();
        q.tensors[i].scale = match p.tensors[i].scale {
            None => Some(1.0),
            Some(s) => Some(s * (1.0 + f64::EPSILON)),
        };
        assert_ne!(q.digest(), d, "scale of {}", p.tensors[i].name);
        let mut q = p.clone();
        q.tensors[i].scale = match p.tensors[i].scale {
            None => Some(0.0),
            Some(_) => None,
        };
        assert_ne!(q.digest(), d, "scale presence of {}", p.tensors[i].name);
    }
}

/// Single-attribute variations of an op (every attribute of every kind).
fn variations(op: &Op) -> Vec<Op> {
    let mut out = Vec::new();
    let mut push = |f: &dyn Fn(&mut Op)| {
        let mut o = op.clone();
        f(&mut o);
        out.push(o);
    };
    match op {
        Op::MatMul => {}
        Op::Conv { .. } => {
            for i in 0..2 {
                push(&|o| {
                    if let Op::Conv { window, .. } = o {
                        window.kernel[i] += 1;
                    }
                });
                push(&|o| {
                    if let Op::Conv { window, .. } = o {
                        window.strides[i] += 1;
                    }
                });
                push(&|o| {
                    if let Op::Conv { window, .. } = o {
                        window.dilations[i] += 1;
                    }
                });
            }
            for i in 0..4 {
                push(&|o| {
                    if let Op::Conv { window, .. } = o {
                        window.pads[i] += 1;
                    }
                });
            }
            push(&|o| {
                if let Op::Conv { groups, .. } = o {
                    *groups += 1;
                }
            });
        }
        Op::Binary(k) => {
            for other in [
                BinaryKind::Add,
                BinaryKind::Sub,
                BinaryKind::Mul,
                BinaryKind::Max,
                BinaryKind::Min,
            ] {
                if other != *k {
                    push(&|o| *o = Op::Binary(other));
                }
            }
        }
        Op::Requant { .. } => {
            push(&|o| {
                if let Op::Requant { mults, .. } = o {
                    mults[0] += 1;
                }
            });
            push(&|o| {
                if let Op::Requant { axis, .. } = o {
                    *axis = match axis {
                        None => Some(0),
                        Some(_) => None,
                    };
                }
            });
            push(&|o| {
                if let Op::Requant { shift, .. } = o {
                    *shift += 1;
                }
            });
            push(&|o| {
                if let Op::Requant { lo, .. } = o {
                    *lo -= 1;
                }
            });
            push(&|o| {
                if let Op::Requant { hi, .. } = o {
                    *hi += 1;
                }
            });
        }
        Op::Clamp { .. } => {
            push(&|o| {
                if let Op::Clamp { lo, .. } = o {
                    *lo -= 1;
                }
            });
            push(&|o| {
                if let Op::Clamp { hi, .. } = o {
                    *hi += 1;
                }
            });
        }
        Op::Lookup(_) => {
            push(&|o| {
                if let Op::Lookup(t) = o {
                    t.values[3] += 1;
                }
            });
            push(&|o| {
                if let Op::Lookup(t) = o {
                    t.in_scale *= 2.0;
                }
            });
            push(&|o| {
                if let Op::Lookup(t) = o {
                    t.out_scale *= 2.0;
                }
            });
            push(&|o| {
                if let Op::Lookup(t) = o {
                    t.func = TableFn::Sigmoid;
                }
            });
            push(&|o| {
                if let Op::Lookup(t) = o {
                    t.domain.lo -= 1;
                    t.values.insert(0, 0);
                }
            });
        }
        Op::DivRound { .. } => push(&|o| {
            if let Op::DivRound { shift } = o {
                *shift += 1;
            }
        }),
        Op::Sqrt => {}
        Op::Where { .. } => push(&|o| {
            if let Op::Where { cond, .. } = o {
                cond[0] = !cond[0];
            }
        }),
        Op::Reduce { .. } => {
            push(&|o| {
                if let Op::Reduce { keep_dims, .. } = o {
                    *keep_dims = !*keep_dims;
                }
            });
            push(&|o| {
                if let Op::Reduce { axes, .. } = o {
                    axes[0] += 1;
                }
            });
            push(&|o| {
                if let Op::Reduce { kind, .. } = o {
                    *kind = if *kind == ReduceKind::Sum {
                        ReduceKind::Max
                    } else {
                        ReduceKind::Sum
                    };
                }
            });
        }
        Op::SumPool { .. } | Op::MaxPool { .. } => {
            for i in 0..4 {
                push(&|o| {
                    if let Op::SumPool { window } | Op::MaxPool { window } = o {
                        window.pads[i] += 1;
                    }
                });
            }
            push(&|o| {
                if let Op::SumPool { window } | Op::MaxPool { window } = o {
                    window.strides[1] += 1;
                }
            });
        }
        Op::Reshape { .. } => push(&|o| {
            if let Op::Reshape { shape } = o {
                shape.push(1);
            }
        }),
        Op::Transpose { .. } => push(&|o| {
            if let Op::Transpose { perm } = o {
                perm.reverse();
            }
        }),
        Op::Slice { .. } => {
            push(&|o| {
                if let Op::Slice { starts, .. } = o {
                    starts[0] += 1;
                }
            });
            push(&|o| {
                if let Op::Slice { lens, .. } = o {
                    lens[1] += 1;
                }
            });
            push(&|o| {
                if let Op::Slice { steps, .. } = o {
                    steps[0] = -steps[0];
                }
            });
        }
        Op::Concat { .. } => push(&|o| {
            if let Op::Concat { axis } = o {
                *axis += 1;
            }
        }),
        Op::Pad { .. } => {
            push(&|o| {
                if let Op::Pad { begin, .. } = o {
                    begin[0] += 1;
                }
            });
            push(&|o| {
                if let Op::Pad { end, .. } = o {
                    end[1] += 1;
                }
            });
            push(&|o| {
                if let Op::Pad { interior, .. } = o {
                    interior[0] += 1;
                }
            });
            push(&|o| {
                if let Op::Pad { value, .. } = o {
                    *value += 1;
                }
            });
        }
        Op::Gather { .. } => {
            push(&|o| {
                if let Op::Gather { indices, .. } = o {
                    indices[0] ^= 1;
                }
            });
            push(&|o| {
                if let Op::Gather { axis, .. } = o {
                    *axis ^= 1;
                }
            });
        }
        Op::GatherDynamic { .. } => push(&|o| {
            if let Op::GatherDynamic { axis } = o {
                *axis += 1;
            }
        }),
    }
    out
}

#[test]
fn digest_changes_with_every_op_attribute() {
    let p = every_op_program();
    let d = p.digest();
    let mut checked = 0;
    for (i, n) in p.nodes.iter().enumerate() {
        for v in variations(&n.op) {
            assert_ne!(v, n.op);
            let mut q = p.clone();
            q.nodes[i].op = v.clone();
            assert_ne!(q.digest(), d, "node {} changed to {v:?}", n.name);
            checked += 1;
        }
        // Wiring is covered too: names, operand order and output ids.
        let mut q = p.clone();
        q.nodes[i].name.push('_');
        assert_ne!(q.digest(), d);
        if n.inputs.len() >= 2 {
            let mut q = p.clone();
            q.nodes[i].inputs.swap(0, 1);
            if q.nodes[i].inputs != n.inputs {
                assert_ne!(q.digest(), d);
            }
        }
    }
    assert!(checked > 40);
}

/// Decodes hostile bytes: must not panic; an accepted program must be the canonical encoding
/// of a valid program.
fn decode_hostile(bytes: &[u8]) -> Result<Program, IrError> {
    let r = std::panic::catch_unwind(|| Program::decode(bytes))
        .unwrap_or_else(|_| panic!("decode panicked on {} bytes: {:02x?}", bytes.len(), bytes));
    if let Ok(p) = &r {
        assert_eq!(p.encode(), bytes, "accepted a non-canonical encoding");
        p.validate().unwrap();
    }
    r
}

#[test]
fn garbage_never_panics() {
    let mut rng = Rng::new(0xBAD);
    let mut header = MAGIC.to_vec();
    header.extend(VERSION.to_le_bytes());
    for i in 0..20_000 {
        let len = rng.usize(0, 300);
        let mut bytes: Vec<u8> = if i % 2 == 0 {
            Vec::new()
        } else {
            header.clone()
        };
        // Small numbers are the interesting ones for counts and tags.
        bytes.extend((0..len).map(|_| {
            if rng.chance(0.5) {
                rng.usize(0, 3) as u8
            } else {
                rng.next_u64() as u8
            }
        }));
        assert!(decode_hostile(&bytes).is_err());
    }
}

#[test]
fn every_truncation_is_rejected() {
    let bytes = every_op_program().encode();
    for n in 0..bytes.len() {
        let err = decode_hostile(&bytes[..n]).unwrap_err();
        assert!(matches!(err, IrError::Decode { .. }), "prefix {n}: {err}");
    }
    // And one byte too many.
    let mut long = bytes.clone();
    long.push(0);
    assert!(decode_hostile(&long).is_err());
}

#[test]
fn single_byte_mutations_never_panic() {
    for p in [every_op_program(), golden_program()] {
        let bytes = p.encode();
        let mut accepted = 0;
        for pos in 0..bytes.len() {
            let flips: [fn(u8) -> u8; 5] = [
                |b| b ^ 0x01,
                |b| b ^ 0x80,
                |_| 0x00,
                |_| 0xff,
                |b| b.wrapping_add(2),
            ];
            for f in flips {
                let mut m = bytes.clone();
                m[pos] = f(m[pos]);
                if m == bytes {
                    continue;
                }
                if let Ok(q) = decode_hostile(&m) {
                    // Rare: a name, a scale or a slack range bound. Never the same program.
                    assert_ne!(q, p);
                    accepted += 1;
                }
            }
        }
        // Most mutations must be caught; names and scales account for the rest.
        assert!(
            accepted * 4 < bytes.len() * 5,
            "{accepted} of {} accepted",
            bytes.len() * 5
        );
    }
}

#[test]
fn non_canonical_widths_are_rejected() {
    for p in [every_op_program(), golden_program()] {
        for w in [2u8, 4, 8] {
            let bytes = spec_encode(&p, w);
            if bytes == p.encode() {
                // Every array already needs this width.
                continue;
            }
            let err = decode_hostile(&bytes).unwrap_err();
            assert!(
                matches!(&err, IrError::Decode { msg, .. } if msg.contains("non-canonical")),
                "{err}"
            );
        }
    }
    // The minimal case from the spec: one weight [1, -2, 3] stored at width 8, not 1.
    let mut b = ProgramBuilder::new();
    let w = b.weight("w", vec![3], vec![1, -2, 3], None).unwrap();
    b.output(w);
    let p = b.finish().unwrap();
    let canonical = p.encode();
    let wide = spec_encode(&p, 8);
    assert_eq!(wide.len(), canonical.len() + 3 * 7);
    assert!(Program::decode(&canonical).is_ok());
    assert!(Program::decode(&wide).is_err());
}

#[test]
fn bad_headers_are_rejected() {
    let bytes = golden_program().encode();
    let mut m = bytes.clone();
    m[0] = b'X';
    assert!(matches!(
        Program::decode(&m),
        Err(IrError::Decode { offset: 8, .. })
    ));
    let mut m = bytes.clone();
    m[8..12].copy_from_slice(&2u32.to_le_bytes());
    assert!(matches!(Program::decode(&m), Err(IrError::Decode { .. })));
    assert!(Program::decode(&[]).is_err());
}

/// Header plus a tensor count, followed by one tensor record.
fn one_tensor(kind: u8, shape: &[u64], tail: &[u8]) -> Vec<u8> {
    let mut v = MAGIC.to_vec();
    v.extend(VERSION.to_le_bytes());
    v.extend(1u32.to_le_bytes());
    v.extend(1u32.to_le_bytes());
    v.push(b'w');
    v.push(kind);
    v.extend((shape.len() as u32).to_le_bytes());
    shape.iter().for_each(|d| v.extend(d.to_le_bytes()));
    v.extend(0i64.to_le_bytes());
    v.extend(0i64.to_le_bytes());
    v.push(0);
    v.extend(tail);
    v
}

#[test]
fn huge_counts_and_dimensions_are_rejected_without_allocating() {
    // A tensor count of 2^32 - 1 with nothing behind it.
    let mut v = MAGIC.to_vec();
    v.extend(VERSION.to_le_bytes());
    v.extend(u32::MAX.to_le_bytes());
    assert!(matches!(decode_hostile(&v), Err(IrError::Decode { .. })));

    // A weight of [2^40, 2^40] elements: refused before reading (or allocating) its data.
    let huge = 1u64 << 40;
    for kind in [0u8, 1, 2] {
        let v = one_tensor(kind, &[huge, huge], &[1, 0, 0, 0, 0]);
        let err = decode_hostile(&v).unwrap_err();
        if kind == 1 {
            assert!(matches!(err, IrError::TooLarge { .. }), "{err}");
        }
    }
    // Zero elements do not excuse huge dimensions.
    let v = one_tensor(1, &[0, huge, huge], &[1]);
    assert!(matches!(decode_hostile(&v), Err(IrError::TooLarge { .. })));
    // 2^31 elements are allowed by the limit but the bytes are not there: no 16 GiB buffer.
    let v = one_tensor(1, &[1 << 31], &[8, 1, 2, 3]);
    assert!(matches!(decode_hostile(&v), Err(IrError::Decode { .. })));
    // A shape with 2^32 - 1 dimensions.
    let mut v = one_tensor(1, &[], &[]);
    let at = 8 + 4 + 4 + 4 + 1 + 1;
    v[at..at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(matches!(decode_hostile(&v), Err(IrError::Decode { .. })));

    // Hostile op attributes in an otherwise valid program: huge dims in Reshape, Gather,
    // Where, pooling windows and Pad must be refused, never overflow or stall.
    let base = golden_program();
    let big = 1usize << 40;
    let hostile_ops = [
        Op::Reshape {
            shape: vec![big, big, big, 0],
        },
        Op::Reshape {
            shape: vec![usize::MAX, usize::MAX, 2],
        },
        Op::Gather {
            axis: 0,
            indices_shape: vec![big, big, 0],
            indices: vec![],
        },
        Op::Where {
            cond_shape: vec![big, big, 0],
            cond: vec![],
        },
        Op::Pad {
            begin: vec![usize::MAX, 0],
            end: vec![usize::MAX, 0],
            interior: vec![usize::MAX, 0],
            value: 0,
        },
        Op::Transpose {
            perm: vec![usize::MAX, 0],
        },
        Op::Slice {
            starts: vec![0, usize::MAX],
            lens: vec![usize::MAX, usize::MAX],
            steps: vec![i64::MIN, i64::MAX],
        },
        Op::Concat { axis: usize::MAX },
        Op::Reduce {
            kind: ReduceKind::Sum,
            axes: vec![usize::MAX],
            keep_dims: true,
        },
    ];
    for op in hostile_ops {
        let mut p = base.clone();
        let last = p.nodes.len() - 1;
        p.nodes[last].op = op.clone();
        let err = decode_hostile(&p.encode()).unwrap_err();
        assert!(
            !matches!(err, IrError::Decode { .. }) || format!("{err}").contains("non-canonical"),
            "{op:?}: {err}"
        );
    }
}

#[test]
fn hostile_windows_are_refused_quickly() {
    // Pooling over a 1x4 input with windows of 2^40 and pads of 2^40: the output would be
    // small, but checking each window by walking the kernel would take hours.
    let mut b = ProgramBuilder::new();
    let x = b
        .input("x", vec![1, 1, 1, 4], Range::new(-5, 5), None)
        .unwrap();
    let k = 1usize << 40;
    let start = std::time::Instant::now();
    let r = b.node(
        "mp",
        Op::MaxPool {
            window: win([1, k], [1, 1], [0, 0, 0, k], [1, 1]),
        },
        &[x],
        None,
    );
    // Output width 5: the last window starts at index 4 and only sees padding.
    assert!(matches!(r, Err(IrError::Node { .. })), "{r:?}");
    let r = b.node(
        "sp",
        Op::SumPool {
            window: win([k, k], [1, 1], [k, k, k, k], [1, 1]),
        },
        &[x],
        None,
    );
    assert!(r.is_err(), "{r:?}");
    let r = b.node(
        "mp2",
        Op::MaxPool {
            window: win([1, 1], [1, 1], [0, k, 0, k], [1, 1]),
        },
        &[x],
        None,
    );
    assert!(r.is_err(), "{r:?}");
    assert!(start.elapsed().as_secs() < 2);
}

#[test]
fn every_table_fn_round_trips() {
    let fns = [
        TableFn::Sigmoid,
        TableFn::Tanh,
        TableFn::Exp,
        TableFn::Log,
        TableFn::Sqrt,
        TableFn::Reciprocal,
        TableFn::Rsqrt,
        TableFn::Erf,
        TableFn::Gelu,
        TableFn::GeluTanh,
        TableFn::LeakyRelu { alpha: 0.125 },
        TableFn::Silu,
        TableFn::Softplus,
        TableFn::Identity,
        TableFn::HardSigmoid {
            alpha: 0.2,
            beta: 0.5,
        },
        TableFn::HardSwish,
        TableFn::Abs,
    ];
    let mut digests = std::collections::BTreeSet::new();
    for f in fns {
        let mut b = ProgramBuilder::new();
        let x = b.input("x", vec![3], Range::new(-20, 20), None).unwrap();
        let t = LookupTable::generate(f, Range::new(-20, 20), 0.1, 0.01, Range::new(-128, 127));
        let y = b.node("f", Op::Lookup(t), &[x], None).unwrap();
        b.output(y);
        let p = b.finish().unwrap();
        let bytes = p.encode();
        assert_eq!(bytes, spec_encode(&p, 1), "{}", f.name());
        assert_eq!(Program::decode(&bytes).unwrap(), p, "{}", f.name());
        digests.insert(p.digest());
    }
    // Parameters are part of the digest too.
    let with = |alpha| {
        let mut b = ProgramBuilder::new();
        let x = b.input("x", vec![1], Range::new(0, 1), None).unwrap();
        let t = LookupTable {
            func: TableFn::LeakyRelu { alpha },
            in_scale: 1.0,
            out_scale: 1.0,
            domain: Range::new(0, 1),
            values: vec![0, 1],
        };
        let y = b.node("f", Op::Lookup(t), &[x], None).unwrap();
        b.output(y);
        b.finish().unwrap().digest()
    };
    assert_ne!(with(0.1), with(0.2));
    assert_eq!(digests.len(), fns.len());
}
