//! NumPy `.npy`: header parsing (versions 1–3), dtype conversion, writing `<f4` / `<i8`.
//!
//! Format: `\x93NUMPY`, major, minor, header length (u16 LE for v1, u32 LE for v2/3),
//! then a Python dict literal `{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }`
//! padded with spaces to a multiple of 64 bytes and ending in `\n`, then the data.

use std::io::{Read, Write};
use std::path::Path;

use ndarray::{ArrayD, IxDyn};

use super::{check_alloc_bytes, IoError};
use crate::value::{dims_string, TensorRef, Value};

const MAGIC: &[u8] = b"\x93NUMPY";

/// An element type cnnscript can read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dtype {
    /// IEEE half, single, double (size 2, 4, 8).
    Float(usize),
    /// bfloat16 (safetensors only).
    BFloat16,
    /// Signed (true) or unsigned integer of the given byte size.
    Int { signed: bool, size: usize },
    /// One byte, 0 or 1.
    Bool,
}

impl Dtype {
    /// Bytes per element.
    pub(crate) fn size(self) -> usize {
        match self {
            Dtype::Float(s) | Dtype::Int { size: s, .. } => s,
            Dtype::BFloat16 => 2,
            Dtype::Bool => 1,
        }
    }

    /// True when the values become a float tensor.
    pub(crate) fn is_float(self) -> bool {
        matches!(self, Dtype::Float(_) | Dtype::BFloat16)
    }
}

/// f16 bits to f32 (exact).
pub(crate) fn f16_to_f32(h: u16) -> f32 {
    let negative = h & 0x8000 != 0;
    let exp = u32::from((h >> 10) & 0x1f);
    let mant = u32::from(h & 0x3ff);
    let magnitude = match exp {
        // subnormal: mant * 2^-24, exact in f32
        0 => mant as f32 * (1.0 / 16_777_216.0),
        0x1f => f32::from_bits(0x7f80_0000 | (mant << 13)),
        _ => f32::from_bits(((exp + 127 - 15) << 23) | (mant << 13)),
    };
    if negative {
        -magnitude
    } else {
        magnitude
    }
}

/// Bytes per read when converting: large enough to be fast, small next to any tensor.
const CHUNK_BYTES: usize = 1 << 16;

/// An I/O error met while reading the data of `path`: an early end means the file
/// changed or lied about its size.
fn read_error(path: &Path, err: std::io::Error) -> IoError {
    if err.kind() == std::io::ErrorKind::UnexpectedEof {
        IoError::SizeMismatch {
            path: path.to_path_buf(),
            reason: "the data ended early (did the file change while it was read?)".to_string(),
        }
    } else {
        IoError::from_os(path, err)
    }
}

/// Feeds `count` elements of `size` bytes from `reader` to `each`, one chunk at a time.
fn for_each_element<R: Read>(
    path: &Path,
    reader: &mut R,
    count: usize,
    size: usize,
    mut each: impl FnMut(&[u8]) -> Result<(), IoError>,
) -> Result<(), IoError> {
    let per_chunk = (CHUNK_BYTES / size).max(1);
    let mut buf = vec![0u8; per_chunk.min(count) * size];
    let mut left = count;
    while left > 0 {
        let n = left.min(per_chunk);
        let chunk = &mut buf[..n * size];
        reader.read_exact(chunk).map_err(|e| read_error(path, e))?;
        for element in chunk.chunks_exact(size) {
            each(element)?;
        }
        left -= n;
    }
    Ok(())
}

/// Reads the elements of `shape` (whose byte size the caller has checked against the
/// input) of `dtype` from `reader` into a value: floats as f32, integers and bools as i64.
/// `big_endian` applies to multi-byte types.
pub(crate) fn decode_elements<R: Read>(
    path: &Path,
    reader: &mut R,
    dtype: Dtype,
    big_endian: bool,
    shape: &[usize],
    fortran_order: bool,
) -> Result<Value, IoError> {
    let count: usize = shape.iter().product();
    let size = dtype.size();
    let out_bytes = if dtype.is_float() { 4 } else { 8 };
    check_alloc_bytes(
        (count as u64).saturating_mul(out_bytes),
        &format!("array {} from {}", dims_string(shape), path.display()),
    )?;
    // Fixed-size reads: `chunk` has exactly `N` bytes, so the array conversion cannot fail.
    fn bytes<const N: usize>(chunk: &[u8], big: bool) -> [u8; N] {
        let mut b = [0u8; N];
        b.copy_from_slice(&chunk[..N]);
        if big {
            b.reverse();
        }
        b
    }
    let big = big_endian;
    if dtype.is_float() {
        let mut values: Vec<f32> = Vec::with_capacity(count);
        for_each_element(path, reader, count, size, |c| {
            values.push(match dtype {
                Dtype::Float(2) => f16_to_f32(u16::from_le_bytes(bytes(c, big))),
                Dtype::BFloat16 => {
                    f32::from_bits(u32::from(u16::from_le_bytes(bytes(c, big))) << 16)
                }
                Dtype::Float(4) => f32::from_le_bytes(bytes(c, big)),
                _ => f64::from_le_bytes(bytes(c, big)) as f32,
            });
            Ok(())
        })?;
        Ok(Value::Float(shaped(path, values, shape, fortran_order)?))
    } else {
        let mut values: Vec<i64> = Vec::with_capacity(count);
        for_each_element(path, reader, count, size, |c| {
            values.push(match dtype {
                Dtype::Bool => i64::from(c[0] != 0),
                Dtype::Int {
                    signed: true,
                    size: 1,
                } => i64::from(c[0] as i8),
                Dtype::Int {
                    signed: false,
                    size: 1,
                } => i64::from(c[0]),
                Dtype::Int {
                    signed: true,
                    size: 2,
                } => i64::from(i16::from_le_bytes(bytes(c, big))),
                Dtype::Int {
                    signed: false,
                    size: 2,
                } => i64::from(u16::from_le_bytes(bytes(c, big))),
                Dtype::Int {
                    signed: true,
                    size: 4,
                } => i64::from(i32::from_le_bytes(bytes(c, big))),
                Dtype::Int {
                    signed: false,
                    size: 4,
                } => i64::from(u32::from_le_bytes(bytes(c, big))),
                Dtype::Int { signed: true, .. } => i64::from_le_bytes(bytes(c, big)),
                _ => {
                    let u = u64::from_le_bytes(bytes(c, big));
                    i64::try_from(u).map_err(|_| IoError::OutOfRange {
                        path: path.to_path_buf(),
                        value: u,
                    })?
                }
            });
            Ok(())
        })?;
        Ok(Value::Int(shaped(path, values, shape, fortran_order)?))
    }
}

/// Builds a standard-layout array; Fortran-order data is read as the reversed shape and
/// transposed.
fn shaped<T: Clone>(
    path: &Path,
    values: Vec<T>,
    shape: &[usize],
    fortran_order: bool,
) -> Result<ArrayD<T>, IoError> {
    let mismatch = |found: usize| IoError::SizeMismatch {
        path: path.to_path_buf(),
        reason: format!(
            "shape {} needs {} elements, found {found}",
            dims_string(shape),
            shape.iter().product::<usize>()
        ),
    };
    let found = values.len();
    if fortran_order {
        let reversed: Vec<usize> = shape.iter().rev().copied().collect();
        let array =
            ArrayD::from_shape_vec(IxDyn(&reversed), values).map_err(|_| mismatch(found))?;
        Ok(array.reversed_axes().as_standard_layout().into_owned())
    } else {
        ArrayD::from_shape_vec(IxDyn(shape), values).map_err(|_| mismatch(found))
    }
}

/// Checked element count and byte size of `shape` × `item` bytes.
pub(crate) fn checked_size(path: &Path, shape: &[u64], item: usize) -> Result<(u64, u64), IoError> {
    let overflow = || IoError::ShapeOverflow {
        path: path.to_path_buf(),
        shape: dims_string(shape),
    };
    let count = shape
        .iter()
        .try_fold(1u64, |acc, &d| acc.checked_mul(d))
        .ok_or_else(overflow)?;
    let bytes = count.checked_mul(item as u64).ok_or_else(overflow)?;
    // Every dim must also be addressable on this machine.
    usize::try_from(bytes).map_err(|_| overflow())?;
    Ok((count, bytes))
}

/// A parsed `.npy` header.
struct Header {
    descr: String,
    dtype: Option<Dtype>,
    big_endian: bool,
    fortran_order: bool,
    shape: Vec<u64>,
}

/// Reads `.npy` bytes into a value (floats as f32, integers and bools as i64).
pub(crate) fn decode(path: &Path, bytes: &[u8]) -> Result<Value, IoError> {
    read(path, &mut &bytes[..], bytes.len() as u64)
}

/// Reads an `.npy` stream of `len` bytes into a value. Every size is checked against
/// `len` before anything is allocated, and the data is converted chunk by chunk.
pub(crate) fn read<R: Read>(path: &Path, reader: &mut R, len: u64) -> Result<Value, IoError> {
    let bad = |reason: String| IoError::BadHeader {
        path: path.to_path_buf(),
        format: "npy",
        reason,
    };
    let mut read_exact = |buf: &mut [u8], what: &str| {
        reader.read_exact(buf).map_err(|e| match e.kind() {
            std::io::ErrorKind::UnexpectedEof => bad(format!("the file ends {what}")),
            _ => IoError::from_os(path, e),
        })
    };
    let mut lead = [0u8; 8];
    if len < 8 {
        return Err(bad("the file does not start with \\x93NUMPY".to_string()));
    }
    read_exact(&mut lead, "before the format version")?;
    if &lead[..MAGIC.len()] != MAGIC {
        return Err(bad("the file does not start with \\x93NUMPY".to_string()));
    }
    let (header_len, header_start): (u64, u64) = match [lead[6], lead[7]] {
        [1, _] => {
            let mut b = [0u8; 2];
            read_exact(&mut b, "inside the header length")?;
            (u64::from(u16::from_le_bytes(b)), 10)
        }
        [2 | 3, _] => {
            let mut b = [0u8; 4];
            read_exact(&mut b, "inside the header length")?;
            (u64::from(u32::from_le_bytes(b)), 12)
        }
        [major, minor] => return Err(bad(format!("unsupported format version {major}.{minor}"))),
    };
    let after_header = len.saturating_sub(header_start);
    if header_len > after_header {
        return Err(bad(format!(
            "header declares {header_len} bytes but the file has only {after_header}"
        )));
    }
    check_alloc_bytes(header_len, &format!("the header of {}", path.display()))?;
    // header_len <= len, and the memory check passed
    let mut header_bytes = vec![0u8; header_len as usize];
    read_exact(&mut header_bytes, "inside the header")?;
    let text = String::from_utf8_lossy(&header_bytes);
    let header = parse_header(&text).map_err(bad)?;
    let Some(dtype) = header.dtype else {
        return Err(IoError::UnsupportedDtype {
            path: path.to_path_buf(),
            dtype: header.descr,
        });
    };
    let (_, needed) = checked_size(path, &header.shape, dtype.size())?;
    let available = after_header - header_len;
    if needed > available {
        return Err(IoError::Truncated {
            path: path.to_path_buf(),
            shape: dims_string(&header.shape),
            expected: needed,
            found: available,
        });
    }
    // checked_size proved every dim and the product fit in usize.
    let shape: Vec<usize> = header.shape.iter().map(|&d| d as usize).collect();
    decode_elements(
        path,
        reader,
        dtype,
        header.big_endian,
        &shape,
        header.fortran_order,
    )
}

/// Parses a numpy dtype string such as `<f4`, `|u1`, `>i8`, `|b1`.
fn parse_descr(descr: &str) -> Option<(Dtype, bool)> {
    let (big_endian, rest) = match descr.as_bytes().first()? {
        b'<' | b'|' => (false, &descr[1..]),
        b'>' => (true, &descr[1..]),
        b'=' => (cfg!(target_endian = "big"), &descr[1..]),
        _ => (false, descr),
    };
    let dtype = match rest {
        "f2" | "e" => Dtype::Float(2),
        "f4" | "f" => Dtype::Float(4),
        "f8" | "d" => Dtype::Float(8),
        "b1" | "?" => Dtype::Bool,
        "i1" | "b" => Dtype::Int {
            signed: true,
            size: 1,
        },
        "u1" | "B" => Dtype::Int {
            signed: false,
            size: 1,
        },
        "i2" => Dtype::Int {
            signed: true,
            size: 2,
        },
        "u2" => Dtype::Int {
            signed: false,
            size: 2,
        },
        "i4" => Dtype::Int {
            signed: true,
            size: 4,
        },
        "u4" => Dtype::Int {
            signed: false,
            size: 4,
        },
        "i8" => Dtype::Int {
            signed: true,
            size: 8,
        },
        "u8" => Dtype::Int {
            signed: false,
            size: 8,
        },
        _ => return None,
    };
    Some((dtype, big_endian))
}

/// A Python literal as it appears in an npy header.
#[derive(Debug)]
enum Literal {
    Str(String),
    Bool(bool),
    Int(Option<u64>),
    Seq(Vec<Literal>),
}

struct Parser<'a> {
    text: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    fn skip_ws(&mut self) {
        while self.pos < self.text.len() && self.text[self.pos].is_ascii_whitespace() {
            self.pos += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.skip_ws();
        self.text.get(self.pos).copied()
    }

    fn expect(&mut self, c: u8) -> Result<(), String> {
        match self.peek() {
            Some(got) if got == c => {
                self.pos += 1;
                Ok(())
            }
            Some(got) => Err(format!(
                "expected '{}' at byte {}, found '{}'",
                c as char,
                self.pos,
                got.escape_ascii()
            )),
            None => Err(format!(
                "expected '{}', found the end of the header",
                c as char
            )),
        }
    }

    fn value(&mut self, depth: usize) -> Result<Literal, String> {
        if depth > 16 {
            return Err("literal nested too deeply".to_string());
        }
        match self.peek() {
            Some(q @ (b'\'' | b'"')) => {
                self.pos += 1;
                let start = self.pos;
                while self.pos < self.text.len() && self.text[self.pos] != q {
                    self.pos += 1;
                }
                if self.pos >= self.text.len() {
                    return Err("unterminated string".to_string());
                }
                let s = String::from_utf8_lossy(&self.text[start..self.pos]).into_owned();
                self.pos += 1;
                Ok(Literal::Str(s))
            }
            Some(open @ (b'(' | b'[')) => {
                let close = if open == b'(' { b')' } else { b']' };
                self.pos += 1;
                let mut items = Vec::new();
                loop {
                    if self.peek() == Some(close) {
                        self.pos += 1;
                        return Ok(Literal::Seq(items));
                    }
                    items.push(self.value(depth + 1)?);
                    match self.peek() {
                        Some(b',') => self.pos += 1,
                        Some(c) if c == close => {}
                        _ => {
                            return Err(format!(
                                "expected ',' or '{}' in a sequence",
                                close as char
                            ))
                        }
                    }
                }
            }
            Some(c) if c.is_ascii_digit() => {
                let start = self.pos;
                while self.pos < self.text.len() && self.text[self.pos].is_ascii_digit() {
                    self.pos += 1;
                }
                let digits = String::from_utf8_lossy(&self.text[start..self.pos]).into_owned();
                // Python 2 longs: `3L`
                if self.text.get(self.pos) == Some(&b'L') {
                    self.pos += 1;
                }
                Ok(Literal::Int(digits.parse().ok()))
            }
            Some(_) => {
                let rest = &self.text[self.pos..];
                if rest.starts_with(b"True") {
                    self.pos += 4;
                    Ok(Literal::Bool(true))
                } else if rest.starts_with(b"False") {
                    self.pos += 5;
                    Ok(Literal::Bool(false))
                } else {
                    Err(format!("unexpected text at byte {}", self.pos))
                }
            }
            None => Err("unexpected end of the header".to_string()),
        }
    }
}

fn parse_header(text: &str) -> Result<Header, String> {
    let mut p = Parser {
        text: text.as_bytes(),
        pos: 0,
    };
    p.expect(b'{')?;
    let (mut descr, mut fortran, mut shape) = (None, None, None);
    loop {
        if p.peek() == Some(b'}') {
            break;
        }
        let key = match p.value(0)? {
            Literal::Str(s) => s,
            _ => return Err("dictionary keys must be strings".to_string()),
        };
        p.expect(b':')?;
        p.skip_ws();
        let start = p.pos;
        let value = p.value(0)?;
        match key.as_str() {
            "descr" => {
                let raw = String::from_utf8_lossy(&text.as_bytes()[start..p.pos]).into_owned();
                descr = Some((value, raw));
            }
            "fortran_order" => fortran = Some(value),
            "shape" => shape = Some(value),
            _ => {}
        }
        match p.peek() {
            Some(b',') => p.pos += 1,
            Some(b'}') => {}
            _ => return Err("expected ',' or '}' after a dictionary entry".to_string()),
        }
    }
    let (descr, dtype, big_endian) = match descr {
        Some((Literal::Str(s), _)) => match parse_descr(&s) {
            Some((dtype, big)) => (s, Some(dtype), big),
            None => (s, None, false),
        },
        // a structured dtype: a list of (name, type) fields
        Some((_, raw)) => (raw, None, false),
        None => return Err("missing 'descr'".to_string()),
    };
    let fortran_order = match fortran {
        Some(Literal::Bool(b)) => b,
        Some(_) => return Err("'fortran_order' must be True or False".to_string()),
        None => return Err("missing 'fortran_order'".to_string()),
    };
    let shape = match shape {
        Some(Literal::Seq(items)) => items
            .into_iter()
            .map(|item| match item {
                Literal::Int(Some(d)) => Ok(d),
                Literal::Int(None) => Err("a dimension in 'shape' is too large".to_string()),
                _ => Err("'shape' must be a tuple of integers".to_string()),
            })
            .collect::<Result<Vec<u64>, String>>()?,
        Some(_) => return Err("'shape' must be a tuple of integers".to_string()),
        None => return Err("missing 'shape'".to_string()),
    };
    Ok(Header {
        descr,
        dtype,
        big_endian,
        fortran_order,
        shape,
    })
}

/// The header bytes (magic to trailing newline) for `descr` and `shape`, aligned to 64.
fn header_bytes(descr: &str, shape: &[usize]) -> Vec<u8> {
    let dims = match shape {
        [] => "()".to_string(),
        [d] => format!("({d},)"),
        _ => format!(
            "({})",
            shape
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let mut dict = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {dims}, }}");
    let v1 = dict.len() + 11 <= 65535 + 10;
    let prefix = if v1 { 10 } else { 12 };
    // numpy pads so that the data starts at a multiple of 64
    let total = (prefix + dict.len() + 1).div_ceil(64) * 64;
    dict.push_str(&" ".repeat(total - prefix - dict.len() - 1));
    dict.push('\n');
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(MAGIC);
    if v1 {
        out.extend_from_slice(&[1, 0]);
        out.extend_from_slice(&(dict.len() as u16).to_le_bytes());
    } else {
        out.extend_from_slice(&[2, 0]);
        out.extend_from_slice(&(dict.len() as u32).to_le_bytes());
    }
    out.extend_from_slice(dict.as_bytes());
    out
}

/// Writes the elements in logical (row-major) order as little-endian bytes.
pub(crate) fn write_data<W: Write>(w: &mut W, tensor: &TensorRef<'_>) -> std::io::Result<()> {
    fn chunked<W: Write, T: Copy, const N: usize>(
        w: &mut W,
        items: impl Iterator<Item = T>,
        bytes: impl Fn(T) -> [u8; N],
    ) -> std::io::Result<()> {
        let mut buf: Vec<u8> = Vec::with_capacity(1 << 16);
        for x in items {
            buf.extend_from_slice(&bytes(x));
            if buf.len() >= 1 << 16 {
                w.write_all(&buf)?;
                buf.clear();
            }
        }
        w.write_all(&buf)
    }
    match tensor {
        TensorRef::Float(a) => chunked(w, a.iter().copied(), f32::to_le_bytes),
        TensorRef::Int(a) => chunked(w, a.iter().copied(), i64::to_le_bytes),
        TensorRef::Bool(a) => chunked(w, a.iter().copied(), |b| [u8::from(b)]),
    }
}

/// Writes a tensor as `.npy`: f32 as `<f4`, integers as `<i8`, bools as `|b1`, C order.
pub(crate) fn write<W: Write>(w: &mut W, tensor: &TensorRef<'_>) -> std::io::Result<()> {
    w.write_all(&header_bytes(tensor.npy_descr(), tensor.shape()))?;
    write_data(w, tensor)
}

/// Bytes of the `.npy` encoding of a tensor (header plus data).
pub(crate) fn encoded_len(tensor: &TensorRef<'_>) -> u64 {
    let count: u64 = tensor.shape().iter().map(|&d| d as u64).product();
    header_bytes(tensor.npy_descr(), tensor.shape()).len() as u64 + count * tensor.item_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_is_aligned_and_matches_numpy() {
        let h = header_bytes("<f4", &[2, 3]);
        assert_eq!(h.len() % 64, 0);
        let text = String::from_utf8_lossy(&h[10..]);
        // numpy 1.x/2.x: np.save of np.zeros((2, 3), np.float32)
        assert!(text.starts_with("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"));
        assert!(text.ends_with(" \n"));
        assert!(String::from_utf8_lossy(&header_bytes("<i8", &[5])).contains("'shape': (5,)"));
        assert!(String::from_utf8_lossy(&header_bytes("<f4", &[])).contains("'shape': ()"));
    }

    #[test]
    fn parses_header_variants() {
        let h =
            parse_header("{'descr': '>i2', 'fortran_order': True, 'shape': (3L, 4), }").unwrap();
        assert_eq!(
            h.dtype,
            Some(Dtype::Int {
                signed: true,
                size: 2
            })
        );
        assert!(h.big_endian && h.fortran_order);
        assert_eq!(h.shape, vec![3, 4]);
        let h = parse_header("{\"descr\":\"<c8\",\"fortran_order\":False,\"shape\":()}").unwrap();
        assert_eq!(h.dtype, None);
        assert_eq!(h.descr, "<c8");
        assert!(
            parse_header("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,)}")
                .unwrap()
                .dtype
                .is_none()
        );
        assert!(parse_header("{'descr': '<f4', 'shape': (1,)}").is_err());
        assert!(parse_header(&"(".repeat(10_000)).is_err());
        assert!(parse_header(
            "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999999,)}"
        )
        .is_err());
    }

    #[test]
    fn half_floats_convert_exactly() {
        assert_eq!(f16_to_f32(0x3c00), 1.0);
        assert_eq!(f16_to_f32(0xc000), -2.0);
        assert_eq!(f16_to_f32(0x7bff), 65504.0);
        assert_eq!(f16_to_f32(0x0001), 5.960_464_5e-8);
        assert_eq!(f16_to_f32(0x7c00), f32::INFINITY);
        assert!(f16_to_f32(0x7e00).is_nan());
        assert_eq!(f16_to_f32(0x8000).to_bits(), (-0.0f32).to_bits());
    }
}
