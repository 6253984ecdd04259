//! `data`, `train` and `eval` as far as they can be known before running:
//! the optimizer and its options (the interpreter's own reader,
//! `ir::train_options::plan`), data declared before use, and inputs and
//! targets of known shape against the model (`ir::feed`).

use super::Scope;
use crate::ir::error::CheckError;
use crate::ir::feed;
use crate::ir::model::Model;
use crate::ir::train_options::{self, Loss};
use crate::syntax::ast::{Expr, ExprKind, Ident, KeyValue, Span};

/// What the checker knows of a `data` pair.
#[derive(Clone, Debug)]
pub struct DataFacts {
    pub x: Option<Vec<usize>>,
    pub y: Option<Vec<usize>>,
    /// The targets are floats for sure: without `loss=`, `mse`.
    pub y_float: bool,
    /// The targets hold numbers that are not whole for sure (`rand`, a
    /// literal with `0.5`): never class labels.
    pub y_fractional: bool,
    /// The `data` statement.
    pub span: Span,
}

/// Builtins whose result is a float tensor.
const FLOAT_BUILTINS: [&str; 10] = [
    "ones", "zeros", "full", "rand", "randn", "arange", "corr2d", "conv2d", "linear", "matmul",
];

/// Whether `e` is a float tensor for sure: a literal, a float constructor,
/// a model's output, `.float()`, or a name bound to one of these. Integer
/// tensors come from files and `argmax`; anything unsure is not "for sure".
pub(super) fn is_float(scope: &Scope, e: &Expr) -> bool {
    match &e.kind {
        ExprKind::Number(_) | ExprKind::List(_) => true,
        ExprKind::Name(id) => scope.floats.contains(&id.name),
        ExprKind::Neg(inner) => is_float(scope, inner),
        ExprKind::Call { callee, .. } => match &callee.kind {
            ExprKind::Name(id) => {
                scope.models.contains_key(&id.name) || FLOAT_BUILTINS.contains(&id.name.as_str())
            }
            ExprKind::Field { field, .. } => field.name == "float",
            _ => false,
        },
        _ => false,
    }
}

/// A shape rule of `crate::ir::feed` broken at `span`.
pub(super) fn feed_error(e: crate::ir::feed::FeedError, span: Span) -> CheckError {
    let help = e.help.unwrap_or_else(|| "see the shapes above".into());
    CheckError::other("shape", e.message, span, e.label, help)
}

/// `data [role =] X -> Y`: remembered for `train` and `eval`; the lengths
/// must agree when both shapes are known.
pub(super) fn check_data(
    scope: &mut Scope,
    role: Option<&Ident>,
    facts: DataFacts,
    errs: &mut Vec<CheckError>,
) {
    if let (Some(xs), Some(ys)) = (&facts.x, &facts.y) {
        if let Err(e) = feed::data_lengths(xs, ys) {
            errs.push(feed_error(e, facts.span));
        }
    }
    let facts = Some(facts);
    match role.map(|r| r.name.as_str()) {
        Some("test") => scope.test_data = facts,
        _ => scope.train_data = facts,
    }
}

/// The model a `train` or `eval` means: the named one, or the last declared.
fn model_of<'a>(scope: &'a Scope, named: Option<&Ident>) -> Option<&'a Model> {
    match named {
        Some(id) => scope.models.get(&id.name),
        None => scope.model_order.last().and_then(|m| scope.models.get(m)),
    }
}

/// `train [model] optimizer key=value...`
pub(super) fn check_train(
    scope: &Scope,
    model: Option<&Ident>,
    optimizer: &Ident,
    options: &[KeyValue],
    span: Span,
    errs: &mut Vec<CheckError>,
) {
    // `train lenet lr=...`: the model where the optimizer goes
    if model.is_none() && scope.models.contains_key(&optimizer.name) {
        errs.push(
            CheckError::other(
                "train_optimizer",
                format!(
                    "`{}` is a model; `train` needs an optimizer",
                    optimizer.name
                ),
                optimizer.span,
                "a model, not an optimizer",
                format!(
                    "name the optimizer after the model: `train {} sgd lr=0.01 steps=30`",
                    optimizer.name
                ),
            )
            .fix(optimizer.span, format!("{} sgd", optimizer.name)),
        );
        return;
    }
    // the loss the labels' type picks is known only at run time
    let plan = match train_options::plan(optimizer, options, Loss::Mse) {
        Ok(plan) => plan,
        Err(e) => {
            let mut err = CheckError::other("train_option", e.message, e.span, e.label, e.help);
            if let Some(fix) = e.fix {
                err = err.fix(fix.span, fix.replacement);
            }
            errs.push(err);
            return;
        }
    };
    let Some(data) = &scope.train_data else {
        errs.push(CheckError::other(
            "no_data",
            "`train` has no training data".into(),
            span,
            "no `data` before this",
            "declare it first: `data X -> Y`".into(),
        ));
        return;
    };
    // several models and none named: reported already, and no model to check against
    let ambiguous = model.is_none() && scope.model_order.len() > 1;
    let Some(model) = model_of(scope, model).filter(|_| !ambiguous) else {
        return;
    };
    let n = inputs(model, data, span, errs);
    if let Some(x) = data
        .x
        .as_ref()
        .and_then(|x| feed::input_shape(model, x).ok())
    {
        errs.extend(super::batches::batchnorm(
            model,
            &x,
            &plan.schedule,
            options,
            span,
        ));
    }
    let explicit = options
        .iter()
        .any(|o| o.key.name == "loss")
        .then_some(plan.loss);
    // without `loss=`, float targets train with mse
    let loss = explicit.or(data.y_float.then_some(Loss::Mse));
    if let Err(mut e) = targets_fit(model, data, n, loss) {
        // class labels written as floats (`arange(8)`, a list): xent would take them
        if explicit.is_none() && targets_fit(model, data, n, Some(Loss::Xent)).is_ok() {
            e.help =
                Some("float targets train with mse; for class labels write `loss=xent`".into());
        }
        errs.push(feed_error(e, data.span).related(span, "trained here"));
    }
    if explicit == Some(Loss::Xent) {
        errs.extend(super::labels::epoch_test_data(
            scope,
            model,
            &plan.schedule,
            span,
        ));
    }
}

/// The targets of `data` against `model`'s output for `n` inputs under
/// `loss`; when the loss is unknown (it depends on the labels' values or
/// type), wrong for both is wrong. Symbolic sizes past the batch (a conv
/// model on a 2-D input) take the input's when it is known, else are
/// judged when running.
fn targets_fit(
    model: &Model,
    data: &DataFacts,
    n: Option<usize>,
    loss: Option<Loss>,
) -> Result<(), feed::FeedError> {
    // a symbolic size besides the batch (a conv model's 2-D input) takes the input's
    let input = data
        .x
        .as_ref()
        .and_then(|x| feed::input_shape(model, x).ok());
    let env = input
        .map(|x| crate::ir::sizes::bind(&model.input, &x))
        .unwrap_or_default();
    let out = &crate::ir::sizes::substitute(model.output(), &env);
    let fit = |loss: Loss, y: &[usize], n: usize| match loss {
        Loss::Sse | Loss::Mse if out.per_item().is_none() => Ok(()),
        _ => feed::targets(loss, y, n, out),
    };
    match (&data.y, n, loss) {
        (Some(y), Some(n), Some(loss)) => fit(loss, y, n),
        (Some(y), Some(n), None) => {
            fit(Loss::Mse, y, n).or_else(|e| fit(Loss::Xent, y, n).map_err(|_| e))
        }
        (_, _, Some(loss)) => feed::classes(loss, out).map(|_| ()),
        _ => Ok(()),
    }
}

/// The inputs of `data` against `model`: their count once they fit.
fn inputs(
    model: &Model,
    data: &DataFacts,
    span: Span,
    errs: &mut Vec<CheckError>,
) -> Option<usize> {
    let x = data.x.as_ref()?;
    match feed::input_shape(model, x) {
        Ok(shape) => shape.first().copied(),
        Err(e) => {
            errs.push(feed_error(e, data.span).related(span, "used here"));
            None
        }
    }
}

/// `eval [model]`: on the test data, else the training data.
pub(super) fn check_eval(
    scope: &Scope,
    model: Option<&Ident>,
    span: Span,
    errs: &mut Vec<CheckError>,
) {
    let Some(data) = scope.test_data.as_ref().or(scope.train_data.as_ref()) else {
        errs.push(CheckError::other(
            "no_data",
            "`eval` has no data to evaluate on".into(),
            span,
            "no `data` before this",
            "declare it first: `data test = X -> Y`".into(),
        ));
        return;
    };
    if let Some(model) = model_of(scope, model) {
        let n = inputs(model, data, span, errs);
        // eval has no `loss=`: float targets are scored with mse, except
        // one per item for class scores, which may be whole-number labels
        let scores =
            model.output().rank() == 2 && model.output().0[1].known().is_some_and(|c| c >= 2);
        let labels = scores && data.y.as_ref().is_some_and(|y| y.len() == 1);
        let loss = (data.y_float && !labels).then_some(Loss::Mse);
        if let Err(e) = targets_fit(model, data, n, loss) {
            errs.push(feed_error(e, data.span).related(span, "evaluated here"));
        }
    }
}
