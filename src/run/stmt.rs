//! Statements: [`Interp::exec_stmt`] runs one checked statement; each kind
//! that needs more than a line has its own method here.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::error::{RunError, RunResult};
use super::eval::Evaluated;
use super::params::ModelState;
use super::{index, params_bytes, DataPair, Interp, Output};
use crate::ir::check::StmtInfo;
use crate::ir::error::CheckError;
use crate::ir::model::Model;
use crate::syntax::ast::{Expr, ExprKind, Ident, IndexItem, Span, Stmt, StmtKind, StrLit};
use crate::value::{shape_words, Value};

impl Interp {
    /// Execute one checked statement, writing results to `out`.
    pub fn exec_stmt(
        &mut self,
        stmt: &Stmt,
        info: &StmtInfo,
        out: &mut dyn Output,
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
            StmtKind::LetTuple { names, value } => self.let_tuple(names, value, span)?,
            StmtKind::SetParam { target, value } => self.set_param(target, value)?,
            StmtKind::Assign {
                target,
                index,
                value,
                ..
            } => self.assign(target, index, value)?,
            StmtKind::Print(e) => {
                let text = self.print_text(e)?;
                writeln!(out, "{text}").map_err(wr)?;
            }
            StmtKind::Save { value, path } => self.save(value, path)?,
            StmtKind::LoadModel { model, path } => self.load_model(model, path, span)?,
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
            StmtKind::Model(decl) => match &info.model {
                Some(model) => self.declare(model, decl.name.span)?,
                None => {
                    return Err(RunError::new(
                        "this model did not check",
                        decl.name.span,
                        "unchecked",
                    ))
                }
            },
            StmtKind::Shape { .. } | StmtKind::Summary { .. } => {
                if let Some(table) = &info.table {
                    out.table(table).map_err(wr)?;
                } else if let Some(text) = &info.output {
                    write!(out, "{text}").map_err(wr)?;
                    if !text.ends_with('\n') {
                        writeln!(out).map_err(wr)?;
                    }
                }
            }
            StmtKind::Data { role, x, y } => self.data(role.as_ref(), x, y, span)?,
            StmtKind::Train {
                model,
                optimizer,
                options,
            } => {
                let name = self.model_for(model.as_ref(), span, true)?;
                self.train(&name, optimizer, options, span, out)?;
            }
            StmtKind::Eval { model } => {
                let name = self.model_for(model.as_ref(), span, false)?;
                self.evaluate(&name, span, out)?;
            }
            StmtKind::Plot { path } => self.plot(path.as_ref(), span, out)?,
            StmtKind::Show { value, path } => self.show(value, path.as_ref(), span, out)?,
            StmtKind::Export { model, path } => self.export_onnx(model, path, span)?,
            // checked statically before anything runs
            StmtKind::Assert { .. } => {}
        }
        Ok(())
    }

    /// `let (a, b) = split(D, 0.8)`
    fn let_tuple(&mut self, names: &[Ident], value: &Expr, span: Span) -> RunResult<()> {
        match self.eval_any(value)? {
            Evaluated::Tuple(vs) if vs.len() == names.len() => {
                for (n, v) in names.iter().zip(vs) {
                    self.tensors.insert(n.name.clone(), v);
                }
                Ok(())
            }
            Evaluated::Tuple(vs) => Err(RunError::from_check(CheckError::tuple_count(
                names.len(),
                vs.len(),
                span,
            ))),
            _ => Err(RunError::from_check(CheckError::one_value(value.span))),
        }
    }

    /// `X[:, 2:6] = 0`: the value broadcast into the slice.
    fn assign(&mut self, target: &Ident, index: &[IndexItem], value: &Expr) -> RunResult<()> {
        let items = self.eval_index(index)?;
        let v = self.eval_float(value)?;
        let Some(Value::Float(t)) = self.tensors.get_mut(&target.name) else {
            return Err(RunError::new(
                format!("`{}` is not a float tensor", target.name),
                target.span,
                "cannot assign",
            ));
        };
        let info = index::slice_info(t.shape(), &items)?;
        let mut view = t.slice_mut(info.as_slice());
        match v.broadcast(view.raw_dim()) {
            Some(b) => {
                view.assign(&b);
                Ok(())
            }
            None => Err(RunError::new(
                crate::ir::value_shape::assign_message(v.shape(), view.shape()),
                value.span,
                "shapes differ",
            )),
        }
    }

    /// What `print` writes: PyTorch's text of a tensor, a model's summary,
    /// a string as it is.
    fn print_text(&mut self, e: &Expr) -> RunResult<String> {
        if let ExprKind::Str(s) = &e.kind {
            return Ok(s.value.clone());
        }
        Ok(match self.eval_any(e)? {
            Evaluated::Value(v) => crate::io::format::format_value(&v),
            Evaluated::Model(name) => crate::ir::report::summary(&self.models[&name].ir),
            Evaluated::Tuple(vs) => vs
                .iter()
                .map(crate::io::format::format_value)
                .collect::<Vec<_>>()
                .join("\n"),
        })
    }

    /// `save value "file"`: a tensor or bundle, or a model's state dict.
    fn save(&mut self, value: &Expr, path: &StrLit) -> RunResult<()> {
        let file = self.path(&path.value);
        match self.eval_any(value)? {
            Evaluated::Model(name) => {
                let m = &self.models[&name];
                m.with_tensor_refs(|refs| crate::io::save_state_dict(&file, refs))
                    .map_err(|e| RunError::io(&e, path.span))
            }
            Evaluated::Value(v) => {
                crate::io::save_value(&file, &v).map_err(|e| RunError::io(&e, path.span))
            }
            Evaluated::Tuple(_) => Err(RunError::new(
                "save one value at a time",
                value.span,
                "several values",
            )),
        }
    }

    /// `load model "file"`: strict, as PyTorch's `load_state_dict`.
    fn load_model(&mut self, model: &Ident, path: &StrLit, span: Span) -> RunResult<()> {
        let file = self.path(&path.value);
        let entries = crate::io::load_state_dict(&file).map_err(|e| RunError::io(&e, path.span))?;
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
        })
    }

    /// `model ...`: its parameters, initialised from the script's generator.
    fn declare(&mut self, model: &Model, name_span: Span) -> RunResult<()> {
        let estimate = params_bytes(model);
        crate::io::check_alloc_bytes(estimate, &format!("the parameters of `{}`", model.name))
            .map_err(|e| RunError::io(&e, name_span))?;
        let state = ModelState::new(model.clone(), &mut self.rng);
        self.tensors.remove(&model.name);
        self.model_order.retain(|m| *m != model.name);
        self.model_order.push(model.name.clone());
        self.models.insert(model.name.clone(), state);
        Ok(())
    }

    /// `data [train|test =] X -> Y`
    fn data(&mut self, role: Option<&Ident>, x: &Expr, y: &Expr, span: Span) -> RunResult<()> {
        let xv = self.eval(x)?;
        let yv = self.eval(y)?;
        let pair = DataPair { x: xv, y: yv, span };
        if let (Some(xs), Some(ys)) = (pair.x.shape(), pair.y.shape()) {
            crate::ir::feed::data_lengths(xs, ys).map_err(|e| RunError::feed(e, span))?;
        }
        match role.map(|r| r.name.as_str()) {
            Some("test") => self.test_data = Some(pair),
            _ => self.train_data = Some(pair),
        }
        Ok(())
    }

    /// The model a `train`/`eval` means: the named one, or the last declared
    /// (for `train`, only when it is the only one: SPEC v1.1).
    pub fn model_for(&self, named: Option<&Ident>, span: Span, only: bool) -> RunResult<String> {
        match named {
            Some(id) if self.models.contains_key(&id.name) => Ok(id.name.clone()),
            Some(id) => Err(RunError::new(
                format!("unknown model `{}`", id.name),
                id.span,
                "not a model",
            )),
            None if only && self.model_order.len() > 1 => Err(RunError::new(
                format!(
                    "`train` must name its model: {} are declared",
                    self.model_order
                        .iter()
                        .map(|m| format!("`{m}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                span,
                "which model?",
            )),
            None => self
                .model_order
                .last()
                .cloned()
                .ok_or_else(|| RunError::new("no model is declared", span, "needs a model")),
        }
    }

    /// `m.0.weight = K`: the values copied into the parameter, whose shape
    /// they must have.
    fn set_param(&mut self, target: &Expr, value: &Expr) -> RunResult<()> {
        let mut path = Vec::new();
        let mut root = target;
        while let ExprKind::Field { base, field } = &root.kind {
            path.push(field.name.as_str());
            root = base;
        }
        path.reverse();
        let ExprKind::Name(id) = &root.kind else {
            return Err(RunError::new("not a model parameter", target.span, "here"));
        };
        let v = self.eval_float(value)?;
        let key = path.join(".");
        let model = self.models.get_mut(&id.name).ok_or_else(|| {
            RunError::new(
                format!("`{}` is not a model", id.name),
                id.span,
                "not a model",
            )
        })?;
        let names: Vec<String> = model.params.iter().map(|p| p.name.clone()).collect();
        let Some(p) = model.params.iter_mut().find(|p| p.name == key) else {
            return Err(RunError::new(
                format!("`{}` has no tensor `{key}`", id.name),
                target.span,
                "no such parameter",
            )
            .help(format!("its tensors are: {}", names.join(", "))));
        };
        if v.shape() != p.shape.as_slice() {
            return Err(RunError::new(
                format!(
                    "`{}.{key}` is {} but the value is {}",
                    id.name,
                    shape_words(&p.shape),
                    shape_words(v.shape())
                ),
                value.span,
                "wrong shape",
            )
            .help(format!("give a tensor of shape {}", shape_words(&p.shape))));
        }
        p.data.clear();
        p.data.extend(v.iter().copied());
        Ok(())
    }
}
