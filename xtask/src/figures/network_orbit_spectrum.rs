//! λmax(α) and 2/λmax(α) along two rescale paths of two networks (teacher-student and wine
//! quality), at the He start and after training, on log axes, with the flattest point of
//! each path (golden-section search) marked. Every point of a curve computes the same
//! function; the loss deviation along each scan is checked and written to the summary.
//!
//! Numbers: symstab-core's `orbit` module (dense spectra, path search, per-neuron descent).

use std::path::PathBuf;

use serde::Serialize;
use symstab_core::orbit::{
    NeuronScaleOptions, OrbitScan, SearchOptions, SpectrumOptions, log_spaced,
    minimize_neuron_scales, path_minimum, scan_orbit,
};
use symstab_core::spectrum::stable_learning_rate;

use super::network_common::{ALPHA_MAX, ALPHA_MIN, Case, POINTS, cases, path_label, paths};
use super::{Context, FigureResult};
use crate::render::axis::{Axis, Scale, data_range, format_number, pad_range};
use crate::render::draw::{
    self, Area, DrawResult, LegendEntry, LegendPlace, LineStyle, Marker, Shape, Swatch,
};
use crate::render::{colour, render_png, table};

/// Image size in pixels.
pub const SIZE: (u32, u32) = (1560, 1240);

/// One scanned point, as a CSV row.
#[derive(Debug, Serialize)]
struct Row<'a> {
    dataset: &'a str,
    point: &'a str,
    path: String,
    alpha: f64,
    loss: f64,
    loss_relative_deviation: f64,
    lambda_max: f64,
    lambda_min: f64,
    stable_lr: f64,
    trace: f64,
    gauss_newton_max: f64,
    gradient_norm: f64,
    log_lambda_max_slope: f64,
    balance_min: f64,
    balance_max: f64,
    route: String,
}

/// One path (or the per-neuron descent) of one network at one point, as a CSV row.
#[derive(Debug, Serialize)]
pub struct Summary {
    /// Dataset name.
    pub dataset: String,
    /// "start" or "trained".
    pub point: String,
    /// Path, or "per-neuron" for the descent over all hidden neurons' scales.
    pub path: String,
    /// Loss at the point.
    pub loss: f64,
    /// λmax at α = 1 (the point itself).
    pub lambda_max_at_identity: f64,
    /// Smallest scanned λmax (per-neuron: the start's λmax).
    pub scan_min: f64,
    /// Largest scanned λmax.
    pub scan_max: f64,
    /// scan_max / scan_min.
    pub scan_ratio: f64,
    /// Position of the flattest point found by the search.
    pub flattest_alpha: f64,
    /// λmax there.
    pub flattest_lambda_max: f64,
    /// 2/λmax there.
    pub flattest_stable_lr: f64,
    /// λmax evaluations of the search.
    pub evaluations: usize,
    /// Largest relative loss deviation (scan) or the output deviation (per-neuron).
    pub max_deviation: f64,
    /// Spectrum route.
    pub route: String,
}

/// Scans, searches and renders; returns the files written.
pub fn render(ctx: &Context) -> FigureResult<Vec<PathBuf>> {
    let cases = cases(ctx.quick)?;
    let training_path = super::network_common::write_training(ctx)?;
    let alphas = log_spaced(ALPHA_MIN, ALPHA_MAX, if ctx.quick { 9 } else { 41 })?;
    let options = SpectrumOptions::default();
    let search = SearchOptions {
        tolerance: 1e-3,
        ..SearchOptions::default()
    };
    let mut rows = Vec::new();
    let mut summaries = Vec::new();
    let mut scans: Vec<Vec<(OrbitScan, f64, f64)>> = Vec::new();
    let mut descents: Vec<Vec<(f64, f64)>> = Vec::new();
    for case in cases {
        let mut case_scans = Vec::new();
        let mut case_descents = Vec::new();
        for point in POINTS {
            let params = case.point(point);
            for path in paths() {
                let scan = scan_orbit(&case.problem, params, path, &alphas, &options)?;
                let min = path_minimum(&case.problem, params, &scan, &search)?;
                let (lo, hi, ratio) = scan.lambda_max_spread();
                let at_one = scan.records[alphas.len() / 2].lambda_max;
                eprintln!(
                    "  {} {point} {path}: λmax {:.4e} … {:.4e} (× {:.1}), at α = 1 {:.4e}, flattest α = {:.4} λmax = {:.4e}, loss deviation ≤ {:.1e}",
                    case.name,
                    lo,
                    hi,
                    ratio,
                    at_one,
                    min.alpha,
                    min.lambda_max,
                    scan.max_relative_loss_deviation
                );
                for r in &scan.records {
                    rows.push(Row {
                        dataset: case.name,
                        point,
                        path: path.to_string(),
                        alpha: r.alpha,
                        loss: r.loss,
                        loss_relative_deviation: r.loss_relative_deviation,
                        lambda_max: r.lambda_max,
                        lambda_min: r.lambda_min,
                        stable_lr: r.stable_lr.as_f64(),
                        trace: r.trace,
                        gauss_newton_max: r.gauss_newton_max,
                        gradient_norm: r.gradient_norm,
                        log_lambda_max_slope: r.log_lambda_max_slope,
                        balance_min: r.balances.iter().copied().fold(f64::INFINITY, f64::min),
                        balance_max: r.balances.iter().copied().fold(f64::NEG_INFINITY, f64::max),
                        route: format!("{:?}", r.route).to_lowercase(),
                    });
                }
                summaries.push(Summary {
                    dataset: case.name.into(),
                    point: point.into(),
                    path: path.to_string(),
                    loss: scan.reference_loss,
                    lambda_max_at_identity: at_one,
                    scan_min: lo,
                    scan_max: hi,
                    scan_ratio: ratio,
                    flattest_alpha: min.alpha,
                    flattest_lambda_max: min.lambda_max,
                    flattest_stable_lr: min.stable_lr.as_f64(),
                    evaluations: min.evaluations,
                    max_deviation: scan
                        .max_relative_loss_deviation
                        .max(min.loss_relative_deviation),
                    route: format!("{:?}", scan.route).to_lowercase(),
                });
                case_scans.push((scan, min.alpha, min.lambda_max));
            }
            let descent = per_neuron(ctx, case, point)?;
            case_descents.push((descent.lambda_max_at_identity, descent.flattest_lambda_max));
            summaries.push(descent);
        }
        scans.push(case_scans);
        descents.push(case_descents);
    }
    let csv_path = ctx.path("network_orbit_spectrum.csv");
    table::write_csv(&csv_path, rows.iter())?;
    let summary_path = ctx.path("network_orbit_summary.csv");
    table::write_csv(&summary_path, summaries.iter())?;

    let png_path = ctx.path("network_orbit_spectrum.png");
    render_png(&png_path, SIZE, |root| {
        root.fill(&colour::WHITE)?;
        draw::draw_title(
            root,
            "Sharpness along rescale orbits of two ReLU networks (same function at every α)",
            12,
        )?;
        let x_axis = Axis::new("orbit position α", ALPHA_MIN, ALPHA_MAX, Scale::Log);
        let (w, h) = (SIZE.0 as i32, SIZE.1 as i32);
        let top = 56;
        let row_h = (h - top) / 2;
        for (k, case) in cases.iter().enumerate() {
            let y0 = top + k as i32 * row_h;
            let y1 = y0 + row_h - 8;
            let data = (&scans[k][..], &descents[k][..]);
            panel(root, (0, y0, w / 2 - 6, y1), &x_axis, case, data, false)?;
            panel(root, (w / 2 + 6, y0, w - 8, y1), &x_axis, case, data, true)?;
        }
        Ok(())
    })?;
    Ok(vec![png_path, csv_path, summary_path, training_path])
}

/// The per-neuron descent at one point, as a summary row.
fn per_neuron(ctx: &Context, case: &Case, point: &str) -> FigureResult<Summary> {
    let options = NeuronScaleOptions {
        max_iterations: if ctx.quick { 2 } else { 8 },
        ..NeuronScaleOptions::default()
    };
    let params = case.point(point);
    let result = minimize_neuron_scales(&case.problem, params, &options)?;
    eprintln!(
        "  {} {point} per-neuron descent: λmax {:.4e} → {:.4e} in {} steps ({} evaluations), output deviation {:.1e}",
        case.name,
        result.lambda_max_start,
        result.lambda_max,
        result.history.len() - 1,
        result.evaluations,
        result.max_output_deviation
    );
    Ok(Summary {
        dataset: case.name.into(),
        point: point.into(),
        path: "per-neuron".into(),
        loss: symstab_core::Model::loss(&case.problem, params),
        lambda_max_at_identity: result.lambda_max_start,
        scan_min: result.history.iter().copied().fold(f64::INFINITY, f64::min),
        scan_max: result.lambda_max_start,
        scan_ratio: result.lambda_max_start / result.lambda_max,
        flattest_alpha: f64::NAN,
        flattest_lambda_max: result.lambda_max,
        flattest_stable_lr: result.stable_lr.as_f64(),
        evaluations: result.evaluations,
        max_deviation: result.max_output_deviation,
        route: format!("{:?}", SpectrumOptions::default().route_for(params.len())).to_lowercase(),
    })
}

/// The scans of one network (each with its flattest α and λmax) and its per-neuron descents
/// (λmax before, after), point by point.
type PanelData<'a> = (&'a [(OrbitScan, f64, f64)], &'a [(f64, f64)]);

fn point_colour(point: &str) -> plotters::style::RGBColor {
    if point == "start" {
        colour::LINES[0]
    } else {
        colour::LINES[1]
    }
}

fn panel(
    root: &Area<'_>,
    rect: (i32, i32, i32, i32),
    x_axis: &Axis,
    case: &Case,
    (scans, descents): PanelData<'_>,
    stable: bool,
) -> DrawResult {
    let stable_lr = |lambda: f64| stable_learning_rate(lambda).as_f64();
    let value = |lambda: f64| if stable { stable_lr(lambda) } else { lambda };
    let range = data_range(
        scans
            .iter()
            .flat_map(|(s, _, _)| s.records.iter().map(move |r| value(r.lambda_max))),
        Scale::Log,
    )
    .unwrap_or((1.0, 10.0));
    // Headroom for the legend: above the λmax valleys, below the 2/λmax peaks.
    let (lo, hi) = pad_range(range, 0.08, Scale::Log);
    let span = (hi / lo).log10();
    let (lo, hi) = if stable {
        (lo / 10f64.powf(0.9 * span), hi)
    } else {
        (lo, hi * 10f64.powf(0.9 * span))
    };
    let label = if stable {
        "2/λmax: predicted stable learning rate"
    } else {
        "λmax: largest Hessian eigenvalue"
    };
    let y_axis = Axis::new(label, lo, hi, Scale::Log);
    let pbox = draw::draw_axes(root, rect, x_axis, &y_axis)?;
    let mut entries = vec![LegendEntry::new(Swatch::Blank, case.label.clone())];
    for (k, (scan, alpha, lambda)) in scans.iter().enumerate() {
        let point = POINTS[k / paths().len()];
        let path = scan.path;
        let colour = point_colour(point);
        let style = if k % 2 == 0 {
            LineStyle::solid(colour, 3)
        } else {
            LineStyle::dashed(colour, 3)
        };
        let curve: Vec<(f64, f64)> = scan
            .records
            .iter()
            .map(|r| (r.alpha, value(r.lambda_max)))
            .collect();
        draw::draw_line(root, &pbox, &curve, style)?;
        let marker = Marker {
            shape: if k % 2 == 0 {
                Shape::Circle
            } else {
                Shape::Square
            },
            size: 8,
            fill: colour,
            outline: colour::BLACK,
        };
        draw::draw_marker(root, &pbox, (*alpha, value(*lambda)), marker)?;
        let (min, max, ratio) = scan.lambda_max_spread();
        let text = if stable {
            format!(
                "{point}, {}: best 2/λmax = {} at α = {}",
                path_label(path),
                format_number(stable_lr(*lambda)),
                format_number(*alpha)
            )
        } else {
            format!(
                "{point}, {}: λmax {} … {} (× {})",
                path_label(path),
                format_number(min),
                format_number(max),
                format_number(ratio)
            )
        };
        entries.push(LegendEntry::new(Swatch::Line(style), text));
    }
    entries.push(LegendEntry::new(
        Swatch::Point(Marker {
            shape: Shape::Circle,
            size: 8,
            fill: colour::WHITE,
            outline: colour::BLACK,
        }),
        "flattest point of each path (golden-section search; ■ balanced)",
    ));
    for (point, (before, after)) in POINTS.iter().zip(descents) {
        let text = if stable {
            format!(
                "{point}, per-neuron scales (descent): 2/λmax {} → {}",
                format_number(stable_lr(*before)),
                format_number(stable_lr(*after))
            )
        } else {
            format!(
                "{point}, per-neuron scales (descent): λmax {} → {}",
                format_number(*before),
                format_number(*after)
            )
        };
        entries.push(LegendEntry::new(Swatch::Blank, text));
    }
    draw::draw_box_outline(root, &pbox)?;
    let place = if stable {
        LegendPlace::BottomCentre
    } else {
        LegendPlace::TopCentre
    };
    draw::draw_legend_inside(root, &pbox, &entries, place, (0, 10))?;
    Ok(())
}
