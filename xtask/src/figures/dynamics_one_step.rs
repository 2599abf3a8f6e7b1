//! The loss after one gradient step against the learning rate, for a teacher-student
//! [5, 10, 10, 10, 10, 1] ReLU network and its per-layer rescaled twin (factors 0.1, 2.5, 4
//! on the first three layers, 1 on the last two; biases scaled by the running product),
//! with 2/λmax of each marked on its curve.
//!
//! Numbers: symstab-core `dynamics::experiments::one_step_curve`, `dynamics::lambda_max`.

use std::path::PathBuf;

use serde::Serialize;
use symstab_core::Model;
use symstab_core::data::teacher_student;
use symstab_core::dynamics::experiments::{linspace, one_step_curve};
use symstab_core::dynamics::lambda_max;
use symstab_core::mlp::Activation;
use symstab_core::mlp::symmetry::Symmetry;
use symstab_core::spectrum::stable_learning_rate;

use super::dynamics_plot::{Series, disc, line_colour, panel};
use super::{Context, FigureResult};
use crate::render::axis::{Axis, Scale, format_number};
use crate::render::draw::{self, LegendEntry, LegendPlace, LineStyle, Swatch};
use crate::render::{colour, render_png, table};

/// Image size in pixels.
pub const SIZE: (u32, u32) = (1100, 760);
/// Per-layer factors of the twin (product 1).
pub const FACTORS: [f64; 5] = [0.1, 2.5, 4.0, 1.0, 1.0];

#[derive(Serialize)]
struct Row {
    learning_rate: f64,
    loss_original: f64,
    loss_rescaled: f64,
}

#[derive(Serialize)]
struct Marks {
    network: &'static str,
    loss: f64,
    lambda_max: f64,
    stable_lr: f64,
    loss_after_step_at_stable_lr: f64,
}

/// Computes the two curves, writes them as CSV and renders the figure.
pub fn render(ctx: &Context) -> FigureResult<Vec<PathBuf>> {
    let (widths, n): (&[usize], usize) = if ctx.quick {
        (&[5, 6, 6, 6, 6, 1], 100)
    } else {
        (&[5, 10, 10, 10, 10, 1], 1000)
    };
    let ts = teacher_student(widths, Activation::Relu, n, 0)?;
    let net = ts.problem.network();
    let original = ts.student_params.clone();
    let twin = Symmetry::layer_scale(net, &FACTORS)?.apply(net, &original)?;
    let etas = linspace(0.0, 1.0, if ctx.quick { 101 } else { 1001 });
    let a = one_step_curve(&ts.problem, &original, &etas)?;
    let b = one_step_curve(&ts.problem, &twin, &etas)?;
    let rows: Vec<Row> = a
        .iter()
        .zip(&b)
        .map(|(x, y)| Row {
            learning_rate: x.learning_rate,
            loss_original: x.loss,
            loss_rescaled: y.loss,
        })
        .collect();
    let csv = ctx.path("dynamics_one_step.csv");
    table::write_csv(&csv, &rows)?;
    let mut marks = vec![];
    for (name, p) in [("original", &original), ("rescaled", &twin)] {
        let l = lambda_max(&ts.problem, p, 0)?;
        let stable_lr = stable_learning_rate(l).as_f64();
        let at = one_step_curve(&ts.problem, p, &[stable_lr])?[0].loss;
        marks.push(Marks {
            network: name,
            loss: ts.problem.loss(p),
            lambda_max: l,
            stable_lr,
            loss_after_step_at_stable_lr: at,
        });
        eprintln!(
            "  {name}: loss {:.4}, λmax {:.3}, 2/λmax {:.4}, loss after a step at 2/λmax {:.4}",
            ts.problem.loss(p),
            l,
            stable_lr,
            at
        );
    }
    let marks_csv = ctx.path("dynamics_one_step_marks.csv");
    table::write_csv(&marks_csv, &marks)?;

    let loss0 = marks[0].loss;
    // The y range holds both curves whole (nothing is clipped at the top), with room
    // above for the legend in the top-left corner, which the curves reach only late.
    let finite = a
        .iter()
        .chain(&b)
        .map(|p| p.loss)
        .filter(|l| l.is_finite() && *l > 0.0);
    let (lowest, highest) = finite.fold((loss0, loss0), |(lo, hi), l| (lo.min(l), hi.max(l)));
    let y = Axis::new(
        "loss after one gradient step",
        (lowest * 0.5).min(loss0 * 0.05),
        highest * 5.0,
        Scale::Log,
    );
    let x = Axis::new("learning rate η", 0.0, 1.0, Scale::Linear);
    let png = ctx.path("dynamics_one_step.png");
    render_png(&png, SIZE, |root| {
        root.fill(&colour::WHITE)?;
        draw::draw_title(root, "One gradient step from equivalent networks", 12)?;
        let series = [
            Series::new(
                a.iter().map(|p| (p.learning_rate, p.loss)).collect(),
                LineStyle::solid(line_colour(0), 3),
                "original network",
            ),
            Series::new(
                b.iter().map(|p| (p.learning_rate, p.loss)).collect(),
                LineStyle::solid(line_colour(1), 3),
                format!(
                    "per-layer rescaled twin (×{})",
                    FACTORS.map(format_number).join(", ×")
                ),
            ),
            Series::unlabelled(
                vec![(0.0, loss0), (1.0, loss0)],
                LineStyle::dashed(colour::UNFINISHED, 2),
            ),
        ];
        let markers: Vec<((f64, f64), _)> = marks
            .iter()
            .enumerate()
            .map(|(k, m)| {
                (
                    (m.stable_lr, m.loss_after_step_at_stable_lr),
                    disc(line_colour(k), 8),
                )
            })
            .collect();
        let mut extra: Vec<LegendEntry> = marks
            .iter()
            .enumerate()
            .map(|(k, m)| {
                LegendEntry::new(
                    Swatch::Point(disc(line_colour(k), 8)),
                    format!(
                        "{}: λmax = {:.2}, 2/λmax = {:.4}",
                        m.network, m.lambda_max, m.stable_lr
                    ),
                )
            })
            .collect();
        extra.push(LegendEntry::new(
            Swatch::Line(LineStyle::dashed(colour::UNFINISHED, 2)),
            format!("loss before the step ({:.3}, same for both)", loss0),
        ));
        panel(
            root,
            (0, 56, SIZE.0 as i32 - 10, SIZE.1 as i32 - 4),
            &x,
            &y,
            &series,
            &markers,
            extra,
            LegendPlace::TopLeft,
        )?;
        Ok(())
    })?;
    Ok(vec![png, csv, marks_csv])
}
