//! Contour lines of a function sampled on a rectilinear grid, by marching squares.
//!
//! Each grid cell whose four corner values are finite is classified by which corners lie
//! at or above the level; crossings are placed on the cell edges by linear interpolation,
//! and the two saddle configurations are resolved by the mean of the four corners. Cells
//! with a non-finite corner produce no line (the line breaks there).

/// A sampled function z(x_i, y_j) on a grid, stored row by row: `values[j * xs.len() + i]`.
#[derive(Debug, Clone)]
pub struct GridValues<'a> {
    /// Sample positions along x, increasing.
    pub xs: &'a [f64],
    /// Sample positions along y, increasing.
    pub ys: &'a [f64],
    /// Values, `xs.len() * ys.len()` of them.
    pub values: &'a [f64],
}

/// One straight piece of a contour line, from one cell edge to another, in data coordinates.
pub type Segment = [(f64, f64); 2];

/// The contour line(s) at `level` as unordered segments.
///
/// Panics if `values.len() != xs.len() * ys.len()` (a programming error, not data).
pub fn contour_segments(grid: &GridValues<'_>, level: f64) -> Vec<Segment> {
    let (nx, ny) = (grid.xs.len(), grid.ys.len());
    assert_eq!(
        grid.values.len(),
        nx * ny,
        "grid values must be xs.len() * ys.len()"
    );
    let mut segments = Vec::new();
    if !level.is_finite() || nx < 2 || ny < 2 {
        return segments;
    }
    let z = |i: usize, j: usize| grid.values[j * nx + i];
    for j in 0..ny - 1 {
        for i in 0..nx - 1 {
            // Corners counter-clockwise from the lower left: 00, 10, 11, 01.
            let corners = [z(i, j), z(i + 1, j), z(i + 1, j + 1), z(i, j + 1)];
            if corners.iter().any(|v| !v.is_finite()) {
                continue;
            }
            let above = corners.map(|v| v >= level);
            let case = above
                .iter()
                .enumerate()
                .fold(0u8, |acc, (k, &a)| acc | (u8::from(a) << k));
            if case == 0 || case == 15 {
                continue;
            }
            let points = [
                (grid.xs[i], grid.ys[j]),
                (grid.xs[i + 1], grid.ys[j]),
                (grid.xs[i + 1], grid.ys[j + 1]),
                (grid.xs[i], grid.ys[j + 1]),
            ];
            // Edge k joins corner k and corner k + 1 (mod 4): bottom, right, top, left.
            let crossing = |edge: usize| {
                let (a, b) = (edge, (edge + 1) % 4);
                let t = (level - corners[a]) / (corners[b] - corners[a]);
                let (pa, pb) = (points[a], points[b]);
                (pa.0 + t * (pb.0 - pa.0), pa.1 + t * (pb.1 - pa.1))
            };
            if case == 5 || case == 10 {
                let centre_above = corners.iter().sum::<f64>() / 4.0 >= level;
                // Corners 0 and 2 above (case 5) with a high centre, or corners 1 and 3
                // above (case 10) with a low centre: the lines cut off corners 1 and 3.
                let cut_corners_1_and_3 = (case == 5) == centre_above;
                if cut_corners_1_and_3 {
                    segments.push([crossing(0), crossing(1)]);
                    segments.push([crossing(2), crossing(3)]);
                } else {
                    segments.push([crossing(3), crossing(0)]);
                    segments.push([crossing(1), crossing(2)]);
                }
                continue;
            }
            let crossed: Vec<usize> = (0..4).filter(|&e| above[e] != above[(e + 1) % 4]).collect();
            debug_assert_eq!(crossed.len(), 2);
            segments.push([crossing(crossed[0]), crossing(crossed[1])]);
        }
    }
    segments
}

/// `n` levels spaced evenly in log10 from `min` to `max` (both > 0), inclusive.
pub fn log_levels(min: f64, max: f64, n: usize) -> Vec<f64> {
    if n == 0 || !(min > 0.0 && max > min && max.is_finite()) {
        return vec![];
    }
    if n == 1 {
        return vec![min];
    }
    let (lo, hi) = (min.log10(), max.log10());
    (0..n)
        .map(|k| 10f64.powf(lo + (hi - lo) * k as f64 / (n - 1) as f64))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn linspace(a: f64, b: f64, n: usize) -> Vec<f64> {
        (0..n)
            .map(|k| a + (b - a) * k as f64 / (n - 1) as f64)
            .collect()
    }

    #[test]
    fn plane_gives_a_straight_line_at_the_right_place() {
        let xs = linspace(-1.0, 1.0, 21);
        let ys = linspace(-1.0, 1.0, 11);
        let values: Vec<f64> = ys.iter().flat_map(|_| xs.iter().copied()).collect();
        let segs = contour_segments(
            &GridValues {
                xs: &xs,
                ys: &ys,
                values: &values,
            },
            0.33,
        );
        assert_eq!(segs.len(), 10);
        for seg in &segs {
            for p in seg {
                assert!((p.0 - 0.33).abs() < 1e-12, "x = {}", p.0);
            }
        }
    }

    #[test]
    fn circle_points_lie_on_the_circle() {
        let xs = linspace(-2.0, 2.0, 81);
        let ys = linspace(-2.0, 2.0, 81);
        let values: Vec<f64> = ys
            .iter()
            .flat_map(|&y| xs.iter().map(move |&x| x * x + y * y))
            .collect();
        // 1.1 avoids grid points lying exactly on the level (shared corner crossings).
        let segs = contour_segments(
            &GridValues {
                xs: &xs,
                ys: &ys,
                values: &values,
            },
            1.1,
        );
        assert!(segs.len() > 50);
        for p in segs.iter().flatten() {
            let r = (p.0 * p.0 + p.1 * p.1).sqrt();
            assert!((r - 1.1f64.sqrt()).abs() < 2e-3, "r = {r}");
        }
        // A closed curve: every end point is shared by exactly two segments.
        let key = |p: &(f64, f64)| ((p.0 * 1e9).round() as i64, (p.1 * 1e9).round() as i64);
        let mut counts = std::collections::HashMap::new();
        for p in segs.iter().flatten() {
            *counts.entry(key(p)).or_insert(0) += 1;
        }
        assert!(counts.values().all(|&c| c == 2));
    }

    #[test]
    fn saddle_follows_the_centre_value() {
        // Corners 00 and 11 high, 10 and 01 low; centre above the level joins the highs.
        let xs = [0.0, 1.0];
        let ys = [0.0, 1.0];
        let values = [1.0, 0.0, 0.0, 1.0];
        let segs = contour_segments(
            &GridValues {
                xs: &xs,
                ys: &ys,
                values: &values,
            },
            0.4,
        );
        assert_eq!(segs.len(), 2);
        // The segments cut off the low corners (1, 0) and (0, 1).
        let near = |s: &Segment, c: (f64, f64)| {
            s.iter()
                .all(|p| (p.0 - c.0).abs() + (p.1 - c.1).abs() < 1.0)
        };
        assert!(segs.iter().any(|s| near(s, (1.0, 0.0))));
        assert!(segs.iter().any(|s| near(s, (0.0, 1.0))));
        let low = contour_segments(
            &GridValues {
                xs: &xs,
                ys: &ys,
                values: &values,
            },
            0.6,
        );
        assert!(low.iter().any(|s| near(s, (0.0, 0.0))));
        assert!(low.iter().any(|s| near(s, (1.0, 1.0))));
    }

    #[test]
    fn non_finite_cells_are_skipped() {
        let xs = linspace(0.0, 3.0, 4);
        let ys = linspace(0.0, 1.0, 2);
        let values = [0.0, 1.0, f64::NAN, 3.0, 0.0, 1.0, 2.0, f64::INFINITY];
        let segs = contour_segments(
            &GridValues {
                xs: &xs,
                ys: &ys,
                values: &values,
            },
            0.5,
        );
        assert_eq!(segs.len(), 1);
        assert!(
            contour_segments(
                &GridValues {
                    xs: &xs,
                    ys: &ys,
                    values: &values
                },
                f64::NAN
            )
            .is_empty()
        );
    }

    #[test]
    fn log_levels_are_geometric() {
        let levels = log_levels(0.01, 100.0, 5);
        let expected = [0.01, 0.1, 1.0, 10.0, 100.0];
        for (l, e) in levels.iter().zip(expected) {
            assert!((l / e - 1.0).abs() < 1e-12);
        }
        assert!(log_levels(0.0, 1.0, 3).is_empty());
    }
}
