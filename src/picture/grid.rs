//! `show`'s picture: a tensor cut into labelled grey tiles (kernels, or the
//! channels of one feature map), each normalised on its own range.

use super::canvas::{Canvas, FRAME, INK, WHITE};
use super::font::{text_width, GLYPH_H};
use crate::value::shape_words;

/// Small tiles are scaled up (nearest neighbour) to at least this many pixels.
const MIN_TILE: usize = 32;
/// Refuse pictures larger than this per side.
const MAX_SIDE: usize = 8_192;

/// One grey tile of a grid: a label and an h x w block of values.
pub struct Tile {
    pub label: String,
    pub height: usize,
    pub width: usize,
    pub values: Vec<f32>,
}

/// A titled grid of tiles with a column count.
pub struct Grid {
    pub title: String,
    pub columns: usize,
    pub tiles: Vec<Tile>,
}

/// Cut a tensor into tiles: a conv weight O x I x kh x kw gives one tile per
/// (o, i) kernel; another 4-D tensor N x C x H x W the first item's channels;
/// Whether `show` can draw a tensor of this shape: neither empty, nor a
/// scalar, nor of more than 4 dimensions (the checker asks it of known shapes).
pub fn drawable(shape: &[usize]) -> Result<(), String> {
    if shape.contains(&0) {
        return Err(format!("the tensor is empty ({})", shape_words(shape)));
    }
    match shape.len() {
        0 => Err("`show` draws a tensor with at least one dimension, not a scalar".into()),
        1..=4 => Ok(()),
        _ => Err(format!(
            "`show` draws tensors of up to 4 dimensions, this one is {}",
            shape_words(shape)
        )),
    }
}

/// C x H x W its channels; H x W one tile; a vector one row.
pub fn tiles(shape: &[usize], data: &[f32], kernels: bool) -> Result<Grid, String> {
    drawable(shape)?;
    let dims = shape_words(shape);
    let plane = |c: usize, h: usize, w: usize, label: String| Tile {
        label,
        height: h,
        width: w,
        values: data[c * h * w..(c + 1) * h * w].to_vec(),
    };
    let (title, tiles, columns) = match *shape {
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
        // ranks `drawable` refused
        _ => return Err(format!("`show` cannot draw a {dims} tensor")),
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
pub fn draw_grid(grid: &Grid) -> Result<Canvas, String> {
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
    fn pictures_too_large_are_refused() {
        let data = vec![0.5f32; 4 * 5000];
        let grid = tiles(&[4, 1, 5000], &data, false).expect("tiles");
        let refused = draw_grid(&grid).err().unwrap_or_default();
        assert!(refused.contains("at most 8192 per side"), "{refused}");
    }
}
