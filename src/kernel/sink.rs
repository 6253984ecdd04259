//! A cell's [`Output`]: text as `stream` messages, tables and pictures as
//! `display_data`, and training as one display updated in place
//! (`update_display_data`), so a long `train` is one live block rather than
//! thousands of lines.

use std::io;
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{json, Value};

use super::html;
use super::io::Outbox;
use super::wire::{new_id, Message};
use crate::ir::report::Table;
use crate::run::{Output, Progress};

/// Text is sent on once this much has gathered (or at the next table,
/// picture, training or the end of the entry).
const STREAM_CHUNK: usize = 64 * 1024;
/// The training display changes at most this often.
const UPDATE_EVERY: Duration = Duration::from_millis(250);
/// Lines of a training log shown in full; longer logs keep their head and tail.
const LOG_LINES: usize = 40;
const LOG_HEAD: usize = 10;

/// Where one execute request's results go.
pub struct CellOutput<'a> {
    outbox: &'a Outbox,
    parent: &'a Message,
    /// `silent` requests publish nothing.
    silent: bool,
    pending: String,
    training: Option<Training>,
}

/// The live display of one `train`.
struct Training {
    display_id: String,
    total: usize,
    unit: &'static str,
    done: usize,
    epoch: Option<usize>,
    loss: Option<f64>,
    lines: Vec<String>,
    partial: String,
    last_update: Instant,
}

impl Training {
    fn status(&self, state: &str) -> String {
        let mut s = match self.epoch {
            Some(e) => format!("epoch {e} · {} {}/{}", self.unit, self.done, self.total),
            None => format!("{} {}/{}", self.unit, self.done, self.total),
        };
        if let Some(l) = self.loss {
            s.push_str(&format!(" · loss {l:.4}"));
        }
        if !state.is_empty() {
            s.push_str(&format!(" · {state}"));
        }
        s
    }

    fn log(&self) -> String {
        let mut lines: Vec<&str> = self.lines.iter().map(String::as_str).collect();
        if !self.partial.is_empty() {
            lines.push(&self.partial);
        }
        if lines.len() <= LOG_LINES {
            return lines.join("\n");
        }
        let tail = LOG_LINES - LOG_HEAD - 1;
        let skipped = lines.len() - LOG_HEAD - tail;
        let mut shown: Vec<String> = lines[..LOG_HEAD].iter().map(|s| s.to_string()).collect();
        shown.push(format!("⋮ ({skipped} more lines)"));
        shown.extend(lines[lines.len() - tail..].iter().map(|s| s.to_string()));
        shown.join("\n")
    }

    fn data(&self, state: &str) -> Value {
        let status = self.status(state);
        let log = self.log();
        let plain = if log.is_empty() {
            status.clone()
        } else {
            format!("{status}\n{log}")
        };
        json!({
            "text/plain": plain,
            "text/html": html::training(&status, self.done, self.total, &log),
        })
    }

    fn add_text(&mut self, text: &str) {
        self.partial.push_str(text);
        while let Some(at) = self.partial.find('\n') {
            let line = self.partial[..at].to_string();
            self.partial.drain(..=at);
            self.lines.push(line);
        }
    }
}

impl<'a> CellOutput<'a> {
    /// The output of the request `parent`.
    pub fn new(outbox: &'a Outbox, parent: &'a Message, silent: bool) -> CellOutput<'a> {
        CellOutput {
            outbox,
            parent,
            silent,
            pending: String::new(),
            training: None,
        }
    }

    fn publish(&self, msg_type: &str, content: Value) {
        if !self.silent {
            self.outbox.publish(self.parent, msg_type, content);
        }
    }

    fn display(&mut self, data: Value) {
        self.send_pending();
        self.publish(
            "display_data",
            json!({"data": data, "metadata": {}, "transient": {}}),
        );
    }

    fn send_pending(&mut self) {
        if !self.pending.is_empty() {
            let text = std::mem::take(&mut self.pending);
            self.publish("stream", json!({"name": "stdout", "text": text}));
        }
    }

    /// Diagnostics that are not errors (warnings), on stderr.
    pub fn warnings(&mut self, text: &str) {
        self.send_pending();
        self.publish("stream", json!({"name": "stderr", "text": text}));
    }

    fn update_training(&mut self, state: &str) {
        let Some(t) = &mut self.training else { return };
        t.last_update = Instant::now();
        let content = json!({
            "data": t.data(state),
            "metadata": {},
            "transient": {"display_id": t.display_id},
        });
        self.publish("update_display_data", content);
    }

    /// The entry is over: a training display still open (the training
    /// failed or was interrupted) shows where it stopped; text goes out.
    pub fn end_entry(&mut self) {
        if self.training.is_some() {
            self.update_training("stopped");
            self.training = None;
        }
        self.send_pending();
    }
}

impl Output for CellOutput<'_> {
    fn text(&mut self, text: &str) -> io::Result<()> {
        match &mut self.training {
            Some(t) => t.add_text(text),
            None => {
                self.pending.push_str(text);
                if self.pending.len() >= STREAM_CHUNK {
                    self.send_pending();
                }
            }
        }
        Ok(())
    }

    fn table(&mut self, table: &Table) -> io::Result<()> {
        self.display(json!({
            "text/plain": table.text,
            "text/html": html::table(table),
        }));
        Ok(())
    }

    fn image(&mut self, png: &[u8]) -> io::Result<()> {
        let size = png_size(png)
            .map(|(w, h)| format!("{w}x{h}"))
            .unwrap_or_default();
        self.display(json!({
            "image/png": base64::engine::general_purpose::STANDARD.encode(png),
            "text/plain": format!("<picture {size}>"),
        }));
        Ok(())
    }

    fn shows_pictures(&self) -> bool {
        true
    }

    fn progress(&mut self, progress: Progress) -> io::Result<()> {
        match progress {
            Progress::Start { total, unit } => {
                self.end_entry();
                let t = Training {
                    display_id: new_id(),
                    total,
                    unit,
                    done: 0,
                    epoch: None,
                    loss: None,
                    lines: Vec::new(),
                    partial: String::new(),
                    last_update: Instant::now(),
                };
                let content = json!({
                    "data": t.data(""),
                    "metadata": {},
                    "transient": {"display_id": t.display_id},
                });
                self.training = Some(t);
                self.publish("display_data", content);
            }
            Progress::Step { done, epoch, loss } => {
                let due = match &mut self.training {
                    Some(t) => {
                        t.done = done;
                        t.epoch = epoch;
                        t.loss = Some(loss);
                        t.last_update.elapsed() >= UPDATE_EVERY
                    }
                    None => false,
                };
                if due {
                    self.update_training("");
                }
            }
            Progress::Finish => {
                self.update_training("done");
                self.training = None;
            }
        }
        Ok(())
    }

    fn flush_output(&mut self) -> io::Result<()> {
        self.send_pending();
        Ok(())
    }
}

/// Width and height from a PNG's header.
fn png_size(png: &[u8]) -> Option<(u32, u32)> {
    let w = png.get(16..20)?;
    let h = png.get(20..24)?;
    Some((
        u32::from_be_bytes(w.try_into().ok()?),
        u32::from_be_bytes(h.try_into().ok()?),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn training(lines: usize) -> Training {
        Training {
            display_id: "d".into(),
            total: 30,
            unit: "step",
            done: 30,
            epoch: None,
            loss: Some(0.25),
            lines: (1..=lines)
                .map(|i| format!("Step {i}, loss 1.000"))
                .collect(),
            partial: String::new(),
            last_update: Instant::now(),
        }
    }

    #[test]
    fn short_logs_are_whole_long_ones_cut_in_the_middle() {
        assert_eq!(training(3).log().lines().count(), 3);
        let long = training(1000).log();
        assert_eq!(long.lines().count(), LOG_LINES);
        assert!(
            long.contains("Step 10,") && !long.contains("Step 11,"),
            "{long}"
        );
        assert!(long.contains("⋮ (961 more lines)"), "{long}");
        assert!(long.ends_with("Step 1000, loss 1.000"), "{long}");
    }

    #[test]
    fn status_names_the_unit_and_loss() {
        let t = training(0);
        assert_eq!(t.status("done"), "step 30/30 · loss 0.2500 · done");
        let mut t = t;
        t.add_text("Epoch 1, loss 0.5\nEpo");
        assert_eq!(t.lines, ["Epoch 1, loss 0.5"]);
        assert_eq!(t.partial, "Epo");
    }

    #[test]
    fn png_header_size() {
        let canvas = crate::picture::Canvas::new(7, 5, [0, 0, 0]);
        let png = canvas.png().expect("encodes");
        assert_eq!(png_size(&png), Some((7, 5)));
        assert_eq!(png_size(b"short"), None);
    }
}
