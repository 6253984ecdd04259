//! Scripts from the grammar. Valid ones use every statement, and every
//! layer and argument of the project's own tables; shapes are tracked (the
//! checker itself answers for models) so that most of them check and run.
//! Stress ones bring absurd numbers, deep nesting, long lines, odd Unicode
//! and bytes that are not UTF-8.

mod layers;
mod ops;
mod stress;
mod tensors;

use rand::seq::IndexedRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use cnnscript::ir::model::Model;
use cnnscript::ir::shape::Dim;

pub use stress::{stress, ABSURD_NUMBERS};

/// A tensor the script has bound, with its shape.
#[derive(Clone, Debug)]
struct Tensor {
    name: String,
    shape: Vec<usize>,
}

/// A script being written, and what it has bound so far.
pub struct Gen<'r> {
    rng: &'r mut ChaCha8Rng,
    lines: Vec<String>,
    tensors: Vec<Tensor>,
    models: Vec<Model>,
    fresh: usize,
    /// Whether a `train` ran (so `plot` has curves).
    trained: bool,
    /// Whether the test data declared last has float targets (which epochs
    /// of `loss=xent` cannot measure).
    float_test: bool,
}

/// A valid script (checks and, most of the time, runs).
pub fn valid(rng: &mut ChaCha8Rng) -> String {
    let mut g = Gen {
        rng,
        lines: Vec::new(),
        tensors: Vec::new(),
        models: Vec::new(),
        fresh: 0,
        trained: false,
        float_test: false,
    };
    g.script();
    let sep = g.separator();
    g.lines.join(sep)
}

impl Gen<'_> {
    fn script(&mut self) {
        if self.rng.random_bool(0.2) {
            let seed = self.rng.random_range(0..1000);
            self.line(format!("seed {seed}"));
        }
        for _ in 0..self.rng.random_range(0..3) {
            self.let_tensor();
        }
        for _ in 0..self.rng.random_range(1..3) {
            self.model();
        }
        for _ in 0..self.rng.random_range(2..9) {
            self.statement();
        }
    }

    fn separator(&mut self) -> &'static str {
        ["\n", "\n", "\n", "\r\n", "; ", "\n\n# a comment\n"]
            .choose(self.rng)
            .copied()
            .unwrap_or("\n")
    }

    fn line(&mut self, text: String) {
        self.lines.push(text);
    }

    fn name(&mut self, prefix: &str) -> String {
        self.fresh += 1;
        format!("{prefix}{}", self.fresh)
    }

    /// One statement among all kinds, chosen to fit what is bound.
    fn statement(&mut self) {
        let model = self.models.choose(self.rng).cloned();
        match (self.rng.random_range(0..16), model) {
            (0..=1, _) => self.let_tensor(),
            (2, _) => self.model(),
            (3, _) => self.print_expr(),
            (4, _) => self.assign(),
            (5, _) => self.shape_question(),
            (6, _) => self.save_tensor(),
            (7, _) => self.split(),
            (8..=10, Some(m)) => self.train(&m),
            (11, Some(m)) => self.apply(&m),
            (12, Some(m)) => self.question(&m),
            (13, Some(m)) => self.save_load(&m),
            (14, Some(m)) => self.picture(&m),
            (15, Some(m)) => self.parameter(&m),
            _ => self.print_expr(),
        }
    }

    /// `shape`/`summary`/`assert` about a model.
    fn question(&mut self, m: &Model) {
        let name = &m.name;
        let text = match self.rng.random_range(0..4) {
            0 => format!("summary {name}"),
            1 => format!("assert shape {name} == {}", m.output()),
            2 => format!("assert params {name} == {}", m.total_params()),
            _ => {
                let rf = cnnscript::ir::assert::model_rf(m);
                format!("assert rf {name} == {}x{}", rf[0], rf[1])
            }
        };
        self.line(text);
    }

    /// `print m(X)` (or a slice of its layers) on a batch it accepts.
    fn apply(&mut self, m: &Model) {
        let x = self.batch_for(m);
        // graph models are not sliced
        let call = if !m.is_graph && self.rng.random_bool(0.2) {
            let k = self.rng.random_range(0..=m.layers().count());
            format!("{}[0:{k}]({x})", m.name)
        } else {
            format!("{}({x})", m.name)
        };
        let text = match self.rng.random_range(0..3) {
            0 => format!("print {call}"),
            1 => format!("save {call} \"{}.npy\"", m.name),
            _ => {
                let y = self.name("y");
                format!("let {y} = {call}")
            }
        };
        self.line(text);
    }

    /// A fresh input tensor for `m` with a small batch, bound to a name.
    fn batch_for(&mut self, m: &Model) -> String {
        self.batch_from(m, 1)
    }

    /// [`Gen::batch_for`] with at least `min` items.
    fn batch_from(&mut self, m: &Model, min: usize) -> String {
        let batch = self.rng.random_range(min..4);
        let shape = concrete(&m.input.0, batch);
        let x = self.name("x");
        let init = ["rand", "randn", "ones"]
            .choose(self.rng)
            .copied()
            .unwrap_or("rand");
        self.line(format!("let {x} = {init}({})", dims(&shape)));
        self.tensors.push(Tensor {
            name: x.clone(),
            shape,
        });
        x
    }

    /// `data X -> Y` for `m` (targets of its output's shape, or class
    /// labels), `train` with options, sometimes `eval` on test data.
    fn train(&mut self, m: &Model) {
        // batchnorm trains on batches of more than one value per channel:
        // two items or more, each step on all of them
        let norm = m
            .layers()
            .any(|(_, l)| matches!(l.kind, cnnscript::layers::LayerKind::BatchNorm(_)));
        if norm && m.input.0.iter().all(|d| d.known().is_some()) {
            // a fixed input type of one item: batchnorm cannot train on it
            return self.apply(m);
        }
        let x = self.batch_from(m, if norm { 2 } else { 1 });
        let batch = self.tensors.last().map_or(1, |t| t.shape[0]);
        let out = concrete(&m.output().0, batch);
        let classes = (out.len() == 2).then_some(out[1]);
        let xent = classes.is_some() && self.rng.random_bool(0.5);
        let y = if xent {
            let c = classes.unwrap_or(1).max(1);
            let labels: Vec<String> = (0..batch).map(|i| (i % c).to_string()).collect();
            format!("[{}]", labels.join(", "))
        } else {
            format!("rand({})", dims(&out))
        };
        let role = if self.rng.random_bool(0.2) {
            "train = "
        } else {
            ""
        };
        self.line(format!("data {role}{x} -> {y}"));
        if xent && self.float_test {
            // the epochs measure the test data: class labels too
            self.line(format!("data test = {x} -> {y}"));
            self.float_test = false;
        }
        let opt = if self.rng.random_bool(0.5) {
            let momentum = ["", " momentum=0.9", " momentum=0"]
                .choose(self.rng)
                .copied();
            format!("sgd lr=0.01{}", momentum.unwrap_or(""))
        } else {
            let extra = ["", " b1=0.8 b2=0.99", " eps=1e-6 weight_decay=0.01"].choose(self.rng);
            format!("adam lr=0.001{}", extra.copied().unwrap_or(""))
        };
        let schedule = if norm || self.rng.random_bool(0.6) {
            format!("steps={}", self.rng.random_range(1..4))
        } else {
            format!("epochs=1 batch={}", self.rng.random_range(1..4))
        };
        let loss = match (xent, self.rng.random_range(0..3)) {
            (true, _) => " loss=xent",
            (false, 0) => " loss=sse",
            (false, 1) => " loss=mse",
            _ => "",
        };
        let log = if self.rng.random_bool(0.3) {
            " log=1"
        } else {
            ""
        };
        let name = if self.models.len() > 1 || self.rng.random_bool(0.5) {
            format!("{} ", m.name)
        } else {
            String::new()
        };
        self.line(format!("train {name}{opt} {schedule}{loss}{log}"));
        self.trained = true;
        if self.rng.random_bool(0.3) {
            self.line(format!("data test = {x} -> {y}"));
            self.float_test = !xent;
            self.line(format!("eval {}", m.name));
        }
    }

    /// `save m "f"` and `load m "f"`, or `export m "f.onnx"`.
    fn save_load(&mut self, m: &Model) {
        let ext = ["safetensors", "npz"]
            .choose(self.rng)
            .copied()
            .unwrap_or("npz");
        let file = format!("{}.{ext}", m.name);
        self.line(format!("save {} \"{file}\"", m.name));
        match self.rng.random_range(0..3) {
            0 => self.line(format!("load {} \"{file}\"", m.name)),
            1 => self.line(format!("export {} \"{}.onnx\"", m.name, m.name)),
            _ => {}
        }
    }

    /// `show` a tensor or a model's weights, or `plot` the training curves.
    fn picture(&mut self, m: &Model) {
        // without a file a picture goes to a notebook (an error in `run`)
        let file = if self.rng.random_bool(0.1) {
            ""
        } else {
            " \"pic.png\""
        };
        if self.trained && self.rng.random_bool(0.3) {
            self.line(format!("plot{}", file.replace("pic", "loss")));
            return;
        }
        let what = match m.state_dict_shapes().first() {
            Some((name, _)) if self.rng.random_bool(0.5) => format!("{}.{name}", m.name),
            _ => self.batch_for(m),
        };
        self.line(format!("show {what}{file}"));
    }

    /// `print m.0.weight`, a tensor made from it, or `m.0.weight = K`.
    fn parameter(&mut self, m: &Model) {
        let shapes = m.state_dict_shapes();
        let Some((name, shape)) = shapes.choose(self.rng) else {
            return self.print_expr();
        };
        let text = match self.rng.random_range(0..5) {
            // a scalar (`num_batches_tracked`) has no constructor
            3..=4 if !shape.is_empty() => {
                let init = ["ones", "zeros", "randn"].choose(self.rng).copied();
                let init = init.unwrap_or("ones");
                format!("{}.{name} = {init}({})", m.name, dims(shape))
            }
            0 => format!("print {}.{name}", m.name),
            1 => format!("print {}.{name}.sum()", m.name),
            _ => {
                let t = self.name("w");
                self.tensors.push(Tensor {
                    name: t.clone(),
                    shape: shape.clone(),
                });
                format!("let {t} = {}.{name} * 2", m.name)
            }
        };
        self.line(text);
    }
}

/// A shape with symbolic sizes replaced by `batch`.
fn concrete(shape: &[Dim], batch: usize) -> Vec<usize> {
    shape
        .iter()
        .map(|d| d.known().map_or(batch, |n| n as usize))
        .collect()
}

/// `2x3x4` (a scalar's shape is written `1`).
fn dims(shape: &[usize]) -> String {
    if shape.is_empty() {
        return "1".into();
    }
    shape
        .iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join("x")
}
