//! The REPL's tables and help texts: the meta commands, and `:help` from
//! the layer, builtin and keyword tables.

use crate::ir::builtins::{BuiltinSpec, BUILTINS};
use crate::layers::{LayerSpec, LAYERS};

/// One meta command: its name, its argument (if any) and what it does.
#[derive(Clone, Copy, Debug)]
pub struct MetaSpec {
    /// `:load`
    pub name: &'static str,
    /// `FILE`, or empty.
    pub arg: &'static str,
    /// What it does, for `:help`.
    pub help: &'static str,
}

/// The meta commands; `:help` and completion both read this table.
pub const META: &[MetaSpec] = &[
    MetaSpec {
        name: ":help",
        arg: "[NAME]",
        help: "this help, or the arguments of one layer or function",
    },
    MetaSpec {
        name: ":load",
        arg: "FILE",
        help: "run a script into the session",
    },
    MetaSpec {
        name: ":models",
        arg: "",
        help: "the models, with input -> output shapes",
    },
    MetaSpec {
        name: ":vars",
        arg: "",
        help: "the tensors",
    },
    MetaSpec {
        name: ":reset",
        arg: "",
        help: "forget every model and tensor",
    },
    MetaSpec {
        name: ":quit",
        arg: "",
        help: "leave (also Ctrl-D; Ctrl-C cancels the line)",
    },
];

/// A layer's call with every argument and its default: `conv(in, out, k, s=1, ...)`.
fn layer_signature(layer: &LayerSpec) -> String {
    if layer.args.is_empty() {
        return layer.name.to_string();
    }
    let args: Vec<String> = layer.args.iter().map(|a| a.signature()).collect();
    format!("{}({})", layer.name, args.join(", "))
}

/// `:help`: what to type, the meta commands and every layer, from the tables.
pub fn help_text() -> String {
    let mut out = format!(
        "Statements work as in a file:\n  {}\nShape questions need no keyword:\n\
         \x20 4x2x3x5 -> conv(out=3, k=3x5, p=1x2) -> maxpool(k=3, s=2x1, p=1)\n\
         \x20 explain 8x8 -> conv(out=1, k=3, p=1, s=2)\n\
         A model's name alone prints its summary. An open ( [ {{ or a trailing -> continues\n\
         the entry on the next line.\n\nCommands:\n",
        crate::syntax::keywords::statement_list()
    );
    let width = META
        .iter()
        .map(|m| m.name.len() + 1 + m.arg.len())
        .max()
        .unwrap_or(0);
    for m in META {
        let head = format!("{} {}", m.name, m.arg);
        out.push_str(&format!("  {head:width$}  {}\n", m.help));
    }
    out.push_str("\nLayers (name=default; no default: required, or inferred when it says so):\n");
    for layer in LAYERS {
        out.push_str(&format!(
            "  {}\n      {}\n",
            layer_signature(layer),
            layer.help
        ));
    }
    out.push_str("\nFunctions and methods:\n");
    let width = BUILTINS
        .iter()
        .map(|b| b.signature().len())
        .max()
        .unwrap_or(0);
    for b in BUILTINS {
        out.push_str(&format!("  {:width$}  {}\n", b.signature(), b.help));
    }
    out.push_str("`:help NAME` explains each argument of a layer or function.\n");
    out
}

/// `:help ones`: the function (or method) and each argument's kind.
pub fn builtin_help(spec: &BuiltinSpec) -> String {
    let mut out = format!("{} — {}\n", spec.signature(), spec.help);
    if spec.params.is_empty() {
        out.push_str("  no arguments\n");
    }
    let width = spec.params.iter().map(|p| p.name.len()).max().unwrap_or(0);
    for p in spec.params {
        let optional = if p.optional { " (optional)" } else { "" };
        out.push_str(&format!(
            "  {:width$}  {}{optional}\n",
            p.name,
            p.kind.describe()
        ));
    }
    out
}

/// `:help conv`: the layer and each argument's type, default and meaning.
pub fn layer_help(layer: &LayerSpec) -> String {
    let mut out = format!("{} — {}\n", layer_signature(layer), layer.help);
    if layer.args.is_empty() {
        out.push_str("  no arguments; write it with or without ()\n");
    }
    let width = layer.args.iter().map(|a| a.name.len()).max().unwrap_or(0);
    for a in layer.args {
        let default = match a.default_text() {
            Some(d) => format!("default {d}"),
            None => "no default".to_string(),
        };
        out.push_str(&format!(
            "  {:width$}  {}; {default}; {}\n",
            a.name,
            a.help,
            a.ty.describe()
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn help_reads_the_layer_table() {
        let help = help_text();
        for layer in LAYERS {
            assert!(help.contains(&layer_signature(layer)), "{}", layer.name);
            for a in layer.args {
                assert!(help.contains(&a.signature()), "{}", a.name);
            }
        }
        for m in META {
            assert!(help.contains(m.name));
        }
    }
}
