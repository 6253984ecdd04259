//! Values as text, exactly as PyTorch prints tensors (`torch/_tensor_str.py` with the
//! default print options: precision 4, threshold 1000, edgeitems 3, linewidth 80).

use std::fmt;

use ndarray::{ArrayViewD, Axis};

use crate::value::Value;

const PRECISION: usize = 4;
const THRESHOLD: usize = 1000;
const EDGEITEMS: usize = 3;
const LINEWIDTH: usize = 80;
const PREFIX: &str = "tensor(";

impl fmt::Display for Value {
    /// PyTorch's `print(tensor)` text; bundles list `name: shape` per line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_value(self))
    }
}

/// PyTorch's `print(tensor)` text for a tensor; a bundle lists `name: shape` per line.
pub fn format_value(value: &Value) -> String {
    format_value_with_suffixes(value, &[])
}

/// As [`format_value`], with PyTorch-style suffixes after the data, such as
/// `requires_grad=True` or `grad_fn=<ConvolutionBackward0>` (wrapped at 80 columns as
/// PyTorch's `_add_suffixes` does). Bundles ignore the suffixes.
pub fn format_value_with_suffixes(value: &Value, suffixes: &[&str]) -> String {
    match value {
        Value::Float(a) => format_tensor(
            a.view(),
            &FloatFormatter::new(&summarized(a.view())),
            suffixes,
        ),
        Value::Int(a) => format_tensor(
            a.view(),
            &IntFormatter::new(&summarized(a.view())),
            suffixes,
        ),
        Value::Bool(a) => format_tensor(
            a.view(),
            &BoolFormatter::new(&summarized(a.view())),
            suffixes,
        ),
        // `torch.Size` written as a script writes dims; a 0-d tensor's has
        // none to write, so it prints as PyTorch prints it
        Value::Dims(d) if d.is_empty() => "torch.Size([])".to_string(),
        Value::Dims(d) => crate::value::dims_string(d),
        Value::Count(n) => n.to_string(),
        Value::Bundle(map) if map.is_empty() => "(empty bundle)".to_string(),
        Value::Bundle(map) => map
            .iter()
            .map(|(name, v)| match v {
                Value::Float(_) => format!("{name}: {}", v.dims_string()),
                Value::Int(_) => format!("{name}: {} (integer)", v.dims_string()),
                Value::Bool(_) => format!("{name}: {} (bool)", v.dims_string()),
                Value::Dims(_) | Value::Count(_) => format!("{name}: {v}"),
                Value::Bundle(inner) => format!("{name}: bundle of {} arrays", inner.len()),
            })
            .collect::<Vec<_>>()
            .join("\n"),
    }
}

/// Formats one element, right-aligned to the common width (`_Formatter`).
trait ElementFormat<T> {
    /// The common width (`_Formatter.width()`).
    fn width(&self) -> usize;
    /// One element, padded on the left to the width (`_Formatter.format`).
    fn format(&self, value: T) -> String;
    /// The dtype suffix an empty tensor prints (`dtype=torch.int64`), none for float32.
    fn empty_dtype(&self) -> Option<&'static str>;
}

/// `_Formatter` for floating dtypes: integral mode, scientific mode or fixed 4 decimals.
struct FloatFormatter {
    int_mode: bool,
    sci_mode: bool,
    max_width: usize,
}

/// Python's `'{:.4e}'`: mantissa, `e`, sign and at least two exponent digits.
fn sci(value: f64) -> String {
    if !value.is_finite() {
        return nonfinite(value);
    }
    let text = format!("{value:.PRECISION$e}");
    match text.split_once('e') {
        Some((mantissa, exp)) => {
            let (sign, digits) = match exp.strip_prefix('-') {
                Some(d) => ('-', d),
                None => ('+', exp),
            };
            format!("{mantissa}e{sign}{digits:0>2}")
        }
        None => text,
    }
}

/// Python's spelling of nan and infinities.
fn nonfinite(value: f64) -> String {
    if value.is_nan() {
        "nan".to_string()
    } else if value > 0.0 {
        "inf".to_string()
    } else {
        "-inf".to_string()
    }
}

/// Python's `'{:.0f}'` / `'{:.4f}'` (Rust rounds the exact binary value half-to-even too).
fn fixed(value: f64, decimals: usize) -> String {
    if value.is_finite() {
        format!("{value:.decimals$}")
    } else {
        nonfinite(value)
    }
}

impl FloatFormatter {
    fn new(values: &[f32]) -> Self {
        let mut f = FloatFormatter {
            int_mode: true,
            sci_mode: false,
            max_width: 1,
        };
        // Only nonzero finite values decide the mode and the width.
        let nonzero: Vec<f64> = values
            .iter()
            .filter(|v| v.is_finite() && **v != 0.0)
            .map(|&v| f64::from(v))
            .collect();
        if nonzero.is_empty() {
            return f;
        }
        let max = nonzero.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let min = nonzero.iter().fold(f64::INFINITY, |m, v| m.min(v.abs()));
        f.int_mode = nonzero.iter().all(|v| v.ceil() == *v);
        let widths: Box<dyn Fn(f64) -> usize> = if f.int_mode {
            if max / min > 1000.0 || max > 1.0e8 {
                f.sci_mode = true;
                Box::new(|v| sci(v).len())
            } else {
                Box::new(|v| fixed(v, 0).len() + 1)
            }
        } else if max / min > 1000.0 || max > 1.0e8 || min < 1.0e-4 {
            f.sci_mode = true;
            Box::new(|v| sci(v).len())
        } else {
            Box::new(|v| fixed(v, PRECISION).len())
        };
        f.max_width = nonzero.iter().map(|&v| widths(v)).fold(1, usize::max);
        f
    }
}

fn pad(text: String, width: usize) -> String {
    format!("{text:>width$}")
}

impl ElementFormat<f32> for FloatFormatter {
    fn width(&self) -> usize {
        self.max_width
    }

    fn format(&self, value: f32) -> String {
        let value = f64::from(value);
        let text = if self.sci_mode {
            sci(value)
        } else if self.int_mode {
            let mut t = fixed(value, 0);
            if value.is_finite() {
                t.push('.');
            }
            t
        } else {
            fixed(value, PRECISION)
        };
        pad(text, self.max_width)
    }

    fn empty_dtype(&self) -> Option<&'static str> {
        None
    }
}

/// `_Formatter` for integer dtypes: `str(value)`, right-aligned.
struct IntFormatter {
    max_width: usize,
}

impl IntFormatter {
    fn new(values: &[i64]) -> Self {
        let max_width = values
            .iter()
            .map(|v| v.to_string().len())
            .fold(1, usize::max);
        IntFormatter { max_width }
    }
}

impl ElementFormat<i64> for IntFormatter {
    fn width(&self) -> usize {
        self.max_width
    }

    fn format(&self, value: i64) -> String {
        pad(value.to_string(), self.max_width)
    }

    fn empty_dtype(&self) -> Option<&'static str> {
        Some("dtype=torch.int64")
    }
}

/// `_Formatter` for bool: `str(value)` (`True`, `False`), right-aligned.
struct BoolFormatter {
    max_width: usize,
}

impl BoolFormatter {
    fn new(values: &[bool]) -> Self {
        let max_width = if values.contains(&false) { 5 } else { 4 };
        BoolFormatter { max_width }
    }
}

impl ElementFormat<bool> for BoolFormatter {
    fn width(&self) -> usize {
        self.max_width
    }

    fn format(&self, value: bool) -> String {
        pad(
            if value { "True" } else { "False" }.to_string(),
            self.max_width,
        )
    }

    fn empty_dtype(&self) -> Option<&'static str> {
        Some("dtype=torch.bool")
    }
}

/// The elements PyTorch shows (`get_summarized_data`): all of them up to the threshold,
/// otherwise the first and last `EDGEITEMS` along every dim.
fn summarized<T: Copy>(a: ArrayViewD<'_, T>) -> Vec<T> {
    let mut out = Vec::new();
    let summarize = a.len() > THRESHOLD;
    collect_shown(a, summarize, &mut out);
    out
}

/// Indices shown along a dim of length `n`.
fn shown_indices(n: usize, summarize: bool) -> (Vec<usize>, bool) {
    if summarize && n > 2 * EDGEITEMS {
        let idx = (0..EDGEITEMS).chain(n - EDGEITEMS..n).collect();
        (idx, true)
    } else {
        ((0..n).collect(), false)
    }
}

fn collect_shown<T: Copy>(a: ArrayViewD<'_, T>, summarize: bool, out: &mut Vec<T>) {
    if a.ndim() == 0 {
        out.extend(a.iter().copied());
        return;
    }
    let (indices, _) = shown_indices(a.shape()[0], summarize);
    for i in indices {
        collect_shown(a.index_axis(Axis(0), i), summarize, out);
    }
}

/// `_tensor_str_with_formatter`: nested brackets, rank-1 rows wrapped at the line width.
fn tensor_str<T: Copy>(
    a: ArrayViewD<'_, T>,
    indent: usize,
    summarize: bool,
    fmt: &dyn ElementFormat<T>,
) -> String {
    match a.ndim() {
        0 => a.iter().next().map_or_else(String::new, |&v| fmt.format(v)),
        1 => vector_str(a, indent, summarize, fmt),
        dim => {
            let (indices, elided) = shown_indices(a.shape()[0], summarize);
            let mut slices: Vec<String> = indices
                .iter()
                .map(|&i| tensor_str(a.index_axis(Axis(0), i), indent + 1, summarize, fmt))
                .collect();
            if elided {
                slices.insert(EDGEITEMS, "...".to_string());
            }
            let separator = format!(",{}{}", "\n".repeat(dim - 1), " ".repeat(indent + 1));
            format!("[{}]", slices.join(&separator))
        }
    }
}

/// `_vector_str`: elements joined by `, `, as many per line as fit in the line width.
fn vector_str<T: Copy>(
    a: ArrayViewD<'_, T>,
    indent: usize,
    summarize: bool,
    fmt: &dyn ElementFormat<T>,
) -> String {
    let element_length = fmt.width() + 2;
    let per_line = (LINEWIDTH.saturating_sub(indent) / element_length).max(1);
    let (indices, elided) = shown_indices(a.len(), summarize);
    let mut data: Vec<String> = indices.iter().map(|&i| fmt.format(a[[i]])).collect();
    if elided {
        data.insert(EDGEITEMS, " ...".to_string());
    }
    let lines: Vec<String> = data.chunks(per_line).map(|line| line.join(", ")).collect();
    format!(
        "[{}]",
        lines.join(&format!(",\n{}", " ".repeat(indent + 1)))
    )
}

/// Python's `str(tuple(shape))`.
fn python_tuple(shape: &[usize]) -> String {
    match shape {
        [d] => format!("({d},)"),
        _ => format!(
            "({})",
            shape
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// `_str_intern` and `_add_suffixes` for a dense CPU tensor of the default dtype, int64 or bool.
fn format_tensor<T: Copy>(
    a: ArrayViewD<'_, T>,
    fmt: &dyn ElementFormat<T>,
    extra: &[&str],
) -> String {
    let indent = PREFIX.len();
    let mut suffixes = Vec::new();
    let body = if a.is_empty() {
        if a.ndim() != 1 {
            suffixes.push(format!("size={}", python_tuple(a.shape())));
        }
        if let Some(dtype) = fmt.empty_dtype() {
            suffixes.push(dtype.to_string());
        }
        "[]".to_string()
    } else {
        let summarize = a.len() > THRESHOLD;
        tensor_str(a, indent, summarize, fmt)
    };
    suffixes.extend(extra.iter().map(|s| s.to_string()));
    let mut out = format!("{PREFIX}{body}");
    // Python: len(s) - s.rfind("\n") + 1, where rfind gives -1 when there is no newline.
    let mut last_line_len = match out.rfind('\n') {
        Some(i) => out.len() - i + 1,
        None => out.len() + 2,
    };
    for suffix in suffixes {
        if last_line_len + suffix.len() + 2 > LINEWIDTH {
            out.push_str(&format!(",\n{}{suffix}", " ".repeat(indent)));
            last_line_len = indent + suffix.len();
        } else {
            out.push_str(&format!(", {suffix}"));
            last_line_len += suffix.len() + 2;
        }
    }
    out.push(')');
    out
}

#[cfg(test)]
mod tests;
