//! `symstab orbit` through the binary: the loss is fixed along the orbit, the record at
//! α = 1 is `symstab hessian`'s spectrum, λmax grows away from a balanced point, the
//! flattest point is no sharper than any scanned one, and bad input is refused.

// Exact comparisons are intended: values read back from JSON must be the same bits.
#![allow(clippy::float_cmp)]

mod common;

use common::{fails_one_line, json, num, nums, symstab};
use serde_json::Value;

/// A small teacher-student network (73 parameters, 64 samples) and its data.
const NET: [&str; 10] = [
    "--model",
    "mlp",
    "--widths",
    "3,6,6,1",
    "--data",
    "teacher",
    "--samples",
    "64",
    "--seed",
    "3",
];

fn orbit(extra: &[&str]) -> Value {
    let args: Vec<&str> = ["orbit"]
        .iter()
        .chain(NET.iter())
        .chain(extra)
        .chain(&["--json"])
        .copied()
        .collect();
    json(&args)
}

fn records(report: &Value) -> &Vec<Value> {
    report["records"].as_array().expect("records is an array")
}

fn rel_close(x: f64, y: f64, rel: f64) -> bool {
    (x - y).abs() <= rel * x.abs().max(y.abs())
}

/// The record whose α is exactly `alpha`.
fn at(report: &Value, alpha: f64) -> &Value {
    records(report)
        .iter()
        .find(|r| num(r, "alpha") == alpha)
        .unwrap_or_else(|| panic!("no record at α = {alpha}"))
}

#[test]
fn loss_is_constant_and_the_default_grid_is_log_spaced() {
    for path in ["rescale:0", "layer-scale:1", "balanced:1:7"] {
        let report = orbit(&["--path", path]);
        assert_eq!(report["path"], path);
        let rs = records(&report);
        assert_eq!(rs.len(), 41, "{path}");
        let alphas: Vec<f64> = rs.iter().map(|r| num(r, "alpha")).collect();
        assert_eq!(alphas[0], 0.01);
        assert_eq!(alphas[40], 100.0);
        assert_eq!(alphas[20], 1.0);
        for w in alphas.windows(2) {
            // Log-spaced: every ratio is 10^(4/40).
            assert!(rel_close(w[1] / w[0], 10f64.powf(0.1), 1e-12), "{w:?}");
        }
        let reference = num(&report, "reference_loss");
        assert!(reference > 0.0);
        let mut worst = 0.0_f64;
        for r in rs {
            let loss = num(r, "loss");
            assert!(
                rel_close(loss, reference, 1e-10),
                "{path}: {loss} vs {reference}"
            );
            worst = worst.max(num(r, "loss_deviation"));
            // 6 + 6 hidden neurons, one balance each.
            assert_eq!(nums(r, "conserved").len(), 12);
            assert_eq!(r["method"], "dense");
            assert!(rel_close(
                num(r, "stable_lr"),
                2.0 / num(r, "lambda_max"),
                1e-14
            ));
        }
        let max_dev = num(&report, "max_loss_deviation");
        assert!(max_dev < 1e-10, "{path}: {max_dev}");
        assert_eq!(max_dev, worst);
    }
}

#[test]
fn alpha_one_is_exact_off_the_middle_of_an_asymmetric_range() {
    // 1 is not the middle of 0.1..1000 (its computed log is 4e-16); the record must still
    // be the unmoved point θ.
    let report = orbit(&["--path", "rescale:0", "--alpha", "0.1:1000:5"]);
    let alphas: Vec<f64> = records(&report).iter().map(|r| num(r, "alpha")).collect();
    assert_eq!(alphas[1], 1.0, "{alphas:?}");
    assert_eq!(
        num(at(&report, 1.0), "loss"),
        num(&report, "reference_loss")
    );
}

#[test]
fn the_record_at_alpha_one_is_the_hessian_at_the_point() {
    let hessian: Vec<&str> = ["hessian"]
        .iter()
        .chain(NET.iter())
        .chain(&["--method", "dense", "--json"])
        .copied()
        .collect();
    let h = json(&hessian);
    let report = orbit(&["--path", "layer-scale:1", "--alpha", "0.1:10:3"]);
    let one = at(&report, 1.0);
    assert!(rel_close(
        num(one, "lambda_max"),
        num(&h, "lambda_max"),
        1e-12
    ));
    assert!(rel_close(
        num(one, "lambda_min"),
        num(&h, "lambda_min"),
        1e-10
    ));
    assert!(rel_close(num(one, "trace"), num(&h, "trace"), 1e-10));
    assert!(rel_close(num(one, "loss"), num(&h, "loss"), 1e-14));
    assert_eq!(num(&report, "n_params"), num(&h, "n_params"));
    // The Gauss-Newton matrix of a squared loss is positive semi-definite and not zero.
    let gn = num(one, "gauss_newton_max");
    assert!(gn > 0.0, "{gn}");
}

#[test]
fn lambda_max_grows_at_both_ends_and_the_flattest_point_is_no_sharper() {
    let report = orbit(&["--path", "rescale:1", "--flattest", "--per-neuron", "5"]);
    let l = |a| num(at(&report, a), "lambda_max");
    let (low, one, high) = (l(0.01), l(1.0), l(100.0));
    assert!(low > one && high > one, "{low} {one} {high}");
    let lambdas: Vec<f64> = records(&report)
        .iter()
        .map(|r| num(r, "lambda_max"))
        .collect();
    let min = lambdas.iter().copied().fold(f64::INFINITY, f64::min);
    let max = lambdas.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    assert_eq!(num(&report, "lambda_max_min"), min);
    assert_eq!(num(&report, "lambda_max_max"), max);
    assert!(rel_close(
        num(&report, "lambda_max_spread"),
        max / min,
        1e-14
    ));

    let flattest = &report["flattest"];
    let best = num(flattest, "lambda_max");
    assert!(best <= min * (1.0 + 1e-12), "{best} > {min}");
    assert!(rel_close(num(flattest, "stable_lr"), 2.0 / best, 1e-14));
    assert_eq!(flattest["at_scan_end"], false);
    assert!(num(flattest, "loss_deviation") < 1e-10);

    // Re-scanning exactly at the α found gives the same λmax: the search reports a real point.
    let alpha = num(flattest, "alpha");
    let text = alpha.to_string();
    let range = format!("{text}:{text}:1");
    let again = orbit(&["--path", "rescale:1", "--alpha", &range]);
    let rs = records(&again);
    assert_eq!(rs.len(), 1);
    assert!(rel_close(num(&rs[0], "lambda_max"), best, 1e-12));

    let per_neuron = &flattest["per_neuron"];
    assert!(rel_close(num(per_neuron, "lambda_max_before"), one, 1e-12));
    let after = num(per_neuron, "lambda_max_after");
    assert!(
        after <= num(per_neuron, "lambda_max_before"),
        "{per_neuron}"
    );
    assert!(per_neuron["steps"].as_u64().unwrap() <= 5);
    assert!(num(per_neuron, "output_deviation") < 1e-10);
}

#[test]
fn lanczos_matches_dense_along_the_orbit() {
    let extra = ["--path", "layer-scale:0", "--alpha", "0.1:10:3"];
    let dense = orbit(&[&extra[..], &["--method", "dense"]].concat());
    let lanczos = orbit(&[&extra[..], &["--method", "lanczos", "--tol", "1e-10"]].concat());
    for (d, l) in records(&dense).iter().zip(records(&lanczos)) {
        assert_eq!(l["method"], "lanczos");
        assert_eq!(num(d, "alpha"), num(l, "alpha"));
        let scale = num(d, "lambda_max").abs().max(num(d, "lambda_min").abs());
        for key in ["lambda_max", "lambda_min"] {
            assert!(
                (num(d, key) - num(l, key)).abs() <= 1e-8 * scale,
                "{key}: {} vs {}",
                num(d, key),
                num(l, key)
            );
        }
        assert!(rel_close(
            num(d, "gauss_newton_max"),
            num(l, "gauss_newton_max"),
            1e-8
        ));
    }
}

#[test]
fn training_first_scans_the_trained_point() {
    let report = orbit(&["--train", "200", "--lr", "0.01", "--alpha", "0.1:10:3"]);
    let trained = &report["trained"];
    assert_eq!(trained["steps"], 200);
    let (start, end) = (num(trained, "start_loss"), num(trained, "final_loss"));
    assert!(end < 0.5 * start, "{start} → {end}");
    assert_eq!(num(&report, "reference_loss"), end);
    assert!(num(&report, "max_loss_deviation") < 1e-10);
    let untrained = orbit(&["--alpha", "0.1:10:3"]);
    assert!(untrained["trained"].is_null());
    assert_eq!(num(&untrained, "reference_loss"), start);
}

#[test]
fn the_table_lists_every_alpha() {
    let args: Vec<&str> = ["orbit"]
        .iter()
        .chain(NET.iter())
        .chain(&["--alpha", "0.5:2:3", "--flattest"])
        .copied()
        .collect();
    let run = symstab(&args);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert!(lines[0].starts_with("orbit rescale:0 of the mlp [3, 6, 6, 1]"));
    assert!(lines[1].starts_with("α ") && lines[1].contains("λmax"));
    for (line, alpha) in lines[2..5].iter().zip(["0.5 ", "1 ", "2 "]) {
        assert!(line.starts_with(alpha), "{line:?}");
    }
    assert!(run.stdout.contains("flattest along the path: α = "));
}

/// Runs `symstab orbit NET… extra`, expecting failure, no stdout and a one-line message
/// naming `arg` and `value`.
fn rejects(extra: &[&str], arg: &str, value: &str) {
    let args: Vec<&str> = ["orbit"]
        .iter()
        .chain(NET.iter())
        .chain(extra)
        .copied()
        .collect();
    fails_one_line(&args, &[arg, value]);
}

#[test]
fn bad_paths_alphas_and_options_are_refused() {
    rejects(&["--path", "spin:1"], "--path", "spin:1");
    rejects(&["--path", "rescale"], "--path", "rescale");
    rejects(&["--path", "rescale:-1"], "--path", "rescale:-1");
    rejects(&["--path", "balanced:0:x"], "--path", "balanced:0:x");
    // Two hidden layers: indices 0 and 1.
    rejects(&["--path", "rescale:2"], "--path", "rescale:2");
    rejects(&["--path", "layer-scale:2"], "--path", "layer-scale:2");
    // tanh has no rescale symmetry.
    rejects(
        &["--activation", "tanh", "--path", "rescale:0"],
        "--path",
        "rescale:0",
    );
    rejects(
        &["--activation", "tanh", "--path", "balanced:1:2"],
        "--path",
        "balanced:1:2",
    );
    for alpha in [
        "0:1:5", "-1:1:5", "2:1:5", "1:2:0", "1:2", "1:nan:3", "1:1:3",
    ] {
        rejects(&["--alpha", alpha], "--alpha", alpha);
    }
    rejects(&["--tol", "0"], "--tol", "0");
    rejects(&["--train", "0", "--lr", "0.01"], "--train", "0");
    rejects(&["--train", "10", "--lr", "-1"], "--lr", "-1");
    // A learning rate that diverges.
    rejects(&["--train", "50", "--lr", "100"], "--lr", "100");
}

#[test]
fn missing_companions_and_the_toy_are_refused() {
    for extra in [
        &["--per-neuron", "3"][..],
        &["--train", "10"][..],
        &["--lr", "0.1"][..],
    ] {
        let args: Vec<&str> = ["orbit"]
            .iter()
            .chain(NET.iter())
            .chain(extra)
            .copied()
            .collect();
        let run = symstab(&args);
        assert_eq!(run.code, Some(2), "{args:?}");
        assert!(run.stdout.is_empty());
    }
    let run = symstab(&["orbit", "--point", "1,9"]);
    assert_ne!(run.code, Some(0));
    assert!(run.stdout.is_empty());
    let run = symstab(&["orbit", "--model", "toy"]);
    assert_eq!(run.code, Some(2));
    assert!(run.stdout.is_empty());
    assert!(run.stderr.contains("--model") && run.stderr.contains("toy"));
}
