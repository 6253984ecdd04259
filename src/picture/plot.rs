//! `plot`'s picture: a line chart with one quantity on the left axis (its
//! range from the data, rounded out to whole ticks) and fractions 0..1 on
//! the right, a legend and tick labels in the built-in font.

use super::canvas::{Canvas, Rgb, FRAME, GRID, INK, WHITE};
use super::font::text_width;

/// Blue, the left-axis curve's colour.
pub const BLUE: Rgb = [31, 119, 180];
/// Orange.
pub const ORANGE: Rgb = [255, 127, 14];
/// Green.
pub const GREEN: Rgb = [44, 160, 44];

/// One curve: its legend name, colour and (x, y) points in x order.
pub struct Curve {
    pub name: &'static str,
    pub colour: Rgb,
    pub points: Vec<(f64, f64)>,
}

/// A chart: the left curve sets the x range and the left axis; curves on
/// the right axis (0..1) are drawn when they have points.
pub struct Chart {
    pub title: String,
    pub x_label: String,
    pub left: Curve,
    pub right: Vec<Curve>,
}

const WIDTH: usize = 760;
const HEIGHT: usize = 460;

/// Where the plot area lies in the picture and which x range it shows.
struct Frame {
    left: usize,
    top: usize,
    w: usize,
    h: usize,
    first: f64,
    last: f64,
}

impl Frame {
    fn x(&self, at: f64) -> f64 {
        self.left as f64 + (at - self.first) / (self.last - self.first).max(1.0) * self.w as f64
    }
    fn y(&self, v: f64, lo: f64, hi: f64) -> f64 {
        (self.top + self.h) as f64 - (v - lo) / (hi - lo) * self.h as f64
    }
    fn pixels(&self, c: &Curve, lo: f64, hi: f64) -> Vec<(f64, f64)> {
        c.points
            .iter()
            .map(|p| (self.x(p.0), self.y(p.1, lo, hi)))
            .collect()
    }
}

/// Draw a chart (760x460 pixels).
pub fn draw_chart(chart: &Chart) -> Canvas {
    let mut canvas = Canvas::new(WIDTH, HEIGHT, WHITE);
    let (left, top) = (90, 56);
    let points = &chart.left.points;
    let (first, last) = match (points.first(), points.last()) {
        (Some(a), Some(b)) => (a.0, b.0),
        _ => (0.0, 1.0),
    };
    let frame = Frame {
        left,
        top,
        w: WIDTH - left - 80,
        h: HEIGHT - top - 70,
        first,
        last,
    };
    canvas.text(left, 16, &chart.title, 2, INK);
    let (lo, hi) = left_axis(&mut canvas, &frame, &chart.left);
    x_axis(&mut canvas, &frame, &chart.x_label);
    if chart.right.iter().any(|c| !c.points.is_empty()) {
        right_axis(&mut canvas, &frame);
    }
    canvas.rect(
        frame.left as i64,
        frame.top as i64,
        frame.w + 1,
        frame.h + 1,
        FRAME,
    );
    let mut legend: Vec<(&str, Rgb)> = vec![(chart.left.name, chart.left.colour)];
    curve(
        &mut canvas,
        &frame.pixels(&chart.left, lo, hi),
        chart.left.colour,
    );
    for c in chart.right.iter().filter(|c| !c.points.is_empty()) {
        curve(&mut canvas, &frame.pixels(c, 0.0, 1.0), c.colour);
        legend.push((c.name, c.colour));
    }
    draw_legend(&mut canvas, &frame, &legend);
    canvas
}

/// The left axis: the curve's finite range (with 0) rounded out to whole
/// ticks of 1, 2 or 5 times a power of ten, a grid line and label per
/// tick. Returns the axis range.
fn left_axis(canvas: &mut Canvas, frame: &Frame, curve: &Curve) -> (f64, f64) {
    let values: Vec<f64> = curve
        .points
        .iter()
        .map(|p| p.1)
        .filter(|v| v.is_finite())
        .collect();
    let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let lo = values
        .iter()
        .copied()
        .fold(f64::INFINITY, f64::min)
        .min(0.0);
    let (lo, hi) = if hi.is_finite() && hi > lo {
        (lo, hi)
    } else {
        (lo, lo + 1.0)
    };
    let tick = nice_step((hi - lo) / 5.0);
    let (lo, hi) = ((lo / tick).floor() * tick, (hi / tick).ceil() * tick);
    let ticks = ((hi - lo) / tick).round() as usize;
    for k in 0..=ticks {
        let v = lo + tick * k as f64;
        let y = frame.y(v, lo, hi).round() as i64;
        let right = (frame.left + frame.w) as i64;
        canvas.line(frame.left as i64, y, right, y, GRID, 1);
        let label = number(v, tick);
        canvas.text(
            frame.left.saturating_sub(text_width(&label, 2) + 8),
            (y - 7).max(0) as usize,
            &label,
            2,
            curve.colour,
        );
    }
    (lo, hi)
}

/// x ticks at whole numbers (at most 8), with grid lines, and the axis name.
fn x_axis(canvas: &mut Canvas, frame: &Frame, label: &str) {
    let (top, bottom) = (frame.top as i64, (frame.top + frame.h) as i64);
    let step = nice_step((frame.last - frame.first).max(1.0) / 8.0).max(1.0);
    let mut at = (frame.first / step).ceil() * step;
    while at <= frame.last + 1e-9 {
        let x = frame.x(at).round() as i64;
        canvas.line(x, top, x, bottom, GRID, 1);
        canvas.line(x, bottom, x, bottom + 5, FRAME, 1);
        let text = format!("{}", at as i64);
        canvas.text(
            (x as usize).saturating_sub(text_width(&text, 2) / 2),
            frame.top + frame.h + 10,
            &text,
            2,
            INK,
        );
        at += step;
    }
    canvas.text(
        frame.left + frame.w / 2 - text_width(label, 2) / 2,
        HEIGHT - 28,
        label,
        2,
        INK,
    );
}

/// The right axis: 0, 0.25, ..., 1.
fn right_axis(canvas: &mut Canvas, frame: &Frame) {
    let right = frame.left + frame.w;
    for k in 0..=4 {
        let v = k as f64 / 4.0;
        let y = frame.y(v, 0.0, 1.0).round() as i64;
        canvas.line(right as i64, y, (right + 5) as i64, y, FRAME, 1);
        canvas.text(
            right + 10,
            (y - 7).max(0) as usize,
            &format!("{v:.2}"),
            2,
            INK,
        );
    }
}

/// The legend, top right inside the frame: a colour bar and a name per curve.
fn draw_legend(canvas: &mut Canvas, frame: &Frame, legend: &[(&str, Rgb)]) {
    let legend_w = legend
        .iter()
        .map(|(n, _)| text_width(n, 2))
        .max()
        .unwrap_or(0)
        + 34;
    let lx = frame.left + frame.w - legend_w - 10;
    for (k, (name, colour)) in legend.iter().enumerate() {
        let ly = frame.top + frame.h / 2 - 33 + k * 22;
        canvas.fill(lx, ly + 5, 22, 4, *colour);
        canvas.text(lx + 30, ly, name, 2, INK);
    }
}

/// A polyline two pixels wide, with a dot on each point when there are few.
fn curve(canvas: &mut Canvas, points: &[(f64, f64)], colour: Rgb) {
    let round = |p: (f64, f64)| (p.0.round() as i64, p.1.round() as i64);
    for pair in points.windows(2) {
        let (a, b) = (round(pair[0]), round(pair[1]));
        canvas.line(a.0, a.1, b.0, b.1, colour, 2);
    }
    if points.len() <= 60 {
        for p in points {
            let (x, y) = round(*p);
            canvas.fill(
                (x - 3).max(0) as usize,
                (y - 3).max(0) as usize,
                7,
                7,
                colour,
            );
        }
    }
}

/// 1, 2 or 5 times a power of ten, at least `raw`.
fn nice_step(raw: f64) -> f64 {
    if raw <= 0.0 || !raw.is_finite() {
        return 1.0;
    }
    let base = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * base)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * base)
}

/// A tick label with as many decimals as the tick step needs.
fn number(v: f64, step: f64) -> String {
    let decimals = if step >= 1.0 {
        0
    } else if step >= 0.1 {
        1
    } else if step >= 0.01 {
        2
    } else {
        4
    };
    format!("{v:.decimals$}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nice_steps_are_one_two_five() {
        assert_eq!(nice_step(0.3), 0.5);
        assert_eq!(nice_step(1.0), 1.0);
        assert_eq!(nice_step(1.2), 2.0);
        assert_eq!(nice_step(30.0), 50.0);
    }

    fn chart(right: Vec<(f64, f64)>) -> Chart {
        Chart {
            title: "loss per step".into(),
            x_label: "step".into(),
            left: Curve {
                name: "loss",
                colour: BLUE,
                points: vec![(1.0, 2.0), (2.0, 1.0), (3.0, f64::NAN)],
            },
            right: vec![Curve {
                name: "acc",
                colour: ORANGE,
                points: right,
            }],
        }
    }

    #[test]
    fn right_curves_are_drawn_only_with_points() {
        let count = |c: &Canvas, colour: Rgb| c.pixels().iter().filter(|p| **p == colour).count();
        let without = draw_chart(&chart(vec![]));
        assert_eq!((without.width(), without.height()), (760, 460));
        assert!(count(&without, BLUE) > 50);
        assert_eq!(count(&without, ORANGE), 0);
        let with = draw_chart(&chart(vec![(1.0, 0.5), (3.0, 0.9)]));
        assert!(count(&with, ORANGE) > 50);
    }
}
