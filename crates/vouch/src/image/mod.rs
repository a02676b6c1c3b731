//! Attested image edits: a camera signs a hiding commitment to the pixels it captured, and an
//! editor proves that a published image was derived from the signed original by stated edits
//! without revealing the original. Steps chain through hidden intermediates: each step's
//! output commitment is the next step's input commitment.
//!
//! The edit ops, their integer-exact specification and the camera keys live in `vouch-image`;
//! this module adds the proofs (halo2) and the files. See `docs/image-ops.md`.

mod container;
pub mod files;
pub mod pixels;
pub mod workflow;

pub use files::{EditProof, Link, Origin, PrivateImage};
pub use workflow::{
    capture, edit_hidden, edit_publish, pixel_commitment, verify, ImageCheck, ImageRejection,
    ImageVerdict, Published, StepStats, StepSummary,
};
