//! Learning rate × position on the orbit a·b = 9: gradient descent from (3α, 3/α) for α
//! from 0.1 to 10 at log-spaced learning rates, coloured by steps to converge (diverged
//! and unfinished cells in their own colours), with the predicted bound 2/λmax(α) and the
//! bisected critical learning rate(α) drawn over it.
//!
//! Numbers: the cells are a symstab-sweep orbit sweep; the curves come from
//! [`super::orbit::curve_points`] (symstab-core spectrum and bisection).

use std::path::PathBuf;

use symstab_sweep::grid::{LearningRates, StartSet, SweepSpec};

use super::orbit::{
    ALPHA_MAX, ALPHA_MIN, MAX_STEPS, PRODUCT, curve_len, curve_points, log_alpha_axis,
};
use super::{Context, FigureResult, StepsScale, draw_steps_key, gap_note, toy_sweep_to_csv};
use crate::render::axis::{Axis, Scale};
use crate::render::draw::{self, CellCentres, LegendEntry, LineStyle, Marker, Shape, Swatch};
use crate::render::{colour, render_png, table};

/// Smallest learning rate of the map.
pub const LR_MIN: f64 = 5e-4;
/// Largest learning rate of the map.
pub const LR_MAX: f64 = 0.2;
/// Image size in pixels.
pub const SIZE: (u32, u32) = (1340, 860);

/// Renders the map and writes its cells and curves as CSV.
pub fn render(ctx: &Context) -> FigureResult<Vec<PathBuf>> {
    let n_alpha = curve_len(ctx.quick);
    let n_lr = if ctx.quick { 40 } else { 240 };
    let log_alpha = log_alpha_axis(n_alpha)?;
    // Learning rates evenly spaced in log10 (the layout of the map's vertical axis).
    let rates: Vec<f64> = (0..n_lr)
        .map(|k| {
            10f64.powf(LR_MIN.log10() + (LR_MAX / LR_MIN).log10() * k as f64 / (n_lr - 1) as f64)
        })
        .collect();
    let spec = SweepSpec::new(
        StartSet::Orbit {
            product: PRODUCT,
            log_alpha,
        },
        LearningRates::new(rates.clone())?,
        MAX_STEPS,
    );
    let (records, csv_path) = toy_sweep_to_csv(
        ctx,
        &spec,
        "orbit × learning-rate sweep",
        &format!("{n_lr} rates × {n_alpha} orbit points"),
        "orbit_lr_map.csv",
    )?;

    let points = curve_points(ctx.quick)?;
    let curves_path = ctx.path("orbit_lr_map_curves.csv");
    table::write_csv(&curves_path, points.iter())?;

    let steps = StepsScale::for_cells(&records);
    let centres = CellCentres {
        x: log_alpha
            .values()
            .iter()
            .map(|la| la / std::f64::consts::LN_10)
            .collect(),
        y: rates.iter().map(|r| r.log10()).collect(),
    };
    let stable: Vec<(f64, f64)> = points.iter().map(|p| (p.alpha, p.stable_lr)).collect();
    let critical: Vec<(f64, f64)> = points.iter().map(|p| (p.alpha, p.critical_lr)).collect();
    let stable_style = LineStyle::solid(colour::WHITE, 3);
    let critical_style = LineStyle::dashed(colour::BLACK, 3);
    let png_path = ctx.path("orbit_lr_map.png");
    render_png(&png_path, SIZE, |root| {
        root.fill(&colour::WHITE)?;
        draw::draw_title(
            root,
            "Gradient descent along the orbit a·b = 9: outcome by learning rate",
            12,
        )?;
        let x_axis = Axis::new(
            "orbit position α, start (a, b) = (3α, 3/α)",
            ALPHA_MIN,
            ALPHA_MAX,
            Scale::Log,
        );
        let y_axis = Axis::new("learning rate η", LR_MIN, LR_MAX, Scale::Log);
        let pbox = draw::draw_axes(root, (0, 56, 880, SIZE.1 as i32 - 4), &x_axis, &y_axis)?;
        draw::draw_cells(root, &pbox, &centres, &|i, j| {
            steps.cell_colour(&records[j * n_alpha + i])
        })?;
        draw::draw_line(root, &pbox, &stable, stable_style)?;
        draw::draw_line(root, &pbox, &critical, critical_style)?;
        let marker = |shape, fill| Marker {
            shape,
            size: 8,
            fill,
            outline: colour::WHITE,
        };
        // The study's starts sit at α = 1 (3, 3) and α = 1/3 (1, 9); mark them at their 2/λmax.
        let study = [
            (1.0, Shape::Circle, colour::LINES[0], "(3, 3)"),
            (1.0 / 3.0, Shape::Square, colour::LINES[1], "(1, 9)"),
        ];
        let mut study_entries = vec![];
        for (alpha, shape, fill, name) in study {
            if let Some(p) = points.iter().min_by(|p, q| {
                (p.alpha.ln() - f64::ln(alpha))
                    .abs()
                    .total_cmp(&(q.alpha.ln() - f64::ln(alpha)).abs())
            }) {
                draw::draw_marker(root, &pbox, (p.alpha, p.stable_lr), marker(shape, fill))?;
                study_entries.push(LegendEntry::new(
                    Swatch::Point(marker(shape, fill)),
                    format!("start {name} at its 2/λmax"),
                ));
            }
        }
        draw::draw_box_outline(root, &pbox)?;

        let mut entries = vec![
            LegendEntry::new(
                Swatch::Line(stable_style),
                "2/λmax at the start (predicted)",
            ),
            LegendEntry::new(Swatch::Line(critical_style), "critical η (bisected)"),
        ];
        entries.extend(gap_note("2/λmax", points.iter().map(|p| p.stable_lr)));
        entries.extend(gap_note("critical η", points.iter().map(|p| p.critical_lr)));
        entries.extend(study_entries);
        draw_steps_key(root, &pbox, &steps, &records, MAX_STEPS, entries)
    })?;
    Ok(vec![png_path, csv_path, curves_path])
}
