//! Learning rate × orbit position for the trained teacher-student network: full-batch
//! gradient descent from g(α)·θ (hidden layer 1 scaled by α) for a fixed number of steps,
//! diverged cells in their own colour and the others shaded by how far the loss fell, with
//! the prediction 2/λmax(α) and the bisected critical learning rate(α) drawn over it. The
//! critical rate along the same path from the untrained start is written beside it.
//!
//! Numbers: symstab-sweep's network runner (`run_network_sweep`, with the path
//! `OrbitPath::apply` of symstab-core and the bisected critical rate per position) and
//! symstab-core's `orbit::loss_decrease_boundary`.

use std::path::PathBuf;

use serde::Serialize;
use symstab_core::Outcome;
use symstab_core::orbit::{OrbitPath, log_spaced, loss_decrease_boundary};
use symstab_core::stability::CriticalOptions;
use symstab_sweep::grid::{Axis as LogAxis, LearningRates};
use symstab_sweep::network::{NetworkSweepResult, NetworkSweepSpec, run_network_sweep};

use super::network_common::{Case, cases};
use super::{Context, FigureResult, gap_note};
use crate::progress::SweepProgress;
use crate::render::axis::{Axis, Scale, format_number};
use crate::render::draw::{self, CellCentres, LegendEntry, LineStyle, Swatch};
use crate::render::{colour, render_png, table};

/// Image size in pixels.
pub const SIZE: (u32, u32) = (1400, 880);
/// Range of orbit positions α of the map.
const ALPHA_RANGE: (f64, f64) = (0.1, 10.0);
/// Range of learning rates of the map.
const LR_RANGE: (f64, f64) = (1e-3, 1.0);
/// Largest loss ratio with its own shade.
const SHADE_MAX: f64 = 1e3;
/// The path of the map.
const PATH: OrbitPath = OrbitPath::Rescale { layer: 1 };

/// A map cell as a CSV row.
#[derive(Debug, Serialize)]
struct CellRow {
    alpha: f64,
    learning_rate: f64,
    outcome: Outcome,
    steps: usize,
    final_loss: f64,
    loss_ratio: f64,
}

/// One α of a critical-rate curve as a CSV row.
#[derive(Debug, Serialize)]
struct CurveRow<'a> {
    point: &'a str,
    alpha: f64,
    lambda_max: f64,
    stable_lr: f64,
    critical_lr: f64,
    critical_lr_lower: f64,
    critical_over_stable: f64,
    runs: usize,
    unfinished_runs: usize,
    /// Largest grid rate below which every run lowered the loss (trained map only).
    largest_decreasing_lr: f64,
}

fn curve_rows<'a>(point: &'a str, result: &NetworkSweepResult) -> Vec<CurveRow<'a>> {
    result
        .positions
        .iter()
        .map(|p| {
            let stable = p.stable_lr_start.as_f64();
            let critical = p.critical_lr.unwrap_or(f64::NAN);
            CurveRow {
                point,
                alpha: p.log_alpha.exp(),
                lambda_max: p.lambda_max_start,
                stable_lr: stable,
                critical_lr: critical,
                critical_lr_lower: p.critical_lower.unwrap_or(f64::NAN),
                critical_over_stable: critical / stable,
                runs: p.critical_evaluations as usize,
                unfinished_runs: p.critical_unfinished as usize,
                largest_decreasing_lr: f64::NAN,
            }
        })
        .collect()
}

/// One network sweep along [`PATH`] through `params` (progress on stderr).
fn sweep(
    case: &Case,
    params: &[f64],
    spec: &NetworkSweepSpec,
    name: &str,
) -> FigureResult<NetworkSweepResult> {
    let net = case.problem.network();
    // Validate every position before the runner (whose path must not fail) uses them.
    for la in spec.log_alpha.values() {
        PATH.apply(net, params, la.exp())?;
    }
    let path = |log_alpha: f64| {
        PATH.apply(net, params, log_alpha.exp())
            .expect("positions validated above")
    };
    let progress = SweepProgress::new(name, spec.n_cells() + spec.log_alpha.len());
    let result = run_network_sweep(&case.problem, &path, spec, &progress)?;
    progress.finish(&format!(
        "{} rates × {} positions",
        spec.learning_rates.len(),
        spec.log_alpha.len()
    ));
    Ok(result)
}

/// Runs the sweep and the bisections, writes the CSVs and renders the map.
pub fn render(ctx: &Context) -> FigureResult<Vec<PathBuf>> {
    let case: &Case = &cases(ctx.quick)?[0];
    let (n_alpha, n_lr, max_steps) = if ctx.quick {
        (5, 6, 40u32)
    } else {
        (13, 18, 200u32)
    };
    let alphas = log_spaced(ALPHA_RANGE.0, ALPHA_RANGE.1, n_alpha)?;
    let rates = log_spaced(LR_RANGE.0, LR_RANGE.1, n_lr)?;
    let critical_options = CriticalOptions {
        max_steps: max_steps as usize,
        relative_tolerance: 2e-2,
        ..CriticalOptions::default()
    };
    let log_axis = |n| LogAxis::new(ALPHA_RANGE.0.ln(), ALPHA_RANGE.1.ln(), n);
    let spec = NetworkSweepSpec::new(
        log_axis(n_alpha)?,
        LearningRates::new(rates.clone())?,
        max_steps,
    )
    .with_critical(critical_options.clone());
    let trained = sweep(case, &case.trained, &spec, "network lr × α sweep (trained)")?;
    // The start point: critical rates only (one tiny grid rate).
    let start_spec = NetworkSweepSpec::new(
        log_axis(if ctx.quick { 3 } else { 5 })?,
        LearningRates::new(vec![LR_RANGE.0])?,
        max_steps,
    )
    .with_critical(critical_options);
    let start = sweep(
        case,
        &case.start,
        &start_spec,
        "critical rates from the start",
    )?;
    for (name, result) in [("trained", &trained), ("start", &start)] {
        let ratios: Vec<String> = curve_rows(name, result)
            .iter()
            .map(|r| format!("{}: {:.3}", format_number(r.alpha), r.critical_over_stable))
            .collect();
        eprintln!(
            "  {name}: critical η ÷ (2/λmax) by α = {}",
            ratios.join(", ")
        );
    }
    let cells = &trained.cells;
    let diverged = cells
        .iter()
        .filter(|c| c.outcome == Outcome::Diverged)
        .count();
    let loss0 = symstab_core::Model::loss(&case.problem, &case.trained);
    let cell_rows: Vec<CellRow> = cells
        .iter()
        .map(|c| CellRow {
            alpha: c.log_alpha.exp(),
            learning_rate: c.learning_rate,
            outcome: c.outcome,
            steps: c.steps as usize,
            final_loss: c.final_loss,
            loss_ratio: c.final_loss / loss0,
        })
        .collect();
    let runs: Vec<(Outcome, f64)> = cells.iter().map(|c| (c.outcome, c.final_loss)).collect();
    let decrease = loss_decrease_boundary(&rates, &runs, loss0)?;
    let csv_path = ctx.path("network_lr_map.csv");
    table::write_csv(&csv_path, cell_rows.iter())?;
    let curves_path = ctx.path("network_lr_map_curves.csv");
    let trained_curves = curve_rows("trained", &trained);
    let mut curves = curve_rows("trained", &trained);
    for (row, d) in curves.iter_mut().zip(&decrease) {
        row.largest_decreasing_lr = d.unwrap_or(f64::NAN);
    }
    curves.extend(curve_rows("start", &start));
    table::write_csv(&curves_path, curves.iter())?;

    // Shade of the cells that did not diverge: final loss ÷ loss at the start, log scale.
    let ratios: Vec<f64> = cell_rows
        .iter()
        .filter(|r| r.outcome != Outcome::Diverged)
        .map(|r| r.loss_ratio.max(1e-12))
        .collect();
    let lo = ratios
        .iter()
        .copied()
        .fold(f64::INFINITY, f64::min)
        .min(0.5);
    // Ratios above SHADE_MAX (rare runs that grew without reaching the divergence bound) share
    // the top colour.
    let hi = ratios
        .iter()
        .copied()
        .fold(0.0, f64::max)
        .clamp(2.0, SHADE_MAX);
    let shade_axis = Axis::new("final loss ÷ loss at θ", lo, hi, Scale::Log);
    let shade = |ratio: f64| {
        let (u0, u1) = shade_axis.unit_range();
        match shade_axis.to_units(ratio.clamp(lo, hi)) {
            Some(u) => colour::sequential((u - u0) / (u1 - u0)),
            None => colour::NON_FINITE,
        }
    };
    let centres = CellCentres {
        x: alphas.iter().map(|a| a.log10()).collect(),
        y: rates.iter().map(|r| r.log10()).collect(),
    };
    let stable: Vec<(f64, f64)> = trained_curves
        .iter()
        .map(|p| (p.alpha, p.stable_lr))
        .collect();
    let critical: Vec<(f64, f64)> = trained_curves
        .iter()
        .map(|p| (p.alpha, p.critical_lr))
        .collect();
    let decreasing: Vec<(f64, f64)> = alphas
        .iter()
        .zip(&decrease)
        .map(|(&a, d)| (a, d.unwrap_or(f64::NAN)))
        .collect();
    let decrease_style = LineStyle::dashed(colour::WHITE, 2);
    let stable_style = LineStyle::solid(colour::WHITE, 3);
    let critical_style = LineStyle::dashed(colour::BLACK, 3);
    let png_path = ctx.path("network_lr_map.png");
    render_png(&png_path, SIZE, |root| {
        root.fill(&colour::WHITE)?;
        draw::draw_title(
            root,
            &format!(
                "Gradient descent from equivalent points of the trained {}",
                case.label
            ),
            12,
        )?;
        let x_axis = Axis::new(
            "orbit position α (hidden layer 1 × α, layer 2 weights ÷ α)",
            ALPHA_RANGE.0,
            ALPHA_RANGE.1,
            Scale::Log,
        );
        let y_axis = Axis::new("learning rate η", LR_RANGE.0, LR_RANGE.1, Scale::Log);
        let pbox = draw::draw_axes(root, (0, 56, 900, SIZE.1 as i32 - 4), &x_axis, &y_axis)?;
        draw::draw_cells(root, &pbox, &centres, &|i, j| {
            let c = &cells[j * n_alpha + i];
            if c.outcome == Outcome::Diverged {
                colour::DIVERGED
            } else {
                shade(c.final_loss / loss0)
            }
        })?;
        draw::draw_line(root, &pbox, &stable, stable_style)?;
        draw::draw_line(root, &pbox, &critical, critical_style)?;
        draw::draw_line(root, &pbox, &decreasing, decrease_style)?;
        draw::draw_box_outline(root, &pbox)?;

        let (_, top, right, bottom) = pbox.bounds();
        let bar_bottom = (top + 0.42 * (bottom - top)) as i32;
        let bar_left = right as i32 + 40;
        draw::draw_colour_bar(
            root,
            (bar_left, top as i32 + 8, bar_left + 28, bar_bottom),
            &shade_axis,
            &shade,
        )?;
        let mut entries = vec![
            LegendEntry::new(
                Swatch::Blank,
                format!("after {max_steps} full-batch steps:"),
            ),
            LegendEntry::new(
                Swatch::Blank,
                format!(
                    "not diverged: shade = loss ratio (bar, ≥ {} at the top)",
                    format_number(hi)
                ),
            ),
            LegendEntry::new(
                Swatch::Patch(colour::DIVERGED),
                format!("diverged, loss > 1e12 ({diverged} cells)"),
            ),
            LegendEntry::new(
                Swatch::Line(stable_style),
                "2/λmax(α) at g(α)·θ (predicted)",
            ),
            LegendEntry::new(Swatch::Line(critical_style), "critical η(α) (bisected)"),
        ];
        entries.push(LegendEntry::new(
            Swatch::Line(decrease_style),
            "largest grid η up to which every run lowered the loss",
        ));
        entries.extend(gap_note("critical η", critical.iter().map(|p| p.1)));
        let (rmin, rmax) = trained_curves
            .iter()
            .map(|p| p.critical_over_stable)
            .filter(|r| r.is_finite())
            .fold((f64::INFINITY, 0.0f64), |(a, b), r| (a.min(r), b.max(r)));
        entries.push(LegendEntry::new(
            Swatch::Blank,
            format!(
                "critical η ÷ (2/λmax): {} … {}",
                format_number(rmin),
                format_number(rmax)
            ),
        ));
        entries.push(LegendEntry::new(
            Swatch::Blank,
            format!("loss at θ: {}", format_number(loss0)),
        ));
        draw::draw_legend(root, (right as i32 + 24, bar_bottom + 36), &entries)?;
        Ok(())
    })?;
    Ok(vec![png_path, csv_path, curves_path])
}
