//! Optimiser update rules against hand-computed steps, the momentum step bound, and
//! minibatch SGD (seeded batches, batch gradients, the full-batch limit).
#![allow(clippy::float_cmp)] // hand-computed steps with exactly representable values

use symstab_core::Model;
use symstab_core::data::teacher_student;
use symstab_core::descent::GradientDescent;
use symstab_core::dynamics::{
    MinibatchSchedule, Optimizer, OptimizerState, momentum_stable_learning_rate, subset_problem,
    train_sgd,
};
use symstab_core::mlp::Activation;
use symstab_core::outcome::{Outcome, StopRule};
use symstab_core::spectrum::StepBound;
use symstab_core::toy::ProductChain;

/// ∇L of the toy L = (ab − 2)², written out by hand.
fn toy_gradient(a: f64, b: f64) -> [f64; 2] {
    let r = a * b - 2.0;
    [2.0 * r * b, 2.0 * r * a]
}

#[test]
fn plain_step_from_one_nine_by_hand() {
    // At (1, 9): r = 7, ∇L = (126, 14); η = 0.01 gives (1 − 1.26, 9 − 0.14).
    let opt = Optimizer::new(0.01).unwrap();
    let mut state = OptimizerState::new(2);
    let mut theta = [1.0, 9.0];
    let mut g = toy_gradient(1.0, 9.0);
    assert_eq!(g, [126.0, 14.0]);
    let norm = opt.step(&mut state, &mut theta, &mut g);
    assert!((norm - 16072f64.sqrt()).abs() < 1e-12);
    assert!((theta[0] - (-0.26)).abs() < 1e-15 && (theta[1] - 8.86).abs() < 1e-15);
}

#[test]
fn clipping_rescales_to_the_clip_norm() {
    let opt = Optimizer::new(0.1).unwrap().with_clip_norm(10.0).unwrap();
    let mut state = OptimizerState::new(2);
    let mut theta = [1.0, 9.0];
    let mut g = [126.0, 14.0];
    opt.step(&mut state, &mut theta, &mut g);
    let n = 16072f64.sqrt();
    let (ga, gb) = (126.0 * 10.0 / n, 14.0 * 10.0 / n);
    assert!((g[0] - ga).abs() < 1e-12 && (g[1] - gb).abs() < 1e-12);
    assert!((theta[0] - (1.0 - 0.1 * ga)).abs() < 1e-14);
    assert!((theta[1] - (9.0 - 0.1 * gb)).abs() < 1e-14);
    // A short gradient is left alone.
    let mut g = [3.0, 4.0];
    let mut theta = [0.0, 0.0];
    opt.step(&mut OptimizerState::new(2), &mut theta, &mut g);
    assert_eq!(g, [3.0, 4.0]);
    assert!((theta[0] + 0.3).abs() < 1e-15 && (theta[1] + 0.4).abs() < 1e-15);
}

#[test]
fn momentum_and_weight_decay_two_steps_by_hand() {
    let (eta, beta, decay) = (0.01, 0.9, 0.1);
    let opt = Optimizer::new(eta)
        .unwrap()
        .with_momentum(beta)
        .unwrap()
        .with_weight_decay(decay)
        .unwrap();
    let mut state = OptimizerState::new(2);
    let mut theta = [1.0, 9.0];
    // Step 1: v = g + λθ = (126.1, 14.9); θ = (1 − 1.261, 9 − 0.149).
    let mut g = toy_gradient(theta[0], theta[1]);
    opt.step(&mut state, &mut theta, &mut g);
    let v1 = [126.0 + 0.1, 14.0 + 0.9];
    let t1 = [1.0 - eta * v1[0], 9.0 - eta * v1[1]];
    assert!((state.velocity[0] - v1[0]).abs() < 1e-12 && (state.velocity[1] - v1[1]).abs() < 1e-12);
    assert!((theta[0] - t1[0]).abs() < 1e-14 && (theta[1] - t1[1]).abs() < 1e-14);
    // Step 2: v = β v1 + g(t1) + λ t1.
    let g1 = toy_gradient(t1[0], t1[1]);
    let v2 = [
        beta * v1[0] + g1[0] + decay * t1[0],
        beta * v1[1] + g1[1] + decay * t1[1],
    ];
    let mut g = g1;
    opt.step(&mut state, &mut theta, &mut g);
    assert!((theta[0] - (t1[0] - eta * v2[0])).abs() < 1e-13);
    assert!((theta[1] - (t1[1] - eta * v2[1])).abs() < 1e-13);
}

#[test]
fn optimizer_steps_reproduce_gradient_descent_runs() {
    let toy = ProductChain::toy();
    let opt = Optimizer::new(0.005)
        .unwrap()
        .with_momentum(0.5)
        .unwrap()
        .with_weight_decay(0.01)
        .unwrap()
        .with_clip_norm(10.0)
        .unwrap();
    let run = opt.as_gradient_descent(30).run(&toy, &[1.0, 9.0]).unwrap();
    let mut theta = vec![1.0, 9.0];
    let mut state = OptimizerState::new(2);
    let mut grad = vec![0.0; 2];
    for t in 0..run.steps {
        let loss = toy.loss_and_gradient(&theta, &mut grad);
        assert_eq!(loss.to_bits(), run.losses[t].to_bits(), "step {t}");
        opt.step(&mut state, &mut theta, &mut grad);
    }
    assert_eq!(theta, run.final_point);
}

#[test]
fn invalid_settings_are_rejected_with_the_field_name() {
    assert!(Optimizer::new(0.0).is_err());
    let e = Optimizer::new(0.1).unwrap().with_momentum(1.0).unwrap_err();
    assert!(e.to_string().contains("momentum"), "{e}");
    let e = Optimizer::new(0.1)
        .unwrap()
        .with_clip_norm(-1.0)
        .unwrap_err();
    assert!(e.to_string().contains("clip_norm"), "{e}");
    let e = MinibatchSchedule::new(10, 11, 0).unwrap_err();
    assert!(e.to_string().contains("batch_size"), "{e}");
}

/// L(θ) = ½ Σ hᵢ θᵢ²: the quadratic on which the step bounds are exact.
struct Quadratic(Vec<f64>);

impl Model for Quadratic {
    fn n_params(&self) -> usize {
        self.0.len()
    }
    fn input_dim(&self) -> usize {
        1
    }
    fn output_dim(&self) -> usize {
        1
    }
    fn predict(&self, _: &[f64], _: &[f64], out: &mut [f64]) {
        out[0] = 0.0;
    }
    fn loss(&self, p: &[f64]) -> f64 {
        0.5 * p.iter().zip(&self.0).map(|(x, h)| h * x * x).sum::<f64>()
    }
    fn loss_and_gradient(&self, p: &[f64], g: &mut [f64]) -> f64 {
        for ((gi, x), h) in g.iter_mut().zip(p).zip(&self.0) {
            *gi = h * x;
        }
        self.loss(p)
    }
    fn hessian_vector_product(&self, _: &[f64], v: &[f64], out: &mut [f64]) {
        for ((o, x), h) in out.iter_mut().zip(v).zip(&self.0) {
            *o = h * x;
        }
    }
}

#[test]
fn momentum_bound_separates_convergence_from_divergence_on_a_quadratic() {
    let q = Quadratic(vec![4.0, 1.0, 0.25]);
    for beta in [0.0, 0.5, 0.9] {
        let bound = momentum_stable_learning_rate(4.0, beta).value().unwrap();
        assert!((bound - (2.0 + 2.0 * beta) / 4.0).abs() < 1e-15);
        let stop = StopRule {
            convergence_tolerance: 1e-20,
            divergence_bound: 1e6,
        };
        let run = |eta: f64| {
            GradientDescent::new(eta, 20_000)
                .unwrap()
                .with_momentum(beta)
                .unwrap()
                .with_stop(stop)
                .unwrap()
                .run(&q, &[1.0, 1.0, 1.0])
                .unwrap()
                .outcome
        };
        assert_eq!(run(0.98 * bound), Outcome::Converged, "β = {beta}");
        assert_eq!(run(1.02 * bound), Outcome::Diverged, "β = {beta}");
    }
    assert_eq!(
        momentum_stable_learning_rate(0.0, 0.5),
        StepBound::Unbounded
    );
}

#[test]
fn seeded_batches_are_reproducible_and_cover_every_sample() {
    let s = MinibatchSchedule::new(103, 10, 7).unwrap();
    assert_eq!(s.batches_per_epoch(), 11);
    let e0 = s.epoch_batches(0);
    assert_eq!(e0, s.epoch_batches(0));
    assert_ne!(e0, s.epoch_batches(1));
    assert_ne!(
        e0,
        MinibatchSchedule::new(103, 10, 8).unwrap().epoch_batches(0)
    );
    assert_eq!(e0.len(), 11);
    assert_eq!(e0.last().unwrap().len(), 3);
    let mut all: Vec<usize> = e0.concat();
    all.sort_unstable();
    assert_eq!(all, (0..103).collect::<Vec<_>>());
}

#[test]
fn batch_gradient_is_the_mean_of_per_sample_gradients() {
    let ts = teacher_student(&[3, 4, 1], Activation::Relu, 20, 1).unwrap();
    let p = &ts.student_params;
    let batch = [3, 17, 5, 0];
    let sub = subset_problem(&ts.problem, &batch).unwrap();
    let g = sub.gradient(p);
    let mut mean = vec![0.0; g.len()];
    let mut loss = 0.0;
    for &i in &batch {
        let one = subset_problem(&ts.problem, &[i]).unwrap();
        loss += one.loss(p) / 4.0;
        for (m, gi) in mean.iter_mut().zip(one.gradient(p)) {
            *m += gi / 4.0;
        }
    }
    assert!((sub.loss(p) - loss).abs() < 1e-14 * loss.max(1.0));
    for (a, b) in g.iter().zip(&mean) {
        assert!((a - b).abs() < 1e-13, "{a} vs {b}");
    }
    assert!(subset_problem(&ts.problem, &[20]).is_err());
    assert!(subset_problem(&ts.problem, &[]).is_err());
}

#[test]
fn sgd_is_reproducible_and_full_batch_sgd_is_gradient_descent() {
    let ts = teacher_student(&[3, 5, 1], Activation::Relu, 40, 2).unwrap();
    let opt = Optimizer::new(0.05).unwrap();
    let stop = StopRule::default();
    let s = MinibatchSchedule::new(40, 8, 11).unwrap();
    let a = train_sgd(&ts.problem, &ts.student_params, &opt, &s, 5, stop).unwrap();
    let b = train_sgd(&ts.problem, &ts.student_params, &opt, &s, 5, stop).unwrap();
    assert_eq!(a, b);
    assert_eq!(a.steps, 25);
    assert_eq!(a.epoch_losses.len(), 6);
    let other = MinibatchSchedule::new(40, 8, 12).unwrap();
    let c = train_sgd(&ts.problem, &ts.student_params, &opt, &other, 5, stop).unwrap();
    assert_ne!(a.final_point, c.final_point);
    assert!(a.epoch_losses[5] < a.epoch_losses[0]);

    // One epoch by hand: θ ← θ − η ∇L_batch(θ) for the batches of epoch 0 in order.
    let mut theta = ts.student_params.clone();
    for batch in s.epoch_batches(0) {
        let g = subset_problem(&ts.problem, &batch)
            .unwrap()
            .gradient(&theta);
        for (t, gi) in theta.iter_mut().zip(&g) {
            *t -= 0.05 * gi;
        }
    }
    let one = train_sgd(&ts.problem, &ts.student_params, &opt, &s, 1, stop).unwrap();
    assert_eq!(one.steps, 5);
    assert_eq!(one.final_point, theta);

    // batch_size = n: every step is a full-batch gradient step (order does not matter up
    // to summation order).
    let gd = opt
        .as_gradient_descent(10)
        .run(&ts.problem, &ts.student_params)
        .unwrap();
    let full = MinibatchSchedule::new(40, 40, 3).unwrap();
    let sgd = train_sgd(&ts.problem, &ts.student_params, &opt, &full, 10, stop).unwrap();
    for (x, y) in sgd.final_point.iter().zip(&gd.final_point) {
        assert!((x - y).abs() < 1e-12, "{x} vs {y}");
    }
}
