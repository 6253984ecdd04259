//! `inspect_request` (Shift-Tab): what the name at the cursor is. A model
//! of the session shows its `summary` table, a tensor its shape and values,
//! anything in the cell itself what an editor's hover shows (a layer's
//! shapes, parameters and receptive field), a layer or function its help.

use serde_json::{json, Value};

use super::assist::byte_offset;
use super::html;
use crate::io::format::format_value;
use crate::ir::builtins::BUILTINS;
use crate::ir::report::summary_table;
use crate::layers::layer_spec;
use crate::repl::{builtin_help, layer_help, Session};
use crate::value::{shape_words, Value as Tensor};

/// The reply to `inspect_request` for the cursor (in code points).
pub fn inspect(session: &Session, code: &str, cursor: usize) -> Value {
    let pos = byte_offset(code, cursor);
    let data = describe(session, code, pos);
    json!({
        "status": "ok",
        "found": data.is_some(),
        "data": data.unwrap_or_else(|| json!({})),
        "metadata": {},
    })
}

/// The name (letters, digits, `_`) at or just before byte `pos`.
fn word_at(code: &str, pos: usize) -> &str {
    let is_word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let start = code[..pos]
        .char_indices()
        .rev()
        .take_while(|(_, c)| is_word(*c))
        .last()
        .map_or(pos, |(i, _)| i);
    let end = code[pos..]
        .char_indices()
        .find(|(_, c)| !is_word(*c))
        .map_or(code.len(), |(i, _)| pos + i);
    &code[start..end]
}

fn describe(session: &Session, code: &str, pos: usize) -> Option<Value> {
    let word = word_at(code, pos);
    if word.is_empty() {
        return None;
    }
    if let Some(model) = session.model(word) {
        let table = summary_table(model);
        return Some(json!({
            "text/plain": table.text,
            "text/html": html::table(&table),
        }));
    }
    if let Some(value) = session.tensor(word) {
        return Some(json!({ "text/plain": tensor_text(word, value) }));
    }
    if let Some(markdown) = crate::lsp::hover_at(code, pos) {
        return Some(json!({
            "text/plain": markdown.replace("```text\n", "").replace("```cnnscript\n", "").replace("```", ""),
            "text/markdown": markdown,
        }));
    }
    let help = match (layer_spec(word), BUILTINS.iter().find(|b| b.name == word)) {
        (Some(layer), _) => layer_help(layer),
        (None, Some(builtin)) => builtin_help(builtin),
        (None, None) => return None,
    };
    Some(json!({ "text/plain": help }))
}

fn tensor_text(name: &str, value: &Tensor) -> String {
    let kind = match value {
        Tensor::Float(_) => "float tensor",
        other => other.type_name(),
    };
    let shape = value
        .shape()
        .map(|s| format!(", shape {}", shape_words(s)))
        .unwrap_or_default();
    format!("{name}: {kind}{shape}\n{}", format_value(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_around_the_cursor() {
        assert_eq!(word_at("print edge.0.weight", 8), "edge");
        assert_eq!(word_at("print edge", 10), "edge");
        assert_eq!(word_at("conv(out=1)", 2), "conv");
        assert_eq!(word_at("a + b", 2), "");
    }
}
