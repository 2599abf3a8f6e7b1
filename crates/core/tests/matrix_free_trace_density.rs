//! Hutchinson trace estimates and stochastic Lanczos quadrature against known spectra.

mod matrix_free_common;

use matrix_free_common::{Reflected, dense_eigenvalues, dense_with_spectrum, random_symmetric};
use nalgebra::{DMatrix, DVector};
use symstab_core::Error;
use symstab_core::matrix_free::{DensityOptions, TraceOptions, hutchinson_trace, spectral_density};

#[test]
fn hutchinson_is_exact_on_a_diagonal_matrix() {
    // zᵀDz = Σ dᵢ for every ±1 probe: zero variance, so the rule stops at min_probes.
    let diagonal: Vec<f64> = (0..40).map(|i| i as f64 - 10.5).collect();
    let a = DMatrix::from_diagonal(&DVector::from_vec(diagonal.clone()));
    let estimate = hutchinson_trace(&a, &TraceOptions::default()).unwrap();
    let trace: f64 = diagonal.iter().sum();
    assert!(estimate.converged);
    assert_eq!(estimate.n_probes, 10);
    assert!((estimate.mean - trace).abs() < 1e-12 * trace.abs());
    assert!(estimate.standard_error < 1e-10);
}

#[test]
fn hutchinson_stops_on_its_standard_error_and_covers_the_trace() {
    let a = dense_with_spectrum(
        &(0..200).map(|i| 1.0 + (i % 7) as f64).collect::<Vec<_>>(),
        1,
    );
    let trace = a.trace();
    let options = TraceOptions {
        relative_tolerance: 5e-3,
        ..TraceOptions::default()
    };
    let estimate = hutchinson_trace(&a, &options).unwrap();
    assert!(estimate.converged);
    assert!(estimate.standard_error <= 5e-3 * estimate.mean.abs());
    assert!(
        estimate.n_probes > 10 && estimate.n_probes < 1000,
        "{estimate:?}"
    );
    assert!(
        (estimate.mean - trace).abs() <= 4.0 * estimate.standard_error,
        "{estimate:?} vs {trace}"
    );
}

#[test]
fn hutchinson_with_zero_trace_needs_the_absolute_floor() {
    // Spectrum symmetric about zero: tr = 0, a relative rule can never be met.
    let spectrum: Vec<f64> = (1..=50).flat_map(|i| [i as f64, -(i as f64)]).collect();
    let a = dense_with_spectrum(&spectrum, 2);
    let relative_only = TraceOptions {
        max_probes: 200,
        ..TraceOptions::default()
    };
    let estimate = hutchinson_trace(&a, &relative_only).unwrap();
    assert!(!estimate.converged);
    assert_eq!(estimate.n_probes, 200);
    assert!(
        estimate.mean.abs() <= 4.0 * estimate.standard_error,
        "{estimate:?}"
    );

    let floor = TraceOptions {
        absolute_tolerance: 50.0,
        ..relative_only
    };
    let estimate = hutchinson_trace(&a, &floor).unwrap();
    assert!(estimate.converged && estimate.standard_error <= 50.0);
    assert!(estimate.mean.abs() <= 4.0 * estimate.standard_error);
}

#[test]
fn hutchinson_rejects_bad_options() {
    let a = DMatrix::<f64>::identity(3, 3);
    for bad in [
        TraceOptions {
            min_probes: 1,
            ..TraceOptions::default()
        },
        TraceOptions {
            max_probes: 5,
            ..TraceOptions::default()
        },
        TraceOptions {
            relative_tolerance: f64::NAN,
            ..TraceOptions::default()
        },
        TraceOptions {
            absolute_tolerance: -1.0,
            ..TraceOptions::default()
        },
    ] {
        assert!(matches!(
            hutchinson_trace(&a, &bad),
            Err(Error::InvalidValue { .. })
        ));
    }
}

#[test]
fn slq_moments_are_exact_on_a_diagonal_matrix() {
    // For diagonal D and Rademacher v/√n, vᵀDᵏv = tr(Dᵏ)/n, and m Gauss nodes integrate
    // degrees < 2m exactly: moments 0..2m-1 equal the true ones.
    let diagonal: Vec<f64> = (0..100)
        .map(|i| ((i * 13) % 17) as f64 / 4.0 - 1.0)
        .collect();
    let a = DMatrix::from_diagonal(&DVector::from_vec(diagonal.clone()));
    let options = DensityOptions {
        n_probes: 3,
        n_steps: 6,
        ..DensityOptions::default()
    };
    let density = spectral_density(&a, &options).unwrap();
    for k in 0..12 {
        let want = diagonal.iter().map(|d| d.powi(k)).sum::<f64>() / 100.0;
        let got = density.moment(k);
        assert!(
            (got - want).abs() <= 1e-9 * want.abs().max(1.0),
            "moment {k}: {got} vs {want}"
        );
    }
}

#[test]
fn slq_density_matches_a_known_spectrum() {
    let n = 1000;
    // Bulk in [0, 1] plus outliers, like a Hessian.
    let mut spectrum: Vec<f64> = (0..n - 3)
        .map(|i| (i as f64 / (n - 4) as f64).powi(2))
        .collect();
    spectrum.extend([8.0, 5.0, -2.0]);
    let op = Reflected::new(spectrum.clone(), 3);
    let options = DensityOptions {
        n_probes: 20,
        n_steps: 40,
        ..DensityOptions::default()
    };
    let density = spectral_density(&op, &options).unwrap();

    let total: f64 = density.weights.iter().sum();
    assert!((total - 1.0).abs() < 1e-12);
    assert!(density.weights.iter().all(|w| *w >= 0.0));
    // Ritz values lie inside [λmin, λmax] and reach the extremes.
    assert!(density.nodes[0] >= -2.0 - 1e-9 && *density.nodes.last().unwrap() <= 8.0 + 1e-9);
    assert!(
        (density.nodes[0] + 2.0).abs() < 1e-6 && (density.nodes.last().unwrap() - 8.0).abs() < 1e-6
    );

    // Moments vs tr(Aᵏ)/n, within 4 standard errors: a Rademacher probe's zᵀBz has
    // variance at most 2‖B‖_F², here B = Aᵏ.
    for k in 1..=4 {
        let want = spectrum.iter().map(|l| l.powi(k)).sum::<f64>() / n as f64;
        let frobenius_sq: f64 = spectrum.iter().map(|l| l.powi(2 * k)).sum();
        let standard_error = (2.0 * frobenius_sq / 20.0).sqrt() / n as f64;
        let got = density.moment(k);
        assert!(
            (got - want).abs() < 4.0 * standard_error,
            "moment {k}: {got} vs {want} ± {standard_error}"
        );
    }

    // The broadened density integrates to 1 and keeps the first moment.
    let (points, values) = density.on_grid(4001);
    let h = points[1] - points[0];
    let integral: f64 = values.windows(2).map(|w| 0.5 * h * (w[0] + w[1])).sum();
    assert!((integral - 1.0).abs() < 1e-6, "integral {integral}");
    let mean: f64 = points
        .windows(2)
        .zip(values.windows(2))
        .map(|(x, y)| 0.5 * h * (x[0] * y[0] + x[1] * y[1]))
        .sum();
    assert!(
        (mean - density.moment(1)).abs() < 1e-6,
        "{mean} vs {}",
        density.moment(1)
    );
    // Most mass sits on the bulk [0, 1].
    let bulk: f64 = density
        .nodes
        .iter()
        .zip(&density.weights)
        .filter(|(x, _)| (-0.05..=1.05).contains(*x))
        .map(|p| p.1)
        .sum();
    assert!(bulk > 0.95, "bulk mass {bulk}");
}

#[test]
fn slq_trace_agrees_with_dense_eigenvalues() {
    let a = random_symmetric(200, 4);
    let eigenvalues = dense_eigenvalues(&a);
    let density = spectral_density(
        &a,
        &DensityOptions {
            n_probes: 30,
            n_steps: 30,
            ..DensityOptions::default()
        },
    )
    .unwrap();
    // tr(A²)/n = mean λ² is estimated with a relative error of order √(2/(n·n_v)).
    let want: f64 = eigenvalues.iter().map(|l| l * l).sum::<f64>() / 200.0;
    assert!(
        (density.moment(2) - want).abs() < 0.05 * want,
        "{} vs {want}",
        density.moment(2)
    );
    assert!(density.nodes[0] >= eigenvalues[0] - 1e-9);
    assert!(*density.nodes.last().unwrap() <= eigenvalues[199] + 1e-9);
    assert_eq!(density.n_applications, 30 * 30);
}

#[test]
fn slq_small_operator_breaks_down_cleanly() {
    let a = DMatrix::from_diagonal(&DVector::from_vec(vec![2.0, 2.0, -1.0]));
    let density = spectral_density(
        &a,
        &DensityOptions {
            n_steps: 10,
            ..DensityOptions::default()
        },
    )
    .unwrap();
    assert!(
        density
            .nodes
            .iter()
            .chain(&density.weights)
            .all(|v| v.is_finite())
    );
    assert!((density.moment(1) - 1.0).abs() < 1e-12);
    assert!(density.n_applications <= 10 * 3);
    assert!(density.density(2.0) > density.density(0.5));
    for bad in [
        DensityOptions {
            n_probes: 0,
            ..DensityOptions::default()
        },
        DensityOptions {
            n_steps: 0,
            ..DensityOptions::default()
        },
        DensityOptions {
            broadening: Some(0.0),
            ..DensityOptions::default()
        },
    ] {
        assert!(matches!(
            spectral_density(&a, &bad),
            Err(Error::InvalidValue { .. })
        ));
    }
}
