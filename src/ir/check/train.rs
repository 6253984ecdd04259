//! `data`, `train` and `eval` as far as they can be known before running:
//! the optimizer and its options (the interpreter's own reader,
//! `ir::train_options::plan`), data declared before use, and inputs and
//! targets of known shape against the model (`ir::feed`).

use super::Scope;
use crate::ir::error::CheckError;
use crate::ir::feed;
use crate::ir::model::Model;
use crate::ir::train_options::{self, Loss};
use crate::syntax::ast::{Ident, KeyValue, Span};

/// What the checker knows of a `data` pair.
#[derive(Clone, Debug)]
pub struct DataFacts {
    pub x: Option<Vec<usize>>,
    pub y: Option<Vec<usize>>,
    /// The `data` statement.
    pub span: Span,
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
    x: Option<Vec<usize>>,
    y: Option<Vec<usize>>,
    span: Span,
    errs: &mut Vec<CheckError>,
) {
    if let (Some(xs), Some(ys)) = (&x, &y) {
        if let Err(e) = feed::data_lengths(xs, ys) {
            errs.push(feed_error(e, span));
        }
    }
    let facts = Some(DataFacts { x, y, span });
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
    let out = model.output();
    let explicit_loss = options.iter().any(|o| o.key.name == "loss");
    let fits = match (&data.y, n) {
        (Some(y), Some(n)) if explicit_loss => feed::targets(plan.loss, y, n, out),
        // the labels' type picks xent or mse at run time: wrong for both is wrong
        (Some(y), Some(n)) => feed::targets(Loss::Mse, y, n, out)
            .or_else(|e| feed::targets(Loss::Xent, y, n, out).map_err(|_| e)),
        _ if explicit_loss => feed::classes(plan.loss, out).map(|_| ()),
        _ => Ok(()),
    };
    if let Err(e) = fits {
        errs.push(feed_error(e, data.span).related(span, "trained here"));
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
        inputs(model, data, span, errs);
    }
}
