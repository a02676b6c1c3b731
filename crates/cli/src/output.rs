//! Shared output helpers: JSON printing and small tables.

use serde::Serialize;

/// Prints a value as pretty JSON on stdout.
pub fn json<T: Serialize>(v: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

/// Formats a float compactly for tables.
pub fn num(v: f64) -> String {
    if v == 0.0 {
        "0".into()
    } else if v.is_infinite() {
        "inf".into()
    } else if v.abs() >= 1e4 || v.abs() < 1e-3 {
        format!("{v:.3e}")
    } else {
        format!("{v:.4}")
    }
}

/// Prints rows as an aligned text table.
pub fn table(header: &[&str], rows: &[Vec<String>]) {
    let mut width: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for r in rows {
        for (w, c) in width.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let s: Vec<String> = cells
            .iter()
            .zip(&width)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        println!("  {}", s.join("  ").trim_end());
    };
    line(header.iter().map(|s| s.to_string()).collect());
    line(width.iter().map(|w| "-".repeat(*w)).collect());
    for r in rows {
        line(r.clone());
    }
}

/// The first `n` values, comma-separated, with `, ...` when there are more.
pub fn preview<T: std::fmt::Display>(values: &[T], n: usize) -> String {
    let shown: Vec<String> = values.iter().take(n).map(|v| v.to_string()).collect();
    let more = if values.len() > n { ", ..." } else { "" };
    format!("[{}{more}]", shown.join(", "))
}

/// Printed on stderr whenever keys or a proof come from a locally generated SRS.
pub const INSECURE_WARNING: &str = "WARNING: INSECURE dev setup. The KZG parameters were generated on this machine, so whoever made them could forge proofs: these keys and proofs are for tests and demos only and prove nothing to anyone else. Use --srs with a ceremony file for real keys.";

/// A tensor of a statement as JSON, with the role spelled as on the command line.
pub fn tensor_json(t: &vouch::artifact::TensorSummary) -> serde_json::Value {
    serde_json::json!({
        "tensor": t.tensor,
        "role": vouch::prove::role_name(t.role),
        "name": t.name,
        "shape": t.shape,
        "scale": t.scale,
    })
}
