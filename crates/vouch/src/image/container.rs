//! The byte layout shared by image files: an 8-byte magic, a format version, a JSON header and
//! binary blobs (pixels, proofs, parameters) that JSON would bloat.
//!
//! ```text
//! magic[8] | version u32 | header_len u64 | header (JSON) | blob_count u32 | (len u64 | bytes)*
//! ```
//! All integers little-endian. Decoding checks every length against the bytes that remain, so
//! hostile files give an error before any allocation they size.

use serde::{de::DeserializeOwned, Serialize};

use crate::error::VouchError;

/// At most this many blobs in one file.
const MAX_BLOBS: u32 = 4096;

/// Encodes a header and blobs under `magic` / `version`.
pub fn encode<T: Serialize>(
    magic: &[u8; 8],
    version: u32,
    header: &T,
    blobs: &[&[u8]],
) -> Result<Vec<u8>, VouchError> {
    let json = serde_json::to_vec(header).map_err(|e| VouchError::Format {
        what: "image file header".into(),
        msg: e.to_string(),
    })?;
    let mut out =
        Vec::with_capacity(64 + json.len() + blobs.iter().map(|b| b.len() + 8).sum::<usize>());
    out.extend_from_slice(magic);
    out.extend_from_slice(&version.to_le_bytes());
    out.extend_from_slice(&(json.len() as u64).to_le_bytes());
    out.extend_from_slice(&json);
    out.extend_from_slice(&(blobs.len() as u32).to_le_bytes());
    for b in blobs {
        out.extend_from_slice(&(b.len() as u64).to_le_bytes());
        out.extend_from_slice(b);
    }
    Ok(out)
}

/// Decodes what [`encode`] wrote; `what` names the file kind in errors.
pub fn decode<T: DeserializeOwned>(
    magic: &[u8; 8],
    version: u32,
    bytes: &[u8],
    what: &str,
) -> Result<(T, Vec<Vec<u8>>), VouchError> {
    let bad = |msg: String| VouchError::Format {
        what: what.to_string(),
        msg,
    };
    let mut r = Reader { b: bytes, at: 0 };
    if r.take(8).ok() != Some(&magic[..]) {
        return Err(bad(format!(
            "not a {what} (expected magic {})",
            String::from_utf8_lossy(magic)
        )));
    }
    let v = r.u32().map_err(bad)?;
    if v != version {
        return Err(bad(format!(
            "format version {v}, this build reads version {version}"
        )));
    }
    let len = r.u64().map_err(bad)?;
    let json = r.take_u64(len).map_err(bad)?;
    let header: T =
        serde_json::from_slice(json).map_err(|e| bad(format!("malformed header: {e}")))?;
    let n = r.u32().map_err(bad)?;
    if n > MAX_BLOBS {
        return Err(bad(format!("{n} blobs (at most {MAX_BLOBS})")));
    }
    let mut blobs = Vec::with_capacity(n as usize);
    for _ in 0..n {
        let len = r.u64().map_err(bad)?;
        blobs.push(r.take_u64(len).map_err(bad)?.to_vec());
    }
    if r.at != bytes.len() {
        return Err(bad(format!(
            "{} trailing bytes after the last blob",
            bytes.len() - r.at
        )));
    }
    Ok((header, blobs))
}

struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self
            .at
            .checked_add(n)
            .filter(|&e| e <= self.b.len())
            .ok_or_else(|| format!("truncated at byte {} (wanted {n} more)", self.at))?;
        let s = &self.b[self.at..end];
        self.at = end;
        Ok(s)
    }

    fn take_u64(&mut self, n: u64) -> Result<&'a [u8], String> {
        let n = usize::try_from(n).map_err(|_| format!("length {n} is too large"))?;
        self.take(n)
    }

    fn u32(&mut self) -> Result<u32, String> {
        let mut a = [0u8; 4];
        a.copy_from_slice(self.take(4)?);
        Ok(u32::from_le_bytes(a))
    }

    fn u64(&mut self) -> Result<u64, String> {
        let mut a = [0u8; 8];
        a.copy_from_slice(self.take(8)?);
        Ok(u64::from_le_bytes(a))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAGIC: &[u8; 8] = b"VOUCHTST";

    #[test]
    fn round_trips_and_rejects_every_truncation() {
        let bytes = encode(MAGIC, 1, &vec![1u32, 2, 3], &[b"abc", b""]).expect("encode");
        let (h, blobs): (Vec<u32>, _) = decode(MAGIC, 1, &bytes, "test file").expect("decode");
        assert_eq!(h, vec![1, 2, 3]);
        assert_eq!(blobs, vec![b"abc".to_vec(), vec![]]);
        for n in 0..bytes.len() {
            assert!(decode::<Vec<u32>>(MAGIC, 1, &bytes[..n], "test file").is_err());
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(decode::<Vec<u32>>(MAGIC, 1, &longer, "test file").is_err());
        assert!(decode::<Vec<u32>>(MAGIC, 2, &bytes, "test file").is_err());
        assert!(decode::<Vec<u32>>(b"VOUCHXXX", 1, &bytes, "test file").is_err());
    }

    #[test]
    fn huge_lengths_are_refused_before_allocating() {
        let mut b = MAGIC.to_vec();
        b.extend_from_slice(&1u32.to_le_bytes());
        b.extend_from_slice(&u64::MAX.to_le_bytes());
        let err = decode::<Vec<u32>>(MAGIC, 1, &b, "test file").expect_err("huge header");
        assert!(err.to_string().contains("truncated") || err.to_string().contains("too large"));
    }
}
