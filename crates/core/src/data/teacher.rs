//! Teacher-student regression data: standard Gaussian inputs labelled by a fixed random MLP.

use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::SeedableRng;
use rand_distr::{Distribution, StandardNormal};

use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::mlp::{Activation, Mlp, MlpProblem};

/// Standard deviation of the biases at initialisation (teacher and student alike).
pub const BIAS_STD: f64 = 0.1;

/// A teacher-student problem: the student network with its data, plus both parameter vectors.
#[derive(Debug, Clone)]
pub struct TeacherStudent {
    /// The student network paired with the teacher's data (mean squared error).
    pub problem: MlpProblem,
    /// Parameters of the teacher that produced the targets.
    pub teacher_params: Vec<f64>,
    /// He-initialised student parameters (the usual starting point).
    pub student_params: Vec<f64>,
}

/// Builds the study's teacher-student problem: inputs X ~ N(0, 1) of shape (n, d_0), targets
/// Y = teacher(X) from a teacher MLP with the same widths and activation, teacher and student
/// He-initialised (W_k ~ N(0, 2/d_k), b_k ~ N(0, 0.1²)). Seeds: data `seed`, teacher
/// `seed + 1`, student `seed + 2`, each a ChaCha8 stream (the same layout as the peer scripts,
/// though not their numpy values).
pub fn teacher_student(
    widths: &[usize],
    activation: Activation,
    n_samples: usize,
    seed: u64,
) -> Result<TeacherStudent> {
    if n_samples == 0 {
        return Err(Error::invalid_value("samples", 0, "must be >= 1"));
    }
    let net = Mlp::uniform(widths, activation)?;
    // Inputs are n × d_0 and the passes hold n × Σ widths: bounded before allocating.
    net.check_batch(n_samples)?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let inputs: Vec<f64> = (0..n_samples * net.input_dim())
        .map(|_| StandardNormal.sample(&mut rng))
        .collect();
    let teacher_params = net.init_he(seed.wrapping_add(1), BIAS_STD)?;
    let targets = net.forward(&teacher_params, &inputs, n_samples)?;
    let student_params = net.init_he(seed.wrapping_add(2), BIAS_STD)?;
    let data = Dataset::regression(inputs, net.input_dim(), targets, net.output_dim())?;
    Ok(TeacherStudent {
        problem: MlpProblem::new(net, data)?,
        teacher_params,
        student_params,
    })
}
