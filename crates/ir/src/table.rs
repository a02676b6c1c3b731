//! Lookup tables for non-linear functions. A table is generated from a named function and the
//! input/output scales, then stored entry by entry: the stored entries (covered by the program
//! digest) are the semantics, so results never depend on the platform's floating-point library.

use serde::{Deserialize, Serialize};

use crate::tensor::Range;

/// Largest table the IR accepts (2^20 entries), which bounds the range of every looked-up tensor.
pub const MAX_TABLE_ENTRIES: u128 = 1 << 20;

/// The real function a table approximates.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum TableFn {
    Sigmoid,
    Tanh,
    Exp,
    /// Natural logarithm; inputs <= 0 map to the lowest output.
    Log,
    /// Square root; negative inputs map to 0.
    Sqrt,
    /// 1 / x; x = 0 maps to the largest magnitude output.
    Reciprocal,
    /// 1 / sqrt(x); x <= 0 maps to the largest output.
    Rsqrt,
    Erf,
    /// x * Phi(x) with the exact normal CDF (erf form).
    Gelu,
    /// 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
    GeluTanh,
    /// x for x >= 0, alpha * x otherwise.
    LeakyRelu {
        alpha: f64,
    },
    /// x * sigmoid(x).
    Silu,
    /// ln(1 + e^x).
    Softplus,
    /// Identity on real values: rescales between the input and output scales.
    Identity,
    /// max(0, min(1, alpha * x + beta)).
    HardSigmoid {
        alpha: f64,
        beta: f64,
    },
    /// x * max(0, min(1, x / 6 + 1/2)).
    HardSwish,
    /// |x|.
    Abs,
}

impl TableFn {
    pub fn name(&self) -> &'static str {
        match self {
            TableFn::Sigmoid => "sigmoid",
            TableFn::Tanh => "tanh",
            TableFn::Exp => "exp",
            TableFn::Log => "log",
            TableFn::Sqrt => "sqrt",
            TableFn::Reciprocal => "reciprocal",
            TableFn::Rsqrt => "rsqrt",
            TableFn::Erf => "erf",
            TableFn::Gelu => "gelu",
            TableFn::GeluTanh => "gelu_tanh",
            TableFn::LeakyRelu { .. } => "leaky_relu",
            TableFn::Silu => "silu",
            TableFn::Softplus => "softplus",
            TableFn::Identity => "identity",
            TableFn::HardSigmoid { .. } => "hard_sigmoid",
            TableFn::HardSwish => "hard_swish",
            TableFn::Abs => "abs",
        }
    }

    /// The real function, in f64.
    pub fn eval(&self, x: f64) -> f64 {
        match *self {
            TableFn::Sigmoid => 1.0 / (1.0 + (-x).exp()),
            TableFn::Tanh => x.tanh(),
            TableFn::Exp => x.exp(),
            TableFn::Log => {
                if x > 0.0 {
                    x.ln()
                } else {
                    f64::NEG_INFINITY
                }
            }
            TableFn::Sqrt => x.max(0.0).sqrt(),
            TableFn::Reciprocal => {
                if x == 0.0 {
                    f64::INFINITY
                } else {
                    1.0 / x
                }
            }
            TableFn::Rsqrt => {
                if x > 0.0 {
                    1.0 / x.sqrt()
                } else {
                    f64::INFINITY
                }
            }
            TableFn::Erf => erf(x),
            TableFn::Gelu => 0.5 * x * (1.0 + erf(x / std::f64::consts::SQRT_2)),
            TableFn::GeluTanh => {
                let c = (2.0 / std::f64::consts::PI).sqrt();
                0.5 * x * (1.0 + (c * (x + 0.044715 * x * x * x)).tanh())
            }
            TableFn::LeakyRelu { alpha } => {
                if x >= 0.0 {
                    x
                } else {
                    alpha * x
                }
            }
            TableFn::Silu => x / (1.0 + (-x).exp()),
            TableFn::Softplus => {
                if x > 30.0 {
                    x
                } else {
                    x.exp().ln_1p()
                }
            }
            TableFn::Identity => x,
            TableFn::HardSigmoid { alpha, beta } => (alpha * x + beta).clamp(0.0, 1.0),
            TableFn::HardSwish => x * (x / 6.0 + 0.5).clamp(0.0, 1.0),
            TableFn::Abs => x.abs(),
        }
    }
}

/// A materialised table: `y = values[x - domain.lo]` for `x` in `domain`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LookupTable {
    pub func: TableFn,
    /// Real value of one input step.
    pub in_scale: f64,
    /// Real value of one output step.
    pub out_scale: f64,
    pub domain: Range,
    pub values: Vec<i64>,
}

impl LookupTable {
    /// Tabulates `func` on `domain`: entry for integer `x` is
    /// `clamp(round_half_away(func(x * in_scale) / out_scale), out.lo, out.hi)`.
    pub fn generate(
        func: TableFn,
        domain: Range,
        in_scale: f64,
        out_scale: f64,
        out: Range,
    ) -> Self {
        let values = (domain.lo..=domain.hi)
            .map(|x| {
                let y = func.eval(x as f64 * in_scale) / out_scale;
                if y.is_nan() {
                    // Undefined points (e.g. 0 * inf) map to 0, kept inside `out` like every entry.
                    0.max(out.lo).min(out.hi)
                } else if y >= out.hi as f64 {
                    out.hi
                } else if y <= out.lo as f64 {
                    out.lo
                } else {
                    y.round() as i64
                }
            })
            .collect();
        LookupTable {
            func,
            in_scale,
            out_scale,
            domain,
            values,
        }
    }

    /// Output for an input known to lie in the domain.
    #[inline]
    pub fn get(&self, x: i64) -> i64 {
        self.values[(x - self.domain.lo) as usize]
    }

    /// Range of outputs reachable from inputs in `input`.
    pub fn output_range(&self, input: Range) -> Range {
        let from = (input.lo - self.domain.lo) as usize;
        let to = (input.hi - self.domain.lo) as usize;
        let slice = &self.values[from..=to];
        Range {
            lo: slice.iter().copied().min().unwrap_or(0),
            hi: slice.iter().copied().max().unwrap_or(0),
        }
    }
}

/// Error function: Taylor series for |x| < 2.5, continued fraction for erfc beyond (error
/// around 1e-15). Written out so tables do not depend on an external maths crate.
pub fn erf(x: f64) -> f64 {
    let ax = x.abs();
    let r = if ax < 2.5 {
        // Taylor series: erf(x) = 2/sqrt(pi) * sum (-1)^n x^(2n+1) / (n! (2n+1))
        let mut sum = 0.0f64;
        let mut term = ax;
        let x2 = ax * ax;
        let mut n = 0.0f64;
        while term.abs() > 1e-17 * sum.abs().max(1e-300) || n < 3.0 {
            sum += term / (2.0 * n + 1.0);
            n += 1.0;
            term *= -x2 / n;
            if n > 200.0 {
                break;
            }
        }
        sum * 2.0 / std::f64::consts::PI.sqrt()
    } else {
        // Continued fraction for erfc(x) = exp(-x^2)/sqrt(pi) * 1/(x + 1/2/(x + 1/(x + 3/2/(x + ...)))).
        let mut f = 0.0;
        for k in (1..=60).rev() {
            f = (k as f64 / 2.0) / (ax + f);
        }
        1.0 - (-ax * ax).exp() / std::f64::consts::PI.sqrt() / (ax + f)
    };
    if x < 0.0 {
        -r
    } else {
        r
    }
}
