//! Orbit scans: the dense route against an independent dense decomposition and against the
//! transported Hessian, the Lanczos route against the dense route, and the exact slope of
//! log λmax against finite differences.

use symstab_core::Model;
use symstab_core::data::teacher_student;
use symstab_core::mlp::{Activation, MlpProblem};
use symstab_core::orbit::{
    OrbitPath, SpectrumOptions, SpectrumRoute, log_spaced, point_spectrum, scan_orbit,
};
use symstab_core::spectrum::{SymmetricEigen, hessian_spectrum};

fn small() -> (MlpProblem, Vec<f64>) {
    let ts = teacher_student(&[3, 6, 5, 1], Activation::Relu, 64, 11).unwrap();
    (ts.problem, ts.student_params)
}

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs()
}

#[test]
fn scan_at_alpha_one_matches_the_direct_dense_spectrum() {
    let (problem, params) = small();
    let alphas = log_spaced(1e-2, 1e2, 41).unwrap();
    let scan = scan_orbit(
        &problem,
        &params,
        OrbitPath::Rescale { layer: 1 },
        &alphas,
        &SpectrumOptions::default(),
    )
    .unwrap();
    assert_eq!(scan.route, SpectrumRoute::Dense);
    assert_eq!(scan.records.len(), 41);
    let at_one = &scan.records[20];
    assert!((at_one.alpha - 1.0).abs() < 1e-14);
    let direct = hessian_spectrum(&problem, &params).unwrap();
    assert!(rel(at_one.lambda_max, direct.lambda_max()) < 1e-12);
    assert!(rel(at_one.lambda_min, direct.lambda_min()) < 1e-12);
    assert!(rel(at_one.trace, direct.trace()) < 1e-12);
    assert!(scan.max_relative_loss_deviation <= 1e-10);
    let g = problem.gradient(&params);
    let gn = g.iter().map(|x| x * x).sum::<f64>().sqrt();
    assert!(rel(at_one.gradient_norm, gn) < 1e-12);
    // The scan spans a real spread of sharpness although the function is fixed.
    let (min, max, ratio) = scan.lambda_max_spread();
    assert!(
        min > 0.0 && max > min && ratio > 10.0,
        "{min} {max} {ratio}"
    );
}

#[test]
fn scanned_hessians_equal_the_transported_hessian() {
    let (problem, params) = small();
    let net = problem.network();
    let h = problem.hessian(&params);
    let path = OrbitPath::Balanced { layer: 0, seed: 5 };
    let alphas = [0.03, 0.5, 7.0];
    let scan = scan_orbit(
        &problem,
        &params,
        path,
        &alphas,
        &SpectrumOptions::default(),
    )
    .unwrap();
    for (record, &alpha) in scan.records.iter().zip(&alphas) {
        let g = path.symmetry(net, alpha).unwrap();
        let moved = SymmetricEigen::new(g.apply_to_hessian(net, &h).unwrap()).unwrap();
        assert!(
            rel(record.lambda_max, moved.lambda_max()) < 1e-9,
            "α={alpha}"
        );
        assert!(
            rel(record.lambda_min, moved.lambda_min()) < 1e-9,
            "α={alpha}"
        );
        assert!(rel(record.trace, moved.trace()) < 1e-9, "α={alpha}");
    }
}

#[test]
fn lanczos_route_agrees_with_the_dense_route() {
    let (problem, params) = small();
    let dense = SpectrumOptions::default();
    let lanczos = SpectrumOptions {
        route: Some(SpectrumRoute::Lanczos),
        trace_relative_tolerance: 2e-2,
        trace_max_probes: 4000,
        ..SpectrumOptions::default()
    };
    let auto_lanczos = SpectrumOptions {
        dense_threshold: 10,
        ..SpectrumOptions::default()
    };
    assert_eq!(
        auto_lanczos.route_for(problem.n_params()),
        SpectrumRoute::Lanczos
    );
    for alpha in [0.1, 1.0, 10.0] {
        let point = OrbitPath::Rescale { layer: 0 }
            .apply(problem.network(), &params, alpha)
            .unwrap();
        let d = point_spectrum(&problem, &point, &dense).unwrap();
        let l = point_spectrum(&problem, &point, &lanczos).unwrap();
        assert_eq!(
            (d.route, l.route),
            (SpectrumRoute::Dense, SpectrumRoute::Lanczos)
        );
        // The eigenvalues converge; the Hutchinson trace may stop on its probe budget.
        assert!(l.lambda_max_residual <= 1e-9 * l.lambda_max.abs());
        assert!(
            rel(l.lambda_max, d.lambda_max) < 1e-8,
            "{} {}",
            l.lambda_max,
            d.lambda_max
        );
        assert!(
            rel(l.lambda_min, d.lambda_min) < 1e-8,
            "{} {}",
            l.lambda_min,
            d.lambda_min
        );
        assert!(rel(l.gauss_newton_max, d.gauss_newton_max) < 1e-8);
        // The Hutchinson estimate within five standard errors of the exact trace.
        assert!(
            (l.trace - d.trace).abs() <= 5.0 * l.trace_standard_error,
            "{} ± {} vs {}",
            l.trace,
            l.trace_standard_error,
            d.trace
        );
        assert_eq!(d.trace_standard_error.to_bits(), 0.0f64.to_bits());
        // Same eigenvector up to sign.
        let overlap: f64 = d
            .top_vector
            .iter()
            .zip(&l.top_vector)
            .map(|(a, b)| a * b)
            .sum();
        assert!((overlap.abs() - 1.0).abs() < 1e-6);
        assert!(d.lambda_max_residual < 1e-9 * d.lambda_max.abs());
    }
}

#[test]
fn gauss_newton_top_eigenvalue_matches_its_dense_matrix() {
    let (problem, params) = small();
    let p = problem.n_params();
    let mut g = nalgebra::DMatrix::zeros(p, p);
    let mut e = vec![0.0; p];
    let mut col = vec![0.0; p];
    for j in 0..p {
        e[j] = 1.0;
        problem.ggn_vector_product(&params, &e, &mut col);
        e[j] = 0.0;
        g.column_mut(j).copy_from_slice(&col);
    }
    symstab_core::model::symmetrize(&mut g);
    let dense = SymmetricEigen::new(g).unwrap();
    let s = point_spectrum(&problem, &params, &SpectrumOptions::default()).unwrap();
    assert!(rel(s.gauss_newton_max, dense.lambda_max()) < 1e-9);
}

#[test]
fn slope_of_log_lambda_max_matches_finite_differences() {
    let (problem, params) = small();
    let net = problem.network();
    for path in [
        OrbitPath::Rescale { layer: 0 },
        OrbitPath::LayerScale { layer: 1 },
        OrbitPath::Balanced { layer: 1, seed: 2 },
    ] {
        for alpha in [0.2, 1.0, 3.0] {
            let scan = scan_orbit(
                &problem,
                &params,
                path,
                &[alpha],
                &SpectrumOptions::default(),
            )
            .unwrap();
            let h: f64 = 1e-5;
            let lam = |a: f64| {
                let point = path.apply(net, &params, a).unwrap();
                hessian_spectrum(&problem, &point)
                    .unwrap()
                    .lambda_max()
                    .ln()
            };
            let fd = (lam(alpha * h.exp()) - lam(alpha * (-h).exp())) / (2.0 * h);
            let slope = scan.records[0].log_lambda_max_slope;
            assert!(
                (slope - fd).abs() < 1e-5 * fd.abs().max(1.0),
                "{path} α={alpha}: {slope} vs {fd}"
            );
        }
    }
}

#[test]
fn scan_rejects_bad_input() {
    let (problem, params) = small();
    let path = OrbitPath::Rescale { layer: 0 };
    let o = SpectrumOptions::default();
    assert!(scan_orbit(&problem, &params, path, &[], &o).is_err());
    assert!(scan_orbit(&problem, &params, path, &[-1.0], &o).is_err());
    assert!(scan_orbit(&problem, &params[1..], path, &[1.0], &o).is_err());
    let bad = SpectrumOptions {
        tolerance: 0.0,
        ..o
    };
    assert!(
        point_spectrum(&problem, &params, &bad)
            .unwrap_err()
            .to_string()
            .contains("tolerance")
    );
}
