//! Axes: linear or logarithmic scales, tick positions, tick labels, and the mapping
//! between data values and pixels of a plot box.
//!
//! Charts are built in "axis units" u: u = v on a linear axis, u = log10 v on a log axis.
//! Values that have no position on an axis (non-finite, or ≤ 0 on a log axis) map to
//! `None` and are never drawn as if they were ordinary values.

/// How values are spaced along an axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    /// Equal steps in the value.
    Linear,
    /// Equal steps in log10 of the value.
    Log,
}

/// One axis of a chart: its title, value range, scale and tick positions.
#[derive(Debug, Clone)]
pub struct Axis {
    /// Axis title with the quantity and its unit, if any.
    pub label: String,
    /// Smallest value shown.
    pub min: f64,
    /// Largest value shown.
    pub max: f64,
    /// Linear or logarithmic.
    pub scale: Scale,
    /// Values with a tick mark and a label.
    pub ticks: Vec<f64>,
    /// Values with a light grid line.
    pub grid: Vec<f64>,
}

impl Axis {
    /// An axis over [min, max] with automatically chosen ticks and grid lines.
    ///
    /// A degenerate or invalid range (non-finite, min ≥ max, or min ≤ 0 on a log axis)
    /// is widened to something drawable instead of failing.
    pub fn new(label: &str, min: f64, max: f64, scale: Scale) -> Axis {
        let (min, max) = sanitize_range(min, max, scale);
        let (ticks, grid) = match scale {
            Scale::Linear => {
                let ticks = linear_ticks(min, max, 7);
                (ticks.clone(), ticks)
            }
            Scale::Log => log_ticks(min, max),
        };
        Axis {
            label: label.to_owned(),
            min,
            max,
            scale,
            ticks,
            grid,
        }
    }

    /// Replaces the labelled ticks.
    pub fn with_ticks(mut self, ticks: Vec<f64>) -> Axis {
        self.ticks = ticks;
        self
    }

    /// Replaces the grid-line positions.
    pub fn with_grid(mut self, grid: Vec<f64>) -> Axis {
        self.grid = grid;
        self
    }

    /// Axis units of a value, `None` when it has no position on this axis.
    pub fn to_units(&self, value: f64) -> Option<f64> {
        match self.scale {
            Scale::Linear if value.is_finite() => Some(value),
            Scale::Log if value.is_finite() && value > 0.0 => Some(value.log10()),
            _ => None,
        }
    }

    /// The value at a position in axis units.
    pub fn value_at(&self, units: f64) -> f64 {
        match self.scale {
            Scale::Linear => units,
            Scale::Log => 10f64.powf(units),
        }
    }

    /// The axis range in axis units.
    pub fn unit_range(&self) -> (f64, f64) {
        (
            self.to_units(self.min).unwrap_or(0.0),
            self.to_units(self.max).unwrap_or(1.0),
        )
    }

    /// Ticks inside the range, in axis units.
    pub fn tick_units(&self) -> Vec<f64> {
        self.units_inside(&self.ticks)
    }

    /// Grid lines inside the range, in axis units.
    pub fn grid_units(&self) -> Vec<f64> {
        self.units_inside(&self.grid)
    }

    fn units_inside(&self, values: &[f64]) -> Vec<f64> {
        let (lo, hi) = self.unit_range();
        let slack = 1e-9 * (hi - lo);
        values
            .iter()
            .filter_map(|&v| self.to_units(v))
            .filter(|&u| u >= lo - slack && u <= hi + slack)
            .collect()
    }
}

/// Range of the finite (and, on a log axis, positive) values, or `None` if there are none.
pub fn data_range(values: impl IntoIterator<Item = f64>, scale: Scale) -> Option<(f64, f64)> {
    let mut range: Option<(f64, f64)> = None;
    for v in values {
        let usable = v.is_finite() && (scale == Scale::Linear || v > 0.0);
        if usable {
            range = Some(match range {
                None => (v, v),
                Some((lo, hi)) => (lo.min(v), hi.max(v)),
            });
        }
    }
    range
}

/// Widens a data range by `fraction` of its span on each side (in axis units).
pub fn pad_range((min, max): (f64, f64), fraction: f64, scale: Scale) -> (f64, f64) {
    match scale {
        Scale::Linear => {
            let pad = fraction * (max - min);
            (min - pad, max + pad)
        }
        Scale::Log => {
            let (lo, hi) = (min.log10(), max.log10());
            let pad = fraction * (hi - lo);
            (10f64.powf(lo - pad), 10f64.powf(hi + pad))
        }
    }
}

fn sanitize_range(min: f64, max: f64, scale: Scale) -> (f64, f64) {
    let usable = |v: f64| v.is_finite() && (scale == Scale::Linear || v > 0.0);
    let (mut min, mut max) = match (usable(min), usable(max)) {
        (true, true) => (min.min(max), min.max(max)),
        (true, false) => (min, min),
        (false, true) => (max, max),
        (false, false) => (if scale == Scale::Log { 1.0 } else { 0.0 }, 1.0),
    };
    if max <= min {
        match scale {
            Scale::Linear => {
                let half = if min == 0.0 { 1.0 } else { 0.1 * min.abs() };
                (min, max) = (min - half, max + half);
            }
            Scale::Log => (min, max) = (min / 10f64.sqrt(), max * 10f64.sqrt()),
        }
    }
    (min, max)
}

/// "Nice" tick values (1, 2 or 5 times a power of ten apart), about `target` of them.
pub fn linear_ticks(min: f64, max: f64, target: usize) -> Vec<f64> {
    let span = max - min;
    if !(span.is_finite() && span > 0.0) {
        return vec![];
    }
    let rough = span / target.max(1) as f64;
    let magnitude = 10f64.powf(rough.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|&s| s >= rough)
        .unwrap_or(10.0 * magnitude);
    let first = (min / step).ceil() as i64;
    let last = (max / step).floor() as i64;
    (first..=last).map(|k| k as f64 * step).collect()
}

/// Ticks and grid lines of a log axis: labelled decades (or 1-2-5 steps when the range
/// spans less than two decades), grid lines at every 1..9 multiple of each decade.
fn log_ticks(min: f64, max: f64) -> (Vec<f64>, Vec<f64>) {
    let first = min.log10().floor() as i32;
    let last = max.log10().ceil() as i32;
    let decades = (max / min).log10();
    let multiples: &[f64] = if decades <= 3.2 {
        &[1.0, 2.0, 5.0]
    } else {
        &[1.0]
    };
    let in_range = |v: &f64| *v >= min * (1.0 - 1e-9) && *v <= max * (1.0 + 1e-9);
    let mut ticks = vec![];
    let mut grid = vec![];
    let stride = ((last - first) / 8 + 1).max(1);
    for decade in first..=last {
        let base = 10f64.powi(decade);
        if (decade - first) % stride == 0 {
            ticks.extend(multiples.iter().map(|m| m * base).filter(in_range));
        }
        grid.extend((1..10).map(|m| m as f64 * base).filter(in_range));
    }
    (ticks, grid)
}

/// A tick label: up to four significant digits, no trailing zeros, powers of ten for very
/// large or small values, and a typographic minus sign.
pub fn format_number(value: f64) -> String {
    if !value.is_finite() {
        return format!("{value}");
    }
    if value == 0.0 {
        return "0".to_owned();
    }
    let magnitude = value.abs().log10().floor() as i32;
    let text = if !(-3..4).contains(&magnitude) {
        let mantissa = value / 10f64.powi(magnitude);
        let mantissa = trim_zeros(format!("{mantissa:.2}"));
        if mantissa == "1" {
            format!("1e{magnitude}")
        } else {
            format!("{mantissa}e{magnitude}")
        }
    } else {
        let decimals = (3 - magnitude).max(0) as usize;
        trim_zeros(format!("{value:.decimals$}"))
    };
    text.replace('-', "\u{2212}")
}

fn trim_zeros(text: String) -> String {
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        text
    }
}

/// The pixel rectangle of a chart's plotting area with its two axes: maps values to
/// pixels the same way plotters maps them, so drawings line up with the mesh.
#[derive(Debug, Clone)]
pub struct PlotBox {
    /// Horizontal axis.
    pub x: Axis,
    /// Vertical axis.
    pub y: Axis,
    /// Pixel column of x.min and of x.max.
    pub x_pixels: (f64, f64),
    /// Pixel row of y.min and of y.max (the first is the larger: rows grow downwards).
    pub y_pixels: (f64, f64),
}

impl PlotBox {
    /// Pixel position of the point in axis units.
    pub fn units_to_pixel(&self, ux: f64, uy: f64) -> (f64, f64) {
        let (x0, x1) = self.x.unit_range();
        let (y0, y1) = self.y.unit_range();
        let px = self.x_pixels.0 + (ux - x0) / (x1 - x0) * (self.x_pixels.1 - self.x_pixels.0);
        let py = self.y_pixels.0 + (uy - y0) / (y1 - y0) * (self.y_pixels.1 - self.y_pixels.0);
        (px, py)
    }

    /// Pixel position of a data point, `None` when a coordinate has no position.
    pub fn to_pixel(&self, x: f64, y: f64) -> Option<(f64, f64)> {
        Some(self.units_to_pixel(self.x.to_units(x)?, self.y.to_units(y)?))
    }

    /// Axis units at the centre of a pixel.
    pub fn pixel_to_units(&self, px: f64, py: f64) -> (f64, f64) {
        let (x0, x1) = self.x.unit_range();
        let (y0, y1) = self.y.unit_range();
        let ux = x0 + (px - self.x_pixels.0) / (self.x_pixels.1 - self.x_pixels.0) * (x1 - x0);
        let uy = y0 + (py - self.y_pixels.0) / (self.y_pixels.1 - self.y_pixels.0) * (y1 - y0);
        (ux, uy)
    }

    /// Left, top, right, bottom pixel bounds (inclusive).
    pub fn bounds(&self) -> (f64, f64, f64, f64) {
        (
            self.x_pixels.0,
            self.y_pixels.1,
            self.x_pixels.1,
            self.y_pixels.0,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linear_ticks_are_round_and_inside() {
        assert_eq!(
            linear_ticks(-10.5, 10.5, 7),
            vec![-10.0, -5.0, 0.0, 5.0, 10.0]
        );
        assert_eq!(
            linear_ticks(0.0, 0.05, 5),
            vec![0.0, 0.01, 0.02, 0.03, 0.04, 0.05]
        );
        assert!(linear_ticks(1.0, 1.0, 5).is_empty());
        assert!(linear_ticks(f64::NAN, 1.0, 5).is_empty());
    }

    #[test]
    fn log_axis_ticks_decades() {
        let axis = Axis::new("α", 0.1, 10.0, Scale::Log);
        assert_eq!(axis.ticks, vec![0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0]);
        let wide = Axis::new("λ", 1e-3, 1e3, Scale::Log);
        assert_eq!(wide.ticks.len(), 7);
        assert_eq!(wide.grid.len(), 6 * 9 + 1);
    }

    #[test]
    fn bad_ranges_become_drawable() {
        let a = Axis::new("x", f64::NAN, f64::INFINITY, Scale::Linear);
        assert!(a.min < a.max && a.min.is_finite() && a.max.is_finite());
        let b = Axis::new("x", -1.0, 5.0, Scale::Log);
        assert!(b.min > 0.0 && b.min < b.max);
        let c = Axis::new("x", 3.0, 3.0, Scale::Log);
        assert!(c.min < 3.0 && c.max > 3.0);
    }

    #[test]
    fn values_without_position_map_to_none() {
        let log = Axis::new("x", 0.1, 10.0, Scale::Log);
        assert_eq!(log.to_units(0.0), None);
        assert_eq!(log.to_units(-1.0), None);
        assert_eq!(log.to_units(f64::NAN), None);
        assert_eq!(log.to_units(100.0), Some(2.0));
        let lin = Axis::new("x", 0.0, 1.0, Scale::Linear);
        assert_eq!(lin.to_units(f64::NEG_INFINITY), None);
    }

    #[test]
    fn numbers_format_compactly() {
        assert_eq!(format_number(0.0), "0");
        assert_eq!(format_number(-10.0), "\u{2212}10");
        assert_eq!(format_number(0.025), "0.025");
        assert_eq!(format_number(0.1 + 0.2), "0.3");
        assert_eq!(format_number(1e-5), "1e\u{2212}5");
        assert_eq!(format_number(25000.0), "2.5e4");
        assert_eq!(format_number(123.456), "123.5");
    }

    #[test]
    fn pixels_round_trip() {
        let pbox = PlotBox {
            x: Axis::new("x", 0.1, 10.0, Scale::Log),
            y: Axis::new("y", -1.0, 1.0, Scale::Linear),
            x_pixels: (100.0, 500.0),
            y_pixels: (400.0, 0.0),
        };
        let (px, py) = pbox.to_pixel(1.0, 0.5).unwrap();
        assert!((px - 300.0).abs() < 1e-9 && (py - 100.0).abs() < 1e-9);
        let (ux, uy) = pbox.pixel_to_units(px, py);
        assert!((ux - 0.0).abs() < 1e-12 && (uy - 0.5).abs() < 1e-12);
        assert!(pbox.to_pixel(0.0, 0.5).is_none());
    }
}
