//! The layer table as the language server reads it: the one table the
//! checker, `:help` and the REPL's completion share. Every read of it in
//! `lsp` goes through here, so a move of the table changes only this file.

use crate::layers::{ArgSpec, LayerSpec, LAYERS};

/// Every layer, in table order.
pub fn layers() -> &'static [LayerSpec] {
    LAYERS
}

/// The table entry of a layer name.
pub fn layer(name: &str) -> Option<&'static LayerSpec> {
    layers().iter().find(|l| l.name == name)
}

/// One argument of a layer.
pub fn arg(layer_name: &str, arg: &str) -> Option<&'static ArgSpec> {
    layer(layer_name)?.args.iter().find(|a| a.name == arg)
}

/// A layer's documentation, as `:help LAYER` prints it.
pub fn layer_doc(spec: &LayerSpec) -> String {
    format!("```text\n{}```", crate::repl::layer_help(spec))
}

/// An argument's meaning, type and default.
pub fn arg_doc(a: &ArgSpec) -> String {
    let default = a
        .default_text()
        .map(|d| format!(", default `{d}`"))
        .unwrap_or_default();
    format!("{} ({}{default})", a.help, a.ty.describe())
}
