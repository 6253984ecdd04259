//! The checker: walks a script's statements in order, resolves names, and
//! lowers every model and `shape` question to the checked IR.

mod batches;
mod expr;
pub mod files;
mod habits;
mod labels;
pub mod literal;
mod model;
mod shapes;
mod train;

pub use model::{check_chain_question, check_model, layer_rows};
pub(crate) use shapes::literal_int;
pub use train::DataFacts;

use std::collections::HashMap;

use super::error::CheckError;
use super::model::Model;
use super::report;
use crate::io::Holds;
use crate::syntax::ast::*;
use crate::value::dims_string;
use expr::{check_expr, check_index};

/// What the checker learned about one statement.
#[derive(Clone, Debug, Default)]
pub struct StmtInfo {
    /// The checked model of a `model` statement.
    pub model: Option<Model>,
    /// Text a `summary` or `shape` statement prints.
    pub output: Option<String>,
    /// The same answer with its cells, when it is a table (not `shape explain`).
    pub table: Option<report::Table>,
}

/// The result of checking a script.
#[derive(Debug, Default)]
pub struct Checked {
    /// One entry per statement, in order.
    pub stmts: Vec<StmtInfo>,
    /// Errors and warnings, in source order.
    pub diagnostics: Vec<CheckError>,
}

impl Checked {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(|d| !d.warning)
    }
    /// Every checked model, in declaration order.
    pub fn models(&self) -> impl Iterator<Item = &Model> {
        self.stmts.iter().filter_map(|s| s.model.as_ref())
    }
}

/// Names in scope while checking; kept across REPL entries.
#[derive(Clone, Debug, Default)]
pub struct Scope {
    pub tensors: Vec<String>,
    pub models: HashMap<String, Model>,
    /// Models in declaration order (the last is `train`'s default).
    pub model_order: Vec<String>,
    /// Models whose declaration failed: still known by name, so the
    /// statements that use them add no "unknown model" errors to the real one.
    pub failed_models: Vec<String>,
    /// The shapes of tensors the checker can know (literals, constructors, operations on them).
    pub shapes: HashMap<String, Vec<usize>>,
    /// The last `data` pair for training, and for testing.
    pub train_data: Option<DataFacts>,
    pub test_data: Option<DataFacts>,
    /// A `train` came before: `plot` has a history to draw.
    pub trained: bool,
    /// Tensors known to hold floats (constructors, literals, model outputs):
    /// as targets they pick `mse`, never `xent`.
    pub floats: Vec<String>,
}

impl Scope {
    fn known_names(&self) -> Vec<String> {
        let mut v: Vec<String> = self.tensors.clone();
        v.extend(self.model_order.iter().cloned());
        v
    }
    fn define_tensor(&mut self, name: &str, shape: Option<Vec<usize>>) {
        if !self.tensors.iter().any(|t| t == name) {
            self.tensors.push(name.to_string());
        }
        match shape {
            Some(s) => self.shapes.insert(name.to_string(), s),
            None => self.shapes.remove(name),
        };
        self.models.remove(name);
        self.model_order.retain(|m| m != name);
        self.failed_models.retain(|m| m != name);
        self.floats.retain(|f| f != name);
    }
    fn define_model(&mut self, model: Model) {
        self.tensors.retain(|t| *t != model.name);
        self.floats.retain(|f| *f != model.name);
        self.shapes.remove(&model.name);
        self.model_order.retain(|m| *m != model.name);
        self.failed_models.retain(|m| *m != model.name);
        self.model_order.push(model.name.clone());
        self.models.insert(model.name.clone(), model);
    }
    /// A model declaration that failed: the name now means that model.
    fn define_failed_model(&mut self, name: &str) {
        self.tensors.retain(|t| t != name);
        self.floats.retain(|f| f != name);
        self.shapes.remove(name);
        self.models.remove(name);
        self.model_order.retain(|m| m != name);
        if !self.failed_models.iter().any(|m| m == name) {
            self.failed_models.push(name.to_string());
        }
    }
    pub(super) fn is_failed_model(&self, name: &str) -> bool {
        self.failed_models.iter().any(|m| m == name)
    }
}

/// Check a whole script.
/// The shape of `e` where the tensors named in it have the given shapes and
/// the models are these, as far as the checker's rules tell (`None` when
/// they cannot, or `e` is wrong). The exporters ask it with what a dry run
/// holds.
pub fn expr_shape(
    shapes: HashMap<String, Vec<usize>>,
    models: HashMap<String, Model>,
    e: &Expr,
) -> Option<Vec<usize>> {
    let scope = Scope {
        tensors: shapes.keys().cloned().collect(),
        shapes,
        model_order: models.keys().cloned().collect(),
        models,
        ..Scope::default()
    };
    let mut errs = Vec::new();
    let shape = shapes::infer(&scope, e, &mut errs);
    shape.filter(|_| errs.is_empty())
}

pub fn check_script(script: &Script) -> Checked {
    let mut scope = Scope::default();
    check_stmts(&mut scope, &script.stmts)
}

/// Check statements against (and into) a scope.
pub fn check_stmts(scope: &mut Scope, stmts: &[Stmt]) -> Checked {
    let mut checked = Checked::default();
    // models declared by these statements (the REPL may redeclare across entries)
    let mut declared: HashMap<&str, Span> = HashMap::new();
    for stmt in stmts {
        if let StmtKind::Model(decl) = &stmt.kind {
            let name = &decl.name;
            if let Some(first) = declared.get(name.name.as_str()) {
                let e = CheckError::declared_twice(&name.name, name.span, *first);
                checked.diagnostics.push(e);
            } else {
                declared.insert(&name.name, name.span);
            }
        }
        let (info, mut diags) = check_stmt(scope, stmt);
        checked.stmts.push(info);
        checked.diagnostics.append(&mut diags);
    }
    checked.diagnostics.sort_by_key(|d| d.span.start);
    checked
}

fn check_stmt(scope: &mut Scope, stmt: &Stmt) -> (StmtInfo, Vec<CheckError>) {
    let mut info = StmtInfo::default();
    let mut errs = Vec::new();
    match &stmt.kind {
        StmtKind::Let { name, value } => {
            let shape = check_value(scope, value, &mut errs);
            let float = train::is_float(scope, value);
            scope.define_tensor(&name.name, shape);
            if float {
                scope.floats.push(name.name.clone());
            }
        }
        StmtKind::LetTuple { names, value } => {
            let before = errs.len();
            check_value(scope, value, &mut errs);
            if errs.len() == before {
                errs.extend(tuple_count(scope, names.len(), value, stmt.span));
            }
            for n in names {
                scope.define_tensor(&n.name, None);
            }
        }
        StmtKind::SetParam { target, value } => {
            set_param(scope, target, value, &mut errs);
        }
        StmtKind::Assign {
            target,
            index,
            value,
            ..
        } => {
            let before = errs.len();
            if !scope.tensors.contains(&target.name) {
                errs.push(CheckError::unknown_name(
                    "tensor",
                    &target.name,
                    target.span,
                    &scope.tensors,
                ));
            }
            check_index(scope, index, &mut errs);
            let value_shape = check_value(scope, value, &mut errs);
            if errs.len() == before {
                shapes::check_assign(scope, (target, index), value_shape, value.span, &mut errs);
            }
        }
        StmtKind::Print(e) => {
            check_value(scope, e, &mut errs);
        }
        StmtKind::Show { value, path } => {
            errs.extend(path.as_ref().and_then(|p| files::png_name(p, "show")));
            match &value.kind {
                ExprKind::Name(id) if scope.models.contains_key(&id.name) => {
                    errs.push(files::shown_model(&id.name, value.span))
                }
                _ => {
                    let shape = check_value(scope, value, &mut errs);
                    errs.extend(shape.and_then(|s| files::undrawable(&s, value.span)));
                }
            }
        }
        StmtKind::Save { value, path } => {
            check_value(scope, value, &mut errs);
            let model =
                matches!(&value.kind, ExprKind::Name(id) if scope.models.contains_key(&id.name));
            let holds = match model {
                true => Holds::StateDict { saving: true },
                false => Holds::Values,
            };
            errs.extend(files::file_name(path, holds));
        }
        StmtKind::LoadModel { model, path } => {
            require_model(scope, model, &mut errs);
            errs.extend(files::file_name(path, Holds::StateDict { saving: false }));
        }
        StmtKind::Seed { value } => {
            if value.as_int().is_none_or(|v| v < 0) {
                errs.push(CheckError::bad_value(
                    format!("seed must be a non-negative integer, found {}", value.text),
                    value.span,
                    "not a seed",
                    "write `seed 7`".into(),
                ));
            }
        }
        StmtKind::Summary { model } => match scope.models.get(&model.name) {
            Some(m) => {
                let table = report::summary_table(m);
                info.output = Some(table.text.clone());
                info.table = Some(table);
            }
            None => require_model(scope, model, &mut errs),
        },
        StmtKind::Eval { model } => {
            match model {
                Some(m) => require_model(scope, m, &mut errs),
                None => require_any_model(scope, stmt.span, &mut errs),
            }
            train::check_eval(scope, model.as_ref(), stmt.span, &mut errs);
        }
        StmtKind::Train {
            model,
            optimizer,
            options,
        } => {
            match model {
                Some(m) => require_model(scope, m, &mut errs),
                None => {
                    require_any_model(scope, stmt.span, &mut errs);
                    require_one_model(scope, stmt.span, &mut errs);
                }
            }
            scope.trained = true;
            train::check_train(
                scope,
                model.as_ref(),
                optimizer,
                options,
                stmt.span,
                &mut errs,
            );
        }
        StmtKind::Data { role, x, y } => {
            if let Some(r) = role {
                if r.name != "train" && r.name != "test" {
                    errs.push(CheckError::other(
                        "data_role",
                        format!("unknown data role `{}`", r.name),
                        r.span,
                        "not a role",
                        "write `data train = X -> Y` or `data test = X -> Y`".into(),
                    ));
                }
            }
            let x = check_value(scope, x, &mut errs);
            let y_float = train::is_float(scope, y);
            let y_fractional = labels::fractional(y);
            let y = check_value(scope, y, &mut errs);
            let facts = DataFacts {
                x,
                y,
                y_float,
                y_fractional,
                span: stmt.span,
            };
            train::check_data(scope, role.as_ref(), facts, &mut errs);
        }
        StmtKind::Plot { path } => {
            errs.extend(path.as_ref().and_then(|p| files::png_name(p, "plot")));
            if !scope.trained {
                errs.push(CheckError::other(
                    "nothing_to_plot",
                    "nothing to plot: no model is trained before this".into(),
                    stmt.span,
                    "no training so far",
                    "`plot` draws the last `train`; put it after a `train` statement".into(),
                ));
            }
        }
        StmtKind::Assert { what, model, value } => match literal::dims_overflow(value) {
            Some(e) => errs.push(e),
            None => super::assert::check_assert(scope, *what, model, value, &mut errs),
        },
        StmtKind::Export { model, path } => {
            require_model(scope, model, &mut errs);
            if !path.value.to_ascii_lowercase().ends_with(".onnx") {
                errs.push(CheckError::bad_value(
                    format!("`export` writes ONNX, but \"{}\" does not end in .onnx", path.value),
                    path.span,
                    "not an .onnx file",
                    "name the file `*.onnx`; to save the weights as safetensors, use `save MODEL \"file.safetensors\"`".into(),
                ));
            }
        }
        StmtKind::Model(decl) => match check_model(decl) {
            Ok((model, warnings)) => {
                errs.extend(warnings);
                scope.define_model(model.clone());
                info.model = Some(model);
            }
            Err(mut e) => {
                errs.append(&mut e);
                scope.define_failed_model(&decl.name.name);
            }
        },
        StmtKind::Shape {
            explain,
            input,
            layers,
        } => match check_chain_question(input, layers) {
            Ok(model) => {
                if *explain {
                    info.output = Some(report::explain(&model));
                } else {
                    let table = report::shape_table(&model);
                    info.output = Some(table.text.clone());
                    info.table = Some(table);
                }
            }
            Err(mut e) => errs.append(&mut e),
        },
    }
    (info, errs)
}

/// `let (a, b) = ...`: only `split(D, f)` gives several values, two.
fn tuple_count(scope: &Scope, names: usize, value: &Expr, span: Span) -> Option<CheckError> {
    let split = matches!(&value.kind, ExprKind::Call { callee, .. }
        if matches!(&callee.kind, ExprKind::Name(id) if id.name == "split" && !scope.models.contains_key("split")));
    match split {
        true if names == 2 => None,
        true => Some(CheckError::tuple_count(names, 2, span)),
        false => Some(CheckError::one_value(value.span)),
    }
}

pub(super) fn require_model(scope: &Scope, name: &Ident, errs: &mut Vec<CheckError>) {
    if !scope.models.contains_key(&name.name) && !scope.is_failed_model(&name.name) {
        errs.push(CheckError::unknown_name(
            "model",
            &name.name,
            name.span,
            &scope.model_order,
        ));
    }
}

/// An expression's names and calls, then its shapes where they are known.
fn check_value(scope: &Scope, value: &Expr, errs: &mut Vec<CheckError>) -> Option<Vec<usize>> {
    let before = errs.len();
    check_expr(scope, value, errs);
    if errs.len() > before {
        return None;
    }
    shapes::infer(scope, value, errs)
}

/// `m.0.weight = K`: the target must be a tensor of a declared model, and
/// a value of known shape must have its shape (SPEC section 2).
fn set_param(scope: &Scope, target: &Expr, value: &Expr, errs: &mut Vec<CheckError>) {
    let value_shape = check_value(scope, value, errs);
    let mut path = Vec::new();
    let mut root = target;
    while let ExprKind::Field { base, field } = &root.kind {
        path.push(field.name.clone());
        root = base;
    }
    path.reverse();
    let ExprKind::Name(id) = &root.kind else {
        return;
    };
    if scope.is_failed_model(&id.name) {
        return;
    }
    let Some(model) = scope.models.get(&id.name) else {
        let (message, help) = if scope.tensors.contains(&id.name) {
            (
                format!(
                    "`{}` is a tensor; only a model's parameters can be set this way",
                    id.name
                ),
                format!("set part of a tensor with an index: `{}[0] = ...`", id.name),
            )
        } else {
            (
                format!("unknown model `{}`", id.name),
                "declare the model before setting its parameters".to_string(),
            )
        };
        errs.push(CheckError::other(
            "set_param",
            message,
            id.span,
            "not a model",
            help,
        ));
        return;
    };
    let key = path.join(".");
    let params = model.state_dict_shapes();
    let Some((_, want)) = params.iter().find(|(n, _)| *n == key) else {
        let names: Vec<String> = params.iter().map(|(n, _)| n.clone()).collect();
        let mut e = CheckError::unknown_name(
            &format!("parameter of `{}`", id.name),
            &key,
            target.span,
            &names,
        );
        if let Some(fix) = e.fix_edit_mut() {
            fix.replacement = format!("{}.{}", id.name, fix.replacement);
        }
        errs.push(e);
        return;
    };
    if let Some(got) = value_shape {
        if got != *want {
            let words = |s: &[usize]| {
                if s.is_empty() {
                    "a scalar".to_string()
                } else {
                    dims_string(s)
                }
            };
            // a scalar (batchnorm's `num_batches_tracked`) has no dims to reshape to
            let help = if want.is_empty() {
                "give a number, or reduce the tensor to one with .sum()".to_string()
            } else {
                let want = dims_string(want);
                format!("give a tensor of shape {want}, e.g. with .reshape({want})")
            };
            errs.push(CheckError::other(
                "param_shape",
                format!(
                    "`{}.{key}` is {} but the value is {}",
                    id.name,
                    words(want),
                    words(&got)
                ),
                value.span,
                "wrong shape",
                help,
            ));
        }
    }
}

/// SPEC v1.1: with several models declared, `train` names the one it trains.
fn require_one_model(scope: &Scope, span: Span, errs: &mut Vec<CheckError>) {
    let mut names: Vec<String> = scope.model_order.clone();
    names.extend(scope.failed_models.iter().cloned());
    if names.len() > 1 {
        let list = names
            .iter()
            .map(|n| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(", ");
        errs.push(CheckError::other(
            "train_which_model",
            format!("`train` must name its model: this script declares {list}"),
            span,
            "which model?",
            format!("write `train {} ...`", names[names.len() - 1]),
        ));
    }
}

fn require_any_model(scope: &Scope, span: Span, errs: &mut Vec<CheckError>) {
    if scope.model_order.is_empty() && scope.failed_models.is_empty() {
        errs.push(CheckError::other(
            "no_model",
            "no model is declared before this statement".into(),
            span,
            "needs a model",
            "declare one with `model name(x: dims) = layer -> ...`".into(),
        ));
    }
}

#[cfg(test)]
mod tests;
