//! `vouch`: compile models into quantized integer programs, run them, prove runs and verify
//! the proofs.
//!
//! Exit codes: 0 success, 1 a negative answer (e.g. a proof that does not verify), 2 a usage or
//! input error (bad arguments, malformed or unsupported files).

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cmd;
mod output;

#[derive(Parser, Debug)]
#[command(
    name = "vouch",
    version,
    about = "Zero-knowledge proofs of honest ML inference and attested image edits"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Import an ONNX model, calibrate, quantize, and write a model package.
    Compile(cmd::compile::Args),
    /// Run the quantized model on an input (.npy or JSON).
    Run(cmd::run::Args),
    /// Top-1 accuracy of the quantized model (and the float model) on a labelled set.
    Eval(cmd::eval::Args),
    /// Make proving and verifying keys for a model under a visibility policy.
    Setup(cmd::setup::Args),
    /// Run the model on an input and prove the run.
    Prove(cmd::prove::Args),
    /// Check a proof (exit status 0 valid, 1 invalid, 2 unreadable files).
    Verify(cmd::verify::Args),
    /// Print the weights commitment a provider publishes (from the model and its keys).
    Commit(cmd::commit::Args),
    /// Say what a Vouch file (or ONNX / .npy file) is and what it holds.
    Inspect(cmd::inspect::Args),
    /// Serve predictions over HTTP and prove each one (see docs/serve.md).
    Serve(cmd::serve::Args),
    /// Use a proving service: send an input, verify the proof locally, print the output.
    #[command(subcommand)]
    Client(cmd::client::Command),
    /// Attested image edits: camera keys, signed captures, edit proofs, verification.
    #[command(subcommand)]
    Image(cmd::image::Command),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Compile(a) => cmd::compile::run(a),
        Command::Run(a) => cmd::run::run(a),
        Command::Eval(a) => cmd::eval::run(a),
        Command::Setup(a) => cmd::setup::run(a),
        Command::Prove(a) => cmd::prove::run(a),
        Command::Verify(a) => cmd::verify::run(a),
        Command::Commit(a) => cmd::commit::run(a),
        Command::Inspect(a) => cmd::inspect::run(a),
        Command::Serve(a) => cmd::serve::run_cmd(a),
        Command::Client(c) => cmd::client::run(c),
        Command::Image(c) => cmd::image::run(c),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
