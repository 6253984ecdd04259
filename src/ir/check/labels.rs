//! Class labels as far as the checker can know them: the test data a
//! `train ... epochs=... loss=xent` measures after each epoch must fit the
//! model and hold one label per item (`ir::feed`, the rules `run` applies).

use super::train::{feed_error, DataFacts};
use super::Scope;
use crate::ir::error::CheckError;
use crate::ir::feed;
use crate::ir::model::Model;
use crate::ir::train_options::{Loss, Schedule};
use crate::syntax::ast::{Expr, ExprKind, Span};

/// Whether `e` holds numbers that are not whole for sure: `rand`/`randn`,
/// or a literal with a fraction in it.
pub(super) fn fractional(e: &Expr) -> bool {
    match &e.kind {
        ExprKind::Number(n) => n.value.fract() != 0.0,
        ExprKind::List(items) => items.iter().any(fractional),
        ExprKind::Neg(inner) => fractional(inner),
        ExprKind::Call { callee, .. } => {
            matches!(&callee.kind, ExprKind::Name(id) if id.name == "rand" || id.name == "randn")
        }
        _ => false,
    }
}

/// The test data declared before a `train` with epochs and `loss=xent`:
/// its inputs fit `model`, its targets are labels, one per item.
pub(super) fn epoch_test_data(
    scope: &Scope,
    model: &Model,
    schedule: &Schedule,
    span: Span,
) -> Option<CheckError> {
    let (Schedule::Epochs { .. }, Some(test)) = (schedule, &scope.test_data) else {
        return None;
    };
    let related = "measured after each epoch of this `train`";
    let err = |e: feed::FeedError, test: &DataFacts| {
        Some(feed_error(e, test.span).related(span, related))
    };
    let n = match &test.x {
        Some(x) => match feed::input_shape(model, x) {
            Ok(shape) => shape.first().copied(),
            Err(e) => return err(e, test),
        },
        None => None,
    };
    if let (Some(y), Some(n)) = (&test.y, n) {
        if let Err(e) = feed::targets(Loss::Xent, y, n, model.output()) {
            return err(e, test);
        }
    }
    test.y_fractional.then(|| {
        CheckError::other(
            "not_labels",
            feed::NOT_LABELS.into(),
            test.span,
            "not class labels",
            "a model trained with loss=xent is measured on class indices: `data test = X -> LABELS`".into(),
        )
        .related(span, related)
    })
}
