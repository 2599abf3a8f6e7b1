//! Networks through the binary: spectra (dense against Lanczos), symmetry checks, training
//! with a saved problem file that loads back.

// Exact comparisons are intended: values read back from JSON must be the same bits.
#![allow(clippy::float_cmp)]

mod common;

use common::{json, num, nums, symstab, write_problem};

fn rel_close(x: f64, y: f64, rel: f64) -> bool {
    (x - y).abs() <= rel * x.abs().max(y.abs())
}

#[test]
fn dense_and_lanczos_agree_on_a_teacher_student_network() {
    let base = [
        "hessian",
        "--model",
        "mlp",
        "--widths",
        "3,6,6,1",
        "--data",
        "teacher",
        "--samples",
        "64",
        "--seed",
        "0",
        "--json",
    ];
    let dense = json(
        &base
            .iter()
            .copied()
            .chain(["--method", "dense"])
            .collect::<Vec<_>>(),
    );
    let n = dense["n_params"].as_u64().unwrap() as usize;
    assert_eq!(n, 3 * 6 + 6 + 6 * 6 + 6 + 6 + 1);
    let all = nums(&dense, "eigenvalues");
    assert_eq!(all.len(), n);
    assert!(all.windows(2).all(|w| w[0] >= w[1]), "not descending");
    assert_eq!(num(&dense, "lambda_max"), all[0]);
    assert_eq!(num(&dense, "lambda_min"), all[n - 1]);
    let trace: f64 = all.iter().sum();
    assert!(rel_close(num(&dense, "trace"), trace, 1e-10));
    // Negative beyond rounding: below −P·ε·max|λ|.
    let floor = -(n as f64) * f64::EPSILON * all[0].abs().max(all[n - 1].abs());
    let negatives = all.iter().filter(|&&l| l < floor).count();
    assert!(negatives > 0);
    assert_eq!(dense["negative_count"], negatives);
    assert!(rel_close(num(&dense, "stable_lr"), 2.0 / all[0], 1e-14));

    let lanczos = json(
        &base
            .iter()
            .copied()
            .chain(["--method", "lanczos", "--top", "3", "--tol", "1e-10"])
            .collect::<Vec<_>>(),
    );
    let top = nums(&lanczos, "eigenvalues");
    assert_eq!(top.len(), 6);
    let scale = all[0].abs().max(all[n - 1].abs());
    for (k, &value) in top[..3].iter().enumerate() {
        assert!(
            (value - all[k]).abs() <= 1e-8 * scale,
            "top {k}: {value} vs {}",
            all[k]
        );
    }
    for (k, &value) in top[3..].iter().enumerate() {
        let exact = all[n - 3 + k];
        assert!(
            (value - exact).abs() <= 1e-8 * scale,
            "bottom: {value} vs {exact}"
        );
    }
    assert!(lanczos["hvp_count"].as_u64().unwrap() > 0);
    assert_eq!(lanczos["method"], "lanczos");
    assert_eq!(nums(&lanczos, "residuals").len(), 6);
    assert_eq!(num(&lanczos, "loss"), num(&dense, "loss"));

    // Stopping on eigenvalue error bounds: the values still to the tolerance, with no more
    // products; each bound holds against the dense values and is at most the residual it
    // comes from, or the rounding floor 16ε·‖H‖.
    let by_values = json(
        &base
            .iter()
            .copied()
            .chain(["--method", "lanczos", "--top", "3", "--tol", "1e-10"])
            .chain(["--criterion", "eigenvalue"])
            .collect::<Vec<_>>(),
    );
    let values = nums(&by_values, "eigenvalues");
    let exact: Vec<f64> = all[..3].iter().chain(&all[n - 3..]).copied().collect();
    for (value, exact) in values.iter().zip(&exact) {
        assert!((value - exact).abs() <= 1e-10 * scale, "{value} vs {exact}");
    }
    let bounds = nums(&by_values, "error_bounds");
    assert_eq!(bounds.len(), 6);
    let floor = 16.0 * f64::EPSILON * scale;
    for ((bound, residual), (value, exact)) in bounds
        .iter()
        .zip(nums(&by_values, "residuals"))
        .zip(values.iter().zip(&exact))
    {
        assert!(
            *bound <= residual.max(floor) * 1.001,
            "bound {bound} above residual {residual}"
        );
        assert!(
            (value - exact).abs() <= *bound,
            "{value} vs {exact}: bound {bound}"
        );
    }
    assert!(by_values["hvp_count"].as_u64() <= lanczos["hvp_count"].as_u64());
    assert_eq!(nums(&dense, "error_bounds"), nums(&dense, "residuals"));
    common::fails_one_line(
        &base
            .iter()
            .copied()
            .chain(["--method", "dense", "--criterion", "eigenvalue"])
            .collect::<Vec<_>>(),
        &["--criterion", "eigenvalue", "dense"],
    );
    common::fails_one_line(
        &base
            .iter()
            .copied()
            .chain([
                "--method",
                "lanczos",
                "--criterion",
                "eigenvalue",
                "--tol",
                "1e-16",
            ])
            .collect::<Vec<_>>(),
        &["--tol", "rounding floor"],
    );

    // The dense route with --top K keeps the K largest and K smallest.
    let dense_top = json(
        &base
            .iter()
            .copied()
            .chain(["--top", "2"])
            .collect::<Vec<_>>(),
    );
    assert_eq!(
        nums(&dense_top, "eigenvalues"),
        vec![all[0], all[1], all[n - 2], all[n - 1]]
    );
}

#[test]
fn symmetries_leave_the_network_function_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let relu = write_problem(dir.path(), "relu.json", &[3, 5, 4, 2], "relu", 16);
    let tanh = write_problem(dir.path(), "tanh.json", &[3, 5, 4, 2], "tanh", 16);
    let linear = write_problem(dir.path(), "id.json", &[3, 5, 4, 2], "identity", 16);
    let cases = [
        (&relu, "rescale"),
        (&relu, "layer-scale"),
        (&relu, "permute"),
        (&tanh, "sign-flip"),
        (&tanh, "permute"),
        (&linear, "mix"),
    ];
    for (file, action) in cases {
        let v = json(&[
            "check-symmetry",
            "--model-file",
            file,
            "--action",
            action,
            "--seed",
            "7",
            "--json",
        ]);
        assert_eq!(v["action"], action);
        let diff = num(&v, "max_output_diff");
        assert!(diff < 1e-10, "{action}: {diff}");
        let (before, after) = (num(&v, "loss_before"), num(&v, "loss_after"));
        assert!(
            rel_close(before, after, 1e-12),
            "{action}: {before} vs {after}"
        );
        assert_eq!(v.as_object().unwrap().len(), 4);
    }
    // The generated teacher-student network works the same way.
    let v = json(&[
        "check-symmetry",
        "--model",
        "mlp",
        "--widths",
        "5,10,10,1",
        "--samples",
        "50",
        "--action",
        "rescale",
        "--seed",
        "3",
        "--json",
    ]);
    assert!(num(&v, "max_output_diff") < 1e-10);

    // Actions the activation does not admit are refused, naming the action.
    for (file, action) in [(&relu, "sign-flip"), (&relu, "mix"), (&tanh, "rescale")] {
        let run = symstab(&[
            "check-symmetry",
            "--model-file",
            file,
            "--action",
            action,
            "--json",
        ]);
        assert_eq!(run.code, Some(2), "{action} on {file}");
        assert!(run.stdout.is_empty());
        assert!(
            run.stderr.contains("--action") && run.stderr.contains(action),
            "{}",
            run.stderr
        );
    }
}

#[test]
fn trained_networks_are_saved_as_problem_files_that_load_back() {
    let dir = tempfile::tempdir().unwrap();
    let saved = dir.path().join("trained.json");
    let csv = dir.path().join("trajectory.csv");
    let v = json(&[
        "train",
        "--model",
        "mlp",
        "--widths",
        "3,4,1",
        "--samples",
        "32",
        "--lr",
        "0.05",
        "--steps",
        "20",
        "--save-model",
        saved.to_str().unwrap(),
        "--trajectory",
        csv.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(v["outcome"], "unfinished");
    assert!(num(&v, "final_loss") < num(&v, "start_loss"));
    // 4 hidden neurons, one balance each.
    assert_eq!(nums(&v, "conserved_start").len(), 4);

    let h = json(&["hessian", "--model-file", saved.to_str().unwrap(), "--json"]);
    assert_eq!(num(&h, "loss"), num(&v, "final_loss"));
    assert_eq!(h["n_params"], 3 * 4 + 4 + 4 + 1);

    let text = std::fs::read_to_string(&csv).unwrap();
    let header = text.lines().next().unwrap();
    assert!(header.starts_with("step,loss,p0,"), "{header}");
    assert!(header.ends_with("balance_l0_n3"), "{header}");
    assert_eq!(text.lines().count(), 1 + 21);
}

#[test]
fn shipped_datasets_fix_the_input_and_output_widths() {
    let v = json(&[
        "hessian", "--model", "mlp", "--widths", "4,6,3", "--data", "iris", "--top", "1", "--json",
    ]);
    assert_eq!(v["n_params"], 4 * 6 + 6 + 6 * 3 + 3);
    // Cross-entropy of a fresh network on 3 classes is of the order of ln 3.
    assert!(num(&v, "loss") > 0.1 && num(&v, "loss") < 20.0, "{v}");
    let run = symstab(&[
        "hessian", "--model", "mlp", "--widths", "4,6,2", "--data", "iris",
    ]);
    assert_eq!(run.code, Some(2));
    assert!(
        run.stderr.contains("--widths") && run.stderr.contains("4,6,2"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("output width 3"), "{}", run.stderr);
}
