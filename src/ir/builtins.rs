//! The builtin functions (`ones(6x8)`) and tensor methods (`X.sum()`): one
//! table that the checker (arity and argument kinds), the REPL (completion,
//! highlighting, `:help`) and the evaluator (which function runs) all read.
//!
//! Adding one: a [`Function`] (or [`Method`]) variant, its entry in
//! [`BUILTINS`], and its function in `run/builtins.rs` (`run/methods.rs`),
//! whose dispatch `match` the compiler then asks to name it.

use super::error::{did_you_mean, CheckError};
use crate::syntax::ast::{Expr, ExprKind, Span};

/// A builtin function; the evaluator dispatches on this with one
/// exhaustive `match`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Function {
    Ones,
    Zeros,
    Full,
    Rand,
    Randn,
    Arange,
    Load,
    Corr2d,
    Split,
}

/// A tensor method, dispatched likewise.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Reshape,
    Sum,
    Mean,
    Max,
    Min,
    Float,
}

/// A function or a method.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Builtin {
    Function(Function),
    Method(Method),
}

/// How a builtin is called.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Form {
    /// `name(args)`
    Function,
    /// `tensor.name(args)`
    Method,
}

/// What an argument must be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArgKind {
    /// Sizes: a dims literal (`6x8`) or one non-negative integer.
    Dims,
    /// A new shape: a dims literal or one integer, `-1` inferred.
    Shape,
    /// One number.
    Number,
    /// A tensor (integer tensors convert to float).
    Tensor,
    /// A tensor or a bundle of named arrays.
    Value,
    /// A file name in quotes.
    Path,
}

impl ArgKind {
    /// The kind in words, for messages and `:help`.
    pub fn describe(self) -> &'static str {
        match self {
            ArgKind::Dims => "dims such as 6x8 or one size",
            ArgKind::Shape => "dims such as 2x3 or one size (-1 is inferred)",
            ArgKind::Number => "a number",
            ArgKind::Tensor => "a tensor",
            ArgKind::Value => "a tensor or a bundle",
            ArgKind::Path => "a file name in quotes",
        }
    }
}

/// One parameter; optional ones come last.
#[derive(Clone, Copy, Debug)]
pub struct Param {
    pub name: &'static str,
    pub kind: ArgKind,
    pub optional: bool,
}

const fn arg(name: &'static str, kind: ArgKind) -> Param {
    Param {
        name,
        kind,
        optional: false,
    }
}

const fn optional(name: &'static str, kind: ArgKind) -> Param {
    Param {
        name,
        kind,
        optional: true,
    }
}

/// A builtin's entry in the table.
#[derive(Debug)]
pub struct BuiltinSpec {
    pub id: Builtin,
    pub name: &'static str,
    pub params: &'static [Param],
    /// One line for `:help`.
    pub help: &'static str,
}

const fn function_spec(
    id: Function,
    name: &'static str,
    params: &'static [Param],
    help: &'static str,
) -> BuiltinSpec {
    BuiltinSpec {
        id: Builtin::Function(id),
        name,
        params,
        help,
    }
}

const fn method_spec(
    id: Method,
    name: &'static str,
    params: &'static [Param],
    help: &'static str,
) -> BuiltinSpec {
    BuiltinSpec {
        id: Builtin::Method(id),
        name,
        params,
        help,
    }
}

use ArgKind::{Dims, Number, Path, Shape, Tensor, Value};

/// Every builtin function and method.
pub const BUILTINS: &[BuiltinSpec] = &[
    function_spec(
        Function::Ones,
        "ones",
        &[arg("dims", Dims)],
        "a tensor of ones",
    ),
    function_spec(
        Function::Zeros,
        "zeros",
        &[arg("dims", Dims)],
        "a tensor of zeros",
    ),
    function_spec(
        Function::Full,
        "full",
        &[arg("dims", Dims), arg("value", Number)],
        "a tensor filled with one value",
    ),
    function_spec(
        Function::Rand,
        "rand",
        &[arg("dims", Dims)],
        "uniform random values in [0, 1), seeded",
    ),
    function_spec(
        Function::Randn,
        "randn",
        &[arg("dims", Dims)],
        "standard normal random values, seeded",
    ),
    function_spec(
        Function::Arange,
        "arange",
        &[
            arg("start", Number),
            optional("end", Number),
            optional("step", Number),
        ],
        "one number n: 0, 1, ..., n - 1; more: start, start + step, ... below end",
    ),
    function_spec(
        Function::Load,
        "load",
        &[arg("file", Path)],
        "read a .npy, .npz, .safetensors or .csv file",
    ),
    function_spec(
        Function::Corr2d,
        "corr2d",
        &[arg("x", Tensor), arg("kernel", Tensor)],
        "2-D cross-correlation of a 2-D tensor with a 2-D kernel",
    ),
    function_spec(
        Function::Split,
        "split",
        &[arg("data", Value), arg("fraction", Number)],
        "shuffle (seeded) and split along dim 0: let (a, b) = split(D, 0.8)",
    ),
    method_spec(
        Method::Reshape,
        "reshape",
        &[arg("shape", Shape)],
        "the same elements in a new shape",
    ),
    method_spec(Method::Sum, "sum", &[], "the sum of all elements"),
    method_spec(Method::Mean, "mean", &[], "the mean of all elements"),
    method_spec(Method::Max, "max", &[], "the largest element"),
    method_spec(Method::Min, "min", &[], "the smallest element"),
    method_spec(
        Method::Float,
        "float",
        &[],
        "the tensor as floats (integer labels convert)",
    ),
];

/// The builtins of one form, in table order.
pub fn of_form(form: Form) -> impl Iterator<Item = &'static BuiltinSpec> {
    BUILTINS.iter().filter(move |b| b.form() == form)
}

/// The function called `name`.
pub fn function(name: &str) -> Option<(&'static BuiltinSpec, Function)> {
    BUILTINS.iter().find_map(|b| match b.id {
        Builtin::Function(f) if b.name == name => Some((b, f)),
        _ => None,
    })
}

/// The method called `name`.
pub fn method(name: &str) -> Option<(&'static BuiltinSpec, Method)> {
    BUILTINS.iter().find_map(|b| match b.id {
        Builtin::Method(m) if b.name == name => Some((b, m)),
        _ => None,
    })
}

impl BuiltinSpec {
    /// A function or a method.
    pub fn form(&self) -> Form {
        match self.id {
            Builtin::Function(_) => Form::Function,
            Builtin::Method(_) => Form::Method,
        }
    }

    fn dot(&self) -> &'static str {
        match self.form() {
            Form::Function => "",
            Form::Method => ".",
        }
    }

    /// How it is written: `full(dims, value)`, `arange(start[, end[, step]])`, `.sum()`.
    pub fn signature(&self) -> String {
        let mut text = String::new();
        let mut open = 0;
        for (i, p) in self.params.iter().enumerate() {
            if p.optional {
                text.push('[');
                open += 1;
            }
            if i > 0 {
                text.push_str(", ");
            }
            text.push_str(p.name);
        }
        text.push_str(&"]".repeat(open));
        let dot = self.dot();
        format!("{dot}{}({text})", self.name)
    }

    /// What is wrong with `found` arguments, if anything.
    pub fn arity_message(&self, found: usize) -> Option<String> {
        let most = self.params.len();
        let least = self.params.iter().filter(|p| !p.optional).count();
        if (least..=most).contains(&found) {
            return None;
        }
        let takes = match (least, most) {
            (0, 0) => "no arguments".to_string(),
            (1, 1) => "1 argument".to_string(),
            (a, b) if a == b => format!("{a} arguments"),
            (a, b) => format!("{a} to {b} arguments"),
        };
        let dot = self.dot();
        Some(format!("`{dot}{}` takes {takes}, found {found}", self.name))
    }

    /// What is wrong with an argument written as a literal, if anything:
    /// a string where no file name goes, dims where no sizes go, or not a
    /// string where a file name goes.
    pub fn literal_message(&self, param: &Param, arg: &Expr) -> Option<String> {
        let (dot, name) = (self.dot(), self.name);
        let found = match (&arg.kind, param.kind) {
            (ExprKind::Str(_), Path) | (ExprKind::Dims(_), Dims | Shape) => return None,
            (ExprKind::Str(_), _) => "a string",
            (ExprKind::Dims(_), _) => "dims",
            (_, Path) => return Some(format!("`{dot}{name}` takes a file name in quotes")),
            _ => return None,
        };
        Some(format!(
            "`{}` of `{dot}{name}` must be {}, not {found}",
            param.name,
            param.kind.describe()
        ))
    }
}

/// Static checks of a builtin call: the number of arguments, and literals
/// that cannot stand where they are written.
pub fn check_call(spec: &BuiltinSpec, args: &[Expr], args_span: Span) -> Vec<CheckError> {
    if let Some(message) = spec.arity_message(args.len()) {
        return vec![CheckError::other(
            "builtin_arity",
            message,
            args_span,
            "wrong number of arguments",
            format!("{}: {}", spec.signature(), spec.help),
        )];
    }
    spec.params
        .iter()
        .zip(args)
        .filter_map(|(param, arg)| {
            let message = spec.literal_message(param, arg)?;
            Some(CheckError::other(
                "builtin_argument",
                message,
                arg.span,
                "not this kind of argument",
                format!("{}: {}", spec.signature(), spec.help),
            ))
        })
        .collect()
}

/// The error for a method that does not exist.
pub fn unknown_method(name: &str, span: Span) -> CheckError {
    let names: Vec<&str> = of_form(Form::Method).map(|b| b.name).collect();
    let help = match did_you_mean(name, names.iter().copied()) {
        Some(s) => format!("did you mean `.{s}`?"),
        None => format!(
            "tensors have {}",
            of_form(Form::Method)
                .map(|b| b.signature())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    CheckError::other(
        "unknown_method",
        format!("unknown method `.{name}`"),
        span,
        "no such method",
        help,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_per_form() {
        for (i, a) in BUILTINS.iter().enumerate() {
            for b in &BUILTINS[i + 1..] {
                assert!(a.id != b.id, "{:?} twice", a.id);
                assert!(a.name != b.name || a.form() != b.form(), "{} twice", a.name);
            }
        }
    }

    #[test]
    fn optional_parameters_come_last() {
        for b in BUILTINS {
            let first_optional = b.params.iter().position(|p| p.optional);
            if let Some(i) = first_optional {
                assert!(b.params[i..].iter().all(|p| p.optional), "{}", b.name);
            }
        }
    }

    #[test]
    fn signatures_and_arity_messages() {
        let (arange, _) = function("arange").expect("arange");
        assert_eq!(arange.signature(), "arange(start[, end[, step]])");
        assert_eq!(arange.arity_message(2), None);
        assert_eq!(
            arange.arity_message(4).as_deref(),
            Some("`arange` takes 1 to 3 arguments, found 4")
        );
        let (ones, _) = function("ones").expect("ones");
        assert_eq!(
            ones.arity_message(2).as_deref(),
            Some("`ones` takes 1 argument, found 2")
        );
        let (sum, _) = method("sum").expect("sum");
        assert_eq!(sum.signature(), ".sum()");
        assert_eq!(
            sum.arity_message(1).as_deref(),
            Some("`.sum` takes no arguments, found 1")
        );
        assert!(function("sum").is_none() && method("ones").is_none());
        assert!(function("tensor").is_none());
    }
}
