//! Typed layer arguments: a layer's table entry (names, types, typed
//! defaults, meaning) and the text of a lowered layer with its defaults left
//! out. Defaults are written once, in each module's [`LayerSpec`]: lowering
//! reads them through `call::Args`, reports through [`ArgsText`], `:help`
//! and completion through [`ArgSpec::default_text`].

use std::fmt;

use super::call::Args;
use super::tensors::Init;
use super::window::Pad4;
use super::{LayerInput, Lowered};
use crate::ir::error::CheckError;

/// The kind of value an argument takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArgType {
    /// A positive integer.
    Count,
    /// `3` or `3x5`, positive.
    Pair,
    /// `1`, `1x2`, `0`, `same` or `valid`.
    Padding,
    Bool,
    /// A real number.
    Real,
    /// One of `default`, `randn`, `zeros`, `ones`.
    Init,
}

impl ArgType {
    /// What a value of this type looks like, for error messages and `:help`.
    pub fn describe(self) -> &'static str {
        match self {
            ArgType::Count => "a positive integer",
            ArgType::Pair => "a positive integer or a pair such as 3x5",
            ArgType::Padding => "a padding: an integer, a pair such as 1x2, `same` or `valid`",
            ArgType::Bool => "`true` or `false`",
            ArgType::Real => "a number",
            ArgType::Init => "one of `default`, `randn`, `zeros`, `ones`",
        }
    }
}

/// Which real values an argument accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Range {
    Any,
    /// `[0, 1)`: a drop probability.
    Probability,
    /// More than zero.
    Positive,
    /// `[0, 1]`.
    Fraction,
}

/// Padding as written: explicit per side (`p=1x2` is 1 top and bottom, 2
/// left and right), `same` or `valid`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum PadSpec {
    Explicit(Pad4),
    Same,
    Valid,
}

/// A checked argument value; also the type of a default.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Val {
    Count(u64),
    Pair([u64; 2]),
    Pad(PadSpec),
    Bool(bool),
    Real(f64),
    Init(Init),
}

impl fmt::Display for Val {
    /// The value as a script writes it: `3`, `3x5`, `1+2x0+1`, `same`, `1e-5`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pair = |f: &mut fmt::Formatter<'_>, p: [u64; 2]| {
            if p[0] == p[1] {
                write!(f, "{}", p[0])
            } else {
                write!(f, "{}x{}", p[0], p[1])
            }
        };
        match self {
            Val::Count(n) => write!(f, "{n}"),
            Val::Pair(p) => pair(f, *p),
            Val::Pad(PadSpec::Explicit(p)) if p.top == p.bottom && p.left == p.right => {
                pair(f, [p.top, p.left])
            }
            Val::Pad(PadSpec::Explicit(p)) => {
                write!(f, "{}+{}x{}+{}", p.top, p.bottom, p.left, p.right)
            }
            Val::Pad(PadSpec::Same) => f.write_str("same"),
            Val::Pad(PadSpec::Valid) => f.write_str("valid"),
            Val::Bool(b) => write!(f, "{b}"),
            // small values as a script writes them (1e-5, not 0.00001)
            Val::Real(r) if *r != 0.0 && r.abs() < 1e-4 => write!(f, "{r:e}"),
            Val::Real(r) => write!(f, "{r}"),
            Val::Init(i) => f.write_str(i.name()),
        }
    }
}

/// What an omitted argument means.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ArgDefault {
    /// The call must give it.
    Required,
    /// Taken from the input (channels or features) when omitted.
    Inferred,
    Value(Val),
    /// The value of another argument (the pools' `s=k`).
    SameAs(&'static str),
}

impl ArgDefault {
    pub const fn count(n: u64) -> Self {
        ArgDefault::Value(Val::Count(n))
    }
    pub const fn pair(n: u64) -> Self {
        ArgDefault::Value(Val::Pair([n, n]))
    }
    pub const fn pad(n: u64) -> Self {
        ArgDefault::Value(Val::Pad(PadSpec::Explicit(Pad4 {
            top: n,
            bottom: n,
            left: n,
            right: n,
        })))
    }
    pub const fn flag(b: bool) -> Self {
        ArgDefault::Value(Val::Bool(b))
    }
    pub const fn real(r: f64) -> Self {
        ArgDefault::Value(Val::Real(r))
    }
    pub const fn init(i: Init) -> Self {
        ArgDefault::Value(Val::Init(i))
    }
}

/// One argument of a layer: its name, type, default and meaning.
#[derive(Clone, Copy, Debug)]
pub struct ArgSpec {
    pub name: &'static str,
    pub ty: ArgType,
    pub default: ArgDefault,
    pub help: &'static str,
    /// For `Real` arguments: the values allowed.
    pub range: Range,
}

impl ArgSpec {
    /// An argument accepting every value of its type.
    pub const fn new(
        name: &'static str,
        ty: ArgType,
        default: ArgDefault,
        help: &'static str,
    ) -> ArgSpec {
        ArgSpec {
            name,
            ty,
            default,
            help,
            range: Range::Any,
        }
    }
    /// The same argument, limited to `range`.
    pub const fn within(self, range: Range) -> ArgSpec {
        ArgSpec { range, ..self }
    }
    /// The default as a script writes it (`1`, `k`, `1e-5`), if there is one.
    pub fn default_text(&self) -> Option<String> {
        match self.default {
            ArgDefault::Required | ArgDefault::Inferred => None,
            ArgDefault::Value(v) => Some(v.to_string()),
            ArgDefault::SameAs(other) => Some(other.to_string()),
        }
    }
    /// `name=default`, or the bare name without a default (`:help`, hints).
    pub fn signature(&self) -> String {
        match self.default_text() {
            Some(d) => format!("{}={d}", self.name),
            None => self.name.to_string(),
        }
    }
}

/// How a layer reads a rank-2 or rank-3 model input (SPEC section 4): the
/// first layer whose rule is not `Any` decides whether it becomes rank 4.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InputRank {
    /// Elementwise, any rank: the next layer decides.
    Any,
    /// NCHW: an HxW or CxHxW input gains leading 1s.
    Image,
    /// Takes the input as it is (linear, flatten).
    AsIs,
    /// CxHxW is an image, NxC is not (batchnorm).
    ImageIfRank3,
}

/// Lowering: the checked arguments of a call and where it stands, to the
/// layer kind with its inferred facts.
pub type Lower = fn(&Args, &LayerInput) -> Result<Lowered, Vec<CheckError>>;

/// One layer name with its arguments: the table entry the checker, `:help`,
/// completion, reports and exporters read.
#[derive(Clone, Copy, Debug)]
pub struct LayerSpec {
    pub name: &'static str,
    pub args: &'static [ArgSpec],
    pub help: &'static str,
    /// A call shown when a required argument is missing.
    pub example: &'static str,
    pub input: InputRank,
    pub lower: Lower,
}

impl LayerSpec {
    /// The argument named `name`.
    pub fn arg(&self, name: &str) -> Option<&'static ArgSpec> {
        self.args.iter().find(|a| a.name == name)
    }
}

/// A lowered layer written back as a call (`conv(in=1, out=6, k=5)`),
/// leaving out each argument equal to its default in the table.
pub struct ArgsText {
    spec: &'static LayerSpec,
    written: Vec<(&'static str, Val)>,
    shown: Vec<String>,
}

impl ArgsText {
    pub fn new(spec: &'static LayerSpec) -> ArgsText {
        ArgsText {
            spec,
            written: Vec::new(),
            shown: Vec::new(),
        }
    }
    /// `name=value`, unless it equals the default (resolved against the
    /// values written before it, for `s=k`).
    pub fn arg(&mut self, name: &'static str, value: Val) -> &mut Self {
        let default = match self.spec.arg(name).map(|a| a.default) {
            Some(ArgDefault::Value(v)) => Some(v),
            Some(ArgDefault::SameAs(other)) => self
                .written
                .iter()
                .find(|(n, _)| *n == other)
                .map(|(_, v)| *v),
            Some(ArgDefault::Required | ArgDefault::Inferred) => None,
            None => {
                debug_assert!(false, "`{}` has no argument `{name}`", self.spec.name);
                None
            }
        };
        self.written.push((name, value));
        if default != Some(value) {
            self.shown.push(format!("{name}={value}"));
        }
        self
    }
    /// `name=value` even when it is the default.
    pub fn always(&mut self, name: &'static str, value: Val) -> &mut Self {
        self.written.push((name, value));
        self.shown.push(format!("{name}={value}"));
        self
    }
    pub fn count(&mut self, name: &'static str, n: u64) -> &mut Self {
        self.arg(name, Val::Count(n))
    }
    pub fn pair(&mut self, name: &'static str, p: [u64; 2]) -> &mut Self {
        self.arg(name, Val::Pair(p))
    }
    pub fn pad(&mut self, name: &'static str, p: Pad4) -> &mut Self {
        self.arg(name, Val::Pad(PadSpec::Explicit(p)))
    }
    pub fn flag(&mut self, name: &'static str, b: bool) -> &mut Self {
        self.arg(name, Val::Bool(b))
    }
    pub fn real(&mut self, name: &'static str, r: f64) -> &mut Self {
        self.arg(name, Val::Real(r))
    }
    /// `name(arg=..., ...)`, or the bare name when nothing is shown.
    pub fn finish(self) -> String {
        if self.shown.is_empty() {
            self.spec.name.to_string()
        } else {
            format!("{}({})", self.spec.name, self.shown.join(", "))
        }
    }
}
