//! Expressions: literals, names, fields, arithmetic and broadcasting. Calls
//! go on to `builtins.rs`, `methods.rs` and `apply.rs` (models), indexing
//! to `index.rs`.

use ndarray::{ArrayD, IxDyn};

use super::error::{RunError, RunResult};
use super::index::index_value;
use super::Interp;
use crate::ir::builtins::{self, Property};
use crate::syntax::ast::*;
use crate::value::{dims_string, shape_words, Value};

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
                named,
                args_span,
            } => return self.eval_call(callee, (args, named), *args_span, span),
            ExprKind::Field { base, field } => {
                return self.eval_field(base, field, span).map(Evaluated::Value)
            }
            ExprKind::Index { base, items } => {
                let v = self.eval(base)?;
                index_value(&v, &self.eval_index(items)?)?
            }
            ExprKind::Neg(e) => match self.eval(e)? {
                Value::Count(n) => Value::Count(-n),
                v => crate::tensor::elementwise::neg(v).map_err(|err| RunError::op(err, span))?,
            },
            ExprKind::Binary { op, lhs, rhs } => {
                let (a, b) = (self.eval(lhs)?, self.eval(rhs)?);
                // An integer literal beside a tensor is a Python int: it keeps
                // an integer tensor integer (`labels + 1`), as in PyTorch.
                let (a, b) = match (int_literal(lhs), int_literal(rhs)) {
                    (Some(n), None) => (int_scalar(n), b),
                    (None, Some(n)) => (a, int_scalar(n)),
                    _ => (a, b),
                };
                let result = match op {
                    BinOp::MatMul => crate::tensor::matmul::matmul(&a, &b),
                    _ => crate::tensor::elementwise::binary(*op, &a, &b),
                };
                result.map_err(|err| RunError::op(err, span))?
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
        let inner = parts[0].shape().to_vec();
        if let Some((i, p)) = parts
            .iter()
            .enumerate()
            .find(|(_, p)| p.shape() != inner.as_slice())
        {
            return Err(RunError::new(
                format!(
                    "a nested list must be rectangular: element 0 has shape {}, element {i} has {}",
                    shape_words(&inner),
                    shape_words(p.shape())
                ),
                items[i].span,
                "different length",
            ));
        }
        let mut shape = vec![items.len()];
        shape.extend_from_slice(&inner);
        let data: Vec<f32> = parts.iter().flat_map(|p| p.iter().copied()).collect();
        ArrayD::from_shape_vec(IxDyn(&shape), data)
            .map(Value::Float)
            .map_err(|e| RunError::new(e.to_string(), span, "here"))
    }

    fn eval_call(
        &mut self,
        callee: &Expr,
        (args, named): (&[Expr], &[NamedArg]),
        args_span: Span,
        span: Span,
    ) -> RunResult<Evaluated> {
        let model_call = match &callee.kind {
            ExprKind::Name(id) => self.models.contains_key(&id.name),
            ExprKind::Index { .. } => true,
            _ => false,
        };
        if let (true, Some(n)) = (model_call, named.first()) {
            return Err(RunError::new(
                "a model takes one tensor, without a name",
                n.span,
                "named argument",
            )
            .help("apply it as `m(X)`"));
        }
        match &callee.kind {
            ExprKind::Name(id) if self.models.contains_key(&id.name) => {
                self.call_model(&id.name, args, span)
            }
            ExprKind::Name(id) => match builtins::function(&id.name) {
                Some(f) => self.call_function(f, (args, named), args_span, span),
                None => Err(RunError::new(
                    format!("unknown function `{}`", id.name),
                    span,
                    "not a function",
                )),
            },
            ExprKind::Field { base, field } => {
                let Some(m) = builtins::method(&field.name) else {
                    return Err(RunError::from_check(builtins::unknown_method(
                        &field.name,
                        field.span,
                    )));
                };
                let v = self.eval(base)?;
                self.call_method(v, m, (args, named), args_span, span)
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
        let v = self.eval(e)?;
        value_int(&v, e.span)
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
                    crate::ir::value_shape::tensor_size(x).map_err(|(message, label, help)| {
                        let e = RunError::new(message, d.span, label);
                        match help {
                            Some(h) => e.help(h),
                            None => e,
                        }
                    })
                })
                .collect::<RunResult<Vec<usize>>>()?,
            _ => match self.eval(e)? {
                Value::Dims(d) => d,
                v => {
                    let n = value_int(&v, e.span)?;
                    if n < 0 {
                        return Err(RunError::new(
                            format!("a size cannot be negative ({n})"),
                            e.span,
                            "negative",
                        ));
                    }
                    vec![n as usize]
                }
            },
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
            _ => match self.eval(e)? {
                Value::Dims(d) => Ok(d.into_iter().map(|d| d as i64).collect()),
                v => Ok(vec![value_int(&v, e.span)?]),
            },
        }
    }

    /// Whether `e` is a model's parameter (`m.0.weight`), or a property of one.
    fn of_param(&self, e: &Expr) -> bool {
        let ExprKind::Field { base, field } = &e.kind else {
            return false;
        };
        let named = param_path(e).is_some_and(|(model, key)| {
            self.models
                .get(model)
                .is_some_and(|m| m.param(&key).is_some())
        });
        named || (builtins::property(&field.name).is_some() && self.of_param(base))
    }

    fn eval_field(&mut self, base: &Expr, field: &Ident, span: Span) -> RunResult<Value> {
        // `edge.0.weight.shape`: a property of a parameter
        if let Some((_, p)) = builtins::property(&field.name) {
            if self.of_param(base) {
                let v = self.eval(base)?;
                return property(v, p, span);
            }
        }
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
            v => match builtins::property(&field.name) {
                Some((_, p)) => property(v, p, span),
                None => {
                    let (message, help) = builtins::unknown_field(v.type_name(), &field.name);
                    Err(RunError::new(message, field.span, "no such field").help(help))
                }
            },
        }
    }
}

/// `X.T`, `X.shape`, `X.ndim`, `X.numel`.
/// `m.0.weight` as the model's name and the parameter's (`0.weight`), when
/// `e` is a chain of fields on a name.
fn param_path(e: &Expr) -> Option<(&str, String)> {
    let mut path = Vec::new();
    let mut root = e;
    while let ExprKind::Field { base, field } = &root.kind {
        path.push(field.name.as_str());
        root = base;
    }
    path.reverse();
    match &root.kind {
        ExprKind::Name(id) if !path.is_empty() => Some((id.name.as_str(), path.join("."))),
        _ => None,
    }
}

fn property(v: Value, p: Property, span: Span) -> RunResult<Value> {
    let Some(shape) = v.shape().map(<[usize]>::to_vec) else {
        return Err(RunError::new(
            format!("a {} has no `{}`", v.type_name(), p.name()),
            span,
            "not a tensor",
        ));
    };
    Ok(match p {
        Property::T => crate::tensor::layout::transpose(v).map_err(|e| RunError::op(e, span))?,
        Property::Shape => Value::Dims(shape),
        Property::Ndim => Value::Count(shape.len() as i64),
        Property::Numel => Value::Count(v.len() as i64),
    })
}

/// An integer literal (`3`, `-1`) as written, if `e` is one.
fn int_literal(e: &Expr) -> Option<i64> {
    match &e.kind {
        ExprKind::Number(n) => n.as_int(),
        ExprKind::Neg(inner) => int_literal(inner).map(|v| -v),
        _ => None,
    }
}

fn int_scalar(n: i64) -> Value {
    Value::Int(ArrayD::from_elem(IxDyn(&[]), n))
}

/// A value that must be one integer: a count, or a one-element tensor.
pub(super) fn value_int(v: &Value, span: Span) -> RunResult<i64> {
    let not_number = || RunError::new("expected a number", span, "not a number");
    let x = match v {
        Value::Count(n) => return Ok(*n),
        Value::Int(a) if a.len() == 1 => return a.iter().next().copied().ok_or_else(not_number),
        other => other.to_float().ok_or_else(not_number)?,
    };
    if x.len() != 1 {
        return Err(not_number());
    }
    let f = x.iter().next().copied().unwrap_or(0.0);
    if f.fract() != 0.0 || !f.is_finite() {
        return Err(RunError::new(
            format!("expected an integer, found {f}"),
            span,
            "not an integer",
        ));
    }
    Ok(f as i64)
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
