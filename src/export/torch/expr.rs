//! Expressions in PyTorch. The interpreter's state before the statement
//! (from the dry run) says what each name holds, so integer tensors convert
//! to float exactly where cnnscript converts them.

use std::collections::BTreeMap;

use super::py;
use super::stmt::Translator;
use crate::ir::builtins::{self, bool_word, Bound, BuiltinSpec, Function, Method, Property};
use crate::ir::layer_fn;
use crate::run::error::{RunError, RunResult};
use crate::run::Interp;
use crate::syntax::ast::{BinOp, DimLit, Expr, ExprKind, Ident, IndexItem, NamedArg, Number, Span};
use crate::value::Value;

/// What a Python expression holds, as far as the export knows.
#[derive(Clone, Debug, PartialEq)]
pub enum Ty {
    /// A Python number (a script number literal or arithmetic on them).
    Num,
    Float,
    Int,
    Bool,
    /// A shape (`X.shape`, a `torch.Size`).
    Dims,
    Bundle(BTreeMap<String, Ty>),
    Model,
    Tuple,
    Unknown,
}

impl Ty {
    /// The type of a value the interpreter holds.
    pub fn of(v: &Value) -> Ty {
        match v {
            Value::Float(_) => Ty::Float,
            Value::Int(_) => Ty::Int,
            Value::Bool(_) => Ty::Bool,
            Value::Dims(_) => Ty::Dims,
            Value::Count(_) => Ty::Num,
            Value::Bundle(m) => Ty::Bundle(m.iter().map(|(k, v)| (k.clone(), Ty::of(v))).collect()),
        }
    }
}

/// Python binding strength: 5 atoms and postfix, 4 unary minus, 3 `*` `/` `@`,
/// 2 `+` `-`, 1 comparisons.
const ATOM: u8 = 5;
const UNARY: u8 = 4;
const SUM: u8 = 2;
const COMPARE: u8 = 1;

/// A translated expression.
#[derive(Clone, Debug)]
pub struct Py {
    pub code: String,
    pub prec: u8,
    pub ty: Ty,
}

impl Py {
    fn atom(code: impl Into<String>, ty: Ty) -> Py {
        Py {
            code: code.into(),
            prec: ATOM,
            ty,
        }
    }
    /// The code, parenthesised unless it binds at least as tightly as `prec`.
    pub fn at(&self, prec: u8) -> String {
        if self.prec >= prec {
            self.code.clone()
        } else {
            format!("({})", self.code)
        }
    }
    /// As a float tensor: `.float()` unless it is one already.
    pub fn float(&self) -> String {
        match self.ty {
            Ty::Float => self.code.clone(),
            Ty::Num if self.code.parse::<f64>().is_ok() => {
                let code = &self.code;
                if code.contains(['.', 'e', 'E']) {
                    format!("torch.tensor({code})")
                } else {
                    format!("torch.tensor({code}.0)")
                }
            }
            Ty::Num => format!("torch.tensor(float({}))", self.code),
            _ => format!("{}.float()", self.at(ATOM)),
        }
    }
}

fn sizes(dims: &[usize]) -> Vec<u64> {
    dims.iter().map(|&d| d as u64).collect()
}

/// A number literal as a Python float: `3` → `3.0`.
fn float_text(n: &Number) -> String {
    if n.text.contains(['.', 'e', 'E']) {
        n.text.clone()
    } else {
        format!("{}.0", n.text)
    }
}

fn literal_list(e: &Expr) -> Option<String> {
    match &e.kind {
        ExprKind::Number(n) => Some(n.text.clone()),
        ExprKind::Neg(inner) => match &inner.kind {
            ExprKind::Number(n) => Some(format!("-{}", n.text)),
            _ => None,
        },
        ExprKind::List(items) => {
            let parts: Option<Vec<String>> = items.iter().map(literal_list).collect();
            Some(format!("[{}]", parts?.join(", ")))
        }
        _ => None,
    }
}

fn unsupported(what: &str, e: &Expr) -> RunError {
    RunError::new(
        format!("{what} has no PyTorch translation"),
        e.span,
        "cannot export this",
    )
}

/// A call's arguments as written.
#[derive(Clone, Copy)]
struct Args<'a> {
    list: &'a [Expr],
    named: &'a [NamedArg],
    span: Span,
}

impl Translator<'_> {
    /// Translate an expression.
    pub fn expr(&mut self, e: &Expr, interp: &Interp) -> RunResult<Py> {
        Ok(match &e.kind {
            ExprKind::Number(n) => Py {
                code: n.text.clone(),
                prec: if n.text.starts_with('-') { UNARY } else { ATOM },
                ty: Ty::Num,
            },
            ExprKind::Str(s) => Py::atom(py::str_lit(&s.value), Ty::Unknown),
            ExprKind::Dims(d) => Py::atom(self.dims(&d.dims, e)?, Ty::Unknown),
            ExprKind::List(items) => self.list(items, e, interp)?,
            ExprKind::Name(id) => self.name(id, interp),
            ExprKind::Call {
                callee,
                args,
                named,
                args_span,
            } => {
                let a = Args {
                    list: args,
                    named,
                    span: *args_span,
                };
                self.call(callee, a, e, interp)?
            }
            ExprKind::Field { base, field } => self.field(base, field, interp)?,
            ExprKind::Index { base, items } => {
                let b = self.expr(base, interp)?;
                let index = self.index(items, interp)?;
                if matches!(b.ty, Ty::Bundle(_)) {
                    self.helpers.insert("rows");
                    let code = format!("rows({}, {})", b.code, index_object(&index));
                    Py::atom(code, b.ty)
                } else {
                    // an item of a shape is a number
                    let ty = if b.ty == Ty::Dims {
                        Ty::Num
                    } else {
                        b.ty.clone()
                    };
                    Py::atom(format!("{}[{}]", b.at(ATOM), index.join(", ")), ty)
                }
            }
            ExprKind::Neg(inner) => {
                let v = self.expr(inner, interp)?;
                Py {
                    code: format!("-{}", v.at(UNARY)),
                    prec: UNARY,
                    ty: v.ty,
                }
            }
            ExprKind::Binary { op, lhs, rhs } => {
                let (a, b) = (self.expr(lhs, interp)?, self.expr(rhs, interp)?);
                binary(*op, &a, &b)
            }
        })
    }

    fn name(&mut self, id: &Ident, interp: &Interp) -> Py {
        let ty = if interp.models.contains_key(&id.name) {
            Ty::Model
        } else {
            interp.tensors.get(&id.name).map_or(Ty::Unknown, Ty::of)
        };
        Py::atom(self.names.get(&id.name), ty)
    }

    /// Sizes as Python arguments: `6, 8`.
    fn dims(&self, dims: &[DimLit], e: &Expr) -> RunResult<String> {
        let parts: Option<Vec<String>> = dims
            .iter()
            .map(|d| match d {
                DimLit::Known(n) => Some(n.to_string()),
                DimLit::Sym(_) => None,
            })
            .collect();
        parts
            .map(|p| p.join(", "))
            .ok_or_else(|| unsupported("a symbolic size in a tensor's shape", e))
    }

    /// A size or index: a literal as written, anything else through `int()`.
    fn int(&mut self, e: &Expr, interp: &Interp) -> RunResult<String> {
        let v = self.expr(e, interp)?;
        Ok(match (&e.kind, &v.ty) {
            (ExprKind::Number(n), _) if n.as_int().is_some() => v.code,
            (ExprKind::Neg(inner), _) if matches!(&inner.kind, ExprKind::Number(n) if n.as_int().is_some()) => {
                v.code
            }
            _ => format!("int({})", v.code),
        })
    }

    /// A shape argument: a dims literal or one size.
    fn shape_arg(&mut self, e: &Expr, interp: &Interp) -> RunResult<String> {
        match &e.kind {
            ExprKind::Dims(d) => self.dims(&d.dims, e),
            _ => {
                let v = self.expr(e, interp)?;
                if v.ty == Ty::Dims {
                    Ok(v.code)
                } else {
                    self.int(e, interp)
                }
            }
        }
    }

    fn list(&mut self, items: &[Expr], e: &Expr, interp: &Interp) -> RunResult<Py> {
        if items.is_empty() {
            return Ok(Py::atom("torch.zeros(0)", Ty::Float));
        }
        if let Some(lit) = literal_list(e) {
            return Ok(Py::atom(
                format!("torch.tensor({lit}, dtype=torch.float32)"),
                Ty::Float,
            ));
        }
        let parts: Vec<String> = items
            .iter()
            .map(|x| Ok(self.expr(x, interp)?.float()))
            .collect::<RunResult<_>>()?;
        Ok(Py::atom(
            format!("torch.stack([{}])", parts.join(", ")),
            Ty::Float,
        ))
    }

    pub fn index(&mut self, items: &[IndexItem], interp: &Interp) -> RunResult<Vec<String>> {
        let mut out = Vec::new();
        for item in items {
            out.push(match item {
                IndexItem::Single(x) => self.int(x, interp)?,
                IndexItem::Slice {
                    start, stop, step, ..
                } => {
                    let mut part = |x: &Option<Expr>| -> RunResult<String> {
                        x.as_ref()
                            .map_or(Ok(String::new()), |x| self.int(x, interp))
                    };
                    let (a, b, c) = (part(start)?, part(stop)?, part(step)?);
                    if c.is_empty() {
                        format!("{a}:{b}")
                    } else {
                        format!("{a}:{b}:{c}")
                    }
                }
            });
        }
        Ok(out)
    }

    fn field(&mut self, base: &Expr, field: &Ident, interp: &Interp) -> RunResult<Py> {
        // `m.0.weight`: a model's tensor by its state-dict name
        let mut path = vec![field.name.as_str()];
        let mut root = base;
        while let ExprKind::Field { base, field } = &root.kind {
            path.push(field.name.as_str());
            root = base;
        }
        if let ExprKind::Name(id) = &root.kind {
            if interp.models.contains_key(&id.name) {
                path.reverse();
                self.helpers.insert("param");
                let model = self.names.get(&id.name);
                let key = py::str_lit(&path.join("."));
                return Ok(Py::atom(format!("param({model}, {key})"), Ty::Float));
            }
        }
        let b = self.expr(base, interp)?;
        Ok(match (&b.ty, field.name.as_str()) {
            (Ty::Bundle(fields), name) => {
                let ty = fields.get(name).cloned().unwrap_or(Ty::Unknown);
                Py::atom(format!("{}[{}]", b.at(ATOM), py::str_lit(name)), ty)
            }
            // PyTorch's own `.T` is for at most 2 dims
            (ty, "T") if matrix(base, interp) => Py::atom(format!("{}.T", b.at(ATOM)), ty.clone()),
            (ty, name) => match builtins::property(name) {
                Some((_, p)) => property(p, &b, ty.clone()),
                None => Py::atom(
                    format!("{}[{}]", b.at(ATOM), py::str_lit(name)),
                    Ty::Unknown,
                ),
            },
        })
    }

    fn call(&mut self, callee: &Expr, a: Args, e: &Expr, interp: &Interp) -> RunResult<Py> {
        match &callee.kind {
            ExprKind::Name(id) if interp.models.contains_key(&id.name) => {
                let x = self.arg(a.list, 0, e, interp)?;
                self.helpers.insert("forward");
                let model = self.names.get(&id.name);
                Ok(Py::atom(format!("forward({model}, {})", x.code), Ty::Float))
            }
            ExprKind::Name(id) => self.builtin(&id.name, a, e, interp),
            ExprKind::Field { base, field } => {
                let b = self.expr(base, interp)?;
                self.method(b, field, a, e, interp)
            }
            ExprKind::Index { base, items } => {
                // `m[0:K](X)`: the first K layers
                let model = match &base.kind {
                    ExprKind::Name(id) if interp.models.contains_key(&id.name) => {
                        self.names.get(&id.name)
                    }
                    _ => return Err(unsupported("calling this", e)),
                };
                let stop = match items.as_slice() {
                    [IndexItem::Slice { stop, .. }] => stop,
                    _ => return Err(unsupported("this model slice", e)),
                };
                let x = self.arg(a.list, 0, e, interp)?;
                self.helpers.insert("forward");
                let code = match stop {
                    Some(k) => format!(
                        "forward({model}, {}, layers={})",
                        x.code,
                        self.int(k, interp)?
                    ),
                    None => format!("forward({model}, {})", x.code),
                };
                Ok(Py::atom(code, Ty::Float))
            }
            _ => Err(unsupported("calling this", e)),
        }
    }

    fn arg(&mut self, args: &[Expr], i: usize, e: &Expr, interp: &Interp) -> RunResult<Py> {
        self.required(args.get(i), i, e, interp)
    }

    /// The argument bound to parameter `i` (the checker made sure the
    /// required ones are there).
    fn bound(&mut self, b: &Bound, i: usize, e: &Expr, interp: &Interp) -> RunResult<Py> {
        self.required(b.get(i), i, e, interp)
    }

    /// Argument `i` translated, or an error at the call when it is missing.
    fn required(&mut self, a: Option<&Expr>, i: usize, e: &Expr, interp: &Interp) -> RunResult<Py> {
        match a {
            Some(a) => self.expr(a, interp),
            None => Err(RunError::new(
                format!("missing argument {}", i + 1),
                e.span,
                "too few arguments",
            )),
        }
    }

    fn builtin(&mut self, name: &str, a: Args, e: &Expr, interp: &Interp) -> RunResult<Py> {
        let unknown = || unsupported(&format!("the function `{name}`"), e);
        let (spec, f) = builtins::function(name).ok_or_else(unknown)?;
        let b = builtins::bind(spec, a.list, a.named, a.span).map_err(|_| unknown())?;
        let float = Ty::Float;
        match f {
            Function::Ones | Function::Zeros => {
                let dims = self.shape_arg(b.get(0).ok_or_else(unknown)?, interp)?;
                Ok(Py::atom(format!("torch.{name}({dims})"), float))
            }
            Function::Full => {
                let (Some(d), Some(v)) = (b.get(0), b.get(1)) else {
                    return Err(unknown());
                };
                let shape = match self.expr(d, interp)?.ty {
                    Ty::Dims => self.shape_arg(d, interp)?,
                    _ => py::tuple_text(&self.shape_arg(d, interp)?),
                };
                let value = match &v.kind {
                    ExprKind::Number(n) => float_text(n),
                    _ => format!("float({})", self.expr(v, interp)?.code),
                };
                Ok(Py::atom(format!("torch.full({shape}, {value})"), float))
            }
            Function::Rand | Function::Randn => {
                self.helpers.insert("drawn");
                let key = self.keys.draw(name, e.span);
                Ok(Py::atom(format!("drawn({})", py::str_lit(&key)), float))
            }
            Function::Arange => {
                let mut parts = Vec::new();
                for a in b.slots.iter().filter_map(|s| s.first()) {
                    let v = self.expr(a, interp)?;
                    parts.push(if v.ty == Ty::Num {
                        v.code
                    } else {
                        format!("float({})", v.code)
                    });
                }
                Ok(Py::atom(
                    format!("torch.arange({}, dtype=torch.float32)", parts.join(", ")),
                    float,
                ))
            }
            Function::Load => {
                self.helpers.insert("load");
                let path = self.bound(&b, 0, e, interp)?;
                Ok(Py::atom(format!("load({})", path.code), Ty::Unknown))
            }
            Function::Corr2d => {
                self.helpers.insert("corr2d");
                let (x, k) = (self.bound(&b, 0, e, interp)?, self.bound(&b, 1, e, interp)?);
                Ok(Py::atom(format!("corr2d({}, {})", x.code, k.code), float))
            }
            Function::Split => {
                self.helpers.insert("split");
                let data = self.bound(&b, 0, e, interp)?;
                let key = self.keys.draw("split", e.span);
                Ok(Py::atom(
                    format!("split({}, {})", data.code, py::str_lit(&key)),
                    Ty::Tuple,
                ))
            }
            Function::Matmul => {
                let (x, y) = (self.bound(&b, 0, e, interp)?, self.bound(&b, 1, e, interp)?);
                let (x, y, ty) = promoted(&x, &y, COMPARE, COMPARE);
                Ok(Py::atom(format!("torch.matmul({x}, {y})"), ty))
            }
            Function::Cat | Function::Stack => {
                let Some(ExprKind::List(items)) = b.get(0).map(|l| &l.kind) else {
                    return Err(unsupported(
                        &format!("`{name}` of something not in brackets"),
                        e,
                    ));
                };
                let mut parts = Vec::new();
                let mut ty = Ty::Bool;
                for item in items {
                    let v = self.expr(item, interp)?;
                    ty = wider(&ty, &v.ty);
                    parts.push(v);
                }
                // PyTorch promotes too; a Python number is a float tensor here
                let parts: Vec<String> = parts
                    .iter()
                    .map(|v| {
                        if v.ty == Ty::Num {
                            v.float()
                        } else {
                            v.code.clone()
                        }
                    })
                    .collect();
                let dim = match b.get(1) {
                    Some(d) => format!(", dim={}", self.int(d, interp)?),
                    None => String::new(),
                };
                let f = if f == Function::Cat { "cat" } else { "stack" };
                Ok(Py::atom(
                    format!("torch.{f}([{}]{dim})", parts.join(", ")),
                    ty,
                ))
            }
            Function::Layer | Function::Conv2d | Function::Linear => {
                self.layer_fn((spec, f), &b, e, interp)
            }
        }
    }

    /// A layer applied as a function: the layer's own PyTorch module (as a
    /// model would hold it) applied to the tensor, reshaped into the rank the
    /// layer reads and back (`maxpool(Z, k=2)` on a 3x3 `Z` is
    /// `nn.MaxPool2d(kernel_size=2)(Z.reshape(1, 1, 3, 3)).reshape(2, 2)`);
    /// `conv2d` and `linear` copy their weights in. The shapes come from the
    /// dry run's tensors through the checker's rules.
    fn layer_fn(
        &mut self,
        (spec, f): (&'static BuiltinSpec, Function),
        b: &Bound,
        e: &Expr,
        interp: &Interp,
    ) -> RunResult<Py> {
        let name = spec.name;
        let x = self.bound(b, 0, e, interp)?;
        match name {
            "relu" | "sigmoid" | "tanh" => {
                return Ok(Py::atom(format!("torch.{name}({})", x.float()), Ty::Float))
            }
            // the identity outside `train`
            "dropout" => return Ok(Py::atom(x.float(), Ty::Float)),
            _ => {}
        }
        let (plan, x_shape) = self.plan_layer_fn((spec, f), b, e, interp)?;
        let module = plan.layer.kind.torch(&plan.layer.in_shape);
        if let Some(class) = module.helper {
            self.note_class(class);
        }
        self.helpers.insert("modules");
        let x = Py {
            code: x.float(),
            prec: if x.ty == Ty::Float { x.prec } else { ATOM },
            ty: Ty::Float,
        };
        let input = if x_shape == plan.layer_in {
            x.code.clone()
        } else {
            format!(
                "{}.reshape({})",
                x.at(ATOM),
                py::tuple(&sizes(&plan.layer_in))
            )
        };
        let layer = match f {
            Function::Conv2d | Function::Linear => {
                let w = self.bound(b, 1, e, interp)?.float();
                let bias = match b.get(2) {
                    Some(a) => format!(", {}", self.expr(a, interp)?.float()),
                    None => String::new(),
                };
                self.helpers.insert("with_weights");
                format!("with_weights({}, {w}{bias})", module.call())
            }
            // batchnorm's weight 1 and bias 0 are not trained here
            _ if !plan.layer.kind.tensors().is_empty() => {
                format!("{}.requires_grad_(False)", module.call())
            }
            _ => module.call(),
        };
        let natural: Option<Vec<usize>> = plan
            .layer
            .out_shape
            .known()
            .map(|d| d.iter().map(|&n| n as usize).collect());
        let mut code = format!("{layer}({input})");
        if natural.as_deref() != Some(&plan.out[..]) {
            code = format!("{code}.reshape({})", py::tuple(&sizes(&plan.out)));
        }
        Ok(Py::atom(code, Ty::Float))
    }

    /// The layer a layer function applies, planned with its operands'
    /// shapes; and the tensor's shape.
    fn plan_layer_fn(
        &self,
        (spec, f): (&'static BuiltinSpec, Function),
        b: &Bound,
        e: &Expr,
        interp: &Interp,
    ) -> RunResult<(layer_fn::Plan, Vec<usize>)> {
        let cannot = || {
            unsupported(
                &format!(
                    "`{}` of a value whose shape is known only when the script runs",
                    spec.name
                ),
                e,
            )
        };
        let with_weight = f != Function::Layer;
        let shape = |i: usize| self.operand_shape(b.get(i), interp);
        let x = shape(0).ok_or_else(cannot)?;
        let weight = if with_weight {
            Some(shape(1).ok_or_else(cannot)?)
        } else {
            None
        };
        let bias = match b.get(2) {
            Some(_) if with_weight => Some(shape(2).ok_or_else(cannot)?),
            _ => None,
        };
        let dim = match b.get(1).filter(|_| !with_weight) {
            Some(d) => Some(crate::ir::check::literal_int(d).ok_or_else(cannot)?),
            None => None,
        };
        let at = |i: usize| b.get(i).map_or(e.span, |a| a.span);
        let spans = layer_fn::Spans {
            call: e.span,
            callee: e.span,
            x: at(0),
            weight: at(1),
            bias: at(2),
            dim: at(1),
        };
        let ops = layer_fn::Operands {
            x: &x,
            weight: weight.as_deref(),
            bias: bias.as_deref(),
            dim,
        };
        let plan = layer_fn::plan(spec, f, &b.layer_args, ops, spans).map_err(|_| cannot())?;
        Ok((plan, x))
    }

    /// The shape of an operand: the dry run's tensors through the checker's rules.
    fn operand_shape(&self, a: Option<&Expr>, interp: &Interp) -> Option<Vec<usize>> {
        let shapes = interp
            .tensors
            .iter()
            .filter_map(|(k, v)| Some((k.clone(), v.shape()?.to_vec())))
            .collect();
        let models = interp
            .models
            .iter()
            .map(|(k, m)| (k.clone(), m.ir.clone()))
            .collect();
        crate::ir::check::expr_shape(shapes, models, a?)
    }

    fn method(
        &mut self,
        b: Py,
        field: &Ident,
        a: Args,
        e: &Expr,
        interp: &Interp,
    ) -> RunResult<Py> {
        let unknown = || unsupported(&format!("the method `.{}`", field.name), e);
        let (spec, m) = builtins::method(&field.name).ok_or_else(unknown)?;
        let bound = builtins::bind(spec, a.list, a.named, a.span).map_err(|_| unknown())?;
        let base = b.at(ATOM);
        let reduce_args = |t: &mut Self| -> RunResult<String> {
            let mut parts = Vec::new();
            if let Some(d) = bound.get(0) {
                parts.push(format!("dim={}", t.int(d, interp)?));
            }
            if let Some(k) = bound.get(1) {
                let keep = match &k.kind {
                    ExprKind::Name(w) => bool_word(&w.name),
                    _ => None,
                };
                let keep = keep.ok_or_else(|| unsupported("this `keepdim`", k))?;
                parts.push(format!("keepdim={}", if keep { "True" } else { "False" }));
            }
            Ok(parts.join(", "))
        };
        Ok(match m {
            Method::Reshape => {
                let dims = self.shape_arg(bound.get(0).ok_or_else(unknown)?, interp)?;
                Py::atom(format!("{base}.reshape({dims})"), b.ty)
            }
            Method::Sum => {
                let ty = if b.ty == Ty::Float {
                    Ty::Float
                } else {
                    Ty::Int
                };
                Py::atom(format!("{base}.sum({})", reduce_args(self)?), ty)
            }
            Method::Mean => {
                let x = if b.ty == Ty::Float {
                    base
                } else {
                    format!("{base}.float()")
                };
                Py::atom(format!("{x}.mean({})", reduce_args(self)?), Ty::Float)
            }
            Method::Max | Method::Min => {
                let a = reduce_args(self)?;
                // with a dim PyTorch's max gives (values, indices): amax is the values
                let f = match (m == Method::Max, a.is_empty()) {
                    (true, true) => "max",
                    (false, true) => "min",
                    (true, false) => "amax",
                    (false, false) => "amin",
                };
                Py::atom(format!("{base}.{f}({a})"), b.ty)
            }
            Method::ArgMax | Method::ArgMin => {
                let f = if m == Method::ArgMax {
                    "argmax"
                } else {
                    "argmin"
                };
                let x = if b.ty == Ty::Bool {
                    format!("{base}.long()")
                } else {
                    base
                };
                Py::atom(format!("{x}.{f}({})", reduce_args(self)?), Ty::Int)
            }
            Method::Float => Py::atom(format!("{base}.float()"), Ty::Float),
            Method::Flip => {
                let dims: Vec<String> = bound
                    .all(0)
                    .iter()
                    .map(|d| self.int(d, interp))
                    .collect::<RunResult<_>>()?;
                let dims = if dims.is_empty() {
                    format!("tuple(range({base}.dim()))")
                } else {
                    py::tuple_text(&dims.join(", "))
                };
                Py::atom(format!("{base}.flip({dims})"), b.ty)
            }
            Method::Permute => {
                let dims: Vec<String> = bound
                    .all(0)
                    .iter()
                    .map(|d| self.int(d, interp))
                    .collect::<RunResult<_>>()?;
                Py::atom(format!("{base}.permute({})", dims.join(", ")), b.ty)
            }
            Method::Numel => Py::atom(format!("{base}.numel()"), Ty::Num),
        })
    }
}

/// A property of a tensor: `X.T` keeps the dtype, `X.shape` is a
/// `torch.Size`, `X.ndim` and `X.numel` numbers.
fn property(p: Property, b: &Py, ty: Ty) -> Py {
    let base = b.at(ATOM);
    match p {
        // every dim reversed, as cnnscript's `.T` (PyTorch's own is for 2-D)
        Property::T => Py::atom(
            format!("{base}.permute(*reversed(range({base}.dim())))"),
            ty,
        ),
        Property::Shape => Py::atom(format!("{base}.shape"), Ty::Dims),
        Property::Ndim => Py::atom(format!("{base}.dim()"), Ty::Num),
        Property::Numel => Py::atom(format!("{base}.numel()"), Ty::Num),
    }
}

/// Whether `e` names a tensor of at most 2 dims.
fn matrix(e: &Expr, interp: &Interp) -> bool {
    match &e.kind {
        ExprKind::Name(id) => interp
            .tensors
            .get(&id.name)
            .and_then(Value::shape)
            .is_some_and(|s| s.len() <= 2),
        _ => false,
    }
}

/// The wider of two dtypes (bool < int < float; a Python number counts as
/// a float tensor, as cnnscript's number literals are).
fn wider(a: &Ty, b: &Ty) -> Ty {
    let rank = |t: &Ty| match t {
        Ty::Bool => 0,
        Ty::Int => 1,
        _ => 2,
    };
    if rank(a) >= rank(b) {
        match a {
            Ty::Bool | Ty::Int => a.clone(),
            _ => Ty::Float,
        }
    } else {
        wider(b, a)
    }
}

/// Both operands in their common dtype, the left bound at least as
/// tightly as `left`, the right as `right`: an integer or bool side of a
/// float operation converts with `.float()` (PyTorch would keep `Y + 1`
/// integer; cnnscript's `1` is a float).
fn promoted(a: &Py, b: &Py, left: u8, right: u8) -> (String, String, Ty) {
    let ty = wider(&a.ty, &b.ty);
    let side = |v: &Py, prec: u8| match (&ty, &v.ty) {
        (Ty::Float, Ty::Int | Ty::Bool) => format!("{}.float()", v.at(ATOM)),
        _ => v.at(prec),
    };
    (side(a, left), side(b, right), ty)
}

/// `a op b` in Python: arithmetic in the common dtype (`/` always float),
/// comparisons giving bool tensors; two Python numbers stay a number.
fn binary(op: BinOp, a: &Py, b: &Py) -> Py {
    let prec = match op {
        BinOp::Add | BinOp::Sub => SUM,
        BinOp::Mul | BinOp::Div | BinOp::MatMul => SUM + 1,
        BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => COMPARE,
    };
    // a comparison's operands are never comparisons (Python would chain them)
    let (l, r) = if op.is_comparison() {
        (SUM, SUM)
    } else {
        (prec, prec + 1)
    };
    let (left, right, ty) = promoted(a, b, l, r);
    let ty = match op {
        _ if op.is_comparison() => Ty::Bool,
        _ if a.ty == Ty::Num && b.ty == Ty::Num => Ty::Num,
        BinOp::Div => Ty::Float,
        _ => ty,
    };
    Py {
        code: format!("{left} {} {right}", op.symbol()),
        prec,
        ty,
    }
}

/// An index for `rows()`: one item as it is, several as a tuple of slices.
fn index_object(items: &[String]) -> String {
    let one = |s: &str| -> String {
        match s.split(':').collect::<Vec<_>>().as_slice() {
            [i] => i.to_string(),
            parts => {
                let p: Vec<String> = parts
                    .iter()
                    .map(|x| {
                        if x.is_empty() {
                            "None".into()
                        } else {
                            x.to_string()
                        }
                    })
                    .collect();
                format!("slice({})", p.join(", "))
            }
        }
    };
    match items {
        [single] => one(single),
        many => format!(
            "({},)",
            many.iter().map(|s| one(s)).collect::<Vec<_>>().join(", ")
        ),
    }
}

/// Whether an expression makes a new tensor (not a view of, or the same
/// object as, a tensor a name holds).
pub fn makes_new(e: &Expr) -> bool {
    match &e.kind {
        ExprKind::Name(_) | ExprKind::Index { .. } => false,
        // `.T` is a view in PyTorch (a copy in cnnscript)
        ExprKind::Field { field, .. } => field.name != "T" && is_param_path(e),
        ExprKind::Call { callee, .. } => match &callee.kind {
            ExprKind::Field { field, .. } => !matches!(field.name.as_str(), "reshape" | "float"),
            _ => true,
        },
        _ => true,
    }
}

/// `m.0.weight` (copied out of the model by `param`), as opposed to `D.x`.
fn is_param_path(e: &Expr) -> bool {
    let mut depth = 0;
    let mut root = e;
    while let ExprKind::Field { base, .. } = &root.kind {
        depth += 1;
        root = base;
    }
    depth >= 2 && matches!(root.kind, ExprKind::Name(_))
}

/// The names an expression reads.
pub fn names_read(e: &Expr) -> Vec<String> {
    let mut out = Vec::new();
    crate::syntax::visit::walk(e, &mut |x| {
        if let ExprKind::Name(id) = &x.kind {
            out.push(id.name.clone());
        }
    });
    out
}
