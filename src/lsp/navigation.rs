//! Go to definition (models, tensors, labels, graph nodes, parameters) and
//! the document outline (models with their nodes and layers, tensors).

use lsp_types::{DocumentSymbol, Position, SymbolKind};

use super::analysis::Analysis;
use super::index::{self, What};
use crate::syntax::ast::{LayerCall, ModelDecl, Span, StmtKind};

/// Where the name at `pos` is defined.
pub fn definition(an: &Analysis, pos: Position) -> Option<Span> {
    let occ = index::at(an.script.as_ref()?, an.offset(pos))?;
    match occ.what {
        What::ModelDecl { .. } | What::TensorDef { .. } | What::Label { .. } => Some(occ.span),
        What::ModelUse { decl } => decl.map(|(_, span)| span),
        What::TensorUse { def } => def.map(|(_, span)| span),
        What::Input { def, .. } => Some(def),
        What::Node { def, .. } => def,
        What::Param { decl, key } => {
            let (stmt, name) = decl?;
            let layer = an.shapes(stmt).and_then(|m| {
                m.layers()
                    .find(|(n, l)| {
                        let prefix = m.param_prefix(n, l);
                        key == prefix || key.starts_with(&format!("{prefix}."))
                    })
                    .map(|(_, l)| l.span)
            });
            Some(layer.unwrap_or(name))
        }
        What::Layer { .. } | What::Arg { .. } | What::Builtin => None,
    }
}

/// The outline of a document.
pub fn symbols(an: &Analysis) -> Vec<DocumentSymbol> {
    let Some(script) = &an.script else {
        return vec![];
    };
    let mut out = Vec::new();
    for (i, stmt) in script.stmts.iter().enumerate() {
        match &stmt.kind {
            StmtKind::Model(decl) => out.push(model_symbol(an, i, decl, stmt.span)),
            StmtKind::Let { name, .. } => out.push(symbol(
                an,
                &name.name,
                None,
                SymbolKind::VARIABLE,
                stmt.span,
                name.span,
            )),
            StmtKind::LetTuple { names, .. } => {
                for n in names {
                    out.push(symbol(
                        an,
                        &n.name,
                        None,
                        SymbolKind::VARIABLE,
                        stmt.span,
                        n.span,
                    ));
                }
            }
            _ => {}
        }
    }
    out
}

fn model_symbol(an: &Analysis, stmt: usize, decl: &ModelDecl, span: Span) -> DocumentSymbol {
    let model = an.model(stmt);
    let detail = model.map(|m| format!("{} -> {}", m.input, m.output()));
    let mut sym = symbol(
        an,
        &decl.name.name,
        detail,
        SymbolKind::CLASS,
        span,
        decl.name.span,
    );
    let mut children: Vec<DocumentSymbol> = Vec::new();
    for line in &decl.lines {
        let layers: Vec<DocumentSymbol> = line
            .layers
            .iter()
            .map(|c| layer_symbol(an, stmt, c))
            .collect();
        match &line.bind {
            Some(b) => {
                let shape = model
                    .and_then(|m| m.nodes.iter().find(|n| n.name.as_ref() == Some(&b.name)))
                    .map(|n| n.out_shape().to_string());
                let mut node = symbol(an, &b.name, shape, SymbolKind::VARIABLE, line.span, b.span);
                node.children = Some(layers);
                children.push(node);
            }
            // a line without a binding extends the node above it
            None => match children.last_mut().and_then(|n| n.children.as_mut()) {
                Some(node_layers) => node_layers.extend(layers),
                None => children.extend(layers),
            },
        }
    }
    sym.children = Some(children);
    sym
}

fn layer_symbol(an: &Analysis, stmt: usize, call: &LayerCall) -> DocumentSymbol {
    let name = match &call.label {
        Some(l) => format!("{}: {}", l.name, call.name.name),
        None => call.name.name.clone(),
    };
    let shape = an
        .layer(stmt, call.span)
        .map(|(_, _, l)| l.out_shape.to_string());
    symbol(
        an,
        &name,
        shape,
        SymbolKind::FUNCTION,
        call.span,
        call.name.span,
    )
}

fn symbol(
    an: &Analysis,
    name: &str,
    detail: Option<String>,
    kind: SymbolKind,
    span: Span,
    selection: Span,
) -> DocumentSymbol {
    #[allow(deprecated)] // `deprecated` is a field the type still requires
    DocumentSymbol {
        name: name.to_string(),
        detail,
        kind,
        tags: None,
        deprecated: None,
        range: an.range(span),
        selection_range: an.range(selection),
        children: None,
    }
}
