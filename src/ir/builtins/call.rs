//! A builtin call's arguments bound to its parameters as Python binds
//! them: positional ones in order (a repeated parameter takes the rest),
//! then named ones by name; a layer applied as a function also takes its
//! layer's arguments by name. The checker and the evaluator both bind
//! through here, so a call is judged the same way by both.

use super::{ArgKind, BuiltinSpec, Param};
use crate::ir::error::CheckError;
use crate::syntax::ast::{Expr, ExprKind, NamedArg, Span};

/// A call's arguments, bound.
#[derive(Debug)]
pub struct Bound<'a> {
    /// Per parameter (in table order): what was given for it.
    pub slots: Vec<Vec<&'a Expr>>,
    /// Named arguments meant for the layer of a layer function.
    pub layer_args: Vec<&'a NamedArg>,
}

impl<'a> Bound<'a> {
    /// The argument given for parameter `i`, if any.
    pub fn get(&self, i: usize) -> Option<&'a Expr> {
        self.slots.get(i).and_then(|s| s.first().copied())
    }

    /// Every argument given for parameter `i` (several for a repeated one).
    pub fn all(&self, i: usize) -> &[&'a Expr] {
        self.slots.get(i).map_or(&[], Vec::as_slice)
    }
}

fn error(
    code: &'static str,
    message: String,
    span: Span,
    label: &str,
    spec: &BuiltinSpec,
) -> CheckError {
    CheckError::other(
        code,
        message,
        span,
        label,
        format!("{}: {}", spec.signature(), spec.help),
    )
}

/// Bind `args` and `named` to `spec`'s parameters; every mistake is an error
/// at the argument that makes it.
pub fn bind<'a>(
    spec: &BuiltinSpec,
    args: &'a [Expr],
    named: &'a [NamedArg],
    args_span: Span,
) -> Result<Bound<'a>, Vec<CheckError>> {
    let shown = format!(
        "{}{}",
        if spec.form() == super::Form::Function {
            ""
        } else {
            "."
        },
        spec.name
    );
    if let Some(first) = named.first() {
        if let Some(late) = args.iter().find(|a| a.span.start > first.span.start) {
            return Err(vec![error(
                "builtin_argument",
                "a positional argument follows a named one".into(),
                late.span,
                "positional after named",
                spec,
            )]);
        }
    }
    if let Some(message) = spec.arity_message(args.len()).filter(|_| {
        // too many positional arguments, or too few with nothing named to make up
        args.len() > spec.params.len() || named.is_empty()
    }) {
        return Err(vec![error(
            "builtin_arity",
            message,
            args_span,
            "wrong number of arguments",
            spec,
        )]);
    }
    let mut slots: Vec<Vec<&Expr>> = vec![Vec::new(); spec.params.len()];
    for (i, a) in args.iter().enumerate() {
        let at = i.min(spec.params.len().saturating_sub(1));
        slots[at].push(a);
    }
    let mut errors = Vec::new();
    let mut layer_args = Vec::new();
    for n in named {
        if let Some(i) = spec.params.iter().position(|p| p.name == n.name.name) {
            match slots[i].first() {
                Some(given) => {
                    errors.push(CheckError::duplicate_arg(&n.name.name, n.span, given.span))
                }
                None => slots[i].push(&n.value),
            }
            continue;
        }
        if let Some(l) = &spec.layer {
            if let Some((_, source)) = l.from_data.iter().find(|(d, _)| *d == n.name.name) {
                errors.push(CheckError::other(
                    "builtin_argument",
                    format!("`{}` takes `{}` from {source}", spec.name, n.name.name),
                    n.name.span,
                    "not an argument here",
                    format!("{}: {}", spec.signature(), spec.help),
                ));
                continue;
            }
            if l.layer.arg(&n.name.name).is_some() {
                layer_args.push(n);
                continue;
            }
        }
        errors.push(CheckError::unknown_arg(
            &shown,
            &n.name.name,
            n.name.span,
            &accepted(spec),
        ));
    }
    for (i, p) in spec.params.iter().enumerate() {
        if !p.optional && slots[i].is_empty() {
            errors.push(CheckError::missing_arg(
                &shown,
                p.name,
                args_span,
                &spec.signature(),
            ));
        }
    }
    if errors.is_empty() {
        Ok(Bound { slots, layer_args })
    } else {
        Err(errors)
    }
}

/// The names a call may use: the parameters, and a layer function's layer arguments.
fn accepted(spec: &BuiltinSpec) -> Vec<&'static str> {
    let mut names: Vec<&'static str> = spec.params.iter().map(|p| p.name).collect();
    if let Some(l) = &spec.layer {
        names.extend(
            l.layer
                .args
                .iter()
                .map(|a| a.name)
                .filter(|n| !l.from_data.iter().any(|(d, _)| d == n)),
        );
    }
    names
}

/// Static checks of a builtin call: binding, and literals that cannot stand
/// where they are written.
pub fn check_call(
    spec: &BuiltinSpec,
    args: &[Expr],
    named: &[NamedArg],
    args_span: Span,
) -> Vec<CheckError> {
    let bound = match bind(spec, args, named, args_span) {
        Ok(b) => b,
        Err(e) => return e,
    };
    spec.params
        .iter()
        .enumerate()
        .flat_map(|(i, p)| bound.all(i).iter().map(move |a| (p, *a)))
        .filter_map(|(param, arg)| {
            let message = literal_message(spec, param, arg)?;
            Some(error(
                "builtin_argument",
                message,
                arg.span,
                "not this kind of argument",
                spec,
            ))
        })
        .collect()
}

/// What is wrong with an argument written as a literal, if anything: a
/// string where no file name goes, dims where no sizes go, a fraction where
/// an integer goes, a tensor list without brackets...
fn literal_message(spec: &BuiltinSpec, param: &Param, arg: &Expr) -> Option<String> {
    use ArgKind::*;
    let dot = if spec.form() == super::Form::Function {
        ""
    } else {
        "."
    };
    let name = spec.name;
    let must = |found: &str| {
        Some(format!(
            "`{}` of `{dot}{name}` must be {}, not {found}",
            param.name,
            param.kind.describe()
        ))
    };
    match (&arg.kind, param.kind) {
        (ExprKind::Str(s), Path) => {
            let holds = crate::io::Holds::Values;
            let e = crate::io::check_name(std::path::Path::new(&s.value), holds).err()?;
            Some(e.to_string())
        }
        (ExprKind::Dims(_), Dims | Shape) => None,
        (ExprKind::Number(n), Number) => number_rule(name, param.name, n.value, &n.text),
        (ExprKind::Str(_), _) => must("a string"),
        (ExprKind::Dims(_), _) => must("dims"),
        (_, Path) => Some(format!("`{dot}{name}` takes a file name in quotes")),
        (ExprKind::Number(n), Int) if n.as_int().is_none() => must(&n.text),
        (ExprKind::Number(n), Bool) => must(&n.text),
        (ExprKind::Name(id), Bool) if bool_word(&id.name).is_none() => {
            // a tensor or other name: only the words are booleans
            must(&format!("`{}`", id.name))
        }
        (ExprKind::List(_), Tensors) => None,
        (_, Tensors) => Some(format!(
            "`{dot}{name}` takes its tensors in brackets: {name}([A, B], dim=0)"
        )),
        _ => None,
    }
}

/// A number rule: which values a builtin's parameter takes, in words.
type NumberRule = (&'static str, &'static str, fn(f64) -> bool, &'static str);

/// Numbers a builtin parameter refuses whatever else is known.
const NUMBER_RULES: [NumberRule; 2] = [
    (
        "split",
        "fraction",
        |v| (0.0..=1.0).contains(&v),
        "in [0, 1]",
    ),
    ("arange", "step", |v| v != 0.0 && v.is_finite(), "non-zero"),
];

/// The error when `value` breaks the rule of `builtin`'s `param`: the
/// checker asks it of literals, the interpreter of every value.
pub fn number_rule(builtin: &str, param: &str, value: f64, text: &str) -> Option<String> {
    let (_, _, holds, must) = NUMBER_RULES
        .iter()
        .find(|(b, p, _, _)| *b == builtin && *p == param)?;
    (!holds(value)).then(|| format!("`{param}` of `{builtin}` must be {must}, found {text}"))
}

/// `true`/`false` (also Python's `True`/`False`) as a boolean.
pub fn bool_word(word: &str) -> Option<bool> {
    match word {
        "true" | "True" => Some(true),
        "false" | "False" => Some(false),
        _ => None,
    }
}
