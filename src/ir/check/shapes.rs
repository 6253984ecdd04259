//! The shapes of tensor expressions, where the checker can know them:
//! literals, constructors with literal dims, names bound to known shapes,
//! model parameters, and every tensor operation on known shapes. A shape
//! rule that fails on known shapes is an error here, before anything runs
//! (the same rule the operation applies at run time, `crate::tensor::shape`).
//! Unknown shapes (files, model outputs with free sizes) are `None` and
//! checked at run time.

use super::Scope;
use crate::ir::builtins::{self, bool_word, Bound, BuiltinSpec, Function, Method, Property};
use crate::ir::error::CheckError;
use crate::ir::feed;
use crate::ir::layer_fn::{self, Operands, Spans};
use crate::ir::shape::Dim;
use crate::ir::value_shape::{self, IndexSpec};
use crate::syntax::ast::*;
use crate::tensor::reduce::reduced_shape;
use crate::tensor::shape as rule;

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
            let result = match op {
                BinOp::MatMul => rule::matmul(&a?, &b?),
                _ => rule::broadcast_for(op.symbol(), &a?, &b?),
            };
            report(result, e.span, errs)
        }
        ExprKind::Field { base, field } => field_shape(scope, e, base, field, errs),
        ExprKind::Call {
            callee,
            args,
            named,
            args_span,
        } => call(scope, e.span, callee, (args, named), *args_span, errs),
    }
}

fn report<T>(r: Result<T, rule::ShapeError>, span: Span, errs: &mut Vec<CheckError>) -> Option<T> {
    r.map_err(|e| errs.push(CheckError::shape(&e, span))).ok()
}

/// `X[items] = value`: the value's shape must broadcast into the slice's.
pub(super) fn check_assign(
    scope: &Scope,
    (target, items): (&Ident, &[IndexItem]),
    value: Known,
    span: Span,
    errs: &mut Vec<CheckError>,
) {
    let slice = infer(scope, &index_of(target, items), errs);
    let (Some(slice), Some(value)) = (slice, value) else {
        return;
    };
    if !value_shape::broadcasts_to(&value, &slice) {
        errs.push(CheckError::other(
            "assign_shape",
            value_shape::assign_message(&value, &slice),
            span,
            "shapes differ",
            "the value must have the slice's shape, or broadcast to it (sizes 1 or equal, from the right)"
                .into(),
        ));
    }
}

/// `X[items]` as an expression, for the shape of an assignment's slice.
fn index_of(target: &Ident, items: &[IndexItem]) -> Expr {
    let base = Expr {
        kind: ExprKind::Name(target.clone()),
        span: target.span,
    };
    Expr {
        kind: ExprKind::Index {
            base: Box::new(base),
            items: items.to_vec(),
        },
        span: target.span,
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
    match value_shape::index(shape, &specs) {
        Ok(picked) => Some(value_shape::indexed_shape(&picked)),
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

/// `[[0, 1], [2, 3]]`: rectangular, or an error at the first odd element.
fn list(scope: &Scope, items: &[Expr], errs: &mut Vec<CheckError>) -> Known {
    let shapes: Vec<Known> = items.iter().map(|e| infer(scope, e, errs)).collect();
    let first = shapes.first().cloned().unwrap_or(Some(vec![]))?;
    for (i, s) in shapes.iter().enumerate() {
        let s = s.as_ref()?;
        if *s != first {
            errs.push(CheckError::other(
                "ragged_list",
                format!(
                    "a nested list must be rectangular: element 0 has shape {}, element {i} has {}",
                    words(&first),
                    words(s)
                ),
                items[i].span,
                "different length",
                "give every row the same number of elements".into(),
            ));
            return None;
        }
    }
    let mut out = vec![items.len()];
    out.extend(first);
    Some(out)
}

/// `X.T`, `m.0.weight`; other fields are not tensors the checker knows.
fn field_shape(
    scope: &Scope,
    e: &Expr,
    base: &Expr,
    field: &Ident,
    errs: &mut Vec<CheckError>,
) -> Known {
    if let Some(shape) = param_shape(scope, e) {
        return Some(shape);
    }
    let inner = infer(scope, base, errs);
    match builtins::property(&field.name) {
        Some((_, Property::T)) => Some(rule::transpose(&inner?)),
        _ => None,
    }
}

/// The shape of a model parameter `m.0.weight`, when `e` names one.
pub(super) fn param_shape(scope: &Scope, e: &Expr) -> Known {
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
    (args, named): (&[Expr], &[NamedArg]),
    args_span: Span,
    errs: &mut Vec<CheckError>,
) -> Known {
    match &callee.kind {
        ExprKind::Name(id) if scope.models.contains_key(&id.name) => {
            let x = args.first().and_then(|a| infer(scope, a, errs));
            model_output(scope, &id.name, x, span, errs)
        }
        ExprKind::Name(id) => {
            let (spec, f) = builtins::function(&id.name)?;
            let bound = builtins::bind(spec, args, named, args_span).ok()?;
            function(scope, (spec, f), &bound, (span, callee.span), errs)
        }
        ExprKind::Field { base, field } => {
            let x = infer(scope, base, errs);
            let (spec, m) = builtins::method(&field.name)?;
            let bound = builtins::bind(spec, args, named, args_span).ok()?;
            method(m, x?, &bound, span, errs)
        }
        _ => None,
    }
}

/// A model's output on a tensor of known shape, which must fit the model's
/// input type: its declared output, the batch taken from the tensor.
fn model_output(
    scope: &Scope,
    name: &str,
    x: Known,
    span: Span,
    errs: &mut Vec<CheckError>,
) -> Known {
    let model = scope.models.get(name)?;
    let x = match feed::input_shape(model, &x?) {
        Ok(x) => x,
        Err(e) => {
            errs.push(super::train::feed_error(e, span));
            return None;
        }
    };
    let batch = match model.input.0.first()? {
        Dim::Sym(s) => Some((s.clone(), *x.first()?)),
        Dim::Known(_) => None,
    };
    model
        .output()
        .0
        .iter()
        .map(|d| match (d, &batch) {
            (Dim::Known(n), _) => Some(*n as usize),
            (Dim::Sym(s), Some((b, n))) if s == b => Some(*n),
            _ => None,
        })
        .collect()
}

/// An integer written as a literal (`1`, `-1`).
pub(crate) fn literal_int(e: &Expr) -> Option<i64> {
    match &e.kind {
        ExprKind::Number(n) => n.as_int(),
        ExprKind::Neg(inner) => literal_int(inner).map(|v| -v),
        _ => None,
    }
}

/// Sizes written as a literal: `6x8` or one integer.
fn literal_dims(e: &Expr) -> Option<Vec<usize>> {
    match &e.kind {
        ExprKind::Dims(d) => d
            .dims
            .iter()
            .map(|x| value_shape::tensor_size(x).ok())
            .collect(),
        _ => literal_int(e)
            .and_then(|n| usize::try_from(n).ok())
            .map(|n| vec![n]),
    }
}

/// A constructor's sizes: symbolic or too large sizes are an error.
fn constructor_dims(e: &Expr, errs: &mut Vec<CheckError>) -> Known {
    if let ExprKind::Dims(d) = &e.kind {
        if let Some(Err((message, label, help))) = d
            .dims
            .iter()
            .map(value_shape::tensor_size)
            .find(Result::is_err)
        {
            let help = help.unwrap_or("use smaller sizes").to_string();
            errs.push(CheckError::other(
                "tensor_size",
                message,
                d.span,
                label,
                help,
            ));
            return None;
        }
    }
    literal_dims(e)
}

fn function(
    scope: &Scope,
    (spec, f): (&BuiltinSpec, Function),
    bound: &Bound<'_>,
    (span, callee): (Span, Span),
    errs: &mut Vec<CheckError>,
) -> Known {
    let shape_of =
        |i: usize, errs: &mut Vec<CheckError>| bound.get(i).and_then(|e| infer(scope, e, errs));
    match f {
        Function::Ones | Function::Zeros | Function::Full | Function::Rand | Function::Randn => {
            constructor_dims(bound.get(0)?, errs)
        }
        Function::Arange => {
            let n: Vec<f64> = (0..3)
                .filter_map(|i| bound.get(i))
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
        Function::Load => None,
        Function::Split => {
            let x = shape_of(0, errs)?;
            if let Err((message, label)) = value_shape::split_rows(&x) {
                let help = "split(D, 0.8) shuffles the rows (dim 0) of a tensor or bundle";
                errs.push(CheckError::other(
                    "split",
                    message,
                    span,
                    label,
                    help.into(),
                ));
            }
            None
        }
        Function::Corr2d => {
            let (x, k) = (shape_of(0, errs)?, shape_of(1, errs)?);
            match value_shape::corr2d(&x, &k) {
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
        Function::Matmul => {
            let (a, b) = (shape_of(0, errs), shape_of(1, errs));
            report(rule::matmul(&a?, &b?), span, errs)
        }
        Function::Cat | Function::Stack => {
            let ExprKind::List(items) = &bound.get(0)?.kind else {
                return None;
            };
            let shapes: Vec<Known> = items.iter().map(|e| infer(scope, e, errs)).collect();
            let shapes: Vec<Vec<usize>> = shapes.into_iter().collect::<Option<_>>()?;
            let refs: Vec<&[usize]> = shapes.iter().map(Vec::as_slice).collect();
            let dim = match bound.get(1) {
                Some(e) => literal_int(e)?,
                None => 0,
            };
            let how = if f == Function::Cat {
                crate::tensor::join::Join::Cat
            } else {
                crate::tensor::join::Join::Stack
            };
            report(how.shape(&refs, dim), span, errs).map(|(s, _)| s)
        }
        Function::Layer | Function::Conv2d | Function::Linear => {
            let x = shape_of(0, errs);
            let weight = if f == Function::Layer {
                None
            } else {
                shape_of(1, errs)
            };
            let bias = if f == Function::Layer {
                None
            } else {
                shape_of(2, errs)
            };
            let x = x?;
            if f != Function::Layer && weight.is_none() {
                return None;
            }
            if f != Function::Layer && bound.get(2).is_some() && bias.is_none() {
                return None;
            }
            let dim = match bound.get(1).filter(|_| f == Function::Layer) {
                Some(e) => Some(literal_int(e)?),
                None => None,
            };
            let at = |i: usize| bound.get(i).map_or(span, |e| e.span);
            let spans = Spans {
                call: span,
                callee,
                x: at(0),
                weight: at(1),
                bias: at(2),
                dim: at(1),
            };
            let ops = Operands {
                x: &x,
                weight: weight.as_deref(),
                bias: bias.as_deref(),
                dim,
            };
            match layer_fn::plan(spec, f, &bound.layer_args, ops, spans) {
                Ok(plan) => Some(plan.out),
                Err(e) => {
                    errs.extend(e);
                    None
                }
            }
        }
    }
}

fn method(
    m: Method,
    x: Vec<usize>,
    bound: &Bound<'_>,
    span: Span,
    errs: &mut Vec<CheckError>,
) -> Known {
    let ints =
        |i: usize| -> Option<Vec<i64>> { bound.all(i).iter().map(|e| literal_int(e)).collect() };
    match m {
        Method::Reshape => {
            let arg = bound.get(0)?;
            let dims: Vec<i64> = match &arg.kind {
                ExprKind::Dims(_) => literal_dims(arg)?.into_iter().map(|d| d as i64).collect(),
                _ => vec![literal_int(arg)?],
            };
            reshape(&x, &dims, arg.span, errs)
        }
        Method::Sum
        | Method::Mean
        | Method::Max
        | Method::Min
        | Method::ArgMax
        | Method::ArgMin => {
            let dim = match bound.get(0) {
                Some(e) => Some(literal_int(e)?),
                None => None,
            };
            let keepdim = match bound.get(1) {
                Some(Expr {
                    kind: ExprKind::Name(id),
                    ..
                }) => bool_word(&id.name)?,
                Some(_) => return None,
                None => false,
            };
            let at = bound.get(0).map_or(span, |e| e.span);
            report(reduced_shape(&x, dim, keepdim), at, errs)
        }
        Method::Float => Some(x),
        Method::Flip => {
            let dims = ints(0)?;
            let at = bound.get(0).map_or(span, |e| e.span);
            report(rule::normalize_dims(&dims, x.len()), at, errs).map(|_| x)
        }
        Method::Permute => {
            let dims = ints(0)?;
            report(rule::permute(&x, &dims), span, errs).map(|(s, _)| s)
        }
        Method::Numel => None,
    }
}

/// `.reshape(D)` with literal sizes: the element counts must agree.
fn reshape(x: &[usize], dims: &[i64], span: Span, errs: &mut Vec<CheckError>) -> Known {
    let len = rule::numel(x)?;
    let mut out: Vec<usize> = Vec::with_capacity(dims.len());
    let known: i64 = dims.iter().filter(|d| **d >= 0).product();
    for &d in dims {
        out.push(if d < 0 {
            if known == 0 || len as i64 % known != 0 {
                return fail_reshape(x, dims, span, errs);
            }
            (len as i64 / known) as usize
        } else {
            d as usize
        });
    }
    if rule::numel(&out) != Some(len) {
        return fail_reshape(x, dims, span, errs);
    }
    Some(out)
}

fn fail_reshape(x: &[usize], dims: &[i64], span: Span, errs: &mut Vec<CheckError>) -> Known {
    let want: Vec<String> = dims.iter().map(|d| d.to_string()).collect();
    errs.push(CheckError::other(
        "reshape",
        format!(
            "cannot reshape {} ({} elements) to {}",
            words(x),
            rule::numel(x).unwrap_or(0),
            want.join("x")
        ),
        span,
        "element counts differ",
        "the new shape must hold the same number of elements".into(),
    ));
    None
}

fn words(d: &[usize]) -> String {
    if d.is_empty() {
        "a scalar".into()
    } else {
        crate::value::dims_string(d)
    }
}
