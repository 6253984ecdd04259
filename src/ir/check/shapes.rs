//! The shapes of tensor expressions, where the checker can know them:
//! literals, constructors with literal sizes, names bound to known shapes,
//! indexing with literal indices, `.reshape`, `.T`, model parameters and
//! model outputs. A rule that fails on known shapes is an error here, before
//! anything runs (the rules are the interpreter's: `ir::value_shape`,
//! `ir::feed`). What cannot be known (files, computed indices) is `None`
//! and left to run time.

use super::Scope;
use crate::ir::builtins::{self, Function, Method};
use crate::ir::error::CheckError;
use crate::ir::feed;
use crate::ir::shape::Dim;
use crate::ir::value_shape::{self as rule, IndexSpec};
use crate::syntax::ast::*;

/// A known shape, or `None`.
pub(super) type Known = Option<Vec<usize>>;

/// The shape `e` evaluates to, when the checker can know it; shape errors
/// of the operations in `e` are pushed to `errs`.
pub(super) fn infer(scope: &Scope, e: &Expr, errs: &mut Vec<CheckError>) -> Known {
    match &e.kind {
        ExprKind::Number(_) => Some(vec![]),
        ExprKind::Str(_) | ExprKind::Dims(_) => None,
        ExprKind::List(items) => list(scope, items, errs),
        ExprKind::Name(id) => scope.shapes.get(&id.name).cloned(),
        ExprKind::Neg(inner) => infer(scope, inner, errs),
        ExprKind::Index { base, items } => {
            let shape = infer(scope, base, errs)?;
            index(&shape, items, errs)
        }
        ExprKind::Binary { op, lhs, rhs } => {
            let (a, b) = (infer(scope, lhs, errs), infer(scope, rhs, errs));
            let (a, b) = (a?, b?);
            let out = rule::broadcast(&a, &b);
            if out.is_none() {
                let verb = match op {
                    BinOp::Add => "add",
                    BinOp::Sub => "subtract",
                    BinOp::Mul => "multiply",
                    BinOp::Div => "divide",
                };
                errs.push(CheckError::other(
                    "broadcast",
                    rule::broadcast_message(verb, &a, &b),
                    e.span,
                    "shapes do not broadcast",
                    "sizes must be equal or 1 in each dimension (counting from the right)".into(),
                ));
            }
            out
        }
        ExprKind::Field { base, field } => {
            if let Some(shape) = param_shape(scope, e) {
                return Some(shape);
            }
            let inner = infer(scope, base, errs)?;
            (field.name == "T").then(|| inner.into_iter().rev().collect())
        }
        ExprKind::Call { callee, args, .. } => call(scope, e.span, callee, args, errs),
    }
}

/// `X[items] = value`: the value's shape must broadcast into the slice's.
pub(super) fn check_assign(slice: Known, value: Known, span: Span, errs: &mut Vec<CheckError>) {
    let (Some(slice), Some(value)) = (slice, value) else {
        return;
    };
    if !rule::broadcasts_to(&value, &slice) {
        errs.push(CheckError::other(
            "assign_shape",
            rule::assign_message(&value, &slice),
            span,
            "shapes differ",
            "the value must have the slice's shape, or broadcast to it (sizes 1 or equal, from the right)"
                .into(),
        ));
    }
}

/// `[[0, 1], [2, 3]]`: rectangular, or an error at the first odd element.
fn list(scope: &Scope, items: &[Expr], errs: &mut Vec<CheckError>) -> Known {
    let shapes: Vec<Known> = items.iter().map(|e| infer(scope, e, errs)).collect();
    let shapes: Vec<Vec<usize>> = shapes.into_iter().collect::<Option<_>>()?;
    let parts: Vec<&[usize]> = shapes.iter().map(Vec::as_slice).collect();
    match rule::list(&parts) {
        Ok(shape) => Some(shape),
        Err((i, message)) => {
            errs.push(CheckError::other(
                "ragged_list",
                message,
                items[i].span,
                "different length",
                "give every row the same number of elements".into(),
            ));
            None
        }
    }
}

/// An integer written as a literal (`2`, `-1`, `2.0`), as the interpreter reads it.
fn literal_int(e: &Expr) -> Option<i64> {
    match &e.kind {
        ExprKind::Number(n) if n.value.fract() == 0.0 && n.value.abs() < 1e15 => {
            Some(n.value as i64)
        }
        ExprKind::Neg(inner) => literal_int(inner).map(|v| -v),
        _ => None,
    }
}

/// `X[2]`, `X[:, 2:6]` with literal indices.
fn index(shape: &[usize], items: &[IndexItem], errs: &mut Vec<CheckError>) -> Known {
    let specs: Vec<IndexSpec> = items
        .iter()
        .map(|item| match item {
            IndexItem::Single(e) => literal_int(e).map(IndexSpec::Single),
            IndexItem::Slice {
                start, stop, step, ..
            } => {
                let bound = |e: &Option<Expr>| match e {
                    Some(e) => literal_int(e).map(Some),
                    None => Some(None),
                };
                Some(IndexSpec::Slice(
                    bound(start)?,
                    bound(stop)?,
                    bound(step)?.unwrap_or(1),
                ))
            }
        })
        .collect::<Option<_>>()?;
    match rule::index(shape, &specs) {
        Ok(picked) => Some(rule::indexed_shape(&picked)),
        Err(e) => {
            let span = match items.get(e.item) {
                Some(IndexItem::Single(x)) => x.span,
                Some(IndexItem::Slice { span, .. }) => *span,
                None => return None,
            };
            errs.push(CheckError::other(
                "index",
                e.message,
                span,
                e.label,
                format!("the tensor is {}", crate::value::dims_string(shape)),
            ));
            None
        }
    }
}

/// The shape of a model parameter `m.0.weight`, when `e` names one.
fn param_shape(scope: &Scope, e: &Expr) -> Known {
    let mut path = Vec::new();
    let mut root = e;
    while let ExprKind::Field { base, field } = &root.kind {
        path.push(field.name.as_str());
        root = base;
    }
    path.reverse();
    let ExprKind::Name(id) = &root.kind else {
        return None;
    };
    let model = scope.models.get(&id.name)?;
    let key = path.join(".");
    model
        .state_dict_shapes()
        .into_iter()
        .find(|(n, _)| *n == key)
        .map(|(_, s)| s)
}

fn call(
    scope: &Scope,
    span: Span,
    callee: &Expr,
    args: &[Expr],
    errs: &mut Vec<CheckError>,
) -> Known {
    match &callee.kind {
        ExprKind::Name(id) if scope.models.contains_key(&id.name) => {
            let x = infer(scope, args.first()?, errs)?;
            model_call(scope, &id.name, &x, span, errs)
        }
        ExprKind::Name(id) => {
            let (_, f) = builtins::function(&id.name)?;
            function(scope, f, args, span, errs)
        }
        ExprKind::Field { base, field } => {
            let x = infer(scope, base, errs);
            let (_, m) = builtins::method(&field.name)?;
            method(m, x?, args, errs)
        }
        _ => None,
    }
}

/// `m(X)` with X of known shape: X must fit the model's input type; the
/// output is the model's, with X's batch.
fn model_call(
    scope: &Scope,
    name: &str,
    x: &[usize],
    span: Span,
    errs: &mut Vec<CheckError>,
) -> Known {
    let model = scope.models.get(name)?;
    let x = match feed::input_shape(model, x) {
        Ok(x) => x,
        Err(e) => {
            errs.push(super::feed_error(e, span));
            return None;
        }
    };
    let batch = match model.input.0.first()? {
        Dim::Sym(s) => Some((s.as_str(), *x.first()?)),
        Dim::Known(_) => None,
    };
    model
        .output()
        .0
        .iter()
        .map(|d| match (d, batch) {
            (Dim::Known(n), _) => usize::try_from(*n).ok(),
            (Dim::Sym(s), Some((b, n))) if s == b => Some(n),
            _ => None,
        })
        .collect()
}

/// Sizes written as a literal: `6x8` or one integer; symbolic sizes are an error.
fn literal_dims(e: &Expr, errs: &mut Vec<CheckError>) -> Known {
    match &e.kind {
        ExprKind::Dims(d) => {
            let sizes: Result<Vec<usize>, _> = d.dims.iter().map(rule::tensor_size).collect();
            match sizes {
                Ok(s) => Some(s),
                Err((message, label, help)) => {
                    let help = help.unwrap_or("use smaller sizes").to_string();
                    errs.push(CheckError::other(
                        "tensor_size",
                        message,
                        d.span,
                        label,
                        help,
                    ));
                    None
                }
            }
        }
        _ => literal_int(e)
            .and_then(|n| usize::try_from(n).ok())
            .map(|n| vec![n]),
    }
}

fn function(
    scope: &Scope,
    f: Function,
    args: &[Expr],
    span: Span,
    errs: &mut Vec<CheckError>,
) -> Known {
    match f {
        Function::Ones | Function::Zeros | Function::Full | Function::Rand | Function::Randn => {
            literal_dims(args.first()?, errs)
        }
        Function::Arange => {
            let n: Vec<f64> = args
                .iter()
                .map(|e| literal_int(e).map(|v| v as f64))
                .collect::<Option<_>>()?;
            let (start, end, step) = match n[..] {
                [end] => (0.0, end, 1.0),
                [start, end] => (start, end, 1.0),
                [start, end, step] => (start, end, step),
                _ => return None,
            };
            (step != 0.0).then(|| vec![((end - start) / step).ceil().max(0.0) as usize])
        }
        Function::Corr2d => {
            let x = infer(scope, args.first()?, errs);
            let k = infer(scope, args.get(1)?, errs);
            match rule::corr2d(&x?, &k?) {
                Ok(shape) => Some(shape),
                Err((message, label)) => {
                    errs.push(CheckError::other(
                        "corr2d",
                        message,
                        span,
                        label,
                        "corr2d(X, K) takes a 2-D input and a 2-D kernel no larger than it".into(),
                    ));
                    None
                }
            }
        }
        Function::Load | Function::Split => None,
    }
}

fn method(m: Method, x: Vec<usize>, args: &[Expr], errs: &mut Vec<CheckError>) -> Known {
    match m {
        Method::Reshape => {
            let arg = args.first()?;
            let dims: Vec<i64> = match &arg.kind {
                ExprKind::Dims(_) => literal_dims(arg, errs)?
                    .into_iter()
                    .map(|d| d as i64)
                    .collect(),
                _ => vec![literal_int(arg)?],
            };
            let len = x.iter().try_fold(1usize, |a, d| a.checked_mul(*d))?;
            let out = rule::reshape(len, &dims);
            if out.is_none() {
                errs.push(CheckError::other(
                    "reshape",
                    rule::reshape_message(&crate::value::shape_words(&x), len, &dims),
                    arg.span,
                    "element counts differ",
                    "the new shape must hold the same number of elements".into(),
                ));
            }
            out
        }
        Method::Sum | Method::Mean | Method::Max | Method::Min => Some(vec![]),
        Method::Float => Some(x),
    }
}
