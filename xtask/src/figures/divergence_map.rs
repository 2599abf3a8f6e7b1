//! Divergence regions over start points: gradient descent at η = 0.02 from every cell
//! of a grid over (a, b) ∈ [−10.5, 10.5]², coloured by outcome (converged cells shaded by
//! the steps they took), with the predicted boundary 2/λmax(a, b) = η, the orbit
//! a·b = 9 and the study's two starts drawn over it.
//!
//! Numbers: the cells are a symstab-sweep plane sweep (fast toy kernel); λmax on the
//! same grid is symstab-core's dense Hessian spectrum, contoured here at λmax = 2/η.

use std::path::PathBuf;

use plotters::style::RGBColor;
use symstab_core::spectrum::hessian_spectrum;
use symstab_core::toy::ProductChain;
use symstab_sweep::grid::{Axis as SweepAxis, LearningRates, StartSet, SweepSpec};

use super::orbit::{ALPHA_MAX, ALPHA_MIN, PRODUCT};
use super::{Context, FigureResult, StepsScale, draw_steps_key, point_label, toy_sweep_to_csv};
use crate::render::axis::{Axis, Scale};
use crate::render::contour::{GridValues, contour_segments};
use crate::render::draw::{self, CellCentres, LegendEntry, LineStyle, Marker, Shape, Swatch};
use crate::render::{colour, render_png};

/// The learning rate of the map.
pub const LEARNING_RATE: f64 = 0.02;
/// Step budget per cell.
pub const MAX_STEPS: u32 = 1000;
/// Image size in pixels.
pub const SIZE: (u32, u32) = (1260, 900);
/// Side of the square plot box in pixels.
const PLOT_PX: i32 = 770;
const LIMIT: f64 = 10.5;

/// Renders the map and writes its cells as CSV.
pub fn render(ctx: &Context) -> FigureResult<Vec<PathBuf>> {
    let n = if ctx.quick { 81 } else { 421 };
    let axis = SweepAxis::new(-LIMIT, LIMIT, n)?;
    let spec = SweepSpec::new(
        StartSet::Plane { a: axis, b: axis },
        LearningRates::new(vec![LEARNING_RATE])?,
        MAX_STEPS,
    );
    let (records, csv_path) = toy_sweep_to_csv(
        ctx,
        &spec,
        "divergence map sweep",
        &format!("{n}×{n} cells"),
        "divergence_map.csv",
    )?;

    // λmax from the core's dense Hessian at every cell, laid out for contouring
    // (row j = b index, column i = a index; the sweep's start_idx is i·n + j).
    let toy = ProductChain::toy();
    let coords = axis.values();
    let mut lambda_max = vec![f64::NAN; n * n];
    for (start_idx, record) in records.iter().enumerate() {
        let (i, j) = (start_idx / n, start_idx % n);
        lambda_max[j * n + i] = hessian_spectrum(&toy, &[record.start.a, record.start.b])
            .map(|s| s.lambda_max())
            .unwrap_or(f64::NAN);
    }
    let boundary = contour_segments(
        &GridValues {
            xs: &coords,
            ys: &coords,
            values: &lambda_max,
        },
        2.0 / LEARNING_RATE,
    );

    // Densely sampled in log α, so the drawn hyperbola has no visible kinks.
    const ORBIT_SAMPLES: usize = 2000;
    let orbit: Vec<(f64, f64)> = (0..=ORBIT_SAMPLES)
        .map(|k| {
            (ALPHA_MIN / 10.0).ln()
                + k as f64 / ORBIT_SAMPLES as f64 * ((ALPHA_MAX * 10.0) / (ALPHA_MIN / 10.0)).ln()
        })
        .filter_map(|la| ProductChain::orbit_point(PRODUCT, la).ok())
        .map(|p| (p[0], p[1]))
        .collect();

    let steps = StepsScale::for_cells(&records);
    let centres = CellCentres {
        x: coords.clone(),
        y: coords.clone(),
    };
    let png_path = ctx.path("divergence_map.png");
    let boundary_style = LineStyle::solid(colour::BLACK, 3);
    // White dashes over a dark casing: visible on every cell colour, and the legend
    // swatch is drawn the same way.
    let orbit_style = LineStyle::dashed(colour::WHITE, 3);
    let (orbit_casing, orbit_casing_width) = (RGBColor(50, 50, 50), 6);
    let starts = [
        (
            [3.0, 3.0],
            Marker {
                shape: Shape::Circle,
                size: 9,
                fill: colour::LINES[0],
                outline: colour::WHITE,
            },
        ),
        (
            [1.0, 9.0],
            Marker {
                shape: Shape::Square,
                size: 8,
                fill: colour::LINES[1],
                outline: colour::WHITE,
            },
        ),
    ];
    render_png(&png_path, SIZE, |root| {
        root.fill(&colour::WHITE)?;
        draw::draw_title(
            root,
            &format!(
                "Gradient descent from each start (a, b): outcome at η = {LEARNING_RATE}, up to {MAX_STEPS} steps"
            ),
            12,
        )?;
        let x_axis = Axis::new(
            "a (first factor) at the start",
            -LIMIT,
            LIMIT,
            Scale::Linear,
        );
        let y_axis = Axis::new(
            "b (second factor) at the start",
            -LIMIT,
            LIMIT,
            Scale::Linear,
        );
        let rect =
            draw::AxesLayout::for_axes(root, &y_axis).rect_for_plot((0, 56), (PLOT_PX, PLOT_PX));
        let pbox = draw::draw_axes(root, rect, &x_axis, &y_axis)?;
        draw::draw_cells(root, &pbox, &centres, &|i, j| {
            steps.cell_colour(&records[i * n + j])
        })?;
        draw::draw_segments(root, &pbox, &boundary, boundary_style)?;
        draw::draw_line(
            root,
            &pbox,
            &orbit,
            LineStyle::solid(orbit_casing, orbit_casing_width),
        )?;
        draw::draw_line(root, &pbox, &orbit, orbit_style)?;
        for (point, marker) in starts {
            draw::draw_marker(root, &pbox, (point[0], point[1]), marker)?;
        }
        draw::draw_box_outline(root, &pbox)?;

        let mut entries = vec![
            LegendEntry::new(
                Swatch::Line(boundary_style),
                format!("2/λmax(a, b) = η = {LEARNING_RATE}"),
            ),
            LegendEntry::new(
                Swatch::CasedLine(orbit_style, orbit_casing, orbit_casing_width),
                "orbit a·b = 9: (3α, 3/α)",
            ),
        ];
        for (point, marker) in starts {
            entries.push(LegendEntry::new(
                Swatch::Point(marker),
                format!("start {}", point_label(point)),
            ));
        }
        draw_steps_key(root, &pbox, &steps, &records, MAX_STEPS, entries)
    })?;
    Ok(vec![png_path, csv_path])
}

#[cfg(test)]
mod tests {
    use symstab_core::Outcome;
    use symstab_sweep::record::toy_records;
    use symstab_sweep::runner::{RunOptions, run_toy_sweep};

    use super::*;

    fn small_sweep(n: usize) -> (SweepAxis, Vec<symstab_sweep::record::CellRecord>) {
        let axis = SweepAxis::new(-LIMIT, LIMIT, n).unwrap();
        let spec = SweepSpec::new(
            StartSet::Plane { a: axis, b: axis },
            LearningRates::new(vec![LEARNING_RATE]).unwrap(),
            MAX_STEPS,
        );
        let result = run_toy_sweep(
            &spec,
            &RunOptions::default(),
            &symstab_sweep::runner::NoProgress,
        )
        .unwrap();
        (axis, toy_records(&spec, &result.cells))
    }

    #[test]
    fn sweep_and_core_agree_on_lambda_max_and_outcome() {
        let (_, records) = small_sweep(21);
        let toy = ProductChain::toy();
        for r in &records {
            let core = hessian_spectrum(&toy, &[r.start.a, r.start.b])
                .unwrap()
                .lambda_max();
            assert!(
                (core - r.lambda_max_start).abs() <= 1e-12 * core.abs().max(1.0),
                "{core} vs {}",
                r.lambda_max_start
            );
            let run =
                symstab_core::descent::GradientDescent::new(LEARNING_RATE, MAX_STEPS as usize)
                    .unwrap()
                    .run(&toy, &[r.start.a, r.start.b])
                    .unwrap();
            assert_eq!(
                run.outcome, r.outcome,
                "start ({}, {})",
                r.start.a, r.start.b
            );
        }
    }

    #[test]
    fn boundary_contour_lies_where_core_lambda_max_is_two_over_eta() {
        let n = 61;
        let coords = SweepAxis::new(-LIMIT, LIMIT, n).unwrap().values();
        let toy = ProductChain::toy();
        let lambda = |a: f64, b: f64| hessian_spectrum(&toy, &[a, b]).unwrap().lambda_max();
        let values: Vec<f64> = coords
            .iter()
            .flat_map(|&b| coords.iter().map(move |&a| (a, b)))
            .map(|(a, b)| lambda(a, b))
            .collect();
        let segments = contour_segments(
            &GridValues {
                xs: &coords,
                ys: &coords,
                values: &values,
            },
            2.0 / LEARNING_RATE,
        );
        assert!(segments.len() > 40);
        for p in segments.iter().flatten() {
            let l = lambda(p.0, p.1);
            assert!(
                (l / (2.0 / LEARNING_RATE) - 1.0).abs() < 0.02,
                "λmax({}, {}) = {l}",
                p.0,
                p.1
            );
        }
    }

    #[test]
    fn cell_colours_follow_outcomes() {
        let (_, records) = small_sweep(15);
        let steps = StepsScale::for_cells(&records);
        for r in &records {
            let c = steps.cell_colour(r);
            assert_ne!(c, colour::NON_FINITE);
            match r.outcome {
                Outcome::Diverged => assert_eq!(c, colour::DIVERGED),
                Outcome::Unfinished => assert_eq!(c, colour::UNFINISHED),
                Outcome::Converged => assert!(c != colour::DIVERGED && c != colour::UNFINISHED),
            }
        }
        assert_eq!(steps.colour(f64::NAN), colour::NON_FINITE);
    }
}
