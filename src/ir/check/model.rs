//! Model declarations and `shape` questions: the declared input type, each
//! layer's output shape, parameters and receptive field, and the nodes and
//! merges of graph models, lowered to the checked IR.

use std::collections::HashMap;

use crate::ir::error::CheckError;
use crate::ir::infer::{infer_layer, validate_call};
use crate::ir::model::{Layer, Model, Node, NodeInput, NodeSource};
use crate::ir::shape::{Dim, Rf, Shape};
use crate::layers::{layer_spec, InputRank, LayerInput, LayerKind};
use crate::syntax::ast::*;
use crate::value::dims_string;

/// The dims of a declaration as a shape; sizes must be positive.
fn dims_to_shape(dims: &Dims) -> Result<Shape, CheckError> {
    let mut out = Vec::new();
    let mut total = 1u64;
    for d in &dims.dims {
        match d {
            DimLit::Known(0) => {
                return Err(CheckError::bad_value(
                    format!(
                        "a size must be at least 1, found 0 in {}",
                        dims_string(&dims.dims)
                    ),
                    dims.span,
                    "zero size",
                    "every dimension needs at least one element".into(),
                ))
            }
            DimLit::Known(n) => {
                total = total.checked_mul(*n).ok_or_else(|| {
                    CheckError::overflow(
                        &format!("the shape {}", dims_string(&dims.dims)),
                        dims.span,
                    )
                })?;
                out.push(Dim::Known(*n));
            }
            DimLit::Sym(s) if s.starts_with(|c: char| c.is_ascii_digit()) => {
                return Err(CheckError::overflow(&format!("the size {s}"), dims.span));
            }
            DimLit::Sym(s) => out.push(Dim::Sym(s.clone())),
        }
    }
    Ok(Shape(out))
}

/// Promote a rank-2 (HxW) or rank-3 (CxHxW) input to rank 4 with leading 1s
/// when the first rank-sensitive layer is a 4-D one (SPEC section 4).
fn promote(shape: Shape, first_layers: &[&LayerCall]) -> Shape {
    let first = first_layers
        .iter()
        .filter_map(|l| layer_spec(&l.name.name))
        .map(|spec| spec.input)
        .find(|rule| *rule != InputRank::Any);
    let image = match first {
        Some(InputRank::Image) => true,
        Some(InputRank::ImageIfRank3) => shape.rank() == 3,
        Some(InputRank::AsIs | InputRank::Any) | None => false,
    };
    if image && (shape.rank() == 2 || shape.rank() == 3) {
        let mut dims = vec![Dim::Known(1); 4 - shape.rank()];
        dims.extend(shape.0);
        Shape(dims)
    } else {
        shape
    }
}

/// `shape dims -> layer -> ...`: a one-node model without a name.
pub fn check_chain_question(input: &Dims, layers: &[LayerCall]) -> Result<Model, Vec<CheckError>> {
    let decl = ModelDecl {
        name: Ident {
            name: "shape".into(),
            span: input.span,
        },
        input_name: Ident {
            name: "x".into(),
            span: input.span,
        },
        input: input.clone(),
        lines: vec![ModelLine {
            bind: None,
            source: None,
            layers: layers.to_vec(),
            span: input.span,
        }],
        span: input.span,
    };
    check_model(&decl).map(|(m, _)| m)
}

/// A bound name inside a model: the input or a node.
#[derive(Clone, Copy)]
struct Binding {
    target: NodeInput,
    span: Span,
}

/// Lower and infer a model declaration (plain or graph).
pub fn check_model(decl: &ModelDecl) -> Result<(Model, Vec<CheckError>), Vec<CheckError>> {
    let declared = dims_to_shape(&decl.input).map_err(|e| vec![e])?;
    let all_layers: Vec<&LayerCall> = decl.lines.iter().flat_map(|l| l.layers.iter()).collect();
    let input = promote(declared.clone(), &all_layers);
    let is_graph = decl.lines.iter().any(|l| l.bind.is_some());

    let mut errors = Vec::new();
    let mut nodes: Vec<Node> = Vec::new();
    // per node: whether inference succeeded (a failed node poisons its readers)
    let mut ok: Vec<bool> = Vec::new();
    let mut after_flatten: Vec<bool> = Vec::new();
    let mut bindings: HashMap<String, Binding> = HashMap::new();
    let mut used: Vec<bool> = Vec::new();
    let mut labels: HashMap<String, Span> = HashMap::new();
    bindings.insert(
        decl.input_name.name.clone(),
        Binding {
            target: NodeInput::Input,
            span: decl.input_name.span,
        },
    );
    let later_bindings: HashMap<&str, Span> = decl
        .lines
        .iter()
        .filter_map(|l| l.bind.as_ref().map(|b| (b.name.as_str(), b.span)))
        .collect();

    for line in &decl.lines {
        for call in &line.layers {
            if let Some(label) = &call.label {
                if let Some(first) = labels.get(&label.name) {
                    errors.push(CheckError::duplicate_label(&label.name, label.span, *first));
                } else {
                    labels.insert(label.name.clone(), label.span);
                }
            }
        }
        // Which node do this line's layers extend?
        let node_idx = match (&line.bind, &line.source) {
            (Some(bind), Some(source)) => {
                if let Some(prev) = bindings.get(&bind.name) {
                    errors.push(CheckError::bound_twice(&bind.name, bind.span, prev.span));
                    continue;
                }
                let resolved = resolve_source(
                    source,
                    &bindings,
                    &later_bindings,
                    &nodes,
                    &ok,
                    &input,
                    &mut used,
                    &mut errors,
                );
                let Some((src, inputs, shape, rf, flat)) = resolved else {
                    // unusable source: bind the name anyway so later lines don't cascade
                    nodes.push(empty_node(Some(bind.name.clone()), line.span, &input));
                    ok.push(false);
                    after_flatten.push(false);
                    used.push(true);
                    bindings.insert(
                        bind.name.clone(),
                        Binding {
                            target: NodeInput::Node(nodes.len() - 1),
                            span: bind.span,
                        },
                    );
                    continue;
                };
                nodes.push(Node {
                    name: Some(bind.name.clone()),
                    source: src,
                    inputs,
                    layers: vec![],
                    source_shape: shape,
                    source_rf: rf,
                    span: line.span,
                });
                ok.push(true);
                after_flatten.push(flat);
                used.push(false);
                bindings.insert(
                    bind.name.clone(),
                    Binding {
                        target: NodeInput::Node(nodes.len() - 1),
                        span: bind.span,
                    },
                );
                nodes.len() - 1
            }
            _ => {
                if nodes.is_empty() {
                    nodes.push(Node {
                        name: None,
                        source: NodeSource::Input,
                        inputs: vec![decl.input_name.name.clone()],
                        layers: vec![],
                        source_shape: input.clone(),
                        source_rf: Rf::INPUT,
                        span: line.span,
                    });
                    ok.push(true);
                    after_flatten.push(false);
                    used.push(true);
                }
                nodes.len() - 1
            }
        };
        if !ok[node_idx] {
            line.layers
                .iter()
                .for_each(|c| errors.extend(validate_call(c)));
            continue;
        }
        let mut failed_at = None;
        for (pos, call) in line.layers.iter().enumerate() {
            let node = &nodes[node_idx];
            let shape = node.out_shape().clone();
            let li = LayerInput {
                shape: &shape,
                rf: node.out_rf(),
                after_flatten: after_flatten[node_idx],
                index: node.layers.len(),
            };
            match infer_layer(call, &li) {
                Ok(layer) => {
                    if layer.kind == LayerKind::Flatten {
                        after_flatten[node_idx] = true;
                    }
                    nodes[node_idx].layers.push(layer);
                }
                Err(mut e) => {
                    errors.append(&mut e);
                    ok[node_idx] = false;
                    failed_at = Some(pos);
                    break;
                }
            }
        }
        if let Some(pos) = failed_at {
            line.layers[pos + 1..]
                .iter()
                .for_each(|c| errors.extend(validate_call(c)));
        }
    }

    if nodes.is_empty() {
        errors.push(CheckError::other(
            "empty_model",
            format!("model `{}` has no layers", decl.name.name),
            decl.name.span,
            "empty",
            "add at least one layer, e.g. `= conv(out=1, k=3)`".into(),
        ));
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut warnings = Vec::new();
    if is_graph {
        let last = nodes.len().saturating_sub(1);
        for (i, node) in nodes.iter().enumerate() {
            if i != last && !used[i] {
                if let Some(name) = &node.name {
                    let span = bindings.get(name).map(|b| b.span).unwrap_or(node.span);
                    warnings.push(CheckError::unused_node(name, span));
                }
            }
        }
    }
    Ok((
        Model {
            name: decl.name.name.clone(),
            span: decl.span,
            input_name: decl.input_name.name.clone(),
            declared_input: declared,
            input,
            nodes,
            is_graph,
        },
        warnings,
    ))
}

fn empty_node(name: Option<String>, span: Span, input: &Shape) -> Node {
    Node {
        name,
        source: NodeSource::Input,
        inputs: vec![],
        layers: vec![],
        source_shape: input.clone(),
        source_rf: Rf::INPUT,
        span,
    }
}

type Resolved = (NodeSource, Vec<String>, Shape, Rf, bool);

/// Resolve a binding line's source: names must be bound on earlier lines;
/// merges must fit (add: identical shapes; concat: equal but for channels).
#[allow(clippy::too_many_arguments)]
fn resolve_source(
    source: &Source,
    bindings: &HashMap<String, Binding>,
    later: &HashMap<&str, Span>,
    nodes: &[Node],
    ok: &[bool],
    input: &Shape,
    used: &mut [bool],
    errors: &mut Vec<CheckError>,
) -> Option<Resolved> {
    let lookup = |id: &Ident,
                  errors: &mut Vec<CheckError>,
                  used: &mut [bool],
                  merge: bool|
     -> Option<(NodeInput, Shape, Rf)> {
        match bindings.get(&id.name) {
            Some(b) => match b.target {
                NodeInput::Input => Some((NodeInput::Input, input.clone(), Rf::INPUT)),
                NodeInput::Node(i) => {
                    used[i] = true;
                    if ok[i] {
                        Some((
                            NodeInput::Node(i),
                            nodes[i].out_shape().clone(),
                            nodes[i].out_rf(),
                        ))
                    } else {
                        None
                    }
                }
            },
            None => {
                match later.get(id.name.as_str()) {
                    Some(s) => errors.push(CheckError::unbound(&id.name, id.span, Some(*s))),
                    None if merge => {
                        // sorted: a HashMap's order would make the suggestion vary by run
                        let mut known: Vec<String> = bindings.keys().cloned().collect();
                        known.sort();
                        errors.push(CheckError::unknown_name("node", &id.name, id.span, &known));
                    }
                    None => errors.push(CheckError::unbound(&id.name, id.span, None)),
                }
                None
            }
        }
    };
    match source {
        Source::Name(id) => {
            let (target, shape, rf) = lookup(id, errors, used, false)?;
            let src = match target {
                NodeInput::Input => NodeSource::Input,
                NodeInput::Node(i) => NodeSource::Node(i),
            };
            let flat = shape.rank() == 2 && input.rank() == 4;
            Some((src, vec![id.name.clone()], shape, rf, flat))
        }
        Source::Merge { op, args, span } => {
            if op.name != "add" && op.name != "concat" {
                errors.push(CheckError::unknown_merge(&op.name, op.span));
                return None;
            }
            let mut parts = Vec::new();
            let mut failed = false;
            for a in args {
                match lookup(a, errors, used, true) {
                    Some(p) => parts.push((a, p)),
                    None => failed = true,
                }
            }
            if failed || parts.is_empty() {
                return None;
            }
            let (first_id, (_, first_shape, _)) = &parts[0];
            let mut out_shape = first_shape.clone();
            let mut rf = Rf::INPUT;
            for (id, (_, shape, r)) in &parts {
                // rf of a merge: per dim the largest rf and, separately, the largest jump
                for i in 0..2 {
                    rf.size[i] = rf.size[i].max(r.size[i]);
                    rf.jump[i] = rf.jump[i].max(r.jump[i]);
                }
                if std::ptr::eq(*id, *first_id) {
                    continue;
                }
                let a = (first_id.name.as_str(), first_shape);
                let b = (id.name.as_str(), shape);
                if op.name == "add" {
                    if shape != first_shape {
                        errors.push(CheckError::merge_shapes(
                            "add",
                            a,
                            b,
                            *span,
                            "add needs identical shapes",
                        ));
                        return None;
                    }
                } else {
                    let fits = shape.rank() == first_shape.rank()
                        && shape.rank() >= 2
                        && shape
                            .0
                            .iter()
                            .zip(&first_shape.0)
                            .enumerate()
                            .all(|(i, (x, y))| i == 1 || x == y);
                    if !fits {
                        errors.push(CheckError::merge_shapes(
                            "concat",
                            a,
                            b,
                            *span,
                            "only the channels may differ",
                        ));
                        return None;
                    }
                    out_shape.0[1] = match (&out_shape.0[1], &shape.0[1]) {
                        (Dim::Known(x), Dim::Known(y)) => match x.checked_add(*y) {
                            Some(s) => Dim::Known(s),
                            None => {
                                errors
                                    .push(CheckError::overflow("the concatenated channels", *span));
                                return None;
                            }
                        },
                        (x, y) => Dim::Sym(format!("{x}+{y}")),
                    };
                }
            }
            let inputs: Vec<NodeInput> = parts.iter().map(|(_, (t, _, _))| *t).collect();
            let names = args.iter().map(|a| a.name.clone()).collect();
            let src = if op.name == "add" {
                NodeSource::Add(inputs)
            } else {
                NodeSource::Concat(inputs)
            };
            let flat = out_shape.rank() == 2 && input.rank() == 4;
            Some((src, names, out_shape, rf, flat))
        }
    }
}

/// The layers of a model, flattened with their node, for reports.
pub fn layer_rows(model: &Model) -> Vec<(&Node, &Layer)> {
    model.layers().collect()
}
