//! The builtin functions (`ones(6x8)`, `load("d.npz")`...): arguments are
//! evaluated as the table in [`crate::ir::builtins`] says, then the one
//! function of the builtin runs. Methods (`X.sum()`) are in `methods.rs`.

use ndarray::{ArrayD, Axis, IxDyn};
use rand::Rng;
use rand_distr::{Distribution, StandardNormal};

use super::draws::{shuffle, Draw};
use super::error::{RunError, RunResult};
use super::eval::Evaluated;
use super::Interp;
use crate::ir::builtins::{self, bool_word, number_rule, ArgKind, BuiltinSpec, Function};
use crate::syntax::ast::{Expr, ExprKind, NamedArg, Span};
use crate::tensor::join::{join, Join};
use crate::value::Value;

/// One argument, evaluated as its parameter's kind asks.
pub enum Arg {
    Dims(Vec<usize>),
    Shape(Vec<i64>),
    Number(f32),
    Int(i64),
    Bool(bool),
    /// A tensor, its dtype kept (`tensor` converts to float on request).
    Tensor(Value),
    Tensors(Vec<Value>),
    Value(Value),
    Path(String),
}

/// The evaluated arguments of a call, bound to its parameters, each with
/// its span.
pub struct Args<'a> {
    /// Per parameter, in table order: the arguments given for it.
    items: Vec<Vec<(Arg, Span)>>,
    /// Named arguments for the layer of a layer function.
    pub layer_args: Vec<&'a NamedArg>,
    /// The whole call.
    pub span: Span,
    name: &'static str,
}

impl Args<'_> {
    /// How many positional parameters were given.
    pub fn len(&self) -> usize {
        self.items.iter().filter(|i| !i.is_empty()).count()
    }

    /// True when the call has no arguments.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether parameter `i` was given.
    pub fn given(&self, i: usize) -> bool {
        self.items.get(i).is_some_and(|v| !v.is_empty())
    }

    /// The span of argument `i` (the call's when there is none).
    pub fn span_of(&self, i: usize) -> Span {
        self.items
            .get(i)
            .and_then(|v| v.first())
            .map_or(self.span, |a| a.1)
    }

    fn get(&self, i: usize) -> RunResult<&Arg> {
        self.items
            .get(i)
            .and_then(|v| v.first())
            .map(|a| &a.0)
            .ok_or_else(|| {
                RunError::new(
                    format!("`{}` is missing argument {}", self.name, i + 1),
                    self.span,
                    "too few arguments",
                )
            })
    }

    fn mismatch(&self, i: usize, want: ArgKind) -> RunError {
        RunError::new(
            format!(
                "internal error: argument {} of `{}` is not {}",
                i + 1,
                self.name,
                want.describe()
            ),
            self.span_of(i),
            "here",
        )
    }

    /// Argument `i`, a [`ArgKind::Dims`].
    pub fn dims(&self, i: usize) -> RunResult<&[usize]> {
        match self.get(i)? {
            Arg::Dims(d) => Ok(d),
            _ => Err(self.mismatch(i, ArgKind::Dims)),
        }
    }

    /// Argument `i`, a [`ArgKind::Shape`].
    pub fn shape(&self, i: usize) -> RunResult<&[i64]> {
        match self.get(i)? {
            Arg::Shape(d) => Ok(d),
            _ => Err(self.mismatch(i, ArgKind::Shape)),
        }
    }

    /// Argument `i`, a [`ArgKind::Number`].
    pub fn number(&self, i: usize) -> RunResult<f32> {
        match self.get(i)? {
            Arg::Number(v) => Ok(*v),
            _ => Err(self.mismatch(i, ArgKind::Number)),
        }
    }

    /// Argument `i`, an optional [`ArgKind::Int`].
    pub fn int(&self, i: usize) -> RunResult<Option<i64>> {
        match self.items.get(i).and_then(|v| v.first()) {
            None => Ok(None),
            Some((Arg::Int(v), _)) => Ok(Some(*v)),
            Some(_) => Err(self.mismatch(i, ArgKind::Int)),
        }
    }

    /// Every argument given for a repeated [`ArgKind::Int`] parameter `i`.
    pub fn ints(&self, i: usize) -> RunResult<Vec<i64>> {
        self.items
            .get(i)
            .map_or(&[][..], Vec::as_slice)
            .iter()
            .map(|(a, _)| match a {
                Arg::Int(v) => Ok(*v),
                _ => Err(self.mismatch(i, ArgKind::Int)),
            })
            .collect()
    }

    /// Argument `i`, an optional [`ArgKind::Bool`] (false when not given).
    pub fn flag(&self, i: usize) -> RunResult<bool> {
        match self.items.get(i).and_then(|v| v.first()) {
            None => Ok(false),
            Some((Arg::Bool(b), _)) => Ok(*b),
            Some(_) => Err(self.mismatch(i, ArgKind::Bool)),
        }
    }

    /// Argument `i`, a [`ArgKind::Tensor`] as floats.
    pub fn tensor(&self, i: usize) -> RunResult<ArrayD<f32>> {
        self.value(i)?
            .to_float()
            .ok_or_else(|| self.mismatch(i, ArgKind::Tensor))
    }

    /// Argument `i`, a [`ArgKind::Tensor`] with its dtype.
    pub fn value(&self, i: usize) -> RunResult<&Value> {
        match self.get(i)? {
            Arg::Tensor(v) | Arg::Value(v) => Ok(v),
            _ => Err(self.mismatch(i, ArgKind::Tensor)),
        }
    }

    /// Argument `i`, an optional [`ArgKind::Tensor`] with its dtype.
    pub fn optional_value(&self, i: usize) -> RunResult<Option<&Value>> {
        if self.given(i) {
            self.value(i).map(Some)
        } else {
            Ok(None)
        }
    }

    /// Argument `i`, a [`ArgKind::Tensors`].
    pub fn tensors(&self, i: usize) -> RunResult<&[Value]> {
        match self.get(i)? {
            Arg::Tensors(v) => Ok(v),
            _ => Err(self.mismatch(i, ArgKind::Tensors)),
        }
    }

    /// Argument `i`, a [`ArgKind::Value`], moved out.
    pub fn take_value(&mut self, i: usize) -> RunResult<Value> {
        match self.items.get_mut(i).and_then(|v| v.first_mut()) {
            Some((Arg::Value(v), _)) => Ok(std::mem::replace(v, Value::Bundle(Default::default()))),
            _ => Err(self.mismatch(i, ArgKind::Value)),
        }
    }

    /// Argument `i`, a [`ArgKind::Path`].
    pub fn path(&self, i: usize) -> RunResult<&str> {
        match self.get(i)? {
            Arg::Path(p) => Ok(p),
            _ => Err(self.mismatch(i, ArgKind::Path)),
        }
    }
}

impl Interp {
    /// Bind the arguments as the table says (the checker's rules) and
    /// evaluate each as its parameter's kind says, in order.
    pub(super) fn eval_args<'a>(
        &mut self,
        spec: &'static BuiltinSpec,
        (args, named): (&'a [Expr], &'a [NamedArg]),
        args_span: Span,
        span: Span,
    ) -> RunResult<Args<'a>> {
        let bound = builtins::bind(spec, args, named, args_span).map_err(|mut e| {
            e.truncate(1);
            e.pop().map_or_else(
                || RunError::new("bad arguments", args_span, "here"),
                RunError::from_check,
            )
        })?;
        let mut items = Vec::with_capacity(spec.params.len());
        for (i, param) in spec.params.iter().enumerate() {
            let mut slot = Vec::new();
            for e in bound.all(i) {
                slot.push((self.eval_arg(spec, param.kind, e)?, e.span));
            }
            items.push(slot);
        }
        Ok(Args {
            items,
            layer_args: bound.layer_args,
            span,
            name: spec.name,
        })
    }

    /// One argument, as `kind` asks.
    fn eval_arg(&mut self, spec: &BuiltinSpec, kind: ArgKind, e: &Expr) -> RunResult<Arg> {
        Ok(match kind {
            ArgKind::Dims => Arg::Dims(self.eval_dims(e)?),
            ArgKind::Shape => Arg::Shape(self.eval_shape(e)?),
            ArgKind::Number => Arg::Number(self.eval_number(e)?),
            ArgKind::Int => Arg::Int(self.eval_int(e)?),
            ArgKind::Bool => match &e.kind {
                ExprKind::Name(id) if bool_word(&id.name).is_some() => {
                    Arg::Bool(bool_word(&id.name).unwrap_or(false))
                }
                _ => {
                    return Err(RunError::new(
                        format!("`{}` takes `true` or `false` here", spec.name),
                        e.span,
                        "not a boolean",
                    ))
                }
            },
            ArgKind::Tensor => {
                let v = self.eval(e)?;
                if v.shape().is_none() && !matches!(v, Value::Dims(_) | Value::Count(_)) {
                    return Err(RunError::new(
                        format!("expected a tensor, found a {}", v.type_name()),
                        e.span,
                        "not a tensor",
                    )
                    .help("pick one of its arrays with `.name`"));
                }
                Arg::Tensor(crate::tensor::tensor_value(v).unwrap_or(Value::Count(0)))
            }
            ArgKind::Tensors => match &e.kind {
                ExprKind::List(items) => {
                    let mut vs = Vec::with_capacity(items.len());
                    for item in items {
                        vs.push(self.eval(item)?);
                    }
                    Arg::Tensors(vs)
                }
                _ => {
                    return Err(RunError::new(
                        format!("`{}` takes its tensors in brackets: [A, B]", spec.name),
                        e.span,
                        "not a list",
                    ))
                }
            },
            ArgKind::Value => Arg::Value(self.eval(e)?),
            ArgKind::Path => match &e.kind {
                ExprKind::Str(s) => Arg::Path(s.value.clone()),
                _ => {
                    return Err(RunError::new(
                        format!("`{}` takes a file name in quotes", spec.name),
                        e.span,
                        "not a string",
                    ))
                }
            },
        })
    }

    /// Call the builtin function `f` (its table entry `spec`).
    pub(super) fn call_function(
        &mut self,
        (spec, f): (&'static BuiltinSpec, Function),
        (args, named): (&[Expr], &[NamedArg]),
        args_span: Span,
        span: Span,
    ) -> RunResult<Evaluated> {
        let mut args = self.eval_args(spec, (args, named), args_span, span)?;
        let tensor = |t: ArrayD<f32>| Ok(Evaluated::Value(Value::Float(t)));
        let op = |r: Result<Value, crate::tensor::OpError>| {
            r.map(Evaluated::Value).map_err(|e| RunError::op(e, span))
        };
        match f {
            Function::Ones => tensor(ArrayD::ones(IxDyn(args.dims(0)?))),
            Function::Zeros => tensor(ArrayD::zeros(IxDyn(args.dims(0)?))),
            Function::Full => tensor(ArrayD::from_elem(IxDyn(args.dims(0)?), args.number(1)?)),
            Function::Rand => {
                let t = self.rand(args.dims(0)?);
                self.note_draw(span, || Draw::Uniform(t.clone()));
                tensor(t)
            }
            Function::Randn => {
                let t = self.randn(args.dims(0)?);
                self.note_draw(span, || Draw::Normal(t.clone()));
                tensor(t)
            }
            Function::Arange => tensor(arange(&args)?),
            Function::Load => self.load(&args).map(Evaluated::Value),
            Function::Corr2d => tensor(corr2d(&args)?),
            Function::Split => {
                let v = args.take_value(0)?;
                self.split(v, args.number(1)?, span).map(Evaluated::Tuple)
            }
            Function::Matmul => op(crate::tensor::matmul::matmul(
                args.value(0)?,
                args.value(1)?,
            )),
            Function::Cat => op(join(Join::Cat, args.tensors(0)?, args.int(1)?.unwrap_or(0))),
            Function::Stack => op(join(
                Join::Stack,
                args.tensors(0)?,
                args.int(1)?.unwrap_or(0),
            )),
            Function::Layer | Function::Conv2d | Function::Linear => self
                .layer_fn((spec, f), &args, span)
                .map(|t| Evaluated::Value(Value::Float(t))),
        }
    }

    /// `rand(D)`: uniform in [0, 1), from the script's generator.
    fn rand(&mut self, dims: &[usize]) -> ArrayD<f32> {
        let rng = &mut self.rng;
        ArrayD::from_shape_simple_fn(IxDyn(dims), || rng.random::<f32>())
    }

    /// `randn(D)`: standard normal, from the script's generator.
    fn randn(&mut self, dims: &[usize]) -> ArrayD<f32> {
        let rng = &mut self.rng;
        ArrayD::from_shape_simple_fn(IxDyn(dims), || StandardNormal.sample(rng))
    }

    /// `load("file")`, relative to the script's folder.
    fn load(&mut self, args: &Args) -> RunResult<Value> {
        crate::io::load_value(&self.path(args.path(0)?))
            .map_err(|e| RunError::io(&e, args.span_of(0)))
    }

    /// `split(D, 0.8)`: a seeded shuffle, then the first 80% and the rest.
    /// Works on a tensor (split along dim 0) or a bundle (every array alike).
    fn split(&mut self, v: Value, frac: f32, span: Span) -> RunResult<Vec<Value>> {
        if let Some(message) = number_rule("split", "fraction", frac.into(), &frac.to_string()) {
            return Err(RunError::new(message, span, "out of range"));
        }
        let rows = |a: &Value| {
            crate::ir::value_shape::split_rows(a.shape().unwrap_or(&[]))
                .map_err(|(message, label)| RunError::new(message, span, label))
        };
        let n = match &v {
            Value::Bundle(m) => match m.values().next() {
                Some(a) => rows(a)?,
                None => 0,
            },
            Value::Dims(_) | Value::Count(_) => 0,
            other => rows(other)?,
        };
        if let Value::Bundle(m) = &v {
            if let Some((name, _)) = m.iter().find(|(_, a)| rows(a).ok() != Some(n)) {
                return Err(RunError::new(
                    format!("split: array `{name}` has a different length than the others"),
                    span,
                    "lengths differ",
                ));
            }
        }
        let mut order: Vec<usize> = (0..n).collect();
        shuffle(&mut self.rng, &mut order);
        let cut = ((n as f64) * frac as f64).round() as usize;
        let (a, b) = order.split_at(cut.min(n));
        self.note_draw(span, || Draw::Split {
            first: a.to_vec(),
            rest: b.to_vec(),
        });
        Ok(vec![take_rows(&v, a), take_rows(&v, b)])
    }
}

/// `arange(end)` or `arange(start, end[, step])`.
fn arange(args: &Args) -> RunResult<ArrayD<f32>> {
    let span = args.span;
    let (start, end, step) = match args.len() {
        1 => (0.0, args.number(0)?, 1.0),
        2 => (args.number(0)?, args.number(1)?, 1.0),
        _ => (args.number(0)?, args.number(1)?, args.number(2)?),
    };
    if let Some(message) = number_rule("arange", "step", step.into(), &step.to_string()) {
        return Err(RunError::new(message, span, "zero step"));
    }
    let count = ((end - start) / step).ceil().max(0.0) as u64;
    crate::io::check_alloc(count, "arange").map_err(|e| RunError::io(&e, span))?;
    let data: Vec<f32> = (0..count).map(|i| start + i as f32 * step).collect();
    ArrayD::from_shape_vec(IxDyn(&[data.len()]), data)
        .map_err(|e| RunError::new(e.to_string(), span, "here"))
}

/// `corr2d(X, K)`: the chapter's 2-D cross-correlation.
fn corr2d(args: &Args) -> RunResult<ArrayD<f32>> {
    let span = args.span;
    let (x, k) = (args.tensor(0)?, args.tensor(1)?);
    let out = crate::ir::value_shape::corr2d(x.shape(), k.shape())
        .map_err(|(message, label)| RunError::new(message, span, label))?;
    let (h, w, kh, kw) = (x.shape()[0], x.shape()[1], k.shape()[0], k.shape()[1]);
    let xs: Vec<f32> = x.iter().copied().collect();
    let ks: Vec<f32> = k.iter().copied().collect();
    let y = crate::ops::conv::corr2d(&xs, h, w, &ks, kh, kw);
    ArrayD::from_shape_vec(IxDyn(&out), y).map_err(|e| RunError::new(e.to_string(), span, "here"))
}

/// The rows `rows` (along dim 0) of a tensor, or of every array of a bundle.
fn take_rows(v: &Value, rows: &[usize]) -> Value {
    match v {
        Value::Float(a) => Value::Float(a.select(Axis(0), rows)),
        Value::Int(a) => Value::Int(a.select(Axis(0), rows)),
        Value::Bool(a) => Value::Bool(a.select(Axis(0), rows)),
        Value::Dims(_) | Value::Count(_) => v.clone(),
        Value::Bundle(m) => Value::Bundle(
            m.iter()
                .map(|(k, a)| (k.clone(), take_rows(a, rows)))
                .collect(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::builtins::{of_form, Form, BUILTINS};

    /// A call of every function with arguments of the kinds its table
    /// entry asks for: each runs (none is listed but missing).
    #[test]
    fn every_function_in_the_table_runs() {
        let dir = tempfile::tempdir().expect("temp dir");
        crate::io::save_value(
            &dir.path().join("t.npy"),
            &Value::Float(ArrayD::ones(IxDyn(&[4, 2]))),
        )
        .expect("save");
        let mut interp = Interp::new();
        interp.base_dir = dir.path().to_path_buf();
        for spec in of_form(Form::Function) {
            // the optional parameters too, except a layer function's bias
            let mut args: Vec<String> = spec
                .params
                .iter()
                .filter(|p| !(p.optional && p.name == "bias"))
                .map(|p| match p.kind {
                    ArgKind::Dims | ArgKind::Shape => "4x2".to_string(),
                    ArgKind::Number => "0.5".to_string(),
                    ArgKind::Int => "0".to_string(),
                    ArgKind::Bool => "true".to_string(),
                    ArgKind::Tensor | ArgKind::Value => "ones(3x3)".to_string(),
                    ArgKind::Tensors => "[ones(3x3), ones(3x3)]".to_string(),
                    ArgKind::Path => "\"t.npy\"".to_string(),
                })
                .collect();
            if let Some(l) = spec.layer {
                let required = l
                    .layer
                    .args
                    .iter()
                    .filter(|a| matches!(a.default, crate::layers::ArgDefault::Required))
                    .filter(|a| !l.from_data.iter().any(|(d, _)| *d == a.name));
                args.extend(required.map(|a| format!("{}=2", a.name)));
            }
            let text = format!("print {}({})", spec.name, args.join(", "));
            let script = crate::syntax::parse::parse_script(&text).expect("parses");
            let checked = crate::ir::check::check_script(&script);
            assert!(!checked.has_errors(), "{text}: {:?}", checked.diagnostics);
            let mut out = Vec::new();
            interp
                .exec_stmt(&script.stmts[0], &checked.stmts[0], &mut out)
                .unwrap_or_else(|e| panic!("{text}: {e}"));
            assert!(!out.is_empty(), "{text}");
        }
        assert!(BUILTINS.iter().any(|b| b.form() == Form::Method));
    }

    #[test]
    fn split_refuses_a_scalar_and_a_scalar_in_a_bundle() {
        let mut interp = Interp::new();
        let scalar = || Value::Float(ArrayD::from_elem(IxDyn(&[]), 3.0));
        let err = interp.split(scalar(), 0.5, Span::new(0, 0)).unwrap_err();
        assert!(err.message.contains("not a scalar"), "{}", err.message);
        let rows = Value::Float(ArrayD::zeros(IxDyn(&[4, 2])));
        let bundle = Value::Bundle([("a".to_string(), rows), ("b".to_string(), scalar())].into());
        let err = interp.split(bundle, 0.5, Span::new(0, 0)).unwrap_err();
        assert!(err.message.contains("different length"), "{}", err.message);
    }

    #[test]
    fn split_keeps_every_row_once() {
        let mut interp = Interp::new();
        let v = Value::Float(ArrayD::from_shape_fn(IxDyn(&[10, 1]), |i| i[0] as f32));
        let parts = interp.split(v, 0.8, Span::new(0, 0)).expect("splits");
        let mut rows: Vec<f32> = parts
            .iter()
            .flat_map(|p| p.to_float().expect("tensor").into_iter())
            .collect();
        assert_eq!(parts[0].shape(), Some(&[8usize, 1][..]));
        rows.sort_by(f32::total_cmp);
        assert_eq!(rows, (0..10).map(|i| i as f32).collect::<Vec<_>>());
    }
}
