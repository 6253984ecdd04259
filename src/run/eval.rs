//! Expressions: literals, builtins, indexing, arithmetic, model application.

use ndarray::{ArrayD, Axis, IxDyn, SliceInfoElem};
use rand::Rng;
use rand_distr::{Distribution, StandardNormal};

use super::draws::{shuffle, Draw};
use super::error::{RunError, RunResult};
use super::Interp;
use crate::syntax::ast::*;
use crate::value::{dims_string, Value};

/// What an expression evaluates to.
pub enum Evaluated {
    Value(Value),
    /// A model name (for `save m "f"`, `print m`).
    Model(String),
    /// Several values (`split(D, 0.8)`), for `let (a, b) = ...`.
    Tuple(Vec<Value>),
}

fn scalar(v: f32) -> Value {
    Value::Float(ArrayD::from_elem(IxDyn(&[]), v))
}

impl Interp {
    /// Evaluate an expression to a value.
    pub fn eval(&mut self, expr: &Expr) -> RunResult<Value> {
        match self.eval_any(expr)? {
            Evaluated::Value(v) => Ok(v),
            Evaluated::Model(name) => Err(RunError::new(
                format!("`{name}` is a model, not a tensor"),
                expr.span,
                "a model",
            )
            .help(format!("apply it to a tensor: `{name}(X)`"))),
            Evaluated::Tuple(_) => {
                Err(
                    RunError::new("this gives several values", expr.span, "a tuple")
                        .help("bind them with `let (a, b) = ...`"),
                )
            }
        }
    }

    /// Evaluate to a float tensor (integer tensors convert).
    pub fn eval_float(&mut self, expr: &Expr) -> RunResult<ArrayD<f32>> {
        let v = self.eval(expr)?;
        v.to_float().ok_or_else(|| {
            RunError::new(
                format!("expected a tensor, found a {}", v.type_name()),
                expr.span,
                "not a tensor",
            )
            .help("pick one of its arrays with `.name`")
        })
    }

    /// Evaluate anything an expression can stand for.
    pub fn eval_any(&mut self, expr: &Expr) -> RunResult<Evaluated> {
        let span = expr.span;
        let v = match &expr.kind {
            ExprKind::Number(n) => scalar(n.value as f32),
            ExprKind::Str(s) => {
                return Err(RunError::new(
                    format!("a string (\"{}\") is not a value here", s.value),
                    span,
                    "string",
                )
                .help("strings name files: `load(\"x.npy\")`"))
            }
            ExprKind::Dims(d) => {
                return Err(RunError::new("dims are not a tensor", d.span, "dims")
                    .help("make a tensor of that shape with `zeros(6x8)` or `ones(6x8)`"))
            }
            ExprKind::List(items) => self.eval_list(items, span)?,
            ExprKind::Name(id) => {
                if let Some(v) = self.tensors.get(&id.name) {
                    v.clone()
                } else if self.models.contains_key(&id.name) {
                    return Ok(Evaluated::Model(id.name.clone()));
                } else {
                    return Err(RunError::new(
                        format!("unknown name `{}`", id.name),
                        id.span,
                        "not defined",
                    ));
                }
            }
            ExprKind::Call { callee, args, .. } => return self.eval_call(callee, args, span),
            ExprKind::Field { base, field } => {
                return self.eval_field(base, field, span).map(Evaluated::Value)
            }
            ExprKind::Index { base, items } => {
                let v = self.eval(base)?;
                index_value(&v, &self.eval_index(items)?)?
            }
            ExprKind::Neg(e) => match self.eval(e)? {
                Value::Float(a) => Value::Float(-a),
                Value::Int(a) => Value::Int(-a),
                Value::Bundle(_) => return Err(not_tensor(e.span)),
            },
            ExprKind::Binary { op, lhs, rhs } => {
                let a = self.eval_float(lhs)?;
                let b = self.eval_float(rhs)?;
                binary(*op, &a, &b, span)?
            }
        };
        Ok(Evaluated::Value(v))
    }

    fn eval_list(&mut self, items: &[Expr], span: Span) -> RunResult<Value> {
        if items.is_empty() {
            return Ok(Value::Float(ArrayD::zeros(IxDyn(&[0]))));
        }
        let mut parts = Vec::with_capacity(items.len());
        for e in items {
            parts.push(self.eval_float(e)?);
        }
        let inner = parts[0].shape().to_vec();
        if let Some((i, p)) = parts
            .iter()
            .enumerate()
            .find(|(_, p)| p.shape() != inner.as_slice())
        {
            return Err(RunError::new(
                format!(
                    "a nested list must be rectangular: element 0 has shape {}, element {i} has {}",
                    shape_words(&inner),
                    shape_words(p.shape())
                ),
                items[i].span,
                "different length",
            ));
        }
        let mut shape = vec![items.len()];
        shape.extend_from_slice(&inner);
        let data: Vec<f32> = parts.iter().flat_map(|p| p.iter().copied()).collect();
        ArrayD::from_shape_vec(IxDyn(&shape), data)
            .map(Value::Float)
            .map_err(|e| RunError::new(e.to_string(), span, "here"))
    }

    fn eval_call(&mut self, callee: &Expr, args: &[Expr], span: Span) -> RunResult<Evaluated> {
        match &callee.kind {
            ExprKind::Name(id) if self.models.contains_key(&id.name) => {
                if args.len() != 1 {
                    return Err(RunError::new(
                        format!("a model takes one tensor, found {} arguments", args.len()),
                        span,
                        "wrong number of arguments",
                    ));
                }
                // `m(X)` with X bound: borrow X instead of copying a large input
                if let ExprKind::Name(arg) = &args[0].kind {
                    let is_float = matches!(self.tensors.get(&arg.name), Some(Value::Float(_)));
                    if is_float {
                        if let Some(Value::Float(x)) = self.tensors.remove(&arg.name) {
                            let out = self.apply_model(&id.name, &x, None, span);
                            self.tensors.insert(arg.name.clone(), Value::Float(x));
                            return Ok(Evaluated::Value(Value::Float(out?)));
                        }
                    }
                }
                let x = self.arg_float(args, 0, span, "a tensor")?;
                let out = self.apply_model(&id.name, &x, None, span)?;
                Ok(Evaluated::Value(Value::Float(out)))
            }
            ExprKind::Name(id) => self.builtin(&id.name, args, span),
            ExprKind::Field { base, field } => {
                let v = self.eval(base)?;
                self.method(v, field, args, span).map(Evaluated::Value)
            }
            ExprKind::Index { base, items } => {
                // `m[0:2](X)`: the first layers of a model
                let ExprKind::Name(id) = &base.kind else {
                    return Err(RunError::new(
                        "only a model slice can be called",
                        callee.span,
                        "not callable",
                    ));
                };
                if !self.models.contains_key(&id.name) {
                    return Err(RunError::new(
                        format!("`{}` is not a model", id.name),
                        id.span,
                        "not a model",
                    ));
                }
                let n_layers = self.models[&id.name].ir.layers().count();
                let end = match items.as_slice() {
                    [IndexItem::Slice {
                        start,
                        stop,
                        step: None,
                        ..
                    }] => {
                        // the first layers only: `m[:K]` or `m[0:K]`
                        if let Some(s) = start {
                            if self.eval_int(s)? != 0 {
                                return Err(RunError::new(
                                    "a model slice must start at layer 0",
                                    s.span,
                                    "not 0",
                                )
                                .help("write m[0:K] to run the first K layers"));
                            }
                        }
                        match stop {
                            Some(e) => self.eval_int(e)?,
                            None => n_layers as i64,
                        }
                    }
                    _ => {
                        return Err(RunError::new(
                            "a model slice is written m[0:K] (its first K layers)",
                            callee.span,
                            "unsupported slice",
                        ))
                    }
                };
                let end = if end < 0 { n_layers as i64 + end } else { end }
                    .clamp(0, n_layers as i64) as usize;
                if self.models[&id.name].ir.is_graph {
                    return Err(RunError::new(
                        "slicing a graph model is not supported",
                        callee.span,
                        "graph model",
                    )
                    .help("slice a plain (sequential) model"));
                }
                let x = self.arg_float(args, 0, span, "a tensor")?;
                let out = self.apply_model(&id.name, &x, Some(end), span)?;
                Ok(Evaluated::Value(Value::Float(out)))
            }
            _ => Err(RunError::new(
                "this cannot be called",
                callee.span,
                "not a function",
            )),
        }
    }

    /// Evaluate argument `i` as a float tensor.
    fn arg_float(
        &mut self,
        args: &[Expr],
        i: usize,
        span: Span,
        what: &str,
    ) -> RunResult<ArrayD<f32>> {
        match args.get(i) {
            Some(e) => self.eval_float(e),
            None => Err(RunError::new(
                format!("missing argument {}: {what}", i + 1),
                span,
                "too few arguments",
            )),
        }
    }

    /// An integer-valued expression.
    pub fn eval_int(&mut self, e: &Expr) -> RunResult<i64> {
        let a = self.eval_float(e)?;
        if a.ndim() != 0 && a.len() != 1 {
            return Err(RunError::new("expected a number", e.span, "not a number"));
        }
        let v = a.iter().next().copied().unwrap_or(0.0);
        if v.fract() != 0.0 || !v.is_finite() {
            return Err(RunError::new(
                format!("expected an integer, found {v}"),
                e.span,
                "not an integer",
            ));
        }
        Ok(v as i64)
    }

    fn eval_number(&mut self, e: &Expr) -> RunResult<f32> {
        let a = self.eval_float(e)?;
        if a.len() != 1 {
            return Err(RunError::new("expected a number", e.span, "not a number"));
        }
        Ok(a.iter().next().copied().unwrap_or(0.0))
    }

    /// Dims from a dims literal, a number, or a 1-D tensor of sizes.
    fn eval_dims(&mut self, e: &Expr) -> RunResult<Vec<usize>> {
        let dims = match &e.kind {
            ExprKind::Dims(d) => d
                .dims
                .iter()
                .map(|x| match x {
                    DimLit::Known(n) => usize::try_from(*n).map_err(|_| too_big(e.span)),
                    DimLit::Sym(s) => Err(RunError::new(
                        format!("`{s}` is a symbolic size; a tensor needs concrete sizes"),
                        d.span,
                        "symbolic",
                    )
                    .help("write the number, e.g. 4x1x28x28")),
                })
                .collect::<RunResult<Vec<usize>>>()?,
            _ => {
                let n = self.eval_int(e)?;
                if n < 0 {
                    return Err(RunError::new(
                        format!("a size cannot be negative ({n})"),
                        e.span,
                        "negative",
                    ));
                }
                vec![n as usize]
            }
        };
        let total = dims
            .iter()
            .try_fold(1u64, |acc, &d| acc.checked_mul(d as u64));
        match total {
            Some(t) => {
                crate::io::check_alloc(t, &format!("a tensor of shape {}", dims_string(&dims)))
                    .map_err(|err| RunError::io(&err, e.span))?;
                Ok(dims)
            }
            None => Err(too_big(e.span)),
        }
    }

    fn builtin(&mut self, name: &str, args: &[Expr], span: Span) -> RunResult<Evaluated> {
        let want = |n: usize| -> RunResult<()> {
            if args.len() == n {
                Ok(())
            } else {
                Err(RunError::new(
                    format!(
                        "`{name}` takes {n} argument{}, found {}",
                        if n == 1 { "" } else { "s" },
                        args.len()
                    ),
                    span,
                    "wrong number of arguments",
                ))
            }
        };
        let v = match name {
            "ones" | "zeros" | "rand" | "randn" => {
                want(1)?;
                let dims = self.eval_dims(&args[0])?;
                match name {
                    "ones" => ArrayD::ones(IxDyn(&dims)),
                    "zeros" => ArrayD::zeros(IxDyn(&dims)),
                    _ => {
                        let rng = &mut self.rng;
                        let t = if name == "rand" {
                            ArrayD::from_shape_simple_fn(IxDyn(&dims), || rng.random::<f32>())
                        } else {
                            ArrayD::from_shape_simple_fn(IxDyn(&dims), || {
                                StandardNormal.sample(rng)
                            })
                        };
                        self.note_draw(span, || Draw::Tensor(t.clone()));
                        t
                    }
                }
            }
            "full" => {
                want(2)?;
                let dims = self.eval_dims(&args[0])?;
                let v = self.eval_number(&args[1])?;
                ArrayD::from_elem(IxDyn(&dims), v)
            }
            "arange" => {
                if args.is_empty() || args.len() > 3 {
                    return Err(RunError::new(
                        "`arange` takes 1 to 3 numbers: end, or start, end[, step]",
                        span,
                        "wrong number of arguments",
                    ));
                }
                let nums: Vec<f32> = args
                    .iter()
                    .map(|a| self.eval_number(a))
                    .collect::<RunResult<_>>()?;
                let (start, end, step) = match nums.as_slice() {
                    [e] => (0.0, *e, 1.0),
                    [s, e] => (*s, *e, 1.0),
                    [s, e, st] => (*s, *e, *st),
                    _ => unreachable!(),
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
                    .map_err(|e| RunError::new(e.to_string(), span, "here"))?
            }
            "load" => {
                want(1)?;
                let ExprKind::Str(path) = &args[0].kind else {
                    return Err(RunError::new(
                        "`load` takes a file name in quotes",
                        args[0].span,
                        "not a string",
                    ));
                };
                let v = crate::io::load_value(&self.path(&path.value))
                    .map_err(|e| RunError::io(&e, path.span))?;
                return Ok(Evaluated::Value(v));
            }
            "corr2d" => {
                want(2)?;
                let x = self.eval_float(&args[0])?;
                let k = self.eval_float(&args[1])?;
                if x.ndim() != 2 || k.ndim() != 2 {
                    return Err(RunError::new(
                        format!(
                            "corr2d takes two 2-D tensors, got {} and {}",
                            shape_words(x.shape()),
                            shape_words(k.shape())
                        ),
                        span,
                        "not 2-D",
                    ));
                }
                let (h, w, kh, kw) = (x.shape()[0], x.shape()[1], k.shape()[0], k.shape()[1]);
                if kh > h || kw > w || kh == 0 || kw == 0 {
                    return Err(RunError::new(
                        format!("corr2d: the kernel {kh}x{kw} is larger than the input {h}x{w}"),
                        span,
                        "kernel too big",
                    ));
                }
                let xs: Vec<f32> = x.iter().copied().collect();
                let ks: Vec<f32> = k.iter().copied().collect();
                let y = crate::ops::conv::corr2d(&xs, h, w, &ks, kh, kw);
                ArrayD::from_shape_vec(IxDyn(&[h - kh + 1, w - kw + 1]), y)
                    .map_err(|e| RunError::new(e.to_string(), span, "here"))?
            }
            "split" => {
                want(2)?;
                let v = self.eval(&args[0])?;
                let frac = self.eval_number(&args[1])?;
                return self.split(v, frac, span).map(Evaluated::Tuple);
            }
            other => {
                return Err(RunError::new(
                    format!("unknown function `{other}`"),
                    span,
                    "not a function",
                ));
            }
        };
        Ok(Evaluated::Value(Value::Float(v)))
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
        shuffle(&mut self.rng, &mut order);
        let cut = ((n as f64) * frac as f64).round() as usize;
        let (a, b) = order.split_at(cut.min(n));
        self.note_draw(span, || Draw::Split {
            first: a.to_vec(),
            rest: b.to_vec(),
        });
        Ok(vec![take_rows(&v, a), take_rows(&v, b)])
    }

    fn method(&mut self, v: Value, field: &Ident, args: &[Expr], span: Span) -> RunResult<Value> {
        match field.name.as_str() {
            "reshape" => {
                if args.len() != 1 {
                    return Err(RunError::new(
                        "`.reshape` takes one dims argument such as 1x2x4x4",
                        span,
                        "wrong arguments",
                    ));
                }
                let mut dims = self.eval_dims_reshape(&args[0])?;
                let len = v.len();
                // one -1 is inferred, as in PyTorch
                if let Some(pos) = dims.iter().position(|d| *d < 0) {
                    let known: i64 = dims.iter().filter(|d| **d >= 0).product();
                    if known == 0 || len as i64 % known != 0 {
                        return Err(reshape_error(&v, &dims, args[0].span));
                    }
                    dims[pos] = len as i64 / known;
                }
                let shape: Vec<usize> = dims.iter().map(|d| *d as usize).collect();
                let ok = shape.iter().try_fold(1usize, |a, d| a.checked_mul(*d)) == Some(len);
                match (&v, ok) {
                    (Value::Float(a), true) => Ok(Value::Float(
                        a.as_standard_layout()
                            .to_owned()
                            .into_shape_with_order(IxDyn(&shape))
                            .map_err(|_| reshape_error(&v, &dims, args[0].span))?,
                    )),
                    (Value::Int(a), true) => Ok(Value::Int(
                        a.as_standard_layout()
                            .to_owned()
                            .into_shape_with_order(IxDyn(&shape))
                            .map_err(|_| reshape_error(&v, &dims, args[0].span))?,
                    )),
                    _ => Err(reshape_error(&v, &dims, args[0].span)),
                }
            }
            "sum" | "mean" | "max" | "min" => {
                let a = v.to_float().ok_or_else(|| not_tensor(span))?;
                if a.is_empty() {
                    return Err(RunError::new(
                        format!("`.{}` of an empty tensor", field.name),
                        span,
                        "empty",
                    ));
                }
                let r = match field.name.as_str() {
                    "sum" => a.iter().map(|x| *x as f64).sum::<f64>() as f32,
                    "mean" => (a.iter().map(|x| *x as f64).sum::<f64>() / a.len() as f64) as f32,
                    "max" => a.iter().copied().fold(f32::NEG_INFINITY, f32::max),
                    _ => a.iter().copied().fold(f32::INFINITY, f32::min),
                };
                Ok(scalar(r))
            }
            "float" => Ok(Value::Float(v.to_float().ok_or_else(|| not_tensor(span))?)),
            other => Err(RunError::new(
                format!("unknown method `.{other}`"),
                field.span,
                "no such method",
            )
            .help("tensors have .reshape(D), .sum(), .mean(), .max(), .min(), .float()")),
        }
    }

    fn eval_dims_reshape(&mut self, e: &Expr) -> RunResult<Vec<i64>> {
        match &e.kind {
            ExprKind::Dims(_) => Ok(self.eval_dims(e)?.into_iter().map(|d| d as i64).collect()),
            _ => Ok(vec![self.eval_int(e)?]),
        }
    }

    fn eval_field(&mut self, base: &Expr, field: &Ident, span: Span) -> RunResult<Value> {
        // `edge.0.weight`: a model parameter by its state-dict name
        let mut path = vec![field.name.clone()];
        let mut root = base;
        while let ExprKind::Field { base, field } = &root.kind {
            path.push(field.name.clone());
            root = base;
        }
        path.reverse();
        if let ExprKind::Name(id) = &root.kind {
            if let Some(m) = self.models.get(&id.name) {
                let key = path.join(".");
                let p = m.param(&key).ok_or_else(|| {
                    let names: Vec<&str> = m.params.iter().map(|p| p.name.as_str()).collect();
                    RunError::new(
                        format!("`{}` has no tensor `{key}`", id.name),
                        span,
                        "no such parameter",
                    )
                    .help(format!("its tensors are: {}", names.join(", ")))
                })?;
                return ArrayD::from_shape_vec(IxDyn(&p.shape), p.data.clone())
                    .map(Value::Float)
                    .map_err(|e| RunError::new(e.to_string(), span, "here"));
            }
        }
        let v = self.eval(base)?;
        match v {
            Value::Bundle(mut m) => {
                let names: Vec<String> = m.keys().cloned().collect();
                m.remove(&field.name).ok_or_else(|| {
                    RunError::new(
                        format!("no array named `{}`", field.name),
                        field.span,
                        "not in this bundle",
                    )
                    .help(format!("it holds: {}", names.join(", ")))
                })
            }
            Value::Float(a) if field.name == "T" => Ok(Value::Float(
                a.reversed_axes().as_standard_layout().to_owned(),
            )),
            other => Err(RunError::new(
                format!("a {} has no field `{}`", other.type_name(), field.name),
                field.span,
                "no such field",
            )),
        }
    }

    /// Evaluate index items to slice elements (Python rules, negatives from the end).
    pub fn eval_index(&mut self, items: &[IndexItem]) -> RunResult<Vec<(IndexSpec, Span)>> {
        let mut out = Vec::new();
        for it in items {
            match it {
                IndexItem::Single(e) => out.push((IndexSpec::Single(self.eval_int(e)?), e.span)),
                IndexItem::Slice {
                    start,
                    stop,
                    step,
                    span,
                } => {
                    let mut get = |e: &Option<Expr>| -> RunResult<Option<i64>> {
                        match e {
                            Some(e) => self.eval_int(e).map(Some),
                            None => Ok(None),
                        }
                    };
                    let (a, b, c) = (get(start)?, get(stop)?, get(step)?);
                    if c == Some(0) {
                        return Err(RunError::new(
                            "slice step cannot be zero",
                            *span,
                            "zero step",
                        ));
                    }
                    out.push((IndexSpec::Slice(a, b, c.unwrap_or(1)), *span));
                }
            }
        }
        Ok(out)
    }
}

/// One evaluated index item.
#[derive(Clone, Copy, Debug)]
pub enum IndexSpec {
    Single(i64),
    Slice(Option<i64>, Option<i64>, i64),
}

/// Convert to ndarray slice elements, checking bounds like Python.
pub fn slice_info(shape: &[usize], items: &[(IndexSpec, Span)]) -> RunResult<Vec<SliceInfoElem>> {
    if items.len() > shape.len() {
        let span = items[shape.len()].1;
        return Err(RunError::new(
            format!(
                "too many indices: the tensor has {} dimensions",
                shape.len()
            ),
            span,
            "extra index",
        ));
    }
    let mut elems = Vec::new();
    for (d, (it, span)) in items.iter().enumerate() {
        let n = shape[d] as i64;
        match *it {
            IndexSpec::Single(i) => {
                let j = if i < 0 { n + i } else { i };
                if j < 0 || j >= n {
                    return Err(RunError::new(
                        format!("index {i} is out of range for dimension {d} of size {n}"),
                        *span,
                        "out of range",
                    ));
                }
                elems.push(SliceInfoElem::Index(j as isize));
            }
            IndexSpec::Slice(a, b, step) => {
                // Python clamps slice bounds; ndarray takes start/end with negatives from the end.
                let clamp = |v: i64| -> i64 {
                    let v = if v < 0 { n + v } else { v };
                    v.clamp(0, n)
                };
                let (s, e) = if step > 0 {
                    (a.map(clamp).unwrap_or(0), b.map(clamp).unwrap_or(n))
                } else {
                    return Err(RunError::new(
                        "negative slice steps are not supported",
                        *span,
                        "negative step",
                    ));
                };
                let e = e.max(s);
                elems.push(SliceInfoElem::Slice {
                    start: s as isize,
                    end: Some(e as isize),
                    step: step as isize,
                });
            }
        }
    }
    for _ in items.len()..shape.len() {
        elems.push(SliceInfoElem::Slice {
            start: 0,
            end: None,
            step: 1,
        });
    }
    Ok(elems)
}

fn index_value(v: &Value, items: &[(IndexSpec, Span)]) -> RunResult<Value> {
    match v {
        Value::Float(a) => {
            let info = slice_info(a.shape(), items)?;
            Ok(Value::Float(a.slice(info.as_slice()).to_owned()))
        }
        Value::Int(a) => {
            let info = slice_info(a.shape(), items)?;
            Ok(Value::Int(a.slice(info.as_slice()).to_owned()))
        }
        Value::Bundle(m) => {
            // index every array alike along its first dims: D[0:100]
            let mut out = std::collections::BTreeMap::new();
            for (k, a) in m {
                out.insert(k.clone(), index_value(a, items)?);
            }
            Ok(Value::Bundle(out))
        }
    }
}

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

fn binary(op: BinOp, a: &ArrayD<f32>, b: &ArrayD<f32>, span: Span) -> RunResult<Value> {
    let fits = broadcast_shape(a.shape(), b.shape());
    if fits.is_none() {
        return Err(RunError::new(
            format!(
                "cannot {} tensors of shapes {} and {}",
                match op {
                    BinOp::Add => "add",
                    BinOp::Sub => "subtract",
                    BinOp::Mul => "multiply",
                    BinOp::Div => "divide",
                },
                shape_words(a.shape()),
                shape_words(b.shape())
            ),
            span,
            "shapes do not broadcast",
        )
        .help("sizes must be equal or 1 in each dimension (counting from the right)"));
    }
    let r = match op {
        BinOp::Add => a + b,
        BinOp::Sub => a - b,
        BinOp::Mul => a * b,
        BinOp::Div => a / b,
    };
    Ok(Value::Float(r))
}

fn broadcast_shape(a: &[usize], b: &[usize]) -> Option<Vec<usize>> {
    let n = a.len().max(b.len());
    let mut out = vec![0; n];
    for i in 0..n {
        let x = if i + a.len() >= n {
            a[i + a.len() - n]
        } else {
            1
        };
        let y = if i + b.len() >= n {
            b[i + b.len() - n]
        } else {
            1
        };
        out[i] = if x == y || y == 1 {
            x
        } else if x == 1 {
            y
        } else {
            return None;
        };
    }
    Some(out)
}

/// A shape in words, `a scalar` for 0-d.
pub fn shape_words(s: &[usize]) -> String {
    if s.is_empty() {
        "a scalar".into()
    } else {
        dims_string(s)
    }
}

fn not_tensor(span: Span) -> RunError {
    RunError::new("expected a tensor", span, "not a tensor")
}

fn too_big(span: Span) -> RunError {
    RunError::new(
        "these sizes are too large (their product overflows)",
        span,
        "too large",
    )
}

fn reshape_error(v: &Value, dims: &[i64], span: Span) -> RunError {
    let want: Vec<String> = dims.iter().map(|d| d.to_string()).collect();
    RunError::new(
        format!(
            "cannot reshape {} ({} elements) to {}",
            v.shape()
                .map(shape_words)
                .unwrap_or_else(|| "a bundle".into()),
            v.len(),
            want.join("x")
        ),
        span,
        "element counts differ",
    )
    .help("the new shape must hold the same number of elements")
}
