//! The toy through the binary: Hessian against its closed form, the study's runs, the
//! critical learning rate, trajectories and the help text.

// Exact comparisons are intended: values read back from JSON must be the same bits.
#![allow(clippy::float_cmp)]

mod common;

use common::{json, num, nums, symstab};

/// Closed-form Hessian of L(a, b) = Σ_s (a·b·x_s − y_s)²:
/// ∂²L/∂a² = Σ 2b²x², ∂²L/∂b² = Σ 2a²x², ∂²L/∂a∂b = Σ 2x(2abx − y).
fn toy_hessian(a: f64, b: f64, samples: &[(f64, f64)]) -> [[f64; 2]; 2] {
    let (mut haa, mut hbb, mut hab) = (0.0, 0.0, 0.0);
    for &(x, y) in samples {
        haa += 2.0 * b * b * x * x;
        hbb += 2.0 * a * a * x * x;
        hab += 2.0 * x * (2.0 * a * b * x - y);
    }
    [[haa, hab], [hab, hbb]]
}

/// Eigenvalues of a symmetric 2×2 matrix, descending.
fn eigen_2x2(h: [[f64; 2]; 2]) -> [f64; 2] {
    let mean = 0.5 * (h[0][0] + h[1][1]);
    let radius = (0.5 * (h[0][0] - h[1][1])).hypot(h[0][1]);
    [mean + radius, mean - radius]
}

fn close(x: f64, y: f64, rel: f64) -> bool {
    (x - y).abs() <= rel * x.abs().max(y.abs()).max(1.0)
}

#[test]
fn hessian_at_1_9_matches_the_closed_form() {
    let v = json(&["hessian", "--point", "1,9", "--json"]);
    let h = toy_hessian(1.0, 9.0, &[(1.0, 2.0)]);
    // By hand: [[162, 32], [32, 2]].
    assert_eq!(h, [[162.0, 32.0], [32.0, 2.0]]);
    let [l1, l2] = eigen_2x2(h);
    let eig = nums(&v, "eigenvalues");
    assert_eq!(eig.len(), 2);
    assert!(
        close(eig[0], l1, 1e-12) && close(eig[1], l2, 1e-12),
        "{eig:?}"
    );
    assert!(close(num(&v, "lambda_max"), l1, 1e-12));
    assert!(close(num(&v, "lambda_min"), l2, 1e-12));
    assert!(close(num(&v, "stable_lr"), 2.0 / l1, 1e-12));
    assert!(close(num(&v, "trace"), 164.0, 1e-12));
    assert_eq!(v["negative_count"], 1);
    assert_eq!(num(&v, "loss"), 49.0);
    assert_eq!(v["method"], "dense");
    for r in nums(&v, "residuals") {
        assert!(r < 1e-10, "residual {r}");
    }
}

#[test]
fn hessian_with_several_samples_and_every_method() {
    let samples = [(1.0, 2.0), (-0.5, 3.0), (2.0, -1.0)];
    let (a, b) = (-1.3, 0.7);
    let [l1, l2] = eigen_2x2(toy_hessian(a, b, &samples));
    for method in ["dense", "lanczos"] {
        let v = json(&[
            "hessian",
            "--point",
            "-1.3,0.7",
            "--samples",
            "1:2,-0.5:3,2:-1",
            "--method",
            method,
            "--json",
        ]);
        assert_eq!(v["method"], method);
        assert!(close(num(&v, "lambda_max"), l1, 1e-9), "{method}: {v}");
        assert!(close(num(&v, "lambda_min"), l2, 1e-9), "{method}: {v}");
    }
    // Power iteration finds the eigenvalue of largest magnitude.
    let v = json(
        &[
            "hessian",
            "--point",
            "-1.3,0.7",
            "--samples",
            "1:2,-0.5:3,2:-1",
        ]
        .into_iter()
        .chain(["--method", "power", "--json"])
        .collect::<Vec<_>>(),
    );
    let largest = if l1.abs() >= l2.abs() { l1 } else { l2 };
    assert!(close(nums(&v, "eigenvalues")[0], largest, 1e-6), "{v}");
}

#[test]
fn hessian_unbounded_step_at_the_origin_of_a_three_factor_chain() {
    let v = json(&["hessian", "--point", "0,0,0", "--factors", "3", "--json"]);
    assert_eq!(v["stable_lr"], "unbounded");
    assert_eq!(nums(&v, "eigenvalues"), vec![0.0, 0.0, 0.0]);
}

#[test]
fn train_runs_of_the_study() {
    let v = json(&[
        "train", "--start", "1,9", "--lr", "0.025", "--steps", "50", "--json",
    ]);
    assert_eq!(v["outcome"], "diverged");

    let v = json(&[
        "train", "--start", "1,9", "--lr", "0.01", "--steps", "1000", "--json",
    ]);
    assert_eq!(v["outcome"], "converged");
    let p = nums(&v, "final_point");
    assert!(
        (p[0] - 0.227).abs() < 1e-3 && (p[1] - 8.811).abs() < 1e-3,
        "{p:?}"
    );
    assert!(num(&v, "final_loss") < 1e-12);
    // a² − b² at the start is 1 − 81.
    assert_eq!(nums(&v, "conserved_start"), vec![-80.0]);
    let end = nums(&v, "conserved_end")[0];
    assert!((end - (p[0] * p[0] - p[1] * p[1])).abs() < 1e-9);

    let v = json(&[
        "train", "--start", "1,9", "--lr", "0.02", "--steps", "50", "--json",
    ]);
    let p = nums(&v, "final_point");
    assert!(
        (p[0] + 2.211).abs() < 1e-3 && (p[1] + 0.905).abs() < 1e-3,
        "{p:?}"
    );
    assert_eq!(v["steps"], 50);
}

#[test]
fn train_writes_the_trajectory() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.csv");
    let path_s = path.to_str().unwrap();
    let v = json(&[
        "train",
        "--start",
        "1,9",
        "--lr",
        "0.01",
        "--steps",
        "10",
        "--trajectory",
        path_s,
        "--json",
    ]);
    let text = std::fs::read_to_string(&path).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("step,loss,a,b,w1^2-w2^2"));
    let rows: Vec<Vec<f64>> = lines
        .map(|l| l.split(',').map(|x| x.parse().unwrap()).collect())
        .collect();
    assert_eq!(rows.len(), 11);
    assert_eq!(rows[0], vec![0.0, 49.0, 1.0, 9.0, -80.0]);
    for r in &rows {
        assert!((r[1] - (r[2] * r[3] - 2.0).powi(2)).abs() < 1e-9 * r[1].max(1.0));
        assert!((r[4] - (r[2] * r[2] - r[3] * r[3])).abs() < 1e-9);
    }
    let last = &rows[10];
    assert_eq!(&last[2..4], nums(&v, "final_point").as_slice());
}

#[test]
fn train_with_momentum_clip_and_decay_changes_the_run() {
    let plain = json(&[
        "train", "--start", "1,9", "--lr", "0.005", "--steps", "5", "--json",
    ]);
    for extra in [
        ["--momentum", "0.5"],
        ["--clip", "1"],
        ["--weight-decay", "0.1"],
    ] {
        let mut args = vec![
            "train", "--start", "1,9", "--lr", "0.005", "--steps", "5", "--json",
        ];
        args.extend(extra);
        let v = json(&args);
        assert_ne!(v["final_point"], plain["final_point"], "{extra:?}");
    }
    // Clipping to norm 1 moves the point by at most η·1 per step.
    let v = json(&[
        "train", "--start", "1,9", "--lr", "0.005", "--steps", "1", "--clip", "1", "--json",
    ]);
    let p = nums(&v, "final_point");
    let moved = (p[0] - 1.0).hypot(p[1] - 9.0);
    assert!((moved - 0.005).abs() < 1e-12, "{moved}");
}

#[test]
fn critical_lr_is_about_twice_the_stable_step() {
    let v = json(&["critical-lr", "--start", "1,9", "--json"]);
    let critical = num(&v, "critical_lr");
    let stable = num(&v, "stable_lr");
    let ratio = num(&v, "ratio");
    assert!(ratio > 1.0 && ratio < 3.0, "{v}");
    assert!(close(ratio, critical / stable, 1e-12));
    assert!(close(stable, 2.0 / num(&v, "lambda_max"), 1e-12));
    let lower = num(&v, "lower");
    assert!(lower < critical && (critical - lower) <= 1e-9 * critical * 1.0001);
    assert!(v["evaluations"].as_u64().unwrap() > 2);
    assert_eq!(v["unfinished_count"], 0);
    // The measured rate separates the study's runs at 0.02 (not diverged) and 0.025.
    assert!(critical > 0.02 && critical < 0.025);
}

#[test]
fn text_output_is_a_short_summary() {
    let run = symstab(&["hessian", "--point", "1,9"]);
    assert_eq!(run.code, Some(0));
    assert!(run.stdout.contains("λmax"), "{}", run.stdout);
    assert!(run.stdout.contains("2/λmax"), "{}", run.stdout);
    assert!(run.stdout.lines().count() < 15);
    let run = symstab(&["train", "--start", "1,9", "--lr", "0.025", "--steps", "50"]);
    assert!(run.stdout.contains("diverged"), "{}", run.stdout);
}

#[test]
fn help_explains_every_term() {
    let run = symstab(&["--help"]);
    assert_eq!(run.code, Some(0));
    for term in [
        "η",
        "λmax",
        "2/λmax",
        "critical lr",
        "orbit",
        "α",
        "conserved",
        "outcome",
    ] {
        assert!(
            run.stdout.contains(term),
            "--help lacks {term}: {}",
            run.stdout
        );
    }
    for cmd in [
        "hessian",
        "train",
        "critical-lr",
        "sweep",
        "merge",
        "check-symmetry",
    ] {
        let run = symstab(&[cmd, "--help"]);
        assert_eq!(run.code, Some(0), "{cmd} --help");
        assert!(
            run.stdout.contains("λmax"),
            "{cmd} --help lacks the glossary"
        );
    }
}

#[test]
fn check_symmetry_on_the_toy() {
    let v = json(&[
        "check-symmetry",
        "--model",
        "toy",
        "--point",
        "1,9",
        "--alpha",
        "3",
        "--json",
    ]);
    assert_eq!(v["action"], "rescale");
    assert!(num(&v, "max_output_diff") < 1e-12);
    assert!(close(num(&v, "loss_before"), num(&v, "loss_after"), 1e-14));
    let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
    assert_eq!(keys.len(), 4, "{keys:?}");
}
