//! Every request the server answers, in process.

use serde_json::{json, Value};

use super::{apply_edits, at, whole, Client, LENET, URI};

/// The text of a hover answer.
fn hover_text(c: &mut Client, line: u32, character: u32) -> String {
    let h = c.ok("textDocument/hover", at(line, character));
    h["contents"]["value"].as_str().unwrap_or("").to_string()
}

fn labels(items: &Value) -> Vec<String> {
    items
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|i| i["label"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn diagnostics_are_checks_own_with_help_and_related_spans() {
    let mut c = Client::start();
    assert_eq!(c.open(LENET), Vec::<Value>::new());
    let broken = LENET.replace("conv(out=16, k=5)", "conv(in=7, out=16, k=5)");
    let diags = c.replace(2, &broken);
    assert_eq!(diags.len(), 1, "{diags:?}");
    let d = &diags[0];
    assert_eq!(d["source"], json!("cnnscript"));
    assert_eq!(d["range"]["start"], json!({ "line": 3, "character": 10 }));
    assert_eq!(d["range"]["end"], json!({ "line": 3, "character": 11 }));
    assert_eq!(d["severity"], json!(1));
    assert_eq!(d["code"], json!("cnnscript::in_mismatch"));
    let message = d["message"].as_str().unwrap_or("");
    assert!(
        message.starts_with("`conv` declares in=7, but its input has 6 channels\n"),
        "{message}"
    );
    assert!(
        message.ends_with("help: write in=6, or leave `in` out to infer it"),
        "{message}"
    );
    // a name bound twice points at the first binding too
    let twice = "model g(x: Nx1x8x8) {\n  a = x -> relu\n  a = x -> tanh\n}\n";
    let diags = c.replace(3, twice);
    let related = &diags[0]["relatedInformation"][0];
    assert_eq!(related["message"], json!("first bound here"));
    assert_eq!(
        related["location"]["range"]["start"],
        json!({ "line": 1, "character": 2 })
    );
    assert_eq!(related["location"]["uri"], json!(URI));
    c.finish();
}

#[test]
fn warnings_stay_warnings_and_syntax_errors_come_alone() {
    let mut c = Client::start();
    let unused = "model g(x: Nx1x8x8) {\n  a = x -> relu\n  b = x -> tanh\n}\n";
    let diags = c.open(unused);
    assert_eq!(diags.len(), 1, "{diags:?}");
    assert_eq!(diags[0]["severity"], json!(2));
    assert_eq!(diags[0]["tags"], json!([1]));
    // `check` stops at syntax errors: so do the diagnostics
    let diags = c.replace(2, "let X ones(2x3)\nprint Y\nlet Z = (1 +\n");
    assert!(
        diags
            .iter()
            .all(|d| d["code"] == json!("cnnscript::syntax")),
        "{diags:?}"
    );
    c.finish();
}

#[test]
fn ranges_count_utf16_units_in_non_ascii_lines() {
    let mut c = Client::start();
    // `é` is one UTF-16 unit in two bytes, `𝕏` two units in four bytes
    let text = "# é𝕏\nlet s = \"é𝕏\" + Q  # 𝕏\nprint \"𝕏\" + s + R\n";
    let diags = c.open(text);
    let ranges: Vec<(Value, Value)> = diags
        .iter()
        .map(|d| (d["range"]["start"].clone(), d["range"]["end"].clone()))
        .collect();
    assert_eq!(
        ranges,
        [
            (
                json!({ "line": 1, "character": 16 }),
                json!({ "line": 1, "character": 17 })
            ),
            (
                json!({ "line": 2, "character": 17 }),
                json!({ "line": 2, "character": 18 })
            ),
        ]
    );
    c.finish();
}

#[test]
fn incremental_changes_apply_in_order() {
    let mut c = Client::start();
    assert!(c.open(LENET).is_empty());
    // two edits in one message: break `k=5` on line 3, then fix it again with a wider one
    c.notify(
        "textDocument/didChange",
        json!({ "textDocument": { "uri": URI, "version": 2 }, "contentChanges": [
            { "range": { "start": { "line": 3, "character": 15 }, "end": { "line": 3, "character": 16 } }, "text": "kk" },
        ] }),
    );
    let diags = c.diagnostics();
    assert_eq!(
        diags[0]["code"],
        json!("cnnscript::unknown_argument"),
        "{diags:?}"
    );
    c.notify(
        "textDocument/didChange",
        json!({ "textDocument": { "uri": URI, "version": 3 }, "contentChanges": [
            { "range": { "start": { "line": 3, "character": 15 }, "end": { "line": 3, "character": 16 } }, "text": "" },
            { "range": { "start": { "line": 3, "character": 17 }, "end": { "line": 3, "character": 18 } }, "text": "3, p=1" },
        ] }),
    );
    assert_eq!(c.diagnostics(), Vec::<Value>::new());
    let hints = c.ok("textDocument/inlayHint", whole(json!({})));
    assert!(
        labels(&hints).contains(&"Nx16x14x14".to_string()),
        "{hints}"
    );
    c.finish();
}

#[test]
fn inlay_hints_show_each_layers_output_and_each_merge() {
    let mut c = Client::start();
    c.open(LENET);
    let hints = c.ok("textDocument/inlayHint", whole(json!({})));
    let first: Vec<&Value> = hints
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|h| h["position"]["line"] == json!(1))
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(first.len(), 2, "conv and sigmoid: {hints}");
    assert_eq!(first[0]["label"], json!("Nx6x28x28"));
    assert_eq!(first[0]["position"], json!({ "line": 1, "character": 27 }));
    let tip = first[0]["tooltip"]["value"].as_str().unwrap_or("");
    assert!(
        tip.contains("params  156 (c1.weight 6x1x5x5, c1.bias 6)"),
        "{tip}"
    );
    assert_eq!(labels(&hints).len(), 12);
    // a model with an error keeps the shapes of the layers above it
    c.replace(
        2,
        &LENET.replace("conv(out=16, k=5)", "conv(in=7, out=16, k=5)"),
    );
    let hints = c.ok("textDocument/inlayHint", whole(json!({})));
    let lines: Vec<u64> = hints
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|h| h["position"]["line"].as_u64())
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(lines, [1, 1, 2], "{hints}");
    let graph = "model r(x: Nx4x8x8) {\n  a = x -> conv(out=4, k=3, p=1)\n  s = add(x, a)\n  c = concat(x, s) -> relu\n}\n";
    c.replace(3, graph);
    let hints = c.ok("textDocument/inlayHint", whole(json!({})));
    let at_line = |line: u64| -> Vec<String> {
        hints
            .as_array()
            .map(|a| {
                a.iter()
                    .filter(|h| h["position"]["line"] == json!(line))
                    .filter_map(|h| h["label"].as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    };
    assert_eq!(at_line(2), ["Nx4x8x8"]);
    assert_eq!(at_line(3), ["Nx8x8x8", "Nx8x8x8"]);
    // only what the range asks for
    let some = c.ok(
        "textDocument/inlayHint",
        json!({ "textDocument": { "uri": URI }, "range": { "start": { "line": 1, "character": 0 }, "end": { "line": 1, "character": 99 } } }),
    );
    assert_eq!(labels(&some), ["Nx4x8x8"]);
    c.finish();
}

#[test]
fn hover_explains_layers_models_tensors_nodes_and_parameters() {
    let mut c = Client::start();
    let text = format!(
        "{LENET}summary lenet\nlet X = ones(2x1x28x28)\nlet Y = lenet(X)\nprint lenet.c1.weight\nmodel r(x: Nx4x8x8) {{\n  a = x -> conv(out=4, k=3, p=1)\n  s = add(x, a)\n}}\n"
    );
    c.open(&text);
    let conv = hover_text(&mut c, 1, 8);
    assert!(conv.contains("output  Nx6x28x28"), "{conv}");
    assert!(conv.contains("params  156"), "{conv}");
    assert!(conv.contains("MACs    117,600"), "{conv}");
    assert!(conv.contains("RF      5x5"), "{conv}");
    assert!(
        conv.contains("H = ⌊(28 + 2·2 − 1·(5−1) − 1) / 1⌋ + 1 = 28"),
        "{conv}"
    );
    let label = hover_text(&mut c, 1, 2);
    assert_eq!(label, conv, "a label shows its layer");
    let model = hover_text(&mut c, 0, 8);
    assert!(model.contains("Total params: 61,706"), "{model}");
    assert_eq!(
        hover_text(&mut c, 10, 9),
        model,
        "a model's use shows its summary"
    );
    let tensor = hover_text(&mut c, 12, 4);
    assert!(tensor.contains("let Y = lenet(X)"), "{tensor}");
    assert!(tensor.contains("the output of `lenet`: `Nx10`"), "{tensor}");
    let param = hover_text(&mut c, 13, 15);
    assert_eq!(param, "`lenet.c1.weight`: `6x1x5x5` (learnable)\n");
    let arg = hover_text(&mut c, 1, 13);
    assert!(arg.starts_with("`out`: output channels"), "{arg}");
    let node = hover_text(&mut c, 16, 2);
    assert_eq!(node, "node `s` = `add(x, a)`: `Nx4x8x8`");
    let node = hover_text(&mut c, 15, 2);
    assert_eq!(
        node,
        "node `a` = `x`: `Nx4x8x8`, after its 1 layer(s): `Nx4x8x8`"
    );
    assert_eq!(hover_text(&mut c, 15, 6), "input `x`: `Nx4x8x8`");
    // nothing to say between names
    let none = c.ok("textDocument/hover", at(9, 0));
    assert_eq!(none, Value::Null);
    c.finish();
}

#[test]
fn completion_offers_layers_arguments_values_and_names() {
    let mut c = Client::start();
    let text = format!("{LENET}let Q = ones(8x8)\nshape 8x8 -> maxp\n");
    c.open(&text);
    let items = c.ok("textDocument/completion", at(11, 17));
    assert_eq!(labels(&items), ["maxpool"]);
    let item = &items[0];
    assert_eq!(item["kind"], json!(3), "a function");
    assert_eq!(
        item["textEdit"]["range"]["start"],
        json!({ "line": 11, "character": 13 })
    );
    assert_eq!(item["textEdit"]["newText"], json!("maxpool"));
    let text = format!("{LENET}shape 8x8 -> conv(out=2, k=3, bias=f\nsummary l\n");
    c.replace(2, &text);
    assert_eq!(
        labels(&c.ok("textDocument/completion", at(10, 31))),
        ["bias="]
    );
    assert_eq!(
        labels(&c.ok("textDocument/completion", at(10, 36))),
        ["false"]
    );
    assert_eq!(
        labels(&c.ok("textDocument/completion", at(11, 9))),
        ["lenet"]
    );
    let free = labels(&c.ok("textDocument/completion", at(10, 30)));
    assert!(
        free.contains(&"s=".to_string()) && !free.contains(&"k=".to_string()),
        "{free:?}"
    );
    // in a model block, arguments over several lines
    let text = "model m(x: Nx1x8x8) {\n  conv(out=2,\n       k\n}\n";
    c.replace(3, text);
    assert_eq!(labels(&c.ok("textDocument/completion", at(2, 8))), ["k="]);
    c.finish();
}

#[test]
fn definitions_of_models_nodes_labels_and_tensors() {
    let mut c = Client::start();
    let text = format!(
        "{LENET}summary lenet\nlet X = ones(1x1x28x28)\nprint lenet.c1.bias + lenet(X)\nmodel r(x: Nx4x8x8) {{\n  a = x -> relu\n  s = add(x, a)\n}}\n"
    );
    c.open(&text);
    let target = |c: &mut Client, line, character| {
        let d = c.ok("textDocument/definition", at(line, character));
        assert_eq!(d["uri"], json!(URI));
        (d["range"]["start"].clone(), d["range"]["end"].clone())
    };
    let pos = |line: u32, character: u32| json!({ "line": line, "character": character });
    assert_eq!(
        target(&mut c, 10, 9),
        (pos(0, 6), pos(0, 11)),
        "summary lenet"
    );
    assert_eq!(target(&mut c, 12, 23), (pos(0, 6), pos(0, 11)), "lenet(X)");
    assert_eq!(target(&mut c, 12, 29), (pos(11, 4), pos(11, 5)), "X");
    assert_eq!(
        target(&mut c, 12, 13),
        (pos(1, 2), pos(1, 27)),
        "lenet.c1.bias"
    );
    assert_eq!(
        target(&mut c, 15, 13),
        (pos(14, 2), pos(14, 3)),
        "add(x, a)"
    );
    assert_eq!(target(&mut c, 15, 10), (pos(13, 8), pos(13, 9)), "x");
    let none = c.ok("textDocument/definition", at(1, 8));
    assert_eq!(
        none,
        Value::Null,
        "a layer name has no definition in the file"
    );
    c.finish();
}

#[test]
fn symbols_list_models_nodes_layers_and_tensors() {
    let mut c = Client::start();
    let text = format!(
        "{LENET}let X = ones(1x1x28x28)\nmodel r(x: Nx4x8x8) {{\n  a = x -> relu\n  s = add(x, a) -> tanh\n}}\n"
    );
    c.open(&text);
    let syms = c.ok(
        "textDocument/documentSymbol",
        json!({ "textDocument": { "uri": URI } }),
    );
    let names: Vec<&str> = syms
        .as_array()
        .map(|a| a.iter().filter_map(|s| s["name"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(names, ["lenet", "X", "r"]);
    let lenet = &syms[0];
    assert_eq!(lenet["detail"], json!("Nx1x28x28 -> Nx10"));
    assert_eq!(lenet["children"].as_array().map(Vec::len), Some(12));
    assert_eq!(lenet["children"][0]["name"], json!("c1: conv"));
    assert_eq!(lenet["children"][0]["detail"], json!("Nx6x28x28"));
    let nodes = &syms[2]["children"];
    assert_eq!(nodes[1]["name"], json!("s"));
    assert_eq!(nodes[1]["children"][0]["name"], json!("tanh"));
    c.finish();
}

#[test]
fn semantic_tokens_tell_models_layers_shapes_and_names_apart() {
    let mut c = Client::start();
    let text = "# LeNet\nmodel m(x: Nx1x8x8) = c1: conv(out=2, k=3) -> relu\nlet X = ones(1x1x8x8)\nprint m(X) + m.c1.weight\n";
    c.open(text);
    let data = c.ok(
        "textDocument/semanticTokens/full",
        json!({ "textDocument": { "uri": URI } }),
    );
    let ints: Vec<u64> = data["data"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_u64).collect())
        .unwrap_or_default();
    assert_eq!(ints.len() % 5, 0);
    // decode to (line, column, length, type, modifiers)
    let (mut line, mut col) = (0, 0);
    let mut toks = Vec::new();
    for t in ints.chunks(5) {
        if t[0] > 0 {
            col = 0;
        }
        line += t[0];
        col += t[1];
        toks.push((line, col, t[2], t[3], t[4]));
    }
    let kind_at = |l: u64, ch: u64| {
        toks.iter()
            .find(|t| t.0 == l && t.1 == ch)
            .map(|t| (t.3, t.4))
    };
    // legend: keyword, function, class, variable, parameter, property, number, type, string, comment, operator
    assert_eq!(kind_at(0, 0), Some((9, 0)), "comment");
    assert_eq!(kind_at(1, 0), Some((0, 0)), "keyword");
    assert_eq!(kind_at(1, 6), Some((2, 1)), "model, declared");
    assert_eq!(kind_at(1, 8), Some((4, 1)), "input, declared");
    assert_eq!(kind_at(1, 11), Some((7, 0)), "dims as a type");
    assert_eq!(kind_at(1, 22), Some((3, 1)), "label, declared");
    assert_eq!(kind_at(1, 26), Some((1, 0)), "layer");
    assert_eq!(kind_at(1, 31), Some((5, 0)), "argument");
    assert_eq!(kind_at(1, 35), Some((6, 0)), "number");
    assert_eq!(kind_at(1, 43), Some((10, 0)), "->");
    assert_eq!(kind_at(2, 8), Some((1, 2)), "builtin");
    assert_eq!(kind_at(3, 6), Some((2, 0)), "model used");
    assert_eq!(kind_at(3, 8), Some((3, 0)), "tensor used");
    assert_eq!(kind_at(3, 15), Some((5, 0)), "parameter path");
    c.finish();
}

#[test]
fn formatting_gives_fmts_layout_and_leaves_broken_text_alone() {
    let mut c = Client::start();
    let messy = "model  t(x:1x1x8x8)=conv( out=2,k=3 )->relu\nsummary t;print 1 # é\n";
    c.open(messy);
    let opts = json!({ "textDocument": { "uri": URI }, "options": { "tabSize": 2, "insertSpaces": true } });
    let edits = c.ok("textDocument/formatting", opts.clone());
    let edits = edits.as_array().cloned().unwrap_or_default();
    assert!(!edits.is_empty());
    let formatted = apply_edits(messy, &edits);
    assert_eq!(Ok(formatted.clone()), cnnscript::fmt::format_source(messy));
    c.replace(2, &formatted);
    assert_eq!(c.ok("textDocument/formatting", opts.clone()), json!([]));
    c.replace(3, "let X = (1 +\n");
    assert_eq!(c.ok("textDocument/formatting", opts), Value::Null);
    c.finish();
}

/// The quick fixes offered on line `line`, as (title, fixed text).
fn fixes(c: &mut Client, text: &str, line: u32) -> Vec<(String, String)> {
    let range = json!({ "start": { "line": line, "character": 0 }, "end": { "line": line, "character": 99 } });
    let actions = c.ok(
        "textDocument/codeAction",
        json!({ "textDocument": { "uri": URI }, "range": range, "context": { "diagnostics": [] } }),
    );
    actions
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|a| {
            assert_eq!(a["kind"], json!("quickfix"));
            assert_eq!(a["diagnostics"].as_array().map(Vec::len), Some(1));
            let edits = a["edit"]["changes"][URI]
                .as_array()
                .cloned()
                .unwrap_or_default();
            (
                a["title"].as_str().unwrap_or("").to_string(),
                apply_edits(text, &edits),
            )
        })
        .collect()
}

#[test]
fn quick_fixes_repair_what_the_help_line_says() {
    let mut c = Client::start();
    c.open(LENET);
    let cases = [
        (
            LENET.replace("conv(out=16", "conv(in=4, out=16"),
            3,
            "Replace `4` with `6`",
            "conv(in=6, out=16",
        ),
        (
            LENET.replace("k=5, p=2", "kernel_size=5, p=2"),
            1,
            "Replace `kernel_size` with `k`",
            "c1: conv(out=6, k=5, p=2)",
        ),
        (
            LENET.replace("avgpool(k=2, s=2)\n  conv", "avgpol(k=2, s=2)\n  conv"),
            2,
            "Replace `avgpol` with `avgpool`",
            "  avgpool(k=2, s=2)\n  conv",
        ),
        (
            "X = ones(3)\nprint X\n".to_string(),
            0,
            "Insert `let`",
            "let X = ones(3)\n",
        ),
        (
            format!("{LENET}assert params lenet == 61000\n"),
            10,
            "Replace `61000` with `61706`",
            "assert params lenet == 61706",
        ),
        (
            format!("{LENET}print lenet.c1.wieght\n"),
            10,
            "Replace `lenet.c1.wieght` with `lenet.c1.weight`",
            "print lenet.c1.weight",
        ),
    ];
    for (version, (text, line, title, fixed)) in cases.into_iter().enumerate() {
        let diags = c.replace(version as i32 + 2, &text);
        assert_eq!(diags.len(), 1, "{text}: {diags:?}");
        let found = fixes(&mut c, &text, line);
        assert_eq!(found.len(), 1, "{text}: {found:?}");
        assert_eq!(found[0].0, title);
        assert!(found[0].1.contains(fixed), "{}", found[0].1);
        // the fix removes the problem
        assert_eq!(
            c.replace(100 + version as i32, &found[0].1),
            Vec::<Value>::new()
        );
    }
    // a diagnostic without a fix offers nothing
    let text = LENET.replace("k=5, p=2", "k=50");
    assert_eq!(c.replace(200, &text).len(), 1);
    assert!(fixes(&mut c, &text, 1).is_empty());
    c.finish();
}
