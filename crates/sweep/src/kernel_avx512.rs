//! The AVX-512 toy kernel with register-resident lane groups (x86-64 only).
//!
//! A block of `G` groups × 8 lanes (one 512-bit register per quantity and group) runs
//! bursts of `B` steps with all state — a, b, 2·lr, step count and cell index — held in
//! registers; only at the end of a burst are stopped lanes written out (their results) and
//! refilled from the queue with masked expand-loads, which take the next cells in order
//! into exactly the lanes that stopped.
//!
//! One step on a group with its keep mask k (the peers' order of operations):
//! r = a·b − 2 (or fma(a, b, −2)), k = (|r| ≤ R_div) ∧ (|r| ≥ R_conv) ∧ (t < S),
//! m = (−2·lr)·r, then a ← a + m·b, b ← b + m·a (or fma(m, b, a), fma(m, a, b)),
//! t ← t + 1 on the lanes of k only (masked add / fma, so a stopped lane keeps its exact
//! state). The budget test t < S is compiled out of bursts in which no lane can reach S.
//!
//! Why this is bit for bit the scalar rule ([`super::toy_cell_scalar`]):
//! - fl(x²) is non-decreasing in x ≥ 0 (x² is increasing, rounding is monotone), so
//!   {x ≥ 0 : fl(x²) ≤ bound} = [0, R_div] and {x ≥ 0 : fl(x²) ≥ tol} = [R_conv, ∞] for the
//!   thresholds found by [`Thresholds::new`]; a NaN r fails both ordered compares and stops
//!   the lane, as a NaN loss does.
//! - (−2·lr)·r = −fl(lr·(2·r)): doubling and negation are exact, so both are the single
//!   rounding of ∓2·lr·r; and x + (−y) = x − y exactly in IEEE arithmetic. That needs
//!   2·lr finite (lr ≤ f64::MAX/2) and 2·r finite on every lane whose update is kept, which
//!   holds when the divergence bound is finite (kept lanes have r² ≤ bound, so
//!   |r| < 1.4e154). The caller checks both ([`supports`]) and uses the generic kernel
//!   otherwise.
// `!(x <= bound)` would read NaN as diverged; here the masks are built from ordered
// compares, which are false for NaN, so a NaN loss stops a lane.
#![allow(unsafe_op_in_unsafe_fn)]

use std::arch::x86_64::*;

use std::mem::MaybeUninit;

use crate::kernel::{Cells, ToyCellResult, ToyParams, finish_cell};

/// Lane groups of 8 per block.
pub(super) const GROUPS: usize = 5;
/// Steps per burst.
pub(super) const BURST: usize = 16;

/// Whether the register kernel gives the generic kernel's bits for these inputs.
pub(super) fn supports(params: &ToyParams, learning_rate: &[f64]) -> bool {
    let rule = params.stop_rule;
    rule.divergence_bound.is_finite()
        && rule.divergence_bound >= 0.0
        && rule.convergence_tolerance.is_finite()
        && rule.convergence_tolerance >= 0.0
        && learning_rate.iter().all(|&lr| lr <= f64::MAX / 2.0)
}

/// Thresholds on |r| equivalent to the stop rule's tests on the loss fl(r²).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Thresholds {
    /// Largest x ≥ 0 with fl(x²) ≤ divergence bound.
    pub(super) r_div: f64,
    /// Smallest x ≥ 0 with fl(x²) ≥ convergence tolerance.
    pub(super) r_conv: f64,
}

impl Thresholds {
    /// Exact thresholds for a finite bound ≥ 0 and a finite tolerance ≥ 0, by bisection
    /// over the bit patterns of the non-negative doubles (ordered like their values).
    pub(super) fn new(convergence_tolerance: f64, divergence_bound: f64) -> Self {
        // Smallest x in [0, +∞] whose square passes `pred` (monotone: false, then true).
        let first = |pred: &dyn Fn(f64) -> bool| {
            let (mut lo, mut hi) = (0u64, f64::INFINITY.to_bits());
            if pred(0.0) {
                return 0.0;
            }
            // Invariant: pred(lo) is false, pred(hi) is true.
            while hi - lo > 1 {
                let mid = lo + (hi - lo) / 2;
                if pred(f64::from_bits(mid)) {
                    hi = mid;
                } else {
                    lo = mid;
                }
            }
            f64::from_bits(hi)
        };
        let above_bound = first(&|x| x * x > divergence_bound);
        let r_div = f64::from_bits(above_bound.to_bits() - 1);
        let r_conv = first(&|x| x * x >= convergence_tolerance);
        Thresholds { r_div, r_conv }
    }
}

/// Capacity of the staging arrays of finished lanes.
const STAGE: usize = 256;

/// Constants of the step.
#[derive(Clone, Copy)]
struct Consts {
    two: __m512d,
    minus_two: __m512d,
    r_div: __m512d,
    r_conv: __m512d,
    s: __m512d,
    one: __m512d,
}

/// r = a·b − 2 (rounding as the mode asks).
#[target_feature(enable = "avx512f")]
#[inline]
fn residual<const FUSED: bool>(a: __m512d, b: __m512d, c: &Consts) -> __m512d {
    if FUSED {
        _mm512_fmadd_pd(a, b, c.minus_two)
    } else {
        _mm512_sub_pd(_mm512_mul_pd(a, b), c.two)
    }
}

/// Lanes whose stop test does not fire: |r| in [R_conv, R_div] and (if `BUDGET`) t < S.
#[target_feature(enable = "avx512f")]
#[inline]
fn keep_mask<const BUDGET: bool>(r: __m512d, t: __m512d, c: &Consts) -> __mmask8 {
    let abs_r = _mm512_abs_pd(r);
    let k = if BUDGET {
        _mm512_cmp_pd_mask::<_CMP_LT_OQ>(t, c.s)
    } else {
        0xff
    };
    let k = _mm512_mask_cmp_pd_mask::<_CMP_LE_OQ>(k, abs_r, c.r_div);
    _mm512_mask_cmp_pd_mask::<_CMP_GE_OQ>(k, abs_r, c.r_conv)
}

/// One step on the lanes of a group that pass the stop test (see the module docs).
#[target_feature(enable = "avx512f")]
#[inline]
fn step<const FUSED: bool, const BUDGET: bool>(g: &mut Group, c: &Consts) {
    let (a, b, t) = (g.a, g.b, g.t);
    let r = residual::<FUSED>(a, b, c);
    let k = keep_mask::<BUDGET>(r, t, c);
    let m = _mm512_mul_pd(g.nlr2, r);
    if FUSED {
        g.a = _mm512_mask3_fmadd_pd(m, b, a, k);
        g.b = _mm512_mask3_fmadd_pd(m, a, b, k);
    } else {
        g.a = _mm512_mask_add_pd(a, k, a, _mm512_mul_pd(m, b));
        g.b = _mm512_mask_add_pd(b, k, b, _mm512_mul_pd(m, a));
    }
    g.t = _mm512_mask_add_pd(t, k, t, c.one);
}

/// State of one group of 8 lanes.
#[derive(Clone, Copy)]
struct Group {
    a: __m512d,
    b: __m512d,
    nlr2: __m512d,
    t: __m512d,
    slot: __m512i,
    live: __mmask8,
}

/// Runs all cells, writing every element of `out` exactly once.
///
/// Safety: the CPU must support AVX-512F; `out` and the input slices have equal length;
/// [`supports`] holds.
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn run<const FUSED: bool>(
    p: &ToyParams,
    cells: Cells<'_>,
    out: &mut [MaybeUninit<ToyCellResult>],
) {
    let n = cells.a0.len();
    debug_assert!(out.len() == n && cells.b0.len() == n && cells.learning_rate.len() == n);
    let th = Thresholds::new(
        p.stop_rule.convergence_tolerance,
        p.stop_rule.divergence_bound,
    );
    let c = Consts {
        two: _mm512_set1_pd(2.0),
        minus_two: _mm512_set1_pd(-2.0),
        r_div: _mm512_set1_pd(th.r_div),
        r_conv: _mm512_set1_pd(th.r_conv),
        s: _mm512_set1_pd(f64::from(p.max_steps)),
        one: _mm512_set1_pd(1.0),
    };
    // A lane may skip the budget test for a whole burst when t + BURST <= S.
    let fast_limit = _mm512_set1_pd(f64::from(p.max_steps) - BURST as f64);
    let iota = _mm512_set_epi64(7, 6, 5, 4, 3, 2, 1, 0);
    let (pa, pb, plr) = (
        cells.a0.as_ptr(),
        cells.b0.as_ptr(),
        cells.learning_rate.as_ptr(),
    );

    let mut next = 0usize;
    let mut groups = [Group {
        a: _mm512_setzero_pd(),
        b: _mm512_setzero_pd(),
        nlr2: _mm512_setzero_pd(),
        t: c.s,
        slot: _mm512_setzero_si512(),
        live: 0,
    }; GROUPS];
    for g in groups.iter_mut() {
        let take = (n - next).min(8);
        let k: __mmask8 = ((1u32 << take) - 1) as u8;
        // SAFETY: the mask covers only indices next..next+take <= n.
        g.a = _mm512_maskz_loadu_pd(k, pa.add(next));
        g.b = _mm512_maskz_loadu_pd(k, pb.add(next));
        let lr = _mm512_maskz_loadu_pd(k, plr.add(next));
        g.nlr2 = _mm512_mul_pd(lr, c.minus_two);
        // Idle lanes (outside k) sit at t = S so that they can never look live.
        g.t = _mm512_mask_mov_pd(c.s, k, _mm512_setzero_pd());
        g.slot = _mm512_add_epi64(_mm512_set1_epi64(next as i64), iota);
        g.live = k;
        next += take;
    }

    // Finished lanes are compressed into these staging arrays (8 elements of slack for the
    // full-width stores) and written to `out` in batches.
    let mut st_a = [0.0f64; STAGE + 8];
    let mut st_b = [0.0f64; STAGE + 8];
    let mut st_t = [0.0f64; STAGE + 8];
    let mut st_slot = [0i64; STAGE + 8];
    let mut m = 0usize;
    loop {
        // Budget test needed in this burst only if a live lane could reach S within it.
        let mut near = 0u8;
        for g in groups.iter() {
            near |= _mm512_mask_cmp_pd_mask::<_CMP_GT_OQ>(g.live, g.t, fast_limit);
        }
        if near == 0 {
            for _ in 0..BURST {
                for g in groups.iter_mut() {
                    step::<FUSED, false>(g, &c);
                }
            }
        } else {
            for _ in 0..BURST {
                for g in groups.iter_mut() {
                    step::<FUSED, true>(g, &c);
                }
            }
        }
        let mut any_live = 0u8;
        for g in groups.iter_mut() {
            let keep = keep_mask::<true>(residual::<FUSED>(g.a, g.b, &c), g.t, &c);
            let done = g.live & !keep;
            // SAFETY: m <= STAGE - 8 · GROUPS here, so m + 8 <= STAGE + 8.
            _mm512_storeu_pd(
                st_a.as_mut_ptr().add(m),
                _mm512_maskz_compress_pd(done, g.a),
            );
            _mm512_storeu_pd(
                st_b.as_mut_ptr().add(m),
                _mm512_maskz_compress_pd(done, g.b),
            );
            _mm512_storeu_pd(
                st_t.as_mut_ptr().add(m),
                _mm512_maskz_compress_pd(done, g.t),
            );
            _mm512_storeu_si512(
                st_slot.as_mut_ptr().add(m).cast(),
                _mm512_maskz_compress_epi64(done, g.slot),
            );
            let cnt = done.count_ones() as usize;
            m += cnt;
            let avail = n - next;
            let mut refill = done;
            if avail < cnt {
                for _ in avail..cnt {
                    refill &= !(0x80u8 >> refill.leading_zeros());
                }
            }
            let k_in: __mmask8 = if avail >= 8 {
                0xff
            } else {
                ((1u32 << avail) - 1) as u8
            };
            // SAFETY: the masked loads read only indices next..next + min(8, avail) <= n.
            let new_a = _mm512_maskz_loadu_pd(k_in, pa.add(next));
            let new_b = _mm512_maskz_loadu_pd(k_in, pb.add(next));
            let new_lr = _mm512_maskz_loadu_pd(k_in, plr.add(next));
            g.a = _mm512_mask_expand_pd(g.a, refill, new_a);
            g.b = _mm512_mask_expand_pd(g.b, refill, new_b);
            g.nlr2 = _mm512_mask_expand_pd(g.nlr2, refill, _mm512_mul_pd(new_lr, c.minus_two));
            g.t = _mm512_mask_mov_pd(g.t, refill, _mm512_setzero_pd());
            let idx = _mm512_add_epi64(_mm512_set1_epi64(next as i64), iota);
            g.slot = _mm512_mask_expand_epi64(g.slot, refill, idx);
            next += refill.count_ones() as usize;
            // A lane that stopped without a refill becomes idle at t = S.
            g.t = _mm512_mask_mov_pd(g.t, done & !refill, c.s);
            g.live = (g.live & !done) | refill;
            any_live |= g.live;
        }
        if m > STAGE - 8 * GROUPS || any_live == 0 {
            for k in 0..m {
                out[st_slot[k] as usize].write(finish_cell::<FUSED>(p, st_a[k], st_b[k], st_t[k]));
            }
            m = 0;
        }
        if any_live == 0 {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The thresholds reproduce the loss tests exactly, checked on the boundary ulps.
    #[test]
    fn thresholds_are_exact() {
        let up = |x: f64| f64::from_bits(x.to_bits() + 1);
        let down = |x: f64| f64::from_bits(x.to_bits() - 1);
        for (tol, bound) in [
            (1e-12, 1e12),
            (0.0, 1e300),
            (1e-300, 4.0),
            (2.0, 3.0),
            (5e-324, f64::MAX),
            (0.0, 0.5),
        ] {
            let th = Thresholds::new(tol, bound);
            assert!(th.r_div * th.r_div <= bound && up(th.r_div) * up(th.r_div) > bound);
            assert!(th.r_conv * th.r_conv >= tol);
            assert!(th.r_conv == 0.0 || down(th.r_conv) * down(th.r_conv) < tol);
        }
    }
}
