//! The sizes a model's symbolic dims take for a real input: the input
//! type's symbols bound to the input's sizes, and the small expressions
//! inference writes (`N-2`, `(H-1)/2+1`, `C*H*W`) evaluated with them. The
//! memory guard estimates activations with these, not with 1 per symbol.

use std::collections::HashMap;

use super::shape::{Dim, Shape};

/// Symbols of the input type `want` bound to the sizes of `got` (the input
/// in the model's rank, as `feed::input_shape` gives it); the batch stays
/// symbolic, as a model's shapes say it.
pub fn bind(want: &Shape, got: &[usize]) -> HashMap<String, u64> {
    want.0
        .iter()
        .zip(got)
        .skip(1)
        .filter_map(|(d, &n)| match d {
            Dim::Sym(s) => Some((s.clone(), n as u64)),
            Dim::Known(_) => None,
        })
        .collect()
}

/// `shape` with every size `env` gives known (the others kept).
pub fn substitute(shape: &Shape, env: &HashMap<String, u64>) -> Shape {
    Shape(
        shape
            .0
            .iter()
            .map(|d| eval(d, env).map_or_else(|| d.clone(), Dim::Known))
            .collect(),
    )
}

/// A dim's size under `env`; `None` when a symbol is unbound or the
/// expression is not one inference writes. Arithmetic saturates.
pub fn eval(d: &Dim, env: &HashMap<String, u64>) -> Option<u64> {
    match d {
        Dim::Known(n) => Some(*n),
        Dim::Sym(s) => {
            let mut p = Parser {
                s: s.as_bytes(),
                i: 0,
                env,
            };
            let v = p.sum()?;
            (p.i == p.s.len()).then_some(v)
        }
    }
}

/// `sum := product (('+'|'-') product)*`, `product := atom (('*'|'/') atom)*`,
/// `atom := number | name | '(' sum ')'`.
struct Parser<'a> {
    s: &'a [u8],
    i: usize,
    env: &'a HashMap<String, u64>,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }
    fn sum(&mut self) -> Option<u64> {
        let mut v = self.product()?;
        while let Some(op @ (b'+' | b'-')) = self.peek() {
            self.i += 1;
            let r = self.product()?;
            v = if op == b'+' {
                v.saturating_add(r)
            } else {
                v.saturating_sub(r)
            };
        }
        Some(v)
    }
    fn product(&mut self) -> Option<u64> {
        let mut v = self.atom()?;
        while let Some(op @ (b'*' | b'/')) = self.peek() {
            self.i += 1;
            let r = self.atom()?;
            v = if op == b'*' {
                v.saturating_mul(r)
            } else {
                v.checked_div(r)?
            };
        }
        Some(v)
    }
    fn atom(&mut self) -> Option<u64> {
        let start = self.i;
        match self.peek()? {
            b'(' => {
                self.i += 1;
                let v = self.sum()?;
                (self.peek() == Some(b')')).then(|| self.i += 1)?;
                Some(v)
            }
            c if c.is_ascii_digit() => {
                while self.peek().is_some_and(|c| c.is_ascii_digit()) {
                    self.i += 1;
                }
                std::str::from_utf8(&self.s[start..self.i])
                    .ok()?
                    .parse()
                    .ok()
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                while self
                    .peek()
                    .is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_')
                {
                    self.i += 1;
                }
                let name = std::str::from_utf8(&self.s[start..self.i]).ok()?;
                self.env.get(name).copied()
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symbols_take_the_input_sizes_and_expressions_evaluate() {
        let want = Shape(vec![
            Dim::Sym("B".into()),
            Dim::Known(1),
            Dim::Sym("N".into()),
            Dim::Known(7),
        ]);
        let env = bind(&want, &[1, 1, 100, 7]);
        let sym = |s: &str| Dim::Sym(s.into());
        assert_eq!(eval(&sym("N-2"), &env), Some(98));
        assert_eq!(eval(&sym("(N-1)/2+1"), &env), Some(50));
        assert_eq!(eval(&sym("N*4"), &env), Some(400));
        assert_eq!(eval(&sym("M"), &env), None);
        assert_eq!(eval(&sym("B"), &env), None);
        assert_eq!(eval(&sym("N-"), &env), None);
        assert_eq!(eval(&Dim::Known(3), &env), Some(3));
    }
}
