//! Teleports leave the function unchanged, the orbit derivatives match finite differences,
//! each policy moves its objective the right way, and teleport training logs its jumps.
#![allow(clippy::float_cmp)] // a revert restores the saved point exactly, so its loss is bit-identical

use symstab_core::Model;
use symstab_core::data::{TeacherStudent, teacher_student};
use symstab_core::dynamics::teleport::{
    gradient_norm_log_scale_gradient, lambda_max_log_scale_gradient, n_log_scales,
    rescale_from_log_scales,
};
use symstab_core::dynamics::{
    Optimizer, StallRule, TeleportKind, TeleportPolicy, TeleportTraining, lambda_max, teleport,
    train_with_teleports,
};
use symstab_core::mlp::Activation;
use symstab_core::outcome::StopRule;
use symstab_core::spectrum::SymmetricEigen;

fn small() -> TeacherStudent {
    teacher_student(&[3, 5, 4, 1], Activation::Relu, 60, 4).unwrap()
}

const POLICIES: [TeleportPolicy; 3] = [
    TeleportPolicy::RandomBalanced { factor: 3.0 },
    TeleportPolicy::MaxGradientNorm {
        steps: 5,
        step_size: 0.3,
        max_log_scale: 2.0,
    },
    TeleportPolicy::MinSharpness {
        steps: 5,
        step_size: 0.3,
        max_log_scale: 2.0,
    },
];

#[test]
fn every_policy_leaves_the_function_unchanged() {
    let ts = small();
    let p = &ts.student_params;
    let before = ts.problem.outputs(p).unwrap();
    let scale = before.iter().fold(0.0_f64, |m, x| m.max(x.abs()));
    for policy in POLICIES {
        let moved = teleport(&ts.problem, p, &policy, 9).unwrap();
        assert!(
            moved.output_change <= 1e-10,
            "{}: {}",
            policy.name(),
            moved.output_change
        );
        let after = ts.problem.outputs(&moved.params).unwrap();
        for (a, b) in before.iter().zip(&after) {
            assert!((a - b).abs() <= 1e-10 * scale, "{}", policy.name());
        }
        assert!(
            moved.log_scales.iter().any(|u| u.abs() > 1e-3),
            "{} moved",
            policy.name()
        );
        assert_ne!(&moved.params, p);
    }
}

#[test]
fn tanh_networks_are_refused() {
    let ts = teacher_student(&[3, 4, 1], Activation::Tanh, 10, 1).unwrap();
    let e = teleport(&ts.problem, &ts.student_params, &POLICIES[0], 0).unwrap_err();
    assert!(e.to_string().contains("tanh"), "{e}");
}

#[test]
fn random_balanced_rescale_scales_half_the_neurons_up() {
    let ts = small();
    let a = teleport(&ts.problem, &ts.student_params, &POLICIES[0], 5).unwrap();
    let b = teleport(&ts.problem, &ts.student_params, &POLICIES[0], 5).unwrap();
    assert_eq!(a, b);
    let up = a.log_scales.iter().filter(|u| **u > 0.0).count();
    assert_eq!(up, 3 + 2, "⌈5/2⌉ + ⌈4/2⌉ neurons scaled up");
    for u in &a.log_scales {
        assert!((u.abs() - 3f64.ln()).abs() < 1e-14);
    }
}

fn finite_difference(f: impl Fn(&[f64]) -> f64, n: usize, h: f64) -> Vec<f64> {
    (0..n)
        .map(|j| {
            let mut u = vec![0.0; n];
            u[j] = h;
            let plus = f(&u);
            u[j] = -h;
            (plus - f(&u)) / (2.0 * h)
        })
        .collect()
}

#[test]
fn gradient_norm_derivative_matches_finite_differences() {
    let ts = small();
    let (net, p) = (ts.problem.network(), &ts.student_params);
    let n = n_log_scales(net);
    assert_eq!(n, 9);
    let (f0, d) = gradient_norm_log_scale_gradient(&ts.problem, p);
    let g2 = |u: &[f64]| {
        let q = rescale_from_log_scales(net, u)
            .unwrap()
            .apply(net, p)
            .unwrap();
        ts.problem.gradient(&q).iter().map(|x| x * x).sum::<f64>()
    };
    assert!((g2(&vec![0.0; n]) - f0).abs() < 1e-14 * f0);
    let fd = finite_difference(g2, n, 1e-5);
    let scale = d.iter().fold(0.0_f64, |m, x| m.max(x.abs()));
    for (a, b) in d.iter().zip(&fd) {
        assert!((a - b).abs() < 1e-6 * scale, "{a} vs {b}");
    }
}

#[test]
fn sharpness_derivative_matches_finite_differences_of_dense_lambda_max() {
    let ts = small();
    let (net, p) = (ts.problem.network(), &ts.student_params);
    let n = n_log_scales(net);
    let dense = |u: &[f64]| {
        let q = rescale_from_log_scales(net, u)
            .unwrap()
            .apply(net, p)
            .unwrap();
        SymmetricEigen::new(ts.problem.hessian(&q))
            .unwrap()
            .lambda_max()
    };
    let (lambda, d) = lambda_max_log_scale_gradient(&ts.problem, p, 1).unwrap();
    let exact = dense(&vec![0.0; n]);
    assert!((lambda - exact).abs() < 1e-6 * exact, "{lambda} vs {exact}");
    let fd = finite_difference(dense, n, 1e-5);
    let scale = d.iter().fold(0.0_f64, |m, x| m.max(x.abs()));
    for (a, b) in d.iter().zip(&fd) {
        assert!((a - b).abs() < 1e-4 * scale, "{a} vs {b}");
    }
}

#[test]
fn the_searches_move_their_objectives_the_right_way() {
    let ts = small();
    let p = &ts.student_params;
    let norm2 = |q: &[f64]| ts.problem.gradient(q).iter().map(|x| x * x).sum::<f64>();
    let up = teleport(&ts.problem, p, &POLICIES[1], 0).unwrap();
    assert!(
        norm2(&up.params) > 1.2 * norm2(p),
        "{} vs {}",
        norm2(&up.params),
        norm2(p)
    );
    let down = teleport(&ts.problem, p, &POLICIES[2], 0).unwrap();
    let dense = |q: &[f64]| {
        SymmetricEigen::new(ts.problem.hessian(q))
            .unwrap()
            .lambda_max()
    };
    assert!(
        dense(&down.params) < dense(p),
        "{} vs {}",
        dense(&down.params),
        dense(p)
    );
    for u in up.log_scales.iter().chain(&down.log_scales) {
        assert!(u.abs() <= 2.0 + 1e-12);
    }
}

#[test]
fn lanczos_lambda_max_matches_the_dense_spectrum() {
    let ts = small();
    let dense = SymmetricEigen::new(ts.problem.hessian(&ts.student_params))
        .unwrap()
        .lambda_max();
    let l = lambda_max(&ts.problem, &ts.student_params, 3).unwrap();
    assert!((l - dense).abs() < 1e-6 * dense);
}

#[test]
fn teleport_training_logs_teleports_and_plain_training_has_none() {
    let ts = small();
    let stall = StallRule {
        check_every: 20,
        window: 10,
        stall_tolerance: 1.0, // every check is a stall
        revert_every: 5,
        revert_rise: 0.10,
    };
    let settings = TeleportTraining {
        optimizer: Optimizer::new(0.02).unwrap().with_clip_norm(10.0).unwrap(),
        max_steps: 100,
        stall,
        policy: Some(POLICIES[0]),
        stop: StopRule::default(),
        seed: 1,
        measure_sharpness: true,
    };
    let run = train_with_teleports(&ts.problem, &ts.student_params, &settings).unwrap();
    assert_eq!(run.losses.len(), 101);
    let teleports: Vec<_> = run
        .events
        .iter()
        .filter(|e| e.kind == TeleportKind::Teleport)
        .collect();
    assert!(!teleports.is_empty());
    for e in &run.events {
        assert!(e.step.is_multiple_of(20) || e.step.is_multiple_of(5));
        assert!(e.lambda_max_before > 0.0 && e.lambda_max_after > 0.0);
        if e.kind == TeleportKind::Teleport {
            assert!(e.output_change <= 1e-10);
            assert!((e.loss_after - e.loss_before).abs() <= 1e-12 * e.loss_before);
            assert!((e.lambda_max_after - e.lambda_max_before).abs() > 1e-6);
        }
    }
    let plain = train_with_teleports(
        &ts.problem,
        &ts.student_params,
        &TeleportTraining {
            policy: None,
            ..settings.clone()
        },
    )
    .unwrap();
    assert!(plain.events.is_empty());
    let gd = settings
        .optimizer
        .as_gradient_descent(100)
        .run(&ts.problem, &ts.student_params)
        .unwrap();
    assert_eq!(plain.final_point, gd.final_point);
}

#[test]
fn a_rise_after_a_teleport_restores_the_saved_weights() {
    let ts = small();
    // Huge factor at a large step: the teleported point is far sharper, the loss rises,
    // and the revert brings back exactly the saved weights.
    let settings = TeleportTraining {
        optimizer: Optimizer::new(0.05).unwrap().with_clip_norm(10.0).unwrap(),
        max_steps: 60,
        stall: StallRule {
            check_every: 20,
            window: 10,
            stall_tolerance: 1.0,
            revert_every: 5,
            revert_rise: 0.10,
        },
        policy: Some(TeleportPolicy::RandomBalanced { factor: 30.0 }),
        stop: StopRule::default(),
        seed: 2,
        measure_sharpness: false,
    };
    let run = train_with_teleports(&ts.problem, &ts.student_params, &settings).unwrap();
    let revert = run
        .events
        .iter()
        .find(|e| e.kind == TeleportKind::Revert)
        .expect("a revert");
    let teleport_event = run
        .events
        .iter()
        .rev()
        .find(|e| e.kind == TeleportKind::Teleport && e.step < revert.step)
        .unwrap();
    assert_eq!(revert.loss_after, teleport_event.loss_before);
    assert_eq!(run.losses[revert.step], revert.loss_after);
}
