//! Layer calls from the layer table (every layer, every argument, values
//! of each argument's type and range), chains, graph models with merges,
//! and `shape` questions. The checker answers whether a call fits where it
//! stands, so most generated models check.

use rand::seq::IndexedRandom;
use rand::Rng;

use cnnscript::ir::check::check_script;
use cnnscript::ir::model::Model;
use cnnscript::layers::{ArgDefault, ArgSpec, ArgType, Range, LAYERS};
use cnnscript::syntax::parse::parse_script;

use super::Gen;

/// Tries per layer before a chain settles for what it has.
const TRIES: usize = 6;

impl Gen<'_> {
    /// A model input type: images (NCHW, or rank 2/3 promoted) or features.
    fn input_dims(&mut self) -> String {
        let batch = if self.rng.random_bool(0.6) {
            "N".to_string()
        } else {
            self.rng.random_range(1..4).to_string()
        };
        let c = self.rng.random_range(1..5);
        let h = self.rng.random_range(4..13);
        let w = self.rng.random_range(4..13);
        match self.rng.random_range(0..6) {
            0 => format!("{h}x{w}"),
            1 => format!("{c}x{h}x{w}"),
            2 => format!("{batch}x{}", self.rng.random_range(1..17)),
            _ => format!("{batch}x{c}x{h}x{w}"),
        }
    }

    /// A value for one argument, mostly within its type and range.
    fn arg_value(&mut self, arg: &ArgSpec) -> String {
        let r = &mut *self.rng;
        let small = |r: &mut rand_chacha::ChaCha8Rng| r.random_range(1..4u32).to_string();
        match arg.ty {
            ArgType::Count if arg.name == "groups" => {
                ["1", "1", "2"].choose(r).copied().unwrap_or("1").into()
            }
            ArgType::Count if arg.name == "out" => r.random_range(1..9u32).to_string(),
            ArgType::Count | ArgType::Pair if arg.name == "s" || arg.name == "d" => {
                ["1", "1", "2", "1x2", "2x1"]
                    .choose(r)
                    .copied()
                    .unwrap_or("1")
                    .into()
            }
            ArgType::Count => small(r),
            ArgType::Pair if r.random_bool(0.2) => format!("{}x{}", small(r), small(r)),
            ArgType::Pair => small(r),
            ArgType::Padding => ["0", "1", "same", "valid", "1x0", "0x1"]
                .choose(r)
                .copied()
                .unwrap_or("0")
                .into(),
            ArgType::Bool => ["true", "false"]
                .choose(r)
                .copied()
                .unwrap_or("true")
                .into(),
            ArgType::Real => match arg.range {
                Range::Probability => ["0", "0.1", "0.5", "0.9"].choose(r),
                Range::Positive => ["1e-5", "0.001", "0.1", "1"].choose(r),
                Range::Fraction => ["0", "0.1", "0.5", "1"].choose(r),
                Range::Any => ["-1", "0", "0.5", "2"].choose(r),
            }
            .copied()
            .unwrap_or("0.5")
            .into(),
            ArgType::Init => ["default", "randn", "zeros", "ones"]
                .choose(r)
                .copied()
                .unwrap_or("default")
                .into(),
        }
    }

    /// A call of a random layer: its required arguments and some others.
    fn layer_call(&mut self) -> String {
        let Some(spec) = LAYERS.choose(self.rng) else {
            return "relu".into();
        };
        let mut args = Vec::new();
        for arg in spec.args {
            let required = matches!(arg.default, ArgDefault::Required);
            if required || self.rng.random_bool(0.3) {
                let value = self.arg_value(arg);
                args.push(format!("{}={value}", arg.name));
            }
        }
        let label = if self.rng.random_bool(0.1) {
            format!("{}: ", self.name("l"))
        } else {
            String::new()
        };
        if args.is_empty() && self.rng.random_bool(0.5) {
            format!("{label}{}", spec.name)
        } else {
            format!("{label}{}({})", spec.name, args.join(", "))
        }
    }

    /// Layers that check one after the other on `input` (the checker says).
    fn chain(&mut self, input: &str, max: usize) -> Vec<String> {
        let mut layers: Vec<String> = Vec::new();
        for _ in 0..self.rng.random_range(1..=max) {
            for _ in 0..TRIES {
                let call = self.layer_call();
                let mut candidate = layers.clone();
                candidate.push(call);
                if question_checks(input, &candidate) {
                    layers = candidate;
                    break;
                }
            }
        }
        if layers.is_empty() {
            layers.push("relu".into());
        }
        layers
    }

    /// `shape DIMS -> layers`, sometimes with `explain`.
    pub(super) fn shape_question(&mut self) {
        let input = self.input_dims();
        let layers = self.chain(&input, 4);
        let explain = if self.rng.random_bool(0.3) {
            "explain "
        } else {
            ""
        };
        self.line(format!("shape {explain}{input} -> {}", layers.join(" -> ")));
    }

    /// A model (a chain, a block, or a graph with merges), kept in the
    /// script's list when it checks.
    pub(super) fn model(&mut self) {
        for _ in 0..TRIES {
            let text = self.model_text();
            if let Some(model) = declared(&text) {
                self.models.push(model);
                self.line(text);
                return;
            }
        }
    }

    fn model_text(&mut self) -> String {
        let name = self.name("m");
        let dims = self.input_dims();
        match self.rng.random_range(0..4) {
            0 => format!(
                "model {name}(x: {dims}) = {}",
                self.chain(&dims, 5).join(" -> ")
            ),
            1 => {
                let chain = self.chain(&dims, 6);
                let mut body = String::new();
                for (i, layer) in chain.iter().enumerate() {
                    let sep = if i % 2 == 1 { "\n  " } else { " " };
                    body.push_str(sep);
                    body.push_str(layer);
                }
                format!("model {name}(x: {dims}) {{\n {body}\n}}")
            }
            _ => self.graph(&name),
        }
    }

    /// A graph model: nodes from the input or earlier nodes, merged with
    /// `add` (same shapes) or `concat` (channels).
    fn graph(&mut self, name: &str) -> String {
        let (c, h, w) = (
            self.rng.random_range(1..4),
            self.rng.random_range(4..10),
            self.rng.random_range(4..10),
        );
        let dims = format!("Nx{c}x{h}x{w}");
        let mut lines = Vec::new();
        let mut nodes = vec!["x".to_string()];
        // shape-preserving layers, so that merges of any two nodes fit
        let same = [
            "relu",
            "conv(out=3, k=3, p=1)",
            "conv(out=3, k=1)",
            "batchnorm",
            "tanh",
        ];
        let a = self.name("n");
        lines.push(format!("  {a} = x -> conv(out=3, k=3, p=1)"));
        nodes.push(a);
        for _ in 0..self.rng.random_range(1..4) {
            let node = self.name("n");
            let layer = same.choose(self.rng).copied().unwrap_or("relu");
            let line = match self.rng.random_range(0..3) {
                0 if nodes.len() > 2 => {
                    let a = nodes[1..].choose(self.rng).cloned().unwrap_or_default();
                    let b = nodes[1..].choose(self.rng).cloned().unwrap_or_default();
                    let op = ["add", "concat"].choose(self.rng).copied().unwrap_or("add");
                    if op == "concat" {
                        format!("  {node} = concat({a}, {b}) -> conv(out=3, k=1)")
                    } else {
                        format!("  {node} = add({a}, {b}) -> {layer}")
                    }
                }
                _ => {
                    let src = nodes[1..].choose(self.rng).cloned().unwrap_or_default();
                    format!("  {node} = {src} -> {layer}")
                }
            };
            lines.push(line);
            nodes.push(node);
        }
        if self.rng.random_bool(0.5) {
            lines.push("  relu".into());
        }
        format!("model {name}(x: {dims}) {{\n{}\n}}", lines.join("\n"))
    }
}

/// Whether `shape INPUT -> layers` checks.
fn question_checks(input: &str, layers: &[String]) -> bool {
    let text = format!("shape {input} -> {}", layers.join(" -> "));
    parse_script(&text).is_ok_and(|s| !check_script(&s).has_errors())
}

/// The checked model a declaration gives, if it checks.
fn declared(text: &str) -> Option<Model> {
    let script = parse_script(text).ok()?;
    let checked = check_script(&script);
    if checked.has_errors() {
        return None;
    }
    checked.stmts.into_iter().find_map(|s| s.model)
}
