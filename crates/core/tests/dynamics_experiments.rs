//! The one-step curve, the conservation identity and drift, sharpness tracking, and the
//! toy catapult numbers.
#![allow(clippy::float_cmp)] // linspace ends exactly on its end point

use symstab_core::Model;
use symstab_core::data::teacher_student;
use symstab_core::descent::GradientDescent;
use symstab_core::dynamics::experiments::{
    balance_drift, catapult_runs, linspace, log_log_slope, one_step_curve, orbit_critical_ratios,
    toy_lambda_max,
};
use symstab_core::dynamics::{Optimizer, sharpness_during_training};
use symstab_core::mlp::Activation;
use symstab_core::mlp::conserved::balance_trajectory;
use symstab_core::outcome::{Outcome, StopRule};
use symstab_core::stability::CriticalOptions;

#[test]
fn one_step_curve_starts_at_the_loss_and_matches_a_descent_step() {
    let ts = teacher_student(&[4, 6, 6, 1], Activation::Relu, 80, 3).unwrap();
    let p = &ts.student_params;
    let etas = linspace(0.0, 1.0, 11);
    assert_eq!(etas[10], 1.0);
    let curve = one_step_curve(&ts.problem, p, &etas).unwrap();
    assert_eq!(curve[0].loss.to_bits(), ts.problem.loss(p).to_bits());
    let run = GradientDescent::new(0.3, 1)
        .unwrap()
        .run(&ts.problem, p)
        .unwrap();
    assert!((curve[3].loss - run.losses[1]).abs() <= 1e-14 * run.losses[1]);
    // Small steps decrease the loss.
    let tiny = one_step_curve(&ts.problem, p, &[1e-4]).unwrap();
    assert!(tiny[0].loss < curve[0].loss);
}

#[test]
fn conservation_identity_holds_along_a_run_and_drift_scales_like_eta_squared() {
    let ts = teacher_student(&[4, 6, 6, 1], Activation::Relu, 80, 5).unwrap();
    let records = balance_trajectory(&ts.problem, &ts.student_params, 0.05, 0.0, 40).unwrap();
    let scale = records[0]
        .balances
        .iter()
        .fold(0.0_f64, |m, c| m.max(c.abs()));
    for r in &records {
        assert!(
            r.identity_error <= 1e-12 * scale.max(1.0),
            "step {}: {}",
            r.step,
            r.identity_error
        );
    }
    // Small rates: over 20 steps the path (and so the gradients) barely depend on η.
    let etas = [1e-4, 2e-4, 4e-4, 8e-4];
    let drift = balance_drift(&ts.problem, &ts.student_params, &etas, 20).unwrap();
    let slope = log_log_slope(
        &etas,
        &drift.iter().map(|d| d.mean_drift).collect::<Vec<_>>(),
    )
    .unwrap();
    assert!((slope - 2.0).abs() < 0.1, "slope {slope}: {drift:?}");
    assert!(log_log_slope(&[1.0], &[1.0]).is_err());
}

#[test]
fn sharpness_is_recorded_every_k_steps() {
    let ts = teacher_student(&[3, 5, 1], Activation::Tanh, 40, 6).unwrap();
    let opt = Optimizer::new(0.1).unwrap();
    let run = sharpness_during_training(
        &ts.problem,
        &ts.student_params,
        &opt,
        25,
        10,
        StopRule::default(),
    )
    .unwrap();
    assert_eq!(run.losses.len(), 26);
    let steps: Vec<usize> = run.records.iter().map(|r| r.step).collect();
    assert_eq!(steps, vec![0, 10, 20, 25]);
    assert_eq!(run.outcome, Outcome::Unfinished);
    assert!((run.sharpness_limit - 20.0).abs() < 1e-12);
    assert!(run.records.iter().all(|r| r.lambda_max > 0.0));
    let momentum = Optimizer::new(0.1).unwrap().with_momentum(0.5).unwrap();
    let run = sharpness_during_training(
        &ts.problem,
        &ts.student_params,
        &momentum,
        1,
        1,
        StopRule::default(),
    )
    .unwrap();
    assert!((run.sharpness_limit - 30.0).abs() < 1e-12);
}

#[test]
fn catapult_regimes_of_the_toy_from_one_nine() {
    let l0 = toy_lambda_max([1.0, 9.0]).unwrap();
    // H = 2[[b², 2ab − 2], [2ab − 2, a²]] = [[162, 32], [32, 2]] at (1, 9).
    let exact = 82.0 + (80.0f64 * 80.0 + 32.0 * 32.0).sqrt();
    assert!((l0 - exact).abs() < 1e-10);
    let stable = 2.0 / l0;
    let runs = catapult_runs([1.0, 9.0], &[0.9 * stable, 1.6 * stable, 0.025], 200).unwrap();
    assert_eq!(runs[0].outcome, Outcome::Converged);
    assert_eq!(runs[1].outcome, Outcome::Converged);
    assert_eq!(runs[2].outcome, Outcome::Diverged);
    // Between 2/λ0 and the critical rate the loss first grows (the catapult).
    let l = &runs[1].losses;
    assert!(l[1..10].iter().any(|x| *x > l[0]), "{:?}", &l[..10]);
    // Along the orbit: (1, 9) has ratio ≈ 2, the balanced (3, 3) more.
    let options = CriticalOptions {
        max_steps: 1000,
        relative_tolerance: 1e-6,
        ..CriticalOptions::default()
    };
    let pts = orbit_critical_ratios(9.0, &[(1.0f64 / 3.0).ln(), 0.0], &options).unwrap();
    assert!((pts[0].a - 1.0).abs() < 1e-12 && (pts[0].b - 9.0).abs() < 1e-12);
    assert!(pts[0].ratio > 1.8 && pts[0].ratio < 2.2, "{}", pts[0].ratio);
    assert!(
        pts[1].ratio > pts[0].ratio,
        "{} vs {}",
        pts[1].ratio,
        pts[0].ratio
    );
    assert!(pts[1].balance.abs() < 1e-12);
}

#[test]
fn linspace_ends_exactly_on_both_end_points() {
    // (1 − 0.2)·6/6 rounds to 0.8000000000000002, so start + step·(n − 1) misses 1.
    for (start, end, n) in [(0.2, 1.0, 7), (0.3, 1.0, 7), (0.7, 2.9, 3), (-1.0, 1.0, 5)] {
        let v = linspace(start, end, n);
        assert_eq!(v.len(), n);
        assert_eq!((v[0], v[n - 1]), (start, end), "{start}..{end} ({n})");
        assert!(v.windows(2).all(|w| w[0] < w[1]));
    }
    assert_eq!(linspace(-1.0, 1.0, 5)[2], 0.0);
    assert_eq!(linspace(3.0, 4.0, 1), vec![3.0]);
    assert!(linspace(3.0, 4.0, 0).is_empty());
}
