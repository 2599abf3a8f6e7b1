//! Helpers shared by the core integration tests.

#![allow(dead_code, reason = "each test file uses a different subset")]

pub mod peers;

use symstab_core::Model;

/// L(θ) = scale·θ² in one dimension (∇L = 2·scale·θ, H = 2·scale): gradient descent
/// multiplies θ by (1 − 2·η·scale) each step. A NaN `scale` gives a NaN loss.
pub struct Quadratic {
    /// The coefficient of θ².
    pub scale: f64,
}

impl Model for Quadratic {
    fn n_params(&self) -> usize {
        1
    }
    fn input_dim(&self) -> usize {
        1
    }
    fn output_dim(&self) -> usize {
        1
    }
    fn predict(&self, _: &[f64], _: &[f64], output: &mut [f64]) {
        output[0] = 0.0;
    }
    fn loss(&self, params: &[f64]) -> f64 {
        self.scale * params[0] * params[0]
    }
    fn loss_and_gradient(&self, params: &[f64], grad: &mut [f64]) -> f64 {
        grad[0] = 2.0 * self.scale * params[0];
        self.loss(params)
    }
    fn hessian_vector_product(&self, _: &[f64], v: &[f64], out: &mut [f64]) {
        out[0] = 2.0 * self.scale * v[0];
    }
}
