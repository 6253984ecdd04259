//! Python, NumPy and PyTorch habits in expressions, answered with the
//! cnnscript way to write them and the edit: `ones(6, 8)`, `ones([6, 8])`,
//! `torch.ones(6x8)`, `tensor([1, 2])`, `maxpool(X, 2)`.

use super::Scope;
use crate::ir::builtins::{self, ArgKind, BuiltinSpec, Form};
use crate::ir::error::CheckError;
use crate::syntax::ast::{Expr, ExprKind, Ident, Span};

/// A non-negative integer literal's text.
fn size(e: &Expr) -> Option<String> {
    match &e.kind {
        ExprKind::Number(n) if n.as_int().is_some_and(|v| v >= 0) => Some(n.text.clone()),
        _ => None,
    }
}

/// `ones(6, 8)`, `X.reshape(2, 3)`, `ones([6, 8])`: sizes written as
/// separate numbers or a list, where a dims literal goes.
pub(super) fn sizes_as_numbers(spec: &BuiltinSpec, args: &[Expr]) -> Option<CheckError> {
    let first = spec.params.first()?;
    if !matches!(first.kind, ArgKind::Dims | ArgKind::Shape) {
        return None;
    }
    let (parts, span, rest): (Vec<String>, Span, &[Expr]) = match args.first().map(|a| &a.kind) {
        Some(ExprKind::List(items)) if items.len() >= 2 => (
            items.iter().map(size).collect::<Option<_>>()?,
            args[0].span,
            &args[1..],
        ),
        _ if args.len() > spec.params.len() => {
            let k = args.len() + 1 - spec.params.len();
            let parts = args[..k].iter().map(size).collect::<Option<_>>()?;
            (parts, args[0].span.join(args[k - 1].span), &args[k..])
        }
        _ => return None,
    };
    let dims = parts.join("x");
    let dot = if spec.form() == Form::Method { "." } else { "" };
    // the call as it should read, when the other arguments are plain numbers
    let mut call = vec![dims.clone()];
    for a in rest {
        match &a.kind {
            ExprKind::Number(n) => call.push(n.text.clone()),
            _ => call.push("...".into()),
        }
    }
    Some(
        CheckError::other(
            "dims_argument",
            format!("`{dot}{}` takes its sizes as one dims literal", spec.name),
            span,
            "sizes written apart",
            format!(
                "write `{dot}{}({})`: sizes joined by `x`, no spaces",
                spec.name,
                call.join(", ")
            ),
        )
        .fix(span, dims),
    )
}

/// PyTorch's positional order of the arguments of `torch.nn.functional`'s
/// layer functions after the tensors (`F.max_pool2d(x, kernel_size,
/// stride, ...)`), as cnnscript names them.
const FUNCTIONAL_ORDER: [(&str, &[&str]); 4] = [
    ("conv2d", &["s", "p", "d", "groups"]),
    ("maxpool", &["k", "s", "p", "d", "ceil"]),
    ("avgpool", &["k", "s", "p", "ceil", "count_pad"]),
    ("dropout", &["p"]),
];

/// `maxpool(X, 2)`: a layer function's arguments after its tensors are named.
pub(super) fn positional_layer_args(spec: &BuiltinSpec, args: &[Expr]) -> Option<CheckError> {
    // a layer without arguments (`relu`) has only its arity to get wrong
    if spec.layer.as_ref()?.layer.args.is_empty() {
        return None;
    }
    let first = args.get(spec.params.len())?;
    let e = CheckError::other(
        "positional_argument",
        format!("`{}`'s layer arguments are named", spec.name),
        first.span,
        "positional argument",
        String::new(),
    );
    let text = match &first.kind {
        ExprKind::Number(n) => n.text.clone(),
        _ => "...".into(),
    };
    let order = FUNCTIONAL_ORDER.iter().find(|(f, _)| *f == spec.name);
    Some(match order.map(|(_, names)| names[0]) {
        Some(k) => e
            .help(format!("name it `{k}={text}`: {}", spec.signature()))
            .fix(
                Span::new(first.span.start, first.span.start),
                format!("{k}="),
            ),
        None => e.help(spec.signature()),
    })
}

/// `tensor([1, 2])`, `array(...)`: a list is already a tensor.
pub(super) fn tensor_constructor(callee: &Ident, args: &[Expr]) -> Option<CheckError> {
    if !CONSTRUCTORS.contains(&callee.name.as_str()) || args.len() != 1 {
        return None;
    }
    Some(constructor_error(&callee.name, &callee.name, callee.span))
}

/// Python's functions that make a tensor of a list.
const CONSTRUCTORS: [&str; 4] = ["tensor", "array", "as_tensor", "asarray"];

/// The error at `span`, the constructor as `written` (with any `torch.`),
/// whose fix leaves the parenthesized list.
fn constructor_error(name: &str, written: &str, span: Span) -> CheckError {
    CheckError::other(
        "tensor_constructor",
        format!("there is no `{name}(...)`: a list in brackets is already a tensor"),
        span,
        "not needed",
        format!("remove `{written}`: a list such as `[[1, -1]]` is a 1x2 tensor"),
    )
    .fix(span, "")
}

/// `X.max(dim=1).values`, `.indices`: PyTorch's named tuple. Here `max` and
/// `min` with `dim=` give the values, `argmax`/`argmin` the indices.
pub(super) fn values_field(base: &Expr, field: &Ident) -> Option<CheckError> {
    let ExprKind::Call { callee, .. } = &base.kind else {
        return None;
    };
    let ExprKind::Field { field: method, .. } = &callee.kind else {
        return None;
    };
    let reduction = method.name.as_str();
    if !["max", "min"].contains(&reduction) || !["values", "indices"].contains(&field.name.as_str())
    {
        return None;
    }
    let dot = Span::new(base.span.end, field.span.end);
    let e = CheckError::other(
        "values_field",
        format!(
            "`.{reduction}(dim=...)` gives the values themselves, with no `.{}`",
            field.name
        ),
        dot,
        "no such field",
        String::new(),
    );
    Some(match field.name.as_str() {
        "values" => e
            .help(format!("remove `.values`: `.{reduction}(dim=1)` is PyTorch's `.{reduction}(dim=1).values`"))
            .fix(dot, ""),
        _ => e.help(format!(
            "the indices are `.arg{reduction}(dim=...)`, as `.{reduction}(dim=...).indices` in PyTorch"
        )),
    })
}

/// Prefixes of the Python libraries whose functions users reach for.
const LIBRARIES: [&str; 5] = ["torch", "nn", "F", "np", "numpy"];

/// `torch.ones(6x8)`, `np.zeros(...)`: no library prefix in cnnscript.
pub(super) fn library_prefix(scope: &Scope, base: &Expr, field: &Ident) -> Option<CheckError> {
    let ExprKind::Name(lib) = &base.kind else {
        return None;
    };
    let defined = scope.tensors.contains(&lib.name) || scope.models.contains_key(&lib.name);
    if defined || !LIBRARIES.contains(&lib.name.as_str()) {
        return None;
    }
    if CONSTRUCTORS.contains(&field.name.as_str()) {
        let written = format!("{}.{}", lib.name, field.name);
        return Some(constructor_error(
            &field.name,
            &written,
            lib.span.join(field.span),
        ));
    }
    let prefix = Span::new(lib.span.start, field.span.start);
    let e = CheckError::other(
        "library_prefix",
        format!("there is no `{}.` here", lib.name),
        prefix,
        "not needed",
        String::new(),
    );
    Some(match builtins::function(&field.name) {
        Some(_) => e
            .help(format!(
                "builtins are called by their name alone: `{}(...)`",
                field.name
            ))
            .fix(prefix, ""),
        None => e.help(format!(
            "the builtins are: {}",
            builtins::of_form(Form::Function)
                .map(|b| b.name)
                .collect::<Vec<_>>()
                .join(", ")
        )),
    })
}
