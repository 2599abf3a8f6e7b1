//! Colours: a sequential map for quantities, fixed colours for categories, line colours.
//!
//! Non-finite values never go through the sequential map: they get [`NON_FINITE`], which
//! no sequential value can produce, and a legend entry of their own.

use plotters::style::RGBColor;
use plotters::style::colors::colormaps::ViridisRGB;

/// Colour of a cell or point whose value is NaN or ±∞ (magenta: not in viridis).
pub const NON_FINITE: RGBColor = RGBColor(255, 0, 255);
/// Colour of a diverged run.
pub const DIVERGED: RGBColor = RGBColor(178, 24, 43);
/// Colour of a run that spent its step budget.
pub const UNFINISHED: RGBColor = RGBColor(190, 190, 190);
/// Black.
pub const BLACK: RGBColor = RGBColor(0, 0, 0);
/// White.
pub const WHITE: RGBColor = RGBColor(255, 255, 255);
/// Light grey for grid lines.
pub const GRID: RGBColor = RGBColor(225, 225, 225);

/// Line colours, distinguishable for colour-blind readers (Okabe and Ito's palette).
pub const LINES: [RGBColor; 6] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
];

/// Viridis at position `t` in [0, 1] (clamped); a non-finite `t` gives [`NON_FINITE`].
pub fn sequential(t: f64) -> RGBColor {
    if t.is_finite() {
        ViridisRGB::get_color(t.clamp(0.0, 1.0) as f32)
    } else {
        NON_FINITE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequential_ends_and_non_finite() {
        assert_eq!(sequential(0.0), RGBColor(68, 1, 84));
        assert_eq!(sequential(1.0), RGBColor(254, 232, 37));
        assert_eq!(sequential(-3.0), sequential(0.0));
        assert_eq!(sequential(f64::NAN), NON_FINITE);
        assert_eq!(sequential(f64::INFINITY), NON_FINITE);
        for i in 0..=100 {
            assert_ne!(sequential(i as f64 / 100.0), NON_FINITE);
        }
    }
}
