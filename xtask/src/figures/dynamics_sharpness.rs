//! Sharpness during training: λmax (Lanczos on exact Hessian-vector products) every k steps
//! of full-batch gradient descent of a ReLU [10, 32, 32, 1] network on the diabetes data at
//! several learning rates, each with its level 2/η ((2 + 2β)/η for the momentum run), and
//! the loss curves beside it.
//!
//! Numbers: symstab-core `dynamics::sharpness_during_training`.

use std::path::PathBuf;

use serde::Serialize;
use symstab_core::data::{BIAS_STD, RealDataset, load_real};
use symstab_core::dynamics::{Optimizer, SharpnessRun, sharpness_during_training};
use symstab_core::mlp::{Activation, Mlp, MlpProblem};
use symstab_core::outcome::StopRule;

use super::dynamics_plot::{Series, line_colour, panel};
use super::{Context, FigureResult};
use crate::render::axis::{Axis, Scale, format_number};
use crate::render::draw::{self, LegendPlace, LineStyle};
use crate::render::{colour, render_png, table};

/// Image size in pixels.
pub const SIZE: (u32, u32) = (1200, 1100);
/// (learning rate, momentum) of each run.
pub const RUNS: [(f64, f64); 4] = [(0.02, 0.0), (0.05, 0.0), (0.1, 0.0), (0.05, 0.5)];

#[derive(Serialize)]
struct Row {
    learning_rate: f64,
    momentum: f64,
    sharpness_limit: f64,
    step: usize,
    loss: f64,
    lambda_max: f64,
}

fn label(eta: f64, beta: f64) -> String {
    if beta > 0.0 {
        format!("η = {}, β = {}", format_number(eta), format_number(beta))
    } else {
        format!("η = {}", format_number(eta))
    }
}

/// Trains, writes the CSV, renders.
pub fn render(ctx: &Context) -> FigureResult<Vec<PathBuf>> {
    let (steps, every, widths): (usize, usize, &[usize]) = if ctx.quick {
        (60, 20, &[10, 8, 1])
    } else {
        (2000, 20, &[10, 32, 32, 1])
    };
    let data = load_real(RealDataset::Diabetes)?;
    let net = Mlp::uniform(widths, Activation::Relu)?;
    let problem = MlpProblem::new(net.clone(), data)?;
    let start = net.init_he(1, BIAS_STD)?;
    let mut runs: Vec<SharpnessRun> = vec![];
    let mut rows = vec![];
    for &(eta, beta) in &RUNS {
        let opt = Optimizer::new(eta)?.with_momentum(beta)?;
        let run =
            sharpness_during_training(&problem, &start, &opt, steps, every, StopRule::default())?;
        let tail: Vec<f64> = run
            .records
            .iter()
            .filter(|r| r.step >= steps / 2)
            .map(|r| r.lambda_max)
            .collect();
        let mean_tail = tail.iter().sum::<f64>() / tail.len().max(1) as f64;
        eprintln!(
            "  {}: {} after {} steps, loss {:.4} → {:.4}, λmax {:.2} → {:.2} (mean over the second half {:.2}), limit {:.2}",
            label(eta, beta),
            run.outcome,
            run.losses.len() - 1,
            run.losses[0],
            run.losses.last().copied().unwrap_or(f64::NAN),
            run.records.first().map_or(f64::NAN, |r| r.lambda_max),
            run.records.last().map_or(f64::NAN, |r| r.lambda_max),
            mean_tail,
            run.sharpness_limit
        );
        for r in &run.records {
            rows.push(Row {
                learning_rate: eta,
                momentum: beta,
                sharpness_limit: run.sharpness_limit,
                step: r.step,
                loss: r.loss,
                lambda_max: r.lambda_max,
            });
        }
        runs.push(run);
    }
    let csv = ctx.path("dynamics_sharpness.csv");
    table::write_csv(&csv, &rows)?;
    let loss_rows: Vec<_> = RUNS
        .iter()
        .zip(&runs)
        .flat_map(|(&(eta, beta), run)| {
            run.losses
                .iter()
                .enumerate()
                .map(move |(t, l)| (eta, beta, t, *l))
        })
        .collect();
    let loss_csv = ctx.path("dynamics_sharpness_loss.csv");
    table::write_csv(
        &loss_csv,
        loss_rows.iter().map(|(eta, beta, t, l)| LossRow {
            learning_rate: *eta,
            momentum: *beta,
            step: *t,
            loss: *l,
        }),
    )?;

    let png = ctx.path("dynamics_sharpness.png");
    render_png(&png, SIZE, |root| {
        root.fill(&colour::WHITE)?;
        draw::draw_title(
            root,
            &format!(
                "Sharpness during full-batch GD: ReLU {:?} on diabetes (441 samples)",
                widths
            ),
            12,
        )?;
        let split = 56 + (SIZE.1 as i32 - 56) * 3 / 5;
        let x = Axis::new("step", 0.0, steps as f64, Scale::Linear);
        let top = runs
            .iter()
            .map(|r| r.sharpness_limit)
            .chain(
                runs.iter()
                    .flat_map(|r| r.records.iter().map(|x| x.lambda_max)),
            )
            .fold(0.0, f64::max);
        // Headroom above the highest line for the legend (eight rows, about half the
        // panel's height), so it covers no curve and no 2/η line.
        let y = Axis::new(
            "λmax (largest Hessian eigenvalue)",
            0.0,
            top * 2.3,
            Scale::Linear,
        );
        let mut series = vec![];
        for (k, (&(eta, beta), run)) in RUNS.iter().zip(&runs).enumerate() {
            series.push(Series::new(
                run.records
                    .iter()
                    .map(|r| (r.step as f64, r.lambda_max))
                    .collect(),
                LineStyle::solid(line_colour(k), 3),
                format!("λmax, {}", label(eta, beta)),
            ));
            series.push(Series::new(
                vec![
                    (0.0, run.sharpness_limit),
                    (steps as f64, run.sharpness_limit),
                ],
                LineStyle::dashed(line_colour(k), 2),
                if beta > 0.0 {
                    format!("(2 + 2β)/η = {}", format_number(run.sharpness_limit))
                } else {
                    format!("2/η = {}", format_number(run.sharpness_limit))
                },
            ));
        }
        panel(
            root,
            (0, 56, SIZE.0 as i32 - 10, split - 6),
            &x,
            &y,
            &series,
            &[],
            vec![],
            LegendPlace::TopRight,
        )?;
        let lo = runs
            .iter()
            .flat_map(|r| r.losses.iter().copied())
            .filter(|l| *l > 0.0)
            .fold(f64::INFINITY, f64::min);
        let hi = runs.iter().map(|r| r.losses[0]).fold(0.0, f64::max);
        let y = Axis::new("loss (mean squared error)", lo * 0.8, hi * 1.2, Scale::Log);
        let series: Vec<Series> = RUNS
            .iter()
            .zip(&runs)
            .enumerate()
            .map(|(k, (&(eta, beta), run))| {
                Series::new(
                    run.losses
                        .iter()
                        .enumerate()
                        .map(|(t, l)| (t as f64, *l))
                        .collect(),
                    LineStyle::solid(line_colour(k), 2),
                    format!("loss, {}", label(eta, beta)),
                )
            })
            .collect();
        panel(
            root,
            (0, split + 6, SIZE.0 as i32 - 10, SIZE.1 as i32 - 4),
            &x,
            &y,
            &series,
            &[],
            vec![],
            LegendPlace::TopRight,
        )?;
        Ok(())
    })?;
    Ok(vec![png, csv, loss_csv])
}

#[derive(Serialize)]
struct LossRow {
    learning_rate: f64,
    momentum: f64,
    step: usize,
    loss: f64,
}
