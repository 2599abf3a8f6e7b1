//! Orbit paths: parsing, the exponent form of each path, and the invariance of the loss and
//! the function along every path.

use proptest::prelude::*;
use symstab_core::Model;
use symstab_core::data::teacher_student;
use symstab_core::mlp::{Activation, MlpProblem};
use symstab_core::orbit::{OrbitPath, log_spaced, neuron_scale_symmetry};

fn small() -> (MlpProblem, Vec<f64>) {
    let ts = teacher_student(&[3, 6, 5, 1], Activation::Relu, 64, 11).unwrap();
    (ts.problem, ts.student_params)
}

fn paths() -> Vec<OrbitPath> {
    [
        "rescale:0",
        "rescale:1",
        "layer-scale:0",
        "layer-scale:1",
        "balanced:0:7",
        "balanced:1:3",
    ]
    .iter()
    .map(|s| s.parse().unwrap())
    .collect()
}

#[test]
fn paths_parse_and_print() {
    for p in paths() {
        assert_eq!(p.to_string().parse::<OrbitPath>().unwrap(), p);
    }
    assert_eq!(
        "balanced:2".parse::<OrbitPath>().unwrap(),
        OrbitPath::Balanced { layer: 2, seed: 0 }
    );
    for bad in [
        "",
        "rescale",
        "rescale:x",
        "layer-scale:-1",
        "spin:1",
        "balanced:1:2:3",
    ] {
        let err = bad.parse::<OrbitPath>().unwrap_err().to_string();
        assert!(err.contains("path"), "{bad}: {err}");
    }
}

#[test]
fn bad_layer_alpha_and_activation_are_errors() {
    let (problem, params) = small();
    let net = problem.network();
    let err = OrbitPath::Rescale { layer: 2 }
        .apply(net, &params, 2.0)
        .unwrap_err()
        .to_string();
    assert!(err.contains("layer") && err.contains('2'), "{err}");
    for alpha in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        let err = OrbitPath::Rescale { layer: 0 }
            .apply(net, &params, alpha)
            .unwrap_err()
            .to_string();
        assert!(err.contains("alpha"), "{err}");
    }
    let tanh = teacher_student(&[3, 4, 1], Activation::Tanh, 8, 0).unwrap();
    let err = OrbitPath::Rescale { layer: 0 }
        .apply(tanh.problem.network(), &tanh.student_params, 2.0)
        .unwrap_err()
        .to_string();
    assert!(err.contains("tanh"), "{err}");
}

#[test]
fn every_path_multiplies_parameters_by_alpha_to_the_exponents() {
    let (problem, params) = small();
    let net = problem.network();
    for path in paths() {
        let e = path.exponents(net).unwrap();
        assert!(
            e.iter()
                .all(|x| [-1.0, 0.0, 1.0].iter().any(|v| (x - v).abs() < 1e-15))
        );
        assert!(e.iter().any(|x| x.abs() > 0.5), "{path}: trivial path");
        for alpha in [0.01, 0.37, 1.0, 4.2, 100.0] {
            let moved = path.apply(net, &params, alpha).unwrap();
            for (i, (&m, &t)) in moved.iter().zip(&params).enumerate() {
                let want = t * f64::powf(alpha, e[i]);
                assert!(
                    (m - want).abs() <= 1e-14 * want.abs().max(1e-300),
                    "{path} α={alpha} i={i}"
                );
            }
        }
    }
}

#[test]
fn log_scales_of_a_path_give_the_same_point_as_the_path() {
    let (problem, params) = small();
    let net = problem.network();
    for path in paths() {
        for alpha in [0.01, 0.37, 4.2] {
            let v = path.log_scales(net, alpha).unwrap();
            assert_eq!(v.len(), net.n_hidden_layers());
            for (h, layer) in v.iter().enumerate() {
                assert_eq!(layer.len(), net.widths()[h + 1]);
                if h != path.hidden_layer() {
                    assert!(layer.iter().all(|x| *x == 0.0), "{path}: layer {h} moved");
                }
            }
            let via_scales = neuron_scale_symmetry(net, &v)
                .unwrap()
                .apply(net, &params)
                .unwrap();
            let via_path = path.apply(net, &params, alpha).unwrap();
            for (i, (a, b)) in via_scales.iter().zip(&via_path).enumerate() {
                assert!(
                    (a - b).abs() <= 1e-13 * b.abs().max(1e-300),
                    "{path} α={alpha} i={i}: {a} vs {b}"
                );
            }
        }
    }
}

#[test]
fn rescale_and_layer_scale_move_the_same_way() {
    let (problem, params) = small();
    let net = problem.network();
    for k in 0..2 {
        for alpha in [0.05, 3.0] {
            let a = OrbitPath::Rescale { layer: k }
                .apply(net, &params, alpha)
                .unwrap();
            let b = OrbitPath::LayerScale { layer: k }
                .apply(net, &params, alpha)
                .unwrap();
            for (x, y) in a.iter().zip(&b) {
                assert!((x - y).abs() <= 1e-14 * x.abs().max(1e-300));
            }
        }
    }
}

#[test]
fn balanced_path_scales_half_the_neurons_up_and_half_down() {
    let (problem, _) = small();
    let net = problem.network();
    let signs = OrbitPath::Balanced { layer: 0, seed: 7 }
        .neuron_signs(net)
        .unwrap();
    assert_eq!(signs.len(), 6);
    assert_eq!(signs.iter().filter(|s| **s > 0.0).count(), 3);
    assert_eq!(signs.iter().filter(|s| **s < 0.0).count(), 3);
}

#[test]
fn loss_is_constant_along_every_path_to_1e_10() {
    let (problem, params) = small();
    let net = problem.network();
    let reference = problem.loss(&params);
    let outputs = problem.outputs(&params).unwrap();
    for path in paths() {
        for alpha in log_spaced(1e-2, 1e2, 41).unwrap() {
            let moved = path.apply(net, &params, alpha).unwrap();
            let loss = problem.loss(&moved);
            assert!(
                (loss - reference).abs() <= 1e-10 * reference,
                "{path} α={alpha}: {loss} vs {reference}"
            );
            let out = problem.outputs(&moved).unwrap();
            for (a, b) in out.iter().zip(&outputs) {
                assert!((a - b).abs() <= 1e-10 * b.abs().max(1.0));
            }
        }
    }
}

#[test]
fn log_spaced_endpoints_and_errors() {
    let v = log_spaced(1e-2, 1e2, 41).unwrap();
    assert_eq!(v.len(), 41);
    assert!((v[0] - 1e-2).abs() < 1e-18 && (v[40] - 1e2).abs() < 1e-12);
    assert!((v[20] - 1.0).abs() < 1e-14);
    for w in v.windows(2) {
        assert!((w[1] / w[0] - 10f64.powf(0.1)).abs() < 1e-12);
    }
    assert!(log_spaced(0.0, 1.0, 3).is_err());
    assert!(log_spaced(2.0, 1.0, 3).is_err());
    assert!(log_spaced(1.0, 2.0, 0).is_err());
}

#[test]
#[allow(clippy::float_cmp, reason = "the ends and the middle must be exact")]
fn log_spaced_is_exact_at_the_ends_and_the_middle_of_a_symmetric_range() {
    for (min, max, n) in [
        (1e-2, 1e2, 41),
        (0.1, 10.0, 5),
        (1e-3, 1e3, 7),
        (0.5, 2.0, 3),
    ] {
        let v = log_spaced(min, max, n).unwrap();
        assert_eq!(v[0], min);
        assert_eq!(v[n - 1], max);
        assert_eq!(v[n / 2], 1.0, "middle of {min}..{max} ({n} points)");
        // Mirror points are reciprocal to rounding.
        for k in 0..n {
            assert!((v[k] * v[n - 1 - k] - 1.0).abs() < 1e-14);
        }
    }
    // Not symmetric: the middle is the geometric mean.
    let v = log_spaced(2.0, 8.0, 3).unwrap();
    assert_eq!(v, vec![2.0, 4.0, 8.0]);
    // Through 1 off the middle: the point at 1 is exact (its computed log is 4e-16).
    for (min, max, n, at) in [(0.1, 1000.0, 5, 1), (1e-3, 10.0, 5, 3), (0.01, 1e4, 7, 2)] {
        let v = log_spaced(min, max, n).unwrap();
        assert_eq!(v[at], 1.0, "{min}..{max} ({n} points): {v:?}");
    }
    // Points merely close to 1 are not moved onto it.
    let v = log_spaced(1.0 - 1e-12, 1.0 + 1e-12, 4).unwrap();
    assert!(v.iter().all(|&x| x != 1.0), "{v:?}");
    // Extreme ranges whose product over- or underflows still come out in order and finite.
    for (min, max) in [(1e-300, 1e-10), (1e10, 1e300)] {
        let v = log_spaced(min, max, 9).unwrap();
        assert!(v.iter().all(|x| x.is_finite() && *x > 0.0));
        assert!(v.windows(2).all(|w| w[0] < w[1]));
        assert_eq!((v[0], v[8]), (min, max));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn path_points_compose_and_keep_the_loss(
        which in 0usize..6,
        la in -4.6f64..4.6,
        lb in -4.6f64..4.6,
    ) {
        let (problem, params) = small();
        let net = problem.network();
        let path = paths()[which];
        let (a, b) = (la.exp(), lb.exp());
        // g(a)·g(b) = g(ab).
        let twice = path.apply(net, &path.apply(net, &params, b).unwrap(), a).unwrap();
        let once = path.apply(net, &params, a * b).unwrap();
        for (x, y) in twice.iter().zip(&once) {
            prop_assert!((x - y).abs() <= 1e-12 * x.abs().max(y.abs()).max(1e-300));
        }
        let reference = problem.loss(&params);
        prop_assert!((problem.loss(&once) - reference).abs() <= 1e-10 * reference);
    }

    #[test]
    fn per_neuron_scales_keep_the_function(
        v in proptest::collection::vec(-3.0f64..3.0, 11),
    ) {
        let (problem, params) = small();
        let net = problem.network();
        let scales = vec![v[..6].to_vec(), v[6..].to_vec()];
        let moved = neuron_scale_symmetry(net, &scales).unwrap().apply(net, &params).unwrap();
        let reference = problem.loss(&params);
        prop_assert!((problem.loss(&moved) - reference).abs() <= 1e-10 * reference);
    }
}
