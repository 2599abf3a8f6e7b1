//! Learning rate × orbit position sweeps for any [`Model`]: full-batch gradient descent
//! started from points along a path in the model's symmetry group.
//!
//! A *symmetry path* maps log α to a start point θ(α) (for example g(α)·θ₀ with g the
//! per-layer scale (α, 1/α, 1, …) of an MLP, or the per-neuron rescale of one hidden
//! layer). Every θ(α) computes the same function, so the loss at the start is the same
//! along the path (this is checked: see [`NetworkSweepSpec::loss_tolerance`]), but the
//! Hessian, its λmax, the stable step 2/λmax and the learning rate at which gradient
//! descent diverges change with α.
//!
//! For each orbit position the sweep records the start loss, λmax of the dense Hessian and
//! the step bound 2/λmax ([`StepBound`]), and optionally the bisected critical learning
//! rate ([`critical_learning_rate`]). For each cell (learning rate, position) it records
//! the outcome and step count of the core's [`GradientDescent`](symstab_core::descent)
//! run. Cells and positions run in parallel on the current rayon pool; every value depends
//! only on its own inputs, so the results are the same bits whatever the thread count.
//!
//! Cell order: `index = lr_idx · n_positions + alpha_idx`.
// `!(x <= tol)` is deliberate: it also rejects a NaN deviation.
#![allow(clippy::neg_cmp_op_on_partial_ord)]

use std::sync::atomic::{AtomicUsize, Ordering};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use symstab_core::spectrum::{StepBound, hessian_spectrum};
use symstab_core::stability::{CriticalOptions, critical_learning_rate};
use symstab_core::{Error, Model, Outcome, StopRule};

use crate::grid::{Axis, LearningRates};
use crate::record::Real;
use crate::runner::{ModelCellResult, Progress, descent_for};

/// What a network sweep runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NetworkSweepSpec {
    /// Orbit positions: values of log α (natural log).
    pub log_alpha: Axis,
    /// Learning rates of the gradient-descent cells.
    pub learning_rates: LearningRates,
    /// Step budget of every cell.
    pub max_steps: u32,
    /// Convergence tolerance and divergence bound of every cell.
    pub stop_rule: StopRule,
    /// When set, the critical learning rate is bisected at every orbit position with
    /// these options (its own step budget and stop rule).
    pub critical: Option<CriticalOptions>,
    /// Largest relative deviation |L(θ(α)) − L(θ(α₀))| / max(|L(θ(α₀))|, tiny) of the start
    /// loss along the path (α₀ the first position) before the path is rejected as not a
    /// symmetry. Default 1e-9.
    pub loss_tolerance: f64,
}

impl NetworkSweepSpec {
    /// A spec with the default stop rule, no critical-rate search and loss tolerance 1e-9.
    pub fn new(log_alpha: Axis, learning_rates: LearningRates, max_steps: u32) -> Self {
        NetworkSweepSpec {
            log_alpha,
            learning_rates,
            max_steps,
            stop_rule: StopRule::default(),
            critical: None,
            loss_tolerance: 1e-9,
        }
    }

    /// Adds the critical-learning-rate search with the given options.
    pub fn with_critical(mut self, options: CriticalOptions) -> Self {
        self.critical = Some(options);
        self
    }

    /// Checks the values a deserialised spec could get wrong.
    pub fn validate(&self) -> Result<(), Error> {
        if !(self.loss_tolerance >= 0.0 && self.loss_tolerance.is_finite()) {
            return Err(Error::invalid_value(
                "loss_tolerance",
                self.loss_tolerance,
                "must be finite and >= 0",
            ));
        }
        if let Some(c) = &self.critical {
            c.validate()?;
        }
        for &lr in self.learning_rates.as_slice() {
            descent_for(lr, self.max_steps, &self.stop_rule)?;
        }
        Ok(())
    }

    /// Number of cells (learning rates × positions).
    pub fn n_cells(&self) -> usize {
        self.learning_rates.len() * self.log_alpha.len()
    }
}

/// What is recorded about one orbit position.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(into = "FlatPosition", try_from = "FlatPosition")]
pub struct PositionRecord {
    /// Index on the log α axis.
    pub alpha_idx: u64,
    /// log α.
    pub log_alpha: f64,
    /// Loss at the start point θ(α).
    pub loss_start: f64,
    /// λmax of the dense Hessian at θ(α) (NaN if the Hessian has a non-finite entry).
    pub lambda_max_start: f64,
    /// 2/λmax at θ(α), `Unbounded` when λmax ≤ 0.
    pub stable_lr_start: StepBound,
    /// Smallest diverging learning rate found by bisection (`None`: not searched, or no
    /// divergence up to the search's largest rate).
    pub critical_lr: Option<f64>,
    /// Largest non-diverging learning rate of the final bracket (`None`: not searched, or
    /// every rate tried diverged).
    pub critical_lower: Option<f64>,
    /// Gradient-descent runs of the search (0 when not searched).
    pub critical_evaluations: u64,
    /// Runs of the search that ended unfinished (counted as not diverged).
    pub critical_unfinished: u64,
}

/// What is recorded about one cell.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(into = "FlatCell", from = "FlatCell")]
pub struct NetworkCellRecord {
    /// Canonical index `lr_idx · n_positions + alpha_idx`.
    pub index: u64,
    /// Index into the learning rates.
    pub lr_idx: u32,
    /// Index on the log α axis.
    pub alpha_idx: u64,
    /// The learning rate.
    pub learning_rate: f64,
    /// log α of the start point.
    pub log_alpha: f64,
    /// How the run ended.
    pub outcome: Outcome,
    /// Updates executed.
    pub steps: u32,
    /// Loss at the final point.
    pub final_loss: f64,
}

/// The result of a network sweep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NetworkSweepResult {
    /// The spec that produced it.
    pub spec: NetworkSweepSpec,
    /// One record per orbit position, in axis order.
    pub positions: Vec<PositionRecord>,
    /// One record per cell, in canonical order.
    pub cells: Vec<NetworkCellRecord>,
}

/// Runs a learning rate × orbit position sweep of `model` along `path`.
///
/// `path(log_alpha)` returns the start point at that position (length
/// [`Model::n_params`], finite). Progress counts cells, then one unit per orbit position
/// for the spectra and critical rates (total = cells + positions).
///
/// Errors: an invalid spec, a path point of the wrong length or with a non-finite entry
/// (naming its log α), a start loss that changes along the path by more than
/// `loss_tolerance` (the path is not a symmetry of the model), or a critical-rate search
/// that fails. Divergence, NaN and a spent budget are recorded outcomes.
pub fn run_network_sweep<M, P>(
    model: &M,
    path: &P,
    spec: &NetworkSweepSpec,
    progress: &dyn Progress,
) -> Result<NetworkSweepResult, Error>
where
    M: Model + ?Sized,
    P: Fn(f64) -> Vec<f64> + Sync + ?Sized,
{
    spec.validate()?;
    let alphas = spec.log_alpha.values();
    let starts: Vec<Vec<f64>> = alphas.iter().map(|&la| path(la)).collect();
    for (&la, s) in alphas.iter().zip(&starts) {
        model.check_params(&format!("path point at log_alpha = {la}"), s)?;
    }
    let losses: Vec<f64> = starts.iter().map(|s| model.loss(s)).collect();
    let reference = losses[0];
    for (&la, &loss) in alphas.iter().zip(&losses) {
        let scale = reference.abs().max(f64::MIN_POSITIVE);
        if !((loss - reference).abs() <= spec.loss_tolerance * scale) {
            return Err(Error::invalid_value(
                "path",
                format!(
                    "loss {loss} at log_alpha = {la} vs {reference} at {}",
                    alphas[0]
                ),
                "the start loss must stay constant along a symmetry path",
            ));
        }
    }

    let descents = spec
        .learning_rates
        .as_slice()
        .iter()
        .map(|&lr| descent_for(lr, spec.max_steps, &spec.stop_rule))
        .collect::<Result<Vec<_>, Error>>()?;
    let n_pos = starts.len();
    let n_cells = spec.n_cells();
    let total = n_cells + n_pos;
    let done = AtomicUsize::new(0);
    let tick = || progress.report(done.fetch_add(1, Ordering::Relaxed) + 1, total);

    let cells = (0..n_cells)
        .into_par_iter()
        .with_max_len(1)
        .map(|index| {
            let (lr_idx, alpha_idx) = (index / n_pos, index % n_pos);
            let run = descents[lr_idx].run(model, &starts[alpha_idx])?;
            let r = ModelCellResult::from_run(run);
            tick();
            Ok(NetworkCellRecord {
                index: index as u64,
                lr_idx: lr_idx as u32,
                alpha_idx: alpha_idx as u64,
                learning_rate: spec.learning_rates.as_slice()[lr_idx],
                log_alpha: alphas[alpha_idx],
                outcome: r.outcome,
                steps: r.steps,
                final_loss: r.final_loss,
            })
        })
        .collect::<Result<Vec<_>, Error>>()?;

    let positions = (0..n_pos)
        .into_par_iter()
        .with_max_len(1)
        .map(|k| {
            // A Hessian with a non-finite entry has λmax NaN (and the core's bound for it).
            let lambda_max = match hessian_spectrum(model, &starts[k]) {
                Ok(e) => e.lambda_max(),
                Err(Error::NonFinite { .. }) => f64::NAN,
                Err(e) => return Err(e),
            };
            let mut record = PositionRecord {
                alpha_idx: k as u64,
                log_alpha: alphas[k],
                loss_start: losses[k],
                lambda_max_start: lambda_max,
                stable_lr_start: symstab_core::spectrum::stable_learning_rate(lambda_max),
                critical_lr: None,
                critical_lower: None,
                critical_evaluations: 0,
                critical_unfinished: 0,
            };
            if let Some(options) = &spec.critical {
                let c = critical_learning_rate(model, &starts[k], options)?;
                record.critical_lr = c.critical_lr;
                record.critical_lower = c.lower;
                record.critical_evaluations = c.evaluations as u64;
                record.critical_unfinished = c.unfinished_count as u64;
            }
            tick();
            Ok(record)
        })
        .collect::<Result<Vec<_>, Error>>()?;

    Ok(NetworkSweepResult {
        spec: spec.clone(),
        positions,
        cells,
    })
}

/// Flat serialised form of [`PositionRecord`].
#[derive(Serialize, Deserialize)]
struct FlatPosition {
    alpha_idx: u64,
    log_alpha: Real,
    loss_start: Real,
    lambda_max_start: Real,
    stable_lr_start: StepBound,
    critical_lr: Option<Real>,
    critical_lower: Option<Real>,
    critical_evaluations: u64,
    critical_unfinished: u64,
}

impl From<PositionRecord> for FlatPosition {
    fn from(r: PositionRecord) -> Self {
        FlatPosition {
            alpha_idx: r.alpha_idx,
            log_alpha: Real(r.log_alpha),
            loss_start: Real(r.loss_start),
            lambda_max_start: Real(r.lambda_max_start),
            stable_lr_start: r.stable_lr_start,
            critical_lr: r.critical_lr.map(Real),
            critical_lower: r.critical_lower.map(Real),
            critical_evaluations: r.critical_evaluations,
            critical_unfinished: r.critical_unfinished,
        }
    }
}

impl TryFrom<FlatPosition> for PositionRecord {
    type Error = Error;
    fn try_from(r: FlatPosition) -> Result<Self, Error> {
        Ok(PositionRecord {
            alpha_idx: r.alpha_idx,
            log_alpha: r.log_alpha.0,
            loss_start: r.loss_start.0,
            lambda_max_start: r.lambda_max_start.0,
            stable_lr_start: r.stable_lr_start,
            critical_lr: r.critical_lr.map(|x| x.0),
            critical_lower: r.critical_lower.map(|x| x.0),
            critical_evaluations: r.critical_evaluations,
            critical_unfinished: r.critical_unfinished,
        })
    }
}

/// Flat serialised form of [`NetworkCellRecord`].
#[derive(Serialize, Deserialize)]
struct FlatCell {
    index: u64,
    lr_idx: u32,
    alpha_idx: u64,
    learning_rate: Real,
    log_alpha: Real,
    outcome: Outcome,
    steps: u32,
    final_loss: Real,
}

impl From<NetworkCellRecord> for FlatCell {
    fn from(r: NetworkCellRecord) -> Self {
        FlatCell {
            index: r.index,
            lr_idx: r.lr_idx,
            alpha_idx: r.alpha_idx,
            learning_rate: Real(r.learning_rate),
            log_alpha: Real(r.log_alpha),
            outcome: r.outcome,
            steps: r.steps,
            final_loss: Real(r.final_loss),
        }
    }
}

impl From<FlatCell> for NetworkCellRecord {
    fn from(r: FlatCell) -> Self {
        NetworkCellRecord {
            index: r.index,
            lr_idx: r.lr_idx,
            alpha_idx: r.alpha_idx,
            learning_rate: r.learning_rate.0,
            log_alpha: r.log_alpha.0,
            outcome: r.outcome,
            steps: r.steps,
            final_loss: r.final_loss.0,
        }
    }
}

/// Writes records (cells or positions) as CSV with a header row.
pub fn write_csv<W: std::io::Write, T: Serialize>(
    writer: W,
    records: &[T],
) -> Result<(), csv::Error> {
    let mut w = csv::Writer::from_writer(writer);
    for r in records {
        w.serialize(r)?;
    }
    w.flush()?;
    Ok(())
}

/// Reads records written by [`write_csv`].
pub fn read_csv<R: std::io::Read, T: for<'de> Deserialize<'de>>(
    reader: R,
) -> Result<Vec<T>, csv::Error> {
    csv::Reader::from_reader(reader).deserialize().collect()
}

/// Writes a whole result (spec, positions, cells) as JSON; non-finite values are tokens.
pub fn write_json<W: std::io::Write>(
    writer: W,
    result: &NetworkSweepResult,
) -> Result<(), serde_json::Error> {
    serde_json::to_writer(writer, result)
}

/// Reads a result written by [`write_json`].
pub fn read_json<R: std::io::Read>(reader: R) -> Result<NetworkSweepResult, serde_json::Error> {
    serde_json::from_reader(reader)
}
