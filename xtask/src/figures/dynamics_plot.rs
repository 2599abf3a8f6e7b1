//! Shared layout for the training-dynamics figures: a titled canvas of line panels, each
//! with axes, curves, optional markers and a legend in a chosen corner.

use crate::render::axis::{Axis, PlotBox};
use crate::render::colour;
use crate::render::draw::{
    self, Area, DrawResult, LegendEntry, LegendPlace, LineStyle, Marker, Shape, Swatch,
};

/// A curve of a panel; `label` None keeps it out of the legend.
pub struct Series {
    /// Data points (gaps where a value has no position on the axes).
    pub points: Vec<(f64, f64)>,
    /// Stroke.
    pub style: LineStyle,
    /// Legend text.
    pub label: Option<String>,
}

impl Series {
    /// A labelled curve.
    pub fn new(points: Vec<(f64, f64)>, style: LineStyle, label: impl Into<String>) -> Series {
        Series {
            points,
            style,
            label: Some(label.into()),
        }
    }

    /// A curve without a legend row.
    pub fn unlabelled(points: Vec<(f64, f64)>, style: LineStyle) -> Series {
        Series {
            points,
            style,
            label: None,
        }
    }
}

/// A disc marker of the given colour with a black outline.
pub fn disc(fill: plotters::style::RGBColor, size: i32) -> Marker {
    Marker {
        shape: Shape::Circle,
        size,
        fill,
        outline: colour::BLACK,
    }
}

/// Line colour k (cycling through the palette).
pub fn line_colour(k: usize) -> plotters::style::RGBColor {
    colour::LINES[k % colour::LINES.len()]
}

/// Draws one panel into `rect`: axes, the series in order, the markers, then the legend
/// (series rows first, then `extra` rows). Returns the plot box; curves are clipped at it.
#[allow(clippy::too_many_arguments)] // one call per panel, every argument named at the call
pub fn panel(
    root: &Area<'_>,
    rect: (i32, i32, i32, i32),
    x: &Axis,
    y: &Axis,
    series: &[Series],
    markers: &[((f64, f64), Marker)],
    extra: Vec<LegendEntry>,
    corner: LegendPlace,
) -> DrawResult<PlotBox> {
    let pbox = draw::draw_axes(root, rect, x, y)?;
    for s in series {
        draw::draw_line(root, &pbox, &s.points, s.style)?;
    }
    for &(p, m) in markers {
        draw::draw_marker(root, &pbox, p, m)?;
    }
    draw::draw_box_outline(root, &pbox)?;
    let mut entries: Vec<LegendEntry> = series
        .iter()
        .filter_map(|s| {
            s.label
                .as_ref()
                .map(|l| LegendEntry::new(Swatch::Line(s.style), l.clone()))
        })
        .collect();
    entries.extend(extra);
    if !entries.is_empty() {
        draw::draw_legend_inside(root, &pbox, &entries, corner, (10, 10))?;
    }
    Ok(pbox)
}
