//! `cargo xtask figures`: the list of figures, the options, and what they share (outcome
//! colours, cell legends). Each figure lives in its own module and returns the files it
//! wrote; the numbers come from symstab-core and symstab-sweep.

mod divergence_map;
mod dynamics_catapult;
mod dynamics_conservation;
mod dynamics_one_step;
mod dynamics_plot;
mod dynamics_sharpness;
mod dynamics_teleport;
mod network_common;
mod network_density;
mod network_lr_map;
mod network_orbit_spectrum;
mod orbit;
mod orbit_lr_map;
mod orbit_spectrum;
mod study_animation;

use std::error::Error;
use std::path::{Path, PathBuf};
use std::time::Instant;

use plotters::style::RGBColor;
use symstab_core::Outcome;
use symstab_sweep::record::CellRecord;

use crate::render::axis::PlotBox;
use crate::render::axis::{Axis, Scale};
use crate::render::colour;
use crate::render::draw::{self, Area, DrawResult, LegendEntry, Swatch};

/// Result of a figure routine.
pub type FigureResult<T = ()> = Result<T, Box<dyn Error>>;

/// Settings shared by every figure.
#[derive(Debug, Clone)]
pub struct Context {
    /// Output folder.
    pub out: PathBuf,
    /// Coarse grids for tests.
    pub quick: bool,
}

impl Context {
    /// Path of an output file.
    pub fn path(&self, file_name: &str) -> PathBuf {
        self.out.join(file_name)
    }
}

/// One figure: its name for `--only`, a one-line description, and its renderer.
struct Figure {
    name: &'static str,
    about: &'static str,
    render: fn(&Context) -> FigureResult<Vec<PathBuf>>,
}

const FIGURES: &[Figure] = &[
    Figure {
        name: "animations",
        about: "the study's three gradient-descent animations over the loss contours (GIF + final-frame PNG)",
        render: study_animation::render,
    },
    Figure {
        name: "divergence-map",
        about: "outcome and steps to converge over start points (a, b) at η = 0.02, with 2/λmax = η",
        render: divergence_map::render,
    },
    Figure {
        name: "orbit-lr-map",
        about: "outcome over learning rate × position on the orbit a·b = 9, with 2/λmax and the critical rate",
        render: orbit_lr_map::render,
    },
    Figure {
        name: "orbit-spectrum",
        about: "λmax, 2/λmax and the critical learning rate along the orbit a·b = 9",
        render: orbit_spectrum::render,
    },
    Figure {
        name: "dynamics-one-step",
        about: "loss after one gradient step vs η for a teacher-student network and its per-layer rescaled twin, 2/λmax marked",
        render: dynamics_one_step::render,
    },
    Figure {
        name: "dynamics-teleport",
        about: "teleport when stalled: plain GD vs three teleport policies over seeds, teacher-student and diabetes",
        render: dynamics_teleport::render,
    },
    Figure {
        name: "dynamics-sharpness",
        about: "λmax during full-batch GD at several η with the 2/η lines, and the loss curves",
        render: dynamics_sharpness::render,
    },
    Figure {
        name: "dynamics-conservation",
        about: "neuron balances along GD, the exact one-step identity, and their drift against η",
        render: dynamics_conservation::render,
    },
    Figure {
        name: "dynamics-catapult",
        about: "toy catapult: loss vs step from (1, 9) around 2/λ0, and the critical rate along a·b = 9 in units of 2/λ0",
        render: dynamics_catapult::render,
    },
    Figure {
        name: "network-orbit-spectrum",
        about: "λmax and 2/λmax along rescale orbits of a teacher-student and a wine-quality ReLU network, at start and trained",
        render: network_orbit_spectrum::render,
    },
    Figure {
        name: "network-lr-map",
        about: "outcome over learning rate × rescale α for the trained teacher-student network, with 2/λmax(α) and the critical rate",
        render: network_lr_map::render,
    },
    Figure {
        name: "network-density",
        about: "Hessian spectral density (SLQ) at α = 1 and α = 10 on a rescale orbit of the trained teacher-student network",
        render: network_density::render,
    },
];

/// Options of `cargo xtask figures`.
#[derive(Debug, Clone)]
pub struct Options {
    only: Vec<String>,
    quick: bool,
    out: PathBuf,
    list: bool,
}

impl Options {
    /// Parses the arguments after `figures`.
    pub fn parse(args: &[String]) -> FigureResult<Options> {
        let mut options = Options {
            only: vec![],
            quick: false,
            out: default_out_dir(),
            list: false,
        };
        let mut out_given = false;
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--quick" => options.quick = true,
                "--list" => options.list = true,
                "--only" => {
                    let name = args
                        .next()
                        .ok_or("--only needs a figure name (see --list)")?;
                    if !FIGURES.iter().any(|f| f.name == name) {
                        return Err(format!("--only {name:?}: no such figure (see --list)").into());
                    }
                    options.only.push(name.clone());
                }
                "--out" => {
                    options.out = PathBuf::from(args.next().ok_or("--out needs a directory")?);
                    out_given = true;
                }
                other => return Err(format!("figures: unknown argument {other:?}").into()),
            }
        }
        if options.quick && !out_given && !options.list {
            return Err(
                "--quick needs an explicit --out DIR (quick figures must not \
                 overwrite the committed full-size figures in figures/)"
                    .into(),
            );
        }
        Ok(options)
    }
}

/// The repository's `figures/` folder.
fn default_out_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("figures")
}

/// Renders the selected figures.
pub fn run(options: &Options) -> FigureResult {
    if options.list {
        let width = FIGURES.iter().map(|f| f.name.len()).max().unwrap_or(0);
        for figure in FIGURES {
            println!("{:<width$}  {}", figure.name, figure.about);
        }
        return Ok(());
    }
    if options.out.exists() && !options.out.is_dir() {
        return Err(format!("--out {}: not a directory", options.out.display()).into());
    }
    std::fs::create_dir_all(&options.out).map_err(|e| {
        format!(
            "--out {}: cannot create the directory: {e}",
            options.out.display()
        )
    })?;
    let context = Context {
        out: options.out.clone(),
        quick: options.quick,
    };
    let started = Instant::now();
    for figure in FIGURES
        .iter()
        .filter(|f| options.only.is_empty() || options.only.iter().any(|o| o == f.name))
    {
        let t0 = Instant::now();
        eprintln!("{}: {}", figure.name, figure.about);
        let files = (figure.render)(&context).map_err(|e| format!("{}: {e}", figure.name))?;
        let names: Vec<String> = files
            .iter()
            .map(|p| {
                p.file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default()
            })
            .collect();
        eprintln!(
            "  wrote {} in {:.2} s",
            names.join(", "),
            t0.elapsed().as_secs_f64()
        );
    }
    eprintln!(
        "figures written to {} in {:.2} s",
        options.out.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Colour scale of "steps to converge" (log axis, from 1 to the largest count).
pub struct StepsScale {
    /// The colour-bar axis.
    pub axis: Axis,
}

impl StepsScale {
    /// A scale covering the converged cells' step counts.
    pub fn for_cells(records: &[CellRecord]) -> StepsScale {
        let max = records
            .iter()
            .filter(|r| r.outcome == Outcome::Converged)
            .map(|r| r.steps)
            .max()
            .unwrap_or(1)
            .max(10);
        let axis = Axis::new("steps to converge", 1.0, max as f64, Scale::Log);
        StepsScale { axis }
    }

    /// Colour of a step count (counts below 1 get the colour of 1, a non-finite count
    /// the non-finite colour).
    pub fn colour(&self, steps: f64) -> RGBColor {
        if !steps.is_finite() {
            return colour::NON_FINITE;
        }
        let (lo, hi) = self.axis.unit_range();
        match self.axis.to_units(steps.max(1.0)) {
            Some(u) => colour::sequential((u - lo) / (hi - lo)),
            None => colour::NON_FINITE,
        }
    }

    /// Colour of a cell: steps shade when converged, fixed colours otherwise.
    pub fn cell_colour(&self, record: &CellRecord) -> RGBColor {
        match record.outcome {
            Outcome::Converged => self.colour(record.steps as f64),
            Outcome::Diverged => colour::DIVERGED,
            Outcome::Unfinished => colour::UNFINISHED,
        }
    }
}

/// Runs a toy sweep with a progress bar named `label`, finishes the bar with `shape`
/// (what the grid is, e.g. "421×421 cells") and the outcome counts, and writes the
/// records to `csv_name` in the output folder. Returns the records and the CSV's path.
pub fn toy_sweep_to_csv(
    ctx: &Context,
    spec: &symstab_sweep::grid::SweepSpec,
    label: &str,
    shape: &str,
    csv_name: &str,
) -> FigureResult<(Vec<CellRecord>, PathBuf)> {
    let progress = crate::progress::SweepProgress::new(label, spec.len());
    let result = symstab_sweep::runner::run_toy_sweep(
        spec,
        &symstab_sweep::runner::RunOptions::default(),
        &progress,
    )?;
    if !result.complete {
        return Err(format!("{label}: the sweep did not complete").into());
    }
    let records = symstab_sweep::record::toy_records(spec, &result.cells);
    let [converged, diverged, unfinished] = outcome_counts(&records);
    progress.finish(&format!(
        "{shape}: {converged} converged, {diverged} diverged, {unfinished} unfinished"
    ));
    let csv_path = ctx.path(csv_name);
    write_records(&csv_path, &records)?;
    Ok((records, csv_path))
}

/// Counts of converged, diverged and unfinished cells.
pub fn outcome_counts(records: &[CellRecord]) -> [usize; 3] {
    let mut counts = [0; 3];
    for r in records {
        counts[match r.outcome {
            Outcome::Converged => 0,
            Outcome::Diverged => 1,
            Outcome::Unfinished => 2,
        }] += 1;
    }
    counts
}

/// Legend rows for the fixed-colour cell categories that occur.
pub fn category_legend(records: &[CellRecord], max_steps: u32) -> Vec<LegendEntry> {
    let [_, diverged, unfinished] = outcome_counts(records);
    let mut entries = vec![LegendEntry::new(
        Swatch::Patch(colour::DIVERGED),
        format!("diverged ({diverged} cells)"),
    )];
    if unfinished > 0 {
        entries.push(LegendEntry::new(
            Swatch::Patch(colour::UNFINISHED),
            format!("unfinished after {max_steps} steps ({unfinished})"),
        ));
    }
    entries
}

/// Draws the key right of a steps-coloured cell map: the colour bar at the top and below
/// it the legend, the cell rows (converged shade, then the fixed-colour categories that
/// occur) followed by `entries`.
pub fn draw_steps_key(
    root: &Area<'_>,
    pbox: &PlotBox,
    steps: &StepsScale,
    records: &[CellRecord],
    max_steps: u32,
    entries: Vec<LegendEntry>,
) -> DrawResult {
    let (_, top, right, bottom) = pbox.bounds();
    let bar_bottom = (top + 0.48 * (bottom - top)) as i32;
    let bar_left = right as i32 + 40;
    draw::draw_colour_bar(
        root,
        (bar_left, top as i32 + 8, bar_left + 28, bar_bottom),
        &steps.axis,
        &|v| steps.colour(v),
    )?;
    let mut rows = vec![LegendEntry::new(
        Swatch::Blank,
        "converged: shade = steps (bar)",
    )];
    rows.extend(category_legend(records, max_steps));
    rows.extend(entries);
    draw::draw_legend(root, (right as i32 + 30, bar_bottom + 40), &rows)?;
    Ok(())
}

/// A legend note when a curve has points without a value (drawn as gaps), else `None`.
pub fn gap_note(curve: &str, values: impl IntoIterator<Item = f64>) -> Option<LegendEntry> {
    let missing = values.into_iter().filter(|v| !v.is_finite()).count();
    (missing > 0).then(|| {
        LegendEntry::new(
            Swatch::Blank,
            format!("{curve}: no value at {missing} points (gaps)"),
        )
    })
}

/// Writes sweep records as tidy CSV with symstab-sweep's own writer (atomically).
pub fn write_records(path: &Path, records: &[CellRecord]) -> FigureResult {
    let mut out = crate::render::OutputFile::create(path)?;
    symstab_sweep::record::write_csv(&mut out, records)?;
    out.persist()?;
    Ok(())
}

/// A point written as "(a, b)" with the shortest decimals.
pub fn point_label(p: [f64; 2]) -> String {
    use crate::render::axis::format_number;
    format!("({}, {})", format_number(p[0]), format_number(p[1]))
}
