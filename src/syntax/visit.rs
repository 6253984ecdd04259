//! Walking expressions: those a statement evaluates, and every expression
//! inside one. The matches are exhaustive, so a new statement or expression
//! kind is named here by the compiler (the exporters' dry run and the
//! PyTorch translation find random draws with these).

use super::ast::{Expr, ExprKind, IndexItem, StmtKind};

/// The expressions a statement evaluates, in the order it evaluates them
/// (an assignment's index items before its value).
pub fn stmt_exprs(kind: &StmtKind) -> Vec<&Expr> {
    match kind {
        StmtKind::Let { value, .. } | StmtKind::LetTuple { value, .. } => vec![value],
        StmtKind::Assign { index, value, .. } => {
            let mut v = index_exprs(index);
            v.push(value);
            v
        }
        StmtKind::Print(e)
        | StmtKind::Save { value: e, .. }
        | StmtKind::Show { value: e, .. }
        | StmtKind::SetParam { value: e, .. } => vec![e],
        StmtKind::Data { x, y, .. } => vec![x, y],
        StmtKind::LoadModel { .. }
        | StmtKind::Seed { .. }
        | StmtKind::Model(_)
        | StmtKind::Shape { .. }
        | StmtKind::Summary { .. }
        | StmtKind::Train { .. }
        | StmtKind::Eval { .. }
        | StmtKind::Plot { .. }
        | StmtKind::Export { .. }
        | StmtKind::Assert { .. } => vec![],
    }
}

/// The expressions of index items: single indices and slice bounds.
pub fn index_exprs(items: &[IndexItem]) -> Vec<&Expr> {
    items
        .iter()
        .flat_map(|item| match item {
            IndexItem::Single(e) => vec![e],
            IndexItem::Slice {
                start, stop, step, ..
            } => [start, stop, step].into_iter().flatten().collect(),
        })
        .collect()
}

/// Visit `e` and every expression inside it, outer before inner.
pub fn walk(e: &Expr, f: &mut dyn FnMut(&Expr)) {
    f(e);
    match &e.kind {
        ExprKind::Number(_) | ExprKind::Str(_) | ExprKind::Dims(_) | ExprKind::Name(_) => {}
        ExprKind::List(items) => items.iter().for_each(|x| walk(x, f)),
        ExprKind::Call {
            callee,
            args,
            named,
            ..
        } => {
            walk(callee, f);
            args.iter().for_each(|x| walk(x, f));
            named.iter().for_each(|n| walk(&n.value, f));
        }
        ExprKind::Field { base, .. } | ExprKind::Neg(base) => walk(base, f),
        ExprKind::Index { base, items } => {
            walk(base, f);
            index_exprs(items).into_iter().for_each(|x| walk(x, f));
        }
        ExprKind::Binary { lhs, rhs, .. } => {
            walk(lhs, f);
            walk(rhs, f);
        }
    }
}

/// Whether any expression in `e` (itself included) satisfies `pred`.
pub fn any(e: &Expr, pred: &dyn Fn(&Expr) -> bool) -> bool {
    let mut found = false;
    walk(e, &mut |x| found |= pred(x));
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syntax::parse::parse_script;

    #[test]
    fn every_expression_is_visited() {
        let script = parse_script("X[i, a:b:2] = f(-[1, 2].sum(), Y.x * 3)\n").expect("parses");
        let exprs = stmt_exprs(&script.stmts[0].kind);
        assert_eq!(exprs.len(), 5, "i, a, b, 2 and the value");
        let mut names = Vec::new();
        for e in exprs {
            walk(e, &mut |x| {
                if let ExprKind::Name(id) = &x.kind {
                    names.push(id.name.clone());
                }
            });
        }
        assert_eq!(names, ["i", "a", "b", "f", "Y"]);
        let value = stmt_exprs(&script.stmts[0].kind)[4];
        assert!(any(value, &|x| matches!(x.kind, ExprKind::Neg(_))));
        assert!(!any(value, &|x| matches!(x.kind, ExprKind::Str(_))));
    }
}
