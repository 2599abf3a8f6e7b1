//! Power iteration: converges to the eigenvalue of largest magnitude (sign included),
//! reports its residual honestly, and does not converge on a ±λ pair.

mod matrix_free_common;

use matrix_free_common::{Reflected, dense_with_spectrum, true_residual};
use nalgebra::{DMatrix, DVector};
use symstab_core::Error;
use symstab_core::matrix_free::{PowerOptions, power_iteration};

#[test]
fn finds_positive_dominant_eigenvalue() {
    let mut spectrum: Vec<f64> = (0..300).map(|i| i as f64 / 300.0).collect();
    spectrum.push(5.0);
    let op = Reflected::new(spectrum, 1);
    let result = power_iteration(&op, &PowerOptions::default()).unwrap();
    assert!(
        result.converged,
        "{:?}",
        (result.value, result.residual, result.iterations)
    );
    assert!((result.value - 5.0).abs() < 1e-10 * 5.0, "{}", result.value);
    assert!(result.residual <= 1e-8 * 5.0);
    let actual = true_residual(&op, result.value, &result.vector);
    assert!(
        (actual - result.residual).abs() < 1e-12,
        "{actual} vs {}",
        result.residual
    );
}

#[test]
fn dominant_negative_eigenvalue_is_what_power_iteration_finds() {
    let mut spectrum: Vec<f64> = (0..200).map(|i| i as f64 / 100.0).collect();
    spectrum.push(-50.0);
    let a = dense_with_spectrum(&spectrum, 2);
    let result = power_iteration(&a, &PowerOptions::default()).unwrap();
    assert!(result.converged);
    assert!(
        (result.value + 50.0).abs() < 1e-9 * 50.0,
        "largest magnitude is -50, got {}",
        result.value
    );
}

#[test]
fn plus_minus_pair_does_not_converge_and_says_so() {
    let a = DMatrix::from_diagonal(&DVector::from_vec(vec![3.0, -3.0, 1.0, 0.5, -0.2]));
    let options = PowerOptions {
        max_iterations: 200,
        ..PowerOptions::default()
    };
    let result = power_iteration(&a, &options).unwrap();
    assert!(!result.converged);
    assert_eq!(result.iterations, 200);
    // The iterate oscillates inside the ±3 plane: the residual stays of order |λ|.
    assert!(result.residual > 0.1, "residual {}", result.residual);
    assert!(result.value.is_finite());
}

#[test]
fn null_operator_and_one_by_one() {
    let zero = DMatrix::<f64>::zeros(4, 4);
    let result = power_iteration(&zero, &PowerOptions::default()).unwrap();
    assert!(result.converged);
    assert!(result.value.abs() < 1e-300);
    assert!(result.vector.iter().all(|v| v.is_finite()));

    let one = DMatrix::from_element(1, 1, -7.0);
    let result = power_iteration(&one, &PowerOptions::default()).unwrap();
    assert!(result.converged && result.iterations == 1);
    assert!((result.value + 7.0).abs() < 1e-15);
}

#[test]
fn deterministic_and_validated() {
    let a = dense_with_spectrum(&[4.0, 1.0, 2.0, -1.0, 3.5], 3);
    let first = power_iteration(&a, &PowerOptions::default()).unwrap();
    let second = power_iteration(&a, &PowerOptions::default()).unwrap();
    assert_eq!(first, second);
    for bad in [
        PowerOptions {
            tolerance: -1.0,
            ..PowerOptions::default()
        },
        PowerOptions {
            max_iterations: 0,
            ..PowerOptions::default()
        },
    ] {
        assert!(matches!(
            power_iteration(&a, &bad),
            Err(Error::InvalidValue { .. })
        ));
    }
}
