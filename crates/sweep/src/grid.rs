//! Grids of cells: learning rates × start points, in a canonical order.
//!
//! A cell is one gradient-descent run from one start point at one learning rate. Start
//! points come from a [`StartSet`]: a 2-D [`StartSet::Plane`] over (a, b), or points along
//! the rescale orbit a·b = c ([`StartSet::Orbit`]) parametrised by log α. Cells are
//! numbered `index = lr_idx · n_starts + start_idx`, where for the plane
//! `start_idx = i · n_b + j` (so `index = (lr_idx · n_a + i) · n_b + j`, the order of the
//! peer scripts).
// `!(x >= 0.0)` is deliberate: it also rejects NaN.
#![allow(clippy::neg_cmp_op_on_partial_ord)]

use serde::{Deserialize, Serialize};
use symstab_core::toy::ProductChain;
use symstab_core::{Error, StopRule};

/// Evenly spaced values with inclusive endpoints, like `numpy.linspace`.
///
/// Value i is `lo + i · ((hi − lo)/(n − 1))` for i < n − 1, the last value is exactly `hi`,
/// and a one-point axis is `[lo]`. The step is computed once, so the values are the same
/// bits as the peer scripts' `axis()`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "AxisFields", into = "AxisFields")]
pub struct Axis {
    lo: f64,
    hi: f64,
    n: usize,
}

#[derive(Serialize, Deserialize)]
struct AxisFields {
    lo: f64,
    hi: f64,
    n: usize,
}

impl TryFrom<AxisFields> for Axis {
    type Error = Error;
    fn try_from(f: AxisFields) -> Result<Self, Error> {
        Axis::new(f.lo, f.hi, f.n)
    }
}

impl From<Axis> for AxisFields {
    fn from(a: Axis) -> Self {
        AxisFields {
            lo: a.lo,
            hi: a.hi,
            n: a.n,
        }
    }
}

impl Axis {
    /// An axis of `n ≥ 1` points from `lo` to `hi` (both finite, `lo ≤ hi`).
    pub fn new(lo: f64, hi: f64, n: usize) -> Result<Self, Error> {
        if !lo.is_finite() {
            return Err(Error::invalid_value("axis lo", lo, "must be finite"));
        }
        if !hi.is_finite() {
            return Err(Error::invalid_value("axis hi", hi, "must be finite"));
        }
        if lo > hi {
            return Err(Error::invalid_value(
                "axis hi",
                hi,
                &format!("must be >= lo = {lo}"),
            ));
        }
        if n == 0 {
            return Err(Error::invalid_value(
                "axis n",
                n,
                "must be at least 1 (empty grid)",
            ));
        }
        if !((hi - lo) / (n.max(2) - 1) as f64).is_finite() {
            return Err(Error::invalid_value(
                "axis hi",
                hi,
                "span hi - lo overflows",
            ));
        }
        Ok(Axis { lo, hi, n })
    }

    /// First value.
    pub fn lo(&self) -> f64 {
        self.lo
    }

    /// Last value.
    pub fn hi(&self) -> f64 {
        self.hi
    }

    /// Number of values.
    pub fn len(&self) -> usize {
        self.n
    }

    /// Always false: an axis has at least one value.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The spacing (hi − lo)/(n − 1), or 0 for a one-point axis.
    pub fn step(&self) -> f64 {
        if self.n == 1 {
            0.0
        } else {
            (self.hi - self.lo) / (self.n - 1) as f64
        }
    }

    /// Value `i` (panics if `i >= len()`).
    #[inline]
    pub fn value(&self, i: usize) -> f64 {
        assert!(
            i < self.n,
            "axis index {i} out of range for {} values",
            self.n
        );
        if i + 1 == self.n && self.n > 1 {
            self.hi
        } else {
            self.lo + i as f64 * self.step()
        }
    }

    /// All values.
    pub fn values(&self) -> Vec<f64> {
        (0..self.n).map(|i| self.value(i)).collect()
    }
}

/// A non-empty list of learning rates, each finite and > 0.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "Vec<f64>", into = "Vec<f64>")]
pub struct LearningRates(Vec<f64>);

impl TryFrom<Vec<f64>> for LearningRates {
    type Error = Error;
    fn try_from(v: Vec<f64>) -> Result<Self, Error> {
        LearningRates::new(v)
    }
}

impl From<LearningRates> for Vec<f64> {
    fn from(l: LearningRates) -> Self {
        l.0
    }
}

impl LearningRates {
    /// Validates the list: non-empty, every rate finite and strictly positive.
    pub fn new(rates: Vec<f64>) -> Result<Self, Error> {
        if rates.is_empty() {
            return Err(Error::invalid_value(
                "learning_rates",
                "[]",
                "must not be empty",
            ));
        }
        for (k, &lr) in rates.iter().enumerate() {
            symstab_core::error::check_learning_rate(&format!("learning_rates[{k}]"), lr)?;
        }
        Ok(LearningRates(rates))
    }

    /// The rates, in order (`lr_idx` indexes this slice).
    pub fn as_slice(&self) -> &[f64] {
        &self.0
    }

    /// Number of rates.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Always false: the list is non-empty.
    pub fn is_empty(&self) -> bool {
        false
    }
}

/// The start points of a sweep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum StartSet {
    /// All points (a_i, b_j) of a 2-D grid; `start_idx = i · b.len() + j`.
    Plane {
        /// Values of the first factor a.
        a: Axis,
        /// Values of the second factor b.
        b: Axis,
    },
    /// Points on the rescale orbit a·b = `product`: (√|c|·α, sign(c)·√|c|/α) with
    /// α = e^{log α}; `start_idx` is the index on `log_alpha`. For c = 9: (3α, 3/α).
    Orbit {
        /// The conserved product c = a·b (finite).
        product: f64,
        /// Values of log α.
        log_alpha: Axis,
    },
}

/// Where a cell starts: the point (a, b) and, for orbit sweeps, its log α.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StartPoint {
    /// First factor a at the start.
    pub a: f64,
    /// Second factor b at the start.
    pub b: f64,
    /// log α on the orbit, `None` for a plane sweep.
    pub log_alpha: Option<f64>,
}

impl StartSet {
    /// Checks the values not already checked by [`Axis`]: the orbit's product is finite
    /// and both ends of the log α axis give a point ([`ProductChain::orbit_point`]: α
    /// finite and > 0; α is monotone in log α, so every point between is valid too).
    pub fn validate(&self) -> Result<(), Error> {
        if let StartSet::Orbit { product, log_alpha } = self {
            if !product.is_finite() {
                return Err(Error::invalid_value(
                    "orbit product",
                    product,
                    "must be finite",
                ));
            }
            for end in [log_alpha.lo(), log_alpha.hi()] {
                ProductChain::orbit_point(*product, end)?;
            }
        }
        Ok(())
    }

    /// Number of start points; panics when it overflows `usize` (a plane of more than
    /// 2^64 points, which [`SweepSpec::validate`] rejects). See [`StartSet::count`].
    pub fn len(&self) -> usize {
        self.checked_len()
            .expect("start point count overflows usize")
    }

    /// Number of start points, `None` when it overflows `usize`.
    pub fn checked_len(&self) -> Option<usize> {
        match self {
            StartSet::Plane { a, b } => a.len().checked_mul(b.len()),
            StartSet::Orbit { log_alpha, .. } => Some(log_alpha.len()),
        }
    }

    /// Number of start points, exactly (a product of two `usize` always fits a `u128`).
    pub fn count(&self) -> u128 {
        match self {
            StartSet::Plane { a, b } => a.len() as u128 * b.len() as u128,
            StartSet::Orbit { log_alpha, .. } => log_alpha.len() as u128,
        }
    }

    /// Always false: axes are non-empty.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Start point `start_idx` (panics if out of range, or for an orbit that fails
    /// [`StartSet::validate`]).
    pub fn point(&self, start_idx: usize) -> StartPoint {
        match self {
            StartSet::Plane { a, b } => {
                let (i, j) = (start_idx / b.len(), start_idx % b.len());
                StartPoint {
                    a: a.value(i),
                    b: b.value(j),
                    log_alpha: None,
                }
            }
            StartSet::Orbit { product, log_alpha } => {
                let la = log_alpha.value(start_idx);
                let [a, b] = ProductChain::orbit_point(*product, la)
                    .expect("log α range checked by StartSet::validate");
                StartPoint {
                    a,
                    b,
                    log_alpha: Some(la),
                }
            }
        }
    }
}

/// Rounding of the toy update.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Rounding {
    /// Separate IEEE multiplies and subtractions, in the order of the peer scripts:
    /// `r = a·b − 2; g = 2r; a' = a − (lr·g)·b; b' = b − (lr·g)·a`.
    #[default]
    Strict,
    /// Fused multiply-adds: `r = fma(a, b, −2); lg = lr·(2r); a' = fma(−lg, b, a);
    /// b' = fma(−lg, a, b)` (the peers' "fused" row).
    Fused,
}

/// A whole sweep: start points × learning rates, the step budget and the stop rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepSpec {
    /// The start points.
    pub starts: StartSet,
    /// The learning rates.
    pub learning_rates: LearningRates,
    /// Step budget S: a run still going after S updates is unfinished.
    pub max_steps: u32,
    /// Convergence tolerance and divergence bound, checked before every step.
    pub stop_rule: StopRule,
    /// Rounding of the toy update (ignored by the generic model runner).
    pub rounding: Rounding,
}

/// The coordinates of one cell.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cell {
    /// Canonical index `lr_idx · n_starts + start_idx`.
    pub index: usize,
    /// Index into the learning-rate list.
    pub lr_idx: usize,
    /// Index into the start set.
    pub start_idx: usize,
    /// The learning rate.
    pub learning_rate: f64,
    /// The start point.
    pub start: StartPoint,
}

impl SweepSpec {
    /// A spec with the default stop rule and strict rounding.
    pub fn new(starts: StartSet, learning_rates: LearningRates, max_steps: u32) -> Self {
        SweepSpec {
            starts,
            learning_rates,
            max_steps,
            stop_rule: StopRule::default(),
            rounding: Rounding::Strict,
        }
    }

    /// The peers' benchmark spec: a, b ∈ linspace(−10, 10, 400), learning rates
    /// 0.005, 0.01, 0.015, 0.02, 0.025, 1000 steps (800,000 cells).
    pub fn peer_benchmark() -> Self {
        let axis = Axis::new(-10.0, 10.0, 400).expect("valid axis");
        let lrs = LearningRates::new(vec![0.005, 0.01, 0.015, 0.02, 0.025]).expect("valid rates");
        SweepSpec::new(StartSet::Plane { a: axis, b: axis }, lrs, 1000)
    }

    /// Checks everything a deserialised spec could get wrong.
    pub fn validate(&self) -> Result<(), Error> {
        self.starts.validate()?;
        let rule = self.stop_rule;
        if !(rule.convergence_tolerance >= 0.0) || rule.convergence_tolerance.is_infinite() {
            return Err(Error::invalid_value(
                "stop_rule.convergence_tolerance",
                rule.convergence_tolerance,
                "must be finite and >= 0",
            ));
        }
        if !(rule.divergence_bound > rule.convergence_tolerance) {
            return Err(Error::invalid_value(
                "stop_rule.divergence_bound",
                rule.divergence_bound,
                "must exceed the convergence tolerance",
            ));
        }
        if self.n_cells().is_none() {
            return Err(Error::invalid_value(
                "cells",
                self.cell_count_text(),
                &format!("too many cells: at most {} can be indexed", usize::MAX),
            ));
        }
        Ok(())
    }

    /// Number of cells (`None` on overflow of `usize`).
    pub fn n_cells(&self) -> Option<usize> {
        self.starts
            .checked_len()?
            .checked_mul(self.learning_rates.len())
    }

    /// Number of cells exactly, `None` only beyond `u128::MAX`.
    pub fn cell_count(&self) -> Option<u128> {
        self.starts
            .count()
            .checked_mul(self.learning_rates.len() as u128)
    }

    /// The cell count as text for messages: the exact number, or `more than 2^128`
    /// when even a `u128` cannot hold it.
    pub fn cell_count_text(&self) -> String {
        count_text(self.cell_count())
    }

    /// Number of cells; panics on overflow (impossible for a validated spec).
    pub fn len(&self) -> usize {
        self.n_cells().expect("cell count overflows usize")
    }

    /// Always false: a spec has at least one cell.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The coordinates of cell `index` (panics if out of range).
    pub fn cell(&self, index: usize) -> Cell {
        let n_starts = self.starts.len();
        let (lr_idx, start_idx) = (index / n_starts, index % n_starts);
        Cell {
            index,
            lr_idx,
            start_idx,
            learning_rate: self.learning_rates.as_slice()[lr_idx],
            start: self.starts.point(start_idx),
        }
    }

    /// A stable 64-bit hash of the spec (FNV-1a over its canonical JSON), used to tie
    /// stored results to the spec that produced them.
    pub fn hash64(&self) -> u64 {
        let text = serde_json::to_string(self).expect("spec serialises");
        fnv1a64(text.as_bytes())
    }
}

/// A count computed with checked arithmetic, as text for messages: the number, or
/// `more than 340282366920938463463374607431768211455` (`u128::MAX`) when it overflowed.
pub fn count_text(count: Option<u128>) -> String {
    match count {
        Some(n) => n.to_string(),
        None => format!("more than {}", u128::MAX),
    }
}

/// FNV-1a, 64 bit.
pub(crate) fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &byte in bytes {
        h ^= u64::from(byte);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_matches_linspace_rule() {
        let ax = Axis::new(-10.0, 10.0, 400).unwrap();
        let step = 20.0f64 / 399.0;
        assert_eq!(ax.value(0).to_bits(), (-10.0f64).to_bits());
        assert_eq!(ax.value(7).to_bits(), (-10.0f64 + 7.0 * step).to_bits());
        assert_eq!(ax.value(399).to_bits(), 10.0f64.to_bits());
        assert_eq!(Axis::new(2.0, 5.0, 1).unwrap().values(), vec![2.0]);
    }

    #[test]
    fn bad_axes_name_the_field() {
        let e = Axis::new(0.0, 1.0, 0).unwrap_err().to_string();
        assert!(e.contains("axis n") && e.contains('0'), "{e}");
        let e = Axis::new(f64::NAN, 1.0, 3).unwrap_err().to_string();
        assert!(e.contains("axis lo") && e.contains("NaN"), "{e}");
        let e = Axis::new(2.0, 1.0, 3).unwrap_err().to_string();
        assert!(e.contains("axis hi"), "{e}");
        let e = LearningRates::new(vec![0.1, -0.5]).unwrap_err().to_string();
        assert!(e.contains("learning_rates[1]") && e.contains("-0.5"), "{e}");
        assert!(LearningRates::new(vec![]).is_err());
        assert!(LearningRates::new(vec![f64::INFINITY]).is_err());
    }

    #[test]
    fn cell_order_is_canonical() {
        let spec = SweepSpec::new(
            StartSet::Plane {
                a: Axis::new(0.0, 2.0, 3).unwrap(),
                b: Axis::new(0.0, 3.0, 4).unwrap(),
            },
            LearningRates::new(vec![0.1, 0.2]).unwrap(),
            10,
        );
        assert_eq!(spec.len(), 24);
        let (lr_idx, i, j) = (1, 2, 1);
        let c = spec.cell((lr_idx * 3 + i) * 4 + j);
        assert_eq!(
            (c.lr_idx, c.start.a, c.start.b, c.learning_rate),
            (1, 2.0, 1.0, 0.2)
        );
    }

    #[test]
    fn orbit_points_lie_on_the_orbit() {
        let orbit = |product: f64, lo: f64, hi: f64| StartSet::Orbit {
            product,
            log_alpha: Axis::new(lo, hi, 2).unwrap(),
        };
        let p = orbit(9.0, 0.0, 2.0f64.ln());
        p.validate().unwrap();
        let (s0, s1) = (p.point(0), p.point(1));
        assert_eq!((s0.a, s0.b, s0.log_alpha), (3.0, 3.0, Some(0.0)));
        assert!((s1.a - 6.0).abs() < 1e-14 && (s1.b - 1.5).abs() < 1e-14);
        let s = orbit(-4.0, 0.5, 0.5).point(0);
        assert!((s.a * s.b + 4.0).abs() < 1e-12 && s.a > 0.0 && s.b < 0.0);
    }

    #[test]
    fn orbit_ends_where_alpha_overflows_are_rejected() {
        for (lo, hi) in [(0.0, 800.0), (-800.0, 0.0)] {
            let bad = StartSet::Orbit {
                product: 9.0,
                log_alpha: Axis::new(lo, hi, 3).unwrap(),
            };
            let e = bad.validate().unwrap_err().to_string();
            assert!(e.contains("log_alpha") && e.contains("800"), "{e}");
        }
    }

    #[test]
    fn spec_json_round_trip_and_validation() {
        let spec = SweepSpec::peer_benchmark();
        let text = serde_json::to_string(&spec).unwrap();
        let back: SweepSpec = serde_json::from_str(&text).unwrap();
        assert_eq!(back, spec);
        assert_eq!(back.hash64(), spec.hash64());
        let bad = text.replace("\"n\":400", "\"n\":0");
        let err = serde_json::from_str::<SweepSpec>(&bad)
            .unwrap_err()
            .to_string();
        assert!(err.contains("axis n"), "{err}");
    }
}
