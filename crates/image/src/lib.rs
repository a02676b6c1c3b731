//! Integer-exact image edit ops lowered to `vouch-ir` programs over u8 pixel tensors of shape
//! `[H, W, C]` (C = 3 for RGB, 1 for gray), plus a plain-Rust reference implementation of the
//! same specification (`docs/image-ops.md`).

pub mod c2pa;
pub mod camera;
mod lower;
pub mod reference;
pub mod spec;
mod text;

pub use lower::edit_program;
pub use reference::{apply_reference, Image};
pub use text::{edits_to_text, parse_edits, EditParseError};

use spec::*;

/// A rectangle of pixels: columns `x..x + w`, rows `y..y + h`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rect {
    pub x: usize,
    pub y: usize,
    pub w: usize,
    pub h: usize,
}

/// One edit. Fractional parameters are integers with their unit stated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Edit {
    Crop {
        x: usize,
        y: usize,
        w: usize,
        h: usize,
    },
    /// Mirror left-right.
    FlipH,
    /// Mirror top-bottom.
    FlipV,
    /// Rotate 90 degrees clockwise (as the `image` crate's `rotate90`).
    Rotate90,
    Rotate180,
    /// Rotate 270 degrees clockwise (90 counter-clockwise, Pillow's `ROTATE_90`).
    Rotate270,
    ResizeNearest {
        w: usize,
        h: usize,
    },
    ResizeBilinear {
        w: usize,
        h: usize,
    },
    /// Box / area-average resize (exact overlap weights).
    ResizeArea {
        w: usize,
        h: usize,
    },
    /// RGB to one channel with [`spec::GRAY_COEFFS`]; identity on gray images.
    Grayscale,
    /// Add `delta` (in -255..=255) and clamp.
    Brightness {
        delta: i32,
    },
    /// Scale the distance from 128 by `factor / 2^14`.
    Contrast {
        factor: u32,
    },
    /// `255 (v / 255)^(gamma_milli / 1000)`.
    Gamma {
        gamma_milli: u32,
    },
    Levels {
        in_lo: u8,
        in_hi: u8,
        out_lo: u8,
        out_hi: u8,
    },
    /// Arbitrary 256-entry tables: one for all channels or one per channel.
    Curves {
        tables: Vec<Vec<u8>>,
    },
    /// `out_c = clamp(round_half_up((sum_k m[c][k] in_k + offset[c]) / 2^14), 0, 255)`; RGB only.
    /// White balance is the diagonal case.
    ColorMatrix {
        m: [[i32; 3]; 3],
        offset: [i32; 3],
    },
    /// Mean over a `(2r+1)^2` window, edges replicated, rounded half up.
    BoxBlur {
        radius: u32,
    },
    /// Separable integer Gaussian ([`spec::gaussian_kernel`]), edges replicated.
    GaussianBlur {
        sigma_milli: u32,
    },
    /// Pillow's SHARPEN kernel, edges replicated.
    Sharpen,
    /// Solid fill of each rectangle with `fill` (the first value only on gray images).
    Redact {
        rects: Vec<Rect>,
        fill: [u8; 3],
    },
}

/// Why an edit list cannot be applied.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("image size {w}x{h} is empty")]
    ZeroSize { w: usize, h: usize },
    #[error("image size {w}x{h} exceeds the limit ({MAX_SIDE} per side, {MAX_PIXELS} pixels)")]
    TooLarge { w: usize, h: usize },
    #[error("{channels} channels: only 1 (gray) and 3 (RGB) are supported")]
    Channels { channels: usize },
    #[error("edit {index} ({op}): rectangle {rect:?} lies outside the {w}x{h} image")]
    Outside {
        index: usize,
        op: &'static str,
        rect: Rect,
        w: usize,
        h: usize,
    },
    #[error("edit {index} ({op}): {msg}")]
    BadParam {
        index: usize,
        op: &'static str,
        msg: String,
    },
    #[error("too many edits: {0} (at most {MAX_EDITS})")]
    TooManyEdits(usize),
    #[error("pixel data has {got} bytes, expected {expected}")]
    DataLength { expected: usize, got: usize },
    #[error("IR construction failed: {0}")]
    Ir(#[from] vouch_ir::IrError),
}

impl Edit {
    /// Short stable name.
    pub fn name(&self) -> &'static str {
        match self {
            Edit::Crop { .. } => "crop",
            Edit::FlipH => "flip_h",
            Edit::FlipV => "flip_v",
            Edit::Rotate90 => "rotate90",
            Edit::Rotate180 => "rotate180",
            Edit::Rotate270 => "rotate270",
            Edit::ResizeNearest { .. } => "resize_nearest",
            Edit::ResizeBilinear { .. } => "resize_bilinear",
            Edit::ResizeArea { .. } => "resize_area",
            Edit::Grayscale => "grayscale",
            Edit::Brightness { .. } => "brightness",
            Edit::Contrast { .. } => "contrast",
            Edit::Gamma { .. } => "gamma",
            Edit::Levels { .. } => "levels",
            Edit::Curves { .. } => "curves",
            Edit::ColorMatrix { .. } => "color_matrix",
            Edit::BoxBlur { .. } => "box_blur",
            Edit::GaussianBlur { .. } => "gaussian_blur",
            Edit::Sharpen => "sharpen",
            Edit::Redact { .. } => "redact",
        }
    }

    /// Per-channel 256-entry tables of a point op (`None` for other ops). Assumes the edit
    /// passed [`check_edits`].
    pub fn point_tables(&self, channels: usize) -> Option<Vec<[u8; 256]>> {
        let one = |f: &dyn Fn(u8) -> u8| {
            let mut t = [0u8; 256];
            for (v, e) in t.iter_mut().enumerate() {
                *e = f(v as u8);
            }
            vec![t; channels]
        };
        match self {
            Edit::Brightness { delta } => Some(one(&|v| spec::brightness(v, *delta))),
            Edit::Contrast { factor } => Some(one(&|v| spec::contrast(v, *factor))),
            Edit::Gamma { gamma_milli } => Some(vec![spec::gamma_table(*gamma_milli); channels]),
            Edit::Levels {
                in_lo,
                in_hi,
                out_lo,
                out_hi,
            } => Some(one(&|v| spec::levels(v, *in_lo, *in_hi, *out_lo, *out_hi))),
            Edit::Curves { tables } => Some(
                (0..channels)
                    .map(|c| {
                        let src = if tables.len() == 1 {
                            &tables[0]
                        } else {
                            &tables[c]
                        };
                        let mut t = [0u8; 256];
                        t.copy_from_slice(&src[..256]);
                        t
                    })
                    .collect(),
            ),
            _ => None,
        }
    }
}

/// Image geometry `(width, height, channels)`.
pub type Dims = (usize, usize, usize);

fn check_size(w: usize, h: usize) -> Result<(), ImageError> {
    if w == 0 || h == 0 {
        return Err(ImageError::ZeroSize { w, h });
    }
    if w > MAX_SIDE || h > MAX_SIDE || w * h > MAX_PIXELS {
        return Err(ImageError::TooLarge { w, h });
    }
    Ok(())
}

/// Validates an edit list against an input geometry and returns the geometry after each edit
/// (`dims[0]` is the input). Every error is typed; nothing panics.
pub fn check_edits(
    width: usize,
    height: usize,
    channels: usize,
    edits: &[Edit],
) -> Result<Vec<Dims>, ImageError> {
    check_size(width, height)?;
    if channels != 1 && channels != 3 {
        return Err(ImageError::Channels { channels });
    }
    if edits.len() > MAX_EDITS {
        return Err(ImageError::TooManyEdits(edits.len()));
    }
    let mut dims = vec![(width, height, channels)];
    let (mut w, mut h, mut c) = (width, height, channels);
    for (index, e) in edits.iter().enumerate() {
        let op = e.name();
        let bad = |msg: String| ImageError::BadParam { index, op, msg };
        let outside = |rect: Rect| {
            let inside = rect.x.checked_add(rect.w).is_some_and(|r| r <= w)
                && rect.y.checked_add(rect.h).is_some_and(|b| b <= h);
            if inside {
                Ok(())
            } else {
                Err(ImageError::Outside {
                    index,
                    op,
                    rect,
                    w,
                    h,
                })
            }
        };
        match e {
            Edit::Crop { x, y, w: cw, h: ch } => {
                check_size(*cw, *ch)?;
                outside(Rect {
                    x: *x,
                    y: *y,
                    w: *cw,
                    h: *ch,
                })?;
                (w, h) = (*cw, *ch);
            }
            Edit::FlipH | Edit::FlipV | Edit::Rotate180 | Edit::Sharpen => {}
            Edit::Rotate90 | Edit::Rotate270 => (w, h) = (h, w),
            Edit::ResizeNearest { w: nw, h: nh }
            | Edit::ResizeBilinear { w: nw, h: nh }
            | Edit::ResizeArea { w: nw, h: nh } => {
                check_size(*nw, *nh)?;
                // The horizontal pass runs first: its output is h x nw.
                if h.saturating_mul(*nw) > MAX_PIXELS {
                    return Err(ImageError::TooLarge { w: *nw, h });
                }
                if matches!(e, Edit::ResizeArea { .. }) {
                    let taps = |src: usize, dst: usize| src.div_ceil(dst) + 1;
                    if taps(w, *nw) > MAX_AREA_TAPS || taps(h, *nh) > MAX_AREA_TAPS {
                        return Err(bad(format!(
                            "area downscale by more than {} per axis",
                            MAX_AREA_TAPS - 1
                        )));
                    }
                }
                (w, h) = (*nw, *nh);
            }
            Edit::Grayscale => c = 1,
            Edit::Brightness { delta } => {
                if !(-255..=255).contains(delta) {
                    return Err(bad(format!("delta {delta} outside -255..=255")));
                }
            }
            Edit::Contrast { factor } => {
                if *factor > MAX_CONTRAST {
                    return Err(bad(format!("factor {factor} above {MAX_CONTRAST}")));
                }
            }
            Edit::Gamma { gamma_milli } => {
                if !(MIN_GAMMA_MILLI..=MAX_GAMMA_MILLI).contains(gamma_milli) {
                    return Err(bad(format!(
                        "gamma_milli {gamma_milli} outside {MIN_GAMMA_MILLI}..={MAX_GAMMA_MILLI}"
                    )));
                }
            }
            Edit::Levels { in_lo, in_hi, .. } => {
                if in_lo >= in_hi {
                    return Err(bad(format!("in_lo {in_lo} must be below in_hi {in_hi}")));
                }
            }
            Edit::Curves { tables } => {
                if tables.len() != 1 && tables.len() != c {
                    return Err(bad(format!(
                        "{} tables for {c} channels (give 1 or {c})",
                        tables.len()
                    )));
                }
                if let Some(t) = tables.iter().find(|t| t.len() != 256) {
                    return Err(bad(format!("a table has {} entries, not 256", t.len())));
                }
            }
            Edit::ColorMatrix { m, offset } => {
                if c != 3 {
                    return Err(bad("colour matrix needs an RGB image".into()));
                }
                let all = m.iter().flatten().chain(offset.iter());
                if all
                    .clone()
                    .any(|v| v.unsigned_abs() > MAX_MATRIX_COEFF as u32)
                {
                    return Err(bad(format!(
                        "coefficients must lie within +-{MAX_MATRIX_COEFF}"
                    )));
                }
            }
            Edit::BoxBlur { radius } => {
                if *radius == 0 || *radius > MAX_BOX_RADIUS {
                    return Err(bad(format!("radius {radius} outside 1..={MAX_BOX_RADIUS}")));
                }
            }
            Edit::GaussianBlur { sigma_milli } => {
                if !(MIN_SIGMA_MILLI..=MAX_SIGMA_MILLI).contains(sigma_milli) {
                    return Err(bad(format!(
                        "sigma_milli {sigma_milli} outside {MIN_SIGMA_MILLI}..={MAX_SIGMA_MILLI}"
                    )));
                }
            }
            Edit::Redact { rects, .. } => {
                if rects.is_empty() {
                    return Err(bad("no rectangles".into()));
                }
                for r in rects {
                    if r.w == 0 || r.h == 0 {
                        return Err(bad(format!("empty rectangle {r:?}")));
                    }
                    outside(*r)?;
                }
            }
        }
        dims.push((w, h, c));
    }
    Ok(dims)
}
