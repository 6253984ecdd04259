//! Hover: what the checker knows about the name under the cursor. A model
//! shows its `summary` table, a layer its shapes, parameters, MACs and
//! receptive field with the `shape explain` formula.

use std::fmt::Write;

use lsp_types::{Hover, HoverContents, MarkupContent, MarkupKind, Position};

use super::analysis::Analysis;
use super::index::{self, What};
use super::table;
use crate::ir::model::{Layer, Model, Node, NodeSource, UNKNOWN_MACS};
use crate::ir::report::{layer_formula, layer_text, summary, thousands};
use crate::syntax::ast::{ExprKind, LayerCall, Span, StmtKind};

/// The hover of the name at `pos`.
pub fn hover(an: &Analysis, pos: Position) -> Option<Hover> {
    let script = an.script.as_ref()?;
    let occ = index::at(script, an.offset(pos))?;
    let text = match &occ.what {
        What::ModelDecl { stmt } => model_text(an, *stmt, occ.span),
        What::ModelUse { decl } => match decl {
            Some((stmt, span)) => model_text(an, *stmt, *span),
            None => "unknown model".to_string(),
        },
        What::TensorDef { stmt } => tensor_text(an, *stmt),
        What::TensorUse { def } => match def {
            Some((stmt, _)) => tensor_text(an, *stmt),
            None => "not defined before this line".to_string(),
        },
        What::Layer { stmt, call } | What::Label { stmt, call } => call_text(an, *stmt, call),
        What::Arg { call, key } => match table::arg(&call.name.name, key) {
            Some(a) => format!("`{key}`: {}", table::arg_doc(a)),
            None => format!("`{}` has no argument `{key}`", call.name.name),
        },
        What::Input { stmt, .. } => {
            let m = an.shapes(*stmt)?;
            let mut s = format!("input `{}`: `{}`", m.input_name, m.declared_input);
            if m.input != m.declared_input {
                let _ = write!(s, ", taken as `{}`", m.input);
            }
            s
        }
        What::Node { stmt, name, .. } => {
            let m = an.shapes(*stmt)?;
            let node = m.nodes.iter().find(|n| n.name.as_deref() == Some(*name))?;
            node_text(node)
        }
        What::Param { decl, key } => param_text(an.model(decl.as_ref()?.0)?, key),
        What::Builtin => format!(
            "builtin function `{}`",
            &an.text[occ.span.start..occ.span.end]
        ),
    };
    Some(Hover {
        contents: HoverContents::Markup(MarkupContent {
            kind: MarkupKind::Markdown,
            value: text,
        }),
        range: Some(an.range(occ.span)),
    })
}

fn model_text(an: &Analysis, stmt: usize, name: Span) -> String {
    match an.model(stmt) {
        Some(m) => format!("```text\n{}```", summary(m)),
        None => format!(
            "model `{}` (not checked: its declaration has errors)",
            &an.text[name.start..name.end]
        ),
    }
}

fn tensor_text(an: &Analysis, stmt: usize) -> String {
    let Some(s) = an.script.as_ref().and_then(|s| s.stmts.get(stmt)) else {
        return String::new();
    };
    let line = an.lines.position(&an.text, s.span.start).line + 1;
    let mut out = format!(
        "tensor, bound on line {line} (its values and shape are known when the script runs)\n```cnnscript\n{}\n```",
        &an.text[s.span.start..s.span.end]
    );
    // `m(X)`: the model's output shape is known statically
    if let StmtKind::Let { value, .. } = &s.kind {
        if let ExprKind::Call { callee, .. } = &value.kind {
            if let ExprKind::Name(id) = &callee.kind {
                let model = (0..stmt)
                    .rev()
                    .filter_map(|i| an.model(i))
                    .find(|m| m.name == id.name);
                if let Some(m) = model {
                    let _ = write!(
                        out,
                        "\nthe output of `{}`: `{}` (input `{}`)",
                        m.name,
                        m.output(),
                        m.input
                    );
                }
            }
        }
    }
    out
}

fn call_text(an: &Analysis, stmt: usize, call: &LayerCall) -> String {
    match an.layer(stmt, call.span) {
        Some((model, node, layer)) => layer_details(model, node, layer),
        None => match table::layer(&call.name.name) {
            Some(spec) => format!(
                "{}\n\n(not inferred: this model has errors before or at this layer)",
                table::layer_doc(spec)
            ),
            None => format!("unknown layer `{}`", call.name.name),
        },
    }
}

/// A layer's facts: its call, shapes, parameters, MACs, receptive field
/// and the `shape explain` formula.
pub fn layer_details(model: &Model, node: &Node, layer: &Layer) -> String {
    let prefix = model.param_prefix(node, layer);
    let tensors: Vec<String> = model
        .state_dict_shapes()
        .into_iter()
        .filter(|(name, _)| {
            name.strip_prefix(&prefix)
                .is_some_and(|r| r.starts_with('.'))
        })
        .map(|(name, shape)| format!("{name} {}", dims_text(&shape)))
        .collect();
    let macs = if layer.macs == UNKNOWN_MACS {
        "unknown (depends on a symbolic size)".to_string()
    } else {
        thousands(layer.macs)
    };
    let mut out = format!("```text\n{prefix}: {}\n", layer_text(layer));
    let _ = writeln!(out, "input   {}", layer.in_shape);
    let _ = writeln!(out, "output  {}", layer.out_shape);
    let _ = write!(out, "params  {}", thousands(layer.params));
    if !tensors.is_empty() {
        let _ = write!(out, " ({})", tensors.join(", "));
    }
    let _ = writeln!(out, "\nMACs    {macs}");
    let _ = writeln!(
        out,
        "RF      {}x{} (jump {}x{})",
        layer.rf.size[0], layer.rf.size[1], layer.rf.jump[0], layer.rf.jump[1]
    );
    out.push_str(&layer_formula(layer));
    out.push_str("```");
    out
}

fn dims_text(shape: &[usize]) -> String {
    if shape.is_empty() {
        return "scalar".into();
    }
    shape
        .iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join("x")
}

fn node_text(node: &Node) -> String {
    let name = node.name.as_deref().unwrap_or("");
    let source = match &node.source {
        NodeSource::Add(_) => format!("add({})", node.inputs.join(", ")),
        NodeSource::Concat(_) => format!("concat({})", node.inputs.join(", ")),
        NodeSource::Input | NodeSource::Node(_) => node.inputs.join(", "),
    };
    let mut out = format!("node `{name}` = `{source}`: `{}`", node.source_shape);
    if !node.layers.is_empty() {
        let _ = write!(
            out,
            ", after its {} layer(s): `{}`",
            node.layers.len(),
            node.out_shape()
        );
    }
    out
}

fn param_text(model: &Model, key: &str) -> String {
    use crate::layers::Role;
    let entries: Vec<(String, Vec<usize>, Role)> = model
        .layers()
        .flat_map(|(node, layer)| {
            let prefix = model.param_prefix(node, layer);
            layer
                .kind
                .tensors()
                .into_iter()
                .map(move |t| (format!("{prefix}.{}", t.suffix), t.shape, t.role))
        })
        .filter(|(name, _, _)| name == key || name.starts_with(&format!("{key}.")))
        .collect();
    if entries.is_empty() {
        return format!("`{}` has no parameter `{key}`", model.name);
    }
    let mut out = String::new();
    for (name, shape, role) in entries {
        let kind = match role {
            Role::Learnable => "learnable",
            Role::Buffer | Role::Counter => "buffer",
        };
        let _ = writeln!(
            out,
            "`{}.{name}`: `{}` ({kind})",
            model.name,
            dims_text(&shape)
        );
    }
    out
}
