//! Checker diagnostics. Each constructor takes the facts (spans, shapes,
//! sizes) and derives the message, the label and the help line from them.

use miette::{Diagnostic, LabeledSpan, Severity};
use thiserror::Error;

use super::shape::Shape;
use crate::diag::Fix;
use crate::syntax::ast::Span;

/// A static error (or warning) found by the checker.
#[derive(Debug, Error, Clone, PartialEq)]
#[error("{message}")]
pub struct CheckError {
    pub code: &'static str,
    pub message: String,
    pub span: Span,
    pub label: String,
    pub help: Option<Box<str>>,
    /// Related places and the fix, which most errors lack: boxed, because
    /// errors travel in `Result`s.
    extra: Option<Box<Extra>>,
    pub warning: bool,
}

#[derive(Debug, Clone, PartialEq, Default)]
struct Extra {
    /// Other places worth pointing at (the first binding of a name bound twice...).
    related: Vec<(Span, String)>,
    /// The edit the help line describes, when there is exactly one.
    fix: Option<Fix>,
}

impl Diagnostic for CheckError {
    fn code<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        Some(Box::new(format!("cnnscript::{}", self.code)))
    }
    fn severity(&self) -> Option<Severity> {
        Some(if self.warning {
            Severity::Warning
        } else {
            Severity::Error
        })
    }
    fn help<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        self.help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn std::fmt::Display>)
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let primary = LabeledSpan::new_primary_with_span(Some(self.label.clone()), self.span);
        let rest = self
            .related_spans()
            .iter()
            .map(|(s, l)| LabeledSpan::new_with_span(Some(l.clone()), *s));
        Some(Box::new(std::iter::once(primary).chain(rest)))
    }
}

impl CheckError {
    fn new(code: &'static str, message: String, span: Span, label: impl Into<String>) -> Self {
        CheckError {
            code,
            message,
            span,
            label: label.into(),
            help: None,
            extra: None,
            warning: false,
        }
    }
    /// Other places the diagnostic points at, with their labels.
    pub fn related_spans(&self) -> &[(Span, String)] {
        self.extra.as_ref().map_or(&[], |e| &e.related)
    }
    /// The edit the help line describes, when there is one.
    pub fn fix_edit(&self) -> Option<&Fix> {
        self.extra.as_ref().and_then(|e| e.fix.as_ref())
    }
    /// The fix's replacement text, to adjust where only the caller knows it.
    pub(crate) fn fix_edit_mut(&mut self) -> Option<&mut Fix> {
        self.extra.as_mut().and_then(|e| e.fix.as_mut())
    }
    pub(crate) fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into().into_boxed_str());
        self
    }
    pub(crate) fn fix(mut self, span: Span, replacement: impl Into<String>) -> Self {
        self.extra.get_or_insert_default().fix = Some(Fix::new(span, replacement));
        self
    }
    pub(crate) fn related(mut self, span: Span, label: impl Into<String>) -> Self {
        self.extra
            .get_or_insert_default()
            .related
            .push((span, label.into()));
        self
    }

    pub fn unknown_layer(name: &str, span: Span, known: &[&str]) -> Self {
        let e = CheckError::new(
            "unknown_layer",
            format!("unknown layer `{name}`"),
            span,
            "not a layer",
        );
        if crate::syntax::keywords::starts_statement(name) {
            return e.help(format!(
                "`{name}` starts a statement, but the line above ends in `->`, so this line continues its layers: remove the trailing `->`"
            ));
        }
        if let Some((_, ours)) = PYTORCH_LAYERS
            .iter()
            .find(|(torch, _)| torch.eq_ignore_ascii_case(name))
        {
            return e
                .help(format!(
                    "`{name}` is PyTorch's name; here the layer is `{ours}`"
                ))
                .fix(span, *ours);
        }
        match did_you_mean(name, known.iter().copied()) {
            Some(s) => e.help(format!("did you mean `{s}`?")).fix(span, s),
            None => e.help(format!("the layers are: {}", known.join(", "))),
        }
    }

    pub fn unknown_arg(layer: &str, arg: &str, span: Span, valid: &[&str]) -> Self {
        let e = CheckError::new(
            "unknown_argument",
            format!("`{layer}` has no argument `{arg}`"),
            span,
            "unknown argument",
        );
        let list = if valid.is_empty() {
            format!("`{layer}` takes no arguments")
        } else {
            format!("`{layer}` takes: {}", valid.join(", "))
        };
        let pytorch = PYTORCH_ARGS
            .iter()
            .find(|(torch, ours)| *torch == arg && valid.contains(ours))
            .map(|(_, ours)| ours.to_string());
        match did_you_mean(arg, valid.iter().copied()).or(pytorch) {
            Some(s) => e.help(format!("did you mean `{s}`? {list}")).fix(span, s),
            None => e.help(list),
        }
    }

    pub fn duplicate_arg(arg: &str, span: Span, first: Span) -> Self {
        CheckError::new(
            "duplicate_argument",
            format!("argument `{arg}` is given twice"),
            span,
            "given again here",
        )
        .related(first, "first given here")
        .help("remove one of them")
    }

    pub fn missing_arg(layer: &str, arg: &str, span: Span, example: &str) -> Self {
        CheckError::new(
            "missing_argument",
            format!("`{layer}` needs `{arg}`"),
            span,
            format!("`{arg}` is missing"),
        )
        .help(format!("for example `{example}`"))
    }

    pub fn arg_type(layer: &str, arg: &str, expected: &str, found: &str, span: Span) -> Self {
        let e = CheckError::new(
            "argument_type",
            format!("`{arg}` of `{layer}` must be {expected}, found `{found}`"),
            span,
            format!("expected {expected}"),
        );
        // Python's `False`, a quoted `"same"`: the word meant
        let word = found.trim_matches('"').to_ascii_lowercase();
        if word != found && expected.contains(&format!("`{word}`")) {
            return e.help(format!("write `{arg}={word}`")).fix(span, word);
        }
        e
    }

    pub fn bad_value(what: String, span: Span, label: &str, help: String) -> Self {
        CheckError::new("bad_value", what, span, label).help(help)
    }

    /// `unit` is what `arg` counts: channels or features.
    pub fn in_channels(
        layer: &str,
        arg: &str,
        unit: &str,
        declared: u64,
        incoming: u64,
        shape: &Shape,
        span: Span,
    ) -> Self {
        CheckError::new(
            "in_mismatch",
            format!("`{layer}` declares {arg}={declared}, but its input has {incoming} {unit}"),
            span,
            format!("{arg}={declared} here, the input is {shape}"),
        )
        .help(format!(
            "write {arg}={incoming}, or leave `{arg}` out to infer it"
        ))
        .fix(span, incoming.to_string())
    }

    pub fn groups(in_ch: u64, out_ch: u64, groups: u64, span: Span) -> Self {
        let bad = if !in_ch.is_multiple_of(groups) {
            format!("{in_ch} input channels")
        } else {
            format!("{out_ch} output channels")
        };
        let divisors: Vec<String> = (1..=in_ch.min(out_ch).min(64))
            .filter(|g| in_ch.is_multiple_of(*g) && out_ch.is_multiple_of(*g))
            .map(|g| g.to_string())
            .collect();
        CheckError::new(
            "groups",
            format!("groups={groups} does not divide the {bad}"),
            span,
            format!("{in_ch} in, {out_ch} out, groups={groups}"),
        )
        .help(format!(
            "groups must divide both channel counts; here it can be {}",
            divisors.join(", ")
        ))
    }

    #[allow(clippy::too_many_arguments)]
    pub fn kernel_too_big(
        layer: &str,
        dim: &str,
        input: u64,
        kernel: u64,
        dilation: u64,
        pad: (u64, u64),
        fix: Option<u64>,
        span: Span,
    ) -> Self {
        let k_eff = dilation
            .saturating_mul(kernel.saturating_sub(1))
            .saturating_add(1);
        let padded = input.saturating_add(pad.0).saturating_add(pad.1);
        let kdesc = if dilation > 1 {
            format!("kernel {kernel} with dilation {dilation} spans {k_eff}")
        } else {
            format!("kernel is {kernel}")
        };
        let e = CheckError::new(
            "kernel_too_big",
            format!(
                "`{layer}` kernel does not fit: the input {dim} is {input}, {padded} after padding {}+{}, but the {kdesc}",
                pad.0, pad.1
            ),
            span,
            format!("{dim}: input {input}, padding {}+{}, {kdesc}", pad.0, pad.1),
        );
        match fix {
            Some(p) => e.help(format!(
                "pad by at least {p} per side (p={p}), or use a smaller kernel or dilation"
            )),
            None => e.help("use a smaller kernel or dilation, or a larger input"),
        }
    }

    pub fn pool_padding(dim: &str, pad: u64, kernel: u64, span: Span) -> Self {
        CheckError::new(
            "pool_padding",
            format!("pool padding {pad} is more than half the kernel {kernel} ({dim})"),
            span,
            format!("padding {pad} > {kernel}/2"),
        )
        .help(format!(
            "PyTorch requires p <= k/2 for pooling: use p={} or less here",
            kernel / 2
        ))
    }

    pub fn rank(layer: &str, needs: &str, shape: &Shape, after_flatten: bool, span: Span) -> Self {
        let e = CheckError::new(
            "rank",
            format!("`{layer}` needs {needs} input, but its input is {shape}"),
            span,
            format!("input here is {shape}"),
        );
        if after_flatten {
            e.help(format!(
                "`{layer}` cannot follow `flatten`: move it before the flatten"
            ))
        } else if needs.starts_with("a rank-2") {
            e.help("insert `flatten` before it")
        } else {
            e.help("give the model an input of rank 4 (NxCxHxW)")
        }
    }

    pub fn overflow(what: &str, span: Span) -> Self {
        CheckError::new(
            "overflow",
            format!("{what} is too large: the sizes multiply past 2^64"),
            span,
            "sizes overflow here",
        )
        .help("use smaller sizes")
    }

    pub fn unknown_name(kind: &str, name: &str, span: Span, known: &[String]) -> Self {
        let e = CheckError::new(
            "unknown_name",
            format!("unknown {kind} `{name}`"),
            span,
            if kind == "name" {
                format!("nothing named `{name}` is defined before this line")
            } else {
                format!("no {kind} named `{name}` is defined before this line")
            },
        );
        match did_you_mean(name, known.iter().map(String::as_str)) {
            Some(s) => e.help(format!("did you mean `{s}`?")).fix(span, s),
            None if known.is_empty() => e.help(format!("define the {kind} before using it")),
            None => e.help(format!("defined so far: {}", name_list(known))),
        }
    }

    pub fn duplicate_label(label: &str, span: Span, first: Span) -> Self {
        CheckError::new(
            "duplicate_label",
            format!("label `{label}` is used twice in this model"),
            span,
            "used again here",
        )
        .related(first, "first used here")
        .help("labels name parameters (`label.weight`), so each must be unique")
    }

    pub fn unbound(name: &str, span: Span, later: Option<Span>) -> Self {
        let e = CheckError::new(
            "unbound",
            format!("`{name}` is not bound before this line"),
            span,
            "read before it is bound",
        );
        match later {
            Some(s) => e
                .related(s, "bound here, too late")
                .help("a line may only read the input and names bound on earlier lines"),
            None => e.help("a line may only read the input and names bound on earlier lines"),
        }
    }

    pub fn bound_twice(name: &str, span: Span, first: Span) -> Self {
        CheckError::new(
            "bound_twice",
            format!("`{name}` is bound twice"),
            span,
            "bound again here",
        )
        .related(first, "first bound here")
        .help("give the second binding its own name")
    }

    /// `m[0:2](X)` on a graph model: only a sequential model has a first K layers.
    pub fn graph_slice(span: Span) -> Self {
        CheckError::new(
            "graph_slice",
            "slicing a graph model is not supported".into(),
            span,
            "graph model",
        )
        .help("slice a plain (sequential) model")
    }

    /// `let (a, b) = X`: one value where several names wait.
    pub fn one_value(span: Span) -> Self {
        CheckError::new("tuple_count", "this is one value, not several".into(), span, "one value")
            .help("only `split` gives several values: `let (a, b) = split(D, 0.8)`; bind one value with `let X = ...`")
    }

    /// `let (a, b, c) = split(D, 0.8)`: as many names as values.
    pub fn tuple_count(names: usize, values: usize, span: Span) -> Self {
        CheckError::new(
            "tuple_count",
            format!("{names} names for {values} values"),
            span,
            "counts differ",
        )
        .help("`split` gives two parts: `let (a, b) = split(D, 0.8)`")
    }

    pub fn declared_twice(name: &str, span: Span, first: Span) -> Self {
        CheckError::new(
            "declared_twice",
            format!("model `{name}` is declared twice"),
            span,
            "declared again here",
        )
        .related(first, "first declared here")
        .help("give the second model its own name")
    }

    pub fn unknown_merge(op: &str, span: Span) -> Self {
        let e = CheckError::new(
            "unknown_merge",
            format!("unknown merge `{op}`"),
            span,
            "not a merge",
        );
        match did_you_mean(op, ["add", "concat"]) {
            Some(s) => e
                .help(format!("did you mean `{s}`? The merges are add and concat"))
                .fix(span, s),
            None => e.help("the merges are add(a, b, ...) and concat(a, b, ...)"),
        }
    }

    pub fn merge_shapes(
        op: &str,
        a: (&str, &Shape),
        b: (&str, &Shape),
        span: Span,
        why: &str,
    ) -> Self {
        CheckError::new(
            "merge_shape",
            format!(
                "`{op}` cannot join `{}` ({}) and `{}` ({}): {why}",
                a.0, a.1, b.0, b.1
            ),
            span,
            format!("{} is {}, {} is {}", a.0, a.1, b.0, b.1),
        )
        .help(if op == "add" {
            "add needs identical shapes: change a branch's channels or stride, or add a 1x1 conv to the shortcut"
        } else {
            "concat joins channels: batch, height and width must be equal (check padding and stride)"
        })
    }

    pub fn unused_node(name: &str, span: Span) -> Self {
        let mut e = CheckError::new(
            "unused",
            format!("`{name}` is bound but never used"),
            span,
            "nothing reads this",
        )
        .help("read it in a later line, or remove it");
        e.warning = true;
        e
    }

    /// A tensor operation's shape rule refused its operands.
    pub fn shape(e: &crate::tensor::ShapeError, span: Span) -> Self {
        CheckError::new(e.code(), e.message(), span, e.label()).help(e.help())
    }

    pub fn other(
        code: &'static str,
        message: String,
        span: Span,
        label: &str,
        help: String,
    ) -> Self {
        CheckError::new(code, message, span, label).help(help)
    }
}

/// PyTorch's argument names and the cnnscript names they mean, so
/// `conv(kernel_size=3)` is answered with `k`.
const PYTORCH_ARGS: [(&str, &str); 11] = [
    ("kernel_size", "k"),
    ("kernel", "k"),
    ("stride", "s"),
    ("padding", "p"),
    ("dilation", "d"),
    ("in_channels", "in"),
    ("out_channels", "out"),
    ("in_features", "in"),
    ("out_features", "out"),
    ("ceil_mode", "ceil"),
    ("count_include_pad", "count_pad"),
];

/// PyTorch's `nn` layer names and the cnnscript layers they mean.
const PYTORCH_LAYERS: [(&str, &str); 12] = [
    ("Conv2d", "conv"),
    ("MaxPool2d", "maxpool"),
    ("AvgPool2d", "avgpool"),
    ("AdaptiveAvgPool2d", "gap"),
    ("Linear", "linear"),
    ("BatchNorm2d", "batchnorm"),
    ("ReLU", "relu"),
    ("Sigmoid", "sigmoid"),
    ("Tanh", "tanh"),
    ("Softmax", "softmax"),
    ("Dropout", "dropout"),
    ("Flatten", "flatten"),
];

/// Names listed in a help: the first few, then how many more (a script can
/// define thousands).
const LISTED_NAMES: usize = 12;

fn name_list(known: &[String]) -> String {
    let mut text = known[..known.len().min(LISTED_NAMES)].join(", ");
    if known.len() > LISTED_NAMES {
        text.push_str(&format!(" and {} more", known.len() - LISTED_NAMES));
    }
    text
}

/// Words longer than this get no suggestion: comparing them costs the
/// product of the lengths, and nobody mistypes a name that long.
const MAX_SUGGESTED_CHARS: usize = 64;

/// The closest known word to `word` (Levenshtein distance at most a third of
/// its length, and at least 1 edit allowed).
pub fn did_you_mean<'a>(word: &str, known: impl IntoIterator<Item = &'a str>) -> Option<String> {
    let len = word.chars().count();
    if len > MAX_SUGGESTED_CHARS {
        return None;
    }
    let limit = (len / 3).max(1) + usize::from(word.len() > 5);
    known
        .into_iter()
        // the length difference is a lower bound of the distance
        .filter(|k| k.chars().count().abs_diff(len) <= limit)
        .map(|k| (levenshtein(word, k), k))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k.to_string())
}

/// Edit distance counting a swap of two neighbours as one edit (`egde`
/// is one slip from `edge`): optimal string alignment.
fn levenshtein(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut before: Vec<usize> = Vec::new();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
            if i > 0 && j > 0 && *ca == b[j - 1] && a[i - 1] == *cb {
                cur[j + 1] = cur[j + 1].min(before[j - 1] + 1);
            }
        }
        before = std::mem::replace(&mut prev, cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions() {
        assert_eq!(
            did_you_mean("lineer", ["linear", "conv"]),
            Some("linear".into())
        );
        assert_eq!(
            did_you_mean("maxpol", ["maxpool", "avgpool"]),
            Some("maxpool".into())
        );
        assert_eq!(did_you_mean("zzz", ["conv"]), None);
        assert_eq!(did_you_mean("egde", ["edge", "X"]), Some("edge".into()));
        assert_eq!(levenshtein("trian", "train"), 1);
        assert_eq!(levenshtein("kitten", "sitting"), 3);
    }

    #[test]
    fn huge_names_get_no_suggestion_and_cost_nothing() {
        let long = "a".repeat(1 << 20);
        assert_eq!(did_you_mean("ax", [long.as_str()]), None);
        let other = format!("{long}b");
        assert_eq!(did_you_mean(&other, [long.as_str()]), None);
    }

    #[test]
    fn a_long_list_of_names_is_cut() {
        let known: Vec<String> = (0..5000).map(|i| format!("a{i}")).collect();
        let e = CheckError::unknown_name("name", "zzzzzz", Span::new(0, 1), &known);
        let help = e.help.clone().unwrap_or_default();
        assert!(help.contains("a0, a1,"), "{help}");
        assert!(help.ends_with("and 4988 more"), "{help}");
    }
}
