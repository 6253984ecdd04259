//! Literals no value can hold: numbers past f32's range (tensors are f32)
//! or integers past 64 bits, and dims whose sizes overflow. Each is an
//! error at the literal, found by `check` before anything runs.

use crate::ir::error::CheckError;
use crate::syntax::ast::{DimLit, Dims, Number};
use crate::value::dims_string;

/// The error for a number literal too large for any value, if it is one.
pub fn number_overflow(n: &Number) -> Option<CheckError> {
    let integer = !n.text.contains(['.', 'e', 'E']);
    let limit = if integer && n.as_int().is_none() {
        "integers go up to 9223372036854775807 (2^63 - 1)"
    } else if (n.value as f32).is_infinite() || n.value.is_nan() {
        "numbers are 32-bit floats, up to about 3.4e38"
    } else {
        return None;
    };
    Some(CheckError::bad_value(
        format!("the number {} is too large", n.text),
        n.span,
        "too large",
        format!("{limit}; write a smaller number"),
    ))
}

/// The error for a dims literal whose sizes, alone or multiplied, do not
/// fit in 64 bits, if it is one.
pub fn dims_overflow(d: &Dims) -> Option<CheckError> {
    let mut total = Some(1u64);
    for part in &d.dims {
        match part {
            DimLit::Known(n) => total = total.and_then(|t| t.checked_mul(*n)),
            DimLit::Sym(s) if s.starts_with(|c: char| c.is_ascii_digit()) => {
                return Some(CheckError::overflow(&format!("the size {s}"), d.span));
            }
            DimLit::Sym(_) => {}
        }
    }
    let shape = format!("the shape {}", dims_string(&d.dims));
    total
        .is_none()
        .then(|| CheckError::overflow(&shape, d.span))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syntax::ast::Span;

    fn number(text: &str) -> Number {
        Number {
            text: text.into(),
            value: text.parse().unwrap_or(f64::NAN),
            span: Span::new(0, text.len()),
        }
    }

    #[test]
    fn numbers_past_f32_or_i64_are_too_large() {
        for text in ["1e999", "1e39", "-4e38", "99999999999999999999"] {
            let e = number_overflow(&number(text)).expect(text);
            assert!(e.message.contains(text), "{}", e.message);
        }
        for text in [
            "3",
            "-1",
            "0.01",
            "1e-3",
            "3e38",
            "9223372036854775807",
            "1e-999",
        ] {
            assert!(number_overflow(&number(text)).is_none(), "{text}");
        }
    }

    #[test]
    fn dims_that_overflow_alone_or_multiplied() {
        let dims = |parts: &[DimLit]| Dims {
            dims: parts.to_vec(),
            span: Span::new(0, 1),
        };
        let big = DimLit::Sym("99999999999999999999".into());
        assert!(dims_overflow(&dims(&[big, DimLit::Known(2)])).is_some());
        let half = DimLit::Known(1 << 33);
        assert!(dims_overflow(&dims(&[half.clone(), half.clone()])).is_some());
        let n = DimLit::Sym("N".into());
        assert!(dims_overflow(&dims(&[n, half, DimLit::Known(4)])).is_none());
    }
}
