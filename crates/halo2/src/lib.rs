//! Vouch's halo2 backend: PLONKish proofs of quantized IR programs, KZG commitments on BN254.
//!
//! The flow is `lower` (IR nodes to gadget rows in a [`layout::Layout`]) then `circuit`
//! (the layout copied into halo2 columns whose gates live in `config`), proven and verified by
//! [`backend::Halo2Backend`]. The layout depends only on the program and visibility policy,
//! so setup lays it out with zeros and proving with the interpreter's values.

pub mod backend;
pub mod circuit;
pub mod config;
pub mod error;
pub mod field;
pub mod keys;
pub mod layout;
pub mod lower;
pub mod poseidon;
pub mod srs;
pub mod transcript;

pub use backend::{
    commitment_tag, native_commitment, plan, plan_for, plan_with_lanes, Halo2Backend, Halo2Proof,
    Halo2ProvingKey, Halo2VerifyingKey, KeyInfo, LaneChoice, Plan, PublicSpec,
};
pub use error::Halo2Error;
/// The scalar field of BN254, in which commitments and blindings live.
pub use halo2_axiom::halo2curves::bn256::Fr;
pub use lower::Blindings;
pub use srs::Srs;
