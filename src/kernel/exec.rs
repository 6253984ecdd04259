//! The executor: the shell requests, in order, on the thread that owns the
//! REPL session. A cell runs entry by entry exactly as the REPL would run
//! its lines, so state persists across cells and a bare name or shape
//! question shows its answer.

use serde_json::{json, Value};

use super::assist::{complete, entries, is_complete};
use super::info::kernel_info;
use super::inspect::inspect;
use super::io::{Channel, Outbox};
use super::sink::CellOutput;
use super::wire::Message;
use crate::diag::Style;
use crate::interrupt;
use crate::repl::{Outcome, Session};

/// The kernel's state: the session and the execution counter.
pub struct Executor {
    session: Session,
    outbox: Outbox,
    count: u64,
}

/// Why a cell stopped: the `error` content.
#[derive(Debug, PartialEq)]
pub struct CellError {
    pub ename: String,
    pub evalue: String,
    pub traceback: Vec<String>,
}

impl Executor {
    /// A fresh session answering through `outbox`.
    pub fn new(outbox: Outbox) -> Executor {
        Executor {
            session: Session::new(Style::Fancy).without_progress_bars(),
            outbox,
            count: 0,
        }
    }

    /// Answer one shell request, between `busy` and `idle`.
    pub fn handle(&mut self, msg: &Message) {
        self.outbox.status(msg, "busy");
        let code = msg.content["code"].as_str().unwrap_or("");
        let cursor = msg.content["cursor_pos"]
            .as_u64()
            .map_or(code.chars().count(), |c| c as usize);
        let reply = |msg_type: &str, content: Value| {
            self.outbox.reply(Channel::Shell, msg, msg_type, content);
        };
        match msg.msg_type() {
            "execute_request" => self.execute(msg),
            "kernel_info_request" => reply("kernel_info_reply", kernel_info()),
            "complete_request" => reply("complete_reply", complete(&self.session, code, cursor)),
            "inspect_request" => reply("inspect_reply", inspect(&self.session, code, cursor)),
            "is_complete_request" => reply("is_complete_reply", is_complete(code)),
            "comm_info_request" => reply("comm_info_reply", json!({"status": "ok", "comms": {}})),
            "history_request" => reply("history_reply", json!({"status": "ok", "history": []})),
            "shutdown_request" => {
                let restart = msg.content["restart"].as_bool().unwrap_or(false);
                reply(
                    "shutdown_reply",
                    json!({"status": "ok", "restart": restart}),
                );
                self.outbox.status(msg, "idle");
                self.outbox.exit();
                return;
            }
            other => eprintln!("cnnscript kernel: no answer to `{other}`"),
        }
        self.outbox.status(msg, "idle");
    }

    fn execute(&mut self, msg: &Message) {
        let code = msg.content["code"].as_str().unwrap_or("");
        let silent = msg.content["silent"].as_bool().unwrap_or(false);
        let store = msg.content["store_history"].as_bool().unwrap_or(!silent);
        if store && !silent {
            self.count += 1;
        }
        if !silent {
            self.outbox.publish(
                msg,
                "execute_input",
                json!({"code": code, "execution_count": self.count}),
            );
        }
        let mut out = CellOutput::new(&self.outbox, msg, silent);
        let result = run_cell(&mut self.session, code, &mut out);
        out.end_entry();
        let content = match result {
            Ok(()) => json!({
                "status": "ok",
                "execution_count": self.count,
                "user_expressions": {},
                "payload": [],
            }),
            Err(e) => {
                let error = json!({
                    "ename": e.ename,
                    "evalue": e.evalue,
                    "traceback": e.traceback,
                });
                if !silent {
                    self.outbox.publish(msg, "error", error.clone());
                }
                let mut content = error;
                content["status"] = json!("error");
                content["execution_count"] = json!(self.count);
                content
            }
        };
        self.outbox
            .reply(Channel::Shell, msg, "execute_reply", content);
    }
}

/// Run a cell's entries in order; the first that fails stops the cell.
pub fn run_cell(session: &mut Session, code: &str, out: &mut CellOutput) -> Result<(), CellError> {
    let _region = interrupt::Region::enter();
    for (line, entry) in entries(code) {
        if interrupt::requested() {
            return Err(CellError {
                ename: "Interrupted".into(),
                evalue: "the cell was interrupted".into(),
                traceback: vec!["interrupted: the rest of the cell did not run".into()],
            });
        }
        // blank lines in front keep the diagnostics' line numbers the cell's
        let text = format!("{}{entry}", "\n".repeat(line));
        let mut err = Vec::new();
        let outcome = session.entry(&text, out, &mut err);
        out.end_entry();
        let rendered = String::from_utf8_lossy(&err);
        match outcome {
            Outcome::Done if rendered.is_empty() => {}
            Outcome::Done => out.warnings(&rendered),
            Outcome::Failed => return Err(cell_error(&rendered, interrupt::requested())),
            Outcome::Quit => out.warnings(
                "`:quit` does not stop a notebook's kernel; use the notebook's Kernel menu\n",
            ),
        }
    }
    Ok(())
}

/// The `error` content of a failed entry: its rendered diagnostics as the
/// traceback, the first error's code and message as name and value.
pub fn cell_error(rendered: &str, interrupted: bool) -> CellError {
    let plain = strip_ansi(rendered);
    let code = plain
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("cnnscript::") && !l.contains(' '));
    let message = plain
        .lines()
        .find_map(|l| l.trim_start().strip_prefix("× "))
        .or_else(|| plain.lines().find(|l| !l.trim().is_empty()))
        .unwrap_or("error");
    let ename = if interrupted {
        "Interrupted".to_string()
    } else {
        code.map_or("Error".to_string(), |c| {
            c.trim_start_matches("cnnscript::").to_string()
        })
    };
    CellError {
        ename,
        evalue: message.trim().to_string(),
        traceback: rendered.trim_end().lines().map(str::to_string).collect(),
    }
}

/// Text without ANSI escape sequences (`ESC [ ... letter`).
fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            if chars.next() == Some('[') {
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_first_code_and_message() {
        let rendered = "\u{1b}[31mcnnscript::kernel_too_big\u{1b}[0m\n\n  \u{1b}[31m×\u{1b}[0m `conv` kernel does not fit\n   ╭─[<repl>:1:37]\n";
        let e = cell_error(rendered, false);
        assert_eq!(e.ename, "kernel_too_big");
        assert_eq!(e.evalue, "`conv` kernel does not fit");
        assert_eq!(e.traceback.len(), 4);
        assert_eq!(cell_error(rendered, true).ename, "Interrupted");
        assert_eq!(cell_error("boom\n", false).evalue, "boom");
    }

    #[test]
    fn ansi_is_stripped() {
        assert_eq!(strip_ansi("\u{1b}[1;31mred\u{1b}[0m plain"), "red plain");
    }
}
