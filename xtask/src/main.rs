//! Project tasks, run as `cargo xtask <task>`.
//!
//! - `cargo xtask figures [--only NAME]... [--quick] [--out DIR]`: runs the study's
//!   experiments through the library crates (symstab-core, symstab-sweep) and renders every
//!   figure into `figures/`, each with its data as CSV beside it. `--quick` uses coarse
//!   grids (for tests) and needs an explicit `--out DIR`; `--only` renders the named
//!   figures (`cargo xtask figures --list`).
//!
//! xtask computes nothing of the project's own: every number in a figure comes from a call
//! into the library crates; xtask only contours, colours, lays out and writes files.

// Printing progress and summaries is this binary's job.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod figures;
mod progress;
mod render;

use std::error::Error;
use std::process::ExitCode;

const USAGE: &str = "\
usage: cargo xtask <task>

tasks:
  figures [--only NAME]... [--quick] [--out DIR] [--list]
      run the experiments through the library crates and render figures/ (with CSV data)
      --only NAME   render only this figure (repeatable; see --list)
      --quick       coarse grids and small frames, for tests (seconds instead of a minute);
                    needs --out DIR, so it never overwrites the committed figures/
      --out DIR     write into DIR instead of the repository's figures/
      --list        print the figure names and exit
  help
      print this message";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &[String]) -> Result<(), Box<dyn Error>> {
    match args.first().map(String::as_str) {
        Some("figures") => figures::run(&figures::Options::parse(&args[1..])?),
        Some("help" | "--help" | "-h") | None => {
            println!("{USAGE}");
            Ok(())
        }
        Some(other) => Err(format!("unknown task {other:?}\n\n{USAGE}").into()),
    }
}
