//! The halo2 `Circuit`: copies a precomputed [`Layout`] into one region.

use std::sync::Arc;

use halo2_axiom::{
    circuit::{Cell, Layouter, SimpleFloorPlanner, Value},
    halo2curves::bn256::Fr,
    plonk::{Any, Circuit, Column, ConstraintSystem, Error},
};

use halo2_axiom::halo2curves::ff::Field;

use crate::config::{Shape, VouchConfig, MAX_LANES, MIN_LANES, RANGE_LANES};
use crate::layout::{fx, Layout};

/// Instance rows before the public tensor values: the statement digest as two 128-bit limbs.
pub const DIGEST_ROWS: usize = 2;

#[derive(Clone, Debug)]
pub struct VouchCircuit {
    pub layout: Arc<Layout>,
    pub shape: Shape,
}

impl VouchCircuit {
    fn fixed_column(cfg: &VouchConfig, i: usize) -> Column<halo2_axiom::plonk::Fixed> {
        let s = &cfg.sel;
        match i {
            // Lanes past this shape's count stand for the empty column (the layout writes none).
            i if i < MAX_LANES => cfg.k.get(i).copied().unwrap_or(cfg.unused_fixed),
            fx::KCONT => cfg.kcont,
            fx::KC => cfg.kc,
            fx::KM => cfg.km,
            fx::KA => cfg.ka,
            fx::KB => cfg.kb,
            fx::KD => cfg.kd,
            fx::KLO => cfg.klo,
            fx::KHI => cfg.khi,
            fx::S_DOT => s.dot,
            fx::S_DOTK => s.dotk,
            fx::S_EW => s.ew,
            fx::S_DIV => s.div,
            fx::S_DIVD => s.divd,
            fx::S_CLAMP => s.clamp,
            fx::S_MAX => s.max,
            fx::S_MIN => s.min,
            fx::S_CONST => s.constant,
            fx::S_RC => s.rc,
            fx::S_RC_CHAIN => s.rc_chain,
            fx::S_POS_FULL => s.pos_full,
            fx::S_POS_PART => s.pos_part,
            fx::RO => cfg.ro,
            i if (fx::RT..fx::RT + RANGE_LANES).contains(&i) => cfg.rt[i - fx::RT],
            fx::FT => cfg.ft,
            fx::S_HORNER_A => s.horner_a,
            fx::S_HORNER_B => s.horner_b,
            fx::S_HORNER_P => s.horner_p,
            fx::S_DOT2 => s.dot2,
            _ => unreachable!("fixed column index {i} out of range"),
        }
    }
}

/// The halo2 cell of a layout location (an error for a column this shape leaves out).
fn cell_at(cfg: &VouchConfig, loc: crate::layout::Loc) -> Result<Cell, Error> {
    cfg.advice(loc.col as usize)
        .map(|c| Cell {
            row_offset: loc.row as usize,
            column: Column::<Any>::from(c),
        })
        .ok_or(Error::Synthesis)
}

impl VouchCircuit {
    fn assign_phase2(
        &self,
        cfg: &VouchConfig,
        layouter: &mut impl Layouter<Fr>,
        values: &Value<crate::layout::Phase2Values>,
    ) -> Result<(), Error> {
        use crate::layout::Phase2Step;
        let l = &self.layout;
        let f = cfg.freivalds.ok_or(Error::Synthesis)?;
        layouter.assign_region(
            || "freivalds",
            |mut region| {
                let get = |pick: fn(&crate::layout::Phase2Values) -> &Vec<Fr>, r: usize| {
                    values.as_ref().map(|v| pick(v)[r])
                };
                for step in &l.phase2 {
                    let (row, two) = match step {
                        Phase2Step::Horner { row, .. } => (*row as usize, None),
                        Phase2Step::HornerP { row, .. } => (*row as usize, Some(false)),
                        Phase2Step::Dot { row, .. } => (*row as usize, Some(true)),
                    };
                    region.assign_advice(f.h, row + 1, get(|v| &v.h, row + 1));
                    if two.is_some() {
                        region.assign_advice(f.p, row, get(|v| &v.p, row));
                    }
                    if two == Some(true) {
                        region.assign_advice(f.q, row, get(|v| &v.q, row));
                    }
                }
                let cell = |loc| cell_at(cfg, loc);
                for &(a, b) in &l.copies2 {
                    region.constrain_equal(cell(a)?, cell(b)?);
                }
                Ok(())
            },
        )
    }
}

impl Circuit<Fr> for VouchCircuit {
    type Config = VouchConfig;
    type FloorPlanner = SimpleFloorPlanner;
    type Params = Shape;

    fn without_witnesses(&self) -> Self {
        self.clone()
    }

    fn params(&self) -> Shape {
        self.shape
    }

    fn configure_with_params(meta: &mut ConstraintSystem<Fr>, shape: Shape) -> VouchConfig {
        VouchConfig::configure(meta, shape)
    }

    fn configure(meta: &mut ConstraintSystem<Fr>) -> VouchConfig {
        VouchConfig::configure(
            meta,
            Shape {
                range_bits: 16,
                gates: crate::config::gate::ALL,
                range_lanes: RANGE_LANES as u32,
                lanes: MIN_LANES as u32,
            },
        )
    }

    fn synthesize(&self, cfg: VouchConfig, mut layouter: impl Layouter<Fr>) -> Result<(), Error> {
        let l = &self.layout;
        let cells = layouter.assign_region(
            || "vouch",
            |mut region| {
                for (c, values) in l.adv.iter().enumerate() {
                    let Some(column) = cfg.advice(c) else {
                        // A column this shape leaves out must hold nothing.
                        if values.iter().any(|v| !bool::from(v.is_zero())) {
                            return Err(Error::Synthesis);
                        }
                        continue;
                    };
                    for (row, v) in values.iter().enumerate() {
                        if !bool::from(v.is_zero()) {
                            region.assign_advice(column, row, Value::known(*v));
                        }
                    }
                }
                for (i, entries) in l.fixed.iter().enumerate() {
                    let column = Self::fixed_column(&cfg, i);
                    if column == cfg.unused_fixed && !entries.is_empty() {
                        // The layout uses a gate its shape left out.
                        return Err(Error::Synthesis);
                    }
                    for &(row, v) in entries {
                        region.assign_fixed(column, row as usize, v);
                    }
                }
                // The lookup table: range entries (bits, x, 0), then function tables.
                let mut row = 0usize;
                for bits in 0..=l.range_bits {
                    let tag = Fr::from(bits as u64);
                    for x in 0..(1u64 << bits) {
                        region.assign_fixed(cfg.t_tag, row, tag);
                        region.assign_fixed(cfg.t_x, row, Fr::from(x));
                        row += 1;
                    }
                }
                for (tag, entries) in &l.tables {
                    for &(x, y) in entries {
                        region.assign_fixed(cfg.t_tag, row, Fr::from(*tag));
                        region.assign_fixed(cfg.t_x, row, crate::field::fr(x as i128));
                        region.assign_fixed(cfg.t_y, row, crate::field::fr(y as i128));
                        row += 1;
                    }
                }
                let cell = |loc| cell_at(&cfg, loc);
                for &(a, b) in &l.copies {
                    region.constrain_equal(cell(a)?, cell(b)?);
                }
                l.public
                    .iter()
                    .map(|&loc| cell(loc))
                    .collect::<Result<Vec<_>, _>>()
            },
        )?;
        for (i, c) in cells.into_iter().enumerate() {
            layouter.constrain_instance(c, cfg.instance, DIGEST_ROWS + i);
        }
        if let Some(f) = cfg.freivalds {
            // Everything above is committed before the challenges exist (halo2 squeezes them
            // from the transcript here); the second phase follows from them.
            layouter.next_phase();
            let values = layouter
                .get_challenge(f.alpha)
                .zip(layouter.get_challenge(f.beta))
                .map(|(a, b)| l.phase2_values(a, b));
            self.assign_phase2(&cfg, &mut layouter, &values)?;
        }
        Ok(())
    }
}
