//! One module per subcommand.

pub mod client;
pub mod commit;
pub mod compile;
pub mod eval;
pub mod image;
pub mod inspect;
pub mod prove;
pub mod run;
pub mod serve;
pub mod setup;
pub mod verify;

use std::path::PathBuf;

use anyhow::{bail, Context};

/// Where KZG parameters come from, as `setup` and `image edit` take it.
#[derive(clap::Args, Debug)]
pub struct SrsArgs {
    /// KZG parameters from a powers-of-tau ceremony, in halo2's KZG params format.
    #[arg(long)]
    pub srs: Option<PathBuf>,
    /// Expected SHA-256 of the --srs file (64 hex characters).
    #[arg(long, requires = "srs")]
    pub srs_sha256: Option<String>,
    /// Generate the parameters here instead of reading --srs. INSECURE: whoever runs it could
    /// forge proofs; for tests and demos only.
    #[arg(long)]
    pub insecure_dev_setup: bool,
}

impl SrsArgs {
    /// The chosen parameters: exactly one of `--srs` and `--insecure-dev-setup`.
    pub fn resolve(&self) -> anyhow::Result<vouch::halo2::Srs> {
        if self.srs_sha256.is_some() && self.srs.is_none() {
            bail!("--srs-sha256 checks the --srs file; it needs --srs");
        }
        match (&self.srs, self.insecure_dev_setup) {
            (Some(path), false) => {
                let expected = match &self.srs_sha256 {
                    Some(h) => Some(
                        vouch::artifact::from_hex(h)
                            .and_then(|b| <[u8; 32]>::try_from(b).ok())
                            .context("--srs-sha256: expected 64 hex characters")?,
                    ),
                    None => None,
                };
                Ok(vouch::halo2::Srs::file(path, expected))
            }
            (None, true) => Ok(vouch::halo2::Srs::InsecureDev),
            _ => bail!("pass exactly one of --srs PARAMS_FILE or --insecure-dev-setup"),
        }
    }
}
