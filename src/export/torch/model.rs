//! model.py: one `nn.Module` per model, state-dict keys exactly cnnscript's
//! parameter names. A plain model is an `nn.Sequential` (labels become its
//! keys); a graph model gets a module per node and a `forward` that reads
//! like the script's lines.

use super::py::{self, Code, Names};
use crate::ir::model::{Layer, Model, Node, NodeInput, NodeSource};
use crate::ir::shape::{Dim, Shape};
use crate::run::error::RunError;

/// A model to write: its checked IR, its class name and the script line it starts on.
pub struct ModelClass<'a> {
    pub ir: &'a Model,
    pub class: String,
    pub line: usize,
}

/// The whole of model.py.
pub fn model_py(file: &str, text: &str, models: &[ModelClass]) -> Result<String, RunError> {
    let mut needs = Helpers::default();
    let mut ordered = false;
    let mut bodies = Vec::new();
    for m in models {
        check_names(m.ir)?;
        ordered |= !m.ir.is_graph && m.ir.layers().any(|(_, l)| l.label.is_some());
        bodies.push(if m.ir.is_graph {
            graph_class(m, file, text, &mut needs)
        } else {
            sequential_class(m, file, text, &mut needs)
        });
    }
    let mut c = Code::new();
    c.line(format!(
        "\"\"\"The models of {file} as PyTorch modules, written by `cnnscript export --torch`.\n\n\
         Each module's state_dict keys are cnnscript's parameter names (`0.weight`,\n\
         `c1.bias`, `a.1.running_mean`), so weights saved by cnnscript load here with\n\
         load_state_dict(..., strict=True), and weights saved here load into cnnscript.\n\"\"\""
    ));
    if ordered {
        c.line("from collections import OrderedDict\n");
    }
    c.line("import torch\nimport torch.nn as nn\nimport torch.nn.functional as F");
    c.blank();
    c.blank();
    c.line(AS_NCHW);
    for helper in needs.0 {
        c.blank();
        c.blank();
        c.line(helper);
    }
    for body in bodies {
        c.blank();
        c.blank();
        c.line(body.trim_end());
    }
    Ok(c.finish())
}

/// The helper classes model.py defines (`ScriptConv2d`...), in order of first use.
#[derive(Default)]
struct Helpers(Vec<&'static str>);

/// A layer's module constructor, e.g. `nn.Conv2d(1, 6, kernel_size=5, padding=2)`,
/// noting the helper class it needs.
fn module(layer: &Layer, needs: &mut Helpers) -> String {
    let m = layer.kind.torch(&layer.in_shape);
    if let Some(h) = m.helper {
        if !needs.0.contains(&h) {
            needs.0.push(h);
        }
    }
    m.call()
}

const AS_NCHW: &str = r#"def as_nchw(x):
    """cnnscript's rank promotion for image models: an HxW input becomes 1x1xHxW and
    a CxHxW input 1xCxHxW."""
    return x.reshape((1,) * (4 - x.dim()) + tuple(x.shape)) if x.dim() < 4 else x"#;

/// `("N", 1, 28, 28)`
fn shape_tuple(s: &Shape) -> String {
    let dims: Vec<String> =
        s.0.iter()
            .map(|d| match d {
                Dim::Known(n) => n.to_string(),
                Dim::Sym(s) => py::str_lit(s),
            })
            .collect();
    if dims.len() == 1 {
        format!("({},)", dims[0])
    } else {
        format!("({})", dims.join(", "))
    }
}

fn header(c: &mut Code, m: &ModelClass, file: &str, base: &str) {
    let ir = m.ir;
    c.line(format!("class {}({base}):", m.class));
    c.indent();
    c.line(format!(
        "\"\"\"model {}({}: {}), {file}:{}.\"\"\"",
        ir.name, ir.input_name, ir.declared_input, m.line
    ));
    c.blank();
    c.line(format!("input_shape = {}", shape_tuple(&ir.input)));
}

/// A line of code with a comment quoting the script: at the end of the line,
/// or above it when the line would be long.
fn commented(c: &mut Code, code: &str, comment: &str) {
    if c.width() + code.len() + comment.len() + 4 <= 99 {
        c.line(format!("{code}  # {comment}"));
    } else {
        c.line(format!("# {comment}"));
        c.line(code);
    }
}

/// The layer's text in the script, for a comment.
fn source_of(text: &str, layer: &Layer) -> String {
    py::one_line(text.get(layer.span.start..layer.span.end).unwrap_or(""), 60)
}

fn sequential_class(m: &ModelClass, file: &str, text: &str, needs: &mut Helpers) -> String {
    let ir = m.ir;
    let mut c = Code::new();
    header(&mut c, m, file, "nn.Sequential");
    c.blank();
    c.line("def __init__(self):");
    c.indent();
    let labelled = ir.layers().any(|(_, l)| l.label.is_some());
    let layers: Vec<&Layer> = ir.layers().map(|(_, l)| l).collect();
    if layers.is_empty() {
        c.line("super().__init__()");
    } else {
        c.line(if labelled {
            "super().__init__(OrderedDict(["
        } else {
            "super().__init__("
        });
        c.indent();
        for (node, layer) in ir.layers() {
            let module = module(layer, needs);
            let entry = if labelled {
                let key = ir.param_prefix(node, layer);
                format!("({}, {module}),", py::str_lit(&key))
            } else {
                format!("{module},")
            };
            commented(&mut c, &entry, &source_of(text, layer));
        }
        c.dedent();
        c.line(if labelled { "]))" } else { ")" });
    }
    c.dedent();
    if ir.input.rank() == 4 {
        c.blank();
        c.line("def forward(self, x):");
        c.line("    return super().forward(as_nchw(x))");
    }
    c.finish()
}

/// Where a layer of a graph model lives: a module of its own (labelled, or
/// in an unnamed node) or an entry of its node's container.
enum Home {
    Own(String),
    InNode(String, String),
}

fn home(ir: &Model, node: &Node, layer: &Layer) -> Home {
    let prefix = ir.param_prefix(node, layer);
    match prefix.split_once('.') {
        Some((n, i)) => Home::InNode(n.to_string(), i.to_string()),
        None => Home::Own(prefix),
    }
}

/// `self.name`, or `getattr(self, "name")` for a keyword or a number.
fn attr(name: &str) -> String {
    if py::is_attribute_name(name) && !name.starts_with(|c: char| c.is_ascii_digit()) {
        format!("self.{name}")
    } else {
        format!("getattr(self, {})", py::str_lit(name))
    }
}

/// `self.name = module`, or `self.add_module("name", module)`.
fn set_attr(name: &str, module: &str) -> String {
    if py::is_attribute_name(name) && !name.starts_with(|c: char| c.is_ascii_digit()) {
        format!("self.{name} = {module}")
    } else {
        format!("self.add_module({}, {module})", py::str_lit(name))
    }
}

/// Whether a node's layers all sit in one container under its name, in
/// order from 0: then the container is an `nn.Sequential`.
fn whole_chain(ir: &Model, node: &Node) -> bool {
    !node.layers.is_empty()
        && node
            .layers
            .iter()
            .all(|l| matches!(home(ir, node, l), Home::InNode(..)))
}

fn graph_class(m: &ModelClass, file: &str, text: &str, needs: &mut Helpers) -> String {
    let ir = m.ir;
    let mut c = Code::new();
    header(&mut c, m, file, "nn.Module");
    let unused = unused_nodes(ir);
    if !unused.is_empty() {
        let names: Vec<String> = unused.iter().map(|n| py::str_lit(n)).collect();
        c.line(format!(
            "unused_nodes = ({},)  # read by no later line: DDP must look for unused parameters",
            names.join(", ")
        ));
    }
    c.blank();
    c.line("def __init__(self):");
    c.indent();
    c.line("super().__init__()");
    for node in &ir.nodes {
        init_node(&mut c, ir, node, text, needs);
    }
    c.dedent();
    c.blank();
    forward(&mut c, ir, text);
    c.finish()
}

fn init_node(c: &mut Code, ir: &Model, node: &Node, text: &str, needs: &mut Helpers) {
    let name = node.name.as_deref().unwrap_or("");
    if whole_chain(ir, node) {
        c.line(set_attr(name, "nn.Sequential("));
        c.indent();
        for layer in &node.layers {
            let module = module(layer, needs);
            commented(c, &format!("{module},"), &source_of(text, layer));
        }
        c.dedent();
        c.line(")");
        return;
    }
    let mut entries = Vec::new();
    for layer in &node.layers {
        let module = module(layer, needs);
        let comment = source_of(text, layer);
        match home(ir, node, layer) {
            Home::Own(n) => commented(c, &set_attr(&n, &module), &comment),
            Home::InNode(_, i) => {
                entries.push((format!("{}: {module},", py::str_lit(&i)), comment))
            }
        }
    }
    if !entries.is_empty() {
        c.line(set_attr(name, "nn.ModuleDict({"));
        c.indent();
        for (entry, comment) in entries {
            commented(c, &entry, &comment);
        }
        c.dedent();
        c.line("})");
    }
}

fn forward(c: &mut Code, ir: &Model, text: &str) {
    let mut locals = Names::new(["self", "torch", "nn", "F", "as_nchw"]);
    let input = locals.get(&ir.input_name);
    c.line(format!("def forward(self, {input}):"));
    c.indent();
    if ir.input.rank() == 4 {
        c.line(format!("{input} = as_nchw({input})"));
    }
    let mut values: Vec<String> = Vec::new();
    for (i, node) in ir.nodes.iter().enumerate() {
        let read = |n: &NodeInput, values: &[String]| match n {
            NodeInput::Input => input.clone(),
            NodeInput::Node(j) => values[*j].clone(),
        };
        let source = match &node.source {
            NodeSource::Input => input.clone(),
            NodeSource::Node(j) => values[*j].clone(),
            NodeSource::Add(ins) => ins
                .iter()
                .map(|n| read(n, &values))
                .collect::<Vec<_>>()
                .join(" + "),
            NodeSource::Concat(ins) => format!(
                "torch.cat([{}], dim=1)",
                ins.iter()
                    .map(|n| read(n, &values))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        let value = match &node.name {
            Some(n) => locals.get(n),
            None => locals.get(&format!("node{i}")),
        };
        c.line(format!(
            "# {}",
            py::one_line(text.get(node.span.start..node.span.end).unwrap_or(""), 90)
        ));
        if whole_chain(ir, node) {
            let container = attr(node.name.as_deref().unwrap_or(""));
            c.line(format!("{value} = {container}({source})"));
        } else if node.layers.is_empty() {
            c.line(format!("{value} = {source}"));
        } else {
            let mut arg = source;
            for layer in &node.layers {
                let call = match home(ir, node, layer) {
                    Home::Own(n) => attr(&n),
                    Home::InNode(n, k) => format!("{}[{}]", attr(&n), py::str_lit(&k)),
                };
                c.line(format!("{value} = {call}({arg})"));
                arg = value.clone();
            }
        }
        values.push(value);
    }
    c.line(format!(
        "return {}",
        values.last().cloned().unwrap_or(input.clone())
    ));
    c.dedent();
}

/// Nodes no later node reads (the last node is the output).
fn unused_nodes(ir: &Model) -> Vec<String> {
    let mut read = vec![false; ir.nodes.len()];
    for node in &ir.nodes {
        let mut mark = |n: &NodeInput| {
            if let NodeInput::Node(j) = n {
                read[*j] = true;
            }
        };
        match &node.source {
            NodeSource::Input => {}
            NodeSource::Node(j) => read[*j] = true,
            NodeSource::Add(ins) | NodeSource::Concat(ins) => ins.iter().for_each(&mut mark),
        }
    }
    let last = ir.nodes.len().saturating_sub(1);
    ir.nodes
        .iter()
        .enumerate()
        .filter(|(i, n)| !read[*i] && *i != last && n.layers.iter().any(|l| l.params > 0))
        .map(|(_, n)| match (&n.name, n.layers.first()) {
            (Some(name), _) => name.clone(),
            (None, Some(l)) => ir.param_prefix(n, l),
            (None, None) => String::new(),
        })
        .collect()
}

/// Every name a module registers must be free in PyTorch (not `eval`,
/// `train`, `forward`...) and used once.
fn check_names(ir: &Model) -> Result<(), RunError> {
    let mut seen: Vec<(String, bool)> = Vec::new();
    for (node, layer) in ir.layers() {
        let (name, container) = match home(ir, node, layer) {
            Home::Own(n) => (n, false),
            Home::InNode(n, _) => (n, true),
        };
        if !py::is_free_module_name(&name) {
            return Err(RunError::new(
                format!("`{name}` cannot name a PyTorch module: nn.Module already has an attribute `{name}`"),
                layer.span,
                "not a free module name",
            )
            .help("rename this label (or node) to export the model to PyTorch"));
        }
        match seen.iter().find(|(n, _)| *n == name) {
            Some((_, c)) if *c != container || !container => {
                return Err(RunError::new(
                    format!(
                        "`{name}` names both a layer and a node; PyTorch needs one module per name"
                    ),
                    layer.span,
                    "name used twice",
                )
                .help("rename the label or the node to export the model to PyTorch"));
            }
            Some(_) => {}
            None => seen.push((name, container)),
        }
    }
    Ok(())
}
