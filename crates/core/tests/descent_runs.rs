//! Gradient descent: update rules against hand-computed steps, step counting and outcomes,
//! recording options, validation, and the six runs of the original study.

#![allow(
    clippy::float_cmp,
    reason = "exact comparisons are intended where results are exactly representable"
)]

mod common;

use common::Quadratic;
use symstab_core::descent::{GradientDescent, Recording, Run};
use symstab_core::toy::ProductChain;
use symstab_core::{Error, Model, Outcome, StopRule};

fn assert_point(got: &[f64], want: &[f64], tol: f64) {
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(want) {
        assert!(
            (g - w).abs() <= tol * w.abs().max(1.0),
            "{got:?} vs {want:?}"
        );
    }
}

fn run(learning_rate: f64, steps: usize, start: [f64; 2]) -> Run {
    GradientDescent::new(learning_rate, steps)
        .unwrap()
        .run(&ProductChain::toy(), &start)
        .unwrap()
}

#[test]
fn descent_update_rules_match_hand_computed_steps() {
    let toy = ProductChain::toy();
    // At (1, 9): r = 7, ∇L = 2·7·(9, 1) = (126, 14).
    let plain = GradientDescent::new(0.01, 2).unwrap();
    let r = plain.run(&toy, &[1.0, 9.0]).unwrap();
    assert_eq!(r.losses[0], 49.0);
    assert_point(&r.trajectory[1], &[-0.26, 8.86], 1e-15);
    // ab = −2.3036, loss = 4.3036².
    assert!((r.losses[1] - 4.3036f64.powi(2)).abs() < 1e-13);

    // Heavy ball β = 0.5: v₁ = g₀, v₂ = 0.5·g₀ + g₁ with g₁ = (−76.259792, 2.237872).
    let r = plain
        .clone()
        .with_momentum(0.5)
        .unwrap()
        .run(&toy, &[1.0, 9.0])
        .unwrap();
    assert_point(&r.trajectory[1], &[-0.26, 8.86], 1e-15);
    assert_point(&r.trajectory[2], &[-0.12740208, 8.76762128], 1e-14);

    // Weight decay λ = 0.1: v₁ = g₀ + λθ₀ = (126.1, 14.9).
    let r = plain
        .clone()
        .with_weight_decay(0.1)
        .unwrap()
        .run(&toy, &[1.0, 9.0])
        .unwrap();
    assert_point(&r.trajectory[1], &[-0.261, 8.851], 1e-15);

    // Clipping to norm 10: ‖g₀‖ = √16072, g ← g·10/√16072.
    let norm = 16072f64.sqrt();
    let r = plain
        .clone()
        .with_clip_norm(10.0)
        .unwrap()
        .run(&toy, &[1.0, 9.0])
        .unwrap();
    assert_point(
        &r.trajectory[1],
        &[1.0 - 1.26 * 10.0 / norm, 9.0 - 0.14 * 10.0 / norm],
        1e-15,
    );
    assert_point(
        &r.trajectory[1],
        &[0.900611626532638, 8.988956847392515],
        1e-15,
    );
    // A clip norm above ‖g‖ changes nothing.
    let r = plain
        .clone()
        .with_clip_norm(200.0)
        .unwrap()
        .run(&toy, &[1.0, 9.0])
        .unwrap();
    assert_point(&r.trajectory[1], &[-0.26, 8.86], 1e-15);

    // Clip first, then add the decay: v₁ = clip(g₀) + λθ₀.
    let r = plain
        .with_clip_norm(10.0)
        .unwrap()
        .with_weight_decay(0.1)
        .unwrap();
    let r = r.run(&toy, &[1.0, 9.0]).unwrap();
    let want = [
        1.0 - 0.01 * (126.0 * 10.0 / norm + 0.1),
        9.0 - 0.01 * (14.0 * 10.0 / norm + 0.9),
    ];
    assert_point(&r.trajectory[1], &want, 1e-15);
}

#[test]
fn descent_plain_runs_match_an_independent_scalar_loop() {
    // The peer scripts' loop, written out: r = ab − 2; g = 2r; a' = a − (ηg)b; b' = b − (ηg)a.
    #[allow(
        clippy::neg_cmp_op_on_partial_ord,
        reason = "mirrors the peer scripts' test"
    )]
    fn peer(a0: f64, b0: f64, lr: f64, max_steps: usize) -> (Outcome, usize, f64, f64) {
        let (mut a, mut b) = (a0, b0);
        for t in 0..=max_steps {
            let r = a * b - 2.0;
            let loss = r * r;
            if !(loss <= 1e12) {
                return (Outcome::Diverged, t, a, b);
            } else if loss < 1e-12 {
                return (Outcome::Converged, t, a, b);
            } else if t == max_steps {
                return (Outcome::Unfinished, t, a, b);
            }
            let lg = lr * (2.0 * r);
            (a, b) = (a - lg * b, b - lg * a);
        }
        unreachable!()
    }
    for start in [[3.0, 3.0], [1.0, 9.0], [-4.0, 0.5], [0.1, 0.1], [7.0, -6.0]] {
        for lr in [0.005, 0.01, 0.02, 0.025] {
            for max_steps in [0, 1, 50, 400] {
                let ours = run(lr, max_steps, start);
                let (outcome, steps, a, b) = peer(start[0], start[1], lr, max_steps);
                assert_eq!(
                    (ours.outcome, ours.steps),
                    (outcome, steps),
                    "{start:?} lr {lr}"
                );
                if outcome != Outcome::Diverged {
                    assert_point(&ours.final_point, &[a, b], 1e-9);
                }
            }
        }
    }
}

#[test]
fn descent_steps_count_updates_and_classify_before_each_step() {
    let toy = ProductChain::toy();
    // At a minimum: converged before any update.
    let r = GradientDescent::new(0.01, 50)
        .unwrap()
        .run(&toy, &[1.0, 2.0])
        .unwrap();
    assert_eq!(
        (r.outcome, r.steps, r.final_loss),
        (Outcome::Converged, 0, 0.0)
    );
    assert_eq!((r.losses.len(), r.trajectory.len()), (1, 1));

    // No budget: unfinished with zero steps, the start as final point.
    let r = GradientDescent::new(0.01, 0)
        .unwrap()
        .run(&toy, &[1.0, 9.0])
        .unwrap();
    assert_eq!(
        (r.outcome, r.steps, r.final_loss),
        (Outcome::Unfinished, 0, 49.0)
    );
    assert_eq!(r.final_point, vec![1.0, 9.0]);

    // Budget spent: steps = S, S + 1 points, the last loss is the final loss.
    let r = GradientDescent::new(0.001, 7)
        .unwrap()
        .run(&toy, &[1.0, 9.0])
        .unwrap();
    assert_eq!((r.outcome, r.steps), (Outcome::Unfinished, 7));
    assert_eq!((r.losses.len(), r.trajectory.len()), (8, 8));
    assert_eq!(r.final_loss, r.losses[7]);
    assert_eq!(r.final_point, r.trajectory[7]);
    for (point, loss) in r.trajectory.iter().zip(&r.losses) {
        assert_eq!(toy.loss(point), *loss);
    }

    // A NaN loss is divergence, never progress (NaN < tolerance is false, NaN <= bound too).
    let r = GradientDescent::new(0.1, 10)
        .unwrap()
        .run(&Quadratic { scale: f64::NAN }, &[1.0]);
    let r = r.unwrap();
    assert_eq!((r.outcome, r.steps), (Outcome::Diverged, 0));
    assert!(r.final_loss.is_nan());

    // The bound is inclusive: loss exactly 1e12 continues, above it diverges.
    let descent = GradientDescent::new(1e-9, 0).unwrap();
    let r = descent.run(&Quadratic { scale: 1.0 }, &[1e6]).unwrap();
    assert_eq!(r.outcome, Outcome::Unfinished);
    let r = descent
        .run(&Quadratic { scale: 1.0 }, &[1.000001e6])
        .unwrap();
    assert_eq!(r.outcome, Outcome::Diverged);

    // η = 1 on L = θ²: θ ← θ − 2θ = −θ forever (unfinished); η = 1.5: θ ← −2θ diverges.
    let r = GradientDescent::new(1.0, 100)
        .unwrap()
        .run(&Quadratic { scale: 1.0 }, &[3.0])
        .unwrap();
    assert_eq!(
        (r.outcome, r.steps, r.final_point[0]),
        (Outcome::Unfinished, 100, 3.0)
    );
    let r = GradientDescent::new(1.5, 100)
        .unwrap()
        .run(&Quadratic { scale: 1.0 }, &[3.0])
        .unwrap();
    assert_eq!(r.outcome, Outcome::Diverged);
    // 9·4^t > 1e12 first at t = 19.
    assert_eq!(r.steps, 19);

    // A custom stop rule.
    let stop = StopRule {
        convergence_tolerance: 1e-2,
        divergence_bound: 1e3,
    };
    let descent = GradientDescent::new(0.01, 1000)
        .unwrap()
        .with_stop(stop)
        .unwrap();
    let r = descent.run(&toy, &[1.0, 9.0]).unwrap();
    assert_eq!(r.outcome, Outcome::Converged);
    assert!(r.final_loss < 1e-2 && r.losses[r.steps - 1] >= 1e-2);
}

#[test]
fn descent_recording_options_keep_the_same_summary() {
    let toy = ProductChain::toy();
    let full = GradientDescent::new(0.02, 50).unwrap();
    let (a, b, c) = (
        full.run(&toy, &[1.0, 9.0]).unwrap(),
        full.clone()
            .with_recording(Recording::Losses)
            .run(&toy, &[1.0, 9.0])
            .unwrap(),
        full.clone()
            .with_recording(Recording::None)
            .run(&toy, &[1.0, 9.0])
            .unwrap(),
    );
    for r in [&b, &c] {
        assert_eq!((r.outcome, r.steps), (a.outcome, a.steps));
        assert_eq!(
            (r.final_loss, &r.final_point),
            (a.final_loss, &a.final_point)
        );
    }
    assert_eq!((a.losses.len(), a.trajectory.len()), (51, 51));
    assert_eq!(
        (b.losses.clone(), b.trajectory.len()),
        (a.losses.clone(), 0)
    );
    assert_eq!((c.losses.len(), c.trajectory.len()), (0, 0));

    // Works through a trait object too.
    let model: &dyn Model = &toy;
    assert_eq!(full.run(model, &[1.0, 9.0]).unwrap(), a);
}

#[test]
fn descent_validation_errors_name_field_and_value() {
    for lr in [0.0, -0.01, f64::NAN, f64::INFINITY] {
        let err = GradientDescent::new(lr, 10).unwrap_err().to_string();
        assert!(
            err.contains("learning_rate") && err.contains(&lr.to_string()),
            "{err}"
        );
    }
    let base = GradientDescent::new(0.01, 10).unwrap();
    for (result, field, value) in [
        (base.clone().with_momentum(1.0), "momentum", "1"),
        (base.clone().with_momentum(-0.1), "momentum", "-0.1"),
        (base.clone().with_momentum(f64::NAN), "momentum", "NaN"),
        (base.clone().with_weight_decay(-1.0), "weight_decay", "-1"),
        (base.clone().with_clip_norm(0.0), "clip_norm", "0"),
        (
            base.clone().with_clip_norm(f64::INFINITY),
            "clip_norm",
            "inf",
        ),
    ] {
        let err = result.unwrap_err().to_string();
        assert!(err.contains(field) && err.contains(value), "{err}");
    }
    let stop = StopRule {
        convergence_tolerance: f64::NAN,
        ..StopRule::default()
    };
    assert!(
        base.clone()
            .with_stop(stop)
            .unwrap_err()
            .to_string()
            .contains("convergence_tolerance")
    );
    let stop = StopRule {
        divergence_bound: f64::NAN,
        ..StopRule::default()
    };
    assert!(
        base.clone()
            .with_stop(stop)
            .unwrap_err()
            .to_string()
            .contains("divergence_bound")
    );

    // Fields set directly are validated by run.
    let mut bad = base.clone();
    bad.learning_rate = -1.0;
    assert!(bad.run(&ProductChain::toy(), &[1.0, 9.0]).is_err());

    let toy = ProductChain::toy();
    let err = base.run(&toy, &[1.0]).unwrap_err().to_string();
    assert!(
        err.contains("start") && err.contains("expected length 2, got 1"),
        "{err}"
    );
    let err = base.run(&toy, &[1.0, f64::NAN]).unwrap_err().to_string();
    assert!(err.contains("start") && err.contains("index 1"), "{err}");
}

#[test]
fn descent_the_six_runs_of_the_study() {
    let sqrt2 = 2f64.sqrt();

    // (3,3): a = b throughout (the update is symmetric), the loss falls monotonically, and the
    // run ends near (√2, √2). Within 50 steps the loss does not reach 1e-12 at any of the three
    // rates (4.8e-4, 3.8e-8, 2.2e-10), so the outcome is `unfinished`; with a larger budget
    // each run converges to (√2, √2).
    for (lr, max_final_loss, distance) in
        [(0.01, 1e-3, 1e-2), (0.02, 1e-7, 1e-4), (0.025, 1e-9, 1e-5)]
    {
        let r = run(lr, 50, [3.0, 3.0]);
        assert_eq!((r.outcome, r.steps), (Outcome::Unfinished, 50), "lr {lr}");
        assert!(r.final_loss < max_final_loss, "lr {lr}: {}", r.final_loss);
        assert!(r.trajectory.iter().all(|p| p[0] == p[1]));
        assert!(r.losses.windows(2).all(|w| w[1] < w[0]), "lr {lr}");
        assert!(
            (r.final_point[0] - sqrt2).abs() < distance,
            "lr {lr}: {:?}",
            r.final_point
        );

        let long = run(lr, 1000, [3.0, 3.0]);
        assert_eq!(long.outcome, Outcome::Converged, "lr {lr}");
        assert_point(&long.final_point, &[sqrt2, sqrt2], 1e-6);
    }

    // (1,9) at 0.01: converges (loss < 1e-12) within the 50 steps, near (0.227, 8.811).
    let r = run(0.01, 50, [1.0, 9.0]);
    assert_eq!(r.outcome, Outcome::Converged);
    assert!(r.steps < 50);
    assert!((r.final_point[0] - 0.227).abs() < 5e-4 && (r.final_point[1] - 8.811).abs() < 5e-4);
    assert!((r.final_point[0] * r.final_point[1] - 2.0).abs() < 1e-6);

    // (1,9) at 0.02: overshoots to the other branch of ab = 2 and settles near
    // (−2.211, −0.905); the loss is 3.9e-10 after 50 steps (unfinished), converged later.
    let r = run(0.02, 50, [1.0, 9.0]);
    assert_eq!(r.outcome, Outcome::Unfinished);
    assert!(r.final_loss < 1e-9);
    assert!((r.final_point[0] + 2.211).abs() < 1e-3 && (r.final_point[1] + 0.905).abs() < 1e-3);
    let long = run(0.02, 1000, [1.0, 9.0]);
    assert_eq!(long.outcome, Outcome::Converged);
    assert_point(&long.final_point, &r.final_point, 1e-3);

    // (1,9) at 0.025: the loss exceeds the divergence bound 1e12 within ten steps.
    let r = run(0.025, 50, [1.0, 9.0]);
    assert_eq!(r.outcome, Outcome::Diverged);
    assert!(r.steps <= 10, "{}", r.steps);
    assert!(r.final_loss > 1e12);
    // Without a bound the iterates leave f64 entirely a few steps later.
    let unbounded = StopRule {
        divergence_bound: f64::INFINITY,
        ..StopRule::default()
    };
    let r = GradientDescent::new(0.025, 50)
        .unwrap()
        .with_stop(unbounded)
        .unwrap();
    let r = r.run(&ProductChain::toy(), &[1.0, 9.0]).unwrap();
    assert_eq!(r.outcome, Outcome::Diverged);
    assert!(
        !r.final_loss.is_finite() && r.steps <= 12,
        "{} {}",
        r.steps,
        r.final_loss
    );
}

#[test]
fn a_recording_too_large_for_memory_is_refused_before_running() {
    let toy = ProductChain::toy();
    let long = GradientDescent::new(0.01, 1_000_000_000).unwrap();
    let e = long.run(&toy, &[1.0, 9.0]).unwrap_err();
    assert!(
        matches!(&e, Error::InvalidValue { field, .. } if field == "max_steps"),
        "{e}"
    );
    assert!(e.to_string().contains("above the cap"), "{e}");
    assert_eq!(long.recording_bytes(2), 1_000_000_001 * (16 + 32));
    // The same budget without recording points runs (and converges early).
    let summary = long
        .with_recording(Recording::None)
        .run(&toy, &[1.0, 9.0])
        .unwrap();
    assert_eq!(summary.outcome, Outcome::Converged);
    let losses = GradientDescent::new(0.01, 1_000_000_000)
        .unwrap()
        .with_recording(Recording::Losses);
    assert_eq!(losses.recording_bytes(2), 8_000_000_008);
    assert!(losses.run(&toy, &[1.0, 9.0]).is_err());
}
