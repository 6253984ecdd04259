//! The tensor operations of SPEC v1.1, with their shapes: `@`, reductions
//! with `dim=`/`keepdim=`, `argmax`/`argmin`, `cat`/`stack`, `flip`,
//! `permute`, comparisons, `.shape`/`.ndim`/`.numel`, and layers applied as
//! functions (`maxpool(X, k=2)`, `conv2d(X, K, p=1)`).

use rand::seq::IndexedRandom;
use rand::Rng;

use super::{dims, Gen};

impl Gen<'_> {
    /// One of the v1.1 operations on a generated operand.
    pub(super) fn tensor_op(&mut self, depth: u32) -> (String, Vec<usize>) {
        match self.rng.random_range(0..8) {
            0 => self.matmul(depth),
            1 => self.reduce(depth),
            2 => self.join(depth),
            3 => self.reorder(depth),
            4 => self.compare(depth),
            5 => self.pool_fn(),
            6 => self.conv_fn(),
            _ => {
                // a count broadcasts as a scalar
                let (e, shape) = self.tensor_expr(depth + 1);
                let p = ["ndim", "numel"]
                    .choose(self.rng)
                    .copied()
                    .unwrap_or("ndim");
                let of = match self.tensors.choose(self.rng) {
                    Some(t) => t.name.clone(),
                    None => "ones(2x3)".into(),
                };
                (format!("({e}) / ({of}).{p}"), shape)
            }
        }
    }

    /// `A @ B` (2-D, 1-D or batched), or `matmul(A, B)`.
    fn matmul(&mut self, depth: u32) -> (String, Vec<usize>) {
        let (a, a_shape) = self.operand(depth, 1, 3);
        let k = *a_shape.last().unwrap_or(&1);
        let n = self.rng.random_range(1..5);
        let (b, out) = match a_shape.len() {
            1 if self.rng.random_bool(0.5) => (format!("rand({k})"), vec![]),
            1 => (format!("rand({k}x{n})"), vec![n]),
            r => {
                let mut out = a_shape[..r - 1].to_vec();
                out.push(n);
                (format!("rand({k}x{n})"), out)
            }
        };
        let text = if self.rng.random_bool(0.3) {
            format!("matmul({a}, {b})")
        } else {
            format!("({a}) @ {b}")
        };
        (text, out)
    }

    /// `X.sum(dim=d)`, `.mean(dim=d, keepdim=true)`, `.argmax(dim=d).float()`.
    fn reduce(&mut self, depth: u32) -> (String, Vec<usize>) {
        let (e, shape) = self.operand(depth, 1, 4);
        let m = ["sum", "mean", "max", "min", "argmax", "argmin"].choose(self.rng);
        let m = m.copied().unwrap_or("sum");
        let d = self.rng.random_range(0..shape.len());
        let written = if self.rng.random_bool(0.3) {
            d as i64 - shape.len() as i64
        } else {
            d as i64
        };
        let keep = self.rng.random_bool(0.3);
        let mut out = shape.clone();
        let args = if keep {
            out[d] = 1;
            format!("dim={written}, keepdim=true")
        } else {
            out.remove(d);
            format!("dim={written}")
        };
        let cast = if m.starts_with("arg") { ".float()" } else { "" };
        (format!("({e}).{m}({args}){cast}"), out)
    }

    /// `cat([A, B], dim=d)` or `stack([A, B], dim=d)`.
    fn join(&mut self, depth: u32) -> (String, Vec<usize>) {
        let (a, shape) = self.operand(depth, 1, 4);
        let d = self.rng.random_range(0..shape.len());
        let mut other = shape.clone();
        if self.rng.random_bool(0.5) {
            let extra = self.rng.random_range(1..4);
            other[d] = extra;
            let mut out = shape.clone();
            out[d] += extra;
            return (format!("cat([{a}, rand({})], dim={d})", dims(&other)), out);
        }
        let d = self.rng.random_range(0..=shape.len());
        let mut out = shape.clone();
        out.insert(d, 3);
        let b = format!("zeros({})", dims(&shape));
        (format!("stack([{a}, {b}, {a}], dim={d})"), out)
    }

    /// `.flip()`, `.flip(dim=d)`, `.permute(..)`.
    fn reorder(&mut self, depth: u32) -> (String, Vec<usize>) {
        let (e, shape) = self.operand(depth, 1, 4);
        match self.rng.random_range(0..3) {
            0 => (format!("({e}).flip()"), shape),
            1 => {
                let d = self.rng.random_range(0..shape.len());
                (format!("({e}).flip(dim={d})"), shape)
            }
            _ => {
                let mut order: Vec<usize> = (0..shape.len()).collect();
                order.reverse();
                if self.rng.random_bool(0.5) && order.len() > 2 {
                    order.swap(0, 1);
                }
                let out = order.iter().map(|&i| shape[i]).collect();
                let list: Vec<String> = order.iter().map(usize::to_string).collect();
                (format!("({e}).permute({})", list.join(", ")), out)
            }
        }
    }

    /// `(A > 0.5).float()` and the other comparisons.
    fn compare(&mut self, depth: u32) -> (String, Vec<usize>) {
        let (e, shape) = self.tensor_expr(depth + 1);
        let op = ["==", "!=", "<", "<=", ">", ">="].choose(self.rng);
        let n = self.number();
        (
            format!("(({e}) {} {n}).float()", op.copied().unwrap_or(">")),
            shape,
        )
    }

    /// `maxpool(X, k=2)`/`avgpool` on a 2-D, 3-D or 4-D tensor, keeping its rank.
    fn pool_fn(&mut self) -> (String, Vec<usize>) {
        let rank = self.rng.random_range(2..5);
        let (h, w) = (self.rng.random_range(2..8), self.rng.random_range(2..8));
        let mut shape: Vec<usize> = (2..rank).map(|_| self.rng.random_range(1..4)).collect();
        shape.extend([h, w]);
        let k = self.rng.random_range(1..=h.min(w));
        let s = self.rng.random_range(1..3);
        let f = ["maxpool", "avgpool"].choose(self.rng).copied();
        let text = format!(
            "{}(rand({}), k={k}, s={s})",
            f.unwrap_or("maxpool"),
            dims(&shape)
        );
        let n = shape.len();
        shape[n - 2] = (h - k) / s + 1;
        shape[n - 1] = (w - k) / s + 1;
        (text, shape)
    }

    /// `conv2d(X, K, p=.., s=..)`, NCHW with a 4-D kernel or 2-D with a 2-D one.
    fn conv_fn(&mut self) -> (String, Vec<usize>) {
        let (h, w) = (self.rng.random_range(2..8), self.rng.random_range(2..8));
        let (kh, kw) = (self.rng.random_range(1..=h), self.rng.random_range(1..=w));
        let (p, s) = (self.rng.random_range(0..2), self.rng.random_range(1..3));
        let (oh, ow) = ((h + 2 * p - kh) / s + 1, (w + 2 * p - kw) / s + 1);
        if self.rng.random_bool(0.4) {
            let text = format!("conv2d(rand({h}x{w}), ones({kh}x{kw}), p={p}, s={s})");
            return (text, vec![oh, ow]);
        }
        let (n, c, o) = (
            self.rng.random_range(1..3),
            self.rng.random_range(1..4),
            self.rng.random_range(1..4),
        );
        let bias = if self.rng.random_bool(0.3) {
            format!(", zeros({o})")
        } else {
            String::new()
        };
        let text =
            format!("conv2d(rand({n}x{c}x{h}x{w}), randn({o}x{c}x{kh}x{kw}){bias}, p={p}, s={s})");
        (text, vec![n, o, oh, ow])
    }

    /// An operand of rank `lo..hi` (a fresh `rand` when the generated one is not).
    fn operand(&mut self, depth: u32, lo: usize, hi: usize) -> (String, Vec<usize>) {
        let (e, shape) = self.tensor_expr(depth + 1);
        if (lo..hi).contains(&shape.len()) {
            return (e, shape);
        }
        let rank = self.rng.random_range(lo..hi);
        let shape: Vec<usize> = (0..rank).map(|_| self.rng.random_range(1..5)).collect();
        (format!("rand({})", dims(&shape)), shape)
    }
}
