//! # Vouch
//!
//! Zero-knowledge proofs that a computation on private data was done honestly: ML inference on
//! a committed model, and edits of camera-signed photos. This facade is what applications use.
//!
//! **Status:** import, quantization, the reference interpreter, halo2 proving (KZG on BN254,
//! hashed tensors included) and gkr proving (sumcheck/GKR with WHIR commitments, no trusted
//! setup; input and output public, weights fixed) are in place; [`prove`] dispatches on the
//! backend. Keys made with `Srs::InsecureDev` are for tests and demos only: they prove nothing
//! to anyone else.
//!
//! | module | purpose |
//! |---|---|
//! | [`ir`] | the quantized integer IR and its reference interpreter (re-export of `vouch-ir`) |
//! | [`onnx`] | ONNX import, calibration, quantization (re-export of `vouch-onnx`) |
//! | [`backend`] | statements, the backend trait, the mock backend, the cost model (`vouch-backend`) |
//! | [`halo2`] | the halo2 backend (re-export of `vouch-halo2`) |
//! | [`gkr`] | the sumcheck/GKR backend (re-export of `vouch-gkr`) |
//! | [`model`] | compile / run / eval workflow |
//! | [`prove`] | setup / prove / verify workflow |
//! | [`artifact`] | versioned file formats (model packages, proofs, keys directories) |
//! | [`npy`] | NumPy `.npy` input files |
//! | [`image`] | attested image edits: capture, edit proofs, chains, verification |
//! | [`image_ops`] | the edit ops, their reference implementation, camera keys (`vouch-image`) |
//!
//! ```no_run
//! use std::path::Path;
//! let compiled = vouch::model::compile(Path::new("model.onnx"), &Default::default())?;
//! println!("model digest {}", compiled.package.digest());
//! # Ok::<(), vouch::VouchError>(())
//! ```

pub mod artifact;
pub mod error;
pub mod image;
pub mod model;
pub mod npy;
pub mod prove;

pub use error::VouchError;
pub use vouch_backend as backend;
pub use vouch_gkr as gkr;
pub use vouch_halo2 as halo2;
pub use vouch_image as image_ops;
pub use vouch_ir as ir;
pub use vouch_onnx as onnx;
