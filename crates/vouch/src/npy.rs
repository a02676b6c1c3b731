//! Minimal `.npy` (NumPy array file) reading and writing: little-endian numeric dtypes in C
//! order, which is what `numpy.save` writes by default. Panic-free on malformed files.

use std::path::Path;

use thiserror::Error;

#[derive(Debug, Error)]
pub enum NpyError {
    #[error("cannot read {path}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not a valid .npy file: {msg}")]
    Format { path: String, msg: String },
}

/// A numeric array converted to `f32` (integers up to 2^24 convert exactly).
#[derive(Clone, Debug, PartialEq)]
pub struct NpyArray {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
    /// The file's dtype descriptor, e.g. `<f4` or `<i8`.
    pub dtype: String,
}

/// Reads an `.npy` file.
pub fn read(path: &Path) -> Result<NpyArray, NpyError> {
    let bytes = std::fs::read(path).map_err(|source| NpyError::Io {
        path: path.display().to_string(),
        source,
    })?;
    parse(&bytes).map_err(|msg| NpyError::Format {
        path: path.display().to_string(),
        msg,
    })
}

/// Parses `.npy` bytes.
pub fn parse(bytes: &[u8]) -> Result<NpyArray, String> {
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Err("missing the \\x93NUMPY magic".into());
    }
    let major = bytes[6];
    let (hlen, start) = match major {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10usize),
        2 | 3 => {
            if bytes.len() < 12 {
                return Err("truncated header".into());
            }
            (
                u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
                12,
            )
        }
        v => return Err(format!("unsupported format version {v}")),
    };
    let header = bytes
        .get(start..start.saturating_add(hlen))
        .ok_or("truncated header")?;
    let header = std::str::from_utf8(header).map_err(|_| "header is not text")?;
    let descr = field(header, "descr").ok_or("header has no descr")?;
    let descr = descr.trim_matches(|c| c == '\'' || c == '"').to_string();
    let fortran = field(header, "fortran_order").ok_or("header has no fortran_order")?;
    if fortran.trim() != "False" {
        return Err(
            "Fortran-order arrays are not supported; save with np.ascontiguousarray".into(),
        );
    }
    let shape_s = field(header, "shape").ok_or("header has no shape")?;
    let shape = shape_s
        .trim()
        .trim_start_matches('(')
        .trim_end_matches(')')
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<usize>()
                .map_err(|_| format!("bad dimension '{s}'"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let numel = shape
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .filter(|&n| n <= 1 << 31)
        .ok_or("array too large")?;
    let body = &bytes[start + hlen..];
    let (width, conv): (usize, fn(&[u8]) -> f32) = match descr.as_str() {
        "<f4" => (4, |b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
        "<f8" => (8, |b| {
            f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]) as f32
        }),
        "<i8" => (8, |b| {
            i64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]) as f32
        }),
        "<i4" => (4, |b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f32),
        "<i2" => (2, |b| i16::from_le_bytes([b[0], b[1]]) as f32),
        "<u2" => (2, |b| u16::from_le_bytes([b[0], b[1]]) as f32),
        "|i1" => (1, |b| b[0] as i8 as f32),
        "|u1" => (1, |b| b[0] as f32),
        "|b1" => (1, |b| (b[0] != 0) as u8 as f32),
        d => {
            return Err(format!(
                "dtype {d} not supported (use float32, float64, int64, int32, int16, uint16, int8, uint8 or bool)"
            ))
        }
    };
    let need = numel.checked_mul(width).ok_or("array too large")?;
    if body.len() < need {
        return Err(format!(
            "data truncated: {} bytes for {numel} elements of {width} bytes",
            body.len()
        ));
    }
    let data = body[..need].chunks_exact(width).map(conv).collect();
    Ok(NpyArray {
        shape,
        data,
        dtype: descr,
    })
}

/// The text after `'key':` up to the next top-level comma in a header dict.
fn field<'a>(header: &'a str, key: &str) -> Option<&'a str> {
    let k = header
        .find(&format!("'{key}'"))
        .or_else(|| header.find(&format!("\"{key}\"")))?;
    let rest = &header[k + key.len() + 2..];
    let rest = rest.trim_start().strip_prefix(':')?.trim_start();
    let mut depth = 0i32;
    for (i, c) in rest.char_indices() {
        match c {
            '(' | '[' => depth += 1,
            ')' | ']' => depth -= 1,
            ',' | '}' if depth == 0 => return Some(&rest[..i]),
            _ => {}
        }
    }
    None
}

/// `.npy` bytes of a float32 array.
pub fn to_bytes_f32(shape: &[usize], data: &[f32]) -> Vec<u8> {
    encode("<f4", shape, data.iter().flat_map(|v| v.to_le_bytes()))
}

/// `.npy` bytes of an int64 array.
pub fn to_bytes_i64(shape: &[usize], data: &[i64]) -> Vec<u8> {
    encode("<i8", shape, data.iter().flat_map(|v| v.to_le_bytes()))
}

fn encode(descr: &str, shape: &[usize], body: impl Iterator<Item = u8>) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let shape_s = match dims.len() {
        1 => format!("({},)", dims[0]),
        _ => format!("({})", dims.join(", ")),
    };
    let mut header =
        format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape_s}, }}");
    // Pad so that the data starts on a 64-byte boundary, ending the header with a newline.
    let total = 10 + header.len() + 1;
    header.push_str(&" ".repeat((64 - total % 64) % 64));
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out.extend(body);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_garbage() {
        let b = to_bytes_f32(&[2, 3], &[1.0, 2.0, 3.0, 4.0, 5.0, -6.5]);
        let a = parse(&b).expect("parses");
        assert_eq!(a.shape, vec![2, 3]);
        assert_eq!(a.data[5], -6.5);
        let b = to_bytes_i64(&[4], &[1, -2, 3, 255]);
        let a = parse(&b).expect("parses");
        assert_eq!(a.data, vec![1.0, -2.0, 3.0, 255.0]);
        for cut in 0..b.len() - 1 {
            assert!(parse(&b[..cut]).is_err(), "prefix of {cut} bytes accepted");
        }
        assert!(parse(b"hello world, not numpy").is_err());
    }
}
