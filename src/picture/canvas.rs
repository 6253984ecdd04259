//! An RGB canvas with the few drawing operations the pictures need, and
//! its PNG encoding (by the `png` crate: 8-bit RGB, the same pixels on
//! every machine).

use super::font::{glyph, GLYPH_ADVANCE, GLYPH_W};

/// An RGB colour.
pub type Rgb = [u8; 3];

/// The background.
pub const WHITE: Rgb = [255, 255, 255];
/// Text.
pub const INK: Rgb = [34, 34, 34];
/// Frames, outlines and tick marks.
pub const FRAME: Rgb = [150, 150, 150];
/// Grid lines.
pub const GRID: Rgb = [232, 232, 232];

/// An RGB picture, row-major.
pub struct Canvas {
    width: usize,
    height: usize,
    pixels: Vec<Rgb>,
}

impl Canvas {
    /// A picture filled with `background`.
    pub fn new(width: usize, height: usize, background: Rgb) -> Canvas {
        Canvas {
            width,
            height,
            pixels: vec![background; width * height],
        }
    }

    /// One pixel; outside the picture nothing happens.
    pub fn put(&mut self, x: i64, y: i64, colour: Rgb) {
        if x >= 0 && y >= 0 && (x as usize) < self.width && (y as usize) < self.height {
            self.pixels[y as usize * self.width + x as usize] = colour;
        }
    }

    /// A filled box, clipped to the picture.
    pub fn fill(&mut self, x: usize, y: usize, w: usize, h: usize, colour: Rgb) {
        for yy in y..(y + h).min(self.height) {
            for xx in x..(x + w).min(self.width) {
                self.pixels[yy * self.width + xx] = colour;
            }
        }
    }

    /// A one-pixel outline.
    pub fn rect(&mut self, x: i64, y: i64, w: usize, h: usize, colour: Rgb) {
        let (x1, y1) = (x + w as i64 - 1, y + h as i64 - 1);
        self.line(x, y, x1, y, colour, 1);
        self.line(x, y1, x1, y1, colour, 1);
        self.line(x, y, x, y1, colour, 1);
        self.line(x1, y, x1, y1, colour, 1);
    }

    /// Bresenham's line, `thick` pixels square at each step.
    pub fn line(&mut self, x0: i64, y0: i64, x1: i64, y1: i64, colour: Rgb, thick: i64) {
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
    pub fn text(&mut self, x: usize, y: usize, text: &str, scale: usize, colour: Rgb) {
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

    /// Width in pixels.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> usize {
        self.height
    }

    /// The pixels, row by row.
    pub fn pixels(&self) -> &[Rgb] {
        &self.pixels
    }

    /// The picture as a PNG file (8-bit RGB).
    pub fn png(&self) -> Result<Vec<u8>, String> {
        let side = |n: usize| u32::try_from(n).map_err(|_| format!("{n} pixels is too large"));
        let mut out = Vec::new();
        let mut encoder = png::Encoder::new(&mut out, side(self.width)?, side(self.height)?);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        // zlib's default level with a filter chosen per row: about half the
        // size of unfiltered rows on these flat-coloured pictures
        encoder.set_compression(png::Compression::Default);
        encoder.set_adaptive_filter(png::AdaptiveFilterType::Adaptive);
        let mut writer = encoder.write_header().map_err(|e| e.to_string())?;
        writer
            .write_image_data(self.pixels.as_flattened())
            .map_err(|e| e.to_string())?;
        writer.finish().map_err(|e| e.to_string())?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_png_decodes_to_the_same_pixels() {
        let mut canvas = Canvas::new(23, 11, [255, 255, 255]);
        canvas.line(0, 0, 22, 10, [200, 10, 10], 2);
        canvas.text(1, 2, "1x2", 1, [0, 0, 0]);
        canvas.rect(-1, -1, 30, 30, [0, 0, 255]);
        let bytes = canvas.png().expect("encodes");
        let mut reader = png::Decoder::new(bytes.as_slice())
            .read_info()
            .expect("a PNG header");
        let mut buf = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut buf).expect("a frame");
        assert_eq!((info.width, info.height), (23, 11));
        assert_eq!(info.color_type, png::ColorType::Rgb);
        assert_eq!(&buf[..info.buffer_size()], canvas.pixels().as_flattened());
    }

    #[test]
    fn drawing_outside_is_clipped() {
        let mut canvas = Canvas::new(4, 3, [0; 3]);
        canvas.put(-1, 0, [9; 3]);
        canvas.put(4, 0, [9; 3]);
        canvas.fill(2, 1, 10, 10, [7; 3]);
        let sevens = canvas.pixels().iter().filter(|p| **p == [7; 3]).count();
        assert_eq!(sevens, 4);
        assert!(canvas.pixels().iter().all(|p| *p != [9; 3]));
    }
}
