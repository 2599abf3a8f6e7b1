//! Oversized inputs are rejected up front with one line naming the argument, the value and
//! the memory it would need, and leave no file or directory behind; interrupted runs leave
//! no stale temporary file after a resume; error messages name the flag and path once;
//! null values in JSON output come with their reason.

mod common;

use std::path::Path;

use common::{fails, symstab};

/// Runs `args`, expecting exit code 2 (bad input), nothing on stdout and one error line containing
/// every string of `needles`; returns the line.
fn fails_with(args: &[&str], needles: &[&str]) -> String {
    let (code, line) = fails(args, needles);
    assert_eq!(code, 2, "symstab {args:?}: {line:?}");
    assert_eq!(line.lines().count(), 1, "{line:?}");
    line
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("symstab-limits-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[test]
fn huge_in_memory_sweep_names_the_grid_and_the_bytes() {
    fails_with(
        &[
            "sweep",
            "--a",
            "0:1:100000",
            "--b",
            "0:1:100000",
            "--lrs",
            "0.01",
            "--json",
        ],
        &[
            "--a/--b/--lrs",
            "10000000000 start points",
            "GiB",
            "above the cap",
            // A directory has no cap on the number of cells (its files are streamed).
            "use --out DIR",
        ],
    );
}

#[test]
fn huge_sweep_into_a_directory_leaves_nothing_behind() {
    let dir = temp_dir("huge");
    let d = dir.to_str().unwrap();
    fails_with(
        &[
            "sweep",
            "--a",
            "0:1:100000000",
            "--b",
            "0:1:100000000",
            "--lrs",
            "0.01",
            "--out",
            d,
        ],
        &["--a/--b/--lrs", "chunk list", "above the cap"],
    );
    assert!(!Path::new(d).exists(), "{d} was created");
    // A grid that fits but a chunk size too large for memory names --chunk-cells.
    fails_with(
        &[
            "sweep",
            "--a",
            "0:1:6000",
            "--b",
            "0:1:6000",
            "--lrs",
            "0.01",
            "--out",
            d,
            "--chunk-cells",
            "36000000",
            "--threads",
            "2",
        ],
        &[
            "--chunk-cells",
            "36000000",
            "chunks in flight",
            "above the cap",
        ],
    );
    assert!(!Path::new(d).exists(), "{d} was created");
}

#[test]
fn huge_networks_name_widths_samples_or_method() {
    fails_with(
        &[
            "hessian",
            "--model",
            "mlp",
            "--widths",
            "100000,100000,1",
            "--samples",
            "1",
        ],
        &[
            "--widths",
            "100000,100000,1",
            "10000200001 parameters",
            "cap",
        ],
    );
    fails_with(
        &[
            "hessian",
            "--model",
            "mlp",
            "--widths",
            "5,3,1",
            "--data",
            "teacher",
            "--samples",
            "100000000000",
        ],
        &["--samples", "100000000000", "bytes", "cap"],
    );
    fails_with(
        &[
            "hessian",
            "--model",
            "mlp",
            "--widths",
            "200,200,1",
            "--samples",
            "1",
            "--method",
            "dense",
        ],
        &["--method", "dense", "40401 parameters", "--method lanczos"],
    );
}

#[test]
fn resume_removes_temp_files_of_an_interrupted_run() {
    let dir = temp_dir("resume");
    let d = dir.to_str().unwrap();
    let args = [
        "sweep",
        "--a",
        "0:1:8",
        "--b",
        "0:1:8",
        "--lrs",
        "0.01",
        "--chunk-cells",
        "16",
        "--out",
        d,
    ];
    assert_eq!(symstab(&args).code, Some(0));
    // What a run killed mid-write leaves: a hidden temp file of a process no longer running,
    // and the chunk it was writing missing.
    let stale = dir
        .join("chunks")
        .join(".chunk-00000001.csv.tmp-4294967000-7");
    std::fs::write(&stale, "index,lr").unwrap();
    std::fs::remove_file(dir.join("chunks").join("chunk-00000001.csv")).unwrap();
    let run = symstab(&args);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(run.stderr.contains("16 computed"), "{}", run.stderr);
    assert!(!stale.exists(), "the stale temp file survived the resume");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn output_paths_are_checked_before_work_naming_the_flag() {
    let dir = temp_dir("paths");
    std::fs::create_dir_all(&dir).unwrap();
    let d = dir.to_str().unwrap();
    let file = dir.join("afile");
    std::fs::write(&file, "x").unwrap();
    let f = file.to_str().unwrap();
    for flag in ["--save-model", "--trajectory"] {
        let line = fails_with(
            &[
                "train", "--model", "mlp", "--widths", "3,2,1", "--lr", "0.01", "--steps", "3",
                flag, d,
            ],
            &[flag, d, "is a directory"],
        );
        assert!(!line.contains("os error"), "{line}");
    }
    let missing = dir.join("nope").join("x.json");
    let m = missing.to_str().unwrap();
    let line = fails_with(
        &[
            "train",
            "--model",
            "mlp",
            "--widths",
            "3,2,1",
            "--lr",
            "0.01",
            "--save-model",
            m,
        ],
        &["--save-model", m, "does not exist"],
    );
    assert!(!line.contains(".tmp-"), "{line}");
    fails_with(
        &[
            "sweep", "--a", "0:1:2", "--b", "0:1:2", "--lrs", "0.01", "--out", f,
        ],
        &["--out", f, "not a directory"],
    );
    // A merge with a shard missing names the missing chunks and every directory searched.
    let s0 = dir.join("s0");
    let s0 = s0.to_str().unwrap();
    let run = symstab(&[
        "sweep",
        "--a",
        "0:1:4",
        "--b",
        "0:1:4",
        "--lrs",
        "0.01",
        "--chunk-cells",
        "4",
        "--shard",
        "0/2",
        "--out",
        s0,
    ]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    fails_with(&["merge", s0, "--out", f], &["--out", f, "not a directory"]);
    let out = dir.join("merged");
    let o = out.to_str().unwrap();
    fails_with(
        &["merge", s0, "--out", o],
        &[
            "2 of 4 chunks missing from every given shard directory",
            s0,
            "chunks 1, 3",
        ],
    );
    assert!(!out.exists());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn overflowing_hessians_and_non_object_model_files_say_what_is_wrong() {
    fails_with(
        &["hessian", "--point", "1e200,1e200"],
        &["--point", "1e200,1e200", "the Hessian there overflowed"],
    );
    for method in ["lanczos", "power"] {
        fails_with(
            &["hessian", "--point", "1e200,1e200", "--method", method],
            &[
                "--point",
                "1e200,1e200",
                "Hessian-vector products there overflowed",
            ],
        );
    }
    let dir = temp_dir("files");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("array.json");
    std::fs::write(&file, "[1, 2, 3]").unwrap();
    fails_with(
        &["hessian", "--model-file", file.to_str().unwrap()],
        &[
            "--model-file",
            "one JSON object with keys widths, params",
            "holds an array",
        ],
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn every_null_in_json_output_comes_with_its_reason() {
    let v = common::json(&["critical-lr", "--start", "0,0", "--json"]);
    assert!(v["critical_lr"].is_null() && v["ratio"].is_null());
    let reason = v["reason"].as_str().expect("a reason string");
    assert!(
        reason.contains("no divergence found up to the maximum learning rate 1000000"),
        "{reason}"
    );
    // Nothing null, no reason.
    let v = common::json(&["critical-lr", "--start", "1,9", "--json"]);
    assert!(
        !v["critical_lr"].is_null() && v.get("reason").is_none(),
        "{v}"
    );

    for method in ["dense", "lanczos", "power"] {
        let v = common::json(&["hessian", "--point", "1,9", "--method", method, "--json"]);
        let notes: Vec<&str> = v["notes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n.as_str().unwrap())
            .collect();
        for (key, value) in v.as_object().unwrap() {
            if value.is_null() {
                assert!(
                    notes.iter().any(|n| n.contains(&format!("{key} "))),
                    "{method}: {key} is null without a note: {notes:?}"
                );
            }
        }
        assert_eq!(
            !notes.is_empty(),
            method != "lanczos",
            "{method}: {notes:?}"
        );
    }
    let help = symstab(&["hessian", "--help"]).stdout;
    assert!(
        help.contains("null means \"not computed by this method\""),
        "{help}"
    );
}

#[test]
fn conflicting_or_trivial_options_are_rejected() {
    let dir = temp_dir("conflict");
    std::fs::create_dir_all(&dir).unwrap();
    let file = common::write_problem(&dir, "p.json", &[2, 3, 1], "tanh", 4);
    let f = file.as_str();
    assert_eq!(
        symstab(&["hessian", "--model-file", f, "--json"]).code,
        Some(0)
    );
    let run = symstab(&["hessian", "--model", "toy", "--model-file", f]);
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    assert!(
        run.stderr.contains("--model <MODEL>") && run.stderr.contains("--model-file"),
        "{}",
        run.stderr
    );
    let _ = std::fs::remove_dir_all(&dir);

    fails_with(
        &[
            "check-symmetry",
            "--model",
            "mlp",
            "--widths",
            "5,1",
            "--action",
            "permute",
        ],
        &["--widths", "5,1", "no hidden layer", "--action permute"],
    );
    fails_with(
        &[
            "check-symmetry",
            "--model",
            "mlp",
            "--widths",
            "5,1,1",
            "--action",
            "permute",
        ],
        &["--widths", "5,1,1", "--action permute"],
    );
    assert_eq!(
        symstab(&[
            "check-symmetry",
            "--model",
            "mlp",
            "--widths",
            "5,3,1",
            "--action",
            "permute",
            "--samples",
            "20"
        ])
        .code,
        Some(0)
    );
    let help = symstab(&["sweep", "--help"]).stdout;
    assert!(help.contains("(√|c|·α, sign(c)·√|c|/α)"), "{help}");
}

#[test]
fn a_trajectory_too_large_for_memory_is_refused_before_running() {
    let dir = temp_dir("trajectory");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("t.csv");
    let p = path.to_str().unwrap();
    let args = [
        "train",
        "--start",
        "1,9",
        "--lr",
        "0.01",
        "--steps",
        "4000000000",
    ];
    fails_with(
        &args
            .iter()
            .copied()
            .chain(["--trajectory", p])
            .collect::<Vec<_>>(),
        &["--steps", "4000000000", "--trajectory", "above the cap"],
    );
    assert!(!path.exists(), "{p} was written");
    let _ = std::fs::remove_dir_all(&dir);
}
