//! The study's animations: gradient descent on L(a, b) = (a·b − 2)² from (3, 3) and
//! (1, 9) at learning rates 0.01, 0.02 and 0.025, 50 steps, drawn over log-spaced loss
//! contours; one GIF frame per step (plus the start), and a PNG of the final frame.
//!
//! Numbers: the loss on the grid is `ProductChain::toy().loss`, the paths are
//! `GradientDescent::run` trajectories (symstab-core). A run that diverges is drawn up to
//! its last finite point and the legend says at which step it diverged.

use std::path::PathBuf;

use plotters::style::RGBColor;
use serde::Serialize;
use symstab_core::descent::{GradientDescent, Run};
use symstab_core::toy::ProductChain;
use symstab_core::{Model, Outcome};

use super::{Context, FigureResult, point_label};
use crate::render::animation::GifWriter;
use crate::render::axis::{Axis, PlotBox, Scale};
use crate::render::contour::{GridValues, Segment, contour_segments, log_levels};
use crate::render::draw::{
    self, AxesLayout, LegendEntry, LineStyle, Marker, Shape, Swatch, draw_axes, draw_colour_bar,
};
use crate::render::{colour, paint_buffer, save_png, table};

/// The study's learning rates.
pub const LEARNING_RATES: [f64; 3] = [0.01, 0.02, 0.025];
/// The two equivalent starts (both compute f(x) = 9x).
pub const STARTS: [[f64; 2]; 2] = [[3.0, 3.0], [1.0, 9.0]];
/// Gradient-descent steps per run (one frame each, after the start frame).
pub const STEPS: usize = 50;
/// Display time of a frame.
pub const FRAME_MS: u32 = 60;
/// Both axes span [−10.5, 10.5].
const LIMIT: f64 = 10.5;
/// Image size in pixels.
pub const SIZE: (u32, u32) = (990, 910);
/// Side of the square plot box in pixels.
const PLOT_PX: i32 = 740;
/// Top of the axes (below the title and the legend row).
const AXES_TOP: i32 = 96;
/// Contour levels: 16 log-spaced values from 1e−1 to 1e4 (three per decade).
const LEVELS: (f64, f64, usize) = (1e-1, 1e4, 16);
/// Contour lines use viridis up to here (its brightest yellow is unreadable on white).
const COLOUR_TOP: f64 = 0.88;

/// File stem of the animation at a learning rate, for example `study_lr_0.025`.
pub fn file_stem(learning_rate: f64) -> String {
    format!("study_lr_{learning_rate}")
}

#[derive(Serialize)]
struct GridRow {
    a: f64,
    b: f64,
    loss: f64,
}

#[derive(Serialize)]
struct PathRow {
    learning_rate: f64,
    start_a: f64,
    start_b: f64,
    step: usize,
    a: f64,
    b: f64,
    loss: f64,
    run_outcome: Outcome,
    run_steps: usize,
}

/// Renders the three animations, their final frames and their data.
pub fn render(ctx: &Context) -> FigureResult<Vec<PathBuf>> {
    let toy = ProductChain::toy();
    let n_grid = if ctx.quick { 101 } else { 500 };
    let coords = symstab_sweep::grid::Axis::new(-LIMIT, LIMIT, n_grid)?.values();
    // values[j * n + i] = L(a_i, b_j): rows of constant b.
    let losses: Vec<f64> = coords
        .iter()
        .flat_map(|&b| coords.iter().map(move |&a| (a, b)))
        .map(|(a, b)| toy.loss(&[a, b]))
        .collect();
    let mut written = vec![];
    let grid_path = ctx.path("study_loss_grid.csv");
    let rows = coords
        .iter()
        .flat_map(|&b| coords.iter().map(move |&a| (a, b)))
        .zip(&losses);
    table::write_csv(
        &grid_path,
        rows.map(|((a, b), &loss)| GridRow { a, b, loss }),
    )?;
    written.push(grid_path);

    let grid = GridValues {
        xs: &coords,
        ys: &coords,
        values: &losses,
    };
    let levels = log_levels(LEVELS.0, LEVELS.1, LEVELS.2);
    let contours: Vec<(f64, Vec<Segment>)> = levels
        .iter()
        .map(|&l| (l, contour_segments(&grid, l)))
        .collect();

    for learning_rate in LEARNING_RATES {
        let descent = GradientDescent::new(learning_rate, STEPS)?;
        let runs: Vec<Run> = STARTS
            .iter()
            .map(|s| descent.run(&toy, s))
            .collect::<Result<_, _>>()?;
        let stem = file_stem(learning_rate);
        let csv_path = ctx.path(&format!("{stem}.csv"));
        table::write_csv(&csv_path, path_rows(learning_rate, &runs))?;
        for (start, run) in STARTS.iter().zip(&runs) {
            eprintln!(
                "  η = {learning_rate}, start {}: {} after {} steps at ({:.4}, {:.4}), loss {:.3e}",
                point_label(*start),
                run.outcome,
                run.steps,
                run.final_point[0],
                run.final_point[1],
                run.final_loss
            );
        }
        let (gif_path, png_path) = animate(ctx, learning_rate, &contours, &runs, &stem)?;
        written.extend([gif_path, png_path, csv_path]);
    }
    Ok(written)
}

fn path_rows(learning_rate: f64, runs: &[Run]) -> Vec<PathRow> {
    let mut rows = vec![];
    for (start, run) in STARTS.iter().zip(runs) {
        for (step, (point, &loss)) in run.trajectory.iter().zip(&run.losses).enumerate() {
            rows.push(PathRow {
                learning_rate,
                start_a: start[0],
                start_b: start[1],
                step,
                a: point[0],
                b: point[1],
                loss,
                run_outcome: run.outcome,
                run_steps: run.steps,
            });
        }
    }
    rows
}

fn path_style(k: usize) -> (LineStyle, Marker) {
    let colour = colour::LINES[k];
    let shape = if k == 0 { Shape::Circle } else { Shape::Square };
    (
        LineStyle::solid(colour, 3),
        Marker {
            shape,
            size: 7,
            fill: colour,
            outline: colour::BLACK,
        },
    )
}

/// Points of a run shown at frame `frame`: the start and up to `frame` steps, stopping
/// before the first point with a non-finite coordinate.
fn visible_path(run: &Run, frame: usize) -> Vec<(f64, f64)> {
    run.trajectory
        .iter()
        .take(frame.min(run.steps) + 1)
        .take_while(|p| p.iter().all(|v| v.is_finite()))
        .map(|p| (p[0], p[1]))
        .collect()
}

/// Legend text of a run at frame `frame`: its start, and how it ended once it has (a run
/// still going at the last frame shows its loss there).
fn run_label(start: [f64; 2], run: &Run, frame: usize) -> String {
    let start = format!("start {}", point_label(start));
    if frame < run.steps {
        return start;
    }
    match run.outcome {
        Outcome::Converged => format!("{start}: converged at step {}", run.steps),
        Outcome::Diverged => format!("{start}: diverged at step {}", run.steps),
        Outcome::Unfinished => format!(
            "{start}: loss {} at step {}",
            format_number_short(run.final_loss),
            run.steps
        ),
    }
}

/// Two significant digits, for a loss in a legend.
fn format_number_short(value: f64) -> String {
    if value.is_finite() && value != 0.0 {
        let exponent = value.abs().log10().floor() as i32;
        let rounded = (value / 10f64.powi(exponent - 1)).round() * 10f64.powi(exponent - 1);
        crate::render::axis::format_number(rounded)
    } else {
        format!("{value}")
    }
}

fn contour_colour(level: f64, axis: &Axis) -> RGBColor {
    let (lo, hi) = axis.unit_range();
    match axis.to_units(level) {
        Some(u) => colour::sequential(COLOUR_TOP * (u - lo) / (hi - lo)),
        None => colour::NON_FINITE,
    }
}

fn animate(
    ctx: &Context,
    learning_rate: f64,
    contours: &[(f64, Vec<Segment>)],
    runs: &[Run],
    stem: &str,
) -> FigureResult<(PathBuf, PathBuf)> {
    let (width, height) = SIZE;
    let ticks: Vec<f64> = (-5..=5).map(|k| 2.0 * k as f64).collect();
    let grid: Vec<f64> = (-10..=10).map(f64::from).collect();
    let x_axis = Axis::new("a (first factor)", -LIMIT, LIMIT, Scale::Linear)
        .with_ticks(ticks.clone())
        .with_grid(grid.clone());
    let y_axis = Axis::new("b (second factor)", -LIMIT, LIMIT, Scale::Linear)
        .with_ticks(ticks)
        .with_grid(grid);
    let bar_axis = Axis::new(
        "contour level: loss L(a, b) = (a·b − 2)²",
        LEVELS.0,
        LEVELS.1,
        Scale::Log,
    );

    // The static background: title, axes with a grid line at every integer, contours, bar.
    let mut background = vec![255u8; width as usize * height as usize * 3];
    let mut plot_box: Option<PlotBox> = None;
    paint_buffer(&mut background, SIZE, |root| {
        draw::draw_title(root, &format!("Learning Rate = {learning_rate}"), 10)?;
        let rect =
            AxesLayout::for_axes(root, &y_axis).rect_for_plot((0, AXES_TOP), (PLOT_PX, PLOT_PX));
        let pbox = draw_axes(root, rect, &x_axis, &y_axis)?;
        for (level, segments) in contours {
            draw::draw_segments(
                root,
                &pbox,
                segments,
                LineStyle::solid(contour_colour(*level, &bar_axis), 1),
            )?;
        }
        draw::draw_box_outline(root, &pbox)?;
        let (_, top, right, bottom) = pbox.bounds();
        let bar_left = right as i32 + 34;
        let bar = (bar_left, top as i32 + 20, bar_left + 26, bottom as i32 - 20);
        draw_colour_bar(root, bar, &bar_axis, &|v| contour_colour(v, &bar_axis))?;
        plot_box = Some(pbox);
        Ok(())
    })?;
    let pbox = plot_box.ok_or("axes were not drawn")?;

    let gif_path = ctx.path(&format!("{stem}.gif"));
    let png_path = ctx.path(&format!("{stem}.png"));
    let mut gif = GifWriter::create(&gif_path, width, height, FRAME_MS)?;
    let mut frame_buffer = background.clone();
    for frame in 0..=STEPS {
        frame_buffer.copy_from_slice(&background);
        paint_buffer(&mut frame_buffer, SIZE, |root| {
            let mut entries = vec![];
            for (k, (start, run)) in STARTS.iter().zip(runs).enumerate() {
                let (line, marker) = path_style(k);
                let points = visible_path(run, frame);
                draw::draw_line(root, &pbox, &points, line)?;
                if let Some(&current) = points.last() {
                    draw::draw_marker(root, &pbox, current, marker)?;
                }
                entries.push(LegendEntry::new(
                    Swatch::LineAndPoint(line, marker),
                    run_label(*start, run, frame),
                ));
            }
            entries.push(LegendEntry::new(
                Swatch::Blank,
                format!("step {frame} of {STEPS}"),
            ));
            let (left, _, _, _) = pbox.bounds();
            draw::draw_legend_row(root, (left as i32, 44), &entries)?;
            Ok(())
        })?;
        gif.push(&frame_buffer)?;
    }
    gif.finish()?;
    save_png(&png_path, &frame_buffer, width, height)?;
    Ok((gif_path, png_path))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn study_run(learning_rate: f64, start: [f64; 2]) -> Run {
        GradientDescent::new(learning_rate, STEPS)
            .unwrap()
            .run(&ProductChain::toy(), &start)
            .unwrap()
    }

    #[test]
    fn diverging_study_run_is_labelled_when_it_diverges() {
        let run = study_run(0.025, [1.0, 9.0]);
        assert_eq!(run.outcome, Outcome::Diverged);
        assert!(
            run.steps <= 12,
            "the study's run blows up within about ten steps"
        );
        assert_eq!(run_label([1.0, 9.0], &run, 0), "start (1, 9)");
        assert_eq!(run_label([1.0, 9.0], &run, run.steps - 1), "start (1, 9)");
        let label = format!("start (1, 9): diverged at step {}", run.steps);
        assert_eq!(run_label([1.0, 9.0], &run, run.steps), label);
        assert_eq!(run_label([1.0, 9.0], &run, STEPS), label);
        // The path grows one point a frame and freezes after the divergence.
        assert_eq!(visible_path(&run, 2).len(), 3);
        assert_eq!(
            visible_path(&run, STEPS).len(),
            visible_path(&run, run.steps).len()
        );
    }

    #[test]
    fn converging_study_run_ends_near_the_mission_point() {
        let run = study_run(0.01, [1.0, 9.0]);
        assert_eq!(run.outcome, Outcome::Converged);
        let end = *visible_path(&run, STEPS).last().unwrap();
        assert!(
            (end.0 - 0.227).abs() < 1e-3 && (end.1 - 8.811).abs() < 1e-3,
            "{end:?}"
        );
        assert!(run_label([1.0, 9.0], &run, STEPS).contains("converged at step"));
    }

    #[test]
    fn paths_stop_before_the_first_non_finite_point() {
        let mut run = study_run(0.025, [1.0, 9.0]);
        run.trajectory[3] = vec![f64::NAN, 1.0];
        run.trajectory[4] = vec![1.0, 1.0];
        assert_eq!(visible_path(&run, STEPS).len(), 3);
        run.trajectory[1] = vec![f64::INFINITY, 0.0];
        assert_eq!(visible_path(&run, STEPS), vec![(1.0, 9.0)]);
    }

    #[test]
    fn short_numbers_keep_two_digits() {
        assert_eq!(format_number_short(4.809e-4), "4.8e\u{2212}4");
        assert_eq!(format_number_short(0.0), "0");
        assert_eq!(format_number_short(f64::NAN), "NaN");
    }
}
