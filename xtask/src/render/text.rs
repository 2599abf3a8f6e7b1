//! Text layout and rasterisation with the bundled font through ab_glyph.
//!
//! Glyphs are placed at their advance widths with kerning and drawn with their own side
//! bearings, and coverage is blended into the bitmap, so spacing is even at every size.
//! Text can be drawn horizontally or rotated a quarter turn to read upwards (axis titles).

use std::sync::OnceLock;

use ab_glyph::{Font, FontRef, Glyph, PxScale, ScaleFont, point};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use super::draw::{Area, DrawResult};
use super::font::DEJAVU_SANS;

/// Direction of a line of text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Left to right.
    Horizontal,
    /// Bottom to top (rotated a quarter turn anticlockwise).
    Upwards,
}

fn face() -> Result<&'static FontRef<'static>, String> {
    static FACE: OnceLock<Option<FontRef<'static>>> = OnceLock::new();
    FACE.get_or_init(|| FontRef::try_from_slice(DEJAVU_SANS).ok())
        .as_ref()
        .ok_or_else(|| "the bundled font DejaVuSans.ttf could not be parsed".to_owned())
}

/// Glyphs of one line positioned from a caret at x = 0, baseline at y = ascent, with the
/// line's width and height (ascent − descent) in pixels.
struct Line {
    glyphs: Vec<Glyph>,
    width: f32,
    height: f32,
}

fn layout(font: &FontRef<'static>, text: &str, size_px: f64) -> Line {
    let scaled = font.as_scaled(PxScale::from(size_px as f32));
    let mut caret = 0.0f32;
    let mut previous = None;
    let mut glyphs = Vec::with_capacity(text.len());
    for c in text.chars() {
        let id = scaled.glyph_id(c);
        if let Some(p) = previous {
            caret += scaled.kern(p, id);
        }
        glyphs.push(id.with_scale_and_position(scaled.scale(), point(caret, scaled.ascent())));
        caret += scaled.h_advance(id);
        previous = Some(id);
    }
    Line {
        glyphs,
        width: caret,
        height: scaled.ascent() - scaled.descent(),
    }
}

/// Width and height in pixels of `text` at `size_px`.
pub fn measure(text: &str, size_px: f64) -> (i32, i32) {
    match face() {
        Ok(font) => {
            let line = layout(font, text, size_px);
            (line.width.ceil() as i32, line.height.ceil() as i32)
        }
        Err(_) => (0, 0),
    }
}

/// Draws `text` in `colour`, its line box anchored at `(x, y)` by `h` and `v` (before
/// rotation: for upward text "left" is the bottom end).
pub fn draw(
    root: &Area<'_>,
    text: &str,
    (x, y): (i32, i32),
    size_px: f64,
    colour: RGBColor,
    (h, v): (HPos, VPos),
    direction: Direction,
) -> DrawResult {
    let font = face()?;
    let line = layout(font, text, size_px);
    let dx = match h {
        HPos::Left => 0.0,
        HPos::Center => line.width / 2.0,
        HPos::Right => line.width,
    };
    let dy = match v {
        VPos::Top => 0.0,
        VPos::Center => line.height / 2.0,
        VPos::Bottom => line.height,
    };
    let mut pixels: Vec<((i32, i32), f32)> = Vec::new();
    for glyph in line.glyphs {
        let Some(outline) = font.outline_glyph(glyph) else {
            continue;
        };
        let bounds = outline.px_bounds();
        outline.draw(|gx, gy, coverage| {
            let lx = bounds.min.x + gx as f32 - dx;
            let ly = bounds.min.y + gy as f32 - dy;
            let (sx, sy) = match direction {
                Direction::Horizontal => (x as f32 + lx, y as f32 + ly),
                Direction::Upwards => (x as f32 + ly, y as f32 - lx),
            };
            pixels.push(((sx.round() as i32, sy.round() as i32), coverage.min(1.0)));
        });
    }
    for (position, coverage) in pixels {
        if coverage > 0.0 {
            root.draw_pixel(position, &colour.mix(coverage as f64))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widths_add_up_and_grow_with_size() {
        let (w1, h1) = measure("2/λmax = η", 18.0);
        let (w2, h2) = measure("2/λmax = η", 36.0);
        assert!(w1 > 60 && h1 >= 18, "{w1}×{h1}");
        assert!((w2 - 2 * w1).abs() <= 2 && h2 > h1);
        assert_eq!(measure("", 18.0).0, 0);
    }

    #[test]
    fn text_lands_inside_its_box_in_both_directions() {
        let (w, h) = (200u32, 200u32);
        let mut buffer = vec![255u8; (w * h * 3) as usize];
        let (tw, th) = measure("Hello", 20.0);
        {
            let root = BitMapBackend::with_buffer(&mut buffer, (w, h)).into_drawing_area();
            draw(
                &root,
                "Hello",
                (10, 10),
                20.0,
                RGBColor(0, 0, 0),
                (HPos::Left, VPos::Top),
                Direction::Horizontal,
            )
            .unwrap();
            draw(
                &root,
                "Hello",
                (150, 190),
                20.0,
                RGBColor(0, 0, 0),
                (HPos::Left, VPos::Top),
                Direction::Upwards,
            )
            .unwrap();
            root.present().unwrap();
        }
        let dark = |x: u32, y: u32| buffer[((y * w + x) * 3) as usize] < 128;
        let mut horizontal = (u32::MAX, u32::MAX, 0, 0);
        let mut upwards = (u32::MAX, u32::MAX, 0, 0);
        for y in 0..h {
            for x in 0..w {
                if dark(x, y) {
                    let target = if x < 100 {
                        &mut horizontal
                    } else {
                        &mut upwards
                    };
                    *target = (
                        target.0.min(x),
                        target.1.min(y),
                        target.2.max(x),
                        target.3.max(y),
                    );
                }
            }
        }
        // Horizontal: within [10, 10 + tw] × [10, 10 + th].
        assert!(
            horizontal.0 >= 10
                && horizontal.2 <= 10 + tw as u32
                && horizontal.1 >= 10
                && horizontal.3 <= 10 + th as u32,
            "{horizontal:?}"
        );
        // Upwards: the text runs up from y = 190 and extends right of x = 150.
        assert!(
            upwards.0 >= 150 && upwards.2 <= 150 + th as u32,
            "{upwards:?}"
        );
        assert!(
            upwards.3 <= 190 && upwards.1 >= 190 - tw as u32,
            "{upwards:?}"
        );
        assert!(
            upwards.3 - upwards.1 > upwards.2 - upwards.0,
            "upward text is taller than wide"
        );
    }
}
