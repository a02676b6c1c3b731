//! The prover's side of a [`Plan`]: the values of every column, from the witness.

use super::plan::{Col, Column, Fill, Plan, RequantPart, Source};
use super::ProgramError;

/// Values of every column (`len` entries each; the range region is 2^k long). Public columns
/// take the witness values of their tensor; committed ones are computed by their [`Fill`].
pub fn column_values(plan: &Plan, tensors: &[Vec<i64>]) -> Result<Vec<Vec<i64>>, ProgramError> {
    let mut out: Vec<Vec<i64>> = Vec::with_capacity(plan.columns.len());
    for (c, col) in plan.columns.iter().enumerate() {
        let values = match (&col.source, &col.fill) {
            (Source::Public(id), _) => tensor(tensors, id.index(), col)?,
            (Source::Fixed(v), _) => v.to_vec(),
            (Source::Committed | Source::Fused, None) => Vec::new(),
            (Source::Committed | Source::Fused, Some(fill)) => {
                compute(plan, c, fill, tensors, &out)?
            }
        };
        out.push(values);
    }
    Ok(out)
}

fn tensor(tensors: &[Vec<i64>], i: usize, col: &Column) -> Result<Vec<i64>, ProgramError> {
    let v = tensors.get(i).ok_or_else(|| ProgramError::Witness {
        what: format!("tensor {} is missing from the witness", col.name),
    })?;
    if v.len() != col.len {
        return Err(ProgramError::Witness {
            what: format!(
                "tensor {} has {} values, expected {}",
                col.name,
                v.len(),
                col.len
            ),
        });
    }
    Ok(v.clone())
}

fn requant(x: i64, m: i64, shift: u32) -> (i128, i128) {
    let h: i128 = if shift == 0 { 0 } else { 1 << (shift - 1) };
    let v = x as i128 * m as i128 + h;
    let q = v.div_euclid(1 << shift);
    (q, v - (q << shift))
}

fn compute(
    plan: &Plan,
    c: Col,
    fill: &Fill,
    tensors: &[Vec<i64>],
    done: &[Vec<i64>],
) -> Result<Vec<i64>, ProgramError> {
    let col = &plan.columns[c];
    Ok(match fill {
        Fill::Tensor(id) => tensor(tensors, id.index(), col)?,
        Fill::Mapped { map, input } => map.apply(&done[*input]),
        Fill::MappedPlus {
            map,
            input,
            constant,
        } => map
            .apply(&done[*input])
            .into_iter()
            .zip(constant.iter())
            .map(|(a, b)| a + b)
            .collect(),
        Fill::Select { a, b, max } => done[*a]
            .iter()
            .zip(&done[*b])
            .map(|(&x, &y)| if *max { x.max(y) } else { x.min(y) })
            .collect(),
        Fill::Square { y } => done[*y].iter().map(|&v| v * v).collect(),
        Fill::Product { a, b, shape } => {
            let (m, k, n) = (1usize << shape.m, 1usize << shape.k, 1usize << shape.n);
            let mut c = vec![0i64; shape.batch * m * n];
            for bt in 0..shape.batch {
                let ab = if shape.a_batched { bt * m * k } else { 0 };
                let bb = if shape.b_batched { bt * k * n } else { 0 };
                for i in 0..m {
                    for t in 0..k {
                        let x = done[*a].get(ab + i * k + t).copied().unwrap_or(0);
                        if x == 0 {
                            continue;
                        }
                        for j in 0..n {
                            let y = done[*b].get(bb + t * n + j).copied().unwrap_or(0);
                            c[(bt * m + i) * n + j] += x * y;
                        }
                    }
                }
            }
            c
        }
        Fill::Requant {
            x,
            mults,
            shift,
            part,
        } => done[*x]
            .iter()
            .enumerate()
            .map(|(i, &x)| {
                let m = if mults.len() == 1 { mults[0] } else { mults[i] };
                let (q, rem) = requant(x, m, *shift);
                (match part {
                    RequantPart::Remainder => rem,
                    RequantPart::Over { hi } => (q - *hi as i128).max(0),
                    RequantPart::Under { lo } => (*lo as i128 - q).max(0),
                }) as i64
            })
            .collect(),
        Fill::DivRem { a, b, y, shift } => (0..col.len)
            .map(|i| {
                let (a, b, y) = (
                    done[*a][i] as i128,
                    done[*b][i] as i128,
                    done[*y][i] as i128,
                );
                ((a << (shift + 1)) + b - 2 * b * y) as i64
            })
            .collect(),
        Fill::Limb { expr, shift, bits } => {
            let mut v = vec![expr.constant as i128; col.len];
            for &(k, t) in &expr.terms {
                for (acc, &x) in v.iter_mut().zip(&done[t]) {
                    *acc += k as i128 * x as i128;
                }
            }
            let mask = (1i128 << bits) - 1;
            let mut out = Vec::with_capacity(col.len);
            for (i, x) in v.into_iter().enumerate() {
                if x < 0 {
                    return Err(ProgramError::Witness {
                        what: format!("{}: entry {i} is {x}, below the checked range", col.name),
                    });
                }
                out.push(((x >> shift) & mask) as i64);
            }
            out
        }
        Fill::Multiplicities { lookup } => {
            let l = &plan.lookups[*lookup];
            counts(col, &l.table, &[&done[l.x][..], &done[l.y][..]])?
        }
        Fill::RangeMultiplicities { region } => {
            let r = plan
                .ranges
                .iter()
                .find(|r| r.region == *region)
                .ok_or_else(|| ProgramError::Witness {
                    what: "range multiplicities without a region".into(),
                })?;
            counts(
                col,
                &crate::logup::Table::range(r.bits),
                &[&done[r.region][..]],
            )?
        }
        Fill::Region { bits } => {
            let base = col.loc.map_or(0, |l| l.offset);
            let mut v = vec![0i64; col.len];
            for (l, limb) in plan.columns.iter().enumerate() {
                if let (Some(b), Some(loc)) = (limb.region, limb.loc) {
                    // Limbs of this width inside this region.
                    if b != *bits || loc.offset < base || loc.offset >= base + col.len {
                        continue;
                    }
                    let start = loc.offset - base;
                    v[start..start + done[l].len()].copy_from_slice(&done[l]);
                }
            }
            v
        }
    })
}

fn counts(
    col: &Column,
    table: &crate::logup::Table,
    columns: &[&[i64]],
) -> Result<Vec<i64>, ProgramError> {
    Ok(crate::logup::multiplicities(table, columns)
        .map_err(|e| ProgramError::Witness {
            what: format!("{}: {e}", col.name),
        })?
        .into_iter()
        .map(|m| m as i64)
        .collect())
}
