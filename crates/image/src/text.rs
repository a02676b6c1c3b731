//! The canonical text form of an [`Edit`], used on the command line
//! (`vouch image edit --op crop=10,20,300,200 --op grayscale`) and stored in proof files.
//!
//! Grammar (ASCII, case-sensitive, no whitespace anywhere):
//!
//! ```text
//! edit   = NAME | NAME "=" params
//! int    = ["-"] DIGIT+            (leading zeros allowed on input, never written)
//! crop=X,Y,W,H           flip_h   flip_v   rotate90   rotate180   rotate270
//! resize=W,H,METHOD      METHOD = nearest | bilinear | area   (resize=W,H means bilinear)
//! grayscale              brightness=DELTA   contrast=FACTOR   gamma=GAMMA_MILLI
//! levels=IN_LO,IN_HI,OUT_LO,OUT_HI
//! curves=v0,...,v255     (one table for all channels)
//! curves=r0,...,r255,g0,...,g255,b0,...,b255   (768 values: three tables)
//! color_matrix=m00,m01,m02,m10,m11,m12,m20,m21,m22,o0,o1,o2
//! box_blur=R             gaussian_blur=SIGMA_MILLI   sharpen
//! redact=X,Y,W,H{;X,Y,W,H}[;fill=R,G,B]   (fill defaults to 0,0,0)
//! redact=fill=R,G,B      (no rectangles; written only for such a value, rejected by check_edits)
//! ```
//!
//! Every parameter is an integer in the type of the corresponding [`Edit`] field (`usize`,
//! `u8`, `u32` or `i32`); a minus sign is accepted only for `i32` fields. Parsing checks syntax
//! and types only: ranges, geometry and channel counts stay with [`crate::check_edits`].
//!
//! [`Display`](fmt::Display) writes the canonical form: no leading zeros or `-0`, the resize method and the
//! redact fill always present. For every `Edit` the grammar can express (all of them except
//! `Curves` whose tables are not exactly one or three tables of 256 entries),
//! `e.to_string().parse() == Ok(e)`, and for every string `s` that parses,
//! `s.parse::<Edit>()?.to_string()` is canonical (it parses to the same value and prints
//! itself). Nothing here panics on any input.

use std::fmt::{self, Display, Write as _};
use std::str::FromStr;

use crate::{Edit, Rect};

/// Every op name the text form accepts, in the order of [`Edit`]'s variants.
const OP_NAMES: &str = "crop, flip_h, flip_v, rotate90, rotate180, rotate270, resize, \
    grayscale, brightness, contrast, gamma, levels, curves, color_matrix, box_blur, \
    gaussian_blur, sharpen, redact";

/// Longest user-supplied fragment quoted back in an error message (longer ones are clipped).
const QUOTE_MAX: usize = 40;

/// Why a string is not the text form of an [`Edit`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EditParseError {
    #[error("empty edit: expected NAME or NAME=PARAMS (ops: {OP_NAMES})")]
    Empty,
    #[error("unknown op `{name}` (valid ops: {OP_NAMES})")]
    UnknownOp { name: String },
    #[error("{op}: takes no parameters (write `{op}`)")]
    UnexpectedParams { op: &'static str },
    #[error("{op}: expected {expected} parameters, got {got} (form: `{form}`)")]
    ParamCount {
        op: &'static str,
        expected: &'static str,
        got: usize,
        form: &'static str,
    },
    #[error("{op}: {param} = `{value}` is not an integer")]
    NotInteger {
        op: &'static str,
        param: String,
        value: String,
    },
    #[error("{op}: {param} = {value} is negative, but it is unsigned ({ty})")]
    Negative {
        op: &'static str,
        param: String,
        value: String,
        ty: &'static str,
    },
    #[error(
        "{op}: {param} = {value} is out of range for {ty} ({})",
        type_range(ty)
    )]
    OutOfRange {
        op: &'static str,
        param: String,
        value: String,
        ty: &'static str,
    },
    #[error("resize: unknown method `{method}` (expected nearest, bilinear or area)")]
    ResizeMethod { method: String },
    #[error("redact: `fill=R,G,B` must be the last `;`-separated part (form: `{REDACT_FORM}`)")]
    RedactFillNotLast,
    /// An error in one element of a list given to [`parse_edits`] (index from 0).
    #[error("edit {index}: {source}")]
    At {
        index: usize,
        source: Box<EditParseError>,
    },
}

const REDACT_FORM: &str = "redact=X,Y,W,H[;X,Y,W,H...][;fill=R,G,B]";

/// Parses a list of edits in order; the error names the failing position (from 0).
pub fn parse_edits(list: &[String]) -> Result<Vec<Edit>, EditParseError> {
    list.iter()
        .enumerate()
        .map(|(index, s)| {
            s.parse().map_err(|e| EditParseError::At {
                index,
                source: Box::new(e),
            })
        })
        .collect()
}

/// The canonical text of each edit (inverse of [`parse_edits`]).
pub fn edits_to_text(edits: &[Edit]) -> Vec<String> {
    edits.iter().map(Edit::to_string).collect()
}

/// `s` for an error message, clipped to [`QUOTE_MAX`] characters.
fn quote(s: &str) -> String {
    match s.char_indices().nth(QUOTE_MAX) {
        Some((cut, _)) => format!("{}...", &s[..cut]),
        None => s.to_string(),
    }
}

/// `MIN..=MAX` of a parameter type named by [`ParamInt::TY`].
fn type_range(ty: &str) -> String {
    fn r<T: ParamInt>() -> String {
        format!("{}..={}", T::MIN, T::MAX)
    }
    match ty {
        "u8" => r::<u8>(),
        "u32" => r::<u32>(),
        "usize" => r::<usize>(),
        "i32" => r::<i32>(),
        _ => "?".into(),
    }
}

/// An integer type a parameter can have.
trait ParamInt: FromStr + Display + Copy {
    const TY: &'static str;
    const MIN: Self;
    const MAX: Self;
    const SIGNED: bool;
}

macro_rules! param_int {
    ($($t:ty => $signed:expr),*) => {$(
        impl ParamInt for $t {
            const TY: &'static str = stringify!($t);
            const MIN: Self = <$t>::MIN;
            const MAX: Self = <$t>::MAX;
            const SIGNED: bool = $signed;
        }
    )*};
}
param_int!(u8 => false, u32 => false, usize => false, i32 => true);

/// Parses one integer parameter: `["-"] DIGIT+`, in range for `T`.
fn int<T: ParamInt>(
    op: &'static str,
    param: &dyn Fn() -> String,
    s: &str,
) -> Result<T, EditParseError> {
    let digits = s.strip_prefix('-').unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(EditParseError::NotInteger {
            op,
            param: param(),
            value: quote(s),
        });
    }
    if digits.len() != s.len() && !T::SIGNED {
        return Err(EditParseError::Negative {
            op,
            param: param(),
            value: quote(s),
            ty: T::TY,
        });
    }
    // `s` is now `-?[0-9]+`: the only possible failure is overflow.
    s.parse().map_err(|_| EditParseError::OutOfRange {
        op,
        param: param(),
        value: quote(s),
        ty: T::TY,
    })
}

/// Splits a comma-separated parameter list (`None` or `""` is the empty list).
fn split(params: Option<&str>) -> Vec<&str> {
    match params {
        None | Some("") => Vec::new(),
        Some(p) => p.split(',').collect(),
    }
}

/// Exactly `N` parameters, each of type `T`, named by `names` in errors.
fn fixed<T: ParamInt, const N: usize>(
    op: &'static str,
    form: &'static str,
    expected: &'static str,
    names: [&'static str; N],
    params: Option<&str>,
) -> Result<[T; N], EditParseError> {
    let parts = split(params);
    if parts.len() != N {
        return Err(EditParseError::ParamCount {
            op,
            expected,
            got: parts.len(),
            form,
        });
    }
    let mut out = [T::MIN; N];
    for ((slot, part), name) in out.iter_mut().zip(parts).zip(names) {
        *slot = int(op, &|| name.to_string(), part)?;
    }
    Ok(out)
}

fn parse_resize(params: Option<&str>) -> Result<Edit, EditParseError> {
    const OP: &str = "resize";
    let parts = split(params);
    if !(2..=3).contains(&parts.len()) {
        return Err(EditParseError::ParamCount {
            op: OP,
            expected: "2 or 3",
            got: parts.len(),
            form: "resize=W,H[,nearest|bilinear|area]",
        });
    }
    let w = int(OP, &|| "W".into(), parts[0])?;
    let h = int(OP, &|| "H".into(), parts[1])?;
    Ok(match parts.get(2).copied().unwrap_or("bilinear") {
        "nearest" => Edit::ResizeNearest { w, h },
        "bilinear" => Edit::ResizeBilinear { w, h },
        "area" => Edit::ResizeArea { w, h },
        other => {
            return Err(EditParseError::ResizeMethod {
                method: quote(other),
            })
        }
    })
}

fn parse_curves(params: Option<&str>) -> Result<Edit, EditParseError> {
    const OP: &str = "curves";
    let parts = split(params);
    if parts.len() != 256 && parts.len() != 768 {
        return Err(EditParseError::ParamCount {
            op: OP,
            expected: "256 or 768",
            got: parts.len(),
            form: "curves=v0,...,v255 or curves=r0,...,r255,g0,...,g255,b0,...,b255",
        });
    }
    let values = parts
        .iter()
        .enumerate()
        .map(|(i, p)| int::<u8>(OP, &|| format!("value {i}"), p))
        .collect::<Result<Vec<u8>, _>>()?;
    Ok(Edit::Curves {
        tables: values.chunks(256).map(<[u8]>::to_vec).collect(),
    })
}

fn parse_redact(params: Option<&str>) -> Result<Edit, EditParseError> {
    const OP: &str = "redact";
    let mut groups: Vec<&str> = params.unwrap_or("").split(';').collect();
    let mut fill = [0u8; 3];
    if let Some(last) = groups.last().and_then(|g| g.strip_prefix("fill=")) {
        fill = fixed(
            OP,
            REDACT_FORM,
            "3 fill",
            ["fill R", "fill G", "fill B"],
            Some(last),
        )?;
        groups.pop();
    }
    let mut rects = Vec::with_capacity(groups.len());
    for (k, g) in groups.iter().enumerate() {
        if g.starts_with("fill=") {
            return Err(EditParseError::RedactFillNotLast);
        }
        let parts = split(Some(g));
        if parts.len() != 4 {
            return Err(EditParseError::ParamCount {
                op: OP,
                expected: "4 per rectangle",
                got: parts.len(),
                form: REDACT_FORM,
            });
        }
        let mut v = [0usize; 4];
        for ((slot, part), name) in v.iter_mut().zip(parts).zip(["X", "Y", "W", "H"]) {
            *slot = int(OP, &|| format!("rectangle {k} {name}"), part)?;
        }
        let [x, y, w, h] = v;
        rects.push(Rect { x, y, w, h });
    }
    Ok(Edit::Redact { rects, fill })
}

impl FromStr for Edit {
    type Err = EditParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.is_empty() {
            return Err(EditParseError::Empty);
        }
        let (name, params) = match s.split_once('=') {
            Some((n, p)) => (n, Some(p)),
            None => (s, None),
        };
        let bare = |op: &'static str, e: Edit| match params {
            None => Ok(e),
            Some(_) => Err(EditParseError::UnexpectedParams { op }),
        };
        Ok(match name {
            "crop" => {
                let [x, y, w, h] =
                    fixed("crop", "crop=X,Y,W,H", "4", ["X", "Y", "W", "H"], params)?;
                Edit::Crop { x, y, w, h }
            }
            "flip_h" => bare("flip_h", Edit::FlipH)?,
            "flip_v" => bare("flip_v", Edit::FlipV)?,
            "rotate90" => bare("rotate90", Edit::Rotate90)?,
            "rotate180" => bare("rotate180", Edit::Rotate180)?,
            "rotate270" => bare("rotate270", Edit::Rotate270)?,
            "resize" => parse_resize(params)?,
            "grayscale" => bare("grayscale", Edit::Grayscale)?,
            "brightness" => {
                let [delta] = fixed("brightness", "brightness=DELTA", "1", ["DELTA"], params)?;
                Edit::Brightness { delta }
            }
            "contrast" => {
                let [factor] = fixed("contrast", "contrast=FACTOR", "1", ["FACTOR"], params)?;
                Edit::Contrast { factor }
            }
            "gamma" => {
                let [gamma_milli] =
                    fixed("gamma", "gamma=GAMMA_MILLI", "1", ["GAMMA_MILLI"], params)?;
                Edit::Gamma { gamma_milli }
            }
            "levels" => {
                let [in_lo, in_hi, out_lo, out_hi] = fixed(
                    "levels",
                    "levels=IN_LO,IN_HI,OUT_LO,OUT_HI",
                    "4",
                    ["IN_LO", "IN_HI", "OUT_LO", "OUT_HI"],
                    params,
                )?;
                Edit::Levels {
                    in_lo,
                    in_hi,
                    out_lo,
                    out_hi,
                }
            }
            "curves" => parse_curves(params)?,
            "color_matrix" => {
                let v: [i32; 12] = fixed(
                    "color_matrix",
                    "color_matrix=m00,m01,m02,m10,m11,m12,m20,m21,m22,o0,o1,o2",
                    "12",
                    [
                        "m00", "m01", "m02", "m10", "m11", "m12", "m20", "m21", "m22", "o0", "o1",
                        "o2",
                    ],
                    params,
                )?;
                Edit::ColorMatrix {
                    m: [[v[0], v[1], v[2]], [v[3], v[4], v[5]], [v[6], v[7], v[8]]],
                    offset: [v[9], v[10], v[11]],
                }
            }
            "box_blur" => {
                let [radius] = fixed("box_blur", "box_blur=R", "1", ["R"], params)?;
                Edit::BoxBlur { radius }
            }
            "gaussian_blur" => {
                let [sigma_milli] = fixed(
                    "gaussian_blur",
                    "gaussian_blur=SIGMA_MILLI",
                    "1",
                    ["SIGMA_MILLI"],
                    params,
                )?;
                Edit::GaussianBlur { sigma_milli }
            }
            "sharpen" => bare("sharpen", Edit::Sharpen)?,
            "redact" => parse_redact(params)?,
            other => return Err(EditParseError::UnknownOp { name: quote(other) }),
        })
    }
}

/// Writes `values` separated by commas.
fn list<T: Display>(
    f: &mut fmt::Formatter<'_>,
    values: impl IntoIterator<Item = T>,
) -> fmt::Result {
    for (i, v) in values.into_iter().enumerate() {
        if i > 0 {
            f.write_char(',')?;
        }
        write!(f, "{v}")?;
    }
    Ok(())
}

impl Display for Edit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Edit::Crop { x, y, w, h } => write!(f, "crop={x},{y},{w},{h}"),
            Edit::FlipH => f.write_str("flip_h"),
            Edit::FlipV => f.write_str("flip_v"),
            Edit::Rotate90 => f.write_str("rotate90"),
            Edit::Rotate180 => f.write_str("rotate180"),
            Edit::Rotate270 => f.write_str("rotate270"),
            Edit::ResizeNearest { w, h } => write!(f, "resize={w},{h},nearest"),
            Edit::ResizeBilinear { w, h } => write!(f, "resize={w},{h},bilinear"),
            Edit::ResizeArea { w, h } => write!(f, "resize={w},{h},area"),
            Edit::Grayscale => f.write_str("grayscale"),
            Edit::Brightness { delta } => write!(f, "brightness={delta}"),
            Edit::Contrast { factor } => write!(f, "contrast={factor}"),
            Edit::Gamma { gamma_milli } => write!(f, "gamma={gamma_milli}"),
            Edit::Levels {
                in_lo,
                in_hi,
                out_lo,
                out_hi,
            } => write!(f, "levels={in_lo},{in_hi},{out_lo},{out_hi}"),
            // Tables of other shapes are written the same way (all values in order); only one
            // or three tables of 256 entries parse back.
            Edit::Curves { tables } => {
                f.write_str("curves=")?;
                list(f, tables.iter().flatten())
            }
            Edit::ColorMatrix { m, offset } => {
                f.write_str("color_matrix=")?;
                list(f, m.iter().flatten().chain(offset))
            }
            Edit::BoxBlur { radius } => write!(f, "box_blur={radius}"),
            Edit::GaussianBlur { sigma_milli } => write!(f, "gaussian_blur={sigma_milli}"),
            Edit::Sharpen => f.write_str("sharpen"),
            Edit::Redact { rects, fill } => {
                f.write_str("redact=")?;
                for r in rects {
                    write!(f, "{},{},{},{};", r.x, r.y, r.w, r.h)?;
                }
                let [r, g, b] = fill;
                write!(f, "fill={r},{g},{b}")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn parse(s: &str) -> Result<Edit, EditParseError> {
        s.parse()
    }

    /// `e` prints as `text`, and `text` parses back to `e`.
    fn round_trip(e: Edit, text: &str) {
        assert_eq!(e.to_string(), text);
        assert_eq!(parse(text), Ok(e));
    }

    fn table(seed: u32) -> Vec<u8> {
        (0..256u32)
            .map(|v| (v.wrapping_mul(seed) ^ seed) as u8)
            .collect()
    }

    fn csv(values: &[u8]) -> String {
        values
            .iter()
            .map(u8::to_string)
            .collect::<Vec<_>>()
            .join(",")
    }

    #[test]
    fn every_variant_round_trips() {
        round_trip(
            Edit::Crop {
                x: 10,
                y: 20,
                w: 300,
                h: 200,
            },
            "crop=10,20,300,200",
        );
        round_trip(Edit::FlipH, "flip_h");
        round_trip(Edit::FlipV, "flip_v");
        round_trip(Edit::Rotate90, "rotate90");
        round_trip(Edit::Rotate180, "rotate180");
        round_trip(Edit::Rotate270, "rotate270");
        round_trip(Edit::ResizeNearest { w: 64, h: 36 }, "resize=64,36,nearest");
        round_trip(
            Edit::ResizeBilinear { w: 640, h: 360 },
            "resize=640,360,bilinear",
        );
        round_trip(Edit::ResizeArea { w: 1, h: 2 }, "resize=1,2,area");
        round_trip(Edit::Grayscale, "grayscale");
        round_trip(Edit::Brightness { delta: -40 }, "brightness=-40");
        round_trip(
            Edit::Brightness { delta: i32::MIN },
            "brightness=-2147483648",
        );
        round_trip(Edit::Contrast { factor: 23593 }, "contrast=23593");
        round_trip(Edit::Gamma { gamma_milli: 2200 }, "gamma=2200");
        round_trip(
            Edit::Levels {
                in_lo: 16,
                in_hi: 235,
                out_lo: 255,
                out_hi: 0,
            },
            "levels=16,235,255,0",
        );
        round_trip(
            Edit::ColorMatrix {
                m: [[6390, 12555, 3080], [5687, 11173, 2740], [4430, 8701, 2134]],
                offset: [-1, 0, 1 << 20],
            },
            "color_matrix=6390,12555,3080,5687,11173,2740,4430,8701,2134,-1,0,1048576",
        );
        round_trip(Edit::BoxBlur { radius: 2 }, "box_blur=2");
        round_trip(
            Edit::GaussianBlur { sigma_milli: 1500 },
            "gaussian_blur=1500",
        );
        round_trip(Edit::Sharpen, "sharpen");
        round_trip(
            Edit::Redact {
                rects: vec![Rect {
                    x: 1,
                    y: 2,
                    w: 3,
                    h: 4,
                }],
                fill: [0, 0, 0],
            },
            "redact=1,2,3,4;fill=0,0,0",
        );
        round_trip(
            Edit::Redact {
                rects: vec![
                    Rect {
                        x: 0,
                        y: 0,
                        w: 8,
                        h: 8,
                    },
                    Rect {
                        x: 100,
                        y: 50,
                        w: 20,
                        h: 10,
                    },
                ],
                fill: [255, 128, 7],
            },
            "redact=0,0,8,8;100,50,20,10;fill=255,128,7",
        );
        round_trip(
            Edit::Redact {
                rects: vec![],
                fill: [9, 8, 7],
            },
            "redact=fill=9,8,7",
        );

        let one = table(3);
        round_trip(
            Edit::Curves {
                tables: vec![one.clone()],
            },
            &format!("curves={}", csv(&one)),
        );
        let three = vec![table(5), table(7), table(11)];
        let text = format!("curves={}", csv(&three.concat()));
        assert_eq!(text.split(',').count(), 768);
        round_trip(Edit::Curves { tables: three }, &text);
    }

    #[test]
    fn lenient_inputs_print_canonically() {
        // resize without a method is bilinear; the method is always written.
        assert_eq!(
            parse("resize=640,360"),
            Ok(Edit::ResizeBilinear { w: 640, h: 360 })
        );
        assert_eq!(
            parse("resize=640,360").map(|e| e.to_string()),
            Ok("resize=640,360,bilinear".to_string())
        );
        // redact's fill defaults to black and is always written.
        assert_eq!(
            parse("redact=1,2,3,4").map(|e| e.to_string()),
            Ok("redact=1,2,3,4;fill=0,0,0".to_string())
        );
        // Leading zeros and -0 are accepted but never written.
        assert_eq!(
            parse("crop=007,0,00,1").map(|e| e.to_string()),
            Ok("crop=7,0,0,1".to_string())
        );
        assert_eq!(parse("brightness=-0"), Ok(Edit::Brightness { delta: 0 }));
        assert_eq!(
            parse("brightness=-0").map(|e| e.to_string()),
            Ok("brightness=0".into())
        );
    }

    #[test]
    fn type_limits_parse_semantics_do_not() {
        // Syntax and types only: check_edits rejects these, the parser does not.
        assert_eq!(parse("box_blur=0"), Ok(Edit::BoxBlur { radius: 0 }));
        assert_eq!(
            parse("brightness=1000"),
            Ok(Edit::Brightness { delta: 1000 })
        );
        assert_eq!(
            parse("levels=255,255,255,255"),
            Ok(Edit::Levels {
                in_lo: 255,
                in_hi: 255,
                out_lo: 255,
                out_hi: 255
            })
        );
        assert_eq!(
            parse("contrast=4294967295"),
            Ok(Edit::Contrast { factor: u32::MAX })
        );
        let max = usize::MAX;
        round_trip(
            Edit::Crop {
                x: max,
                y: max,
                w: max,
                h: max,
            },
            &format!("crop={max},{max},{max},{max}"),
        );
    }

    #[test]
    fn unknown_op_lists_the_valid_ones() {
        let err = parse("blur=3").expect_err("unknown op");
        assert_eq!(
            err,
            EditParseError::UnknownOp {
                name: "blur".into()
            }
        );
        let msg = err.to_string();
        assert!(msg.contains("unknown op `blur`"), "{msg}");
        for op in [
            "crop",
            "resize",
            "curves",
            "color_matrix",
            "redact",
            "gaussian_blur",
        ] {
            assert!(msg.contains(op), "{msg} lacks {op}");
        }
        // Names are case-sensitive; Edit::name()'s resize_* names are not the text form.
        assert!(matches!(
            parse("Crop=1,2,3,4"),
            Err(EditParseError::UnknownOp { .. })
        ));
        assert!(matches!(
            parse("resize_bilinear=4,4"),
            Err(EditParseError::UnknownOp { .. })
        ));
        assert!(matches!(parse("=1"), Err(EditParseError::UnknownOp { name }) if name.is_empty()));
        // Whitespace is not part of the grammar.
        assert!(matches!(
            parse(" grayscale"),
            Err(EditParseError::UnknownOp { .. })
        ));
        // Very long names are clipped in the message.
        let long = "x".repeat(10_000);
        let EditParseError::UnknownOp { name } = parse(&long).expect_err("unknown") else {
            panic!("wrong variant");
        };
        assert_eq!(name, format!("{}...", "x".repeat(QUOTE_MAX)));
    }

    #[test]
    fn empty_string() {
        let err = parse("").expect_err("empty");
        assert_eq!(err, EditParseError::Empty);
        assert!(err.to_string().contains("empty edit"), "{err}");
    }

    #[test]
    fn missing_and_extra_params() {
        let crop_missing = EditParseError::ParamCount {
            op: "crop",
            expected: "4",
            got: 3,
            form: "crop=X,Y,W,H",
        };
        assert_eq!(parse("crop=1,2,3"), Err(crop_missing.clone()));
        assert_eq!(
            crop_missing.to_string(),
            "crop: expected 4 parameters, got 3 (form: `crop=X,Y,W,H`)"
        );
        assert!(matches!(
            parse("crop"),
            Err(EditParseError::ParamCount {
                op: "crop",
                got: 0,
                ..
            })
        ));
        assert!(matches!(
            parse("crop="),
            Err(EditParseError::ParamCount {
                op: "crop",
                got: 0,
                ..
            })
        ));
        assert!(matches!(
            parse("crop=1,2,3,4,5"),
            Err(EditParseError::ParamCount {
                op: "crop",
                got: 5,
                ..
            })
        ));
        assert!(matches!(
            parse("brightness"),
            Err(EditParseError::ParamCount {
                op: "brightness",
                expected: "1",
                got: 0,
                ..
            })
        ));
        assert!(matches!(
            parse("resize=640"),
            Err(EditParseError::ParamCount {
                op: "resize",
                expected: "2 or 3",
                got: 1,
                ..
            })
        ));
        assert!(matches!(
            parse("resize=640,360,area,1"),
            Err(EditParseError::ParamCount {
                op: "resize",
                got: 4,
                ..
            })
        ));
        assert!(matches!(
            parse("color_matrix=1,2,3"),
            Err(EditParseError::ParamCount {
                op: "color_matrix",
                expected: "12",
                got: 3,
                ..
            })
        ));
        // Ops without parameters reject any `=...`, even an empty one.
        for op in [
            "flip_h",
            "flip_v",
            "rotate90",
            "rotate180",
            "rotate270",
            "grayscale",
            "sharpen",
        ] {
            let err = parse(&format!("{op}=")).expect_err("params on a bare op");
            assert!(
                matches!(&err, EditParseError::UnexpectedParams { op: o } if *o == op),
                "{err:?}"
            );
            assert!(err.to_string().contains("takes no parameters"), "{err}");
        }
        assert!(matches!(
            parse("sharpen=1"),
            Err(EditParseError::UnexpectedParams { op: "sharpen" })
        ));
    }

    #[test]
    fn non_integer_params() {
        let err = parse("crop=1,two,3,4").expect_err("not an integer");
        assert_eq!(
            err,
            EditParseError::NotInteger {
                op: "crop",
                param: "Y".into(),
                value: "two".into()
            }
        );
        assert_eq!(err.to_string(), "crop: Y = `two` is not an integer");
        for bad in [
            "crop=1,,3,4",
            "crop=1,+2,3,4",
            "crop=1,2.0,3,4",
            "crop=1, 2,3,4",
            "crop=1,-,3,4",
        ] {
            assert!(
                matches!(
                    parse(bad),
                    Err(EditParseError::NotInteger { op: "crop", .. })
                ),
                "{bad}"
            );
        }
        // Non-ASCII digits are not digits here.
        assert!(matches!(
            parse("box_blur=\u{0663}"),
            Err(EditParseError::NotInteger { op: "box_blur", .. })
        ));
        assert!(matches!(
            parse("gamma=2.2"),
            Err(EditParseError::NotInteger { op: "gamma", .. })
        ));
        assert_eq!(
            parse("resize=640,360,cubic"),
            Err(EditParseError::ResizeMethod {
                method: "cubic".into()
            })
        );
    }

    #[test]
    fn overflowing_params() {
        let err = parse("crop=99999999999999999999,0,1,1").expect_err("overflow");
        let EditParseError::OutOfRange {
            op,
            param,
            value,
            ty,
        } = &err
        else {
            panic!("wrong variant {err:?}");
        };
        assert_eq!(
            (*op, param.as_str(), value.as_str(), *ty),
            ("crop", "X", "99999999999999999999", "usize")
        );
        assert!(
            err.to_string()
                .ends_with(&format!("out of range for usize (0..={})", usize::MAX)),
            "{err}"
        );

        let err = parse("levels=0,256,0,255").expect_err("u8 overflow");
        assert_eq!(
            err.to_string(),
            "levels: IN_HI = 256 is out of range for u8 (0..=255)"
        );
        assert!(matches!(
            parse("brightness=-2147483649"),
            Err(EditParseError::OutOfRange {
                op: "brightness",
                ty: "i32",
                ..
            })
        ));
        assert!(matches!(
            parse("contrast=4294967296"),
            Err(EditParseError::OutOfRange {
                op: "contrast",
                ty: "u32",
                ..
            })
        ));
        let err = parse("redact=0,0,1,1;fill=0,300,0").expect_err("fill overflow");
        assert!(
            matches!(&err, EditParseError::OutOfRange { op: "redact", param, .. } if param == "fill G"),
            "{err:?}"
        );
        // Huge values are clipped in the error.
        let huge = "9".repeat(5000);
        let Err(EditParseError::OutOfRange { value, .. }) = parse(&format!("box_blur={huge}"))
        else {
            panic!("expected OutOfRange");
        };
        assert_eq!(value.len(), QUOTE_MAX + 3);
    }

    #[test]
    fn negative_where_unsigned() {
        let err = parse("crop=-1,0,1,1").expect_err("negative");
        assert_eq!(
            err,
            EditParseError::Negative {
                op: "crop",
                param: "X".into(),
                value: "-1".into(),
                ty: "usize"
            }
        );
        assert_eq!(
            err.to_string(),
            "crop: X = -1 is negative, but it is unsigned (usize)"
        );
        assert!(matches!(
            parse("gaussian_blur=-1500"),
            Err(EditParseError::Negative {
                op: "gaussian_blur",
                ty: "u32",
                ..
            })
        ));
        assert!(matches!(
            parse("levels=0,255,-0,255"),
            Err(EditParseError::Negative {
                op: "levels",
                ty: "u8",
                ..
            })
        ));
        // Signed fields take negatives.
        assert!(parse("color_matrix=-1,-2,-3,-4,-5,-6,-7,-8,-9,-10,-11,-12").is_ok());
    }

    #[test]
    fn curves_need_256_or_768_values() {
        let t = table(1);
        let err = parse(&format!("curves={}", csv(&t[..255]))).expect_err("255 values");
        assert!(
            matches!(
                err,
                EditParseError::ParamCount {
                    op: "curves",
                    expected: "256 or 768",
                    got: 255,
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(
            err.to_string()
                .contains("expected 256 or 768 parameters, got 255"),
            "{err}"
        );
        let two = [t.clone(), t.clone()].concat();
        assert!(matches!(
            parse(&format!("curves={}", csv(&two))),
            Err(EditParseError::ParamCount { got: 512, .. })
        ));
        assert!(matches!(
            parse("curves"),
            Err(EditParseError::ParamCount {
                op: "curves",
                got: 0,
                ..
            })
        ));
        let mut text = format!("curves={}", csv(&t));
        text.push('0');
        // The last value became 2550.
        let err = parse(&text).expect_err("u8 overflow");
        assert!(
            matches!(&err, EditParseError::OutOfRange { op: "curves", param, .. } if param == "value 255"),
            "{err:?}"
        );
    }

    #[test]
    fn redact_grammar_errors() {
        assert!(matches!(
            parse("redact"),
            Err(EditParseError::ParamCount {
                op: "redact",
                expected: "4 per rectangle",
                got: 0,
                ..
            })
        ));
        assert!(matches!(
            parse("redact="),
            Err(EditParseError::ParamCount {
                op: "redact",
                got: 0,
                ..
            })
        ));
        // A trailing `;` leaves an empty rectangle.
        assert!(matches!(
            parse("redact=1,2,3,4;"),
            Err(EditParseError::ParamCount {
                op: "redact",
                got: 0,
                ..
            })
        ));
        // The fill is not a 5th-7th rectangle value.
        assert!(matches!(
            parse("redact=1,2,3,4,0,0,0"),
            Err(EditParseError::ParamCount {
                op: "redact",
                got: 7,
                ..
            })
        ));
        assert_eq!(
            parse("redact=fill=1,2,3;1,2,3,4"),
            Err(EditParseError::RedactFillNotLast)
        );
        assert_eq!(
            parse("redact=1,2,3,4;fill=1,2,3;fill=1,2,3"),
            Err(EditParseError::RedactFillNotLast)
        );
        assert!(matches!(
            parse("redact=1,2,3,4;fill=1,2"),
            Err(EditParseError::ParamCount {
                op: "redact",
                expected: "3 fill",
                got: 2,
                ..
            })
        ));
        let err = parse("redact=1,2,3,4;5,6,x,8").expect_err("bad W");
        assert!(
            matches!(&err, EditParseError::NotInteger { param, .. } if param == "rectangle 1 W"),
            "{err:?}"
        );
    }

    #[test]
    fn lists_report_the_position() {
        let ops: Vec<String> = ["crop=10,20,300,200", "resize=640,360,bilinear", "grayscale"]
            .map(String::from)
            .to_vec();
        let edits = parse_edits(&ops).expect("valid list");
        assert_eq!(
            edits,
            vec![
                Edit::Crop {
                    x: 10,
                    y: 20,
                    w: 300,
                    h: 200
                },
                Edit::ResizeBilinear { w: 640, h: 360 },
                Edit::Grayscale
            ]
        );
        assert_eq!(edits_to_text(&edits), ops);
        assert_eq!(parse_edits(&[]), Ok(vec![]));

        let bad: Vec<String> = ["grayscale", "flip_h", "resize=1"]
            .map(String::from)
            .to_vec();
        let err = parse_edits(&bad).expect_err("third is bad");
        let EditParseError::At { index, source } = &err else {
            panic!("wrong variant {err:?}");
        };
        assert_eq!(*index, 2);
        assert!(matches!(
            **source,
            EditParseError::ParamCount { op: "resize", .. }
        ));
        assert!(
            err.to_string()
                .starts_with("edit 2: resize: expected 2 or 3 parameters"),
            "{err}"
        );
    }

    #[test]
    fn parsed_edits_pass_check_edits_where_valid() {
        // The text form feeds check_edits unchanged.
        let ops: Vec<String> = [
            "crop=10,20,300,200",
            "resize=640,360",
            "grayscale",
            "redact=0,0,8,8",
        ]
        .map(String::from)
        .to_vec();
        let edits = parse_edits(&ops).expect("parses");
        let dims = crate::check_edits(400, 300, 3, &edits).expect("valid");
        assert_eq!(dims.last(), Some(&(640, 360, 1)));
    }

    fn rect() -> impl Strategy<Value = Rect> {
        (any::<usize>(), any::<usize>(), 0..5000usize, 0..5000usize).prop_map(|(x, y, w, h)| Rect {
            x,
            y,
            w,
            h,
        })
    }

    /// Every Edit the grammar can express.
    fn edit() -> impl Strategy<Value = Edit> {
        prop_oneof![
            (
                any::<usize>(),
                any::<usize>(),
                any::<usize>(),
                any::<usize>()
            )
                .prop_map(|(x, y, w, h)| Edit::Crop { x, y, w, h }),
            Just(Edit::FlipH),
            Just(Edit::FlipV),
            Just(Edit::Rotate90),
            Just(Edit::Rotate180),
            Just(Edit::Rotate270),
            (any::<usize>(), any::<usize>()).prop_map(|(w, h)| Edit::ResizeNearest { w, h }),
            (any::<usize>(), any::<usize>()).prop_map(|(w, h)| Edit::ResizeBilinear { w, h }),
            (any::<usize>(), any::<usize>()).prop_map(|(w, h)| Edit::ResizeArea { w, h }),
            Just(Edit::Grayscale),
            any::<i32>().prop_map(|delta| Edit::Brightness { delta }),
            any::<u32>().prop_map(|factor| Edit::Contrast { factor }),
            any::<u32>().prop_map(|gamma_milli| Edit::Gamma { gamma_milli }),
            any::<[u8; 4]>().prop_map(|[in_lo, in_hi, out_lo, out_hi]| Edit::Levels {
                in_lo,
                in_hi,
                out_lo,
                out_hi
            }),
            prop_oneof![Just(1usize), Just(3usize)]
                .prop_flat_map(|n| proptest::collection::vec(
                    proptest::collection::vec(any::<u8>(), 256),
                    n
                ))
                .prop_map(|tables| Edit::Curves { tables }),
            (any::<[[i32; 3]; 3]>(), any::<[i32; 3]>())
                .prop_map(|(m, offset)| Edit::ColorMatrix { m, offset }),
            any::<u32>().prop_map(|radius| Edit::BoxBlur { radius }),
            any::<u32>().prop_map(|sigma_milli| Edit::GaussianBlur { sigma_milli }),
            Just(Edit::Sharpen),
            (proptest::collection::vec(rect(), 0..5), any::<[u8; 3]>())
                .prop_map(|(rects, fill)| Edit::Redact { rects, fill }),
        ]
    }

    proptest! {
        #[test]
        fn display_then_parse_is_identity(e in edit()) {
            let text = e.to_string();
            prop_assert!(!text.contains(char::is_whitespace));
            prop_assert_eq!(parse(&text), Ok(e));
        }

        /// Arbitrary strings (biased towards the grammar's alphabet and op names) never panic,
        /// and whatever parses prints canonically: the printed form parses to the same value
        /// and prints itself.
        #[test]
        fn parse_never_panics_and_canonicalises(
            s in "(crop|resize|redact|levels|brightness|color_matrix|gamma|flip_h|x)?=?[-0-9,;a-z=]{0,40}"
        ) {
            if let Ok(e) = parse(&s) {
                let canon = e.to_string();
                prop_assert_eq!(parse(&canon), Ok(e));
                prop_assert_eq!(parse(&canon).map(|e| e.to_string()), Ok(canon));
            }
        }

        #[test]
        fn parse_arbitrary_unicode_never_panics(s in "\\PC{0,64}") {
            match parse(&s) {
                Ok(e) => prop_assert_eq!(parse(&e.to_string()), Ok(e)),
                // Every error renders to a non-empty message.
                Err(err) => prop_assert!(!err.to_string().is_empty()),
            }
        }
    }
}
