//! The facade's error type, wrapping each layer's typed errors.

use std::path::Path;

use thiserror::Error;

#[derive(Debug, Error)]
pub enum VouchError {
    #[error(transparent)]
    Onnx(#[from] vouch_onnx::OnnxError),
    #[error(transparent)]
    Quant(#[from] vouch_onnx::quantize::QuantError),
    #[error(transparent)]
    Ir(#[from] vouch_ir::IrError),
    #[error(transparent)]
    Npy(#[from] crate::npy::NpyError),
    #[error(transparent)]
    Halo2(#[from] vouch_halo2::Halo2Error),
    /// A gkr failure; a policy gkr cannot prove yet is
    /// `ProgramError::Plan(PlanError::Visibility { .. })`.
    #[error(transparent)]
    Gkr(#[from] vouch_gkr::program::ProgramError),
    #[error(transparent)]
    Image(#[from] vouch_image::ImageError),
    #[error(transparent)]
    Camera(#[from] vouch_image::camera::CameraError),
    #[error(transparent)]
    EditParse(#[from] vouch_image::EditParseError),
    /// Something this build cannot do yet, with what to do instead.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// An ONNX model file that does not import; the cause is the source.
    #[error("{path}")]
    OnnxFile {
        path: String,
        #[source]
        source: Box<vouch_onnx::OnnxError>,
    },
    #[error("{path}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{what}: {msg}")]
    Format { what: String, msg: String },
    #[error("{0} already exists; pass --force to overwrite it")]
    Exists(String),
    #[error("{what}: {msg}")]
    Data { what: String, msg: String },
}

impl VouchError {
    pub fn io(path: &Path, source: std::io::Error) -> Self {
        VouchError::Io {
            path: path.display().to_string(),
            source,
        }
    }

    /// Prefixes a format error with the file it came from.
    pub fn in_file(self, path: &Path) -> Self {
        match self {
            VouchError::Format { what, msg } => VouchError::Format {
                what: format!("{} ({what})", path.display()),
                msg,
            },
            e => e,
        }
    }
}
