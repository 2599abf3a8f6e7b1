//! Gradient descent from the points of an orbit: the lr × α grid against direct runs and
//! across thread counts, and the critical rates against direct bisection.

use symstab_core::Outcome;
use symstab_core::data::teacher_student;
use symstab_core::descent::{GradientDescent, Recording};
use symstab_core::mlp::{Activation, MlpProblem};
use symstab_core::orbit::{NetworkSweepOptions, OrbitPath, critical_rates_along, network_lr_sweep};
use symstab_core::stability::{CriticalOptions, critical_learning_rate};

fn small() -> (MlpProblem, Vec<f64>) {
    let ts = teacher_student(&[3, 6, 5, 1], Activation::Relu, 64, 11).unwrap();
    (ts.problem, ts.student_params)
}

#[test]
fn sweep_cells_match_direct_runs_and_do_not_depend_on_threads() {
    let (problem, params) = small();
    let path = OrbitPath::Rescale { layer: 0 };
    let alphas = [0.1, 1.0, 10.0];
    let rates = [1e-4, 0.05, 5.0, 500.0];
    let options = NetworkSweepOptions {
        max_steps: 60,
        ..Default::default()
    };
    let cells = network_lr_sweep(&problem, &params, path, &alphas, &rates, &options).unwrap();
    assert_eq!(cells.len(), 12);
    for (k, c) in cells.iter().enumerate() {
        assert_eq!(k, c.lr_index * 3 + c.alpha_index);
        let start = path.apply(problem.network(), &params, c.alpha).unwrap();
        let run = GradientDescent::new(c.learning_rate, 60)
            .unwrap()
            .with_recording(Recording::None)
            .run(&problem, &start)
            .unwrap();
        assert_eq!((run.outcome, run.steps), (c.outcome, c.steps));
        assert_eq!(run.final_loss.to_bits(), c.final_loss.to_bits());
    }
    // The tiny rate never diverges; the huge one always does.
    assert!(cells[..3].iter().all(|c| c.outcome != Outcome::Diverged));
    assert!(cells[9..].iter().all(|c| c.outcome == Outcome::Diverged));
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    let serial = one
        .install(|| network_lr_sweep(&problem, &params, path, &alphas, &rates, &options))
        .unwrap();
    assert_eq!(serial, cells);
    assert!(network_lr_sweep(&problem, &params, path, &alphas, &[-1.0], &options).is_err());
    assert!(network_lr_sweep(&problem, &params, path, &[], &rates, &options).is_err());
}

#[test]
fn critical_rates_match_direct_bisection() {
    let (problem, params) = small();
    let path = OrbitPath::Balanced { layer: 1, seed: 1 };
    let options = CriticalOptions {
        max_steps: 200,
        relative_tolerance: 1e-3,
        ..CriticalOptions::default()
    };
    let alphas = [0.3, 1.0, 3.0];
    let points = critical_rates_along(&problem, &params, path, &alphas, &options).unwrap();
    assert_eq!(points.len(), 3);
    for p in &points {
        let start = path.apply(problem.network(), &params, p.alpha).unwrap();
        let direct = critical_learning_rate(&problem, &start, &options).unwrap();
        assert_eq!(p.critical_lr, direct.critical_lr);
        assert_eq!(p.lower, direct.lower);
        let (critical, lower) = (p.critical_lr.unwrap(), p.lower.unwrap());
        assert!(lower < critical && critical - lower <= 1e-3 * critical);
        let stable = p.stable_lr.value().unwrap();
        assert!((p.ratio.unwrap() - critical / stable).abs() < 1e-12 * critical / stable);
        assert!((2.0 / p.lambda_max - stable).abs() < 1e-12 * stable);
    }
}

#[test]
fn loss_decrease_boundary_reads_the_grid_column_by_column() {
    let cell = |alpha_index, lr_index, outcome, final_loss| symstab_core::orbit::NetworkCell {
        alpha_index,
        lr_index,
        alpha: [0.5, 2.0][alpha_index],
        learning_rate: [0.1, 0.2, 0.4][lr_index],
        outcome,
        steps: 10,
        final_loss,
    };
    let u = Outcome::Unfinished;
    let cells = vec![
        cell(0, 0, u, 0.5),
        cell(1, 0, u, 2.0),
        cell(0, 1, u, 0.7),
        cell(1, 1, u, 0.1),
        cell(0, 2, Outcome::Diverged, f64::INFINITY),
        cell(1, 2, u, 0.1),
    ];
    let b = symstab_core::orbit::loss_decrease_boundary(&cells, 2, 1.0).unwrap();
    // Column 0: 0.1 and 0.2 lower the loss, 0.4 diverges. Column 1: the smallest rate
    // already fails, so later successes do not count.
    assert_eq!(b, vec![Some(0.2), None]);
    assert!(symstab_core::orbit::loss_decrease_boundary(&cells, 4, 1.0).is_err());
    let mut shuffled = cells.clone();
    shuffled.swap(0, 1);
    assert!(symstab_core::orbit::loss_decrease_boundary(&shuffled, 2, 1.0).is_err());
}
