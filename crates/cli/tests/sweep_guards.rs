//! The sweep's guards through the binary: free disk space, exact sizes of oversized
//! grids, spec differences on resume, merge wording, shards without work, damaged chunks
//! and Ctrl-C.

mod common;

use common::{fails, symstab};

fn path(dir: &tempfile::TempDir, name: &str) -> String {
    dir.path().join(name).display().to_string()
}

#[test]
fn a_run_larger_than_the_free_space_is_refused_before_anything_is_created() {
    let dir = tempfile::tempdir().unwrap();
    let out = path(&dir, "d");
    // 10^12 cells: hundreds of terabytes at the lower bound of the file sizes.
    let (code, msg) = fails(
        &[
            "sweep",
            "--a",
            "-10:10:1000000",
            "--b",
            "-10:10:1000000",
            "--lrs",
            "0.01",
            "--chunk-cells",
            "1000000",
            "--out",
            &out,
        ],
        &[
            "--a/--b/--lrs",
            "1000000 × 1000000 = 1000000000000 start points",
            "would write at least",
            "GiB) free",
        ],
    );
    assert_eq!(code, 2, "bad input exits 2");
    assert_eq!(msg.lines().count(), 1, "{msg}");
    assert!(!dir.path().join("d").exists());
}

#[test]
fn oversized_grids_report_exact_counts() {
    let (_, msg) = fails(
        &[
            "sweep",
            "--a",
            "-10:10:1000000000000",
            "--b",
            "-10:10:1000000000000",
            "--lrs",
            "0.01",
            "--out",
            "/nonexistent-symstab/x",
        ],
        &["--a/--b/--lrs", "1000000000000000000000000 cells"],
    );
    assert!(
        !msg.contains("2003764205206896640") && !msg.contains("16000000000008"),
        "{msg}"
    );
}

#[test]
fn resume_with_another_spec_names_the_fields() {
    let dir = tempfile::tempdir().unwrap();
    let out = path(&dir, "r");
    let run = symstab(&[
        "sweep", "--a", "0:1:3", "--b", "0:1:3", "--lrs", "0.1", "--out", &out,
    ]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    fails(
        &[
            "sweep", "--a", "0:1:3", "--b", "0:1:3", "--lrs", "0.1,0.2", "--out", &out,
        ],
        &["--out", "learning_rates: [0.1] vs [0.1,0.2]"],
    );
}

#[test]
fn merge_names_inputs_and_missing_directories() {
    let dir = tempfile::tempdir().unwrap();
    let (s0, other, out) = (path(&dir, "s0"), path(&dir, "ref"), path(&dir, "m4"));
    for (d, lrs) in [(&s0, "0.1"), (&other, "0.2")] {
        let run = symstab(&[
            "sweep", "--a", "0:1:3", "--b", "0:1:3", "--lrs", lrs, "--out", d,
        ]);
        assert_eq!(run.code, Some(0), "{}", run.stderr);
    }
    let (code, msg) = fails(
        &["merge", &s0, &other, "--out", &out],
        &[
            &format!("merge input {other} holds a different sweep than merge input {s0}"),
            "learning_rates",
        ],
    );
    assert!(!msg.contains("output directory"), "{msg}");
    assert_eq!(code, 2, "a merge of different sweeps is bad input");
    let missing = path(&dir, "nonexist");
    let (code, msg) = fails(
        &["merge", &missing, "--out", &out],
        &[&missing, "does not exist"],
    );
    assert!(!msg.contains("inconsistent"), "{msg}");
    assert_eq!(code, 2, "a missing merge input is bad input");
    assert!(!dir.path().join("m4").exists());
}

#[test]
fn a_shard_without_chunks_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let out = path(&dir, "s");
    fails(
        &[
            "sweep", "--a", "0:1:3", "--b", "0:1:3", "--lrs", "0.1", "--shard", "5/10", "--out",
            &out,
        ],
        &["--shard", "5/10", "1 chunk"],
    );
    assert!(!dir.path().join("s").exists());
}

#[test]
fn a_truncated_chunk_names_the_file_and_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let out = path(&dir, "t");
    let args = [
        "sweep",
        "--a",
        "0:1:10",
        "--b",
        "0:1:10",
        "--lrs",
        "0.1",
        "--chunk-cells",
        "30",
        "--out",
        &out,
    ];
    assert_eq!(symstab(&args).code, Some(0));
    let chunk = dir.path().join("t/chunks/chunk-00000002.csv");
    let text = std::fs::read_to_string(&chunk).unwrap();
    std::fs::write(&chunk, &text[..text.len() / 2]).unwrap();
    std::fs::remove_file(dir.path().join("t/cells.csv")).unwrap();
    fails(&args, &["chunk-00000002.csv", "damaged", "delete it"]);
    std::fs::remove_file(&chunk).unwrap();
    let run = symstab(&args);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(
        run.stderr.contains("(30 computed, 70 reused)"),
        "{}",
        run.stderr
    );
}

#[cfg(unix)]
#[test]
fn ctrl_c_says_the_run_is_resumable_and_exits_130() {
    use std::time::{Duration, Instant};
    let dir = tempfile::tempdir().unwrap();
    let out = path(&dir, "big");
    let args = [
        "sweep",
        "--a",
        "-10:10:300",
        "--b",
        "-10:10:300",
        "--lrs",
        "0.005,0.01,0.015,0.02,0.025",
        "--steps",
        "1000",
        "--chunk-cells",
        "512",
        "--threads",
        "1",
        "--out",
        &out,
    ];
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_symstab"))
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let chunks = dir.path().join("big/chunks");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !std::fs::read_dir(&chunks).is_ok_and(|mut d| {
        d.any(|e| {
            e.unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with("chunk-")
        })
    }) {
        assert!(Instant::now() < deadline, "no chunk was written");
        std::thread::sleep(Duration::from_millis(10));
    }
    let kill = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(130), "{stderr}");
    let line = stderr.lines().last().unwrap();
    assert!(
        line.starts_with("interrupted after ")
            && line.contains(" of 879 chunks; run the same command again to resume"),
        "{stderr}"
    );
    assert!(!dir.path().join("big/cells.csv").exists());
    let run = symstab(&args);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(!run.stderr.contains(" 0 reused"), "{}", run.stderr);
}
