//! Expressions: literals, names, fields, arithmetic and broadcasting. Calls
//! go on to `builtins.rs`, `methods.rs` and `apply.rs` (models), indexing
//! to `index.rs`.

use ndarray::{ArrayD, IxDyn};

use super::error::{RunError, RunResult};
use super::index::index_value;
use super::Interp;
use crate::ir::builtins;
use crate::ir::value_shape;
use crate::syntax::ast::*;
use crate::value::{dims_string, Value};

/// What an expression evaluates to.
pub enum Evaluated {
    Value(Value),
    /// A model name (for `save m "f"`, `print m`).
    Model(String),
    /// Several values (`split(D, 0.8)`), for `let (a, b) = ...`.
    Tuple(Vec<Value>),
}

/// A 0-d float tensor.
pub(super) fn scalar(v: f32) -> Value {
    Value::Float(ArrayD::from_elem(IxDyn(&[]), v))
}

impl Interp {
    /// Evaluate an expression to a value.
    pub fn eval(&mut self, expr: &Expr) -> RunResult<Value> {
        match self.eval_any(expr)? {
            Evaluated::Value(v) => Ok(v),
            Evaluated::Model(name) => Err(RunError::new(
                format!("`{name}` is a model, not a tensor"),
                expr.span,
                "a model",
            )
            .help(format!("apply it to a tensor: `{name}(X)`"))),
            Evaluated::Tuple(_) => {
                Err(
                    RunError::new("this gives several values", expr.span, "a tuple")
                        .help("bind them with `let (a, b) = ...`"),
                )
            }
        }
    }

    /// Evaluate to a float tensor (integer tensors convert).
    pub fn eval_float(&mut self, expr: &Expr) -> RunResult<ArrayD<f32>> {
        let v = self.eval(expr)?;
        v.to_float().ok_or_else(|| {
            RunError::new(
                format!("expected a tensor, found a {}", v.type_name()),
                expr.span,
                "not a tensor",
            )
            .help("pick one of its arrays with `.name`")
        })
    }

    /// Evaluate anything an expression can stand for.
    pub fn eval_any(&mut self, expr: &Expr) -> RunResult<Evaluated> {
        let span = expr.span;
        let v = match &expr.kind {
            ExprKind::Number(n) => scalar(n.value as f32),
            ExprKind::Str(s) => {
                return Err(RunError::new(
                    format!("a string (\"{}\") is not a value here", s.value),
                    span,
                    "string",
                )
                .help("strings name files: `load(\"x.npy\")`"))
            }
            ExprKind::Dims(d) => {
                return Err(RunError::new("dims are not a tensor", d.span, "dims")
                    .help("make a tensor of that shape with `zeros(6x8)` or `ones(6x8)`"))
            }
            ExprKind::List(items) => self.eval_list(items, span)?,
            ExprKind::Name(id) => {
                if let Some(v) = self.tensors.get(&id.name) {
                    v.clone()
                } else if self.models.contains_key(&id.name) {
                    return Ok(Evaluated::Model(id.name.clone()));
                } else {
                    return Err(RunError::new(
                        format!("unknown name `{}`", id.name),
                        id.span,
                        "not defined",
                    ));
                }
            }
            ExprKind::Call {
                callee,
                args,
                args_span,
            } => return self.eval_call(callee, args, *args_span, span),
            ExprKind::Field { base, field } => {
                return self.eval_field(base, field, span).map(Evaluated::Value)
            }
            ExprKind::Index { base, items } => {
                let v = self.eval(base)?;
                index_value(&v, &self.eval_index(items)?)?
            }
            ExprKind::Neg(e) => match self.eval(e)? {
                Value::Float(a) => Value::Float(-a),
                Value::Int(a) => Value::Int(-a),
                Value::Bundle(_) => return Err(not_tensor(e.span)),
            },
            ExprKind::Binary { op, lhs, rhs } => {
                let a = self.eval_float(lhs)?;
                let b = self.eval_float(rhs)?;
                binary(*op, &a, &b, span)?
            }
        };
        Ok(Evaluated::Value(v))
    }

    fn eval_list(&mut self, items: &[Expr], span: Span) -> RunResult<Value> {
        if items.is_empty() {
            return Ok(Value::Float(ArrayD::zeros(IxDyn(&[0]))));
        }
        let mut parts = Vec::with_capacity(items.len());
        for e in items {
            parts.push(self.eval_float(e)?);
        }
        let shapes: Vec<&[usize]> = parts.iter().map(|p| p.shape()).collect();
        let shape = value_shape::list(&shapes)
            .map_err(|(i, message)| RunError::new(message, items[i].span, "different length"))?;
        let data: Vec<f32> = parts.iter().flat_map(|p| p.iter().copied()).collect();
        ArrayD::from_shape_vec(IxDyn(&shape), data)
            .map(Value::Float)
            .map_err(|e| RunError::new(e.to_string(), span, "here"))
    }

    fn eval_call(
        &mut self,
        callee: &Expr,
        args: &[Expr],
        args_span: Span,
        span: Span,
    ) -> RunResult<Evaluated> {
        match &callee.kind {
            ExprKind::Name(id) if self.models.contains_key(&id.name) => {
                self.call_model(&id.name, args, span)
            }
            ExprKind::Name(id) => match builtins::function(&id.name) {
                Some(f) => self.call_function(f, args, args_span, span),
                None => Err(RunError::new(
                    format!("unknown function `{}`", id.name),
                    span,
                    "not a function",
                )),
            },
            ExprKind::Field { base, field } => {
                let Some(m) = builtins::method(&field.name) else {
                    let e = builtins::unknown_method(&field.name, field.span);
                    let mut run = RunError::new(e.message, e.span, e.label);
                    run.help = e.help.map(String::from);
                    return Err(run);
                };
                let v = self.eval(base)?;
                self.call_method(v, m, args, args_span, span)
                    .map(Evaluated::Value)
            }
            ExprKind::Index { base, items } => {
                self.call_model_slice((base, items), callee.span, args, span)
            }
            _ => Err(RunError::new(
                "this cannot be called",
                callee.span,
                "not a function",
            )),
        }
    }

    /// An integer-valued expression.
    pub fn eval_int(&mut self, e: &Expr) -> RunResult<i64> {
        let a = self.eval_float(e)?;
        if a.ndim() != 0 && a.len() != 1 {
            return Err(RunError::new("expected a number", e.span, "not a number"));
        }
        let v = a.iter().next().copied().unwrap_or(0.0);
        if v.fract() != 0.0 || !v.is_finite() {
            return Err(RunError::new(
                format!("expected an integer, found {v}"),
                e.span,
                "not an integer",
            ));
        }
        Ok(v as i64)
    }

    /// A one-element expression as a number.
    pub(super) fn eval_number(&mut self, e: &Expr) -> RunResult<f32> {
        let a = self.eval_float(e)?;
        if a.len() != 1 {
            return Err(RunError::new("expected a number", e.span, "not a number"));
        }
        Ok(a.iter().next().copied().unwrap_or(0.0))
    }

    /// Dims from a dims literal, a number, or a 1-D tensor of sizes.
    pub(super) fn eval_dims(&mut self, e: &Expr) -> RunResult<Vec<usize>> {
        let dims = match &e.kind {
            ExprKind::Dims(d) => d
                .dims
                .iter()
                .map(|x| {
                    value_shape::tensor_size(x).map_err(|(message, label, help)| {
                        let e = RunError::new(message, d.span, label);
                        match help {
                            Some(h) => e.help(h),
                            None => e,
                        }
                    })
                })
                .collect::<RunResult<Vec<usize>>>()?,
            _ => {
                let n = self.eval_int(e)?;
                if n < 0 {
                    return Err(RunError::new(
                        format!("a size cannot be negative ({n})"),
                        e.span,
                        "negative",
                    ));
                }
                vec![n as usize]
            }
        };
        let total = dims
            .iter()
            .try_fold(1u64, |acc, &d| acc.checked_mul(d as u64));
        match total {
            Some(t) => {
                crate::io::check_alloc(t, &format!("a tensor of shape {}", dims_string(&dims)))
                    .map_err(|err| RunError::io(&err, e.span))?;
                Ok(dims)
            }
            None => Err(too_big(e.span)),
        }
    }

    /// A new shape: dims, or one integer (`-1`: inferred).
    pub(super) fn eval_shape(&mut self, e: &Expr) -> RunResult<Vec<i64>> {
        match &e.kind {
            ExprKind::Dims(_) => Ok(self.eval_dims(e)?.into_iter().map(|d| d as i64).collect()),
            _ => Ok(vec![self.eval_int(e)?]),
        }
    }

    fn eval_field(&mut self, base: &Expr, field: &Ident, span: Span) -> RunResult<Value> {
        // `edge.0.weight`: a model parameter by its state-dict name
        let mut path = vec![field.name.clone()];
        let mut root = base;
        while let ExprKind::Field { base, field } = &root.kind {
            path.push(field.name.clone());
            root = base;
        }
        path.reverse();
        if let ExprKind::Name(id) = &root.kind {
            if let Some(m) = self.models.get(&id.name) {
                let key = path.join(".");
                let p = m.param(&key).ok_or_else(|| {
                    let names: Vec<&str> = m.params.iter().map(|p| p.name.as_str()).collect();
                    RunError::new(
                        format!("`{}` has no tensor `{key}`", id.name),
                        span,
                        "no such parameter",
                    )
                    .help(format!("its tensors are: {}", names.join(", ")))
                })?;
                return ArrayD::from_shape_vec(IxDyn(&p.shape), p.data.clone())
                    .map(Value::Float)
                    .map_err(|e| RunError::new(e.to_string(), span, "here"));
            }
        }
        let v = self.eval(base)?;
        match v {
            Value::Bundle(mut m) => {
                let names: Vec<String> = m.keys().cloned().collect();
                m.remove(&field.name).ok_or_else(|| {
                    RunError::new(
                        format!("no array named `{}`", field.name),
                        field.span,
                        "not in this bundle",
                    )
                    .help(format!("it holds: {}", names.join(", ")))
                })
            }
            Value::Float(a) if field.name == "T" => Ok(Value::Float(
                a.reversed_axes().as_standard_layout().to_owned(),
            )),
            other => Err(RunError::new(
                format!("a {} has no field `{}`", other.type_name(), field.name),
                field.span,
                "no such field",
            )),
        }
    }
}

fn binary(op: BinOp, a: &ArrayD<f32>, b: &ArrayD<f32>, span: Span) -> RunResult<Value> {
    if value_shape::broadcast(a.shape(), b.shape()).is_none() {
        let verb = match op {
            BinOp::Add => "add",
            BinOp::Sub => "subtract",
            BinOp::Mul => "multiply",
            BinOp::Div => "divide",
        };
        return Err(RunError::new(
            value_shape::broadcast_message(verb, a.shape(), b.shape()),
            span,
            "shapes do not broadcast",
        )
        .help("sizes must be equal or 1 in each dimension (counting from the right)"));
    }
    let r = match op {
        BinOp::Add => a + b,
        BinOp::Sub => a - b,
        BinOp::Mul => a * b,
        BinOp::Div => a / b,
    };
    Ok(Value::Float(r))
}

pub(super) fn not_tensor(span: Span) -> RunError {
    RunError::new("expected a tensor", span, "not a tensor")
}

fn too_big(span: Span) -> RunError {
    RunError::new(
        "these sizes are too large (their product overflows)",
        span,
        "too large",
    )
}
