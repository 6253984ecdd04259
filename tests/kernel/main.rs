//! `cnnscript kernel` at the message level: a Rust client speaks the
//! Jupyter protocol to the real binary over ZeroMQ (execute, outputs,
//! errors, completion, inspection, is_complete, interrupts, shutdown).

mod client;

use base64::Engine;
use client::{of_type, stream, Chan, Client};
use serde_json::{json, Value};

const EDGE: &str = "let X = ones(6x8)\nX[:, 2:6] = 0\nlet Y = corr2d(X, [[1, -1]])\n\
                    model edge(x: 1x1x6x8) = conv(in=1, out=1, k=1x2, init=randn)\ndata X -> Y";

fn statuses(published: &[cnnscript::kernel::wire::Message]) -> Vec<String> {
    of_type(published, "status")
        .iter()
        .map(|m| {
            m.content["execution_state"]
                .as_str()
                .unwrap_or("")
                .to_string()
        })
        .collect()
}

#[test]
fn cells_share_state_and_count() {
    let mut k = Client::start();
    let (reply, published) = k.execute("let X = ones(2x3)\nprint X");
    assert_eq!(reply.content["status"], "ok");
    assert_eq!(reply.content["execution_count"], 1);
    assert_eq!(statuses(&published), ["busy", "idle"]);
    let input = of_type(&published, "execute_input");
    assert_eq!(input[0].content["code"], "let X = ones(2x3)\nprint X");
    assert_eq!(input[0].content["execution_count"], 1);
    assert_eq!(
        stream(&published, "stdout"),
        "tensor([[1., 1., 1.],\n        [1., 1., 1.]])\n"
    );
    // the next cell reads X; a bare name shows it
    let (reply, published) = k.execute("X");
    assert_eq!(reply.content["execution_count"], 2);
    assert!(stream(&published, "stdout").starts_with("tensor([[1., 1., 1.]"));
    // a silent request counts nothing and publishes no output
    let id = k.send(
        Chan::Shell,
        "execute_request",
        json!({"code": "print X", "silent": true}),
    );
    let published = k.iopub_until_idle(&id);
    assert!(of_type(&published, "stream").is_empty());
    assert_eq!(k.recv(Chan::Shell).content["execution_count"], 2);
}

#[test]
fn answers_are_tables_and_pictures() {
    let dir = tempfile::tempdir().expect("a folder");
    let mut k = Client::start_in(dir.path());
    let (_, published) = k.execute("4x2x3x5 -> conv(out=3, k=3x5, p=1x2)");
    let shown = of_type(&published, "display_data");
    assert_eq!(shown.len(), 1);
    let data = &shown[0].content["data"];
    assert!(data["text/plain"]
        .as_str()
        .unwrap_or("")
        .contains("-> 4x3x3x5"));
    let html = data["text/html"].as_str().unwrap_or("");
    assert!(
        html.contains("<td style=\"text-align:left\"><code>4x3x3x5</code></td>"),
        "{html}"
    );

    let (_, published) = k.execute(&format!("{EDGE}\nsummary edge"));
    let html = of_type(&published, "display_data")[0].content["data"]["text/html"].clone();
    assert!(
        html.as_str().unwrap_or("").contains("Total params: 3"),
        "{html}"
    );

    let (reply, published) =
        k.execute("train edge sgd lr=0.01 steps=3 loss=sse\nplot \"loss.png\"");
    assert_eq!(reply.content["status"], "ok", "{:?}", reply.content);
    let pictures: Vec<&Value> = of_type(&published, "display_data")
        .into_iter()
        .map(|m| &m.content["data"])
        .filter(|d| d["image/png"].is_string())
        .collect();
    assert_eq!(pictures.len(), 1);
    let png = base64::engine::general_purpose::STANDARD
        .decode(pictures[0]["image/png"].as_str().unwrap_or(""))
        .expect("base64");
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    // and the file is written as `run` writes it
    assert_eq!(
        std::fs::read(dir.path().join("loss.png")).expect("the file"),
        png
    );

    // without a file name the picture is only shown
    let (reply, published) = k.execute("show edge.0.weight");
    assert_eq!(reply.content["status"], "ok", "{:?}", reply.content);
    let shown = of_type(&published, "display_data");
    assert!(shown[0].content["data"]["image/png"].is_string());
    let files = std::fs::read_dir(dir.path()).expect("the folder").count();
    assert_eq!(files, 1, "only loss.png");
}

#[test]
fn training_updates_one_display() {
    let mut k = Client::start();
    let (reply, published) = k.execute(&format!(
        "{EDGE}\ntrain edge sgd lr=0.01 steps=300 loss=sse log=1"
    ));
    assert_eq!(reply.content["status"], "ok");
    // the header line names the model; no stream of 300 step lines: one
    // display, updated in place
    assert_eq!(
        stream(&published, "stdout"),
        "Training edge: sgd lr=0.01, 300 steps\n"
    );
    let opened = of_type(&published, "display_data");
    assert_eq!(opened.len(), 1);
    let id = opened[0].content["transient"]["display_id"].clone();
    assert!(id.is_string());
    let updates = of_type(&published, "update_display_data");
    let last = updates.last().expect("an update");
    assert_eq!(last.content["transient"]["display_id"], id);
    let text = last.content["data"]["text/plain"].as_str().unwrap_or("");
    assert!(text.starts_with("step 300/300 · loss "), "{text}");
    assert!(text.contains("· done"), "{text}");
    assert!(
        text.contains("Step 1, loss ") && text.contains("Step 300, loss "),
        "{text}"
    );
    assert!(text.contains("⋮ (261 more lines)"), "{text}");
}

#[test]
fn errors_reply_with_the_diagnostic_and_keep_state() {
    let mut k = Client::start();
    k.execute("let A = ones(2x2)");
    let (reply, published) = k.execute("model bad(x: 8x8) = conv(out=1, k=3) -> relo\nprint A");
    assert_eq!(reply.content["status"], "error");
    assert_eq!(reply.content["ename"], "unknown_layer");
    let errors = of_type(&published, "error");
    assert_eq!(errors.len(), 1);
    let traceback: Vec<&str> = errors[0].content["traceback"]
        .as_array()
        .expect("a traceback")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let all = traceback.join("\n");
    assert!(all.contains("did you mean `relu`?"), "{all}");
    assert!(all.contains('\u{1b}'), "coloured for the front end: {all}");
    // the cell stopped at the error: `print A` did not run
    assert_eq!(stream(&published, "stdout"), "");
    // a later line of a cell is reported at its line of the cell
    let (reply, _) = k.execute("let B = 1\n\nprint nope");
    let tb = reply.content["traceback"].to_string();
    assert!(tb.contains("<repl>:3:7"), "{tb}");
    let (reply, published) = k.execute("print A");
    assert_eq!(reply.content["status"], "ok");
    assert!(stream(&published, "stdout").contains("tensor([[1., 1.]"));
}

#[test]
fn completion_inspection_and_is_complete() {
    let mut k = Client::start();
    k.execute(&format!("{EDGE}\nlet Xtrain = ones(2x2)"));
    let code = "model m(x: 8x8) = maxp";
    let r = k.ask("complete_request", json!({"code": code, "cursor_pos": 22}));
    assert_eq!(r["matches"], json!(["maxpool"]));
    assert_eq!(
        (r["cursor_start"].clone(), r["cursor_end"].clone()),
        (json!(18), json!(22))
    );
    let r = k.ask(
        "complete_request",
        json!({"code": "print Xt", "cursor_pos": 8}),
    );
    assert_eq!(r["matches"], json!(["Xtrain"]));

    let r = k.ask(
        "inspect_request",
        json!({"code": "summary edge", "cursor_pos": 10, "detail_level": 0}),
    );
    assert_eq!(r["found"], true);
    assert!(r["data"]["text/plain"]
        .as_str()
        .unwrap_or("")
        .contains("Total params: 3"));
    assert!(r["data"]["text/html"]
        .as_str()
        .unwrap_or("")
        .contains("<table"));
    let r = k.ask(
        "inspect_request",
        json!({"code": "print Xtrain", "cursor_pos": 8}),
    );
    let text = r["data"]["text/plain"].as_str().unwrap_or("");
    assert!(
        text.starts_with("Xtrain: float tensor, shape 2x2"),
        "{text}"
    );
    // a layer in the cell: its shapes and receptive field, as an editor's hover
    let cell = "model t(x: 1x1x8x8) = conv(out=4, k=3) -> maxpool(k=2)";
    let r = k.ask("inspect_request", json!({"code": cell, "cursor_pos": 44}));
    let text = r["data"]["text/plain"].as_str().unwrap_or("");
    assert!(text.contains("1x4x3x3"), "{text}");
    let r = k.ask("inspect_request", json!({"code": "  +  ", "cursor_pos": 2}));
    assert_eq!(r["found"], false);

    let r = k.ask(
        "is_complete_request",
        json!({"code": "model m(x: 8x8) {\n  conv(out=1, k=3)"}),
    );
    assert_eq!(r["status"], "incomplete");
    let r = k.ask(
        "is_complete_request",
        json!({"code": "model m(x: 8x8) {\n  conv(out=1, k=3)\n}"}),
    );
    assert_eq!(r["status"], "complete");
}

#[test]
fn kernel_info_history_and_comms() {
    let mut k = Client::start();
    let info = k.ask("kernel_info_request", json!({}));
    assert_eq!(info["protocol_version"], "5.3");
    assert_eq!(info["language_info"]["name"], "cnnscript");
    assert_eq!(info["language_info"]["file_extension"], ".cnn");
    assert!(info["language_info"]["codemirror_mode"].is_string());
    assert!(info["banner"]
        .as_str()
        .unwrap_or("")
        .starts_with("cnnscript "));
    assert_eq!(k.ask("comm_info_request", json!({}))["comms"], json!({}));
    assert_eq!(k.ask("history_request", json!({}))["history"], json!([]));
    assert_eq!(k.heartbeat(b"ping"), b"ping");
    // control answers kernel info too
    let id = k.send(Chan::Control, "kernel_info_request", json!({}));
    let reply = k.recv(Chan::Control);
    assert_eq!(reply.parent["msg_id"], json!(id));
    assert_eq!(reply.content["implementation"], "cnnscript");
}

/// Start a training that would run for minutes, wait until its display
/// shows, interrupt it with `how`, and check the kernel goes on with the
/// model it had.
fn interrupt_training(how: impl FnOnce(&mut Client)) {
    let mut k = Client::start();
    k.execute(EDGE);
    let id = k.send(
        Chan::Shell,
        "execute_request",
        json!({"code": "train edge sgd lr=0.001 steps=100000000 loss=sse\nprint 1"}),
    );
    loop {
        if k.iopub_of(&id).msg_type() == "display_data" {
            break;
        }
    }
    how(&mut k);
    let published = k.iopub_until_idle(&id);
    let reply = k.recv(Chan::Shell);
    assert_eq!(reply.content["status"], "error");
    assert_eq!(reply.content["ename"], "Interrupted");
    // stopped at a step boundary, possibly before the first step
    let message = reply.content["evalue"].as_str().unwrap_or("");
    assert!(message.starts_with("stopped "), "{message}");
    assert!(message.contains(" of 100,000,000"), "{message}");
    // at most the header line naming the model: `print 1` did not run
    let printed = stream(&published, "stdout");
    assert!(
        printed.is_empty() || printed == "Training edge: sgd lr=0.001, 100,000,000 steps\n",
        "the cell stopped: {printed:?}"
    );
    let stopped = of_type(&published, "update_display_data");
    let text = stopped
        .last()
        .expect("the display shows where it stopped")
        .content["data"]["text/plain"]
        .as_str()
        .unwrap_or("");
    assert!(text.contains("· stopped"), "{text}");
    // the kernel and the model are still there
    let (reply, published) = k.execute("print edge.0.weight");
    assert_eq!(reply.content["status"], "ok", "{:?}", reply.content);
    assert!(!stream(&published, "stdout").is_empty());
}

#[test]
fn interrupt_request_stops_training() {
    interrupt_training(|k| {
        let id = k.send(Chan::Control, "interrupt_request", json!({}));
        let reply = k.recv(Chan::Control);
        assert_eq!(reply.parent["msg_id"], json!(id));
        assert_eq!(reply.msg_type(), "interrupt_reply");
    });
}

#[test]
fn sigint_stops_training() {
    interrupt_training(|k| {
        let status = std::process::Command::new("kill")
            .args(["-INT", &k.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
    });
}

#[test]
fn shutdown_ends_the_process() {
    let mut k = Client::start();
    let id = k.send(Chan::Control, "shutdown_request", json!({"restart": false}));
    let reply = k.recv(Chan::Control);
    assert_eq!(reply.parent["msg_id"], json!(id));
    assert_eq!(reply.msg_type(), "shutdown_reply");
    assert_eq!(reply.content, json!({"status": "ok", "restart": false}));
    assert!(k.wait_exit().success());
}

#[test]
fn a_restart_is_a_shutdown_then_a_new_kernel() {
    let mut k = Client::start();
    k.execute("let A = ones(1x1)");
    k.send(Chan::Control, "shutdown_request", json!({"restart": true}));
    assert_eq!(k.recv(Chan::Control).content["restart"], true);
    assert!(k.wait_exit().success());
    let mut fresh = Client::start();
    let (reply, _) = fresh.execute("print A");
    assert_eq!(reply.content["status"], "error");
    assert_eq!(reply.content["execution_count"], 1);
}

#[test]
fn usage_without_a_connection_file() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_cnnscript"))
        .arg("kernel")
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cnnscript kernel install"));
}
