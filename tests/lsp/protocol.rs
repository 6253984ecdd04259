//! The protocol's lifecycle and error answers, in process and over the
//! binary's stdio.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};

use cnnscript::lsp::Ending;
use serde_json::{json, Value};

use super::{at, Client, LENET, URI};

#[test]
fn requests_before_initialize_are_refused_then_it_starts() {
    let mut c = Client::connect();
    let early = c.request("textDocument/hover", at(0, 0));
    assert_eq!(early.err().map(|e| e.code), Some(-32002));
    c.notify("textDocument/didOpen", json!({}));
    let caps = c.ok("initialize", json!({ "capabilities": {} }));
    let caps = &caps["capabilities"];
    for key in [
        "hoverProvider",
        "completionProvider",
        "definitionProvider",
        "documentSymbolProvider",
        "documentFormattingProvider",
        "codeActionProvider",
        "inlayHintProvider",
        "semanticTokensProvider",
    ] {
        assert!(!caps[key].is_null(), "{key} in {caps}");
    }
    assert_eq!(caps["textDocumentSync"], json!(2), "incremental");
    assert_eq!(caps["positionEncoding"], json!("utf-16"));
    let again = c.request("initialize", json!({ "capabilities": {} }));
    assert_eq!(again.err().map(|e| e.code), Some(-32600));
    assert_eq!(c.finish(), Ending::Clean);
}

#[test]
fn unknown_methods_bad_parameters_and_unopened_documents_are_errors() {
    let mut c = Client::start();
    let code = |r: Result<Value, lsp_server::ResponseError>| r.err().map(|e| e.code);
    assert_eq!(
        code(c.request("textDocument/rename", at(0, 0))),
        Some(-32601)
    );
    assert_eq!(
        code(c.request("textDocument/hover", json!({ "x": 1 }))),
        Some(-32602)
    );
    assert_eq!(
        code(c.request("textDocument/hover", at(0, 0))),
        Some(-32602)
    );
    // a notification with bad parameters is dropped; the server goes on
    c.notify("textDocument/didChange", json!({ "textDocument": 3 }));
    assert!(c.open(LENET).is_empty());
    assert!(c.ok("textDocument/hover", at(0, 8))["contents"].is_object());
    assert_eq!(c.finish(), Ending::Clean);
}

#[test]
fn closing_clears_diagnostics_and_shutdown_refuses_requests() {
    let mut c = Client::start();
    assert_eq!(c.open("print Q\n").len(), 1);
    c.notify(
        "textDocument/didClose",
        json!({ "textDocument": { "uri": URI } }),
    );
    assert_eq!(c.diagnostics(), Vec::<Value>::new());
    assert_eq!(c.request("shutdown", Value::Null).ok(), Some(Value::Null));
    let late = c.request("textDocument/hover", at(0, 0));
    assert_eq!(late.err().map(|e| e.code), Some(-32600));
    assert_eq!(c.exit(), Ending::Clean);
}

#[test]
fn exit_without_shutdown_is_abrupt() {
    let c = Client::start();
    assert_eq!(c.exit(), Ending::Abrupt);
}

/// `cnnscript lsp` as a child process.
struct Child {
    child: std::process::Child,
    out: BufReader<std::process::ChildStdout>,
}

impl Child {
    fn start() -> Child {
        let mut child = Command::new(env!("CARGO_BIN_EXE_cnnscript"))
            .arg("lsp")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("cnnscript lsp starts");
        let out = BufReader::new(child.stdout.take().expect("stdout"));
        Child { child, out }
    }

    fn write(&mut self, bytes: &[u8]) {
        let stdin = self.child.stdin.as_mut().expect("stdin");
        stdin.write_all(bytes).expect("writes");
        stdin.flush().expect("flushes");
    }

    fn send(&mut self, msg: Value) {
        let body = msg.to_string();
        self.write(format!("Content-Length: {}\r\n\r\n{body}", body.len()).as_bytes());
    }

    fn recv(&mut self) -> Value {
        let mut length = 0;
        loop {
            let mut line = String::new();
            self.out.read_line(&mut line).expect("a header");
            let line = line.trim();
            if line.is_empty() {
                break;
            }
            if let Some(n) = line.strip_prefix("Content-Length: ") {
                length = n.parse().expect("a length");
            }
        }
        let mut body = vec![0; length];
        self.out.read_exact(&mut body).expect("a body");
        serde_json::from_slice(&body).expect("JSON")
    }

    /// Exit status and stderr, after stdin is closed.
    fn finish(mut self) -> (Option<i32>, String) {
        drop(self.child.stdin.take());
        let out = self.child.wait_with_output().expect("exits");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
}

#[test]
fn over_stdio_malformed_bodies_get_errors_and_the_session_goes_on() {
    let mut p = Child::start();
    p.send(json!({ "jsonrpc": "2.0", "id": 1, "method": "initialize", "params": { "capabilities": {} } }));
    assert!(p.recv()["result"]["capabilities"].is_object());
    p.send(json!({ "jsonrpc": "2.0", "method": "initialized", "params": {} }));
    p.write(b"Content-Length: 9\r\n\r\n{garbage}");
    let parse_error = p.recv();
    assert_eq!(parse_error["error"]["code"], json!(-32700));
    assert_eq!(parse_error["id"], Value::Null);
    p.send(json!({ "jsonrpc": "2.0", "id": 2, "error": "not an error object" }));
    let invalid = p.recv();
    assert_eq!(invalid["error"]["code"], json!(-32600));
    assert_eq!(invalid["id"], json!(2));
    p.send(
        json!({ "jsonrpc": "2.0", "method": "textDocument/didOpen", "params": {
        "textDocument": { "uri": URI, "languageId": "cnnscript", "version": 1, "text": LENET } } }),
    );
    let diags = p.recv();
    assert_eq!(diags["method"], json!("textDocument/publishDiagnostics"));
    p.send(json!({ "jsonrpc": "2.0", "id": 3, "method": "shutdown" }));
    let answer = p.recv();
    assert_eq!(
        (answer["id"].clone(), answer["result"].clone()),
        (json!(3), Value::Null)
    );
    p.send(json!({ "jsonrpc": "2.0", "method": "exit" }));
    let (status, stderr) = p.finish();
    assert_eq!(status, Some(0), "{stderr}");
    assert!(
        stderr.contains("not JSON"),
        "the bad body is logged: {stderr}"
    );
}

#[test]
fn over_stdio_exit_without_shutdown_and_broken_framing_fail() {
    let mut p = Child::start();
    p.send(json!({ "jsonrpc": "2.0", "method": "exit" }));
    assert_eq!(p.finish().0, Some(1));
    let mut p = Child::start();
    p.write(b"Content-Type: nothing else\r\n\r\n{}");
    let (status, stderr) = p.finish();
    assert_eq!(status, Some(1));
    assert!(stderr.contains("Content-Length"), "{stderr}");
}
