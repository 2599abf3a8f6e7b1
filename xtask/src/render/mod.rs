//! Rendering shared by all figures: bundled font, colours, axes, marching-squares
//! contours, drawing primitives (lines, markers, legends, colour bars, cell maps), the
//! GIF writer and CSV output. Nothing here computes the project's numbers; it only turns
//! numbers from the library crates into pictures and tables.

pub mod animation;
pub mod axis;
pub mod colour;
pub mod contour;
pub mod draw;
pub mod font;
pub mod table;
pub mod text;

use std::error::Error;
use std::path::Path;

use plotters::prelude::*;

use draw::{Area, DrawResult};

/// Renders a PNG of `width` × `height` pixels: white background, then `paint`.
pub fn render_png(path: &Path, (width, height): (u32, u32), paint: impl FnOnce(&Area<'_>) -> DrawResult) -> Result<(), Box<dyn Error>> {
    font::register()?;
    let mut buffer = vec![255u8; width as usize * height as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut buffer, (width, height)).into_drawing_area();
        paint(&root)?;
        root.present()?;
    }
    save_png(path, &buffer, width, height)
}

/// Paints into an RGB buffer of `width` × `height` pixels (not cleared first).
pub fn paint_buffer(buffer: &mut [u8], (width, height): (u32, u32), paint: impl FnOnce(&Area<'_>) -> DrawResult) -> DrawResult {
    font::register()?;
    let root = BitMapBackend::with_buffer(buffer, (width, height)).into_drawing_area();
    paint(&root)?;
    root.present()?;
    Ok(())
}

/// Writes an RGB buffer as a PNG.
pub fn save_png(path: &Path, rgb: &[u8], width: u32, height: u32) -> Result<(), Box<dyn Error>> {
    let file = std::fs::File::create(path).map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    let mut encoder = png::Encoder::new(std::io::BufWriter::new(file), width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header()?;
    writer.write_image_data(rgb)?;
    writer.finish()?;
    Ok(())
}
