//! Every user-facing message of the `symstab` binary: the glossary shown by `--help`, the
//! reasons given for rejected argument values, the error type that names an argument and
//! its value, and the one-line human-readable summaries.
//!
//! Messages are lower-case, name the argument as the user typed it (`--lr`) and the value
//! that was given, and end without a period.

use std::fmt;

/// The glossary printed after the top-level `--help` (and after each command's long help).
pub const GLOSSARY: &str = "\
Terms:
  loss L        toy: L = Σ (w1·…·wn·x − y)² (the default toy is (a·b·1 − 2)²); networks: mean squared error or cross-entropy
  η, lr         learning rate: the step size of gradient descent θ ← θ − η·∇L(θ)
  Hessian H     matrix of second derivatives of the loss at a point
  λmax          sharpness: the largest (algebraic, not absolute) eigenvalue of H
  λmin          the smallest eigenvalue of H (negative at a saddle)
  2/λmax        stable lr: the local step bound; GD on the quadratic model diverges above it (\"unbounded\" when λmax ≤ 0)
  critical lr   the smallest η at which a real run from the start point diverges (found by bisection)
  ratio         critical lr / (2/λmax): how far the local bound under-predicts divergence
  orbit         points with the same function: for the toy a·b = c, reached by (a, b) → (α·a, b/α);
                for networks g(α)·θ, e.g. a hidden layer's incoming weights × α and outgoing ÷ α
  α             the position on an orbit (α = 1 is the start, log α the coordinate of orbit sweeps)
  GN max        largest eigenvalue of the Gauss-Newton matrix (the positive semi-definite part of H)
  spread        max λmax / min λmax over the scanned orbit points
  flattest      the orbit point of smallest λmax (largest stable step) found by a search
  conserved     quantities gradient flow keeps: toy wi² − wj²; networks ‖incoming‖² − ‖outgoing‖² per hidden neuron
  outcome       converged (loss < 1e-12), diverged (loss non-finite or > 1e12), unfinished (step budget spent)
  steps         number of updates executed before the outcome was decided";

/// What the top-level `--help` adds after the glossary: exit codes and the JSON output.
pub const EXIT_AND_JSON: &str = "\
Exit status:
  0  success (a diverged training run is a result, not an error)
  2  bad input: a value clap rejects, or one a later check rejects (a point of the wrong dimension,
     a malformed model file, a point or --alpha whose loss or Hessian overflows); the message names the argument
  1  a failure while running (writing an output file or stdout, a corrupt stored sweep)
  130  a sweep stopped by Ctrl-C (re-run the same command to resume one with --out)

JSON output (--json): non-finite numbers are the strings \"NaN\", \"inf\" and \"-inf\"; null means \"not computed\".";

/// The text after the top-level `--help`: the glossary, exit codes and the JSON conventions.
pub fn top_help() -> String {
    format!("{GLOSSARY}\n\n{EXIT_AND_JSON}")
}

/// Reason: a learning rate, tolerance or similar value that must be positive.
pub const MUST_BE_POSITIVE: &str = "must be finite and > 0";
/// Reason: a count that must be at least one.
pub const MUST_BE_COUNT: &str = "must be a whole number >= 1";
/// Reason: a value that must be a finite number.
pub const MUST_BE_FINITE: &str = "must be a finite number";
/// Reason: a value that must be finite and at least zero.
pub const MUST_BE_NON_NEGATIVE: &str = "must be finite and >= 0";
/// Reason: a range `lo:hi:n`.
pub const RANGE_FORMAT: &str =
    "expected lo:hi:n with finite lo <= hi and a whole number n >= 1 (e.g. -10:10:400)";
/// Reason: a log-spaced range `lo:hi:n` of positive values.
pub const LOG_RANGE_FORMAT: &str =
    "expected lo:hi:n with finite 0 < lo <= hi and a whole number n >= 1 (e.g. 0.01:100:41)";
/// Reason: a comma-separated list of numbers.
pub const LIST_FORMAT: &str = "expected a comma-separated list of finite numbers (e.g. 1,9)";
/// Reason: an empty list.
pub const EMPTY_LIST: &str = "must not be empty";
/// Reason: a shard `I/N`.
pub const SHARD_FORMAT: &str = "expected I/N with whole numbers 0 <= I < N (e.g. 0/4)";
/// Reason: toy samples `x:y,...`.
pub const TOY_SAMPLES_FORMAT: &str =
    "expected x:y pairs separated by commas, finite numbers (e.g. 1:2,2:3.5)";
/// Reason: widths.
pub const WIDTHS_FORMAT: &str =
    "expected at least two comma-separated whole numbers >= 1 (e.g. 5,10,10,1)";
/// Reason: a tolerance relative to a scale (‖H‖, the critical rate).
pub const RELATIVE_TOLERANCE_RANGE: &str = "must be finite, > 0 and < 1 (it is relative)";
/// Reason: momentum.
pub const MOMENTUM_RANGE: &str = "must lie in [0, 1)";
/// Reason: the symmetry action.
pub const ACTION_NAMES: &str = "expected rescale, layer-scale, permute, sign-flip or mix";
/// Reason: the dataset.
pub const DATASET_NAMES: &str =
    "expected teacher, winequality, winequality-regression, iris or diabetes";

/// An invalid command-line value, found while parsing or after it: names the argument, the
/// value as given, and why it was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgError {
    /// The argument as the user knows it, e.g. `--lr`.
    pub arg: String,
    /// The value as given.
    pub value: String,
    /// What the value must satisfy.
    pub reason: String,
}

impl ArgError {
    /// An error for argument `arg` with value `value` (floats are shown by [`number`]).
    pub fn new(arg: &str, value: impl Shown, reason: impl Into<String>) -> Self {
        ArgError {
            arg: arg.to_owned(),
            value: value.shown(),
            reason: reason.into(),
        }
    }
}

/// A value as it appears in a message: every `f64` through [`number`] (so that no message
/// prints a 300-digit decimal), everything else as its `Display`. [`ArgError::new`] and
/// [`crate::problem::join`] take values through this trait; there is deliberately no
/// blanket implementation over `Display`, so a float cannot bypass [`number`].
pub trait Shown {
    /// The text shown to the user.
    fn shown(&self) -> String;
}

impl Shown for f64 {
    fn shown(&self) -> String {
        number(*self)
    }
}

impl<T: Shown + ?Sized> Shown for &T {
    fn shown(&self) -> String {
        (**self).shown()
    }
}

macro_rules! shown_by_display {
    ($($t:ty),*) => {
        $(impl Shown for $t {
            fn shown(&self) -> String {
                self.to_string()
            }
        })*
    };
}

shown_by_display!(
    str,
    String,
    usize,
    u32,
    u64,
    i64,
    std::path::Display<'_>,
    symstab_core::orbit::OrbitPath
);

impl fmt::Display for ArgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let value = if self.value.is_empty() {
            "''"
        } else {
            &self.value
        };
        write!(f, "{}: invalid value {value}: {}", self.arg, self.reason)
    }
}

impl std::error::Error for ArgError {}

/// A usage error clap found in a value (wrong format, failed validation), rendered as one
/// line `error: --lr: invalid value 0: must be finite and > 0`.
pub fn clap_value_error(arg: &str, value: &str, reason: &str) -> String {
    // clap names arguments as `--lr <LR>`; keep only the flag.
    let flag = arg.split_whitespace().next().unwrap_or(arg);
    format!("error: {}", ArgError::new(flag, value, reason))
}

/// The line printed for any error that is not a clap usage error.
pub fn error_line(error: &anyhow::Error) -> String {
    // The context chain joined with ": " on one line. A cause whose text its parent's
    // message already ends with (e.g. an OS error quoted by an i/o error) is skipped, so
    // that each reason appears once.
    let mut parts: Vec<String> = Vec::new();
    for cause in error.chain() {
        let text = cause.to_string();
        if parts.last().is_some_and(|prev| prev.ends_with(&text)) {
            continue;
        }
        parts.push(text);
    }
    let text = parts.join(": ");
    format!("error: {}", text.replace('\n', " "))
}

/// Reason: a point with the wrong number of coordinates.
pub fn wrong_dimension(expected: usize, got: usize, what: &str) -> String {
    format!("expected {expected} coordinates ({what}), got {got}")
}

/// Reason: a whole number above the largest the argument takes.
pub fn too_large(max: u128) -> String {
    format!("too large: must be at most {max}")
}

/// Reason: an output file whose directory is missing or is a file.
pub fn bad_output_parent(parent: &std::path::Path, is_file: bool) -> String {
    if is_file {
        format!("{} is a file, not a directory", parent.display())
    } else {
        format!("the directory {} does not exist", parent.display())
    }
}

/// Reason: a quantity computed from the user's input overflowed to a non-finite value.
/// `what` names the quantity (`the loss`), `remedy` says what to change.
pub fn overflowed(what: &str, value: f64, remedy: &str) -> String {
    format!("{what} is {} (it overflows); {remedy}", number(value))
}

/// Reason: an option that only applies to other models.
pub fn not_for_model(model: &str) -> String {
    format!("does not apply to --model {model}")
}

/// Reason: a library error, passed through as the reason for an argument's value.
pub fn library_reason(error: &dyn fmt::Display) -> String {
    error.to_string()
}

/// Counts of outcomes and steps of a set of cells, for the sweep summary.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct SweepSummary {
    /// Cells of the sweep (or of the shard that ran).
    pub cells: usize,
    /// Cells computed by this run (the rest were found finished on disk).
    pub computed: usize,
    /// Cells reused from an earlier run.
    pub reused: usize,
    /// Cells whose loss fell below the convergence tolerance.
    pub converged: usize,
    /// Cells whose loss became non-finite or exceeded the divergence bound.
    pub diverged: usize,
    /// Cells that spent the step budget.
    pub unfinished: usize,
    /// Gradient-descent updates executed by this run (computed cells only).
    pub steps: u64,
    /// Wall-clock seconds of this run.
    #[serde(serialize_with = "crate::output::real_field")]
    pub seconds: f64,
    /// `steps / seconds` (non-finite when no time was measured: written as `"inf"`/`"NaN"`).
    #[serde(serialize_with = "crate::output::real_field")]
    pub steps_per_second: f64,
    /// Whether every cell of the sweep (or shard) is finished.
    pub complete: bool,
    /// The output directory, when there is one.
    pub out: Option<String>,
}

impl fmt::Display for SweepSummary {
    /// `sweep done: 1600 cells (1600 computed, 0 reused): converged 1200, diverged 300,
    /// unfinished 100; 123456 steps in 0.012 s (1.0e7 steps/s)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "sweep {}: {} cells ({} computed, {} reused): converged {}, diverged {}, \
             unfinished {}; {} steps in {:.3} s ({:.3e} steps/s)",
            if self.complete { "done" } else { "incomplete" },
            self.cells,
            self.computed,
            self.reused,
            self.converged,
            self.diverged,
            self.unfinished,
            self.steps,
            self.seconds,
            self.steps_per_second
        )?;
        if let Some(out) = &self.out {
            write!(f, "; results in {out}")?;
        }
        Ok(())
    }
}

/// The plain progress line printed off a terminal, e.g. `sweep: 50% (800/1600 cells)`.
pub fn progress_line(percent: usize, done: usize, total: usize) -> String {
    format!("sweep: {percent}% ({done}/{total} cells)")
}

/// The line printed by `symstab merge`.
pub fn merge_line(n_dirs: usize, summary: &SweepSummary) -> String {
    format!(
        "merged {n_dirs} shard directories: {} cells: converged {}, diverged {}, unfinished {}; \
         results in {}",
        summary.cells,
        summary.converged,
        summary.diverged,
        summary.unfinished,
        summary.out.as_deref().unwrap_or("?")
    )
}

/// Smallest magnitude [`number`] writes without an exponent.
pub const PLAIN_MIN: f64 = 1e-4;
/// Magnitude from which [`number`] writes an exponent.
pub const PLAIN_MAX: f64 = 1e15;

/// The one format of a float shown to a user in text (messages, summaries, tables):
/// the shortest digits that read back to the same f64, as a plain decimal when
/// 1e-4 <= |v| < 1e15 (and for 0), otherwise in exponent form (`1e-320`, `1.5e200`);
/// non-finite values as `NaN`, `inf`, `-inf` (the tokens of the CSV and JSON output).
/// Rust's `{:?}` would also switch to exponents, but at 1e-5 and 1e16 and with a `.0`
/// on whole numbers; this keeps `49`, not `49.0`.
pub fn number(v: f64) -> String {
    let a = v.abs();
    if v.is_finite() && a != 0.0 && !(PLAIN_MIN..PLAIN_MAX).contains(&a) {
        format!("{v:e}")
    } else {
        v.to_string()
    }
}

/// A range `lo:hi:n` as shown in messages, the ends through [`number`].
pub fn range_text(lo: f64, hi: f64, n: usize) -> String {
    format!("{}:{}:{n}", number(lo), number(hi))
}

/// A step bound as shown in summaries: the value through [`number`], or `unbounded`.
pub fn step_bound(bound: symstab_core::spectrum::StepBound) -> String {
    bound.value().map_or_else(|| "unbounded".to_owned(), number)
}

fn real(v: &symstab_sweep::record::Real) -> String {
    number(v.0)
}

fn opt_real(v: &Option<symstab_sweep::record::Real>) -> String {
    v.as_ref().map_or_else(|| "unknown".to_owned(), real)
}

fn list(values: &[symstab_sweep::record::Real]) -> String {
    values.iter().map(real).collect::<Vec<_>>().join(", ")
}

/// Longest list of numbers printed in a human-readable summary before it is shortened.
const SHOWN_VALUES: usize = 12;

fn short_list(values: &[symstab_sweep::record::Real]) -> String {
    if values.len() <= SHOWN_VALUES {
        list(values)
    } else {
        let half = SHOWN_VALUES / 2;
        format!(
            "{}, … ({} more) …, {}",
            list(&values[..half]),
            values.len() - 2 * half,
            list(&values[values.len() - half..])
        )
    }
}

/// Human-readable summary of `symstab hessian`.
pub fn hessian_summary(
    r: &crate::commands::hessian::HessianReport,
    model: &str,
    params: &[f64],
) -> String {
    let point = if params.len() <= SHOWN_VALUES {
        format!(" at ({})", crate::problem::join(params))
    } else {
        String::new()
    };
    let stable = r.stable_lr.map_or_else(|| "unknown".to_owned(), step_bound);
    let negatives = r
        .negative_count
        .map_or_else(|| "unknown".to_owned(), |c| c.to_string());
    let mut text = format!(
        "Hessian of the {model}{point} ({} method)\n\
         loss              {}\n\
         λmax (sharpness)  {}\n\
         λmin              {}\n\
         2/λmax (stable η) {stable}\n\
         trace             {}\n\
         negative λ        {negatives} of {}\n\
         eigenvalues       {}",
        r.method,
        real(&r.loss),
        opt_real(&r.lambda_max),
        opt_real(&r.lambda_min),
        real(&r.trace),
        r.n_params,
        short_list(&r.eigenvalues),
    );
    if let Some(hvps) = r.hvp_count {
        text.push_str(&format!("\nHessian-vector products {hvps}"));
    }
    if !r.converged {
        text.push_str("\nwarning: not every eigenpair met the tolerance");
    }
    text
}

/// Human-readable summary of `symstab train`.
pub fn train_summary(r: &crate::commands::train::TrainReport, model: &str) -> String {
    format!(
        "gradient descent on the {model}, η = {}\n\
         outcome     {} after {} steps\n\
         loss        {} → {}\n\
         final point {}\n\
         conserved   {} → {}",
        number(r.learning_rate),
        r.outcome,
        r.steps,
        real(&r.start_loss),
        real(&r.final_loss),
        short_list(&r.final_point),
        short_list(&r.conserved_start),
        short_list(&r.conserved_end),
    )
}

/// Human-readable summary of `symstab critical-lr`.
pub fn critical_summary(r: &crate::commands::critical::CriticalReport, model: &str) -> String {
    let mut text = format!(
        "critical learning rate of the {model} ({} runs of at most {} steps)\n\
         critical lr        {}\n\
         largest stable run {}\n\
         2/λmax at start    {}  (λmax = {})\n\
         critical / stable  {}",
        r.evaluations,
        r.steps,
        opt_real(&r.critical_lr),
        opt_real(&r.lower),
        step_bound(r.stable_lr),
        real(&r.lambda_max),
        opt_real(&r.ratio),
    );
    if r.unfinished_count > 0 {
        text.push_str(&format!(
            "\nnote: {} run(s) spent the step budget and were counted as not diverged",
            r.unfinished_count
        ));
    }
    text
}

/// Human-readable summary of `symstab check-symmetry`.
pub fn symmetry_summary(r: &crate::commands::symmetry::SymmetryReport, model: &str) -> String {
    format!(
        "{} on the {model}\n\
         max output difference {}\n\
         loss before           {}\n\
         loss after            {}",
        r.action,
        real(&r.max_output_diff),
        real(&r.loss_before),
        real(&r.loss_after),
    )
}

/// Human-readable table of `symstab orbit`: one row per α, then the loss check, the spread
/// of λmax and the flattest point.
pub fn orbit_summary(r: &crate::commands::orbit::OrbitReport, model: &str) -> String {
    let method = r.records.first().map_or("dense", |p| match p.method {
        symstab_core::orbit::SpectrumRoute::Dense => "dense",
        symstab_core::orbit::SpectrumRoute::Lanczos => "lanczos",
    });
    let mut text = format!("orbit {} of the {model}, {method} method\n", r.path);
    if let Some(t) = &r.trained {
        text.push_str(&format!(
            "trained {} steps at η = {} ({}): loss {} → {}\n",
            t.steps_run,
            number(t.learning_rate),
            t.outcome,
            real(&t.start_loss),
            real(&t.final_loss)
        ));
    }
    let cells = |row: [String; 8]| {
        format!(
            "{:<11} {:<22} {:<13} {:<13} {:<13} {:<13} {:<13} {}",
            row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7]
        )
        .trim_end()
        .to_owned()
    };
    text.push_str(&cells(
        [
            "α",
            "loss",
            "λmax",
            "λmin",
            "2/λmax",
            "trace",
            "GN max",
            "‖∇L‖",
        ]
        .map(str::to_owned),
    ));
    let short = |v: f64| {
        if v.is_finite() {
            number(format!("{v:.6e}").parse().unwrap_or(v))
        } else {
            number(v)
        }
    };
    let bound = |b: symstab_core::spectrum::StepBound| {
        b.value().map_or_else(|| "unbounded".to_owned(), short)
    };
    for p in &r.records {
        text.push('\n');
        text.push_str(&cells([
            short(p.alpha.0),
            real(&p.loss),
            short(p.lambda_max.0),
            short(p.lambda_min.0),
            bound(p.stable_lr),
            short(p.trace.0),
            short(p.gauss_newton_max.0),
            short(p.gradient_norm.0),
        ]));
    }
    text.push_str(&format!(
        "\nmax loss deviation (relative) {}\n\
         λmax from {} to {} (spread {})",
        real(&r.max_loss_deviation),
        short(r.lambda_max_min.0),
        short(r.lambda_max_max.0),
        short(r.lambda_max_spread.0),
    ));
    if let Some(f) = &r.flattest {
        text.push_str(&format!(
            "\nflattest along the path: α = {}, λmax {}, 2/λmax {}",
            short(f.alpha.0),
            short(f.lambda_max.0),
            bound(f.stable_lr)
        ));
        if f.at_scan_end {
            text.push_str(" (at an end of the α range: the minimum may lie beyond it)");
        }
        if let Some(n) = &f.per_neuron {
            text.push_str(&format!(
                "\nper-neuron scales: λmax {} → {} in {} steps, 2/λmax {}, output deviation {}",
                short(n.lambda_max_before.0),
                short(n.lambda_max_after.0),
                n.steps,
                bound(n.stable_lr_after),
                short(n.output_deviation.0)
            ));
        }
    }
    if r.records.iter().any(|p| !p.converged) {
        text.push_str("\nwarning: not every iterative eigenvalue met the tolerance");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::{ArgError, SweepSummary, error_line, number};

    #[test]
    fn numbers_are_short_and_round_trip() {
        for (v, shown) in [
            (49.0, "49"),
            (0.025, "0.025"),
            (1e-4, "0.0001"),
            (9.9e-5, "9.9e-5"),
            (1e-320, "1e-320"),
            (123456789012345.6, "123456789012345.6"),
            (1e15, "1e15"),
            (-1.5e308, "-1.5e308"),
            (0.0, "0"),
            (f64::NAN, "NaN"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
        ] {
            assert_eq!(number(v), shown);
            if v.is_finite() {
                let back: f64 = shown.parse().unwrap();
                assert_eq!(back.to_bits(), v.to_bits(), "{shown} reads back");
            }
        }
        let e = ArgError::new("--tol", 1e-20, "too small");
        assert_eq!(e.to_string(), "--tol: invalid value 1e-20: too small");
        assert_eq!(crate::problem::join(&[1e200, 9.0]), "1e200,9");
    }

    #[test]
    fn sweep_summary_writes_non_finite_rates_as_strings() {
        let summary = SweepSummary {
            seconds: 0.0,
            steps_per_second: f64::NAN,
            ..SweepSummary::default()
        };
        let v = serde_json::to_value(&summary).unwrap();
        assert_eq!(v["steps_per_second"], "NaN");
        assert_eq!(v["seconds"], 0.0);
    }

    #[test]
    fn a_quoted_cause_is_printed_once() {
        let os = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file (os error 2)");
        let sweep = symstab_sweep::SweepError::Io {
            path: "/x/y".into(),
            source: os,
        };
        let e = anyhow::Error::new(sweep).context("--out /x");
        assert_eq!(
            error_line(&e),
            "error: --out /x: i/o error on /x/y: no such file (os error 2)"
        );
        // Causes that are not quoted by their parent stay.
        let e = anyhow::anyhow!("inner").context("outer");
        assert_eq!(error_line(&e), "error: outer: inner");
    }
}
