//! The fast toy kernel: gradient descent on L(a, b) = (a·b·x − y)² with x = 1, y = 2,
//! many cells at once.
//!
//! One step, for each cell (the peers' order of operations, `toy_common.py`):
//! r = a·b − 2, loss = r², g = 2r (dL/d(ab)), a' = a − (lr·g)·b, b' = b − (lr·g)·a
//! (∂L/∂a = 2r·b, ∂L/∂b = 2r·a). Before every step t = 0, 1, …, S the loss is classified
//! with [`StopRule::classify`]; a cell that is neither converged nor diverged at t = S is
//! unfinished. `steps` counts updates.
//!
//! Layout: cells live in [`LANES`] lanes held as a structure of arrays. The kernel runs
//! [`BURST`] steps on every lane without branching (a lane whose stop test fires is frozen
//! by selects, so its state stays exactly where it stopped), then looks at the lanes whose
//! stop test fired, records them and refills their lanes from the queue of remaining
//! cells. The same generic, inlined body is compiled for AVX-512 and AVX2+FMA through
//! `#[target_feature]` and chosen at run time, with a portable build as fallback. All
//! builds give the same bits: the compiler never contracts `a·b − c` into a fused
//! multiply-add unless [`Rounding::Fused`] asks for `f64::mul_add`.
// `!(loss <= bound)` is deliberate: it is true for NaN, so a NaN loss reads as diverged.
#![allow(clippy::neg_cmp_op_on_partial_ord)]

use std::mem::MaybeUninit;

use symstab_core::{Outcome, StopRule};

use crate::grid::Rounding;

/// Number of cells advanced together.
pub const LANES: usize = 32;

/// Steps run on all lanes between two looks at which lanes have finished.
pub const BURST: usize = 8;

/// What every cell of a kernel call shares.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ToyParams {
    /// Step budget S.
    pub max_steps: u32,
    /// Convergence and divergence thresholds.
    pub stop_rule: StopRule,
    /// Separate or fused multiply-adds.
    pub rounding: Rounding,
}

/// How one toy cell ended. The default is a placeholder (unfinished, NaN values).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ToyCellResult {
    /// Converged, diverged or unfinished.
    pub outcome: Outcome,
    /// Number of gradient-descent updates executed.
    pub steps: u32,
    /// Loss at the final point (the one that was classified last).
    pub final_loss: f64,
    /// Final a.
    pub a: f64,
    /// Final b.
    pub b: f64,
}

impl Default for ToyCellResult {
    fn default() -> Self {
        ToyCellResult {
            outcome: Outcome::Unfinished,
            steps: 0,
            final_loss: f64::NAN,
            a: f64::NAN,
            b: f64::NAN,
        }
    }
}

/// An instruction set the kernel can be compiled for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    /// Plain Rust, whatever the build's target features allow.
    Portable,
    /// x86-64 AVX2 + FMA (256-bit vectors).
    Avx2,
    /// x86-64 AVX-512F (512-bit vectors).
    Avx512,
}

impl Backend {
    /// Whether this CPU can run the backend.
    pub fn is_available(self) -> bool {
        match self {
            Backend::Portable => true,
            #[cfg(target_arch = "x86_64")]
            Backend::Avx2 => is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma"),
            #[cfg(target_arch = "x86_64")]
            Backend::Avx512 => is_x86_feature_detected!("avx512f"),
            #[cfg(not(target_arch = "x86_64"))]
            _ => false,
        }
    }

    /// The widest available backend.
    pub fn detect() -> Backend {
        [Backend::Avx512, Backend::Avx2]
            .into_iter()
            .find(|b| b.is_available())
            .unwrap_or(Backend::Portable)
    }

    /// All backends this CPU can run.
    pub fn available() -> Vec<Backend> {
        [Backend::Portable, Backend::Avx2, Backend::Avx512]
            .into_iter()
            .filter(|b| b.is_available())
            .collect()
    }
}

/// One cell, scalar, exactly the kernel's semantics: the reference the lanes must match.
pub fn toy_cell_scalar(a0: f64, b0: f64, learning_rate: f64, params: &ToyParams) -> ToyCellResult {
    let fused = params.rounding == Rounding::Fused;
    let (mut a, mut b) = (a0, b0);
    let mut t = 0u32;
    loop {
        let r = if fused {
            a.mul_add(b, -2.0)
        } else {
            a * b - 2.0
        };
        let loss = r * r;
        let outcome = match params.stop_rule.classify(loss) {
            Some(o) => Some(o),
            None if t == params.max_steps => Some(Outcome::Unfinished),
            None => None,
        };
        if let Some(outcome) = outcome {
            return ToyCellResult {
                outcome,
                steps: t,
                final_loss: loss,
                a,
                b,
            };
        }
        let lg = learning_rate * (2.0 * r);
        (a, b) = if fused {
            ((-lg).mul_add(b, a), (-lg).mul_add(a, b))
        } else {
            (a - lg * b, b - lg * a)
        };
        t += 1;
    }
}

/// Runs cells `(a0[k], b0[k], learning_rate[k])` and writes their results to `out[k]`,
/// using the widest backend this CPU has.
///
/// Panics if the four slices differ in length.
pub fn run_toy_cells(
    params: &ToyParams,
    a0: &[f64],
    b0: &[f64],
    learning_rate: &[f64],
    out: &mut [ToyCellResult],
) {
    run_toy_cells_on(Backend::detect(), params, a0, b0, learning_rate, out)
}

/// Like [`run_toy_cells`] on a chosen backend; an unavailable backend falls back to
/// [`Backend::Portable`] (results are bitwise the same on every backend).
pub fn run_toy_cells_on(
    backend: Backend,
    params: &ToyParams,
    a0: &[f64],
    b0: &[f64],
    learning_rate: &[f64],
    out: &mut [ToyCellResult],
) {
    // SAFETY: `MaybeUninit<T>` has the layout of `T`, and the kernel only ever writes
    // initialised values, so `out` stays initialised.
    let out = unsafe { &mut *(out as *mut [ToyCellResult] as *mut [MaybeUninit<ToyCellResult>]) };
    run_toy_cells_uninit(backend, params, a0, b0, learning_rate, out);
}

/// Like [`run_toy_cells_on`] into uninitialised memory: every element of `out` is written
/// exactly once (so the first touch of a fresh output buffer happens in the worker).
pub(crate) fn run_toy_cells_uninit(
    backend: Backend,
    params: &ToyParams,
    a0: &[f64],
    b0: &[f64],
    learning_rate: &[f64],
    out: &mut [MaybeUninit<ToyCellResult>],
) {
    let n = a0.len();
    assert!(
        b0.len() == n && learning_rate.len() == n && out.len() == n,
        "run_toy_cells: slices differ in length"
    );
    let cells = Cells {
        a0,
        b0,
        learning_rate,
    };
    let fused = params.rounding == Rounding::Fused;
    #[cfg(target_arch = "x86_64")]
    {
        if backend == Backend::Avx512 && backend.is_available() {
            if crate::kernel_avx512::supports(params, learning_rate) {
                // SAFETY: the CPU supports AVX-512F (checked just above); lengths checked.
                unsafe {
                    if fused {
                        crate::kernel_avx512::run::<true>(params, cells, out)
                    } else {
                        crate::kernel_avx512::run::<false>(params, cells, out)
                    }
                }
            } else {
                // SAFETY: the CPU supports AVX-512F (checked just above).
                unsafe { lanes_avx512(params, cells, out, fused) };
            }
            return;
        }
        if backend == Backend::Avx2 && backend.is_available() {
            // SAFETY: the CPU supports AVX2 and FMA (checked just above).
            unsafe { lanes_avx2(params, cells, out, fused) };
            return;
        }
    }
    let _ = backend;
    if fused {
        lanes::<true>(params, cells, out)
    } else {
        lanes::<false>(params, cells, out)
    }
}

#[derive(Clone, Copy)]
pub(crate) struct Cells<'a> {
    pub(crate) a0: &'a [f64],
    pub(crate) b0: &'a [f64],
    pub(crate) learning_rate: &'a [f64],
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn lanes_avx512(
    p: &ToyParams,
    cells: Cells<'_>,
    out: &mut [MaybeUninit<ToyCellResult>],
    fused: bool,
) {
    if fused {
        lanes::<true>(p, cells, out)
    } else {
        lanes::<false>(p, cells, out)
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn lanes_avx2(
    p: &ToyParams,
    cells: Cells<'_>,
    out: &mut [MaybeUninit<ToyCellResult>],
    fused: bool,
) {
    if fused {
        lanes::<true>(p, cells, out)
    } else {
        lanes::<false>(p, cells, out)
    }
}

/// Lane state, structure of arrays. `t` is the per-lane step count as f64 (exact for
/// counts below 2^53) so that every lane operation has the same vector width.
struct LaneState {
    a: [f64; LANES],
    b: [f64; LANES],
    lr: [f64; LANES],
    t: [f64; LANES],
    slot: [usize; LANES],
}

/// `BURST` steps on every lane; a lane whose stop test fires keeps its state.
#[inline(always)]
fn burst<const FUSED: bool>(st: &mut LaneState, s: f64, conv: f64, div: f64) {
    for _ in 0..BURST {
        for k in 0..LANES {
            let (a, b, t) = (st.a[k], st.b[k], st.t[k]);
            let r = residual::<FUSED>(a, b);
            let loss = r * r;
            let stop = !(loss <= div) | (loss < conv) | (t >= s);
            let lg = st.lr[k] * (2.0 * r);
            let (an, bn) = if FUSED {
                ((-lg).mul_add(b, a), (-lg).mul_add(a, b))
            } else {
                (a - lg * b, b - lg * a)
            };
            st.a[k] = if stop { a } else { an };
            st.b[k] = if stop { b } else { bn };
            st.t[k] = if stop { t } else { t + 1.0 };
        }
    }
}

/// The residual r = a·b − 2 of the toy, separate multiply and subtract or one fused
/// multiply-add.
#[inline(always)]
fn residual<const FUSED: bool>(a: f64, b: f64) -> f64 {
    if FUSED {
        a.mul_add(b, -2.0)
    } else {
        a * b - 2.0
    }
}

/// Bit k set when lane k's stop test fires.
#[inline(always)]
fn stop_mask<const FUSED: bool>(st: &LaneState, s: f64, conv: f64, div: f64) -> u64 {
    let mut mask = 0u64;
    for k in 0..LANES {
        let (a, b) = (st.a[k], st.b[k]);
        let r = residual::<FUSED>(a, b);
        let loss = r * r;
        let stop = !(loss <= div) | (loss < conv) | (st.t[k] >= s);
        mask |= (stop as u64) << k;
    }
    mask
}

#[inline(always)]
fn lanes<const FUSED: bool>(
    p: &ToyParams,
    cells: Cells<'_>,
    out: &mut [MaybeUninit<ToyCellResult>],
) {
    let n = cells.a0.len();
    let s = f64::from(p.max_steps);
    let (conv, div) = (
        p.stop_rule.convergence_tolerance,
        p.stop_rule.divergence_bound,
    );
    // An idle lane has t = S, so its stop test always fires; it is masked out by `live`.
    let mut st = LaneState {
        a: [0.0; LANES],
        b: [0.0; LANES],
        lr: [0.0; LANES],
        t: [s; LANES],
        slot: [usize::MAX; LANES],
    };
    let mut next = 0usize;
    let mut live = 0u64;
    for k in 0..LANES.min(n) {
        load(&mut st, k, next, cells);
        live |= 1 << k;
        next += 1;
    }
    while live != 0 {
        burst::<FUSED>(&mut st, s, conv, div);
        let mut done = stop_mask::<FUSED>(&st, s, conv, div) & live;
        while done != 0 {
            let k = done.trailing_zeros() as usize;
            done &= done - 1;
            out[st.slot[k]].write(finish::<FUSED>(&st, k, p));
            if next < n {
                load(&mut st, k, next, cells);
                next += 1;
            } else {
                st.t[k] = s;
                st.slot[k] = usize::MAX;
                live &= !(1 << k);
            }
        }
    }
}

#[inline(always)]
fn load(st: &mut LaneState, k: usize, cell: usize, cells: Cells<'_>) {
    st.a[k] = cells.a0[cell];
    st.b[k] = cells.b0[cell];
    st.lr[k] = cells.learning_rate[cell];
    st.t[k] = 0.0;
    st.slot[k] = cell;
}

/// The result of a stopped lane from its state (loss recomputed with the lanes' rounding,
/// classified by the core's rule).
#[inline(always)]
pub(crate) fn finish_cell<const FUSED: bool>(
    p: &ToyParams,
    a: f64,
    b: f64,
    t: f64,
) -> ToyCellResult {
    let r = residual::<FUSED>(a, b);
    let loss = r * r;
    let outcome = p.stop_rule.classify(loss).unwrap_or(Outcome::Unfinished);
    ToyCellResult {
        outcome,
        steps: t as u32,
        final_loss: loss,
        a,
        b,
    }
}

/// Classifies a stopped lane with the core's stop rule (the same loss bits as the lanes).
#[inline(always)]
fn finish<const FUSED: bool>(st: &LaneState, k: usize, p: &ToyParams) -> ToyCellResult {
    finish_cell::<FUSED>(p, st.a[k], st.b[k], st.t[k])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(rounding: Rounding) -> ToyParams {
        ToyParams {
            max_steps: 50,
            stop_rule: StopRule::default(),
            rounding,
        }
    }

    #[test]
    fn study_runs() {
        let p = ToyParams {
            max_steps: 10_000,
            ..params(Rounding::Strict)
        };
        let r = toy_cell_scalar(1.0, 9.0, 0.025, &p);
        assert_eq!(r.outcome, Outcome::Diverged);
        let r = toy_cell_scalar(3.0, 3.0, 0.01, &p);
        assert_eq!(r.outcome, Outcome::Converged);
        assert!(r.final_loss < 1e-12 && (r.a * r.b - 2.0).abs() < 1e-6);
        let r = toy_cell_scalar(1.0, 2.0, 0.01, &p);
        assert_eq!((r.outcome, r.steps), (Outcome::Converged, 0));
    }

    #[test]
    fn lanes_match_scalar_on_every_backend() {
        let n = 1000;
        let a0: Vec<f64> = (0..n)
            .map(|k| -10.0 + 20.0 * (k as f64 * 0.618).fract())
            .collect();
        let b0: Vec<f64> = (0..n)
            .map(|k| -10.0 + 20.0 * (k as f64 * 0.414).fract())
            .collect();
        let lr: Vec<f64> = (0..n).map(|k| [0.005, 0.01, 0.02, 0.03][k % 4]).collect();
        for rounding in [Rounding::Strict, Rounding::Fused] {
            let p = params(rounding);
            for backend in Backend::available() {
                let mut out = vec![toy_cell_scalar(0.0, 0.0, 1.0, &p); n];
                run_toy_cells_on(backend, &p, &a0, &b0, &lr, &mut out);
                for k in 0..n {
                    let want = toy_cell_scalar(a0[k], b0[k], lr[k], &p);
                    let got = out[k];
                    assert_eq!((got.outcome, got.steps), (want.outcome, want.steps), "{k}");
                    assert_eq!(got.final_loss.to_bits(), want.final_loss.to_bits());
                    assert_eq!(got.a.to_bits(), want.a.to_bits());
                    assert_eq!(got.b.to_bits(), want.b.to_bits());
                }
            }
        }
    }

    #[test]
    fn empty_and_tiny_inputs() {
        let p = params(Rounding::Strict);
        run_toy_cells(&p, &[], &[], &[], &mut []);
        let mut out = [toy_cell_scalar(0.0, 0.0, 1.0, &p)];
        run_toy_cells(&p, &[3.0], &[3.0], &[0.01], &mut out);
        assert_eq!(out[0], toy_cell_scalar(3.0, 3.0, 0.01, &p));
        let p0 = ToyParams { max_steps: 0, ..p };
        run_toy_cells(&p0, &[3.0], &[3.0], &[0.01], &mut out);
        assert_eq!((out[0].outcome, out[0].steps), (Outcome::Unfinished, 0));
    }
}
