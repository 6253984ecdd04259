//! The builtin functions (`ones(6x8)`, `matmul(A, B)`, `maxpool(X, k=2)`),
//! tensor methods (`X.sum(dim=1)`) and properties (`X.shape`): one table
//! that the checker (arity, argument names and kinds), the REPL
//! (completion, highlighting, `:help`) and the evaluator (which function
//! runs) all read.
//!
//! Adding one: a [`Function`] (or [`Method`], [`Property`]) variant, its
//! entry in [`BUILTINS`], and its code in `run/builtins.rs`
//! (`run/methods.rs`), whose dispatch `match` the compiler then asks to
//! name it. Arguments bind as in Python (`call.rs`): positionally in order,
//! or by name.

mod call;

pub use call::{bind, bool_word, check_call, number_rule, Bound};

use super::error::{did_you_mean, CheckError};
use crate::layers::{specs, LayerSpec};
use crate::syntax::ast::Span;

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
    Matmul,
    Cat,
    Stack,
    /// A layer applied to a tensor; which one is the entry's `layer`.
    Layer,
    /// `conv2d(X, K[, B])`: conv with the kernel as data.
    Conv2d,
    /// `linear(X, W[, B])`: a linear map with the weight as data.
    Linear,
}

/// A tensor method, dispatched likewise.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Reshape,
    Sum,
    Mean,
    Max,
    Min,
    ArgMax,
    ArgMin,
    Float,
    Flip,
    Permute,
    Numel,
}

/// A tensor property, read without parentheses: `X.shape`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Property {
    T,
    Shape,
    Ndim,
    Numel,
}

impl Property {
    /// The name a script writes after the dot.
    pub fn name(self) -> &'static str {
        match self {
            Property::T => "T",
            Property::Shape => "shape",
            Property::Ndim => "ndim",
            Property::Numel => "numel",
        }
    }
}

/// A function, a method or a property.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Builtin {
    Function(Function),
    Method(Method),
    Property(Property),
}

/// How a builtin is called.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Form {
    /// `name(args)`
    Function,
    /// `tensor.name(args)`
    Method,
    /// `tensor.name`
    Property,
}

/// What an argument must be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArgKind {
    /// Sizes: a dims literal (`6x8`), a shape (`X.shape`) or one non-negative integer.
    Dims,
    /// A new shape: a dims literal, a shape or one integer, `-1` inferred.
    Shape,
    /// One number.
    Number,
    /// One integer, negative allowed (a dim counted from the end).
    Int,
    /// `true` or `false`.
    Bool,
    /// A tensor (integer tensors convert to float).
    Tensor,
    /// A list of tensors in brackets: `[A, B]`.
    Tensors,
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
            ArgKind::Int => "an integer",
            ArgKind::Bool => "`true` or `false`",
            ArgKind::Tensor => "a tensor",
            ArgKind::Tensors => "a list of tensors such as [A, B]",
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
    /// Takes every remaining positional argument (`permute(0, 2, 3, 1)`);
    /// given by name, it takes one.
    pub repeated: bool,
}

const fn arg(name: &'static str, kind: ArgKind) -> Param {
    Param {
        name,
        kind,
        optional: false,
        repeated: false,
    }
}

const fn optional(name: &'static str, kind: ArgKind) -> Param {
    Param {
        name,
        kind,
        optional: true,
        repeated: false,
    }
}

const fn rest(name: &'static str, kind: ArgKind) -> Param {
    Param {
        name,
        kind,
        optional: true,
        repeated: true,
    }
}

/// The named arguments a layer applied as a function takes from its layer's
/// table, less those that come from the data (a kernel's shape gives
/// `conv`'s `in`, `out` and `k`).
#[derive(Clone, Copy, Debug)]
pub struct LayerArgs {
    pub layer: &'static LayerSpec,
    /// Arguments the call may not name, and where they come from instead.
    pub from_data: &'static [(&'static str, &'static str)],
}

/// A builtin's entry in the table.
#[derive(Debug)]
pub struct BuiltinSpec {
    pub id: Builtin,
    pub name: &'static str,
    pub params: &'static [Param],
    /// For a layer applied as a function: the layer, whose arguments it also takes by name.
    pub layer: Option<LayerArgs>,
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
        layer: None,
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
        layer: None,
        help,
    }
}

const fn property_spec(id: Property, name: &'static str, help: &'static str) -> BuiltinSpec {
    BuiltinSpec {
        id: Builtin::Property(id),
        name,
        params: &[],
        layer: None,
        help,
    }
}

/// The one parameter of most layer functions.
const X: &[Param] = &[arg("x", Tensor)];

/// A layer applied to a tensor, taking the layer's arguments by name.
const fn layer_fn(layer: &'static LayerSpec, help: &'static str) -> BuiltinSpec {
    BuiltinSpec {
        id: Builtin::Function(Function::Layer),
        name: layer.name,
        params: X,
        layer: Some(LayerArgs {
            layer,
            from_data: &[],
        }),
        help,
    }
}

use ArgKind::{Bool, Dims, Int, Number, Path, Shape, Tensor, Tensors, Value};

/// The parameters of a reduction: `X.sum(dim=1, keepdim=true)`.
const REDUCE: &[Param] = &[optional("dim", Int), optional("keepdim", Bool)];

/// Every builtin function, method and property.
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
    function_spec(
        Function::Matmul,
        "matmul",
        &[arg("a", Tensor), arg("b", Tensor)],
        "matrix product as torch.matmul, batched on leading dims (also A @ B)",
    ),
    function_spec(
        Function::Cat,
        "cat",
        &[arg("tensors", Tensors), optional("dim", Int)],
        "join tensors along an existing dim (default 0): cat([A, B], dim=1)",
    ),
    function_spec(
        Function::Stack,
        "stack",
        &[arg("tensors", Tensors), optional("dim", Int)],
        "join equal-shaped tensors along a new dim (default 0): stack([A, B])",
    ),
    BuiltinSpec {
        id: Builtin::Function(Function::Conv2d),
        name: "conv2d",
        params: &[arg("x", Tensor), arg("weight", Tensor), optional("bias", Tensor)],
        layer: Some(LayerArgs {
            layer: &specs::CONV,
            from_data: &[
                ("in", "the kernel's second size (times groups)"),
                ("out", "the kernel's first size"),
                ("k", "the kernel's last two sizes"),
                ("bias", "whether a bias tensor is given"),
                ("init", "the kernel given"),
            ],
        }),
        help: "conv with the kernel as data (out x in x kh x kw, or kh x kw); s, p, d, groups, flip as conv",
    },
    BuiltinSpec {
        id: Builtin::Function(Function::Linear),
        name: "linear",
        params: &[arg("x", Tensor), arg("weight", Tensor), optional("bias", Tensor)],
        layer: None,
        help: "x @ weight.T + bias over the last dim (weight out x in), as F.linear",
    },
    layer_fn(&specs::MAXPOOL, "max pooling of a HxW, CxHxW or NxCxHxW tensor; k, s, p, d, ceil as the layer"),
    layer_fn(&specs::AVGPOOL, "average pooling of a HxW, CxHxW or NxCxHxW tensor; arguments as the layer"),
    layer_fn(&specs::GAP, "the mean of each channel's map (1x1 per channel)"),
    layer_fn(&specs::FLATTEN, "every dim after the first into one, as nn.Flatten"),
    layer_fn(&specs::RELU, "max(0, x), elementwise"),
    layer_fn(&specs::SIGMOID, "1 / (1 + exp(-x)), elementwise"),
    layer_fn(&specs::TANH, "hyperbolic tangent, elementwise"),
    BuiltinSpec {
        id: Builtin::Function(Function::Layer),
        name: "softmax",
        params: &[arg("x", Tensor), optional("dim", Int)],
        layer: Some(LayerArgs {
            layer: &specs::SOFTMAX,
            from_data: &[],
        }),
        help: "softmax over dim (default as F.softmax: 0 for 1-D and 3-D tensors, else 1)",
    },
    layer_fn(&specs::DROPOUT, "the identity: dropout drops only inside `train`"),
    layer_fn(
        &specs::BATCHNORM,
        "normalize each channel with the tensor's own batch statistics (weight 1, bias 0)",
    ),
    method_spec(
        Method::Reshape,
        "reshape",
        &[arg("shape", Shape)],
        "the same elements in a new shape",
    ),
    method_spec(Method::Sum, "sum", REDUCE, "the sum of all elements, or over dim"),
    method_spec(Method::Mean, "mean", REDUCE, "the mean of all elements, or over dim"),
    method_spec(Method::Max, "max", REDUCE, "the largest element, or the largest over dim"),
    method_spec(Method::Min, "min", REDUCE, "the smallest element, or the smallest over dim"),
    method_spec(
        Method::ArgMax,
        "argmax",
        REDUCE,
        "the index of the largest element (of the flattened tensor, or over dim)",
    ),
    method_spec(
        Method::ArgMin,
        "argmin",
        REDUCE,
        "the index of the smallest element (of the flattened tensor, or over dim)",
    ),
    method_spec(
        Method::Float,
        "float",
        &[],
        "the tensor as floats (integer and bool tensors convert)",
    ),
    method_spec(
        Method::Flip,
        "flip",
        &[rest("dim", Int)],
        "reverse the order along every dim, or along the dims given",
    ),
    method_spec(
        Method::Permute,
        "permute",
        &[rest("dims", Int)],
        "the dims in a new order: X.permute(0, 2, 3, 1)",
    ),
    method_spec(Method::Numel, "numel", &[], "the number of elements"),
    property_spec(Property::T, "T", "the transpose of a 2-D tensor (dims reversed)"),
    property_spec(Property::Shape, "shape", "the sizes, written as dims: 6x8"),
    property_spec(Property::Ndim, "ndim", "the number of dims"),
    property_spec(Property::Numel, "numel", "the number of elements"),
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

/// The property called `name`.
/// A field a value of `type_name` does not have: the message, and the help
/// (a method written without its call, or the properties there are). One
/// wording for the checker and the interpreter.
pub fn unknown_field(type_name: &str, field: &str) -> (String, String) {
    let message = format!("a {type_name} has no field `{field}`");
    let help = match method(field) {
        Some((m, _)) => format!("`{field}` is a method: write {}", m.signature()),
        None => format!(
            "tensors have {}",
            of_form(Form::Property)
                .map(|b| b.signature())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    (message, help)
}

pub fn property(name: &str) -> Option<(&'static BuiltinSpec, Property)> {
    BUILTINS.iter().find_map(|b| match b.id {
        Builtin::Property(p) if b.name == name => Some((b, p)),
        _ => None,
    })
}

impl BuiltinSpec {
    /// A function or a method.
    pub fn form(&self) -> Form {
        match self.id {
            Builtin::Function(_) => Form::Function,
            Builtin::Method(_) => Form::Method,
            Builtin::Property(_) => Form::Property,
        }
    }

    fn dot(&self) -> &'static str {
        match self.form() {
            Form::Function => "",
            Form::Method | Form::Property => ".",
        }
    }

    /// How it is written: `full(dims, value)`, `arange(start[, end[, step]])`,
    /// `.sum([dim][, keepdim])`, `.permute(dims...)`, `maxpool(x, k=...)`, `.shape`.
    pub fn signature(&self) -> String {
        let dot = self.dot();
        if self.form() == Form::Property {
            return format!("{dot}{}", self.name);
        }
        let mut text = String::new();
        let mut open = 0;
        for (i, p) in self.params.iter().enumerate() {
            let comma = if i > 0 { ", " } else { "" };
            if p.repeated {
                text.push_str(&format!("{comma}{}...", p.name));
            } else if p.optional {
                text.push_str(&format!("[{comma}{}", p.name));
                open += 1;
            } else {
                text.push_str(&format!("{comma}{}", p.name));
            }
        }
        text.push_str(&"]".repeat(open));
        if let Some(l) = &self.layer {
            let names: Vec<&str> = l
                .layer
                .args
                .iter()
                .map(|a| a.name)
                .filter(|n| !l.from_data.iter().any(|(d, _)| d == n))
                .collect();
            if !names.is_empty() {
                text.push_str(&format!(", {}=", names.join("=, ")));
            }
        }
        format!("{dot}{}({text})", self.name)
    }

    /// What is wrong with `found` positional arguments, if anything.
    pub fn arity_message(&self, found: usize) -> Option<String> {
        let repeated = self.params.iter().any(|p| p.repeated);
        let most = if repeated {
            usize::MAX
        } else {
            self.params.len()
        };
        let least = self.params.iter().filter(|p| !p.optional).count();
        if (least..=most).contains(&found) {
            return None;
        }
        let takes = match (least, most) {
            (0, 0) => "no arguments".to_string(),
            (1, 1) => "1 argument".to_string(),
            (a, usize::MAX) => format!("at least {a} argument{}", if a == 1 { "" } else { "s" }),
            (a, b) if a == b => format!("{a} arguments"),
            (a, b) => format!("{a} to {b} arguments"),
        };
        let dot = self.dot();
        Some(format!("`{dot}{}` takes {takes}, found {found}", self.name))
    }
}

/// The error for a method that does not exist.
pub fn unknown_method(name: &str, span: Span) -> CheckError {
    let names: Vec<&str> = of_form(Form::Method).map(|b| b.name).collect();
    let help = match did_you_mean(name, names.iter().copied()) {
        Some(s) => format!("did you mean `.{s}`?"),
        None => format!(
            "tensors have {}",
            of_form(Form::Method)
                .chain(of_form(Form::Property))
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
                let layer_fns = a.id == Builtin::Function(Function::Layer) && a.id == b.id;
                assert!(a.id != b.id || layer_fns, "{:?} twice", a.id);
                assert!(a.name != b.name || a.form() != b.form(), "{} twice", a.name);
            }
        }
    }

    /// Every layer can be applied as a function: by its own name, or (conv,
    /// whose kernel is data) as conv2d.
    #[test]
    fn every_layer_is_a_function() {
        for layer in crate::layers::LAYERS {
            let name = if layer.name == "conv" {
                "conv2d"
            } else {
                layer.name
            };
            let (spec, _) = function(name).unwrap_or_else(|| panic!("{name}"));
            match spec.id {
                Builtin::Function(Function::Layer) => {
                    assert_eq!(spec.layer.map(|l| l.layer.name), Some(layer.name))
                }
                Builtin::Function(Function::Conv2d | Function::Linear) => {}
                other => panic!("{name} is {other:?}"),
            }
            assert!(spec.params.iter().any(|p| p.name == "x"), "{name}");
        }
    }

    #[test]
    fn repeated_parameters_come_last() {
        for b in BUILTINS {
            if let Some(i) = b.params.iter().position(|p| p.repeated) {
                assert_eq!(i, b.params.len() - 1, "{}", b.name);
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
        assert_eq!(sum.signature(), ".sum([dim[, keepdim]])");
        assert_eq!(
            sum.arity_message(3).as_deref(),
            Some("`.sum` takes 0 to 2 arguments, found 3")
        );
        let (permute, _) = method("permute").expect("permute");
        assert_eq!(permute.signature(), ".permute(dims...)");
        assert_eq!(permute.arity_message(7), None);
        let (maxpool, _) = function("maxpool").expect("maxpool");
        assert_eq!(maxpool.signature(), "maxpool(x, k=, s=, p=, d=, ceil=)");
        let (conv2d, _) = function("conv2d").expect("conv2d");
        assert_eq!(
            conv2d.signature(),
            "conv2d(x, weight[, bias], s=, p=, d=, groups=, flip=)"
        );
        let (shape, _) = property("shape").expect("shape");
        assert_eq!(shape.signature(), ".shape");
        assert!(function("sum").is_none() && method("ones").is_none());
        assert!(function("tensor").is_none());
    }
}
