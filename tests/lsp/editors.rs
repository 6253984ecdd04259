//! The editor packages in editors/ name what the language has: every layer
//! of the table, every builtin and every statement keyword of the grammar.

use std::path::Path;

use cnnscript::ir::builtins::{of_form, Form};
use cnnscript::layers::LAYERS;

fn read(path: &str) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(root.join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The statement keywords: the grammar's `kw_NAME = @{ "NAME" ~ kw_end }` rules.
fn keywords() -> Vec<String> {
    let grammar = read("grammar/cnnscript.pest");
    let words: Vec<String> = grammar
        .lines()
        .filter(|l| l.contains("~ kw_end"))
        .filter_map(|l| l.trim().strip_prefix("kw_"))
        .filter_map(|l| l.split('"').nth(1))
        .map(String::from)
        .collect();
    assert!(words.len() >= 15, "{words:?}");
    words
}

/// The words of the Vim syntax group `group` (its `syntax keyword` lines).
fn vim_words(syntax: &str, group: &str) -> Vec<String> {
    let prefix = format!("syntax keyword {group} ");
    syntax
        .lines()
        .filter_map(|l| l.strip_prefix(&prefix))
        .flat_map(|l| l.split_whitespace().map(String::from))
        .collect()
}

/// The alternatives of the TextMate rule `rule`'s first `( | | )` group.
fn textmate_words(grammar: &serde_json::Value, rule: &str) -> Vec<String> {
    let pattern = grammar["repository"][rule]["match"].as_str().unwrap_or("");
    let inner = pattern
        .split('(')
        .nth(1)
        .and_then(|s| s.split(')').next())
        .unwrap_or("");
    inner.split('|').map(String::from).collect()
}

#[test]
fn vim_and_vscode_grammars_know_every_layer_builtin_and_keyword() {
    let vim = read("editors/vim/syntax/cnnscript.vim");
    let tm: serde_json::Value =
        serde_json::from_str(&read("editors/vscode/syntaxes/cnnscript.tmLanguage.json"))
            .expect("the TextMate grammar is JSON");
    let layers: Vec<String> = LAYERS.iter().map(|l| l.name.to_string()).collect();
    assert_eq!(vim_words(&vim, "cnnLayer"), layers);
    assert_eq!(textmate_words(&tm, "layer"), layers);
    let keywords = keywords();
    for b in of_form(Form::Function).map(|spec| spec.name) {
        // `load` is also a statement and `linear` a layer: each is coloured as that
        let is_layer = layers.iter().any(|l| l == b);
        let vim_knows = vim_words(&vim, "cnnBuiltin").iter().any(|w| w == b)
            || keywords.iter().any(|k| k == b)
            || is_layer;
        assert!(vim_knows, "vim: {b}");
        assert!(
            textmate_words(&tm, "builtin").iter().any(|w| w == b) || is_layer,
            "vscode: {b}"
        );
    }
    assert_eq!(vim_words(&vim, "cnnKeyword"), keywords);
    assert_eq!(textmate_words(&tm, "keyword"), keywords);
}

#[test]
fn the_vscode_package_points_at_files_that_exist() {
    let package: serde_json::Value =
        serde_json::from_str(&read("editors/vscode/package.json")).expect("package.json is JSON");
    let language = &package["contributes"]["languages"][0];
    assert_eq!(language["id"], "cnnscript");
    assert_eq!(language["extensions"][0], ".cnn");
    let config = language["configuration"].as_str().unwrap_or("");
    let grammar = package["contributes"]["grammars"][0]["path"]
        .as_str()
        .unwrap_or("");
    for file in [config, grammar] {
        let text = read(&format!("editors/vscode/{}", file.trim_start_matches("./")));
        assert!(
            serde_json::from_str::<serde_json::Value>(&text).is_ok(),
            "{file}"
        );
    }
    assert!(read("editors/vscode/src/extension.ts").contains("args: [\"lsp\"]"));
    let ftdetect = read("editors/vim/ftdetect/cnnscript.vim");
    assert!(ftdetect.contains("*.cnn setfiletype cnnscript"));
}
