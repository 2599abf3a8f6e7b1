//! The rules every message and exit code keeps, one test per kind of problem: bad input
//! exits 2 wherever it is found, failures while running exit 1; results that overflow
//! because of the input are errors naming the argument; errors from the libraries name the
//! argument and value; floats in text are short; wording says what is wrong; JSON writes
//! non-finite numbers as explicit strings.

mod common;

use std::process::{Command, Stdio};

use common::{fails_one_line, json, symstab, write_problem};

/// Runs `args`, expecting bad input: exit code 2 and one line naming every needle.
fn bad_input(args: &[&str], needles: &[&str]) -> String {
    let run = symstab(args);
    assert_eq!(run.code, Some(2), "symstab {args:?}: {}", run.stderr);
    fails_one_line(args, needles)
}

/// A regression problem file whose parameters are those of `write_problem` × `scale`.
fn scaled_problem(dir: &std::path::Path, name: &str, scale: f64) -> String {
    let small = write_problem(dir, &format!("{name}-base.json"), &[2, 3, 1], "relu", 4);
    let mut doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&small).unwrap()).unwrap();
    for p in doc["params"].as_array_mut().unwrap() {
        *p = serde_json::json!(p.as_f64().unwrap() * scale);
    }
    let path = dir.join(name);
    std::fs::write(&path, doc.to_string()).unwrap();
    path.display().to_string()
}

#[test]
fn bad_input_exits_2_wherever_it_is_found_and_run_failures_exit_1() {
    // Rejected by clap's value parsers.
    bad_input(&["train", "--start", "1,9", "--lr", "0"], &["--lr", "0"]);
    bad_input(
        &["critical-lr", "--start", "1,9", "--relative-tolerance", "0"],
        &["--relative-tolerance", "0"],
    );
    // Rejected by later checks: the same exit code.
    bad_input(&["hessian", "--point", "1,9,3"], &["--point", "1,9,3"]);
    bad_input(
        &["critical-lr", "--start", "1,9", "--relative-tolerance", "5"],
        &["--relative-tolerance", "5"],
    );
    bad_input(
        &["hessian", "--model-file", "/nonexistent/problem.json"],
        &["--model-file", "/nonexistent/problem.json"],
    );
    bad_input(
        &["orbit", "--model", "toy"],
        &["--model", "toy", "symstab orbit scans networks"],
    );
    // A failure while running (stdout cannot be written) exits 1.
    let status = Command::new(env!("CARGO_BIN_EXE_symstab"))
        .args(["hessian", "--point", "1,9", "--json"])
        .stdout(Stdio::from(std::fs::File::create("/dev/full").unwrap()))
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(1));
    // The rule is in the top-level help.
    let help = symstab(&["--help"]).stdout;
    assert!(help.contains("Exit status:"), "{help}");
    assert!(help.contains("2  bad input"), "{help}");
    assert!(help.contains("1  a failure while running"), "{help}");
}

#[test]
fn results_that_overflow_because_of_the_input_are_errors_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let huge = scaled_problem(dir.path(), "huge.json", 1e100);
    for args in [
        &[
            "check-symmetry",
            "--model-file",
            &huge,
            "--action",
            "rescale",
        ][..],
        &[
            "check-symmetry",
            "--model-file",
            &huge,
            "--action",
            "rescale",
            "--json",
        ][..],
        &["hessian", "--model-file", &huge, "--json"][..],
        &[
            "train",
            "--model-file",
            &huge,
            "--lr",
            "0.01",
            "--steps",
            "3",
        ][..],
        &["critical-lr", "--model-file", &huge, "--steps", "10"][..],
        &["orbit", "--model-file", &huge, "--alpha", "1:2:2"][..],
    ] {
        let line = bad_input(args, &["--model-file", &huge, "overflows"]);
        assert!(!line.contains("NaN at index"), "{line}");
    }
    // The toy's group element takes a usable point out of range: --alpha is named.
    bad_input(
        &["check-symmetry", "--point", "10,0.2", "--alpha", "1e308"],
        &["--alpha", "1e308", "overflows"],
    );
    // A start whose conserved quantity overflows cannot be trained from.
    bad_input(
        &["train", "--start", "1e200,1e-200", "--lr", "0.01"],
        &["--start", "1e200,1e-200", "conserved quantity", "overflows"],
    );
    // A run that diverges from a usable start is an outcome, not an error.
    let v = json(&[
        "train", "--start", "1,9", "--lr", "1e100", "--steps", "5", "--json",
    ]);
    assert_eq!(v["outcome"], "diverged");
}

#[test]
fn library_errors_name_the_argument_and_the_value() {
    bad_input(
        &["critical-lr", "--start", "1e200,1e200"],
        &["--start", "1e200,1e200"],
    );
    // Finite loss and gradient, but the Hessian a² overflows.
    let line = bad_input(
        &["critical-lr", "--start", "1e200,2e-200"],
        &["--start", "1e200,2e-200", "Hessian", "overflowed"],
    );
    assert!(!line.contains("searching the critical"), "{line}");
    let dir = tempfile::tempdir().unwrap();
    let small = write_problem(dir.path(), "small.json", &[2, 3, 1], "relu", 4);
    let line = bad_input(
        &["orbit", "--model-file", &small, "--alpha", "1e-300:1e300:3"],
        &["--alpha", "1e-300:1e300:3", "at α = 1e"],
    );
    assert!(!line.contains("scanning the orbit"), "{line}");
}

#[test]
fn floats_in_text_are_short() {
    let run = symstab(&["train", "--start", "1,9", "--lr", "1e-320", "--steps", "2"]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(run.stdout.contains("η = 1e-320"), "{}", run.stdout);
    assert!(!run.stdout.contains("0.0000"), "{}", run.stdout);
    let line = bad_input(
        &[
            "hessian",
            "--point",
            "1,9",
            "--method",
            "lanczos",
            "--criterion",
            "eigenvalue",
            "--tol",
            "1e-20",
        ],
        &["--tol", "invalid value 1e-20:"],
    );
    assert!(!line.contains("0.0000"), "{line}");
    // A long point is shown in exponent form in messages.
    bad_input(
        &["hessian", "--point", "1e200,1e200,1"],
        &["--point", "1e200,1e200,1:"],
    );
}

#[test]
fn wording_says_what_is_wrong() {
    for steps in ["99999999999999999999", "18446744073709551615"] {
        bad_input(
            &["train", "--start", "1,9", "--lr", "0.01", "--steps", steps],
            &["--steps", steps, "too large: must be at most 4294967295"],
        );
    }
    bad_input(
        &["hessian", "--point", "1,9", "--top", "99999999999999999999"],
        &["--top", "too large"],
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("afile");
    std::fs::write(&file, "x").unwrap();
    let target = file.join("x.csv");
    let target = target.to_str().unwrap();
    let f = file.to_str().unwrap();
    bad_input(
        &[
            "train",
            "--start",
            "1,9",
            "--lr",
            "0.01",
            "--trajectory",
            target,
        ],
        &[
            "--trajectory",
            target,
            &format!("{f} is a file, not a directory"),
        ],
    );
    let missing = dir.path().join("missing").join("x.csv");
    let missing = missing.to_str().unwrap();
    bad_input(
        &[
            "train",
            "--start",
            "1,9",
            "--lr",
            "0.01",
            "--trajectory",
            missing,
        ],
        &["--trajectory", "does not exist"],
    );
    // Relative tolerances must be < 1.
    for (args, arg) in [
        (
            &[
                "hessian", "--point", "1,9", "--method", "lanczos", "--tol", "2",
            ][..],
            "--tol",
        ),
        (
            &[
                "hessian", "--point", "1,9", "--method", "power", "--tol", "1",
            ][..],
            "--tol",
        ),
        (
            &["critical-lr", "--start", "1,9", "--relative-tolerance", "1"][..],
            "--relative-tolerance",
        ),
    ] {
        bad_input(args, &[arg, "< 1"]);
    }
    let small = write_problem(dir.path(), "small.json", &[2, 3, 1], "relu", 4);
    bad_input(
        &["orbit", "--model-file", &small, "--tol", "1.5"],
        &["--tol", "1.5", "< 1"],
    );
}

#[test]
fn json_writes_non_finite_numbers_as_strings() {
    // One step at η = 1e100 takes the loss from 49 to +∞.
    let v = json(&[
        "train", "--start", "1,9", "--lr", "1e100", "--steps", "5", "--json",
    ]);
    assert_eq!(v["final_loss"], "inf", "{v}");
    assert_eq!(v["start_loss"], 49.0);
    let point = v["final_point"].as_array().unwrap();
    assert!(
        point
            .iter()
            .all(|p| p.is_f64() || ["NaN", "inf", "-inf"].contains(&p.as_str().unwrap())),
        "{v}"
    );
    // Never null for a computed number.
    assert!(!v.to_string().contains("null"), "{v}");
    let help = symstab(&["--help"]).stdout;
    assert!(help.contains("\"NaN\", \"inf\" and \"-inf\""), "{help}");
}
