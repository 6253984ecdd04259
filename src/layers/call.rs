//! One layer call's arguments, checked against the layer's table entry:
//! names, types and ranges; an omitted argument reads as its default.

use std::collections::HashMap;

use super::args::{ArgDefault, ArgSpec, ArgType, LayerSpec, PadSpec, Range, Val};
use super::tensors::Init;
use super::window::Pad4;
use super::LayerInput;
use crate::ir::error::CheckError;
use crate::ir::shape::{Dim, Shape};
use crate::syntax::ast::{ArgValue, DimLit, KeyValue, LayerCall, Span};

/// What a rank error says a layer needs.
pub const IMAGE: &str = "a 4-D (NxCxHxW)";
pub const FLAT: &str = "a rank-2 (NxF)";

/// The arguments of one call, by name, with their spans; an omitted one
/// reads as its default.
pub struct Args<'a> {
    pub spec: &'static LayerSpec,
    pub call: &'a LayerCall,
    vals: HashMap<&'static str, (Val, Span)>,
}

impl Args<'_> {
    /// The value written, else the default; `None` when required or inferred.
    fn value(&self, name: &str) -> Option<Val> {
        if let Some((v, _)) = self.vals.get(name) {
            return Some(*v);
        }
        match self.spec.arg(name)?.default {
            ArgDefault::Value(v) => Some(v),
            ArgDefault::SameAs(other) => self.value(other),
            ArgDefault::Required | ArgDefault::Inferred => None,
        }
    }
    fn missing(&self, name: &str) -> Vec<CheckError> {
        vec![CheckError::missing_arg(
            self.spec.name,
            name,
            self.call.span,
            self.spec.example,
        )]
    }
    fn typed<T>(&self, name: &str, pick: fn(Val) -> Option<T>) -> Result<T, Vec<CheckError>> {
        self.value(name)
            .and_then(pick)
            .ok_or_else(|| self.missing(name))
    }
    /// Where the argument was written, else the whole call.
    pub fn span(&self, name: &str) -> Span {
        self.vals
            .get(name)
            .map(|(_, s)| *s)
            .unwrap_or(self.call.span)
    }
    /// A count; an error naming it when it is required and missing.
    pub fn count(&self, name: &str) -> Result<u64, Vec<CheckError>> {
        self.typed(name, |v| match v {
            Val::Count(n) => Some(n),
            _ => None,
        })
    }
    /// A count only when written (an inferred argument such as `in`).
    pub fn given_count(&self, name: &str) -> Option<u64> {
        self.count(name).ok()
    }
    pub fn pair(&self, name: &str) -> Result<[u64; 2], Vec<CheckError>> {
        self.typed(name, |v| match v {
            Val::Pair(p) => Some(p),
            _ => None,
        })
    }
    pub fn padding(&self, name: &str) -> Result<PadSpec, Vec<CheckError>> {
        self.typed(name, |v| match v {
            Val::Pad(p) => Some(p),
            _ => None,
        })
    }
    pub fn flag(&self, name: &str) -> Result<bool, Vec<CheckError>> {
        self.typed(name, |v| match v {
            Val::Bool(b) => Some(b),
            _ => None,
        })
    }
    pub fn real(&self, name: &str) -> Result<f64, Vec<CheckError>> {
        self.typed(name, |v| match v {
            Val::Real(r) => Some(r),
            _ => None,
        })
    }
    pub fn init(&self, name: &str) -> Result<Init, Vec<CheckError>> {
        self.typed(name, |v| match v {
            Val::Init(i) => Some(i),
            _ => None,
        })
    }
    /// `in`, when written, must equal what arrives (`unit`: channels or features).
    pub fn declared_in(
        &self,
        incoming: u64,
        shape: &Shape,
        unit: &str,
    ) -> Result<u64, Vec<CheckError>> {
        match self.given_count("in") {
            Some(declared) if declared != incoming => Err(vec![CheckError::in_channels(
                self.spec.name,
                "in",
                unit,
                declared,
                incoming,
                shape,
                self.span("in"),
            )]),
            _ => Ok(incoming),
        }
    }
    /// The incoming shape must have rank `rank` (`needs` says which, for the message).
    pub fn need_rank(
        &self,
        at: &LayerInput,
        rank: usize,
        needs: &str,
    ) -> Result<(), Vec<CheckError>> {
        if at.shape.rank() == rank {
            Ok(())
        } else {
            Err(vec![CheckError::rank(
                self.spec.name,
                needs,
                at.shape,
                at.after_flatten && rank == 4,
                self.call.name.span,
            )])
        }
    }
    /// The incoming shape must have rank `min` or more.
    pub fn need_rank_at_least(
        &self,
        at: &LayerInput,
        min: usize,
        needs: &str,
    ) -> Result<(), Vec<CheckError>> {
        if at.shape.rank() >= min {
            Ok(())
        } else {
            Err(vec![CheckError::rank(
                self.spec.name,
                needs,
                at.shape,
                false,
                self.call.name.span,
            )])
        }
    }
    /// The channel count (dim 1), which must be known.
    pub fn known_channels(&self, shape: &Shape) -> Result<u64, Vec<CheckError>> {
        match &shape.0[1] {
            Dim::Known(c) => Ok(*c),
            Dim::Sym(s) => Err(vec![CheckError::other(
                "symbolic_channels",
                format!(
                    "`{}` needs a known number of channels, but the input is {shape}",
                    self.spec.name
                ),
                self.call.span,
                &format!("channels `{s}` are symbolic"),
                "only the batch (and spatial sizes) may be symbolic".into(),
            )]),
        }
    }
}

/// Check the arguments of a call against the layer table.
pub fn parse_args<'a>(
    call: &'a LayerCall,
    spec: &'static LayerSpec,
) -> Result<Args<'a>, Vec<CheckError>> {
    let mut vals: HashMap<&'static str, (Val, Span)> = HashMap::new();
    let mut errors = Vec::new();
    let valid: Vec<&str> = spec.args.iter().map(|a| a.name).collect();
    for kv in call.args.iter().flatten() {
        let Some(arg) = spec.arg(&kv.key.name) else {
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
        Ok(Args { spec, call, vals })
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
    if let ArgValue::Bad { text, .. } = &kv.value {
        return Err(CheckError::bad_value(
            format!("`{text}` is not a complete size for `{}`", arg.name),
            span,
            "incomplete size",
            "a size is a number (3) or height x width (3x5), with a number on both sides of `x`"
                .into(),
        ));
    }
    if let ArgValue::Number(n) = &kv.value {
        if let Some(e) = crate::ir::check::literal::number_overflow(n) {
            return Err(e);
        }
    }
    let checked = match arg.ty {
        ArgType::Count | ArgType::Pair => check_size(layer, arg, &kv.value, span),
        ArgType::Padding => check_padding(layer, &kv.value, span),
        ArgType::Bool => match &kv.value {
            ArgValue::Word(w) if w.name == "true" => Some(Ok(Val::Bool(true))),
            ArgValue::Word(w) if w.name == "false" => Some(Ok(Val::Bool(false))),
            ArgValue::Number(n) if n.text == "1" => Some(Ok(Val::Bool(true))),
            ArgValue::Number(n) if n.text == "0" => Some(Ok(Val::Bool(false))),
            _ => None,
        },
        ArgType::Real => match &kv.value {
            ArgValue::Number(n) if n.value.is_finite() => {
                Some(check_range(layer, arg, n.value, &n.text, span).map(|()| Val::Real(n.value)))
            }
            _ => None,
        },
        ArgType::Init => match &kv.value {
            ArgValue::Word(w) => Init::from_name(&w.name).map(|i| Ok(Val::Init(i))),
            _ => None,
        },
    };
    checked.unwrap_or_else(|| {
        let found = value_text(&kv.value);
        Err(CheckError::arg_type(
            layer,
            arg.name,
            arg.ty.describe(),
            &found,
            span,
        ))
    })
}

/// A count or a pair: positive integers. `None` when the value has another type.
fn check_size(
    layer: &str,
    arg: &ArgSpec,
    value: &ArgValue,
    span: Span,
) -> Option<Result<Val, CheckError>> {
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
            return Ok(n as u64);
        }
        let example = if arg.ty == ArgType::Pair {
            "size such as 1 or 2x1"
        } else {
            "integer"
        };
        Err(CheckError::bad_value(
            format!("{what} of `{layer}` must be at least 1, found {n}"),
            span,
            "must be at least 1",
            format!("write a positive {example}"),
        ))
    };
    let pair = arg.ty == ArgType::Pair;
    match value {
        ArgValue::Number(n) => {
            let v = positive(n.as_int()?);
            Some(if pair {
                v.map(|v| Val::Pair([v, v]))
            } else {
                v.map(Val::Count)
            })
        }
        ArgValue::Dims(d) if pair => match d.dims.as_slice() {
            [DimLit::Known(h), DimLit::Known(w)] => {
                let h = positive(i64::try_from(*h).unwrap_or(i64::MAX));
                let w = positive(i64::try_from(*w).unwrap_or(i64::MAX));
                Some(h.and_then(|h| w.map(|w| Val::Pair([h, w]))))
            }
            _ => None,
        },
        _ => None,
    }
}

/// `1`, `1x2`, `same` or `valid`. `None` when the value has another type.
fn check_padding(layer: &str, value: &ArgValue, span: Span) -> Option<Result<Val, CheckError>> {
    let explicit = |h, w| Some(Ok(Val::Pad(PadSpec::Explicit(Pad4::hw(h, w)))));
    match value {
        ArgValue::Number(n) => match n.as_int()? {
            i if i < 0 => Some(Err(CheckError::bad_value(
                format!("padding of `{layer}` must be 0 or more, found {i}"),
                span,
                "negative padding",
                "padding is added on each side: write 0 or more, `same` or `valid`".into(),
            ))),
            i => explicit(i as u64, i as u64),
        },
        ArgValue::Dims(d) => match d.dims.as_slice() {
            [DimLit::Known(h), DimLit::Known(w)] => explicit(*h, *w),
            _ => None,
        },
        ArgValue::Word(w) if w.name == "same" => Some(Ok(Val::Pad(PadSpec::Same))),
        ArgValue::Word(w) if w.name == "valid" => Some(Ok(Val::Pad(PadSpec::Valid))),
        _ => None,
    }
}

fn check_range(
    layer: &str,
    arg: &ArgSpec,
    value: f64,
    text: &str,
    span: Span,
) -> Result<(), CheckError> {
    let name = arg.name;
    let out_of_range = |help: String| {
        Err(CheckError::bad_value(
            format!("`{name}` of `{layer}` is out of range: {text}"),
            span,
            "out of range",
            help,
        ))
    };
    match arg.range {
        Range::Any => Ok(()),
        Range::Probability if !(0.0..1.0).contains(&value) => Err(CheckError::bad_value(
            format!("{layer} probability must be in [0, 1), found {text}"),
            span,
            "out of range",
            format!("write a probability such as {name}=0.5"),
        )),
        Range::Positive if value <= 0.0 => out_of_range(format!("{name} must be positive")),
        Range::Fraction if !(0.0..=1.0).contains(&value) => {
            out_of_range(format!("{name} must be in [0, 1]"))
        }
        Range::Probability | Range::Positive | Range::Fraction => Ok(()),
    }
}
