//! The Hessian operator of a model: a quadratic L(θ) = ½ θᵀAθ − bᵀθ whose Hessian is A.

mod matrix_free_common;

use matrix_free_common::{dense_eigenvalues, dense_with_spectrum, max_relative_error};
use nalgebra::{DMatrix, DVector};
use symstab_core::Model;
use symstab_core::matrix_free::{
    HessianOperator, LanczosOptions, PowerOptions, SymmetricOperator, TraceOptions,
    check_symmetric, hutchinson_trace, lanczos, power_iteration,
};

/// L(θ) = ½ θᵀAθ − bᵀθ; ∇L = Aθ − b; H = A. The "prediction" is θᵀx.
struct Quadratic {
    a: DMatrix<f64>,
    b: DVector<f64>,
}

impl Model for Quadratic {
    fn n_params(&self) -> usize {
        self.b.len()
    }
    fn input_dim(&self) -> usize {
        self.b.len()
    }
    fn output_dim(&self) -> usize {
        1
    }
    fn predict(&self, params: &[f64], input: &[f64], output: &mut [f64]) {
        output[0] = params.iter().zip(input).map(|(p, x)| p * x).sum();
    }
    fn loss(&self, params: &[f64]) -> f64 {
        let theta = DVector::from_column_slice(params);
        0.5 * theta.dot(&(&self.a * &theta)) - self.b.dot(&theta)
    }
    fn loss_and_gradient(&self, params: &[f64], grad: &mut [f64]) -> f64 {
        let theta = DVector::from_column_slice(params);
        let g = &self.a * &theta - &self.b;
        grad.copy_from_slice(g.as_slice());
        self.loss(params)
    }
    fn hessian_vector_product(&self, _params: &[f64], v: &[f64], out: &mut [f64]) {
        let v = DVector::from_column_slice(v);
        out.copy_from_slice((&self.a * v).as_slice());
    }
}

fn model(n: usize) -> Quadratic {
    let spectrum: Vec<f64> = (0..n)
        .map(|i| ((i * 7) % n) as f64 / n as f64 * 6.0 - 2.0)
        .collect();
    Quadratic {
        a: dense_with_spectrum(&spectrum, 5),
        b: DVector::from_fn(n, |i, _| i as f64 * 0.1),
    }
}

#[test]
fn hessian_operator_spectrum_matches_dense_hessian() {
    let quadratic = model(120);
    let params: Vec<f64> = (0..120).map(|i| (i as f64).cos()).collect();
    let op = HessianOperator::new(&quadratic, &params).unwrap();
    assert_eq!(op.dim(), 120);

    let dense = quadratic.hessian(&params);
    check_symmetric(&dense).unwrap();
    let eigenvalues = dense_eigenvalues(&dense);

    let options = LanczosOptions {
        n_top: 3,
        n_bottom: 3,
        ..LanczosOptions::default()
    };
    let result = lanczos(&op, &options).unwrap();
    assert!(result.converged);
    let top: Vec<f64> = eigenvalues.iter().rev().take(3).copied().collect();
    assert!(
        max_relative_error(&result.top.values, &top) < 1e-8,
        "{:?} vs {top:?}",
        result.top.values
    );
    assert!(max_relative_error(&result.bottom.values, &eigenvalues[..3]) < 1e-8);
    // 120 columns for the dense Hessian were computed through the model, not the operator.
    assert_eq!(op.hvp_count(), result.n_applications);
}

#[test]
fn hvp_count_counts_every_solver() {
    let quadratic = model(30);
    let params = vec![0.5; 30];
    let op = HessianOperator::new(&quadratic, &params).unwrap();
    let power = power_iteration(
        &op,
        &PowerOptions {
            max_iterations: 17,
            ..PowerOptions::default()
        },
    )
    .unwrap();
    assert_eq!(op.hvp_count(), power.iterations);
    op.reset_count();
    let trace = hutchinson_trace(&op, &TraceOptions::default()).unwrap();
    assert_eq!(op.hvp_count(), trace.n_probes);
    assert!((trace.mean - quadratic.a.trace()).abs() <= 5.0 * trace.standard_error + 1e-9);
    let mut y = vec![0.0; 30];
    op.apply(&params, &mut y);
    assert_eq!(op.hvp_count(), trace.n_probes + 1);
    assert_eq!(op.params(), params.as_slice());
}

#[test]
fn hessian_operator_rejects_bad_params() {
    let quadratic = model(10);
    assert!(HessianOperator::new(&quadratic, &[1.0; 9]).is_err());
    let mut params = vec![0.0; 10];
    params[3] = f64::NAN;
    assert!(HessianOperator::new(&quadratic, &params).is_err());
}

#[test]
fn check_symmetric_rejects_asymmetric_and_nonsquare() {
    let mut a = DMatrix::<f64>::identity(3, 3);
    a[(0, 1)] = 1e-3;
    assert!(check_symmetric(&a).is_err());
    assert!(check_symmetric(&DMatrix::<f64>::zeros(2, 3)).is_err());
    let mut b = DMatrix::<f64>::identity(2, 2);
    b[(1, 0)] = f64::INFINITY;
    assert!(check_symmetric(&b).is_err());
}

#[test]
fn dense_apply_many_matches_apply() {
    let a = dense_with_spectrum(&[1.0, 2.0, 3.0, -4.0], 6);
    let xs: Vec<f64> = (0..12).map(|i| i as f64 - 3.0).collect();
    let mut block = vec![0.0; 12];
    a.apply_many(&xs, &mut block);
    for j in 0..3 {
        let mut y = vec![0.0; 4];
        a.apply(&xs[4 * j..4 * j + 4], &mut y);
        for i in 0..4 {
            assert!((y[i] - block[4 * j + i]).abs() < 1e-12);
        }
    }
}

#[test]
fn non_finite_operator_output_stops_every_solver_quickly() {
    use symstab_core::matrix_free::{DensityOptions, FnOperator, spectral_density};
    let op = FnOperator::new(20, |x: &[f64], y: &mut [f64]| {
        for (yi, xi) in y.iter_mut().zip(x) {
            *yi = if *xi > 0.0 { f64::NAN } else { *xi };
        }
    });
    let result = lanczos(&op, &LanczosOptions::default()).unwrap();
    assert!(!result.converged && result.n_applications == 1);
    let power = power_iteration(&op, &PowerOptions::default()).unwrap();
    assert!(!power.converged && power.iterations == 1);
    let trace = hutchinson_trace(&op, &TraceOptions::default()).unwrap();
    assert!(!trace.converged && trace.n_probes == 1 && trace.mean.is_nan());
    let density = spectral_density(&op, &DensityOptions::default()).unwrap();
    assert!(
        density.weights.iter().any(|w| !w.is_finite())
            || density.nodes.iter().any(|v| !v.is_finite())
    );
}
