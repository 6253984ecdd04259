//! The abstract syntax tree: plain enums, every node with its byte span.
//!
//! No semantics live here: an unknown layer name or a wrong argument type is
//! still a valid AST; `crate::ir` rejects it with a diagnostic.

use std::fmt;

/// A byte range `[start, end)` into the script text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Self {
        Span { start, end }
    }
    /// The smallest span covering both.
    pub fn join(self, other: Span) -> Span {
        Span::new(self.start.min(other.start), self.end.max(other.end))
    }
    pub fn len(self) -> usize {
        self.end - self.start
    }
    pub fn is_empty(self) -> bool {
        self.end == self.start
    }
}

impl From<Span> for miette::SourceSpan {
    fn from(s: Span) -> Self {
        (s.start, s.len()).into()
    }
}

/// A name with its span.
#[derive(Clone, Debug, PartialEq)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

/// One element of a dims literal: `28` or `N`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum DimLit {
    Known(u64),
    Sym(String),
}

impl fmt::Display for DimLit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DimLit::Known(n) => write!(f, "{n}"),
            DimLit::Sym(s) => f.write_str(s),
        }
    }
}

/// A dims literal `Nx1x28x28`.
#[derive(Clone, Debug, PartialEq)]
pub struct Dims {
    pub dims: Vec<DimLit>,
    pub span: Span,
}

/// A whole script.
#[derive(Clone, Debug, PartialEq)]
pub struct Script {
    pub stmts: Vec<Stmt>,
}

/// One statement with its span.
#[derive(Clone, Debug, PartialEq)]
pub struct Stmt {
    pub kind: StmtKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum StmtKind {
    /// `let X = expr`
    Let { name: Ident, value: Expr },
    /// `let (a, b) = expr` — destructuring a tuple value such as `split(D, 0.8)`.
    LetTuple { names: Vec<Ident>, value: Expr },
    /// `m.0.weight = K`: copy a tensor into a model's parameter. `target`
    /// is the field chain `m.0.weight` (a `Field` expression rooted at a name).
    SetParam { target: Expr, value: Expr },
    /// `X[:, 2:6] = 0`
    Assign {
        target: Ident,
        index: Vec<IndexItem>,
        index_span: Span,
        value: Expr,
    },
    /// `print expr`
    Print(Expr),
    /// `save expr "file"` — a tensor, or a model's parameters when `expr` names a model.
    Save { value: Expr, path: StrLit },
    /// `load MODEL "file"`
    LoadModel { model: Ident, path: StrLit },
    /// `seed 7`
    Seed { value: Number },
    /// `model name(x: dims) { ... }` or `= chain`
    Model(ModelDecl),
    /// `shape [explain] dims -> layer -> ...`
    Shape {
        explain: bool,
        input: Dims,
        layers: Vec<LayerCall>,
    },
    /// `summary name`
    Summary { model: Ident },
    /// `data [role =] x -> y`; role is `train` (default) or `test`.
    Data {
        role: Option<Ident>,
        x: Expr,
        y: Expr,
    },
    /// `train [model] optimizer key=value...`
    Train {
        model: Option<Ident>,
        optimizer: Ident,
        options: Vec<KeyValue>,
    },
    /// `eval [model]`
    Eval { model: Option<Ident> },
    /// `plot ["file"]` — loss (and accuracy) curves of the last training;
    /// without a file only a notebook shows it.
    Plot { path: Option<StrLit> },
    /// `show expr ["file"]` — kernels or feature maps as a picture.
    Show { value: Expr, path: Option<StrLit> },
    /// `export MODEL "file.onnx"` — the model with its current weights as ONNX.
    Export { model: Ident, path: StrLit },
    /// `assert shape|params|rf MODEL == value`, checked without running anything.
    Assert {
        what: AssertWhat,
        model: Ident,
        value: Dims,
    },
}

/// What an `assert` statement compares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AssertWhat {
    /// The model's output shape: `assert shape m == Nx10`.
    Shape,
    /// The model's learnable parameter count: `assert params m == 61706`.
    Params,
    /// The receptive field of one output element: `assert rf m == 32x32`.
    Rf,
}

impl AssertWhat {
    /// The word as written after `assert`.
    pub fn word(self) -> &'static str {
        match self {
            AssertWhat::Shape => "shape",
            AssertWhat::Params => "params",
            AssertWhat::Rf => "rf",
        }
    }
}

/// A string literal with its span (the value without quotes, escapes resolved).
#[derive(Clone, Debug, PartialEq)]
pub struct StrLit {
    pub value: String,
    pub span: Span,
}

/// A number literal: the text as written, so `3` and `3.0` stay distinguishable.
#[derive(Clone, Debug, PartialEq)]
pub struct Number {
    pub text: String,
    pub value: f64,
    pub span: Span,
}

impl Number {
    /// The value as an integer, when the literal is written as one.
    pub fn as_int(&self) -> Option<i64> {
        if self.text.contains(['.', 'e', 'E']) {
            None
        } else {
            self.text.parse().ok()
        }
    }
}

/// `key=value` in a layer call or a `train` statement.
#[derive(Clone, Debug, PartialEq)]
pub struct KeyValue {
    pub key: Ident,
    pub value: ArgValue,
    pub span: Span,
}

/// The value of a `key=value` argument.
#[derive(Clone, Debug, PartialEq)]
pub enum ArgValue {
    Number(Number),
    /// `3x5`, also `3x` (an incomplete pair, kept so the checker can say so).
    Dims(Dims),
    /// A bare word: `same`, `valid`, `true`, `randn`, `sgd`...
    Word(Ident),
    Str(StrLit),
    /// Something that is none of the above, kept as text for the diagnostic.
    Bad {
        text: String,
        span: Span,
    },
}

impl ArgValue {
    pub fn span(&self) -> Span {
        match self {
            ArgValue::Number(n) => n.span,
            ArgValue::Dims(d) => d.span,
            ArgValue::Word(w) => w.span,
            ArgValue::Str(s) => s.span,
            ArgValue::Bad { span, .. } => *span,
        }
    }
}

/// A layer as written: `c1: conv(out=6, k=5)` or `relu`.
#[derive(Clone, Debug, PartialEq)]
pub struct LayerCall {
    pub label: Option<Ident>,
    pub name: Ident,
    /// `None` when written without parentheses.
    pub args: Option<Vec<KeyValue>>,
    pub span: Span,
}

/// `model name(x: dims) ...`
#[derive(Clone, Debug, PartialEq)]
pub struct ModelDecl {
    pub name: Ident,
    pub input_name: Ident,
    pub input: Dims,
    pub lines: Vec<ModelLine>,
    pub span: Span,
}

/// One line of a model block (or the whole `= chain` form, which is one line).
#[derive(Clone, Debug, PartialEq)]
pub struct ModelLine {
    /// `name =` when the line binds a node.
    pub bind: Option<Ident>,
    /// Where the line reads from: written only on binding lines.
    pub source: Option<Source>,
    pub layers: Vec<LayerCall>,
    pub span: Span,
}

/// The source of a binding line: `x`, `add(a, b)`, `concat(a, b, c)`.
#[derive(Clone, Debug, PartialEq)]
pub enum Source {
    Name(Ident),
    Merge {
        op: Ident,
        args: Vec<Ident>,
        span: Span,
    },
}

impl Source {
    pub fn span(&self) -> Span {
        match self {
            Source::Name(i) => i.span,
            Source::Merge { span, .. } => *span,
        }
    }
}

/// One item of an index: `0`, `1:3`, `:`, `::2`.
#[derive(Clone, Debug, PartialEq)]
pub enum IndexItem {
    Single(Expr),
    Slice {
        start: Option<Expr>,
        stop: Option<Expr>,
        step: Option<Expr>,
        span: Span,
    },
}

/// Binary operators on tensors and numbers: arithmetic, `@` (matmul) and
/// comparisons (which give bool tensors).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    /// `A @ B`, matrix product as `torch.matmul`.
    MatMul,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl BinOp {
    pub fn symbol(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::MatMul => "@",
            BinOp::Eq => "==",
            BinOp::Ne => "!=",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
        }
    }

    /// `== != < <= > >=`: the result is a bool tensor.
    pub fn is_comparison(self) -> bool {
        matches!(
            self,
            BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge
        )
    }
}

/// A named argument of a call: `dim=1`, `keepdim=true`, `k=2x3`.
#[derive(Clone, Debug, PartialEq)]
pub struct NamedArg {
    pub name: Ident,
    pub value: Expr,
    pub span: Span,
}

/// An expression with its span.
#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ExprKind {
    Number(Number),
    Str(StrLit),
    /// A dims literal where one can stand: `ones(6x8)`.
    Dims(Dims),
    /// `[[0, 1], [2, 3]]`
    List(Vec<Expr>),
    Name(Ident),
    /// `f(args)`: a builtin (`ones`, `corr2d`, `load`...), a layer applied
    /// as a function (`maxpool(X, k=2)`) or a model applied to a tensor.
    Call {
        callee: Box<Expr>,
        /// Positional arguments, in order.
        args: Vec<Expr>,
        /// Named arguments (`dim=1`, `k=2x3`), in order.
        named: Vec<NamedArg>,
        args_span: Span,
    },
    /// `X.reshape(D)`, `D.x`, `edge.0.weight`: the field may be a number.
    Field {
        base: Box<Expr>,
        field: Ident,
    },
    /// `X[0:100, 1]`
    Index {
        base: Box<Expr>,
        items: Vec<IndexItem>,
    },
    Neg(Box<Expr>),
    Binary {
        op: BinOp,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
}
