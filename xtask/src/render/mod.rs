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
pub fn render_png(
    path: &Path,
    (width, height): (u32, u32),
    paint: impl FnOnce(&Area<'_>) -> DrawResult,
) -> Result<(), Box<dyn Error>> {
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
pub fn paint_buffer(
    buffer: &mut [u8],
    (width, height): (u32, u32),
    paint: impl FnOnce(&Area<'_>) -> DrawResult,
) -> DrawResult {
    font::register()?;
    let root = BitMapBackend::with_buffer(buffer, (width, height)).into_drawing_area();
    paint(&root)?;
    root.present()?;
    Ok(())
}

/// Figures and tables are written like the sweep's result files: under a temporary name
/// beside the destination, renamed into place when complete (an interrupted run never
/// leaves a half-written file, and an old file stays whole until the new one replaces it).
pub use symstab_sweep::store::PendingFile as OutputFile;

/// Writes an RGB buffer as a PNG (atomically, through [`OutputFile`]).
pub fn save_png(path: &Path, rgb: &[u8], width: u32, height: u32) -> Result<(), Box<dyn Error>> {
    let mut out = OutputFile::create(path)?;
    {
        let mut encoder = png::Encoder::new(&mut out, width, height);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        // Figures are committed: spend the time on the smallest files.
        encoder.set_compression(png::Compression::Best);
        encoder.set_adaptive_filter(png::AdaptiveFilterType::Adaptive);
        let mut writer = encoder.write_header()?;
        writer.write_image_data(rgb)?;
        writer.finish()?;
    }
    Ok(out.persist()?)
}

#[cfg(test)]
mod tests {
    use super::axis::{Axis, Scale};
    use super::draw::{self, LineStyle};
    use super::*;

    /// The clear legend placement avoids a place the data run through, and takes the
    /// first candidate when all are clear.
    #[test]
    fn legends_avoid_the_data() {
        use draw::{LegendEntry, LegendPlace, Swatch};
        let (w, h) = (500u32, 400u32);
        let mut buffer = vec![255u8; (w * h * 3) as usize];
        let mut chosen = vec![];
        paint_buffer(&mut buffer, (w, h), |root| {
            let x = Axis::new("x", 0.0, 10.0, Scale::Linear);
            let y = Axis::new("y", 0.0, 10.0, Scale::Linear);
            let pbox = draw::draw_axes(root, (0, 0, w as i32, h as i32), &x, &y)?;
            let entries = [LegendEntry::new(Swatch::Blank, "a legend row")];
            let places = [LegendPlace::TopRight, LegendPlace::TopLeft];
            let corner_line = [(9.5, 0.0), (9.5, 10.0)];
            chosen.push(draw::draw_legend_clear(
                root,
                &pbox,
                &entries,
                &places,
                (10, 10),
                &[&corner_line],
            )?);
            let low_line = [(0.0, 0.5), (10.0, 0.5)];
            chosen.push(draw::draw_legend_clear(
                root,
                &pbox,
                &entries,
                &places,
                (10, 10),
                &[&low_line],
            )?);
            Ok(())
        })
        .unwrap();
        assert_eq!(chosen, vec![LegendPlace::TopLeft, LegendPlace::TopRight]);
    }

    /// An output file replaces its destination only when persisted, leaves no temporary
    /// file behind either way, and gets the permissions `File::create` would give.
    #[test]
    fn output_files_replace_their_destination_whole() {
        use std::io::Write;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("figure.csv");
        std::fs::write(&path, "old").unwrap();
        {
            let mut out = OutputFile::create(&path).unwrap();
            out.write_all(b"half").unwrap();
            // Dropped without persist: an interrupted or failed write.
        }
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "old");
        let mut out = OutputFile::create(&path).unwrap();
        out.write_all(b"new").unwrap();
        out.persist().unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
        let names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, vec!["figure.csv".to_owned()]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let plain = dir.path().join("plain");
            std::fs::File::create(&plain).unwrap();
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&path), mode(&plain));
        }
    }

    /// Lines, markers and cells fed with NaN, ±∞, zero and negative values on log axes
    /// render without panicking and paint nothing outside the plot box.
    #[test]
    fn non_finite_data_renders_safely() {
        let (w, h) = (400u32, 300u32);
        let mut buffer = vec![255u8; (w * h * 3) as usize];
        let mut bounds = None;
        paint_buffer(&mut buffer, (w, h), |root| {
            let x = Axis::new("x", 0.1, 10.0, Scale::Log);
            let y = Axis::new("y", f64::NAN, f64::INFINITY, Scale::Linear);
            let pbox = draw::draw_axes(root, (0, 0, w as i32, h as i32), &x, &y)?;
            let wild = [
                (1.0, 0.5),
                (f64::NAN, 0.2),
                (2.0, f64::INFINITY),
                (0.0, 0.3),
                (-1.0, 0.4),
                (1e300, 1e300),
                (3.0, 0.1),
                (5.0, -1e308),
            ];
            draw::draw_line(root, &pbox, &wild, LineStyle::solid(RGBColor(255, 0, 0), 3))?;
            draw::draw_line(
                root,
                &pbox,
                &wild,
                LineStyle::dashed(RGBColor(255, 0, 0), 2),
            )?;
            let marker = draw::Marker {
                shape: draw::Shape::Circle,
                size: 5,
                fill: RGBColor(255, 0, 0),
                outline: RGBColor(255, 0, 0),
            };
            for &p in &wild {
                draw::draw_marker(root, &pbox, p, marker)?;
            }
            bounds = Some(pbox.bounds());
            Ok(())
        })
        .unwrap();
        let (l, t, r, b) = bounds.unwrap();
        let mut red_inside = 0;
        for py in 0..h {
            for px in 0..w {
                let k = ((py * w + px) * 3) as usize;
                if buffer[k] > 200 && buffer[k + 1] < 60 && buffer[k + 2] < 60 {
                    let (x, y) = (px as f64, py as f64);
                    assert!(
                        x >= l - 3.0 && x <= r + 3.0 && y >= t - 3.0 && y <= b + 3.0,
                        "red pixel at ({px}, {py}) outside the box"
                    );
                    red_inside += 1;
                }
            }
        }
        assert!(red_inside > 100, "the finite parts are drawn");
    }
}
