//! Sweeps through the binary: resumable output directories, shards and their merge,
//! progress and the summary line in a redirected log.

// Exact comparisons are intended: values read back from JSON must be the same bits.
#![allow(clippy::float_cmp)]

mod common;

use std::path::Path;

use common::{json, num, symstab};

const GRID: [&str; 10] = [
    "sweep",
    "--a",
    "-10:10:20",
    "--b",
    "-10:10:20",
    "--lrs",
    "0.01,0.025",
    "--steps",
    "200",
    "--chunk-cells",
];

fn sweep_args<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    let mut args: Vec<&str> = GRID.to_vec();
    args.push("64");
    args.extend_from_slice(extra);
    args
}

/// Outcome counts and total steps of a `cells.csv` (columns found by header name).
fn csv_counts(path: &Path) -> (usize, [usize; 3], u64) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (outcome, steps) = (col("outcome"), col("steps"));
    let mut counts = [0; 3];
    let mut total = 0;
    let mut n = 0;
    for line in lines {
        let fields: Vec<&str> = line.split(',').collect();
        n += 1;
        total += fields[steps].parse::<u64>().unwrap();
        match fields[outcome] {
            "converged" => counts[0] += 1,
            "diverged" => counts[1] += 1,
            "unfinished" => counts[2] += 1,
            other => panic!("outcome {other}"),
        }
    }
    (n, counts, total)
}

#[test]
fn a_sweep_resumes_from_its_output_directory() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("plane");
    let out_s = out.to_str().unwrap();
    let first = json(&sweep_args(&["--out", out_s, "--json"]));
    assert_eq!(first["cells"], 800);
    assert_eq!(first["computed"], 800);
    assert_eq!(first["complete"], true);
    let (n, counts, steps) = csv_counts(&out.join("cells.csv"));
    assert_eq!(n, 800);
    assert_eq!(first["converged"], counts[0]);
    assert_eq!(first["diverged"], counts[1]);
    assert_eq!(first["unfinished"], counts[2]);
    assert_eq!(first["steps"], steps);
    assert!(counts[0] > 0 && counts[1] > 0, "{counts:?}");

    let second = json(&sweep_args(&["--out", out_s, "--json"]));
    assert_eq!(second["computed"], 0);
    assert_eq!(second["reused"], 800);
    assert_eq!(second["steps"], 0);
    assert_eq!(second["converged"], first["converged"]);

    // A different spec into the same directory is refused.
    let mut other = sweep_args(&["--out", out_s, "--json"]);
    other[8] = "300";
    let run = symstab(&other);
    assert_eq!(run.code, Some(2));
    assert!(run.stdout.is_empty());
    assert!(run.stderr.contains("--out"), "{}", run.stderr);
}

#[test]
fn merged_shards_equal_an_unsharded_run() {
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name).to_str().unwrap().to_owned();
    let (whole, s0, s1, merged) = (path("whole"), path("s0"), path("s1"), path("merged"));
    json(&sweep_args(&["--out", &whole, "--json"]));
    let a = json(&sweep_args(&[
        "--out",
        &s0,
        "--shard",
        "0/2",
        "--threads",
        "1",
        "--json",
    ]));
    let b = json(&sweep_args(&[
        "--out",
        &s1,
        "--shard",
        "1/2",
        "--threads",
        "2",
        "--json",
    ]));
    // 800 cells in chunks of 64: 13 chunks, the last of 32 cells; shard 0 holds the even
    // chunks 0, 2, …, 12 and shard 1 the odd ones.
    assert_eq!(a["cells"], 6 * 64 + 32);
    assert_eq!(b["cells"], 6 * 64);
    assert_eq!(a["complete"], true);
    let m = json(&["merge", &s0, &s1, "--out", &merged, "--json"]);
    assert_eq!(m["cells"], 800);
    let read = |d: &str, f: &str| std::fs::read(Path::new(d).join(f)).unwrap();
    assert_eq!(read(&merged, "cells.csv"), read(&whole, "cells.csv"));
    assert_eq!(read(&merged, "cells.json"), read(&whole, "cells.json"));
    let total =
        |v: &serde_json::Value| num(v, "converged") + num(v, "diverged") + num(v, "unfinished");
    assert_eq!(total(&a) + total(&b), 800.0);

    // Merging only one shard cannot complete the sweep.
    let run = symstab(&["merge", &s0, "--out", &path("partial")]);
    assert_eq!(run.code, Some(2));
    assert!(run.stderr.starts_with("error: "), "{}", run.stderr);
}

#[test]
fn progress_and_summary_reach_a_redirected_log() {
    // stderr is a pipe here, not a terminal: plain lines, then the summary line.
    let run = symstab(&sweep_args(&[]));
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert!(lines.iter().any(|l| l.contains("100%")), "{lines:?}");
    assert!(lines.len() <= 6, "too chatty: {lines:?}");
    let summary = lines.last().unwrap();
    for part in [
        "sweep done",
        "800 cells",
        "converged",
        "diverged",
        "unfinished",
        "steps/s",
    ] {
        assert!(summary.contains(part), "{summary}");
    }
}

#[test]
fn orbit_sweeps_and_fused_rounding() {
    let v = json(&[
        "sweep",
        "--orbit",
        "9",
        "--log-alpha",
        "-2.3:2.3:21",
        "--lrs",
        "0.005,0.01,0.02",
        "--steps",
        "1000",
        "--json",
    ]);
    assert_eq!(v["cells"], 63);
    assert_eq!(v["complete"], true);
    assert!(num(&v, "steps") > 0.0);
    let fused = json(&[
        "sweep",
        "--orbit",
        "9",
        "--log-alpha",
        "-2.3:2.3:21",
        "--lrs",
        "0.005,0.01,0.02",
        "--steps",
        "1000",
        "--fused",
        "--json",
    ]);
    assert_eq!(fused["cells"], 63);
    // Far out on the orbit (3α, 3/α) = (30, 0.3) at η = 0.02, 2/λmax ≈ 2/1800 is exceeded.
    assert!(num(&v, "diverged") > 0.0);
}
