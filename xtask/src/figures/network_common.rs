//! The networks of the orbit figures, shared by `network_*` modules: the study's
//! teacher-student ReLU MLP [5, 10, 10, 10, 10, 1] on 1000 Gaussian inputs and a ReLU MLP
//! [11, 16, 16, 1] on the red-wine quality grades (standardised features, regression on the
//! standardised grade), each at its He initialisation ("start") and after full-batch
//! gradient descent ("trained"). All numbers come from symstab-core; the networks are built
//! and trained once per run.

use std::sync::OnceLock;

use symstab_core::Model;
use symstab_core::data::{RealDataset, load_real, teacher_student};
use symstab_core::descent::{GradientDescent, Recording};
use symstab_core::mlp::{Activation, Mlp, MlpProblem};
use symstab_core::orbit::{OrbitPath, SpectrumOptions, point_spectrum};

use super::FigureResult;

/// Smallest orbit position α of the scans.
pub const ALPHA_MIN: f64 = 1e-2;
/// Largest orbit position α of the scans.
pub const ALPHA_MAX: f64 = 1e2;

/// Training learning rate as a fraction of 2/λmax at the start.
const TRAIN_FRACTION: f64 = 0.9;

/// A network with its data at two points of training.
pub struct Case {
    /// Short name for files and CSV rows.
    pub name: &'static str,
    /// Name in figure legends and titles, with the widths.
    pub label: String,
    /// The network with its dataset.
    pub problem: MlpProblem,
    /// He initialisation.
    pub start: Vec<f64>,
    /// After `train_steps` steps of gradient descent at `train_lr`.
    pub trained: Vec<f64>,
    /// Learning rate of the training run.
    pub train_lr: f64,
    /// Steps of the training run.
    pub train_steps: usize,
    /// Loss at the start.
    pub start_loss: f64,
    /// Loss after training.
    pub trained_loss: f64,
}

impl Case {
    /// The parameters at the named point ("start" or "trained").
    pub fn point(&self, which: &str) -> &[f64] {
        if which == "start" {
            &self.start
        } else {
            &self.trained
        }
    }
}

/// The two points of every case, in drawing order.
pub const POINTS: [&str; 2] = ["start", "trained"];

/// The two paths scanned in every case: the whole second hidden layer (the study's
/// per-layer scale (1, α, 1/α, 1, …) moves the parameters identically) and a seeded
/// balanced rescale of the same layer.
pub fn paths() -> [OrbitPath; 2] {
    [
        OrbitPath::Rescale { layer: 1 },
        OrbitPath::Balanced { layer: 1, seed: 0 },
    ]
}

/// A path's name in legends.
pub fn path_label(path: OrbitPath) -> &'static str {
    match path {
        OrbitPath::Rescale { .. } | OrbitPath::LayerScale { .. } => "hidden layer 1 × α",
        OrbitPath::Balanced { .. } => "balanced rescale of layer 1",
    }
}

fn train(
    name: &'static str,
    title: &str,
    problem: MlpProblem,
    start: Vec<f64>,
    steps: usize,
) -> FigureResult<Case> {
    let spectrum = point_spectrum(
        &problem,
        &start,
        &SpectrumOptions {
            gauss_newton: false,
            ..SpectrumOptions::default()
        },
    )?;
    let train_lr = TRAIN_FRACTION * spectrum.stable_lr.value().ok_or("λmax ≤ 0 at the start")?;
    let run = GradientDescent::new(train_lr, steps)?
        .with_recording(Recording::None)
        .run(&problem, &start)?;
    if !run.final_loss.is_finite() {
        return Err(format!("{name}: training diverged at η = {train_lr}").into());
    }
    Ok(Case {
        name,
        label: format!("{title} {:?}", problem.network().widths()),
        start_loss: problem.loss(&start),
        trained_loss: run.final_loss,
        train_lr,
        train_steps: run.steps,
        trained: run.final_point,
        start,
        problem,
    })
}

/// Full runs use the study's sizes; `--quick` runs (tests) narrower networks on fewer
/// samples with a short training.
fn build(quick: bool) -> FigureResult<Vec<Case>> {
    let (n_samples, steps, width) = if quick {
        (200, 200, 6)
    } else {
        (1000, 6000, 10)
    };
    let widths = [5, width, width, width, width, 1];
    let ts = teacher_student(&widths, Activation::Relu, n_samples, 0)?;
    let teacher = train(
        "teacher_student",
        "teacher-student",
        ts.problem,
        ts.student_params,
        steps,
    )?;
    let mut data = load_real(RealDataset::WineQualityRegression)?;
    if quick {
        data = data.slice(0..300)?;
    }
    let wine_width = if quick { 8 } else { 16 };
    let net = Mlp::uniform(&[11, wine_width, wine_width, 1], Activation::Relu)?;
    let start = net.init_he(3, symstab_core::data::BIAS_STD)?;
    let wine = train(
        "wine_quality",
        "wine quality",
        MlpProblem::new(net, data)?,
        start,
        steps,
    )?;
    Ok(vec![teacher, wine])
}

/// The cases (built and trained on first use).
pub fn cases(quick: bool) -> FigureResult<&'static [Case]> {
    static FULL: OnceLock<Vec<Case>> = OnceLock::new();
    static QUICK: OnceLock<Vec<Case>> = OnceLock::new();
    let cell = if quick { &QUICK } else { &FULL };
    if let Some(c) = cell.get() {
        return Ok(c);
    }
    let built = build(quick)?;
    Ok(cell.get_or_init(|| built))
}

/// How a case was trained, as a CSV row.
#[derive(Debug, serde::Serialize)]
struct TrainingRow<'a> {
    dataset: &'a str,
    widths: String,
    n_params: usize,
    n_samples: usize,
    learning_rate: f64,
    steps: usize,
    start_loss: f64,
    trained_loss: f64,
}

/// Writes `network_training.csv` (one row per case) and returns its path.
pub fn write_training(ctx: &super::Context) -> FigureResult<std::path::PathBuf> {
    let rows: Vec<TrainingRow> = cases(ctx.quick)?
        .iter()
        .map(|c| TrainingRow {
            dataset: c.name,
            widths: format!("{:?}", c.problem.network().widths()),
            n_params: c.problem.n_params(),
            n_samples: c.problem.dataset().n_samples(),
            learning_rate: c.train_lr,
            steps: c.train_steps,
            start_loss: c.start_loss,
            trained_loss: c.trained_loss,
        })
        .collect();
    for r in &rows {
        eprintln!(
            "  {} {}: {} parameters, {} samples, loss {:.4e} → {:.4e} after {} steps at η = {:.4}",
            r.dataset,
            r.widths,
            r.n_params,
            r.n_samples,
            r.start_loss,
            r.trained_loss,
            r.steps,
            r.learning_rate
        );
    }
    let path = ctx.path("network_training.csv");
    crate::render::table::write_csv(&path, rows.iter())?;
    Ok(path)
}
