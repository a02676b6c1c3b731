//! One module per subcommand.

pub mod commit;
pub mod compile;
pub mod eval;
pub mod inspect;
pub mod prove;
pub mod run;
pub mod setup;
pub mod verify;
