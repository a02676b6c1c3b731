//! The public constants and scalar formulas of the edit-op specification (`docs/image-ops.md`).
//! Both the IR lowering and the reference implementation use these; the per-pixel and
//! geometric parts are written separately in each.

/// Fixed-point precision of every fractional coefficient: values are integers in units of
/// `2^-FRAC_BITS`.
pub const FRAC_BITS: u32 = 14;
/// `1.0` in fixed point (`2^14 = 16384`).
pub const ONE: i64 = 1 << FRAC_BITS;
/// Largest image (input, output or intermediate) in pixels: `2^26`.
pub const MAX_PIXELS: usize = 1 << 26;
/// Largest side length: `2^16`.
pub const MAX_SIDE: usize = 1 << 16;
/// Most edits in one program.
pub const MAX_EDITS: usize = 64;
/// Grayscale coefficients (ITU-R BT.601 luma, 0.299 / 0.587 / 0.114) in units of `2^-14`;
/// they sum to exactly `2^14`. `L = floor((4899 R + 9617 G + 1868 B + 2^13) / 2^14)`.
pub const GRAY_COEFFS: [i64; 3] = [4899, 9617, 1868];
/// Sharpen: `y = clamp(floor((17 c - S + 4) / 8), 0, 255)` where `S` is the 3x3 sum around
/// `c` (centre included), i.e. Pillow's SHARPEN kernel `[-2 x8, 32] / 16`.
pub const SHARPEN_CENTER: i64 = 17;
/// Right shift (division by 8, round half up) of the sharpen sum.
pub const SHARPEN_SHIFT: u32 = 3;
/// Largest box-blur radius.
pub const MAX_BOX_RADIUS: u32 = 64;
/// Gaussian sigma range, in thousandths.
pub const MIN_SIGMA_MILLI: u32 = 100;
pub const MAX_SIGMA_MILLI: u32 = 20_000;
/// Gamma exponent range, in thousandths.
pub const MIN_GAMMA_MILLI: u32 = 10;
pub const MAX_GAMMA_MILLI: u32 = 10_000;
/// Largest magnitude of a colour-matrix coefficient or offset (units of `2^-14`): `2^20`.
pub const MAX_MATRIX_COEFF: i32 = 1 << 20;
/// Largest contrast factor (units of `2^-14`): `2^20` (64x).
pub const MAX_CONTRAST: u32 = 1 << 20;
/// Most input pixels averaged per output pixel along one axis by an area resize.
pub const MAX_AREA_TAPS: usize = 256;

/// Floor division rounding half up: `floor((2a + b) / (2b))` for `b > 0`.
pub fn div_round_half_up(a: i64, b: i64) -> i64 {
    (2 * a + b).div_euclid(2 * b)
}

/// Brightness: `clamp(v + delta, 0, 255)`.
pub fn brightness(v: u8, delta: i32) -> u8 {
    (v as i64 + delta as i64).clamp(0, 255) as u8
}

/// Contrast around 128: `clamp(128 + floor(((v - 128) * f + 2^13) / 2^14), 0, 255)`.
pub fn contrast(v: u8, factor: u32) -> u8 {
    let d = (v as i64 - 128) * factor as i64;
    (128 + ((d + (ONE >> 1)) >> FRAC_BITS)).clamp(0, 255) as u8
}

/// Levels: `c = clamp(v, in_lo, in_hi)`,
/// `y = out_lo + floor((2 (c - in_lo)(out_hi - out_lo) + (in_hi - in_lo)) / (2 (in_hi - in_lo)))`.
/// Requires `in_lo < in_hi`; `out_hi < out_lo` inverts.
pub fn levels(v: u8, in_lo: u8, in_hi: u8, out_lo: u8, out_hi: u8) -> u8 {
    let c = (v.clamp(in_lo, in_hi) - in_lo) as i64;
    let span = (in_hi - in_lo) as i64;
    let y = out_lo as i64 + div_round_half_up(c * (out_hi as i64 - out_lo as i64), span);
    y.clamp(0, 255) as u8
}

/// The gamma table: entry `v` is `round_half_up(255 * (v / 255)^(gamma_milli / 1000))`,
/// computed in IEEE f64 by this function and frozen into the program as 256 integers (the
/// program digest covers them; `docs/image-ops.md` explains).
pub fn gamma_table(gamma_milli: u32) -> [u8; 256] {
    let g = gamma_milli as f64 / 1000.0;
    let mut t = [0u8; 256];
    for (v, e) in t.iter_mut().enumerate() {
        let y = 255.0 * (v as f64 / 255.0).powf(g);
        *e = (y + 0.5).floor().clamp(0.0, 255.0) as u8;
    }
    t
}

/// Integer Gaussian kernel for `sigma = sigma_milli / 1000`: radius `r = ceil(3 sigma)`,
/// taps `t = -r..=r`, `w_t = round(2^14 exp(-t^2 / (2 sigma^2)) / sum)`, then the centre tap
/// absorbs the residual so the kernel sums to exactly `2^14`. Computed in f64 and frozen into
/// the program.
pub fn gaussian_kernel(sigma_milli: u32) -> Vec<i64> {
    let r = ((3 * sigma_milli as i64 + 999) / 1000).max(1);
    let s = sigma_milli as f64 / 1000.0;
    let raw: Vec<f64> = (-r..=r)
        .map(|t| (-((t * t) as f64) / (2.0 * s * s)).exp())
        .collect();
    let total: f64 = raw.iter().sum();
    let mut w: Vec<i64> = raw
        .iter()
        .map(|g| (g / total * ONE as f64).round() as i64)
        .collect();
    let sum: i64 = w.iter().sum();
    w[r as usize] += ONE - sum;
    w
}

/// Bilinear source coordinate for output index `j` (half-pixel centres, clamp to edge):
/// `s = ((2j + 1) * src - dst) / (2 dst)`; `i0 = floor(s)` and `frac = s - i0` (0 when `s < 0`,
/// and `i0 = src - 1`, `frac = 0` when `s >= src - 1`); `w1 = floor(frac * 2^14 + 1/2)`,
/// `w0 = 2^14 - w1`, `i1 = min(i0 + 1, src - 1)`. Returns `(i0, i1, w0, w1)`.
pub fn bilinear_coord(j: usize, src: usize, dst: usize) -> (usize, usize, i64, i64) {
    let num = (2 * j as i64 + 1) * src as i64 - dst as i64;
    let den = 2 * dst as i64;
    let (mut i0, mut r) = if num <= 0 {
        (0, 0)
    } else {
        (num / den, num % den)
    };
    if i0 >= src as i64 - 1 {
        i0 = src as i64 - 1;
        r = 0;
    }
    let w1 = (r * 2 * ONE + den).div_euclid(2 * den);
    let i1 = (i0 + 1).min(src as i64 - 1);
    (i0 as usize, i1 as usize, ONE - w1, w1)
}

/// Nearest source index for output index `j`: `min(floor((2j + 1) * src / (2 dst)), src - 1)`.
pub fn nearest_coord(j: usize, src: usize, dst: usize) -> usize {
    (((2 * j + 1) * src) / (2 * dst)).min(src - 1)
}

/// Area (box) resize weights for output index `j`: output `j` covers `[j src, (j+1) src)` and
/// input `i` covers `[i dst, (i+1) dst)` on a common integer grid; the weight of `i` is the
/// length of the overlap. Weights sum to `src`. Returns `(first input index, weights)`.
pub fn area_weights(j: usize, src: usize, dst: usize) -> (usize, Vec<i64>) {
    let lo = j * src;
    let hi = (j + 1) * src;
    let first = lo / dst;
    let last = (hi - 1) / dst;
    let w = (first..=last)
        .map(|i| (hi.min((i + 1) * dst) - lo.max(i * dst)) as i64)
        .collect();
    (first, w)
}
