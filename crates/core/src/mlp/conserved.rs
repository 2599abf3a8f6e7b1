//! Per-neuron quantities that gradient flow conserves because of the rescale symmetry, and
//! exactly how a finite gradient step changes them.
//!
//! For hidden neuron j of hidden layer h, with incoming parameters θ_in = (W_h[:, j], b_h[j])
//! and outgoing θ_out = W_{h+1}[j, :], the balance is C = ‖θ_in‖² − ‖θ_out‖².
//! Rescale invariance L(α θ_in, θ_out/α) = L gives θ_in·g_in = θ_out·g_out (Euler's
//! identity for positively homogeneous σ; at a ReLU kink σ'(0)·0 = σ(0) keeps it exact), so
//! dC/dt = 0 under gradient flow (Du, Hu & Lee 2018). One step θ' = θ − η(g + λθ) of gradient
//! descent with weight decay λ instead gives exactly
//!   C' = (1 − 2ηλ) C + η² (‖G_in‖² − ‖G_out‖²),   G = g + λθ,
//! which for λ = 0 is C' − C = η² (‖g_in‖² − ‖g_out‖²).

use crate::Model;
use crate::error::{Error, Result, check_finite, check_len};
use crate::mlp::{Mlp, MlpProblem};

fn check_homogeneous(net: &Mlp) -> Result<()> {
    match net
        .activations()
        .iter()
        .enumerate()
        .find(|(_, a)| !a.is_positively_homogeneous())
    {
        None => Ok(()),
        Some((h, a)) => Err(Error::invalid_spec(
            "conserved quantity",
            format!(
                "the neuron balance is conserved only for relu, leaky_relu or identity; hidden layer {h} uses {a}"
            ),
        )),
    }
}

/// Sum of squares of neuron j's incoming (`in`) and outgoing (`out`) entries of `v`.
fn neuron_norms(net: &Mlp, v: &[f64], h: usize, j: usize) -> (f64, f64) {
    let (li, lo) = (net.layer(h), net.layer(h + 1));
    let mut inc: f64 = (0..li.fan_in)
        .map(|i| v[li.weight_index(i, j)].powi(2))
        .sum();
    inc += v[li.bias_index(j)].powi(2);
    let out = (0..lo.fan_out)
        .map(|c| v[lo.weight_index(j, c)].powi(2))
        .sum();
    (inc, out)
}

/// C = ‖θ_in‖² − ‖θ_out‖² for every hidden neuron, one vector per hidden layer.
pub fn neuron_balances(net: &Mlp, params: &[f64]) -> Result<Vec<Vec<f64>>> {
    check_len("params", params, net.n_params())?;
    Ok((0..net.n_hidden_layers())
        .map(|h| {
            (0..net.widths()[h + 1])
                .map(|j| {
                    let (a, b) = neuron_norms(net, params, h, j);
                    a - b
                })
                .collect()
        })
        .collect())
}

/// The balances after one step θ' = θ − η(g + λθ), predicted by the exact identity
/// C' = (1 − 2ηλ) C + η² (‖G_in‖² − ‖G_out‖²) from θ and g = ∇L(θ) alone.
/// Errors for an activation that is not positively homogeneous.
pub fn predicted_balances_after_step(
    net: &Mlp,
    params: &[f64],
    gradient: &[f64],
    learning_rate: f64,
    weight_decay: f64,
) -> Result<Vec<Vec<f64>>> {
    check_homogeneous(net)?;
    check_len("gradient", gradient, net.n_params())?;
    if !learning_rate.is_finite() {
        return Err(Error::invalid_value(
            "learning_rate",
            learning_rate,
            "must be finite",
        ));
    }
    if !weight_decay.is_finite() {
        return Err(Error::invalid_value(
            "weight_decay",
            weight_decay,
            "must be finite",
        ));
    }
    let c = neuron_balances(net, params)?;
    let total: Vec<f64> = gradient
        .iter()
        .zip(params)
        .map(|(g, t)| g + weight_decay * t)
        .collect();
    Ok(c.iter()
        .enumerate()
        .map(|(h, layer)| {
            layer
                .iter()
                .enumerate()
                .map(|(j, &cj)| {
                    let (gi, go) = neuron_norms(net, &total, h, j);
                    (1.0 - 2.0 * learning_rate * weight_decay) * cj
                        + learning_rate * learning_rate * (gi - go)
                })
                .collect()
        })
        .collect())
}

/// One recorded step of [`balance_trajectory`].
#[derive(Debug, Clone, PartialEq)]
pub struct BalanceRecord {
    /// Step index t (0 = the start).
    pub step: usize,
    /// L(θ_t).
    pub loss: f64,
    /// All hidden-neuron balances at θ_t, hidden layer by hidden layer.
    pub balances: Vec<f64>,
    /// Largest |C_t − C_t(predicted from θ_{t−1})| over neurons (0 at the start): the
    /// rounding error of the one-step identity.
    pub identity_error: f64,
}

/// Runs `steps` of full-batch gradient descent with weight decay and records the balances
/// and the one-step identity error after every step. Stops early (recording the last state)
/// when the loss stops being finite; that is an outcome, not an error.
pub fn balance_trajectory(
    problem: &MlpProblem,
    params: &[f64],
    learning_rate: f64,
    weight_decay: f64,
    steps: usize,
) -> Result<Vec<BalanceRecord>> {
    let net = problem.network();
    problem.check_params("params", params)?;
    check_homogeneous(net)?;
    crate::error::check_learning_rate("learning_rate", learning_rate)?;
    if !(weight_decay.is_finite() && weight_decay >= 0.0) {
        return Err(Error::invalid_value(
            "weight_decay",
            weight_decay,
            "must be finite and >= 0",
        ));
    }
    let mut theta = params.to_vec();
    let mut grad = vec![0.0; theta.len()];
    let mut records = Vec::with_capacity(steps + 1);
    let mut predicted: Option<Vec<f64>> = None;
    for step in 0..=steps {
        let loss = problem.loss_and_gradient(&theta, &mut grad);
        let balances: Vec<f64> = neuron_balances(net, &theta)?.concat();
        let identity_error = predicted.as_ref().map_or(0.0, |p| {
            p.iter()
                .zip(&balances)
                .fold(0.0_f64, |m, (a, b)| m.max((a - b).abs()))
        });
        records.push(BalanceRecord {
            step,
            loss,
            balances,
            identity_error,
        });
        if step == steps || !loss.is_finite() || check_finite("gradient", &grad).is_err() {
            break;
        }
        predicted = Some(
            predicted_balances_after_step(net, &theta, &grad, learning_rate, weight_decay)?
                .concat(),
        );
        for (t, g) in theta.iter_mut().zip(&grad) {
            *t -= learning_rate * (g + weight_decay * *t);
        }
    }
    Ok(records)
}
