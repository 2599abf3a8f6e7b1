//! Helpers shared by the binary's integration tests: run `symstab`, parse its JSON, and
//! write small problem files.

#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

/// The result of one run of the binary.
pub struct Run {
    /// Exit code (None when killed by a signal).
    pub code: Option<i32>,
    /// Everything written to stdout.
    pub stdout: String,
    /// Everything written to stderr.
    pub stderr: String,
}

/// Runs the built `symstab` with `args` (stdout and stderr are pipes, not terminals).
pub fn symstab(args: &[&str]) -> Run {
    let Output {
        status,
        stdout,
        stderr,
    } = Command::new(env!("CARGO_BIN_EXE_symstab"))
        .args(args)
        .output()
        .expect("the symstab binary runs");
    Run {
        code: status.code(),
        stdout: String::from_utf8(stdout).expect("utf-8 stdout"),
        stderr: String::from_utf8(stderr).expect("utf-8 stderr"),
    }
}

/// Runs `symstab` expecting failure: a non-zero exit code, nothing on stdout and an
/// `error: ` message on stderr containing every string of `needles`. Returns the exit code
/// and the message (trailing whitespace trimmed).
pub fn fails(args: &[&str], needles: &[&str]) -> (i32, String) {
    let run = symstab(args);
    let code = match run.code {
        Some(c) if c != 0 => c,
        _ => panic!("symstab {args:?} succeeded or was killed: {}", run.stdout),
    };
    assert!(
        run.stdout.is_empty(),
        "symstab {args:?} printed {:?}",
        run.stdout
    );
    let message = run.stderr.trim_end().to_owned();
    assert!(
        message.starts_with("error: "),
        "symstab {args:?}: {message:?}"
    );
    for n in needles {
        assert!(
            message.contains(n),
            "symstab {args:?}: {message:?} does not name {n:?}"
        );
    }
    (code, message)
}

/// Like [`fails`], and the message is a single line; returns the message.
pub fn fails_one_line(args: &[&str], needles: &[&str]) -> String {
    let (_, message) = fails(args, needles);
    assert_eq!(message.lines().count(), 1, "symstab {args:?}: {message:?}");
    message
}

/// Runs `symstab` expecting success and one JSON object on stdout.
pub fn json(args: &[&str]) -> Value {
    let run = symstab(args);
    assert_eq!(run.code, Some(0), "symstab {args:?} failed: {}", run.stderr);
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| {
        panic!(
            "symstab {args:?} printed invalid JSON ({e}): {}",
            run.stdout
        )
    })
}

/// A JSON number as f64 (panics with the key when it is not a number).
pub fn num(v: &Value, key: &str) -> f64 {
    v[key]
        .as_f64()
        .unwrap_or_else(|| panic!("{key} is not a number: {v}"))
}

/// A JSON array of numbers.
pub fn nums(v: &Value, key: &str) -> Vec<f64> {
    v[key]
        .as_array()
        .unwrap_or_else(|| panic!("{key} is not an array: {v}"))
        .iter()
        .map(|x| x.as_f64().expect("a number"))
        .collect()
}

/// Deterministic pseudo-random numbers in [-1, 1) (a 64-bit LCG), for test data.
pub fn lcg(seed: u64, n: usize) -> Vec<f64> {
    let mut state = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
    (0..n)
        .map(|_| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            ((state >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
        })
        .collect()
}

/// Writes a small regression problem file (the symstab_core::mlp::ProblemFile format) with
/// the given widths and activation, `n` samples, and returns its path.
pub fn write_problem(
    dir: &Path,
    name: &str,
    widths: &[usize],
    activation: &str,
    n: usize,
) -> String {
    let n_params: usize = widths.windows(2).map(|w| w[0] * w[1] + w[1]).sum();
    let d0 = widths[0];
    let dl = widths[widths.len() - 1];
    let params: Vec<f64> = lcg(1, n_params).iter().map(|v| v * 0.8).collect();
    let x = lcg(2, n * d0);
    let y = lcg(3, n * dl);
    let doc = serde_json::json!({
        "widths": widths,
        "activation": activation,
        "params": params,
        "x": x,
        "y": y,
    });
    let path = dir.join(name);
    std::fs::write(&path, doc.to_string()).expect("write problem file");
    path.display().to_string()
}
