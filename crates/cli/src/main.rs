//! The `symstab` command-line tool: Hessian spectra, training runs, critical learning
//! rates, sweeps, symmetry checks and orbit scans on the toy model and on networks.
//!
//! The binary parses and validates arguments (clap), calls `symstab_core` and
//! `symstab_sweep`, and formats results (text, or one JSON object with `--json`). Exit
//! codes (see [`exit_code`]): 0 on success; 2 for bad input, whether clap rejects it
//! (unknown flags, malformed or out-of-range values) or a later check does (a point of
//! the wrong dimension, a malformed model file, a point whose loss overflows); 1 for a
//! failure while running (writing a file or stdout, a stored sweep that is corrupt).
//! Errors are one line on stderr, and a failing command prints nothing on stdout and
//! leaves no half-written file.

mod cli;
mod commands;
mod messages;
mod output;
mod parse;
mod problem;

use std::process::ExitCode;

use clap::Parser;
use clap::error::{ContextKind, ContextValue, ErrorKind};

use cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return clap_exit(&e),
    };
    let result = match &cli.command {
        Command::Hessian(args) => commands::hessian::run(args),
        Command::Train(args) => commands::train::run(args),
        Command::CriticalLr(args) => commands::critical::run(args),
        Command::Sweep(args) => commands::sweep::run(args),
        Command::Merge(args) => commands::sweep::merge(args),
        Command::CheckSymmetry(args) => commands::symmetry::run(args),
        Command::Orbit(args) => commands::orbit::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            output::eprint_line(&messages::error_line(&e));
            ExitCode::from(exit_code(&e))
        }
    }
}

/// Exit code of bad input, the same as clap's usage errors.
const EXIT_BAD_INPUT: u8 = 2;
/// Exit code of a failure while running.
const EXIT_FAILURE: u8 = 1;

/// The exit code of an error: [`EXIT_BAD_INPUT`] when any error in its chain is bad
/// input — an [`messages::ArgError`], a `symstab_core::Error` (which by contract only
/// reports invalid input), or a sweep error about the input (an invalid spec, an output
/// directory of another sweep, shards that miss chunks, a merge input that is not a sweep
/// or holds another one) — and [`EXIT_FAILURE`] otherwise.
fn exit_code(error: &anyhow::Error) -> u8 {
    use symstab_sweep::SweepError;
    let bad_input = error.chain().any(|cause| {
        cause.is::<messages::ArgError>()
            || cause.is::<symstab_core::Error>()
            || matches!(
                cause.downcast_ref::<SweepError>(),
                Some(
                    SweepError::Invalid(_)
                        | SweepError::SpecMismatch { .. }
                        | SweepError::MissingChunks { .. }
                        | SweepError::NotASweep { .. }
                        | SweepError::MergeInputMismatch { .. }
                )
            )
    });
    if bad_input {
        EXIT_BAD_INPUT
    } else {
        EXIT_FAILURE
    }
}

/// Prints a clap outcome (help, version, usage error) and returns its exit code. A value
/// that failed validation is reported on one line naming the argument and the value.
fn clap_exit(e: &clap::Error) -> ExitCode {
    let code = u8::try_from(e.exit_code()).unwrap_or(2);
    if e.kind() == ErrorKind::ValueValidation {
        let arg = match e.get(ContextKind::InvalidArg) {
            Some(ContextValue::String(s)) => s.clone(),
            _ => "argument".to_owned(),
        };
        let value = match e.get(ContextKind::InvalidValue) {
            Some(ContextValue::String(s)) => s.clone(),
            _ => String::new(),
        };
        let reason = std::error::Error::source(e)
            .map(ToString::to_string)
            .unwrap_or_else(|| "invalid value".to_owned());
        output::eprint_line(&messages::clap_value_error(&arg, &value, &reason));
        return ExitCode::from(code);
    }
    // Help and version go to stdout, usage errors to stderr (clap decides).
    let _ = e.print();
    ExitCode::from(code)
}
