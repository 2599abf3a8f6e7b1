//! The catapult on the toy L(a, b) = (ab − 2)²: loss against step from (1, 9) for a rate
//! below 2/λ0, one between 2/λ0 and the critical rate, and one above it; and along the
//! orbit a·b = 9 the bisected critical rate in units of 2/λ0 at the start, beside the lines
//! 1 (the local bound) and 2 (the uv-model prediction 4/λ_NTK = 2·(2/λ0)).
//!
//! Numbers: symstab-core `dynamics::experiments::{catapult_runs, orbit_critical_ratios}`.

use std::path::PathBuf;

use serde::Serialize;
use symstab_core::dynamics::experiments::{
    OrbitCritical, catapult_runs, linspace, orbit_critical_ratios, toy_lambda_max,
};
use symstab_core::spectrum::stable_learning_rate;
use symstab_core::stability::CriticalOptions;

use super::dynamics_plot::{Series, disc, line_colour, panel};
use super::{Context, FigureResult};
use crate::render::axis::{Axis, Scale, format_number};
use crate::render::draw::{self, LegendEntry, LegendPlace, LineStyle, Swatch};
use crate::render::{colour, render_png, table};

/// Image size in pixels.
pub const SIZE: (u32, u32) = (1200, 1100);
const STEPS: usize = 60;

#[derive(Serialize)]
struct LossRow {
    learning_rate: f64,
    lr_over_stable: f64,
    step: usize,
    loss: f64,
    a: f64,
    b: f64,
}

/// Runs the toy, writes CSVs, renders.
pub fn render(ctx: &Context) -> FigureResult<Vec<PathBuf>> {
    let lambda0 = toy_lambda_max([1.0, 9.0])?;
    let stable = stable_learning_rate(lambda0).as_f64();
    let options = CriticalOptions {
        max_steps: 1000,
        relative_tolerance: 1e-7,
        ..CriticalOptions::default()
    };
    let start = orbit_critical_ratios(9.0, &[(1.0f64 / 3.0).ln()], &options)?[0];
    let critical = start.critical_lr;
    let rates = [0.8 * stable, 0.5 * (stable + critical), 1.03 * critical];
    let runs = catapult_runs([1.0, 9.0], &rates, STEPS)?;
    let mut rows = vec![];
    for (eta, run) in rates.iter().zip(&runs) {
        eprintln!(
            "  η = {eta:.5} ({:.2} × 2/λ0): {} after {} steps, max loss {:.3e}",
            eta / stable,
            run.outcome,
            run.steps,
            run.losses.iter().fold(0.0_f64, |m, l| m.max(*l))
        );
        for (t, (l, p)) in run.losses.iter().zip(&run.trajectory).enumerate() {
            rows.push(LossRow {
                learning_rate: *eta,
                lr_over_stable: eta / stable,
                step: t,
                loss: *l,
                a: p[0],
                b: p[1],
            });
        }
    }
    let loss_csv = ctx.path("dynamics_catapult_loss.csv");
    table::write_csv(&loss_csv, &rows)?;

    let n = if ctx.quick { 13 } else { 121 };
    let log_alphas = linspace(0.1f64.ln(), 10f64.ln(), n);
    let orbit = orbit_critical_ratios(9.0, &log_alphas, &options)?;
    let orbit_csv = ctx.path("dynamics_catapult_orbit.csv");
    table::write_csv(&orbit_csv, &orbit)?;
    let balanced = orbit_critical_ratios(9.0, &[0.0], &options)?[0];
    let ratios: Vec<f64> = orbit
        .iter()
        .map(|p| p.ratio)
        .filter(|r| r.is_finite())
        .collect();
    eprintln!(
        "  (1, 9): 2/λ0 = {stable:.5}, critical {critical:.5}, ratio {:.3}; (3, 3): ratio {:.3}; orbit ratio range {:.3}–{:.3}",
        start.ratio,
        balanced.ratio,
        ratios.iter().cloned().fold(f64::INFINITY, f64::min),
        ratios.iter().cloned().fold(0.0, f64::max)
    );

    let png = ctx.path("dynamics_catapult.png");
    render_png(&png, SIZE, |root| {
        root.fill(&colour::WHITE)?;
        draw::draw_title(
            root,
            "Catapult on the toy (ab − 2)² and the critical rate along a·b = 9",
            12,
        )?;
        let split = 56 + (SIZE.1 as i32 - 56) / 2;
        loss_panel(
            root,
            (0, 56, SIZE.0 as i32 - 10, split - 6),
            &rates,
            &runs,
            stable,
            critical,
        )?;
        orbit_panel(
            root,
            (0, split + 6, SIZE.0 as i32 - 10, SIZE.1 as i32 - 4),
            &orbit,
            &start,
            &balanced,
        )?;
        Ok(())
    })?;
    Ok(vec![png, loss_csv, orbit_csv])
}

fn loss_panel(
    root: &crate::render::draw::Area<'_>,
    rect: (i32, i32, i32, i32),
    rates: &[f64],
    runs: &[symstab_core::descent::Run],
    stable: f64,
    critical: f64,
) -> crate::render::draw::DrawResult {
    let x = Axis::new("step", 0.0, STEPS as f64, Scale::Linear);
    // 20 decades: grid lines at the decades only (minor lines would fill the panel).
    let y = Axis::new("loss (ab − 2)²", 1e-12, 1e8, Scale::Log)
        .with_grid((-12..=8).map(|k| 10f64.powi(k)).collect());
    let names = ["below 2/λ0", "between 2/λ0 and critical", "above critical"];
    let series: Vec<Series> = runs
        .iter()
        .zip(rates)
        .enumerate()
        .map(|(k, (run, eta))| {
            Series::new(
                run.losses
                    .iter()
                    .enumerate()
                    .map(|(t, l)| (t as f64, *l))
                    .collect(),
                LineStyle::solid(line_colour(k), 3),
                format!(
                    "η = {:.4} = {:.2} × 2/λ0 ({}): {}",
                    eta,
                    eta / stable,
                    names[k],
                    run.outcome
                ),
            )
        })
        .collect();
    let extra = vec![LegendEntry::new(
        Swatch::Blank,
        format!(
            "from (1, 9): 2/λ0 = {}, critical η = {} (bisected)",
            format_number((stable * 1e5).round() / 1e5),
            format_number((critical * 1e5).round() / 1e5)
        ),
    )];
    // Top right: the diverging run leaves the panel within a few steps and the others
    // stay far below, so the corner is empty.
    panel(
        root,
        rect,
        &x,
        &y,
        &series,
        &[],
        extra,
        LegendPlace::TopRight,
    )?;
    Ok(())
}

fn orbit_panel(
    root: &crate::render::draw::Area<'_>,
    rect: (i32, i32, i32, i32),
    orbit: &[OrbitCritical],
    start: &OrbitCritical,
    balanced: &OrbitCritical,
) -> crate::render::draw::DrawResult {
    let x = Axis::new(
        "orbit position α, (a, b) = (3α, 3/α)",
        0.1,
        10.0,
        Scale::Log,
    );
    let top = orbit
        .iter()
        .map(|p| p.ratio)
        .filter(|r| r.is_finite())
        .fold(2.5, f64::max);
    let y = Axis::new("critical η / (2/λ0)", 0.0, top * 1.15, Scale::Linear);
    let series = [
        Series::new(
            orbit.iter().map(|p| (p.alpha, p.ratio)).collect(),
            LineStyle::solid(line_colour(0), 3),
            "measured: bisected critical rate / (2/λ0 at the start)",
        ),
        Series::new(
            vec![(0.1, 1.0), (10.0, 1.0)],
            LineStyle::dashed(colour::UNFINISHED, 2),
            "1: local bound 2/λ0",
        ),
        Series::new(
            vec![(0.1, 2.0), (10.0, 2.0)],
            LineStyle::dashed(line_colour(1), 2),
            "2: uv-model 4/λ_NTK = 2·(2/λ0)",
        ),
    ];
    let markers = [
        ((start.alpha, start.ratio), disc(line_colour(2), 8)),
        ((balanced.alpha, balanced.ratio), disc(line_colour(3), 8)),
    ];
    let extra = vec![
        LegendEntry::new(
            Swatch::Point(markers[0].1),
            format!("unbalanced start (1, 9): ratio {:.3}", start.ratio),
        ),
        LegendEntry::new(
            Swatch::Point(markers[1].1),
            format!("balanced start (3, 3): ratio {:.3}", balanced.ratio),
        ),
    ];
    panel(
        root,
        rect,
        &x,
        &y,
        &series,
        &markers,
        extra,
        LegendPlace::BottomLeft,
    )?;
    Ok(())
}
