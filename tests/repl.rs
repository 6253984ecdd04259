//! `cnnscript repl`: piped stdin (answers, errors, recovery, meta commands)
//! and a real pseudo-terminal driven through tmux.

mod common;

use std::path::Path;
use std::time::Duration;

use assert_cmd::Command;
use cnnscript::layers::LAYERS;
use common::Tmux;

const BIN: &str = env!("CARGO_BIN_EXE_cnnscript");

/// Run the REPL on `input`; (status, stdout, stderr).
fn repl(input: &str) -> (i32, String, String) {
    repl_in(input, Path::new("."))
}

fn repl_in(input: &str, dir: &Path) -> (i32, String, String) {
    let out = Command::new(BIN)
        .arg("repl")
        .current_dir(dir)
        .write_stdin(input)
        .timeout(Duration::from_secs(30))
        .output()
        .expect("the REPL runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const TINY_CHAIN: &str = "4x2x3x5 -> conv(out=3, k=3x5, p=1x2) -> maxpool(k=3, s=2x1, p=1)\n";

#[test]
fn a_shape_question_prints_every_intermediate_shape() {
    let (code, out, err) = repl(TINY_CHAIN);
    assert_eq!(
        out,
        "input                            -> 4x2x3x5\n\
         conv(in=2, out=3, k=3x5, p=1x2)  -> 4x3x3x5\n\
         maxpool(k=3, s=2x1, p=1)         -> 4x3x2x5\n"
    );
    assert_eq!(err, "");
    assert_eq!(code, 0);
}

#[test]
fn the_shape_keyword_gives_the_same_answer() {
    let (_, bare, _) = repl(TINY_CHAIN);
    let (code, keyword, _) = repl(&format!("shape {TINY_CHAIN}"));
    assert_eq!(bare, keyword);
    assert_eq!(code, 0);
}

#[test]
fn explain_prints_the_formulas_with_numbers() {
    let (code, out, _) = repl("explain 8x8 -> conv(out=1, k=3, p=1, s=2)\n");
    assert_eq!(code, 0);
    assert!(
        out.contains("conv(in=1, out=1, k=3, s=2, p=1) -> 1x1x4x4"),
        "{out}"
    );
    assert!(
        out.contains("H = ⌊(8 + 2·1 − 1·(3−1) − 1) / 2⌋ + 1 = 4"),
        "{out}"
    );
    assert!(
        out.contains("W = ⌊(8 + 2·1 − 1·(3−1) − 1) / 2⌋ + 1 = 4"),
        "{out}"
    );
}

const MODEL_M: &str = "model m(x: 1x1x8x8) {\n  conv(out=2, k=3)\n  relu\n}\n";

#[test]
fn a_model_name_alone_prints_its_summary() {
    let (code, alone, err) = repl(&format!("{MODEL_M}m\n"));
    assert_eq!((code, err.as_str()), (0, ""));
    assert!(alone.starts_with("Model: m (input 1x1x8x8)"), "{alone}");
    assert!(alone.contains("Total params: 20"), "{alone}");
    let (_, summary, _) = repl(&format!("{MODEL_M}summary m\n"));
    assert_eq!(alone, summary);
    let (_, commented, _) = repl(&format!("{MODEL_M}  m   # the same\n"));
    assert_eq!(alone, commented);
}

#[test]
fn an_error_points_into_the_line_and_the_session_goes_on() {
    let (code, out, err) = repl(&format!(
        "{MODEL_M}8x8 -> cnv(out=1, k=3)\n8x8 -> conv(out=1, k=3)\nm\n"
    ));
    assert!(err.contains("unknown layer `cnv`"), "{err}");
    assert!(err.contains("<repl>:1:8"), "{err}");
    assert!(err.contains("1 │ 8x8 -> cnv(out=1, k=3)"), "{err}");
    assert!(err.contains("did you mean `conv`?"), "{err}");
    assert!(out.contains("conv(in=1, out=1, k=3)  -> 1x1x6x6"), "{out}");
    assert!(
        out.contains("Model: m"),
        "the model survives the error: {out}"
    );
    // the session recovered, but a piped run with an error reports it
    assert_eq!(code, 1);
}

#[test]
fn conv_without_out_shows_the_checker_diagnostic() {
    let (code, out, err) = repl("8x8 -> conv(k=3)\n");
    assert_eq!(code, 1);
    assert_eq!(out, "");
    assert!(err.contains("`conv` needs `out`"), "{err}");
    assert!(err.contains("<repl>:1:8"), "{err}");
}

#[test]
fn a_syntax_error_is_a_diagnostic_and_the_next_line_runs() {
    let (code, out, err) = repl("let = 3\n8x8 -> relu\n");
    assert_eq!(code, 1);
    assert!(err.contains("syntax error"), "{err}");
    assert!(err.contains("<repl>:1:"), "{err}");
    assert!(out.contains("relu   -> 8x8"), "{out}");
}

#[test]
fn a_failed_redeclaration_keeps_the_old_model() {
    let (code, out, err) = repl(&format!(
        "{MODEL_M}model m(x: 1x1x8x8) = conv(out=5, k=30)\nm\n:models\n"
    ));
    assert_eq!(code, 1);
    assert!(err.contains("<repl>"), "{err}");
    assert!(out.contains("Total params: 20"), "{out}");
    assert!(out.contains("m  1x1x8x8 -> 1x2x6x6  20 params"), "{out}");
}

#[test]
fn an_entry_with_an_error_defines_nothing() {
    // the `let` is fine, the shape question is not: neither takes effect
    let (code, out, _) = repl("let X = ones(6x8); 8x8 -> conv(out=1, k=9)\n:vars\n");
    assert_eq!(code, 1);
    assert_eq!(out, "no tensors yet\n");
}

#[test]
fn unknown_bare_names_suggest_known_ones() {
    let (code, _, err) = repl(&format!("{MODEL_M}n\nmm\n"));
    assert_eq!(code, 1);
    assert!(err.contains("unknown model or tensor `n`"), "{err}");
    assert!(err.contains("did you mean `m`?"), "{err}");
}

#[test]
fn open_brackets_and_trailing_arrows_continue_the_entry() {
    let (code, out, err) = repl(
        "8x8 -> conv(out=1,\n   k=3) ->\n  relu\nmodel t(x: 1x1x8x8) {\n  a = x -> conv(out=1, k=3, p=1)\n  y = add(x, a)\n}\n:models\n",
    );
    assert_eq!((code, err.as_str()), (0, ""));
    assert!(out.contains("conv(in=1, out=1, k=3)  -> 1x1x6x6"), "{out}");
    assert!(out.contains("relu                    -> 1x1x6x6"), "{out}");
    assert!(out.contains("t  1x1x8x8 -> 1x1x8x8  10 params"), "{out}");
}

#[test]
fn an_unclosed_bracket_at_the_end_is_reported_where_it_opened() {
    let (code, _, err) = repl("8x8 -> relu\n8x8 -> conv(out=1, k=3\n");
    assert_eq!(code, 1);
    assert!(err.contains("<repl>:1:12"), "{err}");
}

#[test]
fn several_statements_in_one_entry() {
    let (code, out, _) = repl("model a(x: 4x4) = relu; summary a; shape 4x4 -> gap\n");
    assert_eq!(code, 0);
    assert!(out.contains("Model: a"), "{out}");
    assert!(out.contains("gap    -> 1x1x1x1"), "{out}");
}

#[test]
fn blank_lines_and_comments_are_ignored() {
    let (code, out, err) = repl("\n# a comment\n   \n8x8 -> relu # why not\n");
    assert_eq!((code, err.as_str()), (0, ""));
    assert_eq!(out, "input  -> 8x8\nrelu   -> 8x8\n");
}

#[test]
fn piped_output_has_no_prompt_and_no_colours() {
    let (_, out, err) = repl(&format!("{TINY_CHAIN}8x8 -> cnv\n:help\n"));
    assert!(!out.contains('\x1b') && !err.contains('\x1b'));
    assert!(!out.contains("cnn>"));
}

#[test]
fn models_vars_and_reset() {
    let (code, out, err) = repl(&format!(
        ":models\n:vars\n{MODEL_M}let X = ones(6x8)\nlet Y = zeros(2x2)\n:models\n:vars\n:reset\n:models\n:vars\nm\n"
    ));
    assert_eq!(code, 1, "`m` is unknown after :reset");
    assert_eq!(
        out,
        "no models yet\nno tensors yet\n\
         m  1x1x8x8 -> 1x2x6x6  20 params\n\
         X  6x8  float32\nY  2x2  float32\n\
         session cleared\nno models yet\nno tensors yet\n"
    );
    assert!(err.contains("unknown model or tensor `m`"), "{err}");
}

#[test]
fn help_lists_every_layer_argument_and_default_from_the_table() {
    let (code, out, _) = repl(":help\n");
    assert_eq!(code, 0);
    for layer in LAYERS {
        assert!(out.contains(layer.name), "{}", layer.name);
        assert!(out.contains(layer.help), "{}", layer.help);
        for arg in layer.args {
            let written = arg.signature();
            assert!(out.contains(&written), "{}: {written}", layer.name);
        }
    }
    for meta in [":help", ":load", ":models", ":vars", ":reset", ":quit"] {
        assert!(out.contains(meta), "{meta}");
    }
    for builtin in cnnscript::ir::builtins::BUILTINS {
        assert!(out.contains(&builtin.signature()), "{}", builtin.name);
        assert!(out.contains(builtin.help), "{}", builtin.name);
    }
}

#[test]
fn help_on_one_layer() {
    let (code, out, _) = repl(":help maxpool\n");
    assert_eq!(code, 0);
    assert!(
        out.starts_with("maxpool(k, s=k, p=0, d=1, ceil=false)"),
        "{out}"
    );
    assert!(out.contains("ceil mode; default false"), "{out}");
    let (code, _, err) = repl(":help maxpol\n");
    assert_eq!(code, 1);
    assert!(err.contains("did you mean `maxpool`?"), "{err}");
    let (code, out, _) = repl(":help full\n:help .reshape\n");
    assert_eq!(code, 0);
    assert!(
        out.starts_with("full(dims, value) — a tensor filled"),
        "{out}"
    );
    assert!(out.contains("value  a number\n"), "{out}");
    assert!(out.contains(".reshape(shape) — "), "{out}");
}

#[test]
fn load_runs_a_script_into_the_session() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join("net.cnn"),
        "model tiny(x: 4x2x3x5) = conv(in=2, out=3, k=3x5, p=1x2) -> maxpool(k=3, s=2x1, p=1)\nlet K = ones(2x2)\nshape 6x8 -> conv(out=1, k=1x2)\n",
    )
    .expect("write");
    let (code, out, err) = repl_in(":load net.cnn\ntiny\n:vars\n", dir.path());
    assert_eq!((code, err.as_str()), (0, ""));
    assert!(
        out.contains("conv(in=1, out=1, k=1x2)  -> 1x1x6x7"),
        "{out}"
    );
    assert!(out.contains("loaded net.cnn (3 statements)"), "{out}");
    assert!(out.contains("Model: tiny (input 4x2x3x5)"), "{out}");
    assert!(out.ends_with("K  2x2  float32\n"), "{out}");
}

#[test]
fn load_of_a_broken_script_changes_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join("bad.cnn"),
        "model m(x: 1x1x8x8) = conv(out=7, k=3)\nmodel n(x: 8x8) = conv(out=1, k=99)\n",
    )
    .expect("write");
    let (code, out, err) = repl_in(
        &format!("{MODEL_M}:load bad.cnn\n:load missing.cnn\n:load\n:models\n"),
        dir.path(),
    );
    assert_eq!(code, 1);
    assert!(
        err.contains("bad.cnn:2:"),
        "diagnostics point into the file: {err}"
    );
    assert!(err.contains("cannot read missing.cnn"), "{err}");
    assert!(err.contains("`:load` needs a file"), "{err}");
    assert_eq!(out, "m  1x1x8x8 -> 1x2x6x6  20 params\n");
}

#[test]
fn quit_stops_reading() {
    let (code, out, _) = repl(":quit\n8x8 -> relu\n");
    assert_eq!(code, 0);
    assert_eq!(out, "");
}

#[test]
fn unknown_meta_commands_suggest_the_nearest() {
    let (code, _, err) = repl(":model\n:vars x\n");
    assert_eq!(code, 1);
    assert!(err.contains("unknown command `:model`"), "{err}");
    assert!(err.contains("did you mean `:models`?"), "{err}");
    assert!(err.contains("`:vars` takes no argument"), "{err}");
}

// ---------------------------------------------------------------- terminal

const PROMPT: &str = "cnn> ";

#[test]
fn terminal_query_completion_error_and_history() {
    let data = tempfile::tempdir().expect("temp dir");
    let command = format!(
        "env XDG_DATA_HOME={} NO_COLOR=1 {BIN} repl",
        data.path().display()
    );
    let Some(mut tmux) = Tmux::start("main", &command, data.path(), false) else {
        return;
    };

    // a shape question answers as typed: a hint first, then the full answer
    tmux.wait_prompt(PROMPT);
    tmux.type_text(TINY_CHAIN.trim_end());
    tmux.wait_for("p=1)  → 4x3x2x5", 1);
    tmux.key("Enter");
    tmux.wait_for("maxpool(k=3, s=2x1, p=1)         -> 4x3x2x5", 1);

    // tab completes a layer name, then an argument name of that layer
    tmux.wait_prompt(PROMPT);
    tmux.type_text("8x8 -> maxp");
    tmux.key("Tab");
    tmux.wait_for("8x8 -> maxpool", 1);
    tmux.type_text("(k=2)");
    tmux.key("Enter");
    tmux.wait_for("maxpool(k=2)  -> 1x1x4x4", 1);
    tmux.wait_prompt(PROMPT);
    tmux.type_text("8x8 -> conv(ou");
    tmux.key("Tab");
    tmux.wait_for("conv(out=", 1);
    tmux.type_text("1, k=3)");
    tmux.key("Enter");
    tmux.wait_for("conv(in=1, out=1, k=3)  -> 1x1x6x6", 1);

    // a bad line: the diagnostic, then the session goes on
    tmux.enter(PROMPT, "8x8 -> cnv(out=1, k=3)");
    tmux.wait_for("did you mean `conv`?", 1);

    // an open brace continues the entry; the model persists
    tmux.wait_prompt(PROMPT);
    tmux.type_text("model m(x: 1x1x8x8) {");
    tmux.key("Enter");
    tmux.type_text("conv(out=2, k=3)");
    tmux.key("Enter");
    tmux.type_text("}");
    tmux.key("Enter");
    tmux.enter(PROMPT, "m");
    tmux.wait_for("Total params: 20", 1);

    // Ctrl-C cancels the line being typed; Ctrl-D quits
    tmux.wait_prompt(PROMPT);
    tmux.type_text("8x8 -> conv(");
    tmux.key("C-c");
    tmux.enter(PROMPT, ":models");
    tmux.wait_for("m  1x1x8x8 -> 1x2x6x6  20 params", 1);
    tmux.wait_prompt(PROMPT);
    tmux.key("C-d");
    tmux.wait_until_gone();

    let history = std::fs::read_to_string(data.path().join("cnnscript/history"))
        .expect("history is written under XDG_DATA_HOME");
    assert!(history.contains("8x8 -> maxpool(k=2)"), "{history}");
    assert!(history.contains(":models"), "{history}");
}

#[test]
fn terminal_history_write_failure_never_stops_the_repl() {
    // a data directory under a regular file cannot be created
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, "").expect("write");
    let command = format!("env XDG_DATA_HOME={} {BIN} repl", file.display());
    let Some(mut tmux) = Tmux::start("history", &command, dir.path(), false) else {
        return;
    };
    tmux.enter(PROMPT, "8x8 -> relu");
    tmux.wait_for("relu   -> 8x8", 1);
    let screen = tmux.wait_for("cannot save history", 1);
    tmux.enter(PROMPT, "8x8 -> gap");
    let screen2 = tmux.wait_for("gap    -> 1x1x1x1", 1);
    assert_eq!(
        screen2.matches("cannot save history").count(),
        1,
        "said once: {screen}"
    );
    tmux.enter(PROMPT, ":quit");
    tmux.wait_until_gone();
}
