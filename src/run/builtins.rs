//! The builtin functions (`ones(6x8)`, `load("d.npz")`...): arguments are
//! evaluated as the table in [`crate::ir::builtins`] says, then the one
//! function of the builtin runs. Methods (`X.sum()`) are in `methods.rs`.

use ndarray::{ArrayD, Axis, IxDyn};
use rand::Rng;
use rand_distr::{Distribution, StandardNormal};

use super::error::{RunError, RunResult};
use super::eval::Evaluated;
use super::Interp;
use crate::ir::builtins::{ArgKind, BuiltinSpec, Function};
use crate::ir::value_shape;
use crate::syntax::ast::{Expr, ExprKind, Span};
use crate::value::Value;

/// One argument, evaluated as its parameter's kind asks.
pub enum Arg {
    Dims(Vec<usize>),
    Shape(Vec<i64>),
    Number(f32),
    Tensor(ArrayD<f32>),
    Value(Value),
    Path(String),
}

/// The evaluated arguments of a call, each with its span.
pub struct Args {
    items: Vec<(Arg, Span)>,
    /// The whole call.
    pub span: Span,
    name: &'static str,
}

impl Args {
    /// How many arguments were given.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// True when the call has no arguments.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The span of argument `i` (the call's when there is none).
    pub fn span_of(&self, i: usize) -> Span {
        self.items.get(i).map_or(self.span, |a| a.1)
    }

    fn get(&self, i: usize) -> RunResult<&Arg> {
        self.items.get(i).map(|a| &a.0).ok_or_else(|| {
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

    /// Argument `i`, a [`ArgKind::Tensor`].
    pub fn tensor(&self, i: usize) -> RunResult<&ArrayD<f32>> {
        match self.get(i)? {
            Arg::Tensor(t) => Ok(t),
            _ => Err(self.mismatch(i, ArgKind::Tensor)),
        }
    }

    /// Argument `i`, a [`ArgKind::Value`], moved out.
    pub fn take_value(&mut self, i: usize) -> RunResult<Value> {
        match self.items.get_mut(i) {
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
    /// Check the number of arguments against the table and evaluate each as
    /// its parameter's kind says, in order.
    pub(super) fn eval_args(
        &mut self,
        spec: &'static BuiltinSpec,
        args: &[Expr],
        args_span: Span,
        span: Span,
    ) -> RunResult<Args> {
        if let Some(message) = spec.arity_message(args.len()) {
            return Err(
                RunError::new(message, args_span, "wrong number of arguments").help(format!(
                    "{}: {}",
                    spec.signature(),
                    spec.help
                )),
            );
        }
        let mut items = Vec::with_capacity(args.len());
        for (param, e) in spec.params.iter().zip(args) {
            let arg = match param.kind {
                ArgKind::Dims => Arg::Dims(self.eval_dims(e)?),
                ArgKind::Shape => Arg::Shape(self.eval_shape(e)?),
                ArgKind::Number => Arg::Number(self.eval_number(e)?),
                ArgKind::Tensor => Arg::Tensor(self.eval_float(e)?),
                ArgKind::Value => Arg::Value(self.eval(e)?),
                ArgKind::Path => match &e.kind {
                    ExprKind::Str(s) => {
                        items.push((Arg::Path(s.value.clone()), s.span));
                        continue;
                    }
                    _ => {
                        return Err(RunError::new(
                            format!("`{}` takes a file name in quotes", spec.name),
                            e.span,
                            "not a string",
                        ))
                    }
                },
            };
            items.push((arg, e.span));
        }
        Ok(Args {
            items,
            span,
            name: spec.name,
        })
    }

    /// Call the builtin function `f` (its table entry `spec`).
    pub(super) fn call_function(
        &mut self,
        (spec, f): (&'static BuiltinSpec, Function),
        args: &[Expr],
        args_span: Span,
        span: Span,
    ) -> RunResult<Evaluated> {
        let mut args = self.eval_args(spec, args, args_span, span)?;
        let tensor = |t: ArrayD<f32>| Ok(Evaluated::Value(Value::Float(t)));
        match f {
            Function::Ones => tensor(ArrayD::ones(IxDyn(args.dims(0)?))),
            Function::Zeros => tensor(ArrayD::zeros(IxDyn(args.dims(0)?))),
            Function::Full => tensor(ArrayD::from_elem(IxDyn(args.dims(0)?), args.number(1)?)),
            Function::Rand => tensor(self.rand(args.dims(0)?)),
            Function::Randn => tensor(self.randn(args.dims(0)?)),
            Function::Arange => tensor(arange(&args)?),
            Function::Load => self.load(&args).map(Evaluated::Value),
            Function::Corr2d => tensor(corr2d(&args)?),
            Function::Split => {
                let v = args.take_value(0)?;
                self.split(v, args.number(1)?, span).map(Evaluated::Tuple)
            }
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
        if !(0.0..=1.0).contains(&frac) {
            return Err(RunError::new(
                format!("split fraction must be in [0, 1], found {frac}"),
                span,
                "out of range",
            ));
        }
        let n = match &v {
            Value::Bundle(m) => m
                .values()
                .next()
                .and_then(|a| a.shape().and_then(|s| s.first().copied()))
                .unwrap_or(0),
            other => other.shape().and_then(|s| s.first().copied()).unwrap_or(0),
        };
        if let Value::Bundle(m) = &v {
            if let Some((name, _)) = m
                .iter()
                .find(|(_, a)| a.shape().and_then(|s| s.first().copied()) != Some(n))
            {
                return Err(RunError::new(
                    format!("split: array `{name}` has a different length than the others"),
                    span,
                    "lengths differ",
                ));
            }
        }
        let mut order: Vec<usize> = (0..n).collect();
        for i in (1..n).rev() {
            let j = self.rng.random_range(0..=i);
            order.swap(i, j);
        }
        let cut = ((n as f64) * frac as f64).round() as usize;
        let (a, b) = order.split_at(cut.min(n));
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
    if step == 0.0 || !step.is_finite() {
        return Err(RunError::new(
            "`arange` step must be non-zero",
            span,
            "zero step",
        ));
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
    let out = value_shape::corr2d(x.shape(), k.shape())
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
            let args: Vec<String> = spec
                .params
                .iter()
                .map(|p| match p.kind {
                    ArgKind::Dims | ArgKind::Shape => "4x2".to_string(),
                    ArgKind::Number => "0.5".to_string(),
                    ArgKind::Tensor | ArgKind::Value => "ones(3x3)".to_string(),
                    ArgKind::Path => "\"t.npy\"".to_string(),
                })
                .collect();
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
