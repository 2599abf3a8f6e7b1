//! Teleport when stalled: full-batch gradient descent (clipped at 10) of plain training and
//! of three teleport policies (random balanced rescale, gradient-norm ascent, sharpness
//! descent along the rescale orbit) with the study's stall/revert rule, over several seeds,
//! on teacher-student data and on the diabetes data. Mean loss against step with the
//! seeds' range; every teleport and revert is logged with λmax before and after.
//!
//! Numbers: symstab-core `dynamics::train_with_teleports`.

use std::path::PathBuf;

use serde::Serialize;
use symstab_core::data::{BIAS_STD, RealDataset, load_real, teacher_student};
use symstab_core::dynamics::{
    Optimizer, StallRule, TeleportKind, TeleportPolicy, TeleportRun, TeleportTraining,
    train_with_teleports,
};
use symstab_core::mlp::{Activation, Mlp, MlpProblem};
use symstab_core::outcome::StopRule;

use super::dynamics_plot::{LegendAt, Series, line_colour, panel_with_legend};
use super::{Context, FigureResult};
use crate::render::axis::{Axis, Scale, format_number};
use crate::render::draw::{self, LegendEntry, LineStyle, Swatch};
use crate::render::{colour, render_png, table};

/// Image size in pixels.
pub const SIZE: (u32, u32) = (1200, 1200);
/// Gradient clip norm (the study's).
pub const CLIP: f64 = 10.0;

/// The compared policies; `None` is plain gradient descent.
pub fn policies() -> [Option<TeleportPolicy>; 4] {
    [
        None,
        Some(TeleportPolicy::RandomBalanced { factor: 2.0 }),
        Some(TeleportPolicy::MaxGradientNorm {
            steps: 5,
            step_size: 0.2,
            max_log_scale: 1.0,
        }),
        Some(TeleportPolicy::MinSharpness {
            steps: 5,
            step_size: 0.2,
            max_log_scale: 1.0,
        }),
    ]
}

fn policy_name(p: &Option<TeleportPolicy>) -> &'static str {
    p.as_ref().map_or("plain GD", TeleportPolicy::name)
}

struct Setup {
    name: &'static str,
    problem: MlpProblem,
    starts: Vec<Vec<f64>>,
    learning_rate: f64,
    steps: usize,
}

#[derive(Serialize)]
struct LossRow {
    dataset: &'static str,
    policy: &'static str,
    seed: usize,
    step: usize,
    loss: f64,
}

#[derive(Serialize)]
struct EventRow {
    dataset: &'static str,
    policy: &'static str,
    seed: usize,
    step: usize,
    kind: &'static str,
    loss_before: f64,
    loss_after: f64,
    lambda_max_before: f64,
    lambda_max_after: f64,
    gradient_norm_before: f64,
    gradient_norm_after: f64,
    output_change: f64,
}

#[derive(Serialize)]
struct SummaryRow {
    dataset: &'static str,
    policy: &'static str,
    learning_rate: f64,
    steps: usize,
    seeds: usize,
    final_loss_mean: f64,
    final_loss_min: f64,
    final_loss_max: f64,
    teleports: usize,
    reverts: usize,
    diverged_runs: usize,
}

fn setups(quick: bool) -> FigureResult<Vec<Setup>> {
    let seeds = if quick { 2 } else { 5 };
    let (ts_widths, ts_n, ts_steps): (&[usize], usize, usize) = if quick {
        (&[5, 6, 6, 1], 100, 250)
    } else {
        (&[5, 10, 10, 10, 10, 1], 1000, 3000)
    };
    let ts = teacher_student(ts_widths, Activation::Relu, ts_n, 0)?;
    let net = ts.problem.network().clone();
    let ts_starts = (0..seeds)
        .map(|s| net.init_he(100 + s as u64, BIAS_STD))
        .collect::<Result<Vec<_>, _>>()?;
    let data = load_real(RealDataset::Diabetes)?;
    let dnet = Mlp::uniform(
        if quick { &[10, 6, 1] } else { &[10, 16, 16, 1] },
        Activation::Relu,
    )?;
    let d_starts = (0..seeds)
        .map(|s| dnet.init_he(200 + s as u64, BIAS_STD))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(vec![
        Setup {
            name: "teacher-student",
            problem: ts.problem,
            starts: ts_starts,
            learning_rate: 0.1,
            steps: ts_steps,
        },
        Setup {
            name: "diabetes",
            problem: MlpProblem::new(dnet, data)?,
            starts: d_starts,
            learning_rate: 0.05,
            steps: if quick { 250 } else { 3000 },
        },
    ])
}

/// Trains every (dataset, policy, seed), writes the CSVs, renders.
pub fn render(ctx: &Context) -> FigureResult<Vec<PathBuf>> {
    let setups = setups(ctx.quick)?;
    let mut loss_rows = vec![];
    let mut event_rows = vec![];
    let mut summary = vec![];
    let mut results: Vec<Vec<Vec<TeleportRun>>> = vec![];
    for setup in &setups {
        let mut per_policy = vec![];
        for policy in policies() {
            let name = policy_name(&policy);
            let settings = TeleportTraining {
                optimizer: Optimizer::new(setup.learning_rate)?.with_clip_norm(CLIP)?,
                max_steps: setup.steps,
                stall: StallRule::default(),
                policy,
                stop: StopRule::default(),
                seed: 7,
                measure_sharpness: true,
            };
            let runs: Vec<TeleportRun> = setup
                .starts
                .iter()
                .map(|s| train_with_teleports(&setup.problem, s, &settings))
                .collect::<Result<_, _>>()?;
            for (seed, run) in runs.iter().enumerate() {
                for (t, l) in run.losses.iter().enumerate() {
                    loss_rows.push(LossRow {
                        dataset: setup.name,
                        policy: name,
                        seed,
                        step: t,
                        loss: *l,
                    });
                }
                for e in &run.events {
                    event_rows.push(EventRow {
                        dataset: setup.name,
                        policy: name,
                        seed,
                        step: e.step,
                        kind: match e.kind {
                            TeleportKind::Teleport => "teleport",
                            TeleportKind::Revert => "revert",
                        },
                        loss_before: e.loss_before,
                        loss_after: e.loss_after,
                        lambda_max_before: e.lambda_max_before,
                        lambda_max_after: e.lambda_max_after,
                        gradient_norm_before: e.gradient_norm_before,
                        gradient_norm_after: e.gradient_norm_after,
                        output_change: e.output_change,
                    });
                }
            }
            let finals: Vec<f64> = runs
                .iter()
                .map(|r| r.losses.last().copied().unwrap_or(f64::NAN))
                .collect();
            let count = |k: TeleportKind| {
                runs.iter()
                    .map(|r| r.events.iter().filter(|e| e.kind == k).count())
                    .sum::<usize>()
            };
            let row = SummaryRow {
                dataset: setup.name,
                policy: name,
                learning_rate: setup.learning_rate,
                steps: setup.steps,
                seeds: runs.len(),
                final_loss_mean: finals.iter().sum::<f64>() / finals.len() as f64,
                final_loss_min: finals.iter().copied().fold(f64::INFINITY, f64::min),
                final_loss_max: finals.iter().copied().fold(f64::NEG_INFINITY, f64::max),
                teleports: count(TeleportKind::Teleport),
                reverts: count(TeleportKind::Revert),
                diverged_runs: runs
                    .iter()
                    .filter(|r| r.outcome == symstab_core::Outcome::Diverged)
                    .count(),
            };
            eprintln!(
                "  {} / {}: final loss {:.5} (range {:.5}–{:.5}), {} teleports, {} reverts",
                row.dataset,
                row.policy,
                row.final_loss_mean,
                row.final_loss_min,
                row.final_loss_max,
                row.teleports,
                row.reverts
            );
            summary.push(row);
            per_policy.push(runs);
        }
        results.push(per_policy);
    }
    let loss_csv = ctx.path("dynamics_teleport_loss.csv");
    table::write_csv(&loss_csv, &loss_rows)?;
    let events_csv = ctx.path("dynamics_teleport_events.csv");
    table::write_csv(&events_csv, &event_rows)?;
    let summary_csv = ctx.path("dynamics_teleport_summary.csv");
    table::write_csv(&summary_csv, &summary)?;

    let png = ctx.path("dynamics_teleport.png");
    render_png(&png, SIZE, |root| {
        root.fill(&colour::WHITE)?;
        draw::draw_title(
            root,
            "Teleport when stalled: mean loss over seeds (thick; thin lines: best and worst seed)",
            12,
        )?;
        let (w, h) = (SIZE.0 as i32, SIZE.1 as i32);
        let split = 56 + (h - 56) / 2;
        let rects = [(0, 56, w - 10, split - 6), (0, split + 6, w - 10, h - 4)];
        for ((setup, per_policy), rect) in setups.iter().zip(&results).zip(rects) {
            let x = Axis::new("step", 0.0, setup.steps as f64, Scale::Linear);
            let all = per_policy
                .iter()
                .flatten()
                .flat_map(|r| r.losses.iter().copied())
                .filter(|l| l.is_finite() && *l > 0.0);
            let (lo, hi) = all.fold((f64::INFINITY, 0.0_f64), |(a, b), l| (a.min(l), b.max(l)));
            let y = Axis::new(
                &format!(
                    "loss, {} (η = {})",
                    setup.name,
                    format_number(setup.learning_rate)
                ),
                lo * 0.8,
                hi.min(20.0 * per_policy[0][0].losses[0]) * 1.25,
                Scale::Log,
            );
            let mut series = vec![];
            // Plain GD (k = 0) last, so it is drawn on top of the teleport policies; it is
            // black and dashed to stay visible where a policy follows it exactly.
            let order = (1..per_policy.len()).chain(std::iter::once(0));
            for k in order {
                let runs = &per_policy[k];
                let len = runs.iter().map(|r| r.losses.len()).min().unwrap_or(0);
                let stat = |f: &dyn Fn(&[f64]) -> f64| -> Vec<(f64, f64)> {
                    (0..len)
                        .map(|t| {
                            let v: Vec<f64> = runs.iter().map(|r| r.losses[t]).collect();
                            (t as f64, f(&v))
                        })
                        .collect()
                };
                let row = summary
                    .iter()
                    .find(|s| s.dataset == setup.name && s.policy == policy_name(&policies()[k]))
                    .expect("summary row");
                let (mean_style, seed_style) = if k == 0 {
                    (
                        LineStyle::dashed(colour::BLACK, 3),
                        LineStyle::dashed(colour::BLACK, 1),
                    )
                } else {
                    (
                        LineStyle::solid(line_colour(k), 4),
                        LineStyle::solid(line_colour(k), 1),
                    )
                };
                series.push(Series::unlabelled(
                    stat(&|v| v.iter().copied().fold(f64::INFINITY, f64::min)),
                    seed_style,
                ));
                series.push(Series::unlabelled(
                    stat(&|v| v.iter().copied().fold(f64::NEG_INFINITY, f64::max)),
                    seed_style,
                ));
                series.push(Series::new(
                    stat(&|v| v.iter().sum::<f64>() / v.len() as f64),
                    mean_style,
                    format!(
                        "{}: final {:.4} ({:.4}–{:.4}), teleports {}, reverts {}",
                        row.policy,
                        row.final_loss_mean,
                        row.final_loss_min,
                        row.final_loss_max,
                        row.teleports,
                        row.reverts
                    ),
                ));
            }
            let extra = vec![LegendEntry::new(
                Swatch::Blank,
                format!(
                    "{} seeds; clip 10; stall: 50-step means within 0.5% (every 100), revert: +10% in 20",
                    setup.starts.len()
                ),
            )];
            panel_with_legend(
                root,
                rect,
                &x,
                &y,
                &series,
                &[],
                extra,
                LegendAt::AboveRight,
            )?;
        }
        Ok(())
    })?;
    Ok(vec![png, loss_csv, events_csv, summary_csv])
}
