//! Pictures: `plot`'s line chart and `show`'s grid of tiles, drawn by hand
//! into an RGB canvas with a built-in 5x7 font (no system font is read, so
//! the pixels are the same on every machine) and encoded as PNG.

pub mod canvas;
pub mod font;
pub mod grid;
pub mod plot;

pub use canvas::{Canvas, Rgb};
