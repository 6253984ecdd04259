//! A model's initial weights without running the script: what `run` gives
//! it right after its declaration. Only what draws from the random
//! generator before it is replayed — `seed`s, earlier models and, when they
//! draw, `rand`/`randn`/`split` with the `let`s they read — printing and
//! writing nothing.

use std::path::Path;

use super::error::{RunError, RunResult};
use super::params::ModelState;
use super::Interp;
use crate::ir::check::Checked;
use crate::syntax::ast::{Expr, ExprKind, IndexItem, Script, StmtKind};

/// Builtins that draw from the random generator.
const DRAWING: &[&str] = &["rand", "randn", "split"];

/// The model declared by statement `decl` of a checked script, with the
/// weights `run` would give it; relative file names are taken from `base_dir`.
/// A `train` between the last `seed` and the declaration is an error: what it
/// draws depends on running it.
pub fn initial_state(
    script: &Script,
    checked: &Checked,
    decl: usize,
    base_dir: &Path,
) -> RunResult<ModelState> {
    let stmts = &script.stmts[..=decl.min(script.stmts.len().saturating_sub(1))];
    let Some(StmtKind::Model(model)) = stmts.last().map(|s| &s.kind) else {
        return Err(RunError::new(
            "no model is declared here",
            stmts.last().map(|s| s.span).unwrap_or_default(),
            "not a model",
        ));
    };
    let after_seed = stmts
        .iter()
        .rposition(|s| matches!(s.kind, StmtKind::Seed { .. }))
        .map_or(0, |i| i + 1);
    let between = &stmts[after_seed..stmts.len() - 1];
    if let Some(train) = between
        .iter()
        .find(|s| matches!(s.kind, StmtKind::Train { .. }))
    {
        let name = &model.name.name;
        return Err(RunError::new(
            format!("the initial weights of `{name}` depend on this `train`, which draws random numbers before `{name}` is declared"),
            train.span,
            "draws before the model",
        )
        .also(model.name.span, "declared here")
        .help(format!("pass weights written by `save {name} \"file.safetensors\"` with --weights, or add `export {name} \"file.onnx\"` to the script and run it")));
    }
    let values = between.iter().any(|s| stmt_exprs(&s.kind).any(draws));
    let mut interp = Interp::new();
    interp.base_dir = base_dir.to_path_buf();
    interp.progress = false;
    let mut sink = std::io::sink();
    for (stmt, info) in stmts.iter().zip(&checked.stmts) {
        let replay = match &stmt.kind {
            StmtKind::Seed { .. } | StmtKind::Model(_) => true,
            StmtKind::Let { .. } | StmtKind::LetTuple { .. } | StmtKind::Assign { .. } => values,
            StmtKind::Print(e)
            | StmtKind::Save { value: e, .. }
            | StmtKind::Show { value: e, .. }
            | StmtKind::SetParam { value: e, .. } => {
                if values && draws(e) {
                    interp.eval_any(e)?;
                }
                false
            }
            StmtKind::Data { x, y, .. } => {
                if values && (draws(x) || draws(y)) {
                    interp.eval_any(x)?;
                    interp.eval_any(y)?;
                }
                false
            }
            StmtKind::LoadModel { .. }
            | StmtKind::Shape { .. }
            | StmtKind::Summary { .. }
            | StmtKind::Train { .. }
            | StmtKind::Eval { .. }
            | StmtKind::Plot { .. }
            | StmtKind::Export { .. }
            | StmtKind::Assert { .. } => false,
        };
        if replay {
            interp.exec_stmt(stmt, info, &mut sink)?;
        }
    }
    interp
        .models
        .remove(&model.name.name)
        .ok_or_else(|| RunError::new("this model did not check", model.name.span, "unchecked"))
}

/// The expressions a statement evaluates (for finding random draws).
fn stmt_exprs(kind: &StmtKind) -> Box<dyn Iterator<Item = &Expr> + '_> {
    match kind {
        StmtKind::Let { value, .. } | StmtKind::LetTuple { value, .. } => {
            Box::new(std::iter::once(value))
        }
        StmtKind::Assign { index, value, .. } => {
            Box::new(index_exprs(index).chain(std::iter::once(value)))
        }
        StmtKind::Print(e)
        | StmtKind::Save { value: e, .. }
        | StmtKind::Show { value: e, .. }
        | StmtKind::SetParam { value: e, .. } => Box::new(std::iter::once(e)),
        StmtKind::Data { x, y, .. } => Box::new([x, y].into_iter()),
        StmtKind::LoadModel { .. }
        | StmtKind::Seed { .. }
        | StmtKind::Model(_)
        | StmtKind::Shape { .. }
        | StmtKind::Summary { .. }
        | StmtKind::Train { .. }
        | StmtKind::Eval { .. }
        | StmtKind::Plot { .. }
        | StmtKind::Export { .. }
        | StmtKind::Assert { .. } => Box::new(std::iter::empty()),
    }
}

fn index_exprs(items: &[IndexItem]) -> impl Iterator<Item = &Expr> {
    items.iter().flat_map(|item| match item {
        IndexItem::Single(e) => vec![e],
        IndexItem::Slice {
            start, stop, step, ..
        } => [start, stop, step]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>(),
    })
}

/// Whether evaluating `e` draws from the random generator.
fn draws(e: &Expr) -> bool {
    match &e.kind {
        ExprKind::Number(_) | ExprKind::Str(_) | ExprKind::Dims(_) | ExprKind::Name(_) => false,
        ExprKind::List(items) => items.iter().any(draws),
        ExprKind::Call {
            callee,
            args,
            named,
            ..
        } => {
            let drawing =
                matches!(&callee.kind, ExprKind::Name(id) if DRAWING.contains(&id.name.as_str()));
            drawing
                || draws(callee)
                || args.iter().any(draws)
                || named.iter().any(|n| draws(&n.value))
        }
        ExprKind::Field { base, .. } | ExprKind::Neg(base) => draws(base),
        ExprKind::Index { base, items } => draws(base) || index_exprs(items).any(draws),
        ExprKind::Binary { lhs, rhs, .. } => draws(lhs) || draws(rhs),
    }
}
