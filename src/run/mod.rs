//! The interpreter: environment, autograd tape, optimizers, training, files.

pub mod draws;
pub mod error;
pub mod eval;
pub mod params;
pub mod plot;
pub mod tape;
pub mod train;

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use ndarray::{ArrayD, IxDyn};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::cli::Source;
use crate::diag::{render, Style};
use crate::ir::check::{Checked, StmtInfo};
use crate::ir::shape::Dim;
use crate::syntax::ast::{Script, Span, Stmt, StmtKind};
use crate::value::{dims_string, Value};
use error::{RunError, RunResult};
use eval::{shape_words, Evaluated};
use params::ModelState;
use tape::{Mode, Tape};
use train::History;

/// A training or test pair declared with `data`.
#[derive(Clone, Debug)]
pub struct DataPair {
    pub x: Value,
    pub y: Value,
    pub span: Span,
}

/// The interpreter's state: tensors, models, data, the random generator.
pub struct Interp {
    pub tensors: HashMap<String, Value>,
    pub models: HashMap<String, ModelState>,
    /// Models in declaration order (the last is `train`'s default).
    pub model_order: Vec<String>,
    pub rng: ChaCha8Rng,
    pub train_data: Option<DataPair>,
    pub test_data: Option<DataPair>,
    /// Losses and accuracies of the last `train`, for `plot`.
    pub history: Option<History>,
    /// Relative file names are taken from here (the script's folder).
    pub base_dir: PathBuf,
    /// Draw progress bars (stdout is a terminal).
    pub progress: bool,
    /// When set, every random draw is noted here (for `export --torch`).
    pub draws: Option<draws::DrawLog>,
    tape: Tape,
}

impl Default for Interp {
    fn default() -> Self {
        Interp::new()
    }
}

impl Interp {
    /// A fresh interpreter: seed 0, files relative to the current folder.
    pub fn new() -> Interp {
        use std::io::IsTerminal;
        Interp {
            tensors: HashMap::new(),
            models: HashMap::new(),
            model_order: Vec::new(),
            rng: ChaCha8Rng::seed_from_u64(0),
            train_data: None,
            test_data: None,
            history: None,
            base_dir: PathBuf::from("."),
            progress: std::io::stdout().is_terminal(),
            draws: None,
            tape: Tape::new(),
        }
    }

    /// Tensor names bound so far, sorted.
    pub fn tensor_names(&self) -> Vec<String> {
        let mut v: Vec<String> = self.tensors.keys().cloned().collect();
        v.sort();
        v
    }

    /// A path from a script, relative to the script's folder.
    pub fn path(&self, p: &str) -> PathBuf {
        let path = Path::new(p);
        if path.is_absolute() {
            path.to_path_buf()
        } else {
            self.base_dir.join(path)
        }
    }

    /// Execute one checked statement, writing results to `out`.
    pub fn exec_stmt(
        &mut self,
        stmt: &Stmt,
        info: &StmtInfo,
        out: &mut dyn Write,
    ) -> RunResult<()> {
        let span = stmt.span;
        let wr =
            |e: std::io::Error| RunError::new(format!("cannot write output: {e}"), span, "here");
        match &stmt.kind {
            StmtKind::Let { name, value } => {
                let v = self.eval(value)?;
                self.models.remove(&name.name);
                self.model_order.retain(|m| *m != name.name);
                self.tensors.insert(name.name.clone(), v);
            }
            StmtKind::LetTuple { names, value } => match self.eval_any(value)? {
                Evaluated::Tuple(vs) if vs.len() == names.len() => {
                    for (n, v) in names.iter().zip(vs) {
                        self.tensors.insert(n.name.clone(), v);
                    }
                }
                Evaluated::Tuple(vs) => {
                    return Err(RunError::new(
                        format!("{} names for {} values", names.len(), vs.len()),
                        span,
                        "counts differ",
                    ))
                }
                _ => {
                    return Err(RunError::new(
                        "this is one value, not several",
                        value.span,
                        "one value",
                    ))
                }
            },
            StmtKind::Assign {
                target,
                index,
                value,
                ..
            } => {
                let items = self.eval_index(index)?;
                let v = self.eval_float(value)?;
                let Some(Value::Float(t)) = self.tensors.get_mut(&target.name) else {
                    return Err(RunError::new(
                        format!("`{}` is not a float tensor", target.name),
                        target.span,
                        "cannot assign",
                    ));
                };
                let info = eval::slice_info(t.shape(), &items)?;
                let mut view = t.slice_mut(info.as_slice());
                match v.broadcast(view.raw_dim()) {
                    Some(b) => view.assign(&b),
                    None => {
                        return Err(RunError::new(
                            format!(
                                "cannot assign a {} value to a {} slice",
                                shape_words(v.shape()),
                                shape_words(view.shape())
                            ),
                            value.span,
                            "shapes differ",
                        ))
                    }
                }
            }
            StmtKind::Print(e) => {
                let text = match self.eval_any(e)? {
                    Evaluated::Value(v) => crate::io::format::format_value(&v),
                    Evaluated::Model(name) => crate::ir::report::summary(&self.models[&name].ir),
                    Evaluated::Tuple(vs) => vs
                        .iter()
                        .map(crate::io::format::format_value)
                        .collect::<Vec<_>>()
                        .join("\n"),
                };
                writeln!(out, "{text}").map_err(wr)?;
            }
            StmtKind::Save { value, path } => {
                let file = self.path(&path.value);
                match self.eval_any(value)? {
                    Evaluated::Model(name) => {
                        let m = &self.models[&name];
                        m.with_tensor_refs(|refs| crate::io::save_state_dict(&file, refs))
                            .map_err(|e| RunError::io(&e, path.span))?;
                    }
                    Evaluated::Value(v) => {
                        crate::io::save_value(&file, &v).map_err(|e| RunError::io(&e, path.span))?
                    }
                    Evaluated::Tuple(_) => {
                        return Err(RunError::new(
                            "save one value at a time",
                            value.span,
                            "several values",
                        ))
                    }
                }
            }
            StmtKind::LoadModel { model, path } => {
                let file = self.path(&path.value);
                let entries =
                    crate::io::load_state_dict(&file).map_err(|e| RunError::io(&e, path.span))?;
                let m = self.models.get_mut(&model.name).ok_or_else(|| {
                    RunError::new(
                        format!("unknown model `{}`", model.name),
                        model.span,
                        "not a model",
                    )
                })?;
                m.load_state_dict(entries).map_err(|(msg, help)| {
                    RunError::new(
                        format!("{}: {msg}", path.value),
                        span,
                        "does not fit this model",
                    )
                    .help(help)
                })?;
            }
            StmtKind::Seed { value } => {
                let seed = value.as_int().filter(|v| *v >= 0).ok_or_else(|| {
                    RunError::new(
                        "seed must be a non-negative integer",
                        value.span,
                        "not a seed",
                    )
                })?;
                self.rng = ChaCha8Rng::seed_from_u64(seed as u64);
            }
            StmtKind::Model(decl) => {
                let Some(model) = &info.model else {
                    return Err(RunError::new(
                        "this model did not check",
                        decl.name.span,
                        "unchecked",
                    ));
                };
                let estimate = params_bytes(model);
                crate::io::check_alloc_bytes(
                    estimate,
                    &format!("the parameters of `{}`", model.name),
                )
                .map_err(|e| RunError::io(&e, decl.name.span))?;
                let state = ModelState::new(model.clone(), &mut self.rng);
                self.tensors.remove(&model.name);
                self.model_order.retain(|m| *m != model.name);
                self.model_order.push(model.name.clone());
                self.models.insert(model.name.clone(), state);
            }
            StmtKind::Shape { .. } | StmtKind::Summary { .. } => {
                if let Some(text) = &info.output {
                    write!(out, "{text}").map_err(wr)?;
                    if !text.ends_with('\n') {
                        writeln!(out).map_err(wr)?;
                    }
                }
            }
            StmtKind::Data { role, x, y } => {
                let xv = self.eval(x)?;
                let yv = self.eval(y)?;
                let pair = DataPair { x: xv, y: yv, span };
                let len = |v: &Value| v.shape().and_then(|s| s.first().copied());
                if let (Some(a), Some(b)) = (len(&pair.x), len(&pair.y)) {
                    let (xs, ys) = (
                        pair.x.shape().unwrap_or(&[]).len(),
                        pair.y.shape().unwrap_or(&[]).len(),
                    );
                    if a != b && xs == 4 && ys >= 1 && ys != 4 {
                        return Err(RunError::new(
                            format!("{a} inputs but {b} targets"),
                            span,
                            "lengths differ",
                        ));
                    }
                }
                match role.as_ref().map(|r| r.name.as_str()) {
                    Some("test") => self.test_data = Some(pair),
                    _ => self.train_data = Some(pair),
                }
            }
            StmtKind::Train {
                model,
                optimizer,
                options,
            } => {
                let name =
                    self.model_for(model.as_ref().map(|m| (m.name.as_str(), m.span)), span)?;
                self.train(&name, optimizer, options, span, out)?;
            }
            StmtKind::Eval { model } => {
                let name =
                    self.model_for(model.as_ref().map(|m| (m.name.as_str(), m.span)), span)?;
                self.evaluate(&name, span, out)?;
            }
            StmtKind::Plot { path } => self.plot(&path.value, path.span)?,
            StmtKind::Show { value, path } => self.show(value, &path.value, path.span)?,
        }
        Ok(())
    }

    /// The model a `train`/`eval` means: the named one, or the last declared.
    fn model_for(&self, named: Option<(&str, Span)>, span: Span) -> RunResult<String> {
        match named {
            Some((n, s)) => {
                if self.models.contains_key(n) {
                    Ok(n.to_string())
                } else {
                    Err(RunError::new(
                        format!("unknown model `{n}`"),
                        s,
                        "not a model",
                    ))
                }
            }
            None => self
                .model_order
                .last()
                .cloned()
                .ok_or_else(|| RunError::new("no model is declared", span, "needs a model")),
        }
    }

    /// Check an input against a model's type (see [`conform_input`]).
    pub fn conform_input(&self, name: &str, x: ArrayD<f32>, span: Span) -> RunResult<ArrayD<f32>> {
        conform_input(&self.models[name].ir, x, span)
    }

    /// Run a model forward in eval mode (optionally only its first layers).
    /// The input is borrowed: it is copied once, into the tape's input buffer.
    pub fn apply_model(
        &mut self,
        name: &str,
        x: &ArrayD<f32>,
        layers: Option<usize>,
        span: Span,
    ) -> RunResult<ArrayD<f32>> {
        let ir = &self
            .models
            .get(name)
            .ok_or_else(|| RunError::new("unknown model", span, "here"))?
            .ir;
        let shape = input_shape(ir, x.shape(), span)?;
        let batch = shape[0] as u64;
        let estimate = activation_bytes(ir, batch, false);
        crate::io::check_alloc_bytes(estimate, &format!("running `{name}` on a batch of {batch}"))
            .map_err(|e| RunError::io(&e, span))?;
        match x.as_slice() {
            Some(data) => self.tape.start(&shape, data),
            None => {
                let data: Vec<f32> = x.iter().copied().collect();
                self.tape.start(&shape, &data);
            }
        }
        let model = self
            .models
            .get_mut(name)
            .ok_or_else(|| RunError::new("unknown model", span, "here"))?;
        let out = self
            .tape
            .forward(model, Mode::Eval, &mut self.rng, layers)
            .map_err(|msg| RunError::new(msg, span, "while running this model"))?;
        let b = self.tape.take(out);
        ArrayD::from_shape_vec(IxDyn(&b.shape), b.data)
            .map_err(|e| RunError::new(e.to_string(), span, "here"))
    }
}

/// The shape an input takes in a model: rank 2/3 promoted to 4 with leading
/// 1s when the model is 4-D; only the batch (and symbolic sizes) may differ
/// from the model's type.
pub fn input_shape(
    ir: &crate::ir::model::Model,
    got: &[usize],
    span: Span,
) -> RunResult<Vec<usize>> {
    let want = &ir.input;
    let mut shape = got.to_vec();
    if want.rank() == 4 && (shape.len() == 2 || shape.len() == 3) {
        let mut s = vec![1; 4 - shape.len()];
        s.extend(shape);
        shape = s;
    }
    let fits = shape.len() == want.rank()
        && shape.iter().zip(&want.0).skip(1).all(|(got, d)| match d {
            Dim::Known(n) => *n == *got as u64,
            Dim::Sym(_) => true,
        })
        && shape.first().is_some_and(|b| *b > 0);
    if fits {
        Ok(shape)
    } else {
        Err(RunError::new(
            format!(
                "`{}` takes {} but the tensor is {}",
                ir.name,
                want,
                shape_words(got)
            ),
            span,
            "wrong input shape",
        )
        .help("only the batch (first) size may differ from the model's input type"))
    }
}

/// An input in the model's rank (see [`input_shape`]), without copying when
/// it is already contiguous.
pub fn conform_input(
    ir: &crate::ir::model::Model,
    x: ArrayD<f32>,
    span: Span,
) -> RunResult<ArrayD<f32>> {
    let shape = input_shape(ir, x.shape(), span)?;
    let x = if x.is_standard_layout() {
        x
    } else {
        x.as_standard_layout().to_owned()
    };
    x.into_shape_with_order(IxDyn(&shape))
        .map_err(|e| RunError::new(e.to_string(), span, "here"))
}

/// Bytes of a model's parameters (f32).
fn params_bytes(model: &crate::ir::model::Model) -> u64 {
    model.total_params().saturating_mul(4)
}

/// Bytes a forward pass keeps for a batch (twice that when training: the gradients).
pub fn activation_bytes(model: &crate::ir::model::Model, batch: u64, training: bool) -> u64 {
    let per_item: u64 = model
        .layers()
        .map(|(_, l)| {
            l.out_shape
                .0
                .iter()
                .skip(1)
                .map(|d| d.known().unwrap_or(1))
                .fold(1u64, |a, b| a.saturating_mul(b))
        })
        .fold(0u64, |a, b| a.saturating_add(b));
    let bytes = per_item.saturating_mul(batch).saturating_mul(4);
    if training {
        bytes.saturating_mul(2)
    } else {
        bytes
    }
}

/// Execute a checked script, printing results; returns the exit status.
pub fn run_checked(src: &Source, script: &Script, checked: &Checked) -> u8 {
    let mut interp = Interp::new();
    if let Some(dir) = Path::new(&src.name).parent() {
        if !dir.as_os_str().is_empty() {
            interp.base_dir = dir.to_path_buf();
        }
    }
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for (stmt, info) in script.stmts.iter().zip(&checked.stmts) {
        if let Err(e) = interp.exec_stmt(stmt, info, &mut out) {
            let _ = out.flush();
            eprint!("{}", render(&e, &src.name, &src.text, Style::for_stderr()));
            return crate::cli::EXIT_SCRIPT;
        }
    }
    let _ = out.flush();
    0
}

/// `dims_string` for messages (re-exported for the training code).
pub fn dims(s: &[usize]) -> String {
    dims_string(s)
}
