//! The command-line grammar (clap derive): commands, their arguments and their help.
//!
//! Values are parsed and validated here by the functions of [`crate::parse`], so that a bad
//! value is a clap usage error naming the argument and the value. Checks that involve
//! several arguments (a point of the wrong dimension for the model) happen in the commands
//! and raise [`crate::messages::ArgError`]; both exit with code 2.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use symstab_core::orbit::OrbitPath;

use crate::messages::{GLOSSARY, top_help};
use crate::parse::{self, LogRange, Range};

/// Study how weight-space symmetries change gradient descent: Hessian spectra, the stable
/// step 2/λmax, training runs, critical learning rates, sweeps and network orbit scans.
#[derive(Debug, Parser)]
#[command(name = "symstab", version, after_help = top_help(), propagate_version = true)]
pub struct Cli {
    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands of `symstab`.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Hessian spectrum at a point: eigenvalues, λmax, λmin, 2/λmax, trace, negative count.
    ///
    /// With --json, null means "not computed by this method", and the `notes` array says
    /// why: lambda_min and negative_count are null for power iteration (it finds one
    /// eigenvalue, the largest in magnitude; lambda_max and stable_lr are null instead when
    /// that eigenvalue is negative); negative_count is null for Lanczos unless it resolved
    /// every eigenvalue; hvp_count is null for dense (it forms the matrix).
    #[command(after_help = GLOSSARY)]
    Hessian(HessianArgs),
    /// Full-batch gradient descent from a start point; reports the outcome and conserved quantities.
    #[command(after_help = GLOSSARY)]
    Train(TrainArgs),
    /// Critical learning rate of a start point by bracketing and bisection, beside 2/λmax.
    ///
    /// With --json, critical_lr, ratio and lower may be null (no divergence found up to the
    /// maximum learning rate, unbounded 2/λmax, or no non-diverging rate); the `reason` key
    /// then says which and why.
    #[command(name = "critical-lr", after_help = GLOSSARY)]
    CriticalLr(CriticalArgs),
    /// Toy sweep of learning rates × start points (a plane over (a, b) or the orbit a·b = c).
    #[command(after_help = GLOSSARY)]
    Sweep(SweepArgs),
    /// Merge the output directories of sweep shards into one.
    #[command(after_help = GLOSSARY)]
    Merge(MergeArgs),
    /// Apply a random symmetry (group element) and compare outputs and losses before and after.
    #[command(name = "check-symmetry", after_help = GLOSSARY)]
    CheckSymmetry(CheckSymmetryArgs),
    /// Network orbit scan: loss (fixed), λmax, λmin, 2/λmax, trace along a rescale path g(α)·θ.
    #[command(after_help = GLOSSARY)]
    Orbit(OrbitArgs),
}

/// Which model family to build.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ModelKind {
    /// The product chain f(x) = w1·…·wn·x (default n = 2: the toy a·b·x with sample (1, 2)).
    Toy,
    /// A multilayer perceptron (see --widths, --activation, --data, --model-file).
    Mlp,
}

/// How to compute the Hessian spectrum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Method {
    /// Dense up to 3000 parameters, Lanczos above.
    Auto,
    /// Form the full P×P Hessian and decompose it (exact, all eigenvalues).
    Dense,
    /// Lanczos on Hessian-vector products: the --top K largest and K smallest eigenvalues.
    Lanczos,
    /// Power iteration: the eigenvalue of largest magnitude only (may be λmin when it is negative).
    Power,
}

/// How `symstab orbit` computes the spectrum at each point.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OrbitMethod {
    /// Dense up to 3000 parameters, Lanczos above.
    Auto,
    /// Form the full P×P Hessian and decompose it (exact λmax, λmin and trace).
    Dense,
    /// Lanczos on Hessian-vector products for λmax and λmin; Hutchinson estimate of the trace.
    Lanczos,
}

/// A comma-separated list of numbers (a point in parameter space).
#[derive(Debug, Clone, PartialEq)]
pub struct Point(pub Vec<f64>);

/// Network widths d0,…,dL.
#[derive(Debug, Clone, PartialEq)]
pub struct Widths(pub Vec<usize>);

/// A list of learning rates.
#[derive(Debug, Clone, PartialEq)]
pub struct Rates(pub Vec<f64>);

fn orbit_path(s: &str) -> Result<OrbitPath, String> {
    s.parse::<OrbitPath>()
        .map_err(|e| crate::problem::core_reason(&e))
}

fn point(s: &str) -> Result<Point, String> {
    parse::point(s).map(Point)
}

fn widths(s: &str) -> Result<Widths, String> {
    parse::widths(s).map(Widths)
}

fn rates(s: &str) -> Result<Rates, String> {
    parse::learning_rates(s).map(Rates)
}

/// The model and its data, shared by the commands that work on one model.
#[derive(Debug, Clone, Args)]
pub struct ModelArgs {
    /// Model family: toy (product chain) or mlp (network); --model-file implies mlp and
    /// cannot be combined with --model.
    #[arg(long, value_enum, default_value_t = ModelKind::Toy, conflicts_with = "model_file")]
    pub model: ModelKind,
    /// Toy: number of factors n of f(x) = w1·…·wn·x (default 2, the toy a·b·x).
    #[arg(long, value_parser = parse::count)]
    pub factors: Option<usize>,
    /// Toy: samples x:y,x:y,… (default 1:2); mlp: number of samples to generate (default 1000).
    #[arg(long, allow_hyphen_values = true)]
    pub samples: Option<String>,
    /// Mlp: layer widths d0,d1,…,dL (input, hidden…, output), e.g. 5,10,10,10,10,1.
    #[arg(long, value_parser = widths)]
    pub widths: Option<Widths>,
    /// Mlp: hidden activation relu, leaky_relu, leaky_relu(SLOPE), tanh or identity (default relu).
    #[arg(long)]
    pub activation: Option<String>,
    /// Mlp: dataset teacher (Gaussian inputs, targets of a seeded teacher net), or the shipped
    /// winequality (6 classes), winequality-regression, iris (3 classes), diabetes (regression).
    #[arg(long)]
    pub data: Option<String>,
    /// Seed of generated data, initial parameters and random group elements.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Mlp: JSON problem file (widths, activation, params, x, y) instead of --widths/--data.
    #[arg(long, value_name = "FILE")]
    pub model_file: Option<PathBuf>,
}

/// Arguments of `symstab hessian`.
#[derive(Debug, Clone, Args)]
pub struct HessianArgs {
    /// Model and data.
    #[command(flatten)]
    pub model: ModelArgs,
    /// Toy: the point (w1,…,wn), e.g. 1,9 for (a, b) = (1, 9).
    #[arg(long, value_parser = point, allow_hyphen_values = true)]
    pub point: Option<Point>,
    /// Spectrum method: auto, dense, lanczos or power.
    #[arg(long, value_enum, default_value_t = Method::Auto)]
    pub method: Method,
    /// Number K of largest and of smallest eigenvalues to report (dense default: all; lanczos default: 5).
    #[arg(long, value_parser = parse::count)]
    pub top: Option<usize>,
    /// Relative tolerance of lanczos and power, 0 < T < 1 (‖Hv − λv‖ ≤ T·‖H‖; default 1e-8).
    #[arg(long, value_parser = parse::relative_tolerance, allow_hyphen_values = true)]
    pub tol: Option<f64>,
    /// Lanczos: what --tol bounds, the residual of each pair (vectors too) or its eigenvalue error bound (values only, fewer products).
    #[arg(long, value_enum, default_value_t = Criterion::Residual)]
    pub criterion: Criterion,
    /// Print one JSON object instead of a summary.
    #[arg(long)]
    pub json: bool,
}

/// What the Lanczos tolerance bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Criterion {
    /// ‖Hv − λv‖ ≤ T·‖H‖ for every reported pair.
    Residual,
    /// The eigenvalue error bound min(‖r‖, ‖r‖²/gap) ≤ T·‖H‖ for every reported value.
    Eigenvalue,
}

/// Arguments of `symstab train`.
#[derive(Debug, Clone, Args)]
pub struct TrainArgs {
    /// Model and data.
    #[command(flatten)]
    pub model: ModelArgs,
    /// Toy: the start point (w1,…,wn), e.g. 1,9.
    #[arg(long, value_parser = point, allow_hyphen_values = true)]
    pub start: Option<Point>,
    /// Learning rate η > 0.
    #[arg(long, value_parser = parse::positive, allow_hyphen_values = true)]
    pub lr: f64,
    /// Step budget: the run is unfinished after this many updates.
    #[arg(long, value_parser = parse::steps, allow_hyphen_values = true, default_value = "1000")]
    pub steps: usize,
    /// Heavy-ball momentum β in [0, 1) (default 0: plain gradient descent).
    #[arg(long, value_parser = parse::momentum, allow_hyphen_values = true)]
    pub momentum: Option<f64>,
    /// L2 weight decay λ >= 0 added to the gradient in the update.
    #[arg(long, value_parser = parse::non_negative, allow_hyphen_values = true)]
    pub weight_decay: Option<f64>,
    /// Clip the gradient to at most this Euclidean norm (> 0).
    #[arg(long, value_parser = parse::positive, allow_hyphen_values = true)]
    pub clip: Option<f64>,
    /// Write the trajectory as CSV: step, loss, point, conserved quantities.
    #[arg(long, value_name = "FILE.csv")]
    pub trajectory: Option<PathBuf>,
    /// Mlp: write the trained network and its data as a JSON problem file.
    #[arg(long, value_name = "FILE")]
    pub save_model: Option<PathBuf>,
    /// Print one JSON object instead of a summary.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `symstab critical-lr`.
#[derive(Debug, Clone, Args)]
pub struct CriticalArgs {
    /// Model and data.
    #[command(flatten)]
    pub model: ModelArgs,
    /// Toy: the start point (w1,…,wn), e.g. 1,9.
    #[arg(long, value_parser = point, allow_hyphen_values = true)]
    pub start: Option<Point>,
    /// Step budget of every run; a run still going after it counts as not diverged.
    #[arg(long, value_parser = parse::steps, allow_hyphen_values = true, default_value = "1000")]
    pub steps: usize,
    /// Bisection stops when (critical − lower) <= this × critical (0 < value < 1).
    #[arg(long, value_parser = parse::relative_tolerance, allow_hyphen_values = true, default_value = "1e-9")]
    pub relative_tolerance: f64,
    /// Print one JSON object instead of a summary.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `symstab sweep`.
#[derive(Debug, Clone, Args)]
pub struct SweepArgs {
    /// Plane grid: values of a as lo:hi:n (inclusive ends), e.g. -10:10:400.
    #[arg(long, value_parser = parse::range, allow_hyphen_values = true, requires = "b",
          conflicts_with_all = ["orbit", "log_alpha"])]
    pub a: Option<Range>,
    /// Plane grid: values of b as lo:hi:n.
    #[arg(long, value_parser = parse::range, allow_hyphen_values = true, requires = "a")]
    pub b: Option<Range>,
    /// Orbit grid: the product c of the orbit a·b = c, points (√|c|·α, sign(c)·√|c|/α).
    #[arg(long, value_parser = parse::finite, allow_hyphen_values = true, requires = "log_alpha")]
    pub orbit: Option<f64>,
    /// Orbit grid: values of log α (natural log) as lo:hi:n, e.g. -2.3:2.3:101.
    #[arg(long, value_parser = parse::range, allow_hyphen_values = true, requires = "orbit")]
    pub log_alpha: Option<Range>,
    /// Learning rates, comma-separated, each > 0.
    #[arg(long, value_parser = rates, allow_hyphen_values = true)]
    pub lrs: Rates,
    /// Step budget of every cell.
    #[arg(long, value_parser = parse::steps, allow_hyphen_values = true, default_value = "1000")]
    pub steps: usize,
    /// Output directory (resumable: re-running the same sweep skips finished chunks).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Run only shard I of N (chunks c with c mod N = I); needs --out. Merge with `symstab merge`.
    #[arg(long, value_parser = parse::shard, requires = "out")]
    pub shard: Option<(usize, usize)>,
    /// Worker threads (default: all cores).
    #[arg(long, value_parser = parse::count, allow_hyphen_values = true)]
    pub threads: Option<usize>,
    /// Use fused multiply-adds in the update (reproduces the peers' "fused" row).
    #[arg(long)]
    pub fused: bool,
    /// Cells per chunk: the unit of parallel work, progress, resumption and sharding.
    #[arg(long, value_parser = parse::count, allow_hyphen_values = true, default_value = "8192")]
    pub chunk_cells: usize,
    /// Print the summary as JSON on stdout (progress and the summary line stay on stderr).
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `symstab merge`.
#[derive(Debug, Clone, Args)]
pub struct MergeArgs {
    /// Shard output directories of the same sweep.
    #[arg(required = true, value_name = "DIR")]
    pub dirs: Vec<PathBuf>,
    /// Directory to write the merged results into.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Print the summary as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `symstab check-symmetry`.
#[derive(Debug, Clone, Args)]
pub struct CheckSymmetryArgs {
    /// Model and data.
    #[command(flatten)]
    pub model: ModelArgs,
    /// Toy: the point (w1,…,wn), e.g. 1,9.
    #[arg(long, value_parser = point, allow_hyphen_values = true)]
    pub point: Option<Point>,
    /// Group element kind: rescale, layer-scale, permute, sign-flip or mix (toy: rescale, sign-flip).
    #[arg(long, default_value = "rescale")]
    pub action: String,
    /// Toy rescale factor α: (w1, w2) → (α·w1, w2/α) (default 2).
    #[arg(long, value_parser = parse::positive, allow_hyphen_values = true)]
    pub alpha: Option<f64>,
    /// Print one JSON object instead of a summary.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `symstab orbit`.
#[derive(Debug, Clone, Args)]
pub struct OrbitArgs {
    /// Model and data (a network: --model mlp --widths … or --model-file).
    #[command(flatten)]
    pub model: ModelArgs,
    /// The path α ↦ g(α)·θ: rescale:K (hidden layer K's neurons × α, next layer ÷ α),
    /// layer-scale:K (the study's factors α on layer K, 1/α on layer K+1) or balanced:K:SEED
    /// (a seeded half of hidden layer K's neurons × α, the other half ÷ α). K counts from 0.
    #[arg(long, value_parser = orbit_path, default_value = "rescale:0")]
    pub path: OrbitPath,
    /// Positions α as lo:hi:n, n values log-spaced from lo to hi (inclusive, 0 < lo <= hi).
    #[arg(long, value_parser = parse::log_range, allow_hyphen_values = true,
          default_value = "0.01:100:41")]
    pub alpha: LogRange,
    /// Spectrum method at each point: auto, dense or lanczos.
    #[arg(long, value_enum, default_value_t = OrbitMethod::Auto)]
    pub method: OrbitMethod,
    /// Relative residual tolerance of the Lanczos parts, 0 < T < 1 (‖Hv − λv‖ ≤ T·‖H‖; default 1e-10).
    #[arg(long, value_parser = parse::relative_tolerance, allow_hyphen_values = true)]
    pub tol: Option<f64>,
    /// Also search the path for the point of smallest λmax (golden section in log α).
    #[arg(long)]
    pub flattest: bool,
    /// With --flattest: also lower λmax over one scale per hidden neuron, by at most STEPS
    /// descent steps on log λmax starting at the scanned point.
    #[arg(long, value_name = "STEPS", value_parser = parse::steps, allow_hyphen_values = true,
          requires = "flattest")]
    pub per_neuron: Option<usize>,
    /// First train the network for STEPS full-batch gradient-descent updates (needs --lr)
    /// and scan the orbit of the trained point.
    #[arg(long, value_name = "STEPS", value_parser = parse::steps, allow_hyphen_values = true,
          requires = "lr")]
    pub train: Option<usize>,
    /// Learning rate η > 0 of --train.
    #[arg(long, value_parser = parse::positive, allow_hyphen_values = true, requires = "train")]
    pub lr: Option<f64>,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
}
