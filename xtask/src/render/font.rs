//! The bundled font and the text sizes every figure uses.
//!
//! Figures must render on a machine without system fonts or font libraries, so the font
//! (DejaVu Sans, Bitstream Vera licence, see `xtask/assets/DejaVuSans-LICENSE.txt`) is
//! compiled into the binary and registered with plotters' `ab_glyph` text path under the
//! family name plotters uses by default.

use std::sync::OnceLock;

use plotters::style::{FontStyle, IntoFont, RGBColor, TextStyle};

/// DejaVu Sans, regular weight.
pub(crate) static DEJAVU_SANS: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");

/// Family name the font is registered under (plotters' default family).
pub const FAMILY: &str = "sans-serif";

/// Tick labels and legend entries, in pixels.
pub const TICK_PX: f64 = 18.0;
/// Axis titles, in pixels.
pub const LABEL_PX: f64 = 21.0;
/// Figure titles, in pixels.
pub const TITLE_PX: f64 = 27.0;
/// Legend entries, in pixels.
pub const LEGEND_PX: f64 = 18.0;

/// Registers the bundled font with plotters; cheap to call again.
pub fn register() -> Result<(), String> {
    static REGISTERED: OnceLock<Result<(), String>> = OnceLock::new();
    REGISTERED
        .get_or_init(|| {
            plotters::style::register_font(FAMILY, FontStyle::Normal, DEJAVU_SANS)
                .map_err(|_| "the bundled font DejaVuSans.ttf could not be parsed".to_owned())
        })
        .clone()
}

/// Black text in the bundled font at `size_px` pixels.
pub fn text(size_px: f64) -> TextStyle<'static> {
    (FAMILY, size_px).into_font().color(&RGBColor(0, 0, 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_font_registers_with_plotters() {
        register().unwrap();
        register().unwrap();
        let style = text(20.0);
        let (w, h) = plotters::style::FontDesc::box_size(&style.font, "λmax = 2/η")
            .expect("plotters lays out text in the bundled font");
        assert!(w > 60 && w < 200, "width {w}");
        assert!(h > 10 && h < 40, "height {h}");
    }
}
