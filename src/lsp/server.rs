//! The server loop: the protocol's lifecycle (initialize, shutdown, exit),
//! documents kept in step with the editor, one handler per request, each
//! run under `catch_unwind` so a bug answers one request with an error
//! instead of stopping the server.

use std::collections::{BTreeSet, HashMap};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;

use lsp_server::{Connection, ErrorCode, Message, Notification, Request, RequestId, Response};
use lsp_types::notification::{
    DidChangeTextDocument, DidCloseTextDocument, DidOpenTextDocument,
    Notification as NotificationTrait, PublishDiagnostics,
};
use lsp_types::{PublishDiagnosticsParams, Uri};

use super::analysis::Analysis;
use super::documents::Document;
use super::{capabilities, diagnostics, handlers};

/// Where the session is in the protocol's lifecycle.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Waiting for `initialize`.
    Starting,
    Running,
    /// `shutdown` was answered; only `exit` is left.
    ShutDown,
}

/// How the session ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ending {
    /// `exit` after `shutdown`: exit status 0.
    Clean,
    /// `exit` without `shutdown`, or the client went away: exit status 1.
    Abrupt,
}

/// Serve one client until `exit` or until the connection closes.
pub fn serve(conn: &Connection) -> Ending {
    let mut server = Server {
        conn,
        phase: Phase::Starting,
        docs: HashMap::new(),
        stale: BTreeSet::new(),
    };
    while let Ok(msg) = conn.receiver.recv() {
        match msg {
            Message::Request(req) => server.request(req),
            Message::Notification(n) if n.method == "exit" => {
                return match server.phase {
                    Phase::ShutDown => Ending::Clean,
                    _ => Ending::Abrupt,
                };
            }
            Message::Notification(n) => server.notification(n),
            Message::Response(_) => {}
        }
        // diagnostics once the editor stops sending: a burst of keystrokes
        // is checked once, at its end
        if conn.receiver.is_empty() {
            server.publish_stale();
        }
    }
    Ending::Abrupt
}

struct Server<'a> {
    conn: &'a Connection,
    phase: Phase,
    docs: HashMap<Uri, Document>,
    /// Documents changed since their diagnostics were last published.
    stale: BTreeSet<String>,
}

/// A handler's failure, sent back as the response's error.
pub type Failure = (ErrorCode, String);

impl Server<'_> {
    fn send(&self, msg: impl Into<Message>) {
        // the client is gone when this fails; the loop ends at the next recv
        let _ = self.conn.sender.send(msg.into());
    }

    fn reply_err(&self, id: RequestId, code: ErrorCode, message: String) {
        self.send(Response::new_err(id, code as i32, message));
    }

    fn request(&mut self, req: Request) {
        match (self.phase, req.method.as_str()) {
            (Phase::Starting, "initialize") => {
                self.phase = Phase::Running;
                self.send(Response::new_ok(req.id, capabilities::initialize_result()));
            }
            (Phase::Starting, _) => self.reply_err(
                req.id,
                ErrorCode::ServerNotInitialized,
                format!("`{}` before `initialize`", req.method),
            ),
            (Phase::ShutDown, _) => self.reply_err(
                req.id,
                ErrorCode::InvalidRequest,
                format!("`{}` after `shutdown`", req.method),
            ),
            (Phase::Running, "initialize") => self.reply_err(
                req.id,
                ErrorCode::InvalidRequest,
                "`initialize` was already received".into(),
            ),
            (Phase::Running, "shutdown") => {
                self.phase = Phase::ShutDown;
                self.send(Response::new_ok(req.id, ()));
            }
            (Phase::Running, _) => self.dispatch(req),
        }
    }

    fn dispatch(&mut self, req: Request) {
        let Request { id, method, params } = req;
        self.guarded(id, &method, |s| handlers::handle(s, &method, params));
    }

    /// Answer request `id` with what `handler` returns; a panic in it is
    /// logged and answered with an internal error.
    fn guarded(
        &mut self,
        id: RequestId,
        method: &str,
        handler: impl FnOnce(&mut Self) -> Result<serde_json::Value, Failure>,
    ) {
        let outcome = catch_unwind(AssertUnwindSafe(|| handler(self)));
        let response = match outcome {
            Ok(Ok(value)) => Response {
                id,
                response_result: Ok(value),
            },
            Ok(Err((code, message))) => Response::new_err(id, code as i32, message),
            Err(panic) => {
                let why = panic_text(&panic);
                eprintln!("cnnscript lsp: `{method}` failed: {why}");
                // the analysis it read may be what broke: build it afresh next time
                self.docs.values_mut().for_each(Document::forget_analysis);
                Response::new_err(
                    id,
                    ErrorCode::InternalError as i32,
                    format!("internal error in cnnscript while answering `{method}`: {why}"),
                )
            }
        };
        self.send(response);
    }

    fn notification(&mut self, n: Notification) {
        if self.phase != Phase::Running {
            return;
        }
        let method = n.method.clone();
        let outcome = catch_unwind(AssertUnwindSafe(|| self.on_notification(n)));
        match outcome {
            Ok(Ok(())) => {}
            Ok(Err(why)) => eprintln!("cnnscript lsp: `{method}`: {why}"),
            Err(panic) => {
                eprintln!("cnnscript lsp: `{method}` failed: {}", panic_text(&panic));
                self.docs.values_mut().for_each(Document::forget_analysis);
            }
        }
    }

    fn on_notification(&mut self, n: Notification) -> Result<(), String> {
        let bad = |e: serde_json::Error| format!("invalid parameters: {e}");
        match n.method.as_str() {
            DidOpenTextDocument::METHOD => {
                let p: lsp_types::DidOpenTextDocumentParams =
                    serde_json::from_value(n.params).map_err(bad)?;
                let doc = p.text_document;
                self.stale.insert(doc.uri.as_str().to_string());
                self.docs
                    .insert(doc.uri, Document::new(doc.text, doc.version));
            }
            DidChangeTextDocument::METHOD => {
                let p: lsp_types::DidChangeTextDocumentParams =
                    serde_json::from_value(n.params).map_err(bad)?;
                let uri = p.text_document.uri;
                let doc = self
                    .docs
                    .get_mut(&uri)
                    .ok_or_else(|| format!("{} is not open", uri.as_str()))?;
                doc.change(p.text_document.version, p.content_changes);
                self.stale.insert(uri.as_str().to_string());
            }
            DidCloseTextDocument::METHOD => {
                let p: lsp_types::DidCloseTextDocumentParams =
                    serde_json::from_value(n.params).map_err(bad)?;
                let uri = p.text_document.uri;
                self.docs.remove(&uri);
                self.stale.remove(uri.as_str());
                self.publish(uri, vec![], None);
            }
            // initialized, didSave, $/cancelRequest (answers are immediate), settings...
            _ => {}
        }
        Ok(())
    }

    fn publish(&self, uri: Uri, diagnostics: Vec<lsp_types::Diagnostic>, version: Option<i32>) {
        let params = PublishDiagnosticsParams {
            uri,
            diagnostics,
            version,
        };
        self.send(Notification::new(PublishDiagnostics::METHOD.into(), params));
    }

    fn publish_stale(&mut self) {
        let stale = std::mem::take(&mut self.stale);
        for uri in stale {
            let Some((uri, doc)) = self.docs.iter_mut().find(|(u, _)| u.as_str() == uri) else {
                continue;
            };
            let uri = uri.clone();
            let version = doc.version;
            let found = catch_unwind(AssertUnwindSafe(|| {
                let an = doc.analysis();
                diagnostics::diagnostics(&an, &uri)
            }));
            match found {
                Ok(diags) => self.publish(uri, diags, Some(version)),
                Err(panic) => {
                    eprintln!(
                        "cnnscript lsp: checking {} failed: {}",
                        uri.as_str(),
                        panic_text(&panic)
                    );
                    doc.forget_analysis();
                }
            }
        }
    }
}

/// What request handlers may ask of the server: the analysis of an open document.
pub trait Documents {
    fn analysis(&mut self, uri: &Uri) -> Result<Rc<Analysis>, Failure>;
}

impl Documents for Server<'_> {
    fn analysis(&mut self, uri: &Uri) -> Result<Rc<Analysis>, Failure> {
        self.docs
            .get_mut(uri)
            .map(Document::analysis)
            .ok_or_else(|| {
                (
                    ErrorCode::InvalidParams,
                    format!("{} is not open", uri.as_str()),
                )
            })
    }
}

fn panic_text(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panicking_handler_answers_with_an_internal_error_and_the_server_goes_on() {
        let (server_end, client_end) = Connection::memory();
        let mut server = Server {
            conn: &server_end,
            phase: Phase::Running,
            docs: HashMap::new(),
            stale: BTreeSet::new(),
        };
        server.guarded(RequestId::from(1), "test/panic", |_| panic!("a bug"));
        server.guarded(RequestId::from(2), "test/fine", |_| {
            Ok(serde_json::json!(42))
        });
        let answers: Vec<Response> = client_end
            .receiver
            .try_iter()
            .filter_map(|m| match m {
                Message::Response(r) => Some(r),
                _ => None,
            })
            .collect();
        assert_eq!(answers.len(), 2);
        let err = answers[0]
            .response_result
            .as_ref()
            .err()
            .map(|e| (e.code, e.message.clone()));
        let (code, message) = err.unwrap_or_default();
        assert_eq!(code, ErrorCode::InternalError as i32);
        assert!(
            message.contains("a bug") && message.contains("test/panic"),
            "{message}"
        );
        assert_eq!(
            answers[1].response_result.as_ref().ok(),
            Some(&serde_json::json!(42))
        );
    }
}
