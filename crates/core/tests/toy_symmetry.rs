//! The product chain's symmetry: invariance of f and L along rescale orbits, the
//! transformation of the gradient and Hessian, orbit points, and the quantities gradient
//! flow conserves (and how a finite step changes them).

#![allow(
    clippy::float_cmp,
    reason = "exact comparisons are intended where results are exactly representable"
)]

use nalgebra::DMatrix;
use proptest::prelude::*;
use symstab_core::Model;
use symstab_core::descent::GradientDescent;
use symstab_core::toy::ProductChain;

/// |a − b| ≤ tol · scale, with a readable message.
fn close(a: f64, b: f64, tol: f64, scale: f64) -> std::result::Result<(), TestCaseError> {
    prop_assert!(
        (a - b).abs() <= tol * scale,
        "{a} vs {b} (tol {tol} × scale {scale})"
    );
    Ok(())
}

/// A point with entries of magnitude in [0.1, 10] and random signs.
fn point(n: usize) -> impl Strategy<Value = Vec<f64>> {
    prop::collection::vec((-2.3f64..2.3, any::<bool>()), n).prop_map(|v| {
        v.into_iter()
            .map(|(log, negative)| if negative { -log.exp() } else { log.exp() })
            .collect()
    })
}

/// Chain length, point, pair (i, j), α (log-uniform in [0.01, 100]) and samples.
fn orbit_case() -> impl Strategy<Value = (Vec<f64>, usize, usize, f64, Vec<(f64, f64)>)> {
    (2usize..=4).prop_flat_map(|n| {
        (
            point(n),
            0..n,
            0..n - 1,
            -4.6f64..4.6,
            prop::collection::vec((-3.0f64..3.0, -5.0f64..5.0), 1..4),
        )
            .prop_map(|(theta, i, j_raw, log_alpha, samples)| {
                let j = if j_raw >= i { j_raw + 1 } else { j_raw };
                (theta, i, j, log_alpha.exp(), samples)
            })
    })
}

/// Scale of the loss's terms: Σ_s (|p·x_s| + |y_s|)², so rounding in r = p·x − y near a
/// minimum is measured against the size of what was subtracted.
fn loss_scale(chain: &ProductChain, theta: &[f64]) -> f64 {
    let p = chain.product(theta);
    chain
        .samples()
        .iter()
        .map(|&(x, y)| (p * x).abs() + y.abs())
        .map(|t| t * t)
        .sum::<f64>()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn toy_function_and_loss_are_invariant_along_rescale_orbit(
        (theta, i, j, alpha, samples) in orbit_case(),
        input in -5.0f64..5.0,
    ) {
        let chain = ProductChain::new(theta.len(), samples).unwrap();
        let moved = chain.rescale(&theta, i, j, alpha).unwrap();
        prop_assert!((moved[i] - alpha * theta[i]).abs() <= 1e-15 * moved[i].abs());
        prop_assert!((moved[j] - theta[j] / alpha).abs() <= 1e-15 * moved[j].abs());

        let (mut f, mut f_moved) = ([0.0], [0.0]);
        chain.predict(&theta, &[input], &mut f);
        chain.predict(&moved, &[input], &mut f_moved);
        close(f_moved[0], f[0], 1e-12, f[0].abs())?;

        let (loss, loss_moved) = (chain.loss(&theta), chain.loss(&moved));
        close(loss_moved, loss, 1e-12, loss.max(loss_scale(&chain, &theta)))?;
    }

    #[test]
    fn toy_gradient_and_hessian_transform_by_inverse_transpose(
        (theta, i, j, alpha, samples) in orbit_case(),
    ) {
        // For θ' = D·θ with D = diag(d), d_i = α, d_j = 1/α: ∇L(θ') = D⁻¹·∇L(θ) and
        // H(θ') = D⁻¹·H(θ)·D⁻¹.
        let n = theta.len();
        let chain = ProductChain::new(n, samples).unwrap();
        let moved = chain.rescale(&theta, i, j, alpha).unwrap();
        let mut d = vec![1.0; n];
        d[i] = alpha;
        d[j] = 1.0 / alpha;

        let (g, g_moved) = (chain.gradient(&theta), chain.gradient(&moved));
        let slope_scale: f64 = chain
            .samples()
            .iter()
            .map(|&(x, y)| 2.0 * ((chain.product(&theta) * x).abs() + y.abs()) * x.abs())
            .sum();
        let but_one = chain.products_but_one(&moved);
        for k in 0..n {
            close(g_moved[k], g[k] / d[k], 1e-12, slope_scale.max(1.0) * but_one[k].abs())?;
        }

        let (h, h_moved) = (chain.hessian(&theta), chain.hessian(&moved));
        let scale = h_moved.iter().fold(1.0_f64, |m, v| m.max(v.abs()));
        for k in 0..n {
            for l in 0..n {
                close(h_moved[(k, l)], h[(k, l)] / (d[k] * d[l]), 1e-11, scale)?;
            }
        }
    }

    #[test]
    fn toy_loss_is_invariant_under_scaling_with_product_one(
        theta in point(4),
        logs in prop::collection::vec(-2.0f64..2.0, 3),
        negate in any::<bool>(),
    ) {
        let chain = ProductChain::new(4, vec![(1.0, 2.0), (-0.5, 0.3)]).unwrap();
        let mut factors: Vec<f64> = logs.iter().map(|l| l.exp()).collect();
        factors.push(1.0 / factors.iter().product::<f64>());
        if negate {
            factors[0] = -factors[0];
            factors[3] = -factors[3];
        }
        let moved = chain.scale(&theta, &factors).unwrap();
        close(chain.loss(&moved), chain.loss(&theta), 1e-12, loss_scale(&chain, &theta))?;
        close(chain.product(&moved), chain.product(&theta), 1e-13, chain.product(&theta).abs())?;
    }

    #[test]
    fn toy_gradient_step_changes_squared_differences_by_eta_squared(
        theta in point(3),
        learning_rate in 1e-4f64..0.05,
    ) {
        // θ' = θ − η·g with wᵢ·gᵢ = G·p for every i gives
        // (wᵢ'² − wⱼ'²) − (wᵢ² − wⱼ²) = η²·(gᵢ² − gⱼ²).
        let chain = ProductChain::new(3, vec![(1.0, 2.0), (0.5, -1.0)]).unwrap();
        let mut descent = GradientDescent::new(learning_rate, 1).unwrap();
        descent.stop.convergence_tolerance = 0.0;
        descent.stop.divergence_bound = f64::INFINITY;
        let run = descent.run(&chain, &theta).unwrap();
        prop_assert_eq!(run.steps, 1);
        let along = chain.conserved_along(&run).unwrap();
        let g = chain.gradient(&theta);
        let after = &run.trajectory[1];
        let pairs = [(0, 1), (0, 2), (1, 2)];
        for (k, &(i, j)) in pairs.iter().enumerate() {
            let change = along[1][k] - along[0][k];
            let predicted = learning_rate * learning_rate * (g[i] * g[i] - g[j] * g[j]);
            let scale = theta[i].powi(2) + theta[j].powi(2) + after[i].powi(2) + after[j].powi(2);
            close(change, predicted, 1e-14, scale)?;
        }
    }
}

#[test]
fn toy_orbit_points() {
    // c = 9: (3α, 3/α); log α = 0 is (3, 3), α = 1/3 is (1, 9).
    assert_eq!(ProductChain::orbit_point(9.0, 0.0).unwrap(), [3.0, 3.0]);
    let [a, b] = ProductChain::orbit_point(9.0, (1.0f64 / 3.0).ln()).unwrap();
    assert!(
        (a - 1.0).abs() < 1e-15 && (b - 9.0).abs() < 1e-14,
        "({a}, {b})"
    );
    for log_alpha in [-4.6, -1.0, 0.3, 2.0, 4.6] {
        let [a, b] = ProductChain::orbit_point(9.0, log_alpha).unwrap();
        assert!((a - 3.0 * f64::exp(log_alpha)).abs() <= 1e-14 * a);
        assert!((a * b - 9.0).abs() < 1e-13);
        let [a, b] = ProductChain::orbit_point(-4.0, log_alpha).unwrap();
        assert!(a > 0.0 && b < 0.0 && (a * b + 4.0).abs() < 1e-13);
    }
    assert_eq!(ProductChain::orbit_point(0.0, 1.0).unwrap(), [0.0, 0.0]);
    assert!(ProductChain::orbit_point(f64::NAN, 0.0).is_err());
    assert!(ProductChain::orbit_point(9.0, f64::INFINITY).is_err());
    let err = ProductChain::orbit_point(9.0, 1000.0)
        .unwrap_err()
        .to_string();
    assert!(err.contains("log_alpha") && err.contains("1000"), "{err}");
}

#[test]
fn toy_conserved_quantities_order_and_toy_value() {
    let chain = ProductChain::new(3, vec![(1.0, 2.0)]).unwrap();
    assert_eq!(
        chain.conserved_quantities(&[1.0, 2.0, 3.0]),
        vec![-3.0, -8.0, -5.0]
    );
    assert_eq!(
        ProductChain::toy().conserved_quantities(&[1.0, 9.0]),
        vec![-80.0]
    );
}

#[test]
fn toy_conserved_drift_along_a_run_is_the_sum_of_step_changes() {
    // From (1, 9) at η = 0.01: a² − b² drifts from −80; the drift equals Σ_t η²(g_a² − g_b²).
    let toy = ProductChain::toy();
    let eta = 0.01;
    let run = GradientDescent::new(eta, 50)
        .unwrap()
        .run(&toy, &[1.0, 9.0])
        .unwrap();
    let along = toy.conserved_along(&run).unwrap();
    assert_eq!(along.len(), run.steps + 1);
    assert_eq!(along[0], vec![-80.0]);
    let mut predicted = -80.0;
    for point in &run.trajectory[..run.steps] {
        let g = toy.gradient(point);
        predicted += eta * eta * (g[0] * g[0] - g[1] * g[1]);
    }
    let last = along[run.steps][0];
    assert!((last - predicted).abs() < 1e-11, "{last} vs {predicted}");
    assert!(
        (last + 80.0).abs() > 1.0,
        "finite steps break the conservation visibly: {last}"
    );

    // Smaller steps conserve it better: the drift shrinks like η (η² per step, 1/η steps).
    let drift = |eta: f64| {
        let steps = (0.2 / eta) as usize;
        let run = GradientDescent::new(eta, steps)
            .unwrap()
            .run(&toy, &[1.0, 3.0])
            .unwrap();
        (toy.conserved_along(&run).unwrap().last().unwrap()[0] + 8.0).abs()
    };
    let (coarse, fine) = (drift(1e-3), drift(1e-4));
    assert!(
        fine > 0.0 && (coarse / fine - 10.0).abs() < 1.0,
        "{coarse} vs {fine}"
    );
}

#[test]
fn toy_symmetry_errors_name_field_and_value() {
    let chain = ProductChain::new(3, vec![(1.0, 2.0)]).unwrap();
    let theta = [1.0, 2.0, 3.0];
    for (alpha, shown) in [
        (0.0, "0"),
        (-2.0, "-2"),
        (f64::NAN, "NaN"),
        (f64::INFINITY, "inf"),
    ] {
        let err = chain.rescale(&theta, 0, 1, alpha).unwrap_err().to_string();
        assert!(err.contains("alpha") && err.contains(shown), "{err}");
    }
    assert!(
        chain
            .rescale(&theta, 1, 1, 2.0)
            .unwrap_err()
            .to_string()
            .contains("j = 1")
    );
    assert!(
        chain
            .rescale(&theta, 3, 1, 2.0)
            .unwrap_err()
            .to_string()
            .contains("i = 3")
    );
    assert!(chain.rescale(&theta[..2], 0, 1, 2.0).is_err());
    assert_eq!(
        chain.rescale(&theta, 2, 0, 2.0).unwrap(),
        vec![0.5, 2.0, 6.0]
    );

    let err = chain
        .scale(&theta, &[2.0, 2.0, 0.3])
        .unwrap_err()
        .to_string();
    assert!(err.contains("factors") && err.contains("1.2"), "{err}");
    assert!(chain.scale(&theta, &[2.0, 0.5]).is_err());
    assert!(chain.scale(&theta, &[f64::NAN, 1.0, 1.0]).is_err());
    assert_eq!(
        chain.scale(&theta, &[2.0, 0.5, 1.0]).unwrap(),
        vec![2.0, 1.0, 3.0]
    );

    let run = GradientDescent::new(0.01, 3)
        .unwrap()
        .with_recording(symstab_core::descent::Recording::None)
        .run(&chain, &theta)
        .unwrap();
    let err = chain.conserved_along(&run).unwrap_err().to_string();
    assert!(err.contains("not recorded"), "{err}");
    // The closed-form Hessian is the exact transform at the toy's starts: (3,3) → (1,9).
    let toy = ProductChain::toy();
    let h = toy.hessian(&[3.0, 3.0]);
    let h_moved = toy.hessian(&[1.0, 9.0]);
    let d_inv = DMatrix::from_diagonal(&nalgebra::DVector::from_vec(vec![3.0, 1.0 / 3.0]));
    let transformed = &d_inv * h * &d_inv;
    assert!((transformed - h_moved).abs().max() < 1e-12);
}
