//! The checker: walks a script's statements in order, resolves names, and
//! lowers every model and `shape` question to the checked IR.

mod expr;
pub mod files;
mod habits;
pub mod literal;
mod shapes;
mod train;

pub use train::DataFacts;

use std::collections::HashMap;

use super::error::CheckError;
use super::infer::{infer_layer, validate_call};
use super::model::{Layer, Model, Node, NodeInput, NodeSource};
use super::report;
use super::shape::{Dim, Rf, Shape};
use crate::io::Holds;
use crate::layers::{layer_spec, InputRank, LayerInput, LayerKind};
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
    }
    fn define_model(&mut self, model: Model) {
        self.tensors.retain(|t| *t != model.name);
        self.shapes.remove(&model.name);
        self.model_order.retain(|m| *m != model.name);
        self.failed_models.retain(|m| *m != model.name);
        self.model_order.push(model.name.clone());
        self.models.insert(model.name.clone(), model);
    }
    /// A model declaration that failed: the name now means that model.
    fn define_failed_model(&mut self, name: &str) {
        self.tensors.retain(|t| t != name);
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
            scope.define_tensor(&name.name, shape);
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
            let y = check_value(scope, y, &mut errs);
            train::check_data(scope, role.as_ref(), x, y, stmt.span, &mut errs);
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

/// The dims of a declaration as a shape; sizes must be positive.
fn dims_to_shape(dims: &Dims) -> Result<Shape, CheckError> {
    let mut out = Vec::new();
    let mut total = 1u64;
    for d in &dims.dims {
        match d {
            DimLit::Known(0) => {
                return Err(CheckError::bad_value(
                    format!(
                        "a size must be at least 1, found 0 in {}",
                        dims_string(&dims.dims)
                    ),
                    dims.span,
                    "zero size",
                    "every dimension needs at least one element".into(),
                ))
            }
            DimLit::Known(n) => {
                total = total.checked_mul(*n).ok_or_else(|| {
                    CheckError::overflow(
                        &format!("the shape {}", dims_string(&dims.dims)),
                        dims.span,
                    )
                })?;
                out.push(Dim::Known(*n));
            }
            DimLit::Sym(s) if s.starts_with(|c: char| c.is_ascii_digit()) => {
                return Err(CheckError::overflow(&format!("the size {s}"), dims.span));
            }
            DimLit::Sym(s) => out.push(Dim::Sym(s.clone())),
        }
    }
    Ok(Shape(out))
}

/// Promote a rank-2 (HxW) or rank-3 (CxHxW) input to rank 4 with leading 1s
/// when the first rank-sensitive layer is a 4-D one (SPEC section 4).
fn promote(shape: Shape, first_layers: &[&LayerCall]) -> Shape {
    let first = first_layers
        .iter()
        .filter_map(|l| layer_spec(&l.name.name))
        .map(|spec| spec.input)
        .find(|rule| *rule != InputRank::Any);
    let image = match first {
        Some(InputRank::Image) => true,
        Some(InputRank::ImageIfRank3) => shape.rank() == 3,
        Some(InputRank::AsIs | InputRank::Any) | None => false,
    };
    if image && (shape.rank() == 2 || shape.rank() == 3) {
        let mut dims = vec![Dim::Known(1); 4 - shape.rank()];
        dims.extend(shape.0);
        Shape(dims)
    } else {
        shape
    }
}

/// `shape dims -> layer -> ...`: a one-node model without a name.
pub fn check_chain_question(input: &Dims, layers: &[LayerCall]) -> Result<Model, Vec<CheckError>> {
    let decl = ModelDecl {
        name: Ident {
            name: "shape".into(),
            span: input.span,
        },
        input_name: Ident {
            name: "x".into(),
            span: input.span,
        },
        input: input.clone(),
        lines: vec![ModelLine {
            bind: None,
            source: None,
            layers: layers.to_vec(),
            span: input.span,
        }],
        span: input.span,
    };
    check_model(&decl).map(|(m, _)| m)
}

/// A bound name inside a model: the input or a node.
#[derive(Clone, Copy)]
struct Binding {
    target: NodeInput,
    span: Span,
}

/// Lower and infer a model declaration (plain or graph).
pub fn check_model(decl: &ModelDecl) -> Result<(Model, Vec<CheckError>), Vec<CheckError>> {
    let declared = dims_to_shape(&decl.input).map_err(|e| vec![e])?;
    let all_layers: Vec<&LayerCall> = decl.lines.iter().flat_map(|l| l.layers.iter()).collect();
    let input = promote(declared.clone(), &all_layers);
    let is_graph = decl.lines.iter().any(|l| l.bind.is_some());

    let mut errors = Vec::new();
    let mut nodes: Vec<Node> = Vec::new();
    // per node: whether inference succeeded (a failed node poisons its readers)
    let mut ok: Vec<bool> = Vec::new();
    let mut after_flatten: Vec<bool> = Vec::new();
    let mut bindings: HashMap<String, Binding> = HashMap::new();
    let mut used: Vec<bool> = Vec::new();
    let mut labels: HashMap<String, Span> = HashMap::new();
    bindings.insert(
        decl.input_name.name.clone(),
        Binding {
            target: NodeInput::Input,
            span: decl.input_name.span,
        },
    );
    let later_bindings: HashMap<&str, Span> = decl
        .lines
        .iter()
        .filter_map(|l| l.bind.as_ref().map(|b| (b.name.as_str(), b.span)))
        .collect();

    for line in &decl.lines {
        for call in &line.layers {
            if let Some(label) = &call.label {
                if let Some(first) = labels.get(&label.name) {
                    errors.push(CheckError::duplicate_label(&label.name, label.span, *first));
                } else {
                    labels.insert(label.name.clone(), label.span);
                }
            }
        }
        // Which node do this line's layers extend?
        let node_idx = match (&line.bind, &line.source) {
            (Some(bind), Some(source)) => {
                if let Some(prev) = bindings.get(&bind.name) {
                    errors.push(CheckError::bound_twice(&bind.name, bind.span, prev.span));
                    continue;
                }
                let resolved = resolve_source(
                    source,
                    &bindings,
                    &later_bindings,
                    &nodes,
                    &ok,
                    &input,
                    &mut used,
                    &mut errors,
                );
                let Some((src, inputs, shape, rf, flat)) = resolved else {
                    // unusable source: bind the name anyway so later lines don't cascade
                    nodes.push(empty_node(Some(bind.name.clone()), line.span, &input));
                    ok.push(false);
                    after_flatten.push(false);
                    used.push(true);
                    bindings.insert(
                        bind.name.clone(),
                        Binding {
                            target: NodeInput::Node(nodes.len() - 1),
                            span: bind.span,
                        },
                    );
                    continue;
                };
                nodes.push(Node {
                    name: Some(bind.name.clone()),
                    source: src,
                    inputs,
                    layers: vec![],
                    source_shape: shape,
                    source_rf: rf,
                    span: line.span,
                });
                ok.push(true);
                after_flatten.push(flat);
                used.push(false);
                bindings.insert(
                    bind.name.clone(),
                    Binding {
                        target: NodeInput::Node(nodes.len() - 1),
                        span: bind.span,
                    },
                );
                nodes.len() - 1
            }
            _ => {
                if nodes.is_empty() {
                    nodes.push(Node {
                        name: None,
                        source: NodeSource::Input,
                        inputs: vec![decl.input_name.name.clone()],
                        layers: vec![],
                        source_shape: input.clone(),
                        source_rf: Rf::INPUT,
                        span: line.span,
                    });
                    ok.push(true);
                    after_flatten.push(false);
                    used.push(true);
                }
                nodes.len() - 1
            }
        };
        if !ok[node_idx] {
            line.layers
                .iter()
                .for_each(|c| errors.extend(validate_call(c)));
            continue;
        }
        let mut failed_at = None;
        for (pos, call) in line.layers.iter().enumerate() {
            let node = &nodes[node_idx];
            let shape = node.out_shape().clone();
            let li = LayerInput {
                shape: &shape,
                rf: node.out_rf(),
                after_flatten: after_flatten[node_idx],
                index: node.layers.len(),
            };
            match infer_layer(call, &li) {
                Ok(layer) => {
                    if layer.kind == LayerKind::Flatten {
                        after_flatten[node_idx] = true;
                    }
                    nodes[node_idx].layers.push(layer);
                }
                Err(mut e) => {
                    errors.append(&mut e);
                    ok[node_idx] = false;
                    failed_at = Some(pos);
                    break;
                }
            }
        }
        if let Some(pos) = failed_at {
            line.layers[pos + 1..]
                .iter()
                .for_each(|c| errors.extend(validate_call(c)));
        }
    }

    if nodes.is_empty() {
        errors.push(CheckError::other(
            "empty_model",
            format!("model `{}` has no layers", decl.name.name),
            decl.name.span,
            "empty",
            "add at least one layer, e.g. `= conv(out=1, k=3)`".into(),
        ));
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut warnings = Vec::new();
    if is_graph {
        let last = nodes.len().saturating_sub(1);
        for (i, node) in nodes.iter().enumerate() {
            if i != last && !used[i] {
                if let Some(name) = &node.name {
                    let span = bindings.get(name).map(|b| b.span).unwrap_or(node.span);
                    warnings.push(CheckError::unused_node(name, span));
                }
            }
        }
    }
    Ok((
        Model {
            name: decl.name.name.clone(),
            span: decl.span,
            input_name: decl.input_name.name.clone(),
            declared_input: declared,
            input,
            nodes,
            is_graph,
        },
        warnings,
    ))
}

fn empty_node(name: Option<String>, span: Span, input: &Shape) -> Node {
    Node {
        name,
        source: NodeSource::Input,
        inputs: vec![],
        layers: vec![],
        source_shape: input.clone(),
        source_rf: Rf::INPUT,
        span,
    }
}

type Resolved = (NodeSource, Vec<String>, Shape, Rf, bool);

/// Resolve a binding line's source: names must be bound on earlier lines;
/// merges must fit (add: identical shapes; concat: equal but for channels).
#[allow(clippy::too_many_arguments)]
fn resolve_source(
    source: &Source,
    bindings: &HashMap<String, Binding>,
    later: &HashMap<&str, Span>,
    nodes: &[Node],
    ok: &[bool],
    input: &Shape,
    used: &mut [bool],
    errors: &mut Vec<CheckError>,
) -> Option<Resolved> {
    let lookup = |id: &Ident,
                  errors: &mut Vec<CheckError>,
                  used: &mut [bool],
                  merge: bool|
     -> Option<(NodeInput, Shape, Rf)> {
        match bindings.get(&id.name) {
            Some(b) => match b.target {
                NodeInput::Input => Some((NodeInput::Input, input.clone(), Rf::INPUT)),
                NodeInput::Node(i) => {
                    used[i] = true;
                    if ok[i] {
                        Some((
                            NodeInput::Node(i),
                            nodes[i].out_shape().clone(),
                            nodes[i].out_rf(),
                        ))
                    } else {
                        None
                    }
                }
            },
            None => {
                match later.get(id.name.as_str()) {
                    Some(s) => errors.push(CheckError::unbound(&id.name, id.span, Some(*s))),
                    None if merge => {
                        // sorted: a HashMap's order would make the suggestion vary by run
                        let mut known: Vec<String> = bindings.keys().cloned().collect();
                        known.sort();
                        errors.push(CheckError::unknown_name("node", &id.name, id.span, &known));
                    }
                    None => errors.push(CheckError::unbound(&id.name, id.span, None)),
                }
                None
            }
        }
    };
    match source {
        Source::Name(id) => {
            let (target, shape, rf) = lookup(id, errors, used, false)?;
            let src = match target {
                NodeInput::Input => NodeSource::Input,
                NodeInput::Node(i) => NodeSource::Node(i),
            };
            let flat = shape.rank() == 2 && input.rank() == 4;
            Some((src, vec![id.name.clone()], shape, rf, flat))
        }
        Source::Merge { op, args, span } => {
            if op.name != "add" && op.name != "concat" {
                errors.push(CheckError::unknown_merge(&op.name, op.span));
                return None;
            }
            let mut parts = Vec::new();
            let mut failed = false;
            for a in args {
                match lookup(a, errors, used, true) {
                    Some(p) => parts.push((a, p)),
                    None => failed = true,
                }
            }
            if failed || parts.is_empty() {
                return None;
            }
            let (first_id, (_, first_shape, _)) = &parts[0];
            let mut out_shape = first_shape.clone();
            let mut rf = Rf::INPUT;
            for (id, (_, shape, r)) in &parts {
                // rf of a merge: per dim the largest rf and, separately, the largest jump
                for i in 0..2 {
                    rf.size[i] = rf.size[i].max(r.size[i]);
                    rf.jump[i] = rf.jump[i].max(r.jump[i]);
                }
                if std::ptr::eq(*id, *first_id) {
                    continue;
                }
                let a = (first_id.name.as_str(), first_shape);
                let b = (id.name.as_str(), shape);
                if op.name == "add" {
                    if shape != first_shape {
                        errors.push(CheckError::merge_shapes(
                            "add",
                            a,
                            b,
                            *span,
                            "add needs identical shapes",
                        ));
                        return None;
                    }
                } else {
                    let fits = shape.rank() == first_shape.rank()
                        && shape.rank() >= 2
                        && shape
                            .0
                            .iter()
                            .zip(&first_shape.0)
                            .enumerate()
                            .all(|(i, (x, y))| i == 1 || x == y);
                    if !fits {
                        errors.push(CheckError::merge_shapes(
                            "concat",
                            a,
                            b,
                            *span,
                            "only the channels may differ",
                        ));
                        return None;
                    }
                    out_shape.0[1] = match (&out_shape.0[1], &shape.0[1]) {
                        (Dim::Known(x), Dim::Known(y)) => match x.checked_add(*y) {
                            Some(s) => Dim::Known(s),
                            None => {
                                errors
                                    .push(CheckError::overflow("the concatenated channels", *span));
                                return None;
                            }
                        },
                        (x, y) => Dim::Sym(format!("{x}+{y}")),
                    };
                }
            }
            let inputs: Vec<NodeInput> = parts.iter().map(|(_, (t, _, _))| *t).collect();
            let names = args.iter().map(|a| a.name.clone()).collect();
            let src = if op.name == "add" {
                NodeSource::Add(inputs)
            } else {
                NodeSource::Concat(inputs)
            };
            let flat = out_shape.rank() == 2 && input.rank() == 4;
            Some((src, names, out_shape, rf, flat))
        }
    }
}

/// The layers of a model, flattened with their node, for reports.
pub fn layer_rows(model: &Model) -> Vec<(&Node, &Layer)> {
    model.layers().collect()
}

#[cfg(test)]
mod tests;
