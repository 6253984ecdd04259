//! Property: on generated scripts (plain and graph models with every layer
//! and argument, lets, expressions, shape questions, comments and line
//! breaks in odd places), `fmt` is idempotent and `check --json` says the
//! same before and after.
//!
//! A script is generated as pieces (words, punctuation, places where a line
//! may break), then written out with random spacing, breaks and comments.

use proptest::prelude::*;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::format_source;
use crate::cli::check_source;
use crate::diag::Style;
use crate::session::Source;

/// One piece of a statement.
#[derive(Clone, Debug)]
enum P {
    /// A name, number, dims literal or string: needs a space next to another word.
    W(String),
    /// Punctuation.
    S(&'static str),
    /// A newline may stand here (inside brackets, after `->`).
    Brk,
}

fn w(s: impl Into<String>) -> P {
    P::W(s.into())
}

struct Gen {
    rng: ChaCha8Rng,
    tensors: Vec<String>,
    /// Tensors bound to `zeros(1x2x3)`, for slice assignments.
    grids: Vec<String>,
    models: Vec<String>,
    labels: usize,
}

impl Gen {
    fn pick<T: Clone>(&mut self, items: &[T]) -> T {
        items
            .choose(&mut self.rng)
            .cloned()
            .expect("non-empty choice")
    }
    fn chance(&mut self, p: f64) -> bool {
        self.rng.random_bool(p)
    }

    /// `name(k=v, ...)` with breaks allowed around the arguments.
    fn call(&mut self, name: &str, args: &[String], out: &mut Vec<P>) {
        out.push(w(name));
        if args.is_empty() && self.chance(0.5) {
            return;
        }
        out.extend([P::S("("), P::Brk]);
        for (i, a) in args.iter().enumerate() {
            if i > 0 {
                out.extend([P::Brk, P::S(","), P::Brk]);
            }
            let (k, v) = a.split_once('=').expect("key=value");
            out.extend([w(k), P::S("="), w(v)]);
        }
        if !args.is_empty() && self.chance(0.2) {
            out.push(P::S(","));
        }
        out.extend([P::Brk, P::S(")")]);
    }

    /// A layer keeping height and width, taking `ch` channels to the result.
    fn keep_layer(&mut self, ch: &mut u64, fixed: bool) -> (String, Vec<String>) {
        let out = if fixed {
            *ch
        } else {
            self.rng.random_range(1..=6)
        };
        let choice = self.rng.random_range(0..13);
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let (name, args) = match choice {
            0 => (
                "conv",
                vec![format!("out={out}"), "k=3".into(), "p=1".into()],
            ),
            1 => (
                "conv",
                vec![
                    format!("in={ch}"),
                    format!("out={out}"),
                    "k=1".into(),
                    "bias=false".into(),
                ],
            ),
            2 => (
                "conv",
                vec![
                    format!("out={out}"),
                    "k=3x1".into(),
                    "p=1x0".into(),
                    "s=1".into(),
                ],
            ),
            3 => (
                "conv",
                vec![
                    format!("out={out}"),
                    "k=3".into(),
                    "p=same".into(),
                    "init=randn".into(),
                ],
            ),
            4 => (
                "conv",
                vec![
                    format!("out={out}"),
                    "k=3".into(),
                    "d=2".into(),
                    "p=2".into(),
                    "flip=true".into(),
                ],
            ),
            5 => (
                "conv",
                vec![
                    format!("out={}", *ch * 2),
                    "k=1".into(),
                    format!("groups={ch}"),
                ],
            ),
            6 => ("maxpool", s(&["k=3", "s=1", "p=1"])),
            7 => ("avgpool", s(&["k=3", "s=1", "p=1", "count_pad=false"])),
            8 => ("maxpool", s(&["k=2", "s=1", "p=same", "ceil=false"])),
            9 => ("dropout", s(&["p=0.25"])),
            10 => ("batchnorm", s(&["eps=0.001", "momentum=0.2"])),
            _ => (
                self.pick(&["relu", "sigmoid", "tanh", "batchnorm", "dropout"]),
                vec![],
            ),
        };
        if fixed && choice == 5 {
            return ("relu".into(), vec![]);
        }
        match choice {
            0..=4 => *ch = out,
            5 => *ch *= 2,
            _ => {}
        }
        (name.to_string(), args)
    }

    /// Layers joined by `->` (a break may follow) or, in models, side by side.
    fn chain(&mut self, layers: &[(String, Vec<String>)], out: &mut Vec<P>) {
        self.chain_of(layers, false, out)
    }

    fn chain_of(&mut self, layers: &[(String, Vec<String>)], arrows: bool, out: &mut Vec<P>) {
        for (i, (name, args)) in layers.iter().enumerate() {
            if i > 0 {
                if arrows || self.chance(0.7) {
                    out.extend([P::S("->"), P::Brk]);
                } else {
                    out.push(P::S(" "));
                }
            }
            if self.chance(0.15) {
                self.labels += 1;
                out.extend([w(format!("l{}", self.labels)), P::S(":")]);
            }
            self.call(name, args, out);
        }
    }

    fn keep_chain(&mut self, ch: &mut u64, fixed: bool, len: usize) -> Vec<(String, Vec<String>)> {
        (0..len).map(|_| self.keep_layer(ch, fixed)).collect()
    }

    /// After the image layers: down to a vector and a classifier, sometimes.
    fn tail(&mut self) -> Vec<(String, Vec<String>)> {
        let classes = self.rng.random_range(2..=5);
        match self.rng.random_range(0..3) {
            0 => vec![],
            1 => vec![
                ("gap".into(), vec![]),
                ("flatten".into(), vec![]),
                ("linear".into(), vec![format!("out={classes}")]),
            ],
            _ => vec![
                ("maxpool".into(), vec!["k=2".into()]),
                ("flatten".into(), vec![]),
                ("linear".into(), vec!["out=8".into(), "bias=false".into()]),
                ("relu".into(), vec![]),
                ("linear".into(), vec![format!("out={classes}")]),
                ("softmax".into(), vec![]),
            ],
        }
    }

    fn model_head(&mut self, ch: u64, out: &mut Vec<P>) -> String {
        let name = format!("m{}", self.models.len());
        let (h, wd) = (self.rng.random_range(6..=10), self.rng.random_range(6..=10));
        out.extend([w("model"), w(&name), P::S("("), P::Brk, w("x"), P::S(":")]);
        out.extend([w(format!("Nx{ch}x{h}x{wd}")), P::Brk, P::S(")")]);
        name
    }

    /// `model m(x: ...) = chain`
    fn plain_model(&mut self) -> Vec<Vec<P>> {
        let mut ch = self.rng.random_range(1..=4);
        let mut out = Vec::new();
        let name = self.model_head(ch, &mut out);
        let len = self.rng.random_range(1..=4);
        let mut layers = self.keep_chain(&mut ch, false, len);
        layers.extend(self.tail());
        out.extend([P::S("="), P::Brk]);
        self.chain(&layers, &mut out);
        self.models.push(name);
        vec![out]
    }

    /// `model m(x: ...) { ... }`: lines of layers, or a graph of bound nodes.
    fn block_model(&mut self, graph: bool) -> Vec<Vec<P>> {
        let ch = self.rng.random_range(1..=4);
        let mut head = Vec::new();
        let name = self.model_head(ch, &mut head);
        head.push(P::S("{"));
        let mut lines = vec![head];
        if graph {
            self.graph_lines(ch, &mut lines);
        } else {
            let mut cur = ch;
            for _ in 0..self.rng.random_range(1..=4) {
                let len = self.rng.random_range(1..=3);
                let layers = self.keep_chain(&mut cur, false, len);
                let mut line = Vec::new();
                self.chain(&layers, &mut line);
                lines.push(line);
            }
        }
        let tail = self.tail();
        if !tail.is_empty() {
            let mut line = Vec::new();
            self.chain(&tail, &mut line);
            lines.push(line);
        }
        lines.push(vec![P::S("}")]);
        self.models.push(name);
        lines
    }

    fn graph_lines(&mut self, ch: u64, lines: &mut Vec<Vec<P>>) {
        let mut nodes: Vec<(String, u64)> = vec![("x".into(), ch)];
        for i in 0..self.rng.random_range(2..=4) {
            let name = format!("n{i}");
            let mut line = vec![w(&name), P::S("=")];
            let same: Vec<String> = nodes
                .iter()
                .filter(|n| n.1 == ch)
                .map(|n| n.0.clone())
                .collect();
            let mut cur;
            if nodes.len() > 1 && self.chance(0.5) {
                let (op, args, total) = if self.chance(0.5) && same.len() > 1 {
                    ("add", vec![self.pick(&same), self.pick(&same)], ch)
                } else {
                    let a = self.pick(&nodes);
                    let b = self.pick(&nodes);
                    ("concat", vec![a.0, b.0], a.1 + b.1)
                };
                line.extend([
                    w(op),
                    P::S("("),
                    P::Brk,
                    w(&args[0]),
                    P::S(","),
                    P::Brk,
                    w(&args[1]),
                    P::Brk,
                    P::S(")"),
                ]);
                cur = total;
            } else {
                let src = self.pick(&nodes);
                line.push(w(&src.0));
                cur = src.1;
            }
            let fixed = cur == ch;
            let len = self.rng.random_range(0..=2);
            let layers = self.keep_chain(&mut cur, fixed, len);
            if !layers.is_empty() {
                line.extend([P::S("->"), P::Brk]);
                self.chain(&layers, &mut line);
            }
            lines.push(line);
            nodes.push((name, cur));
        }
    }

    /// An expression over the tensors defined so far.
    fn expr(&mut self, depth: usize, out: &mut Vec<P>) {
        let choice = if depth == 0 {
            self.rng.random_range(0..3)
        } else {
            self.rng.random_range(0..8)
        };
        match choice {
            0 if !self.tensors.is_empty() => {
                let t = self.pick(&self.tensors.clone());
                out.push(w(t));
            }
            0 | 1 => out.push(w(self.pick(&["1", "2.5", "0.1", "1e-3", "3"]))),
            2 => {
                let f = self.pick(&["ones", "zeros", "rand"]);
                out.extend([
                    w(f),
                    P::S("("),
                    P::Brk,
                    // shapes that broadcast together, so the checker accepts any mix
                    w(self.pick(&["2x3", "3", "1x2x3"])),
                    P::Brk,
                    P::S(")"),
                ]);
            }
            3 => {
                out.push(P::S("-"));
                self.expr(depth - 1, out);
            }
            4 => {
                out.extend([P::S("("), P::Brk]);
                self.expr(depth - 1, out);
                out.extend([P::Brk, P::S(")")]);
            }
            5 => {
                // numbers only, 1 or 3 of them: a list that broadcasts with 2x3
                out.extend([P::S("["), P::Brk]);
                let n = self.pick(&[1, 3]);
                for i in 0..n {
                    if i > 0 {
                        out.extend([P::S(","), P::Brk]);
                    }
                    out.push(w(self.pick(&["1", "2.5", "0.1", "1e-3", "3"])));
                }
                out.extend([P::Brk, P::S("]")]);
            }
            6 => {
                self.expr(depth - 1, out);
                // methods that keep a shape that broadcasts with the others
                let m = self.pick(&["sum", "max", "float", "flip"]);
                out.extend([P::S("."), w(m), P::S("("), P::S(")")]);
            }
            _ => {
                self.expr(depth - 1, out);
                out.push(P::S(self.pick(&["+", "-", "*", "/"])));
                self.expr(depth - 1, out);
            }
        }
    }

    /// A statement that is not a model: one line.
    fn other_stmt(&mut self) -> Vec<P> {
        let mut out = Vec::new();
        match self.rng.random_range(0..7) {
            0 | 1 => {
                let name = format!("T{}", self.tensors.len());
                out.extend([w("let"), w(&name), P::S("=")]);
                if self.chance(0.3) {
                    // a 1x2x3 tensor: every generated value fits its `[:, 0:2]`
                    out.extend([w("zeros"), P::S("("), w("1x2x3"), P::S(")")]);
                    self.grids.push(name.clone());
                } else {
                    self.expr(3, &mut out);
                }
                self.tensors.push(name);
            }
            2 if !self.grids.is_empty() => {
                let t = self.pick(&self.grids.clone());
                out.extend([
                    w(t),
                    P::S("["),
                    P::Brk,
                    P::S(":"),
                    P::S(","),
                    P::Brk,
                    w("0"),
                    P::S(":"),
                    w("2"),
                    P::Brk,
                    P::S("]"),
                    P::S("="),
                ]);
                self.expr(1, &mut out);
            }
            3 if !self.models.is_empty() => {
                let m = self.pick(&self.models.clone());
                out.extend([w("summary"), w(m)]);
            }
            4 => {
                out.extend([w("shape"), w("1x2x8x8"), P::S("->"), P::Brk]);
                let mut ch = 2;
                let layers = self.keep_chain(&mut ch, false, 2);
                self.chain_of(&layers, true, &mut out);
            }
            5 => out.extend([w("seed"), w(self.rng.random_range(0..99u32).to_string())]),
            _ => {
                out.push(w("print"));
                self.expr(2, &mut out);
            }
        }
        out
    }

    fn script(&mut self) -> String {
        let mut text = String::new();
        for _ in 0..self.rng.random_range(1..=6) {
            let lines = match self.rng.random_range(0..5) {
                0 => self.plain_model(),
                1 => self.block_model(false),
                2 => self.block_model(true),
                _ => vec![self.other_stmt()],
            };
            for line in &lines {
                self.write_line(line, &mut text);
                self.separator(&mut text);
            }
        }
        text
    }

    /// Write a line's pieces with random spacing, breaks and comments.
    /// (`1. sum()` would read as the number `1.`, so `.` is written tight.)
    fn write_line(&mut self, pieces: &[P], text: &mut String) {
        let mut prev_word = false;
        let mut tight = false;
        for p in pieces {
            match p {
                P::W(s) => {
                    let sp = if tight {
                        ""
                    } else if prev_word {
                        self.pick(&[" ", "  ", "\t"])
                    } else {
                        self.pick(&["", "", " ", "   "])
                    };
                    text.push_str(sp);
                    text.push_str(s);
                    prev_word = true;
                    tight = false;
                }
                P::S(s) => {
                    tight = *s == ".";
                    if !tight {
                        text.push_str(self.pick(&["", "", " "]));
                    }
                    text.push_str(s);
                    prev_word = false;
                }
                P::Brk => {
                    if self.chance(0.12) {
                        if self.chance(0.4) {
                            text.push_str(self.pick(&["  # note", "#x", " # a -> b = c(", " # é"]));
                        }
                        text.push_str(self.pick(&["\n", "\n\n", "\n   # inside\n"]));
                        text.push_str(self.pick(&["", "    ", "\t", " "]));
                        prev_word = false;
                    }
                }
            }
        }
    }

    /// Between lines: newlines, blank lines, comment lines or `;`.
    fn separator(&mut self, text: &mut String) {
        if self.chance(0.2) {
            text.push_str(self.pick(&["  # trailing", " #t", "# ()"]));
        } else if self.chance(0.15) {
            text.push_str("; ");
            return;
        }
        text.push_str(self.pick(&["\n", "\n", "\n\n\n", "\n# between\n", "\n  \t\n"]));
    }
}

/// `check --json` and `check` of a script: exit status and stdout of each.
fn checked(text: &str) -> (u8, String, String) {
    let src = Source {
        name: "gen.cnn".into(),
        text: text.to_string(),
    };
    let json = check_source(&src, true, Style::Plain);
    let plain = check_source(&src, false, Style::Plain);
    (json.code, json.stdout, plain.stdout)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn fmt_is_idempotent_and_keeps_what_check_says(seed in any::<u64>()) {
        let mut gen = Gen {
            rng: ChaCha8Rng::seed_from_u64(seed),
            tensors: vec![],
            grids: vec![],
            models: vec![],
            labels: 0,
        };
        let text = gen.script();
        let formatted = match format_source(&text) {
            Ok(f) => f,
            Err(e) => return Err(TestCaseError::fail(format!("{e:?} on\n{text}"))),
        };
        prop_assert_eq!(format_source(&formatted), Ok(formatted.clone()), "not idempotent on\n{}", text);
        let before = checked(&text);
        prop_assert_eq!(before.0, 0, "generated an invalid script:\n{}", text);
        prop_assert_eq!(before, checked(&formatted), "check differs after fmt on\n{}\n---\n{}", text, formatted);
    }
}
