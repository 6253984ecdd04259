//! The statements of train.py's `main()`: one block per script statement,
//! in order, each under a comment quoting the script's line.

use std::collections::{BTreeSet, HashMap, HashSet};

use super::example::{example, Example};
use super::expr::{makes_new, names_read, Py, Ty};
use super::keys::Keys;
use super::py::{self, Code, Names};
use crate::export::onnx::proto::{DimValue, ValueInfoProto};
use crate::ir::check::StmtInfo;
use crate::ir::model::Model;
use crate::run::error::RunError;
use crate::run::error::RunResult;
use crate::run::params::ModelState;
use crate::run::train::{default_loss, header, plan, Loss, Schedule, TrainPlan};
use crate::run::Interp;
use crate::syntax::ast::{
    ArgValue, AssertWhat, Expr, ExprKind, Ident, IndexItem, KeyValue, ModelDecl, Span, Stmt,
    StmtKind, StrLit,
};

/// A model declaration and the class model.py gives it.
pub struct Declared<'a> {
    pub class: String,
    pub decl: &'a ModelDecl,
}

/// Builds train.py's `main()` statement by statement.
pub struct Translator<'a> {
    pub text: &'a str,
    /// The script's file name, for the comments.
    pub file: &'a str,
    pub keys: &'a Keys,
    /// Python names of the script's names.
    pub names: Names,
    /// Each model declaration with its class, by the statement's start.
    pub classes: &'a HashMap<usize, Declared<'a>>,
    /// The helper sections the code calls.
    pub helpers: BTreeSet<&'static str>,
    /// The body of `main()`.
    pub body: Code,
    /// The Python source of each helper class a layer function's module is
    /// (`ScriptMaxPool2d` for per-side padding), once.
    pub layer_classes: Vec<&'static str>,
    /// Texts cnnscript computes without running (`summary`, `shape`): (constant, text).
    pub texts: Vec<(String, String)>,
    /// Python names whose tensor may be shared with another name or a view
    /// of one: copied before an element is assigned.
    shared: HashSet<String>,
}

impl<'a> Translator<'a> {
    /// A translator for one script.
    pub fn new(
        text: &'a str,
        file: &'a str,
        keys: &'a Keys,
        names: Names,
        classes: &'a HashMap<usize, Declared<'a>>,
    ) -> Translator<'a> {
        Translator {
            text,
            file,
            keys,
            names,
            classes,
            helpers: BTreeSet::new(),
            body: Code::new(),
            layer_classes: Vec::new(),
            texts: Vec::new(),
            shared: HashSet::new(),
        }
    }

    /// A helper class train.py defines for a layer function's module.
    pub fn note_class(&mut self, source: &'static str) {
        if !self.layer_classes.contains(&source) {
            self.layer_classes.push(source);
        }
    }

    fn source(&self, span: Span) -> &str {
        self.text.get(span.start..span.end).unwrap_or("")
    }

    /// Translate one statement; `interp` holds the state before it.
    pub fn stmt(&mut self, stmt: &Stmt, info: &StmtInfo, interp: &Interp) -> RunResult<()> {
        let (line, _) = py::line_col(self.text, stmt.span.start);
        let quoted = match &stmt.kind {
            StmtKind::Model(decl) => format!(
                "model {}({}: {})",
                decl.name.name,
                decl.input_name.name,
                py::one_line(self.source(decl.input.span), 40)
            ),
            _ => py::one_line(self.source(stmt.span), 90),
        };
        self.body.line(format!("# {}:{line}  {quoted}", self.file));
        let code = match &stmt.kind {
            StmtKind::Let { name, value } => self.bind(&[name], value, interp)?,
            StmtKind::LetTuple { names, value } => {
                let names: Vec<&Ident> = names.iter().collect();
                self.bind(&names, value, interp)?
            }
            StmtKind::Assign {
                target,
                index,
                value,
                ..
            } => self.assign(target, index, value, interp)?,
            StmtKind::SetParam { target, value } => self.set_param(target, value, interp)?,
            StmtKind::Print(e) => self.print(e, line, interp)?,
            StmtKind::Save { value, path } => {
                self.helpers.insert("save");
                let v = self.expr(value, interp)?;
                format!("save({}, {})", tensor(&v), py::str_lit(&path.value))
            }
            StmtKind::LoadModel { model, path } => {
                self.helpers.insert("load_weights");
                let m = self.names.get(&model.name);
                format!("load_weights({m}, {})", py::str_lit(&path.value))
            }
            StmtKind::Seed { value } => format!(
                "torch.manual_seed({})  # PyTorch's own draws (dropout); cnnscript's are in init.safetensors",
                value.text
            ),
            StmtKind::Model(decl) => self.model(&decl.name.name, stmt.span),
            StmtKind::Shape { .. } => self.print_text("SHAPE", line, info),
            StmtKind::Summary { .. } => self.print_text("SUMMARY", line, info),
            StmtKind::Data { role, x, y } => self.data(role.as_ref(), x, y, interp)?,
            StmtKind::Train {
                model,
                optimizer,
                options,
            } => self.train(model.as_ref(), optimizer, options, stmt.span, interp)?,
            StmtKind::Eval { model } => {
                self.helpers.insert("evaluate");
                let m = self.names.get(&interp.model_for(model.as_ref(), stmt.span, false)?);
                format!("evaluate({m}, test_data, train_data)")
            }
            StmtKind::Export { model, path } => self.export(model, path, stmt.span, interp)?,
            StmtKind::Assert { what, model, .. } => self.assert(*what, model, interp)?,
            StmtKind::Plot { .. } | StmtKind::Show { .. } => {
                "# not run here: cnnscript draws the pictures (plot, show); see README.md".into()
            }
        };
        self.body.line(code);
        Ok(())
    }

    /// `let X = ...` and `let (a, b) = ...`.
    fn bind(&mut self, names: &[&Ident], value: &Expr, interp: &Interp) -> RunResult<String> {
        let v = self.expr(value, interp)?;
        let targets: Vec<String> = names.iter().map(|n| self.names.get(&n.name)).collect();
        for t in &targets {
            self.alias(t, value);
        }
        Ok(format!("{} = {}", targets.join(", "), tensor(&v)))
    }

    /// `X[i, a:b] = value`, on a copy when X may share its tensor.
    fn assign(
        &mut self,
        target: &Ident,
        index: &[IndexItem],
        value: &Expr,
        interp: &Interp,
    ) -> RunResult<String> {
        let t = self.names.get(&target.name);
        let mut code = String::new();
        if self.shared.remove(&t) {
            code =
                format!("{t} = {t}.clone()  # a copy: cnnscript's tensors are values, not views\n");
        }
        let items = self.index(index, interp)?;
        let v = self.expr(value, interp)?;
        code.push_str(&format!("{t}[{}] = {}", items.join(", "), v.code));
        Ok(code)
    }

    /// `print X`; `print m` prints the model's summary, as cnnscript does.
    fn print(&mut self, e: &Expr, line: usize, interp: &Interp) -> RunResult<String> {
        self.helpers.insert("print0");
        if let ExprKind::Name(id) = &e.kind {
            if let Some(m) = interp.models.get(&id.name) {
                let text = crate::ir::report::summary(&m.ir);
                // `print m` writes the summary and a newline
                let constant = self.text_constant("SUMMARY", line, &format!("{text}\n"));
                return Ok(format!("print0({constant})"));
            }
        }
        let v = self.expr(e, interp)?;
        Ok(format!("print0({})", tensor(&v)))
    }

    /// A model declared: its module, with cnnscript's initial weights.
    fn model(&mut self, name: &str, span: Span) -> String {
        self.helpers.insert("initial");
        let m = self.names.get(name);
        self.shared.remove(&m);
        let class = self
            .classes
            .get(&span.start)
            .map_or_else(|| py::camel(name), |d| d.class.clone());
        let key = py::str_lit(&self.keys.model(name, span));
        format!(
            "{m} = {class}().to(DEVICE)\n\
             {m}.load_state_dict(initial({key}))  # cnnscript's seeded initial weights"
        )
    }

    /// `shape` and `summary`: the text cnnscript's checker computed.
    fn print_text(&mut self, kind: &str, line: usize, info: &StmtInfo) -> String {
        self.helpers.insert("print0");
        let text = info.output.clone().unwrap_or_default();
        let constant = self.text_constant(kind, line, &text);
        format!("print0({constant})")
    }

    /// `data [role =] X -> Y`.
    fn data(
        &mut self,
        role: Option<&Ident>,
        x: &Expr,
        y: &Expr,
        interp: &Interp,
    ) -> RunResult<String> {
        let (xv, yv) = (self.expr(x, interp)?, self.expr(y, interp)?);
        for e in [x, y] {
            self.alias("", e);
        }
        let pair = match role.map(|r| r.name.as_str()) {
            Some("test") => "test_data",
            _ => "train_data",
        };
        Ok(format!("{pair} = ({}, {})", tensor(&xv), tensor(&yv)))
    }

    /// Note that `target` (and what `value` reads) may share a tensor unless
    /// `value` makes a new one.
    fn alias(&mut self, target: &str, value: &Expr) {
        if makes_new(value) {
            self.shared.remove(target);
        } else {
            if !target.is_empty() {
                self.shared.insert(target.to_string());
            }
            for n in names_read(value) {
                let p = self.names.get(&n);
                self.shared.insert(p);
            }
        }
    }

    /// A module-level constant holding a text cnnscript prints.
    fn text_constant(&mut self, kind: &str, line: usize, text: &str) -> String {
        let base = format!("{kind}_{line}");
        let mut name = base.clone();
        let mut k = 2;
        while self.texts.iter().any(|(n, _)| *n == name) {
            name = format!("{base}_{k}");
            k += 1;
        }
        let text = text.strip_suffix('\n').unwrap_or(text);
        self.texts.push((name.clone(), text.to_string()));
        name
    }

    fn train(
        &mut self,
        named: Option<&Ident>,
        optimizer: &Ident,
        options: &[KeyValue],
        span: Span,
        interp: &Interp,
    ) -> RunResult<String> {
        let name = interp.model_for(named, span, true)?;
        let defaults = interp.train_data.as_ref().map_or(Loss::Mse, default_loss);
        // every field named: a new option must be translated (or said to need none)
        let TrainPlan {
            optimizer: _,
            loss,
            schedule,
            log,
            checkpoints,
            header: _,
        } = plan(optimizer, options, defaults)?;
        if let Some(file) = checkpoints.save.as_ref().or(checkpoints.resume.as_ref()) {
            return Err(RunError::new(
                "checkpoints have no PyTorch translation yet",
                file.span,
                "not exported",
            )
            .help("remove `checkpoint=`, `every=` and `resume=` before `export --torch`; train.py saves with `save`"));
        }
        let m = self.names.get(&name);
        let learnable = interp.models[&name].ir.total_params() > 0;
        let opt = if learnable {
            optimizer_code(&m, optimizer, options)
        } else {
            "None".to_string()
        };
        let loss = match loss {
            Loss::Sse => "sse",
            Loss::Mse => "mse",
            Loss::Xent => "xent",
        };
        // the header line cnnscript prints before a logged or epoch-wise `train`
        let header = (log.is_some() || matches!(schedule, Schedule::Epochs { .. })).then(|| {
            self.helpers.insert("print0");
            format!(
                "print0({})\n",
                py::str_lit(&header(&name, optimizer, options, &schedule))
            )
        });
        let log = log.map(|k| format!(", log={k}")).unwrap_or_default();
        self.helpers.insert("train");
        let call = match schedule {
            Schedule::Steps(steps) => call(
                "train_steps",
                &[
                    format!("{m}, train_data"),
                    opt,
                    format!("loss=\"{loss}\", steps={steps}{log}"),
                ],
            ),
            Schedule::Epochs { batch, .. } => {
                self.helpers.insert("drawn");
                let orders = py::str_lit(&self.keys.order(span));
                call(
                    "train_epochs",
                    &[
                        format!("{m}, train_data, test_data"),
                        opt,
                        format!("loss=\"{loss}\", batch={batch}, orders=drawn({orders}){log}"),
                    ],
                )
            }
        };
        Ok(header.unwrap_or_default() + &call)
    }
}

impl Translator<'_> {
    /// The model a name holds before the statement.
    fn model_state<'i>(&self, model: &Ident, interp: &'i Interp) -> RunResult<&'i ModelState> {
        interp.models.get(&model.name).ok_or_else(|| {
            RunError::new(
                format!("unknown model `{}`", model.name),
                model.span,
                "not a model",
            )
        })
    }

    /// An input PyTorch can run the model on (see `example.rs`).
    fn example(&self, model: &Ident, ir: &Model) -> RunResult<Example> {
        self.classes
            .values()
            .find(|d| d.decl.span == ir.span)
            .and_then(|d| example(d.decl, ir))
            .ok_or_else(|| {
                RunError::new(
                    format!(
                        "no input size up to 1024 fits `{}`, so PyTorch has nothing to run it on",
                        model.name
                    ),
                    model.span,
                    "no example input",
                )
            })
    }

    /// `export M "f.onnx"`: `torch.onnx.export` with cnnscript's names for the
    /// input and output and its symbolic sizes as dynamic axes (read off the
    /// file cnnscript itself would write, so a layer ONNX cannot say is the
    /// same error here).
    fn export(
        &mut self,
        model: &Ident,
        path: &StrLit,
        span: Span,
        interp: &Interp,
    ) -> RunResult<String> {
        let state = self.model_state(model, interp)?;
        let proto = crate::run::export::onnx_proto(state, Some(span))?;
        let graph = proto.graph.unwrap_or_default();
        let (Some(input), Some(output)) = (graph.input.first(), graph.output.first()) else {
            return Err(RunError::new("the ONNX graph has no input", span, "here"));
        };
        let ex = self.example(model, &state.ir)?;
        self.helpers.insert("export_onnx");
        let m = self.names.get(&model.name);
        Ok(call(
            "export_onnx",
            &[
                format!("{m}, {}", py::str_lit(&path.value)),
                format!("example={}", py::tuple(&ex.input)),
                format!("input={}", named_axes(input)),
                format!("output={}", named_axes(output)),
            ],
        ))
    }

    /// `assert shape` on a real output of the PyTorch module, `assert params`
    /// on its learnable parameters; `assert rf` stays a comment (the
    /// receptive field is the checker's, PyTorch has no counterpart).
    fn assert(&mut self, what: AssertWhat, model: &Ident, interp: &Interp) -> RunResult<String> {
        let state = self.model_state(model, interp)?;
        let m = self.names.get(&model.name);
        Ok(match what {
            AssertWhat::Shape => {
                let ex = self.example(model, &state.ir)?;
                self.helpers.insert("assert_shape");
                format!(
                    "assert_shape({m}, example={}, output={})",
                    py::tuple(&ex.input),
                    py::tuple(&ex.output)
                )
            }
            AssertWhat::Params => {
                self.helpers.insert("assert_params");
                format!("assert_params({m}, {})", state.ir.total_params())
            }
            AssertWhat::Rf => {
                "# checked by cnnscript's checker: a receptive field has no PyTorch counterpart"
                    .into()
            }
        })
    }
}

impl Translator<'_> {
    /// `m.0.weight = K`: the values copied into the module's tensor of that
    /// state-dict name.
    fn set_param(&mut self, target: &Expr, value: &Expr, interp: &Interp) -> RunResult<String> {
        let mut path = Vec::new();
        let mut root = target;
        while let ExprKind::Field { base, field } = &root.kind {
            path.push(field.name.as_str());
            root = base;
        }
        let ExprKind::Name(model) = &root.kind else {
            return Err(RunError::new(
                "only a model's tensor can be assigned this way",
                target.span,
                "not a model's tensor",
            ));
        };
        path.reverse();
        let v = self.expr(value, interp)?;
        self.helpers.insert("set_param");
        let m = self.names.get(&model.name);
        Ok(format!(
            "set_param({m}, {}, {})",
            py::str_lit(&path.join(".")),
            tensor(&v)
        ))
    }
}

/// `("x", {0: "N", 2: "H"})`: a graph input or output's name and its
/// symbolic sizes by position.
fn named_axes(v: &ValueInfoProto) -> String {
    let dims = v
        .r#type
        .as_ref()
        .and_then(|t| t.tensor_type.as_ref())
        .and_then(|t| t.shape.as_ref())
        .map(|s| s.dim.as_slice())
        .unwrap_or_default();
    let axes: Vec<String> = dims
        .iter()
        .enumerate()
        .filter_map(|(i, d)| match &d.value {
            Some(DimValue::DimParam(p)) => Some(format!("{i}: {}", py::str_lit(p))),
            _ => None,
        })
        .collect();
    format!("({}, {{{}}})", py::str_lit(&v.name), axes.join(", "))
}

/// A value as a tensor: a Python number becomes a 0-d float32 tensor.
fn tensor(v: &Py) -> String {
    match v.ty {
        Ty::Num => v.float(),
        _ => v.code.clone(),
    }
}

/// `torch.optim.SGD(m.parameters(), lr=0.1, momentum=0.9)` with the options
/// the script gives, as written (PyTorch's defaults are cnnscript's).
fn optimizer_code(model: &str, optimizer: &Ident, options: &[KeyValue]) -> String {
    let get = |key: &str| {
        options
            .iter()
            .find(|o| o.key.name == key)
            .and_then(|o| match &o.value {
                ArgValue::Number(n) => Some(n.text.clone()),
                _ => None,
            })
    };
    let adam = optimizer.name == "adam";
    let order: &[&str] = if adam {
        &["lr", "betas", "eps", "weight_decay"]
    } else {
        &["lr", "momentum", "weight_decay"]
    };
    let mut args = vec![format!("{model}.parameters()")];
    for key in order {
        let value = match *key {
            "betas" => (get("b1").is_some() || get("b2").is_some()).then(|| {
                let b1 = get("b1").unwrap_or_else(|| "0.9".into());
                let b2 = get("b2").unwrap_or_else(|| "0.999".into());
                format!("({b1}, {b2})")
            }),
            key => get(key),
        };
        if let Some(v) = value {
            args.push(format!("{key}={v}"));
        }
    }
    let class = if adam { "Adam" } else { "SGD" };
    format!("torch.optim.{class}({})", args.join(", "))
}

/// `f(a, b)` on one line when it fits, else one argument per line.
fn call(name: &str, args: &[String]) -> String {
    let one = format!("{name}({})", args.join(", "));
    if one.len() <= 92 {
        return one;
    }
    let mut out = format!("{name}(\n");
    for a in args {
        out.push_str(&format!("    {a},\n"));
    }
    out.push(')');
    out
}
