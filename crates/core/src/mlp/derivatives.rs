//! Exact derivatives of an MLP loss on one block of samples: reverse mode (backpropagation),
//! the R-operator (forward-over-reverse Hessian-vector product), the generalized
//! Gauss-Newton product and the batched dense Hessian over many unit tangents.
//!
//! Notation for a block of `nb` samples (all matrices row-major, one row per sample):
//! h_0 = X, z_k = h_k W_k + b_k, h_{k+1} = σ(z_k), f = z_{L−1}; δ_k = ∂L/∂z_k.
//! Reverse mode (Rumelhart, Hinton & Williams 1986):
//!   δ_{L−1} = ∂ℓ/∂f,  ∇W_k = h_kᵀ δ_k,  ∇b_k = 1ᵀ δ_k,  δ_{k−1} = (δ_k W_kᵀ) ⊙ σ'(z_{k−1}).
//! R-operator (Pearlmutter 1994, "Fast exact multiplication by the Hessian"): for a tangent
//! v = (V_k, c_k), R{·} = d/dt (·)(θ + t v) at t = 0:
//!   R{z_k} = R{h_k} W_k + h_k V_k + c_k,  R{h_{k+1}} = σ'(z_k) ⊙ R{z_k},  R{h_0} = 0,
//!   R{δ_{L−1}} = ∇²_f ℓ · R{f},
//!   R{δ_{k−1}} = (R{δ_k} W_kᵀ + δ_k V_kᵀ) ⊙ σ'(z_{k−1}) + (δ_k W_kᵀ) ⊙ σ''(z_{k−1}) ⊙ R{z_{k−1}},
//!   (H v)_{W_k} = R{h_k}ᵀ δ_k + h_kᵀ R{δ_k},  (H v)_{b_k} = 1ᵀ R{δ_k}.
//! Generalized Gauss-Newton (Schraudolph 2002): G v = Jᵀ (∇²_f ℓ) J v, i.e. the forward
//! R-pass for J v followed by plain backpropagation of ∇²_f ℓ · J v.

use crate::data::Targets;
use crate::mlp::linalg::{View, add_column_sums, gemm, mul_add_bt, mul_rows};
use crate::mlp::network::{Activation, Mlp};

/// Loss kinds of an MLP problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Head {
    /// Mean over n·m of (f − y)².
    Mse,
    /// Mean over n of −log softmax(f)_y.
    CrossEntropy,
}

/// The targets of one block.
#[derive(Clone, Copy)]
pub(crate) enum BlockTargets<'a> {
    Values(&'a [f64]),
    Labels(&'a [usize]),
}

impl<'a> BlockTargets<'a> {
    pub fn of(targets: &'a Targets, start: usize, end: usize) -> Self {
        match targets {
            Targets::Values { dim, values } => {
                BlockTargets::Values(&values[start * dim..end * dim])
            }
            Targets::Labels { labels, .. } => BlockTargets::Labels(&labels[start..end]),
        }
    }
}

/// Forward quantities of a block: pre-activations, hidden outputs and σ', σ''.
pub(crate) struct Tape<'a> {
    pub nb: usize,
    pub x: &'a [f64],
    pub z: Vec<Vec<f64>>,
    pub h: Vec<Vec<f64>>,
    pub d1: Vec<Vec<f64>>,
    pub d2: Vec<Vec<f64>>,
}

impl Tape<'_> {
    /// h_k (the input of layer k).
    pub fn input(&self, k: usize) -> &[f64] {
        if k == 0 { self.x } else { &self.h[k - 1] }
    }

    pub fn output(&self) -> &[f64] {
        self.z.last().expect("at least one layer")
    }
}

pub(crate) fn forward<'a>(
    net: &Mlp,
    params: &[f64],
    x: &'a [f64],
    nb: usize,
    second: bool,
) -> Tape<'a> {
    let n_layers = net.n_layers();
    let mut tape = Tape {
        nb,
        x,
        z: Vec::new(),
        h: Vec::new(),
        d1: Vec::new(),
        d2: Vec::new(),
    };
    for k in 0..n_layers {
        let fo = net.layer(k).fan_out;
        let mut z = vec![0.0; nb * fo];
        net.affine(params, k, tape.input(k), nb, &mut z);
        if k + 1 < n_layers {
            let act = net.activations()[k];
            tape.h.push(z.iter().map(|&v| act.value(v)).collect());
            tape.d1.push(z.iter().map(|&v| act.derivative(v)).collect());
            if second && act.second_derivative_may_be_nonzero() {
                tape.d2
                    .push(z.iter().map(|&v| act.second_derivative(v)).collect());
            } else {
                // σ'' ≡ 0 is never read (callers check the activation first).
                tape.d2.push(Vec::new());
            }
        }
        tape.z.push(z);
    }
    tape
}

/// Loss contribution of a block (already divided by the global normaliser, so block sums add
/// up to the loss), ∂L/∂f into `delta`, and softmax probabilities into `probs` (cross-entropy).
pub(crate) fn loss_head(
    head: Head,
    out: &[f64],
    m: usize,
    targets: BlockTargets<'_>,
    scale: f64,
    delta: &mut [f64],
    probs: &mut [f64],
) -> f64 {
    let mut total = 0.0;
    match (head, targets) {
        (Head::Mse, BlockTargets::Values(y)) => {
            for ((d, f), t) in delta.iter_mut().zip(out).zip(y) {
                let r = f - t;
                total += r * r;
                *d = 2.0 * scale * r;
            }
        }
        (Head::CrossEntropy, BlockTargets::Labels(labels)) => {
            for (i, &label) in labels.iter().enumerate() {
                let row = &out[i * m..(i + 1) * m];
                let max = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let p = &mut probs[i * m..(i + 1) * m];
                let mut sum = 0.0;
                for (pj, fj) in p.iter_mut().zip(row) {
                    *pj = (fj - max).exp();
                    sum += *pj;
                }
                // log Σ exp f_j = max + log Σ exp(f_j − max): stable log-sum-exp.
                total += max + sum.ln() - row[label];
                let d = &mut delta[i * m..(i + 1) * m];
                for (dj, pj) in d.iter_mut().zip(p.iter_mut()) {
                    *pj /= sum;
                    *dj = scale * *pj;
                }
                d[label] -= scale;
            }
        }
        _ => unreachable!("head and targets are matched when the problem is built"),
    }
    total * scale
}

/// out ← ∇²_f ℓ · r for `rows` rows of width m: MSE 2·scale·r; cross-entropy
/// scale·(p ⊙ r − p (pᵀ r)) per row (softmax Hessian diag(p) − p pᵀ). The rows of `r` are
/// grouped so that row `q` belongs to sample `q / per_sample`.
pub(crate) fn loss_hessian_apply(
    head: Head,
    probs: &[f64],
    m: usize,
    per_sample: usize,
    scale: f64,
    r: &[f64],
    out: &mut [f64],
) {
    match head {
        Head::Mse => {
            for (o, v) in out.iter_mut().zip(r) {
                *o = 2.0 * scale * v;
            }
        }
        Head::CrossEntropy => {
            for (q, (o, rv)) in out.chunks_exact_mut(m).zip(r.chunks_exact(m)).enumerate() {
                let p = &probs[(q / per_sample) * m..(q / per_sample + 1) * m];
                let dot: f64 = p.iter().zip(rv).map(|(a, b)| a * b).sum();
                for ((oj, pj), rj) in o.iter_mut().zip(p).zip(rv) {
                    *oj = scale * pj * (rj - dot);
                }
            }
        }
    }
}

/// Block state after the forward pass and the loss head.
pub(crate) struct Head0<'a> {
    pub tape: Tape<'a>,
    pub delta: Vec<f64>,
    pub probs: Vec<f64>,
    pub loss: f64,
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn forward_head<'a>(
    net: &Mlp,
    head: Head,
    params: &[f64],
    x: &'a [f64],
    targets: BlockTargets<'_>,
    nb: usize,
    scale: f64,
    second: bool,
) -> Head0<'a> {
    let tape = forward(net, params, x, nb, second);
    let m = net.output_dim();
    let mut delta = vec![0.0; nb * m];
    let mut probs = if head == Head::CrossEntropy {
        vec![0.0; nb * m]
    } else {
        Vec::new()
    };
    let loss = loss_head(
        head,
        tape.output(),
        m,
        targets,
        scale,
        &mut delta,
        &mut probs,
    );
    Head0 {
        tape,
        delta,
        probs,
        loss,
    }
}

/// Backpropagates `delta` (= ∂L/∂f) and adds ∇L into `grad`. With `keep` the per-layer δ_k
/// are returned (index k), otherwise an empty vector.
pub(crate) fn backward(
    net: &Mlp,
    params: &[f64],
    tape: &Tape<'_>,
    delta: Vec<f64>,
    grad: Option<&mut [f64]>,
    keep: bool,
) -> Vec<Vec<f64>> {
    let nb = tape.nb;
    let n_layers = net.n_layers();
    let mut kept = vec![Vec::new(); if keep { n_layers } else { 0 }];
    let mut grad = grad;
    let mut delta = delta;
    for k in (0..n_layers).rev() {
        let l = net.layer(k);
        let (fi, fo) = (l.fan_in, l.fan_out);
        if let Some(g) = grad.as_deref_mut() {
            let hin = tape.input(k);
            gemm(
                fi,
                nb,
                fo,
                1.0,
                View::transposed(hin, fi),
                View::rows(&delta, fo),
                1.0,
                &mut g[l.weight_offset..l.bias_offset],
                fo,
            );
            add_column_sums(&delta, nb, fo, &mut g[l.bias_offset..l.bias_offset + fo]);
        }
        let next = if k > 0 {
            let w = net.view(params, k).weights;
            let mut t = vec![0.0; nb * fi];
            gemm(
                nb,
                fo,
                fi,
                1.0,
                View::rows(&delta, fo),
                View::transposed(w, fo),
                0.0,
                &mut t,
                fi,
            );
            for (tv, d) in t.iter_mut().zip(&tape.d1[k - 1]) {
                *tv *= d;
            }
            Some(t)
        } else {
            None
        };
        if keep {
            kept[k] = delta;
        }
        match next {
            Some(t) => delta = t,
            None => break,
        }
    }
    kept
}

/// Forward R-pass: R{z_k} for all k, R{h_k} for hidden k (index k − 1).
fn r_forward(
    net: &Mlp,
    params: &[f64],
    v: &[f64],
    tape: &Tape<'_>,
) -> (Vec<Vec<f64>>, Vec<Vec<f64>>) {
    let nb = tape.nb;
    let n_layers = net.n_layers();
    let mut rz: Vec<Vec<f64>> = Vec::with_capacity(n_layers);
    let mut rh: Vec<Vec<f64>> = Vec::with_capacity(n_layers - 1);
    for k in 0..n_layers {
        let l = net.layer(k);
        let (fi, fo) = (l.fan_in, l.fan_out);
        let mut r = vec![0.0; nb * fo];
        // h_k V_k + c_k: the same affine map with the tangent in place of the parameters.
        net.affine(v, k, tape.input(k), nb, &mut r);
        if k > 0 {
            let w = net.view(params, k).weights;
            gemm(
                nb,
                fi,
                fo,
                1.0,
                View::rows(&rh[k - 1], fi),
                View::rows(w, fo),
                1.0,
                &mut r,
                fo,
            );
        }
        if k + 1 < n_layers {
            rh.push(r.iter().zip(&tape.d1[k]).map(|(a, b)| a * b).collect());
        }
        rz.push(r);
    }
    (rz, rh)
}

/// Reusable buffers of [`hvp_block`], one set per thread (see [`HVP_WORK`]).
#[derive(Default)]
struct HvpWork {
    /// Per layer k: [z_k | R{z_k}], feature-major (fan_out rows of 2·nb samples).
    s: Vec<Vec<f64>>,
    /// Per layer k ≥ 1: [h_k | R{h_k}], feature-major (fan_in rows of 2·nb); index 0 holds
    /// x transposed (d_0 rows of nb).
    hh: Vec<Vec<f64>>,
    /// Per hidden layer: σ'(z_k) and (curved activations only) σ''(z_k), fan_out × nb.
    d1: Vec<Vec<f64>>,
    d2: Vec<Vec<f64>>,
    /// Backward ping-pong buffers [R{δ} | δ] (rows of 2·nb).
    dd: Vec<f64>,
    tt: Vec<f64>,
    /// Row-major head buffers (nb × m).
    f: Vec<f64>,
    rf: Vec<f64>,
    delta: Vec<f64>,
    rdelta: Vec<f64>,
    probs: Vec<f64>,
}

thread_local! {
    /// Buffers of [`hvp_block`] kept across calls on the same thread (no allocation per call
    /// once they have grown).
    static HVP_WORK: std::cell::RefCell<HvpWork> = std::cell::RefCell::new(HvpWork::default());
}

/// Adds H·v of one block to `out` (exact, by the R-operator; see the module docs) and
/// returns the block's loss contribution.
///
/// Layout: every activation is stored feature-major (one row per unit, samples contiguous),
/// with the primal and the tangent side by side in one row, [h_k | R{h_k}] and
/// [R{δ_k} | δ_k]. Each weight matrix is then read once per layer and direction:
///   [z_k | R{z_k}] = W_kᵀ [h_k | R{h_k}] + [b_k | c_k], then R{z_k} += V_kᵀ h_k;
///   (H v)_{W_k} = [h_k | R{h_k}] · [R{δ_k} | δ_k]ᵀ = h_kᵀ R{δ_k} + R{h_k}ᵀ δ_k (one product);
///   [t | Rt] ← W_k [R{δ_k} | δ_k] with V_k δ_k added to the first half, then
///   δ_{k−1} = t ⊙ σ', R{δ_{k−1}} = Rt ⊙ σ' + t ⊙ σ'' ⊙ R{z_{k−1}}.
#[allow(clippy::too_many_arguments)]
pub(crate) fn hvp_block(
    net: &Mlp,
    head: Head,
    params: &[f64],
    v: &[f64],
    x: &[f64],
    targets: BlockTargets<'_>,
    nb: usize,
    scale: f64,
    out: &mut [f64],
) -> f64 {
    HVP_WORK.with(|cell| {
        let mut work = cell.borrow_mut();
        hvp_block_with(net, head, params, v, x, targets, nb, scale, out, &mut work)
    })
}

/// h = σ(z), σ'(z) into `d1` and R{h} = σ'(z)·R{z}, row by row: `s` holds rows [z | R{z}]
/// and `hn` receives rows [h | R{h}] (2·nb each); `f(z)` returns (σ(z), σ'(z)).
#[inline(always)]
fn activate_rows(
    s: &[f64],
    hn: &mut [f64],
    d1: &mut [f64],
    nb: usize,
    f: impl Fn(f64) -> (f64, f64),
) {
    let n2 = 2 * nb;
    for ((zr, hr), dr) in s
        .chunks_exact(n2)
        .zip(hn.chunks_exact_mut(n2))
        .zip(d1.chunks_exact_mut(nb))
    {
        let (z, rz) = zr.split_at(nb);
        let (h, rh) = hr.split_at_mut(nb);
        for i in 0..nb {
            let (value, slope) = f(z[i]);
            h[i] = value;
            dr[i] = slope;
            rh[i] = slope * rz[i];
        }
    }
}

/// Σ of a slice with 8 partial sums (lane l takes indices ≡ l mod 8), added in a fixed tree.
#[inline(always)]
fn sum_lanes(x: &[f64]) -> f64 {
    let mut acc = [0.0; 8];
    let mut chunks = x.chunks_exact(8);
    for c in &mut chunks {
        for l in 0..8 {
            acc[l] += c[l];
        }
    }
    let mut s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for v in chunks.remainder() {
        s += v;
    }
    s
}

crate::mlp::linalg::multiversion!(hvp_block_with, hvp_block_kernel, (net: &Mlp, head: Head, params: &[f64], v: &[f64], x: &[f64], targets: BlockTargets<'_>, nb: usize, scale: f64, out: &mut [f64], w: &mut HvpWork) -> f64);

#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn hvp_block_kernel(
    net: &Mlp,
    head: Head,
    params: &[f64],
    v: &[f64],
    x: &[f64],
    targets: BlockTargets<'_>,
    nb: usize,
    scale: f64,
    out: &mut [f64],
    w: &mut HvpWork,
) -> f64 {
    let n_layers = net.n_layers();
    let m = net.output_dim();
    let d0 = net.input_dim();
    let n2 = 2 * nb;
    w.s.resize_with(n_layers, Vec::new);
    w.hh.resize_with(n_layers, Vec::new);
    w.d1.resize_with(n_layers, Vec::new);
    w.d2.resize_with(n_layers, Vec::new);

    // x transposed: d_0 rows of nb samples.
    {
        let xt = sized(&mut w.hh[0], d0 * nb);
        for i in 0..nb {
            for a in 0..d0 {
                xt[a * nb + i] = x[i * d0 + a];
            }
        }
    }

    for k in 0..n_layers {
        let l = net.layer(k);
        let (fi, fo) = (l.fan_in, l.fan_out);
        let pv = net.view(params, k);
        let tv = net.view(v, k);
        let (lower, upper) = w.hh.split_at_mut(k + 1);
        let hin = &lower[k];
        let s = sized(&mut w.s[k], fo * n2);
        for j in 0..fo {
            s[j * n2..j * n2 + nb].fill(pv.bias[j]);
            s[j * n2 + nb..(j + 1) * n2].fill(tv.bias[j]);
        }
        let wt = View::transposed(pv.weights, fo);
        let vt = View::transposed(tv.weights, fo);
        if k == 0 {
            // R{h_0} = 0: z_0 = W_0ᵀ x + b_0, R{z_0} = V_0ᵀ x + c_0.
            mul_rows(fo, fi, nb, wt, hin, nb, true, s, n2);
            mul_rows(fo, fi, nb, vt, hin, nb, true, &mut s[nb..], n2);
        } else {
            mul_rows(fo, fi, n2, wt, hin, n2, true, s, n2);
            mul_rows(fo, fi, nb, vt, hin, n2, true, &mut s[nb..], n2);
        }
        if k + 1 < n_layers {
            let act = net.activations()[k];
            let curved = act.second_derivative_may_be_nonzero();
            let hn = sized(&mut upper[0], fo * n2);
            let d1 = sized(&mut w.d1[k], fo * nb);
            // One loop per activation kind, so that each compiles to branch-free vector code.
            match act {
                Activation::Relu => {
                    activate_rows(
                        s,
                        hn,
                        d1,
                        nb,
                        |z| {
                            if z > 0.0 { (z, 1.0) } else { (0.0, 0.0) }
                        },
                    )
                }
                Activation::LeakyRelu { slope } => activate_rows(s, hn, d1, nb, |z| {
                    if z > 0.0 {
                        (z, 1.0)
                    } else {
                        (slope * z, slope)
                    }
                }),
                Activation::Identity => activate_rows(s, hn, d1, nb, |z| (z, 1.0)),
                Activation::Tanh => {
                    activate_rows(s, hn, d1, nb, |z| (act.value(z), act.derivative(z)))
                }
            }
            if curved {
                let d2 = sized(&mut w.d2[k], fo * nb);
                for j in 0..fo {
                    for i in 0..nb {
                        d2[j * nb + i] = act.second_derivative(s[j * n2 + i]);
                    }
                }
            }
        }
    }

    // Loss head on row-major copies of f and R{f}.
    let so = &w.s[n_layers - 1];
    let f = sized(&mut w.f, nb * m);
    let rf = sized(&mut w.rf, nb * m);
    for j in 0..m {
        for i in 0..nb {
            f[i * m + j] = so[j * n2 + i];
            rf[i * m + j] = so[j * n2 + nb + i];
        }
    }
    let delta = sized(&mut w.delta, nb * m);
    let probs = sized(
        &mut w.probs,
        if head == Head::CrossEntropy {
            nb * m
        } else {
            0
        },
    );
    let loss = loss_head(head, f, m, targets, scale, delta, probs);
    let rdelta = sized(&mut w.rdelta, nb * m);
    loss_hessian_apply(head, probs, m, 1, scale, rf, rdelta);
    let max_width = net.widths().iter().copied().max().unwrap_or(1);
    let mut dd = std::mem::take(&mut w.dd);
    let mut tt = std::mem::take(&mut w.tt);
    dd.resize(max_width * n2, 0.0);
    tt.resize(max_width * n2, 0.0);
    for j in 0..m {
        for i in 0..nb {
            dd[j * n2 + i] = rdelta[i * m + j];
            dd[j * n2 + nb + i] = delta[i * m + j];
        }
    }

    for k in (0..n_layers).rev() {
        let l = net.layer(k);
        let (fi, fo) = (l.fan_in, l.fan_out);
        let hin = &w.hh[k];
        // (H v)_{W_k}: Σ over samples of [h | R{h}] [R{δ} | δ]ᵀ (R{h_0} = 0: first half only).
        let (kk, lda) = if k == 0 { (nb, nb) } else { (n2, n2) };
        mul_add_bt(
            fi,
            kk,
            fo,
            hin,
            lda,
            &dd,
            n2,
            &mut out[l.weight_offset..l.bias_offset],
            fo,
        );
        let ob = &mut out[l.bias_offset..l.bias_offset + fo];
        for (j, o) in ob.iter_mut().enumerate() {
            *o += sum_lanes(&dd[j * n2..j * n2 + nb]);
        }
        if k == 0 {
            break;
        }
        let pw = net.view(params, k).weights;
        let vw = net.view(v, k).weights;
        // [t_R | t] = W_k [R{δ} | δ]; t_R += V_k δ.
        mul_rows(fi, fo, n2, View::rows(pw, fo), &dd, n2, false, &mut tt, n2);
        mul_rows(
            fi,
            fo,
            nb,
            View::rows(vw, fo),
            &dd[nb..],
            n2,
            true,
            &mut tt,
            n2,
        );
        let act = net.activations()[k - 1];
        let d1 = &w.d1[k - 1];
        if act.second_derivative_may_be_nonzero() {
            let (d2, sp) = (&w.d2[k - 1], &w.s[k - 1]);
            for a in 0..fi {
                let (rt, t) = tt[a * n2..(a + 1) * n2].split_at_mut(nb);
                let rz = &sp[a * n2 + nb..(a + 1) * n2];
                for i in 0..nb {
                    let q = a * nb + i;
                    rt[i] = rt[i] * d1[q] + t[i] * d2[q] * rz[i];
                    t[i] *= d1[q];
                }
            }
        } else {
            for a in 0..fi {
                let row = &mut tt[a * n2..(a + 1) * n2];
                let d = &d1[a * nb..(a + 1) * nb];
                for (r, dv) in row[..nb].iter_mut().zip(d) {
                    *r *= dv;
                }
                for (r, dv) in row[nb..].iter_mut().zip(d) {
                    *r *= dv;
                }
            }
        }
        std::mem::swap(&mut dd, &mut tt);
    }
    w.dd = dd;
    w.tt = tt;
    loss
}

/// Transposes a row-major `rows × cols` matrix into `out` (row-major `cols × rows`).
fn transpose_into(m: &[f64], rows: usize, cols: usize, out: &mut Vec<f64>) {
    out.clear();
    out.resize(rows * cols, 0.0);
    for (i, row) in m.chunks_exact(cols).enumerate() {
        for (j, &value) in row.iter().enumerate() {
            out[j * rows + i] = value;
        }
    }
}

/// What the Hessian-vector product of one block needs that does not depend on the
/// tangent, feature-major (one row per unit, the block's `nb` samples contiguous):
/// computed once per point by [`BlockPoint::new`] and reused by every
/// [`cached_hvp_block`] at that point.
pub(crate) struct BlockPoint {
    nb: usize,
    /// h_k, the input of layer k (h_0 = xᵀ): fan_in rows each.
    h: Vec<Vec<f64>>,
    /// σ'(z_k) of each hidden layer k: fan_out rows.
    d1: Vec<Vec<f64>>,
    /// (W_{k+1} δ_{k+1}) ⊙ σ''(z_k) of each hidden layer k whose activation is curved
    /// (empty otherwise).
    gd2: Vec<Vec<f64>>,
    /// δ_k = ∂L/∂z_k of each layer k: fan_out rows.
    delta: Vec<Vec<f64>>,
    /// Softmax probabilities (cross-entropy only), row-major nb × m.
    probs: Vec<f64>,
}

impl BlockPoint {
    /// Forward pass, loss head and backpropagation of one block at `params`, in the
    /// feature-major layout and with the same products as the primal half of
    /// [`hvp_block`].
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        net: &Mlp,
        head: Head,
        params: &[f64],
        x: &[f64],
        targets: BlockTargets<'_>,
        nb: usize,
        scale: f64,
    ) -> Self {
        block_point_with(net, head, params, x, targets, nb, scale)
    }

    /// Bytes a block of `nb` samples holds for `net`.
    pub(crate) fn bytes(net: &Mlp, nb: usize) -> u128 {
        let n_layers = net.n_layers();
        let mut per_sample: u128 = 0;
        for k in 0..n_layers {
            let l = net.layer(k);
            per_sample += (l.fan_in + l.fan_out) as u128;
            if k + 1 < n_layers {
                let curved = net.activations()[k].second_derivative_may_be_nonzero();
                per_sample += l.fan_out as u128 * (1 + u128::from(curved));
            }
        }
        per_sample += net.output_dim() as u128;
        per_sample * nb as u128 * 8
    }
}

crate::mlp::linalg::multiversion!(block_point_with, block_point_kernel, (net: &Mlp, head: Head, params: &[f64], x: &[f64], targets: BlockTargets<'_>, nb: usize, scale: f64) -> BlockPoint);

#[inline(always)]
fn block_point_kernel(
    net: &Mlp,
    head: Head,
    params: &[f64],
    x: &[f64],
    targets: BlockTargets<'_>,
    nb: usize,
    scale: f64,
) -> BlockPoint {
    let n_layers = net.n_layers();
    let m = net.output_dim();
    let mut h = Vec::with_capacity(n_layers);
    let mut d1 = Vec::with_capacity(n_layers - 1);
    let mut d2 = Vec::with_capacity(n_layers - 1);
    let mut xt = Vec::new();
    transpose_into(x, nb, net.input_dim(), &mut xt);
    h.push(xt);
    let mut f = vec![0.0; nb * m];
    for k in 0..n_layers {
        let l = net.layer(k);
        let (fi, fo) = (l.fan_in, l.fan_out);
        let pv = net.view(params, k);
        let mut z = vec![0.0; fo * nb];
        for j in 0..fo {
            z[j * nb..(j + 1) * nb].fill(pv.bias[j]);
        }
        mul_rows(
            fo,
            fi,
            nb,
            View::transposed(pv.weights, fo),
            &h[k],
            nb,
            true,
            &mut z,
            nb,
        );
        if k + 1 < n_layers {
            let act = net.activations()[k];
            let slope: Vec<f64> = z.iter().map(|&v| act.derivative(v)).collect();
            d2.push(if act.second_derivative_may_be_nonzero() {
                z.iter().map(|&v| act.second_derivative(v)).collect()
            } else {
                Vec::new()
            });
            for v in z.iter_mut() {
                *v = act.value(*v);
            }
            d1.push(slope);
            h.push(z);
        } else {
            for j in 0..m {
                for i in 0..nb {
                    f[i * m + j] = z[j * nb + i];
                }
            }
        }
    }
    let mut delta_rows = vec![0.0; nb * m];
    let mut probs = vec![
        0.0;
        if head == Head::CrossEntropy {
            nb * m
        } else {
            0
        }
    ];
    loss_head(head, &f, m, targets, scale, &mut delta_rows, &mut probs);
    let mut delta = vec![Vec::new(); n_layers];
    transpose_into(&delta_rows, nb, m, &mut delta[n_layers - 1]);
    let mut gd2 = vec![Vec::new(); n_layers - 1];
    for k in (1..n_layers).rev() {
        let l = net.layer(k);
        let (fi, fo) = (l.fan_in, l.fan_out);
        // g = W_k δ_k, δ_{k−1} = g ⊙ σ'(z_{k−1}); for a curved σ also keep g ⊙ σ''.
        let mut g = vec![0.0; fi * nb];
        let w = net.view(params, k).weights;
        mul_rows(
            fi,
            fo,
            nb,
            View::rows(w, fo),
            &delta[k],
            nb,
            false,
            &mut g,
            nb,
        );
        if !d2[k - 1].is_empty() {
            gd2[k - 1] = g.iter().zip(&d2[k - 1]).map(|(a, b)| a * b).collect();
        }
        for (gv, d) in g.iter_mut().zip(&d1[k - 1]) {
            *gv *= d;
        }
        delta[k - 1] = g;
    }
    BlockPoint {
        nb,
        h,
        d1,
        gd2,
        delta,
        probs,
    }
}

/// Buffers of [`cached_hvp_block`], one set per thread (see [`CACHED_HVP_WORK`]).
#[derive(Default)]
struct CachedHvpWork {
    /// R{z_k} per layer, feature-major.
    rz: Vec<Vec<f64>>,
    /// R{h_k} per layer (index 0 unused: R{h_0} = 0), feature-major.
    rh: Vec<Vec<f64>>,
    /// Row-major head buffers (nb × m).
    rf: Vec<f64>,
    rdelta: Vec<f64>,
    /// Backward ping-pong buffers R{δ}, feature-major.
    dd: Vec<f64>,
    tt: Vec<f64>,
}

thread_local! {
    /// Buffers of [`cached_hvp_block`] kept across calls on the same thread.
    static CACHED_HVP_WORK: std::cell::RefCell<CachedHvpWork> =
        std::cell::RefCell::new(CachedHvpWork::default());
}

/// Adds H·v of one block to `out`, from the block's state at the point (`point`), by the
/// R-operator of the module docs with every tangent-free quantity (h_k, σ', δ_k, the
/// softmax) taken from `point`: per layer one product for R{z_k} = W_kᵀ R{h_k} + V_kᵀ h_k
/// (+ c_k), one pair for (H v)_{W_k} = h_k R{δ_k}ᵀ + R{h_k} δ_kᵀ and one pair for
/// W_k R{δ_k} + V_k δ_k: about three quarters of the work of [`hvp_block`].
pub(crate) fn cached_hvp_block(
    net: &Mlp,
    head: Head,
    params: &[f64],
    point: &BlockPoint,
    v: &[f64],
    scale: f64,
    out: &mut [f64],
) {
    CACHED_HVP_WORK.with(|cell| {
        let mut work = cell.borrow_mut();
        cached_hvp_with(net, head, params, point, v, scale, out, &mut work)
    })
}

crate::mlp::linalg::multiversion!(cached_hvp_with, cached_hvp_kernel, (net: &Mlp, head: Head, params: &[f64], point: &BlockPoint, v: &[f64], scale: f64, out: &mut [f64], w: &mut CachedHvpWork));

#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn cached_hvp_kernel(
    net: &Mlp,
    head: Head,
    params: &[f64],
    point: &BlockPoint,
    v: &[f64],
    scale: f64,
    out: &mut [f64],
    w: &mut CachedHvpWork,
) {
    let n_layers = net.n_layers();
    let m = net.output_dim();
    let nb = point.nb;
    w.rz.resize_with(n_layers, Vec::new);
    w.rh.resize_with(n_layers, Vec::new);

    for k in 0..n_layers {
        let l = net.layer(k);
        let (fi, fo) = (l.fan_in, l.fan_out);
        let pv = net.view(params, k);
        let tv = net.view(v, k);
        let (lower, upper) = w.rh.split_at_mut(k + 1);
        let rz = sized(&mut w.rz[k], fo * nb);
        for j in 0..fo {
            rz[j * nb..(j + 1) * nb].fill(tv.bias[j]);
        }
        if k > 0 {
            let wt = View::transposed(pv.weights, fo);
            mul_rows(fo, fi, nb, wt, &lower[k], nb, true, rz, nb);
        }
        let vt = View::transposed(tv.weights, fo);
        mul_rows(fo, fi, nb, vt, &point.h[k], nb, true, rz, nb);
        if k + 1 < n_layers {
            let rh = sized(&mut upper[0], fo * nb);
            for ((r, z), d) in rh.iter_mut().zip(rz.iter()).zip(&point.d1[k]) {
                *r = d * z;
            }
        }
    }

    // Loss head: R{δ_{L−1}} = ∇²_f ℓ · R{f}, on row-major copies.
    let rzo = &w.rz[n_layers - 1];
    let rf = sized(&mut w.rf, nb * m);
    for j in 0..m {
        for i in 0..nb {
            rf[i * m + j] = rzo[j * nb + i];
        }
    }
    let rdelta = sized(&mut w.rdelta, nb * m);
    loss_hessian_apply(head, &point.probs, m, 1, scale, rf, rdelta);
    let max_width = net.widths().iter().copied().max().unwrap_or(1);
    let mut dd = std::mem::take(&mut w.dd);
    let mut tt = std::mem::take(&mut w.tt);
    dd.resize(max_width * nb, 0.0);
    tt.resize(max_width * nb, 0.0);
    for j in 0..m {
        for i in 0..nb {
            dd[j * nb + i] = rdelta[i * m + j];
        }
    }

    for k in (0..n_layers).rev() {
        let l = net.layer(k);
        let (fi, fo) = (l.fan_in, l.fan_out);
        let out_w = &mut out[l.weight_offset..l.bias_offset];
        mul_add_bt(fi, nb, fo, &point.h[k], nb, &dd, nb, out_w, fo);
        if k > 0 {
            mul_add_bt(fi, nb, fo, &w.rh[k], nb, &point.delta[k], nb, out_w, fo);
        }
        let ob = &mut out[l.bias_offset..l.bias_offset + fo];
        for (j, o) in ob.iter_mut().enumerate() {
            *o += sum_lanes(&dd[j * nb..(j + 1) * nb]);
        }
        if k == 0 {
            break;
        }
        let pw = net.view(params, k).weights;
        let vw = net.view(v, k).weights;
        // t = W_k R{δ_k} + V_k δ_k, then R{δ_{k−1}} = t ⊙ σ' (+ g ⊙ σ'' ⊙ R{z_{k−1}}).
        mul_rows(fi, fo, nb, View::rows(pw, fo), &dd, nb, false, &mut tt, nb);
        mul_rows(
            fi,
            fo,
            nb,
            View::rows(vw, fo),
            &point.delta[k],
            nb,
            true,
            &mut tt,
            nb,
        );
        let d1 = &point.d1[k - 1];
        let gd2 = &point.gd2[k - 1];
        let t = &mut tt[..fi * nb];
        if gd2.is_empty() {
            for (r, d) in t.iter_mut().zip(d1) {
                *r *= d;
            }
        } else {
            for (((r, d), g), z) in t.iter_mut().zip(d1).zip(gd2).zip(&w.rz[k - 1]) {
                *r = *r * d + g * z;
            }
        }
        std::mem::swap(&mut dd, &mut tt);
    }
    w.dd = dd;
    w.tt = tt;
}

/// Adds G·v of one block to `out` (generalized Gauss-Newton; see the module docs).
#[allow(clippy::too_many_arguments)]
pub(crate) fn ggn_block(
    net: &Mlp,
    head: Head,
    params: &[f64],
    v: &[f64],
    x: &[f64],
    targets: BlockTargets<'_>,
    nb: usize,
    scale: f64,
    out: &mut [f64],
) {
    let state = forward_head(net, head, params, x, targets, nb, scale, false);
    let (rz, _) = r_forward(net, params, v, &state.tape);
    let m = net.output_dim();
    let mut u = vec![0.0; nb * m];
    loss_hessian_apply(
        head,
        &state.probs,
        m,
        1,
        scale,
        &rz[net.n_layers() - 1],
        &mut u,
    );
    backward(net, params, &state.tape, u, Some(out), false);
}

/// Reusable buffers of [`hessian_columns_block`] (kept across sample blocks so that large
/// buffers are not reallocated and zeroed for every block).
#[derive(Default)]
pub(crate) struct HessianWork {
    rz: Vec<Vec<f64>>,
    rh: Vec<Vec<f64>>,
    rdelta: Vec<f64>,
    rt: Vec<f64>,
    c1: Vec<f64>,
    c2: Vec<f64>,
    t_plain: Vec<f64>,
    first: Vec<f64>,
}

fn sized(v: &mut Vec<f64>, len: usize) -> &mut [f64] {
    v.resize(len, 0.0);
    &mut v[..len]
}

/// Columns of the Hessian for the unit tangents `t0..t1` (local indices, weights row-major
/// then bias) of layer `layer`, restricted to the rows of layers ≥ `layer`, summed over one
/// block of samples into `acc` (row-major: one row per tangent, columns = flat indices from
/// the start of `layer`).
///
/// Because a tangent of layer ℓ leaves R{h_k} = 0 for k ≤ ℓ, the forward R-pass starts at
/// layer ℓ and the backward R-pass can stop there (the rows of lower layers follow from the
/// symmetry of H). All tangents travel together, so each step is one matrix product. A unit
/// tangent makes R{z_ℓ} one scaled column per tangent, so the first step above ℓ (forward
/// and its R{h}ᵀδ term) is done as a rank-one update instead of a product.
#[allow(clippy::too_many_arguments)]
pub(crate) fn hessian_columns_block(
    net: &Mlp,
    head: Head,
    params: &[f64],
    x: &[f64],
    targets: BlockTargets<'_>,
    nb: usize,
    scale: f64,
    layer: usize,
    t0: usize,
    t1: usize,
    acc: &mut [f64],
    work: &mut HessianWork,
) {
    let state = forward_head(net, head, params, x, targets, nb, scale, true);
    let tape = &state.tape;
    let deltas = backward(net, params, tape, state.delta, None, true);
    let n_layers = net.n_layers();
    let m = net.output_dim();
    let n_tan = t1 - t0;
    let base = net.layer(layer).weight_offset;
    let width = net.n_params() - base;
    let curved: Vec<bool> = net
        .activations()
        .iter()
        .map(|a| a.second_derivative_may_be_nonzero())
        .collect();
    work.rz.resize(n_layers, Vec::new());
    work.rh.resize(n_layers, Vec::new());

    // R{z_ℓ} for each (sample, tangent): W_ℓ[a, b] gives h_ℓ[i, a] in column b, b_ℓ[b] gives 1.
    let lo = net.layer(layer);
    let hin = tape.input(layer);
    let column: Vec<usize> = (t0..t1)
        .map(|q| {
            if q < lo.fan_in * lo.fan_out {
                q % lo.fan_out
            } else {
                q - lo.fan_in * lo.fan_out
            }
        })
        .collect();
    {
        let rz = sized(&mut work.rz[layer], nb * n_tan * lo.fan_out);
        rz.fill(0.0);
        for i in 0..nb {
            for (t, q) in (t0..t1).enumerate() {
                let value = if q < lo.fan_in * lo.fan_out {
                    hin[i * lo.fan_in + q / lo.fan_out]
                } else {
                    1.0
                };
                rz[(i * n_tan + t) * lo.fan_out + column[t]] = value;
            }
        }
    }
    for k in layer + 1..n_layers {
        let l = net.layer(k);
        let (fi, fo) = (l.fan_in, l.fan_out);
        let d1 = &tape.d1[k - 1];
        let w = net.view(params, k).weights;
        let (lower, upper) = work.rz.split_at_mut(k);
        let prev = &lower[k - 1];
        let out = sized(&mut upper[0], nb * n_tan * fo);
        if k == layer + 1 {
            // R{h_{ℓ+1}}[i, t] = s[i, t] e_{b_t} with s = R{z_ℓ}[i, t, b_t] σ'(z_ℓ)[i, b_t].
            let first = sized(&mut work.first, nb * n_tan);
            for i in 0..nb {
                for t in 0..n_tan {
                    let b = column[t];
                    let sv = prev[(i * n_tan + t) * fi + b] * d1[i * fi + b];
                    first[i * n_tan + t] = sv;
                    let row = &mut out[(i * n_tan + t) * fo..(i * n_tan + t + 1) * fo];
                    for (o, wv) in row.iter_mut().zip(&w[b * fo..(b + 1) * fo]) {
                        *o = sv * wv;
                    }
                }
            }
        } else {
            let r = sized(&mut work.rh[k], nb * n_tan * fi);
            for i in 0..nb {
                let d = &d1[i * fi..(i + 1) * fi];
                let src = &prev[i * n_tan * fi..(i + 1) * n_tan * fi];
                let dst = &mut r[i * n_tan * fi..(i + 1) * n_tan * fi];
                for (drow, srow) in dst.chunks_exact_mut(fi).zip(src.chunks_exact(fi)) {
                    for ((o, sv), dv) in drow.iter_mut().zip(srow).zip(d) {
                        *o = sv * dv;
                    }
                }
            }
            gemm(
                nb * n_tan,
                fi,
                fo,
                1.0,
                View::rows(r, fi),
                View::rows(w, fo),
                0.0,
                out,
                fo,
            );
        }
    }

    let mut rdelta = std::mem::take(&mut work.rdelta);
    let mut rt = std::mem::take(&mut work.rt);
    {
        let rd = sized(&mut rdelta, nb * n_tan * m);
        loss_hessian_apply(
            head,
            &state.probs,
            m,
            n_tan,
            scale,
            &work.rz[n_layers - 1],
            rd,
        );
    }
    for k in (layer..n_layers).rev() {
        let l = net.layer(k);
        let (fi, fo) = (l.fan_in, l.fan_out);
        let col = l.weight_offset - base;
        let rd = &rdelta[..nb * n_tan * fo];
        // h_kᵀ R{δ_k}: (fi × nb)(nb × T·fo), entry (a, (t, b)).
        let c2 = sized(&mut work.c2, fi * n_tan * fo);
        gemm(
            fi,
            nb,
            n_tan * fo,
            1.0,
            View::transposed(tape.input(k), fi),
            View::rows(rd, n_tan * fo),
            0.0,
            c2,
            n_tan * fo,
        );
        for t in 0..n_tan {
            let dst = &mut acc[t * width + col..t * width + col + fi * fo];
            for a in 0..fi {
                let src = &c2[a * n_tan * fo + t * fo..a * n_tan * fo + (t + 1) * fo];
                for (d, s) in dst[a * fo..(a + 1) * fo].iter_mut().zip(src) {
                    *d += s;
                }
            }
        }
        // 1ᵀ R{δ_k} for the bias rows.
        for i in 0..nb {
            for t in 0..n_tan {
                let bias = &mut acc[t * width + col + fi * fo..t * width + col + fi * fo + fo];
                let src = &rd[(i * n_tan + t) * fo..(i * n_tan + t + 1) * fo];
                for (d, s) in bias.iter_mut().zip(src) {
                    *d += s;
                }
            }
        }
        if k == layer {
            break;
        }
        // R{h_k}ᵀ δ_k: rows (t, a), entry ((t, a), b) — contiguous per tangent like W_k.
        if k == layer + 1 {
            // Rank-one: only row a = b_t of tangent t is nonzero, Σ_i s[i, t] δ_k[i, :].
            for t in 0..n_tan {
                let dst = &mut acc
                    [t * width + col + column[t] * fo..t * width + col + (column[t] + 1) * fo];
                for i in 0..nb {
                    let sv = work.first[i * n_tan + t];
                    for (d, dv) in dst.iter_mut().zip(&deltas[k][i * fo..(i + 1) * fo]) {
                        *d += sv * dv;
                    }
                }
            }
        } else {
            let c1 = sized(&mut work.c1, n_tan * fi * fo);
            gemm(
                n_tan * fi,
                nb,
                fo,
                1.0,
                View {
                    data: &work.rh[k],
                    row_stride: 1,
                    col_stride: n_tan * fi,
                },
                View::rows(&deltas[k], fo),
                0.0,
                c1,
                fo,
            );
            for t in 0..n_tan {
                let dst = &mut acc[t * width + col..t * width + col + fi * fo];
                for (d, s) in dst.iter_mut().zip(&c1[t * fi * fo..(t + 1) * fi * fo]) {
                    *d += s;
                }
            }
        }
        // R{δ_{k−1}} = (R{δ_k} W_kᵀ) ⊙ σ'(z_{k−1}) + (δ_k W_kᵀ) ⊙ σ''(z_{k−1}) ⊙ R{z_{k−1}}.
        let w = net.view(params, k).weights;
        let rtk = sized(&mut rt, nb * n_tan * fi);
        gemm(
            nb * n_tan,
            fo,
            fi,
            1.0,
            View::rows(rd, fo),
            View::transposed(w, fo),
            0.0,
            rtk,
            fi,
        );
        let d1 = &tape.d1[k - 1];
        if curved[k - 1] {
            let tp = sized(&mut work.t_plain, nb * fi);
            gemm(
                nb,
                fo,
                fi,
                1.0,
                View::rows(&deltas[k], fo),
                View::transposed(w, fo),
                0.0,
                tp,
                fi,
            );
            let (d2, rzp) = (&tape.d2[k - 1], &work.rz[k - 1]);
            for i in 0..nb {
                for t in 0..n_tan {
                    let q = (i * n_tan + t) * fi;
                    for a in 0..fi {
                        let s = i * fi + a;
                        rtk[q + a] = rtk[q + a] * d1[s] + tp[s] * d2[s] * rzp[q + a];
                    }
                }
            }
        } else {
            for i in 0..nb {
                let d = &d1[i * fi..(i + 1) * fi];
                for row in rtk[i * n_tan * fi..(i + 1) * n_tan * fi].chunks_exact_mut(fi) {
                    for (rv, dv) in row.iter_mut().zip(d) {
                        *rv *= dv;
                    }
                }
            }
        }
        std::mem::swap(&mut rdelta, &mut rt);
    }
    work.rdelta = rdelta;
    work.rt = rt;
}
