//! Calls of a model the checker can judge before running: the first layers
//! of a graph model (`ir::feed::slice`, the rule `run` applies too).

use super::Scope;
use crate::ir::error::CheckError;
use crate::syntax::ast::{Expr, ExprKind, Span};

/// `m[0:K](X)` with `m` a graph model: an error at the slice.
pub(super) fn model_slice(scope: &Scope, base: &Expr, slice: Span) -> Option<CheckError> {
    let ExprKind::Name(id) = &base.kind else {
        return None;
    };
    let model = scope.models.get(&id.name)?;
    let e = crate::ir::feed::slice(model).err()?;
    let help = e.help.unwrap_or_default();
    Some(
        CheckError::other("model_slice", e.message, slice, e.label, help)
            .fix(slice, id.name.clone()),
    )
}
