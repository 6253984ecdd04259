//! Tensor expressions with their shapes: constructors, literals, files,
//! arithmetic with broadcasting, indexing and slicing, methods and the other
//! builtins; and the statements that bind, print, assign and save them.

use rand::seq::IndexedRandom;
use rand::Rng;

use super::{dims, Gen, Tensor};
use crate::corpus::FIXTURES;

/// How deep expressions nest.
const MAX_DEPTH: u32 = 3;

impl Gen<'_> {
    /// A small shape of rank 1 to 4.
    fn small_shape(&mut self) -> Vec<usize> {
        let rank = self.rng.random_range(1..5);
        (0..rank).map(|_| self.rng.random_range(1..6)).collect()
    }

    pub(super) fn number(&mut self) -> String {
        ["0", "1", "2", "0.5", "-1", "3.25", "1e-3", "100"]
            .choose(self.rng)
            .copied()
            .unwrap_or("1")
            .into()
    }

    /// An expression and the shape of its value.
    pub(super) fn tensor_expr(&mut self, depth: u32) -> (String, Vec<usize>) {
        let leaf = depth >= MAX_DEPTH;
        match self.rng.random_range(0..if leaf { 5 } else { 14 }) {
            0 => self.constructor(),
            1 => self.literal(),
            2 => match self.tensors.choose(self.rng) {
                Some(t) => (t.name.clone(), t.shape.clone()),
                None => self.constructor(),
            },
            3 => {
                let (file, shape) = FIXTURES
                    .iter()
                    .filter_map(|f| f.tensor.map(|s| (f.name, s)))
                    .collect::<Vec<_>>()
                    .choose(self.rng)
                    .copied()
                    .unwrap_or(("x.npy", &[1]));
                (format!("load(\"{file}\")"), shape.to_vec())
            }
            4 => {
                let n = self.rng.random_range(1..25);
                let shape = factor(n, self.rng.random_range(1..4));
                let reshape = if self.rng.random_bool(0.5) {
                    format!(".reshape({})", dims(&shape))
                } else {
                    String::new()
                };
                let shape = if reshape.is_empty() { vec![n] } else { shape };
                (format!("arange({n}){reshape}"), shape)
            }
            5..=6 => self.binary(depth),
            7 => {
                let (e, s) = self.tensor_expr(depth + 1);
                (format!("-({e})"), s)
            }
            8 => self.indexed(depth),
            9 => self.method(depth),
            11..=12 => self.tensor_op(depth),
            10 => {
                let (h, w) = (self.rng.random_range(2..7), self.rng.random_range(2..7));
                let (kh, kw) = (self.rng.random_range(1..=h), self.rng.random_range(1..=w));
                let e = format!("corr2d(rand({h}x{w}), ones({kh}x{kw}))");
                (e, vec![h - kh + 1, w - kw + 1])
            }
            _ => {
                let (e, s) = self.tensor_expr(depth + 1);
                (format!("({e})"), s)
            }
        }
    }

    fn constructor(&mut self) -> (String, Vec<usize>) {
        let shape = self.small_shape();
        let d = dims(&shape);
        let e = match self.rng.random_range(0..5) {
            0 => format!("ones({d})"),
            1 => format!("zeros({d})"),
            2 => format!("rand({d})"),
            3 => format!("randn({d})"),
            _ => format!("full({d}, {})", self.number()),
        };
        (e, shape)
    }

    /// A nested list literal.
    fn literal(&mut self) -> (String, Vec<usize>) {
        let rank = self.rng.random_range(1..4);
        let shape: Vec<usize> = (0..rank).map(|_| self.rng.random_range(1..4)).collect();
        (self.nested(&shape), shape)
    }

    fn nested(&mut self, shape: &[usize]) -> String {
        match shape.split_first() {
            None => self.number(),
            Some((&n, rest)) => {
                let items: Vec<String> = (0..n).map(|_| self.nested(rest)).collect();
                format!("[{}]", items.join(", "))
            }
        }
    }

    /// `a op b` where `b` broadcasts against `a`.
    fn binary(&mut self, depth: u32) -> (String, Vec<usize>) {
        let (a, shape) = self.tensor_expr(depth + 1);
        let op = ["+", "-", "*", "/"]
            .choose(self.rng)
            .copied()
            .unwrap_or("+");
        let b = match self.rng.random_range(0..3) {
            0 => self.number(),
            1 => {
                // the same shape with some sizes 1 (and maybe fewer dims)
                let keep = self.rng.random_range(0..=shape.len());
                let tail: Vec<usize> = shape[shape.len() - keep..]
                    .iter()
                    .map(|&d| if self.rng.random_bool(0.5) { 1 } else { d })
                    .collect();
                if tail.is_empty() {
                    self.number()
                } else {
                    format!("ones({})", dims(&tail))
                }
            }
            _ if shape.is_empty() => self.number(),
            _ => format!("rand({})", dims(&shape)),
        };
        (format!("{a} {op} {b}"), shape)
    }

    /// `e[i]`, `e[a:b]`, `e[:, j]`, `e[::2]`.
    fn indexed(&mut self, depth: u32) -> (String, Vec<usize>) {
        let (e, shape) = self.tensor_expr(depth + 1);
        let Some((&first, rest)) = shape.split_first() else {
            return (e, shape);
        };
        let base = if e.chars().all(|c| c.is_alphanumeric()) {
            e
        } else {
            format!("({e})")
        };
        match self.rng.random_range(0..4) {
            0 => {
                let i = self.rng.random_range(0..first) as i64;
                let i = if self.rng.random_bool(0.3) {
                    i - first as i64
                } else {
                    i
                };
                (format!("{base}[{i}]"), rest.to_vec())
            }
            1 => {
                let a = self.rng.random_range(0..first);
                let b = self.rng.random_range(a + 1..=first);
                let mut s = vec![b - a];
                s.extend_from_slice(rest);
                (format!("{base}[{a}:{b}]"), s)
            }
            2 if !rest.is_empty() => {
                let j = self.rng.random_range(0..rest[0]);
                let mut s = vec![first];
                s.extend_from_slice(&rest[1..]);
                (format!("{base}[:, {j}]"), s)
            }
            _ => {
                let mut s = vec![first.div_ceil(2)];
                s.extend_from_slice(rest);
                (format!("{base}[::2]"), s)
            }
        }
    }

    /// Methods and fields: reductions, `.float()`, `.reshape(..)`, `.T`.
    fn method(&mut self, depth: u32) -> (String, Vec<usize>) {
        let (e, shape) = self.tensor_expr(depth + 1);
        let base = format!("({e})");
        match self.rng.random_range(0..4) {
            0 => {
                let m = ["sum", "mean", "max", "min"].choose(self.rng).copied();
                (format!("{base}.{}()", m.unwrap_or("sum")), vec![])
            }
            1 => (format!("{base}.float()"), shape),
            2 => {
                let n: usize = shape.iter().product();
                let to = factor(n, self.rng.random_range(1..4));
                let text = if self.rng.random_bool(0.3) {
                    "-1".to_string()
                } else {
                    dims(&to)
                };
                let to = if text == "-1" { vec![n] } else { to };
                (format!("{base}.reshape({text})"), to)
            }
            _ if shape.len() == 2 => (format!("{base}.T"), vec![shape[1], shape[0]]),
            _ => (base, shape),
        }
    }

    /// `let NAME = expr`.
    pub(super) fn let_tensor(&mut self) {
        let (e, shape) = self.tensor_expr(0);
        let name = self.name("t");
        self.line(format!("let {name} = {e}"));
        self.tensors.push(Tensor { name, shape });
    }

    /// `print expr`, or a field of a bundle loaded from a file.
    pub(super) fn print_expr(&mut self) {
        let text = match self.rng.random_range(0..6) {
            0 => {
                let f = FIXTURES.choose(self.rng).map_or("x.npy", |f| f.name);
                format!("print load(\"{f}\")")
            }
            1 => "print load(\"d.npz\").x".into(),
            2 => {
                let p = ["shape", "ndim", "numel", "T"].choose(self.rng).copied();
                format!("print ({}).{}", self.tensor_expr(1).0, p.unwrap_or("shape"))
            }
            _ => format!("print {}", self.tensor_expr(0).0),
        };
        self.line(text);
    }

    /// `X[..] = value` on a bound tensor.
    pub(super) fn assign(&mut self) {
        let Some(t) = self.tensors.choose(self.rng).cloned() else {
            return self.let_tensor();
        };
        let Some(&first) = t.shape.first() else {
            return self.print_expr();
        };
        let i = self.rng.random_range(0..first);
        let value = if self.rng.random_bool(0.5) || t.shape.len() == 1 {
            self.number()
        } else {
            format!("ones({})", dims(&t.shape[1..]))
        };
        let index = if self.rng.random_bool(0.5) {
            format!("{i}")
        } else {
            format!("{i}:{}", first)
        };
        self.line(format!("{}[{index}] = {value}", t.name));
    }

    /// `save expr "file"` in one of the formats.
    pub(super) fn save_tensor(&mut self) {
        let (e, shape) = self.tensor_expr(1);
        let ext = if shape.len() <= 2 {
            ["npy", "npz", "safetensors", "csv"].choose(self.rng)
        } else {
            ["npy", "npz", "safetensors"].choose(self.rng)
        };
        let ext = ext.copied().unwrap_or("npy");
        self.line(format!("save {e} \"t.{ext}\""));
        if self.rng.random_bool(0.5) {
            self.line(format!("print load(\"t.{ext}\")"));
        }
    }

    /// `let (a, b) = split(D, f)` on a tensor or a bundle.
    pub(super) fn split(&mut self) {
        let data = match self.rng.random_range(0..3) {
            0 => "load(\"d.npz\")".to_string(),
            _ => {
                let (e, shape) = self.tensor_expr(1);
                if shape.is_empty() {
                    "load(\"d.npz\")".to_string()
                } else {
                    e
                }
            }
        };
        let f = ["0.5", "0.8", "0", "1"]
            .choose(self.rng)
            .copied()
            .unwrap_or("0.5");
        let (a, b) = (self.name("a"), self.name("b"));
        self.line(format!("let ({a}, {b}) = split({data}, {f})"));
        self.line(format!("print {a}"));
    }
}

/// `n` as a product of about `parts` factors.
fn factor(n: usize, parts: usize) -> Vec<usize> {
    let mut out = Vec::new();
    let mut rest = n;
    for _ in 1..parts {
        if let Some(d) = (2..=rest).find(|d| rest.is_multiple_of(*d) && *d < rest) {
            out.push(d);
            rest /= d;
        }
    }
    out.push(rest);
    out
}
