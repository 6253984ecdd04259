//! Lowering of one layer call: arguments checked against the layer table and
//! defaults filled in (PyTorch's), then its output shape, parameter count,
//! multiply-accumulates and receptive field inferred from the input shape.

use std::collections::HashMap;

use super::error::CheckError;
use super::layer::*;
use super::model::{Layer, Rf, UNKNOWN_MACS};
use super::shape::{window_out, Dim, Shape};
use crate::syntax::ast::{ArgValue, KeyValue, LayerCall, Span};

/// A checked argument value.
#[derive(Clone, Debug, PartialEq)]
enum Val {
    Count(u64),
    Pair([u64; 2]),
    Pad(PadSpec),
    Bool(bool),
    Real(f64),
    Init(Init),
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum PadSpec {
    Explicit([u64; 2]),
    Same,
    Valid,
}

/// The arguments of one call, by name, with their spans.
struct Args<'a> {
    spec: &'static LayerSpec,
    vals: HashMap<&'static str, (Val, Span)>,
    call: &'a LayerCall,
}

impl Args<'_> {
    fn get(&self, name: &str) -> Option<&Val> {
        self.vals.get(name).map(|(v, _)| v)
    }
    fn span(&self, name: &str) -> Span {
        self.vals
            .get(name)
            .map(|(_, s)| *s)
            .unwrap_or(self.call.span)
    }
    fn count(&self, name: &str) -> Option<u64> {
        match self.get(name) {
            Some(Val::Count(n)) => Some(*n),
            _ => None,
        }
    }
    fn pair(&self, name: &str) -> Option<[u64; 2]> {
        match self.get(name) {
            Some(Val::Pair(p)) => Some(*p),
            _ => None,
        }
    }
    fn flag(&self, name: &str, default: bool) -> bool {
        match self.get(name) {
            Some(Val::Bool(b)) => *b,
            _ => default,
        }
    }
    fn real(&self, name: &str, default: f64) -> f64 {
        match self.get(name) {
            Some(Val::Real(r)) => *r,
            _ => default,
        }
    }
    fn init(&self) -> Init {
        match self.get("init") {
            Some(Val::Init(i)) => *i,
            _ => Init::Default,
        }
    }
    fn padding(&self) -> PadSpec {
        match self.get("p") {
            Some(Val::Pad(p)) => *p,
            _ => PadSpec::Explicit([0, 0]),
        }
    }
    /// `in`, when written, must equal what arrives (channels or features).
    fn declared_in(&self, incoming: u64, shape: &Shape) -> Result<u64, CheckError> {
        match self.count("in") {
            Some(declared) if declared != incoming => Err(CheckError::in_channels(
                self.spec.name,
                "in",
                declared,
                incoming,
                shape,
                self.span("in"),
            )),
            _ => Ok(incoming),
        }
    }
    fn require_pair(&self, name: &str, example: &str) -> Result<[u64; 2], CheckError> {
        self.pair(name)
            .ok_or_else(|| CheckError::missing_arg(self.spec.name, name, self.call.span, example))
    }
}

/// Check the arguments of a call against the layer table.
fn parse_args<'a>(
    call: &'a LayerCall,
    spec: &'static LayerSpec,
) -> Result<Args<'a>, Vec<CheckError>> {
    let mut vals: HashMap<&'static str, (Val, Span)> = HashMap::new();
    let mut errors = Vec::new();
    let valid: Vec<&str> = spec.args.iter().map(|a| a.name).collect();
    for kv in call.args.iter().flatten() {
        let Some(arg) = spec.args.iter().find(|a| a.name == kv.key.name) else {
            errors.push(CheckError::unknown_arg(
                spec.name,
                &kv.key.name,
                kv.key.span,
                &valid,
            ));
            continue;
        };
        if let Some((_, first)) = vals.get(arg.name) {
            errors.push(CheckError::duplicate_arg(arg.name, kv.span, *first));
            continue;
        }
        match check_value(spec.name, arg, kv) {
            Ok(v) => {
                vals.insert(arg.name, (v, kv.value.span()));
            }
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() {
        Ok(Args { spec, vals, call })
    } else {
        Err(errors)
    }
}

fn value_text(v: &ArgValue) -> String {
    match v {
        ArgValue::Number(n) => n.text.clone(),
        ArgValue::Dims(d) => d
            .dims
            .iter()
            .map(|x| x.to_string())
            .collect::<Vec<_>>()
            .join("x"),
        ArgValue::Word(w) => w.name.clone(),
        ArgValue::Str(s) => format!("\"{}\"", s.value),
        ArgValue::Bad { text, .. } => text.clone(),
    }
}

/// Check one `key=value` against its type; values out of range are reported
/// with what is allowed.
fn check_value(layer: &str, arg: &ArgSpec, kv: &KeyValue) -> Result<Val, CheckError> {
    let span = kv.value.span();
    let found = value_text(&kv.value);
    let type_err = || CheckError::arg_type(layer, arg.name, arg.ty.describe(), &found, span);
    let what = match arg.name {
        "s" => "stride",
        "k" => "kernel size",
        "d" => "dilation",
        "p" => "padding",
        "out" => "`out`",
        "in" => "`in`",
        other => other,
    };
    let positive = |n: i64| -> Result<u64, CheckError> {
        if n >= 1 {
            Ok(n as u64)
        } else {
            Err(CheckError::bad_value(
                format!("{what} of `{layer}` must be at least 1, found {n}"),
                span,
                "must be at least 1",
                format!(
                    "write a positive {}",
                    if arg.ty == ArgType::Pair {
                        "size such as 1 or 2x1"
                    } else {
                        "integer"
                    }
                ),
            ))
        }
    };
    if let ArgValue::Bad { text, .. } = &kv.value {
        return Err(CheckError::bad_value(
            format!("`{text}` is not a complete size for `{}`", arg.name),
            span,
            "incomplete size",
            "a size is a number (3) or height x width (3x5), with a number on both sides of `x`"
                .into(),
        ));
    }
    match arg.ty {
        ArgType::Count => match &kv.value {
            ArgValue::Number(n) => match n.as_int() {
                Some(i) => positive(i).map(Val::Count),
                None => Err(type_err()),
            },
            _ => Err(type_err()),
        },
        ArgType::Pair => match &kv.value {
            ArgValue::Number(n) => match n.as_int() {
                Some(i) => positive(i).map(|v| Val::Pair([v, v])),
                None => Err(type_err()),
            },
            ArgValue::Dims(d) => pair_of(d, &positive).ok_or_else(type_err)?.map(Val::Pair),
            _ => Err(type_err()),
        },
        ArgType::Padding => match &kv.value {
            ArgValue::Number(n) => match n.as_int() {
                Some(i) if i < 0 => Err(CheckError::bad_value(
                    format!("padding of `{layer}` must be 0 or more, found {i}"),
                    span,
                    "negative padding",
                    "padding is added on each side: write 0 or more, `same` or `valid`".into(),
                )),
                Some(i) => Ok(Val::Pad(PadSpec::Explicit([i as u64, i as u64]))),
                None => Err(type_err()),
            },
            ArgValue::Dims(d) => match d.dims.as_slice() {
                [crate::syntax::ast::DimLit::Known(h), crate::syntax::ast::DimLit::Known(w)] => {
                    Ok(Val::Pad(PadSpec::Explicit([*h, *w])))
                }
                _ => Err(type_err()),
            },
            ArgValue::Word(w) if w.name == "same" => Ok(Val::Pad(PadSpec::Same)),
            ArgValue::Word(w) if w.name == "valid" => Ok(Val::Pad(PadSpec::Valid)),
            _ => Err(type_err()),
        },
        ArgType::Bool => match &kv.value {
            ArgValue::Word(w) if w.name == "true" => Ok(Val::Bool(true)),
            ArgValue::Word(w) if w.name == "false" => Ok(Val::Bool(false)),
            ArgValue::Number(n) if n.text == "1" => Ok(Val::Bool(true)),
            ArgValue::Number(n) if n.text == "0" => Ok(Val::Bool(false)),
            _ => Err(type_err()),
        },
        ArgType::Real => match &kv.value {
            ArgValue::Number(n) if n.value.is_finite() => {
                if arg.name == "p" && !(0.0..1.0).contains(&n.value) {
                    return Err(CheckError::bad_value(
                        format!("dropout probability must be in [0, 1), found {}", n.text),
                        span,
                        "out of range",
                        "write a probability such as p=0.5".into(),
                    ));
                }
                if (arg.name == "eps" && n.value <= 0.0)
                    || (arg.name == "momentum" && !(0.0..=1.0).contains(&n.value))
                {
                    return Err(CheckError::bad_value(
                        format!("`{}` of `{layer}` is out of range: {}", arg.name, n.text),
                        span,
                        "out of range",
                        "eps must be positive and momentum in [0, 1]".into(),
                    ));
                }
                Ok(Val::Real(n.value))
            }
            _ => Err(type_err()),
        },
        ArgType::Init => match &kv.value {
            ArgValue::Word(w) => match w.name.as_str() {
                "default" => Ok(Val::Init(Init::Default)),
                "randn" => Ok(Val::Init(Init::Randn)),
                "zeros" => Ok(Val::Init(Init::Zeros)),
                "ones" => Ok(Val::Init(Init::Ones)),
                _ => Err(type_err()),
            },
            _ => Err(type_err()),
        },
    }
}

fn pair_of(
    d: &crate::syntax::ast::Dims,
    positive: &dyn Fn(i64) -> Result<u64, CheckError>,
) -> Option<Result<[u64; 2], CheckError>> {
    use crate::syntax::ast::DimLit;
    match d.dims.as_slice() {
        [DimLit::Known(h), DimLit::Known(w)] => {
            let h = positive(i64::try_from(*h).unwrap_or(i64::MAX));
            let w = positive(i64::try_from(*w).unwrap_or(i64::MAX));
            Some(h.and_then(|h| w.map(|w| [h, w])))
        }
        _ => None,
    }
}

/// The checks of a call that need no input shape (layer name, argument
/// names, types and ranges): used after an earlier layer failed, so one
/// run reports every broken layer.
pub fn validate_call(call: &LayerCall) -> Vec<CheckError> {
    let names: Vec<&str> = LAYERS.iter().map(|l| l.name).collect();
    match layer_spec(&call.name.name) {
        None => vec![CheckError::unknown_layer(
            &call.name.name,
            call.name.span,
            &names,
        )],
        Some(spec) => parse_args(call, spec).err().unwrap_or_default(),
    }
}

/// Everything inference needs to know about where a layer stands.
pub struct LayerInput<'a> {
    pub shape: &'a Shape,
    pub rf: Rf,
    /// True once a `flatten` has run on this path (for a better message).
    pub after_flatten: bool,
    pub index: usize,
}

const IMAGE: &str = "a 4-D (NxCxHxW)";
const FLAT: &str = "a rank-2 (NxF)";

/// Lower and infer one layer call.
pub fn infer_layer(call: &LayerCall, input: &LayerInput) -> Result<Layer, Vec<CheckError>> {
    let names: Vec<&str> = LAYERS.iter().map(|l| l.name).collect();
    let Some(spec) = layer_spec(&call.name.name) else {
        return Err(vec![CheckError::unknown_layer(
            &call.name.name,
            call.name.span,
            &names,
        )]);
    };
    let args = parse_args(call, spec)?;
    let shape = input.shape;
    let span = call.span;
    let one = |e: CheckError| vec![e];
    let need_rank = |rank: usize, needs: &str| -> Result<(), Vec<CheckError>> {
        if shape.rank() == rank {
            Ok(())
        } else {
            Err(vec![CheckError::rank(
                spec.name,
                needs,
                shape,
                input.after_flatten && rank == 4,
                call.name.span,
            )])
        }
    };
    let (kind, out_shape, params, macs, rf) = match spec.name {
        "conv" => {
            need_rank(4, IMAGE)?;
            let incoming = known_channels(shape, spec.name, span).map_err(one)?;
            let in_ch = args.declared_in(incoming, shape).map_err(one)?;
            let out_ch = args.count("out").ok_or_else(|| {
                one(CheckError::missing_arg(
                    "conv",
                    "out",
                    call.span,
                    "conv(out=6, k=5)",
                ))
            })?;
            let kernel = args.require_pair("k", "conv(out=6, k=5)").map_err(one)?;
            let stride = args.pair("s").unwrap_or([1, 1]);
            let dilation = args.pair("d").unwrap_or([1, 1]);
            let groups = args.count("groups").unwrap_or(1);
            if !in_ch.is_multiple_of(groups) || !out_ch.is_multiple_of(groups) {
                return Err(one(CheckError::groups(
                    in_ch,
                    out_ch,
                    groups,
                    args.span("groups"),
                )));
            }
            let pad = resolve_padding(&args, kernel, stride, dilation, false)?;
            let (out_hw, rf) = window(
                spec.name, shape, &pad, kernel, stride, dilation, false, input.rf, &args,
            )?;
            let conv = Conv {
                in_ch,
                out_ch,
                kernel,
                stride,
                pad,
                dilation,
                groups,
                bias: args.flag("bias", true),
                flip: args.flag("flip", false),
                init: args.init(),
            };
            let per_out = (in_ch / groups)
                .checked_mul(kernel[0])
                .and_then(|v| v.checked_mul(kernel[1]));
            let params = per_out
                .and_then(|v| v.checked_mul(out_ch))
                .and_then(|v| v.checked_add(if conv.bias { out_ch } else { 0 }))
                .ok_or_else(|| one(CheckError::overflow("the conv weight", span)))?;
            let out_shape = Shape(vec![
                shape.0[0].clone(),
                Dim::Known(out_ch),
                out_hw[0].clone(),
                out_hw[1].clone(),
            ]);
            let macs = spatial(&out_hw)
                .and_then(|s| s.checked_mul(out_ch))
                .and_then(|v| v.checked_mul(per_out?))
                .unwrap_or(UNKNOWN_MACS);
            (LayerKind::Conv(conv), out_shape, params, macs, rf)
        }
        "maxpool" | "avgpool" => {
            need_rank(4, IMAGE)?;
            let kernel = args
                .require_pair("k", &format!("{}(k=2)", spec.name))
                .map_err(one)?;
            let stride = args.pair("s").unwrap_or(kernel);
            let dilation = args.pair("d").unwrap_or([1, 1]);
            let ceil = args.flag("ceil", false);
            let pad = resolve_padding(&args, kernel, stride, dilation, true)?;
            let (out_hw, rf) = window(
                spec.name, shape, &pad, kernel, stride, dilation, ceil, input.rf, &args,
            )?;
            let pool = Pool {
                kernel,
                stride,
                pad,
                dilation,
                ceil,
                count_pad: args.flag("count_pad", true),
            };
            let out_shape = Shape(vec![
                shape.0[0].clone(),
                shape.0[1].clone(),
                out_hw[0].clone(),
                out_hw[1].clone(),
            ]);
            let kind = if spec.name == "maxpool" {
                LayerKind::MaxPool(pool)
            } else {
                LayerKind::AvgPool(pool)
            };
            (kind, out_shape, 0, 0, rf)
        }
        "gap" => {
            need_rank(4, IMAGE)?;
            let out_shape = Shape(vec![
                shape.0[0].clone(),
                shape.0[1].clone(),
                Dim::Known(1),
                Dim::Known(1),
            ]);
            (LayerKind::Gap, out_shape, 0, 0, whole_map(shape, input.rf))
        }
        "flatten" => {
            if shape.rank() < 2 {
                return Err(one(CheckError::rank(
                    "flatten",
                    "a rank-2 or higher",
                    shape,
                    false,
                    call.name.span,
                )));
            }
            let rest = flat_size(shape, span).map_err(one)?;
            let rf = if shape.rank() == 4 {
                whole_map(shape, input.rf)
            } else {
                input.rf
            };
            (
                LayerKind::Flatten,
                Shape(vec![shape.0[0].clone(), rest]),
                0,
                0,
                rf,
            )
        }
        "linear" => {
            need_rank(2, FLAT)?;
            let incoming = match &shape.0[1] {
                Dim::Known(n) => *n,
                Dim::Sym(s) => match args.count("in") {
                    Some(n) => n,
                    None => {
                        return Err(one(CheckError::other(
                            "symbolic_features",
                            format!("`linear` needs a known number of input features, but the input is {shape}"),
                            span,
                            &format!("{s} is symbolic"),
                            "give the model a concrete input size".into(),
                        )))
                    }
                },
            };
            let in_f = args.declared_in(incoming, shape).map_err(one)?;
            let out_f = args.count("out").ok_or_else(|| {
                one(CheckError::missing_arg(
                    "linear",
                    "out",
                    call.span,
                    "linear(out=10)",
                ))
            })?;
            let bias = args.flag("bias", true);
            let macs = in_f.checked_mul(out_f);
            let params = macs
                .and_then(|v| v.checked_add(if bias { out_f } else { 0 }))
                .ok_or_else(|| one(CheckError::overflow("the linear weight", span)))?;
            let lin = Linear {
                in_f,
                out_f,
                bias,
                init: args.init(),
            };
            (
                LayerKind::Linear(lin),
                Shape(vec![shape.0[0].clone(), Dim::Known(out_f)]),
                params,
                macs.unwrap_or(UNKNOWN_MACS),
                input.rf,
            )
        }
        "batchnorm" => {
            if !(shape.rank() == 2 || shape.rank() == 4) {
                return Err(one(CheckError::rank(
                    "batchnorm",
                    "a rank-2 (NxC) or rank-4 (NxCxHxW)",
                    shape,
                    false,
                    call.name.span,
                )));
            }
            let channels = known_channels(shape, spec.name, span).map_err(one)?;
            let bn = BatchNorm {
                channels,
                eps: args.real("eps", 1e-5),
                momentum: args.real("momentum", 0.1),
            };
            let params = channels
                .checked_mul(2)
                .ok_or_else(|| one(CheckError::overflow("the batchnorm weight", span)))?;
            (LayerKind::BatchNorm(bn), shape.clone(), params, 0, input.rf)
        }
        "softmax" => {
            if shape.rank() < 2 {
                return Err(one(CheckError::rank(
                    "softmax",
                    "a rank-2 or higher",
                    shape,
                    false,
                    call.name.span,
                )));
            }
            (LayerKind::Softmax, shape.clone(), 0, 0, input.rf)
        }
        "relu" => (LayerKind::Relu, shape.clone(), 0, 0, input.rf),
        "sigmoid" => (LayerKind::Sigmoid, shape.clone(), 0, 0, input.rf),
        "tanh" => (LayerKind::Tanh, shape.clone(), 0, 0, input.rf),
        "dropout" => (
            LayerKind::Dropout {
                p: args.real("p", 0.5),
            },
            shape.clone(),
            0,
            0,
            input.rf,
        ),
        other => unreachable!("layer table entry without a rule: {other}"),
    };
    check_size(&out_shape, span).map_err(one)?;
    Ok(Layer {
        kind,
        op: spec.name,
        label: call.label.as_ref().map(|l| l.name.clone()),
        index: input.index,
        span: call.span,
        in_shape: shape.clone(),
        out_shape,
        params,
        macs,
        rf,
    })
}

fn known_channels(shape: &Shape, layer: &str, span: Span) -> Result<u64, CheckError> {
    match &shape.0[1] {
        Dim::Known(c) => Ok(*c),
        Dim::Sym(s) => Err(CheckError::other(
            "symbolic_channels",
            format!("`{layer}` needs a known number of channels, but the input is {shape}"),
            span,
            &format!("channels `{s}` are symbolic"),
            "only the batch (and spatial sizes) may be symbolic".into(),
        )),
    }
}

/// The element count of a shape must fit in 64 bits (symbols count as 1).
fn check_size(shape: &Shape, span: Span) -> Result<(), CheckError> {
    shape
        .0
        .iter()
        .try_fold(1u64, |acc, d| acc.checked_mul(d.known().unwrap_or(1)))
        .map(|_| ())
        .ok_or_else(|| CheckError::overflow(&format!("the shape {shape}"), span))
}

fn spatial(out_hw: &[Dim; 2]) -> Option<u64> {
    out_hw[0].known()?.checked_mul(out_hw[1].known()?)
}

/// `flatten`: the product of every dim but the batch.
fn flat_size(shape: &Shape, span: Span) -> Result<Dim, CheckError> {
    let mut known = 1u64;
    let mut syms = Vec::new();
    for d in &shape.0[1..] {
        match d {
            Dim::Known(n) => {
                known = known
                    .checked_mul(*n)
                    .ok_or_else(|| CheckError::overflow(&format!("flatten of {shape}"), span))?
            }
            Dim::Sym(s) => syms.push(s.clone()),
        }
    }
    Ok(if syms.is_empty() {
        Dim::Known(known)
    } else {
        if known != 1 {
            syms.push(known.to_string());
        }
        Dim::Sym(syms.join("*"))
    })
}

/// Receptive field of one window over the whole incoming map (gap, and
/// flatten of a CxHxW map): `rf += (H−1)·jump`, likewise W.
fn whole_map(shape: &Shape, rf: Rf) -> Rf {
    let mut out = rf;
    for (i, d) in shape.0[2..4].iter().enumerate() {
        if let Some(n) = d.known() {
            out.size[i] = rf.size[i].saturating_add(n.saturating_sub(1).saturating_mul(rf.jump[i]));
        }
    }
    out
}

/// Resolve `p`: explicit per-side, `valid` (0) or `same` (stride 1 only;
/// total `d·(k−1)`, the odd one extra at the bottom/right, as PyTorch).
/// Pools also need `p ≤ ⌊k/2⌋` per dim (PyTorch's rule, on `k`, not the dilated kernel).
fn resolve_padding(
    args: &Args,
    kernel: [u64; 2],
    stride: [u64; 2],
    dilation: [u64; 2],
    pool: bool,
) -> Result<Pad4, Vec<CheckError>> {
    let pspan = args.span("p");
    let pad = match args.padding() {
        PadSpec::Valid => Pad4::default(),
        PadSpec::Explicit([h, w]) => Pad4 {
            top: h,
            bottom: h,
            left: w,
            right: w,
        },
        PadSpec::Same => {
            if stride != [1, 1] {
                return Err(vec![CheckError::bad_value(
                    format!(
                        "p=same needs stride 1, but `{}` has s={}x{}",
                        args.spec.name, stride[0], stride[1]
                    ),
                    pspan,
                    "same padding with a stride",
                    "use s=1, or give the padding as a number".into(),
                )]);
            }
            let total = |i: usize| dilation[i].saturating_mul(kernel[i].saturating_sub(1));
            let (th, tw) = (total(0), total(1));
            Pad4 {
                top: th / 2,
                bottom: th - th / 2,
                left: tw / 2,
                right: tw - tw / 2,
            }
        }
    };
    if pool {
        for (i, dim, p) in [
            (0, "height", pad.top.max(pad.bottom)),
            (1, "width", pad.left.max(pad.right)),
        ] {
            if p > kernel[i] / 2 {
                return Err(vec![CheckError::pool_padding(dim, p, kernel[i], pspan)]);
            }
        }
    }
    Ok(pad)
}

/// Output spatial sizes and receptive field of a window op.
#[allow(clippy::too_many_arguments)]
fn window(
    layer: &str,
    shape: &Shape,
    pad: &Pad4,
    kernel: [u64; 2],
    stride: [u64; 2],
    dilation: [u64; 2],
    ceil: bool,
    rf_in: Rf,
    args: &Args,
) -> Result<([Dim; 2], Rf), Vec<CheckError>> {
    let pads = [(pad.top, pad.bottom), (pad.left, pad.right)];
    let mut out: [Dim; 2] = [Dim::Known(0), Dim::Known(0)];
    let mut rf = rf_in;
    let mut errors = Vec::new();
    for i in 0..2 {
        let dim_name = if i == 0 { "height" } else { "width" };
        let (pb, pa) = pads[i];
        out[i] = match &shape.0[2 + i] {
            Dim::Known(n) => {
                match window_out(*n, pb, pa, kernel[i], stride[i], dilation[i], ceil) {
                    Some(o) => Dim::Known(o),
                    None => {
                        let k_eff = dilation[i]
                            .saturating_mul(kernel[i].saturating_sub(1))
                            .saturating_add(1);
                        let need = k_eff.saturating_sub(*n).div_ceil(2);
                        let fix = if layer == "conv" || need <= kernel[i] / 2 {
                            Some(need)
                        } else {
                            None
                        };
                        errors.push(CheckError::kernel_too_big(
                            layer,
                            dim_name,
                            *n,
                            kernel[i],
                            dilation[i],
                            (pb, pa),
                            fix,
                            args.span("k"),
                        ));
                        continue;
                    }
                }
            }
            Dim::Sym(s) => Dim::Sym(sym_window(s, pb + pa, kernel[i], stride[i], dilation[i])),
        };
        // rf += (k_eff − 1)·jump; jump *= s (unclipped, padding ignored)
        let k_eff = dilation[i]
            .saturating_mul(kernel[i].saturating_sub(1))
            .saturating_add(1);
        rf.size[i] = rf.size[i].saturating_add((k_eff - 1).saturating_mul(rf.jump[i]));
        rf.jump[i] = rf.jump[i].saturating_mul(stride[i]);
    }
    if errors.len() == 2 {
        // both dims fail: one diagnostic at the kernel, naming both
        let width = errors.pop().map(|e| e.label).unwrap_or_default();
        if let Some(first) = errors.first_mut() {
            first.label = format!("{}; {width}", first.label);
        }
    }
    if errors.is_empty() {
        Ok((out, rf))
    } else {
        Err(errors)
    }
}

/// The output-size formula over a symbolic size, simplified where it can be.
fn sym_window(n: &str, pad_total: u64, kernel: u64, stride: u64, dilation: u64) -> String {
    let shrink = dilation.saturating_mul(kernel.saturating_sub(1)) as i128 - pad_total as i128;
    let inner = match shrink {
        0 => n.to_string(),
        s if s > 0 => format!("{n}-{s}"),
        s => format!("{n}+{}", -s),
    };
    if stride == 1 {
        inner
    } else if shrink == 0 {
        format!("({n}-1)/{stride}+1")
    } else {
        format!("({inner}-1)/{stride}+1")
    }
}
