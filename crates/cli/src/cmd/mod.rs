//! One module per subcommand.

pub mod client;
pub mod commit;
pub mod compile;
pub mod eval;
pub mod inspect;
pub mod prove;
pub mod run;
pub mod serve;
pub mod setup;
pub mod verify;
