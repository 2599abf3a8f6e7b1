//! The AVX-512 toy kernel with register-resident lane groups (x86-64 only).
//!
//! A block of `G` groups × 8 lanes (one 512-bit register per quantity and group) runs
//! bursts of `B` steps with all state — a, b, 2·lr, step count and cell index — held in
//! registers; only at the end of a burst are stopped lanes written out (their results) and
//! refilled from the queue with masked expand-loads, which take the next cells in order
//! into exactly the lanes that stopped.
//!
//! One step on a group with its keep mask k (the peers' order of operations):
//! r = a·b − 2 (or fma(a, b, −2)), loss = r², k = (loss ≤ bound) ∧ (loss ≥ tolerance) ∧
//! (t < S), lg = (2·lr)·r, then a ← a − lg·b, b ← b − lg·a, t ← t + 1 on the lanes of k
//! only (masked subtract / fnmadd, so a stopped lane keeps its exact state).
//!
//! `(2·lr)·r` equals the scalar `lr·(2·r)` bit for bit: doubling is exact, so both are the
//! single rounding of the same real number 2·lr·r. That needs 2·lr finite (lr ≤ f64::MAX/2)
//! and 2·r finite on every lane whose update is kept, which holds when the divergence
//! bound is finite (kept lanes have r² ≤ bound, so |r| < 1.4e154). The caller checks both
//! ([`supports`]) and uses the generic kernel otherwise.
// `!(x <= bound)` would read NaN as diverged; here the masks are built from ordered
// compares, which are false for NaN, so a NaN loss stops a lane.
#![allow(unsafe_op_in_unsafe_fn)]

use std::arch::x86_64::*;

use std::mem::MaybeUninit;

use crate::kernel::{Cells, ToyCellResult, ToyParams, finish_cell};

/// Lane groups of 8 per block.
pub(super) const GROUPS: usize = 4;
/// Steps per burst.
pub(super) const BURST: usize = 8;

/// Whether the register kernel gives the generic kernel's bits for these inputs.
pub(super) fn supports(params: &ToyParams, learning_rate: &[f64]) -> bool {
    params.stop_rule.divergence_bound.is_finite()
        && learning_rate.iter().all(|&lr| lr <= f64::MAX / 2.0)
}

/// Capacity of the staging arrays of finished lanes.
const STAGE: usize = 256;

/// One step on the lanes of a group that pass the stop test (see the module docs).
#[target_feature(enable = "avx512f")]
#[inline]
fn step<const FUSED: bool>(
    g: &mut Group,
    minus_two: __m512d,
    two: __m512d,
    conv: __m512d,
    div: __m512d,
    s: __m512d,
    one: __m512d,
) {
    let (a, b, t) = (g.a, g.b, g.t);
    let r = if FUSED {
        _mm512_fmadd_pd(a, b, minus_two)
    } else {
        _mm512_sub_pd(_mm512_mul_pd(a, b), two)
    };
    let loss = _mm512_mul_pd(r, r);
    let k = _mm512_cmp_pd_mask::<_CMP_LE_OQ>(loss, div);
    let k = _mm512_mask_cmp_pd_mask::<_CMP_GE_OQ>(k, loss, conv);
    let k = _mm512_mask_cmp_pd_mask::<_CMP_LT_OQ>(k, t, s);
    let lg = _mm512_mul_pd(g.lr2, r);
    if FUSED {
        g.a = _mm512_mask3_fnmadd_pd(lg, b, a, k);
        g.b = _mm512_mask3_fnmadd_pd(lg, a, b, k);
    } else {
        g.a = _mm512_mask_sub_pd(a, k, a, _mm512_mul_pd(lg, b));
        g.b = _mm512_mask_sub_pd(b, k, b, _mm512_mul_pd(lg, a));
    }
    g.t = _mm512_mask_add_pd(t, k, t, one);
}

/// State of one group of 8 lanes.
#[derive(Clone, Copy)]
struct Group {
    a: __m512d,
    b: __m512d,
    lr2: __m512d,
    t: __m512d,
    slot: __m512i,
    live: __mmask8,
}

/// Runs all cells, writing every element of `out` exactly once.
///
/// Safety: the CPU must support AVX-512F; `out` and the input slices have equal length.
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn run<const FUSED: bool>(
    p: &ToyParams,
    cells: Cells<'_>,
    out: &mut [MaybeUninit<ToyCellResult>],
) {
    let n = cells.a0.len();
    debug_assert!(out.len() == n && cells.b0.len() == n && cells.learning_rate.len() == n);
    let s = _mm512_set1_pd(f64::from(p.max_steps));
    let conv = _mm512_set1_pd(p.stop_rule.convergence_tolerance);
    let div = _mm512_set1_pd(p.stop_rule.divergence_bound);
    let two = _mm512_set1_pd(2.0);
    let minus_two = _mm512_set1_pd(-2.0);
    let one = _mm512_set1_pd(1.0);
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
        lr2: _mm512_setzero_pd(),
        t: s,
        slot: _mm512_setzero_si512(),
        live: 0,
    }; GROUPS];
    for g in groups.iter_mut() {
        let take = (n - next).min(8);
        let k: __mmask8 = ((1u32 << take) - 1) as u8;
        // SAFETY: the mask covers only indices next..next+take < n.
        g.a = _mm512_maskz_loadu_pd(k, pa.add(next));
        g.b = _mm512_maskz_loadu_pd(k, pb.add(next));
        let lr = _mm512_maskz_loadu_pd(k, plr.add(next));
        g.lr2 = _mm512_add_pd(lr, lr);
        g.t = _mm512_mask_mov_pd(s, k, _mm512_setzero_pd());
        g.slot = _mm512_add_epi64(_mm512_set1_epi64(next as i64), iota);
        g.live = k;
        next += take;
    }

    // Loss and keep mask of a group at its current state.
    let check = |a: __m512d, b: __m512d, t: __m512d| -> (__m512d, __mmask8) {
        let r = if FUSED {
            _mm512_fmadd_pd(a, b, minus_two)
        } else {
            _mm512_sub_pd(_mm512_mul_pd(a, b), two)
        };
        let loss = _mm512_mul_pd(r, r);
        let k = _mm512_cmp_pd_mask::<_CMP_LE_OQ>(loss, div);
        let k = _mm512_mask_cmp_pd_mask::<_CMP_GE_OQ>(k, loss, conv);
        let k = _mm512_mask_cmp_pd_mask::<_CMP_LT_OQ>(k, t, s);
        (loss, k)
    };

    // Finished lanes are compressed into these staging arrays (8 elements of slack for the
    // full-width stores) and written to `out` in batches.
    let mut st_a = [0.0f64; STAGE + 8];
    let mut st_b = [0.0f64; STAGE + 8];
    let mut st_t = [0.0f64; STAGE + 8];
    let mut st_loss = [0.0f64; STAGE + 8];
    let mut st_slot = [0i64; STAGE + 8];
    let mut m = 0usize;
    loop {
        for _ in 0..BURST {
            for g in groups.iter_mut() {
                step::<FUSED>(g, minus_two, two, conv, div, s, one);
            }
        }
        let mut any_live = 0u8;
        for g in groups.iter_mut() {
            let (loss, keep) = check(g.a, g.b, g.t);
            let done = g.live & !keep;
            // SAFETY: m <= STAGE - 8 · GROUPS here, so m + 8 <= STAGE + 8.
            _mm512_storeu_pd(st_a.as_mut_ptr().add(m), _mm512_maskz_compress_pd(done, g.a));
            _mm512_storeu_pd(st_b.as_mut_ptr().add(m), _mm512_maskz_compress_pd(done, g.b));
            _mm512_storeu_pd(st_t.as_mut_ptr().add(m), _mm512_maskz_compress_pd(done, g.t));
            _mm512_storeu_pd(
                st_loss.as_mut_ptr().add(m),
                _mm512_maskz_compress_pd(done, loss),
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
            // SAFETY: the masked loads read only indices next..next + min(8, avail) < n.
            let new_a = _mm512_maskz_loadu_pd(k_in, pa.add(next));
            let new_b = _mm512_maskz_loadu_pd(k_in, pb.add(next));
            let new_lr = _mm512_maskz_loadu_pd(k_in, plr.add(next));
            g.a = _mm512_mask_expand_pd(g.a, refill, new_a);
            g.b = _mm512_mask_expand_pd(g.b, refill, new_b);
            g.lr2 = _mm512_mask_expand_pd(g.lr2, refill, _mm512_add_pd(new_lr, new_lr));
            g.t = _mm512_mask_mov_pd(g.t, refill, _mm512_setzero_pd());
            let idx = _mm512_add_epi64(_mm512_set1_epi64(next as i64), iota);
            g.slot = _mm512_mask_expand_epi64(g.slot, refill, idx);
            next += refill.count_ones() as usize;
            g.live = (g.live & !done) | refill;
            any_live |= g.live;
        }
        if m > STAGE - 8 * GROUPS || any_live == 0 {
            for k in 0..m {
                out[st_slot[k] as usize].write(finish_cell(
                    p, st_a[k], st_b[k], st_t[k], st_loss[k],
                ));
            }
            m = 0;
        }
        if any_live == 0 {
            break;
        }
    }
}
