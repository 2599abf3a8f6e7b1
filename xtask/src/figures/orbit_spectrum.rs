//! λmax and the step bound 2/λmax along the orbit a·b = 9, (3α, 3/α) for α from 0.1 to 10
//! (log axes), beside the bisected critical learning rate: two panels sharing the α axis.
//! The study's starts (3, 3) (α = 1) and (1, 9) (α = 1/3) and its learning rates are
//! marked.
//!
//! Numbers: [`super::orbit`] (symstab-core dense spectrum and critical-rate bisection).

use std::path::PathBuf;

use plotters::style::text_anchor::{HPos, VPos};

use super::orbit::{ALPHA_MAX, ALPHA_MIN, OrbitPoint, curve_points, orbit_point};
use super::study_animation::LEARNING_RATES;
use super::{Context, FigureResult, gap_note};
use crate::render::axis::{Axis, PlotBox, Scale, data_range, format_number, pad_range};
use crate::render::draw::{
    self, Area, DrawResult, LegendEntry, LegendPlace, LineStyle, Marker, Shape, Swatch,
};
use crate::render::{colour, render_png, table};

/// Image size in pixels.
pub const SIZE: (u32, u32) = (1100, 1080);
const LR_MIN: f64 = 5e-4;
const LR_MAX: f64 = 0.2;

/// Renders the two panels and writes the curves as CSV.
pub fn render(ctx: &Context) -> FigureResult<Vec<PathBuf>> {
    let points = curve_points(ctx.quick)?;
    let csv_path = ctx.path("orbit_spectrum.csv");
    table::write_csv(&csv_path, points.iter())?;
    let study = [
        (orbit_point(0.0)?, Shape::Circle, colour::LINES[0]),
        (
            orbit_point((1.0f64 / 3.0).ln())?,
            Shape::Square,
            colour::LINES[1],
        ),
    ];
    for (p, _, _) in &study {
        eprintln!(
            "  start ({:.3}, {:.3}): λmax = {:.6}, 2/λmax = {:.6}, critical η = {:.9} ({:.3} × 2/λmax)",
            p.a, p.b, p.lambda_max, p.stable_lr, p.critical_lr, p.critical_over_stable
        );
    }
    let study_csv = ctx.path("orbit_spectrum_starts.csv");
    table::write_csv(&study_csv, study.iter().map(|(p, _, _)| p))?;

    let png_path = ctx.path("orbit_spectrum.png");
    render_png(&png_path, SIZE, |root| {
        root.fill(&colour::WHITE)?;
        draw::draw_title(
            root,
            "Sharpness and stable step along the orbit a·b = 9, (a, b) = (3α, 3/α)",
            12,
        )?;
        let x_axis = Axis::new("orbit position α", ALPHA_MIN, ALPHA_MAX, Scale::Log);
        let split = 56 + (SIZE.1 as i32 - 56) / 2;
        top_panel(
            root,
            (0, 56, SIZE.0 as i32 - 10, split - 6),
            &x_axis,
            points,
            &study,
        )?;
        bottom_panel(
            root,
            (0, split + 6, SIZE.0 as i32 - 10, SIZE.1 as i32 - 4),
            &x_axis,
            points,
            &study,
        )?;
        Ok(())
    })?;
    Ok(vec![png_path, csv_path, study_csv])
}

fn study_marker(shape: Shape, fill: plotters::style::RGBColor) -> Marker {
    Marker {
        shape,
        size: 8,
        fill,
        outline: colour::BLACK,
    }
}

/// Draws a level line across the panel at `level(η)` for each of the study's learning
/// rates η.
fn draw_rate_levels(
    root: &Area<'_>,
    pbox: &PlotBox,
    level: fn(f64) -> f64,
    style: LineStyle,
) -> DrawResult {
    for lr in LEARNING_RATES {
        draw::draw_line(
            root,
            pbox,
            &[(ALPHA_MIN, level(lr)), (ALPHA_MAX, level(lr))],
            style,
        )?;
    }
    Ok(())
}

/// Marks each study start at α and each of the values `at` picks, and adds one legend row
/// per start: "start (a, b): " and `describe`'s text.
fn mark_starts(
    root: &Area<'_>,
    pbox: &PlotBox,
    study: &[(OrbitPoint, Shape, plotters::style::RGBColor)],
    at: &[fn(&OrbitPoint) -> f64],
    entries: &mut Vec<LegendEntry>,
    describe: impl Fn(&OrbitPoint) -> String,
) -> DrawResult {
    for (p, shape, fill) in study {
        let marker = study_marker(*shape, *fill);
        for value in at {
            draw::draw_marker(root, pbox, (p.alpha, value(p)), marker)?;
        }
        entries.push(LegendEntry::new(
            Swatch::Point(marker),
            format!(
                "start ({}, {}): {}",
                format_number(p.a),
                format_number(p.b),
                describe(p)
            ),
        ));
    }
    Ok(())
}

fn top_panel(
    root: &Area<'_>,
    rect: (i32, i32, i32, i32),
    x_axis: &Axis,
    points: &[OrbitPoint],
    study: &[(OrbitPoint, Shape, plotters::style::RGBColor)],
) -> DrawResult {
    let range = data_range(points.iter().map(|p| p.lambda_max), Scale::Log).unwrap_or((1.0, 10.0));
    let (lo, hi) = pad_range(
        (range.0.min(2.0 / LEARNING_RATES[2]), range.1),
        0.04,
        Scale::Log,
    );
    let y_axis = Axis::new("λmax: largest Hessian eigenvalue", lo, hi, Scale::Log);
    let pbox = draw::draw_axes(root, rect, x_axis, &y_axis)?;
    let curve: Vec<(f64, f64)> = points.iter().map(|p| (p.alpha, p.lambda_max)).collect();
    let curve_style = LineStyle::solid(colour::LINES[0], 3);
    let level_style = LineStyle::dashed(colour::UNFINISHED, 2);
    draw_rate_levels(root, &pbox, |lr| 2.0 / lr, level_style)?;
    // Each 2/η line is labelled just above it at α = 1, where λmax(α) is lowest and far
    // below all three lines.
    for lr in LEARNING_RATES {
        if let Some((px, py)) = pbox.to_pixel(1.0, 2.0 / lr) {
            draw::draw_text(
                root,
                &format!(
                    "2/η = {} (η = {})",
                    format_number(2.0 / lr),
                    format_number(lr)
                ),
                (px.round() as i32, py.round() as i32 - 3),
                16.0,
                HPos::Center,
                VPos::Bottom,
            )?;
        }
    }
    draw::draw_line(root, &pbox, &curve, curve_style)?;
    let mut entries = vec![LegendEntry::new(
        Swatch::Line(curve_style),
        "λmax(α) of the dense Hessian",
    )];
    entries.extend(gap_note("λmax", points.iter().map(|p| p.lambda_max)));
    entries.extend([LegendEntry::new(
        Swatch::Line(level_style),
        format!(
            "2/η for the study's η = {}",
            LEARNING_RATES.map(format_number).join(", ")
        ),
    )]);
    mark_starts(root, &pbox, study, &[|p| p.lambda_max], &mut entries, |p| {
        format!("λmax = {:.1}", p.lambda_max)
    })?;
    draw::draw_box_outline(root, &pbox)?;
    draw::draw_legend_inside(root, &pbox, &entries, LegendPlace::TopCentre, (0, 12))?;
    Ok(())
}

fn bottom_panel(
    root: &Area<'_>,
    rect: (i32, i32, i32, i32),
    x_axis: &Axis,
    points: &[OrbitPoint],
    study: &[(OrbitPoint, Shape, plotters::style::RGBColor)],
) -> DrawResult {
    let y_axis = Axis::new("learning rate η", LR_MIN, LR_MAX, Scale::Log);
    let pbox = draw::draw_axes(root, rect, x_axis, &y_axis)?;
    let stable_style = LineStyle::solid(colour::LINES[0], 3);
    let critical_style = LineStyle::dashed(colour::LINES[1], 3);
    let study_style = LineStyle::dashed(colour::UNFINISHED, 2);
    draw_rate_levels(root, &pbox, |lr| lr, study_style)?;
    let stable: Vec<(f64, f64)> = points.iter().map(|p| (p.alpha, p.stable_lr)).collect();
    let critical: Vec<(f64, f64)> = points.iter().map(|p| (p.alpha, p.critical_lr)).collect();
    draw::draw_line(root, &pbox, &stable, stable_style)?;
    draw::draw_line(root, &pbox, &critical, critical_style)?;
    let mut entries = vec![
        LegendEntry::new(
            Swatch::Line(stable_style),
            "2/λmax(α): predicted stable step",
        ),
        LegendEntry::new(
            Swatch::Line(critical_style),
            "critical η(α): smallest diverging rate (bisected)",
        ),
        LegendEntry::new(
            Swatch::Line(study_style),
            format!(
                "the study's η = {}",
                LEARNING_RATES.map(format_number).join(", ")
            ),
        ),
    ];
    entries.extend(gap_note("2/λmax", points.iter().map(|p| p.stable_lr)));
    entries.extend(gap_note("critical η", points.iter().map(|p| p.critical_lr)));
    mark_starts(
        root,
        &pbox,
        study,
        &[|p| p.stable_lr, |p| p.critical_lr],
        &mut entries,
        |p| {
            format!(
                "2/λmax = {:.4}, critical η = {:.4}",
                p.stable_lr, p.critical_lr
            )
        },
    )?;
    draw::draw_box_outline(root, &pbox)?;
    draw::draw_legend_inside(root, &pbox, &entries, LegendPlace::BottomCentre, (0, 12))?;
    Ok(())
}
