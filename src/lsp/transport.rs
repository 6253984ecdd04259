//! The stdio transport: `Content-Length` framed JSON-RPC on stdin/stdout.
//!
//! lsp-server's own stdio transport stops at the first malformed message;
//! this one answers a body that is not JSON (or not a JSON-RPC message) with
//! the protocol's error and keeps serving. Broken framing (a header without
//! `Content-Length`, a body cut short) cannot be resynchronised: the reader
//! then stops and the server exits with an error.

use std::io::{self, BufRead, Read, Write};
use std::thread;

use crossbeam_channel::{bounded, Receiver, Sender};
use lsp_server::{Connection, ErrorCode, Message};

/// The largest message accepted, whatever its header claims.
const MAX_MESSAGE_BYTES: u64 = 256 << 20;

/// The reader and writer threads; join them after the server loop ends.
pub struct IoThreads {
    reader: thread::JoinHandle<io::Result<()>>,
    writer: thread::JoinHandle<io::Result<()>>,
}

impl IoThreads {
    /// Wait for both threads; the reader's error (broken framing) wins.
    pub fn join(self) -> io::Result<()> {
        let reader = self
            .reader
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("the reader thread panicked")));
        let writer = self
            .writer
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("the writer thread panicked")));
        reader.and(writer)
    }
}

/// A connection over stdin and stdout.
pub fn stdio() -> (Connection, IoThreads) {
    let (to_client, outbox) = bounded::<Message>(0);
    // a buffer, so the server sees what is already waiting (a burst of edits
    // is checked once, after its last message)
    let (inbox, from_client) = bounded::<Message>(256);
    let writer = thread::spawn(move || write_all(outbox));
    let reader = thread::spawn(move || read_all(&mut io::stdin().lock(), inbox, &mut io::stdout()));
    let conn = Connection {
        sender: to_client,
        receiver: from_client,
    };
    (conn, IoThreads { reader, writer })
}

fn write_all(outbox: Receiver<Message>) -> io::Result<()> {
    for msg in outbox {
        let stdout = io::stdout();
        let mut out = stdout.lock();
        msg.write(&mut out)?;
        out.flush()?;
    }
    Ok(())
}

/// Read messages until `exit`, the end of input, or broken framing. A
/// body that is not a message is answered on `replies` (whole frames, one
/// `write_all` each, so they never interleave with the writer's).
pub fn read_all(
    input: &mut impl BufRead,
    inbox: Sender<Message>,
    replies: &mut impl Write,
) -> io::Result<()> {
    while let Some(body) = read_frame(input)? {
        let msg = match parse(&body) {
            Ok(msg) => msg,
            Err(reply) => {
                eprintln!("cnnscript lsp: {}", reply["error"]["message"]);
                let text = reply.to_string();
                let frame = format!("Content-Length: {}\r\n\r\n{text}", text.len());
                replies.write_all(frame.as_bytes())?;
                replies.flush()?;
                continue;
            }
        };
        let exit = matches!(&msg, Message::Notification(n) if n.method == "exit");
        if inbox.send(msg).is_err() || exit {
            break;
        }
    }
    Ok(())
}

/// A message, or the error response for a body that is not one.
pub fn parse(body: &[u8]) -> Result<Message, serde_json::Value> {
    let error = |code: ErrorCode, id: serde_json::Value, why: String| {
        serde_json::json!({
            "jsonrpc": "2.0",
            "id": id,
            "error": { "code": code as i32, "message": why },
        })
    };
    let value: serde_json::Value = serde_json::from_slice(body).map_err(|e| {
        error(
            ErrorCode::ParseError,
            serde_json::Value::Null,
            format!("the message is not JSON: {e}"),
        )
    })?;
    let id = value.get("id").cloned().unwrap_or_default();
    serde_json::from_value(value).map_err(|e| {
        error(
            ErrorCode::InvalidRequest,
            id,
            format!("the message is not a JSON-RPC request, response or notification: {e}"),
        )
    })
}

/// One framed body; `None` at the end of input before a header.
pub fn read_frame(input: &mut impl BufRead) -> io::Result<Option<Vec<u8>>> {
    let bad = |what: String| io::Error::new(io::ErrorKind::InvalidData, what);
    let mut length: Option<u64> = None;
    let mut first = true;
    loop {
        let mut line = String::new();
        if input.read_line(&mut line)? == 0 {
            return if first {
                Ok(None)
            } else {
                Err(bad("the input ended inside a message header".into()))
            };
        }
        first = false;
        let line = line.trim_end_matches(['\r', '\n']);
        if line.is_empty() {
            break;
        }
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| bad(format!("malformed header line {line:?}")))?;
        if name.trim().eq_ignore_ascii_case("content-length") {
            let n = value
                .trim()
                .parse()
                .map_err(|_| bad(format!("malformed Content-Length {value:?}")))?;
            length = Some(n);
        }
    }
    let length = length.ok_or_else(|| bad("a message header without Content-Length".into()))?;
    if length > MAX_MESSAGE_BYTES {
        return Err(bad(format!(
            "a message of {length} bytes is more than the {MAX_MESSAGE_BYTES} accepted"
        )));
    }
    crate::io::check_alloc_bytes(length, "an LSP message").map_err(|e| bad(e.to_string()))?;
    let mut body = Vec::new();
    input.take(length).read_to_end(&mut body)?;
    if body.len() as u64 != length {
        return Err(bad("the input ended inside a message body".into()));
    }
    Ok(Some(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(body: &str) -> String {
        format!("Content-Length: {}\r\n\r\n{body}", body.len())
    }

    #[test]
    fn malformed_bodies_are_answered_and_reading_goes_on() {
        let input = [
            frame(r#"{"jsonrpc":"2.0","id":1,"method":"shutdown"}"#),
            frame("{not json"),
            frame(r#"{"jsonrpc":"2.0","id":7,"params":[]}"#),
            frame(r#"{"jsonrpc":"2.0","method":"exit"}"#),
            frame(r#"{"jsonrpc":"2.0","method":"never read"}"#),
        ]
        .concat();
        let (inbox, messages) = crossbeam_channel::unbounded();
        let mut replies = Vec::new();
        let read = read_all(&mut input.as_bytes(), inbox, &mut replies);
        assert!(read.is_ok());
        let methods: Vec<String> = messages
            .try_iter()
            .map(|m| match m {
                Message::Request(r) => r.method,
                Message::Notification(n) => n.method,
                Message::Response(_) => "response".into(),
            })
            .collect();
        assert_eq!(methods, ["shutdown", "exit"]);
        let mut replies = &replies[..];
        let mut codes = Vec::new();
        while let Ok(Some(body)) = read_frame(&mut replies) {
            let v: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
            codes.push((v["id"].clone(), v["error"]["code"].as_i64()));
        }
        assert_eq!(
            codes,
            [
                (serde_json::Value::Null, Some(-32700)),
                (serde_json::json!(7), Some(-32600))
            ]
        );
    }

    #[test]
    fn broken_framing_is_an_error() {
        for input in [
            "Content-Type: x\r\n\r\n{}",
            "Content-Length: ten\r\n\r\n{}",
            "Content-Length: 50\r\n\r\n{}",
            "no colon here\r\n\r\n",
            "Content-Length: 99999999999\r\n\r\n",
        ] {
            let (inbox, _messages) = crossbeam_channel::unbounded();
            let read = read_all(&mut input.as_bytes(), inbox, &mut Vec::new());
            assert!(read.is_err(), "{input:?}");
        }
        // the end of input between messages is a normal end
        let (inbox, _messages) = crossbeam_channel::unbounded();
        assert!(read_all(&mut "".as_bytes(), inbox, &mut Vec::new()).is_ok());
    }
}
