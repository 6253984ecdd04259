//! Expressions in statements: every name they read must be defined before,
//! and builtin, method and model calls must fit their signatures.

use super::literal::{dims_overflow, number_overflow};
use super::{habits, Scope};
use crate::ir::builtins::{
    self, bool_word, check_call, unknown_method, ArgKind, BuiltinSpec, Form,
};
use crate::ir::error::CheckError;
use crate::ir::layer_fn;
use crate::syntax::ast::*;

/// A named argument whose value is a word, not a name to resolve: a layer
/// argument (`p=same`, `ceil=true`) or a boolean (`keepdim=true`).
fn is_word_value(callee: &Expr, n: &NamedArg) -> bool {
    let ExprKind::Name(word) = &n.value.kind else {
        return false;
    };
    let spec = match &callee.kind {
        ExprKind::Name(id) => builtins::function(&id.name).map(|(s, _)| s),
        ExprKind::Field { field, .. } => builtins::method(&field.name).map(|(s, _)| s),
        _ => None,
    };
    let Some(spec) = spec else {
        return false;
    };
    match spec.params.iter().find(|p| p.name == n.name.name) {
        Some(p) => p.kind == ArgKind::Bool && bool_word(&word.name).is_some(),
        None => spec.layer.is_some(),
    }
}

/// Resolve every name the index items read.
pub(super) fn check_index(scope: &Scope, items: &[IndexItem], errs: &mut Vec<CheckError>) {
    for item in items {
        match item {
            IndexItem::Single(e) => check_expr(scope, e, errs),
            IndexItem::Slice {
                start, stop, step, ..
            } => {
                for e in [start, stop, step].into_iter().flatten() {
                    check_expr(scope, e, errs);
                }
            }
        }
    }
}

/// Resolve every name an expression reads; builtin and model calls must
/// fit their signatures.
pub(super) fn check_expr(scope: &Scope, expr: &Expr, errs: &mut Vec<CheckError>) {
    match &expr.kind {
        ExprKind::Number(n) => errs.extend(number_overflow(n)),
        ExprKind::Dims(d) => errs.extend(dims_overflow(d)),
        ExprKind::Str(_) => {}
        ExprKind::List(items) => items.iter().for_each(|e| check_expr(scope, e, errs)),
        ExprKind::Name(id) => {
            if !scope.tensors.contains(&id.name)
                && !scope.models.contains_key(&id.name)
                && !scope.is_failed_model(&id.name)
            {
                errs.push(CheckError::unknown_name(
                    "name",
                    &id.name,
                    id.span,
                    &scope.known_names(),
                ));
            }
        }
        ExprKind::Call {
            callee,
            args,
            named,
            args_span,
        } => {
            check_call_expr(scope, callee, (args, named), *args_span, errs);
            args.iter().for_each(|a| check_expr(scope, a, errs));
            named
                .iter()
                .filter(|n| !is_word_value(callee, n))
                .for_each(|n| check_expr(scope, &n.value, errs));
        }
        ExprKind::Field { base, field }
            if builtins::property(&field.name).is_some() && of_param(scope, base) =>
        {
            // `edge.0.weight.shape`: a property of a known parameter
            check_expr(scope, base, errs)
        }
        ExprKind::Field { base, field } => {
            if let Some(e) = habits::values_field(base, field) {
                check_expr(scope, base, errs);
                errs.push(e);
                return;
            }
            // `edge.0.weight`: a parameter of a model is checked against its state dict
            let mut path = vec![field.name.as_str()];
            let mut root = base.as_ref();
            while let ExprKind::Field { base, field } = &root.kind {
                path.push(field.name.as_str());
                root = base.as_ref();
            }
            path.reverse();
            if let ExprKind::Name(id) = &root.kind {
                if let Some(model) = scope.models.get(&id.name) {
                    let key = path.join(".");
                    let names: Vec<String> = model
                        .state_dict_shapes()
                        .into_iter()
                        .map(|(n, _)| n)
                        .collect();
                    if !names
                        .iter()
                        .any(|n| *n == key || n.starts_with(&format!("{key}.")))
                    {
                        let mut e = CheckError::unknown_name(
                            &format!("parameter of `{}`", id.name),
                            &key,
                            expr.span,
                            &names,
                        );
                        // the span covers the whole `model.path`
                        if let Some(fix) = e.fix_edit_mut() {
                            fix.replacement = format!("{}.{}", id.name, fix.replacement);
                        }
                        errs.push(e);
                    }
                    return;
                }
            }
            check_expr(scope, root, errs);
            // a base whose shape is known is a tensor (a bundle's is not known)
            if builtins::property(&field.name).is_none()
                && super::shapes::infer(scope, base, &mut Vec::new()).is_some()
            {
                let (message, help) = builtins::unknown_field("tensor", &field.name);
                errs.push(CheckError::other(
                    "field",
                    message,
                    field.span,
                    "no such field",
                    help,
                ));
            }
        }
        ExprKind::Index { base, items } => {
            check_expr(scope, base, errs);
            check_index(scope, items, errs);
        }
        ExprKind::Neg(e) => check_expr(scope, e, errs),
        ExprKind::Binary { lhs, rhs, .. } => {
            check_expr(scope, lhs, errs);
            check_expr(scope, rhs, errs);
        }
    }
}

/// Whether `e` is a model's parameter (`m.0.weight`), or a property of one.
fn of_param(scope: &Scope, e: &Expr) -> bool {
    match &e.kind {
        ExprKind::Field { base, field } => {
            super::shapes::param_shape(scope, e).is_some()
                || (builtins::property(&field.name).is_some() && of_param(scope, base))
        }
        _ => false,
    }
}

/// The callee of a call: a model (one tensor), a builtin function or
/// method (arity and literal arguments, from the builtin table), or the
/// first layers of a model.
fn check_call_expr(
    scope: &Scope,
    callee: &Expr,
    (args, named): (&[Expr], &[NamedArg]),
    args_span: Span,
    errs: &mut Vec<CheckError>,
) {
    match &callee.kind {
        ExprKind::Name(id) if scope.models.contains_key(&id.name) => {
            check_model_call(args.len() + named.len(), args_span, errs)
        }
        // a model whose declaration failed: its errors are already reported
        ExprKind::Name(id) if scope.is_failed_model(&id.name) => {}
        ExprKind::Name(id) => match builtins::function(&id.name) {
            Some((spec, _)) => {
                check_builtin_call(spec, (args, named), args_span, callee.span, errs)
            }
            None => match habits::tensor_constructor(id, args) {
                Some(e) => errs.push(e),
                None => {
                    let mut known: Vec<String> = builtins::of_form(Form::Function)
                        .map(|b| b.name.to_string())
                        .collect();
                    known.extend(scope.model_order.iter().cloned());
                    errs.push(CheckError::unknown_name(
                        "function or model",
                        &id.name,
                        id.span,
                        &known,
                    ));
                }
            },
        },
        ExprKind::Field { base, field } => {
            if let Some(e) = habits::library_prefix(scope, base, field) {
                errs.push(e);
                return;
            }
            check_expr(scope, base, errs);
            match builtins::method(&field.name) {
                Some((spec, _)) => {
                    check_builtin_call(spec, (args, named), args_span, field.span, errs)
                }
                None => errs.push(unknown_method(&field.name, field.span)),
            }
        }
        ExprKind::Index { base, items } => {
            // `m[0:2](X)`: a slice of a model's layers
            if let ExprKind::Name(id) = &base.kind {
                if scope.models.get(&id.name).is_some_and(|m| m.is_graph) {
                    errs.push(CheckError::graph_slice(callee.span));
                }
            }
            check_expr(scope, base, errs);
            check_index(scope, items, errs);
            check_model_call(args.len() + named.len(), args_span, errs);
        }
        _ => check_expr(scope, callee, errs),
    }
}

/// A builtin call against its table entry (sizes written apart first), then
/// the layer arguments of a layer applied as a function.
fn check_builtin_call(
    spec: &BuiltinSpec,
    (args, named): (&[Expr], &[NamedArg]),
    args_span: Span,
    callee: Span,
    errs: &mut Vec<CheckError>,
) {
    let habit = habits::sizes_as_numbers(spec, args);
    if let Some(e) = habit.or_else(|| habits::positional_layer_args(spec, args)) {
        errs.push(e);
        return;
    }
    let found = check_call(spec, args, named, args_span);
    if found.is_empty() {
        if let Ok(bound) = builtins::bind(spec, args, named, args_span) {
            errs.extend(layer_fn::validate(spec, &bound.layer_args, callee));
        }
    }
    errs.extend(found);
}

/// A model (or the first layers of one) takes one tensor.
fn check_model_call(found: usize, span: Span, errs: &mut Vec<CheckError>) {
    if found != 1 {
        errs.push(CheckError::other(
            "model_arity",
            format!("a model takes one tensor, found {found} arguments"),
            span,
            "wrong number of arguments",
            "apply it to one tensor: `m(X)`".into(),
        ));
    }
}
