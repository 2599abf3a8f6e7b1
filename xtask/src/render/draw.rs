//! Drawing primitives on a bitmap: charts (axes, ticks, grid), clipped and dashed
//! polylines that break at values without a position, markers, legends, colour bars and
//! cell maps.
//!
//! Everything is drawn on the root drawing area in absolute pixels through a [`PlotBox`],
//! so that the same mapping serves lines, cells and markers; lines are clipped to the plot
//! box here, before plotters sees them, so huge or infinite coordinates never reach it.

use std::error::Error;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use super::axis::{Axis, PlotBox, format_number};
use super::colour;
use super::font;
use super::text::{self, Direction};

/// The drawing surface every figure uses.
pub type Area<'a> = DrawingArea<BitMapBackend<'a>, Shift>;

/// Result of a drawing routine.
pub type DrawResult<T = ()> = Result<T, Box<dyn Error>>;

/// How a line is stroked.
#[derive(Debug, Clone, Copy)]
pub struct LineStyle {
    /// Stroke colour.
    pub colour: RGBColor,
    /// Stroke width in pixels.
    pub width: u32,
    /// Dash and gap lengths in pixels, `None` for a solid line.
    pub dash: Option<(f64, f64)>,
}

impl LineStyle {
    /// A solid line.
    pub fn solid(colour: RGBColor, width: u32) -> LineStyle {
        LineStyle {
            colour,
            width,
            dash: None,
        }
    }

    /// A dashed line.
    pub fn dashed(colour: RGBColor, width: u32) -> LineStyle {
        LineStyle {
            colour,
            width,
            dash: Some((4.0 * width as f64 + 6.0, 3.0 * width as f64 + 3.0)),
        }
    }
}

/// Shape of a point marker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// A disc.
    Circle,
    /// An axis-aligned square.
    Square,
}

/// A point marker: shape, size (half-width in pixels), fill and outline.
#[derive(Debug, Clone, Copy)]
pub struct Marker {
    /// Shape.
    pub shape: Shape,
    /// Half-width in pixels.
    pub size: i32,
    /// Fill colour.
    pub fill: RGBColor,
    /// Outline colour.
    pub outline: RGBColor,
}

/// The sample drawn beside a legend label.
#[derive(Debug, Clone, Copy)]
pub enum Swatch {
    /// A short piece of line.
    Line(LineStyle),
    /// A point marker.
    Point(Marker),
    /// A line with a marker on it.
    LineAndPoint(LineStyle, Marker),
    /// A line drawn over a wider solid casing line of the given colour (the way a light
    /// line is drawn over cells of any colour).
    CasedLine(LineStyle, RGBColor, u32),
    /// A filled square (a category of cells).
    Patch(RGBColor),
    /// No sample: a row of text only.
    Blank,
}

/// One legend row.
#[derive(Debug, Clone)]
pub struct LegendEntry {
    /// Sample.
    pub swatch: Swatch,
    /// Text.
    pub label: String,
}

impl LegendEntry {
    /// A legend row.
    pub fn new(swatch: Swatch, label: impl Into<String>) -> LegendEntry {
        LegendEntry {
            swatch,
            label: label.into(),
        }
    }
}

/// Pixel sizes around a plot box: the label areas left and below it, the margins right
/// and above it.
#[derive(Debug, Clone, Copy)]
pub struct AxesLayout {
    /// Width of the y tick labels plus the y axis title.
    pub left: i32,
    /// Height of the x tick labels plus the x axis title.
    pub bottom: i32,
    /// Margin right of the plot box.
    pub right: i32,
    /// Margin above the plot box.
    pub top: i32,
}

impl AxesLayout {
    /// The layout [`draw_axes`] uses for these axes.
    pub fn for_axes(root: &Area<'_>, y: &Axis) -> AxesLayout {
        let y_label_width = y
            .ticks
            .iter()
            .map(|&v| text_width(root, &format_number(v), font::TICK_PX))
            .max()
            .unwrap_or(20);
        AxesLayout {
            left: y_label_width + 18 + (font::LABEL_PX * 1.6) as i32,
            bottom: (font::TICK_PX + font::LABEL_PX * 1.9) as i32,
            right: 12,
            top: 8,
        }
    }

    /// The rectangle to pass to [`draw_axes`] for a plot box of `width` × `height`
    /// pixels whose label areas start at `(left, top)`.
    pub fn rect_for_plot(
        &self,
        (left, top): (i32, i32),
        (width, height): (i32, i32),
    ) -> (i32, i32, i32, i32) {
        (
            left,
            top,
            left + self.left + width + self.right,
            top + self.top + height + self.bottom,
        )
    }
}

/// Draws axes, ticks, tick labels, axis titles and grid lines into the pixel rectangle
/// `(left, top, right, bottom)` of `root` and returns the plot box inside it.
pub fn draw_axes(
    root: &Area<'_>,
    rect: (i32, i32, i32, i32),
    x: &Axis,
    y: &Axis,
) -> DrawResult<PlotBox> {
    let (left, top, right, bottom) = rect;
    let layout = AxesLayout::for_axes(root, y);
    let area = root
        .clone()
        .shrink((left, top), ((right - left) as u32, (bottom - top) as u32));
    let (x_lo, x_hi) = x.unit_range();
    let (y_lo, y_hi) = y.unit_range();
    let x_coord = TickedRange {
        lo: x_lo,
        hi: x_hi,
        ticks: x.tick_units(),
        grid: x.grid_units(),
    };
    let y_coord = TickedRange {
        lo: y_lo,
        hi: y_hi,
        ticks: y.tick_units(),
        grid: y.grid_units(),
    };
    let mut chart = ChartBuilder::on(&area)
        .x_label_area_size(layout.bottom)
        .y_label_area_size(layout.left)
        .margin_right(layout.right)
        .margin_top(layout.top)
        .build_cartesian_2d(x_coord, y_coord)?;
    // Plotters draws the grid, the axis lines and the tick marks; the text is drawn below
    // with the bundled font's own metrics (see `text`).
    let no_label = |_: &f64| String::new();
    chart
        .configure_mesh()
        .x_label_formatter(&no_label)
        .y_label_formatter(&no_label)
        .label_style(font::text(font::TICK_PX))
        .bold_line_style(RGBColor(205, 205, 205))
        .light_line_style(colour::GRID)
        .axis_style(colour::BLACK)
        .set_all_tick_mark_size(6)
        .draw()?;
    let (xs, ys) = chart.plotting_area().get_pixel_range();
    let pbox = PlotBox {
        x: x.clone(),
        y: y.clone(),
        x_pixels: (xs.start as f64, (xs.end - 1) as f64),
        y_pixels: ((ys.end - 1) as f64, ys.start as f64),
    };
    let (l, _, r, b) = pbox.bounds();
    let tick_gap = 6 + 5;
    for u in x.tick_units() {
        let (px, _) = pbox.units_to_pixel(u, 0.0);
        let label = format_number(x.value_at(u));
        draw_text(
            root,
            &label,
            (px.round() as i32, b as i32 + tick_gap),
            font::TICK_PX,
            HPos::Center,
            VPos::Top,
        )?;
    }
    for u in y.tick_units() {
        let (_, py) = pbox.units_to_pixel(0.0, u);
        let label = format_number(y.value_at(u));
        draw_text(
            root,
            &label,
            (l as i32 - tick_gap, py.round() as i32),
            font::TICK_PX,
            HPos::Right,
            VPos::Center,
        )?;
    }
    let x_title_y = b as i32 + tick_gap + (font::TICK_PX * 1.25) as i32 + 4;
    draw_text(
        root,
        &x.label,
        (((l + r) / 2.0) as i32, x_title_y),
        font::LABEL_PX,
        HPos::Center,
        VPos::Top,
    )?;
    let y_title_x = left + 4;
    let y_centre = (ys.start + ys.end) / 2;
    let anchor = (HPos::Center, VPos::Top);
    text::draw(
        root,
        &y.label,
        (y_title_x, y_centre),
        font::LABEL_PX,
        colour::BLACK,
        anchor,
        Direction::Upwards,
    )?;
    Ok(pbox)
}

/// A linear coordinate in axis units whose tick marks and grid lines are given.
struct TickedRange {
    lo: f64,
    hi: f64,
    ticks: Vec<f64>,
    grid: Vec<f64>,
}

impl Ranged for TickedRange {
    type FormatOption = plotters::coord::ranged1d::DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        let t = (value - self.lo) / (self.hi - self.lo);
        let pixel = limit.0 as f64 + t * (limit.1 - limit.0) as f64;
        pixel.round().clamp(-1e6, 1e6) as i32
    }

    fn key_points<Hint: plotters::coord::ranged1d::KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            self.grid.clone()
        } else {
            self.ticks.clone()
        }
    }

    fn range(&self) -> std::ops::Range<f64> {
        self.lo..self.hi
    }
}

/// Draws the frame around a plot box (after cells have covered the grid lines).
pub fn draw_box_outline(root: &Area<'_>, pbox: &PlotBox) -> DrawResult {
    let (l, t, r, b) = pbox.bounds();
    let corners = [(l, t), (r, t), (r, b), (l, b), (l, t)];
    let points: Vec<(i32, i32)> = corners.iter().map(|&(x, y)| (x as i32, y as i32)).collect();
    root.draw(&PathElement::new(points, colour::BLACK.stroke_width(1)))?;
    Ok(())
}

/// Width in pixels of `text` at `size_px`.
pub fn text_width(_root: &Area<'_>, label: &str, size_px: f64) -> i32 {
    text::measure(label, size_px).0
}

/// Draws black horizontal `label` anchored at `(x, y)`.
pub fn draw_text(
    root: &Area<'_>,
    label: &str,
    (x, y): (i32, i32),
    size_px: f64,
    h: HPos,
    v: VPos,
) -> DrawResult {
    text::draw(
        root,
        label,
        (x, y),
        size_px,
        colour::BLACK,
        (h, v),
        Direction::Horizontal,
    )
}

/// Draws a title centred horizontally at row `y`.
pub fn draw_title(root: &Area<'_>, title: &str, y: i32) -> DrawResult {
    let (width, _) = root.dim_in_pixel();
    draw_text(
        root,
        title,
        (width as i32 / 2, y),
        font::TITLE_PX,
        HPos::Center,
        VPos::Top,
    )
}

/// Clips the segment p–q to the rectangle (Liang–Barsky); `None` when nothing is inside.
pub fn clip_segment(
    p: (f64, f64),
    q: (f64, f64),
    (left, top, right, bottom): (f64, f64, f64, f64),
) -> Option<((f64, f64), (f64, f64))> {
    if ![p.0, p.1, q.0, q.1].iter().all(|v| v.is_finite()) {
        return None;
    }
    let (dx, dy) = (q.0 - p.0, q.1 - p.1);
    let mut t0: f64 = 0.0;
    let mut t1: f64 = 1.0;
    for (denominator, numerator) in [
        (-dx, p.0 - left),
        (dx, right - p.0),
        (-dy, p.1 - top),
        (dy, bottom - p.1),
    ] {
        if denominator == 0.0 {
            if numerator < 0.0 {
                return None;
            }
        } else {
            let t = numerator / denominator;
            if denominator < 0.0 {
                t0 = t0.max(t);
            } else {
                t1 = t1.min(t);
            }
        }
    }
    if t0 > t1 {
        return None;
    }
    Some((
        (p.0 + t0 * dx, p.1 + t0 * dy),
        (p.0 + t1 * dx, p.1 + t1 * dy),
    ))
}

/// Splits a polyline given in pixels into the pieces inside `bounds`; a non-finite
/// point breaks the line.
pub fn clip_polyline(
    points: &[Option<(f64, f64)>],
    bounds: (f64, f64, f64, f64),
) -> Vec<Vec<(f64, f64)>> {
    let mut pieces: Vec<Vec<(f64, f64)>> = Vec::new();
    let mut current: Vec<(f64, f64)> = Vec::new();
    for pair in points.windows(2) {
        let clipped = match (pair[0], pair[1]) {
            (Some(p), Some(q)) => clip_segment(p, q, bounds),
            _ => None,
        };
        match clipped {
            Some((a, b)) => {
                let continues = current
                    .last()
                    .is_some_and(|last| (last.0 - a.0).abs() < 1e-9 && (last.1 - a.1).abs() < 1e-9);
                if !continues && !current.is_empty() {
                    pieces.push(std::mem::take(&mut current));
                }
                if current.is_empty() {
                    current.push(a);
                }
                current.push(b);
            }
            None => {
                if !current.is_empty() {
                    pieces.push(std::mem::take(&mut current));
                }
            }
        }
    }
    if !current.is_empty() {
        pieces.push(current);
    }
    // A single point (no segment) still shows as a marker elsewhere, not as a line.
    pieces
}

/// Splits a pixel polyline into dashes of `on` pixels separated by gaps of `off` pixels.
fn dash_polyline(points: &[(f64, f64)], on: f64, off: f64) -> Vec<Vec<(f64, f64)>> {
    let mut dashes = Vec::new();
    let mut current = vec![points[0]];
    let mut drawing = true;
    let mut left = on;
    for pair in points.windows(2) {
        let (mut p, q) = (pair[0], pair[1]);
        let mut length = ((q.0 - p.0).powi(2) + (q.1 - p.1).powi(2)).sqrt();
        while length > left {
            let t = left / length;
            let cut = (p.0 + t * (q.0 - p.0), p.1 + t * (q.1 - p.1));
            if drawing {
                current.push(cut);
                dashes.push(std::mem::take(&mut current));
            } else {
                current = vec![cut];
            }
            drawing = !drawing;
            length -= left;
            p = cut;
            left = if drawing { on } else { off };
        }
        left -= length;
        if drawing {
            current.push(q);
        }
    }
    if drawing && current.len() > 1 {
        dashes.push(current);
    }
    dashes
}

/// Draws a line through data points, breaking at points without a position (non-finite
/// values, values ≤ 0 on a log axis) and clipping at the plot box.
pub fn draw_line(
    root: &Area<'_>,
    pbox: &PlotBox,
    points: &[(f64, f64)],
    style: LineStyle,
) -> DrawResult {
    let pixels: Vec<Option<(f64, f64)>> =
        points.iter().map(|&(x, y)| pbox.to_pixel(x, y)).collect();
    draw_pixel_polyline(root, pbox, &pixels, style)
}

/// Draws unconnected data-space segments (for example contour pieces).
pub fn draw_segments(
    root: &Area<'_>,
    pbox: &PlotBox,
    segments: &[[(f64, f64); 2]],
    style: LineStyle,
) -> DrawResult {
    for seg in segments {
        let pixels = [
            pbox.to_pixel(seg[0].0, seg[0].1),
            pbox.to_pixel(seg[1].0, seg[1].1),
        ];
        draw_pixel_polyline(root, pbox, &pixels, style)?;
    }
    Ok(())
}

fn draw_pixel_polyline(
    root: &Area<'_>,
    pbox: &PlotBox,
    pixels: &[Option<(f64, f64)>],
    style: LineStyle,
) -> DrawResult {
    let stroke = style.colour.stroke_width(style.width);
    for piece in clip_polyline(pixels, pbox.bounds()) {
        let parts = match style.dash {
            Some((on, off)) => dash_polyline(&piece, on, off),
            None => vec![piece],
        };
        for part in parts {
            let ints: Vec<(i32, i32)> = part
                .iter()
                .map(|p| (p.0.round() as i32, p.1.round() as i32))
                .collect();
            if style.width > 1 {
                for run in split_at_sharp_turns(&thin_out(&ints)) {
                    root.draw(&PathElement::new(run, stroke))?;
                }
            } else {
                root.draw(&PathElement::new(ints, stroke))?;
            }
        }
    }
    Ok(())
}

/// Shortest segment of a thick line, in pixels.
const MIN_SEGMENT_PX: f64 = 2.0;

/// Drops the points of a pixel polyline closer than [`MIN_SEGMENT_PX`] to the last kept
/// one (the last point is always kept). A curve sampled more densely than the pixels,
/// rounded to whole pixels, is a staircase of 1-pixel steps; plotters' joins between such
/// steps stick out of a thick line as ragged teeth.
fn thin_out(points: &[(i32, i32)]) -> Vec<(i32, i32)> {
    let mut kept: Vec<(i32, i32)> = Vec::with_capacity(points.len());
    for (k, &p) in points.iter().enumerate() {
        let far = kept
            .last()
            .is_none_or(|q| f64::from(p.0 - q.0).hypot(f64::from(p.1 - q.1)) >= MIN_SEGMENT_PX);
        if far {
            kept.push(p);
        } else if k == points.len() - 1 && kept.len() > 1 {
            *kept.last_mut().expect("not empty") = p;
        } else if k == points.len() - 1 {
            kept.push(p);
        }
    }
    kept
}

/// Longest join allowed at a turn of a thick line, in half stroke widths (SVG's default
/// miter limit, and the length at which plotters bevels the outer corner).
const MITER_LIMIT: f64 = 4.0;

/// Splits a pixel polyline at the turns sharper than [`MITER_LIMIT`] allows; the pieces
/// share the turning point. Plotters strokes a thick polyline as one polygon whose
/// corners at such turns (on the inner side, and between short segments) can lie far
/// from the line, outside the plot box; pieces without such turns stay near it.
fn split_at_sharp_turns(points: &[(i32, i32)]) -> Vec<Vec<(i32, i32)>> {
    // A turn by φ between segment directions has a join of 1/cos(φ/2) half widths,
    // longer than the limit when cos φ < 2/limit² − 1.
    let min_cos = 2.0 / (MITER_LIMIT * MITER_LIMIT) - 1.0;
    let direction = |a: (i32, i32), b: (i32, i32)| {
        let (dx, dy) = ((b.0 - a.0) as f64, (b.1 - a.1) as f64);
        let length = dx.hypot(dy);
        (length > 0.0).then(|| (dx / length, dy / length))
    };
    let mut pieces = Vec::new();
    let mut current = Vec::with_capacity(points.len());
    // Direction of the last segment of non-zero length in the current piece.
    let mut incoming: Option<(f64, f64)> = None;
    for (k, &p) in points.iter().enumerate() {
        if k > 0 {
            let previous = points[k - 1];
            if let Some(outgoing) = direction(previous, p) {
                if let Some(inc) = incoming
                    && inc.0 * outgoing.0 + inc.1 * outgoing.1 < min_cos
                {
                    pieces.push(std::mem::replace(&mut current, vec![previous]));
                }
                incoming = Some(outgoing);
            }
        }
        current.push(p);
    }
    pieces.push(current);
    pieces
}

/// Draws a marker centred on pixel `(x, y)`.
pub fn draw_marker_at_pixel(root: &Area<'_>, (x, y): (i32, i32), marker: Marker) -> DrawResult {
    let s = marker.size;
    let fill = marker.fill.filled();
    let outline = marker.outline.stroke_width(2);
    match marker.shape {
        Shape::Circle => {
            root.draw(&Circle::new((x, y), s, fill))?;
            root.draw(&Circle::new((x, y), s, outline))?;
        }
        Shape::Square => {
            root.draw(&Rectangle::new([(x - s, y - s), (x + s, y + s)], fill))?;
            root.draw(&Rectangle::new([(x - s, y - s), (x + s, y + s)], outline))?;
        }
    }
    Ok(())
}

/// Draws a marker at a data point if it lies inside the plot box; returns whether it did.
pub fn draw_marker(
    root: &Area<'_>,
    pbox: &PlotBox,
    (x, y): (f64, f64),
    marker: Marker,
) -> DrawResult<bool> {
    let Some((px, py)) = pbox.to_pixel(x, y) else {
        return Ok(false);
    };
    let (l, t, r, b) = pbox.bounds();
    if !(px >= l && px <= r && py >= t && py <= b) {
        return Ok(false);
    }
    draw_marker_at_pixel(root, (px.round() as i32, py.round() as i32), marker)?;
    Ok(true)
}

const LEGEND_PAD: i32 = 10;
const SWATCH_WIDTH: i32 = 44;

fn legend_row_height() -> i32 {
    (font::LEGEND_PX * 1.55).round() as i32
}

/// Width and height in pixels of the legend box for `entries`.
pub fn legend_size(root: &Area<'_>, entries: &[LegendEntry]) -> (i32, i32) {
    let width = 2 * LEGEND_PAD
        + entries
            .iter()
            .map(|e| row_entry_width(root, e))
            .max()
            .unwrap_or(0);
    let height = 2 * LEGEND_PAD + legend_row_height() * entries.len() as i32 - 4;
    (width, height)
}

/// Draws a legend box with its top-left corner at `(x, y)`; returns its size.
pub fn draw_legend(
    root: &Area<'_>,
    (x, y): (i32, i32),
    entries: &[LegendEntry],
) -> DrawResult<(i32, i32)> {
    let (w, h) = legend_size(root, entries);
    root.draw(&Rectangle::new(
        [(x, y), (x + w, y + h)],
        colour::WHITE.mix(0.9).filled(),
    ))?;
    root.draw(&Rectangle::new(
        [(x, y), (x + w, y + h)],
        RGBColor(120, 120, 120).stroke_width(1),
    ))?;
    draw_legend_entries(root, (x, y), entries)?;
    Ok((w, h))
}

/// Where a legend sits inside a plot box.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LegendPlace {
    /// Top left corner.
    TopLeft,
    /// Top right corner.
    TopRight,
    /// Bottom left corner.
    BottomLeft,
    /// Centred horizontally, at the top.
    TopCentre,
    /// Centred horizontally, at the bottom.
    BottomCentre,
}

/// Draws a legend box inside the plot box at `place`, `inset` pixels (horizontal,
/// vertical) from the frame; returns its size.
pub fn draw_legend_inside(
    root: &Area<'_>,
    pbox: &PlotBox,
    entries: &[LegendEntry],
    place: LegendPlace,
    (inset_x, inset_y): (i32, i32),
) -> DrawResult<(i32, i32)> {
    let size = legend_size(root, entries);
    draw_legend(
        root,
        legend_origin(pbox, size, place, (inset_x, inset_y)),
        entries,
    )
}

/// Top-left corner of a legend box of `(w, h)` pixels inside the plot box at `place`,
/// `inset` pixels (horizontal, vertical) from the frame.
fn legend_origin(
    pbox: &PlotBox,
    (w, h): (i32, i32),
    place: LegendPlace,
    (inset_x, inset_y): (i32, i32),
) -> (i32, i32) {
    let (l, t, r, b) = pbox.bounds();
    let x = match place {
        LegendPlace::TopLeft | LegendPlace::BottomLeft => l as i32 + inset_x,
        LegendPlace::TopRight => r as i32 - inset_x - w,
        LegendPlace::TopCentre | LegendPlace::BottomCentre => ((l + r) / 2.0) as i32 - w / 2,
    };
    let y = match place {
        LegendPlace::TopLeft | LegendPlace::TopRight | LegendPlace::TopCentre => t as i32 + inset_y,
        LegendPlace::BottomLeft | LegendPlace::BottomCentre => b as i32 - inset_y - h,
    };
    (x, y)
}

/// Draws a legend box inside the plot box at the first of `places` whose box covers none
/// of the data points `occupied` (each polyline sampled along its pixels, so a vertical
/// line counts along its length); if every place covers some, at the one covering the
/// fewest. Returns the place chosen.
pub fn draw_legend_clear(
    root: &Area<'_>,
    pbox: &PlotBox,
    entries: &[LegendEntry],
    places: &[LegendPlace],
    inset: (i32, i32),
    occupied: &[&[(f64, f64)]],
) -> DrawResult<LegendPlace> {
    let (w, h) = legend_size(root, entries);
    // Pixel positions along every polyline, one every pixel or so.
    let mut pixels = Vec::new();
    for line in occupied {
        let mapped: Vec<Option<(f64, f64)>> =
            line.iter().map(|&(x, y)| pbox.to_pixel(x, y)).collect();
        for pair in mapped.windows(2) {
            if let [Some(a), Some(c)] = pair {
                let steps = ((c.0 - a.0).abs().max((c.1 - a.1).abs()).ceil() as usize).max(1);
                for k in 0..=steps {
                    let f = k as f64 / steps as f64;
                    pixels.push((a.0 + f * (c.0 - a.0), a.1 + f * (c.1 - a.1)));
                }
            }
        }
        if let [Some(p)] = mapped.as_slice() {
            pixels.push(*p);
        }
    }
    let covered = |place: LegendPlace| {
        let (x, y) = legend_origin(pbox, (w, h), place, inset);
        let (x, y) = (f64::from(x), f64::from(y));
        let (x1, y1) = (x + f64::from(w), y + f64::from(h));
        pixels
            .iter()
            .filter(|&&(px, py)| px >= x && px <= x1 && py >= y && py <= y1)
            .count()
    };
    let chosen = places
        .iter()
        .copied()
        .min_by_key(|&place| covered(place))
        .unwrap_or(LegendPlace::TopRight);
    draw_legend_inside(root, pbox, entries, chosen, inset)?;
    Ok(chosen)
}

/// Draws legend rows (swatch and text) without a box, as if the box's corner were at `(x, y)`.
fn draw_legend_entries(root: &Area<'_>, (x, y): (i32, i32), entries: &[LegendEntry]) -> DrawResult {
    let row = legend_row_height();
    for (k, entry) in entries.iter().enumerate() {
        let cy = y + LEGEND_PAD + row * k as i32 + row / 2 - 2;
        let (sx0, sx1) = (x + LEGEND_PAD, x + LEGEND_PAD + SWATCH_WIDTH);
        let text_x = if matches!(entry.swatch, Swatch::Blank) {
            sx0
        } else {
            sx1 + 10
        };
        // `shorten` caps dashes at 12/7 px so a few fit the swatch; a cased line keeps its
        // own dash lengths to look like the drawn line.
        let line_dashes = |style: LineStyle, shorten: bool| -> DrawResult {
            let points = [Some((sx0 as f64, cy as f64)), Some((sx1 as f64, cy as f64))];
            let bounds = (sx0 as f64, (cy - 20) as f64, sx1 as f64, (cy + 20) as f64);
            let stroke = style.colour.stroke_width(style.width);
            for piece in clip_polyline(&points, bounds) {
                let parts = match style.dash {
                    Some((on, off)) if shorten => dash_polyline(&piece, on.min(12.0), off.min(7.0)),
                    Some((on, off)) => dash_polyline(&piece, on, off),
                    None => vec![piece],
                };
                for part in parts {
                    let ints: Vec<(i32, i32)> =
                        part.iter().map(|p| (p.0 as i32, p.1 as i32)).collect();
                    root.draw(&PathElement::new(ints, stroke))?;
                }
            }
            Ok(())
        };
        let line = |style: LineStyle| line_dashes(style, true);
        // A light sample (a white line drawn over dark cells) gets a dark backdrop.
        let light = |c: RGBColor| 0.3 * c.0 as f64 + 0.59 * c.1 as f64 + 0.11 * c.2 as f64 > 200.0;
        if let Swatch::Line(style) | Swatch::LineAndPoint(style, _) = entry.swatch
            && light(style.colour)
        {
            let half = (font::LEGEND_PX * 0.5) as i32;
            root.draw(&Rectangle::new(
                [(sx0 - 3, cy - half), (sx1 + 3, cy + half)],
                RGBColor(90, 90, 90).filled(),
            ))?;
        }
        match entry.swatch {
            Swatch::Blank => {}
            Swatch::Line(style) => line(style)?,
            Swatch::Point(marker) => draw_marker_at_pixel(root, ((sx0 + sx1) / 2, cy), marker)?,
            Swatch::LineAndPoint(style, marker) => {
                line(style)?;
                draw_marker_at_pixel(root, ((sx0 + sx1) / 2, cy), marker)?;
            }
            Swatch::CasedLine(style, casing, width) => {
                line(LineStyle::solid(casing, width))?;
                line_dashes(style, false)?;
            }
            Swatch::Patch(fill) => {
                let half = (font::LEGEND_PX * 0.5) as i32;
                let rect = [
                    ((sx0 + sx1) / 2 - half - 4, cy - half),
                    ((sx0 + sx1) / 2 + half + 4, cy + half),
                ];
                root.draw(&Rectangle::new(rect, fill.filled()))?;
                root.draw(&Rectangle::new(rect, colour::BLACK.stroke_width(1)))?;
            }
        }
        draw_text(
            root,
            &entry.label,
            (text_x, cy),
            font::LEGEND_PX,
            HPos::Left,
            VPos::Center,
        )?;
    }
    Ok(())
}

/// Width of one entry of a legend row.
fn row_entry_width(root: &Area<'_>, entry: &LegendEntry) -> i32 {
    let swatch = if matches!(entry.swatch, Swatch::Blank) {
        0
    } else {
        SWATCH_WIDTH + 10
    };
    swatch + text_width(root, &entry.label, font::LEGEND_PX)
}

/// Draws a one-line legend (entries side by side) with its top-left corner at `(x0, y)`;
/// returns its size.
pub fn draw_legend_row(
    root: &Area<'_>,
    (x0, y): (i32, i32),
    entries: &[LegendEntry],
) -> DrawResult<(i32, i32)> {
    const GAP: i32 = 28;
    let widths: Vec<i32> = entries.iter().map(|e| row_entry_width(root, e)).collect();
    let w = 2 * LEGEND_PAD + widths.iter().sum::<i32>() + GAP * (entries.len() as i32 - 1).max(0);
    let h = 2 * LEGEND_PAD + legend_row_height() - 4;
    root.draw(&Rectangle::new(
        [(x0, y), (x0 + w, y + h)],
        colour::WHITE.filled(),
    ))?;
    root.draw(&Rectangle::new(
        [(x0, y), (x0 + w, y + h)],
        RGBColor(120, 120, 120).stroke_width(1),
    ))?;
    let mut x = x0 + LEGEND_PAD;
    for (entry, width) in entries.iter().zip(&widths) {
        // Reuse the vertical legend's drawing for one entry, without its box.
        draw_legend_entries(root, (x - LEGEND_PAD, y), std::slice::from_ref(entry))?;
        x += width + GAP;
    }
    Ok((w, h))
}

/// Draws a vertical colour bar in the pixel rectangle `(left, top, right, bottom)` with
/// ticks and labels on its right and the axis title rotated beside them; `colour_at`
/// gives the colour of a value. Returns the right-most pixel column used.
pub fn draw_colour_bar(
    root: &Area<'_>,
    (left, top, right, bottom): (i32, i32, i32, i32),
    axis: &Axis,
    colour_at: &dyn Fn(f64) -> RGBColor,
) -> DrawResult<i32> {
    let (u0, u1) = axis.unit_range();
    for py in top..=bottom {
        let t = (bottom - py) as f64 / (bottom - top).max(1) as f64;
        let value = axis.value_at(u0 + t * (u1 - u0));
        root.draw(&PathElement::new(
            vec![(left, py), (right, py)],
            colour_at(value).stroke_width(1),
        ))?;
    }
    root.draw(&Rectangle::new(
        [(left, top), (right, bottom)],
        colour::BLACK.stroke_width(1),
    ))?;
    let mut widest = 0;
    for u in axis.tick_units() {
        let py = bottom - ((u - u0) / (u1 - u0) * (bottom - top) as f64).round() as i32;
        root.draw(&PathElement::new(
            vec![(right, py), (right + 6, py)],
            colour::BLACK.stroke_width(1),
        ))?;
        let label = format_number(axis.value_at(u));
        widest = widest.max(text_width(root, &label, font::TICK_PX));
        draw_text(
            root,
            &label,
            (right + 10, py),
            font::TICK_PX,
            HPos::Left,
            VPos::Center,
        )?;
    }
    let title_x = right + 10 + widest + 10;
    let anchor = (HPos::Center, VPos::Top);
    text::draw(
        root,
        &axis.label,
        (title_x, (top + bottom) / 2),
        font::LABEL_PX,
        colour::BLACK,
        anchor,
        Direction::Upwards,
    )?;
    Ok(title_x + font::LABEL_PX as i32 + 4)
}

/// Cell centres along the two axes of a cell map, in axis units, increasing.
#[derive(Debug, Clone)]
pub struct CellCentres {
    /// Centres along x (axis units).
    pub x: Vec<f64>,
    /// Centres along y (axis units).
    pub y: Vec<f64>,
}

/// Index of the centre nearest to `u`, or `None` when `u` lies more than half a spacing
/// outside the first or last centre.
fn nearest_centre(centres: &[f64], u: f64) -> Option<usize> {
    let n = centres.len();
    if n == 0 || !u.is_finite() {
        return None;
    }
    let half_first = if n > 1 {
        0.5 * (centres[1] - centres[0])
    } else {
        0.5
    };
    let half_last = if n > 1 {
        0.5 * (centres[n - 1] - centres[n - 2])
    } else {
        0.5
    };
    if u < centres[0] - half_first || u > centres[n - 1] + half_last {
        return None;
    }
    let k = centres.partition_point(|&c| c < u);
    Some(match k {
        0 => 0,
        k if k == n => n - 1,
        k => {
            if u - centres[k - 1] <= centres[k] - u {
                k - 1
            } else {
                k
            }
        }
    })
}

/// Paints every pixel of the plot box with the colour of the nearest cell;
/// `colour_of(i, j)` gives the colour of cell (x index i, y index j).
pub fn draw_cells(
    root: &Area<'_>,
    pbox: &PlotBox,
    centres: &CellCentres,
    colour_of: &dyn Fn(usize, usize) -> RGBColor,
) -> DrawResult {
    let (l, t, r, b) = pbox.bounds();
    let (l, t, r, b) = (l as i32, t as i32, r as i32, b as i32);
    let columns: Vec<Option<usize>> = (l..=r)
        .map(|px| nearest_centre(&centres.x, pbox.pixel_to_units(px as f64, 0.0).0))
        .collect();
    for py in t..=b {
        let Some(j) = nearest_centre(&centres.y, pbox.pixel_to_units(0.0, py as f64).1) else {
            continue;
        };
        for (px, column) in (l..=r).zip(&columns) {
            if let Some(i) = column {
                root.draw_pixel((px, py), &colour_of(*i, j))?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOX: (f64, f64, f64, f64) = (0.0, 0.0, 100.0, 100.0);

    #[test]
    fn clipping_keeps_inside_and_cuts_at_the_border() {
        let inside = clip_segment((10.0, 10.0), (20.0, 30.0), BOX).unwrap();
        assert_eq!(inside, ((10.0, 10.0), (20.0, 30.0)));
        let (a, b) = clip_segment((50.0, 50.0), (250.0, 50.0), BOX).unwrap();
        assert_eq!(a, (50.0, 50.0));
        assert!((b.0 - 100.0).abs() < 1e-12);
        assert!(clip_segment((150.0, 0.0), (150.0, 100.0), BOX).is_none());
        assert!(clip_segment((0.0, 0.0), (f64::NAN, 1.0), BOX).is_none());
        // A point far away (a diverged run) is cut at the border, not drawn there.
        let (_, far) = clip_segment((50.0, 50.0), (50.0, -1e300), BOX).unwrap();
        assert!((far.1 - 0.0).abs() < 1e-9);
    }

    #[test]
    fn polylines_break_at_missing_points() {
        let points = [
            Some((1.0, 1.0)),
            Some((2.0, 2.0)),
            None,
            Some((3.0, 3.0)),
            Some((4.0, 4.0)),
        ];
        let pieces = clip_polyline(&points, BOX);
        assert_eq!(pieces.len(), 2);
        assert_eq!(pieces[0], vec![(1.0, 1.0), (2.0, 2.0)]);
        // A line leaving and re-entering the box is two pieces.
        let out_and_back = [Some((10.0, 10.0)), Some((200.0, 10.0)), Some((20.0, 20.0))];
        assert_eq!(clip_polyline(&out_and_back, BOX).len(), 2);
    }

    #[test]
    fn dashes_have_the_requested_lengths() {
        let dashes = dash_polyline(&[(0.0, 0.0), (100.0, 0.0)], 10.0, 5.0);
        assert_eq!(dashes.len(), 7);
        assert_eq!(dashes[0], vec![(0.0, 0.0), (10.0, 0.0)]);
        assert_eq!(dashes[1], vec![(15.0, 0.0), (25.0, 0.0)]);
    }

    /// Rows of `buffer` (RGB, `width` wide) holding a pixel of `colour`.
    fn rows_with(buffer: &[u8], width: usize, colour: RGBColor) -> Vec<usize> {
        let mut rows: Vec<usize> = buffer
            .chunks(3)
            .enumerate()
            .filter(|(_, p)| p == &[colour.0, colour.1, colour.2])
            .map(|(k, _)| k / width)
            .collect();
        rows.dedup();
        rows
    }

    #[test]
    fn thick_lines_stay_near_the_box_at_sharp_spikes() {
        // A zigzag of narrow spikes touching the top of the box: plotters' joins at such
        // turns reach far beyond the line (to the top of the image without the split).
        let (width, height) = (200usize, 200usize);
        let mut buffer = vec![255u8; width * height * 3];
        let red = RGBColor(255, 0, 0);
        {
            let root = BitMapBackend::with_buffer(&mut buffer, (width as u32, height as u32))
                .into_drawing_area();
            let pbox = PlotBox {
                x: Axis::new("x", 0.0, 1.0, crate::render::axis::Scale::Linear),
                y: Axis::new("y", 0.0, 1.0, crate::render::axis::Scale::Linear),
                x_pixels: (50.0, 150.0),
                y_pixels: (150.0, 50.0),
            };
            // 200 segments across 100 pixels: a noisy curve (a loss oscillating at the edge
            // of stability) drawn thick.
            let points: Vec<(f64, f64)> = (0..=200)
                .map(|k| (k as f64 / 200.0, if k % 2 == 0 { 0.3 } else { 1.0 }))
                .collect();
            draw_line(&root, &pbox, &points, LineStyle::solid(red, 3)).unwrap();
        }
        let rows = rows_with(&buffer, width, red);
        assert!(!rows.is_empty());
        // Half the stroke width beyond the frame at most, plus rounding.
        assert!(rows[0] >= 47, "line drawn up to row {}", rows[0]);
        assert!(
            *rows.last().unwrap() <= 153,
            "line drawn down to row {}",
            rows.last().unwrap()
        );
    }

    #[test]
    fn only_sharp_turns_split_a_thick_line() {
        let gentle = [(0, 0), (10, 0), (20, 5), (30, 15), (30, 30)];
        assert_eq!(split_at_sharp_turns(&gentle), vec![gentle.to_vec()]);
        // A turn of 160° splits; a repeated point does not hide it.
        let spike = [(0, 0), (10, 0), (10, 0), (0, 4), (0, 20)];
        assert_eq!(
            split_at_sharp_turns(&spike),
            vec![
                vec![(0, 0), (10, 0), (10, 0)],
                vec![(10, 0), (0, 4), (0, 20)]
            ]
        );
    }

    #[test]
    fn thinning_keeps_segments_of_two_pixels_and_the_end() {
        let staircase = [(0, 0), (1, 0), (1, 1), (2, 1), (3, 1), (3, 2), (4, 2)];
        assert_eq!(thin_out(&staircase), vec![(0, 0), (2, 1), (4, 2)]);
        // A last point too close to the kept one replaces it.
        assert_eq!(thin_out(&[(0, 0), (3, 0), (4, 0)]), vec![(0, 0), (4, 0)]);
        assert_eq!(thin_out(&[(0, 0), (1, 0)]), vec![(0, 0), (1, 0)]);
        assert_eq!(thin_out(&[(5, 5)]), vec![(5, 5)]);
    }

    #[test]
    fn nearest_centre_lookup() {
        let centres = [0.0, 1.0, 2.0, 3.0];
        assert_eq!(nearest_centre(&centres, -0.4), Some(0));
        assert_eq!(nearest_centre(&centres, -0.6), None);
        assert_eq!(nearest_centre(&centres, 1.4), Some(1));
        assert_eq!(nearest_centre(&centres, 1.6), Some(2));
        assert_eq!(nearest_centre(&centres, 3.5), Some(3));
        assert_eq!(nearest_centre(&centres, f64::NAN), None);
    }
}
