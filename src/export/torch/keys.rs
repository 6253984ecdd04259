//! Names for what init.safetensors holds, from where the script drew it:
//! `digits@11/0.weight` (a model's initial tensors), `rand@4`, `split@7.first`,
//! `order@21` (a `train` statement's epoch orders). The line alone names a
//! site unless another site starts on the same line; then `line:column`.

use std::collections::HashMap;

use super::py;
use crate::run::dryrun::drawing_call;
use crate::syntax::ast::{Script, Span, StmtKind};
use crate::syntax::visit;

/// Tags (`11`, `4:9`) for every site of a script that draws: `model` and
/// `train` statements and drawing calls.
#[derive(Debug, Default)]
pub struct Keys {
    tags: HashMap<usize, String>,
}

impl Keys {
    /// The tags of a script's sites.
    pub fn new(script: &Script, text: &str) -> Keys {
        let mut sites: Vec<Span> = script
            .stmts
            .iter()
            .filter(|s| matches!(s.kind, StmtKind::Model(_) | StmtKind::Train { .. }))
            .map(|s| s.span)
            .collect();
        for stmt in &script.stmts {
            for e in visit::stmt_exprs(&stmt.kind) {
                visit::walk(e, &mut |x| {
                    if drawing_call(x).is_some() {
                        sites.push(x.span);
                    }
                });
            }
        }
        let mut per_line: HashMap<usize, usize> = HashMap::new();
        let located: Vec<(usize, usize, usize)> = sites
            .iter()
            .map(|s| {
                let (line, col) = py::line_col(text, s.start);
                *per_line.entry(line).or_default() += 1;
                (s.start, line, col)
            })
            .collect();
        let tags = located
            .into_iter()
            .map(|(start, line, col)| {
                let tag = if per_line[&line] > 1 {
                    format!("{line}:{col}")
                } else {
                    line.to_string()
                };
                (start, tag)
            })
            .collect();
        Keys { tags }
    }

    /// `11`, or `11:5` when several sites share line 11.
    pub fn tag(&self, span: Span) -> String {
        self.tags
            .get(&span.start)
            .cloned()
            .unwrap_or_else(|| format!("at{}", span.start))
    }

    /// The prefix of a model's initial tensors: `digits@11`.
    pub fn model(&self, name: &str, decl: Span) -> String {
        format!("{name}@{}", self.tag(decl))
    }

    /// A drawing call's key: `rand@4`, `split@7` (its rows: `.first`, `.rest`).
    pub fn draw(&self, kind: &str, call: Span) -> String {
        format!("{kind}@{}", self.tag(call))
    }

    /// A `train` statement's epoch orders: `order@21`.
    pub fn order(&self, stmt: Span) -> String {
        format!("order@{}", self.tag(stmt))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syntax::ast::ExprKind;
    use crate::syntax::parse::parse_script;

    #[test]
    fn tags_are_lines_unless_a_line_has_several_sites() {
        let text = "let A = rand(2x2) + randn(2x2)\nmodel m(x: 1x4) = linear(out=2)\nlet (a, b) = split(A, 0.5)\n";
        let script = parse_script(text).unwrap();
        let keys = Keys::new(&script, text);
        let StmtKind::Let { value, .. } = &script.stmts[0].kind else {
            panic!()
        };
        let ExprKind::Binary { lhs, rhs, .. } = &value.kind else {
            panic!()
        };
        assert_eq!(keys.draw("rand", lhs.span), "rand@1:9");
        assert_eq!(keys.draw("randn", rhs.span), "randn@1:21");
        assert_eq!(keys.model("m", script.stmts[1].span), "m@2");
        let StmtKind::LetTuple { value, .. } = &script.stmts[2].kind else {
            panic!()
        };
        assert_eq!(keys.draw("split", value.span), "split@3");
    }
}
