//! Builds the model a command works on from the command line: the toy product chain at a
//! user's point, or a network with its data and parameters (from a problem file, or from
//! widths, a dataset and a seed).

use anyhow::{Context, Result};
use symstab_core::Model;
use symstab_core::data::{BIAS_STD, RealDataset, load_real, teacher_student};
use symstab_core::mlp::{Activation, Mlp, MlpProblem, ProblemFile, conserved};
use symstab_core::toy::ProductChain;

use crate::cli::{ModelArgs, ModelKind, Point};
use crate::messages::{self, ArgError};
use crate::parse;

/// Default number of generated samples for networks.
pub const DEFAULT_SAMPLES: usize = 1000;

/// The model of a command.
pub enum Problem {
    /// The product chain f(x) = w1·…·wn·x.
    Toy(ProductChain),
    /// A network with its dataset.
    Mlp(Box<MlpProblem>),
}

/// A model with the parameter vector the command starts from.
pub struct Loaded {
    /// The model.
    pub problem: Problem,
    /// Its parameters (the user's point, or the network's parameters).
    pub params: Vec<f64>,
    /// The argument the parameters came from, named when they cannot be used.
    pub origin: Origin,
}

/// The argument that supplied a command's parameters and its value as given: the toy's
/// `--point`/`--start`, `--model-file`, or `--seed` of a generated network.
#[derive(Debug, Clone)]
pub struct Origin {
    /// The argument, e.g. `--point`.
    pub arg: String,
    /// Its value, e.g. `1e200,1e200`.
    pub value: String,
}

impl Origin {
    fn new(arg: &str, value: impl messages::Shown) -> Self {
        Origin {
            arg: arg.to_owned(),
            value: value.shown(),
        }
    }

    /// What to change when a value computed from these parameters overflows.
    pub fn remedy(&self) -> &'static str {
        match self.arg.as_str() {
            "--model-file" => "use parameters and data of smaller magnitude",
            "--seed" => "use smaller widths or another --seed",
            _ => "use a point of smaller magnitude",
        }
    }

    /// An [`ArgError`] naming this argument and its value, with `reason`.
    pub fn error(&self, reason: impl Into<String>) -> anyhow::Error {
        ArgError::new(&self.arg, &self.value, reason).into()
    }

    /// The error for a quantity computed there (`what`, e.g. `the loss`) that overflowed to
    /// `value`.
    pub fn overflow(&self, what: &str, value: f64) -> anyhow::Error {
        self.error(messages::overflowed(
            &format!("{what} there"),
            value,
            self.remedy(),
        ))
    }

    /// The error for a core routine that rejected a value computed from these parameters
    /// (a non-finite Hessian entry, say): names the argument, keeps the core's reason.
    pub fn rejected(&self, during: &str, error: &symstab_core::Error) -> anyhow::Error {
        self.error(rejection_reason(during, error, self.remedy()))
    }
}

/// Why a core routine rejected a value computed from the user's input during `during`
/// (e.g. `the Hessian`): an overflow says so and gives `remedy`; other reasons are kept.
pub fn rejection_reason(during: &str, error: &symstab_core::Error, remedy: &str) -> String {
    match error {
        symstab_core::Error::NonFinite { what, index, value } => format!(
            "{during} overflowed ({what} entry {index} is {}); {remedy}",
            messages::number(*value)
        ),
        other => format!("{during}: {}", core_reason(other)),
    }
}

/// The first non-finite value among named quantities, e.g. `[("the loss", l)]`.
pub fn first_non_finite<'a>(
    values: impl IntoIterator<Item = (&'a str, f64)>,
) -> Option<(&'a str, f64)> {
    values.into_iter().find(|(_, v)| !v.is_finite())
}

impl Loaded {
    /// Checks that the loss and its gradient at the parameters are finite, so that a start
    /// whose values overflow is refused with the argument it came from, before any work.
    pub fn check_evaluates(&self) -> Result<()> {
        let model = self.problem.model();
        let mut gradient = vec![0.0; self.params.len()];
        let loss = model.loss_and_gradient(&self.params, &mut gradient);
        if !loss.is_finite() {
            return Err(self.origin.overflow("the loss", loss));
        }
        if let Some((i, g)) = gradient.iter().enumerate().find(|(_, g)| !g.is_finite()) {
            return Err(self
                .origin
                .overflow(&format!("entry {i} of the gradient"), *g));
        }
        Ok(())
    }
}

impl Problem {
    /// The model as a trait object.
    pub fn model(&self) -> &dyn Model {
        match self {
            Problem::Toy(toy) => toy,
            Problem::Mlp(mlp) => mlp.as_ref(),
        }
    }

    /// `toy` or `mlp`, as on the command line.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Problem::Toy(_) => "toy",
            Problem::Mlp(_) => "mlp",
        }
    }

    /// A short description for human-readable output.
    pub fn describe(&self) -> String {
        match self {
            Problem::Toy(toy) => format!(
                "toy product chain with {} factors and {} sample(s)",
                toy.n_factors(),
                toy.samples().len()
            ),
            Problem::Mlp(mlp) => format!(
                "mlp {:?} ({} parameters, {} samples)",
                mlp.network().widths(),
                mlp.network().n_params(),
                mlp.dataset().n_samples()
            ),
        }
    }

    /// The conserved quantities at `params`: toy wi² − wj² for i < j; networks the balance
    /// ‖incoming‖² − ‖outgoing‖² of every hidden neuron, hidden layer by hidden layer.
    pub fn conserved(&self, params: &[f64]) -> Result<Vec<f64>> {
        Ok(match self {
            Problem::Toy(toy) => toy.conserved_quantities(params),
            Problem::Mlp(mlp) => conserved::neuron_balances(mlp.network(), params)?.concat(),
        })
    }

    /// Column names of [`Problem::conserved`] for a CSV header.
    pub fn conserved_names(&self) -> Vec<String> {
        match self {
            Problem::Toy(toy) => {
                let n = toy.n_factors();
                let mut names = Vec::new();
                for i in 0..n {
                    for j in (i + 1)..n {
                        names.push(format!("w{}^2-w{}^2", i + 1, j + 1));
                    }
                }
                names
            }
            Problem::Mlp(mlp) => {
                let net = mlp.network();
                let mut names = Vec::new();
                for h in 0..net.n_hidden_layers() {
                    for j in 0..net.widths()[h + 1] {
                        names.push(format!("balance_l{h}_n{j}"));
                    }
                }
                names
            }
        }
    }

    /// Column names of the parameters for a CSV header (toy a, b or w1..wn; networks p0..).
    pub fn param_names(&self) -> Vec<String> {
        let n = self.model().n_params();
        match self {
            Problem::Toy(_) if n == 2 => vec!["a".into(), "b".into()],
            Problem::Toy(_) => (1..=n).map(|i| format!("w{i}")).collect(),
            Problem::Mlp(_) => (0..n).map(|i| format!("p{i}")).collect(),
        }
    }
}

/// Builds the model and its starting parameters. `point` is the toy's point, given as the
/// argument `point_arg` (`--point` or `--start`).
pub fn load(args: &ModelArgs, point: Option<&Point>, point_arg: &str) -> Result<Loaded> {
    let kind = if args.model_file.is_some() {
        ModelKind::Mlp
    } else {
        args.model
    };
    match kind {
        ModelKind::Toy => load_toy(args, point, point_arg),
        ModelKind::Mlp => {
            if let Some(p) = point {
                return Err(ArgError::new(
                    point_arg,
                    join(&p.0),
                    "does not apply to --model mlp (its parameters come from --seed or --model-file)",
                )
                .into());
            }
            if let Some(n) = args.factors {
                return Err(ArgError::new("--factors", n, messages::not_for_model("mlp")).into());
            }
            load_mlp(args)
        }
    }
}

fn load_toy(args: &ModelArgs, point: Option<&Point>, point_arg: &str) -> Result<Loaded> {
    let not_toy = messages::not_for_model("toy");
    if let Some(w) = &args.widths {
        return Err(ArgError::new("--widths", join(&w.0), not_toy).into());
    }
    if let Some(a) = &args.activation {
        return Err(ArgError::new("--activation", a, not_toy).into());
    }
    if let Some(d) = &args.data {
        return Err(ArgError::new("--data", d, not_toy).into());
    }
    let n_factors = args.factors.unwrap_or(2);
    let samples = match &args.samples {
        None => vec![(1.0, 2.0)],
        Some(s) => parse::toy_samples(s).map_err(|reason| ArgError::new("--samples", s, reason))?,
    };
    let toy = ProductChain::new(n_factors, samples)
        .map_err(|e| ArgError::new("--factors", n_factors, messages::library_reason(&e)))?;
    let point = point.ok_or_else(|| {
        ArgError::new(
            point_arg,
            "(missing)",
            format!("the toy needs a point with {n_factors} coordinates, e.g. {point_arg} 1,9"),
        )
    })?;
    if point.0.len() != n_factors {
        return Err(ArgError::new(
            point_arg,
            join(&point.0),
            messages::wrong_dimension(n_factors, point.0.len(), "one per factor"),
        )
        .into());
    }
    Ok(Loaded {
        problem: Problem::Toy(toy),
        params: point.0.clone(),
        origin: Origin::new(point_arg, join(&point.0)),
    })
}

/// What a problem file must contain, for messages about files that do not parse.
const MODEL_FILE_SHAPE: &str = "the file must hold one JSON object with keys widths, params, x and y or labels (optional: activation, activations, n, loss_kind)";

/// Why a problem file was rejected: a JSON value other than an object is named as such,
/// other parse errors get the expected shape appended.
fn model_file_reason(path: &std::path::Path, error: &symstab_core::Error) -> String {
    let found = std::fs::read_to_string(path)
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok());
    let kind = match &found {
        Some(serde_json::Value::Array(_)) => Some("an array"),
        Some(serde_json::Value::String(_)) => Some("a string"),
        Some(serde_json::Value::Number(_)) => Some("a number"),
        Some(serde_json::Value::Bool(_)) => Some("a boolean"),
        Some(serde_json::Value::Null) => Some("null"),
        _ => None,
    };
    match (kind, error) {
        (Some(k), _) => format!("{MODEL_FILE_SHAPE}, but it holds {k}"),
        (None, symstab_core::Error::InvalidSpec { .. }) => {
            format!("{}; {MODEL_FILE_SHAPE}", core_reason(error))
        }
        (None, _) => core_reason(error),
    }
}

fn load_mlp(args: &ModelArgs) -> Result<Loaded> {
    if let Some(path) = &args.model_file {
        for (arg, given) in [
            ("--widths", args.widths.is_some()),
            ("--activation", args.activation.is_some()),
            ("--data", args.data.is_some()),
            ("--samples", args.samples.is_some()),
        ] {
            if given {
                return Err(ArgError::new(
                    arg,
                    "(given)",
                    "cannot be combined with --model-file (the file holds the network and data)",
                )
                .into());
            }
        }
        let file = ProblemFile::read(path).map_err(|e| {
            ArgError::new("--model-file", path.display(), model_file_reason(path, &e))
        })?;
        let (problem, params) = file
            .into_problem()
            .map_err(|e| ArgError::new("--model-file", path.display(), e.to_string()))?;
        return Ok(Loaded {
            problem: Problem::Mlp(Box::new(problem)),
            params,
            origin: Origin::new("--model-file", path.display()),
        });
    }
    let widths = args
        .widths
        .as_ref()
        .ok_or_else(|| {
            ArgError::new(
                "--widths",
                "(missing)",
                "--model mlp needs --widths (e.g. 5,10,10,10,10,1) or --model-file",
            )
        })?
        .0
        .clone();
    let activation = match &args.activation {
        None => Activation::Relu,
        Some(a) => a
            .parse::<Activation>()
            .map_err(|e| ArgError::new("--activation", a, core_reason(&e)))?,
    };
    let n_samples = match &args.samples {
        None => None,
        Some(s) => Some(parse::count(s).map_err(|reason| ArgError::new("--samples", s, reason))?),
    };
    let data = args.data.as_deref().unwrap_or("teacher");
    let problem = generated_problem(&widths, activation, data, n_samples, args.seed)?;
    Ok(problem)
}

/// A network on a named dataset with seeded parameters.
fn generated_problem(
    widths: &[usize],
    activation: Activation,
    data: &str,
    n_samples: Option<usize>,
    seed: u64,
) -> Result<Loaded> {
    // Check the widths first so that the error names --widths.
    let net = Mlp::uniform(widths, activation)
        .map_err(|e| ArgError::new("--widths", join(widths), core_reason(&e)))?;
    if let Some(n) = n_samples {
        // Bounded before the inputs are allocated, so that the error names --samples.
        net.check_batch(n)
            .map_err(|e| ArgError::new("--samples", n, core_reason(&e)))?;
    }
    match data {
        "teacher" => {
            let ts = teacher_student(
                widths,
                activation,
                n_samples.unwrap_or(DEFAULT_SAMPLES),
                seed,
            )
            .context("building the teacher-student problem")?;
            Ok(Loaded {
                problem: Problem::Mlp(Box::new(ts.problem)),
                params: ts.student_params,
                origin: Origin::new("--seed", seed),
            })
        }
        name => {
            let which: RealDataset = name
                .parse()
                .map_err(|_| ArgError::new("--data", name, messages::DATASET_NAMES))?;
            let dataset = load_real(which).with_context(|| format!("loading --data {name}"))?;
            let (d_in, d_out) = (dataset.input_dim(), dataset.targets().dim());
            let net = Mlp::uniform(widths, activation)
                .map_err(|e| ArgError::new("--widths", join(widths), core_reason(&e)))?;
            let problem = MlpProblem::new(net, dataset).map_err(|_| {
                ArgError::new(
                    "--widths",
                    join(widths),
                    format!("--data {name} needs input width {d_in} and output width {d_out}"),
                )
            })?;
            if let Some(n_samples) = n_samples {
                return Err(ArgError::new(
                    "--samples",
                    n_samples,
                    format!("--data {name} is a fixed dataset; --samples only applies to teacher"),
                )
                .into());
            }
            // The same stream as the teacher-student student (seed + 2).
            let params = problem
                .network()
                .init_he(seed.wrapping_add(2), BIAS_STD)
                .context("initialising the network")?;
            Ok(Loaded {
                problem: Problem::Mlp(Box::new(problem)),
                params,
                origin: Origin::new("--seed", seed),
            })
        }
    }
}

/// The reason part of a core error (the field and value are named by the caller).
pub fn core_reason(error: &symstab_core::Error) -> String {
    match error {
        symstab_core::Error::InvalidValue { reason, .. } => reason.clone(),
        symstab_core::Error::InvalidSpec { reason, .. } => reason.clone(),
        other => other.to_string(),
    }
}

/// `1,9` from `[1.0, 9.0]`, `3,4,1` from `[3, 4, 1]`, `1e200,1` from `[1e200, 1.0]`:
/// values as on the command line, floats through [`messages::number`].
pub fn join<T: messages::Shown>(values: &[T]) -> String {
    values
        .iter()
        .map(messages::Shown::shown)
        .collect::<Vec<_>>()
        .join(",")
}

/// Checks the model is a network, for options that only apply to networks.
pub fn require_mlp<'a>(problem: &'a Problem, arg: &str, value: &str) -> Result<&'a MlpProblem> {
    match problem {
        Problem::Mlp(mlp) => Ok(mlp),
        Problem::Toy(_) => Err(ArgError::new(arg, value, messages::not_for_model("toy")).into()),
    }
}
