//! The flattest point: golden-section search on known minima (the toy orbit a·b = 9, whose
//! λmax is smallest at the balanced start (3, 3), and a parabola), the path search on a
//! network (stationary slope), and the per-neuron descent (exact gradient vs finite
//! differences, monotone decrease, function unchanged).

use symstab_core::Model;
use symstab_core::data::teacher_student;
use symstab_core::mlp::{Activation, MlpProblem};
use symstab_core::orbit::{
    NeuronScaleOptions, OrbitPath, SearchOptions, SpectrumOptions, SpectrumRoute,
    golden_section_minimum, log_lambda_max_gradient, log_spaced, minimize_neuron_scales,
    minimum_from_scan, path_minimum, point_spectrum, scan_orbit,
};
use symstab_core::spectrum::hessian_spectrum;
use symstab_core::toy::ProductChain;

fn small() -> (MlpProblem, Vec<f64>) {
    let ts = teacher_student(&[3, 6, 5, 1], Activation::Relu, 64, 11).unwrap();
    (ts.problem, ts.student_params)
}

#[test]
fn golden_section_finds_a_parabola_vertex() {
    let r = golden_section_minimum(|x| Ok((x - 0.3).powi(2) + 1.0), -2.0, 5.0, 1e-8).unwrap();
    assert!((r.x - 0.3).abs() < 1e-8);
    assert!((r.value - 1.0).abs() < 1e-15);
    assert!(r.evaluations < 60);
    assert!(golden_section_minimum(Ok, 1.0, 0.0, 1e-3).is_err());
    assert!(golden_section_minimum(Ok, 0.0, 1.0, 0.0).is_err());
}

/// λmax of the toy (a·b − 2)² at (3α, 3/α) on the orbit a·b = 9.
fn toy_lambda_max(log_alpha: f64) -> symstab_core::Result<f64> {
    let point = ProductChain::orbit_point(9.0, log_alpha)?;
    Ok(hessian_spectrum(&ProductChain::toy(), &point)?.lambda_max())
}

#[test]
fn search_on_a_scan_finds_the_balanced_toy_start() {
    // 40 points: α = 1 is not a sample, so the search must refine between samples.
    let xs: Vec<f64> = log_spaced(1e-2, 1e2, 40)
        .unwrap()
        .iter()
        .map(|a| a.ln())
        .collect();
    assert!(xs.iter().all(|x| x.abs() > 0.05));
    let values: Vec<f64> = xs.iter().map(|&x| toy_lambda_max(x).unwrap()).collect();
    let (best, bracket, at_end) = minimum_from_scan(&xs, &values, toy_lambda_max, 1e-7).unwrap();
    assert!(!at_end);
    assert!(bracket[0] < 0.0 && bracket[1] > 0.0);
    // λmax = a² + b² + √((a² − b²)² + 32²) has its minimum 50 at (3, 3).
    assert!(best.x.abs() < 1e-6, "log α = {}", best.x);
    assert!((best.value - 50.0).abs() < 1e-9);
    assert!(values.iter().all(|v| *v > best.value));
}

#[test]
fn scan_search_reports_a_minimum_at_the_end_of_the_sample() {
    let xs = [0.0, 1.0, 2.0, 3.0];
    let f = |x: f64| Ok((x - 5.0).powi(2));
    let values: Vec<f64> = xs.iter().map(|&x| f(x).unwrap()).collect();
    let (best, _, at_end) = minimum_from_scan(&xs, &values, f, 1e-6).unwrap();
    assert!(at_end);
    assert!((best.x - 3.0).abs() < 1e-6);
    assert!(minimum_from_scan(&[1.0, 0.0], &[1.0, 2.0], f, 1e-6).is_err());
}

#[test]
fn path_minimum_on_a_network_is_stationary_and_below_the_scan() {
    let (problem, params) = small();
    let alphas = log_spaced(1e-2, 1e2, 21).unwrap();
    for path in [
        OrbitPath::Rescale { layer: 0 },
        OrbitPath::Balanced { layer: 1, seed: 4 },
    ] {
        let scan = scan_orbit(
            &problem,
            &params,
            path,
            &alphas,
            &SpectrumOptions::default(),
        )
        .unwrap();
        let min = path_minimum(&problem, &params, &scan, &SearchOptions::default()).unwrap();
        assert!(!min.at_scan_end, "{path}");
        let scanned_min = scan
            .records
            .iter()
            .map(|r| r.lambda_max)
            .fold(f64::INFINITY, f64::min);
        assert!(min.lambda_max <= scanned_min, "{path}");
        assert!(min.alpha >= min.bracket[0] && min.alpha <= min.bracket[1]);
        assert!(min.loss_relative_deviation < 1e-10);
        // At a smooth interior minimum the exact slope d log λmax / d log α vanishes: it is
        // negative at the left end of the bracket, positive at the right end, and near zero
        // where the search stopped (within 1e-4 in log α of the minimum).
        let probe = [min.bracket[0], min.alpha, min.bracket[1]];
        let at = scan_orbit(&problem, &params, path, &probe, &SpectrumOptions::default()).unwrap();
        let slopes: Vec<f64> = at.records.iter().map(|r| r.log_lambda_max_slope).collect();
        assert!(slopes[0] < -0.05 && slopes[2] > 0.05, "{path}: {slopes:?}");
        assert!(
            slopes[1].abs() < 1e-2 * slopes[0].abs().min(slopes[2]).max(1.0),
            "{path}: {slopes:?}"
        );
    }
}

#[test]
fn neuron_gradient_matches_finite_differences() {
    let (problem, params) = small();
    let options = SpectrumOptions::default();
    let v = vec![
        vec![0.3, -0.2, 0.1, 0.0, 0.5, -0.4],
        vec![0.2, 0.0, -0.3, 0.1, 0.4],
    ];
    let (lambda, grad) = log_lambda_max_gradient(&problem, &params, &v, &options).unwrap();
    assert!(lambda > 0.0);
    assert_eq!(grad.len(), 11);
    let h = 1e-5;
    for k in [0usize, 4, 6, 10] {
        let (layer, j) = if k < 6 { (0, k) } else { (1, k - 6) };
        let mut plus = v.clone();
        plus[layer][j] += h;
        let mut minus = v.clone();
        minus[layer][j] -= h;
        let lp = log_lambda_max_gradient(&problem, &params, &plus, &options)
            .unwrap()
            .0;
        let lm = log_lambda_max_gradient(&problem, &params, &minus, &options)
            .unwrap()
            .0;
        let fd = (lp.ln() - lm.ln()) / (2.0 * h);
        assert!(
            (grad[k] - fd).abs() < 1e-5 * fd.abs().max(1.0),
            "v{k}: {} vs {fd}",
            grad[k]
        );
    }
}

#[test]
fn neuron_descent_flattens_without_changing_the_function() {
    let (problem, params) = small();
    let result = minimize_neuron_scales(&problem, &params, &NeuronScaleOptions::default()).unwrap();
    assert!(result.history.len() >= 2, "no step accepted");
    assert!(result.history.windows(2).all(|w| w[1] <= w[0]));
    assert!(result.lambda_max < result.lambda_max_start);
    assert_eq!(
        result.lambda_max.to_bits(),
        result.history.last().unwrap().to_bits()
    );
    let direct = hessian_spectrum(&problem, &result.params)
        .unwrap()
        .lambda_max();
    assert!((direct - result.lambda_max).abs() < 1e-10 * direct);
    assert!(result.max_output_deviation < 1e-10);
    assert!(result.loss_relative_deviation < 1e-10);
    assert!(
        (problem.loss(&result.params) - problem.loss(&params)).abs()
            < 1e-10 * problem.loss(&params)
    );
    assert!(result.final_gradient.is_finite());
    // The exact gradient at the end matches the reported one.
    let (_, g) = log_lambda_max_gradient(
        &problem,
        &params,
        &result.log_scales,
        &SpectrumOptions::default(),
    )
    .unwrap();
    let g_inf = g.iter().fold(0.0f64, |m, x| m.max(x.abs()));
    assert!((g_inf - result.final_gradient).abs() < 1e-9);
}

#[test]
fn lanczos_route_search_values_are_point_spectrum_values() {
    // The searches read only λmax and its eigenvector; on the Lanczos route they must be the
    // very numbers point_spectrum gives at the same point.
    let (problem, params) = small();
    let lanczos = SpectrumOptions {
        route: Some(SpectrumRoute::Lanczos),
        gauss_newton: false,
        ..SpectrumOptions::default()
    };
    let path = OrbitPath::Rescale { layer: 0 };
    let alphas = log_spaced(1e-1, 1e1, 9).unwrap();
    let scan = scan_orbit(&problem, &params, path, &alphas, &lanczos).unwrap();
    let options = SearchOptions {
        spectrum: lanczos.clone(),
        ..SearchOptions::default()
    };
    let min = path_minimum(&problem, &params, &scan, &options).unwrap();
    let point = path.apply(problem.network(), &params, min.alpha).unwrap();
    let full = point_spectrum(&problem, &point, &lanczos).unwrap();
    assert_eq!(min.lambda_max.to_bits(), full.lambda_max.to_bits());
    assert!(full.trace.is_finite());

    let zeros: Vec<Vec<f64>> = (0..problem.network().n_hidden_layers())
        .map(|h| vec![0.0; problem.network().widths()[h + 1]])
        .collect();
    let (lambda, _) = log_lambda_max_gradient(&problem, &params, &zeros, &lanczos).unwrap();
    let at_start = point_spectrum(&problem, &params, &lanczos).unwrap();
    assert_eq!(lambda.to_bits(), at_start.lambda_max.to_bits());
}
