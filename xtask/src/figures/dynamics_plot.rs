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

/// Where a panel's legend goes.
#[derive(Debug, Clone, Copy)]
pub enum LegendAt {
    /// Inside the plot box, in a corner.
    Inside(LegendPlace),
    /// Above the plot box, right-aligned with it: the plot box gives up the legend's
    /// height, so no curve can run under the legend (for data that spikes anywhere).
    AboveRight,
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
    panel_with_legend(
        root,
        rect,
        x,
        y,
        series,
        markers,
        extra,
        LegendAt::Inside(corner),
    )
}

/// [`panel`] with the legend placed by `legend`.
#[allow(clippy::too_many_arguments)] // one call per panel, every argument named at the call
pub fn panel_with_legend(
    root: &Area<'_>,
    rect: (i32, i32, i32, i32),
    x: &Axis,
    y: &Axis,
    series: &[Series],
    markers: &[((f64, f64), Marker)],
    extra: Vec<LegendEntry>,
    legend: LegendAt,
) -> DrawResult<PlotBox> {
    let mut entries: Vec<LegendEntry> = series
        .iter()
        .filter_map(|s| {
            s.label
                .as_ref()
                .map(|l| LegendEntry::new(Swatch::Line(s.style), l.clone()))
        })
        .collect();
    entries.extend(extra);
    let (left, top, right, bottom) = rect;
    let size = draw::legend_size(root, &entries);
    let above = match legend {
        LegendAt::AboveRight if !entries.is_empty() => size.1 + LEGEND_GAP,
        _ => 0,
    };
    let plot_rect = (left, top + above, right, bottom);
    let pbox = draw::draw_axes(root, plot_rect, x, y)?;
    for s in series {
        draw::draw_line(root, &pbox, &s.points, s.style)?;
    }
    for &(p, m) in markers {
        draw::draw_marker(root, &pbox, p, m)?;
    }
    draw::draw_box_outline(root, &pbox)?;
    if !entries.is_empty() {
        match legend {
            LegendAt::Inside(corner) => {
                draw::draw_legend_inside(root, &pbox, &entries, corner, (10, 10))?;
            }
            LegendAt::AboveRight => {
                let (_, _, frame_right, _) = pbox.bounds();
                draw::draw_legend(root, (frame_right as i32 - size.0, top), &entries)?;
            }
        }
    }
    Ok(pbox)
}

/// Pixels between a legend above a panel and the panel's frame.
const LEGEND_GAP: i32 = 8;
