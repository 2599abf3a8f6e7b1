//! Bad input: every case exits non-zero with one line naming the argument and the value,
//! prints nothing on stdout and leaves no file behind.

mod common;

use common::{fails, fails_one_line, symstab, write_problem};

/// Runs `args`, expecting failure with `arg` and `value` named in the message.
fn rejects(args: &[&str], arg: &str, value: &str) {
    fails(args, &[arg, value]);
}

/// Like [`rejects`], and the message is a single line.
fn rejects_one_line(args: &[&str], arg: &str, value: &str) {
    fails_one_line(args, &[arg, value]);
}

#[test]
fn bad_learning_rates_and_steps() {
    let base = ["train", "--start", "1,9", "--json"];
    for (lr, shown) in [
        ("0", "0"),
        ("-0.01", "-0.01"),
        ("NaN", "NaN"),
        ("inf", "inf"),
    ] {
        let mut args = base.to_vec();
        args.extend(["--lr", lr]);
        rejects_one_line(&args, "--lr", shown);
    }
    for steps in ["0", "-5", "1.5", "x"] {
        let mut args = base.to_vec();
        args.extend(["--lr", "0.01", "--steps", steps]);
        rejects_one_line(&args, "--steps", steps);
    }
    rejects_one_line(
        &["train", "--start", "1,9", "--lr", "0.01", "--momentum", "1"],
        "--momentum",
        "1",
    );
    rejects_one_line(
        &["train", "--start", "1,9", "--lr", "0.01", "--clip", "0"],
        "--clip",
        "0",
    );
    rejects_one_line(
        &["critical-lr", "--start", "1,9", "--steps", "0"],
        "--steps",
        "0",
    );
}

#[test]
fn points_of_the_wrong_dimension_or_malformed() {
    rejects_one_line(
        &["hessian", "--point", "1,9,3", "--json"],
        "--point",
        "1,9,3",
    );
    rejects_one_line(&["hessian", "--point", "1", "--json"], "--point", "1");
    rejects_one_line(
        &["hessian", "--point", "1,9", "--factors", "3", "--json"],
        "--point",
        "1,9",
    );
    rejects_one_line(&["hessian", "--point", "1,,9"], "--point", "1,,9");
    rejects_one_line(&["hessian", "--point", "1,NaN"], "--point", "1,NaN");
    rejects_one_line(
        &["train", "--start", "1,9,2", "--lr", "0.01", "--json"],
        "--start",
        "1,9,2",
    );
    rejects_one_line(&["critical-lr", "--start", "7", "--json"], "--start", "7");
    rejects_one_line(&["hessian", "--json"], "--point", "missing");
    rejects_one_line(
        &["hessian", "--point", "1,9", "--samples", "1:2,3"],
        "--samples",
        "1:2,3",
    );
}

#[test]
fn empty_or_malformed_grids() {
    let lrs = ["--lrs", "0.01"];
    for (range, arg) in [
        ("0:1:0", "--a"),
        ("0:1", "--a"),
        ("1:0:5", "--a"),
        ("a:b:n", "--a"),
    ] {
        let mut args = vec!["sweep", "--a", range, "--b", "0:1:3"];
        args.extend(lrs);
        rejects_one_line(&args, arg, range);
    }
    rejects_one_line(
        &[
            "sweep",
            "--orbit",
            "9",
            "--log-alpha",
            "-2:2:0",
            "--lrs",
            "0.01",
        ],
        "--log-alpha",
        "-2:2:0",
    );
    rejects_one_line(
        &["sweep", "--a", "0:1:2", "--b", "0:1:2", "--lrs", ""],
        "--lrs",
        "''",
    );
    rejects_one_line(
        &["sweep", "--a", "0:1:2", "--b", "0:1:2", "--lrs", "0.01,-1"],
        "--lrs",
        "0.01,-1",
    );
    rejects_one_line(
        &[
            "sweep", "--a", "0:1:2", "--b", "0:1:2", "--lrs", "0.01", "--steps", "0",
        ],
        "--steps",
        "0",
    );
    rejects(&["sweep", "--lrs", "0.01"], "--a", "missing");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("s");
    rejects_one_line(
        &[
            "sweep",
            "--a",
            "0:1:2",
            "--b",
            "0:1:2",
            "--lrs",
            "0.01",
            "--out",
            out.to_str().unwrap(),
            "--shard",
            "2/2",
        ],
        "--shard",
        "2/2",
    );
    assert!(!out.exists());
}

#[test]
fn impossible_networks_and_unknown_data() {
    rejects_one_line(
        &["hessian", "--model", "mlp", "--widths", "5,0,1", "--json"],
        "--widths",
        "5,0,1",
    );
    rejects_one_line(
        &["hessian", "--model", "mlp", "--widths", "5", "--json"],
        "--widths",
        "5",
    );
    rejects_one_line(
        &[
            "hessian",
            "--model",
            "mlp",
            "--widths",
            "3,4,1",
            "--data",
            "mnist-ish",
            "--json",
        ],
        "--data",
        "mnist-ish",
    );
    rejects_one_line(
        &[
            "hessian",
            "--model",
            "mlp",
            "--widths",
            "3,4,1",
            "--activation",
            "sigmoid",
        ],
        "--activation",
        "sigmoid",
    );
    rejects_one_line(
        &[
            "hessian",
            "--model",
            "mlp",
            "--widths",
            "3,4,1",
            "--samples",
            "0",
        ],
        "--samples",
        "0",
    );
    rejects_one_line(
        &["hessian", "--model", "mlp", "--json"],
        "--widths",
        "missing",
    );
    rejects_one_line(
        &[
            "hessian", "--model", "mlp", "--widths", "3,4,1", "--point", "1,2",
        ],
        "--point",
        "1,2",
    );
}

#[test]
fn missing_or_malformed_model_files() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.json");
    let missing = missing.to_str().unwrap();
    rejects_one_line(
        &["hessian", "--model-file", missing, "--json"],
        "--model-file",
        missing,
    );

    let truncated = dir.path().join("truncated.json");
    std::fs::write(&truncated, "{\"widths\": [2, 1], \"params\": [0.1,").unwrap();
    let truncated = truncated.to_str().unwrap();
    rejects_one_line(
        &["hessian", "--model-file", truncated],
        "--model-file",
        truncated,
    );

    // Valid JSON, but 2 parameters for a network that has 3.
    let short = dir.path().join("short.json");
    std::fs::write(
        &short,
        r#"{"widths": [2, 1], "params": [0.1, 0.2], "x": [1, 2], "y": [3]}"#,
    )
    .unwrap();
    let short = short.to_str().unwrap();
    rejects_one_line(&["hessian", "--model-file", short], "--model-file", short);

    let good = write_problem(dir.path(), "good.json", &[2, 3, 1], "relu", 4);
    rejects_one_line(
        &["hessian", "--model-file", &good, "--widths", "2,3,1"],
        "--widths",
        "given",
    );
}

#[test]
fn failing_commands_write_no_files() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("t.csv");
    rejects(
        &[
            "train",
            "--start",
            "1,9,1",
            "--lr",
            "0.01",
            "--trajectory",
            csv.to_str().unwrap(),
        ],
        "--start",
        "1,9,1",
    );
    assert!(!csv.exists());

    // A model file into a directory that does not exist: an error, no output, no file.
    let problem = write_problem(dir.path(), "p.json", &[2, 3, 1], "relu", 8);
    let saved = dir.path().join("no-such-dir").join("saved.json");
    rejects(
        &[
            "train",
            "--model-file",
            &problem,
            "--lr",
            "0.01",
            "--steps",
            "5",
            "--save-model",
            saved.to_str().unwrap(),
            "--json",
        ],
        "saved.json",
        "no-such-dir",
    );
    assert!(!saved.exists());
    // --save-model on the toy is refused before running.
    let saved = dir.path().join("saved.json");
    rejects(
        &[
            "train",
            "--start",
            "1,9",
            "--lr",
            "0.01",
            "--save-model",
            saved.to_str().unwrap(),
        ],
        "--save-model",
        "saved.json",
    );
    assert!(!saved.exists());
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers.len(), 1, "{leftovers:?}"); // only p.json
}

#[test]
fn exit_codes_distinguish_usage_errors() {
    // Bad input exits with 2, whether clap or a later check rejects it.
    assert_eq!(symstab(&["hessian", "--bogus"]).code, Some(2));
    assert_eq!(
        symstab(&["train", "--start", "1,9", "--lr", "0"]).code,
        Some(2)
    );
    assert_eq!(symstab(&["hessian", "--point", "1,2,3"]).code, Some(2));
}
