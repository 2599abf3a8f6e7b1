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
use crate::mlp::linalg::{View, add_column_sums, gemm};
use crate::mlp::network::Mlp;

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

/// Adds H·v of one block to `out` (exact, by the R-operator; see the module docs).
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
) {
    let state = forward_head(net, head, params, x, targets, nb, scale, true);
    let tape = &state.tape;
    let (rz, rh) = r_forward(net, params, v, tape);
    let n_layers = net.n_layers();
    let m = net.output_dim();
    let mut rdelta = vec![0.0; nb * m];
    loss_hessian_apply(
        head,
        &state.probs,
        m,
        1,
        scale,
        &rz[n_layers - 1],
        &mut rdelta,
    );
    let mut delta = state.delta;
    for k in (0..n_layers).rev() {
        let l = net.layer(k);
        let (fi, fo) = (l.fan_in, l.fan_out);
        let ow = &mut out[l.weight_offset..l.bias_offset];
        gemm(
            fi,
            nb,
            fo,
            1.0,
            View::transposed(tape.input(k), fi),
            View::rows(&rdelta, fo),
            1.0,
            ow,
            fo,
        );
        if k > 0 {
            gemm(
                fi,
                nb,
                fo,
                1.0,
                View::transposed(&rh[k - 1], fi),
                View::rows(&delta, fo),
                1.0,
                ow,
                fo,
            );
        }
        add_column_sums(&rdelta, nb, fo, &mut out[l.bias_offset..l.bias_offset + fo]);
        if k == 0 {
            break;
        }
        let w = net.view(params, k).weights;
        let vw = net.view(v, k).weights;
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
        let mut rt = vec![0.0; nb * fi];
        gemm(
            nb,
            fo,
            fi,
            1.0,
            View::rows(&rdelta, fo),
            View::transposed(w, fo),
            0.0,
            &mut rt,
            fi,
        );
        gemm(
            nb,
            fo,
            fi,
            1.0,
            View::rows(&delta, fo),
            View::transposed(vw, fo),
            1.0,
            &mut rt,
            fi,
        );
        let d1 = &tape.d1[k - 1];
        if net.activations()[k - 1].second_derivative_may_be_nonzero() {
            let (d2, rzp) = (&tape.d2[k - 1], &rz[k - 1]);
            for j in 0..nb * fi {
                rt[j] = rt[j] * d1[j] + t[j] * d2[j] * rzp[j];
            }
        } else {
            for (r, d) in rt.iter_mut().zip(d1) {
                *r *= d;
            }
        }
        for (tv, d) in t.iter_mut().zip(d1) {
            *tv *= d;
        }
        delta = t;
        rdelta = rt;
    }
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
