//! Expressions in PyTorch. The interpreter's state before the statement
//! (from the dry run) says what each name holds, so integer tensors convert
//! to float exactly where cnnscript converts them.

use std::collections::BTreeMap;

use super::py;
use super::stmt::Translator;
use crate::run::error::{RunError, RunResult};
use crate::run::Interp;
use crate::syntax::ast::{BinOp, DimLit, Expr, ExprKind, Ident, IndexItem, Number};
use crate::value::Value;

/// What a Python expression holds, as far as the export knows.
#[derive(Clone, Debug, PartialEq)]
pub enum Ty {
    /// A Python number (a script number literal or arithmetic on them).
    Num,
    Float,
    Int,
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
            Value::Bundle(m) => Ty::Bundle(m.iter().map(|(k, v)| (k.clone(), Ty::of(v))).collect()),
        }
    }
}

/// Python binding strength: 5 atoms and postfix, 4 unary minus, 3 `*` `/`, 2 `+` `-`.
const ATOM: u8 = 5;
const UNARY: u8 = 4;

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
            ExprKind::Call { callee, args, .. } => self.call(callee, args, e, interp)?,
            ExprKind::Field { base, field } => self.field(base, field, interp)?,
            ExprKind::Index { base, items } => {
                let b = self.expr(base, interp)?;
                let index = self.index(items, interp)?;
                if matches!(b.ty, Ty::Bundle(_)) {
                    self.helpers.insert("rows");
                    let code = format!("rows({}, {})", b.code, index_object(&index));
                    Py::atom(code, b.ty)
                } else {
                    Py::atom(
                        format!("{}[{}]", b.at(ATOM), index.join(", ")),
                        b.ty.clone(),
                    )
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
                let prec = match op {
                    BinOp::Add | BinOp::Sub => 2,
                    BinOp::Mul | BinOp::Div => 3,
                };
                let numbers = a.ty == Ty::Num && b.ty == Ty::Num;
                let side = |v: &Py, p: u8| match v.ty {
                    Ty::Num | Ty::Float => v.at(p),
                    _ => format!("{}.float()", v.at(ATOM)),
                };
                Py {
                    code: format!("{} {} {}", side(&a, prec), op.symbol(), side(&b, prec + 1)),
                    prec,
                    ty: if numbers { Ty::Num } else { Ty::Float },
                }
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
            _ => self.int(e, interp),
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
            (_, "T") => Py::atom(format!("{}.T", b.at(ATOM)), Ty::Float),
            (_, name) => Py::atom(
                format!("{}[{}]", b.at(ATOM), py::str_lit(name)),
                Ty::Unknown,
            ),
        })
    }

    fn call(&mut self, callee: &Expr, args: &[Expr], e: &Expr, interp: &Interp) -> RunResult<Py> {
        match &callee.kind {
            ExprKind::Name(id) if interp.models.contains_key(&id.name) => {
                let x = self.arg(args, 0, e, interp)?;
                self.helpers.insert("forward");
                let model = self.names.get(&id.name);
                Ok(Py::atom(format!("forward({model}, {})", x.code), Ty::Float))
            }
            ExprKind::Name(id) => self.builtin(&id.name, args, e, interp),
            ExprKind::Field { base, field } => {
                let b = self.expr(base, interp)?;
                self.method(b, field, args, e, interp)
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
                let x = self.arg(args, 0, e, interp)?;
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
        match args.get(i) {
            Some(a) => self.expr(a, interp),
            None => Err(RunError::new(
                format!("missing argument {}", i + 1),
                e.span,
                "too few arguments",
            )),
        }
    }

    fn builtin(&mut self, name: &str, args: &[Expr], e: &Expr, interp: &Interp) -> RunResult<Py> {
        let float = Ty::Float;
        match name {
            "ones" | "zeros" => {
                let dims =
                    self.shape_arg(args.first().ok_or_else(|| unsupported(name, e))?, interp)?;
                Ok(Py::atom(format!("torch.{name}({dims})"), float))
            }
            "full" => {
                let [d, v] = args else {
                    return Err(unsupported("`full` without two arguments", e));
                };
                let dims = self.shape_arg(d, interp)?;
                let value = match &v.kind {
                    ExprKind::Number(n) => float_text(n),
                    _ => format!("float({})", self.expr(v, interp)?.code),
                };
                let shape = if dims.contains(',') {
                    format!("({dims})")
                } else {
                    format!("({dims},)")
                };
                Ok(Py::atom(format!("torch.full({shape}, {value})"), float))
            }
            "rand" | "randn" => {
                self.helpers.insert("drawn");
                let key = self.keys.draw(name, e.span);
                Ok(Py::atom(format!("drawn({})", py::str_lit(&key)), float))
            }
            "arange" => {
                let parts: Vec<String> = args
                    .iter()
                    .map(|a| {
                        let v = self.expr(a, interp)?;
                        Ok(if v.ty == Ty::Num {
                            v.code
                        } else {
                            format!("float({})", v.code)
                        })
                    })
                    .collect::<RunResult<_>>()?;
                Ok(Py::atom(
                    format!("torch.arange({}, dtype=torch.float32)", parts.join(", ")),
                    float,
                ))
            }
            "load" => {
                self.helpers.insert("load");
                let path = self.arg(args, 0, e, interp)?;
                Ok(Py::atom(format!("load({})", path.code), Ty::Unknown))
            }
            "corr2d" => {
                self.helpers.insert("corr2d");
                let (x, k) = (self.arg(args, 0, e, interp)?, self.arg(args, 1, e, interp)?);
                Ok(Py::atom(format!("corr2d({}, {})", x.code, k.code), float))
            }
            "split" => {
                self.helpers.insert("split");
                let data = self.arg(args, 0, e, interp)?;
                let key = self.keys.draw("split", e.span);
                Ok(Py::atom(
                    format!("split({}, {})", data.code, py::str_lit(&key)),
                    Ty::Tuple,
                ))
            }
            _ => Err(unsupported(&format!("the function `{name}`"), e)),
        }
    }

    fn method(
        &mut self,
        b: Py,
        field: &Ident,
        args: &[Expr],
        e: &Expr,
        interp: &Interp,
    ) -> RunResult<Py> {
        match field.name.as_str() {
            "reshape" => {
                let dims = self.shape_arg(
                    args.first().ok_or_else(|| unsupported("`.reshape()`", e))?,
                    interp,
                )?;
                Ok(Py::atom(format!("{}.reshape({dims})", b.at(ATOM)), b.ty))
            }
            "sum" | "mean" | "max" | "min" => {
                let base = match b.ty {
                    Ty::Float => b.at(ATOM),
                    _ => format!("{}.float()", b.at(ATOM)),
                };
                Ok(Py::atom(format!("{base}.{}()", field.name), Ty::Float))
            }
            "float" => Ok(Py::atom(format!("{}.float()", b.at(ATOM)), Ty::Float)),
            other => Err(unsupported(&format!("the method `.{other}`"), e)),
        }
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
