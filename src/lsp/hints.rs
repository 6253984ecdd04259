//! Inlay hints: the output shape after each layer (`Nx6x28x28`) and after
//! each graph node's merge, with the layer's details as the tooltip.

use lsp_types::{
    InlayHint, InlayHintKind, InlayHintLabel, InlayHintTooltip, MarkupContent, MarkupKind, Range,
};

use super::analysis::Analysis;
use super::hover::layer_details;
use crate::ir::model::NodeSource;
use crate::syntax::ast::{Span, StmtKind};

/// The hints inside `range`.
pub fn inlay_hints(an: &Analysis, range: Range) -> Vec<InlayHint> {
    let want = an.lines.span(&an.text, range);
    let inside = |at: usize| want.start <= at && at <= want.end;
    let mut out = Vec::new();
    for (stmt, model) in an.all_shapes() {
        for (node, layer) in model.layers() {
            if inside(layer.span.end) {
                let tip = layer_details(model, node, layer);
                out.push(hint(
                    an,
                    layer.span.end,
                    layer.out_shape.to_string(),
                    Some(tip),
                ));
            }
        }
        // a graph node's merge changes the shape before any layer runs
        for (name, source) in sources(an, stmt) {
            let Some(node) = model.nodes.iter().find(|n| n.name.as_deref() == Some(name)) else {
                continue;
            };
            let merge = matches!(node.source, NodeSource::Add(_) | NodeSource::Concat(_));
            if (merge || node.layers.is_empty()) && inside(source.end) {
                out.push(hint(an, source.end, node.source_shape.to_string(), None));
            }
        }
    }
    out.sort_by_key(|h| (h.position.line, h.position.character));
    out
}

/// The bound names of a graph model and the spans of their sources.
fn sources(an: &Analysis, stmt: usize) -> Vec<(&str, Span)> {
    let Some(StmtKind::Model(decl)) = an
        .script
        .as_ref()
        .and_then(|s| s.stmts.get(stmt))
        .map(|s| &s.kind)
    else {
        return vec![];
    };
    decl.lines
        .iter()
        .filter_map(|l| Some((l.bind.as_ref()?.name.as_str(), l.source.as_ref()?.span())))
        .collect()
}

fn hint(an: &Analysis, at: usize, label: String, tooltip: Option<String>) -> InlayHint {
    InlayHint {
        position: an.lines.position(&an.text, at),
        label: InlayHintLabel::String(label),
        kind: Some(InlayHintKind::TYPE),
        text_edits: None,
        tooltip: tooltip.map(|value| {
            InlayHintTooltip::MarkupContent(MarkupContent {
                kind: MarkupKind::Markdown,
                value,
            })
        }),
        padding_left: Some(true),
        padding_right: None,
        data: None,
    }
}
