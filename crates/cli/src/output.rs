//! Writing results: JSON on stdout, human-readable text on stdout, lines on stderr, and
//! files written atomically (a file is either complete or absent).
//!
//! Non-finite numbers are written explicitly: as the strings `"NaN"`, `"inf"`, `"-inf"`
//! in JSON (serde_json would write `null`), and as the same bare tokens in CSV.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};
use serde::Serialize;
use symstab_sweep::SweepError;

use crate::messages::{self, ArgError};
use symstab_sweep::record::Real;
use symstab_sweep::store::write_atomic;

/// Serialises an `f64` field like [`Real`] (`"NaN"`, `"inf"`, `"-inf"` for non-finite
/// values): for `#[serde(serialize_with = "output::real_field")]` on plain `f64` fields.
pub fn real_field<S: serde::Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
    Real(*v).serialize(s)
}

/// A vector of reals serialised with explicit non-finite tokens.
pub fn reals(values: &[f64]) -> Vec<Real> {
    values.iter().copied().map(Real).collect()
}

/// Prints `value` as one JSON object and a newline on stdout.
pub fn print_json<T: Serialize>(value: &T) -> Result<()> {
    let text = serde_json::to_string_pretty(value).context("serialising the result")?;
    print_text(&text)
}

/// Prints text and a newline on stdout.
pub fn print_text(text: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{text}").context("writing to stdout")?;
    out.flush().context("writing to stdout")
}

/// Prints a line on stderr (progress, summaries of long runs). Failures are ignored: a
/// closed stderr must not stop a computation.
pub fn eprint_line(text: &str) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{text}");
}

/// A number as written in CSV: shortest round-trip form, or `NaN`, `inf`, `-inf`.
pub fn csv_number(v: f64) -> String {
    // Rust's Display writes exactly those tokens for non-finite values.
    v.to_string()
}

/// Checks, before any work, that `path` given to argument `arg` can name an output file:
/// it is not a directory and its parent directory exists.
pub fn check_output_file(arg: &str, path: &Path) -> Result<()> {
    let shown = path.display();
    if path.is_dir() {
        return Err(ArgError::new(arg, shown, "is a directory; give a file path").into());
    }
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if !parent.is_dir() {
        // Name the first component on the way that is a file, or else the missing directory.
        let file = parent.ancestors().find(|a| a.is_file());
        let reason = match file {
            Some(f) => messages::bad_output_parent(f, true),
            None => messages::bad_output_parent(parent, false),
        };
        return Err(ArgError::new(arg, shown, reason).into());
    }
    Ok(())
}

/// Checks, before any work, that `path` given to argument `arg` can be an output
/// directory: it is a directory or does not exist yet, and no directory on the way to it
/// is a file.
pub fn check_output_dir(arg: &str, path: &Path) -> Result<()> {
    if path.exists() && !path.is_dir() {
        return Err(ArgError::new(
            arg,
            path.display(),
            "exists and is not a directory; give a directory path",
        )
        .into());
    }
    if let Some(file) = path.ancestors().skip(1).find(|a| a.is_file()) {
        return Err(
            ArgError::new(arg, path.display(), messages::bad_output_parent(file, true)).into(),
        );
    }
    Ok(())
}

/// Writes a CSV file atomically from a header and rows of numbers; errors name argument
/// `arg` and the path.
pub fn write_csv_atomic(
    arg: &str,
    path: &Path,
    header: &[String],
    rows: &[Vec<f64>],
) -> Result<()> {
    write_atomic(path, |w| {
        let mut csv = csv::Writer::from_writer(w);
        let to_err = |e: csv::Error| SweepError::Csv {
            path: path.to_owned(),
            source: e,
        };
        csv.write_record(header).map_err(to_err)?;
        for row in rows {
            csv.write_record(row.iter().map(|&v| csv_number(v)))
                .map_err(to_err)?;
        }
        csv.flush().map_err(|e| SweepError::Io {
            path: path.to_owned(),
            source: e,
        })
    })
    .with_context(|| format!("{arg} {}", path.display()))
}

/// Writes a text file atomically; errors name argument `arg` and the path.
pub fn write_text_atomic(arg: &str, path: &Path, text: &str) -> Result<()> {
    write_atomic(path, |w| {
        w.write_all(text.as_bytes()).map_err(|e| SweepError::Io {
            path: path.to_owned(),
            source: e,
        })
    })
    .with_context(|| format!("{arg} {}", path.display()))
}
