//! An animated GIF writer for frames rendered into RGB buffers.
//!
//! GIF frame delays are in centiseconds, so a delay in milliseconds is rounded to the
//! nearest centisecond (60 ms → 6 cs) and kept at 2 cs or more: many viewers replace
//! delays of 0 or 1 cs by a slow default. After the first, full frame, each frame stores
//! only the bounding rectangle of the pixels that changed (disposal "keep"), which keeps
//! an animation of a growing path small. Each frame gets its own palette (exact when the
//! rectangle has at most 256 colours, NeuQuant otherwise).

use std::error::Error;
use std::path::Path;

use super::OutputFile;

use gif::{DisposalMethod, Encoder, Frame, Repeat};

/// GIF delay (centiseconds) for a frame time in milliseconds: rounded, at least 2 cs.
pub fn delay_centiseconds(frame_ms: u32) -> u16 {
    (frame_ms.saturating_add(5) / 10).clamp(2, u16::MAX as u32) as u16
}

/// Writes frames of one size to an endlessly looping GIF.
pub struct GifWriter {
    encoder: Encoder<OutputFile>,
    width: u16,
    height: u16,
    delay: u16,
    previous: Option<Vec<u8>>,
}

impl GifWriter {
    /// Creates `path` for frames of `width` × `height` pixels shown `frame_ms` each.
    pub fn create(
        path: &Path,
        width: u32,
        height: u32,
        frame_ms: u32,
    ) -> Result<GifWriter, Box<dyn Error>> {
        let width = u16::try_from(width).map_err(|_| format!("gif width {width} exceeds 65535"))?;
        let height =
            u16::try_from(height).map_err(|_| format!("gif height {height} exceeds 65535"))?;
        let file = OutputFile::create(path)?;
        let mut encoder = Encoder::new(file, width, height, &[])?;
        encoder.set_repeat(Repeat::Infinite)?;
        Ok(GifWriter {
            encoder,
            width,
            height,
            delay: delay_centiseconds(frame_ms),
            previous: None,
        })
    }

    /// Appends a frame given as tightly packed RGB bytes, row by row.
    pub fn push(&mut self, rgb: &[u8]) -> Result<(), Box<dyn Error>> {
        let (w, h) = (self.width as usize, self.height as usize);
        if rgb.len() != w * h * 3 {
            return Err(
                format!("gif frame has {} bytes, expected {}", rgb.len(), w * h * 3).into(),
            );
        }
        let (left, top, right, bottom) = match &self.previous {
            None => (0, 0, w - 1, h - 1),
            Some(previous) => changed_rectangle(previous, rgb, w, h).unwrap_or((0, 0, 0, 0)),
        };
        let (sub_w, sub_h) = (right - left + 1, bottom - top + 1);
        let mut sub = Vec::with_capacity(sub_w * sub_h * 3);
        for row in top..=bottom {
            sub.extend_from_slice(&rgb[(row * w + left) * 3..(row * w + right + 1) * 3]);
        }
        let mut frame = Frame::from_rgb_speed(sub_w as u16, sub_h as u16, &sub, 10);
        frame.left = left as u16;
        frame.top = top as u16;
        frame.delay = self.delay;
        frame.dispose = DisposalMethod::Keep;
        self.encoder.write_frame(&frame)?;
        self.previous = Some(rgb.to_vec());
        Ok(())
    }

    /// Ends the animation and renames the file onto its destination.
    pub fn finish(self) -> Result<(), Box<dyn Error>> {
        Ok(self.encoder.into_inner()?.persist()?)
    }
}

/// Inclusive bounding rectangle (left, top, right, bottom) of the pixels that differ.
fn changed_rectangle(
    a: &[u8],
    b: &[u8],
    w: usize,
    h: usize,
) -> Option<(usize, usize, usize, usize)> {
    let mut rect: Option<(usize, usize, usize, usize)> = None;
    for row in 0..h {
        let (ra, rb) = (
            &a[row * w * 3..(row + 1) * w * 3],
            &b[row * w * 3..(row + 1) * w * 3],
        );
        if ra == rb {
            continue;
        }
        let first = (0..w)
            .find(|&x| ra[x * 3..x * 3 + 3] != rb[x * 3..x * 3 + 3])
            .unwrap_or(0);
        let last = (0..w)
            .rev()
            .find(|&x| ra[x * 3..x * 3 + 3] != rb[x * 3..x * 3 + 3])
            .unwrap_or(w - 1);
        rect = Some(match rect {
            None => (first, row, last, row),
            Some((l, t, r, _)) => (l.min(first), t, r.max(last), row),
        });
    }
    rect
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_round_to_centiseconds() {
        assert_eq!(delay_centiseconds(60), 6);
        assert_eq!(delay_centiseconds(64), 6);
        assert_eq!(delay_centiseconds(65), 7);
        assert_eq!(delay_centiseconds(0), 2);
        assert_eq!(delay_centiseconds(u32::MAX), u16::MAX);
    }

    #[test]
    fn frames_decode_with_their_delay_and_content() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.gif");
        let (w, h) = (40usize, 30usize);
        let mut writer = GifWriter::create(&path, w as u32, h as u32, 60).unwrap();
        let mut canvas = vec![255u8; w * h * 3];
        writer.push(&canvas).unwrap();
        for step in 0..5 {
            let p = (10 + step) * 3 + (12 * w) * 3;
            canvas[p..p + 3].copy_from_slice(&[200, 0, 0]);
            writer.push(&canvas).unwrap();
        }
        writer.push(&canvas).unwrap(); // an unchanged frame still counts
        writer.finish().unwrap();

        let mut options = gif::DecodeOptions::new();
        options.set_color_output(gif::ColorOutput::RGBA);
        let mut decoder = options
            .read_info(std::fs::File::open(&path).unwrap())
            .unwrap();
        let mut composed = vec![0u8; w * h * 4];
        let mut count = 0;
        while let Some(frame) = decoder.read_next_frame().unwrap() {
            assert_eq!(frame.delay, 6);
            for y in 0..frame.height as usize {
                for x in 0..frame.width as usize {
                    let src = (y * frame.width as usize + x) * 4;
                    let dst = ((y + frame.top as usize) * w + x + frame.left as usize) * 4;
                    composed[dst..dst + 4].copy_from_slice(&frame.buffer[src..src + 4]);
                }
            }
            count += 1;
        }
        assert_eq!(count, 7);
        for (k, px) in composed.chunks_exact(4).enumerate() {
            assert_eq!(&px[..3], &canvas[k * 3..k * 3 + 3], "pixel {k}");
        }
    }

    #[test]
    fn changed_rectangle_bounds_the_differences() {
        let (w, h) = (5, 4);
        let a = vec![0u8; w * h * 3];
        let mut b = a.clone();
        assert_eq!(changed_rectangle(&a, &b, w, h), None);
        b[(w + 3) * 3] = 1;
        b[(2 * w + 1) * 3 + 2] = 1;
        assert_eq!(changed_rectangle(&a, &b, w, h), Some((1, 1, 3, 2)));
    }
}
