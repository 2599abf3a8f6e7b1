//! Teleports along the per-neuron rescale orbit, and training that teleports when stalled.
//!
//! # Coordinates on the orbit
//!
//! For a network whose hidden activations are positively homogeneous (relu, leaky relu,
//! identity), every hidden neuron j has a log-scale u_j: g_u multiplies neuron j's incoming
//! weights and bias by e^{u_j} and its outgoing weights by e^{−u_j}
//! ([`rescale_from_log_scales`]; u is ordered hidden layer by hidden layer). These moves
//! commute, g_u g_w = g_{u+w}, and leave the function unchanged. With D_j the diagonal
//! that is +1 on neuron j's incoming parameters and −1 on its outgoing ones,
//! ∂(g_u θ)/∂u_j = D_j g_u θ.
//!
//! # Derivatives along the orbit (exact, at u = 0)
//!
//! - Gradient norm F = ‖∇L(θ)‖²: ∂F/∂u_j = 2 (H∇L)ᵀ D_j θ, one Hessian-vector product for
//!   all j ([`gradient_norm_log_scale_gradient`]).
//! - Sharpness: H(g_u θ) = M⁻¹ H(θ) M⁻¹ with M = diag(e^{D u}) (the transport of
//!   [`crate::mlp::symmetry`]), so for a simple top eigenpair (λ, v),
//!   ∂λ/∂u_j = −2λ vᵀ D_j v = −2λ (‖v_in,j‖² − ‖v_out,j‖²)
//!   ([`lambda_max_log_scale_gradient`]).
//!
//! # Policies
//!
//! [`TeleportPolicy::RandomBalanced`] is the study's move: on every hidden layer a random
//! half of the neurons is scaled up by `factor`, the rest down by it.
//! [`TeleportPolicy::MaxGradientNorm`] and [`TeleportPolicy::MinSharpness`] take a few
//! normalised steps of ascent of F (descent of λmax) in u: each step moves the neuron with
//! the largest derivative by `step_size` in log-scale, is halved up to four times until the
//! objective improves, and |u_j| is kept ≤ `max_log_scale`. The final point is g_u θ
//! computed once from θ, and the largest relative change of the network's outputs on the
//! dataset is reported ([`Teleported::output_change`]).

use crate::error::{Error, Result};
use crate::mlp::symmetry::{Action, Symmetry};
use crate::mlp::{Mlp, MlpProblem};
use crate::model::Model;
use crate::orbit::neuron_scale_symmetry;
use crate::outcome::{Outcome, StopRule};

use super::optim::{Optimizer, OptimizerState};
use super::sharpness::{lambda_max, lambda_max_with_vector};
use super::stall::{StallDecision, StallMonitor, StallRule};

/// Number of per-neuron log-scales of `net` (its hidden neurons).
pub fn n_log_scales(net: &Mlp) -> usize {
    net.widths()[1..net.widths().len() - 1].iter().sum()
}

/// The rescale g_u with per-neuron log-scales `log_scales` (hidden layer by hidden layer,
/// flattened): [`neuron_scale_symmetry`] on the flat vector.
///
/// Errors: wrong length, a non-finite entry, or an activation without the rescale symmetry.
pub fn rescale_from_log_scales(net: &Mlp, log_scales: &[f64]) -> Result<Symmetry> {
    crate::error::check_len("log_scales", log_scales, n_log_scales(net))?;
    crate::error::check_finite("log_scales", log_scales)?;
    let mut offset = 0;
    let per_layer: Vec<Vec<f64>> = (0..net.n_hidden_layers())
        .map(|layer| {
            let d = net.widths()[layer + 1];
            offset += d;
            log_scales[offset - d..offset].to_vec()
        })
        .collect();
    neuron_scale_symmetry(net, &per_layer)
}

/// For each hidden neuron j: Σ of `w` over its incoming parameters (weights and bias)
/// minus Σ over its outgoing weights, i.e. 1ᵀ D_j w.
pub fn signed_neuron_sums(net: &Mlp, w: &[f64]) -> Vec<f64> {
    let mut out = Vec::with_capacity(n_log_scales(net));
    for h in 0..net.n_hidden_layers() {
        let (li, lo) = (net.layer(h), net.layer(h + 1));
        for j in 0..li.fan_out {
            let inc: f64 = (0..li.fan_in)
                .map(|i| w[li.weight_index(i, j)])
                .sum::<f64>()
                + w[li.bias_index(j)];
            let outg: f64 = (0..lo.fan_out).map(|c| w[lo.weight_index(j, c)]).sum();
            out.push(inc - outg);
        }
    }
    out
}

/// F = ‖∇L(θ)‖² and its exact derivative ∂F/∂u at u = 0 (see the module documentation).
pub fn gradient_norm_log_scale_gradient(problem: &MlpProblem, params: &[f64]) -> (f64, Vec<f64>) {
    let g = problem.gradient(params);
    let mut hg = vec![0.0; g.len()];
    problem.hessian_vector_product(params, &g, &mut hg);
    let weighted: Vec<f64> = hg.iter().zip(params).map(|(s, t)| 2.0 * s * t).collect();
    let f = g.iter().map(|x| x * x).sum();
    (f, signed_neuron_sums(problem.network(), &weighted))
}

/// λmax and its derivative ∂λmax/∂u at u = 0 from the top eigenvector (Lanczos, `seed`).
pub fn lambda_max_log_scale_gradient(
    problem: &MlpProblem,
    params: &[f64],
    seed: u64,
) -> Result<(f64, Vec<f64>)> {
    let (lambda, v) = lambda_max_with_vector(problem, params, seed)?;
    let weighted: Vec<f64> = v.iter().map(|x| -2.0 * lambda * x * x).collect();
    Ok((lambda, signed_neuron_sums(problem.network(), &weighted)))
}

/// How [`teleport`] picks the equivalent point.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TeleportPolicy {
    /// On every hidden layer, ⌈d/2⌉ random neurons × `factor`, the others ÷ `factor`.
    RandomBalanced {
        /// Scale factor ≥ 1.
        factor: f64,
    },
    /// A few normalised ascent steps of ‖∇L(g_u θ)‖² in u.
    MaxGradientNorm {
        /// Number of steps.
        steps: usize,
        /// Largest log-scale move of one step.
        step_size: f64,
        /// Bound on every |u_j|.
        max_log_scale: f64,
    },
    /// A few normalised descent steps of λmax(g_u θ) in u.
    MinSharpness {
        /// Number of steps.
        steps: usize,
        /// Largest log-scale move of one step.
        step_size: f64,
        /// Bound on every |u_j|.
        max_log_scale: f64,
    },
}

impl TeleportPolicy {
    /// A short name: `random-balanced`, `max-gradient-norm`, `min-sharpness`.
    pub fn name(&self) -> &'static str {
        match self {
            TeleportPolicy::RandomBalanced { .. } => "random-balanced",
            TeleportPolicy::MaxGradientNorm { .. } => "max-gradient-norm",
            TeleportPolicy::MinSharpness { .. } => "min-sharpness",
        }
    }

    fn validate(&self) -> Result<()> {
        match *self {
            TeleportPolicy::RandomBalanced { factor } => {
                if !(factor.is_finite() && factor >= 1.0) {
                    return Err(Error::invalid_value(
                        "factor",
                        factor,
                        "must be finite and >= 1",
                    ));
                }
            }
            TeleportPolicy::MaxGradientNorm {
                step_size,
                max_log_scale,
                ..
            }
            | TeleportPolicy::MinSharpness {
                step_size,
                max_log_scale,
                ..
            } => {
                for (name, v) in [("step_size", step_size), ("max_log_scale", max_log_scale)] {
                    if !(v.is_finite() && v > 0.0) {
                        return Err(Error::invalid_value(name, v, "must be finite and > 0"));
                    }
                }
            }
        }
        Ok(())
    }
}

/// Result of [`teleport`].
#[derive(Debug, Clone, PartialEq)]
pub struct Teleported {
    /// g_u θ.
    pub params: Vec<f64>,
    /// The log-scales u of the move.
    pub log_scales: Vec<f64>,
    /// max_i |f(g_u θ)_i − f(θ)_i| / max_i |f(θ)_i| over the dataset's outputs.
    pub output_change: f64,
}

/// Moves `params` to an equivalent point chosen by `policy` (`seed` drives the random
/// choices and Lanczos start vectors).
///
/// Errors: invalid policy settings, bad `params`, or an activation without the rescale
/// symmetry.
pub fn teleport(
    problem: &MlpProblem,
    params: &[f64],
    policy: &TeleportPolicy,
    seed: u64,
) -> Result<Teleported> {
    policy.validate()?;
    problem.check_params("params", params)?;
    let net = problem.network();
    let n = n_log_scales(net);
    let log_scales = match *policy {
        TeleportPolicy::RandomBalanced { factor } => {
            let mut u = Vec::with_capacity(n);
            for layer in 0..net.n_hidden_layers() {
                let s = seed
                    .wrapping_mul(0x9E37_79B9_7F4A_7C15)
                    .wrapping_add(layer as u64);
                let g = Symmetry::random_balanced_rescale(net, layer, factor, s)?;
                if let Some(Action::NeuronRescale { factors, .. }) = g.actions().first() {
                    u.extend(factors.iter().map(|f| f.ln()));
                }
            }
            u
        }
        TeleportPolicy::MaxGradientNorm {
            steps,
            step_size,
            max_log_scale,
        } => orbit_search(problem, params, steps, step_size, max_log_scale, |p, _| {
            let (f, d) = gradient_norm_log_scale_gradient(problem, p);
            Ok((-f, d.iter().map(|x| -x).collect()))
        })?,
        TeleportPolicy::MinSharpness {
            steps,
            step_size,
            max_log_scale,
        } => orbit_search(problem, params, steps, step_size, max_log_scale, |p, k| {
            lambda_max_log_scale_gradient(problem, p, seed.wrapping_add(k))
        })?,
    };
    let g = rescale_from_log_scales(net, &log_scales)?;
    let moved = g.apply(net, params)?;
    let before = problem.outputs(params)?;
    let after = problem.outputs(&moved)?;
    let scale = before
        .iter()
        .fold(0.0_f64, |m, x| m.max(x.abs()))
        .max(f64::MIN_POSITIVE);
    let change = before
        .iter()
        .zip(&after)
        .fold(0.0_f64, |m, (a, b)| m.max((a - b).abs()));
    Ok(Teleported {
        params: moved,
        log_scales,
        output_change: change / scale,
    })
}

/// Minimises an objective over log-scales by normalised steps with halving; `objective`
/// returns (value, ∂value/∂u at u = 0) at a point. Returns the accumulated u.
fn orbit_search(
    problem: &MlpProblem,
    params: &[f64],
    steps: usize,
    step_size: f64,
    max_log_scale: f64,
    objective: impl Fn(&[f64], u64) -> Result<(f64, Vec<f64>)>,
) -> Result<Vec<f64>> {
    let net = problem.network();
    let mut u = vec![0.0; n_log_scales(net)];
    let mut calls = 0u64;
    let (mut value, mut grad) = objective(params, calls)?;
    for _ in 0..steps {
        let largest = grad.iter().fold(0.0_f64, |m, x| m.max(x.abs()));
        if !(largest > 0.0 && largest.is_finite()) {
            break;
        }
        let mut size = step_size;
        let mut accepted = false;
        for _ in 0..5 {
            let trial: Vec<f64> = u
                .iter()
                .zip(&grad)
                .map(|(ui, gi)| (ui - size * gi / largest).clamp(-max_log_scale, max_log_scale))
                .collect();
            let point = rescale_from_log_scales(net, &trial)?.apply(net, params)?;
            calls += 1;
            let (v, d) = objective(&point, calls)?;
            if v < value {
                (u, value, grad) = (trial, v, d);
                accepted = true;
                break;
            }
            size *= 0.5;
        }
        if !accepted {
            break;
        }
    }
    Ok(u)
}

/// Settings of [`train_with_teleports`].
#[derive(Debug, Clone, PartialEq)]
pub struct TeleportTraining {
    /// The optimiser of every step (full batch).
    pub optimizer: Optimizer,
    /// Largest number of steps.
    pub max_steps: usize,
    /// When to teleport and when to revert.
    pub stall: StallRule,
    /// How to teleport; `None` is plain training (no teleports, no reverts).
    pub policy: Option<TeleportPolicy>,
    /// Classifies the loss before every step.
    pub stop: StopRule,
    /// Seed of the teleports (teleport k uses `seed + k`).
    pub seed: u64,
    /// Measure λmax before and after every teleport and revert (two Lanczos runs each).
    pub measure_sharpness: bool,
}

/// A teleport or a revert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TeleportKind {
    /// A jump to an equivalent point (the current point is saved first).
    Teleport,
    /// A return to the saved point.
    Revert,
}

/// One logged jump of [`train_with_teleports`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TeleportEvent {
    /// Step t at which the jump happened (before update t + 1).
    pub step: usize,
    /// Teleport or revert.
    pub kind: TeleportKind,
    /// Loss before the jump.
    pub loss_before: f64,
    /// Loss after the jump (equal up to rounding for a teleport).
    pub loss_after: f64,
    /// λmax before the jump (NaN unless measured).
    pub lambda_max_before: f64,
    /// λmax after the jump (NaN unless measured).
    pub lambda_max_after: f64,
    /// ‖∇L‖ before the jump.
    pub gradient_norm_before: f64,
    /// ‖∇L‖ after the jump.
    pub gradient_norm_after: f64,
    /// Relative change of the outputs (teleports; 0 for reverts).
    pub output_change: f64,
}

/// Result of [`train_with_teleports`].
#[derive(Debug, Clone, PartialEq)]
pub struct TeleportRun {
    /// How the run ended.
    pub outcome: Outcome,
    /// Loss of the point each step was taken from (after any jump), t = 0..=steps.
    pub losses: Vec<f64>,
    /// Every teleport and revert, in order.
    pub events: Vec<TeleportEvent>,
    /// The final parameters.
    pub final_point: Vec<f64>,
}

fn norm(v: &[f64]) -> f64 {
    v.iter().map(|x| x * x).sum::<f64>().sqrt()
}

/// Full-batch training with teleports when stalled (see [`super::stall`]): before every
/// step the loss goes to the [`StallMonitor`]; on a teleport the point is saved and moved
/// by [`teleport`], on a revert the saved point is restored. The momentum velocity is reset
/// by every jump. No teleport happens in the last `stall.revert_every` steps (the revert
/// rule could not judge it; see [`StallMonitor::with_last_step`]). A loss that the stop rule calls diverged triggers a revert at once when a
/// point is saved, and otherwise ends the run.
///
/// Errors: invalid settings or start, or a teleport that fails (activation without the
/// rescale symmetry).
pub fn train_with_teleports(
    problem: &MlpProblem,
    start: &[f64],
    settings: &TeleportTraining,
) -> Result<TeleportRun> {
    settings.optimizer.validate()?;
    problem.check_params("start", start)?;
    if let Some(p) = &settings.policy {
        p.validate()?;
    }
    // The revert rule must be able to judge every teleport before the run ends.
    let mut monitor = StallMonitor::new(settings.stall)?.with_last_step(settings.max_steps);
    let mut theta = start.to_vec();
    let mut saved: Option<Vec<f64>> = None;
    let mut grad = vec![0.0; theta.len()];
    let mut state = OptimizerState::new(theta.len());
    let mut losses = Vec::with_capacity(settings.max_steps + 1);
    let mut events = Vec::new();
    let mut teleports = 0u64;
    let sharp = |p: &[f64], s: u64| -> Result<f64> {
        if settings.measure_sharpness {
            lambda_max(problem, p, s)
        } else {
            Ok(f64::NAN)
        }
    };
    let mut t = 0;
    let outcome = loop {
        let mut loss = problem.loss_and_gradient(&theta, &mut grad);
        let mut stopped = settings.stop.classify(loss);
        if let Some(policy) = &settings.policy {
            let mut decision = monitor.observe(loss);
            if stopped == Some(Outcome::Diverged) && saved.is_some() {
                monitor.take_saved_point();
                decision = StallDecision::Revert;
            }
            let jump = match decision {
                StallDecision::Continue => None,
                StallDecision::Teleport => {
                    let moved = teleport(problem, &theta, policy, settings.seed + teleports)?;
                    teleports += 1;
                    saved = Some(theta.clone());
                    Some((TeleportKind::Teleport, moved.params, moved.output_change))
                }
                StallDecision::Revert => saved.take().map(|p| (TeleportKind::Revert, p, 0.0)),
            };
            if let Some((kind, new_theta, output_change)) = jump {
                let lambda_max_before = if loss.is_finite() {
                    sharp(&theta, t as u64)?
                } else {
                    f64::NAN
                };
                let gradient_norm_before = norm(&grad);
                theta = new_theta;
                let loss_after = problem.loss_and_gradient(&theta, &mut grad);
                state.reset();
                events.push(TeleportEvent {
                    step: t,
                    kind,
                    loss_before: loss,
                    loss_after,
                    lambda_max_before,
                    lambda_max_after: sharp(&theta, t as u64 + 1)?,
                    gradient_norm_before,
                    gradient_norm_after: norm(&grad),
                    output_change,
                });
                loss = loss_after;
                stopped = settings.stop.classify(loss);
            }
        }
        losses.push(loss);
        if let Some(outcome) = stopped {
            break outcome;
        }
        if t == settings.max_steps {
            break Outcome::Unfinished;
        }
        settings.optimizer.step(&mut state, &mut theta, &mut grad);
        t += 1;
    };
    Ok(TeleportRun {
        outcome,
        losses,
        events,
        final_point: theta,
    })
}
