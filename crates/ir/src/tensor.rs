//! Integer tensors and their statically known value ranges.

use serde::{Deserialize, Serialize};

use crate::error::{IrError, Result};

/// Largest number of elements a single tensor may have (2^31). Larger dimensions are rejected
/// before any allocation, so a hostile model cannot exhaust memory.
pub const MAX_ELEMENTS: u128 = 1 << 31;

/// Every intermediate value, accumulators included, stays within +-2^62 so that it embeds in the
/// Goldilocks field (p = 2^64 - 2^32 + 1) without wrapping.
pub const VALUE_BOUND: i128 = 1 << 62;

/// Dense row-major integer tensor.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tensor {
    pub shape: Vec<usize>,
    pub data: Vec<i64>,
}

impl Tensor {
    /// A tensor from a shape and row-major data; the lengths must agree.
    pub fn new(shape: Vec<usize>, data: Vec<i64>) -> Result<Self> {
        let n = checked_numel(&shape, "tensor")?;
        if n != data.len() {
            return Err(IrError::Tensor {
                tensor: "tensor".into(),
                msg: format!("shape {shape:?} needs {n} elements, got {}", data.len()),
            });
        }
        Ok(Tensor { shape, data })
    }

    pub fn zeros(shape: Vec<usize>) -> Self {
        let n = shape.iter().product();
        Tensor {
            shape,
            data: vec![0; n],
        }
    }

    pub fn scalar(v: i64) -> Self {
        Tensor {
            shape: vec![],
            data: vec![v],
        }
    }

    pub fn numel(&self) -> usize {
        self.data.len()
    }

    /// Smallest interval containing every element (an empty tensor gives [0, 0]).
    pub fn range(&self) -> Range {
        let lo = self.data.iter().copied().min().unwrap_or(0);
        let hi = self.data.iter().copied().max().unwrap_or(0);
        Range { lo, hi }
    }
}

/// Number of elements of `shape`, refusing shapes whose element count exceeds [`MAX_ELEMENTS`].
///
/// Zero dimensions do not excuse the others: the product of the nonzero dimensions must also
/// stay within the limit, so an empty tensor such as `[0, 2^40, 2^40]` is refused too and every
/// product of a subset of an accepted shape's dimensions fits in a `usize`.
pub fn checked_numel(shape: &[usize], tensor: &str) -> Result<usize> {
    let mut n: u128 = 1;
    let mut nonzero: u128 = 1;
    for &d in shape {
        n = n.saturating_mul(d as u128);
        nonzero = nonzero.saturating_mul((d as u128).max(1));
    }
    if nonzero > MAX_ELEMENTS {
        return Err(IrError::TooLarge {
            tensor: tensor.to_string(),
            elements: nonzero,
            limit: MAX_ELEMENTS,
        });
    }
    Ok(n as usize)
}

/// Row-major strides of a shape.
pub fn strides(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1usize; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        s[i] = s[i + 1] * shape[i + 1];
    }
    s
}

/// Closed interval of integers every element of a tensor lies in. Ranges are derived by
/// construction from the program (and declared for inputs); backends prove them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Range {
    pub lo: i64,
    pub hi: i64,
}

impl Range {
    pub fn new(lo: i64, hi: i64) -> Self {
        Range { lo, hi }
    }

    /// Signed range of a `bits`-bit two's complement integer, e.g. 8 -> [-128, 127]; `bits`
    /// is clamped to 1..=63.
    pub fn signed_bits(bits: u32) -> Self {
        let half = 1i64 << (bits.clamp(1, 63) - 1);
        Range {
            lo: -half,
            hi: half - 1,
        }
    }

    pub fn contains(&self, v: i64) -> bool {
        self.lo <= v && v <= self.hi
    }

    pub fn contains_range(&self, other: &Range) -> bool {
        self.lo <= other.lo && other.hi <= self.hi
    }

    pub fn union(&self, other: &Range) -> Range {
        Range {
            lo: self.lo.min(other.lo),
            hi: self.hi.max(other.hi),
        }
    }

    /// Largest absolute value in the range.
    pub fn abs_max(&self) -> i128 {
        (self.lo as i128).abs().max((self.hi as i128).abs())
    }

    /// Number of distinct values (as u128, never overflows).
    pub fn width(&self) -> u128 {
        (self.hi as i128 - self.lo as i128 + 1).max(0) as u128
    }
}

/// An interval computed in i128 before it is known to fit the value bound.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Wide {
    pub lo: i128,
    pub hi: i128,
}

impl Wide {
    pub fn of(r: Range) -> Self {
        Wide {
            lo: r.lo as i128,
            hi: r.hi as i128,
        }
    }

    /// Interval sum; saturates, so long chains of additions cannot wrap and look small.
    pub fn add(self, o: Wide) -> Wide {
        Wide {
            lo: self.lo.saturating_add(o.lo),
            hi: self.hi.saturating_add(o.hi),
        }
    }

    pub fn sub(self, o: Wide) -> Wide {
        Wide {
            lo: self.lo.saturating_sub(o.hi),
            hi: self.hi.saturating_sub(o.lo),
        }
    }

    pub fn mul(self, o: Wide) -> Wide {
        let c = [
            self.lo.saturating_mul(o.lo),
            self.lo.saturating_mul(o.hi),
            self.hi.saturating_mul(o.lo),
            self.hi.saturating_mul(o.hi),
        ];
        Wide {
            lo: c.iter().copied().min().unwrap_or(0),
            hi: c.iter().copied().max().unwrap_or(0),
        }
    }

    pub fn scale(self, n: i128) -> Wide {
        Wide {
            lo: self.lo.saturating_mul(n),
            hi: self.hi.saturating_mul(n),
        }
    }

    pub fn abs_max(self) -> i128 {
        self.lo.saturating_abs().max(self.hi.saturating_abs())
    }

    /// Narrow to a [`Range`], failing if any value could leave +-2^62.
    pub fn fit(self, what: &str) -> std::result::Result<Range, String> {
        if self.abs_max() >= VALUE_BOUND {
            return Err(format!(
                "{what} may reach {} which exceeds the value bound 2^62; requantize earlier or use fewer bits",
                self.abs_max()
            ));
        }
        Ok(Range {
            lo: self.lo as i64,
            hi: self.hi as i64,
        })
    }
}
