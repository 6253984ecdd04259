//! Layers applied as functions (`maxpool(X, k=2)`, `conv2d(X, K, p=1)`):
//! how a tensor of any rank enters the layer and what rank comes out, and
//! the layer call built from the named arguments and, for `conv2d` and
//! `linear`, the shapes of the weight given as data. The checker plans a
//! call when it knows the shapes; the evaluator plans every call with the
//! real ones, then runs the layer's own forward (`run/layer_fn.rs`).
//!
//! Rank (the result keeps the tensor's rank): image layers (conv, pools,
//! gap) read HxW as 1x1xHxW and CxHxW as 1xCxHxW and drop the added dims
//! again, so the chapter's `pool2d` on a 3x3 tensor gives 2x2; batchnorm
//! reads CxHxW likewise and NxC as it is; flatten is nn.Flatten; softmax
//! takes a `dim` (default as F.softmax: 0 for 1-D and 3-D, else 1);
//! `linear` maps the last dim, as F.linear; elementwise layers keep any shape.

use super::builtins::{BuiltinSpec, Function};
use super::error::CheckError;
use super::infer::infer_layer;
use super::model::Layer;
use super::shape::{Dim, Rf, Shape};
use crate::layers::{InputRank, LayerInput};
use crate::syntax::ast::*;
use crate::value::dims_string;

/// The shapes a layer function is applied to.
#[derive(Clone, Copy, Debug)]
pub struct Operands<'a> {
    pub x: &'a [usize],
    pub weight: Option<&'a [usize]>,
    pub bias: Option<&'a [usize]>,
    /// `softmax(X, dim=...)`.
    pub dim: Option<i64>,
}

/// Where the call and its arguments are written.
#[derive(Clone, Copy, Debug)]
pub struct Spans {
    pub call: Span,
    pub callee: Span,
    pub x: Span,
    pub weight: Span,
    pub bias: Span,
    pub dim: Span,
}

/// A planned layer function: the lowered layer, the shape the tensor takes
/// to enter it, and the shape of the result.
#[derive(Clone, Debug)]
pub struct Plan {
    pub layer: Layer,
    pub layer_in: Vec<usize>,
    pub out: Vec<usize>,
}

/// Plan `f(x, ...)`: rank handling, the layer call, its lowering.
pub fn plan(
    spec: &BuiltinSpec,
    f: Function,
    layer_args: &[&NamedArg],
    ops: Operands<'_>,
    spans: Spans,
) -> Result<Plan, Vec<CheckError>> {
    let err = |message: String, span: Span, label: &str, help: &str| {
        vec![CheckError::other(
            "layer_function",
            message,
            span,
            label,
            help.to_string(),
        )]
    };
    let mut kvs: Vec<KeyValue> = layer_args.iter().map(|n| key_value(n)).collect();
    let (layer_in, added, layer_name) = match f {
        Function::Conv2d => {
            let (layer_in, added) = image_rank(spec.name, ops.x, spans)?;
            kvs.extend(conv_args(ops, &layer_in, &kvs, spans)?);
            (layer_in, added, "conv")
        }
        Function::Linear => {
            let w = ops.weight.unwrap_or(&[]);
            let [out, inp] = w[..] else {
                return Err(err(
                    format!("linear takes a 2-D weight (out x in), got {}", words(w)),
                    spans.weight,
                    "not 2-D",
                    "the weight of nn.Linear(in, out) is out x in",
                ));
            };
            let Some((&last, lead)) = ops.x.split_last() else {
                return Err(err(
                    "linear needs a tensor of at least 1 dimension".into(),
                    spans.x,
                    "a scalar",
                    "give it a vector or a batch of rows",
                ));
            };
            if last != inp {
                return Err(err(
                    format!("linear: the weight {out}x{inp} takes {inp} features, but the tensor's last size is {last}"),
                    spans.weight,
                    "sizes differ",
                    "the weight is out x in; its second size must equal the tensor's last",
                ));
            }
            check_bias(ops.bias, out, spans)?;
            let rows = lead.iter().product::<usize>();
            kvs.extend(derived(
                spans.weight,
                &[("in", inp), ("out", out)],
                ops.bias.is_some(),
            ));
            let mut result = lead.to_vec();
            result.push(out);
            let layer = lower("linear", &kvs, &[rows, inp], spans)?;
            return Ok(Plan {
                layer,
                layer_in: vec![rows, inp],
                out: result,
            });
        }
        _ => {
            let Some(l) = spec.layer else {
                return Err(err(
                    format!("`{}` is not a layer", spec.name),
                    spans.callee,
                    "not a layer",
                    "",
                ));
            };
            match l.layer.input {
                InputRank::Image => {
                    let (shape, added) = image_rank(spec.name, ops.x, spans)?;
                    (shape, added, l.layer.name)
                }
                InputRank::ImageIfRank3 if ops.x.len() == 3 => (promoted(ops.x), 1, l.layer.name),
                _ if l.layer.name == "softmax" => {
                    return softmax(ops, &kvs, spans);
                }
                _ => (ops.x.to_vec(), 0, l.layer.name),
            }
        }
    };
    let layer = lower(layer_name, &kvs, &layer_in, spans)?;
    let full = known_dims(&layer.out_shape);
    let out = full[added.min(full.len())..].to_vec();
    Ok(Plan {
        layer,
        layer_in,
        out,
    })
}

/// HxW and CxHxW gain leading 1s; NxCxHxW stays.
fn image_rank(
    name: &str,
    x: &[usize],
    spans: Spans,
) -> Result<(Vec<usize>, usize), Vec<CheckError>> {
    match x.len() {
        2 | 3 => Ok((promoted(x), 4 - x.len())),
        4 => Ok((x.to_vec(), 0)),
        _ => Err(vec![CheckError::other(
            "layer_function",
            format!(
                "`{name}` takes a 2-D (HxW), 3-D (CxHxW) or 4-D (NxCxHxW) tensor, got {}",
                words(x)
            ),
            spans.x,
            "wrong rank",
            "reshape it, e.g. X.reshape(1x1x6x8)".into(),
        )]),
    }
}

fn promoted(x: &[usize]) -> Vec<usize> {
    let mut s = vec![1; 4usize.saturating_sub(x.len())];
    s.extend_from_slice(x);
    s
}

/// `softmax(X[, dim])`: the tensor read as rows x classes x rest around
/// the dim, so the layer's softmax over dim 1 is the softmax over `dim`.
fn softmax(ops: Operands<'_>, kvs: &[KeyValue], spans: Spans) -> Result<Plan, Vec<CheckError>> {
    let rank = ops.x.len();
    let dim = match ops.dim {
        Some(d) => crate::tensor::shape::normalize_dim(d, rank)
            .map_err(|e| vec![CheckError::shape(&e, spans.dim)])?,
        None if matches!(rank, 0 | 1 | 3) => 0,
        None => 1,
    };
    let (before, after) = if rank == 0 {
        (1, 1)
    } else {
        (
            ops.x[..dim].iter().product::<usize>(),
            ops.x[dim + 1..].iter().product::<usize>(),
        )
    };
    let classes = ops.x.get(dim).copied().unwrap_or(1);
    let layer_in = vec![before, classes, after];
    let layer = lower("softmax", kvs, &layer_in, spans)?;
    Ok(Plan {
        layer,
        layer_in,
        out: ops.x.to_vec(),
    })
}

/// `conv2d`'s `in`, `out`, `k` and `bias` from the kernel's shape, after
/// checking it against the input.
fn conv_args(
    ops: Operands<'_>,
    layer_in: &[usize],
    written: &[KeyValue],
    spans: Spans,
) -> Result<Vec<KeyValue>, Vec<CheckError>> {
    let err = |message: String, span: Span, label: &str, help: String| {
        vec![CheckError::other(
            "layer_function",
            message,
            span,
            label,
            help,
        )]
    };
    let w = ops.weight.unwrap_or(&[]);
    let (out, per_group, kh, kw) = match w[..] {
        [kh, kw] => (1, 1, kh, kw),
        [o, i, kh, kw] => (o, i, kh, kw),
        _ => {
            return Err(err(
                format!(
                    "conv2d takes a kernel of 4 dims (out x in x kh x kw) or 2 (kh x kw), got {}",
                    words(w)
                ),
                spans.weight,
                "wrong rank",
                "a one-channel kernel is 2-D; several channels: out x in x kh x kw".into(),
            ))
        }
    };
    let groups = written
        .iter()
        .find(|kv| kv.key.name == "groups")
        .and_then(|kv| match &kv.value {
            ArgValue::Number(n) => n.as_int().and_then(|g| usize::try_from(g).ok()),
            _ => None,
        })
        .filter(|g| *g > 0)
        .unwrap_or(1);
    let channels = layer_in[1];
    let takes = per_group.saturating_mul(groups);
    if takes != channels {
        let times = if groups > 1 {
            format!(" times {groups} groups")
        } else {
            String::new()
        };
        return Err(err(
            format!(
                "conv2d: the kernel {} takes {takes} input channels (its second size{times}), but the input has {channels}",
                words(w)
            ),
            spans.weight,
            "channels differ",
            format!("the input {} has {channels} channels", words(ops.x)),
        ));
    }
    if ops.x.len() == 2 && out != 1 {
        return Err(err(
            format!(
                "conv2d of a 2-D tensor gives a 2-D result, so the kernel needs 1 output channel, not {out}"
            ),
            spans.weight,
            "several output channels",
            "for several output channels give the input as 1xHxW".into(),
        ));
    }
    if kh == 0 || kw == 0 || out == 0 {
        return Err(err(
            format!("conv2d: the kernel {} is empty", words(w)),
            spans.weight,
            "empty kernel",
            "every size of a kernel must be at least 1".into(),
        ));
    }
    check_bias(ops.bias, out, spans)?;
    let mut kvs = derived(
        spans.weight,
        &[("in", channels), ("out", out)],
        ops.bias.is_some(),
    );
    kvs.push(KeyValue {
        key: ident("k", spans.weight),
        value: ArgValue::Dims(Dims {
            dims: vec![DimLit::Known(kh as u64), DimLit::Known(kw as u64)],
            span: spans.weight,
        }),
        span: spans.weight,
    });
    Ok(kvs)
}

fn check_bias(bias: Option<&[usize]>, out: usize, spans: Spans) -> Result<(), Vec<CheckError>> {
    match bias {
        Some(b) if b != [out] => Err(vec![CheckError::other(
            "layer_function",
            format!(
                "the bias must be a vector of {out} (one per output), got {}",
                words(b)
            ),
            spans.bias,
            "wrong shape",
            format!("give a tensor of shape {out}"),
        )]),
        _ => Ok(()),
    }
}

/// `name=value` arguments made from the data, pointing at the weight.
fn derived(span: Span, counts: &[(&str, usize)], bias: bool) -> Vec<KeyValue> {
    let mut kvs: Vec<KeyValue> = counts
        .iter()
        .map(|(name, n)| KeyValue {
            key: ident(name, span),
            value: ArgValue::Number(Number {
                text: n.to_string(),
                value: *n as f64,
                span,
            }),
            span,
        })
        .collect();
    kvs.push(KeyValue {
        key: ident("bias", span),
        value: ArgValue::Word(ident(if bias { "true" } else { "false" }, span)),
        span,
    });
    kvs
}

fn ident(name: &str, span: Span) -> Ident {
    Ident {
        name: name.to_string(),
        span,
    }
}

/// A named argument of a call as a layer argument (`k=2x3`, `p=same`, `ceil=true`).
fn key_value(n: &NamedArg) -> KeyValue {
    let value = match &n.value.kind {
        ExprKind::Number(num) => ArgValue::Number(num.clone()),
        ExprKind::Neg(inner) => match &inner.kind {
            ExprKind::Number(num) => ArgValue::Number(Number {
                text: format!("-{}", num.text),
                value: -num.value,
                span: n.value.span,
            }),
            _ => bad(n),
        },
        ExprKind::Dims(d) => ArgValue::Dims(d.clone()),
        ExprKind::Name(id) => ArgValue::Word(id.clone()),
        ExprKind::Str(s) => ArgValue::Str(s.clone()),
        _ => bad(n),
    };
    KeyValue {
        key: n.name.clone(),
        value,
        span: n.span,
    }
}

fn bad(n: &NamedArg) -> ArgValue {
    ArgValue::Bad {
        text: "an expression".into(),
        span: n.value.span,
    }
}

/// The layer `name` with arguments `kvs`, lowered on `input`.
fn lower(
    name: &str,
    kvs: &[KeyValue],
    input: &[usize],
    spans: Spans,
) -> Result<Layer, Vec<CheckError>> {
    let call = LayerCall {
        label: None,
        name: ident(name, spans.callee),
        args: Some(kvs.to_vec()),
        span: spans.call,
    };
    let shape = Shape(input.iter().map(|&d| Dim::Known(d as u64)).collect());
    let at = LayerInput {
        shape: &shape,
        rf: Rf::INPUT,
        after_flatten: false,
        index: 0,
    };
    infer_layer(&call, &at)
}

/// The sizes of a shape made only of known dims.
fn known_dims(shape: &Shape) -> Vec<usize> {
    shape
        .0
        .iter()
        .map(|d| d.known().unwrap_or(1) as usize)
        .collect()
}

/// The arguments of a layer function that are layer arguments, checked
/// against the layer's table without any shape (names, types, ranges).
pub fn validate(spec: &BuiltinSpec, layer_args: &[&NamedArg], span: Span) -> Vec<CheckError> {
    let Some(l) = spec.layer else {
        return vec![];
    };
    let call = LayerCall {
        label: None,
        name: ident(l.layer.name, span),
        args: Some(layer_args.iter().map(|n| key_value(n)).collect()),
        span,
    };
    crate::layers::parse_args(&call, l.layer)
        .err()
        .unwrap_or_default()
}

fn words(d: &[usize]) -> String {
    if d.is_empty() {
        "a scalar".into()
    } else {
        dims_string(d)
    }
}
