//! `plot` and `show`: pictures of the last training and of tensors, as PNG.
//!
//! Everything is drawn by hand into an RGB canvas (lines, boxes and a 5x7
//! pixel font) and encoded with the deflate the project already carries, so
//! no system font or image library is needed and the bytes are the same on
//! every machine.

use std::io::Write;
use std::path::Path;

use super::error::{RunError, RunResult};
use super::eval::Evaluated;
use super::train::{History, Record};
use super::Interp;
use crate::syntax::ast::{Expr, ExprKind, Span};
use crate::value::{shape_words, Value};

/// An RGB colour.
type Rgb = [u8; 3];

const WHITE: Rgb = [255, 255, 255];
const INK: Rgb = [34, 34, 34];
const FRAME: Rgb = [150, 150, 150];
const GRID: Rgb = [232, 232, 232];
const LOSS_COLOUR: Rgb = [31, 119, 180];
const TRAIN_COLOUR: Rgb = [255, 127, 14];
const TEST_COLOUR: Rgb = [44, 160, 44];

/// A curve of the plot: its legend name, colour and value per record.
type Series = (&'static str, Rgb, fn(&Record) -> Option<f64>);

/// Small tiles are scaled up (nearest neighbour) to at least this many pixels.
const MIN_TILE: usize = 32;
/// Refuse pictures larger than this per side.
const MAX_SIDE: usize = 8_192;

impl Interp {
    /// `plot "loss.png"`: the loss (and accuracies, when known) per step or
    /// epoch of the last `train`.
    pub fn plot(&mut self, path: &str, span: Span) -> RunResult<()> {
        check_png_name(path, span, "plot")?;
        let history = match &self.history {
            Some(h) if !h.records.is_empty() => h,
            _ => {
                return Err(RunError::new(
                    "nothing to plot: no model has been trained yet",
                    span,
                    "no training so far",
                )
                .help("`plot` draws the last `train`; put it after a `train` statement"))
            }
        };
        let bytes = draw_history(history).png();
        self.write_picture(path, &bytes, span)
    }

    /// `show value "file.png"`: a labelled grid of grey tiles, one per kernel
    /// (`show m.0.weight`) or per channel of the first item (`show m[0:2](X)`).
    pub fn show(&mut self, value: &Expr, path: &str, span: Span) -> RunResult<()> {
        check_png_name(path, span, "show")?;
        let kernels = self.is_parameter(value);
        let array = match self.eval_any(value)? {
            Evaluated::Value(Value::Bundle(m)) => {
                let names: Vec<&str> = m.keys().map(String::as_str).collect();
                return Err(RunError::new("`show` draws one tensor, not a bundle of arrays", value.span, "a bundle")
                    .help(format!("pick one of its arrays: {}", names.join(", "))));
            }
            Evaluated::Value(v) => v.to_float().ok_or_else(|| RunError::new("expected a tensor", value.span, "not a tensor"))?,
            Evaluated::Model(name) => {
                return Err(RunError::new(format!("`{name}` is a model; `show` draws a tensor"), value.span, "a model")
                    .help(format!("show its kernels with `show {name}.0.weight`, or feature maps with `show {name}[0:2](X[0:1])`")))
            }
            Evaluated::Tuple(_) => {
                return Err(RunError::new("`show` draws one tensor at a time", value.span, "several values"))
            }
        };
        let shape = array.shape().to_vec();
        let data: Vec<f32> = array.iter().copied().collect();
        let grid = tiles(&shape, &data, kernels)
            .map_err(|msg| RunError::new(msg, value.span, "cannot draw this"))?;
        let canvas =
            draw_grid(&grid).map_err(|msg| RunError::new(msg, value.span, "too large to draw"))?;
        self.write_picture(path, &canvas.png(), span)
    }

    /// Whether an expression names a model parameter (`m.0.weight`).
    fn is_parameter(&self, expr: &Expr) -> bool {
        let mut root = expr;
        let mut fields = 0;
        while let ExprKind::Field { base, .. } = &root.kind {
            root = base;
            fields += 1;
        }
        matches!(&root.kind, ExprKind::Name(id) if fields > 0 && self.models.contains_key(&id.name))
    }

    fn write_picture(&self, path: &str, bytes: &[u8], span: Span) -> RunResult<()> {
        crate::io::atomic_write(&self.path(path), |w| w.write_all(bytes))
            .map_err(|e| RunError::io(&e, span))
    }
}

fn check_png_name(path: &str, span: Span, what: &str) -> RunResult<()> {
    let is_png = Path::new(path)
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("png"));
    if is_png {
        Ok(())
    } else {
        Err(RunError::new(
            format!("`{what}` writes PNG images, but \"{path}\" does not end in .png"),
            span,
            "not a .png name",
        )
        .help(format!(
            "name the file with .png, e.g. `{what} ... \"picture.png\"`"
        )))
    }
}

// ---------------------------------------------------------------------------
// Tiles for `show`

/// One grey tile of a grid: a label and an h x w block of values.
struct Tile {
    label: String,
    height: usize,
    width: usize,
    values: Vec<f32>,
}

/// A titled grid of tiles with a column count.
struct Grid {
    title: String,
    columns: usize,
    tiles: Vec<Tile>,
}

/// Cut a tensor into tiles: a conv weight O x I x kh x kw gives one tile per
/// (o, i) kernel; another 4-D tensor N x C x H x W the first item's channels;
/// C x H x W its channels; H x W one tile; a vector one row.
fn tiles(shape: &[usize], data: &[f32], kernels: bool) -> Result<Grid, String> {
    if shape.contains(&0) {
        return Err(format!("the tensor is empty ({})", shape_words(shape)));
    }
    let dims = shape_words(shape);
    let plane = |c: usize, h: usize, w: usize, label: String| Tile {
        label,
        height: h,
        width: w,
        values: data[c * h * w..(c + 1) * h * w].to_vec(),
    };
    let (title, tiles, columns) = match *shape {
        [] => return Err("`show` draws a tensor with at least one dimension, not a scalar".into()),
        [n] => (
            format!("{dims} vector"),
            vec![plane(0, 1, n, String::new())],
            1,
        ),
        [h, w] => (
            format!("{dims} tensor"),
            vec![plane(0, h, w, String::new())],
            1,
        ),
        [c, h, w] => (
            format!("{dims}: {c} channels"),
            (0..c).map(|i| plane(i, h, w, i.to_string())).collect(),
            square_columns(c),
        ),
        [o, i, h, w] if kernels => {
            let columns = if (2..=16).contains(&i) {
                i
            } else {
                square_columns(o * i)
            };
            let tiles = (0..o * i)
                .map(|k| plane(k, h, w, format!("{},{}", k / i, k % i)))
                .collect();
            (format!("{dims} kernels (out,in)"), tiles, columns)
        }
        [n, c, h, w] => {
            let first = if n > 1 {
                format!(", item 0 of {n}")
            } else {
                String::new()
            };
            (
                format!("{dims} feature maps{first}: {c} channels"),
                (0..c).map(|i| plane(i, h, w, i.to_string())).collect(),
                square_columns(c),
            )
        }
        _ => {
            return Err(format!(
                "`show` draws tensors of up to 4 dimensions, this one is {dims}"
            ))
        }
    };
    Ok(Grid {
        title,
        columns,
        tiles,
    })
}

fn square_columns(n: usize) -> usize {
    let mut c = 1;
    while c * c < n {
        c += 1;
    }
    c
}

/// Draw a grid: each tile normalised to grey 0..255 on its own range and
/// scaled up, its label above it, the title on top.
fn draw_grid(grid: &Grid) -> Result<Canvas, String> {
    let (h, w) = (grid.tiles[0].height, grid.tiles[0].width);
    // a picture of one tile gets it larger
    let min_side = if grid.tiles.len() == 1 {
        4 * MIN_TILE
    } else {
        MIN_TILE
    };
    let scale = min_side.div_ceil(h.max(w)).max(1);
    // a long thin tile (a vector) is stretched to a visible strip
    let (sx, sy) = (scale, scale.max((MIN_TILE / 2).div_ceil(h)));
    let (tile_w, tile_h) = (w * sx, h * sy);
    let label_w = grid
        .tiles
        .iter()
        .map(|t| text_width(&t.label, 1))
        .max()
        .unwrap_or(0);
    let gap = 8;
    let cell_w = tile_w.max(label_w) + gap;
    let label_h = if label_w > 0 { GLYPH_H + 3 } else { 0 };
    let cell_h = tile_h + label_h + gap;
    let rows = grid.tiles.len().div_ceil(grid.columns);
    let title_h = GLYPH_H * 2 + 12;
    let width = (grid.columns * cell_w + gap).max(text_width(&grid.title, 2) + 2 * gap);
    let height = title_h + rows * cell_h + gap;
    if width > MAX_SIDE || height > MAX_SIDE {
        return Err(format!(
            "the picture would be {width}x{height} pixels ({} tiles of {h}x{w}); at most {MAX_SIDE} per side",
            grid.tiles.len()
        ));
    }
    let mut canvas = Canvas::new(width, height, WHITE);
    canvas.text(gap, 6, &grid.title, 2, INK);
    let all: Vec<f32> = grid
        .tiles
        .iter()
        .flat_map(|t| t.values.iter().copied())
        .collect();
    let overall = value_range(&all);
    for (k, tile) in grid.tiles.iter().enumerate() {
        let x0 = gap + (k % grid.columns) * cell_w;
        let y0 = title_h + (k / grid.columns) * cell_h;
        canvas.text(x0, y0, &tile.label, 1, INK);
        let top = y0 + label_h;
        // one-pixel tiles (1x1 kernels) share the whole tensor's range
        let (lo, hi) = if tile.values.len() == 1 {
            overall
        } else {
            value_range(&tile.values)
        };
        for (i, v) in tile.values.iter().enumerate() {
            let grey = if hi > lo && v.is_finite() {
                (((v - lo) / (hi - lo)) * 255.0).round() as u8
            } else {
                128
            };
            let (r, c) = (i / tile.width, i % tile.width);
            canvas.fill(x0 + c * sx, top + r * sy, sx, sy, [grey; 3]);
        }
        canvas.rect(x0 as i64 - 1, top as i64 - 1, tile_w + 2, tile_h + 2, FRAME);
    }
    Ok(canvas)
}

/// The smallest and largest finite value (infinite bounds when there is none).
fn value_range(values: &[f32]) -> (f32, f32) {
    values
        .iter()
        .copied()
        .filter(|v| v.is_finite())
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        })
}

// ---------------------------------------------------------------------------
// The training plot

/// Loss on the left axis, accuracies (0..1) on the right, one point per record.
fn draw_history(history: &History) -> Canvas {
    let (width, height) = (760usize, 460usize);
    let (left, right, top, bottom) = (90usize, 80usize, 56usize, 70usize);
    let (plot_w, plot_h) = (width - left - right, height - top - bottom);
    let mut canvas = Canvas::new(width, height, WHITE);
    let unit = history.unit;
    canvas.text(left, 16, &format!("loss per {unit}"), 2, INK);

    let records = &history.records;
    let (first, last) = (records[0].at as f64, records[records.len() - 1].at as f64);
    let x_span = (last - first).max(1.0);
    let losses: Vec<f64> = records
        .iter()
        .map(|r| r.loss)
        .filter(|l| l.is_finite())
        .collect();
    let hi = losses.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let lo = losses
        .iter()
        .copied()
        .fold(f64::INFINITY, f64::min)
        .min(0.0);
    let (lo, hi) = if hi.is_finite() && hi > lo {
        (lo, hi)
    } else {
        (lo, lo + 1.0)
    };
    // round the loss axis out to whole ticks of 1, 2 or 5 times a power of ten
    let tick = nice_step((hi - lo) / 5.0);
    let (lo, hi) = ((lo / tick).floor() * tick, (hi / tick).ceil() * tick);
    let ticks = ((hi - lo) / tick).round() as usize;
    let px = |at: f64| left as f64 + (at - first) / x_span * plot_w as f64;
    let py =
        |v: f64, lo: f64, hi: f64| (top + plot_h) as f64 - (v - lo) / (hi - lo) * plot_h as f64;

    // grid and left axis (loss)
    for k in 0..=ticks {
        let v = lo + tick * k as f64;
        let y = py(v, lo, hi).round() as i64;
        canvas.line(left as i64, y, (left + plot_w) as i64, y, GRID, 1);
        let label = number(v, tick);
        canvas.text(
            left.saturating_sub(text_width(&label, 2) + 8),
            (y - 7).max(0) as usize,
            &label,
            2,
            LOSS_COLOUR,
        );
    }
    // x ticks: at most 8 whole numbers
    let step = nice_step(x_span / 8.0).max(1.0);
    let mut at = (first / step).ceil() * step;
    while at <= last + 1e-9 {
        let x = px(at).round() as i64;
        canvas.line(x, top as i64, x, (top + plot_h) as i64, GRID, 1);
        canvas.line(
            x,
            (top + plot_h) as i64,
            x,
            (top + plot_h + 5) as i64,
            FRAME,
            1,
        );
        let label = format!("{}", at as i64);
        canvas.text(
            (x as usize).saturating_sub(text_width(&label, 2) / 2),
            top + plot_h + 10,
            &label,
            2,
            INK,
        );
        at += step;
    }
    let axis = unit.to_string();
    canvas.text(
        left + plot_w / 2 - text_width(&axis, 2) / 2,
        height - 28,
        &axis,
        2,
        INK,
    );

    let has_acc = records
        .iter()
        .any(|r| r.train_acc.is_some() || r.test_acc.is_some());
    if has_acc {
        for k in 0..=4 {
            let v = k as f64 / 4.0;
            let y = py(v, 0.0, 1.0).round() as i64;
            canvas.line(
                (left + plot_w) as i64,
                y,
                (left + plot_w + 5) as i64,
                y,
                FRAME,
                1,
            );
            canvas.text(
                left + plot_w + 10,
                (y - 7).max(0) as usize,
                &format!("{v:.2}"),
                2,
                INK,
            );
        }
    }
    canvas.rect(left as i64, top as i64, plot_w + 1, plot_h + 1, FRAME);

    let mut legend: Vec<(&str, Rgb)> = vec![("loss", LOSS_COLOUR)];
    let loss_points: Vec<(f64, f64)> = records
        .iter()
        .map(|r| (px(r.at as f64), py(r.loss, lo, hi)))
        .collect();
    curve(&mut canvas, &loss_points, LOSS_COLOUR);
    let series: [Series; 2] = [
        ("train acc", TRAIN_COLOUR, |r| r.train_acc),
        ("test acc", TEST_COLOUR, |r| r.test_acc),
    ];
    for (name, colour, get) in series {
        let points: Vec<(f64, f64)> = records
            .iter()
            .filter_map(|r| get(r).map(|a| (px(r.at as f64), py(a, 0.0, 1.0))))
            .collect();
        if !points.is_empty() {
            curve(&mut canvas, &points, colour);
            legend.push((name, colour));
        }
    }
    // legend, top right inside the frame
    let legend_w = legend
        .iter()
        .map(|(n, _)| text_width(n, 2))
        .max()
        .unwrap_or(0)
        + 34;
    let lx = left + plot_w - legend_w - 10;
    for (k, (name, colour)) in legend.iter().enumerate() {
        let ly = top + plot_h / 2 - 33 + k * 22;
        canvas.fill(lx, ly + 5, 22, 4, *colour);
        canvas.text(lx + 30, ly, name, 2, INK);
    }
    canvas
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

// ---------------------------------------------------------------------------
// Canvas, font and PNG

/// An RGB picture, row-major.
struct Canvas {
    width: usize,
    height: usize,
    pixels: Vec<Rgb>,
}

impl Canvas {
    fn new(width: usize, height: usize, background: Rgb) -> Canvas {
        Canvas {
            width,
            height,
            pixels: vec![background; width * height],
        }
    }

    fn put(&mut self, x: i64, y: i64, colour: Rgb) {
        if x >= 0 && y >= 0 && (x as usize) < self.width && (y as usize) < self.height {
            self.pixels[y as usize * self.width + x as usize] = colour;
        }
    }

    fn fill(&mut self, x: usize, y: usize, w: usize, h: usize, colour: Rgb) {
        for yy in y..(y + h).min(self.height) {
            for xx in x..(x + w).min(self.width) {
                self.pixels[yy * self.width + xx] = colour;
            }
        }
    }

    /// A one-pixel outline.
    fn rect(&mut self, x: i64, y: i64, w: usize, h: usize, colour: Rgb) {
        let (x1, y1) = (x + w as i64 - 1, y + h as i64 - 1);
        self.line(x, y, x1, y, colour, 1);
        self.line(x, y1, x1, y1, colour, 1);
        self.line(x, y, x, y1, colour, 1);
        self.line(x1, y, x1, y1, colour, 1);
    }

    /// Bresenham's line, `thick` pixels square at each step.
    fn line(&mut self, x0: i64, y0: i64, x1: i64, y1: i64, colour: Rgb, thick: i64) {
        let (dx, dy) = ((x1 - x0).abs(), -(y1 - y0).abs());
        let (sx, sy) = (if x0 < x1 { 1 } else { -1 }, if y0 < y1 { 1 } else { -1 });
        let (mut x, mut y, mut err) = (x0, y0, dx + dy);
        loop {
            for ox in 0..thick {
                for oy in 0..thick {
                    self.put(x + ox - thick / 2, y + oy - thick / 2, colour);
                }
            }
            if x == x1 && y == y1 {
                break;
            }
            let e2 = 2 * err;
            if e2 >= dy {
                err += dy;
                x += sx;
            }
            if e2 <= dx {
                err += dx;
                y += sy;
            }
        }
    }

    /// Text in the built-in 5x7 font, each font pixel `scale` pixels wide.
    fn text(&mut self, x: usize, y: usize, text: &str, scale: usize, colour: Rgb) {
        for (k, ch) in text.chars().enumerate() {
            let rows = glyph(ch);
            let gx = x + k * GLYPH_ADVANCE * scale;
            for (r, bits) in rows.iter().enumerate() {
                for c in 0..GLYPH_W {
                    if bits & (1 << (GLYPH_W - 1 - c)) != 0 {
                        self.fill(gx + c * scale, y + r * scale, scale, scale, colour);
                    }
                }
            }
        }
    }

    /// The picture as a PNG file: 8-bit RGB, no filtering, zlib-deflated.
    fn png(&self) -> Vec<u8> {
        let mut raw = Vec::with_capacity((self.width * 3 + 1) * self.height);
        for row in self.pixels.chunks(self.width) {
            raw.push(0); // filter type None
            raw.extend(row.iter().flatten());
        }
        let mut header = Vec::with_capacity(13);
        header.extend_from_slice(&(self.width as u32).to_be_bytes());
        header.extend_from_slice(&(self.height as u32).to_be_bytes());
        header.extend_from_slice(&[8, 2, 0, 0, 0]); // depth 8, RGB, deflate, no filter, no interlace
        let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
        png_chunk(&mut out, b"IHDR", &header);
        png_chunk(
            &mut out,
            b"IDAT",
            &miniz_oxide::deflate::compress_to_vec_zlib(&raw, 6),
        );
        png_chunk(&mut out, b"IEND", &[]);
        out
    }
}

fn png_chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let mut crc = crc32fast::Hasher::new();
    crc.update(kind);
    crc.update(data);
    out.extend_from_slice(&crc.finalize().to_be_bytes());
}

const GLYPH_W: usize = 5;
const GLYPH_H: usize = 7;
const GLYPH_ADVANCE: usize = 6;

/// Width in pixels of a text at a scale.
fn text_width(text: &str, scale: usize) -> usize {
    let n = text.chars().count();
    if n == 0 {
        0
    } else {
        (n * GLYPH_ADVANCE - 1) * scale
    }
}

/// The 5x7 rows of a character (bit 4 is the leftmost pixel). Letters are
/// drawn as capitals, except `x`, which reads better in `16x8x8`.
fn glyph(ch: char) -> [u8; 7] {
    match ch {
        ' ' => [0; 7],
        '0' => [0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E],
        '1' => [0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E],
        '2' => [0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F],
        '3' => [0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E],
        '4' => [0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02],
        '5' => [0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E],
        '6' => [0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E],
        '7' => [0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08],
        '8' => [0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E],
        '9' => [0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C],
        'x' => [0x00, 0x00, 0x11, 0x0A, 0x04, 0x0A, 0x11],
        'A' | 'a' => [0x0E, 0x11, 0x11, 0x11, 0x1F, 0x11, 0x11],
        'B' | 'b' => [0x1E, 0x11, 0x11, 0x1E, 0x11, 0x11, 0x1E],
        'C' | 'c' => [0x0E, 0x11, 0x10, 0x10, 0x10, 0x11, 0x0E],
        'D' | 'd' => [0x1C, 0x12, 0x11, 0x11, 0x11, 0x12, 0x1C],
        'E' | 'e' => [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x1F],
        'F' | 'f' => [0x1F, 0x10, 0x10, 0x1E, 0x10, 0x10, 0x10],
        'G' | 'g' => [0x0E, 0x11, 0x10, 0x17, 0x11, 0x11, 0x0F],
        'H' | 'h' => [0x11, 0x11, 0x11, 0x1F, 0x11, 0x11, 0x11],
        'I' | 'i' => [0x0E, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0E],
        'J' | 'j' => [0x07, 0x02, 0x02, 0x02, 0x02, 0x12, 0x0C],
        'K' | 'k' => [0x11, 0x12, 0x14, 0x18, 0x14, 0x12, 0x11],
        'L' | 'l' => [0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x1F],
        'M' | 'm' => [0x11, 0x1B, 0x15, 0x15, 0x11, 0x11, 0x11],
        'N' | 'n' => [0x11, 0x11, 0x19, 0x15, 0x13, 0x11, 0x11],
        'O' | 'o' => [0x0E, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E],
        'P' | 'p' => [0x1E, 0x11, 0x11, 0x1E, 0x10, 0x10, 0x10],
        'Q' | 'q' => [0x0E, 0x11, 0x11, 0x11, 0x15, 0x12, 0x0D],
        'R' | 'r' => [0x1E, 0x11, 0x11, 0x1E, 0x14, 0x12, 0x11],
        'S' | 's' => [0x0F, 0x10, 0x10, 0x0E, 0x01, 0x01, 0x1E],
        'T' | 't' => [0x1F, 0x04, 0x04, 0x04, 0x04, 0x04, 0x04],
        'U' | 'u' => [0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x0E],
        'V' | 'v' => [0x11, 0x11, 0x11, 0x11, 0x11, 0x0A, 0x04],
        'W' | 'w' => [0x11, 0x11, 0x11, 0x15, 0x15, 0x15, 0x0A],
        'X' => [0x11, 0x11, 0x0A, 0x04, 0x0A, 0x11, 0x11],
        'Y' | 'y' => [0x11, 0x11, 0x11, 0x0A, 0x04, 0x04, 0x04],
        'Z' | 'z' => [0x1F, 0x01, 0x02, 0x04, 0x08, 0x10, 0x1F],
        '.' => [0x00, 0x00, 0x00, 0x00, 0x00, 0x0C, 0x0C],
        ',' => [0x00, 0x00, 0x00, 0x00, 0x0C, 0x04, 0x08],
        '-' => [0x00, 0x00, 0x00, 0x1F, 0x00, 0x00, 0x00],
        '+' => [0x00, 0x04, 0x04, 0x1F, 0x04, 0x04, 0x00],
        ':' => [0x00, 0x0C, 0x0C, 0x00, 0x0C, 0x0C, 0x00],
        '(' => [0x02, 0x04, 0x08, 0x08, 0x08, 0x04, 0x02],
        ')' => [0x08, 0x04, 0x02, 0x02, 0x02, 0x04, 0x08],
        '[' => [0x0E, 0x08, 0x08, 0x08, 0x08, 0x08, 0x0E],
        ']' => [0x0E, 0x02, 0x02, 0x02, 0x02, 0x02, 0x0E],
        '/' => [0x00, 0x01, 0x02, 0x04, 0x08, 0x10, 0x00],
        '=' => [0x00, 0x00, 0x1F, 0x00, 0x1F, 0x00, 0x00],
        '_' => [0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x1F],
        '%' => [0x18, 0x19, 0x02, 0x04, 0x08, 0x13, 0x03],
        _ => [0x0E, 0x11, 0x01, 0x02, 0x04, 0x00, 0x04],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernels_get_one_tile_each_and_feature_maps_the_first_item() {
        let data: Vec<f32> = (0..2 * 3 * 2 * 2).map(|v| v as f32).collect();
        let k = tiles(&[2, 3, 2, 2], &data, true).expect("tiles");
        assert_eq!(k.tiles.len(), 6);
        assert_eq!(k.tiles[4].label, "1,1");
        assert_eq!(k.columns, 3);
        let f = tiles(&[2, 3, 2, 2], &data, false).expect("tiles");
        assert_eq!(f.tiles.len(), 3);
        assert_eq!(f.tiles[2].values, vec![8.0, 9.0, 10.0, 11.0]);
        assert!(tiles(&[], &[1.0], false).is_err());
        assert!(tiles(&[2, 0], &[], false).is_err());
    }

    #[test]
    fn nice_steps_are_one_two_five() {
        assert_eq!(nice_step(0.3), 0.5);
        assert_eq!(nice_step(1.0), 1.0);
        assert_eq!(nice_step(1.2), 2.0);
        assert_eq!(nice_step(30.0), 50.0);
    }
}
