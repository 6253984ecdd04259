//! The memory guard for the tensors an operation creates: refused before
//! anything is allocated when they would not fit, with the shape in the
//! message. Every operation whose result size a script controls calls it.

use super::error::{RunError, RunResult};
use crate::syntax::ast::Span;
use crate::value::dims_string;

/// Refuses a new f32 tensor of `shape`, made by `what` ("the result of
/// `*`"), when its size overflows or it would not fit in memory.
pub fn tensor(shape: &[usize], what: &str, span: Span) -> RunResult<()> {
    let elements = shape
        .iter()
        .try_fold(1u64, |acc, &d| acc.checked_mul(d as u64));
    let what = format!("{what} (shape {})", dims_string(shape));
    let bytes = elements.and_then(|n| n.checked_mul(4)).unwrap_or(u64::MAX);
    crate::io::check_alloc_bytes(bytes, &what).map_err(|e| RunError::io(&e, span))
}

/// The shape `a` and `b` broadcast to (PyTorch's rules: sizes equal or 1,
/// counting from the right), held to the memory guard as the result of
/// `what`. `Ok(None)` when the shapes do not broadcast.
pub fn broadcast(
    a: &[usize],
    b: &[usize],
    what: &str,
    span: Span,
) -> RunResult<Option<Vec<usize>>> {
    let Some(shape) = broadcast_shape(a, b) else {
        return Ok(None);
    };
    tensor(&shape, what, span)?;
    Ok(Some(shape))
}

/// The shape `a` and `b` broadcast to, if they do.
pub fn broadcast_shape(a: &[usize], b: &[usize]) -> Option<Vec<usize>> {
    let n = a.len().max(b.len());
    let at = |s: &[usize], i: usize| {
        if i + s.len() >= n {
            s[i + s.len() - n]
        } else {
            1
        }
    };
    (0..n)
        .map(|i| match (at(a, i), at(b, i)) {
            (x, y) if x == y || y == 1 => Some(x),
            (1, y) => Some(y),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_broadcast_from_the_right() {
        assert_eq!(broadcast_shape(&[2, 1], &[3]), Some(vec![2, 3]));
        assert_eq!(broadcast_shape(&[], &[4, 5]), Some(vec![4, 5]));
        assert_eq!(broadcast_shape(&[2, 3], &[3, 2]), None);
    }

    #[test]
    fn a_broadcast_past_memory_is_refused_with_its_shape() {
        let span = Span::new(0, 1);
        let err =
            broadcast(&[200_000, 1], &[1, 200_000], "the result of `*`", span).expect_err("160 GB");
        assert!(
            err.message
                .contains("the result of `*` (shape 200000x200000)"),
            "{}",
            err.message
        );
        assert_eq!(err.label, "too large");
        let ok = broadcast(&[2, 1], &[1, 3], "the result of `*`", span);
        assert_eq!(ok.ok().flatten(), Some(vec![2, 3]));
    }
}
