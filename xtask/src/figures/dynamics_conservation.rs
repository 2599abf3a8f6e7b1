//! Conservation of the neuron balances C_j = ‖θ_in,j‖² − ‖θ_out,j‖² of a ReLU teacher-student
//! [5, 10, 10, 10, 10, 1] network: C_j(t) − C_j(0) along a gradient-descent run, the error of
//! the exact one-step identity C' − C = η²(‖g_in‖² − ‖g_out‖²) at every step, and the drift
//! over a fixed number of steps (from the end of that run) against η on log-log axes
//! (slope 2).
//!
//! Numbers: symstab-core `mlp::conserved::balance_trajectory`,
//! `dynamics::experiments::{balance_drift, log_log_slope}`.

use std::path::PathBuf;

use serde::Serialize;
use symstab_core::data::teacher_student;
use symstab_core::dynamics::experiments::{balance_drift, log_log_slope};
use symstab_core::mlp::Activation;
use symstab_core::mlp::conserved::balance_trajectory;

use super::dynamics_plot::{Series, disc, line_colour, panel};
use super::{Context, FigureResult};
use crate::render::axis::{Axis, Scale, format_number};
use crate::render::draw::{self, LegendEntry, LegendPlace, LineStyle, Swatch};
use crate::render::{colour, render_png, table};

/// Image size in pixels.
pub const SIZE: (u32, u32) = (1400, 1050);
/// Learning rate of the run in the first two panels.
pub const LEARNING_RATE: f64 = 0.05;
/// Steps of the drift measurement.
pub const HORIZON: usize = 50;

#[derive(Serialize)]
struct BalanceRow {
    step: usize,
    loss: f64,
    neuron: usize,
    balance: f64,
    change: f64,
    identity_error: f64,
}

/// Runs, writes CSVs, renders.
pub fn render(ctx: &Context) -> FigureResult<Vec<PathBuf>> {
    let (widths, n, steps): (&[usize], usize, usize) = if ctx.quick {
        (&[5, 6, 6, 1], 100, 50)
    } else {
        (&[5, 10, 10, 10, 10, 1], 1000, 1000)
    };
    let ts = teacher_student(widths, Activation::Relu, n, 0)?;
    let records = balance_trajectory(&ts.problem, &ts.student_params, LEARNING_RATE, 0.0, steps)?;
    let c0 = records[0].balances.clone();
    let mut rows = vec![];
    for r in &records {
        for (j, c) in r.balances.iter().enumerate() {
            rows.push(BalanceRow {
                step: r.step,
                loss: r.loss,
                neuron: j,
                balance: *c,
                change: c - c0[j],
                identity_error: r.identity_error,
            });
        }
    }
    let csv = ctx.path("dynamics_conservation.csv");
    table::write_csv(&csv, &rows)?;
    let max_err = records.iter().fold(0.0_f64, |m, r| m.max(r.identity_error));
    let c_scale = c0.iter().fold(0.0_f64, |m, c| m.max(c.abs()));
    let last = records.last().expect("at least the start");
    let max_change = last
        .balances
        .iter()
        .zip(&c0)
        .fold(0.0_f64, |m, (a, b)| m.max((a - b).abs()));
    eprintln!(
        "  η = {LEARNING_RATE}: {} steps, loss {:.4} → {:.4}, max |C(T) − C(0)| {max_change:.3e} (max |C(0)| {c_scale:.3}), identity error ≤ {max_err:.2e}",
        last.step, records[0].loss, last.loss
    );

    let etas: Vec<f64> = (0..13).map(|k| 1e-4 * 10f64.powf(k as f64 / 4.0)).collect();
    // From the end of the run, where the gradients are small: over HORIZON steps the path
    // then barely depends on η and the drift is η²·Σ(‖g_in‖² − ‖g_out‖²) to leading order.
    let trained = symstab_core::descent::GradientDescent::new(LEARNING_RATE, steps)?
        .with_recording(symstab_core::descent::Recording::None)
        .run(&ts.problem, &ts.student_params)?
        .final_point;
    let drift = balance_drift(&ts.problem, &trained, &etas, HORIZON)?;
    let drift_csv = ctx.path("dynamics_conservation_drift.csv");
    table::write_csv(&drift_csv, &drift)?;
    let small: Vec<_> = drift
        .iter()
        .filter(|d| d.learning_rate <= 1.01e-3)
        .collect();
    let slope_small = log_log_slope(
        &small.iter().map(|d| d.learning_rate).collect::<Vec<_>>(),
        &small.iter().map(|d| d.mean_drift).collect::<Vec<_>>(),
    )?;
    let slope_all = log_log_slope(
        &etas,
        &drift.iter().map(|d| d.mean_drift).collect::<Vec<_>>(),
    )?;
    eprintln!(
        "  drift over {HORIZON} steps: slope {slope_small:.3} for η ≤ 1e-3, {slope_all:.3} over 1e-4…0.1; mean |ΔC| {:.3e} at η = 1e-4, {:.3e} at η = 0.1",
        drift[0].mean_drift,
        drift.last().map_or(f64::NAN, |d| d.mean_drift)
    );

    let png = ctx.path("dynamics_conservation.png");
    render_png(&png, SIZE, |root| {
        root.fill(&colour::WHITE)?;
        draw::draw_title(
            root,
            &format!(
                "Neuron balances C = ‖θ_in‖² − ‖θ_out‖² under gradient descent, ReLU {widths:?}"
            ),
            12,
        )?;
        let (w, h) = (SIZE.0 as i32, SIZE.1 as i32);
        let split = 56 + (h - 56) / 2;
        let mid = w / 2;
        // Panel 1: change of every balance.
        let x = Axis::new("step", 0.0, last.step as f64, Scale::Linear);
        let lim = max_change.max(1e-12) * 1.1;
        let y = Axis::new("C_j(t) − C_j(0)", -lim, lim, Scale::Linear);
        let n_neurons = c0.len();
        let series: Vec<Series> = (0..n_neurons)
            .map(|j| {
                Series::unlabelled(
                    records
                        .iter()
                        .map(|r| (r.step as f64, r.balances[j] - c0[j]))
                        .collect(),
                    LineStyle::solid(line_colour(j), 1),
                )
            })
            .collect();
        let extra = vec![LegendEntry::new(
            Swatch::Blank,
            format!("{n_neurons} hidden neurons, η = {LEARNING_RATE}; max |C(0)| = {c_scale:.2}"),
        )];
        panel(
            root,
            (0, 56, mid - 6, split - 6),
            &x,
            &y,
            &series,
            &[],
            extra,
            LegendPlace::BottomLeft,
        )?;
        // Panel 2: identity error.
        let pts: Vec<(f64, f64)> = records
            .iter()
            .skip(1)
            .map(|r| (r.step as f64, r.identity_error.max(1e-18)))
            .collect();
        let y = Axis::new(
            "|C measured − C predicted by the identity|",
            1e-18,
            1e-12,
            Scale::Log,
        );
        let series = [Series::new(
            pts,
            LineStyle::solid(line_colour(0), 1),
            format!("largest over neurons, each step (≤ {max_err:.1e})"),
        )];
        let extra = vec![LegendEntry::new(
            Swatch::Blank,
            "identity C' − C = η²(‖g_in‖² − ‖g_out‖²); 1e-18 = exact",
        )];
        panel(
            root,
            (mid + 6, 56, w - 10, split - 6),
            &x,
            &y,
            &series,
            &[],
            extra,
            LegendPlace::TopLeft,
        )?;
        // Panel 3: drift vs η.
        let x = Axis::new("learning rate η", 1e-4, 0.1, Scale::Log);
        let d_lo = drift
            .iter()
            .map(|d| d.mean_drift)
            .filter(|d| *d > 0.0)
            .fold(f64::INFINITY, f64::min);
        let d_hi = drift.iter().map(|d| d.max_drift).fold(0.0, f64::max);
        let y = Axis::new(
            &format!("|C(T) − C(0)| after T = {HORIZON} steps from the trained point"),
            d_lo * 0.3,
            d_hi * 3.0,
            Scale::Log,
        );
        let anchor = drift[0].mean_drift / (etas[0] * etas[0]);
        let series = [
            Series::new(
                drift
                    .iter()
                    .map(|d| (d.learning_rate, d.mean_drift))
                    .collect(),
                LineStyle::solid(line_colour(0), 3),
                format!("mean over neurons (slope {slope_small:.3} for η ≤ 1e-3)"),
            ),
            Series::new(
                drift
                    .iter()
                    .map(|d| (d.learning_rate, d.max_drift))
                    .collect(),
                LineStyle::solid(line_colour(1), 3),
                "largest over neurons",
            ),
            Series::new(
                etas.iter().map(|e| (*e, anchor * e * e)).collect(),
                LineStyle::dashed(colour::UNFINISHED, 2),
                "∝ η² (through the first point)",
            ),
        ];
        let markers: Vec<_> = drift
            .iter()
            .map(|d| ((d.learning_rate, d.mean_drift), disc(line_colour(0), 5)))
            .collect();
        let extra = vec![LegendEntry::new(
            Swatch::Blank,
            format!(
                "fitted slope over all η: {slope_all:.3} (final loss at η = {}: {:.3})",
                format_number(etas[etas.len() - 1]),
                drift[drift.len() - 1].final_loss
            ),
        )];
        panel(
            root,
            (0, split + 6, w - 10, h - 4),
            &x,
            &y,
            &series,
            &markers,
            extra,
            LegendPlace::TopLeft,
        )?;
        Ok(())
    })?;
    Ok(vec![png, csv, drift_csv])
}
