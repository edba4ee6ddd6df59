//! The shapes text comes in: a text region is a rotated rectangle, found as the smallest
//! rectangle around a blob of text pixels and cut out of the image upright.
//!
//! Everything here is linear (or `n log n`) in its input: a blob's hull is built from the first
//! and last pixel of each of its rows, so its size is bounded by the blob's height, not its area.

/// A point in pixel coordinates (x to the right, y down).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    pub x: f32,
    pub y: f32,
}

impl Point {
    pub fn new(x: f32, y: f32) -> Self {
        Self { x, y }
    }

    fn minus(self, other: Point) -> Point {
        Point::new(self.x - other.x, self.y - other.y)
    }

    fn distance(self, other: Point) -> f32 {
        let d = self.minus(other);
        d.x.hypot(d.y)
    }
}

/// A rotated rectangle as its corners: top-left, top-right, bottom-right, bottom-left, where
/// "top" is the side a line of text reads along.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quad(pub [Point; 4]);

impl Quad {
    /// Length of the reading side (top edge).
    pub fn width(&self) -> f32 {
        self.0[0].distance(self.0[1])
    }

    /// Length of the side across the text (left edge).
    pub fn height(&self) -> f32 {
        self.0[0].distance(self.0[3])
    }

    pub fn map(&self, f: impl Fn(Point) -> Point) -> Quad {
        Quad(self.0.map(f))
    }

    /// The axis-aligned bounds `(min_x, min_y, max_x, max_y)`.
    pub fn bounds(&self) -> (f32, f32, f32, f32) {
        self.0.iter().fold((f32::MAX, f32::MAX, f32::MIN, f32::MIN), |(x0, y0, x1, y1), p| {
            (x0.min(p.x), y0.min(p.y), x1.max(p.x), y1.max(p.y))
        })
    }

    /// Whether `p` lies inside (or on) the rectangle.
    pub fn contains(&self, p: Point) -> bool {
        let [a, b, _, d] = self.0;
        let (ab, ad, ap) = (b.minus(a), d.minus(a), p.minus(a));
        let along = ap.x * ab.x + ap.y * ab.y;
        let across = ap.x * ad.x + ap.y * ad.y;
        (0.0..=ab.x * ab.x + ab.y * ab.y).contains(&along) && (0.0..=ad.x * ad.x + ad.y * ad.y).contains(&across)
    }
}

/// The convex hull (counter-clockwise in y-down coordinates, no repeated end point) of `points`,
/// by Andrew's monotone chain.
pub fn convex_hull(mut points: Vec<Point>) -> Vec<Point> {
    points.sort_by(|a, b| a.x.total_cmp(&b.x).then(a.y.total_cmp(&b.y)));
    points.dedup();
    if points.len() < 3 {
        return points;
    }
    let cross = |o: Point, a: Point, b: Point| (a.x - o.x) * (b.y - o.y) - (a.y - o.y) * (b.x - o.x);
    let mut hull: Vec<Point> = Vec::with_capacity(points.len() * 2);
    for pass in [points.clone(), points.into_iter().rev().collect()] {
        let start = hull.len();
        for p in pass {
            while hull.len() >= start + 2 && cross(hull[hull.len() - 2], hull[hull.len() - 1], p) <= 0.0 {
                hull.pop();
            }
            hull.push(p);
        }
        hull.pop();
    }
    hull
}

/// The smallest-area rectangle around a convex hull: one of its sides lies on a hull edge
/// (rotating calipers, quadratic in the hull's size, which is small). Corners are ordered so the
/// longer side is the reading side, left to right.
pub fn min_area_rect(hull: &[Point]) -> Quad {
    let Some(&first) = hull.first() else {
        return Quad([Point::new(0.0, 0.0); 4]);
    };
    if hull.len() < 3 {
        let last = *hull.last().unwrap_or(&first);
        return oriented(first, last.minus(first), 0.0, 0.0);
    }
    let mut best: Option<(f32, Quad)> = None;
    for i in 0..hull.len() {
        let (a, b) = (hull[i], hull[(i + 1) % hull.len()]);
        let edge = b.minus(a);
        let length = edge.x.hypot(edge.y);
        if length == 0.0 {
            continue;
        }
        let (ux, uy) = (edge.x / length, edge.y / length);
        let (mut min_u, mut max_u, mut min_v, mut max_v) = (f32::MAX, f32::MIN, f32::MAX, f32::MIN);
        for p in hull {
            let d = p.minus(a);
            let (u, v) = (d.x * ux + d.y * uy, -d.x * uy + d.y * ux);
            (min_u, max_u, min_v, max_v) = (min_u.min(u), max_u.max(u), min_v.min(v), max_v.max(v));
        }
        let area = (max_u - min_u) * (max_v - min_v);
        if best.as_ref().is_none_or(|(best_area, _)| area < *best_area) {
            let corner = Point::new(a.x + ux * min_u - uy * min_v, a.y + uy * min_u + ux * min_v);
            let along = Point::new(ux * (max_u - min_u), uy * (max_u - min_u));
            best = Some((area, oriented(corner, along, -uy * (max_v - min_v), ux * (max_v - min_v))));
        }
    }
    best.map_or_else(|| oriented(first, Point::new(0.0, 0.0), 0.0, 0.0), |(_, quad)| quad)
}

/// The rectangle with corner `origin`, one side `along` and the other `(across_x, across_y)`,
/// with its corners in reading order.
fn oriented(origin: Point, along: Point, across_x: f32, across_y: f32) -> Quad {
    let across = Point::new(across_x, across_y);
    let center = Point::new(origin.x + (along.x + across.x) / 2.0, origin.y + (along.y + across.y) / 2.0);
    // The reading side is the longer one. It points right when closer to horizontal, down when
    // closer to vertical; the other side is it turned a quarter clockwise (down, or left).
    let (mut u, v) = if along.x.hypot(along.y) >= across.x.hypot(across.y) { (along, across) } else { (across, along) };
    if (u.x.abs() >= u.y.abs() && u.x < 0.0) || (u.x.abs() < u.y.abs() && u.y < 0.0) {
        u = Point::new(-u.x, -u.y);
    }
    let (u_length, v_length) = (u.x.hypot(u.y), v.x.hypot(v.y));
    let v = if u_length > 0.0 { Point::new(-u.y / u_length * v_length, u.x / u_length * v_length) } else { v };
    let corner =
        |su: f32, sv: f32| Point::new(center.x + (su * u.x + sv * v.x) / 2.0, center.y + (su * u.y + sv * v.y) / 2.0);
    Quad([corner(-1.0, -1.0), corner(1.0, -1.0), corner(1.0, 1.0), corner(-1.0, 1.0)])
}

/// `quad` grown by `distance` on every side (its centre and angle kept).
pub fn expand(quad: &Quad, distance: f32) -> Quad {
    let [a, b, _, d] = quad.0;
    let (w, h) = (quad.width(), quad.height());
    let unit = |from: Point, to: Point, length: f32| {
        if length > 0.0 { Point::new((to.x - from.x) / length, (to.y - from.y) / length) } else { Point::new(0.0, 0.0) }
    };
    let (mut u, mut v) = (unit(a, b, w), unit(a, d, h));
    if w == 0.0 {
        u = Point::new(1.0, 0.0);
    }
    if h == 0.0 {
        v = Point::new(-u.y, u.x);
    }
    let origin = Point::new(a.x - distance * (u.x + v.x), a.y - distance * (u.y + v.y));
    let (w, h) = (w + 2.0 * distance, h + 2.0 * distance);
    oriented(origin, Point::new(u.x * w, u.y * w), v.x * h, v.y * h)
}

/// Samples `quad` out of an interleaved 3-channel image (`width` × `height`) into an upright
/// `out_width` × `out_height` image, bilinearly, with edge pixels repeated outside the image.
pub fn warp(pixels: &[u8], width: usize, height: usize, quad: &Quad, out_width: usize, out_height: usize) -> Vec<u8> {
    let [a, b, _, d] = quad.0;
    let mut out = vec![0u8; out_width * out_height * 3];
    if width == 0 || height == 0 {
        return out;
    }
    let step_u = Point::new((b.x - a.x) / out_width.max(1) as f32, (b.y - a.y) / out_width.max(1) as f32);
    let step_v = Point::new((d.x - a.x) / out_height.max(1) as f32, (d.y - a.y) / out_height.max(1) as f32);
    let (max_x, max_y) = ((width - 1) as f32, (height - 1) as f32);
    for row in 0..out_height {
        for col in 0..out_width {
            let (fu, fv) = (col as f32 + 0.5, row as f32 + 0.5);
            let x = (a.x + fu * step_u.x + fv * step_v.x - 0.5).clamp(0.0, max_x);
            let y = (a.y + fu * step_u.y + fv * step_v.y - 0.5).clamp(0.0, max_y);
            let (x0, y0) = (x.floor() as usize, y.floor() as usize);
            let (x1, y1) = ((x0 + 1).min(width - 1), (y0 + 1).min(height - 1));
            let (tx, ty) = (x - x0 as f32, y - y0 as f32);
            for c in 0..3 {
                let at = |px: usize, py: usize| f32::from(pixels[(py * width + px) * 3 + c]);
                let top = at(x0, y0) * (1.0 - tx) + at(x1, y0) * tx;
                let bottom = at(x0, y1) * (1.0 - tx) + at(x1, y1) * tx;
                out[(row * out_width + col) * 3 + c] = (top * (1.0 - ty) + bottom * ty).round() as u8;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rect_points(x0: f32, y0: f32, x1: f32, y1: f32) -> Vec<Point> {
        let mut points = Vec::new();
        for y in [y0, y1] {
            for x in [x0, x1] {
                points.push(Point::new(x, y));
            }
        }
        points
    }

    #[test]
    fn an_axis_aligned_blob_gives_its_own_rectangle_in_reading_order() {
        let quad = min_area_rect(&convex_hull(rect_points(10.0, 20.0, 110.0, 40.0)));
        let corners: Vec<(i32, i32)> = quad.0.iter().map(|p| (p.x.round() as i32, p.y.round() as i32)).collect();
        assert_eq!(corners, vec![(10, 20), (110, 20), (110, 40), (10, 40)]);
        assert!((quad.width() - 100.0).abs() < 1e-3 && (quad.height() - 20.0).abs() < 1e-3);
        // A tall blob reads top to bottom: its long side is the reading side.
        let tall = min_area_rect(&convex_hull(rect_points(0.0, 0.0, 10.0, 80.0)));
        assert!((tall.width() - 80.0).abs() < 1e-3, "{tall:?}");
    }

    #[test]
    fn a_rotated_blob_gives_a_rotated_rectangle() {
        let angle = 5f32.to_radians();
        let (c, s) = (angle.cos(), angle.sin());
        let points: Vec<Point> = rect_points(0.0, 0.0, 200.0, 30.0)
            .into_iter()
            .map(|p| Point::new(100.0 + p.x * c - p.y * s, 100.0 + p.x * s + p.y * c))
            .collect();
        let quad = min_area_rect(&convex_hull(points));
        assert!((quad.width() - 200.0).abs() < 1e-2 && (quad.height() - 30.0).abs() < 1e-2, "{quad:?}");
        let [a, b, ..] = quad.0;
        assert!(((b.y - a.y).atan2(b.x - a.x) - angle).abs() < 1e-3, "{quad:?}");
        assert!(quad.contains(Point::new(200.0, 120.0)) && !quad.contains(Point::new(0.0, 0.0)));
        let grown = expand(&quad, 5.0);
        assert!((grown.width() - 210.0).abs() < 1e-2 && (grown.height() - 40.0).abs() < 1e-2, "{grown:?}");
    }

    #[test]
    fn degenerate_blobs_do_not_panic() {
        assert_eq!(min_area_rect(&[]).width(), 0.0);
        let line = min_area_rect(&convex_hull(vec![Point::new(1.0, 1.0), Point::new(9.0, 1.0)]));
        assert!((line.width() - 8.0).abs() < 1e-3 && line.height() == 0.0);
        assert!(expand(&line, 2.0).height() > 3.9);
        let one = convex_hull(vec![Point::new(3.0, 3.0); 5]);
        assert_eq!(one.len(), 1);
        assert!(warp(&[], 0, 0, &line, 4, 4).iter().all(|&v| v == 0));
    }

    #[test]
    fn warping_an_upright_rectangle_copies_its_pixels() {
        let (width, height) = (8, 6);
        let pixels: Vec<u8> = (0..width * height).flat_map(|i| [i as u8, 0, 255 - i as u8]).collect();
        let quad = Quad([Point::new(2.0, 1.0), Point::new(6.0, 1.0), Point::new(6.0, 4.0), Point::new(2.0, 4.0)]);
        let out = warp(&pixels, width, height, &quad, 4, 3);
        for row in 0..3 {
            for col in 0..4 {
                let source = (1 + row) * width + 2 + col;
                assert_eq!(out[(row * 4 + col) * 3], source as u8, "({col}, {row})");
            }
        }
    }
}
