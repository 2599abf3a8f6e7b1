//! The Hessian's spectral density at two equivalent points of the trained teacher-student
//! network, α = 1 (the trained point) and α = 10 (hidden layer 1 × 10, layer 2 weights ÷ 10),
//! by stochastic Lanczos quadrature, on a log density axis, with the dense λmax and λmin
//! marked. Same function, same loss; the bulk and the outliers move.
//!
//! Numbers: symstab-core's `matrix_free::spectral_density` on the Hessian-vector products,
//! and `orbit::point_spectrum` (dense) for the marked extremes.

use std::path::PathBuf;

use serde::Serialize;
use symstab_core::matrix_free::{DensityOptions, HessianOperator, spectral_density};
use symstab_core::orbit::{OrbitPath, SpectrumOptions, point_spectrum};

use super::network_common::cases;
use super::{Context, FigureResult};
use crate::render::axis::{Axis, Scale, format_number, pad_range};
use crate::render::draw::{self, LegendEntry, LegendPlace, LineStyle, Swatch};
use crate::render::{colour, render_png, table};

/// Image size in pixels.
pub const SIZE: (u32, u32) = (1200, 1000);
/// The two orbit positions compared.
const ALPHAS: [f64; 2] = [1.0, 10.0];
/// The path.
const PATH: OrbitPath = OrbitPath::Rescale { layer: 1 };
/// Points of the density curve.
const GRID: usize = 1200;

/// A density value as a CSV row.
#[derive(Debug, Serialize)]
struct DensityRow {
    alpha: f64,
    eigenvalue: f64,
    density: f64,
}

/// A quadrature node as a CSV row.
#[derive(Debug, Serialize)]
struct NodeRow {
    alpha: f64,
    node: f64,
    weight: f64,
    broadening: f64,
    lambda_max_dense: f64,
    lambda_min_dense: f64,
}

/// Computes both densities, writes them and renders the two panels.
pub fn render(ctx: &Context) -> FigureResult<Vec<PathBuf>> {
    let case = &cases(ctx.quick)?[0];
    let options = DensityOptions {
        n_probes: if ctx.quick { 2 } else { 10 },
        n_steps: if ctx.quick { 20 } else { 90 },
        ..DensityOptions::default()
    };
    let mut panels = Vec::new();
    let mut density_rows = Vec::new();
    let mut node_rows = Vec::new();
    for alpha in ALPHAS {
        let point = PATH.apply(case.problem.network(), &case.trained, alpha)?;
        let op = HessianOperator::new(&case.problem, &point)?;
        let density = spectral_density(&op, &options)?;
        let extremes = point_spectrum(&case.problem, &point, &SpectrumOptions::default())?;
        let (xs, ys) = density.on_grid(GRID);
        eprintln!(
            "  α = {alpha}: λmax {:.4e}, λmin {:.4e}, SLQ nodes {:.4e} … {:.4e}, σ = {:.3e}, {} products",
            extremes.lambda_max,
            extremes.lambda_min,
            density.nodes[0],
            density.nodes[density.nodes.len() - 1],
            density.broadening,
            density.n_applications
        );
        for (&x, &y) in xs.iter().zip(&ys) {
            density_rows.push(DensityRow {
                alpha,
                eigenvalue: x,
                density: y,
            });
        }
        for (&node, &weight) in density.nodes.iter().zip(&density.weights) {
            node_rows.push(NodeRow {
                alpha,
                node,
                weight,
                broadening: density.broadening,
                lambda_max_dense: extremes.lambda_max,
                lambda_min_dense: extremes.lambda_min,
            });
        }
        panels.push((alpha, xs, ys, density.broadening, extremes));
    }
    let csv_path = ctx.path("network_density.csv");
    table::write_csv(&csv_path, density_rows.iter())?;
    let nodes_path = ctx.path("network_density_nodes.csv");
    table::write_csv(&nodes_path, node_rows.iter())?;

    let png_path = ctx.path("network_density.png");
    render_png(&png_path, SIZE, |root| {
        root.fill(&colour::WHITE)?;
        draw::draw_title(
            root,
            &format!(
                "Spectral density at two equivalent points of the trained {}",
                case.label
            ),
            12,
        )?;
        let top = 56;
        let panel_h = (SIZE.1 as i32 - top) / 2;
        let peak = panels
            .iter()
            .flat_map(|p| p.2.iter().copied())
            .fold(0.0, f64::max);
        for (k, (alpha, xs, ys, sigma, extremes)) in panels.iter().enumerate() {
            let y0 = top + k as i32 * panel_h;
            let (x_lo, x_hi) = pad_range(
                (
                    xs[0].min(extremes.lambda_min),
                    xs[xs.len() - 1].max(extremes.lambda_max),
                ),
                0.03,
                Scale::Linear,
            );
            let x_axis = Axis::new("Hessian eigenvalue λ", x_lo, x_hi, Scale::Linear);
            let y_axis = Axis::new(
                "density (SLQ, broadened)",
                peak * 1e-7,
                peak * 30.0,
                Scale::Log,
            );
            let pbox = draw::draw_axes(
                root,
                (0, y0, SIZE.0 as i32 - 10, y0 + panel_h - 8),
                &x_axis,
                &y_axis,
            )?;
            let curve_style = LineStyle::solid(colour::LINES[k], 3);
            // Draw only where the density is above the axis floor, as separate pieces.
            let floor = y_axis.min;
            let mut piece: Vec<(f64, f64)> = Vec::new();
            for (&x, &y) in xs.iter().zip(ys) {
                if y > floor {
                    piece.push((x, y));
                } else if !piece.is_empty() {
                    draw::draw_line(root, &pbox, &piece, curve_style)?;
                    piece.clear();
                }
            }
            if !piece.is_empty() {
                draw::draw_line(root, &pbox, &piece, curve_style)?;
            }
            let max_style = LineStyle::dashed(colour::BLACK, 2);
            let min_style = LineStyle::dashed(colour::UNFINISHED, 2);
            for (value, style) in [
                (extremes.lambda_max, max_style),
                (extremes.lambda_min, min_style),
            ] {
                draw::draw_line(
                    root,
                    &pbox,
                    &[(value, y_axis.min), (value, y_axis.max)],
                    style,
                )?;
            }
            draw::draw_box_outline(root, &pbox)?;
            let entries = vec![
                LegendEntry::new(
                    Swatch::Line(curve_style),
                    format!(
                        "α = {}: density, Gaussian σ = {}",
                        format_number(*alpha),
                        format_number(*sigma)
                    ),
                ),
                LegendEntry::new(
                    Swatch::Line(max_style),
                    format!(
                        "λmax = {} (dense), 2/λmax = {}",
                        format_number(extremes.lambda_max),
                        format_number(extremes.stable_lr.as_f64())
                    ),
                ),
                LegendEntry::new(
                    Swatch::Line(min_style),
                    format!("λmin = {} (dense)", format_number(extremes.lambda_min)),
                ),
                LegendEntry::new(
                    Swatch::Blank,
                    format!("trace = {} (exact)", format_number(extremes.trace)),
                ),
            ];
            // The corner that covers no curve and no marked eigenvalue.
            let curve: Vec<(f64, f64)> = xs
                .iter()
                .zip(ys)
                .map(|(&x, &y)| (x, if y >= y_axis.min { y } else { f64::NAN }))
                .collect();
            let vertical = |v: f64| [(v, y_axis.min), (v, y_axis.max)];
            let (max_line, min_line) =
                (vertical(extremes.lambda_max), vertical(extremes.lambda_min));
            draw::draw_legend_clear(
                root,
                &pbox,
                &entries,
                &[
                    LegendPlace::TopRight,
                    LegendPlace::TopCentre,
                    LegendPlace::TopLeft,
                ],
                (12, 10),
                &[&curve, &max_line, &min_line],
            )?;
        }
        Ok(())
    })?;
    Ok(vec![png_path, csv_path, nodes_path])
}
