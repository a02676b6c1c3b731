//! Typed errors of the halo2 backend.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum Halo2Error {
    #[error("unsupported by the halo2 backend: {0}")]
    Unsupported(String),
    #[error("node {node} ({op}): {msg}")]
    Node {
        node: String,
        op: &'static str,
        msg: String,
    },
    #[error("witness: {0}")]
    Witness(String),
    #[error("circuit too large: needs 2^{k} rows, the limit is 2^{max}")]
    TooLarge { k: u32, max: u32 },
    #[error("setup parameters: {0}")]
    Srs(String),
    #[error("key: {0}")]
    Key(String),
    #[error("proof rejected: {0}")]
    Invalid(String),
    #[error("halo2: {0}")]
    Halo2(String),
    #[error("internal error (a bug in vouch-halo2): {0}")]
    Internal(String),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

impl Halo2Error {
    /// Names the IR node an error happened in.
    pub fn at_node(self, node: &str, op: &'static str) -> Self {
        match self {
            Halo2Error::Node { .. } => self,
            other => Halo2Error::Node {
                node: node.to_string(),
                op,
                msg: other.to_string(),
            },
        }
    }
}

impl From<halo2_axiom::plonk::Error> for Halo2Error {
    fn from(e: halo2_axiom::plonk::Error) -> Self {
        Halo2Error::Halo2(format!("{e:?}"))
    }
}
