//! Plain-Rust reference implementation of every edit, written from the specification in
//! `docs/image-ops.md` pixel by pixel, independently of the IR lowering.

use crate::spec::*;
use crate::{check_edits, Edit, ImageError};

/// A u8 image, row-major `[H, W, C]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Image {
    pub width: usize,
    pub height: usize,
    pub channels: usize,
    pub data: Vec<u8>,
}

impl Image {
    pub fn new(
        width: usize,
        height: usize,
        channels: usize,
        data: Vec<u8>,
    ) -> Result<Self, ImageError> {
        let expected = width * height * channels;
        if data.len() != expected {
            return Err(ImageError::DataLength {
                expected,
                got: data.len(),
            });
        }
        Ok(Image {
            width,
            height,
            channels,
            data,
        })
    }

    fn blank(width: usize, height: usize, channels: usize) -> Self {
        Image {
            width,
            height,
            channels,
            data: vec![0; width * height * channels],
        }
    }

    #[inline]
    pub fn get(&self, x: usize, y: usize, c: usize) -> u8 {
        self.data[(y * self.width + x) * self.channels + c]
    }

    /// Pixel with coordinates clamped into the image (edge replication).
    #[inline]
    fn get_clamped(&self, x: i64, y: i64, c: usize) -> u8 {
        let x = x.clamp(0, self.width as i64 - 1) as usize;
        let y = y.clamp(0, self.height as i64 - 1) as usize;
        self.get(x, y, c)
    }

    #[inline]
    fn set(&mut self, x: usize, y: usize, c: usize, v: u8) {
        self.data[(y * self.width + x) * self.channels + c] = v;
    }

    /// As an IR tensor `[H, W, C]`.
    pub fn to_tensor(&self) -> vouch_ir::Tensor {
        vouch_ir::Tensor {
            shape: vec![self.height, self.width, self.channels],
            data: self.data.iter().map(|&v| v as i64).collect(),
        }
    }

    /// Output of a map over every output pixel.
    fn map(w: usize, h: usize, c: usize, f: impl Fn(usize, usize, usize) -> u8) -> Image {
        let mut out = Image::blank(w, h, c);
        for y in 0..h {
            for x in 0..w {
                for ch in 0..c {
                    out.set(x, y, ch, f(x, y, ch));
                }
            }
        }
        out
    }
}

fn to_u8(v: i64) -> u8 {
    v.clamp(0, 255) as u8
}

fn round_shift(v: i64, s: u32) -> i64 {
    (v + (1 << (s - 1))) >> s
}

/// Applies `edits` to `img` following the specification.
pub fn apply_reference(img: &Image, edits: &[Edit]) -> Result<Image, ImageError> {
    Image::new(img.width, img.height, img.channels, img.data.clone())?;
    check_edits(img.width, img.height, img.channels, edits)?;
    let mut cur = img.clone();
    for e in edits {
        cur = apply_one(&cur, e);
    }
    Ok(cur)
}

fn apply_one(src: &Image, e: &Edit) -> Image {
    let (w, h, c) = (src.width, src.height, src.channels);
    match e {
        Edit::Crop { x, y, w: cw, h: ch } => {
            Image::map(*cw, *ch, c, |i, j, k| src.get(x + i, y + j, k))
        }
        Edit::FlipH => Image::map(w, h, c, |x, y, k| src.get(w - 1 - x, y, k)),
        Edit::FlipV => Image::map(w, h, c, |x, y, k| src.get(x, h - 1 - y, k)),
        Edit::Rotate180 => Image::map(w, h, c, |x, y, k| src.get(w - 1 - x, h - 1 - y, k)),
        // Clockwise: output (x, y) of a h-wide, w-tall image shows input (y, h - 1 - x).
        Edit::Rotate90 => Image::map(h, w, c, |x, y, k| src.get(y, h - 1 - x, k)),
        Edit::Rotate270 => Image::map(h, w, c, |x, y, k| src.get(w - 1 - y, x, k)),
        Edit::ResizeNearest { w: nw, h: nh } => Image::map(*nw, *nh, c, |x, y, k| {
            src.get(nearest_coord(x, w, *nw), nearest_coord(y, h, *nh), k)
        }),
        Edit::ResizeBilinear { w: nw, h: nh } => Image::map(*nw, *nh, c, |x, y, k| {
            let (x0, x1, wx0, wx1) = bilinear_coord(x, w, *nw);
            let (y0, y1, wy0, wy1) = bilinear_coord(y, h, *nh);
            let p = |xx, yy| src.get(xx, yy, k) as i64;
            let s = wy0 * (wx0 * p(x0, y0) + wx1 * p(x1, y0))
                + wy1 * (wx0 * p(x0, y1) + wx1 * p(x1, y1));
            to_u8(round_shift(s, 2 * FRAC_BITS))
        }),
        Edit::ResizeArea { w: nw, h: nh } => Image::map(*nw, *nh, c, |x, y, k| {
            let (fx, wx) = area_weights(x, w, *nw);
            let (fy, wy) = area_weights(y, h, *nh);
            let mut s = 0i64;
            for (dy, a) in wy.iter().enumerate() {
                for (dx, b) in wx.iter().enumerate() {
                    s += a * b * src.get(fx + dx, fy + dy, k) as i64;
                }
            }
            to_u8(div_round_half_up(s, (w * h) as i64))
        }),
        Edit::Grayscale => {
            if c == 1 {
                return src.clone();
            }
            Image::map(w, h, 1, |x, y, _| {
                let s: i64 = (0..3)
                    .map(|k| GRAY_COEFFS[k] * src.get(x, y, k) as i64)
                    .sum();
                to_u8(round_shift(s, FRAC_BITS))
            })
        }
        Edit::ColorMatrix { m, offset } => Image::map(w, h, 3, |x, y, k| {
            let s: i64 = (0..3)
                .map(|j| m[k][j] as i64 * src.get(x, y, j) as i64)
                .sum::<i64>()
                + offset[k] as i64;
            to_u8(round_shift(s, FRAC_BITS))
        }),
        Edit::Brightness { delta } => {
            Image::map(w, h, c, |x, y, k| brightness(src.get(x, y, k), *delta))
        }
        Edit::Contrast { factor } => {
            Image::map(w, h, c, |x, y, k| contrast(src.get(x, y, k), *factor))
        }
        Edit::Gamma { gamma_milli } => {
            let t = gamma_table(*gamma_milli);
            Image::map(w, h, c, |x, y, k| t[src.get(x, y, k) as usize])
        }
        Edit::Levels {
            in_lo,
            in_hi,
            out_lo,
            out_hi,
        } => Image::map(w, h, c, |x, y, k| {
            levels(src.get(x, y, k), *in_lo, *in_hi, *out_lo, *out_hi)
        }),
        Edit::Curves { tables } => Image::map(w, h, c, |x, y, k| {
            let t = if tables.len() == 1 {
                &tables[0]
            } else {
                &tables[k]
            };
            t[src.get(x, y, k) as usize]
        }),
        Edit::BoxBlur { radius } => {
            let r = *radius as i64;
            Image::map(w, h, c, |x, y, k| {
                let mut s = 0i64;
                for dy in -r..=r {
                    for dx in -r..=r {
                        s += src.get_clamped(x as i64 + dx, y as i64 + dy, k) as i64;
                    }
                }
                to_u8(div_round_half_up(s, (2 * r + 1) * (2 * r + 1)))
            })
        }
        Edit::GaussianBlur { sigma_milli } => {
            let kern = gaussian_kernel(*sigma_milli);
            let r = (kern.len() / 2) as i64;
            Image::map(w, h, c, |x, y, k| {
                let mut s = 0i64;
                for (a, ky) in kern.iter().enumerate() {
                    for (b, kx) in kern.iter().enumerate() {
                        let p =
                            src.get_clamped(x as i64 + b as i64 - r, y as i64 + a as i64 - r, k);
                        s += ky * kx * p as i64;
                    }
                }
                to_u8(round_shift(s, 2 * FRAC_BITS))
            })
        }
        Edit::Sharpen => Image::map(w, h, c, |x, y, k| {
            let mut s = 0i64;
            for dy in -1..=1 {
                for dx in -1..=1 {
                    s += src.get_clamped(x as i64 + dx, y as i64 + dy, k) as i64;
                }
            }
            to_u8(round_shift(
                SHARPEN_CENTER * src.get(x, y, k) as i64 - s,
                SHARPEN_SHIFT,
            ))
        }),
        Edit::Redact { rects, fill } => Image::map(w, h, c, |x, y, k| {
            let inside = rects
                .iter()
                .any(|r| x >= r.x && x < r.x + r.w && y >= r.y && y < r.y + r.h);
            if inside {
                fill[k]
            } else {
                src.get(x, y, k)
            }
        }),
    }
}
