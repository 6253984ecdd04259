//! `check --dot`: the checked models as one Graphviz DOT graph. Each model is
//! a cluster; its input is an oval, each layer a box with its state-dict name
//! and arguments, each merge (`add`, `concat`) an ellipse, and every edge is
//! labelled with the shape that flows along it.

use std::fmt::Write;

use super::model::{Model, NodeInput, NodeSource};
use super::report::layer_text;

/// Every model as one `digraph`, a cluster per model, in declaration order.
pub fn dot<'a>(models: impl Iterator<Item = &'a Model>) -> String {
    let mut out = String::from("digraph cnnscript {\n");
    out.push_str("  rankdir=TB;\n  fontname=\"Helvetica\";\n");
    out.push_str("  node [shape=box, fontname=\"Helvetica\", fontsize=11];\n");
    out.push_str("  edge [fontname=\"Helvetica\", fontsize=9];\n");
    for (m, model) in models.enumerate() {
        model_cluster(&mut out, m, model);
    }
    out.push_str("}\n");
    out
}

/// One model's cluster. Node ids are `m{model}_in`, `m{model}_{node}_{layer}`,
/// `m{model}_{node}_merge` and `m{model}_out`, so models never collide.
fn model_cluster(out: &mut String, m: usize, model: &Model) {
    let id = |s: &str| format!("m{m}_{s}");
    let _ = writeln!(out, "  subgraph cluster_{m} {{");
    let _ = writeln!(
        out,
        "    label={};",
        quote(&format!("model {}", model.name))
    );
    let input = id("in");
    let _ = writeln!(
        out,
        "    {input} [shape=oval, label={}];",
        quote(&format!("{}: {}", model.input_name, model.input))
    );
    // The id whose value each node ends with, for edges out of it.
    let mut tails: Vec<String> = Vec::with_capacity(model.nodes.len());
    let operand = |tails: &[String], i: &NodeInput| match i {
        NodeInput::Input => (input.clone(), model.input.to_string()),
        NodeInput::Node(k) => (tails[*k].clone(), model.nodes[*k].out_shape().to_string()),
    };
    for (n, node) in model.nodes.iter().enumerate() {
        let mut prev = match &node.source {
            NodeSource::Input => input.clone(),
            NodeSource::Node(k) => tails[*k].clone(),
            NodeSource::Add(ins) | NodeSource::Concat(ins) => {
                let op = if matches!(node.source, NodeSource::Add(_)) {
                    "add"
                } else {
                    "concat"
                };
                let merge = id(&format!("{n}_merge"));
                let name = node.name.as_deref().unwrap_or("");
                let _ = writeln!(
                    out,
                    "    {merge} [shape=ellipse, label={}];",
                    quote(&format!("{name} = {op}"))
                );
                for i in ins {
                    let (from, shape) = operand(&tails, i);
                    let _ = writeln!(out, "    {from} -> {merge} [label={}];", quote(&shape));
                }
                merge
            }
        };
        let mut shape = node.source_shape.to_string();
        for (l, layer) in node.layers.iter().enumerate() {
            let layer_id = id(&format!("{n}_{l}"));
            let name = model.param_prefix(node, layer);
            let _ = writeln!(
                out,
                "    {layer_id} [label={}];",
                quote(&format!("{name}: {}", layer_text(layer)))
            );
            let _ = writeln!(out, "    {prev} -> {layer_id} [label={}];", quote(&shape));
            prev = layer_id;
            shape = layer.out_shape.to_string();
        }
        tails.push(prev);
    }
    let output = id("out");
    let _ = writeln!(out, "    {output} [shape=oval, label=\"output\"];");
    let last = tails.last().cloned().unwrap_or(input);
    let _ = writeln!(
        out,
        "    {last} -> {output} [label={}];",
        quote(&model.output().to_string())
    );
    out.push_str("  }\n");
}

/// A DOT string literal.
fn quote(text: &str) -> String {
    let mut s = String::with_capacity(text.len() + 2);
    s.push('"');
    for c in text.chars() {
        match c {
            '"' | '\\' => {
                s.push('\\');
                s.push(c);
            }
            '\n' => s.push_str("\\n"),
            c => s.push(c),
        }
    }
    s.push('"');
    s
}

#[cfg(test)]
mod tests {
    use super::quote;

    #[test]
    fn quotes_escape_quotes_and_backslashes() {
        assert_eq!(quote(r#"a "b" \c"#), r#""a \"b\" \\c""#);
    }
}
