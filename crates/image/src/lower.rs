//! Lowering of edit lists to IR programs. Geometry is wiring (Slice, Gather, Transpose,
//! Reshape); resampling and filters are Gather taps times constant integer weights, summed
//! exactly and rounded once (Requant or DivRound, both round half up).

use vouch_ir::{BinaryKind, LookupTable, Op, Program, ProgramBuilder, Range, TableFn, TensorId};

use crate::spec::*;
use crate::{check_edits, Edit, ImageError};

/// One tap of a 1-D resampling along an axis: output position `j` reads input `idx[j]` with
/// weight `w[j]`.
struct Tap {
    idx: Vec<usize>,
    w: Vec<i64>,
}

struct Lower {
    b: ProgramBuilder,
    n: usize,
    /// Current tensor and its `[H, W, C]` shape.
    x: TensorId,
    shape: [usize; 3],
}

impl Lower {
    fn name(&mut self, what: &str) -> String {
        self.n += 1;
        format!("{}_{what}", self.n)
    }

    fn node(&mut self, what: &str, op: Op, inputs: &[TensorId]) -> Result<TensorId, ImageError> {
        let name = self.name(what);
        Ok(self.b.node(&name, op, inputs, None)?)
    }

    fn weight(
        &mut self,
        what: &str,
        shape: Vec<usize>,
        data: Vec<i64>,
    ) -> Result<TensorId, ImageError> {
        let name = self.name(what);
        Ok(self.b.weight(&name, shape, data, None)?)
    }

    /// Sum over taps of `x` gathered along `axis` (0 = rows, 1 = columns) times the tap weights.
    fn taps(
        &mut self,
        x: TensorId,
        shape: [usize; 3],
        axis: usize,
        taps: &[Tap],
    ) -> Result<(TensorId, [usize; 3]), ImageError> {
        let out_len = taps[0].idx.len();
        let mut out_shape = shape;
        out_shape[axis] = out_len;
        let mut acc: Option<TensorId> = None;
        for t in taps {
            if t.w.iter().all(|&w| w == 0) {
                continue;
            }
            let identity = out_len == shape[axis] && t.idx.iter().enumerate().all(|(j, &i)| i == j);
            let g = if identity {
                x
            } else {
                self.node(
                    "gather",
                    Op::Gather {
                        axis,
                        indices_shape: vec![out_len],
                        indices: t.idx.clone(),
                    },
                    &[x],
                )?
            };
            let term = if t.w.iter().all(|&w| w == 1) {
                g
            } else {
                let wt = if t.w.iter().all(|&w| w == t.w[0]) {
                    self.weight("w", vec![1], vec![t.w[0]])?
                } else {
                    let wshape = if axis == 0 {
                        vec![out_len, 1, 1]
                    } else {
                        vec![out_len, 1]
                    };
                    self.weight("w", wshape, t.w.clone())?
                };
                self.node("mul", Op::Binary(BinaryKind::Mul), &[g, wt])?
            };
            acc = Some(match acc {
                None => term,
                Some(a) => self.node("add", Op::Binary(BinaryKind::Add), &[a, term])?,
            });
        }
        // At least one tap has a non-zero weight for every spec'd filter.
        let acc = acc.ok_or_else(|| ImageError::BadParam {
            index: 0,
            op: "taps",
            msg: "all tap weights are zero".into(),
        })?;
        Ok((acc, out_shape))
    }

    /// Separable 2-D filter: columns then rows.
    fn separable(&mut self, htaps: &[Tap], vtaps: &[Tap]) -> Result<TensorId, ImageError> {
        let (t, s) = self.taps(self.x, self.shape, 1, htaps)?;
        let (t, s) = self.taps(t, s, 0, vtaps)?;
        self.shape = s;
        Ok(t)
    }

    fn requant(&mut self, x: TensorId, shift: u32) -> Result<TensorId, ImageError> {
        self.node(
            "requant",
            Op::Requant {
                mults: vec![1],
                axis: None,
                shift,
                lo: 0,
                hi: 255,
            },
            &[x],
        )
    }

    fn div_round(&mut self, x: TensorId, d: i64) -> Result<TensorId, ImageError> {
        let dt = self.weight("div", vec![1], vec![d])?;
        let y = self.node("divround", Op::DivRound { shift: 0 }, &[x, dt])?;
        self.clamp_u8(y)
    }

    fn clamp_u8(&mut self, y: TensorId) -> Result<TensorId, ImageError> {
        let r = self.b.info(y).range;
        if r.lo >= 0 && r.hi <= 255 {
            Ok(y)
        } else {
            self.node("clamp", Op::Clamp { lo: 0, hi: 255 }, &[y])
        }
    }

    fn slice(
        &mut self,
        starts: [usize; 3],
        lens: [usize; 3],
        steps: [i64; 3],
    ) -> Result<(), ImageError> {
        self.x = self.node(
            "slice",
            Op::Slice {
                starts: starts.to_vec(),
                lens: lens.to_vec(),
                steps: steps.to_vec(),
            },
            &[self.x],
        )?;
        self.shape = lens;
        Ok(())
    }

    fn transpose_hw(&mut self) -> Result<(), ImageError> {
        self.x = self.node(
            "transpose",
            Op::Transpose {
                perm: vec![1, 0, 2],
            },
            &[self.x],
        )?;
        self.shape = [self.shape[1], self.shape[0], self.shape[2]];
        Ok(())
    }

    fn edit(&mut self, e: &Edit) -> Result<(), ImageError> {
        let [h, w, c] = self.shape;
        match e {
            Edit::Crop { x, y, w: cw, h: ch } => {
                self.slice([*y, *x, 0], [*ch, *cw, c], [1, 1, 1])?
            }
            Edit::FlipH => self.slice([0, w - 1, 0], [h, w, c], [1, -1, 1])?,
            Edit::FlipV => self.slice([h - 1, 0, 0], [h, w, c], [-1, 1, 1])?,
            Edit::Rotate180 => self.slice([h - 1, w - 1, 0], [h, w, c], [-1, -1, 1])?,
            Edit::Rotate90 => {
                // out[i][j] = in[H-1-j][i]: transpose, then mirror left-right.
                self.transpose_hw()?;
                let [h, w, c] = self.shape;
                self.slice([0, w - 1, 0], [h, w, c], [1, -1, 1])?;
            }
            Edit::Rotate270 => {
                // out[i][j] = in[j][W-1-i]: transpose, then mirror top-bottom.
                self.transpose_hw()?;
                let [h, w, c] = self.shape;
                self.slice([h - 1, 0, 0], [h, w, c], [-1, 1, 1])?;
            }
            Edit::ResizeNearest { w: nw, h: nh } => {
                let cols = (0..*nw).map(|j| nearest_coord(j, w, *nw)).collect();
                let rows = (0..*nh).map(|j| nearest_coord(j, h, *nh)).collect();
                let t = self.node(
                    "gather",
                    Op::Gather {
                        axis: 1,
                        indices_shape: vec![*nw],
                        indices: cols,
                    },
                    &[self.x],
                )?;
                self.x = self.node(
                    "gather",
                    Op::Gather {
                        axis: 0,
                        indices_shape: vec![*nh],
                        indices: rows,
                    },
                    &[t],
                )?;
                self.shape = [*nh, *nw, c];
            }
            Edit::ResizeBilinear { w: nw, h: nh } => {
                let bil = |src: usize, dst: usize| {
                    let cs: Vec<_> = (0..dst).map(|j| bilinear_coord(j, src, dst)).collect();
                    vec![
                        Tap {
                            idx: cs.iter().map(|c| c.0).collect(),
                            w: cs.iter().map(|c| c.2).collect(),
                        },
                        Tap {
                            idx: cs.iter().map(|c| c.1).collect(),
                            w: cs.iter().map(|c| c.3).collect(),
                        },
                    ]
                };
                let t = self.separable(&bil(w, *nw), &bil(h, *nh))?;
                self.x = self.requant(t, 2 * FRAC_BITS)?;
            }
            Edit::ResizeArea { w: nw, h: nh } => {
                let area = |src: usize, dst: usize| {
                    let ws: Vec<_> = (0..dst).map(|j| area_weights(j, src, dst)).collect();
                    let n = ws.iter().map(|(_, w)| w.len()).max().unwrap_or(1);
                    (0..n)
                        .map(|t| Tap {
                            idx: ws.iter().map(|(f, _)| (f + t).min(src - 1)).collect(),
                            w: ws
                                .iter()
                                .map(|(_, w)| w.get(t).copied().unwrap_or(0))
                                .collect(),
                        })
                        .collect::<Vec<_>>()
                };
                let t = self.separable(&area(w, *nw), &area(h, *nh))?;
                self.x = self.div_round(t, (w * h) as i64)?;
            }
            Edit::BoxBlur { radius } => {
                let bx = |len: usize| box_taps(len, *radius as usize);
                let t = self.separable(&bx(w), &bx(h))?;
                let k = 2 * *radius as i64 + 1;
                self.x = self.div_round(t, k * k)?;
            }
            Edit::GaussianBlur { sigma_milli } => {
                let k = gaussian_kernel(*sigma_milli);
                let r = k.len() / 2;
                let g = |len: usize| {
                    let mut taps = box_taps(len, r);
                    for (t, wk) in taps.iter_mut().zip(&k) {
                        t.w = vec![*wk; len];
                    }
                    taps
                };
                let t = self.separable(&g(w), &g(h))?;
                self.x = self.requant(t, 2 * FRAC_BITS)?;
            }
            Edit::Sharpen => {
                let x = self.x;
                let s = self.separable(&box_taps(w, 1), &box_taps(h, 1))?;
                let k = self.weight("w", vec![1], vec![SHARPEN_CENTER])?;
                let m = self.node("mul", Op::Binary(BinaryKind::Mul), &[x, k])?;
                let d = self.node("sub", Op::Binary(BinaryKind::Sub), &[m, s])?;
                self.x = self.requant(d, SHARPEN_SHIFT)?;
            }
            Edit::Grayscale => {
                if c == 3 {
                    let coeffs = GRAY_COEFFS.to_vec();
                    self.matrix(coeffs, 1, None)?;
                }
            }
            Edit::ColorMatrix { m, offset } => {
                // b[k][j] = m[j][k]
                let mut bt = Vec::with_capacity(9);
                for k in 0..3 {
                    for row in m {
                        bt.push(row[k] as i64);
                    }
                }
                self.matrix(bt, 3, Some(offset.iter().map(|&o| o as i64).collect()))?;
            }
            Edit::Brightness { .. }
            | Edit::Contrast { .. }
            | Edit::Gamma { .. }
            | Edit::Levels { .. }
            | Edit::Curves { .. } => {
                let tables = e.point_tables(c).ok_or_else(|| ImageError::BadParam {
                    index: 0,
                    op: e.name(),
                    msg: "no tables".into(),
                })?;
                self.lookup(&tables)?;
            }
            Edit::Redact { rects, fill } => {
                let mut mask = vec![false; h * w];
                for r in rects {
                    for y in r.y..r.y + r.h {
                        mask[y * w + r.x..y * w + r.x + r.w].fill(true);
                    }
                }
                let f = self.weight(
                    "fill",
                    vec![c],
                    fill[..c].iter().map(|&v| v as i64).collect(),
                )?;
                self.x = self.node(
                    "redact",
                    Op::Where {
                        cond_shape: vec![h, w, 1],
                        cond: mask,
                    },
                    &[f, self.x],
                )?;
            }
        }
        Ok(())
    }

    /// `[H, W, 3] -> [H, W, n]` through a `[3, n]` fixed-point matrix, optional bias, rounding.
    fn matrix(&mut self, b: Vec<i64>, n: usize, bias: Option<Vec<i64>>) -> Result<(), ImageError> {
        let [h, w, c] = self.shape;
        let flat = self.node(
            "reshape",
            Op::Reshape {
                shape: vec![h * w, c],
            },
            &[self.x],
        )?;
        let bw = self.weight("matrix", vec![c, n], b)?;
        let mut inputs = vec![flat, bw];
        if let Some(bias) = bias {
            inputs.push(self.weight("bias", vec![n], bias)?);
        }
        let mm = self.node("matmul", Op::MatMul, &inputs)?;
        let q = self.requant(mm, FRAC_BITS)?;
        self.x = self.node(
            "reshape",
            Op::Reshape {
                shape: vec![h, w, n],
            },
            &[q],
        )?;
        self.shape = [h, w, n];
        Ok(())
    }

    /// Per-channel 256-entry tables: one Lookup, after adding `256 c` to channel `c` when the
    /// tables differ.
    fn lookup(&mut self, tables: &[[u8; 256]]) -> Result<(), ImageError> {
        let same = tables.iter().all(|t| t == &tables[0]);
        let used = if same { &tables[..1] } else { tables };
        let x = if same {
            self.x
        } else {
            let off = self.weight(
                "chan_off",
                vec![tables.len()],
                (0..tables.len() as i64).map(|c| 256 * c).collect(),
            )?;
            self.node("add", Op::Binary(BinaryKind::Add), &[self.x, off])?
        };
        let values: Vec<i64> = used.iter().flatten().map(|&v| v as i64).collect();
        let table = LookupTable {
            func: TableFn::Identity,
            in_scale: 1.0,
            out_scale: 1.0,
            domain: Range::new(0, values.len() as i64 - 1),
            values,
        };
        self.x = self.node("lookup", Op::Lookup(table), &[x])?;
        Ok(())
    }
}

/// Taps `t = 0..=2r` reading `clamp(j + t - r, 0, len - 1)` with weight 1.
fn box_taps(len: usize, r: usize) -> Vec<Tap> {
    (0..=2 * r)
        .map(|t| Tap {
            idx: (0..len)
                .map(|j| (j + t).saturating_sub(r).min(len - 1))
                .collect(),
            w: vec![1; len],
        })
        .collect()
}

/// Builds the IR program applying `edits` in order to a `height x width x channels` u8 image
/// (input tensor `[H, W, C]`, range `[0, 255]`). The single output is the edited image, also
/// `[H', W', C']` in `[0, 255]`.
pub fn edit_program(
    width: usize,
    height: usize,
    channels: usize,
    edits: &[Edit],
) -> Result<Program, ImageError> {
    check_edits(width, height, channels, edits)?;
    let mut b = ProgramBuilder::new();
    let x = b.input(
        "image",
        vec![height, width, channels],
        Range::new(0, 255),
        None,
    )?;
    let mut l = Lower {
        b,
        n: 0,
        x,
        shape: [height, width, channels],
    };
    for e in edits {
        l.edit(e)?;
    }
    let out = l.clamp_u8(l.x)?;
    l.b.output(out);
    Ok(l.b.finish()?)
}
