//! `cnnscript lsp` driven as an editor drives it: in process through a
//! memory connection (every request), over the binary's stdio (framing,
//! lifecycle, exit status), and by a real client, Neovim, when it is installed.

mod editors;
mod nvim;
mod protocol;
mod requests;

use std::thread::JoinHandle;

use cnnscript::lsp::{serve, Ending};
use lsp_server::{Connection, Message, Notification, Request, RequestId, ResponseError};
use serde_json::{json, Value};

pub const URI: &str = "file:///tmp/lsp-tests/lenet.cnn";

/// LeNet as in examples/lenet.cnn, without its comments.
pub const LENET: &str = "model lenet(x: Nx1x28x28) {
  c1: conv(out=6, k=5, p=2)  sigmoid
  avgpool(k=2, s=2)
  conv(out=16, k=5)  sigmoid
  avgpool(k=2, s=2)
  flatten
  linear(out=120)  sigmoid
  linear(out=84)  sigmoid
  linear(out=10)
}
";

/// An editor on the other end of a memory connection to the server.
pub struct Client {
    conn: Connection,
    server: Option<JoinHandle<Ending>>,
    next_id: i32,
    /// Notifications received while waiting for responses.
    pub notes: Vec<Notification>,
}

impl Client {
    /// A server that has answered `initialize` and got `initialized`.
    pub fn start() -> Client {
        let mut c = Client::connect();
        let caps = c.request("initialize", json!({ "capabilities": {} }));
        assert!(caps.is_ok(), "{caps:?}");
        c.notify("initialized", json!({}));
        c
    }

    /// A server that has seen nothing yet.
    pub fn connect() -> Client {
        let (server_end, client_end) = Connection::memory();
        let server = std::thread::Builder::new()
            .stack_size(64 << 20)
            .spawn(move || serve(&server_end))
            .expect("server thread");
        Client {
            conn: client_end,
            server: Some(server),
            next_id: 0,
            notes: Vec::new(),
        }
    }

    pub fn notify(&self, method: &str, params: Value) {
        let n = Notification::new(method.into(), params);
        self.conn.sender.send(n.into()).expect("server running");
    }

    fn recv(&mut self) -> Message {
        self.conn
            .receiver
            .recv_timeout(std::time::Duration::from_secs(20))
            .expect("the server answers")
    }

    /// Send a request and wait for its response.
    pub fn request(&mut self, method: &str, params: Value) -> Result<Value, ResponseError> {
        self.next_id += 1;
        let id = RequestId::from(self.next_id);
        let req = Request::new(id.clone(), method.into(), params);
        self.conn.sender.send(req.into()).expect("server running");
        loop {
            match self.recv() {
                Message::Response(r) if r.id == id => return r.response_result,
                Message::Notification(n) => self.notes.push(n),
                _ => {}
            }
        }
    }

    /// A request that must succeed.
    pub fn ok(&mut self, method: &str, params: Value) -> Value {
        match self.request(method, params) {
            Ok(v) => v,
            Err(e) => panic!("{method} failed: {} {}", e.code, e.message),
        }
    }

    /// The next diagnostics published for `uri`.
    pub fn diagnostics(&mut self) -> Vec<Value> {
        if let Some(i) = self
            .notes
            .iter()
            .position(|n| n.method == "textDocument/publishDiagnostics")
        {
            let n = self.notes.remove(i);
            return n.params["diagnostics"]
                .as_array()
                .cloned()
                .unwrap_or_default();
        }
        loop {
            if let Message::Notification(n) = self.recv() {
                if n.method == "textDocument/publishDiagnostics" {
                    return n.params["diagnostics"]
                        .as_array()
                        .cloned()
                        .unwrap_or_default();
                }
                self.notes.push(n);
            }
        }
    }

    /// Open `text` as the test document; its first diagnostics.
    pub fn open(&mut self, text: &str) -> Vec<Value> {
        self.notify(
            "textDocument/didOpen",
            json!({ "textDocument": { "uri": URI, "languageId": "cnnscript", "version": 1, "text": text } }),
        );
        self.diagnostics()
    }

    /// Replace the whole text; the diagnostics that follow.
    pub fn replace(&mut self, version: i32, text: &str) -> Vec<Value> {
        self.notify(
            "textDocument/didChange",
            json!({ "textDocument": { "uri": URI, "version": version }, "contentChanges": [{ "text": text }] }),
        );
        self.diagnostics()
    }

    /// `shutdown` then `exit`: how the server saw the session end.
    pub fn finish(mut self) -> Ending {
        assert_eq!(
            self.request("shutdown", Value::Null).ok(),
            Some(Value::Null)
        );
        self.exit()
    }

    /// `exit` (with or without `shutdown` before it).
    pub fn exit(mut self) -> Ending {
        self.notify("exit", Value::Null);
        let server = self.server.take().expect("running");
        server
            .join()
            .expect("the server thread ends without panicking")
    }
}

/// Text document and position parameters.
pub fn at(line: u32, character: u32) -> Value {
    json!({ "textDocument": { "uri": URI }, "position": { "line": line, "character": character } })
}

/// The whole test document as a range parameter.
pub fn whole(extra: Value) -> Value {
    let mut v = json!({
        "textDocument": { "uri": URI },
        "range": { "start": { "line": 0, "character": 0 }, "end": { "line": 999, "character": 0 } },
    });
    if let (Some(obj), Some(more)) = (v.as_object_mut(), extra.as_object()) {
        obj.extend(more.clone());
    }
    v
}

/// Apply LSP text edits (UTF-16 positions) to `text`.
pub fn apply_edits(text: &str, edits: &[Value]) -> String {
    let offset = |pos: &Value| -> usize {
        let line = pos["line"].as_u64().unwrap_or(0) as usize;
        let character = pos["character"].as_u64().unwrap_or(0) as usize;
        let start: usize = text.split_inclusive('\n').take(line).map(str::len).sum();
        let mut units = 0;
        for (i, c) in text[start..].char_indices() {
            if units >= character || c == '\n' {
                return start + i;
            }
            units += c.len_utf16();
        }
        text.len()
    };
    let mut spans: Vec<(usize, usize, String)> = edits
        .iter()
        .map(|e| {
            (
                offset(&e["range"]["start"]),
                offset(&e["range"]["end"]),
                e["newText"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    spans.sort_by_key(|s| std::cmp::Reverse(s.0));
    let mut out = text.to_string();
    for (start, end, new) in spans {
        out.replace_range(start..end, &new);
    }
    out
}
