//! What `summary`, `shape`, `shape explain` and `check --json` print.

use std::fmt::Write;

use super::model::{Layer, Model, Node};
use super::shape::Shape;

/// `1234567` as `1,234,567`.
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `1,234 bytes (1.21 KiB)`; below 1 KiB just `512 B`.
fn bytes(n: u64) -> String {
    let short = crate::io::human_bytes(n, 2);
    if n < 1024 {
        short
    } else {
        format!("{} bytes ({short})", thousands(n))
    }
}

/// A layer with its arguments as cnnscript writes them (defaults left out).
pub fn layer_text(layer: &Layer) -> String {
    layer.kind.text()
}

fn row_name(model: &Model, node: &Node, layer: &Layer) -> String {
    let prefix = model.param_prefix(node, layer);
    match &layer.label {
        Some(l) if !model.is_graph => l.clone(),
        Some(l) => l.clone(),
        None => prefix,
    }
}

fn rf_text(layer: &Layer) -> String {
    format!("{}x{}", layer.rf.size[0], layer.rf.size[1])
}

/// Bytes of one sample of a shape (f32), when known.
fn sample_bytes(shape: &Shape) -> Option<u64> {
    shape.per_item()?.checked_mul(4)
}

/// The shapes of a layer's learnable tensors, as torchinfo lists them:
/// `6x1x5x5, 6` for a conv's weight and bias.
pub fn param_shapes(layer: &Layer) -> String {
    layer
        .kind
        .tensors()
        .iter()
        .filter(|t| t.role == crate::layers::Role::Learnable)
        .map(|t| crate::value::dims_string(&t.shape))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The MACs cell: a pool shows its comparisons or additions instead of 0.
fn cost_cell(layer: &Layer) -> String {
    match layer.kind.other_ops(&layer.in_shape, &layer.out_shape) {
        Some((Some(n), unit)) => format!("{} {unit}", thousands(n)),
        Some((None, unit)) => format!("? {unit}"),
        None if layer.macs == super::model::UNKNOWN_MACS => "?".into(),
        None => thousands(layer.macs),
    }
}

/// A table `summary` or `shape` answers with: the text a terminal shows,
/// and its cells for front ends that draw tables (a notebook).
#[derive(Clone, Debug, PartialEq)]
pub struct Table {
    /// The line above the table (`Model: lenet (input Nx1x28x28)`).
    pub title: Option<String>,
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
    /// Columns from this one on hold numbers (drawn right-aligned).
    pub numeric_from: usize,
    /// Lines below the table (totals).
    pub notes: Vec<String>,
    /// The whole answer as plain text, as `summary`/`shape` print it.
    pub text: String,
}

/// The `summary` table: one row per layer, then totals.
pub fn summary(model: &Model) -> String {
    summary_table(model).text
}

/// [`summary`] with its cells.
pub fn summary_table(model: &Model) -> Table {
    const COLUMNS: usize = 7;
    // Params, MACs and RF are right-aligned
    const NUMERIC_FROM: usize = 4;
    let mut rows: Vec<[String; COLUMNS]> = Vec::new();
    let header = [
        "Layer".to_string(),
        "Type (arguments)".to_string(),
        "Output shape".to_string(),
        "Param shapes".to_string(),
        "Params".to_string(),
        "MACs".to_string(),
        "RF".to_string(),
    ];
    rows.push([
        "input".into(),
        model.input_name.clone(),
        model.input.to_string(),
        String::new(),
        "0".into(),
        "0".into(),
        "1x1".into(),
    ]);
    let mut activation_bytes: u64 = sample_bytes(&model.input).unwrap_or(0);
    let mut last_node: Option<&str> = None;
    for (node, layer) in model.layers() {
        if model.is_graph && last_node != node.name.as_deref() {
            last_node = node.name.as_deref();
            if !node.inputs.is_empty() {
                let src = match &node.source {
                    super::model::NodeSource::Add(_) => format!("add({})", node.inputs.join(", ")),
                    super::model::NodeSource::Concat(_) => {
                        format!("concat({})", node.inputs.join(", "))
                    }
                    _ => node.inputs.join(", "),
                };
                rows.push([
                    format!("{} =", node.name.as_deref().unwrap_or("")),
                    src,
                    node.source_shape.to_string(),
                    String::new(),
                    String::new(),
                    String::new(),
                    String::new(),
                ]);
            }
        }
        activation_bytes =
            activation_bytes.saturating_add(sample_bytes(&layer.out_shape).unwrap_or(0));
        rows.push([
            row_name(model, node, layer),
            layer_text(layer),
            layer.out_shape.to_string(),
            param_shapes(layer),
            thousands(layer.params),
            cost_cell(layer),
            rf_text(layer),
        ]);
    }
    let mut widths = [0usize; COLUMNS];
    for r in std::iter::once(&header).chain(rows.iter()) {
        for (w, cell) in widths.iter_mut().zip(r.iter()) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let total_width: usize = widths.iter().sum::<usize>() + 2 * (COLUMNS - 1);
    let rule = "─".repeat(total_width);
    let mut out = String::new();
    let _ = writeln!(out, "Model: {} (input {})", model.name, model.input);
    let fmt_row = |r: &[String; COLUMNS]| {
        let mut line = String::new();
        for (i, cell) in r.iter().enumerate() {
            let pad = widths[i] - cell.chars().count();
            let numeric = i >= NUMERIC_FROM;
            if i > 0 {
                line.push_str("  ");
            }
            if numeric {
                line.push_str(&" ".repeat(pad));
                line.push_str(cell);
            } else {
                line.push_str(cell);
                line.push_str(&" ".repeat(pad));
            }
        }
        line.trim_end().to_string()
    };
    let _ = writeln!(out, "{rule}");
    let _ = writeln!(out, "{}", fmt_row(&header));
    let _ = writeln!(out, "{rule}");
    for r in &rows {
        let _ = writeln!(out, "{}", fmt_row(r));
    }
    let _ = writeln!(out, "{rule}");
    let notes_at = out.len();
    let params = model.total_params();
    let _ = writeln!(out, "Total params: {}", thousands(params));
    let macs = match model.total_macs() {
        Some(m) => thousands(m),
        None => "unknown (depends on symbolic sizes)".into(),
    };
    let _ = writeln!(out, "Total MACs per sample: {macs}");
    let pooling = pool_totals(model);
    if !pooling.is_empty() {
        let _ = writeln!(out, "Pooling per sample: {pooling} (no MACs)");
    }
    let _ = writeln!(out, "Parameter memory: {}", bytes(params.saturating_mul(4)));
    let _ = writeln!(
        out,
        "Activation memory per sample (training): {}",
        bytes(activation_bytes)
    );
    if let (Some(i), Some(o)) = (model.input.per_item(), model.output().per_item()) {
        let dense = i.checked_mul(o).and_then(|v| v.checked_add(o));
        if let Some(dense) = dense {
            let _ = writeln!(
                out,
                "A fully connected layer from {i} inputs to {o} outputs would need {} params ({})",
                thousands(dense),
                ratio_text(dense, params)
            );
        }
    }
    Table {
        title: Some(format!("Model: {} (input {})", model.name, model.input)),
        header: header.to_vec(),
        rows: rows.into_iter().map(|r| r.to_vec()).collect(),
        numeric_from: NUMERIC_FROM,
        notes: out[notes_at..].lines().map(str::to_string).collect(),
        text: out,
    }
}

/// `1,176 comparisons, 400 additions`: what the pools of a model do per sample.
fn pool_totals(model: &Model) -> String {
    let (mut cmp, mut add, mut known) = (0u64, 0u64, true);
    for (_, layer) in model.layers() {
        match layer.kind.other_ops(&layer.in_shape, &layer.out_shape) {
            Some((Some(n), "cmp")) => cmp = cmp.saturating_add(n),
            Some((Some(n), _)) => add = add.saturating_add(n),
            Some((None, _)) => known = false,
            None => {}
        }
    }
    if !known {
        return "unknown (depends on symbolic sizes)".into();
    }
    let mut parts = Vec::new();
    if cmp > 0 {
        parts.push(format!("{} comparisons", thousands(cmp)));
    }
    if add > 0 {
        parts.push(format!("{} additions", thousands(add)));
    }
    parts.join(", ")
}

fn ratio_text(dense: u64, params: u64) -> String {
    let ratio = dense as f64 / params.max(1) as f64;
    match params {
        0 => "this model has none".into(),
        _ if ratio >= 1.0 => format!("{ratio:.1}x this model's {}", thousands(params)),
        _ => format!(
            "this model has {}, {:.1}x more",
            thousands(params),
            1.0 / ratio
        ),
    }
}

/// `shape A -> layer -> ...`: every intermediate shape.
pub fn shape_chain(model: &Model) -> String {
    shape_table(model).text
}

/// [`shape_chain`] with its cells.
pub fn shape_table(model: &Model) -> Table {
    let rows: Vec<(String, String)> =
        std::iter::once(("input".to_string(), model.input.to_string()))
            .chain(
                model
                    .layers()
                    .map(|(_, l)| (layer_text(l), l.out_shape.to_string())),
            )
            .collect();
    let width = rows
        .iter()
        .map(|(a, _)| a.chars().count())
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    for (a, b) in &rows {
        let pad = width - a.chars().count();
        let _ = writeln!(out, "{a}{}  -> {b}", " ".repeat(pad));
    }
    Table {
        title: None,
        header: vec!["Layer".into(), "Output shape".into()],
        rows: rows.into_iter().map(|(a, b)| vec![a, b]).collect(),
        numeric_from: 2,
        notes: Vec::new(),
        text: out,
    }
}

/// `shape explain ...`: each spatial size's formula with the numbers substituted.
pub fn explain(model: &Model) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "input {}", model.input);
    for (_, layer) in model.layers() {
        let _ = writeln!(out, "{} -> {}", layer_text(layer), layer.out_shape);
        out.push_str(&layer_formula(layer));
    }
    out
}

/// The lines `shape explain` prints under one layer: each spatial size's
/// formula with the numbers substituted (empty for layers without one).
pub fn layer_formula(layer: &Layer) -> String {
    layer.kind.explain(&layer.in_shape, &layer.out_shape)
}

/// `check --json`: every model with its layers (SPEC section 6).
pub fn json<'a>(models: impl Iterator<Item = &'a Model>) -> serde_json::Value {
    use serde_json::{json, Value};
    let models: Vec<Value> = models
        .map(|m| {
            let layers: Vec<Value> = m
                .layers()
                .map(|(node, l)| {
                    let mut obj = json!({
                        "index": l.index,
                        "label": l.label,
                        "op": l.op(),
                        "output": l.out_shape.to_json(),
                        "params": l.params,
                        "rf": [l.rf.size[0], l.rf.size[1]],
                        "macs": (l.macs != super::model::UNKNOWN_MACS).then_some(l.macs),
                        "name": m.param_prefix(node, l),
                    });
                    if m.is_graph {
                        obj["node"] = json!(node.name);
                        obj["inputs"] = json!(node.inputs);
                    }
                    obj
                })
                .collect();
            json!({
                "name": m.name,
                "input": m.declared_input.to_json(),
                "output": m.output().to_json(),
                "params": m.total_params(),
                "macs": m.total_macs(),
                "layers": layers,
            })
        })
        .collect();
    json!({ "models": models })
}
